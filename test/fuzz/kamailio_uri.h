/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * Kamailio's own parse_uri() for fuzz_aorkey.c to compare aor_uri_split
 * against: core/parser/parse_uri.c of the Kamailio tree the tests build
 * with (KAMAILIO_SRC, reached through -I src/modules/sl as the pure files
 * reach core/str.h), compiled into the target, with the few core symbols it
 * links to defined here: its logging, off; phone2tel and
 * uri_host_extra_chars at their defaults. Include once, after the other
 * headers.
 */

#ifndef AOR_KAMAILIO_URI_H
#define AOR_KAMAILIO_URI_H

/* what Kamailio's Makefile.defs passes and its headers test for */
#ifndef NAME
#define NAME "kamailio"
#endif
#define VERSION "5.6"
#define ARCH "x86_64"
#define OS_QUOTED "linux"
#define PKG_MALLOC
#define SHM_MEM
#define SHM_MMAP
#define USE_PTHREAD_MUTEX

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
/* parse_uri looks for a ';' in a NULL user of length 0 (q_memchr on a
 * "sip:host;user=phone"), an offset of 0 to a null pointer that clang's
 * UBSan reports; harmless, and not the module's: not checked in its code */
#ifdef __clang__
#pragma clang attribute push( \
		__attribute__((no_sanitize("undefined"))), apply_to = function)
#endif
#include "../../core/parser/parse_uri.c"
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC diagnostic pop

int phone2tel = 1;
int ser_error;
int process_no;
int log_stderr;
int log_color;
str *log_prefix_val;
volatile int dprint_crit;
struct log_level_info log_level_info[16];
km_log_f _km_log_func;
ksr_slog_f _ksr_slog_func;

int my_pid(void)
{
	return 0;
}

/* below every level, so that parse_uri logs nothing */
int get_debug_level(char *mname, int mnlen)
{
	(void)mname;
	(void)mnlen;
	return L_ALERT - 1;
}

int get_debug_facility(char *mname, int mnlen)
{
	(void)mname;
	(void)mnlen;
	return 0;
}

void dprint_color(int level)
{
	(void)level;
}

void dprint_color_reset(void)
{
}

/* parse_uri of uri (it takes a char * but reads only within len): 0 and
 * its user and host, pointing into uri, or -1 */
static int kamailio_user_host(const str *uri, str *user, str *host)
{
	struct sip_uri u;

	if(parse_uri(uri->s, uri->len, &u) < 0)
		return -1;
	*user = u.user;
	*host = u.host;
	return 0;
}

#endif /* AOR_KAMAILIO_URI_H */
