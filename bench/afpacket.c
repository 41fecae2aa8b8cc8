// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_afpacket - Linux's comparable path for a user-space packet pipe: raw
 * frames sent on one interface and received on another (bench/run.sh uses the
 * two ends of a veth pair in a network namespace it creates).
 *
 *   bench_afpacket -i TXIF -o RXIF [-l len] [-t seconds] [-b burst] [-m mmap|mmsg]
 *
 * mmap: TX through a PACKET_MMAP TX ring (TPACKET_V2, PACKET_QDISC_BYPASS, one
 *       send() per burst), RX through a TPACKET_V3 block ring.
 * mmsg: sendmmsg()/recvmmsg() batches of burst frames.
 * One TX thread, one RX thread. Prints, counting what was RECEIVED:
 *   afpacket: 1.234 Mpps 0.592 Gbps (mmap, len 60, sent 4000000) in 3.000 s
 *
 * Security model: runs as root on interfaces the caller names; it only parses
 * frames it generated itself (it counts them, never looks inside).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_ETHERTYPE 0x88b5 /* IEEE local experimental: never handled by the stack */

static volatile int stop;
static unsigned len = 60, burst = 512;
static int use_mmap = 1;
static int tx_ifindex, rx_ifindex;
static uint64_t sent, received, rx_bytes;
static unsigned char frame[9216];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int packet_socket(int ifindex)
{
	struct sockaddr_ll sll;
	int fd = socket(AF_PACKET, SOCK_RAW, htons(BENCH_ETHERTYPE));

	if (fd < 0) {
		perror("socket(AF_PACKET)");
		exit(1);
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(BENCH_ETHERTYPE);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("bind(AF_PACKET)");
		exit(1);
	}
	return fd;
}

static void build_frame(void)
{
	memset(frame, 0xa5, sizeof(frame));
	memset(frame, 0xff, 6);                         /* broadcast destination */
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6); /* local source */
	frame[12] = BENCH_ETHERTYPE >> 8;
	frame[13] = BENCH_ETHERTYPE & 0xff;
}

/* ---- TX ---- */

static void *tx_mmap(void *arg)
{
	int fd = packet_socket(tx_ifindex), v = TPACKET_V2, one = 1;
	unsigned frame_size = 2048, nframes = 4096;
	struct tpacket_req req;
	char *ring;
	unsigned cur = 0;

	while (frame_size < len + TPACKET2_HDRLEN)
		frame_size *= 2;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) {
		perror("PACKET_VERSION");
		exit(1);
	}
	/* bypass the qdisc: the comparable path to a ring with no queueing layer */
	(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	req.tp_block_size = frame_size * 16;
	req.tp_frame_size = frame_size;
	req.tp_block_nr = nframes / 16;
	req.tp_frame_nr = nframes;
	if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0) {
		perror("PACKET_TX_RING");
		exit(1);
	}
	ring = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		perror("mmap TX ring");
		exit(1);
	}
	while (!stop) {
		unsigned queued = 0;
		for (unsigned i = 0; i < burst; i++) {
			struct tpacket2_hdr *h = (struct tpacket2_hdr *)(ring + (size_t)cur * frame_size);
			if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE)
				break;
			memcpy((char *)h + TPACKET2_HDRLEN - sizeof(struct sockaddr_ll), frame, len);
			h->tp_len = len;
			/* RELEASE: the frame bytes are written before the kernel may take the slot */
			__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
			cur = cur + 1 == nframes ? 0 : cur + 1;
			queued++;
		}
		if (send(fd, NULL, 0, queued ? MSG_DONTWAIT : 0) < 0 && errno != EAGAIN &&
		    errno != ENOBUFS && errno != EINTR) {
			perror("send");
			break;
		}
		sent += queued;
	}
	munmap(ring, (size_t)req.tp_block_size * req.tp_block_nr);
	close(fd);
	return arg;
}

static void *tx_mmsg(void *arg)
{
	int fd = packet_socket(tx_ifindex);
	struct mmsghdr *m = calloc(burst, sizeof(*m));
	struct iovec iov = { frame, len };

	for (unsigned i = 0; i < burst; i++) {
		m[i].msg_hdr.msg_iov = &iov;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stop) {
		int r = sendmmsg(fd, m, burst, 0);
		if (r > 0)
			sent += (unsigned)r;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			perror("sendmmsg");
			break;
		}
	}
	free(m);
	close(fd);
	return arg;
}

/* ---- RX ---- */

static void *rx_mmap(void *arg)
{
	int fd = packet_socket(rx_ifindex), v = TPACKET_V3;
	struct tpacket_req3 req;
	char *ring;
	unsigned blk = 0;
	struct pollfd pfd;

	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) {
		perror("PACKET_VERSION");
		exit(1);
	}
	memset(&req, 0, sizeof(req));
	req.tp_block_size = 1 << 20;
	req.tp_block_nr = 64;
	req.tp_frame_size = 2048;
	req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
	req.tp_retire_blk_tov = 10; /* ms */
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		perror("PACKET_RX_RING");
		exit(1);
	}
	ring = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_LOCKED, fd, 0);
	if (ring == MAP_FAILED)
		ring = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr,
			    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		perror("mmap RX ring");
		exit(1);
	}
	pfd.fd = fd;
	pfd.events = POLLIN | POLLERR;
	while (!stop) {
		struct tpacket_block_desc *b =
			(struct tpacket_block_desc *)(ring + (size_t)blk * req.tp_block_size);
		if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
		      TP_STATUS_USER)) {
			poll(&pfd, 1, 50);
			continue;
		}
		struct tpacket3_hdr *h =
			(struct tpacket3_hdr *)((char *)b + b->hdr.bh1.offset_to_first_pkt);
		for (unsigned i = 0; i < b->hdr.bh1.num_pkts; i++) {
			rx_bytes += h->tp_snaplen;
			h = (struct tpacket3_hdr *)((char *)h + h->tp_next_offset);
		}
		received += b->hdr.bh1.num_pkts;
		/* RELEASE: we are done with the block before the kernel refills it */
		__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		blk = blk + 1 == req.tp_block_nr ? 0 : blk + 1;
	}
	munmap(ring, (size_t)req.tp_block_size * req.tp_block_nr);
	close(fd);
	return arg;
}

static void *rx_mmsg(void *arg)
{
	int fd = packet_socket(rx_ifindex);
	struct mmsghdr *m = calloc(burst, sizeof(*m));
	struct iovec *iov = calloc(burst, sizeof(*iov));
	char *bufs = malloc((size_t)burst * 2048);
	struct timeval tv = { 0, 50000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (unsigned i = 0; i < burst; i++) {
		iov[i].iov_base = bufs + (size_t)i * 2048;
		iov[i].iov_len = 2048;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stop) {
		int r = recvmmsg(fd, m, burst, MSG_WAITFORONE, NULL);
		if (r > 0) {
			received += (unsigned)r;
			for (int i = 0; i < r; i++)
				rx_bytes += m[i].msg_len;
		}
	}
	free(bufs);
	free(iov);
	free(m);
	close(fd);
	return arg;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_afpacket -i TXIF -o RXIF [-l len] [-t seconds] [-b burst] "
			"[-m mmap|mmsg]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *txif = NULL, *rxif = NULL;
	double secs = 3.0, t0, t1;
	pthread_t tt, tr;
	int opt;

	while ((opt = getopt(argc, argv, "i:o:l:t:b:m:h")) != -1) {
		switch (opt) {
		case 'i':
			txif = optarg;
			break;
		case 'o':
			rxif = optarg;
			break;
		case 'l':
			len = (unsigned)atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'b':
			burst = (unsigned)atoi(optarg);
			break;
		case 'm':
			if (!strcmp(optarg, "mmap"))
				use_mmap = 1;
			else if (!strcmp(optarg, "mmsg"))
				use_mmap = 0;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (!txif || !rxif || len < 14 || len > 1514 || burst == 0 || burst > 4096 || secs <= 0)
		usage();
	tx_ifindex = (int)if_nametoindex(txif);
	rx_ifindex = (int)if_nametoindex(rxif);
	if (!tx_ifindex || !rx_ifindex) {
		fprintf(stderr, "bench_afpacket: no such interface: %s\n", !tx_ifindex ? txif : rxif);
		return 1;
	}
	build_frame();
	if (pthread_create(&tr, NULL, use_mmap ? rx_mmap : rx_mmsg, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	usleep(100000); /* let the receiver bind before the first frame */
	uint64_t r0 = received;
	t0 = now();
	if (pthread_create(&tt, NULL, use_mmap ? tx_mmap : tx_mmsg, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	while (now() - t0 < secs)
		usleep(10000);
	uint64_t rcount = __atomic_load_n(&received, __ATOMIC_RELAXED) - r0;
	t1 = now() - t0;
	stop = 1;
	pthread_join(tt, NULL);
	pthread_join(tr, NULL);

	double mpps = rcount / t1 / 1e6;
	printf("afpacket: %.3f Mpps %.3f Gbps (%s, len %u, sent %llu) in %.3f s\n", mpps,
	       mpps * 1e6 * len * 8 / 1e9, use_mmap ? "mmap" : "mmsg", len,
	       (unsigned long long)sent, t1);
	return rcount ? 0 : 1;
}
