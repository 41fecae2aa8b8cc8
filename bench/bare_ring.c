// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_bare_ring - the machine's own limit for a shared-ring datapath: one
 * producer thread and one consumer thread on a bare single-producer,
 * single-consumer ring of 16-byte slots (netmap's slot size), moving batches.
 * No daemon, no buffers touched, no system calls: whatever vnetmap reaches is
 * bounded by this figure on the same machine.
 *
 *   bench_bare_ring [-t seconds] [-b batch] [-s slots] [-l len] [-c] [-a]
 *
 * With -l LEN > 0 the producer also writes LEN bytes into a per-slot buffer and
 * the consumer reads them (a copy-bound variant, for comparison with 1514-byte
 * frames). Prints one line:
 *   bare_ring: 123.456 Mpps 59.259 Gbps (batch 512, slots 1024, len 60) in 3.000 s
 * Gbps is computed for LEN-byte frames (default 60) whether or not bytes move.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct slot {
	uint32_t buf_idx;
	uint16_t len;
	uint16_t flags;
	uint64_t ptr;
};

struct ring {
	/* producer-owned index, on its own cache line */
	uint32_t head __attribute__((aligned(128)));
	/* consumer-owned index */
	uint32_t tail __attribute__((aligned(128)));
	uint32_t nslots __attribute__((aligned(128)));
	uint32_t batch;
	uint32_t touch;   /* bytes to write/read per packet (0: descriptors only) */
	char *bufs;       /* nslots buffers of 2048 bytes when touch > 0 */
	volatile int stop;
	uint64_t consumed;
	struct slot *slot;
};

#define SPIN_BUDGET 4096 /* empty polls before yielding the CPU */

static int do_pin; /* -a: pinning helps on a quiet machine, hurts on a shared one */

/* With -a: producer on CPU 0, consumer on CPU 1, when there are two CPUs to use. */
static void pin(int cpu)
{
	cpu_set_t set;

	if (!do_pin || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static inline uint32_t load_acq(uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_rel(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void *producer(void *arg)
{
	struct ring *r = arg;
	uint32_t n = r->nslots, head = 0, ctail = 0, seq = 0, spins = 0;

	pin(0);

	while (!r->stop) {
		/* space: one slot always stays empty, as in netmap */
		uint32_t used = head >= ctail ? head - ctail : head + n - ctail;
		uint32_t space = n - 1 - used;
		if (space < r->batch) {
			/* ACQUIRE: the consumer's reads of these slots are done */
			ctail = load_acq(&r->tail);
			if (++spins > SPIN_BUDGET) {
				sched_yield(); /* the consumer may share our CPU */
				spins = 0;
			}
			continue;
		}
		spins = 0;
		for (uint32_t i = 0; i < r->batch; i++) {
			struct slot *s = &r->slot[head];
			s->buf_idx = head + 2;
			s->len = 60;
			s->flags = 0;
			if (r->touch)
				memset(r->bufs + (size_t)head * 2048, (int)seq, r->touch);
			seq++;
			head = head + 1 == n ? 0 : head + 1;
		}
		/* RELEASE: slot contents become visible before the new head */
		store_rel(&r->head, head);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct ring *r = arg;
	uint32_t n = r->nslots, tail = 0, phead = 0, spins = 0;
	uint64_t count = 0, sum = 0;

	pin(1);

	while (!r->stop) {
		if (tail == phead) {
			/* ACQUIRE: pairs with the producer's release of head */
			phead = load_acq(&r->head);
			if (++spins > SPIN_BUDGET) {
				sched_yield(); /* the producer may share our CPU */
				spins = 0;
			}
			continue;
		}
		spins = 0;
		uint32_t k = 0;
		while (tail != phead && k < r->batch) {
			struct slot *s = &r->slot[tail];
			sum += s->buf_idx + s->len;
			if (r->touch) {
				const uint64_t *p = (const uint64_t *)(r->bufs + (size_t)tail * 2048);
				for (uint32_t j = 0; j < r->touch / 8; j++)
					sum += p[j];
			}
			tail = tail + 1 == n ? 0 : tail + 1;
			k++;
		}
		count += k;
		/* RELEASE: our reads of the slots are done before the producer reuses them */
		store_rel(&r->tail, tail);
	}
	r->consumed = count + (sum & 0); /* keep sum live */
	__asm__ volatile("" : : "r"(sum));
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_bare_ring [-t seconds] [-b batch] [-s slots] [-l len] [-c] [-a]\n"
			"  -c: touch len bytes per packet (copy-bound variant)\n"
			"  -a: pin the producer to CPU 0 and the consumer to CPU 1\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct ring *r;
	double secs = 3.0, t0, t1;
	unsigned len = 60;
	int touch = 0, opt;
	pthread_t tp, tc;

	r = aligned_alloc(128, (sizeof(*r) + 127) & ~(size_t)127);
	if (!r)
		return 1;
	memset(r, 0, sizeof(*r));
	r->nslots = 1024;
	r->batch = 512;
	while ((opt = getopt(argc, argv, "t:b:s:l:cah")) != -1) {
		switch (opt) {
		case 't':
			secs = atof(optarg);
			break;
		case 'b':
			r->batch = (uint32_t)atoi(optarg);
			break;
		case 's':
			r->nslots = (uint32_t)atoi(optarg);
			break;
		case 'l':
			len = (unsigned)atoi(optarg);
			break;
		case 'c':
			touch = 1;
			break;
		case 'a':
			do_pin = 1;
			break;
		default:
			usage();
		}
	}
	if (secs <= 0 || r->batch == 0 || r->nslots < 2 || r->batch > r->nslots - 1 || len > 2048)
		usage();
	r->slot = aligned_alloc(128, ((size_t)r->nslots * sizeof(struct slot) + 127) & ~(size_t)127);
	if (!r->slot)
		return 1;
	memset(r->slot, 0, (size_t)r->nslots * sizeof(struct slot));
	if (touch) {
		r->touch = (len + 7) & ~7u;
		r->bufs = aligned_alloc(4096, (size_t)r->nslots * 2048);
		if (!r->bufs)
			return 1;
		memset(r->bufs, 0, (size_t)r->nslots * 2048);
	}

	t0 = now();
	if (pthread_create(&tc, NULL, consumer, r) || pthread_create(&tp, NULL, producer, r)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	while ((t1 = now()) - t0 < secs)
		usleep(10000);
	r->stop = 1;
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	t1 = now() - t0;

	double mpps = r->consumed / t1 / 1e6;
	printf("bare_ring: %.3f Mpps %.3f Gbps (batch %u, slots %u, len %u%s) in %.3f s\n", mpps,
	       mpps * 1e6 * len * 8 / 1e9, r->batch, r->nslots, len, touch ? ", bytes touched" : "",
	       t1);
	free(r->bufs);
	free(r->slot);
	free(r);
	return 0;
}
