#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# scripts/demo.sh [BUILD_DIR] - `make demo`: two QEMU guests on vnetmapd's VALE switch vale0
# through vhost-user, shown working in about a minute (TCG):
#   vnetmapd starts; guest b serves iperf3 and a control port; guest a pings b, runs a 3 s
#   iperf3 and 3 s of the guest kernel's pktgen (60-byte UDP frames to b, counted at b's
#   eth0 rx_packets); meanwhile `vale-ctl --stats` is shown every second and guest a's
#   console as it comes. Then everything is torn down (also on Ctrl-C or a failure).
# `make demo` first installs missing packages (scripts/deps.sh, as root) and builds.
# Exit status: 0 when every step worked, 1 otherwise.
# Environment: DEMO_SECS (iperf3 and pktgen seconds, default 3), VNM_VM_ACCEL (auto|tcg|kvm).
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ARG=${1:-$SRC/build}
SECS=${DEMO_SECS:-3}
T0=$(date +%s)
N=0
step() { N=$((N + 1)); printf '\n== [%d] %s  (t=%ds)\n' "$N" "$*" "$(( $(date +%s) - T0 ))"; }
die() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }

step "build (make)"
if [ ! -x "$BUILD_ARG/bin/vnetmapd" ] || [ ! -x "$BUILD_ARG/bin/vale-ctl" ]; then
	make -C "$SRC" --no-print-directory BUILD="$BUILD_ARG" build || die "make failed"
fi
for b in vnetmapd vale-ctl; do
	[ -x "$BUILD_ARG/bin/$b" ] || die "$BUILD_ARG/bin/$b missing after the build"
done
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (run as root: scripts/deps.sh)"
echo "vnetmapd, vale-ctl, pkt-gen in $BUILD_ARG/bin"

# tests/lib.sh: TMPD, start_daemon, vctl, and vnm_cleanup (kills vnetmapd and helpers);
# vm/lib.sh: guests, killed at exit (its trap runs vnm_cleanup afterwards)
. "$SRC/tests/lib.sh"
skip() { die "$*"; }
vnm_init "$BUILD_ARG"
. "$SRC/vm/lib.sh"

step "guest image (kernel + initramfs from Debian packages; cached after the first time)"
vm_init "$BUILD/vm" "$BIN" || die "guest image cannot be built ($VM_TMP/build-image.log)"
echo "image: $VM_IMAGE"
vm_have iperf3 ping || die "the image lacks iperf3 or iputils ping"

step "boot two guests (1 vCPU, 512 MiB, virtio-net on vhost-user sockets, QEMU the server)"
SA=$TMPD/a.sock SB=$TMPD/b.sock
vm_script "$VM_TMP/b.sh" bench-server.sh SERVE=100
vm_script "$VM_TMP/a.sh" bench-client.sh PEER=10.0.0.2 T="$SECS" TESTS="ping iperf pktgen"
export VM_TIMEOUT=110
vm_start b "$VM_TMP/b.sh" --vhost-user "$SB" --server --mac 52:54:00:00:00:02 --ip 10.0.0.2/24
vm_start a "$VM_TMP/a.sh" --vhost-user "$SA" --server --mac 52:54:00:00:00:01 --ip 10.0.0.1/24
sockets() { [ -S "$SA" ] && [ -S "$SB" ]; }
wait_until 20 sockets || { vm_show a; die "QEMU did not create its vhost-user sockets"; }
echo "guest a: 10.0.0.1 on $SA"
echo "guest b: 10.0.0.2 on $SB"

step "start vnetmapd: vale0:a and vale0:b served as vhost-user (vnetmapd connects to QEMU)"
start_daemon --vhost-user "vale0:a=$SA" --vhost-user "vale0:b=$SB"
echo "vnetmapd pid $DAEMON_PID, VNETMAP_DIR=$VNETMAP_DIR"
connected() { vctl -g vale0:a 2>/dev/null | grep -q 'front-end connected' &&
	vctl -g vale0:b 2>/dev/null | grep -q 'front-end connected'; }
wait_until 30 connected || echo "(vale-ctl -g does not say 'front-end connected' yet)"
vctl -l vale0 | sed 's/^/  /'

step "guests at work: ping, iperf3 ${SECS} s, kernel pktgen ${SECS} s; vale-ctl --stats every second"
LOG_A=$(vm_log a)
shown=0
pa=${VM_PID[a]}
i=0
while kill -0 "$pa" 2>/dev/null && [ $i -lt 110 ]; do
	sleep 1
	i=$((i + 1))
	# guest a's console lines since last time (results and test output; not the boot chatter)
	if [ -f "$LOG_A" ]; then
		total=$(wc -l <"$LOG_A")
		if [ "$total" -gt "$shown" ]; then
			tail -n +"$((shown + 1))" "$LOG_A" | head -n "$((total - shown))" | tr -d '\r' |
				grep -E 'bench-client|VNM-|packets transmitted|rtt|sender|receiver|pps|Mb/s|sec ' |
				grep -v '^\[' | sed 's/^/  guest a | /'
			shown=$total
		fi
	fi
	echo "  -- t=$(( $(date +%s) - T0 ))s  vale-ctl --stats"
	vctl --stats 2>&1 | sed 's/^/     /'
done

step "results"
vm_wait 30 a b
rc_a=${VM_RC[a]:-?} rc_b=${VM_RC[b]:-?}
accel=$(sed -n 's/^accel: //p' "$VM_TMP/a.run" | head -n 1)
ping=$(vm_result a ping_avg_us)
mbps=$(vm_result a iperf_mbps)
tx=$(vm_result a pktgen_tx_pps)
rx=$(vm_result a pktgen_rx_pps)
echo "accelerator:        ${accel:-?}"
echo "ping (20 x 0.2 s):  avg ${ping:-?} us"
echo "iperf3 ${SECS} s:        ${mbps:-?} Mbit/s"
echo "kernel pktgen 60 B: a sent ${tx:-?} pps, b received ${rx:-?} pps"
echo "final counters:"
vctl --stats 2>&1 | sed 's/^/  /'
ok=1
[ "$rc_a" = 0 ] || { echo "guest a: rc $rc_a"; ok=0; }
[ "$rc_b" = 0 ] || { echo "guest b: rc $rc_b"; ok=0; }
[ -n "$ping" ] || { echo "no ping result"; ok=0; }
[ -n "$mbps" ] || { echo "no iperf3 result"; ok=0; }
[ -n "$rx" ] && [ "$rx" != 0 ] || { echo "no pktgen frame arrived"; ok=0; }
if [ $ok -ne 1 ]; then
	vm_show a
	vm_show b
	echo "---- vnetmapd log"
	tail -n 20 "$TMPD/vnetmapd.log"
	die "see above"
fi

step "clean up (guests, vnetmapd, sockets)"
echo "demo: OK in $(( $(date +%s) - T0 )) s"
exit 0
