#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fault_kill_daemon (bad-inputs.md item 22): kill -9 vnetmapd at a random moment (0-800 ms
# after its start, while a VALE pair and a pipe txseq/rxseq pair open their ports and
# run), then start a new one on the same directory. Each time the new daemon must be
# usable at once: as soon as it logs "listening" the stale socket has been replaced
# and the stale region files removed (none left in its region directory), vale-ctl
# answers on the first try, a VALE pair forwards and a pipe stream of 5,000 frames
# arrives whole and in order. The clients of the dead daemon are killed too.
#
# FAULT_ITERS iterations (default 10; the acceptance run uses 100). Prints one summary
# line "fault_kill_daemon: N iterations, ..." with the figures.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
ITERS=${FAULT_ITERS:-10}

# start_daemon returns at once when a (stale) socket exists: wait for this daemon's line
# (the old log goes first: the redirection of a background job happens in the child,
# so a grep right after the start could still read the previous daemon's line)
start_fresh() {
	rm -f "$TMPD/vnetmapd.log"
	start_daemon
	wait_until 10 grep -qs "listening on" "$TMPD/vnetmapd.log" ||
		fail "iteration $i: the restarted vnetmapd never listened: $(tail -n 3 "$TMPD/vnetmapd.log")"
}

stale_socks=0 stale_regions=0 worst_ms=0
t_start=$(date +%s.%N)
i=0
start_fresh
for ((i = 1; i <= ITERS; i++)); do
	# clients come and traffic flows; the daemon dies at a random moment
	bg crx "$BIN/pkt-gen" -i vale0:b -f rx
	c1=$BG_PID
	bg ctx "$BIN/pkt-gen" -i vale0:a -f tx -R 50000
	c2=$BG_PID
	bg cprx "$BIN/pkt-gen" -i 'netmap:kd}1' -f rxseq
	c3=$BG_PID
	bg cptx "$BIN/pkt-gen" -i 'netmap:kd{1' -f txseq
	c4=$BG_PID
	sleep "0.$(printf '%03d' $((RANDOM % 800)))"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	old=$DAEMON_PID
	DAEMON_PID=
	for p in $c1 $c2 $c3 $c4; do kill -KILL "$p" 2>/dev/null; done
	for p in $c1 $c2 $c3 $c4; do wait "$p" 2>/dev/null; done
	VNM_PIDS=()
	kill -0 "$old" 2>/dev/null && fail "iteration $i: killed vnetmapd $old still there"
	[ -S "$VNETMAP_DIR/vnetmapd.sock" ] && stale_socks=$((stale_socks + 1))
	n=$(find "$VNETMAP_DIR/mem" -type f 2>/dev/null | wc -l)
	stale_regions=$((stale_regions + n))

	# restart: usable at once
	t0=$(date +%s%N)
	start_fresh
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $ms -gt $worst_ms ] && worst_ms=$ms
	left=$(find "$VNETMAP_DIR/mem" -type f 2>/dev/null | wc -l)
	[ "$left" -eq 0 ] || fail "iteration $i: $left stale region files left after restart: $(ls "$VNETMAP_DIR/mem")"
	out=$(vctl -l 2>&1) || fail "iteration $i: vale-ctl -l on the restarted daemon: $out"
	[ -z "$out" ] || fail "iteration $i: the restarted daemon lists ports: $out"

	bg vrx "$BIN/pkt-gen" -i vale0:b -f rx -n 1000
	vrx=$BG_PID
	bg prx "$BIN/pkt-gen" -i 'netmap:kd}1' -f rxseq -n 5000
	prx=$BG_PID
	wait_until 10 grep -q 'Receiving from' "$TMPD/vrx.log" "$TMPD/prx.log" || true
	bg vtx "$BIN/pkt-gen" -i vale0:a -f tx -R 100000
	vtx=$BG_PID
	bg ptx "$BIN/pkt-gen" -i 'netmap:kd{1' -f txseq -n 5000
	ptx=$BG_PID
	wait_pid "$vrx" 15 || fail "iteration $i: VALE pair on the restarted daemon: $(tail -n 2 "$TMPD/vrx.log")"
	wait_pid "$ptx" 15 || fail "iteration $i: txseq on the restarted daemon: $(tail -n 2 "$TMPD/ptx.log")"
	wait_pid "$prx" 15 || fail "iteration $i: rxseq did not get 5000 frames: $(tail -n 2 "$TMPD/prx.log")"
	seq_clean "$TMPD/prx.log" || fail "iteration $i: pipe stream: $(seq_line "$TMPD/prx.log")"
	kill -TERM "$vtx"
	wait_pid "$vtx" 10
	VNM_PIDS=()
done
t_end=$(date +%s.%N)
secs=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
echo "fault_kill_daemon: $ITERS kill -9 + restart in ${secs}s; stale sockets replaced $stale_socks," \
	"stale region files removed $stale_regions; every restart usable at once (slowest listen" \
	"${worst_ms} ms), VALE pair forwarding and 5000-frame pipe stream clean each time"
exit 0
