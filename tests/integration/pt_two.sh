#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pt_two: two guests on the two ends of one pipe (docs/PASSTHROUGH.md): both ends are
# exported (ivshmem-doorbell), both QEMUs map the pipe parent's region, the pipe datapath
# runs in the two guests' libraries (zero copy, polling waits). Guest A's txseq reaches
# guest B's rxseq with no gap. Exit 77 without QEMU or image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
SRC=${VNM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/vm/lib.sh"
vm_init "$BUILD/vm" "$BIN" || skip "no QEMU or guest image"
vm_have pkt-gen || skip "guest image without pkt-gen"
start_daemon
N=${PT_TWO_N:-1000000}

sock() { local q; q=$(vctl --passthrough "$1" --doorbell) || fail "export $1"; q=${q#*path=}; echo "${q%% *}"; }
SA=$(sock 'netmap:tw{1')
SB=$(sock 'netmap:tw}1')
vm_script "$VM_TMP/b.sh" pt-pktgen.sh PORT='netmap:tw}1' PG="-f rxseq -n $N"
vm_script "$VM_TMP/a.sh" pt-pktgen.sh PORT='netmap:tw{1' PG="-f txseq -n $N"
vm_start b "$VM_TMP/b.sh" --ivshmem-doorbell "$SB"
vm_start a "$VM_TMP/a.sh" --ivshmem-doorbell "$SA"
vm_wait 110 a b || { vm_show a; vm_show b; fail "guests: a rc ${VM_RC[a]}, b rc ${VM_RC[b]}"; }
[ "$(vm_result a sent)" = "$N" ] || { vm_show a; fail "guest a sent $(vm_result a sent)"; }
[ "$(vm_result b received)" = "$N" ] || { vm_show b; fail "guest b received $(vm_result b received)"; }
line=$(grep '^SEQ:' "$(vm_log b)" | tail -n 1 | tr -d '\r')
echo "$line" | grep -Eq 'lost 0, out-of-order 0, duplicates 0' || fail "guest b: ${line:-no SEQ line}"
log "a: $(grep -E '^Speed' "$(vm_log a)" | tr -d '\r'); b: $line"
exit 0
