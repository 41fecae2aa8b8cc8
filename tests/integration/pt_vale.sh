#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pt_vale: passthrough over a VALE switch (docs/PASSTHROUGH.md). A guest's pkt-gen txseq
# on an exported port (libvnetmap in guest mode on the ivshmem BAR) reaches a host
# pkt-gen rxseq on the same switch with no gap: first with ivshmem-plain (the daemon's
# timer plays the guest's kicks), then with ivshmem-doorbell (vnetmapd serves the
# ivshmem server protocol; guest doorbells are the switch's kick eventfd). The guest
# port is a lossless sender, so nothing may be dropped. Also: vale-ctl lists the
# exports, removes them, and the port goes with its export. Exit 77 without QEMU or image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
SRC=${VNM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/vm/lib.sh"
vm_init "$BUILD/vm" "$BIN" || skip "no QEMU or guest image"
vm_have pkt-gen || skip "guest image without pkt-gen"
start_daemon
N=${PT_VALE_N:-300000}

run_guest() { # MODE(plain|doorbell) PORT
	local mode=$1 port=$2 q name=g-$1
	if [ "$mode" = doorbell ]; then
		q=$(vctl --passthrough "$port@conf:lossless=1" --doorbell) || fail "export $port"
	else
		q=$(vctl --passthrough "$port@conf:lossless=1") || fail "export $port"
	fi
	log "qemu: $q"
	vctl | grep -q "^$port passthrough $mode" || fail "vale-ctl does not list $port: $(vctl)"
	bg "rx-$mode" "$BIN/pkt-gen" -i vale0:h1 -f rxseq -n "$N" -E 60
	local rx=$BG_PID
	sleep 0.3
	vm_script "$VM_TMP/$name.sh" pt-pktgen.sh PORT="$port" PG="-f txseq -n $N"
	if [ "$mode" = doorbell ]; then
		local sock=${q#*path=}
		vm_start "$name" "$VM_TMP/$name.sh" --ivshmem-doorbell "${sock%% *}"
	else
		local mem=${q#*mem-path=} size=${q#*size=}
		vm_start "$name" "$VM_TMP/$name.sh" --ivshmem "${mem%%,*}:$(( ${size%% *} / 1048576 ))"
	fi
	vm_wait 100 "$name" || { vm_show "$name"; fail "guest ($mode) failed: rc ${VM_RC[$name]}"; }
	[ "$(vm_result "$name" sent)" = "$N" ] || { vm_show "$name"; fail "guest sent $(vm_result "$name" sent)"; }
	wait_pid "$rx" 30 || fail "rxseq ($mode) did not get $N frames: $(tail -n 3 "$TMPD/rx-$mode.log")"
	seq_clean "$TMPD/rx-$mode.log" || fail "sequence errors ($mode): $(seq_line "$TMPD/rx-$mode.log")"
	log "$mode: guest $(grep -E '^Speed' "$(vm_log "$name")" | tail -n 1 | tr -d '\r'); host $(seq_line "$TMPD/rx-$mode.log")"
	vctl --passthrough-remove "$port" || fail "remove $port"
	vctl | grep -q "^$port " && fail "$port still listed after removal: $(vctl)"
	return 0
}

run_guest plain vale0:g1
run_guest doorbell vale0:g2
grep -q "QEMU connected" "$TMPD/vnetmapd.log" || fail "no ivshmem connection in the daemon log"
exit 0
