/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The aor.* RPC commands but aor.list (rpc_list.c) and aor.reginfo
 * (rpc_reginfo.c). Each has the operations layer copy what it shows under
 * one slot lock and formats the reply after the release; changes go
 * through the same operations as the SIP requests', with origin RPC.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../core/mem/pkg.h"
#include "../../core/parser/parse_uri.h"
#include "../../core/rpc_lookup.h"
#include "../../core/ut.h"

#include "lookup.h"
#include "ops.h"
#include "params.h"
#include "errors.h"
#include "db.h"
#include "rpc.h"

#define RPC_SHOW_MAX 256


int aor_rpc_no_extra(rpc_t *rpc, void *c, const char *usage)
{
	str x;

	if(rpc->scan(c, "*.S", &x) < 1)
		return 0;
	rpc->fault(c, 400, "Too many arguments. Usage: %s", usage);
	return -1;
}

/* 1 when arg is meant as a SIP URI (sip: or sips:), not a stored key */
static int is_uri(const str *arg)
{
	return (arg->len >= 4 && strncasecmp(arg->s, "sip:", 4) == 0)
		   || (arg->len >= 5 && strncasecmp(arg->s, "sips:", 5) == 0);
}

aor_table_t *aor_rpc_table(rpc_t *rpc, void *c, str *name)
{
	str def = str_init("location");
	aor_table_t *t;

	if(name == NULL || name->len == 0)
		name = &def;
	t = aor_table_get(name);
	if(t == NULL)
		rpc->fault(c, 404, "No table named %.*s", ECHO(name->len), name->s);
	return t;
}

/* the AoR key of an RPC argument: a SIP URI, or a key as stored */
static int rpc_key(str *arg, char *buf, str *key)
{
	if(is_uri(arg))
		return aor_params_key(arg, buf, key) == 0 ? 0 : -1;
	if(arg->len <= 0 || arg->len > 1024)
		return -1;
	*key = *arg;
	return 0;
}

void aor_rpc_add_binding(
		rpc_t *rpc, void *c, void *arr, const aor_binding_t *b, time_t now)
{
	str uri = aor_binding_get(b, AOR_F_URI);
	str cid = aor_binding_get(b, AOR_F_CALLID);
	str ua = aor_binding_get(b, AOR_F_UA);
	str rcv = aor_binding_get(b, AOR_F_RECEIVED);
	str path = aor_binding_get(b, AOR_F_PATH);
	str sock = aor_binding_get(b, AOR_F_SOCK);
	str inst = aor_binding_get(b, AOR_F_INSTANCE);
	char rb[AOR_RUID_LEN + 1];
	str ruid;
	void *h;

	ruid.s = rb;
	ruid.len = aor_ruid_fmt(b->id, rb);
	if(rpc->array_add(arr, "{", &h) < 0)
		return;
	rpc->struct_add(h, "SdfdSdSSSSSSdddd", "contact", &uri, "expires",
			b->expires ? (int)aor_binding_left(b, now) : 0, "q",
			b->q == AOR_Q_UNSPEC ? -1.0 : b->q / 1000.0, "cseq", (int)b->cseq,
			"callid", &cid, "flags", (int)b->cflags, "user_agent", &ua,
			"received", &rcv, "path", &path, "socket", &sock, "instance", &inst,
			"ruid", &ruid, "reg_id", (int)b->reg_id, "last_modified",
			(int)b->modified, "last_keepalive",
			(int)(b->ka_last > b->modified ? b->ka_last : b->modified),
			"ka_roundtrip", (int)b->ka_rtt);
}

aor_table_t *aor_rpc_aor_arg(rpc_t *rpc, void *c, const char *usage,
		char *keybuf, str *key)
{
	str arg, tname = STR_NULL;
	aor_table_t *t;
	int n;

	n = rpc->scan(c, ".S*.S", &arg, &tname);
	if(n < 1) {
		rpc->fault(c, 400, "Usage: %s", usage);
		return NULL;
	}
	if(n < 2)
		tname.len = 0;
	if(aor_rpc_no_extra(rpc, c, usage) < 0)
		return NULL;
	if((t = aor_rpc_table(rpc, c, &tname)) == NULL)
		return NULL;
	if(rpc_key(&arg, keybuf, key) < 0) {
		rpc->fault(c, 400, "Malformed AoR");
		return NULL;
	}
	return t;
}

int aor_rpc_fetch(rpc_t *rpc, void *c, const char *usage, char *keybuf,
		str *key, aor_binding_t **v, int max)
{
	aor_table_t *t;
	int n;

	if((t = aor_rpc_aor_arg(rpc, c, usage, keybuf, key)) == NULL)
		return -1;
	n = aor_ops_fetch(t, key, aor_now(), v, max);
	if(n < 0) {
		rpc->fault(c, 500, "Out of memory");
		return -1;
	}
	if(n == 0) {
		rpc->fault(c, 404, "AoR not found: %.*s", ECHO(key->len), key->s);
		return -1;
	}
	return n;
}

static void aor_rpc_show(rpc_t *rpc, void *c)
{
	aor_binding_t *v[RPC_SHOW_MAX];
	char buf[AOR_RPC_KEYBUF];
	str key;
	void *h, *arr;
	time_t now = aor_now();
	int n, i;

	n = aor_rpc_fetch(
			rpc, c, "aor.show AOR [table]", buf, &key, v, RPC_SHOW_MAX);
	if(n < 0)
		return;
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "Sd[", "aor", &key, "count", n, "bindings", &arr);
	for(i = 0; i < n; i++)
		aor_rpc_add_binding(rpc, c, arr, v[i], now);
}

static void aor_rpc_count(rpc_t *rpc, void *c)
{
	str tname = STR_NULL;
	aor_table_t *t;
	void *h;

	if(rpc->scan(c, "*.S", &tname) < 1)
		tname.len = 0;
	if(aor_rpc_no_extra(rpc, c, "aor.count [table]") < 0)
		return;
	if((t = aor_rpc_table(rpc, c, &tname)) == NULL)
		return;
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "Sddd", "table", &t->name, "aors",
			(int)aor_atomic_get(&t->aors), "bindings",
			(int)aor_atomic_get(&t->bindings), "slots", (int)aor_table_size(t));
}

static void aor_rpc_flush(rpc_t *rpc, void *c)
{
	str tname = STR_NULL;
	aor_table_t *t;
	void *h;
	long n;

	/* '.': a number is a table name too, never "no argument" (which
	 * would flush the default table) */
	if(rpc->scan(c, "*.S", &tname) < 1)
		tname.len = 0;
	if(aor_rpc_no_extra(rpc, c, "aor.flush [table]") < 0)
		return;
	if((t = aor_rpc_table(rpc, c, &tname)) == NULL)
		return;
	/* slot by slot: the deleted events of each slot run (after its
	 * unlock) before the next slot is flushed */
	n = aor_table_flush(t, AOR_ORIG_RPC);
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "Sd", "table", &t->name, "removed", (int)n);
}

static void aor_rpc_rm(rpc_t *rpc, void *c)
{
	char buf[AOR_RPC_KEYBUF];
	aor_table_t *t;
	str key;
	int n;

	t = aor_rpc_aor_arg(rpc, c, "aor.rm AOR [table]", buf, &key);
	if(t == NULL)
		return;
	/* db_mode 3: what the table holds, so that its rows go */
	if(aor_db_pull(t, &key) < 0) {
		rpc->fault(c, 503, "Database unavailable");
		return;
	}
	n = aor_ops_remove(t, &key, NULL, NULL, AOR_ORIG_RPC);
	if(n < 0) {
		rpc->fault(c, 500, "Out of memory");
		return;
	}
	if(n == 0) {
		rpc->fault(c, 404, "AoR not found: %.*s", ECHO(key.len), key.s);
		return;
	}
	rpc->rpl_printf(c, "removed %d bindings of %.*s", n, key.len, key.s);
}

/* a Contact argument without its <> */
static str rpc_contact(str ct)
{
	if(ct.len >= 2 && ct.s[0] == '<' && ct.s[ct.len - 1] == '>') {
		ct.s++;
		ct.len -= 2;
	}
	return ct;
}

/* 1 when b's contact is ct (RFC 3261 19.1.4, bytes when unparsable) */
static int contact_is(const aor_binding_t *b, const void *arg)
{
	const str *ct = arg;
	str uri = aor_binding_get(b, AOR_F_URI);
	int r = aor_uri_equal(&uri, ct);

	if(r >= 0)
		return r;
	return uri.len == ct->len && memcmp(uri.s, ct->s, uri.len) == 0;
}

static int valid_uri(str *u)
{
	struct sip_uri pu;

	return u->len > 0 && u->len <= 1024 && parse_uri(u->s, u->len, &pu) == 0;
}

static void aor_rpc_rm_contact(rpc_t *rpc, void *c)
{
	char buf[AOR_KEY_BUF];
	str arg, ct, tname = STR_NULL, key;
	aor_table_t *t;
	uint64_t id = 0;
	int n, byid, removed = 0;
	void *h;

	n = rpc->scan(c, ".S.S*.S", &arg, &ct, &tname);
	if(n < 2) {
		rpc->fault(c, 400, "Usage: aor.rm_contact AOR CONTACT|RUID [table]");
		return;
	}
	if(n < 3)
		tname.len = 0;
	if(aor_rpc_no_extra(rpc, c, "aor.rm_contact AOR CONTACT|RUID [table]") < 0)
		return;
	if((t = aor_rpc_table(rpc, c, &tname)) == NULL)
		return;
	if(rpc_key(&arg, buf, &key) < 0) {
		rpc->fault(c, 400, "Malformed AoR");
		return;
	}
	ct = rpc_contact(ct);
	byid = aor_ruid_parse(&ct, &id) == 0;
	if(!byid && !valid_uri(&ct)) {
		rpc->fault(
				c, 400, "Malformed contact or ruid: %.*s", ECHO(ct.len), ct.s);
		return;
	}
	if(aor_db_pull(t, &key) < 0) {
		rpc->fault(c, 503, "Database unavailable");
		return;
	}
	removed = aor_ops_remove(t, &key, byid ? aor_match_id : contact_is,
			byid ? (const void *)&id : (const void *)&ct, AOR_ORIG_RPC);
	if(removed < 0) {
		rpc->fault(c, 500, "Out of memory");
		return;
	}
	if(removed == 0) {
		rpc->fault(c, 404, "No binding %.*s of %.*s", ECHO(ct.len), ct.s,
				ECHO(key.len), key.s);
		return;
	}
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "Sd", "aor", &key, "removed", removed);
}

/* The AoR key of aor.add, normalized as save() makes it: from a SIP URI,
 * or from user@domain (a user alone with use_domain=0). 0 or -1. */
static int rpc_add_key(const str *arg, char *buf, str *key)
{
	char ub[1100];
	str u;

	if(arg->len <= 0 || arg->len > 1024)
		return -1;
	if(is_uri(arg))
		return aor_params_key(arg, buf, key) == 0 ? 0 : -1;
	if(memchr(arg->s, '@', arg->len) != NULL)
		u.len = snprintf(ub, sizeof(ub), "sip:%.*s", arg->len, arg->s);
	else if(!aor_params.use_domain)
		u.len = snprintf(
				ub, sizeof(ub), "sip:%.*s@localhost", arg->len, arg->s);
	else
		return -1; /* with use_domain=1 an AoR needs its domain */
	u.s = ub;
	return aor_params_key(&u, buf, key) == 0 ? 0 : -1;
}

/* the fault of an aor.add that the merge refused */
static void add_fault(rpc_t *rpc, void *c, int err)
{
	switch(err) {
		case AOR_E_TOO_MANY:
			rpc->fault(c, 503, "Too many contacts (max_contacts)");
			break;
		case AOR_E_TABLE_FULL:
			rpc->fault(c, 503, "Table full (max_bindings)");
			break;
		case AOR_E_NOMEM:
			rpc->fault(c, 503, "Out of memory (shared memory down to "
							   "shm_reserve)");
			break;
		case AOR_E_TOO_LONG:
			rpc->fault(c, 400, "Contact too long");
			break;
		default:
			rpc->fault(c, 500, "Not added (error %d)", err);
	}
}

/* the binding of ct in the copies v of its record, or NULL */
static aor_binding_t *added(aor_binding_t **v, int n, const str *ct)
{
	int i;

	for(i = 0; i < n; i++)
		if(contact_is(v[i], ct))
			return v[i];
	return NULL;
}

/* aor.add goes through the merge and the limits of a REGISTER (ops.c,
 * merge.c): max_contacts with its policy, max_bindings and shm_reserve;
 * as an operator's change it is not subject to the Call-ID/CSeq order */
static void aor_rpc_add(rpc_t *rpc, void *c)
{
	static aor_binding_t *v[AOR_REC_MAX];
	char buf[AOR_KEY_BUF], rb[AOR_RUID_LEN + 1];
	str arg, ct, tname = STR_NULL, key, ruid;
	aor_contact_t contact;
	aor_regreq_t req;
	aor_plan_t plan;
	aor_binding_t *b;
	aor_table_t *t;
	double q = -1;
	int n, expires;
	void *h;

	n = rpc->scan(c, ".S.S.d*.f.S", &arg, &ct, &expires, &q, &tname);
	if(n < 3) {
		rpc->fault(c, 400, "Usage: aor.add AOR CONTACT EXPIRES [Q] [table]");
		return;
	}
	if(n < 5)
		tname.len = 0;
	if(aor_rpc_no_extra(rpc, c, "aor.add AOR CONTACT EXPIRES [Q] [table]") < 0)
		return;
	if((t = aor_rpc_table(rpc, c, &tname)) == NULL)
		return;
	if(rpc_add_key(&arg, buf, &key) < 0) {
		rpc->fault(c, 400, "Malformed AoR");
		return;
	}
	ct = rpc_contact(ct);
	if(!valid_uri(&ct)) {
		rpc->fault(c, 400, "Malformed contact: %.*s", ECHO(ct.len), ct.s);
		return;
	}
	if(expires < 0) {
		rpc->fault(c, 400, "Bad expires %d: 0 (permanent) or more", expires);
		return;
	}
	if(n >= 4 && !(q >= 0.0 && q <= 1.0)) {
		rpc->fault(c, 400, "Bad q: 0 to 1");
		return;
	}
	memset(&contact, 0, sizeof(contact));
	contact.uri = ct;
	contact.expires = expires ? expires : AOR_EXPIRES_PERMANENT;
	contact.methods = ~0u;
	contact.q = n >= 4 ? (int16_t)(q * 1000 + 0.5) : aor_params.default_q;
	memset(&req, 0, sizeof(req));
	req.aor = key;
	req.hash = aor_hash(&key);
	req.callid = (str)str_init("aor.add");
	req.user_agent = (str)str_init("kamcmd aor.add");
	req.cseq = 1;
	req.now = aor_now();
	req.operator = 1;
	req.ncontacts = 1;
	req.contacts = &contact;
	n = aor_ops_save(t, &req, &aor_limits, &plan, AOR_ORIG_RPC, v, AOR_REC_MAX);
	b = n > 0 ? added(v, n, &ct) : NULL;
	if(b) {
		ruid.s = rb;
		ruid.len = aor_ruid_fmt(b->id, rb);
	}
	aor_ops_done();
	if(n < 0) {
		add_fault(rpc, c, n);
		return;
	}
	if(b == NULL) {
		rpc->fault(c, 500, "Added binding not found");
		return;
	}
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "SSSd", "aor", &key, "contact", &ct, "ruid", &ruid,
			"expires", expires);
}

static int us(uint64_t ns)
{
	return ns / 1000 > INT_MAX ? INT_MAX : (int)(ns / 1000);
}

static void aor_rpc_stats(rpc_t *rpc, void *c)
{
	aor_table_stat_t st;
	aor_table_t *t;
	void *h;

	if(aor_rpc_no_extra(rpc, c, "aor.stats") < 0)
		return;
	for(t = aor_tables(); t; t = t->next) {
		aor_table_stat(t, &st);
		if(rpc->add(c, "{", &h) < 0)
			return;
		rpc->struct_add(h, "Sddddsdd", "table", &t->name, "aors",
				(int)st.aors, "bindings", (int)st.bindings, "slots",
				(int)st.slots, "mem", st.mem > INT_MAX ? INT_MAX : (int)st.mem,
				"resizing", st.resizing ? "yes" : "no", "max_hold_us",
				us(st.hold_max_ns), "max_hold_cpu_us", us(st.hold_max_cpu_ns));
	}
}

static const char *aor_rpc_show_doc[2] = {
		"Show the bindings of one AoR: aor.show AOR [table]", 0};
static const char *aor_rpc_count_doc[2] = {
		"Count AoRs and bindings: aor.count [table]", 0};
static const char *aor_rpc_flush_doc[2] = {
		"Remove every binding of a table: aor.flush [table]", 0};
static const char *aor_rpc_rm_doc[2] = {
		"Remove an AoR and all its bindings: aor.rm AOR [table]", 0};
const char *aor_rpc_list_doc[2] = {
		"One page of AoRs with their bindings and the cursor of the next"
		" (\"0\" at the end): aor.list [table [limit [cursor [filter]]]];"
		" filter is a prefix of the AoR, or a glob with * ? [",
		0};
static const char *aor_rpc_rm_contact_doc[2] = {
		"Remove one binding, by contact URI or ruid:"
		" aor.rm_contact AOR CONTACT|RUID [table]",
		0};
static const char *aor_rpc_add_doc[2] = {
		"Add or replace a binding (expires 0: permanent):"
		" aor.add AOR CONTACT EXPIRES [Q] [table]",
		0};
static const char *aor_rpc_stats_doc[2] = {
		"Per table: AoRs, bindings, slots, shared memory bytes, resizing, "
		"longest slot lock hold of the expiry, flush and resize walks (us, "
		"wall and CPU)", 0};

/* clang-format off */
rpc_export_t aor_rpc_cmds[] = {
	{"aor.show", aor_rpc_show, aor_rpc_show_doc, 0},
	{"aor.count", aor_rpc_count, aor_rpc_count_doc, 0},
	{"aor.flush", aor_rpc_flush, aor_rpc_flush_doc, 0},
	{"aor.rm", aor_rpc_rm, aor_rpc_rm_doc, 0},
	{"aor.list", aor_rpc_list, aor_rpc_list_doc, 0},
	{"aor.rm_contact", aor_rpc_rm_contact, aor_rpc_rm_contact_doc, 0},
	{"aor.add", aor_rpc_add, aor_rpc_add_doc, 0},
	{"aor.stats", aor_rpc_stats, aor_rpc_stats_doc, 0},
	{0, 0, 0, 0}
};
/* clang-format on */
