/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Persistence glue: the snapshot file (snapshot.h) loaded in mod_init,
 * written by a timer process of its own every snapshot_interval seconds,
 * once more at a clean shutdown, and on demand by RPC aor.snapshot.
 */

#ifndef AOR_PERSIST_H
#define AOR_PERSIST_H

#include "../../core/rpc.h"


/* Checks snapshot_file/snapshot_interval, sets up the shared state and
 * the counters, and loads the snapshot into the tables (creating those
 * it names) unless skip_load (the database loaded them). mod_init,
 * before the fork. Returns 0, or -1 (logged) only for
 * a bad parameter or no memory: a bad file never stops Kamailio. */
int aor_persist_init(int skip_load);

/* Timer processes persistence needs (0 or 1), for register_basic_timers
 * in mod_init; call after aor_persist_init. */
int aor_persist_timers(void);

/* child_init(PROC_MAIN): forks the snapshot writer. Returns 0 or -1. */
int aor_persist_child_init(void);

/* mod_destroy, before the tables are freed: the shutdown snapshot, when
 * Kamailio had started (not after a config check or a failed start). */
void aor_persist_destroy(void);

extern rpc_export_t aor_persist_rpc_cmds[];

#endif /* AOR_PERSIST_H */
