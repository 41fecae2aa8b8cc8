#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fault_kill_qemu: kill -9 of a QEMU guest attached to vale0 through vhost-user (QEMU the
# socket server, vnetmapd the client), at a random moment of its life (booting, driver
# coming up, running), in a loop. After every kill: vnetmapd is alive, its fd count
# returns to the baseline (memory table, kick and call fds of the dead front-end closed),
# a host pair on the same switch keeps forwarding, and a pipe txseq/rxseq stream between
# two other clients loses nothing. The next QEMU on the same socket is served again.
# FAULT_ITERS (default 3; 100 for the acceptance run). Skips (77) without QEMU or image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd pkt-gen vale-ctl
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
"$BIN/vnetmapd" --help 2>&1 | grep -q -- --vhost-user || skip "vnetmapd has no --vhost-user"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
ITERS=${FAULT_ITERS:-3}

S=$TMPD/g.sock
start_daemon --vhost-user "vale0:g=$S"

bg vrx "$BIN/pkt-gen" -i vale0:d -f rx
VRX=$BG_PID
bg prx "$BIN/pkt-gen" -i 'netmap:fq}1' -f rxseq
PRX=$BG_PID
sleep 0.3
bg vtx "$BIN/pkt-gen" -i vale0:c -f tx -R 20000
VTX=$BG_PID
bg ptx "$BIN/pkt-gen" -i 'netmap:fq{1' -f txseq -R 20000
PTX=$BG_PID
d_rx() { stat_of vale0:d tx_packets; }
grows() { [ "$(d_rx)" -gt "$1" ]; }
wait_until 10 grows 0 || fail "vale0:c -> vale0:d does not forward"
sleep 0.5

# baseline: no front-end on vale0:g (vnetmapd retries the connection every second)
fds0=$(fd_count "$DAEMON_PID")
fds_back() { [ "$(fd_count "$DAEMON_PID")" -eq "$fds0" ]; }
served() { [ "$(stat_of vale0:g rx_packets)" -gt 0 ] 2>/dev/null || [ "$(fd_count "$DAEMON_PID")" -gt "$fds0" ]; }
log "baseline: daemon fds $fds0; $ITERS iterations"
vm_script "$VM_TMP/g.sh" stay-up.sh SERVE=60 IPERF=0

connected=0
t_start=$(date +%s.%N)
for ((i = 1; i <= ITERS; i++)); do
	rm -f "$S"
	vm_start g "$VM_TMP/g.sh" --vhost-user "$S" --server --mac 52:54:00:00:00:0a --ip 10.0.0.10/24
	before=$(d_rx)
	# a random moment: 0.5 s to 6.5 s after start (QEMU waiting, guest booting, running)
	sleep "$((RANDOM % 6)).$((RANDOM % 10))"
	served && connected=$((connected + 1))
	qpid=$(cat "$VM_TMP/g.pid" 2>/dev/null)
	case $(cat "/proc/${qpid:-0}/comm" 2>/dev/null) in
	qemu*) kill -KILL "$qpid" ;;
	*) sleep 1; qpid=$(cat "$VM_TMP/g.pid" 2>/dev/null); kill -KILL "${qpid:-0}" 2>/dev/null ;;
	esac
	vm_wait 20 g >/dev/null 2>&1
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "iteration $i: vnetmapd died"
	wait_until 15 fds_back || fail "iteration $i: daemon fds $(fd_count "$DAEMON_PID"), baseline $fds0"
	wait_until 10 grows "$before" || fail "iteration $i: vale0:d stopped receiving ($(d_rx) frames)"
	for p in "$VRX" "$PRX" "$VTX" "$PTX"; do
		kill -0 "$p" 2>/dev/null || fail "iteration $i: a survivor died"
	done
done
t_end=$(date +%s.%N)

kill -TERM "$PTX"
wait_pid "$PTX" 10 || fail "txseq did not stop on SIGTERM"
sent=$(pg_count "$TMPD/ptx.log")
sleep 0.5
kill -TERM "$PRX"
wait_pid "$PRX" 10 || fail "rxseq did not stop on SIGTERM"
got=$(pg_count "$TMPD/prx.log")
seq_clean "$TMPD/prx.log" || fail "pipe stream: $(seq_line "$TMPD/prx.log")"
[ -n "$sent" ] && [ "$sent" = "$got" ] || fail "pipe stream: sent ${sent:-?}, received ${got:-?}"
secs=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
echo "fault_kill_qemu: $ITERS kills in ${secs}s ($connected with the front-end connected);" \
	"daemon fds back to $fds0 after every kill; vale0:d received $(d_rx) frames;" \
	"pipe stream sent $sent, received $got, $(seq_line "$TMPD/prx.log")"
exit 0
