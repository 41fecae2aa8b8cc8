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
#
# VNM_VALGRIND=1 (`make valgrind-test`): every program of BUILD/bin is reached through a
# wrapper (VNM_VG_BIN, exported to the tests) that runs it under valgrind memcheck, and
# every unit test runs under valgrind too; VALGRIND_OPTS adds options. Tests matching
# VNM_VG_DAEMON_ONLY (timing, fault injection at random moments, QEMU guests, another
# user) run natively with only vnetmapd wrapped. Timeouts and the tests' waits are
# scaled by VNM_TIME_SCALE (default 5 in this mode). After each test its valgrind logs
# are read: a memory error, a definite leak, or a file descriptor left open at a normal
# exit (not inherited) fails the test, and the report is printed under its line.
# The summary line is preceded by "valgrind: N reports (in tests ...)".
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

VG=${VNM_VALGRIND:-0}
[ "$VG" = 0 ] && VG=
VG_DIR= VG_LOGS= vg_reports=0 vg_tests=
VG_DAEMON_ONLY=${VNM_VG_DAEMON_ONLY-"vm_* fault_kill_* pt_bad pt_pipe pt_two pt_vale load_fair privilege"}
if [ -n "$VG" ]; then
	command -v valgrind >/dev/null || { echo "run-all.sh: VNM_VALGRIND=1 but no valgrind" >&2; echo "0 passed, 1 failed"; exit 1; }
	export VNM_TIME_SCALE=${VNM_TIME_SCALE:-5}
	TEST_TIMEOUT=$((TEST_TIMEOUT * VNM_TIME_SCALE))
	INTEGRATION_TIMEOUT=$((INTEGRATION_TIMEOUT * VNM_TIME_SCALE))
	VG_DIR=$LOGDIR/valgrind
	VG_LOGS=$VG_DIR/logs
	mkdir -p "$VG_DIR/bin" "$VG_LOGS"
	chmod 755 "$LOGDIR" "$VG_DIR" "$VG_DIR/bin"
	chmod 1777 "$VG_LOGS" # a test may run a wrapped program as another user
	# --track-fds: reported at exit, checked by vg_scan below (3.19 does not count them
	# as errors); definite leaks are errors; the suppressions file holds only documented
	# third-party noise
	VG_CMD="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite"
	VG_CMD="$VG_CMD --errors-for-leak-kinds=definite --track-fds=yes --child-silent-after-fork=yes"
	# fair scheduling: a thread spinning on its rings must not starve the one that stops it
	VG_CMD="$VG_CMD --fair-sched=yes"
	VG_CMD="$VG_CMD --suppressions=$SRC/tests/valgrind.supp --log-file=$VG_LOGS/%q{VNM_VG_TEST}.%p.log"
	VG_CMD="$VG_CMD ${VALGRIND_OPTS:-}"
	for b in "$BUILD"/bin/*; do
		[ -f "$b" ] && [ -x "$b" ] || continue
		printf '#!/bin/sh\n# %s under valgrind (tests/run-all.sh VNM_VALGRIND=1)\nexec %s %s "$@"\n' \
			"$(basename "$b")" "$VG_CMD" "$b" >"$VG_DIR/bin/$(basename "$b")"
		chmod 755 "$VG_DIR/bin/$(basename "$b")"
	done
	export VNM_VG_BIN=$VG_DIR/bin VNM_BIN=$VG_DIR/bin
fi

# vg_daemon_only NAME: valgrind mode, and NAME runs natively with only vnetmapd wrapped
vg_daemon_only() {
	local t
	[ -n "$VG" ] || return 1
	for t in $VG_DAEMON_ONLY; do
		# shellcheck disable=SC2254
		case $1 in $t) return 0 ;; esac
	done
	return 1
}

# vg_scan NAME: print the valgrind findings of test NAME's logs; returns how many.
# A finding is any report line except the FILE DESCRIPTORS header, fds inherited from
# the parent (the harness's, valgrind's own log) and the standard descriptors, and
# valgrind's own warning about a bpf(2) command it does not know (tests/valgrind.supp).
vg_scan() {
	local f n=0 out
	for f in "$VG_LOGS/$1".*.log; do
		[ -s "$f" ] || continue
		out=$(awk '
			# valgrind 3.19 does not model bpf(BPF_LINK_CREATE) (the AF_XDP port
			# attaches its program with it): a tool limitation, not a finding
			/^--[0-9]+-- WARNING: unhandled eBPF command 28$/ { next }
			{ sub(/^==[0-9]+== ?/, "") }
			/^FILE DESCRIPTORS:/ { next }
			/^Open (file descriptor|AF_[A-Z0-9]+ socket) [0-9]+/ { rec = $0; held = 1; next }
			held && /<inherited from parent>/ { held = 0; rec = ""; next }
			held { print rec; held = 0 }
			/^ *$/ { next }
			{ print }
		' "$f")
		[ -n "$out" ] || continue
		n=$((n + 1))
		echo "    | valgrind $(basename "$f"):"
		echo "$out" | head -n 40 | sed 's/^/    |   /'
	done
	return $n
}

passed=0 failed=0 skipped=0

# PIDs of running programs whose executable is in BUILD/bin or BUILD/tests.
build_pids() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case $exe in
		"$BUILD"/bin/* | "$BUILD"/tests/*) echo "${p#/proc/}" ;;
		*/valgrind/*)
			# a wrapped program: valgrind's tool runs it, the command line names it
			tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -q -e "^$BUILD/bin/" -e "^$BUILD/tests/" &&
				echo "${p#/proc/}" ;;
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
	local vgonly=0
	vg_daemon_only "$name" && vgonly=1
	VNM_VG_TEST=$name VNM_VG_DAEMON_ONLY=$vgonly \
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

	local vgout= vgn=0
	if [ -n "$VG" ]; then
		vgout=$(vg_scan "$name")
		vgn=$?
	fi
	if [ $vgn -gt 0 ]; then
		echo "FAIL $name (valgrind: $vgn report(s), exit $rc, ${secs}s)"
		echo "$vgout"
		tail -n 10 "$log" | sed 's/^/    | /'
		failed=$((failed + 1))
		vg_reports=$((vg_reports + vgn))
		vg_tests="$vg_tests $name"
	elif [ -n "$leftovers" ]; then
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
	if [ -n "$VG" ] && ! vg_daemon_only "$(basename "$t")"; then
		# shellcheck disable=SC2086
		run_one "$(basename "$t")" "$TEST_TIMEOUT" $VG_CMD "$t"
	else
		run_one "$(basename "$t")" "$TEST_TIMEOUT" "$t"
	fi
done
for t in "$SRC"/tests/integration/*.sh; do
	run_one "$(basename "$t" .sh)" "$INTEGRATION_TIMEOUT" bash "$t" "$BUILD"
done

[ -n "$VG" ] && echo "valgrind: $vg_reports reports${vg_tests:+ (in$vg_tests)}"
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
