// SPDX-License-Identifier: BSD-2-Clause
/*
 * pipe_vhost.c - a pipe end served as vhost-user: vnetmapd binds the end itself
 * (like passthrough.c, no client connection) and becomes its APPLICATION, with an
 * in-process struct vnm_port and the library's pipe datapath (lib/pipe.c). A switch
 * port (the "pipe client", below) drives that end: rx_batch reads the end's RX ring,
 * deliver copies into its TX ring, whose txsync swaps the slots into the peer end's
 * RX ring (zero copy, the pipe's own rule). The pipe client and a vhost-user port
 * (ports/vhost_port.c) are the two ports of a private switch ("pv:<end>", not a VALE
 * switch: not listed, not reachable by name); with two ports the learning switch
 * sends everything from one to the other. Copies: guest TX -> pipe buffer (1), pipe
 * buffer -> guest RX (1).
 *
 * Notifications: the end's notify socket (app end, d->fd) is watched by the switch
 * thread with VNM_WATCH_OUT_ET: readable when the peer filled our RX ring after we
 * armed it (a byte), writable when the peer freed room for TX frames still pending
 * in our TX ring after we armed it (it drained our filler). Arming happens in
 * sleep_prepare (flag, fence, re-check: the Dekker pattern of csb.h); TX is armed
 * only while frames are pending, so an idle pipe costs no wake-ups.
 *
 * Security model: the pipe's peer end is bound by an untrusted local client. It
 * shares the region with us and may write anything there, at any time: ring
 * headers, slots, CSB words, even the region header. Everything we use to address
 * memory is private, read once at set-up and bounded (ring geometry, buffer base,
 * buffer count and size), and every slot word (buf_idx, len, flags) is read once
 * per use and bounded before the buffer is touched; ring indices read from shared
 * memory (tail) are bounded by the private slot count. A frame longer than
 * NM_MAX_FRAGS slots or with a bad slot is dropped (counted in drop_bad_slot) and
 * its slots released. The library's pipe sync validates the rest (lib/pipe.c).
 * The peer can only corrupt the frames it exchanges with the guest, which is its
 * right as the other end of the wire. The guest side is vhost_port.c's.
 *
 * Threading: the dport ops run on the private switch's thread; create/remove/list
 * on the main thread (the switch is synchronised with vnm_switch_attach/detach).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/internal.h" /* vnm__port_setup: the daemon is this end's application */
#include "ctl.h"
#include "ports/pipe_vhost.h"
#include "ports/vhost_port.h"
#include "vale/switch.h"
#include "vhost/gso.h"
#include "vhost/vhost.h"
#include "vhost/vnet.h"
#include "vnetmap/portname.h"

struct pipe_client {
	struct vnm_dport dp; /* first */
	struct vnm_port *d;
	/* private geometry, read once at set-up */
	struct netmap_ring *rx, *tx;
	struct nm_csb_atok *rx_atok, *tx_atok;
	uint32_t rx_n, tx_n;   /* slots */
	char *bufs;            /* buffer 0 */
	uint32_t num_bufs, buf_size;
	/* switch thread */
	uint32_t rx_head;      /* our RX head = cur */
	uint32_t rx_seen;      /* RX tail at the last rx_batch: frames past it are new work */
	uint32_t rx_bad_mark;  /* bad frames before this index are counted already */
	uint32_t tx_cur;       /* our TX head = cur */
	unsigned nfr;
	uint32_t fend[VNM_BATCH_MAX]; /* ring index after frame i (and dropped slots before it) */
	uint32_t flen[VNM_BATCH_MAX];
	int tx_touched, tx_pending, rx_armed, tx_armed;
	/* software segmentation (gso.h): allocated at the first GSO frame */
	uint8_t *gso_scratch;       /* VNM_GSO_SCRATCH bytes */
	struct vnm_frame *gso_segs; /* [VNM_GSO_MAX_SEGS] */
};

struct pipe_vhost {
	struct pipe_vhost *next;
	char name[VNM_NAME_MAX]; /* the end's canonical name */
	char spec[VNM_PORTSPEC_MAX];
	struct vnm_binding *b;
	struct pipe_client *pc;
	struct vnm_dport *vh;
	struct vnm_switch *sw;
	int watched;
};

static struct pipe_vhost *pvs;

static inline uint32_t rnext(uint32_t i, uint32_t n)
{
	return i + 1 == n ? 0 : i + 1;
}

static inline uint32_t rdist(uint32_t a, uint32_t b, uint32_t n)
{
	return b >= a ? b - a : b + n - a;
}

static inline struct pipe_client *to_pc(struct vnm_dport *p)
{
	return (struct pipe_client *)p;
}

static inline char *buf_of(struct pipe_client *pc, uint32_t idx)
{
	return pc->bufs + (size_t)idx * pc->buf_size;
}

/* Our TX ring's tail, bounded: the slots [cur, tail) are ours to fill. */
static inline uint32_t tx_space(struct pipe_client *pc)
{
	uint32_t t = __atomic_load_n(&pc->tx->tail, __ATOMIC_RELAXED);

	if (t >= pc->tx_n)
		return 0;
	return rdist(pc->tx_cur, t, pc->tx_n);
}

static void rx_publish(struct pipe_client *pc)
{
	pc->rx->head = pc->rx->cur = pc->rx_head;
	vnm_rxsync_ring(pc->d, 0); /* our released slots are the peer's TX room */
}

static void tx_sync(struct pipe_client *pc)
{
	pc->tx->head = pc->tx->cur = pc->tx_cur;
	if (vnm_txsync_ring(pc->d, 0) < 0) {
		/* the ring was reset (its shared words were damaged): restart from hwcur */
		pc->dp.stats.ring_resets++;
		uint32_t h = __atomic_load_n(&pc->tx->head, __ATOMIC_RELAXED);
		pc->tx_cur = h < pc->tx_n ? h : 0;
	}
	/* everything moved: all slots but one are free */
	pc->tx_pending = tx_space(pc) != pc->tx_n - 1;
}

/* ---- the pipe end's RX ring into the switch ---- */

static int pc_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct pipe_client *pc = to_pc(p);
	struct netmap_ring *r = pc->rx;
	uint32_t i, t;
	unsigned nf = 0;

	pc->nfr = 0;
	pc->rx->head = pc->rx->cur = pc->rx_head;
	vnm_rxsync_ring(pc->d, 0);
	t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	if (t >= pc->rx_n)
		return 0;
	pc->rx_seen = t;
	/* a mark outside [head, tail] is stale (everything before head is released) */
	if (rdist(pc->rx_head, pc->rx_bad_mark, pc->rx_n) > rdist(pc->rx_head, t, pc->rx_n))
		pc->rx_bad_mark = pc->rx_head;
	if (max > VNM_BATCH_MAX)
		max = VNM_BATCH_MAX;
	i = pc->rx_head;
	while (i != t && nf < max) {
		struct vnm_frame *f = &frames[nf];
		uint32_t j = i, len = 0;
		int ok = 1, complete = 0;

		f->nfrags = 0;
		while (j != t) {
			struct netmap_slot *s = &r->slot[j];
			uint32_t idx = __atomic_load_n(&s->buf_idx, __ATOMIC_RELAXED);
			uint32_t l = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
			uint16_t fl = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);

			j = rnext(j, pc->rx_n);
			if (idx >= pc->num_bufs || l > pc->buf_size || f->nfrags == NM_MAX_FRAGS) {
				ok = 0;
			} else if (ok) {
				f->frag[f->nfrags] = (const uint8_t *)buf_of(pc, idx);
				f->frag_len[f->nfrags] = (uint16_t)l;
				f->nfrags++;
				len += l;
			}
			if (!(fl & NS_MOREFRAG)) {
				complete = 1;
				break;
			}
		}
		if (!complete)
			break; /* the pipe moves whole packets only: a peer still writing, wait */
		if (!ok || len > VNM_FRAME_MAX) {
			/* once, even if frames before it wait for the guest and we read it again */
			uint32_t h = pc->rx_head;
			if (rdist(h, i, pc->rx_n) >= rdist(h, pc->rx_bad_mark, pc->rx_n)) {
				p->stats.drop_bad_slot++;
				pc->rx_bad_mark = j;
			}
			if (nf == 0)
				pc->rx_head = j; /* nothing before it: release at once */
			else
				pc->fend[nf - 1] = j;
			i = j;
			continue;
		}
		f->len = len;
		f->flags = 0;
		f->vnet_hdr = NULL;
		pc->fend[nf] = j;
		pc->flen[nf] = len;
		nf++;
		i = j;
	}
	pc->nfr = nf;
	if (nf == 0 && pc->rx_head != __atomic_load_n(&r->head, __ATOMIC_RELAXED))
		rx_publish(pc); /* only dropped slots */
	return (int)nf;
}

static void pc_rx_done(struct vnm_dport *p, unsigned n)
{
	struct pipe_client *pc = to_pc(p);
	uint64_t bytes = 0;

	if (n > pc->nfr)
		n = pc->nfr;
	if (n == 0)
		return;
	for (unsigned k = 0; k < n; k++)
		bytes += pc->flen[k];
	pc->rx_head = pc->fend[n - 1];
	rx_publish(pc);
	p->stats.rx_packets += n;
	p->stats.rx_bytes += bytes;
	pc->nfr = 0;
}

/* ---- the switch into the pipe end's TX ring ---- */

/*
 * Copy frame f into need slots of our TX ring from tx_cur (ppos >= 0: write pval, network
 * order, at frame offset ppos). 0, or -1: the peer handed back a bad buffer index
 * (lib/pipe.c made it 0): nothing is published, tx_cur did not move.
 */
static int pc_put(struct pipe_client *pc, const struct vnm_frame *f, int32_t ppos, uint16_t pval,
		  uint32_t bs, uint32_t need)
{
	struct netmap_ring *r = pc->tx;
	uint32_t c = pc->tx_cur, fi = 0, fo = 0, done = 0;

	for (uint32_t k = 0; k < need; k++) {
		struct netmap_slot *s = &r->slot[c];
		uint32_t b = __atomic_load_n(&s->buf_idx, __ATOMIC_RELAXED);
		uint32_t room = f->len - done < bs ? f->len - done : bs, put = 0;

		if (b < 2 || b >= pc->num_bufs)
			return -1;
		uint8_t *dst = (uint8_t *)buf_of(pc, b);
		while (put < room && fi < f->nfrags) {
			uint32_t ch = f->frag_len[fi] - fo;
			if (ch > room - put)
				ch = room - put;
			memcpy(dst + put, f->frag[fi] + fo, ch);
			put += ch;
			fo += ch;
			if (fo == f->frag_len[fi]) {
				fi++;
				fo = 0;
			}
		}
		for (uint32_t q = 0; ppos >= 0 && q < 2; q++) {
			uint32_t at = (uint32_t)ppos + q;
			if (at >= done && at < done + put)
				dst[at - done] = ((const uint8_t *)&pval)[q];
		}
		done += put;
		__atomic_store_n(&s->len, (uint16_t)put, __ATOMIC_RELAXED);
		__atomic_store_n(&s->flags, (uint16_t)(k + 1 < need ? NS_MOREFRAG : 0),
				 __ATOMIC_RELAXED);
		c = rnext(c, pc->tx_n);
	}
	pc->tx_cur = c;
	return 0;
}

/*
 * A GSO frame (the pipe carries plain frames): cut in software, all segments or none.
 * Returns segments put (> 0), 0: no room (nothing written), -1: dropped and counted.
 */
static int pc_gso(struct pipe_client *pc, const struct vnm_frame *f, uint32_t bs, uint32_t space,
		  uint32_t *used, uint64_t *bytes)
{
	struct vnm_dport *p = &pc->dp;

	if (!pc->gso_scratch) {
		pc->gso_scratch = malloc(VNM_GSO_SCRATCH);
		pc->gso_segs = malloc(VNM_GSO_MAX_SEGS * sizeof(*pc->gso_segs));
		if (!pc->gso_scratch || !pc->gso_segs) {
			free(pc->gso_scratch);
			free(pc->gso_segs);
			pc->gso_scratch = NULL;
			pc->gso_segs = NULL;
			p->stats.drop_gso++;
			return -1;
		}
	}
	int ns = vnm_gso_segment(f, pc->gso_segs, VNM_GSO_MAX_SEGS, pc->gso_scratch,
				 VNM_GSO_SCRATCH);
	if (ns < 0) {
		p->stats.drop_gso++;
		return -1;
	}
	uint32_t need = 0;
	for (int g = 0; g < ns; g++) {
		uint32_t k = (pc->gso_segs[g].len + bs - 1) / bs;
		if (k > NM_MAX_FRAGS) {
			p->stats.drop_gso++;
			return -1;
		}
		need += k;
	}
	if (need > space)
		return 0;
	uint32_t c0 = pc->tx_cur;
	for (int g = 0; g < ns; g++) {
		const struct vnm_frame *sf = &pc->gso_segs[g];
		if (pc_put(pc, sf, -1, 0, bs, (sf->len + bs - 1) / bs) < 0) {
			pc->tx_cur = c0; /* none of it is published */
			p->stats.drop_bad_slot++;
			return -1;
		}
		*bytes += sf->len;
	}
	*used = need;
	p->stats.gso_segs += (uint64_t)ns;
	return ns;
}

static int pc_deliver(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		      unsigned n)
{
	struct pipe_client *pc = to_pc(p);
	const uint32_t bs = pc->buf_size > 65535 ? 65535 : pc->buf_size;
	uint32_t space = tx_space(pc);
	uint64_t bytes = 0, pkts = 0;
	unsigned i;

	if (space < n) {
		tx_sync(pc); /* take back what the peer freed */
		space = tx_space(pc);
	}
	for (i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[idx[i]];
		int32_t ppos = -1;
		uint16_t pval = 0;

		if (unlikely(f->flags & VNM_FRAME_F_VNET)) {
			struct virtio_net_hdr_mrg h;

			memcpy(&h, f->vnet_hdr, sizeof(h)); /* once */
			if (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
				uint32_t used = 0;
				int ns = pc_gso(pc, f, bs, space, &used, &bytes);
				if (ns == 0)
					break; /* the switch counts the rest in drop_full */
				if (ns > 0) {
					space -= used;
					pkts += (uint64_t)ns;
					pc->tx_touched = 1;
				}
				continue;
			}
			if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
				if ((uint32_t)h.csum_start + h.csum_offset + 2 > f->len) {
					p->stats.drop_bad_slot++;
					continue;
				}
				ppos = (int32_t)h.csum_start + h.csum_offset;
				pval = vnm_vnet_csum(f, h.csum_start); /* network order */
			}
		}
		uint32_t need = f->len == 0 ? 1 : (f->len + bs - 1) / bs;
		if (need > space || need > NM_MAX_FRAGS)
			break; /* the switch counts the rest in drop_full */
		if (pc_put(pc, f, ppos, pval, bs, need) < 0) {
			/* a bad buffer index cannot be written: drop this frame, give the slot a chance */
			p->stats.drop_bad_slot++;
			continue;
		}
		space -= need;
		pkts++;
		bytes += f->len;
		pc->tx_touched = 1;
	}
	p->stats.tx_packets += pkts;
	p->stats.tx_bytes += bytes;
	return (int)i;
}

static void pc_deliver_flush(struct vnm_dport *p)
{
	struct pipe_client *pc = to_pc(p);

	if (!pc->tx_touched && !pc->tx_pending)
		return;
	pc->tx_touched = 0;
	tx_sync(pc); /* swaps into the peer's RX ring and notifies it if it sleeps */
}

static unsigned pc_space(struct vnm_dport *p)
{
	struct pipe_client *pc = to_pc(p);
	uint32_t s = tx_space(pc);

	if (s == 0) {
		tx_sync(pc);
		s = tx_space(pc);
	}
	return s;
}

/* Empty our end of the notify socket (bytes from the peer). */
static void drain_notify(int fd)
{
	char buf[256];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)sizeof(buf))
		;
}

static int pc_sleep_prepare(struct vnm_dport *p)
{
	struct pipe_client *pc = to_pc(p);
	int work = 0;

	/* RX: the peer took our flag and wrote its byte: consume it before arming again */
	if (pc->rx_armed && !vnm_csb_app_armed(pc->rx_atok))
		drain_notify(pc->d->fd);
	pc->rx_armed = 1;
	/*
	 * Flag, fence, re-read hwtail (pairs with the peer's vnm_kring_notify_needed).
	 * New work = frames past the tail the last rx_batch saw. Frames before it that are
	 * still in the ring wait for the guest's room (a lossless source): the guest's RX
	 * kick wakes us for those (vhost_port.c space()/sleep_prepare), not this ring.
	 */
	uint32_t t = vnm_csb_app_arm(pc->rx_atok, pc->d->rx[0].ktoa);
	if (t < pc->rx_n && t != pc->rx_seen)
		work = 1;
	/* TX: frames wait in our ring for the peer's room */
	if (pc->tx_pending) {
		static const char filler[VNM_NOTIFY_FILL];
		/* the peer drains it when it frees RX slots: our fd becomes writable (ET) */
		ssize_t r = send(pc->d->fd, filler, sizeof(filler), MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)r; /* EAGAIN: a filler is queued already */
		pc->tx_armed = 1;
		vnm_csb_app_arm(pc->tx_atok, pc->d->tx[0].ktoa);
		tx_sync(pc); /* after the fence: room the peer freed meanwhile counts */
		if (!pc->tx_pending)
			work = 1;
	}
	return work;
}

static void pc_wake(struct vnm_dport *p)
{
	struct pipe_client *pc = to_pc(p);

	/* no notifications while we run (a stale one costs one spurious wake-up) */
	if (pc->tx_armed) {
		vnm_csb_app_disarm(pc->tx_atok);
		pc->tx_armed = 0;
	}
	if (pc->rx_armed && !vnm_csb_app_armed(pc->rx_atok)) {
		drain_notify(pc->d->fd);
		pc->rx_armed = 0;
	} else if (pc->rx_armed) {
		vnm_csb_app_disarm(pc->rx_atok);
		pc->rx_armed = 0;
	}
}

static const struct vnm_dport_ops pc_ops = {
	.rx_batch = pc_rx_batch,
	.rx_done = pc_rx_done,
	.deliver = pc_deliver,
	.deliver_flush = pc_deliver_flush,
	.space = pc_space,
	.sleep_prepare = pc_sleep_prepare,
	.wake = pc_wake,
};

/* A ring of the end: in the region, slot array included; its slot count kept private. */
static int ring_geom(struct vnm_port *d, struct netmap_ring *ring, uint32_t *n)
{
	char *mem = d->mem;

	if (!ring || (char *)ring < mem ||
	    vnm__check_ring(mem, d->memsize, (uint64_t)((char *)ring - mem), n) < 0)
		return -1;
	return 0;
}

static void pc_free(struct pipe_client *pc)
{
	if (!pc)
		return;
	vnm_port_close(pc->d);
	free(pc->gso_scratch);
	free(pc->gso_segs);
	free(pc);
}

/* The end is bound (rep, fds: the registry's); become its application. */
static struct pipe_client *pc_create(const char *name, const struct vnm_ctl_open_rep *rep,
				     const int rfds[3], struct vnm_err *err)
{
	struct pipe_client *pc = calloc(1, sizeof(*pc));
	struct vnm_region_hdr hdr;
	char msg[VNM_ERRMSG_MAX];
	int fds[3] = { -1, -1, -1 }, ret;

	if (!pc) {
		vnm_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	pc->d = calloc(1, sizeof(*pc->d));
	if (!pc->d) {
		free(pc);
		vnm_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	pc->d->fd = pc->d->kick_fd = pc->d->ctl_fd = -1;
	/* dups: the registry keeps its own (they live as long as the pair) */
	for (int i = 0; i < 3; i++)
		if ((fds[i] = fcntl(rfds[i], F_DUPFD_CLOEXEC, 3)) < 0) {
			ret = vnm_err_set(err, -errno, "dup: %s", strerror(errno));
			goto fail;
		}
	ret = vnm__port_setup(pc->d, rep, sizeof(*rep), fds, msg, sizeof(msg));
	if (ret < 0) {
		vnm_err_set(err, ret, "%s: %s", name, msg);
		goto fail;
	}
	memcpy(&hdr, pc->d->mem, sizeof(hdr)); /* once; checked below against the mapping */
	if (hdr.buf_size == 0 || hdr.buf_size > 65535 || hdr.num_bufs < 2 ||
	    !vnm__in_region(hdr.buf_ofs, (uint64_t)hdr.buf_size * hdr.num_bufs, pc->d->memsize)) {
		ret = vnm_err_set(err, -EPROTO, "%s: bad region header", name);
		goto fail;
	}
	pc->bufs = (char *)pc->d->mem + hdr.buf_ofs;
	pc->buf_size = hdr.buf_size;
	pc->num_bufs = hdr.num_bufs;
	/* ring 0 of each direction (a pipe made with @conf:rings=N: the others idle) */
	pc->rx = pc->d->rx[0].ring;
	pc->tx = pc->d->tx[0].ring;
	pc->rx_atok = pc->d->rx[0].atok;
	pc->tx_atok = pc->d->tx[0].atok;
	if (ring_geom(pc->d, pc->rx, &pc->rx_n) < 0 || ring_geom(pc->d, pc->tx, &pc->tx_n) < 0 ||
	    pc->rx_n < 2 || pc->tx_n < 2) {
		ret = vnm_err_set(err, -EPROTO, "%s: rings outside the region", name);
		goto fail;
	}
	pc->rx_head = __atomic_load_n(&pc->rx->head, __ATOMIC_RELAXED);
	pc->tx_cur = __atomic_load_n(&pc->tx->head, __ATOMIC_RELAXED);
	if (pc->rx_head >= pc->rx_n)
		pc->rx_head = 0;
	pc->rx_seen = pc->rx_bad_mark = pc->rx_head;
	if (pc->tx_cur >= pc->tx_n)
		pc->tx_cur = 0;
	snprintf(pc->dp.name, sizeof(pc->dp.name), "%.50s.pipe", name);
	memcpy(pc->dp.stats.name, pc->dp.name, sizeof(pc->dp.name));
	pc->dp.ops = &pc_ops;
	pc->dp.priv = pc;
	pc->dp.sw_idx = -1;
	/*
	 * A pipe is lossless: its frames leave our RX ring only when the guest has room
	 * for them (the switch's lossless source rule), so a slow guest slows the peer
	 * down instead of losing frames. Guest -> pipe drops on a full pipe (netmap's).
	 */
	pc->dp.flags = VNM_PI_LOSSLESS;
	return pc;
fail:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pc_free(pc);
	return NULL;
}

/* ---- pipe ends served as vhost-user ---- */

int vnm_pipe_vhost_is_pipe(const char *name)
{
	return strchr(name, '{') || strchr(name, '}');
}

static struct pipe_vhost *pv_find(const char *name)
{
	for (struct pipe_vhost *pv = pvs; pv; pv = pv->next)
		if (strcmp(pv->name, name) == 0 || strcmp(pv->spec, name) == 0)
			return pv;
	return NULL;
}

static void pv_free(struct pipe_vhost *pv)
{
	if (pv->sw) {
		if (pv->vh && pv->vh->sw_idx >= 0) {
			vnm_switch_detach(pv->sw, pv->vh);
			vnm_vhost_port_detached(pv->vh);
		}
		if (pv->watched)
			vnm_switch_unwatch_fd(pv->sw, pv->pc->d->fd);
		if (pv->pc && pv->pc->dp.sw_idx >= 0)
			vnm_switch_detach(pv->sw, &pv->pc->dp);
	}
	vnm_vhost_port_destroy(pv->vh); /* NULL: nothing */
	if (pv->sw)
		vnm_switch_destroy(pv->sw); /* the thread is gone: nothing uses the port now */
	pc_free(pv->pc);
	if (pv->b)
		vnm_binding_release(pv->b); /* the end is free again; the pair goes with its last end */
	free(pv);
}

int vnm_pipe_vhost_create(const char *spec, const char *path, uint32_t flags,
			  struct vnm_err *err)
{
	struct vnm_ctl_open_rep rep;
	struct vnm_portname pn;
	struct pipe_vhost *pv;
	char msg[200], swname[VNM_NAME_MAX];
	int fds[3] = { -1, -1, -1 }, ret;

	if (flags & ~(uint32_t)VNM_VHOST_SERVER)
		return vnm_err_set(err, -EINVAL, "unknown vhost flags 0x%x", flags);
	ret = vnm_portname_parse(spec, &pn, msg, sizeof(msg));
	if (ret < 0)
		return vnm_err_set(err, ret, "%s", msg);
	if (!pn.pipe_role || pn.is_vale)
		return vnm_err_set(err, -EINVAL, "%.64s: a pipe end netmap:X{N or netmap:X}N", spec);
	if (pn.ring_id >= 0 || pn.nr_flags)
		return vnm_err_set(err, -EINVAL, "%.64s: the vhost-user port binds the whole end",
				   spec);
	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	snprintf(pv->spec, sizeof(pv->spec), "%s", spec);
	memset(&rep, 0, sizeof(rep));
	ret = vnm_reg_open(&pn, &pv->b, &rep, fds, err);
	if (ret < 0) {
		free(pv);
		return ret;
	}
	snprintf(pv->name, sizeof(pv->name), "%s", rep.name);
	if (pv_find(pv->name)) { /* cannot happen: the end was free */
		ret = vnm_err_set(err, -EEXIST, "%s is served already", pv->name);
		goto fail;
	}
	pv->pc = pc_create(pv->name, &rep, fds, err);
	if (!pv->pc) {
		ret = -EPROTO;
		goto fail;
	}
	snprintf(swname, sizeof(swname), "pv:%.50s", pv->name);
	ret = vnm_switch_create(swname, &pv->sw);
	if (ret < 0) {
		pv->sw = NULL;
		vnm_err_set(err, ret, "cannot create switch %s: %s", swname, strerror(-ret));
		goto fail;
	}
	pv->vh = vnm_vhost_port_create(pv->name, path, !!(flags & VNM_VHOST_SERVER), msg,
				       sizeof(msg));
	if (!pv->vh) {
		ret = vnm_err_set(err, -EINVAL, "vhost-user port %s: %s", pv->name, msg);
		goto fail;
	}
	/*
	 * No guest-to-device GSO: a pipe carries plain frames (its peer may be any netmap
	 * program) and nothing segments on the way, so the guest segments itself. A partial
	 * checksum (CSUM) is fine: completed in pc_deliver.
	 */
	vnm_vhost_port_withhold(pv->vh, VHOST_BIT(VIRTIO_NET_F_HOST_TSO4) |
						VHOST_BIT(VIRTIO_NET_F_HOST_TSO6) |
						VHOST_BIT(VIRTIO_NET_F_HOST_UFO) |
						VHOST_BIT(VIRTIO_NET_F_HOST_ECN));
	ret = vnm_switch_attach(pv->sw, &pv->pc->dp);
	if (ret == 0)
		ret = vnm_switch_attach(pv->sw, pv->vh);
	if (ret < 0) {
		vnm_err_set(err, ret, "cannot attach: %s", strerror(-ret));
		goto fail;
	}
	vnm_vhost_port_attached(pv->vh, pv->sw);
	ret = vnm_switch_watch_fd2(pv->sw, pv->pc->d->fd, VNM_WATCH_OUT_ET);
	if (ret < 0) {
		vnm_err_set(err, ret, "cannot watch the notify fd: %s", strerror(-ret));
		goto fail;
	}
	pv->watched = 1;
	vnm_switch_kick(pv->sw);
	pv->next = pvs;
	pvs = pv;
	vnm_log(VNM_LOG_INFO, "pipe end %s served as vhost-user (%s at %s)", pv->name,
		(flags & VNM_VHOST_SERVER) ? "server" : "client", path);
	return 0;
fail:
	pv_free(pv);
	return ret;
}

int vnm_pipe_vhost_remove(const char *name, struct vnm_err *err)
{
	struct pipe_vhost *pv = pv_find(name), **pp;

	if (!pv)
		return vnm_err_set(err, -ENXIO, "%.64s is not served as vhost-user", name);
	for (pp = &pvs; *pp; pp = &(*pp)->next)
		if (*pp == pv) {
			*pp = pv->next;
			break;
		}
	vnm_log(VNM_LOG_INFO, "pipe end %s: vhost-user removed", pv->name);
	pv_free(pv);
	return 0;
}

static int pv_match(const struct pipe_vhost *pv, const char *filter)
{
	return !*filter || strcmp(filter, pv->name) == 0 || strcmp(filter, pv->spec) == 0;
}

unsigned vnm_pipe_vhost_list(const char *filter, struct vnm_ctl_port_info *out, unsigned max,
			     unsigned *matched)
{
	unsigned n = 0;

	*matched = 0;
	for (struct pipe_vhost *pv = pvs; pv; pv = pv->next) {
		if (!pv_match(pv, filter))
			continue;
		(*matched)++;
		if (n == max)
			continue;
		struct vnm_ctl_port_info *pi = &out[n++];
		int server, connected;

		memset(pi, 0, sizeof(*pi));
		memcpy(pi->name, pv->name, sizeof(pi->name));
		snprintf(pi->bridge, sizeof(pi->bridge), "%s", vnm_switch_name(pv->sw));
		pi->bridge_idx = -1; /* a private switch, not a VALE one */
		pi->port_idx = pv->vh->sw_idx;
		pi->kind = VNM_KIND_VHOST;
		pi->flags = VNM_PI_PERSISTENT;
		vnm_vhost_port_path(pv->vh, &server, &connected);
		pi->clients = (uint32_t)connected;
		pi->num_tx_rings = pi->num_rx_rings = 1;
	}
	return n;
}

unsigned vnm_pipe_vhost_stats(const char *filter, struct vnm_ctl_port_stats *out, unsigned max,
			      unsigned *matched)
{
	unsigned n = 0;

	*matched = 0;
	for (struct pipe_vhost *pv = pvs; pv; pv = pv->next) {
		if (!pv_match(pv, filter))
			continue;
		/* the guest side under the end's name, then the pipe side ("<end>.pipe") */
		const struct vnm_dport *dp[2] = { pv->vh, &pv->pc->dp };
		for (int k = 0; k < 2; k++) {
			(*matched)++;
			if (n == max)
				continue;
			/* written by the switch thread: a racy snapshot */
			memcpy(&out[n], &dp[k]->stats, sizeof(out[n]));
			memcpy(out[n].name, dp[k]->name, sizeof(out[n].name));
			out[n].name[sizeof(out[n].name) - 1] = '\0';
			n++;
		}
	}
	return n;
}

void vnm_pipe_vhost_shutdown(void)
{
	while (pvs) {
		struct pipe_vhost *pv = pvs;
		pvs = pv->next;
		pv_free(pv);
	}
}
