/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * RFC 5627 GRUUs as text (see gruu.h). The seal of a temporary GRUU:
 *
 *   plain = version(1) | id(8) | cseq(4) | callid tag(4) | AoR key
 *   tag   = SipHash-1-3(k_mac, plain)                       (8 bytes)
 *   box   = plain XOR SipHash-1-3(k_enc, tag | block number) per 8 bytes
 *   user  = "tgruu." base32(tag | box)
 *
 * Opening recomputes the keystream from the tag, then the tag from the
 * plaintext, and accepts only an equal tag. Pure: no SIP parser, no struct
 * sip_msg.
 */

#include <string.h>
#include <strings.h>

#include "sys.h"
#include "hash.h"
#include "gruu.h"

#define SEAL_VERSION 1
#define PLAIN_FIXED 17 /* version, id, cseq, callid tag */
#define TAG_LEN 8

/* the keys; fixed until aor_gruu_init (unit tests) */
static unsigned char k_mac[AOR_HASH_KEY_LEN] = "aor-gruu-mac-key";
static unsigned char k_enc[AOR_HASH_KEY_LEN] = "aor-gruu-enc-key";
static unsigned char k_cid[AOR_HASH_KEY_LEN] = "aor-gruu-cid-key";

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static void put64le(unsigned char *p, uint64_t v)
{
	int i;

	for(i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for(i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for(i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* a 16-byte key for label from the secret: two SipHash-1-3 outputs under
 * public keys that differ by label and half */
static void derive(
		unsigned char *out, char label, const unsigned char *s, size_t len)
{
	unsigned char k[AOR_HASH_KEY_LEN] = "aor-gruu-derive-";

	k[14] = (unsigned char)label;
	k[15] = 0;
	put64le(out, aor_siphash13(k, s, len));
	k[15] = 1;
	put64le(out + 8, aor_siphash13(k, s, len));
}

void aor_gruu_init(const char *secret, size_t len)
{
	unsigned char r[AOR_HASH_KEY_LEN];
	const unsigned char *s = (const unsigned char *)secret;

	if(len == 0) {
		aor_hash_random_key(r, "temporary GRUU key");
		s = r;
		len = sizeof(r);
	}
	derive(k_mac, 'm', s, len);
	derive(k_enc, 'e', s, len);
	derive(k_cid, 'c', s, len);
}

uint32_t aor_gruu_callid_tag(const str *callid)
{
	return (uint32_t)aor_siphash13(k_cid, callid->s, (size_t)callid->len);
}

/* XORs n bytes at p with the keystream of tag */
static void keystream(unsigned char *p, int n, const unsigned char *tag)
{
	unsigned char in[TAG_LEN + 4], ks[8];
	uint32_t blk;
	int i;

	memcpy(in, tag, TAG_LEN);
	for(blk = 0; n > 0; blk++) {
		put_be(in + TAG_LEN, blk, 4);
		put64le(ks, aor_siphash13(k_enc, in, sizeof(in)));
		for(i = 0; i < 8 && n > 0; i++, n--)
			*p++ ^= ks[i];
	}
}

static int b32_len(int bytes)
{
	return (bytes * 8 + 4) / 5;
}

int aor_gruu_temp_user_len(int aor_len)
{
	return (int)AOR_GRUU_TEMP_PREFIX_LEN
		   + b32_len(TAG_LEN + PLAIN_FIXED + aor_len);
}

static char *b32_put(char *p, const unsigned char *s, int n)
{
	uint32_t acc = 0;
	int bits = 0, i;

	for(i = 0; i < n; i++) {
		acc = acc << 8 | s[i];
		bits += 8;
		while(bits >= 5) {
			bits -= 5;
			*p++ = b32[(acc >> bits) & 31];
		}
	}
	if(bits > 0)
		*p++ = b32[(acc << (5 - bits)) & 31];
	return p;
}

static int b32_val(char c)
{
	if(c >= 'a' && c <= 'z')
		return c - 'a';
	if(c >= 'A' && c <= 'Z')
		return c - 'A';
	if(c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/* decodes n base32 characters into out (room for n * 5 / 8 bytes);
 * returns the byte count, or -1 on a foreign character or a
 * non-canonical end (a dangling character, or nonzero pad bits) */
static int b32_get(const char *s, int n, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0, k = 0, i, v;

	for(i = 0; i < n; i++) {
		if((v = b32_val(s[i])) < 0)
			return -1;
		acc = acc << 5 | (uint32_t)v;
		bits += 5;
		if(bits >= 8) {
			bits -= 8;
			out[k++] = (unsigned char)(acc >> bits);
		}
	}
	if(bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return k;
}

/* the largest box: a tag, the fixed fields and the longest AoR key */
#define BOX_MAX (TAG_LEN + PLAIN_FIXED + AOR_GRUU_AOR_MAX)

int aor_gruu_temp_user(const aor_gruu_temp_t *t, char *buf)
{
	unsigned char box[BOX_MAX], *plain = box + TAG_LEN;
	int n = PLAIN_FIXED + t->aor.len;
	char *p = buf;

	if(TAG_LEN + n > BOX_MAX)
		return 0;
	plain[0] = SEAL_VERSION;
	put_be(plain + 1, t->id, 8);
	put_be(plain + 9, t->cseq, 4);
	put_be(plain + 13, t->callid, 4);
	memcpy(plain + PLAIN_FIXED, t->aor.s, t->aor.len);
	put64le(box, aor_siphash13(k_mac, plain, (size_t)n));
	keystream(plain, n, box);
	memcpy(p, AOR_GRUU_TEMP_PREFIX, AOR_GRUU_TEMP_PREFIX_LEN);
	p = b32_put(p + AOR_GRUU_TEMP_PREFIX_LEN, box, TAG_LEN + n);
	return (int)(p - buf);
}

int aor_gruu_temp_open(
		const str *user, char *aorbuf, int aorsize, aor_gruu_temp_t *t)
{
	unsigned char box[BOX_MAX], *plain = box + TAG_LEN, want[TAG_LEN];
	int n, k, diff = 0, i;

	n = user->len - (int)AOR_GRUU_TEMP_PREFIX_LEN;
	if(n < b32_len(TAG_LEN + PLAIN_FIXED) || n > BOX_MAX * 8 / 5
			|| strncasecmp(
					   user->s, AOR_GRUU_TEMP_PREFIX, AOR_GRUU_TEMP_PREFIX_LEN)
					   != 0)
		return -1;
	k = b32_get(user->s + AOR_GRUU_TEMP_PREFIX_LEN, n, box);
	if(k < TAG_LEN + PLAIN_FIXED)
		return -1;
	k -= TAG_LEN;
	keystream(plain, k, box);
	put64le(want, aor_siphash13(k_mac, plain, (size_t)k));
	for(i = 0; i < TAG_LEN; i++)
		diff |= want[i] ^ box[i];
	if(diff != 0 || plain[0] != SEAL_VERSION || k - PLAIN_FIXED > aorsize)
		return -1;
	t->id = get_be(plain + 1, 8);
	t->cseq = (uint32_t)get_be(plain + 9, 4);
	t->callid = (uint32_t)get_be(plain + 13, 4);
	t->aor.s = aorbuf;
	t->aor.len = k - PLAIN_FIXED;
	memcpy(aorbuf, plain + PLAIN_FIXED, t->aor.len);
	return 0;
}

str aor_gruu_instance_bare(str inst)
{
	if(inst.len >= 2 && inst.s[0] == '"' && inst.s[inst.len - 1] == '"') {
		inst.s++;
		inst.len -= 2;
	}
	if(inst.len >= 2 && inst.s[0] == '<' && inst.s[inst.len - 1] == '>') {
		inst.s++;
		inst.len -= 2;
	}
	return inst;
}

int aor_gruu_instance_eq(const str *gr, const str *inst)
{
	str a = aor_gruu_instance_bare(*gr), b = aor_gruu_instance_bare(*inst);

	return a.len > 0 && a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

int aor_gruu_pub_len(const str *aor, const str *host, const str *inst)
{
	int n = 4 + aor->len + 4 + aor_gruu_instance_bare(*inst).len;

	if(memchr(aor->s, '@', aor->len) == NULL)
		n += 1 + host->len;
	return n;
}

char *aor_gruu_pub_put(
		char *p, const str *aor, const str *host, const str *inst)
{
	str bare = aor_gruu_instance_bare(*inst);

	memcpy(p, "sip:", 4);
	memcpy(p + 4, aor->s, aor->len);
	p += 4 + aor->len;
	if(memchr(aor->s, '@', aor->len) == NULL) {
		*p++ = '@';
		memcpy(p, host->s, host->len);
		p += host->len;
	}
	memcpy(p, ";gr=", 4);
	memcpy(p + 4, bare.s, bare.len);
	return p + 4 + bare.len;
}
