#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/capture.sh BUILD_DIR - what a capture costs the pair it watches. Not a test:
# prints, asserts nothing (tests/integration/capture.sh checks the counts).
#
# A VALE pair, pkt-gen tx on vale0:a -> pkt-gen rx on vale0:b, 60-byte frames, SECS
# seconds per run, rate at the receiver (its final "Received N packets ... in T
# seconds"), median of RUNS runs, in these cases:
#   none      no capture
#   devnull   vale-ctl capture vale0:b -w /dev/null   (a capture that keeps up, if it can)
#   tshark    vale-ctl capture vale0:b -w - | tshark -r - >/dev/null   (a slow reader)
#   stopped   the capture is SIGSTOPped: its monitor is never read, every copy dropped
# and the ratio of each to "none", with the frames captured and dropped by the monitor.
# On a 2-core machine the sender, the receiver and the switch thread already take the
# CPUs: a capture that reads (devnull, tshark) costs the pair CPU time, not monitor
# waits; "stopped" shows the monitor itself (copies dropped, the port never waits).
#
# Environment: SECS (default 3), RUNS (default 3), LEN (default 60).
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECS:-3}
RUNS=${RUNS:-3}
LEN=${LEN:-60}
BUILD_ARG=${1:-build}
for b in vnetmapd pkt-gen vale-ctl; do
	if [ ! -x "$BUILD_ARG/bin/$b" ]; then
		echo "bench: $BUILD_ARG/bin/$b is missing: build first (make)" >&2
		exit 1
	fi
done
# shellcheck source=../tests/lib.sh
. "$SRC/tests/lib.sh"
skip() { printf 'bench: %s\n' "$*" >&2; exit 1; }
vnm_init "$BUILD_ARG"
start_daemon
PG=$BIN/pkt-gen
HAVE_TSHARK=1
command -v tshark >/dev/null || HAVE_TSHARK=0

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rx_pps() { sed -n -E 's/^Received ([0-9]+) packets .* in ([0-9.]+) seconds\.$/\1 \2/p' "$1" | awk '$2 > 0 { printf "%.0f\n", $1 / $2 }'; }
listed() { vctl -l 2>/dev/null | grep -q "^$1 "; }
started() { grep -qs '^capturing on ' "$1"; }

# one run: "pps captured dropped" into $TMPD/result. The capture ends by itself when
# the receiver's port goes away (its monitor is orphaned), tshark at the end of input.
run() {
	local mode=$1 rx tx cap= tsh= f="$TMPD/cap.log"
	rm -f "$TMPD"/rx.log "$TMPD"/cap.log "$TMPD"/fifo
	bg rx "$PG" -i vale0:b -f rx
	rx=$BG_PID
	wait_until 10 listed vale0:b || skip "vale0:b did not appear"
	case $mode in
	devnull | stopped)
		bg cap "$BIN/vale-ctl" --dir "$VNETMAP_DIR" capture vale0:b -w /dev/null
		cap=$BG_PID
		;;
	tshark)
		mkfifo "$TMPD/fifo"
		tshark -r "$TMPD/fifo" >/dev/null 2>&1 &
		tsh=$!
		VNM_PIDS+=("$tsh")
		"$BIN/vale-ctl" --dir "$VNETMAP_DIR" capture vale0:b -w - >"$TMPD/fifo" 2>"$f" &
		cap=$!
		VNM_PIDS+=("$cap")
		;;
	esac
	if [ -n "$cap" ]; then
		wait_until 10 started "$f" || skip "capture did not start: $(cat "$f")"
		[ "$mode" = stopped ] && kill -STOP "$cap"
	fi
	bg tx "$PG" -i vale0:a -f tx -l "$LEN"
	tx=$BG_PID
	sleep "$SECS"
	kill -INT "$tx"
	wait_pid "$tx" 10
	kill -INT "$rx"
	wait_pid "$rx" 10
	local pps c=- d=-
	pps=$(rx_pps "$TMPD/rx.log")
	if [ -n "$cap" ]; then
		[ "$mode" = stopped ] && kill -CONT "$cap"
		wait_pid "$cap" 20 || kill -KILL "$cap" 2>/dev/null
		[ -n "$tsh" ] && { wait_pid "$tsh" 60 || kill -KILL "$tsh" 2>/dev/null; }
		read -r c d < <(sed -n -E 's/^([0-9]+) frames captured, ([0-9]+) dropped.*/\1 \2/p' "$f")
	fi
	echo "${pps:-0} ${c:-?} ${d:-?}" >"$TMPD/result"
}

modes="none devnull stopped"
[ $HAVE_TSHARK -eq 1 ] && modes="none devnull tshark stopped"
declare -A PPS CAPD DROP
for m in $modes; do
	: >"$TMPD/$m.pps"
done
# interleaved runs: load changes hit every mode alike
for r in $(seq 1 "$RUNS"); do
	for m in $modes; do
		run "$m"
		read -r p c d <"$TMPD/result"
		echo "$p" >>"$TMPD/$m.pps"
		CAPD[$m]=$c DROP[$m]=$d
		printf 'run %d %-8s %12s pps  captured %s dropped %s\n' "$r" "$m" "$p" "$c" "$d" >&2
	done
done
echo "capture cost on a VALE pair, $LEN-byte frames, median of $RUNS x ${SECS}s, $(nproc) cpus, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-8s %12s %8s   %s\n' case rx_pps ratio "last run: captured / dropped by the monitor"
base=$(median <"$TMPD/none.pps")
for m in $modes; do
	PPS[$m]=$(median <"$TMPD/$m.pps")
	printf '%-8s %12.0f %8.2f   %s / %s\n' "$m" "${PPS[$m]}" \
		"$(awk -v a="${PPS[$m]}" -v b="$base" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
		"${CAPD[$m]}" "${DROP[$m]}"
done
exit 0
