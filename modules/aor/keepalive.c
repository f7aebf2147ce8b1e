/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Keepalive of registered contacts, as stock usrloc 5.6's ul_keepalive.c:
 * the same request (method, Via, Route from Path, From with the tag that
 * carries ruid, AoR hash and send time, To, Call-ID, CSeq), to the same
 * place (received address, else the first Path hop, else the Contact),
 * over the socket and connection the binding registered on, and the same
 * reply matching (the From tag). Unlike stock, which pings a whole table
 * under its slot locks once per timer_interval, the maintenance process
 * pings a slice of the slots every 100 ms, copying the bindings out under
 * each slot's lock and sending after the unlock.
 */

#include <string.h>
#include <sys/time.h>

#include "../../core/dprint.h"
#include "../../core/ut.h"
#include "../../core/pvar.h"
#include "../../core/resolve.h"
#include "../../core/forward.h"
#include "../../core/globals.h"
#include "../../core/pt.h"
#include "../../core/sr_module.h"
#include "../../core/rand/fastrand.h"
#include "../../core/parser/parse_uri.h"
#include "../../core/parser/parse_from.h"
#include "../../core/parser/parse_rr.h"

#include "keepalive.h"
#include "ops.h"
#include "params.h"
#include "stats.h"

#define KA_NONE 0
#define KA_NAT (1 << 1)
#define KA_UDP (1 << 2)
#define TICKS_PER_SEC 10
#define KA_COPY_BYTES (1 << 20) /* bindings copied out per tick, at most */
#define KA_MSG_MAX 2048

#define KA_CALLID_PREFIX "ksrulka-"
/* stock's ULKA_MSG, byte for byte */
#define KA_MSG                                                    \
	"%.*s %.*s SIP/2.0\r\n"                                       \
	"Via: SIP/2.0/%.*s %s%.*s%s:%.*s;branch=z9hG4bKx.%u.%u.0\r\n" \
	"%s%.*s%.*s"                                                  \
	"From: <%.*s>;tag=%.*s-%x-%lx-%lx-%x.%x\r\n"                  \
	"To: <sip:%.*s%s%.*s>\r\n"                                    \
	"Call-ID: " KA_CALLID_PREFIX "%x-%x-%x.%x\r\n"                \
	"CSeq: 80 %.*s\r\n"                                           \
	"Content-Length: 0\r\n\r\n"

static str ka_from, ka_domain, ka_method;
static pv_elem_t *ka_logfmt = NULL;
static unsigned int ka_counter = 0; /* per tick, as stock's per record */
static unsigned int ka_ticks = 0;

/* the bindings of one tick, copied whole (aor_binding_size bytes each) */
typedef struct ka_buf
{
	char *p;
	size_t used;
	int n;
	int dropped;
} ka_buf_t;
static char *ka_arena = NULL;

int aor_ka_init(void)
{
	ka_from.s = aor_params.ka_from;
	ka_from.len = strlen(ka_from.s);
	ka_domain.s = aor_params.ka_domain;
	ka_domain.len = strlen(ka_domain.s);
	ka_method.s = aor_params.ka_method;
	ka_method.len = strlen(ka_method.s);
	if(ka_method.len == 0) {
		LM_ERR("modparam ka_method is empty\n");
		return -1;
	}
	/* as stock: parsed only when keepalives are on (the default format
	 * names $tu, which needs pv.so: a config without it still starts) */
	if(aor_params.ka_mode != 0 && aor_params.ka_logmsg
			&& *aor_params.ka_logmsg) {
		str s = {aor_params.ka_logmsg, strlen(aor_params.ka_logmsg)};
		if(pv_parse_format(&s, &ka_logfmt) < 0) {
			LM_ERR("modparam ka_logmsg=\"%.64s\" is not a format\n", s.s);
			return -1;
		}
	}
	return 0;
}

/* under the slot lock: copy the bindings the keepalive wants */
static void collect_cb(const aor_binding_t *b, void *arg)
{
	ka_buf_t *kb = arg;
	size_t size = aor_binding_size(b);
	int nat = aor_params.nat_bflag;

	if(aor_binding_get(b, AOR_F_URI).len <= 0)
		return;
	if(aor_params.ka_mode & KA_NAT) {
		if(nat < 0 || !(b->cflags & (1u << nat)))
			return;
	}
	size = (size + 7) & ~(size_t)7;
	if(kb->used + size > KA_COPY_BYTES) {
		kb->dropped++;
		return;
	}
	memcpy(kb->p + kb->used, b, aor_binding_size(b));
	kb->used += size;
	kb->n++;
}

/* the last sign of life: the last answer, or the last REGISTER when later */
static time_t last_alive(const aor_binding_t *b)
{
	return b->ka_last > b->modified ? b->ka_last : b->modified;
}

/* stock: a contact silent for ka_timeout is not pinged and expires in 10
 * s (removed then by the expiry walk, through the journal). Returns 1
 * when b is past the timeout and was just given its 10 s. */
static int timed_out(aor_table_t *t, const aor_binding_t *b, time_t now)
{
	time_t last = last_alive(b);

	if(aor_params.ka_timeout <= 0 || last + aor_params.ka_timeout >= now)
		return 0;
	if(b->expires != 0 && b->expires <= now + 10)
		return 0;
	LM_DBG("keepalive timeout of binding %llu (last %ld)\n",
			(unsigned long long)b->id, (long)last);
	if(aor_ops_expire_by(t, b->hash, b->id, now + 10, AOR_ORIG_LOCAL) == 1)
		aor_stat_add(AOR_ST_KA_TIMEOUT, 1);
	return 1;
}

/* where to send: received, else the first Path hop, else the Contact */
static int ka_dest(const aor_binding_t *b, dest_info_t *dst, int *proto)
{
	str sdst = aor_binding_get(b, AOR_F_RECEIVED);
	str path = aor_binding_get(b, AOR_F_PATH);
	struct hostent *he;
	sip_uri_t duri;
	char dproto;

	if(sdst.len <= 0) {
		if(path.len > 0) {
			if(get_path_dst_uri(&path, &sdst) < 0)
				return -1;
		} else {
			sdst = aor_binding_get(b, AOR_F_URI);
		}
	}
	if(parse_uri(sdst.s, sdst.len, &duri) < 0)
		return -1;
	if(duri.port_no == 0)
		duri.port_no = SIP_PORT;
	dproto = duri.proto;
	he = sip_resolvehost(&duri.host, &duri.port_no, &dproto);
	if(he == NULL)
		return -1;
	if((aor_params.ka_mode & KA_UDP) && dproto != PROTO_UDP)
		return 1;
	init_dest_info(dst);
	hostent2su(&dst->to, he, 0, duri.port_no);
	dst->send_sock = b->sock ? (struct socket_info *)b->sock
							 : get_send_socket(0, &dst->to, dproto);
	if(dst->send_sock == NULL)
		return -1;
	dst->proto = dproto;
	dst->id = b->conn_id;
	*proto = dproto;
	return 0;
}

/* builds stock's request for b into buf; its length, or -1 */
static int ka_print(const aor_binding_t *b, int proto, struct socket_info *ss,
		unsigned int bcnt, char *buf)
{
	str uri = aor_binding_get(b, AOR_F_URI);
	str path = aor_binding_get(b, AOR_F_PATH);
	str aor = aor_binding_get(b, AOR_F_AOR);
	str vaddr, vport, sproto = STR_NULL;
	char rbuf[AOR_RUID_LEN + 1];
	int ruid_len = aor_ruid_fmt(b->id, rbuf);
	int v6, at = memchr(aor.s, '@', aor.len) != NULL, n;
	struct timeval tv;

	if(ss->useinfo.name.len > 0) {
		v6 = ss->useinfo.address.af == AF_INET6;
		vaddr = ss->useinfo.name;
	} else {
		v6 = ss->address.af == AF_INET6;
		vaddr = ss->address_str;
	}
	vport = ss->useinfo.port_no > 0 ? ss->useinfo.port_no_str : ss->port_no_str;
	get_valid_proto_string(proto, 1, 1, &sproto);
	gettimeofday(&tv, NULL);
	n = snprintf(buf, KA_MSG_MAX - 1, KA_MSG, ka_method.len, ka_method.s,
			uri.len, uri.s, sproto.len, sproto.s, v6 ? "[" : "", vaddr.len,
			vaddr.s, v6 ? "]" : "", vport.len, vport.s, ka_counter, bcnt,
			path.len > 0 ? "Route: " : "", path.len, path.s,
			path.len > 0 ? 2 : 0, "\r\n", ka_from.len, ka_from.s, ruid_len,
			rbuf, b->hash, (unsigned long)tv.tv_sec, (unsigned long)tv.tv_usec,
			ka_counter, bcnt, aor.len, aor.s, at ? "" : "@",
			at ? 0 : ka_domain.len, at ? "" : ka_domain.s, fastrand(), my_pid(),
			ka_counter, bcnt, ka_method.len, ka_method.s);
	return (n <= 0 || n >= KA_MSG_MAX - 1) ? -1 : n;
}

/* after the unlock: the copied bindings, one request each */
static void ka_send_all(aor_table_t *t, ka_buf_t *kb, time_t now)
{
	char msg[KA_MSG_MAX];
	const aor_binding_t *b;
	dest_info_t dst;
	size_t off = 0, size;
	int i, len, proto, r;
	unsigned int bcnt = 0;

	for(i = 0; i < kb->n; i++, off += size) {
		b = (const aor_binding_t *)(kb->p + off);
		size = (aor_binding_size(b) + 7) & ~(size_t)7;
		if(aor_binding_expired(b, now) || timed_out(t, b, now))
			continue;
		r = ka_dest(b, &dst, &proto);
		if(r != 0) {
			if(r < 0) {
				LM_DBG("keepalive: no destination for binding %llu\n",
						(unsigned long long)b->id);
				aor_stat_add(AOR_ST_KA_FAILED, 1);
			}
			continue;
		}
		len = ka_print(b, proto, dst.send_sock, ++bcnt, msg);
		if(len < 0 || msg_send(&dst, msg, len) < 0) {
			aor_stat_add(AOR_ST_KA_FAILED, 1);
			continue;
		}
		aor_stat_add(AOR_ST_KA_SENT, 1);
	}
}

void aor_ka_tick(void)
{
	uint32_t step, first;
	aor_table_t *t;
	ka_buf_t kb;
	time_t now;

	if(aor_params.ka_mode == KA_NONE || destroy_modules_phase())
		return;
	if(ka_arena == NULL) {
		ka_arena = pkg_malloc(KA_COPY_BYTES);
		if(ka_arena == NULL) {
			PKG_MEM_ERROR_FMT("%d bytes for the keepalive\n", KA_COPY_BYTES);
			return;
		}
	}
	/* bounded: size / step slots per tick, one lock hold each, and at
	 * most KA_COPY_BYTES of copies; every slot once per timer_interval */
	step = (uint32_t)aor_params.timer_interval * TICKS_PER_SEC;
	first = ka_ticks++ % step;
	ka_counter++;
	now = aor_now();
	for(t = aor_tables(); t; t = t->next) {
		kb.p = ka_arena;
		kb.used = 0;
		kb.n = 0;
		kb.dropped = 0;
		aor_table_visit_stride(t, first, step, collect_cb, &kb);
		if(kb.dropped) {
			LM_WARN("keepalive: %d bindings left for the next interval\n",
					kb.dropped);
			aor_stat_add(AOR_ST_KA_FAILED, kb.dropped);
		}
		ka_send_all(t, &kb, now);
	}
}

int aor_ka_up_filter(aor_binding_t **v, int n, time_t now)
{
	int i, k = 0;

	if(aor_params.ka_mode == KA_NONE || aor_params.ka_down_after <= 0)
		return n;
	for(i = 0; i < n; i++) {
		if(last_alive(v[i]) + aor_params.ka_down_after >= now)
			v[k++] = v[i];
	}
	if(k < n)
		aor_stat_add(AOR_ST_KA_DOWN_SKIPPED, n - k);
	return k;
}

/* the last '-'-separated hex field of tag[0..*len), removed from it */
static int tag_field(str *tag, unsigned long *v)
{
	char *p = q_memrchr(tag->s, '-', tag->len);
	int i, d;

	if(p == NULL || p + 1 >= tag->s + tag->len)
		return -1;
	*v = 0;
	for(i = (int)(p + 1 - tag->s); i < tag->len; i++) {
		d = hex2int(tag->s[i]);
		if(d < 0)
			return -1;
		*v = (*v << 4) | (unsigned long)d;
	}
	tag->len = (int)(p - tag->s);
	return 0;
}

/* the binding, time and hash a reply's From tag carries (stock's
 * ruid-aorhash-sec-usec-counter); 0 or -1 */
static int parse_tag(str tag, uint64_t *id, uint32_t *hash, struct timeval *tv)
{
	unsigned long usec, sec, h;
	char *p;
	str ruid;

	if(tag.len <= 8)
		return -1;
	/* the last field, the counters "%x.%x", is skipped as stock does */
	p = q_memrchr(tag.s, '-', tag.len);
	if(p == NULL)
		return -1;
	tag.len = (int)(p - tag.s);
	if(tag_field(&tag, &usec) < 0 || tag_field(&tag, &sec) < 0
			|| tag_field(&tag, &h) < 0)
		return -1;
	ruid = tag;
	if(ruid.len <= 0 || aor_ruid_parse(&ruid, id) < 0)
		return -1;
	*hash = (uint32_t)h;
	tv->tv_sec = (time_t)sec;
	tv->tv_usec = (suseconds_t)usec;
	return 0;
}

int aor_ka_reply(struct sip_msg *msg)
{
	struct timeval tvm, tvn;
	to_body_t *fb;
	aor_table_t *t;
	uint64_t id;
	uint32_t hash, rtt;
	char rbuf[AOR_RUID_LEN + 1];
	str tok;

	if(aor_params.ka_mode == KA_NONE)
		return 1;
	if((msg->cseq == NULL
			   && (parse_headers(msg, HDR_CSEQ_F, 0) < 0 || msg->cseq == NULL))
			|| get_cseq(msg)->method.len != ka_method.len
			|| strncmp(get_cseq(msg)->method.s, ka_method.s, ka_method.len))
		return 1;
	/* ours has one Via */
	if(!(parse_headers(msg, HDR_VIA2_F, 0) == -1 || msg->via2 == NULL
			   || msg->via2->error != PARSE_OK))
		return 1;
	if(parse_from_header(msg) < 0)
		return 1;
	fb = get_from(msg);
	if(fb->uri.len != ka_from.len
			|| strncmp(fb->uri.s, ka_from.s, ka_from.len) != 0)
		return 1;
	if(parse_tag(fb->tag_value, &id, &hash, &tvm) < 0)
		return 1;
	gettimeofday(&tvn, NULL);
	rtt = (uint32_t)((tvn.tv_sec - tvm.tv_sec) * 1000000
					 + (tvn.tv_usec - tvm.tv_usec));
	for(t = aor_tables(); t; t = t->next)
		if(aor_ops_ka_answered(t, hash, id, tvn.tv_sec, rtt))
			break;
	aor_stat_add(AOR_ST_KA_ANSWERED, 1);
	if(aor_params.ka_loglevel != 255 && ka_logfmt != NULL
			&& pv_printf_s(msg, ka_logfmt, &tok) == 0)
		LOG(aor_params.ka_loglevel,
				"keepalive roundtrip: %u.%06u sec - ruid [%.*s]%.*s\n",
				rtt / 1000000, rtt % 1000000, aor_ruid_fmt(id, rbuf), rbuf,
				tok.len, tok.s);
	return 0;
}
