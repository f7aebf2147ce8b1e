/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * lookup(), registered(), unregister() and lookup_branches(): the R-URI's
 * AoR found under its slot lock, its live bindings copied out, the lock
 * released, then the request rewritten: the best binding becomes the R-URI,
 * the others branches (RFC 3261 16.5/16.6 forking by q).
 */

#include <string.h>
#include <ctype.h>

#include "../../core/parser/parse_uri.h"
#include "../../core/dset.h"
#include "../../core/mem/mem.h"
#include "../../core/ut.h"

#include "db.h"
#include "lookup.h"
#include "ops.h"
#include "params.h"
#include "regfn.h"
#include "regparams.h"
#include "errors.h"
#include "gruu.h"
#include "stats.h"
#include "tcp.h"
#include "keepalive.h"

#define AOR_COPY_MAX 256 /* bindings one lookup forks to, at most */

/* what a GRUU Request-URI selects of its AoR's bindings (RFC 5627) */
enum
{
	GRUU_NONE = 0, /* not a GRUU: every binding */
	GRUU_PUB,	   /* a public GRUU: those of the instance in inst */
	GRUU_TEMP	   /* a temporary GRUU: binding id under that Call-ID */
};

typedef struct gruu_sel
{
	int kind;
	str inst;		 /* GRUU_PUB: the gr value (points into the URI) */
	uint64_t id;	 /* GRUU_TEMP */
	uint32_t callid; /* GRUU_TEMP: aor_gruu_callid_tag of its Call-ID */
} gruu_sel_t;

/* 1 when uri may have a gr parameter: a ';' then "gr" (either case) then
 * '=', ';', '?', '>' or the end; a quick scan before the URI parser */
static int maybe_gruu(const str *uri)
{
	const char *p = uri->s, *end = uri->s + uri->len;

	while((p = memchr(p, ';', end - p)) != NULL) {
		p++;
		if(end - p < 2 || (p[0] | 0x20) != 'g' || (p[1] | 0x20) != 'r')
			continue;
		if(end - p == 2 || strchr("=;?>", p[2]) != NULL)
			return 1;
	}
	return 0;
}

/* RFC 5627 3.1, 6.1: the AoR key and the selection of the GRUU uri names
 * (into buf and *g). Returns 1 for a GRUU, 0 when uri is none (no gr
 * parameter, or not a URI the parser takes: the caller keys it as usual),
 * AOR_E_NOT_FOUND for one that can name no binding: a temporary GRUU we
 * did not make (forged, mangled, another key: gruu.h) or a public GRUU of
 * an AoR too long to be a key. */
static int gruu_parse(const str *uri, char *buf, str *key, gruu_sel_t *g)
{
	char ub[AOR_KEY_URI_MAX];
	struct sip_uri pu;
	aor_gruu_temp_t t;
	str u;

	if(parse_uri(uri->s, uri->len, &pu) < 0 || pu.gr.s == NULL)
		return 0;
	if(pu.gr_val.len == 0) {
		/* ;gr without a value (stock too takes ";gr=" for one) */
		if(aor_gruu_temp_open(&pu.user, buf, AOR_KEY_BUF, &t) < 0)
			return AOR_E_NOT_FOUND;
		*key = t.aor;
		g->kind = GRUU_TEMP;
		g->id = t.id;
		g->callid = t.callid;
		return 1;
	}
	/* the AoR of user@host only: the instance may be longer than a URI
	 * the key builder takes */
	if(pu.user.len == 0 || 5 + pu.user.len + pu.host.len > (int)sizeof(ub))
		return AOR_E_NOT_FOUND;
	memcpy(ub, "sip:", 4);
	memcpy(ub + 4, pu.user.s, pu.user.len);
	ub[4 + pu.user.len] = '@';
	memcpy(ub + 5 + pu.user.len, pu.host.s, pu.host.len);
	u.s = ub;
	u.len = 5 + pu.user.len + pu.host.len;
	if(aor_params_key(&u, buf, key) < 0)
		return AOR_E_NOT_FOUND;
	g->kind = GRUU_PUB;
	g->inst = pu.gr_val;
	return 1;
}

/* The AoR key of uri, or of the request's R-URI when uri is NULL, into
 * buf, and with gruu_enabled what a GRUU selects (g->kind GRUU_NONE
 * otherwise). Returns 0, AOR_E_NOT_FOUND for a GRUU that names no binding
 * (gruu_parse), or AOR_E_BAD_AOR. */
static int request_key(
		sip_msg_t *msg, str *uri, char *buf, str *key, gruu_sel_t *g)
{
	str r;
	int ret;

	g->kind = GRUU_NONE;
	if(uri == NULL) {
		if(msg->first_line.type != SIP_REQUEST)
			return AOR_E_BAD_AOR;
		r = *GET_RURI(msg);
		uri = &r;
	}
	/* gruu_enabled 0: this one test, nothing more on the hot path */
	if(aor_params.gruu_enabled && maybe_gruu(uri)) {
		ret = gruu_parse(uri, buf, key, g);
		if(ret != 0)
			return ret < 0 ? ret : 0;
	}
	return aor_params_key(uri, buf, key);
}

/* keeps the bindings g selects (RFC 5627 6.1: a GRUU reaches its instance
 * only); returns how many are left */
static int gruu_select(aor_binding_t **v, int n, const gruu_sel_t *g)
{
	int i, k = 0, keep;
	str s;

	for(i = 0; i < n; i++) {
		if(g->kind == GRUU_PUB) {
			s = aor_binding_get(v[i], AOR_F_INSTANCE);
			keep = aor_gruu_instance_eq(&g->inst, &s);
		} else {
			s = aor_binding_get(v[i], AOR_F_CALLID);
			keep = v[i]->id == g->id && aor_gruu_callid_tag(&s) == g->callid;
		}
		if(keep)
			v[k++] = v[i];
	}
	return k;
}

/* copies the live bindings of key; returns their count or AOR_E_* */
static int fetch(aor_table_t *t, const str *key, aor_binding_t **out, int max)
{
	int r;

	/* db_mode 3: what the database holds now */
	if((r = aor_db_pull(t, key)) < 0)
		return r;
	/* use_expired_contacts: expired bindings not yet removed count */
	return aor_ops_fetch(t, key, aor_rparams_read_time(), out, max);
}

/* stock usrloc's order of a record's contacts: by q, highest first
 * (unspecified lowest), equal q in the order they were added
 * (mem_insert_ucontact); with desc_time_order the last registered first,
 * whatever the q (update_contact_pos) */
static int before(const aor_binding_t *a, const aor_binding_t *b)
{
	if(aor_params.desc_time_order) {
		if(a->modified != b->modified)
			return a->modified > b->modified;
		return a->id > b->id;
	}
	if(a->q != b->q)
		return a->q > b->q;
	return a->id < b->id;
}

void aor_lookup_sort(aor_binding_t **v, int n)
{
	aor_binding_t *x;
	int i, j;

	/* insertion sort: n is one AoR's bindings */
	for(i = 1; i < n; i++) {
		x = v[i];
		for(j = i; j > 0 && before(x, v[j - 1]); j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* the first URI of a Path (the next hop), or empty */
static str path_first_hop(str path)
{
	str r = STR_NULL;
	char *lt, *gt;

	lt = memchr(path.s, '<', path.len);
	if(lt == NULL)
		return r;
	gt = memchr(lt, '>', path.len - (lt - path.s));
	if(gt == NULL)
		return r;
	r.s = lt + 1;
	r.len = (int)(gt - lt - 1);
	return r;
}

/* where the request for b goes and the route set: the Path's first hop
 * (path_check_local: the first not this proxy, as stock), else the NAT
 * source */
static str binding_dst(const aor_binding_t *b, str *path)
{
	str dst;

	*path = aor_binding_get(b, AOR_F_PATH);
	if(path->len == 0)
		return aor_binding_get(b, AOR_F_RECEIVED);
	if(!aor_params.path_check_local)
		return path_first_hop(*path);
	aor_rparams_path(*path, path, &dst);
	/* stock: no hop left, then the NAT source */
	return path->len > 0 ? dst : aor_binding_get(b, AOR_F_RECEIVED);
}

static int set_ruri_from(sip_msg_t *msg, const aor_binding_t *b)
{
	str uri = aor_binding_get(b, AOR_F_URI);
	str path;
	str dst = binding_dst(b, &path);
	str inst = aor_binding_get(b, AOR_F_INSTANCE);
	str ua = aor_binding_get(b, AOR_F_UA);
	char rb[AOR_RUID_LEN + 1];
	flag_t bflags = 0;
	str ruid;

	if(rewrite_uri(msg, &uri) < 0) {
		LM_ERR("cannot rewrite the R-URI to %.*s\n", uri.len, uri.s);
		return -1;
	}
	reset_dst_uri(msg);
	reset_path_vector(msg);
	/* RFC 3327 5.3: the stored Path becomes the route set */
	if(path.len > 0 && set_path_vector(msg, &path) < 0)
		return -1;
	if(dst.len > 0 && set_dst_uri(msg, &dst) < 0)
		return -1;
	set_ruri_q(b->q);
	getbflagsval(0, &bflags);
	setbflagsval(0, bflags | b->cflags);
	if(b->sock)
		set_force_socket(msg, (struct socket_info *)b->sock);
	reset_instance(msg);
	if(inst.len > 0)
		set_instance(msg, &inst);
	msg->reg_id = b->reg_id;
	ruid.s = rb;
	ruid.len = aor_ruid_fmt(b->id, rb);
	set_ruid(msg, &ruid);
	reset_ua(msg);
	if(ua.len > 0)
		set_ua(msg, &ua);
	return 0;
}

static int add_branch(sip_msg_t *msg, const aor_binding_t *b)
{
	str uri = aor_binding_get(b, AOR_F_URI);
	str path;
	str dst = binding_dst(b, &path);
	str inst = aor_binding_get(b, AOR_F_INSTANCE);
	str ua = aor_binding_get(b, AOR_F_UA);
	char rb[AOR_RUID_LEN + 1];
	str ruid;

	ruid.s = rb;
	ruid.len = aor_ruid_fmt(b->id, rb);
	if(append_branch(msg, &uri, dst.len ? &dst : NULL, path.len ? &path : NULL,
			   b->q, b->cflags, (struct socket_info *)b->sock,
			   inst.len ? &inst : NULL, b->reg_id, &ruid, ua.len ? &ua : NULL)
			< 0) {
		LM_ERR("cannot add a branch to %.*s\n", uri.len, uri.s);
		return -1;
	}
	return 0;
}

/* keeps the bindings that accept the request's method (stock
 * method_filtering); returns how many are left */
static int filter_methods(sip_msg_t *msg, aor_binding_t **v, int n)
{
	int i, k = 0;

	if(!aor_params.method_filtering || msg->first_line.type != SIP_REQUEST)
		return n;
	for(i = 0; i < n; i++)
		if(v[i]->methods & msg->first_line.u.request.method_value)
			v[k++] = v[i];
	return k;
}

/* what route_to makes of the bindings */
enum
{
	TO_BRANCHES = 0, /* all branches (lookup_branches) */
	TO_RURI = 1,	 /* the first the R-URI, the rest branches (lookup) */
	TO_DSET = 2		 /* all branches, none without append_branches, as
					  * stock lookup_to_dset */
};

/* rewrites msg to the bindings of key (those g selects) as mode says; 1
 * found, -1 none, -2 method not allowed, -3 error */
static int route_to(sip_msg_t *msg, aor_table_t *t, const str *key, int mode,
		const gruu_sel_t *g)
{
	aor_binding_t *v[AOR_COPY_MAX];
	int n, k, i, first = 0;

	n = fetch(t, key, v, AOR_COPY_MAX);
	if(n < 0)
		return -3;
	if(g->kind != GRUU_NONE)
		n = gruu_select(v, n, g);
	/* handle_lost_tcp: not to a connection known gone (stock's
	 * get_urecord) */
	n = aor_tcp_alive_filter(v, n);
	/* ka_down_after: not to a binding that stopped answering */
	n = aor_ka_up_filter(v, n, aor_now());
	if(n == 0)
		return -1;
	k = filter_methods(msg, v, n);
	if(k == 0)
		return -2;
	/* lookup_filter_mode; none left: -2 when a method was refused, as
	 * stock lookup_helper */
	if(aor_params.lookup_filter_mode != 0) {
		aor_rparams_filter_begin();
		i = aor_rparams_filter(v, k);
		if(i == 0)
			return k < n ? -2 : -1;
		n = i;
	} else
		n = k;
	aor_lookup_sort(v, n);
	/* as stock lookup_helper: a GRUU's first binding, no more branches */
	if(g->kind != GRUU_NONE)
		n = 1;
	if(mode == TO_RURI) {
		if(set_ruri_from(msg, v[0]) < 0)
			return -3;
		first = 1;
	}
	/* as stock lookup_helper: xavp_rcd gets the binding that took the
	 * R-URI (for lookup_branches, each AoR's first; stock runs lookup()
	 * per branch) */
	if(mode != TO_DSET && aor_params.xavp_rcd)
		aor_regfn_rcd(v[0], aor_now());
	if(mode != TO_BRANCHES && !aor_params.append_branches)
		return 1;
	for(i = first; i < n; i++)
		if(add_branch(msg, v[i]) < 0)
			return -3;
	return 1;
}

int ki_aor_lookup(sip_msg_t *msg, str *table, str *uri)
{
	aor_table_t *t = aor_table_get(table);

	return t ? aor_lookup(msg, t, uri) : -3;
}

int aor_lookup(sip_msg_t *msg, aor_table_t *t, str *uri)
{
	char buf[AOR_KEY_BUF];
	gruu_sel_t g;
	str key;
	int ret;

	ret = request_key(msg, uri, buf, &key, &g);
	if(ret == AOR_E_NOT_FOUND) {
		aor_stat_add(AOR_ST_LOOKUP_NOT_FOUND, 1);
		return -1;
	}
	if(ret < 0) {
		AOR_WARN_LIMITED("lookup: cannot take an AoR from the %s",
				uri ? "uri" : "R-URI");
		return -3;
	}
	ret = route_to(msg, t, &key, TO_RURI, &g);
	aor_stat_add(ret == 1 ? AOR_ST_LOOKUP_FOUND : AOR_ST_LOOKUP_NOT_FOUND, 1);
	return ret;
}

int ki_aor_registered(sip_msg_t *msg, str *table, str *uri)
{
	return ki_aor_registered_action(msg, table, uri, 0, 0);
}

int ki_aor_lookup_to_dset(sip_msg_t *msg, str *table, str *uri)
{
	aor_table_t *t = aor_table_get(table);

	return t ? aor_lookup_to_dset(msg, t, uri) : -3;
}

int aor_lookup_to_dset(sip_msg_t *msg, aor_table_t *t, str *uri)
{
	char buf[AOR_KEY_BUF];
	gruu_sel_t g;
	str key;
	int ret;

	ret = request_key(msg, uri, buf, &key, &g);
	if(ret == AOR_E_NOT_FOUND)
		return -1;
	if(ret < 0) {
		AOR_WARN_LIMITED("lookup_to_dset: cannot take an AoR from the %s",
				uri ? "uri" : "R-URI");
		return -3;
	}
	/* stock lookup_to_dset: every binding a branch, the R-URI untouched */
	return route_to(msg, t, &key, TO_DSET, &g);
}

int ki_aor_unregister(sip_msg_t *msg, str *table, str *uri, str *ruid)
{
	char buf[AOR_KEY_BUF];
	aor_table_t *t;
	uint64_t id = 0;
	str key;

	t = aor_table_get(table);
	if(t == NULL || uri == NULL || aor_params_key(uri, buf, &key) < 0)
		return -1;
	if(ruid && ruid->len > 0 && aor_ruid_parse(ruid, &id) < 0)
		return -3;
	/* db_mode 3: what the table holds, so that its rows go */
	if(aor_db_pull(t, &key) < 0)
		return -1;
	return aor_ops_remove(t, &key, id ? aor_match_id : NULL, &id,
				   AOR_ORIG_LOCAL)
						   > 0
				   ? 1
				   : -3;
}

int ki_aor_lookup_branches(sip_msg_t *msg, str *table)
{
	char buf[AOR_KEY_BUF], ub[MAX_URI_SIZE];
	aor_table_t *t;
	gruu_sel_t g;
	str key, u;
	unsigned int nb, i, flags;
	struct socket_info *sock;
	str dst, path, ruid, inst, ua;
	qvalue_t q;
	int len, ret, found = 0;
	char *p;

	t = aor_table_get(table);
	if(t == NULL)
		return -3;
	/* the R-URI first, then every branch that names a registered AoR */
	if(request_key(msg, NULL, buf, &key, &g) == 0
			&& route_to(msg, t, &key, TO_RURI, &g) == 1)
		found = 1;
	nb = nr_branches;
	for(i = 0; i < nb; i++) {
		p = get_branch(
				i, &len, &q, &dst, &path, &flags, &sock, &ruid, &inst, &ua);
		if(p == NULL || len <= 0 || len >= MAX_URI_SIZE)
			continue;
		memcpy(ub, p, len);
		u.s = ub;
		u.len = len;
		if(request_key(msg, &u, buf, &key, &g) < 0)
			continue;
		ret = route_to(msg, t, &key, TO_BRANCHES, &g);
		if(ret == 1) {
			drop_sip_branch(i);
			i--;
			nb--;
			found = 1;
		}
	}
	return found ? 1 : -1;
}

