#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/pt.sh BUILD_DIR - passthrough rows of the VM benchmark (docs/PASSTHROUGH.md): a
# TCG guest runs pkt-gen in guest mode on an exported port, a host pkt-gen on the other
# side. Rows (60-byte frames; median of RUNS runs, all in one boot per row):
#   pt+VALE tx     guest pkt-gen tx on vale0:g (lossless) -> host pkt-gen rx on vale0:h
#   pt+pipe tx     guest pkt-gen tx on netmap:bp{1        -> host pkt-gen rx on netmap:bp}1
#   pt+pipe RTT    guest pkt-gen ping on netmap:bq{1      <- host pkt-gen pong on netmap:bq}1
#   pt+VALE RTT    guest pkt-gen ping on vale0:gp          <- host pkt-gen pong on vale0:hp
# Mpps is the guest sender's (lossless: what was sent was delivered). Each row in
# MODES (default "doorbell plain"): ivshmem-doorbell or ivshmem-plain.
# Output: "pt <row> <mode>: <median> Mpps|us (runs: a b c)" lines, then a markdown table.
# Environment: RUNS (3), N (frames per tx run, 2000000), PINGS (20000), MODES.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
N=${N:-2000000}
PINGS=${PINGS:-20000}
MODES=${MODES:-doorbell plain}
BUILD_ARG=${1:-build}
. "$SRC/tests/lib.sh"
skip() { printf 'bench/pt: %s\n' "$*" >&2; exit 1; }
vnm_init "$BUILD_ARG"
require_bin vnetmapd pkt-gen vale-ctl
. "$SRC/vm/lib.sh"
vm_init "$BUILD/vm" "$BIN" || skip "no QEMU or guest image"
start_daemon

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
TABLE=()

# row NAME MODE GUEST-PORT HOST-PORT HOST-MODE GUEST-PG KEY(mpps|rtt)
row() {
	local name=$1 mode=$2 gport=$3 hport=$4 hmode=$5 pg=$6 key=$7 q opts flag= tag
	tag=$(echo "$name-$mode" | tr -c 'A-Za-z0-9\n' '_')
	[ "$mode" = doorbell ] && flag=--doorbell
	q=$(vctl --passthrough "$gport" $flag) || { log "$name $mode: export failed"; return; }
	if [ "$mode" = doorbell ]; then
		opts="--ivshmem-doorbell $(echo "$q" | sed -E 's/.*path=([^ ]*).*/\1/')"
	else
		local mem size
		mem=$(echo "$q" | sed -E 's/.*mem-path=([^,]*),.*/\1/')
		size=$(echo "$q" | sed -E 's/.*size=([0-9]+).*/\1/')
		opts="--ivshmem $mem:$((size / 1048576))"
	fi
	bg "h-$tag" "$BIN/pkt-gen" -i "$hport" -f "$hmode"
	local hp=$BG_PID
	sleep 0.3
	vm_script "$VM_TMP/$tag.sh" pt-bench.sh PORT="$gport" PG="$pg" REPEAT="$RUNS"
	# shellcheck disable=SC2086
	vm_start "$tag" "$VM_TMP/$tag.sh" $opts
	vm_wait 300 "$tag" || log "$name $mode: guest rc ${VM_RC[$tag]}"
	kill -INT "$hp" 2>/dev/null
	wait_pid "$hp" 5 >/dev/null
	local vals=() v i unit
	for i in $(seq "$RUNS"); do
		v=$(vm_result "$tag" "${key}_$i")
		[ -n "$v" ] && vals+=("$v")
	done
	if [ "$key" = rtt ]; then
		unit=us
		v=$(printf '%s\n' "${vals[@]}" | awk '{ print $1 / 1000 }' | median)
		vals=($(printf '%s\n' "${vals[@]}" | awk '{ printf "%.1f\n", $1 / 1000 }'))
	else
		unit=Mpps
		v=$(printf '%s\n' "${vals[@]}" | median)
	fi
	echo "pt $name $mode: $v $unit (runs: ${vals[*]})"
	TABLE+=("| $name | $mode | $v $unit | ${vals[*]} |")
	vctl --passthrough-remove "$gport" >/dev/null 2>&1
}

for m in $MODES; do
	row "pt+VALE tx 60B" "$m" "vale0:g$m@conf:lossless=1" "vale0:h$m" rx "-f tx -n $N" mpps
	row "pt+pipe tx 60B" "$m" "netmap:bp$m{1" "netmap:bp$m}1" rx "-f tx -n $N" mpps
	row "pt+pipe ping/pong RTT" "$m" "netmap:bq$m{1" "netmap:bq$m}1" pong "-f ping -n $PINGS" rtt
	row "pt+VALE ping/pong RTT" "$m" "vale0:gp$m" "vale0:hp$m" pong "-f ping -n $PINGS" rtt
done
echo
echo "| row | ivshmem | median | runs |"
echo "|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
echo
echo "accelerator: $(grep -h '^accel' "$VM_TMP"/*.run 2>/dev/null | sed 's/^accel: //' | sort -u | tr '\n' ' ')"
