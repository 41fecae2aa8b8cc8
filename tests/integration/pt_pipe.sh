#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pt_pipe: passthrough over a pipe (docs/PASSTHROUGH.md). The guest binds netmap:X{1 (the
# pipe datapath runs in the guest's library, zero copy), a host pkt-gen the other end:
#   1. doorbell: guest txseq -> host rxseq, no gap (the guest rings the doorbell, vnetmapd
#      wakes the host end);
#   2. plain: the same with ivshmem-plain (the daemon's timer wakes the host end);
#   3. ping/pong: guest ping, host pong, over a doorbell pipe; RTT line checked.
# Exit 77 without QEMU or image.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
SRC=${VNM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/vm/lib.sh"
vm_init "$BUILD/vm" "$BIN" || skip "no QEMU or guest image"
vm_have pkt-gen || skip "guest image without pkt-gen"
start_daemon
N=${PT_PIPE_N:-2000000}

# guest_opts MODE QEMU-ARGS: run-guest.sh options for the export vale-ctl printed
guest_opts() {
	local q=$2
	if [ "$1" = doorbell ]; then
		q=${q#*path=}
		echo "--ivshmem-doorbell ${q%% *}"
	else
		local mem=${q#*mem-path=} size=${q#*size=}
		echo "--ivshmem ${mem%%,*}:$(( ${size%% *} / 1048576 ))"
	fi
}

seq_run() { # MODE PIPE
	local mode=$1 p=$2 q name=seq-$1 flag=
	[ "$mode" = doorbell ] && flag=--doorbell
	q=$(vctl --passthrough "netmap:$p{1" $flag) || fail "export netmap:$p{1"
	bg "rx-$mode" "$BIN/pkt-gen" -i "netmap:$p}1" -f rxseq -n "$N" -E 60
	local rx=$BG_PID
	vm_script "$VM_TMP/$name.sh" pt-pktgen.sh PORT="netmap:$p{1" PG="-f txseq -n $N"
	# shellcheck disable=SC2046
	vm_start "$name" "$VM_TMP/$name.sh" $(guest_opts "$mode" "$q")
	vm_wait 100 "$name" || { vm_show "$name"; fail "guest ($mode) failed: rc ${VM_RC[$name]}"; }
	[ "$(vm_result "$name" sent)" = "$N" ] || { vm_show "$name"; fail "guest sent $(vm_result "$name" sent)"; }
	wait_pid "$rx" 30 || fail "rxseq ($mode) did not get $N frames: $(tail -n 3 "$TMPD/rx-$mode.log")"
	seq_clean "$TMPD/rx-$mode.log" || fail "sequence errors ($mode): $(seq_line "$TMPD/rx-$mode.log")"
	log "$mode: guest $(grep -E '^Speed' "$(vm_log "$name")" | tail -n 1 | tr -d '\r'); host $(seq_line "$TMPD/rx-$mode.log")"
	vctl --passthrough-remove "netmap:$p{1" || fail "remove netmap:$p{1"
}

seq_run doorbell pd
seq_run plain pp

# 3. ping/pong
q=$(vctl --passthrough 'netmap:pq{1' --doorbell) || fail "export netmap:pq{1"
bg pong "$BIN/pkt-gen" -i 'netmap:pq}1' -f pong
vm_script "$VM_TMP/ping.sh" pt-pktgen.sh PORT='netmap:pq{1' PG="-f ping -n 5000"
# shellcheck disable=SC2046
vm_start ping "$VM_TMP/ping.sh" $(guest_opts doorbell "$q")
vm_wait 100 ping || { vm_show ping; fail "guest ping failed: rc ${VM_RC[ping]}"; }
rtt=$(grep -E '^RTT over 5000 packets: min [0-9]+ av [0-9]+ ns' "$(vm_log ping)" | tr -d '\r')
[ -n "$rtt" ] || { vm_show ping; fail "no RTT line from the guest"; }
log "guest ping / host pong: $rtt"
exit 0
