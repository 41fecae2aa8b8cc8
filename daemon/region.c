// SPDX-License-Identifier: BSD-2-Clause
/*
 * region.c - region files, their layout, and a first-fit allocator for objects
 * and buffer ranges.
 *
 * Security model: a region is shared with clients that may scribble on all of it
 * once they hold its fd. The daemon writes the header and the objects before the
 * fd leaves (sendmsg is the publication point for a new region); an end added to
 * a region clients already map (pipe pairs) is published by storing its ends[]
 * flags last, with release. Nothing here reads a value back from the region: all
 * geometry and offsets are the private copies in struct vnm_region / vnm_end.
 * The region directory is 0700 and each file 0600, created O_EXCL|O_NOFOLLOW;
 * with vnetmapd --group, 0750 and 0660 and owned by that group (vnm_share_*): its
 * members are trusted like the daemon's own user.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ctl.h"
#include "region_alloc.h"
#include "vnetmap/netmap.h"

#define OBJ_ALIGN 128u
#define PAGE 4096u

static char memdir[PATH_MAX];
static unsigned region_seq;

static uint64_t roundup(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

/* ---- first-fit allocator ---- */

int vnm_alloc_init(struct vnm_alloc *a, uint64_t start, uint64_t len)
{
	a->cap = 16;
	a->free = calloc(a->cap, sizeof(*a->free));
	if (!a->free)
		return -ENOMEM;
	a->n = 0;
	if (len) {
		a->free[0].start = start;
		a->free[0].len = len;
		a->n = 1;
	}
	return 0;
}

void vnm_alloc_fini(struct vnm_alloc *a)
{
	free(a->free);
	a->free = NULL;
	a->n = a->cap = 0;
}

int vnm_alloc_get(struct vnm_alloc *a, uint64_t len, uint64_t *start)
{
	if (len == 0)
		return -EINVAL;
	for (unsigned i = 0; i < a->n; i++) {
		struct vnm_extent *x = &a->free[i];

		if (x->len < len)
			continue;
		*start = x->start;
		x->start += len;
		x->len -= len;
		if (x->len == 0) {
			memmove(x, x + 1, (a->n - i - 1) * sizeof(*x));
			a->n--;
		}
		return 0;
	}
	return -ENOSPC;
}

int vnm_alloc_put(struct vnm_alloc *a, uint64_t start, uint64_t len)
{
	unsigned i = 0;

	if (len == 0)
		return 0;
	while (i < a->n && a->free[i].start < start)
		i++;
	/* merge with the previous and/or the next free extent */
	int prev = i > 0 && a->free[i - 1].start + a->free[i - 1].len == start;
	int next = i < a->n && start + len == a->free[i].start;

	if (prev && next) {
		a->free[i - 1].len += len + a->free[i].len;
		memmove(&a->free[i], &a->free[i + 1], (a->n - i - 1) * sizeof(a->free[0]));
		a->n--;
		return 0;
	}
	if (prev) {
		a->free[i - 1].len += len;
		return 0;
	}
	if (next) {
		a->free[i].start = start;
		a->free[i].len += len;
		return 0;
	}
	if (a->n == a->cap) {
		struct vnm_extent *nf = realloc(a->free, 2 * a->cap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		a->free = nf;
		a->cap *= 2;
	}
	memmove(&a->free[i + 1], &a->free[i], (a->n - i) * sizeof(a->free[0]));
	a->free[i].start = start;
	a->free[i].len = len;
	a->n++;
	return 0;
}

/* ---- the region directory ---- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Remove regular files left in dir by a daemon that died (we own dir: 0700, our uid). */
static void memdir_clean(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0)
			vnm_log(VNM_LOG_WARN, "cannot remove stale %s/%s: %s", dir, de->d_name,
				strerror(errno));
	}
	closedir(d);
}

/* ---- access: private to our uid, or shared with one group (--group) ---- */

static gid_t share_gid = (gid_t)-1;

void vnm_share_set_group(gid_t gid)
{
	share_gid = gid;
}

int vnm_share_group(gid_t *gid)
{
	if (share_gid == (gid_t)-1)
		return 0;
	*gid = share_gid;
	return 1;
}

int vnm_share_dir(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path,
			 e == ELOOP || e == ENOTDIR ? "not a directory" : strerror(e));
		goto out;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is not a directory owned by uid %u", path,
			 (unsigned)geteuid());
		e = EPERM;
		goto out;
	}
	if (share_gid == (gid_t)-1) {
		if ((st.st_mode & 077) && fchmod(fd, 0700) < 0) {
			e = errno;
			snprintf(err, errlen, "chmod 0700 %s: %s", path, strerror(e));
		}
		goto out;
	}
	/* the group first, then the mode: never group-readable by another group */
	if (st.st_gid != share_gid && fchown(fd, (uid_t)-1, share_gid) < 0) {
		e = errno;
		snprintf(err, errlen, "chgrp %u %s: %s", (unsigned)share_gid, path, strerror(e));
		goto out;
	}
	if ((st.st_mode & 07777) != 0750 && fchmod(fd, 0750) < 0) {
		e = errno;
		snprintf(err, errlen, "chmod 0750 %s: %s", path, strerror(e));
	}
out:
	if (fd >= 0)
		close(fd);
	return -e;
}

int vnm_share_sock(const char *path)
{
	if (share_gid == (gid_t)-1)
		return 0;
	/* a user-chosen path (vhost-user): never follow a symlink swapped in since bind */
	if (fchownat(AT_FDCWD, path, (uid_t)-1, share_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(AT_FDCWD, path, 0660, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

int vnm_share_fd(int fd)
{
	if (share_gid == (gid_t)-1)
		return 0;
	if (fchown(fd, (uid_t)-1, share_gid) < 0 || fchmod(fd, 0660) < 0)
		return -errno;
	return 0;
}

/* mkdir 0700, or accept an existing directory only if it is ours; then vnm_share_dir. */
static int private_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(e));
		return -e;
	}
	return vnm_share_dir(path, err, errlen);
}

int vnm_memdir_init(const char *rundir, char *err, size_t errlen)
{
	struct statfs sfs;
	int n;

	if (statfs(rundir, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
		n = snprintf(memdir, sizeof(memdir), "%s/mem", rundir);
	} else {
		char real[PATH_MAX];

		if (!realpath(rundir, real))
			snprintf(real, sizeof(real), "%s", rundir);
		n = snprintf(memdir, sizeof(memdir), "/dev/shm/vnetmap-%u-%016llx",
			     (unsigned)geteuid(), (unsigned long long)fnv1a(real));
	}
	if (n < 0 || (size_t)n >= sizeof(memdir) - 32) {
		snprintf(err, errlen, "region directory name too long");
		memdir[0] = '\0';
		return -ENAMETOOLONG;
	}
	int ret = private_dir(memdir, err, errlen);
	if (ret < 0) {
		memdir[0] = '\0';
		return ret;
	}
	memdir_clean(memdir);
	return 0;
}

const char *vnm_memdir(void)
{
	return memdir;
}

void vnm_memdir_cleanup(void)
{
	if (!memdir[0])
		return;
	memdir_clean(memdir);
	if (rmdir(memdir) < 0)
		vnm_log(VNM_LOG_WARN, "rmdir %s: %s", memdir, strerror(errno));
	memdir[0] = '\0';
}

/* ---- regions ---- */

static uint64_t nifp_bytes(const struct vnm_geom *g)
{
	/* ring_ofs[]: NIC tx, host tx (0), NIC rx, host rx (0) */
	return roundup(sizeof(struct netmap_if) + (g->ntx + g->nrx) * sizeof(ssize_t), OBJ_ALIGN);
}

static uint64_t csb_bytes(const struct vnm_geom *g)
{
	return roundup((uint64_t)(g->ntx + g->nrx) * sizeof(struct nm_csb_atok), OBJ_ALIGN);
}

static uint64_t ring_bytes(uint32_t slots)
{
	return roundup(sizeof(struct netmap_ring) + (uint64_t)slots * sizeof(struct netmap_slot),
		       OBJ_ALIGN);
}

uint64_t vnm_end_obj_bytes(const struct vnm_geom *g)
{
	return nifp_bytes(g) + 2 * csb_bytes(g) + g->ntx * ring_bytes(g->tx_slots) +
	       g->nrx * ring_bytes(g->rx_slots);
}

uint32_t vnm_end_num_bufs(const struct vnm_geom *g)
{
	return g->ntx * g->tx_slots + g->nrx * g->rx_slots;
}

int vnm_region_create(const char *name, uint64_t obj_bytes, uint32_t num_bufs, uint32_t buf_size,
		      struct vnm_region **out)
{
	struct vnm_region *r;
	char fname[64];
	int ret;

	if (!memdir[0])
		return -ENOENT;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	snprintf(r->name, sizeof(r->name), "%s", name);
	/* file name: sequence number plus the name with anything but [A-Za-z0-9_] replaced */
	snprintf(fname, sizeof(fname), "r%u-%s", ++region_seq, name);
	for (char *p = fname; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			*p = '_';
	if (snprintf(r->path, sizeof(r->path), "%s/%s", memdir, fname) >= (int)sizeof(r->path)) {
		free(r);
		return -ENAMETOOLONG;
	}

	r->obj_ofs = VNM_REGION_HDR_SIZE;
	r->obj_size = roundup(obj_bytes, OBJ_ALIGN);
	r->buf_ofs = roundup(r->obj_ofs + r->obj_size, PAGE);
	r->buf_size = buf_size;
	r->num_bufs = num_bufs;
	r->size = roundup(r->buf_ofs + (uint64_t)num_bufs * buf_size, PAGE);
	/*
	 * A power of two: QEMU exposes the file as an ivshmem BAR, and PCI BARs are
	 * powers of two (passthrough). The file is sparse: the tail costs no memory.
	 */
	while (r->size & (r->size - 1))
		r->size += r->size & -r->size;

	ret = vnm_alloc_init(&r->objs, r->obj_ofs, r->obj_size);
	if (ret == 0)
		ret = vnm_alloc_init(&r->bufs, 2, num_bufs > 2 ? num_bufs - 2 : 0);
	if (ret < 0)
		goto fail;

	r->fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (r->fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = vnm_share_fd(r->fd);
	if (ret < 0)
		goto fail_unlink;
	if (ftruncate(r->fd, (off_t)r->size) < 0) {
		ret = -errno;
		goto fail_unlink;
	}
	r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		ret = -errno;
		goto fail_unlink;
	}

	struct vnm_region_hdr *h = (struct vnm_region_hdr *)r->base;
	h->magic = VNM_REGION_MAGIC;
	h->version = VNM_REGION_VERSION;
	h->hdr_size = VNM_REGION_HDR_SIZE;
	h->region_size = r->size;
	h->obj_ofs = r->obj_ofs;
	h->obj_size = r->obj_size;
	h->buf_ofs = r->buf_ofs;
	h->buf_size = r->buf_size;
	h->num_bufs = r->num_bufs;
	h->num_ends = 0;
	snprintf(h->name, sizeof(h->name), "%s", name);
	vnm_log(VNM_LOG_DEBUG, "region %s: %s, %llu bytes, %u bufs", name, r->path,
		(unsigned long long)r->size, num_bufs);
	*out = r;
	return 0;

fail_unlink:
	unlink(r->path);
fail:
	if (r->fd >= 0)
		close(r->fd);
	vnm_alloc_fini(&r->objs);
	vnm_alloc_fini(&r->bufs);
	free(r);
	return ret;
}

void vnm_region_destroy(struct vnm_region *r)
{
	if (!r)
		return;
	if (r->base)
		munmap(r->base, r->size);
	close(r->fd);
	if (unlink(r->path) < 0)
		vnm_log(VNM_LOG_WARN, "unlink %s: %s", r->path, strerror(errno));
	vnm_alloc_fini(&r->objs);
	vnm_alloc_fini(&r->bufs);
	vnm_log(VNM_LOG_DEBUG, "region %s destroyed", r->name);
	free(r);
}

/* Write a const field of a shared struct the daemon initialises (sizes checked). */
#define SET_CONST(field, val)                                                               \
	do {                                                                                \
		__typeof__((field) + 0) v_ = (val);                                         \
		_Static_assert(sizeof(field) <= sizeof(v_), "field size");                  \
		/* x86_64 is little endian: the low bytes of v_ are the field's value */    \
		memcpy((void *)&(field), &v_, sizeof(field));                               \
	} while (0)

static void ring_init(struct vnm_region *r, struct netmap_ring *ring, uint64_t ring_ofs,
		      uint32_t slots, uint16_t ringid, uint16_t dir, uint32_t first_buf)
{
	SET_CONST(ring->buf_ofs, (int64_t)r->buf_ofs - (int64_t)ring_ofs);
	SET_CONST(ring->num_slots, slots);
	SET_CONST(ring->nr_buf_size, r->buf_size);
	SET_CONST(ring->ringid, ringid);
	SET_CONST(ring->dir, dir);
	ring->head = ring->cur = 0;
	/* netmap: a fresh TX ring has tail = num_slots - 1, a fresh RX ring tail = 0 */
	ring->tail = dir == 0 ? slots - 1 : 0;
	for (uint32_t i = 0; i < slots; i++) {
		ring->slot[i].buf_idx = first_buf + i;
		ring->slot[i].len = 0;
		ring->slot[i].flags = 0;
		ring->slot[i].ptr = 0;
	}
}

int vnm_end_build(struct vnm_region *r, const char *name, const struct vnm_geom *g, uint32_t flags,
		  struct vnm_end *e)
{
	struct vnm_region_hdr *h = (struct vnm_region_hdr *)r->base;
	uint64_t obj, buf, nrings = g->ntx + g->nrx;
	int idx, ret;

	if (g->ntx > VNM_MAX_RINGS || g->nrx > VNM_MAX_RINGS || g->buf_size != r->buf_size)
		return -EINVAL;
	for (idx = 0; idx < VNM_REGION_MAX_ENDS; idx++)
		if (!(r->ends_used & (1ULL << idx)))
			break;
	if (idx == VNM_REGION_MAX_ENDS)
		return -ENOSPC;

	memset(e, 0, sizeof(*e));
	e->idx = -1;
	e->g = *g;
	e->obj_len = vnm_end_obj_bytes(g);
	e->buf_count = vnm_end_num_bufs(g);
	ret = vnm_alloc_get(&r->objs, e->obj_len, &obj);
	if (ret < 0)
		return ret;
	ret = vnm_alloc_get(&r->bufs, e->buf_count, &buf);
	if (ret < 0) {
		vnm_alloc_put(&r->objs, obj, e->obj_len);
		return ret;
	}
	e->obj_start = obj;
	e->buf_start = buf;
	/* the extent may have been used by a previous end: start from zeroes */
	memset(r->base + obj, 0, e->obj_len);

	e->nifp_ofs = obj;
	e->atok_ofs = obj + nifp_bytes(g);
	e->ktoa_ofs = e->atok_ofs + csb_bytes(g);

	struct netmap_if *nifp = (struct netmap_if *)(r->base + e->nifp_ofs);
	struct nm_csb_atok *atok = (struct nm_csb_atok *)(r->base + e->atok_ofs);
	struct nm_csb_ktoa *ktoa = (struct nm_csb_ktoa *)(r->base + e->ktoa_ofs);
	uint64_t ring_ofs = e->ktoa_ofs + csb_bytes(g);
	uint32_t b = (uint32_t)buf;

	snprintf(nifp->ni_name, sizeof(nifp->ni_name), "%s", name);
	SET_CONST(nifp->ni_version, NETMAP_API);
	SET_CONST(nifp->ni_flags, 0);
	SET_CONST(nifp->ni_tx_rings, g->ntx);
	SET_CONST(nifp->ni_rx_rings, g->nrx);
	SET_CONST(nifp->ni_host_tx_rings, 0);
	SET_CONST(nifp->ni_host_rx_rings, 0);
	nifp->ni_bufs_head = 0;

	for (uint32_t i = 0; i < nrings; i++) {
		int dir = i < g->ntx ? 0 : 1;
		uint32_t ri = dir ? i - g->ntx : i;
		uint32_t slots = dir ? g->rx_slots : g->tx_slots;
		struct netmap_ring *ring = (struct netmap_ring *)(r->base + ring_ofs);
		struct vnm_kring *k = dir ? &e->rx[ri] : &e->tx[ri];

		/* ring_ofs[] order: NIC tx, host tx (none), NIC rx, host rx (none) */
		SET_CONST(nifp->ring_ofs[i], (ssize_t)(ring_ofs - e->nifp_ofs));
		ring_init(r, ring, ring_ofs, slots, (uint16_t)ri, (uint16_t)dir, b);
		/* krings from the private geometry, never from the ring just written */
		vnm_kring_init(k, ring, &atok[i], &ktoa[i], (char *)r->base + r->buf_ofs, slots,
			       r->buf_size, r->num_bufs, (uint32_t)dir);
		vnm_kring_publish(k);
		b += slots;
		ring_ofs += ring_bytes(slots);
	}

	struct vnm_region_end *re = &h->ends[idx];
	memset(re, 0, sizeof(*re));
	snprintf(re->name, sizeof(re->name), "%s", name);
	re->nifp_ofs = e->nifp_ofs;
	re->csb_atok_ofs = e->atok_ofs;
	re->csb_ktoa_ofs = e->ktoa_ofs;
	re->num_tx_rings = g->ntx;
	re->num_rx_rings = g->nrx;
	re->peer = UINT32_MAX;
	/* publication: a client scanning ends[] sees the objects before the USED flag */
	__atomic_store_n(&re->flags, flags | VNM_END_USED, __ATOMIC_RELEASE);
	r->ends_used |= 1ULL << idx;
	r->nends++;
	if ((uint32_t)idx + 1 > h->num_ends)
		__atomic_store_n(&h->num_ends, (uint32_t)idx + 1, __ATOMIC_RELEASE);
	e->idx = idx;
	return 0;
}

void vnm_end_set_peer(struct vnm_region *r, const struct vnm_end *e, uint32_t peer)
{
	struct vnm_region_hdr *h = (struct vnm_region_hdr *)r->base;

	if (e->idx >= 0)
		h->ends[e->idx].peer = peer;
}

void vnm_end_release(struct vnm_region *r, struct vnm_end *e)
{
	struct vnm_region_hdr *h = (struct vnm_region_hdr *)r->base;

	if (e->idx < 0)
		return;
	__atomic_store_n(&h->ends[e->idx].flags, 0, __ATOMIC_RELEASE);
	r->ends_used &= ~(1ULL << e->idx);
	r->nends--;
	/* a failed put (ENOMEM splitting the free list) only loses space, never corrupts */
	if (vnm_alloc_put(&r->objs, e->obj_start, e->obj_len) < 0 ||
	    vnm_alloc_put(&r->bufs, e->buf_start, e->buf_count) < 0)
		vnm_log(VNM_LOG_WARN, "region %s: out of memory freeing an end", r->name);
	e->idx = -1;
}
