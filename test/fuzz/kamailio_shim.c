/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The process glue Kamailio's Contact parser needs outside Kamailio, for
 * fuzz_contact. Its sources (core/parser/contact/parse_contact.c,
 * contact.c, core/parser/parse_param.c) are compiled as they are, with
 * -DNO_DEBUG -DNO_LOG (the LM_* macros expand to nothing, so there is no
 * logging to stub) and without -DPKG_MALLOC (core/mem/pkg.h then makes
 * pkg_malloc and pkg_free malloc and free, which AddressSanitizer
 * watches). What they still reference is defined here: the shm allocator
 * (only shm_free_params and shm_duplicate_params use it) and the message
 * parser (only contact_iterator and parse_contact_headers call it). None
 * of them is reached from parse_contact: each aborts.
 */

#include <stdio.h>
#include <stdlib.h>

#include "../../core/mem/shm.h"
#include "../../core/parser/msg_parser.h"

static void unreached(const char *what)
{
	fprintf(stderr, "kamailio_shim: %s called\n", what);
	abort();
}

static void *shm_malloc_stub(void *mbp, size_t size)
{
	(void)mbp;
	(void)size;
	unreached("shm_malloc");
	return NULL;
}

static void shm_free_stub(void *mbp, void *p)
{
	(void)mbp;
	(void)p;
	unreached("shm_free");
}

sr_shm_api_t _shm_root = {
		.xmalloc = shm_malloc_stub,
		.xfree = shm_free_stub,
};

int parse_headers(
		struct sip_msg *const msg, const hdr_flags_t flags, const int next)
{
	(void)msg;
	(void)flags;
	(void)next;
	unreached("parse_headers");
	return -1;
}
