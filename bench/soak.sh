#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/soak.sh [BUILD_DIR] - the soak run of issue 6 (not part of the test suite).
#
# For SOAK_SECONDS (default 600) one vnetmapd carries, all at once:
#   lossless paths  a pipe txseq -> rxseq stream (netmap:sk{1 -> netmap:sk}1) and a
#                   lossless VALE sender txseq (vale1:ls@conf:lossless=1) -> rxseq (vale1:lr),
#                   each rate-limited to SOAK_RATE frames/s (default 100000);
#   lossy traffic   a VALE pair vale0:a -> vale0:b (SOAK_RATE) that floods the churn ports;
#   churn           every SOAK_CHURN_MS (default 300) one random action on vale0 and pipes:
#                   start a client (VALE rx/tx, 9000-byte chains, pipe pair), kill -9 one,
#                   stop one with SIGTERM, create/attach/detach/remove a persistent port,
#                   list/stats; at most 8 churn clients at a time.
# Every SOAK_SAMPLE seconds (default 10) it prints the daemon's RSS, fd count, mappings
# and ports. At the end the churn stops, the senders stop, and it asserts: both lossless
# streams received exactly what was sent with no loss, reordering or duplicate; the
# daemon's fd count and mappings are back to their values before the churn; RSS grew by
# less than SOAK_RSS_KIB (default 16384). Exit 0 pass, 1 fail; the samples also go to
# SOAK_OUT (default BUILD_DIR/soak.txt). The daemon's fd count must also return to its
# value before any client came.
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/lib.sh"
vnm_init "${1:-build}"
require_bin vnetmapd pkt-gen vale-ctl
SECS=${SOAK_SECONDS:-600}
RATE=${SOAK_RATE:-100000}
SAMPLE=${SOAK_SAMPLE:-10}
CHURN_MS=${SOAK_CHURN_MS:-300}
RSS_MAX=${SOAK_RSS_KIB:-16384}
OUT=${SOAK_OUT:-$BUILD/soak.txt}
start_daemon -q
sleep 0.3

rss() { sed -n -E 's/^VmRSS:[[:space:]]+([0-9]+).*/\1/p' "/proc/$DAEMON_PID/status"; }
maps() { wc -l <"/proc/$DAEMON_PID/maps"; }
nports() { vctl -l 2>/dev/null | grep -c .; }
listed() { vctl -l 2>/dev/null | grep -q "^$1 "; }

fds_idle=$(fd_count "$DAEMON_PID")
# the long-lived traffic
bg prx "$BIN/pkt-gen" -i 'netmap:sk}1' -f rxseq
PRX=$BG_PID
bg lrx "$BIN/pkt-gen" -i vale1:lr -f rxseq
LRX=$BG_PID
bg vrx "$BIN/pkt-gen" -i vale0:b -f rx
VRX=$BG_PID
wait_until 10 listed 'netmap:sk}1' && wait_until 10 listed vale1:lr && wait_until 10 listed vale0:b ||
	fail "receivers not up"
bg ptx "$BIN/pkt-gen" -i 'netmap:sk{1' -f txseq -R "$RATE"
PTX=$BG_PID
bg ltx "$BIN/pkt-gen" -i 'vale1:ls@conf:lossless=1' -f txseq -R "$RATE"
LTX=$BG_PID
bg vtx "$BIN/pkt-gen" -i vale0:a -f tx -R "$RATE"
VTX=$BG_PID
LONG=("$PRX" "$LRX" "$VRX" "$PTX" "$LTX" "$VTX")
sleep 2
fds0=$(fd_count "$DAEMON_PID")
maps0=$(maps)
rss0=$(rss)
{
	echo "# soak $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n): $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "# SOAK_SECONDS=$SECS SOAK_RATE=$RATE SOAK_CHURN_MS=$CHURN_MS; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# t_s rss_kib fds maps ports churn_clients actions"
} | tee "$OUT"
printf '%s %s %s %s %s %s %s\n' 0 "$rss0" "$fds0" "$maps0" "$(nports)" 0 0 | tee -a "$OUT"

churn=()          # pids of churn clients
declare -A cport  # pid -> port name(s)
actions=0 started=0 killed9=0 termed=0 pers=0 ctlq=0
n=0
start_churn() {
	local k=$((RANDOM % 5)) id=$((n++))
	case $k in
	0) bg "c$id" "$BIN/pkt-gen" -i "vale0:c$id" -f rx ;;
	1) bg "c$id" "$BIN/pkt-gen" -i "vale0:c$id" -f tx -R 20000 ;;
	2) bg "c$id" "$BIN/pkt-gen" -i "vale0:c$id" -f tx -l 9000 -R 5000 ;;
	3) bg "c$id" "$BIN/pkt-gen" -i "netmap:ch$id}1" -f rx
	   churn+=("$BG_PID")
	   bg "c${id}b" "$BIN/pkt-gen" -i "netmap:ch$id{1" -f tx -R 20000 ;;
	4) bg "c$id" "$BIN/pkt-gen" -i "vale0:c$id@conf:rings=2,slots=256" -f rx -p 2 ;;
	esac
	churn+=("$BG_PID")
	started=$((started + 1))
}
stop_one() {
	[ ${#churn[@]} -gt 0 ] || return 0
	local i=$((RANDOM % ${#churn[@]})) p
	p=${churn[$i]}
	if [ $((RANDOM % 3)) -eq 0 ]; then
		kill -TERM "$p" 2>/dev/null
		termed=$((termed + 1))
		wait_pid "$p" 5 >/dev/null 2>&1 || kill -KILL "$p" 2>/dev/null
	else
		kill -KILL "$p" 2>/dev/null
		killed9=$((killed9 + 1))
	fi
	wait "$p" 2>/dev/null
	churn=("${churn[@]:0:$i}" "${churn[@]:$((i + 1))}")
}
persistent() {
	local nm="sp$((RANDOM % 4))"
	vctl -n "$nm" >/dev/null 2>&1
	vctl -a "vale0:$nm" >/dev/null 2>&1
	vctl -d "vale0:$nm" >/dev/null 2>&1
	vctl -r "$nm" >/dev/null 2>&1
	pers=$((pers + 1))
}

t_start=$(date +%s)
next_sample=$((t_start + SAMPLE))
while :; do
	now=$(date +%s)
	[ $((now - t_start)) -ge "$SECS" ] && break
	case $((RANDOM % 6)) in
	0 | 1) [ ${#churn[@]} -lt 8 ] && start_churn || stop_one ;;
	2 | 3) stop_one ;;
	4) persistent ;;
	5) vctl -l >/dev/null 2>&1; vctl --stats >/dev/null 2>&1; ctlq=$((ctlq + 1)) ;;
	esac
	actions=$((actions + 1))
	for p in "${LONG[@]}"; do
		kill -0 "$p" 2>/dev/null || fail "a long-lived client died at $((now - t_start)) s: $(tail -n 3 "$TMPD"/*.log | tail -n 20)"
	done
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "vnetmapd died at $((now - t_start)) s"
	if [ "$now" -ge "$next_sample" ]; then
		printf '%s %s %s %s %s %s %s\n' $((now - t_start)) "$(rss)" "$(fd_count "$DAEMON_PID")" \
			"$(maps)" "$(nports)" ${#churn[@]} "$actions" | tee -a "$OUT"
		next_sample=$((next_sample + SAMPLE))
	fi
	sleep "$(awk -v m="$CHURN_MS" 'BEGIN { printf "%.3f", m / 1000 }')"
done

# the end: churn away, then the lossless streams are checked
while [ ${#churn[@]} -gt 0 ]; do stop_one; done
kill -TERM "$PTX" "$LTX" "$VTX"
for p in "$PTX" "$LTX" "$VTX"; do wait_pid "$p" 10 || fail "a sender did not stop"; done
sleep 1
kill -TERM "$PRX" "$LRX" "$VRX"
for p in "$PRX" "$LRX" "$VRX"; do wait_pid "$p" 10 || fail "a receiver did not stop"; done
VNM_PIDS=()
psent=$(pg_count "$TMPD/ptx.log"); pgot=$(pg_count "$TMPD/prx.log")
lsent=$(pg_count "$TMPD/ltx.log"); lgot=$(pg_count "$TMPD/lrx.log")
pseq=$(seq_line "$TMPD/prx.log"); lseq=$(seq_line "$TMPD/lrx.log")
vgot=$(pg_count "$TMPD/vrx.log")
idle_again() { [ "$(fd_count "$DAEMON_PID")" -eq "$fds_idle" ]; }
wait_until 5 idle_again
fds1=$(fd_count "$DAEMON_PID"); maps1=$(maps); rss1=$(rss)
# the long-lived ports are gone too now: compare with the value before they came
summary="soak: ${SECS}s, $actions churn actions ($started clients started, $killed9 kill -9, $termed SIGTERM,"
summary="$summary $pers persistent create/attach/detach/remove, $ctlq list+stats);"
summary="$summary pipe $psent sent / $pgot received [$pseq]; lossless VALE $lsent sent / $lgot received [$lseq];"
summary="$summary lossy VALE received $vgot; daemon RSS $rss0 -> max $(awk 'NR>4 && $2>m {m=$2} END {print m}' "$OUT") -> $rss1 KiB,"
summary="$summary fds $fds0 (with traffic) -> max $(awk 'NR>4 && $3>m {m=$3} END {print m}' "$OUT") -> $fds1 (all clients gone; $fds_idle before any), maps $maps0 -> $maps1"
echo "# $summary" >>"$OUT"
echo "$summary"
ok=1
[ -n "$psent" ] && [ "$psent" = "$pgot" ] && echo "$pseq" | grep -q 'lost 0, out-of-order 0, duplicates 0' ||
	{ echo "FAIL: pipe stream: sent ${psent:-?} received ${pgot:-?} $pseq"; ok=0; }
[ -n "$lsent" ] && [ "$lsent" = "$lgot" ] && echo "$lseq" | grep -q 'lost 0, out-of-order 0, duplicates 0' ||
	{ echo "FAIL: lossless VALE stream: sent ${lsent:-?} received ${lgot:-?} $lseq"; ok=0; }
[ $((rss1 - rss0)) -lt "$RSS_MAX" ] || { echo "FAIL: RSS grew by $((rss1 - rss0)) KiB"; ok=0; }
[ "$fds1" -eq "$fds_idle" ] || { echo "FAIL: daemon fds $fds1 at the end, $fds_idle before any client"; ok=0; }
[ $ok -eq 1 ] || exit 1
echo "soak: PASS"
exit 0
