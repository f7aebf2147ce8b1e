/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * register_ulcb of the usrloc C API, fed by the change journal: each
 * change of a binding, once, becomes the callback type stock runs for it
 * (inserted: UL_CONTACT_INSERT; updated or refreshed: UL_CONTACT_UPDATE;
 * deleted or evicted: UL_CONTACT_DELETE; expired: UL_CONTACT_EXPIRE). The
 * journal's on_change only copies the binding (no call into the store
 * there); the callbacks run from the journal's after hook, with no lock
 * held, so that a callback may call the API again (pua_reginfo's calls
 * get_urecord). The ucontact_t a callback gets, its strings and *c->aor
 * live until the callback returns. The snapshot load runs none, as stock
 * runs none for its start-up load from the database.
 */

#include <string.h>

#include "../../core/dprint.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"

#include "sys.h"
#include "ops.h"
#include "ulapi.h"

#define UL_CB_MAX 16
#define UL_PENDING_MAX 4096 /* changes waiting for their callbacks */

typedef struct ul_cbe
{
	int types;
	ul_cb *f;
	void *param;
} ul_cbe_t;

/* registered before the fork (the consumers' mod_init): every process
 * has its copy */
static ul_cbe_t cbs[UL_CB_MAX];
static int ncbs = 0;
static int cb_types = 0; /* union of the registered types */

typedef struct ul_pending
{
	struct ul_pending *next;
	aor_table_t *t;
	int type;
	enum aor_origin origin;
	aor_binding_t b; /* its strings follow */
} ul_pending_t;

static ul_pending_t *pend_first = NULL, **pend_last = &pend_first;
static int pend_n = 0;
static unsigned long pend_dropped = 0;

/* the removed binding whose callbacks are running (aor_ul_cb_removed) */
static const ul_pending_t *removing = NULL;

/* The ucontact_t a callback gets lives in a ring in shm, not on the
 * stack: a consumer that keeps the pointer past the callback (snmpstats
 * reads expires, q and last_modified of it later, from its AgentX
 * process) reads valid memory holding the contact's values at the time of
 * its change, until UL_CB_RING later callbacks reuse the slot; its
 * strings are emptied when the callbacks return (what they pointed to
 * was the change's copy). Stock hands out the contact itself. */
#define UL_CB_RING 4096
static ucontact_t *ring;
static unsigned int *ring_pos;
static str ring_empty = {"", 0};

const aor_binding_t *aor_ul_cb_removed(aor_table_t *t, const str *aor)
{
	str k;

	if(removing == NULL || removing->t != t || aor == NULL)
		return NULL;
	k = aor_binding_get(&removing->b, AOR_F_AOR);
	if(k.len != aor->len || memcmp(k.s, aor->s, k.len) != 0)
		return NULL;
	return &removing->b;
}

static int kind_type(enum aor_change k)
{
	switch(k) {
		case AOR_CH_INSERTED:
			return UL_CONTACT_INSERT;
		case AOR_CH_UPDATED:
		case AOR_CH_REFRESHED:
			return UL_CONTACT_UPDATE;
		case AOR_CH_EXPIRED:
			return UL_CONTACT_EXPIRE;
		default:
			return UL_CONTACT_DELETE;
	}
}

static void ul_on_change(const aor_jchange_t *c, void *arg)
{
	int type = kind_type(c->kind);
	size_t size;
	ul_pending_t *p;

	if(c->origin == AOR_ORIG_LOAD || !(cb_types & type) || c->b == NULL)
		return;
	/* bounded: at most UL_PENDING_MAX wait; a flood beyond is counted */
	if(pend_n >= UL_PENDING_MAX)
		goto drop;
	size = sizeof(*p) - sizeof(p->b) + aor_binding_size(c->b);
	p = pkg_malloc(size);
	if(p == NULL)
		goto drop;
	memcpy(&p->b, c->b, aor_binding_size(c->b));
	p->b.next = NULL;
	p->t = c->t;
	p->type = type;
	p->origin = c->origin;
	p->next = NULL;
	*pend_last = p;
	pend_last = &p->next;
	pend_n++;
	return;
drop:
	pend_dropped++;
	AOR_WARN_LIMITED("usrloc callbacks: a change not delivered (%d pending, "
					 "%lu dropped in all)",
			pend_n, pend_dropped);
}

static void run_one(ul_pending_t *p)
{
	char rbuf[AOR_RUID_LEN + 1];
	ucontact_t local, *uc = &local;
	str aor = aor_binding_get(&p->b, AOR_F_AOR);
	int i;

	if(ring != NULL)
		uc = &ring[__atomic_fetch_add(ring_pos, 1, __ATOMIC_RELAXED)
				   % UL_CB_RING];
	/* a peer's change carries stock's FL_DMQRPL, so that dmq_usrloc does
	 * not send it back */
	aor_ul_contact_fill(uc, &p->b, &aor, aor_ul_domain_name(p->t), rbuf,
			p->origin == AOR_ORIG_PEER ? FL_DMQRPL : FL_NONE);
	if(p->type & (UL_CONTACT_DELETE | UL_CONTACT_EXPIRE))
		removing = p;
	for(i = 0; i < ncbs; i++)
		if(cbs[i].types & p->type)
			cbs[i].f(uc, p->type, cbs[i].param);
	removing = NULL;
	/* the strings were the change's: none may be read after this */
	uc->aor = &ring_empty;
	uc->c = uc->received = uc->path = uc->callid = ring_empty;
	uc->user_agent = uc->instance = uc->ruid = ring_empty;
	uc->sock = NULL;
}

/* Runs the callbacks of what is pending. The callbacks' own changes are
 * queued behind and run by the journal's next round of after hooks. */
static void ul_after(void *arg)
{
	ul_pending_t *p, *next;

	p = pend_first;
	pend_first = NULL;
	pend_last = &pend_first;
	pend_n = 0;
	for(; p; p = next) {
		next = p->next;
		run_one(p);
		pkg_free(p);
	}
}

int aor_ul_register_cb(int types, ul_cb f, void *param)
{
	aor_subscriber_t sub;

	if(f == NULL || types < 0) {
		LM_CRIT("invalid usrloc callback\n");
		return -1;
	}
	if(ncbs == UL_CB_MAX) {
		LM_ERR("more than %d usrloc callbacks\n", UL_CB_MAX);
		return -1;
	}
	/* the journal copies bindings only once someone asks for callbacks:
	 * a config without such a consumer pays nothing */
	if(ncbs == 0) {
		ring = shm_malloc(UL_CB_RING * sizeof(*ring) + sizeof(*ring_pos));
		if(ring == NULL) {
			LM_ERR("no shm for the usrloc callbacks' contacts\n");
			return -1;
		}
		memset(ring, 0, UL_CB_RING * sizeof(*ring) + sizeof(*ring_pos));
		ring_pos = (unsigned int *)(ring + UL_CB_RING);
		memset(&sub, 0, sizeof(sub));
		sub.name = "usrloc callbacks";
		sub.on_change = ul_on_change;
		sub.after = ul_after;
		sub.flags = AOR_SUB_BINDINGS;
		sub.kinds = 0;
		if(aor_journal_subscribe(&sub) < 0) {
			LM_ERR("cannot subscribe the usrloc callbacks to the journal\n");
			return -1;
		}
	}
	cbs[ncbs].types = types;
	cbs[ncbs].f = f;
	cbs[ncbs].param = param;
	ncbs++;
	cb_types |= types;
	return 1; /* stock returns the callback's id, > 0 */
}

int aor_ul_cb_init(void)
{
	return 0;
}
