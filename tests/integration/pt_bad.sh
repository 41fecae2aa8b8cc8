#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pt_bad: a passthrough guest that writes garbage into its CSB and slots (a TX head past
# the ring, then a buffer index past the pool; busybox devmem on the ivshmem BAR) gets
# its ring reset like a bad local client (err_count in its CSB, ring_resets in the
# stats), while a host pair on the same switch keeps flowing (rxseq: nothing reordered
# or duplicated, every loss counted as a full ring), and the guest's port works again
# afterwards. Exit 77 without QEMU or image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
SRC=${VNM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/vm/lib.sh"
vm_init "$BUILD/vm" "$BIN" || skip "no QEMU or guest image"
vm_have pkt-gen || skip "guest image without pkt-gen"
start_daemon
N=${PT_BAD_N:-3000000}
RATE=${PT_BAD_RATE:-100000}
MAC_A=02:00:00:00:00:0a

q=$(vctl --passthrough vale0:g1) || fail "export vale0:g1"
# b persistent: its counters outlive the receiver
vctl -n b && vctl -a vale0:b || fail "persistent port b"
mem=${q#*mem-path=} size=${q#*size=}
bg rx "$BIN/pkt-gen" -i vale0:b -f rxseq -n "$N" -E 20
RX=$BG_PID
sleep 0.3
bg tx "$BIN/pkt-gen" -i vale0:a -f txseq -n "$N" -R "$RATE" -S "$MAC_A"
TX=$BG_PID
# the guest's last frames go to a's MAC (learned from its txseq): b never sees them
vm_script "$VM_TMP/bad.sh" pt-bad.sh PRE=1 PG="-f tx -n 1000 -S 02:00:00:00:00:0b -D $MAC_A"
vm_start bad "$VM_TMP/bad.sh" --ivshmem "${mem%%,*}:$(( ${size%% *} / 1048576 ))"
vm_wait 100 bad || { vm_show bad 40; fail "guest failed: rc ${VM_RC[bad]}"; }
log "guest: $(vm_result bad layout); err_count $(vm_result bad err1) then $(vm_result bad err2) (reason $(vm_result bad reason2)), head after reset $(vm_result bad head1)"
[ "$(vm_result bad err1)" -ge 1 ] 2>/dev/null || { vm_show bad 40; fail "bad head: ring not reset"; }
[ "$(vm_result bad err2)" -gt "$(vm_result bad err1)" ] 2>/dev/null ||
	{ vm_show bad 40; fail "bad buf_idx: ring not reset"; }
[ "$(vm_result bad reason2)" = 3 ] || fail "reason $(vm_result bad reason2), expected VNM_RERR_BUF_IDX (3)"
[ "$(vm_result bad sent)" = 1000 ] || { vm_show bad 40; fail "guest pkt-gen after the resets: sent $(vm_result bad sent)"; }

wait_pid "$TX" 60 || fail "host txseq failed: $(tail -n 3 "$TMPD/tx.log")"
wait_pid "$RX" 40
st=$(vctl --stats --json)
field() { # PORT FIELD
	echo "$st" | tr '{' '\n' | grep "\"name\": \"$1\"" | sed -n -E "s/.*\"$2\": ([0-9]+).*/\\1/p"
}
resets=$(field vale0:g1 ring_resets)
grx=$(field vale0:g1 rx_packets)
bfull=$(field vale0:b drop_full)
log "vale0:g1 ring_resets ${resets:-?} rx_packets ${grx:-?}; vale0:b drop_full ${bfull:-?}; $(seq_line "$TMPD/rx.log")"
[ "${resets:-0}" -ge 2 ] || fail "vale0:g1 ring_resets ${resets:-?}, expected >= 2"
[ "${grx:-0}" -ge 1000 ] || fail "the switch took ${grx:-?} frames from the guest after the resets"
line=$(seq_line "$TMPD/rx.log")
[ -n "$line" ] || fail "rxseq printed no SEQ line: $(tail -n 3 "$TMPD/rx.log")"
echo "$line" | grep -Eq 'out-of-order 0, duplicates 0' || fail "host pair disturbed: $line"
lost=$(echo "$line" | sed -n -E 's/.*lost ([0-9]+).*/\1/p')
[ "${lost:-1}" -le "${bfull:-0}" ] || fail "host pair lost $lost frames, only ${bfull:-0} counted as ring full"
exit 0
