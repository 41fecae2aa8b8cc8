#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/run-all.sh BUILD_DIR - run every unit test (BUILD_DIR/tests/test_*) and every
# integration test (tests/integration/*.sh BUILD_DIR).
#
# Exit codes of a test: 0 pass, 77 skip, anything else (or a timeout) fail.
# One line per test: "PASS name (1.2s)", "FAIL name (...)", "SKIP name (reason)";
# a failing test's log tail follows its line. A test that leaves a vnetmapd, pkt-gen or
# any other program of BUILD_DIR/bin running, or any process in its session, fails;
# the leftovers are killed.
# The last line is exactly "N passed, N failed" (", N skipped" appended when any
# were skipped). Exit 1 if any test failed.
#
# Environment: TEST_TIMEOUT (seconds per test, default 120; integration tests get
# INTEGRATION_TIMEOUT, default 300), TESTS (space-separated names to run, default all),
# EXCLUDE (space-separated shell patterns of test names not to run, e.g. "vm_* pt_*"),
# KEEP_LOGS=DIR (keep every test's full log there).
set -u

BUILD=${1:-build}
if ! BUILD=$(cd "$BUILD" 2>/dev/null && pwd); then
	echo "run-all.sh: no build directory '${1:-build}'" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
INTEGRATION_TIMEOUT=${INTEGRATION_TIMEOUT:-300}
if [ -n "${KEEP_LOGS:-}" ]; then
	mkdir -p "$KEEP_LOGS" && LOGDIR=$(cd "$KEEP_LOGS" && pwd)
else
	LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/vnm-tests.XXXXXX")
	trap 'rm -rf "$LOGDIR"' EXIT
fi

export BUILD_DIR=$BUILD VNM_BIN=$BUILD/bin VNM_SRC=$SRC
# sanitizer builds: fail loudly, keep going to the summary
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=24}
unset VNETMAP_DIR # every test starts its own daemon in its own directory

passed=0 failed=0 skipped=0

# PIDs of running programs whose executable is in BUILD/bin or BUILD/tests.
build_pids() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case $exe in
		"$BUILD"/bin/* | "$BUILD"/tests/*) echo "${p#/proc/}" ;;
		esac
	done
}

selected() {
	local t
	for t in ${EXCLUDE:-}; do
		# shellcheck disable=SC2254
		case $1 in $t) return 1 ;; esac
	done
	[ -z "${TESTS:-}" ] && return 0
	for t in $TESTS; do
		[ "$t" = "$1" ] && return 0
	done
	return 1
}

# run_one NAME TIMEOUT cmd...
run_one() {
	local name=$1 tmo=$2 log="$LOGDIR/$1.log" rc t0 t1 secs before leftovers p
	shift 2
	selected "$name" || return 0
	before=" $(build_pids | tr '\n' ' ') "
	t0=$(date +%s.%N)
	# own session: a timeout kills the whole test with whatever it started
	setsid -w timeout -k 5 "$tmo" "$@" </dev/null >"$log" 2>&1 &
	local sid=$!
	wait "$sid"
	rc=$?
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

	# leftovers: programs of this build started during the test and still running
	leftovers=
	sleep 0.2
	for p in $(build_pids); do
		case $before in *" $p "*) continue ;; esac
		leftovers="$leftovers $p:$(basename "$(readlink /proc/$p/exe 2>/dev/null)")"
		kill -KILL "$p" 2>/dev/null
	done
	# and anything else still alive in the test's session (QEMU, helpers of any kind);
	# zombies and processes already exiting (no exe) are being reaped, not left over
	local cands
	cands=$(ps -eo pid=,sid=,stat= 2>/dev/null | awk -v s="$sid" '$2 == s && $3 !~ /^Z/ { print $1 }')
	[ -n "$cands" ] && sleep 0.3
	for p in $cands; do
		local exe st
		exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
		st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
		[ -n "$st" ] && [ "$st" != Z ] || continue
		leftovers="$leftovers $p:$(basename "$exe")"
		kill -KILL "$p" 2>/dev/null
	done

	if [ -n "$leftovers" ]; then
		echo "FAIL $name ($secs s, left running:$leftovers)"
		tail -n 25 "$log" | sed 's/^/    | /'
		failed=$((failed + 1))
	elif [ $rc -eq 0 ]; then
		echo "PASS $name (${secs}s)"
		passed=$((passed + 1))
	elif [ $rc -eq 77 ]; then
		local why
		why=$(grep -m1 -i 'skip' "$log" | cut -c1-100)
		echo "SKIP $name${why:+ ($why)}"
		skipped=$((skipped + 1))
	else
		local what="exit $rc"
		[ $rc -eq 124 ] || [ $rc -eq 137 ] && what="timeout after ${tmo}s"
		echo "FAIL $name ($what, ${secs}s)"
		tail -n 25 "$log" | sed 's/^/    | /'
		failed=$((failed + 1))
	fi
}

shopt -s nullglob
for t in "$BUILD"/tests/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	run_one "$(basename "$t")" "$TEST_TIMEOUT" "$t"
done
for t in "$SRC"/tests/integration/*.sh; do
	run_one "$(basename "$t" .sh)" "$INTEGRATION_TIMEOUT" bash "$t" "$BUILD"
done

if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
