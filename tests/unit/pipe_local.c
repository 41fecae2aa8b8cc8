// SPDX-License-Identifier: BSD-2-Clause
/*
 * pipe_local.c - the pipe datapath and the notification protocol without a daemon:
 * the test lays out a pipe region itself (as vnetmapd would), hands each end what
 * an OPEN reply carries (region fd, own notify app end, the peer's notify kernel
 * end) to the library's post-reply half (vnm__port_setup), then runs netmap code
 * on both ends: ordering, zero copy, lossless back-pressure, MOREFRAG chains,
 * ring resets, peer garbage, arm/poll wake-ups, and 1M packets across two threads.
 * Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/internal.h"

static int fails;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			fails++;                                           \
			goto out;                                          \
		}                                                          \
	} while (0)

#define A64(x) (((x) + 63) & ~(uint64_t)63)
#define SET32(p, v) do { uint32_t v_ = (v); memcpy((void *)(p), &v_, 4); } while (0)

struct pipe_fix {
	int region_fd;
	uint64_t size;
	int app[2], kern[2];   /* notify sockets per end: app end, kernel end */
	struct vnm_port *d[2]; /* [0] master, [1] slave */
	char msg[2][256];      /* last error message per end */
	int quiet;             /* expected setup failures: no message */
};

static void on_error(void *arg, int err, const char *msg)
{
	char *buf = arg;
	snprintf(buf, 256, "%d %s", err, msg);
}

/* Lay out one end at obj; returns the bytes used. */
static uint64_t lay_end(char *mem, struct vnm_region_hdr *h, int idx, uint64_t obj, uint32_t nr,
			uint32_t ns, uint32_t *next_buf, int master)
{
	struct vnm_region_end *e = &h->ends[idx];
	uint64_t nifp = obj, atok = A64(nifp + sizeof(struct netmap_if) + 2 * nr * 8);
	uint64_t ktoa = atok + 2 * nr * 64, ring = ktoa + 2 * nr * 64;
	uint64_t rbytes = A64(256 + 16 * (uint64_t)ns);

	snprintf(e->name, sizeof(e->name), "p%c1", master ? '{' : '}');
	e->nifp_ofs = nifp;
	e->csb_atok_ofs = atok;
	e->csb_ktoa_ofs = ktoa;
	e->num_tx_rings = e->num_rx_rings = nr;
	e->flags = VNM_END_USED | (master ? VNM_END_PIPE_MASTER : VNM_END_PIPE_SLAVE);
	e->peer = (uint32_t)!idx;
	SET32(mem + nifp + 24, nr);
	SET32(mem + nifp + 28, nr);
	for (uint32_t i = 0; i < 2 * nr; i++) {
		uint64_t r = ring + i * rbytes;
		int64_t ro = (int64_t)(r - nifp), bo = (int64_t)h->buf_ofs - (int64_t)r;
		uint32_t dir = i >= nr;
		memcpy(mem + nifp + 56 + 8 * i, &ro, 8);
		memcpy(mem + r, &bo, 8);
		SET32(mem + r + 8, ns);
		SET32(mem + r + 12, h->buf_size);
		uint16_t rid = (uint16_t)(i % nr), d16 = (uint16_t)dir;
		memcpy(mem + r + 16, &rid, 2);
		memcpy(mem + r + 18, &d16, 2);
		struct netmap_ring *rp = (struct netmap_ring *)(mem + r);
		rp->tail = dir ? 0 : ns - 1;
		for (uint32_t s = 0; s < ns; s++)
			rp->slot[s].buf_idx = (*next_buf)++;
		struct nm_csb_ktoa *k = (struct nm_csb_ktoa *)(mem + ktoa) + i;
		k->hwtail = rp->tail;
	}
	return ring + 2 * nr * rbytes - obj;
}

static int fix_open_end(struct pipe_fix *f, int e)
{
	struct vnm_ctl_open_rep rep = {
		.region_size = f->size, .kind = VNM_KIND_PIPE, .end = (uint32_t)e,
		.peer_end = (uint32_t)!e, .first_tx_ring = 0, .last_tx_ring = 0,
		.first_rx_ring = 0, .last_rx_ring = 0, .nfds = 3,
	};
	int fds[3] = { dup(f->region_fd), dup(f->app[e]), dup(f->kern[!e]) };
	char err[256];
	struct vnm_port *d = calloc(1, sizeof(*d));
	int ret;

	snprintf(rep.name, sizeof(rep.name), "p%c1", e ? '}' : '{');
	d->fd = d->kick_fd = d->ctl_fd = -1;
	d->error = on_error;
	d->error_arg = f->msg[e];
	ret = vnm__port_setup(d, &rep, sizeof(rep), fds, err, sizeof(err));
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (ret < 0) {
		if (!f->quiet)
			fprintf(stderr, "setup end %d: %s\n", e, err);
		vnm_port_close(d);
		return ret;
	}
	f->d[e] = d;
	return 0;
}

/* nr rings of ns slots per direction and end. Returns 0 or -1. */
static int fix_init(struct pipe_fix *f, uint32_t nr, uint32_t ns)
{
	uint64_t obj = VNM_REGION_HDR_SIZE, per_end = A64(sizeof(struct netmap_if) + 2 * nr * 8) +
		       4 * nr * 64 + 2 * nr * A64(256 + 16 * (uint64_t)ns);
	uint32_t nbufs = 2 + 4 * nr * ns, next_buf = 2;
	uint64_t buf_ofs = (obj + 2 * per_end + 4095) & ~4095ULL;

	memset(f, 0, sizeof(*f));
	f->size = (buf_ofs + (uint64_t)nbufs * 2048 + 4095) & ~4095ULL;
	f->region_fd = memfd_create("pipe_local", MFD_CLOEXEC);
	if (f->region_fd < 0 || ftruncate(f->region_fd, (off_t)f->size) < 0)
		return -1;
	char *mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->region_fd, 0);
	if (mem == MAP_FAILED)
		return -1;
	struct vnm_region_hdr *h = (struct vnm_region_hdr *)mem;
	h->magic = VNM_REGION_MAGIC;
	h->version = VNM_REGION_VERSION;
	h->hdr_size = VNM_REGION_HDR_SIZE;
	h->region_size = f->size;
	h->obj_ofs = obj;
	h->obj_size = 2 * per_end;
	h->buf_ofs = buf_ofs;
	h->buf_size = 2048;
	h->num_bufs = nbufs;
	h->num_ends = 2;
	snprintf(h->name, sizeof(h->name), "netmap:p");
	lay_end(mem, h, 0, obj, nr, ns, &next_buf, 1);
	lay_end(mem, h, 1, obj + per_end, nr, ns, &next_buf, 0);
	munmap(mem, f->size);

	for (int e = 0; e < 2; e++) {
		int sv[2], one = 1;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
		f->app[e] = sv[0];
		f->kern[e] = sv[1];
	}
	for (int e = 0; e < 2; e++)
		if (fix_open_end(f, e) < 0)
			return -1;
	return 0;
}

static void fix_fini(struct pipe_fix *f)
{
	for (int e = 0; e < 2; e++) {
		vnm_port_close(f->d[e]);
		close(f->app[e]);
		close(f->kern[e]);
	}
	close(f->region_fd);
}

static struct netmap_ring *txr(struct vnm_port *d, unsigned i)
{
	return NETMAP_TXRING(d->nifp, i);
}

static struct netmap_ring *rxr(struct vnm_port *d, unsigned i)
{
	return NETMAP_RXRING(d->nifp, i);
}

/* Queue up to n packets carrying *seq on ring 0; returns how many. No sync. */
static unsigned put(struct vnm_port *d, unsigned n, uint64_t *seq)
{
	struct netmap_ring *r = txr(d, 0);
	unsigned k = 0;
	while (k < n && !nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->cur];
		memcpy(NETMAP_BUF(r, s->buf_idx), seq, 8);
		s->len = 60;
		s->flags = 0;
		(*seq)++;
		r->head = r->cur = nm_ring_next(r, r->cur);
		k++;
	}
	return k;
}

/* Receive everything on ring 0, checking sequence numbers. Returns count or -1. */
static int get(struct vnm_port *d, uint64_t *seq)
{
	struct netmap_ring *r = rxr(d, 0);
	int k = 0;
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->cur];
		uint64_t v;
		memcpy(&v, NETMAP_BUF(r, s->buf_idx), 8);
		if (v != *seq || s->len != 60) {
			fprintf(stderr, "got seq %llu len %u, want %llu\n", (unsigned long long)v, s->len,
				(unsigned long long)*seq);
			return -1;
		}
		(*seq)++;
		r->head = r->cur = nm_ring_next(r, r->cur);
		k++;
	}
	return k;
}

static short fd_events(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static void test_basic(void)
{
	struct pipe_fix f;
	uint64_t tseq = 0, rseq = 0;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	struct netmap_ring *t = txr(f.d[0], 0), *r = rxr(f.d[1], 0);
	CHECK(t->tail == 63 && r->tail == 0, "fresh tails %u %u", t->tail, r->tail);
	uint32_t b0 = t->slot[0].buf_idx;
	CHECK(put(f.d[0], 10, &tseq) == 10, "put");
	CHECK(vnm_txsync(f.d[0]) == 0, "txsync");
	CHECK(t->tail == 9, "tx tail after sending 10: %u", t->tail);
	CHECK(t->slot[0].buf_idx != b0 && (t->slot[0].flags & NS_BUF_CHANGED), "tx slot not swapped");
	CHECK(vnm_rxsync(f.d[1]) == 0 && r->tail == 10, "rx tail %u", r->tail);
	CHECK(r->slot[0].buf_idx == b0 && (r->slot[0].flags & NS_BUF_CHANGED), "zero copy");
	CHECK(get(f.d[1], &rseq) == 10, "get");
	CHECK(vnm_rxsync(f.d[1]) == 0, "rxsync release");
	/* wrap around several times */
	for (int round = 0; round < 20; round++) {
		CHECK(put(f.d[0], 50, &tseq) == 50, "put round %d", round);
		CHECK(vnm_txsync(f.d[0]) == 0, "txsync");
		CHECK(vnm_rxsync(f.d[1]) == 0, "rxsync");
		CHECK(get(f.d[1], &rseq) == 50, "get round %d", round);
		CHECK(vnm_rxsync(f.d[1]) == 0, "rxsync");
	}
	CHECK(rseq == tseq, "lost packets");
out:
	fix_fini(&f);
}

static void test_lossless_full(void)
{
	struct pipe_fix f;
	uint64_t tseq = 0, rseq = 0;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	struct netmap_ring *t = txr(f.d[0], 0);
	CHECK(put(f.d[0], 1000, &tseq) == 63, "first fill");
	CHECK(vnm_txsync(f.d[0]) == 0, "txsync");
	CHECK(put(f.d[0], 1000, &tseq) == 63, "second fill: %llu", (unsigned long long)tseq);
	CHECK(vnm_txsync(f.d[0]) == 0, "txsync");
	/* peer RX holds 63 (one slot stays empty), 63 wait in our TX ring: no space */
	CHECK(nm_ring_space(t) == 0, "space %u", nm_ring_space(t));
	CHECK(nm_tx_pending(t), "not pending");
	CHECK(vnm_rxsync(f.d[1]) == 0 && get(f.d[1], &rseq) == 63, "rx first 63");
	CHECK(vnm_rxsync(f.d[1]) == 0, "release");
	CHECK(vnm_txsync(f.d[0]) == 0 && nm_ring_space(t) == 63, "space after release %u",
	      nm_ring_space(t));
	CHECK(vnm_rxsync(f.d[1]) == 0 && get(f.d[1], &rseq) == 63, "rx second 63");
	CHECK(rseq == 126, "rseq %llu", (unsigned long long)rseq);
out:
	fix_fini(&f);
}

static void test_frags(void)
{
	struct pipe_fix f;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	struct netmap_ring *t = txr(f.d[0], 0), *r = rxr(f.d[1], 0);
	for (int i = 0; i < 3; i++) {
		t->slot[i].len = (uint16_t)(100 + i);
		t->slot[i].flags = i < 2 ? NS_MOREFRAG : 0;
	}
	t->head = t->cur = 2; /* two fragments handed over, the last not yet */
	CHECK(vnm_txsync(f.d[0]) == 0, "txsync");
	CHECK(vnm_rxsync(f.d[1]) == 0 && r->tail == 0, "incomplete chain moved (%u)", r->tail);
	CHECK(t->tail == 63, "tx tail moved %u", t->tail);
	t->head = t->cur = 3;
	CHECK(vnm_txsync(f.d[0]) == 0, "txsync");
	CHECK(vnm_rxsync(f.d[1]) == 0 && r->tail == 3, "chain not moved (%u)", r->tail);
	CHECK((r->slot[0].flags & NS_MOREFRAG) && (r->slot[1].flags & NS_MOREFRAG) &&
	      !(r->slot[2].flags & NS_MOREFRAG), "MOREFRAG flags");
	CHECK(r->slot[0].len == 100 && r->slot[2].len == 102, "lens");
out:
	fix_fini(&f);
}

static void test_bad_slot(void)
{
	struct pipe_fix f;
	uint64_t tseq = 0;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	struct netmap_ring *t = txr(f.d[0], 0);
	put(f.d[0], 5, &tseq);
	t->slot[2].buf_idx = 1; /* reserved */
	CHECK(vnm_txsync(f.d[0]) == -EIO, "bad buf_idx accepted");
	CHECK(strstr(f.msg[0], "ring reset") && strstr(f.msg[0], "buf_idx"), "message '%s'", f.msg[0]);
	CHECK(strncmp(f.msg[0], "5 ", 2) == 0, "callback err not EIO: '%s'", f.msg[0]);
	/* slots 0 and 1 were complete packets before the bad one: they moved */
	CHECK(t->head == 2 && t->cur == 2 && t->tail == 1, "after reset %u %u %u", t->head, t->cur, t->tail);
	CHECK(t->slot[2].buf_idx == 0, "bad slot not cleared");
	CHECK(vnm_txsync(f.d[0]) == 0, "sync after reset");

	f.msg[0][0] = 0;
	t->slot[2].buf_idx = 4; /* the application repairs the slot the reset cleared */
	t->slot[2].len = 60;
	t->slot[3].buf_idx = 7;
	t->slot[3].len = 3000;
	t->head = t->cur = 4;
	CHECK(vnm_txsync(f.d[0]) == -EIO && strstr(f.msg[0], "len"), "bad len: '%s'", f.msg[0]);

	t->head = 40; /* past tail */
	CHECK(vnm_txsync(f.d[0]) == -EIO && strstr(f.msg[0], "head"), "bad head: '%s'", f.msg[0]);
	t->head = t->cur = 2;
	t->cur = 1; /* cur behind head */
	CHECK(vnm_txsync(f.d[0]) == -EIO && strstr(f.msg[0], "cur"), "bad cur: '%s'", f.msg[0]);
	CHECK(vnm_poll(f.d[0], POLLOUT, 0) & POLLOUT, "usable after resets");
out:
	fix_fini(&f);
}

static void test_long_chain(void)
{
	struct pipe_fix f;
	CHECK(fix_init(&f, 1, 128) == 0, "fixture");
	struct netmap_ring *t = txr(f.d[0], 0);
	for (int i = 0; i < 70; i++) {
		t->slot[i].len = 10;
		t->slot[i].flags = NS_MOREFRAG;
	}
	t->head = t->cur = 70;
	CHECK(vnm_txsync(f.d[0]) == -EIO && strstr(f.msg[0], "MOREFRAG"), "long chain: '%s'", f.msg[0]);
	/* exactly NM_MAX_FRAGS slots is fine */
	for (int i = 0; i < 64; i++)
		t->slot[i].flags = i < 63 ? NS_MOREFRAG : 0;
	t->head = t->cur = 64;
	CHECK(vnm_txsync(f.d[0]) == 0, "64-slot chain refused: %s", f.msg[0]);
	CHECK(vnm_rxsync(f.d[1]) == 0 && rxr(f.d[1], 0)->tail == 64, "64-slot chain not moved");
out:
	fix_fini(&f);
}

static void test_peer_garbage(void)
{
	struct pipe_fix f;
	uint64_t tseq = 0, rseq = 0;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	struct netmap_ring *r = rxr(f.d[1], 0);
	put(f.d[0], 10, &tseq);
	vnm_txsync(f.d[0]);
	/* the slave publishes nonsense heads: the master ignores them */
	r->head = r->cur = 9999;
	vnm_rxsync(f.d[1]);
	put(f.d[0], 10, &tseq);
	CHECK(vnm_txsync(f.d[0]) == 0, "master hurt by a bad peer head");
	r->head = r->cur = 30; /* past the tail the master gave */
	vnm_rxsync(f.d[1]);
	CHECK(vnm_txsync(f.d[0]) == 0, "master hurt by a peer head past hwtail");
	/* the slave writes a bad buffer index into a free rx slot: bounded to 0 */
	r->head = r->cur = 0;
	vnm_rxsync(f.d[1]);
	r->slot[40].buf_idx = 0xfffffff0;
	put(f.d[0], 30, &tseq);
	CHECK(vnm_txsync(f.d[0]) == 0, "txsync");
	for (uint32_t i = 0; i < 64; i++)
		CHECK(txr(f.d[0], 0)->slot[i].buf_idx < 2 + 4 * 64, "peer index leaked to tx slot %u", i);
	/* the slave scribbles hwtail of its own rx ktoa: the master's private state wins */
	vnm_rxsync(f.d[1]);
	CHECK(get(f.d[1], &rseq) == 50, "slave lost packets");
out:
	fix_fini(&f);
}

static void test_notify(void)
{
	struct pipe_fix f;
	uint64_t tseq = 0, rseq = 0;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	struct vnm_port *m = f.d[0], *s = f.d[1];
	/* RX side */
	CHECK(vnm_poll(s, POLLIN, 0) == 0, "slave readable on an empty pipe");
	CHECK(!(fd_events(s->fd) & POLLIN), "slave fd readable before data");
	put(m, 1, &tseq);
	CHECK(vnm_txsync(m) == 0, "txsync");
	CHECK(fd_events(s->fd) & POLLIN, "slave fd not readable after a packet");
	CHECK(vnm_poll(s, POLLIN, 0) == POLLIN, "vnm_poll POLLIN");
	CHECK(get(s, &rseq) == 1, "get");
	CHECK(vnm_poll(s, POLLIN, 0) == 0, "vnm_poll after drain");
	CHECK(!(fd_events(s->fd) & POLLIN), "notification not consumed by re-arm");
	/* not armed: no notification, no system call */
	put(m, 1, &tseq);
	vnm_txsync(m);
	vnm_rxsync(s);
	get(s, &rseq);
	vnm_rxsync(s);
	/* TX side: fill the pipe, arm, the receiver's release wakes us */
	while (put(m, 64, &tseq))
		vnm_txsync(m);
	CHECK(vnm_arm(m, POLLOUT) == 0, "tx arm on a full pipe reports space");
	CHECK(!(fd_events(m->fd) & POLLOUT), "master fd writable on a full pipe");
	CHECK(vnm_poll(m, POLLOUT, 0) == 0, "vnm_poll POLLOUT on a full pipe");
	CHECK(vnm_rxsync(s) == 0 && get(s, &rseq) > 0, "slave get");
	CHECK(vnm_rxsync(s) == 0, "release");
	CHECK(fd_events(m->fd) & POLLOUT, "master fd not writable after release");
	CHECK(vnm_poll(m, POLLOUT, 0) == POLLOUT, "vnm_poll POLLOUT after release");
out:
	fix_fini(&f);
}

static void drain_sock(int fd)
{
	char buf[4096];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/*
 * The kernel side takes the flag, then notifies. When our arm runs between the
 * two, the byte (RX) or the drain (TX) lands after our own drain (refill): the
 * next arm must clean up, or a caller sleeping in epoll would spin.
 */
static void test_late_notification(void)
{
	struct pipe_fix f;
	uint64_t tseq = 0;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	struct vnm_port *m = f.d[0], *s = f.d[1];

	CHECK(vnm_arm(s, POLLIN) == 0, "arm");
	__atomic_store_n(&s->rx[0].atok->appl_need_kick, 0, __ATOMIC_SEQ_CST); /* taken */
	CHECK(vnm_arm(s, POLLIN) == 0, "re-arm");
	CHECK(send(f.kern[1], "x", 1, 0) == 1, "late byte");
	CHECK(fd_events(s->fd) & POLLIN, "late byte not there");
	CHECK(vnm_arm(s, POLLIN) == 0, "arm after late byte");
	CHECK(!(fd_events(s->fd) & POLLIN), "late RX byte not consumed: epoll would spin");
	CHECK(vnm_arm(s, POLLIN) == 0 && vnm_arm(s, POLLIN) == 0, "arms");

	while (put(m, 64, &tseq))
		vnm_txsync(m);
	CHECK(vnm_arm(m, POLLOUT) == 0, "tx arm");
	CHECK(!(fd_events(m->fd) & POLLOUT), "writable after filler");
	__atomic_store_n(&m->tx[0].atok->appl_need_kick, 0, __ATOMIC_SEQ_CST); /* taken */
	CHECK(vnm_arm(m, POLLOUT) == 0, "tx re-arm");
	drain_sock(f.kern[0]); /* the late drain eats the refill too */
	CHECK(fd_events(m->fd) & POLLOUT, "late drain did not make it writable");
	CHECK(vnm_arm(m, POLLOUT) == 0, "tx arm after late drain");
	CHECK(!(fd_events(m->fd) & POLLOUT), "late TX drain not repaired: epoll would spin");
out:
	fix_fini(&f);
}

/* ---- two threads, many packets, blocking in vnm_poll ---- */

#define MT_PKTS 1000000ULL

struct mt_arg {
	struct vnm_port *d;
	int ok;
	unsigned long polls, timeouts;
};

static void *mt_tx(void *p)
{
	struct mt_arg *a = p;
	uint64_t seq = 0;
	unsigned burst = 1;
	while (seq < MT_PKTS) {
		unsigned want = burst;
		if (want > MT_PKTS - seq)
			want = (unsigned)(MT_PKTS - seq);
		put(a->d, want, &seq);
		if (vnm_txsync(a->d) < 0)
			return NULL;
		burst = burst * 7 % 97 + 1; /* varying batch sizes */
		if (nm_ring_empty(txr(a->d, 0))) {
			int r = vnm_poll(a->d, POLLOUT, 5000);
			a->polls++;
			if (r == 0) {
				a->timeouts++;
				fprintf(stderr, "tx: poll timed out at %llu (lost wake-up)\n",
					(unsigned long long)seq);
				return NULL;
			}
			if (r < 0 || (r & POLLERR))
				return NULL;
		}
	}
	/* flush what is still pending */
	while (nm_tx_pending(txr(a->d, 0))) {
		if (vnm_poll(a->d, POLLOUT, 5000) <= 0)
			return NULL;
		vnm_txsync(a->d);
		if (!nm_tx_pending(txr(a->d, 0)))
			break;
		usleep(100);
	}
	a->ok = 1;
	return NULL;
}

static void *mt_rx(void *p)
{
	struct mt_arg *a = p;
	uint64_t seq = 0;
	while (seq < MT_PKTS) {
		int r = vnm_poll(a->d, POLLIN, 5000);
		a->polls++;
		if (r == 0) {
			a->timeouts++;
			fprintf(stderr, "rx: poll timed out at %llu (lost wake-up)\n",
				(unsigned long long)seq);
			return NULL;
		}
		if (r < 0 || (r & POLLERR))
			return NULL;
		if (get(a->d, &seq) < 0)
			return NULL;
		if ((seq & 0xffff) < 64)
			usleep(50); /* let the sender hit a full pipe now and then */
		vnm_rxsync(a->d);
	}
	a->ok = 1;
	return NULL;
}

static void test_threads(void)
{
	struct pipe_fix f;
	pthread_t th[2];
	struct mt_arg a[2] = { { 0 } };
	CHECK(fix_init(&f, 1, 256) == 0, "fixture");
	a[0].d = f.d[0];
	a[1].d = f.d[1];
	pthread_create(&th[0], NULL, mt_tx, &a[0]);
	pthread_create(&th[1], NULL, mt_rx, &a[1]);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	if (getenv("VERBOSE"))
		fprintf(stderr, "threads: tx polls %lu, rx polls %lu\n", a[0].polls, a[1].polls);
	CHECK(a[0].ok && a[1].ok, "threads failed (tx ok %d polls %lu, rx ok %d polls %lu)", a[0].ok,
	      a[0].polls, a[1].ok, a[1].polls);
out:
	fix_fini(&f);
}

/* Corrupt regions are refused at open with -EPROTO, never followed. */
static void test_bad_region(void)
{
	struct pipe_fix f;
	CHECK(fix_init(&f, 1, 64) == 0, "fixture");
	char *mem = mmap(NULL, f.size, PROT_READ | PROT_WRITE, MAP_SHARED, f.region_fd, 0);
	CHECK(mem != MAP_FAILED, "mmap");
	struct vnm_region_hdr *h = (struct vnm_region_hdr *)mem;
	vnm_port_close(f.d[1]);
	f.d[1] = NULL;
	f.quiet = 1;

	uint64_t save = h->ends[1].nifp_ofs;
	h->ends[1].nifp_ofs = f.size - 8;
	CHECK(fix_open_end(&f, 1) == -EPROTO, "nifp past the end accepted");
	h->ends[1].nifp_ofs = save;

	uint64_t *ro = (uint64_t *)(mem + save + 56);
	uint64_t rsave = ro[0];
	ro[0] = f.size; /* tx ring 0 outside */
	CHECK(fix_open_end(&f, 1) == -EPROTO, "ring outside accepted");
	ro[0] = rsave;

	uint32_t *ns = (uint32_t *)(mem + save + rsave + 8);
	uint32_t nsave = *ns;
	*ns = 0x10000000; /* slot array past the end */
	CHECK(fix_open_end(&f, 1) == -EPROTO, "huge num_slots accepted");
	*ns = nsave;

	h->ends[1].csb_ktoa_ofs = f.size - 64;
	CHECK(fix_open_end(&f, 1) == -EPROTO, "ktoa outside accepted");
	h->ends[1].csb_ktoa_ofs = h->ends[1].csb_atok_ofs + 2 * 64;

	h->magic ^= 1;
	CHECK(fix_open_end(&f, 1) == -EPROTO, "bad magic accepted");
	h->magic ^= 1;

	struct nm_csb_ktoa *k = (struct nm_csb_ktoa *)(mem + h->ends[1].csb_ktoa_ofs);
	k[0].hwtail = 64; /* == num_slots */
	CHECK(fix_open_end(&f, 1) == -EPROTO, "hwtail out of range accepted");
	k[0].hwtail = 63;

	h->ends[0].num_rx_rings = 2; /* peer disagrees */
	CHECK(fix_open_end(&f, 1) == -EPROTO, "peer ring count mismatch accepted");
	h->ends[0].num_rx_rings = 1;

	CHECK(fix_open_end(&f, 1) == 0, "restored region refused");
	munmap(mem, f.size);
out:
	fix_fini(&f);
}

int main(void)
{
	test_basic();
	test_lossless_full();
	test_frags();
	test_bad_slot();
	test_long_chain();
	test_peer_garbage();
	test_notify();
	test_late_notification();
	test_bad_region();
	test_threads();
	return fails ? 1 : 0;
}
