# SPDX-License-Identifier: BSD-2-Clause
# tests/lib.sh - shared helpers for the integration tests (source it; bash only).
#
#   . "$(dirname "$0")/../lib.sh"
#   vnm_init "$1"                  # BUILD_DIR; sets BIN, TMPD; exit 77 if it has no bin/
#   require_bin vnetmapd pkt-gen   # exit 77 (skip) when a binary is missing
#   start_daemon                   # VNETMAP_DIR=fresh dir, vnetmapd in background, waits for its socket
#   bg NAME cmd args...            # start a helper in the background; its pid in BG_PID, log in $TMPD/NAME.log
#   wait_pid PID SECONDS           # wait for a background pid; returns its exit status, 124 on timeout
#   wait_until SECONDS cmd...      # poll cmd every 0.1 s until it succeeds; 1 on timeout
#                                  # (both: SECONDS x VNM_TIME_SCALE)
#   fd_count PID                   # open fds of PID
#   region_files                   # region files of the running daemon, one per line
#   fail "msg"                     # print and exit 1 (cleanup runs from the EXIT trap)
#   skip "msg"                     # print and exit 77
#
# Valgrind mode (VNM_VALGRIND=1 tests/run-all.sh, `make valgrind-test`): run-all.sh sets
# VNM_VG_BIN (wrappers that run each program of BUILD/bin under valgrind) and
# VNM_TIME_SCALE (default 1; wait_until, wait_pid, start_daemon and the cleanup's waits
# are multiplied by it). start_daemon always runs the wrapped vnetmapd; BIN is the wrapper
# directory too unless run-all.sh marked the test daemon-only (VNM_VG_DAEMON_ONLY=1:
# timing, fault-injection and QEMU tests, whose tools keep their native speed).
#
# Everything started through start_daemon/bg is killed by the EXIT trap, and the
# temporary directories are removed: a test leaves no process and no file behind.

set -u

VNM_PIDS=()
DAEMON_PID=
TMPD=
VNETMAP_DIR=${VNETMAP_DIR:-}
VNM_TIME_SCALE=${VNM_TIME_SCALE:-1}
VNM_VG_BIN=${VNM_VG_BIN:-}

log() { printf '# %s\n' "$*" >&2; }
VNM_FAIL_MSG=
fail() {
	VNM_FAIL_MSG="$*"
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
skip() { printf 'SKIP: %s\n' "$*" >&2; exit 77; }

vnm_cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	# helpers first (they hold bindings), then the daemon
	for p in "${VNM_PIDS[@]}" $DAEMON_PID; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${VNM_PIDS[@]}" $DAEMON_PID; do
		local i=0 st
		while kill -0 "$p" 2>/dev/null && [ $i -lt $((50 * VNM_TIME_SCALE)) ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		st=$?
		# the daemon must stop cleanly on SIGTERM: under ASan a leak or an error shows here
		if [ "$p" = "$DAEMON_PID" ] && [ $st -ne 0 ] && { [ $rc -eq 0 ] || [ $rc -eq 77 ]; }; then
			VNM_FAIL_MSG="vnetmapd exited with status $st on SIGTERM (sanitizer report or crash: see its log)"
			printf 'FAIL: %s\n' "$VNM_FAIL_MSG" >&2
			rc=1
		fi
	done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "$TMPD" ] && [ -d "$TMPD" ]; then
		# show what the daemon said: the harness prints the tail of our output
		local f
		for f in "$TMPD"/*.log; do
			[ -s "$f" ] || continue
			echo "---- $(basename "$f") (last 15 lines)" >&2
			tail -n 15 "$f" >&2
		done
		# again last, where the harness's tail shows it
		[ -n "$VNM_FAIL_MSG" ] && printf 'FAIL: %s\n' "$VNM_FAIL_MSG" >&2
	fi
	[ -n "$TMPD" ] && rm -rf "$TMPD"
	exit $rc
}

vnm_init() {
	BUILD=${1:-${BUILD_DIR:-build}}
	BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || skip "no build directory '${1:-}'"
	BIN=$BUILD/bin
	[ -d "$BIN" ] || skip "no $BIN"
	# valgrind mode: the tools run under valgrind too, unless the test is daemon-only
	if [ -n "$VNM_VG_BIN" ] && [ "${VNM_VG_DAEMON_ONLY:-0}" != 1 ]; then
		BIN=$VNM_VG_BIN
	fi
	export BUILD BIN
	# a tmpfs directory when there is one: region files land under $VNETMAP_DIR/mem
	local base=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
	TMPD=$(mktemp -d "$base/vnmtest.XXXXXX") || fail "mktemp"
	trap vnm_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

require_bin() {
	local b
	for b in "$@"; do
		[ -x "$BIN/$b" ] || skip "$BIN/$b not built yet"
	done
}

start_daemon() {
	require_bin vnetmapd
	VNETMAP_DIR=$TMPD/run
	mkdir -p "$VNETMAP_DIR"
	chmod 700 "$VNETMAP_DIR"
	export VNETMAP_DIR
	"${VNM_VG_BIN:-$BIN}/vnetmapd" --dir "$VNETMAP_DIR" "$@" >"$TMPD/vnetmapd.log" 2>&1 &
	DAEMON_PID=$!
	local i=0
	while [ ! -S "$VNETMAP_DIR/vnetmapd.sock" ]; do
		kill -0 "$DAEMON_PID" 2>/dev/null || fail "vnetmapd exited at start: $(tail -n 5 "$TMPD/vnetmapd.log")"
		[ $i -ge $((100 * VNM_TIME_SCALE)) ] && fail "vnetmapd socket did not appear in $((10 * VNM_TIME_SCALE)) s"
		sleep 0.1
		i=$((i + 1))
	done
}

# bg NAME cmd...: background helper, output in $TMPD/NAME.log, pid in BG_PID
bg() {
	local name=$1
	shift
	"$@" >"$TMPD/$name.log" 2>&1 &
	BG_PID=$!
	VNM_PIDS+=("$BG_PID")
}

# wait_pid PID SECONDS: exit status of PID (a child of this shell), 124 on timeout
wait_pid() {
	local pid=$1 t=$(( ${2:-30} * 10 * VNM_TIME_SCALE )) i=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ $i -ge $t ]; then
			return 124
		fi
		sleep 0.1
		i=$((i + 1))
	done
	wait "$pid" 2>/dev/null
}

wait_until() {
	local t=$(( $1 * 10 * VNM_TIME_SCALE )) i=0
	shift
	until "$@"; do
		[ $i -ge $t ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

fd_count() {
	local n
	n=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
	echo "$n"
}

# Region files of the running daemon: files in $VNETMAP_DIR/mem, else the regular
# files (not sockets, pipes, eventfds) the daemon holds open.
region_files() {
	if [ -d "$VNETMAP_DIR/mem" ]; then
		find "$VNETMAP_DIR/mem" -type f 2>/dev/null | sort
		return
	fi
	[ -n "$DAEMON_PID" ] || return 0
	local f t
	for f in /proc/"$DAEMON_PID"/fd/*; do
		t=$(readlink "$f" 2>/dev/null) || continue
		case $t in
		/dev/*) [ "${t#/dev/shm/}" != "$t" ] && echo "$t" ;;
		/*) echo "$t" ;;
		esac
	done | grep -v -e '\.log$' -e '\.sock' | sort -u
}

region_count() {
	region_files | grep -c . || true
}

# The number on the pkt-gen final "Received N packets" / "Sent N packets" line.
pg_count() {
	sed -n -E 's/^.*(Received|Sent) ([0-9]+) packets.*$/\2/p' "$1" | tail -n 1
}

# vale-ctl wrapper bound to this test's daemon
vctl() {
	"$BIN/vale-ctl" --dir "$VNETMAP_DIR" "$@"
}

# wait_listed NAME [SECONDS]: until `vale-ctl -l` lists NAME (a receiver's port is up before
# its sender starts: a fixed sleep is not enough under valgrind or on a loaded machine)
vnm_listed() { vctl -l 2>/dev/null | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }'; }
wait_listed() {
	wait_until "${2:-20}" vnm_listed "$1" || fail "$1 not listed after ${2:-20} s"
}

# stat_of PORT FIELD: one counter of `vale-ctl --stats --json` (one record per line)
stat_of() {
	vctl --stats --json 2>/dev/null | grep -F "\"name\": \"$1\"" |
		sed -n -E "s/.*\"$2\": ([0-9]+).*/\\1/p" | head -n 1
}

# seq_line LOG: pkt-gen rxseq's "SEQ: received N, lost L, out-of-order O, duplicates D"
seq_line() { grep '^SEQ:' "$1" | tail -n 1; }
# seq_clean LOG: the SEQ line reports nothing lost, reordered or duplicated
seq_clean() { seq_line "$1" | grep -Eq 'lost 0, out-of-order 0, duplicates 0'; }
