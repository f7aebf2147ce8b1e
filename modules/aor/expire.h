/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The maintenance timer: bounded resize and expiry steps.
 */

#ifndef AOR_EXPIRE_H
#define AOR_EXPIRE_H


/* One 100 ms step over every table (a sync timer's callback). */
void aor_timer_tick(unsigned int ticks, void *param);

#endif /* AOR_EXPIRE_H */
