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
 * to Kamailio's parse_contact. Uses only Kamailio's plain structs
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

/* Parses the Contact header body of one plain contact
 * "<uri>[;name[=token|"quoted"]]..." (white space around the body only,
 * at most AOR_FAST_PARAMS parameters) into *fc. Returns 1 when it took the
 * body: then fc->c's uri, params (each name, body and type) and hooks q,
 * expires, methods, received, instance, reg_id and flags hold what
 * parse_contact would give, pointing into body and fc->p. Returns 0 for
 * any other body, *fc then undefined: the caller must use the core's
 * parse_contact. Allocates nothing; never fails otherwise. */
int aor_contact_fast(str body, aor_fast_contact_t *fc);

#endif /* AOR_CONTACT_H */
