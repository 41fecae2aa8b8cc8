#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# load_fair (issue 6 item 4; bad-inputs.md item 20 for netmap ports): 64 ports on one
# switch, traffic on all at once - 63 ports of bench_load (one process, every port
# keeping its TX ring full of unicast frames to the next port) and one pkt-gen
# flooding broadcast frames from a 16384-slot ring (each of its frames costs the
# switch 63 copies). Over LOAD_SECONDS (default 4) the switch's own per-port
# intake (vale-ctl --stats rx_packets) is sampled; the per-port rates are printed,
# and every port, the flooder's neighbours included, must get at least 25 % of the
# mean: the bounded batch per port per round (daemon/vale/switch.c) keeps a flooding
# port from starving the others.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl bench_load
SECS=${LOAD_SECONDS:-4}
start_daemon

bg load "$BIN/bench_load" -n 63 -w vale9 -p p -t $((SECS + 30))
LOAD=$BG_PID
bg flood "$BIN/pkt-gen" -i 'vale9:flood@conf:slots=16384' -f tx
FLOOD=$BG_PID
nports() { vctl -l 2>/dev/null | grep -c '^vale9:'; }
all_up() { [ "$(nports)" -eq 64 ]; }
wait_until 20 all_up || fail "64 ports not up: $(nports) listed; $(tail -n 3 "$TMPD/load.log" "$TMPD/flood.log")"
sleep 1

# name rx_packets, one port per line
sample() {
	vctl --stats --json 2>/dev/null | grep '"name": "vale9:' |
		sed -n -E 's/.*"name": "([^"]+)", "rx_packets": ([0-9]+).*/\1 \2/p' | sort
}
s0=$(sample)
t0=$(date +%s.%N)
sleep "$SECS"
s1=$(sample)
t1=$(date +%s.%N)
kill -0 "$LOAD" 2>/dev/null || fail "bench_load died: $(tail -n 5 "$TMPD/load.log")"
kill -0 "$FLOOD" 2>/dev/null || fail "the flooder died: $(tail -n 5 "$TMPD/flood.log")"
kill -0 "$DAEMON_PID" 2>/dev/null || fail "vnetmapd died"

report=$(join <(echo "$s0") <(echo "$s1") | awk -v t0="$t0" -v t1="$t1" '
	{ name[NR] = $1; r[NR] = ($3 - $2) / (t1 - t0); sum += r[NR] }
	END {
		n = NR; mean = sum / n; min = -1
		for (i = 1; i <= n; i++) {
			printf "  %-14s %10.0f fps  %5.1f %% of mean\n", name[i], r[i], 100 * r[i] / mean
			if (min < 0 || r[i] < min) { min = r[i]; minn = name[i] }
			if (name[i] == "vale9:flood") fl = r[i]
		}
		printf "SUMMARY ports %d mean %.0f min %.0f (%s, %.1f %%) flooder %.0f (%.1f %%) total %.0f fps\n",
			n, mean, min, minn, 100 * min / mean, fl, 100 * fl / mean, sum
		if (n != 64) exit 2
		if (min < 0.25 * mean || mean <= 0) exit 1
	}')
rc=$?
echo "per-port intake of vale9 over ${SECS}s (switch rx_packets):"
echo "$report" | grep -v "^SUMMARY" | sort -V
sum=$(echo "$report" | grep '^SUMMARY')
[ $rc -eq 2 ] && fail "expected 64 ports in the stats: $sum"
[ $rc -eq 0 ] || fail "a port got less than 25 % of the mean: $sum"
kill -TERM "$LOAD" "$FLOOD"
wait_pid "$LOAD" 10 || fail "bench_load failed: $(tail -n 3 "$TMPD/load.log")"
wait_pid "$FLOOD" 10
echo "load_fair: ${sum#SUMMARY }: every port >= 25 % of the mean"
exit 0
