#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/monitor.sh BUILD_DIR - what a monitor costs a VALE pair. Not a test.
#
#   none   pkt-gen tx on vale0:a -> pkt-gen rx on vale0:b
#   /r     the same, plus pkt-gen rx on vale0:b/r (copy monitor: the switch thread copies
#          every frame it delivers to b once more)
#   /z     the same, plus pkt-gen rx on vale0:b/z (zero copy: b's released RX slots swap
#          their buffers into the monitor)
# Rates at b's receiver (and the monitor's), medians of RUNS interleaved runs of SECS
# seconds; the ratio with/without is printed. On a 2-core machine the monitor's reader
# competes with the pair and the switch thread for the CPUs: the ratio includes that.
#
# Environment: SECS (default 3), RUNS (default 3), LEN (frame bytes, default 60).
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECS:-3}
RUNS=${RUNS:-3}
LEN=${LEN:-60}
BUILD_ARG=${1:-build}
for b in vnetmapd pkt-gen; do
	if [ ! -x "$BUILD_ARG/bin/$b" ]; then
		echo "bench: $BUILD_ARG/bin/$b is missing: build first (make)" >&2
		exit 1
	fi
done

# shellcheck source=../tests/lib.sh
. "$SRC/tests/lib.sh"
skip() { printf 'bench: %s\n' "$*" >&2; exit 1; }
vnm_init "$BUILD_ARG"
trap vnm_cleanup EXIT
start_daemon

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Mean pps of pkt-gen's report lines in LOG, without the first and the last.
pg_pps() {
	awk '
	function mult(u) { return u ~ /^K/ ? 1e3 : u ~ /^M/ ? 1e6 : u ~ /^G/ ? 1e9 : 1 }
	$2 ~ /^[KMG]?pps$/ && $3 ~ /^\(/ { pps = $1 * mult($2); if (pps > 0) { n++; p[n] = pps } }
	END {
		lo = n > 2 ? 2 : 1; hi = n > 2 ? n - 1 : n
		for (i = lo; i <= hi; i++) { s += p[i]; k++ }
		if (k == 0) print 0; else printf "%.0f\n", s / k
	}' "$1"
}

# one_run MONSPEC|"": prints "pair_pps monitor_pps"
one_run() {
	local mon=$1 rx tx m=
	"$BIN/pkt-gen" -i vale0:b -f rx -T 1000 >"$TMPD/m_rx.log" 2>&1 &
	rx=$!
	VNM_PIDS+=("$rx")
	sleep 0.3
	if [ -n "$mon" ]; then
		"$BIN/pkt-gen" -i "$mon" -f rx -T 1000 >"$TMPD/m_mon.log" 2>&1 &
		m=$!
		VNM_PIDS+=("$m")
		sleep 0.3
	fi
	"$BIN/pkt-gen" -i vale0:a -f tx -l "$LEN" -T 1000 >"$TMPD/m_tx.log" 2>&1 &
	tx=$!
	VNM_PIDS+=("$tx")
	sleep "$SECS"
	sleep 1.2
	kill -INT "$tx" 2>/dev/null
	wait_pid "$tx" 5 || kill -KILL "$tx" 2>/dev/null
	kill -INT "$rx" $m 2>/dev/null
	wait_pid "$rx" 5 || kill -KILL "$rx" 2>/dev/null
	if [ -n "$m" ]; then
		wait_pid "$m" 5 || kill -KILL "$m" 2>/dev/null
		echo "$(pg_pps "$TMPD/m_rx.log") $(pg_pps "$TMPD/m_mon.log")"
	else
		echo "$(pg_pps "$TMPD/m_rx.log") 0"
	fi
}

declare -a P0 P1 M1 P2 M2
for i in $(seq "$RUNS"); do
	echo "... run $i/$RUNS" >&2
	out=$(one_run "")
	P0+=("${out% *}")
	out=$(one_run vale0:b/r)
	P1+=("${out% *}")
	M1+=("${out#* }")
	out=$(one_run vale0:b/z)
	P2+=("${out% *}")
	M2+=("${out#* }")
done
p0=$(printf '%s\n' "${P0[@]}" | median)
p1=$(printf '%s\n' "${P1[@]}" | median)
m1=$(printf '%s\n' "${M1[@]}" | median)
p2=$(printf '%s\n' "${P2[@]}" | median)
m2=$(printf '%s\n' "${M2[@]}" | median)
mpps() { awk -v v="$1" 'BEGIN { printf "%.3f", v / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo "# monitor cost on a VALE pair ($LEN-byte frames)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "method:  median of $RUNS interleaved runs of ${SECS}s, rates at the receivers"
echo
printf '| %-29s | %12s | %12s | %14s |\n' "setup" "pair Mpps" "monitor Mpps" "pair vs none"
printf '|%s|%s|%s|%s|\n' "-------------------------------" "--------------" "--------------" "----------------"
printf '| %-29s | %12s | %12s | %14s |\n' "vale0:a -> vale0:b" "$(mpps "$p0")" "-" "1.00"
printf '| %-29s | %12s | %12s | %14s |\n' "+ copy monitor vale0:b/r" "$(mpps "$p1")" "$(mpps "$m1")" "$(ratio "$p1" "$p0")"
printf '| %-29s | %12s | %12s | %14s |\n' "+ zero-copy monitor vale0:b/z" "$(mpps "$p2")" "$(mpps "$m2")" "$(ratio "$p2" "$p0")"
