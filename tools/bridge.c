// SPDX-License-Identifier: BSD-2-Clause
/*
 * bridge - forward frames in both directions between two ports until SIGINT/SIGTERM,
 * as netmap's bridge does.
 *
 *   bridge -i PORT_A -i PORT_B [-w wait_s] [-b burst] [-v]
 *
 * When both ports live in one memory region (the two ends of a pipe, or anything the
 * daemon laid out in the same region file) buffers are swapped, not copied: the rx
 * slot's buf_idx goes to the tx slot and back, both marked NS_BUF_CHANGED. Otherwise
 * frames are copied. Multi-slot frames (NS_MOREFRAG chains) are always moved whole:
 * a chain is forwarded only once it is complete on the rx ring and fits on the tx ring.
 * Uses only libvnetmap's public API.
 *
 * Security model: the peers of both ports may be hostile. Every rx slot's len is
 * clamped to the ring's buffer size, buf_idx values are only handed back to the same
 * region (zero copy) where the port's kernel side validates them, a frame longer than
 * the destination's buffers is dropped (counted), and a chain longer than the ring or
 * NM_MAX_FRAGS is dropped whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>

static volatile sig_atomic_t do_abort;
static int verbose;

struct dir_stats {
	uint64_t pkts, bytes, drops;
};

static void sigint_h(int sig)
{
	(void)sig;
	do_abort = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Identity of the file mapped at addr, from /proc/self/maps (device and inode).
 * Returns 0 when found.
 */
static int mapping_id(const void *addr, char *id, size_t idlen)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off, ino;
		char perms[8], dev[32];
		if (sscanf(line, "%lx-%lx %7s %lx %31s %lu", &lo, &hi, perms, &off, dev, &ino) != 6)
			continue;
		if ((unsigned long)addr >= lo && (unsigned long)addr < hi) {
			if (ino != 0) {
				snprintf(id, idlen, "%s:%lu:%lu", dev, ino, off);
				ret = 0;
			}
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Do both ports use the same region (so the same buffer indices name the same buffers)? */
static int same_region(const struct vnm_port *a, const struct vnm_port *b)
{
	const struct vnm_region_hdr *ha = a->mem, *hb = b->mem;
	char ida[128], idb[128];

	if (a->memsize != b->memsize)
		return 0;
	if (mapping_id(a->mem, ida, sizeof(ida)) == 0 && mapping_id(b->mem, idb, sizeof(idb)) == 0)
		return strcmp(ida, idb) == 0;
	/* fallback: the region header's name and size (advisory, but ours to read) */
	return ha->magic == VNM_REGION_MAGIC && hb->magic == VNM_REGION_MAGIC &&
	       ha->region_size == hb->region_size &&
	       strncmp(ha->name, hb->name, sizeof(ha->name)) == 0;
}

static uint32_t ring_avail(const struct netmap_ring *r)
{
	return r->tail >= r->cur ? r->tail - r->cur : r->tail + r->num_slots - r->cur;
}

/*
 * Move up to limit slots of complete frames from rxr to txr. Returns slots consumed
 * from the rx ring.
 */
static uint32_t move_ring(struct netmap_ring *rxr, struct netmap_ring *txr, uint32_t limit,
			  int zcopy, struct dir_stats *st)
{
	uint32_t rx_avail = ring_avail(rxr), tx_avail = ring_avail(txr);
	uint32_t j = rxr->cur, k = txr->cur, done = 0;

	if (rx_avail > limit)
		rx_avail = limit;
	while (rx_avail > 0) {
		/* measure the frame at j: slots up to the first without NS_MOREFRAG */
		uint32_t nfrag = 0, i = j, flen = 0, toolong = 0;
		int complete = 0;
		while (nfrag < rx_avail) {
			struct netmap_slot *s = &rxr->slot[i];
			uint32_t l = s->len > rxr->nr_buf_size ? rxr->nr_buf_size : s->len;
			nfrag++;
			flen += l;
			if (l > txr->nr_buf_size)
				toolong = 1;
			i = nm_ring_next(rxr, i);
			if (!(s->flags & NS_MOREFRAG)) {
				complete = 1;
				break;
			}
		}
		if (!complete) {
			/* an unterminated chain filling the whole ring or over the limit: drop it */
			if (nfrag >= rxr->num_slots - 1 || nfrag > NM_MAX_FRAGS) {
				st->drops++;
				j = i;
				rx_avail -= nfrag;
				done += nfrag;
				continue;
			}
			break; /* wait for the rest of the frame */
		}
		if (toolong || nfrag > NM_MAX_FRAGS) {
			st->drops++;
			j = i;
			rx_avail -= nfrag;
			done += nfrag;
			continue;
		}
		if (nfrag > tx_avail)
			break; /* no room for the whole frame: keep it for later */
		for (uint32_t f = 0; f < nfrag; f++) {
			struct netmap_slot *rs = &rxr->slot[j], *ts = &txr->slot[k];
			uint16_t l = rs->len > rxr->nr_buf_size ? (uint16_t)rxr->nr_buf_size : rs->len;
			if (zcopy) {
				uint32_t idx = ts->buf_idx;
				ts->buf_idx = rs->buf_idx;
				rs->buf_idx = idx;
				/* both rings must learn the new buffer (netmap's rule) */
				ts->flags |= NS_BUF_CHANGED;
				rs->flags |= NS_BUF_CHANGED;
			} else {
				nm_pkt_copy(NETMAP_BUF(rxr, rs->buf_idx), NETMAP_BUF(txr, ts->buf_idx), l);
			}
			ts->len = l;
			ts->flags = (uint16_t)((ts->flags & NS_BUF_CHANGED) | (rs->flags & NS_MOREFRAG));
			j = nm_ring_next(rxr, j);
			k = nm_ring_next(txr, k);
		}
		st->pkts++;
		st->bytes += flen;
		rx_avail -= nfrag;
		tx_avail -= nfrag;
		done += nfrag;
	}
	/* release rx slots and hand tx slots to the kernel side at the next sync */
	rxr->head = rxr->cur = j;
	txr->head = txr->cur = k;
	return done;
}

/* Forward from src's rx rings to dst's tx rings. Returns slots moved. */
static uint32_t move(struct vnm_port *src, struct vnm_port *dst, uint32_t burst, int zcopy,
		     struct dir_stats *st)
{
	uint32_t si = src->first_rx_ring, di = dst->first_tx_ring, moved = 0;

	while (si <= src->last_rx_ring && di <= dst->last_tx_ring && moved < burst) {
		struct netmap_ring *rxr = NETMAP_RXRING(src->nifp, si);
		struct netmap_ring *txr = NETMAP_TXRING(dst->nifp, di);
		if (nm_ring_empty(rxr)) {
			si++;
			continue;
		}
		if (nm_ring_empty(txr)) {
			di++;
			continue;
		}
		uint32_t m = move_ring(rxr, txr, burst - moved, zcopy, st);
		moved += m;
		if (m == 0) {
			/* a frame waits for room or for its tail: try the next pair */
			if (!nm_ring_empty(txr))
				si++;
			else
				di++;
		}
	}
	return moved;
}

/* Slots waiting on src's rx rings. */
static uint32_t rx_pending(struct vnm_port *p)
{
	uint32_t n = 0;
	for (uint32_t i = p->first_rx_ring; i <= p->last_rx_ring && p->first_rx_ring <= p->last_rx_ring; i++)
		n += ring_avail(NETMAP_RXRING(p->nifp, i));
	return n;
}

static void error_cb(void *arg, int err, const char *msg)
{
	if (verbose)
		fprintf(stderr, "bridge: %s: %s (%s)\n", (const char *)arg, msg, strerror(-err));
}

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: bridge -i PORT_A -i PORT_B [-w wait_s] [-b burst] [-v]\n"
		"\t-i PORT\tport to bridge (twice), e.g. vale0:a or netmap:pipe0}1\n"
		"\t-w N\tseconds to wait before forwarding (default 0)\n"
		"\t-b N\tslots per direction per round (default 1024)\n"
		"\t-v\tprint statistics every second\n");
	exit(code);
}

int main(int argc, char **argv)
{
	const char *ifa = NULL, *ifb = NULL;
	struct vnm_port *pa = NULL, *pb = NULL;
	struct vnm_open_opts oa = { NULL, error_cb, NULL }, ob = { NULL, error_cb, NULL };
	struct dir_stats ab = { 0, 0, 0 }, ba = { 0, 0, 0 }, lab, lba;
	unsigned burst = 1024, wait_s = 0;
	int ch, ret, zcopy;
	double t_last;

	while ((ch = getopt(argc, argv, "i:w:b:vh")) != -1) {
		switch (ch) {
		case 'i':
			if (!ifa)
				ifa = optarg;
			else if (!ifb)
				ifb = optarg;
			else
				usage(1);
			break;
		case 'w':
			wait_s = (unsigned)atoi(optarg);
			break;
		case 'b':
			burst = (unsigned)atoi(optarg);
			if (burst == 0 || burst > 8192)
				usage(1);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(1);
		}
	}
	if (!ifa || optind != argc)
		usage(1);
	if (!ifb) {
		/* netmap's bridge: one port means its NIC rings and its host rings */
		fprintf(stderr, "bridge: a single port bridges to its host stack, not supported: "
				"give two ports\n");
		return 1;
	}
	oa.error_arg = (void *)ifa;
	ob.error_arg = (void *)ifb;
	ret = vnm_port_open(ifa, &oa, &pa);
	if (ret < 0) {
		fprintf(stderr, "bridge: cannot open %s: %s\n", ifa, strerror(-ret));
		return 1;
	}
	ret = vnm_port_open(ifb, &ob, &pb);
	if (ret < 0) {
		fprintf(stderr, "bridge: cannot open %s: %s\n", ifb, strerror(-ret));
		vnm_port_close(pa);
		return 1;
	}
	zcopy = same_region(pa, pb);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigint_h;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (wait_s) {
		printf("Wait %u secs for link to come up...\n", wait_s);
		fflush(stdout);
		for (unsigned i = 0; i < wait_s * 10 && !do_abort; i++)
			usleep(100000);
	}
	printf("Ready to go, %s <-> %s (%s).\n", pa->name, pb->name, zcopy ? "zero-copy" : "copy");
	fflush(stdout);

	lab = ab;
	lba = ba;
	t_last = now();
	while (!do_abort) {
		struct pollfd pfd[2];
		int ra, rb;

		vnm_rxsync(pa);
		vnm_rxsync(pb);
		uint32_t m = move(pa, pb, burst, zcopy, &ab);
		m += move(pb, pa, burst, zcopy, &ba);
		/* publish what we forwarded, reclaim completed tx slots, release rx slots */
		vnm_txsync(pa);
		vnm_txsync(pb);
		vnm_rxsync(pa);
		vnm_rxsync(pb);

		if (verbose && now() - t_last >= 1.0) {
			double dt = now() - t_last;
			printf("%s -> %s: %.3f Mpps %.3f Gbps, %s -> %s: %.3f Mpps %.3f Gbps, drops %" PRIu64
			       "\n",
			       pa->name, pb->name, (ab.pkts - lab.pkts) / dt / 1e6,
			       (ab.bytes - lab.bytes) * 8 / dt / 1e9, pb->name, pa->name,
			       (ba.pkts - lba.pkts) / dt / 1e6, (ba.bytes - lba.bytes) * 8 / dt / 1e9,
			       ab.drops + ba.drops);
			fflush(stdout);
			lab = ab;
			lba = ba;
			t_last = now();
		}
		if (m)
			continue;

		/* nothing moved: wait for rx on a side with nothing pending, or tx room on the other */
		short ea = 0, eb = 0;
		if (rx_pending(pa))
			eb |= POLLOUT;
		else
			ea |= POLLIN;
		if (rx_pending(pb))
			ea |= POLLOUT;
		else
			eb |= POLLIN;
		ra = vnm_arm(pa, ea);
		rb = vnm_arm(pb, eb);
		if (ra > 0 || rb > 0)
			continue;
		pfd[0].fd = pa->fd;
		pfd[0].events = ea;
		pfd[1].fd = pb->fd;
		pfd[1].events = eb;
		if (poll(pfd, 2, verbose ? 1000 : 2500) < 0 && errno != EINTR) {
			perror("bridge: poll");
			break;
		}
	}
	printf("bridge: %s -> %s %" PRIu64 " packets %" PRIu64 " bytes, %s -> %s %" PRIu64
	       " packets %" PRIu64 " bytes, %" PRIu64 " dropped\n",
	       pa->name, pb->name, ab.pkts, ab.bytes, pb->name, pa->name, ba.pkts, ba.bytes,
	       ab.drops + ba.drops);
	vnm_port_close(pb);
	vnm_port_close(pa);
	return 0;
}
