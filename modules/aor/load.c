/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Start-up loads (load.h).
 */

#include <string.h>
#include <time.h>

#include "../../core/dprint.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/socket_info.h"

#include "errors.h"
#include "load.h"
#include "ops.h"
#include "params.h"

#define NOSOCK_LOG_MAX 5  /* bindings without their socket logged by name */
#define SHM_RESERVE_MIN_DIV 16 /* the load leaves at least 1/16 of shm */

static void *sock_of(struct aor_load *ld, const aor_binding_in_t *in)
{
	str s = in->f[AOR_F_SOCK];
	struct socket_info *si;

	if(s.len == 0)
		return NULL;
	si = lookup_local_socket(&s);
	if(si == NULL && ld->nosock++ < NOSOCK_LOG_MAX)
		LM_WARN("%s: binding %.*s of %.*s was received on %.*s, which "
				"is not a listening socket now; %s\n",
				ld->what, in->f[AOR_F_URI].len, in->f[AOR_F_URI].s, in->f[AOR_F_AOR].len,
				in->f[AOR_F_AOR].s, s.len, s.s,
				aor_params.skip_remote_socket ? "dropped (skip_remote_socket)"
											  : "kept, sent by routing");
	return si;
}

void aor_load_begin(struct aor_load *ld, const char *what)
{
	memset(ld, 0, sizeof(*ld));
	ld->what = what;
	ld->now = aor_now();
	ld->reserve = aor_limits.shm_reserve;
	if(ld->reserve < shm_mem_size / SHM_RESERVE_MIN_DIV)
		ld->reserve = shm_mem_size / SHM_RESERVE_MIN_DIV;
}

int aor_load_binding(
		const str *table, const aor_binding_in_t *in, struct aor_load *ld)
{
	aor_binding_in_t x = *in;
	aor_binding_t *b;
	aor_table_t *t;
	int r;

	ld->id = 0;
	if(x.expires != 0 && x.expires <= ld->now) {
		ld->expired++;
		return 0;
	}
	/* a table name the module refuses (logged): the load stops and the
	 * file is kept aside whole */
	if((t = aor_table_get(table)) == NULL)
		return AOR_E_NOT_FOUND;
	if(aor_limits.max_bindings
			&& aor_atomic_get(&t->bindings) >= (long)aor_limits.max_bindings)
		return AOR_E_TABLE_FULL;
	/* a file from a larger server must not starve the modules and workers
	 * that start after this one: shm_reserve, and never less than 1/16 */
	if(shm_available() < ld->reserve)
		return AOR_E_NOMEM;
	x.hash = aor_hash(&x.f[AOR_F_AOR]);
	x.sock = sock_of(ld, &x);
	/* skip_remote_socket: as stock usrloc's load from the database, a
	 * binding received on a socket this server no longer listens on is
	 * dropped */
	if(x.sock == NULL && x.f[AOR_F_SOCK].len > 0
			&& aor_params.skip_remote_socket) {
		ld->remote++;
		return 0;
	}
	if((b = aor_binding_new(&x)) == NULL)
		return AOR_E_NOMEM;
	r = aor_ops_restore(t, b, AOR_ORIG_LOAD);
	if(r != 0)
		shm_free(b);
	if(r < 0)
		return r;
	/* the id the binding has now (a new one when in had none): only this
	 * process runs yet, nobody else can have removed it */
	ld->id = r == 0 ? b->id : x.id;
	ld->dups += r;
	/* grow as it fills (only this process runs yet): bounded per call */
	aor_table_maint(t, 64);
	return 0;
}

long aor_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000
		   + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}
