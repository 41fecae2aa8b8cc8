// SPDX-License-Identifier: BSD-2-Clause
/*
 * socket_port.c - a switch port over a UNIX socket in QEMU's framing, so any QEMU
 * front-end reaches a VALE switch with no root, no TAP and no vhost-user:
 *   stream (-netdev stream, legacy -netdev socket): every frame is a 4-byte big-endian
 *     length then the frame. vnetmapd connects to path and reconnects every second
 *     (QEMU server=on), or listens at path and takes one peer at a time (QEMU server=off).
 *   dgram (-netdev dgram): one datagram per frame; vnetmapd binds path and sends to
 *     peer_path; only datagrams whose source address is peer_path are taken.
 * No virtio-net header (vnet_hdr_len 0): an offloaded frame is cut by vnm_gso_segment()
 * (vhost/gso.h) and a partial checksum completed on the way out; what cannot be done is
 * dropped and counted (drop_gso).
 *
 * Data path: rx_batch reads what the socket has (stream: into a 256 KiB per-port buffer,
 * frames point into it; dgram: recvmmsg into 64 per-port buffers), never waiting; one
 * copy in (the kernel's), one copy out (sendmsg straight from the source's buffers).
 * deliver never blocks: a full socket drops the rest (drop_full); a stream write cut
 * short keeps its remainder in a bounded per-port buffer (one frame, or the segments of
 * one GSO frame) that goes out before anything else, so the framing is never broken.
 *
 * Security model: the peer is untrusted. Stream: a length prefix outside 14..65535 resets
 * the connection as soon as the 4 bytes are in (counted in ring_resets, logged once per
 * port); frames are bounded by the buffer, which always has room for a whole one, so a
 * peer that sends half a frame and stalls only holds its own buffer (the switch thread
 * never waits); a connection that ends inside a frame counts drop_bad_slot. Dgram: a
 * datagram over 65535 bytes (MSG_TRUNC) counts drop_oversize, under 14 drop_runt, from
 * another source drop_bad_slot. A peer that never reads only loses its own frames
 * (drop_full). Socket files are created 0600 (the daemon's umask 077; --group: 0660 of
 * the group); a stale socket at path is replaced, anything else at path is refused.
 *
 * Threading: the dport ops run on the switch thread, which alone uses `fd` (or the main
 * thread while the port is detached). Connections are made on the main thread (accept,
 * connect timer) and handed over through `handoff` (store-release by main, exchange-
 * acquire by the switch thread). When the switch thread gives a connection up (peer
 * closed, error, bad length) it shuts it down, stops using it, sets `gone` (release) and
 * writes an eventfd; the main thread then unwatches and closes it, and reconnects or
 * accepts again. So only the main thread ever closes a connection, and only when no
 * switch thread uses it.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/socket_port.h"
#include "region_alloc.h"
#include "vale/switch.h"
#include "vhost/gso.h"
#include "vhost/vnet.h"

#define SP_FRAME_MIN 14
#define SP_FRAME_MAX 65535        /* what either framing carries (QEMU's 16-bit world) */
#define SP_RBUF (256 * 1024)      /* stream RX buffer: > 2 frames, so a full one holds one */
#define SP_DG_BATCH 64            /* datagrams per rx_batch */
#define SP_PEND_MAX (VNM_GSO_SCRATCH + 4 * VNM_GSO_MAX_SEGS) /* one frame's segments */
#define SP_IOV 1024               /* UIO_MAXIOV */
#define RETRY_MS 1000

struct sock_port {
	struct vnm_dport dp; /* first */
	uint32_t flags;      /* VNM_SOCK_* */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char peer[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un peer_sa;

	/* main thread */
	struct vnm_evsrc ev_aux;  /* listening socket (server) or retry timer (client) */
	struct vnm_evsrc ev_conn; /* the stream peer hung up (acted on while detached) */
	struct vnm_evsrc ev_gone; /* the switch thread gave its connection up */
	int aux_fd, gone_fd;
	int conn_fd;              /* the stream connection or the dgram socket, -1 */
	int watched;              /* conn_fd is in sw's epoll set */
	int owns_path;            /* we bound path: unlink it at destroy */
	int retry_logged;
	struct vnm_switch *sw;

	/* between the threads (atomics) */
	int handoff;              /* main -> switch: a new connection, -1 none */
	int gone;                 /* switch -> main: fd given up (why[] written before) */
	int connected;            /* for listings */
	char why[96];

	/* switch thread (main thread while detached) */
	int fd;
	unsigned bad_logged;
	unsigned nframes;
	const struct vnm_frame *frames;
	uint8_t *rbuf;            /* stream RX: frames in [rhead, rfill) */
	uint32_t rhead, rfill;
	uint8_t *pend;            /* stream TX: bytes of a cut write, [poff, plen) */
	uint32_t poff, plen;
	uint8_t *dbuf[SP_DG_BATCH];
	struct mmsghdr mm[SP_DG_BATCH];
	struct iovec miov[SP_DG_BATCH];
	struct sockaddr_un msrc[SP_DG_BATCH];
	uint8_t *scratch;         /* VNM_GSO_SCRATCH: segments / checksummed copy */
	struct vnm_frame *segs;   /* [VNM_GSO_MAX_SEGS] */
	uint8_t lenhdr[VNM_GSO_MAX_SEGS][4];
	uint32_t cend[VNM_GSO_MAX_SEGS]; /* stream batch: byte offset where frame k ends */
	uint16_t fend[VNM_GSO_MAX_SEGS]; /* stream batch: iov index after frame k */
	struct iovec iov[SP_IOV];
};

#define container_of(ptr, T, m) ((T *)((char *)(ptr) - offsetof(T, m)))

static inline struct sock_port *to_sp(struct vnm_dport *p)
{
	return (struct sock_port *)p;
}

static inline int is_stream(const struct sock_port *sp)
{
	return !!(sp->flags & VNM_SOCK_STREAM);
}

/* ---- switch thread ------------------------------------------------------------------ */

/* A new connection from the main thread: start it with empty buffers. */
static inline int sp_take(struct sock_port *sp)
{
	if (likely(sp->fd >= 0))
		return 1;
	int h = __atomic_exchange_n(&sp->handoff, -1, __ATOMIC_ACQUIRE);
	if (h < 0)
		return 0;
	sp->fd = h;
	sp->rhead = sp->rfill = 0;
	sp->poff = sp->plen = 0;
	return 1;
}

/*
 * Give the connection up: the peer sees EOF now, the main thread closes it (and
 * reconnects). Frames of the current batch stay valid (rbuf is reset only by the next
 * sp_take, after rx_done).
 */
static void sp_gone(struct sock_port *sp, const char *why)
{
	uint64_t one = 1;

	if (sp->fd < 0)
		return;
	shutdown(sp->fd, SHUT_RDWR);
	sp->fd = -1;
	snprintf(sp->why, sizeof(sp->why), "%s", why);
	__atomic_store_n(&sp->gone, 1, __ATOMIC_RELEASE);
	ssize_t r = write(sp->gone_fd, &one, sizeof(one));
	(void)r;
}

/* Write the remainder of a cut frame. 0: nothing pending any more, 1: still pending. */
static int sp_flush(struct sock_port *sp)
{
	while (sp->poff < sp->plen) {
		ssize_t w = send(sp->fd, sp->pend + sp->poff, sp->plen - sp->poff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != ENOBUFS)
				sp_gone(sp, strerror(errno));
			return 1;
		}
		sp->poff += (uint32_t)w;
	}
	sp->poff = sp->plen = 0;
	return 0;
}

static void sp_bad_len(struct sock_port *sp, uint32_t len)
{
	sp->dp.stats.ring_resets++;
	if (sp->bad_logged++ == 0)
		vnm_log(VNM_LOG_WARN,
			"socket %s: frame length %u from the peer (allowed %u..%u): connection "
			"reset (later resets are only counted: ring_resets)",
			sp->dp.name, len, SP_FRAME_MIN, SP_FRAME_MAX);
	sp_gone(sp, "bad frame length");
}

static int sp_rx_stream(struct sock_port *sp, struct vnm_frame *frames, unsigned max)
{
	unsigned nf = 0;

	if (sp->rhead == sp->rfill) {
		sp->rhead = sp->rfill = 0;
	} else if (SP_RBUF - sp->rfill < 4 + SP_FRAME_MAX) {
		/* the last batch is consumed: keep the unparsed tail, make room for a frame */
		memmove(sp->rbuf, sp->rbuf + sp->rhead, sp->rfill - sp->rhead);
		sp->rfill -= sp->rhead;
		sp->rhead = 0;
	}
	for (;;) {
		while (nf < max && sp->rfill - sp->rhead >= 4) {
			const uint8_t *b = sp->rbuf + sp->rhead;
			uint32_t len = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
				       (uint32_t)b[2] << 8 | b[3];

			if (unlikely(len < SP_FRAME_MIN || len > SP_FRAME_MAX)) {
				sp_bad_len(sp, len);
				return (int)nf;
			}
			if (sp->rfill - sp->rhead - 4 < len)
				break;
			struct vnm_frame *f = &frames[nf++];
			f->nfrags = 1;
			f->flags = 0;
			f->len = len;
			f->frag[0] = b + 4;
			f->frag_len[0] = (uint16_t)len;
			f->vnet_hdr = NULL;
			sp->rhead += 4 + len;
		}
		/*
		 * The fd is watched edge-triggered: read until EAGAIN unless the batch is full
		 * (we return > 0, so the switch runs another round). A full buffer holds a
		 * complete frame (SP_RBUF > 2 frames), so it also means nf > 0.
		 */
		if (nf == max || sp->rfill == SP_RBUF)
			break;
		ssize_t r = recv(sp->fd, sp->rbuf + sp->rfill, SP_RBUF - sp->rfill, MSG_DONTWAIT);
		if (r > 0) {
			sp->rfill += (uint32_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS))
			break;
		if (sp->rfill > sp->rhead)
			sp->dp.stats.drop_bad_slot++; /* a frame cut by the end of the connection */
		sp_gone(sp, r == 0 ? "peer closed" : strerror(errno));
		break;
	}
	return (int)nf;
}

static int sp_from_peer(const struct sock_port *sp, const struct sockaddr_un *a, socklen_t alen)
{
	size_t off = offsetof(struct sockaddr_un, sun_path), pl = strlen(sp->peer);

	if (alen <= off || a->sun_family != AF_UNIX)
		return 0; /* unnamed */
	size_t l = strnlen(a->sun_path, alen - off);
	if (l == pl && memcmp(a->sun_path, sp->peer, pl) == 0)
		return 1;
	/* a peer that bound a relative path: its source is the tail of our absolute one */
	return l && l < pl && a->sun_path[0] != '/' && sp->peer[pl - l - 1] == '/' &&
	       memcmp(a->sun_path, sp->peer + pl - l, l) == 0;
}

static int sp_rx_dgram(struct sock_port *sp, struct vnm_frame *frames, unsigned max)
{
	unsigned want = max < SP_DG_BATCH ? max : SP_DG_BATCH, nf = 0;

	for (unsigned i = 0; i < want; i++) {
		sp->miov[i].iov_base = sp->dbuf[i];
		sp->miov[i].iov_len = SP_FRAME_MAX;
		memset(&sp->mm[i].msg_hdr, 0, sizeof(sp->mm[i].msg_hdr));
		sp->mm[i].msg_hdr.msg_name = &sp->msrc[i];
		sp->mm[i].msg_hdr.msg_namelen = sizeof(sp->msrc[i]);
		sp->mm[i].msg_hdr.msg_iov = &sp->miov[i];
		sp->mm[i].msg_hdr.msg_iovlen = 1;
	}
	int r = recvmmsg(sp->fd, sp->mm, want, MSG_DONTWAIT, NULL);
	if (r <= 0)
		return 0; /* EAGAIN; a dgram socket has no other lasting error */
	for (int i = 0; i < r; i++) {
		uint32_t len = sp->mm[i].msg_len;

		if (sp->mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
			sp->dp.stats.drop_oversize++;
			continue;
		}
		if (!sp_from_peer(sp, &sp->msrc[i], sp->mm[i].msg_hdr.msg_namelen)) {
			sp->dp.stats.drop_bad_slot++;
			continue;
		}
		if (len < SP_FRAME_MIN) {
			sp->dp.stats.drop_runt++;
			continue;
		}
		struct vnm_frame *f = &frames[nf++];
		f->nfrags = 1;
		f->flags = 0;
		f->len = len;
		f->frag[0] = sp->dbuf[i];
		f->frag_len[0] = (uint16_t)len;
		f->vnet_hdr = NULL;
	}
	return (int)nf;
}

static int sp_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct sock_port *sp = to_sp(p);
	int n;

	sp->frames = frames;
	sp->nframes = 0;
	if (!sp_take(sp))
		return 0;
	if (unlikely(sp->plen))
		sp_flush(sp); /* woken by EPOLLOUT: the cut frame goes on */
	if (sp->fd < 0)
		return 0;
	n = is_stream(sp) ? sp_rx_stream(sp, frames, max) : sp_rx_dgram(sp, frames, max);
	sp->nframes = (unsigned)n;
	return n;
}

static void sp_rx_done(struct vnm_dport *p, unsigned n)
{
	struct sock_port *sp = to_sp(p);
	uint64_t bytes = 0;

	if (n > sp->nframes)
		n = sp->nframes;
	for (unsigned i = 0; i < n; i++)
		bytes += sp->frames[i].len;
	p->stats.drop_full += sp->nframes - n; /* read from the socket, not taken */
	p->stats.rx_packets += n;
	p->stats.rx_bytes += bytes;
	sp->nframes = 0;
}

/*
 * An offloaded frame for a peer with no header: segments (GSO), or one frame with its
 * partial checksum completed, in sp->segs (bytes in sp->scratch). Returns their count,
 * or < 0 (drop_gso).
 */
static int sp_offload(struct sock_port *sp, const struct vnm_frame *f)
{
	struct virtio_net_hdr_mrg h;
	int ns;

	memcpy(&h, f->vnet_hdr, sizeof(h)); /* once */
	ns = vnm_gso_segment(f, sp->segs, VNM_GSO_MAX_SEGS, sp->scratch, VNM_GSO_SCRATCH);
	if (ns > 0 && h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		sp->dp.stats.gso_segs += (uint64_t)ns;
	return ns;
}

/*
 * Send segs[0..ns) as one unit (the segments of one frame). 1: all sent, 2: sent with
 * a remainder kept in pend (deliver stops there), 0: nothing sent (full, or the
 * connection is gone), -1: dropped and counted (deliver goes on).
 */
static int sp_send_stream(struct sock_port *sp, const struct vnm_frame *segs, unsigned ns)
{
	unsigned niov = 0, first = 0;
	size_t done = 0;

	for (unsigned s = 0; s < ns; s++) {
		const struct vnm_frame *f = &segs[s];
		if (f->len > SP_FRAME_MAX || f->len < SP_FRAME_MIN) {
			if (f->len > SP_FRAME_MAX)
				sp->dp.stats.drop_oversize++;
			else
				sp->dp.stats.drop_runt++;
			return -1;
		}
		if (niov + 1 + f->nfrags > SP_IOV) {
			sp->dp.stats.drop_oversize++;
			return -1;
		}
		sp->lenhdr[s][0] = (uint8_t)(f->len >> 24);
		sp->lenhdr[s][1] = (uint8_t)(f->len >> 16);
		sp->lenhdr[s][2] = (uint8_t)(f->len >> 8);
		sp->lenhdr[s][3] = (uint8_t)f->len;
		sp->iov[niov].iov_base = sp->lenhdr[s];
		sp->iov[niov++].iov_len = 4;
		for (unsigned k = 0; k < f->nfrags; k++) {
			sp->iov[niov].iov_base = (void *)f->frag[k];
			sp->iov[niov++].iov_len = f->frag_len[k];
		}
	}
	while (first < niov) {
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = sp->iov + first;
		mh.msg_iovlen = niov - first;
		ssize_t w = sendmsg(sp->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS) {
				if (done == 0)
					return 0;
				break;
			}
			sp_gone(sp, strerror(errno));
			return done ? 1 : 0; /* a cut frame on a dead connection: gone with it */
		}
		done += (size_t)w;
		while (first < niov && (size_t)w >= sp->iov[first].iov_len) {
			w -= (ssize_t)sp->iov[first].iov_len;
			first++;
		}
		if (first < niov && w) {
			sp->iov[first].iov_base = (uint8_t *)sp->iov[first].iov_base + w;
			sp->iov[first].iov_len -= (size_t)w;
		}
	}
	if (first == niov)
		return 1;
	/* cut: the rest goes out before anything else (at most one frame's segments) */
	sp->poff = sp->plen = 0;
	for (; first < niov; first++) {
		memcpy(sp->pend + sp->plen, sp->iov[first].iov_base, sp->iov[first].iov_len);
		sp->plen += (uint32_t)sp->iov[first].iov_len;
	}
	return 2;
}

/*
 * Stream: the plain frames idx[i..n) in one sendmsg (as many as the iovec and the length
 * headers allow), so a batch costs one system call, not one per frame. Returns how many
 * were taken: sent whole, the last one possibly cut with its remainder kept in pend (the
 * frames after a cut one are not taken). *stop: deliver must stop (socket full, a cut
 * frame, the connection gone). 0 with *stop 0: frame i is not a plain frame of a valid
 * length: the caller sends it alone.
 */
static unsigned sp_stream_batch(struct sock_port *sp, const struct vnm_frame *frames,
				const uint16_t *idx, unsigned i, unsigned n, int *stop)
{
	unsigned k = 0, niov = 0, first = 0;
	size_t total = 0, done = 0;

	*stop = 0;
	while (i + k < n && k < VNM_GSO_MAX_SEGS) {
		const struct vnm_frame *f = &frames[idx[i + k]];
		if ((f->flags & VNM_FRAME_F_VNET) || f->len < SP_FRAME_MIN ||
		    f->len > SP_FRAME_MAX || niov + 1 + f->nfrags > SP_IOV)
			break;
		sp->lenhdr[k][0] = 0;
		sp->lenhdr[k][1] = (uint8_t)(f->len >> 16);
		sp->lenhdr[k][2] = (uint8_t)(f->len >> 8);
		sp->lenhdr[k][3] = (uint8_t)f->len;
		sp->iov[niov].iov_base = sp->lenhdr[k];
		sp->iov[niov++].iov_len = 4;
		for (unsigned q = 0; q < f->nfrags; q++) {
			sp->iov[niov].iov_base = (void *)f->frag[q];
			sp->iov[niov++].iov_len = f->frag_len[q];
		}
		total += 4 + f->len;
		sp->cend[k] = (uint32_t)total;
		sp->fend[k] = (uint16_t)niov;
		k++;
	}
	if (k == 0)
		return 0;
	while (first < niov) {
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = sp->iov + first;
		mh.msg_iovlen = niov - first;
		ssize_t w = sendmsg(sp->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			*stop = 1;
			if (errno == EAGAIN || errno == ENOBUFS)
				break;
			sp_gone(sp, strerror(errno));
			unsigned t = 0; /* frames sent whole; a cut one is lost with the connection */
			while (t < k && sp->cend[t] <= done)
				t++;
			return t;
		}
		done += (size_t)w;
		while (first < niov && (size_t)w >= sp->iov[first].iov_len) {
			w -= (ssize_t)sp->iov[first].iov_len;
			first++;
		}
		if (first < niov && w) {
			sp->iov[first].iov_base = (uint8_t *)sp->iov[first].iov_base + w;
			sp->iov[first].iov_len -= (size_t)w;
		}
	}
	if (first == niov)
		return k;
	*stop = 1;
	unsigned t = 0;
	while (t < k && sp->cend[t] <= done)
		t++;
	if (done == (t ? sp->cend[t - 1] : 0))
		return t; /* frame t not started: it and the rest are not taken */
	/* frame t cut: its remainder (only) goes out before anything else */
	sp->poff = sp->plen = 0;
	for (; first < sp->fend[t]; first++) {
		memcpy(sp->pend + sp->plen, sp->iov[first].iov_base, sp->iov[first].iov_len);
		sp->plen += (uint32_t)sp->iov[first].iov_len;
	}
	return t + 1;
}

static int sp_send_dgram(struct sock_port *sp, const struct vnm_frame *segs, unsigned ns)
{
	for (unsigned s = 0; s < ns; s++) {
		const struct vnm_frame *f = &segs[s];
		struct iovec v[NM_MAX_FRAGS];
		struct msghdr mh;

		if (f->len > SP_FRAME_MAX) {
			sp->dp.stats.drop_oversize++;
			return s ? 1 : -1;
		}
		for (unsigned k = 0; k < f->nfrags; k++) {
			v[k].iov_base = (void *)f->frag[k];
			v[k].iov_len = f->frag_len[k];
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &sp->peer_sa;
		mh.msg_namelen = sizeof(sp->peer_sa);
		mh.msg_iov = v;
		mh.msg_iovlen = f->nfrags;
		ssize_t w = sendmsg(sp->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR) {
				s--;
				continue;
			}
			if (errno == EMSGSIZE) {
				sp->dp.stats.drop_oversize++;
				return s ? 1 : -1;
			}
			/* EAGAIN (peer's queue full), ENOENT/ECONNREFUSED (no peer): drop_full */
			return s ? 1 : 0;
		}
	}
	return 1;
}

static int sp_deliver(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		      unsigned n)
{
	struct sock_port *sp = to_sp(p);
	uint64_t bytes = 0, pkts = 0;
	unsigned i;

	if (!sp_take(sp))
		return 0; /* no peer: drop_full */
	if (sp->plen && sp_flush(sp))
		return 0;
	for (i = 0; i < n && sp->fd >= 0; i++) {
		const struct vnm_frame *f = &frames[idx[i]];
		const struct vnm_frame *segs = f;
		int ns = 1, r;

		if (is_stream(sp) && likely(!(f->flags & VNM_FRAME_F_VNET))) {
			int stop;
			unsigned t = sp_stream_batch(sp, frames, idx, i, n, &stop);
			for (unsigned q = 0; q < t; q++)
				bytes += frames[idx[i + q]].len;
			pkts += t;
			if (stop || t) {
				i += t;
				if (stop)
					break; /* the rest: drop_full */
				i--;
				continue;
			}
			/* not a plain frame of a valid length: alone, below (counted there) */
		}
		if (unlikely(f->flags & VNM_FRAME_F_VNET)) {
			ns = sp_offload(sp, f);
			if (ns <= 0) {
				p->stats.drop_gso++;
				continue;
			}
			segs = sp->segs;
		}
		r = is_stream(sp) ? sp_send_stream(sp, segs, (unsigned)ns)
				  : sp_send_dgram(sp, segs, (unsigned)ns);
		if (r == 0)
			break; /* this one and the rest: drop_full */
		if (r < 0)
			continue;
		pkts++;
		bytes += f->len;
		if (r == 2) {
			i++;
			break;
		}
	}
	p->stats.tx_packets += pkts;
	p->stats.tx_bytes += bytes;
	return (int)i;
}

static void sp_deliver_flush(struct vnm_dport *p)
{
	(void)p;
}

static unsigned sp_space(struct vnm_dport *p)
{
	(void)p;
	return VNM_BATCH_MAX; /* never holds a lossless source back: a full socket drops */
}

static int sp_sleep_prepare(struct vnm_dport *p)
{
	struct sock_port *sp = to_sp(p);

	/* a cut frame waits for EPOLLOUT (edge-triggered): try once more before sleeping */
	if (sp->fd >= 0 && sp->plen)
		sp_flush(sp);
	return 0; /* the fd is watched: anything that arrives meanwhile wakes us */
}

static void sp_wake(struct vnm_dport *p)
{
	(void)p;
}

static const struct vnm_dport_ops sock_ops = {
	.rx_batch = sp_rx_batch,
	.rx_done = sp_rx_done,
	.deliver = sp_deliver,
	.deliver_flush = sp_deliver_flush,
	.space = sp_space,
	.sleep_prepare = sp_sleep_prepare,
	.wake = sp_wake,
};

/* ---- main thread -------------------------------------------------------------------- */

static void arm_retry(struct sock_port *sp, int on)
{
	struct itimerspec its;

	if (!is_stream(sp) || (sp->flags & VNM_SOCK_SERVER) || sp->aux_fd < 0)
		return;
	memset(&its, 0, sizeof(its));
	if (on) {
		its.it_value.tv_sec = RETRY_MS / 1000;
		its.it_value.tv_nsec = (RETRY_MS % 1000) * 1000000L;
		its.it_interval = its.it_value;
	}
	timerfd_settime(sp->aux_fd, 0, &its, NULL);
}

static uint32_t watch_flags(const struct sock_port *sp)
{
	/* stream: EPOLLOUT edges resume a cut frame; EPOLLIN is then edge-triggered too */
	return is_stream(sp) ? VNM_WATCH_NODRAIN | VNM_WATCH_OUT_ET : VNM_WATCH_NODRAIN;
}

/* A new connection (or the dgram socket): hand it to whoever runs the port. */
static void conn_install(struct sock_port *sp, int fd)
{
	sp->conn_fd = fd;
	__atomic_store_n(&sp->gone, 0, __ATOMIC_RELAXED);
	if (is_stream(sp) && vnm_ev_add(&sp->ev_conn, fd, EPOLLRDHUP | EPOLLET) < 0)
		vnm_log(VNM_LOG_WARN, "socket %s: epoll: %s", sp->dp.name, strerror(errno));
	if (!sp->sw) {
		/* detached: no switch thread runs the port */
		sp->fd = fd;
		sp->rhead = sp->rfill = 0;
		sp->poff = sp->plen = 0;
	} else {
		int ret = vnm_switch_watch_fd2(sp->sw, fd, watch_flags(sp));
		if (ret < 0)
			vnm_log(VNM_LOG_ERR, "socket %s: cannot watch its fd: %s", sp->dp.name,
				strerror(-ret));
		sp->watched = ret == 0;
		/* publication: the switch thread takes it with an acquire exchange */
		__atomic_store_n(&sp->handoff, fd, __ATOMIC_RELEASE);
		vnm_switch_kick(sp->sw);
	}
	__atomic_store_n(&sp->connected, 1, __ATOMIC_RELAXED);
	arm_retry(sp, 0);
	if (sp->flags & VNM_SOCK_SERVER)
		vnm_ev_del(sp->aux_fd); /* one peer at a time: the next waits in the backlog */
}

/* Close the connection. The switch thread does not use it (detached, or it gave it up). */
static void conn_drop(struct sock_port *sp, const char *why)
{
	if (sp->conn_fd < 0)
		return;
	if (is_stream(sp))
		vnm_ev_del(sp->conn_fd);
	if (sp->watched && sp->sw)
		vnm_switch_unwatch_fd(sp->sw, sp->conn_fd); /* returns after the thread's round */
	sp->watched = 0;
	if (!sp->sw) {
		/* detached (or at destroy): the switch-side state is ours */
		sp->fd = -1;
		__atomic_store_n(&sp->handoff, -1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&sp->gone, 0, __ATOMIC_RELAXED);
	close(sp->conn_fd);
	sp->conn_fd = -1;
	__atomic_store_n(&sp->connected, 0, __ATOMIC_RELAXED);
	if (why && is_stream(sp)) {
		vnm_log(VNM_LOG_INFO, "socket %s: %s: %s", sp->dp.name, why,
			(sp->flags & VNM_SOCK_SERVER) ? "waiting for a peer"
						      : "reconnecting every second");
		sp->retry_logged = 1; /* the failed attempts that follow are not logged */
	}
	if (why)
		arm_retry(sp, 1);
	if (why && (sp->flags & VNM_SOCK_SERVER) && sp->aux_fd >= 0 &&
	    vnm_ev_add(&sp->ev_aux, sp->aux_fd, EPOLLIN) < 0)
		vnm_log(VNM_LOG_ERR, "socket %s: epoll: %s: no more peers", sp->dp.name,
			strerror(errno));
}

static void gone_event(struct vnm_evsrc *src, uint32_t events)
{
	struct sock_port *sp = container_of(src, struct sock_port, ev_gone);
	uint64_t v;
	ssize_t r = read(sp->gone_fd, &v, sizeof(v));

	(void)r;
	(void)events;
	if (!__atomic_exchange_n(&sp->gone, 0, __ATOMIC_ACQUIRE))
		return;
	char why[sizeof(sp->why)];
	memcpy(why, sp->why, sizeof(why));
	why[sizeof(why) - 1] = '\0';
	conn_drop(sp, why);
}

static void conn_event(struct vnm_evsrc *src, uint32_t events)
{
	struct sock_port *sp = container_of(src, struct sock_port, ev_conn);

	(void)events;
	/* attached: the switch thread reads the EOF and hands the connection back */
	if (!sp->sw)
		conn_drop(sp, "peer closed");
}

static int try_connect(struct sock_port *sp)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sp->path, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	conn_install(sp, fd);
	vnm_log(VNM_LOG_INFO, "socket %s: connected to %s", sp->dp.name, sp->path);
	sp->retry_logged = 0;
	return 0;
}

static void aux_event(struct vnm_evsrc *src, uint32_t events)
{
	struct sock_port *sp = container_of(src, struct sock_port, ev_aux);

	(void)events;
	if (sp->flags & VNM_SOCK_SERVER) {
		int fd = accept4(sp->aux_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (sp->conn_fd >= 0) { /* not watched while connected; defensive */
			close(fd);
			return;
		}
		conn_install(sp, fd);
		vnm_log(VNM_LOG_INFO, "socket %s: peer connected at %s", sp->dp.name, sp->path);
		return;
	}
	uint64_t ticks;
	ssize_t r = read(sp->aux_fd, &ticks, sizeof(ticks));
	(void)r;
	if (sp->conn_fd >= 0)
		return;
	int ret = try_connect(sp);
	if (ret < 0 && !sp->retry_logged) {
		vnm_log(VNM_LOG_INFO, "socket %s: cannot connect to %s (%s): retrying every second",
			sp->dp.name, sp->path, strerror(-ret));
		sp->retry_logged = 1;
	}
}

/* Bind a socket of type at path (a stale socket file there is replaced). fd or -errno. */
static int bind_path(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			close(fd);
			return -EEXIST;
		}
		unlink(path); /* stale (a previous vnetmapd, a previous QEMU) */
	}
	/* 0700 by the daemon's umask; --group: the group's, 0660 (region.c vnm_share_sock) */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || vnm_share_sock(path) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4) < 0)) {
		int e = errno;
		snprintf(err, errlen, "%s at %s: %s", type == SOCK_STREAM ? "listen" : "bind", path,
			 strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

static void sp_free(struct sock_port *sp)
{
	if (sp->aux_fd >= 0) {
		vnm_ev_del(sp->aux_fd);
		close(sp->aux_fd);
	}
	if (sp->gone_fd >= 0) {
		vnm_ev_del(sp->gone_fd);
		close(sp->gone_fd);
	}
	if (sp->owns_path)
		unlink(sp->path);
	free(sp->rbuf);
	free(sp->pend);
	for (unsigned i = 0; i < SP_DG_BATCH; i++)
		free(sp->dbuf[i]);
	free(sp->scratch);
	free(sp->segs);
	free(sp);
}

struct vnm_dport *vnm_sock_port_create(const char *name, const char *path,
				       const char *peer_path, uint32_t flags, char *err,
				       size_t errlen)
{
	uint32_t mode = flags & (VNM_SOCK_STREAM | VNM_SOCK_DGRAM);
	size_t pl = strlen(path), ql = peer_path ? strlen(peer_path) : 0;
	struct sock_port *sp;

	if (flags & ~(uint32_t)(VNM_SOCK_STREAM | VNM_SOCK_DGRAM | VNM_SOCK_SERVER)) {
		snprintf(err, errlen, "unknown socket flags 0x%x", flags);
		return NULL;
	}
	if (mode != VNM_SOCK_STREAM && mode != VNM_SOCK_DGRAM) {
		snprintf(err, errlen, "one of stream or dgram");
		return NULL;
	}
	if (mode == VNM_SOCK_DGRAM && (flags & VNM_SOCK_SERVER)) {
		snprintf(err, errlen, "server is for stream sockets");
		return NULL;
	}
	if (pl == 0 || pl >= sizeof(sp->path)) {
		snprintf(err, errlen, "socket path must have 1..%zu characters", sizeof(sp->path) - 1);
		return NULL;
	}
	if (mode == VNM_SOCK_DGRAM && (ql == 0 || ql >= sizeof(sp->peer))) {
		snprintf(err, errlen, "dgram needs a peer path of 1..%zu characters",
			 sizeof(sp->peer) - 1);
		return NULL;
	}
	if (mode == VNM_SOCK_STREAM && ql) {
		snprintf(err, errlen, "a peer path is for dgram sockets");
		return NULL;
	}
	if (mode == VNM_SOCK_DGRAM && strcmp(path, peer_path) == 0) {
		snprintf(err, errlen, "path and peer path are the same");
		return NULL;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sp->aux_fd = sp->gone_fd = sp->conn_fd = sp->fd = sp->handoff = -1;
	sp->flags = flags;
	memcpy(sp->path, path, pl + 1);
	if (ql)
		memcpy(sp->peer, peer_path, ql + 1);
	sp->peer_sa.sun_family = AF_UNIX;
	memcpy(sp->peer_sa.sun_path, sp->peer, sizeof(sp->peer));
	snprintf(sp->dp.name, sizeof(sp->dp.name), "%s", name);
	snprintf(sp->dp.stats.name, sizeof(sp->dp.stats.name), "%s", name);
	sp->dp.ops = &sock_ops;
	sp->dp.priv = sp;
	sp->dp.sw_idx = -1;
	sp->dp.vnet_hdr_len = 0;
	sp->ev_aux.handler = aux_event;
	sp->ev_conn.handler = conn_event;
	sp->ev_gone.handler = gone_event;
	sp->scratch = malloc(VNM_GSO_SCRATCH);
	sp->segs = calloc(VNM_GSO_MAX_SEGS, sizeof(*sp->segs));
	if (!sp->scratch || !sp->segs)
		goto nomem;
	if (mode == VNM_SOCK_STREAM) {
		sp->rbuf = malloc(SP_RBUF);
		sp->pend = malloc(SP_PEND_MAX);
		if (!sp->rbuf || !sp->pend)
			goto nomem;
	} else {
		for (unsigned i = 0; i < SP_DG_BATCH; i++)
			if (!(sp->dbuf[i] = malloc(SP_FRAME_MAX)))
				goto nomem;
	}
	sp->gone_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sp->gone_fd < 0 || vnm_ev_add(&sp->ev_gone, sp->gone_fd, EPOLLIN) < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		if (sp->gone_fd >= 0)
			close(sp->gone_fd);
		sp->gone_fd = -1;
		goto fail;
	}
	if (mode == VNM_SOCK_DGRAM) {
		int fd = bind_path(path, SOCK_DGRAM, err, errlen);
		if (fd < 0)
			goto fail;
		sp->owns_path = 1;
		conn_install(sp, fd);
		vnm_log(VNM_LOG_INFO, "socket %s: dgram at %s, peer %s", name, path, peer_path);
		return &sp->dp;
	}
	if (flags & VNM_SOCK_SERVER) {
		sp->aux_fd = bind_path(path, SOCK_STREAM, err, errlen);
		if (sp->aux_fd < 0)
			goto fail;
		sp->owns_path = 1;
	} else {
		sp->aux_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (sp->aux_fd < 0) {
			snprintf(err, errlen, "timerfd: %s", strerror(errno));
			goto fail;
		}
	}
	if (vnm_ev_add(&sp->ev_aux, sp->aux_fd, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		goto fail;
	}
	if (flags & VNM_SOCK_SERVER) {
		vnm_log(VNM_LOG_INFO, "socket %s: stream, listening at %s", name, path);
	} else if (try_connect(sp) < 0) {
		vnm_log(VNM_LOG_INFO, "socket %s: stream, no peer at %s yet: retrying every second",
			name, path);
		sp->retry_logged = 1;
		arm_retry(sp, 1);
	}
	return &sp->dp;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	sp_free(sp);
	return NULL;
}

void vnm_sock_port_destroy(struct vnm_dport *p)
{
	struct sock_port *sp;

	if (!p)
		return;
	sp = to_sp(p);
	conn_drop(sp, NULL); /* detached by now */
	sp_free(sp);
}

void vnm_sock_port_attached(struct vnm_dport *p, struct vnm_switch *sw)
{
	struct sock_port *sp = to_sp(p);

	sp->sw = sw;
	if (sp->conn_fd >= 0) {
		int ret = vnm_switch_watch_fd2(sw, sp->conn_fd, watch_flags(sp));
		if (ret < 0)
			vnm_log(VNM_LOG_ERR, "socket %s: cannot watch its fd: %s", sp->dp.name,
				strerror(-ret));
		sp->watched = ret == 0;
	}
	vnm_switch_kick(sw);
}

void vnm_sock_port_detached(struct vnm_dport *p)
{
	struct sock_port *sp = to_sp(p);

	if (sp->watched && sp->sw)
		vnm_switch_unwatch_fd(sp->sw, sp->conn_fd);
	sp->watched = 0;
	sp->sw = NULL;
	/* a connection handed over but not taken yet: ours now */
	int h = __atomic_exchange_n(&sp->handoff, -1, __ATOMIC_ACQUIRE);
	if (h >= 0) {
		sp->fd = h;
		sp->rhead = sp->rfill = 0;
		sp->poff = sp->plen = 0;
	}
	/* a hang-up the switch thread had no round to see (edge-triggered: it will not recur) */
	if (is_stream(sp) && sp->conn_fd >= 0 && sp->fd == sp->conn_fd) {
		struct pollfd pf = { .fd = sp->conn_fd, .events = POLLRDHUP };
		if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			conn_drop(sp, "peer closed");
	}
}

int vnm_sock_port_connected(const struct vnm_dport *p)
{
	const struct sock_port *sp = (const struct sock_port *)p;

	return __atomic_load_n(&sp->connected, __ATOMIC_RELAXED);
}
