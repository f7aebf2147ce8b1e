/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The stock registrar's script features beside save() and lookup():
 * xavp_rcd (a binding's fields for the script), xavp_cfg (per-request
 * overrides), path_use_received, the expires variation, the reply held
 * by save() flag 0x02 for reg_send_reply(), and registered() with its
 * match flags.
 */

#ifndef AOR_REGFN_H
#define AOR_REGFN_H

#include "../../core/parser/msg_parser.h"
#include "binding.h"
#include "merge.h"
#include "store.h"

/* Adds b's fields (ruid, contact, received, expires, path; those not
 * masked by xavp_rcd_mask, received and path only when set) to the
 * xavp_rcd xavp of the message's list, creating it when absent, as stock
 * registrar's xavp_rcd_helper (lookup.c). Nothing when xavp_rcd is unset. */
void aor_regfn_rcd(const aor_binding_t *b, time_t now);

/* Starts a save() of msg with flags: reads the xavp_cfg overrides
 * (expires, q, max_contacts) of this request, notes flag 0x08 (no
 * variation) and where the reply headers save() adds will begin. */
void aor_regfn_save_begin(sip_msg_t *msg, int flags);

/* The expiry of one contact (aor_expires_vary) with this request's
 * xavp_cfg expires, the configured ranges and a random draw. */
int aor_regfn_expires(long long param, long long hdr, long long *out);

/* The xavp_cfg q of this request: 0 none, 1 with *q set, or AOR_E_BAD_Q
 * when it is outside 0..1000 (stock: 400). */
int aor_regfn_q(int16_t *q);

/* The limits of this request: aor_limits, with the xavp_cfg max_contacts
 * when set (0: no limit of the operator's). */
const aor_limits_t *aor_regfn_limits(void);

/* The socket the xavp_cfg child socket ("proto:host:port", a local one)
 * names when the message has flag sock_flag, as stock's get_sock_val; NULL
 * otherwise (logged when it is not a local socket). */
struct socket_info *aor_regfn_socket(sip_msg_t *msg);

/* path_use_received: the unescaped received parameter of the first Path
 * URI into buf (size bytes), *out pointing at it. Returns 1 when found,
 * 0 when not (or path_use_received is 0), AOR_E_TOO_LONG, or
 * AOR_E_BAD_MSG for a bad %-escape. */
int aor_regfn_path_received(const str *path, char *buf, int size, str *out);

/* save() with flag 0x02 keeps its outcome (err 0 or an AOR_E_*, min for
 * Min-Expires) for reg_send_reply() on the same message. Without prepared
 * (flag 0x10) the reply headers save() added are taken off the message
 * and kept for reg_send_reply(), as stock keeps its Contact buffer; with
 * it they stay, and an error reply's are added now. */
void aor_regfn_hold(
		sip_msg_t *msg, int err, long min, const str *extra, int prepared);

/* reg_send_reply(): sends the reply the last save() with flag 0x02 held
 * for msg. 1 sent, -1 nothing held for msg or the send failed. */
int ki_aor_reg_send_reply(sip_msg_t *msg);

/* registered(table[, uri[, match_option[, match_action]]]) in t: 1 when
 * the AoR (uri, else the R-URI, or the To URI of a reply) has a live
 * binding that matches the xavp_cfg match_callid (match_option 1),
 * match_received (2) and match_contact (4); that binding's fields go to
 * xavp_rcd unless match_action has 2. Else -1. */
int aor_regfn_registered(
		sip_msg_t *msg, aor_table_t *t, str *uri, int match, int action);

/* KEMI registered_flags / registered_action: aor_regfn_registered of the
 * table named table; -1 when there is no such table. */
int ki_aor_registered_flags(sip_msg_t *msg, str *table, str *uri, int match);
int ki_aor_registered_action(
		sip_msg_t *msg, str *table, str *uri, int match, int action);

#endif /* AOR_REGFN_H */
