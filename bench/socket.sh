#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/socket.sh BUILD_DIR - rates through a socket port (QEMU -netdev stream framing)
# next to a TAP port, for 60- and 1514-byte frames. Not a test; prints a small table.
#
#   switch -> socket   pkt-gen tx on vale0:a (broadcast) -> socket port s -> bench_sock_peer
#                      sink (a reader as fast as QEMU could be); rate counted by the sink
#   switch -> TAP      pkt-gen tx on vale0:a -> TAP port (vale-ctl -h, interface up: Linux
#                      takes and drops the frames); rate from the port's tx_packets (root)
#   socket -> switch   bench_sock_peer source (blocking writes of framed frames) -> socket
#                      port r (--server) -> pkt-gen rx on vale0:b; rate seen by pkt-gen
# Environment: SECS (default 3), SIZES (default "60 1514").
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECS:-3}
SIZES=${SIZES:-60 1514}
BUILD_ARG=${1:-build}
for b in vnetmapd pkt-gen vale-ctl bench_sock_peer; do
	[ -x "$BUILD_ARG/bin/$b" ] || { echo "bench: $BUILD_ARG/bin/$b is missing: build first (make)" >&2; exit 1; }
done
# shellcheck source=../tests/lib.sh
. "$SRC/tests/lib.sh"
skip() { printf 'bench: %s\n' "$*" >&2; exit 1; }
vnm_init "$BUILD_ARG"
start_daemon
TAP=vnmbt$$

# Mean pps of pkt-gen's report lines in LOG, without the first and the last.
pg_pps() {
	awk 'function mult(u) { return u ~ /^K/ ? 1e3 : u ~ /^M/ ? 1e6 : u ~ /^G/ ? 1e9 : 1 }
	$2 ~ /^[KMG]?pps$/ && $3 ~ /^\(/ { if ($1 > 0) p[++n] = $1 * mult($2) }
	END { lo = n > 2 ? 2 : 1; hi = n > 2 ? n - 1 : n
		for (i = lo; i <= hi; i++) { s += p[i]; k++ }
		if (k) printf "%.0f\n", s / k; else print 0 }' "$1"
}
mpps() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else printf "%.3f", v / 1e6 }'; }

declare -A R
for len in $SIZES; do
	echo "... $len bytes: switch -> socket" >&2
	"$BIN/bench_sock_peer" sink "$TMPD/s.sock" "$SECS" >"$TMPD/sink.out" 2>&1 &
	sink=$!
	VNM_PIDS+=("$sink")
	wait_until 10 test -S "$TMPD/s.sock" || skip "sink did not listen"
	vctl -n s --stream "$TMPD/s.sock" && vctl -a vale0:s || skip "socket port"
	"$BIN/pkt-gen" -i vale0:a -f tx -l "$len" >"$TMPD/tx.log" 2>&1 &
	tx=$!
	VNM_PIDS+=("$tx")
	wait_pid "$sink" $((SECS + 40)) || kill -KILL "$sink" 2>/dev/null
	kill -INT "$tx" 2>/dev/null
	wait_pid "$tx" 5 || kill -KILL "$tx" 2>/dev/null
	R["sock_out $len"]=$(awk '{ if ($6 > 0) printf "%.0f", $2 / $6 }' "$TMPD/sink.out")
	R["sock_out_drop $len"]=$(stat_of vale0:s drop_full)
	vctl -r s

	if [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ]; then
		echo "... $len bytes: switch -> TAP" >&2
		vctl -h "vale0:$TAP" && ip link set "$TAP" up || skip "TAP port"
		"$BIN/pkt-gen" -i vale0:a -f tx -l "$len" >"$TMPD/tx.log" 2>&1 &
		tx=$!
		VNM_PIDS+=("$tx")
		sleep 1
		a=$(stat_of "vale0:$TAP" tx_packets)
		sleep "$SECS"
		b=$(stat_of "vale0:$TAP" tx_packets)
		kill -INT "$tx" 2>/dev/null
		wait_pid "$tx" 5 || kill -KILL "$tx" 2>/dev/null
		R["tap_out $len"]=$(( (b - a) / SECS ))
		vctl -d "vale0:$TAP"
	fi

	echo "... $len bytes: socket -> switch" >&2
	vctl -n r --stream "$TMPD/r.sock" --server && vctl -a vale0:r || skip "socket port r"
	"$BIN/pkt-gen" -i vale0:b -f rx -T 1000 >"$TMPD/rx.log" 2>&1 &
	rx=$!
	VNM_PIDS+=("$rx")
	sleep 0.5
	"$BIN/bench_sock_peer" source "$TMPD/r.sock" "$((SECS + 2))" "$len" >"$TMPD/src.out" 2>&1
	kill -INT "$rx" 2>/dev/null
	wait_pid "$rx" 5 || kill -KILL "$rx" 2>/dev/null
	R["sock_in $len"]=$(pg_pps "$TMPD/rx.log")
	vctl -r r
done

echo "# socket port vs TAP port ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpus, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-28s %12s %12s\n' "path (Mpps)" "60 B" "1514 B"
printf '%-28s %12s %12s\n' "switch -> socket port" "$(mpps "${R[sock_out 60]:-}")" "$(mpps "${R[sock_out 1514]:-}")"
printf '%-28s %12s %12s\n' "switch -> TAP port" "$(mpps "${R[tap_out 60]:-}")" "$(mpps "${R[tap_out 1514]:-}")"
printf '%-28s %12s %12s\n' "socket port -> switch" "$(mpps "${R[sock_in 60]:-}")" "$(mpps "${R[sock_in 1514]:-}")"
exit 0
