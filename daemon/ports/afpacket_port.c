// SPDX-License-Identifier: BSD-2-Clause
/*
 * afpacket_port.c - a switch port over a Linux interface (backend "af_packet").
 *
 * RX (interface -> switch): a TPACKET_V2 frame ring mmap'ed from the socket.
 * rx_batch walks the frames the kernel handed us (TP_STATUS_USER) and returns frames
 * whose fragments point INTO the ring (no copy); rx_done hands the consumed ring
 * frames back. V2, not V3: a V3 block reaches user space only when it is full or its
 * retire timer fires (1 ms at least, in jiffies), which put up to 1 ms on every hop
 * of a sparse flow (ping, request/response); a V2 frame is ours, and the socket
 * readable, as soon as the kernel wrote it. Frames longer than a ring frame (GSO skbs
 * of a veth or TAP, jumbo frames) are truncated in the ring with TP_STATUS_COPY and
 * the kernel queues the whole skb on the socket (PACKET_COPY_THRESH): rx_batch takes
 * it with recvmsg into a bounded pool of 64 KiB copy buffers (one per such frame until
 * it is consumed). The kernel queues those copies in ring order.
 * With PACKET_VNET_HDR each frame comes with the kernel's virtio-net header (10 bytes
 * before the MAC header, or first in a recvmsg), copied into port storage and checked
 * before it travels, so TSO/partial-checksum skbs of a veth cross the switch intact.
 * TX (switch -> interface): deliver sends the round's frames for this port with ONE
 * sendmmsg (iovecs point at the source's buffers: the kernel's copy is the only
 * one), PACKET_QDISC_BYPASS, the header in front. deliver_flush has nothing left
 * to do. PACKET_IGNORE_OUTGOING keeps our own TX out of our RX ring.
 * GSO frames go through a second, TX-only packet socket WITHOUT the qdisc bypass:
 * the kernel's direct-xmit path drops an skb that validate_xmit_skb had to segment
 * (a device without TSO: a TAP whose QEMU front-end is e1000), so through the bypass
 * every GSO frame to such a device was lost. Runs of frames alternate between the
 * two sockets in order; a frame can overtake one still queued in the qdisc.
 * (A TPACKET_V2 TX ring would save the per-frame iovec setup; sendmmsg was enough.)
 *
 * Security model: the kernel is trusted to keep the ring consistent, but every
 * offset/length read from a ring frame is bounds-checked against the frame before a
 * vnm_frame points at it (a frame never leaves the mapping), and the
 * virtio-net header is checked (vnm_kernel_hdr_check) as if it came from a peer.
 * The frame bytes are whatever arrived on the wire.
 *
 * Memory ordering: tp_status is the ownership word of a ring frame. We read it with
 * an acquire load (the frame's bytes are visible after TP_STATUS_USER) and hand the
 * frame back with a release store of TP_STATUS_KERNEL once no vnm_frame points into it.
 *
 * Threading: the dport ops run on the switch thread; create/destroy/attached/
 * detached on the main thread while the port is detached (or before unwatch).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/hostport.h"
#include "vale/switch.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define AFP_FRAME_SIZE 2048        /* a 1514-byte frame with its headers fits */
#define AFP_BLOCK_SIZE (1u << 16)  /* 32 frames per block: blocks are contiguous frames */
#define AFP_FRAME_NR 8192          /* 16 MiB: rides out a descheduled switch thread */
#define AFP_BLOCK_NR (AFP_FRAME_NR * AFP_FRAME_SIZE / AFP_BLOCK_SIZE)
#define AFP_COPY_NR 32             /* frames too long for a ring frame, in flight */
#define AFP_COPY_SIZE (VNM_FRAME_MAX + 64)
#define AFP_VNET_LEN 10            /* struct virtio_net_hdr (no num_buffers) */
#define AFP_NO_COPY 0xffff

struct afp_port {
	struct vnm_dport dp; /* first */
	int fd;
	int gso_fd;                        /* TX only, through the qdisc: GSO frames */
	int ifindex;
	unsigned err_logged;
	char ifname[IF_NAMESIZE];
	uint8_t *ring;
	size_t ring_len;
	struct vnm_switch *sw;
	unsigned head;                     /* next ring frame to look at */
	unsigned nframes;                  /* frames of the last batch (ring frames head..) */
	unsigned nring;                    /* ring frames the last batch covers (dropped ones too) */
	uint16_t ring_of[VNM_BATCH_MAX];   /* ring frames covered up to and including frame i */
	const struct vnm_frame *frames;
	/* long frames taken with recvmsg: copy buffer of ring frame r is copy_of[r] */
	uint8_t *copy_buf;                 /* [AFP_COPY_NR][AFP_COPY_SIZE] */
	uint32_t copy_len[AFP_COPY_NR];    /* bytes received, vnet header included */
	uint16_t copy_free[AFP_COPY_NR];   /* stack of free copy buffers */
	unsigned ncopy_free;
	uint16_t copy_of[AFP_FRAME_NR];    /* AFP_NO_COPY, or the copy buffer */
	struct virtio_net_hdr_mrg hdr[VNM_BATCH_MAX];
	struct mmsghdr msg[VNM_BATCH_MAX];
	struct iovec iov[VNM_BATCH_MAX][1 + NM_MAX_FRAGS];
};

static const struct virtio_net_hdr_mrg zero_hdr;

static inline struct afp_port *to_ap(struct vnm_dport *p)
{
	return (struct afp_port *)p;
}

static inline struct tpacket2_hdr *ring_frame(struct afp_port *ap, unsigned r)
{
	return (struct tpacket2_hdr *)(ap->ring + (size_t)r * AFP_FRAME_SIZE);
}

static inline uint32_t frame_status(struct afp_port *ap, unsigned r)
{
	/* acquire: pairs with the kernel's barrier before it sets TP_STATUS_USER */
	return __atomic_load_n(&ring_frame(ap, r)->tp_status, __ATOMIC_ACQUIRE);
}

static inline void frame_release(struct afp_port *ap, unsigned r)
{
	uint16_t c = ap->copy_of[r];

	if (c != AFP_NO_COPY) {
		ap->copy_of[r] = AFP_NO_COPY;
		ap->copy_free[ap->ncopy_free++] = c;
	}
	/* release: every read of the frame happens before the kernel reuses it */
	__atomic_store_n(&ring_frame(ap, r)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

/*
 * The whole skb of a TP_STATUS_COPY ring frame r: the next one on the socket's queue
 * (once taken, it stays in its copy buffer until r is released). Returns the copy
 * buffer, or AFP_NO_COPY (pool empty: stop the batch; or the queue had none: *gone).
 */
static uint16_t take_copy(struct afp_port *ap, unsigned r, int *gone)
{
	uint16_t c = ap->copy_of[r];

	*gone = 0;
	if (c != AFP_NO_COPY)
		return c; /* taken by an earlier batch that did not consume it */
	if (ap->ncopy_free == 0)
		return AFP_NO_COPY;
	c = ap->copy_free[ap->ncopy_free - 1];
	ssize_t n = recv(ap->fd, ap->copy_buf + (size_t)c * AFP_COPY_SIZE, AFP_COPY_SIZE,
			 MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 || (size_t)n > AFP_COPY_SIZE) {
		*gone = 1; /* nothing queued (or over 64 KiB): drop this ring frame */
		return AFP_NO_COPY;
	}
	ap->ncopy_free--;
	ap->copy_of[r] = c;
	ap->copy_len[c] = (uint32_t)n;
	return c;
}

static void afp_rx_done(struct vnm_dport *p, unsigned n);

static int afp_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct afp_port *ap = to_ap(p);
	unsigned nf = 0, nr = 0;

	ap->frames = frames;
	ap->nframes = 0;
	ap->nring = 0;
	if (max > VNM_BATCH_MAX)
		max = VNM_BATCH_MAX;
	while (nf < max && nr < AFP_FRAME_NR) {
		unsigned r = (ap->head + nr) % AFP_FRAME_NR;
		uint32_t st = frame_status(ap, r);

		if (!(st & TP_STATUS_USER))
			break;
		struct tpacket2_hdr *h = ring_frame(ap, r);
		uint32_t mac = h->tp_mac, snap = h->tp_snaplen, len = h->tp_len;
		const uint8_t *d, *vnet;

		if (st & TP_STATUS_COPY) {
			int gone;
			uint16_t c = take_copy(ap, r, &gone);
			if (c == AFP_NO_COPY && !gone)
				break; /* copy pool in use: the rest next round */
			nr++;
			if (c == AFP_NO_COPY || ap->copy_len[c] < AFP_VNET_LEN) {
				p->stats.drop_oversize++;
				continue;
			}
			vnet = ap->copy_buf + (size_t)c * AFP_COPY_SIZE;
			d = vnet + AFP_VNET_LEN;
			snap = ap->copy_len[c] - AFP_VNET_LEN;
			if (snap != len) {
				p->stats.drop_oversize++; /* not the skb of this frame, or cut */
				continue;
			}
		} else {
			nr++;
			if (mac < sizeof(*h) + AFP_VNET_LEN || mac + (uint64_t)snap > AFP_FRAME_SIZE) {
				p->stats.drop_bad_slot++;
				continue;
			}
			if (snap != len) {
				p->stats.drop_oversize++; /* truncated, no copy queued */
				continue;
			}
			d = (const uint8_t *)h + mac;
			vnet = d - AFP_VNET_LEN;
		}
		if (snap > VNM_FRAME_MAX) {
			p->stats.drop_oversize++;
			continue;
		}
		if (snap < 14) {
			p->stats.drop_runt++;
			continue;
		}
		struct vnm_frame *f = &frames[nf];
		struct virtio_net_hdr_mrg *vh = &ap->hdr[nf];

		memcpy(vh, vnet, AFP_VNET_LEN); /* a copy travels, not the ring's */
		vh->num_buffers = 0;
		int rc = vnm_kernel_hdr_check(vh, snap);
		if (rc < 0) {
			p->stats.drop_bad_slot++;
			continue;
		}
		f->flags = rc ? VNM_FRAME_F_VNET : 0;
		f->vnet_hdr = rc ? vh : NULL;
		f->len = snap;
		f->nfrags = 0;
		for (uint32_t o = 0; o < snap;) {
			uint32_t cl = snap - o > 65535 ? 65535 : snap - o;
			f->frag[f->nfrags] = d + o;
			f->frag_len[f->nfrags++] = (uint16_t)cl;
			o += cl;
		}
		ap->ring_of[nf] = (uint16_t)nr;
		nf++;
	}
	ap->nframes = nf;
	ap->nring = nr;
	if (nf == 0)
		afp_rx_done(p, 0); /* release dropped ring frames now */
	return (int)nf;
}

static void afp_rx_done(struct vnm_dport *p, unsigned n)
{
	struct afp_port *ap = to_ap(p);
	/* ring frames up to the n-th frame's, and the dropped ones after the last frame */
	unsigned upto = n == 0 ? (ap->nframes ? 0 : ap->nring)
		      : n < ap->nframes ? ap->ring_of[n - 1] : ap->nring;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n && i < ap->nframes; i++)
		bytes += ap->frames[i].len;
	for (unsigned k = 0; k < upto; k++) {
		frame_release(ap, ap->head);
		ap->head = (ap->head + 1) % AFP_FRAME_NR;
	}
	p->stats.rx_packets += n;
	p->stats.rx_bytes += bytes;
	ap->nframes = 0;
	ap->nring = 0; /* a second rx_done of the same batch releases nothing */
}

static inline int is_gso(const struct vnm_frame *f)
{
	const struct virtio_net_hdr_mrg *h = f->vnet_hdr;

	return (f->flags & VNM_FRAME_F_VNET) &&
	       (h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE;
}

static int afp_deliver(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		       unsigned n)
{
	struct afp_port *ap = to_ap(p);
	uint64_t bytes = 0, pkts = 0;
	unsigned i, off = 0;

	if (n > VNM_BATCH_MAX)
		n = VNM_BATCH_MAX;
	for (i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[idx[i]];
		struct iovec *v = ap->iov[i];
		/* the first 10 bytes of the 12-byte header are AF_PACKET's header */
		const void *h = (f->flags & VNM_FRAME_F_VNET) ? f->vnet_hdr : &zero_hdr;

		v[0].iov_base = (void *)h;
		v[0].iov_len = AFP_VNET_LEN;
		for (unsigned k = 0; k < f->nfrags; k++) {
			v[1 + k].iov_base = (void *)f->frag[k];
			v[1 + k].iov_len = f->frag_len[k];
		}
		memset(&ap->msg[i], 0, sizeof(ap->msg[i]));
		ap->msg[i].msg_hdr.msg_iov = v;
		ap->msg[i].msg_hdr.msg_iovlen = 1 + f->nfrags;
	}
	while (off < n) {
		/* the run of frames from off that goes through the same socket */
		int gso = is_gso(&frames[idx[off]]);
		unsigned run = off + 1;
		while (run < n && is_gso(&frames[idx[run]]) == gso)
			run++;
		int r = sendmmsg(gso ? ap->gso_fd : ap->fd, &ap->msg[off], run - off, MSG_DONTWAIT);
		if (r > 0) {
			for (int k = 0; k < r; k++) {
				pkts++;
				bytes += frames[idx[off + k]].len;
			}
			off += (unsigned)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == EINTR ||
			      errno == ENETDOWN))
			break; /* the rest: the switch counts drop_full */
		/* this frame is refused (over the MTU, bad header): drop it, go on */
		if (r < 0 && errno == EMSGSIZE)
			p->stats.drop_oversize++;
		else
			p->stats.drop_bad_slot++;
		off++;
	}
	p->stats.tx_packets += pkts;
	p->stats.tx_bytes += bytes;
	return (int)off;
}

static void afp_deliver_flush(struct vnm_dport *p)
{
	(void)p; /* sendmmsg already sent (qdisc bypassed) */
}

static unsigned afp_space(struct vnm_dport *p)
{
	(void)p;
	return 256; /* the socket's send buffer; not exact */
}

static int afp_sleep_prepare(struct vnm_dport *p)
{
	struct afp_port *ap = to_ap(p);
	int e = 0;
	socklen_t el = sizeof(e);
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);

	/* frames the kernel dropped with the ring full: counted as this port's drop_full */
	if (getsockopt(ap->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0)
		p->stats.drop_full += st.tp_drops;

	/*
	 * A pending socket error (ENETDOWN: the interface went away) keeps the fd in
	 * EPOLLERR, level-triggered: the switch would never sleep. Reading it clears it
	 * (one syscall per sleep, not per round).
	 */
	if (getsockopt(ap->fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e) {
		if (!ap->err_logged++)
			vnm_log(VNM_LOG_WARN, "af_packet %s: %s (detach it: vale-ctl -d)",
				ap->ifname, strerror(e));
		p->stats.ring_resets++;
	}

	/* the fd is watched level-triggered; a frame written meanwhile is work */
	return (frame_status(ap, ap->head) & TP_STATUS_USER) != 0;
}

static void afp_wake(struct vnm_dport *p)
{
	(void)p;
}

static const struct vnm_dport_ops afp_ops = {
	.rx_batch = afp_rx_batch,
	.rx_done = afp_rx_done,
	.deliver = afp_deliver,
	.deliver_flush = afp_deliver_flush,
	.space = afp_space,
	.sleep_prepare = afp_sleep_prepare,
	.wake = afp_wake,
};

static int sopt(int fd, int level, int name, int val, const char *what, char *err, size_t errlen)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) < 0) {
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		return -errno;
	}
	return 0;
}

struct vnm_dport *vnm_afp_port_create(const char *ifname, char *err, size_t errlen)
{
	struct afp_port *ap;
	unsigned idx = if_nametoindex(ifname);

	if (!idx) {
		snprintf(err, errlen, "no interface %s", ifname);
		return NULL;
	}
	ap = calloc(1, sizeof(*ap));
	if (!ap) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ap->gso_fd = -1;
	ap->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (ap->fd < 0) {
		snprintf(err, errlen, "AF_PACKET socket: %s", strerror(errno));
		free(ap);
		return NULL;
	}
	if (sopt(ap->fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "TPACKET_V2", err, errlen) < 0 ||
	    sopt(ap->fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", err, errlen) < 0 ||
	    sopt(ap->fd, SOL_PACKET, PACKET_COPY_THRESH, 1, "PACKET_COPY_THRESH", err, errlen) < 0 ||
	    sopt(ap->fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", err, errlen) < 0)
		goto fail;
	/* room on the socket queue for the long frames' copies (root may exceed rmem_max) */
	if (setsockopt(ap->fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ 8 << 20 }, sizeof(int)) < 0)
		setsockopt(ap->fd, SOL_SOCKET, SO_RCVBUF, &(int){ 8 << 20 }, sizeof(int));
	/*
	 * TX: a sent skb is charged to our send buffer until the device frees it; a TAP
	 * holds it until its reader (QEMU) takes it, so the default 208 KiB is three
	 * 64 KiB GSO frames in flight, and the rest were dropped (ENOBUFS, drop_full).
	 */
	if (setsockopt(ap->fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ 8 << 20 }, sizeof(int)) < 0)
		setsockopt(ap->fd, SOL_SOCKET, SO_SNDBUF, &(int){ 8 << 20 }, sizeof(int));
	if (setsockopt(ap->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &(int){ 1 }, sizeof(int)) < 0)
		vnm_log(VNM_LOG_WARN, "af_packet %s: no PACKET_IGNORE_OUTGOING (%s): own TX is "
			"filtered by PACKET_OUTGOING", ifname, strerror(errno));
	struct tpacket_req req = {
		.tp_block_size = AFP_BLOCK_SIZE,
		.tp_block_nr = AFP_BLOCK_NR,
		.tp_frame_size = AFP_FRAME_SIZE,
		.tp_frame_nr = AFP_FRAME_NR,
	};
	if (setsockopt(ap->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		snprintf(err, errlen, "PACKET_RX_RING: %s", strerror(errno));
		goto fail;
	}
	ap->copy_buf = malloc((size_t)AFP_COPY_NR * AFP_COPY_SIZE);
	if (!ap->copy_buf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < AFP_COPY_NR; i++)
		ap->copy_free[i] = (uint16_t)(AFP_COPY_NR - 1 - i);
	ap->ncopy_free = AFP_COPY_NR;
	for (unsigned i = 0; i < AFP_FRAME_NR; i++)
		ap->copy_of[i] = AFP_NO_COPY;
	ap->ring_len = (size_t)AFP_BLOCK_SIZE * AFP_BLOCK_NR;
	ap->ring = mmap(NULL, ap->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED,
			ap->fd, 0);
	if (ap->ring == MAP_FAILED)
		ap->ring = mmap(NULL, ap->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, ap->fd, 0);
	if (ap->ring == MAP_FAILED) {
		ap->ring = NULL;
		snprintf(err, errlen, "mmap of the RX ring: %s", strerror(errno));
		goto fail;
	}
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)idx,
	};
	if (bind(ap->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(err, errlen, "bind to %s: %s", ifname, strerror(errno));
		goto fail;
	}
	/* protocol 0: this socket receives nothing */
	ap->gso_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ap->gso_fd < 0) {
		snprintf(err, errlen, "AF_PACKET socket: %s", strerror(errno));
		goto fail;
	}
	if (sopt(ap->gso_fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", err, errlen) < 0)
		goto fail;
	if (setsockopt(ap->gso_fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ 8 << 20 }, sizeof(int)) < 0)
		setsockopt(ap->gso_fd, SOL_SOCKET, SO_SNDBUF, &(int){ 8 << 20 }, sizeof(int));
	sll.sll_protocol = 0;
	if (bind(ap->gso_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(err, errlen, "bind to %s: %s", ifname, strerror(errno));
		goto fail;
	}
	struct packet_mreq mr = { .mr_ifindex = (int)idx, .mr_type = PACKET_MR_PROMISC };
	if (setsockopt(ap->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		vnm_log(VNM_LOG_WARN, "af_packet %s: promiscuous mode: %s", ifname,
			strerror(errno));
	ap->ifindex = (int)idx;
	snprintf(ap->ifname, sizeof(ap->ifname), "%s", ifname);
	snprintf(ap->dp.name, sizeof(ap->dp.name), "%s", ifname);
	snprintf(ap->dp.stats.name, sizeof(ap->dp.stats.name), "%s", ifname);
	ap->dp.ops = &afp_ops;
	ap->dp.priv = ap;
	ap->dp.sw_idx = -1;
	ap->dp.vnet_hdr_len = VHOST_HDR_LEN;
	vnm_log(VNM_LOG_INFO, "netdev %s: backend af_packet (TPACKET_V2 RX ring %u x %u B, "
		"long frames by recv, sendmmsg TX, vnet header, qdisc bypass but for GSO)", ifname,
		AFP_FRAME_NR, AFP_FRAME_SIZE);
	return &ap->dp;
fail:
	if (ap->ring)
		munmap(ap->ring, ap->ring_len);
	free(ap->copy_buf);
	if (ap->gso_fd >= 0)
		close(ap->gso_fd);
	close(ap->fd);
	free(ap);
	return NULL;
}

void vnm_afp_port_destroy(struct vnm_dport *p)
{
	struct afp_port *ap;

	if (!p)
		return;
	ap = to_ap(p);
	munmap(ap->ring, ap->ring_len);
	free(ap->copy_buf);
	close(ap->gso_fd);
	close(ap->fd);
	free(ap);
}

void vnm_afp_port_attached(struct vnm_dport *p, struct vnm_switch *sw)
{
	struct afp_port *ap = to_ap(p);
	int ret = vnm_switch_watch_fd2(sw, ap->fd, VNM_WATCH_NODRAIN);

	if (ret < 0)
		vnm_log(VNM_LOG_ERR, "af_packet %s: cannot watch its socket: %s", ap->ifname,
			strerror(-ret));
	ap->sw = sw;
	vnm_switch_kick(sw);
}

void vnm_afp_port_detached(struct vnm_dport *p)
{
	struct afp_port *ap = to_ap(p);

	if (ap->sw)
		vnm_switch_unwatch_fd(ap->sw, ap->fd);
	ap->sw = NULL;
}
