/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vnetmap.h - libvnetmap, the public API: netmap ports in user space.
 *
 * A port is opened by name (netmap's grammar, see vnetmap/portname.h):
 *
 *     vale0:a          port "a" of VALE switch "vale0" (created on first open)
 *     netmap:pipe0{1   master end of pipe 1 of "pipe0"; "}1" is the slave end
 *     vale0:a-0        ring pair 0 only;  vale0:a/R  rx rings only;  /T tx only; /x exclusive
 *     vale0:a@conf:rings=2,slots=2048   geometry when the port is created
 *
 * The rings, slots and buffers are netmap's (vnetmap/netmap.h) in a region shared
 * with vnetmapd. The sync calls replace netmap's ioctl(NIOCTXSYNC/NIOCRXSYNC) and
 * poll() replaces nothing: use vnm_poll(), or vnm_arm() then poll/epoll on d->fd.
 *
 *     struct vnm_port *d;
 *     if (vnm_port_open("vale0:a", NULL, &d) < 0) ...
 *     struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
 *     while (nm_ring_space(r)) { fill r->slot[r->cur]; r->head = r->cur = nm_ring_next(r, r->cur); }
 *     vnm_txsync(d);
 *     vnm_poll(d, POLLOUT, -1);
 *
 * Errors are negative errno values; when the caller installed an error callback,
 * it also receives a message. The library never prints.
 *
 * Thread safety: a port is used by one thread at a time (as a netmap fd is);
 * different ports are independent.
 */
#ifndef VNETMAP_H
#define VNETMAP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vnetmap/csb.h"
#include "vnetmap/ctl.h"
#include "vnetmap/netmap.h"
#include "vnetmap/portname.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VNETMAP_DIR_ENV "VNETMAP_DIR"

typedef void (*vnm_error_cb)(void *arg, int err, const char *msg);

struct vnm_open_opts {
	const char *dir;       /* runtime directory; NULL: $VNETMAP_DIR, else the default */
	vnm_error_cb error;    /* optional: receives a message with every error */
	void *error_arg;
};

/* Per bound ring: where its shared ring and CSB are (library bookkeeping). */
struct vnm_ring_ctx {
	struct netmap_ring *ring;
	struct nm_csb_atok *atok;
	struct nm_csb_ktoa *ktoa;
	uint32_t err_seen; /* ktoa.err_count last reported */
	uint32_t armed;    /* we set appl_need_kick and have not seen it taken */
};

struct vnm_pipe_state; /* lib/pipe.c */
struct vnm_guest;      /* lib/guest.c */

struct vnm_port {
	int fd;                      /* poll/epoll: POLLIN / POLLOUT once armed (vnm_arm) */
	struct netmap_if *nifp;
	uint16_t first_tx_ring, last_tx_ring; /* inclusive; first > last: none bound */
	uint16_t first_rx_ring, last_rx_ring;
	void *mem;                   /* the region */
	uint64_t memsize;
	uint32_t kind;               /* enum vnm_port_kind */
	uint32_t nr_flags;
	char name[VNM_NAME_MAX];     /* canonical port name */

	/* private to the library from here on */
	int kick_fd;                 /* VALE: eventfd to the daemon; -1 for pipes */
	int ctl_fd;                  /* control connection; its close unbinds */
	struct vnm_ring_ctx *tx;     /* indexed by tx ring id, [0, ni_tx_rings) */
	struct vnm_ring_ctx *rx;     /* indexed by rx ring id, [0, ni_rx_rings) */
	struct vnm_pipe_state *pipe; /* pipes only */
	vnm_error_cb error;
	void *error_arg;
	/* passthrough guest mode (lib/guest.c; docs/PASSTHROUGH.md), appended */
	volatile uint32_t *doorbell; /* ivshmem BAR0 Doorbell register; NULL: none */
	uint32_t doorbell_kick;      /* value written to kick the host */
	uint32_t pad0;
	struct vnm_guest *guest;     /* non-NULL: the port is a guest's ivshmem device */
};

/*
 * Open a port. On success stores the handle in *out and returns 0; otherwise
 * returns -errno (-ENOENT: no daemon at the runtime directory; -EINVAL: bad
 * name; -EBUSY: ring already bound; ...) and reports a message to opts->error.
 */
int vnm_port_open(const char *spec, const struct vnm_open_opts *opts, struct vnm_port **out);

/* Unbind and free. Packets handed to txsync may still be in flight on a VALE port. */
void vnm_port_close(struct vnm_port *d);

/*
 * Arm the fd for events (POLLIN: RX has packets past cur; POLLOUT: TX has space)
 * on the bound rings. Returns a mask of the events already true (do not sleep
 * then), 0 if the caller may now wait on d->fd, or -errno.
 */
int vnm_arm(struct vnm_port *d, short events);

/* netmap's poll(): sync, arm, wait on d->fd, sync. Returns revents (0 on timeout) or -errno. */
int vnm_poll(struct vnm_port *d, short events, int timeout_ms);

/* The runtime directory in force: dir if given, else $VNETMAP_DIR, else the default
 * (/run/vnetmap for root, $XDG_RUNTIME_DIR/vnetmap, else /tmp/vnetmap-UID). */
const char *vnm_runtime_dir(const char *dir, char *buf, size_t len);

/*
 * One control request (for tools). Sends type+req, waits for the reply, copies
 * at most replen payload bytes to rep. Returns the reply's payload length, or
 * -errno (the daemon's status); on error copies its message to errmsg.
 */
int vnm_ctl_call(const char *dir, uint16_t type, const void *req, uint32_t reqlen, void *rep,
		 uint32_t replen, char *errmsg, size_t errlen);

/*
 * netmap's NETMAP_REQ_PORT_HDR_SET/GET: frames in the slots of VALE port name (the
 * canonical "valeX:Y", e.g. d->name) start with a virtio-net header of len bytes
 * (0, 10 or 12), both directions: TX frames carry offloads in it (partial checksum,
 * TSO/UFO, checked by vnetmapd), RX frames get the sender's header, or zeros. Any
 * time, for every binding of the port. Return 0 / the length, or -errno.
 */
int vnm_port_hdr_set(const char *name, unsigned len);
int vnm_port_hdr_get(const char *name);

/* Out-of-line parts of the fast path (lib/). */
int __vnm_ring_error(struct vnm_port *d, struct vnm_ring_ctx *rc, int dir);
int __vnm_pipe_txsync(struct vnm_port *d, unsigned ri);
int __vnm_pipe_rxsync(struct vnm_port *d, unsigned ri);

static inline void __vnm_kick(struct vnm_port *d)
{
	uint64_t one = 1;

	if (d->doorbell) {
		/* a guest: an MMIO write (uncached, ordered after the fence of the caller) */
		*d->doorbell = d->doorbell_kick;
		return;
	}
	if (d->kick_fd < 0)
		return; /* a guest without doorbell: the host polls */
	ssize_t r = write(d->kick_fd, &one, sizeof(one));
	(void)r; /* EAGAIN: counter saturated, the daemon wakes anyway */
}

/* Sync one ring served by the daemon: publish head/cur, kick if it sleeps, fetch tail. */
static inline int __vnm_csb_sync(struct vnm_port *d, struct vnm_ring_ctx *rc, int dir)
{
	struct netmap_ring *ring = rc->ring;

	vnm_csb_app_publish(rc->atok, ring->head, ring->cur);
	if (vnm_csb_app_need_kick(rc->ktoa))
		__vnm_kick(d);
	ring->tail = vnm_csb_app_hwtail(rc->ktoa);
	if (unlikely(__atomic_load_n(&rc->ktoa->err_count, __ATOMIC_RELAXED) != rc->err_seen))
		return __vnm_ring_error(d, rc, dir);
	return 0;
}

/* netmap's NIOCTXSYNC on one bound tx ring. 0 or -errno (-EIO: the ring was reset). */
static inline int vnm_txsync_ring(struct vnm_port *d, unsigned ri)
{
	if (d->kind == VNM_KIND_PIPE)
		return __vnm_pipe_txsync(d, ri);
	return __vnm_csb_sync(d, &d->tx[ri], 0);
}

/* netmap's NIOCRXSYNC on one bound rx ring. */
static inline int vnm_rxsync_ring(struct vnm_port *d, unsigned ri)
{
	if (d->kind == VNM_KIND_PIPE)
		return __vnm_pipe_rxsync(d, ri);
	return __vnm_csb_sync(d, &d->rx[ri], 1);
}

/* txsync on every bound tx ring; returns the first error. */
static inline int vnm_txsync(struct vnm_port *d)
{
	int ret = 0;
	for (unsigned i = d->first_tx_ring; i <= d->last_tx_ring && d->first_tx_ring <= d->last_tx_ring; i++) {
		int r = vnm_txsync_ring(d, i);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

/* rxsync on every bound rx ring; returns the first error. */
static inline int vnm_rxsync(struct vnm_port *d)
{
	int ret = 0;
	for (unsigned i = d->first_rx_ring; i <= d->last_rx_ring && d->first_rx_ring <= d->last_rx_ring; i++) {
		int r = vnm_rxsync_ring(d, i);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

#ifdef __cplusplus
}
#endif

#endif /* VNETMAP_H */
