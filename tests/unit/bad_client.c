// SPDX-License-Identifier: BSD-2-Clause
/*
 * bad_client - a client that breaks netmap's ring rules on vale0:bad (head past tail,
 * buf_idx out of the pool, len over the buffer size) must get -EIO and the error
 * callback (its ring is reset, counted in ring_resets), or a counted drop, while a
 * sender/receiver pair on vale0:c -> vale0:d keeps flowing and the daemon stays up.
 *
 * Starts its own vnetmapd (found next to this program: ../bin/vnetmapd, or $VNM_BIN)
 * in a fresh directory and stops it. Exit 0 pass, 1 fail, 77 when there is no daemon.
 *
 * Security model: this program is the hostile peer; it trusts nothing it reads back
 * from the region beyond what the library exposes.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>

#include "find_daemon.h"

static char dir[PATH_MAX];
static pid_t daemon_pid = -1;
static volatile int stop_flow;
static uint64_t flow_rx, flow_tx;
static int flow_err;

static int last_err;
static char last_msg[256];
static int cb_calls;

static void on_error(void *arg, int err, const char *msg)
{
	(void)arg;
	last_err = err;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	cb_calls++;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void stop_daemon(void)
{
	if (daemon_pid > 0) {
		int st;
		kill(daemon_pid, SIGTERM);
		for (int i = 0; i < 50; i++) {
			if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
				daemon_pid = -1;
				break;
			}
			msleep(100);
		}
		if (daemon_pid > 0) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, &st, 0);
			daemon_pid = -1;
		}
	}
	if (dir[0]) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		dir[0] = '\0';
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "bad_client: timeout\n";
	ssize_t r = write(2, m, sizeof(m) - 1);
	(void)r;
	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	_exit(1);
}

static int start_daemon(void)
{
	char path[PATH_MAX], sock[PATH_MAX + 32], logf[PATH_MAX + 32];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (find_daemon(path, sizeof(path)) < 0) {
		printf("SKIP: vnetmapd not built\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "%s/vnm-bad.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		dir[0] = '\0';
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
		setenv(VNETMAP_DIR_ENV, dir, 1);
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
		msleep(100);
	}
	fprintf(stderr, "vnetmapd socket did not appear\n");
	return 1;
}

static struct vnm_port *open_port(const char *name, vnm_error_cb cb)
{
	struct vnm_open_opts o = { dir, cb, NULL };
	struct vnm_port *d = NULL;
	int r = vnm_port_open(name, &o, &d);
	if (r < 0) {
		fprintf(stderr, "open %s: %s\n", name, strerror(-r));
		return NULL;
	}
	return d;
}

static void fill_frame(char *buf, unsigned char src)
{
	memset(buf, 0, 60);
	memset(buf, 0xff, 6); /* broadcast */
	buf[6] = 0x02;
	buf[11] = (char)src;
	buf[12] = 0x08; /* IPv4 ethertype: just a plausible frame */
}

/* vale0:c: send broadcast frames as long as the test runs. */
static void *sender(void *arg)
{
	struct vnm_port *d = arg;
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);

	while (!stop_flow) {
		int ev = vnm_poll(d, POLLOUT, 100);
		if (ev < 0 && ev != -EIO) {
			flow_err = ev;
			break;
		}
		unsigned n = 0;
		while (nm_ring_space(r) && n < 64) {
			struct netmap_slot *s = &r->slot[r->cur];
			fill_frame(NETMAP_BUF(r, s->buf_idx), 0x0c);
			s->len = 60;
			s->flags = 0;
			r->head = r->cur = nm_ring_next(r, r->cur);
			n++;
		}
		__atomic_fetch_add(&flow_tx, n, __ATOMIC_RELAXED);
		vnm_txsync(d);
		msleep(1); /* a steady trickle, not a flood */
	}
	return NULL;
}

/* vale0:d: count what arrives. */
static void *receiver(void *arg)
{
	struct vnm_port *d = arg;
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);

	while (!stop_flow) {
		int ev = vnm_poll(d, POLLIN, 100);
		if (ev < 0 && ev != -EIO) {
			flow_err = ev;
			break;
		}
		unsigned n = nm_ring_space(r);
		r->head = r->cur = r->tail;
		__atomic_fetch_add(&flow_rx, n, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int get_stats(const char *name, struct vnm_ctl_port_stats *out)
{
	struct vnm_ctl_name_req req;
	static struct vnm_ctl_port_stats st[256];
	char msg[256];
	int n;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	n = vnm_ctl_call(dir, VNM_CTL_STATS, &req, sizeof(req), st, sizeof(st), msg, sizeof(msg));
	if (n < 0)
		return n;
	for (int i = 0; i < n / (int)sizeof(st[0]); i++) {
		if (!strncmp(st[i].name, name, sizeof(st[i].name))) {
			*out = st[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* The pair c -> d must still deliver: its counter grows within 2 s. */
static int flow_alive(const char *when)
{
	uint64_t before = __atomic_load_n(&flow_rx, __ATOMIC_RELAXED);
	for (int i = 0; i < 40; i++) {
		msleep(50);
		if (__atomic_load_n(&flow_rx, __ATOMIC_RELAXED) > before)
			return 0;
	}
	fprintf(stderr, "FAIL: vale0:c -> vale0:d stopped %s (rx %llu, tx %llu, err %d)\n", when,
		(unsigned long long)before, (unsigned long long)flow_tx, flow_err);
	return 1;
}

enum violation { BAD_HEAD, BAD_CUR, BAD_BUF_IDX, BAD_LEN, BAD_CHAIN };
static const char *vname[] = { "head outside the ring", "cur before head", "buf_idx past the pool",
			       "len over the buffer size", "unterminated MOREFRAG chain" };

/*
 * Commit one violation on the tx ring of d and txsync until the daemon reacts: -EIO
 * (ring reset) or a counted drop. Then put the ring back in order. 0 on success.
 */
static int violate(struct vnm_port *d, enum violation v)
{
	unsigned ri = d->first_tx_ring;
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, ri);
	struct vnm_ctl_port_stats s0, s1;
	uint32_t n = r->num_slots, saved_idx[NM_MAX_FRAGS + 2];
	uint32_t h = r->head;
	int got_eio = 0, calls0 = cb_calls, ret;
	unsigned k = 0;

	memset(&s0, 0, sizeof(s0));
	get_stats("vale0:bad", &s0);
	vnm_txsync(d); /* reclaim what is done */
	if (nm_ring_space(r) < NM_MAX_FRAGS + 2) {
		fprintf(stderr, "FAIL: no room on vale0:bad's tx ring\n");
		return 1;
	}
	for (unsigned i = 0; i < NM_MAX_FRAGS + 2; i++)
		saved_idx[i] = r->slot[(h + i) % n].buf_idx;

	switch (v) {
	case BAD_HEAD:
		/* head outside the ring (on an idle TX ring every index < n is a legal head) */
		r->head = r->cur = n + 3;
		break;
	case BAD_CUR:
		fill_frame(NETMAP_BUF(r, r->slot[h].buf_idx), 0xbd);
		r->slot[h].len = 60;
		r->head = (h + 1) % n;
		r->cur = h; /* cur before head */
		break;
	case BAD_BUF_IDX:
		r->slot[h].buf_idx = 0xfffffff0u;
		r->slot[h].len = 60;
		r->slot[h].flags = 0;
		r->head = r->cur = (h + 1) % n;
		break;
	case BAD_LEN:
		fill_frame(NETMAP_BUF(r, r->slot[h].buf_idx), 0xbd);
		r->slot[h].len = 65535;
		r->slot[h].flags = 0;
		r->head = r->cur = (h + 1) % n;
		break;
	case BAD_CHAIN:
		for (k = 0; k < NM_MAX_FRAGS + 2; k++) {
			struct netmap_slot *s = &r->slot[(h + k) % n];
			fill_frame(NETMAP_BUF(r, s->buf_idx), 0xbd);
			s->len = 60;
			s->flags = NS_MOREFRAG;
		}
		r->head = r->cur = (h + k) % n;
		break;
	}
	for (int i = 0; i < 40 && !got_eio; i++) {
		ret = vnm_txsync(d);
		if (ret == -EIO)
			got_eio = 1;
		else if (ret < 0) {
			fprintf(stderr, "FAIL: %s: txsync returned %s, expected EIO\n", vname[v],
				strerror(-ret));
			return 1;
		}
		msleep(50);
	}
	memset(&s1, 0, sizeof(s1));
	int sr = get_stats("vale0:bad", &s1);
	if (got_eio) {
		if (cb_calls == calls0 || (last_err != -EIO && last_err != EIO)) {
			fprintf(stderr, "FAIL: %s: -EIO without the error callback\n", vname[v]);
			return 1;
		}
		if (sr == 0 && s1.ring_resets <= s0.ring_resets) {
			fprintf(stderr, "FAIL: %s: ring reset not counted (ring_resets %llu)\n",
				vname[v], (unsigned long long)s1.ring_resets);
			return 1;
		}
		printf("ok: %s -> -EIO, callback \"%s\", ring_resets %llu\n", vname[v], last_msg,
		       (unsigned long long)s1.ring_resets);
	} else if (sr == 0 && (s1.drop_bad_slot > s0.drop_bad_slot ||
			       (v == BAD_LEN && s1.drop_oversize > s0.drop_oversize))) {
		printf("ok: %s -> dropped and counted (drop_bad_slot %llu)\n", vname[v],
		       (unsigned long long)s1.drop_bad_slot);
	} else if (v == BAD_CHAIN && sr == 0) {
		/* a chain over NM_MAX_FRAGS may be cut and dropped by the switch without a reset */
		printf("ok: %s -> no reset (drops: bad_slot %llu oversize %llu)\n", vname[v],
		       (unsigned long long)s1.drop_bad_slot, (unsigned long long)s1.drop_oversize);
	} else {
		fprintf(stderr, "FAIL: %s: no -EIO and no counted drop (stats %s)\n", vname[v],
			sr == 0 ? "unchanged" : strerror(-sr));
		return 1;
	}

	/* put the ring back: the kernel's indices, our buffers */
	vnm_txsync(d);
	uint32_t hw = __atomic_load_n(&d->tx[ri].ktoa->hwcur, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < NM_MAX_FRAGS + 2; i++) {
		struct netmap_slot *s = &r->slot[(h + i) % n];
		if (s->buf_idx < 2 || s->buf_idx != saved_idx[i]) {
			s->buf_idx = saved_idx[i];
			s->flags = NS_BUF_CHANGED;
		}
		s->len = 60;
		s->flags &= (uint16_t)~NS_MOREFRAG;
	}
	if (got_eio)
		r->head = r->cur = hw;
	vnm_txsync(d);

	/* the port still works: a valid frame goes through without error */
	for (int i = 0; i < 20 && nm_ring_space(r) == 0; i++) {
		vnm_poll(d, POLLOUT, 50);
	}
	if (nm_ring_space(r) == 0) {
		fprintf(stderr, "FAIL: %s: tx ring has no space after the reset\n", vname[v]);
		return 1;
	}
	struct netmap_slot *s = &r->slot[r->cur];
	fill_frame(NETMAP_BUF(r, s->buf_idx), 0xbd);
	s->len = 60;
	r->head = r->cur = nm_ring_next(r, r->cur);
	ret = vnm_txsync(d);
	if (ret < 0) {
		fprintf(stderr, "FAIL: %s: valid frame after reset: txsync %s\n", vname[v],
			strerror(-ret));
		return 1;
	}
	return 0;
}

int main(void)
{
	struct vnm_port *pc = NULL, *pd = NULL, *pb = NULL;
	pthread_t ts, tr;
	int fails = 0, rc;

	signal(SIGALRM, on_alarm);
	alarm(100);
	rc = start_daemon();
	if (rc) {
		stop_daemon();
		return rc;
	}
	pd = open_port("vale0:d", NULL);
	pc = open_port("vale0:c", NULL);
	pb = open_port("vale0:bad", on_error);
	if (!pc || !pd || !pb) {
		fails++;
		goto out;
	}
	if (pthread_create(&tr, NULL, receiver, pd) || pthread_create(&ts, NULL, sender, pc)) {
		fails++;
		goto out;
	}
	fails += flow_alive("at start");
	for (int v = BAD_HEAD; v <= BAD_CHAIN && !fails; v++) {
		fails += violate(pb, (enum violation)v);
		fails += flow_alive(vname[v]);
	}
	/* the daemon is alive and answers */
	if (kill(daemon_pid, 0) != 0) {
		fprintf(stderr, "FAIL: vnetmapd died\n");
		fails++;
	}
	stop_flow = 1;
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	printf("flow c -> d: %llu sent, %llu received\n", (unsigned long long)flow_tx,
	       (unsigned long long)flow_rx);
out:
	if (pb)
		vnm_port_close(pb);
	if (pc)
		vnm_port_close(pc);
	if (pd)
		vnm_port_close(pd);
	stop_daemon();
	printf("%s\n", fails ? "FAIL" : "PASS");
	return fails ? 1 : 0;
}
