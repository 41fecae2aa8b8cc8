/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * internal.h - shared between the library's own files; not installed.
 */
#ifndef VNM_LIB_INTERNAL_H
#define VNM_LIB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vnetmap.h"
#include "vnetmap/region.h"

#define VNM_ERRMSG_MAX 256

/* Is [ofs, ofs + len) inside a region of size bytes? */
int vnm__in_region(uint64_t ofs, uint64_t len, uint64_t size);
/* Is a netmap_ring with its slot array at ring_ofs inside the region? Stores num_slots. */
int vnm__check_ring(const char *base, uint64_t size, uint64_t ring_ofs, uint32_t *nslots);

/* Format a message and hand it to cb (if any). Returns err (negative errno). */
int vnm__report(vnm_error_cb cb, void *arg, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * One control exchange. On success returns the reply payload length and, when
 * conn_out is not NULL, leaves the connection open in *conn_out. Exactly nfds
 * descriptors must arrive with a successful reply (0: none allowed); they are
 * stored in fds[]. On failure returns -errno with a message in errmsg and
 * closes everything it opened or received.
 */
int vnm__ctl_xfer(const char *dir, uint16_t type, const void *req, uint32_t reqlen, void *rep,
		  uint32_t replen, int *fds, unsigned nfds, int *conn_out, char *errmsg,
		  size_t errlen);

/*
 * The part of vnm_port_open after the daemon's reply (port.c): check the reply,
 * map the region, build the ring contexts, set up a pipe. d has its fds at -1.
 * Consumes the descriptors it keeps (sets their fds[] entries to -1); the caller
 * closes whatever is left in fds[] and, on failure, closes d. Exposed for tests.
 */
int vnm__port_setup(struct vnm_port *d, const struct vnm_ctl_open_rep *rep, size_t replen, int fds[3],
		    char *err, size_t errlen);

/*
 * Pipes (pipe.c). Set up d->pipe once the region is mapped and d->tx/d->rx are
 * built: hdr is a private copy of the region header. Takes ownership of peer_fd
 * (also on failure). 0 or -errno with a message in errmsg.
 */
int vnm__pipe_setup(struct vnm_port *d, const struct vnm_region_hdr *hdr,
		    const struct vnm_ctl_open_rep *rep, int peer_fd, char *errmsg, size_t errlen);
void vnm__pipe_free(struct vnm_port *d);

/*
 * Arm a pipe TX ring: the caller has set appl_need_kick (vnm_csb_app_arm); this
 * re-runs the datapath so that slots released by the peer before it could see
 * the flag are not missed. Returns 1 if the ring has space, 0, or -errno.
 */
int vnm__pipe_tx_recheck(struct vnm_port *d, unsigned ri);

/* Build d->tx[]/d->rx[] from end e of a region (header copy hdr), bounds-checked (port.c). */
int vnm__map_rings(struct vnm_port *d, const struct vnm_region_hdr *hdr,
		   const struct vnm_region_end *e, char *err, size_t errlen);

/*
 * Passthrough guest mode (guest.c). vnm__guest_spec: does vnm_port_open go to the
 * guest path ("ptnet:..." or VNM_GUEST=1)? vnm__guest_open_at: the open, over a sysfs
 * PCI devices directory (a fake one in tests); message in err. The rest are the
 * guest's versions of close / arm / poll.
 */
int vnm__guest_spec(const char *spec);
int vnm__guest_open(const char *spec, const struct vnm_open_opts *opts, struct vnm_port **out);
int vnm__guest_open_at(const char *sysfs_dir, const char *spec, const struct vnm_open_opts *opts,
		       struct vnm_port **out, char *err, size_t errlen);
void vnm__guest_free(struct vnm_port *d);
int vnm__guest_arm(struct vnm_port *d, short events);
int vnm__guest_poll(struct vnm_port *d, short events, int timeout_ms);

/*
 * A pipe end with no peer notify socket (peer_fd -1, a guest): notify the peer through
 * the ivshmem doorbell instead (db NULL: nobody can be notified; the peer's need-kick
 * flags are then left set for the host to poll).
 */
void vnm__pipe_set_doorbell(struct vnm_port *d, volatile uint32_t *db, uint32_t rx_val,
			    uint32_t tx_val);

#endif
