/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Script events: event_route[aor:contact-inserted|updated|deleted|expired]
 * and the KEMI event_callback. Changes are collected under the slot lock
 * (a copy of the binding each) and the routes run after it is released,
 * with the binding in $xavp(aor=>...).
 */

#ifndef AOR_EVENTS_H
#define AOR_EVENTS_H

#include "merge.h"

/* Looks up the event routes and the KEMI callback; mod_init. 0 or -1. */
int aor_events_init(void);

/* Collects one change (lock held); counts expiries and evictions. The
 * signature of aor_change_cb. */
void aor_event_collect(enum aor_change ch, const aor_binding_t *b, void *arg);

/* aor_expire_cb forms: a binding expired, or was removed by an operator */
void aor_event_expired(const aor_binding_t *b, void *arg);
void aor_event_deleted(const aor_binding_t *b, void *arg);

/* Runs the routes of the changes collected so far, then forgets them. Call
 * with no slot lock held. */
void aor_events_run(void);

#endif /* AOR_EVENTS_H */
