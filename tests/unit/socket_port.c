// SPDX-License-Identifier: BSD-2-Clause
/*
 * socket_port - socket ports (ports/socket_port.c, VNM_CTL_SOCKET) against a fake QEMU
 * written here, and a netmap client on the same switch (vale0:x):
 *   stream, vnetmapd connecting (QEMU server=on) and listening (QEMU server=off), and
 *   dgram: frames both ways, counts exact (peer and port counters);
 *   bad length prefixes 0, 5, 70000: connection reset each (ring_resets), the peer
 *   reconnects and forwards again; half a frame then close: drop_bad_slot;
 *   a peer that never reads: the switch keeps forwarding another pair (x -> y, all
 *   frames), the stuck port counts tx_packets + drop_full = frames sent to it, and when
 *   the peer reads at last it gets exactly tx_packets well-framed frames (a cut write
 *   is finished, never corrupted);
 *   a TSO frame from a netmap client with a virtio-net header (HDR_SET 12) reaches the
 *   stream peer as checksummed segments (gso_segs);
 *   garbage datagrams: empty and 5 bytes (drop_runt), 70000 bytes (drop_oversize), from
 *   a stranger (drop_bad_slot);
 *   control: bad name, path too long / not terminated, no mode, dgram without a peer,
 *   server for dgram, existing name, a non-socket file at the path: refused with a
 *   message; INFO says kind SOCKET and whether the peer is connected.
 * Starts its own vnetmapd. Exit 0 pass, 1 fail, 77 no daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>

#include "find_daemon.h"

static char dir[PATH_MAX - 64];
static pid_t daemon_pid = -1;
static int fails;

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                                          \
		}                                                                         \
	} while (0)

static const uint8_t MAC_X[6] = { 0x02, 0, 0, 0, 0, 0xaa };
static const uint8_t MAC_Y[6] = { 0x02, 0, 0, 0, 0, 0xbb };
static const uint8_t MAC_P[6] = { 0x02, 0, 0, 0, 0, 0x01 }; /* the fake QEMU's guest */

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int alive(void)
{
	int st;
	return daemon_pid > 0 && waitpid(daemon_pid, &st, WNOHANG) == 0;
}

static int start_daemon(void)
{
	char path[PATH_MAX], logf[PATH_MAX], ctl[PATH_MAX];

	if (find_daemon(path, sizeof(path)) < 0) {
		printf("SKIP: vnetmapd not built\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/vnm-sock.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(logf, sizeof(logf), "%s/vnetmapd.log", dir);
	snprintf(ctl, sizeof(ctl), "%s/vnetmapd.sock", dir);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(path, "vnetmapd", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct stat st;
		struct vnm_ctl_name_req q;
		struct vnm_ctl_port_info pi[4];
		char msg[128];
		memset(&q, 0, sizeof(q));
		/* the socket file exists before listen(): wait for an answer */
		if (stat(ctl, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    vnm_ctl_call(dir, VNM_CTL_LIST, &q, sizeof(q), pi, sizeof(pi), msg, sizeof(msg)) >= 0)
			return 0;
		if (!alive())
			return 1;
		msleep(25);
	}
	return 1;
}

static void sockpath(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* ---- control ---- */

static int ctl_socket(const char *name, const char *path, const char *peer, uint32_t flags,
		      char *msg, size_t msglen)
{
	struct vnm_ctl_socket_req q;

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	snprintf(q.path, sizeof(q.path), "%s", path);
	if (peer)
		snprintf(q.peer_path, sizeof(q.peer_path), "%s", peer);
	q.flags = flags;
	msg[0] = '\0';
	int r = vnm_ctl_call(dir, VNM_CTL_SOCKET, &q, sizeof(q), NULL, 0, msg, msglen);
	if (r < 0)
		fprintf(stderr, "(SOCKET %s: %s)\n", name, msg);
	return r;
}

static int ctl_name(uint16_t type, const char *name)
{
	struct vnm_ctl_name_req q;
	char msg[256];

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	int r = vnm_ctl_call(dir, type, &q, sizeof(q), NULL, 0, msg, sizeof(msg));
	if (r < 0)
		fprintf(stderr, "ctl %u %s: %s\n", type, name, msg);
	return r;
}

static int get_stats(const char *name, struct vnm_ctl_port_stats *out)
{
	struct vnm_ctl_name_req q;
	struct vnm_ctl_port_stats st[8];
	char msg[256];

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	int n = vnm_ctl_call(dir, VNM_CTL_STATS, &q, sizeof(q), st, sizeof(st), msg, sizeof(msg));
	if (n < (int)sizeof(st[0]))
		return -1;
	*out = st[0];
	return 0;
}

static int get_info(const char *name, struct vnm_ctl_port_info *pi)
{
	struct vnm_ctl_name_req q;
	char msg[256];

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	int n = vnm_ctl_call(dir, VNM_CTL_INFO, &q, sizeof(q), pi, sizeof(*pi), msg, sizeof(msg));
	return n == (int)sizeof(*pi) ? 0 : -1;
}

/* wait until field of port's stats reaches want (or 10 s); returns the last value */
#define STAT_WAIT(port, field, want)                                           \
	({                                                                     \
		struct vnm_ctl_port_stats s_;                                  \
		uint64_t v_ = UINT64_MAX, t_ = now_ms() + 10000;               \
		do {                                                           \
			if (get_stats(port, &s_) == 0)                         \
				v_ = s_.field;                                 \
			if (v_ == (uint64_t)(want))                            \
				break;                                         \
			msleep(20);                                            \
		} while (now_ms() < t_);                                       \
		v_;                                                            \
	})

/* ---- the netmap side ---- */

static void frame_fill(uint8_t *b, uint32_t len, const uint8_t *dst, const uint8_t *src, uint32_t seq)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x88;
	b[13] = 0xb5; /* local experimental ethertype */
	for (uint32_t i = 14; i < len; i++)
		b[i] = (uint8_t)(seq + i);
	if (len >= 18)
		memcpy(b + 14, &seq, 4);
}

static int frame_check(const uint8_t *b, uint32_t len, uint32_t *seq)
{
	if (len < 18 || b[12] != 0x88 || b[13] != 0xb5)
		return -1;
	memcpy(seq, b + 14, 4);
	for (uint32_t i = 18; i < len; i++)
		if (b[i] != (uint8_t)(*seq + i))
			return -1;
	return 0;
}

static uint32_t flen(uint32_t seq)
{
	return 60 + (seq * 97) % 1455; /* 60..1514 */
}

/* n frames from d, seq from seq0; waits for TX room. Returns frames sent. */
static int nm_send(struct vnm_port *d, int n, const uint8_t *dst, const uint8_t *src,
		   uint32_t seq0, uint32_t fixed_len)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	int sent = 0;
	uint64_t t = now_ms() + 10000;

	while (sent < n && now_ms() < t) {
		while (sent < n && nm_ring_space(r)) {
			struct netmap_slot *s = &r->slot[r->cur];
			uint32_t seq = seq0 + (uint32_t)sent;
			uint32_t len = fixed_len ? fixed_len : flen(seq);
			frame_fill((uint8_t *)NETMAP_BUF(r, s->buf_idx), len, dst, src, seq);
			s->len = (uint16_t)len;
			s->flags = 0;
			r->head = r->cur = nm_ring_next(r, r->cur);
			sent++;
		}
		vnm_txsync(d);
		if (sent < n)
			vnm_poll(d, POLLOUT, 100);
	}
	/* let the switch take the last ones */
	for (int i = 0; i < 100 && nm_ring_space(r) < r->num_slots - 1; i++) {
		vnm_poll(d, POLLOUT, 20);
		vnm_txsync(d);
	}
	return sent;
}

/* n frames of len bytes (multi-slot: NS_MOREFRAG) from d, seq from seq0. Returns frames sent. */
static int nm_send_big(struct vnm_port *d, int n, const uint8_t *dst, const uint8_t *src,
		       uint32_t seq0, uint32_t len)
{
	static uint8_t f[65536];
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	uint32_t bs = r->nr_buf_size, nslots = (len + bs - 1) / bs;
	uint64_t t = now_ms() + 20000;
	int sent = 0;

	while (sent < n && now_ms() < t) {
		while (sent < n && nm_ring_space(r) >= nslots) {
			frame_fill(f, len, dst, src, seq0 + (uint32_t)sent);
			for (uint32_t o = 0; o < len; o += bs) {
				struct netmap_slot *s = &r->slot[r->cur];
				uint32_t k = len - o < bs ? len - o : bs;
				memcpy(NETMAP_BUF(r, s->buf_idx), f + o, k);
				s->len = (uint16_t)k;
				s->flags = o + k < len ? NS_MOREFRAG : 0;
				r->head = r->cur = nm_ring_next(r, r->cur);
			}
			sent++;
		}
		vnm_txsync(d);
		if (sent < n)
			vnm_poll(d, POLLOUT, 100);
	}
	for (int i = 0; i < 100 && nm_ring_space(r) < r->num_slots - 1; i++) {
		vnm_poll(d, POLLOUT, 20);
		vnm_txsync(d);
	}
	return sent;
}

/* Receive frames on d for up to ms (or until want); checks contents and order. */
static int nm_recv(struct vnm_port *d, int want, uint32_t seq0, int ms, int *bad)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	uint64_t t = now_ms() + (uint64_t)ms;
	int got = 0;

	while (got < want && now_ms() < t) {
		vnm_poll(d, POLLIN, 50);
		while (!nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->cur];
			uint32_t seq;
			if (frame_check((uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len, &seq) < 0 ||
			    seq != seq0 + (uint32_t)got || s->len != flen(seq))
				(*bad)++;
			got++;
			r->head = r->cur = nm_ring_next(r, r->cur);
		}
		vnm_rxsync(d);
	}
	return got;
}

/* ---- the fake QEMU ---- */

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	return poll(&p, 1, ms) == 1;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		perror("listen");
		close(fd);
		return -1;
	}
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < 100; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		msleep(20);
	}
	close(fd);
	return -1;
}

static int accept_one(int lfd)
{
	if (!wait_fd(lfd, POLLIN, 10000))
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static int write_all(int fd, const void *b, size_t n)
{
	const uint8_t *p = b;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* n framed frames from the fake guest to dst */
static int peer_send_stream(int fd, int n, const uint8_t *dst, uint32_t seq0)
{
	uint8_t b[4 + 1514];
	for (int i = 0; i < n; i++) {
		uint32_t seq = seq0 + (uint32_t)i, len = flen(seq);
		be32(b, len);
		frame_fill(b + 4, len, dst, MAC_P, seq);
		if (write_all(fd, b, 4 + len) < 0)
			return i;
	}
	return n;
}

static int read_full(int fd, uint8_t *b, size_t n, int ms)
{
	size_t got = 0;
	while (got < n) {
		if (!wait_fd(fd, POLLIN, ms))
			return -1;
		ssize_t r = read(fd, b + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/*
 * Read framed frames until want (or ms of silence); every frame must be well framed.
 * Frames carry seq0, seq0+1, ... (UINT32_MAX: any sequence) with flen() lengths (or fixed_len).
 */
static int peer_recv_stream(int fd, int want, uint32_t seq0, int ms, int *bad, uint32_t fixed_len)
{
	static uint8_t b[65536];
	int got = 0;

	while (got < want) {
		uint8_t h[4];
		if (read_full(fd, h, 4, ms) < 0)
			break;
		uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (len < 14 || len > 65535 || read_full(fd, b, len, 2000) < 0) {
			(*bad)++;
			break;
		}
		uint32_t seq;
		if (frame_check(b, len, &seq) < 0 ||
		    (seq0 != UINT32_MAX && seq != seq0 + (uint32_t)got) ||
		    len != (fixed_len ? fixed_len : flen(seq)))
			(*bad)++;
		got++;
	}
	return got;
}

/* the daemon closed the connection (EOF) within ms */
static int peer_sees_eof(int fd, int ms)
{
	uint8_t b[256];
	uint64_t t = now_ms() + (uint64_t)ms;
	while (now_ms() < t) {
		if (!wait_fd(fd, POLLIN, 100))
			continue;
		ssize_t r = read(fd, b, sizeof(b));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 1;
	}
	return 0;
}

static int connected(const char *name, int want)
{
	struct vnm_ctl_port_info pi;
	for (int i = 0; i < 500; i++) {
		if (get_info(name, &pi) == 0 && (int)pi.clients == want)
			return 1;
		msleep(20);
	}
	return 0;
}

/* ---- the cases ---- */

/* peer -> x and x -> peer, n each way, over an established stream connection */
static void exchange_stream(struct vnm_port *x, int fd, const char *port, int n)
{
	struct vnm_ctl_port_stats s0, s1;
	int bad = 0;

	CHECK(get_stats(port, &s0) == 0);
	/* in chunks that fit the receivers' rings and socket buffers: no drops */
	for (int c = 0; c < n; c += 25) {
		int k = n - c < 25 ? n - c : 25;
		CHECK(peer_send_stream(fd, k, MAC_X, 1000 + (uint32_t)c) == k);
		CHECK(nm_recv(x, k, 1000 + (uint32_t)c, 10000, &bad) == k);
		CHECK(nm_send(x, k, MAC_P, MAC_X, 5000 + (uint32_t)c, 0) == k);
		CHECK(peer_recv_stream(fd, k, 5000 + (uint32_t)c, 5000, &bad, 0) == k);
	}
	CHECK(bad == 0);
	CHECK(STAT_WAIT(port, tx_packets, s0.tx_packets + (uint64_t)n) == s0.tx_packets + (uint64_t)n);
	/* counters follow the frames (after rx_done / deliver): wait for them */
	CHECK(STAT_WAIT(port, rx_packets, s0.rx_packets + (uint64_t)n) == s0.rx_packets + (uint64_t)n);
	CHECK(get_stats(port, &s1) == 0);
	CHECK(s1.drop_full == s0.drop_full);
}

static void t_stream_client(struct vnm_port *x)
{
	char p[PATH_MAX], msg[256];
	struct vnm_ctl_port_info pi;
	int lfd, fd;

	sockpath(p, sizeof(p), "q1.sock");
	lfd = unix_listen(p); /* QEMU -netdev stream,server=on */
	CHECK(lfd >= 0);
	CHECK(ctl_socket("s1", p, NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == 0);
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:s1") == 0);
	fd = accept_one(lfd);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	CHECK(connected("s1", 1));
	CHECK(get_info("s1", &pi) == 0 && pi.kind == VNM_KIND_SOCKET && pi.port_idx >= 0);
	exchange_stream(x, fd, "s1", 200);
	/* the peer goes away and comes back: vnetmapd reconnects (every second) */
	close(fd);
	CHECK(connected("s1", 0));
	fd = accept_one(lfd);
	CHECK(fd >= 0);
	if (fd >= 0) {
		exchange_stream(x, fd, "s1", 50);
		close(fd);
	}
out:
	CHECK(ctl_name(VNM_CTL_REMOVE, "s1") == 0);
	close(lfd);
}

static void t_stream_server(struct vnm_port *x)
{
	char p[PATH_MAX], msg[256];
	struct vnm_ctl_port_stats st;
	int fd;

	sockpath(p, sizeof(p), "s2.sock");
	CHECK(ctl_socket("s2", p, NULL, VNM_SOCK_STREAM | VNM_SOCK_SERVER, msg, sizeof(msg)) == 0);
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:s2") == 0);
	fd = unix_connect(p); /* QEMU -netdev stream,server=off */
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	exchange_stream(x, fd, "s2", 100);

	/* bad length prefixes: each resets the connection; the next peer is served */
	const uint32_t badlen[3] = { 0, 5, 70000 };
	for (int i = 0; i < 3; i++) {
		uint8_t h[4];
		be32(h, badlen[i]);
		CHECK(write_all(fd, h, 4) == 0);
		CHECK(peer_sees_eof(fd, 5000));
		close(fd);
		CHECK(STAT_WAIT("s2", ring_resets, i + 1) == (uint64_t)i + 1);
		fd = unix_connect(p);
		CHECK(fd >= 0);
		if (fd < 0)
			goto out;
	}
	/* half a frame, then stall: nothing blocks, the switch forwards for others */
	uint8_t half[4 + 30];
	be32(half, 100);
	memset(half + 4, 0x55, 30);
	CHECK(write_all(fd, half, sizeof(half)) == 0);
	msleep(200);
	CHECK(alive());
	/* ... then close: the cut frame is counted */
	close(fd);
	CHECK(STAT_WAIT("s2", drop_bad_slot, 1) == 1);
	fd = unix_connect(p);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	exchange_stream(x, fd, "s2", 20);
	CHECK(get_stats("s2", &st) == 0);
	CHECK(st.ring_resets == 3 && st.drop_bad_slot == 1);
	/* the connection outlives a detach / attach */
	CHECK(ctl_name(VNM_CTL_DETACH, "vale0:s2") == 0);
	CHECK(connected("s2", 1));
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:s2") == 0);
	exchange_stream(x, fd, "s2", 20);
	/* a peer that goes while the port is detached: the next one is served */
	CHECK(ctl_name(VNM_CTL_DETACH, "vale0:s2") == 0);
	close(fd);
	CHECK(connected("s2", 0));
	fd = unix_connect(p);
	CHECK(fd >= 0);
	CHECK(connected("s2", 1));
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:s2") == 0);
	if (fd >= 0)
		exchange_stream(x, fd, "s2", 20);
	close(fd);
out:
	CHECK(ctl_name(VNM_CTL_REMOVE, "s2") == 0);
	/* the listening socket went with the port */
	CHECK(access(p, F_OK) != 0);
}

/* a peer that never reads; x -> y keeps flowing */
static void t_stuck_peer(struct vnm_port *x, struct vnm_port *y)
{
	char p[PATH_MAX], msg[256];
	struct vnm_ctl_port_stats st;
	int lfd, fd, bad = 0;
	const int N = 20000, M = 500; /* M < y's 1024 RX slots */

	sockpath(p, sizeof(p), "q5.sock");
	lfd = unix_listen(p);
	CHECK(lfd >= 0);
	CHECK(ctl_socket("s5", p, NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == 0);
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:s5") == 0);
	fd = accept_one(lfd);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	/* the peer's MAC and y's are learned */
	CHECK(peer_send_stream(fd, 1, MAC_X, 1000) == 1);
	CHECK(nm_recv(x, 1, 1000, 5000, &bad) == 1);
	CHECK(nm_send(y, 1, MAC_X, MAC_Y, 1000, 0) == 1);
	CHECK(nm_recv(x, 1, 1000, 5000, &bad) == 1);
	CHECK(bad == 0);
	/* x floods the peer with 1000-byte frames it never reads */
	CHECK(nm_send(x, N, MAC_P, MAC_X, 0, 1000) == N);
	/* tx_packets + drop_full == N once the switch has handled them all */
	uint64_t t = now_ms() + 10000;
	do {
		CHECK(get_stats("s5", &st) == 0);
		if (st.tx_packets + st.drop_full == (uint64_t)N)
			break;
		msleep(20);
	} while (now_ms() < t);
	fprintf(stderr, "stuck peer: tx_packets %llu drop_full %llu (of %d)\n",
		(unsigned long long)st.tx_packets, (unsigned long long)st.drop_full, N);
	CHECK(st.tx_packets + st.drop_full == (uint64_t)N);
	CHECK(st.drop_full > 0);
	/* meanwhile another pair forwards everything */
	CHECK(nm_send(x, M, MAC_Y, MAC_X, 0, 0) == M);
	CHECK(nm_recv(y, M, 0, 10000, &bad) == M);
	CHECK(bad == 0);
	/* the peer reads at last: exactly the frames taken, every one well framed */
	int got = peer_recv_stream(fd, (int)st.tx_packets + 1, UINT32_MAX, 2000, &bad, 1000);
	fprintf(stderr, "stuck peer: read %d frames at last\n", got);
	CHECK((uint64_t)got == st.tx_packets);
	CHECK(bad == 0);
	/*
	 * 60000-byte frames: a write the socket cuts short is finished later from the
	 * port's buffer (never a broken frame), then the rest is dropped while it waits.
	 */
	struct vnm_ctl_port_stats s0;
	const int B = 100;
	CHECK(get_stats("s5", &s0) == 0);
	CHECK(nm_send_big(x, B, MAC_P, MAC_X, 0, 60000) == B);
	t = now_ms() + 10000;
	do {
		CHECK(get_stats("s5", &st) == 0);
		if (st.tx_packets + st.drop_full == s0.tx_packets + s0.drop_full + (uint64_t)B)
			break;
		msleep(20);
	} while (now_ms() < t);
	uint64_t taken = st.tx_packets - s0.tx_packets;
	fprintf(stderr, "stuck peer, 60000-byte frames: %llu taken, %llu dropped\n",
		(unsigned long long)taken, (unsigned long long)(st.drop_full - s0.drop_full));
	CHECK(st.tx_packets + st.drop_full == s0.tx_packets + s0.drop_full + (uint64_t)B);
	CHECK(st.drop_full > s0.drop_full);
	got = peer_recv_stream(fd, (int)taken + 1, UINT32_MAX, 2000, &bad, 60000);
	fprintf(stderr, "stuck peer: read %d big frames at last\n", got);
	CHECK((uint64_t)got == taken);
	CHECK(bad == 0);
	close(fd);
out:
	CHECK(ctl_name(VNM_CTL_REMOVE, "s5") == 0);
	close(lfd);
}

/*
 * Churn: a peer closes and its port is removed at once, 100 times, both roles: the
 * port's pending events (peer gone, switch thread's hand-back) and the REMOVE can be
 * in one batch of the main loop; the daemon must survive every ordering.
 */
static void t_churn(void)
{
	char p[PATH_MAX], q[PATH_MAX], msg[256];
	int lfd;

	sockpath(p, sizeof(p), "ch.sock");
	sockpath(q, sizeof(q), "chq.sock");
	lfd = unix_listen(q);
	CHECK(lfd >= 0);
	for (int i = 0; i < 100 && lfd >= 0; i++) {
		int server = i & 1, fd;
		uint8_t b[4 + 60];
		CHECK(ctl_socket("ch", server ? p : q, NULL,
				 VNM_SOCK_STREAM | (server ? VNM_SOCK_SERVER : 0), msg, sizeof(msg)) == 0);
		CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:ch") == 0);
		fd = server ? unix_connect(p) : accept_one(lfd);
		CHECK(fd >= 0);
		be32(b, 60);
		frame_fill(b + 4, 60, MAC_Y, MAC_P, 0);
		if (fd >= 0) {
			CHECK(write_all(fd, b, sizeof(b)) == 0);
			if (i % 3 == 0) { /* and a bad length now and then */
				be32(b, 3);
				CHECK(write_all(fd, b, 4) == 0);
			}
			close(fd);
		}
		CHECK(ctl_name(VNM_CTL_REMOVE, "ch") == 0);
		if (fails)
			break;
	}
	if (lfd >= 0)
		close(lfd);
	CHECK(alive());
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/*
 * A TSO frame (virtio-net header, GSO_TCPV4) from a netmap client with a 12-byte header
 * (HDR_SET, pkt-gen -H) to the stream peer: it arrives as gso_size segments, every
 * checksum complete (IPv4 header, TCP over the pseudo-header), seq advanced, PSH last.
 */
static void t_gso(void)
{
	char p[PATH_MAX], msg[256];
	static uint8_t f[12 + 6000], rb[65536];
	struct vnm_open_opts o = { .dir = dir };
	struct vnm_port *g = NULL;
	struct vnm_ctl_hdr_req hq;
	struct vnm_ctl_port_stats st;
	const uint8_t MAC_G[6] = { 0x02, 0, 0, 0, 0, 0xcc };
	const uint32_t PAY = 5000, MSS = 1000;
	int lfd, fd = -1;

	sockpath(p, sizeof(p), "g.sock");
	lfd = unix_listen(p);
	CHECK(lfd >= 0);
	CHECK(ctl_socket("sg", p, NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == 0);
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:sg") == 0);
	CHECK(vnm_port_open("vale0:g", &o, &g) == 0);
	memset(&hq, 0, sizeof(hq));
	snprintf(hq.name, sizeof(hq.name), "vale0:g");
	hq.hdr_len = 12;
	CHECK(vnm_ctl_call(dir, VNM_CTL_HDR_SET, &hq, sizeof(hq), &hq, sizeof(hq), msg, sizeof(msg)) >= 0);
	/* a header length is for netmap clients' ports only */
	snprintf(hq.name, sizeof(hq.name), "sg");
	CHECK(vnm_ctl_call(dir, VNM_CTL_HDR_SET, &hq, sizeof(hq), &hq, sizeof(hq), msg, sizeof(msg)) == -EOPNOTSUPP);
	if (lfd >= 0)
		fd = accept_one(lfd);
	CHECK(fd >= 0);
	if (!g || fd < 0)
		goto out;
	/* the peer's MAC is learned on sg (g gets that frame with a zero header: drained) */
	CHECK(peer_send_stream(fd, 1, MAC_G, 1000) == 1);
	{
		struct netmap_ring *r = NETMAP_RXRING(g->nifp, g->first_rx_ring);
		uint64_t t = now_ms() + 5000;
		while (nm_ring_empty(r) && now_ms() < t)
			vnm_poll(g, POLLIN, 50);
		CHECK(!nm_ring_empty(r));
		r->head = r->cur = r->tail;
		vnm_rxsync(g);
	}
	/* virtio-net header, then Ethernet + IPv4 + TCP + PAY bytes */
	uint8_t *h = f, *e = f + 12, *ip = e + 14, *th = ip + 20, *pl = th + 20;
	uint32_t flen_ = 14 + 20 + 20 + PAY;
	memset(f, 0, sizeof(f));
	h[0] = 1;                                   /* NEEDS_CSUM */
	h[1] = 1;                                   /* GSO_TCPV4 */
	h[2] = 54;                                  /* hdr_len */
	h[4] = (uint8_t)MSS, h[5] = (uint8_t)(MSS >> 8); /* gso_size, little endian */
	h[6] = 34;                                  /* csum_start */
	h[8] = 16;                                  /* csum_offset */
	memcpy(e, MAC_P, 6);
	memcpy(e + 6, MAC_G, 6);
	e[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + 20 + PAY) >> 8), ip[3] = (uint8_t)(20 + 20 + PAY);
	ip[4] = 0x12, ip[5] = 0x34;
	ip[8] = 64, ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	th[0] = 0x30, th[1] = 0x39, th[2] = 0x00, th[3] = 0x50;
	th[4] = 0x01, th[5] = 0x02, th[6] = 0x03, th[7] = 0x04; /* seq */
	th[12] = 0x50, th[13] = 0x18;              /* doff 5, ACK|PSH */
	th[14] = 0xff, th[15] = 0xff;
	for (uint32_t i = 0; i < PAY; i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	CHECK(get_stats("sg", &st) == 0);
	uint64_t tx0 = st.tx_packets;
	{
		struct netmap_ring *r = NETMAP_TXRING(g->nifp, g->first_tx_ring);
		uint32_t bs = r->nr_buf_size, len = 12 + flen_;
		for (uint32_t off = 0; off < len; off += bs) {
			struct netmap_slot *sl = &r->slot[r->cur];
			uint32_t k = len - off < bs ? len - off : bs;
			memcpy(NETMAP_BUF(r, sl->buf_idx), f + off, k);
			sl->len = (uint16_t)k;
			sl->flags = off + k < len ? NS_MOREFRAG : 0;
			r->head = r->cur = nm_ring_next(r, r->cur);
		}
		vnm_txsync(g);
	}
	uint32_t nseg = (PAY + MSS - 1) / MSS;
	for (uint32_t sgi = 0; sgi < nseg; sgi++) {
		uint8_t hd[4];
		if (read_full(fd, hd, 4, 5000) < 0) {
			CHECK(!"segment missing");
			break;
		}
		uint32_t len = (uint32_t)hd[0] << 24 | (uint32_t)hd[1] << 16 | (uint32_t)hd[2] << 8 | hd[3];
		uint32_t dl = PAY - sgi * MSS < MSS ? PAY - sgi * MSS : MSS;
		CHECK(len == 54 + dl);
		if (len != 54 + dl || read_full(fd, rb, len, 5000) < 0)
			break;
		const uint8_t *sip = rb + 14, *stcp = sip + 20;
		CHECK(((uint32_t)sip[2] << 8 | sip[3]) == 40 + dl);     /* tot_len */
		CHECK(fold(sum16(sip, 20, 0)) == 0xffff);                /* IPv4 header checksum */
		uint32_t seq = (uint32_t)stcp[4] << 24 | (uint32_t)stcp[5] << 16 | (uint32_t)stcp[6] << 8 | stcp[7];
		CHECK(seq == 0x01020304u + sgi * MSS);
		uint32_t ps = sum16(sip + 12, 8, 0) + 6 + 20 + dl;       /* pseudo-header */
		CHECK(fold(sum16(stcp, 20 + dl, ps)) == 0xffff);         /* TCP checksum */
		CHECK(memcmp(stcp + 20, pl + sgi * MSS, dl) == 0);
		CHECK(((stcp[13] & 0x08) != 0) == (sgi == nseg - 1));    /* PSH on the last only */
	}
	CHECK(STAT_WAIT("sg", gso_segs, nseg) == nseg);
	CHECK(STAT_WAIT("sg", tx_packets, tx0 + 1) == tx0 + 1);
	CHECK(get_stats("sg", &st) == 0 && st.drop_gso == 0);
	close(fd);
out:
	if (g)
		vnm_port_close(g);
	CHECK(ctl_name(VNM_CTL_REMOVE, "sg") == 0);
	if (lfd >= 0)
		close(lfd);
}

static int dgram_bind(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 1 << 20;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (path[0] && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bind");
		close(fd);
		return -1;
	}
	return fd;
}

static int dgram_to(int fd, const char *path, const void *b, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return sendto(fd, b, len, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)len ? 0 : -1;
}

static void t_dgram(struct vnm_port *x)
{
	char p[PATH_MAX], q[PATH_MAX], msg[256];
	static uint8_t b[70000];
	struct vnm_ctl_port_stats st;
	int fd, stranger, bad = 0, n = 8;

	sockpath(p, sizeof(p), "d1.sock");
	sockpath(q, sizeof(q), "p1.sock");
	fd = dgram_bind(q); /* QEMU -netdev dgram,local.path=q,remote.path=p */
	CHECK(fd >= 0);
	CHECK(ctl_socket("d1", p, q, VNM_SOCK_DGRAM, msg, sizeof(msg)) == 0);
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:d1") == 0);
	if (fd < 0)
		goto out;
	for (int round = 0; round < 4; round++) {
		uint32_t s0 = 100u * (uint32_t)round;
		for (int i = 0; i < n; i++) {
			uint32_t seq = s0 + (uint32_t)i;
			frame_fill(b, flen(seq), MAC_X, MAC_P, seq);
			CHECK(dgram_to(fd, p, b, flen(seq)) == 0);
		}
		CHECK(nm_recv(x, n, s0, 10000, &bad) == n);
		/* n <= net.unix.max_dgram_qlen (10): nothing is dropped on our side */
		CHECK(nm_send(x, n, MAC_P, MAC_X, s0 + 50, 0) == n);
		for (int i = 0; i < n; i++) {
			uint32_t seq;
			CHECK(wait_fd(fd, POLLIN, 5000));
			ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
			CHECK(r == (ssize_t)flen(s0 + 50 + (uint32_t)i));
			CHECK(r > 0 && frame_check(b, (uint32_t)r, &seq) == 0 &&
			      seq == s0 + 50 + (uint32_t)i);
		}
	}
	CHECK(bad == 0);
	CHECK(STAT_WAIT("d1", rx_packets, 4u * (uint64_t)n) == 4u * (uint64_t)n);
	CHECK(STAT_WAIT("d1", tx_packets, 4u * (uint64_t)n) == 4u * (uint64_t)n);
	/* garbage: empty, 5 bytes, 70000 bytes, and a good frame from a stranger */
	CHECK(dgram_to(fd, p, b, 0) == 0);
	CHECK(dgram_to(fd, p, b, 5) == 0);
	memset(b, 0x11, sizeof(b));
	CHECK(dgram_to(fd, p, b, 70000) == 0);
	stranger = dgram_bind("");
	frame_fill(b, 60, MAC_X, MAC_P, 7);
	CHECK(stranger >= 0 && dgram_to(stranger, p, b, 60) == 0);
	CHECK(STAT_WAIT("d1", drop_runt, 2) == 2);
	CHECK(STAT_WAIT("d1", drop_oversize, 1) == 1);
	CHECK(STAT_WAIT("d1", drop_bad_slot, 1) == 1);
	if (stranger >= 0)
		close(stranger);
	/* and the port still forwards */
	frame_fill(b, flen(900), MAC_X, MAC_P, 900);
	CHECK(dgram_to(fd, p, b, flen(900)) == 0);
	CHECK(nm_recv(x, 1, 900, 5000, &bad) == 1);
	CHECK(bad == 0);
	CHECK(STAT_WAIT("d1", rx_packets, 4u * (uint64_t)n + 1) == 4u * (uint64_t)n + 1);
	CHECK(get_stats("d1", &st) == 0 && st.drop_full == 0);
	close(fd);
out:
	CHECK(ctl_name(VNM_CTL_REMOVE, "d1") == 0);
	CHECK(access(p, F_OK) != 0);
}

static void t_control(void)
{
	char p[PATH_MAX], q[PATH_MAX], msg[256];
	struct vnm_ctl_socket_req r;
	int ret;

	sockpath(p, sizeof(p), "c.sock");
	sockpath(q, sizeof(q), "c-peer.sock");
	CHECK(ctl_socket("bad-name", p, NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == -EINVAL);
	CHECK(strstr(msg, "bad port name") != NULL);
	CHECK(ctl_socket("", p, NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == -EINVAL);
	CHECK(ctl_socket("c1", p, NULL, 0, msg, sizeof(msg)) == -EINVAL);
	CHECK(strstr(msg, "stream or dgram") != NULL);
	CHECK(ctl_socket("c1", p, NULL, VNM_SOCK_STREAM | VNM_SOCK_DGRAM, msg, sizeof(msg)) == -EINVAL);
	CHECK(ctl_socket("c1", p, NULL, 0x80 | VNM_SOCK_STREAM, msg, sizeof(msg)) == -EINVAL);
	CHECK(ctl_socket("c1", p, NULL, VNM_SOCK_DGRAM, msg, sizeof(msg)) == -EINVAL);
	CHECK(strstr(msg, "peer") != NULL);
	CHECK(ctl_socket("c1", p, q, VNM_SOCK_DGRAM | VNM_SOCK_SERVER, msg, sizeof(msg)) == -EINVAL);
	CHECK(ctl_socket("c1", p, q, VNM_SOCK_STREAM, msg, sizeof(msg)) == -EINVAL);
	CHECK(ctl_socket("c1", "", NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == -EINVAL);
	CHECK(strstr(msg, "path") != NULL);
	/* a path of 108 bytes with no NUL */
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "c1");
	memset(r.path, 'a', sizeof(r.path));
	r.flags = VNM_SOCK_STREAM;
	ret = vnm_ctl_call(dir, VNM_CTL_SOCKET, &r, sizeof(r), NULL, 0, msg, sizeof(msg));
	CHECK(ret == -EINVAL && strstr(msg, "NUL") != NULL);
	/* a short request */
	ret = vnm_ctl_call(dir, VNM_CTL_SOCKET, &r, sizeof(r) - 8, NULL, 0, msg, sizeof(msg));
	CHECK(ret == -EINVAL);
	/* a regular file where the listening socket would go */
	int f = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(f >= 0);
	if (f >= 0)
		close(f);
	CHECK(ctl_socket("c1", p, NULL, VNM_SOCK_STREAM | VNM_SOCK_SERVER, msg, sizeof(msg)) ==
	      -EINVAL);
	CHECK(strstr(msg, "not a socket") != NULL);
	unlink(p);
	/* an existing name; a socket port cannot be OPENed */
	CHECK(ctl_socket("c1", p, NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == 0);
	CHECK(ctl_socket("c1", p, NULL, VNM_SOCK_STREAM, msg, sizeof(msg)) == -EEXIST);
	CHECK(ctl_name(VNM_CTL_ATTACH, "vale0:c1") == 0);
	struct vnm_open_opts o = { .dir = dir };
	struct vnm_port *d = NULL;
	CHECK(vnm_port_open("vale0:c1", &o, &d) < 0);
	if (d)
		vnm_port_close(d);
	CHECK(ctl_name(VNM_CTL_DETACH, "vale0:c1") == 0);
	struct vnm_ctl_port_info pi;
	CHECK(get_info("c1", &pi) == 0 && pi.kind == VNM_KIND_SOCKET && pi.port_idx == -1 &&
	      pi.clients == 0 && (pi.flags & VNM_PI_PERSISTENT));
	CHECK(ctl_name(VNM_CTL_REMOVE, "c1") == 0);
	CHECK(ctl_name(VNM_CTL_REMOVE, "c1") < 0);
}

int main(void)
{
	struct vnm_open_opts o = { 0 };
	struct vnm_port *x = NULL, *y = NULL;
	int ret = start_daemon();

	signal(SIGPIPE, SIG_IGN);
	if (ret)
		return ret;
	o.dir = dir;
	CHECK(vnm_port_open("vale0:x", &o, &x) == 0);
	CHECK(vnm_port_open("vale0:y", &o, &y) == 0);
	if (x && y) {
		int bad = 0;
		/* x's and y's MACs are learned: frames for them are unicast */
		CHECK(nm_send(x, 1, MAC_Y, MAC_X, 0, 0) == 1);
		CHECK(nm_recv(y, 1, 0, 5000, &bad) == 1);
		CHECK(nm_send(y, 1, MAC_X, MAC_Y, 0, 0) == 1);
		CHECK(nm_recv(x, 1, 0, 5000, &bad) == 1);
		CHECK(bad == 0);
		fprintf(stderr, "control\n");
		t_control();
		fprintf(stderr, "stream, vnetmapd connecting\n");
		t_stream_client(x);
		fprintf(stderr, "stream, vnetmapd listening; bad lengths, half a frame\n");
		t_stream_server(x);
		fprintf(stderr, "dgram; garbage datagrams\n");
		t_dgram(x);
		fprintf(stderr, "a peer that never reads\n");
		t_stuck_peer(x, y);
		fprintf(stderr, "a TSO frame to the stream peer\n");
		t_gso();
		fprintf(stderr, "churn: peer gone and port removed at once, x100\n");
		t_churn();
		/* y got the churn's frames: drain them */
		nm_recv(y, 1000, 0, 300, &bad);
	}
	if (x)
		vnm_port_close(x);
	if (y)
		vnm_port_close(y);
	CHECK(alive());
	kill(daemon_pid, SIGTERM);
	int st = 0;
	waitpid(daemon_pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (fails) {
		char cmd[PATH_MAX + 64];
		snprintf(cmd, sizeof(cmd), "tail -n 40 %s/vnetmapd.log >&2", dir);
		if (system(cmd) < 0)
			perror("system");
	}
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) < 0)
		perror("system");
	if (fails) {
		fprintf(stderr, "socket_port: %d checks failed\n", fails);
		return 1;
	}
	printf("socket_port: ok\n");
	return 0;
}
