/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * socket_port.h - a switch port that carries frames over a UNIX socket in QEMU's
 * framing (-netdev stream / dgram, and legacy -netdev socket): any QEMU front-end
 * (e1000, rtl8139, virtio-net vhost=off) on a VALE switch without root. No
 * virtio-net header (vnet_hdr_len 0): offloaded frames are segmented / checksummed
 * on the way out (vhost/gso.h). Create/destroy/attached/detached: main thread.
 */
#ifndef VNM_DAEMON_SOCKET_PORT_H
#define VNM_DAEMON_SOCKET_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

struct vnm_switch;

/*
 * flags: VNM_SOCK_STREAM [| VNM_SOCK_SERVER] or VNM_SOCK_DGRAM (vnetmap/ctl.h).
 * STREAM: connect to path every second until a peer answers (and again after it goes
 * away), or with SERVER listen at path, one peer at a time. DGRAM: bind path, send
 * to peer_path. NULL with a message in err.
 */
struct vnm_dport *vnm_sock_port_create(const char *name, const char *path,
				       const char *peer_path, uint32_t flags, char *err,
				       size_t errlen);
void vnm_sock_port_destroy(struct vnm_dport *p);
/* The registry attached the port to sw (after) / detached it (after vnm_switch_detach). */
void vnm_sock_port_attached(struct vnm_dport *p, struct vnm_switch *sw);
void vnm_sock_port_detached(struct vnm_dport *p);
/* Role and state for listings: 1 when a stream peer is connected (DGRAM: always 1). */
int vnm_sock_port_connected(const struct vnm_dport *p);

#endif
