/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Script events: event_route[aor:contact-inserted|updated|deleted|expired]
 * and the KEMI event_callback, a subscriber of the journal: each change
 * (but those of the start-up load) is queued with a copy of its binding,
 * and the routes run from the subscriber's after hook, when the operation
 * that made the changes is done, with the binding in $xavp(aor=>...).
 * An expired binding also runs the stock registrar's
 * event_route[usrloc:contact-expired] (or the KEMI callback with that
 * name), after ours, with the binding in $ulc(exp=>...) (ulc.h).
 */

#ifndef AOR_EVENTS_H
#define AOR_EVENTS_H

/* Looks up the event routes and the KEMI callback and, when there is one,
 * subscribes to the journal; mod_init. 0 or -1. */
int aor_events_init(void);

/* Says whether the routes that run from now on run outside the handling of
 * a SIP message (1: the maintenance timer), where the stock registrar's
 * event route may reset the AVPs and XAVPs after it as stock does; in a
 * SIP worker they belong to the request being handled. */
void aor_events_timer_context(int on);

#endif /* AOR_EVENTS_H */
