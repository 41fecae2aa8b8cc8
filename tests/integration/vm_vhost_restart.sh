#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_vhost_restart: vnetmapd is killed and restarted while a guest pings another through
# vale0 (vhost-user, QEMU the socket server, vnetmapd the client): the new daemon
# reconnects to both QEMUs by itself and the pings resume without restarting QEMU.
# Skips (77) without QEMU, without the guest image, or with a vnetmapd lacking --vhost-user.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd vale-ctl
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
"$BIN/vnetmapd" --help 2>&1 | grep -q -- --vhost-user || skip "vnetmapd has no --vhost-user"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"
vm_have ping || skip "image lacks iputils ping"

SA=$TMPD/a.sock SB=$TMPD/b.sock
vm_script "$VM_TMP/b.sh" stay-up.sh SERVE=140 IPERF=0
vm_script "$VM_TMP/a.sh" ping-through-restart.sh PEER=10.0.0.2 LONG_COUNT=75 RESUME=30
vm_start b "$VM_TMP/b.sh" --vhost-user "$SB" --server --mac 52:54:00:00:00:02 --ip 10.0.0.2/24
vm_start a "$VM_TMP/a.sh" --vhost-user "$SA" --server --mac 52:54:00:00:00:01 --ip 10.0.0.1/24
sockets() { [ -S "$SA" ] && [ -S "$SB" ]; }
wait_until 20 sockets || { vm_show a >&2; fail "QEMU did not create its vhost-user sockets"; }
FLAGS=(--vhost-user "vale0:a=$SA" --vhost-user "vale0:b=$SB")
start_daemon "${FLAGS[@]}"

phase1() { [ -n "$(vm_result a phase1)" ]; }
wait_until 150 phase1 || { vm_show a >&2; vm_show b >&2; fail "guests never reached each other"; }
sleep 3
log "phase 1 done: killing vnetmapd (pid $DAEMON_PID) while A pings"
kill -TERM "$DAEMON_PID"
wait_pid "$DAEMON_PID" 10 || { kill -KILL "$DAEMON_PID"; fail "vnetmapd did not exit on SIGTERM"; }
mv "$TMPD/vnetmapd.log" "$TMPD/vnetmapd-1.log"
sleep 1
start_daemon "${FLAGS[@]}"
log "vnetmapd restarted (pid $DAEMON_PID)"

if ! vm_wait 150 a b; then
	vm_show a >&2
	vm_show b >&2
	fail "guests: a rc ${VM_RC[a]}, b rc ${VM_RC[b]} (resumed: '$(vm_result a resumed)')"
fi
a_rx=$(stat_of vale0:a rx_packets)
[ "${a_rx:-0}" -gt 0 ] || fail "the restarted vnetmapd carried nothing from A (rx_packets '$a_rx')"
log "restarted switch: a rx_packets $a_rx, b rx_packets $(stat_of vale0:b rx_packets)"
log "ping across the restart: $(vm_result a long_loss_pct)% lost; after: $(vm_result a ping_loss_pct)% lost, avg rtt $(vm_result a ping_rtt_avg_ms) ms"
exit 0
