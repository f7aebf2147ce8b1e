/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The operations layer (see ops.h): the registry, the lock sites of the
 * operations on one AoR, and the walks. Pure: no SIP parser.
 */

#include <ctype.h>
#include <string.h>

#include "sys.h"
#include "errors.h"
#include "ops.h"

#define AOR_TABLE_NAME_MAX 64

/* ------------------------------------------------------------------ */
/* the registry: built before the fork, read-only after it            */

static aor_table_t **registry;
static unsigned int reg_size_log2;
static int (*reg_on_new)(aor_table_t *t);
static int sealed;

int aor_ops_init(unsigned int size_log2, int (*on_new)(aor_table_t *t))
{
	registry = AOR_ALLOC(sizeof(*registry));
	if(registry == NULL) {
		AOR_LOG_ERR("no shared memory for the table registry\n");
		return -1;
	}
	*registry = NULL;
	reg_size_log2 = size_log2;
	reg_on_new = on_new;
	sealed = 0;
	return 0;
}

void aor_ops_seal(void)
{
	sealed = 1;
}

void aor_ops_destroy(void)
{
	aor_table_t *t, *next;

	if(registry == NULL)
		return;
	for(t = *registry; t; t = next) {
		next = t->next;
		aor_table_free(t);
	}
	AOR_FREE(registry);
	registry = NULL;
}

aor_table_t *aor_tables(void)
{
	return registry ? *registry : NULL;
}

/* a table name is a short plain word: it is a counter name, an RPC
 * argument and an attribute of the snapshot file */
static int table_name_ok(const str *name)
{
	int i;

	if(name->len <= 0 || name->len > AOR_TABLE_NAME_MAX)
		goto bad;
	for(i = 0; i < name->len; i++)
		if(!isalnum((unsigned char)name->s[i]) && name->s[i] != '_'
				&& name->s[i] != '-' && name->s[i] != '.')
			goto bad;
	return 1;
bad:
	AOR_LOG_ERR("table name \"%.*s\" refused: 1 to %d letters, digits, '_', "
				"'-' or '.'\n",
			name->len > 80 ? 80 : name->len, name->s, AOR_TABLE_NAME_MAX);
	return 0;
}

aor_table_t *aor_table_get(const str *name)
{
	aor_table_t *t;

	/* the script's functions pass the table's own name (hot path) */
	for(t = aor_tables(); t; t = t->next)
		if(t->name.s == name->s)
			return t;
	for(t = aor_tables(); t; t = t->next)
		if(t->name.len == name->len
				&& strncasecmp(t->name.s, name->s, name->len) == 0)
			return t;
	if(!table_name_ok(name))
		return NULL;
	if(registry == NULL || sealed) {
		AOR_LOG_ERR("no table named %.*s (tables are named in the script)\n",
				name->len, name->s);
		return NULL;
	}
	t = aor_table_new(name, reg_size_log2);
	if(t == NULL)
		return NULL;
	if(reg_on_new && reg_on_new(t) < 0) {
		aor_table_free(t);
		return NULL;
	}
	t->next = *registry;
	*registry = t;
	return t;
}

/* ------------------------------------------------------------------ */
/* operations on one AoR: one lock site each                          */

static AOR_LOCAL aor_copybuf_t save_copies, fetch_copies;

#ifdef AOR_UNIT_TEST
static void copies_free(void)
{
	free(save_copies.p);
	free(fetch_copies.p);
	save_copies.p = fetch_copies.p = NULL;
	save_copies.cap = fetch_copies.cap = 0;
}
#endif
AOR_LOCAL_CLEANUP(copies_free)

int aor_ops_save(aor_table_t *t, const aor_regreq_t *req,
		const aor_limits_t *lim, aor_plan_t *plan, enum aor_origin o,
		aor_binding_t **out, int max)
{
	enum aor_origin prev = aor_journal_origin(o);
	aor_rec_t rec;
	int ret = 0;

	aor_table_lock(t, req->hash);
	aor_table_find(t, req->hash, &req->aor, &rec);
	/* RFC 3261 10.3 step 6 note: no Contact is a query; the merge makes
	 * room for the copy of the result before it changes anything */
	if(req->star || req->ncontacts > 0)
		ret = aor_merge_apply(&rec, req, lim, plan, &save_copies);
	if(ret == 0)
		ret = aor_rec_copy(&rec, req->now, &save_copies, out, max);
	local_track();
	aor_table_unlock(t, req->hash);
	aor_journal_origin(prev);
	return ret;
}

int aor_ops_fetch(aor_table_t *t, const str *key, time_t now,
		aor_binding_t **out, int max)
{
	uint32_t hash = aor_hash(key);
	aor_rec_t rec;
	int n;

	aor_table_lock(t, hash);
	aor_table_find(t, hash, key, &rec);
	n = rec.n ? aor_rec_copy(&rec, now, &fetch_copies, out, max) : 0;
	aor_table_unlock(t, hash);
	local_track();
	return n;
}

int aor_match_id(const aor_binding_t *b, const void *arg)
{
	return b->id == *(const uint64_t *)arg;
}

int aor_ops_remove(aor_table_t *t, const str *key, aor_match_f match,
		const void *arg, enum aor_origin o)
{
	return aor_ops_remove_as(t, key, match, arg, o, AOR_CH_DELETED);
}

int aor_ops_remove_as(aor_table_t *t, const str *key, aor_match_f match,
		const void *arg, enum aor_origin o, enum aor_change kind)
{
	enum aor_origin prev = aor_journal_origin(o);
	uint32_t hash = aor_hash(key);
	aor_binding_t **link;
	aor_rec_t rec;
	int removed = 0, i, n;

	aor_table_lock(t, hash);
	aor_table_find(t, hash, key, &rec);
	n = rec.n;
	if(aor_journal_reserve(n, 0) < 0) {
		removed = AOR_E_NOMEM;
		n = 0;
	}
	link = rec.link;
	for(i = 0; i < n; i++) {
		if(match && !match(*link, arg)) {
			link = &(*link)->next;
			continue;
		}
		aor_rec_del(&rec, link, kind);
		removed++;
	}
	aor_table_unlock(t, hash);
	aor_journal_origin(prev);
	aor_journal_after();
	return removed;
}

/* 1 when rec already holds a binding with id (a snapshot writer meets a
 * binding twice when a table grows under its walk) */
static int has_id(const aor_rec_t *rec, uint64_t id)
{
	aor_binding_t *b = *rec->link;
	int i;

	for(i = 0; i < rec->n; i++, b = b->next)
		if(b->id == id)
			return 1;
	return 0;
}

int aor_ops_restore(aor_table_t *t, aor_binding_t *b, enum aor_origin o)
{
	enum aor_origin prev = aor_journal_origin(o);
	str key = aor_binding_get(b, AOR_F_AOR);
	aor_rec_t rec;
	int dup = 0;

	aor_table_lock(t, b->hash);
	aor_table_find(t, b->hash, &key, &rec);
	if(aor_journal_reserve(1, aor_journal_copy_size(b)) < 0)
		dup = AOR_E_NOMEM;
	else if(b->id != 0 && has_id(&rec, b->id))
		dup = 1;
	else if(b->id != 0)
		aor_rec_insert(&rec, b);
	else
		aor_rec_add(&rec, b); /* another producer's binding: a new id */
	aor_table_unlock(t, b->hash);
	aor_journal_origin(prev);
	aor_journal_after();
	return dup;
}

int aor_ops_replace(aor_table_t *t, const str *key, aor_binding_t **bs, int n,
		enum aor_origin o, uint64_t *ids)
{
	enum aor_origin prev = aor_journal_origin(o);
	uint32_t hash = aor_hash(key);
	size_t bytes = 0;
	aor_rec_t rec;
	int i, old, r = 0;

	for(i = 0; i < n; i++)
		bytes += aor_journal_copy_size(bs[i]);
	aor_table_lock(t, hash);
	aor_table_find(t, hash, key, &rec);
	old = rec.n;
	if(aor_journal_reserve(old + n, bytes) < 0) {
		r = AOR_E_NOMEM;
	} else {
		while(rec.n > 0)
			aor_rec_del(&rec, rec.link, AOR_CH_DELETED);
		for(i = 0; i < n; i++) {
			bs[i]->hash = hash;
			if(bs[i]->id != 0)
				aor_rec_insert(&rec, bs[i]);
			else
				aor_rec_add(&rec, bs[i]);
			ids[i] = bs[i]->id;
		}
		r = n;
	}
	aor_table_unlock(t, hash);
	aor_journal_origin(prev);
	aor_journal_after();
	return r;
}

void aor_ops_done(void)
{
	aor_journal_after();
}

/* ------------------------------------------------------------------ */
/* walks: one slot lock held at a time                                */

static inline void slot_lock(aor_table_t *t, uint32_t lk)
{
	aor_lockset_get(t->locks, lk & t->lock_mask);
}

static inline void slot_unlock(aor_table_t *t, uint32_t lk)
{
	aor_lockset_release(t->locks, lk & t->lock_mask);
	aor_journal_flush();
}

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

/* Sweeps slot pos under its lock (expired bindings, or all); lowers *min
 * to the hint of what stays. The removed blocks are freed by the journal
 * after the release: the hold is only the unlinking. Returns the number
 * removed, or -1 past the array. */
static int slot_clean(
		aor_table_t *t, uint32_t pos, time_t now, int all, uint32_t *min)
{
	hold_t h;
	int n;

	slot_lock(t, pos);
	hold_start(&h, aor_slot_has_work(t, pos, now, all));
	n = aor_slot_sweep(t, pos, now, all, min);
	hold_note(t, &h);
	slot_unlock(t, pos);
	return n;
}

int aor_table_expire_slot(aor_table_t *t, uint32_t pos, time_t now)
{
	uint32_t min = UINT32_MAX;
	int n = slot_clean(t, pos, now, 0, &min);

	aor_journal_after();
	return n < 0 ? 0 : n;
}

long aor_table_expire_step(aor_table_t *t, unsigned int blocks, time_t now)
{
	uint32_t pos, end, min;
	long removed = 0;
	int k;

	/* bounded: `blocks` blocks, one slot per lock hold */
	while(blocks-- > 0) {
		if(!aor_expire_block_next(t, now, &pos, &end))
			continue;
		min = UINT32_MAX;
		for(; pos < end; pos++) {
			k = slot_clean(t, pos, now, 0, &min);
			if(k > 0) {
				removed += k;
				aor_journal_after();
			}
		}
		aor_expire_block_done(t, end - 1, min);
	}
	return removed;
}

int aor_table_flush_slot(aor_table_t *t, uint32_t pos, enum aor_origin o)
{
	enum aor_origin prev = aor_journal_origin(o);
	uint32_t min = UINT32_MAX;
	int n = 0, k;

	/* a slot larger than the journal could take goes in several holds;
	 * the last one finds it empty */
	do {
		k = slot_clean(t, pos, 0, 1, &min);
		n += k > 0 ? k : 0;
	} while(k > 0);
	aor_journal_origin(prev);
	aor_journal_after();
	return k < 0 ? -1 : n;
}

long aor_table_flush(aor_table_t *t, enum aor_origin o)
{
	long n = 0;
	uint32_t pos;
	int k;

	/* bounded per lock hold: one slot; the array may grow meanwhile and
	 * the loop then covers the larger one */
	for(pos = 0; (k = aor_table_flush_slot(t, pos, o)) >= 0; pos++)
		n += k;
	return n;
}

uint64_t aor_table_scan(aor_table_t *t, uint64_t cursor,
		unsigned int max_records, aor_scan_cb cb, void *arg)
{
	unsigned long visits, records = 0;
	uint32_t lk;

	if(max_records == 0)
		max_records = 1;
	/* bounded: at most AOR_SCAN_VISITS * max_records slots, one lock
	 * hold each */
	visits = (unsigned long)AOR_SCAN_VISITS * max_records;
	do {
		lk = aor_cursor_lock(t, cursor);
		slot_lock(t, lk);
		records += aor_slot_visit(t, &cursor, cb, arg);
		slot_unlock(t, lk);
	} while(cursor != 0 && records < max_records && --visits > 0);
	return cursor;
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

int aor_table_maint(aor_table_t *t, unsigned int budget)
{
	aor_gen_t *old;
	uint32_t pos;
	hold_t h;
	int r;

	if(!aor_table_resizing(t)) {
		r = aor_resize_start(t, &old);
		if(r == 1) {
			lock_barrier(t);
			aor_gen_retire(t, old);
		}
		return r;
	}
	/* bounded: at most budget old slots, one lock hold each */
	while(budget-- > 0 && aor_resize_next(t, &pos)) {
		slot_lock(t, pos);
		hold_start(&h, 1);
		if(aor_slot_drain(t, pos))
			hold_note(t, &h);
		slot_unlock(t, pos);
	}
	if(!aor_resize_drained(t))
		return 1;
	old = aor_resize_finish(t);
	if(old == NULL)
		return 1;
	lock_barrier(t);
	aor_gen_retire(t, old);
	return 0;
}

uint32_t aor_table_size(aor_table_t *t)
{
	uint32_t n;

	/* the generation is read under a slot lock (see lock_barrier) */
	slot_lock(t, 0);
	n = aor_table_slots(t);
	slot_unlock(t, 0);
	return n;
}

void aor_table_stat(aor_table_t *t, aor_table_stat_t *st)
{
	slot_lock(t, 0);
	st->slots = aor_table_slots(t);
	st->resizing = aor_table_resizing(t);
	slot_unlock(t, 0);
	st->aors = aor_atomic_get(&t->aors);
	st->bindings = aor_atomic_get(&t->bindings);
	st->mem = aor_atomic_get(&t->mem);
	st->hold_max_ns = aor_atomic_get(&t->hold_max_ns);
	st->hold_max_cpu_ns = aor_atomic_get(&t->hold_max_cpu_ns);
}

void aor_table_hold_reset(aor_table_t *t)
{
	aor_atomic_set(&t->hold_max_ns, 0);
	aor_atomic_set(&t->hold_max_cpu_ns, 0);
}

void aor_table_unlock_all(aor_table_t *t)
{
	uint32_t i;

	for(i = 0; i <= t->lock_mask; i++)
		aor_lockset_release(t->locks, i);
}

/* ------------------------------------------------------------------ */
/* reads for the usrloc C API                                          */

long aor_table_visit_stride(aor_table_t *t, uint32_t first, uint32_t step,
		aor_scan_cb cb, void *arg)
{
	uint64_t cursor;
	uint32_t size, pos;
	long n = 0;

	if(step == 0)
		step = 1;
	size = aor_table_size(t);
	/* bounded: size / step slots, one lock hold each; the cursor of a slot
	 * is its index, so aor_slot_visit takes exactly slot pos */
	for(pos = first; pos < size; pos += step) {
		cursor = pos;
		slot_lock(t, pos);
		aor_slot_visit(t, &cursor, cb, arg);
		slot_unlock(t, pos);
		n++;
		if(pos > UINT32_MAX - step)
			break;
	}
	return n;
}

typedef struct id_find
{
	uint32_t hash;
	uint64_t id;
	const aor_binding_t *b;
} id_find_t;

static void id_find_cb(const aor_binding_t *b, void *arg)
{
	id_find_t *f = arg;

	if(f->b == NULL && b->hash == f->hash && b->id == f->id)
		f->b = b;
}

int aor_ops_fetch_id(aor_table_t *t, uint32_t hash, uint64_t id, time_t now,
		aor_binding_t **out, int max)
{
	id_find_t f = {hash, id, NULL};
	uint64_t cursor = hash;
	aor_rec_t rec;
	str key;
	int n = 0;

	aor_table_lock(t, hash);
	/* the slot of hash holds the binding, if any; its record follows */
	aor_slot_visit(t, &cursor, id_find_cb, &f);
	if(f.b) {
		key = aor_binding_get(f.b, AOR_F_AOR);
		aor_table_find(t, hash, &key, &rec);
		n = rec.n ? aor_rec_copy(&rec, now, &fetch_copies, out, max) : 0;
	}
	aor_table_unlock(t, hash);
	local_track();
	return n;
}

int aor_ops_expire_by(aor_table_t *t, uint32_t hash, uint64_t id,
		time_t until, enum aor_origin o)
{
	enum aor_origin prev = aor_journal_origin(o);
	id_find_t f = {hash, id, NULL};
	uint64_t cursor = hash;
	aor_binding_in_t in;
	aor_binding_t *b;
	aor_rec_t rec;
	str key;
	int i, k, ret = 0;

	aor_table_lock(t, hash);
	aor_slot_visit(t, &cursor, id_find_cb, &f);
	if(f.b) {
		key = aor_binding_get(f.b, AOR_F_AOR);
		aor_table_find(t, hash, &key, &rec);
		for(i = 0, b = *rec.link; i < rec.n; i++, b = b->next)
			if(b->id == id)
				break;
		if(i < rec.n && (b->expires == 0 || b->expires > until)) {
			if(aor_journal_reserve(1, aor_journal_copy_size(b)) < 0) {
				ret = AOR_E_NOMEM;
			} else {
				/* the same strings: refreshed in place, expiry alone */
				memset(&in, 0, sizeof(in));
				for(k = 0; k < AOR_F_COUNT; k++)
					in.f[k] = aor_binding_get(b, k);
				in.id = b->id;
				in.expires = until;
				in.modified = b->modified;
				in.sock = b->sock;
				in.hash = b->hash;
				in.cseq = b->cseq;
				in.cflags = b->cflags;
				in.methods = b->methods;
				in.reg_id = b->reg_id;
				in.conn_id = b->conn_id;
				in.q = b->q;
				aor_rec_refresh(&rec, b, &in);
				ret = 1;
			}
		}
	}
	aor_table_unlock(t, hash);
	aor_journal_origin(prev);
	aor_journal_after();
	return ret;
}

int aor_ops_ka_answered(
		aor_table_t *t, uint32_t hash, uint64_t id, time_t when, uint32_t rtt)
{
	id_find_t f = {hash, id, NULL};
	uint64_t cursor = hash;
	aor_binding_t *b;

	aor_table_lock(t, hash);
	aor_slot_visit(t, &cursor, id_find_cb, &f);
	if(f.b) {
		/* not a change of the binding: no journal entry, as stock's
		 * ul_update_keepalive writes neither the database nor events */
		b = (aor_binding_t *)f.b;
		b->ka_last = when;
		b->ka_rtt = rtt;
	}
	aor_table_unlock(t, hash);
	return f.b != NULL;
}

/* ---- replication ---- */

int aor_ops_put(aor_table_t *t, aor_binding_t *b, time_t now)
{
	enum aor_origin prev = aor_journal_origin(AOR_ORIG_PEER);
	str key = aor_binding_get(b, AOR_F_AOR);
	aor_rec_t rec;
	int r;

	b->hash = aor_hash(&key);
	aor_table_lock(t, b->hash);
	aor_table_find(t, b->hash, &key, &rec);
	/* a replaced binding and the new one */
	if(aor_journal_reserve(2, aor_journal_copy_size(b)) < 0)
		r = AOR_E_NOMEM;
	else
		r = aor_rec_put(&rec, b, now);
	aor_table_unlock(t, b->hash);
	aor_journal_origin(prev);
	aor_journal_after();
	return r;
}

int aor_ops_drop(aor_table_t *t, const str *aor, uint64_t id,
		uint64_t version, time_t now)
{
	return aor_ops_drop_c(t, aor, id, version, NULL, now);
}

int aor_ops_drop_c(aor_table_t *t, const str *aor, uint64_t id,
		uint64_t version, const aor_rmc_t *c, time_t now)
{
	enum aor_origin prev = aor_journal_origin(AOR_ORIG_PEER);
	uint32_t hash = aor_hash(aor);
	aor_rec_t rec;
	int r;

	aor_table_lock(t, hash);
	aor_table_find(t, hash, aor, &rec);
	/* the binding of id and the contact's others */
	if(aor_journal_reserve(rec.n + 1, 0) < 0)
		r = AOR_E_NOMEM;
	else
		r = aor_rec_drop_c(&rec, aor, id, version, c, now);
	aor_table_unlock(t, hash);
	aor_journal_origin(prev);
	aor_journal_after();
	return r;
}

int aor_ops_tombs(aor_table_t *t, uint32_t li, time_t now, aor_tomb_cb cb,
		void *arg)
{
	int n;

	li &= t->lock_mask;
	aor_table_lock(t, li);
	n = aor_tombs_sweep(t, li, now);
	if(cb)
		aor_tombs_visit(t, li, cb, arg);
	aor_table_unlock(t, li);
	return n;
}
