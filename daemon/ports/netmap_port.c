// SPDX-License-Identifier: BSD-2-Clause
/*
 * netmap_port.c - a switch port whose peer is a netmap client: the port ops
 * (daemon/port.h) over the kernel-side ring state (struct vnm_kring, csb.h).
 *
 * Security model: the client is untrusted. It can write anything, at any time,
 * into its rings, slots and CSB (atok), and it sees everything we write there.
 *   - Geometry (num_slots, buf_size, num_bufs) comes only from the private
 *     struct vnm_kring copies made by the control plane; the shared ring header
 *     is never read.
 *   - head/cur are read once per sync (vnm_kring_read_app) and checked against
 *     the private hwcur/hwtail; a violation resets the ring (vnm_kring_reset:
 *     err_count/err_reason tell the client) and is counted in stats.ring_resets.
 *   - Every slot field (buf_idx, len, flags) is read once into a local with a
 *     relaxed atomic load, validated (vnm_kring_check_slot), and only the local is
 *     used afterwards. A MOREFRAG chain is bounded by NM_MAX_FRAGS and a frame by
 *     VNM_FRAME_MAX.
 *   - Buffer contents are copied, never interpreted here; the client may change
 *     them while we copy, which only changes the bytes it receives or sends.
 *   - On RX rings we only write buffers whose buf_idx we read once and checked.
 * A bad client can only hurt itself (its ring is reset, its frames dropped) and
 * make the switch do work proportional to the slots it publishes.
 *
 * Threading: every op runs on the switch thread. Notify fds are set by the
 * control plane (release store) and read here (acquire load).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ports/hostport.h"
#include "ports/netmap_port.h"
#include "vhost/gso.h"
#include "vhost/vnet.h"
#include "vnetmap/portname.h"

struct nmport_seg {
	uint32_t ring;     /* tx ring index */
	uint32_t first;    /* first frame of the batch from this ring */
	uint32_t count;    /* frames returned from this ring */
	uint32_t scan_end; /* slot after the last slot consumed by the scan */
};

/*
 * A zero-copy monitor (/z, netmap_port.h): its RX rings are an end of this port's own
 * region. Set and cleared by the control plane while the switch thread is held
 * (vnm_switch_locked) or the port is detached; used on the switch thread only.
 */
struct nmzmon {
	struct vnm_kring rx[VNM_MAX_RINGS];
	unsigned nrx;
	uint32_t mask;                   /* rings its client bound */
	int notify_fd;                   /* daemon end of its notify socket */
	uint8_t touched[VNM_MAX_RINGS];
	struct vnm_ctl_port_stats *stats; /* the monitor's counters */
};

struct nmport {
	struct vnm_dport dp; /* first: dport <-> nmport */
	unsigned ntx, nrx;
	struct vnm_kring *tx, *rx;
	int *tx_notify, *rx_notify; /* daemon end of the notify socket, -1: none */
	uint8_t *rx_touched;        /* deliver wrote or reset this rx ring this round */
	uint8_t *rx_bad0;           /* ring reset for a bad buf_idx, not delivered since */
	unsigned next_tx;           /* round robin start */
	int rx_want_kick;           /* space() was asked (lossless source): arm rx at sleep */
	struct nmzmon *zmon;        /* a /z monitor, or NULL */
	/* the last batch */
	const struct vnm_frame *frames;
	unsigned nseg;
	struct nmport_seg *seg;      /* [ntx] */
	uint32_t fend[VNM_BATCH_MAX]; /* slot after each frame */
	/*
	 * VNM_CTL_HDR_SET: the virtio-net header length (0, 10, 12) of the client's frames,
	 * both directions. Stored by the control plane (release) before it replies, loaded
	 * by the switch thread (acquire) after it read a ring's head, so every frame the
	 * client publishes after the reply is parsed with the new length.
	 */
	uint32_t hdr_len;
	struct virtio_net_hdr_mrg hdr[VNM_BATCH_MAX]; /* TX headers of the last batch, copied */
	/* software segmentation (gso.h): allocated at the first GSO frame for this port */
	uint8_t *gso_scratch;        /* VNM_GSO_SCRATCH bytes */
	struct vnm_frame *gso_segs;  /* [VNM_GSO_MAX_SEGS] */
};

static inline struct nmport *to_nm(struct vnm_dport *p)
{
	return (struct nmport *)p;
}

static inline uint32_t ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint16_t ld16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint32_t ring_next(uint32_t i, uint32_t n)
{
	return unlikely(i + 1 == n) ? 0 : i + 1;
}

static void ring_violation(struct nmport *np, struct vnm_kring *k, int reason)
{
	vnm_kring_reset(k, reason);
	np->dp.stats.ring_resets++;
}

static void nm_rx_done(struct vnm_dport *p, unsigned n);
static inline void rx_refresh(struct nmport *np, unsigned ri);

/* ---- /z: swap consumed slots into the zero-copy monitor's rx ring i ------------------ */

static inline uint32_t zm_free(const struct vnm_kring *k)
{
	return k->num_slots - 1 - vnm_ring_dist(k->nr_hwcur, k->nr_hwtail, k->num_slots);
}

/* The monitor client released slots (or wrote garbage: its ring is reset, counted). */
static void zm_refresh(struct nmzmon *z, unsigned ri)
{
	struct vnm_kring *k = &z->rx[ri];
	int err = vnm_kring_read_app(k);

	if (unlikely(err < 0)) {
		vnm_kring_reset(k, -err);
		z->stats->ring_resets++;
		z->touched[ri] = 1;
		return;
	}
	k->nr_hwcur = k->rhead;
}

/*
 * Slots [from, to) of ring (this port's, tx or rx) were consumed: swap each frame's
 * slots with free slots of monitor ring ri, or count it in drop_full when the monitor
 * has no room (the frame is then simply not monitored). Buffer indices are read once
 * and range-checked; the monitor client and this port's client share the region (one
 * trust domain, as in netmap), so a bad index only skips that frame (drop_bad_slot).
 */
static void zm_take(struct nmport *np, unsigned ri, struct vnm_kring *src, uint32_t from,
		    uint32_t to)
{
	struct nmzmon *z = np->zmon;
	uint32_t n = src->num_slots;

	if (ri >= z->nrx || !(z->mask & (1u << ri)) || from == to)
		return;
	struct vnm_kring *k = &z->rx[ri];
	struct netmap_slot *ss = src->ring->slot, *ms = k->ring->slot;

	/* slots the monitor released (a garbage head resets its ring here) */
	if (__atomic_load_n(&k->atok->head, __ATOMIC_RELAXED) != k->nr_hwcur)
		zm_refresh(z, ri);
	uint32_t i = from, left = vnm_ring_dist(from, to, n);

	while (left) {
		/* one frame: its chain of slots, bounded by the range */
		uint32_t need = 1;
		for (uint32_t j = i; need < left && (ld16(&ss[j].flags) & NS_MOREFRAG);
		     j = ring_next(j, n))
			need++;
		if (zm_free(k) < need)
			zm_refresh(z, ri);
		if (zm_free(k) < need) {
			z->stats->drop_full++;
			goto next;
		}
		uint32_t t = k->nr_hwtail, j = i;
		for (uint32_t c = 0; c < need; c++, j = ring_next(j, n), t = ring_next(t, k->num_slots)) {
			uint32_t sb = ld32(&ss[j].buf_idx), mb = ld32(&ms[t].buf_idx);
			if (sb < 2 || sb >= src->num_bufs || mb < 2 || mb >= k->num_bufs) {
				z->stats->drop_bad_slot++;
				goto next; /* tail not advanced: the swaps made so far are harmless */
			}
		}
		t = k->nr_hwtail, j = i;
		uint64_t bytes = 0;
		for (uint32_t c = 0; c < need; c++, j = ring_next(j, n), t = ring_next(t, k->num_slots)) {
			uint32_t sb = ld32(&ss[j].buf_idx), mb = ld32(&ms[t].buf_idx);
			uint32_t len = ld16(&ss[j].len);
			if (sb < 2 || sb >= src->num_bufs || mb < 2 || mb >= k->num_bufs)
				sb = mb; /* changed under us: keep the monitor's own buffer */
			if (len > k->buf_size)
				len = k->buf_size;
			__atomic_store_n(&ms[t].buf_idx, sb, __ATOMIC_RELAXED);
			__atomic_store_n(&ms[t].len, (uint16_t)len, __ATOMIC_RELAXED);
			__atomic_store_n(&ms[t].flags,
					 (uint16_t)(NS_BUF_CHANGED | (c + 1 < need ? NS_MOREFRAG : 0)),
					 __ATOMIC_RELAXED);
			__atomic_store_n(&ss[j].buf_idx, mb, __ATOMIC_RELAXED);
			__atomic_store_n(&ss[j].flags, (uint16_t)NS_BUF_CHANGED, __ATOMIC_RELAXED);
			bytes += len;
		}
		k->nr_hwtail = t;
		z->touched[ri] = 1;
		z->stats->tx_packets++;
		z->stats->tx_bytes += bytes;
next:
		for (uint32_t c = 0; c < need; c++)
			i = ring_next(i, n);
		left -= need;
	}
}

static void zm_flush(struct nmport *np)
{
	struct nmzmon *z = np->zmon;

	for (unsigned ri = 0; ri < z->nrx; ri++) {
		if (!z->touched[ri])
			continue;
		z->touched[ri] = 0;
		/* RELEASE inside: swapped slots before the new hwtail */
		vnm_kring_publish(&z->rx[ri]);
		if (vnm_kring_notify_needed(&z->rx[ri]) && z->notify_fd >= 0) {
			char one = 1;
			ssize_t r = send(z->notify_fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)r;
		}
	}
}

/* ---- from the client's TX rings into the switch ------------------------------------ */

/*
 * A port with a header (VNM_CTL_HDR_SET): the first hl bytes of the frame are a
 * virtio-net header. Copied out of the client's buffer into port storage (h) before it
 * is checked (vnm_kernel_hdr_check: flags, csum_start/offset inside the frame, GSO
 * type, gso_size, hdr_len), and only the copy travels; the frame's fragments then
 * start after it. VNM_FRAME_F_VNET only when the header asks for an offload.
 * Returns 0, or < 0: dropped and counted (a frame no longer than its header:
 * drop_runt; a bad header: drop_bad_slot, as vhost_port.c counts a guest's).
 */
static int tx_hdr(struct vnm_dport *p, struct vnm_frame *f, uint32_t hl,
		  struct virtio_net_hdr_mrg *h)
{
	uint8_t *hb = (uint8_t *)h;
	uint32_t got = 0;
	unsigned i = 0;

	memset(h, 0, sizeof(*h));
	if (unlikely(f->len <= hl)) {
		p->stats.drop_runt++;
		return -ENODATA;
	}
	while (got < hl) { /* f->len > hl: the fragments hold it */
		uint32_t c = f->frag_len[i];
		if (c > hl - got)
			c = hl - got;
		memcpy(hb + got, f->frag[i], c);
		got += c;
		if (c == f->frag_len[i]) {
			i++;
		} else {
			f->frag[i] += c;
			f->frag_len[i] = (uint16_t)(f->frag_len[i] - c);
		}
	}
	if (i) {
		memmove(&f->frag[0], &f->frag[i], (f->nfrags - i) * sizeof(f->frag[0]));
		memmove(&f->frag_len[0], &f->frag_len[i], (f->nfrags - i) * sizeof(f->frag_len[0]));
		f->nfrags = (uint16_t)(f->nfrags - i);
	}
	f->len -= hl;
	h->num_buffers = 0;
	int r = vnm_kernel_hdr_check(h, f->len);
	if (r < 0) {
		p->stats.drop_bad_slot++;
		return -EINVAL;
	}
	if (r > 0) {
		f->flags = VNM_FRAME_F_VNET;
		f->vnet_hdr = h;
	}
	return 0;
}

static int nm_rx_batch(struct vnm_dport *p, struct vnm_frame *frames, unsigned max)
{
	struct nmport *np = to_nm(p);
	unsigned nf = 0, ri = np->next_tx;

	np->nseg = 0;
	np->frames = frames;
	if (unlikely(np->zmon != NULL)) {
		/* /z: RX slots the client released since, even with nothing to deliver */
		for (unsigned ri = 0; ri < np->nrx; ri++)
			if (__atomic_load_n(&np->rx[ri].atok->head, __ATOMIC_ACQUIRE) !=
			    np->rx[ri].nr_hwcur)
				rx_refresh(np, ri);
		zm_flush(np);
	}
	if (np->ntx == 0)
		return 0;
	if (max > VNM_BATCH_MAX)
		max = VNM_BATCH_MAX;
	for (unsigned r = 0; r < np->ntx && nf < max; r++, ri = ri + 1 == np->ntx ? 0 : ri + 1) {
		struct vnm_kring *k = &np->tx[ri];
		struct netmap_slot *slots = k->ring->slot;
		uint32_t n = k->num_slots;
		int err = vnm_kring_read_app(k);

		if (unlikely(err < 0)) {
			ring_violation(np, k, -err);
			continue; /* skip the ring this round */
		}
		uint32_t i = k->nr_hwcur, head = k->rhead;
		const uint32_t hl = __atomic_load_n(&np->hdr_len, __ATOMIC_ACQUIRE); /* after head */
		struct nmport_seg *sg = &np->seg[np->nseg];
		sg->ring = ri;
		sg->first = nf;
		sg->count = 0;
		sg->scan_end = i;
		while (i != head && nf < max) {
			struct vnm_frame *f = &frames[nf];
			uint32_t j = i, tot = 0, nfr = 0;

			for (;;) {
				if (j == head) {
					/*
					 * Chain not terminated before head: not complete yet,
					 * unless it already covers all n - 1 usable slots (rings
					 * under 65 slots), in which case it never will be.
					 */
					if (vnm_ring_dist(i, head, n) + 1 >= n) {
						ring_violation(np, k, VNM_RERR_CHAIN);
						nf = sg->first;
						goto next_ring;
					}
					goto ring_done;
				}
				struct netmap_slot *s = &slots[j];
				uint32_t idx = ld32(&s->buf_idx);
				uint32_t len = ld16(&s->len);
				uint32_t fl = ld16(&s->flags);

				err = vnm_kring_check_slot(k, idx, len);
				if (unlikely(err < 0)) {
					ring_violation(np, k, -err);
					p->stats.drop_bad_slot++;
					nf = sg->first; /* head went back to hwcur */
					goto next_ring;
				}
				const uint8_t *buf = (const uint8_t *)vnm_kring_buf(k, idx);
				__builtin_prefetch(buf);
				f->frag[nfr] = buf;
				f->frag_len[nfr] = (uint16_t)len;
				nfr++;
				tot += len;
				j = ring_next(j, n);
				if (likely(!(fl & NS_MOREFRAG)))
					break;
				if (unlikely(nfr == NM_MAX_FRAGS)) {
					ring_violation(np, k, VNM_RERR_CHAIN);
					nf = sg->first;
					goto next_ring;
				}
			}
			i = j;
			sg->scan_end = i;
			if (unlikely(tot > VNM_FRAME_MAX + hl)) {
				p->stats.drop_oversize++;
				continue; /* consumed with the next frames (rx_done) */
			}
			f->nfrags = (uint16_t)nfr;
			f->flags = 0;
			f->len = tot;
			if (unlikely(hl) && tx_hdr(p, f, hl, &np->hdr[nf]) < 0)
				continue; /* counted; consumed with the next frames */
			np->fend[nf] = i;
			nf++;
			sg->count++;
		}
ring_done:
		if (sg->count || sg->scan_end != k->nr_hwcur)
			np->nseg++;
next_ring:;
	}
	np->next_tx = np->next_tx + 1 == np->ntx ? 0 : np->next_tx + 1;
	if (nf == 0 && np->nseg)
		nm_rx_done(p, 0); /* only dropped (oversize) frames: free their slots now */
	return (int)nf;
}

/*
 * The TX-space notification: drain the daemon end of the notify socket (csb.h).
 * The client's filler is VNM_NOTIFY_FILL bytes of a stream socket, so a read that
 * returns less than the buffer emptied it: one system call in the common case.
 */
static void notify_tx(int fd)
{
	char buf[4 * VNM_NOTIFY_FILL];
	ssize_t r;

	if (fd < 0)
		return;
	do
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (r == (ssize_t)sizeof(buf));
}

static void nm_rx_done(struct vnm_dport *p, unsigned n)
{
	struct nmport *np = to_nm(p);
	const struct vnm_frame *frames = np->frames;
	uint64_t bytes = 0, pkts = 0;

	for (unsigned s = 0; s < np->nseg; s++) {
		struct nmport_seg *sg = &np->seg[s];
		struct vnm_kring *k = &np->tx[sg->ring];
		uint32_t done = n > sg->count ? sg->count : n, newcur;

		n -= done;
		if (done == sg->count)
			newcur = sg->scan_end; /* includes trailing dropped frames */
		else if (done)
			newcur = np->fend[sg->first + done - 1];
		else
			continue;
		for (uint32_t f = sg->first; f < sg->first + done; f++)
			bytes += frames[f].len;
		pkts += done;
		if (newcur == k->nr_hwcur)
			continue;
		if (unlikely(np->zmon != NULL)) /* swap after consumption: TX ring i -> ring i */
			zm_take(np, sg->ring, k, k->nr_hwcur, newcur);
		k->nr_hwcur = newcur;
		/* TX slots go back to the client as soon as they are consumed */
		k->nr_hwtail = newcur == 0 ? k->num_slots - 1 : newcur - 1;
		/* slots were only read: publish orders nothing but the indices */
		vnm_kring_publish(k);
		if (vnm_kring_notify_needed(k))
			notify_tx(__atomic_load_n(&np->tx_notify[sg->ring], __ATOMIC_ACQUIRE));
	}
	np->nseg = 0;
	p->stats.rx_packets += pkts;
	p->stats.rx_bytes += bytes;
	if (unlikely(np->zmon != NULL))
		zm_flush(np);
}

/* ---- from the switch into the client's RX rings ------------------------------------ */

/*
 * Copy len (<= buffer size) bytes; no read or write past len. Source and
 * destination are different ports' regions, so they never overlap on the switch;
 * memmove keeps even a same-region caller well defined (same speed in glibc).
 */
static inline void copy_frag(uint8_t *dst, const uint8_t *src, uint32_t len)
{
	if (likely(len <= 64)) {
		if (len >= 32) {
			__builtin_memcpy(dst, src, 32);
			__builtin_memcpy(dst + len - 32, src + len - 32, 32);
		} else if (len >= 16) {
			__builtin_memcpy(dst, src, 16);
			__builtin_memcpy(dst + len - 16, src + len - 16, 16);
		} else if (len >= 8) {
			__builtin_memcpy(dst, src, 8);
			__builtin_memcpy(dst + len - 8, src + len - 8, 8);
		} else {
			for (uint32_t i = 0; i < len; i++)
				dst[i] = src[i];
		}
		return;
	}
	memmove(dst, src, len);
}

/*
 * Offloads (port.h, VNM_FRAME_F_VNET): a netmap client without a virtio-net header
 * (hdr_len 0, the default) gets a partial checksum completed here and a GSO frame cut
 * in software (vhost/gso.h: all segments or none, counted in gso_segs; a frame gso.c
 * refuses is dropped, drop_gso). A client with a header (VNM_CTL_HDR_SET) gets the
 * frame's header in front of the frame, offloads left to it. The header layout is virtio's (little endian, 12 bytes); the
 * source port validated it, and we still read each field once and bound-check it.
 * Header layout and checksum are the shared ones of vhost/vnet.h.
 */

/*
 * Returns 0 with *pos = frame offset of the checksum to write (or -1: none) and
 * *val its value (host order of the big-endian field), or -1: drop (GSO, bad header).
 */
static int vnet_prepare(const struct vnm_frame *f, int32_t *pos, uint16_t *val)
{
	struct virtio_net_hdr_mrg h;

	*pos = -1;
	if (!f->vnet_hdr)
		return 0;
	memcpy(&h, f->vnet_hdr, sizeof(h)); /* once */
	if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE)
		return -1; /* GSO frames go through vnm_gso_segment, not here */
	if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if ((uint32_t)h.csum_start + h.csum_offset + 2 > f->len)
		return -1;
	*pos = (int32_t)(h.csum_start + h.csum_offset);
	*val = ntohs(vnm_vnet_csum(f, h.csum_start)); /* bytes in network order */
	return 0;
}

/* Write the checksum bytes that fall in the chunk [cstart, cstart + clen) of the frame. */
static inline void patch_chunk(uint8_t *dst, uint32_t cstart, uint32_t clen, int32_t pos,
			       uint16_t val)
{
	for (uint32_t b = 0; b < 2; b++) {
		uint32_t at = (uint32_t)pos + b;
		if (at >= cstart && at < cstart + clen)
			dst[at - cstart] = b ? (uint8_t)val : (uint8_t)(val >> 8);
	}
}

/* Refresh the client's head on an rx ring: release the slots it gave back. */
static inline void rx_refresh(struct nmport *np, unsigned ri)
{
	struct vnm_kring *k = &np->rx[ri];
	int err = vnm_kring_read_app(k);

	if (unlikely(err < 0)) {
		ring_violation(np, k, -err);
		np->rx_touched[ri] = 1;
		return;
	}
	if (unlikely(np->zmon != NULL)) /* slots the client released: RX ring i -> ring i */
		zm_take(np, ri, k, k->nr_hwcur, k->rhead);
	k->nr_hwcur = k->rhead;
}

/* Slots we may fill: [hwtail, hwcur - 1). */
static inline uint32_t rx_free(const struct vnm_kring *k)
{
	return k->num_slots - 1 - vnm_ring_dist(k->nr_hwcur, k->nr_hwtail, k->num_slots);
}

/*
 * A destination slot with a bad buf_idx: nothing is written. The ring is reset
 * once (that zeroes the bad index); a buf_idx 0 found after that reset, before the
 * client delivered us a good slot again, is only counted.
 */
static void rx_bad_slot(struct nmport *np, unsigned ri, uint32_t idx)
{
	struct vnm_kring *k = &np->rx[ri];

	if (idx == 0 && np->rx_bad0[ri])
		return;
	ring_violation(np, k, VNM_RERR_BUF_IDX);
	np->rx_bad0[ri] = 1;
	np->rx_touched[ri] = 1;
}

/*
 * Copy pre[0..pl) then frame f into need (> 0) slots from *tailp: a chain with
 * NS_MOREFRAG on all but the last. ppos >= 0: the frame offset of a checksum to write
 * as pval. Returns 0 (*tailp advanced) or -1 with *badb: a slot with a bad buf_idx,
 * nothing published (the caller's tail did not move).
 */
static int rx_put(struct vnm_kring *k, uint32_t *tailp, const uint8_t *pre, uint32_t pl,
		  const struct vnm_frame *f, int32_t ppos, uint16_t pval, uint32_t bs,
		  uint32_t need, uint32_t *badb)
{
	struct netmap_slot *slots = k->ring->slot;
	uint32_t len = pl + f->len, cnt = need > 255 ? 255 : need;
	uint32_t fi = 0, fo = 0, po = 0, t = *tailp;

	for (uint32_t sidx = 0; sidx < need; sidx++) {
		struct netmap_slot *s = &slots[t];
		uint32_t b = ld32(&s->buf_idx);
		if (unlikely(b < 2 || b >= k->num_bufs)) {
			*badb = b;
			return -1; /* tail not advanced: partial copy invisible */
		}
		uint8_t *dst = (uint8_t *)vnm_kring_buf(k, b);
		uint32_t room = len - sidx * bs;
		if (room > bs)
			room = bs;
		uint32_t put = 0;
		while (put < room) {
			const uint8_t *src;
			uint32_t chunk;
			if (po < pl) {
				src = pre + po;
				chunk = pl - po;
			} else {
				if (fi == f->nfrags)
					break;
				src = f->frag[fi] + fo;
				chunk = f->frag_len[fi] - fo;
			}
			if (chunk > room - put)
				chunk = room - put;
			memmove(dst + put, src, chunk);
			put += chunk;
			if (po < pl) {
				po += chunk;
				continue;
			}
			fo += chunk;
			while (fi < f->nfrags && fo == f->frag_len[fi]) {
				fi++;
				fo = 0;
			}
		}
		if (ppos >= 0)
			patch_chunk(dst, sidx * bs, put, ppos + (int32_t)pl, pval);
		__atomic_store_n(&s->len, (uint16_t)put, __ATOMIC_RELAXED);
		__atomic_store_n(&s->flags,
				 (uint16_t)((cnt << NS_PORT_SHIFT) | (sidx + 1 < need ? NS_MOREFRAG : 0)),
				 __ATOMIC_RELAXED);
		t = ring_next(t, k->num_slots);
	}
	*tailp = t;
	return 0;
}

/* The segmentation buffers of a port (gso.h), allocated at its first GSO frame. */
static int gso_bufs(struct nmport *np)
{
	if (likely(np->gso_scratch != NULL))
		return 0;
	np->gso_scratch = malloc(VNM_GSO_SCRATCH);
	np->gso_segs = malloc(VNM_GSO_MAX_SEGS * sizeof(*np->gso_segs));
	if (!np->gso_scratch || !np->gso_segs) {
		free(np->gso_scratch);
		free(np->gso_segs);
		np->gso_scratch = NULL;
		np->gso_segs = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int deliver_ring(struct vnm_dport *p, unsigned ri, const struct vnm_frame *frames,
			const uint16_t *idx, unsigned n)
{
	struct nmport *np = to_nm(p);
	struct vnm_kring *k;
	uint32_t tail, avail, nslots, bs;
	uint64_t bytes = 0, extra = 0;
	uint32_t badb = 0;
	unsigned i, skipped = 0;
	int bad = 0;

	if (unlikely(ri >= np->nrx))
		return 0;
	k = &np->rx[ri];
	rx_refresh(np, ri);
	tail = k->nr_hwtail;
	avail = rx_free(k);
	nslots = k->num_slots;
	bs = k->buf_size;
	if (unlikely(bs == 0))
		return 0;
	if (unlikely(bs > UINT16_MAX))
		bs = UINT16_MAX; /* slot.len is 16 bits */
	struct netmap_slot *slots = k->ring->slot;
	/* a header in the client's frames (VNM_CTL_HDR_SET): read once per call */
	const uint32_t hl = __atomic_load_n(&np->hdr_len, __ATOMIC_ACQUIRE);

	for (i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[idx[i]];
		uint32_t len = f->len;

		if (i + 1 < n) /* the next frame's header; its slot is next to ours */
			__builtin_prefetch(frames[idx[i + 1]].frag[0]);
		if (likely((f->nfrags == 1) & (len <= bs) & (f->flags == 0) & (hl == 0))) {
			if (unlikely(avail == 0))
				break;
			struct netmap_slot *s = &slots[tail];
			uint32_t b = ld32(&s->buf_idx);
			if (unlikely(b < 2 || b >= k->num_bufs)) {
				badb = b;
				goto bad_slot;
			}
			copy_frag((uint8_t *)vnm_kring_buf(k, b), f->frag[0], len);
			__atomic_store_n(&s->len, (uint16_t)len, __ATOMIC_RELAXED);
			__atomic_store_n(&s->flags, (uint16_t)(1 << NS_PORT_SHIFT),
					 __ATOMIC_RELAXED);
			tail = ring_next(tail, nslots);
			avail--;
			bytes += len;
			continue;
		}
		/* several destination slots and/or source fragments, or offloads, or a header */
		int32_t ppos = -1;
		uint16_t pval = 0;
		struct virtio_net_hdr_mrg vh;
		const int vnet = !!(f->flags & VNM_FRAME_F_VNET) && f->vnet_hdr;
		if (vnet)
			memcpy(&vh, f->vnet_hdr, sizeof(vh)); /* once */
		else
			memset(&vh, 0, sizeof(vh));
		if (hl) {
			/* the frame's own header passed on (the client does the offloads), else zeros */
			vh.num_buffers = 0;
		} else if (vnet && (vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE) {
			/* software segmentation: all segments or none */
			int ns = gso_bufs(np);
			if (ns == 0)
				ns = vnm_gso_segment(f, np->gso_segs, VNM_GSO_MAX_SEGS, np->gso_scratch,
						     VNM_GSO_SCRATCH);
			if (ns < 0) {
				p->stats.drop_gso++;
				skipped++; /* handled: not for the switch to count again */
				continue;
			}
			uint32_t need = 0;
			uint64_t sb = 0;
			for (int g = 0; g < ns; g++)
				need += (np->gso_segs[g].len + bs - 1) / bs;
			if (need > avail)
				break; /* not all segments fit: none delivered */
			uint32_t t = tail;
			for (int g = 0; g < ns; g++) {
				const struct vnm_frame *sf = &np->gso_segs[g];
				if (rx_put(k, &t, NULL, 0, sf, -1, 0, bs, (sf->len + bs - 1) / bs,
					   &badb) < 0)
					goto bad_slot;
				sb += sf->len;
			}
			tail = t;
			avail -= need;
			bytes += sb;
			extra += (uint64_t)ns - 1;
			p->stats.gso_segs += (uint64_t)ns;
			continue;
		} else if (vnet && vnet_prepare(f, &ppos, &pval) < 0) {
			p->stats.drop_gso++;
			skipped++;
			continue;
		}
		uint32_t need = len + hl == 0 ? 1 : (len + hl + bs - 1) / bs;
		if (need > avail)
			break; /* does not fit entirely: not delivered */
		if (rx_put(k, &tail, (const uint8_t *)&vh, hl, f, ppos, pval, bs, need, &badb) < 0)
			goto bad_slot;
		avail -= need;
		bytes += len;
		continue;

bad_slot:
		/* drop this frame and the rest of the call: the ring cannot move past it */
		p->stats.drop_bad_slot += n - i;
		rx_bad_slot(np, ri, badb);
		bad = 1;
		break;
	}
	if (i > skipped) {
		if (!bad)
			np->rx_bad0[ri] = 0;
		k->nr_hwtail = tail;
		np->rx_touched[ri] = 1;
		/* packets the client receives: each software segment counts */
		p->stats.tx_packets += i - skipped + extra;
		p->stats.tx_bytes += bytes;
	}
	/* dropped for a bad slot counts as taken: the switch must not count them again */
	return bad ? (int)n : (int)i;
}

static int nm_deliver(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		      unsigned n)
{
	/* VALE delivers to rx ring 0 (netmap's default lookup) */
	return deliver_ring(p, 0, frames, idx, n);
}

int vnm_nmport_deliver_ring(struct vnm_dport *p, unsigned ri, const struct vnm_frame *frames,
			    const uint16_t *idx, unsigned n)
{
	return deliver_ring(p, ri, frames, idx, n);
}

static unsigned nm_frame_ring(struct vnm_dport *p, unsigned i)
{
	struct nmport *np = to_nm(p);

	for (unsigned s = 0; s < np->nseg; s++)
		if (i >= np->seg[s].first && i < np->seg[s].first + np->seg[s].count)
			return np->seg[s].ring;
	return 0;
}

static void nm_deliver_flush(struct vnm_dport *p)
{
	struct nmport *np = to_nm(p);

	for (unsigned ri = 0; ri < np->nrx; ri++) {
		if (!np->rx_touched[ri])
			continue;
		struct vnm_kring *k = &np->rx[ri];
		np->rx_touched[ri] = 0;
		/* RELEASE inside: slot contents before the new hwtail */
		vnm_kring_publish(k);
		if (vnm_kring_notify_needed(k)) {
			int fd = __atomic_load_n(&np->rx_notify[ri], __ATOMIC_ACQUIRE);
			if (fd >= 0) {
				char one = 1;
				ssize_t r = send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
				(void)r; /* EAGAIN: a byte is already pending, the client wakes */
			}
		}
	}
}

static unsigned nm_space(struct vnm_dport *p)
{
	struct nmport *np = to_nm(p);

	if (np->nrx == 0)
		return 0;
	/* nobody bound rx ring 0: a lossless sender must not wait for us (deliver drops) */
	if (__atomic_load_n(&np->rx_notify[0], __ATOMIC_ACQUIRE) < 0)
		return VNM_BATCH_MAX * NM_MAX_FRAGS;
	np->rx_want_kick = 1; /* a lossless source may wait on us: arm rx before sleeping */
	rx_refresh(np, 0);
	return rx_free(&np->rx[0]);
}

static int nm_sleep_prepare(struct vnm_dport *p)
{
	struct nmport *np = to_nm(p);
	int work = 0;

	for (unsigned ri = 0; ri < np->ntx; ri++) {
		struct vnm_kring *k = &np->tx[ri];
		vnm_csb_kern_sleep_prepare(k); /* full fence after the flag store */
		/*
		 * New work = a head we have not seen. Slots in [hwcur, rhead) left over
		 * are an unterminated chain or frames of a lossless source waiting for
		 * rx space (the rx arm below covers those).
		 */
		if (__atomic_load_n(&k->atok->head, __ATOMIC_ACQUIRE) != k->rhead)
			work = 1;
	}
	if (np->rx_want_kick || np->zmon) {
		/* /z: released RX slots are monitored, so their release must wake us */
		/* the client left while a lossless sender waited for it: space() changed */
		if (np->nrx && __atomic_load_n(&np->rx_notify[0], __ATOMIC_ACQUIRE) < 0)
			work = 1;
		for (unsigned ri = 0; ri < np->nrx; ri++) {
			struct vnm_kring *k = &np->rx[ri];
			vnm_csb_kern_sleep_prepare(k);
			if (__atomic_load_n(&k->atok->head, __ATOMIC_ACQUIRE) != k->nr_hwcur)
				work = 1;
		}
	}
	return work;
}

static void nm_wake(struct vnm_dport *p)
{
	struct nmport *np = to_nm(p);

	for (unsigned ri = 0; ri < np->ntx; ri++)
		vnm_csb_kern_wake(&np->tx[ri]);
	for (unsigned ri = 0; ri < np->nrx; ri++)
		vnm_csb_kern_wake(&np->rx[ri]);
	np->rx_want_kick = 0;
}

static const struct vnm_dport_ops nmport_ops = {
	.rx_batch = nm_rx_batch,
	.rx_done = nm_rx_done,
	.deliver = nm_deliver,
	.deliver_flush = nm_deliver_flush,
	.space = nm_space,
	.sleep_prepare = nm_sleep_prepare,
	.wake = nm_wake,
	.frame_ring = nm_frame_ring,
};

struct vnm_dport *vnm_nmport_create(const char *name, const struct vnm_kring *tx, unsigned ntx,
				    const struct vnm_kring *rx, unsigned nrx, uint32_t flags)
{
	struct nmport *np = calloc(1, sizeof(*np));

	if (!np)
		return NULL;
	np->tx = calloc(ntx ? ntx : 1, sizeof(*np->tx));
	np->rx = calloc(nrx ? nrx : 1, sizeof(*np->rx));
	np->tx_notify = calloc(ntx ? ntx : 1, sizeof(int));
	np->rx_notify = calloc(nrx ? nrx : 1, sizeof(int));
	np->seg = calloc(ntx ? ntx : 1, sizeof(*np->seg));
	np->rx_touched = calloc(nrx ? nrx : 1, 1);
	np->rx_bad0 = calloc(nrx ? nrx : 1, 1);
	if (!np->tx || !np->rx || !np->tx_notify || !np->rx_notify || !np->seg ||
	    !np->rx_touched || !np->rx_bad0) {
		vnm_nmport_destroy(&np->dp);
		return NULL;
	}
	if (ntx)
		memcpy(np->tx, tx, ntx * sizeof(*tx));
	if (nrx)
		memcpy(np->rx, rx, nrx * sizeof(*rx));
	for (unsigned i = 0; i < ntx; i++)
		np->tx_notify[i] = -1;
	for (unsigned i = 0; i < nrx; i++)
		np->rx_notify[i] = -1;
	np->ntx = ntx;
	np->nrx = nrx;
	snprintf(np->dp.name, sizeof(np->dp.name), "%s", name ? name : "");
	snprintf(np->dp.stats.name, sizeof(np->dp.stats.name), "%s", np->dp.name);
	np->dp.ops = &nmport_ops;
	np->dp.priv = np;
	np->dp.sw_idx = -1;
	np->dp.flags = flags;
	return &np->dp;
}

void vnm_nmport_set_notify(struct vnm_dport *p, int dir, unsigned ri, int notify_fd)
{
	struct nmport *np = to_nm(p);

	if (dir == 0 && ri < np->ntx)
		__atomic_store_n(&np->tx_notify[ri], notify_fd, __ATOMIC_RELEASE);
	else if (dir == 1 && ri < np->nrx)
		__atomic_store_n(&np->rx_notify[ri], notify_fd, __ATOMIC_RELEASE);
}

int vnm_nmport_set_zmon(struct vnm_dport *p, const struct vnm_kring *rx, unsigned nrx,
			uint32_t mask, int notify_fd, struct vnm_ctl_port_stats *stats)
{
	struct nmport *np = to_nm(p);
	struct nmzmon *z;

	if (!rx) {
		free(np->zmon);
		np->zmon = NULL;
		return 0;
	}
	if (nrx > VNM_MAX_RINGS || np->zmon)
		return -EBUSY;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	memcpy(z->rx, rx, nrx * sizeof(*rx));
	z->nrx = nrx;
	z->mask = mask;
	z->notify_fd = notify_fd;
	z->stats = stats;
	np->zmon = z;
	return 0;
}

struct vnm_kring *vnm_nmport_kring(struct vnm_dport *p, int dir, unsigned ri)
{
	struct nmport *np = to_nm(p);

	if (dir == 0)
		return ri < np->ntx ? &np->tx[ri] : NULL;
	return ri < np->nrx ? &np->rx[ri] : NULL;
}

void vnm_nmport_destroy(struct vnm_dport *p)
{
	struct nmport *np;

	if (!p)
		return;
	np = to_nm(p);
	free(np->tx);
	free(np->rx);
	free(np->tx_notify);
	free(np->rx_notify);
	free(np->seg);
	free(np->rx_touched);
	free(np->rx_bad0);
	free(np->zmon);
	free(np->gso_scratch);
	free(np->gso_segs);
	free(np);
}

int vnm_nmport_set_hdr(struct vnm_dport *p, unsigned len)
{
	if (len != 0 && len != 10 && len != VHOST_HDR_LEN)
		return -EINVAL;
	/* release: pairs with the switch thread's acquire loads (struct nmport) */
	__atomic_store_n(&to_nm(p)->hdr_len, (uint32_t)len, __ATOMIC_RELEASE);
	p->vnet_hdr_len = (uint16_t)len; /* informational: the switch does not read it */
	return 0;
}

int vnm_dport_is_nmport(const struct vnm_dport *p)
{
	return p && p->ops == &nmport_ops;
}

unsigned vnm_nmport_get_hdr(struct vnm_dport *p)
{
	return __atomic_load_n(&to_nm(p)->hdr_len, __ATOMIC_ACQUIRE);
}
