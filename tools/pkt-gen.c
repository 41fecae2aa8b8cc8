// SPDX-License-Identifier: BSD-2-Clause
/*
 * pkt-gen - netmap's packet generator and sink, on vnetmap ports (docs/man/pkt-gen.md).
 *
 *   pkt-gen -i PORT -f tx|rx|ping|pong|txseq|rxseq [-l len] [-b burst] [-n count] ...
 *
 * One thread per ring set: with -p N > 1 and no ring suffix in PORT, thread i opens
 * "PORT-i". Each thread fills (or drains) up to -b slots per ring from cur, publishes
 * head = cur, and syncs once per round; it sleeps in vnm_poll() only when a ring has
 * no space (tx) or nothing to read (rx). The main thread prints a report line every
 * -T ms and the final lines after the workers are joined.
 *
 * Security model: received frames are peer input. Receivers read only slots in
 * [head, tail), clamp each slot's len to nr_buf_size, end a chain after NM_MAX_FRAGS
 * slots, and parse header fields only within the bytes actually received.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vnetmap.h>

#include "common/pg_pkt.h"

enum pg_func { PG_TX, PG_RX, PG_PING, PG_PONG, PG_TXSEQ, PG_RXSEQ };

static const struct {
	const char *name;
	int func;
	unsigned burst;
} pg_funcs[] = {
	{ "tx", PG_TX, 512 },	  { "rx", PG_RX, 512 },	      { "ping", PG_PING, 1 },
	{ "pong", PG_PONG, 1 },	  { "txseq", PG_TXSEQ, 512 }, { "rxseq", PG_RXSEQ, 512 },
};

#define PG_NO_SPACE 99999   /* min_space when nothing was measured (netmap's value) */
#define PG_SEQ_WIN 65536    /* rxseq: sequence numbers remembered for duplicate detection */
#define PG_WAIT_MS 100      /* longest sleep in vnm_poll, so a stop request is seen quickly */
#define PG_RAW_EXTRA 24     /* preamble + IFG + CRC bytes per frame for "raw" bandwidth */

struct pg_glob {
	const char *ifname;
	int func;
	unsigned len, burst, nthreads, frags, frag_max, vhdr;
	int affinity, report_ms, wait_s, framing;
	uint64_t npackets, rate;
	double idle_s;
	int rand_src, rand_dst, ranges;
	struct pg_iprange src, dst;
	const char *src_name, *dst_name, *smac_name, *dmac_name;
	uint8_t smac[6], dmac[6];

	uint64_t last_rx_ns; /* receivers: monotonic time of the latest frame, any thread */
	uint64_t rx_claimed; /* receivers with -n: frames claimed by the threads (exact total) */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ndone, nstarted;
};

struct pg_seq {
	uint64_t received, lost, ooo, dups;
	uint32_t first, next;
	int started;
	uint64_t bits[PG_SEQ_WIN / 64];
	time_t msg_sec;
	unsigned msg_count;
};

struct pg_chain {      /* rx: a frame being assembled from slots */
	unsigned nslots;
	uint64_t len;
	unsigned have;  /* header bytes gathered */
	uint8_t hdr[64];
};

struct pg_thread {
	struct pg_glob *g;
	unsigned me;
	char spec[VNM_PORTSPEC_MAX + 16];
	struct vnm_port *d;
	pthread_t th;
	int failed, opening;
	char errmsg[256];

	/* read by the main thread while running: relaxed atomics */
	uint64_t pkts, bytes, events, min_space;

	struct timespec tic, toc;
	int have_tic;
	uint64_t quota;  /* packets for this thread, 0 = no limit */

	uint8_t *frame;  /* tx template: vhdr bytes, then the frame */
	unsigned size;   /* vhdr + len */
	unsigned frags, frag_size, prefix;
	uint32_t **known; /* tx, one slot per frame: buf_idx known to hold the template */
	uint64_t rng;
	uint32_t seqno, sip, dip;
	uint16_t sport, dport;

	struct pg_chain *chain; /* rx, per ring */
	struct pg_seq seq;
};

/* set by the signal handler, read by every thread: lock-free atomic, ordering not needed */
static _Atomic int pg_stop;

static void pg_on_signal(int sig)
{
	(void)sig;
	pg_stop = 1;
}

static inline void pg_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t pg_get(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void pg_space_seen(struct pg_thread *t, uint64_t space)
{
	if (space < pg_get(&t->min_space))
		pg_set(&t->min_space, space);
}

static struct timespec pg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static double pg_sec(struct timespec a, struct timespec b) /* b - a */
{
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
}

static uint64_t pg_ns(struct timespec ts)
{
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep (then spin for the last 100 us) until the monotonic time ns; returns early on stop. */
static void pg_wait_until(uint64_t ns)
{
	for (;;) {
		uint64_t now = pg_ns(pg_now());

		if (now >= ns || pg_stop)
			return;
		if (ns - now > 100000) {
			uint64_t d = ns - now - 50000;
			struct timespec ts;

			if (d > 100000000)
				d = 100000000;
			ts.tv_sec = (time_t)(d / 1000000000ull);
			ts.tv_nsec = (long)(d % 1000000000ull);
			nanosleep(&ts, NULL);
		}
	}
}

static void pg_err_cb(void *arg, int err, const char *msg)
{
	struct pg_thread *t = arg;
	size_t n = strlen(t->spec);

	(void)err;
	/* the library's messages may start with the port name: do not print it twice */
	if (!strncmp(msg, t->spec, n) && msg[n] == ':' && msg[n + 1] == ' ')
		msg += n + 2;
	if (t->opening)
		snprintf(t->errmsg, sizeof(t->errmsg), "%s", msg);
	else
		fprintf(stderr, "pkt-gen: %s: %s\n", t->spec, msg);
}

/* A sync or poll failed: report it once and make the thread stop. */
static int pg_fail(struct pg_thread *t, const char *what, int err)
{
	fprintf(stderr, "pkt-gen: %s: %s: %s\n", t->spec, what, strerror(-err));
	t->failed = 1;
	return err;
}

/*
 * Sleep until the rings have what events asks for (or PG_WAIT_MS pass): 0, or -errno
 * after reporting (POLLERR: a ring was reset). A hang-up (a pipe peer gone) is not an
 * error: the thread keeps waiting, without spinning.
 */
static int pg_wait(struct pg_thread *t, short events)
{
	int ret = vnm_poll(t->d, events, PG_WAIT_MS);

	if (ret < 0)
		return pg_fail(t, "poll", ret);
	if (ret & POLLERR)
		return pg_fail(t, "poll", -EIO);
	if ((ret & (POLLHUP | POLLNVAL)) && !(ret & events))
		usleep(PG_WAIT_MS * 1000);
	return 0;
}

/* ------------------------------------------------------------------ transmit */

/* Rewrite the template fields that change per frame (sequence number, addresses). */
static void pg_frame_next(struct pg_thread *t)
{
	struct pg_glob *g = t->g;
	uint8_t *f = t->frame + g->vhdr;

	if (g->func == PG_TXSEQ)
		pg_frame_put32(f, g->len, PG_OFF_SEQ, t->seqno++);
	if (!g->ranges && !g->rand_src && !g->rand_dst)
		return;
	pg_frame_put32(f, g->len, PG_OFF_SRCIP, t->sip);
	pg_frame_put32(f, g->len, PG_OFF_DSTIP, t->dip);
	pg_frame_put16(f, g->len, PG_OFF_SPORT, __builtin_bswap16(t->sport));
	pg_frame_put16(f, g->len, PG_OFF_DPORT, __builtin_bswap16(t->dport));

	/* next addresses: random, or an odometer sport, sip, dport, dip over the ranges */
	if (g->rand_src) {
		uint64_t r = pg_rand(&t->rng);
		t->sip = (uint32_t)r;
		t->sport = (uint16_t)(r >> 32);
	}
	if (g->rand_dst) {
		uint64_t r = pg_rand(&t->rng);
		t->dip = (uint32_t)r;
		t->dport = (uint16_t)(r >> 32);
	}
	if (!g->ranges)
		return;
	if (!g->rand_src) {
		if (t->sport < g->src.port1) {
			t->sport++;
			return;
		}
		t->sport = g->src.port0;
		if (t->sip < g->src.end) {
			t->sip++;
			return;
		}
		t->sip = g->src.start;
	}
	if (!g->rand_dst) {
		if (t->dport < g->dst.port1) {
			t->dport++;
			return;
		}
		t->dport = g->dst.port0;
		t->dip = t->dip < g->dst.end ? t->dip + 1 : g->dst.start;
	}
}

/* TX slots the application owns: [head, tail) (cur may have been moved up to tail). */
static inline uint32_t pg_tx_space(const struct netmap_ring *r)
{
	return r->tail >= r->head ? r->tail - r->head : r->tail + r->num_slots - r->head;
}

/*
 * Fill up to limit frames from head; returns the frames queued. A single-slot frame
 * is copied only when its buffer is not known to hold the template (or only the
 * changing header prefix when it is).
 */
static unsigned pg_tx_fill(struct pg_thread *t, struct netmap_ring *ring, uint32_t *known,
			   unsigned limit)
{
	uint32_t head = ring->head, space = pg_tx_space(ring);
	unsigned sent = 0;

	pg_space_seen(t, space);
	while (sent < limit && space >= t->frags) {
		struct netmap_slot *slot = &ring->slot[head];

		pg_frame_next(t);
		if (t->frags == 1) {
			char *p = NETMAP_BUF(ring, slot->buf_idx);

			if (known[head] != slot->buf_idx || (slot->flags & NS_BUF_CHANGED)) {
				nm_pkt_copy(t->frame, p, (int)t->size);
				known[head] = slot->buf_idx;
			} else if (t->prefix) {
				memcpy(p, t->frame, t->prefix);
			}
			slot->len = (uint16_t)t->size;
			slot->flags = 0;
			head = nm_ring_next(ring, head);
		} else {
			unsigned off = 0;

			for (unsigned k = 0; k < t->frags; k++) {
				unsigned n = k + 1 < t->frags ? t->frag_size : t->size - off;

				slot = &ring->slot[head];
				memcpy(NETMAP_BUF(ring, slot->buf_idx), t->frame + off, n);
				known[head] = UINT32_MAX;
				slot->len = (uint16_t)n;
				slot->flags = k + 1 < t->frags ? NS_MOREFRAG : 0;
				off += n;
				head = nm_ring_next(ring, head);
			}
		}
		space -= t->frags;
		sent++;
	}
	/*
	 * Plain stores: the slots and these indices reach the other side only through
	 * vnm_txsync(), which publishes cur then head with release ordering (csb.h).
	 */
	ring->head = ring->cur = head;
	if (space < t->frags)
		ring->cur = ring->tail; /* wake me when more than this is free */
	return sent;
}

static void *pg_tx_body(void *arg)
{
	struct pg_thread *t = arg;
	struct pg_glob *g = t->g;
	struct vnm_port *d = t->d;
	uint64_t sent = 0, events = 0, budget = 0, next_ns = 0, period_ns = 0;
	unsigned burst = g->burst;

	if (g->rate) {
		uint64_t r = g->rate / g->nthreads ? g->rate / g->nthreads : 1;

		if (burst > r / 300)
			burst = (unsigned)(r / 300);
		if (burst == 0)
			burst = 1;
		period_ns = 1000000000ull * burst / r;
	}
	t->tic = pg_now();
	t->have_tic = 1;
	next_ns = pg_ns(t->tic);
	while (!pg_stop && !t->failed && (!t->quota || sent < t->quota)) {
		int room = 0, ret;

		if (g->rate && budget == 0) {
			budget = burst;
			next_ns += period_ns;
			pg_wait_until(next_ns);
		}
		for (unsigned ri = d->first_tx_ring; ri <= d->last_tx_ring; ri++) {
			struct netmap_ring *ring = NETMAP_TXRING(d->nifp, ri);
			uint64_t limit = g->rate ? budget : burst;
			unsigned m;

			if (t->quota && t->quota - sent < limit)
				limit = t->quota - sent;
			if (limit == 0)
				break;
			m = pg_tx_fill(t, ring, t->known[ri - d->first_tx_ring], (unsigned)limit);
			if (m) {
				sent += m;
				events++;
				if (g->rate)
					budget -= m;
				pg_set(&t->pkts, sent);
				pg_set(&t->bytes, sent * t->size);
				pg_set(&t->events, events);
			}
		}
		ret = vnm_txsync(d);
		if (ret < 0) {
			pg_fail(t, "txsync", ret);
			break;
		}
		for (unsigned ri = d->first_tx_ring; ri <= d->last_tx_ring; ri++)
			if (pg_tx_space(NETMAP_TXRING(d->nifp, ri)) >= t->frags)
				room = 1;
		if (!room && pg_wait(t, POLLOUT) < 0)
			break;
	}
	/* flush, then wait (bounded) until every queued frame has left the ring */
	vnm_txsync(d);
	for (int i = 0; i < 20000 && !pg_stop && !t->failed; i++) {
		int pending = 0;

		for (unsigned ri = d->first_tx_ring; ri <= d->last_tx_ring; ri++)
			pending |= nm_tx_pending(NETMAP_TXRING(d->nifp, ri));
		if (!pending)
			break;
		usleep(100);
		vnm_txsync(d);
	}
	t->toc = pg_now();
	pg_set(&t->pkts, sent);
	pg_set(&t->bytes, sent * t->size);
	pg_set(&t->events, events);
	return NULL;
}

/* ------------------------------------------------------------------- receive */

static int pg_seq_msg_ok(struct pg_seq *q)
{
	time_t now = time(NULL);

	if (now != q->msg_sec) {
		q->msg_sec = now;
		q->msg_count = 0;
	}
	return q->msg_count++ < 5; /* at most 5 messages a second per thread */
}

static inline void pg_seq_mark(struct pg_seq *q, uint32_t s, int on)
{
	uint64_t bit = 1ull << (s % 64);

	if (on)
		q->bits[(s % PG_SEQ_WIN) / 64] |= bit;
	else
		q->bits[(s % PG_SEQ_WIN) / 64] &= ~bit;
}

static inline int pg_seq_marked(struct pg_seq *q, uint32_t s)
{
	return !!(q->bits[(s % PG_SEQ_WIN) / 64] & (1ull << (s % 64)));
}

/*
 * Account one sequence number. The window remembers [next - PG_SEQ_WIN, next): a
 * number above next is a gap (the skipped ones count as lost), one below next is a
 * duplicate if seen, else out of order (and no longer lost).
 */
static void pg_seq_account(struct pg_thread *t, uint32_t s)
{
	struct pg_seq *q = &t->seq;
	int32_t delta = (int32_t)(s - q->next);

	q->received++;
	if (!q->started) {
		q->started = 1;
		q->first = s;
		q->next = s + 1;
		pg_seq_mark(q, s, 1);
		return;
	}
	if (delta == 0) {
		pg_seq_mark(q, s, 1);
		q->next++;
	} else if (delta > 0) {
		q->lost += (uint64_t)delta;
		if (pg_seq_msg_ok(q))
			fprintf(stderr, "rxseq: gap: expected %u found %u (%u missing)\n", q->next, s,
				(unsigned)delta);
		if (delta >= PG_SEQ_WIN)
			memset(q->bits, 0, sizeof(q->bits));
		else
			for (uint32_t x = q->next; x != s; x++)
				pg_seq_mark(q, x, 0);
		pg_seq_mark(q, s, 1);
		q->next = s + 1;
	} else if ((uint32_t)-delta <= PG_SEQ_WIN && pg_seq_marked(q, s)) {
		q->dups++;
		if (pg_seq_msg_ok(q))
			fprintf(stderr, "rxseq: duplicate: %u (expected %u)\n", s, q->next);
	} else {
		q->ooo++;
		if ((uint32_t)-delta <= PG_SEQ_WIN) {
			pg_seq_mark(q, s, 1);
			if (q->lost)
				q->lost--;
		}
		if (pg_seq_msg_ok(q))
			fprintf(stderr, "rxseq: out-of-order: %u (expected %u)\n", s, q->next);
	}
}

/* Drain [head, tail) of one rx ring up to limit frames; returns the frames completed. */
static unsigned pg_rx_ring(struct pg_thread *t, struct netmap_ring *ring, struct pg_chain *c,
			   unsigned limit, uint64_t *bytes)
{
	struct pg_glob *g = t->g;
	uint32_t head = ring->head, tail = ring->tail;
	unsigned done = 0, want = g->func == PG_RXSEQ ? g->vhdr + PG_SEQ_END : 0;

	/* slots the sender may still fill: all but [head, tail) and the one kept empty */
	pg_space_seen(t, ring->num_slots - 1 - (tail + ring->num_slots - head) % ring->num_slots);
	while (head != tail && done < limit) {
		struct netmap_slot *slot = &ring->slot[head];
		unsigned len = slot->len <= ring->nr_buf_size ? slot->len : ring->nr_buf_size;

		if (c->have < want) {
			unsigned n = want - c->have < len ? want - c->have : len;

			memcpy(c->hdr + c->have, NETMAP_BUF(ring, slot->buf_idx), n);
			c->have += n;
		}
		c->len += len;
		c->nslots++;
		head = nm_ring_next(ring, head);
		if ((slot->flags & NS_MOREFRAG) && c->nslots < NM_MAX_FRAGS)
			continue;
		/* frame complete */
		done++;
		*bytes += c->len;
		if (want) {
			const uint8_t *h = c->hdr + g->vhdr;

			if (c->have >= want && h[PG_OFF_ETYPE] == 0x08 && h[PG_OFF_ETYPE + 1] == 0 &&
			    h[PG_OFF_IP + 9] == 17)
				pg_seq_account(t, pg_get_be32(h + PG_OFF_SEQ));
		}
		c->nslots = 0;
		c->len = 0;
		c->have = 0;
	}
	ring->head = ring->cur = head; /* released to the sender at the next vnm_rxsync() */
	return done;
}

/*
 * Receivers share -n: a thread claims up to want frames before draining a ring and
 * gives back what it did not take, so the threads together stop at exactly -n
 * whichever rings the frames arrive on. Returns the frames claimed (want if no -n).
 */
static uint64_t pg_rx_claim(struct pg_glob *g, uint64_t want)
{
	uint64_t cur, k;

	if (!g->npackets)
		return want;
	cur = __atomic_load_n(&g->rx_claimed, __ATOMIC_RELAXED);
	do {
		if (cur >= g->npackets)
			return 0;
		k = g->npackets - cur < want ? g->npackets - cur : want;
	} while (!__atomic_compare_exchange_n(&g->rx_claimed, &cur, cur + k, 0, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return k;
}

static void pg_rx_unclaim(struct pg_glob *g, uint64_t n)
{
	if (g->npackets && n)
		__atomic_fetch_sub(&g->rx_claimed, n, __ATOMIC_RELAXED);
}

static int pg_rx_all_done(struct pg_glob *g)
{
	return g->npackets && __atomic_load_n(&g->rx_claimed, __ATOMIC_RELAXED) >= g->npackets;
}

/* Wait for the first frame; 1 when there is one, 0 on stop. */
static int pg_rx_wait_first(struct pg_thread *t)
{
	struct vnm_port *d = t->d;

	while (!pg_stop) {
		uint64_t last = pg_get(&t->g->last_rx_ns);

		/* -E counts for the whole program: another thread's traffic may have ended */
		if (t->g->idle_s > 0 && last && (double)(pg_ns(pg_now()) - last) * 1e-9 >= t->g->idle_s)
			return 0;
		if (pg_rx_all_done(t->g))
			return 0;
		for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++)
			if (!nm_ring_empty(NETMAP_RXRING(d->nifp, ri)))
				return 1;
		if (pg_wait(t, POLLIN) < 0)
			return 0;
	}
	return 0;
}

static void *pg_rx_body(void *arg)
{
	struct pg_thread *t = arg;
	struct pg_glob *g = t->g;
	struct vnm_port *d = t->d;
	uint64_t pkts = 0, bytes = 0, events = 0;
	struct timespec last;

	if (!pg_rx_wait_first(t))
		return NULL;
	t->tic = last = pg_now();
	pg_set(&g->last_rx_ns, pg_ns(last));
	t->have_tic = 1;
	while (!pg_stop && !pg_rx_all_done(g)) {
		unsigned got = 0;
		int ret;

		for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			struct netmap_ring *ring = NETMAP_RXRING(d->nifp, ri);
			uint64_t limit;
			unsigned m;

			if (nm_ring_empty(ring) || (limit = pg_rx_claim(g, g->burst)) == 0)
				continue;
			m = pg_rx_ring(t, ring, &t->chain[ri - d->first_rx_ring], (unsigned)limit,
				       &bytes);
			pg_rx_unclaim(g, limit - m);
			if (m) {
				pkts += m;
				events++;
				got += m;
			}
		}
		if (got) {
			last = pg_now();
			pg_set(&g->last_rx_ns, pg_ns(last));
			pg_set(&t->pkts, pkts);
			pg_set(&t->bytes, bytes);
			pg_set(&t->events, events);
			ret = vnm_rxsync(d);
		} else {
			uint64_t glast = pg_get(&g->last_rx_ns);

			if (g->idle_s > 0 && (double)(pg_ns(pg_now()) - glast) * 1e-9 >= g->idle_s)
				break;
			if (pg_wait(t, POLLIN) < 0)
				break;
			continue;
		}
		if (ret < 0) {
			pg_fail(t, "rxsync", ret);
			break;
		}
	}
	t->toc = last; /* the time of the last frame: idle time is not counted */
	if (!pg_stop && pg_rx_all_done(g))
		t->toc = pg_now();
	pg_set(&t->pkts, pkts);
	pg_set(&t->bytes, bytes);
	pg_set(&t->events, events);
	return NULL;
}

/* ------------------------------------------------------------- ping and pong */

static void pg_put_ts(uint8_t *f, unsigned len, struct timespec ts)
{
	pg_frame_put32(f, len, PG_OFF_TS, (uint32_t)ts.tv_sec);
	pg_frame_put32(f, len, PG_OFF_TS + 4, (uint32_t)ts.tv_nsec);
}

struct pg_rtt {
	uint64_t count, min, sum;
};

static void pg_rtt_add(struct pg_rtt *r, uint64_t ns)
{
	if (r->count == 0 || ns < r->min)
		r->min = ns;
	r->count++;
	r->sum += ns;
}

/* Read the replies in the rx rings; returns how many carried our timestamp. */
static unsigned pg_ping_collect(struct pg_thread *t, struct pg_rtt *iv, struct pg_rtt *all,
				uint64_t *bytes)
{
	struct vnm_port *d = t->d;
	unsigned vh = t->g->vhdr, got = 0;

	for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
		struct netmap_ring *ring = NETMAP_RXRING(d->nifp, ri);

		while (!nm_ring_empty(ring)) {
			struct netmap_slot *slot = &ring->slot[ring->head];
			const uint8_t *p = (const uint8_t *)NETMAP_BUF(ring, slot->buf_idx) + vh;
			unsigned len = slot->len <= ring->nr_buf_size ? slot->len : ring->nr_buf_size;

			*bytes += len;
			if (len >= vh + PG_PING_END && p[PG_OFF_ETYPE] == 0x08) {
				uint64_t sent = (uint64_t)pg_get_be32(p + PG_OFF_TS) * 1000000000ull +
						pg_get_be32(p + PG_OFF_TS + 4);
				uint64_t now = pg_ns(pg_now());

				/* the timestamp holds 32 bits of seconds: compare modulo 2^32 s */
				now -= (now / 1000000000ull >> 32 << 32) * 1000000000ull;
				if (now >= sent && now - sent < 60 * 1000000000ull) {
					pg_rtt_add(iv, now - sent);
					pg_rtt_add(all, now - sent);
					got++;
				}
			}
			ring->head = ring->cur = nm_ring_next(ring, ring->head);
		}
	}
	return got;
}

static void *pg_ping_body(void *arg)
{
	struct pg_thread *t = arg;
	struct pg_glob *g = t->g;
	struct vnm_port *d = t->d;
	struct netmap_ring *tx = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	uint64_t sent = 0, events = 0, rbytes = 0, next_ns, period_ns = 0;
	struct pg_rtt iv = { 0 }, all = { 0 };
	struct timespec last_print;
	uint8_t *f = t->frame + g->vhdr;

	if (g->rate)
		period_ns = 1000000000ull * g->burst / g->rate;
	t->tic = last_print = pg_now();
	t->have_tic = 1;
	next_ns = pg_ns(t->tic);
	while (!pg_stop && !t->failed && (!t->quota || sent < t->quota)) {
		unsigned m = 0, want, got = 0;
		struct timespec start;
		int ret;

		if (g->rate) {
			next_ns += period_ns;
			pg_wait_until(next_ns);
		}
		want = g->burst;
		if (t->quota && t->quota - sent < want)
			want = (unsigned)(t->quota - sent);
		while (m < want && nm_ring_space(tx) > 0) {
			struct netmap_slot *slot = &tx->slot[tx->head];

			pg_frame_put32(f, g->len, PG_OFF_SEQ, t->seqno++);
			pg_put_ts(f, g->len, pg_now());
			nm_pkt_copy(t->frame, NETMAP_BUF(tx, slot->buf_idx), (int)t->size);
			slot->len = (uint16_t)t->size;
			slot->flags = 0;
			tx->head = tx->cur = nm_ring_next(tx, tx->head);
			m++;
		}
		ret = vnm_txsync(d);
		if (ret < 0) {
			pg_fail(t, "txsync", ret);
			break;
		}
		if (m == 0) {
			pg_wait(t, POLLOUT);
			continue;
		}
		sent += m;
		events++;
		pg_set(&t->pkts, sent);
		pg_set(&t->bytes, sent * t->size);
		pg_set(&t->events, events);
		/* wait up to a second for this batch's replies */
		start = pg_now();
		while (!pg_stop && got < m && pg_sec(start, pg_now()) < 1.0) {
			unsigned n = pg_ping_collect(t, &iv, &all, &rbytes);

			got += n;
			if (n && (ret = vnm_rxsync(d)) < 0) {
				pg_fail(t, "rxsync", ret);
				break;
			}
			if (!n && pg_wait(t, POLLIN) < 0)
				break;
		}
		if (pg_sec(last_print, pg_now()) >= 1.0) {
			if (iv.count)
				printf("count %llu RTT: min %llu av %llu ns\n",
				       (unsigned long long)iv.count, (unsigned long long)iv.min,
				       (unsigned long long)(iv.sum / iv.count));
			memset(&iv, 0, sizeof(iv));
			last_print = pg_now();
		}
	}
	t->toc = pg_now();
	if (all.count)
		printf("RTT over %llu packets: min %llu av %llu ns\n", (unsigned long long)all.count,
		       (unsigned long long)all.min, (unsigned long long)(all.sum / all.count));
	else
		printf("RTT over 0 packets: no replies to %llu requests\n", (unsigned long long)sent);
	return NULL;
}

/* Swap MACs (and IPv4 addresses) of a reply at p, of len bytes. */
static void pg_pong_swap(uint8_t *p, unsigned len)
{
	uint8_t tmp[6];

	if (len >= 12) {
		memcpy(tmp, p, 6);
		memcpy(p, p + 6, 6);
		memcpy(p + 6, tmp, 6);
	}
	if (len >= PG_OFF_SPORT && p[PG_OFF_ETYPE] == 0x08 && p[PG_OFF_ETYPE + 1] == 0) {
		memcpy(tmp, p + PG_OFF_SRCIP, 4);
		memcpy(p + PG_OFF_SRCIP, p + PG_OFF_DSTIP, 4);
		memcpy(p + PG_OFF_DSTIP, tmp, 4);
	}
}

static void *pg_pong_body(void *arg)
{
	struct pg_thread *t = arg;
	struct vnm_port *d = t->d;
	struct netmap_ring *tx = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	uint64_t sent = 0, bytes = 0, events = 0;
	unsigned vh = t->g->vhdr;

	t->tic = pg_now();
	t->have_tic = 1;
	while (!pg_stop && (!t->quota || sent < t->quota)) {
		unsigned got = 0;
		int ret;

		for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			struct netmap_ring *rx = NETMAP_RXRING(d->nifp, ri);

			while (!nm_ring_empty(rx)) {
				uint32_t h = rx->head, n = 0;

				/* a whole chain must be in [head, tail) */
				while (h != rx->tail && n < NM_MAX_FRAGS) {
					n++;
					if (!(rx->slot[h].flags & NS_MOREFRAG))
						break;
					h = nm_ring_next(rx, h);
				}
				if (h == rx->tail)
					break;
				h = rx->head;
				if (nm_ring_space(tx) >= n) { /* else drop, as netmap's pong does */
					for (unsigned k = 0; k < n; k++) {
						struct netmap_slot *rs = &rx->slot[h];
						struct netmap_slot *ts = &tx->slot[tx->head];
						unsigned len = rs->len <= rx->nr_buf_size ?
								       rs->len : rx->nr_buf_size;
						uint8_t *dst = (uint8_t *)NETMAP_BUF(tx, ts->buf_idx);

						if (len > tx->nr_buf_size)
							len = tx->nr_buf_size;
						memcpy(dst, NETMAP_BUF(rx, rs->buf_idx), len);
						if (k == 0 && len > vh)
							pg_pong_swap(dst + vh, len - vh);
						ts->len = (uint16_t)len;
						ts->flags = k + 1 < n ? NS_MOREFRAG : 0;
						bytes += len;
						tx->head = tx->cur = nm_ring_next(tx, tx->head);
						h = nm_ring_next(rx, h);
					}
					sent++;
				} else {
					for (unsigned k = 0; k < n; k++)
						h = nm_ring_next(rx, h);
				}
				rx->head = rx->cur = h;
				got++;
			}
		}
		if (got) {
			events++;
			pg_set(&t->pkts, sent);
			pg_set(&t->bytes, bytes);
			pg_set(&t->events, events);
			ret = vnm_txsync(d);
			if (ret >= 0)
				ret = vnm_rxsync(d);
			if (ret < 0) {
				pg_fail(t, "sync", ret);
				break;
			}
		} else if (pg_wait(t, POLLIN) < 0) {
			break;
		}
	}
	vnm_txsync(d);
	t->toc = pg_now();
	return NULL;
}

/* -------------------------------------------------------------- setup, main */

static void *pg_thread_main(void *arg)
{
	struct pg_thread *t = arg;
	struct pg_glob *g = t->g;

	if (g->affinity >= 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cpu_set_t set;
		int err;

		CPU_ZERO(&set);
		CPU_SET((unsigned)(g->affinity + (int)t->me) % (unsigned)(ncpu > 0 ? ncpu : 1), &set);
		err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (err)
			fprintf(stderr, "pkt-gen: cannot pin thread %u: %s\n", t->me, strerror(err));
	}
	switch (g->func) {
	case PG_TX:
	case PG_TXSEQ:
		pg_tx_body(t);
		break;
	case PG_RX:
	case PG_RXSEQ:
		pg_rx_body(t);
		break;
	case PG_PING:
		pg_ping_body(t);
		break;
	case PG_PONG:
		pg_pong_body(t);
		break;
	}
	pthread_mutex_lock(&g->lock);
	g->ndone++;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Per-thread state that depends on the opened port (ring geometry). */
static int pg_thread_prepare(struct pg_thread *t)
{
	struct pg_glob *g = t->g;
	struct vnm_port *d = t->d;
	unsigned ntx = d->first_tx_ring <= d->last_tx_ring ? d->last_tx_ring - d->first_tx_ring + 1 : 0;
	unsigned nrx = d->first_rx_ring <= d->last_rx_ring ? d->last_rx_ring - d->first_rx_ring + 1 : 0;
	int sender = g->func == PG_TX || g->func == PG_TXSEQ || g->func == PG_PING ||
		     g->func == PG_PONG;
	int receiver = g->func == PG_RX || g->func == PG_RXSEQ || g->func == PG_PING ||
		       g->func == PG_PONG;

	if ((sender && ntx == 0) || (receiver && nrx == 0)) {
		fprintf(stderr, "pkt-gen: %s: no %s ring bound\n", t->spec, ntx ? "rx" : "tx");
		return -1;
	}
	t->size = g->len + g->vhdr;
	t->frame = calloc(1, t->size + 64);
	t->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)time(NULL) << 16) ^ t->me;
	t->sip = g->src.start;
	t->dip = g->dst.start;
	t->sport = g->src.port0;
	t->dport = g->dst.port0;
	t->known = calloc(ntx ? ntx : 1, sizeof(*t->known));
	t->chain = calloc(nrx ? nrx : 1, sizeof(*t->chain));
	if (!t->frame || !t->known || !t->chain)
		return -1;
	pg_frame_build(t->frame + g->vhdr, g->len, g->dmac, g->smac, &g->src, &g->dst);
	for (unsigned i = 0; i < ntx; i++) {
		struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring + i);

		t->known[i] = malloc(r->num_slots * sizeof(uint32_t));
		if (!t->known[i])
			return -1;
		memset(t->known[i], 0xff, r->num_slots * sizeof(uint32_t));
	}
	if (sender) {
		struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
		unsigned bufsz = r->nr_buf_size, maxfs = g->frag_max < bufsz ? g->frag_max : bufsz;

		/* netmap's rule: frames of -F slots, each at most -M bytes and one buffer */
		t->frags = g->frags;
		t->frag_size = (t->size + t->frags - 1) / t->frags;
		if (t->frag_size > maxfs)
			t->frag_size = maxfs;
		t->frags = (t->size + t->frag_size - 1) / t->frag_size;
		if (t->frags > NM_MAX_FRAGS || t->frags >= r->num_slots) {
			fprintf(stderr, "pkt-gen: %u-byte frames need %u slots of %u bytes (max %u)\n",
				t->size, t->frags, t->frag_size,
				NM_MAX_FRAGS < r->num_slots - 1 ? NM_MAX_FRAGS : r->num_slots - 1);
			return -1;
		}
		if (g->func == PG_PING && t->frags > 1) {
			fprintf(stderr, "pkt-gen: ping frames must fit one %u-byte buffer\n", bufsz);
			return -1;
		}
		/* header bytes rewritten per frame (copied alone when the buffer is known) */
		if (g->func == PG_TXSEQ)
			t->prefix = g->vhdr + PG_SEQ_END;
		else if (g->ranges || g->rand_src || g->rand_dst)
			t->prefix = g->vhdr + PG_HDR_LEN;
		if (t->prefix > t->size)
			t->prefix = t->size;
	}
	return 0;
}

static void pg_thread_free(struct pg_thread *t)
{
	unsigned ntx;

	if (t->d) {
		ntx = t->d->first_tx_ring <= t->d->last_tx_ring ?
			      t->d->last_tx_ring - t->d->first_tx_ring + 1 : 0;
		for (unsigned i = 0; t->known && i < ntx; i++)
			free(t->known[i]);
		vnm_port_close(t->d);
	}
	free(t->known);
	free(t->chain);
	free(t->frame);
}

/* The spec for thread i: "PORT-i" inserted before any "/flags" or "@options". */
static int pg_thread_spec(const char *ifname, unsigned i, unsigned n, char *out, size_t len)
{
	struct vnm_portname pn;
	char err[128];
	const char *colon, *cut;

	if (n == 1)
		return snprintf(out, len, "%s", ifname) < (int)len ? 0 : -1;
	if (vnm_portname_parse(ifname, &pn, err, sizeof(err)) < 0) {
		fprintf(stderr, "pkt-gen: cannot open %s: %s\n", ifname, err);
		return -1;
	}
	colon = strchr(ifname, ':');
	if (pn.ring_id >= 0 || !colon || strpbrk(colon, "^*")) {
		fprintf(stderr, "pkt-gen: -p %u needs a port name without a ring suffix: %s\n", n,
			ifname);
		return -1;
	}
	cut = strpbrk(colon, "/@");
	if (!cut)
		cut = ifname + strlen(ifname);
	return snprintf(out, len, "%.*s-%u%s", (int)(cut - ifname), ifname, i, cut) < (int)len ? 0 : -1;
}

static void pg_usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: pkt-gen -i PORT -f tx|rx|ping|pong|txseq|rxseq [options]\n"
		"  -l len       frame length without CRC, 16..65535 (default 60)\n"
		"  -b burst     frames per ring per round (default 512; ping/pong 1)\n"
		"  -n count     frames to send or receive (0 = no limit); ping: requests\n"
		"  -R rate      total transmit rate in frames per second\n"
		"  -p threads   threads; thread i uses ring i (PORT-i)\n"
		"  -a cpu       pin thread i to cpu+i\n"
		"  -T ms        report interval (default 1000)\n"
		"  -w sec       wait before starting (default 0)\n"
		"  -E sec       rx/rxseq: exit when no frame arrived for sec seconds (after the first)\n"
		"  -W           same as -E 1\n"
		"  -H len       virtio-net header of 0, 10 or 12 bytes (zeroed) on every frame; on a\n"
		"               VALE port also sets the port's header length (NETMAP_REQ_PORT_HDR_SET)\n"
		"  -F frags     split each frame over frags slots (NS_MOREFRAG)\n"
		"  -M size      at most size bytes per slot\n"
		"  -z / -Z      random source / destination address and port\n"
		"  -s ip[:port][-ip[:port]]   source range (default 10.0.0.1:1234)\n"
		"  -d ip[:port][-ip[:port]]   destination range (default 10.1.0.1:1234)\n"
		"  -S mac / -D mac            source (00:00:00:00:00:00) / destination MAC\n"
		"                             (ff:ff:ff:ff:ff:ff)\n"
		"  -B           count 24 framing bytes per frame in the report lines' bps\n"
		"  -h           this help\n");
	exit(code);
}

static unsigned long pg_num(const char *s, unsigned long max, char opt)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *s == '\0' || *s == '-' || *end != '\0' || v > max) {
		fprintf(stderr, "pkt-gen: bad value for -%c: %s\n", opt, s);
		exit(1);
	}
	return (unsigned long)v;
}

static void pg_parse_args(struct pg_glob *g, int argc, char **argv)
{
	int ch, burst = -1;
	char *end;

	g->func = -1;
	g->len = 60;
	g->nthreads = 1;
	g->frags = 1;
	g->frag_max = UINT32_MAX;
	g->affinity = -1;
	g->report_ms = 1000;
	g->src_name = "10.0.0.1";
	g->dst_name = "10.1.0.1";
	g->smac_name = "00:00:00:00:00:00";
	g->dmac_name = "ff:ff:ff:ff:ff:ff";
	while ((ch = getopt(argc, argv, "a:b:Bd:D:E:f:F:hH:i:l:M:n:p:R:s:S:T:w:WzZ")) != -1) {
		switch (ch) {
		case 'a': g->affinity = (int)pg_num(optarg, 4096, 'a'); break;
		case 'b': burst = (int)pg_num(optarg, 65536, 'b'); break;
		case 'B': g->framing = PG_RAW_EXTRA * 8; break;
		case 'd': g->dst_name = optarg; break;
		case 'D': g->dmac_name = optarg; break;
		case 'E':
			g->idle_s = strtod(optarg, &end);
			if (*end || g->idle_s <= 0) {
				fprintf(stderr, "pkt-gen: bad value for -E: %s\n", optarg);
				exit(1);
			}
			break;
		case 'f':
			for (size_t i = 0; i < sizeof(pg_funcs) / sizeof(pg_funcs[0]); i++)
				if (!strcmp(optarg, pg_funcs[i].name))
					g->func = pg_funcs[i].func;
			if (g->func < 0) {
				fprintf(stderr, "pkt-gen: unknown function %s\n", optarg);
				exit(1);
			}
			break;
		case 'F': g->frags = (unsigned)pg_num(optarg, NM_MAX_FRAGS, 'F'); break;
		case 'h': pg_usage(0); break;
		case 'H': g->vhdr = (unsigned)pg_num(optarg, 12, 'H'); break;
		case 'i': g->ifname = optarg; break;
		case 'l': g->len = (unsigned)pg_num(optarg, 65535, 'l'); break;
		case 'M': g->frag_max = (unsigned)pg_num(optarg, 65535, 'M'); break;
		case 'n': g->npackets = pg_num(optarg, ~0ul, 'n'); break;
		case 'p': g->nthreads = (unsigned)pg_num(optarg, VNM_MAX_RINGS, 'p'); break;
		case 'R': g->rate = pg_num(optarg, ~0ul, 'R'); break;
		case 's': g->src_name = optarg; break;
		case 'S': g->smac_name = optarg; break;
		case 'T': g->report_ms = (int)pg_num(optarg, 3600000, 'T'); break;
		case 'w': g->wait_s = (int)pg_num(optarg, 3600, 'w'); break;
		case 'W': g->idle_s = 1; break;
		case 'z': g->rand_src = 1; break;
		case 'Z': g->rand_dst = 1; break;
		default: pg_usage(1);
		}
	}
	if (optind < argc || !g->ifname || g->func < 0) {
		fprintf(stderr, "pkt-gen: %s\n", optind < argc ? "unexpected argument" :
				  !g->ifname ? "missing -i PORT" : "missing -f function");
		pg_usage(1);
	}
	for (size_t i = 0; i < sizeof(pg_funcs) / sizeof(pg_funcs[0]); i++)
		if (pg_funcs[i].func == g->func && burst < 0)
			burst = (int)pg_funcs[i].burst;
	g->burst = burst > 0 ? (unsigned)burst : 1;
	if (g->len < 16) {
		fprintf(stderr, "pkt-gen: bad frame length %u [16..65535]\n", g->len);
		exit(1);
	}
	if ((g->func == PG_TXSEQ && g->len < PG_SEQ_END) || (g->func == PG_PING && g->len < PG_PING_END)) {
		fprintf(stderr, "pkt-gen: -f %s needs -l %u or more\n", g->func == PG_PING ? "ping" : "txseq",
			g->func == PG_PING ? PG_PING_END : PG_SEQ_END);
		exit(1);
	}
	if (g->vhdr != 0 && g->vhdr != 10 && g->vhdr != 12) {
		fprintf(stderr, "pkt-gen: bad virtio-net header length %u (0, 10 or 12)\n", g->vhdr);
		exit(1);
	}
	if (g->frags == 0 || g->frag_max == 0 || g->nthreads == 0 || g->report_ms == 0) {
		fprintf(stderr, "pkt-gen: -F, -M, -p and -T must be positive\n");
		exit(1);
	}
	if ((g->func == PG_PING || g->func == PG_PONG || g->func == PG_TXSEQ) && g->nthreads > 1) {
		/* txseq: one sequence; several senders would interleave theirs at the receiver */
		fprintf(stderr, "pkt-gen: ping, pong and txseq use one thread\n");
		exit(1);
	}
	if (pg_parse_iprange(g->src_name, &g->src) < 0 || pg_parse_iprange(g->dst_name, &g->dst) < 0) {
		fprintf(stderr, "pkt-gen: bad address range: %s\n",
			pg_parse_iprange(g->src_name, &g->src) < 0 ? g->src_name : g->dst_name);
		exit(1);
	}
	g->ranges = g->src.start != g->src.end || g->src.port0 != g->src.port1 ||
		    g->dst.start != g->dst.end || g->dst.port0 != g->dst.port1;
	if (pg_parse_mac(g->smac_name, g->smac) < 0 || pg_parse_mac(g->dmac_name, g->dmac) < 0) {
		fprintf(stderr, "pkt-gen: bad MAC address: %s\n",
			pg_parse_mac(g->smac_name, g->smac) < 0 ? g->smac_name : g->dmac_name);
		exit(1);
	}
}

/* Print netmap's final two lines ("Sent"/"Received" and "Speed"). */
static void pg_final(const char *msg, uint64_t pkts, uint64_t bytes, uint64_t events, double delta)
{
	char b1[40], b2[40], b3[40];

	if (pkts == 0) {
		printf("%s nothing.\n", msg);
		return;
	}
	printf("%s %llu packets %llu bytes %llu events %d bytes each in %.2f seconds.\n", msg,
	       (unsigned long long)pkts, (unsigned long long)bytes, (unsigned long long)events,
	       (int)(bytes / pkts), delta);
	if (delta <= 0)
		delta = 1e-6;
	printf("Speed: %spps Bandwidth: %sbps (raw %sbps). Average batch: %.2f pkts\n",
	       pg_norm(b1, sizeof(b1), (double)pkts / delta),
	       pg_norm(b2, sizeof(b2), 8.0 * (double)bytes / delta),
	       pg_norm(b3, sizeof(b3), (8.0 * (double)bytes + 8.0 * PG_RAW_EXTRA * (double)pkts) / delta),
	       events ? (double)pkts / (double)events : 0.0);
}

/* Report every -T ms until every worker is done. */
static void pg_report_loop(struct pg_glob *g, struct pg_thread *th)
{
	uint64_t ppkts = 0, pbytes = 0, pevents = 0;
	struct timespec prev = pg_now();

	for (;;) {
		uint64_t pkts = 0, bytes = 0, events = 0, min_space = PG_NO_SPACE, usec, xp;
		struct timespec dl = prev, now;
		char b1[40], b2[40], b3[40];
		unsigned done;

		dl.tv_sec += g->report_ms / 1000;
		dl.tv_nsec += (long)(g->report_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&g->lock);
		while (g->ndone < g->nstarted && pg_sec(pg_now(), dl) > 0)
			pthread_cond_timedwait(&g->cond, &g->lock, &dl);
		done = g->ndone;
		pthread_mutex_unlock(&g->lock);

		now = pg_now();
		usec = (uint64_t)(pg_sec(prev, now) * 1e6);
		if (usec < 10000 && done < g->nstarted)
			continue; /* too short to be meaningful */
		for (unsigned i = 0; i < g->nthreads; i++) {
			uint64_t ms = __atomic_exchange_n(&th[i].min_space, PG_NO_SPACE, __ATOMIC_RELAXED);

			pkts += pg_get(&th[i].pkts);
			bytes += pg_get(&th[i].bytes);
			events += pg_get(&th[i].events);
			if (ms < min_space)
				min_space = ms;
		}
		xp = pkts - ppkts;
		if (usec >= 10000 || xp) {
			uint64_t xe = events - pevents, xb = bytes - pbytes;

			if (usec == 0)
				usec = 1;
			printf("%spps (%spkts %sbps in %llu usec) %.2f avg_batch %d min_space\n",
			       pg_norm(b1, sizeof(b1), (double)((xp * 1000000 + usec / 2) / usec)),
			       pg_norm(b2, sizeof(b2), (double)xp),
			       pg_norm(b3, sizeof(b3),
				       1e6 * ((double)xb * 8 + (double)xp * g->framing) / (double)usec),
			       (unsigned long long)usec, xe ? (double)xp / (double)xe : 0.0,
			       (int)min_space);
			ppkts = pkts;
			pbytes = bytes;
			pevents = events;
			prev = now;
		}
		if (done == g->nstarted)
			break;
	}
}

int main(int argc, char **argv)
{
	struct pg_glob g;
	struct pg_thread *th;
	pthread_condattr_t ca;
	struct sigaction sa;
	sigset_t ss;
	int rc = 0, rxside;
	unsigned nq, nstarted = 0;

	memset(&g, 0, sizeof(g));
	pg_parse_args(&g, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	rxside = g.func == PG_RX || g.func == PG_RXSEQ;

	th = calloc(g.nthreads, sizeof(*th));
	if (!th)
		return 1;
	for (unsigned i = 0; i < g.nthreads; i++) {
		struct pg_thread *t = &th[i];
		struct vnm_open_opts o = { .error = pg_err_cb, .error_arg = t };
		int ret;

		t->g = &g;
		t->me = i;
		t->min_space = PG_NO_SPACE;
		t->quota = g.npackets / g.nthreads + (i < g.npackets % g.nthreads);
		if (pg_thread_spec(g.ifname, i, g.nthreads, t->spec, sizeof(t->spec)) < 0) {
			for (unsigned j = 0; j < i; j++)
				pg_thread_free(&th[j]);
			free(th);
			return 1;
		}
		t->opening = 1;
		ret = vnm_port_open(t->spec, &o, &t->d);
		t->opening = 0;
		if (ret < 0) {
			fprintf(stderr, "pkt-gen: cannot open %s: %s\n", t->spec,
				t->errmsg[0] ? t->errmsg : strerror(-ret));
			t->d = NULL;
			for (unsigned j = 0; j <= i; j++)
				pg_thread_free(&th[j]);
			free(th);
			return 1;
		}
		if (pg_thread_prepare(t) < 0) {
			for (unsigned j = 0; j <= i; j++)
				pg_thread_free(&th[j]);
			free(th);
			return 1;
		}
	}
	/* -H: the port's header length, as netmap's pkt-gen does (NETMAP_REQ_PORT_HDR_SET) */
	if (g.vhdr && th[0].d->kind == VNM_KIND_VALE) {
		int ret = vnm_port_hdr_set(th[0].d->name, g.vhdr);
		if (ret < 0)
			fprintf(stderr, "pkt-gen: unable to set the virtio-net header length %u on %s: %s\n",
				g.vhdr, th[0].d->name, strerror(-ret));
	}
	nq = rxside ? th[0].d->nifp->ni_rx_rings : th[0].d->nifp->ni_tx_rings;
	printf("%s %s: %u queues, %u threads and %ld cpus.\n",
	       g.func == PG_TX || g.func == PG_TXSEQ ? "Sending on" :
	       rxside ? "Receiving from" : "Working on",
	       g.ifname, nq, g.nthreads, sysconf(_SC_NPROCESSORS_ONLN));
	if (g.func == PG_TX || g.func == PG_TXSEQ)
		printf("%s -> %s (%s -> %s)\n", g.src_name, g.dst_name, g.smac_name, g.dmac_name);
	if (th[0].frags > 1)
		printf("frags %u frag_size %u\n", th[0].frags, th[0].frag_size);

	pthread_mutex_init(&g.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g.cond, &ca);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pg_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (int s = 0; s < g.wait_s * 10 && !pg_stop; s++)
		usleep(100000);

	/* workers never see the signals (blocked while they are created): main sets pg_stop */
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	for (unsigned i = 0; i < g.nthreads && !pg_stop; i++) {
		int err = pthread_create(&th[i].th, NULL, pg_thread_main, &th[i]);

		if (err) {
			fprintf(stderr, "pkt-gen: cannot start thread %u: %s\n", i, strerror(err));
			pg_stop = 1;
			rc = 1;
			break;
		}
		nstarted++;
	}
	pthread_sigmask(SIG_UNBLOCK, &ss, NULL);
	g.nstarted = nstarted;

	if (nstarted)
		pg_report_loop(&g, th);

	{
		uint64_t pkts = 0, bytes = 0, events = 0;
		struct pg_seq q = { 0 };
		struct timespec tic = { 0 }, toc = { 0 };
		int have = 0;

		for (unsigned i = 0; i < nstarted; i++) {
			struct pg_thread *t = &th[i];

			pthread_join(t->th, NULL);
			if (t->failed)
				rc = 1;
			pkts += t->pkts;
			bytes += t->bytes;
			events += t->events;
			if (t->have_tic) { /* earliest start, latest end: the aggregate rate */
				if (!have || pg_sec(tic, t->tic) < 0)
					tic = t->tic;
				if (!have || pg_sec(toc, t->toc) > 0)
					toc = t->toc;
				have = 1;
			}
			if (g.func == PG_RXSEQ && t->seq.started) {
				uint64_t lost = t->seq.lost;

				/* with -n, frames never seen at the end are lost too */
				if (g.npackets && g.nthreads == 1 && t->seq.received < g.npackets) {
					int32_t tail = (int32_t)(t->seq.first + (uint32_t)g.npackets -
								 t->seq.next);

					if (tail > 0)
						lost += (uint64_t)tail;
				}
				q.received += t->seq.received;
				q.lost += lost;
				q.ooo += t->seq.ooo;
				q.dups += t->seq.dups;
			}
		}
		if (g.func == PG_TX || g.func == PG_TXSEQ)
			pg_final("Sent", pkts, bytes, events, have ? pg_sec(tic, toc) : 0);
		else if (rxside)
			pg_final("Received", pkts, bytes, events, have ? pg_sec(tic, toc) : 0);
		if (g.func == PG_RXSEQ)
			printf("SEQ: received %llu, lost %llu, out-of-order %llu, duplicates %llu\n",
			       (unsigned long long)q.received, (unsigned long long)q.lost,
			       (unsigned long long)q.ooo, (unsigned long long)q.dups);
	}
	for (unsigned i = 0; i < g.nthreads; i++)
		pg_thread_free(&th[i]);
	free(th);
	return rc;
}
