/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Counters in group "aor" (see stats.h).
 */

#include <stdio.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../core/mem/mem.h"

#include "errors.h"
#include "journal.h"
#include "stats.h"

counter_handle_t aor_cnt[AOR_ST_COUNT];

/* clang-format off */
static counter_def_t aor_cnt_defs[] = {
	{&aor_cnt[AOR_ST_ACCEPTED], "accepted_regs", 0, 0, 0,
		"REGISTER requests accepted"},
	{&aor_cnt[AOR_ST_REJECTED], "rejected_regs", 0, 0, 0,
		"REGISTER requests refused, all reasons"},
	{&aor_cnt[AOR_ST_REJ_BAD_REQUEST], "rejected_bad_request", 0, 0, 0,
		"REGISTER refused as malformed (400)"},
	{&aor_cnt[AOR_ST_REJ_TOO_BRIEF], "rejected_too_brief", 0, 0, 0,
		"REGISTER refused with 423 Interval Too Brief"},
	{&aor_cnt[AOR_ST_REJ_CSEQ], "rejected_cseq", 0, 0, 0,
		"REGISTER refused: CSeq not above the stored one"},
	{&aor_cnt[AOR_ST_REJ_TOO_MANY], "rejected_max_contacts", 0, 0, 0,
		"REGISTER refused: max_contacts reached"},
	{&aor_cnt[AOR_ST_REJ_TABLE_FULL], "rejected_max_bindings", 0, 0, 0,
		"REGISTER refused: max_bindings reached"},
	{&aor_cnt[AOR_ST_REJ_NOMEM], "rejected_no_memory", 0, 0, 0,
		"REGISTER refused: shared memory exhausted"},
	{&aor_cnt[AOR_ST_REJ_UNSUPPORTED], "rejected_unsupported", 0, 0, 0,
		"REGISTER refused by the RFC 3261 8.2 UAS checks (405, 415, 420, 482)"},
	{&aor_cnt[AOR_ST_EXPIRED], "expired_bindings", 0, 0, 0,
		"bindings removed because they expired"},
	{&aor_cnt[AOR_ST_EVICTED], "evicted_bindings", 0, 0, 0,
		"bindings evicted by the max_contacts policy"},
	{&aor_cnt[AOR_ST_LOOKUP_FOUND], "lookups_found", 0, 0, 0,
		"lookup() calls that found a binding"},
	{&aor_cnt[AOR_ST_LOOKUP_NOT_FOUND], "lookups_not_found", 0, 0, 0,
		"lookup() calls that found none"},
	{&aor_cnt[AOR_ST_KA_SENT], "keepalives_sent", 0, 0, 0,
		"keepalive requests sent (ka_mode)"},
	{&aor_cnt[AOR_ST_KA_ANSWERED], "keepalives_answered", 0, 0, 0,
		"replies to keepalive requests received"},
	{&aor_cnt[AOR_ST_KA_FAILED], "keepalives_failed", 0, 0, 0,
		"keepalive requests not sent: no destination, no socket, or a "
		"send error"},
	{&aor_cnt[AOR_ST_KA_TIMEOUT], "keepalive_timeouts", 0, 0, 0,
		"bindings silent for ka_timeout, set to expire in 10 s"},
	{&aor_cnt[AOR_ST_KA_DOWN_SKIPPED], "keepalive_down_skipped", 0, 0, 0,
		"bindings lookup() passed over, silent for ka_down_after"},
	{0, 0, 0, 0, 0, 0}
};
/* clang-format on */

/* the journal subscriber: the counters of the kinds of change */
static void on_change(const aor_jchange_t *c, void *arg)
{
	if(c->kind == AOR_CH_EXPIRED)
		counter_inc(aor_cnt[AOR_ST_EXPIRED]);
	else if(c->kind == AOR_CH_EVICTED)
		counter_inc(aor_cnt[AOR_ST_EVICTED]);
}

static counter_val_t get_lost(counter_handle_t h, void *p)
{
	return (counter_val_t)aor_journal_lost();
}

int aor_stats_init(void)
{
	aor_subscriber_t sub = {"stats", on_change, NULL, NULL, 0,
			AOR_KIND(AOR_CH_EXPIRED) | AOR_KIND(AOR_CH_EVICTED)};
	counter_handle_t h;

	if(counter_register_array("aor", aor_cnt_defs) < 0
			|| counter_register(&h, "aor", "journal_lost", CNT_F_NO_RESET,
					   get_lost, NULL,
					   "changes the journal could not record (no process "
					   "memory); 0 unless something is badly wrong",
					   0)
					   < 0) {
		LM_ERR("cannot register the aor counters\n");
		return -1;
	}
	if(aor_journal_subscribe(&sub) < 0) {
		LM_ERR("cannot subscribe the counters to the journal\n");
		return -1;
	}
	return 0;
}

static counter_val_t gauge_aors(counter_handle_t h, void *p)
{
	return aor_atomic_get(&((aor_table_t *)p)->aors);
}

static counter_val_t gauge_bindings(counter_handle_t h, void *p)
{
	return aor_atomic_get(&((aor_table_t *)p)->bindings);
}

static counter_val_t gauge_mem(counter_handle_t h, void *p)
{
	return aor_atomic_get(&((aor_table_t *)p)->mem);
}

static int gauge(
		aor_table_t *t, const char *what, counter_cbk_f f, const char *doc)
{
	counter_handle_t h;
	char *name;
	int len;

	/* counters keep the name: one pkg string per gauge, for good */
	len = t->name.len + strlen(what) + 2;
	name = pkg_malloc(len);
	if(name == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	snprintf(name, len, "%.*s_%s", t->name.len, t->name.s, what);
	if(counter_register(&h, "aor", name, CNT_F_NO_RESET, f, t, doc, 0) < 0) {
		LM_ERR("cannot register counter aor:%s\n", name);
		return -1;
	}
	return 0;
}

int aor_stats_table(aor_table_t *t)
{
	if(gauge(t, "aors", gauge_aors, "AoRs with at least one binding") < 0
			|| gauge(t, "bindings", gauge_bindings, "bindings") < 0
			|| gauge(t, "shm_bytes", gauge_mem,
					   "shared memory held by the table's bindings and "
					   "slots (bytes, allocator overhead excluded)")
					   < 0)
		return -1;
	return 0;
}

void aor_stat_rejected(int err)
{
	enum aor_stat s;

	switch(err) {
		case AOR_E_TOO_BRIEF:
			s = AOR_ST_REJ_TOO_BRIEF;
			break;
		case AOR_E_CSEQ:
			s = AOR_ST_REJ_CSEQ;
			break;
		case AOR_E_TOO_MANY:
			s = AOR_ST_REJ_TOO_MANY;
			break;
		case AOR_E_TABLE_FULL:
			s = AOR_ST_REJ_TABLE_FULL;
			break;
		case AOR_E_NOMEM:
			s = AOR_ST_REJ_NOMEM;
			break;
		case AOR_E_METHOD:
		case AOR_E_MEDIA_TYPE:
		case AOR_E_BAD_EXTENSION:
		case AOR_E_MERGED:
			s = AOR_ST_REJ_UNSUPPORTED;
			break;
		case AOR_E_DB: /* counted by the aor:db_* counters */
			counter_inc(aor_cnt[AOR_ST_REJECTED]);
			return;
		default:
			s = AOR_ST_REJ_BAD_REQUEST;
	}
	counter_inc(aor_cnt[AOR_ST_REJECTED]);
	counter_inc(aor_cnt[s]);
}
