/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The seam between the pure logic and its host. Inside Kamailio it maps
 * allocation to shared memory, locks to a Kamailio lock set and logging to
 * LM_*; built with -DAOR_UNIT_TEST it maps them to libc and pthreads so that
 * the pure files (store, binding, merge, reginfo) link without Kamailio.
 */

#ifndef AOR_SYS_H
#define AOR_SYS_H

#include <stddef.h>
#include <time.h>

#ifdef AOR_UNIT_TEST

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define AOR_ALLOC(n) malloc(n)
#define AOR_FREE(p) free(p)
#define AOR_PKG_REALLOC(p, n) realloc((p), (n))
#define AOR_PKG_FREE(p) free(p)
/* per process in Kamailio; per thread in the tests, which run workers as
 * threads */
#define AOR_LOCAL __thread
#define AOR_LOG_ERR(fmt, ...) fprintf(stderr, "ERR: " fmt, ##__VA_ARGS__)
#define AOR_LOG_WARN(fmt, ...) fprintf(stderr, "WARN: " fmt, ##__VA_ARGS__)
#define AOR_LOG_DBG(fmt, ...) \
	do {                      \
	} while(0)
#define AOR_LOG_CRIT(fmt, ...) fprintf(stderr, "CRIT: " fmt, ##__VA_ARGS__)

typedef struct aor_lockset
{
	unsigned int n;
	pthread_mutex_t m[];
} aor_lockset_t;

static inline aor_lockset_t *aor_lockset_new(unsigned int n)
{
	aor_lockset_t *s;
	unsigned int i;

	s = malloc(sizeof(*s) + n * sizeof(pthread_mutex_t));
	if(s == NULL)
		return NULL;
	s->n = n;
	for(i = 0; i < n; i++)
		pthread_mutex_init(&s->m[i], NULL);
	return s;
}

static inline void aor_lockset_free(aor_lockset_t *s)
{
	unsigned int i;

	for(i = 0; i < s->n; i++)
		pthread_mutex_destroy(&s->m[i]);
	free(s);
}

#define aor_lockset_get(s, i) pthread_mutex_lock(&(s)->m[(i)])
#define aor_lockset_release(s, i) pthread_mutex_unlock(&(s)->m[(i)])

/* The tests run workers as threads: buffers a thread keeps in AOR_LOCAL
 * variables are freed by fn when it ends. Call with a key made once
 * (pthread_once) by the caller's file. */
static inline void aor_local_at_exit(pthread_key_t key, void (*fn)(void))
{
	if(pthread_getspecific(key) == NULL)
		pthread_setspecific(key, (void *)fn);
}

static inline void aor_local_run(void *fn)
{
	((void (*)(void))fn)();
}

/* Defines local_track() for the file: each thread that calls it has fn
 * called when it ends (fn frees the thread's AOR_LOCAL buffers). */
#define AOR_LOCAL_CLEANUP(fn)                                   \
	static pthread_key_t local_key_;                            \
	static pthread_once_t local_once_ = PTHREAD_ONCE_INIT;      \
	static void local_key_make_(void)                           \
	{                                                           \
		pthread_key_create(&local_key_, aor_local_run);         \
	}                                                           \
	static inline void local_track(void)                        \
	{                                                           \
		pthread_once(&local_once_, local_key_make_);            \
		aor_local_at_exit(local_key_, fn);                      \
	}

/* unit tests move the clock themselves, and set the free memory */
extern time_t aor_test_now;
extern unsigned long aor_test_mem_free;
static inline unsigned long aor_mem_free(void)
{
	return aor_test_mem_free;
}

static inline time_t aor_now(void)
{
	return aor_test_now;
}

#else /* inside Kamailio */

#include "../../core/mem/shm_mem.h"
#include "../../core/locking.h"
#include "../../core/dprint.h"

#include "../../core/mem/pkg.h"

#define AOR_ALLOC(n) shm_malloc(n)
#define AOR_FREE(p) shm_free(p)
#define AOR_PKG_REALLOC(p, n) pkg_realloc((p), (n))
#define AOR_PKG_FREE(p) pkg_free(p)
#define AOR_LOCAL
/* processes, not threads: their buffers live as long as they do */
#define AOR_LOCAL_CLEANUP(fn)            \
	static inline void local_track(void) \
	{                                    \
	}
#define AOR_LOG_ERR(fmt, ...) LM_ERR(fmt, ##__VA_ARGS__)
#define AOR_LOG_WARN(fmt, ...) LM_WARN(fmt, ##__VA_ARGS__)
#define AOR_LOG_DBG(fmt, ...) LM_DBG(fmt, ##__VA_ARGS__)
#define AOR_LOG_CRIT(fmt, ...) LM_CRIT(fmt, ##__VA_ARGS__)

typedef gen_lock_set_t aor_lockset_t;

static inline aor_lockset_t *aor_lockset_new(unsigned int n)
{
	gen_lock_set_t *s;

	s = lock_set_alloc(n);
	if(s == NULL)
		return NULL;
	if(lock_set_init(s) == NULL) {
		lock_set_dealloc(s);
		return NULL;
	}
	return s;
}

static inline void aor_lockset_free(aor_lockset_t *s)
{
	lock_set_destroy(s);
	lock_set_dealloc(s);
}

#define aor_lockset_get(s, i) lock_set_get((s), (i))
#define aor_lockset_release(s, i) lock_set_release((s), (i))

static inline time_t aor_now(void)
{
	return time(NULL);
}

/* bytes of shared memory free, all processes together */
static inline unsigned long aor_mem_free(void)
{
	return shm_available_safe();
}

#endif /* AOR_UNIT_TEST */

/* A warning about client input would be logged once per request: at most
 * one per process every AOR_WARN_EVERY seconds is, with how many were
 * left out since (the counters count them all). */
#define AOR_WARN_EVERY 10

typedef struct aor_ratelimit
{
	time_t last;
	unsigned long quiet;
} aor_ratelimit_t;

/* 1 when a warning may be logged at now (*quiet: how many were not since
 * the last one), 0 when this one is only counted. Per process. */
static inline int aor_ratelimit_ok(
		aor_ratelimit_t *rl, time_t now, unsigned long *quiet)
{
	if(rl->last != 0 && now - rl->last < AOR_WARN_EVERY) {
		rl->quiet++;
		return 0;
	}
	*quiet = rl->quiet;
	rl->last = now;
	rl->quiet = 0;
	return 1;
}

/* AOR_LOG_WARN at most every AOR_WARN_EVERY seconds per process and call
 * site; fmt ends without a newline: the count of the left out follows */
#define AOR_WARN_LIMITED(fmt, ...)                                       \
	do {                                                                 \
		static aor_ratelimit_t rl_;                                      \
		unsigned long q_;                                                \
		if(aor_ratelimit_ok(&rl_, aor_now(), &q_))                       \
			AOR_LOG_WARN(fmt " (%lu more since the last such warning)\n", \
					##__VA_ARGS__, q_);                                  \
	} while(0)

/* counters shared between processes: plain words updated atomically */
#define aor_atomic_add(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define aor_atomic_get(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define aor_atomic_set(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define aor_atomic_load_acq(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

#endif /* AOR_SYS_H */
