/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The change journal (see journal.h). Pure: no SIP parser.
 */

#include <string.h>

#include "sys.h"
#include "errors.h"
#include "journal.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* one recorded change; a copy is addressed by its offset, since the copy
 * buffer may move when it grows */
typedef struct jentry
{
	struct aor_table *t;
	aor_binding_t *b; /* removed kinds: the block; else NULL (copy: off) */
	size_t off;		  /* offset of the copy + 1, or 0 for none */
	uint64_t id;
	uint64_t version;
	unsigned char kind;
	unsigned char origin;
} jentry_t;

/* the subscribers: set before the fork, read-only after */
static aor_subscriber_t subs[AOR_SUB_MAX];
static int nsubs;
static int want_copies;			/* some subscriber reads bindings */
static unsigned int want_kinds; /* the kinds some subscriber takes */
static int have_after;			/* some subscriber has an after hook */

/* this process's batch */
static AOR_LOCAL jentry_t *ents;
static AOR_LOCAL int nents, capents;
static AOR_LOCAL char *cbuf;
static AOR_LOCAL size_t cused, ccap;
static AOR_LOCAL aor_binding_t *garbage; /* deferred frees, via next */
static AOR_LOCAL enum aor_origin origin;
static AOR_LOCAL int flushing, after_due, in_after;
static unsigned long lost; /* atomic */

int aor_journal_subscribe(const aor_subscriber_t *s)
{
	if(nsubs == AOR_SUB_MAX)
		return -1;
	subs[nsubs] = *s;
	if(subs[nsubs].kinds == 0)
		subs[nsubs].kinds = AOR_KIND(AOR_CH_COUNT) - 1;
	want_kinds |= subs[nsubs].kinds;
	if(s->flags & AOR_SUB_BINDINGS)
		want_copies = 1;
	if(s->after)
		have_after = 1;
	nsubs++;
	return 0;
}

void aor_journal_reset_subscribers(void)
{
	nsubs = 0;
	want_copies = 0;
	want_kinds = 0;
	have_after = 0;
}

enum aor_origin aor_journal_origin(enum aor_origin o)
{
	enum aor_origin old = origin;

	origin = o;
	return old;
}

#ifdef AOR_UNIT_TEST
static void release(void)
{
	AOR_PKG_FREE(ents);
	AOR_PKG_FREE(cbuf);
	ents = NULL;
	cbuf = NULL;
	capents = nents = 0;
	ccap = cused = 0;
}

#endif
AOR_LOCAL_CLEANUP(release)

static __attribute__((noinline)) int grow_entries(int need)
{
	jentry_t *v;
	int cap;

	if(need <= capents)
		return 0;
	for(cap = capents ? capents : 64; cap < need; cap *= 2)
		;
	v = AOR_PKG_REALLOC(ents, cap * sizeof(*v));
	if(v == NULL)
		return AOR_E_NOMEM;
	local_track();
	ents = v;
	capents = cap;
	return 0;
}

static __attribute__((noinline)) int grow_copies(size_t need)
{
	size_t cap;
	char *b;

	if(need <= ccap)
		return 0;
	for(cap = ccap ? ccap : 4096; cap < need; cap *= 2)
		;
	b = AOR_PKG_REALLOC(cbuf, cap);
	if(b == NULL)
		return AOR_E_NOMEM;
	local_track();
	cbuf = b;
	ccap = cap;
	return 0;
}

static __attribute__((noinline)) int reserve_grow(int n, size_t bytes)
{
	if(grow_entries(nents + n) < 0 || grow_copies(cused + bytes) < 0) {
		AOR_LOG_ERR("journal: no process memory for %d changes\n", n);
		return AOR_E_NOMEM;
	}
	return 0;
}

int aor_journal_reserve(int n, size_t bytes)
{
	if(nents + n <= capents && cused + bytes <= ccap)
		return 0; /* the common case: room left from earlier batches */
	return reserve_grow(n, bytes);
}

int aor_journal_wants_copies(void)
{
	return want_copies;
}

size_t aor_journal_copy_size(const aor_binding_t *b)
{
	return want_copies ? ALIGN8(aor_binding_size(b)) : 0;
}

/* the slow end of aor_journal_add: no room reserved and none to be had */
static __attribute__((noinline, cold)) void lose(aor_binding_t *b, int removes)
{
	aor_atomic_add(&lost, 1);
	AOR_LOG_CRIT("journal: change of binding %llu lost\n",
			(unsigned long long)b->id);
	if(removes)
		AOR_FREE(b);
}

void aor_journal_add(struct aor_table *t, enum aor_change kind,
		aor_binding_t *b, uint64_t version)
{
	int removes = aor_change_removes(kind);
	size_t sz;
	jentry_t *e;

	if(!removes && !(want_kinds & AOR_KIND(kind)))
		return; /* nobody takes it */
	sz = removes ? 0 : aor_journal_copy_size(b);
	if((nents == capents && grow_entries(nents + 1) < 0)
			|| (cused + sz > ccap && grow_copies(cused + sz) < 0)) {
		lose(b, removes);
		return;
	}
	e = &ents[nents++];
	e->t = t;
	e->kind = (unsigned char)kind;
	e->origin = (unsigned char)origin;
	e->id = b->id;
	e->version = version;
	e->b = removes ? b : NULL;
	e->off = 0;
	if(sz > 0) {
		memcpy(cbuf + cused, b, aor_binding_size(b));
		((aor_binding_t *)(cbuf + cused))->next = NULL;
		e->off = cused + 1;
		cused += sz;
	}
}

void aor_journal_defer_free(aor_binding_t *b)
{
	b->next = garbage;
	garbage = b;
}

static void deliver(const jentry_t *e)
{
	aor_jchange_t c;
	int i;

	c.t = e->t;
	c.id = e->id;
	c.version = e->version;
	c.kind = (enum aor_change)e->kind;
	c.origin = (enum aor_origin)e->origin;
	for(i = 0; i < nsubs; i++) {
		if(!(subs[i].kinds & AOR_KIND(e->kind)))
			continue;
		/* resolved per call: a copy's address is stable during it */
		c.b = e->b ? e->b
				   : (e->off ? (const aor_binding_t *)(cbuf + e->off - 1)
							 : NULL);
		subs[i].on_change(&c, subs[i].arg);
	}
}

static void free_garbage(void)
{
	aor_binding_t *b, *next;

	for(b = garbage, garbage = NULL; b; b = next) {
		next = b->next;
		AOR_FREE(b);
	}
}

static __attribute__((noinline)) void flush(void)
{
	int i;

	flushing = 1;
	for(i = 0; i < nents; i++) {
		deliver(&ents[i]);
		if(ents[i].b)
			AOR_FREE(ents[i].b);
	}
	if(nents > 0 && have_after)
		after_due = 1;
	nents = 0;
	cused = 0;
	free_garbage();
	flushing = 0;
}

void aor_journal_flush(void)
{
	if(!flushing && (nents > 0 || garbage != NULL))
		flush();
}

static __attribute__((noinline)) void run_after(void)
{
	int i;

	in_after = 1;
	/* a hook's own operations hand over more changes: round again */
	while(after_due) {
		after_due = 0;
		for(i = 0; i < nsubs; i++)
			if(subs[i].after)
				subs[i].after(subs[i].arg);
	}
	in_after = 0;
}

void aor_journal_after(void)
{
	if(after_due && !in_after)
		run_after();
}

int aor_journal_pending(void)
{
	return nents;
}

unsigned long aor_journal_lost(void)
{
	return aor_atomic_get(&lost);
}
