/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Kamailio's registrar C API (registrar_api_t of modules/registrar/api.h)
 * over our save() and lookup(), for the modules that bind it with
 * find_export("bind_registrar"): tsilo (ts_append's lookup_to_dset), ...
 */

#include "../../core/dprint.h"
#include "../registrar/api.h"

#include "save.h"
#include "lookup.h"
#include "ops.h"
#include "ulapi_reg.h"

static int reg_save(sip_msg_t *msg, str *table, int flags)
{
	return ki_aor_save(msg, table, flags, NULL);
}

static int reg_save_uri(sip_msg_t *msg, str *table, int flags, str *uri)
{
	return ki_aor_save(msg, table, flags, uri);
}

static int reg_lookup(sip_msg_t *msg, str *table)
{
	return ki_aor_lookup(msg, table, NULL);
}

static int reg_lookup_uri(sip_msg_t *msg, str *table, str *uri)
{
	return ki_aor_lookup(msg, table, uri);
}

static int reg_lookup_to_dset(sip_msg_t *msg, str *table, str *uri)
{
	aor_table_t *t = aor_table_get(table);

	if(t == NULL) {
		LM_ERR("usrloc domain [%.*s] not found\n", table->len, table->s);
		return -1;
	}
	return aor_lookup_to_dset(msg, t, uri);
}

static int reg_registered(sip_msg_t *msg, str *table)
{
	return ki_aor_registered(msg, table, NULL);
}

/* stock's set_q_override: the q of the contacts of this request's save() */
static int reg_set_q_override(sip_msg_t *msg, str *new_q)
{
	return aor_save_set_q_override(msg, new_q);
}

int aor_bind_registrar(registrar_api_t *api)
{
	if(api == NULL) {
		LM_ERR("invalid parameter value\n");
		return -1;
	}
	api->save = reg_save;
	api->save_uri = reg_save_uri;
	api->lookup = reg_lookup;
	api->lookup_uri = reg_lookup_uri;
	api->lookup_to_dset = reg_lookup_to_dset;
	api->registered = reg_registered;
	api->set_q_override = reg_set_q_override;
	return 0;
}
