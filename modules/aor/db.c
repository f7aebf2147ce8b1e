/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The SQL location table (db.h): start-up load, the journal subscriber,
 * the bounded queue and the writer process.
 */

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../core/counters.h"
#include "../../core/globals.h"
#include "../../core/locking.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/pt.h"
#include "../../core/rand/kam_rand.h"
#include "../../core/socket_info.h"
#include "../../core/sr_module.h"
#include "../../core/timer_proc.h"
#include "../../core/ut.h"
#include "../../lib/srdb1/db.h"
#include "../../lib/srdb1/db_query.h"

#include "db.h"
#include "errors.h"
#include "journal.h"
#include "ops.h"
#include "params.h"
#include "load.h"
#include "ulapi.h"

#define LOCATION_VERSION 9 /* usrloc's location schema */
#define WRITE_BATCH 200	   /* changes per transaction */
#define TICK_BATCHES 10	   /* transactions per writer tick, at most */
#define BACKOFF_MAX_MS 5000
#define FIELD_MAX 4096 /* a string column longer than this is refused */
#define BAD_ROW_LOG_MAX 10
#define REFUSED_MAX 3 /* tries of a change the database refuses */
#define REKEY_BATCH 1000 /* rows re-keyed per transaction while loading */

/* the columns, in the order of aor_db_params.col */
enum db_col
{
	C_RUID,
	C_USER,
	C_DOMAIN,
	C_CONTACT,
	C_EXPIRES,
	C_Q,
	C_CALLID,
	C_CSEQ,
	C_FLAGS,
	C_CFLAGS,
	C_UA,
	C_RECEIVED,
	C_PATH,
	C_SOCKET,
	C_METHODS,
	C_INSTANCE,
	C_REGID,
	C_SRVID,
	C_CONID,
	C_KEEPALIVE,
	C_PARTITION,
	C_LASTMOD,
	C_COUNT
};

/* the column names and the URL as str, from aor_db_params (mod_init) */
static str col[C_COUNT];
static str db_url;

#define P aor_db_params

/* ---- the queue (shm) ---- */

typedef struct dbq_ent
{
	uint64_t seq;
	aor_table_t *t;
	aor_binding_t *b; /* a copy for the kinds that keep a binding */
	uint64_t id;
	uint64_t version; /* the binding's, after the change */
	enum aor_change kind;
} dbq_ent_t;

typedef struct dbq
{
	gen_lock_t lock;
	unsigned int cap, head, n;
	uint64_t next_seq; /* the seq of the next change queued */
	uint64_t durable;  /* every change up to this seq is done with */
	int down;		   /* the writer finds the database unreachable */
	int late;		   /* a reply waited out db_sync_timeout: the writer is
						* behind (a hung database, a replay); no reply
						* waits until it has caught up */
	int stalled;	   /* the head change is being refused: none waits */
	unsigned long written, dropped, rejected, outages, timeouts;
	long backlog_max;
	dbq_ent_t ent[];
} dbq_t;

static dbq_t *q;
static db_func_t dbf;
static int writes;	   /* modes 1 and 2 */
static int loaded;	   /* the tables were loaded at start-up */
static int load_ready; /* mod_init got as far as loading */
static unsigned int node; /* db_mode 3: the residue of this node's ids */
static uint64_t my_seq; /* the last change this process queued */
static int p_failed;	/* db_mode 3: a write of this process failed */

static void write_now(const aor_jchange_t *c);

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a journal change into the queue; the writer frees the copy */
static void on_change(const aor_jchange_t *c, void *arg)
{
	aor_binding_t *copy = NULL;
	dbq_ent_t *e;
	size_t sz;

	/* the start-up load (mode 3: a pull) read these from the database */
	if(c->origin == AOR_ORIG_LOAD)
		return;
	if(aor_params.db_mode == 3) {
		write_now(c);
		return;
	}
	if(!aor_change_removes(c->kind) && c->b != NULL) {
		sz = aor_binding_size(c->b);
		/* an outage must not eat the shm the workers need */
		if(shm_available() > aor_limits.shm_reserve + sz)
			copy = shm_malloc(sz);
		if(copy == NULL) {
			aor_atomic_add(&q->dropped, 1);
			AOR_WARN_LIMITED("db: no shm to queue a change of %.*s; "
							 "dropped (the row is stale until its next "
							 "change)",
					aor_binding_get(c->b, AOR_F_AOR).len,
					aor_binding_get(c->b, AOR_F_AOR).s);
			return;
		}
		memcpy(copy, c->b, sz);
		copy->next = NULL;
	}
	lock_get(&q->lock);
	if(q->n == q->cap) {
		aor_atomic_add(&q->dropped, 1);
		lock_release(&q->lock);
		if(copy)
			shm_free(copy);
		AOR_WARN_LIMITED("db: the queue is full (db_queue_max %d): a change "
						 "was dropped",
				P.db_queue_max);
		return;
	}
	e = &q->ent[(q->head + q->n) % q->cap];
	e->seq = ++q->next_seq;
	e->t = c->t;
	e->b = copy;
	e->id = c->id;
	e->version = c->version;
	e->kind = c->kind;
	q->n++;
	if((long)q->n > q->backlog_max)
		q->backlog_max = q->n;
	my_seq = e->seq;
	lock_release(&q->lock);
}

int aor_db_sync_(void)
{
	long deadline;

	if(aor_params.db_mode == 3) {
		if(!p_failed)
			return 0;
		p_failed = 0;
		return AOR_E_DB;
	}
	if(aor_params.db_mode != 1 || q == NULL || my_seq == 0
			|| P.db_sync_timeout == 0)
		return 0;
	deadline = now_ms() + P.db_sync_timeout;
	/* no lock held: the writer advances durable, nothing else waits on us */
	while(__atomic_load_n(&q->durable, __ATOMIC_ACQUIRE) < my_seq
			&& !__atomic_load_n(&q->down, __ATOMIC_RELAXED)
			&& !__atomic_load_n(&q->late, __ATOMIC_RELAXED)
			&& !__atomic_load_n(&q->stalled, __ATOMIC_RELAXED)) {
		if(now_ms() >= deadline) {
			aor_atomic_add(&q->timeouts, 1);
			/* one reply waited in vain: the others do not, until the
			 * writer has caught up (writer_tick clears it) */
			__atomic_store_n(&q->late, 1, __ATOMIC_RELEASE);
			break;
		}
		sleep_us(250);
	}
	my_seq = 0;
	return 0;
}

/* ---- values ---- */

static int val_str(db_val_t *v, str *s)
{
	s->s = NULL;
	s->len = 0;
	if(VAL_NULL(v))
		return 0;
	switch(VAL_TYPE(v)) {
		case DB1_STRING:
			s->s = (char *)VAL_STRING(v);
			s->len = s->s ? strlen(s->s) : 0;
			return 0;
		case DB1_STR:
			*s = VAL_STR(v);
			return 0;
		case DB1_BLOB:
			*s = VAL_BLOB(v);
			return 0;
		default:
			return -1;
	}
}

static int val_ll(db_val_t *v, long long *n)
{
	str s;
	int i;

	if(VAL_NULL(v))
		return -1;
	switch(VAL_TYPE(v)) {
		case DB1_INT:
			*n = VAL_INT(v);
			return 0;
		case DB1_BITMAP:
			*n = (long long)VAL_BITMAP(v);
			return 0;
		case DB1_BIGINT:
			*n = VAL_BIGINT(v);
			return 0;
		case DB1_UINT:
			*n = VAL_UINT(v);
			return 0;
		case DB1_DATETIME:
			*n = (long long)VAL_TIME(v);
			return 0;
		case DB1_DOUBLE:
			*n = (long long)VAL_DOUBLE(v);
			return 0;
		default:
			if(val_str(v, &s) < 0 || s.len == 0 || str2sint(&s, &i) < 0)
				return -1;
			*n = i;
			return 0;
	}
}

/* ---- loading ---- */

struct loadrun
{
	struct aor_load ld;
	long rows, bad, rekeyed;
	str *old_ruids; /* pkg: ruids of rows written by another producer */
	uint64_t *new_ids;
	long n_rekey, cap_rekey;
	db1_con_t *rcon; /* the re-keys' own connection, while the load reads */
};

static void bad_row(struct loadrun *lr, const str *table, long row,
		const char *what)
{
	if(lr->bad++ < BAD_ROW_LOG_MAX)
		LM_ERR("db: table %.*s, row %ld: %s; the row is skipped\n", table->len,
				table->s, row, what);
}

static int rekey_add(struct loadrun *lr, const str *ruid, uint64_t id)
{
	void *p;
	long cap;

	if(lr->n_rekey == lr->cap_rekey) {
		cap = lr->cap_rekey ? lr->cap_rekey * 2 : 256;
		p = pkg_realloc(lr->old_ruids, cap * sizeof(str));
		if(p == NULL)
			goto nomem;
		lr->old_ruids = p;
		p = pkg_realloc(lr->new_ids, cap * sizeof(uint64_t));
		if(p == NULL)
			goto nomem;
		lr->new_ids = p;
		lr->cap_rekey = cap;
	}
	lr->old_ruids[lr->n_rekey].s = pkg_malloc(ruid->len + 1);
	if(lr->old_ruids[lr->n_rekey].s == NULL) {
		PKG_MEM_ERROR_FMT(
				"db: the ruids of %ld rows to re-key\n", lr->n_rekey + 1);
		return -1;
	}
	memcpy(lr->old_ruids[lr->n_rekey].s, ruid->s, ruid->len);
	lr->old_ruids[lr->n_rekey].len = ruid->len;
	lr->new_ids[lr->n_rekey++] = id;
	return 0;
nomem:
	PKG_MEM_ERROR_FMT("db: a list of %ld rows to re-key\n", cap);
	return -1;
}

/* A row (in the order of the load's columns) as a binding's fields into
 * *inp (its AoR key in key, AOR_KEY_BUF bytes; id 0 for another
 * producer's ruid, *ruid the row's). 0, or 1 for a bad row (logged). */
static int row_in(struct loadrun *lr, aor_table_t *t, db_val_t *v, long row,
		aor_binding_in_t *inp, char *key, str *ruid)
{
	aor_binding_in_t in;
	str user, dom, s;
	long long n;
	int i;

	memset(&in, 0, sizeof(in));
	lr->rows++;
	if(val_str(&v[C_USER], &user) < 0 || val_str(&v[C_DOMAIN], &dom) < 0
			|| user.len + dom.len + 1 > AOR_KEY_URI_MAX) {
		bad_row(lr, &t->name, row, "bad username or domain");
		return 1;
	}
	if(user.len == 0 && (dom.len == 0 || !aor_params.use_domain)) {
		bad_row(lr, &t->name, row, "empty username");
		return 1;
	}
	/* the key save() makes: user@domain with use_domain, else user */
	if(aor_params.use_domain && dom.len > 0) {
		memcpy(key, user.s, user.len);
		key[user.len] = '@';
		memcpy(key + user.len + 1, dom.s, dom.len);
		in.f[AOR_F_AOR].len = user.len + 1 + dom.len;
	} else {
		memcpy(key, user.s, user.len);
		in.f[AOR_F_AOR].len = user.len;
	}
	in.f[AOR_F_AOR].s = key;
	static const int strs[][2] = {{C_CONTACT, AOR_F_URI},
			{C_RECEIVED, AOR_F_RECEIVED}, {C_PATH, AOR_F_PATH},
			{C_UA, AOR_F_UA}, {C_CALLID, AOR_F_CALLID},
			{C_INSTANCE, AOR_F_INSTANCE}, {C_SOCKET, AOR_F_SOCK}};
	for(i = 0; i < (int)(sizeof(strs) / sizeof(strs[0])); i++) {
		if(val_str(&v[strs[i][0]], &s) < 0 || s.len > FIELD_MAX) {
			bad_row(lr, &t->name, row, "a text column is not text or too long");
			return 1;
		}
		in.f[strs[i][1]] = s;
	}
	if(in.f[AOR_F_URI].len == 0) {
		bad_row(lr, &t->name, row, "empty contact");
		return 1;
	}
	/* stock dbrow2info: expires, q, cseq, flags and cflags are required */
	if(val_ll(&v[C_EXPIRES], &n) < 0 || n < 0) {
		bad_row(lr, &t->name, row, "bad expires");
		return 1;
	}
	in.expires = (time_t)n;
	if(VAL_NULL(&v[C_Q])) {
		bad_row(lr, &t->name, row, "empty q");
		return 1;
	}
	if(VAL_TYPE(&v[C_Q]) == DB1_DOUBLE) {
		double d = VAL_DOUBLE(&v[C_Q]);
		/* RFC 3261 20.10: q is 0 to 1; stock stores -1 for none */
		in.q = (d < 0) ? AOR_Q_UNSPEC
					   : (int16_t)(d > 1 ? 1000 : (int)(d * 1000 + 0.5));
	} else if(val_ll(&v[C_Q], &n) == 0) {
		in.q = n < 0 ? AOR_Q_UNSPEC : (int16_t)(n > 1 ? 1000 : n * 1000);
	} else {
		bad_row(lr, &t->name, row, "bad q");
		return 1;
	}
	if(val_ll(&v[C_CSEQ], &n) < 0) {
		bad_row(lr, &t->name, row, "bad cseq");
		return 1;
	}
	in.cseq = (uint32_t)n;
	in.cflags = val_ll(&v[C_CFLAGS], &n) == 0 ? (uint32_t)n : 0;
	in.methods = val_ll(&v[C_METHODS], &n) == 0 ? (uint32_t)n : 0xFFFFFFFFu;
	in.modified = val_ll(&v[C_LASTMOD], &n) == 0 ? (time_t)n : 0;
	in.reg_id = val_ll(&v[C_REGID], &n) == 0 ? (int32_t)n : 0;
	/* a connection of the Kamailio that wrote the row is gone */
	in.conn_id = 0;
	if(in.f[AOR_F_CALLID].len == 0) {
		bad_row(lr, &t->name, row, "empty callid");
		return 1;
	}
	if(aor_binding_size_in(&in) == 0) {
		bad_row(lr, &t->name, row, "the row is too large for a binding");
		return 1;
	}
	if(val_str(&v[C_RUID], ruid) < 0)
		ruid->len = 0;
	if(ruid->len == 0 || aor_ruid_parse(ruid, &in.id) < 0)
		in.id = 0; /* another producer's ruid: a new id, the row re-keyed */
	*inp = in;
	return 0;
}

/* one row into table t (the start-up load) */
static int load_row(
		struct loadrun *lr, aor_table_t *t, db_val_t *v, long row)
{
	char key[AOR_KEY_BUF];
	aor_binding_in_t in;
	str ruid;
	int r;

	if(row_in(lr, t, v, row, &in, key, &ruid) != 0)
		return 0;
	r = aor_load_binding(&t->name, &in, &lr->ld);
	if(r < 0)
		return r;
	/* db_mode 4 never writes: nothing needs to find the row by ruid */
	if(writes && lr->ld.id != 0 && in.id == 0 && ruid.len > 0
			&& rekey_add(lr, &ruid, lr->ld.id) < 0)
		return -1; /* no start with rows that later changes would miss */
	return 0;
}

static void db_time_val(db_val_t *v, time_t t)
{
	memset(v, 0, sizeof(*v));
	if(aor_params.expires_type == 1) {
		v->type = DB1_BIGINT;
		v->val.ll_val = (long long)t;
	} else {
		v->type = DB1_DATETIME;
		v->val.time_val = t;
	}
}

static int use_tx; /* 1 start/end_transaction, 2 BEGIN/COMMIT, 0 none */

/* a transaction's BEGIN, COMMIT or ROLLBACK on con, as the driver has them
 * (db_sqlite: raw statements; a driver with neither: nothing) */
static int tx_on(db1_con_t *con, const char *what)
{
	db1_res_t *res = NULL;
	str s;

	if(use_tx == 0)
		return 0;
	if(use_tx == 1) {
		if(what[0] == 'B')
			return dbf.start_transaction(con, DB_LOCKING_NONE);
		if(what[0] == 'C')
			return dbf.end_transaction(con);
		return dbf.abort_transaction(con);
	}
	s.s = (char *)what;
	s.len = strlen(what);
	/* db_sqlite runs a raw statement only when asked for its result */
	if(dbf.raw_query(con, &s, &res) < 0)
		return -1;
	if(res)
		dbf.free_result(con, res);
	return 0;
}

#define tx(what) tx_on(wcon, (what))

/* rows of another producer (stock's ruids) take the ruid of the binding
 * they became, so that later changes find them */
static int rekey(db1_con_t *con, aor_table_t *t, struct loadrun *lr)
{
	char rb[AOR_RUID_LEN + 1];
	db_key_t k = &col[C_RUID];
	db_val_t ov, nv;
	long i;
	int tx;

	if(lr->n_rekey == 0)
		return 0;
	/* one commit per batch, not one per row (db_sqlite: one disk sync) */
	tx = lr->n_rekey > 1 && tx_on(con, "BEGIN") == 0;
	for(i = 0; i < lr->n_rekey; i++) {
		memset(&ov, 0, sizeof(ov));
		memset(&nv, 0, sizeof(nv));
		ov.type = nv.type = DB1_STR;
		ov.val.str_val = lr->old_ruids[i];
		nv.val.str_val.s = rb;
		nv.val.str_val.len = aor_ruid_fmt(lr->new_ids[i], rb);
		if(dbf.update(con, &k, 0, &ov, &k, &nv, 1, 1) < 0) {
			LM_ERR("db: table %.*s: cannot give row %.*s its new ruid %s\n",
					t->name.len, t->name.s, ov.val.str_val.len,
					ov.val.str_val.s, rb);
			if(tx)
				tx_on(con, "ROLLBACK");
			return -1;
		}
	}
	if(tx && tx_on(con, "COMMIT") < 0) {
		LM_ERR("db: table %.*s: cannot commit the new ruids of %ld rows\n",
				t->name.len, t->name.s, lr->n_rekey);
		return -1;
	}
	lr->rekeyed += lr->n_rekey;
	for(i = 0; i < lr->n_rekey; i++)
		pkg_free(lr->old_ruids[i].s);
	lr->n_rekey = 0;
	return 0;
}

/* a full batch of re-keys while the load still reads: over a connection
 * of their own, the reading one holding its result (drivers with init2,
 * as db_postgres; the others keep the list to the end of the load) */
static int rekey_batch(aor_table_t *t, struct loadrun *lr)
{
	if(lr->n_rekey < REKEY_BATCH || dbf.init2 == NULL)
		return 0;
	if(lr->rcon == NULL) {
		lr->rcon = dbf.init2(&db_url, DB_POOLING_NONE);
		if(lr->rcon == NULL) {
			LM_ERR("db: cannot open a second connection to %.*s\n", db_url.len,
					db_url.s);
			return -1;
		}
	}
	if(dbf.use_table(lr->rcon, &t->name) < 0)
		return -1;
	return rekey(lr->rcon, t, lr);
}

static void loadrun_free(struct loadrun *lr)
{
	long i;

	for(i = 0; i < lr->n_rekey; i++)
		pkg_free(lr->old_ruids[i].s);
	if(lr->old_ruids)
		pkg_free(lr->old_ruids);
	if(lr->new_ids)
		pkg_free(lr->new_ids);
	if(lr->rcon)
		dbf.close(lr->rcon);
}

/* expired rows never become bindings: deleted, as stock's timer would */
static void delete_expired(db1_con_t *con, aor_table_t *t, time_t now)
{
	db_key_t k[3] = {&col[C_EXPIRES], &col[C_EXPIRES], &col[C_SRVID]};
	db_op_t op[3] = {OP_LT, OP_NEQ, OP_EQ};
	db_val_t v[3];

	db_time_val(&v[0], now);
	db_time_val(&v[1], 0);
	memset(&v[2], 0, sizeof(v[2]));
	v[2].type = DB1_INT;
	v[2].val.int_val = server_id;
	if(dbf.delete(con, k, op, v, P.server_id_filter ? 3 : 2) < 0)
		LM_WARN("db: table %.*s: cannot delete the expired rows\n",
				t->name.len, t->name.s);
}

/* db_clean_tcp (stock uldb_delete_tcp_records): the rows of connections,
 * which a restart has closed, are deleted before the load */
static void delete_tcp_rows(db1_con_t *con, aor_table_t *t)
{
	db_key_t k[2] = {&col[C_CONID], &col[C_SRVID]};
	db_op_t op[2] = {OP_GT, OP_EQ};
	db_val_t v[2];

	memset(v, 0, sizeof(v));
	v[0].type = v[1].type = DB1_INT;
	v[1].val.int_val = server_id;
	if(dbf.delete(con, k, op, v, P.server_id_filter ? 2 : 1) < 0)
		LM_WARN("db: table %.*s: cannot delete the rows of TCP connections\n",
				t->name.len, t->name.s);
}

/* A driver that reads a result whole (db_sqlite) would put the whole
 * table in pkg memory: pages of fetch_rows rows instead, by the schema's
 * id column (keyset: WHERE id > last ORDER BY id LIMIT n). 0 with *res
 * the page, -1 when the driver or the table cannot (then the caller
 * reads the table whole, as stock does). */
static int keyset_page(
		db1_con_t *con, aor_table_t *t, long long after, db1_res_t **res)
{
	char sql[2048], filter[64] = "";
	str q;
	int n, i;

	if(P.server_id_filter)
		snprintf(filter, sizeof(filter), " AND %.*s=%d", col[C_SRVID].len,
				col[C_SRVID].s, server_id);
	n = snprintf(sql, sizeof(sql), "SELECT ");
	for(i = 0; i < C_COUNT && n < (int)sizeof(sql); i++)
		n += snprintf(sql + n, sizeof(sql) - n, "%.*s,", col[i].len,
				col[i].s);
	/* the table's name as a quoted identifier: a name with '-' or '.'
	 * (which tables may have) or a quote cannot change the statement */
	if(n < (int)sizeof(sql))
		n += snprintf(sql + n, sizeof(sql) - n, "id FROM \"");
	for(i = 0; i < t->name.len && n + 2 < (int)sizeof(sql); i++) {
		if(t->name.s[i] == '"')
			sql[n++] = '"';
		sql[n++] = t->name.s[i];
	}
	if(n < (int)sizeof(sql))
		n += snprintf(sql + n, sizeof(sql) - n,
				"\" WHERE id>%lld%s ORDER BY id LIMIT %d", after, filter,
				P.fetch_rows);
	if(n >= (int)sizeof(sql))
		return -1;
	q.s = sql;
	q.len = n;
	*res = NULL;
	if(dbf.raw_query(con, &q, res) < 0) {
		*res = NULL;
		return -1;
	}
	return 0;
}

static int load_table(db1_con_t *con, aor_table_t *t)
{
	db_key_t cols[C_COUNT], key = &col[C_SRVID];
	db_val_t kv;
	db1_res_t *res = NULL;
	struct loadrun lr;
	struct timespec t0;
	long row = 0;
	long long last;
	int i, ret = -1, r, more, paged, n;

	memset(&lr, 0, sizeof(lr));
	aor_load_begin(&lr.ld, "database");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for(i = 0; i < C_COUNT; i++)
		cols[i] = &col[i];
	memset(&kv, 0, sizeof(kv));
	kv.type = DB1_INT;
	kv.val.int_val = server_id;
	if(dbf.use_table(con, &t->name) < 0) {
		LM_ERR("db: cannot use table %.*s\n", t->name.len, t->name.s);
		return -1;
	}
	if(P.db_clean_tcp && writes)
		delete_tcp_rows(con, t);
	/* fetch_rows at a time: by the driver's fetch where it has one, by
	 * pages of the id column where it has raw queries (db_sqlite), whole
	 * only where it has neither (db_text, which holds the file in memory
	 * anyway) */
	paged = !DB_CAPABILITY(dbf, DB_CAP_FETCH) && dbf.raw_query
			&& keyset_page(con, t, 0, &res) == 0;
	if(!paged && !DB_CAPABILITY(dbf, DB_CAP_FETCH))
		LM_NOTICE("db: table %.*s is read whole (the driver has no fetch%s): "
				  "a large table needs as much pkg memory\n",
				t->name.len, t->name.s,
				dbf.raw_query ? ", and the paged query by id failed" : "");
	more = paged ? 1
				 : db_fetch_query(&dbf, P.fetch_rows, con,
						 P.server_id_filter ? &key : 0, 0,
						 P.server_id_filter ? &kv : 0, cols,
						 P.server_id_filter ? 1 : 0, C_COUNT, 0, &res);
	if(more < 0) {
		LM_ERR("db: cannot read table %.*s (a missing column? the columns "
			   "are usrloc's location schema version %d)\n",
				t->name.len, t->name.s, LOCATION_VERSION);
		return -1;
	}
	for(;;) {
		if(res == NULL)
			break;
		for(i = 0; i < RES_ROW_N(res); i++) {
			r = load_row(&lr, t, ROW_VALUES(RES_ROWS(res) + i), ++row);
			if(r == AOR_E_TABLE_FULL || r == AOR_E_NOMEM) {
				LM_ERR("db: table %.*s: %s after %ld rows; the rest is not "
					   "loaded\n",
						t->name.len, t->name.s,
						r == AOR_E_NOMEM ? "no shared memory left"
										 : "max_bindings reached",
						row);
				goto done;
			}
			if(r < 0 || rekey_batch(t, &lr) < 0)
				goto out;
		}
		if(more == 0 || RES_ROW_N(res) == 0)
			break;
		if(paged) {
			n = RES_ROW_N(res);
			if(n < P.fetch_rows
					|| val_ll(&ROW_VALUES(RES_ROWS(res) + n - 1)[C_COUNT],
							   &last)
							   < 0) {
				break;
			}
			dbf.free_result(con, res);
			res = NULL;
			/* the page is read whole: its re-keys go now, on this
			 * connection, so that the list never grows past a page */
			if(lr.n_rekey > 0
					&& (dbf.use_table(con, &t->name) < 0
							|| rekey(con, t, &lr) < 0))
				goto out;
			if(keyset_page(con, t, last, &res) < 0) {
				LM_ERR("db: table %.*s: reading stopped at row %ld\n",
						t->name.len, t->name.s, row);
				goto out;
			}
			continue;
		}
		if(db_fetch_next(&dbf, P.fetch_rows, con, &res) < 0) {
			res = NULL;
			LM_ERR("db: table %.*s: reading stopped at row %ld\n",
					t->name.len, t->name.s, row);
			goto out;
		}
	}
done:
	if(res)
		dbf.free_result(con, res);
	res = NULL;
	if(rekey(con, t, &lr) < 0)
		goto out;
	if(writes && lr.ld.expired > 0)
		delete_expired(con, t, lr.ld.now);
	LM_INFO("db: table %.*s: loaded %ld bindings from %ld rows in %ld ms "
			"(%ld expired, %ld bad, %ld re-keyed, %ld kept without their "
			"socket, %ld dropped for theirs)\n",
			t->name.len, t->name.s,
			lr.rows - lr.ld.expired - lr.bad - lr.ld.remote - lr.ld.dups,
			lr.rows, aor_ms_since(&t0), lr.ld.expired, lr.bad, lr.rekeyed,
			lr.ld.nosock - lr.ld.remote, lr.ld.remote);
	ret = 0;
out:
	if(res)
		dbf.free_result(con, res);
	loadrun_free(&lr);
	return ret;
}

static db1_con_t *connect_db(void)
{
	db1_con_t *con = dbf.init(&db_url);

	if(con == NULL)
		LM_ERR("db: cannot connect to %.*s\n", db_url.len, db_url.s);
	return con;
}

int aor_db_table(aor_table_t *t)
{
	db1_con_t *con;
	int r;

	if(!load_ready)
		return 0;
	if((con = connect_db()) == NULL)
		return -1;
	r = 0;
	if(P.version_table
			&& db_check_table_version(&dbf, con, &t->name, LOCATION_VERSION)
					   < 0) {
		DB_TABLE_VERSION_ERROR(t->name);
		r = -1;
	}
	/* nodes that share a table (server_id set, db_mode 3 always) make
	 * their ruids in residues of their own */
	if(node != 0)
		aor_table_id_node(t, node);
	if(aor_params.db_mode == 3) {
		/* nothing loaded: every request reads what it needs */
		loaded = 1;
	} else if(r == 0 && P.db_load) {
		r = load_table(con, t);
		if(r == 0)
			loaded = 1;
	}
	dbf.close(con);
	return r;
}

int aor_db_loaded(void)
{
	return loaded;
}

/* ---- writing ---- */

/* the columns of b (stock's db_insert_ucontact and update by ruid) */
static int columns(const dbq_ent_t *e, db_key_t *k, db_val_t *v, char *rb,
		str *user, int with_nulls)
{
	ucontact_t c;
	str aor = aor_binding_get(e->b, AOR_F_AOR);
	char *at;
	int n = 0;

	aor_ul_contact_fill(&c, e->b, &aor, aor_ul_domain_name(e->t), rb, 0);
#define COL(ci, ty)                      \
	do {                                 \
		k[n] = &col[ci];               \
		memset(&v[n], 0, sizeof(v[n]));  \
		v[n].type = ty;                  \
	} while(0)
#define STRCOL(ci, sv)                                \
	do {                                              \
		if((sv).len > 0 || with_nulls) {              \
			COL(ci, DB1_STR);                         \
			v[n].nul = (sv).len == 0;                 \
			v[n].val.str_val = (sv);                  \
			n++;                                      \
		}                                             \
	} while(0)
	*user = aor;
	COL(C_CONTACT, DB1_STR);
	v[n++].val.str_val = c.c;
	k[n] = &col[C_EXPIRES];
	db_time_val(&v[n++], c.expires);
	COL(C_Q, DB1_DOUBLE);
	v[n++].val.double_val = c.q == AOR_Q_UNSPEC ? -1.0 : c.q / 1000.0;
	COL(C_CALLID, DB1_STR);
	v[n++].val.str_val = c.callid;
	COL(C_CSEQ, DB1_INT);
	v[n++].val.int_val = c.cseq;
	COL(C_FLAGS, DB1_INT);
	v[n++].val.bitmap_val = c.flags;
	COL(C_CFLAGS, DB1_INT);
	v[n++].val.bitmap_val = c.cflags;
	COL(C_UA, DB1_STR);
	v[n++].val.str_val = c.user_agent;
	STRCOL(C_RECEIVED, c.received);
	STRCOL(C_PATH, c.path);
	if(c.sock)
		STRCOL(C_SOCKET, c.sock->sock_str);
	else {
		str none = STR_NULL;
		STRCOL(C_SOCKET, none);
	}
	if(c.methods != 0xFFFFFFFF || with_nulls) {
		COL(C_METHODS, DB1_BITMAP);
		v[n].nul = c.methods == 0xFFFFFFFF;
		v[n++].val.bitmap_val = c.methods;
	}
	k[n] = &col[C_LASTMOD];
	db_time_val(&v[n++], c.last_modified);
	STRCOL(C_INSTANCE, c.instance);
	COL(C_REGID, DB1_INT);
	v[n++].val.int_val = (int)c.reg_id;
	COL(C_SRVID, DB1_INT);
	v[n++].val.int_val = c.server_id;
	COL(C_CONID, DB1_INT);
	v[n++].val.int_val = c.tcpconn_id;
	COL(C_KEEPALIVE, DB1_INT);
	v[n++].val.int_val = c.keepalive;
	/* usrloc's username is the whole AoR without use_domain, else the
	 * user part, the domain in its own column */
	if(aor_params.use_domain) {
		at = memchr(aor.s, '@', aor.len);
		user->len = at ? at - aor.s : 0;
	}
	return n;
#undef STRCOL
#undef COL
}

static int write_insert(db1_con_t *con, const dbq_ent_t *e)
{
	db_key_t k[C_COUNT];
	db_val_t v[C_COUNT];
	char rb[AOR_RUID_LEN + 1];
	str user, aor;
	char *at;
	int n;

	n = columns(e, k, v, rb, &user, P.db_insert_null);
	aor = aor_binding_get(e->b, AOR_F_AOR);
	k[n] = &col[C_USER];
	memset(&v[n], 0, sizeof(v[n]));
	v[n].type = DB1_STR;
	v[n++].val.str_val = user;
	k[n] = &col[C_RUID];
	memset(&v[n], 0, sizeof(v[n]));
	v[n].type = DB1_STR;
	v[n].val.str_val.s = rb;
	v[n++].val.str_val.len = AOR_RUID_LEN;
	k[n] = &col[C_PARTITION];
	memset(&v[n], 0, sizeof(v[n]));
	v[n++].type = DB1_INT;
	if(aor_params.use_domain) {
		k[n] = &col[C_DOMAIN];
		memset(&v[n], 0, sizeof(v[n]));
		v[n].type = DB1_STR;
		at = memchr(aor.s, '@', aor.len);
		if(at) {
			v[n].val.str_val.s = at + 1;
			v[n].val.str_val.len = aor.s + aor.len - at - 1;
		} else
			v[n].val.str_val = aor;
		n++;
	}
	return dbf.insert(con, k, v, n);
}

static int ruid_key(const dbq_ent_t *e, db_key_t *k, db_val_t *v, char *rb)
{
	*k = &col[C_RUID];
	memset(v, 0, sizeof(*v));
	v->type = DB1_STR;
	v->val.str_val.s = rb;
	v->val.str_val.len = aor_ruid_fmt(e->id, rb);
	return 1;
}

static int write_delete(db1_con_t *con, const dbq_ent_t *e)
{
	char rb[AOR_RUID_LEN + 1];
	db_key_t k;
	db_val_t v;

	ruid_key(e, &k, &v, rb);
	return dbf.delete(con, &k, 0, &v, 1);
}

/* an update by ruid; a row that is not there (a change dropped earlier,
 * a row deleted by hand) is inserted: where the driver cannot say how
 * many rows it updated, delete and insert */
static int write_update(db1_con_t *con, const dbq_ent_t *e)
{
	db_key_t k[C_COUNT], rk;
	db_val_t v[C_COUNT], rv;
	char rb[AOR_RUID_LEN + 1], rb2[AOR_RUID_LEN + 1];
	str user;
	int n;

	/* DB-only (3) updates only: no transaction spans the two statements
	 * there, and a row another node deleted stays deleted */
	if(!dbf.affected_rows && aor_params.db_mode != 3)
		return write_delete(con, e) < 0 ? -1 : write_insert(con, e);
	n = columns(e, k, v, rb, &user, 1);
	ruid_key(e, &rk, &rv, rb2);
	if(dbf.update(con, &rk, 0, &rv, k, v, 1, n) < 0)
		return -1;
	/* db_mysql counts changed rows, not matched ones (unless its
	 * update_affected_found): 0 may mean "there, and equal". An insert
	 * that then fails on the ruid leaves that row as it is */
	/* DB-only: 0 rows means another node deleted it since this node read
	 * it; its refresh must not bring the row back */
	if(aor_params.db_mode != 3 && dbf.affected_rows(con) == 0)
		write_insert(con, e);
	return 0;
}

static int retrying; /* the writer: the last batch failed */

/* The journal hands changes over after the slot unlock, so two processes
 * that changed one binding one after the other may queue the changes the
 * other way round (the window is a few instructions). The writer keeps
 * the last version it wrote of each binding, direct-mapped by id: a
 * change older than that is stale and skipped (a late insert after its
 * deletion would otherwise leave a row with no binding). */
#define SEEN_LOG2 14
static struct
{
	const aor_table_t *t; /* two tables may give one id */
	uint64_t id, version;
} seen[1 << SEEN_LOG2];

static int stale(const dbq_ent_t *e)
{
	unsigned int i = (unsigned int)((e->id ^ ((uintptr_t)e->t >> 4))
									& ((1u << SEEN_LOG2) - 1));

	if(seen[i].t == e->t && seen[i].id == e->id
			&& seen[i].version > e->version)
		return 1;
	seen[i].t = e->t;
	seen[i].id = e->id;
	seen[i].version = e->version;
	return 0;
}

static int write_one(db1_con_t *con, const dbq_ent_t *e)
{
	if(stale(e))
		return 0;
	if(dbf.use_table(con, &e->t->name) < 0)
		return -1;
	if(aor_change_removes(e->kind))
		return write_delete(con, e);
	if(e->b == NULL)
		return 0;
	/* after a failure a change may have been written whose answer was
	 * lost: an insert then replaces whatever has its ruid */
	if(e->kind == AOR_CH_INSERTED && !retrying)
		return write_insert(con, e);
	return write_update(con, e);
}

/* writer process state */
static db1_con_t *wcon;
static long next_try;  /* ms: the next attempt while down */
static long backoff;   /* ms */
static long down_since;
static long round_due; /* mode 2: ms of the next write-back round */
static uint64_t round_end;
static long clean_due; /* ms: the next delete of expired rows */
static void clean_expired(void);
static int head_fail; /* times the head change was refused */

/* the database takes a write that changes nothing (an update of the
 * rows of the empty ruid): a refused change is then the change's fault,
 * not the connection's, a lock's or a read-only file's */
static int probe(aor_table_t *t)
{
	db_key_t k = &col[C_RUID];
	db_val_t v;

	memset(&v, 0, sizeof(v));
	v.type = DB1_STR;
	v.val.str_val.s = "";
	if(dbf.use_table(wcon, &t->name) < 0
			|| dbf.update(wcon, &k, 0, &v, &k, &v, 1, 1) < 0)
		return -1;
	return 0;
}

static void pop(unsigned int n, uint64_t last)
{
	aor_binding_t *fr[WRITE_BATCH];
	unsigned int i;

	lock_get(&q->lock);
	for(i = 0; i < n; i++) {
		fr[i] = q->ent[q->head].b;
		q->head = (q->head + 1) % q->cap;
	}
	q->n -= n;
	lock_release(&q->lock);
	__atomic_store_n(&q->durable, last, __ATOMIC_RELEASE);
	for(i = 0; i < n; i++)
		if(fr[i])
			shm_free(fr[i]);
}

static void went_down(void)
{
	long now = now_ms();

	if(wcon) {
		dbf.close(wcon);
		wcon = NULL;
	}
	backoff = backoff ? backoff * 2 : 500;
	if(backoff > BACKOFF_MAX_MS)
		backoff = BACKOFF_MAX_MS;
	next_try = now + backoff;
	if(!__atomic_load_n(&q->down, __ATOMIC_RELAXED)) {
		__atomic_store_n(&q->down, 1, __ATOMIC_RELEASE);
		aor_atomic_add(&q->outages, 1);
		down_since = now;
		LM_ERR("db: %.*s is unreachable or refuses writes: changes are queued (%u now, at "
			   "most %d) and retried\n",
				db_url.len, db_url.s, q->n, P.db_queue_max);
	}
}

static void came_back(unsigned int queued)
{
	backoff = 0;
	if(__atomic_load_n(&q->down, __ATOMIC_RELAXED)) {
		__atomic_store_n(&q->down, 0, __ATOMIC_RELEASE);
		LM_NOTICE("db: %.*s is back after %ld ms; replaying %u queued "
				  "changes (%lu dropped so far)\n",
				db_url.len, db_url.s, now_ms() - down_since, queued,
				q->dropped);
	}
}

/* one transaction of up to WRITE_BATCH changes from the head. 1 written
 * (or nothing to write), 0 nothing queued, -1 the database is down */
static int write_batch(void)
{
	dbq_ent_t b[WRITE_BATCH];
	unsigned int n, i;

	lock_get(&q->lock);
	n = q->n < WRITE_BATCH ? q->n : WRITE_BATCH;
	for(i = 0; i < n; i++)
		b[i] = q->ent[(q->head + i) % q->cap];
	lock_release(&q->lock);
	if(n == 0)
		return 0;
	if(tx("BEGIN") < 0)
		goto failed;
	for(i = 0; i < n; i++)
		if(write_one(wcon, &b[i]) < 0)
			break;
	if(i == n && tx("COMMIT") == 0) {
		retrying = 0;
		pop(n, b[n - 1].seq);
		aor_atomic_add(&q->written, n);
		return 1;
	}
	tx("ROLLBACK");
failed:
	retrying = 1;
	if(probe(b[0].t) < 0)
		return -1;
	/* the database answers and refused a change: one at a time; the one
	 * refused is tried again with the backoff of an outage (a full disk, a
	 * read-only file, a lock), and dropped, logged, only after
	 * REFUSED_MAX tries (a row the database can never take) */
	for(i = 0; i < n; i++) {
		if(write_one(wcon, &b[i]) == 0) {
			head_fail = 0;
			aor_atomic_add(&q->written, 1);
			pop(1, b[i].seq);
			continue;
		}
		if(++head_fail < REFUSED_MAX)
			return -2;
		LM_ERR("db: table %.*s refused the change (kind %d) of ruid "
			   "aor-%016llx %d times; dropped\n",
				b[i].t->name.len, b[i].t->name.s, (int)b[i].kind,
				(unsigned long long)b[i].id, head_fail);
		head_fail = 0;
		aor_atomic_add(&q->rejected, 1);
		pop(1, b[i].seq);
	}
	return 1;
}

static void writer_tick(unsigned int ticks, void *param)
{
	long now = now_ms();
	unsigned int queued;
	int i, r;

	if(now < next_try)
		return;
	if(wcon == NULL) {
		wcon = dbf.init(&db_url);
		if(wcon == NULL) {
			went_down();
			return;
		}
	}
	/* rows whose expiry passed and whose deletion never came (a change
	 * dropped in an outage): gone within a timer_interval, as stock's */
	if(now >= clean_due) {
		clean_due = now + aor_params.timer_interval * 1000L;
		clean_expired();
	}
	/* mode 2: a round every timer_interval, or sooner when half full */
	if(aor_params.db_mode == 2 && round_end == 0) {
		if(round_due == 0) /* the first round a timer_interval after start */
			round_due = now + aor_params.timer_interval * 1000L;
		if(now < round_due && q->n < q->cap / 2)
			return;
		round_end = __atomic_load_n(&q->next_seq, __ATOMIC_RELAXED);
		round_due = now + aor_params.timer_interval * 1000L;
	}
	queued = __atomic_load_n(&q->n, __ATOMIC_RELAXED);
	for(i = 0; i < TICK_BATCHES; i++) {
		r = write_batch();
		if(r == -2) {
			/* the database is there and refused this change: again
			 * later, the connection kept; not an outage */
			__atomic_store_n(&q->stalled, 1, __ATOMIC_RELEASE);
			next_try = now + 200L * head_fail;
			return;
		}
		if(r < 0) {
			went_down();
			return;
		}
		came_back(queued);
		__atomic_store_n(&q->stalled, 0, __ATOMIC_RELAXED);
		if(__atomic_load_n(&q->n, __ATOMIC_RELAXED) == 0)
			__atomic_store_n(&q->late, 0, __ATOMIC_RELAXED);
		if(r == 0)
			break;
		if(aor_params.db_mode == 2
				&& __atomic_load_n(&q->durable, __ATOMIC_RELAXED) >= round_end)
			break;
	}
	if(aor_params.db_mode == 2
			&& __atomic_load_n(&q->durable, __ATOMIC_RELAXED) >= round_end)
		round_end = 0;
}

/* ---- db_mode 3: the database is the store ---- */

#define PULL_MAX AOR_REC_MAX /* rows of one AoR read at most */
#define RECONNECT_MS 1000

static db1_con_t *pcon;	 /* this process's connection */
static long pcon_retry;	 /* ms: no new attempt before */

static db1_con_t *proc_con(void)
{
	if(pcon != NULL)
		return pcon;
	if(now_ms() < pcon_retry)
		return NULL;
	pcon = dbf.init(&db_url);
	if(pcon == NULL) {
		pcon_retry = now_ms() + RECONNECT_MS;
		if(q != NULL) /* aor:db_outages: connects that failed */
			aor_atomic_add(&q->outages, 1);
		AOR_WARN_LIMITED("db: %.*s is unreachable (db_mode 3): REGISTERs "
						 "get 503, lookups fail",
				db_url.len, db_url.s);
	}
	return pcon;
}

/* a statement failed even after its retries: a new connection for the
 * next request (at once; only a failed connect waits RECONNECT_MS) */
static void proc_con_lost(void)
{
	if(pcon != NULL)
		dbf.close(pcon);
	pcon = NULL;
}

/* Several processes write one table in DB-only mode; db_sqlite answers
 * SQLITE_BUSY at once when another holds the file's lock (it sets no busy
 * timeout): a statement is tried again a few times, 2 to 16 ms apart
 * (about 30 ms in all), before the request is failed. */
#define BUSY_TRIES 5

/* a change written at once by the process that made it, as stock's
 * DB-only mode writes on the request path. Expiry is the database's own
 * (its expires column, cleaned by the writer): a node's copy may be older
 * than what another node wrote since, so it never deletes a row. */
static void write_now(const aor_jchange_t *c)
{
	dbq_ent_t e;
	db1_con_t *con;
	int i;

	if(c->kind == AOR_CH_EXPIRED)
		return;
	memset(&e, 0, sizeof(e));
	e.t = c->t;
	e.b = (aor_binding_t *)c->b;
	e.id = c->id;
	e.version = c->version;
	e.kind = c->kind;
	if((con = proc_con()) == NULL) {
		p_failed = 1;
		return;
	}
	for(i = 0; write_one(con, &e) < 0; i++) {
		if(i + 1 == BUSY_TRIES) {
			p_failed = 1;
			if(q != NULL) /* aor:db_rejected: writes that failed */
				aor_atomic_add(&q->rejected, 1);
			AOR_WARN_LIMITED("db: a change of ruid aor-%016llx could not be "
							 "written (db_mode 3): its request fails",
					(unsigned long long)e.id);
			proc_con_lost();
			return;
		}
		sleep_us(2000u << i);
	}
}

static int pull(aor_table_t *t, const str *key, int again);

int aor_db_pull_(aor_table_t *t, const str *key)
{
	return pull(t, key, 0);
}

static int pull(aor_table_t *t, const str *key, int again)
{
	db_key_t cols[C_COUNT], k[2] = {&col[C_USER], &col[C_DOMAIN]};
	db_val_t kv[2];
	aor_binding_t *bs[PULL_MAX];
	uint64_t ids[PULL_MAX];
	struct socket_info *si;
	struct loadrun lr;
	db1_res_t *res = NULL;
	db1_con_t *con;
	aor_binding_in_t in;
	char kb[AOR_KEY_BUF];
	str ruid, rk[PULL_MAX];
	char *at;
	int i, n = 0, nk, r, rekeyed;
	time_t now = aor_now();

	if(aor_params.db_mode != 3)
		return 0;
	/* a failed write of an earlier request is not this one's */
	p_failed = 0;
	if((con = proc_con()) == NULL)
		return AOR_E_DB;
	for(i = 0; i < C_COUNT; i++)
		cols[i] = &col[i];
	memset(kv, 0, sizeof(kv));
	kv[0].type = kv[1].type = DB1_STR;
	kv[0].val.str_val = *key;
	nk = 1;
	if(aor_params.use_domain && (at = memchr(key->s, '@', key->len))) {
		kv[0].val.str_val.len = at - key->s;
		kv[1].val.str_val.s = at + 1;
		kv[1].val.str_val.len = key->s + key->len - at - 1;
		nk = 2;
	}
	for(i = 0; dbf.use_table(con, &t->name) < 0
				|| dbf.query(con, k, 0, kv, cols, nk, C_COUNT, 0, &res) < 0;
			i++) {
		res = NULL;
		if(i + 1 == BUSY_TRIES) {
			proc_con_lost();
			return AOR_E_DB;
		}
		sleep_us(2000u << i);
	}
	memset(&lr, 0, sizeof(lr));
	for(i = 0; res && i < RES_ROW_N(res) && n < PULL_MAX; i++) {
		if(row_in(&lr, t, ROW_VALUES(RES_ROWS(res) + i), i + 1, &in, kb,
				   &ruid)
				!= 0)
			continue;
		if(in.expires != 0 && in.expires <= now)
			continue; /* the writer's clean-up deletes it */
		/* the row's AoR as this node keys it (case, use_domain) */
		in.f[AOR_F_AOR] = *key;
		in.hash = aor_hash(key);
		si = NULL;
		if(in.f[AOR_F_SOCK].len > 0) {
			si = lookup_local_socket(
					&in.f[AOR_F_SOCK]);
			if(si == NULL && aor_params.skip_remote_socket)
				continue;
		}
		in.sock = si;
		if((bs[n] = aor_binding_new(&in)) == NULL)
			break;
		rk[n].len = 0;
		if(in.id == 0 && ruid.len > 0 && ruid.len < 128) {
			/* another producer's ruid: kept to re-key the row */
			rk[n].s = pkg_malloc(ruid.len);
			if(rk[n].s) {
				memcpy(rk[n].s, ruid.s, ruid.len);
				rk[n].len = ruid.len;
			}
		}
		n++;
	}
	if(res)
		dbf.free_result(con, res);
	r = aor_ops_replace(t, key, bs, n, AOR_ORIG_LOAD, ids);
	if(r < 0)
		for(i = 0; i < n; i++)
			shm_free(bs[i]);
	/* the ids the rows of other producers got, written back; another
	 * process may have re-keyed a row at the same instant (then ours
	 * matched nothing): the AoR is read once more, as the table has it */
	rekeyed = 0;
	for(i = 0; i < n; i++) {
		if(rk[i].len == 0)
			continue;
		if(r >= 0) {
			lr.n_rekey = 0;
			if(rekey_add(&lr, &rk[i], ids[i]) == 0)
				rekey(con, t, &lr);
			loadrun_free(&lr);
			memset(&lr, 0, sizeof(lr));
			rekeyed++;
		}
		pkg_free(rk[i].s);
	}
	if(r >= 0 && rekeyed > 0 && !again)
		return pull(t, key, 1);
	return r < 0 ? r : 0;
}

/* the rows whose expiry passed, as stock's DB-only timer deletes them */
static void clean_expired(void)
{
	aor_table_t *t;

	for(t = aor_tables(); t; t = t->next)
		if(dbf.use_table(wcon, &t->name) == 0)
			delete_expired(wcon, t, aor_now());
}

/* db_mode 3: the clean-up process, every timer_interval */
static void clean_tick(unsigned int ticks, void *param)
{
	if(wcon == NULL && (wcon = dbf.init(&db_url)) == NULL)
		return;
	clean_expired();
}

/* ---- set-up ---- */

static counter_val_t st_get(counter_handle_t h, void *p)
{
	aor_db_stat_t st;

	aor_db_stat(&st);
	return (counter_val_t) * (unsigned long *)((char *)&st + (size_t)p);
}

#define ST(f) ((void *)offsetof(aor_db_stat_t, f))

/* clang-format off */
static counter_def_t db_cnt_defs[] = {
	{0, "db_queued", CNT_F_NO_RESET, st_get, ST(queued),
		"changes waiting for the database"},
	{0, "db_written", CNT_F_NO_RESET, st_get, ST(written),
		"changes written to the database"},
	{0, "db_dropped", CNT_F_NO_RESET, st_get, ST(dropped),
		"changes dropped: the queue was full or no shm"},
	{0, "db_rejected", CNT_F_NO_RESET, st_get, ST(rejected),
		"changes the database refused"},
	{0, "db_outages", CNT_F_NO_RESET, st_get, ST(outages),
		"times the database became unreachable"},
	{0, "db_sync_timeouts", CNT_F_NO_RESET, st_get, ST(timeouts),
		"db_mode 1 replies sent before their write was durable"},
	{0, 0, 0, 0, 0, 0}
};
/* clang-format on */

static int counters(void)
{
	return counter_register_array("aor", db_cnt_defs);
}

int aor_db_stat(aor_db_stat_t *st)
{
	memset(st, 0, sizeof(*st));
	if(q == NULL)
		return -1;
	lock_get(&q->lock);
	st->queued = q->n;
	st->written = q->written;
	st->dropped = q->dropped;
	st->rejected = q->rejected;
	st->outages = q->outages;
	st->timeouts = q->timeouts;
	st->down = q->down;
	st->backlog_max = q->backlog_max;
	lock_release(&q->lock);
	return 0;
}

int aor_db_init(void)
{
	aor_subscriber_t sub = {.name = "db", .on_change = on_change,
			.flags = AOR_SUB_BINDINGS};
	db1_con_t *con;
	aor_table_t *t;
	int i;
	char **names[C_LASTMOD] = {&P.ruid_column, &P.user_column, &P.domain_column, &P.contact_column, &P.expires_column, &P.q_column, &P.callid_column, &P.cseq_column, &P.flags_column, &P.cflags_column, &P.user_agent_column, &P.received_column, &P.path_column, &P.socket_column, &P.methods_column, &P.instance_column, &P.reg_id_column, &P.server_id_column, &P.connection_id_column, &P.keepalive_column, &P.partition_column};

	for(i = 0; i < C_LASTMOD; i++) {
		col[i].s = *names[i];
		col[i].len = strlen(*names[i]);
	}
	col[C_LASTMOD].s = "last_modified";
	col[C_LASTMOD].len = sizeof("last_modified") - 1;
	db_url.s = P.db_url;
	db_url.len = P.db_url ? strlen(P.db_url) : 0;
	/* the counters exist in every mode (0 when nothing is written), so
	 * that a monitoring set-up does not depend on db_mode */
	if(counters() < 0) {
		LM_ERR("db: cannot register the counters\n");
		return -1;
	}
	if(aor_params.db_mode == 0)
		return 0;
	if(db_url.len == 0) {
		LM_ERR("db_mode %d needs db_url\n", aor_params.db_mode);
		return -1;
	}
	if(db_bind_mod(&db_url, &dbf) < 0) {
		LM_ERR("db: cannot bind a database module for %.*s (is its module, "
			   "e.g. db_sqlite.so, loaded?)\n",
				db_url.len, db_url.s);
		return -1;
	}
	if(!DB_CAPABILITY(dbf, DB_CAP_ALL)) {
		LM_ERR("db: the module for %.*s lacks query, insert, update or "
			   "delete\n",
				db_url.len, db_url.s);
		return -1;
	}
	writes = aor_params.db_mode == 1 || aor_params.db_mode == 2;
	/* the nodes sharing one table (server_id_filter, or DB-only) must make
	 * different ruids: their server_id says which residue is whose */
	if(server_id > 0)
		node = (unsigned int)server_id % AOR_ID_NODES;
	if(aor_params.db_mode == 3) {
		if(node == 0)
			node = 1 + kam_rand() % (AOR_ID_NODES - 1);
		if(server_id <= 0)
			LM_WARN("db_mode 3: server_id is not set; ruids are made with "
					"the random node number %u: give each node that shares "
					"the table its own server_id (1..255)\n",
					node);
		if(aor_journal_subscribe(&sub) < 0) {
			LM_ERR("db: cannot subscribe to the change journal\n");
			return -1;
		}
	}
	if(aor_params.db_mode == 3) {
		/* no queue: only its counters */
		q = shm_malloc(sizeof(*q));
		if(q == NULL) {
			LM_ERR("db: no shm\n");
			return -1;
		}
		memset(q, 0, sizeof(*q));
		lock_init(&q->lock);
	}
	if(writes) {
		if(P.db_queue_max < 1) {
			LM_ERR("db_queue_max must be 1 or more\n");
			return -1;
		}
		q = shm_malloc(sizeof(*q) + P.db_queue_max * sizeof(dbq_ent_t));
		if(q == NULL) {
			LM_ERR("db: no shm for a queue of %d changes\n", P.db_queue_max);
			return -1;
		}
		memset(q, 0, sizeof(*q));
		q->cap = P.db_queue_max;
		lock_init(&q->lock);
		if(aor_journal_subscribe(&sub) < 0) {
			LM_ERR("db: cannot subscribe to the change journal\n");
			return -1;
		}
	}
	if(dbf.start_transaction && dbf.end_transaction && dbf.abort_transaction)
		use_tx = 1;
	else if(dbf.raw_query && db_url.len > 9
			&& strncmp(db_url.s, "sqlite://", 9) == 0)
		use_tx = 2; /* db_sqlite: BEGIN/COMMIT, one fsync per batch */
	/* the driver must answer now: stock refuses to start without its
	 * rows too, rather than run with half the registrations */
	if((con = connect_db()) == NULL)
		return -1;
	dbf.close(con);
	load_ready = 1;
	for(t = aor_tables(); t; t = t->next)
		if(aor_db_table(t) < 0)
			return -1;
	return 0;
}

int aor_db_timers(void)
{
	return writes || aor_params.db_mode == 3 ? 1 : 0;
}

int aor_db_child_init(void)
{
	int us;

	if(!writes && aor_params.db_mode != 3)
		return 0;
	/* mode 1 is waited for: a short tick; mode 2 rounds */
	us = aor_params.db_mode == 1 ? 2000 : 100000;
	if(aor_params.db_mode == 3)
		return fork_basic_timer(PROC_TIMER, "aor db clean-up", 1, clean_tick,
					   NULL, aor_params.timer_interval)
							   < 0
					   ? -1
					   : 0;
	if(fork_basic_utimer(PROC_TIMER, "aor db writer", 1, writer_tick, NULL, us)
			< 0) {
		LM_ERR("cannot start the aor db writer\n");
		return -1;
	}
	return 0;
}

#define SHUTDOWN_FLUSH_MS 10000

void aor_db_destroy(void)
{
	long deadline = now_ms() + SHUTDOWN_FLUSH_MS;
	unsigned int n0;
	int r = 1;

	if(q == NULL || q->n == 0)
		return;
	/* the core waited for every other process: a writer killed holding
	 * the queue lock must not hang the shutdown */
	lock_init(&q->lock);
	n0 = q->n;
	/* the writer may have died between a COMMIT and its pop: inserts
	 * replace what has their ruid */
	retrying = 1;
	if(wcon == NULL)
		wcon = dbf.init(&db_url);
	while(wcon != NULL && q->n > 0 && now_ms() < deadline)
		if((r = write_batch()) < 0)
			break;
	if(q->n > 0)
		LM_ERR("db: %u of %u changes queued at shutdown could not be "
			   "written (the rows of their bindings are stale)\n",
				q->n, n0);
	else
		LM_INFO("db: wrote the %u changes still queued at shutdown\n", n0);
	if(wcon != NULL) {
		dbf.close(wcon);
		wcon = NULL;
	}
}
