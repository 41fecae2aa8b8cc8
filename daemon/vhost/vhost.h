/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost.h - the vhost-user back-end of vnetmapd: guest memory table, split
 * virtqueues (vhost_vq.c), the protocol (vhost_msg.c) and the connection
 * (vhost_conn.c). The switch port over it is ports/vhost_port.c.
 *
 * Security model (summary; each .c file states its part): the front-end (QEMU,
 * DPDK virtio-user, any local program that can reach the socket) and the guest
 * are untrusted. Messages are checked against one table (size, fds) before a
 * handler runs; every guest address is translated together with the length it
 * covers and must fall inside one mapped region; every descriptor field is read
 * once; chains are bounded by the ring size. A bad message closes the connection;
 * a bad descriptor chain is consumed and counted. Nothing a peer sends can make
 * vnetmapd read or write outside the guest's own mappings.
 *
 * Threading: the memory table and ring configuration are written by the main
 * thread only while the port is paused (detached from its switch, see
 * vhost_msg.c: struct vhost_dev_ops.pause/resume); the datapath fields of struct
 * vhost_vq are used by the switch thread only while the port is attached.
 */
#ifndef VNM_DAEMON_VHOST_H
#define VNM_DAEMON_VHOST_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "vhost/vnet.h"

/* ---- virtio (OASIS VIRTIO 1.1, split virtqueue) ---- */

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_USED_F_NO_NOTIFY 1
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* virtio feature bits */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_F_ANY_LAYOUT 27
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1 32

#define VHOST_BIT(b) (1ull << (b))

/* Features offered, identical across restarts (QEMU requires that to reconnect). */
#define VHOST_NET_FEATURES                                                                       \
	(VHOST_BIT(VIRTIO_F_VERSION_1) | VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES) |             \
	 VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF) | VHOST_BIT(VIRTIO_RING_F_EVENT_IDX) |                \
	 VHOST_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHOST_BIT(VIRTIO_F_ANY_LAYOUT) |               \
	 VHOST_BIT(VIRTIO_NET_F_CSUM) | VHOST_BIT(VIRTIO_NET_F_GUEST_CSUM) |                     \
	 VHOST_BIT(VIRTIO_NET_F_HOST_TSO4) | VHOST_BIT(VIRTIO_NET_F_HOST_TSO6) |                 \
	 VHOST_BIT(VIRTIO_NET_F_GUEST_TSO4) | VHOST_BIT(VIRTIO_NET_F_GUEST_TSO6) |               \
	 VHOST_BIT(VIRTIO_NET_F_GUEST_ECN) | VHOST_BIT(VIRTIO_NET_F_HOST_ECN) |                  \
	 VHOST_BIT(VIRTIO_NET_F_HOST_UFO) | VHOST_BIT(VIRTIO_NET_F_GUEST_UFO))

/* ---- guest memory ---- */

#define VHOST_MAX_REGIONS 8

struct vhost_region {
	uint64_t gpa;   /* guest physical address */
	uint64_t size;
	uint64_t uva;   /* front-end (QEMU) user address */
	uint8_t *host;  /* our mapping of gpa */
	void *map;      /* mmap base (offset 0 of the fd) */
	size_t map_len;
};

struct vhost_mem {
	unsigned n;
	struct vhost_region r[VHOST_MAX_REGIONS];
};

/*
 * Guest physical [gpa, gpa + len) -> our pointer, or NULL unless the whole range
 * lies inside one region. len 0 still requires gpa inside a region.
 */
static inline uint8_t *vhost_gpa(const struct vhost_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vhost_region *r = &m->r[i];
		uint64_t off = gpa - r->gpa; /* wraps when gpa < r->gpa: then off >= size */

		if (gpa >= r->gpa && off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

/* Front-end user address [uva, uva + len) -> our pointer (ring addresses), same rules. */
static inline uint8_t *vhost_uva(const struct vhost_mem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vhost_region *r = &m->r[i];
		uint64_t off = uva - r->uva;

		if (uva >= r->uva && off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

/* ---- split virtqueue ---- */

#define VHOST_QUEUES 2     /* one queue pair: 0 = RX (to the guest), 1 = TX (from the guest) */
#define VHOST_VQ_MAX 32768 /* largest ring size */
#define VHOST_IOV_MAX 128  /* guest buffers (after the header) of one TX frame */
/* Largest frame from a guest, without the virtio-net header: 64 KiB of IP + Ethernet + VLAN. */
#define VHOST_FRAME_MAX (65536 + 14 + 4)

struct vhost_iov {
	uint8_t *base;
	uint32_t len;
};

/* Counted errors per virtqueue (read racily for stats and tests). */
struct vhost_vq_stats {
	uint64_t bad_avail_idx; /* avail idx moved more than the ring size */
	uint64_t bad_desc;      /* bad head/next index, loop, wrong direction, too many buffers */
	uint64_t bad_indirect;  /* indirect table: length, nesting, NEXT with INDIRECT */
	uint64_t bad_addr;      /* buffer or table outside guest memory */
	uint64_t bad_hdr;       /* TX virtio-net header: short, invalid fields, offload not agreed */
	uint64_t oversize;      /* TX frame over VHOST_FRAME_MAX */
	uint64_t no_rxbuf;      /* RX: no (or too small) guest buffers for a frame */
};

struct vhost_vq {
	/* configuration (main thread, port paused) */
	uint32_t num;                /* 0: not set */
	uint64_t desc_uva, avail_uva, used_uva;
	int have_addr;
	uint16_t base;               /* SET_VRING_BASE */
	int kick_fd, call_fd, err_fd;
	int started;                 /* has a kick (fd or "no fd") and translated rings */
	int enabled;                 /* SET_VRING_ENABLE (1 when protocol features are off) */

	/* datapath (switch thread while attached; main thread while paused) */
	struct vring_desc *desc;
	uint16_t *avail;             /* flags, idx, ring[num], used_event */
	uint8_t *used;               /* flags u16, idx u16, ring[num] of used_elem, avail_event u16 */
	const struct vhost_mem *mem;
	uint16_t last_avail;         /* next avail entry we consume */
	uint16_t avail_idx;          /* last avail idx read (validated) */
	uint16_t used_idx;           /* next used entry (shadow of used->idx) */
	uint16_t signalled_used;
	int signalled_valid;
	int event_idx, indirect_ok, mrg;
	uint64_t features;           /* negotiated */
	struct vhost_vq_stats st;
};

static inline uint16_t *vq_used_flags(struct vhost_vq *vq)
{
	return (uint16_t *)vq->used;
}

static inline uint16_t *vq_used_idx(struct vhost_vq *vq)
{
	return (uint16_t *)(vq->used + 2);
}

static inline struct vring_used_elem *vq_used_ring(struct vhost_vq *vq)
{
	return (struct vring_used_elem *)(vq->used + 4);
}

static inline uint16_t *vq_avail_event(struct vhost_vq *vq)
{
	return (uint16_t *)(vq->used + 4 + 8 * (size_t)vq->num);
}

/* Sizes of the three parts of a split ring of num entries (with the event words). */
static inline uint64_t vq_desc_bytes(uint32_t num)
{
	return 16ull * num;
}

static inline uint64_t vq_avail_bytes(uint32_t num)
{
	return 6ull + 2ull * num;
}

static inline uint64_t vq_used_bytes(uint32_t num)
{
	return 6ull + 8ull * num;
}

void vhost_vq_init(struct vhost_vq *vq);
/*
 * Translate the ring addresses through mem (each part with its whole length,
 * inside one region, aligned) and start the ring at vq->base. 0 or -EINVAL/-EFAULT.
 */
int vhost_vq_start(struct vhost_vq *vq, const struct vhost_mem *mem, uint64_t features);
/* Re-translate a started ring after a new memory table (indices kept). */
int vhost_vq_remap(struct vhost_vq *vq, const struct vhost_mem *mem);
void vhost_vq_stop(struct vhost_vq *vq);

/*
 * How many chains the guest made available (validated against the ring size).
 * Reads avail->idx (acquire). -ERANGE when the index moved more than num (counted;
 * nothing is consumed, the ring works again once the guest fixes its index).
 */
int vhost_vq_avail(struct vhost_vq *vq);

/*
 * Pop the next available chain (the caller checked vhost_vq_avail). writable
 * selects RX chains (every descriptor device-writable) or TX chains (every one
 * device-readable). Fills iov (at most max entries, zero-length buffers skipped),
 * *niov, *head and *total. Returns 0, or -errno for a bad chain, which is consumed
 * anyway (the caller pushes it used with length 0) and counted.
 */
int vhost_vq_pop(struct vhost_vq *vq, int writable, struct vhost_iov *iov, unsigned max,
		 unsigned *niov, uint16_t *head, uint32_t *total);

/* Write a used entry (not visible until vhost_vq_publish). */
static inline void vhost_vq_used(struct vhost_vq *vq, uint16_t id, uint32_t len)
{
	struct vring_used_elem *e = &vq_used_ring(vq)[vq->used_idx & (vq->num - 1)];

	__atomic_store_n(&e->id, id, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	vq->used_idx++;
}

/* Publish used entries and buffer contents written so far. */
static inline void vhost_vq_publish(struct vhost_vq *vq)
{
	/* the guest must see the used entries and buffer bytes before the new index */
	__atomic_store_n(vq_used_idx(vq), vq->used_idx, __ATOMIC_RELEASE);
}

/* After a publish: must the guest be interrupted (EVENT_IDX or NO_INTERRUPT)? */
int vhost_vq_need_call(struct vhost_vq *vq);
/* Interrupt the guest if needed (one eventfd write at most). */
void vhost_vq_call(struct vhost_vq *vq);

/*
 * Ask the guest for kicks (avail_event or clear NO_NOTIFY), then re-check:
 * returns 1 if chains arrived meanwhile.
 */
int vhost_vq_enable_notify(struct vhost_vq *vq);
void vhost_vq_disable_notify(struct vhost_vq *vq);

/*
 * RX: copy the 12-byte header hdr (num_buffers filled here) and frame f into the
 * guest's buffers, mergeable when negotiated. patch_pos/patch_val: when patch_pos
 * >= 0, the two bytes at frame offset patch_pos are written as patch_val (network
 * order), e.g. a checksum completed in software. Used entries are written but not
 * published. Returns 0; -ENOBUFS (not enough buffers: nothing consumed); -EMSGSIZE
 * (no mergeable buffers and the frame does not fit one chain: nothing consumed);
 * -EINVAL (a bad chain: the chains taken are returned empty, the frame is dropped).
 */
int vhost_vq_rx(struct vhost_vq *vq, const uint8_t hdr[VHOST_HDR_LEN], const struct vnm_frame *f,
		int32_t patch_pos, uint16_t patch_val);

/*
 * Check a header a guest sent with a frame of len bytes and the features it
 * negotiated (HOST_* offloads). 0 or -EINVAL (drop the frame).
 */
int vhost_hdr_check(const struct virtio_net_hdr_mrg *h, uint32_t len, uint64_t features);

#endif /* VNM_DAEMON_VHOST_H */
