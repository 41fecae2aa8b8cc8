/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fakeguest.h - test helper: a fake guest memory (a memfd) with two regions that
 * are contiguous in guest-physical space (so a buffer can straddle them), one
 * virtqueue pair laid out in region 0 (descriptor table, avail, used), and the
 * driver's side of a split ring done by hand. Include after daemon/vhost/vhost.h.
 *
 *   region 0: gpa FG_GPA0, 1 MiB, uva FG_UVA0, file offset 0
 *   region 1: gpa FG_GPA0 + 1 MiB, 1 MiB, uva FG_UVA0 + 1 MiB, file offset 1 MiB
 *   queue q: desc at region 0 + q * 0x8000, avail + 0x2000, used + 0x4000 (num <= 256)
 *   buffers: region 0 from FG_BUF0
 */
#ifndef VNM_TEST_FAKEGUEST_H
#define VNM_TEST_FAKEGUEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FG_FN static __attribute__((unused))
#define FG_REGION (1u << 20)
#define FG_GPA0 0x100000ull
#define FG_UVA0 0x7f0000000000ull
#define FG_BUF0 0x20000u /* offset of the buffers in region 0 */

struct fakeguest {
	int fd;
	uint8_t *base; /* 2 MiB: both regions */
	struct vhost_mem mem;
	uint32_t num[2];
	uint16_t avail_idx[2];
	uint16_t used_seen[2];
};

FG_FN uint64_t fg_gpa(uint32_t off)
{
	return FG_GPA0 + off;
}

FG_FN uint64_t fg_qoff(unsigned q)
{
	return (uint64_t)q * 0x8000u;
}

FG_FN struct vring_desc *fg_desc_tab(struct fakeguest *g, unsigned q)
{
	return (struct vring_desc *)(g->base + fg_qoff(q));
}

FG_FN uint16_t *fg_avail(struct fakeguest *g, unsigned q)
{
	return (uint16_t *)(g->base + fg_qoff(q) + 0x2000);
}

FG_FN uint8_t *fg_used(struct fakeguest *g, unsigned q)
{
	return g->base + fg_qoff(q) + 0x4000;
}

FG_FN int fg_init(struct fakeguest *g)
{
	memset(g, 0, sizeof(*g));
	g->fd = memfd_create("fakeguest", MFD_CLOEXEC);
	if (g->fd < 0 || ftruncate(g->fd, 2 * FG_REGION) < 0)
		return -1;
	g->base = mmap(NULL, 2 * FG_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	if (g->base == MAP_FAILED)
		return -1;
	g->mem.n = 2;
	for (unsigned i = 0; i < 2; i++) {
		g->mem.r[i].gpa = FG_GPA0 + (uint64_t)i * FG_REGION;
		g->mem.r[i].uva = FG_UVA0 + (uint64_t)i * FG_REGION;
		g->mem.r[i].size = FG_REGION;
		g->mem.r[i].host = g->base + (size_t)i * FG_REGION;
	}
	return 0;
}

FG_FN void fg_fini(struct fakeguest *g)
{
	munmap(g->base, 2 * FG_REGION);
	close(g->fd);
}

/* Configure vq as the protocol would (num, addresses) and start it. */
FG_FN int fg_vq_start(struct fakeguest *g, struct vhost_vq *vq, unsigned q, uint32_t num,
		      uint64_t features)
{
	memset(g->base + fg_qoff(q), 0, 0x8000);
	g->num[q] = num;
	g->avail_idx[q] = 0;
	g->used_seen[q] = 0;
	vhost_vq_init(vq);
	vq->num = num;
	vq->desc_uva = FG_UVA0 + fg_qoff(q);
	vq->avail_uva = FG_UVA0 + fg_qoff(q) + 0x2000;
	vq->used_uva = FG_UVA0 + fg_qoff(q) + 0x4000;
	vq->have_addr = 1;
	vq->enabled = 1;
	return vhost_vq_start(vq, &g->mem, features);
}

FG_FN void fg_set_desc(struct fakeguest *g, unsigned q, unsigned i, uint64_t addr, uint32_t len,
		       uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };
	memcpy(&fg_desc_tab(g, q)[i], &d, sizeof(d));
}

/* Indirect table at region-0 offset off, entry i. */
FG_FN void fg_set_idesc(struct fakeguest *g, uint32_t off, unsigned i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };
	memcpy(g->base + off + 16 * i, &d, sizeof(d));
}

/* Make head available and publish the avail index. */
FG_FN void fg_post(struct fakeguest *g, unsigned q, uint16_t head)
{
	uint16_t *a = fg_avail(g, q);
	a[2 + (g->avail_idx[q] & (g->num[q] - 1))] = head;
	g->avail_idx[q]++;
	__atomic_store_n(&a[1], g->avail_idx[q], __ATOMIC_RELEASE);
}

/* Next used entry, if any: 1 with id/len, else 0. */
FG_FN int fg_get_used(struct fakeguest *g, unsigned q, uint32_t *id, uint32_t *len)
{
	uint8_t *u = fg_used(g, q);
	uint16_t idx = __atomic_load_n((uint16_t *)(u + 2), __ATOMIC_ACQUIRE);
	if (idx == g->used_seen[q])
		return 0;
	struct vring_used_elem e;
	memcpy(&e, u + 4 + 8 * (g->used_seen[q] & (g->num[q] - 1)), sizeof(e));
	g->used_seen[q]++;
	*id = e.id;
	*len = e.len;
	return 1;
}

FG_FN uint16_t fg_used_idx(struct fakeguest *g, unsigned q)
{
	return __atomic_load_n((uint16_t *)(fg_used(g, q) + 2), __ATOMIC_ACQUIRE);
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
