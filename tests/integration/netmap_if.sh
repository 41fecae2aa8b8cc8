#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# netmap_if: programs open a Linux interface as netmap:IFNAME (a veth end; its peer is in
# a namespace made here). Checks, by counts:
#   pkt-gen -f tx -n N on netmap:VA      -> the namespace's veth counts N more rx_packets;
#   N pings from the namespace (static neighbour, IPv6 off: nothing else is sent)
#                                        -> pkt-gen -f rx -n N on netmap:VA gets them;
#   bridge -i netmap:VA -i vale0:x, a second namespace on vale0 (af_packet host port)
#                                        -> ping between the namespaces;
#   refused: a missing interface (ENXIO), netmap:VA^ (host rings: points to vale-ctl -h),
#   a second binding (EBUSY), vale-ctl -a of a bound interface, netmap:IF of an interface
#   attached to a switch; vale-ctl -g says the kind and the backend (af_xdp/af_packet);
#   kill -9 of the client releases the interface (re-open works), daemon fds back to baseline;
#   vale-ctl -d detaches an attached interface; the interface deleted under a program: a
#   warning, no spinning, the binding goes with the program.
# VNM_NO_XDP=1 in the environment makes vnetmapd use af_packet (netmap_if_afpacket.sh).
# Addresses: 10.78.1.0/24, only inside the namespaces made here.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd vale-ctl pkt-gen bridge
[ "$(id -u)" -eq 0 ] || skip "needs root (netns, veth)"
command -v ip >/dev/null || skip "no ip(8)"
command -v ping >/dev/null || skip "no ping(8)"

ID=$$
NSB=vnmifB$ID NSD=vnmifD$ID
VA=vnia$ID VB=vnib$ID VC=vnic$ID VD=vnid$ID # VA: netmap:VA; VB in B; VC on vale0; VD in D
if_cleanup() {
	local rc=$?
	ip netns pids "$NSB" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$NSD" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip link del "$VA" 2>/dev/null
	ip link del "$VC" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	ip netns del "$NSD" 2>/dev/null
	(exit $rc)
	vnm_cleanup
}
trap if_cleanup EXIT
ip netns add "$NSB" 2>/dev/null || skip "no network namespace support"
ip netns add "$NSD" || fail "ip netns add $NSD"
B() { ip netns exec "$NSB" "$@"; }
D() { ip netns exec "$NSD" "$@"; }
ip link add "$VA" type veth peer name "$VB" netns "$NSB" || skip "no veth support"
ip link add "$VC" type veth peer name "$VD" netns "$NSD" || fail "veth $VC"
no6() { [ -e "/proc/sys/net/ipv6/conf/$2/disable_ipv6" ] || [ "$1" != - ] || return 0
	if [ "$1" = - ]; then sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
	else ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"; fi 2>/dev/null; }
no6 - "$VA"; no6 - "$VC"; no6 "$NSB" "$VB"; no6 "$NSD" "$VD"
B ip addr add 10.78.1.2/24 dev "$VB"
D ip addr add 10.78.1.4/24 dev "$VD"
B ip link set "$VB" up
D ip link set "$VD" up
ip link set "$VA" up
ip link set "$VC" up

start_daemon
sleep 0.3
base_fds=$(fd_count "$DAEMON_PID")
pg() { "$BIN/pkt-gen" "$@"; }
bound() { vctl -g "netmap:$VA" 2>/dev/null | grep -q '1 client'; }
rxp() { B cat "/sys/class/net/$VB/statistics/rx_packets"; }
txp() { B cat "/sys/class/net/$VB/statistics/tx_packets"; }

# ---- refusals
out=$(pg -i "netmap:nosuch$ID" -f tx -n 1 2>&1) && fail "netmap: of a missing interface opened: $out"
echo "$out" | grep -q "no interface nosuch$ID" || fail "missing interface message: $out"
out=$(pg -i "netmap:$VA^" -f rx -n 1 2>&1) && fail "netmap:$VA^ opened: $out"
echo "$out" | grep -q 'vale-ctl -h' || fail "host rings message does not point to vale-ctl -h: $out"
out=$(pg -i "netmap:$VA@conf:rings=2" -f tx -n 1 2>&1) && fail "2 rings on netmap:$VA: $out"

# ---- program -> interface: N frames reach the namespace
N=20000
r0=$(rxp)
out=$(pg -i "netmap:$VA" -f tx -n $N -l 60 2>&1) || fail "pkt-gen tx on netmap:$VA: $out"
[ "$(echo "$out" | sed -n -E 's/^.*Sent ([0-9]+) packets.*$/\1/p' | tail -n 1)" = $N ] ||
	fail "pkt-gen did not send $N: $out"
backend=$(grep -o "netmap:$VA: interface $VA on [a-zA-Z_]*" "$TMPD/vnetmapd.log" | head -n 1)
if [ -n "${VNM_NO_XDP:-}" ]; then
	[ "${backend##* }" = af_packet ] || fail "VNM_NO_XDP=1 but backend '${backend##* }'"
fi
log "backend: ${backend##* }"
log "$(echo "$out" | grep -E 'pps' | tail -n 1)"
wait_until 10 sh -c "[ \$(ip netns exec $NSB cat /sys/class/net/$VB/statistics/rx_packets) -ge $((r0 + N)) ]" ||
	fail "namespace got $(( $(rxp) - r0 )) of $N frames"
sleep 0.2
[ $(( $(rxp) - r0 )) -eq $N ] || fail "namespace got $(( $(rxp) - r0 )) frames, sent $N"

# ---- interface -> program: N pings (no replies: the neighbour is static and absent)
N=200
B ip neigh replace 10.78.1.9 lladdr 02:00:00:00:78:09 dev "$VB" nud permanent
bg rx "$BIN/pkt-gen" -i "netmap:$VA" -f rx -n $N
RXP=$BG_PID
wait_until 10 bound || fail "pkt-gen rx did not bind netmap:$VA"
info=$(vctl -g "netmap:$VA" 2>&1)
log "$info"
echo "$info" | grep -Eq 'netdev \((af_xdp|af_packet)' || fail "-g does not say netdev/backend: $info"
# busy: a second program, and the switch
out=$(pg -i "netmap:$VA" -f tx -n 1 2>&1) && fail "second binding of netmap:$VA opened: $out"
echo "$out" | grep -q 'bound by another program' || fail "busy message: $out"
out=$(vctl -a "vale0:$VA" 2>&1) && fail "-a of a bound interface succeeded: $out"
echo "$out" | grep -q "bound by a program" || fail "-a busy message: $out"
t0=$(txp)
B ping -q -c $N -i 0.002 -W 1 10.78.1.9 >/dev/null 2>&1
wait_pid "$RXP" 20 || fail "pkt-gen rx: status $? ($(tail -n 3 "$TMPD/rx.log"); $(vctl --stats); $(ip -s link show "$VA"))"
got=$(pg_count "$TMPD/rx.log")
[ "$got" = $N ] || fail "pkt-gen rx counted '$got' of $N: $(cat "$TMPD/rx.log")"
[ $(( $(txp) - t0 )) -eq $N ] || fail "namespace sent $(( $(txp) - t0 )) frames, expected $N"

# ---- kill -9 of a client: the interface is released
bg rx9 "$BIN/pkt-gen" -i "netmap:$VA" -f rx
wait_until 10 bound || fail "pkt-gen rx (kill) did not bind"
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null
wait_until 10 sh -c "! '$BIN/vale-ctl' --dir '$VNETMAP_DIR' -g 'netmap:$VA' >/dev/null 2>&1" ||
	fail "netmap:$VA still listed after kill -9"
out=$(pg -i "netmap:$VA" -f tx -n 100 2>&1) || fail "re-open after kill -9: $out"

# ---- bridge: namespace B <-> netmap:VA <-> bridge <-> vale0:x ... vale0 <-> VC <-> namespace D
out=$(vctl -a "vale0:$VC" 2>&1) || fail "-a vale0:$VC: $out"
bg bridge "$BIN/bridge" -i "netmap:$VA" -i vale0:x
BRP=$BG_PID
wait_until 10 bound || fail "bridge did not bind netmap:$VA"
out=$(B ping -c 3 -i 0.3 -w 30 10.78.1.4 2>&1) ||
	fail "ping B -> D over bridge: $out $(cat "$TMPD/bridge.log"; vctl --stats; ip -s link show "$VA")"
log "$(echo "$out" | tail -n 1)"
kill -TERM "$BRP"
wait_pid "$BRP" 10 || fail "bridge did not exit on SIGTERM"

# ---- an interface attached to a switch is not for programs, and -d detaches it
wait_until 10 sh -c "! '$BIN/vale-ctl' --dir '$VNETMAP_DIR' -g 'netmap:$VA' >/dev/null 2>&1" ||
	fail "netmap:$VA still listed after bridge exit"
out=$(vctl -a "vale1:$VA" 2>&1) || fail "-a vale1:$VA: $out"
out=$(pg -i "netmap:$VA" -f tx -n 1 2>&1) && fail "netmap: of an attached interface opened: $out"
echo "$out" | grep -q "attached to VALE switch vale1" || fail "attached message: $out"
out=$(vctl -d "vale1:$VA" 2>&1) || fail "-d vale1:$VA: $out"
out=$(vctl -d "vale0:$VC" 2>&1) || fail "-d vale0:$VC: $out"
out=$(pg -i "netmap:$VA" -f tx -n 10 2>&1) || fail "netmap:$VA after -d: $out"
[ -z "$(vctl -l)" ] || fail "ports left: $(vctl -l)"
ip link show "$VA" | grep -q xdp && fail "an XDP program is left on $VA: $(ip link show "$VA")"

# ---- the interface goes away under a program: said in the log, no spinning, clean close
bg txgone "$BIN/pkt-gen" -i "netmap:$VA" -f tx -R 1000
TGP=$BG_PID
wait_until 10 bound || fail "pkt-gen tx (gone) did not bind"
ip link del "$VA" || fail "ip link del $VA"
wait_until 10 grep -Eq "af_(xdp|packet) $VA: " "$TMPD/vnetmapd.log" ||
	fail "no warning about $VA in the log: $(tail -n 3 "$TMPD/vnetmapd.log")"
cpu() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
t0=$(cpu)
sleep 2
t1=$(cpu)
log "vnetmapd CPU ticks over 2 s with the interface gone: $((t1 - t0))"
[ $((t1 - t0)) -lt 30 ] || fail "vnetmapd spins: $((t1 - t0)) ticks in 2 s"
kill -TERM "$TGP"
wait_pid "$TGP" 10 || fail "pkt-gen did not exit on SIGTERM"
wait_until 10 sh -c "! '$BIN/vale-ctl' --dir '$VNETMAP_DIR' -g 'netmap:$VA' >/dev/null 2>&1" ||
	fail "netmap:$VA still listed after its program exited"
sleep 0.3
kill -0 "$DAEMON_PID" 2>/dev/null || { wait "$DAEMON_PID"; fail "vnetmapd died: status $?"; }
fds=$(fd_count "$DAEMON_PID")
[ "$fds" -eq "$base_fds" ] || fail "daemon fds $fds, baseline $base_fds: $(ls -l /proc/$DAEMON_PID/fd)"
echo "PASS (${backend##* })"
