/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pipe_vhost.h - a pipe end ("netmap:X{N" / "netmap:X}N") served as a vhost-user
 * socket (docs/VHOST-USER.md "Pipe ends"). vnetmapd binds the end itself, as its
 * application, and joins it to a vhost-user port on a private 2-port switch.
 * Main thread only.
 */
#ifndef VNM_DAEMON_PIPE_VHOST_H
#define VNM_DAEMON_PIPE_VHOST_H

#include <stdint.h>

#include "registry.h"
#include "vnetmap/ctl.h"

/* Does name look like a pipe end (then VHOST / REMOVE requests come here)? */
int vnm_pipe_vhost_is_pipe(const char *name);
/* Bind pipe end spec and serve it at path (flags VNM_VHOST_SERVER). 0 or -errno. */
int vnm_pipe_vhost_create(const char *spec, const char *path, uint32_t flags,
			  struct vnm_err *err);
/* Stop serving (unbinds the end). name: the canonical end name or the spec given. */
int vnm_pipe_vhost_remove(const char *name, struct vnm_err *err);
/* LIST/INFO entries (kind VNM_KIND_VHOST) and STATS matching filter ("" all). */
unsigned vnm_pipe_vhost_list(const char *filter, struct vnm_ctl_port_info *out, unsigned max,
			     unsigned *matched);
unsigned vnm_pipe_vhost_stats(const char *filter, struct vnm_ctl_port_stats *out, unsigned max,
			      unsigned *matched);
/* At exit, before the pipes go: remove every one. */
void vnm_pipe_vhost_shutdown(void);

#endif
