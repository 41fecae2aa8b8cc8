# SPDX-License-Identifier: BSD-2-Clause
# Guest script (template for vm_script): a misbehaving passthrough guest. With busybox
# devmem on the ivshmem BAR2 it writes (1) a TX head past the ring into its CSB, then
# (2) a slot with a buffer index past the pool, and notes the ring's err_count after
# each (the host must reset the ring); it restores the slot, then runs a well-behaved
# pkt-gen tx on the same port (PG, default "-f tx -n 1000") to show the port still works.
# Variables: PRE (seconds before the first write, default 1), PG.
. /vnm/lib.sh
: "${PRE:=1}" "${PG:=-f tx -n 1000}"
dev=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ]; then
		echo 1 >"$d/enable" 2>/dev/null
		dev=$d
		break
	fi
done
[ -n "$dev" ] || { echo "no ivshmem device"; exit 1; }
base=$(sed -n 3p "$dev/resource" | cut -d' ' -f1)
rd() { printf '%d' "$(devmem $((base + $1)) 32)"; }
wr() { devmem $((base + $1)) 32 "$2"; }
# struct vnm_region_hdr: ends[0] at 256; nifp_ofs +64, csb_atok_ofs +72, csb_ktoa_ofs +80
nifp=$(rd 320)
atok=$(rd 328)
ktoa=$(rd 336)
ring=$((nifp + $(rd $((nifp + 56)))))   # ring_ofs[0], the TX ring
nslots=$(rd $((ring + 8)))
vnm_note layout "nifp $nifp atok $atok ktoa $ktoa ring $ring slots $nslots"
sleep "$PRE"
# (1) head and cur past the ring
wr $((atok + 4)) $((nslots + 7))
wr "$atok" $((nslots + 7))
sleep 1
vnm_note err1 "$(rd $((ktoa + 12)))"
vnm_note head1 "$(rd "$atok")"
# (2) a slot with a buffer index past the pool, published
hwcur=$(rd "$ktoa")
slot=$((ring + 256 + 16 * hwcur))
orig=$(rd "$slot")
wr "$slot" 0x7fffff00
wr $((slot + 4)) 60
next=$(( (hwcur + 1) % nslots ))
wr $((atok + 4)) "$next"
wr "$atok" "$next"
sleep 1
vnm_note err2 "$(rd $((ktoa + 12)))"
vnm_note reason2 "$(rd $((ktoa + 16)))"
wr "$slot" "$orig"   # the reset gave the slot buffer 0: give its buffer back
# (3) well-behaved again
export VNM_GUEST=1
# shellcheck disable=SC2086
pkt-gen -i ptnet: $PG >/tmp/pg.log 2>&1
rc=$?
cat /tmp/pg.log
vnm_note pg_rc "$rc"
vnm_note sent "$(sed -n -E 's/^.*Sent ([0-9]+) packets.*$/\1/p' /tmp/pg.log | tail -n 1)"
exit "$rc"
