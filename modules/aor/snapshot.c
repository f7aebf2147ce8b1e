/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The snapshot file (format in snapshot.h): an atomic streaming writer
 * over the store's cursor walk, and a streaming reader (libxml2's
 * xmlTextReader) that hands out one registration at a time. Pure: no SIP
 * parser, no struct sip_msg.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlreader.h>
#include <libxml/xmlwriter.h>

#include "sys.h"
#include "errors.h"
#include "reginfo.h"
#include "ops.h"
#include "snapshot.h"

#define BAD_CAST_S(s) ((const xmlChar *)(s))

#define PAGE_RECORDS 256		/* AoRs copied per aor_table_scan call */
#define PAGE_BYTES (256 * 1024) /* first size of the copy buffer */
#define TABLE_NAME_MAX 128

/* ------------------------------------------------------------------ */
/* writing                                                            */

/* one page of the walk: copies of the bindings of whole slots, made under
 * each slot's lock, written after it is released */
struct page
{
	char *mem; /* copies, back to back, each 8-byte aligned */
	size_t used, cap;
	size_t *offs; /* where each copy starts */
	size_t n, nmax;
	time_t now;
	int failed; /* out of memory: the snapshot fails */
};

static int grow(void **p, size_t *cap, size_t need, size_t unit)
{
	size_t ncap = *cap ? *cap : 1;
	void *np;

	while(ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * unit);
	if(np == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* aor_scan_cb, under a slot lock: copies b, bounded by its size */
static void page_copy(const aor_binding_t *b, void *arg)
{
	struct page *pg = arg;
	size_t size = (aor_binding_size(b) + 7) & ~(size_t)7;

	if(pg->failed || aor_binding_expired(b, pg->now))
		return;
	/* private memory, doubling: a slot's chain costs O(its size) */
	if((pg->used + size > pg->cap
			   && grow((void **)&pg->mem, &pg->cap, pg->used + size, 1) < 0)
			|| (pg->n == pg->nmax
					&& grow((void **)&pg->offs, &pg->nmax, pg->n + 1,
							   sizeof(size_t))
							   < 0)) {
		pg->failed = 1;
		return;
	}
	memcpy(pg->mem + pg->used, b, aor_binding_size(b));
	pg->offs[pg->n++] = pg->used;
	pg->used += size;
}

static aor_binding_t *page_at(struct page *pg, size_t i)
{
	return (aor_binding_t *)(pg->mem + pg->offs[i]);
}

static int same_aor(const aor_binding_t *a, const aor_binding_t *b)
{
	str x = aor_binding_get(a, AOR_F_AOR), y = aor_binding_get(b, AOR_F_AOR);

	return a->hash == b->hash && x.len == y.len && memcmp(x.s, y.s, x.len) == 0;
}

/* what the writer shares across tables and pages */
struct wr
{
	xmlTextWriterPtr w;
	char *scratch;
	aor_binding_t **v; /* the bindings of one record */
	size_t vmax;
	aor_snapshot_stat_t *st;
	time_t now;
};

/* Writes the records of one page (the copies of an AoR are adjacent). */
static int page_write(struct wr *wr, struct page *pg)
{
	size_t i = 0, j, k;
	str key;
	int r;

	while(i < pg->n) {
		for(j = i + 1; j < pg->n && same_aor(page_at(pg, i), page_at(pg, j));
				j++)
			;
		if(j - i > wr->vmax
				&& grow((void **)&wr->v, &wr->vmax, j - i, sizeof(void *)) < 0)
			return AOR_E_NOMEM;
		for(k = i; k < j; k++)
			wr->v[k - i] = page_at(pg, k);
		key = aor_binding_get(wr->v[0], AOR_F_AOR);
		r = aor_reginfo_write_reg(
				wr->w, wr->scratch, &key, wr->v, (int)(j - i), wr->now);
		if(r < 0)
			return r;
		wr->st->aors++;
		wr->st->bindings += (long)(j - i);
		i = j;
	}
	return 0;
}

/* <table name="..."><reginfo ...> registrations </reginfo></table> */
static int table_write(struct wr *wr, aor_table_t *t, struct page *pg)
{
	uint64_t cursor = 0;
	int r;

	if(xmlTextWriterStartElement(wr->w, BAD_CAST_S("table")) < 0
			|| xmlTextWriterWriteAttribute(
					   wr->w, BAD_CAST_S("name"), BAD_CAST_S(t->name.s))
					   < 0
			|| aor_reginfo_write_start(wr->w, 0) < 0)
		return AOR_E_INTERNAL;
	/* bounded: each call copies at most PAGE_RECORDS AoRs, one slot lock
	 * at a time; the writing happens with no lock held */
	do {
		pg->used = 0;
		pg->n = 0;
		cursor = aor_table_scan(t, cursor, PAGE_RECORDS, page_copy, pg);
		if(pg->failed)
			return AOR_E_NOMEM;
		if((r = page_write(wr, pg)) < 0)
			return r;
	} while(cursor != 0);
	if(xmlTextWriterEndElement(wr->w) < 0 || xmlTextWriterEndElement(wr->w) < 0)
		return AOR_E_INTERNAL;
	return 0;
}

static int doc_write(struct wr *wr, aor_table_t *tables)
{
	struct page pg;
	aor_table_t *t;
	char num[32];
	int r = 0;

	memset(&pg, 0, sizeof(pg));
	pg.now = wr->now;
	if(grow((void **)&pg.mem, &pg.cap, PAGE_BYTES, 1) < 0)
		return AOR_E_NOMEM;
	snprintf(num, sizeof(num), "%lld", (long long)wr->now);
	if(xmlTextWriterStartDocument(wr->w, NULL, "UTF-8", NULL) < 0
			|| xmlTextWriterStartElement(wr->w, BAD_CAST_S("snapshot")) < 0
			|| xmlTextWriterWriteAttribute(
					   wr->w, BAD_CAST_S("xmlns"), BAD_CAST_S(AOR_SNAPSHOT_NS))
					   < 0
			|| xmlTextWriterWriteFormatAttribute(
					   wr->w, BAD_CAST_S("format"), "%d", AOR_SNAPSHOT_FORMAT)
					   < 0
			|| xmlTextWriterWriteAttribute(
					   wr->w, BAD_CAST_S("created"), BAD_CAST_S(num))
					   < 0)
		r = AOR_E_INTERNAL;
	for(t = tables; t && r == 0; t = t->next)
		r = table_write(wr, t, &pg);
	/* the end marker: a reader knows it has seen the whole file */
	if(r == 0
			&& (xmlTextWriterStartElement(wr->w, BAD_CAST_S("end")) < 0
					|| xmlTextWriterWriteFormatAttribute(
							   wr->w, BAD_CAST_S("aors"), "%ld", wr->st->aors)
							   < 0
					|| xmlTextWriterWriteFormatAttribute(wr->w,
							   BAD_CAST_S("bindings"), "%ld", wr->st->bindings)
							   < 0
					|| xmlTextWriterEndElement(wr->w) < 0
					|| xmlTextWriterEndDocument(wr->w) < 0
					|| xmlTextWriterFlush(wr->w) < 0))
		r = AOR_E_INTERNAL;
	free(pg.mem);
	free(pg.offs);
	return r;
}

/* the file the writer writes through: errno of the first failed write
 * is kept for the log (libxml2's own report goes to stderr) */
struct fdout
{
	int fd;
	int err;
};

static int fd_write(void *ctx, const char *buf, int len)
{
	struct fdout *o = ctx;
	ssize_t w;
	int done = 0;

	while(done < len) {
		w = write(o->fd, buf + done, len - done);
		if(w < 0 && errno == EINTR)
			continue;
		if(w <= 0) {
			o->err = w < 0 ? errno : EIO;
			return -1;
		}
		done += (int)w;
	}
	return len;
}

static int fd_close(void *ctx)
{
	(void)ctx;
	return 0; /* the caller fsyncs and closes */
}

/* fsync of the directory holding path, so that the rename is durable */
static int dir_sync(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, r;

	if(slash == NULL)
		strcpy(dir, ".");
	else if(slash == path)
		strcpy(dir, "/");
	else if((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int aor_snapshot_write(const char *path, aor_table_t *tables, time_t now,
		aor_snapshot_stat_t *st)
{
	struct wr wr;
	struct fdout fo = {-1, 0};
	xmlOutputBufferPtr ob = NULL;
	char tmp[4096];
	struct stat sb;
	int fd, r, err = 0;
	const char *step = "write";

	memset(st, 0, sizeof(*st));
	memset(&wr, 0, sizeof(wr));
	wr.st = st;
	wr.now = now;
	if(snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		AOR_LOG_ERR("snapshot %s: path too long\n", path);
		return AOR_E_INTERNAL;
	}
	/* the bindings name users and addresses: owner only; a new file, never
	 * one a symbolic link points at */
	if(unlink(tmp) < 0 && errno != ENOENT) {
		AOR_LOG_ERR("snapshot %s: cannot remove %s: %s\n", path, tmp,
				strerror(errno));
		return AOR_E_INTERNAL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if(fd < 0) {
		AOR_LOG_ERR("snapshot %s: cannot create %s: %s\n", path, tmp,
				strerror(errno));
		return AOR_E_INTERNAL;
	}
	fo.fd = fd;
	wr.scratch = malloc(AOR_REGINFO_SCRATCH);
	ob = xmlOutputBufferCreateIO(fd_write, fd_close, &fo, NULL);
	wr.w = ob ? xmlNewTextWriter(ob) : NULL; /* owns ob from here */
	if(wr.scratch == NULL || wr.w == NULL) {
		if(wr.w == NULL && ob != NULL)
			xmlOutputBufferClose(ob);
		r = AOR_E_NOMEM;
		goto out;
	}
	xmlTextWriterSetIndent(wr.w, 1);
	xmlTextWriterSetIndentString(wr.w, BAD_CAST_S(" "));
	r = doc_write(&wr, tables);
	xmlFreeTextWriter(wr.w);
	wr.w = NULL;
	err = fo.err;
	if(r == 0 && err != 0)
		r = AOR_E_INTERNAL;
	if(r < 0)
		goto out;
	step = "fsync";
	if(fsync(fd) < 0 || fstat(fd, &sb) < 0) {
		err = errno;
		r = AOR_E_INTERNAL;
		goto out;
	}
	st->bytes = (long)sb.st_size;
	step = "close";
	r = close(fd);
	fd = -1;
	if(r < 0) {
		err = errno;
		r = AOR_E_INTERNAL;
		goto out;
	}
	step = "rename";
	if(rename(tmp, path) < 0) {
		err = errno;
		r = AOR_E_INTERNAL;
		goto out;
	}
	if(dir_sync(path) < 0)
		AOR_LOG_WARN("snapshot %s: fsync of its directory: %s\n", path,
				strerror(errno));
out:
	if(wr.w != NULL)
		xmlFreeTextWriter(wr.w);
	free(wr.scratch);
	free(wr.v);
	if(fd >= 0)
		close(fd);
	if(r < 0) {
		unlink(tmp);
		AOR_LOG_ERR("snapshot %s: %s failed (%s); the previous snapshot is "
					"kept\n",
				path, step,
				r == AOR_E_NOMEM ? "out of memory"
								 : (err ? strerror(err) : "write error"));
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* reading                                                            */

struct rd
{
	xmlTextReaderPtr r;
	aor_snapshot_report_t *rep;
	aor_snapshot_cb cb;
	void *arg;
	char table[TABLE_NAME_MAX + 1]; /* "" outside a <table> */
	int cb_err;						/* the callback stopped the load */
	long calls;						/* contacts handed to the callback */
	long end_bindings;				/* what the end marker says, or -1 */
};

/* records the first problem only: later ones follow from it */
static void problem(struct rd *rd, int err, const char *fmt, ...)
{
	va_list ap;

	if(rd->rep->what[0] != '\0')
		return;
	rd->rep->error = err;
	rd->rep->line = xmlTextReaderGetParserLineNumber(rd->r);
	va_start(ap, fmt);
	vsnprintf(rd->rep->what, sizeof(rd->rep->what), fmt, ap);
	va_end(ap);
}

static void on_xml_error(void *arg, xmlErrorPtr e)
{
	struct rd *rd = arg;
	char msg[200];
	int l;

	if(e == NULL || rd->rep->what[0] != '\0')
		return;
	l = snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "?");
	/* snprintf returns the untruncated length */
	if(l >= (int)sizeof(msg))
		l = (int)sizeof(msg) - 1;
	while(l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
		msg[--l] = '\0';
	rd->rep->error = AOR_E_INTERNAL;
	rd->rep->line = e->line;
	snprintf(rd->rep->what, sizeof(rd->rep->what), "not well-formed XML: %s",
			msg);
}

static const char *err_text(int err)
{
	switch(err) {
		case AOR_E_BAD_AOR:
			return "bad aor";
		case AOR_E_BAD_CONTACT:
			return "bad contact";
		case AOR_E_BAD_EXPIRES:
			return "bad expires";
		case AOR_E_BAD_Q:
			return "bad q";
		case AOR_E_BAD_CALLID:
			return "bad callid";
		case AOR_E_BAD_CSEQ:
			return "bad cseq";
		case AOR_E_TOO_LONG:
			return "a contact longer than a binding can hold";
		case AOR_E_NOMEM:
			return "out of memory";
		case AOR_E_TABLE_FULL:
			return "max_bindings reached";
		case AOR_E_NOT_FOUND:
			return "a table name that cannot be used";
		default:
			return "not a reginfo registration";
	}
}

static int contact_cb(const aor_binding_in_t *in, void *arg)
{
	struct rd *rd = arg;
	str t = {rd->table, (int)strlen(rd->table)};
	int r;

	r = rd->cb(&t, in, rd->arg);
	if(r < 0)
		rd->cb_err = r;
	else
		rd->calls++;
	return r;
}

/* a <registration> at the reader: expanded (the reader reads its whole
 * subtree, no more), checked, handed out. Returns 0 to go on, -1 to stop
 * (the file became unreadable or the callback said so). */
static int registration_in(struct rd *rd)
{
	xmlNodePtr n;
	int r;

	n = xmlTextReaderExpand(rd->r);
	if(n == NULL) {
		problem(rd, AOR_E_INTERNAL, "unreadable registration");
		return -1;
	}
	if(rd->table[0] == '\0') {
		problem(rd, AOR_E_INTERNAL, "registration outside a table");
		rd->rep->skipped++;
		return 0;
	}
	r = aor_reginfo_parse_reg(n, contact_cb, rd);
	if(r >= 0) {
		rd->rep->bindings += r;
		return 0;
	}
	if(rd->cb_err) {
		problem(rd, r, "load stopped: %s", err_text(r));
		return -1;
	}
	rd->rep->skipped++;
	problem(rd, r, "registration skipped: %s", err_text(r));
	return 0;
}

static int is(struct rd *rd, const char *ns, const char *name)
{
	const xmlChar *u = xmlTextReaderConstNamespaceUri(rd->r);
	const xmlChar *l = xmlTextReaderConstLocalName(rd->r);

	return u != NULL && l != NULL && strcmp((const char *)u, ns) == 0
		   && strcmp((const char *)l, name) == 0;
}

/* the root: <snapshot> of our namespace and format */
static int root_in(struct rd *rd)
{
	const xmlChar *l = xmlTextReaderConstName(rd->r);
	xmlChar *f;
	int ok;

	if(!is(rd, AOR_SNAPSHOT_NS, "snapshot")) {
		problem(rd, AOR_E_INTERNAL,
				"not a kamailio-aor snapshot (root element <%s>)",
				l ? (const char *)l : "?");
		return -1;
	}
	f = xmlTextReaderGetAttribute(rd->r, BAD_CAST_S("format"));
	ok = f != NULL && atoi((const char *)f) == AOR_SNAPSHOT_FORMAT;
	if(!ok)
		problem(rd, AOR_E_INTERNAL, "snapshot format %s, expected %d",
				f ? (const char *)f : "missing", AOR_SNAPSHOT_FORMAT);
	xmlFree(f);
	return ok ? 0 : -1;
}

static void table_in(struct rd *rd)
{
	xmlChar *name = xmlTextReaderGetAttribute(rd->r, BAD_CAST_S("name"));

	rd->table[0] = '\0';
	if(name == NULL || name[0] == '\0'
			|| strlen((const char *)name) > TABLE_NAME_MAX)
		problem(rd, AOR_E_INTERNAL, "table without a usable name");
	else
		strcpy(rd->table, (const char *)name);
	xmlFree(name);
}

/* <end bindings="N">: how many contacts the writer wrote */
static void end_in(struct rd *rd)
{
	xmlChar *b = xmlTextReaderGetAttribute(rd->r, BAD_CAST_S("bindings"));
	char *e;

	rd->end_bindings = -1;
	if(b != NULL) {
		rd->end_bindings = strtol((const char *)b, &e, 10);
		if(*e != '\0' || rd->end_bindings < 0)
			rd->end_bindings = -1;
	}
	xmlFree(b);
}

/* One element at the reader, by depth. Returns 1 when its subtree was
 * consumed (skip it), 0 to read on into it, -1 to stop. */
static int element_in(struct rd *rd, int *ended)
{
	switch(xmlTextReaderDepth(rd->r)) {
		case 0:
			return root_in(rd);
		case 1:
			if(*ended) {
				problem(rd, AOR_E_INTERNAL, "data after the end marker");
				return -1;
			}
			if(is(rd, AOR_SNAPSHOT_NS, "table")) {
				table_in(rd);
				return 0;
			}
			if(is(rd, AOR_SNAPSHOT_NS, "end")) {
				*ended = 1;
				end_in(rd);
			}
			return 1; /* an extension: skipped */
		case 2:
			return is(rd, AOR_REGINFO_NS, "reginfo") ? 0 : 1;
		case 3:
			if(!is(rd, AOR_REGINFO_NS, "registration"))
				return 1;
			return registration_in(rd) < 0 ? -1 : 1;
		default:
			return 1;
	}
}

int aor_snapshot_load(const char *path, aor_snapshot_cb cb, void *arg,
		aor_snapshot_report_t *rep)
{
	struct rd rd;
	int fd, ret, type, ended = 0, e;

	memset(rep, 0, sizeof(*rep));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0) {
		snprintf(rep->what, sizeof(rep->what), "%s", strerror(errno));
		return errno == ENOENT ? AOR_E_NOT_FOUND : AOR_E_INTERNAL;
	}
	memset(&rd, 0, sizeof(rd));
	rd.rep = rep;
	rd.cb = cb;
	rd.arg = arg;
	/* no NOENT, DTDLOAD or HUGE: no entity, no network, libxml2's limits
	 * on depth and text length stay on */
	rd.r = xmlReaderForFd(fd, path, NULL,
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
					| XML_PARSE_NOCDATA);
	if(rd.r == NULL) {
		close(fd);
		snprintf(rep->what, sizeof(rep->what), "out of memory");
		return AOR_E_INTERNAL;
	}
	xmlTextReaderSetStructuredErrorHandler(rd.r, on_xml_error, &rd);
	ret = xmlTextReaderRead(rd.r);
	while(ret == 1) {
		type = xmlTextReaderNodeType(rd.r);
		if(type == XML_READER_TYPE_DOCUMENT_TYPE) {
			problem(&rd, AOR_E_INTERNAL, "a DTD (not a snapshot)");
			ret = -2;
			break;
		}
		e = type == XML_READER_TYPE_ELEMENT ? element_in(&rd, &ended) : 0;
		if(e < 0) {
			ret = -2;
			break;
		}
		ret = e ? xmlTextReaderNext(rd.r) : xmlTextReaderRead(rd.r);
	}
	if(ret == 0 && !ended)
		problem(&rd, AOR_E_INTERNAL, "no end marker (not a whole snapshot)");
	if(ret == 0 && ended && rd.end_bindings != rd.calls)
		problem(&rd, AOR_E_INTERNAL,
				"the end marker counts %ld bindings, the file holds %ld",
				rd.end_bindings, rd.calls);
	if(ret == -1)
		problem(&rd, AOR_E_INTERNAL, "not well-formed XML");
	xmlFreeTextReader(rd.r);
	close(fd);
	return rep->what[0] == '\0' ? 0 : 1;
}

int aor_snapshot_move_aside(
		const char *path, time_t now, char *buf, size_t size)
{
	struct tm tm;
	char ts[32];

	int i, n;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	/* never over an earlier one (two damaged starts in one second) */
	for(i = 0; i < 100; i++) {
		if(i == 0)
			n = snprintf(buf, size, "%s.corrupt-%s", path, ts);
		else
			n = snprintf(buf, size, "%s.corrupt-%s-%d", path, ts, i);
		if(n >= (int)size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if(access(buf, F_OK) < 0 && errno == ENOENT)
			return rename(path, buf);
	}
	errno = EEXIST;
	return -1;
}
