/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost_port.h - a switch port whose peer is a virtio-net front-end speaking
 * vhost-user (QEMU, DPDK virtio-user): queue 1 (guest TX) feeds the switch, queue 0
 * (guest RX) receives. The port's virtio-net header length is 12.
 */
#ifndef VNM_DAEMON_VHOST_PORT_H
#define VNM_DAEMON_VHOST_PORT_H

#include <stddef.h>

#include "port.h"

struct vnm_switch;

/*
 * Create the port and start its socket (server: listen at path; else connect to
 * path every second until a front-end answers). NULL with a message in err.
 */
struct vnm_dport *vnm_vhost_port_create(const char *name, const char *path, int server,
					char *err, size_t errlen);
void vnm_vhost_port_destroy(struct vnm_dport *p);
/* The registry attached the port to sw / detached it (main thread, after / before). */
void vnm_vhost_port_attached(struct vnm_dport *p, struct vnm_switch *sw);
void vnm_vhost_port_detached(struct vnm_dport *p);
int vnm_dport_is_vhost(const struct vnm_dport *p);
/*
 * Never offer these feature bits (additive; call right after create, before the main
 * loop runs the socket). E.g. guest-to-device GSO for a port whose frames go where
 * no segmentation happens (a pipe end: ports/pipe_vhost.c).
 */
void vnm_vhost_port_withhold(struct vnm_dport *p, uint64_t bits);
/* The socket path and role, for listings. */
const char *vnm_vhost_port_path(const struct vnm_dport *p, int *server, int *connected);

#endif
