# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): answer pings and serve one iperf3 client.
# Variables: SERVE (seconds to wait for the client, default 60), IPERF (1; 0 = only stay up
# for SERVE seconds answering pings).
. /vnm/lib.sh
: "${SERVE:=60}" "${IPERF:=1}"
if [ "$IPERF" = 1 ]; then
	vnm_iperf_server "$SERVE"
	exit $?
fi
sleep "$SERVE"
exit 0
