/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of snapshot.c: the round trip of every table and field, the
 * atomic replacement, and what a load makes of truncated, corrupt,
 * foreign and oversized files. `test_snapshot bench N` times a write and
 * a load of N bindings.
 */

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "unit.h"
#include "unit_binding.h"
#include "sys.h"
#include "errors.h"
#include "store.h"
#include "ops.h"
#include "snapshot.h"

static char dir[256];

/* a fresh directory per test, under /tmp */
static void dir_new(void)
{
	snprintf(dir, sizeof(dir), "/tmp/aor-unit-snap-XXXXXX");
	if(mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static void dir_rm(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if(system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static const char *in_dir(const char *name)
{
	static char p[2][400];
	static int k;

	k ^= 1;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static aor_table_t *table_new(const char *name, unsigned int log2)
{
	str n = STR_C(name);

	return aor_table_new(&n, log2);
}

/* adds a binding of aor with contact uri and the given strings */
static aor_binding_t *add(aor_table_t *t, const char *aor, const char *uri,
		time_t expires, const char *ua)
{
	aor_binding_in_t in;
	aor_binding_t *b;
	aor_rec_t rec;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C(aor);
	in.f[AOR_F_URI] = STR_C(uri);
	in.f[AOR_F_CALLID] = STR_C("call-<&>\"'");
	in.f[AOR_F_UA] = STR_C(ua);
	in.f[AOR_F_SOCK] = STR_C("udp:127.0.0.1:5060");
	in.f[AOR_F_PATH] = STR_C("<sip:p1;lr>,<sip:p2;lr>");
	in.f[AOR_F_RECEIVED] = STR_C("sip:192.0.2.1:4000");
	in.hash = aor_hash(&in.f[AOR_F_AOR]);
	in.expires = expires;
	in.modified = aor_test_now - 5;
	in.cseq = 77;
	in.cflags = 3;
	in.methods = 0x1f;
	in.reg_id = 2;
	in.q = 250;
	b = aor_binding_new(&in);
	if(b == NULL)
		abort();
	aor_table_lock(t, in.hash);
	aor_table_find(t, in.hash, &in.f[AOR_F_AOR], &rec);
	aor_rec_add(&rec, b);
	aor_table_unlock(t, in.hash);
	return b;
}

/* what a load handed out, rebuilt as bindings, with their table */
#define MAXGOT 200000
struct got
{
	aor_binding_t **b;
	char **table;
	long n;
	long stop_at; /* fail this call with AOR_E_NOMEM, -1 never */
};

static int collect(const str *table, const aor_binding_in_t *in, void *arg)
{
	struct got *g = arg;

	if(g->n == g->stop_at || g->n == MAXGOT)
		return AOR_E_NOMEM;
	g->b[g->n] = aor_binding_new(in);
	g->table[g->n] = strndup(table->s, table->len);
	if(g->b[g->n] == NULL || g->table[g->n] == NULL)
		abort();
	g->n++;
	return 0;
}

static void got_init(struct got *g)
{
	memset(g, 0, sizeof(*g));
	g->b = calloc(MAXGOT, sizeof(*g->b));
	g->table = calloc(MAXGOT, sizeof(*g->table));
	g->stop_at = -1;
}

static void got_free(struct got *g)
{
	long i;

	for(i = 0; i < g->n; i++) {
		free(g->b[i]);
		free(g->table[i]);
	}
	free(g->b);
	free(g->table);
}

/* the loaded binding of table with id (ids are unique per table), or
 * NULL */
static aor_binding_t *got_id(struct got *g, const char *table, uint64_t id)
{
	long i;

	for(i = 0; i < g->n; i++)
		if(g->b[i]->id == id && strcmp(g->table[i], table) == 0)
			return g->b[i];
	return NULL;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if(f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if(f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n + 1);
	if(fread(buf, 1, n, f) != (size_t)n)
		abort();
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static int load(const char *path, struct got *g, aor_snapshot_report_t *rep)
{
	return aor_snapshot_load(path, collect, g, rep);
}

TEST(snapshot_round_trip_keeps_every_table_and_field)
{
	aor_table_t *loc = table_new("location", 4), *oth = table_new("other", 4);
	aor_binding_t *b[5];
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	struct got g;
	aor_binding_t *p;
	int i, r;

	dir_new();
	got_init(&g);
	b[0] = add(loc, "alice@example.com", "sip:alice@192.0.2.1",
			aor_test_now + 60, "UA <1> & \"2\"");
	b[1] = add(loc, "alice@example.com", "sip:alice@192.0.2.2;transport=tcp", 0,
			"perm\x01\xff");
	b[2] = add(loc, "bob", "sip:bob@192.0.2.3", aor_test_now + 3600, "");
	b[3] = add(oth, "carol\x7f", "sip:carol@192.0.2.4", aor_test_now + 10, "x");
	b[4] = add(oth, "bob", "sip:bob@other", aor_test_now + 10, "y");
	loc->next = oth;
	r = aor_snapshot_write(in_dir("s.xml"), loc, aor_test_now, &st);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(st.bindings, 5);
	ASSERT_EQ(st.aors, 4);
	ASSERT_GT(st.bytes, 500);
	ASSERT_EQ(access(in_dir("s.xml.tmp"), F_OK), -1);
	r = load(in_dir("s.xml"), &g, &rep);
	ASSERT_EQ(r, 0);
	ASSERT_STR_EQ(STR_C(rep.what), "");
	ASSERT_EQ(rep.bindings, 5);
	ASSERT_EQ(g.n, 5);
	for(i = 0; i < 5 && !unit_failed; i++) {
		p = got_id(&g, i < 3 ? "location" : "other", b[i]->id);
		ASSERT(p != NULL);
		assert_same_binding(b[i], p);
	}
	got_free(&g);
	loc->next = NULL;
	aor_table_free(loc);
	aor_table_free(oth);
	dir_rm();
}

TEST(snapshot_leaves_out_expired_bindings)
{
	aor_table_t *t = table_new("location", 4);
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	struct got g;

	dir_new();
	got_init(&g);
	add(t, "a", "sip:a@h1", aor_test_now, "gone"); /* expires now */
	add(t, "a", "sip:a@h2", aor_test_now + 1, "live");
	add(t, "b", "sip:b@h1", aor_test_now - 100, "gone");
	ASSERT_EQ(aor_snapshot_write(in_dir("s.xml"), t, aor_test_now, &st), 0);
	ASSERT_EQ(st.bindings, 1);
	ASSERT_EQ(st.aors, 1);
	ASSERT_EQ(load(in_dir("s.xml"), &g, &rep), 0);
	ASSERT_EQ(g.n, 1);
	ASSERT_STR_EQ(aor_binding_get(g.b[0], AOR_F_UA), "live");
	got_free(&g);
	aor_table_free(t);
	dir_rm();
}

TEST(snapshot_of_an_empty_store_loads_clean)
{
	aor_table_t *t = table_new("location", 2);
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	struct got g;

	dir_new();
	got_init(&g);
	ASSERT_EQ(aor_snapshot_write(in_dir("s.xml"), t, aor_test_now, &st), 0);
	ASSERT_EQ(st.bindings, 0);
	ASSERT_EQ(load(in_dir("s.xml"), &g, &rep), 0);
	ASSERT_EQ(g.n, 0);
	got_free(&g);
	aor_table_free(t);
	dir_rm();
}

TEST(snapshot_write_replaces_the_file_whole_or_not_at_all)
{
	aor_table_t *t = table_new("location", 4);
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	struct stat sb;
	struct got g;

	dir_new();
	got_init(&g);
	add(t, "a", "sip:a@h1", aor_test_now + 60, "one");
	ASSERT_EQ(aor_snapshot_write(in_dir("s.xml"), t, aor_test_now, &st), 0);
	ASSERT_EQ(stat(in_dir("s.xml"), &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0600); /* users and addresses: owner only */
	add(t, "b", "sip:b@h1", aor_test_now + 60, "two");
	ASSERT_EQ(aor_snapshot_write(in_dir("s.xml"), t, aor_test_now, &st), 0);
	ASSERT_EQ(load(in_dir("s.xml"), &g, &rep), 0);
	ASSERT_EQ(g.n, 2);
	/* a target that cannot be replaced (a directory): the write fails,
	 * leaves no temporary file and the target as it was */
	ASSERT_EQ(mkdir(in_dir("d.xml"), 0700), 0);
	ASSERT_EQ(aor_snapshot_write(in_dir("d.xml"), t, aor_test_now, &st),
			AOR_E_INTERNAL);
	ASSERT_EQ(access(in_dir("d.xml.tmp"), F_OK), -1);
	ASSERT_EQ(stat(in_dir("d.xml"), &sb), 0);
	ASSERT(S_ISDIR(sb.st_mode));
	/* a directory that does not exist */
	ASSERT_EQ(aor_snapshot_write(in_dir("no/s.xml"), t, aor_test_now, &st),
			AOR_E_INTERNAL);
	got_free(&g);
	aor_table_free(t);
	dir_rm();
}

TEST(snapshot_every_truncation_loads_a_prefix_and_says_so)
{
	aor_table_t *t = table_new("location", 4);
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	char name[32], *full;
	size_t len, cut;
	long prev = 0;
	struct got g;
	int i, r;

	dir_new();
	for(i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		add(t, name, "sip:u@192.0.2.9", aor_test_now + 100 + i, "ua");
	}
	ASSERT_EQ(aor_snapshot_write(in_dir("s.xml"), t, aor_test_now, &st), 0);
	full = read_file(in_dir("s.xml"), &len);
	ASSERT(full != NULL);
	/* every cut short of the closing tag: not clean, a prefix loaded, no
	 * more than before a later cut */
	for(cut = 0; cut + 2 < len && !unit_failed; cut += 7) {
		write_file(in_dir("cut.xml"), full, cut);
		got_init(&g);
		r = load(in_dir("cut.xml"), &g, &rep);
		if(r != 1 || rep.what[0] == '\0' || g.n > 40 || g.n < prev)
			UNIT_FAIL("cut at %zu of %zu: r=%d n=%ld prev=%ld what=%s", cut,
					len, r, g.n, prev, rep.what);
		prev = g.n;
		got_free(&g);
	}
	/* cut before the end marker: not clean; every binding but the last
	 * (libxml2's reader cannot tell the last element complete until it
	 * sees what follows it) */
	cut = strstr(full, "<end ") - full;
	write_file(in_dir("cut.xml"), full, cut);
	got_init(&g);
	r = load(in_dir("cut.xml"), &g, &rep);
	got_free(&g);
	ASSERT_EQ(r, 1);
	ASSERT_GE(g.n, 39);
	ASSERT(strstr(rep.what, "well-formed") != NULL);
	free(full);
	aor_table_free(t);
	dir_rm();
}

/* files that are not a snapshot at all: nothing loaded, a reason given */
TEST(snapshot_foreign_files_load_nothing)
{
	static const struct
	{
		const char *doc;
		const char *why;
	} bad[] = {
			{"", "well-formed"},
			{"\x89PNG\r\n\x1a\n\0\0\0", "well-formed"},
			{"<?xml version=\"1.0\"?><reginfo "
			 "xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"0\" "
			 "state=\"full\"/>",
					"root element <reginfo>"},
			{"<snapshot xmlns=\"urn:example:other\" format=\"1\"/>",
					"root element <snapshot>"},
			{"<snapshot xmlns=\"" AOR_SNAPSHOT_NS "\" format=\"2\"/>",
					"format 2"},
			{"<snapshot xmlns=\"" AOR_SNAPSHOT_NS "\"/>", "format missing"},
			{"<!DOCTYPE snapshot [<!ENTITY x \"y\">]><snapshot "
			 "xmlns=\"" AOR_SNAPSHOT_NS "\" format=\"1\">&x;</snapshot>",
					"DTD"},
			{"<snapshot xmlns=\"" AOR_SNAPSHOT_NS "\" format=\"1\"></snapshot>",
					"no end marker"},
	};
	aor_snapshot_report_t rep;
	struct got g;
	unsigned int i;
	int r;

	dir_new();
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]) && !unit_failed; i++) {
		write_file(
				in_dir("f.xml"), bad[i].doc, i == 1 ? 11 : strlen(bad[i].doc));
		got_init(&g);
		r = load(in_dir("f.xml"), &g, &rep);
		if(r != 1 || g.n != 0 || strstr(rep.what, bad[i].why) == NULL)
			UNIT_FAIL("case %u: r=%d n=%ld what=\"%s\"", i, r, g.n, rep.what);
		got_free(&g);
	}
	got_init(&g);
	ASSERT_EQ(load(in_dir("none.xml"), &g, &rep), AOR_E_NOT_FOUND);
	got_free(&g);
	dir_rm();
}

#define HEAD                                                \
	"<snapshot xmlns=\"" AOR_SNAPSHOT_NS "\" format=\"1\">" \
	"<table name=\"location\"><reginfo "                    \
	"xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"0\" state=\"full\">"
#define TAIL "</reginfo></table><end aors=\"0\" bindings=\"0\"/></snapshot>"
#define REG(aor, attrs, uri)                                             \
	"<registration aor=\"sip:" aor "\" id=\"" aor "\" state=\"active\">" \
	"<contact state=\"active\" " attrs "><uri>" uri "</uri></contact>"   \
	"</registration>"

TEST(snapshot_a_bad_registration_is_skipped_and_the_rest_loads)
{
	static const char doc[] = HEAD REG("a", "id=\"1\"", "sip:a@h")
			REG("b", "id=\"2\" q=\"7\"", "sip:b@h")
					REG("c", "id=\"3\" expires=\"x\"", "sip:c@h")
							REG("d", "id=\"4\"", "sip:d@h") TAIL;
	aor_snapshot_report_t rep;
	struct got g;

	dir_new();
	got_init(&g);
	write_file(in_dir("f.xml"), doc, sizeof(doc) - 1);
	ASSERT_EQ(load(in_dir("f.xml"), &g, &rep), 1);
	ASSERT_EQ(g.n, 2);
	ASSERT_EQ(rep.skipped, 2);
	ASSERT_EQ(rep.error, AOR_E_BAD_Q);
	ASSERT(strstr(rep.what, "bad q") != NULL);
	ASSERT_EQ(rep.line, 1);
	ASSERT_STR_EQ(aor_binding_get(g.b[1], AOR_F_AOR), "d");
	got_free(&g);
	dir_rm();
}

TEST(snapshot_huge_fields_are_refused_without_harm)
{
	size_t big = 70000, huge = 11 * 1024 * 1024, n;
	aor_snapshot_report_t rep;
	struct got g;
	char *doc;

	dir_new();
	/* a URI longer than a binding can hold: that registration only */
	doc = malloc(huge + 1024);
	n = sprintf(doc, HEAD REG("a", "id=\"1\"", "sip:a@h") "%s",
			"<registration aor=\"sip:b\" id=\"b\" state=\"active\">"
			"<contact state=\"active\"><uri>sip:");
	memset(doc + n, 'x', big);
	n += big;
	n += sprintf(doc + n, "</uri></contact></registration>%s",
			REG("c", "id=\"3\"", "sip:c@h") TAIL);
	write_file(in_dir("f.xml"), doc, n);
	got_init(&g);
	ASSERT_EQ(load(in_dir("f.xml"), &g, &rep), 1);
	ASSERT_EQ(g.n, 2);
	ASSERT_EQ(rep.skipped, 1);
	ASSERT_EQ(rep.error, AOR_E_TOO_LONG);
	got_free(&g);
	/* a text node past libxml2's 10 MB limit: the load stops there */
	n = sprintf(doc, HEAD REG("a", "id=\"1\"", "sip:a@h") "%s",
			"<registration aor=\"sip:b\" id=\"b\" state=\"active\">"
			"<contact state=\"active\"><uri>sip:");
	memset(doc + n, 'x', huge);
	n += huge;
	n += sprintf(doc + n, "</uri></contact></registration>%s",
			REG("c", "id=\"3\"", "sip:c@h") TAIL);
	write_file(in_dir("f.xml"), doc, n);
	got_init(&g);
	ASSERT_EQ(load(in_dir("f.xml"), &g, &rep), 1);
	ASSERT_EQ(g.n, 1);
	ASSERT(rep.what[0] != '\0');
	got_free(&g);
	free(doc);
	dir_rm();
}

TEST(snapshot_a_callback_error_stops_the_load)
{
	aor_table_t *t = table_new("location", 4);
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	char name[32];
	struct got g;
	int i;

	dir_new();
	for(i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		add(t, name, "sip:u@h", aor_test_now + 100, "ua");
	}
	ASSERT_EQ(aor_snapshot_write(in_dir("s.xml"), t, aor_test_now, &st), 0);
	got_init(&g);
	g.stop_at = 4;
	ASSERT_EQ(load(in_dir("s.xml"), &g, &rep), 1);
	ASSERT_EQ(g.n, 4);
	ASSERT_EQ(rep.error, AOR_E_NOMEM);
	ASSERT(strstr(rep.what, "stopped") != NULL);
	got_free(&g);
	aor_table_free(t);
	dir_rm();
}

/* a table that grows during the walk: every binding is written at least
 * once (the loader drops repeats by id) */
TEST(snapshot_of_a_growing_table_misses_nothing)
{
	aor_table_t *t = table_new("location", 2);
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	char name[32];
	struct got g;
	uint64_t first = 0;
	int i;

	dir_new();
	for(i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		if(i == 0)
			first = add(t, name, "sip:u@h", aor_test_now + 100, "ua")->id;
		else
			add(t, name, "sip:u@h", aor_test_now + 100, "ua");
	}
	ASSERT_EQ(aor_table_maint(t, 1), 1); /* resize started, 1 slot moved */
	ASSERT_EQ(aor_snapshot_write(in_dir("s.xml"), t, aor_test_now, &st), 0);
	got_init(&g);
	ASSERT_EQ(load(in_dir("s.xml"), &g, &rep), 0);
	ASSERT_GE(g.n, 300);
	for(i = 0; i < 300 && !unit_failed; i++)
		ASSERT(got_id(&g, "location", first + i) != NULL);
	got_free(&g);
	aor_table_free(t);
	dir_rm();
}

TEST(snapshot_end_marker_must_match_the_contacts_read)
{
	static const char doc[] = HEAD REG(
			"a", "id=\"1\"", "sip:a@h") "</reginfo></table><end aors=\"2\" "
										"bindings=\"2\"/></snapshot>";
	aor_snapshot_report_t rep;
	struct got g;

	dir_new();
	got_init(&g);
	write_file(in_dir("f.xml"), doc, sizeof(doc) - 1);
	ASSERT_EQ(load(in_dir("f.xml"), &g, &rep), 1);
	ASSERT_EQ(g.n, 1);
	ASSERT(strstr(rep.what, "end marker counts 2") != NULL);
	got_free(&g);
	dir_rm();
}

TEST(snapshot_move_aside_never_replaces_an_earlier_one)
{
	char a[512], b[512];

	dir_new();
	write_file(in_dir("s.xml"), "one", 3);
	ASSERT_EQ(
			aor_snapshot_move_aside(in_dir("s.xml"), 1700000000, a, sizeof(a)),
			0);
	write_file(in_dir("s.xml"), "two", 3);
	ASSERT_EQ(
			aor_snapshot_move_aside(in_dir("s.xml"), 1700000000, b, sizeof(b)),
			0);
	ASSERT(strcmp(a, b) != 0);
	ASSERT_EQ(access(a, F_OK), 0);
	ASSERT_EQ(access(b, F_OK), 0);
	dir_rm();
}

TEST(snapshot_move_aside_names_the_time)
{
	char buf[512];
	size_t len;
	char *s;

	dir_new();
	write_file(in_dir("s.xml"), "junk", 4);
	ASSERT_EQ(aor_snapshot_move_aside(
					  in_dir("s.xml"), 1700000000, buf, sizeof(buf)),
			0);
	ASSERT(strstr(buf, "s.xml.corrupt-20231114T221320") != NULL);
	ASSERT_EQ(access(in_dir("s.xml"), F_OK), -1);
	s = read_file(buf, &len);
	ASSERT(s != NULL);
	ASSERT_EQ(len, 4);
	free(s);
	dir_rm();
}

static double ms_since(struct timeval *t0)
{
	struct timeval t1;

	gettimeofday(&t1, NULL);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_usec - t0->tv_usec) / 1e3;
}

static int bench_cb(const str *table, const aor_binding_in_t *in, void *arg)
{
	(void)table;
	(void)in;
	(*(long *)arg)++;
	return 0;
}

/* test_snapshot bench N [path]: write and load N one-binding AoRs */
static int bench(long n, const char *path)
{
	aor_table_t *t = table_new("location", 20);
	aor_snapshot_stat_t st;
	aor_snapshot_report_t rep;
	struct timeval t0;
	char name[48], uri[80];
	long i, seen = 0;
	double wms, lms;

	aor_test_now = time(NULL);
	for(i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "user%ld@example.com", i);
		snprintf(uri, sizeof(uri), "sip:user%ld@192.0.2.%ld:5060", i, i % 250);
		add(t, name, uri, aor_test_now + 3600, "bench-phone/1.0");
	}
	gettimeofday(&t0, NULL);
	if(aor_snapshot_write(path, t, aor_test_now, &st) < 0)
		return 1;
	wms = ms_since(&t0);
	gettimeofday(&t0, NULL);
	aor_snapshot_load(path, bench_cb, &seen, &rep);
	lms = ms_since(&t0);
	printf("bindings %ld: write %.0f ms, parse %.0f ms (no store inserts), "
		   "%ld bytes, %.0f bytes per binding, loaded %ld%s%s\n",
			st.bindings, wms, lms, st.bytes, (double)st.bytes / st.bindings,
			seen, rep.what[0] ? ", problem: " : "", rep.what);
	aor_table_free(t);
	unlink(path);
	return seen == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if(argc > 1 && strcmp(argv[1], "bench") == 0)
		return bench(argc > 2 ? atol(argv[2]) : 100000,
				argc > 3 ? argv[3] : "/tmp/aor-bench-snapshot.xml");
	return unit_run(argc > 1 ? argv[1] : NULL);
}
