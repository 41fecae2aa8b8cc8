#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pktgen: pkt-gen's output lines to the character (docs/man/pkt-gen.md), its exits
# (-n, -E, SIGINT/SIGTERM -> 0, open failure -> 1 with "cannot open"), multi-slot
# frames (-F, -l 9000), -p 2 sharing -n exactly, -H, ping/pong over a pipe.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen
PG=$BIN/pkt-gen

# open failure before the daemon runs
VNETMAP_DIR=$TMPD/nodaemon "$PG" -i vale0:a -f tx -n 1 >"$TMPD/nod.log" 2>&1 && fail "tx without a daemon exited 0"
grep -q '^pkt-gen: cannot open vale0:a: ' "$TMPD/nod.log" || fail "no 'cannot open' message: $(cat "$TMPD/nod.log")"
"$PG" -i vale0:a -f bogus >/dev/null 2>&1 && fail "unknown function accepted"

start_daemon

NUM='[0-9]+\.[0-9]{3} [KMGT]?'
IVL="^${NUM}pps \\(${NUM}pkts ${NUM}bps in [0-9]+ usec\\) [0-9]+\\.[0-9]{2} avg_batch [0-9]+ min_space\$"
check_final() { # LOG WORD N LEN
	grep -Eq "^$2 $3 packets $(($3 * $4)) bytes [0-9]+ events $4 bytes each in [0-9]+\\.[0-9]{2} seconds\\.\$" "$1" ||
		fail "bad or missing '$2' line in $1: $(grep -E "^$2" "$1")"
	grep -Eq "^Speed: ${NUM}pps Bandwidth: ${NUM}bps \\(raw ${NUM}bps\\)\\. Average batch: [0-9]+\\.[0-9]{2} pkts\$" "$1" ||
		fail "bad or missing Speed line in $1: $(grep Speed "$1")"
	grep -Eq "$IVL" "$1" || fail "no report line in $1: $(head -n 5 "$1")"
}

# 1. pipe, txseq -> rxseq, 3-slot frames
bg rx1 "$PG" -i 'netmap:t}1' -f rxseq -n 200000
sleep 0.3
bg tx1 "$PG" -i 'netmap:t{1' -f txseq -n 200000 -F 3
wait_pid "$BG_PID" 30 || fail "txseq -F 3 failed"
wait_pid "${VNM_PIDS[0]}" 10 || fail "rxseq -n did not exit"
check_final "$TMPD/tx1.log" Sent 200000 60
check_final "$TMPD/rx1.log" Received 200000 60
grep -q '^frags 3 frag_size 20$' "$TMPD/tx1.log" || fail "no frags line"
grep -q '^SEQ: received 200000, lost 0, out-of-order 0, duplicates 0$' "$TMPD/rx1.log" ||
	fail "SEQ line: $(grep SEQ "$TMPD/rx1.log")"
grep -q '^Sending on netmap:t{1: 1 queues, 1 threads and [0-9]* cpus\.$' "$TMPD/tx1.log" || fail "no Sending on line"
grep -q '^10\.0\.0\.1 -> 10\.1\.0\.1 (00:00:00:00:00:00 -> ff:ff:ff:ff:ff:ff)$' "$TMPD/tx1.log" || fail "no address line"
grep -q '^Receiving from netmap:t}1: ' "$TMPD/rx1.log" || fail "no Receiving from line"

# 2. VALE, lossless sender, 9000-byte frames (5-slot chains), -E exit
bg rx2 "$PG" -i vale0:b -f rxseq -E 0.5
RX2=$BG_PID
wait_listed vale0:b
bg tx2 "$PG" -i 'vale0:a@conf:lossless=1' -f txseq -n 20000 -l 9000
wait_pid "$BG_PID" 30 || fail "txseq -l 9000 failed"
wait_pid "$RX2" 10 || fail "rxseq -E 0.5 did not exit"
check_final "$TMPD/rx2.log" Received 20000 9000
grep -q '^SEQ: received 20000, lost 0, out-of-order 0, duplicates 0$' "$TMPD/rx2.log" ||
	fail "SEQ (jumbo): $(grep SEQ "$TMPD/rx2.log")"

# 2b. a 12-byte virtio-net header on both ends of a pipe (the switch would read it as MACs)
bg rx2h "$PG" -i 'netmap:h}1' -f rxseq -H 12 -n 50000
RX2H=$BG_PID
sleep 0.3
bg tx2h "$PG" -i 'netmap:h{1' -f txseq -n 50000 -H 12
wait_pid "$BG_PID" 30 || fail "txseq -H 12 failed"
wait_pid "$RX2H" 10 || fail "rxseq -H 12 -n did not exit"
check_final "$TMPD/rx2h.log" Received 50000 72
grep -q '^SEQ: received 50000, lost 0, out-of-order 0, duplicates 0$' "$TMPD/rx2h.log" ||
	fail "SEQ (-H 12): $(grep SEQ "$TMPD/rx2h.log")"

# 3. two threads on two rings share -n exactly
bg rx3 "$PG" -i 'vale1:r@conf:rings=2' -f rx -p 2 -n 99999
RX3=$BG_PID
wait_listed vale1:r
bg tx3 "$PG" -i 'vale1:s@conf:rings=2,lossless=1' -f tx -p 2 -n 100000
wait_pid "$BG_PID" 30 || fail "tx -p 2 failed"
wait_pid "$RX3" 10 || fail "rx -p 2 -n did not exit"
check_final "$TMPD/tx3.log" Sent 100000 60
check_final "$TMPD/rx3.log" Received 99999 60

# 4. SIGINT and SIGTERM: final lines, exit 0
bg rx4 "$PG" -i vale0:d -f rx
RX4=$BG_PID
bg tx4 "$PG" -i vale0:c -f tx -T 200
TX4=$BG_PID
sleep 1
# its first report line: the handlers are installed (slow to come under valgrind)
wait_until 10 grep -Eq "$IVL" "$TMPD/tx4.log" || fail "tx4 never reported"
kill -INT "$TX4"
wait_pid "$TX4" 5 || fail "tx did not exit 0 on SIGINT"
kill -TERM "$RX4"
wait_pid "$RX4" 5 || fail "rx did not exit 0 on SIGTERM"
grep -Eq '^Sent [0-9]+ packets ' "$TMPD/tx4.log" || fail "no Sent line after SIGINT"
grep -Eq '^(Received [0-9]+ packets |Received nothing\.$)' "$TMPD/rx4.log" || fail "no Received line after SIGTERM"

# 5. ping/pong over a pipe
bg pong "$PG" -i 'netmap:pp}1' -f pong
PONG=$BG_PID
sleep 0.3
bg ping "$PG" -i 'netmap:pp{1' -f ping -n 2000
wait_pid "$BG_PID" 30 || fail "ping failed"
grep -Eq '^RTT over 2000 packets: min [0-9]+ av [0-9]+ ns$' "$TMPD/ping.log" ||
	fail "RTT line: $(grep RTT "$TMPD/ping.log")"
kill -INT "$PONG"
wait_pid "$PONG" 5 || fail "pong did not exit 0 on SIGINT"
log "$(grep RTT "$TMPD/ping.log")"
exit 0
