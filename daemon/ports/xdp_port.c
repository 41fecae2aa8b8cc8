// SPDX-License-Identifier: BSD-2-Clause
/*
 * xdp_port.c - a switch port over a Linux interface through AF_XDP (backend "af_xdp"),
 * used by netmap:IFNAME when it works; af_packet (afpacket_port.c) is the fallback.
 *
 * Set-up, with raw bpf(2) calls and no library: an XSKMAP of one entry, a 6-instruction
 * XDP program (redirect to the map at the packet's rx_queue_index, XDP_PASS when no
 * socket is there), attached in generic (SKB) mode through a BPF link (the link fd is
 * ours: closing it, or our death, detaches the program), one AF_XDP socket in copy mode
 * bound to RX queue 0 (interfaces with more RX queues are refused: frames of other
 * queues would pass us by). UMEM: XDP_NFRAMES chunks of 2048 bytes, the first half
 * for RX (fill ring), the second for TX (a free list refilled from the completion ring).
 *
 * RX (interface -> switch): rx_batch hands out frames that point INTO the UMEM (the
 * kernel's copy from the skb is the only one); rx_done gives their chunks back to the
 * fill ring and moves the RX consumer. TX (switch -> interface): deliver copies each
 * frame into a free TX chunk and queues a descriptor; it also kicks (sendto) until the
 * kernel has taken the queue, which it does 32 descriptors per call in copy mode.
 * Frames the TX ring or the chunks cannot take are not taken (the hub keeps them in the
 * program's ring). No virtio-net header: an offloaded frame from the switch gets its
 * checksum completed; a GSO frame is dropped (drop_gso). Interface frames over a chunk
 * (GSO skbs of a veth with TSO) are dropped by the kernel (XDP_STATISTICS, counted in
 * drop_full): netmap programs want offloads off, as on a netmap NIC.
 *
 * Security model: the kernel is trusted to follow the ring protocol, but every
 * descriptor read from the RX and completion rings is bounds-checked against the UMEM
 * before use (a frame never leaves the mapping); bad ones are counted and skipped. The
 * frame bytes are whatever arrived on the wire.
 *
 * Memory ordering (the AF_XDP ring protocol): the producer writes entries, then stores
 * its index with release; the consumer loads the producer index with acquire, reads the
 * entries, then stores its own index with release.
 *
 * Threading: the dport ops run on the switch thread; create/destroy/attached/detached on
 * the main thread while the port is detached (or before unwatch).
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <dirent.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/hostport.h"
#include "vale/switch.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define XDP_CHUNK 2048u
#define XDP_NFRAMES 4096u              /* 8 MiB of UMEM */
#define XDP_RING 2048u                 /* each of the four rings */
#define XDP_RX_FRAMES (XDP_NFRAMES / 2)  /* chunks [0, 2048) for RX, the rest for TX */

struct xring {
	uint32_t *prod, *cons;
	void *desc;
	void *map;
	size_t maplen;
	uint32_t local; /* our producer (fill, tx) or consumer (rx, comp) index */
};

struct xdp_port {
	struct vnm_dport dp; /* first */
	int fd, map_fd, prog_fd, link_fd;
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint8_t *umem;
	size_t umem_len;
	struct xring rx, tx, fill, comp;
	uint64_t txfree[XDP_NFRAMES - XDP_RX_FRAMES]; /* free TX chunk addresses */
	unsigned ntxfree;
	uint32_t tx_pending; /* descriptors queued, not yet consumed by the kernel */
	unsigned nframes;    /* frames of the last rx_batch */
	uint64_t st_drop;    /* last XDP_STATISTICS drop total (counted as deltas) */
	unsigned err_logged; /* the interface went away: said once */
	struct vnm_switch *sw;
};

static inline struct xdp_port *to_xp(struct vnm_dport *p)
{
	return (struct xdp_port *)p;
}

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

static inline uint32_t ld_acq(uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void st_rel(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- datapath ---------------------------------------------------------------------- */

static int xp_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct xdp_port *xp = to_xp(p);
	const struct xdp_desc *d = xp->rx.desc;
	uint32_t avail = ld_acq(xp->rx.prod) - xp->rx.local;
	unsigned nf = 0;

	if (max > VNM_BATCH_MAX)
		max = VNM_BATCH_MAX;
	if (avail > max)
		avail = max;
	for (uint32_t i = 0; i < avail; i++) {
		const struct xdp_desc *e = &d[(xp->rx.local + i) & (XDP_RING - 1)];
		uint64_t addr = e->addr;
		uint32_t len = e->len;

		if (addr >= (uint64_t)XDP_RX_FRAMES * XDP_CHUNK ||
		    (addr & (XDP_CHUNK - 1)) + len > XDP_CHUNK) {
			if (nf)
				break; /* consumed alone at the next batch */
			p->stats.drop_bad_slot++; /* its chunk is lost to RX: never seen */
			xp->rx.local++;
			st_rel(xp->rx.cons, xp->rx.local);
			continue;
		}
		struct vnm_frame *f = &frames[nf++];
		f->flags = 0;
		f->vnet_hdr = NULL;
		f->len = len;
		f->nfrags = 1;
		f->frag[0] = xp->umem + addr;
		f->frag_len[0] = (uint16_t)len;
	}
	xp->nframes = nf;
	return (int)nf;
}

static void xp_rx_done(struct vnm_dport *p, unsigned n)
{
	struct xdp_port *xp = to_xp(p);
	const struct xdp_desc *d = xp->rx.desc;
	uint64_t *fq = xp->fill.desc;
	uint64_t bytes = 0;

	if (n > xp->nframes)
		n = xp->nframes;
	/* the fill ring holds every RX chunk: there is room for the n given back */
	for (unsigned i = 0; i < n; i++) {
		const struct xdp_desc *e = &d[(xp->rx.local + i) & (XDP_RING - 1)];
		bytes += e->len;
		fq[(xp->fill.local + i) & (XDP_RING - 1)] = e->addr & ~(uint64_t)(XDP_CHUNK - 1);
	}
	if (n) {
		xp->fill.local += n;
		st_rel(xp->fill.prod, xp->fill.local);
		xp->rx.local += n;
		st_rel(xp->rx.cons, xp->rx.local);
	}
	p->stats.rx_packets += n;
	p->stats.rx_bytes += bytes;
	xp->nframes = 0;
}

/* Completed TX chunks back to the free list. */
static void tx_reap(struct xdp_port *xp)
{
	const uint64_t *cq = xp->comp.desc;
	uint32_t n = ld_acq(xp->comp.prod) - xp->comp.local;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = cq[(xp->comp.local + i) & (XDP_RING - 1)];
		if (a < (uint64_t)XDP_RX_FRAMES * XDP_CHUNK || a >= xp->umem_len ||
		    (a & (XDP_CHUNK - 1)) || xp->ntxfree >= XDP_NFRAMES - XDP_RX_FRAMES) {
			xp->dp.stats.drop_bad_slot++;
			continue;
		}
		xp->txfree[xp->ntxfree++] = a;
	}
	if (n) {
		xp->comp.local += n;
		st_rel(xp->comp.cons, xp->comp.local);
	}
}

/* Make the kernel take the queued descriptors (copy mode: 32 per sendto). */
static void tx_kick(struct xdp_port *xp)
{
	for (int stall = 0; stall < 2;) {
		uint32_t left = xp->tx.local - ld_acq(xp->tx.cons);
		if (left == 0)
			break;
		if (sendto(xp->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
		    errno != EBUSY && errno != ENOBUFS && errno != EINTR) {
			/* ENETDOWN, ENXIO: the interface is gone; frames stay queued */
			if (!xp->err_logged++)
				vnm_log(VNM_LOG_WARN, "af_xdp %s: %s (its program should close it)",
					xp->ifname, strerror(errno));
			xp->dp.stats.ring_resets++;
			break;
		}
		if (xp->tx.local - ld_acq(xp->tx.cons) == left)
			stall++; /* no progress: the device is busy, try at the next round */
	}
}

static int xp_deliver(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		      unsigned n)
{
	struct xdp_port *xp = to_xp(p);
	struct xdp_desc *tq = xp->tx.desc;
	uint32_t room = XDP_RING - (xp->tx.local - ld_acq(xp->tx.cons));
	uint64_t bytes = 0;
	unsigned i, queued = 0;

	tx_reap(xp);
	for (i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[idx[i]];
		if (f->len > XDP_CHUNK) {
			p->stats.drop_oversize++; /* taken: dropped here */
			continue;
		}
		if (f->flags & VNM_FRAME_F_VNET) {
			const struct virtio_net_hdr_mrg *h = f->vnet_hdr;
			if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
				p->stats.drop_gso++;
				continue;
			}
		}
		if (queued == room || xp->ntxfree == 0)
			break;
		uint64_t a = xp->txfree[--xp->ntxfree];
		uint8_t *dst = xp->umem + a;
		uint32_t o = 0;
		for (unsigned k = 0; k < f->nfrags; k++) {
			memcpy(dst + o, f->frag[k], f->frag_len[k]);
			o += f->frag_len[k];
		}
		if (f->flags & VNM_FRAME_F_VNET) {
			/* a partial checksum (NEEDS_CSUM; checked by the source port): complete it */
			const struct virtio_net_hdr_mrg *h = f->vnet_hdr;
			if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
			    (uint32_t)h->csum_start + h->csum_offset + 2u <= f->len) {
				struct vnm_frame one = { .nfrags = 1, .len = f->len };
				one.frag[0] = dst;
				one.frag_len[0] = (uint16_t)f->len;
				uint16_t c = vnm_vnet_csum(&one, h->csum_start);
				memcpy(dst + h->csum_start + h->csum_offset, &c, 2);
			}
		}
		struct xdp_desc *e = &tq[(xp->tx.local + queued) & (XDP_RING - 1)];
		e->addr = a;
		e->len = f->len;
		e->options = 0;
		queued++;
		bytes += f->len;
	}
	if (queued) {
		xp->tx.local += queued;
		st_rel(xp->tx.prod, xp->tx.local);
		tx_kick(xp);
	}
	p->stats.tx_packets += queued;
	p->stats.tx_bytes += bytes;
	return (int)i;
}

static void xp_deliver_flush(struct vnm_dport *p)
{
	(void)p; /* deliver kicked already */
}

static unsigned xp_space(struct vnm_dport *p)
{
	struct xdp_port *xp = to_xp(p);

	tx_reap(xp);
	return xp->ntxfree;
}

static int xp_sleep_prepare(struct vnm_dport *p)
{
	struct xdp_port *xp = to_xp(p);
	struct xdp_statistics st;
	socklen_t sl = sizeof(st);

	/* frames the kernel dropped (no fill chunk, too long: rx_dropped; RX ring full) */
	if (getsockopt(xp->fd, SOL_XDP, XDP_STATISTICS, &st, &sl) == 0) {
		uint64_t t = st.rx_dropped + st.rx_ring_full;
		if (t > xp->st_drop)
			p->stats.drop_full += t - xp->st_drop;
		xp->st_drop = t;
	}
	tx_reap(xp);
	if (xp->tx.local != ld_acq(xp->tx.cons))
		tx_kick(xp);
	/* the fd is watched level-triggered (readable: RX ring not empty) */
	return ld_acq(xp->rx.prod) != xp->rx.local;
}

static void xp_wake(struct vnm_dport *p)
{
	(void)p;
}

static const struct vnm_dport_ops xp_ops = {
	.rx_batch = xp_rx_batch,
	.rx_done = xp_rx_done,
	.deliver = xp_deliver,
	.deliver_flush = xp_deliver_flush,
	.space = xp_space,
	.sleep_prepare = xp_sleep_prepare,
	.wake = xp_wake,
};

/* ---- set-up ------------------------------------------------------------------------ */

static unsigned rx_queues(const char *ifname)
{
	char path[96];
	unsigned n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "rx-", 3))
			n++;
	closedir(d);
	return n;
}

static int map_ring(int fd, struct xring *r, size_t desc_ofs, size_t prod_ofs, size_t cons_ofs,
		    size_t esize, off_t pgoff)
{
	r->maplen = desc_ofs + XDP_RING * esize;
	r->map = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		      pgoff);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return -errno;
	}
	r->prod = (uint32_t *)((uint8_t *)r->map + prod_ofs);
	r->cons = (uint32_t *)((uint8_t *)r->map + cons_ofs);
	r->desc = (uint8_t *)r->map + desc_ofs;
	r->local = 0;
	return 0;
}

/* The XDP program: return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS). */
static int load_prog(int map_fd, char *log, size_t loglen)
{
	struct bpf_insn insn[] = {
		/* r2 = *(u32 *)(r1 + offsetof(struct xdp_md, rx_queue_index)) */
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_1,
		  .off = offsetof(struct xdp_md, rx_queue_index) },
		/* r1 = the map (a 16-byte load of the map fd) */
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd },
		{ 0 },
		/* r3 = XDP_PASS: the action when no socket sits at that key */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static const char license[] = "Dual BSD/GPL";
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.expected_attach_type = BPF_XDP;
	a.insns = (uintptr_t)insn;
	a.insn_cnt = sizeof(insn) / sizeof(insn[0]);
	a.license = (uintptr_t)license;
	a.log_buf = (uintptr_t)log;
	a.log_size = (uint32_t)loglen;
	a.log_level = loglen ? 1 : 0;
	memcpy(a.prog_name, "vnm_xsk", 8);
	return (int)sys_bpf(BPF_PROG_LOAD, &a);
}

static void xp_free(struct xdp_port *xp)
{
	struct xring *rs[] = { &xp->rx, &xp->tx, &xp->fill, &xp->comp };

	if (xp->link_fd >= 0)
		close(xp->link_fd); /* detaches the program */
	for (unsigned i = 0; i < 4; i++)
		if (rs[i]->map)
			munmap(rs[i]->map, rs[i]->maplen);
	if (xp->fd >= 0)
		close(xp->fd);
	if (xp->prog_fd >= 0)
		close(xp->prog_fd);
	if (xp->map_fd >= 0)
		close(xp->map_fd);
	if (xp->umem)
		munmap(xp->umem, xp->umem_len);
	free(xp);
}

#define FAIL(...)                                         \
	do {                                              \
		snprintf(err, errlen, __VA_ARGS__);       \
		goto fail;                                \
	} while (0)

struct vnm_dport *vnm_xdp_port_create(const char *ifname, char *err, size_t errlen)
{
	struct xdp_port *xp;
	unsigned idx = if_nametoindex(ifname), nq;
	union bpf_attr a;
	int ret;

	if (!idx) {
		snprintf(err, errlen, "no interface %s", ifname);
		return NULL;
	}
	nq = rx_queues(ifname);
	if (nq != 1) {
		snprintf(err, errlen, "%u RX queues (one is served)", nq);
		return NULL;
	}
	xp = calloc(1, sizeof(*xp));
	if (!xp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	xp->fd = xp->map_fd = xp->prog_fd = xp->link_fd = -1;

	/* the map and the program first: no privilege, no socket */
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_XSKMAP;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	memcpy(a.map_name, "vnm_xsks", 9);
	xp->map_fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
	if (xp->map_fd < 0)
		FAIL("XSKMAP: %s", strerror(errno));
	xp->prog_fd = load_prog(xp->map_fd, NULL, 0);
	if (xp->prog_fd < 0)
		FAIL("XDP program load: %s", strerror(errno));

	xp->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (xp->fd < 0)
		FAIL("AF_XDP socket: %s", strerror(errno));
	xp->umem_len = (size_t)XDP_NFRAMES * XDP_CHUNK;
	xp->umem = mmap(NULL, xp->umem_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (xp->umem == MAP_FAILED) {
		xp->umem = NULL;
		FAIL("UMEM: %s", strerror(errno));
	}
	struct xdp_umem_reg ur = {
		.addr = (uintptr_t)xp->umem,
		.len = xp->umem_len,
		.chunk_size = XDP_CHUNK,
		.headroom = 0,
	};
	if (setsockopt(xp->fd, SOL_XDP, XDP_UMEM_REG, &ur, sizeof(ur)) < 0)
		FAIL("XDP_UMEM_REG: %s", strerror(errno));
	int rs = XDP_RING;
	if (setsockopt(xp->fd, SOL_XDP, XDP_UMEM_FILL_RING, &rs, sizeof(rs)) < 0 ||
	    setsockopt(xp->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &rs, sizeof(rs)) < 0 ||
	    setsockopt(xp->fd, SOL_XDP, XDP_RX_RING, &rs, sizeof(rs)) < 0 ||
	    setsockopt(xp->fd, SOL_XDP, XDP_TX_RING, &rs, sizeof(rs)) < 0)
		FAIL("AF_XDP ring sizes: %s", strerror(errno));
	struct xdp_mmap_offsets off;
	socklen_t ol = sizeof(off);
	if (getsockopt(xp->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) < 0)
		FAIL("XDP_MMAP_OFFSETS: %s", strerror(errno));
	if ((ret = map_ring(xp->fd, &xp->rx, off.rx.desc, off.rx.producer, off.rx.consumer,
			    sizeof(struct xdp_desc), XDP_PGOFF_RX_RING)) < 0 ||
	    (ret = map_ring(xp->fd, &xp->tx, off.tx.desc, off.tx.producer, off.tx.consumer,
			    sizeof(struct xdp_desc), XDP_PGOFF_TX_RING)) < 0 ||
	    (ret = map_ring(xp->fd, &xp->fill, off.fr.desc, off.fr.producer, off.fr.consumer,
			    sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING)) < 0 ||
	    (ret = map_ring(xp->fd, &xp->comp, off.cr.desc, off.cr.producer, off.cr.consumer,
			    sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING)) < 0)
		FAIL("mmap of the AF_XDP rings: %s", strerror(-ret));
	/* RX chunks into the fill ring, TX chunks on the free list */
	uint64_t *fq = xp->fill.desc;
	for (unsigned i = 0; i < XDP_RX_FRAMES; i++)
		fq[i] = (uint64_t)i * XDP_CHUNK;
	xp->fill.local = XDP_RX_FRAMES;
	st_rel(xp->fill.prod, xp->fill.local);
	for (unsigned i = XDP_RX_FRAMES; i < XDP_NFRAMES; i++)
		xp->txfree[xp->ntxfree++] = (uint64_t)i * XDP_CHUNK;

	struct sockaddr_xdp sx = {
		.sxdp_family = AF_XDP,
		.sxdp_ifindex = idx,
		.sxdp_queue_id = 0,
		.sxdp_flags = XDP_COPY,
	};
	if (bind(xp->fd, (struct sockaddr *)&sx, sizeof(sx)) < 0)
		FAIL("bind to %s queue 0: %s", ifname, strerror(errno));
	uint32_t key = 0, val = (uint32_t)xp->fd;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)xp->map_fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&val;
	if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0)
		FAIL("XSKMAP update: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)xp->prog_fd;
	a.link_create.target_ifindex = idx;
	a.link_create.attach_type = BPF_XDP;
	a.link_create.flags = XDP_FLAGS_SKB_MODE;
	xp->link_fd = (int)sys_bpf(BPF_LINK_CREATE, &a);
	if (xp->link_fd < 0)
		FAIL("XDP attach (generic mode) to %s: %s", ifname,
		     errno == EBUSY || errno == EEXIST ? "it has an XDP program already"
						       : strerror(errno));

	xp->ifindex = (int)idx;
	snprintf(xp->ifname, sizeof(xp->ifname), "%s", ifname);
	snprintf(xp->dp.name, sizeof(xp->dp.name), "%s", ifname);
	snprintf(xp->dp.stats.name, sizeof(xp->dp.stats.name), "%s", ifname);
	xp->dp.ops = &xp_ops;
	xp->dp.priv = xp;
	xp->dp.sw_idx = -1;
	xp->dp.vnet_hdr_len = 0;
	vnm_log(VNM_LOG_INFO, "netdev %s: backend af_xdp (copy mode, generic XDP on RX queue 0, "
		"UMEM %u x %u B, rings of %u)", ifname, XDP_NFRAMES, XDP_CHUNK, XDP_RING);
	return &xp->dp;
fail:
	xp_free(xp);
	return NULL;
}

void vnm_xdp_port_destroy(struct vnm_dport *p)
{
	if (p)
		xp_free(to_xp(p));
}

void vnm_xdp_port_attached(struct vnm_dport *p, struct vnm_switch *sw)
{
	struct xdp_port *xp = to_xp(p);
	int ret = vnm_switch_watch_fd2(sw, xp->fd, VNM_WATCH_NODRAIN);

	if (ret < 0)
		vnm_log(VNM_LOG_ERR, "af_xdp %s: cannot watch its socket: %s", xp->ifname,
			strerror(-ret));
	xp->sw = sw;
	vnm_switch_kick(sw);
}

void vnm_xdp_port_detached(struct vnm_dport *p)
{
	struct xdp_port *xp = to_xp(p);

	if (xp->sw)
		vnm_switch_unwatch_fd(xp->sw, xp->fd);
	xp->sw = NULL;
}
