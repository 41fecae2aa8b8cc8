# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): traffic with a host pkt-gen on the same switch.
# 1. sends COUNT 60-byte UDP frames with the kernel's pktgen to DST_IP / DST_MAC (the host
#    pkt-gen's port), prints "VNM-RESULT pktgen_sent N";
# 2. waits up to WAIT s until eth0 has received EXPECT more frames (the host's pkt-gen -f tx
#    answer), prints "VNM-RESULT rx_from_host N" (the frames that arrived).
# Variables: DST_IP, DST_MAC, COUNT (10000), EXPECT (10000), WAIT (60).
. /vnm/lib.sh
: "${COUNT:=10000}" "${EXPECT:=10000}" "${WAIT:=60}"
modprobe pktgen || exit 10
P=/proc/net/pktgen
rx() { cat /sys/class/net/eth0/statistics/rx_packets; }
r0=$(rx)
echo "rem_device_all" >$P/kpktgend_0
echo "add_device eth0" >$P/kpktgend_0
for l in "count $COUNT" "pkt_size 60" "delay 0" "clone_skb 0" "dst $DST_IP" \
	"dst_mac $DST_MAC" "udp_dst_min 9" "udp_dst_max 9"; do
	echo "$l" >$P/eth0
done
echo start >$P/pgctrl
grep -A1 Result $P/eth0
vnm_note pktgen_sent "$(sed -n -E 's/^Result: OK: [0-9]+\([^)]*\) usec, ([0-9]+) .*/\1/p' $P/eth0)"
i=0
while [ $(( $(rx) - r0 )) -lt "$EXPECT" ] && [ $i -lt $((WAIT * 5)) ]; do
	sleep 0.2
	i=$((i + 1))
done
vnm_note rx_from_host $(( $(rx) - r0 ))
exit 0
