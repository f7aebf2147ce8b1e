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
 * table's size. Nothing takes two slot locks at once.
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

/* Creates a table of 2^size_log2 slots (at least the lock count) in shared
 * memory. Returns it or NULL (logged). Call before workers fork. */
aor_table_t *aor_table_new(const str *name, unsigned int size_log2);

/* Frees t and every binding in it. No other process may use t. */
void aor_table_free(aor_table_t *t);

/* The lock covering hash; hold it around find and the aor_rec_* calls. */
static inline void aor_table_lock(aor_table_t *t, uint32_t hash)
{
	aor_lockset_get(t->locks, hash & t->lock_mask);
}

static inline void aor_table_unlock(aor_table_t *t, uint32_t hash)
{
	aor_lockset_release(t->locks, hash & t->lock_mask);
}

/* Releases every lock of t. Only for the last process standing (the
 * shutdown): a process killed while it held a slot lock left it locked. */
void aor_table_unlock_all(aor_table_t *t);

/* Finds the record of aor. Fills rec (rec->n is 0 when the AoR has no
 * binding; rec->link is then where a first binding goes) and returns n.
 * Lock of hash held. Drains the old slot of hash when the table resizes. */
int aor_table_find(
		aor_table_t *t, uint32_t hash, const str *aor, aor_rec_t *rec);

/* Adds b as the first binding of rec; assigns b->id. Lock held. */
void aor_rec_add(aor_rec_t *rec, aor_binding_t *b);

/* Adds b as the first binding of rec keeping its id (a binding restored
 * from a snapshot), and moves the table's id counter past it so that new
 * ids never repeat it. Lock held. */
void aor_rec_insert(aor_rec_t *rec, aor_binding_t *b);

/* Tells the table that a binding of rec now expires at expires (0:
 * never): call it after changing a stored binding's expires in place
 * (aor_rec_add, _insert and _swap do it themselves). Lock held. */
void aor_rec_expiry(aor_rec_t *rec, time_t expires);

/* Unlinks and frees the binding at *link (a link inside rec). Lock held.
 * This is the one path by which a binding leaves the store. */
void aor_rec_del(aor_rec_t *rec, aor_binding_t **link);

/* Replaces the binding at *link with nb (same AoR) and frees the old one;
 * nb keeps the old id. Lock held. */
void aor_rec_swap(aor_rec_t *rec, aor_binding_t **link, aor_binding_t *nb);

/* Removes the bindings of slot pos (of the current array, and of the old
 * array slot it maps to) that expired at now; calls on_expire(b, arg) for
 * each before it is freed, after the slot's lock is released (b is then
 * out of the store and the callback may call into it). Takes and releases
 * the slot's lock. Returns the number removed. */
typedef void (*aor_expire_cb)(const aor_binding_t *b, void *arg);
int aor_table_expire_slot(aor_table_t *t, uint32_t pos, time_t now,
		aor_expire_cb on_expire, void *arg);

/* One step of the expiry walk: visits the next `blocks` blocks of
 * AOR_HINT_SLOTS slots (wrapping at the end of the array), each slot under
 * its own lock as aor_table_expire_slot does, except the blocks whose hint
 * says nothing there has expired at now: those cost one read and no lock,
 * so an idle table of a million AoRs is walked without touching a binding.
 * Returns the number of bindings removed. Only one process may call it for
 * a given table (the one that calls aor_table_maint). */
long aor_table_expire_step(aor_table_t *t, unsigned int blocks, time_t now,
		aor_expire_cb on_expire, void *arg);

/* One bounded step of housekeeping (the timer calls it): starts a resize
 * when the table holds more AoRs than slots, drains at most budget old
 * slots, and finishes a resize when all are drained. Returns 1 while a
 * resize is in progress, 0 otherwise, AOR_E_NOMEM when a larger array
 * could not be had (the table keeps working at its size). Only one process
 * may call it for a given table. */
int aor_table_maint(aor_table_t *t, unsigned int budget);

/* Number of slots of the current array (a snapshot; may change). */
uint32_t aor_table_size(aor_table_t *t);

/* Removes every binding of t, slot by slot; returns how many. */
long aor_table_flush(aor_table_t *t, aor_expire_cb on_del, void *arg);

/* Removes every binding of slot pos (of the current array, and of the old
 * array slot it maps to), calling on_del(b, arg) for each before it is
 * freed, after the lock is released (as for aor_table_expire_slot). Takes and releases the slot's lock. Returns the number removed,
 * or -1 when pos is past the current array (a walk pos = 0, 1, ... ends
 * there, and covers an array that grows meanwhile). */
int aor_table_flush_slot(
		aor_table_t *t, uint32_t pos, aor_expire_cb on_del, void *arg);

/* Called by aor_table_scan for each binding of a visited slot, under the
 * slot's lock: b is valid only during the call, so cb copies what it needs;
 * it must not take a slot lock or call into the store. */
typedef void (*aor_scan_cb)(const aor_binding_t *b, void *arg);

/* One page of a cursor walk over t (Redis's dictScan). Start with cursor
 * 0 and pass each returned cursor back in; 0 is returned when the walk is
 * complete. Visits whole slots, one lock held at a time: under the lock of
 * a slot it drains the old slot that maps there (as aor_table_find does)
 * and calls cb(b, arg) for every binding of the slot, so the bindings of a
 * record all come in one call, adjacent, and never split across pages.
 * Stops after the slot in which it has seen max_records records (0 counts
 * as 1), or after AOR_SCAN_VISITS * max_records slots (empty ones too:
 * the bound on a sparse table), or at the end of the walk.
 *
 * The cursor counts slots in reverse-binary order, so a table that grows
 * between calls (x4, aor_table_maint) is walked on without loss: every AoR
 * present from the first call to the last is visited at least once, and
 * exactly once when no resize started during the walk. AoRs added or
 * removed during the walk may or may not be visited. */
#define AOR_SCAN_VISITS 10
uint64_t aor_table_scan(aor_table_t *t, uint64_t cursor,
		unsigned int max_records, aor_scan_cb cb, void *arg);

/* A snapshot of a table's counters. */
typedef struct aor_table_stat
{
	long aors;
	long bindings;
	long mem;			  /* bytes of shared memory: bindings and slot arrays */
	uint64_t hold_max_ns; /* longest slot lock hold by the expiry, flush
						   * or resize walks since the start (the workers') */
	uint64_t hold_max_cpu_ns; /* the most CPU time spent in one */
	uint32_t slots;			  /* of the current array */
	int resizing;			  /* 1 while old slots are being drained */
} aor_table_stat_t;

/* Forgets the longest holds measured so far (hold_max_ns, _cpu_ns). */
void aor_table_hold_reset(aor_table_t *t);

/* Fills st from t. Takes and releases one slot lock: do not hold one. */
void aor_table_stat(aor_table_t *t, aor_table_stat_t *st);

#endif /* AOR_STORE_H */
