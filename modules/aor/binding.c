/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * One binding in one block, expiry arithmetic and the ruid. Pure: no SIP
 * parser, no struct sip_msg.
 */

#include <string.h>

#include "sys.h"
#include "binding.h"

size_t aor_binding_size_in(const aor_binding_in_t *in)
{
	size_t n = 0;
	int i;

	for(i = 0; i < AOR_F_COUNT; i++) {
		if(in->f[i].len < 0)
			return 0;
		n += (size_t)in->f[i].len;
	}
	if(n > AOR_BINDING_MAX_DATA)
		return 0;
	return sizeof(aor_binding_t) + n;
}

aor_binding_t *aor_binding_new(const aor_binding_in_t *in)
{
	aor_binding_t *b;
	size_t size;
	uint16_t off = 0;
	int i;

	size = aor_binding_size_in(in);
	if(size == 0)
		return NULL;
	b = AOR_ALLOC(size);
	if(b == NULL)
		return NULL;
	memset(b, 0, sizeof(*b));
	for(i = 0; i < AOR_F_COUNT; i++) {
		b->off[i] = off;
		if(in->f[i].len > 0)
			memcpy(b->data + off, in->f[i].s, in->f[i].len);
		off += (uint16_t)in->f[i].len;
	}
	b->off[AOR_F_COUNT] = off;
	b->id = in->id;
	b->version = in->version;
	b->hash = in->hash;
	aor_binding_refresh(b, in);
	return b;
}

int aor_binding_same_strings(const aor_binding_t *b, const aor_binding_in_t *in)
{
	str s;
	int i;

	for(i = 0; i < AOR_F_COUNT; i++) {
		s = aor_binding_get(b, i);
		if(s.len != in->f[i].len)
			return 0;
		if(s.len > 0 && memcmp(s.s, in->f[i].s, s.len) != 0)
			return 0;
	}
	return 1;
}

void aor_binding_refresh(aor_binding_t *b, const aor_binding_in_t *in)
{
	b->expires = in->expires;
	b->modified = in->modified;
	b->sock = in->sock;
	b->cseq = in->cseq;
	b->cflags = in->cflags;
	b->methods = in->methods;
	b->reg_id = in->reg_id;
	b->conn_id = in->conn_id;
	b->q = in->q;
}

/* a year short of the largest time_t: far enough to be "never", near enough
 * that adding a few seconds cannot overflow */
#define AOR_TIME_MAX ((time_t)(((unsigned long long)1 << 62) - 1))

time_t aor_expires_abs(time_t now, long long rel)
{
	if(rel <= 0)
		return now;
	if(rel > (long long)(AOR_TIME_MAX - now))
		return AOR_TIME_MAX;
	return now + (time_t)rel;
}

int aor_ruid_fmt(uint64_t id, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	/* by hand: lookup() formats one per branch, snprintf costs ten times
	 * as much */
	memcpy(buf, "aor-", 4);
	for(i = 19; i >= 4; i--, id >>= 4)
		buf[i] = hex[id & 15];
	buf[AOR_RUID_LEN] = '\0';
	return AOR_RUID_LEN;
}

int aor_ruid_parse(const str *s, uint64_t *id)
{
	uint64_t v = 0;
	int i, c;

	if(s->len != AOR_RUID_LEN || strncmp(s->s, "aor-", 4) != 0)
		return -1;
	for(i = 4; i < s->len; i++) {
		if((c = aor_hexval(s->s[i])) < 0)
			return -1;
		v = (v << 4) | (uint64_t)c;
	}
	*id = v;
	return 0;
}
