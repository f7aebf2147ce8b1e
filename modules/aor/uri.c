/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * SIP URIs: RFC 3261 19.1.4 equality, the plain-URI fast path, a port of
 * the part of Kamailio's parse_uri that finds the user and host, and the AoR
 * key. Pure: no SIP parser, no struct sip_msg, no module parameters.
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

/* ---- user and host as Kamailio's parse_uri gives them ---- */

/* The states of parse_uri (Kamailio 5.6 core/parser/parse_uri.c) that
 * decide the user, the host or a failure. Its many parameter-name and value
 * states behave alike for these (an '@' ends a user part, ';' '?' ':' as
 * below) and are S_POTHER here, all but two: those of user=, whose value
 * phone2tel reads, and those of maddr=, because parse_uri fails on a URI
 * that ends inside "maddr=" (from "ma" on: its end-of-input switch lacks
 * those states). */
enum split_state
{
	S_INIT,		  /* the first byte after the scheme */
	S_USER,		  /* a user, or a host without one */
	S_PASS,		  /* after user ':': a password, or a port (digits) */
	S_PASS_ALPHA, /* a password (or an urn: host): a non-digit seen */
	S_HOST,		  /* the first byte of the host, after an '@' */
	S_HOST_P,	  /* a host name */
	S_HOST6,	  /* inside [IPv6] */
	S_HOST6_END,  /* after the ']' */
	S_PORT,
	S_PARAM,	 /* the first byte of a parameter */
	S_PNAME,	 /* the first k bytes of name ("user" or "maddr") */
	S_PEQ,		 /* after name "=" */
	S_PUSER_VAL, /* the value of user= */
	S_POTHER,	 /* any other parameter, name or value */
	S_HEADERS
};

enum split_scheme
{
	SCH_SIP,
	SCH_TEL,
	SCH_URN
};

typedef struct split
{
	const char *start; /* the first byte after the scheme */
	const char *s;	   /* the start of the part being read */
	const char *pass;  /* a ':' that ends a user part if an '@' follows */
	const char *v;	   /* the start of the user= value */
	const char *name;  /* the parameter name S_PNAME matches */
	enum split_state st;
	enum split_scheme sch;
	int k;			 /* bytes of name matched in S_PNAME */
	int port;		 /* digits so far in S_PASS and S_PORT */
	int port_len;	 /* 0 when there is none */
	int found_user;	 /* the user part is known, or known to be absent */
	int bad_headers; /* a ';' in the headers: fails unless an '@' follows */
	str user, host;
	str uval; /* the value of user=, len 0 when none */
} split_t;

#define ALNUM(c)                                              \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') \
			|| ((c) >= '0' && (c) <= '9'))

static inline void set(str *r, const char *from, const char *to)
{
	r->s = (char *)from;
	r->len = (int)(to - from);
}

/* parse_uri's case_port: one more digit of a port, -1 past 65535 */
static inline int port_digit(split_t *x, char c)
{
	x->port = x->port * 10 + (c - '0');
	return x->port > 65535 ? -1 : 0;
}

/* parse_uri's still_at_user: an '@' after what was taken for a host and
 * parameters or headers, so all of that was the user part (up to the ':'
 * of a password); the host follows */
static int at_user(split_t *x, const char *p)
{
	if(x->found_user)
		return -1;
	set(&x->user, x->start, x->pass ? x->pass : p);
	x->host.s = NULL;
	x->host.len = 0;
	x->uval.len = 0;
	x->port_len = 0;
	x->s = p + 1;
	x->found_user = 1;
	x->bad_headers = 0;
	x->st = S_HOST;
	return 0;
}

/* a ':' in the parameters or headers before any '@': the first may start a
 * password, a second says there is no user part */
static inline void colon(split_t *x, const char *p)
{
	if(x->found_user)
		return;
	if(x->pass) {
		x->found_user = 1;
		x->pass = NULL;
	} else {
		x->pass = p;
	}
}

/* a ';' or '?' in the parameters: no password has a ';' or '?' */
static inline void no_pass(split_t *x)
{
	if(x->pass) {
		x->found_user = 1;
		x->pass = NULL;
	}
}

static int step_userinfo(split_t *x, const char *p)
{
	switch(x->st) {
		case S_INIT:
			if(*p == ']' || *p == ':')
				return -1;
			x->st = *p == '[' ? S_HOST6 : S_USER;
			return 0;
		case S_USER:
			switch(*p) {
				case '@':
					set(&x->user, x->s, p);
					x->found_user = 1;
					x->st = S_HOST;
					break;
				case ':':
					set(&x->user, x->s, p);
					x->st = S_PASS;
					break;
				case ';':
				case '?':
					set(&x->host, x->s, p);
					x->st = *p == ';' ? S_PARAM : S_HEADERS;
					break;
				case '[':
				case ']':
					return -1;
				default:
					return 0;
			}
			x->s = p + 1;
			return 0;
		default:
			break;
	}
	if(*p == '@') { /* after a password */
		x->found_user = 1;
		x->st = S_HOST;
		x->s = p + 1;
		return 0;
	}
	if(*p == '[' || *p == ']' || *p == ':')
		return -1;
	if(x->st == S_PASS_ALPHA)
		return (*p == ';' || *p == '?') ? -1 : 0;
	if(*p >= '0' && *p <= '9')
		return port_digit(x, *p);
	if(*p != ';' && *p != '?') {
		x->st = S_PASS_ALPHA;
		return 0;
	}
	/* "host:port" without a user part */
	x->port_len = (int)(p - x->s);
	x->host = x->user;
	x->user.s = NULL;
	x->user.len = 0;
	x->found_user = 1;
	x->st = *p == ';' ? S_PARAM : S_HEADERS;
	x->s = p + 1;
	return 0;
}

/* parse_uri's check_host_end: 1 when c ends the host (x updated), 0 when
 * not, -1 on a byte no host may be followed by */
static int host_end(split_t *x, const char *p)
{
	switch(*p) {
		case ':':
			x->st = S_PORT;
			x->port = 0;
			break;
		case ';':
			x->st = S_PARAM;
			break;
		case '?':
			x->st = S_HEADERS;
			break;
		case '&':
		case '@':
			return -1;
		default:
			return 0;
	}
	set(&x->host, x->s, p);
	x->s = p + 1;
	return 1;
}

static int step_host(split_t *x, const char *p)
{
	int r;

	switch(x->st) {
		case S_HOST:
			if(*p == '[')
				x->st = S_HOST6;
			else if(ALNUM(*p))
				x->st = S_HOST_P;
			else
				return -1;
			return 0;
		case S_HOST_P:
			if((r = host_end(x, p)) != 0)
				return r < 0 ? -1 : 0;
			return (ALNUM(*p) || *p == '.' || *p == '-') ? 0 : -1;
		case S_HOST6:
			if(*p == ']')
				x->st = S_HOST6_END;
			else if(strchr("[&@;?", *p) != NULL && *p != '\0')
				return -1;
			return 0;
		case S_HOST6_END:
			return host_end(x, p) == 1 ? 0 : -1;
		default: /* S_PORT */
			break;
	}
	if(*p >= '0' && *p <= '9')
		return port_digit(x, *p);
	if(*p != ';' && *p != '?')
		return -1;
	x->port_len = (int)(p - x->s);
	x->st = *p == ';' ? S_PARAM : S_HEADERS;
	x->s = p + 1;
	return 0;
}

/* the end of the user= value at p, when one is being read */
static inline void end_value(split_t *x, const char *p)
{
	if(x->st == S_PUSER_VAL)
		set(&x->uval, x->v, p);
}

static int step_param(split_t *x, const char *p)
{
	switch(*p) {
		case '@':
			return at_user(x, p);
		case ';':
		case '?':
			end_value(x, p);
			no_pass(x);
			x->st = *p == ';' ? S_PARAM : S_HEADERS;
			return 0;
		case ':':
			colon(x, p);
			if(x->st != S_PUSER_VAL)
				x->st = S_POTHER;
			return 0;
		default:
			break;
	}
	switch(x->st) {
		case S_PARAM:
			x->k = 1;
			x->name = (*p | 0x20) == 'u' ? "user" : "maddr";
			x->st = (*p | 0x20) == x->name[0] ? S_PNAME : S_POTHER;
			break;
		case S_PNAME:
			if(x->name[x->k] != '\0' && (*p | 0x20) == x->name[x->k])
				x->k++;
			else
				x->st = (x->name[x->k] == '\0' && *p == '=') ? S_PEQ : S_POTHER;
			break;
		case S_PEQ:
			x->v = p;
			x->st = x->name[0] == 'u' ? S_PUSER_VAL : S_POTHER;
			break;
		default: /* S_PUSER_VAL, S_POTHER */
			break;
	}
	return 0;
}

static int step_headers(split_t *x, const char *p)
{
	switch(*p) {
		case '@':
			return at_user(x, p);
		case ';':
			/* no header has a ';': this is a user part, or an error */
			if(x->found_user || x->pass)
				return -1;
			x->bad_headers = 1;
			break;
		case ':':
			colon(x, p);
			break;
		case '?':
			no_pass(x);
			break;
	}
	return 0;
}

/* parse_uri at the end of the URI: what the last part was */
static int split_end(split_t *x, const char *end)
{
	switch(x->st) {
		case S_INIT:
		case S_HOST:
		case S_HOST6:
			return -1;
		case S_USER:
		case S_HOST_P:
		case S_HOST6_END:
			set(&x->host, x->s, end);
			return 0;
		case S_PASS: /* "host:port" */
			x->port_len = (int)(end - x->s);
			x->host = x->user;
			x->user.s = NULL;
			x->user.len = 0;
			return 0;
		case S_PASS_ALPHA: /* urn:user:host */
			if(x->sch != SCH_URN)
				return -1;
			set(&x->host, x->s, end);
			return 0;
		case S_PORT:
			x->port_len = (int)(end - x->s);
			return 0;
		case S_HEADERS:
			return x->bad_headers ? -1 : 0;
		case S_PNAME: /* "ma" to "maddr" */
			return (x->name[0] == 'm' && x->k >= 2) ? -1 : 0;
		case S_PEQ:
			return x->name[0] == 'm' ? -1 : 0;
		default: /* the other parameter states */
			end_value(x, end);
			return 0;
	}
}

/* "sip:", "sips:", "tel:" or "urn:" as parse_uri matches them, each byte
 * OR 0x20 (so also "SIP\x1a"); returns the bytes of the scheme, or 0 */
static int split_scheme(const str *uri, split_t *x)
{
	static const char *const names[] = {"sip:", "tel:", "urn:", "sips"};
	const char *s = uri->s;
	int i, j;

	if(uri->len < 5)
		return 0;
	for(i = 0; i < 4; i++) {
		for(j = 0; j < 4 && (s[j] | 0x20) == names[i][j]; j++)
			;
		if(j < 4)
			continue;
		if(i < 3) {
			x->sch = (enum split_scheme)i;
			return 4;
		}
		x->sch = SCH_SIP;
		return s[4] == ':' ? 5 : 0;
	}
	return 0;
}

int aor_uri_split(const str *uri, str *user, str *host)
{
	const char *p, *end = uri->s + uri->len, *semi;
	split_t x;
	int n, r;

	memset(&x, 0, sizeof(x));
	if((n = split_scheme(uri, &x)) == 0)
		return -1;
	x.start = x.s = uri->s + n;
	x.st = S_INIT;
	for(p = x.start; p < end; p++) {
		if(x.st <= S_PASS_ALPHA)
			r = step_userinfo(&x, p);
		else if(x.st <= S_PORT)
			r = step_host(&x, p);
		else if(x.st < S_HEADERS)
			r = step_param(&x, p);
		else
			r = step_headers(&x, p);
		if(r < 0)
			return -1;
	}
	if(split_end(&x, end) < 0)
		return -1;
	if(x.sch == SCH_TEL) {
		/* the number is the user, a tel: URI has no host */
		x.user = x.host;
		x.host.len = 0;
	} else if(x.sch == SCH_SIP && x.uval.len == 5
			  && memcmp(x.uval.s, "phone", 5) == 0) {
		/* phone2tel: the user is the number, less its parameters */
		semi = x.user.len > 0 ? memchr(x.user.s, ';', x.user.len) : NULL;
		if(semi != NULL)
			x.user.len = (int)(semi - x.user.s);
	}
	if(x.port_len > 5)
		return -1;
	/* an '@' before the host and no user part */
	if(x.host.len > 0 && x.user.len <= 0
			&& (x.host.s[-1] == '@' || x.host.s[0] == '@'))
		return -1;
	/* never NULL (the host never is), so that callers may memcmp it */
	if(x.user.s == NULL)
		x.user.s = (char *)x.start;
	*user = x.user;
	*host = x.host;
	return 0;
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
