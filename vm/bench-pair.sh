#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm/bench-pair.sh MODE [options] - two guests, one attachment, the benchmark columns.
#
# MODE:
#   tap          virtio-net, QEMU user-space back-end (vhost=off), TAPs on a Linux bridge
#                in a private netns (the baseline row)
#   tap-e1000    the same with e1000 NICs
#   stream       virtio-net, guest A's -netdev stream listens on a UNIX socket, B connects
#   testpmd [--server]  virtio-net on vhost-user sockets served by DPDK testpmd (io
#                forwarding between its two net_vhost ports); QEMU is the client, or with
#                --server the socket server (testpmd then connects: vnetmapd's set-up)
#   vale         virtio-net on vnetmapd vhost-user ports of vale0 (QEMU the socket server,
#                vnetmapd from --tools started here, connecting as the client)
#   pipe         virtio-net on the two ends of a netmap pipe (netmap:p{1 and netmap:p}1) served
#                as vhost-user by vnetmapd from --tools (QEMU the socket server)
#   vale-tap     QEMU TAP back-end (vhost=off; --model e1000 for the e1000 row) with each TAP
#                attached to vnetmapd's vale0 as a host port (vale-ctl -a vale0:TAP, af_packet)
#   vale-socket  QEMU -netdev stream (no root, no vhost-user; --model e1000 for the e1000 row):
#                each QEMU listens, vnetmapd's socket ports connect (vale-ctl -n X --stream
#                PATH) and are attached to vale0
#   vhost-user SOCK_A SOCK_B [--server]
#                virtio-net on two vhost-user sockets someone else serves (vnetmapd);
#                with --server QEMU listens (the vnetmapd default: start the guests, then
#                let vnetmapd connect)
# Options: --image DIR (default build/vm, built if needed), --tools BIN (build/bin),
#   --time T (10 s per test), --tests "ping iperf rr pingf pktgen", --model virtio|e1000,
#   --dev-opts ,K=V, --out DIR (keep logs there).
# Prints one line "MODE iperf_mbps=.. rr_tps=.. rr_lat_us=.. pingf_avg_us=..
# pktgen_tx_pps=.. pktgen_rx_pps=.. boot_s=.. accel=.." and exits 0 when both guests did.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

MODE=${1:?usage: $0 tap|tap-e1000|stream|testpmd|vhost-user SOCK_A SOCK_B [options]}
shift
SOCK_A= SOCK_B= SERVER=
if [ "$MODE" = vhost-user ]; then
	SOCK_A=${1:?SOCK_A}; SOCK_B=${2:?SOCK_B}; shift 2
fi
IMAGE=$HERE/../build/vm TOOLS= T=10 TESTS="ping iperf rr pingf pktgen" MODEL=virtio DEVOPTS= OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--image) IMAGE=$2; shift ;;
	--tools) TOOLS=$2; shift ;;
	--time) T=$2; shift ;;
	--tests) TESTS=$2; shift ;;
	--model) MODEL=$2; shift ;;
	--dev-opts) DEVOPTS=$2; shift ;;
	--server) SERVER=--server ;;
	--out) OUT=$2; shift ;;
	*) echo "bench-pair: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ "$MODE" = tap-e1000 ] && MODEL=e1000

vm_init "$IMAGE" $TOOLS || exit 77
stop_helper() {
	[ -n "$HELPER_PID" ] || return 0
	kill -TERM "$HELPER_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$HELPER_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$HELPER_PID" 2>/dev/null
	wait "$HELPER_PID" 2>/dev/null
	HELPER_PID=
	rm -rf "/var/run/dpdk/vnm$$" 2>/dev/null
}
# start_testpmd: DPDK testpmd, io forwarding between net_vhost0 (SA) and net_vhost1 (SB);
# the vhost-user server unless --server (then a client of QEMU's sockets)
start_testpmd() {
	local cl=
	[ -n "$SERVER" ] && cl=,client=1
	# testpmd (non-interactive) exits at EOF on stdin: hand it a FIFO we keep open
	mkfifo "$VM_TMP/testpmd.in"
	exec 8<>"$VM_TMP/testpmd.in"
	dpdk-testpmd -l 0,1 --no-pci --no-huge -m 256 --iova-mode=va --file-prefix "vnm$$" \
		--vdev "net_vhost0,iface=$SA$cl" --vdev "net_vhost1,iface=$SB$cl" -- \
		--forward-mode=io --auto-start --total-num-mbufs=32768 --stats-period 0 \
		<"$VM_TMP/testpmd.in" >"$VM_TMP/testpmd.log" 2>&1 &
	HELPER_PID=$!
	[ -n "$SERVER" ] && return 0
	for _ in $(seq 100); do
		[ -S "$SA" ] && [ -S "$SB" ] && return 0
		sleep 0.1
	done
	tail "$VM_TMP/testpmd.log" >&2
	return 1
}
bench_exit() {
	local rc=$?
	stop_helper
	[ -n "$OUT" ] && cp "$VM_TMP"/*.log* "$VM_TMP"/*.run "$OUT"/ 2>/dev/null
	(exit $rc)
	vm__trap
}
trap bench_exit EXIT
[ -n "$OUT" ] && mkdir -p "$OUT"
MAC_A=52:54:00:00:00:01 MAC_B=52:54:00:00:00:02
NIC_A=() NIC_B=()
HELPER_PID=
case $MODE in
tap|tap-e1000)
	NS=vnm-bench-$$
	vm_netns_bridge "$NS" br0 tap0 tap1 || exit 1
	NIC_A=(--netns "$NS" --tap tap0 --model "$MODEL")
	NIC_B=(--netns "$NS" --tap tap1 --model "$MODEL") ;;
stream)
	S=$VM_TMP/stream.sock
	# B (started first) listens, A connects
	NIC_B=(--stream "$S" --server --model "$MODEL")
	NIC_A=(--stream "$S" --model "$MODEL") ;;
testpmd)
	command -v dpdk-testpmd >/dev/null || { echo "bench-pair: no dpdk-testpmd (apt-get install dpdk)" >&2; exit 77; }
	SA=$VM_TMP/pmd0.sock SB=$VM_TMP/pmd1.sock
	if [ -n "$SERVER" ]; then
		# QEMU listens (server=on,wait=off), testpmd connects as a client once both are up
		NIC_A=(--vhost-user "$SA" --server)
		NIC_B=(--vhost-user "$SB" --server)
	else
		start_testpmd || exit 1
		NIC_A=(--vhost-user "$SA")
		NIC_B=(--vhost-user "$SB")
	fi ;;
vale|pipe)
	VNMD=${TOOLS:-$HERE/../build/bin}/vnetmapd
	[ -x "$VNMD" ] || { echo "bench-pair: no $VNMD" >&2; exit 77; }
	if [ "$MODE" = pipe ] && ! "$VNMD" --help 2>&1 | grep -q -- 'netmap:X{N'; then
		echo "bench-pair: this vnetmapd cannot serve pipe ends" >&2; exit 77
	fi
	SA=$VM_TMP/a.sock SB=$VM_TMP/b.sock
	NIC_A=(--vhost-user "$SA" --server)
	NIC_B=(--vhost-user "$SB" --server) ;;
vale-tap)
	VNMD=${TOOLS:-$HERE/../build/bin}/vnetmapd
	VCTL=${TOOLS:-$HERE/../build/bin}/vale-ctl
	[ -x "$VNMD" ] && [ -x "$VCTL" ] || { echo "bench-pair: no $VNMD or $VCTL" >&2; exit 77; }
	"$VCTL" --help 2>&1 | grep -q 'af_packet' ||
		{ echo "bench-pair: this vale-ctl cannot attach host interfaces" >&2; exit 77; }
	[ -c /dev/net/tun ] || { echo "bench-pair: no /dev/net/tun" >&2; exit 77; }
	TA=vbta$$ TB=vbtb$$
	mkdir -p "$VM_TMP/run"
	"$VNMD" --dir "$VM_TMP/run" </dev/null >"$VM_TMP/vnetmapd.log" 2>&1 &
	HELPER_PID=$!
	NIC_A=(--tap "$TA" --model "$MODEL")
	NIC_B=(--tap "$TB" --model "$MODEL") ;;
vale-socket)
	VNMD=${TOOLS:-$HERE/../build/bin}/vnetmapd
	VCTL=${TOOLS:-$HERE/../build/bin}/vale-ctl
	[ -x "$VNMD" ] && [ -x "$VCTL" ] || { echo "bench-pair: no $VNMD or $VCTL" >&2; exit 77; }
	"$VCTL" --help 2>&1 | grep -q -- '--stream' ||
		{ echo "bench-pair: this vale-ctl has no socket ports (--stream)" >&2; exit 77; }
	SA=$VM_TMP/a.sock SB=$VM_TMP/b.sock
	mkdir -p "$VM_TMP/run"
	"$VNMD" --dir "$VM_TMP/run" </dev/null >"$VM_TMP/vnetmapd.log" 2>&1 &
	HELPER_PID=$!
	NIC_A=(--stream "$SA" --server --model "$MODEL")
	NIC_B=(--stream "$SB" --server --model "$MODEL") ;;
vhost-user)
	NIC_A=(--vhost-user "$SOCK_A" $SERVER)
	NIC_B=(--vhost-user "$SOCK_B" $SERVER) ;;
*) echo "bench-pair: unknown mode $MODE" >&2; exit 2 ;;
esac
vm_script "$VM_TMP/b.sh" bench-server.sh SERVE=$((T * 8 + 60))
vm_script "$VM_TMP/a.sh" bench-client.sh PEER=10.0.0.2 T="$T" TESTS="$TESTS"
export VM_TIMEOUT=$((T * 8 + 90))
vm_start b "$VM_TMP/b.sh" "${NIC_B[@]}" --mac $MAC_B --ip 10.0.0.2/24 --dev-opts "$DEVOPTS"
sleep 0.5
if [ "$MODE" = stream ]; then
	for _ in $(seq 100); do [ -S "$S" ] && break; sleep 0.1; done
fi
vm_start a "$VM_TMP/a.sh" "${NIC_A[@]}" --mac $MAC_A --ip 10.0.0.1/24 --dev-opts "$DEVOPTS"
if [ "$MODE" = vale ] || [ "$MODE" = pipe ]; then
	for _ in $(seq 100); do [ -S "$SA" ] && [ -S "$SB" ] && break; sleep 0.1; done
	mkdir -p "$VM_TMP/run"
	PA=vale0:a PB=vale0:b
	[ "$MODE" = pipe ] && PA='netmap:p{1' PB='netmap:p}1'
	"$VNMD" --dir "$VM_TMP/run" --vhost-user "$PA=$SA" --vhost-user "$PB=$SB" \
		</dev/null >"$VM_TMP/vnetmapd.log" 2>&1 &
	HELPER_PID=$!
fi
if [ "$MODE" = vale-tap ]; then
	# QEMU creates the TAPs; each goes up and onto vale0 once it exists
	for t in "$TA" "$TB"; do
		for _ in $(seq 200); do [ -e "/sys/class/net/$t" ] && break; sleep 0.1; done
		sysctl -qw "net.ipv6.conf.$t.disable_ipv6=1" 2>/dev/null
		ip link set "$t" up
		for _ in $(seq 50); do [ -S "$VM_TMP/run/vnetmapd.sock" ] && break; sleep 0.1; done
		"$VCTL" --dir "$VM_TMP/run" -a "vale0:$t" >>"$VM_TMP/vnetmapd.log" 2>&1 ||
			echo "bench-pair: vale-ctl -a vale0:$t failed" >&2
	done
fi
if [ "$MODE" = vale-socket ]; then
	# QEMU listens (QEMU 7.2's stream netdev cannot reconnect); vnetmapd connects
	for _ in $(seq 100); do [ -S "$SA" ] && [ -S "$SB" ] && break; sleep 0.1; done
	for _ in $(seq 50); do [ -S "$VM_TMP/run/vnetmapd.sock" ] && break; sleep 0.1; done
	for p in a b; do
		{ "$VCTL" --dir "$VM_TMP/run" -n "$p" --stream "$VM_TMP/$p.sock" &&
			"$VCTL" --dir "$VM_TMP/run" -a "vale0:$p"; } >>"$VM_TMP/vnetmapd.log" 2>&1 ||
			echo "bench-pair: socket port $p failed" >&2
	done
fi
if [ "$MODE" = testpmd ] && [ -n "$SERVER" ]; then
	for _ in $(seq 100); do [ -S "$SA" ] && [ -S "$SB" ] && break; sleep 0.1; done
	start_testpmd
fi
vm_wait "$VM_TIMEOUT" a b
rc=$?
stop_helper
line="$MODE"
for k in ping_avg_us iperf_mbps rr_tps rr_lat_us pingf_avg_us pingf_loss_pct pktgen_tx_pps pktgen_rx_pps; do
	line="$line $k=$(vm_result a $k)"
done
boot=$(sed -n -E 's/.*\(guest uptime ([0-9.]+) s\).*/\1/p' "$VM_TMP/a.run" | head -n 1)
accel=$(sed -n 's/^accel: //p' "$VM_TMP/a.run" | head -n 1)
echo "$line boot_s=$boot accel=$accel"
if [ $rc -ne 0 ]; then
	vm_show a >&2
	vm_show b >&2
	exit 1
fi
exit 0
