#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hostport_veth_pair: two namespaces, each with a veth whose other end is attached to
# vale0 (af_packet on both sides: offloaded TCP frames travel with their virtio-net
# header from one AF_PACKET socket to the other). Checks ping A -> C, iperf3 A -> C for
# 3 s (when installed), the switch learned both MACs, errors: -a of an interface that
# does not exist, -h of a persistent port that is not a TAP, -d twice.
# Addresses: 10.77.1.0/24, only inside the namespaces made here.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd vale-ctl
[ "$(id -u)" -eq 0 ] || skip "needs root (netns, veth)"
command -v ip >/dev/null || skip "no ip(8)"

ID=$$
NSA=vnmvpA$ID NSC=vnmvpC$ID
VA=vvpa$ID VB=vvpb$ID VC=vvpc$ID VD=vvpd$ID # VA/VC attached; VB in A, VD in C
vp_cleanup() {
	local rc=$?
	ip netns pids "$NSA" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$NSC" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip link del "$VA" 2>/dev/null
	ip link del "$VC" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSC" 2>/dev/null
	(exit $rc)
	vnm_cleanup
}
trap vp_cleanup EXIT
ip netns add "$NSA" 2>/dev/null || skip "no network namespace support"
ip netns add "$NSC" || fail "ip netns add $NSC"
A() { ip netns exec "$NSA" "$@"; }
C() { ip netns exec "$NSC" "$@"; }
ip link add "$VA" type veth peer name "$VB" netns "$NSA" || skip "no veth support"
ip link add "$VC" type veth peer name "$VD" netns "$NSC" || fail "veth $VC"
A ip addr add 10.77.1.2/24 dev "$VB"
C ip addr add 10.77.1.3/24 dev "$VD"
A ip link set "$VB" up
C ip link set "$VD" up
ip link set "$VA" up
ip link set "$VC" up

start_daemon
vctl() { "$BIN/vale-ctl" --dir "$VNETMAP_DIR" "$@"; }

out=$(vctl -a vale0:nosuchif77 2>&1) && fail "-a of a missing interface succeeded: $out"
echo "$out" | grep -q '^failed to attach vale0:nosuchif77: ' || fail "-a missing: $out"
out=$(vctl -n pp0 2>&1) || fail "-n pp0: $out"
out=$(vctl -h vale0:pp0 2>&1) && fail "-h of a netmap persistent port succeeded: $out"
out=$(vctl -r pp0 2>&1) || fail "-r pp0: $out"

out=$(vctl -a "vale0:$VA" 2>&1) || fail "-a vale0:$VA: $out"
out=$(vctl -a "vale0:$VC" 2>&1) || fail "-a vale0:$VC: $out"
out=$(vctl -a "vale1:$VC" 2>&1) && fail "second attach of $VC succeeded: $out"

out=$(A ping -c 3 -i 0.3 -w 30 10.77.1.3 2>&1) || fail "ping A -> C: $out"
log "$(echo "$out" | tail -n 2 | head -n 1)"
macb=$(A cat "/sys/class/net/$VB/address") macd=$(C cat "/sys/class/net/$VD/address")
fdb=$(vctl --fdb vale0)
echo "$fdb" | grep -qi "$macb" || fail "fdb lacks A's MAC $macb: $fdb"
echo "$fdb" | grep -qi "$macd" || fail "fdb lacks C's MAC $macd: $fdb"

if command -v iperf3 >/dev/null; then
	C timeout 40 iperf3 -s -1 -B 10.77.1.3 >"$TMPD/iperf3-s.log" 2>&1 &
	SP=$!
	VNM_PIDS+=("$SP")
	wait_until 10 C sh -c "ss -ltn | grep -q ':5201'" || fail "iperf3 server did not start"
	out=$(A timeout 40 iperf3 -c 10.77.1.3 -t 3 -f m 2>&1) || fail "iperf3: $out"
	rate=$(echo "$out" | awk '/receiver/ { print $(NF-2), $(NF-1) }')
	[ -n "$rate" ] || fail "iperf3 printed no receiver line: $out"
	log "iperf3 A -> C (af_packet -> vale0 -> af_packet), 3 s: $rate"
	echo "iperf3_mbps ${rate% *}"
	wait_pid "$SP" 10
fi
log "$(vctl --stats vale0)"

out=$(vctl -d "vale0:$VA" 2>&1) || fail "-d vale0:$VA: $out"
out=$(vctl -d "vale0:$VA" 2>&1) && fail "second -d succeeded: $out"
out=$(vctl -d "vale0:$VC" 2>&1) || fail "-d vale0:$VC: $out"
[ -z "$(vctl -l)" ] || fail "ports left: $(vctl -l)"
echo "PASS"
