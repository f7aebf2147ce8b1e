/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Shared by the fuzz targets, included once by each fuzz_<name>.c: the
 * clock the pure files read under -DAOR_UNIT_TEST (sys.h), a check macro
 * that aborts (a crash to libFuzzer and to replay.c alike) and a reader
 * of the input as a stream of small decisions.
 */

#ifndef AOR_FUZZ_H
#define AOR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* seconds since the epoch as the pure files see it; targets move it */
time_t aor_test_now = 1700000000;
unsigned long aor_test_mem_free = (unsigned long)-1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a property of the code under test failed: report and crash */
#define CHECK(c)                                                             \
	do {                                                                     \
		if(!(c)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
					#c);                                                     \
			abort();                                                         \
		}                                                                    \
	} while(0)

/* the input read front to back; past its end every read is 0 */
typedef struct fuzz_in
{
	const uint8_t *p;
	size_t n;
} fuzz_in_t;

static inline unsigned int fuzz_byte(fuzz_in_t *in)
{
	if(in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* a number in 0..max-1 (max <= 256) */
static inline unsigned int fuzz_pick(fuzz_in_t *in, unsigned int max)
{
	return max ? fuzz_byte(in) % max : 0;
}

static inline uint32_t fuzz_u32(fuzz_in_t *in)
{
	uint32_t v = 0;
	int i;

	for(i = 0; i < 4; i++)
		v = v << 8 | fuzz_byte(in);
	return v;
}

#endif /* AOR_FUZZ_H */
