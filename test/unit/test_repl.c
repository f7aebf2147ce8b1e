/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of replication's pure parts: the per-range digests every
 * store primitive keeps (store.c), the tombstones, a peer's changes
 * applied by version (aor_rec_put, aor_rec_drop through aor_ops_put,
 * aor_ops_drop, aor_ops_tombs), checked against the journal and against a
 * second table fed the same changes in another order; and the wire format
 * (replfmt.c): round trips, every truncation, malformed bodies.
 */

#include <stdint.h>

#include "unit.h"
#include "sys.h"
#include "errors.h"
#include "merge.h"
#include "ops.h"
#include "replfmt.h"
#include "unit_binding.h"

#define T0 ((time_t)1700000000)
#define LOG_MAX 16384
#define TTL 30

/* ------------------------------------------------------------------ */
/* the journal as the tests see it                                    */

typedef struct logent
{
	aor_table_t *t;
	enum aor_change kind;
	enum aor_origin origin;
	uint64_t id, version;
	aor_binding_t *b; /* a copy of c->b (malloc), version set to c's */
} logent_t;

static logent_t jlog[LOG_MAX];
static int nlog;

static void on_change(const aor_jchange_t *c, void *arg)
{
	logent_t *e;
	size_t sz;

	(void)arg;
	if(nlog == LOG_MAX)
		abort();
	e = &jlog[nlog++];
	e->t = c->t;
	e->kind = c->kind;
	e->origin = c->origin;
	e->id = c->id;
	e->version = c->version;
	e->b = NULL;
	if(c->b == NULL)
		return;
	sz = aor_binding_size(c->b);
	e->b = malloc(sz);
	if(e->b == NULL)
		abort();
	memcpy(e->b, c->b, sz);
	e->b->next = NULL;
	e->b->version = c->version;
}

static void log_clear(void)
{
	int i;

	for(i = 0; i < nlog; i++)
		free(jlog[i].b);
	nlog = 0;
}

/* a replicated table of 2^2 slots (4 locks) at T0, with the log alone */
static aor_table_t *setup(long tomb_max)
{
	aor_subscriber_t s = {"test", on_change, NULL, NULL, AOR_SUB_BINDINGS, 0};
	str name = STR_C("location");
	aor_table_t *t;

	aor_test_now = T0;
	log_clear();
	aor_journal_reset_subscribers();
	aor_journal_subscribe(&s);
	t = aor_table_new(&name, 2);
	if(t && aor_table_repl_enable(t, tomb_max, TTL) < 0) {
		aor_table_free(t);
		return NULL;
	}
	return t;
}

static void teardown(aor_table_t *t)
{
	if(t)
		aor_table_free(t);
	log_clear();
}

/* change i of the log: kind, origin, id (version unchecked when 0) */
static void expect(int i, enum aor_change kind, enum aor_origin o, uint64_t id,
		uint64_t version)
{
	ASSERT_LT(i, nlog);
	ASSERT_EQ(jlog[i].kind, kind);
	ASSERT_EQ(jlog[i].origin, o);
	ASSERT_EQ(jlog[i].id, id);
	if(version)
		ASSERT_EQ(jlog[i].version, version);
}

#define EXPECT(...)          \
	do {                     \
		expect(__VA_ARGS__); \
		ASSERT_OK_SO_FAR();  \
	} while(0)

/* ------------------------------------------------------------------ */
/* bindings as a peer sends them                                      */

/* a version of second s (from T0), change k of that second */
#define V(s, k) ((((uint64_t)(T0 + (s))) << AOR_VERSION_SHIFT) + (k))

static aor_binding_t *mkb(const char *aor, const char *uri,
		const char *instance, int32_t reg_id, uint64_t id, uint64_t version,
		time_t expires, const char *ua)
{
	aor_binding_in_t in;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C(aor);
	in.f[AOR_F_URI] = STR_C(uri);
	in.f[AOR_F_CALLID] = STR_C("cid-peer");
	in.f[AOR_F_UA] = STR_C(ua ? ua : "peer/1");
	in.f[AOR_F_INSTANCE] = STR_C(instance ? instance : "");
	in.reg_id = reg_id;
	in.id = id;
	in.version = version;
	in.expires = expires;
	in.modified = aor_test_now;
	in.q = AOR_Q_UNSPEC;
	in.methods = 0xffffffffu;
	return aor_binding_new(&in);
}

static aor_binding_t *mk(const char *aor, const char *uri, uint64_t id,
		uint64_t version, time_t expires)
{
	return mkb(aor, uri, NULL, 0, id, version, expires, NULL);
}

/* applies b with aor_ops_put; frees it when not taken */
static int put(aor_table_t *t, aor_binding_t *b)
{
	int r;

	if(b == NULL)
		return -100;
	r = aor_ops_put(t, b, aor_test_now);
	if(r != 1)
		AOR_FREE(b);
	return r;
}

static int drop(aor_table_t *t, const char *aor, uint64_t id, uint64_t version)
{
	str a = STR_C(aor);

	return aor_ops_drop(t, &a, id, version, aor_test_now);
}

/* the stored binding of aor with id (NULL when none); single-threaded:
 * valid until the next change of t */
static aor_binding_t *held(aor_table_t *t, const char *aor, uint64_t id)
{
	str a = STR_C(aor);
	uint32_t h = aor_hash(&a);
	aor_binding_t *b, *found = NULL;
	aor_rec_t rec;
	int i;

	aor_table_lock(t, h);
	aor_table_find(t, h, &a, &rec);
	for(i = 0, b = *rec.link; i < rec.n; i++, b = b->next)
		if(b->id == id)
			found = b;
	aor_table_unlock(t, h);
	return found;
}

static int nheld(aor_table_t *t, const char *aor)
{
	str a = STR_C(aor);
	uint32_t h = aor_hash(&a);
	aor_rec_t rec;
	int n;

	aor_table_lock(t, h);
	n = aor_table_find(t, h, &a, &rec);
	aor_table_unlock(t, h);
	return n;
}

/* 1 when t holds a tombstone of id of aor at least as new as version */
static int tombed(
		aor_table_t *t, const char *aor, uint64_t id, uint64_t version)
{
	str a = STR_C(aor);
	uint32_t h = aor_hash(&a);
	aor_rec_t rec;
	int r;

	aor_table_lock(t, h);
	aor_table_find(t, h, &a, &rec);
	r = aor_rec_tombstoned(&rec, id, version);
	aor_table_unlock(t, h);
	return r;
}

/* ------------------------------------------------------------------ */
/* local changes                                                      */

static const aor_limits_t lim_default = {
		.default_expires = 3600,
		.max_expires = 7200,
		.policy = AOR_POLICY_REJECT,
};

static aor_binding_t *out[AOR_REC_MAX];

/* one REGISTER of aor with one contact (instance: "" for none) */
static int reg_lim(aor_table_t *t, const aor_limits_t *lim, const char *aor,
		const char *callid, uint32_t cseq, const char *uri,
		const char *instance, int32_t reg_id, long long expires, const char *ua)
{
	aor_regreq_t r;
	aor_contact_t c;
	aor_plan_t plan[1];
	int n;

	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	r.aor = STR_C(aor);
	r.hash = aor_hash(&r.aor);
	r.callid = STR_C(callid);
	r.cseq = cseq;
	r.user_agent = STR_C(ua);
	r.sock_str = STR_C("udp:192.0.2.1:5060");
	r.now = aor_test_now;
	r.contacts = &c;
	r.ncontacts = 1;
	c.uri = STR_C(uri);
	c.instance = STR_C(instance);
	c.reg_id = reg_id;
	c.expires = expires;
	c.q = AOR_Q_UNSPEC;
	c.methods = 0xffffffffu;
	n = aor_ops_save(t, &r, lim, plan, AOR_ORIG_LOCAL, out, AOR_REC_MAX);
	aor_ops_done();
	return n;
}

static int reg(aor_table_t *t, const char *aor, uint32_t cseq, const char *uri,
		long long expires)
{
	return reg_lim(t, &lim_default, aor, "cid-local", cseq, uri, "", 0, expires,
			"local/1");
}

/* ------------------------------------------------------------------ */
/* digests                                                            */

static uint64_t model[AOR_RANGES];

static void model_cb(const aor_binding_t *b, void *arg)
{
	(void)arg;
	model[aor_range_of(b->id)] ^= aor_digest_term(b->id, b->version);
}

/* every range's digest is the XOR of the terms of the bindings t holds */
static void check_digests(aor_table_t *t)
{
	uint64_t cursor = 0;
	uint32_t r;

	memset(model, 0, sizeof(model));
	do
		cursor = aor_table_scan(t, cursor, 1000, model_cb, NULL);
	while(cursor != 0);
	for(r = 0; r < AOR_RANGES; r++)
		if(aor_table_digest(t, r) != model[r])
			UNIT_FAIL("range %u: digest %016llx, bindings say %016llx", r,
					(unsigned long long)aor_table_digest(t, r),
					(unsigned long long)model[r]);
}

#define CHECK_DIGESTS(t)    \
	do {                    \
		check_digests(t);   \
		ASSERT_OK_SO_FAR(); \
	} while(0)

/* ranges whose digests differ between a and b */
static int digests_differ(aor_table_t *a, aor_table_t *b, uint32_t *first)
{
	uint32_t r;
	int n = 0;

	for(r = 0; r < AOR_RANGES; r++)
		if(aor_table_digest(a, r) != aor_table_digest(b, r)) {
			if(n++ == 0 && first)
				*first = r;
		}
	return n;
}

static int digests_zero(aor_table_t *t)
{
	uint32_t r;

	for(r = 0; r < AOR_RANGES; r++)
		if(aor_table_digest(t, r) != 0)
			return 0;
	return 1;
}

/* copies of every binding of t (malloc), in walk order */
typedef struct bset
{
	aor_binding_t *b[LOG_MAX];
	int n;
} bset_t;

static void bset_cb(const aor_binding_t *b, void *arg)
{
	bset_t *s = arg;
	size_t sz = aor_binding_size(b);

	if(s->n == LOG_MAX)
		abort();
	s->b[s->n] = malloc(sz);
	if(s->b[s->n] == NULL)
		abort();
	memcpy(s->b[s->n], b, sz);
	s->b[s->n]->next = NULL;
	s->n++;
}

static int by_id(const void *pa, const void *pb)
{
	const aor_binding_t *a = *(aor_binding_t *const *)pa;
	const aor_binding_t *b = *(aor_binding_t *const *)pb;

	return a->id < b->id ? -1 : a->id > b->id;
}

static void bset_fill(bset_t *s, aor_table_t *t)
{
	uint64_t cursor = 0;

	s->n = 0;
	do
		cursor = aor_table_scan(t, cursor, 1000, bset_cb, s);
	while(cursor != 0);
	qsort(s->b, s->n, sizeof(s->b[0]), by_id);
}

static void bset_free(bset_t *s)
{
	int i;

	for(i = 0; i < s->n; i++)
		free(s->b[i]);
	s->n = 0;
}

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* aor_rec_* straight under the lock, as ops.c calls them */
static aor_rec_t rec_of(aor_table_t *t, const char *aor)
{
	str a = STR_C(aor);
	uint32_t h = aor_hash(&a);
	aor_rec_t rec;

	aor_table_lock(t, h);
	aor_table_find(t, h, &a, &rec);
	return rec; /* lock held: the caller ends with rec_done */
}

static void rec_done(aor_rec_t *rec)
{
	aor_table_unlock(rec->t, rec->hash);
}

static const char *aors[] = {"alice@example.com", "bob@example.com",
		"carol@example.com", "dave@example.com", "erin@example.com",
		"frank@example.com", "grace@example.com", "heidi@example.com"};
#define NAORS ((int)(sizeof(aors) / sizeof(aors[0])))

/* local history on t with every primitive: adds, refreshes, swaps and
 * deletes, at the lowest level (aor_rec_*) */
static void primitives_history(aor_table_t *t, int rounds)
{
	char uri[64];
	aor_binding_t *b, **link;
	aor_binding_in_t in;
	aor_rec_t rec;
	uint32_t x = 12345;
	int i, a, k, f;

	for(i = 0; i < rounds; i++) {
		a = (int)(xorshift(&x) % NAORS);
		k = (int)(xorshift(&x) % 4);
		snprintf(uri, sizeof(uri), "sip:u%d@192.0.2.%d", i, a);
		rec = rec_of(t, aors[a]);
		if(rec.n == 0 || k == 0) {
			b = mk(aors[a], uri, 0, 0, T0 + 3600);
			ASSERT(b != NULL);
			b->hash = rec.hash;
			aor_rec_add(&rec, b);
		} else if(k == 1) {
			/* refresh in place: the same strings, a new expiry */
			b = *rec.link;
			memset(&in, 0, sizeof(in));
			for(f = 0; f < AOR_F_COUNT; f++)
				in.f[f] = aor_binding_get(b, f);
			in.expires = T0 + 3600 + i;
			in.modified = aor_test_now;
			in.cseq = (uint32_t)i;
			in.q = AOR_Q_UNSPEC;
			aor_rec_refresh(&rec, b, &in);
		} else if(k == 2) {
			/* a new block with another user agent, the same id */
			b = mkb(aors[a], uri, NULL, 0, 0, 0, T0 + 3600, "swapped/2");
			ASSERT(b != NULL);
			b->hash = rec.hash;
			aor_rec_swap(&rec, rec.link, b);
		} else {
			link = rec.link;
			if(rec.n > 1)
				link = &(*link)->next;
			aor_rec_del(&rec, link, AOR_CH_DELETED);
		}
		rec_done(&rec);
		if(i % 16 == 0) {
			CHECK_DIGESTS(t);
		}
	}
}

/* each primitive keeps each range's digest the XOR of its bindings'
 * terms (id, version): add, refresh (in place, new version), swap (new
 * block, same id) and delete */
TEST(digests_are_the_xor_of_the_bindings_after_every_primitive)
{
	aor_table_t *t = setup(1000);
	long nonzero = 0;
	uint32_t r;

	ASSERT(t != NULL);
	ASSERT(digests_zero(t));
	primitives_history(t, 400);
	ASSERT_OK_SO_FAR();
	CHECK_DIGESTS(t);
	ASSERT_GT(t->bindings, 20);
	for(r = 0; r < AOR_RANGES; r++)
		nonzero += aor_table_digest(t, r) != 0;
	ASSERT_GT(nonzero, 20);
	teardown(t);
}

/* a table that is not replicated keeps no digests, and its primitives do
 * not touch any (t->repl NULL) */
TEST(digests_are_kept_only_for_replicated_tables)
{
	str name = STR_C("location");
	aor_table_t *t;

	aor_test_now = T0;
	t = aor_table_new(&name, 2);
	ASSERT(t != NULL);
	ASSERT_PTR_EQ(t->repl, NULL);
	ASSERT_EQ(reg(t, "plain@example.com", 1, "sip:p@192.0.2.1", 60), 1);
	ASSERT_EQ(drop(t, "plain@example.com", 99, V(1, 0)), 0);
	ASSERT_EQ(aor_table_flush(t, AOR_ORIG_RPC), 1);
	aor_table_free(t);
	log_clear();
}

/* two tables that hold the same bindings in the same versions have equal
 * digests in every range, whatever the order they got them in and
 * whatever came and went meanwhile */
TEST(same_bindings_in_any_order_give_equal_digests)
{
	aor_table_t *a = setup(1000), *b = NULL, *c = NULL;
	str name = STR_C("location");
	bset_t *s = calloc(1, sizeof(*s));
	aor_binding_t *cp;
	uint32_t x = 777, diff;
	int i, j, k, noise = 0;
	char uri[64];

	ASSERT(a != NULL && s != NULL);
	primitives_history(a, 300);
	ASSERT_OK_SO_FAR();
	bset_fill(s, a);
	ASSERT_GT(s->n, 20);
	b = aor_table_new(&name, 4); /* another size: other slots */
	c = aor_table_new(&name, 1);
	ASSERT(b != NULL && c != NULL);
	ASSERT_EQ(aor_table_repl_enable(b, 1000, TTL), 0);
	ASSERT_EQ(aor_table_repl_enable(c, 1000, TTL), 0);
	/* b: restored in reverse order, with local bindings that come, are
	 * refreshed and go in between */
	for(i = s->n - 1; i >= 0; i--) {
		cp = malloc(aor_binding_size(s->b[i]));
		ASSERT(cp != NULL);
		memcpy(cp, s->b[i], aor_binding_size(s->b[i]));
		ASSERT_EQ(aor_ops_restore(b, cp, AOR_ORIG_LOAD), 0);
		if(i % 5 == 0) {
			snprintf(uri, sizeof(uri), "sip:noise%d@192.0.2.99", i);
			ASSERT_EQ(reg(b, aors[i % NAORS], 1, uri, 60) > 0, 1);
			ASSERT_EQ(reg(b, aors[i % NAORS], 2, uri, 120) > 0, 1);
			noise++;
		}
	}
	ASSERT_GT(digests_differ(a, b, NULL), 0);
	for(i = 0; i < noise * 5; i += 5) {
		snprintf(uri, sizeof(uri), "sip:noise%d@192.0.2.99", i);
		ASSERT_EQ(reg(b, aors[i % NAORS], 3, uri, 0) >= 0, 1);
	}
	ASSERT_EQ(b->bindings, s->n);
	ASSERT_EQ(digests_differ(a, b, NULL), 0);
	/* c: from a peer, shuffled, each also as an older version first
	 * (a version the put refuses later would leave another digest) */
	for(i = s->n - 1; i > 0; i--) {
		j = (int)(xorshift(&x) % (uint32_t)(i + 1));
		cp = s->b[i];
		s->b[i] = s->b[j];
		s->b[j] = cp;
	}
	for(k = 0; k < 2; k++)
		for(i = 0; i < s->n; i++) {
			cp = malloc(aor_binding_size(s->b[i]));
			ASSERT(cp != NULL);
			memcpy(cp, s->b[i], aor_binding_size(s->b[i]));
			if(k == 0)
				cp->version -= 1; /* reaches c before the newer one */
			ASSERT_EQ(put(c, cp), 1);
		}
	ASSERT_EQ(c->bindings, s->n);
	ASSERT_EQ(digests_differ(a, c, &diff), 0);
	CHECK_DIGESTS(b);
	CHECK_DIGESTS(c);
	bset_free(s);
	free(s);
	aor_table_free(b);
	aor_table_free(c);
	teardown(a);
}

/* the terms go out with the bindings: after every way of removal the
 * digests are zero again (tombstones count for nothing) */
TEST(digests_return_to_zero_when_everything_is_removed)
{
	aor_table_t *t = setup(1000);
	uint64_t id;
	int i;

	ASSERT(t != NULL);
	primitives_history(t, 200);
	ASSERT_OK_SO_FAR();
	ASSERT(!digests_zero(t));
	/* a few that expire, some from a peer, one dropped by a peer */
	for(i = 0; i < 5; i++)
		ASSERT_EQ(reg(t, "short@example.com", (uint32_t)i + 1,
						  i % 2 ? "sip:s1@192.0.2.1" : "sip:s2@192.0.2.1", 10)
						  > 0,
				1);
	for(i = 0; i < 5; i++) {
		char uri[32];

		snprintf(uri, sizeof(uri), "sip:p%d@192.0.2.2", i);
		ASSERT_EQ(put(t, mk("peer@example.com", uri, 1000 + i, V(0, i + 1),
								 T0 + 3600)),
				1);
	}
	id = t->next_id + 77;
	ASSERT_EQ(put(t, mk("gone@example.com", "sip:g@192.0.2.3", id, V(0, 1),
							 T0 + 3600)),
			1);
	ASSERT_EQ(drop(t, "gone@example.com", id, V(0, 2)), 1);
	CHECK_DIGESTS(t);
	ASSERT_EQ(aor_ops_remove(
					  t, &STR_C("peer@example.com"), NULL, NULL, AOR_ORIG_RPC),
			5);
	aor_test_now += 11;
	ASSERT_GT(aor_table_expire_step(t, 64, aor_test_now), 0);
	ASSERT_EQ(nheld(t, "short@example.com"), 0);
	CHECK_DIGESTS(t);
	ASSERT_GT(aor_table_flush(t, AOR_ORIG_RPC), 0);
	ASSERT_EQ(t->bindings, 0);
	ASSERT(digests_zero(t));
	ASSERT_GT(t->repl->tomb_count, 0);
	teardown(t);
}

/* one version apart is another digest, in that binding's range only */
TEST(digest_differs_when_one_version_differs)
{
	aor_table_t *a = setup(1000), *b;
	str name = STR_C("location");
	uint32_t first = 0;
	int i;

	ASSERT(a != NULL);
	b = aor_table_new(&name, 2);
	ASSERT(b != NULL);
	ASSERT_EQ(aor_table_repl_enable(b, 1000, TTL), 0);
	for(i = 0; i < 50; i++) {
		char uri[32];

		snprintf(uri, sizeof(uri), "sip:v%d@192.0.2.5", i);
		ASSERT_EQ(put(a, mk(aors[i % NAORS], uri, 5000 + i, V(0, i + 1),
								 T0 + 3600)),
				1);
		ASSERT_EQ(put(b, mk(aors[i % NAORS], uri, 5000 + i,
								 V(0, i + 1) + (i == 17), T0 + 3600)),
				1);
	}
	ASSERT_EQ(digests_differ(a, b, &first), 1);
	ASSERT_EQ(first, aor_range_of(5017));
	/* the same version again: equal */
	ASSERT_EQ(put(a, mk(aors[17 % NAORS], "sip:v17@192.0.2.5", 5017,
							 V(0, 18) + 1, T0 + 3600)),
			1);
	ASSERT_EQ(digests_differ(a, b, NULL), 0);
	aor_table_free(b);
	teardown(a);
}

/* ------------------------------------------------------------------ */
/* a peer's bindings                                                  */

TEST(put_inserts_a_new_binding_with_its_id_and_version_as_origin_peer)
{
	aor_table_t *t = setup(1000);
	aor_binding_t *b;
	uint64_t id;

	ASSERT(t != NULL);
	id = t->next_id + 1000;
	ASSERT_EQ(put(t, mk("p@example.com", "sip:a@192.0.2.1", id, V(5, 3),
							 T0 + 3600)),
			1);
	ASSERT_EQ(nlog, 1);
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_PEER, id, V(5, 3));
	b = held(t, "p@example.com", id);
	ASSERT(b != NULL);
	ASSERT_EQ(b->version, V(5, 3));
	ASSERT_EQ(b->expires, T0 + 3600);
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_URI), "sip:a@192.0.2.1");
	ASSERT_EQ(t->bindings, 1);
	ASSERT_EQ(t->aors, 1);
	/* the id counter moved to it: a local id is never the same */
	ASSERT_GE(t->next_id, id);
	ASSERT_EQ(aor_journal_pending(), 0);
	CHECK_DIGESTS(t);
	teardown(t);
}

/* a duplicate, or an older copy, changes nothing and records nothing */
TEST(put_of_the_same_or_an_older_version_is_stale)
{
	aor_table_t *t = setup(1000);
	aor_binding_t *b;
	uint64_t d0;

	ASSERT(t != NULL);
	ASSERT_EQ(put(t, mkb("p@example.com", "sip:a@192.0.2.1", NULL, 0, 42,
							 V(5, 3), T0 + 3600, "first")),
			1);
	d0 = aor_table_digest(t, aor_range_of(42));
	ASSERT_EQ(put(t, mkb("p@example.com", "sip:a@192.0.2.1", NULL, 0, 42,
							 V(5, 3), T0 + 3600, "first")),
			0);
	ASSERT_EQ(put(t, mkb("p@example.com", "sip:b@192.0.2.1", NULL, 0, 42,
							 V(5, 3), T0 + 7200, "same version")),
			0);
	ASSERT_EQ(put(t, mkb("p@example.com", "sip:c@192.0.2.1", NULL, 0, 42,
							 V(5, 2), T0 + 7200, "older")),
			0);
	ASSERT_EQ(nlog, 1);
	ASSERT_EQ(t->bindings, 1);
	b = held(t, "p@example.com", 42);
	ASSERT(b != NULL);
	ASSERT_EQ(b->version, V(5, 3));
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_UA), "first");
	ASSERT_EQ(b->expires, T0 + 3600);
	ASSERT_EQ(aor_table_digest(t, aor_range_of(42)), d0);
	teardown(t);
}

/* a newer version replaces the binding of its id, all fields */
TEST(put_of_a_newer_version_replaces_the_binding_of_its_id)
{
	aor_table_t *t = setup(1000);
	aor_binding_t *b;
	long mem0;

	ASSERT(t != NULL);
	ASSERT_EQ(put(t, mkb("p@example.com", "sip:a@192.0.2.1", NULL, 0, 42,
							 V(5, 3), T0 + 3600, "first")),
			1);
	mem0 = t->mem;
	ASSERT_EQ(put(t, mkb("p@example.com", "sip:a@192.0.2.1;transport=tcp", NULL,
							 0, 42, V(6, 0), T0 + 60, "a longer user agent")),
			1);
	ASSERT_EQ(nlog, 2);
	EXPECT(1, AOR_CH_UPDATED, AOR_ORIG_PEER, 42, V(6, 0));
	ASSERT_EQ(t->bindings, 1);
	ASSERT_EQ(nheld(t, "p@example.com"), 1);
	b = held(t, "p@example.com", 42);
	ASSERT(b != NULL);
	ASSERT_EQ(b->version, V(6, 0));
	ASSERT_EQ(b->expires, T0 + 60);
	ASSERT_STR_EQ(
			aor_binding_get(b, AOR_F_URI), "sip:a@192.0.2.1;transport=tcp");
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_UA), "a longer user agent");
	ASSERT_EQ(t->mem, mem0 + 14 + 14);
	CHECK_DIGESTS(t);
	teardown(t);
}

/* RFC 3261 10.3 step 7 does not apply between nodes: a peer's newer
 * version of a binding of the same contact with another id (registered at
 * two nodes that had not yet heard of each other's) replaces the older,
 * which leaves a tombstone; an older one is stale */
TEST(put_replaces_a_binding_of_the_same_uri_with_another_id_when_newer)
{
	aor_table_t *t = setup(1000);

	ASSERT(t != NULL);
	ASSERT_EQ(put(t, mk("c@example.com", "sip:x@192.0.2.1", 10, V(5, 0),
							 T0 + 3600)),
			1);
	/* older, and RFC 3261 19.1.4 equal (host case): stale */
	ASSERT_EQ(put(t, mk("c@example.com", "sip:x@192.0.2.1", 11, V(4, 9),
							 T0 + 3600)),
			0);
	ASSERT_EQ(put(t, mk("c@example.com", "sip:x@EXAMPLE.net", 12, V(9, 0),
							 T0 + 3600)),
			1); /* another contact: kept beside */
	ASSERT_EQ(nheld(t, "c@example.com"), 2);
	log_clear();
	ASSERT_EQ(put(t, mk("c@example.com", "SIP:x@192.0.2.1;lr", 13, V(6, 0),
							 T0 + 3600)),
			1);
	ASSERT_EQ(nlog, 2);
	EXPECT(0, AOR_CH_DELETED, AOR_ORIG_PEER, 10, V(6, 0));
	EXPECT(1, AOR_CH_INSERTED, AOR_ORIG_PEER, 13, V(6, 0));
	log_clear();
	ASSERT_PTR_EQ(held(t, "c@example.com", 10), NULL);
	ASSERT(held(t, "c@example.com", 13) != NULL);
	ASSERT(held(t, "c@example.com", 12) != NULL);
	ASSERT_EQ(nheld(t, "c@example.com"), 2);
	/* the loser cannot come back at its own version */
	ASSERT(tombed(t, "c@example.com", 10, V(5, 0)));
	ASSERT_EQ(put(t, mk("c@example.com", "sip:x@192.0.2.1", 10, V(5, 0),
							 T0 + 3600)),
			0);
	/* equal versions: the greater id wins, on every node */
	ASSERT_EQ(put(t, mk("c@example.com", "sip:x@example.net", 9, V(9, 0),
							 T0 + 3600)),
			0);
	ASSERT_EQ(put(t, mk("c@example.com", "sip:x@example.net", 14, V(9, 0),
							 T0 + 3600)),
			1);
	ASSERT_PTR_EQ(held(t, "c@example.com", 12), NULL);
	ASSERT(held(t, "c@example.com", 14) != NULL);
	ASSERT_EQ(t->bindings, 2);
	CHECK_DIGESTS(t);
	teardown(t);
}

/* RFC 5626 6: with an instance the contact is instance and reg-id, not
 * the URI */
TEST(put_matches_the_same_contact_by_instance_and_reg_id)
{
	aor_table_t *t = setup(1000);
	const char *inst = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";

	ASSERT(t != NULL);
	ASSERT_EQ(put(t, mkb("i@example.com", "sip:i@192.0.2.1", inst, 1, 20,
							 V(5, 0), T0 + 3600, NULL)),
			1);
	/* another reg-id: another flow, kept beside */
	ASSERT_EQ(put(t, mkb("i@example.com", "sip:i@192.0.2.1", inst, 2, 21,
							 V(5, 1), T0 + 3600, NULL)),
			1);
	/* the same URI without an instance: another contact */
	ASSERT_EQ(put(t, mkb("i@example.com", "sip:i@192.0.2.1", NULL, 0, 22,
							 V(5, 2), T0 + 3600, NULL)),
			1);
	ASSERT_EQ(nheld(t, "i@example.com"), 3);
	/* the same instance and reg-id from another address, newer */
	ASSERT_EQ(put(t, mkb("i@example.com", "sip:i@198.51.100.7:5070", inst, 1,
							 23, V(6, 0), T0 + 3600, NULL)),
			1);
	ASSERT_EQ(nheld(t, "i@example.com"), 3);
	ASSERT_PTR_EQ(held(t, "i@example.com", 20), NULL);
	ASSERT(held(t, "i@example.com", 23) != NULL);
	/* and older: stale */
	ASSERT_EQ(put(t, mkb("i@example.com", "sip:i@203.0.113.1", inst, 2, 24,
							 V(5, 0), T0 + 3600, NULL)),
			0);
	ASSERT(held(t, "i@example.com", 21) != NULL);
	CHECK_DIGESTS(t);
	teardown(t);
}

/* two nodes each hold their own binding of one contact; each gets the
 * other's: both keep the same one, the newer (version, then id) */
TEST(same_contact_conflict_resolves_alike_on_both_tables)
{
	static const struct
	{
		uint64_t va, ida, vb, idb;
	} cases[] = {
			{V(5, 0), 100, V(6, 0), 200}, /* b newer */
			{V(7, 0), 100, V(6, 0), 200}, /* a newer */
			{V(5, 0), 300, V(5, 0), 200}, /* tie: the greater id */
			{V(5, 0), 100, V(5, 0), 200},
	};
	str name = STR_C("location");
	aor_table_t *t1, *t2;
	uint64_t win;
	size_t i;
	int k;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t1 = setup(1000);
		t2 = aor_table_new(&name, 3);
		ASSERT(t1 != NULL && t2 != NULL);
		ASSERT_EQ(aor_table_repl_enable(t2, 1000, TTL), 0);
		win = cases[i].va > cases[i].vb
							  || (cases[i].va == cases[i].vb
									  && cases[i].ida > cases[i].idb)
					  ? cases[i].ida
					  : cases[i].idb;
		ASSERT_EQ(put(t1, mk("x@example.com", "sip:x@192.0.2.1", cases[i].ida,
								  cases[i].va, T0 + 3600)),
				1);
		ASSERT_EQ(put(t2, mkb("x@example.com", "sip:x@192.0.2.1", NULL, 0,
								  cases[i].idb, cases[i].vb, T0 + 3600, "b")),
				1);
		/* crosswise, each twice (a duplicate is stale the second time) */
		for(k = 0; k < 2; k++) {
			ASSERT_EQ(
					put(t1, mkb("x@example.com", "sip:x@192.0.2.1", NULL, 0,
									cases[i].idb, cases[i].vb, T0 + 3600, "b")),
					k == 0 && win == cases[i].idb);
			ASSERT_EQ(put(t2, mk("x@example.com", "sip:x@192.0.2.1",
									  cases[i].ida, cases[i].va, T0 + 3600)),
					k == 0 && win == cases[i].ida);
		}
		ASSERT_EQ(nheld(t1, "x@example.com"), 1);
		ASSERT_EQ(nheld(t2, "x@example.com"), 1);
		ASSERT(held(t1, "x@example.com", win) != NULL);
		ASSERT(held(t2, "x@example.com", win) != NULL);
		ASSERT_EQ(digests_differ(t1, t2, NULL), 0);
		aor_table_free(t2);
		teardown(t1);
	}
}

/* a binding expired at now is not inserted: it would only be swept, and
 * it does not displace a live binding of the same contact */
TEST(expired_put_is_not_inserted)
{
	aor_table_t *t = setup(1000);

	ASSERT(t != NULL);
	aor_test_now = T0 + 100;
	ASSERT_EQ(put(t, mk("e@example.com", "sip:e@192.0.2.1", 30, V(100, 0),
							 T0 + 100)),
			0);
	ASSERT_EQ(put(t, mk("e@example.com", "sip:e@192.0.2.1", 31, V(100, 1),
							 T0 + 1)),
			0);
	ASSERT_EQ(nlog, 0);
	ASSERT_EQ(nheld(t, "e@example.com"), 0);
	/* permanent (expires 0) and one second left: inserted */
	ASSERT_EQ(put(t, mk("e@example.com", "sip:p@192.0.2.1", 32, V(100, 2), 0)),
			1);
	ASSERT_EQ(put(t, mk("e@example.com", "sip:e@192.0.2.1", 33, V(100, 3),
							 T0 + 101)),
			1);
	ASSERT_EQ(put(t, mk("e@example.com", "sip:e@192.0.2.1", 34, V(100, 4),
							 T0 + 50)),
			0);
	ASSERT(held(t, "e@example.com", 33) != NULL);
	ASSERT_EQ(nheld(t, "e@example.com"), 2);
	ASSERT_EQ(t->repl->tomb_count, 0);
	teardown(t);
}

/* ------------------------------------------------------------------ */
/* a peer's removals and the tombstones                               */

TEST(drop_removes_an_older_binding_and_leaves_a_tombstone)
{
	aor_table_t *t = setup(1000);

	ASSERT(t != NULL);
	ASSERT_EQ(put(t, mk("d@example.com", "sip:d@192.0.2.1", 50, V(5, 0),
							 T0 + 3600)),
			1);
	ASSERT_EQ(drop(t, "d@example.com", 50, V(6, 0)), 1);
	ASSERT_EQ(nlog, 2);
	EXPECT(1, AOR_CH_DELETED, AOR_ORIG_PEER, 50, V(6, 0));
	ASSERT(jlog[1].b != NULL);
	ASSERT_EQ(jlog[1].b->version, V(6, 0));
	ASSERT_EQ(nheld(t, "d@example.com"), 0);
	ASSERT_EQ(t->bindings, 0);
	ASSERT_EQ(t->aors, 0);
	ASSERT(digests_zero(t));
	ASSERT(tombed(t, "d@example.com", 50, V(6, 0)));
	ASSERT(!tombed(t, "d@example.com", 50, V(6, 1)));
	ASSERT_EQ(t->repl->tomb_count, 1);
	/* the delayed insert, and a change made before the removal: refused */
	ASSERT_EQ(put(t, mk("d@example.com", "sip:d@192.0.2.1", 50, V(5, 0),
							 T0 + 3600)),
			0);
	ASSERT_EQ(put(t, mk("d@example.com", "sip:d@192.0.2.1", 50, V(6, 0),
							 T0 + 3600)),
			0);
	ASSERT_EQ(nheld(t, "d@example.com"), 0);
	/* the removal again: not held, the tombstone stays one */
	ASSERT_EQ(drop(t, "d@example.com", 50, V(6, 0)), 0);
	ASSERT_EQ(t->repl->tomb_count, 1);
	ASSERT_EQ(nlog, 2);
	teardown(t);
}

/* a removal older than (or as old as) what is held is stale: the binding
 * stays and no tombstone is left (it would refuse its own newer copy) */
TEST(drop_older_than_the_held_binding_is_stale)
{
	aor_table_t *t = setup(1000);

	ASSERT(t != NULL);
	ASSERT_EQ(put(t, mk("d@example.com", "sip:d@192.0.2.1", 50, V(5, 0),
							 T0 + 3600)),
			1);
	ASSERT_EQ(drop(t, "d@example.com", 50, V(4, 0)), -1);
	ASSERT_EQ(drop(t, "d@example.com", 50, V(5, 0)), -1);
	ASSERT_EQ(nlog, 1);
	ASSERT(held(t, "d@example.com", 50) != NULL);
	ASSERT_EQ(t->repl->tomb_count, 0);
	ASSERT(!tombed(t, "d@example.com", 50, 1));
	teardown(t);
}

/* a removal that arrives before its binding leaves a tombstone that
 * refuses the late insert; a second removal raises it */
TEST(drop_of_a_binding_not_held_refuses_its_late_insert)
{
	aor_table_t *t = setup(1000);

	ASSERT(t != NULL);
	ASSERT_EQ(drop(t, "late@example.com", 60, V(6, 0)), 0);
	ASSERT_EQ(nlog, 0);
	ASSERT(tombed(t, "late@example.com", 60, V(6, 0)));
	ASSERT_EQ(put(t, mk("late@example.com", "sip:l@192.0.2.1", 60, V(5, 0),
							 T0 + 3600)),
			0);
	ASSERT_EQ(nheld(t, "late@example.com"), 0);
	ASSERT_EQ(drop(t, "late@example.com", 60, V(8, 0)), 0);
	ASSERT_EQ(drop(t, "late@example.com", 60, V(7, 0)), 0); /* not lowered */
	ASSERT_EQ(t->repl->tomb_count, 1);
	ASSERT(tombed(t, "late@example.com", 60, V(8, 0)));
	ASSERT_EQ(put(t, mk("late@example.com", "sip:l@192.0.2.1", 60, V(7, 5),
							 T0 + 3600)),
			0);
	/* a tombstone is of one id: another binding of the AoR goes in */
	ASSERT_EQ(put(t, mk("late@example.com", "sip:m@192.0.2.1", 61, V(5, 0),
							 T0 + 3600)),
			1);
	ASSERT_EQ(nheld(t, "late@example.com"), 1);
	teardown(t);
}

/* a change made after the removal (a newer version) is accepted and the
 * tombstone goes */
TEST(newer_put_after_a_drop_is_accepted_and_removes_the_tombstone)
{
	aor_table_t *t = setup(1000);

	ASSERT(t != NULL);
	ASSERT_EQ(put(t, mk("n@example.com", "sip:n@192.0.2.1", 70, V(5, 0),
							 T0 + 3600)),
			1);
	ASSERT_EQ(drop(t, "n@example.com", 70, V(6, 0)), 1);
	ASSERT_EQ(drop(t, "n@example.com", 71, V(6, 1)), 0);
	ASSERT_EQ(t->repl->tomb_count, 2);
	ASSERT_EQ(put(t, mk("n@example.com", "sip:n@192.0.2.1", 70, V(6, 1),
							 T0 + 3600)),
			1);
	EXPECT(nlog - 1, AOR_CH_INSERTED, AOR_ORIG_PEER, 70, V(6, 1));
	ASSERT(!tombed(t, "n@example.com", 70, 1));
	ASSERT(tombed(t, "n@example.com", 71, V(6, 1)));
	ASSERT_EQ(t->repl->tomb_count, 1);
	ASSERT(held(t, "n@example.com", 70) != NULL);
	CHECK_DIGESTS(t);
	teardown(t);
}

/* A newer put of a tombstoned id that also displaces an older binding of
 * the same contact (another id): the displaced binding's tombstone is
 * left, and the put's own is the one removed. */
TEST(newer_put_after_a_drop_that_displaces_a_binding_keeps_its_tombstone)
{
	aor_table_t *t = setup(1000);
	int k;

	for(k = 0; k < 2; k++) {
		ASSERT(t != NULL);
		/* k 0: the put's tombstone is first in its list; k 1: not */
		ASSERT_EQ(put(t, mk("m@example.com", "sip:m@192.0.2.1", 81, V(5, 0),
								 T0 + 3600)),
				1);
		ASSERT_EQ(drop(t, "m@example.com", 80, V(6, 0)), 0);
		if(k == 1)
			ASSERT_EQ(drop(t, "m@example.com", 82, V(6, 0)), 0);
		ASSERT_EQ(put(t, mk("m@example.com", "sip:m@192.0.2.1", 80, V(7, 0),
								 T0 + 3600)),
				1);
		ASSERT_PTR_EQ(held(t, "m@example.com", 81), NULL);
		ASSERT(held(t, "m@example.com", 80) != NULL);
		ASSERT(!tombed(t, "m@example.com", 80, 1));
		ASSERT(tombed(t, "m@example.com", 81, V(7, 0)));
		/* the displaced binding's delayed copy stays out */
		ASSERT_EQ(put(t, mk("m@example.com", "sip:m@192.0.2.2", 81, V(5, 0),
								 T0 + 3600)),
				0);
		ASSERT_EQ(t->repl->tomb_count, 1 + k);
		teardown(t);
		t = setup(1000);
	}
	teardown(t);
}

static int ntomb_seen;
static aor_tomb_t tomb_seen;
static char tomb_aor[64];

static void tomb_cb(const aor_tomb_t *tb, void *arg)
{
	(void)arg;
	ntomb_seen++;
	tomb_seen = *tb;
	snprintf(tomb_aor, sizeof(tomb_aor), "%.*s", tb->aor_len, tb->aor);
}

/* forgotten ttl seconds after the removal, by the sweep of its lock */
TEST(tombstones_are_forgotten_after_their_ttl)
{
	aor_table_t *t = setup(1000);
	uint32_t li, h;
	str a = STR_C("ttl@example.com");
	int i, swept = 0;

	ASSERT(t != NULL);
	h = aor_hash(&a);
	li = h & t->lock_mask;
	ASSERT_EQ(drop(t, "ttl@example.com", 90, V(1, 0)), 0);
	ntomb_seen = 0;
	ASSERT_EQ(aor_ops_tombs(t, li, aor_test_now, tomb_cb, NULL), 0);
	ASSERT_EQ(ntomb_seen, 1);
	ASSERT_EQ(tomb_seen.id, 90);
	ASSERT_EQ(tomb_seen.version, V(1, 0));
	ASSERT_EQ(tomb_seen.hash, h);
	ASSERT_EQ(tomb_seen.drop, T0 + TTL);
	ASSERT_STR_EQ(STR_C(tomb_aor), "ttl@example.com");
	/* the other locks' lists are empty */
	for(i = 0; i <= (int)t->lock_mask; i++) {
		if((uint32_t)i == li)
			continue;
		ntomb_seen = 0;
		ASSERT_EQ(aor_ops_tombs(
						  t, (uint32_t)i, aor_test_now + TTL, tomb_cb, NULL),
				0);
		ASSERT_EQ(ntomb_seen, 0);
	}
	/* a second removal of it refreshes its time */
	aor_test_now = T0 + 10;
	ASSERT_EQ(drop(t, "ttl@example.com", 90, V(1, 0)), 0);
	ASSERT_EQ(aor_ops_tombs(t, li, T0 + TTL, NULL, NULL), 0);
	ASSERT(tombed(t, "ttl@example.com", 90, V(1, 0)));
	ntomb_seen = 0;
	swept = aor_ops_tombs(t, li, T0 + 10 + TTL, tomb_cb, NULL);
	ASSERT_EQ(swept, 1);
	ASSERT_EQ(ntomb_seen, 0);
	ASSERT_EQ(t->repl->tomb_count, 0);
	ASSERT(!tombed(t, "ttl@example.com", 90, 1));
	/* then the late copy goes in */
	aor_test_now = T0 + 10 + TTL;
	ASSERT_EQ(put(t, mk("ttl@example.com", "sip:t@192.0.2.1", 90, V(0, 5),
							 T0 + 3600)),
			1);
	teardown(t);
}

/* at most tomb_max are kept; the rest are counted as lost */
TEST(tomb_max_bounds_the_tombstones_and_counts_the_lost)
{
	aor_table_t *t = setup(3);
	int i;

	ASSERT(t != NULL);
	for(i = 0; i < 5; i++)
		ASSERT_EQ(drop(t, aors[i], 100 + i, V(1, i)), 0);
	ASSERT_EQ(t->repl->tomb_count, 3);
	ASSERT_EQ(t->repl->tomb_lost, 2);
	for(i = 0; i < 3; i++)
		ASSERT(tombed(t, aors[i], 100 + i, V(1, i)));
	ASSERT(!tombed(t, aors[3], 103, 1));
	/* raising one that is kept costs no room */
	ASSERT_EQ(drop(t, aors[0], 100, V(2, 0)), 0);
	ASSERT_EQ(t->repl->tomb_lost, 2);
	/* a removal of a held binding past the bound still removes it */
	ASSERT_EQ(
			put(t, mk(aors[5], "sip:z@192.0.2.1", 200, V(1, 0), T0 + 3600)), 1);
	ASSERT_EQ(drop(t, aors[5], 200, V(2, 0)), 1);
	ASSERT_EQ(nheld(t, aors[5]), 0);
	ASSERT_EQ(t->repl->tomb_lost, 3);
	/* a forgotten one makes room again */
	ASSERT_EQ(aor_ops_tombs(t, aor_hash(&STR_C(aors[1])), T0 + TTL, NULL, NULL)
					  >= 1,
			1);
	ASSERT_LT(t->repl->tomb_count, 3);
	ASSERT_EQ(drop(t, aors[6], 300, V(3, 0)), 0);
	ASSERT(tombed(t, aors[6], 300, V(3, 0)));
	teardown(t);
}

/* a peer's version far ahead of this node's clock: the clock follows, so
 * a local change made afterwards orders after it, on this binding and on
 * any other */
TEST(put_raises_the_clock_so_a_later_local_change_is_newer)
{
	aor_table_t *t = setup(1000);
	uint64_t far = V(500, 9), id;
	aor_binding_t *b;

	ASSERT(t != NULL);
	id = t->next_id + 5;
	ASSERT_EQ(put(t, mk("clk@example.com", "sip:c@192.0.2.1", id, far,
							 T0 + 3600)),
			1);
	ASSERT_GE(t->clock, far);
	ASSERT_EQ(reg(t, "other@example.com", 1, "sip:o@192.0.2.1", 60), 1);
	EXPECT(nlog - 1, AOR_CH_INSERTED, AOR_ORIG_LOCAL, jlog[nlog - 1].id, 0);
	ASSERT_GT(jlog[nlog - 1].version, far);
	ASSERT_GT(jlog[nlog - 1].id, id);
	/* a local REGISTER of the peer's contact (another Call-ID and user
	 * agent: a new block) updates it, newer */
	ASSERT_EQ(reg(t, "clk@example.com", 1, "sip:c@192.0.2.1", 60), 1);
	EXPECT(nlog - 1, AOR_CH_UPDATED, AOR_ORIG_LOCAL, id, 0);
	b = held(t, "clk@example.com", id);
	ASSERT(b != NULL);
	ASSERT_GT(b->version, jlog[nlog - 2].version);
	ASSERT_GT(b->version, far);
	/* a newer version of a held binding far ahead: raised again */
	ASSERT_EQ(put(t, mk("clk@example.com", "sip:c@192.0.2.1", id, V(700, 0),
							 T0 + 3600)),
			1);
	EXPECT(nlog - 1, AOR_CH_UPDATED, AOR_ORIG_PEER, id, V(700, 0));
	ASSERT_GE(t->clock, V(700, 0));
	ASSERT_EQ(reg(t, "other@example.com", 2, "sip:o@192.0.2.1", 60), 1);
	ASSERT_GT(jlog[nlog - 1].version, V(700, 0));
	/* a peer's removal far ahead: raised again */
	far = V(900, 0);
	ASSERT_EQ(drop(t, "clk@example.com", id, far), 1);
	ASSERT_GE(t->clock, far);
	ASSERT_EQ(reg(t, "other@example.com", 3, "sip:o@192.0.2.1", 60), 1);
	ASSERT_GT(jlog[nlog - 1].version, far);
	teardown(t);
}

/* every local removal but a natural expiry leaves a tombstone of the
 * removal's version: a request's, an operator's, an eviction, a flush, a
 * removal before its time (a lost TCP connection, recorded as expired) */
TEST(local_removals_leave_tombstones_but_natural_expiry_does_not)
{
	aor_table_t *t = setup(1000);
	aor_limits_t evict = lim_default;
	uint64_t id;
	int i;

	ASSERT(t != NULL);
	/* Expires 0 */
	ASSERT_EQ(reg(t, "r@example.com", 1, "sip:r@192.0.2.1", 60), 1);
	id = jlog[nlog - 1].id;
	ASSERT_EQ(reg(t, "r@example.com", 2, "sip:r@192.0.2.1", 0), 0);
	EXPECT(nlog - 1, AOR_CH_DELETED, AOR_ORIG_LOCAL, id, 0);
	ASSERT(tombed(t, "r@example.com", id, jlog[nlog - 1].version));
	ASSERT(!tombed(t, "r@example.com", id, jlog[nlog - 1].version + 1));
	/* aor.rm */
	ASSERT_EQ(reg(t, "r@example.com", 3, "sip:r@192.0.2.1", 60), 1);
	id = jlog[nlog - 1].id;
	ASSERT_EQ(aor_ops_remove(
					  t, &STR_C("r@example.com"), NULL, NULL, AOR_ORIG_RPC),
			1);
	EXPECT(nlog - 1, AOR_CH_DELETED, AOR_ORIG_RPC, id, 0);
	ASSERT(tombed(t, "r@example.com", id, jlog[nlog - 1].version));
	/* max_contacts 1, evict the oldest */
	evict.max_contacts = 1;
	evict.policy = AOR_POLICY_EVICT_OLDEST;
	ASSERT_EQ(reg_lim(t, &evict, "v@example.com", "c1", 1, "sip:a@192.0.2.1",
					  "", 0, 60, "ua"),
			1);
	id = jlog[nlog - 1].id;
	ASSERT_EQ(reg_lim(t, &evict, "v@example.com", "c1", 2, "sip:b@192.0.2.1",
					  "", 0, 60, "ua"),
			1);
	for(i = 0; i < nlog && jlog[i].kind != AOR_CH_EVICTED; i++)
		;
	EXPECT(i, AOR_CH_EVICTED, AOR_ORIG_LOCAL, id, 0);
	ASSERT(tombed(t, "v@example.com", id, jlog[i].version));
	/* a removal as expired before its time (handle_lost_tcp) */
	ASSERT_EQ(reg(t, "tcp@example.com", 1, "sip:t@192.0.2.1", 60), 1);
	id = jlog[nlog - 1].id;
	ASSERT_EQ(aor_ops_remove_as(t, &STR_C("tcp@example.com"), NULL, NULL,
					  AOR_ORIG_LOCAL, AOR_CH_EXPIRED),
			1);
	EXPECT(nlog - 1, AOR_CH_EXPIRED, AOR_ORIG_LOCAL, id, 0);
	ASSERT(tombed(t, "tcp@example.com", id, jlog[nlog - 1].version));
	/* natural expiry: none */
	ASSERT_EQ(reg(t, "x@example.com", 1, "sip:x@192.0.2.1", 10), 1);
	id = jlog[nlog - 1].id;
	aor_test_now += 10;
	ASSERT_GE(aor_table_expire_step(t, 64, aor_test_now), 1);
	EXPECT(nlog - 1, AOR_CH_EXPIRED, AOR_ORIG_LOCAL, id, 0);
	ASSERT(!tombed(t, "x@example.com", id, 1));
	/* a flush */
	ASSERT_EQ(reg(t, "f@example.com", 1, "sip:f@192.0.2.1", 600), 1);
	id = jlog[nlog - 1].id;
	ASSERT_EQ(aor_table_flush(t, AOR_ORIG_RPC), 2);
	ASSERT(tombed(t, "f@example.com", id, 1));
	ASSERT_EQ(t->repl->tomb_count, 6);
	teardown(t);
}

/* ------------------------------------------------------------------ */
/* a history replayed elsewhere in another order                      */

/* changes as repl.c sends them: of origin local or RPC, an expiry at its
 * time not at all */
typedef struct msg
{
	int del;
	uint64_t id, version;
	aor_binding_t *b; /* P: the binding; D: the removed block (its AoR) */
} msg_t;

static msg_t msgs[LOG_MAX];

static int msgs_of(aor_table_t *t)
{
	int i, n = 0;

	for(i = 0; i < nlog; i++) {
		if(jlog[i].t != t || jlog[i].origin == AOR_ORIG_PEER
				|| jlog[i].origin == AOR_ORIG_LOAD)
			continue;
		if(jlog[i].kind == AOR_CH_EXPIRED
				&& aor_binding_expired(jlog[i].b, aor_test_now))
			continue;
		msgs[n].del = aor_change_removes(jlog[i].kind);
		msgs[n].id = jlog[i].id;
		msgs[n].version = jlog[i].version;
		msgs[n].b = jlog[i].b;
		n++;
	}
	return n;
}

/* delivers msgs[order[i]] to t */
static void deliver(aor_table_t *t, const int *order, int n)
{
	aor_binding_t *cp;
	const msg_t *m;
	str a;
	int i, r;

	for(i = 0; i < n; i++) {
		m = &msgs[order[i]];
		if(m->del) {
			a = aor_binding_get(m->b, AOR_F_AOR);
			r = aor_ops_drop(t, &a, m->id, m->version, aor_test_now);
			ASSERT(r >= -1 && r <= 1);
			continue;
		}
		cp = malloc(aor_binding_size(m->b));
		ASSERT(cp != NULL);
		memcpy(cp, m->b, aor_binding_size(m->b));
		r = put(t, cp);
		ASSERT(r == 0 || r == 1);
	}
}

/* a and b hold the same bindings: ids, versions, every field */
static void assert_same_tables(aor_table_t *a, aor_table_t *b)
{
	static bset_t sa, sb;
	int i;

	bset_fill(&sa, a);
	bset_fill(&sb, b);
	if(sa.n != sb.n) {
		bset_free(&sa);
		bset_free(&sb);
		UNIT_FAIL("%d bindings against %d", sa.n, sb.n);
	}
	for(i = 0; i < sa.n; i++) {
		if(sa.b[i]->id != sb.b[i]->id || sa.b[i]->hash != sb.b[i]->hash
				|| sa.b[i]->conn_id != sb.b[i]->conn_id) {
			unit_failed = 1;
			break;
		}
		assert_same_binding(sa.b[i], sb.b[i]);
		if(unit_failed)
			break;
	}
	if(unit_failed)
		fprintf(stderr, "binding %d (id %llu against %llu) differs\n", i,
				(unsigned long long)sa.b[i]->id,
				(unsigned long long)sb.b[i]->id);
	bset_free(&sa);
	bset_free(&sb);
	ASSERT_OK_SO_FAR();
	ASSERT_EQ(a->aors, b->aors);
	ASSERT_EQ(a->bindings, b->bindings);
	ASSERT_EQ(digests_differ(a, b, NULL), 0);
}

/* a local history with every kind of change: new contacts, refreshes,
 * changed user agents (new blocks), Expires 0, aor.rm, evictions, RFC 5626
 * instances moving to other addresses */
static void local_history(aor_table_t *t, uint32_t seed, int steps)
{
	aor_limits_t lim = lim_default;
	char uri[64], inst[64], ua[16], cid[16];
	uint32_t x = seed, cseq = 1;
	int i, a, c, op;

	lim.max_contacts = 3;
	lim.policy = AOR_POLICY_EVICT_OLDEST;
	for(i = 0; i < steps; i++) {
		a = (int)(xorshift(&x) % 5);
		c = (int)(xorshift(&x) % 5);
		op = (int)(xorshift(&x) % 10);
		snprintf(cid, sizeof(cid), "cid-%d", a);
		snprintf(ua, sizeof(ua), "ua-%u", xorshift(&x) % 2);
		snprintf(uri, sizeof(uri), "sip:c%d@192.0.2.%d", c, a + 1);
		if(op < 6) {
			ASSERT(reg_lim(t, &lim, aors[a], cid, cseq++, uri, "", 0, 3600, ua)
					>= 0);
		} else if(op == 6) {
			ASSERT(reg_lim(t, &lim, aors[a], cid, cseq++, uri, "", 0, 0, ua)
					>= 0);
		} else if(op == 7) {
			ASSERT(aor_ops_remove(t, &STR_C(aors[a]), NULL, NULL, AOR_ORIG_RPC)
					>= 0);
		} else {
			snprintf(inst, sizeof(inst), "<urn:uuid:%d>", c % 2);
			snprintf(uri, sizeof(uri), "sip:i%u@198.51.100.%d",
					xorshift(&x) % 3, a + 1);
			ASSERT(reg_lim(t, &lim, aors[a], cid, cseq++, uri, inst,
						   1 + (int)(xorshift(&x) % 2), op == 9 ? 0 : 1800, ua)
					>= 0);
		}
		if(i % 7 == 0)
			aor_test_now++;
	}
}

/* A's changes, shuffled and some duplicated, give B exactly A's table */
TEST(reordered_and_duplicated_changes_converge_to_the_same_table)
{
	static int order[2 * LOG_MAX];
	str name = STR_C("location");
	aor_table_t *a, *b;
	uint32_t x, seed;
	int n, m, i, j, k, kinds[AOR_CH_COUNT];

	for(seed = 1; seed <= 12; seed++) {
		a = setup(100000);
		ASSERT(a != NULL);
		local_history(a, seed * 2654435761u, 300);
		ASSERT_OK_SO_FAR();
		n = msgs_of(a);
		ASSERT_GT(n, 100);
		memset(kinds, 0, sizeof(kinds));
		for(i = 0; i < nlog; i++)
			kinds[jlog[i].kind]++;
		for(k = 0; k < AOR_CH_COUNT; k++)
			if(k != AOR_CH_EXPIRED && kinds[k] == 0)
				UNIT_FAIL("seed %u: no change of kind %d", seed, k);
		b = aor_table_new(&name, 3);
		ASSERT(b != NULL);
		ASSERT_EQ(aor_table_repl_enable(b, 100000, TTL), 0);
		/* each once, a third of them twice, then shuffled */
		x = seed;
		for(i = 0, m = 0; i < n; i++) {
			order[m++] = i;
			if(xorshift(&x) % 3 == 0)
				order[m++] = i;
		}
		for(i = m - 1; i > 0; i--) {
			j = (int)(xorshift(&x) % (uint32_t)(i + 1));
			k = order[i];
			order[i] = order[j];
			order[j] = k;
		}
		deliver(b, order, m);
		ASSERT_OK_SO_FAR();
		assert_same_tables(a, b);
		if(unit_failed)
			fprintf(stderr, "seed %u, %d changes\n", seed, n);
		ASSERT_OK_SO_FAR();
		/* in order, once, to a third table: the same */
		aor_table_free(b);
		b = aor_table_new(&name, 2);
		ASSERT(b != NULL);
		ASSERT_EQ(aor_table_repl_enable(b, 100000, TTL), 0);
		for(i = 0; i < n; i++)
			order[i] = i;
		deliver(b, order, n);
		ASSERT_OK_SO_FAR();
		assert_same_tables(a, b);
		ASSERT_OK_SO_FAR();
		aor_table_free(b);
		teardown(a);
	}
}

/* ------------------------------------------------------------------ */
/* the wire format                                                    */

static aor_repl_rec_t rr;

/* a body in a buffer of exactly its length (ASan sees a read past it) */
typedef struct body
{
	char *s;
	int len;
} body_t;

static body_t body_of(const char *s, int len)
{
	body_t b;

	b.s = malloc(len ? len : 1);
	if(b.s == NULL)
		abort();
	memcpy(b.s, s, len);
	b.len = len;
	return b;
}

/* Parses one record from the start of s: the result of aor_repl_next.
 * The body stays until the next call, so that rr's strings can be read. */
static int parse1(const char *s, int len, int *used)
{
	static body_t b;
	const char *p;
	int r;

	free(b.s);
	b = body_of(s, len);
	p = b.s;
	r = aor_repl_next(&p, b.s + b.len, &rr);
	if(used)
		*used = (int)(p - b.s);
	return r;
}

static int parse1c(const char *s)
{
	return parse1(s, (int)strlen(s), NULL);
}

/* the fields of a parsed P record (rr) against b */
static void assert_rec_is(const aor_binding_t *b)
{
	aor_binding_t *p;
	int f;

	ASSERT_EQ(rr.type, AOR_RR_BINDING);
	ASSERT(rr.id == b->id);
	ASSERT(rr.version == b->version);
	for(f = 0; f < AOR_F_COUNT; f++) {
		str x = aor_binding_get(b, f), y = rr.in.f[f];
		if(x.len != y.len || memcmp(x.s, y.s, x.len) != 0)
			UNIT_FAIL("field %d differs", f);
	}
	p = aor_binding_new(&rr.in);
	ASSERT(p != NULL);
	ASSERT(p->id == b->id);
	assert_same_binding(b, p);
	AOR_FREE(p);
}

static aor_binding_t *full_binding(int variant)
{
	static char bin[256], big[AOR_BINDING_MAX_DATA];
	aor_binding_in_t in;
	int i;

	for(i = 0; i < 256; i++)
		bin[i] = (char)i;
	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C("alice@example.com");
	in.f[AOR_F_URI] = STR_C("sip:alice@192.0.2.1:5060;transport=tcp");
	switch(variant) {
		case 0: /* every field, bytes of every value among them */
			in.f[AOR_F_RECEIVED] = STR_C("sip:198.51.100.7:40000");
			in.f[AOR_F_PATH] = STR_C("<sip:p1.example.com;lr>,<sip:p2;lr>");
			in.f[AOR_F_UA] = (str){bin, 256};
			in.f[AOR_F_CALLID] = STR_C("a84b4c76e66710 : 12\n3:x");
			in.f[AOR_F_INSTANCE] = STR_C("\"<urn:uuid:f81d4fae>\"");
			in.f[AOR_F_SOCK] = STR_C("tcp:127.0.0.1:5060");
			in.id = UINT64_MAX;
			in.version = UINT64_MAX;
			in.expires = (time_t)INT64_MAX;
			in.modified = T0;
			in.cseq = UINT32_MAX;
			in.cflags = UINT32_MAX;
			in.methods = UINT32_MAX;
			in.reg_id = INT32_MIN;
			in.q = 1000;
			break;
		case 1: /* the least: the other strings empty, zeros, q unset */
			in.f[AOR_F_AOR] = STR_C("a");
			in.f[AOR_F_URI] = STR_C("s");
			in.id = 1;
			in.version = 1;
			in.q = AOR_Q_UNSPEC;
			in.reg_id = -1;
			break;
		default: /* the longest strings a binding holds */
			memset(big, 'x', sizeof(big));
			big[100] = '\0';
			big[200] = '\n';
			in.f[AOR_F_UA] =
					(str){big, AOR_BINDING_MAX_DATA - in.f[AOR_F_AOR].len
									   - in.f[AOR_F_URI].len};
			in.id = 12345;
			in.version = V(3, 1);
			in.expires = T0 + 3600;
			in.reg_id = INT32_MAX;
			in.q = 0;
			break;
	}
	return aor_binding_new(&in);
}

TEST(binding_with_every_field_round_trips)
{
	aor_rbuf_t buf = {0};
	aor_binding_t *b;
	int v, used;

	for(v = 0; v < 3; v++) {
		b = full_binding(v);
		ASSERT(b != NULL);
		buf.len = 0;
		ASSERT_EQ(aor_repl_put_binding(&buf, b), 0);
		ASSERT_EQ(buf.s[buf.len - 1], '\n');
		ASSERT_EQ(parse1(buf.s, buf.len, &used), 1);
		ASSERT_EQ(used, buf.len);
		assert_rec_is(b);
		AOR_FREE(b);
		ASSERT_OK_SO_FAR();
	}
	aor_rbuf_free(&buf);
	ASSERT_PTR_EQ(buf.s, NULL);
}

TEST(header_removal_digests_and_numbers_round_trip)
{
	static uint64_t d[AOR_REPL_DIGESTS_MAX];
	static const char bin_aor[] = {'a', 0, '\n', ':', (char)0xff, 'z'};
	str table = STR_C("location"), a = {(char *)bin_aor, sizeof(bin_aor)};
	aor_rbuf_t buf = {0};
	aor_repl_hdr_t h;
	const char *p, *end;
	unsigned int i;
	str t255;
	char name[256];

	for(i = 0; i < AOR_REPL_DIGESTS_MAX; i++)
		d[i] = i == 0 ? 0 : i == 1 ? UINT64_MAX : aor_mix64(i);
	memset(name, 't', sizeof(name));
	t255 = (str){name, 255};
	ASSERT_EQ(aor_repl_put_header(&buf, "put", 0xffffffffu, &table), 0);
	ASSERT_EQ(aor_repl_put_del(&buf, 7, V(1, 2), &a), 0);
	ASSERT_EQ(aor_repl_put_del(&buf, UINT64_MAX, UINT64_MAX, &table), 0);
	ASSERT_EQ(aor_repl_put_digests(&buf, 0, 1, d), 0);
	ASSERT_EQ(aor_repl_put_digests(&buf, AOR_RANGES - AOR_REPL_DIGESTS_MAX,
					  AOR_REPL_DIGESTS_MAX, d),
			0);
	ASSERT_EQ(aor_repl_put_num(&buf, "bindings", UINT64_MAX), 0);
	ASSERT_EQ(aor_repl_put_num(&buf, "", 0), 0);
	ASSERT_EQ(aor_repl_put_header(&buf, "syncdone", 0, &t255), 0);

	{
		body_t bd = body_of(buf.s, buf.len);

		p = bd.s;
		end = bd.s + bd.len;
		ASSERT_EQ(aor_repl_header(&p, end, &h), 0);
		ASSERT_STR_EQ(h.type, "put");
		ASSERT_EQ(h.node, 0xffffffffu);
		ASSERT_STR_EQ(h.table, "location");
		ASSERT_EQ(aor_repl_next(&p, end, &rr), 1);
		ASSERT_EQ(rr.type, AOR_RR_DEL);
		ASSERT(rr.id == 7 && rr.version == V(1, 2));
		ASSERT_EQ(rr.in.f[AOR_F_AOR].len, (int)sizeof(bin_aor));
		ASSERT(memcmp(rr.in.f[AOR_F_AOR].s, bin_aor, sizeof(bin_aor)) == 0);
		ASSERT_EQ(aor_repl_next(&p, end, &rr), 1);
		ASSERT(rr.id == UINT64_MAX && rr.version == UINT64_MAX);
		ASSERT_STR_EQ(rr.in.f[AOR_F_AOR], "location");
		ASSERT_EQ(aor_repl_next(&p, end, &rr), 1);
		ASSERT_EQ(rr.type, AOR_RR_DIGESTS);
		ASSERT_EQ(rr.first, 0);
		ASSERT_EQ(rr.count, 1);
		ASSERT(rr.digest[0] == 0);
		ASSERT_EQ(aor_repl_next(&p, end, &rr), 1);
		ASSERT_EQ(rr.first, AOR_RANGES - AOR_REPL_DIGESTS_MAX);
		ASSERT_EQ(rr.count, AOR_REPL_DIGESTS_MAX);
		for(i = 0; i < AOR_REPL_DIGESTS_MAX; i++)
			if(rr.digest[i] != d[i])
				UNIT_FAIL("digest %u differs", i);
		ASSERT_EQ(aor_repl_next(&p, end, &rr), 1);
		ASSERT_EQ(rr.type, AOR_RR_NUM);
		ASSERT_STR_EQ(rr.key, "bindings");
		ASSERT(rr.num == UINT64_MAX);
		ASSERT_EQ(aor_repl_next(&p, end, &rr), 1);
		ASSERT_EQ(rr.key.len, 0);
		ASSERT(rr.num == 0);
		/* a header is not a record; parsed as one, it is refused */
		ASSERT_EQ(aor_repl_next(&p, end, &rr), -1);
		ASSERT_EQ(aor_repl_header(&p, end, &h), 0);
		ASSERT_STR_EQ(h.type, "syncdone");
		ASSERT_EQ(h.node, 0);
		ASSERT_EQ(h.table.len, 255);
		ASSERT_PTR_EQ(p, end);
		ASSERT_EQ(aor_repl_next(&p, end, &rr), 0);
		free(bd.s);
	}
	aor_rbuf_free(&buf);
}

/* Every prefix of a valid body: the header and the records that end
 * within it parse; the body parses to its end (0) exactly when the prefix
 * ends at a record's end, and otherwise the next record gives -1. No read
 * past the prefix (ASan). */
TEST(every_truncation_parses_whole_records_or_fails)
{
	static uint64_t d[3] = {1, 2, UINT64_MAX};
	str table = STR_C("location"), a = STR_C("bob@example.com");
	aor_rbuf_t buf = {0};
	aor_binding_t *b0 = full_binding(0), *b1 = full_binding(1);
	int ends[16], nends = 0, len, k, r, hdr;
	aor_repl_hdr_t h;
	const char *p;
	body_t bd;

	ASSERT(b0 != NULL && b1 != NULL);
	ASSERT_EQ(aor_repl_put_header(&buf, "sync", 3, &table), 0);
	hdr = buf.len;
	ASSERT_EQ(aor_repl_put_binding(&buf, b0), 0);
	ends[nends++] = buf.len;
	ASSERT_EQ(aor_repl_put_del(&buf, 99, 100, &a), 0);
	ends[nends++] = buf.len;
	ASSERT_EQ(aor_repl_put_digests(&buf, 17, 3, d), 0);
	ends[nends++] = buf.len;
	ASSERT_EQ(aor_repl_put_num(&buf, "total", 123456789), 0);
	ends[nends++] = buf.len;
	ASSERT_EQ(aor_repl_put_binding(&buf, b1), 0);
	ends[nends++] = buf.len;
	for(len = 0; len <= buf.len; len++) {
		bd = body_of(buf.s, len);
		p = bd.s;
		r = aor_repl_header(&p, bd.s + len, &h);
		if(len < hdr) {
			ASSERT_EQ(r, -1);
			ASSERT_PTR_EQ(p, bd.s);
			free(bd.s);
			continue;
		}
		ASSERT_EQ(r, 0);
		ASSERT_EQ(p - bd.s, hdr);
		for(k = 0; k < nends && ends[k] <= len; k++) {
			ASSERT_EQ(aor_repl_next(&p, bd.s + len, &rr), 1);
			ASSERT_EQ(p - bd.s, ends[k]);
			if(k == 0) {
				assert_rec_is(b0);
				ASSERT_OK_SO_FAR();
			}
		}
		if(k > 0 && ends[k - 1] == len)
			r = 0;
		else if(k == 0 && len == hdr)
			r = 0;
		else
			r = -1;
		ASSERT_EQ(aor_repl_next(&p, bd.s + len, &rr), r);
		if(r == -1)
			ASSERT_EQ(p - bd.s, k ? ends[k - 1] : hdr); /* not advanced */
		free(bd.s);
	}
	AOR_FREE(b0);
	AOR_FREE(b1);
	aor_rbuf_free(&buf);
}

/* a P record whose nine numbers are the given text, strings "a", "sip:u" */
static int parse_p(const char *nums)
{
	char s[512];

	snprintf(s, sizeof(s), "P %s 1:a5:sip:u0:0:0:0:0:0:\n", nums);
	return parse1c(s);
}

#define NUMS_OK "1 2 3 4 5 6 7 8 9"

TEST(numbers_out_of_range_are_refused)
{
	/* the record is good with good numbers: the refusals are the
	 * numbers' */
	ASSERT_EQ(parse_p(NUMS_OK), 1);
	ASSERT_EQ(rr.in.q, 9);
	ASSERT_EQ(parse_p("18446744073709551615 18446744073709551615 "
					  "9223372036854775807 0 4294967295 4294967295 "
					  "4294967295 -2147483648 -1"),
			1);
	ASSERT(rr.id == UINT64_MAX);
	ASSERT_EQ(rr.in.reg_id, INT32_MIN);
	ASSERT_EQ(rr.in.q, AOR_Q_UNSPEC);
	ASSERT_EQ(parse_p("01 002 3 4 5 6 7 -0 1000"), 1); /* leading zeros */
	ASSERT_EQ(rr.id, 1);
	ASSERT_EQ(rr.in.q, 1000);

	ASSERT_EQ(parse_p("18446744073709551616 2 3 4 5 6 7 8 9"), -1);
	ASSERT_EQ(parse_p("99999999999999999999 2 3 4 5 6 7 8 9"), -1);
	ASSERT_EQ(parse_p("000000000000000000001 2 3 4 5 6 7 8 9"), -1);
	ASSERT_EQ(parse_p("1 18446744073709551616 3 4 5 6 7 8 9"), -1);
	ASSERT_EQ(parse_p("0 2 3 4 5 6 7 8 9"), -1);  /* id 0 */
	ASSERT_EQ(parse_p("1 0 3 4 5 6 7 8 9"), -1);  /* version 0 */
	ASSERT_EQ(parse_p("-1 2 3 4 5 6 7 8 9"), -1); /* signed id */
	ASSERT_EQ(parse_p("1 2 -3 4 5 6 7 8 9"), -1); /* negative expires */
	ASSERT_EQ(parse_p("1 2 3 -4 5 6 7 8 9"), -1); /* negative modified */
	ASSERT_EQ(parse_p("1 2 9223372036854775808 4 5 6 7 8 9"), -1);
	ASSERT_EQ(parse_p("1 2 3 4 4294967296 6 7 8 9"), -1); /* cseq */
	ASSERT_EQ(parse_p("1 2 3 4 5 4294967296 7 8 9"), -1); /* cflags */
	ASSERT_EQ(parse_p("1 2 3 4 5 6 4294967296 8 9"), -1); /* methods */
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 2147483648 9"), -1); /* reg_id */
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 -2147483649 9"), -1);
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 8 1001"), -1); /* q */
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 8 -2"), -1);
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 8 -"), -1);
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 8 +9"), -1);
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 8 --9"), -1);
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 8 9x"), -1);
	ASSERT_EQ(parse_p("1 2 3 4 5 6 7 8 0x9"), -1);
	/* D and G and N numbers */
	ASSERT_EQ(parse1c("D 1 2 1:a\n"), 1);
	ASSERT_EQ(parse1c("D 18446744073709551616 2 1:a\n"), -1);
	ASSERT_EQ(parse1c("D 0 2 1:a\n"), -1);
	ASSERT_EQ(parse1c("D 1 0 1:a\n"), -1);
	ASSERT_EQ(parse1c("D 1 2 0:\n"), -1); /* no AoR */
	ASSERT_EQ(parse1c("G 4294967295 1 0000000000000000\n"), 1);
	ASSERT_EQ(parse1c("G 4294967296 1 0000000000000000\n"), -1);
	ASSERT_EQ(parse1c("N 1:k 18446744073709551615\n"), 1);
	ASSERT_EQ(parse1c("N 1:k 18446744073709551616\n"), -1);
	ASSERT_EQ(parse1c("N 1:k -1\n"), -1);
}

/* each separator of a good record taken out, doubled or replaced */
TEST(missing_or_extra_separators_are_refused)
{
	static const char *good[] = {
			"P 1 2 3 4 5 6 7 8 9 1:a1:u0:0:0:0:0:0:\n",
			"D 1 2 1:a\n",
			"G 0 1 00000000000000ff\n",
			"N 1:k 5\n",
	};
	char s[128];
	size_t g, i, len;

	for(g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
		len = strlen(good[g]);
		ASSERT_EQ(parse1c(good[g]), 1);
		for(i = 0; i < len; i++) {
			if(good[g][i] != ' ' && good[g][i] != ':' && good[g][i] != '\n')
				continue;
			/* taken out */
			memcpy(s, good[g], i);
			memcpy(s + i, good[g] + i + 1, len - i - 1);
			if(parse1(s, (int)len - 1, NULL) != -1)
				UNIT_FAIL("\"%s\" without byte %zu parses", good[g], i);
			/* doubled */
			memcpy(s, good[g], i + 1);
			memcpy(s + i + 1, good[g] + i, len - i);
			if(parse1(s, (int)len + 1, NULL) != -1
					&& !(good[g][i] == '\n' && i == len - 1))
				UNIT_FAIL("\"%s\" with byte %zu doubled parses", good[g], i);
			/* a tab for a space, a space for a newline */
			memcpy(s, good[g], len);
			s[i] = good[g][i] == ' ' ? '\t' : ' ';
			if(parse1(s, (int)len, NULL) != -1)
				UNIT_FAIL("\"%s\" with byte %zu replaced parses", good[g], i);
		}
	}
	/* an empty rest is the end; a lone type or an unknown one is not */
	ASSERT_EQ(parse1("", 0, NULL), 0);
	ASSERT_EQ(parse1c("P"), -1);
	ASSERT_EQ(parse1c("P "), -1);
	ASSERT_EQ(parse1c("X 1 2 1:a\n"), -1);
	ASSERT_EQ(parse1c("p 1 2 3 4 5 6 7 8 9 1:a5:sip:u0:0:0:0:0:0:\n"), -1);
	ASSERT_EQ(parse1c("\n"), -1);
	/* seven strings instead of eight, nine instead of eight */
	ASSERT_EQ(parse1c("P 1 2 3 4 5 6 7 8 9 1:a5:sip:u0:0:0:0:0:\n"), -1);
	ASSERT_EQ(parse1c("P 1 2 3 4 5 6 7 8 9 1:a5:sip:u0:0:0:0:0:0:0:\n"), -1);
}

TEST(bad_digests_are_refused)
{
	static uint64_t d[AOR_REPL_DIGESTS_MAX + 1];
	aor_rbuf_t buf = {0};
	char s[64];

	ASSERT_EQ(parse1c("G 0 1 0123456789abcdef\n"), 1);
	ASSERT(rr.digest[0] == 0x0123456789abcdefULL);
	ASSERT_EQ(parse1c("G 0 1 0123456789ABCDEF\n"), -1); /* lower case only */
	ASSERT_EQ(parse1c("G 0 1 0123456789abcdeg\n"), -1);
	ASSERT_EQ(parse1c("G 0 1 0123456789abcde \n"), -1);
	ASSERT_EQ(parse1c("G 0 1 0123456789abcde\n"), -1);	 /* 15 digits */
	ASSERT_EQ(parse1c("G 0 1 0123456789abcdef0\n"), -1); /* 17 */
	ASSERT_EQ(parse1c("G 0 2 0123456789abcdef\n"), -1);	 /* short */
	ASSERT_EQ(parse1c("G 0 0 \n"), -1);
	ASSERT_EQ(parse1c("G 0 0\n"), -1);
	snprintf(s, sizeof(s), "G 0 %d 0000000000000000\n",
			AOR_REPL_DIGESTS_MAX + 1);
	ASSERT_EQ(parse1c(s), -1);
	/* count over the bound with the digits all there */
	ASSERT_EQ(aor_repl_put_digests(&buf, 0, AOR_REPL_DIGESTS_MAX, d), 0);
	ASSERT_EQ(parse1(buf.s, buf.len, NULL), 1);
	buf.len = 0;
	ASSERT_EQ(aor_repl_put_digests(&buf, 0, AOR_REPL_DIGESTS_MAX + 1, d),
			AOR_E_TOO_LONG);
	ASSERT_EQ(buf.len, 0);
	{
		/* written by hand: "G 0 1025 " and 1025 digests */
		int n = 0, i;
		char *t = malloc(32 + (AOR_REPL_DIGESTS_MAX + 1) * 16);

		ASSERT(t != NULL);
		n = sprintf(t, "G 0 %d ", AOR_REPL_DIGESTS_MAX + 1);
		for(i = 0; i < (AOR_REPL_DIGESTS_MAX + 1) * 16; i++)
			t[n++] = '0';
		t[n++] = '\n';
		ASSERT_EQ(parse1(t, n, NULL), -1);
		free(t);
	}
	aor_rbuf_free(&buf);
}

/* a netstring's length is checked against the end of the body, the
 * largest a binding holds, and the strings together */
TEST(netstring_lengths_beyond_the_end_or_the_bounds_are_refused)
{
	static char big[2 * AOR_BINDING_MAX_DATA + 200];
	int n, used;

	ASSERT_EQ(parse1c("D 1 2 3:abc\n"), 1);
	ASSERT_EQ(parse1c("D 1 2 4:abc\n"), -1);
	ASSERT_EQ(parse1c("D 1 2 5:abc\n"), -1);
	ASSERT_EQ(parse1c("D 1 2 3:ab"), -1);
	ASSERT_EQ(parse1c("D 1 2 99999999999999999999:abc\n"), -1);
	ASSERT_EQ(parse1c("D 1 2 18446744073709551615:abc\n"), -1);
	ASSERT_EQ(parse1c("D 1 2 :abc\n"), -1);
	ASSERT_EQ(parse1c("D 1 2 -1:abc\n"), -1);
	ASSERT_EQ(parse1c("N 6:k 5\n"), -1);
	ASSERT_EQ(parse1c("P 1 2 3 4 5 6 7 8 9 1:a5:sip:u0:0:0:0:0:9:\n"), -1);
	/* one string of 65,536 bytes, though they are in the body */
	n = sprintf(big, "D 1 2 %d:", AOR_BINDING_MAX_DATA + 1);
	memset(big + n, 'a', AOR_BINDING_MAX_DATA + 1);
	n += AOR_BINDING_MAX_DATA + 1;
	big[n++] = '\n';
	ASSERT_EQ(parse1(big, n, NULL), -1);
	/* 65,535: the most */
	n = sprintf(big, "D 1 2 %d:", AOR_BINDING_MAX_DATA);
	memset(big + n, 'a', AOR_BINDING_MAX_DATA);
	n += AOR_BINDING_MAX_DATA;
	big[n++] = '\n';
	ASSERT_EQ(parse1(big, n, &used), 1);
	ASSERT_EQ(used, n);
	/* two strings each within the bound, together past it */
	n = sprintf(big, "P 1 2 3 4 5 6 7 8 9 1:a5:sip:u0:0:%d:",
			AOR_BINDING_MAX_DATA / 2 + 1);
	memset(big + n, 'u', AOR_BINDING_MAX_DATA / 2 + 1);
	n += AOR_BINDING_MAX_DATA / 2 + 1;
	n += sprintf(big + n, "%d:", AOR_BINDING_MAX_DATA / 2 + 1);
	memset(big + n, 'c', AOR_BINDING_MAX_DATA / 2 + 1);
	n += AOR_BINDING_MAX_DATA / 2 + 1;
	n += sprintf(big + n, "0:0:\n");
	ASSERT_EQ(parse1(big, n, NULL), -1);
	/* an empty AoR or URI */
	ASSERT_EQ(parse1c("P 1 2 3 4 5 6 7 8 9 0:5:sip:u0:0:0:0:0:0:\n"), -1);
	ASSERT_EQ(parse1c("P 1 2 3 4 5 6 7 8 9 1:a0:0:0:0:0:0:0:\n"), -1);
}

static int parse_h(const char *s, aor_repl_hdr_t *h)
{
	body_t b = body_of(s, (int)strlen(s));
	const char *p = b.s;
	int r;

	r = aor_repl_header(&p, b.s + b.len, h);
	if(r == 0 && p != b.s + b.len)
		r = -2; /* these headers are whole bodies */
	free(b.s);
	return r;
}

TEST(malformed_headers_are_refused)
{
	char s[400], name[300];
	aor_repl_hdr_t h;

	ASSERT_EQ(parse_h("aor-repl 1 put 0 8:location\n", &h), 0);
	ASSERT_EQ(parse_h("aor-repl 1 abcdefgh 4294967295 1:t\n", &h), 0);
	ASSERT_EQ(parse_h("aor-repl 2 put 0 8:location\n", &h), -1);
	ASSERT_EQ(parse_h("AOR-REPL 1 put 0 8:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 Put 0 8:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1  0 8:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 abcdefghi 0 8:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put 4294967296 8:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put -1 8:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put 0 0:\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put 0 9:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put 0 8:location", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put 0 8:location \n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put 08:location\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 put\n", &h), -1);
	ASSERT_EQ(parse_h("aor-repl 1 ", &h), -1);
	ASSERT_EQ(parse_h("aor-repl", &h), -1);
	ASSERT_EQ(parse_h("", &h), -1);
	memset(name, 'n', sizeof(name));
	snprintf(s, sizeof(s), "aor-repl 1 put 0 255:%.255s\n", name);
	ASSERT_EQ(parse_h(s, &h), 0);
	snprintf(s, sizeof(s), "aor-repl 1 put 0 256:%.256s\n", name);
	ASSERT_EQ(parse_h(s, &h), -1);
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}
