/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * Applying one parsed REGISTER to one record: RFC 3261 10.3 steps 6 to 8
 * (wildcard, Call-ID/CSeq ordering, add/update/remove), RFC 5626 instance
 * and reg-id matching, the expires precedence and the max_contacts and
 * max_bindings limits. Validate and allocate first, mutate last: a request
 * is applied whole or not at all.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#ifndef AOR_MERGE_H
#define AOR_MERGE_H

#include "store.h"

enum aor_policy
{
	AOR_POLICY_REJECT = 0, /* 503, as the stock registrar */
	AOR_POLICY_EVICT_OLDEST,
	AOR_POLICY_EVICT_EXPIRING
};

enum aor_min_mode
{
	AOR_MIN_RAISE = 0, /* raise to min_expires (stock default) */
	AOR_MIN_REJECT = 1 /* 423 Interval Too Brief */
};

/* how a contact without +sip.instance finds its binding (stock usrloc's
 * matching_mode values) */
enum aor_match
{
	AOR_MATCH_CONTACT = 0, /* the URI (RFC 3261 10.3 step 7, 19.1.4) */
	AOR_MATCH_CALLID = 1,  /* the URI and the Call-ID */
	AOR_MATCH_PATH = 2,	   /* the URI and the Path, when the request has one */
	AOR_MATCH_CALLID_ONLY = 3 /* the Call-ID alone */
};

typedef struct aor_limits
{
	unsigned int default_expires;
	unsigned int min_expires;
	unsigned int max_expires; /* 0: no maximum */
	enum aor_min_mode min_mode;
	unsigned int max_contacts; /* 0: no limit */
	enum aor_policy policy;
	unsigned long max_bindings; /* table-wide, 0: no limit */
	unsigned long shm_reserve;	/* bytes of shm new bindings leave free */
	unsigned int default_range; /* % variation of default_expires */
	unsigned int range;			/* % variation of a requested expires */
	enum aor_match match;		/* matching_mode */
} aor_limits_t;

#define AOR_EXPIRES_PERMANENT (-2) /* aor.add with expires 0 */

/* one Contact of the request */
typedef struct aor_contact
{
	str uri;
	str instance;	   /* +sip.instance value, empty when absent */
	int32_t reg_id;	   /* 0 when absent */
	int16_t q;		   /* thousandths or AOR_Q_UNSPEC */
	long long expires; /* resolved seconds; 0 removes; -1: not given;
						* AOR_EXPIRES_PERMANENT: never expires */
	uint32_t methods;
} aor_contact_t;

/* one REGISTER, parsed by the glue; strings point into the message */
typedef struct aor_regreq
{
	str aor;
	uint32_t hash;
	str callid;
	uint32_t cseq;
	str received; /* empty when the source matches the Contact */
	str path;
	str user_agent;
	str sock_str;
	void *sock;
	uint32_t cflags;
	int32_t conn_id; /* connection of a TCP/TLS/WS request, 0 when none */
	time_t now;
	int star;	   /* Contact: * */
	int only_this; /* save() flag 0x04: keep only this request's bindings */
	int operator;  /* an operator's change (aor.add): not subject to the
					* Call-ID/CSeq ordering of RFC 3261 10.3 step 7 */
	int ncontacts;
	aor_contact_t *contacts;
} aor_regreq_t;

/* Scratch the merge needs: one plan entry per contact, kept by the caller
 * (pkg memory in the glue) so that nothing is allocated for it under the
 * lock. */
typedef struct aor_plan
{
	aor_binding_t *match; /* existing binding this contact refers to */
	aor_binding_t *nb;	  /* new block, when one is needed */
	int action;
} aor_plan_t;

/* at most this many bindings evicted by one request */
#define AOR_EVICT_MAX 32

/* RFC 3261 10.2.1/10.3 step 8: the expiry of one contact from its expires
 * parameter (param, -1 when absent), the Expires header (hdr, -1 when
 * absent) and default_expires, clamped to max_expires. Sets *out (0 means
 * remove). Returns 0, or AOR_E_TOO_BRIEF when below min_expires in reject
 * mode (then *out is min_expires, for the Min-Expires header). */
int aor_expires_resolve(const aor_limits_t *lim, long long param, long long hdr,
		long long *out);

/* aor_expires_resolve with stock's overrides and variation: override (the
 * xavp_cfg expires, -1 when not set) replaces a nonzero param, hdr or
 * default (a removal stays one) and is never varied; otherwise a nonzero expiry at or above min_expires is lowered by
 * up to default_range percent (when default_expires was used) or range
 * percent (when the client asked), by rnd percent of that span (0..99, as
 * stock's kam_rand() % 100; -1: no variation, save() flag 0x08), then
 * raised to min_expires and clamped to max_expires. The caller draws rnd,
 * so this stays deterministic. */
int aor_expires_vary(const aor_limits_t *lim, long long param, long long hdr,
		long long override, int rnd, long long *out);

/* Applies req to rec (the record of req->aor, lock held) with plan as
 * scratch (req->ncontacts entries), every change through the store's
 * primitives (so the journal records each). When copies is not NULL it
 * first makes it large enough for aor_rec_copy of the result, so that an
 * applied request can always be answered with its bindings. Returns 0
 * when applied, or a negative AOR_E_* with the record unchanged. */
int aor_merge_apply(aor_rec_t *rec, const aor_regreq_t *req,
		const aor_limits_t *lim, aor_plan_t *plan, aor_copybuf_t *copies);

/* what an applied REGISTER did, as stock registrar's save() returns it */
#define AOR_SAVED_INSERTED 1 /* a binding added (or nothing changed) */
#define AOR_SAVED_UPDATED 2
#define AOR_SAVED_DELETED 3 /* a binding removed, or Contact: * */
#define AOR_SAVED_QUERY 4	/* no Contact: the bindings listed */

/* The AOR_SAVED_* of req applied with plan (after aor_merge_apply
 * returned 0): the action of its last contact that changed something,
 * inserted when none did. */
int aor_merge_result(const aor_regreq_t *req, const aor_plan_t *plan);

#endif /* AOR_MERGE_H */
