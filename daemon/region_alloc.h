/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * region_alloc.h - vnetmapd's shared memory regions (internal to the daemon).
 *
 * A region is one file in the daemon's tmpfs directory, sized with ftruncate
 * (sparse) and mapped MAP_SHARED; its fd is handed to clients. The layout is
 * include/vnetmap/region.h. Objects (netmap_if, CSB arrays, rings) and buffer
 * ranges are carved out with a first-fit allocator, so ends (pipe pairs) can come
 * and go in one region.
 *
 * Everything the daemon later needs about an end (geometry, offsets, krings) is a
 * private copy kept in struct vnm_end: nothing is read back from shared memory.
 */
#ifndef VNM_DAEMON_REGION_ALLOC_H
#define VNM_DAEMON_REGION_ALLOC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "vnetmap/csb.h"
#include "vnetmap/portname.h"
#include "vnetmap/region.h"

/* First-fit allocator over [start, start + len) in units (bytes or buffer indices). */
struct vnm_extent {
	uint64_t start, len;
};

struct vnm_alloc {
	struct vnm_extent *free; /* sorted by start, never adjacent */
	unsigned n, cap;
};

int vnm_alloc_init(struct vnm_alloc *a, uint64_t start, uint64_t len);
void vnm_alloc_fini(struct vnm_alloc *a);
/* Take len units; stores the start. -ENOSPC if no free extent is large enough. */
int vnm_alloc_get(struct vnm_alloc *a, uint64_t len, uint64_t *start);
/* Give back [start, start + len) (must have come from vnm_alloc_get). 0 or -ENOMEM. */
int vnm_alloc_put(struct vnm_alloc *a, uint64_t start, uint64_t len);

/* Ring geometry of one end (private copy). */
struct vnm_geom {
	uint32_t ntx, nrx;
	uint32_t tx_slots, rx_slots;
	uint32_t buf_size;
};

struct vnm_region {
	char name[VNM_NAME_MAX];
	char path[PATH_MAX];
	int fd;
	uint8_t *base;
	uint64_t size;
	uint64_t obj_ofs, obj_size, buf_ofs;
	uint32_t buf_size, num_bufs;
	struct vnm_alloc objs; /* bytes of the object area, in 128-byte units */
	struct vnm_alloc bufs; /* buffer indices [2, num_bufs) */
	uint64_t ends_used;    /* bitmap over hdr->ends[] */
	unsigned nends;
};

/* One end laid out in a region: the daemon's private view of it. */
struct vnm_end {
	int idx;                     /* in the region header's ends[]; -1 when not built */
	struct vnm_geom g;
	uint64_t obj_start, obj_len; /* object extent (bytes from region start) */
	uint64_t buf_start, buf_count;
	uint64_t nifp_ofs, atok_ofs, ktoa_ofs;
	struct vnm_kring tx[VNM_MAX_RINGS];
	struct vnm_kring rx[VNM_MAX_RINGS];
};

/*
 * Choose and create the directory for region files: RUNDIR/mem when RUNDIR is on
 * tmpfs, else /dev/shm/vnetmap-UID-<hash of RUNDIR>. Leftover files from a dead
 * daemon are removed. 0 or -errno (message in err).
 */
int vnm_memdir_init(const char *rundir, char *err, size_t errlen);
const char *vnm_memdir(void);
/* Remove every region file still there and the directory (at exit). */
void vnm_memdir_cleanup(void);

/*
 * Who may reach what the daemon creates (vnetmapd --group). Without a group (the
 * default) the runtime and region directories are 0700, the control socket, the
 * ivshmem and vhost-user listening sockets and the region files 0600 (sockets: the
 * umask's 0700), all private to the daemon's uid. With a group they belong to that
 * group: directories 0750, sockets and region files 0660.
 * vnm_share_set_group((gid_t)-1) clears it; vnm_share_group() is 1 with *gid set
 * when a group is configured.
 * vnm_share_dir: an existing directory of ours (opened O_NOFOLLOW, owner checked)
 * gets the mode and group above; 0 or -errno with a message.
 * vnm_share_sock: a socket the daemon just bound; nothing without a group, else
 * group and 0660 set without following a symlink put there since; 0 or -errno.
 * vnm_share_fd: a region file just created 0600: its group and 0660; 0 or -errno.
 */
#include <sys/types.h>
void vnm_share_set_group(gid_t gid);
int vnm_share_group(gid_t *gid);
int vnm_share_dir(const char *path, char *err, size_t errlen);
int vnm_share_sock(const char *path);
int vnm_share_fd(int fd);

/* Bytes of objects and buffers one end of geometry g needs. */
uint64_t vnm_end_obj_bytes(const struct vnm_geom *g);
uint32_t vnm_end_num_bufs(const struct vnm_geom *g);

/*
 * Create a region file with an object area of obj_bytes and a pool of num_bufs
 * buffers (0 and 1 included) of buf_size bytes; write its header. 0 or -errno.
 */
int vnm_region_create(const char *name, uint64_t obj_bytes, uint32_t num_bufs, uint32_t buf_size,
		      struct vnm_region **out);
/* Unmap, close and remove the file. */
void vnm_region_destroy(struct vnm_region *r);

/*
 * Lay out one end of geometry g (netmap_if, CSBs, rings with distinct buffers)
 * in r, publish it in ends[] with flags (VNM_END_*, USED added), initialise its
 * krings from the private geometry. -ENOSPC when the region is full.
 */
int vnm_end_build(struct vnm_region *r, const char *name, const struct vnm_geom *g, uint32_t flags,
		  struct vnm_end *e);
/* Set ends[e].peer (pipes). */
void vnm_end_set_peer(struct vnm_region *r, const struct vnm_end *e, uint32_t peer);
/* Unpublish the end and free its objects and buffers. */
void vnm_end_release(struct vnm_region *r, struct vnm_end *e);

#endif /* VNM_DAEMON_REGION_ALLOC_H */
