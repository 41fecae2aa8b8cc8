#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# capture: `vale-ctl capture` writes pcap that tshark reads. pkt-gen sends exactly N
# frames vale0:a -> vale0:b; a capture of b's monitor (-c N, -w FILE and -w -) holds N
# frames, decoded as Ethernet/IPv4/UDP with the sent addresses and ports, none
# malformed; -c and -G stop by themselves, SIGINT writes a valid file, -s truncates,
# --nano sets the magic; --tx on the sender, --both and the default on the receiver;
# a port opened as given (vale0:cap/R) gets the flooded frames; a pipe end with
# --vnet-hdr 12 (pkt-gen -H 12) is stripped. Bad inputs (issue 6
# class 23): bad options (status 2), missing port and no daemon (status 1, the
# daemon's reason), unwritable or full -w target (status 1, no file left), stdout
# closed early (| head -c 100: status 0), kill -9 mid-stream (daemon fds back to
# baseline), the monitored port going away (capture ends, file valid), a stopped
# capture (SIGSTOP) on a lossless pair: the pair gets all frames, the capture's frames
# plus its counted drops are exactly what the pair carried.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
command -v tshark >/dev/null || skip "tshark not installed"
command -v capinfos >/dev/null || skip "capinfos not installed"
PG=$BIN/pkt-gen
N=1000
SMAC=02:00:00:00:00:0a DMAC=02:00:00:00:00:0b
SRC=10.0.0.1 DST=10.1.0.1 SPORT=40001 DPORT=40002
OUT=$TMPD/out
mkdir -p "$OUT"

# tshark without its root warning; the payload is data whatever heuristics think
ts() { tshark -d "udp.port==$DPORT,data" "$@" 2>/dev/null; }
# frames in a pcap file (tshark's count), and capinfos's
nframes() { ts -r "$1" | wc -l; }
capinfos_count() { capinfos -c -M "$1" 2>/dev/null | sed -n -E 's/^Number of packets: *([0-9]+)$/\1/p'; }
# every frame is eth/ip/udp with our addresses and ports, and nothing is malformed
check_frames() { # FILE COUNT WHAT
	local n bad
	n=$(nframes "$1")
	[ "$n" -eq "$2" ] || fail "$3: tshark reads $n frames, expected $2"
	[ "$(capinfos_count "$1")" = "$2" ] || fail "$3: capinfos: $(capinfos -c "$1" 2>&1)"
	bad=$(ts -r "$1" -T fields -e frame.protocols -e eth.src -e eth.dst -e ip.src -e ip.dst \
		-e udp.srcport -e udp.dstport | sort | uniq -c |
		grep -v -E "^ *$2 eth:ethertype:ip:udp:data	$SMAC	$DMAC	$SRC	$DST	$SPORT	$DPORT\$")
	[ -z "$bad" ] || fail "$3: unexpected decode: $bad"
	ts -r "$1" -q -z expert,error 2>/dev/null | grep -qi malformed && fail "$3: malformed frames"
	! ts -r "$1" -Y _ws.malformed | grep -q . || fail "$3: malformed frames (filter)"
}
send() { # N [extra pkt-gen args]: exactly N frames a -> b, lossless sender
	local n=$1
	shift
	"$PG" -i 'vale0:a@conf:lossless=1' -f tx -n "$n" -l 60 -S $SMAC -D $DMAC \
		-s $SRC:$SPORT -d $DST:$DPORT "$@" >"$TMPD/send.log" 2>&1 || fail "pkt-gen tx failed"
}
started() { grep -qs '^capturing on ' "$1"; }
no_file() { [ ! -e "$1" ] || fail "$2: $1 was left behind"; }

# ---- usage errors: status 2, no file
VC=$BIN/vale-ctl
usage_err() { # WHAT args...
	local what=$1 rc
	shift
	"$VC" --dir "$TMPD/none" capture "$@" >"$TMPD/usage.log" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "$what: status $rc, expected 2: $(cat "$TMPD/usage.log")"
	grep -q 'vale-ctl capture: ' "$TMPD/usage.log" || fail "$what: no message: $(cat "$TMPD/usage.log")"
	no_file "$OUT/u.pcap" "$what"
}
usage_err "no -w" vale0:b
usage_err "no port" -w "$OUT/u.pcap"
usage_err "two ports" vale0:b vale0:c -w "$OUT/u.pcap"
usage_err "-c 0" vale0:b -c 0 -w "$OUT/u.pcap"
usage_err "-c -5" vale0:b -c -5 -w "$OUT/u.pcap"
usage_err "-c abc" vale0:b -c abc -w "$OUT/u.pcap"
usage_err "-s x" vale0:b -s 12x -w "$OUT/u.pcap"
usage_err "-G 0" vale0:b -G 0 -w "$OUT/u.pcap"
usage_err "-G -1" vale0:b -G -1 -w "$OUT/u.pcap"
usage_err "-G nan" vale0:b -G nan -w "$OUT/u.pcap"
usage_err "-w ''" vale0:b -w ''
usage_err "unknown option" vale0:b --bogus -w "$OUT/u.pcap"
usage_err "unknown short option" vale0:b -Z -w "$OUT/u.pcap"
usage_err "-c without value" vale0:b -w "$OUT/u.pcap" -c
usage_err "--vnet-hdr 7" vale0:b --vnet-hdr 7 -w "$OUT/u.pcap"
usage_err "--rx with /t" vale0:b/t --rx -w "$OUT/u.pcap"
"$VC" capture --help | grep -q '^usage: vale-ctl .*capture PORT' || fail "capture --help"
"$VC" --help | grep -q 'capture PORT' || fail "vale-ctl --help does not list capture"
# a bad name and no daemon: status 1, clear message, no file
"$VC" --dir "$TMPD/none" capture 'vale0:' -w "$OUT/u.pcap" >"$TMPD/e.log" 2>&1
[ $? -eq 1 ] && grep -q "bad port name" "$TMPD/e.log" || fail "bad port name: $(cat "$TMPD/e.log")"
no_file "$OUT/u.pcap" "bad port name"
"$VC" --dir "$TMPD/none" capture vale0:b -w "$OUT/u.pcap" >"$TMPD/e.log" 2>&1
[ $? -eq 1 ] && grep -q "cannot open vale0:b/rt" "$TMPD/e.log" || fail "no daemon: $(cat "$TMPD/e.log")"
no_file "$OUT/u.pcap" "no daemon"

start_daemon
sleep 0.2
FDS0=$(fd_count "$DAEMON_PID")

CAPB=(vale0:b --rx)
listed() { vctl -l 2>/dev/null | grep -q "^$1 "; }
# a receiver on vale0:b for N frames (the port must exist before its monitor)
rx_b() {
	bg rxb "$PG" -i vale0:b -f rx -n "$1"
	RXB=$BG_PID
	wait_until 10 listed vale0:b || fail "vale0:b not listed: $(vctl -l 2>&1)"
}
fds_back() { [ "$(fd_count "$DAEMON_PID")" -eq "$FDS0" ]; }

# ---- 1. -c N to a file: stops by itself with N frames
rx_b $N
bg cap1 "$VC" --dir "$VNETMAP_DIR" capture "${CAPB[@]}" -c $N -w "$OUT/c1.pcap"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap1.log" || fail "capture did not start: $(cat "$TMPD/cap1.log")"
send $N
wait_pid "$CAP" 20 || fail "capture -c $N did not exit 0 by itself: $(cat "$TMPD/cap1.log")"
wait_pid "$RXB" 10 || fail "receiver on vale0:b did not get $N frames"
grep -q "^$N frames captured, [0-9]* dropped by the monitor\$" "$TMPD/cap1.log" ||
	fail "summary line: $(cat "$TMPD/cap1.log")"
check_frames "$OUT/c1.pcap" $N "-c $N -w FILE"
od -An -tx4 -N4 "$OUT/c1.pcap" | grep -q a1b2c3d4 || fail "magic is not 0xa1b2c3d4 (usec)"
log "1. -c $N -w FILE: $(nframes "$OUT/c1.pcap") frames"

# ---- 2. -w - | tshark -r -
rx_b $N
bg cap2 bash -c "'$VC' --dir '$VNETMAP_DIR' capture ${CAPB[*]} -c $N -w - 2>'$TMPD/cap2.err' |
	tshark -d udp.port==$DPORT,data -r - -T fields -e frame.protocols -e ip.src -e ip.dst \
	-e udp.srcport -e udp.dstport -e frame.len 2>/dev/null >'$OUT/c2.txt'"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap2.err" || fail "capture -w - did not start: $(cat "$TMPD/cap2.err")"
send $N
wait_pid "$CAP" 30 || fail "capture -w - | tshark -r - did not finish"
wait_pid "$RXB" 10 || fail "receiver on vale0:b (2)"
[ "$(grep -c . "$OUT/c2.txt")" -eq $N ] || fail "-w - | tshark -r -: $(grep -c . "$OUT/c2.txt") frames"
[ "$(sort -u "$OUT/c2.txt")" = "eth:ethertype:ip:udp:data	$SRC	$DST	$SPORT	$DPORT	60" ] ||
	fail "-w - decode: $(sort -u "$OUT/c2.txt" | head -n 3)"
log "2. -w - | tshark -r -: $N frames"

# ---- 3. started before traffic, stopped by SIGINT: a valid file; -s 20; --nano
bg rx3 "$PG" -i vale0:b -f rx
RX3=$BG_PID
wait_until 10 listed vale0:b || fail "vale0:b not listed (3)"
bg cap3 "$VC" --dir "$VNETMAP_DIR" capture "${CAPB[@]}" -s 20 --nano -w "$OUT/c3.pcap"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap3.log" || fail "capture (3) did not start"
send $N
got3() { [ "$(stat -c %s "$OUT/c3.pcap")" -eq $((24 + N * (16 + 20))) ]; }
wait_until 10 got3 || fail "capture (3) wrote $(stat -c %s "$OUT/c3.pcap") bytes"
kill -INT "$CAP"
wait_pid "$CAP" 5 || fail "capture did not exit 0 on SIGINT"
kill -INT "$RX3"
wait_pid "$RX3" 5 || fail "receiver on vale0:b (3)"
grep -q "^$N frames captured" "$TMPD/cap3.log" || fail "summary after SIGINT: $(cat "$TMPD/cap3.log")"
[ "$(nframes "$OUT/c3.pcap")" -eq $N ] || fail "SIGINT file: $(nframes "$OUT/c3.pcap") frames"
[ "$(ts -r "$OUT/c3.pcap" -T fields -e frame.cap_len -e frame.len | sort -u)" = "20	60" ] ||
	fail "-s 20: $(ts -r "$OUT/c3.pcap" -T fields -e frame.cap_len -e frame.len | sort -u)"
od -An -tx4 -N4 "$OUT/c3.pcap" | grep -q a1b23c4d || fail "--nano: magic is not 0xa1b23c4d"
capinfos -M "$OUT/c3.pcap" 2>/dev/null | grep -q 'nanoseconds' || fail "--nano: capinfos precision"
log "3. SIGINT, -s 20, --nano: $N frames of 20/60 bytes"

# ---- 4. -G: stops by itself, no traffic: an empty but valid file
bg rxidle "$PG" -i vale0:b -f rx
RXIDLE=$BG_PID
wait_until 10 listed vale0:b || fail "vale0:b not listed (4)"
"$VC" --dir "$VNETMAP_DIR" capture "${CAPB[@]}" -G 0.5 -q -w "$OUT/c4.pcap" 2>"$TMPD/cap4.log" ||
	fail "-G 0.5 failed: $(cat "$TMPD/cap4.log")"
[ ! -s "$TMPD/cap4.log" ] || fail "-q printed: $(cat "$TMPD/cap4.log")"
[ "$(stat -c %s "$OUT/c4.pcap")" -eq 24 ] || fail "-G, no traffic: file of $(stat -c %s "$OUT/c4.pcap") bytes"
[ "$(capinfos_count "$OUT/c4.pcap")" = 0 ] || fail "-G file: $(capinfos "$OUT/c4.pcap" 2>&1)"

# ---- 5. unwritable or full targets: status 1, a clear message, nothing left behind
cap_err() { # WHAT PATTERN args...
	local what=$1 pat=$2 rc
	shift 2
	"$VC" --dir "$VNETMAP_DIR" capture "${CAPB[@]}" -G 5 "$@" >"$TMPD/e.log" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "$what: status $rc: $(cat "$TMPD/e.log")"
	grep -q "$pat" "$TMPD/e.log" || fail "$what: message: $(cat "$TMPD/e.log")"
}
cap_err "no such directory" "cannot open $OUT/nodir/f.pcap: No such file or directory" -w "$OUT/nodir/f.pcap"
no_file "$OUT/nodir" "no such directory"
cap_err "a directory" "cannot open $OUT: Is a directory" -w "$OUT"
cap_err "full device" "cannot write /dev/full: No space left on device" -w /dev/full
if [ "$(id -u)" -ne 0 ]; then
	mkdir "$OUT/ro" && chmod 500 "$OUT/ro"
	cap_err "read-only directory" "Permission denied" -w "$OUT/ro/f.pcap"
	no_file "$OUT/ro/f.pcap" "read-only directory"
fi
kill -INT "$RXIDLE"
wait_pid "$RXIDLE" 5 || fail "idle receiver on vale0:b"
# a missing port: status 1, the daemon's reason, no file; a pipe end has no monitor
"$VC" --dir "$VNETMAP_DIR" capture vale0:nosuch -w "$OUT/m.pcap" >"$TMPD/e.log" 2>&1
[ $? -eq 1 ] && grep -q '^vale-ctl capture: cannot open vale0:nosuch/rt: No such device or address$' "$TMPD/e.log" &&
	grep -q 'no port vale0:nosuch to monitor' "$TMPD/e.log" || fail "missing port: $(cat "$TMPD/e.log")"
no_file "$OUT/m.pcap" "missing port"
"$VC" --dir "$VNETMAP_DIR" capture 'netmap:p{1' --rx -w "$OUT/m.pcap" >"$TMPD/e.log" 2>&1
[ $? -eq 2 ] && grep -q 'pipe end' "$TMPD/e.log" || fail "pipe --rx: $(cat "$TMPD/e.log")"
no_file "$OUT/m.pcap" "pipe --rx"
"$VC" --dir "$VNETMAP_DIR" capture 'netmap:p{1/r' -w "$OUT/m.pcap" >"$TMPD/e.log" 2>&1
[ $? -eq 1 ] && grep -q 'cannot open netmap:p{1/r' "$TMPD/e.log" || fail "pipe monitor: $(cat "$TMPD/e.log")"
no_file "$OUT/m.pcap" "pipe monitor"

# ---- 6. stdout closed early: | head -c 100 -> capture exits 0 by itself
rx_b $N
bg cap6 bash -c "'$VC' --dir '$VNETMAP_DIR' capture ${CAPB[*]} -w - 2>'$TMPD/cap6.err' |
	head -c 100 >'$OUT/c6.bin'; echo \${PIPESTATUS[0]} >'$OUT/c6.rc'"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap6.err" || fail "capture (6) did not start"
send $N
wait_pid "$CAP" 10 || fail "capture | head -c 100 did not end: $(cat "$TMPD/cap6.err")"
wait_pid "$RXB" 10 || fail "receiver on vale0:b (6)"
[ "$(cat "$OUT/c6.rc")" = 0 ] || fail "capture | head -c 100: status $(cat "$OUT/c6.rc"): $(cat "$TMPD/cap6.err")"
[ "$(stat -c %s "$OUT/c6.bin")" -eq 100 ] || fail "head got $(stat -c %s "$OUT/c6.bin") bytes"
grep -q 'frames captured' "$TMPD/cap6.err" || fail "no summary after EPIPE: $(cat "$TMPD/cap6.err")"
log "6. | head -c 100: exit 0"

# ---- 7. kill -9 mid-stream: the daemon's fds go back to baseline
wait_until 10 fds_back || fail "daemon fds $(fd_count "$DAEMON_PID") before (7), baseline $FDS0"
for round in 1 2 3; do
	bg rx7 "$PG" -i vale0:b -f rx
	RX7=$BG_PID
	wait_until 10 listed vale0:b || fail "vale0:b not listed (7)"
	bg cap7 "$VC" --dir "$VNETMAP_DIR" capture "${CAPB[@]}" -w "$OUT/c7.pcap"
	CAP=$BG_PID
	wait_until 10 started "$TMPD/cap7.log" || fail "capture (7) did not start"
	bg tx7 "$PG" -i vale0:a -f tx -S $SMAC -D $DMAC
	TX7=$BG_PID
	grows() { [ "$(stat -c %s "$OUT/c7.pcap")" -gt 100000 ]; }
	wait_until 10 grows || fail "round $round: capture (7) wrote nothing"
	kill -KILL "$CAP"
	wait "$CAP" 2>/dev/null
	kill -INT "$TX7" "$RX7"
	wait_pid "$TX7" 5
	wait_pid "$RX7" 5
	wait_until 10 fds_back || fail "round $round: daemon fds $(fd_count "$DAEMON_PID"), baseline $FDS0"
	rm -f "$TMPD/cap7.log"
done
kill -0 "$DAEMON_PID" || fail "daemon died"
log "7. kill -9 mid-stream x3: daemon fds back to $FDS0"

# ---- 8. directions: /t of the sender (opened first, sending after -w 4), /rt of the receiver
bg tx8 "$PG" -i 'vale0:a@conf:lossless=1' -f tx -n $N -l 60 -S $SMAC -D $DMAC \
	-s $SRC:$SPORT -d $DST:$DPORT -w 4
TX8=$BG_PID
wait_until 10 listed vale0:a || fail "vale0:a not listed (8)"
bg cap8t "$VC" --dir "$VNETMAP_DIR" capture vale0:a --tx -c $N -G 30 -w "$OUT/c8t.pcap"
CAP=$BG_PID
wait_pid "$TX8" 30 || fail "sender (8)"
wait_pid "$CAP" 30 || fail "capture vale0:a --tx -c $N did not exit 0: $(cat "$TMPD/cap8t.log")"
grep -q '^capturing on vale0:a/t,' "$TMPD/cap8t.log" || fail "--tx spec: $(cat "$TMPD/cap8t.log")"
check_frames "$OUT/c8t.pcap" $N "capture vale0:a --tx"
for dirn in --both ""; do
	rx_b $N
	bg cap8 "$VC" --dir "$VNETMAP_DIR" capture vale0:b $dirn -c $N -G 30 -w "$OUT/c8.pcap"
	CAP=$BG_PID
	wait_until 10 started "$TMPD/cap8.log" || fail "capture vale0:b $dirn did not start"
	grep -q '^capturing on vale0:b/rt,' "$TMPD/cap8.log" || fail "spec ($dirn): $(cat "$TMPD/cap8.log")"
	send $N
	wait_pid "$CAP" 30 || fail "capture vale0:b $dirn -c $N did not exit 0: $(cat "$TMPD/cap8.log")"
	wait_pid "$RXB" 10 || fail "receiver on vale0:b (8)"
	check_frames "$OUT/c8.pcap" $N "capture vale0:b $dirn"
	rm -f "$TMPD/cap8.log"
done
log "8. --tx on the sender, --both and default on the receiver: $N frames each"

# ---- 9. a port opened as given (vale0:cap/R): a port of its own, gets the flooded frames
rx_b $N
bg cap9 "$VC" --dir "$VNETMAP_DIR" capture vale0:cap/R -c $N -G 30 -w "$OUT/c9.pcap"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap9.log" || fail "capture vale0:cap/R did not start"
send $N
wait_pid "$CAP" 30 || fail "capture vale0:cap/R did not exit 0: $(cat "$TMPD/cap9.log")"
wait_pid "$RXB" 10 || fail "receiver on vale0:b (9)"
check_frames "$OUT/c9.pcap" $N "capture vale0:cap/R"

# ---- 9b. a pipe end is opened as such; --vnet-hdr 12 strips pkt-gen -H 12's header
bg cap9p "$VC" --dir "$VNETMAP_DIR" capture 'netmap:h}1' --vnet-hdr 12 -c $N -G 30 -w "$OUT/c9p.pcap"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap9p.log" || fail "capture of netmap:h}1 did not start: $(cat "$TMPD/cap9p.log")"
"$PG" -i 'netmap:h{1' -f tx -n $N -H 12 -S $SMAC -D $DMAC -s $SRC:$SPORT -d $DST:$DPORT \
	>"$TMPD/tx9p.log" 2>&1 || fail "pkt-gen -H 12 on netmap:h{1"
wait_pid "$CAP" 30 || fail "capture of netmap:h}1 did not exit 0: $(cat "$TMPD/cap9p.log")"
grep -q 'virtio-net header stripped' "$TMPD/cap9p.log" || fail "no strip: $(cat "$TMPD/cap9p.log")"
grep -q "^$N frames captured, 0 dropped (a pipe is lossless)\$" "$TMPD/cap9p.log" ||
	fail "pipe summary: $(cat "$TMPD/cap9p.log")"
check_frames "$OUT/c9p.pcap" $N "pipe end, --vnet-hdr 12"
log "9. vale0:cap/R and netmap:h}1 --vnet-hdr 12: $N frames each"

# ---- 10. the monitored port goes away: the capture ends by itself, status 0, file valid
rx_b $N
bg cap10 "$VC" --dir "$VNETMAP_DIR" capture "${CAPB[@]}" -w "$OUT/c10.pcap"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap10.log" || fail "capture (10) did not start"
send $N
wait_pid "$RXB" 10 || fail "receiver on vale0:b (10)"
wait_pid "$CAP" 20 || fail "capture did not end when vale0:b went away: $(cat "$TMPD/cap10.log")"
grep -q 'vale0:b/r: the monitored port went away' "$TMPD/cap10.log" || fail "gone: $(cat "$TMPD/cap10.log")"
check_frames "$OUT/c10.pcap" $N "port gone"
log "10. vale0:b went away: capture ended with $N frames"

# ---- 11. a stopped capture does not slow a lossless pair: all frames delivered, the
# monitor's drops counted, captured + dropped = what vale0:b received
M=20000
bg rx11 "$PG" -i vale0:b -f rxseq -n $M
RX11=$BG_PID
wait_until 10 listed vale0:b || fail "vale0:b not listed (11)"
bg cap11 "$VC" --dir "$VNETMAP_DIR" capture "${CAPB[@]}" -w "$OUT/c11.pcap"
CAP=$BG_PID
wait_until 10 started "$TMPD/cap11.log" || fail "capture (11) did not start"
kill -STOP "$CAP"
"$PG" -i 'vale0:a@conf:lossless=1' -f txseq -n $M -S $SMAC -D $DMAC -s $SRC:$SPORT -d $DST:$DPORT \
	>"$TMPD/tx11.log" 2>&1 || { kill -CONT "$CAP"; fail "txseq (11)"; }
wait_pid "$RX11" 20 || { kill -CONT "$CAP"; fail "the pair did not deliver $M frames with the capture stopped"; }
seq_clean "$TMPD/rx11.log" || { kill -CONT "$CAP"; fail "pair (11): $(seq_line "$TMPD/rx11.log")"; }
kill -CONT "$CAP"
wait_pid "$CAP" 20 || fail "capture (11) did not end when vale0:b went away: $(cat "$TMPD/cap11.log")"
sum=$(sed -n -E 's/^([0-9]+) frames captured, ([0-9]+) dropped by the monitor$/\1 \2/p' "$TMPD/cap11.log")
[ -n "$sum" ] || fail "summary (11): $(cat "$TMPD/cap11.log")"
set -- $sum
[ "$2" -gt 0 ] || fail "stopped capture: no drops counted ($sum)"
[ $(($1 + $2)) -eq $M ] || fail "stopped capture: $1 captured + $2 dropped != $M"
[ "$(nframes "$OUT/c11.pcap")" -eq "$1" ] || fail "file (11): $(nframes "$OUT/c11.pcap") frames, summary $1"
log "11. capture stopped: pair got $M/$M, capture $1 + $2 dropped"

wait_until 10 fds_back || fail "daemon fds $(fd_count "$DAEMON_PID") at the end, baseline $FDS0"
exit 0
