/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Contact profiles and $ulc (see ulc.h): the values and their types are
 * those of the stock registrar's regpv.c, attribute by attribute.
 */

#include <string.h>

#include "../../core/mem/mem.h"
#include "../../core/mod_fix.h"
#include "../../core/hashes.h"
#include "../../core/globals.h"
#include "../../core/ip_addr.h"

#include "db.h"
#include "ulc.h"
#include "lookup.h"
#include "ops.h"
#include "params.h"

typedef struct ulc_profile
{
	str name;
	int set;   /* a fetch (found or not) since the last free */
	str table; /* name of the table fetched from */
	char *aor; /* the AoR fetched; aor_len bytes */
	int aor_len;
	int n;			   /* bindings held */
	aor_binding_t **b; /* n pointers into the same block */
	char *ruid;		   /* n ruids of RUID_SZ bytes, NUL-terminated */
	struct ulc_profile *next;
} ulc_profile_t;

/* the attributes, named as stock's $ulc names them */
enum ulc_attr
{
	A_AOR,
	A_DOMAIN,
	A_AORHASH,
	A_ADDR,
	A_PATH,
	A_RECEIVED,
	A_EXPIRES,
	A_CALLID,
	A_Q,
	A_CSEQ,
	A_FLAGS,
	A_CFLAGS,
	A_USER_AGENT,
	A_SOCKET,
	A_MODIFIED,
	A_METHODS,
	A_COUNT,
	A_RUID,
	A_REGID,
	A_INSTANCE,
	A_CONID,
	A_SERVER_ID,
	A_COUNT_ALL
};

static const char *attr_names[A_COUNT_ALL] = {
		[A_AOR] = "aor",
		[A_DOMAIN] = "domain",
		[A_AORHASH] = "aorhash",
		[A_ADDR] = "addr",
		[A_PATH] = "path",
		[A_RECEIVED] = "received",
		[A_EXPIRES] = "expires",
		[A_CALLID] = "callid",
		[A_Q] = "q",
		[A_CSEQ] = "cseq",
		[A_FLAGS] = "flags",
		[A_CFLAGS] = "cflags",
		[A_USER_AGENT] = "user_agent",
		[A_SOCKET] = "socket",
		[A_MODIFIED] = "modified",
		[A_METHODS] = "methods",
		[A_COUNT] = "count",
		[A_RUID] = "ruid",
		[A_REGID] = "regid",
		[A_INSTANCE] = "instance",
		[A_CONID] = "conid",
		[A_SERVER_ID] = "server_id",
};

typedef struct ulc_name
{
	ulc_profile_t *p;
	enum ulc_attr attr;
} ulc_name_t;

static ulc_profile_t *profiles = NULL;

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)
#define RUID_SZ (AOR_RUID_LEN + 1)

/* the profile named name, made when there is none yet; NULL on no memory */
static ulc_profile_t *profile_get(const str *name)
{
	ulc_profile_t *p;

	if(name == NULL || name->len <= 0) {
		LM_ERR("empty contact profile name\n");
		return NULL;
	}
	for(p = profiles; p; p = p->next)
		if(p->name.len == name->len
				&& memcmp(p->name.s, name->s, name->len) == 0)
			return p;
	p = pkg_malloc(sizeof(*p) + name->len + 1);
	if(p == NULL) {
		PKG_MEM_ERROR;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->name.s = (char *)(p + 1);
	memcpy(p->name.s, name->s, name->len);
	p->name.s[name->len] = '\0';
	p->name.len = name->len;
	p->next = profiles;
	profiles = p;
	return p;
}

/* the bindings and the AoR live in one block, p->b (pointers, ruids, the
 * AoR, then the 8-aligned copies) */
static void profile_clear(ulc_profile_t *p)
{
	if(p->b)
		pkg_free(p->b);
	p->b = NULL;
	p->ruid = NULL;
	p->aor = NULL;
	p->aor_len = 0;
	p->n = 0;
	p->set = 0;
	p->table.s = NULL;
	p->table.len = 0;
}

/* Replaces what p holds by copies of v[0..n-1], the AoR aor of table. */
static int profile_fill(ulc_profile_t *p, const str *table, const str *aor,
		aor_binding_t *const *v, int n)
{
	size_t size, off;
	char *blk;
	int i;

	profile_clear(p);
	off = ALIGN8(n * (sizeof(aor_binding_t *) + RUID_SZ) + aor->len);
	size = off;
	for(i = 0; i < n; i++)
		size += ALIGN8(aor_binding_size(v[i]));
	blk = pkg_malloc(size ? size : 8);
	if(blk == NULL) {
		PKG_MEM_ERROR_FMT("%zu bytes\n", size);
		return -1;
	}
	p->b = (aor_binding_t **)blk;
	p->ruid = blk + n * sizeof(aor_binding_t *);
	p->aor = p->ruid + n * RUID_SZ;
	memcpy(p->aor, aor->s, aor->len);
	p->aor_len = aor->len;
	for(i = 0; i < n; i++) {
		aor_ruid_fmt(v[i]->id, p->ruid + i * RUID_SZ);
		p->b[i] = (aor_binding_t *)(blk + off);
		memcpy(p->b[i], v[i], aor_binding_size(v[i]));
		p->b[i]->next = NULL;
		off += ALIGN8(aor_binding_size(v[i]));
	}
	p->n = n;
	p->table = *table;
	p->set = 1;
	return 0;
}

int aor_ulc_fetch(sip_msg_t *msg, aor_table_t *t, str *uri, str *profile)
{
	static aor_binding_t *v[AOR_REC_MAX];
	char keybuf[AOR_KEY_BUF];
	ulc_profile_t *p;
	str key;
	int n;

	p = profile_get(profile);
	if(p == NULL)
		return -1;
	profile_clear(p);
	if(uri == NULL || uri->len <= 0 || aor_params_key(uri, keybuf, &key) < 0) {
		/* the URI is the client's, mostly ($ru, $fu): rate-limited */
		AOR_WARN_LIMITED("reg_fetch_contacts(): no AoR in <%.*s>",
				uri ? (uri->len > 128 ? 128 : uri->len) : 0, uri ? uri->s : "");
		return -1;
	}
	if(aor_db_pull(t, &key) < 0) /* db_mode 3: the table's rows */
		return -1;
	n = aor_ops_fetch(t, &key, aor_now(), v, AOR_REC_MAX);
	if(n < 0) {
		LM_ERR("reg_fetch_contacts(): cannot copy the bindings of %.*s\n",
				key.len, key.s);
		return -1;
	}
	aor_lookup_sort(v, n);
	if(profile_fill(p, &t->name, &key, v, n) < 0)
		return -1;
	LM_DBG("%d bindings of %.*s in profile %.*s\n", n, key.len, key.s,
			p->name.len, p->name.s);
	return n > 0 ? 1 : -1;
}

int ki_aor_reg_fetch_contacts(
		sip_msg_t *msg, str *table, str *uri, str *profile)
{
	aor_table_t *t = aor_table_get(table);

	if(t == NULL) {
		LM_ERR("reg_fetch_contacts(): no table %.*s\n", table->len, table->s);
		return -1;
	}
	return aor_ulc_fetch(msg, t, uri, profile);
}

int ki_aor_reg_free_contacts(sip_msg_t *msg, str *profile)
{
	ulc_profile_t *p = profile_get(profile);

	if(p == NULL)
		return -1;
	profile_clear(p);
	return 1;
}

int aor_ulc_set_one(
		const str *profile, const str *table, const aor_binding_t *b)
{
	aor_binding_t *v = (aor_binding_t *)b;
	ulc_profile_t *p = profile_get(profile);
	str aor = aor_binding_get(b, AOR_F_AOR);

	if(p == NULL)
		return -1;
	return profile_fill(p, table, &aor, &v, 1);
}

int aor_ulc_pv_parse(pv_spec_t *sp, str *in)
{
	ulc_name_t *nm;
	ulc_profile_t *p;
	str pn, pa;
	char *sep;
	int i;

	if(sp == NULL || in == NULL || in->len <= 0)
		return -1;
	sep = in->len > 2 ? memchr(in->s, '=', in->len - 2) : NULL;
	if(sep == NULL || sep[1] != '>' || sep == in->s) {
		LM_ERR("$ulc(%.*s): want $ulc(profile=>attribute)\n", in->len, in->s);
		return -1;
	}
	pn.s = in->s;
	pn.len = (int)(sep - in->s);
	pa.s = sep + 2;
	pa.len = (int)(in->s + in->len - pa.s);
	for(i = 0; i < A_COUNT_ALL; i++)
		if(strlen(attr_names[i]) == (size_t)pa.len
				&& memcmp(attr_names[i], pa.s, pa.len) == 0)
			break;
	if(i == A_COUNT_ALL) {
		LM_ERR("$ulc(%.*s): unknown attribute %.*s\n", in->len, in->s, pa.len,
				pa.s);
		return -1;
	}
	/* the profile exists from the parse on, as stock's */
	p = profile_get(&pn);
	if(p == NULL)
		return -1;
	nm = pkg_malloc(sizeof(*nm));
	if(nm == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	nm->p = p;
	nm->attr = (enum ulc_attr)i;
	sp->pvp.pvn.u.dname = nm;
	sp->pvp.pvn.type = PV_NAME_PVAR;
	return 0;
}

/* stock stores "n/a" for a REGISTER without User-Agent (registrar's
 * save.c no_ua); we store it empty */
static int get_ua(sip_msg_t *msg, pv_param_t *param, pv_value_t *res, str s)
{
	static str no_ua = str_init("n/a");

	return pv_get_strval(msg, param, res, s.len > 0 ? &s : &no_ua);
}

static int get_str(sip_msg_t *msg, pv_param_t *param, pv_value_t *res,
		const aor_binding_t *b, enum aor_field f)
{
	str s = aor_binding_get(b, f);

	return pv_get_strval(msg, param, res, &s);
}

/* conid: the connection id for a binding on TCP, TLS or WS (-1 when its
 * connection is unknown, as stock's after a restart), null otherwise */
static int get_conid(sip_msg_t *msg, pv_param_t *param, pv_value_t *res,
		const aor_binding_t *b)
{
	struct socket_info *si = (struct socket_info *)b->sock;

	if(si == NULL
			|| (si->proto != PROTO_TCP && si->proto != PROTO_TLS
					&& si->proto != PROTO_WS && si->proto != PROTO_WSS))
		return pv_get_null(msg, param, res);
	return pv_get_sintval(msg, param, res, b->conn_id ? b->conn_id : -1);
}

/* the attributes of the record rather than of one binding */
static int get_record(sip_msg_t *msg, pv_param_t *param, pv_value_t *res,
		ulc_profile_t *p, enum ulc_attr a)
{
	str aor;

	aor.s = p->aor;
	aor.len = p->aor_len;
	switch(a) {
		case A_AOR:
			return pv_get_strval(msg, param, res, &aor);
		case A_DOMAIN:
			return pv_get_strval(msg, param, res, &p->table);
		case A_AORHASH:
			/* usrloc's aorhash; stock's $ulc gives 0 (never set) */
			return pv_get_uintval(msg, param, res, core_hash(&aor, 0, 0));
		default:
			return pv_get_sintval(msg, param, res, p->n);
	}
}

static int get_binding(sip_msg_t *msg, pv_param_t *param, pv_value_t *res,
		ulc_profile_t *p, int i, enum ulc_attr a)
{
	const aor_binding_t *b = p->b[i];
	str s;

	switch(a) {
		case A_ADDR:
			return get_str(msg, param, res, b, AOR_F_URI);
		case A_PATH:
			return get_str(msg, param, res, b, AOR_F_PATH);
		case A_RECEIVED:
			return get_str(msg, param, res, b, AOR_F_RECEIVED);
		case A_EXPIRES:
			return pv_get_uintval(msg, param, res, (unsigned int)b->expires);
		case A_CALLID:
			return get_str(msg, param, res, b, AOR_F_CALLID);
		case A_Q:
			return pv_get_sintval(msg, param, res, b->q);
		case A_CSEQ:
			return pv_get_sintval(msg, param, res, (int)b->cseq);
		case A_FLAGS:
			/* save()'s flags are not kept in a binding */
			return pv_get_uintval(msg, param, res, 0);
		case A_CFLAGS:
			return pv_get_uintval(msg, param, res, b->cflags);
		case A_USER_AGENT:
			return get_ua(msg, param, res, aor_binding_get(b, AOR_F_UA));
		case A_SOCKET:
			s = aor_binding_get(b, AOR_F_SOCK);
			if(s.len == 0)
				return pv_get_null(msg, param, res);
			return pv_get_strval(msg, param, res, &s);
		case A_MODIFIED:
			return pv_get_uintval(msg, param, res, (unsigned int)b->modified);
		case A_METHODS:
			return pv_get_uintval(msg, param, res, b->methods);
		case A_RUID:
			s.s = p->ruid + i * RUID_SZ;
			s.len = strlen(s.s);
			return pv_get_strval(msg, param, res, &s);
		case A_REGID:
			return pv_get_uintval(msg, param, res, (unsigned int)b->reg_id);
		case A_INSTANCE:
			s = aor_binding_get(b, AOR_F_INSTANCE);
			if(s.len == 0)
				return pv_get_null(msg, param, res);
			return pv_get_strval(msg, param, res, &s);
		case A_CONID:
			return get_conid(msg, param, res, b);
		case A_SERVER_ID:
			return pv_get_uintval(msg, param, res, (unsigned int)server_id);
		default:
			return pv_get_null(msg, param, res);
	}
}

int aor_ulc_pv_get(sip_msg_t *msg, pv_param_t *param, pv_value_t *res)
{
	ulc_name_t *nm;
	ulc_profile_t *p;
	int idx, flags;

	if(param == NULL)
		return -1;
	nm = (ulc_name_t *)param->pvn.u.dname;
	if(nm == NULL || nm->p == NULL)
		return pv_get_null(msg, param, res);
	p = nm->p;
	/* as stock: nothing fetched or nothing found, every attribute null */
	if(!p->set || p->n == 0)
		return pv_get_null(msg, param, res);
	if(pv_get_spec_index(msg, param, &idx, &flags) != 0) {
		LM_ERR("$ulc: bad index\n");
		return -1;
	}
	/* negative indexes count as 0, as stock's */
	if(idx < 0)
		idx = 0;
	if(idx >= p->n)
		return pv_get_null(msg, param, res);
	if(nm->attr == A_AOR || nm->attr == A_DOMAIN || nm->attr == A_AORHASH
			|| nm->attr == A_COUNT)
		return get_record(msg, param, res, p, nm->attr);
	return get_binding(msg, param, res, p, idx, nm->attr);
}

int aor_ulc_pv_set(sip_msg_t *msg, pv_param_t *param, int op, pv_value_t *val)
{
	return 0;
}
