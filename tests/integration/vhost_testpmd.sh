#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vhost_testpmd: DPDK testpmd's virtio-user front-end (no VM) on a vhost-user port of
# vale0, exchanging a known packet stream with pkt-gen on the same switch, both ways.
#   1. testpmd is the socket server (server=1), vnetmapd the client (the default
#      deployment, reconnecting every second): testpmd txonly -> pkt-gen rx.
#      Every frame testpmd counts as sent enters the switch (vm rx_packets, 64 bytes
#      each) and is either delivered to pkt-gen's port or counted as drop_full there.
#   2. A new testpmd (rxonly) on the same socket: vnetmapd reconnects by itself.
#      pkt-gen sends 20,000 frames at 20 kpps from a lossless port (it waits when the
#      guest's RX ring is full: the vhost port's space() and RX kicks): testpmd
#      receives every one.
#   3. vnetmapd as the server (--vhost-user ...,server), testpmd the client: a
#      short txonly run, counted the same way.
# Exit 77 when dpdk-testpmd is not installed.
. "$(dirname "$0")/../lib.sh"
vnm_init "${1:-}"
require_bin vnetmapd pkt-gen vale-ctl
TESTPMD=$(command -v dpdk-testpmd) || skip "dpdk-testpmd not installed (apt install dpdk)"

SOCK=$TMPD/vh.sock
# testpmd leaves its runtime directory behind: remove it, keep the exit status
trap 'rc=$?; rm -rf "/var/run/dpdk/vnm$$"; (exit $rc); vnm_cleanup' EXIT
N2=${N2:-20000}

# testpmd MODE SOCKARGS: interactive testpmd driven through a fifo on fd 3
tp_start() {
	local mode=$1 args=$2
	rm -f "$TMPD/tp.in"
	mkfifo "$TMPD/tp.in"
	exec 3<>"$TMPD/tp.in" # read-write: opening does not block, testpmd never sees EOF
	TP_LOG=$TMPD/testpmd-$mode.log
	# not through bg: a background command's stdin would be /dev/null
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
	wait_pid "$TP_PID" 20 || fail "testpmd did not quit: $(tail -n 5 "$TP_LOG")"
}

# the last "TX-packets: N" / "RX-packets: N" testpmd printed
tp_count() { grep -Eo "$1-packets: +[0-9]+" "$TP_LOG" | tail -n 1 | grep -Eo '[0-9]+$'; }

connected() { vctl -g vm 2>/dev/null | grep -q 'front-end connected'; }
prompt_ready() { grep -q 'testpmd>' "$TP_LOG"; }

# ---- 1: vnetmapd is the client ----
start_daemon --vhost-user "vale0:vm=$SOCK"
tp_start txonly ",server=1"
wait_until 15 connected || fail "vnetmapd did not connect to testpmd: $(tail -n 5 "$TMPD/vnetmapd.log")"
wait_until 15 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
bg rx "$BIN/pkt-gen" -i vale0:b -f rx
RX_PID=$BG_PID
wait_until 10 sh -c "\"$BIN/vale-ctl\" --dir \"$VNETMAP_DIR\" -l | grep -q 'vale0:b '" ||
	fail "pkt-gen rx did not open vale0:b"
tp_cmd start
sleep 2
tp_cmd stop
wait_until 10 sh -c "grep -q 'TX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 0.5
sent=$(tp_count TX)
vm_rx=$(stat_of vale0:vm rx_packets)
vm_rxb=$(stat_of vale0:vm rx_bytes)
b_tx=$(stat_of vale0:b tx_packets)
b_full=$(stat_of vale0:b drop_full)
log "testpmd sent $sent; vm rx $vm_rx ($vm_rxb bytes); delivered to b $b_tx, drop_full $b_full"
[ -n "$sent" ] && [ "$sent" -gt 1000 ] || fail "testpmd sent too little: '$sent'"
[ "$vm_rx" = "$sent" ] || fail "switch took $vm_rx frames from the guest, testpmd sent $sent"
[ "$vm_rxb" = $((sent * 64)) ] || fail "rx_bytes $vm_rxb != 64 x $sent"
[ $((b_tx + b_full)) = "$sent" ] || fail "delivered $b_tx + dropped $b_full != sent $sent"
kill -INT "$RX_PID"
wait_pid "$RX_PID" 10
got=$(pg_count "$TMPD/rx.log")
[ "$got" = "$b_tx" ] || fail "pkt-gen received $got, the switch delivered $b_tx"
grep -q '64 bytes each' "$TMPD/rx.log" || fail "pkt-gen did not see 64-byte frames"
tp_quit

# ---- 2: a new front-end on the same socket: vnetmapd reconnects ----
tp_start rxonly ",server=1"
wait_until 15 connected || fail "vnetmapd did not reconnect: $(tail -n 5 "$TMPD/vnetmapd.log")"
wait_until 15 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
tp_cmd start
sleep 0.5
before=$(stat_of vale0:vm tx_packets)
"$BIN/pkt-gen" -i "vale0:c@conf:lossless=1" -f tx -n $N2 -R ${RATE2:-20000} -l 60 >"$TMPD/tx.log" 2>&1 ||
	fail "pkt-gen tx failed: $(tail -n 3 "$TMPD/tx.log")"
sleep 1
tp_cmd stop
wait_until 10 sh -c "grep -q 'RX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 0.5
recv=$(tp_count RX)
vm_tx=$(($(stat_of vale0:vm tx_packets) - before))
vm_full=$(stat_of vale0:vm drop_full)
log "pkt-gen sent $N2; delivered to vm $vm_tx (drop_full $vm_full); testpmd received $recv"
[ "$(pg_count "$TMPD/tx.log")" = "$N2" ] || fail "pkt-gen did not send $N2"
[ "$vm_tx" = "$N2" ] || fail "the switch delivered $vm_tx of $N2 to the guest"
[ "$recv" = "$N2" ] || fail "testpmd received $recv of $N2"
tp_quit

# ---- 3: vnetmapd is the server ----
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || fail "vnetmapd exited with an error"
DAEMON_PID=
rm -f "$SOCK"
start_daemon --vhost-user "vale0:vm=$SOCK,server"
tp_start txonly ""
wait_until 15 connected || fail "testpmd did not connect: $(tail -n 5 "$TP_LOG")"
wait_until 15 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
tp_cmd start
sleep 1
tp_cmd stop
wait_until 10 sh -c "grep -q 'TX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 0.5
sent=$(tp_count TX)
vm_rx=$(stat_of vale0:vm rx_packets)
log "server mode: testpmd sent $sent, switch took $vm_rx"
[ -n "$sent" ] && [ "$sent" -gt 1000 ] && [ "$vm_rx" = "$sent" ] ||
	fail "server mode: testpmd sent '$sent', the switch took '$vm_rx'"
tp_quit
grep -E 'error|warning' "$TMPD/vnetmapd.log" && fail "vnetmapd logged errors"
exit 0
