// SPDX-License-Identifier: BSD-2-Clause
/*
 * vhost_port.c - a switch port over a vhost-user device: guest TX chains become
 * switch frames whose fragments point INTO guest memory (no copy on the way in);
 * frames for the guest are copied once, from the source's buffer into the
 * guest's RX buffers (mergeable). So guest -> guest and guest <-> netmap client
 * cost exactly one copy, the one isolation needs.
 *
 * Security model: the guest is untrusted; everything it controls is read through
 * vhost_vq.c (chains bounded and translated with their lengths, descriptor fields
 * read once). Here: the virtio-net header of a TX frame is copied out of guest
 * memory into port-owned storage before it is checked (vhost_hdr_check) and only
 * the copy travels with the frame; frame length bounded (VHOST_FRAME_MAX); at most
 * one bounded batch per round; a guest that never refills RX only gets its frames
 * dropped (counted by the switch as drop_full), never a spin: RX kicks are asked for
 * only when a lossless source waits for space. The guest may change frame bytes
 * while the switch reads them (it only changes what it sends).
 *
 * Threading: the dport ops run on the switch thread. The device (messages) lives
 * on the main thread and changes ring state only with the port detached
 * (pause/resume below: vnm_switch_detach returns when the thread is out).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ports/vhost_port.h"
#include "registry.h"
#include "vale/switch.h"
#include "vhost/gso.h"
#include "vhost/vhost_conn.h"

#define RXQ 0 /* guest RX: we deliver into it */
#define TXQ 1 /* guest TX: we pull from it */

struct vhost_port {
	struct vnm_dport dp; /* first */
	struct vhost_dev dev;
	struct vhost_conn conn;
	struct vnm_switch *sw; /* attached to, or NULL */
	int paused;
	int rx_touched;
	int rx_want_kick;
	/* the last TX batch */
	uint16_t start_la;     /* avail index of its first chain */
	unsigned nchains;      /* chains popped (frames and dropped ones) */
	unsigned nframes;
	const struct vnm_frame *frames;
	uint16_t heads[VNM_BATCH_MAX];
	uint16_t fchain[VNM_BATCH_MAX]; /* chain index of each frame */
	struct virtio_net_hdr_mrg hdr[VNM_BATCH_MAX];
	struct vhost_iov iov[VHOST_IOV_MAX];
	/* software segmentation (gso.h) for a guest without the frame's GSO feature */
	uint8_t *gso_scratch;       /* VNM_GSO_SCRATCH bytes, at the first such frame */
	struct vnm_frame *gso_segs; /* [VNM_GSO_MAX_SEGS] */
};

static const struct vnm_dport_ops vhost_ops;

static inline struct vhost_port *to_vp(struct vnm_dport *p)
{
	return (struct vhost_port *)p;
}

/* ---- from the guest (TX queue) into the switch ---- */

/*
 * Turn a TX chain into frame f: the first 12 bytes are the header (copied to h),
 * the rest become fragments. 1: a frame with offloads, 0: a plain frame, <0: drop.
 */
static int tx_frame(struct vhost_port *vp, struct vhost_vq *vq, unsigned niov, uint32_t total,
		    struct vnm_frame *f, struct virtio_net_hdr_mrg *h)
{
	uint8_t *hb = (uint8_t *)h;
	uint32_t hl = 0, nf = 0;
	unsigned i = 0;

	if (unlikely(total < VHOST_HDR_LEN)) {
		vq->st.bad_hdr++;
		return -EINVAL;
	}
	if (unlikely(total == VHOST_HDR_LEN)) {
		vp->dp.stats.drop_runt++; /* a header and no frame */
		return -ENODATA;
	}
	if (unlikely(total - VHOST_HDR_LEN > VHOST_FRAME_MAX)) {
		vq->st.oversize++;
		vp->dp.stats.drop_oversize++;
		return -EMSGSIZE;
	}
	uint32_t off = 0;
	for (i = 0; i < niov && hl < VHOST_HDR_LEN; i++) {
		uint32_t c = vp->iov[i].len;
		if (c > VHOST_HDR_LEN - hl)
			c = VHOST_HDR_LEN - hl;
		memcpy(hb + hl, vp->iov[i].base, c); /* a copy: the guest cannot change it later */
		hl += c;
		off = c;
	}
	/* i is past the iov holding the header's last byte; the rest of it is data */
	if (off < vp->iov[i - 1].len)
		i--;
	else
		off = 0;
	for (; i < niov; i++, off = 0) {
		const uint8_t *p = vp->iov[i].base + off;
		uint32_t l = vp->iov[i].len - off;

		while (l) {
			uint32_t c = l > 65535 ? 65535 : l;
			if (unlikely(nf == NM_MAX_FRAGS)) {
				vq->st.bad_desc++;
				return -E2BIG;
			}
			f->frag[nf] = p;
			f->frag_len[nf] = (uint16_t)c;
			nf++;
			p += c;
			l -= c;
		}
	}
	f->nfrags = (uint16_t)nf;
	f->len = total - VHOST_HDR_LEN;
	f->flags = 0;
	if (likely(!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h->gso_type == 0 &&
		   !(h->flags & ~VIRTIO_NET_HDR_F_DATA_VALID)))
		return 0;
	if (vhost_hdr_check(h, f->len, vq->features) < 0) {
		vq->st.bad_hdr++;
		return -EINVAL;
	}
	f->flags = VNM_FRAME_F_VNET;
	f->vnet_hdr = h;
	return 1;
}

static void vh_rx_done(struct vnm_dport *p, unsigned n);

static int vh_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct vhost_port *vp = to_vp(p);
	struct vhost_vq *vq = &vp->dev.vq[TXQ];
	unsigned nf = 0, nc = 0;

	vp->nchains = vp->nframes = 0;
	vp->frames = frames;
	if (!vq->started)
		return 0;
	int avail = vhost_vq_avail(vq);
	if (avail < 0)
		p->stats.ring_resets++;
	if (avail <= 0)
		return 0;
	if ((unsigned)avail > max)
		avail = (int)max;
	if (avail > VNM_BATCH_MAX)
		avail = VNM_BATCH_MAX;
	vp->start_la = vq->last_avail;
	for (int k = 0; k < avail; k++) {
		unsigned niov;
		uint16_t head;
		uint32_t total;
		int ret = vhost_vq_pop(vq, 0, vp->iov, VHOST_IOV_MAX, &niov, &head, &total);

		vp->heads[nc] = head;
		nc++;
		if (unlikely(ret < 0)) {
			p->stats.drop_bad_slot++;
			continue;
		}
		if (unlikely(!vq->enabled))
			continue; /* started but disabled: consume and drop */
		ret = tx_frame(vp, vq, niov, total, &frames[nf], &vp->hdr[nf]);
		if (unlikely(ret < 0)) {
			if (ret != -EMSGSIZE && ret != -ENODATA)
				p->stats.drop_bad_slot++;
			continue;
		}
		__builtin_prefetch(frames[nf].frag[0]);
		vp->fchain[nf] = (uint16_t)(nc - 1);
		nf++;
	}
	vp->nchains = nc;
	vp->nframes = nf;
	if (nf == 0)
		vh_rx_done(p, 0); /* only dropped chains: give them back now */
	return (int)nf;
}

static void vh_rx_done(struct vnm_dport *p, unsigned n)
{
	struct vhost_port *vp = to_vp(p);
	struct vhost_vq *vq = &vp->dev.vq[TXQ];
	/* chains up to the first frame not handled; the rest go back to the avail ring */
	unsigned upto = n < vp->nframes ? vp->fchain[n] : vp->nchains;
	uint64_t bytes = 0;

	if (vp->nchains == 0)
		return;
	for (unsigned i = 0; i < n && i < vp->nframes; i++)
		bytes += vp->frames[i].len;
	for (unsigned k = 0; k < upto; k++)
		vhost_vq_used(vq, vp->heads[k], 0);
	vq->last_avail = (uint16_t)(vp->start_la + upto);
	if (upto) {
		/* used promptly and in order: a front-end that reconnects rewinds to used idx */
		vhost_vq_publish(vq);
		vhost_vq_call(vq);
	}
	p->stats.rx_packets += n;
	p->stats.rx_bytes += bytes;
	vp->nchains = vp->nframes = 0;
}

/* ---- from the switch into the guest (RX queue) ---- */

static inline int gso_ok(uint8_t gso_type, uint64_t f)
{
	uint8_t t = gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if ((gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(f & VHOST_BIT(VIRTIO_NET_F_GUEST_ECN)))
		return 0;
	switch (t) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return 1;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return !!(f & VHOST_BIT(VIRTIO_NET_F_GUEST_TSO4));
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return !!(f & VHOST_BIT(VIRTIO_NET_F_GUEST_TSO6));
	case VIRTIO_NET_HDR_GSO_UDP:
		return !!(f & VHOST_BIT(VIRTIO_NET_F_GUEST_UFO));
	}
	return 0;
}

/*
 * A GSO frame the guest cannot take (feature not negotiated, or no GUEST_CSUM): cut
 * it in software and hand the segments over with a zero header (checksums complete).
 * The guest's avail count is checked first (a segment fits one chain: mergeable
 * buffers hold at least a 1518-byte frame, big buffers 64 KiB), so the segments go in
 * all or none. Returns segments delivered (> 0); 0: no room (nothing consumed);
 * -1: dropped and counted here (drop_gso).
 */
static int gso_deliver(struct vhost_port *vp, struct vhost_vq *vq, const struct vnm_frame *f,
		       uint64_t *bytes)
{
	static const uint8_t zero[VHOST_HDR_LEN];
	struct vnm_dport *p = &vp->dp;

	if (!vp->gso_scratch) {
		vp->gso_scratch = malloc(VNM_GSO_SCRATCH);
		vp->gso_segs = malloc(VNM_GSO_MAX_SEGS * sizeof(*vp->gso_segs));
		if (!vp->gso_scratch || !vp->gso_segs) {
			free(vp->gso_scratch);
			free(vp->gso_segs);
			vp->gso_scratch = NULL;
			vp->gso_segs = NULL;
			p->stats.drop_gso++;
			return -1;
		}
	}
	int ns = vnm_gso_segment(f, vp->gso_segs, VNM_GSO_MAX_SEGS, vp->gso_scratch,
				 VNM_GSO_SCRATCH);
	if (ns < 0) {
		p->stats.drop_gso++;
		return -1;
	}
	int avail = vhost_vq_avail(vq);
	if (avail < ns)
		return 0;
	int done = 0;
	for (int g = 0; g < ns; g++) {
		int ret = vhost_vq_rx(vq, zero, &vp->gso_segs[g], -1, 0);
		if (ret < 0) {
			/* only a guest that lied about its buffers gets here: the rest is lost */
			p->stats.drop_bad_slot += (uint64_t)(ns - g);
			break;
		}
		*bytes += vp->gso_segs[g].len;
		done++;
	}
	p->stats.gso_segs += (uint64_t)done;
	vp->rx_touched = 1;
	return done ? done : -1;
}

static int vh_deliver(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		      unsigned n)
{
	struct vhost_port *vp = to_vp(p);
	struct vhost_vq *vq = &vp->dev.vq[RXQ];
	uint64_t bytes = 0, pkts = 0;
	unsigned i;

	if (!vq->started || !vq->enabled)
		return 0;
	if (vhost_vq_avail(vq) < 0) {
		p->stats.ring_resets++;
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[idx[i]];
		struct virtio_net_hdr_mrg h;
		int32_t ppos = -1;
		uint16_t pval = 0;

		memset(&h, 0, sizeof(h));
		if (unlikely(f->flags & VNM_FRAME_F_VNET)) {
			memcpy(&h, f->vnet_hdr, sizeof(h));
			h.num_buffers = 0;
			int need_csum = (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
					!(vq->features & VHOST_BIT(VIRTIO_NET_F_GUEST_CSUM));
			if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE &&
			    (!gso_ok(h.gso_type, vq->features) || need_csum)) {
				int ns = gso_deliver(vp, vq, f, &bytes);
				if (ns == 0)
					break; /* no room: the switch counts the rest (drop_full) */
				if (ns > 0)
					pkts += (uint64_t)ns;
				continue;
			}
			if (need_csum) {
				/* complete the checksum in software, in the copy */
				ppos = (int32_t)h.csum_start + h.csum_offset;
				pval = vnm_vnet_csum(f, h.csum_start);
				h.flags = 0;
			}
		}
		int ret = vhost_vq_rx(vq, (const uint8_t *)&h, f, ppos, pval);
		if (ret == -ENOBUFS)
			break; /* the rest does not fit: the switch counts drop_full */
		if (ret == -EMSGSIZE) {
			p->stats.drop_oversize++;
			continue;
		}
		if (ret < 0) {
			p->stats.drop_bad_slot++;
			vp->rx_touched = 1;
			continue;
		}
		pkts++;
		bytes += f->len;
		vp->rx_touched = 1;
	}
	if (vp->rx_touched)
		vhost_vq_publish(vq); /* the interrupt waits for deliver_flush */
	p->stats.tx_packets += pkts;
	p->stats.tx_bytes += bytes;
	return (int)i;
}

static void vh_deliver_flush(struct vnm_dport *p)
{
	struct vhost_port *vp = to_vp(p);

	if (!vp->rx_touched)
		return;
	vp->rx_touched = 0;
	vhost_vq_call(&vp->dev.vq[RXQ]);
}

static unsigned vh_space(struct vnm_dport *p)
{
	struct vhost_port *vp = to_vp(p);
	struct vhost_vq *vq = &vp->dev.vq[RXQ];

	if (!vq->started || !vq->enabled)
		return 0;
	vp->rx_want_kick = 1;
	int a = vhost_vq_avail(vq);
	return a > 0 ? (unsigned)a : 0;
}

static int vh_sleep_prepare(struct vnm_dport *p)
{
	struct vhost_port *vp = to_vp(p);
	int work = 0;

	if (vp->dev.vq[TXQ].started)
		work |= vhost_vq_enable_notify(&vp->dev.vq[TXQ]);
	if (vp->rx_want_kick && vp->dev.vq[RXQ].started)
		work |= vhost_vq_enable_notify(&vp->dev.vq[RXQ]);
	return work;
}

static void vh_wake(struct vnm_dport *p)
{
	struct vhost_port *vp = to_vp(p);

	for (unsigned q = 0; q < VHOST_QUEUES; q++)
		if (vp->dev.vq[q].started)
			vhost_vq_disable_notify(&vp->dev.vq[q]);
	vp->rx_want_kick = 0;
}

static const struct vnm_dport_ops vhost_ops = {
	.rx_batch = vh_rx_batch,
	.rx_done = vh_rx_done,
	.deliver = vh_deliver,
	.deliver_flush = vh_deliver_flush,
	.space = vh_space,
	.sleep_prepare = vh_sleep_prepare,
	.wake = vh_wake,
};

/* ---- device hooks (main thread) ---- */

static void vp_pause(struct vhost_dev *d)
{
	struct vhost_port *vp = d->opaque;

	if (vp->paused++ == 0 && vp->sw && vp->dp.sw_idx >= 0)
		vnm_switch_detach(vp->sw, &vp->dp); /* returns when the switch thread is out */
}

static void vp_resume(struct vhost_dev *d)
{
	struct vhost_port *vp = d->opaque;

	if (--vp->paused == 0 && vp->sw && vp->dp.sw_idx < 0) {
		int ret = vnm_switch_attach(vp->sw, &vp->dp);
		if (ret < 0)
			vnm_log(VNM_LOG_ERR, "vhost %s: cannot re-attach: %s", vp->dp.name,
				strerror(-ret));
		/* RX kicks only when asked for (sleep_prepare) */
		if (vp->dev.vq[RXQ].started)
			vhost_vq_disable_notify(&vp->dev.vq[RXQ]);
		vnm_switch_kick(vp->sw);
	}
}

static void vp_kick_changed(struct vhost_dev *d, unsigned qi, int old_fd, int new_fd)
{
	struct vhost_port *vp = d->opaque;

	if (!vp->sw)
		return;
	if (old_fd >= 0)
		vnm_switch_unwatch_fd(vp->sw, old_fd);
	if (new_fd >= 0)
		vnm_switch_watch_fd(vp->sw, new_fd);
	vnm_switch_kick(vp->sw);
}

static const struct vhost_dev_ops vp_dev_ops = {
	.pause = vp_pause,
	.resume = vp_resume,
	.kick_changed = vp_kick_changed,
	.close_fd = vnm_defer_close,
};

struct vnm_dport *vnm_vhost_port_create(const char *name, const char *path, int server,
					char *err, size_t errlen)
{
	struct vhost_port *vp = calloc(1, sizeof(*vp));

	if (!vp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(vp->dp.name, sizeof(vp->dp.name), "%s", name);
	snprintf(vp->dp.stats.name, sizeof(vp->dp.stats.name), "%s", name);
	vp->dp.ops = &vhost_ops;
	vp->dp.priv = vp;
	vp->dp.sw_idx = -1;
	vp->dp.vnet_hdr_len = VHOST_HDR_LEN;
	vhost_dev_init(&vp->dev, &vp_dev_ops, vp);
	if (vhost_conn_start(&vp->conn, &vp->dev, name, path, server, err, errlen) < 0) {
		free(vp);
		return NULL;
	}
	return &vp->dp;
}

void vnm_vhost_port_destroy(struct vnm_dport *p)
{
	struct vhost_port *vp;

	if (!p)
		return;
	vp = to_vp(p);
	vhost_conn_stop(&vp->conn); /* resets the device */
	vhost_dev_reset(&vp->dev);
	free(vp->gso_scratch);
	free(vp->gso_segs);
	free(vp);
}

void vnm_vhost_port_attached(struct vnm_dport *p, struct vnm_switch *sw)
{
	struct vhost_port *vp = to_vp(p);

	vp->sw = sw;
	for (unsigned q = 0; q < VHOST_QUEUES; q++)
		if (vp->dev.vq[q].kick_fd >= 0)
			vnm_switch_watch_fd(sw, vp->dev.vq[q].kick_fd);
	vnm_switch_kick(sw);
}

void vnm_vhost_port_detached(struct vnm_dport *p)
{
	struct vhost_port *vp = to_vp(p);

	if (!vp->sw)
		return;
	for (unsigned q = 0; q < VHOST_QUEUES; q++)
		if (vp->dev.vq[q].kick_fd >= 0)
			vnm_switch_unwatch_fd(vp->sw, vp->dev.vq[q].kick_fd);
	vp->sw = NULL;
}

void vnm_vhost_port_withhold(struct vnm_dport *p, uint64_t bits)
{
	to_vp(p)->dev.withheld = bits & ~VHOST_BIT(VIRTIO_F_VERSION_1);
}

int vnm_dport_is_vhost(const struct vnm_dport *p)
{
	return p && p->ops == &vhost_ops;
}

const char *vnm_vhost_port_path(const struct vnm_dport *p, int *server, int *connected)
{
	const struct vhost_port *vp = (const struct vhost_port *)p;

	if (server)
		*server = vp->conn.server;
	if (connected)
		*connected = vp->conn.fd >= 0;
	return vp->conn.path;
}
