/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Stock usrloc's RPC commands (ul.dump, ul.lookup, ul.rm, ul.rm_contact,
 * ul.flush, ul.add, ul.db_*) with their names, arguments, replies, fault
 * codes and messages (usrloc 5.6 ul_rpc.c), so that `kamctl ul ...` and
 * operators' scripts keep working. Each contact is the ucontact_t the usrloc
 * C API shows (aor_ul_contact_fill), listed in stock's order
 * (aor_lookup_sort); reads are copies made under one slot lock at a time
 * (ops.c, the pages of rpc_list.c) and formatted after the release; changes
 * go through the operations layer with origin RPC. ul.dump is bounded:
 * past UL_DUMP_BYTES of estimated reply or UL_DUMP_STRUCTS structs it
 * answers a fault that names aor.list, the paged listing.
 */

#include <ctype.h>
#include <string.h>

#include "../../core/globals.h"
#include "../../core/ip_addr.h"
#include "../../core/parser/parse_uri.h"
#include "../../core/qvalue.h"
#include "../../core/socket_info.h"

#include "lookup.h"
#include "ops.h"
#include "errors.h"
#include "params.h"
#include "rpc.h"
#include "ulapi.h"

/* ul.dump's bound, for every transport. ctl builds each struct of a binrpc
 * reply in binrpc_struct_max_body_size (8 KB) of pkg memory and kamcmd
 * reads at most 128 KB; stock's ul.dump of 300 one-contact AoRs is already
 * more than kamcmd takes. Estimated binrpc bytes (each field's name, type
 * header and value) and structs: Info and Contacts per AoR, Contact per
 * binding (about 160 one-binding AoRs fit). */
#define UL_DUMP_BYTES (96 * 1024)
#define UL_DUMP_STRUCTS 600
#define UL_DUMP_BOUND "96 KB or 600 structs"
#define UL_EST_AOR 64	   /* Info, AoR, HashID, Contacts, besides the key */
#define UL_EST_BRIEF 16	   /* one AoR of the brief form, besides the key */
#define UL_EST_BINDING 460 /* 22 fields, besides the binding's strings */

/* what stock's ul.add and ul.rm_contact give a contact */
#define UL_RPC_CSEQ 1
static str ul_rpc_cid = str_init("dfjrewr12386fd6-343@kamailio.rpc");
static str ul_rpc_path = str_init("dummypath");
static str ul_rpc_ua = str_init(NAME " SIP Router - RPC Server");

/* the table named exactly name (stock's rpc_find_domain), or NULL */
static aor_table_t *ul_table(const str *name)
{
	aor_table_t *t;

	for(t = aor_tables(); t; t = t->next)
		if(t->name.len == name->len
				&& memcmp(t->name.s, name->s, name->len) == 0)
			return t;
	return NULL;
}

/* Stock's rpc_fix_aor: the key of an AoR argument, "user@domain" with
 * use_domain, else the part before any '@'; in lower case unless
 * case_sensitive. Into buf (AOR_KEY_BUF bytes). 0, -1 when use_domain is
 * set and there is no '@', -2 when longer than any key. */
static int ul_key(const str *arg, char *buf, str *key)
{
	const char *at = memchr(arg->s, '@', arg->len);
	int len = arg->len, i;

	if(aor_params.use_domain && at == NULL)
		return -1;
	if(!aor_params.use_domain && at != NULL)
		len = (int)(at - arg->s);
	key->s = NULL;
	key->len = 0;
	if(len > AOR_KEY_BUF)
		return -2;
	for(i = 0; i < len; i++)
		buf[i] = aor_params.case_sensitive
						 ? arg->s[i]
						 : (char)tolower((unsigned char)arg->s[i]);
	key->s = buf;
	key->len = len;
	return 0;
}

/* The table and the key of the arguments "table AOR" already scanned,
 * with stock's faults; NULL after a fault. */
static aor_table_t *ul_args(
		rpc_t *rpc, void *ctx, str *table, str *aor, char *buf, str *key)
{
	aor_table_t *t = ul_table(table);

	if(t == NULL) {
		rpc->fault(ctx, 500, "Domain table not found");
		return NULL;
	}
	if(ul_key(aor, buf, key) == -1) {
		rpc->fault(ctx, 500, "Domain missing in AOR");
		return NULL;
	}
	return t;
}

/* ---- one contact as stock's rpc_dump_contact adds it ---- */

static const char *state_name(cstate_t s)
{
	switch(s) {
		case CS_NEW:
			return "CS_NEW";
		case CS_SYNC:
			return "CS_SYNC";
		case CS_DIRTY:
			return "CS_DIRTY";
		default:
			return "CS_UNKNOWN";
	}
}

static str *or_not_set(str *s)
{
	static str not_set = str_init("[not set]");

	return s->len > 0 ? s : &not_set;
}

static int add_contact_fields(rpc_t *rpc, void *vh, ucontact_t *c, time_t now)
{
	str sock = str_init("[not set]");
	int r;

	if(c->sock)
		sock = c->sock->sock_str;
	if(c->expires == 0)
		r = rpc->struct_add(vh, "s", "Expires", "permanent");
	else if(now > c->expires)
		r = rpc->struct_add(vh, "s", "Expires", "expired");
	else
		r = rpc->struct_add(vh, "d", "Expires", (int)(c->expires - now));
	if(r < 0)
		return -1;
	return rpc->struct_add(vh, "fSdSSSsuuSuSSudddddd", "Q", q2double(c->q),
			"Call-ID", &c->callid, "CSeq", c->cseq, "User-Agent",
			or_not_set(&c->user_agent), "Received", or_not_set(&c->received),
			"Path", or_not_set(&c->path), "State", state_name(c->state),
			"Flags", c->flags, "CFlags", c->cflags, "Socket", &sock, "Methods",
			c->methods, "Ruid", or_not_set(&c->ruid), "Instance",
			or_not_set(&c->instance), "Reg-Id", c->reg_id, "Server-Id",
			c->server_id, "Tcpconn-Id", c->tcpconn_id, "Keepalive",
			c->keepalive, "Last-Keepalive", (int)c->last_keepalive,
			"KA-Roundtrip", (int)c->ka_roundtrip, "Last-Modified",
			(int)c->last_modified);
}

/* Adds binding b (a copy) of AoR aor in table t to the Contacts struct ih
 * as a "Contact" struct. 0, or -1 after a fault. */
static int add_contact(rpc_t *rpc, void *ctx, void *ih, aor_table_t *t,
		str *aor, const aor_binding_t *b, time_t now)
{
	char rb[AOR_RUID_LEN + 1];
	ucontact_t c;
	void *vh;

	aor_ul_contact_fill(&c, b, aor, aor_ul_domain_name(t), rb, FL_NONE);
	/* stock's state: never written in db_mode 0, else in the database's
	 * queue (ours writes each change in turn) */
	c.state = aor_params.db_mode == 0 ? CS_NEW : CS_SYNC;
	c.last_keepalive = aor_ul_ka_last(b);
	if(rpc->struct_add(ih, "{", "Contact", &vh) < 0
			|| rpc->struct_add(vh, "S", "Address", &c.c) < 0
			|| add_contact_fields(rpc, vh, &c, now) < 0) {
		rpc->fault(ctx, 500, "Internal error adding contact");
		return -1;
	}
	return 0;
}

/* Adds the n bindings v (copies) of one AoR, sorted as stock lists them,
 * to the Contacts struct ih. 0, or -1 after a fault. */
static int add_contacts(rpc_t *rpc, void *ctx, void *ih, aor_table_t *t,
		str *aor, aor_binding_t **v, int n, time_t now)
{
	int i;

	aor_lookup_sort(v, n);
	for(i = 0; i < n; i++)
		if(add_contact(rpc, ctx, ih, t, aor, v[i], now) < 0)
			return -1;
	return 0;
}

/* ---- ul.dump ---- */

typedef struct ul_dump
{
	rpc_t *rpc;
	void *ctx;
	int brief;
	long bytes;	 /* estimated reply bytes so far */
	int structs; /* structs so far */
	int aors;	 /* listed so far, all tables */
} ul_dump_t;

/* the fault of a reply that would pass the bound (full: the transport
 * refused a field, as ctl does past binrpc_struct_max_body_size) */
static int dump_too_big(ul_dump_t *d, aor_table_t *t, int full)
{
	d->rpc->fault(d->ctx, 500,
			"Reply too large (%s) after %d AoRs: page through table %.*s with"
			" aor.list",
			full ? "the RPC transport's reply struct is full"
				 : "ul.dump stops at " UL_DUMP_BOUND,
			d->aors, t->name.len, t->name.s);
	return -1;
}

/* Counts what the record of bindings v[0..n) adds to the reply; 0, or -1
 * (after the fault) when it would pass the bound. */
static int dump_budget(ul_dump_t *d, aor_table_t *t, aor_binding_t **v, int n)
{
	str key = aor_binding_get(v[0], AOR_F_AOR);
	int i;

	if(d->brief) {
		d->bytes += UL_EST_BRIEF + key.len;
	} else {
		d->bytes += UL_EST_AOR + key.len;
		d->structs += 2 + n;
		for(i = 0; i < n; i++)
			d->bytes += UL_EST_BINDING + v[i]->off[AOR_F_COUNT];
	}
	if(d->bytes > UL_DUMP_BYTES || d->structs > UL_DUMP_STRUCTS)
		return dump_too_big(d, t, 0);
	return 0;
}

/* Adds one AoR (the bindings v[0..n), copies) to the AoRs struct ah, as
 * stock: its name alone in the brief form, else an Info struct. 0, or -1
 * after a fault. */
static int dump_aor(ul_dump_t *d, aor_table_t *t, void *ah, aor_binding_t **v,
		int n, time_t now)
{
	str key = aor_binding_get(v[0], AOR_F_AOR);
	void *bh, *ih;

	if(dump_budget(d, t, v, n) < 0)
		return -1;
	d->aors++;
	if(d->brief) {
		if(d->rpc->struct_add(ah, "S", "AoR", &key) < 0)
			return dump_too_big(d, t, 1);
		return 0;
	}
	if(d->rpc->struct_add(ah, "{", "Info", &bh) < 0
			|| d->rpc->struct_add(bh, "Su[", "AoR", &key, "HashID", v[0]->hash,
					   "Contacts", &ih)
					   < 0)
		return dump_too_big(d, t, 1);
	return add_contacts(d->rpc, d->ctx, ih, t, &key, v, n, now);
}

/* One table as a "Domain" struct of dah: walked slot by slot (one
 * aor_table_scan call per page, one slot lock at a time), each slot's
 * records formatted after its release. 0, or -1 after a fault. */
static int dump_table(ul_dump_t *d, void *dah, aor_table_t *t)
{
	static aor_binding_t *v[AOR_REC_MAX];
	aor_rpc_page_t page;
	uint64_t cursor = 0;
	void *dh, *ah, *sh;
	int n, records = 0, max = 0;
	size_t off;

	if(d->rpc->struct_add(dah, "{", "Domain", &dh) < 0
			|| d->rpc->struct_add(dh, "Sd[", "Domain", &t->name, "Size",
					   (int)aor_table_size(t), "AoRs", &ah)
					   < 0) {
		d->rpc->fault(d->ctx, 500, "Internal error creating inner struct");
		return -1;
	}
	do {
		aor_rpc_page_init(&page, aor_now());
		cursor = aor_rpc_page_scan(t, &page, cursor);
		if(page.nomem) {
			d->rpc->fault(d->ctx, 500, "Out of memory");
			return -1;
		}
		if(page.dropped)
			return dump_too_big(d, t, 0);
		records += page.naors;
		if(page.naors > max)
			max = page.naors;
		off = 0;
		while((n = aor_rpc_page_rec(&page, &off, v, AOR_REC_MAX)) > 0)
			if(dump_aor(d, t, ah, v, n, page.now) < 0)
				return -1;
	} while(cursor != 0);
	if(d->rpc->struct_add(dh, "{", "Stats", &sh) < 0
			|| d->rpc->struct_add(
					   sh, "dd", "Records", records, "Max-Slots", max)
					   < 0) {
		d->rpc->fault(d->ctx, 500, "Internal error adding stats");
		return -1;
	}
	return 0;
}

static void ul_rpc_dump(rpc_t *rpc, void *ctx)
{
	str brief = STR_NULL;
	ul_dump_t d;
	aor_table_t *t;
	void *th, *dah;

	rpc->scan(ctx, "*S", &brief);
	memset(&d, 0, sizeof(d));
	d.rpc = rpc;
	d.ctx = ctx;
	d.brief = brief.len == 5 && strncmp(brief.s, "brief", 5) == 0;
	if(rpc->add(ctx, "{", &th) < 0
			|| rpc->struct_add(th, "[", "Domains", &dah) < 0) {
		rpc->fault(ctx, 500, "Internal error creating top rpc");
		return;
	}
	for(t = aor_tables(); t; t = t->next)
		if(dump_table(&d, dah, t) < 0)
			return;
}

/* ---- ul.lookup, ul.rm, ul.rm_contact ---- */

static void ul_rpc_lookup(rpc_t *rpc, void *ctx)
{
	static aor_binding_t *v[AOR_REC_MAX];
	char buf[AOR_KEY_BUF];
	str table = STR_NULL, aor = STR_NULL, key;
	time_t now = aor_now();
	aor_table_t *t;
	void *th, *ih;
	int n;

	if(rpc->scan(ctx, "S", &table) != 1 || rpc->scan(ctx, "S", &aor) != 1) {
		rpc->fault(ctx, 500, "Not enough parameters (table and AOR to lookup)");
		return;
	}
	if((t = ul_args(rpc, ctx, &table, &aor, buf, &key)) == NULL)
		return;
	n = key.s ? aor_ops_fetch(t, &key, now, v, AOR_REC_MAX) : 0;
	if(n < 0) {
		rpc->fault(ctx, 500, "Out of memory");
		return;
	}
	if(n == 0) {
		rpc->fault(ctx, 500, "AOR not found in location table");
		return;
	}
	if(rpc->add(ctx, "{", &th) < 0
			|| rpc->struct_add(th, "S[", "AoR", &key, "Contacts", &ih) < 0) {
		rpc->fault(ctx, 500, "Internal error creating aor struct");
		return;
	}
	add_contacts(rpc, ctx, ih, t, &key, v, n, now);
}

static void ul_rpc_rm(rpc_t *rpc, void *ctx)
{
	char buf[AOR_KEY_BUF];
	str table = STR_NULL, aor = STR_NULL, key = STR_NULL;
	aor_table_t *t;

	if(rpc->scan(ctx, "SS", &table, &aor) != 2) {
		rpc->fault(ctx, 500, "Not enough parameters (table and AOR to lookup)");
		return;
	}
	if((t = ul_args(rpc, ctx, &table, &aor, buf, &key)) == NULL)
		return;
	/* as stock's delete_urecord: an AoR that is not there is no error */
	if(key.s && aor_ops_remove(t, &key, NULL, NULL, AOR_ORIG_RPC) < 0)
		rpc->fault(ctx, 500, "Failed to delete AOR");
}

/* stock's get_ucontact for the contact an RPC names (Call-ID and Path of
 * ul.add's), by matching_mode: the contact's bytes, and the Call-ID (1),
 * or the Path (2), or only the Call-ID (3) */
static int ul_contact_is(const aor_binding_t *b, const void *arg)
{
	const str *ct = arg;
	str uri = aor_binding_get(b, AOR_F_URI);
	str cid = aor_binding_get(b, AOR_F_CALLID);
	str path = aor_binding_get(b, AOR_F_PATH);
	int same_uri = uri.len == ct->len && memcmp(uri.s, ct->s, uri.len) == 0;
	int same_cid = cid.len == ul_rpc_cid.len
				   && memcmp(cid.s, ul_rpc_cid.s, cid.len) == 0;
	int same_path = path.len == ul_rpc_path.len
					&& memcmp(path.s, ul_rpc_path.s, path.len) == 0;

	switch(aor_params.matching_mode) {
		case 1:
			return same_uri && same_cid;
		case 2:
			return same_uri && same_path;
		case 3:
			return same_cid;
		default:
			return same_uri;
	}
}

static void ul_rpc_rm_contact(rpc_t *rpc, void *ctx)
{
	static aor_binding_t *v[1];
	char buf[AOR_KEY_BUF];
	str table = STR_NULL, aor = STR_NULL, ct = STR_NULL, key = STR_NULL;
	aor_table_t *t;
	int n;

	if(rpc->scan(ctx, "SSS", &table, &aor, &ct) != 3) {
		rpc->fault(ctx, 500, "Not enough parameters (table, AOR and contact)");
		return;
	}
	if((t = ul_args(rpc, ctx, &table, &aor, buf, &key)) == NULL)
		return;
	n = key.s ? aor_ops_remove(t, &key, ul_contact_is, &ct, AOR_ORIG_RPC) : 0;
	if(n < 0) {
		rpc->fault(ctx, 500, "Internal error (can't delete contact)");
		return;
	}
	if(n > 0)
		return;
	if(key.s == NULL || aor_ops_fetch(t, &key, aor_now(), v, 1) <= 0)
		rpc->fault(ctx, 404, "AOR not found");
	else
		rpc->fault(ctx, 404, "Contact not found");
}

/* ---- ul.flush ---- */

/* Stock's ul.flush runs usrloc's timer on every table now: expired
 * contacts go (their events and database deletes with them), and in
 * db_mode 2 the changed ones are written. Ours sweeps every slot of every
 * table for expired bindings, one slot lock hold each (the table's size
 * in all); the database writer keeps its own pace. */
static void ul_rpc_flush(rpc_t *rpc, void *ctx)
{
	time_t now = aor_now();
	aor_table_t *t;
	uint32_t pos, size;

	/* use_expired_contacts keeps them one timer_interval, as the timer */
	if(aor_params.use_expired_contacts)
		now -= aor_params.timer_interval;
	for(t = aor_tables(); t; t = t->next)
		for(pos = 0, size = aor_table_size(t); pos < size; pos++)
			aor_table_expire_slot(t, pos, now);
}

/* ---- ul.add ---- */

/* stock's ul_rpc_is_param_set: "", "." and "0" mean not set */
static int ul_param_set(const str *p)
{
	if(p->s == NULL || p->len == 0)
		return 0;
	return p->len > 1 || (p->s[0] != '.' && p->s[0] != '0');
}

static int valid_uri(str *u)
{
	struct sip_uri pu;

	return u->len > 0 && u->len <= AOR_KEY_URI_MAX
		   && parse_uri(u->s, u->len, &pu) == 0;
}

/* the fault of an ul.add that the checks or the merge refused */
static void add_fault(rpc_t *rpc, void *ctx, int err)
{
	const char *why;

	switch(err) {
		case AOR_E_TOO_MANY:
			why = ": too many contacts (max_contacts)";
			break;
		case AOR_E_TABLE_FULL:
			why = ": table full (max_bindings)";
			break;
		case AOR_E_NOMEM:
			why = ": out of memory (shm_reserve)";
			break;
		case AOR_E_TOO_LONG:
			why = ": contact too long";
			break;
		case AOR_E_BAD_CONTACT:
			why = ": malformed contact URI";
			break;
		case AOR_E_BAD_Q:
			why = ": q out of 0..1";
			break;
		default:
			why = "";
	}
	rpc->fault(ctx, 500, "Can't insert contact%s", why);
}

/* the REGISTER an ul.add stands for, as stock's ucontact_info: ul.add's
 * Call-ID, User-Agent and CSeq, not subject to the Call-ID/CSeq order;
 * expires 0 is permanent. Returns 0 or an AOR_E_* of a bad argument. */
static int add_request(aor_regreq_t *req, aor_contact_t *contact,
		const str *key, str *ct, int expires, double q, str *path,
		unsigned int cflags, unsigned int methods, str *received, str *sock)
{
	struct socket_info *si;
	qvalue_t qv = double2q(q);

	if(!valid_uri(ct))
		return AOR_E_BAD_CONTACT;
	if(qv != Q_UNSPECIFIED && (qv < 0 || qv > 1000))
		return AOR_E_BAD_Q;
	memset(contact, 0, sizeof(*contact));
	contact->uri = *ct;
	contact->q = qv == Q_UNSPECIFIED ? AOR_Q_UNSPEC : (int16_t)qv;
	contact->expires =
			expires == 0 ? AOR_EXPIRES_PERMANENT : (expires > 0 ? expires : 0);
	contact->methods = methods;
	memset(req, 0, sizeof(*req));
	req->aor = *key;
	req->hash = aor_hash(key);
	req->callid = ul_rpc_cid;
	req->user_agent = ul_rpc_ua;
	req->cseq = UL_RPC_CSEQ;
	req->cflags = cflags;
	if(ul_param_set(path))
		req->path = *path;
	if(ul_param_set(received))
		req->received = *received;
	/* stock: a socket that is not ours is left unset, silently */
	if(ul_param_set(sock) && (si = lookup_local_socket(sock)) != NULL) {
		req->sock = si;
		req->sock_str = si->sock_str;
	}
	req->now = aor_now();
	req->operator = 1;
	req->ncontacts = 1;
	req->contacts = contact;
	return 0;
}

/* ul.add table AOR contact expires q path flags cflags methods [received
 * [socket]], through the merge and the limits of a REGISTER; flags (usrloc's
 * internal FL_* bits) are not kept */
static void ul_rpc_add(rpc_t *rpc, void *ctx)
{
	static aor_binding_t *v[AOR_REC_MAX];
	char buf[AOR_KEY_BUF];
	str table = STR_NULL, aor = STR_NULL, ct = STR_NULL, path = STR_NULL;
	str received = STR_NULL, sock = STR_NULL, key = STR_NULL;
	unsigned int flags, cflags, methods;
	aor_contact_t contact;
	aor_regreq_t req;
	aor_plan_t plan;
	aor_table_t *t;
	double q;
	int expires, n;

	n = rpc->scan(ctx, "SSSdfSuuu*SS", &table, &aor, &ct, &expires, &q, &path,
			&flags, &cflags, &methods, &received, &sock);
	if(n < 9) {
		rpc->fault(ctx, 500, "Not enough parameters or wrong format");
		return;
	}
	/* what was not given is not set (binrpc fills in a marker) */
	if(n < 10)
		received = (str)STR_NULL;
	if(n < 11)
		sock = (str)STR_NULL;
	if((t = ul_args(rpc, ctx, &table, &aor, buf, &key)) == NULL)
		return;
	if(key.s == NULL || key.len == 0) {
		rpc->fault(ctx, 500, "Can't insert record");
		return;
	}
	n = add_request(&req, &contact, &key, &ct, expires, q, &path, cflags,
			methods, &received, &sock);
	if(n == 0) {
		n = aor_ops_save(
				t, &req, &aor_limits, &plan, AOR_ORIG_RPC, v, AOR_REC_MAX);
		aor_ops_done();
	}
	if(n < 0)
		add_fault(rpc, ctx, n);
}

/* ---- ul.db_users, ul.db_contacts, ul.db_expired_contacts ---- */

/* Stock counts rows with SQL of MySQL's dialect (UNIX_TIMESTAMP, NOW());
 * ours does not query the database from an RPC process */
static void ul_rpc_db_count(rpc_t *rpc, void *ctx)
{
	if(aor_params.db_mode == 0) {
		rpc->fault(ctx, 500, "Command is not supported in db_mode=0");
		return;
	}
	rpc->fault(ctx, 500,
			"Command is not supported by the aor module: use SQL on the"
			" location table, or aor.count");
}

/* clang-format off */
static const char *ul_rpc_dump_doc[2] = {
	"Dump user location tables (usrloc's; bounded: use aor.list)", 0};
static const char *ul_rpc_lookup_doc[2] = {
	"Lookup one AOR in the usrloc location table", 0};
static const char *ul_rpc_rm_doc[2] = {
	"Delete an address of record including its contacts", 0};
static const char *ul_rpc_rm_contact_doc[2] = {
	"Delete a contact from an AOR record", 0};
static const char *ul_rpc_flush_doc[2] = {
	"Remove the expired contacts now, as usrloc's timer", 0};
static const char *ul_rpc_add_doc[2] = {
	"Add a new contact for an address of record", 0};
static const char *ul_rpc_db_users_doc[2] = {
	"Not supported: count the database rows with SQL", 0};
static const char *ul_rpc_db_contacts_doc[2] = {
	"Not supported: count the database rows with SQL", 0};
static const char *ul_rpc_db_expired_contacts_doc[2] = {
	"Not supported: count the database rows with SQL", 0};

rpc_export_t aor_ul_rpc_cmds[] = {
	{"ul.dump", ul_rpc_dump, ul_rpc_dump_doc, 0},
	{"ul.lookup", ul_rpc_lookup, ul_rpc_lookup_doc, 0},
	{"ul.rm", ul_rpc_rm, ul_rpc_rm_doc, 0},
	{"ul.rm_contact", ul_rpc_rm_contact, ul_rpc_rm_contact_doc, 0},
	{"ul.flush", ul_rpc_flush, ul_rpc_flush_doc, 0},
	{"ul.add", ul_rpc_add, ul_rpc_add_doc, 0},
	{"ul.db_users", ul_rpc_db_count, ul_rpc_db_users_doc, 0},
	{"ul.db_contacts", ul_rpc_db_count, ul_rpc_db_contacts_doc, 0},
	{"ul.db_expired_contacts", ul_rpc_db_count,
		ul_rpc_db_expired_contacts_doc, 0},
	{0, 0, 0, 0}
};
/* clang-format on */
