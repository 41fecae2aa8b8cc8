#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pt_hostsim: the passthrough guest path without QEMU. Two VALE ports are exported
# (ivshmem-plain mode) and a fake sysfs tree presents their region files as the
# resource2 of two ivshmem devices; `bridge` then runs unchanged in guest mode
# (VNM_GUEST=1, VNM_GUEST_SYSFS) between them, on two switches:
#   pkt-gen txseq vale0:a -> vale0 -> g1 =bridge= g2 -> vale1 -> vale1:b pkt-gen rxseq
# Lossless senders (a, g2): no gap allowed. Checks the daemon's plain-mode timer (it
# plays the kicks the guest cannot give) and the guest library's polling waits.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl bridge
start_daemon
N=${PT_HOSTSIM_N:-1000000}

mkdev() { # BDF QEMU-ARGS
	local d=$TMPD/sys/$1 mem=${2#*mem-path=}
	mkdir -p "$d"
	echo 0x1af4 >"$d/vendor"
	echo 0x1110 >"$d/device"
	ln -s "${mem%%,*}" "$d/resource2"
	head -c 256 /dev/zero >"$d/resource0" # IVPosition 0: no doorbell
}
mkdev 0000:00:04.0 "$(vctl --passthrough vale0:g1)" || fail "export g1"
mkdev 0000:00:05.0 "$(vctl --passthrough vale1:g2@conf:lossless=1)" || fail "export g2"
vctl --passthrough-list | grep -q 'vale1:g2 passthrough plain' || fail "list: $(vctl --passthrough-list)"

VNM_GUEST=1 VNM_GUEST_SYSFS=$TMPD/sys bg br "$BIN/bridge" -i vale0:g1 -i vale1:g2 -v
BR=$BG_PID
ready() { grep -q '^Ready to go' "$TMPD/br.log"; }
wait_until 10 ready || fail "bridge in guest mode not ready: $(cat "$TMPD/br.log")"
bg rx "$BIN/pkt-gen" -i vale1:b -f rxseq -n "$N" -E 30
RX=$BG_PID
sleep 0.3
bg tx "$BIN/pkt-gen" -i vale0:a@conf:lossless=1 -f txseq -n "$N"
TX=$BG_PID
wait_pid "$TX" 100 || fail "txseq failed: $(tail -n 3 "$TMPD/tx.log")"
wait_pid "$RX" 60 || fail "rxseq did not get $N frames: $(tail -n 3 "$TMPD/rx.log"); bridge: $(tail -n 3 "$TMPD/br.log")"
seq_clean "$TMPD/rx.log" || fail "$(seq_line "$TMPD/rx.log")"
kill -INT "$BR"
wait_pid "$BR" 5 || fail "bridge exited $? after SIGINT"
log "$(seq_line "$TMPD/rx.log"); $(tail -n 1 "$TMPD/br.log"); $(grep -E '^Speed' "$TMPD/rx.log")"
exit 0
