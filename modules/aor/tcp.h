/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * handle_lost_tcp and close_expired_tcp, as stock usrloc has them: a
 * binding whose TCP/TLS/WS connection closed is removed (as expired, like
 * stock's timer does), and the connection of a binding that expired is
 * closed. An index in shared memory maps each connection id to the
 * bindings that came on it; a journal subscriber keeps it. A closed
 * connection is learnt from the core's TCP-closed event when no other
 * module (tcpops) holds that single callback, and in any case from a
 * bounded sweep of the index by the maintenance timer (the whole index
 * once per timer_interval); lookup() and registered() skip a binding whose
 * connection is gone meanwhile, as stock's get_urecord does.
 */

#ifndef AOR_TCP_H
#define AOR_TCP_H

#include "binding.h"

/* The index, its subscriber and counters when handle_lost_tcp or
 * close_expired_tcp is set and TCP is enabled; mod_init, after the params
 * check, before the fork. Returns 0 or -1. */
int aor_tcp_init(void);

/* child_init(PROC_INIT), after every module's mod_init: takes the core's
 * TCP-closed event unless another module holds it. Returns 0. */
int aor_tcp_child_init(void);

/* One step of the maintenance timer: removes the bindings of the
 * connections known closed, and sweeps a slice of the index. */
void aor_tcp_tick(void);

/* With handle_lost_tcp, drops from v the bindings whose connection is
 * gone (and queues their removal); returns how many are left. */
int aor_tcp_alive_filter(aor_binding_t **v, int n);

/* Frees the index (mod_destroy). */
void aor_tcp_destroy(void);

#endif /* AOR_TCP_H */
