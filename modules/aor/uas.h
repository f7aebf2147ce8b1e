/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The checks RFC 3261 8.2 asks of every UAS, made by save() (a registrar
 * is a UAS) before the REGISTER is processed (10.3): the method (8.2.1),
 * the Require header (8.2.2.3) and the body (8.2.3). The Request-URI
 * scheme (8.2.2.1, 416) is checked by save.c; the response itself (8.2.6:
 * To tag, Via, Call-ID, CSeq copied) is built by the sl module.
 */

#ifndef AOR_UAS_H
#define AOR_UAS_H

#include "../../core/parser/msg_parser.h"
#include "binding.h"
#include "merge.h"
#include "ops.h"

/* RFC 3261 8.2.1: 0 when msg (headers parsed) is a REGISTER, else
 * AOR_E_METHOD with *hdrs set to the Allow header the 405 carries (static
 * storage, valid until the next call in this process). */
int aor_uas_method(sip_msg_t *msg, str *hdrs);

/* RFC 3261 8.2.2.3 and 8.2.3 on msg (all headers parsed): 0, or
 * AOR_E_BAD_EXTENSION (a Require option tag we do not support; *hdrs is
 * the Unsupported header listing them), AOR_E_MEDIA_TYPE (a body that is
 * not optional; *hdrs is the Accept header, with Accept-Encoding and
 * Accept-Language when the body has a coding or language), AOR_E_BAD_MSG
 * (a Require value that is not a list of tokens) or AOR_E_TOO_LONG (more
 * unsupported tags than a reply header holds). *hdrs points to static
 * storage, valid until the next call in this process, and is empty when
 * the reply needs no header of ours. */
int aor_uas_check(sip_msg_t *msg, str *hdrs);

/* For a REGISTER req that table t refused with AOR_E_CSEQ: when the
 * bindings of its AoR are what req asked for (each Contact bound with
 * req's Call-ID, CSeq and interval less than 32 s ago, Timer F, 64*T1: how
 * long a UAC retransmits, RFC 3261 17.1.2.2; each removal gone), req
 * repeats the request that made them. Without a tm
 * transaction (a stateless registrar, 8.2.7) that is a retransmission,
 * answered as the server transaction would answer it (17.2.2): the
 * current bindings are copied into *out (valid until the next
 * aor_ops_fetch of this process) and their count returned. Within a
 * transaction (tm has absorbed the retransmissions) it is a merged
 * request (8.2.2.2): AOR_E_MERGED. Otherwise AOR_E_CSEQ, or AOR_E_NOMEM. */
int aor_uas_repeat(
		aor_table_t *t, const aor_regreq_t *req, aor_binding_t ***out);

#endif /* AOR_UAS_H */
