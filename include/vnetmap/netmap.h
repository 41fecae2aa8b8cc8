/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vnetmap/netmap.h - the netmap shared-memory ABI (API version 14, x86_64 Linux).
 *
 * Layouts, offsets and flag values are netmap's, so ring-handling code written for
 * netmap compiles unchanged. Every reference inside a region is an offset, never a
 * pointer: the region maps at any address, in any process or guest.
 *
 * Ownership (netmap's rules): the application writes head and cur, the "kernel"
 * side (vnetmapd, or the peer end of a pipe) writes tail. The application owns
 * slots [head, tail), the kernel side [tail, head). One slot always stays empty.
 */
#ifndef VNETMAP_NETMAP_H
#define VNETMAP_NETMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#define NETMAP_API 14
#define NM_CACHE_ALIGN 128
#define NM_IFNAMSZ 16

/* struct netmap_slot: one packet buffer descriptor (16 bytes). */
struct netmap_slot {
	uint32_t buf_idx; /* buffer index in the region's pool */
	uint16_t len;     /* bytes in the buffer */
	uint16_t flags;   /* NS_* below; VALE rx: high byte = fragment count */
	uint64_t ptr;     /* user pointer / offset, unused by vnetmap */
};

#define NS_BUF_CHANGED 0x0001 /* buf_idx changed (set by either side) */
#define NS_REPORT 0x0002      /* ask for a report at txsync */
#define NS_FORWARD 0x0004     /* pass to the other endpoint (host rings) */
#define NS_NO_LEARN 0x0008
#define NS_INDIRECT 0x0010 /* ptr holds the payload address (unsupported) */
#define NS_MOREFRAG 0x0020 /* more fragments follow: every slot of a chain but the last */
#define NS_TXMON 0x0040
#define NS_PORT_SHIFT 8
#define NS_PORT_MASK (0xff << NS_PORT_SHIFT)
#define NS_RFRAGS(_slot) (((_slot)->flags >> 8) & 0xff)
#define NM_MAX_FRAGS 64 /* longest chain accepted */

/* struct netmap_ring: 256-byte header, slots follow at +256. */
struct netmap_ring {
	const int64_t buf_ofs;      /* buffer pool offset from this ring */
	const uint32_t num_slots;   /* need not be a power of two */
	const uint32_t nr_buf_size; /* bytes per buffer */
	const uint16_t ringid;
	const uint16_t dir; /* 0 tx, 1 rx */

	uint32_t head; /* application: first slot it owns */
	uint32_t cur;  /* application: wakeup point */
	uint32_t tail; /* kernel side: first slot it owns (const for the application) */

	const uint32_t flags;
	struct timeval ts;
	const uint64_t offset_mask;
	const uint64_t buf_align;

	uint8_t __attribute__((__aligned__(NM_CACHE_ALIGN))) sem[128];
	struct netmap_slot slot[0];
};

#define NR_TIMESTAMP 0x0002
#define NR_FORWARD 0x0004

/* struct netmap_if: 56 bytes, then ring_ofs[] (NIC tx, host tx, NIC rx, host rx). */
struct netmap_if {
	char ni_name[NM_IFNAMSZ];
	const uint32_t ni_version;
	const uint32_t ni_flags;
	const uint32_t ni_tx_rings;
	const uint32_t ni_rx_rings;
	uint32_t ni_bufs_head; /* list of extra buffers, threaded through their first word */
	const uint32_t ni_host_tx_rings;
	const uint32_t ni_host_rx_rings;
	uint32_t ni_spare1[3];
	const ssize_t ring_ofs[0]; /* ring address - netmap_if address; 0 = not bound */
};

#define NI_PRIV_MEM 0x1

/* Registration modes (nr_mode), as in netmap. */
enum {
	NR_REG_DEFAULT = 0,
	NR_REG_ALL_NIC = 1,
	NR_REG_SW = 2,
	NR_REG_NIC_SW = 3,
	NR_REG_ONE_NIC = 4,
	NR_REG_PIPE_MASTER = 5,
	NR_REG_PIPE_SLAVE = 6,
	NR_REG_NULL = 7,
	NR_REG_ONE_SW = 8,
};

/* Registration flags (nr_flags), as in netmap. */
#define NR_MONITOR_TX 0x100
#define NR_MONITOR_RX 0x200
#define NR_ZCOPY_MON 0x400
#define NR_EXCLUSIVE 0x800
#define NR_RX_RINGS_ONLY 0x8000
#define NR_TX_RINGS_ONLY 0x10000
/* vnetmap extension: VALE sender is lossless (waits for space, never drops on full). */
#define NR_VNM_LOSSLESS 0x1000000

_Static_assert(sizeof(struct netmap_slot) == 16, "netmap_slot size");
_Static_assert(offsetof(struct netmap_slot, len) == 4, "slot.len");
_Static_assert(offsetof(struct netmap_slot, flags) == 6, "slot.flags");
_Static_assert(offsetof(struct netmap_slot, ptr) == 8, "slot.ptr");
_Static_assert(offsetof(struct netmap_ring, num_slots) == 8, "ring.num_slots");
_Static_assert(offsetof(struct netmap_ring, nr_buf_size) == 12, "ring.nr_buf_size");
_Static_assert(offsetof(struct netmap_ring, ringid) == 16, "ring.ringid");
_Static_assert(offsetof(struct netmap_ring, dir) == 18, "ring.dir");
_Static_assert(offsetof(struct netmap_ring, head) == 20, "ring.head");
_Static_assert(offsetof(struct netmap_ring, cur) == 24, "ring.cur");
_Static_assert(offsetof(struct netmap_ring, tail) == 28, "ring.tail");
_Static_assert(offsetof(struct netmap_ring, flags) == 32, "ring.flags");
_Static_assert(offsetof(struct netmap_ring, ts) == 40, "ring.ts");
_Static_assert(offsetof(struct netmap_ring, offset_mask) == 56, "ring.offset_mask");
_Static_assert(offsetof(struct netmap_ring, buf_align) == 64, "ring.buf_align");
_Static_assert(offsetof(struct netmap_ring, sem) == 128, "ring.sem");
_Static_assert(offsetof(struct netmap_ring, slot) == 256, "ring.slot");
_Static_assert(sizeof(struct netmap_ring) == 256, "netmap_ring size");
_Static_assert(offsetof(struct netmap_if, ni_version) == 16, "if.ni_version");
_Static_assert(offsetof(struct netmap_if, ni_bufs_head) == 32, "if.ni_bufs_head");
_Static_assert(offsetof(struct netmap_if, ni_host_tx_rings) == 36, "if.ni_host_tx_rings");
_Static_assert(offsetof(struct netmap_if, ring_ofs) == 56, "if.ring_ofs");

/* ---- Helpers every netmap program uses (netmap_user.h) ---- */

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define _NETMAP_OFFSET(type, ptr, offset) ((type)(void *)((char *)(ptr) + (offset)))
#define NETMAP_IF(_base, _ofs) _NETMAP_OFFSET(struct netmap_if *, _base, _ofs)
#define NETMAP_TXRING(nifp, index) _NETMAP_OFFSET(struct netmap_ring *, nifp, (nifp)->ring_ofs[index])
#define NETMAP_RXRING(nifp, index)                                                            \
	_NETMAP_OFFSET(struct netmap_ring *, nifp,                                            \
		       (nifp)->ring_ofs[(index) + (nifp)->ni_tx_rings + (nifp)->ni_host_tx_rings])
#define NETMAP_BUF(ring, index) ((char *)(ring) + (ring)->buf_ofs + ((size_t)(index) * (ring)->nr_buf_size))
#define NETMAP_BUF_IDX(ring, buf)                                                             \
	((uint32_t)(((char *)(buf) - ((char *)(ring) + (ring)->buf_ofs)) / (ring)->nr_buf_size))

/* The slot after i (num_slots need not be a power of two). */
static inline uint32_t nm_ring_next(struct netmap_ring *r, uint32_t i)
{
	return unlikely(i + 1 == r->num_slots) ? 0 : i + 1;
}

/* Slots the application may use: from cur up to tail. */
static inline uint32_t nm_ring_space(struct netmap_ring *ring)
{
	int ret = (int)(ring->tail - ring->cur);
	if (ret < 0)
		ret += ring->num_slots;
	return (uint32_t)ret;
}

/* True when the application has no slot past cur. */
static inline int nm_ring_empty(struct netmap_ring *ring)
{
	return ring->cur == ring->tail;
}

/* TX: true while slots handed to the kernel side have not all been sent. */
static inline int nm_tx_pending(struct netmap_ring *r)
{
	return nm_ring_next(r, r->tail) != r->head;
}

/* Copy a packet (any length; rounds to 64 bytes may be read/written past len as in netmap). */
static inline void nm_pkt_copy(const void *_src, void *_dst, int l)
{
	const uint64_t *src = (const uint64_t *)_src;
	uint64_t *dst = (uint64_t *)_dst;
	if (unlikely(l >= 1024 || l % 64)) {
		__builtin_memcpy(dst, src, (size_t)l);
		return;
	}
	for (; likely(l > 0); l -= 64) {
		*dst++ = *src++;
		*dst++ = *src++;
		*dst++ = *src++;
		*dst++ = *src++;
		*dst++ = *src++;
		*dst++ = *src++;
		*dst++ = *src++;
		*dst++ = *src++;
	}
}

#endif /* VNETMAP_NETMAP_H */
