/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Writes the rendered seeds of the snapshot, reginfo and replfmt targets
 * into DIR/snapshot/, DIR/reginfo/ and DIR/replfmt/: real documents and
 * message bodies, as the module writes them, with every field set, bytes
 * that need <aor:raw>, a permanent binding and several tables; for
 * replication, each message type repl.c sends and a peer's changes in an
 * order that exercises versions and tombstones. Built and run by hand
 * (README.md); the output is committed under test/fuzz/corpus/.
 *
 *   mkseeds DIR
 */

#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "sys.h"
#include "errors.h"
#include "store.h"
#include "ops.h"
#include "reginfo.h"
#include "snapshot.h"
#include "replfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}

static aor_binding_t *mk(const char *aor, const char *uri, const char *ua,
		const char *inst, time_t expires, int q)
{
	aor_binding_in_t in;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR].s = (char *)aor;
	in.f[AOR_F_AOR].len = (int)strlen(aor);
	in.f[AOR_F_URI].s = (char *)uri;
	in.f[AOR_F_URI].len = (int)strlen(uri);
	in.f[AOR_F_UA].s = (char *)ua;
	in.f[AOR_F_UA].len = (int)strlen(ua);
	in.f[AOR_F_INSTANCE].s = (char *)inst;
	in.f[AOR_F_INSTANCE].len = (int)strlen(inst);
	in.f[AOR_F_CALLID].s = "a84b4c76e66710";
	in.f[AOR_F_CALLID].len = 14;
	in.f[AOR_F_SOCK].s = "udp:127.0.0.1:5060";
	in.f[AOR_F_SOCK].len = 18;
	in.f[AOR_F_PATH].s = *inst ? "<sip:edge.example.com;lr>" : "";
	in.f[AOR_F_PATH].len = *inst ? 25 : 0;
	in.f[AOR_F_RECEIVED].s = *inst ? "sip:198.51.100.7:40123" : "";
	in.f[AOR_F_RECEIVED].len = *inst ? 22 : 0;
	in.hash = aor_hash(&in.f[AOR_F_AOR]);
	in.expires = expires;
	in.modified = aor_test_now - 10;
	in.cseq = 1826;
	in.cflags = *inst ? 64 : 0;
	in.methods = *inst ? 0x3f : 0xffffffffu;
	in.reg_id = *inst ? 1 : 0;
	in.q = q;
	return aor_binding_new(&in);
}

static void add(aor_table_t *t, aor_binding_t *b)
{
	aor_rec_t rec;
	str k = aor_binding_get(b, AOR_F_AOR);

	aor_table_lock(t, b->hash);
	aor_table_find(t, b->hash, &k, &rec);
	aor_rec_add(&rec, b);
	aor_table_unlock(t, b->hash);
}

static void put(const char *dir, const char *name, const char *doc, int len)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	CHECK(f != NULL && fwrite(doc, 1, len, f) == (size_t)len);
	fclose(f);
}

/* a binding as a peer sends it: b's strings with id and version */
static aor_binding_t *peer(const aor_binding_t *b, uint64_t id, uint64_t v)
{
	aor_binding_t *c = malloc(aor_binding_size(b));

	CHECK(c != NULL);
	memcpy(c, b, aor_binding_size(b));
	c->next = NULL;
	c->id = id;
	c->version = v;
	return c;
}

#define VER(k) ((((uint64_t)aor_test_now) << AOR_VERSION_SHIFT) + (k))

/* message bodies as repl.c sends them */
static void replfmt_seeds(const char *dir, aor_binding_t **b)
{
	static uint64_t d[AOR_REPL_DIGESTS_MAX];
	str table = STR_STATIC_INIT("location");
	str alice = STR_STATIC_INIT("alice@example.com");
	aor_rbuf_t m = {0};
	aor_binding_t *x[4];
	int i;

	/* changes: two bindings of one AoR, and a removal */
	x[0] = peer(b[0], 1001, VER(1));
	x[1] = peer(b[1], 1002, VER(2));
	CHECK(aor_repl_put_header(&m, "chg", 1, &table) == 0);
	CHECK(aor_repl_put_binding(&m, x[0]) == 0);
	CHECK(aor_repl_put_binding(&m, x[1]) == 0);
	CHECK(aor_repl_put_del(&m, 1003, VER(3), &alice) == 0);
	put(dir, "chg-two-bindings-and-a-removal", m.s, m.len);
	/* raw bytes in every string */
	m.len = 0;
	x[2] = peer(b[2], UINT64_MAX, UINT64_MAX);
	CHECK(aor_repl_put_header(&m, "rep", 255, &table) == 0);
	CHECK(aor_repl_put_binding(&m, x[2]) == 0);
	put(dir, "rep-raw-bytes", m.s, m.len);
	/* versions and tombstones: a removal before its binding (refused
	 * late insert), a newer put after it, a duplicate, an older copy,
	 * the same contact with another id (newer, then older), a stale
	 * removal */
	m.len = 0;
	CHECK(aor_repl_put_header(&m, "chg", 2, &table) == 0);
	CHECK(aor_repl_put_del(&m, 1001, VER(5), &alice) == 0);
	x[3] = peer(b[0], 1001, VER(4));
	CHECK(aor_repl_put_binding(&m, x[3]) == 0);
	x[3]->version = VER(6);
	CHECK(aor_repl_put_binding(&m, x[3]) == 0);
	CHECK(aor_repl_put_binding(&m, x[3]) == 0);
	x[3]->version = VER(5);
	CHECK(aor_repl_put_binding(&m, x[3]) == 0);
	x[3]->id = 1010;
	x[3]->version = VER(7);
	CHECK(aor_repl_put_binding(&m, x[3]) == 0);
	x[3]->id = 1011;
	x[3]->version = VER(6);
	CHECK(aor_repl_put_binding(&m, x[3]) == 0);
	CHECK(aor_repl_put_del(&m, 1010, VER(6), &alice) == 0);
	CHECK(aor_repl_put_del(&m, 1010, VER(8), &alice) == 0);
	put(dir, "chg-versions-and-tombstones", m.s, m.len);
	/* a sync batch and its end */
	m.len = 0;
	CHECK(aor_repl_put_header(&m, "syn", 3, &table) == 0);
	for(i = 0; i < 3; i++)
		CHECK(aor_repl_put_binding(&m, x[i]) == 0);
	put(dir, "syn-batch", m.s, m.len);
	m.len = 0;
	CHECK(aor_repl_put_header(&m, "end", 3, &table) == 0);
	CHECK(aor_repl_put_num(&m, "bindings", 3) == 0);
	put(dir, "end-with-count", m.s, m.len);
	m.len = 0;
	CHECK(aor_repl_put_header(&m, "ask", 4, &table) == 0);
	put(dir, "ask", m.s, m.len);
	/* digests: a short run and a whole chunk */
	for(i = 0; i < AOR_REPL_DIGESTS_MAX; i++)
		d[i] = i % 3 ? aor_digest_term((uint64_t)i, VER(i)) : 0;
	m.len = 0;
	CHECK(aor_repl_put_header(&m, "dig", 5, &table) == 0);
	CHECK(aor_repl_put_digests(&m, 0, 4, d) == 0);
	put(dir, "dig-four-ranges", m.s, m.len);
	m.len = 0;
	CHECK(aor_repl_put_header(&m, "dig", 5, &table) == 0);
	CHECK(aor_repl_put_digests(&m, AOR_RANGES - AOR_REPL_DIGESTS_MAX,
				  AOR_REPL_DIGESTS_MAX, d)
			== 0);
	put(dir, "dig-last-chunk", m.s, m.len);
	/* records without a header */
	m.len = 0;
	CHECK(aor_repl_put_binding(&m, x[1]) == 0);
	CHECK(aor_repl_put_del(&m, 1002, VER(9), &alice) == 0);
	CHECK(aor_repl_put_num(&m, "n", 0) == 0);
	put(dir, "records-only", m.s, m.len);
	for(i = 0; i < 4; i++)
		free(x[i]);
	aor_rbuf_free(&m);
}

/* RFC 3680 section 6, the two example documents */
static const char rfc3680_full[] =
		"<?xml version=\"1.0\"?>\n"
		"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\"\n"
		"         version=\"0\" state=\"full\">\n"
		"  <registration aor=\"sip:user@example.com\" id=\"as9\"\n"
		"                state=\"active\">\n"
		"    <contact id=\"76\" state=\"active\" event=\"registered\"\n"
		"             duration-registered=\"7322\"\n"
		"             q=\"0.8\">\n"
		"             <uri>sip:user@pc887.example.com</uri>\n"
		"    </contact>\n"
		"    <contact id=\"77\" state=\"terminated\" event=\"expired\"\n"
		"             duration-registered=\"3600\"\n"
		"             q=\"0.5\">\n"
		"             <uri>sip:user@university.edu</uri>\n"
		"    </contact>\n"
		"  </registration>\n"
		"</reginfo>\n";
static const char rfc3680_partial[] =
		"<?xml version=\"1.0\"?>\n"
		"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\"\n"
		"         version=\"1\" state=\"partial\">\n"
		"  <registration aor=\"sip:user@example.com\" id=\"as9\"\n"
		"                state=\"active\">\n"
		"    <contact id=\"78\" state=\"active\" event=\"registered\"\n"
		"             duration-registered=\"0\" expires=\"3600\">\n"
		"      <uri>sip:user@university.edu</uri>\n"
		"      <display-name xml:lang=\"en\">Joe</display-name>\n"
		"      <unknown-param name=\"foo\">bar</unknown-param>\n"
		"    </contact>\n"
		"  </registration>\n"
		"</reginfo>\n";

static void reginfo_seed(
		const char *dir, const char *name, aor_binding_t **v, int n)
{
	str key = STR_STATIC_INIT("alice@example.com");
	char *doc;
	int len;

	if(n > 0)
		key = aor_binding_get(v[0], AOR_F_AOR);
	CHECK(aor_reginfo_render(&key, v, n, 3, aor_test_now, &doc, &len) == 0);
	put(dir, name, doc, len);
	aor_reginfo_free(doc);
}

int main(int argc, char **argv)
{
	char d[400], p[512];
	aor_snapshot_stat_t st;
	aor_table_t *t, *t2;
	aor_binding_t *b[4];
	str n1 = STR_STATIC_INIT("location"), n2 = STR_STATIC_INIT("other");

	if(argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	snprintf(d, sizeof(d), "%s/reginfo", argv[1]);
	mkdir(d, 0755);
	b[0] = mk("alice@example.com", "sip:alice@192.0.2.10:5060;transport=tcp",
			"Linphone/5.0",
			"\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"",
			aor_test_now + 3600, 500);
	b[1] = mk("alice@example.com", "sip:alice@192.0.2.11", "", "", 0,
			AOR_Q_UNSPEC);
	b[2] = mk("bob\x01@example.com", "sip:bob@192.0.2.12", "UA \xff\x7f", "",
			aor_test_now + 60, 1000);
	reginfo_seed(d, "render-two-bindings.xml", b, 2);
	reginfo_seed(d, "render-raw-fields.xml", b + 2, 1);
	put(d, "rfc3680-full.xml", rfc3680_full, strlen(rfc3680_full));
	put(d, "rfc3680-partial.xml", rfc3680_partial, strlen(rfc3680_partial));
	reginfo_seed(d, "render-init.xml", b, 0);

	snprintf(d, sizeof(d), "%s/replfmt", argv[1]);
	mkdir(d, 0755);
	replfmt_seeds(d, b);

	snprintf(d, sizeof(d), "%s/snapshot", argv[1]);
	mkdir(d, 0755);
	t = aor_table_new(&n1, 2);
	t2 = aor_table_new(&n2, 0);
	CHECK(t != NULL && t2 != NULL);
	t->next = t2;
	add(t, b[0]);
	add(t, b[1]);
	add(t2, b[2]);
	add(t2, mk("carol", "sips:carol@[2001:db8::1]:5061", "x", "",
					aor_test_now + 5, 0));
	snprintf(p, sizeof(p), "%s/two-tables.xml", d);
	CHECK(aor_snapshot_write(p, t, aor_test_now, &st) == 0);
	t->next = NULL;
	snprintf(p, sizeof(p), "%s/empty.xml", d);
	aor_table_flush(t2, AOR_ORIG_RPC);
	CHECK(aor_snapshot_write(p, t2, aor_test_now, &st) == 0);
	aor_table_free(t);
	aor_table_free(t2);
	return 0;
}
