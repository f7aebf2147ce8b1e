/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Start-up loads (the snapshot file, persist.c; the database, db.c): one
 * binding at a time into its table, with the checks both make.
 */

#ifndef AOR_LOAD_H
#define AOR_LOAD_H

#include <stdint.h>
#include <time.h>
#include "../../core/str.h"
#include "binding.h"

/* A start-up load (the snapshot file, the database): what it skipped */
struct aor_load
{
	const char *what; /* "snapshot", "database": for the log */
	time_t now;
	unsigned long reserve; /* shm bytes the load leaves free */
	long expired;		   /* already expired: not loaded */
	long nosock;		   /* received on a socket not listened on now */
	long remote;		   /* of nosock, dropped (skip_remote_socket) */
	long dups;			   /* an id the table has already */
	uint64_t id;		   /* the id of the binding loaded last */
};

/* Starts a load: now, and the shm it must leave free (shm_reserve, and
 * never less than 1/16 of shm). */
void aor_load_begin(struct aor_load *ld, const char *what);

/* Loads one binding into the table named table (made when absent), from
 * mod_init: an expired one is counted and skipped, so is one received on a
 * socket gone when skip_remote_socket is set. Returns 0 (ld->id is its id
 * when loaded), AOR_E_NOT_FOUND (a table name refused), AOR_E_TABLE_FULL,
 * or AOR_E_NOMEM. */
int aor_load_binding(
		const str *table, const aor_binding_in_t *in, struct aor_load *ld);

/* milliseconds since t0 (CLOCK_MONOTONIC) */
long aor_ms_since(const struct timespec *t0);

#endif /* AOR_LOAD_H */
