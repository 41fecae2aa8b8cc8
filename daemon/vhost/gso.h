/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gso.h - software segmentation (TSO/UFO) and checksum completion for a destination
 * without a virtio-net header (netmap clients with hdr_len 0, pipes, socket ports,
 * vhost-user guests that did not negotiate the GSO feature of the frame).
 *
 * Input: a frame with VNM_FRAME_F_VNET (port.h) whose header the source port already
 * checked for shape; everything else (IP/TCP/UDP header lengths, hdr_len, gso_size,
 * csum_start/offset) is re-checked here, because the bytes come from a peer.
 * Output: plain frames, one fragment each, flags 0, every checksum complete (IPv4
 * header, TCP/UDP over the pseudo-header), in the caller's scratch buffer.
 *   GSO_TCPV4 / GSO_TCPV6: TCP segments of at most gso_size payload bytes each, seq
 *     advanced, IPv4 id incremented, tot_len/payload_len fixed, FIN/PSH only on the last,
 *     CWR only on the first.
 *   GSO_UDP (UFO): IPv4 fragments (MF/offset) of one UDP datagram whose checksum is
 *     completed first; IPv6 UFO gets a fragment header.
 *   GSO_NONE with NEEDS_CSUM: one frame, checksum completed.
 * The caller's deliver must take all segments of a frame or none (use the count first).
 *
 * Details of the implementation (gso.c):
 *   - the header's hdr_len is a hint: it must lie inside the frame, the real header
 *     length is parsed; with NEEDS_CSUM, csum_start/csum_offset must name the L4
 *     checksum exactly; every checksum is recomputed from zero (the peer's partial
 *     pseudo-header sum is not used for GSO frames);
 *   - one 802.1Q tag (0x8100) is carried into every segment; IPv4 options are copied into
 *     every TCP segment; IP total length shorter than the frame: the trailing bytes
 *     (padding) are dropped; IPv6 extension headers and UFO with IPv4 options:
 *     -EPROTONOSUPPORT;
 *   - UFO: gso_size is the IP payload per fragment, rounded down to a multiple of 8
 *     (Linux's meaning); a datagram that fits is one frame, not a fragment; DF is
 *     cleared; IPv6 fragment ids come from a process-wide counter;
 *   - GSO_NONE without NEEDS_CSUM (or a frame without VNM_FRAME_F_VNET): one plain copy.
 */
#ifndef VNM_DAEMON_GSO_H
#define VNM_DAEMON_GSO_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

#define VNM_GSO_MAX_SEGS 512 /* more segments than this: refused (-E2BIG, drop_gso) */
/* Scratch a caller provides: enough for the largest frame cut at the smallest gso_size. */
#define VNM_GSO_SCRATCH (VNM_FRAME_MAX + VNM_GSO_MAX_SEGS * 128)

/*
 * Segment f (VNM_FRAME_F_VNET set, header at f->vnet_hdr) into segs[0..ret) with bytes in
 * scratch[0..scratch_len). Returns the number of segments (>= 1), or -EINVAL (malformed
 * headers: drop, count drop_gso), -E2BIG (more than max_segs or scratch too small),
 * -EPROTONOSUPPORT (a GSO type we do not cut). Never reads outside f's fragments.
 */
int vnm_gso_segment(const struct vnm_frame *f, struct vnm_frame *segs, unsigned max_segs,
		    uint8_t *scratch, size_t scratch_len);

#endif /* VNM_DAEMON_GSO_H */
