/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The snapshot file: every live binding of every table as XML, written
 * atomically (temporary file, fsync, rename) and read back as a stream.
 * The file is an RFC 3680 reginfo document per table, wrapped in the
 * project's own namespace:
 *
 *   <snapshot xmlns="urn:x-kamailio-aor:params:xml:ns:snapshot"
 *       format="1" created="UNIX-TIME">
 *     <table name="location">
 *       <reginfo xmlns="urn:ietf:params:xml:ns:reginfo" ...>
 *         <registration ...><contact ...>...</contact></registration>
 *       </reginfo>
 *     </table>
 *     <end aors="N" bindings="M"/>
 *   </snapshot>
 *
 * Each <contact> carries what reginfo lacks (absolute expiry, received,
 * Path, socket, User-Agent, flags, methods) in reginfo.h's extension
 * namespace, and its ruid as id. Pure: libc, libxml2 and the store.
 */

#ifndef AOR_SNAPSHOT_H
#define AOR_SNAPSHOT_H

#include <time.h>
#include "../../core/str.h"
#include "store.h"

#define AOR_SNAPSHOT_NS "urn:x-kamailio-aor:params:xml:ns:snapshot"
#define AOR_SNAPSHOT_FORMAT 1

/* what a write did */
typedef struct aor_snapshot_stat
{
	long aors;
	long bindings;
	long bytes; /* size of the file */
} aor_snapshot_stat_t;

/* Writes the live bindings (at now) of the tables list (t, t->next, ...)
 * to path: first to path.tmp, then fsync, rename over path and fsync of
 * the directory, so that path is always a whole snapshot, the old or the
 * new. Copies one slot at a time under its lock (aor_table_scan) and
 * writes outside it; takes no other lock, so only one writer per path may
 * run at a time (the caller's to ensure). Fills st. Returns 0, or
 * AOR_E_INTERNAL when the file could not be written (logged with the
 * reason; path.tmp removed, path untouched), AOR_E_NOMEM. */
int aor_snapshot_write(const char *path, aor_table_t *tables, time_t now,
		aor_snapshot_stat_t *st);

/* Called by aor_snapshot_load for each active contact, in file order;
 * table is the name of its table, in as aor_reginfo_cb gets it (strings
 * valid during the call only, hash and sock 0, expires absolute). A
 * negative return stops the load; it is reported as rep->error. */
typedef int (*aor_snapshot_cb)(
		const str *table, const aor_binding_in_t *in, void *arg);

/* what a load found */
typedef struct aor_snapshot_report
{
	long bindings;	/* handed to cb (and accepted) */
	long skipped;	/* registrations left out whole for a bad value */
	int error;		/* the first AOR_E_* met, 0 when none */
	int line;		/* its line in the file, 0 when unknown */
	char what[256]; /* the first problem, for the log; "" when none */
} aor_snapshot_report_t;

/* Reads the snapshot at path as a stream (memory bounded by the largest
 * registration, not by the file) and calls cb for each active contact.
 * Registrations are checked whole before their first call; one with a bad
 * value is skipped and counted, and the load goes on. A file that is not
 * well-formed (truncated, corrupt), foreign (another root or namespace, a
 * DTD) or lacks its end marker stops the load where it becomes
 * unreadable: what came before stays loaded. Returns 0 when the whole
 * file was read and clean, 1 when it was not (rep says why and where),
 * AOR_E_NOT_FOUND when there is no file, AOR_E_INTERNAL when it cannot
 * be opened (rep->what says why). */
int aor_snapshot_load(const char *path, aor_snapshot_cb cb, void *arg,
		aor_snapshot_report_t *rep);

/* Renames path to path.corrupt-YYYYmmddTHHMMSS (UTC of now), the new
 * name into buf of size bytes. Returns 0, or -1 (errno set). */
int aor_snapshot_move_aside(
		const char *path, time_t now, char *buf, size_t size);

#endif /* AOR_SNAPSHOT_H */
