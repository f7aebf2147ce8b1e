/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * ulprobe: a test module that binds the usrloc C API as any consumer does
 * (find_export("ul_bind_usrloc")) and calls each member from an RPC
 * command, so that the integration tests can compare stock usrloc and aor
 * member by member. Its callback counts each type and, from inside the
 * callback, reads the record again (a callback that calls the API).
 */

#include <string.h>
#include <stdlib.h>

#include "../../core/sr_module.h"
#include "../../core/rpc_lookup.h"
#include "../../core/mem/shm_mem.h"
#include "../../core/dprint.h"
#include "../../core/mod_fix.h"
#include "../usrloc/usrloc.h"
#include "../registrar/api.h"

MODULE_VERSION

static usrloc_api_t ul;
static registrar_api_t reg;
static int *cb_count; /* shm: [0..3] by type bit, [4] contacts seen in
					   * the callback's own get_urecord, [5] not found */

static void probe_cb(ucontact_t *c, int type, void *param)
{
	udomain_t *d;
	urecord_t *r = NULL;
	ucontact_t *p;
	int i;

	for(i = 0; i < 4; i++)
		if(type & (1 << i))
			cb_count[i]++;
	if(ul.get_udomain(c->domain->s, &d) < 0)
		return;
	ul.lock_udomain(d, c->aor);
	if(ul.get_urecord(d, c->aor, &r) == 0) {
		for(p = r->contacts; p; p = p->next)
			cb_count[4]++;
		ul.release_urecord(r);
	} else
		cb_count[5]++;
	ul.unlock_udomain(d, c->aor);
}

static int mod_init(void);
static rpc_export_t rpc_cmds[];

/* the registrar API from the script: reg_api(member, table[, uri]) */
static int w_reg_api(sip_msg_t *msg, char *pm, char *pt, char *pu)
{
	str m, t, u = STR_NULL;

	if(get_str_fparam(&m, msg, (fparam_t *)pm) < 0
			|| get_str_fparam(&t, msg, (fparam_t *)pt) < 0)
		return -1;
	if(pu && get_str_fparam(&u, msg, (fparam_t *)pu) < 0)
		return -1;
	if(m.len == 4 && strncmp(m.s, "save", 4) == 0)
		return u.len ? reg.save_uri(msg, &t, 0, &u) : reg.save(msg, &t, 0);
	if(m.len == 6 && strncmp(m.s, "lookup", 6) == 0)
		return u.len ? reg.lookup_uri(msg, &t, &u) : reg.lookup(msg, &t);
	if(m.len == 10 && strncmp(m.s, "registered", 10) == 0)
		return reg.registered(msg, &t);
	if(m.len == 14 && strncmp(m.s, "lookup_to_dset", 14) == 0)
		return reg.lookup_to_dset(msg, &t, u.len ? &u : NULL);
	/* set_q_override: the q is the third argument */
	if(m.len == 14 && strncmp(m.s, "set_q_override", 14) == 0)
		return reg.set_q_override(msg, &u);
	return -1;
}

static int w_reg_api2(sip_msg_t *msg, char *pm, char *pt)
{
	return w_reg_api(msg, pm, pt, NULL);
}

static cmd_export_t cmds[] = {
		{"reg_api", (cmd_function)w_reg_api2, 2, fixup_spve_spve, 0,
				ANY_ROUTE},
		{"reg_api", (cmd_function)w_reg_api, 3, fixup_spve_all, 0, ANY_ROUTE},
		{0, 0, 0, 0, 0, 0}};

struct module_exports exports = {"ulprobe", DEFAULT_DLFLAGS, cmds, 0, 0, 0,
		0, mod_init, 0, 0};

static int mod_init(void)
{
	bind_usrloc_t bind;
	udomain_t *dom;

	bind = (bind_usrloc_t)find_export("ul_bind_usrloc", 1, 0);
	if(bind == NULL || bind(&ul) < 0) {
		LM_ERR("can't bind usrloc\n");
		return -1;
	}
	if(registrar_load_api(&reg) != 0)
		return -1;
	/* as consumers do in their fixups: the table exists before the fork */
	if(ul.register_udomain("location", &dom) < 0)
		return -1;
	cb_count = shm_malloc(6 * sizeof(int));
	if(cb_count == NULL)
		return -1;
	memset(cb_count, 0, 6 * sizeof(int));
	if(ul.register_ulcb(UL_CONTACT_INSERT | UL_CONTACT_UPDATE
							   | UL_CONTACT_DELETE | UL_CONTACT_EXPIRE,
			   probe_cb, NULL)
			< 0)
		return -1;
	if(rpc_register_array(rpc_cmds) != 0)
		return -1;
	return 0;
}

static int domain(rpc_t *rpc, void *ctx, str *t, udomain_t **d)
{
	char name[64];

	if(t->len >= (int)sizeof(name))
		return -1;
	memcpy(name, t->s, t->len);
	name[t->len] = '\0';
	return ul.get_udomain(name, d);
}

static void add_contacts(rpc_t *rpc, void *ctx, void *h, urecord_t *r)
{
	ucontact_t *c;
	void *a, *e;

	rpc->struct_add(h, "[", "contacts", &a);
	for(c = r ? r->contacts : NULL; c; c = c->next) {
		rpc->array_add(a, "{", &e);
		rpc->struct_add(e, "SSSddd", "uri", &c->c, "ruid", &c->ruid,
				"callid", &c->callid, "cseq", c->cseq, "q", (int)c->q,
				"expires", (int)(c->expires - time(NULL)));
	}
}

/* ulprobe.get table aor: get_urecord's code and the record */
static void probe_get(rpc_t *rpc, void *ctx)
{
	str t, aor;
	udomain_t *d;
	urecord_t *r = NULL;
	void *h;
	int rc;

	if(rpc->scan(ctx, "SS", &t, &aor) < 2)
		return;
	if(domain(rpc, ctx, &t, &d) < 0) {
		rpc->fault(ctx, 404, "no domain");
		return;
	}
	ul.lock_udomain(d, &aor);
	rc = ul.get_urecord(d, &aor, &r);
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "d", "rc", rc);
	if(rc == 0) {
		rpc->struct_add(h, "Sd", "aor", &r->aor, "hash_ok",
				r->aorhash == ul.get_aorhash(&aor));
		add_contacts(rpc, ctx, h, r);
		ul.release_urecord(r);
	}
	ul.unlock_udomain(d, &aor);
}

/* ulprobe.by_ruid table aor ruid: get_urecord_by_ruid (locks on success) */
static void probe_by_ruid(rpc_t *rpc, void *ctx)
{
	str t, aor, ruid;
	udomain_t *d;
	urecord_t *r = NULL;
	ucontact_t *c = NULL;
	void *h;
	int rc;

	if(rpc->scan(ctx, "SSS", &t, &aor, &ruid) < 3)
		return;
	if(domain(rpc, ctx, &t, &d) < 0) {
		rpc->fault(ctx, 404, "no domain");
		return;
	}
	rc = ul.get_urecord_by_ruid(d, ul.get_aorhash(&aor), &ruid, &r, &c);
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "d", "rc", rc);
	if(rc == 0) {
		rpc->struct_add(h, "SS", "uri", &c->c, "ruid", &c->ruid);
		ul.release_urecord(r);
		ul.unlock_udomain(d, &aor);
	}
}

/* ulprobe.put table aor contact expires cseq: as dmq_usrloc's add_contact:
 * get_ucontact, then insert_ucontact or update_ucontact */
static void probe_put(rpc_t *rpc, void *ctx)
{
	str t, aor, ct, callid = str_init("ulprobe-callid");
	str ua = str_init("ulprobe");
	udomain_t *d;
	urecord_t *r = NULL;
	ucontact_t *c = NULL;
	ucontact_info_t ci;
	int expires, cseq, rc, grc;
	void *h;

	if(rpc->scan(ctx, "SSSdd", &t, &aor, &ct, &expires, &cseq) < 5)
		return;
	if(domain(rpc, ctx, &t, &d) < 0) {
		rpc->fault(ctx, 404, "no domain");
		return;
	}
	memset(&ci, 0, sizeof(ci));
	ci.c = &ct;
	ci.callid = &callid;
	ci.user_agent = &ua;
	/* a ruid of the consumer's own, as dmq_usrloc passes its peer's */
	ci.ruid.s = "ulprobe-ruid-1";
	ci.ruid.len = strlen(ci.ruid.s);
	ci.cseq = cseq;
	ci.q = Q_UNSPECIFIED;
	ci.expires = expires ? time(NULL) + expires : 0;
	ci.methods = 0xffffffff;
	ci.last_modified = time(NULL);
	ul.lock_udomain(d, &aor);
	rc = ul.get_urecord(d, &aor, &r);
	if(rc > 0)
		rc = ul.insert_urecord(d, &aor, &r);
	if(rc < 0) {
		ul.unlock_udomain(d, &aor);
		rpc->fault(ctx, 500, "no record");
		return;
	}
	grc = ul.get_ucontact(r, &ct, &callid, NULL, cseq, &c);
	if(grc > 0)
		rc = ul.insert_ucontact(r, &ct, &ci, &c);
	else if(grc == 0)
		rc = ul.update_ucontact(r, c, &ci);
	else
		rc = grc;
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "dd", "get_ucontact", grc, "rc", rc);
	add_contacts(rpc, ctx, h, r);
	ul.release_urecord(r);
	ul.unlock_udomain(d, &aor);
}

/* ulprobe.del table aor contact: get_ucontact then delete_ucontact */
static void probe_del(rpc_t *rpc, void *ctx)
{
	str t, aor, ct, callid = str_init("ulprobe-none");
	udomain_t *d;
	urecord_t *r = NULL;
	ucontact_t *c = NULL;
	int rc;
	void *h;

	if(rpc->scan(ctx, "SSS", &t, &aor, &ct) < 3)
		return;
	if(domain(rpc, ctx, &t, &d) < 0) {
		rpc->fault(ctx, 404, "no domain");
		return;
	}
	ul.lock_udomain(d, &aor);
	rc = ul.get_urecord(d, &aor, &r);
	if(rc == 0) {
		rc = ul.get_ucontact(r, &ct, &callid, NULL, 1, &c);
		if(rc == 0)
			rc = ul.delete_ucontact(r, c) == 0 ? 0 : -9;
		ul.release_urecord(r);
	}
	ul.unlock_udomain(d, &aor);
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "d", "rc", rc);
}

/* ulprobe.delrec table aor: delete_urecord */
static void probe_delrec(rpc_t *rpc, void *ctx)
{
	str t, aor;
	udomain_t *d;
	void *h;
	int rc;

	if(rpc->scan(ctx, "SS", &t, &aor) < 2)
		return;
	if(domain(rpc, ctx, &t, &d) < 0) {
		rpc->fault(ctx, 404, "no domain");
		return;
	}
	ul.lock_udomain(d, &aor);
	rc = ul.delete_urecord(d, &aor, NULL);
	ul.unlock_udomain(d, &aor);
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "d", "rc", rc);
}

/* ulprobe.by_instance table aor instance reg_id:
 * get_ucontact_by_instance's code and contact */
static void probe_by_instance(rpc_t *rpc, void *ctx)
{
	str t, aor, inst, none = str_init("sip:none@invalid");
	str callid = str_init("ulprobe-none");
	udomain_t *d;
	urecord_t *r = NULL;
	ucontact_t *c = NULL;
	ucontact_info_t ci;
	int regid, rc;
	void *h;

	if(rpc->scan(ctx, "SSSd", &t, &aor, &inst, &regid) < 4)
		return;
	if(domain(rpc, ctx, &t, &d) < 0) {
		rpc->fault(ctx, 404, "no domain");
		return;
	}
	memset(&ci, 0, sizeof(ci));
	ci.instance = inst;
	ci.reg_id = regid;
	ci.callid = &callid;
	ci.cseq = 1;
	ul.lock_udomain(d, &aor);
	rc = ul.get_urecord(d, &aor, &r);
	if(rc == 0) {
		rc = ul.get_ucontact_by_instance(r, &none, &ci, &c);
		rpc->add(ctx, "{", &h);
		rpc->struct_add(h, "d", "rc", rc);
		if(rc == 0)
			rpc->struct_add(h, "S", "uri", &c->c);
		ul.release_urecord(r);
	} else {
		rpc->add(ctx, "{", &h);
		rpc->struct_add(h, "d", "rc", rc);
	}
	ul.unlock_udomain(d, &aor);
}

/* ulprobe.delruid table ruid: delete_urecord_by_ruid's code */
static void probe_delruid(rpc_t *rpc, void *ctx)
{
	str t, ruid;
	udomain_t *d;
	void *h;

	if(rpc->scan(ctx, "SS", &t, &ruid) < 2)
		return;
	if(domain(rpc, ctx, &t, &d) < 0) {
		rpc->fault(ctx, 404, "no domain");
		return;
	}
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "d", "rc", ul.delete_urecord_by_ruid(d, &ruid));
}

/* ulprobe.domain name: get_udomain's code */
static void probe_domain(rpc_t *rpc, void *ctx)
{
	str t;
	udomain_t *d;
	void *h;

	if(rpc->scan(ctx, "S", &t) < 1)
		return;
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "d", "rc", domain(rpc, ctx, &t, &d) < 0 ? -1 : 0);
}

/* ulprobe.all flags: the contacts get_all_ucontacts packs, whole table */
static void probe_all(rpc_t *rpc, void *ctx)
{
	int flags = 0, len = 0, rc, n = 0;
	char *buf = NULL, *cp;
	str c;
	void *h;

	if(rpc->scan(ctx, "*d", &flags) < 1)
		flags = 0;
	rc = ul.get_all_ucontacts(NULL, 0, flags, 0, 1, 0);
	if(rc > 0) {
		len = rc * 2;
		buf = malloc(len);
		if(buf == NULL)
			return;
		rc = ul.get_all_ucontacts(buf, len, flags, 0, 1, 0);
	}
	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "d", "rc", rc);
	for(cp = buf; buf && rc == 0;) {
		str s;
		int l;
		memcpy(&c.len, cp, sizeof(c.len));
		if(c.len == 0)
			break;
		c.s = cp + sizeof(c.len);
		cp += sizeof(c.len) + c.len;
		memcpy(&l, cp, sizeof(l)); /* received */
		cp += sizeof(l) + l;
		cp += sizeof(void *) + sizeof(unsigned int);
		memcpy(&l, cp, sizeof(l)); /* path */
		cp += sizeof(l) + l;
		memcpy(&l, cp, sizeof(l)); /* ruid */
		s.s = cp + sizeof(l);
		s.len = l;
		cp += sizeof(l) + l;
		cp += sizeof(unsigned int);
		rpc->struct_add(h, "S", "contact", &c);
		(void)s;
		n++;
	}
	rpc->struct_add(h, "d", "n", n);
	free(buf);
}

/* ulprobe.cbs: the callback counts */
static void probe_cbs(rpc_t *rpc, void *ctx)
{
	void *h;

	rpc->add(ctx, "{", &h);
	rpc->struct_add(h, "dddddd", "insert", cb_count[0], "update",
			cb_count[1], "delete", cb_count[2], "expire", cb_count[3],
			"seen", cb_count[4], "not_found", cb_count[5]);
}

static const char *doc[] = {"ulprobe", 0};
static rpc_export_t rpc_cmds[] = {{"ulprobe.get", probe_get, doc, 0},
		{"ulprobe.by_ruid", probe_by_ruid, doc, 0},
		{"ulprobe.put", probe_put, doc, 0}, {"ulprobe.del", probe_del, doc, 0},
		{"ulprobe.delrec", probe_delrec, doc, 0},
		{"ulprobe.domain", probe_domain, doc, 0},
		{"ulprobe.by_instance", probe_by_instance, doc, 0},
		{"ulprobe.delruid", probe_delruid, doc, 0},
		{"ulprobe.all", probe_all, doc, 0}, {"ulprobe.cbs", probe_cbs, doc, 0},
		{0, 0, 0, 0}};
