// SPDX-License-Identifier: BSD-2-Clause
/*
 * pipe.c - the datapath of netmap pipes, run by the two endpoints themselves.
 *
 * Both ends' netmap_ifs, rings and CSBs live in one region, and vnetmapd is not on
 * the datapath. Each endpoint's library plays netmap's kernel for
 *   (a) its own TX rings: it validates head/cur and the slots it moves, and
 *   (b) the PEER's RX rings: it fills them (my tx ring i feeds the peer's rx ring i)
 *       and takes back the slots the peer released.
 * The kernel-side state of those rings is private (struct vnm_kring): geometry
 * and hwcur/hwtail are copies this process owns, initialised at open from the
 * region (bounds-checked) and never read back from shared memory afterwards.
 * Moving a packet swaps buffer indices between my TX slot and the peer's RX slot
 * (zero copy); only complete packets (last slot without NS_MOREFRAG) move, and a
 * packet that does not fit waits in [hwcur, head) for the next txsync (lossless).
 *
 * Security model / trust domain: the two ends of a pipe map the same buffers, so
 * they trust each other, as in netmap: a pipe is one trust domain. Trust stops at
 * memory safety of THIS process: everything read from the peer (its released head,
 * its RX slots' buffer indices, the hwtail it writes for my RX ring) is read once
 * and bounded against private geometry before use; an out-of-range value is
 * ignored (head, hwtail) or replaced by reserved buffer 0 (buffer index), never
 * dereferenced. The library itself never touches packet buffers. My own
 * application's mistakes on my TX ring (head/cur out of range, bad buf_idx or len,
 * an over-long MOREFRAG chain) reset that ring and return -EIO, netmap's rules.
 *
 * Notifications (csb.h): fds[2] of the OPEN reply is the daemon end of the peer's
 * notify socket. After filling a peer RX ring we write one byte to it if the peer
 * armed that ring; after releasing RX slots (the peer's TX space) we drain it if
 * the peer armed its TX ring, which makes the peer's fd writable again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define PIPE_BATCH 256 /* slots scanned per pass (>= NM_MAX_FRAGS) */

struct vnm_pipe_state {
	int peer_fd;                /* daemon end of the peer's notify socket */
	uint32_t ntx, nrx;          /* my ring counts (peer: nrx tx, ntx rx) */
	struct vnm_kring *tx;       /* [ntx] my TX rings, kernel side */
	struct vnm_kring *peer_rx;  /* [ntx] the peer's RX rings, kernel side */
	struct vnm_kring *peer_tx;  /* [nrx] views of the peer's TX rings (atok only) */
	uint32_t *rx_nslots;        /* [nrx] private geometry of my RX rings */
	uint32_t *rx_last_head;     /* [nrx] my RX head last published */
	volatile uint32_t *doorbell; /* peer_fd < 0 (a guest): ivshmem doorbell, or NULL */
	uint32_t db_rx, db_tx;      /* values: peer RX has packets / peer TX has space */
};

struct slot_copy {
	uint32_t buf_idx;
	uint16_t len;
	uint16_t flags;
};

/* Read a ring's CSB-published indices once; refuse values outside the ring. */
static int init_kring(struct vnm_kring *k, struct netmap_ring *ring, struct nm_csb_atok *atok,
		      struct nm_csb_ktoa *ktoa, const struct vnm_region_hdr *hdr, char *mem,
		      uint32_t nslots, uint32_t dir)
{
	uint32_t hwcur = __atomic_load_n(&ktoa->hwcur, __ATOMIC_RELAXED);
	uint32_t hwtail = __atomic_load_n(&ktoa->hwtail, __ATOMIC_ACQUIRE);

	vnm_kring_init(k, ring, atok, ktoa, mem + hdr->buf_ofs, nslots, hdr->buf_size,
		       hdr->num_bufs, dir);
	if (hwcur >= nslots || hwtail >= nslots)
		return -1;
	k->nr_hwcur = hwcur;
	k->nr_hwtail = hwtail;
	return 0;
}

void vnm__pipe_free(struct vnm_port *d)
{
	struct vnm_pipe_state *ps = d->pipe;

	if (!ps)
		return;
	if (ps->peer_fd >= 0)
		close(ps->peer_fd);
	free(ps->tx);
	free(ps->peer_rx);
	free(ps->peer_tx);
	free(ps->rx_nslots);
	free(ps->rx_last_head);
	free(ps);
	d->pipe = NULL;
}

int vnm__pipe_setup(struct vnm_port *d, const struct vnm_region_hdr *hdr,
		    const struct vnm_ctl_open_rep *rep, int peer_fd, char *err, size_t errlen)
{
	const struct vnm_region_end *me = &hdr->ends[rep->end];
	const struct vnm_region_end *pe = &hdr->ends[rep->peer_end];
	char *mem = d->mem;
	const uint64_t size = d->memsize;
	struct vnm_pipe_state *ps;
	const struct netmap_if *pnifp;
	uint32_t ntx = me->num_tx_rings, nrx = me->num_rx_rings;
	uint32_t pntx, pnrx, pnhtx;

	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		close(peer_fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ps->peer_fd = peer_fd;
	d->pipe = ps;

	if (!(pe->flags & VNM_END_USED) ||
	    !vnm__in_region(pe->nifp_ofs, sizeof(struct netmap_if), size) ||
	    pe->nifp_ofs % 8) {
		snprintf(err, errlen, "pipe peer end %u missing from the region", rep->peer_end);
		return -EPROTO;
	}
	pnifp = (const struct netmap_if *)(mem + pe->nifp_ofs);
	pntx = pnifp->ni_tx_rings;
	pnrx = pnifp->ni_rx_rings;
	pnhtx = pnifp->ni_host_tx_rings;
	if (ntx == 0 || nrx == 0 || pntx != nrx || pnrx != ntx || pe->num_tx_rings != pntx ||
	    pe->num_rx_rings != pnrx || pnhtx > VNM_MAX_RINGS ||
	    !vnm__in_region(pe->nifp_ofs + sizeof(struct netmap_if),
			    (uint64_t)(pntx + pnhtx + pnrx) * sizeof(ssize_t), size) ||
	    !vnm__in_region(pe->csb_atok_ofs, (uint64_t)(pntx + pnrx) * 64, size) ||
	    !vnm__in_region(pe->csb_ktoa_ofs, (uint64_t)(pntx + pnrx) * 64, size) ||
	    pe->csb_atok_ofs % 64 || pe->csb_ktoa_ofs % 64) {
		snprintf(err, errlen, "pipe ends disagree (mine %u tx/%u rx, peer %u tx/%u rx)",
			 ntx, nrx, pntx, pnrx);
		return -EPROTO;
	}
	ps->ntx = ntx;
	ps->nrx = nrx;
	ps->tx = calloc(ntx, sizeof(*ps->tx));
	ps->peer_rx = calloc(ntx, sizeof(*ps->peer_rx));
	ps->peer_tx = calloc(nrx, sizeof(*ps->peer_tx));
	ps->rx_nslots = calloc(nrx, sizeof(*ps->rx_nslots));
	ps->rx_last_head = calloc(nrx, sizeof(*ps->rx_last_head));
	if (!ps->tx || !ps->peer_rx || !ps->peer_tx || !ps->rx_nslots || !ps->rx_last_head) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	struct nm_csb_atok *patok = (struct nm_csb_atok *)(mem + pe->csb_atok_ofs);
	struct nm_csb_ktoa *pktoa = (struct nm_csb_ktoa *)(mem + pe->csb_ktoa_ofs);

	for (uint32_t i = 0; i < ntx; i++) {
		struct vnm_ring_ctx *rc = &d->tx[i];
		uint32_t n, pn;
		ssize_t pofs = pnifp->ring_ofs[pntx + pnhtx + i];

		if (!rc->ring ||
		    vnm__check_ring(mem, size, (uint64_t)((char *)rc->ring - mem), &n) < 0) {
			snprintf(err, errlen, "pipe tx ring %u missing", i);
			return -EPROTO;
		}
		if (pofs <= 0 || vnm__check_ring(mem, size, pe->nifp_ofs + (uint64_t)pofs, &pn) < 0) {
			snprintf(err, errlen, "pipe peer rx ring %u outside the region", i);
			return -EPROTO;
		}
		if (init_kring(&ps->tx[i], rc->ring, rc->atok, rc->ktoa, hdr, mem, n, 0) < 0 ||
		    init_kring(&ps->peer_rx[i], (struct netmap_ring *)(mem + pe->nifp_ofs + pofs),
			       &patok[pntx + i], &pktoa[pntx + i], hdr, mem, pn, 1) < 0) {
			snprintf(err, errlen, "pipe ring %u: hwcur/hwtail out of range", i);
			return -EPROTO;
		}
		rc->ring->tail = ps->tx[i].nr_hwtail;
	}
	for (uint32_t i = 0; i < nrx; i++) {
		struct vnm_ring_ctx *rc = &d->rx[i];
		uint32_t n;

		if (!rc->ring ||
		    vnm__check_ring(mem, size, (uint64_t)((char *)rc->ring - mem), &n) < 0) {
			snprintf(err, errlen, "pipe rx ring %u missing", i);
			return -EPROTO;
		}
		ps->rx_nslots[i] = n;
		ps->rx_last_head[i] = UINT32_MAX; /* publish and check at the first rxsync */
		/* a view: only atok.appl_need_kick of the peer's tx ring i is used */
		vnm_kring_init(&ps->peer_tx[i], NULL, &patok[i], &pktoa[i], mem + hdr->buf_ofs, 1,
			       hdr->buf_size, hdr->num_bufs, 0);
		uint32_t t = vnm_csb_app_hwtail(rc->ktoa);
		if (t < n)
			rc->ring->tail = t;
	}
	return 0;
}

void vnm__pipe_set_doorbell(struct vnm_port *d, volatile uint32_t *db, uint32_t rx_val,
			    uint32_t tx_val)
{
	if (!d->pipe)
		return;
	d->pipe->doorbell = db;
	d->pipe->db_rx = rx_val;
	d->pipe->db_tx = tx_val;
}

/* Can we notify the peer at all? If not, leave its need-kick flags for the host to see. */
static inline int can_notify(const struct vnm_pipe_state *ps)
{
	return ps->peer_fd >= 0 || ps->doorbell;
}

static void notify_peer(struct vnm_pipe_state *ps)
{
	char b = 0;

	if (ps->peer_fd < 0) {
		*ps->doorbell = ps->db_rx; /* vnetmapd writes the byte for us */
		return;
	}
	/* EAGAIN: bytes are already queued, the peer's fd is readable anyway */
	ssize_t r = send(ps->peer_fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)r;
}

/* Empty the peer's filler(s): a read shorter than the buffer emptied the stream. */
static void drain_peer(struct vnm_pipe_state *ps)
{
	char buf[4 * VNM_NOTIFY_FILL];
	ssize_t r;

	if (ps->peer_fd < 0) {
		*ps->doorbell = ps->db_tx; /* vnetmapd drains the filler for us */
		return;
	}
	do
		r = recv(ps->peer_fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (r == (ssize_t)sizeof(buf));
}

/*
 * Move complete packets from [k->nr_hwcur, head) into the peer's RX ring.
 * Returns the number of slots moved. On a bad slot sets *err to a VNM_RERR_*
 * value; the complete packets before it are moved all the same.
 */
static int pipe_move(struct vnm_kring *k, struct vnm_kring *pk, int *err)
{
	const uint32_t n = k->num_slots, pn = pk->num_slots;
	const uint32_t max_chain = pn - 1 < NM_MAX_FRAGS ? pn - 1 : NM_MAX_FRAGS;
	uint32_t pending = vnm_ring_dist(k->nr_hwcur, k->rhead, n);
	uint32_t room, moved = 0, chain = 0;
	struct slot_copy b[PIPE_BATCH];

	*err = 0;
	if (!pending)
		return 0;
	/*
	 * Take back what the peer released: its head, read once (ACQUIRE: its slot
	 * updates, e.g. buffers it swapped in, are visible). A head outside
	 * [hwcur, hwtail] is ignored this time (the peer is confused, not us).
	 */
	uint32_t ph = __atomic_load_n(&pk->atok->head, __ATOMIC_ACQUIRE);
	if (ph < pn && vnm_ring_dist(pk->nr_hwcur, ph, pn) <=
			       vnm_ring_dist(pk->nr_hwcur, pk->nr_hwtail, pn))
		pk->nr_hwcur = ph;
	/* one slot stays empty: the peer owns [hwcur, hwtail), we may fill up to hwcur - 1 */
	room = pn - 1 - vnm_ring_dist(pk->nr_hwcur, pk->nr_hwtail, pn);

	while (pending && room) {
		uint32_t m = pending < room ? pending : room, complete = 0;
		if (m > PIPE_BATCH)
			m = PIPE_BATCH;
		/* pass 1: read each slot once, validate, find the last complete packet */
		for (uint32_t j = 0; j < m; j++) {
			struct netmap_slot *s = &k->ring->slot[vnm_ring_add(k->nr_hwcur, j, n)];
			b[j].buf_idx = __atomic_load_n(&s->buf_idx, __ATOMIC_RELAXED);
			b[j].len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
			b[j].flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
			int r = vnm_kring_check_slot(k, b[j].buf_idx, b[j].len);
			if (r < 0) {
				*err = -r; /* complete packets before it still move */
				break;
			}
			if (b[j].flags & NS_MOREFRAG) {
				if (++chain >= max_chain) {
					*err = VNM_RERR_CHAIN;
					break;
				}
			} else {
				chain = 0;
				complete = j + 1;
			}
		}
		if (!complete)
			break; /* a packet still being written, or bigger than the room left */
		/* pass 2: swap buffers with the peer's free RX slots */
		for (uint32_t j = 0; j < complete; j++) {
			struct netmap_slot *ts = &k->ring->slot[vnm_ring_add(k->nr_hwcur, j, n)];
			struct netmap_slot *rs = &pk->ring->slot[vnm_ring_add(pk->nr_hwtail, j, pn)];
			uint32_t ridx = __atomic_load_n(&rs->buf_idx, __ATOMIC_RELAXED);

			/* the peer's buffer becomes ours: bound it (buffer 0 is reserved, harmless) */
			if (ridx < 2 || ridx >= k->num_bufs)
				ridx = 0;
			rs->buf_idx = b[j].buf_idx;
			rs->len = b[j].len;
			rs->flags = (uint16_t)((b[j].flags & NS_MOREFRAG) | NS_BUF_CHANGED);
			ts->buf_idx = ridx;
			ts->flags = (uint16_t)(b[j].flags | NS_BUF_CHANGED);
		}
		pk->nr_hwtail = vnm_ring_add(pk->nr_hwtail, complete, pn);
		k->nr_hwcur = vnm_ring_add(k->nr_hwcur, complete, n);
		pending -= complete;
		room -= complete;
		moved += complete;
		chain = 0;
		if (*err)
			break;
	}
	return (int)moved;
}

int __vnm_pipe_txsync(struct vnm_port *d, unsigned ri)
{
	struct vnm_pipe_state *ps = d->pipe;
	struct vnm_ring_ctx *rc = &d->tx[ri];
	struct netmap_ring *ring = rc->ring;
	struct vnm_kring *k = &ps->tx[ri];
	struct vnm_kring *pk = &ps->peer_rx[ri];
	int reason, moved;

	/* keep the CSB what the application wrote (RELEASE: our slots before head) */
	vnm_csb_app_publish(rc->atok, ring->head, ring->cur);
	reason = -vnm_kring_read_app(k);
	moved = reason ? 0 : pipe_move(k, pk, &reason);

	/* every slot up to hwcur is free again: tail is one behind it */
	k->nr_hwtail = k->nr_hwcur ? k->nr_hwcur - 1 : k->num_slots - 1;
	if (moved > 0) {
		/* RELEASE: the peer sees the swapped slots before the new hwtail */
		vnm_kring_publish(pk);
		/* Dekker with the peer's vnm_csb_app_arm (the fence is inside) */
		if (can_notify(ps) && vnm_kring_notify_needed(pk))
			notify_peer(ps);
	}
	if (reason) {
		vnm_kring_reset(k, reason); /* publishes k, bumps ktoa.err_count */
		return __vnm_ring_error(d, rc, 0);
	}
	vnm_kring_publish(k);
	ring->tail = k->nr_hwtail;
	return 0;
}

int __vnm_pipe_rxsync(struct vnm_port *d, unsigned ri)
{
	struct vnm_pipe_state *ps = d->pipe;
	struct vnm_ring_ctx *rc = &d->rx[ri];
	struct netmap_ring *ring = rc->ring;
	uint32_t head = ring->head, tail;

	/* RELEASE: our updates of released slots (buffers swapped in) precede head */
	vnm_csb_app_publish(rc->atok, head, ring->cur);
	if (head != ps->rx_last_head[ri]) {
		ps->rx_last_head[ri] = head;
		/*
		 * Our released slots are the peer's TX space. Fence, then its flag
		 * (Dekker with the peer's TX arm, which sets the flag and then re-reads
		 * our head in its txsync): if it sleeps on a full pipe, drain its filler.
		 */
		if (can_notify(ps) && vnm_kring_notify_needed(&ps->peer_tx[ri]))
			drain_peer(ps);
	}
	tail = vnm_csb_app_hwtail(rc->ktoa); /* ACQUIRE: slots the peer moved in */
	if (tail < ps->rx_nslots[ri])
		ring->tail = tail;
	return 0;
}

int vnm__pipe_tx_recheck(struct vnm_port *d, unsigned ri)
{
	int r = __vnm_pipe_txsync(d, ri);
	if (r < 0)
		return r;
	return !nm_ring_empty(d->tx[ri].ring);
}
