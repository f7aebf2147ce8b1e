/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * aor_uri_split (see uri.h): the user and host of a URI as Kamailio 5.6's
 * parse_uri finds them, its state machine ported without the parser, so
 * that the AoR key builder stays pure. Pure: libc and str.h.
 */

#include <string.h>

#include "sys.h"
#include "errors.h"
#include "uri.h"

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

