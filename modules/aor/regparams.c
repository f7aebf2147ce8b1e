/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The stock registrar's remaining modparams that change save() and
 * lookup() (see regparams.h): sock_hdr_name, sock_mode,
 * use_expired_contacts, lookup_filter_mode and path_check_local.
 */

#include <string.h>

#include "../../core/xavp.h"
#include "../../core/strutils.h"
#include "../../core/forward.h"
#include "../../core/socket_info.h"
#include "../../core/tcp_conn.h"
#include "../../core/trim.h"
#include "../../core/parser/parse_rr.h"
#include "../../core/parser/parse_uri.h"

#include "errors.h"
#include "params.h"
#include "regparams.h"
#include "sys.h"

#define FILTER_BFLAG 1	 /* stock REG_LOOKUP_FILTER_BFLAG */
#define FILTER_TCPCON 2	 /* stock REG_LOOKUP_FILTER_TCPCON */
#define SOCK_HDR_MAX 128 /* "proto:host:port" of a header, at most */

struct socket_info *aor_rparams_sock_hdr(sip_msg_t *msg)
{
	char buf[SOCK_HDR_MAX];
	struct socket_info *si;
	struct hdr_field *h;
	str name, v, host;
	int port, proto;

	name.s = aor_params.sock_hdr_name;
	name.len = name.s ? strlen(name.s) : 0;
	if(name.len == 0 || parse_headers(msg, HDR_EOH_F, 0) < 0)
		return NULL;
	for(h = msg->headers; h; h = h->next)
		if(cmp_hdrname_str(&h->name, &name) == 0)
			break;
	if(h == NULL)
		return NULL;
	v = h->body;
	trim(&v);
	if(v.len == 0)
		return NULL;
	/* parse_phostport reads a NUL-terminated copy, not the message */
	if(v.len >= SOCK_HDR_MAX)
		goto bad;
	memcpy(buf, v.s, v.len);
	buf[v.len] = '\0';
	if(parse_phostport(buf, &host.s, &host.len, &port, &proto) != 0)
		goto bad;
	si = grep_sock_info(&host, (unsigned short)port, (unsigned short)proto);
	if(si == NULL)
		AOR_WARN_LIMITED("save: socket <%.*s> of header %s is not local", v.len,
				v.s, name.s);
	return si;
bad:
	AOR_WARN_LIMITED("save: bad socket <%.*s> in header %s",
			v.len > 64 ? 64 : v.len, v.s, name.s);
	return NULL;
}

str aor_rparams_sock_str(const struct socket_info *si)
{
	if(aor_params.sock_mode == 1 && si->useinfo.sock_str.len > 0)
		return si->useinfo.sock_str;
	return si->sock_str;
}

time_t aor_rparams_read_time(void)
{
	/* stock VALID_CONTACT(c, t) || use_expired_contacts */
	return aor_params.use_expired_contacts ? 0 : aor_now();
}

/* this lookup's rlf_bflags (0: none), read by aor_rparams_filter_begin */
static unsigned int rlf_bflags;

void aor_rparams_filter_begin(void)
{
	str name = str_init("rlf_bflags"), root;
	sr_xavp_t *x;

	rlf_bflags = 0;
	if(!(aor_params.lookup_filter_mode & FILTER_BFLAG)
			|| aor_params.xavp_cfg == NULL || *aor_params.xavp_cfg == '\0')
		return;
	root.s = aor_params.xavp_cfg;
	root.len = strlen(root.s);
	x = xavp_get_child_with_ival(&root, &name);
	if(x != NULL)
		rlf_bflags = (unsigned int)x->val.v.i;
}

/* 1 when connection c exists and is established (stock's S_CONN_OK) */
static int conn_ok(int32_t c)
{
	struct tcp_connection *con = tcpconn_get(c, 0, 0, 0, 0);
	int ok;

	if(con == NULL)
		return 0;
	ok = con->state == S_CONN_OK;
	tcpconn_put(con);
	return ok;
}

int aor_rparams_filter(aor_binding_t **v, int n)
{
	int mode = aor_params.lookup_filter_mode, i, k = 0;

	if(mode == 0 || (rlf_bflags == 0 && !(mode & FILTER_TCPCON)))
		return n;
	for(i = 0; i < n; i++) {
		if(rlf_bflags != 0 && !(v[i]->cflags & rlf_bflags))
			continue;
		if((mode & FILTER_TCPCON) && v[i]->conn_id > 0
				&& !conn_ok(v[i]->conn_id))
			continue;
		v[k++] = v[i];
	}
	return k;
}

/* the URI of the first hop of path, or an empty str */
static str first_uri(str path, str *rest)
{
	str r = STR_NULL;
	rr_t *route = NULL;

	rest->s = NULL;
	rest->len = 0;
	if(parse_rr_body(path.s, path.len, &route) < 0 || route == NULL)
		return r;
	r = route->nameaddr.uri;
	if(route->next != NULL) {
		rest->s = route->next->nameaddr.name.s;
		rest->len = (int)(path.s + path.len - rest->s);
	}
	free_rr(&route);
	return r;
}

void aor_rparams_path(str stored, str *path, str *dst)
{
	struct sip_uri u;
	str rest;

	*path = stored;
	*dst = first_uri(stored, &rest);
	if(!aor_params.path_check_local || dst->len == 0)
		return;
	if(parse_uri(dst->s, dst->len, &u) < 0 || check_self(&u.host, 0, 0) != 1)
		return;
	/* the first hop is this proxy: the next one, or none */
	*path = rest;
	*dst = rest.len > 0 ? first_uri(rest, &rest) : rest;
}
