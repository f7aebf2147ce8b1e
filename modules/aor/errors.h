/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Every failure a pure function can report. Functions return 0 or one of
 * these (negative); reply.c maps each to a SIP status, reason phrase and
 * P-Registrar-Error text.
 */

#ifndef AOR_ERRORS_H
#define AOR_ERRORS_H

enum aor_err
{
	AOR_OK = 0,
	AOR_E_NOMEM = -1,		 /* shared memory exhausted */
	AOR_E_TABLE_FULL = -2,	 /* max_bindings reached */
	AOR_E_TOO_MANY = -3,	 /* max_contacts reached with policy reject */
	AOR_E_TOO_BRIEF = -4,	 /* expires below min_expires */
	AOR_E_STAR = -5,		 /* Contact: * with other contacts or expires */
	AOR_E_BAD_Q = -6,		 /* q outside 0..1 */
	AOR_E_BAD_EXPIRES = -7,	 /* unparsable expires */
	AOR_E_BAD_CONTACT = -8,	 /* unparsable Contact */
	AOR_E_BAD_AOR = -9,		 /* To (or uri) unusable as an AoR */
	AOR_E_TOO_LONG = -10,	 /* a field is longer than a binding can hold */
	AOR_E_CSEQ = -11,		 /* RFC 3261 10.3 step 7: CSeq out of order */
	AOR_E_BAD_CALLID = -12,	 /* missing Call-ID */
	AOR_E_BAD_CSEQ = -13,	 /* missing or unparsable CSeq */
	AOR_E_PATH = -14,		 /* Path present but not supported by the UA */
	AOR_E_NOT_FOUND = -15,	 /* no such AoR or binding */
	AOR_E_BAD_INSTANCE = -16,/* reg-id without +sip.instance */
	AOR_E_INTERNAL = -17,	 /* a broken invariant or a parser failure */
	AOR_E_BAD_MSG = -18,	 /* headers that do not parse, truncated body */
	AOR_E_BAD_RURI = -19,	 /* Request-URI that does not parse */
	AOR_E_RURI_SCHEME = -20, /* Request-URI neither sip: nor sips: */
	AOR_E_BAD_EXTENSION = -21, /* Require names an option tag we lack */
	AOR_E_MEDIA_TYPE = -22,	 /* a body that is not optional */
	AOR_E_METHOD = -23,		 /* save() of a request other than REGISTER */
	AOR_E_MERGED = -24,		 /* a second copy of a REGISTER, in a transaction */
	AOR_E_DB = -25,			 /* db_mode 3: the database did not answer */
	AOR_E_COUNT = 26
};

#endif /* AOR_ERRORS_H */
