/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The wire format of replication (repl.c), pure so that it is unit-tested
 * and fuzzed without Kamailio. A message body is text:
 *
 *   aor-repl 1 TYPE NODE TABLE\n      the header (TYPE a word; NODE the
 *                                     sender's id residue; TABLE a netstring)
 *   P id version expires modified cseq cflags methods reg_id q S...\n
 *                                     a binding: its numbers in decimal, then
 *                                     its AOR_F_COUNT strings as netstrings
 *                                     ("len:bytes"), in enum aor_field order
 *   D id version S\n                  a removal of binding id of AoR S
 *   X id version reg_id S U I\n       a removal of binding id of AoR S, of
 *                                     the contact of URI U and instance I
 *   G first count HEX...\n            digests of ranges first..first+count-1,
 *                                     16 hex digits each
 *   N key value\n                     a number (sync totals)
 *
 * Every length is checked against the end of the body; nothing is trusted.
 */

#ifndef AOR_REPLFMT_H
#define AOR_REPLFMT_H

#include <stdint.h>
#include "binding.h"

#define AOR_REPL_MAGIC "aor-repl 1 "

/* a growing process-memory buffer */
typedef struct aor_rbuf
{
	char *s;
	int len, cap;
} aor_rbuf_t;

int aor_rbuf_reserve(aor_rbuf_t *b, int n);
void aor_rbuf_free(aor_rbuf_t *b);

/* the header of a message of type (a word) from node about table */
int aor_repl_put_header(aor_rbuf_t *b, const char *type, unsigned int node,
		const str *table);
/* a binding (every field but the node-local ones: socket pointer,
 * connection, keepalive) */
int aor_repl_put_binding(aor_rbuf_t *b, const aor_binding_t *bd);
/* a removal of binding id at version of AoR aor */
int aor_repl_put_del(
		aor_rbuf_t *b, uint64_t id, uint64_t version, const str *aor);
/* a removal of binding id at version of AoR aor, contact uri / instance
 * / reg_id */
int aor_repl_put_rm(aor_rbuf_t *b, uint64_t id, uint64_t version,
		const str *aor, const str *uri, const str *instance, int32_t reg_id);
/* digests d[0..count) of ranges first.. */
int aor_repl_put_digests(
		aor_rbuf_t *b, uint32_t first, uint32_t count, const uint64_t *d);
int aor_repl_put_num(aor_rbuf_t *b, const char *key, uint64_t v);

enum aor_repl_rec_type
{
	AOR_RR_BINDING = 'P',
	AOR_RR_DEL = 'D',
	AOR_RR_RM = 'X', /* a removal naming its contact: in.f[AOR_F_AOR],
					  * in.f[AOR_F_URI], in.f[AOR_F_INSTANCE], in.reg_id */
	AOR_RR_DIGESTS = 'G',
	AOR_RR_NUM = 'N'
};

#define AOR_REPL_DIGESTS_MAX 1024 /* ranges in one G record at most */

typedef struct aor_repl_rec
{
	enum aor_repl_rec_type type;
	aor_binding_in_t in; /* P: the strings point into the body; D: in.f[AOR_F_AOR] */
	uint64_t id, version;
	uint32_t first, count; /* G */
	uint64_t digest[AOR_REPL_DIGESTS_MAX];
	str key; /* N */
	uint64_t num;
} aor_repl_rec_t;

/* a parsed header */
typedef struct aor_repl_hdr
{
	str type;
	unsigned int node;
	str table;
} aor_repl_hdr_t;

/* Parses the header at *p (before end); advances *p. 0 or -1. */
int aor_repl_header(const char **p, const char *end, aor_repl_hdr_t *h);

/* The next record at *p: 1 and *r filled, 0 at the end of the body, -1
 * when malformed (the rest of the body is then not read). */
int aor_repl_next(const char **p, const char *end, aor_repl_rec_t *r);

#endif /* AOR_REPLFMT_H */
