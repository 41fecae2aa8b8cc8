// SPDX-License-Identifier: BSD-2-Clause
/*
 * passthrough.c - ports exported to guests: a VALE port or a pipe end bound by
 * vnetmapd itself (no client connection) whose region file a QEMU maps through an
 * ivshmem device; the guest runs libvnetmap in guest mode (lib/guest.c) on it.
 *
 *   plain     (-device ivshmem-plain): no kicks. A 100 us timer in the main loop
 *             plays the guest's kicks: VALE, it kicks the switch when the switch
 *             sleeps (ktoa.kern_need_kick) and the guest moved a head since the
 *             last tick; pipe, it wakes the host peer end when the peer armed a ring
 *             and there is something for it (the guest leaves the flags set).
 *   doorbell  (-device ivshmem-doorbell): vnetmapd serves QEMU's ivshmem server
 *             protocol (version 0) on a UNIX socket, one QEMU at a time. vnetmapd is
 *             peer VNM_PT_HOST_PEER with VNM_PT_VECTORS eventfds, the guest peer
 *             VNM_PT_GUEST_PEER. VALE: both host vectors are the binding's kick
 *             eventfd, which the switch thread already watches. Pipe: the guest's
 *             library rings VEC_KICK (peer RX has packets: we write the notify byte)
 *             or VEC_TXSPACE (peer TX has room: we drain its filler); the main loop
 *             watches those eventfds. The guest's own vectors (MSI-X) are never
 *             signalled: the guest polls.
 *
 * Security model: the guest is as untrusted as a local client and is handled by
 * the same code: its rings and CSBs are validated by the switch (VALE) or by the
 * peer's library (pipes: one trust domain, as in netmap). This file only reads
 * CSB words of the exported region (head, cur, need-kick flags) to decide whether
 * to kick or notify; their values are never used as indices or sizes, so garbage
 * costs at most a spurious wake-up. The CSB locations are taken from the region
 * header once, at export time, before the guest can run, and bounds-checked against
 * the file size. The ivshmem socket only sends; whatever a peer writes to it is
 * discarded, and a second connection is refused while one is up.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/passthrough.h"
#include "region_alloc.h"
#include "vnetmap/csb.h"
#include "vnetmap/portname.h"
#include "vnetmap/region.h"

#define PT_POLL_NS 100000 /* plain mode: the timer period */

struct pt_export;

struct pt_src {
	struct vnm_evsrc ev; /* first */
	struct pt_export *x;
	int vec;             /* doorbell vector, -1: listen, -2: connection */
};

/* CSB words of one end (pointers into our own mapping of the region). */
struct pt_csbs {
	unsigned ntx, nrx;
	struct nm_csb_atok *atok; /* [ntx + nrx] */
	struct nm_csb_ktoa *ktoa;
};

struct pt_export {
	struct pt_export *next;
	struct vnm_ctl_pt_info info;
	char spec[VNM_PORTSPEC_MAX];
	struct vnm_binding *b;
	int region_fd;  /* the region (not ours: the registry's) */
	int peer_fd;    /* pipe: kernel end of the peer's notify socket (not ours) */
	int kick_fd;    /* VALE: the binding's kick eventfd (not ours) */
	uint8_t *map;   /* our mapping of the region, for the CSB words */
	uint64_t map_len;
	struct pt_csbs me, peer; /* peer: the other pipe end */
	uint32_t last[2 * VNM_MAX_RINGS]; /* plain: heads seen at the last tick */
	/* doorbell */
	int listen_fd, conn_fd;
	int host_vec[VNM_PT_VECTORS];  /* pipe: ours; VALE: -1 (the kick fd is used) */
	int guest_vec[VNM_PT_VECTORS]; /* the guest's interrupt eventfds */
	struct pt_src lsrc, csrc, vsrc[VNM_PT_VECTORS];
};

static struct pt_export *exports, *graveyard;
static int timer_fd = -1;
static struct vnm_evsrc timer_ev;
static unsigned nplain;

/* ---- CSB helpers ---- */

static int csbs_init(struct pt_export *x, const struct vnm_region_hdr *h, uint32_t e,
		     struct pt_csbs *c)
{
	const struct vnm_region_end *end;
	uint32_t ntx, nrx;

	if (e >= VNM_REGION_MAX_ENDS)
		return -1;
	end = &h->ends[e];
	ntx = __atomic_load_n(&end->num_tx_rings, __ATOMIC_RELAXED);
	nrx = __atomic_load_n(&end->num_rx_rings, __ATOMIC_RELAXED);
	uint64_t ao = end->csb_atok_ofs, ko = end->csb_ktoa_ofs, len = (uint64_t)(ntx + nrx) * 64;
	if (ntx > VNM_MAX_RINGS || nrx > VNM_MAX_RINGS || ao % 64 || ko % 64 ||
	    ao > x->map_len || len > x->map_len - ao || ko > x->map_len || len > x->map_len - ko)
		return -1;
	c->ntx = ntx;
	c->nrx = nrx;
	c->atok = (struct nm_csb_atok *)(x->map + ao);
	c->ktoa = (struct nm_csb_ktoa *)(x->map + ko);
	return 0;
}

static void notify_byte(int fd)
{
	char b = 0;
	/* EAGAIN: bytes queued already, the peer's fd is readable anyway */
	ssize_t r = send(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)r;
}

static void drain_filler(int fd)
{
	char buf[4096];
	for (int i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < (ssize_t)sizeof(buf))
			break;
}

static void kick(int fd)
{
	uint64_t one = 1;
	ssize_t r = write(fd, &one, sizeof(one));
	(void)r;
}

/* Take a need-kick flag the way the kernel side does (csb.h): fence, test, exchange. */
static int take_flag(struct nm_csb_atok *a)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&a->appl_need_kick, __ATOMIC_RELAXED) == 0)
		return 0;
	return __atomic_exchange_n(&a->appl_need_kick, 0, __ATOMIC_ACQ_REL) != 0;
}

/* ---- plain mode: the timer plays the guest's kicks ---- */

static void plain_tick(struct pt_export *x)
{
	struct pt_csbs *m = &x->me;
	unsigned n = m->ntx + m->nrx;

	if (x->info.kind == VNM_KIND_VALE) {
		/* the switch sleeps and the guest moved a head (TX: frames; RX: freed slots) */
		int work = 0;
		for (unsigned i = 0; i < n; i++) {
			uint32_t h = __atomic_load_n(&m->atok[i].head, __ATOMIC_RELAXED);
			if (h != x->last[i]) {
				x->last[i] = h;
				if (__atomic_load_n(&m->ktoa[i].kern_need_kick, __ATOMIC_RELAXED))
					work = 1;
			}
		}
		if (work)
			kick(x->kick_fd);
		return;
	}
	/*
	 * Pipe: the peer end P is a host process. P's RX ring i is fed by our TX ring i:
	 * wake P when it armed RX and its hwtail moved past its cur. P's TX ring i drains
	 * into our RX ring i: when P armed TX and our RX head moved, drain P's filler.
	 */
	struct pt_csbs *p = &x->peer;
	for (unsigned i = 0; i < p->nrx; i++) {
		struct nm_csb_atok *a = &p->atok[p->ntx + i];
		if (!__atomic_load_n(&a->appl_need_kick, __ATOMIC_RELAXED))
			continue;
		uint32_t t = __atomic_load_n(&p->ktoa[p->ntx + i].hwtail, __ATOMIC_ACQUIRE);
		if (t != __atomic_load_n(&a->cur, __ATOMIC_RELAXED) && take_flag(a))
			notify_byte(x->peer_fd);
	}
	for (unsigned i = 0; i < p->ntx && i < m->nrx; i++) {
		uint32_t h = __atomic_load_n(&m->atok[m->ntx + i].head, __ATOMIC_RELAXED);
		if (h == x->last[i])
			continue;
		x->last[i] = h;
		if (take_flag(&p->atok[i]))
			drain_filler(x->peer_fd);
	}
}

static void timer_event(struct vnm_evsrc *src, uint32_t events)
{
	uint64_t v;
	ssize_t r = read(timer_fd, &v, sizeof(v));
	(void)r;
	for (struct pt_export *x = exports; x; x = x->next)
		if (!(x->info.flags & VNM_PT_DOORBELL))
			plain_tick(x);
}

static int timer_get(void)
{
	struct itimerspec its = { { 0, PT_POLL_NS }, { 0, PT_POLL_NS } };

	if (timer_fd < 0) {
		timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (timer_fd < 0)
			return -errno;
		timer_ev.handler = timer_event;
		int ret = vnm_ev_add(&timer_ev, timer_fd, EPOLLIN);
		if (ret < 0) {
			close(timer_fd);
			timer_fd = -1;
			return ret;
		}
	}
	if (nplain++ == 0)
		timerfd_settime(timer_fd, 0, &its, NULL);
	return 0;
}

static void timer_put(void)
{
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };

	if (nplain && --nplain == 0 && timer_fd >= 0)
		timerfd_settime(timer_fd, 0, &off, NULL); /* idle: no wake-ups at all */
}

/* ---- doorbell mode: QEMU's ivshmem server protocol ---- */

/* One message: a little-endian int64, optionally with one fd. */
static int ivs_send(int sock, int64_t v, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cb;
	struct iovec iov = { &v, sizeof(v) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	v = (int64_t)htole64((uint64_t)v);
	if (fd >= 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = sizeof(cb.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(v) ? 0 : -1;
}

static void conn_drop(struct pt_export *x)
{
	if (x->conn_fd < 0)
		return;
	vnm_ev_del(x->conn_fd);
	close(x->conn_fd);
	x->conn_fd = -1;
	for (int v = 0; v < VNM_PT_VECTORS; v++)
		if (x->guest_vec[v] >= 0) {
			close(x->guest_vec[v]);
			x->guest_vec[v] = -1;
		}
	x->info.guest_connected = 0;
	vnm_log(VNM_LOG_INFO, "passthrough %s: QEMU disconnected", x->info.name);
}

static void conn_event(struct vnm_evsrc *src, uint32_t events)
{
	struct pt_export *x = ((struct pt_src *)src)->x;
	char buf[256];

	/* the protocol is one-way: anything QEMU sends is discarded; EOF ends it */
	ssize_t n = recv(x->conn_fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (events & (EPOLLHUP | EPOLLERR)))
		conn_drop(x);
}

static void listen_event(struct vnm_evsrc *src, uint32_t events)
{
	struct pt_export *x = ((struct pt_src *)src)->x;
	int c = accept4(x->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	int ok = 0;

	if (c < 0)
		return;
	if (x->conn_fd >= 0) {
		vnm_log(VNM_LOG_WARN, "passthrough %s: a second QEMU refused", x->info.name);
		close(c);
		return;
	}
	for (int v = 0; v < VNM_PT_VECTORS; v++)
		x->guest_vec[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* 1 version, 2 its id, 3 the memory, 4 the host peer's vectors, 5 its own vectors */
	if (ivs_send(c, 0, -1) == 0 && ivs_send(c, VNM_PT_GUEST_PEER, -1) == 0 &&
	    ivs_send(c, -1, x->region_fd) == 0) {
		ok = 1;
		for (int v = 0; v < VNM_PT_VECTORS && ok; v++)
			ok = ivs_send(c, VNM_PT_HOST_PEER,
				      x->host_vec[v] >= 0 ? x->host_vec[v] : x->kick_fd) == 0;
		for (int v = 0; v < VNM_PT_VECTORS && ok; v++)
			ok = x->guest_vec[v] >= 0 && ivs_send(c, VNM_PT_GUEST_PEER, x->guest_vec[v]) == 0;
	}
	x->conn_fd = c;
	x->csrc.ev.handler = conn_event;
	if (!ok || vnm_ev_add(&x->csrc.ev, c, EPOLLIN | EPOLLRDHUP) < 0) {
		vnm_log(VNM_LOG_WARN, "passthrough %s: ivshmem set-up failed: %s", x->info.name,
			strerror(errno));
		close(c);
		x->conn_fd = -1;
		for (int v = 0; v < VNM_PT_VECTORS; v++)
			if (x->guest_vec[v] >= 0) {
				close(x->guest_vec[v]);
				x->guest_vec[v] = -1;
			}
		return;
	}
	x->info.guest_connected = 1;
	vnm_log(VNM_LOG_INFO, "passthrough %s: QEMU connected (guest peer %d)", x->info.name,
		VNM_PT_GUEST_PEER);
}

/* Pipe: the guest rang a host vector. */
static void vec_event(struct vnm_evsrc *src, uint32_t events)
{
	struct pt_src *s = (struct pt_src *)src;
	struct pt_export *x = s->x;
	uint64_t v;
	ssize_t r = read(x->host_vec[s->vec], &v, sizeof(v));

	(void)r;
	if (s->vec == VNM_PT_VEC_KICK)
		notify_byte(x->peer_fd); /* the guest took the peer's RX flag */
	else
		drain_filler(x->peer_fd); /* the guest took the peer's TX flag */
}

static int doorbell_setup(struct pt_export *x, struct vnm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char fname[80];
	int n, ret;

	static unsigned seq;

	/* a sequence number: "X{1" and "X}1" must not share a file name */
	snprintf(fname, sizeof(fname), "pt%u-%.60s.sock", ++seq, x->info.name);
	for (char *p = fname; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			*p = '_';
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", vnm_memdir(), fname);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path) || (size_t)n >= sizeof(x->info.sock_path))
		return vnm_err_set(err, -ENAMETOOLONG, "ivshmem socket path too long (%s/%s)",
				   vnm_memdir(), fname);
	x->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->listen_fd < 0)
		return vnm_err_set(err, -errno, "socket: %s", strerror(errno));
	unlink(sa.sun_path);
	/* 0700 by the umask; --group: the group's, 0660, like the region file QEMU maps */
	if (bind(x->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    vnm_share_sock(sa.sun_path) < 0 || listen(x->listen_fd, 2) < 0) {
		ret = -errno;
		return vnm_err_set(err, ret, "ivshmem socket %s: %s", sa.sun_path, strerror(-ret));
	}
	memcpy(x->info.sock_path, sa.sun_path, (size_t)n + 1);
	x->lsrc.ev.handler = listen_event;
	ret = vnm_ev_add(&x->lsrc.ev, x->listen_fd, EPOLLIN);
	if (ret < 0)
		return vnm_err_set(err, ret, "epoll: %s", strerror(-ret));
	if (x->info.kind == VNM_KIND_PIPE) {
		for (int v = 0; v < VNM_PT_VECTORS; v++) {
			x->host_vec[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (x->host_vec[v] < 0)
				return vnm_err_set(err, -errno, "eventfd: %s", strerror(errno));
			x->vsrc[v].ev.handler = vec_event;
			ret = vnm_ev_add(&x->vsrc[v].ev, x->host_vec[v], EPOLLIN);
			if (ret < 0) {
				close(x->host_vec[v]);
				x->host_vec[v] = -1;
				return vnm_err_set(err, ret, "epoll: %s", strerror(-ret));
			}
		}
	}
	x->info.vectors = VNM_PT_VECTORS;
	return 0;
}

/* ---- exports ---- */

static void export_free(struct pt_export *x)
{
	conn_drop(x);
	if (x->listen_fd >= 0) {
		vnm_ev_del(x->listen_fd);
		close(x->listen_fd);
		unlink(x->info.sock_path);
	}
	for (int v = 0; v < VNM_PT_VECTORS; v++)
		if (x->host_vec[v] >= 0) {
			vnm_ev_del(x->host_vec[v]);
			close(x->host_vec[v]);
		}
	if (!(x->info.flags & VNM_PT_DOORBELL) && x->map)
		timer_put();
	if (x->map)
		munmap(x->map, x->map_len);
	if (x->b)
		vnm_binding_release(x->b); /* VALE: closes the kick fd; an ephemeral port goes */
	x->b = NULL;
	/*
	 * A later event of the main loop's current batch may still point at our event
	 * sources: keep the memory until exit (a few hundred bytes per removal).
	 */
	x->next = graveyard;
	graveyard = x;
}

static struct pt_export *export_find(const char *name)
{
	for (struct pt_export *x = exports; x; x = x->next)
		if (strcmp(x->info.name, name) == 0 || strcmp(x->spec, name) == 0)
			return x;
	return NULL;
}

int vnm_pt_export(const char *spec, uint32_t flags, struct vnm_ctl_pt_info *info,
		  struct vnm_err *err)
{
	struct vnm_ctl_open_rep rep;
	struct vnm_portname pn;
	struct pt_export *x;
	char msg[200], path[64];
	int fds[3] = { -1, -1, -1 }, ret;
	ssize_t n;

	if (flags & ~(uint32_t)VNM_PT_DOORBELL)
		return vnm_err_set(err, -EINVAL, "unknown passthrough flags 0x%x", flags);
	ret = vnm_portname_parse(spec, &pn, msg, sizeof(msg));
	if (ret < 0)
		return vnm_err_set(err, ret, "%s", msg);
	if (!pn.is_vale && !pn.pipe_role)
		return vnm_err_set(err, -EINVAL, "%.64s: a VALE port or a pipe end is exported",
				   spec);
	if (pn.ring_id >= 0 || (pn.nr_flags & ~(uint32_t)(NR_VNM_LOSSLESS | NR_EXCLUSIVE)))
		return vnm_err_set(err, -EINVAL, "%.64s: a guest binds every ring of the port",
				   spec);
	x = calloc(1, sizeof(*x));
	if (!x)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	x->listen_fd = x->conn_fd = -1;
	for (int v = 0; v < VNM_PT_VECTORS; v++) {
		x->host_vec[v] = x->guest_vec[v] = -1;
		x->vsrc[v].x = x;
		x->vsrc[v].vec = v;
	}
	x->lsrc.x = x->csrc.x = x;
	x->lsrc.vec = -1;
	x->csrc.vec = -2;
	snprintf(x->spec, sizeof(x->spec), "%s", spec);

	memset(&rep, 0, sizeof(rep));
	ret = vnm_reg_open(&pn, &x->b, &rep, fds, err);
	if (ret < 0) {
		free(x);
		return ret;
	}
	/* the fds stay the registry's: region, app end (VALE) or ours, kick fd / peer's end */
	x->region_fd = fds[0];
	x->kick_fd = rep.kind == VNM_KIND_VALE ? fds[2] : -1;
	x->peer_fd = rep.kind == VNM_KIND_PIPE ? fds[2] : -1;
	snprintf(x->info.name, sizeof(x->info.name), "%s", rep.name);
	if (export_find(x->info.name)) {
		ret = vnm_err_set(err, -EEXIST, "%s is exported already", x->info.name);
		goto fail;
	}
	x->info.flags = flags;
	x->info.kind = rep.kind;
	x->info.end = rep.end;
	x->info.region_size = rep.region_size;
	if (rep.region_size & (rep.region_size - 1)) {
		ret = vnm_err_set(err, -EINVAL, "region of %s is not a power of two", rep.name);
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	n = readlink(path, x->info.mem_path, sizeof(x->info.mem_path) - 1);
	if (n <= 0 || (size_t)n >= sizeof(x->info.mem_path) - 1) {
		ret = vnm_err_set(err, -ENAMETOOLONG, "region path of %s unknown or too long",
				  rep.name);
		goto fail;
	}
	x->info.mem_path[n] = '\0';

	/* our own view of the region, for the CSB words; offsets read now, once */
	x->map_len = rep.region_size;
	x->map = mmap(NULL, x->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (x->map == MAP_FAILED) {
		x->map = NULL;
		ret = vnm_err_set(err, -errno, "mmap: %s", strerror(errno));
		goto fail;
	}
	struct vnm_region_hdr *h = (struct vnm_region_hdr *)x->map;
	if (csbs_init(x, h, rep.end, &x->me) < 0 ||
	    (rep.kind == VNM_KIND_PIPE && csbs_init(x, h, rep.peer_end, &x->peer) < 0)) {
		ret = vnm_err_set(err, -EPROTO, "region of %s: CSB offsets out of range", rep.name);
		goto fail;
	}
	for (unsigned i = 0; i < x->me.ntx + x->me.nrx; i++)
		x->last[i] = __atomic_load_n(&x->me.atok[i].head, __ATOMIC_RELAXED);
	if (rep.kind == VNM_KIND_PIPE)
		for (unsigned i = 0; i < x->me.nrx && i < VNM_MAX_RINGS; i++)
			x->last[i] = __atomic_load_n(&x->me.atok[x->me.ntx + i].head,
						     __ATOMIC_RELAXED);
	/* mark the end so that the guest finds it (flags store last, release) */
	__atomic_fetch_or(&h->ends[rep.end].flags, VNM_END_PASSTHROUGH, __ATOMIC_RELEASE);

	if (flags & VNM_PT_DOORBELL)
		ret = doorbell_setup(x, err);
	else if ((ret = timer_get()) < 0)
		vnm_err_set(err, ret, "timerfd: %s", strerror(-ret));
	if (ret < 0)
		goto fail;
	x->next = exports;
	exports = x;
	*info = x->info;
	vnm_log(VNM_LOG_INFO, "passthrough %s exported (%s, %llu bytes, %s)", x->info.name,
		(flags & VNM_PT_DOORBELL) ? "doorbell" : "plain",
		(unsigned long long)x->info.region_size, x->info.mem_path);
	return 0;
fail:
	x->info.flags |= VNM_PT_DOORBELL; /* export_free: no timer reference was taken */
	export_free(x);
	return ret;
}

int vnm_pt_remove(const char *name, struct vnm_err *err)
{
	struct pt_export *x = export_find(name), **pp;

	if (!x)
		return vnm_err_set(err, -ENXIO, "%.64s is not exported", name);
	for (pp = &exports; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	vnm_log(VNM_LOG_INFO, "passthrough %s removed", x->info.name);
	export_free(x);
	return 0;
}

int vnm_pt_list(const char *filter, struct vnm_ctl_pt_info *out, unsigned max,
		struct vnm_err *err)
{
	unsigned n = 0, matched = 0;

	for (struct pt_export *x = exports; x; x = x->next) {
		if (*filter && strcmp(filter, x->info.name) != 0 && strcmp(filter, x->spec) != 0)
			continue;
		matched++;
		if (n < max)
			out[n++] = x->info;
	}
	if (*filter && !matched)
		return vnm_err_set(err, -ENXIO, "%.64s is not exported", filter);
	return (int)n;
}

void vnm_pt_shutdown(void)
{
	while (exports) {
		struct pt_export *x = exports;
		exports = x->next;
		export_free(x);
	}
	while (graveyard) {
		struct pt_export *x = graveyard;
		graveyard = x->next;
		free(x);
	}
	if (timer_fd >= 0) {
		vnm_ev_del(timer_fd);
		close(timer_fd);
		timer_fd = -1;
	}
	nplain = 0;
}
