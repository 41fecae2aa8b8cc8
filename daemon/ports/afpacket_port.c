// SPDX-License-Identifier: BSD-2-Clause
/*
 * afpacket_port.c - a switch port over a Linux interface (backend "af_packet").
 *
 * RX (interface -> switch): a TPACKET_V3 ring mmap'ed from the socket. rx_batch
 * walks the retired blocks and returns frames whose fragments point INTO the ring
 * (no copy); rx_done gives fully consumed blocks back to the kernel. With
 * PACKET_VNET_HDR each frame comes with the kernel's virtio-net header (10 bytes
 * before the MAC header), copied into port storage and checked before it travels,
 * so TSO/partial-checksum skbs of a veth cross the switch intact.
 * TX (switch -> interface): deliver sends the round's frames for this port with ONE
 * sendmmsg (iovecs point at the source's buffers: the kernel's copy is the only
 * one), PACKET_QDISC_BYPASS, the header in front. deliver_flush has nothing left
 * to do. PACKET_IGNORE_OUTGOING keeps our own TX out of our RX ring.
 * (A TPACKET_V2 TX ring would save the per-frame iovec setup; sendmmsg was enough.)
 *
 * Security model: the kernel is trusted to keep the ring's block descriptors
 * consistent, but every offset/length read from a block is bounds-checked against
 * the block before a frame points at it (a frame never leaves the mapping), and the
 * virtio-net header is checked (vnm_kernel_hdr_check) as if it came from a peer.
 * The frame bytes are whatever arrived on the wire.
 *
 * Memory ordering: block_status is the ownership word. We read it with an acquire
 * load (the block's packets are visible after TP_STATUS_USER) and hand the block
 * back with a release store of TP_STATUS_KERNEL once no frame points into it.
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

#define AFP_BLOCK_SIZE (1u << 18) /* holds the largest (GSO) frame */
#define AFP_BLOCK_NR 64            /* 16 MiB: rides out a descheduled switch thread */
#define AFP_FRAME_SIZE 2048
#define AFP_RETIRE_MS 1           /* a partly filled block is handed to us after 1 ms */
#define AFP_VNET_LEN 10           /* struct virtio_net_hdr (no num_buffers) */

struct rx_pos {
	unsigned blk;   /* current block */
	uint32_t off;   /* offset of the next packet in it (0: block not opened yet) */
	uint32_t left;  /* packets left in it */
	unsigned adv;   /* blocks moved past since the batch started (released at rx_done) */
};

struct afp_port {
	struct vnm_dport dp; /* first */
	int fd;
	int ifindex;
	unsigned err_logged;
	char ifname[IF_NAMESIZE];
	uint8_t *ring;
	size_t ring_len;
	struct vnm_switch *sw;
	struct rx_pos pos;                 /* next packet to pull */
	struct rx_pos snap[VNM_BATCH_MAX]; /* position of each frame of the last batch */
	struct rx_pos end;                 /* position after the last batch */
	unsigned nframes;
	const struct vnm_frame *frames;
	struct virtio_net_hdr_mrg hdr[VNM_BATCH_MAX];
	struct mmsghdr msg[VNM_BATCH_MAX];
	struct iovec iov[VNM_BATCH_MAX][1 + NM_MAX_FRAGS];
};

static const struct virtio_net_hdr_mrg zero_hdr;

static inline struct afp_port *to_ap(struct vnm_dport *p)
{
	return (struct afp_port *)p;
}

static inline struct tpacket_block_desc *blk_desc(struct afp_port *ap, unsigned b)
{
	return (struct tpacket_block_desc *)(ap->ring + (size_t)b * AFP_BLOCK_SIZE);
}

static inline int blk_ready(struct afp_port *ap, unsigned b)
{
	/* acquire: pairs with the kernel's barrier before it sets TP_STATUS_USER */
	return __atomic_load_n(&blk_desc(ap, b)->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
	       TP_STATUS_USER;
}

static inline void blk_release(struct afp_port *ap, unsigned b)
{
	/* release: every read of the block's packets happens before the kernel reuses it */
	__atomic_store_n(&blk_desc(ap, b)->hdr.bh1.block_status, TP_STATUS_KERNEL,
			 __ATOMIC_RELEASE);
}

/* Move q to the next block (the current one is fully read). */
static inline void pos_next_block(struct rx_pos *q)
{
	q->blk = (q->blk + 1) % AFP_BLOCK_NR;
	q->off = 0;
	q->left = 0;
	q->adv++;
}

static void afp_rx_done(struct vnm_dport *p, unsigned n);

static int afp_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct afp_port *ap = to_ap(p);
	struct rx_pos q = ap->pos;
	unsigned nf = 0, guard = 0;

	q.adv = 0;
	ap->frames = frames;
	ap->nframes = 0;
	if (max > VNM_BATCH_MAX)
		max = VNM_BATCH_MAX;
	while (nf < max && guard++ < AFP_BLOCK_NR + VNM_BATCH_MAX * 2) {
		if (q.off == 0) {
			/* a full lap: this block is still ours (not released yet), stop */
			if (q.adv >= AFP_BLOCK_NR || !blk_ready(ap, q.blk))
				break;
			struct tpacket_block_desc *bd = blk_desc(ap, q.blk);
			uint32_t first = bd->hdr.bh1.offset_to_first_pkt;
			q.left = bd->hdr.bh1.num_pkts;
			if (q.left == 0 || first < sizeof(*bd) || first >= AFP_BLOCK_SIZE) {
				/* empty (timer retired it) or nonsense: hand it back at rx_done */
				if (q.left)
					p->stats.ring_resets++;
				pos_next_block(&q);
				continue;
			}
			q.off = first;
		}
		uint8_t *base = ap->ring + (size_t)q.blk * AFP_BLOCK_SIZE;
		struct tpacket3_hdr *h = (struct tpacket3_hdr *)(base + q.off);
		struct rx_pos here = q;

		/* advance first: whatever this packet is, the next one follows it */
		uint32_t next = h->tp_next_offset;
		if (--q.left == 0 || next == 0 || q.off + next >= AFP_BLOCK_SIZE)
			pos_next_block(&q);
		else
			q.off += next;

		uint32_t mac = h->tp_mac, snap = h->tp_snaplen;
		if (here.off + sizeof(*h) > AFP_BLOCK_SIZE || mac < AFP_VNET_LEN ||
		    here.off + mac + (uint64_t)snap > AFP_BLOCK_SIZE) {
			p->stats.drop_bad_slot++;
			continue;
		}
		if (snap != h->tp_len || snap > VNM_FRAME_MAX) {
			p->stats.drop_oversize++; /* truncated by the ring */
			continue;
		}
		if (snap < 14) {
			p->stats.drop_runt++;
			continue;
		}
		struct vnm_frame *f = &frames[nf];
		const uint8_t *d = (const uint8_t *)h + mac;
		struct virtio_net_hdr_mrg *vh = &ap->hdr[nf];

		memcpy(vh, d - AFP_VNET_LEN, AFP_VNET_LEN); /* a copy travels, not the ring's */
		vh->num_buffers = 0;
		int r = vnm_kernel_hdr_check(vh, snap);
		if (r < 0) {
			p->stats.drop_bad_slot++;
			continue;
		}
		f->flags = r ? VNM_FRAME_F_VNET : 0;
		f->vnet_hdr = r ? vh : NULL;
		f->len = snap;
		f->nfrags = 0;
		for (uint32_t o = 0; o < snap;) {
			uint32_t c = snap - o > 65535 ? 65535 : snap - o;
			f->frag[f->nfrags] = d + o;
			f->frag_len[f->nfrags++] = (uint16_t)c;
			o += c;
		}
		ap->snap[nf] = here;
		nf++;
	}
	ap->end = q;
	ap->nframes = nf;
	if (nf == 0)
		afp_rx_done(p, 0); /* release empty/dropped blocks now */
	return (int)nf;
}

static void afp_rx_done(struct vnm_dport *p, unsigned n)
{
	struct afp_port *ap = to_ap(p);
	struct rx_pos to = n < ap->nframes ? ap->snap[n] : ap->end;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n && i < ap->nframes; i++)
		bytes += ap->frames[i].len;
	/* blocks before the resume point hold no frame the switch still reads */
	for (unsigned k = 0; k < to.adv; k++) {
		blk_release(ap, ap->pos.blk);
		pos_next_block(&ap->pos);
	}
	ap->pos = to;
	ap->pos.adv = 0;
	ap->end = ap->pos; /* a second rx_done of the same batch releases nothing */
	p->stats.rx_packets += n;
	p->stats.rx_bytes += bytes;
	ap->nframes = 0;
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
		int r = sendmmsg(ap->fd, &ap->msg[off], n - off, MSG_DONTWAIT);
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
	struct tpacket_stats_v3 st;
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

	/* the fd is watched level-triggered; a block retired meanwhile is work */
	return ap->pos.off != 0 || blk_ready(ap, ap->pos.blk);
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
	ap->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (ap->fd < 0) {
		snprintf(err, errlen, "AF_PACKET socket: %s", strerror(errno));
		free(ap);
		return NULL;
	}
	if (sopt(ap->fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3, "TPACKET_V3", err, errlen) < 0 ||
	    sopt(ap->fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", err, errlen) < 0 ||
	    sopt(ap->fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", err, errlen) < 0)
		goto fail;
	if (setsockopt(ap->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &(int){ 1 }, sizeof(int)) < 0)
		vnm_log(VNM_LOG_WARN, "af_packet %s: no PACKET_IGNORE_OUTGOING (%s): own TX is "
			"filtered by PACKET_OUTGOING", ifname, strerror(errno));
	struct tpacket_req3 req = {
		.tp_block_size = AFP_BLOCK_SIZE,
		.tp_block_nr = AFP_BLOCK_NR,
		.tp_frame_size = AFP_FRAME_SIZE,
		.tp_frame_nr = AFP_BLOCK_SIZE / AFP_FRAME_SIZE * AFP_BLOCK_NR,
		.tp_retire_blk_tov = AFP_RETIRE_MS,
	};
	if (setsockopt(ap->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		snprintf(err, errlen, "PACKET_RX_RING: %s", strerror(errno));
		goto fail;
	}
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
	vnm_log(VNM_LOG_INFO, "netdev %s: backend af_packet (TPACKET_V3 RX ring %u x %u KiB, "
		"sendmmsg TX, vnet header, qdisc bypass)", ifname, AFP_BLOCK_NR,
		AFP_BLOCK_SIZE >> 10);
	return &ap->dp;
fail:
	if (ap->ring)
		munmap(ap->ring, ap->ring_len);
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
