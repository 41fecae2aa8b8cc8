// SPDX-License-Identifier: BSD-2-Clause
/*
 * pipe_seq.c - libvnetmap against a real vnetmapd: open errors (bad name, no
 * daemon, end already bound), then 1M sequence-numbered packets through the pipe
 * netmap:p{1 -> netmap:p}1, sender and receiver in two processes, both blocking
 * in vnm_poll (a lost wake-up shows as a 5 s poll timeout). Then the same pipe is
 * reopened and used again, and a VALE pair (vale0:a -> vale0:b) carries 100k frames.
 *
 * Starts its own vnetmapd ($VNM_BIN/vnetmapd, else ../bin/vnetmapd next to this
 * program) in a fresh directory and kills it at the end. Exit 0 pass, 1 fail,
 * 77 when vnetmapd is not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "find_daemon.h"
#include "vnetmap.h"

#define NPKTS 1000000ULL
#define VALE_PKTS 100000ULL

static char dir[PATH_MAX];
static pid_t daemon_pid = -1;
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

static void on_error(void *arg, int err, const char *msg)
{
	char *buf = arg;
	if (buf)
		snprintf(buf, 256, "%s", msg);
	else
		fprintf(stderr, "vnetmap error %d: %s\n", err, msg);
}

static int start_daemon(void)
{
	char path[PATH_MAX], sock[PATH_MAX + 32], logf[PATH_MAX + 32];

	if (find_daemon(path, sizeof(path)) < 0) {
		printf("SKIP: vnetmapd not built\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "%s/vnm-pipeseq.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(logf, sizeof(logf), "%s/vnetmapd.log", dir);
	daemon_pid = fork();
	if (daemon_pid < 0)
		return 1;
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
	snprintf(sock, sizeof(sock), "%s/%s", dir, VNM_CTL_SOCK_NAME);
	for (int i = 0; i < 100; i++) {
		struct stat st;
		int status;
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			fprintf(stderr, "vnetmapd exited at start (status %d)\n", status);
			daemon_pid = -1;
			return 1;
		}
		usleep(50000);
	}
	fprintf(stderr, "vnetmapd socket did not appear\n");
	return 1;
}

static void stop_daemon(void)
{
	char cmd[PATH_MAX + 64];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		for (int i = 0; i < 50; i++) {
			if (waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
				daemon_pid = -1;
				break;
			}
			usleep(50000);
		}
		if (daemon_pid > 0) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, NULL, 0);
		}
	}
	if (dir[0]) {
		if (fails) {
			snprintf(cmd, sizeof(cmd), "tail -n 20 %s/vnetmapd.log >&2", dir);
			if (system(cmd) < 0)
				perror("system");
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) < 0)
			perror("system");
	}
}

static struct vnm_port *open_port(const char *name)
{
	struct vnm_open_opts o = { .dir = dir, .error = on_error };
	struct vnm_port *d = NULL;
	int r = vnm_port_open(name, &o, &d);
	if (r < 0)
		fprintf(stderr, "open %s: %s\n", name, strerror(-r));
	return d;
}

static void test_open_errors(void)
{
	char msg[256] = "", empty[PATH_MAX + 8];
	struct vnm_open_opts o = { .dir = dir, .error = on_error, .error_arg = msg };
	struct vnm_port *d = (struct vnm_port *)1, *d2 = NULL;
	int r;

	r = vnm_port_open("vale0:a/q", &o, &d);
	CHECK(r == -EINVAL && d == NULL && strstr(msg, "'q'"), "bad name: %d '%s'", r, msg);

	snprintf(empty, sizeof(empty), "%s/none", dir);
	mkdir(empty, 0700);
	o.dir = empty;
	r = vnm_port_open("vale0:a", &o, &d);
	CHECK(r == -ENOENT && strstr(msg, "no vnetmapd at") && strstr(msg, "vnetmapd --dir"),
	      "no daemon: %d '%s'", r, msg);
	rmdir(empty);

	o.dir = dir;
	r = vnm_port_open("netmap:q{7", &o, &d);
	CHECK(r == 0, "open q{7: %s", msg);
	r = vnm_port_open("netmap:q{7", &o, &d2);
	CHECK(r == -EBUSY && d2 == NULL, "second bind of q{7: %d '%s'", r, msg);
	vnm_port_close(d);
	/* the binding dies with the connection: the end can be bound again */
	r = vnm_port_open("netmap:q{7", &o, &d);
	CHECK(r == 0, "rebind after close: %d '%s'", r, msg);
	CHECK(d->kind == VNM_KIND_PIPE && d->kick_fd < 0 && d->fd >= 0 && strstr(d->name, "q{7") &&
	      d->first_tx_ring == 0 && d->last_tx_ring == 0 && d->nifp, "port fields (name '%s')",
	      d->name);
	vnm_port_close(d);

	struct vnm_ctl_name_req req = { .name = "" };
	char rep[4096], err[256];
	r = vnm_ctl_call(dir, VNM_CTL_LIST, &req, sizeof(req), rep, sizeof(rep), err, sizeof(err));
	CHECK(r >= 0 && r % sizeof(struct vnm_ctl_port_info) == 0, "LIST: %d %s", r, err);
	struct vnm_ctl_open_req oreq = { .spec = "netmap:q{8" };
	r = vnm_ctl_call(dir, VNM_CTL_OPEN, &oreq, sizeof(oreq), rep, sizeof(rep), err, sizeof(err));
	CHECK(r == -EPROTO, "OPEN through vnm_ctl_call must refuse the descriptors: %d %s", r, err);
out:;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* /R binds no TX ring: POLLOUT never becomes true and vnm_poll must sleep, not spin. */
static void test_rx_only(void)
{
	struct vnm_port *d = open_port("vale0:r/R");
	CHECK(d, "open vale0:r/R");
	CHECK(d->first_tx_ring > d->last_tx_ring && d->first_rx_ring <= d->last_rx_ring,
	      "ring ranges tx %u-%u rx %u-%u", d->first_tx_ring, d->last_tx_ring, d->first_rx_ring,
	      d->last_rx_ring);
	double t0 = now_s();
	int r = vnm_poll(d, POLLOUT, 100);
	double dt = now_s() - t0;
	CHECK(r == 0 && dt > 0.08, "POLLOUT on /R: %d after %.3f s", r, dt);
	CHECK(vnm_poll(d, POLLIN, 20) == 0, "POLLIN on an idle port");
out:
	vnm_port_close(d);
}

/* ---- pipe: sender in this process, receiver in a child ---- */

static int send_seq(struct vnm_port *d, uint64_t first, uint64_t count)
{
	uint64_t seq = first, end = first + count;
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	unsigned burst = 1;

	while (seq < end) {
		unsigned n = 0;
		while (n < burst && seq < end && !nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->cur];
			char *buf = NETMAP_BUF(r, s->buf_idx);
			memset(buf, 0, 60);
			memset(buf, 0xff, 6); /* broadcast, from 02:00:00:00:00:01 */
			buf[6] = 0x02;
			buf[11] = 0x01;
			buf[12] = 0x08;
			memcpy(buf + 14, &seq, 8);
			s->len = 60;
			s->flags = 0;
			r->head = r->cur = nm_ring_next(r, r->cur);
			seq++;
			n++;
		}
		burst = burst * 13 % 251 + 1;
		if (vnm_txsync(d) < 0)
			return -1;
		if (nm_ring_empty(r)) {
			int ev = vnm_poll(d, POLLOUT, 5000);
			if (ev == 0) {
				fprintf(stderr, "sender: 5 s without space at seq %llu\n",
					(unsigned long long)seq);
				return -1;
			}
			if (ev < 0 || (ev & (POLLERR | POLLHUP)))
				return -1;
		}
	}
	/* wait until everything left the tx ring */
	for (int i = 0; i < 5000 && nm_tx_pending(r); i++) {
		vnm_txsync(d);
		usleep(1000);
	}
	return nm_tx_pending(r) ? -1 : 0;
}

static int recv_seq(struct vnm_port *d, uint64_t first, uint64_t count)
{
	uint64_t seq = first, end = first + count;
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);

	while (seq < end) {
		int ev = vnm_poll(d, POLLIN, 5000);
		if (ev == 0) {
			fprintf(stderr, "receiver: 5 s without packets at seq %llu\n",
				(unsigned long long)seq);
			return -1;
		}
		if (ev < 0 || (ev & (POLLERR | POLLHUP)))
			return -1;
		while (!nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->cur];
			uint64_t v;
			if (s->len < 22) {
				fprintf(stderr, "receiver: len %u at seq %llu\n", s->len,
					(unsigned long long)seq);
				return -1;
			}
			memcpy(&v, NETMAP_BUF(r, s->buf_idx) + 14, 8);
			if (v != seq) {
				fprintf(stderr, "receiver: got %llu, want %llu\n", (unsigned long long)v,
					(unsigned long long)seq);
				return -1;
			}
			seq++;
			r->head = r->cur = nm_ring_next(r, r->cur);
		}
		if ((seq & 0x3ffff) < 256)
			usleep(2000); /* make the sender find the pipe full now and then */
	}
	return vnm_rxsync(d) < 0 ? -1 : 0;
}

static void test_pipe(const char *tx, const char *rx, uint64_t first, uint64_t count)
{
	struct vnm_port *d = NULL;
	struct timespec t0, t1;
	int status, sync[2];
	pid_t pid = -1;
	char c;
	CHECK(pipe(sync) == 0, "pipe");
	pid = fork();

	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct vnm_port *r = open_port(rx);
		ssize_t w = write(sync[1], "x", 1); /* bound: the sender may start */
		(void)w;
		int ret = r ? recv_seq(r, first, count) : -1;
		vnm_port_close(r);
		_exit(ret < 0 ? 1 : 0);
	}
	close(sync[1]);
	CHECK(read(sync[0], &c, 1) == 1, "receiver died before binding");
	close(sync[0]);
	d = open_port(tx);
	CHECK(d, "open %s", tx);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ret = send_seq(d, first, count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	pid = -1;
	CHECK(ret == 0, "sender failed");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "receiver failed (status %d)", status);
	if (getenv("VERBOSE")) {
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		fprintf(stderr, "%s -> %s: %llu packets in %.3f s (%.2f Mpps)\n", tx, rx,
			(unsigned long long)count, s, (double)count / s / 1e6);
	}
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	vnm_port_close(d);
}

int main(void)
{
	int ret = start_daemon();

	if (ret) {
		stop_daemon();
		return ret;
	}
	test_open_errors();
	test_rx_only();
	if (!fails)
		test_pipe("netmap:p{1", "netmap:p}1", 0, NPKTS);
	/* both ends reopened: the rings carry on where the last binders left them */
	if (!fails)
		test_pipe("netmap:p{1", "netmap:p}1", NPKTS, 1000);
	/* the other direction */
	if (!fails)
		test_pipe("netmap:p}1", "netmap:p{1", 0, 100000);
	/* a VALE pair: the sender is lossless, so nothing may be dropped */
	if (!fails)
		test_pipe("vale0:a@conf:lossless=1", "vale0:b", 0, VALE_PKTS);
	stop_daemon();
	return fails ? 1 : 0;
}
