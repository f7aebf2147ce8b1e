/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * One binding (a registered contact of an AoR) held in one allocation: the
 * fixed fields, then its strings packed inline and addressed by offsets, so
 * that a copy is one memcpy and a free is one allocator call. Also the
 * expiry arithmetic and the ruid. URI equality, the plain-URI fast path and
 * the AoR key are in uri.h, included here for the callers of both.
 */

#ifndef AOR_BINDING_H
#define AOR_BINDING_H

#include <stdint.h>
#include <time.h>
#include "../../core/str.h"
#include "uri.h"

/* the strings a binding holds, in storage order */
enum aor_field
{
	AOR_F_AOR,		/* the AoR key, "user@domain" or "user" */
	AOR_F_URI,		/* the Contact URI */
	AOR_F_RECEIVED, /* source address when it differs from the Contact */
	AOR_F_PATH,		/* RFC 3327 Path, comma separated */
	AOR_F_UA,		/* User-Agent */
	AOR_F_CALLID,	/* Call-ID */
	AOR_F_INSTANCE, /* +sip.instance value, as the parser gives it */
	AOR_F_SOCK,		/* receiving socket as text, e.g. "udp:127.0.0.1:5060" */
	AOR_F_COUNT
};

/* longest string a binding holds in all (offsets are 16 bits) */
#define AOR_BINDING_MAX_DATA 65535

#define AOR_Q_UNSPEC (-1) /* no q given; q is in thousandths otherwise */

typedef struct aor_binding
{
	struct aor_binding *next; /* slot chain; an AoR's bindings are adjacent */
	uint64_t id;			  /* unique; the ruid is formatted from it */
	uint64_t version;		  /* orders its changes (store.h) */
	time_t expires;			  /* absolute, seconds; 0 means permanent */
	time_t modified;		  /* last REGISTER that touched it */
	void *sock;				  /* struct socket_info * of the glue, or NULL */
	uint32_t hash;			  /* full hash of the AoR */
	uint32_t cseq;
	uint32_t cflags;  /* branch flags restored on lookup */
	uint32_t methods; /* allowed methods bitmask, all bits = any */
	int32_t reg_id;	  /* RFC 5626 reg-id, 0 when absent */
	int32_t conn_id;  /* TCP/TLS/WS connection it came on, 0 when none */
	int16_t q;		  /* 0..1000 or AOR_Q_UNSPEC */
	uint32_t ka_rtt;  /* last keepalive round trip, microseconds */
	time_t ka_last;	  /* last keepalive answer, 0 none (keepalive.c) */
	uint16_t off[AOR_F_COUNT + 1];
	char data[];
} aor_binding_t;

/* what a new binding is built from; strings are copied */
typedef struct aor_binding_in
{
	str f[AOR_F_COUNT];
	uint64_t id;
	uint64_t version; /* 0: none yet (the store gives one) */
	time_t expires;
	time_t modified;
	void *sock;
	uint32_t hash;
	uint32_t cseq;
	uint32_t cflags;
	uint32_t methods;
	int32_t reg_id;
	int32_t conn_id;
	int16_t q;
} aor_binding_in_t;

/* The string field f of b (points into b; not NUL-terminated). */
static inline str aor_binding_get(const aor_binding_t *b, enum aor_field f)
{
	str s;

	s.s = (char *)b->data + b->off[f];
	s.len = b->off[f + 1] - b->off[f];
	return s;
}

/* Bytes b occupies, header and strings; a copy of that many bytes is a
 * complete, usable binding (its next pointer aside). */
static inline size_t aor_binding_size(const aor_binding_t *b)
{
	return sizeof(aor_binding_t) + b->off[AOR_F_COUNT];
}

/* Bytes a binding built from in would occupy, or 0 when its strings
 * exceed AOR_BINDING_MAX_DATA. */
size_t aor_binding_size_in(const aor_binding_in_t *in);

/* Builds a binding from in in one AOR_ALLOC block. Returns it (next is
 * NULL), or NULL when out of memory or a string is too long (size_in 0).
 * Freed with AOR_FREE. */
aor_binding_t *aor_binding_new(const aor_binding_in_t *in);

/* 1 when the strings of b equal those of in (so a refresh may update b in
 * place), 0 otherwise. */
int aor_binding_same_strings(
		const aor_binding_t *b, const aor_binding_in_t *in);

/* Copies the scalar fields of in into b (a refresh in place). */
void aor_binding_refresh(aor_binding_t *b, const aor_binding_in_t *in);

/* 1 when b has expired at now; permanent bindings never expire. */
static inline int aor_binding_expired(const aor_binding_t *b, time_t now)
{
	return b->expires != 0 && b->expires <= now;
}

/* Seconds b has left at now (0 when expired); permanent bindings: 0. */
static inline long aor_binding_left(const aor_binding_t *b, time_t now)
{
	if(b->expires == 0 || b->expires <= now)
		return 0;
	return (long)(b->expires - now);
}

/* now + rel, clamped so that absurd values cannot overflow; rel >= 0. */
time_t aor_expires_abs(time_t now, long long rel);

/* Formats the ruid of b into buf (at least AOR_RUID_LEN + 1 bytes); returns
 * its length. */
#define AOR_RUID_LEN 20
int aor_ruid_fmt(uint64_t id, char *buf);

/* Parses a ruid made by aor_ruid_fmt; 0 and *id set, or -1. */
int aor_ruid_parse(const str *s, uint64_t *id);

#endif /* AOR_BINDING_H */
