/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The operations layer: the table registry and the ONLY place that takes
 * slot locks. Each operation on an AoR is one straight lock site: lock,
 * find, apply (merge.c or a store primitive, recorded by the journal),
 * copy out, unlock (which hands the journal's changes to the subscribers).
 * The walks (expiry, flush, resize, cursor pages, statistics) take one
 * slot lock at a time, bounded as each says. save, lookup, the RPCs, the
 * snapshot load and the timer call these; none of them locks by itself.
 * Pure: no SIP parser, no struct sip_msg.
 */

#ifndef AOR_OPS_H
#define AOR_OPS_H

#include "store.h"
#include "merge.h"
#include "journal.h"

/* ---- the table registry ---- */

/* Sets up the registry in shared memory (mod_init, before the fork):
 * tables get 2^size_log2 slots to start with, and on_new (may be NULL) is
 * called for each table made, which is dropped when it returns < 0.
 * Returns 0 or -1 (logged). */
int aor_ops_init(unsigned int size_log2, int (*on_new)(aor_table_t *t));

/* After the fork no table can be made any more (each process would have
 * its own): aor_table_get then only finds. */
void aor_ops_seal(void);

/* Frees every table (mod_destroy). */
void aor_ops_destroy(void);

/* Returns the table named name (case-insensitive), making it before the
 * seal; NULL when there is no such table or the name is refused (1 to 64
 * letters, digits, '_', '-', '.'), logged. */
aor_table_t *aor_table_get(const str *name);

/* The first table of the registry (for walking all of them), or NULL. */
aor_table_t *aor_tables(void);

/* ---- operations on one AoR ---- */

/* the most bindings one AoR holds, whatever max_contacts says: the 200 OK
 * of a REGISTER lists every one (RFC 3261 10.3 step 8) */
#define AOR_REC_MAX 1024

/* Applies a parsed REGISTER (or an operator's aor.add) to its record with
 * the given limits (merge.c; no Contact and no '*' is a query), recording
 * its changes as of origin o, and copies the live bindings out into out
 * (at most max). Returns their count, or an AOR_E_* with nothing changed.
 * The copies stay valid until the next aor_ops_save of this process; call
 * aor_ops_done when done with them. plan: req->ncontacts entries. */
int aor_ops_save(aor_table_t *t, const aor_regreq_t *req,
		const aor_limits_t *lim, aor_plan_t *plan, enum aor_origin o,
		aor_binding_t **out, int max);

/* Copies the live bindings of key at now into out (at most max). Returns
 * the count, or AOR_E_NOMEM. The copies stay valid until the next
 * aor_ops_fetch of this process. Changes nothing. */
int aor_ops_fetch(aor_table_t *t, const str *key, time_t now,
		aor_binding_t **out, int max);

/* Says whether binding b is one to remove (arg as given to the caller). */
typedef int (*aor_match_f)(const aor_binding_t *b, const void *arg);

/* 1 when b's id is *(const uint64_t *)arg: an aor_match_f */
int aor_match_id(const aor_binding_t *b, const void *arg);

/* Removes the bindings of key for which match returns 1 (every binding
 * when match is NULL), as changes AOR_CH_DELETED of origin o. Returns how
 * many were removed, or AOR_E_NOMEM (nothing removed). Runs the
 * subscribers' after hooks before it returns. */
int aor_ops_remove(aor_table_t *t, const str *key, aor_match_f match,
		const void *arg, enum aor_origin o);

/* aor_ops_remove recording the removals as kind (one that removes:
 * AOR_CH_DELETED, AOR_CH_EXPIRED or AOR_CH_EVICTED); handle_lost_tcp
 * removes as AOR_CH_EXPIRED, as stock's timer does. */
int aor_ops_remove_as(aor_table_t *t, const str *key, aor_match_f match,
		const void *arg, enum aor_origin o, enum aor_change kind);

/* Restores b (a binding of a snapshot, or of a peer) into t with origin
 * o: inserted keeping its id and version (a new id when b->id is 0).
 * Returns 0 (t owns b), 1 when the record already holds a binding with
 * b's id, or AOR_E_NOMEM when the journal could not make room (in both b
 * is not taken; the caller frees it). */
int aor_ops_restore(aor_table_t *t, aor_binding_t *b, enum aor_origin o);

/* The AoR key of t holds exactly bs[0..n) from now on (db_mode 3: what the
 * database says it holds): its bindings are removed and bs inserted (with
 * their ids; a new one for id 0: ids[i] says which), the changes recorded
 * with origin o. The blocks are taken on success. Returns n, or AOR_E_NOMEM with nothing
 * changed (the caller frees bs). */
int aor_ops_replace(aor_table_t *t, const str *key, aor_binding_t **bs, int n,
		enum aor_origin o, uint64_t *ids);

/* Runs the subscribers' after hooks (the script events) for what the
 * process's last operations changed; call after aor_ops_save when the
 * copies it returned are no longer needed. */
void aor_ops_done(void);

/* ---- walks ---- */

/* One step of the expiry walk: visits the next `blocks` blocks of
 * AOR_HINT_SLOTS slots (wrapping at the end), each slot under its own
 * lock, except the blocks whose hint says nothing there has expired at
 * now: those cost one read and no lock, so an idle table of a million AoRs
 * is walked without touching a binding. The removed bindings are changes
 * AOR_CH_EXPIRED of origin local. Returns how many. Only one process may
 * call it for a given table (the one that calls aor_table_maint). */
long aor_table_expire_step(aor_table_t *t, unsigned int blocks, time_t now);

/* Removes the bindings of slot pos (and of the old slot that maps to it)
 * that expired at now, under the slot's lock. Returns how many. */
int aor_table_expire_slot(aor_table_t *t, uint32_t pos, time_t now);

/* Removes every binding of slot pos (and of the old slot that maps to it)
 * under its lock, as changes AOR_CH_DELETED of origin o. Returns how
 * many, or -1 when pos is past the current array (a walk pos = 0, 1, ...
 * ends there, and covers an array that grows meanwhile). */
int aor_table_flush_slot(aor_table_t *t, uint32_t pos, enum aor_origin o);

/* Removes every binding of t, slot by slot (one lock hold each); returns
 * how many. */
long aor_table_flush(aor_table_t *t, enum aor_origin o);

/* One page of a cursor walk over t (Redis's dictScan). Start with cursor
 * 0 and pass each returned cursor back in; 0 is returned when the walk is
 * complete. Visits whole slots, one lock held at a time (aor_slot_visit:
 * cb runs under the lock, copies and must not call into the store), so the
 * bindings of a record all come in one call, adjacent, and never split
 * across pages. Stops after the slot in which it has seen max_records
 * records (0 counts as 1), or after AOR_SCAN_VISITS * max_records slots
 * (empty ones too: the bound on a sparse table), or at the end. Every AoR
 * present from the first call to the last is visited at least once, and
 * exactly once when no resize started during the walk. */
#define AOR_SCAN_VISITS 10
uint64_t aor_table_scan(aor_table_t *t, uint64_t cursor,
		unsigned int max_records, aor_scan_cb cb, void *arg);

/* One bounded step of housekeeping (the timer calls it): starts a resize
 * when the table holds more AoRs than slots, drains at most budget old
 * slots (one lock hold each), and finishes a resize when all are drained.
 * Returns 1 while a resize is in progress, 0 otherwise, AOR_E_NOMEM when a
 * larger array could not be had (the table keeps working at its size).
 * Only one process may call it for a given table. */
int aor_table_maint(aor_table_t *t, unsigned int budget);

/* Number of slots of the current array (read under a slot lock). */
uint32_t aor_table_size(aor_table_t *t);

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

/* Fills st from t. Takes and releases one slot lock: do not hold one. */
void aor_table_stat(aor_table_t *t, aor_table_stat_t *st);

/* Forgets the longest holds measured so far (hold_max_ns, _cpu_ns). */
void aor_table_hold_reset(aor_table_t *t);

/* Releases every lock of t. Only for the last process standing (the
 * shutdown): a process killed while it held a slot lock left it locked. */
void aor_table_unlock_all(aor_table_t *t);

/* ---- reads for the usrloc C API (ulapi.c) ---- */

/* Visits the slots first, first + step, first + 2 step, ... of the current
 * array of t (a partition of stock's get_all_ucontacts), each under its own
 * lock, calling cb for each binding as aor_slot_visit does (cb copies and
 * must not call into the store). Bounded: one slot per lock hold, and
 * size / step slots in all. Returns the number of slots visited. A resize
 * that starts meanwhile may make one call miss or repeat some bindings. */
long aor_table_visit_stride(aor_table_t *t, uint32_t first, uint32_t step,
		aor_scan_cb cb, void *arg);

/* Copies the live bindings of the AoR that holds the binding of AoR hash
 * hash and id id into out (at most max), as aor_ops_fetch does (same
 * buffer, same lifetime). Returns the count (0 when no binding has that
 * hash and id), or AOR_E_NOMEM. Changes nothing. */
int aor_ops_fetch_id(aor_table_t *t, uint32_t hash, uint64_t id, time_t now,
		aor_binding_t **out, int max);

/* Brings the expiry of the binding id of AoR hash hash forward to until
 * when it expires later (or never), as a change AOR_CH_REFRESHED of
 * origin o (stock usrloc's keepalive timeout: a contact that stopped
 * answering expires in 10 s). Returns 1 when changed, 0 when there is no
 * such binding or it expires sooner, AOR_E_NOMEM (nothing changed). Runs
 * the subscribers' after hooks before it returns. */
int aor_ops_expire_by(aor_table_t *t, uint32_t hash, uint64_t id,
		time_t until, enum aor_origin o);

/* Records an answer to a keepalive of the binding id of AoR hash hash: its
 * ka_last becomes when and its ka_rtt rtt (microseconds), under the slot
 * lock, with no journal entry. Returns 1 when the binding was found, 0
 * otherwise. */
int aor_ops_ka_answered(
		aor_table_t *t, uint32_t hash, uint64_t id, time_t when, uint32_t rtt);

/* ---- replication (repl.c) ---- */

/* Applies a peer's binding b (its id and version set; its hash is made
 * here) with origin peer: aor_rec_put under the lock of its AoR. Returns
 * 1 (t owns b), 0 when stale or AOR_E_NOMEM (the caller frees b). */
int aor_ops_put(aor_table_t *t, aor_binding_t *b, time_t now);

/* Applies a peer's removal of binding id of aor at version with origin
 * peer (aor_rec_drop). Returns 1 removed, 0 not held, -1 stale,
 * AOR_E_NOMEM. */
int aor_ops_drop(aor_table_t *t, const str *aor, uint64_t id,
		uint64_t version, time_t now);

/* aor_ops_drop of a removal that names its contact (aor_rec_drop_c). */
int aor_ops_drop_c(aor_table_t *t, const str *aor, uint64_t id,
		uint64_t version, const aor_rmc_t *c, time_t now);

/* Under lock index li of t: forgets the tombstones whose time is up at
 * now, then calls cb (when set) for each one left. Returns how many were
 * forgotten. */
int aor_ops_tombs(aor_table_t *t, uint32_t li, time_t now, aor_tomb_cb cb,
		void *arg);

#endif /* AOR_OPS_H */
