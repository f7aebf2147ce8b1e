/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * RFC 3680 registration information (application/reginfo+xml): one AoR's
 * bindings rendered as a "full" document, and such a document read back
 * into binding inputs. What RFC 3680 has no attribute for (Path, received,
 * User-Agent, socket, flags, methods, absolute times) travels in extension
 * elements of AOR_REGINFO_EXT_NS inside <contact>, which the RFC 3680
 * schema admits (xs:any namespace="##other") and other readers ignore.
 */

#ifndef AOR_REGINFO_H
#define AOR_REGINFO_H

#include <stdint.h>
#include <time.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include "../../core/str.h"
#include "binding.h"

#define AOR_REGINFO_NS "urn:ietf:params:xml:ns:reginfo"
#define AOR_REGINFO_EXT_NS "urn:x-kamailio-aor:params:xml:ns:binding"
#define AOR_REGINFO_CTYPE "application/reginfo+xml"

/* Renders the n bindings v (copies of one AoR, all live at now) of the
 * AoR key aor ("user" or "user@domain") as an RFC 3680 document of the
 * given version, state "full": <registration aor="sip:KEY"> in state
 * "active" (n > 0) or "init" (n == 0), one <contact> per binding with its
 * ruid as id, the seconds left as expires (none for a permanent binding),
 * q, callid, cseq, the URI, +sip.instance (exactly as the binding holds
 * it) and reg-id as <unknown-param>.
 * Bytes that XML 1.0 cannot carry (control characters, invalid UTF-8)
 * are replaced by '?' where the field is shown, and the field's exact
 * bytes follow in hex in an <aor:raw field="NAME"> extension element,
 * which aor_reginfo_parse applies, so the round trip is exact. On success *out is a NUL-terminated buffer of *len
 * bytes, freed with aor_reginfo_free(), and 0 is returned; otherwise
 * AOR_E_NOMEM or AOR_E_INTERNAL and *out is NULL. Needs no lock. */
int aor_reginfo_render(const str *aor, aor_binding_t *const *v, int n,
		uint32_t version, time_t now, char **out, int *len);

/* Frees a document returned by aor_reginfo_render (NULL is ignored). */
void aor_reginfo_free(char *doc);

/* scratch a writer needs: any field, or the longest one in hex */
#define AOR_REGINFO_SCRATCH (2 * AOR_BINDING_MAX_DATA + 16)

/* Starts a <reginfo> element of the given version, state "full", with the
 * namespace declarations the registrations need, on w (which the caller
 * set up and ends the element on). Returns 0 or AOR_E_INTERNAL (a write
 * failed). */
int aor_reginfo_write_start(xmlTextWriterPtr w, uint32_t version);

/* Writes one <registration> of the AoR key aor with its n bindings v, as
 * aor_reginfo_render does, on w inside a <reginfo> element; scratch holds
 * AOR_REGINFO_SCRATCH bytes. Returns 0, or AOR_E_INTERNAL when a write
 * failed (then w is unusable) or an argument is bad. */
int aor_reginfo_write_reg(xmlTextWriterPtr w, char *scratch, const str *aor,
		aor_binding_t *const *v, int n, time_t now);

/* Called once per active contact; the strings of in point into the
 * parsed document and are valid only during the call. in->hash and
 * in->sock are 0 (the caller knows the table and the socket), in->id is
 * the ruid of the contact id (0 when the id is not one), in->expires is
 * absolute (0: permanent): our expires-at element, else aor_now() plus
 * the expires attribute. A negative return stops the parse and is
 * returned by it. */
typedef int (*aor_reginfo_cb)(const aor_binding_in_t *in, void *arg);

/* Parses the RFC 3680 document buf[0..len) and calls cb for each contact
 * in state "active" of each registration, in document order. The AoR key
 * is the registration's aor after "sip:", as written (a caller loading
 * another producer's document normalises it). The whole document is
 * checked before the first call, so cb sees all of it or nothing.
 * Elements of other namespaces are extensions and skipped (RFC 3680 5.4,
 * xs:any ##other). Rejects with AOR_E_INTERNAL what is not well-formed,
 * has a DTD, has a root other than reginfo of AOR_REGINFO_NS, or has a
 * name of that namespace the schema does not put where it stands (a
 * contact's unknown child: AOR_E_BAD_CONTACT); AOR_E_BAD_AOR,
 * AOR_E_BAD_CONTACT, AOR_E_BAD_EXPIRES, AOR_E_BAD_Q, AOR_E_BAD_CALLID or
 * AOR_E_BAD_CSEQ for bad values; AOR_E_TOO_LONG when a contact's strings
 * exceed a binding. Never loads anything from the network or expands an
 * entity. Returns the number of calls made, or the negative error (of cb
 * too). */
int aor_reginfo_parse(const char *buf, int len, aor_reginfo_cb cb, void *arg);

/* aor_reginfo_parse for one <registration> element reg of a tree libxml2
 * built (a streaming reader's expanded node): checks all of it, then
 * calls cb for each active contact. Leaves the tree as it is. Returns the
 * number of calls or the negative error, as aor_reginfo_parse. */
int aor_reginfo_parse_reg(xmlNodePtr reg, aor_reginfo_cb cb, void *arg);

#endif /* AOR_REGINFO_H */
