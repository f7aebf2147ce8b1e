/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The SQL location table through Kamailio's DB API, as usrloc's db_mode:
 * 0 memory only, 1 write-through, 2 write-back, 4 load only (3, usrloc's
 * DB-only mode, runs as 1: see the admin guide). The table and its
 * columns are usrloc's location schema version 9, so that stock usrloc,
 * kamctl and SQL read what we write, and we load what stock wrote.
 *
 * Writes come from the change journal: a subscriber copies every change
 * (of origin local, RPC or peer) into a bounded queue in shm; one writer
 * process of its own drains it in order, in transactions, with no slot
 * lock held and never on a SIP worker. An outage keeps the changes queued
 * (counted, retried with backoff) and replays them in order. In mode 1 the
 * worker that queued a REGISTER's changes waits, holding no lock, until
 * the writer has made them durable, the database is known down, or
 * db_sync_timeout passes; then it replies.
 */

#ifndef AOR_DB_H
#define AOR_DB_H

#include "../../core/str.h"
#include "params.h"
#include "store.h"


/* mod_init: checks the parameters, binds the driver, checks the version
 * table, makes the shared queue and subscribes to the journal. Tables
 * that exist already are loaded from the database (db_load); later ones
 * when they are made (aor_db_table). Returns 0 or -1 (logged). */
int aor_db_init(void);

/* A table was just made (before the fork): loads its rows when the
 * database is in use. Returns 0 or -1 (logged). */
int aor_db_table(aor_table_t *t);

/* 1 when the tables were loaded from the database at start-up (the
 * snapshot file is then not read: the database is the newer copy). */
int aor_db_loaded(void);

/* Timer processes the database needs (0 or 1), for register_basic_timers
 * in mod_init, after aor_db_init. */
int aor_db_timers(void);

/* child_init(PROC_MAIN): forks the writer. Returns 0 or -1. */
int aor_db_child_init(void);

/* db_mode 1: waits (no lock held) until the changes this process queued
 * are durable, the database is down, or db_sync_timeout has passed. Call
 * after a save() applied and before its reply. db_mode 3: AOR_E_DB when a
 * write of this process failed since the last call (the reply is then an
 * error: the database is the store), else 0. */
int aor_db_sync_(void);
static inline int aor_db_sync(void)
{
	/* the hot path pays one test when no database waits or fails */
	return aor_params.db_mode == 1 || aor_params.db_mode == 3
				   ? aor_db_sync_()
				   : 0;
}

/* db_mode 3: the bindings the database holds for key, read now, replace
 * what t holds of key (before save(), lookup(), registered()). 0, or
 * AOR_E_DB when the database did not answer (nothing changed), or
 * AOR_E_NOMEM. Other modes: 0 at once. */
int aor_db_pull_(aor_table_t *t, const str *key);
static inline int aor_db_pull(aor_table_t *t, const str *key)
{
	return aor_params.db_mode == 3 ? aor_db_pull_(t, key) : 0;
}

/* mod_destroy: the writer is gone; writes what stayed queued (one try,
 * as stock flushes db_mode 2 at shutdown) and reports what could not be. */
void aor_db_destroy(void);

/* the figures of the queue (the aor:db_* counters) */
typedef struct aor_db_stat
{
	unsigned long queued, written, dropped, rejected, outages, timeouts;
	int down;
	long backlog_max;
} aor_db_stat_t;
int aor_db_stat(aor_db_stat_t *st);

#endif /* AOR_DB_H */
