#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_socket: a QEMU front-end on a VALE switch with no root, no TAP, no vhost-user: guest A
# has an e1000 NIC on -netdev stream (QEMU listens at a UNIX socket, server=on; vnetmapd's
# socket port connects: vale-ctl -n s --stream PATH, vale-ctl -a vale0:s), guest B a
# virtio-net NIC on vnetmapd's vhost-user port vale0:b. A pings B (20 x 0.1 s, 0% loss),
# runs a 2 s iperf3 to B and a 2 s iperf3 -R (B's TSO frames reach the socket port, which
# has no virtio-net header: software segmentation); both must complete (rate > 0).
# Guest C, virtio-net (vhost=off) on -netdev dgram (vale-ctl -n d --dgram PATH
# --peer QEMU'S-PATH), pings B too. Rates are
# noted, not compared; the counters must show the traffic on every port.
# Addresses: 10.77.5.0/24, only inside the guests.
# Skips (77) without QEMU (with -netdev stream) or the guest image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd vale-ctl
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
qemu-system-x86_64 -netdev help 2>/dev/null | grep -qx stream || skip "QEMU has no -netdev stream (7.2+)"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
vm_have iperf3 ping || skip "image lacks iperf3 or iputils ping"

SA=$TMPD/a.sock SB=$TMPD/b.sock SD=$TMPD/d.sock
vm_script "$VM_TMP/b.sh" stay-up.sh SERVE=150 IPERF=1
cat >"$TMPD/a-tpl.sh" <<'GUEST'
. /vnm/lib.sh
vnm_wait_peer "$PEER" 90 || exit 10
out=$(vnm_ping "$PEER" 20 0.1); prc=$?
echo "$out"
vnm_note ping_loss_pct "$(echo "$out" | sed -n -E 's/.* ([0-9.]+)% packet loss.*/\1/p')"
vnm_note ping_rtt_avg_ms "$(echo "$out" | sed -n -E 's#^rtt [^=]*= [0-9.]+/([0-9.]+)/.*#\1#p')"
[ $prc -eq 0 ] || exit 11
out=$(vnm_iperf_client "$PEER" 2 -f m); irc=$?
echo "$out"
vnm_note iperf_mbps "$(echo "$out" | awk '/receiver$/ { print $(NF-2) }' | tail -n 1)"
out=$(vnm_iperf_client "$PEER" 2 -f m -R); irc2=$?
echo "$out"
vnm_note iperf_r_mbps "$(echo "$out" | awk '/receiver$/ { print $(NF-2) }' | tail -n 1)"
vnm_note iperf_rc "$irc $irc2"
exit 0
GUEST
vm_script "$VM_TMP/a.sh" "$TMPD/a-tpl.sh" PEER=10.77.5.2
vm_script "$VM_TMP/c.sh" ping-iperf-client.sh PEER=10.77.5.2 PING_COUNT=10 PING_INTERVAL=0.1 \
	IPERF_TIME=0 WAIT=90
vm_start b "$VM_TMP/b.sh" --vhost-user "$SB" --server --mac 52:54:00:77:05:02 --ip 10.77.5.2/24
vm_start a "$VM_TMP/a.sh" --stream "$SA" --server --model e1000 --mac 52:54:00:77:05:01 \
	--ip 10.77.5.1/24
vm_start c "$VM_TMP/c.sh" --dgram "$SD" --dgram-local "$SD.qemu" --mac 52:54:00:77:05:03 \
	--ip 10.77.5.3/24
sockets() { [ -S "$SA" ] && [ -S "$SB" ] && [ -S "$SD.qemu" ]; }
wait_until 30 sockets || { vm_show a >&2; vm_show b >&2; fail "QEMU did not create its sockets"; }
start_daemon --vhost-user "vale0:b=$SB"
out=$(vctl -n s --stream "$SA" 2>&1) || fail "vale-ctl -n s --stream $SA: $out"
out=$(vctl -a vale0:s 2>&1) || fail "vale-ctl -a vale0:s: $out"
out=$(vctl -n d --dgram "$SD" --peer "$SD.qemu" 2>&1) || fail "vale-ctl -n d --dgram: $out"
out=$(vctl -a vale0:d 2>&1) || fail "vale-ctl -a vale0:d: $out"
connected() { vctl -g s 2>/dev/null | grep -q 'peer connected'; }
wait_until 20 connected || fail "socket port not connected: $(vctl -g s 2>&1)"
vctl -l | grep -q '^vale0:s ' || fail "vale-ctl -l: no vale0:s"

if ! vm_wait 200 a c; then
	vm_show a >&2
	vm_show c >&2
	vm_show b >&2
	vctl --stats >&2
	fail "guest a: rc ${VM_RC[a]}, c: rc ${VM_RC[c]}"
fi
loss=$(vm_result a ping_loss_pct)
rtt=$(vm_result a ping_rtt_avg_ms)
mbps=$(vm_result a iperf_mbps)
rmbps=$(vm_result a iperf_r_mbps)
[ "$loss" = 0 ] || { vm_show a >&2; fail "ping loss '$loss'%"; }
# behaviour, not speed: both iperf3 runs completed (-R needs software segmentation)
awk -v m="${mbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; fail "iperf3: '$mbps' Mbit/s"; }
awk -v m="${rmbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; fail "iperf3 -R: '$rmbps' Mbit/s"; }
closs=$(vm_result c ping_loss_pct)
[ "$closs" = 0 ] || { vm_show c >&2; fail "dgram guest: ping loss '$closs'%"; }
d_rx=$(stat_of vale0:d rx_packets)
d_tx=$(stat_of vale0:d tx_packets)
[ "${d_rx:-0}" -ge 10 ] && [ "${d_tx:-0}" -ge 10 ] || fail "dgram port: rx $d_rx tx $d_tx"
[ "$(stat_of vale0:d drop_bad_slot)" = 0 ] || fail "dgram port refused QEMU's datagrams (source)"
s_rx=$(stat_of vale0:s rx_packets)
s_tx=$(stat_of vale0:s tx_packets)
b_rx=$(stat_of vale0:b rx_packets)
log "$(vctl --stats 2>&1)"
log "$(vctl --json --stats s 2>&1)"
[ "${s_rx:-0}" -gt 20 ] && [ "${s_tx:-0}" -gt 20 ] && [ "${b_rx:-0}" -gt 20 ] ||
	fail "switch counters: s rx $s_rx tx $s_tx, b rx $b_rx"
log "socket port s: gso_segs $(stat_of vale0:s gso_segs) (TSO frames of B cut in software), drop_gso $(stat_of vale0:s drop_gso)"
resets=$(stat_of vale0:s ring_resets)
[ "${resets:-0}" = 0 ] || fail "socket port ring_resets $resets (QEMU's framing refused?)"
log "$(grep -h '^accel' "$VM_TMP/a.run"); e1000 on -netdev stream <-> virtio-net on vhost-user:" \
	"ping 0% loss, avg rtt $rtt ms; iperf3 2 s: ${mbps:-none} Mbit/s, -R ${rmbps:-none} Mbit/s" \
	"(iperf3 rc $(vm_result a iperf_rc)); virtio-net on -netdev dgram: ping 0% loss," \
	"avg rtt $(vm_result c ping_rtt_avg_ms) ms"
exit 0
