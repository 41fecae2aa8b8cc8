#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_vhost_gso: header mismatch between two real virtio-net guests (TCG) on vale0 through
# vhost-user. Guest A has every offload, so its TCP stream leaves as 64 KiB TSO frames;
# guest B's device refuses TSO/UFO (guest_tso4/6, guest_ufo, guest_ecn off), so vnetmapd
# must cut A's frames in software (vhost/gso.c) before copying them into B's RX queue.
# Asserts: ping 0% loss, a 3 s iperf3 A -> B runs (TCP would stall on a bad checksum or
# a lost segment), B's port counts gso_segs > 0 and drop_gso 0.
# Skips (77) without QEMU, the guest image, or a vnetmapd lacking --vhost-user.
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
vm_start b "$VM_TMP/b.sh" --vhost-user "$SB" --server --mac 52:54:00:00:00:02 --ip 10.0.0.2/24 \
	--dev-opts ",guest_tso4=off,guest_tso6=off,guest_ufo=off,guest_ecn=off"
vm_start a "$VM_TMP/a.sh" --vhost-user "$SA" --server --mac 52:54:00:00:00:01 --ip 10.0.0.1/24
sockets() { [ -S "$SA" ] && [ -S "$SB" ]; }
wait_until 20 sockets || { vm_show a >&2; fail "QEMU did not create its vhost-user sockets"; }
start_daemon --vhost-user "vale0:a=$SA" --vhost-user "vale0:b=$SB"

if ! vm_wait 170 a b; then
	vm_show a >&2
	vm_show b >&2
	vctl --stats >&2
	fail "guests: a rc ${VM_RC[a]}, b rc ${VM_RC[b]}"
fi
loss=$(vm_result a ping_loss_pct)
mbps=$(vm_result a iperf_mbps)
[ "$loss" = 0 ] || { vm_show a >&2; fail "ping loss '$loss'%"; }
awk -v m="${mbps:-0}" 'BEGIN { exit !(m > 0) }' || { vm_show a >&2; vctl --stats >&2; fail "iperf3: '$mbps' Mbit/s"; }
segs=$(stat_of vale0:b gso_segs)
drops=$(stat_of vale0:b drop_gso)
a_rx=$(stat_of vale0:a rx_packets)
log "vale0:a rx_packets $a_rx; vale0:b gso_segs $segs, drop_gso $drops; iperf3 3 s: $mbps Mbit/s"
[ "${segs:-0}" -gt 0 ] || { vctl --stats >&2; fail "no software segmentation towards B (gso_segs '${segs}')"; }
[ "${drops:-1}" = 0 ] || fail "drop_gso $drops towards B"
exit 0
