/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The location store (see store.h for the locking rules): slot arrays,
 * records as runs of adjacent bindings, incremental resize, the expiry
 * step. Pure: no SIP parser, no struct sip_msg.
 */

#include <string.h>

#include "sys.h"
#include "errors.h"
#include "store.h"

#define AOR_LOCKS_LOG2_MAX 10 /* at most 1,024 locks per table */
#define AOR_SIZE_LOG2_MAX 30

/* blocks of AOR_HINT_SLOTS slots in an array of mask + 1 slots */
static inline uint32_t hint_blocks(uint32_t mask)
{
	return (mask >> AOR_HINT_LOG2) + 1;
}

/* bytes of a generation's arrays for mask + 1 slots */
static inline long gen_bytes(uint32_t mask)
{
	return (long)(mask + 1) * (long)sizeof(aor_binding_t *)
		   + (long)hint_blocks(mask) * (long)sizeof(uint32_t);
}

static aor_gen_t *gen_new(uint32_t size, aor_gen_t *old)
{
	aor_gen_t *g;

	g = AOR_ALLOC(sizeof(*g));
	if(g == NULL)
		return NULL;
	g->slots = AOR_ALLOC(size * sizeof(aor_binding_t *));
	g->hint = AOR_ALLOC(hint_blocks(size - 1) * sizeof(uint32_t));
	if(g->slots == NULL || g->hint == NULL) {
		if(g->slots)
			AOR_FREE(g->slots);
		if(g->hint)
			AOR_FREE(g->hint);
		AOR_FREE(g);
		return NULL;
	}
	memset(g->slots, 0, size * sizeof(aor_binding_t *));
	/* an empty array: nothing expires (UINT32_MAX); each binding added or
	 * drained into it lowers its block's hint */
	memset(g->hint, 0xff, hint_blocks(size - 1) * sizeof(uint32_t));
	g->mask = size - 1;
	g->old_slots = old ? old->slots : NULL;
	g->old_mask = old ? old->mask : 0;
	return g;
}

aor_table_t *aor_table_new(const str *name, unsigned int size_log2)
{
	aor_table_t *t;
	unsigned int lock_log2;

	if(size_log2 > AOR_SIZE_LOG2_MAX)
		size_log2 = AOR_SIZE_LOG2_MAX;
	lock_log2 = size_log2 < AOR_LOCKS_LOG2_MAX ? size_log2 : AOR_LOCKS_LOG2_MAX;
	t = AOR_ALLOC(sizeof(*t) + name->len + 1);
	if(t == NULL)
		goto error;
	memset(t, 0, sizeof(*t));
	t->name.s = (char *)(t + 1);
	memcpy(t->name.s, name->s, name->len);
	t->name.s[name->len] = '\0';
	t->name.len = name->len;
	t->lock_mask = (1u << lock_log2) - 1;
	t->locks = aor_lockset_new(1u << lock_log2);
	if(t->locks == NULL)
		goto error;
	t->gen = gen_new(1u << size_log2, NULL);
	if(t->gen == NULL)
		goto error;
	t->mem = gen_bytes(t->gen->mask);
	/* ids stay unique across restarts: start time in the high bits */
	t->next_id = (uint64_t)aor_now() << 24;
	return t;

error:
	AOR_LOG_ERR("table %.*s: no memory for 2^%u slots\n", name->len, name->s,
			size_log2);
	if(t && t->locks)
		aor_lockset_free(t->locks);
	if(t)
		AOR_FREE(t);
	return NULL;
}

static void chain_free(aor_binding_t *b)
{
	aor_binding_t *next;

	for(; b; b = next) {
		next = b->next;
		AOR_FREE(b);
	}
}

void aor_table_free(aor_table_t *t)
{
	aor_gen_t *g = t->gen;
	uint32_t i;

	for(i = 0; i <= g->mask; i++)
		chain_free(g->slots[i]);
	if(g->old_slots) {
		for(i = 0; i <= g->old_mask; i++)
			chain_free(g->old_slots[i]);
		AOR_FREE(g->old_slots);
	}
	AOR_FREE(g->slots);
	AOR_FREE(g->hint);
	AOR_FREE(g);
	aor_lockset_free(t->locks);
	AOR_FREE(t);
}

static inline aor_gen_t *gen_get(aor_table_t *t)
{
	return aor_atomic_load_acq(&t->gen);
}

/* the hint value for an expiry time: permanent bindings never lower it */
static inline uint32_t hint_of(time_t expires)
{
	if(expires <= 0)
		return UINT32_MAX;
	return (unsigned long long)expires >= UINT32_MAX ? UINT32_MAX - 1
													 : (uint32_t)expires;
}

/* lowers the hint of slot pos's block to v (atomic: the blocks' slots are
 * under different locks) */
static inline void hint_lower(aor_gen_t *g, uint32_t pos, uint32_t v)
{
	uint32_t *h = &g->hint[(pos & g->mask) >> AOR_HINT_LOG2];
	uint32_t cur = __atomic_load_n(h, __ATOMIC_RELAXED);

	while(v < cur
			&& !__atomic_compare_exchange_n(
					h, &cur, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

/* Moves old slot oi of g into g's current array. Lock of oi held: every
 * binding there maps to a new slot under the same lock. An AoR's bindings
 * stay adjacent: they arrive together and go to the same new slot. */
static void drain_old(aor_gen_t *g, uint32_t oi)
{
	aor_binding_t *b, *next;
	uint32_t ni;

	b = g->old_slots[oi];
	g->old_slots[oi] = NULL;
	for(; b; b = next) {
		next = b->next;
		ni = b->hash & g->mask;
		b->next = g->slots[ni];
		g->slots[ni] = b;
		hint_lower(g, ni, hint_of(b->expires));
	}
}

/* bindings in the run starting at *link that belong to the AoR of *link */
static int run_len(aor_binding_t *const *link)
{
	const aor_binding_t *first = *link, *b;
	str a, o;
	int n = 1;

	a = aor_binding_get(first, AOR_F_AOR);
	for(b = first->next; b; b = b->next, n++) {
		if(b->hash != first->hash)
			break;
		o = aor_binding_get(b, AOR_F_AOR);
		if(o.len != a.len || memcmp(o.s, a.s, a.len) != 0)
			break;
	}
	return n;
}

int aor_table_find(
		aor_table_t *t, uint32_t hash, const str *aor, aor_rec_t *rec)
{
	aor_gen_t *g = gen_get(t);
	aor_binding_t **link;
	str k;

	if(g->old_slots && g->old_slots[hash & g->old_mask])
		drain_old(g, hash & g->old_mask);
	rec->t = t;
	rec->n = 0;
	rec->hash = hash;
	rec->link = &g->slots[hash & g->mask];
	for(link = rec->link; *link; link = &(*link)->next) {
		if((*link)->hash != hash)
			continue;
		k = aor_binding_get(*link, AOR_F_AOR);
		if(k.len == aor->len && memcmp(k.s, aor->s, k.len) == 0) {
			rec->link = link;
			rec->n = run_len(link);
			break;
		}
	}
	return rec->n;
}

void aor_rec_expiry(aor_rec_t *rec, time_t expires)
{
	/* lock held: the generation cannot change under it */
	hint_lower(gen_get(rec->t), rec->hash, hint_of(expires));
}

static void rec_link(aor_rec_t *rec, aor_binding_t *b)
{
	aor_table_t *t = rec->t;

	aor_rec_expiry(rec, b->expires);
	b->next = *rec->link;
	*rec->link = b;
	if(rec->n++ == 0)
		aor_atomic_add(&t->aors, 1);
	aor_atomic_add(&t->bindings, 1);
	aor_atomic_add(&t->mem, (long)aor_binding_size(b));
}

void aor_rec_add(aor_rec_t *rec, aor_binding_t *b)
{
	b->id = aor_atomic_add(&rec->t->next_id, 1);
	rec_link(rec, b);
}

void aor_rec_insert(aor_rec_t *rec, aor_binding_t *b)
{
	uint64_t cur = aor_atomic_get(&rec->t->next_id);

	while(cur < b->id
			&& !__atomic_compare_exchange_n(&rec->t->next_id, &cur, b->id, 0,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	rec_link(rec, b);
}

/* takes the binding at *link out of the store; returns it */
static aor_binding_t *rec_unlink(aor_rec_t *rec, aor_binding_t **link)
{
	aor_table_t *t = rec->t;
	aor_binding_t *b = *link;

	*link = b->next;
	if(--rec->n == 0)
		aor_atomic_add(&t->aors, -1);
	aor_atomic_add(&t->bindings, -1);
	aor_atomic_add(&t->mem, -(long)aor_binding_size(b));
	return b;
}

void aor_rec_del(aor_rec_t *rec, aor_binding_t **link)
{
	AOR_FREE(rec_unlink(rec, link));
}

void aor_rec_swap(aor_rec_t *rec, aor_binding_t **link, aor_binding_t *nb)
{
	aor_binding_t *b = *link;

	nb->next = b->next;
	nb->id = b->id;
	*link = nb;
	aor_rec_expiry(rec, nb->expires);
	aor_atomic_add(&rec->t->mem,
			(long)aor_binding_size(nb) - (long)aor_binding_size(b));
	AOR_FREE(b);
}

/* Walks the runs of one slot chain; unlinks the bindings expired at now
 * (all of them with all) onto the list at **tail, and lowers *min to the
 * hint of each binding that stays. Lock held. */
static int slot_sweep(aor_table_t *t, aor_binding_t **head, time_t now, int all,
		aor_binding_t ***tail, uint32_t *min)
{
	aor_rec_t rec;
	aor_binding_t **link, *b;
	int removed = 0, i, n;
	uint32_t v;

	while(*head) {
		rec.t = t;
		rec.link = head;
		rec.hash = (*head)->hash;
		rec.n = run_len(head);
		link = head;
		n = rec.n;
		for(i = 0; i < n; i++) {
			if(all || aor_binding_expired(*link, now)) {
				b = rec_unlink(&rec, link);
				b->next = NULL;
				**tail = b;
				*tail = &b->next;
				removed++;
			} else {
				v = hint_of((*link)->expires);
				if(v < *min)
					*min = v;
				link = &(*link)->next;
			}
		}
		head = link;
	}
	return removed;
}

/* returns -1 when pos is past the current array */
static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* when a walk took a slot lock: the wall clock (vDSO, cheap) and, for the
 * holds that do work, this process's CPU time (a system call: not paid by
 * the idle visits of the expiry sweep, a million a minute at 1M AoRs) */
typedef struct hold
{
	uint64_t wall, cpu;
	int timed;
} hold_t;

static void hold_start(hold_t *h, int work)
{
	h->wall = clock_ns(CLOCK_MONOTONIC);
	h->timed = work;
	if(work)
		h->cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void max_note(uint64_t *m, uint64_t d)
{
	uint64_t cur = aor_atomic_get(m);

	while(d > cur
			&& !__atomic_compare_exchange_n(
					m, &cur, d, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* records a walk's lock hold begun at h (the bound the walks promise: one
 * slot per hold, measured): the wall time, which includes being preempted
 * while holding it, and the CPU time, which is the work done under it */
static void hold_note(aor_table_t *t, const hold_t *h)
{
	max_note(&t->hold_max_ns, clock_ns(CLOCK_MONOTONIC) - h->wall);
	if(h->timed)
		max_note(&t->hold_max_cpu_ns,
				clock_ns(CLOCK_THREAD_CPUTIME_ID) - h->cpu);
}

/* 1 when a sweep of the slot at *head (with all, or anything expired) or
 * of the old slot that drains into it has work to do */
static int slot_work(aor_gen_t *g, uint32_t pos, time_t now, int all)
{
	const aor_binding_t *b;

	if(g->old_slots && g->old_slots[pos & g->old_mask])
		return 1;
	for(b = g->slots[pos]; b; b = b->next)
		if(all || aor_binding_expired(b, now))
			return 1;
	return 0;
}

/* Sweeps slot pos under its lock (expired bindings, or all); lowers *min
 * to the hint of what stays. The bindings removed are handed to cb and
 * freed after the lock is released: the hold is only the unlinking, and
 * the allocator's own lock is never taken under a slot lock here. */
static int slot_clean(aor_table_t *t, uint32_t pos, time_t now, int all,
		aor_expire_cb cb, void *arg, uint32_t *min)
{
	aor_binding_t *gone = NULL, **tail = &gone, *b, *next;
	aor_gen_t *g;
	hold_t h;
	int n = -1;

	aor_lockset_get(t->locks, pos & t->lock_mask);
	g = gen_get(t);
	hold_start(&h, pos <= g->mask && slot_work(g, pos, now, all));
	if(pos <= g->mask) {
		if(g->old_slots && g->old_slots[pos & g->old_mask])
			drain_old(g, pos & g->old_mask);
		n = slot_sweep(t, &g->slots[pos], now, all, &tail, min);
	}
	hold_note(t, &h);
	aor_lockset_release(t->locks, pos & t->lock_mask);
	for(b = gone; b; b = next) {
		next = b->next;
		if(cb)
			cb(b, arg);
		AOR_FREE(b);
	}
	return n;
}

int aor_table_expire_slot(aor_table_t *t, uint32_t pos, time_t now,
		aor_expire_cb on_expire, void *arg)
{
	uint32_t min = UINT32_MAX;
	int n = slot_clean(t, pos, now, 0, on_expire, arg, &min);

	return n < 0 ? 0 : n;
}

long aor_table_expire_step(aor_table_t *t, unsigned int blocks, time_t now,
		aor_expire_cb on_expire, void *arg)
{
	/* only the caller's process replaces the generation (aor_table_maint) */
	aor_gen_t *g = gen_get(t);
	uint32_t pos, end, blk, min, *h;
	long removed = 0;
	int k;

	/* bounded: `blocks` blocks, one slot per lock hold */
	while(blocks-- > 0) {
		pos = t->expire_pos & ~(AOR_HINT_SLOTS - 1);
		if(pos > g->mask)
			pos = 0;
		blk = pos >> AOR_HINT_LOG2;
		end = pos + AOR_HINT_SLOTS;
		if(end > g->mask + 1)
			end = g->mask + 1; /* an array smaller than a block */
		t->expire_pos = end;
		h = &g->hint[blk];
		if((time_t)__atomic_load_n(h, __ATOMIC_SEQ_CST) > now)
			continue; /* nothing in the block has expired yet */
		/* raised before the visit, so that a binding added to a slot
		 * already visited lowers it again (hint_lower) */
		__atomic_store_n(h, UINT32_MAX, __ATOMIC_SEQ_CST);
		min = UINT32_MAX;
		aor_atomic_add(&t->expire_visits, end - pos);
		for(; pos < end; pos++) {
			k = slot_clean(t, pos, now, 0, on_expire, arg, &min);
			if(k > 0)
				removed += k;
		}
		hint_lower(g, blk << AOR_HINT_LOG2, min);
	}
	return removed;
}

int aor_table_flush_slot(
		aor_table_t *t, uint32_t pos, aor_expire_cb on_del, void *arg)
{
	uint32_t min = UINT32_MAX;

	return slot_clean(t, pos, 0, 1, on_del, arg, &min);
}

long aor_table_flush(aor_table_t *t, aor_expire_cb on_del, void *arg)
{
	uint32_t min = UINT32_MAX;
	long n = 0;
	uint32_t pos;
	int k;

	/* bounded per lock hold: one slot; the array may grow meanwhile and
	 * the loop then covers the larger one */
	for(pos = 0; (k = slot_clean(t, pos, 0, 1, on_del, arg, &min)) >= 0; pos++)
		n += k;
	return n;
}

void aor_table_unlock_all(aor_table_t *t)
{
	uint32_t i;

	for(i = 0; i <= t->lock_mask; i++)
		aor_lockset_release(t->locks, i);
}

uint32_t aor_table_size(aor_table_t *t)
{
	return gen_get(t)->mask + 1;
}

/* Waits until no process still uses a generation replaced before the call:
 * readers load the generation under a slot lock, so once each lock has
 * been free once, none holds the old one. */
static void lock_barrier(aor_table_t *t)
{
	uint32_t i;

	for(i = 0; i <= t->lock_mask; i++) {
		aor_lockset_get(t->locks, i);
		aor_lockset_release(t->locks, i);
	}
}

static int resize_start(aor_table_t *t, aor_gen_t *g)
{
	aor_gen_t *ng;
	uint32_t size;

	/* grow fourfold when there are more AoRs than slots */
	if((unsigned long)aor_atomic_get(&t->aors) <= (unsigned long)g->mask + 1
			|| g->mask >= (1u << AOR_SIZE_LOG2_MAX) - 1)
		return 0;
	size = (g->mask + 1) << 2;
	ng = gen_new(size, g);
	if(ng == NULL) {
		AOR_LOG_ERR("table %.*s: no memory to grow to %u slots\n", t->name.len,
				t->name.s, size);
		return AOR_E_NOMEM;
	}
	aor_atomic_add(&t->mem, gen_bytes(size - 1));
	t->drain_pos = 0;
	aor_atomic_set(&t->gen, ng);
	lock_barrier(t);
	/* the old slots live on in ng; their hints are not needed: each
	 * binding drained lowers the hint of its new block */
	aor_atomic_add(
			&t->mem, -(long)hint_blocks(g->mask) * (long)sizeof(uint32_t));
	AOR_FREE(g->hint);
	AOR_FREE(g);
	AOR_LOG_DBG(
			"table %.*s: growing to %u slots\n", t->name.len, t->name.s, size);
	return 1;
}

static void resize_finish(aor_table_t *t, aor_gen_t *g)
{
	aor_gen_t *ng;

	ng = AOR_ALLOC(sizeof(*ng));
	if(ng == NULL)
		return; /* all old slots are empty; try again next step */
	ng->mask = g->mask;
	ng->slots = g->slots;
	ng->hint = g->hint;
	ng->old_slots = NULL;
	ng->old_mask = 0;
	aor_atomic_set(&t->gen, ng);
	lock_barrier(t);
	aor_atomic_add(&t->mem, -(long)((g->old_mask + 1) * sizeof(void *)));
	AOR_FREE(g->old_slots);
	AOR_FREE(g);
}

int aor_table_maint(aor_table_t *t, unsigned int budget)
{
	aor_gen_t *g = gen_get(t);
	hold_t h;
	uint32_t pos;

	if(g->old_slots == NULL)
		return resize_start(t, g);
	/* bounded: at most budget old slots, one lock hold each */
	while(budget-- > 0 && t->drain_pos <= g->old_mask) {
		pos = t->drain_pos++;
		aor_lockset_get(t->locks, pos & t->lock_mask);
		if(g->old_slots[pos]) {
			hold_start(&h, 1);
			drain_old(g, pos);
			hold_note(t, &h);
		}
		aor_lockset_release(t->locks, pos & t->lock_mask);
	}
	if(t->drain_pos > g->old_mask) {
		resize_finish(t, g);
		return gen_get(t)->old_slots != NULL;
	}
	return 1;
}

/* v with its 64 bits in reverse order (Redis's rev) */
static uint64_t rev64(uint64_t v)
{
	uint64_t mask = ~(uint64_t)0;
	unsigned int s = 64;

	while((s >>= 1) > 0) {
		mask ^= (mask << s);
		v = ((v >> s) & mask) | ((v << s) & ~mask);
	}
	return v;
}

/* The cursor after v in an array of mask + 1 slots: increments the
 * reversed bits, so that the high bits of a slot index change first and
 * the four slots an old slot splits into when the array grows x4 are
 * visited one after the other. 0 after the last slot. */
static uint64_t cursor_next(uint64_t v, uint32_t mask)
{
	v |= ~(uint64_t)mask;
	v = rev64(v);
	v++;
	return rev64(v);
}

static int same_key(const aor_binding_t *a, const aor_binding_t *b)
{
	str x, y;

	if(a->hash != b->hash)
		return 0;
	x = aor_binding_get(a, AOR_F_AOR);
	y = aor_binding_get(b, AOR_F_AOR);
	return x.len == y.len && memcmp(x.s, y.s, x.len) == 0;
}

/* Visits the slot of *cursor under its lock and advances *cursor; returns
 * the number of records in the slot. The lock of cursor & lock_mask covers
 * the slot in the current array and the old slot that maps to it, whatever
 * the array sizes (both are at least the lock count). */
static unsigned int scan_slot(
		aor_table_t *t, uint64_t *cursor, aor_scan_cb cb, void *arg)
{
	uint32_t lk = (uint32_t)*cursor & t->lock_mask, pos;
	const aor_binding_t *b, *prev = NULL;
	unsigned int n = 0;
	aor_gen_t *g;

	aor_lockset_get(t->locks, lk);
	g = gen_get(t);
	pos = (uint32_t)*cursor & g->mask;
	if(g->old_slots && g->old_slots[pos & g->old_mask])
		drain_old(g, pos & g->old_mask);
	for(b = g->slots[pos]; b; prev = b, b = b->next) {
		if(prev == NULL || !same_key(prev, b))
			n++;
		cb(b, arg);
	}
	*cursor = cursor_next(*cursor, g->mask);
	aor_lockset_release(t->locks, lk);
	return n;
}

uint64_t aor_table_scan(aor_table_t *t, uint64_t cursor,
		unsigned int max_records, aor_scan_cb cb, void *arg)
{
	unsigned long visits, records = 0;

	if(max_records == 0)
		max_records = 1;
	/* bounded: at most AOR_SCAN_VISITS * max_records slots, one lock
	 * hold each */
	visits = (unsigned long)AOR_SCAN_VISITS * max_records;
	do {
		records += scan_slot(t, &cursor, cb, arg);
	} while(cursor != 0 && records < max_records && --visits > 0);
	return cursor;
}

void aor_table_hold_reset(aor_table_t *t)
{
	aor_atomic_set(&t->hold_max_ns, 0);
	aor_atomic_set(&t->hold_max_cpu_ns, 0);
}

void aor_table_stat(aor_table_t *t, aor_table_stat_t *st)
{
	aor_gen_t *g;

	/* the generation is read under a slot lock (see lock_barrier) */
	aor_lockset_get(t->locks, 0);
	g = gen_get(t);
	st->slots = g->mask + 1;
	st->resizing = g->old_slots != NULL;
	aor_lockset_release(t->locks, 0);
	st->aors = aor_atomic_get(&t->aors);
	st->bindings = aor_atomic_get(&t->bindings);
	st->mem = aor_atomic_get(&t->mem);
	st->hold_max_ns = aor_atomic_get(&t->hold_max_ns);
	st->hold_max_cpu_ns = aor_atomic_get(&t->hold_max_cpu_ns);
}
