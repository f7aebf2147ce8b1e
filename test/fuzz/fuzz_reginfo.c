/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of aor_reginfo_parse (reginfo.c). The input is an RFC 3680
 * document. Checks that a parse hands out all of the document or none of
 * it (an error after a callback is a failure), that every contact fits a
 * binding, and that what was read survives aor_reginfo_render and a
 * second parse unchanged (the round trip reginfo.h promises), AoR by AoR.
 */

#include "fuzz.h"
#include "sys.h"
#include "errors.h"
#include "store.h"
#include "reginfo.h"

#define MAX_GOT 256

struct got
{
	aor_binding_t *b[MAX_GOT];
	int n;
	int calls;
	int stop_at; /* fail this call, -1 never */
};

static int collect(const aor_binding_in_t *in, void *arg)
{
	struct got *g = arg;
	aor_binding_in_t c;

	if(g->calls++ == g->stop_at)
		return AOR_E_NOMEM;
	CHECK(aor_binding_size_in(in) != 0);
	CHECK(in->f[AOR_F_AOR].len > 0 && in->f[AOR_F_URI].len > 0);
	CHECK(in->q == AOR_Q_UNSPEC || (in->q >= 0 && in->q <= 1000));
	if(g->n == MAX_GOT)
		return 0;
	c = *in;
	c.hash = aor_hash(&in->f[AOR_F_AOR]);
	g->b[g->n] = aor_binding_new(&c);
	CHECK(g->b[g->n] != NULL);
	g->n++;
	return 0;
}

static void got_free(struct got *g)
{
	int i;

	for(i = 0; i < g->n; i++)
		AOR_FREE(g->b[i]);
	g->n = 0;
}

static int same_key(const aor_binding_t *a, const aor_binding_t *b)
{
	str x = aor_binding_get(a, AOR_F_AOR), y = aor_binding_get(b, AOR_F_AOR);

	return x.len == y.len && memcmp(x.s, y.s, x.len) == 0;
}

/* everything the document carries; the time is not compared when
 * neither has an absolute expiry (then both are now + 0) */
static void check_same(const aor_binding_t *a, const aor_binding_t *b)
{
	int f;

	CHECK(aor_binding_size(a) == aor_binding_size(b));
	CHECK(memcmp(a->off, b->off, sizeof(a->off)) == 0);
	CHECK(memcmp(a->data, b->data, a->off[AOR_F_COUNT]) == 0);
	for(f = 0; f < AOR_F_COUNT; f++)
		CHECK(aor_binding_get(a, f).len == aor_binding_get(b, f).len);
	CHECK(a->id == b->id);
	CHECK(a->expires == b->expires);
	CHECK(a->modified == b->modified);
	CHECK(a->cseq == b->cseq);
	CHECK(a->cflags == b->cflags);
	CHECK(a->methods == b->methods);
	CHECK(a->reg_id == b->reg_id);
	CHECK(a->q == b->q);
}

/* renders the bindings of one AoR (the run at v[0..n)) and reads it back */
static void round_trip(aor_binding_t **v, int n)
{
	struct got back;
	str key = aor_binding_get(v[0], AOR_F_AOR);
	char *doc;
	int len, r, i;

	r = aor_reginfo_render(&key, v, n, 1, aor_test_now, &doc, &len);
	CHECK(r == 0);
	memset(&back, 0, sizeof(back));
	back.stop_at = -1;
	r = aor_reginfo_parse(doc, len, collect, &back);
	if(r != n) {
		fprintf(stderr, "round trip: %d of %d back (%d)\n%s\n", back.n, n, r,
				doc);
		CHECK(r == n);
	}
	for(i = 0; i < n; i++)
		check_same(v[i], back.b[i]);
	got_free(&back);
	aor_reginfo_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	aor_binding_t *v[MAX_GOT];
	char done[MAX_GOT];
	struct got g;
	int r, i, j, n;

	if(size > 65536)
		return 0;
	memset(&g, 0, sizeof(g));
	/* the callback fails now and then, by the input's size */
	g.stop_at = size % 17 == 0 ? (int)(size % 3) : -1;
	r = aor_reginfo_parse((const char *)data, (int)size, collect, &g);
	if(g.stop_at >= 0 && g.calls > g.stop_at) {
		CHECK(r == AOR_E_NOMEM);
	} else if(r < 0) {
		/* checked whole before the first call */
		CHECK(g.calls == 0);
	} else {
		CHECK(r == g.calls);
		/* by AoR in document order; an expired binding cannot be
		 * rendered (render wants live ones), so only live ones */
		memset(done, 0, sizeof(done));
		for(i = 0; i < g.n; i++) {
			if(done[i])
				continue;
			for(n = 0, j = i; j < g.n; j++) {
				if(done[j] || !same_key(g.b[i], g.b[j]))
					continue;
				done[j] = 1;
				if(!aor_binding_expired(g.b[j], aor_test_now))
					v[n++] = g.b[j];
			}
			if(n > 0)
				round_trip(v, n);
		}
	}
	got_free(&g);
	return 0;
}
