/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * modparam preload (stock usrloc's name): tables made at start-up, before
 * the fork, so that KEMI scripts (which have no fixups), the RPC commands
 * and the snapshot file find them although no save()/lookup() names them.
 */

#ifndef AOR_PRELOAD_H
#define AOR_PRELOAD_H

#include "../../core/sr_module.h"

/* The modparam's setter (PARAM_STRING | PARAM_USE_FUNC): remembers one
 * table name, up to AOR_PRELOAD_MAX of them, as stock does. Returns 0, or
 * -1 when there are too many (logged, naming the parameter). */
int aor_preload_param(modparam_t type, void *val);

/* Makes each remembered table (mod_init, after aor_ops_init and before the
 * snapshot is loaded). Returns 0, or -1 for a name a table cannot have
 * (logged, naming the parameter and the value). */
int aor_preload_tables(void);

#endif /* AOR_PRELOAD_H */
