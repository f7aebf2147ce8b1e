/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The module parameters: one struct (the modparam table of aor_mod.c
 * points into it), checked once in mod_init by aor_params_check, which
 * also derives the merge's limits from it.
 */

#ifndef AOR_PARAMS_H
#define AOR_PARAMS_H

#include "../../core/pvar.h"
#include "hash.h"
#include "errors.h"
#include "merge.h"
#include "uri.h"

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
	char *hash_key; /* 32 hex digits; NULL or empty: random per start */
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
	int gruu_enabled;  /* RFC 5627 GRUUs in the 200 OK and in lookup() */
	char *gruu_secret; /* key of temporary GRUUs; NULL or empty: random */
	char *event_callback;
	char *snapshot_file;
	int snapshot_interval;
	int handle_lost_tcp;
	int close_expired_tcp;
	/* stock registrar's script features (regfn.c) */
	char *xavp_cfg;
	char *xavp_rcd;
	int xavp_rcd_mask;
	int db_mode; /* usrloc's: 0 memory, 1 write-through, 2 write-back, 4 load only (db.h) */
	int path_use_received;
	int default_expires_range;
	int expires_range;
	int sock_flag;
	/* stock registrar's remaining modparams (regparams.c) */
	int contact_max_size;
	char *realm_prefix;
	int use_expired_contacts;
	int lookup_filter_mode;
	int path_check_local;
	char *sock_hdr_name;
	int sock_mode;
	/* stock usrloc's (uparams) */
	int desc_time_order;
	int cseq_delay;
	int matching_mode;
	int skip_remote_socket;
	char *xavp_contact;
	int expires_type;
	/* stock usrloc's keepalive (keepalive.c) */
	int ka_mode; /* 0 off; 1 all; bit 2: nat_bflag only; bit 4: UDP only */
	char *ka_from;
	char *ka_domain;
	char *ka_method;
	int ka_filter;
	int ka_timeout;
	int ka_down_after; /* lookup() skips a binding silent this long; 0 never */
	int ka_loglevel; /* 255: no log line per reply */
	char *ka_logmsg;
	int rm_expired_delay;
	/* replication over DMQ (repl.h) */
	int replicate;			/* 1: every table, with the dmq module */
	int repl_interval;		/* ms between sends of queued changes */
	int repl_batch_bytes;	/* largest body of a message of changes */
	int repl_sync_bytes;	/* largest body of a full-sync batch */
	int repl_queue_bytes;	/* shm of the queue of changes to send */
	int repl_ae_interval;	/* s: digests of every range once per interval */
	int repl_tombstone_ttl; /* s a removal's tombstone is kept */
	int repl_tombstones_max;
	int repl_sync;		  /* ask one peer for the full state at start */
	int repl_sync_window; /* full-sync batches in flight at most */
};

extern struct aor_params aor_params;

/* db_url, db_mode's companions and usrloc's column names (db.h) */
struct aor_db_params
{
	char *db_url;
	int db_load;
	int fetch_rows;
	int db_insert_null;
	int version_table;
	int server_id_filter;
	int db_clean_tcp;
	int db_queue_max;	 /* changes queued at most (an outage) */
	int db_sync_timeout; /* ms a db_mode 1 REGISTER waits for its write */
	/* usrloc's column names (last_modified has no modparam, as in usrloc) */
	char *ruid_column;
	char *user_column;
	char *domain_column;
	char *contact_column;
	char *expires_column;
	char *q_column;
	char *callid_column;
	char *cseq_column;
	char *flags_column;
	char *cflags_column;
	char *user_agent_column;
	char *received_column;
	char *path_column;
	char *socket_column;
	char *methods_column;
	char *instance_column;
	char *reg_id_column;
	char *server_id_column;
	char *connection_id_column;
	char *keepalive_column;
	char *partition_column;

	/* accepted for drop-in, no effect (see the admin guide) */
	int db_ops_ruid, db_insert_update, db_update_as_insert, db_check_update;
	int db_raw_fetch_type, db_timer_clean, load_rank;
};

extern struct aor_db_params aor_db_params;
extern aor_limits_t aor_limits;
extern pv_spec_t *aor_received_avp;

/* the shortest gruu_secret taken (bytes) */
#define AOR_GRUU_SECRET_MIN 16

#define AOR_PATH_OFF 0
#define AOR_PATH_LAZY 1
#define AOR_PATH_STRICT 2

/* bytes of a buffer for aor_params_key: a key is never longer than the
 * AOR_KEY_URI_MAX-byte URI it comes from */
#define AOR_KEY_BUF (AOR_KEY_URI_MAX + 76)

/* the key options of the modparams (use_domain, case_sensitive) */
extern aor_key_opts_t aor_key_opts;

/* The AoR key of uri with the key options of the modparams: aor_key_build
 * into buf (AOR_KEY_BUF bytes, which every key fits). Returns 0, or
 * AOR_E_BAD_AOR. */
static inline int aor_params_key(const str *uri, char *buf, str *key)
{
	return aor_key_build(uri, &aor_key_opts, buf, AOR_KEY_BUF, key) == 0
				   ? 0
				   : AOR_E_BAD_AOR;
}

/* Rejects every bad modparam, naming it, its value and the legal range
 * (logged), and fills aor_limits. mod_init. Returns 0 or -1. */
int aor_params_check(void);

/* Resolves received_avp to a writable variable (aor_received_avp, NULL
 * when not set). mod_init. Returns 0 or -1 (logged). */
int aor_params_avp_init(void);

/* The slot hash key hash_key names, checked by aor_params_check: its 16
 * bytes, or NULL when hash_key is unset or empty (a random key per start).
 * mod_init, after aor_params_check. */
const unsigned char *aor_params_hash_key(void);

#endif /* AOR_PARAMS_H */
