/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of store.c: records as adjacent runs, the counters, the
 * incremental resize, expiry, flush and concurrent use; and, run as
 * `test_store bench`, a benchmark of insert and find (as Redis's dictTest).
 */

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "unit.h"
#include "sys.h"
#include "store.h"
#include "ops.h"
#include "unit_journal.h"

/* the slot array and its expiry hints, one per AOR_HINT_SLOTS slots */
#define SLOT_BYTES(t)                                           \
	((long)aor_table_size(t) * (long)sizeof(aor_binding_t *)    \
			+ (long)((aor_table_size(t) - 1) / AOR_HINT_SLOTS + 1) \
					  * (long)sizeof(uint32_t))

static aor_table_t *table_new(unsigned int size_log2)
{
	str name = STR_C("location");

	return aor_table_new(&name, size_log2);
}

/* a new binding of aor with contact uri, expiring at expires (0: never) */
static aor_binding_t *mk(const char *aor, const char *uri, time_t expires)
{
	aor_binding_in_t in;

	memset(&in, 0, sizeof(in));
	in.f[AOR_F_AOR] = STR_C(aor);
	in.f[AOR_F_URI] = STR_C(uri);
	in.f[AOR_F_CALLID] = STR_C("call-1");
	in.hash = aor_hash(&in.f[AOR_F_AOR]);
	in.expires = expires;
	in.modified = aor_test_now;
	in.q = AOR_Q_UNSPEC;
	return aor_binding_new(&in);
}

/* adds b to its AoR's record under the lock; returns the record's size */
static int add(aor_table_t *t, aor_binding_t *b)
{
	str aor = aor_binding_get(b, AOR_F_AOR);
	aor_rec_t rec;
	int n;

	aor_table_lock(t, b->hash);
	aor_table_find(t, b->hash, &aor, &rec);
	aor_rec_add(&rec, b);
	n = rec.n;
	aor_table_unlock(t, b->hash);
	return n;
}

/* the record of aor (the caller is the only thread using t) */
static int find(aor_table_t *t, const char *aor, aor_rec_t *rec)
{
	str a = STR_C(aor);
	uint32_t h = aor_hash(&a);
	int n;

	aor_table_lock(t, h);
	n = aor_table_find(t, h, &a, rec);
	aor_table_unlock(t, h);
	return n;
}

/* the link in rec of the binding with contact uri, or NULL */
static aor_binding_t **link_of(aor_rec_t *rec, const char *uri)
{
	aor_binding_t **link = rec->link;
	str u;
	int i;

	for(i = 0; i < rec->n; i++, link = &(*link)->next) {
		u = aor_binding_get(*link, AOR_F_URI);
		if(u.len == (int)strlen(uri) && memcmp(u.s, uri, u.len) == 0)
			return link;
	}
	return NULL;
}

static int same_aor(const aor_binding_t *a, const aor_binding_t *b)
{
	str x = aor_binding_get(a, AOR_F_AOR), y = aor_binding_get(b, AOR_F_AOR);

	return a->hash == b->hash && x.len == y.len && memcmp(x.s, y.s, x.len) == 0;
}

/* 1 when a binding of b's AoR is in the chain from c on */
static int in_chain(const aor_binding_t *c, const aor_binding_t *b)
{
	for(; c; c = c->next)
		if(same_aor(c, b))
			return 1;
	return 0;
}

/* Checks the chain of slot i of an array of the given mask: every
 * binding hashes there, each AoR is one run of adjacent bindings, and, in
 * an old array, none of its AoRs is also in the current one. Adds up the
 * AoRs, bindings and bytes it holds. */
static void check_chain(aor_table_t *t, aor_binding_t *head, uint32_t i,
		uint32_t mask, int old, long *aors, long *bindings, long *mem)
{
	const aor_binding_t *b, *e;
	str k;

	for(b = head; b; b = e->next) {
		k = aor_binding_get(b, AOR_F_AOR);
		ASSERT_EQ(b->hash, aor_hash(&k));
		ASSERT_EQ(b->hash & mask, i);
		for(e = b; e->next && same_aor(e->next, b); e = e->next)
			;
		if(in_chain(e->next, b))
			UNIT_FAIL("AoR %.*s split in slot %u", k.len, k.s, i);
		if(old && in_chain(t->gen->slots[b->hash & t->gen->mask], b))
			UNIT_FAIL("AoR %.*s in both arrays", k.len, k.s);
		(*aors)++;
		for(; b != e->next; b = b->next) {
			(*bindings)++;
			*mem += (long)aor_binding_size(b);
			ASSERT(same_aor(b, e));
		}
	}
}

/* Walks every chain of t, current and old arrays (the caller is the only
 * thread using t), with check_chain, and checks the counters against
 * what is there. */
static void check_table(aor_table_t *t)
{
	aor_gen_t *g = t->gen;
	long aors = 0, bindings = 0, mem;
	uint32_t i;

	mem = SLOT_BYTES(t);
	for(i = 0; i <= g->mask; i++) {
		check_chain(t, g->slots[i], i, g->mask, 0, &aors, &bindings, &mem);
		ASSERT_OK_SO_FAR();
	}
	if(g->old_slots) {
		mem += (long)(g->old_mask + 1) * (long)sizeof(void *);
		for(i = 0; i <= g->old_mask; i++) {
			check_chain(t, g->old_slots[i], i, g->old_mask, 1, &aors, &bindings,
					&mem);
			ASSERT_OK_SO_FAR();
		}
	}
	ASSERT_EQ(aor_atomic_get(&t->aors), aors);
	ASSERT_EQ(aor_atomic_get(&t->bindings), bindings);
	ASSERT_EQ(aor_atomic_get(&t->mem), mem);
}

TEST(insert_find_update_delete_keep_the_counters)
{
	aor_table_t *t = table_new(4);
	aor_binding_t *a1, *a2, *b1, *nb, **link;
	aor_rec_t rec;
	long base;
	uint64_t id;

	ASSERT(t != NULL);
	base = SLOT_BYTES(t);
	ASSERT_EQ(aor_table_size(t), 16);
	ASSERT_EQ(t->mem, base);
	ASSERT_EQ(find(t, "alice", &rec), 0);
	ASSERT_EQ(rec.n, 0);
	ASSERT(rec.link != NULL);

	a1 = mk("alice", "sip:alice@192.0.2.1", 0);
	a2 = mk("alice", "sip:alice@192.0.2.2", 0);
	b1 = mk("bob", "sip:bob@192.0.2.3", 0);
	ASSERT_EQ(add(t, a1), 1);
	ASSERT_EQ(add(t, a2), 2);
	ASSERT_EQ(add(t, b1), 1);
	ASSERT_NE(a1->id, a2->id);
	ASSERT_EQ(t->aors, 2);
	ASSERT_EQ(t->bindings, 3);
	ASSERT_EQ(
			t->mem, base
							+ (long)(aor_binding_size(a1) + aor_binding_size(a2)
									 + aor_binding_size(b1)));

	ASSERT_EQ(find(t, "alice", &rec), 2);
	ASSERT(link_of(&rec, "sip:alice@192.0.2.1") != NULL);
	ASSERT(link_of(&rec, "sip:alice@192.0.2.2") != NULL);
	ASSERT(link_of(&rec, "sip:bob@192.0.2.3") == NULL);
	ASSERT_EQ(find(t, "bob", &rec), 1);
	ASSERT_PTR_EQ(*rec.link, b1);
	ASSERT_EQ(find(t, "alic", &rec), 0);
	ASSERT_EQ(find(t, "alicE", &rec), 0);

	/* update: a longer binding replaces a2, keeps its id and place */
	find(t, "alice", &rec);
	link = link_of(&rec, "sip:alice@192.0.2.2");
	id = (*link)->id;
	nb = mk("alice", "sip:alice@192.0.2.2;transport=tcp;ob", 0);
	base += (long)(aor_binding_size(a1) + aor_binding_size(b1));
	base += (long)aor_binding_size(nb);
	aor_rec_swap(&rec, link, nb);
	ASSERT_EQ(nb->id, id);
	ASSERT_EQ(t->mem, base);
	ASSERT_EQ(t->bindings, 3);
	ASSERT_EQ(find(t, "alice", &rec), 2);
	ASSERT(link_of(&rec, "sip:alice@192.0.2.2;transport=tcp;ob") != NULL);
	ASSERT(link_of(&rec, "sip:alice@192.0.2.2") == NULL);

	/* delete: the AoR stays while it has a binding */
	base -= (long)aor_binding_size(a1);
	aor_rec_del(&rec, link_of(&rec, "sip:alice@192.0.2.1"), AOR_CH_DELETED);
	ASSERT_EQ(rec.n, 1);
	ASSERT_EQ(t->aors, 2);
	ASSERT_EQ(t->bindings, 2);
	ASSERT_EQ(t->mem, base);
	base -= (long)aor_binding_size(nb);
	aor_rec_del(&rec, rec.link, AOR_CH_DELETED);
	ASSERT_EQ(rec.n, 0);
	ASSERT_EQ(t->aors, 1);
	ASSERT_EQ(t->bindings, 1);
	ASSERT_EQ(t->mem, base);
	ASSERT_EQ(find(t, "alice", &rec), 0);
	ASSERT_EQ(find(t, "bob", &rec), 1);
	check_table(t);
	aor_table_free(t);
}

/* many AoRs in one slot (2^0) or two (2^1), bindings added round-robin:
 * each AoR's bindings stay one adjacent run through adds and deletes */
static void collide(unsigned int size_log2)
{
	aor_table_t *t = table_new(size_log2);
	char aor[32], uri[64];
	aor_rec_t rec;
	int i, r;

	ASSERT(t != NULL);
	for(r = 0; r < 4; r++) {
		for(i = 0; i < 50; i++) {
			snprintf(aor, sizeof(aor), "user%d", i);
			snprintf(uri, sizeof(uri), "sip:user%d@192.0.2.%d", i, r);
			if(add(t, mk(aor, uri, 0)) != r + 1)
				UNIT_FAIL("%s: record of %d after %d adds", aor, r + 1, r + 1);
		}
	}
	check_table(t);
	ASSERT_OK_SO_FAR();
	ASSERT_EQ(t->aors, 50);
	ASSERT_EQ(t->bindings, 200);
	/* drop the middle binding of every odd AoR, all of every 5th */
	for(i = 0; i < 50; i++) {
		snprintf(aor, sizeof(aor), "user%d", i);
		ASSERT_EQ(find(t, aor, &rec), 4);
		if(i % 5 == 0) {
			while(rec.n)
				aor_rec_del(&rec, rec.link, AOR_CH_DELETED);
		} else if(i % 2) {
			snprintf(uri, sizeof(uri), "sip:user%d@192.0.2.2", i);
			aor_rec_del(&rec, link_of(&rec, uri), AOR_CH_DELETED);
		}
	}
	check_table(t);
	ASSERT_OK_SO_FAR();
	for(i = 0; i < 50; i++) {
		snprintf(aor, sizeof(aor), "user%d", i);
		ASSERT_EQ(find(t, aor, &rec), i % 5 == 0 ? 0 : i % 2 ? 3 : 4);
		for(r = 0; r < rec.n; r++) {
			snprintf(uri, sizeof(uri), "sip:user%d@192.0.2.%d", i, r);
			ASSERT((link_of(&rec, uri) != NULL) == (r != 2 || i % 2 == 0));
		}
	}
	/* and new bindings join their run again */
	add(t, mk("user1", "sip:user1@192.0.2.9", 0));
	add(t, mk("user5", "sip:user5@192.0.2.9", 0));
	check_table(t);
	ASSERT_OK_SO_FAR();
	ASSERT_EQ(find(t, "user1", &rec), 4);
	ASSERT_EQ(find(t, "user5", &rec), 1);
	aor_table_free(t);
}

TEST(records_stay_adjacent_runs_when_aors_share_one_slot)
{
	collide(0);
}

TEST(records_stay_adjacent_runs_when_aors_share_two_slots)
{
	collide(1);
}

#define GROW_AORS 100000

/* AoR i has 1 binding, 2 when i is a multiple of 3 */
static int grow_bindings(int i)
{
	return i % 3 == 0 ? 2 : 1;
}

static void grow_check_one(aor_table_t *t, int i)
{
	char aor[32], uri[64];
	aor_rec_t rec;
	int r;

	snprintf(aor, sizeof(aor), "grow%d@example.com", i);
	ASSERT_EQ(find(t, aor, &rec), grow_bindings(i));
	for(r = 0; r < rec.n; r++) {
		snprintf(uri, sizeof(uri), "sip:grow%d@192.0.2.%d", i, r);
		if(link_of(&rec, uri) == NULL)
			UNIT_FAIL("%s lost %s", aor, uri);
	}
}

/* the table grows from 2^4 slots under inserts, drained a bounded number
 * of slots per aor_table_maint() call, and loses nothing */
TEST(table_grows_incrementally_and_keeps_every_aor)
{
	aor_table_t *t = table_new(4);
	char aor[32], uri[64];
	int i, r, steps, resizing = 0;

	ASSERT(t != NULL);
	for(i = 0; i < GROW_AORS; i++) {
		snprintf(aor, sizeof(aor), "grow%d@example.com", i);
		for(r = 0; r < grow_bindings(i); r++) {
			snprintf(uri, sizeof(uri), "sip:grow%d@192.0.2.%d", i, r);
			add(t, mk(aor, uri, 0));
		}
		if(i % 100 == 99) {
			r = aor_table_maint(t, 64);
			ASSERT_GE(r, 0);
			resizing += r;
		}
		/* now and then, while old slots are still being drained */
		if(i % 9973 == 0 && t->gen->old_slots) {
			check_table(t);
			ASSERT_OK_SO_FAR();
		}
	}
	ASSERT_GT(resizing, 0);
	/* until a resize has finished and no further one starts */
	for(steps = 0; aor_table_maint(t, 64) != 0 || aor_table_maint(t, 64) != 0;
			steps++)
		ASSERT_LT(steps, 1000000);
	ASSERT(t->gen->old_slots == NULL);
	ASSERT_GE(aor_table_size(t), GROW_AORS);
	ASSERT_EQ(t->aors, GROW_AORS);
	check_table(t);
	ASSERT_OK_SO_FAR();
	for(i = 0; i < GROW_AORS; i++) {
		grow_check_one(t, i);
		ASSERT_OK_SO_FAR();
	}
	aor_table_free(t);
}

static int expire_calls;
static int expire_bad;

static void on_expire(const aor_binding_t *b, void *arg)
{
	str u = aor_binding_get(b, AOR_F_URI);

	(void)arg;
	expire_calls++;
	/* only the short-lived ones ("...;short") may go */
	if(u.len < 6 || memcmp(u.s + u.len - 6, ";short", 6) != 0
			|| !aor_binding_expired(b, aor_test_now))
		expire_bad++;
}

/* 300 AoRs, each with a binding expiring at +10 (";short"), one at +20
 * and, every third AoR, a permanent one */
static void expire_fill(aor_table_t *t, time_t now)
{
	char aor[32], uri[64];
	int i;

	for(i = 0; i < 300; i++) {
		snprintf(aor, sizeof(aor), "exp%d", i);
		snprintf(uri, sizeof(uri), "sip:exp%d@192.0.2.1;short", i);
		add(t, mk(aor, uri, now + 10));
		snprintf(uri, sizeof(uri), "sip:exp%d@192.0.2.2", i);
		add(t, mk(aor, uri, now + 20));
		if(i % 3 == 0) {
			snprintf(uri, sizeof(uri), "sip:exp%d@192.0.2.3", i);
			add(t, mk(aor, uri, 0));
		}
	}
}

static int expire_all_slots(aor_table_t *t)
{
	uint32_t pos;
	int n = 0;

	for(pos = 0; pos < aor_table_size(t); pos++)
		n += UNIT_GONE(on_expire, NULL, aor_table_expire_slot(t, pos, aor_test_now));
	return n;
}

/* expiry removes exactly the expired bindings, once each, with the
 * callback; a binding is expired at its expires second */
TEST(expire_slot_removes_exactly_the_expired_bindings)
{
	time_t start = aor_test_now;
	aor_table_t *t = table_new(2);
	aor_rec_t rec;

	ASSERT(t != NULL);
	expire_fill(t, start);
	ASSERT_EQ(t->bindings, 700);
	expire_calls = expire_bad = 0;
	aor_test_now = start + 9;
	ASSERT_EQ(expire_all_slots(t), 0);
	aor_test_now = start + 10;
	ASSERT_EQ(expire_all_slots(t), 300);
	ASSERT_EQ(expire_calls, 300);
	ASSERT_EQ(expire_bad, 0);
	ASSERT_EQ(expire_all_slots(t), 0);
	ASSERT_EQ(t->bindings, 400);
	ASSERT_EQ(t->aors, 300);
	ASSERT_EQ(find(t, "exp3", &rec), 2);
	ASSERT_EQ(find(t, "exp4", &rec), 1);
	check_table(t);
	ASSERT_OK_SO_FAR();
	/* at +20 the AoRs without a permanent binding go */
	aor_test_now = start + 20;
	ASSERT_EQ(expire_all_slots(t), 300);
	ASSERT_EQ(t->bindings, 100);
	ASSERT_EQ(t->aors, 100);
	ASSERT_EQ(find(t, "exp4", &rec), 0);
	check_table(t);
	/* pos beyond the array: nothing */
	ASSERT_EQ(UNIT_GONE(on_expire, NULL,
					  aor_table_expire_slot(t, aor_table_size(t), aor_test_now)),
			0);
	aor_test_now = start;
	aor_table_free(t);
}

/* during a resize, expiring slot pos also drains the old slot it maps to,
 * so a walk over the new array misses nothing */
TEST(expire_slot_reaches_bindings_still_in_old_slots)
{
	time_t start = aor_test_now;
	aor_table_t *t = table_new(2);

	ASSERT(t != NULL);
	expire_fill(t, start);
	ASSERT_EQ(aor_table_maint(t, 0), 1); /* resize started, nothing drained */
	ASSERT(t->gen->old_slots != NULL);
	expire_calls = expire_bad = 0;
	aor_test_now = start + 10;
	ASSERT_EQ(expire_all_slots(t), 300);
	ASSERT_EQ(expire_calls, 300);
	ASSERT_EQ(expire_bad, 0);
	ASSERT_EQ(t->bindings, 400);
	check_table(t);
	ASSERT_OK_SO_FAR();
	while(aor_table_maint(t, 1) != 0)
		;
	check_table(t);
	aor_test_now = start;
	aor_table_free(t);
}

/* one full pass of the expiry walk at now; returns the bindings removed
 * and sets *visits to the slots it locked */
static long expire_pass(aor_table_t *t, time_t now, uint64_t *visits)
{
	uint64_t v0 = t->expire_visits;
	unsigned int blocks = (aor_table_size(t) - 1) / AOR_HINT_SLOTS + 1;
	long n;

	t->expire_pos = 0;
	aor_test_now = now; /* what on_expire checks against */
	n = UNIT_GONE(on_expire, NULL, aor_table_expire_step(t, blocks, now));
	*visits = t->expire_visits - v0;
	return n;
}

/* the expiry walk locks only the blocks of slots where something may have
 * expired: none on an idle table once it has learned the hints, exactly
 * the block of a binding whose expiry was shortened in place or that was
 * added later, and it still removes exactly the expired bindings */
TEST(expire_step_passes_over_blocks_where_nothing_expired)
{
	time_t start = aor_test_now;
	aor_table_t *t = table_new(10); /* 1,024 slots: 16 blocks */
	aor_binding_t **link;
	uint64_t visits;
	aor_rec_t rec;
	str a = STR_C("exp5");

	ASSERT(t != NULL);
	expire_fill(t, start);
	expire_calls = expire_bad = 0;
	/* nothing has expired: no slot is locked */
	ASSERT_EQ(expire_pass(t, start, &visits), 0);
	ASSERT_EQ(visits, 0);
	ASSERT_EQ(expire_pass(t, start + 9, &visits), 0);
	ASSERT_EQ(visits, 0);
	/* at +10 the blocks holding the 300 short bindings */
	ASSERT_EQ(expire_pass(t, start + 10, &visits), 300);
	ASSERT_EQ(expire_calls, 300);
	ASSERT_EQ(expire_bad, 0);
	ASSERT(visits > 0 && visits <= 1024);
	ASSERT_EQ(expire_pass(t, start + 10, &visits), 0);
	ASSERT_EQ(visits, 0);
	/* a binding shortened in place to +12 (a refresh): its block only */
	aor_table_lock(t, aor_hash(&a));
	ASSERT_EQ(aor_table_find(t, aor_hash(&a), &a, &rec), 1);
	(*rec.link)->expires = start + 12;
	aor_rec_expiry(&rec, (*rec.link)->expires);
	aor_table_unlock(t, aor_hash(&a));
	ASSERT_EQ(expire_pass(t, start + 11, &visits), 0);
	ASSERT_EQ(visits, 0);
	ASSERT_EQ(expire_pass(t, start + 12, &visits), 1);
	ASSERT_EQ(visits, AOR_HINT_SLOTS);
	ASSERT_EQ(find(t, "exp5", &rec), 0);
	/* a binding added after its block was visited, expiring at +13 */
	add(t, mk("late", "sip:late@192.0.2.9", start + 13));
	ASSERT_EQ(expire_pass(t, start + 13, &visits), 1);
	ASSERT_EQ(visits, AOR_HINT_SLOTS);
	ASSERT_EQ(find(t, "late", &rec), 0);
	/* a swap (new strings) carries the new expiry to the hint too */
	add(t, mk("swap", "sip:swap@192.0.2.9", start + 100));
	ASSERT_EQ(find(t, "swap", &rec), 1);
	aor_table_lock(t, rec.hash);
	ASSERT_EQ(aor_table_find(t, rec.hash, &a, &rec), 0); /* other AoR */
	a = (str)STR_C("swap");
	ASSERT_EQ(aor_table_find(t, rec.hash, &a, &rec), 1);
	link = rec.link;
	aor_rec_swap(&rec, link, mk("swap", "sip:swap@192.0.2.10", start + 14));
	aor_table_unlock(t, rec.hash);
	ASSERT_EQ(expire_pass(t, start + 14, &visits), 1);
	ASSERT_EQ(visits, AOR_HINT_SLOTS);
	/* at +20 the rest but the permanent ones; then nothing to visit */
	ASSERT_EQ(expire_pass(t, start + 20, &visits), 299);
	ASSERT_EQ(t->bindings, 100);
	ASSERT_EQ(expire_pass(t, start + 1000000, &visits), 0);
	ASSERT_EQ(visits, 0);
	check_table(t);
	aor_test_now = start;
	aor_table_free(t);
}

/* the walk in steps of one block, with a resize started and drained in
 * between: the new array's hints start unknown and every drained binding
 * lowers its new block's hint, so nothing is missed */
/* one pass of the walk while a resize has drained nothing yet finds the
 * expired bindings that still sit in the old slots: the new array's
 * blocks carry the hints of the old blocks that drain into them (the
 * walk once passed over them, "nothing expires", until they drained) */
TEST(expire_pass_during_a_resize_reaches_the_undrained_old_slots)
{
	time_t start = aor_test_now;
	aor_table_t *t = table_new(6); /* 64 slots: one block */
	uint64_t visits;
	int i;

	ASSERT(t != NULL);
	for(i = 0; i < 64; i++) {
		char aor[16], uri[48];

		snprintf(aor, sizeof(aor), "old%d", i);
		snprintf(uri, sizeof(uri), "sip:old%d@192.0.2.4;short", i);
		add(t, mk(aor, uri, start + 10));
		snprintf(uri, sizeof(uri), "sip:old%d@192.0.2.5", i);
		add(t, mk(aor, uri, 0));
	}
	add(t, mk("old64", "sip:old64@192.0.2.5", 0)); /* 65 AoRs > 64 slots */
	ASSERT_EQ(expire_pass(t, start, &visits), 0); /* hints learned */
	ASSERT_EQ(aor_table_maint(t, 0), 1); /* resize started, nothing drained */
	ASSERT(t->gen->old_slots != NULL);
	expire_calls = expire_bad = 0;
	ASSERT_EQ(expire_pass(t, start + 10, &visits), 64);
	ASSERT_EQ(expire_calls, 64);
	ASSERT_EQ(expire_bad, 0);
	ASSERT_EQ(t->bindings, 65);
	while(aor_table_maint(t, 64) != 0)
		;
	check_table(t);
	aor_test_now = start;
	aor_table_free(t);
}

TEST(expire_step_misses_nothing_across_a_resize)
{
	time_t start = aor_test_now;
	aor_table_t *t = table_new(6); /* 64 slots: one block */
	uint64_t visits;
	long n = 0;
	int i, r = 1;

	ASSERT(t != NULL);
	expire_fill(t, start); /* 300 AoRs: the table grows past 256 slots */
	ASSERT_EQ(expire_pass(t, start, &visits), 0);
	ASSERT_EQ(expire_pass(t, start, &visits), 0);
	ASSERT_EQ(visits, 0);
	ASSERT_EQ(aor_table_maint(t, 0), 1); /* resize started, nothing drained */
	expire_calls = expire_bad = 0;
	/* the walk and the drain interleaved, one block and 4 old slots at a
	 * time, past +10 */
	t->expire_pos = 0;
	aor_test_now = start + 10;
	for(i = 0; i < 64; i++) {
		n += UNIT_GONE(on_expire, NULL, aor_table_expire_step(t, 1, start + 10));
		if(r)
			r = aor_table_maint(t, 4);
	}
	while(aor_table_maint(t, 64) != 0)
		;
	n += expire_pass(t, start + 10, &visits);
	ASSERT_EQ(n, 300);
	ASSERT_EQ(expire_calls, 300);
	ASSERT_EQ(expire_bad, 0);
	ASSERT_GE(aor_table_size(t), 256);
	check_table(t);
	ASSERT_EQ(expire_pass(t, start + 19, &visits), 0);
	ASSERT_EQ(visits, 0);
	ASSERT_EQ(expire_pass(t, start + 20, &visits), 300);
	ASSERT_EQ(t->bindings, 100);
	check_table(t);
	aor_test_now = start;
	aor_table_free(t);
}

static void on_flush(const aor_binding_t *b, void *arg)
{
	(void)b;
	(*(long *)arg)++;
}

/* flush removes every binding, returns how many, and leaves only the
 * slot array accounted for */
TEST(flush_empties_the_table_and_returns_the_count)
{
	aor_table_t *t = table_new(3);
	long calls = 0;
	aor_rec_t rec;

	ASSERT(t != NULL);
	expire_fill(t, aor_test_now);
	ASSERT_EQ(UNIT_GONE(on_flush, &calls, aor_table_flush(t, AOR_ORIG_RPC)), 700);
	ASSERT_EQ(calls, 700);
	ASSERT_EQ(t->aors, 0);
	ASSERT_EQ(t->bindings, 0);
	ASSERT_EQ(t->mem, SLOT_BYTES(t));
	ASSERT_EQ(find(t, "exp0", &rec), 0);
	ASSERT_EQ(aor_table_flush(t, AOR_ORIG_RPC), 0);
	/* also in the middle of a resize: the old array is accounted too */
	expire_fill(t, aor_test_now);
	while(aor_table_maint(t, 0) != 1)
		;
	ASSERT_EQ(aor_table_flush(t, AOR_ORIG_RPC), 700);
	ASSERT_EQ(t->bindings, 0);
	ASSERT_EQ(t->aors, 0);
	ASSERT_EQ(t->mem,
			SLOT_BYTES(t)
					+ (long)(t->gen->old_mask + 1) * (long)sizeof(void *));
	while(aor_table_maint(t, 16) != 0)
		;
	ASSERT_EQ(t->mem, SLOT_BYTES(t));
	aor_table_free(t);
}

/* flush_slot empties one slot at a time, old slots included during a
 * resize, and answers -1 past the array so a walk knows where to stop */
TEST(flush_slot_walk_removes_everything_and_ends_past_the_array)
{
	aor_table_t *t = table_new(3);
	long calls = 0, n = 0;
	uint32_t pos;
	int k;

	ASSERT(t != NULL);
	expire_fill(t, aor_test_now);
	ASSERT_EQ(aor_table_maint(t, 0), 1); /* resize started, nothing drained */
	ASSERT(t->gen->old_slots != NULL);
	for(pos = 0; (k = UNIT_GONE(on_flush, &calls, aor_table_flush_slot(t, pos, AOR_ORIG_RPC))) >= 0;
			pos++)
		n += k;
	ASSERT_EQ(pos, aor_table_size(t));
	ASSERT_EQ(n, 700);
	ASSERT_EQ(calls, 700);
	ASSERT_EQ(t->bindings, 0);
	ASSERT_EQ(t->aors, 0);
	ASSERT_EQ(aor_table_flush_slot(t, aor_table_size(t) + 5, AOR_ORIG_RPC), -1);
	while(aor_table_maint(t, 16) != 0)
		;
	check_table(t);
	aor_table_free(t);
}

#define CC_THREADS 4
#define CC_OPS 50000
#define CC_OWN 2000	  /* AoRs only one thread touches */
#define CC_SHARED 500 /* AoRs every thread touches */

struct cc_arg
{
	aor_table_t *t;
	int k;
	int own[CC_OWN]; /* bindings this thread left in its own AoRs */
};

static volatile int cc_stop;

static void cc_name(char *buf, size_t n, int k, int i)
{
	if(k < 0)
		snprintf(buf, n, "shared%d@example.com", i);
	else
		snprintf(buf, n, "t%d-%d@example.com", k, i);
}

/* one operation: add a binding to aor when it has fewer than 3, else
 * delete its first one; returns the change in bindings */
static int cc_op(aor_table_t *t, const char *aor, int k)
{
	str a = STR_C(aor);
	uint32_t h = aor_hash(&a);
	aor_binding_t *b;
	aor_rec_t rec;
	char uri[64];
	int d;

	snprintf(uri, sizeof(uri), "sip:x@192.0.2.%d", k);
	b = mk(aor, uri, 0); /* allocate before taking the lock */
	aor_table_lock(t, h);
	if(aor_table_find(t, h, &a, &rec) < 3) {
		aor_rec_add(&rec, b);
		b = NULL;
		d = 1;
	} else {
		aor_rec_del(&rec, rec.link, AOR_CH_DELETED);
		d = -1;
	}
	aor_table_unlock(t, h);
	if(b)
		AOR_FREE(b);
	return d;
}

static void *cc_worker(void *p)
{
	struct cc_arg *a = p;
	uint32_t x = 2463534242u + (uint32_t)a->k;
	char aor[48];
	int i, idx;

	for(i = 0; i < CC_OPS; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if(x % 4 == 0) {
			cc_name(aor, sizeof(aor), -1, (int)(x >> 8) % CC_SHARED);
			cc_op(a->t, aor, a->k);
		} else {
			idx = (int)(x >> 8) % CC_OWN;
			cc_name(aor, sizeof(aor), a->k, idx);
			a->own[idx] += cc_op(a->t, aor, a->k);
		}
	}
	return NULL;
}

static void *cc_maint(void *p)
{
	aor_table_t *t = p;

	while(!__atomic_load_n(&cc_stop, __ATOMIC_ACQUIRE))
		aor_table_maint(t, 8);
	return NULL;
}

/* 4 threads add and delete bindings of their own and shared AoRs under
 * the slot locks while a 5th runs the resize: every AoR is found with the
 * bindings its thread left, and the counters match the chains */
TEST(concurrent_updates_with_a_resize_running_stay_consistent)
{
	static struct cc_arg args[CC_THREADS];
	pthread_t th[CC_THREADS], mt;
	aor_table_t *t = table_new(4);
	long own_total = 0, shared_total = 0;
	char aor[48];
	aor_rec_t rec;
	time_t t0 = time(NULL);
	int k, i, n;

	ASSERT(t != NULL);
	cc_stop = 0;
	ASSERT_EQ(pthread_create(&mt, NULL, cc_maint, t), 0);
	for(k = 0; k < CC_THREADS; k++) {
		memset(&args[k], 0, sizeof(args[k]));
		args[k].t = t;
		args[k].k = k;
		ASSERT_EQ(pthread_create(&th[k], NULL, cc_worker, &args[k]), 0);
	}
	for(k = 0; k < CC_THREADS; k++)
		pthread_join(th[k], NULL);
	__atomic_store_n(&cc_stop, 1, __ATOMIC_RELEASE);
	pthread_join(mt, NULL);
	ASSERT_LT(time(NULL) - t0, 10);

	check_table(t);
	ASSERT_OK_SO_FAR();
	for(k = 0; k < CC_THREADS; k++) {
		for(i = 0; i < CC_OWN; i++) {
			cc_name(aor, sizeof(aor), k, i);
			n = find(t, aor, &rec);
			if(n != args[k].own[i])
				UNIT_FAIL("%s: %d bindings, its thread left %d", aor, n,
						args[k].own[i]);
			own_total += n;
		}
	}
	for(i = 0; i < CC_SHARED; i++) {
		cc_name(aor, sizeof(aor), -1, i);
		n = find(t, aor, &rec);
		ASSERT(n >= 0 && n <= 3);
		shared_total += n;
	}
	ASSERT_EQ(t->bindings, own_total + shared_total);
	ASSERT_GT(aor_table_size(t), 16);
	aor_table_free(t);
}

/* what a cursor walk saw: per stable AoR ("scan<i>@example.com"), the
 * records and bindings visited; touched lists the AoRs of the current page */
struct walk
{
	int n;
	int *records;
	int *bindings;
	int *touched;
	int ntouched;
	int prev; /* AoR of the previous binding in this page, or -1 */
	long pages;
};

static void scan_name(char *buf, size_t n, const char *kind, int i)
{
	snprintf(buf, n, "%s%d@example.com", kind, i);
}

static int scan_bindings_of(int i)
{
	return i % 3 + 1;
}

static void walk_init(struct walk *w, int n)
{
	memset(w, 0, sizeof(*w));
	w->n = n;
	w->records = calloc(n, sizeof(int));
	w->bindings = calloc(n, sizeof(int));
	w->touched = calloc(n, sizeof(int));
}

static void walk_free(struct walk *w)
{
	free(w->records);
	free(w->bindings);
	free(w->touched);
}

/* aor_scan_cb: counts the bindings of stable AoRs, and a record each time
 * the AoR changes within a page */
static void walk_cb(const aor_binding_t *b, void *arg)
{
	struct walk *w = arg;
	str k = aor_binding_get(b, AOR_F_AOR);
	int i;

	if(k.len < 5 || memcmp(k.s, "scan", 4) != 0)
		return;
	i = atoi(k.s + 4);
	if(i < 0 || i >= w->n)
		return;
	if(i != w->prev) {
		w->records[i]++;
		if(w->ntouched < w->n)
			w->touched[w->ntouched++] = i;
	}
	w->prev = i;
	w->bindings[i]++;
}

/* one page: scan from *cursor (advanced), then check that every AoR it
 * touched came with all its bindings each time it came (records never
 * split) */
static void walk_page(aor_table_t *t, struct walk *w, uint64_t *cursor,
		unsigned int max_records)
{
	int j, i;

	w->ntouched = 0;
	w->prev = -1;
	*cursor = aor_table_scan(t, *cursor, max_records, walk_cb, w);
	w->pages++;
	for(j = 0; j < w->ntouched; j++) {
		i = w->touched[j];
		if(w->bindings[i] != w->records[i] * scan_bindings_of(i))
			UNIT_FAIL("scan%d: %d bindings in %d records, a record has %d", i,
					w->bindings[i], w->records[i], scan_bindings_of(i));
	}
}

/* n stable AoRs of 1 to 3 bindings each; maint every maint_every inserts
 * (0: never, the table keeps its size) */
static void scan_fill(aor_table_t *t, int n, int maint_every)
{
	char aor[48], uri[48];
	int i, j;

	for(i = 0; i < n; i++) {
		scan_name(aor, sizeof(aor), "scan", i);
		for(j = 0; j < scan_bindings_of(i); j++) {
			snprintf(uri, sizeof(uri), "sip:s%d@192.0.2.%d", i, j + 1);
			add(t, mk(aor, uri, 0));
		}
		if(maint_every && i % maint_every == maint_every - 1)
			aor_table_maint(t, 64);
	}
}

#define SCAN_N 50000

/* a table that does not change during the walk: every page of
 * max_records (1, 100, 1000) holds whole records, and the walk returns
 * each AoR exactly once */
TEST(scan_visits_every_aor_exactly_once_in_whole_records)
{
	static const unsigned int sizes[] = {1, 100, 1000};
	aor_table_t *t = table_new(4);
	struct walk w;
	uint64_t cursor;
	unsigned int k;
	int i;

	ASSERT(t != NULL);
	scan_fill(t, SCAN_N, 100);
	while(aor_table_maint(t, 1024) != 0)
		;
	ASSERT_EQ(t->aors, SCAN_N);
	for(k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		walk_init(&w, SCAN_N);
		cursor = 0;
		do {
			walk_page(t, &w, &cursor, sizes[k]);
			ASSERT_OK_SO_FAR();
			ASSERT_LT(w.pages, 2 * (long)aor_table_size(t));
		} while(cursor != 0);
		for(i = 0; i < SCAN_N; i++)
			if(w.records[i] != 1)
				UNIT_FAIL("max_records %u: scan%d visited %d times", sizes[k],
						i, w.records[i]);
		/* pages are full but for the last: about n / max_records */
		if(sizes[k] > 1)
			ASSERT_LE(w.pages, SCAN_N / (long)sizes[k] + 2);
		walk_free(&w);
	}
	check_table(t);
	aor_table_free(t);
}

/* an empty table is walked in bounded pages to 0, calling nothing */
TEST(scan_of_an_empty_table_is_bounded_and_ends)
{
	aor_table_t *t = table_new(10);
	struct walk w;
	uint64_t cursor = 0;

	ASSERT(t != NULL);
	walk_init(&w, 1);
	do {
		walk_page(t, &w, &cursor, 4);
		ASSERT_OK_SO_FAR();
	} while(cursor != 0);
	/* 1,024 slots, at most AOR_SCAN_VISITS * 4 per page */
	ASSERT_EQ(
			w.pages, (1024 + AOR_SCAN_VISITS * 4 - 1) / (AOR_SCAN_VISITS * 4));
	walk_free(&w);
	aor_table_free(t);
}

/* churn between pages: adds "churn<i>" AoRs and removes older ones */
static void scan_churn(aor_table_t *t, int *next, int *oldest, int add_n,
		int del_n)
{
	char aor[48];
	aor_rec_t rec;
	str a;
	uint32_t h;

	for(; add_n > 0; add_n--, (*next)++) {
		scan_name(aor, sizeof(aor), "churn", *next);
		add(t, mk(aor, "sip:churn@192.0.2.9", 0));
	}
	for(; del_n > 0 && *oldest < *next; del_n--, (*oldest)++) {
		scan_name(aor, sizeof(aor), "churn", *oldest);
		a = STR_C(aor);
		h = aor_hash(&a);
		aor_table_lock(t, h);
		aor_table_find(t, h, &a, &rec);
		while(rec.n > 0)
			aor_rec_del(&rec, rec.link, AOR_CH_DELETED);
		aor_table_unlock(t, h);
	}
}

/* Between pages: others are added and removed, and maint steps grow the
 * table (several x4 resizes, walked while old slots are half drained):
 * every AoR present all along is still visited at least once. */
TEST(scan_visits_every_stable_aor_while_the_table_grows_and_churns)
{
	aor_table_t *t = table_new(4);
	int next = 0, oldest = 0, i, resizes = 0;
	uint32_t size0;
	struct walk w;
	uint64_t cursor = 0;

	ASSERT(t != NULL);
	/* 20,000 AoRs in 16 slots: the walk starts before any resize */
	scan_fill(t, 20000, 0);
	size0 = aor_table_size(t);
	walk_init(&w, 20000);
	do {
		walk_page(t, &w, &cursor, 50);
		ASSERT_OK_SO_FAR();
		if(aor_table_maint(t, 3) == 1 && t->gen->old_slots
				&& t->drain_pos == 0)
			resizes++;
		scan_churn(t, &next, &oldest, 60, 30);
		ASSERT_LT(w.pages, 1000000);
	} while(cursor != 0);
	for(i = 0; i < 20000; i++)
		if(w.records[i] < 1)
			UNIT_FAIL("scan%d never visited (%ld pages, %d resizes)", i,
					w.pages, resizes);
	ASSERT_GE(resizes, 3);
	ASSERT_GT(aor_table_size(t), size0 * 64);
	check_table(t);
	walk_free(&w);
	aor_table_free(t);
}

static volatile int sc_stop;

static void *sc_churn(void *p)
{
	aor_table_t *t = p;
	int next = 0, oldest = 0;

	while(!__atomic_load_n(&sc_stop, __ATOMIC_ACQUIRE) && next < 200000)
		scan_churn(t, &next, &oldest, 20, 10);
	return NULL;
}

static void *sc_maint(void *p)
{
	aor_table_t *t = p;

	while(!__atomic_load_n(&sc_stop, __ATOMIC_ACQUIRE))
		aor_table_maint(t, 8);
	return NULL;
}

/* the same with the churn and the resize in threads of their own, racing
 * the walk slot by slot under the locks */
TEST(scan_visits_every_stable_aor_with_concurrent_churn_and_resize)
{
	aor_table_t *t = table_new(4);
	pthread_t ct, mt;
	struct walk w;
	uint64_t cursor = 0;
	int i;

	ASSERT(t != NULL);
	scan_fill(t, 20000, 0);
	walk_init(&w, 20000);
	sc_stop = 0;
	ASSERT_EQ(pthread_create(&ct, NULL, sc_churn, t), 0);
	ASSERT_EQ(pthread_create(&mt, NULL, sc_maint, t), 0);
	/* the walk must race a resize: let the first one start (bounded), the
	 * next ones (x4 each, up to 20,000 AoRs) happen during the walk */
	for(i = 0; i < 10000000 && aor_table_size(t) == 16; i++)
		sched_yield();
	do {
		walk_page(t, &w, &cursor, 20);
	} while(cursor != 0 && !unit_failed && w.pages < 10000000);
	__atomic_store_n(&sc_stop, 1, __ATOMIC_RELEASE);
	pthread_join(ct, NULL);
	pthread_join(mt, NULL);
	ASSERT_OK_SO_FAR();
	for(i = 0; i < 20000; i++)
		if(w.records[i] < 1)
			UNIT_FAIL("scan%d never visited (%ld pages)", i, w.pages);
	ASSERT_GT(aor_table_size(t), 16);
	check_table(t);
	walk_free(&w);
	aor_table_free(t);
}

static double ns_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1e9 + (b.tv_nsec - a->tv_nsec);
}

/* test_store bench [n]: insert then find n AoRs (default 1,000,000) in a
 * table that starts at 2^4 slots and grows under a maint step every 100
 * inserts, as the timer would */
static int bench(int n)
{
	aor_table_t *t = table_new(4);
	char aor[48];
	struct timespec ts;
	aor_rec_t rec;
	int i, found = 0;
	str a;

	if(t == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for(i = 0; i < n; i++) {
		snprintf(aor, sizeof(aor), "bench%d@example.com", i);
		add(t, mk(aor, "sip:bench@192.0.2.1", 0));
		if(i % 100 == 99)
			aor_table_maint(t, 64);
	}
	printf("insert: %d AoRs, %.0f ns/op (slots %u)\n", n, ns_since(&ts) / n,
			aor_table_size(t));
	while(aor_table_maint(t, 1024) != 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for(i = 0; i < n; i++) {
		snprintf(aor, sizeof(aor), "bench%d@example.com", i);
		a = STR_C(aor);
		aor_table_lock(t, aor_hash(&a));
		found += aor_table_find(t, aor_hash(&a), &a, &rec);
		aor_table_unlock(t, aor_hash(&a));
	}
	printf("find:   %d AoRs, %.0f ns/op (found %d)\n", n, ns_since(&ts) / n,
			found);
	aor_table_free(t);
	return found == n ? 0 : 1;
}

TEST(id_node_keeps_every_id_in_the_node_residue_past_inserted_ones)
{
	aor_table_t *t = table_new(4), *u = table_new(4);
	aor_binding_t *b, *x;
	int i;

	ASSERT(t != NULL && u != NULL);
	aor_table_id_node(t, 7);
	aor_table_id_node(u, 9);
	for(i = 0; i < 50; i++) {
		b = mk("alice", i % 2 ? "sip:a@192.0.2.1" : "sip:a@192.0.2.2", 0);
		add(t, b);
		ASSERT_EQ(b->id % AOR_ID_NODES, 7);
		x = mk("alice", "sip:a@192.0.2.3", 0);
		add(u, x);
		ASSERT_EQ(x->id % AOR_ID_NODES, 9);
		ASSERT_NE(b->id, x->id);
	}
	/* a binding another node made (residue 9, far ahead) moves t's ids
	 * past it, still in t's residue */
	x = mk("bob", "sip:b@192.0.2.9", 0);
	x->id = ((t->next_id + 10 * AOR_ID_NODES) & ~(uint64_t)(AOR_ID_NODES - 1)) | 9;
	{
		str k = STR_C("bob");
		aor_rec_t rec;

		aor_table_lock(t, x->hash);
		aor_table_find(t, x->hash, &k, &rec);
		aor_rec_insert(&rec, x);
		aor_table_unlock(t, x->hash);
	}
	b = mk("carol", "sip:c@192.0.2.4", 0);
	add(t, b);
	ASSERT(b->id > x->id);
	ASSERT_EQ(b->id % AOR_ID_NODES, 7);
	aor_table_free(t);
	aor_table_free(u);
}

TEST(ops_replace_leaves_exactly_the_given_bindings_with_their_ids)
{
	aor_table_t *t = table_new(4);
	aor_binding_t *bs[3], *v[8];
	uint64_t ids[3];
	str alice = STR_C("alice");
	int n;

	ASSERT(t != NULL);
	add(t, mk("alice", "sip:a@192.0.2.1", 0));
	add(t, mk("alice", "sip:a@192.0.2.2", 0));
	add(t, mk("bob", "sip:b@192.0.2.3", 0));
	bs[0] = mk("alice", "sip:a@192.0.2.7", 0);
	bs[0]->id = 4242;
	bs[1] = mk("alice", "sip:a@192.0.2.8", 0);
	bs[1]->id = 0; /* another producer's: a new id */
	ASSERT_EQ(aor_ops_replace(t, &alice, bs, 2, AOR_ORIG_LOAD, ids), 2);
	ASSERT_EQ(ids[0], 4242);
	ASSERT(ids[1] != 0 && ids[1] != 4242);
	n = aor_ops_fetch(t, &alice, aor_test_now, v, 8);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(t->bindings, 3); /* bob's stays */
	ASSERT_EQ(t->aors, 2);
	aor_journal_reset_subscribers();
	/* nothing: the AoR goes */
	ASSERT_EQ(aor_ops_replace(t, &alice, bs, 0, AOR_ORIG_LOAD, ids), 0);
	ASSERT_EQ(aor_ops_fetch(t, &alice, aor_test_now, v, 8), 0);
	ASSERT_EQ(t->aors, 1);
	aor_table_free(t);
}

int main(int argc, char **argv)
{
	if(argc > 1 && strcmp(argv[1], "bench") == 0)
		return bench(argc > 2 ? atoi(argv[2]) : 1000000);
	return unit_run(argc > 1 ? argv[1] : NULL);
}
