#!/bin/bash
# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# Builds each test/unit/test_*.c against the pure sources of modules/aor
# with AddressSanitizer and UBSan, runs it, replays the committed inputs
# of each fuzz target (test/fuzz/fuzz_*.c with test/fuzz/replay.c, over
# test/fuzz/corpus/<target>/ and test/fuzz/regressions/<target>/) the
# same way, and ends with one line
# "N passed, N failed" summed over every binary. Exits non-zero when a test
# failed, a binary did not build, or a binary crashed or leaked.
#
#   KAMAILIO_SRC  Kamailio source tree (default: the first build/kamailio-*)
#   BUILD_DIR     where the binaries go (default: build/unit)
#   CC            compiler (default: gcc)

set -u

cd "$(dirname "$0")/../.." || exit 2

if [ -z "${KAMAILIO_SRC:-}" ]; then
	for d in build/kamailio-*; do
		if [ -d "$d/src/core" ]; then
			KAMAILIO_SRC=$d
			break
		fi
	done
fi
if [ -z "${KAMAILIO_SRC:-}" ]; then
	echo "run.sh: KAMAILIO_SRC is not set and there is no build/kamailio-*;" \
		"set it to a Kamailio source tree (run 'make tree')" >&2
	exit 2
fi
if [ ! -f "$KAMAILIO_SRC/src/core/str.h" ]; then
	echo "run.sh: KAMAILIO_SRC=$KAMAILIO_SRC has no src/core/str.h;" \
		"it must be a Kamailio source tree" >&2
	exit 2
fi
# any module directory will do: the pure files include "../../core/str.h"
KINC=$KAMAILIO_SRC/src/modules/sl
if [ ! -d "$KINC" ]; then
	echo "run.sh: $KINC is missing" >&2
	exit 2
fi

BUILD_DIR=${BUILD_DIR:-build/unit}
CC=${CC:-gcc}
mkdir -p "$BUILD_DIR" || exit 2

# libxml2 (reginfo.c), found as the module's Makefile finds it
if command -v xml2-config >/dev/null 2>&1; then
	XML_CFLAGS=$(xml2-config --cflags)
	XML_LIBS=$(xml2-config --libs)
elif pkg-config --exists libxml-2.0 2>/dev/null; then
	XML_CFLAGS=$(pkg-config --cflags libxml-2.0)
	XML_LIBS=$(pkg-config --libs libxml-2.0)
else
	echo "run.sh: libxml2 not found (neither xml2-config nor pkg-config" \
		"libxml-2.0); install libxml2-dev" >&2
	exit 2
fi

CFLAGS="-std=gnu11 -O1 -g -Wall -Wextra -DAOR_UNIT_TEST
	-fsanitize=address,undefined -fno-omit-frame-pointer
	-I$KINC -Imodules/aor $XML_CFLAGS"
SRCS="modules/aor/binding.c modules/aor/uri.c modules/aor/uri_split.c
	modules/aor/store.c
	modules/aor/merge.c modules/aor/journal.c modules/aor/ops.c
	modules/aor/reginfo.c modules/aor/snapshot.c modules/aor/hash.c
	modules/aor/gruu.c modules/aor/replfmt.c"

# a sanitizer report must fail the binary, with a status no test uses
export ASAN_OPTIONS="exitcode=86:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=87:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

passed=0
failed=0
status=0

for src in test/unit/test_*.c; do
	name=$(basename "$src" .c)
	bin=$BUILD_DIR/$name
	# shellcheck disable=SC2086
	if ! $CC $CFLAGS -o "$bin" "$src" $SRCS $XML_LIBS -lpthread; then
		echo "not ok $name: does not build"
		failed=$((failed + 1))
		status=1
		continue
	fi
	out=$BUILD_DIR/$name.out
	"$bin" >"$out"
	rc=$?
	cat "$out"
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	passed=$((passed + p))
	failed=$((failed + f))
	# 0 and 1 are the harness's own verdicts, after its closing line;
	# anything else (a signal, a sanitizer, exit()) is a crash
	if ! grep -q '^# unit: ' "$out" || [ "$rc" -gt 1 ] \
		|| { [ "$rc" -eq 1 ] && [ "$f" -eq 0 ]; }; then
		echo "not ok $name: crashed or leaked (exit status $rc)"
		failed=$((failed + 1))
	fi
	[ "$rc" -ne 0 ] && status=1
done

# the fuzz targets' committed inputs (test/fuzz/corpus/<target>/ and
# test/fuzz/regressions/<target>/), replayed without libFuzzer; flags.sh
# says what a target adds to the build (fuzz_extra)
. test/fuzz/flags.sh || exit 2
for src in test/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	t=$(basename "$src" .c)
	name=${t#fuzz_}
	bin=$BUILD_DIR/replay_$name
	# shellcheck disable=SC2086
	if ! $CC $CFLAGS -Itest/fuzz -o "$bin" "$src" test/fuzz/replay.c \
		$SRCS $(fuzz_extra "$name") $XML_LIBS -lpthread; then
		echo "not ok $t: does not build"
		failed=$((failed + 1))
		status=1
		continue
	fi
	out=$BUILD_DIR/replay_$name.out
	"$bin" "$t" "test/fuzz/corpus/$name" "test/fuzz/regressions/$name" \
		>"$out" 2>"$BUILD_DIR/replay_$name.err"
	rc=$?
	cat "$out"
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	passed=$((passed + p))
	failed=$((failed + f))
	if ! grep -q '^# unit: ' "$out" || [ "$rc" -gt 1 ] \
		|| { [ "$rc" -eq 1 ] && [ "$f" -eq 0 ]; }; then
		tail -n 30 "$BUILD_DIR/replay_$name.err"
		echo "not ok $t: crashed on $(grep '^# replaying' \
			"$BUILD_DIR/replay_$name.err" | tail -n 1 | cut -d' ' -f3-)" \
			"(exit status $rc)"
		failed=$((failed + 1))
	fi
	[ "$rc" -ne 0 ] && status=1
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
