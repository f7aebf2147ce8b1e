#!/bin/bash
# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# `make fuzz`: builds each test/fuzz/fuzz_<target>.c with libFuzzer,
# AddressSanitizer and UBSan (clang) against the pure sources of
# modules/aor, and runs it for FUZZ_SECONDS, one target at a time. Each
# target reads its committed seeds (test/fuzz/corpus/<target>/) and
# regression inputs (test/fuzz/regressions/<target>/), with the libFuzzer
# dictionary test/fuzz/<target>.dict when there is one, and writes what it
# finds to a working corpus under build/fuzz/; a crash is written to
# build/fuzz/artifacts/<target>/ and fails the run. With FUZZ_MERGE=1 the
# inputs of the working corpus that reach code the seeds do not are added
# to the committed seeds (-set_cover_merge=1, by edges).
#
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_TARGETS  targets to run (default: every fuzz_*.c, e.g. "uri store")
#   FUZZ_MERGE    1: add new coverage to test/fuzz/corpus/<target>/
#   FUZZ_ARGS     more libFuzzer flags
#   KAMAILIO_SRC  Kamailio source tree (default: the first build/kamailio-*)
#   BUILD_DIR     default build/fuzz
#   CC            default clang (clang-14 when there is no clang)

set -u

cd "$(dirname "$0")/../.." || exit 2
. test/fuzz/flags.sh || exit 2

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
BUILD_DIR=${BUILD_DIR:-build/fuzz}
if [ -z "${CC:-}" ] || [ "$CC" = cc ]; then
	CC=$(command -v clang || command -v clang-14) || {
		echo "run.sh: no clang (apt-get install clang libclang-rt-14-dev)" >&2
		exit 2
	}
fi
targets=${FUZZ_TARGETS:-$(for f in test/fuzz/fuzz_*.c; do
	basename "$f" .c | sed 's/^fuzz_//'; done)}

status=0
for t in $targets; do
	bin=$BUILD_DIR/fuzz_$t
	seeds=test/fuzz/corpus/$t
	regs=test/fuzz/regressions/$t
	work=$BUILD_DIR/corpus/$t
	arts=$BUILD_DIR/artifacts/$t
	mkdir -p "$work" "$arts" "$seeds" || exit 2
	# shellcheck disable=SC2086
	if ! $CC $FUZZ_CFLAGS -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o "$bin" "test/fuzz/fuzz_$t.c" \
		$FUZZ_SRCS $(fuzz_extra "$t") $XML_LIBS -lpthread; then
		echo "fuzz $t: does not build"
		status=1
		continue
	fi
	dict=
	[ -f "test/fuzz/$t.dict" ] && dict=-dict=test/fuzz/$t.dict
	dirs="$work $seeds"
	[ -d "$regs" ] && dirs="$dirs $regs"
	echo "fuzz $t: $FUZZ_SECONDS s"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$arts/" $dict ${FUZZ_ARGS:-} \
		$dirs 2>"$BUILD_DIR/$t.log"
	rc=$?
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^(#[0-9]+.*DONE|==[0-9]+==ERROR|SUMMARY)' \
		"$BUILD_DIR/$t.log" | sed "s/^/fuzz $t: /"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz $t: FAILED (exit $rc); log $BUILD_DIR/$t.log," \
			"input in $arts/"
		status=1
		continue
	fi
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		# adds to the seeds (named ones stay) a few inputs of the working
		# corpus that reach the edges they do not (a greedy set cover, of
		# edges, not hit counts): the committed corpus stays small
		n0=$(ls "$seeds" | wc -l)
		"$bin" -set_cover_merge=1 -use_counters=0 "$seeds" "$work" \
			>/dev/null 2>&1 || echo "fuzz $t: merge failed"
		echo "fuzz $t: $n0 -> $(ls "$seeds" | wc -l) inputs in $seeds"
	fi
done
exit $status
