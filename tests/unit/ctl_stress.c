// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_stress.c - negative tests of vnetmapd that tests/unit/ctl_proto.c does not cover
 * (bad-inputs.md items 1, 3, 7 and 23; issue 6 item 1's "/proc/PID/fd and the daemon's
 * mappings before and after 10,000 repetitions"):
 *   stall:    200 peers that connect and never send, and one peer that sends requests
 *             without ever reading a reply: the daemon drops the latter once its socket
 *             buffer is full (it never blocks), and a fresh client is answered within
 *             a second all along;
 *   churn:    CTL_STRESS_ROUNDS (default 3,000; 10,000 for the record) OPEN / hang-up cycles, alternating a
 *             VALE port next to a persistent one, a pipe end, a pipe pair, and a
 *             persistent CREATE/ATTACH/DETACH/REMOVE: every cycle creates and destroys
 *             a region, yet the daemon's fd count and its number of mappings
 *             (/proc/PID/maps lines) return exactly to their values before, and its
 *             RSS grows by less than 8 MiB;
 *   geometry: a client scribbles the region header (buf_ofs, buf_size, num_bufs, ends[]),
 *             its rings' num_slots / buf_ofs / nr_buf_size and its netmap_if ring offsets,
 *             then sends: the daemon uses its private copies (the frame arrives intact
 *             at another port, no ring reset), and stays up;
 *   monitors: (class 23) OPEN of a monitor (/r /t /z) of a port that does not exist is
 *             refused with -ENXIO, of a pipe with -EOPNOTSUPP, not half-served
 *             (served monitors: tests/unit/monitor.c).
 * Runs the daemon of the build dir ($VNM_BIN/vnetmapd or ../bin/vnetmapd); 77 if absent.
 *
 * Security model: this program is the hostile peer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
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
#include "vnetmap/ctl.h"
#include "vnetmap/region.h"

static char dir[PATH_MAX];
static char sock_path[108];
static pid_t dpid = -1;
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failures++;
}

static void cleanup(void)
{
	if (dpid > 0) {
		kill(dpid, SIGKILL);
		waitpid(dpid, NULL, 0);
		dpid = -1;
	}
	if (dir[0]) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
}

static int count_fds(pid_t pid)
{
	char p[64];
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(p);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int count_maps(pid_t pid)
{
	char p[64], line[512];
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

static long rss_kib(pid_t pid)
{
	char p[64], line[256];
	long kb = -1;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int ctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

static union {
	struct vnm_ctl_hdr h;
	uint8_t b[sizeof(struct vnm_ctl_hdr) + VNM_CTL_MAX_PAYLOAD];
} rbuf, sbuf;

static size_t mkname(uint16_t type, const char *name)
{
	struct vnm_ctl_name_req q;

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	sbuf.h.magic = VNM_CTL_MAGIC;
	sbuf.h.version = VNM_CTL_VERSION;
	sbuf.h.type = type;
	sbuf.h.len = sizeof(q);
	sbuf.h.status = 0;
	memcpy(sbuf.b + sizeof(sbuf.h), &q, sizeof(q));
	return sizeof(sbuf.h) + sizeof(q);
}

/* One request (name-type payloads; OPEN's has the same layout) and its reply; fds closed. */
static int32_t call(int s, uint16_t type, const char *name)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	size_t len = mkname(type, name);
	struct iovec iov = { rbuf.b, sizeof(rbuf.b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };

	if (send(s, sbuf.b, len, MSG_NOSIGNAL) != (ssize_t)len)
		return INT32_MIN;
	ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); n >= 0 && ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
	if (n < (ssize_t)sizeof(rbuf.h) || rbuf.h.type != type)
		return INT32_MIN;
	return rbuf.h.status;
}

/* A fresh connection's LIST is answered; returns the seconds it took (-1: no answer). */
static double probe(void)
{
	double t0 = now_s();
	int s = ctl_connect();

	if (s < 0)
		return -1;
	int32_t st = call(s, VNM_CTL_LIST, "");
	close(s);
	return st == 0 ? now_s() - t0 : -1;
}

static int wait_eq(int (*fn)(pid_t), int want, int ms)
{
	int n = -1;

	for (int i = 0; i < ms / 10; i++) {
		n = fn(dpid);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

static void test_stall(void)
{
	enum { IDLE = 200 };
	int idle[IDLE], nidle = 0, base;
	double worst = 0;

	usleep(500000); /* the ports of the previous test are gone (deferred closes) */
	base = count_fds(dpid);

	for (int i = 0; i < IDLE; i++) {
		idle[i] = ctl_connect();
		if (idle[i] >= 0)
			nidle++;
	}
	if (nidle != IDLE)
		fail("stall: only %d of %d idle connections accepted", nidle, IDLE);
	/* a peer that never reads: requests until the daemon gives up on it */
	int hog = ctl_connect(), dropped = 0;
	size_t len = mkname(VNM_CTL_STATS, "");
	int fl = fcntl(hog, F_GETFL);
	fcntl(hog, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0; i < 200000 && !dropped; i++) {
		ssize_t w = send(hog, sbuf.b, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			double t = probe();
			if (t < 0) {
				fail("stall: a fresh client is not answered while a peer does not read");
				break;
			}
			worst = t > worst ? t : worst;
			usleep(1000);
		} else if (w < 0) {
			dropped = 1; /* EPIPE / ECONNRESET: the daemon closed it */
		}
		if (i % 1000 == 999) {
			double t = probe();
			worst = t > worst ? t : worst;
		}
	}
	if (!dropped)
		fail("stall: a peer that never reads its replies was not dropped");
	if (worst > 1.0)
		fail("stall: a fresh client waited %.3f s for its reply", worst);
	close(hog);
	for (int i = 0; i < IDLE; i++)
		if (idle[i] >= 0)
			close(idle[i]);
	int now = wait_eq(count_fds, base, 3000);
	if (now != base)
		fail("stall: daemon fds %d, %d before", now, base);
	printf("stall: %d idle peers and a non-reading peer (dropped): fresh clients answered within"
	       " %.1f ms; daemon fds back to %d\n", nidle, worst * 1e3, base);
}

static void test_churn(int rounds)
{
	int keep = ctl_connect();
	int32_t st;

	/* warm up: the switch with a persistent port (stays), lazily opened things */
	if (call(keep, VNM_CTL_CREATE, "keep") != 0 || call(keep, VNM_CTL_ATTACH, "vale0:keep") != 0)
		fail("churn: persistent port vale0:keep");
	/*
	 * and one cycle of every kind: a switch thread created and joined leaves its stack
	 * in glibc's stack cache (two mappings), which is reuse, not a leak
	 */
	for (int w = 0; w < 4; w++) {
		static const char *const warm[4] = { "vale0:cy", "netmap:cy{1", "vale1:cw", "netmap:cz}3" };
		int c = ctl_connect();
		call(c, VNM_CTL_OPEN, warm[w]);
		close(c);
	}
	usleep(400000);
	int fds0 = count_fds(dpid), maps0 = count_maps(dpid);
	long rss0 = rss_kib(dpid);
	double t0 = now_s();

	for (int r = 0; r < rounds && failures < 10; r++) {
		int c = ctl_connect(), c2 = -1;

		if (c < 0) {
			fail("churn round %d: connect: %s", r, strerror(errno));
			break;
		}
		switch (r % 5) {
		case 0: st = call(c, VNM_CTL_OPEN, "vale0:cy"); break;
		case 1: st = call(c, VNM_CTL_OPEN, "netmap:cy{1"); break;
		case 2:
			c2 = ctl_connect();
			st = call(c, VNM_CTL_OPEN, "netmap:cz}3@conf:slots=128");
			if (st == 0)
				st = call(c2, VNM_CTL_OPEN, "netmap:cz{3");
			break;
		case 3: st = call(c, VNM_CTL_OPEN, "vale1:cw@conf:rings=2"); break;
		default:
			st = call(c, VNM_CTL_CREATE, "cp");
			if (st == 0)
				st = call(c, VNM_CTL_ATTACH, "vale0:cp");
			if (st == 0)
				st = call(c, VNM_CTL_DETACH, "vale0:cp");
			if (st == 0)
				st = call(c, VNM_CTL_REMOVE, "cp");
			break;
		}
		if (st != 0)
			fail("churn round %d (kind %d): status %d", r, r % 5, st);
		close(c);
		if (c2 >= 0)
			close(c2);
	}
	double el = now_s() - t0;
	int fds1 = wait_eq(count_fds, fds0, 3000);
	int maps1 = wait_eq(count_maps, maps0, 3000);
	long rss1 = rss_kib(dpid);
	if (fds1 != fds0)
		fail("churn: daemon fds %d after %d rounds, %d before", fds1, rounds, fds0);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's allocator maps as it likes and its quarantine holds freed memory: report only */
	printf("churn: ASan build, mappings and RSS not asserted\n");
#else
	/* so do valgrind's (tests/run-all.sh VNM_VALGRIND=1 sets VNM_VG_BIN): report only */
	if (getenv("VNM_VG_BIN") && *getenv("VNM_VG_BIN")) {
		printf("churn: daemon under valgrind, mappings and RSS not asserted\n");
	} else {
		if (maps1 != maps0)
			fail("churn: daemon mappings %d after %d rounds, %d before", maps1, rounds,
			     maps0);
		if (rss1 - rss0 > 8192)
			fail("churn: daemon RSS grew from %ld to %ld KiB", rss0, rss1);
	}
#endif
	call(keep, VNM_CTL_DETACH, "vale0:keep");
	call(keep, VNM_CTL_REMOVE, "keep");
	close(keep);
	printf("churn: %d OPEN/close cycles (%d regions created and destroyed) in %.1f s: daemon fds"
	       " %d -> %d, mappings %d -> %d, RSS %ld -> %ld KiB\n", rounds, rounds, el, fds0, fds1,
	       maps0, maps1, rss0, rss1);
}

/* Class 23: a monitor of a missing port or of a pipe is a clear error. */
static void test_refused(void)
{
	static const char *const mon[] = { "vale0:m/r", "vale0:m/t", "vale0:m/z", "netmap:mp{1/r" };
	static const int32_t want[] = { -ENXIO, -ENXIO, -ENXIO, -EOPNOTSUPP };

	for (unsigned i = 0; i < sizeof(mon) / sizeof(mon[0]); i++) {
		int c = ctl_connect();
		int32_t st = call(c, VNM_CTL_OPEN, mon[i]);
		if (st != want[i])
			fail("monitor %s: status %d, want %d", mon[i], st, want[i]);
		close(c);
	}
	printf("monitors: of a missing port refused (-ENXIO), of a pipe (-EOPNOTSUPP)\n");
}

static void test_geometry(void)
{
	struct vnm_open_opts o = { .dir = dir };
	struct vnm_port *a = NULL, *b = NULL;

	if (vnm_port_open("vale2:ga", &o, &a) < 0 || vnm_port_open("vale2:gb", &o, &b) < 0) {
		fail("geometry: open vale2:ga / vale2:gb");
		goto out;
	}
	struct netmap_ring *tx = NETMAP_TXRING(a->nifp, a->first_tx_ring);
	struct netmap_ring *rx = NETMAP_RXRING(b->nifp, b->first_rx_ring);
	uint8_t frame[60];
	/* b first speaks so the switch learns it; then a sends unicast to b */
	for (int round = 0; round < 2; round++) {
		struct vnm_port *src = round ? a : b;
		struct netmap_ring *r = NETMAP_TXRING(src->nifp, src->first_tx_ring);
		memset(frame, 0, sizeof(frame));
		frame[0] = round ? 0x02 : 0xff, frame[5] = round ? 0x0b : 0xff;
		if (!round)
			memset(frame, 0xff, 6);
		frame[6] = 0x02, frame[11] = round ? 0x0a : 0x0b;
		frame[12] = 0x08;
		for (int i = 14; i < 60; i++)
			frame[i] = (uint8_t)(i * 3 + round);
		struct netmap_slot *s = &r->slot[r->cur];
		memcpy(NETMAP_BUF(r, s->buf_idx), frame, sizeof(frame));
		s->len = sizeof(frame);
		r->head = r->cur = nm_ring_next(r, r->cur);
		if (round) {
			/* now the scribbling: everything the daemon must never read back */
			struct vnm_region_hdr *h = a->mem;
			uint32_t saved_slots = tx->num_slots;
			h->buf_ofs = 12345;
			h->buf_size = 7;
			h->num_bufs = 0xffffffffu;
			h->region_size = 1;
			for (int e = 0; e < VNM_REGION_MAX_ENDS; e++) {
				h->ends[e].nifp_ofs = 0xdeadbeefULL;
				h->ends[e].csb_atok_ofs = 0xfffffffffULL;
				h->ends[e].num_tx_rings = 999;
			}
			*(uint32_t *)&tx->num_slots = 0xffffffffu;
			*(int64_t *)&tx->buf_ofs = -((int64_t)1 << 40);
			*(uint32_t *)&tx->nr_buf_size = 1;
			/* the ring offsets the library already resolved stay in its own copies */
			(void)saved_slots;
		}
		if (vnm_txsync(src) < 0)
			fail("geometry: txsync (round %d) returned an error", round);
	}
	/* the frame from a arrives intact at b (b's own broadcast went nowhere else) */
	int got = 0;
	for (int i = 0; i < 200 && !got; i++) {
		vnm_rxsync(b);
		while (rx->head != rx->tail) {
			struct netmap_slot *s = &rx->slot[rx->head];
			const uint8_t *p = (const uint8_t *)NETMAP_BUF(rx, s->buf_idx);
			if (s->len == 60 && p[11] == 0x0a && memcmp(p + 14, frame + 14, 46) == 0)
				got = 1;
			rx->head = rx->cur = nm_ring_next(rx, rx->head);
		}
		if (!got)
			usleep(10000);
	}
	if (!got)
		fail("geometry: the frame sent after scribbling the geometry did not arrive intact");
	if (kill(dpid, 0) < 0)
		fail("geometry: the daemon died");
	if (probe() < 0)
		fail("geometry: the daemon does not answer");
	printf("geometry: region header, ring num_slots/buf_ofs/nr_buf_size and ends[] scribbled:"
	       " frame forwarded intact by the private geometry\n");
out:
	if (a)
		vnm_port_close(a);
	if (b)
		vnm_port_close(b);
}

int main(int argc, char **argv)
{
	char daemon_path[PATH_MAX];
	const char *bin = getenv("VNM_BIN");
	const char *rs = getenv("CTL_STRESS_ROUNDS");
	int rounds = rs && atoi(rs) > 0 ? atoi(rs) : 3000;

	if (bin && *bin) {
		snprintf(daemon_path, sizeof(daemon_path), "%s/vnetmapd", bin);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return 77;
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(daemon_path, sizeof(daemon_path), "%.4000s/../bin/vnetmapd", self);
	}
	if (access(daemon_path, X_OK) < 0) {
		fprintf(stderr, "SKIP: no daemon at %s\n", daemon_path);
		return 77;
	}
	/* tmpfs when there is one: the region directory is then inside ours */
	snprintf(dir, sizeof(dir), "%s/vnm-ctlstress.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%.90s/%s", dir, VNM_CTL_SOCK_NAME);
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	dpid = fork();
	if (dpid == 0) {
		execl(daemon_path, "vnetmapd", "--dir", dir, "-q", (char *)NULL);
		_exit(127);
	}
	int s = -1;
	for (int i = 0; i < 500 && s < 0; i++) {
		s = ctl_connect();
		if (s < 0)
			usleep(10000);
	}
	if (s < 0) {
		fprintf(stderr, "FAIL: daemon did not come up at %s\n", sock_path);
		return 1;
	}
	close(s);
	test_refused();
	test_geometry();
	test_stall();
	test_churn(rounds);

	int status = 0;
	kill(dpid, SIGTERM);
	if (waitpid(dpid, &status, 0) == dpid) {
		dpid = -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("daemon exit status 0x%x after SIGTERM", status);
	}
	if (failures) {
		fprintf(stderr, "%d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
