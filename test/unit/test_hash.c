/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Unit tests of hash.c: SipHash-1-3 against published vectors and against
 * a second, independent implementation; the key changes the hash; and 20,000
 * AoRs built to share one slot under the former unkeyed hash (FNV-1a and a
 * murmur3 finalizer) cost a REGISTER no more than random ones do.
 */

#include <stdint.h>

#include "unit.h"
#include "sys.h"
#include "store.h"
#include "hash.h"
#include "ops.h"

/* SipHash-1-3, key all zeros, message 00 01 02 ... of length 0 to 63:
 * the vectors OCaml's runtime tests its hash with (testsuite/tests/hash/
 * sip13.ml), computed with the reference code of github.com/veorq/SipHash;
 * the first is also Rust's DefaultHasher of nothing */
static const uint64_t sip13_zero_key[64] = {0xd1fba762150c532cull,
		0x68a914128e01e473ull, 0x010bac45c41e3669ull, 0x4d4c9a4a8ef6e0adull,
		0x7cc43f98813e4dbdull, 0x5abe2169dff36275ull, 0xe3c25f87624f1cdbull,
		0x2f098ab0c751325aull, 0xead411e67ebe2eeaull, 0x75927f9d95124362ull,
		0xaf9f77a65ab51a1dull, 0xfe64ce8b6617fcffull, 0xa6baf4fb0f9fe1c2ull,
		0xa0cf3211850f8e0dull, 0x7f86049379fbfe67ull, 0xf30eb725bb91c9eaull,
		0x8972188433a5c5b7ull, 0x4883c49a2c009c1dull, 0xadc2c0b63044067dull,
		0x091f4a3329f87d19ull, 0x639e355ae68c0100ull, 0xb17bef2cb5213239ull,
		0xf8aeb1066236ccfeull, 0x37332b1389daa4ffull, 0x31185a47af932f3aull,
		0xebf352e82ae23e2full, 0xed36ff242fe478b2ull, 0x2454d97d299299dfull,
		0x8cd57fe8130d0ac7ull, 0xbe98eb2faf0a0e85ull, 0xd427c34ee09470c6ull,
		0x169739443111d49bull, 0x31ef8061c910629bull, 0x7fb71d24dfa4c9f6ull,
		0x92771f49e836d389ull, 0x3c393cf6f0853bc3ull, 0xac77921fcc642bd3ull,
		0x422a9751192ff266ull, 0xc680ae8a8c584ddfull, 0x6c76b6d34bb6d26bull,
		0x95bc321ab41d8206ull, 0x908a3a97a6d37669ull, 0xfcaf3c64874dd0b4ull,
		0xf689479b32b84a44ull, 0xd857641079efd1fdull, 0x8b581578722633f7ull,
		0x83cb09d35ea7bcd4ull, 0x8485f7f5ae725a0dull, 0xfe1f2445ba50237full,
		0x23cece041d7866b0ull, 0x416687480b336c09ull, 0xf15960da7e7f3892ull,
		0xded6177b9826835aull, 0xf80dae51668be6beull, 0x17ecc6ee6647df18ull,
		0x5220d642b4a52110ull, 0xa4f0cf4ba4adc016ull, 0xe5125bb26d1f2976ull,
		0x851b0e75f580d256ull, 0x12605250a37e39acull, 0xd95a713568daebf1ull,
		0xcdcf4a42ec0dd605ull, 0xa5c708712b617164ull, 0x385d3e39e5f37359ull};

/* SipHash-2-4, key 00 01 .. 0f, message 00 01 .. of length 0 to 15: the
 * paper's appendix A and the reference code's vectors.h */
static const uint64_t sip24_paper_key[16] = {0x726fdb47dd0e0e31ull,
		0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
		0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull,
		0xab0200f58b01d137ull, 0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull,
		0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull, 0x751e8fbc860ee5fbull,
		0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull};

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

/* A second SipHash-c-d, written apart from hash.c and shaped after the
 * paper's description rather than for speed: the message is first padded
 * into a buffer (zeros, then the length byte) and then eaten a word at a
 * time, with c and d as parameters so that the SipHash-2-4 vectors check
 * it before it is trusted to check hash.c's SipHash-1-3. */
static uint64_t ref_siphash(int c, int d, const unsigned char k[16],
		const unsigned char *m, size_t len)
{
	unsigned char buf[128];
	uint64_t k0 = 0, k1 = 0, v0, v1, v2, v3, w;
	size_t n = len / 8 + 1, i, j;
	int r;

	for(i = 0; i < 8; i++) {
		k0 |= (uint64_t)k[i] << (8 * i);
		k1 |= (uint64_t)k[8 + i] << (8 * i);
	}
	memset(buf, 0, sizeof(buf));
	memcpy(buf, m, len);
	buf[8 * n - 1] = (unsigned char)len;
	v0 = k0 ^ 0x736f6d6570736575ull;
	v1 = k1 ^ 0x646f72616e646f6dull;
	v2 = k0 ^ 0x6c7967656e657261ull;
	v3 = k1 ^ 0x7465646279746573ull;
	for(i = 0; i < n + 1; i++) {
		w = 0;
		if(i < n)
			for(j = 0; j < 8; j++)
				w |= (uint64_t)buf[8 * i + j] << (8 * j);
		else
			v2 ^= 0xff;
		v3 ^= (i < n) ? w : 0;
		for(r = 0; r < (i < n ? c : d); r++) {
			v0 += v1;
			v2 += v3;
			v1 = ROTL(v1, 13);
			v3 = ROTL(v3, 16);
			v1 ^= v0;
			v3 ^= v2;
			v0 = ROTL(v0, 32);
			v2 += v1;
			v0 += v3;
			v1 = ROTL(v1, 17);
			v3 = ROTL(v3, 21);
			v1 ^= v2;
			v3 ^= v0;
			v2 = ROTL(v2, 32);
		}
		v0 ^= (i < n) ? w : 0;
	}
	return v0 ^ v1 ^ v2 ^ v3;
}

static const unsigned char test_key[16] = {0x5a, 0x17, 0xc3, 0x88, 0x02, 0x9e,
		0x41, 0xd6, 0x7b, 0x30, 0xe5, 0x6f, 0x12, 0xa9, 0xcc, 0x04};

TEST(siphash13_matches_the_published_vectors)
{
	unsigned char k[16], m[64];
	int i;

	memset(k, 0, sizeof(k));
	for(i = 0; i < 64; i++)
		m[i] = (unsigned char)i;
	for(i = 0; i < 64; i++)
		if(aor_siphash13(k, m, i) != sip13_zero_key[i])
			UNIT_FAIL("length %d: %016llx, expected %016llx", i,
					(unsigned long long)aor_siphash13(k, m, i),
					(unsigned long long)sip13_zero_key[i]);
}

TEST(siphash13_matches_an_independent_implementation_under_a_key)
{
	unsigned char k[16], m[100];
	int i;

	for(i = 0; i < 16; i++)
		k[i] = (unsigned char)i;
	for(i = 0; i < 100; i++)
		m[i] = (unsigned char)i;
	/* the reference is right on a non-zero key, for every tail length */
	for(i = 0; i < 16; i++)
		ASSERT_EQ(ref_siphash(2, 4, k, m, i), sip24_paper_key[i]);
	/* and on the zero-key SipHash-1-3 vectors */
	memset(k, 0, sizeof(k));
	for(i = 0; i < 64; i++)
		ASSERT_EQ(ref_siphash(1, 3, k, m, i), sip13_zero_key[i]);
	/* then hash.c agrees with it under other keys and messages */
	for(i = 0; i < 100; i++)
		m[i] = (unsigned char)(i * 7 + 3);
	for(i = 0; i <= 100; i++) {
		ASSERT_EQ(aor_siphash13(test_key, m, i),
				ref_siphash(1, 3, test_key, m, i));
		k[i % 16] = (unsigned char)(k[i % 16] * 31 + i + 1);
		ASSERT_EQ(aor_siphash13(k, m, i), ref_siphash(1, 3, k, m, i));
	}
}

TEST(aor_hash_is_the_low_word_of_siphash13_under_the_process_key)
{
	str a = STR_C("sip:alice@example.com");

	aor_hash_init(test_key);
	ASSERT_EQ(aor_hash(&a), (uint32_t)aor_siphash13(test_key, a.s, a.len));
	a.len = 0;
	ASSERT_EQ(aor_hash(&a), (uint32_t)aor_siphash13(test_key, "", 0));
}

TEST(different_keys_give_different_hashes)
{
	unsigned char k2[16];
	char aor[32];
	uint32_t h1[1000];
	int i, same = 0, same_slot = 0, differs = 0;
	str a;

	memcpy(k2, test_key, sizeof(k2));
	k2[15] ^= 1; /* one bit of the key */
	aor_hash_init(test_key);
	for(i = 0; i < 1000; i++) {
		snprintf(aor, sizeof(aor), "u%d@example.com", i);
		a = STR_C(aor);
		h1[i] = aor_hash(&a);
	}
	aor_hash_init(k2);
	for(i = 0; i < 1000; i++) {
		snprintf(aor, sizeof(aor), "u%d@example.com", i);
		a = STR_C(aor);
		same += aor_hash(&a) == h1[i];
		same_slot += (aor_hash(&a) & 1023) == (h1[i] & 1023);
	}
	ASSERT_EQ(same, 0);
	/* about one in 1,024 by chance; an unkeyed slot index would give 1000 */
	ASSERT_LT(same_slot, 10);
	/* a random key moves the hash too (fails once in 2^32 runs) */
	for(i = 0; i < 4; i++) {
		a = STR_C("u0@example.com");
		aor_hash_init_random();
		differs += aor_hash(&a) != h1[0];
	}
	ASSERT_GE(differs, 3);
	aor_hash_init(test_key);
}

/* The slot hash before hash.c: FNV-1a, then a murmur3 finalizer. */
static uint32_t old_fnv(uint32_t h, const char *p, int n)
{
	int i;

	for(i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t old_fin(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static uint32_t old_hash(const str *aor)
{
	return old_fin(old_fnv(2166136261u, aor->s, aor->len));
}

#define NKEYS 20000
#define STAGES 15 /* 2^15 = 32,768 keys to pick NKEYS from */
#define BLOCK 6	  /* characters per stage */
#define BODY (1 + STAGES * BLOCK)
#define KEY_LEN (BODY + 12) /* "u" + the blocks + "@example.com" */
#define FIND_LOG2 19		/* the table of one stage's birthday search */

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* The idx-th block a stage tries. Every character varies with idx:
 * counting in base 36 leaves the last ones fixed, and FNV-1a over four
 * varying characters gave no collision in 2^18 tries. */
static void block_of(uint32_t idx, char *out)
{
	uint64_t x = (idx + 1) * 0x9e3779b97f4a7c15ull;
	int i;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	for(i = 0; i < BLOCK; i++, x /= 36)
		out[i] = alnum[x % 36];
}

/* Finds two blocks that take FNV-1a from state s to the same state (a
 * birthday search, about 2^16 tries). Returns 0, or -1 when none. */
static int find_pair(uint32_t s, uint32_t *st, uint32_t *ix, char *a, char *b)
{
	uint32_t mask = (1u << FIND_LOG2) - 1, idx, h, i;
	char blk[BLOCK];

	memset(ix, 0, sizeof(uint32_t) << FIND_LOG2);
	for(idx = 0; idx < (1u << (FIND_LOG2 - 1)); idx++) {
		block_of(idx, blk);
		h = old_fnv(s, blk, BLOCK);
		for(i = old_fin(h) & mask; ix[i]; i = (i + 1) & mask) {
			if(st[i] != h)
				continue;
			block_of(ix[i] - 1, a);
			if(memcmp(a, blk, BLOCK) == 0)
				break; /* the same block again */
			memcpy(b, blk, BLOCK);
			return 0;
		}
		if(ix[i])
			continue;
		st[i] = h;
		ix[i] = idx + 1;
	}
	return -1;
}

/* Fills keys (NKEYS of KEY_LEN bytes) with distinct AoRs that all have
 * the same old_hash, all 32 bits (so they share a slot at any table size):
 * Joux's multicollision. A pair of blocks that collide from the state of
 * "u" chains into a pair that collide from there, and so on; any choice of
 * one block per stage then ends in the same state, and so does the suffix
 * that follows. Needs no key of hash.c: an attacker could do this. */
static int colliding_keys(char *keys)
{
	char pair[STAGES][2][BLOCK];
	uint32_t *st, *ix, s = old_fnv(2166136261u, "u", 1);
	int i, j, rc = 0;
	char *k;

	st = malloc(sizeof(uint32_t) << FIND_LOG2);
	ix = malloc(sizeof(uint32_t) << FIND_LOG2);
	for(j = 0; j < STAGES && st && ix && rc == 0; j++) {
		rc = find_pair(s, st, ix, pair[j][0], pair[j][1]);
		s = old_fnv(s, pair[j][0], BLOCK);
	}
	if(st == NULL || ix == NULL)
		rc = -1;
	free(st);
	free(ix);
	for(i = 0; i < NKEYS && rc == 0; i++) {
		k = keys + (size_t)i * KEY_LEN;
		k[0] = 'u';
		for(j = 0; j < STAGES; j++)
			memcpy(k + 1 + j * BLOCK, pair[j][(i >> j) & 1], BLOCK);
		memcpy(k + BODY, "@example.com", 12);
	}
	return rc;
}

/* NKEYS AoRs of the same shape and length, from a fixed xorshift seed */
static void random_keys(char *keys)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char *k;
	int i, j;

	for(i = 0; i < NKEYS; i++) {
		k = keys + (size_t)i * KEY_LEN;
		k[0] = 'u';
		for(j = 1; j < BODY; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			k[j] = alnum[x % 36];
		}
		memcpy(k + BODY, "@example.com", 12);
	}
}

static str key_at(char *keys, int i)
{
	str s = {keys + (size_t)i * KEY_LEN, KEY_LEN};

	return s;
}

static double ns_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1e9 + (b.tv_nsec - a->tv_nsec);
}

/* Registers the first n keys (one binding each) into a new table of the
 * default 2^10 slots, hashed by hf, with a maintenance step every 100
 * REGISTERs as the timer would take, then lets the resize finish. NULL on
 * failure. */
static aor_table_t *fill(char *keys, int n, uint32_t (*hf)(const str *))
{
	str name = STR_C("location");
	aor_table_t *t = aor_table_new(&name, 10);
	aor_binding_in_t in;
	aor_rec_t rec;
	int i, dup = 0;

	for(i = 0; t && i < n; i++) {
		memset(&in, 0, sizeof(in));
		in.f[AOR_F_AOR] = key_at(keys, i);
		in.f[AOR_F_URI] = STR_C("sip:u@192.0.2.1");
		in.f[AOR_F_CALLID] = STR_C("call-1");
		in.hash = hf(&in.f[AOR_F_AOR]);
		in.modified = aor_test_now;
		in.q = AOR_Q_UNSPEC;
		aor_table_lock(t, in.hash);
		dup += aor_table_find(t, in.hash, &in.f[AOR_F_AOR], &rec) != 0;
		aor_rec_add(&rec, aor_binding_new(&in));
		aor_table_unlock(t, in.hash);
		if(i % 100 == 99)
			aor_table_maint(t, 64);
	}
	while(t && aor_table_maint(t, 1024) != 0)
		;
	if(t && dup) {
		aor_table_free(t);
		return NULL;
	}
	return t;
}

/* The mean number of chain links a find of each AoR of t walks (its
 * position in its slot's chain, the first being 1), counted from the chains
 * themselves. The resize is over: there is no old array. */
static double mean_links(aor_table_t *t)
{
	aor_gen_t *g = t->gen;
	const aor_binding_t *b, *prev;
	long links = 0, recs = 0, pos;
	uint32_t i;
	str x, y;

	for(i = 0; i <= g->mask; i++) {
		prev = NULL;
		for(pos = 1, b = g->slots[i]; b; prev = b, b = b->next, pos++) {
			x = aor_binding_get(b, AOR_F_AOR);
			if(prev) {
				y = aor_binding_get(prev, AOR_F_AOR);
				if(x.len == y.len && memcmp(x.s, y.s, x.len) == 0)
					continue; /* the same record's run */
			}
			links += pos;
			recs++;
		}
	}
	return recs ? (double)links / recs : 0;
}

/* What mean_links would count for the keys hashed by hf in a table of
 * slots slots (a power of two): a slot holding k AoRs costs 1 + .. + k. */
static double model_links(
		char *keys, uint32_t (*hf)(const str *), uint32_t slots)
{
	uint32_t *k = calloc(slots, sizeof(uint32_t));
	long links = 0;
	str a;
	int i;

	if(k == NULL)
		return -1;
	for(i = 0; i < NKEYS; i++) {
		a = key_at(keys, i);
		links += ++k[hf(&a) & (slots - 1)];
	}
	free(k);
	return (double)links / NKEYS;
}

/* ns per find of the first n keys (lock, find, unlock, as save does) */
static double ns_per_find(
		aor_table_t *t, char *keys, int n, uint32_t (*hf)(const str *))
{
	struct timespec ts;
	aor_rec_t rec;
	uint32_t h;
	int i, found = 0;
	str a;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	for(i = 0; i < n; i++) {
		a = key_at(keys, i);
		h = hf(&a);
		aor_table_lock(t, h);
		found += aor_table_find(t, h, &a, &rec);
		aor_table_unlock(t, h);
	}
	return found == n ? ns_since(&ts) / n : -1;
}

/* The cost of a REGISTER that the keys decide is the walk of the find: the
 * links counted here, deterministically, from the chains. The old hash's
 * table holds the first OLD_KEYS colliding keys only (filling it is
 * quadratic: 20,000 take 10 s under ASan); model_links gives the figure
 * for all 20,000, and is checked against the chains of the other tables. */
#define OLD_KEYS 2000

TEST(aors_chosen_to_collide_cost_a_register_what_random_ones_do)
{
	char *bad = malloc((size_t)NKEYS * KEY_LEN);
	char *rnd = malloc((size_t)NKEYS * KEY_LEN);
	aor_table_t *tb = NULL, *tr = NULL, *to = NULL;
	double lb, lr, lo, mo, nb, nr, no, search;
	struct timespec ts;
	str a, b;
	int i;

	ASSERT(bad != NULL && rnd != NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ASSERT_EQ(colliding_keys(bad), 0);
	search = ns_since(&ts);
	random_keys(rnd);
	a = key_at(bad, 0);
	for(i = 1; i < NKEYS; i++) {
		b = key_at(bad, i);
		ASSERT_EQ(old_hash(&b), old_hash(&a)); /* all 32 bits, not just 20 */
	}
	aor_hash_init(test_key);
	tb = fill(bad, NKEYS, aor_hash);
	tr = fill(rnd, NKEYS, aor_hash);
	to = fill(bad, OLD_KEYS, old_hash);
	if(tb == NULL || tr == NULL || to == NULL)
		UNIT_FAIL("cannot fill the tables (duplicate AoR or no memory)");
	ASSERT_EQ(aor_table_size(tb), aor_table_size(tr));
	lb = mean_links(tb);
	lr = mean_links(tr);
	lo = mean_links(to);
	mo = model_links(bad, old_hash, aor_table_size(tb));
	ASSERT(model_links(bad, aor_hash, aor_table_size(tb)) == lb);
	ASSERT(model_links(rnd, aor_hash, aor_table_size(tr)) == lr);
	nb = ns_per_find(tb, bad, NKEYS, aor_hash);
	nr = ns_per_find(tr, rnd, NKEYS, aor_hash);
	no = ns_per_find(to, bad, OLD_KEYS, old_hash);
	printf("# %d AoRs, %u slots: links per find %.3f colliding, %.3f random; "
		   "old hash %.1f (%.1f for the first %d in %u slots); "
		   "ns per find %.0f, %.0f, old %.0f; search %.0f ms\n",
			NKEYS, aor_table_size(tb), lb, lr, mo, lo, OLD_KEYS,
			aor_table_size(to), nb, nr, no, search / 1e6);
	ASSERT(nb > 0 && nr > 0 && no > 0);
	ASSERT(lb <= 1.5 * lr);
	ASSERT(mo > 100 * lr);
	ASSERT(lo > 100 * lr);
	aor_table_free(tb);
	aor_table_free(tr);
	aor_table_free(to);
	free(bad);
	free(rnd);
}

int main(int argc, char **argv)
{
	return unit_run(argc > 1 ? argv[1] : NULL);
}
