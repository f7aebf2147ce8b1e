/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The stock registrar's remaining modparams that change save() and
 * lookup(): sock_hdr_name and sock_mode (the socket of a binding),
 * use_expired_contacts, lookup_filter_mode (with xavp_cfg rlf_bflags) and
 * path_check_local. contact_max_size and realm_prefix are read where they
 * apply (save.c, uri.c).
 */

#ifndef AOR_REGPARAMS_H
#define AOR_REGPARAMS_H

#include "../../core/parser/msg_parser.h"
#include "binding.h"

/* sock_hdr_name: the local socket ("proto:host:port") the header of that
 * name names, for a message with flag sock_flag, as stock get_sock_val;
 * NULL when there is no such header or it names no local socket (a
 * rate-limited warning). Only when sock_hdr_name is set. */
struct socket_info *aor_rparams_sock_hdr(sip_msg_t *msg);

/* The socket text a binding made over si keeps: with sock_mode 1 its
 * advertised address when it has one (stock REG_SOCK_USE_ADVERTISED),
 * else its own. */
str aor_rparams_sock_str(const struct socket_info *si);

/* The time lookup() and registered() read bindings at: now, or 0 with
 * use_expired_contacts (an expired binding not yet removed counts). */
time_t aor_rparams_read_time(void);

/* Starts the lookup_filter_mode filter of one lookup: reads xavp_cfg
 * rlf_bflags (mode 1). */
void aor_rparams_filter_begin(void);

/* lookup_filter_mode: keeps in v the bindings whose flags share a bit with
 * rlf_bflags (mode 1, when set and not 0) and whose TCP/TLS/WS connection
 * is open (mode 2); returns how many are left. */
int aor_rparams_filter(aor_binding_t **v, int n);

/* path_check_local: the route set (*path) and next hop (*dst) of a stored
 * Path; when its first hop is this proxy, the rest of it (dst empty when
 * nothing is left), as stock lookup.c. Without path_check_local, or when
 * the first hop is not local, path as it is and its first URI. */
void aor_rparams_path(str stored, str *path, str *dst);

#endif /* AOR_REGPARAMS_H */
