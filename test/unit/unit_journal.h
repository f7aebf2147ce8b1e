/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * A journal subscriber for the tests: every change goes to the callback
 * set by unit_changes_to(), and every removed binding to the one set by
 * UNIT_GONE() around a call (the form the walks' callbacks had before the
 * journal). Registered once, with AOR_SUB_BINDINGS, so that c->b is set
 * for every kind.
 */

#ifndef AOR_UNIT_JOURNAL_H
#define AOR_UNIT_JOURNAL_H

#include "journal.h"

typedef void (*unit_change_cb)(const aor_jchange_t *c, void *arg);
typedef void (*unit_gone_cb)(const aor_binding_t *b, void *arg);

static unit_change_cb unit_ch_cb;
static void *unit_ch_arg;
static unit_gone_cb unit_gone_f;
static void *unit_gone_arg;

static void unit_journal_on_change(const aor_jchange_t *c, void *arg)
{
	(void)arg;
	if(unit_ch_cb)
		unit_ch_cb(c, unit_ch_arg);
	if(unit_gone_f && aor_change_removes(c->kind))
		unit_gone_f(c->b, unit_gone_arg);
}

static inline void unit_journal_subscribe(void)
{
	static int done;
	aor_subscriber_t s = {
			"unit", unit_journal_on_change, NULL, NULL, AOR_SUB_BINDINGS};

	if(!done && aor_journal_subscribe(&s) == 0)
		done = 1;
}

/* every change from now on goes to cb(c, arg) (NULL: none) */
static inline void unit_changes_to(unit_change_cb cb, void *arg)
{
	unit_journal_subscribe();
	unit_ch_cb = cb;
	unit_ch_arg = arg;
}

static inline void unit_gone_to(unit_gone_cb cb, void *arg)
{
	unit_journal_subscribe();
	unit_gone_f = cb;
	unit_gone_arg = arg;
}

/* the value of call, with every binding it removes handed to cb(b, arg)
 * after the unlock of its slot */
#define UNIT_GONE(cb, arg, call)                 \
	({                                           \
		unit_gone_to((cb), (arg));               \
		__typeof__(call) unit_r_ = (call);       \
		unit_gone_to(NULL, NULL);                \
		unit_r_;                                 \
	})

#endif /* AOR_UNIT_JOURNAL_H */
