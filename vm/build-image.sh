#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm/build-image.sh OUT_DIR [TOOLS_BIN_DIR] - build the VM-lab guest from Debian packages.
#
# Output (OUT_DIR):
#   vmlinux       uncompressed kernel (PVH ELF, boots ~3 s faster under TCG than the bzImage)
#   vmlinuz       the Debian bzImage (fallback)
#   initrd.gz     busybox-static initramfs: /init (vm/guest/init), /vnm/lib.sh, modules,
#                 iperf3, sockperf, qperf, iputils ping, ethtool, the project's tools
#   kernel.txt    "PACKAGE VERSION KVER" of the kernel used
#   tools.txt     the programs in the image, one per line (tests check it before relying on one)
#   manifest      everything the image was made from (checksums); unchanged -> nothing rebuilt
#
# Kernel: the generic linux-image-6.1.0-*-amd64 that `apt-cache depends linux-image-amd64`
# names, fetched with `apt-get download` (never installed on the host) into
# $VNM_VM_CACHE (default ~/.cache/vnetmap-vm), unpacked with dpkg-deb -x, depmod'ed.
# TOOLS_BIN_DIR (default OUT_DIR/../bin) holds pkt-gen, vale-ctl, bridge, vnetmapd.
#
# Environment: VNM_VM_CACHE, VNM_VM_KERNEL_PKG (force a kernel package name),
# VNM_VM_MODULES (extra module names), VNM_VM_TOOLS (extra host programs to copy).
# Exit status: 0 image ready, 1 error. Needs: apt, dpkg-deb, cpio, gzip, busybox,
# xz (for vmlinux; without it only vmlinuz is produced).
set -euo pipefail
export LC_ALL=C

die() { echo "build-image: $*" >&2; exit 1; }
note() { echo "build-image: $*" >&2; }

[ $# -ge 1 ] || die "usage: $0 OUT_DIR [TOOLS_BIN_DIR]"
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
TOOLS_BIN=${2:-$OUT/../bin}
[ -d "$TOOLS_BIN" ] && TOOLS_BIN=$(cd "$TOOLS_BIN" && pwd)
CACHE=${VNM_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/vnetmap-vm}
mkdir -p "$CACHE"

for t in dpkg-deb cpio gzip apt-get apt-cache; do
	command -v "$t" >/dev/null || die "$t not found"
done
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
DEPMOD=$(command -v depmod || true)

# serialize concurrent builds into the same OUT_DIR; downloads into the cache take its lock
exec 9>"$OUT/.lock"
flock 9 2>/dev/null || true

# ---- 1. which kernel package -------------------------------------------------------------
apt_updated=0
apt_update_once() {
	[ $apt_updated -eq 0 ] || return 1
	apt_updated=1
	[ "$(id -u)" -eq 0 ] || return 1
	note "apt-get update (package lists missing or stale)"
	apt-get update -q </dev/null >&2 || return 1
}
kernel_pkg() {
	if [ -n "${VNM_VM_KERNEL_PKG:-}" ]; then
		echo "$VNM_VM_KERNEL_PKG"
		return 0
	fi
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n -E 's/^ *Depends: (linux-image-6\.1\.0-[0-9]+-amd64)$/\1/p' | head -n 1
}
pkg_version() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}
# the answer of the last build stands while apt's package lists have not changed since
KPKG= KVERS=
if [ -z "${VNM_VM_KERNEL_PKG:-}" ] && [ -f "$OUT/kernel.txt" ] && [ -d /var/lib/apt/lists ] &&
	[ "$OUT/kernel.txt" -nt /var/lib/apt/lists ]; then
	read -r KPKG KVERS _ <"$OUT/kernel.txt" || true
	[ -s "$CACHE/${KPKG}_${KVERS//:/%3a}_amd64.deb" ] || KPKG= KVERS=
fi
if [ -z "$KPKG" ]; then
	KPKG=$(kernel_pkg || true)
	[ -n "$KPKG" ] || { apt_update_once && KPKG=$(kernel_pkg || true); } || true
	[ -n "$KPKG" ] && KVERS=$(pkg_version "$KPKG")
fi
DEB=
if [ -n "$KPKG" ] && [ -n "$KVERS" ]; then
	DEB=$CACHE/${KPKG}_${KVERS//:/%3a}_amd64.deb
	exec 8>"$CACHE/.lock"
	flock 8 2>/dev/null || true
	if [ ! -s "$DEB" ]; then
		note "downloading $KPKG $KVERS"
		tmpd=$(mktemp -d "$CACHE/dl.XXXXXX")
		if ! (cd "$tmpd" && apt-get -o APT::Sandbox::User=root download "$KPKG=$KVERS" </dev/null >&2); then
			apt_update_once && (cd "$tmpd" && apt-get -o APT::Sandbox::User=root download "$KPKG" </dev/null >&2) || true
		fi
		f=$(ls "$tmpd"/*.deb 2>/dev/null | head -n 1 || true)
		if [ -n "$f" ]; then
			mv "$f" "$DEB"
		else
			DEB=
		fi
		rm -rf "$tmpd"
	fi
	exec 8>&-
fi
if [ -z "$DEB" ]; then
	# offline: the newest kernel already in the cache
	DEB=$(ls -t "$CACHE"/linux-image-6.1.0-*-amd64_*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$DEB" ] || die "no kernel package: apt-cache depends linux-image-amd64 named none and the cache is empty"
	note "offline: using cached $(basename "$DEB")"
fi
KPKG=$(dpkg-deb -f "$DEB" Package)
KVERS=$(dpkg-deb -f "$DEB" Version)
KREL=${KPKG#linux-image-}

# ---- 2. what goes in the image -----------------------------------------------------------
MODULES="virtio_pci virtio_net net_failover failover e1000 qemu_fw_cfg pktgen vfio-pci
	vfio_iommu_type1 uio uio_pci_generic ${VNM_VM_MODULES:-}"
HOST_TOOLS="iperf3 sockperf qperf ping ethtool ${VNM_VM_TOOLS:-}"
PROJECT_TOOLS="pkt-gen vale-ctl bridge vnetmapd"

# host program path: /usr/bin/ping is iputils (never busybox's applet)
host_tool() {
	local t=$1 d
	for d in /usr/bin /usr/sbin /bin /sbin /usr/local/bin; do
		[ -x "$d/$t" ] || continue
		[ "$(basename "$(readlink -f "$d/$t")")" = busybox ] && continue
		echo "$d/$t"
		return 0
	done
	return 1
}
# shared libraries of a program, resolved paths, one per line
libs_of() {
	ldd "$1" 2>/dev/null | sed -n -E 's/^.*=> (\/[^ ]+) .*$/\1/p; s/^[[:space:]]*(\/[^ ]+) \(0x.*$/\1/p'
}

declare -a BINS=()      # "host_path guest_path"
declare -a LIBS=()
have_tools=()
for t in $HOST_TOOLS; do
	p=$(host_tool "$t") || { note "warning: $t not on the host, not in the image"; continue; }
	case $t in
	ping) g=/usr/bin/ping ;;
	*) g=/usr/bin/$t ;;
	esac
	[ "${p#/usr/sbin/}" != "$p" ] && g=/usr/sbin/$t
	BINS+=("$p $g")
	have_tools+=("$t")
done
if [ -d "$TOOLS_BIN" ]; then
	for t in $PROJECT_TOOLS; do
		[ -x "$TOOLS_BIN/$t" ] || { note "warning: $TOOLS_BIN/$t not built, not in the image"; continue; }
		BINS+=("$TOOLS_BIN/$t /usr/bin/$t")
		have_tools+=("$t")
	done
else
	note "warning: no tools directory $TOOLS_BIN: the project's tools are not in the image"
fi
for b in "$BUSYBOX" "${BINS[@]}"; do
	while read -r l; do
		[ -n "$l" ] && LIBS+=("$l")
	done < <(libs_of "${b%% *}")
done
mapfile -t LIBS < <(printf '%s\n' "${LIBS[@]}" | sort -u)

# ---- 3. up to date? ----------------------------------------------------------------------
manifest() {
	echo "kernel $KPKG $KVERS"
	echo "modules $(echo $MODULES)"
	sha256sum "$HERE/$(basename "$0")" "$HERE/guest/init" "$HERE/guest/lib.sh" "$BUSYBOX" | sed "s#$HERE/##"
	local b
	for b in "${BINS[@]}"; do
		echo "bin $(sha256sum "${b%% *}" | cut -d' ' -f1) $b"
	done
	for b in "${LIBS[@]}"; do
		[ -n "$b" ] && echo "lib $(sha256sum "$b" | cut -d' ' -f1) $b"
	done
}
NEWMAN=$(manifest)
if [ -s "$OUT/initrd.gz" ] && [ -s "$OUT/vmlinuz" ] && [ -f "$OUT/manifest" ] &&
	[ "$NEWMAN" = "$(cat "$OUT/manifest")" ]; then
	note "up to date: $OUT ($KPKG $KVERS)"
	exit 0
fi
t0=$(date +%s.%N)

# ---- 4. kernel: unpack, depmod, vmlinux --------------------------------------------------
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
KSTAMP="$KPKG $KVERS $KREL"
if [ "$(cat "$OUT/kernel.txt" 2>/dev/null)" != "$KSTAMP" ] || [ ! -s "$OUT/vmlinuz" ] ||
	[ ! -d "$OUT/modules/lib/modules/$KREL" ]; then
	note "unpacking $(basename "$DEB")"
	dpkg-deb -x "$DEB" "$WORK/k"
	[ -f "$WORK/k/boot/vmlinuz-$KREL" ] || die "no boot/vmlinuz-$KREL in $DEB"
	MD=$WORK/k/lib/modules/$KREL
	[ -d "$MD" ] || MD=$WORK/k/usr/lib/modules/$KREL
	[ -d "$MD" ] || die "no modules directory for $KREL in $DEB"
	if [ -n "$DEPMOD" ]; then
		"$DEPMOD" -b "$WORK/k" "$KREL"
	else
		"$BUSYBOX" depmod -b "$WORK/k" "$KREL"
	fi
	# the module closure, dependencies first (modules.dep lists them)
	rm -rf "$OUT/modules"
	mkdir -p "$OUT/modules/lib/modules/$KREL"
	declare -A seen=()
	add_mod() {
		local name=$1 line path deps d
		line=$(grep -E "(^|/)(${name}|${name//_/-}|${name//-/_})\.ko(\.[a-z]+)?:" "$MD/modules.dep" | head -n 1) || {
			grep -qE "/(${name}|${name//-/_})\.ko" "$MD/modules.builtin" 2>/dev/null ||
				note "warning: module $name not in $KPKG"
			return 0
		}
		path=${line%%:*}
		deps=${line#*:}
		[ -n "${seen[$path]:-}" ] && return 0
		seen[$path]=1
		for d in $deps; do
			add_mod "$(basename "${d%%.ko*}")"
		done
		mkdir -p "$OUT/modules/lib/modules/$KREL/$(dirname "$path")"
		cp "$MD/$path" "$OUT/modules/lib/modules/$KREL/$path"
	}
	for m in $MODULES; do
		add_mod "$m"
	done
	cp "$MD/modules.builtin" "$MD/modules.order" "$OUT/modules/lib/modules/$KREL/" 2>/dev/null || true
	"$BUSYBOX" depmod -b "$OUT/modules" "$KREL"
	cp "$WORK/k/boot/vmlinuz-$KREL" "$OUT/vmlinuz"
	cp "$WORK/k/boot/config-$KREL" "$OUT/config"
	# vmlinux: the bzImage payload is an xz (or gzip/zstd) stream: try each magic in turn
	# until one decompresses to an ELF file (scripts/extract-vmlinux's idea, our code)
	rm -f "$OUT/vmlinux"
	try_payload() { # MAGIC_REGEX DECOMPRESSOR...
		local magic=$1 off
		shift
		command -v "$1" >/dev/null || return 1
		for off in $(grep -obUaP "$magic" "$OUT/vmlinuz" | cut -d: -f1 | head -n 5); do
			tail -c +$((off + 1)) "$OUT/vmlinuz" | "$@" >"$WORK/vmlinux" 2>/dev/null || true
			if [ "$(head -c 4 "$WORK/vmlinux" | od -An -c | tr -d ' \n')" = '177ELF' ]; then
				mv "$WORK/vmlinux" "$OUT/vmlinux"
				return 0
			fi
		done
		return 1
	}
	try_payload '\xfd7zXZ\x00' xz -dc ||
		try_payload '\x28\xb5\x2f\xfd' zstd -dc ||
		try_payload '\x1f\x8b\x08' gzip -dc ||
		note "warning: no uncompressed vmlinux (xz/zstd/gzip missing?): guests boot the bzImage"
	echo "$KSTAMP" >"$OUT/kernel.txt"
fi

# ---- 5. initramfs ------------------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root,vnm,mnt}
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do
	[ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
done
for b in "${BINS[@]}"; do
	install -D -m 0755 "${b%% *}" "$R${b#* }"
done
for l in "${LIBS[@]}"; do
	[ -n "$l" ] || continue
	mkdir -p "$R$(dirname "$l")"
	cp -L "$l" "$R$l"
done
cp -a "$OUT/modules/lib/modules" "$R/lib/"
install -m 0755 "$HERE/guest/init" "$R/init"
install -m 0644 "$HERE/guest/lib.sh" "$R/vnm/lib.sh"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
printf '127.0.0.1 localhost\n' >"$R/etc/hosts"
printf '%s\n' "${have_tools[@]}" >"$R/vnm/tools.txt"
(cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) |
	gzip -6 -n >"$WORK/initrd.gz"
mv "$WORK/initrd.gz" "$OUT/initrd.gz"
printf '%s\n' "${have_tools[@]}" >"$OUT/tools.txt"
echo "$NEWMAN" >"$OUT/manifest"
t1=$(date +%s.%N)
note "built $OUT: $KPKG $KVERS, initrd $(du -k "$OUT/initrd.gz" | cut -f1) KiB," \
	"vmlinux $([ -f "$OUT/vmlinux" ] && echo yes || echo no), tools: ${have_tools[*]}" \
	"($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
