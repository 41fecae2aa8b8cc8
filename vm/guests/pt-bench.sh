# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): REPEAT runs of pkt-gen in passthrough guest mode
# on PORT with PG (bench/pt.sh). Notes "mpps_I" (the sender's or receiver's Speed line, in
# Mpps) and, for ping, "rtt_I" (average RTT, ns) for each run I.
. /vnm/lib.sh
: "${PORT:=ptnet:}" "${PG:=-f tx -n 1000000}" "${REPEAT:=3}"
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
		echo 1 >"$d/enable" 2>/dev/null
done
export VNM_GUEST=1
i=1
while [ "$i" -le "$REPEAT" ]; do
	# shellcheck disable=SC2086
	pkt-gen -i "$PORT" $PG >/tmp/pg.log 2>&1 || { cat /tmp/pg.log; exit 1; }
	sp=$(sed -n -E 's/^Speed: ([0-9.]+) ([KM]?)pps.*$/\1 \2/p' /tmp/pg.log | tail -n 1)
	set -- $sp
	case ${2:-} in M) m=$1 ;; K) m=$(awk "BEGIN { print $1 / 1000 }") ;; *) m=$(awk "BEGIN { print ${1:-0} / 1000000 }") ;; esac
	vnm_note "mpps_$i" "$m"
	rtt=$(sed -n -E 's/^RTT over [0-9]+ packets: min [0-9]+ av ([0-9]+) ns.*$/\1/p' /tmp/pg.log)
	[ -n "$rtt" ] && vnm_note "rtt_$i" "$rtt"
	grep -E '^(Speed|RTT)' /tmp/pg.log
	i=$((i + 1))
done
exit 0
