/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The hash of an AoR key that picks its slot and lock: SipHash-1-3
 * (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) under
 * a 128-bit key drawn at each start (unless modparam hash_key fixes it,
 * for tests), so that whoever chooses AoR names cannot choose them to share
 * a slot. Nothing persisted depends on it: the snapshot stores AoR
 * strings and the load hashes them again.
 */

#ifndef AOR_HASH_H
#define AOR_HASH_H

#include <stddef.h>
#include <stdint.h>
#include "../../core/str.h"

#define AOR_HASH_KEY_LEN 16

/* Sets the process-wide key (16 bytes, k0 then k1, each little-endian as
 * in the paper). Call it in mod_init, before the fork: the key is a static
 * that every worker inherits, and all must hash alike. Until it (or
 * aor_hash_init_random) is called the key is a fixed one, which the unit
 * tests and fuzz targets rely on to be deterministic. Not thread-safe
 * against concurrent aor_hash calls. */
void aor_hash_init(const unsigned char key[AOR_HASH_KEY_LEN]);

/* Sets a random key: 16 bytes from getrandom(), else from /dev/urandom,
 * else (logged with a warning) mixed from the time, the pid and a stack
 * address, which is still unknown to a client but not secret from a local
 * user. Same rules as aor_hash_init. */
void aor_hash_init_random(void);

/* Fills k with 16 random bytes as aor_hash_init_random draws them (the
 * fallback logged with what, the name of the key). */
void aor_hash_random_key(unsigned char k[AOR_HASH_KEY_LEN], const char *what);

/* SipHash-1-3 of the bytes s..s+len under k (16 bytes), all 64 bits. */
uint64_t aor_siphash13(
		const unsigned char k[AOR_HASH_KEY_LEN], const void *s, size_t len);

/* splitmix64's finalizer: spreads the bits of x over all 64 */
static inline uint64_t aor_mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Hash of an AoR key under the process key: the low 32 bits of its
 * SipHash-1-3. The store compares it before the bytes. */
uint32_t aor_hash(const str *aor);

#endif /* AOR_HASH_H */
