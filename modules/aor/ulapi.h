/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Kamailio's usrloc C API (usrloc_api_t of modules/usrloc/usrloc.h, as
 * 5.6 defines it) served by our store, for the modules that bind it with
 * find_export("ul_bind_usrloc"): nathelper, tsilo's registrar, dmq_usrloc,
 * pua_usrloc, pua_reginfo, ... A udomain_t * is our aor_table_t *; records
 * and contacts are not structs of the store, so they are materialized per
 * call in process memory (ulapi_rec.c, lifetimes in doc/aor_admin.xml).
 * ulapi_cb.c feeds register_ulcb's callbacks from the change journal.
 */

#ifndef AOR_ULAPI_H
#define AOR_ULAPI_H

#include "../usrloc/usrloc.h"
#include "binding.h"
#include "journal.h"

struct aor_table;

/* ul_bind_usrloc: fills api with every member. Returns 0, -1 when api is
 * NULL. */
int aor_ul_bind(usrloc_api_t *api);

/* Sets up what the API needs in shared memory (mod_init, before the
 * fork): the API locks and the journal subscriber of the callbacks.
 * Returns 0 or -1 (logged). */
int aor_ulapi_init(void);

/* Frees what aor_ulapi_init made (mod_destroy). */
void aor_ulapi_destroy(void);

/* ---- shared by ulapi.c, ulapi_rec.c and ulapi_cb.c ---- */

/* The table behind a udomain_t, or NULL. */
static inline struct aor_table *aor_ul_table(udomain_t *d)
{
	return (struct aor_table *)d;
}

/* Fills c (a ucontact_t the caller owns) from binding b: strings point
 * into b, and *aor into rec (or b's own AoR when aor is NULL); ruid into
 * rbuf (AOR_RUID_LEN + 1 bytes). flags are c->flags. */
void aor_ul_contact_fill(ucontact_t *c, const aor_binding_t *b, str *aor,
		str *domain, char *rbuf, unsigned int flags);

/* The last sign of life of b, stock's last_keepalive: its last REGISTER,
 * or a later answer to a keepalive (keepalive.c, refresh_keepalive). */
time_t aor_ul_ka_last(const aor_binding_t *b);

/* The name of table t as a usrloc domain name (stable, NUL-terminated). */
str *aor_ul_domain_name(struct aor_table *t);

/* While a callback of a removal (UL_CONTACT_DELETE, _EXPIRE) runs: the
 * binding that left the store, so that get_urecord of its AoR still
 * lists it, as stock's callbacks run before the contact is unlinked.
 * NULL otherwise. (ulapi_cb.c) */
const aor_binding_t *aor_ul_cb_removed(struct aor_table *t, const str *aor);

/* register_ulcb (ulapi_cb.c) */
int aor_ul_register_cb(int types, ul_cb f, void *param);
int aor_ul_cb_init(void);

/* the record API (ulapi_rec.c) */
int aor_ul_rec_init(void);
void aor_ul_rec_destroy(void);
void aor_ul_lock_udomain(udomain_t *d, str *aor);
void aor_ul_unlock_udomain(udomain_t *d, str *aor);
int aor_ul_get_urecord(udomain_t *d, str *aor, urecord_t **r);
int aor_ul_get_urecord_by_ruid(udomain_t *d, unsigned int aorhash, str *ruid,
		urecord_t **r, ucontact_t **c);
int aor_ul_insert_urecord(udomain_t *d, str *aor, urecord_t **r);
int aor_ul_delete_urecord(udomain_t *d, str *aor, urecord_t *r);
int aor_ul_delete_urecord_by_ruid(udomain_t *d, str *ruid);
void aor_ul_release_urecord(urecord_t *r);
int aor_ul_insert_ucontact(
		urecord_t *r, str *contact, ucontact_info_t *ci, ucontact_t **c);
int aor_ul_update_ucontact(urecord_t *r, ucontact_t *c, ucontact_info_t *ci);
int aor_ul_delete_ucontact(urecord_t *r, ucontact_t *c);
int aor_ul_get_ucontact(urecord_t *r, str *contact, str *callid, str *path,
		int cseq, ucontact_t **c);
int aor_ul_get_ucontact_by_instance(
		urecord_t *r, str *contact, ucontact_info_t *ci, ucontact_t **c);

#endif /* AOR_ULAPI_H */
