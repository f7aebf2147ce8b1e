/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The location store (see store.h for the locking rules): slot arrays,
 * records as runs of adjacent bindings, the mutation primitives that
 * record every change in the journal, the slot-level steps of the resize,
 * expiry and cursor walks. Takes no lock: ops.c does. Pure: no SIP parser,
 * no struct sip_msg.
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
	t->id_step = 1;
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
	if(t->repl) {
		aor_tomb_t *tb, *nt;

		for(i = 0; i <= t->lock_mask; i++)
			for(tb = t->repl->tombs[i]; tb; tb = nt) {
				nt = tb->next;
				AOR_FREE(tb);
			}
		AOR_FREE(t->repl->tombs);
		AOR_FREE(t->repl);
	}
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

/* the next version of a binding whose last one was prev */
static uint64_t version_next(aor_table_t *t, uint64_t prev)
{
	uint64_t floor = (uint64_t)aor_now() << AOR_VERSION_SHIFT;
	uint64_t cur = aor_atomic_get(&t->clock), v;

	do {
		v = cur + 1;
		if(v < floor)
			v = floor;
		if(v <= prev)
			v = prev + 1;
		/* several nodes (ids in residues): versions too, so that two
		 * nodes' changes of one binding never tie */
		if(t->id_step != 1) {
			uint64_t c = v;

			v = (v & ~(uint64_t)(AOR_ID_NODES - 1)) | t->id_node;
			if(v < c)
				v += AOR_ID_NODES;
		}
	} while(!__atomic_compare_exchange_n(
			&t->clock, &cur, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return v;
}

/* raises the atomic *p to at least v */
static void atomic_raise(uint64_t *p, uint64_t v)
{
	uint64_t cur = aor_atomic_get(p);

	while(cur < v
			&& !__atomic_compare_exchange_n(
					p, &cur, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* the term of b in or out of its range's digest */
static inline void digest_flip(aor_table_t *t, const aor_binding_t *b)
{
	if(t->repl)
		__atomic_fetch_xor(&t->repl->digest[aor_range_of(b->id)],
				aor_digest_term(b->id, b->version), __ATOMIC_RELAXED);
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
	digest_flip(t, b);
	aor_journal_add(t, AOR_CH_INSERTED, b, b->version);
}

void aor_table_id_node(aor_table_t *t, unsigned int node)
{
	t->id_step = AOR_ID_NODES;
	t->id_node = node % AOR_ID_NODES;
	t->next_id = (t->next_id & ~(uint64_t)(AOR_ID_NODES - 1)) | t->id_node;
}

void aor_rec_add(aor_rec_t *rec, aor_binding_t *b)
{
	b->id = aor_atomic_add(&rec->t->next_id, rec->t->id_step);
	b->version = version_next(rec->t, 0);
	rec_link(rec, b);
}

void aor_rec_insert(aor_rec_t *rec, aor_binding_t *b)
{
	aor_table_t *t = rec->t;

	/* past b's id, and still in this node's residue class */
	if(t->id_step == 1)
		atomic_raise(&t->next_id, b->id);
	else
		atomic_raise(&t->next_id,
				(b->id & ~(uint64_t)(t->id_step - 1)) | t->id_node);
	if(b->version == 0)
		b->version = version_next(rec->t, 0);
	else
		atomic_raise(&rec->t->clock, b->version);
	rec_link(rec, b);
}

void aor_rec_refresh(aor_rec_t *rec, aor_binding_t *b, const aor_binding_in_t *in)
{
	aor_binding_refresh(b, in);
	aor_rec_expiry(rec, b->expires);
	digest_flip(rec->t, b);
	b->version = version_next(rec->t, b->version);
	digest_flip(rec->t, b);
	aor_journal_add(rec->t, AOR_CH_REFRESHED, b, b->version);
}

/* takes the binding at *link out of the store; returns it */
static aor_binding_t *rec_unlink(aor_rec_t *rec, aor_binding_t **link)
{
	aor_table_t *t = rec->t;
	aor_binding_t *b = *link;

	*link = b->next;
	b->next = NULL;
	if(--rec->n == 0)
		aor_atomic_add(&t->aors, -1);
	aor_atomic_add(&t->bindings, -1);
	aor_atomic_add(&t->mem, -(long)aor_binding_size(b));
	digest_flip(t, b);
	return b;
}

static void tomb_put(aor_table_t *t, uint32_t hash, const str *aor,
		uint64_t id, uint64_t version, const aor_rmc_t *c);

/* removes the binding at *link as a change of kind at version; a removal
 * other than a natural expiry leaves a tombstone when t is replicated */
static void rec_del_at(aor_rec_t *rec, aor_binding_t **link,
		enum aor_change kind, uint64_t version)
{
	aor_binding_t *b = rec_unlink(rec, link);
	aor_rmc_t c;
	str k;

	b->version = version;
	if(rec->t->repl
			&& (kind != AOR_CH_EXPIRED || !aor_binding_expired(b, aor_now()))) {
		k = aor_binding_get(b, AOR_F_AOR);
		c.uri = aor_binding_get(b, AOR_F_URI);
		c.instance = aor_binding_get(b, AOR_F_INSTANCE);
		c.reg_id = b->reg_id;
		tomb_put(rec->t, b->hash, &k, b->id, version, &c);
	}
	aor_journal_add(rec->t, kind, b, b->version);
}

void aor_rec_del(aor_rec_t *rec, aor_binding_t **link, enum aor_change kind)
{
	rec_del_at(rec, link, kind, version_next(rec->t, (*link)->version));
}

void aor_rec_swap(aor_rec_t *rec, aor_binding_t **link, aor_binding_t *nb)
{
	aor_binding_t *b = *link;

	nb->next = b->next;
	nb->id = b->id;
	nb->version = version_next(rec->t, b->version);
	digest_flip(rec->t, b);
	digest_flip(rec->t, nb);
	*link = nb;
	aor_rec_expiry(rec, nb->expires);
	aor_atomic_add(&rec->t->mem,
			(long)aor_binding_size(nb) - (long)aor_binding_size(b));
	aor_journal_add(rec->t, AOR_CH_UPDATED, nb, nb->version);
	aor_journal_defer_free(b);
}

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

int aor_copybuf_grow(aor_copybuf_t *cb, size_t n)
{
	char *nb;

	nb = AOR_PKG_REALLOC(cb->p, n);
	if(nb == NULL) {
		AOR_LOG_ERR("no process memory: %zu bytes to copy bindings\n", n);
		return AOR_E_NOMEM;
	}
	cb->p = nb;
	cb->cap = n;
	return 0;
}

size_t aor_rec_copy_size(const aor_rec_t *rec)
{
	const aor_binding_t *b;
	size_t need = 0;
	int i;

	/* a record of one or two bindings as a rule: not unrolled */
#pragma GCC unroll 1
	for(i = 0, b = *rec->link; i < rec->n; i++, b = b->next)
		need += ALIGN8(aor_binding_size(b));
	return need;
}

int aor_rec_copy(const aor_rec_t *rec, time_t now, aor_copybuf_t *cb,
		aor_binding_t **out, int max)
{
	const aor_binding_t *b;
	size_t need = 0, off = 0;
	int i, n = 0;

	for(i = 0, b = *rec->link; i < rec->n && n < max; i++, b = b->next)
		if(!aor_binding_expired(b, now)) {
			need += ALIGN8(aor_binding_size(b));
			n++;
		}
	/* bounded: at most max bindings of at most 64 KB each */
	if(aor_copybuf_reserve(cb, need) < 0)
		return AOR_E_NOMEM;
	n = 0;
	for(i = 0, b = *rec->link; i < rec->n && n < max; i++, b = b->next) {
		if(aor_binding_expired(b, now))
			continue;
		out[n] = (aor_binding_t *)(cb->p + off);
		memcpy(out[n], b, aor_binding_size(b));
		out[n]->next = NULL;
		off += ALIGN8(aor_binding_size(b));
		n++;
	}
	return n;
}

/* bindings of the chain at head */
static int chain_len(const aor_binding_t *b)
{
	int n = 0;

	for(; b; b = b->next)
		n++;
	return n;
}

/* Walks the runs of one slot chain; removes the bindings expired at now
 * (all of them with all), at most room of them, and lowers *min to the
 * hint of each binding that stays. Lock held. */
static int chain_sweep(aor_table_t *t, aor_binding_t **head, time_t now,
		int all, int room, uint32_t *min)
{
	aor_rec_t rec;
	aor_binding_t **link;
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
			if(removed < room && (all || aor_binding_expired(*link, now))) {
				aor_rec_del(&rec, link, all ? AOR_CH_DELETED : AOR_CH_EXPIRED);
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

int aor_slot_has_work(aor_table_t *t, uint32_t pos, time_t now, int all)
{
	aor_gen_t *g = gen_get(t);
	const aor_binding_t *b;

	if(pos > g->mask)
		return 0;
	if(g->old_slots && g->old_slots[pos & g->old_mask])
		return 1;
	for(b = g->slots[pos]; b; b = b->next)
		if(all || aor_binding_expired(b, now))
			return 1;
	return 0;
}

int aor_slot_sweep(
		aor_table_t *t, uint32_t pos, time_t now, int all, uint32_t *min)
{
	aor_gen_t *g = gen_get(t);
	int room;

	if(pos > g->mask)
		return -1;
	if(g->old_slots && g->old_slots[pos & g->old_mask])
		drain_old(g, pos & g->old_mask);
	/* one journal entry per removal; what does not fit waits */
	room = chain_len(g->slots[pos]);
	while(room > 0 && aor_journal_reserve(room, 0) < 0)
		room /= 2;
	return chain_sweep(t, &g->slots[pos], now, all, room, min);
}

int aor_expire_block_next(
		aor_table_t *t, time_t now, uint32_t *pos, uint32_t *end)
{
	/* only the caller's process replaces the generation (resize) */
	aor_gen_t *g = gen_get(t);
	uint32_t p, e, *h;

	p = t->expire_pos & ~(AOR_HINT_SLOTS - 1);
	if(p > g->mask)
		p = 0;
	e = p + AOR_HINT_SLOTS;
	if(e > g->mask + 1)
		e = g->mask + 1; /* an array smaller than a block */
	t->expire_pos = e;
	h = &g->hint[p >> AOR_HINT_LOG2];
	if((time_t)__atomic_load_n(h, __ATOMIC_SEQ_CST) > now)
		return 0; /* nothing in the block has expired yet */
	/* raised before the visit, so that a binding added to a slot already
	 * visited lowers it again (hint_lower) */
	__atomic_store_n(h, UINT32_MAX, __ATOMIC_SEQ_CST);
	aor_atomic_add(&t->expire_visits, e - p);
	*pos = p;
	*end = e;
	return 1;
}

void aor_expire_block_done(aor_table_t *t, uint32_t pos, uint32_t min)
{
	hint_lower(gen_get(t), pos & ~(AOR_HINT_SLOTS - 1), min);
}

uint32_t aor_table_slots(aor_table_t *t)
{
	return gen_get(t)->mask + 1;
}

int aor_table_resizing(aor_table_t *t)
{
	return gen_get(t)->old_slots != NULL;
}

int aor_resize_start(aor_table_t *t, aor_gen_t **retire)
{
	aor_gen_t *g = gen_get(t), *ng;
	uint32_t size;

	/* grow fourfold when there are more AoRs than slots */
	if(g->old_slots != NULL
			|| (unsigned long)aor_atomic_get(&t->aors)
					   <= (unsigned long)g->mask + 1
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
	*retire = g;
	AOR_LOG_DBG(
			"table %.*s: growing to %u slots\n", t->name.len, t->name.s, size);
	return 1;
}

int aor_resize_next(aor_table_t *t, uint32_t *pos)
{
	aor_gen_t *g = gen_get(t);

	if(g->old_slots == NULL || t->drain_pos > g->old_mask)
		return 0;
	*pos = t->drain_pos++;
	return 1;
}

int aor_resize_drained(aor_table_t *t)
{
	aor_gen_t *g = gen_get(t);

	return g->old_slots == NULL || t->drain_pos > g->old_mask;
}

int aor_slot_drain(aor_table_t *t, uint32_t pos)
{
	aor_gen_t *g = gen_get(t);

	if(g->old_slots == NULL || pos > g->old_mask || g->old_slots[pos] == NULL)
		return 0;
	drain_old(g, pos);
	return 1;
}

aor_gen_t *aor_resize_finish(aor_table_t *t)
{
	aor_gen_t *g = gen_get(t), *ng;

	ng = AOR_ALLOC(sizeof(*ng));
	if(ng == NULL)
		return NULL; /* all old slots are empty; try again next step */
	ng->mask = g->mask;
	ng->slots = g->slots;
	ng->hint = g->hint;
	ng->old_slots = NULL;
	ng->old_mask = 0;
	aor_atomic_set(&t->gen, ng);
	return g;
}

/* lowers the hints of cur's blocks to those of the old generation g's
 * blocks whose slots drain into them */
static void hints_carry(aor_gen_t *cur, const aor_gen_t *g)
{
	uint32_t b, k, nblocks = hint_blocks(g->mask);

	for(b = 0; b < nblocks; b++)
		for(k = 0; k < 4; k++)
			hint_lower(cur, (b << AOR_HINT_LOG2) + k * (g->mask + 1),
					__atomic_load_n(&g->hint[b], __ATOMIC_RELAXED));
}

void aor_gen_retire(aor_table_t *t, aor_gen_t *g)
{
	aor_gen_t *cur = gen_get(t);

	if(cur->old_slots == g->slots) {
		/* a resize started: the old slots live on in cur until drained,
		 * and the expiry walk passes over a block of cur by its hint, so
		 * each old block's hint moves to the new blocks its slots drain
		 * to (old slot i goes to i + k * old size, k = 0..3); nobody adds
		 * to the old slots any more (every lock was free once) */
		hints_carry(cur, g);
		aor_atomic_add(
				&t->mem, -(long)hint_blocks(g->mask) * (long)sizeof(uint32_t));
		AOR_FREE(g->hint);
	} else {
		/* a resize finished: cur has g's array and hints */
		aor_atomic_add(&t->mem, -(long)((g->old_mask + 1) * sizeof(void *)));
		AOR_FREE(g->old_slots);
	}
	AOR_FREE(g);
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

unsigned int aor_slot_visit(
		aor_table_t *t, uint64_t *cursor, aor_scan_cb cb, void *arg)
{
	const aor_binding_t *b, *prev = NULL;
	unsigned int n = 0;
	aor_gen_t *g;
	uint32_t pos;

	/* the lock of cursor & lock_mask covers the slot in the current array
	 * and the old slot that maps to it, whatever the array sizes (both
	 * are at least the lock count) */
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
	return n;
}

/* ---- replication ---- */

int aor_table_repl_enable(aor_table_t *t, long tomb_max, int ttl)
{
	aor_repl_tab_t *r;
	size_t n = (size_t)t->lock_mask + 1;

	r = AOR_ALLOC(sizeof(*r));
	if(r == NULL)
		return AOR_E_NOMEM;
	memset(r, 0, sizeof(*r));
	r->tombs = AOR_ALLOC(n * sizeof(*r->tombs));
	if(r->tombs == NULL) {
		AOR_FREE(r);
		return AOR_E_NOMEM;
	}
	memset(r->tombs, 0, n * sizeof(*r->tombs));
	r->tomb_max = tomb_max;
	r->tomb_ttl = ttl;
	t->repl = r;
	return 0;
}

static aor_tomb_t **tomb_find(aor_table_t *t, uint32_t hash, uint64_t id)
{
	aor_tomb_t **p = &t->repl->tombs[hash & t->lock_mask];

	for(; *p; p = &(*p)->next)
		if((*p)->id == id && (*p)->hash == hash)
			return p;
	return NULL;
}

/* a tombstone of id at version (raised when one is held already), of
 * contact c when known */
static void tomb_put(aor_table_t *t, uint32_t hash, const str *aor,
		uint64_t id, uint64_t version, const aor_rmc_t *c)
{
	aor_repl_tab_t *r = t->repl;
	aor_tomb_t **p = tomb_find(t, hash, id), *tb;
	int ul = c ? c->uri.len : 0, il = c ? c->instance.len : 0;

	if(p && ((*p)->uri_len > 0 || ul == 0)) {
		if((*p)->version < version)
			(*p)->version = version;
		(*p)->drop = aor_now() + r->tomb_ttl;
		return;
	}
	if(p) {
		/* one that names the contact replaces one that did not */
		if((*p)->version > version)
			version = (*p)->version;
		tb = *p;
		*p = tb->next;
		AOR_FREE(tb);
		aor_atomic_add(&r->tomb_count, -1);
	}
	if(aor_atomic_get(&r->tomb_count) >= r->tomb_max || aor->len > 65535
			|| ul > 65535 || il > 65535
			|| (tb = AOR_ALLOC(sizeof(*tb) + aor->len + ul + il)) == NULL) {
		aor_atomic_add(&r->tomb_lost, 1);
		return;
	}
	tb->id = id;
	tb->version = version;
	tb->drop = aor_now() + r->tomb_ttl;
	tb->hash = hash;
	tb->reg_id = c ? c->reg_id : 0;
	tb->aor_len = (uint16_t)aor->len;
	tb->uri_len = (uint16_t)ul;
	tb->inst_len = (uint16_t)il;
	memcpy(tb->aor, aor->s, aor->len);
	if(ul)
		memcpy(tb->aor + aor->len, c->uri.s, ul);
	if(il)
		memcpy(tb->aor + aor->len + ul, c->instance.s, il);
	p = &r->tombs[hash & t->lock_mask];
	tb->next = *p;
	*p = tb;
	aor_atomic_add(&r->tomb_count, 1);
}

static void tomb_unlink(aor_table_t *t, aor_tomb_t **p)
{
	aor_tomb_t *tb = *p;

	*p = tb->next;
	AOR_FREE(tb);
	aor_atomic_add(&t->repl->tomb_count, -1);
}

int aor_rec_tombstoned(const aor_rec_t *rec, uint64_t id, uint64_t version)
{
	aor_tomb_t **p;

	if(rec->t->repl == NULL)
		return 0;
	p = tomb_find(rec->t, rec->hash, id);
	return p != NULL && (*p)->version >= version;
}

static aor_binding_t **find_id(const aor_rec_t *rec, uint64_t id)
{
	aor_binding_t **link = rec->link;
	int i;

	for(i = 0; i < rec->n; i++, link = &(*link)->next)
		if((*link)->id == id)
			return link;
	return NULL;
}

static int str_same(const str *a, const str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}

/* the same contact (RFC 5626 6: instance and reg-id; else the URI compared
 * by RFC 3261 19.1.4) as merge.c matches a REGISTER's */
static int same_contact(const aor_binding_t *a, const aor_binding_t *b)
{
	str x = aor_binding_get(a, AOR_F_INSTANCE);
	str y = aor_binding_get(b, AOR_F_INSTANCE);
	int r;

	if(x.len > 0 || y.len > 0)
		return str_same(&x, &y) && a->reg_id == b->reg_id;
	x = aor_binding_get(a, AOR_F_URI);
	y = aor_binding_get(b, AOR_F_URI);
	r = aor_uri_equal(&x, &y);
	return r < 0 ? str_same(&x, &y) : r;
}

/* b is of the contact a removal (or tombstone) names */
static int of_contact(const aor_binding_t *b, const str *uri,
		const str *inst, int32_t reg_id)
{
	str x = aor_binding_get(b, AOR_F_INSTANCE);
	int r;

	if(x.len > 0 || inst->len > 0)
		return str_same(&x, inst) && b->reg_id == reg_id;
	if(uri->len == 0)
		return 0;
	x = aor_binding_get(b, AOR_F_URI);
	r = aor_uri_equal(&x, uri);
	return r < 0 ? str_same(&x, uri) : r;
}

/* a tombstone of rec's AoR that removed the contact of b at version or
 * later */
static int contact_tombstoned(const aor_rec_t *rec, const aor_binding_t *b)
{
	const aor_tomb_t *tb;
	str a = aor_binding_get(b, AOR_F_AOR), u, in;

	for(tb = rec->t->repl->tombs[rec->hash & rec->t->lock_mask]; tb;
			tb = tb->next) {
		if(tb->hash != rec->hash || tb->uri_len == 0
				|| tb->version < b->version || tb->aor_len != a.len
				|| memcmp(tb->aor, a.s, a.len) != 0)
			continue;
		u = aor_tomb_uri(tb);
		in = aor_tomb_instance(tb);
		if(of_contact(b, &u, &in, tb->reg_id))
			return 1;
	}
	return 0;
}

/* a newer than b: the version, then the id (any order all nodes share) */
static int newer(const aor_binding_t *a, const aor_binding_t *b)
{
	return a->version > b->version
		   || (a->version == b->version && a->id > b->id);
}

int aor_rec_put(aor_rec_t *rec, aor_binding_t *nb, time_t now)
{
	aor_table_t *t = rec->t;
	aor_binding_t **link, *b;
	aor_tomb_t **tp = NULL;
	int i;

	if(t->repl) {
		tp = tomb_find(t, rec->hash, nb->id);
		if(tp && (*tp)->version >= nb->version)
			return 0;
	}
	link = find_id(rec, nb->id);
	if(link) {
		b = *link;
		if(b->version >= nb->version)
			return 0;
		nb->next = b->next;
		digest_flip(t, b);
		digest_flip(t, nb);
		*link = nb;
		atomic_raise(&t->clock, nb->version);
		aor_rec_expiry(rec, nb->expires);
		aor_atomic_add(&t->mem,
				(long)aor_binding_size(nb) - (long)aor_binding_size(b));
		aor_journal_add(t, AOR_CH_UPDATED, nb, nb->version);
		aor_journal_defer_free(b);
		return 1;
	}
	if(aor_binding_expired(nb, now))
		return 0;
	/* its contact was removed later (by a removal of another binding of
	 * it): the contact's newest state is that removal */
	if(t->repl && contact_tombstoned(rec, nb))
		return 0;
	link = rec->link;
	for(i = 0; i < rec->n; i++, link = &(*link)->next) {
		if(!same_contact(*link, nb))
			continue;
		if(newer(*link, nb))
			return 0;
		/* the same contact registered at two nodes that did not know of
		 * each other: the newer binding wins on every node */
		rec_del_at(rec, link, AOR_CH_DELETED, nb->version);
		break;
	}
	/* found again: the displaced binding's tombstone may have gone in
	 * ahead of it, at the head of the same list, which tp may point to */
	if(tp)
		tomb_unlink(t, tomb_find(t, rec->hash, nb->id));
	aor_rec_insert(rec, nb);
	return 1;
}

int aor_rec_drop(aor_rec_t *rec, const str *aor, uint64_t id,
		uint64_t version, time_t now)
{
	return aor_rec_drop_c(rec, aor, id, version, NULL, now);
}

int aor_rec_drop_c(aor_rec_t *rec, const str *aor, uint64_t id,
		uint64_t version, const aor_rmc_t *c, time_t now)
{
	aor_binding_t **link = find_id(rec, id);
	int i, r = 0;

	(void)now;
	if(link) {
		if((*link)->version >= version)
			return -1;
		atomic_raise(&rec->t->clock, version);
		rec_del_at(rec, link, AOR_CH_DELETED, version);
		r = 1;
	} else if(rec->t->repl) {
		tomb_put(rec->t, rec->hash, aor, id, version, c);
	}
	/* the contact's older bindings of other ids go too */
	if(c && (c->uri.len > 0 || c->instance.len > 0)) {
		link = rec->link;
		for(i = 0; i < rec->n;) {
			if((*link)->version < version
					&& of_contact(*link, &c->uri, &c->instance, c->reg_id)) {
				atomic_raise(&rec->t->clock, version);
				rec_del_at(rec, link, AOR_CH_DELETED, version);
				r = 1;
			} else {
				link = &(*link)->next;
				i++;
			}
		}
	}
	return r;
}

void aor_tombs_visit(aor_table_t *t, uint32_t li, aor_tomb_cb cb, void *arg)
{
	const aor_tomb_t *tb;

	for(tb = t->repl->tombs[li & t->lock_mask]; tb; tb = tb->next)
		cb(tb, arg);
}

int aor_tombs_sweep(aor_table_t *t, uint32_t li, time_t now)
{
	aor_tomb_t **p = &t->repl->tombs[li & t->lock_mask];
	int n = 0;

	while(*p) {
		if((*p)->drop <= now) {
			tomb_unlink(t, p);
			n++;
		} else {
			p = &(*p)->next;
		}
	}
	return n;
}
