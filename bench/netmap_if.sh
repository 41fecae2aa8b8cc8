#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/netmap_if.sh BUILD_DIR - a program on a Linux interface (netmap:IFNAME), each
# interface backend of vnetmapd in turn (af_xdp when it works, af_packet with VNM_NO_XDP=1):
#   tx pps    pkt-gen -f tx -l 60 on netmap:VA for SECS s; VA's veth peer is in a namespace
#             made here (the namespace's stack drops the frames); rate = frames the peer's
#             rx_packets counted / SECS
#   rtt       ping -c 20 from the namespace to a second namespace behind
#             bridge -i netmap:VA -i vale0:x and vale0's af_packet port of a second veth
# Not a test: numbers only. Needs root. Environment: SECS (default 5).
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECS:-5}
# shellcheck source=../tests/lib.sh
. "$SRC/tests/lib.sh"
skip() { printf 'bench: %s\n' "$*" >&2; exit 1; }
vnm_init "${1:-build}"
[ "$(id -u)" -eq 0 ] || skip "needs root"
ID=$$ NSB=vnmbiB$ID NSD=vnmbiD$ID VA=vbia$ID VB=vbib$ID VC=vbic$ID VD=vbid$ID
trap 'rc=$?; ip link del $VA 2>/dev/null; ip link del $VC 2>/dev/null; ip netns del $NSB 2>/dev/null;
	ip netns del $NSD 2>/dev/null; (exit $rc); vnm_cleanup' EXIT
ip netns add "$NSB" && ip netns add "$NSD" || skip "netns"
ip link add "$VA" type veth peer name "$VB" netns "$NSB" || skip "veth"
ip link add "$VC" type veth peer name "$VD" netns "$NSD"
ip -n "$NSB" addr add 10.79.1.2/24 dev "$VB"
ip -n "$NSD" addr add 10.79.1.4/24 dev "$VD"
ip -n "$NSB" link set "$VB" up
ip -n "$NSD" link set "$VD" up
ip link set "$VA" up
ip link set "$VC" up

for mode in xdp packet; do
	if [ $mode = packet ]; then export VNM_NO_XDP=1; else unset VNM_NO_XDP; fi
	start_daemon
	r0=$(ip netns exec "$NSB" cat "/sys/class/net/$VB/statistics/rx_packets")
	timeout -s INT "$SECS" "$BIN/pkt-gen" -i "netmap:$VA" -f tx -l 60 >"$TMPD/tx.log" 2>&1
	r1=$(ip netns exec "$NSB" cat "/sys/class/net/$VB/statistics/rx_packets")
	be=$(grep -o "netmap:$VA: interface $VA on [A-Za-z_]*" "$TMPD/vnetmapd.log" | head -n 1)
	be=${be##* }
	"$BIN/vale-ctl" --dir "$VNETMAP_DIR" -a "vale0:$VC" >/dev/null
	"$BIN/bridge" -i "netmap:$VA" -i vale0:x >"$TMPD/br.log" 2>&1 &
	BP=$!
	sleep 1
	rtt=$(ip netns exec "$NSB" ping -q -c 20 -i 0.05 10.79.1.4 | sed -n 's/^rtt [^=]*= //p')
	kill -TERM "$BP"
	wait "$BP" 2>/dev/null
	"$BIN/vale-ctl" --dir "$VNETMAP_DIR" -d "vale0:$VC" >/dev/null
	printf 'netmap:veth %-9s tx %8.0f pps (60 B)  ping via bridge+vale0 min/avg/max/mdev %s\n' \
		"$be" "$(echo "($r1 - $r0) / $SECS" | bc -l)" "$rtt"
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
done
