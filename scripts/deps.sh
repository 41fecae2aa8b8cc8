#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# scripts/deps.sh - install what `make demo` / `make experiment` need on a fresh Debian 12:
# the packages .ci/run lists plus gnuplot-nox (the chart). Only as root and only the missing
# ones; otherwise it names what is missing and carries on (rows or steps then say why).
PKGS="cmake gcc make pkg-config iproute2 procps psmisc clang libclang-rt-14-dev
	qemu-system-x86 busybox-static iperf3 sockperf qperf iputils-ping ethtool cpio xz-utils
	dpdk librte-net-vhost23 gnuplot-nox"
need=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
[ -n "$need" ] || exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
	echo "deps: missing packages:$need (not root or no apt-get: not installing)" >&2
	exit 0
fi
echo "deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null >&2 || exit 1
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need </dev/null >&2
