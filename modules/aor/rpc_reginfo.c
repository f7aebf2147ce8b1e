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

#include "ops.h"
#include "errors.h"
#include "reginfo.h"
#include "rpc.h"

#define REGINFO_MAX 256 /* bindings shown, as aor.show */

static void aor_rpc_reginfo(rpc_t *rpc, void *c)
{
	aor_binding_t *v[REGINFO_MAX];
	char buf[AOR_RPC_KEYBUF];
	time_t now = aor_now();
	char *doc;
	str key;
	int n, len;

	n = aor_rpc_fetch(
			rpc, c, "aor.reginfo AOR [table]", buf, &key, v, REGINFO_MAX);
	if(n < 0)
		return;
	/* a one-shot document, not a subscription's NOTIFY: version 0 */
	if(aor_reginfo_render(&key, v, n, 0, now, &doc, &len) < 0) {
		rpc->fault(c, 500, "Cannot render reginfo of %.*s",
				key.len > 64 ? 64 : key.len, key.s);
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
