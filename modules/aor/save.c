/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * save(): a REGISTER parsed into a struct aor_regreq, applied under its
 * slot lock by merge.c, the current bindings copied out, the lock released,
 * then the reply (RFC 3261 10.3).
 */

#include <ctype.h>
#include <string.h>

#include "db.h"
#include "../../core/parser/parse_to.h"
#include "../../core/parser/parse_cseq.h"
#include "../../core/parser/parse_expires.h"
#include "../../core/parser/parse_uri.h"
#include "../../core/parser/parse_methods.h"
#include "../../core/parser/parse_supported.h"
#include "../../core/parser/parse_content.h"
#include "../../core/parser/contact/parse_contact.h"
#include "../../core/qvalue.h"
#include "../../core/dset.h"
#include "../../core/ut.h"
#include "../../core/resolve.h"
#include "../../core/trim.h"
#include "../../core/mem/mem.h"

#include "contact.h"
#include "lookup.h"
#include "ops.h"
#include "params.h"
#include "save.h"
#include "errors.h"
#include "regfn.h"
#include "regparams.h"
#include "reply.h"
#include "stats.h"
#include "uas.h"

#define SAVE_NOREPLY 0x02
#define SAVE_ONLY_THIS 0x04
#define SAVE_PREPARE 0x10

#define AOR_MAX_URI 1024  /* as Kamailio's MAX_URI_SIZE */
#define AOR_MAX_PATH 4096
#define AOR_MAX_UA 255 /* as registrar's MAX_UA_SIZE */
#define ECHO_LEN(n) ((n) > 128 ? 128 : (n)) /* bytes of input a log repeats */

/* per-process scratch for the parsed contacts and the merge plan */
static aor_contact_t *cts = NULL;
static aor_plan_t *plan = NULL;
static int cts_cap = 0;

static int scratch_reserve(int n)
{
	aor_contact_t *c;
	aor_plan_t *p;

	if(n <= cts_cap)
		return 0;
	c = pkg_realloc(cts, n * sizeof(*c));
	if(c == NULL)
		goto nomem;
	cts = c;
	p = pkg_realloc(plan, n * sizeof(*p));
	if(p == NULL)
		goto nomem;
	plan = p;
	cts_cap = n;
	return 0;
nomem:
	PKG_MEM_ERROR_FMT("for %d contacts\n", n);
	return AOR_E_NOMEM;
}

/* a parameter value without surrounding quotes */
static str unquote(str v)
{
	if(v.len >= 2 && v.s[0] == '"' && v.s[v.len - 1] == '"') {
		v.s++;
		v.len -= 2;
	}
	return v;
}

/* the q the registrar API's set_q_override gave for one request (stock's
 * q_override_msg_id / q_override_value, per process) */
static struct
{
	unsigned int msg_id;
	int pid;
	int16_t q;
} q_override = {0, -1, 0};

int aor_save_set_q_override(sip_msg_t *msg, const str *q)
{
	qvalue_t v;

	if(q == NULL || q->len <= 0 || str2q(&v, q->s, q->len) < 0 || v < 0
			|| v > 1000) {
		LM_ERR("set_q_override: invalid q value\n");
		return -1;
	}
	q_override.msg_id = msg->id;
	q_override.pid = msg->pid;
	q_override.q = (int16_t)v;
	return 1;
}

/* RFC 3261 20.10: q in 0..1, at most three decimals */
static int contact_q(sip_msg_t *msg, const contact_t *c, int16_t *q)
{
	qvalue_t v;
	int ret;

	/* set_q_override (stock: before everything else) */
	if(q_override.pid == msg->pid && q_override.msg_id == msg->id) {
		*q = q_override.q;
		return 0;
	}
	/* xavp_cfg q (stock calc_contact_q) wins over the contact's */
	if((ret = aor_regfn_q(q)) != 0)
		return ret < 0 ? ret : 0;
	if(c->q == NULL) {
		*q = aor_params.default_q;
		return 0;
	}
	if(c->q->body.len == 0 || str2q(&v, c->q->body.s, c->q->body.len) < 0
			|| v < 0 || v > 1000)
		return AOR_E_BAD_Q;
	*q = (int16_t)v;
	return 0;
}

static int contact_expires(const contact_t *c, long long *param)
{
	unsigned int v;
	str s;

	*param = -1;
	if(c->expires == NULL)
		return 0;
	s = c->expires->body;
	trim(&s);
	/* delta-seconds (RFC 3261 25.1): digits only, at most 2^32-1 */
	if(s.len == 0 || s.len > 10 || str2int(&s, &v) < 0)
		return AOR_E_BAD_EXPIRES;
	if(s.len == 10 && strncmp(s.s, "4294967295", 10) > 0)
		return AOR_E_BAD_EXPIRES;
	*param = v;
	return 0;
}

/* RFC 3261 25.1: a URI holds no control character (they are escaped) */
static int has_ctl(const str *s)
{
	int i;

	for(i = 0; i < s->len; i++)
		if((unsigned char)s->s[i] < 0x21 || s->s[i] == 0x7f)
			return 1;
	return 0;
}

/* 0, or AOR_E_* for an empty parameter name or expires or q given twice */
static int contact_params_check(const contact_t *c)
{
	param_t *p;
	int nexp = 0, nq = 0;

	for(p = c->params; p; p = p->next) {
		/* RFC 3261 25.1: a contact-param is a token, never empty */
		if(p->name.len == 0)
			return AOR_E_BAD_CONTACT;
		nexp += p->type == P_EXPIRES;
		nq += p->type == P_Q;
	}
	/* RFC 3261 20.10: one expires, one q; which of two counts is unknown */
	if(nexp > 1)
		return AOR_E_BAD_EXPIRES;
	return nq > 1 ? AOR_E_BAD_Q : 0;
}

static int contact_fill(sip_msg_t *msg, const contact_t *c, long long hdr,
		uint32_t allow, aor_contact_t *o, long *min)
{
	struct sip_uri pu;
	long long param;
	unsigned int v;
	str m;
	int ret;

	memset(o, 0, sizeof(*o));
	o->uri = c->uri;
	/* contact_max_size (stock's check_contacts: 400) */
	if(o->uri.len == 0 || o->uri.len > aor_params.contact_max_size)
		return o->uri.len ? AOR_E_TOO_LONG : AOR_E_BAD_CONTACT;
	/* RFC 3261 10.3 step 8 binds URIs; one that does not parse is refused */
	/* the plain form is checked without the full parser (hot path) */
	if(!aor_uri_simple(&o->uri, &pu.user, &pu.host)
			&& (has_ctl(&o->uri) || parse_uri(o->uri.s, o->uri.len, &pu) < 0))
		return AOR_E_BAD_CONTACT;
	if((ret = contact_params_check(c)) < 0)
		return ret;
	if((ret = contact_q(msg, c, &o->q)) < 0)
		return ret;
	if((ret = contact_expires(c, &param)) < 0)
		return ret;
	ret = aor_regfn_expires(param, hdr, &o->expires);
	if(ret < 0) {
		*min = (long)o->expires;
		return ret;
	}
	/* RFC 3840 / 3261 20.5: the Contact's methods, else the REGISTER's
	 * Allow (as stock registrar), else any */
	o->methods = allow;
	if(c->methods && c->methods->body.len > 0) {
		m = unquote(c->methods->body);
		if(parse_methods(&m, &o->methods) < 0)
			return AOR_E_BAD_CONTACT;
	}
	if(c->instance && c->instance->body.len > 0)
		o->instance = c->instance->body;
	/* RFC 5626 4.2: reg-id is meaningful only with +sip.instance */
	if(c->reg_id && o->instance.len > 0) {
		if(str2int(&c->reg_id->body, &v) < 0 || v == 0 || v > 0x7fffffff)
			return AOR_E_BAD_CONTACT;
		o->reg_id = (int32_t)v;
	}
	return 0;
}

/* RFC 3261 25.1 delta-seconds (1*DIGIT), at most 2^32-1, around which
 * only white space; 0 and *v set, or AOR_E_BAD_EXPIRES */
static int delta_seconds(str t, long long *v)
{
	unsigned long long x = 0;
	int i;

	trim(&t);
	if(t.len == 0 || t.len > 10)
		return AOR_E_BAD_EXPIRES;
	for(i = 0; i < t.len; i++) {
		if(t.s[i] < '0' || t.s[i] > '9')
			return AOR_E_BAD_EXPIRES;
		x = x * 10 + (unsigned long long)(t.s[i] - '0');
	}
	if(x > 4294967295ULL)
		return AOR_E_BAD_EXPIRES;
	*v = (long long)x;
	return 0;
}

static int expires_header(sip_msg_t *msg, long long *hdr)
{
	exp_body_t *e;
	str t;

	*hdr = -1;
	if(msg->expires == NULL)
		return 0;
	/* RFC 3261 7.3.1, 20.19: Expires is single-valued; of two, which
	 * counts is unknowable */
	if(next_sibling_hdr(msg->expires) != NULL)
		return AOR_E_BAD_EXPIRES;
	/* RFC 3261 20.19: delta-seconds, read here without the core's parser
	 * (hot path) unless a module has parsed it already */
	if(msg->expires->parsed == NULL)
		return delta_seconds(msg->expires->body, hdr);
	e = (exp_body_t *)msg->expires->parsed;
	if(e == NULL || !e->valid)
		return AOR_E_BAD_EXPIRES;
	/* RFC 3261 20.19: delta-seconds; the parser wraps values past 2^32-1 */
	t = e->text;
	trim(&t);
	if(t.len > 10 || (t.len == 10 && strncmp(t.s, "4294967295", 10) > 0))
		return AOR_E_BAD_EXPIRES;
	*hdr = e->val;
	return 0;
}

/* the common REGISTER: one Contact header with one plain contact */
static int contact_single(sip_msg_t *msg, aor_regreq_t *req, long long hdr,
		uint32_t allow, long *min)
{
	aor_fast_contact_t fc;
	int ret;

	if(msg->contact == NULL || msg->contact->parsed != NULL
			|| next_sibling_hdr(msg->contact) != NULL
			|| !aor_contact_fast(msg->contact->body, &fc))
		return 1;
	if((ret = scratch_reserve(1)) < 0)
		return ret;
	if((ret = contact_fill(msg, &fc.c, hdr, allow, &cts[0], min)) < 0)
		return ret;
	req->contacts = cts;
	req->ncontacts = 1;
	return 0;
}

/* the methods of the REGISTER's Allow headers, or all when it has none or
 * one does not parse (stock registrar's rule); read with parse_methods,
 * without parse_allow's allocation (hot path) */
static uint32_t allow_methods(sip_msg_t *msg)
{
	struct hdr_field *h;
	unsigned int m, all = 0;
	str body;

	if(msg->allow == NULL)
		return ~0u;
	for(h = msg->allow; h; h = next_sibling_hdr(h)) {
		body = h->body;
		if(parse_methods(&body, &m) < 0)
			return ~0u;
		all |= m;
	}
	return all;
}

/* every Contact of every Contact header; a lone * sets req->star */
static int contacts_parse(sip_msg_t *msg, aor_regreq_t *req, long long hdr,
		long *min)
{
	struct hdr_field *h;
	contact_body_t *cb;
	contact_t *c;
	uint32_t allow = allow_methods(msg);
	str body;
	int n = 0, nhdr = 0, ret;

	if((ret = contact_single(msg, req, hdr, allow, min)) <= 0)
		return ret;
	for(h = msg->contact; h; h = h->next) {
		if(h->type != HDR_CONTACT_T)
			continue;
		nhdr++;
		if(h->parsed == NULL && parse_contact(h) < 0)
			return AOR_E_BAD_CONTACT;
		cb = (contact_body_t *)h->parsed;
		if(cb->star) {
			req->star = 1;
			/* the parser stops at the "*": nothing may follow it */
			body = h->body;
			trim(&body);
			if(body.len != 1)
				return AOR_E_STAR;
		}
		for(c = cb->contacts; c; c = c->next)
			n++;
	}
	/* RFC 3261 10.3 step 6: "*" only alone and only with Expires: 0 */
	if(req->star)
		return (nhdr == 1 && n == 0 && hdr == 0) ? 0 : AOR_E_STAR;
	/* refused before any work under a lock: a record never holds more */
	if(n > AOR_REC_MAX)
		return AOR_E_TOO_MANY;
	if((ret = scratch_reserve(n)) < 0)
		return ret;
	n = 0;
	for(h = msg->contact; h; h = h->next) {
		if(h->type != HDR_CONTACT_T)
			continue;
		cb = (contact_body_t *)h->parsed;
		for(c = cb->contacts; c; c = c->next) {
			if((ret = contact_fill(msg, c, hdr, allow, &cts[n], min)) < 0)
				return ret;
			n++;
		}
	}
	req->contacts = cts;
	req->ncontacts = n;
	return 0;
}

/* RFC 3327 5.3: Path headers joined, stored when the UA supports path */
static int path_parse(sip_msg_t *msg, aor_regreq_t *req, str *echo)
{
	static char buf[AOR_MAX_PATH];
	struct hdr_field *h;
	int len = 0, supported;

	echo->len = 0;
	if(!aor_params.use_path || msg->path == NULL)
		return 0;
	for(h = msg->path; h; h = next_sibling_hdr(h)) {
		if(len + h->body.len + 1 > AOR_MAX_PATH)
			return AOR_E_TOO_LONG;
		if(len > 0)
			buf[len++] = ',';
		memcpy(buf + len, h->body.s, h->body.len);
		len += h->body.len;
	}
	req->path.s = buf;
	req->path.len = len;
	supported = parse_supported(msg) == 0
				&& (get_supported(msg) & F_OPTION_TAG_PATH);
	if(!supported && aor_params.path_mode == AOR_PATH_STRICT)
		return AOR_E_PATH;
	if(supported && aor_params.path_mode != AOR_PATH_OFF)
		*echo = req->path;
	return 0;
}

/* RFC 3581 4: a UA behind NAT sends from an address other than the one in
 * its top Via; the binding is then reached at the source. A third-party
 * registration (RFC 3261 10.2) from a public address keeps its Contact. */
static int behind_nat(sip_msg_t *msg)
{
	struct via_body *v = msg->via1;
	struct ip_addr *va;
	unsigned char a[4];
	char *ip;
	unsigned short port;

	if(v == NULL)
		return 0;
	port = v->port ? v->port : SIP_PORT;
	if(port != msg->rcv.src_port)
		return 1;
	/* an IPv4 Via host compared as an address (hot path) */
	if(msg->rcv.src_ip.af == AF_INET) {
		if(aor_ipv4_parse(&v->host, a))
			return memcmp(a, msg->rcv.src_ip.u.addr, 4) != 0;
		if((va = str2ip(&v->host)) != NULL)
			return !ip_addr_cmp(va, &msg->rcv.src_ip);
	}
	ip = ip_addr2strz(&msg->rcv.src_ip);
	return (int)strlen(ip) != v->host.len
		   || strncasecmp(ip, v->host.s, v->host.len) != 0;
}

/* 1 when the request came from an address other than the Contact's */
static int source_differs(sip_msg_t *msg, const str *contact)
{
	struct sip_uri u;
	char *ip;
	unsigned short port;

	if(parse_uri(contact->s, contact->len, &u) < 0)
		return 1;
	ip = ip_addr2strz(&msg->rcv.src_ip);
	port = u.port_no ? u.port_no : (u.type == SIPS_URI_T ? SIPS_PORT : SIP_PORT);
	return port != msg->rcv.src_port || (int)strlen(ip) != u.host.len
		   || strncasecmp(ip, u.host.s, u.host.len) != 0;
}

/* nat_source 1: behind NAT by RFC 3581; 2: whenever the source is not the
 * Contact's address (third-party registrations then route to the
 * registering client) */
static int use_source(sip_msg_t *msg, const aor_regreq_t *req)
{
	if(req->path.len > 0 || req->ncontacts == 0)
		return 0;
	if(aor_params.nat_source == 1)
		return behind_nat(msg);
	if(aor_params.nat_source == 2)
		return source_differs(msg, &req->contacts[0].uri);
	return 0;
}

/* the source address the binding is reached at (NAT), as stock's
 * received_avp holds it: sip:ip:port;transport=proto */
static void set_received(sip_msg_t *msg, aor_regreq_t *req)
{
	static char buf[96];
	pv_value_t v;

	req->received.len = 0;
	if(aor_received_avp) {
		memset(&v, 0, sizeof(v));
		if(pv_get_spec_value(msg, aor_received_avp, &v) == 0
				&& (v.flags & PV_VAL_STR) && v.rs.len > 0
				&& v.rs.len <= AOR_MAX_URI) {
			req->received = v.rs;
			return;
		}
	}
	if(!use_source(msg, req))
		return;
	req->received.s = buf;
	req->received.len = snprintf(buf, sizeof(buf), "sip:%s:%u%s%s",
			ip_addr2strz(&msg->rcv.src_ip), msg->rcv.src_port,
			msg->rcv.proto == PROTO_UDP ? "" : ";transport=",
			msg->rcv.proto == PROTO_UDP ? "" : proto2a(msg->rcv.proto));
}

/* path_use_received (stock build_path_vector): the received parameter of
 * the first Path hop is the UA's address, and the binding is NAT-flagged */
static int path_received(aor_regreq_t *req)
{
	static char buf[AOR_MAX_URI];
	str r;
	int ret;

	if(!aor_params.path_use_received || req->path.len == 0)
		return 0;
	ret = aor_regfn_path_received(&req->path, buf, sizeof(buf), &r);
	if(ret <= 0)
		return ret;
	req->received = r;
	if(aor_params.nat_bflag >= 0)
		req->cflags |= 1u << aor_params.nat_bflag;
	return 0;
}

/* RFC 3261 18.3: a datagram that ends before the body its Content-Length
 * announces is an error (400) */
static int body_complete(sip_msg_t *msg)
{
	char *body;

	if(msg->rcv.proto != PROTO_UDP || msg->content_length == NULL
			|| get_content_length(msg) == 0)
		return 1;
	body = get_body(msg);
	return body != NULL
		   && get_content_length(msg) <= (long)(msg->buf + msg->len - body);
}

/* 1 when s starts with a URI scheme and ':' (RFC 3986 3.1) */
static int has_scheme(const str *s)
{
	int i;

	for(i = 0; i < s->len; i++) {
		if(s->s[i] == ':')
			return i > 0;
		if(!isalpha((unsigned char)s->s[i])
				&& (i == 0
						|| (!isdigit((unsigned char)s->s[i]) && s->s[i] != '+'
								&& s->s[i] != '-' && s->s[i] != '.')))
			return 0;
	}
	return 0;
}

/* RFC 3261 10.3 step 1: the Request-URI names the registrar's domain. One
 * that does not parse is a 400; a registrar knows only sip: and sips:
 * (8.2.2.1: 416 for another scheme) */
static int ruri_check(sip_msg_t *msg)
{
	str *u = &msg->first_line.u.request.uri, user, host;

	if(msg->first_line.type != SIP_REQUEST)
		return AOR_E_BAD_RURI;
	/* the plain form is checked without the full parser (hot path) */
	if(msg->new_uri.s == NULL && aor_uri_simple(u, &user, &host))
		return 0;
	if(parse_sip_msg_uri(msg) > 0)
		return (msg->parsed_uri.type == SIP_URI_T
					   || msg->parsed_uri.type == SIPS_URI_T)
					   ? 0
					   : AOR_E_RURI_SCHEME;
	if(!has_scheme(u) || (u->len > 4 && strncasecmp(u->s, "sip:", 4) == 0)
			|| (u->len > 5 && strncasecmp(u->s, "sips:", 5) == 0))
		return AOR_E_BAD_RURI;
	return AOR_E_RURI_SCHEME;
}

/* RFC 3261 8.1.1.5: the CSeq method matches the request's, byte for byte
 * (methods are case-sensitive, 7.1) */
static int cseq_method_ok(sip_msg_t *msg)
{
	str *m = &get_cseq(msg)->method;
	str *r = &msg->first_line.u.request.method;

	return m->len == r->len && memcmp(m->s, r->s, r->len) == 0;
}

static int parse_request(sip_msg_t *msg, str *uri, aor_regreq_t *req,
		char *keybuf, str *echo_path, long *min, str *extra)
{
	struct socket_info *si;
	unsigned int cseq;
	long long hdr;
	str s;
	int ret;

	if(parse_headers(msg, HDR_EOH_F, 0) < 0 || !body_complete(msg))
		return AOR_E_BAD_MSG;
	/* RFC 3261 8.2.1, 8.2.2.1, 8.2.2.3, 8.2.3: the checks of a UAS */
	if((ret = aor_uas_method(msg, extra)) < 0 || (ret = ruri_check(msg)) < 0
			|| (ret = aor_uas_check(msg, extra)) < 0)
		return ret;
	if(uri == NULL) {
		if(msg->to == NULL || (msg->to->parsed == NULL
				&& parse_to_header(msg) < 0))
			return AOR_E_BAD_AOR;
		uri = &get_to(msg)->uri;
	}
	if(aor_params_key(uri, keybuf, &req->aor) < 0) {
		AOR_WARN_LIMITED("REGISTER: no AoR in <%.*s>", ECHO_LEN(uri->len),
				uri->s);
		return AOR_E_BAD_AOR;
	}
	req->hash = aor_hash(&req->aor);
	if(msg->callid == NULL || msg->callid->body.len == 0)
		return AOR_E_BAD_CALLID;
	req->callid = msg->callid->body;
	trim(&req->callid);
	if(msg->cseq == NULL || msg->cseq->parsed == NULL)
		return AOR_E_BAD_CSEQ;
	s = get_cseq(msg)->number;
	if(str2int(&s, &cseq) < 0 || !cseq_method_ok(msg))
		return AOR_E_BAD_CSEQ;
	req->cseq = cseq;
	if((ret = expires_header(msg, &hdr)) < 0)
		return ret;
	if((ret = contacts_parse(msg, req, hdr, min)) < 0)
		return ret;
	if((ret = path_parse(msg, req, echo_path)) < 0)
		return ret;
	set_received(msg, req);
	if(msg->user_agent) {
		req->user_agent = msg->user_agent->body;
		/* as stock's save.c: a User-Agent of MAX_UA_SIZE or more is not
		 * kept at all (usrloc's user_agent column is varchar(255)) */
		if(req->user_agent.len >= AOR_MAX_UA)
			req->user_agent.len = 0;
	}
	if(msg->rcv.bind_address) {
		req->sock = msg->rcv.bind_address;
		/* sock_mode 1: the advertised address is kept (stock); the
		 * binding is still sent over the socket it came in on */
		req->sock_str = aor_rparams_sock_str(msg->rcv.bind_address);
	}
	/* sock_flag: the socket xavp_cfg names, as stock */
	if(aor_params.sock_flag >= 0 && (si = aor_regfn_socket(msg)) != NULL) {
		req->sock = si;
		req->sock_str = si->sock_str;
	}
	/* the connection a connection-bound binding is reached over (as
	 * stock's tcpconn_id); 0 for UDP and SCTP */
	if(msg->rcv.proto == PROTO_TCP || msg->rcv.proto == PROTO_TLS
			|| msg->rcv.proto == PROTO_WS || msg->rcv.proto == PROTO_WSS)
		req->conn_id = msg->rcv.proto_reserved1;
	getbflagsval(0, &req->cflags);
	return path_received(req);
}

/* RFC 5627 5.1: with gruu_enabled, a REGISTER that says Supported: gruu
 * gets GRUUs for its bindings with an instance ID; they are in the domain
 * of the To URI, as stock's. Returns that host, or NULL for no GRUUs. */
static const str *gruu_host(sip_msg_t *msg, aor_binding_t **b, int n)
{
	static str host;
	struct sip_uri *u;

	int i;

	/* only a binding with an instance ID has GRUUs: most REGISTERs never
	 * need their Supported header parsed */
	for(i = 0; i < n && aor_binding_get(b[i], AOR_F_INSTANCE).len == 0; i++)
		;
	if(i == n)
		return NULL;
	if(parse_supported(msg) < 0 || !(get_supported(msg) & F_OPTION_TAG_GRUU))
		return NULL;
	if((u = parse_to_uri(msg)) == NULL || u->host.len == 0)
		return NULL;
	host = u->host;
	return &host;
}

/* Applies req under its slot lock (ops.c) and copies the result out.
 * Returns the number of current bindings (in *out) or an AOR_E_*. */
static int apply(aor_table_t *t, aor_regreq_t *req, aor_binding_t ***out)
{
	static aor_binding_t *copies[AOR_REC_MAX];

	*out = copies;
	return aor_ops_save(t, req, aor_regfn_limits(), plan, AOR_ORIG_LOCAL,
			copies, AOR_REC_MAX);
}

static int finish(
		sip_msg_t *msg, int flags, int err, long min, const str *extra)
{
	/* stock: 0x02 sends nothing (reg_send_reply() may, later); 0x10 adds
	 * the reply's headers now, and only with 0x02 */
	if(flags & SAVE_NOREPLY) {
		aor_regfn_hold(msg, err, min, extra, flags & SAVE_PREPARE);
		return 0;
	}
	if(err < 0)
		aor_reply_error_headers(msg, err, min, extra);
	return aor_reply_send(msg, err);
}

/* A flood against a full table would log a line per REGISTER: one per
 * process every AOR_WARN_EVERY seconds, with how many went unlogged
 * (rejected_no_memory and rejected_max_bindings count them all). */
static void full_warn(aor_table_t *t, const str *aor, int err)
{
	AOR_WARN_LIMITED("table %.*s: REGISTER for %.*s refused: %s", t->name.len,
			t->name.s, aor->len, aor->s,
			err == AOR_E_NOMEM ? "shared memory full or down to shm_reserve"
							   : "max_bindings reached");
}

int ki_aor_save(sip_msg_t *msg, str *table, int flags, str *uri)
{
	aor_table_t *t = aor_table_get(table);

	return t ? aor_save(msg, t, flags, uri) : -1;
}

int aor_save(sip_msg_t *msg, aor_table_t *t, int flags, str *uri)
{
	char keybuf[AOR_KEY_BUF];
	aor_regreq_t req;
	aor_binding_t **b = NULL;
	str echo_path = STR_NULL, extra = STR_NULL;
	long min = 0;
	int ret, n, done, i;

	memset(&req, 0, sizeof(req));
	req.now = aor_now();
	req.only_this = (flags & SAVE_ONLY_THIS) != 0;
	aor_regfn_save_begin(msg, flags);
	ret = parse_request(msg, uri, &req, keybuf, &echo_path, &min, &extra);
	if(ret < 0)
		goto error;
	/* db_mode 3: the AoR as the database holds it now */
	if((ret = aor_db_pull(t, &req.aor)) < 0)
		goto error;
	n = apply(t, &req, &b);
	/* RFC 3261 17.2.2, 8.2.2.2: a retransmission or a merged copy */
	if(n == AOR_E_CSEQ)
		n = aor_uas_repeat(t, &req, &b);
	/* db_mode 1: the reply says the binding is stored, in the database
	 * too; db_mode 3: an error when it could not be written */
	if(n >= 0 && (ret = aor_db_sync()) < 0)
		n = ret;
	if(n < 0) {
		ret = n;
		goto error;
	}
	if(aor_reply_ok_headers(msg, b, n, req.now, &echo_path,
			   aor_params.gruu_enabled ? gruu_host(msg, b, n) : NULL)
			< 0) {
		ret = AOR_E_INTERNAL;
		goto error;
	}
	/* as stock's build_contact: xavp_rcd gets every binding the 200 lists */
	if(aor_params.xavp_rcd != NULL && *aor_params.xavp_rcd != '\0')
		for(i = 0; i < n; i++)
			aor_regfn_rcd(b[i], req.now);
	aor_stat_add(AOR_ST_ACCEPTED, 1);
	/* read before an event route's save() reuses the plan */
	done = aor_merge_result(&req, plan);
	ret = finish(msg, flags, 0, 0, NULL);
	/* the reply is out: the script events of the changes may run */
	aor_ops_done();
	return ret < 0 ? -1 : done;

error:
	LM_DBG("REGISTER for %.*s refused: error %d\n", req.aor.len, req.aor.s,
			ret);
	if(ret == AOR_E_NOMEM || ret == AOR_E_TABLE_FULL)
		full_warn(t, &req.aor, ret);
	aor_stat_rejected(ret);
	finish(msg, flags, ret, min, &extra);
	aor_ops_done();
	return ret == AOR_E_TOO_MANY ? -2 : -1;
}
