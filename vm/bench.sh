#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vm/bench.sh BUILD_DIR [RUNS] [MODES...] - the VM benchmark: every MODE of bench-pair.sh
# (default: tap vale testpmd tap-e1000 stream) RUNS times (default 3), interleaved
# (run 1 of every mode, then run 2, ...), then a markdown table of the medians.
# Environment: T (seconds per test, default 10), TESTS (bench-pair --tests), LOGS (a
# directory to keep every run's logs in).
# The raw lines go to stderr as they come; the table to stdout.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?usage: $0 BUILD_DIR [RUNS] [MODES...]}
BUILD=$(cd "$BUILD" && pwd) || exit 1
RUNS=${2:-3}
shift 2 2>/dev/null || shift $#
MODES=${*:-tap vale testpmd tap-e1000 stream}
T=${T:-10}
TESTS=${TESTS:-ping iperf rr pingf pktgen}
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

# the image once, up front
"$HERE/build-image.sh" "$BUILD/vm" "$BUILD/bin" >&2 || exit 1
for r in $(seq "$RUNS"); do
	for m in $MODES; do
		out=${LOGS:+--out $LOGS/$m-$r}
		# shellcheck disable=SC2086
		line=$("$HERE/bench-pair.sh" "$m" --image "$BUILD/vm" --tools "$BUILD/bin" --time "$T" \
			--tests "$TESTS" $out 2>/dev/null | tail -n 1)
		echo "run $r: ${line:-$m failed}" >&2
		[ -n "$line" ] && echo "$line" >>"$RAW"
	done
done

accel=$(sed -n -E 's/.* accel=([a-z]+).*/\1/p' "$RAW" | sort -u | paste -sd, -)
echo "VM benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) host cores, accel: ${accel:-?}," \
	"1 vCPU + 512 MiB per guest, $T s per test, medians of $RUNS runs (interleaved)"
echo
echo "| attachment | TCP stream Mbit/s | TCP RR trans/s | RR one-way µs | ping avg µs | ping -f avg µs | pktgen 60 B tx pps | rx pps | boot s |"
echo "|---|---|---|---|---|---|---|---|---|"
for m in $MODES; do
	row="| $m"
	for k in iperf_mbps rr_tps rr_lat_us ping_avg_us pingf_avg_us pktgen_tx_pps pktgen_rx_pps boot_s; do
		v=$(awk -v m="$m" -v k="$k" '$1 == m { for (i = 2; i <= NF; i++) { split($i, kv, "=");
			if (kv[1] == k && kv[2] != "") print kv[2] } }' "$RAW" | sort -g |
			awk '{ a[NR] = $1 } END { if (NR == 0) print "–"; else if (NR % 2) print a[(NR + 1) / 2];
				else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
		row="$row | $v"
	done
	echo "$row |"
done
