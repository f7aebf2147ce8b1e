/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of aor_ruid_parse and aor_ruid_fmt (binding.c). The input
 * is a ruid candidate, copied into a buffer of exactly its length. Checks
 * that what parses formats back to the same text (hex digits compared
 * without case) and that every id survives format and parse.
 */

#include <strings.h>

#include "fuzz.h"
#include "binding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[AOR_RUID_LEN + 1];
	uint64_t id = 0, back = 0;
	str s, f;
	int n;

	if(size > 256)
		return 0;
	s.s = malloc(size ? size : 1);
	CHECK(s.s != NULL);
	memcpy(s.s, data, size);
	s.len = (int)size;
	if(aor_ruid_parse(&s, &id) == 0) {
		n = aor_ruid_fmt(id, buf);
		CHECK(n == AOR_RUID_LEN);
		CHECK(s.len == n && strncasecmp(buf, s.s, n) == 0);
	}
	/* the other direction: any 8 bytes as an id */
	memcpy(&id, data, size < sizeof(id) ? size : sizeof(id));
	n = aor_ruid_fmt(id, buf);
	CHECK(n == AOR_RUID_LEN && buf[n] == '\0');
	f.s = buf;
	f.len = n;
	CHECK(aor_ruid_parse(&f, &back) == 0 && back == id);
	free(s.s);
	return 0;
}
