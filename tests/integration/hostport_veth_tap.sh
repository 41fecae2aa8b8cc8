#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hostport_veth_tap: host ports on a VALE switch. Namespace A's veth peer is attached
# with vale-ctl -a vale0:VETH (af_packet), namespace B's TAP with vale-ctl -h vale0:TAP
# (created by vnetmapd, then moved into B). Checks: both listed (kinds netdev, tap);
# ping A -> B through vale0; iperf3 A -> B for 3 s (when installed; offloaded TCP
# frames cross with their virtio-net header); a pkt-gen broadcast stream from
# vale0:p counted at both namespaces' rx_packets (count-based, rate-limited); -d
# detaches and frees both. Addresses: 10.77.0.0/24, only inside the namespaces made here.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd vale-ctl pkt-gen
[ "$(id -u)" -eq 0 ] || skip "needs root (netns, veth, TAP)"
command -v ip >/dev/null || skip "no ip(8)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

ID=$$
NSA=vnmhpA$ID NSB=vnmhpB$ID
VA=vhpa$ID VB=vhpb$ID TAP=thp$ID # VA: attached end (default ns); VB: in A
hp_cleanup() {
	local rc=$?
	ip netns pids "$NSA" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$NSB" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip link del "$VA" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	(exit $rc)
	vnm_cleanup
}
trap hp_cleanup EXIT
ip netns add "$NSA" 2>/dev/null || skip "no network namespace support"
ip netns add "$NSB" || fail "ip netns add $NSB"
A() { ip netns exec "$NSA" "$@"; }
B() { ip netns exec "$NSB" "$@"; }

ip link add "$VA" type veth peer name "$VB" netns "$NSA" || skip "no veth support"
A ip addr add 10.77.0.2/24 dev "$VB"
A ip link set "$VB" up
A ip link set lo up
ip link set "$VA" up

start_daemon
vctl() { "$BIN/vale-ctl" --dir "$VNETMAP_DIR" "$@"; }

out=$(vctl -a "vale0:$VA" 2>&1) || fail "vale-ctl -a vale0:$VA: $out"
out=$(vctl -h "vale0:$TAP" 2>&1) || fail "vale-ctl -h vale0:$TAP: $out"
grep -q "backend af_packet" "$TMPD/vnetmapd.log" || fail "no 'backend af_packet' in the log"
ip link set "$TAP" netns "$NSB" || fail "cannot move $TAP into $NSB"
B ip addr add 10.77.0.3/24 dev "$TAP"
B ip link set "$TAP" up
B ip link set lo up

out=$(vctl --json -l) || fail "list: $out"
echo "$out" | grep -q "\"vale0:$VA\".*\"kind\": \"netdev\"" || fail "$VA not listed as netdev: $out"
echo "$out" | grep -q "\"vale0:$TAP\".*\"kind\": \"tap\"" || fail "$TAP not listed as tap: $out"
log "$(vctl -g "vale0:$TAP")"

# ping: 3 replies within a generous deadline (a loaded 2-core host)
out=$(A ping -c 3 -i 0.3 -w 30 10.77.0.3 2>&1) || fail "ping A -> B: $out"
log "$(echo "$out" | tail -n 2 | head -n 1)"

if command -v iperf3 >/dev/null; then
	B timeout 40 iperf3 -s -1 -B 10.77.0.3 >"$TMPD/iperf3-s.log" 2>&1 &
	SP=$!
	VNM_PIDS+=("$SP")
	wait_until 10 B sh -c "ss -ltn | grep -q ':5201'" || fail "iperf3 server did not start"
	out=$(A timeout 40 iperf3 -c 10.77.0.3 -t 3 -f m 2>&1) || fail "iperf3: $out"
	rate=$(echo "$out" | awk '/receiver/ { print $(NF-2), $(NF-1) }')
	[ -n "$rate" ] || fail "iperf3 printed no receiver line: $out"
	log "iperf3 A -> B (veth/af_packet -> vale0 -> TAP), 3 s: $rate"
	echo "iperf3_mbps ${rate% *}"
	wait_pid "$SP" 10
else
	log "iperf3 not installed: skipped"
fi

# pkt-gen broadcast from vale0:p: counted at both namespaces (rate-limited: veth/TAP
# receive through per-CPU backlogs that a burst would overflow)
N=2000
rxa() { A cat "/sys/class/net/$VB/statistics/rx_packets"; }
rxb() { B cat "/sys/class/net/$TAP/statistics/rx_packets"; }
a0=$(rxa) b0=$(rxb)
out=$(timeout 60 "$BIN/pkt-gen" -i vale0:p -f tx -n $N -R 5000 -S 02:00:00:77:00:01 2>&1) ||
	fail "pkt-gen: $out"
sleep 1
da=$(( $(rxa) - a0 )) db=$(( $(rxb) - b0 ))
log "pkt-gen $N frames: $da at $NSA/$VB, $db at $NSB/$TAP"
echo "pktgen_rx_veth $da pktgen_rx_tap $db"
# other traffic (IPv6 ND, ...) may add a few; losses none expected at 5 kpps
[ "$da" -ge $N ] || fail "veth side got $da of $N"
[ "$db" -ge $N ] || fail "TAP side got $db of $N"
log "$(vctl --stats vale0 | head -n 20)"

# detach frees both host ports
out=$(vctl -d "vale0:$VA" 2>&1) || fail "-d vale0:$VA: $out"
out=$(vctl -d "vale0:$TAP" 2>&1) || fail "-d vale0:$TAP: $out"
out=$(vctl -l)
[ -z "$out" ] || fail "ports left after -d: $out"
B ip link show "$TAP" >/dev/null 2>&1 && fail "TAP $TAP still exists after -d"
echo "PASS"
