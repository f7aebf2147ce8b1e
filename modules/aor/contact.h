/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The fast Contact parser: the common Contact header body, one contact of
 * the plain form <uri>[;name[=value]]..., parsed into Kamailio's contact_t
 * and param_t on the caller's stack, without the core's parser, which
 * allocates and frees a dozen blocks per REGISTER. Anything else is left
 * to Kamailio's parse_contact: the fast parser agrees with it or declines. Uses only Kamailio's plain structs
 * (core/parser/contact/contact.h, parse_param.h), never struct sip_msg;
 * test/fuzz/fuzz_contact.c compares it with parse_contact.
 */

#ifndef AOR_CONTACT_H
#define AOR_CONTACT_H

#include "../../core/str.h"
#include "../../core/parser/parse_param.h"
#include "../../core/parser/contact/contact.h"

/* the most contact-params the fast parser takes */
#define AOR_FAST_PARAMS 8

/* one contact and its parameters, filled by aor_contact_fast; c.params
 * and the hooks point into p[], the strings into the body parsed */
typedef struct aor_fast_contact
{
	contact_t c;
	param_t p[AOR_FAST_PARAMS];
} aor_fast_contact_t;

/* Parses a Contact header body of one contact in the plain form
 * <uri>[;name[=token|"quoted"]]... into *fc, without allocating. Takes it
 * only when: white space (SP, HTAB, CR, LF) at most around the body and
 * around the URI inside the brackets; a URI, not empty, without '<' or
 * '"'; at most AOR_FAST_PARAMS parameters, each ';' directly followed by
 * a name of RFC 3261 token characters, optionally '=' and a non-empty
 * token not starting with a single quote, or a double-quoted string
 * without '\', CR or LF; nothing between them. Returns 1 when it took
 * the body: fc->c is then what Kamailio's parse_contact would give for
 * that body as its only contact (core/parser/contact/contact.c,
 * parse_param.c): the same name (empty), uri, len and next (NULL); params
 * in the same order (parse_params lists the last one first), each with the
 * same name, body (the content of a quoted one), type (P_Q, P_EXPIRES,
 * P_METHODS, P_RECEIVED, P_INSTANCE, P_REG_ID, P_FLAGS, P_OB or P_OTHER,
 * by case-insensitive name) and len; and the hooks q, expires, methods,
 * received, instance, reg_id and flags on the same parameters (the last of
 * a name given twice). Strings point into body, parameters into fc->p.
 * Returns 0 for any other body, *fc then undefined: the caller uses
 * parse_contact, which may accept or refuse it. test/fuzz/fuzz_contact.c
 * checks this against Kamailio's parser. */
int aor_contact_fast(str body, aor_fast_contact_t *fc);

#endif /* AOR_CONTACT_H */
