#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fuzz/run.sh [TARGET...] - build and run the libFuzzer targets (fuzz/fuzz_*.c).
#
# Each fuzz/fuzz_NAME.c is built with clang -fsanitize=fuzzer,address,undefined
# -I include -I daemon, linked with the sources its "FUZZ_SOURCES:" comment line
# names (paths from the repository root, globs allowed; default lib/*.c), into
# $FUZZ_BUILD/fuzz_NAME. Then each runs for FUZZ_SECONDS (default 30) over a work
# copy of its seed corpus fuzz/corpus/fuzz_NAME/ (the tree's seeds are never
# written). Any crash, sanitizer report, leak, timeout or out-of-memory fails the
# run; the reproducer is left in $FUZZ_BUILD/artifacts/ and its path printed.
#
# -print_funcs=0: no symbolizer process (and its pipes) while fuzzing, which fd-leak
# checks in the targets would otherwise see.
# Environment: FUZZ_SECONDS (30), FUZZ_BUILD (build-fuzz), CC (clang),
# FUZZ_BUILD_ONLY=1 (build, do not run), FUZZ_ARGS (extra libFuzzer flags).
# Exit 0: every target built and ran clean; 77: no clang with libFuzzer; 1: a finding
# or a build failure. The last line is "fuzz: N clean, N failed".
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC" || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
CC=${CC:-clang}
mkdir -p "$FUZZ_BUILD/artifacts" "$FUZZ_BUILD/corpus"
OUT=$(cd "$FUZZ_BUILD" && pwd)

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "SKIP: no $CC (apt-get install clang libclang-rt-14-dev)" >&2
	exit 77
fi
probe=$OUT/.probe.c
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$probe"
if ! "$CC" -fsanitize=fuzzer "$probe" -o "$OUT/.probe" 2>/dev/null; then
	echo "SKIP: $CC cannot link -fsanitize=fuzzer (libclang-rt-*-dev missing?)" >&2
	exit 77
fi

CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -pthread
	-Wall -Wextra -Werror -Wno-unused-parameter -I include -I daemon -I tests"

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in fuzz/fuzz_*.c; do
		[ -f "$f" ] && targets+=("$(basename "$f" .c)")
	done
fi

# sources of one target: its FUZZ_SOURCES line (several lines add up), else lib/*.c
sources_of() {
	local list
	list=$(sed -n -E 's/^.*FUZZ_SOURCES:[[:space:]]*(.*)$/\1/p' "fuzz/$1.c" | tr '\n' ' ')
	[ -n "${list// /}" ] || list="lib/*.c"
	# shellcheck disable=SC2086
	ls -1 $list 2>/dev/null | sort -u
}

clean=0 failed=0
for t in "${targets[@]}"; do
	t=${t%.c}
	t=${t#fuzz/}
	if [ ! -f "fuzz/$t.c" ]; then
		echo "FAIL $t: no fuzz/$t.c"
		failed=$((failed + 1))
		continue
	fi
	mapfile -t srcs < <(sources_of "$t")
	# shellcheck disable=SC2086
	if ! "$CC" $CFLAGS "fuzz/$t.c" "${srcs[@]}" -o "$OUT/$t" -lm 2>"$OUT/$t.build.log"; then
		echo "FAIL $t: build"
		tail -n 20 "$OUT/$t.build.log" | sed 's/^/    | /'
		failed=$((failed + 1))
		continue
	fi
	if [ "${FUZZ_BUILD_ONLY:-0}" = 1 ]; then
		echo "BUILT $t"
		clean=$((clean + 1))
		continue
	fi
	work=$OUT/corpus/$t
	mkdir -p "$work"
	seeds=()
	[ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
	dict=()
	[ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
	log=$OUT/$t.log
	t0=$(date +%s)
	# shellcheck disable=SC2086
	"$OUT/$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -print_funcs=0 -artifact_prefix="$OUT/artifacts/$t-" "${dict[@]}" \
		${FUZZ_ARGS:-} "$work" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	runs=$(sed -n -E 's/^stat::number_of_executed_units:[[:space:]]*([0-9]+).*/\1/p' "$log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 | sed -n -E 's/.*cov: ([0-9]+).*/\1/p')
	if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		echo "FAIL $t (exit $rc, ${secs}s, ${runs:-?} runs)"
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written|artifact' "$log" | head -n 10 | sed 's/^/    | /'
		failed=$((failed + 1))
	else
		echo "PASS $t (${secs}s, ${runs:-?} runs, cov ${cov:-?}, corpus $(ls "$work" | wc -l))"
		clean=$((clean + 1))
	fi
done
echo "fuzz: $clean clean, $failed failed"
[ $failed -eq 0 ]
