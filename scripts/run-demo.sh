#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# scripts/run-demo.sh BUILD_DIR - the main job (`make run`): start vnetmapd in a
# temporary directory, run a pkt-gen tx/rx pair over a VALE switch and then over a
# pipe (about 3 s each, pkt-gen's own output shown live), show vale-ctl's listing
# and per-port counters, and clean everything up.
#
# Environment: DEMO_SECS (seconds per pair, default 3).
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${DEMO_SECS:-3}
BUILD_ARG=${1:-build}
for b in vnetmapd pkt-gen vale-ctl; do
	if [ ! -x "$BUILD_ARG/bin/$b" ]; then
		echo "run-demo: $BUILD_ARG/bin/$b is missing: build first (make)" >&2
		exit 1
	fi
done

# shellcheck source=../tests/lib.sh
. "$SRC/tests/lib.sh"
skip() { printf 'run-demo: %s\n' "$*" >&2; exit 1; }
vnm_init "$BUILD_ARG"
start_daemon
echo "== vnetmapd running (pid $DAEMON_PID), VNETMAP_DIR=$VNETMAP_DIR"

# live pkt-gen output with a prefix; the pid in PG_PID is pkt-gen's own
pg() {
	local tag=$1
	shift
	"$BIN/pkt-gen" "$@" > >(sed -u "s/^/  [$tag] /") 2>&1 &
	PG_PID=$!
	VNM_PIDS+=("$PG_PID")
}

stop_pg() {
	kill -INT "$1" 2>/dev/null
	wait_pid "$1" 5 || { kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
}

# pair TITLE RXPORT TXPORT: receiver first, then the sender, SECS seconds
pair() {
	echo
	echo "== $1: pkt-gen -f rx -i $2   <-   pkt-gen -f tx -i $3  (${SECS} s)"
	pg "rx $2" -i "$2" -f rx
	local rx=$PG_PID
	sleep 0.5
	pg "tx $3" -i "$3" -f tx
	local tx=$PG_PID
	sleep "$SECS"
	if [ "$4" = vale ]; then
		echo "-- vale-ctl (ports while traffic flows)"
		vctl 2>&1 | sed 's/^/  /'
		echo "-- vale-ctl --stats (per-port counters, drops by reason)"
		vctl --stats 2>&1 | sed 's/^/  /'
	fi
	stop_pg "$tx"
	sleep 0.3
	stop_pg "$rx"
	sleep 0.2
}

pair "VALE switch vale0, 60-byte frames" vale0:b vale0:a vale

pair "pipe demo (zero copy, lossless)" 'netmap:demo}1' 'netmap:demo{1' pipe

echo
echo "-- vale-ctl (after the clients left: a VALE port vanishes at its last close)"
out=$(vctl 2>&1)
if [ -n "$out" ]; then echo "$out" | sed 's/^/  /'; else echo "  (no ports)"; fi
echo "== done; stopping vnetmapd and removing $VNETMAP_DIR"
exit 0
