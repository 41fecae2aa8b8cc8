# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): the passive side of bench-client.sh. Serves
# iperf3, sockperf (TCP) and a control port (TCP 5999: "rx" answers eth0's rx_packets,
# "done" ends this script) until "done" arrives or SERVE seconds pass (default 180).
. /vnm/lib.sh
: "${SERVE:=180}"
cat >/tmp/ctl.sh <<'CTL'
#!/bin/sh
read -r cmd
case $cmd in
rx) cat /sys/class/net/eth0/statistics/rx_packets ;;
done) touch /tmp/done; echo ok ;;
esac
CTL
chmod +x /tmp/ctl.sh
iperf3 -s --logfile /tmp/iperf3-s.log &
sockperf server -i 0.0.0.0 --tcp >/tmp/sockperf.log 2>&1 &
nc -ll -p 5999 -e /tmp/ctl.sh &
i=0
while [ ! -e /tmp/done ] && [ $i -lt $((SERVE * 5)) ]; do
	sleep 0.2
	i=$((i + 1))
done
if [ ! -e /tmp/done ]; then
	echo "bench-server: no 'done' from the client in ${SERVE}s; iperf3 server log:"
	tail -n 15 /tmp/iperf3-s.log
	exit 1
fi
exit 0
