#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_e1000_tap: the tutorial's e1000 row. A QEMU guest with an e1000 NIC on TAP T
# (-netdev tap,ifname=T,vhost=off,script=no: QEMU holds T's queue) is put on vale0 with
# vale-ctl -a vale0:T (af_packet on T); a namespace's veth is on vale0 the same way. The
# guest pings the namespace (10 x 0.2 s, 0% loss) and runs a 3 s iperf3 against it; the
# switch counters must show the traffic on both ports.
# Addresses: 10.77.2.0/24, only inside the guest and the namespace made here.
# Skips (77) when not root, without QEMU, netns or the guest image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd vale-ctl
[ "$(id -u)" -eq 0 ] || skip "needs root (netns, veth, TAP)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
command -v ip >/dev/null || skip "no ip(8)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
vm_have iperf3 ping || skip "image lacks iperf3 or iputils ping"

ID=$$
NS=vnmeA$ID VA=vea$ID VB=veb$ID T=tme$ID
vm_netns_add "$NS" || skip "no network namespace support"
ip link add "$VA" type veth peer name "$VB" netns "$NS" || skip "no veth support"
ip -n "$NS" addr add 10.77.2.2/24 dev "$VB"
ip -n "$NS" link set "$VB" up
ip link set "$VA" up

start_daemon
ip netns exec "$NS" timeout 200 iperf3 -s -1 -B 10.77.2.2 >"$TMPD/iperf3-s.log" 2>&1 &
VNM_PIDS+=("$!")
out=$(vctl -a "vale0:$VA" 2>&1) || fail "-a vale0:$VA: $out"

vm_script "$VM_TMP/g.sh" ping-iperf-client.sh PEER=10.77.2.2 PING_COUNT=10 PING_INTERVAL=0.2 \
	IPERF_TIME=3 WAIT=90
vm_start g "$VM_TMP/g.sh" --tap "$T" --model e1000 --mac 52:54:00:77:02:05 --ip 10.77.2.5/24
wait_until 60 test -e "/sys/class/net/$T" || { vm_show g >&2; fail "QEMU did not create TAP $T"; }
sysctl -qw "net.ipv6.conf.$T.disable_ipv6=1" 2>/dev/null
ip link set "$T" up || fail "ip link set $T up"
out=$(vctl -a "vale0:$T" 2>&1) || fail "-a vale0:$T: $out"
log "$(vctl -l --json | grep -F "$T")"

if ! vm_wait 200 g; then
	vm_show g >&2
	vctl --stats >&2
	fail "guest: rc ${VM_RC[g]}"
fi
loss=$(vm_result g ping_loss_pct)
rtt=$(vm_result g ping_rtt_avg_ms)
mbps=$(vm_result g iperf_mbps)
[ "$loss" = 0 ] || { vm_show g >&2; fail "ping loss '$loss'%"; }
awk -v m="${mbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show g >&2; fail "iperf3: '$mbps' Mbit/s"; }
t_rx=$(stat_of "vale0:$T" rx_packets)
v_rx=$(stat_of "vale0:$VA" rx_packets)
log "switch: $T rx_packets $t_rx, $VA rx_packets $v_rx"
[ "${t_rx:-0}" -gt 10 ] && [ "${v_rx:-0}" -gt 10 ] || fail "switch counters: $T rx $t_rx, $VA rx $v_rx"
log "$(grep -h '^accel' "$VM_TMP/g.run"); e1000 guest -> netns: ping 0% loss, avg rtt $rtt ms; iperf3 3 s: $mbps Mbit/s"
echo "e1000_ping_rtt_ms $rtt e1000_iperf_mbps $mbps"
out=$(vctl -d "vale0:$T" 2>&1) || fail "-d vale0:$T: $out"
exit 0
