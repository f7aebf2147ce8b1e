/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The maintenance timer, in a process of its own: every 100 ms it drains a
 * bounded number of slots of a table that is growing, and removes expired
 * bindings from a slice of slots so that the whole table is swept once per
 * timer_interval; the blocks of slots where nothing has expired yet cost a
 * read each (store.h, AOR_HINT_SLOTS). Lookups never return an expired
 * binding meanwhile.
 */

#include "expire.h"
#include "events.h"
#include "keepalive.h"
#include "ops.h"
#include "params.h"
#include "tcp.h"

#define TICKS_PER_SEC 10
#define RESIZE_BUDGET 8192	   /* old slots drained per tick */
#define EXPIRE_MAX_BLOCKS 1024 /* blocks of slots swept per tick, at most */

static void expire_slice(aor_table_t *t, time_t now)
{
	uint32_t blocks;

	blocks = (aor_table_size(t) >> AOR_HINT_LOG2)
					 / (aor_params.timer_interval * TICKS_PER_SEC)
			 + 1;
	if(blocks > EXPIRE_MAX_BLOCKS)
		blocks = EXPIRE_MAX_BLOCKS;
	/* bounded: blocks * AOR_HINT_SLOTS slots, each under its own lock;
	 * blocks where nothing has expired are passed over without a lock;
	 * the expired events of each slot run after its unlock */
	aor_table_expire_step(t, blocks, now);
}

void aor_timer_tick(unsigned int ticks, void *param)
{
	aor_table_t *t;
	time_t now = aor_now();

	aor_events_timer_context(1);
	/* use_expired_contacts: an expired binding stays one timer_interval,
	 * for lookup() to use, as stock usrloc's timer leaves it up to one */
	if(aor_params.use_expired_contacts)
		now -= aor_params.timer_interval;
	for(t = aor_tables(); t; t = t->next) {
		aor_table_maint(t, RESIZE_BUDGET);
		expire_slice(t, now);
	}
	aor_tcp_tick();
	aor_ka_tick();
	aor_events_timer_context(0);
}
