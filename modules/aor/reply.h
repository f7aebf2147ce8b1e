/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * REGISTER replies: the 200 OK (every current binding with its expires,
 * Date, Path) and error replies from the one error table (status, reason,
 * P-Registrar-Error, Min-Expires, Retry-After).
 */

#ifndef AOR_REPLY_H
#define AOR_REPLY_H

#include "../../core/parser/msg_parser.h"
#include "binding.h"

/* Binds the sl module's API (mod_init). Returns 0 or -1 (logged). */
int aor_reply_init(void);

/* Adds the headers of a 200 OK listing the n bindings in b (copies) with
 * their remaining expires at now, a Date header, and path when not empty,
 * to msg's reply lumps. With gruu_host (the To URI's host; NULL: none) a
 * binding with an instance ID also gets its pub-gruu and temp-gruu (RFC
 * 5627 5.1). Returns 0 or -1 (out of pkg memory, logged). */
int aor_reply_ok_headers(sip_msg_t *msg, aor_binding_t **b, int n, time_t now,
		const str *path, const str *gruu_host);

/* Adds the headers of the error reply for err (an AOR_E_*) to msg's reply
 * lumps; min_expires goes into Min-Expires for AOR_E_TOO_BRIEF, and extra
 * (whole header lines, CRLF-terminated; NULL or empty for none) is copied
 * in as it is. Returns the SIP status code. */
int aor_reply_error_headers(
		sip_msg_t *msg, int err, long min_expires, const str *extra);

/* Sends the reply code with the reason of that code's table entry (200 for
 * success), through sl (or tm when a transaction exists). Returns 0 or -1. */
int aor_reply_send(sip_msg_t *msg, int err);

#endif /* AOR_REPLY_H */
