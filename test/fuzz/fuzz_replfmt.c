/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of replication's wire format (replfmt.c) and of what a
 * node does with a peer's records (aor_rec_put, aor_rec_drop in store.c,
 * through ops.c). The input is a message body: a header, then records
 * until the end or the first malformed one (without a valid header, the
 * records are read from the start). Checks:
 *  - the parsers never advance past the end, advance on success and stay
 *    put on failure, and end (0) only at the end;
 *  - a parsed header, P, D, G or N record is encoded again by
 *    aor_repl_put_* and parsed back to the same fields; a P record builds
 *    a binding (aor_binding_new) that encodes to the same record, and
 *    that encoding is its own fixed point;
 *  - each P and D applied to a replicated table as repl.c applies them:
 *    a put taken is then held with its version, and the same put again is
 *    stale; a drop leaves nothing of that id older than it; after the
 *    body, each range's digest is the XOR of the terms of the bindings
 *    held, the counters match a walk, and the tombstones their count.
 */

#include "fuzz.h"
#include "sys.h"
#include "errors.h"
#include "store.h"
#include "ops.h"
#include "replfmt.h"

static aor_repl_rec_t rec, rec2;
static aor_rbuf_t enc, enc2;

/* parses the one record of s[0..len), copied into a buffer of exactly its
 * length, into r; CHECKs that it takes the whole buffer. *keep is the copy,
 * which r's strings point into (the caller frees it). */
static void parse_whole(const char *s, int len, aor_repl_rec_t *r, char **keep)
{
	char *copy = malloc(len ? len : 1);
	const char *p;

	CHECK(copy != NULL);
	memcpy(copy, s, len);
	p = copy;
	CHECK(aor_repl_next(&p, copy + len, r) == 1);
	CHECK(p == copy + len);
	*keep = copy; /* r's strings point into it */
}

static int str_eq(const str *a, const str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}

static void check_in_eq(const aor_repl_rec_t *a, const aor_repl_rec_t *b)
{
	int f;

	CHECK(a->id == b->id && a->version == b->version);
	for(f = 0; f < AOR_F_COUNT; f++)
		CHECK(str_eq(&a->in.f[f], &b->in.f[f]));
	CHECK(a->in.id == b->in.id && a->in.version == b->in.version);
	CHECK(a->in.expires == b->in.expires);
	CHECK(a->in.modified == b->in.modified);
	CHECK(a->in.cseq == b->in.cseq && a->in.cflags == b->in.cflags);
	CHECK(a->in.methods == b->in.methods);
	CHECK(a->in.reg_id == b->in.reg_id && a->in.q == b->in.q);
}

/* s points into [lo, hi) */
static void check_within(const str *s, const char *lo, const char *hi)
{
	CHECK(s->len >= 0 && s->len <= AOR_BINDING_MAX_DATA);
	if(s->len)
		CHECK(s->s >= lo && s->s + s->len <= hi);
}

/* a P record: the binding it builds encodes back to it, and again */
static aor_binding_t *check_binding(const aor_repl_rec_t *r)
{
	aor_binding_in_t in = r->in;
	aor_binding_t *b;
	char *k1, *k2;
	int f;

	CHECK(r->id != 0 && r->version != 0);
	CHECK(r->in.f[AOR_F_AOR].len > 0 && r->in.f[AOR_F_URI].len > 0);
	CHECK(r->in.q >= AOR_Q_UNSPEC && r->in.q <= 1000);
	CHECK(r->in.expires >= 0 && r->in.modified >= 0);
	in.hash = aor_hash(&in.f[AOR_F_AOR]);
	b = aor_binding_new(&in);
	CHECK(b != NULL);
	CHECK(b->id == r->id && b->version == r->version);
	for(f = 0; f < AOR_F_COUNT; f++) {
		str s = aor_binding_get(b, f);
		CHECK(str_eq(&s, &r->in.f[f]));
	}
	enc.len = 0;
	CHECK(aor_repl_put_binding(&enc, b) == 0);
	parse_whole(enc.s, enc.len, &rec2, &k1);
	check_in_eq(r, &rec2);
	enc2.len = 0;
	{
		aor_binding_t *b2;

		in = rec2.in;
		in.hash = b->hash;
		b2 = aor_binding_new(&in);
		CHECK(b2 != NULL);
		CHECK(aor_repl_put_binding(&enc2, b2) == 0);
		AOR_FREE(b2);
	}
	CHECK(enc2.len == enc.len && memcmp(enc.s, enc2.s, enc.len) == 0);
	parse_whole(enc2.s, enc2.len, &rec2, &k2);
	check_in_eq(r, &rec2);
	free(k1);
	free(k2);
	return b;
}

static void check_del(const aor_repl_rec_t *r)
{
	char *k;

	CHECK(r->id != 0 && r->version != 0 && r->in.f[AOR_F_AOR].len > 0);
	enc.len = 0;
	CHECK(aor_repl_put_del(&enc, r->id, r->version, &r->in.f[AOR_F_AOR]) == 0);
	parse_whole(enc.s, enc.len, &rec2, &k);
	CHECK(rec2.type == AOR_RR_DEL && rec2.id == r->id);
	CHECK(rec2.version == r->version);
	CHECK(str_eq(&rec2.in.f[AOR_F_AOR], &r->in.f[AOR_F_AOR]));
	free(k);
}

static void check_digests(const aor_repl_rec_t *r)
{
	char *k;

	CHECK(r->count >= 1 && r->count <= AOR_REPL_DIGESTS_MAX);
	enc.len = 0;
	CHECK(aor_repl_put_digests(&enc, r->first, r->count, r->digest) == 0);
	parse_whole(enc.s, enc.len, &rec2, &k);
	CHECK(rec2.type == AOR_RR_DIGESTS && rec2.first == r->first);
	CHECK(rec2.count == r->count);
	CHECK(memcmp(rec2.digest, r->digest, r->count * sizeof(uint64_t)) == 0);
	free(k);
}

static void check_num(const aor_repl_rec_t *r)
{
	char key[AOR_BINDING_MAX_DATA + 1], *k;

	/* aor_repl_put_num takes a C string */
	if(r->key.len && memchr(r->key.s, 0, r->key.len))
		return;
	memcpy(key, r->key.s, r->key.len);
	key[r->key.len] = '\0';
	enc.len = 0;
	CHECK(aor_repl_put_num(&enc, key, r->num) == 0);
	parse_whole(enc.s, enc.len, &rec2, &k);
	CHECK(rec2.type == AOR_RR_NUM && rec2.num == r->num);
	CHECK(str_eq(&rec2.key, &r->key));
	free(k);
}

static void check_header(
		const aor_repl_hdr_t *h, const char *lo, const char *hi)
{
	char type[16], *copy;
	const char *p;
	aor_repl_hdr_t h2;
	int i;

	CHECK(h->type.len >= 1 && h->type.len <= 8);
	for(i = 0; i < h->type.len; i++)
		CHECK(h->type.s[i] >= 'a' && h->type.s[i] <= 'z');
	CHECK(h->table.len >= 1 && h->table.len <= 255);
	check_within(&h->table, lo, hi);
	memcpy(type, h->type.s, h->type.len);
	type[h->type.len] = '\0';
	enc.len = 0;
	CHECK(aor_repl_put_header(&enc, type, h->node, &h->table) == 0);
	copy = malloc(enc.len);
	CHECK(copy != NULL);
	memcpy(copy, enc.s, enc.len);
	p = copy;
	CHECK(aor_repl_header(&p, copy + enc.len, &h2) == 0);
	CHECK(p == copy + enc.len);
	CHECK(str_eq(&h2.type, &h->type) && h2.node == h->node);
	CHECK(str_eq(&h2.table, &h->table));
	free(copy);
}

/* ---- applying ---- */

static uint64_t model[AOR_RANGES];
static long walked;

static void model_cb(const aor_binding_t *b, void *arg)
{
	(void)arg;
	model[aor_range_of(b->id)] ^= aor_digest_term(b->id, b->version);
	walked++;
}

static long tombs_seen;

static void tomb_cb(const aor_tomb_t *tb, void *arg)
{
	(void)arg;
	CHECK(tb->aor_len > 0);
	tombs_seen++;
}

/* the binding of key with id held by t, or NULL (single-threaded) */
static const aor_binding_t *held(aor_table_t *t, const str *key, uint64_t id)
{
	uint32_t h = aor_hash(key);
	const aor_binding_t *b, *found = NULL;
	aor_rec_t r;
	int i;

	aor_table_lock(t, h);
	aor_table_find(t, h, key, &r);
	for(i = 0, b = *r.link; i < r.n; i++, b = b->next)
		if(b->id == id)
			found = b;
	aor_table_unlock(t, h);
	return found;
}

static int tombed(aor_table_t *t, const str *key, uint64_t id, uint64_t v)
{
	uint32_t h = aor_hash(key);
	aor_rec_t r;
	int k;

	aor_table_lock(t, h);
	aor_table_find(t, h, key, &r);
	k = aor_rec_tombstoned(&r, id, v);
	aor_table_unlock(t, h);
	return k;
}

static void apply_put(aor_table_t *t, aor_binding_t *b)
{
	uint64_t id = b->id, v = b->version;
	size_t sz = aor_binding_size(b);
	const aor_binding_t *h;
	aor_binding_t *again;
	str key;
	int r;

	again = malloc(sz);
	CHECK(again != NULL);
	memcpy(again, b, sz);
	key = aor_binding_get(again, AOR_F_AOR); /* b may be freed */
	r = aor_ops_put(t, b, aor_test_now);
	CHECK(r == 0 || r == 1);
	if(r != 1) {
		AOR_FREE(b);
		/* stale: something at least as new is held or tombstoned, or
		 * it had expired */
		h = held(t, &key, id);
		if(h)
			CHECK(h->version >= v);
	} else {
		h = held(t, &key, id);
		CHECK(h != NULL && h->version == v);
		CHECK(!tombed(t, &key, id, 1)); /* a newer put ends a tombstone */
	}
	/* the same again: a duplicate is stale */
	CHECK(aor_ops_put(t, again, aor_test_now) == 0);
	AOR_FREE(again);
}

static void apply_drop(aor_table_t *t, const aor_repl_rec_t *r)
{
	const str *key = &r->in.f[AOR_F_AOR];
	unsigned long lost = t->repl->tomb_lost;
	const aor_binding_t *h;
	int k;

	k = aor_ops_drop(t, key, r->id, r->version, aor_test_now);
	CHECK(k >= -1 && k <= 1);
	h = held(t, key, r->id);
	if(k == -1) {
		CHECK(h != NULL && h->version >= r->version);
		return;
	}
	CHECK(h == NULL);
	if(t->repl->tomb_lost == lost)
		CHECK(tombed(t, key, r->id, r->version));
	/* the same again: not held */
	CHECK(aor_ops_drop(t, key, r->id, r->version, aor_test_now) == 0);
}

static void check_table(aor_table_t *t)
{
	uint64_t cursor = 0;
	uint32_t i;

	memset(model, 0, sizeof(model));
	walked = 0;
	do
		cursor = aor_table_scan(t, cursor, 1000, model_cb, NULL);
	while(cursor != 0);
	CHECK(walked == t->bindings);
	for(i = 0; i < AOR_RANGES; i++)
		CHECK(aor_table_digest(t, i) == model[i]);
	tombs_seen = 0;
	for(i = 0; i <= t->lock_mask; i++)
		CHECK(aor_ops_tombs(t, i, aor_test_now, tomb_cb, NULL) == 0);
	CHECK(tombs_seen == t->repl->tomb_count);
	CHECK(t->repl->tomb_count <= t->repl->tomb_max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size, *p = s, *prev;
	str name = STR_STATIC_INIT("location");
	aor_repl_hdr_t h;
	aor_binding_t *b;
	aor_table_t *t;
	int k, f, n = 0;

	if(size > 262144)
		return 0;
	aor_test_now = 1700000000;
	t = aor_table_new(&name, 1);
	CHECK(t != NULL);
	CHECK(aor_table_repl_enable(t, 8, 30) == 0);
	if(aor_repl_header(&p, end, &h) == 0) {
		CHECK(p > s && p <= end);
		check_header(&h, s, end);
	} else {
		CHECK(p == s);
	}
	for(;;) {
		prev = p;
		k = aor_repl_next(&p, end, &rec);
		if(k != 1) {
			CHECK(p == prev);
			CHECK(k == -1 || p == end);
			break;
		}
		CHECK(p > prev && p <= end);
		n++;
		switch(rec.type) {
			case AOR_RR_BINDING:
				for(f = 0; f < AOR_F_COUNT; f++)
					check_within(&rec.in.f[f], prev, p);
				b = check_binding(&rec);
				apply_put(t, b);
				break;
			case AOR_RR_DEL:
				check_within(&rec.in.f[AOR_F_AOR], prev, p);
				check_del(&rec);
				apply_drop(t, &rec);
				break;
			case AOR_RR_DIGESTS:
				check_digests(&rec);
				break;
			case AOR_RR_NUM:
				check_within(&rec.key, prev, p);
				check_num(&rec);
				break;
			default:
				CHECK(0);
		}
	}
	CHECK(n <= (int)size / 2);
	check_table(t);
	aor_table_free(t);
	return 0;
}
