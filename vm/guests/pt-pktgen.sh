# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): libvnetmap in guest mode on the ivshmem device(s)
# (passthrough, docs/PASSTHROUGH.md). Variables: PORT (port name, default "ptnet:"), PG
# (pkt-gen arguments after -i PORT), BAD (1: scribble a bad head on the TX CSB instead,
# see below), PRE (seconds to sleep first). Prints pkt-gen's output, notes "pg_rc" and,
# from the last report lines, "pps"/"sent"/"received".
. /vnm/lib.sh
: "${PORT:=ptnet:}" "${PG:=-f tx -n 1000}" "${PRE:=0}"
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ]; then
		echo 1 >"$d/enable" 2>/dev/null
		vnm_note ivshmem "$(basename "$d") $(cat "$d/resource" | sed -n 3p)"
	fi
done
[ "$PRE" != 0 ] && sleep "$PRE"
export VNM_GUEST=1
# shellcheck disable=SC2086
pkt-gen -i "$PORT" $PG >/tmp/pg.log 2>&1
rc=$?
cat /tmp/pg.log
vnm_note pg_rc "$rc"
vnm_note received "$(sed -n -E 's/^.*Received ([0-9]+) packets.*$/\1/p' /tmp/pg.log | tail -n 1)"
vnm_note sent "$(sed -n -E 's/^.*Sent ([0-9]+) packets.*$/\1/p' /tmp/pg.log | tail -n 1)"
exit "$rc"
