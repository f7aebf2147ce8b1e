/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of gruu.c: a temporary GRUU opens to what it was sealed from
 * and to nothing once any character is changed, dropped or added, or under
 * another key; the same secret seals alike at every start; the public
 * GRUU is stock's text; instance IDs compare bare.
 */

#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "sys.h"
#include "hash.h"
#include "gruu.h"

#define SECRET "0123456789abcdef-test-secret"

static aor_gruu_temp_t temp_of(
		const char *aor, uint64_t id, uint32_t cseq, const char *callid)
{
	aor_gruu_temp_t t;
	str cid = STR_C(callid);

	t.aor = STR_C(aor);
	t.id = id;
	t.cseq = cseq;
	t.callid = aor_gruu_callid_tag(&cid);
	return t;
}

/* seals t into buf (room for 4096) and returns it as a str */
static str seal(const aor_gruu_temp_t *t, char *buf)
{
	str u;

	u.s = buf;
	u.len = aor_gruu_temp_user(t, buf);
	return u;
}

TEST(temp_gruu_opens_to_what_it_was_sealed_from)
{
	aor_gruu_temp_t t = temp_of("alice@example.com", 0x0123456789abcdefull,
							4711, "a84b4c76e66710@pc33"),
					o;
	char buf[4096], aor[128];
	str u;
	int i;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	u = seal(&t, buf);
	ASSERT_EQ(u.len, aor_gruu_temp_user_len(t.aor.len));
	ASSERT(u.len > 6 && memcmp(u.s, "tgruu.", 6) == 0);
	/* RFC 3261 25.1 unreserved: a user part as it is, no escaping */
	for(i = 6; i < u.len; i++)
		ASSERT((u.s[i] >= 'a' && u.s[i] <= 'z')
				|| (u.s[i] >= '2' && u.s[i] <= '7'));
	/* it does not show the AoR */
	ASSERT(memmem(u.s, u.len, "alice", 5) == NULL);
	ASSERT_EQ(aor_gruu_temp_open(&u, aor, sizeof(aor), &o), 0);
	ASSERT_STR_EQ(o.aor, "alice@example.com");
	ASSERT(o.id == t.id);
	ASSERT_EQ(o.cseq, 4711);
	ASSERT_EQ(o.callid, t.callid);
}

TEST(temp_gruu_is_the_same_for_the_same_registration_only)
{
	aor_gruu_temp_t a = temp_of("bob", 7, 1, "cid-1"),
					b = temp_of("bob", 7, 2, "cid-1"),
					c = temp_of("bob", 7, 1, "cid-2"),
					d = temp_of("bob", 8, 1, "cid-1");
	char b1[4096], b2[4096];
	str u1, u2;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	u1 = seal(&a, b1);
	u2 = seal(&a, b2);
	ASSERT(u1.len == u2.len && memcmp(u1.s, u2.s, u1.len) == 0);
	u2 = seal(&b, b2); /* a refresh (new CSeq): a new one */
	ASSERT(u1.len != u2.len || memcmp(u1.s, u2.s, u1.len) != 0);
	u2 = seal(&c, b2); /* a new Call-ID */
	ASSERT(u1.len != u2.len || memcmp(u1.s, u2.s, u1.len) != 0);
	u2 = seal(&d, b2); /* another binding */
	ASSERT(u1.len != u2.len || memcmp(u1.s, u2.s, u1.len) != 0);
}

TEST(callid_tag_tells_call_ids_apart)
{
	str a = STR_C("a84b4c76e66710@pc33"), b = STR_C("a84b4c76e66711@pc33");
	uint32_t ta;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	ta = aor_gruu_callid_tag(&a);
	ASSERT_EQ(aor_gruu_callid_tag(&a), ta);
	ASSERT_NE(aor_gruu_callid_tag(&b), ta);
}

TEST(temp_gruu_with_any_character_changed_opens_to_nothing)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
	aor_gruu_temp_t t = temp_of("carol@example.org", 42, 9, "cid"), o;
	char buf[4096], aor[128], keep;
	str u;
	int i, j, opened = 0;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	u = seal(&t, buf);
	for(i = 6; i < u.len; i++) {
		keep = u.s[i];
		for(j = 0; j < 32; j++) {
			if(alpha[j] == keep)
				continue;
			u.s[i] = alpha[j];
			opened += aor_gruu_temp_open(&u, aor, sizeof(aor), &o) == 0;
		}
		u.s[i] = keep;
	}
	ASSERT_EQ(opened, 0);
	ASSERT_EQ(aor_gruu_temp_open(&u, aor, sizeof(aor), &o), 0);
}

TEST(temp_gruu_cut_short_or_extended_opens_to_nothing)
{
	aor_gruu_temp_t t = temp_of("dave", 1, 1, "cid"), o;
	char buf[4096], aor[128];
	str u, v;
	int n, opened = 0;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	u = seal(&t, buf);
	for(n = 0; n < u.len; n++) {
		v.s = u.s;
		v.len = n;
		opened += aor_gruu_temp_open(&v, aor, sizeof(aor), &o) == 0;
	}
	u.s[u.len] = 'a';
	v.s = u.s;
	v.len = u.len + 1;
	opened += aor_gruu_temp_open(&v, aor, sizeof(aor), &o) == 0;
	ASSERT_EQ(opened, 0);
}

TEST(temp_gruu_opens_only_under_its_secret_and_under_it_at_every_start)
{
	aor_gruu_temp_t t = temp_of("erin@example.net", 99, 5, "cid-e"), o;
	char b1[4096], b2[4096], aor[128];
	str u1, u2;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	u1 = seal(&t, b1);
	aor_gruu_init("another secret, 16+ bytes", 25);
	ASSERT(aor_gruu_temp_open(&u1, aor, sizeof(aor), &o) < 0);
	/* a random key (no gruu_secret) is another key again */
	aor_gruu_init(NULL, 0);
	ASSERT(aor_gruu_temp_open(&u1, aor, sizeof(aor), &o) < 0);
	u2 = seal(&t, b2);
	ASSERT_EQ(aor_gruu_temp_open(&u2, aor, sizeof(aor), &o), 0);
	/* a restart with the same secret: the same key */
	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	ASSERT_EQ(aor_gruu_temp_open(&u1, aor, sizeof(aor), &o), 0);
	ASSERT_STR_EQ(o.aor, "erin@example.net");
	u2 = seal(&t, b2);
	ASSERT(u1.len == u2.len && memcmp(u1.s, u2.s, u1.len) == 0);
}

TEST(garbage_user_parts_open_to_nothing)
{
	static const char *bad[] = {"", "t", "tgruu.", "tgruu", "alice",
			"tgruu.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
			"tgruu.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			"tgruu.zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
			"uloc-5f0a1b2c-1a2b-1-4d3c2b1a", "tgruu.0189", NULL};
	char aor[128], *big;
	aor_gruu_temp_t o;
	str u;
	int i;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	for(i = 0; bad[i]; i++) {
		u = STR_C(bad[i]);
		ASSERT(aor_gruu_temp_open(&u, aor, sizeof(aor), &o) < 0);
	}
	/* 10 KB of base32 after the prefix */
	big = malloc(10246);
	ASSERT(big != NULL);
	memcpy(big, "tgruu.", 6);
	memset(big + 6, 'a', 10240);
	u.s = big;
	u.len = 10246;
	i = aor_gruu_temp_open(&u, aor, sizeof(aor), &o);
	free(big);
	ASSERT(i < 0);
}

TEST(temp_gruu_opens_in_either_case)
{
	aor_gruu_temp_t t = temp_of("frank", 3, 3, "cid"), o;
	char buf[4096], aor[128];
	str u;
	int i;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	u = seal(&t, buf);
	for(i = 0; i < u.len; i++)
		if(u.s[i] >= 'a' && u.s[i] <= 'z')
			u.s[i] = (char)(u.s[i] - 'a' + 'A');
	ASSERT_EQ(aor_gruu_temp_open(&u, aor, sizeof(aor), &o), 0);
	ASSERT_STR_EQ(o.aor, "frank");
}

TEST(temp_gruu_of_the_longest_aor_and_a_small_buffer)
{
	static char aor[AOR_GRUU_AOR_MAX + 1], out[AOR_GRUU_AOR_MAX];
	static char buf[2 * AOR_GRUU_AOR_MAX + 64];
	aor_gruu_temp_t t, o;
	str u;

	aor_gruu_init(SECRET, sizeof(SECRET) - 1);
	memset(aor, 'x', sizeof(aor));
	t.aor.s = aor;
	t.aor.len = AOR_GRUU_AOR_MAX;
	t.id = 1;
	t.cseq = 1;
	t.callid = 1;
	u = seal(&t, buf);
	ASSERT(u.len > 0);
	ASSERT_EQ(aor_gruu_temp_open(&u, out, sizeof(out), &o), 0);
	ASSERT_EQ(o.aor.len, AOR_GRUU_AOR_MAX);
	/* the AoR does not fit the caller's buffer */
	ASSERT(aor_gruu_temp_open(&u, out, 16, &o) < 0);
	t.aor.len = AOR_GRUU_AOR_MAX + 1;
	ASSERT_EQ(aor_gruu_temp_user(&t, buf), 0);
}

TEST(instances_compare_bare)
{
	str gr = STR_C("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
	str a = STR_C("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>");
	str q = STR_C("\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"");
	str other = STR_C("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf7>");
	str empty = STR_C(""), lt = STR_C("<>");

	ASSERT(aor_gruu_instance_eq(&gr, &a));
	ASSERT(aor_gruu_instance_eq(&gr, &q));
	ASSERT(aor_gruu_instance_eq(&a, &gr));
	ASSERT(!aor_gruu_instance_eq(&gr, &other));
	ASSERT(!aor_gruu_instance_eq(&empty, &empty));
	ASSERT(!aor_gruu_instance_eq(&lt, &empty));
	ASSERT(!aor_gruu_instance_eq(&gr, &empty));
	ASSERT_STR_EQ(aor_gruu_instance_bare(q),
			"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
}

static void check_pub(
		const char *aor, const char *host, const char *inst, const char *want)
{
	str a = STR_C(aor), h = STR_C(host), i = STR_C(inst), got;
	char buf[256];

	got.s = buf;
	got.len = (int)(aor_gruu_pub_put(buf, &a, &h, &i) - buf);
	ASSERT_EQ(got.len, aor_gruu_pub_len(&a, &h, &i));
	ASSERT_STR_EQ(got, want);
}

TEST(public_gruu_is_stocks_text)
{
	/* RFC 5627 3.1's example, written as stock's build_contact writes it */
	check_pub("callee@example.com", "ignored.example",
			"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>",
			"sip:callee@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-"
			"00a0c91e6bf6");
	ASSERT_OK_SO_FAR();
	/* use_domain 0: the key is the user, the host the To's */
	check_pub("callee", "example.com", "\"<urn:uuid:1>\"",
			"sip:callee@example.com;gr=urn:uuid:1");
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}
