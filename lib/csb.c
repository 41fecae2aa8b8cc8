// SPDX-License-Identifier: BSD-2-Clause
/*
 * csb.c - the out-of-line half of the ring protocol (vnetmap/csb.h): kernel-side
 * ring initialisation and reset. Used by vnetmapd, by pipe endpoints and by the
 * passthrough host.
 *
 * Security model: the ring and CSB are shared with an untrusted application.
 * Everything here writes shared memory from private state (struct vnm_kring) and
 * reads a shared field only to repair it; no shared value is used as an index or
 * size without a bound check against the private geometry.
 */
#include <string.h>

#include "vnetmap/csb.h"

void vnm_kring_init(struct vnm_kring *k, struct netmap_ring *ring, struct nm_csb_atok *atok,
		    struct nm_csb_ktoa *ktoa, char *buf_base, uint32_t num_slots,
		    uint32_t buf_size, uint32_t num_bufs, uint32_t dir)
{
	memset(k, 0, sizeof(*k));
	k->ring = ring;
	k->atok = atok;
	k->ktoa = ktoa;
	k->buf_base = buf_base;
	k->num_slots = num_slots;
	k->buf_size = buf_size;
	k->num_bufs = num_bufs;
	k->dir = dir;
	/* netmap: a fresh TX ring has tail = num_slots - 1, a fresh RX ring tail = 0 */
	k->nr_hwcur = 0;
	k->nr_hwtail = dir == 0 ? num_slots - 1 : 0;
	k->rhead = k->rcur = 0;
	k->err_count = __atomic_load_n(&ktoa->err_count, __ATOMIC_RELAXED);
}

void vnm_kring_reset(struct vnm_kring *k, int reason)
{
	struct netmap_ring *ring = k->ring;

	for (uint32_t i = 0; i < k->num_slots; i++) {
		struct netmap_slot *s = &ring->slot[i];
		uint32_t idx = __atomic_load_n(&s->buf_idx, __ATOMIC_RELAXED);
		uint16_t len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);

		if (idx < 2 || idx >= k->num_bufs) {
			__atomic_store_n(&s->buf_idx, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&s->len, 0, __ATOMIC_RELAXED);
		} else if (len > k->buf_size) {
			__atomic_store_n(&s->len, 0, __ATOMIC_RELAXED);
		}
	}
	__atomic_store_n(&ring->head, k->nr_hwcur, __ATOMIC_RELAXED);
	__atomic_store_n(&ring->cur, k->nr_hwcur, __ATOMIC_RELAXED);
	__atomic_store_n(&ring->tail, k->nr_hwtail, __ATOMIC_RELAXED);
	__atomic_store_n(&k->atok->cur, k->nr_hwcur, __ATOMIC_RELAXED);
	__atomic_store_n(&k->atok->head, k->nr_hwcur, __ATOMIC_RELAXED);
	k->rhead = k->rcur = k->nr_hwcur;
	k->err_count++;
	__atomic_store_n(&k->ktoa->err_reason, (uint32_t)reason, __ATOMIC_RELAXED);
	vnm_kring_publish(k);
	/* the application sees the reason before the new count */
	__atomic_store_n(&k->ktoa->err_count, k->err_count, __ATOMIC_RELEASE);
}

const char *vnm_ring_err_str(int reason)
{
	switch (reason < 0 ? -reason : reason) {
	case VNM_RERR_NONE: return "no error";
	case VNM_RERR_HEAD: return "head outside [hwcur, hwtail]";
	case VNM_RERR_CUR: return "cur outside [head, hwtail]";
	case VNM_RERR_BUF_IDX: return "buf_idx 0, 1 or past the buffer pool";
	case VNM_RERR_LEN: return "slot len over the buffer size";
	case VNM_RERR_CHAIN: return "MOREFRAG chain too long or unterminated";
	default: return "unknown ring error";
	}
}
