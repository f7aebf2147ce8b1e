/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The stock registrar's contact profiles: reg_fetch_contacts(table, uri,
 * profile) copies an AoR's live bindings into a named profile of this
 * process, $ulc(profile=>attr)[i] reads them, reg_free_contacts(profile)
 * forgets them. The profile "exp" holds the binding of the running
 * event_route[usrloc:contact-expired] (events.c fills it). Profiles live in
 * process memory; a profile holds at most AOR_REC_MAX bindings.
 */

#ifndef AOR_ULC_H
#define AOR_ULC_H

#include "../../core/parser/msg_parser.h"
#include "../../core/pvar.h"
#include "store.h"

/* reg_fetch_contacts(): copies the live bindings of uri's AoR in t into
 * profile, replacing what it held. 1 when the AoR has bindings, -1 when
 * it has none, the URI has no AoR, or memory ran out (the profile then
 * holds nothing). */
int aor_ulc_fetch(sip_msg_t *msg, aor_table_t *t, str *uri, str *profile);

/* KEMI reg_fetch_contacts(table, uri, profile): as aor_ulc_fetch, -1 also
 * for an unknown table. */
int ki_aor_reg_fetch_contacts(
		sip_msg_t *msg, str *table, str *uri, str *profile);

/* reg_free_contacts(profile): forgets what profile holds. 1, or -1 when
 * no profile can be had (memory). */
int ki_aor_reg_free_contacts(sip_msg_t *msg, str *profile);

/* Makes profile hold only a copy of b, a binding of table (the expired
 * event's "exp"). 0, or -1 when memory ran out (the profile then holds
 * nothing). */
int aor_ulc_set_one(
		const str *profile, const str *table, const aor_binding_t *b);

/* The $ulc pseudo-variable: parses "profile=>attr", reads (set is a no-op,
 * as stock's). */
int aor_ulc_pv_parse(pv_spec_t *sp, str *in);
int aor_ulc_pv_get(sip_msg_t *msg, pv_param_t *param, pv_value_t *res);
int aor_ulc_pv_set(sip_msg_t *msg, pv_param_t *param, int op, pv_value_t *val);

#endif /* AOR_ULC_H */
