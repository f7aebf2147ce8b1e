/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The reads ops.c does for the usrloc C API (ulapi.c): the partitioned
 * slot walk of get_all_ucontacts (aor_table_visit_stride) and the lookup
 * of a record by AoR hash and binding id (aor_ops_fetch_id, for
 * get_urecord_by_ruid and refresh_keepalive).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"
#include "sys.h"
#include "errors.h"
#include "merge.h"
#include "ops.h"

#define T0 ((time_t)1700000000)
#define NAORS 600

static const aor_limits_t lim = {
		.default_expires = 3600,
		.max_expires = 7200,
		.policy = AOR_POLICY_REJECT,
};

static aor_binding_t *out[AOR_REC_MAX];

/* one REGISTER of aor with the contacts uris (n of them) */
static int reg(aor_table_t *t, const char *aor, const char **uris, int n)
{
	aor_contact_t c[4];
	aor_plan_t plan[4];
	aor_regreq_t r;
	int i, ret;

	memset(&r, 0, sizeof(r));
	memset(c, 0, sizeof(c));
	r.aor = STR_C(aor);
	r.hash = aor_hash(&r.aor);
	r.callid = STR_C("cid");
	r.cseq = 1;
	r.now = aor_test_now;
	r.contacts = c;
	r.ncontacts = n;
	for(i = 0; i < n; i++) {
		c[i].uri = STR_C(uris[i]);
		c[i].expires = 600;
		c[i].q = AOR_Q_UNSPEC;
		c[i].methods = ~0u;
	}
	ret = aor_ops_save(t, &r, &lim, plan, AOR_ORIG_LOCAL, out, AOR_REC_MAX);
	aor_ops_done();
	return ret;
}

static aor_table_t *filled(void)
{
	str name = STR_C("location");
	aor_table_t *t;
	char aor[32], u1[48], u2[48];
	const char *uris[2] = {u1, u2};
	int i;

	aor_test_now = T0;
	aor_journal_reset_subscribers();
	t = aor_table_new(&name, 4);
	for(i = 0; i < NAORS; i++) {
		snprintf(aor, sizeof(aor), "u%d", i);
		snprintf(u1, sizeof(u1), "sip:u%d@192.0.2.1:5060", i);
		snprintf(u2, sizeof(u2), "sip:u%d@192.0.2.2:5060", i);
		if(reg(t, aor, uris, 1 + (i & 1)) != 1 + (i & 1))
			return NULL;
	}
	return t;
}

typedef struct seen
{
	uint32_t mask;
	uint64_t ids[NAORS * 4]; /* the ids seen */
	long total;
	uint32_t part_idx, part_max;
	int wrong_slot;
} seen_t;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* number of distinct ids among the first n seen */
static long distinct(seen_t *s)
{
	long i, d = 0;

	qsort(s->ids, s->total, sizeof(s->ids[0]), cmp_u64);
	for(i = 0; i < s->total; i++)
		if(i == 0 || s->ids[i] != s->ids[i - 1])
			d++;
	return d;
}

static void seen_cb(const aor_binding_t *b, void *arg)
{
	seen_t *s = arg;

	if(s->total < NAORS * 4)
		s->ids[s->total] = b->id;
	s->total++;
	/* a binding a call returns lives in a slot of its partition */
	if(((b->hash & s->mask) % s->part_max) != s->part_idx)
		s->wrong_slot++;
}

TEST(stride_partitions_cover_every_binding_exactly_once)
{
	aor_table_t *t = filled();
	static seen_t s;
	uint32_t size, idx, pm = 7;
	long slots = 0, n;

	ASSERT(t != NULL);
	/* let the table grow to its size for 600 AoRs first */
	while(aor_table_maint(t, 1 << 20) == 1)
		;
	size = aor_table_size(t);
	memset(&s, 0, sizeof(s));
	s.mask = size - 1;
	s.part_max = pm;
	for(idx = 0; idx < pm; idx++) {
		s.part_idx = idx;
		n = aor_table_visit_stride(t, idx, pm, seen_cb, &s);
		/* bounded: only the slots of the partition */
		ASSERT_EQ(n, (long)((size - idx + pm - 1) / pm));
		slots += n;
	}
	ASSERT_EQ(slots, (long)size);
	ASSERT_EQ(s.wrong_slot, 0);
	ASSERT_EQ(s.total, (long)(NAORS + NAORS / 2));
	ASSERT_EQ(distinct(&s), (long)(NAORS + NAORS / 2));
	aor_table_free(t);
}

TEST(stride_past_the_array_or_with_step_0_is_bounded)
{
	aor_table_t *t = filled();
	static seen_t s;

	ASSERT(t != NULL);
	memset(&s, 0, sizeof(s));
	s.part_max = 1;
	s.mask = aor_table_size(t) - 1;
	ASSERT_EQ(aor_table_visit_stride(t, aor_table_size(t), 3, seen_cb, &s), 0);
	ASSERT_EQ(s.total, 0);
	/* step 0 is one slot after the other: the whole table */
	ASSERT_EQ(aor_table_visit_stride(t, 0, 0, seen_cb, &s),
			(long)aor_table_size(t));
	ASSERT_EQ(s.total, (long)(NAORS + NAORS / 2));
	ASSERT_EQ(distinct(&s), (long)(NAORS + NAORS / 2));
	ASSERT_EQ(s.wrong_slot, 0);
	aor_table_free(t);
}

TEST(fetch_id_returns_the_record_of_the_binding)
{
	aor_table_t *t = filled();
	str key = STR_C("u7");
	uint64_t id;
	int n, i, found = 0;

	ASSERT(t != NULL);
	n = aor_ops_fetch(t, &key, aor_test_now, out, AOR_REC_MAX);
	ASSERT_EQ(n, 2);
	id = out[1]->id;
	n = aor_ops_fetch_id(t, aor_hash(&key), id, aor_test_now, out, AOR_REC_MAX);
	ASSERT_EQ(n, 2);
	for(i = 0; i < n; i++) {
		str a = aor_binding_get(out[i], AOR_F_AOR);
		ASSERT_STR_EQ(a, "u7");
		if(out[i]->id == id)
			found++;
	}
	ASSERT_EQ(found, 1);
	aor_table_free(t);
}

TEST(fetch_id_unknown_id_or_wrong_hash_finds_nothing)
{
	aor_table_t *t = filled();
	str key = STR_C("u8"), other = STR_C("u9");
	uint64_t id;

	ASSERT(t != NULL);
	ASSERT_EQ(aor_ops_fetch(t, &key, aor_test_now, out, AOR_REC_MAX), 1);
	id = out[0]->id;
	/* unknown id */
	ASSERT_EQ(aor_ops_fetch_id(t, aor_hash(&key), 999999, aor_test_now, out,
					  AOR_REC_MAX),
			0);
	/* the id under another AoR's hash */
	ASSERT_EQ(aor_ops_fetch_id(t, aor_hash(&other), id, aor_test_now, out,
					  AOR_REC_MAX),
			0);
	/* expired: not live, so not returned */
	aor_test_now = T0 + 601;
	ASSERT_EQ(aor_ops_fetch_id(t, aor_hash(&key), id, aor_test_now, out,
					  AOR_REC_MAX),
			0);
	aor_table_free(t);
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}
