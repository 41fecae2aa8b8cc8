#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bridge: the bridge tool forwards whole sequences, zero-copy between two pipes of one
# parent (same region) and by copy between a pipe and a VALE port; multi-slot frames
# arrive whole. Stops cleanly on SIGINT.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen bridge
start_daemon
N=${BRIDGE_N:-1000000}

# run_case NAME BRIDGE_A BRIDGE_B TX_PORT RX_PORT EXPECT_MODE [pkt-gen tx options]
run_case() {
	local name=$1 a=$2 b=$3 txp=$4 rxp=$5 mode=$6 br rx tx rc
	shift 6
	bg "br_$name" "$BIN/bridge" -i "$a" -i "$b" -v
	br=$BG_PID
	ready() { grep -q '^Ready to go' "$TMPD/br_$name.log"; }
	wait_until 10 ready || fail "$name: bridge not ready: $(cat "$TMPD/br_$name.log")"
	grep -q "($mode)" "$TMPD/br_$name.log" || fail "$name: expected $mode: $(head -n 2 "$TMPD/br_$name.log")"
	bg "rx_$name" "$BIN/pkt-gen" -i "$rxp" -f rxseq -n "$N" "$@"
	rx=$BG_PID
	sleep 0.3
	bg "tx_$name" "$BIN/pkt-gen" -i "$txp" -f txseq -n "$N" "$@"
	tx=$BG_PID
	wait_pid "$tx" 120; rc=$?
	[ $rc -eq 0 ] || fail "$name: txseq exited $rc: $(tail -n 3 "$TMPD/tx_$name.log")"
	wait_pid "$rx" 30; rc=$?
	[ $rc -eq 0 ] || fail "$name: rxseq exited $rc: $(tail -n 3 "$TMPD/rx_$name.log")
bridge: $(tail -n 3 "$TMPD/br_$name.log")"
	seq_clean "$TMPD/rx_$name.log" || fail "$name: $(seq_line "$TMPD/rx_$name.log")"
	kill -INT "$br"
	wait_pid "$br" 5; rc=$?
	[ $rc -eq 0 ] || fail "$name: bridge exited $rc after SIGINT"
	grep -q "^bridge: .* $N packets" "$TMPD/br_$name.log" || fail "$name: bridge summary: $(tail -n 1 "$TMPD/br_$name.log")"
	log "$name: $(seq_line "$TMPD/rx_$name.log"); $(tail -n 1 "$TMPD/br_$name.log")"
}

# pipe -> bridge (swap buffers inside region z) -> pipe: lossless end to end
run_case zcopy 'netmap:z{1' 'netmap:z{2' 'netmap:z}1' 'netmap:z}2' zero-copy
# the same with 3-slot frames (5000 bytes): chains stay whole
run_case zcopy_frags 'netmap:y{1' 'netmap:y{2' 'netmap:y}1' 'netmap:y}2' zero-copy -l 5000
# pipe -> bridge (copy) -> VALE port (lossless sender) -> switch -> VALE port
run_case copy 'netmap:w{1' 'vale0:br@conf:lossless=1' 'netmap:w}1' vale0:out copy
exit 0
