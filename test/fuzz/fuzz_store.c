/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of the store (store.c) and the merge (merge.c): the input
 * is a table's settings and limits, then a sequence of operations, each
 * a few bytes: REGISTERs (aor_merge_apply, wildcard and only_this among
 * them), clock ticks, expiry of one slot or all, flushes, restores
 * (aor_rec_insert), resize steps (aor_table_maint) and the pages of
 * cursor walks (aor_table_scan) interleaved with everything else.
 *
 * A reference model runs beside it: per AoR a plain array of bindings
 * (expired ones included, as the store keeps them until swept), each
 * with its key, id, times, Call-ID and CSeq. The model predicts every
 * merge's return code and effect (RFC 3261 10.3 steps 6-8, max_contacts
 * with each policy, max_bindings, a field too long) and its change
 * callbacks (inserted, updated, deleted, expired, evicted) by plain
 * loops. After every operation the slot arrays (read as they are, old
 * and new, so that the checks drain nothing) must hold exactly the
 * model's bindings (ids, URIs, times), each where its hash puts it, each
 * record in one run, with the same AoR and binding counts and a memory
 * gauge equal to the slot arrays and bindings; aor_table_find of an AoR
 * must return its record whole. A walk must visit every AoR present
 * throughout it at least once, with all of its bindings in one run, and
 * at most once when the table did not grow.
 *
 * Contacts come from a few equivalence classes (RFC 3261 19.1.4 spellings
 * of one URI) and RFC 5626 instances, chosen so that at most one live
 * binding of an AoR has a given key: the model needs no URI comparison.
 */

#include "fuzz.h"
#include "sys.h"
#include "errors.h"
#include "store.h"
#include "merge.h"
#include "ops.h"
#include "../unit/unit_journal.h"

#define NAORS 12
#define MAXB 64	 /* model bindings per AoR */
#define MAXC 6	 /* contacts per REGISTER */
#define NCLASS 6 /* plain contact URIs, each in several spellings */
#define NINST 3	 /* +sip.instance values */
#define T0 1700000000
#define FAR ((time_t)1 << 62)
#define LONG_UA 65500 /* with the other fields, past AOR_BINDING_MAX_DATA */

/* one binding as the model knows it */
typedef struct mb
{
	int key; /* class (0..NCLASS-1) or NCLASS + instance * 2 + regid */
	uint64_t id;
	time_t expires; /* absolute, 0 permanent */
	time_t modified;
	int callid;
	uint32_t cseq;
	char uri[64];
} mb_t;

typedef struct maor
{
	mb_t b[MAXB];
	int n;
} maor_t;

static struct model
{
	maor_t a[NAORS];
	uint64_t next_id;
	aor_limits_t lim;
} m;

/* a cursor walk in progress */
static struct walk
{
	int active;
	uint64_t cursor;
	uint32_t size0;		/* table size when it began */
	int grew;			/* a resize started during the walk */
	int present[NAORS]; /* present at the start and ever since */
	int visits[NAORS];
	int cur; /* AoR of the run being seen, -1 none */
	int run; /* bindings of it seen so far */
} w;

static aor_table_t *t;

/* the change callbacks of one REGISTER: seen, and as the model says */
static int ch_got[AOR_CH_EVICTED + 1], ch_want[AOR_CH_EVICTED + 1];

/* what the runs exercised, printed at exit with AOR_FUZZ_STATS set */
static unsigned long n_reg[AOR_E_COUNT], n_walks, n_walks_grew, n_grow,
		n_expired;

static void stats(void)
{
	int i;

	if(getenv("AOR_FUZZ_STATS") == NULL)
		return;
	for(i = 0; i < AOR_E_COUNT; i++)
		if(n_reg[i])
			fprintf(stderr, "register -> %d: %lu\n", -i, n_reg[i]);
	fprintf(stderr, "walks %lu (%lu grew), resizes %lu, expired %lu\n", n_walks,
			n_walks_grew, n_grow, n_expired);
}
static char aor_name[NAORS][32];
static char *long_ua;

static int aor_of(const aor_binding_t *b)
{
	str k = aor_binding_get(b, AOR_F_AOR);
	int i;

	for(i = 0; i < NAORS; i++)
		if((int)strlen(aor_name[i]) == k.len
				&& memcmp(aor_name[i], k.s, k.len) == 0)
			return i;
	CHECK(!"binding of an unknown AoR");
	return -1;
}

static int mb_live(const mb_t *b, time_t now)
{
	return b->expires == 0 || b->expires > now;
}

static int model_total(void)
{
	int i, n = 0;

	for(i = 0; i < NAORS; i++)
		n += m.a[i].n;
	return n;
}

static mb_t *model_by_id(int k, uint64_t id)
{
	int i;

	for(i = 0; i < m.a[k].n; i++)
		if(m.a[k].b[i].id == id)
			return &m.a[k].b[i];
	return NULL;
}

static void model_del(int k, mb_t *b)
{
	maor_t *a = &m.a[k];

	*b = a->b[--a->n];
}

/* ---- the store as the model says it must be ---- */

static void check_binding(int k, const aor_binding_t *b)
{
	const mb_t *x = model_by_id(k, b->id);
	str u = aor_binding_get(b, AOR_F_URI), c = aor_binding_get(b, AOR_F_CALLID);
	char cid[16];

	CHECK(x != NULL);
	CHECK(b->expires == x->expires);
	CHECK(b->modified == x->modified);
	CHECK(b->cseq == x->cseq);
	CHECK(u.len == (int)strlen(x->uri) && memcmp(u.s, x->uri, u.len) == 0);
	snprintf(cid, sizeof(cid), "call-%d", x->callid);
	CHECK(c.len == (int)strlen(cid) && memcmp(c.s, cid, c.len) == 0);
}

/* one slot chain of the current (old == 0) or the old array: every
 * binding where its hash puts it, each record in one run; counts the
 * bindings and runs of each AoR and their bytes */
static void check_chain(const aor_binding_t *b, uint32_t i, uint32_t mask,
		int *count, int *runs, long *mem)
{
	int k, prev = -1;

	for(; b; b = b->next) {
		k = aor_of(b);
		CHECK((b->hash & mask) == i);
		check_binding(k, b);
		if(k != prev)
			runs[k]++;
		count[k]++;
		*mem += (long)aor_binding_size(b);
		prev = k;
	}
}

/* Reads the slot arrays as they are, without aor_table_find (which would
 * drain the old array and leave the resize nothing to do). */
static void check_store(void)
{
	const aor_gen_t *g = t->gen;
	int count[NAORS], runs[NAORS], k, aors = 0;
	const aor_binding_t *b;
	aor_table_stat_t st;
	uint32_t i;
	long mem;

	memset(count, 0, sizeof(count));
	memset(runs, 0, sizeof(runs));
	/* the shared memory gauge: the slot arrays, the current one's expiry
	 * hints and every binding */
	mem = (long)((g->mask + 1) * sizeof(aor_binding_t *))
		  + (long)((g->mask >> AOR_HINT_LOG2) + 1) * (long)sizeof(uint32_t);
	for(i = 0; i <= g->mask; i++)
		check_chain(g->slots[i], i, g->mask, count, runs, &mem);
	if(g->old_slots) {
		mem += (long)((g->old_mask + 1) * sizeof(aor_binding_t *));
		for(i = 0; i <= g->old_mask; i++)
			check_chain(g->old_slots[i], i, g->old_mask, count, runs, &mem);
	}
	/* the expiry hints are never late: no binding of the current array
	 * expires before its block's hint */
	for(i = 0; i <= g->mask; i++)
		for(b = g->slots[i]; b; b = b->next)
			CHECK(b->expires == 0
					|| (time_t)g->hint[i >> AOR_HINT_LOG2] <= b->expires);
	for(k = 0; k < NAORS; k++) {
		CHECK(count[k] == m.a[k].n);
		CHECK(runs[k] == (m.a[k].n > 0));
		aors += m.a[k].n > 0;
	}
	aor_table_stat(t, &st);
	CHECK(st.aors == aors);
	CHECK(st.bindings == model_total());
	CHECK(st.slots == aor_table_size(t));
	CHECK(st.resizing == (g->old_slots != NULL));
	if(st.mem != mem)
		fprintf(stderr, "mem %ld, expected %ld\n", st.mem, mem);
	CHECK(st.mem == mem);
}

/* aor_table_find of one AoR: its record, whole */
static void op_find(fuzz_in_t *in)
{
	int k = fuzz_pick(in, NAORS), n, i;
	aor_binding_t *b;
	aor_rec_t rec;
	uint32_t h;
	str key;

	key.s = aor_name[k];
	key.len = (int)strlen(aor_name[k]);
	h = aor_hash(&key);
	aor_table_lock(t, h);
	n = aor_table_find(t, h, &key, &rec);
	CHECK(n == m.a[k].n);
	for(i = 0, b = *rec.link; i < n; i++, b = b->next) {
		CHECK(b->hash == h && aor_of(b) == k);
		check_binding(k, b);
	}
	aor_table_unlock(t, h);
}

/* ---- REGISTER ---- */

static const long long exp_values[] = {-1, 0, 1, 3, 10, 60, 3600, 1LL << 40};
static const int16_t q_values[] = {AOR_Q_UNSPEC, 0, 500, 1000};

/* the URI of key in spelling v: one class has four RFC 3261 19.1.4
 * spellings (an escape, an ignored parameter); an instance's URI may
 * change between REGISTERs */
static void uri_of(int key, int v, char *buf, size_t size)
{
	static const char *const spell[] = {"sip:c%d@192.0.2.%d",
			"sip:c%d@192.0.2.%d;ob", "sip:%%63%d@192.0.2.%d",
			"SIP:c%d@192.0.2.%d;lr;x=1"};

	if(key < NCLASS)
		snprintf(buf, size, spell[v], key, key + 1);
	else
		snprintf(buf, size, "sip:i%d@198.51.100.%d", key, v);
}

struct reg
{
	aor_regreq_t r;
	aor_contact_t c[MAXC];
	int key[MAXC];
	char uri[MAXC][64];
	char inst[MAXC][32];
	char callid[16];
	int callid_n;
	int long_ua;
	int k; /* the AoR */
};

/* decodes a REGISTER; 0, or -1 when the glue would have answered 423 */
static int reg_decode(fuzz_in_t *in, struct reg *g)
{
	aor_contact_t *c;
	unsigned int flags;
	long long param, hdr;
	int i, key;

	memset(g, 0, sizeof(*g));
	g->k = fuzz_pick(in, NAORS);
	flags = fuzz_byte(in);
	g->callid_n = fuzz_pick(in, 3);
	snprintf(g->callid, sizeof(g->callid), "call-%d", g->callid_n);
	g->r.aor.s = aor_name[g->k];
	g->r.aor.len = (int)strlen(aor_name[g->k]);
	g->r.hash = aor_hash(&g->r.aor);
	g->r.callid.s = g->callid;
	g->r.callid.len = (int)strlen(g->callid);
	g->r.cseq = fuzz_pick(in, 8);
	g->r.now = aor_test_now;
	g->r.sock_str.s = "udp:127.0.0.1:5060";
	g->r.sock_str.len = 18;
	g->long_ua = (flags & 0x70) == 0x70;
	if(g->long_ua) {
		g->r.user_agent.s = long_ua;
		g->r.user_agent.len = LONG_UA;
	}
	if((flags & 7) == 0) {
		g->r.star = 1;
		return 0;
	}
	g->r.only_this = (flags & 0x88) == 0x88;
	hdr = exp_values[fuzz_pick(in, 8)];
	g->r.ncontacts = 1 + fuzz_pick(in, MAXC);
	g->r.contacts = g->c;
	for(i = 0; i < g->r.ncontacts; i++) {
		c = &g->c[i];
		key = fuzz_pick(in, NCLASS + 2 * NINST);
		g->key[i] = key;
		uri_of(key, fuzz_pick(in, 4), g->uri[i], sizeof(g->uri[i]));
		c->uri.s = g->uri[i];
		c->uri.len = (int)strlen(g->uri[i]);
		if(key >= NCLASS) {
			snprintf(g->inst[i], sizeof(g->inst[i]), "\"<urn:uuid:%d>\"",
					(key - NCLASS) / 2);
			c->instance.s = g->inst[i];
			c->instance.len = (int)strlen(g->inst[i]);
			c->reg_id = (key - NCLASS) % 2;
		}
		param = exp_values[fuzz_pick(in, 8)];
		if(aor_expires_resolve(&m.lim, param, hdr, &c->expires) < 0)
			return -1;
		CHECK(c->expires >= 0);
		c->q = q_values[fuzz_pick(in, 4)];
		c->methods = 0xffffffffu;
	}
	return 0;
}

/* the model's verdict on g, applied to the model when it is 0 */
static int model_register(const struct reg *g)
{
	maor_t *a = &m.a[g->k];
	time_t now = aor_test_now;
	int act[MAXC], match[MAXC], claimed[MAXB], victim[MAXB];
	int i, j, live = 0, kept = 0, adds = 0, dels = 0, after, over, cand;
	int best, nv = 0;
	enum
	{
		NONE,
		ADD,
		UPDATE,
		DELETE
	};

	memset(claimed, 0, sizeof(claimed));
	memset(victim, 0, sizeof(victim));
	for(j = 0; j < a->n; j++)
		live += mb_live(&a->b[j], now);
	if(g->r.star) {
		for(j = 0; j < a->n; j++)
			if(mb_live(&a->b[j], now) && a->b[j].callid == g->callid_n
					&& g->r.cseq <= a->b[j].cseq)
				return AOR_E_CSEQ;
		ch_want[AOR_CH_EXPIRED] = a->n - live;
		ch_want[AOR_CH_DELETED] = live;
		a->n = 0;
		return 0;
	}
	for(i = 0; i < g->r.ncontacts; i++) {
		act[i] = NONE;
		match[i] = -1;
		for(j = i + 1; j < g->r.ncontacts; j++)
			if(g->key[j] == g->key[i])
				break;
		if(j < g->r.ncontacts)
			continue; /* the last of the same contact counts */
		for(j = 0; j < a->n; j++)
			if(mb_live(&a->b[j], now) && a->b[j].key == g->key[i])
				match[i] = j;
		if(match[i] >= 0 && a->b[match[i]].callid == g->callid_n
				&& g->r.cseq <= a->b[match[i]].cseq)
			return AOR_E_CSEQ;
		if(g->c[i].expires == 0) {
			act[i] = match[i] >= 0 ? DELETE : NONE;
			dels += match[i] >= 0;
		} else {
			act[i] = match[i] >= 0 ? UPDATE : ADD;
			adds += match[i] < 0;
		}
		if(act[i] != NONE && match[i] >= 0)
			claimed[match[i]] = 1;
		kept += act[i] == ADD || act[i] == UPDATE;
	}
	after = g->r.only_this ? kept : live - dels + adds;
	if(m.lim.max_contacts && after > (int)m.lim.max_contacts) {
		over = after - (int)m.lim.max_contacts;
		if(m.lim.policy == AOR_POLICY_REJECT || over > AOR_EVICT_MAX
				|| kept > (int)m.lim.max_contacts)
			return AOR_E_TOO_MANY;
		for(cand = 0, j = 0; j < a->n; j++)
			cand += mb_live(&a->b[j], now) && !claimed[j];
		if(cand < over)
			return AOR_E_TOO_MANY;
		for(nv = 0; nv < over; nv++) {
			best = -1;
			for(j = 0; j < a->n; j++) {
				const mb_t *x = &a->b[j], *y;
				time_t ex, ey;

				if(!mb_live(x, now) || claimed[j] || victim[j])
					continue;
				if(best < 0) {
					best = j;
					continue;
				}
				y = &a->b[best];
				if(m.lim.policy == AOR_POLICY_EVICT_EXPIRING) {
					ex = x->expires ? x->expires : FAR;
					ey = y->expires ? y->expires : FAR;
					if(ex != ey) {
						best = ex < ey ? j : best;
						continue;
					}
				} else if(x->modified != y->modified) {
					best = x->modified < y->modified ? j : best;
					continue;
				}
				best = x->id < y->id ? j : best;
			}
			victim[best] = 1;
		}
	}
	if(m.lim.max_bindings && adds > 0
			&& model_total() + after - live - nv > (long)m.lim.max_bindings)
		return AOR_E_TABLE_FULL;
	if(g->long_ua && kept > 0)
		return AOR_E_TOO_LONG;

	/* applied: expired, deleted, evicted and (wildcard, only_this)
	 * unnamed bindings go; the named ones are updated; new ones added */
	for(i = 0; i < g->r.ncontacts; i++) {
		mb_t *x;

		if(act[i] != UPDATE)
			continue;
		x = &a->b[match[i]];
		x->expires = aor_expires_abs(now, g->c[i].expires);
		x->modified = now;
		x->callid = g->callid_n;
		x->cseq = g->r.cseq;
		snprintf(x->uri, sizeof(x->uri), "%s", g->uri[i]);
	}
	for(i = 0; i < g->r.ncontacts; i++) {
		ch_want[AOR_CH_UPDATED] += act[i] == UPDATE;
		ch_want[AOR_CH_INSERTED] += act[i] == ADD;
	}
	for(j = a->n - 1; j >= 0; j--) {
		int named = claimed[j], del = 0;

		for(i = 0; i < g->r.ncontacts; i++)
			del |= act[i] == DELETE && match[i] == j;
		if(!mb_live(&a->b[j], now))
			ch_want[AOR_CH_EXPIRED]++;
		else if(victim[j])
			ch_want[AOR_CH_EVICTED]++;
		else if(del || (!named && g->r.only_this))
			ch_want[AOR_CH_DELETED]++;
		else
			continue;
		model_del(g->k, &a->b[j]);
	}
	for(i = 0; i < g->r.ncontacts; i++) {
		mb_t *x;

		if(act[i] != ADD)
			continue;
		CHECK(a->n < MAXB);
		x = &a->b[a->n++];
		memset(x, 0, sizeof(*x));
		x->key = g->key[i];
		x->id = ++m.next_id;
		x->expires = aor_expires_abs(now, g->c[i].expires);
		x->modified = now;
		x->callid = g->callid_n;
		x->cseq = g->r.cseq;
		snprintf(x->uri, sizeof(x->uri), "%s", g->uri[i]);
	}
	return 0;
}

static void on_change(const aor_jchange_t *c, void *arg)
{
	CHECK(aor_of(c->b) == *(int *)arg);
	/* the model does not tell a refresh in place from a new block */
	ch_got[c->kind == AOR_CH_REFRESHED ? AOR_CH_UPDATED : c->kind]++;
}

static void op_register(fuzz_in_t *in)
{
	aor_plan_t plan[MAXC];
	struct reg g;
	aor_rec_t rec;
	int r, want;

	if(reg_decode(in, &g) < 0)
		return;
	unit_changes_to(on_change, &g.k);
	memset(ch_got, 0, sizeof(ch_got));
	memset(ch_want, 0, sizeof(ch_want));
	want = model_register(&g);
	aor_table_lock(t, g.r.hash);
	aor_table_find(t, g.r.hash, &g.r.aor, &rec);
	r = aor_merge_apply(&rec, &g.r, &m.lim, plan, NULL);
	aor_table_unlock(t, g.r.hash);
	unit_changes_to(NULL, NULL);
	n_reg[-r]++;
	if(r != want) {
		fprintf(stderr, "register %s: %d, the model says %d\n", aor_name[g.k],
				r, want);
		CHECK(r == want);
	}
	/* one callback per change, none for a request refused */
	CHECK(memcmp(ch_got, ch_want, sizeof(ch_got)) == 0);
}

/* ---- expiry, flush, restore ---- */

struct gone
{
	int n;
	int expired_only;
};

static void on_gone(const aor_binding_t *b, void *arg)
{
	struct gone *gn = arg;
	int k = aor_of(b);
	mb_t *x = model_by_id(k, b->id);

	CHECK(x != NULL);
	if(gn->expired_only)
		CHECK(!mb_live(x, aor_test_now));
	model_del(k, x);
	gn->n++;
	n_expired += gn->expired_only;
}

static void op_expire_slot(fuzz_in_t *in)
{
	struct gone gn = {0, 1};
	uint32_t pos = fuzz_byte(in) % aor_table_size(t);

	CHECK(UNIT_GONE(on_gone, &gn, aor_table_expire_slot(t, pos, aor_test_now)) == gn.n);
}

static void op_expire_all(void)
{
	struct gone gn = {0, 1};
	uint32_t pos;
	int k, j, expired = 0;

	for(k = 0; k < NAORS; k++)
		for(j = 0; j < m.a[k].n; j++)
			expired += !mb_live(&m.a[k].b[j], aor_test_now);
	/* the timer's walk: a whole pass of blocks, the hints deciding which
	 * are visited; it must find every expired binding all the same */
	t->expire_pos = 0;
	CHECK(UNIT_GONE(on_gone, &gn,
				  aor_table_expire_step(t,
						  (aor_table_size(t) - 1) / AOR_HINT_SLOTS + 1,
						  aor_test_now))
			== gn.n);
	CHECK(gn.n == expired);
	for(pos = 0; pos < aor_table_size(t); pos++)
		UNIT_GONE(on_gone, &gn, aor_table_expire_slot(t, pos, aor_test_now));
	CHECK(gn.n == expired);
}

static void op_flush(fuzz_in_t *in)
{
	struct gone gn = {0, 0};
	unsigned int how = fuzz_byte(in);
	uint32_t size = aor_table_size(t), pos = how % (size + 1);
	int before = model_total(), r;

	if(how < 16) {
		CHECK(UNIT_GONE(on_gone, &gn, aor_table_flush(t, AOR_ORIG_RPC)) == before);
		CHECK(model_total() == 0);
		return;
	}
	r = UNIT_GONE(on_gone, &gn, aor_table_flush_slot(t, pos, AOR_ORIG_RPC));
	/* -1 past the array */
	CHECK(r == (pos == size ? -1 : gn.n));
}

/* a binding restored from a snapshot keeps its id (aor_rec_insert) */
static void op_restore(fuzz_in_t *in)
{
	aor_binding_in_t bi;
	aor_binding_t *b;
	aor_rec_t rec;
	mb_t *x;
	int k = fuzz_pick(in, NAORS), key = fuzz_pick(in, NCLASS), j;
	uint64_t id = m.next_id + 1 + fuzz_pick(in, 3);
	char uri[64];

	for(j = 0; j < m.a[k].n; j++)
		if(m.a[k].b[j].key == key)
			return; /* one binding per key, live or not */
	if(m.a[k].n >= MAXB / 2)
		return;
	uri_of(key, 0, uri, sizeof(uri));
	memset(&bi, 0, sizeof(bi));
	bi.f[AOR_F_AOR].s = aor_name[k];
	bi.f[AOR_F_AOR].len = (int)strlen(aor_name[k]);
	bi.f[AOR_F_URI].s = uri;
	bi.f[AOR_F_URI].len = (int)strlen(uri);
	bi.f[AOR_F_CALLID].s = "call-9";
	bi.f[AOR_F_CALLID].len = 6;
	bi.hash = aor_hash(&bi.f[AOR_F_AOR]);
	bi.id = id;
	bi.expires = fuzz_byte(in) < 32 ? 0 : aor_test_now + fuzz_pick(in, 30);
	bi.modified = aor_test_now - 1;
	bi.cseq = 9;
	bi.q = AOR_Q_UNSPEC;
	b = aor_binding_new(&bi);
	CHECK(b != NULL);
	aor_table_lock(t, bi.hash);
	aor_table_find(t, bi.hash, &bi.f[AOR_F_AOR], &rec);
	aor_rec_insert(&rec, b);
	aor_table_unlock(t, bi.hash);

	x = &m.a[k].b[m.a[k].n++];
	memset(x, 0, sizeof(*x));
	x->key = key;
	x->id = id;
	x->expires = bi.expires;
	x->modified = bi.modified;
	x->callid = 9;
	x->cseq = 9;
	snprintf(x->uri, sizeof(x->uri), "%s", uri);
	if(id > m.next_id)
		m.next_id = id;
}

/* ---- cursor walk ---- */

static void walk_run_end(void)
{
	if(w.cur >= 0) {
		/* a record comes whole: all its bindings in one run */
		CHECK(w.run == m.a[w.cur].n);
		w.visits[w.cur]++;
	}
	w.cur = -1;
	w.run = 0;
}

static void on_scan(const aor_binding_t *b, void *arg)
{
	int k = aor_of(b);

	(void)arg;
	check_binding(k, b);
	if(k != w.cur)
		walk_run_end();
	w.cur = k;
	w.run++;
}

static void op_scan(fuzz_in_t *in)
{
	unsigned int max = fuzz_pick(in, 4);
	int k;

	if(!w.active) {
		memset(&w, 0, sizeof(w));
		w.active = 1;
		w.size0 = aor_table_size(t);
		for(k = 0; k < NAORS; k++)
			w.present[k] = m.a[k].n > 0;
	}
	w.cur = -1;
	w.cursor = aor_table_scan(t, w.cursor, max, on_scan, NULL);
	walk_run_end();
	if(w.cursor != 0)
		return;
	w.active = 0;
	n_walks++;
	n_walks_grew += w.grew;
	for(k = 0; k < NAORS; k++) {
		if(!w.present[k])
			continue;
		if(w.visits[k] < 1 || (!w.grew && w.visits[k] > 1)) {
			fprintf(stderr, "walk: %s visited %d times (grew %d)\n",
					aor_name[k], w.visits[k], w.grew);
			CHECK(!"walk visit count");
		}
	}
}

/* after each operation: what the walk may count on */
static void walk_note(void)
{
	int k;

	if(!w.active)
		return;
	if(aor_table_size(t) != w.size0)
		w.grew = 1;
	for(k = 0; k < NAORS; k++)
		if(m.a[k].n == 0)
			w.present[k] = 0;
}

/* ---- the run ---- */

static const unsigned int mc_values[] = {0, 1, 2, 3, 5};
static const unsigned long mb_values[] = {0, 3, 8, 20};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in_t in = {data, size};
	str name = STR_STATIC_INIT("location");
	unsigned int op, steps = 0;
	int k;

	if(size > 4096)
		return 0;
	if(long_ua == NULL) {
		atexit(stats);
		long_ua = malloc(LONG_UA);
		CHECK(long_ua != NULL);
		memset(long_ua, 'u', LONG_UA);
		for(k = 0; k < NAORS; k++)
			snprintf(aor_name[k], sizeof(aor_name[k]), "user%d@example.com", k);
	}
	aor_test_now = T0;
	memset(&m, 0, sizeof(m));
	memset(&w, 0, sizeof(w));
	t = aor_table_new(&name, fuzz_pick(&in, 3));
	CHECK(t != NULL);
	m.next_id = (uint64_t)aor_test_now << 24;
	m.lim.default_expires = 30;
	m.lim.min_expires = fuzz_byte(&in) & 1 ? 5 : 0;
	m.lim.min_mode = fuzz_byte(&in) & 1 ? AOR_MIN_REJECT : AOR_MIN_RAISE;
	m.lim.max_expires = fuzz_byte(&in) & 1 ? 100 : 0;
	m.lim.max_contacts = mc_values[fuzz_pick(&in, 5)];
	m.lim.policy = fuzz_pick(&in, 3);
	m.lim.max_bindings = mb_values[fuzz_pick(&in, 4)];

	while(in.n > 0 && steps++ < 1000) {
		op = fuzz_byte(&in);
		switch(op % 16) {
			case 0 ... 6:
				op_register(&in);
				break;
			case 7:
			case 8:
				aor_test_now += fuzz_pick(&in, 16);
				break;
			case 9:
			case 10:
				k = aor_table_size(t);
				CHECK(aor_table_maint(t, fuzz_pick(&in, 4)) >= 0);
				n_grow += aor_table_size(t) != (uint32_t)k;
				break;
			case 11:
				op_expire_slot(&in);
				break;
			case 12:
				op_expire_all();
				break;
			case 13:
				op_scan(&in);
				break;
			case 14:
				op_restore(&in);
				break;
			case 15:
				if(op < 64)
					op_flush(&in);
				else if(op < 160)
					op_find(&in);
				else
					op_scan(&in);
				break;
		}
		walk_note();
		check_store();
	}
	/* an unfinished walk runs to its end */
	while(w.active) {
		op_scan(&in);
		walk_note();
	}
	aor_table_free(t);
	return 0;
}
