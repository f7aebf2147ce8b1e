/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Fuzz target of aor_snapshot_load (snapshot.c). The input is a snapshot
 * file; it is written to a memfd once per run and loaded through the
 * production function by its /proc/self/fd path, so nothing in snapshot.c
 * changes for the fuzzer. Each contact handed out is inserted into a
 * store table as persist.c does, which is then checked and freed. Checks
 * the report against the calls: every call counted, a clean load says
 * nothing, a stopped load says why.
 */

#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "sys.h"
#include "errors.h"
#include "store.h"
#include "ops.h"
#include "snapshot.h"

struct load
{
	aor_table_t *t;
	long calls;
	long stop_at; /* fail this call, -1 never */
};

static int load_one(const str *table, const aor_binding_in_t *in, void *arg)
{
	struct load *ld = arg;
	aor_binding_in_t c;
	aor_binding_t *b;
	aor_rec_t rec;

	if(ld->calls++ == ld->stop_at)
		return AOR_E_NOMEM;
	CHECK(table->len > 0 && table->s[table->len] == '\0');
	CHECK(aor_binding_size_in(in) != 0);
	CHECK(in->hash == 0 && in->sock == NULL);
	c = *in;
	c.hash = aor_hash(&in->f[AOR_F_AOR]);
	b = aor_binding_new(&c);
	CHECK(b != NULL);
	aor_table_lock(ld->t, c.hash);
	aor_table_find(ld->t, c.hash, &in->f[AOR_F_AOR], &rec);
	aor_rec_insert(&rec, b);
	aor_table_unlock(ld->t, c.hash);
	return 0;
}

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	aor_snapshot_report_t rep;
	aor_table_stat_t st;
	struct load ld;
	str name = STR_STATIC_INIT("location");
	int r;

	if(size > 65536)
		return 0;
	if(fd < 0) {
		fd = memfd_create("aor-fuzz-snapshot", MFD_CLOEXEC);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

	memset(&ld, 0, sizeof(ld));
	ld.t = aor_table_new(&name, 1);
	CHECK(ld.t != NULL);
	/* the callback fails now and then, by the input's size */
	ld.stop_at = size % 13 == 0 ? (long)(size % 4) : -1;
	r = aor_snapshot_load(path, load_one, &ld, &rep);
	CHECK(r == 0 || r == 1);
	CHECK(rep.bindings <= ld.calls && rep.skipped >= 0);
	if(r == 0) {
		CHECK(rep.what[0] == '\0' && rep.error == 0);
		CHECK(rep.bindings == ld.calls);
	} else {
		CHECK(rep.what[0] != '\0' && rep.error < 0);
	}
	/* rep keeps the first problem, which may come before the stop */
	if(ld.stop_at >= 0 && ld.calls > ld.stop_at)
		CHECK(r == 1);
	aor_table_stat(ld.t, &st);
	CHECK(st.bindings == ld.calls - (ld.calls > ld.stop_at && ld.stop_at >= 0));
	CHECK(aor_table_flush(ld.t, AOR_ORIG_RPC) == st.bindings);
	aor_table_free(ld.t);
	return 0;
}
