/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * The location store: named tables, each a power-of-two array of slots
 * whose chains hold bindings, the bindings of one AoR (a record) adjacent.
 * A table grows by itself: a larger array is published beside the old one
 * and the old slots are drained into it a few at a time (as Redis's dict
 * rehashes), by whoever touches a slot and by the maintenance timer.
 *
 * Locking: lock i of the table's lock set covers every slot whose index is
 * i modulo the number of locks, in the current array and the old one, so
 * an AoR is always under the one lock of (hash & lock_mask), whatever the
 * table's size. Nothing takes two slot locks at once. The store takes no
 * lock itself: every function here that says "lock held" is called by the
 * operations layer (ops.c), the one place that takes slot locks.
 *
 * Every mutation primitive (aor_rec_add, _insert, _refresh, _swap, _del,
 * aor_slot_sweep) records its change in the journal (journal.h) and hands
 * the blocks that leave the store to it; aor_table_unlock flushes the
 * journal to its subscribers after the release. Nothing else changes a
 * binding.
 *
 * Versions: each change of a binding gives it a new version from the
 * table's clock, a hybrid logical clock: greater than the binding's
 * previous version and than every version the table gave before, and at
 * least the current second << AOR_VERSION_SHIFT, so that versions order
 * two changes of one binding within one second and roughly follow time
 * across nodes.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#ifndef AOR_STORE_H
#define AOR_STORE_H

#include <stdint.h>
#include "sys.h"
#include "binding.h"
#include "journal.h"
#include "hash.h"

/* one generation of a table's slot arrays; immutable once published */
#define AOR_HINT_LOG2 6 /* a block of 64 slots shares one expiry hint */
#define AOR_HINT_SLOTS (1u << AOR_HINT_LOG2)

typedef struct aor_gen
{
	uint32_t mask; /* slots - 1 */
	aor_binding_t **slots;
	/* one per block of AOR_HINT_SLOTS slots (atomic): no binding of the
	 * block expires before this second (UINT32_MAX: none expires). Lowered
	 * by whoever adds, drains in or shortens a binding, raised only by the
	 * expiry walk after it has visited the whole block: never late. */
	uint32_t *hint;
	uint32_t old_mask;		   /* of old_slots */
	aor_binding_t **old_slots; /* being drained into slots, or NULL */
} aor_gen_t;

typedef struct aor_table
{
	str name;
	aor_lockset_t *locks;
	uint32_t lock_mask;
	aor_gen_t *gen;			  /* read under a slot lock, swapped by the timer */
	uint32_t drain_pos;		  /* next old slot the timer drains */
	uint32_t expire_pos;	  /* next block the expiry walk visits (its slot) */
	uint64_t expire_visits;	  /* atomic: slots the expiry walk locked */
	long aors;				  /* atomic: AoRs with at least one binding */
	long bindings;			  /* atomic */
	long mem;				  /* atomic: bytes held by bindings and arrays */
	uint64_t hold_max_ns;	  /* atomic: longest slot lock hold of a walk */
	uint64_t hold_max_cpu_ns; /* atomic: most CPU time under one hold */
	uint64_t next_id;		  /* atomic: ids of new bindings */
	uint32_t id_step;		  /* 1, or AOR_ID_NODES (aor_table_id_node) */
	uint32_t id_node;		  /* the residue of this node's ids */
	uint64_t clock;			  /* atomic: the last version given */
	struct aor_repl_tab *repl; /* replication's digests and tombstones, or
								* NULL when the table is not replicated */
	struct aor_table *next;
} aor_table_t;

/* the bindings of one AoR in a slot chain: *link is the first of n */
typedef struct aor_rec
{
	aor_table_t *t;
	aor_binding_t **link;
	int n;
	uint32_t hash;
} aor_rec_t;

#define AOR_VERSION_SHIFT 20 /* changes per second before a version runs
							  * ahead of the clock */

/* Creates a table of 2^size_log2 slots (at least the lock count) in shared
 * memory. Returns it or NULL (logged). Call before workers fork. */
aor_table_t *aor_table_new(const str *name, unsigned int size_log2);

/* Frees t and every binding in it. No other process may use t. */
void aor_table_free(aor_table_t *t);

/* The lock covering hash. Only the operations layer (and the tests) call
 * these two; aor_table_unlock hands the journal's changes to the
 * subscribers after the release. */
static inline void aor_table_lock(aor_table_t *t, uint32_t hash)
{
	aor_lockset_get(t->locks, hash & t->lock_mask);
}

static inline void aor_table_unlock(aor_table_t *t, uint32_t hash)
{
	aor_lockset_release(t->locks, hash & t->lock_mask);
	aor_journal_flush();
}

/* Finds the record of aor. Fills rec (rec->n is 0 when the AoR has no
 * binding; rec->link is then where a first binding goes) and returns n.
 * Lock of hash held. Drains the old slot of hash when the table resizes. */
int aor_table_find(
		aor_table_t *t, uint32_t hash, const str *aor, aor_rec_t *rec);

/* Adds b as the first binding of rec; assigns b->id and a version;
 * records AOR_CH_INSERTED. Lock held. */
#define AOR_ID_NODES 256
/* Several nodes make ids for one table (a shared database): from now on
 * every id t makes is node modulo AOR_ID_NODES, so no two nodes with
 * different node numbers ever make the same. Before any binding. */
void aor_table_id_node(aor_table_t *t, unsigned int node);

void aor_rec_add(aor_rec_t *rec, aor_binding_t *b);

/* Adds b as the first binding of rec keeping its id and its version (a
 * binding restored from a snapshot or sent by a peer; a version of 0 gets
 * a new one), and moves the table's id counter and clock past them so
 * that new ids never repeat it and new versions are greater. Records
 * AOR_CH_INSERTED. Lock held. */
void aor_rec_insert(aor_rec_t *rec, aor_binding_t *b);

/* Tells the table that a binding of rec now expires at expires (0:
 * never). The primitives below call it themselves. Lock held. */
void aor_rec_expiry(aor_rec_t *rec, time_t expires);

/* Refreshes b (a binding of rec) in place from in, whose strings equal
 * b's (aor_binding_same_strings): scalars, expiry hint, a new version;
 * records AOR_CH_REFRESHED. Lock held. */
void aor_rec_refresh(aor_rec_t *rec, aor_binding_t *b, const aor_binding_in_t *in);

/* Unlinks the binding at *link (a link inside rec) and hands it to the
 * journal as a change of kind (AOR_CH_DELETED, _EXPIRED or _EVICTED),
 * which frees it after the unlock. Lock held. */
void aor_rec_del(aor_rec_t *rec, aor_binding_t **link, enum aor_change kind);

/* Replaces the binding at *link with nb (same AoR); nb keeps the old id
 * and gets a new version; records AOR_CH_UPDATED; the old block is freed
 * after the unlock. Lock held. */
void aor_rec_swap(aor_rec_t *rec, aor_binding_t **link, aor_binding_t *nb);

/* A process-local buffer that copies of bindings are made into. */
typedef struct aor_copybuf
{
	char *p;
	size_t cap;
} aor_copybuf_t;

int aor_copybuf_grow(aor_copybuf_t *cb, size_t n);

/* Makes cb hold at least n bytes (process memory). Returns 0 or
 * AOR_E_NOMEM (cb unchanged). */
static inline int aor_copybuf_reserve(aor_copybuf_t *cb, size_t n)
{
	return n <= cb->cap ? 0 : aor_copybuf_grow(cb, n);
}

/* Bytes aor_rec_copy needs for the bindings of rec, each 8-aligned. */
size_t aor_rec_copy_size(const aor_rec_t *rec);

/* Copies the live bindings of rec (at most max) into cb, growing it
 * (process memory, bounded by max bindings of at most 64 KB); out[i]
 * points to the copies, valid until the next call with cb. Lock held.
 * Returns the count, or AOR_E_NOMEM. */
int aor_rec_copy(const aor_rec_t *rec, time_t now, aor_copybuf_t *cb,
		aor_binding_t **out, int max);

/* ---- slot-level steps of the walks (ops.c loops over them) ---- */

/* Removes the bindings of slot pos (of the current array, and of the old
 * array slot it maps to) that expired at now, or all of them with all,
 * recording AOR_CH_EXPIRED (AOR_CH_DELETED with all) for each; lowers *min
 * to the hint of what stays. Lock of pos held. Returns the number removed,
 * or -1 when pos is past the current array. When the journal cannot make
 * room it removes only what fits (the rest waits for the next visit). */
int aor_slot_sweep(
		aor_table_t *t, uint32_t pos, time_t now, int all, uint32_t *min);

/* 1 when sweeping slot pos (lock held) would do anything. */
int aor_slot_has_work(aor_table_t *t, uint32_t pos, time_t now, int all);

/* Called by aor_slot_visit for each binding of a slot, under its lock: b
 * is valid only during the call, so cb copies what it needs; it must not
 * call into the store. */
typedef void (*aor_scan_cb)(const aor_binding_t *b, void *arg);

/* The lock index a cursor walk takes for *cursor. */
static inline uint32_t aor_cursor_lock(const aor_table_t *t, uint64_t cursor)
{
	return (uint32_t)cursor & t->lock_mask;
}

/* One slot of a cursor walk (Redis's dictScan): under the lock of
 * aor_cursor_lock(t, *cursor), drains the old slot that maps to the slot
 * of *cursor, calls cb for each of its bindings (a record's bindings
 * adjacent) and advances *cursor (0 after the last slot). The cursor counts
 * slots in reverse-binary order, so a table that grows x4 between calls is
 * walked on without loss. Returns the number of records in the slot. */
unsigned int aor_slot_visit(
		aor_table_t *t, uint64_t *cursor, aor_scan_cb cb, void *arg);

/* The expiry walk's next block (the maintenance process only): sets *pos
 * and *end to its slots and returns 1 when something in it may have
 * expired at now (its hint is then raised, to be lowered again by
 * aor_expire_block_done); 0 when the hint says nothing there expired yet. */
int aor_expire_block_next(
		aor_table_t *t, time_t now, uint32_t *pos, uint32_t *end);

/* Lowers the hint of the block of pos to min after a visit. */
void aor_expire_block_done(aor_table_t *t, uint32_t pos, uint32_t min);

/* Resizing (the maintenance process only). aor_resize_start publishes a
 * four times larger array when the table holds more AoRs than slots:
 * returns 1 (then *retire is the replaced generation, to be passed to
 * aor_gen_retire once every lock has been free once), 0 when no resize is
 * due, AOR_E_NOMEM (logged; the table keeps working at its size). */
int aor_resize_start(aor_table_t *t, aor_gen_t **retire);

/* The next old slot to drain: 1 and *pos, or 0 when all are drained. */
int aor_resize_next(aor_table_t *t, uint32_t *pos);

/* 1 when every old slot has been handed out by aor_resize_next. */
int aor_resize_drained(aor_table_t *t);

/* Drains old slot pos into the current array. Lock of pos held. Returns 1
 * when it held bindings. */
int aor_slot_drain(aor_table_t *t, uint32_t pos);

/* Ends a resize whose old slots are all drained: publishes the array alone
 * and returns the replaced generation to retire, or NULL when no memory
 * (try again later). */
aor_gen_t *aor_resize_finish(aor_table_t *t);

/* Frees what a replaced generation g no longer shares with the current
 * one. Call once no process can still hold g (every lock free once). */
void aor_gen_retire(aor_table_t *t, aor_gen_t *g);

/* 1 while a resize is in progress (old slots being drained). Lock held,
 * or the maintenance process. */
int aor_table_resizing(aor_table_t *t);

/* Number of slots of the current array. Lock held, or the maintenance
 * process. */
uint32_t aor_table_slots(aor_table_t *t);

/* ---- replication: range digests, tombstones, peers' changes ---- */

/* Bindings are grouped in AOR_RANGES ranges by their id (which every node
 * shares; the slot hash is keyed per node and is not): the digest of a
 * range is the XOR of a term per binding (id, version), kept up to date by
 * every primitive under the slot lock, so two nodes holding the same
 * bindings in the same versions have equal digests whatever the order of
 * their changes. */
#define AOR_RANGES_LOG2 12
#define AOR_RANGES (1u << AOR_RANGES_LOG2)

static inline uint32_t aor_range_of(uint64_t id)
{
	return (uint32_t)(aor_mix64(id) >> (64 - AOR_RANGES_LOG2));
}

static inline uint64_t aor_digest_term(uint64_t id, uint64_t version)
{
	return aor_mix64(id ^ aor_mix64(version ^ 0x9e3779b97f4a7c15ULL));
}

/* What a removal leaves behind so that a delayed copy of the binding from
 * a peer cannot bring it back: its id, the version of the removal, its
 * AoR; forgotten after the tombstone's time to live. Kept per lock, under
 * the slot lock of its AoR. */
typedef struct aor_tomb
{
	struct aor_tomb *next;
	uint64_t id;
	uint64_t version;
	time_t drop; /* forgotten from this second on */
	uint32_t hash;
	int32_t reg_id;
	uint16_t aor_len;
	uint16_t uri_len, inst_len; /* the contact removed; 0 when unknown */
	char aor[]; /* the AoR, then the contact URI, then the instance */
} aor_tomb_t;

/* the contact a removal names: a tombstone of it is also the newest state
 * of that contact (any other binding of it that is older is gone too), so
 * that the contact's state converges whichever node's binding of it and
 * whichever removal arrive first */
typedef struct aor_rmc
{
	str uri;
	str instance;
	int32_t reg_id;
} aor_rmc_t;

static inline str aor_tomb_uri(const aor_tomb_t *tb)
{
	str s = {(char *)tb->aor + tb->aor_len, tb->uri_len};
	return s;
}

static inline str aor_tomb_instance(const aor_tomb_t *tb)
{
	str s = {(char *)tb->aor + tb->aor_len + tb->uri_len, tb->inst_len};
	return s;
}

typedef struct aor_repl_tab
{
	uint64_t digest[AOR_RANGES]; /* atomic XOR */
	aor_tomb_t **tombs;			 /* one list per lock */
	long tomb_count;			 /* atomic */
	long tomb_max;
	unsigned long tomb_lost; /* atomic: not kept, tomb_max reached or no
							  * memory */
	int tomb_ttl;
} aor_repl_tab_t;

/* Starts keeping digests and tombstones for t (at most tomb_max, each
 * ttl seconds). Before any binding. Returns 0 or AOR_E_NOMEM. */
int aor_table_repl_enable(aor_table_t *t, long tomb_max, int ttl);

/* The digest of range r of t (atomic read). */
static inline uint64_t aor_table_digest(aor_table_t *t, uint32_t r)
{
	return __atomic_load_n(&t->repl->digest[r], __ATOMIC_RELAXED);
}

/* A peer's binding nb (id and version set, hash of this node) for rec:
 * applied when it is newer than what rec and the tombstones hold of it: it
 * replaces the binding of its id, or the binding of the same contact
 * (instance and reg-id, or URI) when that is older, or it is inserted
 * (unless expired at now). Recorded as AOR_CH_UPDATED / _INSERTED (and
 * _DELETED for a replaced binding of another id), keeping nb's version.
 * Lock held. Returns 1 (rec owns nb) or 0 when stale (nb not taken). */
int aor_rec_put(aor_rec_t *rec, aor_binding_t *nb, time_t now);

/* A peer's removal of binding id at version: removes it from rec when it
 * is older (AOR_CH_DELETED, the removal's version kept) and leaves a
 * tombstone of version (aor is rec's AoR key) either way, unless rec holds
 * a newer version of it. Lock held. Returns 1 removed, 0 not held, -1
 * stale (rec holds a newer version). */
int aor_rec_drop(aor_rec_t *rec, const str *aor, uint64_t id,
		uint64_t version, time_t now);

/* aor_rec_drop of a removal that names its contact c: also removes the
 * bindings of rec of that contact older than version, and its tombstone
 * refuses their later copies. c NULL: aor_rec_drop. */
int aor_rec_drop_c(aor_rec_t *rec, const str *aor, uint64_t id,
		uint64_t version, const aor_rmc_t *c, time_t now);

/* 1 when a tombstone of id at least as new as version is held for rec. */
int aor_rec_tombstoned(const aor_rec_t *rec, uint64_t id, uint64_t version);

/* Calls cb for each tombstone of lock index li of t (lock held); the
 * tombstone is valid only during the call. */
typedef void (*aor_tomb_cb)(const aor_tomb_t *tb, void *arg);
void aor_tombs_visit(aor_table_t *t, uint32_t li, aor_tomb_cb cb, void *arg);

/* Forgets the tombstones of lock index li whose time is up at now (lock
 * held). Returns how many. */
int aor_tombs_sweep(aor_table_t *t, uint32_t li, time_t now);

#endif /* AOR_STORE_H */
