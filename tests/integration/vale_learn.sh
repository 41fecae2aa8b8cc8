#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vale_learn: three ports on vale0 with distinct source MACs. A broadcast from one port
# reaches every other port and not itself; once the switch has learned a MAC, unicast to
# it reaches only that port. Checked on the per-port counters (vale-ctl --stats --json:
# tx_packets = delivered to the port) and on the learned table (vale-ctl --fdb).
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
start_daemon

MAC_A=02:00:00:00:00:0a
MAC_B=02:00:00:00:00:0b
MAC_C=02:00:00:00:00:0c
BCAST=ff:ff:ff:ff:ff:ff
RATE=50000 # pps, and lossless senders: exact counts even on a loaded machine

# receivers hold the rx rings of each port; senders bind the tx rings (/T) of the same port
for p in a b c; do
	bg "rx_$p" "$BIN/pkt-gen" -i "vale0:$p/R@conf:lossless=1" -f rx
done
listed() { vctl -l 2>/dev/null | grep -q "^vale0:$1 "; }
for p in a b c; do
	wait_until 10 listed $p || fail "vale0:$p not listed: $(vctl -l 2>&1)"
done
[ -n "$(stat_of vale0:a tx_packets)" ] || fail "no counters for vale0:a in vale-ctl --stats --json: $(vctl --stats --json 2>&1 | head -n 5)"

# send PORT SRC DST COUNT
send() {
	bg "tx_$1_$4" "$BIN/pkt-gen" -i "vale0:$1/T" -f tx -n "$4" -R $RATE -S "$2" -D "$3"
	wait_pid "$BG_PID" 60 || fail "pkt-gen tx on vale0:$1 failed: $(tail -n 3 "$TMPD/tx_$1_$4.log")"
}
# expect PORT COUNT: delivered-to-port counter reaches COUNT and stays there
delivered_is() { [ "$(stat_of "vale0:$1" tx_packets)" = "$2" ]; }
expect() {
	wait_until 5 delivered_is "$1" "$2" ||
		fail "$3: vale0:$1 got $(stat_of "vale0:$1" tx_packets) packets, expected $2
$(vctl --stats 2>&1)"
}

# 1. broadcast from a floods to b and c, never back to a
send a $MAC_A $BCAST 1000
expect a 0 "broadcast from a"
expect b 1000 "broadcast from a"
expect c 1000 "broadcast from a"

# 2. b and c announce themselves (broadcast): the switch learns their MACs
send b $MAC_B $BCAST 10
send c $MAC_C $BCAST 10
expect a 20 "broadcasts from b and c"
expect b 1010 "broadcast from c"
expect c 1010 "broadcast from b"

# 3. unicast a -> b goes to b only; a -> c to c only
send a $MAC_A $MAC_B 500
sleep 0.3
expect b 1510 "unicast a->b"
expect c 1010 "unicast a->b (must not reach c)"
expect a 20 "unicast a->b (must not come back)"
send a $MAC_A $MAC_C 300
sleep 0.3
expect c 1310 "unicast a->c"
expect b 1510 "unicast a->c (must not reach b)"

# 4. the learned table names each MAC's port
fdb=$(vctl --fdb vale0 2>&1) || fail "vale-ctl --fdb vale0: $fdb"
for m in $MAC_A $MAC_B $MAC_C; do
	echo "$fdb" | grep -qi "$m" || fail "$m not in the learned table:
$fdb"
done
echo "$fdb" | grep -i "$MAC_B" | grep -q 'vale0:b' || fail "$MAC_B not on vale0:b:
$fdb"

# 5. no unexpected drops on any port
for p in a b c; do
	for f in drop_runt drop_oversize drop_bad_slot ring_resets; do
		v=$(stat_of "vale0:$p" $f)
		[ "${v:-0}" = 0 ] || fail "vale0:$p $f = $v"
	done
done
vctl --stats >&2
exit 0
