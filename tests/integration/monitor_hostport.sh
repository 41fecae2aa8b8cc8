#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# monitor_hostport: copy monitors of host ports. Namespace A's veth peer is attached with
# vale-ctl -a vale0:VETH (af_packet), namespace B's TAP with vale-ctl -h vale0:TAP; a
# /rt monitor of each (pkt-gen -f rx) sees every frame its port sent into the switch and
# every frame the switch gave it: after 5 pings A -> B, each monitor's count equals its
# port's rx + tx counters exactly, with no drop. /z of a host port: EOPNOTSUPP with a
# message. -d of a monitored port stops the monitor (listed with bridge_idx -1).
# Addresses: 10.79.0.0/24, only inside the namespaces made here.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd vale-ctl pkt-gen
[ "$(id -u)" -eq 0 ] || skip "needs root (netns, veth, TAP)"
command -v ip >/dev/null || skip "no ip(8)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

ID=$$
NSA=vnmmA$ID NSB=vnmmB$ID
VA=vmpa$ID VB=vmpb$ID TAP=tmp$ID
mh_cleanup() {
	local rc=$?
	ip netns pids "$NSA" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$NSB" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip link del "$VA" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	(exit $rc)
	vnm_cleanup
}
trap mh_cleanup EXIT
ip netns add "$NSA" 2>/dev/null || skip "no network namespace support"
ip netns add "$NSB" || fail "ip netns add $NSB"
A() { ip netns exec "$NSA" "$@"; }
B() { ip netns exec "$NSB" "$@"; }
# no IPv6: no router/neighbour solicitations at random moments
A sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
A sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
B sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
B sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
ip link add "$VA" type veth peer name "$VB" netns "$NSA" || skip "no veth support"
A ip addr add 10.79.0.2/24 dev "$VB"
A ip link set "$VB" up
ip link set "$VA" up

start_daemon
vctl() { "$BIN/vale-ctl" --dir "$VNETMAP_DIR" "$@"; }
out=$(vctl -a "vale0:$VA" 2>&1) || fail "-a vale0:$VA: $out"
out=$(vctl -h "vale0:$TAP" 2>&1) || fail "-h vale0:$TAP: $out"
ip link set "$TAP" netns "$NSB" || fail "cannot move $TAP into $NSB"
B ip addr add 10.79.0.3/24 dev "$TAP"
B ip link set "$TAP" up

out=$("$BIN/pkt-gen" -i "vale0:$VA/z" -f rx 2>&1) && fail "/z of an af_packet port opened"
echo "$out" | grep -q '/z needs a port with its own region' || fail "/z message: $out"
out=$("$BIN/pkt-gen" -i "vale0:$TAP/z" -f rx 2>&1) && fail "/z of a TAP opened"

bg mon_va "$BIN/pkt-gen" -i "vale0:$VA/rt" -f rx
bg mon_tap "$BIN/pkt-gen" -i "vale0:$TAP/rt" -f rx
wait_until 10 sh -c "'$BIN/vale-ctl' --dir '$VNETMAP_DIR' -l | grep -q '$TAP/rt'" ||
	fail "monitors not listed: $(vctl -l)"
out=$(vctl --json -l)
echo "$out" | grep -q "\"vale0:$VA/rt\".*\"kind\": \"monitor\"" || fail "json kind: $out"

# frames a port handled before its monitor was bound are not the monitor's
base() { vctl --stats vale0 | awk -v n="vale0:$1" '$1 == n { print $2 + $4 }'; }
B_VA=$(base "$VA") B_TAP=$(base "$TAP")
B_VA_M=$(vctl --stats vale0 | awk -v n="vale0:$VA/rt" '$1 == n { print $4 }')
B_TAP_M=$(vctl --stats vale0 | awk -v n="vale0:$TAP/rt" '$1 == n { print $4 }')
log "before the pings: $VA $B_VA (monitor $B_VA_M), $TAP $B_TAP (monitor $B_TAP_M)"

out=$(A ping -c 5 -i 0.2 -w 30 10.79.0.3 2>&1) || fail "ping A -> B: $out"

# per port: monitor's new frames == port's new rx + tx, drop_full 0 (read until stable)
check() {
	local port=$1 b=$2 bm=$3 st p m
	st=$(vctl --stats vale0)
	p=$(echo "$st" | awk -v n="vale0:$port" -v b="$b" '$1 == n { print $2 + $4 - b }')
	m=$(echo "$st" | awk -v n="vale0:$port/rt" -v b="$bm" '$1 == n { print $4 - b, $6 }')
	[ -n "$p" ] && [ "$m" = "$p 0" ]
}
wait_until 10 check "$VA" "$B_VA" "$B_VA_M" || fail "monitor of $VA: $(vctl --stats vale0)"
wait_until 10 check "$TAP" "$B_TAP" "$B_TAP_M" || fail "monitor of $TAP: $(vctl --stats vale0)"
n=$(vctl --stats vale0 | awk -v n="vale0:$VA/rt" -v b="$B_VA_M" '$1 == n { print $4 - b }')
[ "$n" -ge 10 ] || fail "monitor of $VA saw $n frames, want >= 10 (5 requests, 5 replies)"
log "$(vctl --stats vale0)"

# the monitored port goes: the monitor stops, stays listed until it closes
out=$(vctl -d "vale0:$VA" 2>&1) || fail "-d vale0:$VA: $out"
vctl -l | grep -q "^vale0:$VA/rt bridge_idx -1 port_idx -1" || fail "stopped monitor: $(vctl -l)"
kill "${VNM_PIDS[0]}" "${VNM_PIDS[1]}" 2>/dev/null
wait_until 10 sh -c "! '$BIN/vale-ctl' --dir '$VNETMAP_DIR' -l | grep -q /rt" ||
	fail "monitors left: $(vctl -l)"
out=$(vctl -d "vale0:$TAP" 2>&1) || fail "-d vale0:$TAP: $out"
[ -z "$(vctl -l)" ] || fail "ports left: $(vctl -l)"
echo "monitor_hostport: ok"
