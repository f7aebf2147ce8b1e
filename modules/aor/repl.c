/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * Replication over DMQ; see repl.h.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#include <string.h>
#include <time.h>

#include "../../core/sr_module.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/locking.h"
#include "../../core/timer_proc.h"
#include "../../core/counters.h"
#include "../../core/ip_addr.h"
#include "../../core/socket_info.h"
#include "../../core/globals.h"
#include "../../core/hashes.h"
#include "../../core/parser/msg_parser.h"
#include "../../core/parser/parse_content.h"
#include "../../core/parser/parse_from.h"
#include "../../core/pt.h"
#include "../../core/rand/kam_rand.h"
#include "../../core/ut.h"
#include "../dmq/bind_dmq.h"

#include "sys.h"
#include "errors.h"
#include "params.h"
#include "journal.h"
#include "ops.h"
#include "replfmt.h"
#include "repl.h"

#define P aor_params
#define PEERS_MAX 16
#define URI_MAX 128
#define BITS (AOR_RANGES / 8)
#define ASK_EVERY_MS 1000
#define ASK_GIVE_UP_MS 30000 /* no peer answered: this node is the first */
#define ASK_ALONE_MS 2000 /* asking this long, asked by a peer: alone */
#define SYNC_SILENCE_MS 10000 /* a donor that stops sending: ask again */
#define DRAIN_MSGS_MAX 64	  /* messages of changes per tick at most */
#define WALK_RECORDS 10000	  /* slots per tick of a push walk */
#define TOMB_SWEEP_LOCKS 64	  /* tombstone lists swept per tick */
#define REPL_NOMEM (-100)	  /* apply(), compare(): no process memory */

static str content_type = str_init("application/x-aor-repl");
static str reason_ok = str_init("OK");
static str reason_bad = str_init("Bad Request");
static str reason_refused = str_init("Forbidden: not a DMQ peer");
static str reason_busy = str_init("Busy Here");
static str reason_notready = str_init("Service Unavailable: not synced");
static str reason_nomem = str_init("Server Internal Error: no memory");

enum sync_state
{
	SYNC_NONE,
	SYNC_ASKING,
	SYNC_CHOSEN,
	SYNC_RECEIVING,
	SYNC_DONE,
	SYNC_ALONE
};
static const char *sync_names[] = {
		"none", "asking", "chosen", "receiving", "done", "alone"};

/* a change in the queue: this header, then its record as replfmt
 * encodes it */
typedef struct rq_hdr
{
	uint32_t len; /* of the record */
	uint32_t pad;
	aor_table_t *t;
} rq_hdr_t;

typedef struct peer_st
{
	char uri[URI_MAX];
	int len;
	unsigned int node;
	time_t last_heard, last_ack, last_fail;
	unsigned long msgs_recv, bytes_recv, acked, failed, refused_dup;
	uint8_t strike[BITS]; /* ranges that differed at the last comparison */
	uint8_t push[BITS];	  /* ranges to push to it */
	int npush;
} peer_st_t;

typedef struct repl_shm
{
	gen_lock_t lock;
	/* the queue: a ring of cap bytes holding n changes */
	unsigned long cap, head, len;
	unsigned int n;
	unsigned long queued, dropped, msgs_sent, bytes_sent, msgs_recv,
			bytes_recv, changes_sent, changes_recv, applied, stale, refused,
			bad, send_failed, repairs, ae_rounds, nomem;
	int npeers;
	peer_st_t peers[PEERS_MAX];
	/* this node's sync */
	enum sync_state sync;
	char sync_peer[URI_MAX];
	long sync_bindings, sync_ms, sync_start, sync_last;
	/* this node as a donor */
	int donor;
	char donor_uri[URI_MAX];
	int inflight;
	long donor_sent, donor_start;
	char ring[];
} repl_shm_t;

static repl_shm_t *rs;
static dmq_api_t dmqb;
static dmq_peer_t *dmq_peer;
static unsigned int node_id; /* the residue of this node's ids */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void str_to(char *dst, const str *s)
{
	int n = s->len < URI_MAX - 1 ? s->len : URI_MAX - 1;

	memcpy(dst, s->s, n);
	dst[n] = '\0';
}

/* ---- the queue ---- */

static void ring_put(const void *src, unsigned long n)
{
	unsigned long at = (rs->head + rs->len) % rs->cap, first;

	first = rs->cap - at < n ? rs->cap - at : n;
	memcpy(rs->ring + at, src, first);
	if(first < n)
		memcpy(rs->ring, (const char *)src + first, n - first);
	rs->len += n;
}

static void ring_get(void *dst, unsigned long n)
{
	unsigned long first = rs->cap - rs->head < n ? rs->cap - rs->head : n;

	memcpy(dst, rs->ring + rs->head, first);
	if(first < n)
		memcpy((char *)dst + first, rs->ring, n - first);
	rs->head = (rs->head + n) % rs->cap;
	rs->len -= n;
}

static aor_rbuf_t enc; /* this process's record being queued */

/* a journal change, encoded here (no lock held), into the ring */
static void on_change(const aor_jchange_t *c, void *arg)
{
	rq_hdr_t h;
	str aor, uri, inst;
	int r;

	if(c->origin == AOR_ORIG_PEER || c->origin == AOR_ORIG_LOAD
			|| c->b == NULL)
		return;
	/* each node expires what expires, from the replicated absolute
	 * expiry; a binding taken out before its time (a lost connection) is
	 * a removal like any other */
	if(c->kind == AOR_CH_EXPIRED && aor_binding_expired(c->b, aor_now()))
		return;
	enc.len = 0;
	if(aor_change_removes(c->kind)) {
		aor = aor_binding_get(c->b, AOR_F_AOR);
		uri = aor_binding_get(c->b, AOR_F_URI);
		inst = aor_binding_get(c->b, AOR_F_INSTANCE);
		r = aor_repl_put_rm(
				&enc, c->id, c->version, &aor, &uri, &inst, c->b->reg_id);
	} else {
		r = aor_repl_put_binding(&enc, c->b);
	}
	if(r < 0) {
		aor_atomic_add(&rs->dropped, 1);
		return;
	}
	h.len = (uint32_t)enc.len;
	h.pad = 0;
	h.t = c->t;
	lock_get(&rs->lock);
	if(rs->cap - rs->len < sizeof(h) + (unsigned long)enc.len) {
		rs->dropped++;
		lock_release(&rs->lock);
		AOR_WARN_LIMITED("repl: the queue is full (repl_queue_bytes %d): a "
						 "change was dropped (the anti-entropy repairs it)",
				P.repl_queue_bytes);
		return;
	}
	ring_put(&h, sizeof(h));
	ring_put(enc.s, (unsigned long)enc.len);
	rs->n++;
	rs->queued++;
	lock_release(&rs->lock);
}

/* ---- peers ---- */

/* the state of the peer of uri (made when new); lock held */
static peer_st_t *peer_of(const str *uri)
{
	int i;

	for(i = 0; i < rs->npeers; i++)
		if(rs->peers[i].len == uri->len
				&& memcmp(rs->peers[i].uri, uri->s, uri->len) == 0)
			return &rs->peers[i];
	if(rs->npeers == PEERS_MAX || uri->len >= URI_MAX)
		return NULL;
	i = rs->npeers++;
	memset(&rs->peers[i], 0, sizeof(rs->peers[i]));
	memcpy(rs->peers[i].uri, uri->s, uri->len);
	rs->peers[i].len = uri->len;
	return &rs->peers[i];
}

/* ---- sending ---- */

enum cb_kind
{
	CB_CHANGES,
	CB_ASK,
	CB_SYNC,
	CB_OTHER
};

static int resp_cb(struct sip_msg *msg, int code, dmq_node_t *node, void *p)
{
	enum cb_kind k = (enum cb_kind)(long)p;
	peer_st_t *ps;

	lock_get(&rs->lock);
	ps = node ? peer_of(&node->orig_uri) : NULL;
	if(code >= 200 && code < 300) {
		if(ps)
			ps->last_ack = aor_now();
		if(ps)
			ps->acked++;
		if(k == CB_ASK && rs->sync == SYNC_ASKING && node) {
			/* the first peer that can give its table is the one asked */
			str_to(rs->sync_peer, &node->orig_uri);
			rs->sync = SYNC_CHOSEN;
		}
	} else if(code >= 300 && k != CB_ASK) {
		/* a peer that cannot give its table (ask) has not failed */
		if(ps) {
			ps->last_fail = aor_now();
			ps->failed++;
		}
		rs->send_failed++;
	}
	if(k == CB_SYNC && code >= 200 && rs->inflight > 0)
		rs->inflight--;
	lock_release(&rs->lock);
	return 0;
}

/* body to the peer of uri, or to every active peer when uri is NULL */
static int send_body(aor_rbuf_t *b, const char *uri, enum cb_kind k)
{
	dmq_resp_cback_t cb = {resp_cb, (void *)(long)k};
	dmq_node_t *node;
	str body = {b->s, b->len}, u;
	int r;

	if(uri) {
		u.s = (char *)uri;
		u.len = strlen(uri);
		node = dmqb.find_dmq_node_uri(&u);
		if(node == NULL)
			return -1;
		r = dmqb.send_message(dmq_peer, &body, node, &cb, 1, &content_type);
	} else {
		r = dmqb.bcast_message(dmq_peer, &body, NULL, &cb, 1, &content_type);
	}
	if(r < 0) {
		aor_atomic_add(&rs->send_failed, 1);
		return -1;
	}
	aor_atomic_add(&rs->msgs_sent, 1);
	aor_atomic_add(&rs->bytes_sent, (unsigned long)b->len);
	return 0;
}

static aor_rbuf_t out;

/* a message with no records but its header */
static int send_simple(
		const char *type, aor_table_t *t, const char *uri, enum cb_kind k)
{
	out.len = 0;
	if(aor_repl_put_header(&out, type, node_id, &t->name) < 0)
		return -1;
	return send_body(&out, uri, k);
}

#define TAKE_BYTES (256 * 1024) /* taken from the queue at once */

static aor_rbuf_t take;

/* sends the queued changes, in order, in messages of at most
 * repl_batch_bytes (a record larger than that alone in one) */
static void drain(void)
{
	aor_table_t *cur = NULL;
	unsigned long got;
	int msgs = 0, recs = 0, n, pos;
	rq_hdr_t h;

	out.len = 0;
	while(msgs < DRAIN_MSGS_MAX) {
		if(aor_rbuf_reserve(&take, TAKE_BYTES + 65536) < 0)
			return;
		take.len = 0;
		n = 0;
		lock_get(&rs->lock);
		while(rs->n > 0 && take.len < TAKE_BYTES) {
			ring_get(take.s + take.len, sizeof(h));
			memcpy(&h, take.s + take.len, sizeof(h));
			ring_get(take.s + take.len + sizeof(h), h.len);
			take.len += (int)sizeof(h) + (int)h.len;
			rs->n--;
			n++;
		}
		lock_release(&rs->lock);
		if(n == 0)
			break;
		for(pos = 0; pos < take.len; pos += (int)sizeof(h) + (int)h.len) {
			memcpy(&h, take.s + pos, sizeof(h));
			got = h.len;
			if(cur != h.t
					|| (recs > 0
							&& (unsigned long)out.len + got
									   > (unsigned long)P.repl_batch_bytes)) {
				if(recs > 0) {
					if(send_body(&out, NULL, CB_CHANGES) == 0)
						aor_atomic_add(&rs->changes_sent, recs);
					msgs++;
				}
				recs = 0;
				out.len = 0;
				cur = h.t;
				aor_repl_put_header(&out, "chg", node_id, &cur->name);
			}
			if(aor_rbuf_reserve(&out, (int)got) < 0)
				continue;
			memcpy(out.s + out.len, take.s + pos + sizeof(h), got);
			out.len += (int)got;
			recs++;
		}
	}
	if(recs > 0 && send_body(&out, NULL, CB_CHANGES) == 0)
		aor_atomic_add(&rs->changes_sent, recs);
}

/* ---- walks: the donor's full sync and anti-entropy pushes ---- */

typedef struct walk
{
	int active;
	aor_table_t *t;
	uint64_t cursor;
	int started;
	uint32_t li;	  /* tombstone lists, after the bindings */
	int tombs;		  /* walking the tombstone lists */
	char uri[URI_MAX];
	uint8_t ranges[BITS]; /* push: the ranges; sync: all */
	int all;
	unsigned int limit; /* body bytes per message */
	long sent;
	int recs; /* records in buf */
	aor_rbuf_t buf;
	enum cb_kind k;
	const char *type;
	time_t now;
} walk_t;

static walk_t donor_w, push_w;

static int in_ranges(const walk_t *w, uint64_t id)
{
	uint32_t r;

	if(w->all)
		return 1;
	r = aor_range_of(id);
	return (w->ranges[r >> 3] >> (r & 7)) & 1;
}

static void walk_flush(walk_t *w)
{
	if(w->recs > 0) {
		if(w->k == CB_SYNC) {
			lock_get(&rs->lock);
			rs->inflight++;
			lock_release(&rs->lock);
		}
		if(send_body(&w->buf, w->uri, w->k) < 0 && w->k == CB_SYNC) {
			lock_get(&rs->lock);
			rs->inflight--;
			lock_release(&rs->lock);
		}
	}
	w->recs = 0;
	w->buf.len = 0;
	aor_repl_put_header(&w->buf, w->type, node_id, &w->t->name);
}

static void walk_binding(const aor_binding_t *b, void *arg)
{
	walk_t *w = arg;

	if(!in_ranges(w, b->id))
		return;
	/* what has expired is left to each node's own expiry */
	if(aor_binding_expired(b, w->now))
		return;
	if(aor_repl_put_binding(&w->buf, b) == 0) {
		w->sent++;
		w->recs++;
	}
}

static void walk_tomb(const aor_tomb_t *tb, void *arg)
{
	walk_t *w = arg;
	str aor = {(char *)tb->aor, tb->aor_len};
	str uri = aor_tomb_uri(tb), inst = aor_tomb_instance(tb);
	int r;

	if(!in_ranges(w, tb->id))
		return;
	if(uri.len || inst.len)
		r = aor_repl_put_rm(&w->buf, tb->id, tb->version, &aor, &uri, &inst,
				tb->reg_id);
	else
		r = aor_repl_put_del(&w->buf, tb->id, tb->version, &aor);
	if(r == 0) {
		w->sent++;
		w->recs++;
	}
}

static void walk_start(walk_t *w, aor_table_t *t, const char *uri,
		const char *type, enum cb_kind k, unsigned int limit)
{
	w->active = 1;
	w->t = t;
	w->cursor = 0;
	w->started = 0;
	w->tombs = 0;
	w->li = 0;
	w->sent = 0;
	w->recs = 0;
	w->k = k;
	w->type = type;
	w->limit = limit;
	if(uri != w->uri) {
		strncpy(w->uri, uri, URI_MAX - 1);
		w->uri[URI_MAX - 1] = '\0';
	}
	w->buf.len = 0;
	aor_repl_put_header(&w->buf, type, node_id, &t->name);
}

/* up to budget slots (and messages while room says so, waiting for it at
 * most STEP_WAIT_MS); 1 when the walk is over */
#define STEP_WAIT_MS 50
static int walk_step(walk_t *w, unsigned int budget, int (*room)(void))
{
	unsigned int seen = 0;
	long t0 = now_ms();

	w->now = aor_now();
	while(!w->tombs && seen < budget) {
		if(room && !room()) {
			/* the peer answers within milliseconds: wait for it here
			 * rather than a whole repl_interval */
			if(now_ms() - t0 >= STEP_WAIT_MS)
				return 0;
			sleep_us(200);
			continue;
		}
		if(w->started && w->cursor == 0) {
			w->tombs = 1;
			break;
		}
		w->started = 1;
		/* a slot at a time (the callback runs under its lock): the
		 * message goes out between two, with no lock held */
		w->cursor = aor_table_scan(w->t, w->cursor, 1, walk_binding, w);
		seen++;
		if(w->buf.len >= (int)w->limit - 1024)
			walk_flush(w);
	}
	while(w->tombs && w->li <= w->t->lock_mask && seen < budget) {
		if(w->k == CB_SYNC) {
			w->li = w->t->lock_mask + 1; /* a new node needs none */
			break;
		}
		aor_ops_tombs(w->t, w->li++, w->now, walk_tomb, w);
		seen++;
		if(w->buf.len >= (int)w->limit - 1024)
			walk_flush(w);
	}
	if(w->tombs && w->li > w->t->lock_mask) {
		walk_flush(w);
		return 1;
	}
	return 0;
}

static int donor_room(void)
{
	int r;

	lock_get(&rs->lock);
	r = rs->inflight < P.repl_sync_window;
	lock_release(&rs->lock);
	return r;
}

static void donor_step(void)
{
	aor_table_t *t;
	aor_rbuf_t b = {0};

	if(!donor_w.active) {
		lock_get(&rs->lock);
		if(rs->donor == 1) {
			rs->donor = 2;
			rs->donor_start = now_ms();
			rs->donor_sent = 0;
			walk_start(&donor_w, aor_tables(), rs->donor_uri, "syn", CB_SYNC,
					P.repl_sync_bytes);
			donor_w.all = 1;
		}
		lock_release(&rs->lock);
		if(!donor_w.active)
			return;
	}
	if(!walk_step(&donor_w, 50000, donor_room))
		return;
	lock_get(&rs->lock);
	rs->donor_sent = donor_w.sent;
	lock_release(&rs->lock);
	t = donor_w.t->next;
	if(t) {
		long sent = donor_w.sent;

		walk_start(&donor_w, t, donor_w.uri, "syn", CB_SYNC,
				P.repl_sync_bytes);
		donor_w.all = 1;
		donor_w.sent = sent;
		return;
	}
	/* the end, with the count, in the last table's name */
	if(aor_repl_put_header(&b, "end", node_id, &donor_w.t->name) == 0
			&& aor_repl_put_num(&b, "bindings", (uint64_t)rs->donor_sent)
					   == 0)
		send_body(&b, donor_w.uri, CB_OTHER);
	aor_rbuf_free(&b);
	LM_INFO("repl: sent %ld bindings to %s in %ld ms\n", rs->donor_sent,
			donor_w.uri, now_ms() - rs->donor_start);
	donor_w.active = 0;
	lock_get(&rs->lock);
	rs->donor = 0;
	lock_release(&rs->lock);
}

/* anti-entropy: push the ranges a peer found different */
static void push_step(void)
{
	aor_table_t *t;
	int i;

	if(!push_w.active) {
		lock_get(&rs->lock);
		for(i = 0; i < rs->npeers; i++)
			if(rs->peers[i].npush > 0)
				break;
		if(i < rs->npeers) {
			walk_start(&push_w, aor_tables(), rs->peers[i].uri, "rep",
					CB_OTHER, P.repl_batch_bytes);
			memcpy(push_w.ranges, rs->peers[i].push, BITS);
			push_w.all = 0;
			memset(rs->peers[i].push, 0, BITS);
			rs->peers[i].npush = 0;
		}
		lock_release(&rs->lock);
		if(!push_w.active)
			return;
	}
	if(!walk_step(&push_w, WALK_RECORDS, NULL))
		return;
	aor_atomic_add(&rs->repairs, (unsigned long)push_w.sent);
	t = push_w.t->next;
	if(t) {
		uint8_t ranges[BITS];

		memcpy(ranges, push_w.ranges, BITS);
		walk_start(&push_w, t, push_w.uri, "rep", CB_OTHER,
				P.repl_batch_bytes);
		memcpy(push_w.ranges, ranges, BITS);
		return;
	}
	push_w.active = 0;
}

/* ---- the process ---- */

static long next_ask, next_ae, start_ms;
static unsigned int ae_chunk;
static uint32_t sweep_li;

static void sync_step(long now)
{
	char uri[URI_MAX];
	enum sync_state s;
	aor_table_t *t = aor_tables();

	lock_get(&rs->lock);
	s = rs->sync;
	if(s == SYNC_CHOSEN) {
		memcpy(uri, rs->sync_peer, URI_MAX);
		rs->sync = SYNC_RECEIVING;
		rs->sync_last = now;
	} else if(s == SYNC_RECEIVING && now - rs->sync_last > SYNC_SILENCE_MS) {
		LM_WARN("repl: no sync batch from %s for %d s: asking again\n",
				rs->sync_peer, SYNC_SILENCE_MS / 1000);
		rs->sync = s = SYNC_ASKING;
		rs->sync_start = now;
	} else if(s == SYNC_ASKING && now - rs->sync_start > ASK_GIVE_UP_MS) {
		LM_NOTICE("repl: no peer could give its table within %d s: this "
				  "node starts with its own\n",
				ASK_GIVE_UP_MS / 1000);
		rs->sync = s = SYNC_ALONE;
	}
	lock_release(&rs->lock);
	if(s == SYNC_CHOSEN) {
		LM_INFO("repl: asking %s for its table\n", uri);
		if(send_simple("go", t, uri, CB_OTHER) < 0) {
			lock_get(&rs->lock);
			rs->sync = SYNC_ASKING;
			lock_release(&rs->lock);
		}
	} else if(s == SYNC_ASKING && now >= next_ask) {
		next_ask = now + ASK_EVERY_MS;
		send_simple("ask", t, NULL, CB_ASK);
	}
}

static void ae_step(long now)
{
	uint64_t d[AOR_REPL_DIGESTS_MAX];
	aor_table_t *t;
	uint32_t first, i;
	int chunks = AOR_RANGES / AOR_REPL_DIGESTS_MAX;

	if(P.repl_ae_interval == 0 || now < next_ae)
		return;
	next_ae = now + (long)P.repl_ae_interval * 1000 / chunks;
	first = (ae_chunk++ % chunks) * AOR_REPL_DIGESTS_MAX;
	for(t = aor_tables(); t; t = t->next) {
		for(i = 0; i < AOR_REPL_DIGESTS_MAX; i++)
			d[i] = aor_table_digest(t, first + i);
		out.len = 0;
		if(aor_repl_put_header(&out, "dig", node_id, &t->name) == 0
				&& aor_repl_put_digests(&out, first, AOR_REPL_DIGESTS_MAX, d)
						   == 0)
			send_body(&out, NULL, CB_OTHER);
	}
	if(first == 0)
		aor_atomic_add(&rs->ae_rounds, 1);
}

static void sweep_step(void)
{
	aor_table_t *t;
	int i;

	for(t = aor_tables(); t; t = t->next)
		for(i = 0; i < TOMB_SWEEP_LOCKS; i++)
			aor_ops_tombs(t, (sweep_li + i) & t->lock_mask, aor_now(), NULL,
					NULL);
	sweep_li += TOMB_SWEEP_LOCKS;
}

static void repl_tick(unsigned int ticks, void *param)
{
	long now = now_ms();

	if(start_ms == 0)
		start_ms = now;
	drain();
	sync_step(now);
	donor_step();
	push_step();
	ae_step(now);
	sweep_step();
}

/* ---- receiving ---- */

static aor_table_t *table_named(const str *name)
{
	aor_table_t *t;

	for(t = aor_tables(); t; t = t->next)
		if(t->name.len == name->len
				&& strncasecmp(t->name.s, name->s, name->len) == 0)
			return t;
	return NULL;
}

static void set_resp(peer_reponse_t *resp, int code, str *reason)
{
	resp->resp_code = code;
	resp->reason = *reason;
}

/* applies the records of a chg, rep or syn body */
static int apply(aor_table_t *t, const char **p, const char *end, long *n)
{
	aor_repl_rec_t *r;
	aor_binding_t *nb;
	time_t now = aor_now();
	int k, applied = 0, stale = 0;
	struct socket_info *si;
	aor_rmc_t rmc;

	r = pkg_malloc(sizeof(*r));
	if(r == NULL)
		return REPL_NOMEM;
	while((k = aor_repl_next(p, end, r)) == 1) {
		(*n)++;
		if(r->type == AOR_RR_BINDING) {
			si = r->in.f[AOR_F_SOCK].len
						 ? lookup_local_socket(&r->in.f[AOR_F_SOCK])
						 : NULL;
			r->in.sock = si;
			r->in.conn_id = 0; /* another node's connection */
			nb = NULL;
			if(shm_available() > aor_limits.shm_reserve
									 + aor_binding_size_in(&r->in))
				nb = aor_binding_new(&r->in);
			if(nb == NULL) {
				aor_atomic_add(&rs->nomem, 1);
				AOR_WARN_LIMITED("repl: no shm for a peer's binding of %.*s",
						r->in.f[AOR_F_AOR].len, r->in.f[AOR_F_AOR].s);
				continue;
			}
			nb->id = r->id;
			nb->version = r->version;
			if(aor_ops_put(t, nb, now) == 1) {
				applied++;
			} else {
				shm_free(nb);
				stale++;
			}
		} else if(r->type == AOR_RR_DEL || r->type == AOR_RR_RM) {
			rmc.uri = r->in.f[AOR_F_URI];
			rmc.instance = r->in.f[AOR_F_INSTANCE];
			rmc.reg_id = r->in.reg_id;
			if(aor_ops_drop_c(t, &r->in.f[AOR_F_AOR], r->id, r->version,
					   r->type == AOR_RR_RM ? &rmc : NULL, now)
					== 1)
				applied++;
			else
				stale++;
		}
	}
	pkg_free(r);
	aor_atomic_add(&rs->applied, (unsigned long)applied);
	aor_atomic_add(&rs->stale, (unsigned long)stale);
	return k;
}

/* a peer's digests against ours: ranges different twice in a row are
 * pushed to it */
static int compare(aor_table_t *t, const char **p, const char *end,
		const str *uri)
{
	aor_repl_rec_t *r;
	peer_st_t *ps;
	uint32_t i, g;
	int k;

	r = pkg_malloc(sizeof(*r));
	if(r == NULL)
		return REPL_NOMEM;
	while((k = aor_repl_next(p, end, r)) == 1) {
		if(r->type != AOR_RR_DIGESTS
				|| (uint64_t)r->first + r->count > AOR_RANGES)
			continue;
		lock_get(&rs->lock);
		ps = peer_of(uri);
		for(i = 0; ps && i < r->count; i++) {
			g = r->first + i;
			if(aor_table_digest(t, g) == r->digest[i]) {
				ps->strike[g >> 3] &= (uint8_t)~(1u << (g & 7));
			} else if(ps->strike[g >> 3] & (1u << (g & 7))) {
				ps->strike[g >> 3] &= (uint8_t)~(1u << (g & 7));
				if(!(ps->push[g >> 3] & (1u << (g & 7)))) {
					ps->push[g >> 3] |= (uint8_t)(1u << (g & 7));
					ps->npush++;
				}
			} else {
				ps->strike[g >> 3] |= (uint8_t)(1u << (g & 7));
			}
		}
		lock_release(&rs->lock);
	}
	pkg_free(r);
	return k;
}

/* a body (or a record of it) that does not parse: 400, counted, logged */
static int refuse_bad(peer_reponse_t *resp, dmq_node_t *node, const char *what)
{
	aor_atomic_add(&rs->bad, 1);
	AOR_WARN_LIMITED("repl: %s from %.*s: refused", what, node->orig_uri.len,
			node->orig_uri.s);
	set_resp(resp, 400, &reason_bad);
	return 0;
}

static int str_is(const str *s, const char *w)
{
	return s->len == (int)strlen(w) && memcmp(s->s, w, s->len) == 0;
}

static int on_kdmq(struct sip_msg *msg, peer_reponse_t *resp, dmq_node_t *node)
{
	const char *p, *end;
	aor_repl_hdr_t h;
	aor_table_t *t;
	peer_st_t *ps;
	str body;
	long n = 0;
	int k = 0, code = 200;
	str *reason = &reason_ok;

	/* only the cluster's nodes, from the address their DMQ URI names */
	if(node == NULL || node->local
			|| !ip_addr_cmp(&msg->rcv.src_ip, &node->ip_address)) {
		aor_atomic_add(&rs->refused, 1);
		AOR_WARN_LIMITED("repl: KDMQ for aor from %s, not a DMQ peer: "
						 "refused",
				ip_addr2a(&msg->rcv.src_ip));
		set_resp(resp, 403, &reason_refused);
		return 0;
	}
	body.s = get_body(msg);
	body.len = body.s ? msg->len - (int)(body.s - msg->buf) : 0;
	if(body.s && msg->content_length)
		body.len = get_content_length(msg);
	p = body.s;
	end = body.s + body.len;
	if(body.s == NULL || aor_repl_header(&p, end, &h) < 0
			|| (t = table_named(&h.table)) == NULL)
		return refuse_bad(resp, node, "a malformed message (or an unknown "
									  "table)");
	lock_get(&rs->lock);
	rs->msgs_recv++;
	rs->bytes_recv += (unsigned long)body.len;
	ps = peer_of(&node->orig_uri);
	if(ps) {
		ps->msgs_recv++;
		ps->bytes_recv += (unsigned long)body.len;
		ps->last_heard = aor_now();
		ps->node = h.node;
	}
	lock_release(&rs->lock);
	if(h.node == node_id)
		AOR_WARN_LIMITED("repl: peer %.*s makes ids in this node's residue "
						 "%u: give every node its own server_id (1..255)",
				node->orig_uri.len, node->orig_uri.s, node_id);
	if(str_is(&h.type, "chg") || str_is(&h.type, "rep")
			|| str_is(&h.type, "syn")) {
		k = apply(t, &p, end, &n);
		aor_atomic_add(&rs->changes_recv, (unsigned long)n);
		if(str_is(&h.type, "syn")) {
			lock_get(&rs->lock);
			rs->sync_bindings += n;
			rs->sync_last = now_ms();
			if(rs->sync == SYNC_ASKING || rs->sync == SYNC_CHOSEN)
				rs->sync = SYNC_RECEIVING;
			lock_release(&rs->lock);
		}
	} else if(str_is(&h.type, "dig")) {
		k = compare(t, &p, end, &node->orig_uri);
	} else if(str_is(&h.type, "ask")) {
		lock_get(&rs->lock);
		if(rs->donor) {
			code = 486;
			reason = &reason_busy;
		} else if(rs->sync == SYNC_ASKING
				  && now_ms() - rs->sync_start > ASK_ALONE_MS) {
			/* asked while asking, and no peer had a table to give: none
			 * has one; this node starts with its own and gives it */
			LM_NOTICE("repl: no peer had a table to give: this node "
					  "starts with its own\n");
			rs->sync = SYNC_ALONE;
		} else if(rs->sync != SYNC_DONE && rs->sync != SYNC_ALONE
				  && rs->sync != SYNC_NONE) {
			code = 503;
			reason = &reason_notready;
		}
		lock_release(&rs->lock);
	} else if(str_is(&h.type, "go")) {
		lock_get(&rs->lock);
		if(rs->donor) {
			code = 486;
			reason = &reason_busy;
		} else {
			rs->donor = 1;
			str_to(rs->donor_uri, &node->orig_uri);
		}
		lock_release(&rs->lock);
	} else if(str_is(&h.type, "end")) {
		lock_get(&rs->lock);
		if(rs->sync == SYNC_RECEIVING || rs->sync == SYNC_CHOSEN) {
			rs->sync = SYNC_DONE;
			rs->sync_ms = now_ms() - rs->sync_start;
			LM_INFO("repl: synced %ld bindings from %.*s in %ld ms\n",
					rs->sync_bindings, node->orig_uri.len, node->orig_uri.s,
					rs->sync_ms);
		}
		lock_release(&rs->lock);
	}
	if(k == REPL_NOMEM) {
		set_resp(resp, 500, &reason_nomem);
		return 0;
	}
	if(k < 0)
		return refuse_bad(resp, node, "a malformed record (the records "
									  "before it were applied)");
	set_resp(resp, code, reason);
	return 0;
}

/* ---- set-up ---- */

static counter_val_t st_get(counter_handle_t h, void *p)
{
	if(rs == NULL)
		return 0;
	return (counter_val_t)aor_atomic_get(
			(unsigned long *)((char *)rs + (size_t)p));
}

#define ST(f) ((void *)offsetof(repl_shm_t, f))

/* clang-format off */
static counter_def_t repl_cnt_defs[] = {
	{0, "repl_sent", CNT_F_NO_RESET, st_get, ST(changes_sent),
		"changes sent to the peers"},
	{0, "repl_received", CNT_F_NO_RESET, st_get, ST(changes_recv),
		"changes received from the peers"},
	{0, "repl_applied", CNT_F_NO_RESET, st_get, ST(applied),
		"peers' changes applied"},
	{0, "repl_stale", CNT_F_NO_RESET, st_get, ST(stale),
		"peers' changes older than what this node holds (not applied)"},
	{0, "repl_refused", CNT_F_NO_RESET, st_get, ST(refused),
		"KDMQ requests for aor refused: not from a DMQ peer"},
	{0, "repl_dropped", CNT_F_NO_RESET, st_get, ST(dropped),
		"changes not queued to send: the queue (repl_queue_bytes) was full"},
	{0, "repl_repairs", CNT_F_NO_RESET, st_get, ST(repairs),
		"bindings and tombstones pushed by the anti-entropy"},
	{0, 0, 0, 0, 0, 0}
};
/* clang-format on */

/* this node's id residue: server_id, else one drawn from the DMQ
 * address */
static unsigned int pick_node(void)
{
	struct sr_module *m;
	modparam_t type;
	str *addr = NULL;

	if(server_id > 0)
		return (unsigned int)server_id % AOR_ID_NODES;
	m = find_module_by_name("dmq");
	if(m)
		addr = find_param_export(m, "server_address", PARAM_STR, &type);
	if(addr && addr->s)
		return 1 + core_hash(addr, NULL, 0) % (AOR_ID_NODES - 1);
	return 1 + kam_rand() % (AOR_ID_NODES - 1);
}

int aor_repl_init(void)
{
	aor_subscriber_t sub = {.name = "repl", .on_change = on_change,
			.flags = AOR_SUB_BINDINGS};
	dmq_peer_t peer;

	if(counter_register_array("aor", repl_cnt_defs) < 0) {
		LM_ERR("repl: cannot register the counters\n");
		return -1;
	}
	if(!P.replicate)
		return 0;
	if(aor_params.db_mode == 3) {
		LM_ERR("replicate 1 with db_mode 3: the nodes share the table "
			   "already; use one or the other\n");
		return -1;
	}
	if(find_export("bind_dmq", 0, 0) == NULL || dmq_load_api(&dmqb) < 0) {
		LM_ERR("replicate 1 needs the dmq module: loadmodule \"dmq.so\" "
			   "before the aor module\n");
		return -1;
	}
	memset(&peer, 0, sizeof(peer));
	peer.peer_id.s = "aor";
	peer.peer_id.len = 3;
	peer.description.s = "aor registrar replication";
	peer.description.len = strlen(peer.description.s);
	peer.callback = on_kdmq;
	dmq_peer = dmqb.register_dmq_peer(&peer);
	if(dmq_peer == NULL) {
		LM_ERR("repl: cannot register the DMQ peer aor\n");
		return -1;
	}
	rs = shm_malloc(sizeof(*rs) + (size_t)P.repl_queue_bytes);
	if(rs == NULL) {
		LM_ERR("repl: no shm for a queue of %d bytes (repl_queue_bytes)\n",
				P.repl_queue_bytes);
		return -1;
	}
	memset(rs, 0, sizeof(*rs));
	rs->cap = (unsigned long)P.repl_queue_bytes;
	lock_init(&rs->lock);
	rs->sync = P.repl_sync ? SYNC_ASKING : SYNC_NONE;
	rs->sync_start = now_ms();
	node_id = pick_node();
	if(aor_journal_subscribe(&sub) < 0) {
		LM_ERR("repl: cannot subscribe to the change journal\n");
		return -1;
	}
	LM_INFO("repl: replicating over DMQ, node id residue %u%s\n", node_id,
			server_id > 0 ? " (server_id)" : " (set server_id to choose it)");
	return 0;
}

int aor_repl_table(aor_table_t *t)
{
	if(!P.replicate)
		return 0;
	if(node_id == 0)
		node_id = pick_node();
	if(t->id_step == 1)
		aor_table_id_node(t, node_id);
	if(aor_table_repl_enable(t, P.repl_tombstones_max, P.repl_tombstone_ttl)
			< 0) {
		LM_ERR("repl: no shm for the digests of table %.*s\n", t->name.len,
				t->name.s);
		return -1;
	}
	return 0;
}

int aor_repl_timers(void)
{
	return P.replicate ? 1 : 0;
}

int aor_repl_child_init(void)
{
	aor_table_t *t;
	long held = 0;

	if(!P.replicate)
		return 0;
	/* a table from the snapshot (or the database) needs only what changed
	 * meanwhile: the anti-entropy brings it, no full sync */
	for(t = aor_tables(); t; t = t->next)
		held += t->bindings;
	if(held > 0 && rs->sync == SYNC_ASKING) {
		LM_INFO("repl: %ld bindings loaded: the anti-entropy brings what "
				"changed meanwhile (no full sync)\n",
				held);
		rs->sync = SYNC_DONE;
	}
	if(fork_basic_utimer(PROC_TIMER, "aor repl", 1, repl_tick, NULL,
			   (unsigned int)P.repl_interval * 1000)
			< 0) {
		LM_ERR("cannot start the aor repl process\n");
		return -1;
	}
	return 0;
}

/* ---- RPC ---- */

static const char *aor_rpc_repl_doc[] = {
		"Replication: peers, messages, queue, last sync, repairs", 0};

static void aor_rpc_repl(rpc_t *rpc, void *c)
{
	void *h, *ph, *pp;
	time_t now = aor_now();
	peer_st_t ps[PEERS_MAX];
	repl_shm_t st;
	aor_table_t *t;
	long tombs = 0;
	int i, np;

	if(rs == NULL) {
		if(rpc->add(c, "{", &h) < 0)
			return;
		rpc->struct_add(h, "d", "replicate", 0);
		return;
	}
	lock_get(&rs->lock);
	memcpy(&st, rs, sizeof(st));
	np = rs->npeers;
	memcpy(ps, rs->peers, sizeof(ps));
	lock_release(&rs->lock);
	for(t = aor_tables(); t; t = t->next)
		if(t->repl)
			tombs += aor_atomic_get(&t->repl->tomb_count);
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "dddjjjjjjjjjjjjjjjd", "replicate", 1, "node",
			(int)node_id, "queued", (int)st.n, "dropped", st.dropped,
			"msgs_sent", st.msgs_sent, "bytes_sent", st.bytes_sent,
			"msgs_recv", st.msgs_recv, "bytes_recv", st.bytes_recv,
			"changes_sent", st.changes_sent, "changes_recv", st.changes_recv,
			"applied", st.applied, "stale", st.stale, "refused", st.refused,
			"bad", st.bad, "send_failed", st.send_failed, "repairs",
			st.repairs, "ae_rounds", st.ae_rounds, "nomem", st.nomem,
			"tombstones", (int)tombs);
	rpc->struct_add(h, "ssdd", "sync_state", sync_names[st.sync],
			"sync_peer", st.sync_peer, "sync_bindings", (int)st.sync_bindings,
			"sync_ms", (int)st.sync_ms);
	rpc->struct_add(h, "ds", "donor", st.donor, "donor_to", st.donor_uri);
	if(rpc->struct_add(h, "[", "peers", &ph) < 0)
		return;
	for(i = 0; i < np; i++) {
		long quiet = ps[i].last_heard ? (long)(now - ps[i].last_heard) : -1;

		if(rpc->array_add(ph, "{", &pp) < 0)
			return;
		rpc->struct_add(pp, "sdsdjjjjd", "uri", ps[i].uri, "node",
				(int)ps[i].node, "state",
				ps[i].last_fail > ps[i].last_ack ? "failing"
				: quiet >= 0 && quiet < 60		 ? "up"
												 : "silent",
				"last_heard", (int)quiet, "msgs_recv", ps[i].msgs_recv,
				"bytes_recv", ps[i].bytes_recv, "acked", ps[i].acked,
				"failed", ps[i].failed, "ranges_to_push", ps[i].npush);
	}
}

/* clang-format off */
rpc_export_t aor_repl_rpc_cmds[] = {
	{"aor.repl", aor_rpc_repl, aor_rpc_repl_doc, 0},
	{0, 0, 0, 0}
};
/* clang-format on */
