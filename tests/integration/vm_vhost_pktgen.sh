#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm_vhost_pktgen: a guest on vale0 through vnetmapd's vhost-user port (QEMU the socket
# server) reaches a host pkt-gen on the same switch and back:
#   guest kernel pktgen -> 10,000 frames -> vale0 -> pkt-gen -f rx on vale0:h (counted);
#   pkt-gen -f tx on vale0:h -> 10,000 frames at 5 kpps -> vale0 -> guest eth0 (counted).
# The switch is lossy, and on a loaded 2-core machine a receiver may not keep up: every
# frame must be accounted for - received, or counted by the switch as dropped at the
# receiving port (drop_full) - and some must arrive each way. Skips (77) without QEMU, the image, or vnetmapd --vhost-user.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
. "$(dirname "$0")/../../vm/lib.sh"
require_bin vnetmapd vale-ctl pkt-gen
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
"$BIN/vnetmapd" --help 2>&1 | grep -q -- --vhost-user || skip "vnetmapd has no --vhost-user"
vm_init "$BUILD/vm" "$BIN" || skip "guest image cannot be built"

N=10000 GMAC=52:54:00:00:00:01 HMAC=02:00:00:00:00:09
SA=$TMPD/a.sock
vm_script "$VM_TMP/a.sh" pktgen-host.sh DST_IP=10.0.0.9 DST_MAC=$HMAC COUNT=$N EXPECT=$N WAIT=60
vm_start a "$VM_TMP/a.sh" --vhost-user "$SA" --server --mac $GMAC --ip 10.0.0.1/24
wait_until 20 test -S "$SA" || { vm_show a >&2; fail "QEMU did not create its vhost-user socket"; }
start_daemon --vhost-user "vale0:a=$SA"
bg rx "$BIN/pkt-gen" -i vale0:h -f rx
RX=$BG_PID

sent() { [ -n "$(vm_result a pktgen_sent)" ]; }
wait_until 150 sent || { vm_show a >&2; fail "the guest's pktgen did not finish"; }
sleep 1
hdrop=$(stat_of vale0:h drop_full) # before pkt-gen closes vale0:h (the port goes with it)
kill -INT "$RX"
wait_pid "$RX" 10 || fail "pkt-gen rx did not exit on SIGINT"
got=$(pg_count "$TMPD/rx.log")
sent=$(vm_result a pktgen_sent)
log "guest pktgen sent $sent, host pkt-gen received $got"
[ "$sent" = $N ] || fail "guest pktgen sent '$sent' of $N"
log "switch: h drop_full $hdrop"
[ "${got:-0}" -gt 0 ] && [ $(( ${got:-0} + ${hdrop:-0} )) -ge $N ] ||
	fail "host pkt-gen received '$got' of $N, switch drops at h '$hdrop': frames unaccounted for"

bg tx "$BIN/pkt-gen" -i vale0:h -f tx -n $N -R 5000 -S $HMAC -D $GMAC -s 10.0.0.9:1234 -d 10.0.0.1:9
wait_pid "$BG_PID" 30 || fail "pkt-gen tx: $(tail -n 3 "$TMPD/tx.log")"
if ! vm_wait 120 a; then
	vm_show a >&2
	fail "guest: rc ${VM_RC[a]}"
fi
back=$(vm_result a rx_from_host)
log "host pkt-gen sent $N, guest received $back; switch: a rx $(stat_of vale0:a rx_packets) tx $(stat_of vale0:a tx_packets)"
adrop=$(stat_of vale0:a drop_full)
log "switch: a drop_full $adrop"
[ "${back:-0}" -gt 0 ] && [ $(( ${back:-0} + ${adrop:-0} )) -ge $N ] ||
	fail "guest received '$back' of $N, switch drops at a '$adrop': frames unaccounted for"
exit 0
