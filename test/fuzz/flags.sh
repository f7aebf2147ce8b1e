# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# Sourced by test/fuzz/run.sh and test/unit/run.sh, from the top of the
# repository: how the fuzz targets compile against the pure sources, as
# test/unit/run.sh compiles the unit tests. Sets FUZZ_CFLAGS, FUZZ_SRCS
# and XML_LIBS and defines fuzz_extra; returns non-zero when something is
# missing.

if [ -z "${KAMAILIO_SRC:-}" ]; then
	for d in build/kamailio-*; do
		if [ -d "$d/src/core" ]; then
			KAMAILIO_SRC=$d
			break
		fi
	done
fi
if [ -z "${KAMAILIO_SRC:-}" ] || [ ! -f "$KAMAILIO_SRC/src/core/str.h" ]; then
	echo "fuzz: KAMAILIO_SRC is not a Kamailio source tree (run 'make tree')" >&2
	return 2
fi
# any module directory will do: the pure files include "../../core/str.h"
if command -v xml2-config >/dev/null 2>&1; then
	XML_CFLAGS=$(xml2-config --cflags)
	XML_LIBS=$(xml2-config --libs)
elif pkg-config --exists libxml-2.0 2>/dev/null; then
	XML_CFLAGS=$(pkg-config --cflags libxml-2.0)
	XML_LIBS=$(pkg-config --libs libxml-2.0)
else
	echo "fuzz: libxml2 not found; install libxml2-dev" >&2
	return 2
fi
FUZZ_CFLAGS="-std=gnu11 -O1 -g -Wall -Wextra -DAOR_UNIT_TEST
	-fno-omit-frame-pointer -I$KAMAILIO_SRC/src/modules/sl -Imodules/aor
	-Itest/fuzz $XML_CFLAGS"
FUZZ_SRCS="modules/aor/binding.c modules/aor/uri.c modules/aor/uri_split.c
	modules/aor/store.c
	modules/aor/merge.c modules/aor/journal.c modules/aor/ops.c
	modules/aor/reginfo.c modules/aor/snapshot.c modules/aor/hash.c
	modules/aor/replfmt.c"

# fuzz_extra TARGET: the flags and sources one target adds to FUZZ_CFLAGS
# and FUZZ_SRCS, in both builds (libFuzzer and the replay). fuzz_contact
# compares contact.c with Kamailio's own Contact parser, compiled in from
# the tree with the glue of kamailio_shim.c: -DNO_DEBUG -DNO_LOG (no
# logging), no -DPKG_MALLOC (pkg_malloc is malloc), -DUSE_PTHREAD_MUTEX
# (core/lock_ops.h wants a lock type chosen), -Wno-sign-compare (core/ut.h).
fuzz_extra()
{
	case $1 in
	contact)
		echo "-DNO_DEBUG -DNO_LOG -DUSE_PTHREAD_MUTEX -Wno-sign-compare
			modules/aor/contact.c test/fuzz/kamailio_shim.c
			$KAMAILIO_SRC/src/core/parser/contact/parse_contact.c
			$KAMAILIO_SRC/src/core/parser/contact/contact.c
			$KAMAILIO_SRC/src/core/parser/parse_param.c"
		;;
	esac
}
