#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm/run-guest.sh [options] - boot one VM-lab guest with a script, wait, return its rc.
#
#   --image DIR          image from vm/build-image.sh (default $VNM_VM_IMAGE, else build/vm)
#   --script FILE        shell script run by the guest's /init (via -fw_cfg opt/vnm/run)
#   --log FILE           guest console (serial) log (default ./guest.log); QEMU's own
#                        messages go to FILE.qemu
#   --name NAME          QEMU -name (default: basename of the log)
#   NIC (at most one; none = no network):
#   --vhost-user SOCK [--server]   virtio-net on a vhost-user socket; QEMU is the client
#                        (reconnect=1) unless --server (QEMU listens, wait=off: the
#                        documented set-up for vnetmapd, which connects and reconnects);
#                        either way QEMU boots the guest only once the back-end is there
#   --tap IFNAME         QEMU user-space virtio/e1000 on a TAP (vhost=off, script=no);
#                        use --netns NS when the TAP lives in a network namespace
#   --stream PATH [--server]  -netdev stream over a UNIX socket
#   --dgram PATH [--dgram-local LPATH]  -netdev dgram: QEMU binds LPATH (default PATH.qemu)
#                        and sends to PATH (vale-ctl -n X --dgram PATH --peer LPATH)
#   --model virtio|e1000 front-end for --tap/--stream/--dgram (default virtio; vhost-user: virtio)
#   --mac MAC            (default 52:54:00:12:34:56)   --ip A.B.C.D/NN  guest eth0 address
#   --vectors N          virtio-net MSI-X vectors (default 0: needed under TCG with
#                        QEMU 7.2 for vhost-user; used for every virtio NIC so rows compare)
#   --dev-opts ,K=V,...  appended to the -device option of the NIC (offloads etc.)
#   --ivshmem FILE[:SIZE]  shared memory (memory-backend-file share=on + ivshmem-plain),
#                        SIZE in MiB (default 16); FILE is created under /dev/shm if relative
#   --ivshmem-doorbell SOCK[:VECTORS]  ivshmem-doorbell connected to an ivshmem server
#                        socket (vnetmapd's, vale-ctl --passthrough --doorbell); VECTORS 2
#   --netns NS           run QEMU under `ip netns exec NS`
#   --mem MIB (512)  --smp N (1)  --accel auto|tcg|kvm (auto: KVM only if a probe boot works)
#   --append "ARGS"      extra kernel command line (vnm.mods=pktgen, vnm.mtu=9000, ...)
#   --timeout SEC        kill QEMU when it outlives SEC (default 120); rc 124
#   --dry-run            print the command line and exit
#   --                   the rest goes to QEMU verbatim
#
# Prints "accel: tcg|kvm" and the exact QEMU command line (on stderr), then
# "guest: ready after S s, done after T s, rc N". Exit status: the guest script's rc
# (from the VNM-GUEST-DONE marker), 124 on timeout, 125 when the guest ended without a
# marker, 126 on a usage or image error.
set -u

usage() { sed -n '3,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 126; }
die() { echo "run-guest: $*" >&2; exit 126; }
HERE=$(cd "$(dirname "$0")" && pwd)

IMAGE=${VNM_VM_IMAGE:-$HERE/../build/vm}
SCRIPT= LOG=guest.log NAME= NIC= NICARG= SERVER=0 MODEL=virtio MAC=52:54:00:12:34:56
IPADDR= VECTORS=0 DEVOPTS= IVSHMEM= NETNS= MEM=512 SMP=1 ACCEL=${VNM_VM_ACCEL:-auto}
APPEND= TIMEOUT=120 DRY=0 IVSHMEM_DB= DGLOCAL=
EXTRA=()
while [ $# -gt 0 ]; do
	case $1 in
	--image) IMAGE=$2; shift ;;
	--script) SCRIPT=$2; shift ;;
	--log) LOG=$2; shift ;;
	--name) NAME=$2; shift ;;
	--dgram-local) DGLOCAL=$2; shift ;;
	--vhost-user|--tap|--stream|--dgram) [ -z "$NIC" ] || die "one NIC only"; NIC=${1#--}; NICARG=$2; shift ;;
	--server) SERVER=1 ;;
	--model) MODEL=$2; shift ;;
	--mac) MAC=$2; shift ;;
	--ip) IPADDR=$2; shift ;;
	--vectors) VECTORS=$2; shift ;;
	--dev-opts) DEVOPTS=$2; shift ;;
	--ivshmem) IVSHMEM=$2; shift ;;
	--ivshmem-doorbell) IVSHMEM_DB=$2; shift ;;
	--netns) NETNS=$2; shift ;;
	--mem) MEM=$2; shift ;;
	--smp) SMP=$2; shift ;;
	--accel) ACCEL=$2; shift ;;
	--append) APPEND=$2; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	--dry-run) DRY=1 ;;
	-h|--help) usage ;;
	--) shift; EXTRA=("$@"); break ;;
	*) die "unknown option $1 (--help)" ;;
	esac
	shift
done

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install qemu-system-x86)"
[ -d "$IMAGE" ] || die "no image directory $IMAGE (vm/build-image.sh DIR)"
IMAGE=$(cd "$IMAGE" && pwd)
KERNEL=$IMAGE/vmlinux
[ -s "$KERNEL" ] || KERNEL=$IMAGE/vmlinuz
[ -s "$KERNEL" ] && [ -s "$IMAGE/initrd.gz" ] || die "incomplete image in $IMAGE"
[ -z "$SCRIPT" ] || [ -r "$SCRIPT" ] || die "no script $SCRIPT"
[ -n "$NAME" ] || NAME=$(basename "$LOG" .log)

# ---- accelerator: KVM only when a probe guest really boots under it (cached per host) ----
kvm_probe() {
	local key res f=$IMAGE/kvm-probe
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	key="$(uname -r) $($QEMU --version | head -n 1) $(cat "$IMAGE/kernel.txt" 2>/dev/null)"
	if [ -f "$f" ] && [ "$(sed -n 1p "$f")" = "$key" ]; then
		[ "$(sed -n 2p "$f")" = yes ]
		return
	fi
	local d s
	d=$(mktemp -d)
	s=$d/probe.sh
	echo 'echo probe-ok' >"$s"
	res=no
	(timeout -k 2 20 "$QEMU" -accel kvm -cpu max -nodefaults -no-reboot -display none -m 256 \
		-kernel "$KERNEL" -initrd "$IMAGE/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
		-serial "file:$d/log" -fw_cfg "name=opt/vnm/run,file=$s" </dev/null) >/dev/null 2>&1
	grep -q '^VNM-GUEST-DONE rc=0' "$d/log" 2>/dev/null && res=yes
	rm -rf "$d"
	printf '%s\n%s\n' "$key" "$res" >"$f" 2>/dev/null
	[ $res = yes ]
}
case $ACCEL in
auto) if kvm_probe; then ACCEL=kvm; else ACCEL=tcg; fi ;;
tcg|kvm) ;;
*) die "--accel auto|tcg|kvm" ;;
esac
if [ "$ACCEL" = kvm ]; then
	ACCEL_OPTS=(-accel kvm -cpu max)
else
	ACCEL_OPTS=(-accel tcg,thread=multi,tb-size=256 -cpu max)
fi

# ---- command line --------------------------------------------------------------------------
KAPPEND="console=ttyS0 quiet panic=-1 mitigations=off"
[ -n "$IPADDR" ] && KAPPEND="$KAPPEND vnm.ip=$IPADDR"
[ -n "$APPEND" ] && KAPPEND="$KAPPEND $APPEND"
CMD=()
[ -n "$NETNS" ] && CMD=(ip netns exec "$NETNS")
CMD+=("$QEMU" -name "$NAME" "${ACCEL_OPTS[@]}" -nodefaults -no-user-config -machine pc
	-smp "$SMP" -m "$MEM"
	-object "memory-backend-memfd,id=mem,size=${MEM}M,share=on" -numa node,memdev=mem
	-no-reboot -display none -serial "file:$LOG"
	-kernel "$KERNEL" -initrd "$IMAGE/initrd.gz" -append "$KAPPEND")
[ -n "$SCRIPT" ] && CMD+=(-fw_cfg "name=opt/vnm/run,file=$SCRIPT")

vdev() { # virtio-net-pci or e1000 device option for netdev n0
	case $MODEL in
	virtio) echo "virtio-net-pci,netdev=n0,mac=$MAC,vectors=$VECTORS,mrg_rxbuf=on$DEVOPTS" ;;
	e1000) echo "e1000,netdev=n0,mac=$MAC$DEVOPTS" ;;
	*) die "--model virtio|e1000" ;;
	esac
}
case $NIC in
vhost-user)
	[ "$MODEL" = virtio ] || die "vhost-user needs --model virtio"
	if [ $SERVER -eq 1 ]; then
		CMD+=(-chardev "socket,id=c0,path=$NICARG,server=on,wait=off")
	else
		CMD+=(-chardev "socket,id=c0,path=$NICARG,reconnect=1")
	fi
	CMD+=(-netdev vhost-user,id=n0,chardev=c0 -device "$(vdev)") ;;
tap)
	CMD+=(-netdev "tap,id=n0,ifname=$NICARG,script=no,downscript=no,vhost=off" -device "$(vdev)") ;;
stream)
	if [ $SERVER -eq 1 ]; then
		CMD+=(-netdev "stream,id=n0,server=on,addr.type=unix,addr.path=$NICARG")
	else
		# QEMU 7.2's stream netdev has no reconnect: the server must be listening already
		CMD+=(-netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$NICARG")
	fi
	CMD+=(-device "$(vdev)") ;;
dgram)
	CMD+=(-netdev "dgram,id=n0,local.type=unix,local.path=${DGLOCAL:-$NICARG.qemu},remote.type=unix,remote.path=$NICARG"
		-device "$(vdev)") ;;
esac
if [ -n "$IVSHMEM" ]; then
	f=${IVSHMEM%%:*} sz=16
	[ "$f" != "$IVSHMEM" ] && sz=${IVSHMEM#*:}
	case $f in /*) ;; *) f=/dev/shm/$f ;; esac
	CMD+=(-object "memory-backend-file,id=shm0,share=on,mem-path=$f,size=${sz}M"
		-device ivshmem-plain,memdev=shm0)
fi
if [ -n "$IVSHMEM_DB" ]; then
	f=${IVSHMEM_DB%%:*} nv=2
	[ "$f" != "$IVSHMEM_DB" ] && nv=${IVSHMEM_DB#*:}
	CMD+=(-chardev "socket,id=ivsdb0,path=$f" -device "ivshmem-doorbell,chardev=ivsdb0,vectors=$nv")
fi
CMD+=("${EXTRA[@]}")

echo "accel: $ACCEL" >&2
printf '%q ' "${CMD[@]}" | sed 's/ $/\n/' >&2
[ $DRY -eq 1 ] && exit 0

# ---- run, bounded ------------------------------------------------------------------------
: >"$LOG"
QPID=
stop_qemu() {
	[ -n "$QPID" ] || return 0
	kill -TERM "$QPID" 2>/dev/null
	local i=0
	while kill -0 "$QPID" 2>/dev/null && [ $i -lt 20 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$QPID" 2>/dev/null
	wait "$QPID" 2>/dev/null
	QPID=
}
trap 'stop_qemu; exit 143' TERM
trap 'stop_qemu; exit 130' INT
trap 'stop_qemu' EXIT
t0=$(date +%s.%N)
"${CMD[@]}" </dev/null >"$LOG.qemu" 2>&1 &
QPID=$!
tready= rc=
deadline=$(( $(date +%s) + TIMEOUT ))
while kill -0 "$QPID" 2>/dev/null; do
	if [ -z "$tready" ] && grep -q '^VNM-GUEST-READY' "$LOG" 2>/dev/null; then
		tready=$(date +%s.%N)
	fi
	if [ "$(date +%s)" -ge $deadline ]; then
		echo "run-guest: $NAME: timeout after ${TIMEOUT}s, killing QEMU" >&2
		stop_qemu
		rc=124
		break
	fi
	sleep 0.05
done
if [ -n "$QPID" ]; then
	wait "$QPID"
	qrc=$?
	QPID=
fi
t1=$(date +%s.%N)
el() { awk -v a="$t0" -v b="$1" 'BEGIN { printf "%.1f", b - a }'; }
if [ -z "$rc" ]; then
	rc=$(sed -n -E 's/^VNM-GUEST-DONE rc=([0-9]+).*/\1/p' "$LOG" | tail -n 1)
	if [ -z "$rc" ]; then
		echo "run-guest: $NAME: QEMU exited ${qrc:-?} without the guest's marker" >&2
		[ -s "$LOG.qemu" ] && sed 's/^/  qemu: /' "$LOG.qemu" >&2
		tail -n 5 "$LOG" | sed 's/^/  guest: /' >&2
		rc=125
	fi
fi
# boot-to-script: host wall time since QEMU started (when the poll saw it) and guest uptime
tr=?
[ -n "$tready" ] && tr=$(el "$tready")
up=$(sed -n -E 's/^VNM-GUEST-READY uptime=([0-9.]+).*/\1/p' "$LOG" | head -n 1)
echo "guest $NAME: ready after $tr s (guest uptime ${up:-?} s), done after $(el "$t1") s, rc $rc" >&2
exit "$rc"
