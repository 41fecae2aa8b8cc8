# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): the benchmark columns against a bench-server.sh
# guest at PEER. Variables: PEER, T (seconds per test, default 10), TESTS (default
# "ping iperf rr pingf pktgen"), PINGF_COUNT (default 10000, bounded by 2*T seconds).
# Results (VNM-RESULT lines): ping_avg_us (20 pings, 0.2 s apart: idle latency);
# iperf_mbps; rr_lat_us (sockperf TCP ping-pong average one-way latency, 64 B) and rr_tps (= 1e6 / (2 * rr_lat_us), transactions/s); pingf_avg_us,
# pingf_loss_pct (iputils ping -f); pktgen_tx_pps, pktgen_rx_pps (guest kernel pktgen,
# 60-byte UDP frames to PEER's MAC for T s; rx counted on PEER's eth0).
. /vnm/lib.sh
: "${T:=10}" "${TESTS:=ping iperf rr pingf pktgen}" "${PINGF_COUNT:=10000}"
vnm_wait_peer "$PEER" 30 || exit 10
ctl() { echo "$1" | nc -w 5 "$PEER" 5999; }
i=0
until [ -n "$(ctl rx 2>/dev/null)" ]; do
	i=$((i + 1))
	[ $i -ge 50 ] && { echo "bench-client: no control port on $PEER"; exit 11; }
	sleep 0.2
done
now() { cut -d' ' -f1 /proc/uptime; }
rc=0
echo "bench-client: peer up at $(now) s"
for t in $TESTS; do
	echo "bench-client: $t at $(now) s"
	case $t in
	iperf)
		out=$(vnm_iperf_client "$PEER" "$T" -f m --connect-timeout 5000) || rc=12
		echo "$out" | tail -n 4
		vnm_note iperf_mbps "$(echo "$out" | awk '/receiver$/ { print $(NF-2) }' | tail -n 1)"
		;;
	rr)
		out=$(timeout $((T * 3 + 10)) sockperf ping-pong -i "$PEER" --tcp -t "$T" -m 64 2>&1) || rc=13
		echo "$out" | grep -E 'Summary' | head -n 2
		lat=$(echo "$out" | sed -n -E 's/.*Summary: Latency is ([0-9.]+) usec.*/\1/p' | tail -n 1)
		vnm_note rr_lat_us "$lat"
		[ -n "$lat" ] && vnm_note rr_tps "$(awk -v l="$lat" 'BEGIN { printf "%.0f", 1e6 / (2 * l) }')"
		;;
	ping)
		out=$(vnm_ping "$PEER" 20 0.2)
		echo "$out" | tail -n 1
		set -- $(vnm_ping_stats "$out")
		[ "$2" != "?" ] && vnm_note ping_avg_us "$(awk -v a="$2" 'BEGIN { printf "%.0f", a * 1000 }')"
		;;
	pingf)
		out=$(timeout $((T * 3 + 10)) /usr/bin/ping -f -c "$PINGF_COUNT" -w "$((T * 2))" "$PEER" 2>&1)
		echo "$out" | tail -n 2
		vnm_note pingf_loss_pct "$(echo "$out" | sed -n -E 's/.* ([0-9.]+)% packet loss.*/\1/p')"
		avg=$(echo "$out" | sed -n -E 's#^rtt [^=]*= [0-9.]+/([0-9.]+)/.*#\1#p')
		[ -n "$avg" ] && vnm_note pingf_avg_us "$(awk -v a="$avg" 'BEGIN { printf "%.0f", a * 1000 }')"
		;;
	pktgen)
		modprobe pktgen 2>/dev/null
		P=/proc/net/pktgen
		[ -d $P ] || { echo "bench-client: no pktgen"; rc=14; continue; }
		mac=$(ip neigh show "$PEER" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
		echo "rem_device_all" >$P/kpktgend_0
		echo "add_device eth0" >$P/kpktgend_0
		for l in "count 0" "pkt_size 60" "delay 0" "clone_skb 0" "dst $PEER" \
			"dst_mac ${mac:-ff:ff:ff:ff:ff:ff}" "udp_dst_min 9" "udp_dst_max 9"; do
			echo "$l" >$P/eth0
		done
		r0=$(ctl rx); t0=$(now)
		echo start >$P/pgctrl &
		sleep "$T"
		echo stop >$P/pgctrl
		wait
		r1=$(ctl rx); t1=$(now)
		grep -A1 Result $P/eth0
		vnm_note pktgen_tx_pps "$(sed -n -E 's/^ *([0-9]+)pps.*/\1/p' $P/eth0 | head -n 1)"
		vnm_note pktgen_rx_pps "$(awk -v a="$r0" -v b="$r1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')"
		;;
	esac
done
echo "bench-client: end at $(now) s"
ctl done
exit $rc
