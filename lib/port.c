// SPDX-License-Identifier: BSD-2-Clause
/*
 * port.c - open/close a port, ring errors, arm and poll (vnetmap.h).
 *
 * Security model: vnetmapd is trusted to play the kernel, but everything it hands
 * over is still bounds-checked before the library follows it: the region file's
 * size must equal the size announced in the reply, and every offset read from the
 * region (header, ends[], netmap_if, ring_ofs[], CSB arrays, ring headers and
 * their slot arrays) must lie inside the mapping, so a corrupt region fails the
 * open with -EPROTO instead of faulting later. The region header is copied once
 * and only the copy is used. Nothing read from shared memory after open is used
 * as a pointer by the library (the application's own ring accesses are its
 * business, as in netmap).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int vnm__in_region(uint64_t ofs, uint64_t len, uint64_t size)
{
	return ofs <= size && len <= size - ofs;
}

#define in_region vnm__in_region

int vnm__check_ring(const char *base, uint64_t size, uint64_t ring_ofs, uint32_t *nslots)
{
	const struct netmap_ring *r;
	uint32_t n;

	if (!in_region(ring_ofs, sizeof(struct netmap_ring), size) || ring_ofs % 8)
		return -1;
	r = (const struct netmap_ring *)(base + ring_ofs);
	n = r->num_slots;
	if (n < 2 || !in_region(ring_ofs + sizeof(struct netmap_ring),
				(uint64_t)n * sizeof(struct netmap_slot), size))
		return -1;
	*nslots = n;
	return 0;
}

/* Build d->tx[] and d->rx[] from end e of a region whose header copy is hdr. */
int vnm__map_rings(struct vnm_port *d, const struct vnm_region_hdr *hdr,
		     const struct vnm_region_end *e, char *err, size_t errlen)
{
	const uint64_t size = d->memsize;
	char *base = d->mem;
	const struct netmap_if *nifp;
	uint32_t ntx, nrx, nhtx, nhrx, total, nrings;

	if (!in_region(e->nifp_ofs, sizeof(struct netmap_if), size) || e->nifp_ofs % 8) {
		snprintf(err, errlen, "netmap_if offset %llu outside the region",
			 (unsigned long long)e->nifp_ofs);
		return -EPROTO;
	}
	nifp = (const struct netmap_if *)(base + e->nifp_ofs);
	ntx = nifp->ni_tx_rings;
	nrx = nifp->ni_rx_rings;
	nhtx = nifp->ni_host_tx_rings;
	nhrx = nifp->ni_host_rx_rings;
	if (ntx > VNM_MAX_RINGS || nrx > VNM_MAX_RINGS || nhtx > VNM_MAX_RINGS ||
	    nhrx > VNM_MAX_RINGS || ntx != e->num_tx_rings || nrx != e->num_rx_rings) {
		snprintf(err, errlen, "netmap_if ring counts (%u tx, %u rx) inconsistent", ntx, nrx);
		return -EPROTO;
	}
	total = ntx + nhtx + nrx + nhrx;
	if (!in_region(e->nifp_ofs + sizeof(struct netmap_if), (uint64_t)total * sizeof(ssize_t),
		       size)) {
		snprintf(err, errlen, "netmap_if ring_ofs[] outside the region");
		return -EPROTO;
	}
	nrings = ntx + nrx; /* CSBs exist for the NIC rings: tx rings, then rx rings */
	if (!in_region(e->csb_atok_ofs, (uint64_t)nrings * sizeof(struct nm_csb_atok), size) ||
	    !in_region(e->csb_ktoa_ofs, (uint64_t)nrings * sizeof(struct nm_csb_ktoa), size) ||
	    e->csb_atok_ofs % 64 || e->csb_ktoa_ofs % 64) {
		snprintf(err, errlen, "CSB arrays outside the region");
		return -EPROTO;
	}
	if (d->first_tx_ring <= d->last_tx_ring && d->last_tx_ring >= ntx) {
		snprintf(err, errlen, "bound tx rings %u-%u past the %u rings", d->first_tx_ring,
			 d->last_tx_ring, ntx);
		return -EPROTO;
	}
	if (d->first_rx_ring <= d->last_rx_ring && d->last_rx_ring >= nrx) {
		snprintf(err, errlen, "bound rx rings %u-%u past the %u rings", d->first_rx_ring,
			 d->last_rx_ring, nrx);
		return -EPROTO;
	}
	d->tx = calloc(ntx ? ntx : 1, sizeof(*d->tx));
	d->rx = calloc(nrx ? nrx : 1, sizeof(*d->rx));
	if (!d->tx || !d->rx) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct nm_csb_atok *atok = (struct nm_csb_atok *)(base + e->csb_atok_ofs);
	struct nm_csb_ktoa *ktoa = (struct nm_csb_ktoa *)(base + e->csb_ktoa_ofs);
	for (uint32_t i = 0; i < ntx + nrx; i++) {
		int is_rx = i >= ntx;
		uint32_t ri = is_rx ? i - ntx : i;
		uint32_t slot_idx = is_rx ? ntx + nhtx + ri : ri;
		ssize_t rofs = nifp->ring_ofs[slot_idx];
		int bound = is_rx ? (ri >= d->first_rx_ring && ri <= d->last_rx_ring)
				  : (ri >= d->first_tx_ring && ri <= d->last_tx_ring);
		struct vnm_ring_ctx *rc = is_rx ? &d->rx[ri] : &d->tx[ri];
		uint32_t nslots;

		if (rofs == 0) {
			if (bound) {
				snprintf(err, errlen, "bound %s ring %u has no ring", is_rx ? "rx" : "tx",
					 ri);
				return -EPROTO;
			}
			continue;
		}
		if (rofs < 0 ||
		    vnm__check_ring(base, size, e->nifp_ofs + (uint64_t)rofs, &nslots) < 0) {
			snprintf(err, errlen, "%s ring %u outside the region", is_rx ? "rx" : "tx",
				 ri);
			return -EPROTO;
		}
		rc->ring = (struct netmap_ring *)(base + e->nifp_ofs + (uint64_t)rofs);
		/* the pool must be where the header says (NETMAP_BUF arithmetic relies on it) */
		uint64_t ring_pos = (uint64_t)((char *)rc->ring - base);
		if (ring_pos + (uint64_t)rc->ring->buf_ofs != hdr->buf_ofs ||
		    rc->ring->nr_buf_size != hdr->buf_size) {
			snprintf(err, errlen, "%s ring %u buffer pool inconsistent with the region",
				 is_rx ? "rx" : "tx", ri);
			return -EPROTO;
		}
		rc->atok = &atok[i];
		rc->ktoa = &ktoa[i];
		rc->err_seen = __atomic_load_n(&rc->ktoa->err_count, __ATOMIC_ACQUIRE);
		rc->armed = 0;
	}
	d->nifp = (struct netmap_if *)nifp;
	return 0;
}

int vnm__port_setup(struct vnm_port *d, const struct vnm_ctl_open_rep *rep, size_t replen, int fds[3],
		    char *err, size_t errlen)
{
	struct vnm_region_hdr hdr;
	struct stat st;
	int ret, one = 1;

	if (replen < sizeof(*rep) || rep->nfds != 3 ||
	    (rep->kind != VNM_KIND_VALE && rep->kind != VNM_KIND_PIPE &&
	     rep->kind != VNM_KIND_MONITOR &&
	     rep->kind != VNM_KIND_NETDEV) || /* NETDEV: netmap:IF, a VALE-like binding */
	    rep->end >= VNM_REGION_MAX_ENDS ||
	    (rep->kind == VNM_KIND_PIPE &&
	     (rep->peer_end >= VNM_REGION_MAX_ENDS || rep->peer_end == rep->end)) ||
	    rep->region_size < VNM_REGION_HDR_SIZE || rep->region_size > (1ULL << 40)) {
		ret = -EPROTO;
		snprintf(err, errlen, "malformed OPEN reply");
		return ret;
	}
	d->fd = fds[1];
	if (rep->kind == VNM_KIND_VALE || rep->kind == VNM_KIND_MONITOR ||
	    rep->kind == VNM_KIND_NETDEV) {
		/* a monitor is a VALE-like binding: RX rings the daemon fills, a kick fd */
		d->kick_fd = fds[2];
		fds[2] = -1;
	}
	fds[1] = -1;
	d->kind = rep->kind;
	d->nr_flags = rep->nr_flags;
	d->first_tx_ring = rep->first_tx_ring;
	d->last_tx_ring = rep->last_tx_ring;
	d->first_rx_ring = rep->first_rx_ring;
	d->last_rx_ring = rep->last_rx_ring;
	memcpy(d->name, rep->name, sizeof(d->name));
	d->name[sizeof(d->name) - 1] = '\0';

	/* our end of the notify socket: the filler must make it unwritable (csb.h) */
	(void)setsockopt(d->fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));

	if (fstat(fds[0], &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "fstat region: %s", strerror(errno));
		return ret;
	}
	if ((uint64_t)st.st_size != rep->region_size) {
		ret = -EPROTO;
		snprintf(err, errlen, "region file is %lld bytes, reply says %llu",
			 (long long)st.st_size, (unsigned long long)rep->region_size);
		return ret;
	}
	d->mem = mmap(NULL, rep->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		ret = -errno;
		snprintf(err, errlen, "mmap region (%llu bytes): %s",
			 (unsigned long long)rep->region_size, strerror(errno));
		return ret;
	}
	d->memsize = rep->region_size;
	close(fds[0]);
	fds[0] = -1;

	memcpy(&hdr, d->mem, sizeof(hdr));
	if (hdr.magic != VNM_REGION_MAGIC || hdr.version != VNM_REGION_VERSION ||
	    hdr.region_size != rep->region_size || hdr.buf_size == 0 || hdr.num_bufs < 2 ||
	    !in_region(hdr.buf_ofs, (uint64_t)hdr.buf_size * hdr.num_bufs, d->memsize) ||
	    !(hdr.ends[rep->end].flags & VNM_END_USED)) {
		ret = -EPROTO;
		snprintf(err, errlen, "bad region header");
		return ret;
	}
	ret = vnm__map_rings(d, &hdr, &hdr.ends[rep->end], err, errlen);
	if (ret < 0)
		return ret;
	if (d->kind == VNM_KIND_PIPE) {
		int pfd = fds[2];
		fds[2] = -1;
		ret = vnm__pipe_setup(d, &hdr, rep, pfd, err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vnm_port_open(const char *spec, const struct vnm_open_opts *opts, struct vnm_port **out)
{
	vnm_error_cb cb = opts ? opts->error : NULL;
	void *cbarg = opts ? opts->error_arg : NULL;
	struct vnm_ctl_open_req req;
	struct vnm_ctl_open_rep rep;
	struct vnm_portname pn;
	char err[VNM_ERRMSG_MAX];
	int fds[3] = { -1, -1, -1 };
	struct vnm_port *d = NULL;
	int ret;

	if (out)
		*out = NULL;
	if (!spec || !out)
		return vnm__report(cb, cbarg, -EINVAL, "vnm_port_open: NULL argument");
	/* a passthrough guest: "ptnet:..." or VNM_GUEST=1 (guest.c) */
	if (vnm__guest_spec(spec))
		return vnm__guest_open(spec, opts, out);
	/* fail early on a bad name; the daemon parses it again and decides */
	ret = vnm_portname_parse(spec, &pn, err, sizeof(err));
	if (ret < 0)
		return vnm__report(cb, cbarg, ret, "%s", err);

	memset(&req, 0, sizeof(req));
	snprintf(req.spec, sizeof(req.spec), "%s", spec);
	memset(&rep, 0, sizeof(rep));
	d = calloc(1, sizeof(*d));
	if (!d)
		return vnm__report(cb, cbarg, -ENOMEM, "out of memory");
	d->fd = d->kick_fd = d->ctl_fd = -1;
	d->error = cb;
	d->error_arg = cbarg;

	ret = vnm__ctl_xfer(opts ? opts->dir : NULL, VNM_CTL_OPEN, &req, sizeof(req), &rep, sizeof(rep),
			    fds, 3, &d->ctl_fd, err, sizeof(err));
	if (ret < 0) {
		free(d);
		return vnm__report(cb, cbarg, ret, "%s: %s", spec, err);
	}
	ret = vnm__port_setup(d, &rep, (size_t)ret, fds, err, sizeof(err));
	if (ret < 0)
		goto fail;
	*out = d;
	return 0;

fail:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	d->error = NULL; /* report once, below */
	vnm_port_close(d);
	return vnm__report(cb, cbarg, ret, "%s: %s", spec, err);
}

void vnm_port_close(struct vnm_port *d)
{
	if (!d)
		return;
	vnm__pipe_free(d);
	vnm__guest_free(d); /* unmaps the BARs of a guest port */
	if (d->mem)
		munmap(d->mem, d->memsize);
	if (d->fd >= 0)
		close(d->fd);
	if (d->kick_fd >= 0)
		close(d->kick_fd);
	/* closing the control connection unbinds the port in the daemon */
	if (d->ctl_fd >= 0)
		close(d->ctl_fd);
	free(d->tx);
	free(d->rx);
	free(d);
}

int __vnm_ring_error(struct vnm_port *d, struct vnm_ring_ctx *rc, int dir)
{
	/* ACQUIRE pairs with the release store of err_count: err_reason was written before */
	uint32_t cnt = __atomic_load_n(&rc->ktoa->err_count, __ATOMIC_ACQUIRE);
	uint32_t reason = __atomic_load_n(&rc->ktoa->err_reason, __ATOMIC_RELAXED);

	rc->err_seen = cnt;
	rc->ring->tail = vnm_csb_app_hwtail(rc->ktoa);
	return vnm__report(d->error, d->error_arg, -EIO, "ring reset by vnetmapd: %s",
			   vnm_ring_err_str((int)reason));
}

/* Drain the notifications queued on our end (RX bytes). Returns the bytes read. */
static size_t drain_fd(int fd)
{
	char buf[256];
	size_t total = 0;
	ssize_t n;

	/* a read shorter than the buffer emptied the stream: one system call as a rule */
	do {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			total += (size_t)n;
	} while (n == (ssize_t)sizeof(buf));
	return total;
}

/* Make our end unwritable until the kernel side drains it (TX arm, csb.h). */
static void send_filler(int fd)
{
	static const char filler[VNM_NOTIFY_FILL];
	/* EAGAIN: a filler is already queued, the end is already not writable */
	ssize_t r = send(fd, filler, sizeof(filler), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)r;
}

static int has_tx(const struct vnm_port *d)
{
	return d->first_tx_ring <= d->last_tx_ring;
}

static int has_rx(const struct vnm_port *d)
{
	return d->first_rx_ring <= d->last_rx_ring;
}

/* The events true now, from the rings as the last sync left them. */
static int ring_events(struct vnm_port *d, short events)
{
	int mask = 0;

	if ((events & POLLIN) && has_rx(d))
		for (unsigned i = d->first_rx_ring; i <= d->last_rx_ring; i++)
			if (!nm_ring_empty(d->rx[i].ring)) {
				mask |= POLLIN;
				break;
			}
	if ((events & POLLOUT) && has_tx(d))
		for (unsigned i = d->first_tx_ring; i <= d->last_tx_ring; i++)
			if (!nm_ring_empty(d->tx[i].ring)) {
				mask |= POLLOUT;
				break;
			}
	return mask;
}

/*
 * rc->armed bits. ARM_SET: we set appl_need_kick and have not seen it taken.
 * ARM_RECHECK: a notification was consumed at the last arm; the kernel side
 * takes the flag first and only then writes its byte (RX) or drains our filler
 * (TX), so that byte / drain may land after our own drain / refill and leave the
 * fd readable (writable) with nothing to report. A caller sleeping in epoll would
 * then spin until the next real notification. So after a consumed notification
 * the following arms drain (refill) once more, RX until a drain finds nothing.
 */
#define ARM_SET 1u
#define ARM_RECHECK 2u

int vnm_arm(struct vnm_port *d, short events)
{
	int mask = 0, drain = 0, fill = 0;

	if (d->guest)
		return vnm__guest_arm(d, events);
	if ((events & POLLIN) && has_rx(d)) {
		unsigned recheck = 0;

		for (unsigned i = d->first_rx_ring; i <= d->last_rx_ring; i++) {
			struct vnm_ring_ctx *rc = &d->rx[i];
			/* armed before and the flag is gone: the kernel side notified us */
			if ((rc->armed & ARM_SET) && !vnm_csb_app_armed(rc->atok)) {
				drain = 1;
				rc->armed |= ARM_RECHECK;
			} else if (rc->armed & ARM_RECHECK) {
				recheck = 1;
			}
		}
		if (drain || recheck) {
			size_t got = drain_fd(d->fd);
			if (!drain && !got) /* late bytes all gone: stop rechecking */
				for (unsigned i = d->first_rx_ring; i <= d->last_rx_ring; i++)
					d->rx[i].armed &= ~ARM_RECHECK;
		}
		for (unsigned i = d->first_rx_ring; i <= d->last_rx_ring; i++) {
			struct vnm_ring_ctx *rc = &d->rx[i];
			uint32_t hwtail;

			rc->armed |= ARM_SET;
			/* flag store, fence, re-read hwtail (pairs with vnm_kring_notify_needed) */
			hwtail = vnm_csb_app_arm(rc->atok, rc->ktoa);
			if (hwtail < rc->ring->num_slots)
				rc->ring->tail = hwtail;
			if (hwtail != rc->ring->cur)
				mask |= POLLIN;
		}
	}
	if ((events & POLLOUT) && has_tx(d)) {
		for (unsigned i = d->first_tx_ring; i <= d->last_tx_ring; i++) {
			struct vnm_ring_ctx *rc = &d->tx[i];
			/* not armed, or the kernel side took the flag (and drains): refill */
			if (!(rc->armed & ARM_SET) || !vnm_csb_app_armed(rc->atok)) {
				fill = 1;
				if (rc->armed & ARM_SET)
					rc->armed |= ARM_RECHECK;
			} else if (rc->armed & ARM_RECHECK) {
				fill = 1; /* once more, in case the drain came after our refill */
				rc->armed &= ~ARM_RECHECK;
			}
		}
		if (fill)
			send_filler(d->fd);
		for (unsigned i = d->first_tx_ring; i <= d->last_tx_ring; i++) {
			struct vnm_ring_ctx *rc = &d->tx[i];
			uint32_t hwtail;

			rc->armed |= ARM_SET;
			hwtail = vnm_csb_app_arm(rc->atok, rc->ktoa);
			if (d->kind == VNM_KIND_PIPE) {
				/*
				 * We are the kernel side of our own TX ring: re-run it after the
				 * fence so slots the peer released before seeing our flag count.
				 */
				int r = vnm__pipe_tx_recheck(d, i);
				if (r < 0)
					return r;
				if (r > 0)
					mask |= POLLOUT;
				continue;
			}
			if (hwtail < rc->ring->num_slots)
				rc->ring->tail = hwtail;
			if (hwtail != rc->ring->cur)
				mask |= POLLOUT;
		}
	}
	return mask;
}

static int sync_dirs(struct vnm_port *d, short events)
{
	int ret = 0, r;

	if ((events & POLLOUT) && (r = vnm_txsync(d)) < 0)
		ret = r;
	if ((events & POLLIN) && (r = vnm_rxsync(d)) < 0 && ret == 0)
		ret = r;
	return ret;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vnm_poll(struct vnm_port *d, short events, int timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
	int mask, r;

	if (d->guest)
		return vnm__guest_poll(d, events, timeout_ms);
	events &= POLLIN | POLLOUT;
	/* a direction without bound rings never becomes ready (and must not spin) */
	if (!has_tx(d))
		events &= ~POLLOUT;
	if (!has_rx(d))
		events &= ~POLLIN;
	for (;;) {
		r = sync_dirs(d, events);
		if (r == -EIO)
			return POLLERR | ring_events(d, events);
		if (r < 0)
			return r;
		mask = ring_events(d, events);
		if (mask)
			return mask;
		r = vnm_arm(d, events);
		if (r == -EIO)
			return POLLERR | ring_events(d, events);
		if (r != 0)
			return r;

		int wait = -1;
		if (timeout_ms >= 0) {
			int64_t left = deadline - now_ms();
			wait = left > 0 ? (int)(left > 0x7fffffff ? 0x7fffffff : left) : 0;
		}
		struct pollfd pfd = { .fd = d->fd, .events = events };
		r = poll(&pfd, 1, wait);
		if (r < 0)
			return -errno;
		r = sync_dirs(d, events);
		if (r == -EIO)
			return POLLERR | ring_events(d, events);
		if (r < 0)
			return r;
		mask = ring_events(d, events);
		if (mask)
			return mask;
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			return pfd.revents & (POLLERR | POLLHUP | POLLNVAL);
		if (wait == 0 || (timeout_ms >= 0 && now_ms() >= deadline))
			return 0;
		/*
		 * Woken with nothing to show (a notification that raced with our own
		 * re-check): consume it so the next wait sleeps. Safe, because every arm
		 * re-checks the ring after setting the flag.
		 */
		if (pfd.revents & POLLIN)
			drain_fd(d->fd);
		if (pfd.revents & POLLOUT)
			for (unsigned i = d->first_tx_ring; has_tx(d) && i <= d->last_tx_ring; i++)
				d->tx[i].armed = 0; /* a new filler at the next arm */
	}
}
