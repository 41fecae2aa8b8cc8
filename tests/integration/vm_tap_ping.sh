#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_tap_ping: the VM lab's baseline. Two guests (virtio-net, QEMU user-space back-end,
# vhost=off) on two TAPs of a Linux bridge in a private netns: A waits for B, pings it
# (iputils, 20 x 0.2 s, 0% loss required) and runs a 3 s iperf3 against B (iperf3 -s -1).
# Skips (77) when QEMU, /dev/net/tun, netns or the guest image are not available.
# The vhost-user tests copy this pattern with vale0 (vnetmapd) in place of the bridge.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
command -v ip >/dev/null || skip "no ip (iproute2)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
vm_have iperf3 ping || skip "image lacks iperf3 or iputils ping"

NS=vnm-vmtap-$$
vm_netns_bridge "$NS" br0 tap0 tap1 || skip "cannot create netns $NS with a bridge and TAPs"

vm_script "$VM_TMP/b.sh" iperf-server.sh SERVE=120
vm_script "$VM_TMP/a.sh" ping-iperf-client.sh PEER=10.0.0.2 PING_COUNT=20 PING_INTERVAL=0.2 \
	IPERF_TIME=3
vm_start b "$VM_TMP/b.sh" --netns "$NS" --tap tap1 --mac 52:54:00:00:00:02 --ip 10.0.0.2/24
vm_start a "$VM_TMP/a.sh" --netns "$NS" --tap tap0 --mac 52:54:00:00:00:01 --ip 10.0.0.1/24
if ! vm_wait 170 a b; then
	vm_show a >&2
	vm_show b >&2
	fail "guests: a rc ${VM_RC[a]}, b rc ${VM_RC[b]}"
fi
loss=$(vm_result a ping_loss_pct)
rtt=$(vm_result a ping_rtt_avg_ms)
mbps=$(vm_result a iperf_mbps)
[ "$loss" = 0 ] || { vm_show a >&2; fail "ping loss '$loss'%"; }
[ -n "$mbps" ] && awk -v m="$mbps" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; fail "iperf3: '$mbps' Mbit/s"; }
log "$(grep -h '^accel' "$VM_TMP/a.run"); ping 0% loss, avg rtt $rtt ms; iperf3 3 s: $mbps Mbit/s"
log "$(grep -h '^guest' "$VM_TMP/a.run" "$VM_TMP/b.run" | tr '\n' ';')"
exit 0
