// SPDX-License-Identifier: BSD-2-Clause
/*
 * tap_port.c - a TAP device as a switch port: the switch's door into the host
 * stack (vale-ctl -h valeX:TAPNAME). vnetmapd creates the TAP (or opens an existing
 * one) with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, a 12-byte header (TUNSETVNETHDRSZ) and
 * TUNSETOFFLOAD(CSUM|TSO4|TSO6|TSO_ECN), so Linux hands us TSO/partial-checksum
 * frames with their header and takes ours the same way (vnet_hdr_len 12, as vhost
 * ports: guest <-> host stack frames keep their offloads, no software segmentation).
 *
 * TAP forces one read()/write() per frame; beyond that nothing: rx_batch reads
 * (readv: header + buffer) until EAGAIN or the batch bound (TAP_BATCH), frames point
 * into port-owned buffers (one copy in, by the kernel); deliver writes each frame
 * with writev straight from the source's buffers (one copy out, by the kernel).
 * A full TAP queue (EAGAIN) or a TAP that is down (EIO) ends delivery: the switch
 * counts the rest as drop_full.
 *
 * Security model: what Linux sends on the TAP is arbitrary (any local process may
 * transmit on it): lengths come from read()'s return, bounded by our buffers; the
 * header is checked (vnm_kernel_hdr_check) before a frame carries it.
 *
 * Threading: dport ops on the switch thread; create/destroy/attached/detached on the
 * main thread (watch/unwatch synchronise with the switch thread). The port is never
 * lossless: frames read but not consumed by rx_done are dropped (counted drop_full).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/hostport.h"
#include "vale/switch.h"

#define TAP_BATCH 64
#define TAP_BUF (VNM_FRAME_MAX + 256) /* a read that fills it was truncated */

struct tap_port {
	struct vnm_dport dp; /* first */
	int fd;
	int dead;      /* the device went away: fd now refers to a never-readable eventfd */
	char ifname[IF_NAMESIZE];
	struct vnm_switch *sw;
	unsigned nframes;
	const struct vnm_frame *frames;
	struct virtio_net_hdr_mrg hdr[TAP_BATCH];
	uint8_t *buf[TAP_BATCH];
};

static const struct virtio_net_hdr_mrg zero_hdr;

static inline struct tap_port *to_tp(struct vnm_dport *p)
{
	return (struct tap_port *)p;
}

/*
 * The TAP device was deleted (its namespace went, ip link del): its fd polls EPOLLERR
 * forever and the switch would never sleep. Switch thread: swap the fd number over to
 * a fresh eventfd (dup2 is atomic; releasing the TAP file removes it from the switch's
 * epoll set), so unwatch/close at detach still act on our own fd number.
 */
static void tap_gone(struct tap_port *tp, int err)
{
	int e;

	tp->dp.stats.ring_resets++;
	if (tp->dead)
		return;
	tp->dead = 1;
	vnm_log(VNM_LOG_WARN, "tap %s: %s: device gone, port dropping (vale-ctl -d it)",
		tp->ifname, strerror(err));
	e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e >= 0) {
		dup2(e, tp->fd);
		close(e);
	}
}

static int tap_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct tap_port *tp = to_tp(p);
	unsigned nf = 0;

	tp->frames = frames;
	tp->nframes = 0;
	if (tp->dead)
		return 0;
	if (max > TAP_BATCH)
		max = TAP_BATCH;
	while (nf < max) {
		struct iovec v[2] = {
			{ .iov_base = &tp->hdr[nf], .iov_len = VHOST_HDR_LEN },
			{ .iov_base = tp->buf[nf], .iov_len = TAP_BUF },
		};
		ssize_t r = readv(tp->fd, v, 2);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EBADFD)
				tap_gone(tp, errno);
			else if (errno != EAGAIN)
				p->stats.ring_resets++;
			break;
		}
		if (r == 0)
			break;
		uint32_t len = (uint32_t)r > VHOST_HDR_LEN ? (uint32_t)r - VHOST_HDR_LEN : 0;
		if (len < 14) {
			p->stats.drop_runt++;
			continue;
		}
		if (len > VNM_FRAME_MAX) {
			p->stats.drop_oversize++;
			continue;
		}
		struct virtio_net_hdr_mrg *h = &tp->hdr[nf];
		h->num_buffers = 0;
		int c = vnm_kernel_hdr_check(h, len);
		if (c < 0) {
			p->stats.drop_bad_slot++;
			continue;
		}
		struct vnm_frame *f = &frames[nf];
		f->flags = c ? VNM_FRAME_F_VNET : 0;
		f->vnet_hdr = c ? h : NULL;
		f->len = len;
		f->nfrags = 0;
		for (uint32_t o = 0; o < len;) {
			uint32_t k = len - o > 65535 ? 65535 : len - o;
			f->frag[f->nfrags] = tp->buf[nf] + o;
			f->frag_len[f->nfrags++] = (uint16_t)k;
			o += k;
		}
		nf++;
	}
	tp->nframes = nf;
	return (int)nf;
}

static void tap_rx_done(struct vnm_dport *p, unsigned n)
{
	struct tap_port *tp = to_tp(p);
	uint64_t bytes = 0;

	if (n > tp->nframes)
		n = tp->nframes;
	for (unsigned i = 0; i < n; i++)
		bytes += tp->frames[i].len;
	p->stats.drop_full += tp->nframes - n; /* read from the TAP, not taken */
	p->stats.rx_packets += n;
	p->stats.rx_bytes += bytes;
	tp->nframes = 0;
}

static int tap_deliver(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		       unsigned n)
{
	struct tap_port *tp = to_tp(p);
	uint64_t bytes = 0, pkts = 0;
	unsigned i;

	if (tp->dead)
		return 0; /* counted drop_full */
	for (i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[idx[i]];
		struct iovec v[1 + NM_MAX_FRAGS];

		v[0].iov_base = (void *)((f->flags & VNM_FRAME_F_VNET) ? f->vnet_hdr : &zero_hdr);
		v[0].iov_len = VHOST_HDR_LEN; /* num_buffers: ignored by TAP */
		for (unsigned k = 0; k < f->nfrags; k++) {
			v[1 + k].iov_base = (void *)f->frag[k];
			v[1 + k].iov_len = f->frag_len[k];
		}
		ssize_t r = writev(tp->fd, v, 1 + f->nfrags);
		if (r < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			if (errno == EAGAIN || errno == EIO || errno == ENOBUFS)
				break; /* full or down: the rest are drop_full */
			if (errno == EBADFD) {
				tap_gone(tp, errno);
				break;
			}
			p->stats.drop_bad_slot++; /* EINVAL: TAP refused the header */
			continue;
		}
		pkts++;
		bytes += f->len;
	}
	p->stats.tx_packets += pkts;
	p->stats.tx_bytes += bytes;
	return (int)i;
}

static void tap_deliver_flush(struct vnm_dport *p)
{
	(void)p;
}

static unsigned tap_space(struct vnm_dport *p)
{
	(void)p;
	return TAP_BATCH;
}

static int tap_sleep_prepare(struct vnm_dport *p)
{
	(void)p;
	return 0; /* the fd is watched level-triggered: a frame queued meanwhile wakes us */
}

static void tap_wake(struct vnm_dport *p)
{
	(void)p;
}

static const struct vnm_dport_ops tap_ops = {
	.rx_batch = tap_rx_batch,
	.rx_done = tap_rx_done,
	.deliver = tap_deliver,
	.deliver_flush = tap_deliver_flush,
	.space = tap_space,
	.sleep_prepare = tap_sleep_prepare,
	.wake = tap_wake,
};

struct vnm_dport *vnm_tap_port_create(const char *ifname, char *err, size_t errlen)
{
	struct tap_port *tp;
	struct ifreq ifr;
	int hs = VHOST_HDR_LEN;

	if (strlen(ifname) >= IF_NAMESIZE) {
		snprintf(err, errlen, "interface name %s too long", ifname);
		return NULL;
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tp->fd = -1;
	for (unsigned i = 0; i < TAP_BATCH; i++) {
		tp->buf[i] = malloc(TAP_BUF);
		if (!tp->buf[i]) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	tp->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tp->fd < 0) {
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(tp->fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "TUNSETIFF %s: %s%s", ifname, strerror(errno),
			 errno == EBUSY ? " (another process has it open, e.g. QEMU: attach it "
					  "with vale-ctl -a instead)" : "");
		goto fail;
	}
	if (ioctl(tp->fd, TUNSETVNETHDRSZ, &hs) < 0) {
		snprintf(err, errlen, "TUNSETVNETHDRSZ: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(tp->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) < 0)
		vnm_log(VNM_LOG_WARN, "tap %s: TUNSETOFFLOAD: %s (no offloads)", ifname,
			strerror(errno));
	snprintf(tp->ifname, sizeof(tp->ifname), "%s", ifname);
	snprintf(tp->dp.name, sizeof(tp->dp.name), "%s", ifname);
	snprintf(tp->dp.stats.name, sizeof(tp->dp.stats.name), "%s", ifname);
	tp->dp.ops = &tap_ops;
	tp->dp.priv = tp;
	tp->dp.sw_idx = -1;
	tp->dp.vnet_hdr_len = VHOST_HDR_LEN;
	vnm_log(VNM_LOG_INFO, "tap %s: host stack port (IFF_VNET_HDR 12, csum/TSO offloads)",
		ifname);
	return &tp->dp;
fail:
	if (tp->fd >= 0)
		close(tp->fd);
	for (unsigned i = 0; i < TAP_BATCH; i++)
		free(tp->buf[i]);
	free(tp);
	return NULL;
}

void vnm_tap_port_destroy(struct vnm_dport *p)
{
	struct tap_port *tp;

	if (!p)
		return;
	tp = to_tp(p);
	close(tp->fd); /* a TAP we created (not persistent) goes with it */
	for (unsigned i = 0; i < TAP_BATCH; i++)
		free(tp->buf[i]);
	free(tp);
}

void vnm_tap_port_attached(struct vnm_dport *p, struct vnm_switch *sw)
{
	struct tap_port *tp = to_tp(p);
	int ret = vnm_switch_watch_fd2(sw, tp->fd, VNM_WATCH_NODRAIN);

	if (ret < 0)
		vnm_log(VNM_LOG_ERR, "tap %s: cannot watch its fd: %s", tp->ifname, strerror(-ret));
	tp->sw = sw;
	vnm_switch_kick(sw);
}

void vnm_tap_port_detached(struct vnm_dport *p)
{
	struct tap_port *tp = to_tp(p);

	if (tp->sw)
		vnm_switch_unwatch_fd(tp->sw, tp->fd);
	tp->sw = NULL;
}
