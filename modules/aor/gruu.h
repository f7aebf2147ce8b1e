/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * RFC 5627 GRUUs as text. A public GRUU is the AoR with the instance ID in
 * its gr parameter, as the stock registrar writes it. A temporary GRUU's
 * user part is "tgruu." and a sealed box (RFC 5627 5.4 leaves its form to
 * the registrar; the point of it is to hide the AoR): the AoR key, the
 * binding's id, a tag of its Call-ID and the CSeq of the REGISTER,
 * encrypted and authenticated under a key of this module (SIV: the 64-bit
 * SipHash-1-3 tag of the plaintext under one key is the nonce of a
 * SipHash-1-3 counter keystream under another). So lookup() reads the AoR
 * out of the GRUU itself, needs no index, and a forged or mangled one
 * opens to nothing.
 * Pure: no SIP parser, no struct sip_msg.
 */

#ifndef AOR_GRUU_H
#define AOR_GRUU_H

#include <stddef.h>
#include <stdint.h>
#include "../../core/str.h"

/* the user part of a temporary GRUU starts with it (RFC 5627's examples) */
#define AOR_GRUU_TEMP_PREFIX "tgruu."
#define AOR_GRUU_TEMP_PREFIX_LEN (sizeof(AOR_GRUU_TEMP_PREFIX) - 1)

/* the longest AoR key a temporary GRUU holds (above any key a URI of
 * uri.h's AOR_KEY_URI_MAX bytes gives) */
#define AOR_GRUU_AOR_MAX 1200

/* Sets the process-wide key temporary GRUUs are sealed with: derived from
 * the len bytes of secret, or drawn at random when len is 0 (then a
 * temporary GRUU lives only as long as this start). mod_init, before the
 * fork, as aor_hash_init. Until called, a fixed key (unit tests). */
void aor_gruu_init(const char *secret, size_t len);

/* what a temporary GRUU names */
typedef struct aor_gruu_temp
{
	str aor;		 /* the AoR key, as the store has it */
	uint64_t id;	 /* the binding's id */
	uint32_t cseq;	 /* CSeq of the REGISTER it was minted for */
	uint32_t callid; /* aor_gruu_callid_tag of the binding's Call-ID */
} aor_gruu_temp_t;

/* A 32-bit keyed tag of a Call-ID: a temporary GRUU minted under one
 * Call-ID does not match a binding refreshed with another (RFC 5627 5.1:
 * a new Call-ID invalidates the earlier temporary GRUUs). */
uint32_t aor_gruu_callid_tag(const str *callid);

/* Bytes of the user part aor_gruu_temp_user writes for an AoR key of
 * aor_len bytes. */
int aor_gruu_temp_user_len(int aor_len);

/* Writes the user part of the temporary GRUU of t ("tgruu." and lower-case
 * base32, no padding) into buf, which has room for
 * aor_gruu_temp_user_len(t->aor.len) bytes. Returns its length, or 0 when
 * the AoR key is longer than any key of a URI (AOR_GRUU_AOR_MAX). The same
 * t gives the same text; another cseq or Call-ID gives another. */
int aor_gruu_temp_user(const aor_gruu_temp_t *t, char *buf);

/* Opens a user part made by aor_gruu_temp_user under the current key:
 * returns 0 with *t filled (t->aor points into aorbuf, aorsize bytes), or
 * -1 when user is none of ours: no "tgruu." prefix, a byte that is not
 * base32 (either case), a length no seal has, a tag that does not match
 * (forged, mangled, or sealed under another key), or an AoR longer than
 * aorsize. Reads no more than user->len bytes. */
int aor_gruu_temp_open(
		const str *user, char *aorbuf, int aorsize, aor_gruu_temp_t *t);

/* inst without the quotes and the <> around it (a +sip.instance value as
 * the Contact parser hands it over: the gr parameter carries it bare) */
str aor_gruu_instance_bare(str inst);

/* 1 when gr, the value of a public GRUU's gr parameter, names the
 * instance inst of a binding (both compared bare, byte for byte, as stock
 * reg_cmp_instances), 0 otherwise (also when either is empty). */
int aor_gruu_instance_eq(const str *gr, const str *inst);

/* Bytes aor_gruu_pub_put writes. */
int aor_gruu_pub_len(const str *aor, const str *host, const str *inst);

/* Writes the public GRUU of instance inst of the AoR key aor as stock
 * registrar's build_contact: "sip:" aor (with "@" host when the key has no
 * domain, use_domain 0) ";gr=" and the bare instance. Returns the byte
 * after it. */
char *aor_gruu_pub_put(
		char *p, const str *aor, const str *host, const str *inst);

#endif /* AOR_GRUU_H */
