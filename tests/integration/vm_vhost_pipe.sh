#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_vhost_pipe: two QEMU guests (virtio-net, TCG) on the two ends of one netmap pipe,
# each end served as vhost-user by vnetmapd (docs/VHOST-USER.md "Pipe ends"): QEMU is
# the socket server (server=on, wait=off), vnetmapd the client (end p{1: vnetmapd
# --vhost-user 'netmap:p{1=PATH'; end p}1: vale-ctl -n 'netmap:p}1' --vhost-user PATH).
# Guest A waits for B, pings it (20 x 0.2 s, 0% loss) and runs a 3 s iperf3 against it;
# both ends' counters must show the traffic. Skips (77) without QEMU or the guest image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd vale-ctl
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
"$BIN/vnetmapd" --help 2>&1 | grep -q -- "netmap:X{N" || skip "vnetmapd cannot serve pipe ends"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
vm_have iperf3 ping || skip "image lacks iperf3 or iputils ping"

SA=$TMPD/a.sock SB=$TMPD/b.sock
EA='netmap:p{1' EB='netmap:p}1'
vm_script "$VM_TMP/b.sh" stay-up.sh SERVE=120 IPERF=1
vm_script "$VM_TMP/a.sh" ping-iperf-client.sh PEER=10.0.0.2 PING_COUNT=20 PING_INTERVAL=0.2 \
	IPERF_TIME=3 WAIT=60 SAY_DONE=1
vm_start b "$VM_TMP/b.sh" --vhost-user "$SB" --server --mac 52:54:00:00:00:02 --ip 10.0.0.2/24
vm_start a "$VM_TMP/a.sh" --vhost-user "$SA" --server --mac 52:54:00:00:00:01 --ip 10.0.0.1/24
sockets() { [ -S "$SA" ] && [ -S "$SB" ]; }
wait_until 20 sockets || { vm_show a >&2; fail "QEMU did not create its vhost-user sockets"; }
start_daemon --vhost-user "$EA=$SA"
vctl -n "$EB" --vhost-user "$SB" --client || fail "vale-ctl -n '$EB' --vhost-user $SB --client"
connected() { vctl -g "$EA" 2>/dev/null | grep -q 'front-end connected' &&
	vctl -g "$EB" 2>/dev/null | grep -q 'front-end connected'; }
wait_until 20 connected || log "vale-ctl -g does not say 'front-end connected' yet"

if ! vm_wait 170 a b; then
	vm_show a >&2
	vm_show b >&2
	vctl --stats >&2
	fail "guests: a rc ${VM_RC[a]}, b rc ${VM_RC[b]}"
fi
loss=$(vm_result a ping_loss_pct)
rtt=$(vm_result a ping_rtt_avg_ms)
mbps=$(vm_result a iperf_mbps)
[ "$loss" = 0 ] || { vm_show a >&2; vctl --stats --json >&2; fail "ping loss '$loss'%"; }
awk -v m="${mbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; vctl --stats --json >&2; fail "iperf3: '$mbps' Mbit/s"; }
a_rx=$(stat_of "$EA" rx_packets)
b_rx=$(stat_of "$EB" rx_packets)
a_gso=$(stat_of "$EA.pipe" drop_gso)
b_gso=$(stat_of "$EB.pipe" drop_gso)
log "guest A -> pipe $a_rx frames, guest B -> pipe $b_rx; drop_gso $a_gso/$b_gso"
[ "${a_rx:-0}" -gt 20 ] && [ "${b_rx:-0}" -gt 20 ] || fail "counters: a rx $a_rx, b rx $b_rx"
[ "${a_gso:-0}" = 0 ] && [ "${b_gso:-0}" = 0 ] || fail "GSO frames reached a pipe: $a_gso/$b_gso"
log "$(grep -h '^accel' "$VM_TMP/a.run"); ping 0% loss, avg rtt $rtt ms; iperf3 3 s: $mbps Mbit/s"
exit 0
