/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vnetmap/region.h - layout of a shared memory region (one file in the runtime
 * directory's tmpfs; the same bytes a guest sees through an ivshmem BAR).
 *
 *   offset 0         struct vnm_region_hdr (16 KiB), with a table of the
 *                    port bindings ("ends") laid out in this region
 *   obj_ofs ...      objects: per end a netmap_if, its CSB arrays and its rings
 *   buf_ofs ...      buffer pool: num_bufs buffers of buf_size bytes; 0 and 1 reserved
 *
 * Everything is an offset from the region start. The daemon writes the header and
 * the objects before handing the region out; afterwards a client may scribble on
 * any of it, so the daemon never reads geometry back: it keeps private copies.
 * The header is advisory for clients and for a passthrough guest, which uses it to
 * find its port (the guest has no control socket).
 */
#ifndef VNETMAP_REGION_H
#define VNETMAP_REGION_H

#include <stdint.h>

#define VNM_REGION_MAGIC 0x313047524d4e56ULL /* "VNMRG01" little endian */
#define VNM_REGION_VERSION 1
#define VNM_REGION_HDR_SIZE 16384
#define VNM_REGION_MAX_ENDS 64
#define VNM_BUF_SIZE_DEFAULT 2048
#define VNM_NAME_MAX 64

/* One port binding laid out in a region: a netmap_if with its rings and CSBs. */
struct vnm_region_end {
	char name[VNM_NAME_MAX];   /* port name, e.g. "vale0:a" or "pipe0{1" */
	uint64_t nifp_ofs;         /* struct netmap_if */
	uint64_t csb_atok_ofs;     /* struct nm_csb_atok[ntx + nrx]: tx rings, then rx rings */
	uint64_t csb_ktoa_ofs;     /* struct nm_csb_ktoa[ntx + nrx] */
	uint32_t num_tx_rings;
	uint32_t num_rx_rings;
	uint32_t flags;            /* VNM_END_* */
	uint32_t peer;             /* pipes: index of the other end in ends[] */
	uint8_t pad[24];
};

#define VNM_END_USED 0x1
#define VNM_END_PIPE_MASTER 0x2 /* X{N */
#define VNM_END_PIPE_SLAVE 0x4  /* X}N */
#define VNM_END_VALE 0x8
#define VNM_END_PASSTHROUGH 0x10 /* bound by vnetmapd on behalf of a guest (ctl.h PASSTHROUGH) */
#define VNM_END_MONITOR 0x20     /* a monitor's rings ("valeX:Y/r", /t, /rt, /z) */

struct vnm_region_hdr {
	uint64_t magic;        /* VNM_REGION_MAGIC */
	uint32_t version;      /* VNM_REGION_VERSION */
	uint32_t hdr_size;     /* VNM_REGION_HDR_SIZE */
	uint64_t region_size;  /* bytes, a multiple of 4096 */
	uint64_t obj_ofs;      /* start of the object area */
	uint64_t obj_size;
	uint64_t buf_ofs;      /* buffer 0 */
	uint32_t buf_size;     /* bytes per buffer */
	uint32_t num_bufs;     /* buffers in the pool, 0 and 1 included */
	uint32_t num_ends;     /* entries of ends[] in use (some may be unused) */
	uint32_t pad0;
	char name[VNM_NAME_MAX]; /* region name (port or pipe parent) */
	uint8_t pad1[128];
	struct vnm_region_end ends[VNM_REGION_MAX_ENDS];
};

_Static_assert(sizeof(struct vnm_region_end) == 128, "region end size");
_Static_assert(sizeof(struct vnm_region_hdr) <= VNM_REGION_HDR_SIZE, "region header fits a page");

#endif /* VNETMAP_REGION_H */
