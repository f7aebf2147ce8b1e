/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * aor.reginfo: an AoR's state as an RFC 3680 document. The bindings are
 * copied under the slot lock, and the document is rendered after it is
 * released.
 */

#include <string.h>
#include <strings.h>

#include "../../core/rpc_lookup.h"

#include "aor_mod.h"
#include "errors.h"
#include "reginfo.h"
#include "rpc.h"

#define REGINFO_MAX 256		 /* bindings shown, as aor.show */
#define REGINFO_ARG_MAX 1024 /* longest AoR argument */

/* the AoR key of the argument: a SIP URI, or a key as stored; buf holds
 * REGINFO_ARG_MAX bytes */
static int reginfo_key(str *arg, char *buf, str *key)
{
	if(arg->len <= 0 || arg->len > REGINFO_ARG_MAX)
		return -1;
	if(arg->len >= 4 && strncasecmp(arg->s, "sip", 3) == 0
			&& aor_key_from_uri(arg, buf, key) == 0)
		return 0;
	*key = *arg;
	return 0;
}

static void aor_rpc_reginfo(rpc_t *rpc, void *c)
{
	str def = str_init("location");
	aor_binding_t *v[REGINFO_MAX];
	char buf[REGINFO_ARG_MAX];
	str arg, tname = STR_NULL, key;
	aor_table_t *t;
	aor_rec_t rec;
	uint32_t hash;
	time_t now = aor_now();
	char *doc;
	int n, len;

	n = rpc->scan(c, "S*S", &arg, &tname);
	if(n < 1) {
		rpc->fault(c, 400, "Usage: aor.reginfo AOR [table]");
		return;
	}
	if(n < 2 || tname.len == 0)
		tname = def;
	if((t = aor_table_get(&tname)) == NULL) {
		rpc->fault(c, 404, "No table named %.*s", tname.len, tname.s);
		return;
	}
	if(reginfo_key(&arg, buf, &key) < 0) {
		rpc->fault(c, 400, "Malformed AoR");
		return;
	}
	hash = aor_hash(&key);
	aor_table_lock(t, hash);
	aor_table_find(t, hash, &key, &rec);
	n = rec.n ? aor_rec_copy(&rec, now, v, REGINFO_MAX) : 0;
	aor_table_unlock(t, hash);
	if(n < 0) {
		rpc->fault(c, 500, "Out of memory");
		return;
	}
	if(n == 0) {
		rpc->fault(c, 404, "AoR not found: %.*s", key.len, key.s);
		return;
	}
	/* a one-shot document, not a subscription's NOTIFY: version 0 */
	if(aor_reginfo_render(&key, v, n, 0, now, &doc, &len) < 0) {
		rpc->fault(c, 500, "Cannot render reginfo of %.*s", key.len, key.s);
		return;
	}
	rpc->add(c, "s", doc);
	aor_reginfo_free(doc);
}

static const char *aor_rpc_reginfo_doc[2] = {
		"The bindings of one AoR as an RFC 3680 application/reginfo+xml "
		"document: aor.reginfo AOR [table]",
		0};

/* clang-format off */
rpc_export_t aor_reginfo_rpc_cmds[] = {
	{"aor.reginfo", aor_rpc_reginfo, aor_rpc_reginfo_doc, 0},
	{0, 0, 0, 0}
};
/* clang-format on */
