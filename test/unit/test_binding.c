/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of binding.c: the one-block layout, refresh in place, expiry
 * arithmetic and ruids (URI equality is in test_uri.c).
 */

#include <limits.h>
#include <stdint.h>

#include "unit.h"
#include "sys.h"
#include "binding.h"

static const char *const sample[AOR_F_COUNT] = {
		[AOR_F_AOR] = "alice@example.com",
		[AOR_F_URI] = "sip:alice@192.0.2.10:5070;transport=tcp",
		[AOR_F_RECEIVED] = "", /* an empty field between two others */
		[AOR_F_PATH] = "<sip:edge.example.com;lr>",
		[AOR_F_UA] = "softphone/1.0",
		[AOR_F_CALLID] = "a84b4c76e66710@pc33.example.com",
		[AOR_F_INSTANCE] =
				"\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"",
		[AOR_F_SOCK] = "tcp:192.0.2.1:5060",
};

static void sample_in(aor_binding_in_t *in)
{
	int i;

	memset(in, 0, sizeof(*in));
	for(i = 0; i < AOR_F_COUNT; i++)
		in->f[i] = STR_C(sample[i]);
	in->id = 0x1122334455667788ull;
	in->expires = aor_test_now + 3600;
	in->modified = aor_test_now;
	in->sock = (void *)&sample;
	in->hash = 0xdeadbeef;
	in->cseq = 4711;
	in->cflags = 0x80000001u;
	in->methods = 0xffffffffu;
	in->reg_id = 2;
	in->q = 500;
}

TEST(binding_fields_round_trip_through_one_block)
{
	aor_binding_in_t in;
	aor_binding_t *b;
	size_t data = 0;
	int i;

	sample_in(&in);
	for(i = 0; i < AOR_F_COUNT; i++)
		data += strlen(sample[i]);
	b = aor_binding_new(&in);
	ASSERT(b != NULL);
	for(i = 0; i < AOR_F_COUNT; i++)
		ASSERT_STR_EQ(aor_binding_get(b, i), sample[i]);
	ASSERT_PTR_EQ(b->next, NULL);
	ASSERT_EQ(b->id, in.id);
	ASSERT_EQ(b->expires, in.expires);
	ASSERT_EQ(b->modified, in.modified);
	ASSERT_PTR_EQ(b->sock, in.sock);
	ASSERT_EQ(b->hash, in.hash);
	ASSERT_EQ(b->cseq, in.cseq);
	ASSERT_EQ(b->cflags, in.cflags);
	ASSERT_EQ(b->methods, in.methods);
	ASSERT_EQ(b->reg_id, in.reg_id);
	ASSERT_EQ(b->q, in.q);
	ASSERT_EQ(aor_binding_size(b), sizeof(aor_binding_t) + data);
	ASSERT_EQ(aor_binding_size_in(&in), aor_binding_size(b));
	/* the strings live inside the block, not in the caller's buffers */
	for(i = 0; i < AOR_F_COUNT; i++) {
		ASSERT((char *)aor_binding_get(b, i).s >= (char *)b);
		ASSERT(aor_binding_get(b, i).s + aor_binding_get(b, i).len
				<= (char *)b + aor_binding_size(b));
	}
	AOR_FREE(b);
}

TEST(binding_with_all_fields_empty_is_just_the_header)
{
	aor_binding_in_t in;
	aor_binding_t *b;
	int i;

	memset(&in, 0, sizeof(in));
	in.q = AOR_Q_UNSPEC;
	b = aor_binding_new(&in);
	ASSERT(b != NULL);
	ASSERT_EQ(aor_binding_size(b), sizeof(aor_binding_t));
	for(i = 0; i < AOR_F_COUNT; i++)
		ASSERT_EQ(aor_binding_get(b, i).len, 0);
	ASSERT_EQ(b->q, AOR_Q_UNSPEC);
	AOR_FREE(b);
}

TEST(binding_holds_exactly_65535_bytes_of_strings_and_no_more)
{
	aor_binding_in_t in;
	aor_binding_t *b;
	char *big;
	int rest, i;

	sample_in(&in);
	rest = AOR_BINDING_MAX_DATA;
	for(i = 0; i < AOR_F_COUNT; i++)
		if(i != AOR_F_PATH)
			rest -= in.f[i].len;
	big = malloc(rest + 1);
	ASSERT(big != NULL);
	memset(big, 'p', rest + 1);
	/* Path as long as fits: total exactly AOR_BINDING_MAX_DATA */
	in.f[AOR_F_PATH].s = big;
	in.f[AOR_F_PATH].len = rest;
	b = aor_binding_new(&in);
	if(b == NULL) {
		free(big);
		UNIT_FAIL("a binding of exactly %d bytes was refused",
				AOR_BINDING_MAX_DATA);
	}
	ASSERT_EQ(
			aor_binding_size(b), sizeof(aor_binding_t) + AOR_BINDING_MAX_DATA);
	ASSERT_EQ(aor_binding_get(b, AOR_F_PATH).len, rest);
	ASSERT_STR_EQ(aor_binding_get(b, AOR_F_SOCK), sample[AOR_F_SOCK]);
	AOR_FREE(b);
	/* one byte more: refused, nothing allocated */
	in.f[AOR_F_PATH].len = rest + 1;
	ASSERT_EQ(aor_binding_size_in(&in), 0);
	b = aor_binding_new(&in);
	free(big);
	ASSERT_PTR_EQ(b, NULL);
}

TEST(binding_with_a_negative_length_is_refused)
{
	aor_binding_in_t in;

	sample_in(&in);
	in.f[AOR_F_UA].len = -1;
	ASSERT_EQ(aor_binding_size_in(&in), 0);
	ASSERT_PTR_EQ(aor_binding_new(&in), NULL);
}

TEST(same_strings_is_true_only_when_every_field_matches)
{
	aor_binding_in_t in;
	aor_binding_t *b;
	char buf[256];
	int i;

	sample_in(&in);
	b = aor_binding_new(&in);
	ASSERT(b != NULL);
	ASSERT_EQ(aor_binding_same_strings(b, &in), 1);
	for(i = 0; i < AOR_F_COUNT; i++) {
		str keep = in.f[i];

		/* same length, one byte different */
		if(keep.len > 0) {
			memcpy(buf, keep.s, keep.len);
			buf[keep.len - 1] ^= 1;
			in.f[i].s = buf;
			if(aor_binding_same_strings(b, &in) != 0) {
				AOR_FREE(b);
				UNIT_FAIL("field %d: a changed byte is not seen", i);
			}
		}
		/* one byte longer */
		memcpy(buf, keep.s, keep.len);
		buf[keep.len] = 'x';
		in.f[i].s = buf;
		in.f[i].len = keep.len + 1;
		if(aor_binding_same_strings(b, &in) != 0) {
			AOR_FREE(b);
			UNIT_FAIL("field %d: a longer value is not seen", i);
		}
		in.f[i] = keep;
	}
	/* scalars do not count */
	in.cseq++;
	in.expires += 10;
	ASSERT_EQ(aor_binding_same_strings(b, &in), 1);
	AOR_FREE(b);
}

TEST(refresh_copies_the_scalars_and_keeps_strings_id_and_hash)
{
	aor_binding_in_t in;
	aor_binding_t *b;
	int i;

	sample_in(&in);
	b = aor_binding_new(&in);
	ASSERT(b != NULL);
	in.id = 99;
	in.hash = 1;
	in.expires = aor_test_now + 60;
	in.modified = aor_test_now + 5;
	in.sock = NULL;
	in.cseq = 4712;
	in.cflags = 3;
	in.methods = 0x10;
	in.reg_id = 7;
	in.q = 1000;
	aor_binding_refresh(b, &in);
	ASSERT_EQ(b->id, 0x1122334455667788ull);
	ASSERT_EQ(b->hash, 0xdeadbeef);
	ASSERT_EQ(b->expires, aor_test_now + 60);
	ASSERT_EQ(b->modified, aor_test_now + 5);
	ASSERT_PTR_EQ(b->sock, NULL);
	ASSERT_EQ(b->cseq, 4712);
	ASSERT_EQ(b->cflags, 3);
	ASSERT_EQ(b->methods, 0x10);
	ASSERT_EQ(b->reg_id, 7);
	ASSERT_EQ(b->q, 1000);
	for(i = 0; i < AOR_F_COUNT; i++)
		ASSERT_STR_EQ(aor_binding_get(b, i), sample[i]);
	AOR_FREE(b);
}

TEST(binding_expires_at_its_second_and_permanent_never_does)
{
	aor_binding_t b;

	memset(&b, 0, sizeof(b));
	b.expires = 1000;
	ASSERT_EQ(aor_binding_expired(&b, 999), 0);
	ASSERT_EQ(aor_binding_left(&b, 999), 1);
	ASSERT_EQ(aor_binding_expired(&b, 1000), 1);
	ASSERT_EQ(aor_binding_left(&b, 1000), 0);
	ASSERT_EQ(aor_binding_left(&b, 5000), 0);
	b.expires = 0;
	ASSERT_EQ(aor_binding_expired(&b, LONG_MAX), 0);
	ASSERT_EQ(aor_binding_left(&b, 1000), 0);
}

TEST(expires_abs_adds_and_clamps_absurd_values)
{
	time_t now = aor_test_now, big, max;

	ASSERT_EQ(aor_expires_abs(now, 3600), now + 3600);
	ASSERT_EQ(aor_expires_abs(now, 0), now);
	ASSERT_EQ(aor_expires_abs(now, -5), now);
	/* 2^32 does not wrap like a 32-bit value would */
	ASSERT_EQ(aor_expires_abs(now, 1LL << 32), now + (1LL << 32));
	max = aor_expires_abs(now, LLONG_MAX);
	ASSERT_GT(max, now);
	ASSERT_GT(max, now + (1LL << 40));
	/* clamped well below the end of time_t: adding a day cannot overflow */
	ASSERT_LE(max, LLONG_MAX - 86400);
	ASSERT_EQ(aor_expires_abs(now, LLONG_MAX - 1), max);
	ASSERT_EQ(aor_expires_abs(now, 1LL << 62), max);
	/* monotonic: a larger interval never gives an earlier time */
	big = aor_expires_abs(now, (1LL << 62) - now - 1);
	ASSERT_LE(big, max);
	ASSERT_EQ(aor_expires_abs(max, LLONG_MAX), max);
}

TEST(ruid_formats_and_parses_back)
{
	static const uint64_t ids[] = {
			0, 1, 0x0123456789abcdefull, 0xfedcba9876543210ull, UINT64_MAX};
	char buf[AOR_RUID_LEN + 1];
	uint64_t id;
	unsigned i;
	str s;

	for(i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		memset(buf, '#', sizeof(buf));
		ASSERT_EQ(aor_ruid_fmt(ids[i], buf), AOR_RUID_LEN);
		ASSERT_EQ(buf[AOR_RUID_LEN], '\0');
		s.s = buf;
		s.len = AOR_RUID_LEN;
		id = 42;
		ASSERT_EQ(aor_ruid_parse(&s, &id), 0);
		ASSERT(id == ids[i]);
	}
	aor_ruid_fmt(0x0123456789abcdefull, buf);
	ASSERT_STR_EQ(STR_C(buf), "aor-0123456789abcdef");
}

TEST(ruid_parse_refuses_what_fmt_does_not_make)
{
	static const char *const bad[] = {
			"",
			"aor-",
			"aor-0123456789abcde",	 /* short */
			"aor-0123456789abcdef0", /* long */
			"aox-0123456789abcdef",
			"AOR-0123456789abcdef",
			"aor-0123456789abcdeg",
			"aor-0123456789abcde ",
			"aor--123456789abcdef",
			"0123456789abcdef0123",
	};
	uint64_t id = 42;
	unsigned i;
	str s;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = STR_C(bad[i]);
		if(aor_ruid_parse(&s, &id) != -1)
			UNIT_FAIL("ruid \"%s\" was accepted", bad[i]);
	}
	ASSERT_EQ(id, 42);
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}
