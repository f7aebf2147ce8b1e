/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Assertions on bindings shared by the tests that write bindings out and
 * read them back (reginfo, snapshot). Include after unit.h.
 */

#ifndef AOR_UNIT_BINDING_H
#define AOR_UNIT_BINDING_H

#include <string.h>
#include "binding.h"

/* p, read back, holds what b held: every string byte for byte and every
 * scalar a document carries (id, hash and sock are the caller's to check) */
static inline void assert_same_binding(
		const aor_binding_t *b, const aor_binding_t *p)
{
	int i;

	for(i = 0; i < AOR_F_COUNT; i++) {
		str x = aor_binding_get(b, i), y = aor_binding_get(p, i);
		if(x.len != y.len || memcmp(x.s, y.s, x.len) != 0)
			UNIT_FAIL("field %d: \"%.*s\" became \"%.*s\"", i, x.len, x.s,
					y.len, y.s);
	}
	ASSERT_EQ(p->expires, b->expires);
	ASSERT_EQ(p->modified, b->modified);
	ASSERT_EQ(p->version, b->version);
	ASSERT_EQ(p->cseq, b->cseq);
	ASSERT_EQ(p->cflags, b->cflags);
	ASSERT_EQ(p->methods, b->methods);
	ASSERT_EQ(p->reg_id, b->reg_id);
	ASSERT_EQ(p->q, b->q);
}

#endif /* AOR_UNIT_BINDING_H */
