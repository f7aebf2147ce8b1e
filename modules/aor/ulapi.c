/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The usrloc C API (see ulapi.h): the binding, the domains, and the reads
 * nathelper makes every interval (get_all_ucontacts, the keepalives).
 */

#include <string.h>

#include "../../core/dprint.h"
#include "../../core/ip_addr.h"
#include "../../core/globals.h"
#include "../../core/locking.h"
#include "../../core/mem/shm_mem.h"

#include "sys.h"
#include "errors.h"
#include "params.h"
#include "ops.h"
#include "ulapi.h"

/* set by nathelper's mod_init (before the fork), as stock keeps them */
static int ul_keepalive_timeout = 0;
static unsigned int ul_max_partition = 0;

time_t aor_ul_ka_last(const aor_binding_t *b)
{
	/* stock sets last_keepalive at insert and update, and at each answer */
	return b->ka_last > b->modified ? b->ka_last : b->modified;
}

str *aor_ul_domain_name(aor_table_t *t)
{
	/* the table's name lives as long as the table and is NUL-terminated
	 * (aor_table_new copies it with a terminator) */
	return &t->name;
}

void aor_ul_contact_fill(ucontact_t *c, const aor_binding_t *b, str *aor,
		str *domain, char *rbuf, unsigned int flags)
{
	memset(c, 0, sizeof(*c));
	c->domain = domain;
	c->ruid.s = rbuf;
	c->ruid.len = aor_ruid_fmt(b->id, rbuf);
	c->aor = aor;
	c->c = aor_binding_get(b, AOR_F_URI);
	c->received = aor_binding_get(b, AOR_F_RECEIVED);
	c->path = aor_binding_get(b, AOR_F_PATH);
	c->expires = b->expires;
	c->q = b->q;
	c->callid = aor_binding_get(b, AOR_F_CALLID);
	c->cseq = (int)b->cseq;
	c->state = CS_SYNC;
	c->flags = flags;
	c->cflags = b->cflags;
	c->user_agent = aor_binding_get(b, AOR_F_UA);
	c->sock = (struct socket_info *)b->sock;
	c->last_modified = b->modified;
	c->last_keepalive = aor_ul_ka_last(b);
	c->ka_roundtrip = b->ka_rtt;
	c->methods = b->methods;
	c->instance = aor_binding_get(b, AOR_F_INSTANCE);
	c->reg_id = (unsigned int)b->reg_id;
	c->server_id = server_id;
	c->tcpconn_id = b->conn_id ? b->conn_id : -1;
	/* stock new_ucontact: a contact with nat_bflag is kept alive */
	c->keepalive = aor_params.nat_bflag >= 0
				   && (b->cflags & (1u << aor_params.nat_bflag));
}

/* ---- domains: our tables ---- */

/* stock's register_udomain: the table named n, made when the script has
 * not named it yet (only before the fork, as stock's) */
static int aul_register_udomain(const char *n, udomain_t **d)
{
	str name;
	aor_table_t *t;

	if(n == NULL || d == NULL)
		return -1;
	name.s = (char *)n;
	name.len = strlen(n);
	t = aor_table_get(&name);
	if(t == NULL)
		return -1;
	*d = (udomain_t *)t;
	return 0;
}

/* stock's get_udomain: finds, never makes */
static int aul_get_udomain(const char *n, udomain_t **d)
{
	aor_table_t *t;
	int len;

	if(n == NULL || d == NULL)
		return -1;
	len = strlen(n);
	for(t = aor_tables(); t; t = t->next)
		if(t->name.len == len && strncasecmp(t->name.s, n, len) == 0) {
			*d = (udomain_t *)t;
			return 0;
		}
	*d = NULL;
	return -1;
}

/* ---- get_all_ucontacts: stock's packed layout ---- */

#define UL_LATE_MAX 256 /* silent contacts one call shortens, at most */

typedef struct pack
{
	char *cp;
	int len; /* room left, the terminator's excluded */
	int shortage;
	unsigned int flags;
	time_t now;
	int nlate;
	struct
	{
		uint32_t hash;
		uint64_t id;
	} late[UL_LATE_MAX]; /* UDP contacts past the keepalive timeout */
} pack_t;

/* one contact as dlist.c's get_all_mem_ucontacts lays it out and
 * nathelper's nh_timer reads it: c.len c.s received.len received.s sock
 * cflags path.len path.s ruid.len ruid.s aorhash (unaligned ints) */
static void pack_cb(const aor_binding_t *b, void *arg)
{
	pack_t *p = arg;
	char rbuf[AOR_RUID_LEN + 1];
	str c, rcv, path, ruid;
	void *sock = b->sock;
	unsigned int cflags = b->cflags, aorhash = b->hash;
	int needed;

	if(aor_binding_expired(b, p->now) || (b->cflags & p->flags) != p->flags)
		return;
	c = aor_binding_get(b, AOR_F_URI);
	if(c.len <= 0)
		return;
	/* stock: a UDP contact silent for keepalive_timeout is not pinged and
	 * expires in 10 s (done after the walk, through ops.c) */
	if(ul_keepalive_timeout > 0 && b->sock
			&& ((struct socket_info *)b->sock)->proto == PROTO_UDP
			&& aor_ul_ka_last(b) + ul_keepalive_timeout < p->now) {
		if((b->expires == 0 || b->expires > p->now + 10)
				&& p->nlate < UL_LATE_MAX) {
			p->late[p->nlate].hash = b->hash;
			p->late[p->nlate].id = b->id;
			p->nlate++;
		}
		return;
	}
	rcv = aor_binding_get(b, AOR_F_RECEIVED);
	path = aor_binding_get(b, AOR_F_PATH);
	ruid.s = rbuf;
	ruid.len = aor_ruid_fmt(b->id, rbuf);
	needed = (int)(sizeof(c.len) + c.len + sizeof(rcv.len) + rcv.len
				   + sizeof(sock) + sizeof(cflags) + sizeof(path.len)
				   + path.len + sizeof(ruid.len) + ruid.len
				   + sizeof(aorhash));
	if(p->len < needed) {
		p->shortage += needed;
		return;
	}
#define PUT(src, n)               \
	do {                          \
		memcpy(p->cp, (src), (n)); \
		p->cp += (n);             \
	} while(0)
	PUT(&c.len, sizeof(c.len));
	PUT(c.s, c.len);
	PUT(&rcv.len, sizeof(rcv.len));
	PUT(rcv.s, rcv.len);
	PUT(&sock, sizeof(sock));
	PUT(&cflags, sizeof(cflags));
	PUT(&path.len, sizeof(path.len));
	PUT(path.s, path.len);
	PUT(&ruid.len, sizeof(ruid.len));
	PUT(ruid.s, ruid.len);
	PUT(&aorhash, sizeof(aorhash));
#undef PUT
	p->len -= needed;
}

/* Stock's contract: the contacts of every table whose cflags include all
 * of flags, of the slots i with i % part_max == part_idx, packed into buf,
 * then a zero length. Returns 0, or how many more bytes were needed (the
 * caller retries with a larger buffer). Bounded: each slot is one lock
 * hold, and one call visits size / part_max slots of each table. All our
 * contacts are this server's, so GAU_OPT_SERVER_ID filters none out. */
static int aul_get_all_ucontacts(void *buf, int len, unsigned int flags,
		unsigned int part_idx, unsigned int part_max, int options)
{
	static pack_t p; /* its late[] is large for the stack */
	aor_table_t *t;
	int zero = 0, i;

	p.cp = buf;
	p.len = len - (int)sizeof(zero); /* room for the terminating 0 */
	p.shortage = 0;
	p.flags = flags;
	p.now = aor_now();
	if(part_max == 0) {
		part_max = 1;
		part_idx = 0;
	}
	if(part_idx < part_max)
		for(t = aor_tables(); t; t = t->next) {
			p.nlate = 0;
			aor_table_visit_stride(t, part_idx, part_max, pack_cb, &p);
			for(i = 0; i < p.nlate; i++)
				aor_ops_expire_by(t, p.late[i].hash, p.late[i].id, p.now + 10,
						AOR_ORIG_LOCAL);
		}
	if(p.len >= 0)
		memcpy(p.cp, &zero, sizeof(zero));
	p.shortage -= p.len;
	return p.shortage > 0 ? p.shortage : 0;
}

/* ---- keepalives ---- */

static int aul_set_keepalive_timeout(int to)
{
	int prev = ul_keepalive_timeout;

	/* nathelper sets it in its mod_init, before the fork */
	ul_keepalive_timeout = to;
	return prev;
}

/* Stock records the time of the reply to a SIP ping: the binding's entry
 * of the keepalive table. 0 when the binding exists, -1 otherwise. */
static int aul_refresh_keepalive(unsigned int aorhash, str *ruid)
{
	aor_table_t *t;
	uint64_t id;

	if(ruid == NULL || aor_ruid_parse(ruid, &id) < 0)
		return -1;
	/* stock's ul_refresh_keepalive: the answer's time, round trip 0 */
	for(t = aor_tables(); t; t = t->next)
		if(aor_ops_ka_answered(t, aorhash, id, aor_now(), 0))
			return 0;
	return -1;
}

static void aul_set_max_partition(unsigned int m)
{
	ul_max_partition = m;
}

static unsigned int aul_get_aorhash(str *aor)
{
	return aor ? aor_hash(aor) : 0;
}

/* ---- the binding ---- */

int aor_ul_bind(usrloc_api_t *api)
{
	if(api == NULL) {
		LM_ERR("invalid parameter value\n");
		return -1;
	}
	/* the API's locks and tables in shm, made only when a module binds
	 * (its mod_init, before the fork): a config without one pays nothing */
	if(aor_ul_rec_init() < 0)
		return -1;
	memset(api, 0, sizeof(*api));
	api->use_domain = aor_params.use_domain;
	/* usrloc's db_mode, except that the API is always served from our
	 * store: DB-only (3) shows as write-through, so that no consumer
	 * queries the table itself */
	api->db_mode = aor_params.db_mode == 3 ? 1 : aor_params.db_mode;
	api->nat_flag =
			aor_params.nat_bflag >= 0 ? 1u << aor_params.nat_bflag : 0;

	api->register_udomain = aul_register_udomain;
	api->get_udomain = aul_get_udomain;
	api->get_all_ucontacts = aul_get_all_ucontacts;
	api->insert_urecord = aor_ul_insert_urecord;
	api->delete_urecord = aor_ul_delete_urecord;
	api->delete_urecord_by_ruid = aor_ul_delete_urecord_by_ruid;
	api->get_urecord = aor_ul_get_urecord;
	api->lock_udomain = aor_ul_lock_udomain;
	api->unlock_udomain = aor_ul_unlock_udomain;
	api->release_urecord = aor_ul_release_urecord;
	api->insert_ucontact = aor_ul_insert_ucontact;
	api->delete_ucontact = aor_ul_delete_ucontact;
	api->get_ucontact = aor_ul_get_ucontact;
	api->get_urecord_by_ruid = aor_ul_get_urecord_by_ruid;
	api->get_ucontact_by_instance = aor_ul_get_ucontact_by_instance;
	api->update_ucontact = aor_ul_update_ucontact;
	api->register_ulcb = aor_ul_register_cb;
	api->get_aorhash = aul_get_aorhash;
	api->set_keepalive_timeout = aul_set_keepalive_timeout;
	api->refresh_keepalive = aul_refresh_keepalive;
	api->set_max_partition = aul_set_max_partition;
	(void)ul_max_partition;
	return 0;
}

int aor_ulapi_init(void)
{
	return aor_ul_cb_init();
}

void aor_ulapi_destroy(void)
{
	aor_ul_rec_destroy();
}
