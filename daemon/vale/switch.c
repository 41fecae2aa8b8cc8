// SPDX-License-Identifier: BSD-2-Clause
/*
 * switch.c - a VALE learning switch: one forwarding thread per switch.
 *
 * Security model: frames come from untrusted peers through the port ops, which
 * validate rings and slots (ports/). Here we read only the first 12 bytes of a
 * frame (destination and source MACs), after checking the first fragment holds
 * them; any byte values are acceptable. A peer can fill the FDB with random
 * source MACs (bounded table, oldest evicted, counted) and flood (each port gets
 * at most one bounded batch per round, so it cannot starve the others).
 *
 * Threading: the port table (and the FDB) belong to whoever holds sw->lock. The
 * switch thread holds it for a whole forwarding round (one lock per round, not
 * per packet) and drops it only to sleep and between rounds when the control
 * plane asked for it (sw->pending), so attach/detach/dump from the main thread
 * wait at most one round, and once vnm_switch_detach() returns the thread no
 * longer touches the port. Kick fds are added to the epoll set from any thread
 * (epoll_ctl is thread-safe).
 *
 * Busy path: no system call while ports keep producing (clock_gettime is vDSO).
 * Idle: spin VNM_SPIN_US (default 20) re-checking, then sleep_prepare on every
 * port (need-kick flags + re-check, the Dekker pattern of csb.h), then epoll_wait.
 *
 * Lossless sources (VNM_PI_LOSSLESS): before a frame is queued, every destination
 * must have room for it (ops->space once per destination per batch, then counted
 * down; a frame over VNM_BUF_SIZE_DEFAULT bytes is counted as that many slots). The
 * batch stops at the first frame that does not fit; the rest stays in the source
 * ring and is retried when the destination frees slots (its ports arm their rx
 * need-kick). A lossless source waits as long as a destination's client does not
 * drain its rx ring (a port with no client bound to it does not hold it back).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vale/fdb.h"
#include "vale/switch.h"

#define SW_BATCH VNM_BATCH_MAX
#define SW_EST_BUF VNM_BUF_SIZE_DEFAULT /* lossless: slot estimate per frame */

/* A monitor of a port (switch.h): under lock, like the port table. */
struct sw_mon {
	struct vnm_dport *m;
	vnm_switch_mon_deliver_fn deliver;
	uint32_t dirs;      /* VNM_MON_TX | VNM_MON_RX */
	uint32_t ring_mask; /* monitor rings bound by its client */
	uint8_t touched;    /* copied into this round: deliver_flush after the round */
};

struct vnm_switch {
	struct vnm_fdb fdb; /* first: 64-byte aligned */
	char name[VNM_NAME_MAX];
	pthread_t thr;
	int thr_started;
	int epfd, evfd;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int pending; /* control-plane callers waiting for the lock (atomic) */
	int stop;    /* atomic */
	unsigned spin_us;
	uint32_t flags;      /* VNM_SWITCH_F_*, fixed at creation */
	int retry;           /* switch thread: a hub source kept frames; sleep 1 ms at most */

	/* under lock */
	int *wfd;            /* watched kick fds: an event is drained only if still listed */
	uint32_t *wflags;    /* VNM_WATCH_* of each wfd[] entry (NODRAIN: never read) */
	unsigned nwfd, capwfd;
	struct vnm_dport *port[VNM_SWITCH_MAX_PORTS];
	uint8_t list[VNM_SWITCH_MAX_PORTS]; /* attached indices, attach order */
	unsigned nports;
	struct sw_mon mon[VNM_SWITCH_MAX_PORTS][VNM_SWITCH_MAX_MONS]; /* monitors of port[i] */
	uint8_t nmon[VNM_SWITCH_MAX_PORTS];
	unsigned nmon_total;

	/* switch thread only (a round) */
	unsigned rr_start;
	uint32_t gen;
	uint32_t budget_gen[VNM_SWITCH_MAX_PORTS];
	uint32_t budget[VNM_SWITCH_MAX_PORTS];
	uint16_t dcnt[VNM_SWITCH_MAX_PORTS];
	uint8_t dactive[VNM_SWITCH_MAX_PORTS];
	uint8_t touched[VNM_SWITCH_MAX_PORTS];
	uint16_t ident[SW_BATCH];                    /* 0, 1, 2, ...: /t monitor lists */
	struct vnm_frame *frames;                    /* [SW_BATCH] */
	uint16_t (*dlist)[SW_BATCH];                 /* [VNM_SWITCH_MAX_PORTS][SW_BATCH] */
};

static inline uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint32_t now_ms(void)
{
	return (uint32_t)(now_ns(CLOCK_MONOTONIC_COARSE) / 1000000ull);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* ---- control-plane side of the lock ------------------------------------------------ */

static void ctl_lock(struct vnm_switch *sw)
{
	__atomic_fetch_add(&sw->pending, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&sw->lock);
}

static void ctl_unlock(struct vnm_switch *sw)
{
	__atomic_fetch_sub(&sw->pending, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&sw->cv);
	pthread_mutex_unlock(&sw->lock);
}

/* ---- forwarding -------------------------------------------------------------------- */

static inline void dst_add(struct vnm_switch *sw, unsigned d, unsigned *ndact, uint16_t i)
{
	uint16_t c = sw->dcnt[d];

	if (c == 0)
		sw->dactive[(*ndact)++] = (uint8_t)d;
	sw->dlist[d][c] = i;
	sw->dcnt[d] = c + 1;
}

/* Lossless sources: can destination d take a frame of len bytes (with what it already got)? */
static inline int dst_room(struct vnm_switch *sw, unsigned d, uint32_t len)
{
	uint32_t need = len <= SW_EST_BUF ? 1 : (len + SW_EST_BUF - 1) / SW_EST_BUF;

	if (sw->budget_gen[d] != sw->gen) {
		struct vnm_dport *q = sw->port[d];
		sw->budget_gen[d] = sw->gen;
		sw->budget[d] = q->ops->space(q);
	}
	if (sw->budget[d] < need)
		return 0;
	sw->budget[d] -= need;
	return 1;
}

/* ---- monitors (switch.h): copies, never waiting ------------------------------------ */

static void mon_copy(struct sw_mon *mo, unsigned ring, const struct vnm_frame *frames,
		     const uint16_t *idx, unsigned n)
{
	int taken;

	if (ring >= 32 || !(mo->ring_mask & (1u << ring)))
		return; /* a ring its client did not bind: not monitored */
	taken = mo->deliver(mo->m, ring, frames, idx, n);
	if (taken < 0)
		taken = 0;
	if ((unsigned)taken < n)
		mo->m->stats.drop_full += n - (unsigned)taken;
	mo->touched = 1;
}

/* Frames idx[0..n) were delivered into port d: copy them to its /r monitors. */
static void mon_rx(struct vnm_switch *sw, unsigned d, const struct vnm_frame *frames,
		   const uint16_t *idx, unsigned n)
{
	for (unsigned k = 0; k < sw->nmon[d]; k++)
		if (sw->mon[d][k].dirs & VNM_MON_RX)
			mon_copy(&sw->mon[d][k], 0, frames, idx, n);
}

/* Frames [0, n) of source port s were consumed: copy them to its /t monitors, by ring. */
static void mon_tx(struct vnm_switch *sw, struct vnm_dport *p, unsigned s, unsigned n)
{
	for (unsigned k = 0; k < sw->nmon[s]; k++) {
		struct sw_mon *mo = &sw->mon[s][k];
		unsigned i = 0;

		if (!(mo->dirs & VNM_MON_TX))
			continue;
		while (i < n) {
			/* frames of one ring are contiguous in a batch: one call per run */
			unsigned r = p->ops->frame_ring ? p->ops->frame_ring(p, i) : 0, j = i + 1;
			while (j < n && (p->ops->frame_ring ? p->ops->frame_ring(p, j) : 0) == r)
				j++;
			mon_copy(mo, r, sw->frames, sw->ident + i, j - i);
			i = j;
		}
	}
}

static void mon_flush(struct vnm_switch *sw)
{
	for (unsigned li = 0; li < sw->nports; li++) {
		unsigned d = sw->list[li];
		for (unsigned k = 0; k < sw->nmon[d]; k++) {
			struct sw_mon *mo = &sw->mon[d][k];
			if (mo->touched) {
				mo->touched = 0;
				mo->m->ops->deliver_flush(mo->m);
			}
		}
	}
}

/*
 * Classify frames[0..n) of source port s and deliver them. Returns how many
 * frames were handled (delivered or dropped); a lossless source stops at the
 * first frame some destination has no room for.
 */
static unsigned forward_batch(struct vnm_switch *sw, struct vnm_dport *p, unsigned s, unsigned n,
			      uint32_t tnow)
{
	struct vnm_frame *frames = sw->frames;
	const int lossless = !!(p->flags & VNM_PI_LOSSLESS);
	unsigned ndact = 0, handled = n, i;
	uint64_t runt = 0, self = 0, moves = 0;

	if (lossless)
		sw->gen++;
	for (i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[i];
		if (i + 1 < n)
			__builtin_prefetch(&frames[i + 1].frag_len[0]);
		if (unlikely(f->len < 14 || f->frag_len[0] < 12)) {
			runt++;
			continue;
		}
		const uint8_t *eh = f->frag[0];
		if (likely(!vnm_mac_is_group(eh + 6))) {
			if (unlikely(vnm_fdb_learn(&sw->fdb, eh + 6, s, tnow) & VNM_FDB_L_MOVED))
				moves++;
		}
		int d = vnm_mac_is_group(eh) ? -1 : vnm_fdb_lookup(&sw->fdb, eh);
		if (d >= 0 && likely(sw->port[d] != NULL)) {
			if (unlikely((unsigned)d == s)) {
				self++;
				continue;
			}
			if (lossless && !dst_room(sw, (unsigned)d, f->len)) {
				handled = i;
				break;
			}
			dst_add(sw, (unsigned)d, &ndact, (uint16_t)i);
			continue;
		}
		/* unknown unicast, multicast, broadcast: flood to every other port */
		if (lossless) {
			unsigned ok = 1;
			for (unsigned li = 0; li < sw->nports && ok; li++) {
				unsigned o = sw->list[li];
				if (o != s && !dst_room(sw, o, f->len))
					ok = 0;
			}
			if (!ok) {
				/* budget taken from other ports for this frame: unused */
				handled = i;
				break;
			}
		}
		for (unsigned li = 0; li < sw->nports; li++) {
			unsigned o = sw->list[li];
			if (o != s)
				dst_add(sw, o, &ndact, (uint16_t)i);
		}
	}
	p->stats.drop_runt += runt;
	p->stats.drop_self += self;
	p->stats.fdb_moves += moves;

	for (unsigned a = 0; a < ndact; a++) {
		unsigned d = sw->dactive[a];
		struct vnm_dport *q = sw->port[d];
		unsigned cnt = sw->dcnt[d];
		int taken = q->ops->deliver(q, frames, sw->dlist[d], cnt);

		if (taken < 0)
			taken = 0;
		if ((unsigned)taken < cnt)
			q->stats.drop_full += cnt - (unsigned)taken;
		if (unlikely(sw->nmon[d]) && taken > 0)
			mon_rx(sw, d, frames, sw->dlist[d], (unsigned)taken);
		sw->dcnt[d] = 0;
		sw->touched[d] = 1; /* deliver_flush after the round */
	}
	return handled;
}

/*
 * Hub mode (VNM_SWITCH_F_HUB): no FDB; frames go to every other port (one, attach
 * refuses a third). Returns how many frames were handled: for a lossless source,
 * up to the first frame the destination did not take (the rest stays in its ring).
 */
static unsigned forward_hub(struct vnm_switch *sw, struct vnm_dport *p, unsigned s, unsigned n)
{
	const int lossless = !!(p->flags & VNM_PI_LOSSLESS);
	uint16_t *l = sw->dlist[s]; /* the source's own list is unused this round: scratch */
	unsigned cnt = 0, handled = n, runt = 0;

	for (unsigned i = 0; i < n; i++) {
		if (unlikely(sw->frames[i].len < 14 || sw->frames[i].frag_len[0] < 12))
			continue; /* counted below, up to the cut */
		l[cnt++] = (uint16_t)i;
	}
	for (unsigned li = 0; li < sw->nports; li++) {
		unsigned d = sw->list[li];
		struct vnm_dport *q = sw->port[d];
		if (d == s)
			continue;
		int taken = cnt ? q->ops->deliver(q, sw->frames, l, cnt) : 0;
		if (taken < 0)
			taken = 0;
		if (unlikely(sw->nmon[d]) && taken > 0)
			mon_rx(sw, d, sw->frames, l, (unsigned)taken);
		if ((unsigned)taken < cnt) {
			if (lossless) {
				handled = l[taken];
				sw->retry = 1;
			} else {
				q->stats.drop_full += cnt - (unsigned)taken;
			}
		}
		sw->touched[d] = 1;
	}
	for (unsigned i = 0; i < handled; i++)
		if (sw->frames[i].len < 14 || sw->frames[i].frag_len[0] < 12)
			runt++;
	p->stats.drop_runt += runt;
	return handled;
}

/* One round over all ports. Returns 1 if any frame was handled. */
static int sw_round(struct vnm_switch *sw)
{
	uint32_t tnow = now_ms();
	unsigned np = sw->nports, li;
	int progress = 0;

	sw->retry = 0;
	/* start one port further every round: no port always gets destination room first */
	if (++sw->rr_start >= np)
		sw->rr_start = 0;
	li = sw->rr_start;
	for (unsigned k = 0; k < np; k++, li = li + 1 == np ? 0 : li + 1) {
		unsigned s = sw->list[li];
		struct vnm_dport *p = sw->port[s];
		int n = p->ops->rx_batch(p, sw->frames, SW_BATCH);

		if (n <= 0)
			continue;
		unsigned handled = (sw->flags & VNM_SWITCH_F_HUB)
					   ? forward_hub(sw, p, s, (unsigned)n)
					   : forward_batch(sw, p, s, (unsigned)n, tnow);
		if (unlikely(sw->nmon[s]) && handled)
			mon_tx(sw, p, s, handled); /* frames stay valid until rx_done */
		p->ops->rx_done(p, handled);
		if (handled)
			progress = 1;
	}
	for (unsigned li = 0; li < sw->nports; li++) {
		unsigned d = sw->list[li];
		if (sw->touched[d]) {
			struct vnm_dport *q = sw->port[d];
			sw->touched[d] = 0;
			q->ops->deliver_flush(q);
		}
	}
	if (unlikely(sw->nmon_total))
		mon_flush(sw);
	return progress;
}

/* Under sw->lock: drain fd if it is still watched (it may have been unwatched, closed and
 * its number reused since epoll_wait returned; vnm_switch_unwatch_fd removes it under lock). */
static void drain_fd(struct vnm_switch *sw, int fd)
{
	if (fd == sw->evfd) {
		/* our own eventfd (vnm_switch_kick) is never unwatched: drain it always */
		uint64_t v;
		ssize_t r = read(fd, &v, sizeof(v));
		(void)r;
		return;
	}
	for (unsigned i = 0; i < sw->nwfd; i++) {
		if (sw->wfd[i] == fd) {
			uint64_t v;
			if (sw->wflags[i] & VNM_WATCH_NODRAIN)
				return; /* a data fd: the port's rx_batch consumes what woke us */
			ssize_t r = read(fd, &v, sizeof(v));
			(void)r;
			return;
		}
	}
}

static void *sw_thread(void *arg)
{
	struct vnm_switch *sw = arg;
	struct epoll_event ev[32];
	uint64_t spin_start = 0;
	int spinning = 0;

	pthread_mutex_lock(&sw->lock);
	while (!__atomic_load_n(&sw->stop, __ATOMIC_RELAXED)) {
		/* let the control plane in between rounds */
		while (__atomic_load_n(&sw->pending, __ATOMIC_RELAXED) &&
		       !__atomic_load_n(&sw->stop, __ATOMIC_RELAXED))
			pthread_cond_wait(&sw->cv, &sw->lock);

		if (sw_round(sw)) {
			spinning = 0;
			continue;
		}
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		if (!spinning) {
			spinning = 1;
			spin_start = t;
			continue;
		}
		if (t - spin_start < (uint64_t)sw->spin_us * 1000u) {
			cpu_relax();
			continue;
		}
		spinning = 0;

		int work = 0;
		for (unsigned li = 0; li < sw->nports; li++) {
			struct vnm_dport *p = sw->port[sw->list[li]];
			work |= p->ops->sleep_prepare(p);
		}
		if (!work && !__atomic_load_n(&sw->pending, __ATOMIC_RELAXED)) {
			pthread_mutex_unlock(&sw->lock);
			/* a hub source kept frames the other port refused (ENOBUFS): retry soon */
			int nev = epoll_wait(sw->epfd, ev, 32, sw->retry ? 1 : -1);
			pthread_mutex_lock(&sw->lock);
			for (int e = 0; e < nev; e++)
				drain_fd(sw, ev[e].data.fd);
		}
		/* clear need-kick: no kicks while we run (ports attached meanwhile too) */
		for (unsigned li = 0; li < sw->nports; li++) {
			struct vnm_dport *p = sw->port[sw->list[li]];
			p->ops->wake(p);
		}
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

/* ---- API ----------------------------------------------------------------------------- */

int vnm_switch_create(const char *name, struct vnm_switch **out)
{
	return vnm_switch_create2(name, 0, out);
}

int vnm_switch_create2(const char *name, uint32_t flags, struct vnm_switch **out)
{
	struct vnm_switch *sw;
	size_t nl = name ? strlen(name) : 0;
	int err;

	if (nl == 0 || nl >= VNM_NAME_MAX || (flags & ~(uint32_t)VNM_SWITCH_F_HUB))
		return -EINVAL;
	if (posix_memalign((void **)&sw, 64, sizeof(*sw)))
		return -ENOMEM;
	memset(sw, 0, sizeof(*sw));
	memcpy(sw->name, name, nl + 1);
	sw->flags = flags;
	vnm_fdb_init(&sw->fdb);
	sw->epfd = sw->evfd = -1;
	sw->spin_us = 20;
	const char *e = getenv("VNM_SPIN_US");
	if (e && *e) {
		char *end;
		unsigned long v = strtoul(e, &end, 10);
		if (*end == '\0' && v <= 1000000)
			sw->spin_us = (unsigned)v;
	}
	for (unsigned i = 0; i < SW_BATCH; i++)
		sw->ident[i] = (uint16_t)i;
	sw->frames = calloc(SW_BATCH, sizeof(*sw->frames));
	sw->dlist = calloc(VNM_SWITCH_MAX_PORTS, sizeof(*sw->dlist));
	if (!sw->frames || !sw->dlist) {
		err = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&sw->lock, NULL);
	pthread_cond_init(&sw->cv, NULL);
	sw->epfd = epoll_create1(EPOLL_CLOEXEC);
	sw->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sw->epfd < 0 || sw->evfd < 0) {
		err = -errno;
		goto fail_sync;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = sw->evfd };
	if (epoll_ctl(sw->epfd, EPOLL_CTL_ADD, sw->evfd, &ev) < 0) {
		err = -errno;
		goto fail_sync;
	}
	err = -pthread_create(&sw->thr, NULL, sw_thread, sw);
	if (err)
		goto fail_sync;
	sw->thr_started = 1;
	char tn[16] = "sw:";
	memcpy(tn + 3, sw->name, nl < 12 ? nl : 12); /* 15 chars max */
	pthread_setname_np(sw->thr, tn);
	*out = sw;
	return 0;

fail_sync:
	pthread_cond_destroy(&sw->cv);
	pthread_mutex_destroy(&sw->lock);
fail:
	if (sw->epfd >= 0)
		close(sw->epfd);
	if (sw->evfd >= 0)
		close(sw->evfd);
	free(sw->frames);
	free(sw->dlist);
	free(sw);
	return err;
}

void vnm_switch_kick(struct vnm_switch *sw)
{
	uint64_t one = 1;
	ssize_t r = write(sw->evfd, &one, sizeof(one));
	(void)r; /* EAGAIN: counter saturated, the thread wakes anyway */
}

void vnm_switch_destroy(struct vnm_switch *sw)
{
	if (!sw)
		return;
	if (sw->thr_started) {
		__atomic_store_n(&sw->stop, 1, __ATOMIC_SEQ_CST);
		pthread_mutex_lock(&sw->lock);
		pthread_cond_broadcast(&sw->cv);
		pthread_mutex_unlock(&sw->lock);
		vnm_switch_kick(sw);
		pthread_join(sw->thr, NULL);
	}
	pthread_cond_destroy(&sw->cv);
	pthread_mutex_destroy(&sw->lock);
	close(sw->epfd);
	close(sw->evfd);
	free(sw->frames);
	free(sw->dlist);
	free(sw->wfd);
	free(sw->wflags);
	free(sw);
}

const char *vnm_switch_name(const struct vnm_switch *sw)
{
	return sw->name;
}

unsigned vnm_switch_nports(struct vnm_switch *sw)
{
	return __atomic_load_n(&sw->nports, __ATOMIC_RELAXED);
}

int vnm_switch_attach(struct vnm_switch *sw, struct vnm_dport *p)
{
	int idx = -1;

	if (p->sw_idx >= 0)
		return -EBUSY; /* attached (here or to another switch) */
	ctl_lock(sw);
	for (unsigned i = 0; i < VNM_SWITCH_MAX_PORTS; i++) {
		if (sw->port[i] == p) {
			ctl_unlock(sw);
			return -EEXIST;
		}
		if (idx < 0 && sw->port[i] == NULL)
			idx = (int)i;
	}
	if (idx < 0 || ((sw->flags & VNM_SWITCH_F_HUB) && sw->nports >= 2)) {
		ctl_unlock(sw);
		return -ENOSPC;
	}
	/* a stale entry for this index cannot exist: detach flushed it */
	sw->port[idx] = p;
	sw->list[sw->nports] = (uint8_t)idx;
	__atomic_store_n(&sw->nports, sw->nports + 1, __ATOMIC_RELAXED);
	p->sw_idx = idx;
	ctl_unlock(sw);
	vnm_switch_kick(sw);
	return 0;
}

void vnm_switch_detach(struct vnm_switch *sw, struct vnm_dport *p)
{
	ctl_lock(sw);
	int idx = p->sw_idx;
	if (idx >= 0 && idx < VNM_SWITCH_MAX_PORTS && sw->port[idx] == p) {
		unsigned li;
		for (li = 0; li < sw->nports && sw->list[li] != idx; li++)
			;
		for (; li + 1 < sw->nports; li++)
			sw->list[li] = sw->list[li + 1];
		__atomic_store_n(&sw->nports, sw->nports - 1, __ATOMIC_RELAXED);
		sw->port[idx] = NULL;
		sw->nmon_total -= sw->nmon[idx]; /* its monitors stop with it (registry.c) */
		sw->nmon[idx] = 0;
		vnm_fdb_flush_port(&sw->fdb, (unsigned)idx);
		p->sw_idx = -1;
	}
	ctl_unlock(sw);
	/* a lossless sender may have been waiting for this port: re-evaluate */
	vnm_switch_kick(sw);
}

int vnm_switch_mon_add(struct vnm_switch *sw, struct vnm_dport *p, struct vnm_dport *mon,
		       uint32_t dirs, uint32_t ring_mask, vnm_switch_mon_deliver_fn deliver)
{
	int ret = 0;

	if (!dirs || (dirs & ~(uint32_t)(VNM_MON_TX | VNM_MON_RX)) || !deliver || !mon)
		return -EINVAL;
	ctl_lock(sw);
	int idx = p->sw_idx;
	if (idx < 0 || idx >= VNM_SWITCH_MAX_PORTS || sw->port[idx] != p) {
		ret = -ENXIO;
	} else if (sw->nmon[idx] >= VNM_SWITCH_MAX_MONS) {
		ret = -ENOSPC;
	} else {
		struct sw_mon *mo = &sw->mon[idx][sw->nmon[idx]++];
		mo->m = mon;
		mo->deliver = deliver;
		mo->dirs = dirs;
		mo->ring_mask = ring_mask;
		mo->touched = 0;
		sw->nmon_total++;
	}
	ctl_unlock(sw);
	return ret;
}

void vnm_switch_mon_del(struct vnm_switch *sw, struct vnm_dport *p, struct vnm_dport *mon)
{
	ctl_lock(sw);
	int idx = p->sw_idx;
	if (idx >= 0 && idx < VNM_SWITCH_MAX_PORTS && sw->port[idx] == p) {
		for (unsigned k = 0; k < sw->nmon[idx]; k++) {
			if (sw->mon[idx][k].m != mon)
				continue;
			/* touched is always 0 between rounds: nothing left to flush */
			sw->mon[idx][k] = sw->mon[idx][--sw->nmon[idx]];
			sw->nmon_total--;
			break;
		}
	}
	ctl_unlock(sw);
}

void vnm_switch_locked(struct vnm_switch *sw, void (*fn)(void *), void *arg)
{
	ctl_lock(sw);
	fn(arg);
	ctl_unlock(sw);
	vnm_switch_kick(sw);
}

int vnm_switch_watch_fd(struct vnm_switch *sw, int fd)
{
	return vnm_switch_watch_fd2(sw, fd, 0);
}

int vnm_switch_watch_fd2(struct vnm_switch *sw, int fd, uint32_t flags)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	int ret = 0;

	if (flags & ~(uint32_t)(VNM_WATCH_NODRAIN | VNM_WATCH_OUT_ET))
		return -EINVAL;
	if (flags & VNM_WATCH_OUT_ET)
		ev.events |= EPOLLOUT | EPOLLET;
	ctl_lock(sw);
	if (sw->nwfd == sw->capwfd) {
		unsigned cap = sw->capwfd ? sw->capwfd * 2 : 16;
		int *n = realloc(sw->wfd, cap * sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		sw->wfd = n;
		uint32_t *fl = realloc(sw->wflags, cap * sizeof(*fl));
		if (!fl) {
			ret = -ENOMEM;
			goto out; /* wfd grew, capwfd did not: harmless */
		}
		sw->wflags = fl;
		sw->capwfd = cap;
	}
	if (epoll_ctl(sw->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		goto out;
	}
	sw->wflags[sw->nwfd] = flags;
	sw->wfd[sw->nwfd++] = fd;
out:
	ctl_unlock(sw);
	return ret;
}

void vnm_switch_unwatch_fd(struct vnm_switch *sw, int fd)
{
	ctl_lock(sw);
	epoll_ctl(sw->epfd, EPOLL_CTL_DEL, fd, NULL);
	for (unsigned i = 0; i < sw->nwfd; i++) {
		if (sw->wfd[i] == fd) {
			sw->wflags[i] = sw->wflags[sw->nwfd - 1];
			sw->wfd[i] = sw->wfd[--sw->nwfd];
			break;
		}
	}
	ctl_unlock(sw);
}

int vnm_switch_fdb_dump(struct vnm_switch *sw, struct vnm_ctl_fdb_entry *out, int max)
{
	struct vnm_fdb_dump_ent *tmp;
	int n;

	if (max <= 0)
		return 0;
	if (max > (int)VNM_FDB_ENTRIES)
		max = VNM_FDB_ENTRIES;
	tmp = malloc((size_t)max * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	ctl_lock(sw);
	n = vnm_fdb_dump(&sw->fdb, tmp, max, now_ms());
	for (int i = 0; i < n; i++) {
		unsigned pi = tmp[i].port;
		struct vnm_dport *q = pi < VNM_SWITCH_MAX_PORTS ? sw->port[pi] : NULL;
		memset(&out[i], 0, sizeof(out[i]));
		memcpy(out[i].mac, tmp[i].mac, 6);
		out[i].port_idx = tmp[i].port;
		if (q)
			snprintf(out[i].port, sizeof(out[i].port), "%s", q->name);
		out[i].age_ms = tmp[i].age_ms;
	}
	ctl_unlock(sw);
	free(tmp);
	return n;
}

void vnm_switch_fdb_counters(struct vnm_switch *sw, struct vnm_switch_fdb_counters *c)
{
	ctl_lock(sw);
	c->entries = sw->fdb.entries;
	c->learned = sw->fdb.learned;
	c->moves = sw->fdb.moves;
	c->evictions = sw->fdb.evictions;
	ctl_unlock(sw);
}
