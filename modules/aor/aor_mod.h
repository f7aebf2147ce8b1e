/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * What the glue files share: the module parameters, the table registry and
 * the per-process scratch buffer bindings are copied into.
 */

#ifndef AOR_MOD_H
#define AOR_MOD_H

#include "../../core/parser/msg_parser.h"
#include "../../core/pvar.h"
#include "../../modules/sl/sl.h"
#include "ops.h"

struct aor_params
{
	int default_expires;
	int min_expires;
	int min_expires_mode;
	int max_expires;
	int max_contacts;
	char *max_contacts_policy;
	int max_bindings;
	int shm_reserve;
	int default_q;
	int append_branches;
	int case_sensitive;
	int use_domain;
	int hash_size;
	int timer_interval;
	int use_path;
	int path_mode;
	char *received_avp;
	char *received_param;
	int method_filtering;
	int retry_after;
	int nat_bflag;
	int nat_source;
	/* accepted for drop-in use, with the meaning noted in the docs */
	int timer_procs;
	int db_mode;
	char *db_url;
	int gruu_enabled;
	char *event_callback;
	char *snapshot_file;
	int snapshot_interval;
};

extern struct aor_params aor_params;
extern aor_limits_t aor_limits;
extern sl_api_t aor_slb;
extern pv_spec_t *aor_received_avp;

#define AOR_PATH_OFF 0
#define AOR_PATH_LAZY 1
#define AOR_PATH_STRICT 2

/* Builds the AoR key of uri (user@domain, or user with use_domain=0) into
 * buf (at least len of uri); the user unescaped (RFC 3261 10.3 step 5)
 * except for the bytes that are not printable ASCII and '%', which stay
 * escaped in upper-case hex, so that a key holds no NUL and two URIs equal
 * by RFC 3261 19.1.4 give one key; domain folded to lower case, user too
 * when case_sensitive=0. Returns 0, or AOR_E_BAD_AOR (also for a bad
 * escape). */
int aor_key_from_uri(const str *uri, char *buf, str *key);

/* save() and friends: 1 or more on success, negative on failure */
int ki_aor_save(sip_msg_t *msg, str *table, int flags, str *uri);
int ki_aor_lookup(sip_msg_t *msg, str *table, str *uri);
int ki_aor_registered(sip_msg_t *msg, str *table, str *uri);
int ki_aor_lookup_branches(sip_msg_t *msg, str *table);
int ki_aor_unregister(sip_msg_t *msg, str *table, str *uri, str *ruid);

/* the timer step: resize and expiry, bounded (expire.c) */
void aor_timer_tick(unsigned int ticks, void *param);

#endif /* AOR_MOD_H */
