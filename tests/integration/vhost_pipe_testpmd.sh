#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vhost_pipe_testpmd: a pipe end served as vhost-user (docs/VHOST-USER.md "Pipe ends").
# DPDK testpmd's virtio-user front-end (no VM) sits on netmap:p{1, pkt-gen on the
# other end netmap:p}1; frames both ways, counts checked.
#   1. vnetmapd the socket client (--vhost-user 'netmap:p{1=SOCK'), testpmd txonly:
#      every frame testpmd sent entered the private switch (rx_packets of netmap:p{1),
#      was delivered into the pipe ("netmap:p{1.pipe" tx_packets) or dropped on a full
#      pipe (drop_full), and pkt-gen on p}1 received exactly the delivered ones.
#   2. A new testpmd (rxonly) on the same socket (vnetmapd reconnects): pkt-gen sends
#      N2 frames into p}1; a pipe is lossless, so testpmd receives every one.
#   3. vale-ctl -r 'netmap:p{1' unbinds the end: pkt-gen can bind it; then the same
#      end served again with vnetmapd as the server (vale-ctl --vhost-user --server):
#      with no front-end, 100 frames from pkt-gen wait in the pipe and vnetmapd does not
#      spin; testpmd the client: a short txonly run; SIGTERM: clean exit, no errors.
# Exit 77 when dpdk-testpmd is not installed.
. "$(dirname "$0")/../lib.sh"
vnm_init "${1:-}"
require_bin vnetmapd pkt-gen vale-ctl
TESTPMD=$(command -v dpdk-testpmd) || skip "dpdk-testpmd not installed (apt install dpdk)"

SOCK=$TMPD/vh.sock
trap 'rc=$?; rm -rf "/var/run/dpdk/vnm$$"; (exit $rc); vnm_cleanup' EXIT
N2=${N2:-20000}
END='netmap:p{1'
PEER='netmap:p}1'

tp_start() {
	local mode=$1 args=$2
	rm -f "$TMPD/tp.in"
	mkfifo "$TMPD/tp.in"
	exec 3<>"$TMPD/tp.in"
	TP_LOG=$TMPD/testpmd-$mode.log
	stdbuf -oL -eL "$TESTPMD" --no-pci --no-huge -m 256 --iova-mode=va -l 0,1 --file-prefix="vnm$$" \
		--vdev="net_virtio_user0,path=$SOCK,queues=1$args" -- \
		-i --forward-mode="$mode" --total-num-mbufs=8192 --nb-cores=1 <&3 >"$TP_LOG" 2>&1 &
	TP_PID=$!
	VNM_PIDS+=("$TP_PID")
}
tp_cmd() { echo "$*" >&3; }
tp_quit() {
	tp_cmd quit
	exec 3>&-
	wait_pid "$TP_PID" 30 || fail "testpmd did not quit: $(tail -n 5 "$TP_LOG")"
}
tp_count() { grep -Eo "$1-packets: +[0-9]+" "$TP_LOG" | tail -n 1 | grep -Eo '[0-9]+$'; }
connected() { vctl -g "$END" 2>/dev/null | grep -q 'front-end connected'; }
prompt_ready() { grep -q 'testpmd>' "$TP_LOG"; }

# ---- 1: testpmd -> pipe -> pkt-gen ----
start_daemon --vhost-user "$END=$SOCK"
vctl -l | grep -qF "$END" || fail "the end is not listed: $(vctl -l)"
tp_start txonly ",server=1"
wait_until 30 connected || fail "vnetmapd did not connect to testpmd: $(tail -n 5 "$TMPD/vnetmapd.log")"
wait_until 30 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
bg rx "$BIN/pkt-gen" -i "$PEER" -f rx
RX_PID=$BG_PID
wait_until 10 sh -c "grep -q 'netmap:p}1 bound' \"$TMPD/vnetmapd.log\"" || fail "pkt-gen rx did not bind $PEER"
tp_cmd start
sleep 2
tp_cmd stop
wait_until 20 sh -c "grep -q 'TX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 1
sent=$(tp_count TX)
vm_rx=$(stat_of "$END" rx_packets)
vm_rxb=$(stat_of "$END" rx_bytes)
p_tx=$(stat_of "$END.pipe" tx_packets)
p_full=$(stat_of "$END.pipe" drop_full)
log "testpmd sent $sent; guest side rx $vm_rx ($vm_rxb bytes); into the pipe $p_tx, drop_full $p_full"
[ -n "$sent" ] && [ "$sent" -gt 1000 ] || fail "testpmd sent too little: '$sent'"
[ "$vm_rx" = "$sent" ] || fail "the switch took $vm_rx frames from the guest, testpmd sent $sent"
[ "$vm_rxb" = $((sent * 64)) ] || fail "rx_bytes $vm_rxb != 64 x $sent"
[ $((p_tx + p_full)) = "$sent" ] || fail "delivered $p_tx + dropped $p_full != sent $sent"
[ "$p_tx" -gt 1000 ] || fail "only $p_tx frames went into the pipe"
# frames still in our TX ring move when pkt-gen frees room (TX wake-up): all arrive
sleep 1
kill -INT "$RX_PID"
wait_pid "$RX_PID" 10
got=$(pg_count "$TMPD/rx.log")
[ "$got" = "$p_tx" ] || fail "pkt-gen received $got, the switch put $p_tx into the pipe"
grep -q '64 bytes each' "$TMPD/rx.log" || fail "pkt-gen did not see 64-byte frames"
tp_quit

# ---- 2: pkt-gen -> pipe -> testpmd, lossless ----
tp_start rxonly ",server=1"
wait_until 30 connected || fail "vnetmapd did not reconnect: $(tail -n 5 "$TMPD/vnetmapd.log")"
wait_until 30 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
tp_cmd start
sleep 1
before=$(stat_of "$END" tx_packets)
timeout 120 "$BIN/pkt-gen" -i "$PEER" -f tx -n $N2 -R ${RATE2:-20000} -l 60 >"$TMPD/tx.log" 2>&1 ||
	fail "pkt-gen tx failed: $(tail -n 3 "$TMPD/tx.log")"
wait_until 20 sh -c "[ \$((\$(\"$BIN/vale-ctl\" --dir \"$VNETMAP_DIR\" --stats --json | grep -F '\"name\": \"$END\"' | sed -n -E 's/.*\"tx_packets\": ([0-9]+).*/\\1/p') - $before)) -ge $N2 ]" ||
	log "not all delivered yet"
sleep 1
tp_cmd stop
wait_until 20 sh -c "grep -q 'RX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 0.5
recv=$(tp_count RX)
vm_tx=$(($(stat_of "$END" tx_packets) - before))
p_rx=$(stat_of "$END.pipe" rx_packets)
vm_full=$(stat_of "$END" drop_full)
log "pkt-gen sent $N2; out of the pipe $p_rx; delivered to the guest $vm_tx (drop_full $vm_full); testpmd received $recv"
[ "$(pg_count "$TMPD/tx.log")" = "$N2" ] || fail "pkt-gen did not send $N2"
[ "$vm_tx" = "$N2" ] || fail "the switch delivered $vm_tx of $N2 to the guest"
[ "$recv" = "$N2" ] || fail "testpmd received $recv of $N2"
tp_quit

# ---- 3: remove, the end is free; served again, vnetmapd the server ----
vctl -r "$END" || fail "vale-ctl -r $END failed"
vctl -l | grep -qF "$END" && fail "$END still listed after removal: $(vctl -l)"
timeout 30 "$BIN/pkt-gen" -i "$END" -f tx -n 10 >"$TMPD/tx2.log" 2>&1 || true
grep -q "$END bound" "$TMPD/vnetmapd.log" || fail "pkt-gen could not bind $END after removal"
wait_until 10 sh -c "grep -q 'netmap:p{1 unbound' \"$TMPD/vnetmapd.log\"" || true
rm -f "$SOCK"
vctl -n "$END" --vhost-user "$SOCK" --server || fail "vale-ctl -n $END --vhost-user --server failed"
# no front-end yet: frames pkt-gen puts in the pipe wait there, and the daemon sleeps
timeout 30 "$BIN/pkt-gen" -i "$PEER" -f tx -n 100 >"$TMPD/tx3.log" 2>&1 || fail "pkt-gen tx (no front-end) failed"
cpu() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
c0=$(cpu)
sleep 2
c1=$(cpu)
log "no front-end, 100 frames waiting in the pipe: vnetmapd used $((c1 - c0)) ticks in 2 s"
[ $((c1 - c0)) -lt 60 ] || fail "vnetmapd spins while frames wait for a front-end ($((c1 - c0)) ticks in 2 s)"
tp_start txonly ""
wait_until 30 connected || fail "testpmd did not connect: $(tail -n 5 "$TP_LOG")"
wait_until 30 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
before=$(stat_of "$END" rx_packets)
tp_cmd start
sleep 1
tp_cmd stop
wait_until 20 sh -c "grep -q 'TX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 0.5
sent=$(tp_count TX)
vm_rx=$(($(stat_of "$END" rx_packets) - before))
log "server mode: testpmd sent $sent, the switch took $vm_rx"
[ -n "$sent" ] && [ "$sent" -gt 1000 ] && [ "$vm_rx" = "$sent" ] ||
	fail "server mode: testpmd sent '$sent', the switch took '$vm_rx'"
tp_quit
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || fail "vnetmapd exited with an error: $(tail -n 5 "$TMPD/vnetmapd.log")"
DAEMON_PID=
grep -E 'error|warning|ERR|WARN' "$TMPD/vnetmapd.log" && fail "vnetmapd logged errors"
exit 0
