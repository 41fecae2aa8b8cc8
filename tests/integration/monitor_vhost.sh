#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# monitor_vhost: copy monitors of a vhost-user port (DPDK testpmd's virtio-user front-end,
# no VM) on vale0.
#   1. testpmd txonly -> vale0:vm; a /t monitor of vm (pkt-gen rx): every frame the
#      switch took from the guest is either given to the monitor or counted in its
#      drop_full (monitor tx + drop_full = vm rx_packets), pkt-gen on the monitor counts
#      exactly what it was given, 64-byte frames.
#   2. testpmd rxonly; pkt-gen sends 20,000 frames from a lossless port to vm, with a /r
#      monitor of vm that never reads (a stopped pkt-gen): testpmd receives all 20,000,
#      the monitor holds its ring's worth and counts the rest in drop_full.
#   3. /z of a vhost-user port: EOPNOTSUPP with a message.
# Exit 77 when dpdk-testpmd is not installed.
. "$(dirname "$0")/../lib.sh"
vnm_init "${1:-}"
require_bin vnetmapd pkt-gen vale-ctl
TESTPMD=$(command -v dpdk-testpmd) || skip "dpdk-testpmd not installed (apt install dpdk)"

SOCK=$TMPD/vh.sock
trap 'rc=$?; rm -rf "/var/run/dpdk/vnmm$$"; (exit $rc); vnm_cleanup' EXIT
N2=${N2:-20000}

tp_start() {
	local mode=$1 args=$2
	rm -f "$TMPD/tp.in"
	mkfifo "$TMPD/tp.in"
	exec 3<>"$TMPD/tp.in"
	TP_LOG=$TMPD/testpmd-$mode.log
	stdbuf -oL -eL "$TESTPMD" --no-pci --no-huge -m 256 --iova-mode=va -l 0,1 --file-prefix="vnmm$$" \
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
tp_count() { grep -Eo "$1-packets: +[0-9]+" "$TP_LOG" | tail -n 1 | grep -Eo '[0-9]+$'; }
connected() { vctl -g vm 2>/dev/null | grep -q 'front-end connected'; }
prompt_ready() { grep -q 'testpmd>' "$TP_LOG"; }
listed() { vctl -l | grep -q "^$1 "; }

start_daemon --vhost-user "vale0:vm=$SOCK"

# ---- 3: /z refused ----
out=$("$BIN/pkt-gen" -i vale0:vm/z -f rx 2>&1) && fail "/z of a vhost-user port opened"
echo "$out" | grep -q 'is a vhost-user port: use /r, /t or /rt' || fail "/z message: $out"

# ---- 1: /t of the guest's stream ----
tp_start txonly ",server=1"
wait_until 15 connected || fail "vnetmapd did not connect to testpmd: $(tail -n 5 "$TMPD/vnetmapd.log")"
wait_until 15 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
bg rx "$BIN/pkt-gen" -i vale0:b -f rx
RX_PID=$BG_PID
bg mon "$BIN/pkt-gen" -i vale0:vm/t -f rx
MON_PID=$BG_PID
wait_until 10 listed vale0:b || fail "pkt-gen rx did not open vale0:b"
wait_until 10 listed vale0:vm/t || fail "monitor not listed: $(vctl -l)"
vctl --json -l | grep -q '"vale0:vm/t".*"kind": "monitor"' || fail "monitor kind: $(vctl --json -l)"
tp_cmd start
sleep 2
tp_cmd stop
wait_until 10 sh -c "grep -q 'TX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 0.5
sent=$(tp_count TX)
vm_rx=$(stat_of vale0:vm rx_packets)
m_tx=$(stat_of vale0:vm/t tx_packets)
m_full=$(stat_of vale0:vm/t drop_full)
log "testpmd sent $sent; vm rx $vm_rx; monitor given $m_tx, drop_full $m_full"
[ -n "$sent" ] && [ "$sent" -gt 1000 ] || fail "testpmd sent too little: '$sent'"
[ "$vm_rx" = "$sent" ] || fail "switch took $vm_rx frames from the guest, testpmd sent $sent"
[ $((m_tx + m_full)) = "$vm_rx" ] || fail "monitor $m_tx + drop_full $m_full != vm rx $vm_rx"
kill -INT "$MON_PID"
wait_pid "$MON_PID" 10
got=$(pg_count "$TMPD/mon.log")
[ "$got" = "$m_tx" ] || fail "pkt-gen on the monitor received $got, it was given $m_tx"
grep -q '64 bytes each' "$TMPD/mon.log" || fail "the monitor did not see 64-byte frames"
kill -INT "$RX_PID"
wait_pid "$RX_PID" 10
tp_quit

# ---- 2: a stalled /r monitor does not hold back a lossless sender ----
tp_start rxonly ",server=1"
wait_until 15 connected || fail "vnetmapd did not reconnect: $(tail -n 5 "$TMPD/vnetmapd.log")"
wait_until 15 prompt_ready || fail "testpmd not ready: $(tail -n 5 "$TP_LOG")"
bg stalled "$BIN/pkt-gen" -i "vale0:vm/r@conf:slots=64" -f rx
ST_PID=$BG_PID
wait_until 10 listed vale0:vm/r || fail "monitor /r not listed: $(vctl -l)"
kill -STOP "$ST_PID" # holds the monitor, never reads
tp_cmd start
sleep 0.5
before=$(stat_of vale0:vm tx_packets)
"$BIN/pkt-gen" -i "vale0:c@conf:lossless=1" -f tx -n "$N2" -R "${RATE2:-20000}" -l 60 >"$TMPD/tx.log" 2>&1 ||
	fail "pkt-gen tx failed: $(tail -n 3 "$TMPD/tx.log")"
sleep 1
tp_cmd stop
wait_until 10 sh -c "grep -q 'RX-packets' \"$TP_LOG\"" || fail "testpmd printed no counts"
sleep 0.5
recv=$(tp_count RX)
vm_tx=$(($(stat_of vale0:vm tx_packets) - before))
m_tx=$(stat_of vale0:vm/r tx_packets)
m_full=$(stat_of vale0:vm/r drop_full)
log "pkt-gen sent $N2; delivered to vm $vm_tx; testpmd received $recv; stalled monitor $m_tx, drop_full $m_full"
[ "$vm_tx" = "$N2" ] || fail "the switch delivered $vm_tx of $N2 to the guest"
[ "$recv" = "$N2" ] || fail "testpmd received $recv of $N2"
[ "$m_tx" = 63 ] || fail "stalled monitor was given $m_tx, want 63 (64 slots)"
[ "$m_full" -ge $((N2 - 63)) ] || fail "stalled monitor drop_full $m_full < $((N2 - 63))"
kill -CONT "$ST_PID"
kill -INT "$ST_PID"
wait_pid "$ST_PID" 10
tp_quit
echo "monitor_vhost: ok"
