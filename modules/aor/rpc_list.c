/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * aor.list: one page of AoRs per call, copied slot by slot under each
 * slot's lock (aor_table_scan) and formatted after the release, resuming
 * from a cursor; every page within ctl's and kamcmd's reply limits.
 */

#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../core/mem/pkg.h"

#include "errors.h"
#include "ops.h"
#include "rpc.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* aor.list: AoRs per page by default and at most */
#define LIST_LIMIT 100
#define LIST_LIMIT_MAX 1000
/* estimated reply bytes of a page: ctl sends at most 32 KB by default */
#define LIST_BUDGET (24 * 1024)
/* estimated reply bytes of an AoR and of a binding, besides their strings
 * (field names, type headers, numbers) */
#define LIST_EST_AOR 48
#define LIST_EST_BINDING 240
/* pkg bytes one page may copy: the budget plus its last slot */
#define LIST_COPY_MAX AOR_RPC_PAGE_MAX
/* aor_table_scan calls per page (each visits at most AOR_SCAN_VISITS
 * slots): the bound of a page over a sparse table or a rare filter */
#define LIST_SCANS_MAX 4096
#define LIST_FILTER_MAX 256
/* In list_buf, each record of a page is a list_rec followed by its n
 * bindings, each 8-aligned. */
typedef struct list_rec
{
	int n;
	int pad;
} list_rec_t;

/* this process's copy of a page; at most LIST_COPY_MAX bytes */
static char *list_buf;
static size_t list_cap;

/* Makes room for n more bytes in list_buf. Lock held: bounded by
 * LIST_COPY_MAX. Returns 0, or -1 (dropped or nomem set). */
static int list_reserve(aor_rpc_page_t *p, size_t n)
{
	size_t cap;
	char *nb;

	if(p->len + n <= list_cap)
		return 0;
	if(p->len + n > LIST_COPY_MAX) {
		p->dropped++;
		return -1;
	}
	for(cap = list_cap ? list_cap : 16384; cap < p->len + n; cap *= 2)
		;
	if(cap > LIST_COPY_MAX)
		cap = LIST_COPY_MAX;
	nb = pkg_realloc(list_buf, cap);
	if(nb == NULL) {
		PKG_MEM_ERROR_FMT("%zu bytes to copy an aor.list page\n", cap);
		p->nomem = 1;
		return -1;
	}
	list_buf = nb;
	list_cap = cap;
	return 0;
}

static int list_match(const aor_rpc_page_t *p, const str *key)
{
	char kb[1100];

	if(p->filter == NULL)
		return 1;
	if(!p->glob)
		return key->len >= p->filter_len
			   && memcmp(key->s, p->filter, p->filter_len) == 0;
	if(key->len >= (int)sizeof(kb))
		return 0;
	memcpy(kb, key->s, key->len);
	kb[key->len] = '\0';
	return fnmatch(p->filter, kb, 0) == 0;
}

/* the first binding of the record being copied */
static aor_binding_t *list_first(const aor_rpc_page_t *p)
{
	return (aor_binding_t *)(list_buf + p->cur + sizeof(list_rec_t));
}

static int list_same_aor(const aor_binding_t *a, const aor_binding_t *b)
{
	str x = aor_binding_get(a, AOR_F_AOR), y = aor_binding_get(b, AOR_F_AOR);

	return a->hash == b->hash && x.len == y.len && memcmp(x.s, y.s, x.len) == 0;
}

/* aor_scan_cb: copies one live, matching binding into the page; the
 * bindings of an AoR come adjacent within one scan call */
static void list_copy(const aor_binding_t *b, void *arg)
{
	aor_rpc_page_t *p = arg;
	size_t sz = ALIGN8(aor_binding_size(b));
	str key = aor_binding_get(b, AOR_F_AOR);
	aor_binding_t *c;

	if(aor_binding_expired(b, p->now) || !list_match(p, &key))
		return;
	if(p->cur >= 0 && list_same_aor(list_first(p), b)) {
		if(list_reserve(p, sz) < 0)
			return;
	} else {
		if(list_reserve(p, sizeof(list_rec_t) + sz) < 0)
			return;
		p->cur = (long)p->len;
		((list_rec_t *)(list_buf + p->len))->n = 0;
		p->len += sizeof(list_rec_t);
		p->naors++;
		p->est += LIST_EST_AOR + key.len;
	}
	c = (aor_binding_t *)(list_buf + p->len);
	memcpy(c, b, aor_binding_size(b));
	c->next = NULL;
	p->len += sz;
	((list_rec_t *)(list_buf + p->cur))->n++;
	p->est += LIST_EST_BINDING + b->off[AOR_F_COUNT];
}

void aor_rpc_page_init(aor_rpc_page_t *p, time_t now)
{
	memset(p, 0, sizeof(*p));
	p->cur = -1;
	p->now = now;
}

uint64_t aor_rpc_page_scan(aor_table_t *t, aor_rpc_page_t *p, uint64_t cursor)
{
	p->cur = -1;
	return aor_table_scan(t, cursor, 1, list_copy, p);
}

int aor_rpc_page_rec(
		const aor_rpc_page_t *p, size_t *off, aor_binding_t **v, int max)
{
	aor_binding_t *b;
	int i, n;

	if(*off >= p->len)
		return 0;
	n = ((list_rec_t *)(list_buf + *off))->n;
	*off += sizeof(list_rec_t);
	for(i = 0; i < n; i++) {
		b = (aor_binding_t *)(list_buf + *off);
		if(i < max)
			v[i] = b;
		*off += ALIGN8(aor_binding_size(b));
	}
	return n < max ? n : max;
}

/* Copies slots from *cursor on, one scan call (one non-empty slot) at a
 * time, until the page holds limit AoRs or LIST_BUDGET estimated bytes. A
 * slot that would overfill a non-empty page is given back: *cursor then
 * names it and it starts the next page. Returns 0 or AOR_E_NOMEM. */
static int list_fill(
		aor_table_t *t, aor_rpc_page_t *p, uint64_t *cursor, int limit)
{
	aor_rpc_page_t mark;
	uint64_t next;
	int i;

	for(i = 0; i < LIST_SCANS_MAX && p->naors < limit; i++) {
		mark = *p;
		next = aor_rpc_page_scan(t, p, *cursor);
		if(p->nomem)
			return AOR_E_NOMEM;
		if(mark.naors > 0
				&& (p->naors > limit || p->est > LIST_BUDGET || p->dropped)) {
			*p = mark;
			break;
		}
		*cursor = next;
		if(next == 0 || p->est >= LIST_BUDGET)
			break;
	}
	if(p->dropped)
		LM_WARN("table %.*s: a slot holds more than %d bytes of bindings;"
				" aor.list left %d of them out\n",
				t->name.len, t->name.s, LIST_COPY_MAX, p->dropped);
	return 0;
}

static void list_reply(rpc_t *rpc, void *c, aor_table_t *t,
		const aor_rpc_page_t *p, uint64_t next)
{
	static aor_binding_t *v[AOR_REC_MAX];
	char nb[24];
	void *h, *arr, *ah, *barr;
	size_t off = 0;
	str key;
	int i, n;

	snprintf(nb, sizeof(nb), "%llu", (unsigned long long)next);
	if(rpc->add(c, "{", &h) < 0
			|| rpc->struct_add(h, "Ssd[", "table", &t->name, "next", nb,
					   "count", p->naors, "aors", &arr)
					   < 0)
		return;
	while((n = aor_rpc_page_rec(p, &off, v, AOR_REC_MAX)) > 0) {
		key = aor_binding_get(v[0], AOR_F_AOR);
		if(rpc->array_add(arr, "{", &ah) < 0
				|| rpc->struct_add(ah, "S[", "aor", &key, "bindings", &barr)
						   < 0)
			return;
		for(i = 0; i < n; i++)
			aor_rpc_add_binding(rpc, c, barr, v[i], p->now);
	}
}

/* a decimal cursor, 0 .. 2^64 - 1 */
static int parse_cursor(const str *s, uint64_t *v)
{
	uint64_t x = 0;
	unsigned int d;
	int i;

	if(s->len <= 0 || s->len > 20)
		return -1;
	for(i = 0; i < s->len; i++) {
		if(s->s[i] < '0' || s->s[i] > '9')
			return -1;
		d = (unsigned int)(s->s[i] - '0');
		if(x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

void aor_rpc_list(rpc_t *rpc, void *c)
{
	str tname = STR_NULL, cur = STR_NULL, filter = STR_NULL;
	char fb[LIST_FILTER_MAX + 1];
	uint64_t cursor = 0;
	aor_rpc_page_t page;
	aor_table_t *t;
	int n, limit = LIST_LIMIT;

	n = rpc->scan(c, "*.S.d.S.S", &tname, &limit, &cur, &filter);
	if(n < 0) {
		rpc->fault(c, 400, "Usage: aor.list [table [limit [cursor [filter]]]]");
		return;
	}
	if(n < 1)
		tname.len = 0;
	if(aor_rpc_no_extra(rpc, c, "aor.list [table [limit [cursor [filter]]]]")
			< 0)
		return;
	if((t = aor_rpc_table(rpc, c, &tname)) == NULL)
		return;
	if(n >= 2 && limit < 1) {
		rpc->fault(c, 400, "Bad limit %d: 1 or more", limit);
		return;
	}
	if(limit > LIST_LIMIT_MAX)
		limit = LIST_LIMIT_MAX;
	if(n >= 3 && parse_cursor(&cur, &cursor) < 0) {
		rpc->fault(c, 400, "Bad cursor: a decimal number from a 'next'");
		return;
	}
	aor_rpc_page_init(&page, aor_now());
	if(n >= 4 && filter.len > 0) {
		if(filter.len > LIST_FILTER_MAX) {
			rpc->fault(c, 400, "Filter longer than %d", LIST_FILTER_MAX);
			return;
		}
		memcpy(fb, filter.s, filter.len);
		fb[filter.len] = '\0';
		page.filter = fb;
		page.filter_len = filter.len;
		page.glob = strpbrk(fb, "*?[") != NULL;
	}
	if(list_fill(t, &page, &cursor, limit) < 0) {
		rpc->fault(c, 500, "Out of memory");
		return;
	}
	list_reply(rpc, c, t, &page, cursor);
}

