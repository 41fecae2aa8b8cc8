// SPDX-License-Identifier: BSD-2-Clause
/*
 * vhost_bad_frontend - a vhost-user front-end against a real vnetmapd: first a
 * hostile one (short headers, sizes larger than the payload or than any request,
 * unknown requests, fds where none belong, more fds than any request carries, bad
 * memory tables and rings, garbage streams, a stall mid-message), each on its own
 * connection; then a well-behaved one (memfd guest memory, both virtqueues) that
 * exchanges frames with a netmap client on the same switch, with malformed
 * descriptor chains mixed into its TX queue (consumed, counted, never forwarded);
 * then a reconnection. The daemon must stay up, leak no fd, and exit cleanly.
 *
 * Starts its own vnetmapd with --vhost-user vale0:vm=DIR/vh.sock,server (found as
 * $VNM_BIN/vnetmapd or ../bin/vnetmapd). Exit 0 pass, 1 fail, 77 no daemon.
 *
 * Security model: this program is the hostile peer; it trusts nothing the daemon
 * writes into the shared rings beyond bounds-checked indices.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>

#include "find_daemon.h"
#include "vhost/vhost_msg.h"

static char dir[PATH_MAX], sockpath[PATH_MAX + 32];
static pid_t daemon_pid = -1;
static int fails;

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                                          \
		}                                                                         \
	} while (0)

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int daemon_fds(void)
{
	char p[64];
	int n = 0;
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)daemon_pid);
	DIR *d = opendir(p);
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int alive(void)
{
	int st;
	return daemon_pid > 0 && waitpid(daemon_pid, &st, WNOHANG) == 0;
}

static int start_daemon(void)
{
	char path[PATH_MAX], spec[PATH_MAX + 64], logf[PATH_MAX + 32];

	if (find_daemon(path, sizeof(path)) < 0) {
		printf("SKIP: vnetmapd not built\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/vnm-vh.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sockpath, sizeof(sockpath), "%s/vh.sock", dir);
	snprintf(spec, sizeof(spec), "vale0:vm=%s,server", sockpath);
	snprintf(logf, sizeof(logf), "%s/vnetmapd.log", dir);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(path, "vnetmapd", "--dir", dir, "--vhost-user", spec, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		struct stat st;
		if (stat(sockpath, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (!alive())
			return 1;
		msleep(50);
	}
	return 1;
}

static int conn(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(sockpath) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, sockpath, strlen(sockpath) + 1);
	for (int i = 0; i < 50; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		msleep(20);
	}
	close(fd);
	return -1;
}

static int send_msg(int fd, uint32_t req, uint32_t flags, const void *pl, uint32_t size,
		    uint32_t size_field, const int *fds, unsigned nfds)
{
	uint8_t buf[VHOST_USER_HDR_SIZE + 512];
	struct vhost_user_hdr h = { req, flags ? flags : VHOST_USER_VERSION, size_field };
	union {
		char b[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr a;
	} cb;
	struct iovec iov = { buf, VHOST_USER_HDR_SIZE + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + VHOST_USER_HDR_SIZE, pl, size);
	if (nfds) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* Read a reply's payload (u64 or state); -1 on close or timeout. */
static int recv_reply(int fd, void *out, uint32_t len)
{
	struct pollfd p = { fd, POLLIN, 0 };
	uint8_t buf[VHOST_USER_HDR_SIZE + 64];

	if (poll(&p, 1, 2000) != 1)
		return -1;
	ssize_t n = recv(fd, buf, VHOST_USER_HDR_SIZE + len, MSG_WAITALL);
	if (n != (ssize_t)(VHOST_USER_HDR_SIZE + len))
		return -1;
	memcpy(out, buf + VHOST_USER_HDR_SIZE, len);
	return 0;
}

/* Did the daemon close the connection (within 2 s)? */
static int closed_by_peer(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b[64];

	for (int i = 0; i < 20; i++) {
		if (poll(&p, 1, 100) == 1) {
			ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return 1;
		}
	}
	return 0;
}

static void hostile(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int fds[16];
	uint64_t v = 0;
	int fd;

	for (int i = 0; i < 16; i++)
		fds[i] = efd;
	/* short header, then close */
	fd = conn();
	CHECK(fd >= 0 && write(fd, "\x01\x00\x00", 3) == 3);
	close(fd);
	/* size field larger than any request */
	fd = conn();
	CHECK(send_msg(fd, VHOST_USER_SET_FEATURES, 0, &v, 8, 1u << 20, NULL, 0) == 0);
	CHECK(closed_by_peer(fd));
	close(fd);
	/* size field larger than the payload sent, then a stall: only this port waits */
	fd = conn();
	CHECK(send_msg(fd, VHOST_USER_SET_FEATURES, 0, &v, 4, 8, NULL, 0) == 0);
	msleep(100);
	CHECK(alive());
	close(fd);
	/* unknown request, wrong size for the request, wrong version */
	fd = conn();
	CHECK(send_msg(fd, 77, 0, NULL, 0, 0, NULL, 0) == 0 && closed_by_peer(fd));
	close(fd);
	fd = conn();
	CHECK(send_msg(fd, VHOST_USER_SET_VRING_NUM, 0, &v, 4, 4, NULL, 0) == 0 && closed_by_peer(fd));
	close(fd);
	fd = conn();
	CHECK(send_msg(fd, VHOST_USER_GET_FEATURES, 3, NULL, 0, 0, NULL, 0) == 0 && closed_by_peer(fd));
	close(fd);
	/* an error with need_reply: an ack of 1, then the close */
	fd = conn();
	struct vhost_user_state s = { 7, 256 };
	uint64_t ack = 0;
	CHECK(send_msg(fd, VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY, &s,
		       8, 8, NULL, 0) == 0);
	CHECK(recv_reply(fd, &ack, 8) == 0 && ack == 1);
	CHECK(closed_by_peer(fd));
	close(fd);
	/* fds where none belong; more fds than any request carries */
	fd = conn();
	CHECK(send_msg(fd, VHOST_USER_SET_OWNER, 0, NULL, 0, 0, fds, 3) == 0 && closed_by_peer(fd));
	close(fd);
	fd = conn();
	CHECK(send_msg(fd, VHOST_USER_SET_OWNER, 0, NULL, 0, 0, fds, 12) == 0 && closed_by_peer(fd));
	close(fd);
	/* a memory table with 9 regions; one whose offset runs past the file */
	fd = conn();
	{
		uint8_t m[8 + 32 * 9];
		memset(m, 0, sizeof(m));
		m[0] = 9;
		CHECK(send_msg(fd, VHOST_USER_SET_MEM_TABLE, 0, m, 8 + 32 * 8, 8 + 32 * 8, fds, 8) ==
		      0);
		CHECK(closed_by_peer(fd));
		close(fd);
	}
	fd = conn();
	{
		int mfd = memfd_create("x", MFD_CLOEXEC);
		CHECK(ftruncate(mfd, 4096) == 0);
		struct vhost_user_mem m = { 1, 0, { { 0, 4096, 0x10000, 4096 } } };
		CHECK(send_msg(fd, VHOST_USER_SET_MEM_TABLE, 0, &m, 40, 40, &mfd, 1) == 0);
		CHECK(closed_by_peer(fd));
		close(mfd);
		close(fd);
	}
	/* garbage: 200 random-looking messages on one connection */
	fd = conn();
	{
		uint32_t x = 12345;
		uint8_t g[4096];
		for (unsigned i = 0; i < sizeof(g); i++) {
			x = x * 1103515245u + 12345u;
			g[i] = (uint8_t)(x >> 16);
		}
		ssize_t w = send(fd, g, sizeof(g), MSG_NOSIGNAL);
		(void)w;
		CHECK(closed_by_peer(fd));
		close(fd);
	}
	/* a peer that disconnects at every step of a set-up */
	for (int step = 0; step < 4; step++) {
		fd = conn();
		if (step > 0)
			send_msg(fd, VHOST_USER_SET_OWNER, 0, NULL, 0, 0, NULL, 0);
		if (step > 1)
			send_msg(fd, VHOST_USER_GET_FEATURES, 0, NULL, 0, 0, NULL, 0);
		if (step > 2) {
			v = VHOST_NET_FEATURES;
			send_msg(fd, VHOST_USER_SET_FEATURES, 0, &v, 8, 8, NULL, 0);
		}
		close(fd);
	}
	close(efd);
	msleep(200);
	CHECK(alive());
}

/* ---- a well-behaved front-end ---- */

#define GMEM (4u << 20)
#define GPA0 0x40000000ull
#define NUM 256
#define BUF 0x100000u /* buffers from here */

struct guest {
	int fd, sock;
	uint8_t *m;
	int kick[2], call[2];
	uint16_t avail_idx[2], used_seen[2];
};

static struct vring_desc *desc(struct guest *g, unsigned q)
{
	return (struct vring_desc *)(g->m + q * 0x10000);
}
static uint16_t *avail(struct guest *g, unsigned q)
{
	return (uint16_t *)(g->m + q * 0x10000 + 0x4000);
}
static uint8_t *used(struct guest *g, unsigned q)
{
	return g->m + q * 0x10000 + 0x8000;
}

static int guest_up(struct guest *g)
{
	memset(g, 0, sizeof(*g));
	g->fd = memfd_create("guest", MFD_CLOEXEC);
	if (g->fd < 0 || ftruncate(g->fd, GMEM) < 0)
		return -1;
	g->m = mmap(NULL, GMEM, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	if (g->m == MAP_FAILED)
		return -1;
	g->sock = conn();
	if (g->sock < 0)
		return -1;
	uint64_t feat = 0, f;
	int ok = 0;
	ok |= send_msg(g->sock, VHOST_USER_SET_OWNER, 0, NULL, 0, 0, NULL, 0);
	ok |= send_msg(g->sock, VHOST_USER_GET_FEATURES, 0, NULL, 0, 0, NULL, 0);
	ok |= recv_reply(g->sock, &feat, 8);
	f = VHOST_BIT(VIRTIO_F_VERSION_1) | VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF) |
	    VHOST_BIT(VIRTIO_RING_F_EVENT_IDX) | VHOST_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
	    VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	if ((feat & f) != f)
		return -1;
	uint64_t pf = 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK;
	ok |= send_msg(g->sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &pf, 8, 8, NULL, 0);
	ok |= send_msg(g->sock, VHOST_USER_SET_FEATURES, 0, &f, 8, 8, NULL, 0);
	struct vhost_user_mem mt = { 1, 0, { { GPA0, GMEM, (uint64_t)(uintptr_t)g->m, 0 } } };
	uint64_t ack = 1;
	ok |= send_msg(g->sock, VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY,
		       &mt, 40, 40, &g->fd, 1);
	ok |= recv_reply(g->sock, &ack, 8);
	if (ok || ack != 0)
		return -1;
	for (uint32_t q = 0; q < 2; q++) {
		g->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		g->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		uint64_t qi = q;
		struct vhost_user_state st = { q, NUM }, base = { q, 0 }, en = { q, 1 };
		uint64_t b = (uint64_t)(uintptr_t)g->m + q * 0x10000;
		struct vhost_user_addr ad = { q, 0, b, b + 0x8000, b + 0x4000, 0 };
		ok |= send_msg(g->sock, VHOST_USER_SET_VRING_CALL, 0, &qi, 8, 8, &g->call[q], 1);
		ok |= send_msg(g->sock, VHOST_USER_SET_VRING_NUM, 0, &st, 8, 8, NULL, 0);
		ok |= send_msg(g->sock, VHOST_USER_SET_VRING_BASE, 0, &base, 8, 8, NULL, 0);
		ok |= send_msg(g->sock, VHOST_USER_SET_VRING_ADDR, 0, &ad, 40, 40, NULL, 0);
		ok |= send_msg(g->sock, VHOST_USER_SET_VRING_KICK, 0, &qi, 8, 8, &g->kick[q], 1);
		ok |= send_msg(g->sock, VHOST_USER_SET_VRING_ENABLE,
			       VHOST_USER_VERSION | VHOST_USER_NEED_REPLY, &en, 8, 8, NULL, 0);
		ok |= recv_reply(g->sock, &ack, 8);
		if (ack != 0)
			return -1;
	}
	return ok ? -1 : 0;
}

static void guest_down(struct guest *g)
{
	close(g->sock);
	for (int q = 0; q < 2; q++) {
		close(g->kick[q]);
		close(g->call[q]);
	}
	munmap(g->m, GMEM);
	close(g->fd);
}

static void post(struct guest *g, unsigned q, uint16_t head)
{
	uint16_t *a = avail(g, q);
	a[2 + (g->avail_idx[q] % NUM)] = head;
	g->avail_idx[q]++;
	__atomic_store_n(&a[1], g->avail_idx[q], __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint64_t one = 1;
	ssize_t w = write(g->kick[q], &one, 8); /* always kick: simpler than avail_event */
	(void)w;
}

static void setd(struct guest *g, unsigned q, unsigned i, uint64_t gpa, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	struct vring_desc d = { gpa, len, flags, next };
	memcpy(&desc(g, q)[i], &d, sizeof(d));
}

/* Wait for n more used entries on q; returns how many arrived within ms. */
static int wait_used(struct guest *g, unsigned q, uint16_t n, int ms, uint32_t *lastlen)
{
	for (int t = 0; t < ms; t += 5) {
		uint16_t idx = __atomic_load_n((uint16_t *)(used(g, q) + 2), __ATOMIC_ACQUIRE);
		if ((uint16_t)(idx - g->used_seen[q]) >= n) {
			struct vring_used_elem e;
			memcpy(&e, used(g, q) + 4 + 8 * ((uint16_t)(g->used_seen[q] + n - 1) % NUM),
			       sizeof(e));
			if (lastlen)
				*lastlen = e.len;
			g->used_seen[q] += n;
			return n;
		}
		msleep(5);
	}
	return 0;
}

static const uint8_t HMAC[6] = { 0x02, 0, 0, 0, 0, 0x11 };
static const uint8_t GMAC[6] = { 0x02, 0, 0, 0, 0, 0x22 };

/* Host client: wait for one frame on its RX ring; returns its length or -1. */
static int host_recv(struct vnm_port *h, uint8_t *out)
{
	struct netmap_ring *r = NETMAP_RXRING(h->nifp, h->first_rx_ring);
	for (int t = 0; t < 200; t++) {
		vnm_rxsync(h);
		if (!nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->cur];
			int len = s->len;
			memcpy(out, NETMAP_BUF(r, s->buf_idx), len);
			r->head = r->cur = nm_ring_next(r, r->cur);
			vnm_rxsync(h);
			return len;
		}
		msleep(10);
	}
	return -1;
}

static void host_send(struct vnm_port *h, const uint8_t *frame, unsigned len)
{
	struct netmap_ring *r = NETMAP_TXRING(h->nifp, h->first_tx_ring);
	vnm_txsync(h);
	struct netmap_slot *s = &r->slot[r->cur];
	memcpy(NETMAP_BUF(r, s->buf_idx), frame, len);
	s->len = (uint16_t)len;
	r->head = r->cur = nm_ring_next(r, r->cur);
	vnm_txsync(h);
}

static void good_frontend(struct vnm_port *h, int round)
{
	struct guest g;
	uint8_t fr[2048], got[2048];

	CHECK(guest_up(&g) == 0);
	/* guest TX: header (12 bytes, zero) + 60-byte frame to the host's MAC */
	memset(g.m + BUF, 0, 12);
	uint8_t *f = g.m + BUF + 64;
	memcpy(f, HMAC, 6);
	memcpy(f + 6, GMAC, 6);
	for (int i = 12; i < 60; i++)
		f[i] = (uint8_t)(i + round);
	setd(&g, 1, 0, GPA0 + BUF, 12, VRING_DESC_F_NEXT, 1);
	setd(&g, 1, 1, GPA0 + BUF + 64, 60, 0, 0);
	/* malformed chains before it: unmapped buffer, loop, writable in TX, bad indirect */
	setd(&g, 1, 2, 0x10, 60, 0, 0);
	setd(&g, 1, 3, GPA0 + BUF, 12, VRING_DESC_F_NEXT, 3);
	setd(&g, 1, 4, GPA0 + BUF, 72, VRING_DESC_F_WRITE, 0);
	setd(&g, 1, 5, GPA0 + BUF, 40, VRING_DESC_F_INDIRECT, 0);
	post(&g, 1, 2);
	post(&g, 1, 3);
	post(&g, 1, 4);
	post(&g, 1, 5);
	post(&g, 1, 0);
	CHECK(wait_used(&g, 1, 5, 2000, NULL) == 5);
	int n = host_recv(h, got);
	CHECK(n == 60 && memcmp(got, f, 60) == 0);

	/* guest RX: two 1024-byte buffers; the host sends 1500 bytes: 2 merged buffers */
	for (uint16_t i = 0; i < 2; i++) {
		setd(&g, 0, i, GPA0 + BUF + 0x10000 + i * 1024u, 1024, VRING_DESC_F_WRITE, 0);
		post(&g, 0, i);
	}
	memcpy(fr, GMAC, 6);
	memcpy(fr + 6, HMAC, 6);
	for (int i = 12; i < 1500; i++)
		fr[i] = (uint8_t)(i * 3 + round);
	host_send(h, fr, 1500);
	uint32_t ll = 0;
	CHECK(wait_used(&g, 0, 2, 2000, &ll) == 2 && ll == 1512 - 1024);
	struct virtio_net_hdr_mrg vh;
	memcpy(&vh, g.m + BUF + 0x10000, 12);
	CHECK(vh.num_buffers == 2);
	CHECK(memcmp(g.m + BUF + 0x10000 + 12, fr, 1012) == 0 &&
	      memcmp(g.m + BUF + 0x10000 + 1024, fr + 1012, 488) == 0);
	guest_down(&g);
}

int main(void)
{
	int rc = start_daemon();
	if (rc) {
		if (daemon_pid > 0)
			kill(daemon_pid, SIGKILL);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN);
	msleep(100);
	int fd0 = daemon_fds();
	hostile();
	msleep(300);
	CHECK(daemon_fds() == fd0);

	struct vnm_open_opts o = { dir, NULL, NULL };
	struct vnm_port *h = NULL;
	CHECK(vnm_port_open("vale0:h", &o, &h) == 0);
	if (h) {
		good_frontend(h, 0);
		msleep(200);
		hostile(); /* again, with a client on the switch */
		good_frontend(h, 1); /* reconnection: the port works again */
		vnm_port_close(h);
	}
	CHECK(alive());
	kill(daemon_pid, SIGTERM);
	int st = 0;
	waitpid(daemon_pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (fails) {
		char cmd[PATH_MAX + 64];
		snprintf(cmd, sizeof(cmd), "tail -n 30 %s/vnetmapd.log >&2", dir);
		if (system(cmd) < 0)
			perror("system");
	}
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) < 0)
		perror("system");
	if (fails) {
		fprintf(stderr, "vhost_bad_frontend: %d checks failed\n", fails);
		return 1;
	}
	printf("vhost_bad_frontend: ok\n");
	return 0;
}
