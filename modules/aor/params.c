/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The module parameters (see params.h): their defaults, their checks and
 * what they become (the merge's limits, the key options, the received
 * variable).
 */

#include <ctype.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../core/globals.h"
#include "../../core/mem/shm_mem.h"

#include "errors.h"
#include "ops.h"
#include "params.h"

/* stock registrar's and usrloc's defaults (drop-in); the RFC-preferred
 * modes are one modparam away (README, "Recommended settings") */
/* clang-format off */
struct aor_params aor_params = {
	.default_expires = 3600,
	.min_expires = 60,
	.min_expires_mode = AOR_MIN_RAISE,
	.max_expires = 0,
	.max_contacts = 0,
	.max_contacts_policy = "reject",
	.max_bindings = 0,
	.shm_reserve = 10,
	.default_q = AOR_Q_UNSPEC,
	.append_branches = 1,
	.case_sensitive = 0,
	.use_domain = 0,
	.hash_size = 10,
	.hash_key = NULL,
	.timer_interval = 60,
	.use_path = 0,
	.path_mode = AOR_PATH_STRICT,
	.received_avp = NULL,
	.received_param = "received",
	.method_filtering = 0,
	.retry_after = 0,
	.nat_bflag = -1,
	.nat_source = 0,
	.ka_mode = 0,
	.ka_from = "sip:server@kamailio.org",
	.ka_domain = "kamailio.org",
	.ka_method = "OPTIONS",
	.ka_filter = 0,
	.ka_timeout = 0,
	.ka_down_after = 0,
	.ka_loglevel = 255,
	.ka_logmsg = " to-uri: [$tu] remote-addr: [$sas]",
	.timer_procs = 0,
	.gruu_enabled = 1, /* stock registrar.c: 1 */
	.gruu_secret = NULL,
	.event_callback = NULL,
	.snapshot_file = NULL,
	.snapshot_interval = 60,
	.handle_lost_tcp = 0,
	.close_expired_tcp = 0,
	.xavp_cfg = NULL,
	.xavp_rcd = NULL,
	.db_mode = 0,
	.xavp_rcd_mask = 0,
	.path_use_received = 0,
	.default_expires_range = 0,
	.expires_range = 0,
	.sock_flag = -1,
	.contact_max_size = 512,
	.realm_prefix = NULL,
	.use_expired_contacts = 0,
	.lookup_filter_mode = 0,
	.path_check_local = 0,
	.sock_hdr_name = NULL,
	.sock_mode = 0,
	.desc_time_order = 0,
	.cseq_delay = 20,
	.matching_mode = AOR_MATCH_CONTACT,
	.skip_remote_socket = 0,
	.xavp_contact = NULL,
	.expires_type = 0,
	.rm_expired_delay = 0,
	.replicate = 0,
	.repl_interval = 100,
	.repl_batch_bytes = 16384,
	.repl_sync_bytes = 60000,
	.repl_queue_bytes = 16777216,
	.repl_ae_interval = 10,
	.repl_tombstone_ttl = 120,
	.repl_tombstones_max = 1000000,
	.repl_sync = 1,
	.repl_sync_window = 8,
};
/* clang-format on */

aor_limits_t aor_limits;
aor_key_opts_t aor_key_opts;
pv_spec_t *aor_received_avp = NULL;

/* hash_key as bytes, set by aor_params_check */
static unsigned char hash_key[AOR_HASH_KEY_LEN];
static int hash_key_set;

#define AOR_INT_MAX 0x7fffffff
#define AOR_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* An integer modparam and its legal range lo..hi (test_config.py tries
 * lo - 1 and hi + 1 of each row). */
typedef struct int_param
{
	const char *name;
	const int *v;
	int lo, hi;
} int_param_t;

struct aor_db_params aor_db_params = {
	.db_load = 1,
	.fetch_rows = 2000,
	.version_table = 1,
	.db_queue_max = 100000,
	.db_sync_timeout = 1000,
	.db_ops_ruid = 1,
	.load_rank = 1,
	.ruid_column = "ruid",
	.user_column = "username",
	.domain_column = "domain",
	.contact_column = "contact",
	.expires_column = "expires",
	.q_column = "q",
	.callid_column = "callid",
	.cseq_column = "cseq",
	.flags_column = "flags",
	.cflags_column = "cflags",
	.user_agent_column = "user_agent",
	.received_column = "received",
	.path_column = "path",
	.socket_column = "socket",
	.methods_column = "methods",
	.instance_column = "instance",
	.reg_id_column = "reg_id",
	.server_id_column = "server_id",
	.connection_id_column = "connection_id",
	.keepalive_column = "keepalive",
	.partition_column = "partition",
};

/* clang-format off */
static const int_param_t int_params[] = {
	{"default_expires", &aor_params.default_expires, 0, AOR_INT_MAX},
	{"min_expires", &aor_params.min_expires, 0, AOR_INT_MAX},
	{"min_expires_mode", &aor_params.min_expires_mode, 0, 1},
	{"max_expires", &aor_params.max_expires, 0, AOR_INT_MAX},
	{"max_contacts", &aor_params.max_contacts, 0, AOR_REC_MAX},
	{"max_bindings", &aor_params.max_bindings, 0, AOR_INT_MAX},
	{"shm_reserve", &aor_params.shm_reserve, 0, 90},
	{"default_q", &aor_params.default_q, -1, 1000},
	{"append_branches", &aor_params.append_branches, 0, 1},
	{"case_sensitive", &aor_params.case_sensitive, 0, 1},
	{"use_domain", &aor_params.use_domain, 0, 1},
	{"hash_size", &aor_params.hash_size, 1, 24},
	{"timer_interval", &aor_params.timer_interval, 1, 86400},
	{"use_path", &aor_params.use_path, 0, 1},
	{"path_mode", &aor_params.path_mode, 0, 2},
	{"method_filtering", &aor_params.method_filtering, 0, 1},
	{"retry_after", &aor_params.retry_after, 0, 86400},
	{"nat_bflag", &aor_params.nat_bflag, -1, 31},
	{"nat_source", &aor_params.nat_source, 0, 2},
	{"gruu_enabled", &aor_params.gruu_enabled, 0, 1},
	{"snapshot_interval", &aor_params.snapshot_interval, 0, 86400},
	{"handle_lost_tcp", &aor_params.handle_lost_tcp, 0, 1},
	{"close_expired_tcp", &aor_params.close_expired_tcp, 0, 1},
	{"xavp_rcd_mask", &aor_params.xavp_rcd_mask, 0, 31},
	{"path_use_received", &aor_params.path_use_received, 0, 1},
	{"default_expires_range", &aor_params.default_expires_range, 0, 100},
	{"expires_range", &aor_params.expires_range, 0, 100},
	{"sock_flag", &aor_params.sock_flag, -1, 31},
	/* a Contact URI a binding holds: at most Kamailio's MAX_URI_SIZE */
	{"contact_max_size", &aor_params.contact_max_size, 1, 1024},
	{"use_expired_contacts", &aor_params.use_expired_contacts, 0, 1},
	{"lookup_filter_mode", &aor_params.lookup_filter_mode, 0, 3},
	{"path_check_local", &aor_params.path_check_local, 0, 1},
	{"sock_mode", &aor_params.sock_mode, 0, 1},
	{"desc_time_order", &aor_params.desc_time_order, 0, 1},
	{"cseq_delay", &aor_params.cseq_delay, 0, 86400},
	{"matching_mode", &aor_params.matching_mode, 0, 3},
	{"skip_remote_socket", &aor_params.skip_remote_socket, 0, 1},
	{"expires_type", &aor_params.expires_type, 0, 1},
	{"rm_expired_delay", &aor_params.rm_expired_delay, 0, AOR_INT_MAX},
	{"ka_mode", &aor_params.ka_mode, 0, 7},
	{"ka_filter", &aor_params.ka_filter, 0, 1},
	{"ka_timeout", &aor_params.ka_timeout, 0, AOR_INT_MAX},
	{"ka_down_after", &aor_params.ka_down_after, 0, AOR_INT_MAX},
	{"replicate", &aor_params.replicate, 0, 1},
	{"repl_interval", &aor_params.repl_interval, 1, 1000},
	{"repl_batch_bytes", &aor_params.repl_batch_bytes, 1024, 60000},
	{"repl_sync_bytes", &aor_params.repl_sync_bytes, 1024, 60000},
	{"repl_queue_bytes", &aor_params.repl_queue_bytes, 65536, 1073741824},
	{"repl_ae_interval", &aor_params.repl_ae_interval, 0, 86400},
	{"repl_tombstone_ttl", &aor_params.repl_tombstone_ttl, 1, 86400},
	{"repl_tombstones_max", &aor_params.repl_tombstones_max, 0, 100000000},
	{"repl_sync", &aor_params.repl_sync, 0, 1},
	{"repl_sync_window", &aor_params.repl_sync_window, 1, 64},
	{"ka_loglevel", &aor_params.ka_loglevel, -5, 255},
	{"db_mode", &aor_params.db_mode, 0, 4},
	/* accepted for drop-in use (stock usrloc's), not used */
	{"timer_procs", &aor_params.timer_procs, 0, 1024},
	{"db_load", &aor_db_params.db_load, 0, 1},
	{"fetch_rows", &aor_db_params.fetch_rows, 1, 1000000},
	{"db_insert_null", &aor_db_params.db_insert_null, 0, 1},
	{"version_table", &aor_db_params.version_table, 0, 1},
	{"server_id_filter", &aor_db_params.server_id_filter, 0, 1},
	{"db_clean_tcp", &aor_db_params.db_clean_tcp, 0, 1},
	{"db_queue_max", &aor_db_params.db_queue_max, 1, 10000000},
	{"db_sync_timeout", &aor_db_params.db_sync_timeout, 0, 60000},
	{"db_ops_ruid", &aor_db_params.db_ops_ruid, 0, 1},
	{"db_insert_update", &aor_db_params.db_insert_update, 0, 1},
	{"db_update_as_insert", &aor_db_params.db_update_as_insert, 0, 1},
	{"db_check_update", &aor_db_params.db_check_update, 0, 1},
	{"db_raw_fetch_type", &aor_db_params.db_raw_fetch_type, 0, 1},
	{"db_timer_clean", &aor_db_params.db_timer_clean, 0, 1},
	{"load_rank", &aor_db_params.load_rank, -8, 1024},
};
/* clang-format on */

/* every integer modparam out of its legal range: named, refused */
static int check_ranges(void)
{
	const int_param_t *ip;
	int bad = 0;

	for(ip = int_params; ip < int_params + AOR_NELEM(int_params); ip++) {
		if(*ip->v >= ip->lo && *ip->v <= ip->hi)
			continue;
		LM_ERR("modparam %s=%d out of range %d..%d\n", ip->name, *ip->v, ip->lo,
				ip->hi);
		bad = -1;
	}
	return bad;
}

static int parse_policy(const char *s, enum aor_policy *p)
{
	if(strcasecmp(s, "reject") == 0)
		*p = AOR_POLICY_REJECT;
	else if(strcasecmp(s, "evict_oldest") == 0)
		*p = AOR_POLICY_EVICT_OLDEST;
	else if(strcasecmp(s, "evict_expiring") == 0)
		*p = AOR_POLICY_EVICT_EXPIRING;
	else
		return -1;
	return 0;
}

/* RFC 3261 25.1 token: what a header parameter name may be */
static int is_token(const char *s)
{
	for(; *s; s++)
		if(!isalnum((unsigned char)*s) && strchr("-.!%*_+`'~", *s) == NULL)
			return 0;
	return 1;
}

/* realm_prefix: what a host name may start with (RFC 3261 25.1
 * hostname characters, or the '[' of an IPv6 reference) */
static int is_host_prefix(const char *s)
{
	for(; *s; s++)
		if(!isalnum((unsigned char)*s) && strchr("-.[:", *s) == NULL)
			return 0;
	return 1;
}

/* a function name of a KEMI script: letters, digits, '_', '.', ':' */
static int is_ident(const char *s)
{
	for(; *s; s++)
		if(!isalnum((unsigned char)*s) && strchr("_.:", *s) == NULL)
			return 0;
	return 1;
}

/* a column name of an SQL table: letters, digits, '_' */
static int is_column(const char *s)
{
	if(*s == '\0')
		return 0;
	for(; *s; s++)
		if(!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* an xavp name as the script writes it in $xavp(name=>...) */
/* a sip: or sips: URI with no space, quote or angle bracket: it goes
 * into From: <...> as it is */
static int is_sip_uri(const char *s)
{
	if(strncasecmp(s, "sip:", 4) != 0 && strncasecmp(s, "sips:", 5) != 0)
		return 0;
	for(; *s; s++)
		if(*s <= ' ' || *s == '<' || *s == '>' || *s == '"' || *s == 0x7f)
			return 0;
	return 1;
}

static int is_xavp_name(const char *s)
{
	for(; *s; s++)
		if(!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* A string modparam, unset or of the form ok() accepts (what: that form
 * in words). */
typedef struct str_param
{
	const char *name;
	char *const *v;
	int (*ok)(const char *);
	const char *what;
} str_param_t;

/* clang-format off */
static const str_param_t str_params[] = {
	{"realm_prefix", &aor_params.realm_prefix, is_host_prefix,
		"the start of a host name"},
	{"sock_hdr_name", &aor_params.sock_hdr_name, is_token,
		"a header name (RFC 3261 25.1 token)"},
	{"xavp_contact", &aor_params.xavp_contact, is_xavp_name, "an xavp name"},
	{"received_param", &aor_params.received_param, is_token,
		"a token (RFC 3261 25.1)"},
	{"event_callback", &aor_params.event_callback, is_ident,
		"a function name"},
	{"xavp_cfg", &aor_params.xavp_cfg, is_xavp_name, "an xavp name"},
	{"xavp_rcd", &aor_params.xavp_rcd, is_xavp_name, "an xavp name"},
	{"ka_from", &aor_params.ka_from, is_sip_uri, "a SIP URI"},
	{"ka_domain", &aor_params.ka_domain, is_host_prefix, "a host name"},
	{"ka_method", &aor_params.ka_method, is_token,
		"a method (RFC 3261 25.1 token)"},
	{"ruid_column", &aor_db_params.ruid_column, is_column, "an SQL column name"},
	{"user_column", &aor_db_params.user_column, is_column, "an SQL column name"},
	{"domain_column", &aor_db_params.domain_column, is_column, "an SQL column name"},
	{"contact_column", &aor_db_params.contact_column, is_column, "an SQL column name"},
	{"expires_column", &aor_db_params.expires_column, is_column, "an SQL column name"},
	{"q_column", &aor_db_params.q_column, is_column, "an SQL column name"},
	{"callid_column", &aor_db_params.callid_column, is_column, "an SQL column name"},
	{"cseq_column", &aor_db_params.cseq_column, is_column, "an SQL column name"},
	{"flags_column", &aor_db_params.flags_column, is_column, "an SQL column name"},
	{"cflags_column", &aor_db_params.cflags_column, is_column, "an SQL column name"},
	{"user_agent_column", &aor_db_params.user_agent_column, is_column, "an SQL column name"},
	{"received_column", &aor_db_params.received_column, is_column, "an SQL column name"},
	{"path_column", &aor_db_params.path_column, is_column, "an SQL column name"},
	{"socket_column", &aor_db_params.socket_column, is_column, "an SQL column name"},
	{"methods_column", &aor_db_params.methods_column, is_column, "an SQL column name"},
	{"instance_column", &aor_db_params.instance_column, is_column, "an SQL column name"},
	{"reg_id_column", &aor_db_params.reg_id_column, is_column, "an SQL column name"},
	{"server_id_column", &aor_db_params.server_id_column, is_column, "an SQL column name"},
	{"connection_id_column", &aor_db_params.connection_id_column, is_column, "an SQL column name"},
	{"keepalive_column", &aor_db_params.keepalive_column, is_column, "an SQL column name"},
	{"partition_column", &aor_db_params.partition_column, is_column, "an SQL column name"},
};
/* clang-format on */

/* every string modparam not of its form: named, refused */
static int check_strs(void)
{
	const str_param_t *sp;
	int bad = 0;

	for(sp = str_params; sp < str_params + AOR_NELEM(str_params); sp++) {
		if(*sp->v == NULL || sp->ok(*sp->v))
			continue;
		LM_ERR("modparam %s=\"%s\" is not %s\n", sp->name, *sp->v, sp->what);
		bad = -1;
	}
	return bad;
}

/* hash_key: unset or empty, or exactly 32 hex digits (16 bytes, k0 then
 * k1 as hash.h reads them); parsed into hash_key */
static int check_hash_key(const char *v)
{
	int i, hi, lo;

	hash_key_set = 0;
	if(v == NULL || *v == '\0')
		return 0;
	if(strlen(v) != 2 * AOR_HASH_KEY_LEN)
		goto bad;
	for(i = 0; i < AOR_HASH_KEY_LEN; i++) {
		hi = aor_hexval(v[2 * i]);
		lo = aor_hexval(v[2 * i + 1]);
		if(hi < 0 || lo < 0)
			goto bad;
		hash_key[i] = (unsigned char)(hi << 4 | lo);
	}
	hash_key_set = 1;
	return 0;

bad:
	LM_ERR("modparam hash_key=\"%.64s\" is not %d hex digits (or empty for "
		   "a random key per start)\n",
			v, 2 * AOR_HASH_KEY_LEN);
	return -1;
}

const unsigned char *aor_params_hash_key(void)
{
	return hash_key_set ? hash_key : NULL;
}

int aor_params_check(void)
{
	struct aor_params *p = &aor_params;
	int bad = 0;

	bad |= check_ranges();
	bad |= check_strs();
	bad |= check_hash_key(p->hash_key);
	if(p->max_expires && p->min_expires > p->max_expires) {
		LM_ERR("modparam min_expires=%d above max_expires=%d\n", p->min_expires,
				p->max_expires);
		bad = -1;
	}
	if(p->max_contacts_policy == NULL
			|| parse_policy(p->max_contacts_policy, &aor_limits.policy) < 0) {
		LM_ERR("modparam max_contacts_policy=\"%s\" unknown: use reject, "
			   "evict_oldest or evict_expiring\n",
				p->max_contacts_policy ? p->max_contacts_policy : "");
		bad = -1;
	}
	/* the secret itself is never logged */
	if(p->gruu_secret && *p->gruu_secret
			&& strlen(p->gruu_secret) < AOR_GRUU_SECRET_MIN) {
		LM_ERR("modparam gruu_secret has %zu bytes: give at least %d (or "
			   "none for a random key per start)\n",
				strlen(p->gruu_secret), AOR_GRUU_SECRET_MIN);
		bad = -1;
	}
	if(p->xavp_contact)
		LM_WARN("modparam xavp_contact ignored: the xavp is not stored with "
				"the bindings\n");
	if(bad)
		return -1;
	aor_limits.match = (enum aor_match)p->matching_mode;
	aor_limits.default_expires = p->default_expires;
	aor_limits.min_expires = p->min_expires;
	aor_limits.max_expires = p->max_expires;
	aor_limits.min_mode = p->min_expires_mode;
	/* 0: no limit of the operator's, yet never more than a reply lists */
	aor_limits.max_contacts = p->max_contacts ? p->max_contacts : AOR_REC_MAX;
	aor_limits.max_bindings = p->max_bindings;
	aor_limits.default_range = p->default_expires_range;
	aor_limits.range = p->expires_range;
	/* a percentage of -m, as bytes */
	aor_limits.shm_reserve = shm_mem_size / 100 * p->shm_reserve;
	aor_key_opts.use_domain = p->use_domain;
	aor_key_opts.case_sensitive = p->case_sensitive;
	aor_key_opts.realm_prefix.s = p->realm_prefix;
	aor_key_opts.realm_prefix.len =
			p->realm_prefix ? strlen(p->realm_prefix) : 0;
	return 0;
}

int aor_params_avp_init(void)
{
	str s;

	if(aor_params.received_avp == NULL || *aor_params.received_avp == '\0')
		return 0;
	s.s = aor_params.received_avp;
	s.len = strlen(s.s);
	aor_received_avp = pv_cache_get(&s);
	if(aor_received_avp == NULL || aor_received_avp->setf == NULL) {
		LM_ERR("modparam received_avp=\"%s\" is not a writable variable\n",
				s.s);
		return -1;
	}
	return 0;
}
