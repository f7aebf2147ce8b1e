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

#include "aor_mod.h"
#include "events.h"

#define TICKS_PER_SEC 10
#define RESIZE_BUDGET 8192	   /* old slots drained per tick */
#define EXPIRE_MAX_BLOCKS 1024 /* blocks of slots swept per tick, at most */
#define EXPIRE_EVENTS_BATCH 64 /* expired events run by this many */

/* called for each expired binding after its slot lock is released: the
 * script events may run here, in batches below the pending bound */
static void on_expired(const aor_binding_t *b, void *arg)
{
	int *pending = arg;

	aor_event_expired(b, NULL);
	if(++*pending >= EXPIRE_EVENTS_BATCH) {
		aor_events_run();
		*pending = 0;
	}
}

static void expire_slice(aor_table_t *t, time_t now)
{
	uint32_t blocks;
	int pending = 0;

	blocks = (aor_table_size(t) >> AOR_HINT_LOG2)
					 / (aor_params.timer_interval * TICKS_PER_SEC)
			 + 1;
	if(blocks > EXPIRE_MAX_BLOCKS)
		blocks = EXPIRE_MAX_BLOCKS;
	/* bounded: blocks * AOR_HINT_SLOTS slots, each under its own lock;
	 * blocks where nothing has expired are passed over without a lock */
	aor_table_expire_step(t, blocks, now, on_expired, &pending);
	if(pending > 0)
		aor_events_run();
}

void aor_timer_tick(unsigned int ticks, void *param)
{
	aor_table_t *t;
	time_t now = aor_now();

	for(t = aor_tables(); t; t = t->next) {
		aor_table_maint(t, RESIZE_BUDGET);
		expire_slice(t, now);
	}
}
