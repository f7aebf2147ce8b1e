/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Counters in group "aor" (kamcmd stats.get_statistics aor:, xhttp_prom):
 * per-process event counts, and per-table gauges read from the store.
 */

#ifndef AOR_STATS_H
#define AOR_STATS_H

#include "../../core/counters.h"
#include "store.h"

enum aor_stat
{
	AOR_ST_ACCEPTED,
	AOR_ST_REJECTED,
	AOR_ST_REJ_BAD_REQUEST,
	AOR_ST_REJ_TOO_BRIEF,
	AOR_ST_REJ_CSEQ,
	AOR_ST_REJ_TOO_MANY,
	AOR_ST_REJ_TABLE_FULL,
	AOR_ST_REJ_NOMEM,
	AOR_ST_EXPIRED,
	AOR_ST_EVICTED,
	AOR_ST_LOOKUP_FOUND,
	AOR_ST_LOOKUP_NOT_FOUND,
	AOR_ST_REJ_UNSUPPORTED,
	AOR_ST_KA_SENT,
	AOR_ST_KA_ANSWERED,
	AOR_ST_KA_FAILED,
	AOR_ST_KA_TIMEOUT,
	AOR_ST_KA_DOWN_SKIPPED,
	AOR_ST_COUNT
};

extern counter_handle_t aor_cnt[AOR_ST_COUNT];

/* Registers the counters; mod_init, before the fork. Returns 0 or -1. */
int aor_stats_init(void);

/* Registers the gauges of table t (<name>_aors, <name>_bindings,
 * <name>_shm_bytes); before the fork. Returns 0 or -1. */
int aor_stats_table(aor_table_t *t);

static inline void aor_stat_add(enum aor_stat s, int n)
{
	counter_add(aor_cnt[s], n);
}

/* counts a refused REGISTER under its reason (an AOR_E_*) */
void aor_stat_rejected(int err);

#endif /* AOR_STATS_H */
