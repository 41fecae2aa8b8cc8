#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fault_kill_client (bad-inputs.md item 22): kill -9 clients at random moments, in a
# loop, while a VALE pair (vale0:a -> vale0:b, rate-limited) and a pipe txseq/rxseq
# stream (netmap:fs{1 -> netmap:fs}1) run next to them. Each iteration starts one
# victim of a random kind - VALE receiver, VALE sender (broadcast, so the switch
# floods to every victim too), 9000-byte chain sender, lossless VALE sender, a pipe
# pair, a pipe end alone, a bare vale-ctl INFO - kills it with SIGKILL after a random
# 0-400 ms (sometimes before it opened its port), then asserts: the victim's port is
# gone from vale-ctl -l, the daemon's fd count and region files are back to the
# baseline, and vale0:b received more frames than before the kill. At the end the
# pipe stream is stopped: received == sent, lost 0, out-of-order 0, duplicates 0.
#
# FAULT_ITERS iterations (default 10; the acceptance run uses 100). Prints one summary
# line "fault_kill_client: N iterations, ..." with the figures.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
ITERS=${FAULT_ITERS:-10}
start_daemon

# the survivors: a VALE pair and a pipe sequence stream
bg vrx "$BIN/pkt-gen" -i vale0:b -f rx
VRX=$BG_PID
bg prx "$BIN/pkt-gen" -i 'netmap:fs}1' -f rxseq
PRX=$BG_PID
sleep 0.3
bg vtx "$BIN/pkt-gen" -i vale0:a -f tx -R 20000
VTX=$BG_PID
bg ptx "$BIN/pkt-gen" -i 'netmap:fs{1' -f txseq -R 20000
PTX=$BG_PID

listed() { vctl -l 2>/dev/null | grep -q "^$1 "; }
not_listed() { ! listed "$1"; }
wait_until 10 listed vale0:a && wait_until 10 listed vale0:b && wait_until 10 listed 'netmap:fs}1' ||
	fail "survivors not listed: $(vctl -l 2>&1)"
b_rx() { stat_of vale0:b tx_packets; }
grows() { [ "$(b_rx)" -gt "$1" ]; }
wait_until 10 grows 0 || fail "vale0:a -> vale0:b does not forward"
sleep 0.5

fds0=$(fd_count "$DAEMON_PID")
reg0=$(region_count)
log "baseline with the survivors: daemon fds $fds0, region files $reg0; $ITERS iterations"
fds_back() { [ "$(fd_count "$DAEMON_PID")" -eq "$fds0" ]; }
regions_back() { [ "$(region_count)" -eq "$reg0" ]; }

kinds=(vale-rx vale-tx vale-jumbo vale-lossless pipe-pair pipe-end ctl)
declare -A seen
t_start=$(date +%s.%N)
worst_ms=0
for ((i = 1; i <= ITERS; i++)); do
	kind=${kinds[$((RANDOM % ${#kinds[@]}))]}
	seen[$kind]=$(( ${seen[$kind]:-0} + 1 ))
	victims=()
	ports=()
	case $kind in
	vale-rx) bg v "$BIN/pkt-gen" -i vale0:v -f rx; victims+=("$BG_PID"); ports+=(vale0:v) ;;
	vale-tx) bg v "$BIN/pkt-gen" -i vale0:v -f tx; victims+=("$BG_PID"); ports+=(vale0:v) ;;
	vale-jumbo) bg v "$BIN/pkt-gen" -i vale0:j -f tx -l 9000; victims+=("$BG_PID"); ports+=(vale0:j) ;;
	vale-lossless)
		bg v "$BIN/pkt-gen" -i 'vale0:l@conf:lossless=1' -f tx; victims+=("$BG_PID"); ports+=(vale0:l) ;;
	pipe-pair)
		bg v1 "$BIN/pkt-gen" -i 'netmap:kv}1' -f rx; victims+=("$BG_PID")
		bg v2 "$BIN/pkt-gen" -i 'netmap:kv{1' -f tx; victims+=("$BG_PID")
		ports+=('netmap:kv{1' 'netmap:kv}1') ;;
	pipe-end) bg v "$BIN/pkt-gen" -i 'netmap:ke{2' -f tx; victims+=("$BG_PID"); ports+=('netmap:ke{2') ;;
	ctl) bg v "$BIN/vale-ctl" --dir "$VNETMAP_DIR" -l; victims+=("$BG_PID") ;;
	esac
	before=$(b_rx)
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	for p in "${victims[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${victims[@]}"; do wait "$p" 2>/dev/null; done
	VNM_PIDS=("$VRX" "$PRX" "$VTX" "$PTX")
	t0=$(date +%s%N)
	for port in "${ports[@]}"; do
		wait_until 10 not_listed "$port" || fail "iteration $i ($kind): $port still listed after kill -9"
	done
	wait_until 10 fds_back || fail "iteration $i ($kind): daemon fds $(fd_count "$DAEMON_PID"), baseline $fds0"
	wait_until 10 regions_back || fail "iteration $i ($kind): region files $(region_count), baseline $reg0"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $ms -gt $worst_ms ] && worst_ms=$ms
	wait_until 10 grows "$before" || fail "iteration $i ($kind): vale0:b stopped receiving ($(b_rx) frames)"
	for p in "$VRX" "$PRX" "$VTX" "$PTX"; do
		kill -0 "$p" 2>/dev/null || fail "iteration $i ($kind): a survivor died: $(tail -n 3 "$TMPD"/*.log)"
	done
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "iteration $i ($kind): vnetmapd died"
done
t_end=$(date +%s.%N)

# stop the pipe stream: the receiver must have every frame, in order
kill -TERM "$PTX"
wait_pid "$PTX" 10 || fail "txseq did not stop on SIGTERM"
sent=$(pg_count "$TMPD/ptx.log")
sleep 0.5
kill -TERM "$PRX"
wait_pid "$PRX" 10 || fail "rxseq did not stop on SIGTERM"
got=$(pg_count "$TMPD/prx.log")
line=$(seq_line "$TMPD/prx.log")
[ -n "$line" ] || fail "rxseq printed no SEQ line: $(tail -n 3 "$TMPD/prx.log")"
seq_clean "$TMPD/prx.log" || fail "pipe stream: $line"
[ -n "$sent" ] && [ "$sent" = "$got" ] || fail "pipe stream: sent ${sent:-?}, received ${got:-?}"
vb=$(b_rx)
kinds_seen=$(for k in "${!seen[@]}"; do printf '%s=%s ' "$k" "${seen[$k]}"; done)
secs=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
echo "fault_kill_client: $ITERS iterations in ${secs}s (${kinds_seen% }); port gone, fds back to $fds0 and" \
	"region files to $reg0 after every kill (slowest ${worst_ms} ms); vale0:b received $vb frames;" \
	"pipe stream $sent sent, $line"
exit 0
