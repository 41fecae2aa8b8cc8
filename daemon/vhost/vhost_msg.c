// SPDX-License-Identifier: BSD-2-Clause
/*
 * vhost_msg.c - the vhost-user protocol, back-end side: one table row per request
 * (handler, payload size rule, file descriptors expected, whether it has its own
 * reply), then the handlers.
 *
 * Security model: the front-end is any process that can reach the socket (QEMU,
 * DPDK virtio-user, or a hostile program) and is untrusted.
 *   - Before a handler runs, the table checks: the request is known, the version
 *     bits are 1 and the reply bit clear, the payload size matches the request
 *     exactly (SET_MEM_TABLE: 8 + 32 * nregions), the number of fds is what the
 *     request carries (SET_MEM_TABLE: one per region; SET_VRING_KICK/CALL/ERR: one
 *     unless bit 8 says none; others: none).
 *   - Values: ring indices < 2 with no stray bits, ring sizes a power of two up to
 *     32768, features a subset of what we offered and with VERSION_1, memory
 *     regions 1..8 with size != 0, no address overflow, offset + size within the
 *     file (fstat), no overlap in guest-physical or front-end address space; ring
 *     addresses translated with the whole ring length inside one region.
 *   - Order: rings need the memory table, a kick needs size and addresses;
 *     features may not change while a ring runs.
 *   - Every fd received is either kept (owned by the device) or closed here.
 *   - Any error: the reply (if the front-end asked for one) says so, the caller
 *     closes the connection, vhost_dev_reset undoes everything; the rest of the
 *     daemon is unaffected.
 * Ring state the switch thread uses is changed only between ops->pause and
 * ops->resume (the port is detached from its switch meanwhile).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost/vhost_msg.h"

#define SZ_FIXED 0 /* payload exactly .size bytes */
#define SZ_MEM 1   /* 8 + 32 * nregions */

#define FD_NONE 0
#define FD_VRING 1 /* one fd unless the u64 payload has VHOST_USER_VRING_NOFD */
#define FD_MEM 2   /* one per region */

struct req_ctx {
	struct vhost_dev *d;
	const struct vhost_user_hdr *hdr;
	const void *payload;
	int *fds;         /* consumed fds are set to -1 by handlers */
	unsigned nfds;
	uint8_t *reply;   /* payload of the reply */
	uint32_t reply_size;
};

typedef int (*req_fn)(struct req_ctx *c);

struct req_desc {
	const char *name;
	req_fn fn;
	uint8_t size_rule;
	uint8_t fd_rule;
	uint8_t has_reply; /* the request's own reply (GET_*): no separate REPLY_ACK */
	uint32_t size;
};

static int err(struct vhost_dev *d, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int err(struct vhost_dev *d, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return ret;
}

static inline uint64_t u64_of(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void reply_u64(struct req_ctx *c, uint64_t v)
{
	memcpy(c->reply, &v, sizeof(v));
	c->reply_size = sizeof(v);
}

static void pause_dev(struct vhost_dev *d)
{
	if (d->ops && d->ops->pause)
		d->ops->pause(d);
}

static void resume_dev(struct vhost_dev *d)
{
	if (d->ops && d->ops->resume)
		d->ops->resume(d);
}

static void close_kick(struct vhost_dev *d, unsigned qi)
{
	struct vhost_vq *vq = &d->vq[qi];
	int fd = vq->kick_fd;

	if (fd < 0)
		return;
	vq->kick_fd = -1;
	if (d->ops && d->ops->kick_changed)
		d->ops->kick_changed(d, qi, fd, -1);
	if (d->ops && d->ops->close_fd)
		d->ops->close_fd(fd);
	else
		close(fd);
}

static void close_fd_ptr(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void mem_unmap(struct vhost_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i].map)
			munmap(m->r[i].map, m->r[i].map_len);
	memset(m, 0, sizeof(*m));
}

static int any_started(const struct vhost_dev *d)
{
	for (unsigned i = 0; i < VHOST_QUEUES; i++)
		if (d->vq[i].started)
			return 1;
	return 0;
}

/* ---- handlers ---- */

static int h_get_features(struct req_ctx *c)
{
	reply_u64(c, VHOST_NET_FEATURES & ~c->d->withheld);
	return 0;
}

static int h_set_features(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	uint64_t f = u64_of(c->payload);
	const uint64_t offered = VHOST_NET_FEATURES & ~d->withheld;

	if (f & ~offered)
		return err(d, -EINVAL, "SET_FEATURES: bits 0x%llx never offered",
			   (unsigned long long)(f & ~offered));
	if (!(f & VHOST_BIT(VIRTIO_F_VERSION_1)))
		return err(d, -EINVAL, "SET_FEATURES: VERSION_1 is required");
	if (any_started(d) && f != d->features)
		return err(d, -EBUSY, "SET_FEATURES: features changed while rings run");
	d->features = f;
	d->features_set = 1;
	return 0;
}

static int h_set_owner(struct req_ctx *c)
{
	c->d->owner = 1;
	return 0;
}

static int h_reset_owner(struct req_ctx *c)
{
	/* deprecated; a device reset keeps the connection */
	vhost_dev_reset(c->d);
	return 0;
}

static int h_set_mem_table(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	const struct vhost_user_mem *um = c->payload;
	struct vhost_mem nm;
	unsigned n = um->nregions;
	int ret;

	memset(&nm, 0, sizeof(nm));
	/* n and the fd count were checked by the table */
	for (unsigned i = 0; i < n; i++) {
		const struct vhost_user_region *ur = &um->r[i];
		struct vhost_region *r = &nm.r[i];
		struct stat st;
		uint64_t need;

		if (ur->size == 0) {
			ret = err(d, -EINVAL, "SET_MEM_TABLE: region %u has size 0", i);
			goto fail;
		}
		if (ur->gpa + ur->size < ur->gpa || ur->uva + ur->size < ur->uva ||
		    ur->mmap_offset + ur->size < ur->mmap_offset) {
			ret = err(d, -EINVAL, "SET_MEM_TABLE: region %u wraps the address space", i);
			goto fail;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct vhost_user_region *o = &um->r[j];
			if ((ur->gpa < o->gpa + o->size && o->gpa < ur->gpa + ur->size) ||
			    (ur->uva < o->uva + o->size && o->uva < ur->uva + ur->size)) {
				ret = err(d, -EINVAL, "SET_MEM_TABLE: regions %u and %u overlap", j, i);
				goto fail;
			}
		}
		if (fstat(c->fds[i], &st) < 0) {
			ret = err(d, -errno, "SET_MEM_TABLE: fstat region %u: %s", i, strerror(errno));
			goto fail;
		}
		need = ur->mmap_offset + ur->size;
		if (st.st_size < 0 || need > (uint64_t)st.st_size || need > SIZE_MAX / 2) {
			ret = err(d, -EINVAL,
				  "SET_MEM_TABLE: region %u: offset + size %llu beyond the file (%lld)",
				  i, (unsigned long long)need, (long long)st.st_size);
			goto fail;
		}
		/* hugetlbfs needs the length rounded to its page size (st_blksize) */
		uint64_t blk = st.st_blksize > 0 ? (uint64_t)st.st_blksize : 4096;
		uint64_t len = (need + blk - 1) / blk * blk;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fds[i], 0);
		if (p == MAP_FAILED) {
			ret = err(d, -errno, "SET_MEM_TABLE: mmap region %u: %s", i, strerror(errno));
			goto fail;
		}
		r->gpa = ur->gpa;
		r->size = ur->size;
		r->uva = ur->uva;
		r->map = p;
		r->map_len = len;
		r->host = (uint8_t *)p + ur->mmap_offset;
		nm.n = i + 1;
	}
	for (unsigned i = 0; i < n; i++)
		close_fd_ptr(&c->fds[i]);

	/* swap tables with the rings paused; started rings are re-translated */
	pause_dev(d);
	struct vhost_mem old = d->mem;
	d->mem = nm;
	ret = 0;
	for (unsigned q = 0; q < VHOST_QUEUES; q++) {
		if (vhost_vq_remap(&d->vq[q], &d->mem) < 0) {
			vhost_vq_stop(&d->vq[q]);
			ret = err(d, -EFAULT, "SET_MEM_TABLE: ring %u is outside the new table", q);
		}
	}
	resume_dev(d);
	mem_unmap(&old);
	return ret;

fail:
	mem_unmap(&nm);
	return ret;
}

static int vring_index(struct vhost_dev *d, const char *what, uint32_t index)
{
	if (index >= VHOST_QUEUES)
		return err(d, -EINVAL, "%s: ring index %u out of range (%u rings)", what, index,
			   VHOST_QUEUES);
	return 0;
}

static int h_set_vring_num(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	const struct vhost_user_state *s = c->payload;
	int ret = vring_index(d, "SET_VRING_NUM", s->index);

	if (ret < 0)
		return ret;
	if (s->num == 0 || (s->num & (s->num - 1)) || s->num > VHOST_VQ_MAX)
		return err(d, -EINVAL, "SET_VRING_NUM: size %u is not a power of two in 1..%u",
			   s->num, VHOST_VQ_MAX);
	if (d->vq[s->index].started)
		return err(d, -EBUSY, "SET_VRING_NUM: ring %u is running", s->index);
	d->vq[s->index].num = s->num;
	return 0;
}

static int h_set_vring_addr(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	const struct vhost_user_addr *a = c->payload;
	int ret = vring_index(d, "SET_VRING_ADDR", a->index);

	if (ret < 0)
		return ret;
	if (a->flags & ~1u) /* bit 0: log (ignored: no migration logging) */
		return err(d, -EINVAL, "SET_VRING_ADDR: unknown flags 0x%x", a->flags);
	if (d->mem.n == 0)
		return err(d, -EPROTO, "SET_VRING_ADDR before SET_MEM_TABLE");
	struct vhost_vq *vq = &d->vq[a->index];
	if (vq->num == 0)
		return err(d, -EPROTO, "SET_VRING_ADDR before SET_VRING_NUM");
	/* check now, with the whole length of each part */
	if (!vhost_uva(&d->mem, a->desc, vq_desc_bytes(vq->num)) ||
	    !vhost_uva(&d->mem, a->avail, vq_avail_bytes(vq->num)) ||
	    !vhost_uva(&d->mem, a->used, vq_used_bytes(vq->num)))
		return err(d, -EFAULT, "SET_VRING_ADDR: ring %u is not inside one memory region",
			   a->index);
	if ((a->desc & 15) || (a->avail & 1) || (a->used & 3))
		return err(d, -EINVAL, "SET_VRING_ADDR: ring %u is misaligned", a->index);
	pause_dev(d);
	vq->desc_uva = a->desc;
	vq->avail_uva = a->avail;
	vq->used_uva = a->used;
	vq->have_addr = 1;
	ret = vhost_vq_remap(vq, &d->mem);
	resume_dev(d);
	return ret;
}

static int h_set_vring_base(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	const struct vhost_user_state *s = c->payload;
	int ret = vring_index(d, "SET_VRING_BASE", s->index);

	if (ret < 0)
		return ret;
	if (s->num > 0xffff)
		return err(d, -EINVAL, "SET_VRING_BASE: %u is not a split-ring index", s->num);
	if (d->vq[s->index].started)
		return err(d, -EBUSY, "SET_VRING_BASE: ring %u is running", s->index);
	d->vq[s->index].base = (uint16_t)s->num;
	return 0;
}

static int h_get_vring_base(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	const struct vhost_user_state *s = c->payload;
	struct vhost_user_state rep;
	int ret = vring_index(d, "GET_VRING_BASE", s->index);

	if (ret < 0)
		return ret;
	struct vhost_vq *vq = &d->vq[s->index];
	pause_dev(d);
	if (vq->started)
		vhost_vq_stop(vq); /* base = next avail index */
	resume_dev(d);
	close_kick(d, s->index);
	rep.index = s->index;
	rep.num = vq->base;
	memcpy(c->reply, &rep, sizeof(rep));
	c->reply_size = sizeof(rep);
	return 0;
}

static int h_vring_fd(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	uint32_t req = c->hdr->request;
	const char *name = vhost_req_name(req);
	uint64_t v = u64_of(c->payload);
	uint32_t qi = (uint32_t)(v & VHOST_USER_VRING_IDX_MASK);
	int fd = -1, ret;

	if (v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD))
		return err(d, -EINVAL, "%s: stray bits in 0x%llx", name, (unsigned long long)v);
	ret = vring_index(d, name, qi);
	if (ret < 0)
		return ret;
	if (c->nfds) {
		fd = c->fds[0];
		c->fds[0] = -1;
	}
	struct vhost_vq *vq = &d->vq[qi];
	if (req == VHOST_USER_SET_VRING_ERR) {
		close_fd_ptr(&vq->err_fd);
		vq->err_fd = fd;
		return 0;
	}
	if (req == VHOST_USER_SET_VRING_CALL) {
		pause_dev(d);
		int old = vq->call_fd;
		vq->call_fd = fd;
		vq->signalled_valid = 0;
		resume_dev(d);
		if (old >= 0)
			close(old);
		return 0;
	}
	/* KICK: the ring starts (a new kick fd for a running ring just replaces the fd) */
	if (!vq->started) {
		if (d->mem.n == 0 || vq->num == 0 || !vq->have_addr) {
			if (fd >= 0)
				close(fd);
			return err(d, -EPROTO, "SET_VRING_KICK: ring %u has no %s", qi,
				   d->mem.n == 0 ? "memory table" : vq->num == 0 ? "size" : "addresses");
		}
		if (!d->features_set) {
			/* a front-end may skip SET_FEATURES: nothing beyond VERSION_1 then */
			d->features = VHOST_BIT(VIRTIO_F_VERSION_1);
			d->features_set = 1;
		}
	}
	close_kick(d, qi);
	pause_dev(d);
	vq->kick_fd = fd;
	ret = 0;
	if (!vq->started) {
		ret = vhost_vq_start(vq, &d->mem, d->features);
		if (ret == 0 && !(d->features & VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
			vq->enabled = 1; /* without protocol features rings start enabled */
	}
	resume_dev(d);
	if (ret < 0)
		ret = err(d, ret, "SET_VRING_KICK: ring %u: addresses outside guest memory", qi);
	if (fd >= 0 && d->ops && d->ops->kick_changed)
		d->ops->kick_changed(d, qi, -1, fd);
	return ret;
}

static int h_get_protocol_features(struct req_ctx *c)
{
	reply_u64(c, VHOST_PROTOCOL_FEATURES);
	return 0;
}

static int h_set_protocol_features(struct req_ctx *c)
{
	uint64_t f = u64_of(c->payload);

	if (f & ~VHOST_PROTOCOL_FEATURES)
		return err(c->d, -EINVAL, "SET_PROTOCOL_FEATURES: bits 0x%llx never offered",
			   (unsigned long long)(f & ~VHOST_PROTOCOL_FEATURES));
	c->d->protocol_features = f;
	return 0;
}

static int h_get_queue_num(struct req_ctx *c)
{
	reply_u64(c, 1); /* one queue pair (no MQ yet) */
	return 0;
}

static int h_set_vring_enable(struct req_ctx *c)
{
	struct vhost_dev *d = c->d;
	const struct vhost_user_state *s = c->payload;
	int ret = vring_index(d, "SET_VRING_ENABLE", s->index);

	if (ret < 0)
		return ret;
	if (s->num > 1)
		return err(d, -EINVAL, "SET_VRING_ENABLE: %u is not 0 or 1", s->num);
	pause_dev(d);
	d->vq[s->index].enabled = (int)s->num;
	resume_dev(d);
	return 0;
}

/* ---- the table ---- */

static const struct req_desc reqs[VHOST_USER_REQ_MAX] = {
	[VHOST_USER_GET_FEATURES] = { "GET_FEATURES", h_get_features, SZ_FIXED, FD_NONE, 1, 0 },
	[VHOST_USER_SET_FEATURES] = { "SET_FEATURES", h_set_features, SZ_FIXED, FD_NONE, 0, 8 },
	[VHOST_USER_SET_OWNER] = { "SET_OWNER", h_set_owner, SZ_FIXED, FD_NONE, 0, 0 },
	[VHOST_USER_RESET_OWNER] = { "RESET_OWNER", h_reset_owner, SZ_FIXED, FD_NONE, 0, 0 },
	[VHOST_USER_SET_MEM_TABLE] = { "SET_MEM_TABLE", h_set_mem_table, SZ_MEM, FD_MEM, 0, 0 },
	[VHOST_USER_SET_VRING_NUM] = { "SET_VRING_NUM", h_set_vring_num, SZ_FIXED, FD_NONE, 0,
				       sizeof(struct vhost_user_state) },
	[VHOST_USER_SET_VRING_ADDR] = { "SET_VRING_ADDR", h_set_vring_addr, SZ_FIXED, FD_NONE, 0,
					sizeof(struct vhost_user_addr) },
	[VHOST_USER_SET_VRING_BASE] = { "SET_VRING_BASE", h_set_vring_base, SZ_FIXED, FD_NONE, 0,
					sizeof(struct vhost_user_state) },
	[VHOST_USER_GET_VRING_BASE] = { "GET_VRING_BASE", h_get_vring_base, SZ_FIXED, FD_NONE, 1,
					sizeof(struct vhost_user_state) },
	[VHOST_USER_SET_VRING_KICK] = { "SET_VRING_KICK", h_vring_fd, SZ_FIXED, FD_VRING, 0, 8 },
	[VHOST_USER_SET_VRING_CALL] = { "SET_VRING_CALL", h_vring_fd, SZ_FIXED, FD_VRING, 0, 8 },
	[VHOST_USER_SET_VRING_ERR] = { "SET_VRING_ERR", h_vring_fd, SZ_FIXED, FD_VRING, 0, 8 },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", h_get_protocol_features,
					       SZ_FIXED, FD_NONE, 1, 0 },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", h_set_protocol_features,
					       SZ_FIXED, FD_NONE, 0, 8 },
	[VHOST_USER_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", h_get_queue_num, SZ_FIXED, FD_NONE, 1, 0 },
	[VHOST_USER_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", h_set_vring_enable, SZ_FIXED, FD_NONE,
					  0, sizeof(struct vhost_user_state) },
};

const char *vhost_req_name(uint32_t req)
{
	return req < VHOST_USER_REQ_MAX && reqs[req].name ? reqs[req].name : "unknown";
}

void vhost_dev_init(struct vhost_dev *d, const struct vhost_dev_ops *ops, void *opaque)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->opaque = opaque;
	for (unsigned i = 0; i < VHOST_QUEUES; i++)
		vhost_vq_init(&d->vq[i]);
}

void vhost_dev_reset(struct vhost_dev *d)
{
	int call[VHOST_QUEUES];

	pause_dev(d);
	for (unsigned i = 0; i < VHOST_QUEUES; i++) {
		struct vhost_vq *vq = &d->vq[i];
		struct vhost_vq_stats st = vq->st;
		int kick = vq->kick_fd, efd = vq->err_fd;

		call[i] = vq->call_fd;
		vhost_vq_init(vq);
		vq->st = st;       /* counters survive reconnections */
		vq->kick_fd = kick; /* closed below, with the watch */
		if (efd >= 0)
			close(efd);
	}
	resume_dev(d);
	for (unsigned i = 0; i < VHOST_QUEUES; i++) {
		close_kick(d, i);
		if (call[i] >= 0)
			close(call[i]);
	}
	/* the port is idle (no started ring): the guest's memory can go */
	mem_unmap(&d->mem);
	d->features = 0;
	d->features_set = 0;
	d->protocol_features = 0;
	d->owner = 0;
}

int vhost_dev_msg(struct vhost_dev *d, const struct vhost_user_hdr *hdr, const void *payload,
		  int *fds, unsigned nfds, void *reply, size_t *reply_len)
{
	struct vhost_user_hdr rh;
	struct req_ctx c = { d, hdr, payload, fds, nfds, (uint8_t *)reply + VHOST_USER_HDR_SIZE, 0 };
	const struct req_desc *r = NULL;
	unsigned want_fds = 0;
	int ret;

	*reply_len = 0;
	d->msgs++;
	d->err[0] = '\0';
	if (hdr->request < VHOST_USER_REQ_MAX && reqs[hdr->request].fn)
		r = &reqs[hdr->request];
	if (!r) {
		ret = err(d, -EOPNOTSUPP, "unknown request %u", hdr->request);
		goto out;
	}
	if ((hdr->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (hdr->flags & VHOST_USER_REPLY)) {
		ret = err(d, -EPROTO, "%s: bad flags 0x%x", r->name, hdr->flags);
		goto out;
	}
	if (r->size_rule == SZ_MEM) {
		uint32_t n;
		if (hdr->size < 8) {
			ret = err(d, -EPROTO, "%s: payload of %u bytes", r->name, hdr->size);
			goto out;
		}
		memcpy(&n, payload, sizeof(n));
		if (n == 0 || n > VHOST_MAX_REGIONS) {
			ret = err(d, -EINVAL, "%s: %u regions (1..%u)", r->name, n, VHOST_MAX_REGIONS);
			goto out;
		}
		if (hdr->size != 8 + n * sizeof(struct vhost_user_region)) {
			ret = err(d, -EPROTO, "%s: payload of %u bytes for %u regions", r->name,
				  hdr->size, n);
			goto out;
		}
		want_fds = n;
	} else if (hdr->size != r->size) {
		ret = err(d, -EPROTO, "%s: payload of %u bytes, expected %u", r->name, hdr->size,
			  r->size);
		goto out;
	}
	if (r->fd_rule == FD_VRING)
		want_fds = (u64_of(payload) & VHOST_USER_VRING_NOFD) ? 0 : 1;
	if (nfds != want_fds) {
		ret = err(d, -EPROTO, "%s: %u file descriptors, expected %u", r->name, nfds,
			  want_fds);
		goto out;
	}
	ret = r->fn(&c);
out:
	for (unsigned i = 0; i < nfds; i++)
		close_fd_ptr(&fds[i]);
	if (ret < 0)
		d->errors++;
	/* own reply (GET_*), or REPLY_ACK when asked for */
	if (ret == 0 && r && r->has_reply) {
		rh.size = c.reply_size;
	} else if (hdr->flags & VHOST_USER_NEED_REPLY) {
		reply_u64(&c, ret == 0 ? 0 : 1);
		rh.size = c.reply_size;
	} else {
		return ret;
	}
	rh.request = hdr->request;
	rh.flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
	memcpy(reply, &rh, sizeof(rh));
	*reply_len = VHOST_USER_HDR_SIZE + rh.size;
	return ret;
}
