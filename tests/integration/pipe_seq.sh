#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pipe_seq: pkt-gen txseq on netmap:p{1 -> rxseq on netmap:p}1, 10,000,000 packets,
# none lost and none out of order (pipes are lossless). PIPE_SEQ_N overrides the count.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen
start_daemon

N=${PIPE_SEQ_N:-10000000}
bg rx "$BIN/pkt-gen" -i 'netmap:p}1' -f rxseq -n "$N"
RX=$BG_PID
sleep 0.3
bg tx "$BIN/pkt-gen" -i 'netmap:p{1' -f txseq -n "$N"
TX=$BG_PID

wait_pid "$TX" 150; rc=$?
[ $rc -eq 0 ] || fail "txseq exited with $rc: $(tail -n 3 "$TMPD/tx.log")"
wait_pid "$RX" 30; rc=$?
[ $rc -eq 0 ] || fail "rxseq exited with $rc (did not get all $N packets): $(tail -n 3 "$TMPD/rx.log")"

sent=$(pg_count "$TMPD/tx.log")
got=$(pg_count "$TMPD/rx.log")
log "sent ${sent:-?} received ${got:-?}"
[ "$sent" = "$N" ] || fail "sender reports ${sent:-nothing} packets, expected $N"
[ "$got" = "$N" ] || fail "receiver reports ${got:-nothing} packets, expected $N"
# rxseq's verdict: nothing lost, reordered or duplicated
[ -n "$(seq_line "$TMPD/rx.log")" ] || fail "rxseq printed no SEQ line: $(tail -n 3 "$TMPD/rx.log")"
seq_clean "$TMPD/rx.log" || fail "sequence errors: $(seq_line "$TMPD/rx.log")"
log "$(seq_line "$TMPD/rx.log")"
grep -E 'Speed|Mpps' "$TMPD/rx.log" | tail -n 1 >&2
exit 0
