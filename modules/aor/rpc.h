/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The aor.* RPC commands (kamcmd, jsonrpcs).
 */

#ifndef AOR_RPC_H
#define AOR_RPC_H

#include "../../core/rpc.h"

extern rpc_export_t aor_rpc_cmds[];
#include "binding.h"
#include "params.h"

/* a buffer for aor_rpc_fetch's key (an AoR key is never longer than the
 * 1,024-byte URI it comes from) */
#define AOR_RPC_KEYBUF AOR_KEY_BUF

/* The common start of the per-AoR commands: scans "AOR [table]", finds the
 * AoR and copies its live bindings into v (at most max) under its slot
 * lock. Returns the count, or -1 after sending the fault (400 usage or bad
 * AoR, 404 unknown table or AoR, 500 no memory). key points into keybuf or
 * into the request. */
int aor_rpc_fetch(rpc_t *rpc, void *c, const char *usage, char *keybuf,
		str *key, aor_binding_t **v, int max);

/* Called after a command scanned its arguments: when the caller gave more,
 * sends a 400 fault naming usage and returns -1; else 0. */
int aor_rpc_no_extra(rpc_t *rpc, void *c, const char *usage);

/* aor.reginfo (rpc_reginfo.c) */
extern rpc_export_t aor_reginfo_rpc_cmds[];

#endif /* AOR_RPC_H */
