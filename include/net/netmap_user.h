/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * net/netmap_user.h - compatibility shim: the libnetmap names a netmap program
 * uses, mapped onto libvnetmap (vnetmap.h).
 *
 *   struct nmport_d      -> struct vnm_port (fd, nifp, first/last_tx/rx_ring, mem, memsize)
 *   nmport_open(spec)    -> vnm_port_open; NULL with errno set on failure
 *   nmport_close(d)      -> vnm_port_close
 *   nmport_txsync(d)     replaces ioctl(d->fd, NIOCTXSYNC, NULL)
 *   nmport_rxsync(d)     replaces ioctl(d->fd, NIOCRXSYNC, NULL)
 *   nmport_poll(d, ev, t) replaces poll() on d->fd (or: vnm_arm, then poll/epoll d->fd)
 *
 * The ioctls themselves do not exist: a netmap program needs these few edits.
 */
#ifndef VNM_COMPAT_NET_NETMAP_USER_H
#define VNM_COMPAT_NET_NETMAP_USER_H

#include <errno.h>

#include "../vnetmap.h"
#include "netmap.h"

#define nmport_d vnm_port

static inline struct vnm_port *nmport_open(const char *spec)
{
	struct vnm_port *d;
	int ret = vnm_port_open(spec, NULL, &d);

	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return d;
}

static inline void nmport_close(struct vnm_port *d)
{
	vnm_port_close(d);
}

/* 0, or -1 with errno set (as the ioctl would). */
static inline int nmport_txsync(struct vnm_port *d)
{
	int ret = vnm_txsync(d);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

static inline int nmport_rxsync(struct vnm_port *d)
{
	int ret = vnm_rxsync(d);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/* revents (0 on timeout), or -1 with errno set. */
static inline int nmport_poll(struct vnm_port *d, short events, int timeout_ms)
{
	int ret = vnm_poll(d, events, timeout_ms);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

#endif
