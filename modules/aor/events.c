/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Script events (see events.h).
 */

#include <string.h>

#include "../../core/route.h"
#include "../../core/fmsg.h"
#include "../../core/kemi.h"
#include "../../core/xavp.h"
#include "../../core/mem/mem.h"
#include "../../core/receive.h"

#include "params.h"
#include "events.h"
#include "journal.h"
#include "store.h"
#include "ulc.h"

enum
{
	EV_INSERTED,
	EV_UPDATED,
	EV_DELETED,
	EV_EXPIRED,
	EV_UL_EXPIRED, /* the stock registrar's, with $ulc(exp=>...) */
	EV_COUNT
};

static const char *ev_names[EV_COUNT] = {"aor:contact-inserted",
		"aor:contact-updated", "aor:contact-deleted", "aor:contact-expired",
		"usrloc:contact-expired"};
static int ev_route[EV_COUNT] = {-1, -1, -1, -1, -1};
static str ev_kemi_cb = STR_NULL;
static int ev_enabled = 0;

/* this process's pending events: kinds and packed binding copies; at most
 * EV_MAX wait (one operation's changes: a REGISTER changes at most
 * 2 * AOR_REC_MAX bindings), the rest are dropped and counted */
static char *ev_buf = NULL;
static size_t ev_cap = 0, ev_used = 0;
#define EV_MAX 4096
static int ev_kind[EV_MAX];
static size_t ev_off[EV_MAX];
static struct aor_table *ev_tab[EV_MAX];
static int ev_n = 0;
static unsigned long ev_dropped = 0;
static int ev_running = 0;
static int ev_in_timer = 0;

static void ev_on_change(const aor_jchange_t *c, void *arg);
static void ev_after(void *arg);

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* the journal's kinds of the routes there are (all for a KEMI callback):
 * a REGISTER copies no binding for a route nobody wrote */
static unsigned int kinds_wanted(void)
{
	unsigned int k = 0;

	if(ev_kemi_cb.len > 0)
		return 0; /* every kind */
	if(ev_route[EV_INSERTED] >= 0)
		k |= AOR_KIND(AOR_CH_INSERTED);
	if(ev_route[EV_UPDATED] >= 0)
		k |= AOR_KIND(AOR_CH_UPDATED) | AOR_KIND(AOR_CH_REFRESHED);
	if(ev_route[EV_DELETED] >= 0)
		k |= AOR_KIND(AOR_CH_DELETED) | AOR_KIND(AOR_CH_EVICTED);
	if(ev_route[EV_EXPIRED] >= 0 || ev_route[EV_UL_EXPIRED] >= 0)
		k |= AOR_KIND(AOR_CH_EXPIRED);
	return k;
}

int aor_events_init(void)
{
	aor_subscriber_t sub;
	int i, idx;

	for(i = 0; i < EV_COUNT; i++) {
		idx = route_lookup(&event_rt, (char *)ev_names[i]);
		if(idx >= 0 && event_rt.rlist[idx] != NULL) {
			ev_route[i] = idx;
			LM_DBG("event_route[%s] in use\n", ev_names[i]);
			ev_enabled = 1;
		}
	}
	if(aor_params.event_callback && *aor_params.event_callback) {
		ev_kemi_cb.s = aor_params.event_callback;
		ev_kemi_cb.len = strlen(ev_kemi_cb.s);
		ev_enabled = 1;
	}
	if(!ev_enabled)
		return 0;
	if(faked_msg_init() < 0) {
		LM_ERR("cannot prepare the message events run with\n");
		return -1;
	}
	sub.name = "events";
	sub.on_change = ev_on_change;
	sub.after = ev_after;
	sub.arg = NULL;
	sub.flags = AOR_SUB_BINDINGS;
	sub.kinds = kinds_wanted();
	if(aor_journal_subscribe(&sub) < 0) {
		LM_ERR("cannot subscribe the events to the journal\n");
		return -1;
	}
	return 0;
}

void aor_events_timer_context(int on)
{
	ev_in_timer = on;
}

/* a flood of changes would log a line per event: AOR_WARN_LIMITED */
static void drop_warn(int kind, const aor_binding_t *b)
{
	str aor = aor_binding_get(b, AOR_F_AOR);

	ev_dropped++;
	AOR_WARN_LIMITED("aor %.*s: %s not run: %d events already pending or no "
					 "pkg memory (%lu dropped in all)",
			aor.len, aor.s, ev_names[kind], ev_n, ev_dropped);
}

static void collect(int kind, struct aor_table *t, const aor_binding_t *b)
{
	size_t size = ALIGN8(aor_binding_size(b));
	char *nb;

	/* bounded: at most EV_MAX changes wait for their routes at once */
	if(ev_n == EV_MAX)
		goto drop;
	if(ev_used + size > ev_cap) {
		nb = pkg_realloc(ev_buf, ev_used + size + 4096);
		if(nb == NULL)
			goto drop;
		ev_buf = nb;
		ev_cap = ev_used + size + 4096;
	}
	memcpy(ev_buf + ev_used, b, aor_binding_size(b));
	ev_kind[ev_n] = kind;
	ev_tab[ev_n] = t;
	ev_off[ev_n++] = ev_used;
	ev_used += size;
	return;

drop:
	drop_warn(kind, b);
}

/* the journal subscriber: the event of each change, with its binding */
static void ev_on_change(const aor_jchange_t *c, void *arg)
{
	static const int kinds[AOR_CH_COUNT] = {
			[AOR_CH_INSERTED] = EV_INSERTED,
			[AOR_CH_UPDATED] = EV_UPDATED,
			[AOR_CH_REFRESHED] = EV_UPDATED,
			[AOR_CH_DELETED] = EV_DELETED,
			[AOR_CH_EXPIRED] = EV_EXPIRED,
			[AOR_CH_EVICTED] = EV_DELETED,
	};

	/* the start-up load runs before any route could */
	if(c->origin == AOR_ORIG_LOAD || c->b == NULL)
		return;
	collect(kinds[c->kind], c->t, c->b);
}

static void xavp_str(sr_xavp_t **list, const char *name, str v)
{
	sr_xval_t xv;
	str n;

	n.s = (char *)name;
	n.len = strlen(name);
	memset(&xv, 0, sizeof(xv));
	xv.type = SR_XTYPE_STR;
	xv.v.s = v;
	xavp_add_value(&n, &xv, list);
}

static void xavp_int(sr_xavp_t **list, const char *name, long v)
{
	sr_xval_t xv;
	str n;

	n.s = (char *)name;
	n.len = strlen(name);
	memset(&xv, 0, sizeof(xv));
	xv.type = SR_XTYPE_INT;
	xv.v.i = (int)v;
	xavp_add_value(&n, &xv, list);
}

/* $xavp(aor=>event|aor|contact|expires|q|callid|cseq|received|path|
 * user_agent|socket|instance|reg_id|ruid) */
static void set_xavp(int kind, const aor_binding_t *b)
{
	str root = str_init("aor"), ev;
	sr_xavp_t *list = NULL;
	char rb[AOR_RUID_LEN + 1];
	sr_xval_t xv;
	str ruid;

	ev.s = (char *)ev_names[kind] + 4;
	ev.len = strlen(ev.s);
	ruid.s = rb;
	ruid.len = aor_ruid_fmt(b->id, rb);
	xavp_str(&list, "event", ev);
	xavp_str(&list, "aor", aor_binding_get(b, AOR_F_AOR));
	xavp_str(&list, "contact", aor_binding_get(b, AOR_F_URI));
	xavp_int(&list, "expires", aor_binding_left(b, aor_now()));
	xavp_int(&list, "q", b->q);
	xavp_str(&list, "callid", aor_binding_get(b, AOR_F_CALLID));
	xavp_int(&list, "cseq", b->cseq);
	xavp_str(&list, "received", aor_binding_get(b, AOR_F_RECEIVED));
	xavp_str(&list, "path", aor_binding_get(b, AOR_F_PATH));
	xavp_str(&list, "user_agent", aor_binding_get(b, AOR_F_UA));
	xavp_str(&list, "socket", aor_binding_get(b, AOR_F_SOCK));
	xavp_str(&list, "instance", aor_binding_get(b, AOR_F_INSTANCE));
	xavp_int(&list, "reg_id", b->reg_id);
	xavp_str(&list, "ruid", ruid);
	memset(&xv, 0, sizeof(xv));
	xv.type = SR_XTYPE_XAVP;
	xv.v.xavp = list;
	xavp_add_value(&root, &xv, NULL);
}

/* event_route[usrloc:contact-expired] (or the KEMI callback with that
 * name) as the stock registrar runs it (regpv.c reg_ul_expired_contact):
 * the binding in $ulc(exp=>...), a request route, the faked message */
static void run_ul_expired(struct aor_table *t, const aor_binding_t *b)
{
	str exp = str_init("exp");
	str evname = str_init("usrloc:contact-expired");
	sr_kemi_eng_t *keng;
	sip_msg_t *fmsg;
	int rt;

	if(ev_route[EV_UL_EXPIRED] < 0 && ev_kemi_cb.len == 0)
		return;
	if(aor_ulc_set_one(&exp, &t->name, b) < 0)
		return;
	fmsg = faked_msg_next();
	rt = get_route_type();
	set_route_type(REQUEST_ROUTE);
	if(ev_kemi_cb.len > 0) {
		keng = sr_kemi_eng_get();
		if(keng
				&& sr_kemi_route(keng, fmsg, EVENT_ROUTE, &ev_kemi_cb, &evname)
						   < 0)
			LM_ERR("KEMI event callback %.*s failed\n", ev_kemi_cb.len,
					ev_kemi_cb.s);
	} else {
		run_top_route(event_rt.rlist[ev_route[EV_UL_EXPIRED]], fmsg, 0);
	}
	set_route_type(rt);
	if(ev_in_timer)
		ksr_msg_env_reset();
}

static void run_aor(int kind, const aor_binding_t *b)
{
	str root = str_init("aor"), evname;
	struct run_act_ctx ctx;
	sr_kemi_eng_t *keng;
	sip_msg_t *fmsg;
	int rt;

	if(ev_route[kind] < 0 && ev_kemi_cb.len == 0)
		return;
	set_xavp(kind, b);
	fmsg = faked_msg_next();
	rt = get_route_type();
	set_route_type(EVENT_ROUTE);
	init_run_actions_ctx(&ctx);
	if(ev_kemi_cb.len > 0) {
		keng = sr_kemi_eng_get();
		evname.s = (char *)ev_names[kind];
		evname.len = strlen(evname.s);
		if(keng
				&& sr_kemi_route(keng, fmsg, EVENT_ROUTE, &ev_kemi_cb, &evname)
						   < 0)
			LM_ERR("KEMI event callback %.*s failed\n", ev_kemi_cb.len,
					ev_kemi_cb.s);
	} else {
		run_top_route(event_rt.rlist[ev_route[kind]], fmsg, &ctx);
	}
	set_route_type(rt);
	xavp_rm_by_name(&root, 1, NULL);
}

/* both run when both are there: ours first, then stock's */
static void run_one(int kind, struct aor_table *t, const aor_binding_t *b)
{
	run_aor(kind, b);
	if(kind == EV_EXPIRED)
		run_ul_expired(t, b);
}

/* Runs the routes of the changes collected so far, then forgets them (the
 * journal's after hook: no slot lock held, nothing copied in use). */
static void ev_after(void *arg)
{
	static int kind[EV_MAX];
	static size_t off[EV_MAX];
	static struct aor_table *tab[EV_MAX];
	size_t first;
	int i, n;

	if(ev_running)
		return;
	ev_running = 1;
	/* a route may change bindings itself: those events queue anew and run
	 * in the next round */
	while(ev_n > 0) {
		n = ev_n;
		memcpy(kind, ev_kind, n * sizeof(int));
		memcpy(off, ev_off, n * sizeof(size_t));
		memcpy(tab, ev_tab, n * sizeof(tab[0]));
		ev_n = 0;
		for(i = 0; i < n; i++)
			run_one(kind[i], tab[i], (const aor_binding_t *)(ev_buf + off[i]));
		if(ev_n > 0) {
			/* move the next round to the front of the buffer */
			first = ev_off[0];
			memmove(ev_buf, ev_buf + first, ev_used - first);
			for(i = 0; i < ev_n; i++)
				ev_off[i] -= first;
			ev_used -= first;
		}
	}
	ev_used = 0;
	ev_running = 0;
}
