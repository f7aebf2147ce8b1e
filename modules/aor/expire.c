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
 * timer_interval. Lookups never return an expired binding meanwhile.
 */

#include "aor_mod.h"
#include "events.h"

#define TICKS_PER_SEC 10
#define RESIZE_BUDGET 8192	   /* old slots drained per tick */
#define EXPIRE_MAX_SLOTS 65536 /* slots swept per tick, at most */

static void expire_slice(aor_table_t *t, time_t now)
{
	uint32_t size = aor_table_size(t), n, i;

	n = size / (aor_params.timer_interval * TICKS_PER_SEC) + 1;
	if(n > EXPIRE_MAX_SLOTS)
		n = EXPIRE_MAX_SLOTS;
	/* bounded: n slots, each under its own lock for one chain */
	for(i = 0; i < n; i++) {
		if(t->expire_pos >= size)
			t->expire_pos = 0;
		if(aor_table_expire_slot(
				   t, t->expire_pos++, now, aor_event_expired, NULL)
				> 0)
			aor_events_run();
	}
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
