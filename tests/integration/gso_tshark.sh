#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# gso_tshark: header mismatch (issue 5 item 4) judged by tshark. test_gso_hdr (its own
# vnetmapd) sends TSO (IPv4, IPv6), UFO (IPv4, IPv6), partial-checksum and plain frames
# from a VALE port with a 12-byte virtio-net header (VNM_CTL_HDR_SET) to a port without
# one, and writes what arrives to a pcap. tshark, with IP/TCP/UDP checksum validation
# on, must find: exactly 32 frames, every checksum it can check "good" (none bad, no
# checksum expert info), the segment count of every stream, and each stream's payload
# (TCP segments in order, UDP datagrams re-assembled from their fragments) equal to
# what was sent.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
command -v tshark >/dev/null 2>&1 || skip "no tshark (apt-get install tshark)"
HELPER=$BUILD/tests/test_gso_hdr
[ -x "$HELPER" ] || skip "no $HELPER"

PCAP=$TMPD/gso.pcap
"$HELPER" --pcap "$PCAP" >"$TMPD/helper.log" 2>&1 || fail "test_gso_hdr failed: $(tail -n 20 "$TMPD/helper.log")"
[ -s "$PCAP" ] && [ -s "$PCAP.expect" ] || fail "no capture written"

TS=(tshark -n -r "$PCAP" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE
	-o udp.check_checksum:TRUE -o ip.defragment:TRUE -o ipv6.defragment:TRUE)
# tshark warns when run as root; keep its stderr out of the fields
fields() { "${TS[@]}" -T fields -E separator=/t "$@" </dev/null 2>/dev/null; }

n=$(fields -e frame.number | wc -l)
[ "$n" = 32 ] || fail "tshark reads $n frames, expected 32"

# no bad checksum: status 0 is Bad (1 Good, 2 Unverified)
bad=$(fields -Y 'ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0' -e frame.number | wc -l)
[ "$bad" = 0 ] || fail "$bad frame(s) with a bad checksum: $("${TS[@]}" -Y 'ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0' 2>/dev/null | head)"
# every checksum that exists was checked and found good: 21 IPv4 headers (14 TCP, 4
# fragments, 3 single frames), 23 TCP segments, 4 UDP datagrams (2 re-assembled)
ipg=$(fields -Y 'ip.checksum.status == 1' -e frame.number | wc -l)
tcpg=$(fields -Y 'tcp.checksum.status == 1' -e frame.number | wc -l)
udpg=$(fields -Y 'udp.checksum.status == 1' -e frame.number | wc -l)
[ "$ipg" = 21 ] || fail "$ipg IPv4 headers with a good checksum, expected 21"
[ "$tcpg" = 23 ] || fail "$tcpg TCP segments with a good checksum, expected 23"
[ "$udpg" = 4 ] || fail "$udpg UDP datagrams with a good checksum, expected 4"
# no checksum expert info at all
"${TS[@]}" -q -z expert 2>/dev/null >"$TMPD/expert.txt"
if grep -qi 'checksum' "$TMPD/expert.txt"; then
	fail "checksum expert info: $(grep -i -B2 -A2 checksum "$TMPD/expert.txt" | head)"
fi

# per stream: segment count and payload bytes
while read -r name port segs hex; do
	case $name in
	*tcp*)
		# tcp.payload, or data.data when tshark hands the segment to its data dissector
		got=$(fields -Y "tcp.srcport == $port" -e frame.number -e tcp.payload -e data.data |
			awk -F'\t' '{ print ($2 != "" ? $2 : $3) }')
		cnt=$(printf '%s\n' "$got" | grep -c .)
		# frames of the stream (for TCP, one segment each)
		nseg=$cnt
		data=$(printf '%s' "$got" | tr -d ':\n')
		;;
	*)
		# fragments have no UDP header: count the frames that carry the datagram's
		# IP id / fragment id (or the datagram itself when it was not cut)
		id6=$(fields -Y "udp.srcport == $port" -e ipv6.fraghdr.ident | head -n 1)
		if [ -n "$id6" ]; then
			nseg=$(fields -Y "ipv6.fraghdr.ident == $id6" -e frame.number | wc -l)
		else
			id=$(fields -Y "udp.srcport == $port" -e ip.id | head -n 1)
			nseg=$(fields -Y "ip.id == $id" -e frame.number | wc -l)
		fi
		data=$(fields -Y "udp.srcport == $port" -e udp.payload | tr -d ':\n')
		;;
	esac
	[ "$nseg" = "$segs" ] || fail "$name: $nseg segments, expected $segs"
	[ "$data" = "$hex" ] || fail "$name: payload differs (${#data} hex digits, expected ${#hex})"
	log "$name: $nseg segment(s), ${#hex} hex digits of payload, checksums good"
done <"$PCAP.expect"
echo "gso_tshark: 32 frames, all checksums good, segment counts and payloads exact"
