/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The change journal: every mutation primitive of the store records here,
 * under the slot lock, what it did to which binding: {kind, origin, id,
 * version, binding}. When the slot lock is released (aor_table_unlock) the
 * journal hands the changes, in the order they were made, to every
 * subscriber, exactly once each, then frees the blocks that left the
 * store. Events, counters and the features that need to see every change
 * (replication, SQL, flows) are subscribers; nothing else learns of a
 * change. Pure: no SIP parser, no struct sip_msg.
 *
 * One journal per process (per thread in the unit tests): a process holds
 * at most one slot lock at a time, so one batch is being recorded at once.
 */

#ifndef AOR_JOURNAL_H
#define AOR_JOURNAL_H

#include <stdint.h>
#include "binding.h"

struct aor_table;

/* what happened to a binding */
enum aor_change
{
	AOR_CH_INSERTED,  /* a new binding */
	AOR_CH_UPDATED,	  /* replaced by a new block (a string changed) */
	AOR_CH_REFRESHED, /* changed in place: expiry, CSeq, q, flags */
	AOR_CH_DELETED,	  /* removed by a request, an RPC or a flush */
	AOR_CH_EXPIRED,	  /* removed because its expiry passed */
	AOR_CH_EVICTED,	  /* removed to make room (max_contacts policy) */
	AOR_CH_COUNT
};

/* who asked for it: a subscriber ignores what it must not echo */
enum aor_origin
{
	AOR_ORIG_LOCAL, /* this node: a SIP request (save, unregister), the
					 * expiry walk */
	AOR_ORIG_RPC,	/* an operator (kamcmd aor.*) */
	AOR_ORIG_LOAD,	/* the start-up load (snapshot) */
	AOR_ORIG_PEER,	/* another node (replication) */
	AOR_ORIG_COUNT
};

/* one change as a subscriber sees it */
typedef struct aor_jchange
{
	struct aor_table *t;
	/* the binding: for the removed kinds the block that left the store
	 * (freed after the subscribers have seen it); for the others a copy
	 * made under the lock when a subscriber asked for bindings
	 * (AOR_SUB_BINDINGS), else NULL. Valid only during the call. */
	const aor_binding_t *b;
	uint64_t id;
	uint64_t version; /* the binding's version after the change */
	enum aor_change kind;
	enum aor_origin origin;
} aor_jchange_t;

/* 1 for the kinds that take a binding out of the store */
static inline int aor_change_removes(enum aor_change k)
{
	return k >= AOR_CH_DELETED;
}

#define AOR_SUB_BINDINGS 1 /* the subscriber reads c->b of every change */
#define AOR_SUB_MAX 8

/* the kinds a subscriber takes, as a mask of (1 << kind); 0 means all */
#define AOR_KIND(k) (1u << (k))

/* A subscriber. on_change runs once per change, in order, with no slot
 * lock held; it must not call into the store or the operations layer (it
 * may copy what it needs). after, when set, runs from aor_journal_after,
 * which the operations layer calls when the caller is done with what the
 * operation copied out: there it may call into the operations layer (the
 * script events run routes that may save()). */
typedef struct aor_subscriber
{
	const char *name;
	void (*on_change)(const aor_jchange_t *c, void *arg);
	void (*after)(void *arg);
	void *arg;
	int flags;
	unsigned int kinds; /* AOR_KIND() mask of the kinds it takes; 0: all */
} aor_subscriber_t;

/* Adds s (copied) to the subscribers, before the processes fork. Returns 0,
 * or -1 when AOR_SUB_MAX are registered already. */
int aor_journal_subscribe(const aor_subscriber_t *s);

/* Forgets every subscriber (the tests, and mod_destroy). */
void aor_journal_reset_subscribers(void);

/* Sets the origin of the changes recorded from now on by this process,
 * and returns the previous one (so that a caller can restore it). */
enum aor_origin aor_journal_origin(enum aor_origin o);

/* Makes room for n more changes and bytes of binding copies, so that the
 * records of one operation cannot fail halfway. Call under the slot lock,
 * before mutating. Returns 0, or AOR_E_NOMEM (process memory) with nothing
 * changed: the caller then refuses the operation. */
int aor_journal_reserve(int n, size_t bytes);

/* 1 when some subscriber reads bindings (AOR_SUB_BINDINGS). */
int aor_journal_wants_copies(void);

/* Bytes of copies a change of b needs (0 when no subscriber asks for
 * bindings); for sizing aor_journal_reserve. */
size_t aor_journal_copy_size(const aor_binding_t *b);

/* Records a change of b (lock held). For the removed kinds b has left the
 * store and the journal now owns it; for the others b is the stored
 * binding and is copied when a subscriber asks for bindings. A change of
 * a kind no subscriber takes is not queued (nobody would see it; a removed
 * block always is, to be freed after the unlock). Never fails
 * when room was reserved; otherwise it grows, and when even that fails a
 * removed block is freed at once and the loss counted (aor_journal_lost),
 * never leaked. */
void aor_journal_add(struct aor_table *t, enum aor_change kind,
		aor_binding_t *b, uint64_t version);

/* Hands b, a block no longer in the store that is not a change of its own
 * (the old block of an update), to the journal to be freed after the
 * unlock. Lock held. Never fails. */
void aor_journal_defer_free(aor_binding_t *b);

/* Hands the changes recorded so far to the subscribers, in order, and
 * frees the removed blocks. Call with no slot lock held (aor_table_unlock
 * does). */
void aor_journal_flush(void);

/* Runs the subscribers' after hooks when changes were handed over since
 * the last run. Call with no lock held, when nothing copied out of the
 * store is still in use. Inside an after hook it returns at once: the
 * outer call runs the hooks again for what the hook's own operations
 * changed, until nothing is left. */
void aor_journal_after(void);

/* Number of changes recorded and not yet flushed (tests, assertions). */
int aor_journal_pending(void);

/* Changes that could not be recorded (no memory past the reservation). */
unsigned long aor_journal_lost(void);

#endif /* AOR_JOURNAL_H */
