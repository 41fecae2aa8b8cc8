# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): wait for PEER, ping it, run an iperf3 client.
# Variables: PEER (required), PING_COUNT (20), PING_INTERVAL (0.2), IPERF_TIME (3; 0 = no
# iperf3), IPERF_ARGS (extra client options), WAIT (30 s for the peer to answer),
# SAY_DONE (1: end a peer running stay-up.sh when finished).
# Results: VNM-RESULT ping_loss_pct N, ping_rtt_avg_ms X, iperf_mbps X.
. /vnm/lib.sh
: "${PING_COUNT:=20}" "${PING_INTERVAL:=0.2}" "${IPERF_TIME:=3}" "${IPERF_ARGS:=}" "${WAIT:=30}"
vnm_wait_peer "$PEER" "$WAIT" || exit 10
out=$(vnm_ping "$PEER" "$PING_COUNT" "$PING_INTERVAL")
prc=$?
echo "$out"
vnm_note ping_loss_pct "$(echo "$out" | sed -n -E 's/.* ([0-9.]+)% packet loss.*/\1/p')"
vnm_note ping_rtt_avg_ms "$(echo "$out" | sed -n -E 's#^rtt [^=]*= [0-9.]+/([0-9.]+)/.*#\1#p')"
[ $prc -eq 0 ] || exit 11
if [ "$IPERF_TIME" != 0 ]; then
	# shellcheck disable=SC2086
	out=$(vnm_iperf_client "$PEER" "$IPERF_TIME" -f m $IPERF_ARGS)
	irc=$?
	echo "$out"
	vnm_note iperf_mbps "$(echo "$out" | awk '/receiver$/ { print $(NF-2) }' | tail -n 1)"
	[ $irc -eq 0 ] || exit 12
fi
[ "${SAY_DONE:-0}" = 1 ] && vnm_say_done "$PEER"
exit 0
