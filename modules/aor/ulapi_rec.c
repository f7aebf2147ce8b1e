/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The record API of usrloc (see ulapi.h) over our store.
 *
 * Records are not structs of our store. get_urecord and its kin copy the
 * AoR's live bindings out (ops.c, one slot lock hold) and build a urecord_t
 * with its ucontact_t list in one pkg block of this process: the consumer
 * reads it as stock's. Lifetime: until release_urecord(r); a process that
 * keeps more than UL_REC_LIVE records unreleased gets the oldest freed.
 * A write (insert_ucontact, update_ucontact, delete_ucontact) goes to the
 * store through ops.c as one atomic operation, with our limits
 * (max_contacts and its policy, max_bindings, shm_reserve), then the
 * record is read again: r->contacts shows the result, and the ucontact_t
 * pointers of before the write stay readable (old contents) until
 * release_urecord.
 *
 * lock_udomain/unlock_udomain take an API lock of the AoR: one of a set
 * of recursive locks, NOT a slot lock. It serializes the consumers' read-
 * modify-write sequences among themselves (dmq_usrloc and pua_reginfo as
 * with stock), while our own save(), lookup(), expiry and RPCs never take
 * it: no slot lock is ever held while consumer code runs, and the lock
 * order is always API lock -> slot lock, so nothing can deadlock. A
 * REGISTER may change the AoR between a consumer's get_urecord and its
 * write; each write is still atomic and checked in the store.
 */

#include <string.h>

#include "../../core/dprint.h"
#include "../../core/locking.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/ip_addr.h"

#include "sys.h"
#include "errors.h"
#include "params.h"
#include "ops.h"
#include "lookup.h"
#include "db.h"
#include "ulapi.h"

#define UL_LOCKS 256  /* API locks, a power of two */
#define UL_REC_LIVE 16 /* materialized records a process keeps unreleased */
#define UL_CSEQ_DELAY 20 /* stock's cseq_delay default */

static rec_lock_set_t *ul_locks = NULL;

/* Peers' ruids. dmq_usrloc replicates a contact with its node's ruid and
 * later deletes it by that ruid; ours are made from our ids, so the
 * peer's is remembered here: hash of the ruid -> our id and AoR hash, in
 * a fixed table (a newer entry takes the place of an older one; a lost
 * alias only means the contact waits for its expiry). Its lock is held
 * for a few loads and stores, never across a call. */
#define UL_ALIAS_LOG2 16
typedef struct ul_alias
{
	uint64_t rhash; /* 0: free */
	uint64_t id;
	uint32_t aorhash;
} ul_alias_t;
static ul_alias_t *ul_aliases = NULL;
static gen_lock_t *ul_alias_lock = NULL;

static uint64_t ruid_hash(const str *ruid)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	int i;

	for(i = 0; i < ruid->len; i++) {
		h ^= (unsigned char)ruid->s[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

static void alias_put(const str *ruid, uint64_t id, uint32_t aorhash)
{
	uint64_t h = ruid_hash(ruid);
	ul_alias_t *a;

	if(ul_aliases == NULL)
		return;
	a = &ul_aliases[h & ((1u << UL_ALIAS_LOG2) - 1)];
	lock_get(ul_alias_lock);
	a->rhash = h;
	a->id = id;
	a->aorhash = aorhash;
	lock_release(ul_alias_lock);
}

/* our id for ruid: ours parsed, or a peer's looked up; 0 or -1 */
static int ruid_id(const str *ruid, uint64_t *id)
{
	uint64_t h;
	ul_alias_t *a;
	int found = 0;

	if(ruid == NULL || ruid->len <= 0)
		return -1;
	if(aor_ruid_parse(ruid, id) == 0)
		return 0;
	if(ul_aliases == NULL)
		return -1;
	h = ruid_hash(ruid);
	a = &ul_aliases[h & ((1u << UL_ALIAS_LOG2) - 1)];
	lock_get(ul_alias_lock);
	if(a->rhash == h) {
		*id = a->id;
		found = 1;
	}
	lock_release(ul_alias_lock);
	return found ? 0 : -1;
}

/* one materialization of a record's contacts */
typedef struct ul_block
{
	struct ul_block *prev; /* older contents, kept until the release */
	int n;
	ucontact_t c[];		   /* then n ruids, then the binding copies */
} ul_block_t;

typedef struct ul_mrec
{
	urecord_t r; /* first: the consumer holds &m->r */
	struct ul_mrec *next;
	aor_table_t *t;
	ul_block_t *blk;
	char key[]; /* the AoR, NUL-terminated */
} ul_mrec_t;

static ul_mrec_t *live = NULL; /* newest first */
static int nlive = 0;

int aor_ul_rec_init(void)
{
	size_t n = sizeof(ul_alias_t) << UL_ALIAS_LOG2;

	if(ul_locks)
		return 0;
	ul_aliases = shm_malloc(n);
	ul_alias_lock = lock_alloc();
	if(ul_aliases == NULL || ul_alias_lock == NULL
			|| lock_init(ul_alias_lock) == NULL) {
		SHM_MEM_ERROR_FMT("%zu bytes\n", n);
		if(ul_aliases)
			shm_free(ul_aliases);
		if(ul_alias_lock)
			lock_dealloc(ul_alias_lock);
		ul_aliases = NULL;
		ul_alias_lock = NULL;
		return -1;
	}
	memset(ul_aliases, 0, n);
	ul_locks = rec_lock_set_alloc(UL_LOCKS);
	if(ul_locks == NULL || rec_lock_set_init(ul_locks) == NULL) {
		LM_ERR("no shared memory for the usrloc API locks\n");
		if(ul_locks)
			rec_lock_set_dealloc(ul_locks);
		ul_locks = NULL;
		return -1;
	}
	return 0;
}

void aor_ul_rec_destroy(void)
{
	if(ul_aliases) {
		shm_free(ul_aliases);
		lock_destroy(ul_alias_lock);
		lock_dealloc(ul_alias_lock);
		ul_aliases = NULL;
		ul_alias_lock = NULL;
	}
	if(ul_locks == NULL)
		return;
	rec_lock_set_destroy(ul_locks);
	rec_lock_set_dealloc(ul_locks);
	ul_locks = NULL;
}

static void api_lock(uint32_t hash)
{
	if(ul_locks)
		rec_lock_set_get(ul_locks, hash & (UL_LOCKS - 1));
}

static void api_unlock(uint32_t hash)
{
	if(ul_locks)
		rec_lock_set_release(ul_locks, hash & (UL_LOCKS - 1));
}

void aor_ul_lock_udomain(udomain_t *d, str *aor)
{
	if(aor)
		api_lock(aor_hash(aor));
}

void aor_ul_unlock_udomain(udomain_t *d, str *aor)
{
	if(aor)
		api_unlock(aor_hash(aor));
}

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* Builds a block of the n bindings v for record m, its contacts in stock
 * usrloc's order (aor_lookup_sort, which sorts v in place). NULL when no
 * pkg. */
static ul_block_t *block_new(ul_mrec_t *m, aor_binding_t **v, int n)
{
	size_t size, off;
	ul_block_t *bk;
	char *rb, *p;
	aor_binding_t *b;
	int i;

	aor_lookup_sort(v, n);
	size = sizeof(*bk) + n * (sizeof(ucontact_t) + AOR_RUID_LEN + 1);
	size = ALIGN8(size);
	for(i = 0; i < n; i++)
		size += ALIGN8(aor_binding_size(v[i]));
	bk = pkg_malloc(size);
	if(bk == NULL) {
		PKG_MEM_ERROR_FMT("%zu bytes\n", size);
		return NULL;
	}
	bk->prev = NULL;
	bk->n = n;
	rb = (char *)&bk->c[n];
	p = (char *)bk
		+ ALIGN8(sizeof(*bk) + n * (sizeof(ucontact_t) + AOR_RUID_LEN + 1));
	for(i = 0, off = 0; i < n; i++) {
		b = (aor_binding_t *)(p + off);
		memcpy(b, v[i], aor_binding_size(v[i]));
		b->next = NULL;
		off += ALIGN8(aor_binding_size(v[i]));
		aor_ul_contact_fill(&bk->c[i], b, &m->r.aor, m->r.domain,
				rb + i * (AOR_RUID_LEN + 1), FL_NONE);
		bk->c[i].next = i + 1 < n ? &bk->c[i + 1] : NULL;
		bk->c[i].prev = i > 0 ? &bk->c[i - 1] : NULL;
	}
	return bk;
}

static void mrec_free(ul_mrec_t *m)
{
	ul_block_t *bk, *prev;

	for(bk = m->blk; bk; bk = prev) {
		prev = bk->prev;
		pkg_free(bk);
	}
	pkg_free(m);
}

/* A new record of AoR aor in t holding the n bindings v; NULL when no
 * pkg memory. Frees the oldest live record past UL_REC_LIVE. */
static ul_mrec_t *mrec_new(aor_table_t *t, const str *aor, aor_binding_t **v,
		int n)
{
	ul_mrec_t *m, **pp;

	m = pkg_malloc(sizeof(*m) + aor->len + 1);
	if(m == NULL) {
		PKG_MEM_ERROR;
		return NULL;
	}
	memset(m, 0, sizeof(*m));
	memcpy(m->key, aor->s, aor->len);
	m->key[aor->len] = '\0';
	m->t = t;
	m->r.domain = aor_ul_domain_name(t);
	m->r.aor.s = m->key;
	m->r.aor.len = aor->len;
	m->r.aorhash = aor_hash(aor);
	m->blk = block_new(m, v, n);
	if(m->blk == NULL) {
		pkg_free(m);
		return NULL;
	}
	m->r.contacts = n ? m->blk->c : NULL;
	m->next = live;
	live = m;
	if(++nlive > UL_REC_LIVE) {
		/* bounded: a consumer that never releases leaks nothing */
		for(pp = &live; (*pp)->next; pp = &(*pp)->next)
			;
		LM_DBG("freeing an unreleased usrloc record of %s\n", (*pp)->key);
		mrec_free(*pp);
		*pp = NULL;
		nlive--;
	}
	return m;
}

static ul_mrec_t *mrec_of(urecord_t *r)
{
	ul_mrec_t *m;

	for(m = live; m; m = m->next)
		if(&m->r == r)
			return m;
	return NULL;
}

/* Reads the record of m again after a write: r->contacts is the store's
 * now; the previous block stays until the release. 0 or -1. */
static int mrec_reload(ul_mrec_t *m)
{
	aor_binding_t *v[AOR_REC_MAX];
	ul_block_t *bk;
	int n;

	n = aor_ops_fetch(m->t, &m->r.aor, aor_now(), v, AOR_REC_MAX);
	if(n < 0)
		return -1;
	bk = block_new(m, v, n);
	if(bk == NULL)
		return -1;
	bk->prev = m->blk;
	m->blk = bk;
	m->r.contacts = n ? bk->c : NULL;
	return 0;
}

void aor_ul_release_urecord(urecord_t *r)
{
	ul_mrec_t **pp;

	for(pp = &live; *pp; pp = &(*pp)->next)
		if(&(*pp)->r == r) {
			ul_mrec_t *m = *pp;
			*pp = m->next;
			nlive--;
			mrec_free(m);
			return;
		}
}

/* get_urecord and insert_urecord: the live bindings of aor in d's table
 * fetched (ops.c) and materialized as *r. insert: a record even with no
 * binding (insert_urecord); otherwise the removed contact is still listed
 * in a callback of a removal, and no binding is 1 (get_urecord). 0 and
 * *r, 1, or -1 on error; *r is NULL unless 0 (when r is given). */
static int rec_open(udomain_t *d, str *aor, int insert, urecord_t **r)
{
	aor_binding_t *v[AOR_REC_MAX];
	const aor_binding_t *gone;
	aor_table_t *t = aor_ul_table(d);
	ul_mrec_t *m;
	int n;

	if(t == NULL || aor == NULL || r == NULL)
		return -1;
	*r = NULL;
	if(aor_db_pull(t, aor) < 0) /* db_mode 3: the table's rows */
		return -1;
	n = aor_ops_fetch(t, aor, aor_now(), v, AOR_REC_MAX);
	if(n < 0)
		return -1;
	if(!insert) {
		if(n < AOR_REC_MAX && (gone = aor_ul_cb_removed(t, aor)) != NULL)
			v[n++] = (aor_binding_t *)gone;
		if(n == 0)
			return 1;
	}
	m = mrec_new(t, aor, v, n);
	if(m == NULL)
		return -1;
	*r = &m->r;
	return 0;
}

/* 0 and *r when aor has live bindings, 1 when none (stock's), -1 on
 * error */
int aor_ul_get_urecord(udomain_t *d, str *aor, urecord_t **r)
{
	return rec_open(d, aor, 0, r);
}

/* stock's: 0 with the record's lock held (the caller calls
 * unlock_udomain with the record's AoR), -1 when not found */
int aor_ul_get_urecord_by_ruid(udomain_t *d, unsigned int aorhash, str *ruid,
		urecord_t **r, ucontact_t **c)
{
	aor_binding_t *v[AOR_REC_MAX];
	aor_table_t *t = aor_ul_table(d);
	ul_mrec_t *m;
	uint64_t id;
	str key;
	int n, i;

	if(t == NULL || ruid == NULL || r == NULL || c == NULL
			|| ruid_id(ruid, &id) < 0)
		return -1;
	api_lock(aorhash);
	n = aor_ops_fetch_id(t, aorhash, id, aor_now(), v, AOR_REC_MAX);
	for(i = 0; i < n; i++)
		if(v[i]->id == id)
			break;
	if(n <= 0 || i == n)
		goto none;
	key = aor_binding_get(v[i], AOR_F_AOR);
	m = mrec_new(t, &key, v, n);
	if(m == NULL)
		goto none;
	/* mrec_new put v in stock's order: find the contact again */
	for(i = 0; i < n && v[i]->id != id; i++)
		;
	*r = &m->r;
	*c = &m->blk->c[i];
	return 0;
none:
	api_unlock(aorhash);
	return -1;
}

/* stock makes an empty record in memory; ours exists once it holds a
 * binding, so this only materializes what is there (maybe nothing) */
int aor_ul_insert_urecord(udomain_t *d, str *aor, urecord_t **r)
{
	return rec_open(d, aor, 1, r);
}

/* removes every binding of aor; r, when given, is released as stock
 * frees it */
int aor_ul_delete_urecord(udomain_t *d, str *aor, urecord_t *r)
{
	aor_table_t *t = aor_ul_table(d);
	int n;

	if(t == NULL)
		return -1;
	if(aor == NULL && r != NULL)
		aor = &r->aor;
	if(aor == NULL)
		return -1;
	if(aor_db_pull(t, aor) < 0)
		return -1;
	n = aor_ops_remove(t, aor, NULL, NULL, AOR_ORIG_LOCAL);
	if(r)
		aor_ul_release_urecord(r);
	return n < 0 ? -1 : 0;
}

typedef struct ruid_find
{
	uint64_t id;
	int found;
	char key[AOR_KEY_BUF];
	int klen;
} ruid_find_t;

static void ruid_find_cb(const aor_binding_t *b, void *arg)
{
	ruid_find_t *f = arg;
	str k;

	if(f->found || b->id != f->id)
		return;
	k = aor_binding_get(b, AOR_F_AOR);
	if(k.len > (int)sizeof(f->key))
		return;
	memcpy(f->key, k.s, k.len);
	f->klen = k.len;
	f->found = 1;
}

/* Stock has it only in db_mode 3, where it deletes the contact of ruid.
 * Ours does that in memory: the ruid holds no hash, so it is a cursor
 * walk of the table (one slot per lock hold), then one removal. 0 removed,
 * -1 not found. */
int aor_ul_delete_urecord_by_ruid(udomain_t *d, str *ruid)
{
	aor_table_t *t = aor_ul_table(d);
	ruid_find_t *f;
	uint64_t cursor = 0;
	str key;
	int n = -1;

	if(t == NULL || ruid == NULL)
		return -1;
	f = pkg_malloc(sizeof(*f));
	if(f == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	memset(f, 0, sizeof(*f));
	if(ruid_id(ruid, &f->id) < 0)
		goto done;
	do
		cursor = aor_table_scan(t, cursor, 64, ruid_find_cb, f);
	while(cursor != 0 && !f->found);
	if(f->found) {
		key.s = f->key;
		key.len = f->klen;
		n = aor_ops_remove(t, &key, aor_match_id, &f->id, AOR_ORIG_LOCAL);
	}
done:
	pkg_free(f);
	return n > 0 ? 0 : -1;
}

/* one contact through ops.c as an operator's change (not subject to the
 * Call-ID/CSeq order: a consumer replays what it knows), with our limits;
 * expires as stock's ucontact_info: absolute, 0 permanent */
static int write_contact(ul_mrec_t *m, str *uri, ucontact_info_t *ci)
{
	aor_binding_t *v[AOR_REC_MAX];
	aor_contact_t contact;
	aor_regreq_t req;
	aor_plan_t plan;
	time_t now = aor_now();
	int n;

	memset(&contact, 0, sizeof(contact));
	contact.uri = *uri;
	contact.instance = ci->instance;
	contact.reg_id = (int32_t)ci->reg_id;
	contact.q = (int16_t)(ci->q >= 0 && ci->q <= 1000 ? ci->q : AOR_Q_UNSPEC);
	if(ci->expires == 0)
		contact.expires = AOR_EXPIRES_PERMANENT;
	else
		contact.expires = ci->expires > now ? ci->expires - now : 0;
	contact.methods = ci->methods ? ci->methods : ~0u;
	memset(&req, 0, sizeof(req));
	req.aor = m->r.aor;
	req.hash = aor_hash(&req.aor);
	if(ci->callid)
		req.callid = *ci->callid;
	req.cseq = ci->cseq > 0 ? (uint32_t)ci->cseq : 1;
	req.received = ci->received;
	if(ci->path)
		req.path = *ci->path;
	if(ci->user_agent)
		req.user_agent = *ci->user_agent;
	if(ci->sock) {
		req.sock = ci->sock;
		req.sock_str = ci->sock->sock_str;
	}
	req.cflags = ci->cflags;
	req.conn_id = ci->tcpconn_id > 0 ? ci->tcpconn_id : 0;
	req.now = now;
	req.operator = 1;
	req.ncontacts = 1;
	req.contacts = &contact;
	n = aor_ops_save(m->t, &req, &aor_limits, &plan,
			(ci->flags & FL_DMQRPL) ? AOR_ORIG_PEER : AOR_ORIG_LOCAL, v,
			AOR_REC_MAX);
	aor_ops_done();
	if(n < 0) {
		LM_ERR("usrloc API: %.*s not stored for %.*s: error %d\n", uri->len,
				uri->s, m->r.aor.len, m->r.aor.s, n);
		return -1;
	}
	return mrec_reload(m);
}

static ucontact_t *find_uri(urecord_t *r, const str *uri)
{
	ucontact_t *c;

	for(c = r->contacts; c; c = c->next)
		if(c->c.len == uri->len && memcmp(c->c.s, uri->s, uri->len) == 0)
			return c;
	return NULL;
}

/* after a write of uri with ci: a ruid given that is not ours (a peer's)
 * becomes an alias of the stored binding */
static void remember_peer_ruid(ul_mrec_t *m, const str *uri, ucontact_info_t *ci)
{
	ucontact_t *sc;
	uint64_t id;

	if(ci->ruid.len <= 0 || aor_ruid_parse(&ci->ruid, &id) == 0)
		return;
	sc = find_uri(&m->r, uri);
	if(sc && aor_ruid_parse(&sc->ruid, &id) == 0)
		alias_put(&ci->ruid, id, m->r.aorhash);
}

int aor_ul_insert_ucontact(
		urecord_t *r, str *contact, ucontact_info_t *ci, ucontact_t **c)
{
	ul_mrec_t *m = mrec_of(r);

	if(m == NULL || contact == NULL || ci == NULL) {
		LM_ERR("usrloc API: not a record of this process\n");
		return -1;
	}
	if(write_contact(m, contact, ci) < 0)
		return -1;
	remember_peer_ruid(m, contact, ci);
	if(c)
		*c = find_uri(r, contact);
	return (c && *c == NULL) ? -1 : 0;
}

int aor_ul_update_ucontact(urecord_t *r, ucontact_t *c, ucontact_info_t *ci)
{
	ul_mrec_t *m = mrec_of(r);
	str uri;

	if(m == NULL || c == NULL || ci == NULL) {
		LM_ERR("usrloc API: not a record of this process\n");
		return -1;
	}
	uri = c->c;
	if(write_contact(m, &uri, ci) < 0)
		return -1;
	remember_peer_ruid(m, &uri, ci);
	return 0;
}

int aor_ul_delete_ucontact(urecord_t *r, ucontact_t *c)
{
	ul_mrec_t *m = mrec_of(r);
	uint64_t id;
	int n;

	if(m == NULL || c == NULL || aor_ruid_parse(&c->ruid, &id) < 0)
		return -1;
	n = aor_ops_remove(m->t, &m->r.aor, aor_match_id, &id,
			(c->flags & FL_DMQRPL) ? AOR_ORIG_PEER : AOR_ORIG_LOCAL);
	if(n < 0)
		return -1;
	return mrec_reload(m);
}

/* stock's (matching_mode 0): 0 found, 1 not found, -1 CSeq older (or
 * equal), -2 equal CSeq within cseq_delay of the last change */
int aor_ul_get_ucontact(urecord_t *r, str *contact, str *callid, str *path,
		int cseq, ucontact_t **co)
{
	ucontact_t *c;

	if(r == NULL || contact == NULL || co == NULL)
		return -1;
	*co = NULL;
	c = find_uri(r, contact);
	if(c == NULL)
		return 1;
	if(callid && c->callid.len == callid->len
			&& memcmp(callid->s, c->callid.s, callid->len) == 0) {
		if(cseq < c->cseq)
			return -1;
		if(cseq == c->cseq)
			return c->last_modified + UL_CSEQ_DELAY > aor_now() ? -2 : -1;
	}
	*co = c;
	return 0;
}

static str unbracket(str s)
{
	if(s.len >= 2 && s.s[0] == '<' && s.s[s.len - 1] == '>') {
		s.s++;
		s.len -= 2;
	}
	return s;
}

/* stock's: without an instance as get_ucontact; else the contact with the
 * same instance (brackets aside) and reg-id: 0 found, 1 not */
int aor_ul_get_ucontact_by_instance(
		urecord_t *r, str *contact, ucontact_info_t *ci, ucontact_t **co)
{
	ucontact_t *c;
	str a, b;

	if(r == NULL || ci == NULL || co == NULL)
		return -1;
	if(ci->instance.len <= 0 || ci->instance.s == NULL)
		return aor_ul_get_ucontact(
				r, contact, ci->callid, ci->path, ci->cseq, co);
	*co = NULL;
	a = unbracket(ci->instance);
	for(c = r->contacts; c; c = c->next) {
		if(c->instance.len <= 0 || c->reg_id != ci->reg_id)
			continue;
		b = unbracket(c->instance);
		if(a.len == b.len && memcmp(a.s, b.s, a.len) == 0) {
			*co = c;
			return 0;
		}
	}
	return 1;
}
