/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of aor_contact_fast (contact.c) against Kamailio's own
 * parse_contact, compiled in from the Kamailio tree with
 * test/fuzz/kamailio_shim.c. The input is a Contact header body. Both
 * parsers read it where it lies (a buffer of its exact length), so their
 * strings can be compared by position. When the fast parser takes the
 * body, parse_contact on a header field of that body must succeed with one
 * contact and no '*', and give the same name, URI and length, the same
 * parameters in the same order (each name, body, type and length) and the
 * same hooks q, expires, methods, received, instance, reg_id and flags.
 * A body the fast parser declines is parsed by Kamailio all the same (its
 * memory errors are found too), and not compared.
 */

#include "fuzz.h"
#include "contact.h"
#include "../../core/parser/contact/parse_contact.h"

/* what the runs exercised, printed at exit with AOR_FUZZ_STATS set */
static unsigned long n_inputs, n_fast, n_core, n_core_plain;

static void stats(void)
{
	if(getenv("AOR_FUZZ_STATS") == NULL)
		return;
	fprintf(stderr,
			"contact: %lu inputs, parse_contact took %lu (%lu of one "
			"contact), aor_contact_fast %lu\n",
			n_inputs, n_core, n_core_plain, n_fast);
}

/* the same place in the body and the same length (an empty string
 * too: a parameter without a body has s NULL in both) */
static int same(const str *a, const str *b)
{
	return a->s == b->s && a->len == b->len;
}

/* the position of hook in the list ps, -1 for none; aborts when it is not
 * in the list */
static int hook_pos(const param_t *ps, const param_t *hook)
{
	int i = 0;

	if(hook == NULL)
		return -1;
	for(; ps; ps = ps->next, i++)
		if(ps == hook)
			return i;
	CHECK(!"a hook outside the parameter list");
	return -2;
}

/* the hook h of f and of k on the parameter at the same position */
#define SAME_HOOK(h) \
	CHECK(hook_pos(f->params, f->h) == hook_pos(k->params, k->h))

static void compare(const contact_t *f, const contact_t *k)
{
	const param_t *fp, *kp;

	CHECK(same(&f->name, &k->name));
	CHECK(same(&f->uri, &k->uri));
	CHECK(f->len == k->len);
	CHECK(f->next == NULL && k->next == NULL);
	for(fp = f->params, kp = k->params; fp && kp;
			fp = fp->next, kp = kp->next) {
		CHECK(same(&fp->name, &kp->name));
		CHECK(same(&fp->body, &kp->body));
		CHECK(fp->type == kp->type);
		CHECK(fp->len == kp->len);
	}
	CHECK(fp == NULL && kp == NULL);
	SAME_HOOK(q);
	SAME_HOOK(expires);
	SAME_HOOK(methods);
	SAME_HOOK(received);
	SAME_HOOK(instance);
	SAME_HOOK(reg_id);
	SAME_HOOK(flags);
#undef SAME_HOOK
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	aor_fast_contact_t fc;
	struct hdr_field h;
	contact_body_t *cb;
	str body;
	int fast, rc;

	if(size > 4096)
		return 0;
	if(n_inputs++ == 0)
		atexit(stats);
	body.s = (char *)data;
	body.len = (int)size;
	fast = aor_contact_fast(body, &fc);
	CHECK(fast == 0 || fast == 1);
	n_fast += fast;

	memset(&h, 0, sizeof(h));
	h.type = HDR_CONTACT_T;
	h.body = body;
	rc = parse_contact(&h);
	cb = (contact_body_t *)h.parsed;
	CHECK((rc == 0) == (cb != NULL));
	if(cb) {
		n_core++;
		n_core_plain += !cb->star && cb->contacts && !cb->contacts->next;
	}
	if(fast) {
		CHECK(rc == 0);
		CHECK(!cb->star);
		CHECK(cb->contacts != NULL);
		compare(&fc.c, cb->contacts);
	}
	if(cb)
		free_contact(&cb);
	return 0;
}
