/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of journal.c as the subscribers see it through the operations
 * layer (ops.c): each change kind and origin delivered exactly once, in
 * the order the store made the changes, after the unlock, with its binding
 * (a copy for the live kinds, the block that left the store for the
 * removed ones); versions per binding; nothing from a refused REGISTER;
 * the after hooks, nested operations included; and 4 threads with a
 * resize and the expiry walk running, checked against the table.
 */

#include <pthread.h>
#include <stdint.h>

#include "unit.h"
#include "sys.h"
#include "errors.h"
#include "merge.h"
#include "ops.h"

#define T0 ((time_t)1700000000)
#define MAXC 8
#define LOG_MAX 256

/* ------------------------------------------------------------------ */
/* the test subscriber: a log of every change it is handed            */

typedef struct logent
{
	enum aor_change kind;
	enum aor_origin origin;
	uint64_t id, version;
	const void *bp; /* c->b as handed over */
	char aor[64], uri[64], ua[32], path[64];
	uint32_t cseq;
	int locked; /* a slot lock of the table was held during the call */
} logent_t;

static logent_t jlog[LOG_MAX];
static int nlog;
static int nafter;			/* after hook runs */
static int after_nlog[16];	/* nlog at each after hook run */
static aor_table_t *hook_t; /* the table the nested after hook uses */
static int hook_ops;		/* operations the nested after hook still does */
static aor_binding_t *out[AOR_REC_MAX];

/* 1 when some slot lock of t is held (single-threaded tests only: the
 * test thread is the only one that can hold it) */
static int lock_held(aor_table_t *t)
{
	uint32_t i;

	for(i = 0; i <= t->lock_mask; i++) {
		if(pthread_mutex_trylock(&t->locks->m[i]) != 0)
			return 1;
		pthread_mutex_unlock(&t->locks->m[i]);
	}
	return 0;
}

static void copy_field(char *dst, size_t n, const aor_binding_t *b, int f)
{
	str s = aor_binding_get(b, f);

	snprintf(dst, n, "%.*s", s.len, s.s);
}

static void on_change(const aor_jchange_t *c, void *arg)
{
	logent_t *e;

	(void)arg;
	if(nlog == LOG_MAX)
		abort();
	e = &jlog[nlog++];
	memset(e, 0, sizeof(*e));
	e->kind = c->kind;
	e->origin = c->origin;
	e->id = c->id;
	e->version = c->version;
	e->bp = c->b;
	e->locked = lock_held(c->t);
	if(c->b == NULL)
		return;
	/* reading the whole block: ASan catches a block freed too early */
	copy_field(e->aor, sizeof(e->aor), c->b, AOR_F_AOR);
	copy_field(e->uri, sizeof(e->uri), c->b, AOR_F_URI);
	copy_field(e->ua, sizeof(e->ua), c->b, AOR_F_UA);
	copy_field(e->path, sizeof(e->path), c->b, AOR_F_PATH);
	e->cseq = c->b->cseq;
}

static void after_count(void *arg)
{
	(void)arg;
	if(nafter < 16)
		after_nlog[nafter] = nlog;
	nafter++;
}

/* a fresh table of 2^2 slots at T0, with the test subscriber alone
 * (after: its after hook, or NULL) */
static aor_table_t *setup(void (*after)(void *))
{
	aor_subscriber_t s = {"test", on_change, after, NULL, AOR_SUB_BINDINGS};
	str name = STR_C("location");

	aor_test_now = T0;
	nlog = 0;
	nafter = 0;
	aor_journal_reset_subscribers();
	aor_journal_subscribe(&s);
	return aor_table_new(&name, 2);
}

/* change i of the log is kind of origin o on binding id with contact uri,
 * handed over with its binding and no slot lock held */
static void expect(int i, enum aor_change kind, enum aor_origin o, uint64_t id,
		const char *uri)
{
	ASSERT_LT(i, nlog);
	ASSERT_EQ(jlog[i].kind, kind);
	ASSERT_EQ(jlog[i].origin, o);
	ASSERT_EQ(jlog[i].id, id);
	ASSERT(jlog[i].bp != NULL);
	ASSERT_STR_EQ(STR_C(jlog[i].uri), uri);
	ASSERT_EQ(jlog[i].locked, 0);
}

#define EXPECT(...)          \
	do {                     \
		expect(__VA_ARGS__); \
		ASSERT_OK_SO_FAR();  \
	} while(0)

/* ------------------------------------------------------------------ */
/* requests                                                           */

typedef struct rq
{
	aor_regreq_t r;
	aor_contact_t c[MAXC];
	aor_plan_t plan[MAXC];
} rq_t;

static const aor_limits_t lim_default = {
		.default_expires = 3600,
		.max_expires = 7200,
		.policy = AOR_POLICY_REJECT,
};

static void rq_init(rq_t *q, const char *aor, const char *callid, uint32_t cseq)
{
	memset(q, 0, sizeof(*q));
	q->r.aor = STR_C(aor);
	q->r.hash = aor_hash(&q->r.aor);
	q->r.callid = STR_C(callid);
	q->r.cseq = cseq;
	q->r.user_agent = STR_C("unit/1.0");
	q->r.sock_str = STR_C("udp:192.0.2.1:5060");
	q->r.now = aor_test_now;
	q->r.contacts = q->c;
}

static void rq_add(rq_t *q, const char *uri, long long expires)
{
	aor_contact_t *c = &q->c[q->r.ncontacts++];

	c->uri = STR_C(uri);
	c->expires = expires;
	c->q = AOR_Q_UNSPEC;
	c->methods = 0xffffffffu;
}

static int save(
		aor_table_t *t, rq_t *q, const aor_limits_t *lim, enum aor_origin o)
{
	return aor_ops_save(t, &q->r, lim, q->plan, o, out, AOR_REC_MAX);
}

/* one REGISTER of aor with one contact, origin local */
static int reg(aor_table_t *t, const char *aor, const char *callid,
		uint32_t cseq, const char *uri, long long expires)
{
	rq_t q;

	rq_init(&q, aor, callid, cseq);
	rq_add(&q, uri, expires);
	return save(t, &q, &lim_default, AOR_ORIG_LOCAL);
}

/* the stored block of aor whose contact is uri, or NULL (single-threaded:
 * valid until the next change of the table) */
static aor_binding_t *block_of(aor_table_t *t, const char *aor, const char *uri)
{
	str a = STR_C(aor), u;
	uint32_t h = aor_hash(&a);
	aor_binding_t *b, *found = NULL;
	aor_rec_t rec;
	int i;

	aor_table_lock(t, h);
	aor_table_find(t, h, &a, &rec);
	for(i = 0, b = *rec.link; i < rec.n; i++, b = b->next) {
		u = aor_binding_get(b, AOR_F_URI);
		if(u.len == (int)strlen(uri) && memcmp(u.s, uri, u.len) == 0)
			found = b;
	}
	aor_table_unlock(t, h);
	return found;
}

/* the ids of aor's bindings in chain order (the order a walk meets them),
 * expired ones included; returns how many */
static int chain_ids(aor_table_t *t, const char *aor, uint64_t *ids, int max)
{
	str a = STR_C(aor);
	uint32_t h = aor_hash(&a);
	aor_binding_t *b;
	aor_rec_t rec;
	int i;

	aor_table_lock(t, h);
	aor_table_find(t, h, &a, &rec);
	for(i = 0, b = *rec.link; i < rec.n && i < max; i++, b = b->next)
		ids[i] = b->id;
	aor_table_unlock(t, h);
	return i;
}

/* a binding as a snapshot or a peer hands it over */
static aor_binding_t *mk(const char *aor, const char *uri, uint64_t id,
		uint64_t version, time_t expires)
{
	aor_binding_in_t in;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C(aor);
	in.f[AOR_F_URI] = STR_C(uri);
	in.f[AOR_F_CALLID] = STR_C("cid-load");
	in.id = id;
	in.version = version;
	in.expires = expires;
	in.modified = aor_test_now;
	in.hash = aor_hash(&in.f[AOR_F_AOR]);
	in.q = AOR_Q_UNSPEC;
	in.methods = 0xffffffffu;
	return aor_binding_new(&in);
}

/* ------------------------------------------------------------------ */
/* one change kind at a time                                          */

/* the primitives record under the lock; the unlock hands over */
TEST(changes_wait_in_the_journal_until_the_unlock)
{
	aor_table_t *t = setup(NULL);
	uint32_t pos, min = UINT32_MAX;
	aor_rec_t rec;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "wait@example.com", "cid-wait", 1);
	rq_add(&q, "sip:a@192.0.2.1", 60);
	rq_add(&q, "sip:b@192.0.2.1", 3600);
	aor_table_lock(t, q.r.hash);
	aor_table_find(t, q.r.hash, &q.r.aor, &rec);
	ASSERT_EQ(aor_merge_apply(&rec, &q.r, &lim_default, q.plan, NULL), 0);
	ASSERT_EQ(aor_journal_pending(), 2);
	ASSERT_EQ(nlog, 0);
	aor_table_unlock(t, q.r.hash);
	ASSERT_EQ(aor_journal_pending(), 0);
	ASSERT_EQ(nlog, 2);

	aor_test_now += 61;
	pos = q.r.hash & (aor_table_size(t) - 1);
	aor_table_lock(t, pos);
	ASSERT_EQ(aor_slot_sweep(t, pos, aor_test_now, 0, &min), 1);
	ASSERT_EQ(aor_journal_pending(), 1);
	ASSERT_EQ(nlog, 2);
	aor_table_unlock(t, pos);
	ASSERT_EQ(aor_journal_pending(), 0);
	ASSERT_EQ(nlog, 3);
	ASSERT_EQ(jlog[2].kind, AOR_CH_EXPIRED);
	ASSERT_EQ(jlog[2].locked, 0);
	aor_table_free(t);
}

TEST(new_contact_is_inserted_once_with_origin_local)
{
	aor_table_t *t = setup(NULL);
	aor_binding_t *b;

	ASSERT(t != NULL);
	ASSERT_EQ(reg(t, "ins@example.com", "cid-ins", 1, "sip:a@192.0.2.1", 3600),
			1);
	b = block_of(t, "ins@example.com", "sip:a@192.0.2.1");
	ASSERT(b != NULL);
	ASSERT_EQ(nlog, 1);
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_LOCAL, b->id, "sip:a@192.0.2.1");
	ASSERT_EQ(jlog[0].version, b->version);
	ASSERT_STR_EQ(STR_C(jlog[0].aor), "ins@example.com");
	/* a live kind hands over a copy, not the stored block */
	ASSERT(jlog[0].bp != (const void *)b);
	ASSERT_EQ(jlog[0].cseq, 1);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7: same Call-ID, higher CSeq, same strings: the block
 * is changed in place */
TEST(same_strings_and_higher_cseq_refresh_in_place)
{
	aor_table_t *t = setup(NULL);
	aor_binding_t *b;
	uint64_t id;

	ASSERT(t != NULL);
	ASSERT_EQ(reg(t, "ref@example.com", "cid-ref", 1, "sip:a@192.0.2.1", 3600),
			1);
	b = block_of(t, "ref@example.com", "sip:a@192.0.2.1");
	ASSERT(b != NULL);
	id = b->id;
	ASSERT_EQ(reg(t, "ref@example.com", "cid-ref", 2, "sip:a@192.0.2.1", 1800),
			1);
	ASSERT_PTR_EQ(block_of(t, "ref@example.com", "sip:a@192.0.2.1"), b);
	ASSERT_EQ(nlog, 2);
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	EXPECT(1, AOR_CH_REFRESHED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	ASSERT_EQ(jlog[1].cseq, 2);
	ASSERT_EQ(jlog[1].version, b->version);
	ASSERT_GT(jlog[1].version, jlog[0].version);
	aor_table_free(t);
}

/* a changed string needs a new block: UPDATED, the id kept, the old block
 * freed after the subscribers (ASan: no leak, no use after free) */
TEST(changed_user_agent_or_path_updates_to_a_new_block_with_the_same_id)
{
	aor_table_t *t = setup(NULL);
	aor_binding_t *b1, *b2;
	uint64_t id;
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(reg(t, "upd@example.com", "cid-upd", 1, "sip:a@192.0.2.1", 3600),
			1);
	b1 = block_of(t, "upd@example.com", "sip:a@192.0.2.1");
	ASSERT(b1 != NULL);
	id = b1->id;
	rq_init(&q, "upd@example.com", "cid-upd", 2);
	q.r.user_agent = STR_C("unit/2.0");
	rq_add(&q, "sip:a@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 1);
	b2 = block_of(t, "upd@example.com", "sip:a@192.0.2.1");
	ASSERT(b2 != NULL && b2 != b1);
	rq_init(&q, "upd@example.com", "cid-upd", 3);
	q.r.user_agent = STR_C("unit/2.0");
	q.r.path = STR_C("<sip:edge.example.com;lr>");
	rq_add(&q, "sip:a@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 1);
	ASSERT_EQ(nlog, 3);
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	EXPECT(1, AOR_CH_UPDATED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	ASSERT_STR_EQ(STR_C(jlog[1].ua), "unit/2.0");
	EXPECT(2, AOR_CH_UPDATED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	ASSERT_STR_EQ(STR_C(jlog[2].path), "<sip:edge.example.com;lr>");
	ASSERT_EQ(t->bindings, 1);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 8: expires 0 removes the binding; the block that left
 * the store is what the subscriber reads */
TEST(expires_zero_deletes_and_hands_over_the_block)
{
	aor_table_t *t = setup(NULL);
	aor_binding_t *b;
	uint64_t id;

	ASSERT(t != NULL);
	ASSERT_EQ(reg(t, "del@example.com", "cid-del", 1, "sip:a@192.0.2.1", 3600),
			1);
	b = block_of(t, "del@example.com", "sip:a@192.0.2.1");
	ASSERT(b != NULL);
	id = b->id;
	ASSERT_EQ(reg(t, "del@example.com", "cid-del", 2, "sip:a@192.0.2.1", 0), 0);
	ASSERT_EQ(nlog, 2);
	EXPECT(1, AOR_CH_DELETED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	ASSERT_PTR_EQ(jlog[1].bp, b);
	ASSERT_STR_EQ(STR_C(jlog[1].aor), "del@example.com");
	ASSERT_EQ(t->bindings, 0);
	ASSERT_EQ(t->aors, 0);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 6: Contact: * removes every binding, one DELETED
 * each, in the order the record holds them */
TEST(star_deletes_every_binding_once_in_record_order)
{
	static const char *uris[3] = {
			"sip:a@192.0.2.1", "sip:b@192.0.2.1", "sip:c@192.0.2.1"};
	aor_table_t *t = setup(NULL);
	uint64_t ids[3];
	const void *blocks[3];
	aor_binding_t *b;
	int i, j;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "star@example.com", "cid-star", 1);
	for(i = 0; i < 3; i++)
		rq_add(&q, uris[i], 3600);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 3);
	ASSERT_EQ(chain_ids(t, "star@example.com", ids, 3), 3);
	for(i = 0; i < 3; i++) {
		for(j = 0; j < 3; j++) {
			b = block_of(t, "star@example.com", uris[j]);
			if(b->id == ids[i])
				blocks[i] = b;
		}
	}
	nlog = 0;
	rq_init(&q, "star@example.com", "cid-star", 2);
	q.r.star = 1;
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 0);
	ASSERT_EQ(nlog, 3);
	for(i = 0; i < 3; i++) {
		ASSERT_EQ(jlog[i].kind, AOR_CH_DELETED);
		ASSERT_EQ(jlog[i].origin, AOR_ORIG_LOCAL);
		ASSERT_EQ(jlog[i].id, ids[i]);
		ASSERT_PTR_EQ(jlog[i].bp, blocks[i]);
		ASSERT_EQ(jlog[i].locked, 0);
	}
	ASSERT_EQ(t->bindings, 0);
	aor_table_free(t);
}

TEST(rpc_remove_deletes_with_origin_rpc)
{
	aor_table_t *t = setup(after_count);
	uint64_t ida, idb;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "rpc@example.com", "cid-rpc", 1);
	rq_add(&q, "sip:a@192.0.2.1", 3600);
	rq_add(&q, "sip:b@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 2);
	ida = block_of(t, "rpc@example.com", "sip:a@192.0.2.1")->id;
	idb = block_of(t, "rpc@example.com", "sip:b@192.0.2.1")->id;
	aor_ops_done();
	nlog = 0;
	nafter = 0;
	ASSERT_EQ(aor_ops_remove(t, &STR_C("rpc@example.com"), aor_match_id, &idb,
					  AOR_ORIG_RPC),
			1);
	ASSERT_EQ(nlog, 1);
	EXPECT(0, AOR_CH_DELETED, AOR_ORIG_RPC, idb, "sip:b@192.0.2.1");
	ASSERT_EQ(nafter, 1); /* aor_ops_remove runs the after hooks itself */
	ASSERT_EQ(aor_ops_remove(
					  t, &STR_C("rpc@example.com"), NULL, NULL, AOR_ORIG_RPC),
			1);
	ASSERT_EQ(nlog, 2);
	EXPECT(1, AOR_CH_DELETED, AOR_ORIG_RPC, ida, "sip:a@192.0.2.1");
	/* nothing left: nothing reported, no after hook */
	ASSERT_EQ(aor_ops_remove(
					  t, &STR_C("rpc@example.com"), NULL, NULL, AOR_ORIG_RPC),
			0);
	ASSERT_EQ(nlog, 2);
	ASSERT_EQ(nafter, 2);
	ASSERT_EQ(t->bindings, 0);
	aor_table_free(t);
}

/* the expiry walk removes what expired, once, as EXPIRED of origin local */
TEST(expiry_walk_reports_each_expired_binding_once)
{
	aor_table_t *t = setup(NULL);
	uint64_t ids[3], keep;
	int i, k = 0;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "exp@example.com", "cid-exp", 1);
	rq_add(&q, "sip:a@192.0.2.1", 60);
	rq_add(&q, "sip:b@192.0.2.1", 3600);
	rq_add(&q, "sip:c@192.0.2.1", 60);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 3);
	ASSERT_EQ(chain_ids(t, "exp@example.com", ids, 3), 3);
	keep = block_of(t, "exp@example.com", "sip:b@192.0.2.1")->id;
	ASSERT_EQ(aor_table_expire_step(t, 1, aor_test_now), 0);
	nlog = 0;
	aor_test_now += 60;
	ASSERT_EQ(aor_table_expire_step(t, 1, aor_test_now), 2);
	ASSERT_EQ(nlog, 2);
	/* in record order, skipping the one that stays */
	ASSERT(ids[0] == keep || ids[1] == keep || ids[2] == keep);
	for(i = 0; i < 3; i++) {
		if(ids[i] == keep)
			continue;
		ASSERT_EQ(jlog[k].kind, AOR_CH_EXPIRED);
		ASSERT_EQ(jlog[k].origin, AOR_ORIG_LOCAL);
		ASSERT_EQ(jlog[k].id, ids[i]);
		ASSERT(jlog[k].bp != NULL);
		ASSERT_EQ(jlog[k].locked, 0);
		k++;
	}
	ASSERT_EQ(aor_table_expire_step(t, 1, aor_test_now), 0);
	ASSERT_EQ(nlog, 2);
	ASSERT_EQ(t->bindings, 1);
	aor_table_free(t);
}

/* merge meets an expired binding of the AoR: it removes it as EXPIRED,
 * then adds the new one, in that order */
TEST(register_removes_an_expired_binding_as_expired)
{
	aor_table_t *t = setup(NULL);
	uint64_t ida, idc;

	ASSERT(t != NULL);
	ASSERT_EQ(reg(t, "mexp@example.com", "cid-1", 1, "sip:a@192.0.2.1", 60), 1);
	ida = block_of(t, "mexp@example.com", "sip:a@192.0.2.1")->id;
	aor_test_now += 61;
	nlog = 0;
	ASSERT_EQ(
			reg(t, "mexp@example.com", "cid-2", 1, "sip:c@192.0.2.1", 3600), 1);
	idc = block_of(t, "mexp@example.com", "sip:c@192.0.2.1")->id;
	ASSERT_EQ(nlog, 2);
	EXPECT(0, AOR_CH_EXPIRED, AOR_ORIG_LOCAL, ida, "sip:a@192.0.2.1");
	EXPECT(1, AOR_CH_INSERTED, AOR_ORIG_LOCAL, idc, "sip:c@192.0.2.1");
	ASSERT_EQ(t->bindings, 1);
	aor_table_free(t);
}

/* max_contacts 2, evict_oldest: the third contact evicts the least
 * recently modified binding, then is inserted */
TEST(third_contact_evicts_the_oldest_then_is_inserted)
{
	aor_limits_t lim = lim_default;
	aor_table_t *t = setup(NULL);
	aor_binding_t *a;
	uint64_t ida, idc;
	rq_t q;

	ASSERT(t != NULL);
	lim.max_contacts = 2;
	lim.policy = AOR_POLICY_EVICT_OLDEST;
	rq_init(&q, "evi@example.com", "cid-a", 1);
	rq_add(&q, "sip:a@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim, AOR_ORIG_LOCAL), 1);
	aor_test_now++;
	rq_init(&q, "evi@example.com", "cid-b", 1);
	rq_add(&q, "sip:b@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim, AOR_ORIG_LOCAL), 2);
	aor_test_now++;
	a = block_of(t, "evi@example.com", "sip:a@192.0.2.1");
	ida = a->id;
	nlog = 0;
	rq_init(&q, "evi@example.com", "cid-c", 1);
	rq_add(&q, "sip:c@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim, AOR_ORIG_LOCAL), 2);
	idc = block_of(t, "evi@example.com", "sip:c@192.0.2.1")->id;
	ASSERT_EQ(nlog, 2);
	EXPECT(0, AOR_CH_EVICTED, AOR_ORIG_LOCAL, ida, "sip:a@192.0.2.1");
	ASSERT_PTR_EQ(jlog[0].bp, a);
	EXPECT(1, AOR_CH_INSERTED, AOR_ORIG_LOCAL, idc, "sip:c@192.0.2.1");
	ASSERT(block_of(t, "evi@example.com", "sip:b@192.0.2.1") != NULL);
	ASSERT_EQ(t->bindings, 2);
	aor_table_free(t);
}

/* flushing a slot deletes each of its bindings once, origin rpc; flushing
 * the table goes slot by slot, each chain in order */
TEST(flush_deletes_each_binding_once_with_origin_rpc)
{
	aor_table_t *t = setup(after_count);
	uint64_t ids[3], want[64];
	char aor[32], uri[32];
	aor_binding_t *b;
	uint32_t pos, slots;
	int i, n;
	str a = STR_C("fl@example.com");

	ASSERT(t != NULL);
	for(i = 0; i < 3; i++) {
		snprintf(uri, sizeof(uri), "sip:%d@192.0.2.1", i);
		ASSERT_EQ(reg(t, "fl@example.com", "cid-fl", i + 1, uri, 3600), i + 1);
	}
	ASSERT_EQ(chain_ids(t, "fl@example.com", ids, 3), 3);
	slots = aor_table_size(t);
	pos = aor_hash(&a) & (slots - 1);
	aor_ops_done();
	nlog = 0;
	nafter = 0;
	ASSERT_EQ(
			aor_table_flush_slot(t, (pos + 1) & (slots - 1), AOR_ORIG_RPC), 0);
	ASSERT_EQ(nlog, 0);
	ASSERT_EQ(aor_table_flush_slot(t, pos, AOR_ORIG_RPC), 3);
	ASSERT_EQ(nlog, 3);
	for(i = 0; i < 3; i++) {
		snprintf(uri, sizeof(uri), "sip:%d@192.0.2.1", 2 - i);
		EXPECT(i, AOR_CH_DELETED, AOR_ORIG_RPC, ids[i], uri);
	}
	ASSERT_EQ(nafter, 1);
	ASSERT_EQ(aor_table_flush_slot(t, slots, AOR_ORIG_RPC), -1);

	for(i = 0; i < 20; i++) {
		snprintf(aor, sizeof(aor), "fl%d@example.com", i / 2);
		snprintf(uri, sizeof(uri), "sip:%d@192.0.2.1", i);
		ASSERT_EQ(reg(t, aor, "cid-fl", 1, uri, 3600), 1 + i % 2);
	}
	/* the order of the walk: slot 0 up, each chain from its head */
	n = 0;
	for(pos = 0; pos < slots; pos++)
		for(b = t->gen->slots[pos]; b; b = b->next)
			want[n++] = b->id;
	ASSERT_EQ(n, 20);
	nlog = 0;
	ASSERT_EQ(aor_table_flush(t, AOR_ORIG_RPC), 20);
	ASSERT_EQ(nlog, 20);
	for(i = 0; i < 20; i++) {
		ASSERT_EQ(jlog[i].kind, AOR_CH_DELETED);
		ASSERT_EQ(jlog[i].origin, AOR_ORIG_RPC);
		ASSERT_EQ(jlog[i].id, want[i]);
		ASSERT(jlog[i].bp != NULL);
		ASSERT_EQ(jlog[i].locked, 0);
	}
	ASSERT_EQ(t->bindings, 0);
	ASSERT_EQ(aor_table_flush(t, AOR_ORIG_RPC), 0);
	ASSERT_EQ(nlog, 20);
	aor_table_free(t);
}

/* the load keeps a binding's id and version and moves the table's id
 * counter and clock past them; the same id again is refused unchanged */
TEST(restore_keeps_id_and_version_and_refuses_the_same_id_twice)
{
	aor_table_t *t = setup(after_count);
	uint64_t id, v;
	aor_binding_t *b, *dup;

	ASSERT(t != NULL);
	id = t->next_id + 1000;
	v = ((uint64_t)(T0 + 100) << AOR_VERSION_SHIFT) + 7; /* a later clock */
	b = mk("load@example.com", "sip:a@192.0.2.1", id, v, T0 + 3600);
	ASSERT(b != NULL);
	ASSERT_EQ(aor_ops_restore(t, b, AOR_ORIG_LOAD), 0);
	ASSERT_EQ(nlog, 1);
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_LOAD, id, "sip:a@192.0.2.1");
	ASSERT_EQ(jlog[0].version, v);
	ASSERT_EQ(nafter, 1);

	dup = mk("load@example.com", "sip:a@192.0.2.1", id, v + 1, T0 + 3600);
	ASSERT(dup != NULL);
	ASSERT_EQ(aor_ops_restore(t, dup, AOR_ORIG_LOAD), 1);
	AOR_FREE(dup); /* not taken */
	ASSERT_EQ(nlog, 1);
	ASSERT_EQ(nafter, 1);
	ASSERT_EQ(aor_journal_pending(), 0);
	ASSERT_EQ(t->bindings, 1);

	/* a new binding elsewhere: a new id and a greater version */
	ASSERT_EQ(reg(t, "new@example.com", "cid-new", 1, "sip:n@192.0.2.1", 3600),
			1);
	ASSERT_EQ(nlog, 2);
	ASSERT_GT(jlog[1].id, id);
	ASSERT_GT(jlog[1].version, v);
	/* a change of the restored binding: a version past its own */
	ASSERT_EQ(aor_ops_remove(
					  t, &STR_C("load@example.com"), NULL, NULL, AOR_ORIG_RPC),
			1);
	ASSERT_EQ(nlog, 3);
	EXPECT(2, AOR_CH_DELETED, AOR_ORIG_RPC, id, "sip:a@192.0.2.1");
	ASSERT_GT(jlog[2].version, jlog[1].version);
	aor_table_free(t);
}

/* the origin is the operation's, and only for its own changes: the expiry
 * walk right after a peer's operations records origin local */
TEST(origin_peer_is_carried_by_save_and_restore)
{
	aor_table_t *t = setup(NULL);
	aor_binding_t *b;
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(
			reg(t, "peer@example.com", "cid-loc", 1, "sip:l@192.0.2.1", 60), 1);
	rq_init(&q, "peer@example.com", "cid-peer", 1);
	rq_add(&q, "sip:a@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_PEER), 2);
	b = mk("peer@example.com", "sip:b@192.0.2.1", t->next_id + 10, 0,
			T0 + 3600);
	ASSERT(b != NULL);
	ASSERT_EQ(aor_ops_restore(t, b, AOR_ORIG_PEER), 0);
	/* an id 0 binding of another producer gets a new id */
	b = mk("peer@example.com", "sip:c@192.0.2.1", 0, 0, T0 + 3600);
	ASSERT(b != NULL);
	ASSERT_EQ(aor_ops_restore(t, b, AOR_ORIG_PEER), 0);
	aor_test_now += 60;
	ASSERT_EQ(aor_table_expire_step(t, 1, aor_test_now), 1);
	ASSERT_EQ(nlog, 5);
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_LOCAL, jlog[0].id, "sip:l@192.0.2.1");
	EXPECT(1, AOR_CH_INSERTED, AOR_ORIG_PEER, jlog[1].id, "sip:a@192.0.2.1");
	EXPECT(2, AOR_CH_INSERTED, AOR_ORIG_PEER, jlog[2].id, "sip:b@192.0.2.1");
	EXPECT(3, AOR_CH_INSERTED, AOR_ORIG_PEER, jlog[3].id, "sip:c@192.0.2.1");
	ASSERT_GT(jlog[3].id, jlog[2].id);
	EXPECT(4, AOR_CH_EXPIRED, AOR_ORIG_LOCAL, jlog[0].id, "sip:l@192.0.2.1");
	aor_table_free(t);
}

/* a subscriber that does not ask for bindings: no copy for the live
 * kinds; the removed kinds still hand over the block */
TEST(without_bindings_flag_only_removed_kinds_carry_a_binding)
{
	aor_subscriber_t s = {"bare", on_change, NULL, NULL, 0};
	aor_table_t *t = setup(NULL);

	ASSERT(t != NULL);
	aor_journal_reset_subscribers();
	ASSERT_EQ(aor_journal_subscribe(&s), 0);
	ASSERT_EQ(
			reg(t, "bare@example.com", "cid-b", 1, "sip:a@192.0.2.1", 3600), 1);
	ASSERT_EQ(
			reg(t, "bare@example.com", "cid-b", 2, "sip:a@192.0.2.1", 3600), 1);
	ASSERT_EQ(reg(t, "bare@example.com", "cid-b", 3, "sip:a@192.0.2.1", 0), 0);
	ASSERT_EQ(nlog, 3);
	ASSERT_EQ(jlog[0].kind, AOR_CH_INSERTED);
	ASSERT(jlog[0].bp == NULL);
	ASSERT_EQ(jlog[1].kind, AOR_CH_REFRESHED);
	ASSERT(jlog[1].bp == NULL);
	EXPECT(2, AOR_CH_DELETED, AOR_ORIG_LOCAL, jlog[0].id, "sip:a@192.0.2.1");
	aor_table_free(t);
}

/* versions order the changes of one binding even within one second; the
 * table's clock gives each change a version above every one before */
TEST(versions_increase_per_binding_within_one_second)
{
	aor_table_t *t = setup(NULL);
	uint64_t id;
	int i;
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(
			reg(t, "ver@example.com", "cid-v", 1, "sip:a@192.0.2.1", 3600), 1);
	ASSERT_EQ(
			reg(t, "ver2@example.com", "cid-w", 1, "sip:w@192.0.2.1", 3600), 1);
	ASSERT_EQ(
			reg(t, "ver@example.com", "cid-v", 2, "sip:a@192.0.2.1", 3600), 1);
	ASSERT_EQ(
			reg(t, "ver@example.com", "cid-v", 3, "sip:a@192.0.2.1", 1800), 1);
	rq_init(&q, "ver@example.com", "cid-v", 4);
	q.r.user_agent = STR_C("unit/2.0");
	rq_add(&q, "sip:a@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 1);
	ASSERT_EQ(
			reg(t, "ver2@example.com", "cid-w", 2, "sip:w@192.0.2.1", 3600), 1);
	ASSERT_EQ(reg(t, "ver@example.com", "cid-v", 5, "sip:a@192.0.2.1", 0), 0);
	ASSERT_EQ(aor_test_now, T0);
	ASSERT_EQ(nlog, 7);
	id = jlog[0].id;
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	EXPECT(2, AOR_CH_REFRESHED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	EXPECT(3, AOR_CH_REFRESHED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	EXPECT(4, AOR_CH_UPDATED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	EXPECT(5, AOR_CH_REFRESHED, AOR_ORIG_LOCAL, jlog[1].id, "sip:w@192.0.2.1");
	EXPECT(6, AOR_CH_DELETED, AOR_ORIG_LOCAL, id, "sip:a@192.0.2.1");
	ASSERT_GE(jlog[0].version, (uint64_t)T0 << AOR_VERSION_SHIFT);
	for(i = 1; i < nlog; i++)
		ASSERT_GT(jlog[i].version, jlog[i - 1].version);
	ASSERT_LT(jlog[nlog - 1].version, (uint64_t)(T0 + 1) << AOR_VERSION_SHIFT);
	aor_table_free(t);
}

/* RFC 3261 10.3: a request refused is not applied at all, not even the
 * removal of what expired; no change, no after hook */
TEST(refused_register_changes_nothing)
{
	aor_limits_t lim = lim_default;
	aor_table_t *t = setup(after_count);
	aor_binding_t *b;
	long bindings;
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(
			reg(t, "no@example.com", "cid-no", 5, "sip:a@192.0.2.1", 3600), 1);
	ASSERT_EQ(reg(t, "no@example.com", "cid-x", 1, "sip:x@192.0.2.1", 60), 2);
	b = block_of(t, "no@example.com", "sip:a@192.0.2.1");
	aor_ops_done();
	aor_test_now += 61; /* x expired, still in the record */
	nlog = 0;
	nafter = 0;
	bindings = t->bindings;
	/* 10.3 step 7: the same Call-ID with a CSeq not higher */
	ASSERT_EQ(reg(t, "no@example.com", "cid-no", 5, "sip:a@192.0.2.1", 1800),
			AOR_E_CSEQ);
	ASSERT_EQ(reg(t, "no@example.com", "cid-no", 4, "sip:a@192.0.2.1", 0),
			AOR_E_CSEQ);
	rq_init(&q, "no@example.com", "cid-no", 3);
	q.r.star = 1;
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), AOR_E_CSEQ);
	/* max_contacts with policy reject */
	lim.max_contacts = 1;
	rq_init(&q, "no@example.com", "cid-no", 6);
	rq_add(&q, "sip:b@192.0.2.1", 3600);
	ASSERT_EQ(save(t, &q, &lim, AOR_ORIG_LOCAL), AOR_E_TOO_MANY);
	aor_ops_done();
	ASSERT_EQ(nlog, 0);
	ASSERT_EQ(nafter, 0);
	ASSERT_EQ(aor_journal_pending(), 0);
	ASSERT_EQ(t->bindings, bindings);
	ASSERT_PTR_EQ(block_of(t, "no@example.com", "sip:a@192.0.2.1"), b);
	ASSERT_EQ(b->cseq, 5);
	ASSERT(block_of(t, "no@example.com", "sip:x@192.0.2.1") != NULL);
	aor_table_free(t);
}

/* the after hooks run from aor_ops_done, once per batch handed over, and
 * not again until something changes */
TEST(after_hook_runs_once_per_batch_from_ops_done)
{
	aor_table_t *t = setup(after_count);
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(
			reg(t, "aft@example.com", "cid-a", 1, "sip:a@192.0.2.1", 3600), 1);
	ASSERT_EQ(
			reg(t, "aft@example.com", "cid-a", 2, "sip:b@192.0.2.1", 3600), 2);
	ASSERT_EQ(nafter, 0); /* the caller still uses the copies */
	aor_ops_done();
	ASSERT_EQ(nafter, 1);
	ASSERT_EQ(after_nlog[0], 2);
	aor_ops_done();
	ASSERT_EQ(nafter, 1);
	/* a query changes nothing */
	rq_init(&q, "aft@example.com", "cid-a", 3);
	ASSERT_EQ(save(t, &q, &lim_default, AOR_ORIG_LOCAL), 2);
	aor_ops_done();
	ASSERT_EQ(nafter, 1);
	ASSERT_EQ(nlog, 2);
	aor_table_free(t);
}

/* an after hook that saves (as an event route may): its changes are
 * delivered at its unlock, in order, the hooks run again for them, and the
 * loop ends when a round changes nothing */
static void after_nested(void *arg)
{
	char uri[32];

	after_count(arg);
	if(hook_ops == 0)
		return;
	hook_ops--;
	snprintf(uri, sizeof(uri), "sip:hook%d@192.0.2.1", hook_ops);
	if(reg(hook_t, "hook@example.com", "cid-hook", 10 - hook_ops, uri, 3600)
			< 0)
		abort();
	aor_ops_done(); /* inside a hook: returns at once */
}

TEST(operation_inside_the_after_hook_is_delivered_in_order_and_ends)
{
	aor_table_t *t = setup(after_nested);

	ASSERT(t != NULL);
	hook_t = t;
	hook_ops = 2;
	ASSERT_EQ(reg(t, "out@example.com", "cid-out", 1, "sip:o@192.0.2.1", 3600),
			1);
	ASSERT_EQ(nlog, 1);
	aor_ops_done();
	ASSERT_EQ(hook_ops, 0);
	ASSERT_EQ(nafter, 3);
	ASSERT_EQ(after_nlog[0], 1);
	ASSERT_EQ(after_nlog[1], 2);
	ASSERT_EQ(after_nlog[2], 3);
	ASSERT_EQ(nlog, 3);
	EXPECT(0, AOR_CH_INSERTED, AOR_ORIG_LOCAL, jlog[0].id, "sip:o@192.0.2.1");
	EXPECT(1, AOR_CH_INSERTED, AOR_ORIG_LOCAL, jlog[1].id,
			"sip:hook1@192.0.2.1");
	EXPECT(2, AOR_CH_INSERTED, AOR_ORIG_LOCAL, jlog[2].id,
			"sip:hook0@192.0.2.1");
	aor_ops_done();
	ASSERT_EQ(nafter, 3);
	hook_t = NULL;
	aor_table_free(t);
}

/* ------------------------------------------------------------------ */
/* 4 threads, a resize and the expiry walk                            */

#define CT_THREADS 4
#define CT_OPS 2000
#define CT_OWN 48
#define CT_SHARED 8

/* one change as a thread's subscriber saw it; seq: its place in the log */
typedef struct ct_ent
{
	uint64_t id, version;
	int seq;
	unsigned char kind, thread;
} ct_ent_t;

typedef struct ct_log
{
	ct_ent_t *e;
	int n, cap, thread;
} ct_log_t;

/* the journal is per thread and delivers in the thread that made the
 * change: one log per thread needs no lock */
static ct_log_t ct_logs[CT_THREADS + 1];
static __thread ct_log_t *ct_mine;
static int ct_stray;		  /* atomic: changes of a thread with no log */
static unsigned long ct_done; /* atomic: operations done by the workers */
static int ct_stop;			  /* atomic */

static const aor_limits_t ct_lim = {
		.default_expires = 3600,
		.max_contacts = 3,
		.policy = AOR_POLICY_EVICT_OLDEST,
};

static void ct_on_change(const aor_jchange_t *c, void *arg)
{
	ct_log_t *l = ct_mine;

	(void)arg;
	if(l == NULL || c->b == NULL) {
		__atomic_add_fetch(&ct_stray, 1, __ATOMIC_RELAXED);
		return;
	}
	if(l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		if(l->e == NULL)
			abort();
	}
	l->e[l->n].id = c->id;
	l->e[l->n].version = c->version;
	l->e[l->n].seq = l->n;
	l->e[l->n].kind = (unsigned char)c->kind;
	l->e[l->n].thread = (unsigned char)l->thread;
	l->n++;
}

/* the workers' and the walk's clock: a second per 100 operations, so that
 * short registrations expire while the test runs (aor_test_now stays) */
static time_t ct_clock(void)
{
	return T0 + (time_t)(__atomic_load_n(&ct_done, __ATOMIC_RELAXED) / 100);
}

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* one random operation of thread k on one of its own AoRs or a shared
 * one: a REGISTER of 1 or 2 contacts (add, refresh, update, remove;
 * evictions past max_contacts 3), Contact: *, an RPC removal of one
 * binding or of all, a peer's REGISTER */
static void ct_op(aor_table_t *t, int k, uint32_t *x, uint32_t cseq)
{
	char aor[48], uri[2][48], callid[16];
	aor_binding_t *got[4];
	uint32_t r = xorshift(x), act = (r >> 8) % 16;
	int shared = r % 4 == 0, i;
	long long e;
	uint64_t id;
	rq_t q;

	if(shared)
		snprintf(
				aor, sizeof(aor), "shared%u@example.com", (r >> 2) % CT_SHARED);
	else
		snprintf(aor, sizeof(aor), "t%d-%u@example.com", k, (r >> 2) % CT_OWN);
	snprintf(callid, sizeof(callid), "ct-%d", k);
	rq_init(&q, aor, callid, cseq);
	q.r.now = ct_clock();
	if(xorshift(x) % 4 == 0)
		q.r.user_agent = STR_C("unit/2.0"); /* an update, not a refresh */
	for(i = 0; i < (act == 10 || act == 11 ? 2 : 1); i++) {
		r = xorshift(x);
		/* in shared AoRs the threads change each other's bindings */
		snprintf(uri[i], sizeof(uri[i]), "sip:c%u@192.0.2.%d", r % 4,
				shared ? 100 : k + 1);
		e = (r >> 4) % 8;
		rq_add(&q, uri[i], e == 0 ? 0 : e <= 5 ? e : 3600);
	}
	switch(act) {
		case 12: /* Contact: * */
			q.r.star = 1;
			q.r.ncontacts = 0;
			save(t, &q, &ct_lim, AOR_ORIG_LOCAL);
			break;
		case 13: /* aor.rm of one binding */
			if(aor_ops_fetch(t, &q.r.aor, q.r.now, got, 4) > 0) {
				id = got[0]->id;
				aor_ops_remove(t, &q.r.aor, aor_match_id, &id, AOR_ORIG_RPC);
			}
			break;
		case 14: /* aor.rm of the AoR */
			aor_ops_remove(t, &q.r.aor, NULL, NULL, AOR_ORIG_RPC);
			break;
		case 15:
			save(t, &q, &ct_lim, AOR_ORIG_PEER);
			break;
		default:
			save(t, &q, &ct_lim, AOR_ORIG_LOCAL);
	}
	aor_ops_done();
}

static aor_table_t *ct_table;

static void *ct_worker(void *p)
{
	int k = (int)(long)p, i;
	uint32_t x = 2463534242u + 7919u * (uint32_t)k;

	ct_mine = &ct_logs[k];
	for(i = 0; i < CT_OPS; i++) {
		ct_op(ct_table, k, &x, (uint32_t)i + 1);
		__atomic_add_fetch(&ct_done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* the one process that resizes and walks for expiry */
static void *ct_maint(void *p)
{
	(void)p;
	ct_mine = &ct_logs[CT_THREADS];
	while(!__atomic_load_n(&ct_stop, __ATOMIC_ACQUIRE)) {
		aor_table_maint(ct_table, 4);
		aor_table_expire_step(ct_table, 1, ct_clock());
	}
	return NULL;
}

static int ct_cmp(const void *pa, const void *pb)
{
	const ct_ent_t *a = pa, *b = pb;

	if(a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if(a->version != b->version)
		return a->version < b->version ? -1 : 1;
	return a->thread != b->thread ? a->thread - b->thread : a->seq - b->seq;
}

static int id_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

typedef struct idset
{
	uint64_t *v;
	int n, cap;
} idset_t;

static void idset_add(idset_t *s, uint64_t id)
{
	if(s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if(s->v == NULL)
			abort();
	}
	s->v[s->n++] = id;
}

static void ct_scan_cb(const aor_binding_t *b, void *arg)
{
	idset_add(arg, b->id);
}

/* e[0..n): the changes of one binding sorted by version. Well formed:
 * INSERTED first, then REFRESHED or UPDATED, at most one removal and
 * that last; versions strictly increasing; and every thread delivered
 * its share of them in version order. Adds the id to alive when the
 * binding is still in the store per the log. */
static void ct_check_one(const ct_ent_t *e, int n, idset_t *alive)
{
	unsigned long long id = (unsigned long long)e[0].id;
	int last[CT_THREADS + 1], i;

	for(i = 0; i <= CT_THREADS; i++)
		last[i] = -1;
	if(e[0].kind != AOR_CH_INSERTED)
		UNIT_FAIL("binding %llu: first change of kind %d", id, e[0].kind);
	for(i = 0; i < n; i++) {
		if(i > 0 && e[i].version <= e[i - 1].version)
			UNIT_FAIL("binding %llu: version %llu twice", id,
					(unsigned long long)e[i].version);
		if(i > 0 && e[i].kind == AOR_CH_INSERTED)
			UNIT_FAIL("binding %llu: inserted twice", id);
		if(i < n - 1 && aor_change_removes(e[i].kind))
			UNIT_FAIL("binding %llu: changed after its removal", id);
		if(e[i].seq <= last[e[i].thread])
			UNIT_FAIL("binding %llu: thread %d delivered out of order", id,
					e[i].thread);
		last[e[i].thread] = e[i].seq;
	}
	if(!aor_change_removes(e[n - 1].kind))
		idset_add(alive, e[0].id);
}

/* the log replayed equals the table: the same ids alive, the counters */
static void ct_check(aor_table_t *t)
{
	idset_t alive = {0}, present = {0};
	long inserted = 0, removed = 0;
	ct_ent_t *all;
	uint64_t cursor = 0;
	int total = 0, i, j, k;

	for(k = 0; k <= CT_THREADS; k++)
		total += ct_logs[k].n;
	all = malloc((total + 1) * sizeof(*all));
	ASSERT(all != NULL);
	for(k = 0, i = 0; k <= CT_THREADS; k++) {
		memcpy(all + i, ct_logs[k].e, ct_logs[k].n * sizeof(*all));
		i += ct_logs[k].n;
	}
	qsort(all, total, sizeof(*all), ct_cmp);
	for(i = 0; i < total; i = j) {
		for(j = i; j < total && all[j].id == all[i].id; j++) {
			inserted += all[j].kind == AOR_CH_INSERTED;
			removed += aor_change_removes(all[j].kind);
		}
		ct_check_one(all + i, j - i, &alive);
		if(unit_failed)
			break;
	}
	free(all);
	do
		cursor = aor_table_scan(t, cursor, 64, ct_scan_cb, &present);
	while(cursor != 0);
	qsort(present.v, present.n, sizeof(uint64_t), id_cmp);
	if(!unit_failed && alive.n != present.n)
		UNIT_FAIL("%d bindings alive per the log, %d in the table", alive.n,
				present.n);
	for(i = 0; !unit_failed && i < alive.n; i++)
		if(alive.v[i] != present.v[i])
			UNIT_FAIL("binding %llu alive per the log, %llu in the table",
					(unsigned long long)alive.v[i],
					(unsigned long long)present.v[i]);
	free(alive.v);
	free(present.v);
	ASSERT_OK_SO_FAR();
	ASSERT_EQ(inserted - removed, t->bindings);
	ASSERT_GT(inserted, CT_THREADS * CT_OPS / 4);
	ASSERT_GT(removed, CT_THREADS * CT_OPS / 8);
}

/* kinds of change the concurrent run made, to show it made them all */
static void ct_kinds(int *seen)
{
	int k, i;

	for(k = 0; k <= CT_THREADS; k++)
		for(i = 0; i < ct_logs[k].n; i++)
			seen[ct_logs[k].e[i].kind]++;
}

/* 4 threads save and remove on their own and shared AoRs while a 5th
 * grows the table from 2^2 slots and walks it for expiry: every binding's
 * changes reach the subscribers well formed and once, in version order,
 * and replaying them gives the table */
TEST(four_threads_and_a_resize_deliver_every_change_once_in_order)
{
	aor_subscriber_t s = {"ct", ct_on_change, NULL, NULL, AOR_SUB_BINDINGS};
	pthread_t th[CT_THREADS], mt;
	str name = STR_C("location");
	int seen[AOR_CH_COUNT] = {0};
	time_t t0 = time(NULL);
	int k;

	aor_test_now = T0;
	aor_journal_reset_subscribers();
	ASSERT_EQ(aor_journal_subscribe(&s), 0);
	memset(ct_logs, 0, sizeof(ct_logs));
	for(k = 0; k <= CT_THREADS; k++)
		ct_logs[k].thread = k;
	ct_done = 0;
	ct_stop = 0;
	ct_stray = 0;
	ct_table = aor_table_new(&name, 2);
	ASSERT(ct_table != NULL);
	ASSERT_EQ(pthread_create(&mt, NULL, ct_maint, NULL), 0);
	for(k = 0; k < CT_THREADS; k++)
		ASSERT_EQ(pthread_create(&th[k], NULL, ct_worker, (void *)(long)k), 0);
	for(k = 0; k < CT_THREADS; k++)
		pthread_join(th[k], NULL);
	__atomic_store_n(&ct_stop, 1, __ATOMIC_RELEASE);
	pthread_join(mt, NULL);
	ASSERT_LT(time(NULL) - t0, 10);

	ASSERT_EQ(ct_stray, 0);
	ASSERT_EQ(aor_journal_lost(), 0);
	ct_check(ct_table);
	ASSERT_OK_SO_FAR();
	ct_kinds(seen);
	for(k = 0; k < AOR_CH_COUNT; k++)
		if(seen[k] == 0)
			UNIT_FAIL("no change of kind %d", k);
	ASSERT_GE(aor_table_size(ct_table), 64); /* grew at least twice */
	for(k = 0; k <= CT_THREADS; k++)
		free(ct_logs[k].e);
	aor_table_free(ct_table);
	ct_table = NULL;
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}
