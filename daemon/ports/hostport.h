/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hostport.h - switch ports that meet the Linux network stack:
 *   afpacket_port.c: a Linux interface (veth, NIC, someone else's TAP) through an
 *     AF_PACKET socket, TPACKET_V3 RX ring + sendmmsg TX, with PACKET_VNET_HDR;
 *   tap_port.c: a TAP device vnetmapd creates or opens itself (the host stack of
 *     the switch: frames the switch delivers enter Linux on that interface).
 * Both carry virtio-net headers (vnet_hdr_len 12), so offloaded frames (partial
 * checksum, TSO) cross between Linux and guests unchanged. Both watch their fd with
 * VNM_WATCH_NODRAIN. Create/destroy/attached/detached run on the main thread.
 */
#ifndef VNM_DAEMON_HOSTPORT_H
#define VNM_DAEMON_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "vhost/vnet.h"

struct vnm_switch;

/* NULL with a message in err. name: the dport's name until attached. */
struct vnm_dport *vnm_afp_port_create(const char *ifname, char *err, size_t errlen);
void vnm_afp_port_destroy(struct vnm_dport *p);
void vnm_afp_port_attached(struct vnm_dport *p, struct vnm_switch *sw);
void vnm_afp_port_detached(struct vnm_dport *p);

/*
 * AF_XDP (xdp_port.c): a Linux interface through an AF_XDP socket in copy mode on RX
 * queue 0, with vnetmapd's own XDP program (generic/SKB mode) redirecting that queue
 * to it. NULL with the reason in err when anything is missing (kernel, privileges,
 * more than one RX queue): the caller falls back to af_packet. No virtio-net header
 * (vnet_hdr_len 0). Used by netmap:IFNAME.
 */
struct vnm_dport *vnm_xdp_port_create(const char *ifname, char *err, size_t errlen);
void vnm_xdp_port_destroy(struct vnm_dport *p);
void vnm_xdp_port_attached(struct vnm_dport *p, struct vnm_switch *sw);
void vnm_xdp_port_detached(struct vnm_dport *p);

/* Create TAP ifname (or open the existing one): IFF_TAP|IFF_NO_PI|IFF_VNET_HDR. */
struct vnm_dport *vnm_tap_port_create(const char *ifname, char *err, size_t errlen);
void vnm_tap_port_destroy(struct vnm_dport *p);
void vnm_tap_port_attached(struct vnm_dport *p, struct vnm_switch *sw);
void vnm_tap_port_detached(struct vnm_dport *p);

/*
 * A virtio-net header produced by the Linux kernel (AF_PACKET, TAP) for a frame of
 * len bytes: still checked before it travels, since destinations act on csum_start
 * and gso fields. 0: plain frame (no offload), 1: offloaded frame, -EINVAL: drop.
 */
static inline int vnm_kernel_hdr_check(const struct virtio_net_hdr_mrg *h, uint32_t len)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -22;
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)h->csum_start + h->csum_offset + 2u > len)
		return -22;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return 1;
	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    gso != VIRTIO_NET_HDR_GSO_UDP)
		return -22;
	if (h->gso_size == 0 || h->hdr_len > len || !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return -22;
	return 1;
}

#endif
