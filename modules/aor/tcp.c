/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Lost and expired TCP/TLS/WS connections (see tcp.h).
 *
 * The index: one entry per binding that came on a connection, in two
 * chains, by binding id (to follow the binding's changes) and by
 * connection id (to find a closed connection's bindings). A closed
 * connection's entries move to the dead list, O(its bindings); the timer
 * takes at most DRAIN_MAX of them per tick and removes their bindings
 * through the operations layer, so the journal (events, counters) sees
 * each removal. The index has a lock of its own, never held with a slot
 * lock nor across I/O.
 */

#include <errno.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../core/events.h"
#include "../../core/globals.h"
#include "../../core/locking.h"
#include "../../core/counters.h"
#include "../../core/pass_fd.h"
#include "../../core/tcp_conn.h"
#include "../../core/mem/shm_mem.h"

#include "errors.h"
#include "journal.h"
#include "ops.h"
#include "params.h"
#include "tcp.h"

#define IDX_LOG2 16
#define IDX_SIZE (1u << IDX_LOG2)
#define DRAIN_MAX 256	  /* bindings of closed connections removed per tick */
#define DRAIN_BYTES 65536 /* of their AoR keys */
#define SWEEP_MAX 1024	  /* connections checked per tick, at most */
#define TICKS_PER_SEC 10  /* the maintenance timer's (expire.c) */
#define IDX_MAX_DEFAULT (1L << 24)

enum
{
	E_LIVE,	 /* in the chain of its connection */
	E_DEAD,	 /* its connection closed: on the dead list */
	E_TAKEN, /* taken off the dead list by the timer, being removed */
};

typedef struct ent
{
	struct ent *cnext, **cprev; /* connection chain or dead list */
	struct ent *inext;			/* binding id chain */
	aor_table_t *t;
	uint64_t id;
	int32_t conn_id;
	int state;
	int klen;
	char key[];
} ent_t;

typedef struct idx
{
	gen_lock_t lock;
	long n;	  /* entries */
	long max; /* at most */
	ent_t *dead;
	uint32_t sweep_pos;
	ent_t *by_conn[IDX_SIZE];
	ent_t *by_id[IDX_SIZE];
} idx_t;

static idx_t *idx = NULL;
static int closed_cb = 0; /* 1 when the TCP-closed event is ours */
static counter_handle_t cnt_lost, cnt_closed;

static inline uint32_t h_id(uint64_t id)
{
	return (uint32_t)((id ^ (id >> 32)) * 0x9E3779B97F4A7C15ull >> 40)
		   & (IDX_SIZE - 1);
}

static inline uint32_t h_conn(int32_t c)
{
	/* ids are handed out in sequence: the low bits spread them */
	return (uint32_t)c & (IDX_SIZE - 1);
}

static void clink(ent_t *e, ent_t **head)
{
	e->cnext = *head;
	if(*head)
		(*head)->cprev = &e->cnext;
	*head = e;
	e->cprev = head;
}

static void cunlink(ent_t *e)
{
	if(e->cprev == NULL)
		return;
	*e->cprev = e->cnext;
	if(e->cnext)
		e->cnext->cprev = e->cprev;
	e->cnext = NULL;
	e->cprev = NULL;
}

/* the link that points at the entry of id, or at the chain's end */
static ent_t **id_link(uint64_t id)
{
	ent_t **l = &idx->by_id[h_id(id)];

	while(*l && (*l)->id != id)
		l = &(*l)->inext;
	return l;
}

/* lock held */
static void ent_free(ent_t **l)
{
	ent_t *e = *l;

	*l = e->inext;
	cunlink(e);
	shm_free(e);
	idx->n--;
}

/* lock held: moves the entries of connection c to the dead list */
static void conn_dead(int32_t c)
{
	ent_t *e = idx->by_conn[h_conn(c)], *next;

	for(; e; e = next) {
		next = e->cnext;
		if(e->conn_id != c)
			continue;
		cunlink(e);
		clink(e, &idx->dead);
		e->state = E_DEAD;
	}
}

static int conn_alive(int32_t c)
{
	struct tcp_connection *con = tcpconn_get(c, 0, 0, 0, 0);

	if(con == NULL)
		return 0;
	tcpconn_put(con);
	return 1;
}

/* Asks tcp_main to close connection c, as stock usrloc's close_connection
 * does: a forced EOF after what is queued was sent. */
static void conn_close(int32_t c)
{
	struct tcp_connection *con;
	long msg[2];

	if(unix_tcp_sock < 0)
		return; /* tcp_main itself, or a process without the socket */
	con = tcpconn_get(c, 0, 0, 0, 0);
	if(con == NULL)
		return;
	con->send_flags.f |= SND_F_CON_CLOSE;
	con->flags |= F_CONN_FORCE_EOF;
	msg[0] = (long)con;
	msg[1] = CONN_EOF; /* tcp_main drops the reference tcpconn_get took */
	if(send_all(unix_tcp_sock, msg, sizeof(msg)) <= 0) {
		LM_ERR("cannot ask tcp_main to close connection %d: %s\n", c,
				strerror(errno));
		tcpconn_put(con);
		return;
	}
	counter_inc(cnt_closed);
}

/* a new or changed binding of connection c (0: none any more) */
static void on_set(const aor_jchange_t *c)
{
	int32_t conn = c->b ? c->b->conn_id : 0;
	str key;
	ent_t **l, *e;

	if(conn <= 0 && aor_atomic_get(&idx->n) == 0)
		return; /* UDP, and no binding over TCP at all */
	lock_get(&idx->lock);
	l = id_link(c->id);
	e = *l;
	if(e && conn == e->conn_id)
		goto done; /* a refresh on the same connection (a dead one stays
					* on its way out) */
	if(conn <= 0) {
		if(e)
			ent_free(l);
		goto done;
	}
	if(e == NULL) {
		if(idx->n >= idx->max) {
			lock_release(&idx->lock);
			AOR_WARN_LIMITED("handle_lost_tcp: %ld bindings over TCP "
							 "indexed already; a further one is only "
							 "checked by lookup()",
					idx->max);
			return;
		}
		key = aor_binding_get(c->b, AOR_F_AOR);
		e = shm_malloc(sizeof(*e) + key.len);
		if(e == NULL) {
			lock_release(&idx->lock);
			AOR_WARN_LIMITED("handle_lost_tcp: no shared memory to index "
							 "a binding of %.*s",
					key.len, key.s);
			return;
		}
		memset(e, 0, sizeof(*e));
		e->t = c->t;
		e->id = c->id;
		e->klen = key.len;
		memcpy(e->key, key.s, key.len);
		*l = e;
		idx->n++;
	} else {
		cunlink(e);
	}
	e->conn_id = conn;
	e->state = E_LIVE;
	clink(e, &idx->by_conn[h_conn(conn)]);
done:
	lock_release(&idx->lock);
}

static void on_removed(const aor_jchange_t *c)
{
	ent_t **l;

	if(idx == NULL || aor_atomic_get(&idx->n) == 0)
		return;
	lock_get(&idx->lock);
	l = id_link(c->id);
	if(*l)
		ent_free(l);
	lock_release(&idx->lock);
}

/* the journal subscriber; no slot lock held */
static void on_change(const aor_jchange_t *c, void *arg)
{
	if(!aor_change_removes(c->kind)) {
		if(idx)
			on_set(c);
		return;
	}
	on_removed(c);
	/* stock's timer closes the connection of each binding it expires */
	if(c->kind == AOR_CH_EXPIRED && aor_params.close_expired_tcp && c->b
			&& c->b->conn_id > 0)
		conn_close(c->b->conn_id);
}

/* the core's TCP-closed event, in tcp_main */
static int on_tcp_closed(sr_event_param_t *evp)
{
	tcp_closed_event_info_t *tev = (tcp_closed_event_info_t *)evp->data;

	if(idx == NULL || tev == NULL || tev->con == NULL
			|| aor_atomic_get(&idx->n) == 0)
		return 0;
	lock_get(&idx->lock);
	conn_dead(tev->con->id);
	lock_release(&idx->lock);
	return 0;
}

int aor_tcp_init(void)
{
	aor_subscriber_t sub = {"tcp", on_change, NULL, NULL, 0, 0};

	/* the counters exist whatever the modparams say, as the others do */
	if(counter_register(&cnt_lost, "aor", "tcp_lost_bindings", 0, 0, 0,
			   "bindings removed because their TCP/TLS/WS connection "
			   "closed (handle_lost_tcp)",
			   0) < 0
			|| counter_register(&cnt_closed, "aor", "tcp_closed_connections", 0,
					   0, 0,
					   "connections closed because their binding expired "
					   "(close_expired_tcp)",
					   0)
					   < 0) {
		LM_ERR("cannot register the aor tcp counters\n");
		return -1;
	}
	if(!aor_params.handle_lost_tcp && !aor_params.close_expired_tcp)
		return 0;
	if(tcp_disable) {
		LM_INFO("handle_lost_tcp, close_expired_tcp: TCP is disabled\n");
		return 0;
	}
	if(aor_params.handle_lost_tcp) {
		idx = shm_malloc(sizeof(*idx));
		if(idx == NULL) {
			SHM_MEM_ERROR;
			return -1;
		}
		memset(idx, 0, sizeof(*idx));
		lock_init(&idx->lock);
		idx->max = aor_params.max_bindings > 0 ? aor_params.max_bindings
											   : IDX_MAX_DEFAULT;
		/* the index follows every change: it reads the bindings */
		sub.flags = AOR_SUB_BINDINGS;
	} else {
		/* only the removed kinds, whose block the journal always has */
		sub.kinds = AOR_KIND(AOR_CH_EXPIRED);
	}
	if(aor_journal_subscribe(&sub) < 0) {
		LM_ERR("cannot subscribe handle_lost_tcp to the journal\n");
		return -1;
	}
	return 0;
}

int aor_tcp_child_init(void)
{
	if(idx == NULL)
		return 0;
	/* the core keeps one callback for this event: tcpops takes it in its
	 * mod_init (closed_event 1, its default); this runs after every
	 * mod_init, so tcpops keeps working and the timer's sweep finds the
	 * closed connections instead */
	if(sr_event_enabled(SREV_TCP_CLOSED)
			|| sr_event_register_cb(SREV_TCP_CLOSED, on_tcp_closed) != 0) {
		LM_INFO("handle_lost_tcp: the TCP-closed event is another module's "
				"(tcpops); closed connections are found by the timer, "
				"once per timer_interval\n");
		return 0;
	}
	closed_cb = 1;
	return 0;
}

/* an entry taken off the dead list, copied out of the index */
typedef struct taken
{
	aor_table_t *t;
	uint64_t id;
	int32_t conn_id;
	int klen;
} taken_t;

static int match_conn(const aor_binding_t *b, const void *arg)
{
	const taken_t *e = arg;

	return b->id == e->id && b->conn_id == e->conn_id;
}

/* removes the bindings of at most DRAIN_MAX dead entries */
static void drain(void)
{
	static taken_t take[DRAIN_MAX];
	static char keys[DRAIN_BYTES];
	static char *kp[DRAIN_MAX];
	size_t used = 0;
	ent_t *e, **l;
	str key;
	int n = 0, i, r;

	if(idx->dead == NULL)
		return;
	lock_get(&idx->lock);
	while((e = idx->dead) != NULL && n < DRAIN_MAX
			&& used + e->klen <= DRAIN_BYTES) {
		cunlink(e);
		e->state = E_TAKEN;
		take[n].t = e->t;
		take[n].id = e->id;
		take[n].conn_id = e->conn_id;
		take[n].klen = e->klen;
		kp[n] = keys + used;
		memcpy(kp[n], e->key, e->klen);
		used += e->klen;
		n++;
	}
	lock_release(&idx->lock);
	/* no lock of ours held: the removals run the journal, whose
	 * subscriber (on_removed) frees the entries */
	for(i = 0; i < n; i++) {
		key.s = kp[i];
		key.len = take[i].klen;
		r = aor_ops_remove_as(take[i].t, &key, match_conn, &take[i],
				AOR_ORIG_LOCAL, AOR_CH_EXPIRED);
		if(r > 0) {
			LM_DBG("connection %d closed: binding of %.*s removed\n",
					take[i].conn_id, key.len, key.s);
			counter_add(cnt_lost, r);
			continue;
		}
		lock_get(&idx->lock);
		l = id_link(take[i].id);
		if(*l && (*l)->state == E_TAKEN) {
			if(r < 0) { /* no memory: next tick */
				clink(*l, &idx->dead);
				(*l)->state = E_DEAD;
			} else {
				/* the binding left the store with no change we saw */
				ent_free(l);
			}
		}
		lock_release(&idx->lock);
	}
}

/* checks the connections of a slice of the index: the whole of it once
 * per timer_interval, at most SWEEP_MAX connections per tick */
static void sweep(void)
{
	static int32_t conns[SWEEP_MAX];
	uint32_t buckets, pos;
	ent_t *e;
	int n = 0, i, k;

	if(aor_atomic_get(&idx->n) == 0)
		return;
	buckets = IDX_SIZE / (aor_params.timer_interval * TICKS_PER_SEC) + 1;
	lock_get(&idx->lock);
	pos = idx->sweep_pos;
	for(; buckets > 0; buckets--, pos = (pos + 1) & (IDX_SIZE - 1)) {
		k = 0;
		for(e = idx->by_conn[pos]; e; e = e->cnext)
			k++;
		if(n + k > SWEEP_MAX && n > 0)
			break; /* this bucket in the next tick */
		for(e = idx->by_conn[pos]; e && n < SWEEP_MAX; e = e->cnext)
			if(n == 0 || conns[n - 1] != e->conn_id)
				conns[n++] = e->conn_id;
	}
	idx->sweep_pos = pos;
	lock_release(&idx->lock);
	/* tcpconn_get takes the core's connection lock: not under ours */
	for(i = 0; i < n; i++) {
		if(conn_alive(conns[i]))
			continue;
		lock_get(&idx->lock);
		conn_dead(conns[i]);
		lock_release(&idx->lock);
	}
}

void aor_tcp_tick(void)
{
	if(idx == NULL)
		return;
	sweep();
	drain();
}

int aor_tcp_alive_filter(aor_binding_t **v, int n)
{
	int i, k = 0;

	if(idx == NULL)
		return n;
	for(i = 0; i < n; i++) {
		if(v[i]->conn_id <= 0 || conn_alive(v[i]->conn_id)) {
			v[k++] = v[i];
			continue;
		}
		/* gone: skipped now, removed by the next tick */
		lock_get(&idx->lock);
		conn_dead(v[i]->conn_id);
		lock_release(&idx->lock);
	}
	return k;
}

void aor_tcp_destroy(void)
{
	ent_t *e;
	uint32_t i;

	if(idx == NULL)
		return;
	for(i = 0; i < IDX_SIZE; i++)
		while((e = idx->by_id[i]) != NULL) {
			idx->by_id[i] = e->inext;
			shm_free(e);
		}
	shm_free(idx);
	idx = NULL;
}
