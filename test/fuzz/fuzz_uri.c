/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of aor_uri_equal (binding.c, RFC 3261 19.1.4). The input
 * is two URIs separated by the first newline (one URI when there is
 * none), each copied into a buffer of exactly its length so that a read
 * past it is caught. Checks that the comparison is symmetric, reflexive
 * on every URI it can parse, and answers -1 exactly when one side cannot
 * be parsed.
 */

#include "fuzz.h"
#include "binding.h"

static str dup_str(const uint8_t *p, size_t n)
{
	str s;

	s.s = malloc(n ? n : 1);
	CHECK(s.s != NULL);
	if(n)
		memcpy(s.s, p, n);
	s.len = (int)n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl;
	str a, b;
	int ab, ba, aa, bb;

	if(size > 4096)
		return 0;
	nl = memchr(data, '\n', size);
	a = dup_str(data, nl ? (size_t)(nl - data) : size);
	b = nl ? dup_str(nl + 1, size - (nl - data) - 1) : dup_str(data, size);

	aa = aor_uri_equal(&a, &a);
	bb = aor_uri_equal(&b, &b);
	ab = aor_uri_equal(&a, &b);
	ba = aor_uri_equal(&b, &a);
	CHECK(aa == 1 || aa == -1);
	CHECK(bb == 1 || bb == -1);
	CHECK(ab == ba);
	CHECK((ab == -1) == (aa == -1 || bb == -1));

	free(a.s);
	free(b.s);
	return 0;
}
