/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * Replication over Kamailio's DMQ (modparam replicate): a journal
 * subscriber queues every change of origin local or RPC (a natural expiry
 * aside: each node decides those from the replicated absolute expiry) in
 * shm; the "aor repl" process sends them to every peer in batches
 * (replfmt.h), runs the full sync of a starting node (it asks ONE peer;
 * a donor sends its table in bounded batches, a window of them in flight)
 * and anti-entropy (digests of every id range, once per
 * repl_ae_interval; a range that differs twice in a row is pushed to the
 * peer, tombstones included). Peers' changes are applied by the dmq
 * workers with origin peer, by version (store.h: aor_rec_put/_drop), and
 * never sent again.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 */

#ifndef AOR_REPL_H
#define AOR_REPL_H

#include "../../core/rpc.h"
#include "store.h"

/* mod_init, before any table: binds dmq, the queue, the subscriber, the
 * counters. 0 or -1 (logged). Nothing when replicate is 0. */
int aor_repl_init(void);

/* A table was made: its digests and tombstones (and its id residue). */
int aor_repl_table(aor_table_t *t);

/* Timer processes it needs (register_basic_timers). */
int aor_repl_timers(void);

/* child_init(PROC_MAIN): forks the "aor repl" process. */
int aor_repl_child_init(void);

extern rpc_export_t aor_repl_rpc_cmds[];

#endif /* AOR_REPL_H */
