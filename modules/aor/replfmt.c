/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The wire format of replication; see replfmt.h. Pure.
 */

#include <stdio.h>
#include <string.h>
#include "sys.h"
#include "errors.h"
#include "replfmt.h"

int aor_rbuf_reserve(aor_rbuf_t *b, int n)
{
	int cap;
	char *s;

	if(b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 1024;
	while(cap < b->len + n)
		cap *= 2;
	s = AOR_PKG_REALLOC(b->s, cap);
	if(s == NULL) {
		AOR_LOG_ERR("no process memory: %d bytes for a replication "
					"message\n",
				cap);
		return AOR_E_NOMEM;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void aor_rbuf_free(aor_rbuf_t *b)
{
	if(b->s)
		AOR_PKG_FREE(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

static int put_u(aor_rbuf_t *b, uint64_t v, char sep)
{
	char tmp[24];
	int n = 0, i;

	if(aor_rbuf_reserve(b, 22) < 0)
		return AOR_E_NOMEM;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while(v);
	for(i = 0; i < n; i++)
		b->s[b->len++] = tmp[n - 1 - i];
	b->s[b->len++] = sep;
	return 0;
}

/* a netstring "len:bytes" */
static int put_ns(aor_rbuf_t *b, const str *s)
{
	if(put_u(b, (uint64_t)s->len, ':') < 0
			|| aor_rbuf_reserve(b, s->len + 1) < 0)
		return AOR_E_NOMEM;
	if(s->len)
		memcpy(b->s + b->len, s->s, s->len);
	b->len += s->len;
	return 0;
}

static int put_c(aor_rbuf_t *b, char c)
{
	if(aor_rbuf_reserve(b, 1) < 0)
		return AOR_E_NOMEM;
	b->s[b->len++] = c;
	return 0;
}

int aor_repl_put_header(aor_rbuf_t *b, const char *type, unsigned int node,
		const str *table)
{
	int n = (int)strlen(AOR_REPL_MAGIC), tl = (int)strlen(type);

	if(aor_rbuf_reserve(b, n + tl + 1) < 0)
		return AOR_E_NOMEM;
	memcpy(b->s + b->len, AOR_REPL_MAGIC, n);
	b->len += n;
	memcpy(b->s + b->len, type, tl);
	b->len += tl;
	b->s[b->len++] = ' ';
	if(put_u(b, node, ' ') < 0 || put_ns(b, table) < 0)
		return AOR_E_NOMEM;
	return put_c(b, '\n');
}

/* the decimal digits of v at p; returns the end (at most 20 digits) */
static char *wr_u(char *p, uint64_t v)
{
	static const char d2[201] = "00010203040506070809"
								"10111213141516171819"
								"20212223242526272829"
								"30313233343536373839"
								"40414243444546474849"
								"50515253545556575859"
								"60616263646566676869"
								"70717273747576777879"
								"80818283848586878889"
								"90919293949596979899";
	char tmp[20];
	int n = 20;
	uint32_t w, r;

	/* 64-bit division only for what exceeds 32 bits: 8 digits at a time */
	while(v > 0xffffffffu) {
		w = (uint32_t)(v % 100000000u);
		v /= 100000000u;
		for(r = 0; r < 4; r++) {
			n -= 2;
			memcpy(tmp + n, d2 + 2 * (w % 100), 2);
			w /= 100;
		}
	}
	w = (uint32_t)v;
	while(w >= 100) {
		n -= 2;
		memcpy(tmp + n, d2 + 2 * (w % 100), 2);
		w /= 100;
	}
	if(w >= 10) {
		n -= 2;
		memcpy(tmp + n, d2 + 2 * w, 2);
	} else {
		tmp[--n] = (char)('0' + w);
	}
	memcpy(p, tmp + n, 20 - n);
	return p + 20 - n;
}

static char *wr_i(char *p, int64_t v)
{
	if(v < 0) {
		*p++ = '-';
		return wr_u(p, (uint64_t)(-(v + 1)) + 1);
	}
	return wr_u(p, (uint64_t)v);
}

int aor_repl_put_binding(aor_rbuf_t *b, const aor_binding_t *bd)
{
	char *p;
	int f;
	str s;

	/* one reservation: 9 numbers of at most 21 characters and a space,
	 * 8 netstrings of at most 5 digits and a colon, the letter, the end */
	if(aor_rbuf_reserve(b, (int)bd->off[AOR_F_COUNT] + 9 * 22 + 8 * 6 + 4)
			< 0)
		return AOR_E_NOMEM;
	p = b->s + b->len;
	*p++ = 'P';
	*p++ = ' ';
	p = wr_u(p, bd->id);
	*p++ = ' ';
	p = wr_u(p, bd->version);
	*p++ = ' ';
	p = wr_i(p, (int64_t)bd->expires);
	*p++ = ' ';
	p = wr_i(p, (int64_t)bd->modified);
	*p++ = ' ';
	p = wr_u(p, bd->cseq);
	*p++ = ' ';
	p = wr_u(p, bd->cflags);
	*p++ = ' ';
	p = wr_u(p, bd->methods);
	*p++ = ' ';
	p = wr_i(p, bd->reg_id);
	*p++ = ' ';
	p = wr_i(p, bd->q);
	*p++ = ' ';
	for(f = 0; f < AOR_F_COUNT; f++) {
		s = aor_binding_get(bd, (enum aor_field)f);
		p = wr_u(p, (uint64_t)s.len);
		*p++ = ':';
		if(s.len)
			memcpy(p, s.s, s.len);
		p += s.len;
	}
	*p++ = '\n';
	b->len = (int)(p - b->s);
	return 0;
}

int aor_repl_put_del(
		aor_rbuf_t *b, uint64_t id, uint64_t version, const str *aor)
{
	int len0 = b->len;

	if(put_c(b, 'D') < 0 || put_c(b, ' ') < 0 || put_u(b, id, ' ') < 0
			|| put_u(b, version, ' ') < 0 || put_ns(b, aor) < 0
			|| put_c(b, '\n') < 0) {
		b->len = len0;
		return AOR_E_NOMEM;
	}
	return 0;
}

int aor_repl_put_rm(aor_rbuf_t *b, uint64_t id, uint64_t version,
		const str *aor, const str *uri, const str *instance, int32_t reg_id)
{
	int len0 = b->len;
	char *p;

	if(aor_rbuf_reserve(b, 2 + 3 * 22 + 3 * 6 + aor->len + uri->len
								   + instance->len + 1)
			< 0)
		return AOR_E_NOMEM;
	p = b->s + b->len;
	*p++ = 'X';
	*p++ = ' ';
	p = wr_u(p, id);
	*p++ = ' ';
	p = wr_u(p, version);
	*p++ = ' ';
	p = wr_i(p, reg_id);
	*p++ = ' ';
	p = wr_u(p, (uint64_t)aor->len);
	*p++ = ':';
	memcpy(p, aor->s, aor->len);
	p += aor->len;
	p = wr_u(p, (uint64_t)uri->len);
	*p++ = ':';
	if(uri->len)
		memcpy(p, uri->s, uri->len);
	p += uri->len;
	p = wr_u(p, (uint64_t)instance->len);
	*p++ = ':';
	if(instance->len)
		memcpy(p, instance->s, instance->len);
	p += instance->len;
	*p++ = '\n';
	b->len = (int)(p - b->s);
	(void)len0;
	return 0;
}

int aor_repl_put_digests(
		aor_rbuf_t *b, uint32_t first, uint32_t count, const uint64_t *d)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t i;
	int k;

	if(count > AOR_REPL_DIGESTS_MAX)
		return AOR_E_TOO_LONG;
	if(put_c(b, 'G') < 0 || put_c(b, ' ') < 0 || put_u(b, first, ' ') < 0
			|| put_u(b, count, ' ') < 0
			|| aor_rbuf_reserve(b, (int)count * 16 + 1) < 0)
		return AOR_E_NOMEM;
	for(i = 0; i < count; i++)
		for(k = 15; k >= 0; k--)
			b->s[b->len++] = hex[(d[i] >> (k * 4)) & 15];
	b->s[b->len++] = '\n';
	return 0;
}

int aor_repl_put_num(aor_rbuf_t *b, const char *key, uint64_t v)
{
	str k;

	k.s = (char *)key;
	k.len = (int)strlen(key);
	if(put_c(b, 'N') < 0 || put_c(b, ' ') < 0 || put_ns(b, &k) < 0
			|| put_c(b, ' ') < 0 || put_u(b, v, '\n') < 0)
		return AOR_E_NOMEM;
	return 0;
}

/* ---- parsing ---- */

/* an unsigned decimal of at most 20 digits ending at sep */
static int get_u(const char **p, const char *end, uint64_t *v, char sep)
{
	const char *s = *p;
	uint64_t x = 0, d;
	int n = 0;

	while(s < end && *s >= '0' && *s <= '9') {
		d = (uint64_t)(*s - '0');
		if(x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
		s++;
		if(++n > 20)
			return -1;
	}
	if(n == 0 || s >= end || *s != sep)
		return -1;
	*p = s + 1;
	*v = x;
	return 0;
}

static int get_i(const char **p, const char *end, int64_t *v, char sep)
{
	uint64_t u;
	int neg = 0;

	if(*p < end && **p == '-') {
		neg = 1;
		(*p)++;
	}
	if(get_u(p, end, &u, sep) < 0 || u > (uint64_t)INT64_MAX)
		return -1;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return 0;
}

static int get_ns(const char **p, const char *end, str *s)
{
	uint64_t n;

	if(get_u(p, end, &n, ':') < 0 || n > AOR_BINDING_MAX_DATA
			|| (uint64_t)(end - *p) < n)
		return -1;
	s->s = (char *)*p;
	s->len = (int)n;
	*p += n;
	return 0;
}

static int get_c(const char **p, const char *end, char c)
{
	if(*p >= end || **p != c)
		return -1;
	(*p)++;
	return 0;
}

int aor_repl_header(const char **p, const char *end, aor_repl_hdr_t *h)
{
	int n = (int)strlen(AOR_REPL_MAGIC);
	const char *s = *p;
	uint64_t node;

	if(end - s < n || memcmp(s, AOR_REPL_MAGIC, n) != 0)
		return -1;
	s += n;
	h->type.s = (char *)s;
	while(s < end && *s >= 'a' && *s <= 'z')
		s++;
	h->type.len = (int)(s - h->type.s);
	if(h->type.len == 0 || h->type.len > 8 || get_c(&s, end, ' ') < 0
			|| get_u(&s, end, &node, ' ') < 0 || node > 0xffffffffu
			|| get_ns(&s, end, &h->table) < 0 || h->table.len == 0
			|| h->table.len > 255 || get_c(&s, end, '\n') < 0)
		return -1;
	h->node = (unsigned int)node;
	*p = s;
	return 0;
}

static int hexval(char c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int aor_repl_next(const char **p, const char *end, aor_repl_rec_t *r)
{
	const char *s = *p;
	uint64_t u[4];
	int64_t i[4];
	uint32_t k;
	int f, j, h;

	if(s >= end)
		return 0;
	r->type = (enum aor_repl_rec_type)*s++;
	if(get_c(&s, end, ' ') < 0)
		return -1;
	switch(r->type) {
		case AOR_RR_BINDING:
			memset(&r->in, 0, sizeof(r->in));
			if(get_u(&s, end, &r->id, ' ') < 0
					|| get_u(&s, end, &r->version, ' ') < 0
					|| get_i(&s, end, &i[0], ' ') < 0
					|| get_i(&s, end, &i[1], ' ') < 0
					|| get_u(&s, end, &u[0], ' ') < 0
					|| get_u(&s, end, &u[1], ' ') < 0
					|| get_u(&s, end, &u[2], ' ') < 0
					|| get_i(&s, end, &i[2], ' ') < 0
					|| get_i(&s, end, &i[3], ' ') < 0)
				return -1;
			if(r->id == 0 || r->version == 0 || i[0] < 0 || i[1] < 0
					|| u[0] > UINT32_MAX || u[1] > UINT32_MAX
					|| u[2] > UINT32_MAX || i[2] < INT32_MIN
					|| i[2] > INT32_MAX || i[3] < AOR_Q_UNSPEC || i[3] > 1000)
				return -1;
			for(f = 0; f < AOR_F_COUNT; f++)
				if(get_ns(&s, end, &r->in.f[f]) < 0)
					return -1;
			if(r->in.f[AOR_F_AOR].len == 0 || r->in.f[AOR_F_URI].len == 0
					|| aor_binding_size_in(&r->in) == 0)
				return -1;
			r->in.id = r->id;
			r->in.version = r->version;
			r->in.expires = (time_t)i[0];
			r->in.modified = (time_t)i[1];
			r->in.cseq = (uint32_t)u[0];
			r->in.cflags = (uint32_t)u[1];
			r->in.methods = (uint32_t)u[2];
			r->in.reg_id = (int32_t)i[2];
			r->in.q = (int16_t)i[3];
			break;
		case AOR_RR_DEL:
			memset(&r->in, 0, sizeof(r->in));
			if(get_u(&s, end, &r->id, ' ') < 0
					|| get_u(&s, end, &r->version, ' ') < 0
					|| get_ns(&s, end, &r->in.f[AOR_F_AOR]) < 0
					|| r->id == 0 || r->version == 0
					|| r->in.f[AOR_F_AOR].len == 0)
				return -1;
			break;
		case AOR_RR_RM:
			memset(&r->in, 0, sizeof(r->in));
			if(get_u(&s, end, &r->id, ' ') < 0
					|| get_u(&s, end, &r->version, ' ') < 0
					|| get_i(&s, end, &i[0], ' ') < 0 || i[0] < INT32_MIN
					|| i[0] > INT32_MAX
					|| get_ns(&s, end, &r->in.f[AOR_F_AOR]) < 0
					|| get_ns(&s, end, &r->in.f[AOR_F_URI]) < 0
					|| get_ns(&s, end, &r->in.f[AOR_F_INSTANCE]) < 0
					|| r->id == 0 || r->version == 0
					|| r->in.f[AOR_F_AOR].len == 0)
				return -1;
			r->in.reg_id = (int32_t)i[0];
			break;
		case AOR_RR_DIGESTS:
			if(get_u(&s, end, &u[0], ' ') < 0 || get_u(&s, end, &u[1], ' ') < 0
					|| u[1] == 0 || u[1] > AOR_REPL_DIGESTS_MAX
					|| u[0] > UINT32_MAX
					|| (uint64_t)(end - s) < u[1] * 16)
				return -1;
			r->first = (uint32_t)u[0];
			r->count = (uint32_t)u[1];
			for(k = 0; k < r->count; k++) {
				r->digest[k] = 0;
				for(j = 0; j < 16; j++) {
					h = hexval(*s++);
					if(h < 0)
						return -1;
					r->digest[k] = r->digest[k] << 4 | (uint64_t)h;
				}
			}
			break;
		case AOR_RR_NUM:
			if(get_ns(&s, end, &r->key) < 0 || get_c(&s, end, ' ') < 0
					|| get_u(&s, end, &r->num, '\n') < 0)
				return -1;
			*p = s;
			return 1;
		default:
			return -1;
	}
	if(get_c(&s, end, '\n') < 0)
		return -1;
	*p = s;
	return 1;
}
