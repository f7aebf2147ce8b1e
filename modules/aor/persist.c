/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Persistence glue (see persist.h): the snapshot loaded into shared memory
 * at start-up, with sockets resolved and expired bindings dropped; the
 * writer timer, the shutdown snapshot and RPC aor.snapshot, one writer at
 * a time; the counters snapshot_writes, snapshot_failures and
 * snapshot_loaded.
 */

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../core/counters.h"
#include "../../core/globals.h"
#include "../../core/pt.h"
#include "../../core/sr_module.h"
#include "../../core/socket_info.h"
#include "../../core/timer_proc.h"

#include "ops.h"
#include "params.h"
#include "errors.h"
#include "load.h"
#include "persist.h"
#include "rpc.h"
#include "snapshot.h"


/* shared by every process */
struct persist_state
{
	int busy;	   /* a writer is running */
	int frozen;	   /* the file could be neither read nor moved aside */
	long writes;   /* snapshots written */
	long failures; /* snapshots that failed */
	long loaded;   /* bindings loaded at start-up */
};

static struct persist_state *state;
static int started; /* main process: Kamailio got as far as forking */

static int enabled(void)
{
	return aor_params.snapshot_file != NULL
		   && aor_params.snapshot_file[0] != '\0';
}

/* ------------------------------------------------------------------ */
/* loading                                                            */

static int load_one(const str *table, const aor_binding_in_t *in, void *arg)
{
	return aor_load_binding(table, in, arg);
}


/* the file can be neither read nor moved aside: writing would destroy
 * what it holds, so no snapshot is written until the operator acts */
static void freeze(const char *path, const char *why)
{
	state->frozen = 1;
	LM_ERR("snapshot %s: cannot be read (%s) nor moved aside (%s); starting "
		   "empty and writing NO snapshot, so that the file is not lost: "
		   "move or fix it and restart\n",
			path, why, strerror(errno));
}

static void load(void)
{
	const char *path = aor_params.snapshot_file;
	aor_snapshot_report_t rep;
	struct aor_load ld;
	struct timespec t0;
	char aside[4096];
	int r;

	aor_load_begin(&ld, "snapshot");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = aor_snapshot_load(path, load_one, &ld, &rep);
	if(r == AOR_E_NOT_FOUND) {
		LM_INFO("snapshot %s: no file yet, starting empty\n", path);
		return;
	}
	if(r == AOR_E_INTERNAL) {
		/* not loaded: never let a later snapshot replace it */
		if(aor_snapshot_move_aside(path, ld.now, aside, sizeof(aside)) == 0)
			LM_ERR("snapshot %s: cannot be read (%s); starting empty, the "
				   "file was moved to %s\n",
					path, rep.what, aside);
		else
			freeze(path, rep.what);
		return;
	}
	rep.bindings -= ld.expired + ld.dups + ld.remote;
	state->loaded = rep.bindings;
	if(r == 0) {
		LM_INFO("snapshot %s: loaded %ld bindings in %ld ms (%ld expired "
				"dropped, %ld kept without their socket)\n",
				path, rep.bindings, aor_ms_since(&t0), ld.expired, ld.nosock);
		return;
	}
	/* not whole: keep the file for the operator, load what was read */
	if(aor_snapshot_move_aside(path, ld.now, aside, sizeof(aside)) < 0) {
		snprintf(aside, sizeof(aside),
				"nowhere (rename failed: %s; no snapshot will be written "
				"over it)",
				strerror(errno));
		state->frozen = 1;
	}
	LM_ERR("snapshot %s: %s (line %d); recovered %ld bindings from the "
		   "readable part (%ld registrations skipped, %ld expired dropped, "
		   "%ld kept without their socket); the file was moved to %s\n",
			path, rep.what, rep.line, rep.bindings, rep.skipped, ld.expired,
			ld.nosock, aside);
}

/* ------------------------------------------------------------------ */
/* writing                                                            */

/* Writes a snapshot now unless another writer runs (force: the shutdown,
 * when no other process is left). Returns 0, 1 when busy, or the error. */
static int write_now(int force, aor_snapshot_stat_t *st, long *ms)
{
	struct timespec t0;
	int expect = 0, r;

	if(state->frozen) {
		LM_ERR("snapshot %s: not written: the file found at start-up could "
			   "be neither read nor moved aside (see the start-up log)\n",
				aor_params.snapshot_file);
		aor_atomic_add(&state->failures, 1);
		return AOR_E_INTERNAL;
	}
	if(!__atomic_compare_exchange_n(
			   &state->busy, &expect, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)
			&& !force)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = aor_snapshot_write(
			aor_params.snapshot_file, aor_tables(), aor_now(), st);
	*ms = aor_ms_since(&t0);
	aor_atomic_add(r == 0 ? &state->writes : &state->failures, 1);
	__atomic_store_n(&state->busy, 0, __ATOMIC_RELEASE);
	return r;
}

static void snapshot_tick(unsigned int ticks, void *param)
{
	aor_snapshot_stat_t st;
	long ms;

	if(write_now(0, &st, &ms) == 0)
		LM_DBG("snapshot %s: %ld bindings, %ld bytes in %ld ms\n",
				aor_params.snapshot_file, st.bindings, st.bytes, ms);
}

static counter_val_t cnt_get(counter_handle_t h, void *p)
{
	return aor_atomic_get((long *)p);
}

static int counters_init(void)
{
	counter_handle_t h;

	if(counter_register(&h, "aor", "snapshot_writes", CNT_F_NO_RESET, cnt_get,
			   &state->writes, "snapshot files written",
			   0) < 0
			|| counter_register(&h, "aor", "snapshot_failures", CNT_F_NO_RESET,
					   cnt_get, &state->failures,
					   "snapshot writes that failed (the previous file kept)",
					   0)
					   < 0
			|| counter_register(&h, "aor", "snapshot_loaded", CNT_F_NO_RESET,
					   cnt_get, &state->loaded,
					   "bindings loaded from the snapshot at start-up", 0)
					   < 0) {
		LM_ERR("cannot register the snapshot counters\n");
		return -1;
	}
	return 0;
}

/* modparam snapshot_file names a file (not a directory) in a directory
 * that exists and that Kamailio may write: else nothing could ever be
 * saved, so the module refuses to load */
static int path_check(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat st;
	size_t n;

	if(stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		LM_ERR("modparam snapshot_file=\"%s\" is a directory\n", path);
		return -1;
	}
	n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
	if(n >= sizeof(dir)) {
		LM_ERR("modparam snapshot_file=\"%s\" is too long\n", path);
		return -1;
	}
	memcpy(dir, n ? path : ".", n ? n : 1);
	dir[n ? n : 1] = '\0';
	if(access(dir, W_OK | X_OK) < 0) {
		LM_ERR("modparam snapshot_file=\"%s\": directory %s is not "
			   "writable: %s\n",
				path, dir, strerror(errno));
		return -1;
	}
	return 0;
}

int aor_persist_init(int skip_load)
{
	aor_table_t *t;

	state = shm_malloc(sizeof(*state));
	if(state == NULL) {
		SHM_MEM_ERROR_FMT("%zu bytes\n", sizeof(*state));
		return -1;
	}
	memset(state, 0, sizeof(*state));
	if(counters_init() < 0)
		return -1;
	if(!enabled())
		return 0;
	if(path_check(aor_params.snapshot_file) < 0)
		return -1;
	if(aor_params.snapshot_file[0] != '/')
		LM_WARN("modparam snapshot_file=\"%s\" is relative to Kamailio's "
				"working directory\n",
				aor_params.snapshot_file);
	/* the database is written per change, the file every interval: the
	 * newer copy wins */
	if(skip_load)
		LM_NOTICE("snapshot %s: not read, the bindings were loaded from the "
				  "database (db_mode %d); the file is still written\n",
				aor_params.snapshot_file, aor_params.db_mode);
	else
		load();
	/* the load's own resize holds, before any other process exists,
	 * blocked nobody: aor.stats reports the holds from the start on */
	for(t = aor_tables(); t; t = t->next)
		aor_table_hold_reset(t);
	return 0;
}

int aor_persist_timers(void)
{
	return enabled() && aor_params.snapshot_interval > 0 ? 1 : 0;
}

int aor_persist_child_init(void)
{
	started = 1;
	if(!aor_persist_timers())
		return 0;
	/* its own process: a slow disk never stalls expiry or SIP workers */
	if(fork_basic_timer(PROC_TIMER, "aor snapshot", 1, snapshot_tick, NULL,
			   aor_params.snapshot_interval)
			< 0) {
		LM_ERR("cannot start the aor snapshot timer\n");
		return -1;
	}
	return 0;
}

void aor_persist_destroy(void)
{
	aor_snapshot_stat_t st;
	aor_table_t *t;
	long ms;

	if(!started || !enabled() || state == NULL)
		return;
	/* the children are gone: a writer killed mid-file left only the
	 * temporary file, which this write replaces; a process killed while it
	 * held a slot lock left that lock taken */
	for(t = aor_tables(); t; t = t->next)
		aor_table_unlock_all(t);
	if(write_now(1, &st, &ms) == 0)
		LM_INFO("snapshot %s: %ld bindings of %ld AoRs saved at shutdown in "
				"%ld ms\n",
				aor_params.snapshot_file, st.bindings, st.aors, ms);
}

/* ------------------------------------------------------------------ */
/* RPC                                                                */

static const char *aor_rpc_snapshot_doc[2] = {
		"Writes the snapshot file now; returns the file, AoRs, bindings, "
		"bytes and milliseconds taken",
		0};

static void aor_rpc_snapshot(rpc_t *rpc, void *c)
{
	aor_snapshot_stat_t st;
	long ms;
	void *h;
	int r;

	if(aor_rpc_no_extra(rpc, c, "aor.snapshot") < 0)
		return;
	if(!enabled()) {
		rpc->fault(c, 500, "Persistence is off (modparam snapshot_file)");
		return;
	}
	r = write_now(0, &st, &ms);
	if(r == 1) {
		rpc->fault(c, 503, "A snapshot is being written, try again");
		return;
	}
	if(r < 0) {
		rpc->fault(c, 500, "Snapshot failed (see the log); previous kept");
		return;
	}
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "sdddd", "file", aor_params.snapshot_file, "aors",
			(int)st.aors, "bindings", (int)st.bindings, "bytes",
			(int)(st.bytes > INT_MAX ? INT_MAX : st.bytes), "ms", (int)ms);
}

/* clang-format off */
rpc_export_t aor_persist_rpc_cmds[] = {
	{"aor.snapshot", aor_rpc_snapshot, aor_rpc_snapshot_doc, 0},
	{0, 0, 0, 0}
};
/* clang-format on */
