/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Keepalive of registered contacts, as stock usrloc's ka_mode: a SIP
 * request (OPTIONS) to each binding once per timer_interval, its answer
 * recorded in the binding (ka_last, ka_rtt), a binding silent for
 * ka_timeout expired.
 */

#ifndef AOR_KEEPALIVE_H
#define AOR_KEEPALIVE_H

#include "../../core/parser/msg_parser.h"
#include "binding.h"

/* Prepares the keepalive (ka_logmsg parsed) in mod_init. 0 or -1 (the
 * error logged). */
int aor_ka_init(void);

/* One 100 ms step of the maintenance process: the next 1/(10
 * timer_interval) of the slots of every table, their bindings copied out
 * under each slot's lock into a bounded buffer, the requests built and
 * sent after the unlock. Nothing when ka_mode is 0. */
void aor_ka_tick(void);

/* ka_down_after: keeps in v[0..n) the bindings that answered a keepalive
 * (or registered) within ka_down_after seconds of now, in order; returns
 * how many. All of them when ka_mode or ka_down_after is 0 (stock). */
int aor_ka_up_filter(aor_binding_t **v, int n, time_t now);

/* The module's response hook: a reply to one of our keepalives updates
 * its binding and returns 0 (the core drops it); any other reply returns
 * 1 (the core goes on with it). */
int aor_ka_reply(struct sip_msg *msg);

#endif /* AOR_KEEPALIVE_H */
