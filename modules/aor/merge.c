/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * One REGISTER applied to one record (see merge.h). Pure: no SIP parser.
 */

#include <string.h>

#include "sys.h"
#include "errors.h"
#include "merge.h"

enum
{
	ACT_NONE = 0, /* removal of an unknown binding, or a duplicate */
	ACT_ADD,
	ACT_UPDATE,
	ACT_DELETE
};

int aor_expires_resolve(
		const aor_limits_t *lim, long long param, long long hdr, long long *out)
{
	return aor_expires_vary(lim, param, hdr, -1, -1, out);
}

/* e lowered by up to pct percent of itself, rnd hundredths into that span;
 * float arithmetic as stock registrar's randomize_expires (sip_msg.c) */
static long long vary(long long e, unsigned int pct, int rnd)
{
	long long lo;

	if(pct == 0 || rnd < 0)
		return e;
	lo = (long long)((float)e - (float)pct / 100 * (float)e);
	return (long long)((float)lo + (float)(rnd % 100) / 100 * (float)(e - lo));
}

int aor_expires_vary(const aor_limits_t *lim, long long param, long long hdr,
		long long override, int rnd, long long *out)
{
	unsigned int pct;
	long long e;

	/* RFC 3261 10.3 step 8: the expires parameter, else the Expires header,
	 * else a locally configured default */
	if(param >= 0 || hdr >= 0) {
		e = param >= 0 ? param : hdr;
		pct = lim->range;
	} else {
		e = lim->default_expires;
		pct = lim->default_range;
	}
	/* 10.3 step 7: a binding asked with expiration 0 MUST be removed, so
	 * the override (stock also applies it to removals) does not refresh */
	if(override >= 0 && e != 0) {
		e = override;
		pct = 0;
	}
	if(e == 0) {
		*out = 0;
		return 0;
	}
	if(e < (long long)lim->min_expires) {
		/* 10.3 step 7 / 10.2.8: too brief; 423 with Min-Expires */
		if(lim->min_mode == AOR_MIN_REJECT) {
			*out = lim->min_expires;
			return AOR_E_TOO_BRIEF;
		}
		e = lim->min_expires;
	}
	/* 10.3 step 8: the registrar MAY shorten the interval (never lengthen:
	 * the variation only lowers it) */
	e = vary(e, pct, rnd);
	if(e < (long long)lim->min_expires)
		e = lim->min_expires;
	if(lim->max_expires && e > (long long)lim->max_expires)
		e = lim->max_expires;
	*out = e;
	return 0;
}

static int str_eq(const str *a, const str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}

static int uri_match(const str *a, const str *b)
{
	int r = aor_uri_equal(a, b);

	return r < 0 ? str_eq(a, b) : r;
}

/* RFC 5626 6 / RFC 5627: with +sip.instance the binding is the AoR,
 * instance and reg-id; without it, the contact URI (RFC 3261 10.3 step 7,
 * compared by 19.1.4), and with matching_mode also the Call-ID or the
 * Path of req as stock usrloc's get_ucontact() asks, or the Call-ID alone */
static int contact_matches(const aor_contact_t *c, const aor_binding_t *b,
		const aor_regreq_t *req, enum aor_match mode)
{
	str s;

	if(c->instance.len > 0) {
		s = aor_binding_get(b, AOR_F_INSTANCE);
		return str_eq(&s, &c->instance) && b->reg_id == c->reg_id;
	}
	if(mode == AOR_MATCH_CALLID || mode == AOR_MATCH_CALLID_ONLY) {
		s = aor_binding_get(b, AOR_F_CALLID);
		if(!str_eq(&s, &req->callid))
			return 0;
		if(mode == AOR_MATCH_CALLID_ONLY)
			return 1;
	} else if(mode == AOR_MATCH_PATH && req->path.len > 0) {
		s = aor_binding_get(b, AOR_F_PATH);
		if(!str_eq(&s, &req->path))
			return 0;
	}
	s = aor_binding_get(b, AOR_F_URI);
	return uri_match(&s, &c->uri);
}

static int contacts_same(const aor_contact_t *a, const aor_contact_t *b)
{
	if(a->instance.len > 0 || b->instance.len > 0)
		return str_eq(&a->instance, &b->instance) && a->reg_id == b->reg_id;
	return uri_match(&a->uri, &b->uri);
}

/* RFC 3261 10.3 steps 6 and 7: a binding with the request's Call-ID may be
 * changed only by a higher CSeq; otherwise the whole update fails */
static int cseq_ok(const aor_regreq_t *req, const aor_binding_t *b)
{
	str cid = aor_binding_get(b, AOR_F_CALLID);

	return req->operator || !str_eq(&cid, &req->callid) || req->cseq > b->cseq;
}

/* the plan entry that names b, or NULL */
static aor_plan_t *plan_of(aor_plan_t *plan, int n, const aor_binding_t *b)
{
	int i;

	for(i = 0; i < n; i++)
		if(plan[i].match == b && plan[i].action != ACT_NONE)
			return &plan[i];
	return NULL;
}

/* the first live binding c names that none of the first nplan entries of
 * plan has claimed: 19.1.4 equality is not transitive, so two contacts
 * that differ from each other can both match one binding, and each
 * binding may be the match of one contact only */
static aor_binding_t *find_live(const aor_rec_t *rec, const aor_contact_t *c,
		const aor_regreq_t *req, enum aor_match mode, aor_plan_t *plan,
		int nplan)
{
	aor_binding_t *b = *rec->link;
	int i;

	for(i = 0; i < rec->n; i++, b = b->next)
		if(!aor_binding_expired(b, req->now) && contact_matches(c, b, req, mode)
				&& plan_of(plan, nplan, b) == NULL)
			return b;
	return NULL;
}

static void fill_in(
		aor_binding_in_t *in, const aor_regreq_t *req, const aor_contact_t *c)
{
	memset(in, 0, sizeof(*in));
	in->f[AOR_F_AOR] = req->aor;
	in->f[AOR_F_URI] = c->uri;
	in->f[AOR_F_RECEIVED] = req->received;
	in->f[AOR_F_PATH] = req->path;
	in->f[AOR_F_UA] = req->user_agent;
	in->f[AOR_F_CALLID] = req->callid;
	in->f[AOR_F_INSTANCE] = c->instance;
	in->f[AOR_F_SOCK] = req->sock_str;
	in->expires = c->expires > 0 ? aor_expires_abs(req->now, c->expires) : 0;
	in->modified = req->now;
	in->sock = req->sock;
	in->hash = req->hash;
	in->cseq = req->cseq;
	in->cflags = req->cflags;
	in->methods = c->methods;
	in->reg_id = c->reg_id;
	in->conn_id = req->conn_id;
	in->q = c->q;
}

/* step 1: match every contact and check the ordering rule; no change */
static int plan_contacts(const aor_rec_t *rec, const aor_regreq_t *req,
		enum aor_match mode, aor_plan_t *plan, int *adds, int *dels)
{
	const aor_contact_t *c;
	int i, j;

	*adds = *dels = 0;
	for(i = 0; i < req->ncontacts; i++) {
		c = &req->contacts[i];
		memset(&plan[i], 0, sizeof(plan[i]));
		/* the same contact twice in one request: the last one counts */
		for(j = i + 1; j < req->ncontacts; j++)
			if(contacts_same(c, &req->contacts[j]))
				break;
		if(j < req->ncontacts)
			continue;
		plan[i].match = find_live(rec, c, req, mode, plan, i);
		if(plan[i].match && !cseq_ok(req, plan[i].match))
			return AOR_E_CSEQ;
		if(c->expires == 0) {
			plan[i].action = plan[i].match ? ACT_DELETE : ACT_NONE;
			*dels += plan[i].match != NULL;
		} else {
			plan[i].action = plan[i].match ? ACT_UPDATE : ACT_ADD;
			*adds += plan[i].match == NULL;
		}
	}
	return 0;
}

#define FAR_FUTURE ((time_t)1 << 62)

/* 1 when b is a better eviction victim than cur under policy */
static int worse(const aor_binding_t *b, const aor_binding_t *cur,
		enum aor_policy policy)
{
	time_t eb, ec;

	if(cur == NULL)
		return 1;
	if(policy == AOR_POLICY_EVICT_EXPIRING) {
		/* permanent bindings are the last to go */
		eb = b->expires ? b->expires : FAR_FUTURE;
		ec = cur->expires ? cur->expires : FAR_FUTURE;
		if(eb != ec)
			return eb < ec;
	} else if(b->modified != cur->modified) {
		return b->modified < cur->modified;
	}
	return b->id < cur->id;
}

/* picks k victims among bindings no contact of the request names */
static int pick_victims(const aor_rec_t *rec, const aor_regreq_t *req,
		aor_plan_t *plan, enum aor_policy policy, aor_binding_t **victims,
		int k)
{
	aor_binding_t *b, *best;
	int v, i, j, taken;

	for(v = 0; v < k; v++) {
		best = NULL;
		for(i = 0, b = *rec->link; i < rec->n; i++, b = b->next) {
			if(aor_binding_expired(b, req->now)
					|| plan_of(plan, req->ncontacts, b))
				continue;
			for(taken = 0, j = 0; j < v; j++)
				taken |= victims[j] == b;
			if(!taken && worse(b, best, policy))
				best = b;
		}
		if(best == NULL)
			return AOR_E_TOO_MANY;
		victims[v] = best;
	}
	return 0;
}

static int live_count(const aor_rec_t *rec, time_t now)
{
	aor_binding_t *b = *rec->link;
	int i, n = 0;

	for(i = 0; i < rec->n; i++, b = b->next)
		n += !aor_binding_expired(b, now);
	return n;
}

/* step 2: the limits; sets the eviction victims */
static int check_limits(const aor_rec_t *rec, const aor_regreq_t *req,
		const aor_limits_t *lim, aor_plan_t *plan, int adds, int dels,
		aor_binding_t **victims, int *nvictims)
{
	int live, kept, after, i, over;
	long total;

	*nvictims = 0;
	live = live_count(rec, req->now);
	kept = 0;
	for(i = 0; i < req->ncontacts; i++)
		kept += plan[i].action == ACT_UPDATE || plan[i].action == ACT_ADD;
	after = req->only_this ? kept : live - dels + adds;
	if(lim->max_contacts && after > (int)lim->max_contacts) {
		over = after - (int)lim->max_contacts;
		if(lim->policy == AOR_POLICY_REJECT || over > AOR_EVICT_MAX
				|| kept > (int)lim->max_contacts)
			return AOR_E_TOO_MANY;
		if(pick_victims(rec, req, plan, lim->policy, victims, over) < 0)
			return AOR_E_TOO_MANY;
		*nvictims = over;
	}
	if(lim->max_bindings && adds > 0) {
		total = aor_atomic_get(&rec->t->bindings);
		/* after - live: the record's net change, only_this included */
		if(total + after - live - *nvictims > (long)lim->max_bindings)
			return AOR_E_TABLE_FULL;
	}
	/* the rest of the server (transactions, dialogs) keeps its share of
	 * shared memory: a request that would hold more bindings than before
	 * is refused once free memory is down to the reserve; refreshes and
	 * removals go on */
	if(lim->shm_reserve && after - live - *nvictims > 0
			&& aor_mem_free() < lim->shm_reserve)
		return AOR_E_NOMEM;
	return 0;
}

/* the room a copy of the record needs after the change (RFC 3261 10.3
 * step 8: the reply lists every binding), reserved before it */
static int reserve_copies(const aor_rec_t *rec, const aor_regreq_t *req,
		const aor_plan_t *plan, aor_copybuf_t *copies)
{
	size_t n;
	int i;

	if(copies == NULL)
		return 0;
	n = aor_rec_copy_size(rec);
	/* one or two contacts as a rule: an unrolled loop costs more */
#pragma GCC unroll 1
	for(i = 0; i < req->ncontacts; i++)
		if(plan[i].nb)
			n += (aor_binding_size(plan[i].nb) + 7) & ~(size_t)7;
	return aor_copybuf_reserve(copies, n);
}

/* step 3: every block the change needs, before anything changes */
static int alloc_blocks(const aor_regreq_t *req, aor_plan_t *plan)
{
	aor_binding_in_t in;
	int i;

	for(i = 0; i < req->ncontacts; i++) {
		if(plan[i].action != ACT_ADD && plan[i].action != ACT_UPDATE)
			continue;
		fill_in(&in, req, &req->contacts[i]);
		if(aor_binding_size_in(&in) == 0)
			goto too_long;
		if(plan[i].action == ACT_UPDATE
				&& aor_binding_same_strings(plan[i].match, &in))
			continue; /* a plain refresh: updated in place */
		plan[i].nb = aor_binding_new(&in);
		if(plan[i].nb == NULL)
			goto nomem;
	}
	return 0;

too_long:
	for(; i >= 0; i--)
		if(plan[i].nb)
			AOR_FREE(plan[i].nb);
	return AOR_E_TOO_LONG;
nomem:
	for(; i >= 0; i--)
		if(plan[i].nb)
			AOR_FREE(plan[i].nb);
	return AOR_E_NOMEM;
}

static int is_victim(aor_binding_t *const *v, int n, const aor_binding_t *b)
{
	int i;

	for(i = 0; i < n; i++)
		if(v[i] == b)
			return 1;
	return 0;
}

/* step 4: room in the journal for every change the request can make */
static int reserve_journal(
		const aor_rec_t *rec, const aor_regreq_t *req, const aor_plan_t *plan)
{
	size_t bytes = 0;
	int i;

	if(!aor_journal_wants_copies())
		return aor_journal_reserve(rec->n + req->ncontacts, 0);
	for(i = 0; i < req->ncontacts; i++)
		if(plan[i].nb)
			bytes += aor_journal_copy_size(plan[i].nb);
		else if(plan[i].action == ACT_UPDATE)
			bytes += aor_journal_copy_size(plan[i].match);
	return aor_journal_reserve(rec->n + req->ncontacts, bytes);
}

static void plan_free(const aor_regreq_t *req, aor_plan_t *plan)
{
	int i;

	for(i = 0; i < req->ncontacts; i++)
		if(plan[i].nb)
			AOR_FREE(plan[i].nb);
}

/* the kind of removal of b, or -1 when b stays */
static int removal(const aor_regreq_t *req, const aor_plan_t *p,
		aor_binding_t *const *victims, int nvictims, const aor_binding_t *b)
{
	if(aor_binding_expired(b, req->now))
		return AOR_CH_EXPIRED;
	if(p)
		return p->action == ACT_DELETE ? AOR_CH_DELETED : -1;
	if(is_victim(victims, nvictims, b))
		return AOR_CH_EVICTED;
	return req->star || req->only_this ? AOR_CH_DELETED : -1;
}

/* step 5: one pass over the record, then the new bindings; cannot fail */
static void mutate(aor_rec_t *rec, const aor_regreq_t *req, aor_plan_t *plan,
		aor_binding_t **victims, int nvictims)
{
	aor_binding_in_t in;
	aor_binding_t **link = rec->link, *b;
	aor_plan_t *p;
	int i, n = rec->n, kind;

	for(i = 0; i < n; i++) {
		b = *link;
		p = plan_of(plan, req->ncontacts, b);
		kind = removal(req, p, victims, nvictims, b);
		if(kind >= 0) {
			aor_rec_del(rec, link, (enum aor_change)kind);
			continue;
		}
		if(p == NULL) {
			/* not named by the request: untouched */
		} else if(p->nb) {
			aor_rec_swap(rec, link, p->nb);
		} else {
			fill_in(&in, req, &req->contacts[p - plan]);
			aor_rec_refresh(rec, b, &in);
		}
		link = &(*link)->next;
	}
	for(i = 0; i < req->ncontacts; i++)
		if(plan[i].action == ACT_ADD)
			aor_rec_add(rec, plan[i].nb);
}

int aor_merge_apply(aor_rec_t *rec, const aor_regreq_t *req,
		const aor_limits_t *lim, aor_plan_t *plan, aor_copybuf_t *copies)
{
	aor_binding_t *victims[AOR_EVICT_MAX], *b;
	int adds = 0, dels = 0, nvictims = 0, ret, i;

	if(req->star) {
		/* RFC 3261 10.3 step 6: Contact: * removes every binding, each
		 * subject to the Call-ID/CSeq rule of step 7 */
		for(i = 0, b = *rec->link; i < rec->n; i++, b = b->next)
			if(!aor_binding_expired(b, req->now) && !cseq_ok(req, b))
				return AOR_E_CSEQ;
		if(aor_journal_reserve(rec->n, 0) < 0
				|| reserve_copies(rec, req, plan, copies) < 0)
			return AOR_E_NOMEM;
		mutate(rec, req, plan, victims, 0);
		return 0;
	}
	ret = plan_contacts(rec, req, lim->match, plan, &adds, &dels);
	if(ret < 0)
		return ret;
	ret = check_limits(rec, req, lim, plan, adds, dels, victims, &nvictims);
	if(ret < 0)
		return ret;
	ret = alloc_blocks(req, plan);
	if(ret < 0)
		return ret;
	if(reserve_journal(rec, req, plan) < 0
			|| reserve_copies(rec, req, plan, copies) < 0) {
		plan_free(req, plan);
		return AOR_E_NOMEM;
	}
	mutate(rec, req, plan, victims, nvictims);
	return 0;
}

int aor_merge_result(const aor_regreq_t *req, const aor_plan_t *plan)
{
	int i, r = AOR_SAVED_INSERTED;

	if(req->star)
		return AOR_SAVED_DELETED;
	if(req->ncontacts == 0)
		return AOR_SAVED_QUERY;
	/* stock's rule: the last contact that changed something names it */
	for(i = 0; i < req->ncontacts; i++) {
		if(plan[i].action == ACT_ADD)
			r = AOR_SAVED_INSERTED;
		else if(plan[i].action == ACT_UPDATE)
			r = AOR_SAVED_UPDATED;
		else if(plan[i].action == ACT_DELETE)
			r = AOR_SAVED_DELETED;
	}
	return r;
}
