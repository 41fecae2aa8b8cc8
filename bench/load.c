// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_load - N VALE ports on one switch, all sending at once, from one process.
 *
 *   bench_load [-n ports] [-t seconds] [-w switch] [-p prefix] [-l len] [-r rate]
 *
 * Opens SWITCH:PREFIX0 .. SWITCH:PREFIX(N-1) (default vale9:p0..p63). Port i sends
 * len-byte unicast frames (source MAC 02:00:00:00:ii:ii, destination the next port's
 * MAC) and drains its RX ring. Every TX slot is filled once at start; afterwards a
 * send is only "head = tail" (the switch copies, it never writes TX buffers), so one
 * thread keeps N rings full and the switch, not this program, decides how much of
 * each port it takes. -r RATE limits each port to RATE frames per second (0: as many
 * as the switch takes). Runs for -t seconds (default 5, or until SIGINT/SIGTERM), then
 * prints one line per port and a total:
 *   port vale9:p3 sent 1234567 frames 246913 fps
 *   load: 64 ports, 5.0 s, total 12345678 frames, min 123 mean 456 max 789 fps
 * "sent" counts frames published to the switch (the switch's own count, vale-ctl
 * --stats rx_packets, lags by at most one ring). Exit 0, or 1 if a port failed.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>

static volatile sig_atomic_t stop;

static void on_signal(int s)
{
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct lport {
	struct vnm_port *d;
	struct netmap_ring *tx, *rx;
	uint64_t sent, rcvd;
	double next_allowed; /* -r: time of the next burst */
};

static void fill_tx(struct lport *p, unsigned i, unsigned n, unsigned len)
{
	struct netmap_ring *r = p->tx;

	for (uint32_t s = 0; s < r->num_slots; s++) {
		uint8_t *b = (uint8_t *)NETMAP_BUF(r, r->slot[s].buf_idx);
		unsigned dst = (i + 1) % n;

		memset(b, 0, len);
		b[0] = 0x02, b[4] = (uint8_t)(dst >> 8), b[5] = (uint8_t)dst;
		b[6] = 0x02, b[10] = (uint8_t)(i >> 8), b[11] = (uint8_t)i;
		b[12] = 0x08, b[13] = 0x00;
		r->slot[s].len = (uint16_t)len;
		r->slot[s].flags = 0;
	}
}

static uint32_t ring_space(const struct netmap_ring *r)
{
	return r->tail >= r->head ? r->tail - r->head : r->tail + r->num_slots - r->head;
}

int main(int argc, char **argv)
{
	unsigned n = 64, len = 60;
	double secs = 5, rate = 0;
	const char *sw = "vale9", *prefix = "p";
	int c, ret = 0;

	while ((c = getopt(argc, argv, "n:t:w:p:l:r:h")) != -1) {
		switch (c) {
		case 'n': n = (unsigned)atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'w': sw = optarg; break;
		case 'p': prefix = optarg; break;
		case 'l': len = (unsigned)atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		default:
			fprintf(stderr, "usage: bench_load [-n ports] [-t seconds] [-w switch] [-p prefix]"
					" [-l len] [-r rate]\n");
			return 2;
		}
	}
	if (n < 2 || n > 250 || len < 14 || len > 2048) {
		fprintf(stderr, "bench_load: ports 2..250, len 14..2048\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct lport *ports = calloc(n, sizeof(*ports));
	if (!ports)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		char spec[128];
		int err;

		snprintf(spec, sizeof(spec), "%s:%s%u", sw, prefix, i);
		err = vnm_port_open(spec, NULL, &ports[i].d);
		if (err < 0) {
			fprintf(stderr, "bench_load: open %s: %s\n", spec, strerror(-err));
			for (unsigned j = 0; j < i; j++)
				vnm_port_close(ports[j].d);
			free(ports);
			return 1;
		}
		ports[i].tx = NETMAP_TXRING(ports[i].d->nifp, ports[i].d->first_tx_ring);
		ports[i].rx = NETMAP_RXRING(ports[i].d->nifp, ports[i].d->first_rx_ring);
		fill_tx(&ports[i], i, n, len);
	}
	printf("load: %u ports %s:%s0..%s%u open, %u-byte frames, %s\n", n, sw, prefix, prefix, n - 1,
	       len, rate > 0 ? "rate-limited" : "as fast as the switch takes them");
	fflush(stdout);

	double t0 = now_s(), tend = t0 + secs, burst_gap = rate > 0 ? 0.001 : 0;
	uint32_t burst = rate > 0 ? (uint32_t)(rate * burst_gap) + 1 : UINT32_MAX;
	while (!stop) {
		double t = now_s();
		int progress = 0;

		if (t >= tend)
			break;
		for (unsigned i = 0; i < n; i++) {
			struct lport *p = &ports[i];

			if (vnm_rxsync(p->d) < 0 || vnm_txsync(p->d) < 0) {
				fprintf(stderr, "bench_load: %s: ring error\n", p->d->name);
				ret = 1;
				stop = 1;
				break;
			}
			/* RX: take everything */
			uint32_t got = ring_space(p->rx);
			if (got) {
				p->rcvd += got;
				p->rx->head = p->rx->cur = p->rx->tail;
				progress = 1;
			}
			/* TX: hand the switch every free slot (the buffers are filled already) */
			uint32_t room = ring_space(p->tx);
			if (rate > 0) {
				if (t < p->next_allowed)
					room = 0;
				else if (room > burst)
					room = burst;
				if (room)
					p->next_allowed = (p->next_allowed < t - 0.1 ? t : p->next_allowed) +
							  (double)room / rate;
			}
			if (room) {
				uint32_t h = p->tx->head + room;
				if (h >= p->tx->num_slots)
					h -= p->tx->num_slots;
				p->tx->head = p->tx->cur = h;
				p->sent += room;
				progress = 1;
			}
		}
		if (!progress)
			usleep(50);
	}
	double el = now_s() - t0;
	uint64_t tot = 0, mn = UINT64_MAX, mx = 0;
	for (unsigned i = 0; i < n; i++) {
		struct lport *p = &ports[i];

		vnm_txsync(p->d);
		printf("port %s sent %llu frames %.0f fps received %llu\n", p->d->name,
		       (unsigned long long)p->sent, p->sent / el, (unsigned long long)p->rcvd);
		tot += p->sent;
		mn = p->sent < mn ? p->sent : mn;
		mx = p->sent > mx ? p->sent : mx;
	}
	printf("load: %u ports, %.1f s, total %llu frames, min %.0f mean %.0f max %.0f fps\n", n, el,
	       (unsigned long long)tot, mn / el, (double)tot / n / el, mx / el);
	for (unsigned i = 0; i < n; i++)
		vnm_port_close(ports[i].d);
	free(ports);
	return ret;
}
