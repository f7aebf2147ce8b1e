/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * REGISTER replies (see reply.h).
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../core/data_lump_rpl.h"
#include "../../core/mem/mem.h"
#include "../../core/dprint.h"

#include "../../modules/sl/sl.h"

#include "params.h"
#include "errors.h"
#include "gruu.h"
#include "reply.h"

static sl_api_t aor_slb;

int aor_reply_init(void)
{
	if(sl_load_api(&aor_slb) != 0) {
		LM_ERR("cannot bind to the sl module (load it before aor)\n");
		return -1;
	}
	return 0;
}

typedef struct aor_errinfo
{
	int code;
	const char *reason;
	const char *info; /* P-Registrar-Error */
	int reason_size;  /* with its NUL */
} aor_errinfo_t;

/* clang-format off */
#define ERRINFO(code, reason, info) {code, reason, info, sizeof(reason)}
static const aor_errinfo_t aor_errtab[AOR_E_COUNT] = {
	[0] = ERRINFO(200, "OK", ""),
	[-AOR_E_NOMEM] = ERRINFO(503, "Service Unavailable", "Out of memory"),
	[-AOR_E_TABLE_FULL] = ERRINFO(503, "Service Unavailable",
		"Too many registered contacts in the location table"),
	[-AOR_E_TOO_MANY] = ERRINFO(503, "Service Unavailable",
		"Too many registered contacts"),
	[-AOR_E_TOO_BRIEF] = ERRINFO(423, "Interval Too Brief", "Expires too low"),
	[-AOR_E_STAR] = ERRINFO(400, "Bad Request",
		"Invalid wildcard: * needs Expires: 0 and no other contact"),
	[-AOR_E_BAD_Q] = ERRINFO(400, "Bad Request", "Invalid q value"),
	[-AOR_E_BAD_EXPIRES] = ERRINFO(400, "Bad Request", "Invalid expires value"),
	[-AOR_E_BAD_CONTACT] = ERRINFO(400, "Bad Request", "Bad Contact header"),
	[-AOR_E_BAD_AOR] = ERRINFO(400, "Bad Request", "Bad address of record"),
	[-AOR_E_TOO_LONG] = ERRINFO(400, "Bad Request", "Contact or header too long"),
	[-AOR_E_CSEQ] = ERRINFO(400, "Bad Request",
		"Invalid CSeq number (not higher than the stored one)"),
	[-AOR_E_BAD_CALLID] = ERRINFO(400, "Bad Request", "Call-ID header missing"),
	[-AOR_E_BAD_CSEQ] = ERRINFO(400, "Bad Request", "CSeq header missing or bad"),
	[-AOR_E_PATH] = ERRINFO(420, "Bad Extension", "Path not supported by the UA"),
	[-AOR_E_NOT_FOUND] = ERRINFO(404, "Not Found", "No such address of record"),
	[-AOR_E_BAD_INSTANCE] = ERRINFO(400, "Bad Request", "Bad +sip.instance"),
	[-AOR_E_INTERNAL] = ERRINFO(500, "Server Internal Error", "Internal error"),
	[-AOR_E_BAD_MSG] = ERRINFO(400, "Bad Request", "Malformed request"),
	[-AOR_E_BAD_RURI] = ERRINFO(400, "Bad Request", "Bad Request-URI"),
	[-AOR_E_RURI_SCHEME] = ERRINFO(416, "Unsupported URI Scheme",
		"Request-URI scheme not supported"),
	[-AOR_E_BAD_EXTENSION] = ERRINFO(420, "Bad Extension",
		"Required extension not supported"),
	[-AOR_E_MEDIA_TYPE] = ERRINFO(415, "Unsupported Media Type",
		"A registrar takes no message body"),
	[-AOR_E_METHOD] = ERRINFO(405, "Method Not Allowed",
		"save() takes REGISTER only"),
	[-AOR_E_MERGED] = ERRINFO(482, "Loop Detected",
		"Merged request: Call-ID and CSeq of a REGISTER already processed"),
	[-AOR_E_DB] = ERRINFO(503, "Service Unavailable",
		"The location database is unreachable"),
};
/* clang-format on */

static const aor_errinfo_t *errinfo(int err)
{
	if(err > 0 || err <= -AOR_E_COUNT || aor_errtab[-err].code == 0)
		err = AOR_E_INTERNAL;
	return &aor_errtab[-err];
}

static int add_hdr(sip_msg_t *msg, const char *buf, int len)
{
	if(add_lump_rpl(msg, (char *)buf, len, LUMP_RPL_HDR) == NULL) {
		LM_ERR("cannot add a reply header (%d bytes)\n", len);
		return -1;
	}
	return 0;
}

/* The 200 OK is built by hand, without stdio: it is on the path of every
 * REGISTER (sprintf and strftime cost more than the registration). */

static char *put(char *p, const char *s, int len)
{
	memcpy(p, s, len);
	return p + len;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_ulong(char *p, unsigned long v)
{
	char t[24];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while(v);
	while(n > 0)
		*p++ = t[--n];
	return p;
}

static char *put_2d(char *p, int v)
{
	*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* RFC 3261 20.10 qvalue from thousandths: 500 -> "0.5", 1000 -> "1" */
static char *put_q(char *p, int q)
{
	if(q >= 1000)
		return PUT_LIT(p, "1");
	p = PUT_LIT(p, "0.");
	*p++ = (char)('0' + q / 100);
	if(q % 100 != 0)
		*p++ = (char)('0' + q / 10 % 10);
	if(q % 10 != 0)
		*p++ = (char)('0' + q % 10);
	return p;
}

/* bytes gruus_put may write for b (host: not NULL) */
static size_t gruus_size(const aor_binding_t *b, const str *host)
{
	str aor = aor_binding_get(b, AOR_F_AOR);
	str inst = aor_binding_get(b, AOR_F_INSTANCE);

	if(inst.len == 0)
		return 0;
	return sizeof(";pub-gruu=\"\"") + aor_gruu_pub_len(&aor, host, &inst)
		   + sizeof(";temp-gruu=\"sip:@;gr\"") + host->len
		   + aor_gruu_temp_user_len(aor.len);
}

/* RFC 5627 5.1: the public and the temporary GRUU of a binding with an
 * instance ID, quoted, as stock registrar's build_contact writes them; the
 * temporary one names this binding under its Call-ID and CSeq (gruu.h) */
static char *gruus_put(char *p, const aor_binding_t *b, const str *host)
{
	str aor = aor_binding_get(b, AOR_F_AOR);
	str inst = aor_binding_get(b, AOR_F_INSTANCE);
	str cid = aor_binding_get(b, AOR_F_CALLID);
	aor_gruu_temp_t t;

	p = PUT_LIT(p, ";pub-gruu=\"");
	p = aor_gruu_pub_put(p, &aor, host, &inst);
	*p++ = '"';
	if(aor.len > AOR_GRUU_AOR_MAX)
		return p; /* no key is that long (uri.h) */
	t.aor = aor;
	t.id = b->id;
	t.cseq = b->cseq;
	t.callid = aor_gruu_callid_tag(&cid);
	p = PUT_LIT(p, ";temp-gruu=\"sip:");
	p += aor_gruu_temp_user(&t, p);
	*p++ = '@';
	p = put(p, host->s, host->len);
	return PUT_LIT(p, ";gr\"");
}

/* bytes contact_put may write for b */
static size_t contact_size(const aor_binding_t *b, const str *gruu_host)
{
	const char *rp = aor_params.received_param;
	str rcv = aor_binding_get(b, AOR_F_RECEIVED);

	return aor_binding_get(b, AOR_F_URI).len
		   + aor_binding_get(b, AOR_F_INSTANCE).len + rcv.len
		   + (rcv.len > 0 && rp ? strlen(rp) : 0) + 96
		   + (gruu_host ? gruus_size(b, gruu_host) : 0);
}

/* one Contact value */
static char *contact_put(
		char *p, const aor_binding_t *b, time_t now, const str *gruu_host)
{
	str uri = aor_binding_get(b, AOR_F_URI);
	str inst = aor_binding_get(b, AOR_F_INSTANCE);
	str rcv = aor_binding_get(b, AOR_F_RECEIVED);
	const char *rp = aor_params.received_param;

	*p++ = '<';
	p = put(p, uri.s, uri.len);
	p = PUT_LIT(p, ">;expires=");
	/* a permanent binding (made by an operator) shows the largest
	 * delta-seconds RFC 3261 allows */
	p = put_ulong(p, b->expires == 0 ? 4294967295UL
									 : (unsigned long)aor_binding_left(b, now));
	if(b->q != AOR_Q_UNSPEC) {
		p = PUT_LIT(p, ";q=");
		p = put_q(p, b->q);
	}
	if(gruu_host != NULL && inst.len > 0)
		p = gruus_put(p, b, gruu_host);
	/* RFC 5626 4.1: the instance is a quoted string; the parser hands it
	 * over without its quotes */
	if(inst.len > 0) {
		p = PUT_LIT(p, ";+sip.instance=");
		if(inst.s[0] != '"')
			*p++ = '"';
		p = put(p, inst.s, inst.len);
		if(inst.s[0] != '"')
			*p++ = '"';
	}
	if(b->reg_id > 0) {
		p = PUT_LIT(p, ";reg-id=");
		p = put_ulong(p, (unsigned long)b->reg_id);
	}
	/* as the stock registrar: the NAT source, under received_param */
	if(rcv.len > 0 && rp != NULL && *rp != '\0') {
		*p++ = ';';
		p = put(p, rp, strlen(rp));
		p = PUT_LIT(p, "=\"");
		p = put(p, rcv.s, rcv.len);
		*p++ = '"';
	}
	return p;
}

/* RFC 3261 20.17 / RFC 1123 date of now, formatted once per second per
 * process ("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n") */
static str date_header(time_t now)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static char buf[48];
	static time_t at = -1;
	static int len;
	struct tm tm;
	char *p = buf;

	if(now != at) {
		gmtime_r(&now, &tm);
		p = PUT_LIT(p, "Date: ");
		p = put(p, days + 3 * tm.tm_wday, 3);
		p = PUT_LIT(p, ", ");
		p = put_2d(p, tm.tm_mday);
		*p++ = ' ';
		p = put(p, months + 3 * tm.tm_mon, 3);
		*p++ = ' ';
		p = put_ulong(p, (unsigned long)tm.tm_year + 1900);
		*p++ = ' ';
		p = put_2d(p, tm.tm_hour);
		*p++ = ':';
		p = put_2d(p, tm.tm_min);
		*p++ = ':';
		p = put_2d(p, tm.tm_sec);
		p = PUT_LIT(p, " GMT\r\n");
		len = (int)(p - buf);
		at = now;
	}
	return (str){buf, len};
}

/* room for the usual 200 OK without an allocation of our own */
#define REPLY_BUF 4096

int aor_reply_ok_headers(sip_msg_t *msg, aor_binding_t **b, int n, time_t now,
		const str *path, const str *gruu_host)
{
	static char local[REPLY_BUF];
	size_t need = 128 + (path ? path->len : 0);
	char *buf = local, *p;
	str date;
	int i, ret;

	for(i = 0; i < n; i++)
		need += contact_size(b[i], gruu_host) + 2;
	if(need > sizeof(local) && (buf = pkg_malloc(need)) == NULL) {
		PKG_MEM_ERROR_FMT("%zu bytes for the reply\n", need);
		return -1;
	}
	p = buf;
	if(n > 0) {
		p = PUT_LIT(p, "Contact: ");
		for(i = 0; i < n; i++) {
			if(i > 0)
				p = PUT_LIT(p, ", ");
			p = contact_put(p, b[i], now, gruu_host);
		}
		p = PUT_LIT(p, "\r\n");
	}
	/* RFC 3261 10.3 step 8: the 200 OK SHOULD carry a Date header */
	date = date_header(now);
	p = put(p, date.s, date.len);
	if(path && path->len > 0) {
		p = PUT_LIT(p, "Path: ");
		p = put(p, path->s, path->len);
		p = PUT_LIT(p, "\r\n");
	}
	ret = add_hdr(msg, buf, (int)(p - buf)); /* copies buf */
	if(buf != local)
		pkg_free(buf);
	return ret;
}

int aor_reply_error_headers(
		sip_msg_t *msg, int err, long min_expires, const str *extra)
{
	const aor_errinfo_t *e = errinfo(err);
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), "P-Registrar-Error: %s\r\n", e->info);
	add_hdr(msg, buf, n);
	if(err == AOR_E_TOO_BRIEF) {
		/* RFC 3261 10.3 step 7 / 20.23: 423 carries Min-Expires */
		n = snprintf(buf, sizeof(buf), "Min-Expires: %ld\r\n", min_expires);
		add_hdr(msg, buf, n);
	}
	if(err == AOR_E_PATH) {
		/* RFC 3327 5.3: tell the UA which extension was missing */
		n = snprintf(buf, sizeof(buf), "Unsupported: path\r\n");
		add_hdr(msg, buf, n);
	}
	if(extra && extra->len > 0)
		add_hdr(msg, extra->s, extra->len);
	if(e->code >= 500 && aor_params.retry_after > 0) {
		/* RFC 3261 21.5.4: a 503 MAY carry Retry-After */
		n = snprintf(buf, sizeof(buf), "Retry-After: %d\r\n",
				aor_params.retry_after);
		add_hdr(msg, buf, n);
	} else if(err == AOR_E_DB) {
		/* RFC 3261 21.5.4: the outage is transient, the database is
		 * retried every second: try again shortly */
		add_hdr(msg, "Retry-After: 5\r\n", 15);
	}
	return e->code;
}

int aor_reply_send(sip_msg_t *msg, int err)
{
	const aor_errinfo_t *e = errinfo(err);
	str reason;

	/* with its NUL counted, sl uses the reason as it is instead of
	 * copying it to a NUL-terminated buffer (one allocation per reply) */
	reason.s = (char *)e->reason;
	reason.len = e->reason_size;
	if(aor_slb.freply(msg, e->code, &reason) < 0) {
		LM_ERR("cannot send %d %s\n", e->code, e->reason);
		return -1;
	}
	/* one final reply per request (RFC 3261 8.2.6): a later
	 * sl_send_reply()/sl_reply_error() of the script sends nothing */
	msg->msg_flags |= FL_MSG_NOREPLY;
	return 0;
}
