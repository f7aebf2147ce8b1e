/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * save(): a REGISTER applied to its record (RFC 3261 10.3), and its reply.
 */

#ifndef AOR_SAVE_H
#define AOR_SAVE_H

#include "../../core/parser/msg_parser.h"
#include "store.h"

/* save(table[, flags[, uri]]): as stock, 1 a binding inserted (or nothing
 * changed), 2 updated, 3 deleted (or Contact: *), 4 a query; -1 on failure
 * (the reply sent unless flag 0x02), -2 when max_contacts refused it. */
int ki_aor_save(sip_msg_t *msg, str *table, int flags, str *uri);

/* save() into table t, found already (the fixup of the script's
 * function): what ki_aor_save does after finding the table. */
int aor_save(sip_msg_t *msg, aor_table_t *t, int flags, str *uri);

/* The registrar API's (and KEMI's) set_q_override: the q (a string, "0"
 * to "1") every contact of the next save() of msg gets, in this process,
 * instead of its own. 1, or -1 for a bad q. */
int aor_save_set_q_override(sip_msg_t *msg, const str *q);

#endif /* AOR_SAVE_H */
