/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netmap_port.h - a switch port whose peer is a netmap client (libvnetmap process,
 * later a passthrough guest): the port's rings live in its own region, the client
 * writes head/cur through the CSB, the daemon validates at every sync.
 */
#ifndef VNM_DAEMON_NETMAP_PORT_H
#define VNM_DAEMON_NETMAP_PORT_H

#include "port.h"

/*
 * Create the port over rings the control plane laid out (krings initialised with
 * vnm_kring_init from the private geometry). tx/rx arrays are copied. Returns
 * NULL on ENOMEM. flags: VNM_PI_*.
 */
struct vnm_dport *vnm_nmport_create(const char *name, const struct vnm_kring *tx, unsigned ntx,
				    const struct vnm_kring *rx, unsigned nrx, uint32_t flags);
/*
 * Set the notify socket (daemon end) used for ring (dir 0 tx / 1 rx, index ri);
 * -1 when no client binds it. Called by the control plane with the port detached
 * or under vnm_switch's synchronisation (it stores with release; the switch thread
 * loads with acquire).
 */
void vnm_nmport_set_notify(struct vnm_dport *p, int dir, unsigned ri, int notify_fd);
/* Access the kernel-side state of a ring (tests, stats). */
struct vnm_kring *vnm_nmport_kring(struct vnm_dport *p, int dir, unsigned ri);
void vnm_nmport_destroy(struct vnm_dport *p);
/*
 * VNM_CTL_HDR_SET/GET (netmap's NETMAP_REQ_PORT_HDR_SET): the client's frames, in its
 * TX and RX slots, start with a virtio-net header of len bytes (0, 10 or 12; else
 * -EINVAL). Main thread, any time: the switch thread picks it up at its next read of
 * a ring (see struct nmport).
 */
int vnm_nmport_set_hdr(struct vnm_dport *p, unsigned len);
unsigned vnm_nmport_get_hdr(struct vnm_dport *p);
/* Is p a netmap client port (this file's ops)? */
int vnm_dport_is_nmport(const struct vnm_dport *p);
/*
 * deliver (port.h) into rx ring ri instead of ring 0: a monitor's copies
 * (vnm_switch_mon_deliver_fn). Switch thread. Returns frames taken; ri out of range: 0.
 */
/*
 * A zero-copy monitor (/z): rx[0..nrx) are its RX rings, laid out in this port's own
 * region. TX slots the switch consumed and RX slots the client released swap their
 * buffer with a free slot of monitor ring i (i = the port's ring index), or, the
 * monitor being full, are not monitored (stats->drop_full). rx NULL: remove it. Call
 * with the port detached or inside vnm_switch_locked. -EBUSY if one is set already.
 */
int vnm_nmport_set_zmon(struct vnm_dport *p, const struct vnm_kring *rx, unsigned nrx,
			uint32_t mask, int notify_fd, struct vnm_ctl_port_stats *stats);
int vnm_nmport_deliver_ring(struct vnm_dport *p, unsigned ri, const struct vnm_frame *frames,
			    const uint16_t *idx, unsigned n);

#endif
