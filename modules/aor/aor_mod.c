/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The module: exports (commands, parameters, RPC, KEMI), mod_init as a
 * table of contents, child_init, mod_destroy, the fixups and the w_*
 * unpackers of the script functions.
 */

#include <string.h>
#include <ctype.h>

#include "db.h"
#include "repl.h"
#include "../../core/sr_module.h"
#include "../../core/mod_fix.h"
#include "../../core/kemi.h"
#include "../../core/timer_proc.h"
#include "../../core/ut.h"
#include "../../core/pt.h"
#include "../../core/globals.h"
#include "../../core/rpc_lookup.h"
#include "../../core/parser/parse_uri.h"

#include "expire.h"
#include "keepalive.h"
#include "lookup.h"
#include "ops.h"
#include "params.h"
#include "reply.h"
#include "regfn.h"
#include "save.h"
#include "events.h"
#include "hash.h"
#include "gruu.h"
#include "persist.h"
#include "preload.h"
#include "rpc.h"
#include "stats.h"
#include "tcp.h"
#include "ulc.h"
#include "ulapi.h"
#include "ulapi_reg.h"

MODULE_VERSION

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);
static int fixup_table(void **param, int param_no);
static int fixup_save(void **param, int param_no);
static int fixup_lookup(void **param, int param_no);
static int fixup_unregister(void **param, int param_no);
static int w_aor_save(sip_msg_t *msg, char *table, char *flags, char *uri);
static int w_aor_lookup(sip_msg_t *msg, char *table, char *uri);
static int w_aor_registered(sip_msg_t *msg, char *table, char *uri);
static int w_aor_lookup_branches(sip_msg_t *msg, char *table, char *p2);
static int w_aor_unregister(sip_msg_t *msg, char *table, char *uri, char *ruid);
static int w_aor_save1(sip_msg_t *msg, char *table, char *p2);
static int w_aor_save2(sip_msg_t *msg, char *table, char *flags);
static int w_aor_lookup1(sip_msg_t *msg, char *table, char *p2);
static int w_aor_registered1(sip_msg_t *msg, char *table, char *p2);
static int w_aor_unregister2(sip_msg_t *msg, char *table, char *uri);
static int fixup_fetch(void **param, int param_no);
static int w_aor_reg_fetch_contacts(
		sip_msg_t *msg, char *table, char *uri, char *profile);
static int w_aor_reg_free_contacts(sip_msg_t *msg, char *profile, char *p2);
static int fixup_registered(void **param, int param_no);
static int w_aor_lookup_to_dset(sip_msg_t *msg, char *table, char *uri);
static int w_aor_lookup_to_dset1(sip_msg_t *msg, char *table, char *p2);
static int w_aor_registered3(sip_msg_t *msg, char *table, char *uri, char *m);
static int w_aor_registered4(
		sip_msg_t *msg, char *table, char *uri, char *m, char *a);
static int w_aor_reg_send_reply(sip_msg_t *msg, char *p1, char *p2);

/* clang-format off */
static cmd_export_t cmds[] = {
	{"save", (cmd_function)w_aor_save1, 1, fixup_save, 0, REQUEST_ROUTE},
	{"save", (cmd_function)w_aor_save2, 2, fixup_save, 0, REQUEST_ROUTE},
	{"save", (cmd_function)w_aor_save, 3, fixup_save, 0, REQUEST_ROUTE},
	{"lookup", (cmd_function)w_aor_lookup1, 1, fixup_lookup, 0,
		REQUEST_ROUTE | FAILURE_ROUTE},
	{"lookup", (cmd_function)w_aor_lookup, 2, fixup_lookup, 0,
		REQUEST_ROUTE | FAILURE_ROUTE},
	{"registered", (cmd_function)w_aor_registered1, 1, fixup_lookup, 0,
		ANY_ROUTE},
	{"registered", (cmd_function)w_aor_registered, 2, fixup_lookup, 0,
		ANY_ROUTE},
	{"lookup_branches", (cmd_function)w_aor_lookup_branches, 1, fixup_table,
		0, REQUEST_ROUTE | FAILURE_ROUTE},
	{"unregister", (cmd_function)w_aor_unregister2, 2, fixup_unregister, 0,
		ANY_ROUTE},
	{"unregister", (cmd_function)w_aor_unregister, 3, fixup_unregister, 0,
		ANY_ROUTE},
	{"reg_fetch_contacts", (cmd_function)w_aor_reg_fetch_contacts, 3,
		fixup_fetch, 0, REQUEST_ROUTE | FAILURE_ROUTE},
	{"reg_free_contacts", (cmd_function)w_aor_reg_free_contacts, 1,
		fixup_str_null, 0, REQUEST_ROUTE | FAILURE_ROUTE},
	{"lookup_to_dset", (cmd_function)w_aor_lookup_to_dset1, 1, fixup_lookup,
		0, REQUEST_ROUTE | FAILURE_ROUTE},
	{"lookup_to_dset", (cmd_function)w_aor_lookup_to_dset, 2, fixup_lookup,
		0, REQUEST_ROUTE | FAILURE_ROUTE},
	{"registered", (cmd_function)w_aor_registered3, 3, fixup_registered, 0,
		ANY_ROUTE},
	{"registered", (cmd_function)w_aor_registered4, 4, fixup_registered, 0,
		ANY_ROUTE},
	{"reg_send_reply", (cmd_function)w_aor_reg_send_reply, 0, 0, 0,
		REQUEST_ROUTE | FAILURE_ROUTE},
	/* the C APIs of usrloc and registrar, for other modules (not the
	 * script: no route may call them) */
	{"ul_bind_usrloc", (cmd_function)aor_ul_bind, 1, 0, 0, 0},
	{"bind_registrar", (cmd_function)aor_bind_registrar, 0, 0, 0, 0},
	{0, 0, 0, 0, 0, 0}
};

static param_export_t params[] = {
	{"default_expires", PARAM_INT, &aor_params.default_expires},
	{"min_expires", PARAM_INT, &aor_params.min_expires},
	{"min_expires_mode", PARAM_INT, &aor_params.min_expires_mode},
	{"max_expires", PARAM_INT, &aor_params.max_expires},
	{"max_contacts", PARAM_INT, &aor_params.max_contacts},
	{"max_contacts_policy", PARAM_STRING, &aor_params.max_contacts_policy},
	{"max_bindings", PARAM_INT, &aor_params.max_bindings},
	{"shm_reserve", PARAM_INT, &aor_params.shm_reserve},
	{"default_q", PARAM_INT, &aor_params.default_q},
	{"append_branches", PARAM_INT, &aor_params.append_branches},
	{"case_sensitive", PARAM_INT, &aor_params.case_sensitive},
	{"use_domain", PARAM_INT, &aor_params.use_domain},
	{"hash_size", PARAM_INT, &aor_params.hash_size},
	{"hash_key", PARAM_STRING, &aor_params.hash_key},
	{"timer_interval", PARAM_INT, &aor_params.timer_interval},
	{"use_path", PARAM_INT, &aor_params.use_path},
	{"path_mode", PARAM_INT, &aor_params.path_mode},
	{"received_avp", PARAM_STRING, &aor_params.received_avp},
	{"received_param", PARAM_STRING, &aor_params.received_param},
	{"method_filtering", PARAM_INT, &aor_params.method_filtering},
	{"retry_after", PARAM_INT, &aor_params.retry_after},
	{"nat_bflag", PARAM_INT, &aor_params.nat_bflag},
	{"nat_source", PARAM_INT, &aor_params.nat_source},
	{"timer_procs", PARAM_INT, &aor_params.timer_procs},
	{"db_mode", PARAM_INT, &aor_params.db_mode},
	{"db_url", PARAM_STRING, &aor_db_params.db_url},
	{"db_load", PARAM_INT, &aor_db_params.db_load},
	{"fetch_rows", PARAM_INT, &aor_db_params.fetch_rows},
	{"db_insert_null", PARAM_INT, &aor_db_params.db_insert_null},
	{"version_table", PARAM_INT, &aor_db_params.version_table},
	{"server_id_filter", PARAM_INT, &aor_db_params.server_id_filter},
	{"db_clean_tcp", PARAM_INT, &aor_db_params.db_clean_tcp},
	{"db_queue_max", PARAM_INT, &aor_db_params.db_queue_max},
	{"db_sync_timeout", PARAM_INT, &aor_db_params.db_sync_timeout},
	{"db_ops_ruid", PARAM_INT, &aor_db_params.db_ops_ruid},
	{"db_insert_update", PARAM_INT, &aor_db_params.db_insert_update},
	{"db_update_as_insert", PARAM_INT, &aor_db_params.db_update_as_insert},
	{"db_check_update", PARAM_INT, &aor_db_params.db_check_update},
	{"db_raw_fetch_type", PARAM_INT, &aor_db_params.db_raw_fetch_type},
	{"db_timer_clean", PARAM_INT, &aor_db_params.db_timer_clean},
	{"load_rank", PARAM_INT, &aor_db_params.load_rank},
	{"ruid_column", PARAM_STRING, &aor_db_params.ruid_column},
	{"user_column", PARAM_STRING, &aor_db_params.user_column},
	{"domain_column", PARAM_STRING, &aor_db_params.domain_column},
	{"contact_column", PARAM_STRING, &aor_db_params.contact_column},
	{"expires_column", PARAM_STRING, &aor_db_params.expires_column},
	{"q_column", PARAM_STRING, &aor_db_params.q_column},
	{"callid_column", PARAM_STRING, &aor_db_params.callid_column},
	{"cseq_column", PARAM_STRING, &aor_db_params.cseq_column},
	{"flags_column", PARAM_STRING, &aor_db_params.flags_column},
	{"cflags_column", PARAM_STRING, &aor_db_params.cflags_column},
	{"user_agent_column", PARAM_STRING, &aor_db_params.user_agent_column},
	{"received_column", PARAM_STRING, &aor_db_params.received_column},
	{"path_column", PARAM_STRING, &aor_db_params.path_column},
	{"socket_column", PARAM_STRING, &aor_db_params.socket_column},
	{"methods_column", PARAM_STRING, &aor_db_params.methods_column},
	{"instance_column", PARAM_STRING, &aor_db_params.instance_column},
	{"reg_id_column", PARAM_STRING, &aor_db_params.reg_id_column},
	{"server_id_column", PARAM_STRING, &aor_db_params.server_id_column},
	{"connection_id_column", PARAM_STRING, &aor_db_params.connection_id_column},
	{"keepalive_column", PARAM_STRING, &aor_db_params.keepalive_column},
	{"partition_column", PARAM_STRING, &aor_db_params.partition_column},
	{"gruu_enabled", PARAM_INT, &aor_params.gruu_enabled},
	{"gruu_secret", PARAM_STRING, &aor_params.gruu_secret},
	{"event_callback", PARAM_STRING, &aor_params.event_callback},
	{"snapshot_file", PARAM_STRING, &aor_params.snapshot_file},
	{"snapshot_interval", PARAM_INT, &aor_params.snapshot_interval},
	{"preload", PARAM_STRING | PARAM_USE_FUNC, (void *)aor_preload_param},
	{"handle_lost_tcp", PARAM_INT, &aor_params.handle_lost_tcp},
	{"close_expired_tcp", PARAM_INT, &aor_params.close_expired_tcp},
	{"xavp_cfg", PARAM_STRING, &aor_params.xavp_cfg},
	{"xavp_rcd", PARAM_STRING, &aor_params.xavp_rcd},
	{"xavp_rcd_mask", PARAM_INT, &aor_params.xavp_rcd_mask},
	{"path_use_received", PARAM_INT, &aor_params.path_use_received},
	{"default_expires_range", PARAM_INT, &aor_params.default_expires_range},
	{"expires_range", PARAM_INT, &aor_params.expires_range},
	{"sock_flag", PARAM_INT, &aor_params.sock_flag},
	{"contact_max_size", PARAM_INT, &aor_params.contact_max_size},
	{"realm_prefix", PARAM_STRING, &aor_params.realm_prefix},
	{"use_expired_contacts", PARAM_INT, &aor_params.use_expired_contacts},
	{"lookup_filter_mode", PARAM_INT, &aor_params.lookup_filter_mode},
	{"path_check_local", PARAM_INT, &aor_params.path_check_local},
	{"sock_hdr_name", PARAM_STRING, &aor_params.sock_hdr_name},
	{"sock_mode", PARAM_INT, &aor_params.sock_mode},
	{"desc_time_order", PARAM_INT, &aor_params.desc_time_order},
	{"cseq_delay", PARAM_INT, &aor_params.cseq_delay},
	{"matching_mode", PARAM_INT, &aor_params.matching_mode},
	{"skip_remote_socket", PARAM_INT, &aor_params.skip_remote_socket},
	{"xavp_contact", PARAM_STRING, &aor_params.xavp_contact},
	{"expires_type", PARAM_INT, &aor_params.expires_type},
	{"rm_expired_delay", PARAM_INT, &aor_params.rm_expired_delay},
	{"ka_mode", PARAM_INT, &aor_params.ka_mode},
	{"ka_from", PARAM_STRING, &aor_params.ka_from},
	{"ka_domain", PARAM_STRING, &aor_params.ka_domain},
	{"ka_method", PARAM_STRING, &aor_params.ka_method},
	{"ka_filter", PARAM_INT, &aor_params.ka_filter},
	{"ka_timeout", PARAM_INT, &aor_params.ka_timeout},
	{"ka_down_after", PARAM_INT, &aor_params.ka_down_after},
	{"replicate", PARAM_INT, &aor_params.replicate},
	{"repl_interval", PARAM_INT, &aor_params.repl_interval},
	{"repl_batch_bytes", PARAM_INT, &aor_params.repl_batch_bytes},
	{"repl_sync_bytes", PARAM_INT, &aor_params.repl_sync_bytes},
	{"repl_queue_bytes", PARAM_INT, &aor_params.repl_queue_bytes},
	{"repl_ae_interval", PARAM_INT, &aor_params.repl_ae_interval},
	{"repl_tombstone_ttl", PARAM_INT, &aor_params.repl_tombstone_ttl},
	{"repl_tombstones_max", PARAM_INT, &aor_params.repl_tombstones_max},
	{"repl_sync", PARAM_INT, &aor_params.repl_sync},
	{"repl_sync_window", PARAM_INT, &aor_params.repl_sync_window},
	{"ka_loglevel", PARAM_INT, &aor_params.ka_loglevel},
	{"ka_logmsg", PARAM_STRING, &aor_params.ka_logmsg},
	{0, 0, 0}
};

static pv_export_t mod_pvs[] = {
	{{"ulc", sizeof("ulc") - 1}, PVT_OTHER, aor_ulc_pv_get, aor_ulc_pv_set,
		aor_ulc_pv_parse, pv_parse_index, 0, 0},
	{{0, 0}, 0, 0, 0, 0, 0, 0, 0}
};

struct module_exports exports = {
	"aor",
	DEFAULT_DLFLAGS,
	cmds,
	params,
	0,			/* RPC: registered in mod_init */
	mod_pvs,	/* pseudo-variables */
	aor_ka_reply, /* response handling: keepalive replies */
	mod_init,
	child_init,
	mod_destroy
};
/* clang-format on */

/* a table was made: its gauges, and its rows when a database is used */
static int on_new_table(aor_table_t *t)
{
	if(aor_repl_table(t) < 0 || aor_stats_table(t) < 0)
		return -1;
	return aor_db_table(t);
}

static int mod_init(void)
{
	str location = str_init("location");

	if(aor_params_check() < 0) {
		LM_ERR("bad module parameters\n");
		return -1;
	}
	/* before any table, and before the fork: all workers share the key */
	if(aor_params_hash_key() != NULL)
		aor_hash_init(aor_params_hash_key());
	else
		aor_hash_init_random();
	if(aor_params.gruu_enabled)
		aor_gruu_init(aor_params.gruu_secret,
				aor_params.gruu_secret ? strlen(aor_params.gruu_secret) : 0);
	if(aor_reply_init() < 0 || aor_params_avp_init() < 0)
		return -1;
	if(aor_stats_init() < 0 || aor_events_init() < 0)
		return -1;
	if(aor_tcp_init() < 0)
		return -1;
	/* before any table: the tables it replicates keep digests */
	if(aor_repl_init() < 0)
		return -1;
	if(aor_ops_init(aor_params.hash_size, on_new_table) < 0)
		return -1;
	/* KEMI scripts have no fixups: the usual table exists from the start */
	if(aor_table_get(&location) == NULL) {
		LM_ERR("cannot create table location\n");
		return -1;
	}
	if(aor_preload_tables() < 0)
		return -1;
	if(rpc_register_array(aor_rpc_cmds) != 0
			|| rpc_register_array(aor_reginfo_rpc_cmds) != 0
			|| rpc_register_array(aor_ul_rpc_cmds) != 0
			|| rpc_register_array(aor_persist_rpc_cmds) != 0
			|| rpc_register_array(aor_repl_rpc_cmds) != 0) {
		LM_ERR("cannot register the aor.* RPC commands\n");
		return -1;
	}
	if(aor_ulapi_init() < 0)
		return -1;
	if(aor_ka_init() < 0)
		return -1;
	/* the location tables of the database, before the snapshot */
	if(aor_db_init() < 0)
		return -1;
	/* last: the snapshot fills the tables the steps above made */
	if(aor_persist_init(aor_db_loaded()) < 0)
		return -1;
	if(register_sync_timers(1) < 0
			|| register_basic_timers(aor_persist_timers() + aor_db_timers()
										 + aor_repl_timers()) < 0) {
		LM_ERR("cannot register the aor timer processes\n");
		return -1;
	}
	return 0;
}

static int child_init(int rank)
{
	/* every process has its own copy of the registry's pointers now */
	if(rank != PROC_INIT)
		aor_ops_seal();
	else
		aor_tcp_child_init();
	if(rank != PROC_MAIN)
		return 0;
	/* 100 ms steps: bounded resize and expiry work per step */
	if(fork_sync_utimer(
			   PROC_TIMER, "aor maintenance", 1, aor_timer_tick, NULL, 100000)
			< 0) {
		LM_ERR("cannot start the aor maintenance timer\n");
		return -1;
	}
	if(aor_db_child_init() < 0 || aor_repl_child_init() < 0)
		return -1;
	return aor_persist_child_init();
}

static void mod_destroy(void)
{
	if(aor_tables() == NULL)
		return;
	aor_persist_destroy();
	aor_db_destroy();
	aor_ulapi_destroy();
	aor_ops_destroy();
	aor_tcp_destroy();
	aor_journal_reset_subscribers();
}

/* the table name must be a plain string: tables are made before the fork */
static int fixup_table(void **param, int param_no)
{
	aor_table_t *t;
	str s;

	if(param_no != 1)
		return 0;
	s.s = (char *)*param;
	s.len = strlen(s.s);
	t = aor_table_get(&s);
	if(t == NULL)
		return E_UNSPEC;
	*param = t;
	return 0;
}

/* flags as the stock registrar takes them: decimal, "0x.." hex or a
 * variable */
static int fixup_flags(void **param)
{
	unsigned int v;
	char *dec;
	str s;

	s.s = (char *)*param;
	s.len = strlen(s.s);
	if(s.len > 2 && s.s[0] == '0' && (s.s[1] == 'x' || s.s[1] == 'X')) {
		if(strno2int(&s, &v) < 0) {
			LM_ERR("save(): bad flags \"%s\"\n", s.s);
			return E_UNSPEC;
		}
		dec = pkg_malloc(16);
		if(dec == NULL) {
			PKG_MEM_ERROR;
			return E_OUT_OF_MEM;
		}
		snprintf(dec, 16, "%u", v);
		*param = dec;
	}
	return fixup_igp_null(param, 1);
}

static int fixup_save(void **param, int param_no)
{
	if(param_no == 1)
		return fixup_table(param, 1);
	if(param_no == 2)
		return fixup_flags(param);
	return fixup_spve_null(param, 1);
}

static int fixup_lookup(void **param, int param_no)
{
	if(param_no == 1)
		return fixup_table(param, 1);
	return fixup_spve_null(param, 1);
}

static int fixup_unregister(void **param, int param_no)
{
	if(param_no == 1)
		return fixup_table(param, 1);
	return fixup_spve_null(param, 1);
}

static int get_str(sip_msg_t *msg, char *p, str *out)
{
	if(p == NULL) {
		out->s = NULL;
		out->len = 0;
		return 0;
	}
	if(fixup_get_svalue(msg, (gparam_t *)p, out) < 0) {
		LM_ERR("cannot evaluate a string parameter\n");
		return -1;
	}
	return 0;
}

static int w_aor_save(sip_msg_t *msg, char *table, char *flags, char *uri)
{
	aor_table_t *t = (aor_table_t *)table;
	int f = 0;
	str u;

	if(flags && fixup_get_ivalue(msg, (gparam_t *)flags, &f) < 0) {
		LM_ERR("cannot evaluate the flags parameter\n");
		return -1;
	}
	if(get_str(msg, uri, &u) < 0)
		return -1;
	/* the table is fixed up: no search by name (hot path) */
	return aor_save(msg, t, f, uri ? &u : NULL);
}

static int w_aor_lookup(sip_msg_t *msg, char *table, char *uri)
{
	aor_table_t *t = (aor_table_t *)table;
	str u;

	if(get_str(msg, uri, &u) < 0)
		return -3;
	return aor_lookup(msg, t, uri ? &u : NULL);
}

static int w_aor_registered(sip_msg_t *msg, char *table, char *uri)
{
	return w_aor_registered4(msg, table, uri, NULL, NULL);
}

static int w_aor_lookup_branches(sip_msg_t *msg, char *table, char *p2)
{
	return ki_aor_lookup_branches(msg, &((aor_table_t *)table)->name);
}

static int w_aor_unregister(sip_msg_t *msg, char *table, char *uri, char *ruid)
{
	aor_table_t *t = (aor_table_t *)table;
	str u, r;

	if(get_str(msg, uri, &u) < 0 || get_str(msg, ruid, &r) < 0)
		return -1;
	return ki_aor_unregister(msg, &t->name, &u, ruid ? &r : NULL);
}

/* Kamailio passes only the parameters a function is exported with: one
 * wrapper per shorter form */
static int w_aor_save1(sip_msg_t *msg, char *table, char *p2)
{
	return w_aor_save(msg, table, NULL, NULL);
}

static int w_aor_save2(sip_msg_t *msg, char *table, char *flags)
{
	return w_aor_save(msg, table, flags, NULL);
}

static int w_aor_lookup1(sip_msg_t *msg, char *table, char *p2)
{
	return w_aor_lookup(msg, table, NULL);
}

static int w_aor_registered1(sip_msg_t *msg, char *table, char *p2)
{
	return w_aor_registered(msg, table, NULL);
}

static int w_aor_unregister2(sip_msg_t *msg, char *table, char *uri)
{
	return w_aor_unregister(msg, table, uri, NULL);
}

/* reg_fetch_contacts(table, uri, profile), as stock's fetchc_fixup */
static int fixup_fetch(void **param, int param_no)
{
	if(param_no == 1)
		return fixup_table(param, 1);
	if(param_no == 2)
		return fixup_spve_null(param, 1);
	return fixup_str_null(param, 1);
}

static int w_aor_reg_fetch_contacts(
		sip_msg_t *msg, char *table, char *uri, char *profile)
{
	str u;

	if(get_str(msg, uri, &u) < 0 || u.len <= 0) {
		LM_ERR("reg_fetch_contacts(): empty uri\n");
		return -1;
	}
	return aor_ulc_fetch(msg, (aor_table_t *)table, &u, (str *)profile);
}

static int w_aor_reg_free_contacts(sip_msg_t *msg, char *profile, char *p2)
{
	return ki_aor_reg_free_contacts(msg, (str *)profile);
}

static int fixup_registered(void **param, int param_no)
{
	if(param_no <= 2)
		return fixup_lookup(param, param_no);
	return fixup_igp_null(param, 1);
}

static int w_aor_lookup_to_dset(sip_msg_t *msg, char *table, char *uri)
{
	aor_table_t *t = (aor_table_t *)table;
	str u;

	/* as stock: a uri parameter that is empty is an error */
	if(get_str(msg, uri, &u) < 0 || (uri && u.len <= 0))
		return -1;
	return aor_lookup_to_dset(msg, t, uri ? &u : NULL);
}

static int w_aor_lookup_to_dset1(sip_msg_t *msg, char *table, char *p2)
{
	return w_aor_lookup_to_dset(msg, table, NULL);
}

static int w_aor_registered4(
		sip_msg_t *msg, char *table, char *uri, char *m, char *a)
{
	int match = 0, action = 0;
	str u;

	/* as stock: a uri parameter that is empty is an error */
	if(get_str(msg, uri, &u) < 0 || (uri && u.len <= 0))
		return -1;
	if((m && fixup_get_ivalue(msg, (gparam_t *)m, &match) < 0)
			|| (a && fixup_get_ivalue(msg, (gparam_t *)a, &action) < 0)) {
		LM_ERR("cannot evaluate the match flags of registered()\n");
		return -1;
	}
	return aor_regfn_registered(
			msg, (aor_table_t *)table, uri ? &u : NULL, match, action);
}

static int w_aor_registered3(sip_msg_t *msg, char *table, char *uri, char *m)
{
	return w_aor_registered4(msg, table, uri, m, NULL);
}

static int w_aor_reg_send_reply(sip_msg_t *msg, char *p1, char *p2)
{
	return ki_aor_reg_send_reply(msg);
}

/* KEMI wrappers with the stock registrar's names */
static int ki_set_q_override(sip_msg_t *msg, str *q)
{
	return aor_save_set_q_override(msg, q);
}

static int ki_save(sip_msg_t *msg, str *table, int flags)
{
	return ki_aor_save(msg, table, flags, NULL);
}

static int ki_save_uri(sip_msg_t *msg, str *table, int flags, str *uri)
{
	return ki_aor_save(msg, table, flags, uri);
}

static int ki_lookup(sip_msg_t *msg, str *table)
{
	return ki_aor_lookup(msg, table, NULL);
}

static int ki_registered(sip_msg_t *msg, str *table)
{
	return ki_aor_registered(msg, table, NULL);
}

static int ki_unregister(sip_msg_t *msg, str *table, str *uri)
{
	return ki_aor_unregister(msg, table, uri, NULL);
}

/* clang-format off */
#define KP(a, b, c) { a, b, c, SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
#define S SR_KEMIP_STR
#define I SR_KEMIP_INT
#define N SR_KEMIP_NONE
static sr_kemi_t sr_kemi_aor_exports[] = {
	{str_init("aor"), str_init("save"), I, ki_save, KP(S, I, N)},
	{str_init("aor"), str_init("save_uri"), I, ki_save_uri, KP(S, I, S)},
	{str_init("aor"), str_init("lookup"), I, ki_lookup, KP(S, N, N)},
	{str_init("aor"), str_init("lookup_uri"), I, ki_aor_lookup, KP(S, S, N)},
	{str_init("aor"), str_init("lookup_branches"), I, ki_aor_lookup_branches,
		KP(S, N, N)},
	{str_init("aor"), str_init("registered"), I, ki_registered, KP(S, N, N)},
	{str_init("aor"), str_init("registered_uri"), I, ki_aor_registered,
		KP(S, S, N)},
	{str_init("aor"), str_init("unregister"), I, ki_unregister, KP(S, S, N)},
	{str_init("aor"), str_init("unregister_ruid"), I, ki_aor_unregister,
		KP(S, S, S)},
	{str_init("aor"), str_init("reg_fetch_contacts"), I,
		ki_aor_reg_fetch_contacts, KP(S, S, S)},
	{str_init("aor"), str_init("reg_free_contacts"), I,
		ki_aor_reg_free_contacts, KP(S, N, N)},
	{str_init("aor"), str_init("lookup_to_dset"), I, ki_aor_lookup_to_dset,
		KP(S, S, N)},
	{str_init("aor"), str_init("registered_flags"), I,
		ki_aor_registered_flags, KP(S, S, I)},
	{str_init("aor"), str_init("registered_action"), I,
		ki_aor_registered_action, {S, S, I, I, N, N}},
	{str_init("aor"), str_init("reg_send_reply"), I, ki_aor_reg_send_reply,
		KP(N, N, N)},
	{str_init("aor"), str_init("set_q_override"), I, ki_set_q_override,
		KP(S, N, N)},
	{{0, 0}, {0, 0}, 0, NULL, {0, 0, 0, 0, 0, 0}}
};
#undef S
#undef I
#undef N
/* clang-format on */

/* the same functions as KSR.registrar.*: KEMI scripts written for the
 * stock registrar run unchanged (filled by mod_register) */
static sr_kemi_t sr_kemi_registrar_exports[sizeof(sr_kemi_aor_exports)
										   / sizeof(sr_kemi_aor_exports[0])];

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	str registrar = str_init("registrar");
	int i;

	sr_kemi_modules_add(sr_kemi_aor_exports);
	for(i = 0; sr_kemi_aor_exports[i].fname.s != NULL; i++) {
		sr_kemi_registrar_exports[i] = sr_kemi_aor_exports[i];
		sr_kemi_registrar_exports[i].mname = registrar;
	}
	sr_kemi_modules_add(sr_kemi_registrar_exports);
	return 0;
}
