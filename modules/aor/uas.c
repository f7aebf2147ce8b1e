/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The RFC 3261 8.2 UAS checks of save() (see uas.h).
 */

#include <string.h>
#include <strings.h>

#include "../../core/parser/parse_disposition.h"
#include "../../core/parser/parse_content.h"
#include "../../modules/tm/tm_load.h"

#include "errors.h"
#include "params.h"
#include "uas.h"

/* room for the headers of one error reply */
#define UAS_HDRS 512

static char hdrbuf[UAS_HDRS];

#define LIT(s) (s), (int)(sizeof(s) - 1)

/* RFC 3261 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_"
 * / "+" / "`" / "'" / "~") */
static int is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		   || (c >= '0' && c <= '9') || strchr("-.!%*_+`'~", c) != NULL;
}

static int is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The option tags save() honours: path (RFC 3327) when use_path is set,
 * gruu (RFC 5627 5.1) when gruu_enabled is. RFC 3261 7.3.1: tokens compare
 * case-insensitively. */
static int tag_supported(const char *s, int len)
{
	if(len != 4)
		return 0;
	if(strncasecmp(s, "path", 4) == 0)
		return aor_params.use_path;
	return aor_params.gruu_enabled && strncasecmp(s, "gruu", 4) == 0;
}

/* appends tag to the Unsupported list at *n; AOR_E_TOO_LONG when full
 * (the closing CRLF is kept room for) */
static int unsupported_add(int *n, const char *s, int len)
{
	if(*n + len + 4 > UAS_HDRS)
		return AOR_E_TOO_LONG;
	if(*n == 0) {
		memcpy(hdrbuf, "Unsupported: ", 13);
		*n = 13;
	} else {
		memcpy(hdrbuf + *n, ", ", 2);
		*n += 2;
	}
	memcpy(hdrbuf + *n, s, len);
	*n += len;
	return 0;
}

/* one Require header body: each option tag we lack is added to the list
 * (RFC 3261 20.32: option-tag *(COMMA option-tag); empty items skipped) */
static int require_scan(const str *body, int *n)
{
	const char *p = body->s, *end = body->s + body->len, *t;
	int ret;

	while(p < end) {
		while(p < end && (is_lws(*p) || *p == ','))
			p++;
		t = p;
		while(p < end && is_token_char((unsigned char)*p))
			p++;
		if(p == t)
			return p < end ? AOR_E_BAD_MSG : 0;
		if(!tag_supported(t, (int)(p - t))
				&& (ret = unsupported_add(n, t, (int)(p - t))) < 0)
			return ret;
		while(p < end && is_lws(*p))
			p++;
		if(p < end && *p != ',')
			return AOR_E_BAD_MSG;
	}
	return 0;
}

/* RFC 3261 8.2.2.3: an option tag of Require we do not understand is a 420
 * with an Unsupported header listing those tags */
static int require_check(sip_msg_t *msg, str *hdrs)
{
	struct hdr_field *h;
	int n = 0, ret;

	for(h = msg->require; h; h = next_sibling_hdr(h))
		if((ret = require_scan(&h->body, &n)) < 0)
			return ret;
	if(n == 0)
		return 0;
	memcpy(hdrbuf + n, "\r\n", 2);
	hdrs->s = hdrbuf;
	hdrs->len = n + 2;
	return AOR_E_BAD_EXTENSION;
}

/* bytes of body: Content-Length, or over UDP without it the rest of the
 * datagram (RFC 3261 18.3) */
static long body_length(sip_msg_t *msg)
{
	char *b;

	if(msg->content_length)
		return get_content_length(msg);
	b = get_body(msg);
	return b ? (long)(msg->buf + msg->len - b) : 0;
}

/* RFC 3261 20.11: handling=optional lets a UAS ignore a body it does not
 * understand; without it, "required" is assumed */
static int body_optional(sip_msg_t *msg)
{
	struct disposition_param *p;

	if(msg->content_disposition == NULL || parse_content_disposition(msg) < 0)
		return 0;
	for(p = get_content_disposition(msg)->params; p; p = p->next)
		if(p->name.len == 8 && strncasecmp(p->name.s, "handling", 8) == 0)
			return p->body.len == 8
				   && strncasecmp(p->body.s, "optional", 8) == 0;
	return 0;
}

static int put(int n, const char *s, int len)
{
	memcpy(hdrbuf + n, s, len);
	return n + len;
}

/* RFC 3261 8.2.3: a registrar understands no body (10.3 gives REGISTER
 * none), so a body that is not optional is a 415 with an Accept header
 * listing no type, and Accept-Encoding / Accept-Language when the body has
 * a content coding / language */
static int body_check(sip_msg_t *msg, str *hdrs)
{
	struct hdr_field *h;
	int coded = 0, lang = 0, n;

	if(body_length(msg) <= 0 || body_optional(msg))
		return 0;
	for(h = msg->headers; h; h = h->next) {
		if(h->type == HDR_CONTENTENCODING_T)
			coded = 1;
		else if(h->type == HDR_OTHER_T && h->name.len == 16
				&& strncasecmp(h->name.s, "Content-Language", 16) == 0)
			lang = 1;
	}
	/* RFC 3261 20.1: an empty Accept means no type is acceptable */
	n = put(0, LIT("Accept: \r\n"));
	/* RFC 3261 20.2: only the identity coding */
	if(coded)
		n = put(n, LIT("Accept-Encoding: identity\r\n"));
	/* RFC 3261 20.3: no language is understood */
	if(lang)
		n = put(n, LIT("Accept-Language: \r\n"));
	hdrs->s = hdrbuf;
	hdrs->len = n;
	return AOR_E_MEDIA_TYPE;
}

int aor_uas_method(sip_msg_t *msg, str *hdrs)
{
	static const char allow[] = "Allow: REGISTER\r\n";

	hdrs->len = 0;
	if(msg->first_line.type != SIP_REQUEST
			|| msg->first_line.u.request.method_value == METHOD_REGISTER)
		return 0;
	/* RFC 3261 8.2.1: a method the UAS does not support is a 405 with an
	 * Allow header listing the methods it does: save() is a registrar */
	hdrs->s = (char *)allow;
	hdrs->len = sizeof(allow) - 1;
	return AOR_E_METHOD;
}

int aor_uas_check(sip_msg_t *msg, str *hdrs)
{
	int ret;

	hdrs->len = 0;
	if(msg->require && (ret = require_check(msg, hdrs)) < 0)
		return ret;
	return body_check(msg, hdrs);
}

/* 1 when the request being processed has a tm transaction; tm's API is
 * bound at the first call, in a worker, after every mod_init */
static int in_transaction(void)
{
	static struct tm_binds tmb;
	static int state = 0; /* 0 not tried, 1 bound, -1 no tm */
	struct cell *c;

	if(state == 0)
		state = find_export("load_tm", NO_SCRIPT, 0) != NULL
								&& load_tm_api(&tmb) == 0
						? 1
						: -1;
	if(state < 0)
		return 0;
	c = tmb.t_gett();
	return c != NULL && c != T_UNDEFINED;
}

/* the copy among b[0..n) whose URI has the bytes of uri, or NULL */
static aor_binding_t *by_uri(aor_binding_t **b, int n, const str *uri)
{
	str u;
	int i;

	for(i = 0; i < n; i++) {
		u = aor_binding_get(b[i], AOR_F_URI);
		if(u.len == uri->len && memcmp(u.s, uri->s, u.len) == 0)
			return b[i];
	}
	return NULL;
}

/* 1 when contact c of req is what the request that made the bindings b
 * asked (a retransmission carries the same bytes): a removal finds its
 * URI gone, any other its binding with req's Call-ID and CSeq and the
 * same granted interval, made less than cseq_delay seconds ago (stock
 * usrloc's get_ucontact(); 20 by default, within Timer F of RFC 3261
 * 17.1.2.2) */
static int repeats(const aor_regreq_t *req, const aor_contact_t *c,
		aor_binding_t **b, int n)
{
	aor_binding_t *m = by_uri(b, n, &c->uri);
	str cid;

	if(c->expires == 0)
		return m == NULL;
	if(m == NULL || m->cseq != req->cseq || m->expires == 0
			|| m->expires - m->modified != c->expires
			|| req->now - m->modified >= aor_params.cseq_delay)
		return 0;
	cid = aor_binding_get(m, AOR_F_CALLID);
	return cid.len == req->callid.len
		   && memcmp(cid.s, req->callid.s, cid.len) == 0;
}

int aor_uas_repeat(
		aor_table_t *t, const aor_regreq_t *req, aor_binding_t ***out)
{
	static aor_binding_t *copies[AOR_REC_MAX];
	int n, i;

	/* a repeated "*" finds its bindings gone, not refused */
	if(req->star || req->ncontacts == 0)
		return AOR_E_CSEQ;
	n = aor_ops_fetch(t, &req->aor, req->now, copies, AOR_REC_MAX);
	if(n < 0)
		return n;
	for(i = 0; i < req->ncontacts; i++)
		if(!repeats(req, &req->contacts[i], copies, n))
			return AOR_E_CSEQ;
	/* RFC 3261 8.2.2.2: another copy of a request already answered */
	if(in_transaction())
		return AOR_E_MERGED;
	*out = copies;
	return n;
}
