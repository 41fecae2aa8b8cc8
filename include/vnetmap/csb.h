/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vnetmap/csb.h - the ring synchronisation protocol, written once.
 *
 * Every ring has a Communication Status Block (netmap's CSB, ptnetmap's layout):
 * two 64-byte entries in the shared region, one per direction.
 *
 *   struct nm_csb_atok  application -> kernel side   head, cur, appl_need_kick
 *   struct nm_csb_ktoa  kernel side -> application   hwcur, hwtail, kern_need_kick,
 *                                                    err_count, err_reason
 *
 * "Kernel side" is whoever plays netmap's kernel for that ring: vnetmapd for VALE
 * ports, the peer endpoint's library for pipe rings, the host for a passthrough
 * guest. Nothing in a CSB is a pointer; no system call is made while both sides
 * are busy (need-kick flags are 0).
 *
 * Single-writer words:
 *   atok.head, atok.cur            written by the application only
 *   atok.appl_need_kick            set (1) by the application; cleared (0) by the
 *                                  kernel side with an atomic exchange when it notifies
 *   ktoa.hwcur, ktoa.hwtail        written by the kernel side only
 *   ktoa.kern_need_kick            written by the kernel side only
 *   ktoa.err_count, err_reason     written by the kernel side only
 *
 * Ordering (netmap's): the application fills slots, stores cur, then head with
 * RELEASE; the kernel side loads head with ACQUIRE, then cur, then reads slots.
 * The kernel side writes slots, stores hwcur, then hwtail with RELEASE; the
 * application loads hwtail with ACQUIRE, then hwcur.
 *
 * Notification suppression (Dekker pattern, both sides use a full fence):
 *   waiter:   store need_kick = 1; fence(seq_cst); re-check the ring; sleep if no progress
 *   producer: publish index;       fence(seq_cst); if need_kick -> notify
 * At least one of the two sees the other's store, so a wake-up is never lost.
 *
 * Kicks and notifications (per open port binding):
 *   app -> daemon: write 1 to the binding's kick eventfd when ktoa.kern_need_kick
 *   kernel -> app: RX: write one byte to the daemon end of the notify socket
 *                  (the app's fd becomes readable);
 *                  TX: drain the daemon end (the app's fd becomes writable again).
 * The application end of the notify socket has a minimal SO_SNDBUF: when it arms
 * a TX wait it sends a VNM_NOTIFY_FILL-byte filler, which leaves it not writable
 * until the kernel side drains it. So poll()/epoll on the port fd gives netmap's
 * semantics: POLLIN = RX has packets past cur, POLLOUT = TX has space, once armed
 * by a sync that found none.
 */
#ifndef VNETMAP_CSB_H
#define VNETMAP_CSB_H

#include <errno.h>
#include <stdint.h>

#include "netmap.h"

struct nm_csb_atok {
	uint32_t head;           /* application: last head published */
	uint32_t cur;            /* application: last cur published */
	uint32_t appl_need_kick; /* application asks to be notified */
	uint32_t sync_flags;     /* reserved, 0 */
	uint32_t pad[12];
};

struct nm_csb_ktoa {
	uint32_t hwcur;          /* kernel side: slots before this were consumed */
	uint32_t hwtail;         /* kernel side: ring tail */
	uint32_t kern_need_kick; /* kernel side sleeps: kick its eventfd */
	uint32_t err_count;      /* vnetmap: bumped at every ring reset */
	uint32_t err_reason;     /* vnetmap: enum vnm_ring_err of the last reset */
	uint32_t pad[11];
};

_Static_assert(sizeof(struct nm_csb_atok) == 64, "csb atok size");
_Static_assert(sizeof(struct nm_csb_ktoa) == 64, "csb ktoa size");

/* Why the kernel side reset a ring (ktoa.err_reason). */
enum vnm_ring_err {
	VNM_RERR_NONE = 0,
	VNM_RERR_HEAD = 1,    /* head outside [hwcur, hwtail] */
	VNM_RERR_CUR = 2,     /* cur outside [head, hwtail] */
	VNM_RERR_BUF_IDX = 3, /* buf_idx 0, 1 or past the pool */
	VNM_RERR_LEN = 4,     /* len over the buffer size */
	VNM_RERR_CHAIN = 5,   /* MOREFRAG chain over NM_MAX_FRAGS or unterminated */
};

#define VNM_NOTIFY_FILL 1024 /* filler bytes that make the app end not writable */

/* ---------------------------------------------------------------------------
 * Application side (libvnetmap, passthrough guests).
 * ------------------------------------------------------------------------- */

/* Publish head and cur. Slot writes before this become visible before head. */
static inline void vnm_csb_app_publish(struct nm_csb_atok *atok, uint32_t head, uint32_t cur)
{
	__atomic_store_n(&atok->cur, cur, __ATOMIC_RELAXED);
	/* the kernel side must see slot contents and cur before the new head */
	__atomic_store_n(&atok->head, head, __ATOMIC_RELEASE);
}

/* Read the kernel side's tail. Slot reads after this see what it wrote before hwtail. */
static inline uint32_t vnm_csb_app_hwtail(const struct nm_csb_ktoa *ktoa)
{
	return __atomic_load_n(&ktoa->hwtail, __ATOMIC_ACQUIRE);
}

/*
 * After a publish: does the kernel side sleep and need a kick? The full fence
 * orders our head store before the load of its flag (pairs with the fence in
 * vnm_csb_kern_sleep_prepare()).
 */
static inline int vnm_csb_app_need_kick(const struct nm_csb_ktoa *ktoa)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&ktoa->kern_need_kick, __ATOMIC_RELAXED) != 0;
}

/* Ask to be notified; returns the hwtail read after the fence (re-check it before sleeping). */
static inline uint32_t vnm_csb_app_arm(struct nm_csb_atok *atok, const struct nm_csb_ktoa *ktoa)
{
	__atomic_store_n(&atok->appl_need_kick, 1, __ATOMIC_RELAXED);
	/* our flag store must be visible before we re-read hwtail (pairs with kern_notify_needed) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&ktoa->hwtail, __ATOMIC_ACQUIRE);
}

static inline void vnm_csb_app_disarm(struct nm_csb_atok *atok)
{
	__atomic_store_n(&atok->appl_need_kick, 0, __ATOMIC_RELAXED);
}

/* Is a notification still pending (armed and not yet taken by the kernel side)? */
static inline int vnm_csb_app_armed(const struct nm_csb_atok *atok)
{
	return __atomic_load_n(&atok->appl_need_kick, __ATOMIC_RELAXED) != 0;
}

/* ---------------------------------------------------------------------------
 * Kernel side (vnetmapd, pipe peers, passthrough host).
 *
 * struct vnm_kring is the kernel side's PRIVATE state of one ring: geometry and
 * indices are copies it owns; the shared ring, slots and atok are untrusted and
 * read once per sync into locals.
 * ------------------------------------------------------------------------- */

struct vnm_kring {
	struct netmap_ring *ring;  /* shared, untrusted */
	struct nm_csb_atok *atok;  /* shared, untrusted */
	struct nm_csb_ktoa *ktoa;  /* shared, written by us */
	char *buf_base;            /* buffer 0 of the region */
	uint32_t num_slots;        /* private copy of the geometry */
	uint32_t buf_size;
	uint32_t num_bufs;         /* valid buf_idx: [2, num_bufs) */
	uint32_t dir;              /* 0 tx, 1 rx */
	uint32_t nr_hwcur;         /* private: consumed up to here */
	uint32_t nr_hwtail;        /* private: tail */
	uint32_t rhead;            /* last validated head */
	uint32_t rcur;             /* last validated cur */
	uint32_t err_count;        /* private mirror of ktoa.err_count */
};

/* Distance from a to b going forward on a ring of n slots (a, b < n). */
static inline uint32_t vnm_ring_dist(uint32_t a, uint32_t b, uint32_t n)
{
	return b >= a ? b - a : b + n - a;
}

static inline uint32_t vnm_ring_add(uint32_t i, uint32_t k, uint32_t n)
{
	i += k;
	return i >= n ? i - n : i;
}

/*
 * Read the application's head and cur once and check netmap's rule
 * hwcur <= head <= cur <= hwtail (circularly). On success stores them in
 * k->rhead/k->rcur and returns 0; returns -VNM_RERR_HEAD / -VNM_RERR_CUR otherwise.
 */
static inline int vnm_kring_read_app(struct vnm_kring *k)
{
	/* ACQUIRE: slot contents written before head are visible after this load */
	uint32_t head = __atomic_load_n(&k->atok->head, __ATOMIC_ACQUIRE);
	uint32_t cur = __atomic_load_n(&k->atok->cur, __ATOMIC_RELAXED);
	uint32_t n = k->num_slots;
	uint32_t span = vnm_ring_dist(k->nr_hwcur, k->nr_hwtail, n);

	if (unlikely(head >= n || vnm_ring_dist(k->nr_hwcur, head, n) > span))
		return -VNM_RERR_HEAD;
	if (unlikely(cur >= n || vnm_ring_dist(k->nr_hwcur, cur, n) > span ||
		     vnm_ring_dist(k->nr_hwcur, cur, n) < vnm_ring_dist(k->nr_hwcur, head, n)))
		return -VNM_RERR_CUR;
	k->rhead = head;
	k->rcur = cur;
	return 0;
}

/* Validate one slot read into locals (buf_idx, len). 0 or -VNM_RERR_*. */
static inline int vnm_kring_check_slot(const struct vnm_kring *k, uint32_t buf_idx, uint32_t len)
{
	if (unlikely(buf_idx < 2 || buf_idx >= k->num_bufs))
		return -VNM_RERR_BUF_IDX;
	if (unlikely(len > k->buf_size))
		return -VNM_RERR_LEN;
	return 0;
}

static inline char *vnm_kring_buf(const struct vnm_kring *k, uint32_t buf_idx)
{
	return k->buf_base + (size_t)buf_idx * k->buf_size;
}

/*
 * Publish the private hwcur/hwtail. Slot writes before this are visible to the
 * application once it sees the new hwtail.
 */
static inline void vnm_kring_publish(struct vnm_kring *k)
{
	__atomic_store_n(&k->ktoa->hwcur, k->nr_hwcur, __ATOMIC_RELAXED);
	/* the application must see slot contents before the new tail */
	__atomic_store_n(&k->ktoa->hwtail, k->nr_hwtail, __ATOMIC_RELEASE);
}

/*
 * After a publish: should the application be notified? Takes the request
 * (atomic exchange to 0) so that each arm yields at most one notification and a
 * re-arm racing with us is never lost. Returns 1 if the caller must notify.
 */
static inline int vnm_kring_notify_needed(struct vnm_kring *k)
{
	/* order our hwtail store before reading the flag (pairs with vnm_csb_app_arm) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&k->atok->appl_need_kick, __ATOMIC_RELAXED) == 0)
		return 0;
	return __atomic_exchange_n(&k->atok->appl_need_kick, 0, __ATOMIC_ACQ_REL) != 0;
}

/* Before sleeping: ask for kicks, then the caller re-checks the ring (vnm_kring_read_app). */
static inline void vnm_csb_kern_sleep_prepare(struct vnm_kring *k)
{
	__atomic_store_n(&k->ktoa->kern_need_kick, 1, __ATOMIC_RELAXED);
	/* the flag must be visible before we re-read head (pairs with vnm_csb_app_need_kick) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void vnm_csb_kern_wake(struct vnm_kring *k)
{
	__atomic_store_n(&k->ktoa->kern_need_kick, 0, __ATOMIC_RELAXED);
}

/* Out of line (lib/csb.c): */

/*
 * Initialise a kring over a ring already laid out in the region. The caller passes
 * the geometry it allocated (never the values read back from shared memory).
 */
void vnm_kring_init(struct vnm_kring *k, struct netmap_ring *ring, struct nm_csb_atok *atok,
		    struct nm_csb_ktoa *ktoa, char *buf_base, uint32_t num_slots,
		    uint32_t buf_size, uint32_t num_bufs, uint32_t dir);

/*
 * Reset a ring after a violation (netmap's rules): slots with a bad buf_idx get
 * buffer 0 and len 0, lengths over the buffer size become 0, head/cur return to
 * hwcur, tail to hwtail; err_count is bumped and err_reason set so the application
 * sees it at its next sync. reason is a positive VNM_RERR_* value.
 */
void vnm_kring_reset(struct vnm_kring *k, int reason);

/* Human-readable text for a VNM_RERR_* value (never NULL). */
const char *vnm_ring_err_str(int reason);

#endif /* VNETMAP_CSB_H */
