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

#include "binding.h"
#include "ops.h"
#include "params.h"

extern rpc_export_t aor_rpc_cmds[];

/* the most bytes of an argument a fault message repeats */
#define ECHO_MAX 64
#define ECHO(n) ((n) > ECHO_MAX ? ECHO_MAX : (n))

/* a buffer for aor_rpc_fetch's key (an AoR key is never longer than the
 * 1,024-byte URI it comes from) */
#define AOR_RPC_KEYBUF AOR_KEY_BUF

/* The table named name (the default "location" when name is NULL or
 * empty), or NULL after a 404 fault. */
aor_table_t *aor_rpc_table(rpc_t *rpc, void *c, str *name);

/* The arguments "AOR [table]" and nothing more: the table (NULL after a
 * 400 or 404 fault) and the AoR's key (a SIP URI, or a key as stored) in
 * key, pointing into keybuf (AOR_RPC_KEYBUF bytes) or into the request. */
aor_table_t *aor_rpc_aor_arg(rpc_t *rpc, void *c, const char *usage,
		char *keybuf, str *key);

/* Adds binding b (a copy) as a struct to the RPC array arr, its expires
 * counted from now. */
void aor_rpc_add_binding(
		rpc_t *rpc, void *c, void *arr, const aor_binding_t *b, time_t now);

/* A page of copies (rpc_list.c): the live bindings of whole slots,
 * copied under each slot's lock into this process's page buffer (at most
 * AOR_RPC_PAGE_MAX bytes, reused by the next page), the bindings of a
 * record adjacent. aor.list and ul.dump format a page after the release. */
typedef struct aor_rpc_page
{
	size_t len; /* bytes of the page buffer in use */
	size_t est; /* estimated reply bytes of aor.list */
	long cur;	/* offset of the record being copied, or -1 */
	int naors;
	int dropped; /* bindings left out: AOR_RPC_PAGE_MAX reached */
	int nomem;
	time_t now;
	const char *filter; /* NUL-terminated, or NULL */
	int filter_len;
	int glob; /* filter is an fnmatch(3) pattern, else a prefix */
} aor_rpc_page_t;

#define AOR_RPC_PAGE_MAX (256 * 1024)

/* Makes p an empty page of the bindings live at now, with no filter. */
void aor_rpc_page_init(aor_rpc_page_t *p, time_t now);

/* One aor_table_scan call from cursor with max_records 1 (the next slot
 * that holds a record, or AOR_SCAN_VISITS empty ones): appends the live
 * bindings of what it visits to p, one slot lock held at a time. Returns
 * the next cursor (0 at the end). Sets p->nomem when the buffer could not
 * grow, and counts in p->dropped what did not fit in AOR_RPC_PAGE_MAX. */
uint64_t aor_rpc_page_scan(aor_table_t *t, aor_rpc_page_t *p, uint64_t cursor);

/* The record at *off of page p: its bindings (copies in the page buffer,
 * valid until the next page is filled) into v (at most max), *off moved
 * past it. Returns their number, or 0 past the last record. */
int aor_rpc_page_rec(
		const aor_rpc_page_t *p, size_t *off, aor_binding_t **v, int max);

/* aor.list (rpc_list.c) */
void aor_rpc_list(rpc_t *rpc, void *c);
extern const char *aor_rpc_list_doc[2];

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

/* usrloc's ul.* commands, with stock's names, arguments and replies
 * (rpc_ul.c) */
extern rpc_export_t aor_ul_rpc_cmds[];

#endif /* AOR_RPC_H */
