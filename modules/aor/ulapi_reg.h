/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * bind_registrar: Kamailio's registrar C API over save() and lookup().
 */

#ifndef AOR_ULAPI_REG_H
#define AOR_ULAPI_REG_H

#include "../registrar/api.h"

/* Fills api with every member. Returns 0, -1 when api is NULL. */
int aor_bind_registrar(registrar_api_t *api);

#endif /* AOR_ULAPI_REG_H */
