/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of merge.c: each rule of RFC 3261 10.3 (and RFC 5626
 * instance/reg-id matching) applied by aor_merge_apply to a record of a
 * small table, the max_contacts and max_bindings limits, the change
 * callback, and aor_expires_resolve.
 */

#include <stdint.h>

#include "unit.h"
#include "sys.h"
#include "errors.h"
#include "merge.h"
#include "ops.h"
#include "unit_journal.h"

#define MAXC 40

/* one REGISTER under construction */
typedef struct rq
{
	aor_regreq_t r;
	aor_contact_t c[MAXC];
	aor_plan_t plan[MAXC];
} rq_t;

/* the changes the last apply reported */
static struct
{
	enum aor_change ch;
	char uri[128];
} changes[64];
static int nchanges;

static void on_change(const aor_jchange_t *c, void *arg)
{
	enum aor_change ch = c->kind;
	str u = aor_binding_get(c->b, AOR_F_URI);

	(void)arg;
	if(nchanges == 64)
		abort();
	changes[nchanges].ch = ch;
	snprintf(changes[nchanges].uri, sizeof(changes[0].uri), "%.*s", u.len, u.s);
	nchanges++;
}

/* how many changes of kind ch were reported (for uri, when not NULL) */
static int changed(enum aor_change ch, const char *uri)
{
	int i, n = 0;

	for(i = 0; i < nchanges; i++)
		n += changes[i].ch == ch && (!uri || strcmp(changes[i].uri, uri) == 0);
	return n;
}

static aor_limits_t lim_default = {
		.default_expires = 3600,
		.min_expires = 60,
		.max_expires = 7200,
		.min_mode = AOR_MIN_RAISE,
		.max_contacts = 0,
		.policy = AOR_POLICY_REJECT,
		.max_bindings = 0,
};

static aor_table_t *table_new(void)
{
	str name = STR_C("location");

	return aor_table_new(&name, 2);
}

static void rq_init(rq_t *q, const char *aor, const char *callid, uint32_t cseq)
{
	memset(q, 0, sizeof(*q));
	q->r.aor = STR_C(aor);
	q->r.hash = aor_hash(&q->r.aor);
	q->r.callid = STR_C(callid);
	q->r.cseq = cseq;
	q->r.user_agent = STR_C("unit/1.0");
	q->r.sock_str = STR_C("udp:192.0.2.1:5060");
	q->r.now = aor_test_now;
	q->r.contacts = q->c;
	unit_changes_to(on_change, NULL);
}

/* adds a Contact with resolved expires (0 removes) */
static aor_contact_t *rq_add(rq_t *q, const char *uri, long long expires)
{
	aor_contact_t *c = &q->c[q->r.ncontacts++];

	c->uri = STR_C(uri);
	c->expires = expires;
	c->q = AOR_Q_UNSPEC;
	c->methods = 0xffffffffu;
	return c;
}

static aor_contact_t *rq_add_inst(rq_t *q, const char *uri, long long expires,
		const char *instance, int32_t reg_id)
{
	aor_contact_t *c = rq_add(q, uri, expires);

	c->instance = STR_C(instance);
	c->reg_id = reg_id;
	return c;
}

/* applies q to its record as the glue would: lock, find, merge, unlock */
static int apply(aor_table_t *t, rq_t *q, const aor_limits_t *lim)
{
	aor_rec_t rec;
	int ret;

	nchanges = 0;
	aor_table_lock(t, q->r.hash);
	aor_table_find(t, q->r.hash, &q->r.aor, &rec);
	ret = aor_merge_apply(&rec, &q->r, lim, q->plan, NULL);
	aor_table_unlock(t, q->r.hash);
	return ret;
}

/* one REGISTER of aor with one contact */
static int reg1(aor_table_t *t, const char *aor, const char *callid,
		uint32_t cseq, const char *uri, long long expires)
{
	rq_t q;

	rq_init(&q, aor, callid, cseq);
	rq_add(&q, uri, expires);
	return apply(t, &q, &lim_default);
}

static int rec_of(aor_table_t *t, const char *aor, aor_rec_t *rec)
{
	str a = STR_C(aor);

	return aor_table_find(t, aor_hash(&a), &a, rec);
}

/* the binding of aor whose contact is uri (byte for byte), or NULL */
static aor_binding_t *binding(aor_table_t *t, const char *aor, const char *uri)
{
	aor_binding_t *b;
	aor_rec_t rec;
	str u;
	int i;

	rec_of(t, aor, &rec);
	for(i = 0, b = *rec.link; i < rec.n; i++, b = b->next) {
		u = aor_binding_get(b, AOR_F_URI);
		if(u.len == (int)strlen(uri) && memcmp(u.s, uri, u.len) == 0)
			return b;
	}
	return NULL;
}

static int count(aor_table_t *t, const char *aor)
{
	aor_rec_t rec;

	return rec_of(t, aor, &rec);
}

/* what a record is, to compare before and after a refused request */
typedef struct snap
{
	int n;
	long bindings, mem;
	struct
	{
		const aor_binding_t *p;
		uint64_t id;
		time_t expires, modified;
		uint32_t cseq;
		char uri[128];
	} b[MAXC];
} snap_t;

static void snap_take(aor_table_t *t, const char *aor, snap_t *s)
{
	aor_binding_t *b;
	aor_rec_t rec;
	str u;
	int i;

	memset(s, 0, sizeof(*s));
	s->n = rec_of(t, aor, &rec);
	s->bindings = t->bindings;
	s->mem = t->mem;
	for(i = 0, b = *rec.link; i < rec.n && i < MAXC; i++, b = b->next) {
		u = aor_binding_get(b, AOR_F_URI);
		s->b[i].p = b;
		s->b[i].id = b->id;
		s->b[i].expires = b->expires;
		s->b[i].modified = b->modified;
		s->b[i].cseq = b->cseq;
		snprintf(s->b[i].uri, sizeof(s->b[i].uri), "%.*s", u.len, u.s);
	}
}

#define ASSERT_UNCHANGED(t, aor, before)                          \
	do {                                                          \
		snap_t unit_after;                                        \
		snap_take(t, aor, &unit_after);                           \
		ASSERT(memcmp(&unit_after, before, sizeof(snap_t)) == 0); \
		ASSERT_EQ(nchanges, 0);                                   \
	} while(0)

/* RFC 3261 10.3 step 8: "If the binding does not exist, it is tentatively
 * added." Each binding expires at now + its expires. */
TEST(register_adds_a_binding_per_contact)
{
	aor_table_t *t = table_new();
	aor_binding_t *b;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	rq_add(&q, "sip:alice@192.0.2.11", 120)->q = 500;
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	ASSERT_EQ(t->aors, 1);
	ASSERT_EQ(t->bindings, 2);
	ASSERT_EQ(changed(AOR_CH_INSERTED, NULL), 2);
	ASSERT_EQ(nchanges, 2);
	b = binding(t, "alice", "sip:alice@192.0.2.11");
	ASSERT(b != NULL);
	ASSERT_EQ(b->expires, aor_test_now + 120);
	ASSERT_EQ(b->modified, aor_test_now);
	ASSERT_EQ(b->cseq, 1);
	ASSERT_EQ(b->q, 500);
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_CALLID), "c1");
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_AOR), "alice");
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_UA), "unit/1.0");
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7: same Call-ID, higher CSeq: "it MUST update ... the
 * binding". With every string unchanged the block is refreshed in place:
 * same pointer, no new allocation. */
TEST(refresh_with_same_strings_updates_in_place)
{
	aor_table_t *t = table_new();
	aor_binding_t *b;
	uint64_t id;
	long mem;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 1, "sip:alice@192.0.2.10", 3600), 0);
	b = binding(t, "alice", "sip:alice@192.0.2.10");
	ASSERT(b != NULL);
	id = b->id;
	mem = t->mem;
	aor_test_now += 100;
	ASSERT_EQ(reg1(t, "alice", "c1", 2, "sip:alice@192.0.2.10", 1800), 0);
	aor_test_now -= 100;
	ASSERT_PTR_EQ(binding(t, "alice", "sip:alice@192.0.2.10"), b);
	ASSERT_EQ(b->id, id);
	ASSERT_EQ(b->cseq, 2);
	ASSERT_EQ(b->expires, aor_test_now + 100 + 1800);
	ASSERT_EQ(b->modified, aor_test_now + 100);
	ASSERT_EQ(t->mem, mem);
	ASSERT_EQ(t->bindings, 1);
	ASSERT_EQ(nchanges, 1);
	/* in place: the journal's kind for it */
	ASSERT_EQ(changed(AOR_CH_REFRESHED, "sip:alice@192.0.2.10"), 1);
	aor_table_free(t);
}

/* a refresh in place that shortens a binding tells the expiry walk, which
 * has already learned that nothing in that block expires for an hour */
TEST(refresh_in_place_that_shortens_reaches_the_expiry_walk)
{
	aor_table_t *t = table_new();
	aor_binding_t *b;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 1, "sip:alice@192.0.2.10", 3600), 0);
	b = binding(t, "alice", "sip:alice@192.0.2.10");
	ASSERT(b != NULL);
	t->expire_pos = 0;
	ASSERT_EQ(aor_table_expire_step(t, 1, aor_test_now + 600), 0);
	ASSERT_EQ(t->expire_visits, 0); /* its hint: an hour from now */
	ASSERT_EQ(reg1(t, "alice", "c1", 2, "sip:alice@192.0.2.10", 600), 0);
	ASSERT_PTR_EQ(binding(t, "alice", "sip:alice@192.0.2.10"), b);
	ASSERT_EQ(aor_table_expire_step(t, 1, aor_test_now + 599), 0);
	ASSERT_EQ(t->expire_visits, 0);
	ASSERT_EQ(aor_table_expire_step(t, 1, aor_test_now + 600), 1);
	ASSERT_EQ(t->expire_visits, 4); /* the whole (4-slot) table */
	ASSERT_EQ(t->bindings, 0);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7: "If the Call-ID value in the existing binding
 * differs from the Call-ID value in the request, the binding MUST be ...
 * updated" (a UA that rebooted): the Call-ID is a string, so the binding
 * gets a new block, keeping its id */
TEST(new_call_id_updates_the_binding_in_a_new_block)
{
	aor_table_t *t = table_new();
	aor_binding_t *b, *nb;
	uint64_t id;
	long empty;

	ASSERT(t != NULL);
	empty = t->mem; /* the slot array and its hints */
	ASSERT_EQ(reg1(t, "alice", "c1", 10, "sip:alice@192.0.2.10", 3600), 0);
	b = binding(t, "alice", "sip:alice@192.0.2.10");
	ASSERT(b != NULL);
	id = b->id;
	ASSERT_EQ(
			reg1(t, "alice", "c2-longer", 1, "sip:alice@192.0.2.10", 3600), 0);
	nb = binding(t, "alice", "sip:alice@192.0.2.10");
	ASSERT(nb != NULL);
	ASSERT(nb != b);
	ASSERT_EQ(nb->id, id);
	ASSERT_EQ(nb->cseq, 1);
	ASSERT_STR_EQ(aor_binding_get(nb, AOR_F_CALLID), "c2-longer");
	ASSERT_EQ(count(t, "alice"), 1);
	ASSERT_EQ(t->mem, empty + (long)aor_binding_size(nb));
	ASSERT_EQ(changed(AOR_CH_UPDATED, "sip:alice@192.0.2.10"), 1);
	ASSERT_EQ(nchanges, 1);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7: "the binding MUST be removed if the expiration
 * time is zero"; the record goes with its last binding */
TEST(expires_zero_removes_the_binding)
{
	aor_table_t *t = table_new();
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	rq_add(&q, "sip:alice@192.0.2.11", 3600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	/* a 19.1.4-equivalent URI names the same binding */
	ASSERT_EQ(
			reg1(t, "alice", "c1", 2, "sip:alice@192.0.2.10;x-unknown=1", 0),
			0);
	ASSERT_EQ(count(t, "alice"), 1);
	ASSERT_EQ(changed(AOR_CH_DELETED, "sip:alice@192.0.2.10"), 1);
	ASSERT_EQ(nchanges, 1);
	ASSERT_EQ(reg1(t, "alice", "c9", 1, "sip:alice@192.0.2.11", 0), 0);
	ASSERT_EQ(count(t, "alice"), 0);
	ASSERT_EQ(t->aors, 0);
	ASSERT_EQ(t->bindings, 0);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 8 applies to existing bindings only: removing a
 * contact that is not registered changes nothing and is not an error */
TEST(expires_zero_for_an_unknown_contact_changes_nothing)
{
	aor_table_t *t = table_new();
	snap_t before;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 1, "sip:alice@192.0.2.10", 3600), 0);
	snap_take(t, "alice", &before);
	ASSERT_EQ(reg1(t, "alice", "c1", 2, "sip:alice@192.0.2.99", 0), 0);
	ASSERT_UNCHANGED(t, "alice", &before);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 6: Contact "*" with Expires 0: "the registrar SHOULD
 * ... remove all bindings" of the AoR */
TEST(star_removes_every_binding)
{
	aor_table_t *t = table_new();
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	rq_add(&q, "sip:alice@192.0.2.11", 3600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(reg1(t, "bob", "c1", 1, "sip:bob@192.0.2.20", 3600), 0);
	rq_init(&q, "alice", "c2", 1);
	q.r.star = 1;
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 0);
	ASSERT_EQ(changed(AOR_CH_DELETED, NULL), 2);
	ASSERT_EQ(nchanges, 2);
	ASSERT_EQ(count(t, "bob"), 1);
	ASSERT_EQ(t->aors, 1);
	ASSERT_EQ(t->bindings, 1);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 6: for "*", "if the Call-ID is the same, the binding
 * is removed only if the CSeq in the request is higher than the value
 * stored for that binding. Otherwise, the update is aborted and the
 * request fails." Nothing is removed, not even the other bindings. */
TEST(star_with_same_call_id_and_not_higher_cseq_fails_whole)
{
	aor_table_t *t = table_new();
	snap_t before;
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "other", 1, "sip:alice@192.0.2.10", 3600), 0);
	ASSERT_EQ(reg1(t, "alice", "c1", 5, "sip:alice@192.0.2.11", 3600), 0);
	snap_take(t, "alice", &before);
	rq_init(&q, "alice", "c1", 5);
	q.r.star = 1;
	ASSERT_EQ(apply(t, &q, &lim_default), AOR_E_CSEQ);
	ASSERT_UNCHANGED(t, "alice", &before);
	rq_init(&q, "alice", "c1", 4);
	q.r.star = 1;
	ASSERT_EQ(apply(t, &q, &lim_default), AOR_E_CSEQ);
	ASSERT_UNCHANGED(t, "alice", &before);
	rq_init(&q, "alice", "c1", 6);
	q.r.star = 1;
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 0);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7: same Call-ID: "If the value is higher than that of
 * the existing binding, it MUST update or remove the binding as above. If
 * not, the update MUST be aborted and the request fails." Aborted means
 * the other contacts of the request are not applied either. */
TEST(same_call_id_with_equal_or_lower_cseq_fails_and_changes_nothing)
{
	aor_table_t *t = table_new();
	snap_t before;
	uint32_t cseq;
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 5, "sip:alice@192.0.2.10", 3600), 0);
	snap_take(t, "alice", &before);
	for(cseq = 4; cseq <= 5; cseq++) {
		rq_init(&q, "alice", "c1", cseq);
		rq_add(&q, "sip:alice@192.0.2.77", 3600); /* a new one first */
		rq_add(&q, "sip:alice@192.0.2.10", 1800);
		ASSERT_EQ(apply(t, &q, &lim_default), AOR_E_CSEQ);
		ASSERT_UNCHANGED(t, "alice", &before);
		/* removal too */
		ASSERT_EQ(reg1(t, "alice", "c1", cseq, "sip:alice@192.0.2.10", 0),
				AOR_E_CSEQ);
		ASSERT_UNCHANGED(t, "alice", &before);
	}
	ASSERT_EQ(reg1(t, "alice", "c1", 6, "sip:alice@192.0.2.10", 1800), 0);
	ASSERT_EQ(binding(t, "alice", "sip:alice@192.0.2.10")->cseq, 6);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7: the CSeq is compared only when the Call-ID is the
 * same; with another Call-ID a lower CSeq updates the binding */
TEST(other_call_id_with_lower_cseq_is_accepted)
{
	aor_table_t *t = table_new();
	aor_binding_t *b;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 100, "sip:alice@192.0.2.10", 3600), 0);
	ASSERT_EQ(reg1(t, "alice", "c2", 1, "sip:alice@192.0.2.10", 600), 0);
	b = binding(t, "alice", "sip:alice@192.0.2.10");
	ASSERT(b != NULL);
	ASSERT_EQ(b->cseq, 1);
	ASSERT_EQ(b->expires, aor_test_now + 600);
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_CALLID), "c2");
	ASSERT_EQ(count(t, "alice"), 1);
	/* and removes it with a lower CSeq too */
	ASSERT_EQ(reg1(t, "alice", "c3", 0, "sip:alice@192.0.2.10", 0), 0);
	ASSERT_EQ(count(t, "alice"), 0);
	aor_table_free(t);
}

/* RFC 5626 6 (and RFC 5627 3.4): with +sip.instance the binding is keyed
 * by AoR, instance and reg-id, not by the Contact URI: a REGISTER from the
 * same instance with a new URI (new address after a reboot or a NAT
 * rebinding) replaces its binding */
TEST(same_instance_with_a_new_uri_replaces_the_binding)
{
	static const char inst[] =
			"\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";
	aor_table_t *t = table_new();
	aor_binding_t *b;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add_inst(&q, "sip:alice@192.0.2.10:5060", 3600, inst, 0);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	rq_init(&q, "alice", "c2", 1);
	rq_add_inst(&q, "sip:alice@198.51.100.7:40000", 3600, inst, 0);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	b = binding(t, "alice", "sip:alice@198.51.100.7:40000");
	ASSERT(b != NULL);
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_INSTANCE), inst);
	ASSERT_EQ(changed(AOR_CH_UPDATED, "sip:alice@198.51.100.7:40000"), 1);
	ASSERT_EQ(nchanges, 1);
	/* another instance at the same URI is another binding */
	rq_init(&q, "alice", "c3", 1);
	rq_add_inst(&q, "sip:alice@198.51.100.7:40000", 3600,
			"\"<urn:uuid:00000000-0000-1000-8000-000000000002>\"", 0);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	aor_table_free(t);
}

/* RFC 5626 6: "the registrar ... binding ... of the AOR, instance-id and
 * reg-id": one instance registers one flow per reg-id; a REGISTER on flow
 * 2 replaces flow 2 only */
TEST(instance_and_reg_id_together_name_the_binding)
{
	static const char inst[] =
			"\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";
	aor_table_t *t = table_new();
	aor_binding_t *b;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add_inst(&q, "sip:alice@192.0.2.10;ob", 3600, inst, 1);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	rq_init(&q, "alice", "c2", 1);
	rq_add_inst(&q, "sip:alice@192.0.2.10;ob", 3600, inst, 2);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	rq_init(&q, "alice", "c2", 2);
	rq_add_inst(&q, "sip:alice@203.0.113.5;ob", 3600, inst, 2);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	b = binding(t, "alice", "sip:alice@203.0.113.5;ob");
	ASSERT(b != NULL);
	ASSERT_EQ(b->reg_id, 2);
	b = binding(t, "alice", "sip:alice@192.0.2.10;ob");
	ASSERT(b != NULL);
	ASSERT_EQ(b->reg_id, 1);
	aor_table_free(t);
}

/* save() flag 0x04 (stock registrar): the request's contacts replace the
 * record; every other binding is removed, reported as deleted */
TEST(only_this_keeps_only_the_requests_bindings)
{
	aor_table_t *t = table_new();
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	rq_add(&q, "sip:alice@192.0.2.11", 3600);
	rq_add(&q, "sip:alice@192.0.2.12", 3600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	rq_init(&q, "alice", "c2", 1);
	q.r.only_this = 1;
	rq_add(&q, "sip:alice@192.0.2.11", 3600);
	rq_add(&q, "sip:alice@192.0.2.13", 3600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	ASSERT(binding(t, "alice", "sip:alice@192.0.2.11") != NULL);
	ASSERT(binding(t, "alice", "sip:alice@192.0.2.13") != NULL);
	ASSERT_EQ(changed(AOR_CH_DELETED, NULL), 2);
	ASSERT_EQ(changed(AOR_CH_UPDATED, NULL), 1);
	ASSERT_EQ(changed(AOR_CH_INSERTED, NULL), 1);
	ASSERT_EQ(nchanges, 4);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7 runs "for each address": the same contact twice in
 * one request makes one binding, with the last occurrence's values */
TEST(duplicate_contact_in_one_request_makes_one_binding_last_wins)
{
	aor_table_t *t = table_new();
	aor_binding_t *b;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	rq_add(&q, "sip:alice@192.0.2.10;x-unknown=1", 300);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	ASSERT_EQ(nchanges, 1);
	b = binding(t, "alice", "sip:alice@192.0.2.10;x-unknown=1");
	ASSERT(b != NULL);
	ASSERT_EQ(b->expires, aor_test_now + 300);
	/* the last one removes: nothing is left */
	rq_init(&q, "alice", "c1", 2);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	rq_add(&q, "sip:alice@192.0.2.10", 0);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 0);
	aor_table_free(t);
}

/* Two contacts that each match one binding without matching each other
 * (19.1.4 equality is not transitive: ;x=1 and ;x=2 each equal the bare
 * URI, not each other) must still make two bindings: one updates the
 * binding, the other is added. Neither new block may be lost. */
TEST(two_contacts_matching_the_same_binding_update_it_once)
{
	aor_table_t *t = table_new();
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 1, "sip:alice@192.0.2.10", 3600), 0);
	rq_init(&q, "alice", "c1", 2);
	rq_add(&q, "sip:alice@192.0.2.10;x=1", 3600);
	rq_add(&q, "sip:alice@192.0.2.10;x=2", 3600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	ASSERT(binding(t, "alice", "sip:alice@192.0.2.10;x=1") != NULL);
	ASSERT(binding(t, "alice", "sip:alice@192.0.2.10;x=2") != NULL);
	ASSERT_EQ(t->bindings, 2);
	ASSERT_EQ(nchanges, 2);
	aor_table_free(t);
}

/* max_contacts with policy reject (stock registrar: 503 "Too many
 * registered contacts"): a request that would exceed it is refused whole */
TEST(max_contacts_reject_refuses_and_changes_nothing)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	snap_t before;
	rq_t q;

	ASSERT(t != NULL);
	lim.max_contacts = 2;
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	rq_add(&q, "sip:alice@192.0.2.11", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	snap_take(t, "alice", &before);
	rq_init(&q, "alice", "c1", 2);
	rq_add(&q, "sip:alice@192.0.2.10", 1800);
	rq_add(&q, "sip:alice@192.0.2.12", 3600);
	ASSERT_EQ(apply(t, &q, &lim), AOR_E_TOO_MANY);
	ASSERT_UNCHANGED(t, "alice", &before);
	/* a refresh and a swap (one out, one in) stay within the limit */
	rq_init(&q, "alice", "c1", 3);
	rq_add(&q, "sip:alice@192.0.2.10", 0);
	rq_add(&q, "sip:alice@192.0.2.12", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	aor_table_free(t);
}

/* max_contacts with policy evict_oldest: the binding least recently
 * modified by a REGISTER goes to make room */
TEST(max_contacts_evict_oldest_evicts_the_least_recently_modified)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	time_t start = aor_test_now;
	rq_t q;

	ASSERT(t != NULL);
	lim.max_contacts = 3;
	lim.policy = AOR_POLICY_EVICT_OLDEST;
	ASSERT_EQ(reg1(t, "alice", "a", 1, "sip:alice@192.0.2.1", 3600), 0);
	aor_test_now++;
	ASSERT_EQ(reg1(t, "alice", "b", 1, "sip:alice@192.0.2.2", 3600), 0);
	aor_test_now++;
	ASSERT_EQ(reg1(t, "alice", "c", 1, "sip:alice@192.0.2.3", 3600), 0);
	aor_test_now++;
	/* refreshed: now the newest, though registered first */
	ASSERT_EQ(reg1(t, "alice", "a", 2, "sip:alice@192.0.2.1", 60), 0);
	aor_test_now++;
	rq_init(&q, "alice", "d", 1);
	rq_add(&q, "sip:alice@192.0.2.4", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 3);
	ASSERT(binding(t, "alice", "sip:alice@192.0.2.2") == NULL);
	ASSERT_EQ(changed(AOR_CH_EVICTED, "sip:alice@192.0.2.2"), 1);
	ASSERT_EQ(changed(AOR_CH_INSERTED, "sip:alice@192.0.2.4"), 1);
	ASSERT_EQ(nchanges, 2);
	/* more new contacts than max_contacts: refused, nothing evicted */
	rq_init(&q, "alice", "e", 1);
	rq_add(&q, "sip:alice@192.0.2.5", 3600);
	rq_add(&q, "sip:alice@192.0.2.6", 3600);
	rq_add(&q, "sip:alice@192.0.2.7", 3600);
	rq_add(&q, "sip:alice@192.0.2.8", 3600);
	ASSERT_EQ(apply(t, &q, &lim), AOR_E_TOO_MANY);
	ASSERT_EQ(count(t, "alice"), 3);
	aor_test_now = start;
	aor_table_free(t);
}

/* max_contacts with policy evict_expiring: the binding closest to its
 * expiry goes (a permanent one last) */
TEST(max_contacts_evict_expiring_evicts_the_one_closest_to_expiry)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	rq_t q;

	ASSERT(t != NULL);
	lim.max_contacts = 3;
	lim.policy = AOR_POLICY_EVICT_EXPIRING;
	ASSERT_EQ(reg1(t, "alice", "a", 1, "sip:alice@192.0.2.1", 3600), 0);
	ASSERT_EQ(reg1(t, "alice", "b", 1, "sip:alice@192.0.2.2", 120), 0);
	ASSERT_EQ(reg1(t, "alice", "c", 1, "sip:alice@192.0.2.3", 600), 0);
	rq_init(&q, "alice", "d", 1);
	rq_add(&q, "sip:alice@192.0.2.4", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 3);
	ASSERT(binding(t, "alice", "sip:alice@192.0.2.2") == NULL);
	ASSERT_EQ(changed(AOR_CH_EVICTED, "sip:alice@192.0.2.2"), 1);
	ASSERT_EQ(nchanges, 2);
	/* two at once: the two closest, c (600) then a or d (3600, a older) */
	rq_init(&q, "alice", "e", 1);
	rq_add(&q, "sip:alice@192.0.2.5", 3600);
	rq_add(&q, "sip:alice@192.0.2.6", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 3);
	ASSERT_EQ(changed(AOR_CH_EVICTED, NULL), 2);
	ASSERT_EQ(changed(AOR_CH_EVICTED, "sip:alice@192.0.2.3"), 1);
	ASSERT_EQ(changed(AOR_CH_EVICTED, "sip:alice@192.0.2.1"), 1);
	aor_table_free(t);
}

/* max_bindings caps the whole table: a request that would add past it is
 * refused (AOR_E_TABLE_FULL); refreshes and removals still pass */
TEST(max_bindings_reached_is_table_full)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	snap_t before;
	rq_t q;

	ASSERT(t != NULL);
	lim.max_bindings = 3;
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.1", 3600);
	rq_add(&q, "sip:alice@192.0.2.2", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	rq_init(&q, "bob", "c1", 1);
	rq_add(&q, "sip:bob@192.0.2.3", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	snap_take(t, "carol", &before);
	rq_init(&q, "carol", "c1", 1);
	rq_add(&q, "sip:carol@192.0.2.4", 3600);
	ASSERT_EQ(apply(t, &q, &lim), AOR_E_TABLE_FULL);
	ASSERT_UNCHANGED(t, "carol", &before);
	ASSERT_EQ(t->bindings, 3);
	rq_init(&q, "bob", "c1", 2);
	rq_add(&q, "sip:bob@192.0.2.3", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	/* one out, one in */
	rq_init(&q, "alice", "c1", 2);
	rq_add(&q, "sip:alice@192.0.2.1", 0);
	rq_add(&q, "sip:alice@192.0.2.5", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(t->bindings, 3);
	aor_table_free(t);
}

/* shm_reserve: once free shared memory is down to the reserve, a request
 * that would hold more bindings is refused (AOR_E_NOMEM, 503), unchanged;
 * refreshes, replacements and removals still pass */
TEST(shm_reserve_reached_refuses_new_bindings_only)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	snap_t before;
	rq_t q;

	ASSERT(t != NULL);
	lim.shm_reserve = 1000;
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.1", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	aor_test_mem_free = 999;
	snap_take(t, "bob", &before);
	rq_init(&q, "bob", "c1", 1);
	rq_add(&q, "sip:bob@192.0.2.2", 3600);
	ASSERT_EQ(apply(t, &q, &lim), AOR_E_NOMEM);
	ASSERT_UNCHANGED(t, "bob", &before);
	rq_init(&q, "alice", "c1", 2);
	rq_add(&q, "sip:alice@192.0.2.1", 1800);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	/* one out, one in */
	rq_init(&q, "alice", "c1", 3);
	rq_add(&q, "sip:alice@192.0.2.1", 0);
	rq_add(&q, "sip:alice@192.0.2.3", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(t->bindings, 1);
	aor_test_mem_free = 1000;
	rq_init(&q, "bob", "c1", 2);
	rq_add(&q, "sip:bob@192.0.2.2", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(t->bindings, 2);
	aor_test_mem_free = (unsigned long)-1;
	aor_table_free(t);
}

/* max_bindings counts what the table holds after the request: with
 * only_this (flag 0x04) the bindings the request replaces make room for
 * the ones it adds */
TEST(max_bindings_counts_the_bindings_only_this_removes)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	rq_t q;

	ASSERT(t != NULL);
	lim.max_bindings = 3;
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.1", 3600);
	rq_add(&q, "sip:alice@192.0.2.2", 3600);
	rq_add(&q, "sip:alice@192.0.2.3", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	rq_init(&q, "alice", "c2", 1);
	q.r.only_this = 1;
	rq_add(&q, "sip:alice@192.0.2.4", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	ASSERT_EQ(t->bindings, 1);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 7 matches existing bindings; an expired binding no
 * longer exists: it is not matched (so its CSeq does not count) and the
 * request drops it, reported as expired */
TEST(expired_binding_is_not_matched_and_is_dropped)
{
	aor_table_t *t = table_new();
	time_t start = aor_test_now;
	aor_binding_t *b;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 50, "sip:alice@192.0.2.1", 60), 0);
	ASSERT_EQ(reg1(t, "alice", "c1", 51, "sip:alice@192.0.2.2", 600), 0);
	aor_test_now = start + 60;
	/* a lower CSeq of the same Call-ID would fail against a live one */
	ASSERT_EQ(reg1(t, "alice", "c1", 10, "sip:alice@192.0.2.1", 3600), 0);
	ASSERT_EQ(changed(AOR_CH_EXPIRED, "sip:alice@192.0.2.1"), 1);
	ASSERT_EQ(changed(AOR_CH_INSERTED, "sip:alice@192.0.2.1"), 1);
	ASSERT_EQ(nchanges, 2);
	ASSERT_EQ(count(t, "alice"), 2);
	b = binding(t, "alice", "sip:alice@192.0.2.1");
	ASSERT(b != NULL);
	ASSERT_EQ(b->cseq, 10);
	ASSERT_EQ(b->expires, start + 60 + 3600);
	ASSERT_EQ(t->bindings, 2);
	aor_test_now = start;
	aor_table_free(t);
}

/* the change callback fires exactly once per changed binding, with its
 * kind; unchanged bindings are not reported */
TEST(on_change_fires_once_per_change_with_its_kind)
{
	aor_table_t *t = table_new();
	time_t start = aor_test_now;
	rq_t q;

	ASSERT(t != NULL);
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.1", 3600); /* to update */
	rq_add(&q, "sip:alice@192.0.2.2", 3600); /* to delete */
	rq_add(&q, "sip:alice@192.0.2.3", 3600); /* untouched */
	rq_add(&q, "sip:alice@192.0.2.4", 60);	 /* to expire */
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(changed(AOR_CH_INSERTED, NULL), 4);
	ASSERT_EQ(nchanges, 4);
	aor_test_now = start + 61;
	rq_init(&q, "alice", "c1", 2);
	rq_add(&q, "sip:alice@192.0.2.1", 3600);
	rq_add(&q, "sip:alice@192.0.2.2", 0);
	rq_add(&q, "sip:alice@192.0.2.5", 3600); /* new */
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	/* same strings: refreshed in place (the journal's own kind) */
	ASSERT_EQ(changed(AOR_CH_REFRESHED, "sip:alice@192.0.2.1"), 1);
	ASSERT_EQ(changed(AOR_CH_DELETED, "sip:alice@192.0.2.2"), 1);
	ASSERT_EQ(changed(AOR_CH_EXPIRED, "sip:alice@192.0.2.4"), 1);
	ASSERT_EQ(changed(AOR_CH_INSERTED, "sip:alice@192.0.2.5"), 1);
	ASSERT_EQ(nchanges, 4);
	ASSERT_EQ(count(t, "alice"), 3);
	aor_test_now = start;
	aor_table_free(t);
}

/* a field too long for a binding fails the request with AOR_E_TOO_LONG;
 * the blocks already built for earlier contacts are freed, nothing
 * changes */
TEST(too_long_contact_fails_whole_and_leaks_nothing)
{
	aor_table_t *t = table_new();
	snap_t before;
	char *big;
	rq_t q;

	ASSERT(t != NULL);
	ASSERT_EQ(reg1(t, "alice", "c1", 1, "sip:alice@192.0.2.1", 3600), 0);
	snap_take(t, "alice", &before);
	big = malloc(70000);
	ASSERT(big != NULL);
	memcpy(big, "sip:alice@", 10);
	memset(big + 10, 'a', 70000 - 11);
	big[70000 - 1] = '\0';
	rq_init(&q, "alice", "c2", 1);
	rq_add(&q, "sip:alice@192.0.2.1", 3600); /* would be a new block */
	rq_add(&q, "sip:alice@192.0.2.2", 3600);
	rq_add(&q, big, 3600);
	ASSERT_EQ(apply(t, &q, &lim_default), AOR_E_TOO_LONG);
	free(big);
	ASSERT_UNCHANGED(t, "alice", &before);
	aor_table_free(t);
}

/* RFC 3261 10.3 step 8 / 10.2.1: the expires parameter of the Contact,
 * else the Expires header, else the registrar's default */
TEST(expires_resolve_prefers_param_then_header_then_default)
{
	long long out = -99;

	ASSERT_EQ(aor_expires_resolve(&lim_default, 300, 600, &out), 0);
	ASSERT_EQ(out, 300);
	ASSERT_EQ(aor_expires_resolve(&lim_default, -1, 600, &out), 0);
	ASSERT_EQ(out, 600);
	ASSERT_EQ(aor_expires_resolve(&lim_default, -1, -1, &out), 0);
	ASSERT_EQ(out, 3600);
	/* a zero parameter wins over a non-zero header, and the reverse */
	ASSERT_EQ(aor_expires_resolve(&lim_default, 0, 600, &out), 0);
	ASSERT_EQ(out, 0);
	ASSERT_EQ(aor_expires_resolve(&lim_default, 600, 0, &out), 0);
	ASSERT_EQ(out, 600);
}

/* RFC 3261 10.3 step 8: "the registrar MAY shorten the expiration
 * interval"; max_expires 0 means no maximum */
TEST(expires_resolve_clamps_to_max_expires)
{
	aor_limits_t lim = lim_default;
	long long out;

	ASSERT_EQ(aor_expires_resolve(&lim, 100000, -1, &out), 0);
	ASSERT_EQ(out, 7200);
	ASSERT_EQ(aor_expires_resolve(&lim, -1, 4294967296LL, &out), 0);
	ASSERT_EQ(out, 7200);
	lim.max_expires = 0;
	ASSERT_EQ(aor_expires_resolve(&lim, 100000, -1, &out), 0);
	ASSERT_EQ(out, 100000);
	lim.default_expires = 9000;
	lim.max_expires = 7200;
	ASSERT_EQ(aor_expires_resolve(&lim, -1, -1, &out), 0);
	ASSERT_EQ(out, 7200);
}

/* RFC 3261 10.3 step 7 / 21.4.17: an interval below min_expires is
 * rejected with 423 and Min-Expires (reject mode, *out = min_expires) or,
 * as the stock registrar does by default, raised to min_expires */
TEST(expires_resolve_below_min_raises_or_is_too_brief)
{
	aor_limits_t lim = lim_default;
	long long out;

	ASSERT_EQ(aor_expires_resolve(&lim, 30, -1, &out), 0);
	ASSERT_EQ(out, 60);
	ASSERT_EQ(aor_expires_resolve(&lim, 60, -1, &out), 0);
	ASSERT_EQ(out, 60);
	lim.min_mode = AOR_MIN_REJECT;
	out = -99;
	ASSERT_EQ(aor_expires_resolve(&lim, 30, -1, &out), AOR_E_TOO_BRIEF);
	ASSERT_EQ(out, 60);
	ASSERT_EQ(aor_expires_resolve(&lim, -1, 1, &out), AOR_E_TOO_BRIEF);
	ASSERT_EQ(out, 60);
	ASSERT_EQ(aor_expires_resolve(&lim, 60, -1, &out), 0);
	ASSERT_EQ(out, 60);
}

/* RFC 3261 10.2.2: expires 0 removes, and is never "too brief" */
TEST(expires_resolve_zero_means_remove)
{
	aor_limits_t lim = lim_default;
	long long out = -99;

	lim.min_mode = AOR_MIN_REJECT;
	ASSERT_EQ(aor_expires_resolve(&lim, 0, -1, &out), 0);
	ASSERT_EQ(out, 0);
	ASSERT_EQ(aor_expires_resolve(&lim, -1, 0, &out), 0);
	ASSERT_EQ(out, 0);
}

/* save()'s return codes as stock registrar's: the action of the last
 * contact that changed something, 1 when none did, 3 for "*", 4 a query */
TEST(merge_result_as_stock)
{
	aor_table_t *t = table_new();
	rq_t q;

	/* a new AoR: inserted */
	rq_init(&q, "res", "c1", 1);
	rq_add(&q, "sip:a@192.0.2.1", 600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(aor_merge_result(&q.r, q.plan), AOR_SAVED_INSERTED);
	/* a refresh: updated */
	rq_init(&q, "res", "c1", 2);
	rq_add(&q, "sip:a@192.0.2.1", 600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(aor_merge_result(&q.r, q.plan), AOR_SAVED_UPDATED);
	/* refresh a, add b: the last contact names it */
	rq_init(&q, "res", "c1", 3);
	rq_add(&q, "sip:a@192.0.2.1", 600);
	rq_add(&q, "sip:b@192.0.2.1", 600);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(aor_merge_result(&q.r, q.plan), AOR_SAVED_INSERTED);
	/* remove b, then an unknown contact with expires 0 changes nothing */
	rq_init(&q, "res", "c1", 4);
	rq_add(&q, "sip:b@192.0.2.1", 0);
	rq_add(&q, "sip:nobody@192.0.2.1", 0);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(aor_merge_result(&q.r, q.plan), AOR_SAVED_DELETED);
	/* only an unknown contact removed: nothing changed, 1 as stock */
	rq_init(&q, "res", "c1", 5);
	rq_add(&q, "sip:nobody@192.0.2.1", 0);
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(aor_merge_result(&q.r, q.plan), AOR_SAVED_INSERTED);
	/* a query and a wildcard */
	rq_init(&q, "res", "c1", 6);
	ASSERT_EQ(aor_merge_result(&q.r, q.plan), AOR_SAVED_QUERY);
	q.r.star = 1;
	ASSERT_EQ(apply(t, &q, &lim_default), 0);
	ASSERT_EQ(aor_merge_result(&q.r, q.plan), AOR_SAVED_DELETED);
	ASSERT_EQ(count(t, "res"), 0);
	aor_table_free(t);
}

/* stock's expires_range: a requested interval lowered by up to range
 * percent, rnd hundredths into that span; 10.3 step 8 lets a registrar
 * shorten, never lengthen */
TEST(expires_vary_lowers_a_requested_interval_within_range)
{
	aor_limits_t lim = lim_default;
	long long out;
	int rnd;

	lim.range = 20;
	ASSERT_EQ(aor_expires_vary(&lim, 1000, -1, -1, 0, &out), 0);
	ASSERT_EQ(out, 800);
	ASSERT_EQ(aor_expires_vary(&lim, -1, 1000, -1, 50, &out), 0);
	ASSERT_EQ(out, 900);
	ASSERT_EQ(aor_expires_vary(&lim, 1000, -1, -1, 99, &out), 0);
	ASSERT_EQ(out, 998);
	for(rnd = 0; rnd < 100; rnd++) {
		ASSERT_EQ(aor_expires_vary(&lim, 3600, -1, -1, rnd, &out), 0);
		ASSERT(out >= 2880 && out <= 3600);
	}
	/* default_expires varies by default_range, not range */
	ASSERT_EQ(aor_expires_vary(&lim, -1, -1, -1, 0, &out), 0);
	ASSERT_EQ(out, 3600);
	lim.default_range = 50;
	ASSERT_EQ(aor_expires_vary(&lim, -1, -1, -1, 0, &out), 0);
	ASSERT_EQ(out, 1800);
}

/* save() flag 0x08 (rnd -1) and an xavp_cfg override are never varied */
TEST(expires_vary_none_with_no_variation_or_override)
{
	aor_limits_t lim = lim_default;
	long long out;

	lim.range = 50;
	lim.default_range = 50;
	ASSERT_EQ(aor_expires_vary(&lim, 1000, -1, -1, -1, &out), 0);
	ASSERT_EQ(out, 1000);
	ASSERT_EQ(aor_expires_vary(&lim, -1, -1, -1, -1, &out), 0);
	ASSERT_EQ(out, 3600);
	/* the override wins over the parameter and the header */
	ASSERT_EQ(aor_expires_vary(&lim, 1000, 500, 700, 0, &out), 0);
	ASSERT_EQ(out, 700);
	ASSERT_EQ(aor_expires_vary(&lim, 1000, 500, 0, 0, &out), 0);
	ASSERT_EQ(out, 0);
	ASSERT_EQ(aor_expires_vary(&lim, -1, -1, 700, 0, &out), 0);
	ASSERT_EQ(out, 700);
}

/* RFC 3261 10.3 step 7: a binding whose expiration is zero "MUST be
 * removed"; stock's xavp_cfg expires refreshes it instead (registrar
 * sip_msg.c:256), ours leaves the removal alone */
TEST(expires_vary_override_keeps_a_removal)
{
	long long out = -99;

	ASSERT_EQ(aor_expires_vary(&lim_default, 0, 600, 500, 0, &out), 0);
	ASSERT_EQ(out, 0);
	ASSERT_EQ(aor_expires_vary(&lim_default, -1, 0, 500, 0, &out), 0);
	ASSERT_EQ(out, 0);
}

/* the varied value stays within min_expires and max_expires */
TEST(expires_vary_stays_within_min_and_max)
{
	aor_limits_t lim = lim_default;
	long long out;

	lim.range = 90;
	ASSERT_EQ(aor_expires_vary(&lim, 100, -1, -1, 0, &out), 0);
	ASSERT_EQ(out, 60);
	ASSERT_EQ(aor_expires_vary(&lim, 100000, -1, -1, 99, &out), 0);
	ASSERT_EQ(out, 7200);
	/* zero still removes; below min still 423 in reject mode */
	ASSERT_EQ(aor_expires_vary(&lim, 0, -1, -1, 0, &out), 0);
	ASSERT_EQ(out, 0);
	lim.min_mode = AOR_MIN_REJECT;
	ASSERT_EQ(aor_expires_vary(&lim, 30, -1, -1, 0, &out), AOR_E_TOO_BRIEF);
	ASSERT_EQ(out, 60);
}

/* matching_mode 0 (stock's default): the URI alone; a REGISTER with
 * another Call-ID refreshes the binding */
TEST(matching_mode_contact_matches_by_uri_alone)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	rq_t q;

	ASSERT(t != NULL);
	lim.match = AOR_MATCH_CONTACT;
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	rq_init(&q, "alice", "c2", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 1800);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	aor_table_free(t);
}

/* matching_mode 1 (stock usrloc contact_callid_match): the URI and the
 * Call-ID; the same URI with another Call-ID is another binding, and the
 * CSeq rule still holds for the same Call-ID */
TEST(matching_mode_callid_needs_uri_and_callid)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	aor_binding_t *b;
	str cid;
	rq_t q;

	ASSERT(t != NULL);
	lim.match = AOR_MATCH_CALLID;
	rq_init(&q, "alice", "c1", 5);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	rq_init(&q, "alice", "c2", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 1800);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	rq_init(&q, "alice", "c1", 4);
	rq_add(&q, "sip:alice@192.0.2.10", 1800);
	ASSERT_EQ(apply(t, &q, &lim), AOR_E_CSEQ);
	/* a removal with c2 takes only c2's binding */
	rq_init(&q, "alice", "c2", 2);
	rq_add(&q, "sip:alice@192.0.2.10", 0);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	b = binding(t, "alice", "sip:alice@192.0.2.10");
	ASSERT(b != NULL);
	cid = aor_binding_get(b, AOR_F_CALLID);
	ASSERT_EQ(cid.len, 2);
	ASSERT(memcmp(cid.s, "c1", 2) == 0);
	aor_table_free(t);
}

/* matching_mode 2 (stock usrloc contact_path_match): the URI and the
 * Path when the request has one; without one, the URI alone */
TEST(matching_mode_path_needs_uri_and_path)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	rq_t q;

	ASSERT(t != NULL);
	lim.match = AOR_MATCH_PATH;
	rq_init(&q, "alice", "c1", 1);
	q.r.path = STR_C("<sip:p1.example.com;lr>");
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	rq_init(&q, "alice", "c1", 2);
	q.r.path = STR_C("<sip:p2.example.com;lr>");
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	rq_init(&q, "alice", "c1", 3);
	q.r.path = STR_C("<sip:p1.example.com;lr>");
	rq_add(&q, "sip:alice@192.0.2.10", 1800);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	/* no Path: the first binding of the URI */
	rq_init(&q, "alice", "c1", 4);
	rq_add(&q, "sip:alice@192.0.2.10", 0);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	aor_table_free(t);
}

/* matching_mode 3 (stock usrloc contact_match_callidonly): the Call-ID
 * alone; a new URI with the same Call-ID replaces the binding */
TEST(matching_mode_callid_only_replaces_the_uri)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	rq_t q;

	ASSERT(t != NULL);
	lim.match = AOR_MATCH_CALLID_ONLY;
	rq_init(&q, "alice", "c1", 1);
	rq_add(&q, "sip:alice@192.0.2.10", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	rq_init(&q, "alice", "c1", 2);
	rq_add(&q, "sip:alice@192.0.2.99", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	ASSERT(binding(t, "alice", "sip:alice@192.0.2.99") != NULL);
	/* another Call-ID: another binding, even for the same URI */
	rq_init(&q, "alice", "c2", 1);
	rq_add(&q, "sip:alice@192.0.2.99", 3600);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 2);
	aor_table_free(t);
}

/* +sip.instance decides whatever matching_mode says (stock
 * get_ucontact_by_instance) */
TEST(matching_mode_instance_overrides_callid)
{
	aor_table_t *t = table_new();
	aor_limits_t lim = lim_default;
	rq_t q;

	ASSERT(t != NULL);
	lim.match = AOR_MATCH_CALLID;
	rq_init(&q, "alice", "c1", 1);
	rq_add_inst(&q, "sip:alice@192.0.2.10", 3600, "<urn:uuid:1>", 1);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	rq_init(&q, "alice", "c2", 1);
	rq_add_inst(&q, "sip:alice@192.0.2.11", 3600, "<urn:uuid:1>", 1);
	ASSERT_EQ(apply(t, &q, &lim), 0);
	ASSERT_EQ(count(t, "alice"), 1);
	aor_table_free(t);
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}
