#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_e1000_vhost: the two kinds of front-end on one switch. Guest A has an e1000 NIC on
# TAP T (-netdev tap, vhost=off; QEMU holds T, vale-ctl -a vale0:T puts it on the switch
# through af_packet); guest B has a virtio-net NIC on vnetmapd's vhost-user port vale0:b.
# A pings B (20 x 0.1 s, 0% loss) and runs a 3 s iperf3 to B and a 3 s iperf3 -R (B's
# TSO frames cross the switch with their virtio-net header into the af_packet port and
# the kernel segments them for the TAP); the switch counters show both ports' traffic.
# Addresses: 10.77.3.0/24, only inside the two guests.
# Skips (77) when not root, without QEMU, /dev/net/tun or the guest image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd vale-ctl
[ "$(id -u)" -eq 0 ] || skip "needs root (TAP)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
vm_have iperf3 ping || skip "image lacks iperf3 or iputils ping"

T=tev$$ SB=$TMPD/b.sock
vm_script "$VM_TMP/b.sh" stay-up.sh SERVE=150 IPERF=1
# guest A: ping, iperf3 A -> B, iperf3 -R (B -> A), then end B
cat >"$TMPD/a-tpl.sh" <<'GUEST'
. /vnm/lib.sh
vnm_wait_peer "$PEER" 90 || exit 10
out=$(vnm_ping "$PEER" 20 0.1); prc=$?
echo "$out"
vnm_note ping_loss_pct "$(echo "$out" | sed -n -E 's/.* ([0-9.]+)% packet loss.*/\1/p')"
vnm_note ping_rtt_avg_ms "$(echo "$out" | sed -n -E 's#^rtt [^=]*= [0-9.]+/([0-9.]+)/.*#\1#p')"
[ $prc -eq 0 ] || exit 11
out=$(vnm_iperf_client "$PEER" 3 -f m); irc=$?
echo "$out"
vnm_note iperf_mbps "$(echo "$out" | awk '/receiver$/ { print $(NF-2) }' | tail -n 1)"
[ $irc -eq 0 ] || exit 12
out=$(vnm_iperf_client "$PEER" 3 -f m -R); irc=$?
echo "$out"
vnm_note iperf_r_mbps "$(echo "$out" | awk '/receiver$/ { print $(NF-2) }' | tail -n 1)"
[ $irc -eq 0 ] || exit 13
vnm_say_done "$PEER"
exit 0
GUEST
vm_script "$VM_TMP/a.sh" "$TMPD/a-tpl.sh" PEER=10.77.3.2
vm_start b "$VM_TMP/b.sh" --vhost-user "$SB" --server --mac 52:54:00:77:03:02 --ip 10.77.3.2/24
wait_until 20 test -S "$SB" || { vm_show b >&2; fail "QEMU did not create $SB"; }
start_daemon --vhost-user "vale0:b=$SB"
vm_start a "$VM_TMP/a.sh" --tap "$T" --model e1000 --mac 52:54:00:77:03:01 --ip 10.77.3.1/24
wait_until 60 test -e "/sys/class/net/$T" || { vm_show a >&2; fail "QEMU did not create TAP $T"; }
sysctl -qw "net.ipv6.conf.$T.disable_ipv6=1" 2>/dev/null
ip link set "$T" up || fail "ip link set $T up"
out=$(vctl -a "vale0:$T" 2>&1) || fail "-a vale0:$T: $out"

if ! vm_wait 200 a; then
	vm_show a >&2
	vm_show b >&2
	vctl --stats >&2
	fail "guest a: rc ${VM_RC[a]}"
fi
loss=$(vm_result a ping_loss_pct)
rtt=$(vm_result a ping_rtt_avg_ms)
mbps=$(vm_result a iperf_mbps)
rmbps=$(vm_result a iperf_r_mbps)
[ "$loss" = 0 ] || { vm_show a >&2; fail "ping loss '$loss'%"; }
awk -v m="${mbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; fail "iperf3: '$mbps' Mbit/s"; }
awk -v m="${rmbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; fail "iperf3 -R: '$rmbps' Mbit/s"; }
t_rx=$(stat_of "vale0:$T" rx_packets)
b_rx=$(stat_of vale0:b rx_packets)
log "switch: $T rx_packets $t_rx, b rx_packets $b_rx"
log "$(vctl --stats 2>&1)"
[ "${t_rx:-0}" -gt 20 ] && [ "${b_rx:-0}" -gt 20 ] || fail "switch counters: $T rx $t_rx, b rx $b_rx"
log "$(grep -h '^accel' "$VM_TMP/a.run"); e1000 -> virtio-net (vhost-user): ping 0% loss, avg rtt $rtt ms; iperf3 3 s: $mbps Mbit/s, -R $rmbps Mbit/s"
exit 0
