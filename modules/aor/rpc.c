/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The aor.* RPC commands. Each copies what it shows under one slot lock,
 * releases it, and formats the reply afterwards.
 */

#include <string.h>

#include "../../core/rpc_lookup.h"
#include "../../core/ut.h"

#include "aor_mod.h"
#include "errors.h"
#include "rpc.h"

#define RPC_SHOW_MAX 256

static aor_table_t *rpc_table(rpc_t *rpc, void *c, str *name)
{
	str def = str_init("location");
	aor_table_t *t;

	if(name == NULL || name->len == 0)
		name = &def;
	t = aor_table_get(name);
	if(t == NULL)
		rpc->fault(c, 404, "No table named %.*s", name->len, name->s);
	return t;
}

/* the AoR key of an RPC argument: a SIP URI, or a key as stored */
static int rpc_key(str *arg, char *buf, str *key)
{
	if(arg->len >= 4 && strncasecmp(arg->s, "sip", 3) == 0
			&& aor_key_from_uri(arg, buf, key) == 0)
		return 0;
	if(arg->len <= 0 || arg->len > 1024)
		return -1;
	*key = *arg;
	return 0;
}

static void add_binding(rpc_t *rpc, void *c, void *arr, const aor_binding_t *b,
		time_t now)
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
	rpc->struct_add(h, "SdfdSdSSSSSSdd", "contact", &uri, "expires",
			b->expires ? (int)aor_binding_left(b, now) : 0, "q",
			b->q == AOR_Q_UNSPEC ? -1.0 : b->q / 1000.0,
			"cseq", (int)b->cseq, "callid", &cid, "flags", (int)b->cflags,
			"user_agent", &ua, "received", &rcv, "path", &path, "socket",
			&sock, "instance", &inst, "ruid", &ruid, "reg_id", (int)b->reg_id,
			"last_modified", (int)b->modified);
}

static void aor_rpc_show(rpc_t *rpc, void *c)
{
	aor_binding_t *v[RPC_SHOW_MAX];
	char buf[1100];
	str arg, tname = STR_NULL, key;
	aor_table_t *t;
	aor_rec_t rec;
	uint32_t hash;
	void *h, *arr;
	time_t now = aor_now();
	int n, i;

	n = rpc->scan(c, "S*S", &arg, &tname);
	if(n < 1) {
		rpc->fault(c, 400, "Usage: aor.show AOR [table]");
		return;
	}
	if(n < 2)
		tname.len = 0;
	if((t = rpc_table(rpc, c, &tname)) == NULL)
		return;
	if(rpc_key(&arg, buf, &key) < 0) {
		rpc->fault(c, 400, "Malformed AoR");
		return;
	}
	hash = aor_hash(&key);
	aor_table_lock(t, hash);
	aor_table_find(t, hash, &key, &rec);
	n = rec.n ? aor_rec_copy(&rec, now, v, RPC_SHOW_MAX) : 0;
	aor_table_unlock(t, hash);
	if(n < 0) {
		rpc->fault(c, 500, "Out of memory");
		return;
	}
	if(n == 0) {
		rpc->fault(c, 404, "AoR not found: %.*s", key.len, key.s);
		return;
	}
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "Sd[", "aor", &key, "count", n, "bindings", &arr);
	for(i = 0; i < n; i++)
		add_binding(rpc, c, arr, v[i], now);
}

static void aor_rpc_count(rpc_t *rpc, void *c)
{
	str tname = STR_NULL;
	aor_table_t *t;
	void *h;

	if(rpc->scan(c, "*S", &tname) < 1)
		tname.len = 0;
	if((t = rpc_table(rpc, c, &tname)) == NULL)
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

	if(rpc->scan(c, "*S", &tname) < 1)
		tname.len = 0;
	if((t = rpc_table(rpc, c, &tname)) == NULL)
		return;
	n = aor_table_flush(t, NULL, NULL);
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "Sd", "table", &t->name, "removed", (int)n);
}

static void aor_rpc_rm(rpc_t *rpc, void *c)
{
	char buf[1100];
	str arg, tname = STR_NULL, key;
	aor_table_t *t;
	aor_rec_t rec;
	uint32_t hash;
	int n = 0;

	n = rpc->scan(c, "S*S", &arg, &tname);
	if(n < 1) {
		rpc->fault(c, 400, "Usage: aor.rm AOR [table]");
		return;
	}
	if(n < 2)
		tname.len = 0;
	n = 0;
	if((t = rpc_table(rpc, c, &tname)) == NULL)
		return;
	if(rpc_key(&arg, buf, &key) < 0) {
		rpc->fault(c, 400, "Malformed AoR");
		return;
	}
	hash = aor_hash(&key);
	aor_table_lock(t, hash);
	aor_table_find(t, hash, &key, &rec);
	while(rec.n > 0) {
		aor_rec_del(&rec, rec.link);
		n++;
	}
	aor_table_unlock(t, hash);
	if(n == 0) {
		rpc->fault(c, 404, "AoR not found: %.*s", key.len, key.s);
		return;
	}
	rpc->rpl_printf(c, "removed %d bindings of %.*s", n, key.len, key.s);
}

static const char *aor_rpc_show_doc[2] = {
		"Show the bindings of one AoR: aor.show AOR [table]", 0};
static const char *aor_rpc_count_doc[2] = {
		"Count AoRs and bindings: aor.count [table]", 0};
static const char *aor_rpc_flush_doc[2] = {
		"Remove every binding of a table: aor.flush [table]", 0};
static const char *aor_rpc_rm_doc[2] = {
		"Remove an AoR and all its bindings: aor.rm AOR [table]", 0};

/* clang-format off */
rpc_export_t aor_rpc_cmds[] = {
	{"aor.show", aor_rpc_show, aor_rpc_show_doc, 0},
	{"aor.count", aor_rpc_count, aor_rpc_count_doc, 0},
	{"aor.flush", aor_rpc_flush, aor_rpc_flush_doc, 0},
	{"aor.rm", aor_rpc_rm, aor_rpc_rm_doc, 0},
	{0, 0, 0, 0}
};
/* clang-format on */
