/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * lookup(), registered(), unregister() and lookup_branches().
 */

#ifndef AOR_LOOKUP_H
#define AOR_LOOKUP_H

#include "../../core/parser/msg_parser.h"
#include "store.h"

/* Orders v[0..n) (one AoR's bindings) as stock usrloc orders a record's
 * contacts: highest q first, equal q in the order they were added; with
 * desc_time_order the last registered first. */
void aor_lookup_sort(aor_binding_t **v, int n);

/* lookup(table[, uri]): 1 found (R-URI rewritten, the other bindings as
 * branches), -1 not found, -2 found but no binding accepts the method,
 * -3 internal error. */
int ki_aor_lookup(sip_msg_t *msg, str *table, str *uri);

/* lookup() in table t, found already (the fixup of the script's
 * function): what ki_aor_lookup does after finding the table. */
int aor_lookup(sip_msg_t *msg, aor_table_t *t, str *uri);

/* registered(table[, uri]): 1 when the AoR has a live binding (its
 * fields then go to xavp_rcd, regfn.h), else -1. */
int ki_aor_registered(sip_msg_t *msg, str *table, str *uri);

/* lookup_to_dset(table[, uri]): lookup() that leaves the R-URI alone and
 * makes every binding a branch (none without append_branches, as stock);
 * returns as lookup(). */
int ki_aor_lookup_to_dset(sip_msg_t *msg, str *table, str *uri);

/* lookup_to_dset() in table t, found already (the fixup). */
int aor_lookup_to_dset(sip_msg_t *msg, aor_table_t *t, str *uri);

/* lookup_branches(table): lookup() of the R-URI and of every branch that
 * names a registered AoR. 1 when any was found, else -1. */
int ki_aor_lookup_branches(sip_msg_t *msg, str *table);

/* unregister(table, uri[, ruid]): removes the AoR's bindings (or the one
 * with ruid). 1 when something was removed, -1 bad arguments, -3 none. */
int ki_aor_unregister(sip_msg_t *msg, str *table, str *uri, str *ruid);

#endif /* AOR_LOOKUP_H */
