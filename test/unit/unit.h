/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The unit test harness, included once by each test_<file>.c: TEST(name)
 * registers a test, the ASSERT macros print file:line and end the failing
 * test, and unit_run() runs the tests (all, or those whose name contains
 * argv[1]) printing one "ok name" or "not ok name" line each and a closing
 * "# unit: N passed, N failed" line that run.sh adds up. It also defines the
 * clock the pure files read under -DAOR_UNIT_TEST (sys.h).
 */

#ifndef AOR_UNIT_H
#define AOR_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNIT_MAX_TESTS 256

/* seconds since the epoch as the pure files see it; tests move it */
time_t aor_test_now = 1700000000;
/* free shared memory as the pure files see it (sys.h aor_mem_free) */
unsigned long aor_test_mem_free = (unsigned long)-1;

typedef void (*unit_fn)(void);

static struct
{
	const char *name;
	unit_fn fn;
} unit_tests[UNIT_MAX_TESTS];
static int unit_ntests;
static int unit_failed; /* the running test has failed */

static inline void unit_register(const char *name, unit_fn fn)
{
	if(unit_ntests == UNIT_MAX_TESTS) {
		fprintf(stderr, "unit.h: more than %d tests\n", UNIT_MAX_TESTS);
		abort();
	}
	unit_tests[unit_ntests].name = name;
	unit_tests[unit_ntests].fn = fn;
	unit_ntests++;
}

/* Defines and registers test name (registered in source order, before
 * main runs). */
#define TEST(name)                                                 \
	static void name(void);                                        \
	__attribute__((constructor)) static void unit_reg_##name(void) \
	{                                                              \
		unit_register(#name, name);                                \
	}                                                              \
	static void name(void)

#define UNIT_FAIL(...)                                  \
	do {                                                \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                   \
		fputc('\n', stderr);                            \
		unit_failed = 1;                                \
		return;                                         \
	} while(0)

/* Each ASSERT ends the test (returns from the calling function) when it
 * fails; use them in the test body or in void helpers whose caller checks
 * unit_failed. */
#define ASSERT(c)                                  \
	do {                                           \
		if(!(c))                                   \
			UNIT_FAIL("assertion failed: %s", #c); \
	} while(0)

#define ASSERT_INT_OP(a, op, b)                                               \
	do {                                                                      \
		long long unit_a = (long long)(a), unit_b = (long long)(b);           \
		if(!(unit_a op unit_b))                                               \
			UNIT_FAIL("%s %s %s: %lld vs %lld", #a, #op, #b, unit_a, unit_b); \
	} while(0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)

#define ASSERT_PTR_EQ(a, b)                                          \
	do {                                                             \
		const void *unit_p = (a), *unit_q = (b);                     \
		if(unit_p != unit_q)                                         \
			UNIT_FAIL("%s == %s: %p vs %p", #a, #b, unit_p, unit_q); \
	} while(0)

/* a str (or anything with .s and .len) against a C string */
#define ASSERT_STR_EQ(st, cs)                                                \
	do {                                                                     \
		str unit_s = (st);                                                   \
		const char *unit_c = (cs);                                           \
		if(unit_s.len != (int)strlen(unit_c)                                 \
				|| memcmp(unit_s.s, unit_c, unit_s.len) != 0)                \
			UNIT_FAIL("%s == \"%s\": got \"%.*s\"", #st, unit_c, unit_s.len, \
					unit_s.s);                                               \
	} while(0)

/* propagates a failure out of a helper called by a test */
#define ASSERT_OK_SO_FAR() \
	do {                   \
		if(unit_failed)    \
			return;        \
	} while(0)

/* a str over a NUL-terminated C string (not copied) */
#define STR_C(cs) ((str){(char *)(cs), (int)strlen(cs)})

/* Runs the registered tests (those whose name contains filter, all when
 * it is NULL). Returns the exit status: 0 when all passed, 1 otherwise. */
static inline int unit_run(const char *filter)
{
	int i, passed = 0, failed = 0;

	for(i = 0; i < unit_ntests; i++) {
		if(filter && strstr(unit_tests[i].name, filter) == NULL)
			continue;
		unit_failed = 0;
		fflush(stdout);
		unit_tests[i].fn();
		printf("%s %s\n", unit_failed ? "not ok" : "ok", unit_tests[i].name);
		fflush(stdout);
		if(unit_failed)
			failed++;
		else
			passed++;
	}
	printf("# unit: %d passed, %d failed\n", passed, failed);
	/* before LeakSanitizer's exit handler, which does not flush stdio */
	fflush(stdout);
	return failed ? 1 : 0;
}

#endif /* AOR_UNIT_H */
