#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_vhost_vale: two QEMU guests (virtio-net, TCG) on switch vale0 through vnetmapd's
# vhost-user ports, the documented deployment: QEMU is the socket server (server=on,
# wait=off), vnetmapd connects as the client (port a: vnetmapd --vhost-user vale0:a=PATH;
# port b: vale-ctl -n b --vhost-user PATH --client, vale-ctl -a vale0:b).
# Guest A waits for B, pings it (20 x 0.2 s, 0% loss) and runs a 3 s iperf3 against it;
# the switch's counters must show the traffic on both ports.
# Skips (77) without QEMU, without the guest image, or with a vnetmapd lacking --vhost-user.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd vale-ctl
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
"$BIN/vnetmapd" --help 2>&1 | grep -q -- --vhost-user || skip "vnetmapd has no --vhost-user"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
vm_have iperf3 ping || skip "image lacks iperf3 or iputils ping"

SA=$TMPD/a.sock SB=$TMPD/b.sock
vm_script "$VM_TMP/b.sh" stay-up.sh SERVE=120 IPERF=1
vm_script "$VM_TMP/a.sh" ping-iperf-client.sh PEER=10.0.0.2 PING_COUNT=20 PING_INTERVAL=0.2 \
	IPERF_TIME=3 WAIT=60 SAY_DONE=1
vm_start b "$VM_TMP/b.sh" --vhost-user "$SB" --server --mac 52:54:00:00:00:02 --ip 10.0.0.2/24
vm_start a "$VM_TMP/a.sh" --vhost-user "$SA" --server --mac 52:54:00:00:00:01 --ip 10.0.0.1/24
sockets() { [ -S "$SA" ] && [ -S "$SB" ]; }
wait_until 20 sockets || { vm_show a >&2; fail "QEMU did not create its vhost-user sockets"; }
# both ways of making a vhost-user port: A by the daemon flag, B through vale-ctl
start_daemon --vhost-user "vale0:a=$SA"
vctl -n b --vhost-user "$SB" --client || fail "vale-ctl -n b --vhost-user $SB --client"
vctl -a vale0:b || fail "vale-ctl -a vale0:b"
connected() { [ "$(vctl -g a 2>/dev/null | grep -c 'front-end connected')" -ge 1 ] &&
	[ "$(vctl -g b 2>/dev/null | grep -c 'front-end connected')" -ge 1 ]; }
wait_until 20 connected || log "vale-ctl -g does not say 'front-end connected' yet: $(vctl -g a 2>&1 | head -n 3)"

if ! vm_wait 170 a b; then
	vm_show a >&2
	vm_show b >&2
	vctl --stats >&2
	fail "guests: a rc ${VM_RC[a]}, b rc ${VM_RC[b]}"
fi
loss=$(vm_result a ping_loss_pct)
rtt=$(vm_result a ping_rtt_avg_ms)
mbps=$(vm_result a iperf_mbps)
[ "$loss" = 0 ] || { vm_show a >&2; fail "ping loss '$loss'%"; }
awk -v m="${mbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; fail "iperf3: '$mbps' Mbit/s"; }
a_rx=$(stat_of vale0:a rx_packets)
b_rx=$(stat_of vale0:b rx_packets)
log "switch: a rx_packets $a_rx, b rx_packets $b_rx"
[ "${a_rx:-0}" -gt 20 ] && [ "${b_rx:-0}" -gt 20 ] || fail "switch counters: a rx $a_rx, b rx $b_rx"
log "$(grep -h '^accel' "$VM_TMP/a.run"); ping 0% loss, avg rtt $rtt ms; iperf3 3 s: $mbps Mbit/s"
exit 0
