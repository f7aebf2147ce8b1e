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

/* lookup(table[, uri]): 1 found (R-URI rewritten, the other bindings as
 * branches), -1 not found, -2 found but no binding accepts the method,
 * -3 internal error. */
int ki_aor_lookup(sip_msg_t *msg, str *table, str *uri);

/* lookup() in table t, found already (the fixup of the script's
 * function): what ki_aor_lookup does after finding the table. */
int aor_lookup(sip_msg_t *msg, aor_table_t *t, str *uri);

/* registered(table[, uri]): 1 when the AoR has a live binding, else -1. */
int ki_aor_registered(sip_msg_t *msg, str *table, str *uri);

/* lookup_branches(table): lookup() of the R-URI and of every branch that
 * names a registered AoR. 1 when any was found, else -1. */
int ki_aor_lookup_branches(sip_msg_t *msg, str *table);

/* unregister(table, uri[, ruid]): removes the AoR's bindings (or the one
 * with ruid). 1 when something was removed, -1 bad arguments, -3 none. */
int ki_aor_unregister(sip_msg_t *msg, str *table, str *uri, str *ruid);

/* stock's lookup_to_dset (registrar API): every live binding of the AoR
 * of uri (the R-URI when NULL) added as a branch, the R-URI unchanged.
 * 1 found, -1 none, -2 method not allowed, -3 error. */
int aor_lookup_to_dset(sip_msg_t *msg, aor_table_t *t, str *uri);

#endif /* AOR_LOOKUP_H */
