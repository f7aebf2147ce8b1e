/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * SIP URIs as the module reads them itself: RFC 3261 19.1.4 equality (to
 * match a Contact to its binding), the plain-URI fast path, the user and
 * host as Kamailio's parse_uri finds them, and the AoR key built from a URI
 * and the key options. Pure: no Kamailio parser, no globals.
 */

#ifndef AOR_URI_H
#define AOR_URI_H

#include "../../core/str.h"

/* 1 when s is exactly a dotted-quad IPv4 address of decimal parts 0..255
 * without leading zeros, its bytes in out (network order); 0 otherwise
 * (the caller then asks the full parser) */
int aor_ipv4_parse(const str *s, unsigned char out[4]);

/* 1 when uri is a plain "sip:[user@]host[:port][;params]" (or sips:) of
 * unescaped user characters, a host name or IPv4 address, and parameters
 * of RFC 3261 paramchars, each non-empty: then *user (len 0 when absent)
 * and *host point into it, as Kamailio's parse_uri would give them (it
 * also takes a URI that ends inside a ";maddr=" parameter, from ";ma" on,
 * on which parse_uri fails; see aor_uri_split). 0 for anything else, which
 * the caller hands to the full parser. Cheaper than parse_uri by an order
 * of magnitude; used on the hot path of save() and lookup(). */
int aor_uri_simple(const str *uri, str *user, str *host);

/* The value of hex digit c (either case), or -1. */
static inline int aor_hexval(int c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if(c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3261 19.1.4: 1 when SIP or SIPS URIs a and b are equivalent, 0 when
 * not, -1 when either cannot be parsed or names a uri-parameter twice
 * (19.1.1 forbids it; then callers compare bytes). Symmetric, and
 * reflexive on every URI it can parse. */
int aor_uri_equal(const str *a, const str *b);

/* The user and host of uri exactly as Kamailio 5.6's parse_uri()
 * (core/parser/parse_uri.c) gives them, with the core's defaults
 * phone2tel=1 and uri_host_extra_chars="", without its other fields:
 * 0 and *user, *host pointing into uri (len 0 when absent, never NULL),
 * or -1 exactly when parse_uri fails. So sip:, sips:, tel: and urn: (any
 * case), user:password@ (the password is not in *user), [IPv6] hosts with
 * their brackets, ports, parameters and headers, and parse_uri's readings
 * of odd input: an '@' in the parameters or headers makes all before it
 * the user part; a tel: URI's number (or its host, after an '@') is the
 * user and its host is empty; with user=phone the user ends at its first
 * ';'; a URI that ends inside ";maddr=" fails. Escapes stay as they are.
 * Checked against the real parse_uri by test/fuzz/fuzz_aorkey.c. */
int aor_uri_split(const str *uri, str *user, str *host);

/* the longest URI aor_key_build takes; a key is never longer than its URI,
 * so a buffer of this many bytes always holds one */
#define AOR_KEY_URI_MAX 1024

/* how a URI becomes an AoR key (the modparams of the same names) */
typedef struct aor_key_opts
{
	int use_domain;		/* key "user@host"; 0: "user" */
	int case_sensitive; /* 0: the user is folded to lower case */
	str realm_prefix;	/* stripped from the host's start (with use_domain)
						 * when the host is longer, as stock extract_aor */
} aor_key_opts_t;

/* Builds the AoR key of uri into buf (buflen bytes; the key is not
 * NUL-terminated) and points *key at it. The user and host are those of
 * aor_uri_simple, else of aor_uri_split: those of Kamailio's parse_uri for
 * every URI it takes, and a parse failure only where parse_uri fails too
 * (aor_uri_simple's ";ma" URIs get a key). The user is unescaped (RFC 3261
 * 10.3 step 5), except that escapes of bytes that are not printable ASCII
 * (0x00-0x20, 0x7f-0xff) and of '%' stay escaped, in upper-case hex, so
 * that two URIs equal by RFC 3261 19.1.4 give one key; with case_sensitive
 * 0 it is folded to lower case (ASCII only, the hex digits of those escapes
 * too). With use_domain and a host (a tel: URI has none), '@' and the host
 * folded to lower case follow.
 * Returns 0, or AOR_E_BAD_AOR when uri is empty or longer than
 * AOR_KEY_URI_MAX, neither parser takes it, there is no user, the user has
 * a '%' not followed by two hex digits, or a raw byte 0x00-0x20 or 0x7f is
 * in the user, or in the host with use_domain (RFC 3261 25.1 allows none of
 * them unescaped; so a key never holds a NUL, a control byte or a space),
 * or AOR_E_TOO_LONG when the key does not fit in buflen (never when buflen
 * is at least uri->len). buf is scratch on failure. The same results as
 * the glue's aor_key_from_uri with those options, but for the raw bytes
 * rule, which that one lacks. */
int aor_key_build(const str *uri, const aor_key_opts_t *o, char *buf,
		int buflen, str *key);

#endif /* AOR_URI_H */
