# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): answer pings (and serve iperf3 when IPERF=1) until
# a peer runs vnm_say_done against us or SERVE seconds pass (default 90).
. /vnm/lib.sh
: "${SERVE:=90}" "${IPERF:=1}"
[ "$IPERF" = 1 ] && iperf3 -s -D
vnm_stay_up "$SERVE"
exit 0
