#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/run.sh BUILD_DIR - `make bench`: throughput of vnetmap's pipes and VALE switch
# next to the machine's own limit and Linux's comparable path. Not part of the tests.
#
#   pipe 1->1        pkt-gen tx on netmap:bp{1  -> pkt-gen rx on netmap:bp}1
#   VALE 1->1        pkt-gen tx on vale0:a      -> pkt-gen rx on vale0:b
#   VALE 2->1        pkt-gen tx on vale0:a1 and vale0:a2 -> pkt-gen rx on vale0:b
#   bare ring        bench_bare_ring: two threads, SPSC ring of 16-byte slots, batch 512
#                    (60: descriptors only; 1514: the consumer reads 1514 bytes per slot)
#   AF_PACKET veth   bench_afpacket on a veth pair in a namespace made here
#                    (PACKET_MMAP TX ring + TPACKET_V3 RX ring)
#   DPDK testpmd     only when dpdk-testpmd is installed
# Frames of 60 and 1514 bytes; every figure is the median of RUNS runs of SECS seconds,
# measured at the receiver (steady-state report lines of pkt-gen, first and last dropped).
#
# Environment: SECS (default 3), RUNS (default 3), SIZES (default "60 1514").
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECS:-3}
RUNS=${RUNS:-3}
SIZES=${SIZES:-60 1514}
BUILD_ARG=${1:-build}
for b in vnetmapd pkt-gen bench_bare_ring bench_afpacket; do
	if [ ! -x "$BUILD_ARG/bin/$b" ]; then
		echo "bench: $BUILD_ARG/bin/$b is missing: build first (make)" >&2
		exit 1
	fi
done

# shellcheck source=../tests/lib.sh
. "$SRC/tests/lib.sh"
skip() { printf 'bench: %s\n' "$*" >&2; exit 1; }
vnm_init "$BUILD_ARG"
NS=vnmbench$$
trap 'rc=$?; ip netns del "$NS" 2>/dev/null; (exit $rc); vnm_cleanup' EXIT
start_daemon

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Mean "pps bps" of pkt-gen's report lines in LOG, without the first and the last.
pg_rate() {
	awk '
	function mult(u) { return u ~ /^K/ ? 1e3 : u ~ /^M/ ? 1e6 : u ~ /^G/ ? 1e9 : u ~ /^T/ ? 1e12 : 1 }
	$2 ~ /^[KMGT]?pps$/ && $3 ~ /^\(/ {
		pps = $1 * mult($2); bps = 0
		for (i = 3; i <= NF; i++) if ($i ~ /^[KMGT]?bps$/) bps = $(i - 1) * mult($i)
		if (pps > 0) { n++; p[n] = pps; b[n] = bps }
	}
	END {
		lo = n > 2 ? 2 : 1; hi = n > 2 ? n - 1 : n
		for (i = lo; i <= hi; i++) { sp += p[i]; sb += b[i]; k++ }
		if (k == 0) print "0 0"; else printf "%.0f %.0f\n", sp / k, sb / k
	}' "$1"
}

# one_pg_run RXPORT LEN TXPORT...: prints "pps bps" seen by the receiver
one_pg_run() {
	local rxp=$1 len=$2 rx txs=() t
	shift 2
	"$BIN/pkt-gen" -i "$rxp" -f rx -T 1000 >"$TMPD/b_rx.log" 2>&1 &
	rx=$!
	VNM_PIDS+=("$rx")
	sleep 0.3
	for t in "$@"; do
		"$BIN/pkt-gen" -i "$t" -f tx -l "$len" -T 1000 >"$TMPD/b_tx_${#txs[@]}.log" 2>&1 &
		txs+=($!)
		VNM_PIDS+=($!)
	done
	sleep "$SECS"
	sleep 1.2 # the first report line is dropped
	for t in "${txs[@]}"; do kill -INT "$t" 2>/dev/null; done
	for t in "${txs[@]}"; do wait_pid "$t" 5 || kill -KILL "$t" 2>/dev/null; done
	kill -INT "$rx" 2>/dev/null
	wait_pid "$rx" 5 || kill -KILL "$rx" 2>/dev/null
	pg_rate "$TMPD/b_rx.log"
}

# run_pg NAME LEN RXPORT TXPORT...: median of RUNS runs; sets R_PPS R_BPS
run_pg() {
	local name=$1 len=$2 rxp=$3 i out pps=() bps=()
	shift 3
	for i in $(seq "$RUNS"); do
		out=$(one_pg_run "$rxp" "$len" "$@" 2>/dev/null | tail -n 1)
		pps+=("${out% *}")
		bps+=("${out#* }")
	done
	R_PPS=$(printf '%s\n' "${pps[@]}" | median)
	R_BPS=$(printf '%s\n' "${bps[@]}" | median)
}

declare -A PPS BPS
row() { PPS[$1]=$2; BPS[$1]=$3; }

fmt_m() { awk -v v="$1" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf "%.3f", v / 1e6 }'; }
fmt_g() { awk -v v="$1" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf "%.3f", v / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b + 0 == 0) print "-"; else if (a / b >= 10) printf "%.0fx", a / b; else printf "%.2fx", a / b }'; }

echo "# vnetmap benchmark"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(uname -srm), $(nproc) cpus, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "         $(awk '/MemTotal/ { printf "%.1f GiB memory", $2 / 1048576 }' /proc/meminfo); build $BUILD ($(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) before the runs (figures are only meaningful on an idle machine)"
echo "method:  median of $RUNS runs of ${SECS}s, rates at the receiver; Gbps of frame bytes (no CRC/framing)"
echo

for len in $SIZES; do
	echo "... $len bytes: pipe" >&2
	run_pg pipe "$len" 'netmap:bp}1' 'netmap:bp{1'
	row "pipe $len" "$R_PPS" "$R_BPS"
	echo "... $len bytes: VALE 1->1" >&2
	run_pg vale1 "$len" vale0:b vale0:a
	row "vale11 $len" "$R_PPS" "$R_BPS"
	echo "... $len bytes: VALE 2->1" >&2
	run_pg vale2 "$len" vale0:b vale0:a1 vale0:a2
	row "vale21 $len" "$R_PPS" "$R_BPS"

	echo "... $len bytes: bare ring" >&2
	p=()
	for i in $(seq "$RUNS"); do
		if [ "$len" -le 64 ]; then
			o=$("$BIN/bench_bare_ring" -t "$SECS" -l "$len")
		else
			o=$("$BIN/bench_bare_ring" -t "$SECS" -l "$len" -c)
		fi
		p+=("$(echo "$o" | awk '{ print $2 * 1e6 }')")
	done
	m=$(printf '%s\n' "${p[@]}" | median)
	row "bare $len" "$m" "$(awk -v m="$m" -v l="$len" 'BEGIN { print m * l * 8 }')"
done

# AF_PACKET over a veth pair, in a namespace of our own
AFP=1
if ! ip netns add "$NS" 2>/dev/null ||
	! ip -n "$NS" link add va type veth peer name vb 2>/dev/null ||
	! ip -n "$NS" link set va up || ! ip -n "$NS" link set vb up; then
	AFP=0
	echo "... AF_PACKET: cannot create a network namespace with a veth pair (need root): skipped" >&2
fi
if [ $AFP = 1 ]; then
	ip -n "$NS" link set va mtu 9000 2>/dev/null
	ip -n "$NS" link set vb mtu 9000 2>/dev/null
	for len in $SIZES; do
		echo "... $len bytes: AF_PACKET veth" >&2
		p=()
		for i in $(seq "$RUNS"); do
			o=$(ip netns exec "$NS" "$BIN/bench_afpacket" -i va -o vb -t "$SECS" -l "$len" -m mmap)
			p+=("$(echo "$o" | awk '{ print $2 * 1e6 }')")
		done
		m=$(printf '%s\n' "${p[@]}" | median)
		row "afp $len" "$m" "$(awk -v m="$m" -v l="$len" 'BEGIN { print m * l * 8 }')"
	done
fi

# DPDK testpmd, when installed: io forwarding between two null PMDs, no hugepages
TESTPMD=$(command -v dpdk-testpmd || true)
if [ -n "$TESTPMD" ]; then
	for len in $SIZES; do
		# per-port rate: one direction of io forwarding, like a 1->1 pair
		echo "... $len bytes: DPDK testpmd (net_null, io forward)" >&2
		p=()
		for i in $(seq "$RUNS"); do
			o=$(timeout -s INT $((SECS + 4)) "$TESTPMD" -l 0-1 --no-huge -m 1024 --no-pci \
				--file-prefix "vnmb$$" --vdev "net_null0,size=$len" --vdev "net_null1,size=$len" -- \
				--forward-mode=io --stats-period 1 --nb-cores=1 \
				--total-num-mbufs=16384 2>&1 </dev/null)
			p+=("$(echo "$o" | sed -n -E 's/.*Rx-pps: *([0-9]+).*/\1/p' | sort -g | tail -n 1)")
		done
		rm -rf "/var/run/dpdk/vnmb$$" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/vnmb$$"
		m=$(printf '%s\n' "${p[@]}" | grep . | median)
		row "dpdk $len" "$m" "$(awk -v m="$m" -v l="$len" 'BEGIN { print m * l * 8 }')"
	done
fi

printf '%-26s' "path"
for len in $SIZES; do printf '  %9s %8s' "Mpps@$len" "Gbps"; done
echo
show() {
	local key=$1 title=$2 len
	printf '%-26s' "$title"
	for len in $SIZES; do
		printf '  %9s %8s' "$(fmt_m "${PPS[$key $len]:-}")" "$(fmt_g "${BPS[$key $len]:-}")"
	done
	echo
}
show pipe "vnetmap pipe 1->1"
show vale11 "vnetmap VALE 1->1"
show vale21 "vnetmap VALE 2->1"
show bare "bare SPSC ring (limit)"
if [ $AFP = 1 ]; then show afp "AF_PACKET veth (Linux)"; fi
if [ -n "$TESTPMD" ]; then show dpdk "DPDK testpmd null/io/port"; fi
echo
echo "ratios (packet rate)"
for len in $SIZES; do
	printf '  %4s B: pipe = %s of bare ring, VALE 1->1 = %s of bare ring' "$len" \
		"$(ratio "${PPS[pipe $len]}" "${PPS[bare $len]}")" "$(ratio "${PPS[vale11 $len]}" "${PPS[bare $len]}")"
	if [ $AFP = 1 ]; then
		printf '; vs AF_PACKET: pipe %s, VALE 1->1 %s, VALE 2->1 %s' \
			"$(ratio "${PPS[pipe $len]}" "${PPS[afp $len]}")" \
			"$(ratio "${PPS[vale11 $len]}" "${PPS[afp $len]}")" \
			"$(ratio "${PPS[vale21 $len]}" "${PPS[afp $len]}")"
	fi
	echo
done
[ $AFP = 1 ] || echo "AF_PACKET: skipped (no network namespace: needs root and iproute2)"
if [ -z "$TESTPMD" ]; then
	echo "DPDK testpmd: not installed (dpdk-testpmd not found): skipped"
fi
echo "bare ring 1514: the consumer reads every byte (a copy-bound limit); 60: descriptors only."
echo "pipes swap buffer indices and pkt-gen does not touch payloads: pipe Gbps at 1514 is descriptor-bound."
echo "VALE copies every frame into the receiver's region. DPDK net_null neither copies nor touches data."
exit 0
