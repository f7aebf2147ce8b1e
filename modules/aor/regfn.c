/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The stock registrar's script features beside save() and lookup() (see
 * regfn.h): xavp_rcd, xavp_cfg, path_use_received, the expires
 * variation, reg_send_reply() and registered() with its match flags.
 */

#include <string.h>

#include "../../core/xavp.h"
#include "../../core/strutils.h"
#include "../../core/pt.h"
#include "../../core/socket_info.h"
#include "../../core/data_lump_rpl.h"
#include "../../core/rand/kam_rand.h"
#include "../../core/parser/parse_rr.h"
#include "../../core/parser/parse_uri.h"
#include "../../core/parser/parse_param.h"
#include "../../core/parser/parse_to.h"

#include "errors.h"
#include "ops.h"
#include "params.h"
#include "db.h"
#include "regfn.h"
#include "regparams.h"
#include "tcp.h"
#include "reply.h"

/* the fields stock's xavp_rcd_mask bits leave out (registrar.h) */
#define RCD_RUID 1
#define RCD_CONTACT 2
#define RCD_EXPIRES 4
#define RCD_RECEIVED 8
#define RCD_PATH 16

#define REGISTERED_MAX 256 /* bindings registered() looks through */

/* a name of an xavp modparam as str; empty when unset */
static str param_name(char *s)
{
	str r = STR_NULL;

	if(s != NULL && *s != '\0') {
		r.s = s;
		r.len = strlen(s);
	}
	return r;
}

/* the integer child cname of xavp_cfg: 1 and *v set, or 0 */
static int cfg_int(const char *cname, int *v)
{
	str root = param_name(aor_params.xavp_cfg);
	str name;
	sr_xavp_t *x;

	if(root.len == 0)
		return 0;
	name.s = (char *)cname;
	name.len = strlen(cname);
	x = xavp_get_child_with_ival(&root, &name);
	if(x == NULL)
		return 0;
	*v = (int)x->val.v.i;
	return 1;
}

/* the non-empty string child cname of xavp_cfg, or an empty str */
static str cfg_str(const char *cname)
{
	str root = param_name(aor_params.xavp_cfg);
	str name, r = STR_NULL;
	sr_xavp_t *x;

	if(root.len == 0)
		return r;
	name.s = (char *)cname;
	name.len = strlen(cname);
	x = xavp_get_child_with_sval(&root, &name);
	if(x != NULL && x->val.v.s.len > 0)
		r = x->val.v.s;
	return r;
}

static void rcd_add(const char *name, sr_xval_t *v, sr_xavp_t **list)
{
	str n;

	n.s = (char *)name;
	n.len = strlen(name);
	if(xavp_add_value(&n, v, list) == NULL)
		LM_ERR("cannot add %s to xavp %s\n", name, aor_params.xavp_rcd);
}

static void rcd_add_str(const char *name, const str *s, sr_xavp_t **list)
{
	sr_xval_t v;

	memset(&v, 0, sizeof(v));
	v.type = SR_XTYPE_STR;
	v.v.s.s = s->s;
	v.v.s.len = s->len;
	rcd_add(name, &v, list);
}

void aor_regfn_rcd(const aor_binding_t *b, time_t now)
{
	str root = param_name(aor_params.xavp_rcd);
	int mask = aor_params.xavp_rcd_mask;
	char rb[AOR_RUID_LEN + 1];
	sr_xavp_t *top, *fresh = NULL, **list;
	sr_xval_t v;
	str s;

	if(root.len == 0)
		return;
	/* as stock: the fields go into the first xavp_rcd of the list */
	top = xavp_get(&root, NULL);
	list = top ? &top->val.v.xavp : &fresh;
	if(!(mask & RCD_RUID)) {
		s.s = rb;
		s.len = aor_ruid_fmt(b->id, rb);
		rcd_add_str("ruid", &s, list);
	}
	s = aor_binding_get(b, AOR_F_RECEIVED);
	if(!(mask & RCD_RECEIVED) && s.len > 0)
		rcd_add_str("received", &s, list);
	s = aor_binding_get(b, AOR_F_URI);
	if(!(mask & RCD_CONTACT))
		rcd_add_str("contact", &s, list);
	if(!(mask & RCD_EXPIRES)) {
		memset(&v, 0, sizeof(v));
		v.type = SR_XTYPE_INT;
		/* seconds left; a permanent binding (aor.add) has 0 */
		v.v.i = (int)aor_binding_left(b, now);
		rcd_add("expires", &v, list);
	}
	s = aor_binding_get(b, AOR_F_PATH);
	if(!(mask & RCD_PATH) && s.len > 0)
		rcd_add_str("path", &s, list);
	if(top != NULL || fresh == NULL)
		return;
	memset(&v, 0, sizeof(v));
	v.type = SR_XTYPE_XAVP;
	v.v.xavp = fresh;
	if(xavp_add_value(&root, &v, NULL) == NULL) {
		LM_ERR("cannot add xavp %.*s\n", root.len, root.s);
		xavp_destroy_list(&fresh);
	}
}

/* this request's overrides, read once by aor_regfn_save_begin */
static struct
{
	int novary;
	long long expires; /* -1: none */
	int has_q, q;
	aor_limits_t lim;		  /* aor_limits with xavp_cfg's max_contacts */
	const aor_limits_t *limp; /* &aor_limits, or &lim when overridden */
	struct lump_rpl **mark;	  /* where save()'s reply headers begin */
} cur;

void aor_regfn_save_begin(sip_msg_t *msg, int flags)
{
	struct lump_rpl **l;
	int v;

	cur.mark = NULL;
	/* the end of the reply lumps the script added before save(); only
	 * a held reply (0x02) takes save()'s own off again */
	if(flags & 0x02) {
		for(l = &msg->reply_lump; *l; l = &(*l)->next)
			;
		cur.mark = l;
	}
	cur.novary = (flags & 0x08) != 0;
	cur.expires = -1;
	cur.has_q = 0;
	cur.limp = &aor_limits;
	if(aor_params.xavp_cfg == NULL || *aor_params.xavp_cfg == '\0')
		return;
	if(cfg_int("expires", &v) && v >= 0)
		cur.expires = v;
	cur.has_q = cfg_int("q", &cur.q);
	/* stock reg_get_crt_max_contacts: 0 is no limit */
	if(cfg_int("max_contacts", &v)) {
		cur.lim = aor_limits;
		cur.lim.max_contacts =
				(v > 0 && v < AOR_REC_MAX) ? (unsigned int)v : AOR_REC_MAX;
		cur.limp = &cur.lim;
	}
}

int aor_regfn_expires(long long param, long long hdr, long long *out)
{
	int rnd = -1;

	if(!cur.novary && (aor_limits.range || aor_limits.default_range))
		rnd = (int)(kam_rand() % 100);
	return aor_expires_vary(cur.limp, param, hdr, cur.expires, rnd, out);
}

int aor_regfn_q(int16_t *q)
{
	if(!cur.has_q)
		return 0;
	/* RFC 3261 20.10: q is 0 to 1 (in thousandths here) */
	if(cur.q < 0 || cur.q > 1000)
		return AOR_E_BAD_Q;
	*q = (int16_t)cur.q;
	return 1;
}

struct socket_info *aor_regfn_socket(sip_msg_t *msg)
{
	struct socket_info *si;
	str v, host;
	int port, proto;

	if(aor_params.sock_flag < 0
			|| !(msg->flags & (1u << aor_params.sock_flag)))
		return NULL;
	/* sock_hdr_name: the header, not xavp_cfg (stock get_sock_val) */
	if(aor_params.sock_hdr_name && *aor_params.sock_hdr_name)
		return aor_rparams_sock_hdr(msg);
	v = cfg_str("socket");
	if(v.len == 0)
		return NULL;
	/* xavp strings end in a NUL, as parse_phostport needs */
	if(parse_phostport(v.s, &host.s, &host.len, &port, &proto) != 0) {
		AOR_WARN_LIMITED("save: bad socket <%.*s> in xavp_cfg", v.len, v.s);
		return NULL;
	}
	si = grep_sock_info(&host, (unsigned short)port, (unsigned short)proto);
	if(si == NULL)
		AOR_WARN_LIMITED("save: socket <%.*s> is not local", v.len, v.s);
	return si;
}

const aor_limits_t *aor_regfn_limits(void)
{
	return cur.limp ? cur.limp : &aor_limits;
}

int aor_regfn_path_received(const str *path, char *buf, int size, str *out)
{
	rr_t *route = NULL;
	struct sip_uri pu;
	param_hooks_t hooks;
	param_t *params = NULL;
	str in;
	int ret = 0;

	if(!aor_params.path_use_received || path->len == 0)
		return 0;
	if(parse_rr_body(path->s, path->len, &route) < 0 || route == NULL)
		return 0;
	if(parse_uri(route->nameaddr.uri.s, route->nameaddr.uri.len, &pu) < 0
			|| parse_params(&pu.params, CLASS_CONTACT, &hooks, &params) != 0)
		goto out;
	/* stock build_path_vector (path.c): the first hop's received, as the
	 * edge proxy escaped it */
	if(hooks.contact.received && hooks.contact.received->body.len > 0) {
		in = hooks.contact.received->body;
		out->s = buf;
		out->len = size;
		if(in.len + 1 > size)
			ret = AOR_E_TOO_LONG;
		else
			ret = unescape_user(&in, out) < 0 ? AOR_E_BAD_MSG : 1;
	}
out:
	if(params)
		free_params(params);
	free_rr(&route);
	return ret;
}

/* the outcome save() flag 0x02 held, for reg_send_reply */
static struct
{
	unsigned int msg_id;
	int pid;
	int held;
	int err;
	long min;
	int headers;			/* the error reply's headers are added */
	struct lump_rpl *lumps; /* save()'s reply headers, off the message */
	str extra; /* the error's extra headers (uas.c's per-process buffer,
				* which stays until the next save()) */
} held;

static void lumps_free(void)
{
	struct lump_rpl *l;

	while((l = held.lumps) != NULL) {
		held.lumps = l->next;
		free_lump_rpl(l);
	}
}

void aor_regfn_hold(
		sip_msg_t *msg, int err, long min, const str *extra, int prepared)
{
	/* a reply held for an earlier request and never sent */
	lumps_free();
	if(!prepared && cur.mark != NULL) {
		held.lumps = *cur.mark;
		*cur.mark = NULL;
		/* a failed save() lists no bindings */
		if(err < 0)
			lumps_free();
	}
	cur.mark = NULL;
	held.msg_id = msg->id;
	held.pid = msg->pid;
	held.held = 1;
	held.err = err;
	held.min = min;
	held.headers = 0;
	held.extra.s = extra ? extra->s : NULL;
	held.extra.len = extra ? extra->len : 0;
	if(prepared && err < 0) {
		aor_reply_error_headers(msg, err, min, &held.extra);
		held.headers = 1;
	}
}

int ki_aor_reg_send_reply(sip_msg_t *msg)
{
	struct lump_rpl **l;

	if(!held.held || held.msg_id != msg->id || held.pid != msg->pid) {
		LM_WARN("reg_send_reply: no save() with flag 0x02 for this request\n");
		return -1;
	}
	held.held = 0;
	/* save()'s headers after the script's, as stock adds its Contacts */
	for(l = &msg->reply_lump; *l; l = &(*l)->next)
		;
	*l = held.lumps;
	held.lumps = NULL;
	if(held.err < 0 && !held.headers)
		aor_reply_error_headers(msg, held.err, held.min, &held.extra);
	return aor_reply_send(msg, held.err) < 0 ? -1 : 1;
}

/* the AoR registered() looks for: uri, else the R-URI (a request) or the
 * To URI (a reply), as stock registered4 */
static int registered_key(sip_msg_t *msg, str *uri, char *buf, str *key)
{
	str u;

	if(uri != NULL && uri->len > 0) {
		u = *uri;
	} else if(msg->first_line.type == SIP_REPLY) {
		if(parse_to_header(msg) < 0)
			return AOR_E_BAD_AOR;
		u = get_to(msg)->uri;
	} else {
		u = *GET_RURI(msg);
	}
	return aor_params_key(&u, buf, key);
}

static int field_is(const aor_binding_t *b, enum aor_field f, const str *v)
{
	str s;

	if(v->len == 0)
		return 1;
	s = aor_binding_get(b, f);
	return s.len == v->len && memcmp(s.s, v->s, s.len) == 0;
}

int aor_regfn_registered(
		sip_msg_t *msg, aor_table_t *t, str *uri, int match, int action)
{
	aor_binding_t *v[REGISTERED_MAX];
	char buf[AOR_KEY_BUF];
	str key, callid = STR_NULL, rcv = STR_NULL, ct = STR_NULL;
	time_t now = aor_now();
	int n, i;

	if(registered_key(msg, uri, buf, &key) < 0) {
		AOR_WARN_LIMITED("registered: cannot take an AoR from the %s",
				uri ? "uri" : "request");
		return -1;
	}
	/* use_expired_contacts: expired bindings not yet removed count */
	if(aor_db_pull(t, &key) < 0)
		return -1;
	n = aor_ops_fetch(t, &key, aor_rparams_read_time(), v, REGISTERED_MAX);
	/* handle_lost_tcp: a binding whose connection is gone does not count
	 * (stock's get_urecord marks it expired) */
	if(n > 0)
		n = aor_tcp_alive_filter(v, n);
	if(n <= 0)
		return -1;
	/* stock registered4: exact byte comparison with the xavp_cfg values */
	if(match & 1)
		callid = cfg_str("match_callid");
	if(match & 2)
		rcv = cfg_str("match_received");
	if(match & 4)
		ct = cfg_str("match_contact");
	for(i = 0; i < n; i++) {
		if(!field_is(v[i], AOR_F_CALLID, &callid)
				|| !field_is(v[i], AOR_F_RECEIVED, &rcv)
				|| !field_is(v[i], AOR_F_URI, &ct))
			continue;
		if(!(action & 2))
			aor_regfn_rcd(v[i], now);
		return 1;
	}
	return -1;
}

int ki_aor_registered_flags(sip_msg_t *msg, str *table, str *uri, int match)
{
	return ki_aor_registered_action(msg, table, uri, match, 0);
}

int ki_aor_registered_action(
		sip_msg_t *msg, str *table, str *uri, int match, int action)
{
	aor_table_t *t = aor_table_get(table);

	return t ? aor_regfn_registered(msg, t, uri, match, action) : -1;
}
