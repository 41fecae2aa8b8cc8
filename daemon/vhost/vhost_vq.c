// SPDX-License-Identifier: BSD-2-Clause
/*
 * vhost_vq.c - split virtqueues in guest memory (VIRTIO 1.1, 2.7): pop chains,
 * push used entries, notification suppression both ways, RX with mergeable
 * buffers, and the virtio-net header rules.
 *
 * Security model: the guest owns the descriptor table, the avail ring and every
 * buffer, and may rewrite them at any moment (also while we read). We trust only
 * our private copies: num, last_avail, used_idx, the translated ring pointers.
 *   - avail->idx is read once per batch; a jump of more than num entries is an
 *     error (counted, nothing consumed).
 *   - A head or next index is bounded by the table it indexes; a chain walk is
 *     bounded by that table's size (loops end there); each descriptor is copied to
 *     a local once and only the local is used.
 *   - Indirect tables: INDIRECT_DESC negotiated, not with NEXT, length a non-zero
 *     multiple of 16 of at most num entries, inside one region, never nested.
 *   - Every buffer is translated with its length (vhost_gpa: the whole range in
 *     one region, overflow-safe); TX takes only device-readable descriptors, RX
 *     only device-writable ones.
 *   - TX frames: header (12 bytes) copied out before it is checked, total length
 *     bounded (VHOST_FRAME_MAX), offload fields checked (vhost_hdr_check).
 * A bad chain is consumed (returned used with length 0) and counted, so a guest
 * cannot wedge its queue, and valid chains after it work. We write only the used
 * ring, the avail_event word, and RX buffers the guest offered us.
 *
 * Threading: the switch thread, while the port is attached; the control plane
 * only with the port paused.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vhost/vhost.h"

#define VHOST_RX_BUFS_MAX 256 /* guest buffers for one frame (64 KiB in 256-byte buffers) */

static inline uint16_t ld16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void vhost_vq_init(struct vhost_vq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
}

static int vq_translate(struct vhost_vq *vq, const struct vhost_mem *mem)
{
	uint32_t num = vq->num;
	uint8_t *d, *a, *u;

	if (!vq->have_addr || num == 0 || (num & (num - 1)) || num > VHOST_VQ_MAX)
		return -EINVAL;
	/* alignment (2.7): desc 16, avail 2, used 4 */
	if ((vq->desc_uva & 15) || (vq->avail_uva & 1) || (vq->used_uva & 3))
		return -EINVAL;
	d = vhost_uva(mem, vq->desc_uva, vq_desc_bytes(num));
	a = vhost_uva(mem, vq->avail_uva, vq_avail_bytes(num));
	u = vhost_uva(mem, vq->used_uva, vq_used_bytes(num));
	if (!d || !a || !u)
		return -EFAULT;
	vq->desc = (struct vring_desc *)d;
	vq->avail = (uint16_t *)a;
	vq->used = u;
	vq->mem = mem;
	return 0;
}

int vhost_vq_start(struct vhost_vq *vq, const struct vhost_mem *mem, uint64_t features)
{
	int ret = vq_translate(vq, mem);

	if (ret < 0)
		return ret;
	vq->features = features;
	vq->event_idx = !!(features & VHOST_BIT(VIRTIO_RING_F_EVENT_IDX));
	vq->indirect_ok = !!(features & VHOST_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	vq->mrg = !!(features & VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF));
	vq->last_avail = vq->base;
	vq->avail_idx = vq->base;
	/* the used index the guest sees is authoritative (after a reconnect it equals base) */
	vq->used_idx = __atomic_load_n(vq_used_idx(vq), __ATOMIC_RELAXED);
	vq->signalled_valid = 0;
	vq->started = 1;
	return 0;
}

int vhost_vq_remap(struct vhost_vq *vq, const struct vhost_mem *mem)
{
	if (!vq->started)
		return 0;
	return vq_translate(vq, mem);
}

void vhost_vq_stop(struct vhost_vq *vq)
{
	vq->started = 0;
	vq->base = vq->last_avail;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->mem = NULL;
}

int vhost_vq_avail(struct vhost_vq *vq)
{
	/* ACQUIRE: ring entries and descriptors written before idx are visible */
	uint16_t idx = __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - vq->last_avail);

	if (unlikely(n > vq->num)) {
		vq->st.bad_avail_idx++;
		return -ERANGE;
	}
	vq->avail_idx = idx;
	return n;
}

/* Copy one descriptor out of guest memory: every field read exactly once. */
static inline void desc_read(const struct vring_desc *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the compiler must not re-read src later */
}

int vhost_vq_pop(struct vhost_vq *vq, int writable, struct vhost_iov *iov, unsigned max,
		 unsigned *niov, uint16_t *head, uint32_t *total)
{
	const uint32_t num = vq->num;
	const struct vring_desc *table = vq->desc;
	uint32_t tnum = num, count = 0, idx, n = 0;
	uint64_t tot = 0;
	int in_indirect = 0, ret = 0;
	uint16_t h = ld16(&vq->avail[2 + (vq->last_avail & (num - 1))]);

	vq->last_avail++;
	*head = h;
	*niov = 0;
	*total = 0;
	if (unlikely(h >= num)) {
		vq->st.bad_desc++;
		return -EINVAL;
	}
	idx = h;
	for (;;) {
		struct vring_desc d;

		if (unlikely(++count > tnum)) { /* a loop, or a chain longer than its table */
			vq->st.bad_desc++;
			ret = -ELOOP;
			break;
		}
		desc_read(&table[idx], &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (unlikely(!vq->indirect_ok || in_indirect || (d.flags & VRING_DESC_F_NEXT) ||
				     d.len == 0 || (d.len & 15) || d.len / 16 > num)) {
				vq->st.bad_indirect++;
				ret = -EINVAL;
				break;
			}
			table = (const struct vring_desc *)vhost_gpa(vq->mem, d.addr, d.len);
			if (unlikely(!table)) {
				vq->st.bad_indirect++;
				ret = -EFAULT;
				break;
			}
			tnum = d.len / 16;
			idx = 0;
			count = 0;
			in_indirect = 1;
			continue;
		}
		if (unlikely(!!(d.flags & VRING_DESC_F_WRITE) != !!writable)) {
			vq->st.bad_desc++;
			ret = -EINVAL;
			break;
		}
		uint8_t *p = vhost_gpa(vq->mem, d.addr, d.len);
		if (unlikely(!p)) {
			vq->st.bad_addr++;
			ret = -EFAULT;
			break;
		}
		if (d.len) {
			if (unlikely(n == max)) {
				vq->st.bad_desc++;
				ret = -E2BIG;
				break;
			}
			iov[n].base = p;
			iov[n].len = d.len;
			n++;
			tot += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		idx = d.next;
		if (unlikely(idx >= tnum)) {
			vq->st.bad_desc++;
			ret = -EINVAL;
			break;
		}
	}
	if (ret < 0)
		return ret;
	if (unlikely(tot > UINT32_MAX)) {
		vq->st.bad_desc++;
		return -E2BIG;
	}
	*niov = n;
	*total = (uint32_t)tot;
	return 0;
}

/* vring_need_event of the spec: has new_idx crossed event since old? */
static inline int need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

int vhost_vq_need_call(struct vhost_vq *vq)
{
	uint16_t old = vq->signalled_used, nw = vq->used_idx;

	/* our used idx store before reading the guest's suppression word (Dekker) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t ev = ld16(&vq->avail[2 + vq->num]); /* used_event */
		int valid = vq->signalled_valid;

		vq->signalled_used = nw;
		vq->signalled_valid = 1;
		return !valid || need_event(ev, nw, old);
	}
	return !(ld16(&vq->avail[0]) & VRING_AVAIL_F_NO_INTERRUPT);
}

void vhost_vq_call(struct vhost_vq *vq)
{
	if (vq->call_fd < 0 || !vhost_vq_need_call(vq))
		return;
	uint64_t one = 1;
	ssize_t r = write(vq->call_fd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is saturated, the guest wakes anyway */
}

int vhost_vq_enable_notify(struct vhost_vq *vq)
{
	if (vq->event_idx)
		__atomic_store_n(vq_avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(vq_used_flags(vq), 0, __ATOMIC_RELAXED);
	/* the request before re-reading avail idx (pairs with the guest's fence before its check) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE) != vq->last_avail;
}

void vhost_vq_disable_notify(struct vhost_vq *vq)
{
	/* with EVENT_IDX an avail_event left behind asks for one kick at most */
	if (!vq->event_idx)
		__atomic_store_n(vq_used_flags(vq), VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

/* ---- RX ---- */

/* A source stream: the 12-byte header, then the frame's fragments. */
struct src_it {
	const struct vnm_frame *f;
	const uint8_t *hdr;
	int part; /* -1: header, else fragment index */
	uint32_t off;
};

static inline uint32_t src_part_len(const struct src_it *s)
{
	return s->part < 0 ? VHOST_HDR_LEN : s->f->frag_len[s->part];
}

static inline const uint8_t *src_part_ptr(const struct src_it *s)
{
	return s->part < 0 ? s->hdr : s->f->frag[s->part];
}

int vhost_vq_rx(struct vhost_vq *vq, const uint8_t hdr[VHOST_HDR_LEN], const struct vnm_frame *f,
		int32_t patch_pos, uint16_t patch_val)
{
	struct vhost_iov iov[64];
	struct src_it s = { f, hdr, -1, 0 };
	uint64_t left = (uint64_t)VHOST_HDR_LEN + f->len;
	uint64_t pos = 0; /* stream position */
	/* stream positions to patch: num_buffers (10, 11), and the checksum */
	uint64_t ppos[4] = { 10, 11, UINT64_MAX, UINT64_MAX };
	uint8_t *pptr[4] = { NULL, NULL, NULL, NULL };
	uint16_t save_la = vq->last_avail, save_ui = vq->used_idx;
	uint16_t nbufs = 0, heads[VHOST_RX_BUFS_MAX];
	int avail = (uint16_t)(vq->avail_idx - vq->last_avail);

	if (patch_pos >= 0) {
		ppos[2] = VHOST_HDR_LEN + (uint64_t)patch_pos;
		ppos[3] = ppos[2] + 1;
	}
	while (left) {
		unsigned niov;
		uint16_t head;
		uint32_t total, written = 0;

		if (avail == 0 || nbufs == VHOST_RX_BUFS_MAX) {
			avail = nbufs == VHOST_RX_BUFS_MAX ? 0 : vhost_vq_avail(vq);
			if (avail <= 0) {
				vq->last_avail = save_la;
				vq->used_idx = save_ui;
				vq->st.no_rxbuf++;
				return -ENOBUFS;
			}
		}
		avail--;
		int ret = vhost_vq_pop(vq, 1, iov, 64, &niov, &head, &total);
		heads[nbufs] = head;
		if (ret < 0) {
			/* give back every chain this frame took (this one too), empty; drop the frame */
			vq->used_idx = save_ui;
			for (unsigned k = 0; k <= nbufs; k++)
				vhost_vq_used(vq, heads[k], 0);
			return -EINVAL;
		}
		if (!vq->mrg && total < left) {
			vq->last_avail = save_la;
			vq->used_idx = save_ui;
			vq->st.no_rxbuf++;
			return -EMSGSIZE;
		}
		for (unsigned i = 0; i < niov && left; i++) {
			uint8_t *dst = iov[i].base;
			uint32_t room = iov[i].len;

			while (room && left) {
				uint32_t plen = src_part_len(&s);
				uint32_t c = plen - s.off;

				if (c == 0) {
					s.part++;
					s.off = 0;
					if (unlikely(s.part >= (int)f->nfrags)) {
						left = 0; /* fragments shorter than f->len: stop */
						break;
					}
					continue;
				}
				if (c > room)
					c = room;
				memcpy(dst, src_part_ptr(&s) + s.off, c);
				for (int k = 0; k < 4; k++)
					if (ppos[k] >= pos && ppos[k] < pos + c)
						pptr[k] = dst + (ppos[k] - pos);
				dst += c;
				room -= c;
				s.off += c;
				pos += c;
				left -= c;
				written += c;
			}
		}
		vhost_vq_used(vq, head, written);
		nbufs++;
		if (!vq->mrg && left) /* cannot happen: total >= left was checked */
			break;
	}
	if (pptr[0] && pptr[1]) {
		/* num_buffers, little endian (VERSION_1) */
		*pptr[0] = (uint8_t)nbufs;
		*pptr[1] = (uint8_t)(nbufs >> 8);
	}
	if (pptr[2] && pptr[3]) {
		const uint8_t *v = (const uint8_t *)&patch_val;
		*pptr[2] = v[0];
		*pptr[3] = v[1];
	}
	return 0;
}

/* ---- virtio-net header ---- */

int vhost_hdr_check(const struct virtio_net_hdr_mrg *h, uint32_t len, uint64_t features)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(features & VHOST_BIT(VIRTIO_NET_F_CSUM)))
			return -EINVAL;
		if ((uint32_t)h->csum_start + h->csum_offset + 2u > len)
			return -EINVAL;
	}
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!(features & VHOST_BIT(VIRTIO_NET_F_HOST_TSO4)))
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!(features & VHOST_BIT(VIRTIO_NET_F_HOST_TSO6)))
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (!(features & VHOST_BIT(VIRTIO_NET_F_HOST_UFO)))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(features & VHOST_BIT(VIRTIO_NET_F_HOST_ECN)))
		return -EINVAL;
	/* GSO needs the partial checksum (segments are re-checksummed) */
	if (h->gso_size == 0 || h->hdr_len > len || !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return -EINVAL;
	return 0;
}
