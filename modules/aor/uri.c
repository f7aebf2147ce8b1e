/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * SIP URIs: RFC 3261 19.1.4 equality, the plain-URI fast path and the AoR
 * key (the port of parse_uri's user and host is in uri_split.c). Pure: no
 * SIP parser, no struct sip_msg, no module parameters.
 */

#include <string.h>
#include <strings.h>

#include "errors.h"
#include "uri.h"

/* character classes of RFC 3261 25.1 for aor_uri_simple, less what needs
 * more than a glance ('%' escapes; ';' and ':' in the user part) */
#define C_USER 1  /* unreserved, user-unreserved */
#define C_HOST 2  /* hostname characters and IPv4 */
#define C_PARAM 4 /* paramchar, '=' and ';' */

static unsigned char cclass[256];
static int cclass_built = 0;

static void cclass_init(void)
{
	const char *u = "-_.!~*'()&=+$,?/", *pm = "-_.!~*'()[]/:&+$=;";
	int c;

	for(c = 0; c < 256; c++)
		if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
				|| (c >= '0' && c <= '9'))
			cclass[c] = C_USER | C_HOST | C_PARAM;
	cclass['.'] |= C_HOST;
	cclass['-'] |= C_HOST;
	for(; *u; u++)
		cclass[(unsigned char)*u] |= C_USER;
	for(; *pm; pm++)
		cclass[(unsigned char)*pm] |= C_PARAM;
	cclass_built = 1;
}

#define IS(c, k) (cclass[(unsigned char)(c)] & (k))

/* the first byte from p on that is not in class k, or end */
static inline const char *span(const char *p, const char *end, int k)
{
	while(p < end && IS(*p, k))
		p++;
	return p;
}

int aor_uri_simple(const str *uri, str *user, str *host)
{
	const char *p = uri->s, *end = uri->s + uri->len, *start, *host_end;
	int digits = 0, port = 0;

	if(!cclass_built)
		cclass_init();
	/* "sip:" or "sips:", any case (a byte | 0x20 is its lower case) */
	if(uri->len < 4 || (p[0] | 0x20) != 's' || (p[1] | 0x20) != 'i'
			|| (p[2] | 0x20) != 'p')
		return 0;
	if(p[3] == ':')
		p += 4;
	else if(uri->len >= 5 && (p[3] | 0x20) == 's' && p[4] == ':')
		p += 5;
	else
		return 0;
	/* one pass: a host's characters are all user characters, so the span
	 * of host characters is the host of a user-less URI or the start of
	 * the user part of one with '@' */
	start = p;
	host_end = p = span(p, end, C_HOST);
	if(p < end && IS(*p, C_USER))
		p = span(p, end, C_USER);
	user->s = (char *)start;
	user->len = 0;
	if(p < end && *p == '@') {
		if(p == start)
			return 0;
		user->len = (int)(p - start);
		start = ++p;
		p = span(p, end, C_HOST);
	} else if(p != host_end)
		return 0; /* user characters a host cannot have, and no '@' */
	host->s = (char *)start;
	host->len = (int)(p - start);
	if(host->len == 0 || host->s[0] == '.' || host->s[0] == '-')
		return 0;
	if(p < end && *p == ':') {
		for(p++; p < end && *p >= '0' && *p <= '9' && digits < 6; p++) {
			port = port * 10 + (*p - '0');
			digits++;
		}
		if(digits == 0 || digits > 5 || port > 65535)
			return 0;
	}
	if(p < end && *p != ';')
		return 0;
	/* parameters: paramchars, none empty */
	for(; p < end; p++)
		if(!IS(*p, C_PARAM) || (*p == ';' && (p + 1 == end || p[1] == ';')))
			return 0;
	return 1;
}

int aor_ipv4_parse(const str *s, unsigned char out[4])
{
	const char *p = s->s, *end = s->s + s->len;
	unsigned int v;
	int i;

	for(i = 0;; i++) {
		if(p >= end || (unsigned int)(*p - '0') > 9)
			return 0;
		v = (unsigned int)(*p++ - '0');
		if(v > 0) /* a part that starts with 0 is "0" */
			while(p < end && (unsigned int)(*p - '0') <= 9 && v < 256)
				v = v * 10 + (unsigned int)(*p++ - '0');
		if(v > 255)
			return 0;
		out[i] = (unsigned char)v;
		if(i == 3)
			return p == end;
		if(p >= end || *p++ != '.')
			return 0;
	}
}

/* ---- RFC 3261 19.1.4 URI equality ---- */

#define URI_MAX_PARAMS 32

typedef struct kv
{
	str k, v; /* v.s NULL when the parameter has no value */
} kv_t;

typedef struct uri_parts
{
	int secure;	 /* sips */
	str user;	 /* userinfo (user[:password]), s NULL when absent */
	str host;	 /* host, with brackets for IPv6 */
	str port;	 /* s NULL when absent */
	int nparams; /* uri-parameters */
	kv_t params[URI_MAX_PARAMS];
	int nheaders;
	kv_t headers[URI_MAX_PARAMS];
} uri_parts_t;

static int split_kv(
		const char *p, const char *end, char sep, kv_t *out, int max)
{
	const char *q, *eq;
	int n = 0;

	while(p < end) {
		q = memchr(p, sep, end - p);
		if(q == NULL)
			q = end;
		if(q > p) {
			if(n == max)
				return -1;
			eq = memchr(p, '=', q - p);
			out[n].k.s = (char *)p;
			out[n].k.len = (int)((eq ? eq : q) - p);
			out[n].v.s = eq ? (char *)eq + 1 : NULL;
			out[n].v.len = eq ? (int)(q - eq - 1) : 0;
			n++;
		}
		p = q + 1;
	}
	return n;
}

static int uri_parse(const str *u, uri_parts_t *up)
{
	const char *p = u->s, *end = u->s + u->len, *at, *q, *hend, *pend;
	int n;

	memset(up, 0, sizeof(*up));
	if(u->len >= 5 && strncasecmp(p, "sips:", 5) == 0) {
		up->secure = 1;
		p += 5;
	} else if(u->len >= 4 && strncasecmp(p, "sip:", 4) == 0) {
		p += 4;
	} else {
		return -1;
	}
	q = memchr(p, '?', end - p);
	pend = q ? q : end;
	at = memchr(p, '@', pend - p);
	if(at) {
		up->user.s = (char *)p;
		up->user.len = (int)(at - p);
		p = at + 1;
	}
	/* host[:port] up to ';' or the headers */
	if(p < pend && *p == '[') {
		hend = memchr(p, ']', pend - p);
		if(hend == NULL)
			return -1;
		hend++;
	} else {
		hend = p;
		while(hend < pend && *hend != ':' && *hend != ';')
			hend++;
	}
	up->host.s = (char *)p;
	up->host.len = (int)(hend - p);
	if(up->host.len == 0)
		return -1;
	p = hend;
	if(p < pend && *p == ':') {
		p++;
		up->port.s = (char *)p;
		while(p < pend && *p != ';')
			p++;
		up->port.len = (int)(p - up->port.s);
	}
	if(p < pend && *p == ';') {
		n = split_kv(p + 1, pend, ';', up->params, URI_MAX_PARAMS);
		if(n < 0)
			return -1;
		up->nparams = n;
	} else if(p != pend) {
		return -1;
	}
	if(q) {
		n = split_kv(q + 1, end, '&', up->headers, URI_MAX_PARAMS);
		if(n < 0)
			return -1;
		up->nheaders = n;
	}
	return 0;
}

/* next character of s at *i, with %HEX of an unreserved character decoded
 * (19.1.4: such an escape equals the character itself) */
static int next_char(const str *s, int *i, int *escaped)
{
	int c = (unsigned char)s->s[*i], h, l;

	*escaped = 0;
	if(c == '%' && *i + 2 < s->len) {
		h = aor_hexval(s->s[*i + 1]);
		l = aor_hexval(s->s[*i + 2]);
		if(h >= 0 && l >= 0) {
			c = h * 16 + l;
			*i += 3;
			if(strchr(";/?:@&=+$,", c) != NULL || c == 0)
				*escaped = 1;
			return c;
		}
	}
	(*i)++;
	return c;
}

/* compares with escapes decoded; icase folds ASCII case */
static int str_equiv(const str *a, const str *b, int icase)
{
	int i = 0, j = 0, ca, cb, ea, eb;

	while(i < a->len && j < b->len) {
		ca = next_char(a, &i, &ea);
		cb = next_char(b, &j, &eb);
		if(ea != eb)
			return 0;
		if(icase) {
			if(ca >= 'A' && ca <= 'Z')
				ca |= 0x20;
			if(cb >= 'A' && cb <= 'Z')
				cb |= 0x20;
		}
		if(ca != cb)
			return 0;
	}
	return i == a->len && j == b->len;
}

static const kv_t *kv_find(const kv_t *v, int n, const str *k)
{
	int i;

	for(i = 0; i < n; i++)
		if(str_equiv(&v[i].k, k, 1))
			return &v[i];
	return NULL;
}

static int kv_value_equal(const kv_t *a, const kv_t *b, int icase)
{
	if((a->v.s == NULL) != (b->v.s == NULL))
		return 0;
	return a->v.s == NULL || str_equiv(&a->v, &b->v, icase);
}

/* RFC 3261 19.1.1: "any given parameter-name MUST NOT appear more than
 * once"; with a name twice, which one counts is undefined */
static int kv_unique(const kv_t *v, int n)
{
	int i;

	for(i = 1; i < n; i++)
		if(kv_find(v, i, &v[i].k) != NULL)
			return 0;
	return 1;
}

/* parameters of a checked against b: those in both must match; transport,
 * user, ttl, method and maddr may not appear in only one ("a URI omitting
 * any component with a default value will not match a URI explicitly
 * containing that component [...] The same is true for the
 * transport-parameter"); the rest are ignored */
static int params_match(const uri_parts_t *a, const uri_parts_t *b)
{
	static const char *strict[] = {
			"user", "ttl", "method", "maddr", "transport"};
	const kv_t *o;
	str k;
	int i, j;

	for(i = 0; i < a->nparams; i++) {
		o = kv_find(b->params, b->nparams, &a->params[i].k);
		if(o != NULL) {
			if(!kv_value_equal(&a->params[i], o, 1))
				return 0;
			continue;
		}
		for(j = 0; j < 5; j++) {
			k.s = (char *)strict[j];
			k.len = (int)strlen(strict[j]);
			if(str_equiv(&a->params[i].k, &k, 1))
				return 0;
		}
	}
	return 1;
}

/* 19.1.4: header components are never ignored; names compare without case,
 * values as they are. A header may appear more than once (unlike a
 * parameter), so each of a needs an equal one, name and value, in b. */
static int headers_match(const uri_parts_t *a, const uri_parts_t *b)
{
	int i, j;

	for(i = 0; i < a->nheaders; i++) {
		for(j = 0; j < b->nheaders; j++)
			if(str_equiv(&a->headers[i].k, &b->headers[j].k, 1)
					&& kv_value_equal(&a->headers[i], &b->headers[j], 0))
				break;
		if(j == b->nheaders)
			return 0;
	}
	return 1;
}

int aor_uri_equal(const str *a, const str *b)
{
	uri_parts_t ua, ub;

	if(uri_parse(a, &ua) < 0 || uri_parse(b, &ub) < 0)
		return -1;
	if(!kv_unique(ua.params, ua.nparams) || !kv_unique(ub.params, ub.nparams))
		return -1;
	/* 19.1.4: a SIP and a SIPS URI are never equivalent */
	if(ua.secure != ub.secure)
		return 0;
	/* userinfo is compared with case; a URI without one never matches one
	 * with it */
	if((ua.user.s == NULL) != (ub.user.s == NULL))
		return 0;
	if(ua.user.s && !str_equiv(&ua.user, &ub.user, 0))
		return 0;
	if(!str_equiv(&ua.host, &ub.host, 1))
		return 0;
	/* an omitted port never matches an explicit one, even 5060 */
	if((ua.port.s == NULL) != (ub.port.s == NULL))
		return 0;
	if(ua.port.s && !str_equiv(&ua.port, &ub.port, 0))
		return 0;
	if(!params_match(&ua, &ub) || !params_match(&ub, &ua))
		return 0;
	return headers_match(&ua, &ub) && headers_match(&ub, &ua);
}

/* ---- the AoR key ---- */

/* 1 when s holds a byte RFC 3261 25.1 never allows raw: controls and
 * space */
static int has_ctl(const str *s)
{
	int i;

	for(i = 0; i < s->len; i++)
		if((unsigned char)s->s[i] <= 0x20 || s->s[i] == 0x7f)
			return 1;
	return 0;
}

static inline char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* RFC 3261 10.3 step 5: the user with its escapes undone, as aor_key_build
 * says, into out (room bytes), folded to lower case with fold. Returns the
 * length, AOR_E_BAD_AOR for a '%' not followed by two hex digits, or
 * AOR_E_TOO_LONG. */
static int user_canon(const str *u, char *out, int room, int fold)
{
	int i, n = 0, hi, lo, v;

	for(i = 0; i < u->len; i++) {
		if(u->s[i] != '%') {
			if(n == room)
				return AOR_E_TOO_LONG;
			out[n++] = fold ? lower(u->s[i]) : u->s[i];
			continue;
		}
		if(i + 2 >= u->len)
			return AOR_E_BAD_AOR;
		hi = aor_hexval(u->s[i + 1]);
		lo = aor_hexval(u->s[i + 2]);
		if(hi < 0 || lo < 0)
			return AOR_E_BAD_AOR;
		v = hi << 4 | lo;
		i += 2;
		if(v > 0x20 && v < 0x7f && v != '%') {
			if(n == room)
				return AOR_E_TOO_LONG;
			out[n++] = fold ? lower((char)v) : (char)v;
			continue;
		}
		if(room - n < 3)
			return AOR_E_TOO_LONG;
		/* upper-case hex, folded with the rest when not case_sensitive */
		out[n++] = '%';
		out[n++] = (fold ? "0123456789abcdef" : "0123456789ABCDEF")[hi];
		out[n++] = (fold ? "0123456789abcdef" : "0123456789ABCDEF")[lo];
	}
	return n;
}

int aor_key_build(const str *uri, const aor_key_opts_t *o, char *buf,
		int buflen, str *key)
{
	str user, host;
	int i, n, simple;

	if(uri->len <= 0 || uri->len > AOR_KEY_URI_MAX)
		return AOR_E_BAD_AOR;
	/* the common plain URI without the full parser (hot path) */
	simple = aor_uri_simple(uri, &user, &host);
	if(!simple && aor_uri_split(uri, &user, &host) < 0)
		return AOR_E_BAD_AOR;
	/* RFC 3261 25.1: no raw control byte or space (the plain form that
	 * aor_uri_simple takes has none) */
	if(user.len == 0
			|| (!simple
					&& (has_ctl(&user) || (o->use_domain && has_ctl(&host)))))
		return AOR_E_BAD_AOR;
	if((n = user_canon(&user, buf, buflen, !o->case_sensitive)) < 0)
		return n;
	/* realm_prefix: compared byte for byte, before folding, as stock */
	if(o->use_domain && o->realm_prefix.len > 0
			&& o->realm_prefix.len < host.len
			&& memcmp(o->realm_prefix.s, host.s, o->realm_prefix.len) == 0) {
		host.s += o->realm_prefix.len;
		host.len -= o->realm_prefix.len;
	}
	if(o->use_domain && host.len > 0) {
		if(buflen - n < host.len + 1)
			return AOR_E_TOO_LONG;
		buf[n++] = '@';
		for(i = 0; i < host.len; i++)
			buf[n++] = lower(host.s[i]);
	}
	key->s = buf;
	key->len = n;
	return 0;
}
