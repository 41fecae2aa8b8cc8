# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): pings PEER across a back-end restart.
# 1. waits for PEER (WAIT s), prints "VNM-RESULT phase1 ok";
# 2. pings for LONG_COUNT x 0.2 s (the host restarts the switch meanwhile): long_loss_pct;
# 3. waits for PEER again (RESUME s) and pings 10 x 0.2 s: ping_loss_pct must be 0.
# Ends PEER's stay-up.sh. Variables: PEER, WAIT (60), LONG_COUNT (75), RESUME (30).
. /vnm/lib.sh
: "${WAIT:=60}" "${LONG_COUNT:=75}" "${RESUME:=30}"
vnm_wait_peer "$PEER" "$WAIT" || exit 10
vnm_note phase1 ok
out=$(ping -c "$LONG_COUNT" -i 0.2 -W 1 "$PEER" 2>&1)
echo "$out" | tail -n 2
set -- $(vnm_ping_stats "$out")
vnm_note long_loss_pct "$1"
vnm_wait_peer "$PEER" "$RESUME" || exit 11
vnm_note resumed ok
out=$(vnm_ping "$PEER" 10 0.2)
echo "$out" | tail -n 2
set -- $(vnm_ping_stats "$out")
vnm_note ping_loss_pct "$1"
vnm_note ping_rtt_avg_ms "$2"
vnm_say_done "$PEER"
[ "$1" = 0 ] || exit 12
exit 0
