#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hostport_gone: host ports whose device disappears while attached (the TAP's namespace
# is deleted, the veth is deleted). The switch must go back to sleep (vnetmapd under
# 30 CPU ticks over 3 s, i.e. not spinning on an fd stuck in EPOLLERR), say so in its log,
# and still detach both ports.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd vale-ctl
[ "$(id -u)" -eq 0 ] || skip "needs root (netns, veth, TAP)"
command -v ip >/dev/null || skip "no ip(8)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

ID=$$
NSB=vnmgoB$ID VA=vgoa$ID VB=vgob$ID TAP=tgo$ID
g_cleanup() {
	local rc=$?
	ip link del "$VA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	(exit $rc)
	vnm_cleanup
}
trap g_cleanup EXIT
ip netns add "$NSB" 2>/dev/null || skip "no network namespace support"
ip link add "$VA" type veth peer name "$VB" || skip "no veth support"
ip link set "$VA" up
ip link set "$VB" up

start_daemon
out=$(vctl -a "vale0:$VA" 2>&1) || fail "-a vale0:$VA: $out"
out=$(vctl -h "vale0:$TAP" 2>&1) || fail "-h vale0:$TAP: $out"
ip link set "$TAP" netns "$NSB" || fail "move $TAP"
ip -n "$NSB" link set "$TAP" up

ip netns del "$NSB" || fail "netns del"
ip link del "$VA" || fail "link del"
gone() { grep -q "tap $TAP: .*device gone" "$TMPD/vnetmapd.log" &&
	grep -q "af_packet $VA: " "$TMPD/vnetmapd.log"; }
# a packet on vale0 makes the switch run a round and then try to sleep
wait_until 20 gone || fail "no 'device gone' / af_packet warning in the log: $(tail -n 5 "$TMPD/vnetmapd.log")"
cpu() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
t0=$(cpu)
sleep 3
t1=$(cpu)
log "vnetmapd CPU ticks over 3 s with both devices gone: $((t1 - t0))"
[ $((t1 - t0)) -lt 30 ] || fail "vnetmapd spins: $((t1 - t0)) ticks in 3 s"
out=$(vctl -d "vale0:$VA" 2>&1) || fail "-d vale0:$VA: $out"
out=$(vctl -d "vale0:$TAP" 2>&1) || fail "-d vale0:$TAP: $out"
[ -z "$(vctl -l)" ] || fail "ports left: $(vctl -l)"
echo PASS
