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
	.timer_procs = 0,
	.gruu_enabled = 0,
	.event_callback = NULL,
	.snapshot_file = NULL,
	.snapshot_interval = 60,
	.handle_lost_tcp = 0,
	.close_expired_tcp = 0,
	.xavp_cfg = NULL,
	.xavp_rcd = NULL,
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
};
/* clang-format on */

aor_limits_t aor_limits;
aor_key_opts_t aor_key_opts;
pv_spec_t *aor_received_avp = NULL;

/* hash_key as bytes, set by aor_params_check */
static unsigned char hash_key[AOR_HASH_KEY_LEN];
static int hash_key_set;

/* one integer modparam out of its legal range: named, refused */
static int check_range(const char *name, int v, int lo, int hi)
{
	if(v >= lo && v <= hi)
		return 0;
	LM_ERR("modparam %s=%d out of range %d..%d\n", name, v, lo, hi);
	return -1;
}

#define AOR_INT_MAX 0x7fffffff

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

/* an xavp name as the script writes it in $xavp(name=>...) */
static int is_xavp_name(const char *s)
{
	for(; *s; s++)
		if(!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* one string modparam that is not of the form ok() accepts: refused */
static int check_str(const char *name, const char *v, int (*ok)(const char *),
		const char *what)
{
	if(v == NULL || ok(v))
		return 0;
	LM_ERR("modparam %s=\"%s\" is not %s\n", name, v, what);
	return -1;
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

/* the flags of the stock modules: 0 or 1 */
static int check_flags(const struct aor_params *p)
{
	int bad = 0;

	bad |= check_range("db_mode", p->db_mode, 0, 4);
	bad |= check_range("append_branches", p->append_branches, 0, 1);
	bad |= check_range("case_sensitive", p->case_sensitive, 0, 1);
	bad |= check_range("use_domain", p->use_domain, 0, 1);
	bad |= check_range("use_path", p->use_path, 0, 1);
	bad |= check_range("method_filtering", p->method_filtering, 0, 1);
	bad |= check_range("gruu_enabled", p->gruu_enabled, 0, 1);
	return bad;
}

int aor_params_check(void)
{
	struct aor_params *p = &aor_params;
	int bad = 0;

	bad |= check_range("default_expires", p->default_expires, 0, AOR_INT_MAX);
	bad |= check_range("min_expires", p->min_expires, 0, AOR_INT_MAX);
	bad |= check_range("min_expires_mode", p->min_expires_mode, 0, 1);
	bad |= check_range("max_expires", p->max_expires, 0, AOR_INT_MAX);
	bad |= check_range("max_contacts", p->max_contacts, 0, AOR_REC_MAX);
	bad |= check_range("max_bindings", p->max_bindings, 0, AOR_INT_MAX);
	bad |= check_range("shm_reserve", p->shm_reserve, 0, 90);
	bad |= check_range("default_q", p->default_q, -1, 1000);
	bad |= check_range("hash_size", p->hash_size, 1, 24);
	bad |= check_range("timer_interval", p->timer_interval, 1, 86400);
	bad |= check_range("path_mode", p->path_mode, 0, 2);
	bad |= check_range("retry_after", p->retry_after, 0, 86400);
	bad |= check_range("nat_bflag", p->nat_bflag, -1, 31);
	bad |= check_range("nat_source", p->nat_source, 0, 2);
	bad |= check_range("snapshot_interval", p->snapshot_interval, 0, 86400);
	bad |= check_range("handle_lost_tcp", p->handle_lost_tcp, 0, 1);
	bad |= check_range("close_expired_tcp", p->close_expired_tcp, 0, 1);
	bad |= check_range("xavp_rcd_mask", p->xavp_rcd_mask, 0, 31);
	bad |= check_range("path_use_received", p->path_use_received, 0, 1);
	bad |= check_range(
			"default_expires_range", p->default_expires_range, 0, 100);
	bad |= check_range("expires_range", p->expires_range, 0, 100);
	bad |= check_range("sock_flag", p->sock_flag, -1, 31);
	/* a Contact URI a binding holds: at most Kamailio's MAX_URI_SIZE */
	bad |= check_range("contact_max_size", p->contact_max_size, 1, 1024);
	bad |= check_range("use_expired_contacts", p->use_expired_contacts, 0, 1);
	bad |= check_range("lookup_filter_mode", p->lookup_filter_mode, 0, 3);
	bad |= check_range("path_check_local", p->path_check_local, 0, 1);
	bad |= check_range("sock_mode", p->sock_mode, 0, 1);
	bad |= check_str("realm_prefix", p->realm_prefix, is_host_prefix,
			"the start of a host name");
	bad |= check_str("sock_hdr_name", p->sock_hdr_name, is_token,
			"a header name (RFC 3261 25.1 token)");
	bad |= check_range("desc_time_order", p->desc_time_order, 0, 1);
	bad |= check_range("cseq_delay", p->cseq_delay, 0, 86400);
	bad |= check_range("matching_mode", p->matching_mode, 0, 3);
	bad |= check_range("skip_remote_socket", p->skip_remote_socket, 0, 1);
	bad |= check_range("expires_type", p->expires_type, 0, 1);
	bad |= check_range("rm_expired_delay", p->rm_expired_delay, 0, AOR_INT_MAX);
	bad |= check_str(
			"xavp_contact", p->xavp_contact, is_xavp_name, "an xavp name");
	/* accepted for drop-in use (stock usrloc's), not used */
	bad |= check_range("timer_procs", p->timer_procs, 0, 1024);
	bad |= check_flags(p);
	bad |= check_hash_key(p->hash_key);
	bad |= check_str("received_param", p->received_param, is_token,
			"a token (RFC 3261 25.1)");
	bad |= check_str(
			"event_callback", p->event_callback, is_ident, "a function name");
	bad |= check_str("xavp_cfg", p->xavp_cfg, is_xavp_name, "an xavp name");
	bad |= check_str("xavp_rcd", p->xavp_rcd, is_xavp_name, "an xavp name");
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
	if(p->gruu_enabled)
		LM_WARN("modparam gruu_enabled ignored: GRUU is not supported\n");
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
