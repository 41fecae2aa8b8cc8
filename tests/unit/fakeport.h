/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fakeport.h - test helper: a netmap client port over a fake region in a malloc'd
 * buffer (rings + CSBs + buffers, no netmap_if), plus the client's side of the
 * ring protocol done by hand, so tests can drive the daemon's port ops directly.
 * Include after ports/netmap_port.c.
 */
#ifndef VNM_TEST_FAKEPORT_H
#define VNM_TEST_FAKEPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnetmap/csb.h"

#define FP_MAX_RINGS 4
#define FP_FN static __attribute__((unused))

struct fakeport {
	char *mem;
	unsigned ntx, nrx, nslots, buf_size, nbufs;
	char *buf_base;
	struct netmap_ring *ring[2][FP_MAX_RINGS];
	struct nm_csb_atok *atok[2][FP_MAX_RINGS];
	struct nm_csb_ktoa *ktoa[2][FP_MAX_RINGS];
	uint32_t head[2][FP_MAX_RINGS]; /* the client's own head */
	struct vnm_dport *dp;
};

FP_FN inline void fp_set_u32(const uint32_t *p, uint32_t v)
{
	*(uint32_t *)p = v;
}

/* nslots per ring, nbufs buffers of buf_size (each slot gets its own buffer). */
FP_FN struct fakeport *fp_create(const char *name, unsigned ntx, unsigned nrx, unsigned nslots,
				  unsigned buf_size, uint32_t flags)
{
	struct fakeport *fp = calloc(1, sizeof(*fp));
	size_t ring_sz = sizeof(struct netmap_ring) + (size_t)nslots * sizeof(struct netmap_slot);
	unsigned nr = ntx + nrx;
	unsigned nbufs = 2 + nr * nslots + 16;
	size_t csb = 2 * nr * 64;
	size_t total = nr * ring_sz + csb + (size_t)nbufs * buf_size + 4096;
	struct vnm_kring ktx[FP_MAX_RINGS], krx[FP_MAX_RINGS];

	fp->mem = aligned_alloc(4096, (total + 4095) & ~(size_t)4095);
	memset(fp->mem, 0, total);
	fp->ntx = ntx;
	fp->nrx = nrx;
	fp->nslots = nslots;
	fp->buf_size = buf_size;
	fp->nbufs = nbufs;
	char *p = fp->mem;
	struct nm_csb_atok *atok = (void *)p;
	p += nr * 64;
	struct nm_csb_ktoa *ktoa = (void *)p;
	p += nr * 64;
	char *rings = p;
	p += nr * ring_sz;
	p = (char *)(((uintptr_t)p + 4095) & ~(uintptr_t)4095);
	fp->buf_base = p;
	unsigned b = 2;
	for (unsigned i = 0; i < nr; i++) {
		int dir = i < ntx ? 0 : 1;
		unsigned ri = dir ? i - ntx : i;
		struct netmap_ring *r = (void *)(rings + i * ring_sz);
		*(int64_t *)&r->buf_ofs = fp->buf_base - (char *)r;
		fp_set_u32(&r->num_slots, nslots);
		fp_set_u32(&r->nr_buf_size, buf_size);
		*(uint16_t *)&r->ringid = (uint16_t)ri;
		*(uint16_t *)&r->dir = (uint16_t)dir;
		r->tail = dir ? 0 : nslots - 1;
		for (unsigned s = 0; s < nslots; s++)
			r->slot[s].buf_idx = b++;
		fp->ring[dir][ri] = r;
		fp->atok[dir][ri] = &atok[i];
		fp->ktoa[dir][ri] = &ktoa[i];
		ktoa[i].hwtail = r->tail;
		vnm_kring_init(dir ? &krx[ri] : &ktx[ri], r, &atok[i], &ktoa[i], fp->buf_base,
			       nslots, buf_size, nbufs, (uint32_t)dir);
	}
	fp->dp = vnm_nmport_create(name, ktx, ntx, krx, nrx, flags);
	return fp;
}

FP_FN void fp_destroy(struct fakeport *fp)
{
	vnm_nmport_destroy(fp->dp);
	free(fp->mem);
	free(fp);
}

FP_FN inline uint32_t fp_next(struct fakeport *fp, uint32_t i)
{
	return i + 1 == fp->nslots ? 0 : i + 1;
}

FP_FN inline struct netmap_slot *fp_slot(struct fakeport *fp, int dir, unsigned ri, uint32_t i)
{
	return &fp->ring[dir][ri]->slot[i];
}

FP_FN inline char *fp_buf(struct fakeport *fp, uint32_t idx)
{
	return fp->buf_base + (size_t)idx * fp->buf_size;
}

/* Client: free TX slots = hwtail - head. */
FP_FN uint32_t fp_tx_space(struct fakeport *fp, unsigned ri)
{
	uint32_t t = vnm_csb_app_hwtail(fp->ktoa[0][ri]);
	uint32_t h = fp->head[0][ri];
	return t >= h ? t - h : t + fp->nslots - h;
}

/*
 * Client: put one frame of len bytes (byte i = pat + i) in TX ring ri, frag bytes
 * per slot. Does not publish. Returns slots used or -1 if no space.
 */
FP_FN int fp_tx_put(struct fakeport *fp, unsigned ri, const uint8_t *data, unsigned len,
		     unsigned frag)
{
	unsigned nsl = len == 0 ? 1 : (len + frag - 1) / frag;
	if (fp_tx_space(fp, ri) < nsl)
		return -1;
	uint32_t h = fp->head[0][ri];
	for (unsigned k = 0, off = 0; k < nsl; k++) {
		struct netmap_slot *s = fp_slot(fp, 0, ri, h);
		unsigned l = len - off > frag ? frag : len - off;
		memcpy(fp_buf(fp, s->buf_idx), data + off, l);
		s->len = (uint16_t)l;
		s->flags = k + 1 < nsl ? NS_MOREFRAG : 0;
		off += l;
		h = fp_next(fp, h);
	}
	fp->head[0][ri] = h;
	return (int)nsl;
}

FP_FN void fp_publish(struct fakeport *fp, int dir, unsigned ri)
{
	vnm_csb_app_publish(fp->atok[dir][ri], fp->head[dir][ri], fp->head[dir][ri]);
}

/* Client after a reset: its head follows the kernel's hwcur. */
FP_FN void fp_resync(struct fakeport *fp, int dir, unsigned ri)
{
	fp->head[dir][ri] = __atomic_load_n(&fp->ktoa[dir][ri]->hwcur, __ATOMIC_ACQUIRE);
	fp_publish(fp, dir, ri);
}

/* Client: RX slots available [head, hwtail). */
FP_FN uint32_t fp_rx_avail(struct fakeport *fp, unsigned ri)
{
	uint32_t t = vnm_csb_app_hwtail(fp->ktoa[1][ri]);
	uint32_t h = fp->head[1][ri];
	return t >= h ? t - h : t + fp->nslots - h;
}

/*
 * Client: take one frame from RX ring ri into out (max bytes). Returns its length,
 * -1 if none; *nslots gets its slot count. Releases the slots (publishes).
 */
FP_FN int fp_rx_get(struct fakeport *fp, unsigned ri, uint8_t *out, unsigned max, unsigned *nslots)
{
	unsigned avail = fp_rx_avail(fp, ri), k = 0, len = 0;
	uint32_t h = fp->head[1][ri];
	for (;;) {
		if (k == avail)
			return -1;
		struct netmap_slot *s = fp_slot(fp, 1, ri, h);
		if (len + s->len <= max)
			memcpy(out + len, fp_buf(fp, s->buf_idx), s->len);
		len += s->len;
		k++;
		h = fp_next(fp, h);
		if (!(s->flags & NS_MOREFRAG))
			break;
	}
	if (nslots)
		*nslots = k;
	fp->head[1][ri] = h;
	fp_publish(fp, 1, ri);
	return (int)len;
}

FP_FN void fp_fill(uint8_t *d, unsigned len, unsigned pat)
{
	for (unsigned i = 0; i < len; i++)
		d[i] = (uint8_t)(pat + i * 7);
}

static int fails __attribute__((unused));
#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                                          \
		}                                                                         \
	} while (0)

#endif
