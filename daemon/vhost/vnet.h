/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vnet.h - the virtio-net header that travels with offloaded frames
 * (VNM_FRAME_F_VNET, port.h), and the software checksum any destination
 * without a header uses to complete a partial checksum. Header-only, so every
 * port kind can use it.
 */
#ifndef VNM_DAEMON_VNET_H
#define VNM_DAEMON_VNET_H

#include <stdint.h>
#include <string.h>

#include "port.h"

#define VHOST_HDR_LEN 12 /* virtio-net header with num_buffers (VERSION_1) */

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

struct virtio_net_hdr_mrg {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr_mrg) == VHOST_HDR_LEN, "virtio-net header");

/*
 * The checksum a partial-checksum frame needs (Linux's convention: the ones'
 * complement sum from start to the end of the frame, the checksum field included,
 * folded and complemented; 0 becomes 0xffff). Returns it in network byte order
 * (store it with memcpy). Fragments of any length and alignment.
 */
static inline uint16_t vnm_vnet_csum(const struct vnm_frame *f, uint32_t start)
{
	uint64_t sum = 0;
	uint32_t pos = 0;
	int odd = 0; /* the next byte is the low half of a 16-bit word */

	for (unsigned i = 0; i < f->nfrags; i++) {
		const uint8_t *p = f->frag[i];
		uint32_t l = f->frag_len[i];

		if (pos + l <= start) {
			pos += l;
			continue;
		}
		if (pos < start) {
			p += start - pos;
			l -= start - pos;
		}
		pos = start;
		if (odd && l) {
			sum += p[0];
			p++;
			l--;
			odd = 0;
		}
		while (l >= 2) {
			sum += (uint32_t)(p[0] << 8 | p[1]);
			p += 2;
			l -= 2;
		}
		if (l) {
			sum += (uint32_t)p[0] << 8;
			odd = 1;
		}
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	if (c == 0)
		c = 0xffff;
	uint8_t b[2] = { (uint8_t)(c >> 8), (uint8_t)c };
	uint16_t out;
	memcpy(&out, b, 2);
	return out;
}

#endif
