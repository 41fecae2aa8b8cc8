// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: vnm_kernel_hdr_check (ports/hostport.h) - the virtio-net header that AF_PACKET
 * and TAP hand us is checked before a frame carries it: plain frames (no flags, or
 * DATA_VALID only) pass as plain, partial checksums must lie inside the frame, GSO
 * needs a known type, a gso_size, hdr_len within the frame and NEEDS_CSUM.
 */
#include <stdio.h>
#include <string.h>

#include "ports/hostport.h"

static int fails;
#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                                   \
		}                                                                  \
	} while (0)

int main(void)
{
	struct virtio_net_hdr_mrg h;

	memset(&h, 0, sizeof(h));
	CHECK(vnm_kernel_hdr_check(&h, 60) == 0);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	CHECK(vnm_kernel_hdr_check(&h, 60) == 0);
	h.flags = 0x80; /* unknown flag */
	CHECK(vnm_kernel_hdr_check(&h, 60) < 0);

	/* partial checksum: TCP over IPv4 at 34, field at +16 */
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 16;
	CHECK(vnm_kernel_hdr_check(&h, 60) == 1);
	CHECK(vnm_kernel_hdr_check(&h, 52) == 1);  /* field ends exactly at 52 */
	CHECK(vnm_kernel_hdr_check(&h, 51) < 0);   /* one byte short */
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;                    /* no 16-bit wrap */
	CHECK(vnm_kernel_hdr_check(&h, 65535) < 0);

	/* GSO */
	h.csum_start = 34;
	h.csum_offset = 16;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1448;
	h.hdr_len = 66;
	CHECK(vnm_kernel_hdr_check(&h, 60000) == 1);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	CHECK(vnm_kernel_hdr_check(&h, 60000) == 1);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	CHECK(vnm_kernel_hdr_check(&h, 60000) == 1);
	h.gso_type = 5; /* UDP_L4 and others: not passed on */
	CHECK(vnm_kernel_hdr_check(&h, 60000) < 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	CHECK(vnm_kernel_hdr_check(&h, 60000) < 0);
	h.gso_size = 1448;
	h.hdr_len = 60001;
	CHECK(vnm_kernel_hdr_check(&h, 60000) < 0);
	h.hdr_len = 66;
	h.flags = 0; /* GSO without a partial checksum */
	CHECK(vnm_kernel_hdr_check(&h, 60000) < 0);

	if (fails) {
		fprintf(stderr, "hostport_hdr: %d failure(s)\n", fails);
		return 1;
	}
	printf("hostport_hdr: ok\n");
	return 0;
}
