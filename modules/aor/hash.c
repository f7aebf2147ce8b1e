/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * SipHash-1-3 under a per-start key (see hash.h), written from the paper:
 * one SipRound per 8-byte word of the message, three to finalize. Pure: no
 * SIP parser, no struct sip_msg.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "sys.h"
#include "hash.h"

/* the process key as two little-endian words; fixed until set (hash.h) */
static uint64_t key_k0 = 0x0706050403020100ull;
static uint64_t key_k1 = 0x0f0e0d0c0b0a0908ull;

typedef struct sip
{
	uint64_t v0, v1, v2, v3;
} sip_t;

static inline uint64_t rotl(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load64le(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16
		   | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40
		   | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void store64le(unsigned char *p, uint64_t v)
{
	int i;

	for(i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* SipRound, its steps in the paper's order */
static inline void sipround(sip_t *v)
{
	v->v0 += v->v1;
	v->v1 = rotl(v->v1, 13);
	v->v1 ^= v->v0;
	v->v0 = rotl(v->v0, 32);
	v->v2 += v->v3;
	v->v3 = rotl(v->v3, 16);
	v->v3 ^= v->v2;
	v->v0 += v->v3;
	v->v3 = rotl(v->v3, 21);
	v->v3 ^= v->v0;
	v->v2 += v->v1;
	v->v1 = rotl(v->v1, 17);
	v->v1 ^= v->v2;
	v->v2 = rotl(v->v2, 32);
}

/* one compression (c = 1) of word m */
static inline void compress(sip_t *v, uint64_t m)
{
	v->v3 ^= m;
	sipround(v);
	v->v0 ^= m;
}

static uint64_t sip13(
		uint64_t k0, uint64_t k1, const unsigned char *p, size_t len)
{
	sip_t v;
	uint64_t last = (uint64_t)len << 56; /* the length byte, mod 256 */
	size_t i, words = len / 8;

	v.v0 = k0 ^ 0x736f6d6570736575ull; /* "somepseu" */
	v.v1 = k1 ^ 0x646f72616e646f6dull; /* "dorandom" */
	v.v2 = k0 ^ 0x6c7967656e657261ull; /* "lygenera" */
	v.v3 = k1 ^ 0x7465646279746573ull; /* "tedbytes" */
	for(i = 0; i < words; i++)
		compress(&v, load64le(p + 8 * i));
	p += 8 * words;
	switch(len % 8) { /* the last bytes, little-endian */
		case 7:
			last |= (uint64_t)p[6] << 48;
			/* fall through */
		case 6:
			last |= (uint64_t)p[5] << 40;
			/* fall through */
		case 5:
			last |= (uint64_t)p[4] << 32;
			/* fall through */
		case 4:
			last |= (uint64_t)p[0] | (uint64_t)p[1] << 8
					| (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
			break;
		case 3:
			last |= (uint64_t)p[2] << 16;
			/* fall through */
		case 2:
			last |= (uint64_t)p[1] << 8;
			/* fall through */
		case 1:
			last |= (uint64_t)p[0];
			break;
		default:
			break;
	}
	compress(&v, last);
	/* finalization: d = 3 */
	v.v2 ^= 0xff;
	sipround(&v);
	sipround(&v);
	sipround(&v);
	return v.v0 ^ v.v1 ^ v.v2 ^ v.v3;
}

uint64_t aor_siphash13(
		const unsigned char k[AOR_HASH_KEY_LEN], const void *s, size_t len)
{
	return sip13(load64le(k), load64le(k + 8), s, len);
}

uint32_t aor_hash(const str *aor)
{
	return (uint32_t)sip13(
			key_k0, key_k1, (const unsigned char *)aor->s, (size_t)aor->len);
}

void aor_hash_init(const unsigned char key[AOR_HASH_KEY_LEN])
{
	key_k0 = load64le(key);
	key_k1 = load64le(key + 8);
}

/* 0 when all n bytes came from /dev/urandom */
static int key_urandom(unsigned char *k, size_t n)
{
	size_t got = 0;
	ssize_t r;
	int fd;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if(fd < 0)
		return -1;
	while(got < n) {
		r = read(fd, k + got, n - got);
		if(r < 0 && errno == EINTR)
			continue;
		if(r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == n ? 0 : -1;
}

static void key_clock(unsigned char *k)
{
	struct timespec ts;
	uint64_t a, b;

	clock_gettime(CLOCK_REALTIME, &ts);
	a = aor_mix64((uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40));
	b = aor_mix64(a ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts);
	store64le(k, a);
	store64le(k + 8, b);
}

void aor_hash_random_key(unsigned char k[AOR_HASH_KEY_LEN], const char *what)
{
	/* GRND_NONBLOCK: early in boot the pool may not be ready, and
	 * /dev/urandom then answers without waiting */
	if(getrandom(k, AOR_HASH_KEY_LEN, GRND_NONBLOCK) != AOR_HASH_KEY_LEN
			&& key_urandom(k, AOR_HASH_KEY_LEN) < 0) {
		AOR_LOG_WARN("no getrandom() nor /dev/urandom (%s): %s taken from "
					 "the time and pid\n",
				strerror(errno), what);
		key_clock(k);
	}
}

void aor_hash_init_random(void)
{
	unsigned char k[AOR_HASH_KEY_LEN];

	aor_hash_random_key(k, "slot hash key");
	aor_hash_init(k);
}
