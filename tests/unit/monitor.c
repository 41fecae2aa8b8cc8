// SPDX-License-Identifier: BSD-2-Clause
/*
 * monitor - netmap's monitors of VALE ports (valeX:Y/r, /t, /rt, /z), end to end
 * through libvnetmap against a vnetmapd of our own:
 *   - exact counts and order through /t, /r, /rt (copies) and /z (zero copy) of a
 *     stream sent in batches that each fit the rings (no drop is possible);
 *   - /t of a port with two TX rings: monitor ring i gets the frames of TX ring i;
 *   - a monitor that never reads, on a lossless pair: the pair gets all N frames,
 *     the monitor exactly its ring's worth, the rest counted in its drop_full;
 *   - bad monitor specs, a monitor of a missing port, of a pipe, /z of a host port;
 *   - a monitor client writing garbage into its rings' head/cur: its ring is reset
 *     (-EIO, ring_resets), the monitored pair keeps every frame;
 *   - the monitored port goes away: the monitor's reads return nothing, LIST shows it
 *     with bridge_idx -1, closing it is clean;
 *   - 1000 open/close cycles and 40 monitor clients killed at random moments: the
 *     daemon's fds and region files come back to the baseline.
 * Counts, never rates. Exit 0 pass, 1 fail, 77 when there is no daemon.
 *
 * Security model: this program is also the hostile monitor client (garbage head/cur).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
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
static int failures;

#define CHECK(c, ...)                                                                      \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
			fprintf(stderr, __VA_ARGS__);                                      \
			fprintf(stderr, "\n");                                             \
			failures++;                                                        \
		}                                                                          \
	} while (0)

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
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
					fprintf(stderr, "FAIL: vnetmapd exit status %d\n", st);
					failures++;
				}
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
	static const char m[] = "monitor: timeout\n";
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
	snprintf(dir, sizeof(dir), "%s/vnm-mon.XXXXXX", base);
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

static int open_rc(const char *name, struct vnm_port **out)
{
	struct vnm_open_opts o = { dir, NULL, NULL };
	*out = NULL;
	return vnm_port_open(name, &o, out);
}

static struct vnm_port *open_port(const char *name)
{
	struct vnm_port *d;
	int r = open_rc(name, &d);
	if (r < 0) {
		fprintf(stderr, "open %s: %s\n", name, strerror(-r));
		failures++;
		return NULL;
	}
	return d;
}

/* ---- frames: broadcast, tag byte and 32-bit sequence number after the header ---- */

#define FLEN 60

static void fill_frame(char *buf, uint8_t tag, uint32_t seq)
{
	memset(buf, 0, FLEN);
	memset(buf, 0xff, 6);
	buf[6] = 0x02;
	buf[11] = (char)tag;
	buf[12] = 0x08;
	buf[14] = (char)tag;
	memcpy(buf + 15, &seq, 4);
}

/* Send n frames tagged tag with sequence numbers seq0.. on tx ring ri (-1: first bound). */
static int send_frames(struct vnm_port *d, int ri, uint8_t tag, uint32_t seq0, unsigned n)
{
	unsigned r = ri < 0 ? d->first_tx_ring : (unsigned)ri;
	struct netmap_ring *ring = NETMAP_TXRING(d->nifp, r);
	unsigned sent = 0;

	while (sent < n) {
		int ev = vnm_poll(d, POLLOUT, 5000);
		if (ev <= 0 && ev != (POLLERR)) {
			fprintf(stderr, "send: poll %d\n", ev);
			return -1;
		}
		while (nm_ring_space(ring) && sent < n) {
			struct netmap_slot *s = &ring->slot[ring->cur];
			fill_frame(NETMAP_BUF(ring, s->buf_idx), tag, seq0 + sent);
			s->len = FLEN;
			s->flags = 0;
			ring->head = ring->cur = nm_ring_next(ring, ring->cur);
			sent++;
		}
		vnm_txsync_ring(d, r);
	}
	return 0;
}

/* What a reader saw: per tag, the next expected sequence number and the count. */
struct seen {
	uint32_t next[256];
	uint64_t count[256];
	uint64_t total, bad_order, bad_len;
	uint64_t per_ring[VNM_MAX_RINGS];
};

/* Read d until want frames more arrived (or timeout ms of silence). Returns frames read. */
static uint64_t recv_frames(struct vnm_port *d, struct seen *sn, uint64_t want, int timeout_ms)
{
	uint64_t got = 0;

	while (got < want) {
		int ev = vnm_poll(d, POLLIN, timeout_ms);
		if (ev == 0)
			break;
		if (ev < 0)
			break;
		for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			struct netmap_ring *ring = NETMAP_RXRING(d->nifp, ri);
			while (!nm_ring_empty(ring)) {
				struct netmap_slot *s = &ring->slot[ring->cur];
				const uint8_t *b = (const uint8_t *)NETMAP_BUF(ring, s->buf_idx);
				uint32_t seq;
				uint8_t tag = b[14];
				memcpy(&seq, b + 15, 4);
				if (s->len != FLEN)
					sn->bad_len++;
				if (seq != sn->next[tag])
					sn->bad_order++;
				sn->next[tag] = seq + 1;
				sn->count[tag]++;
				sn->total++;
				sn->per_ring[ri]++;
				got++;
				ring->head = ring->cur = nm_ring_next(ring, ring->cur);
			}
			vnm_rxsync_ring(d, ri);
		}
	}
	return got;
}

static int get_stats(const char *name, struct vnm_ctl_port_stats *out)
{
	struct vnm_ctl_name_req req;
	static struct vnm_ctl_port_stats st[64];
	char msg[256];
	int n;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	n = vnm_ctl_call(dir, VNM_CTL_STATS, &req, sizeof(req), st, sizeof(st), msg, sizeof(msg));
	if (n < 0)
		return n;
	for (int i = 0; i < n / (int)sizeof(st[0]); i++)
		if (strncmp(st[i].name, name, sizeof(st[i].name)) == 0) {
			*out = st[i];
			return 0;
		}
	return -ENOENT;
}

static int get_info(const char *name, struct vnm_ctl_port_info *out)
{
	struct vnm_ctl_name_req req;
	char msg[256];

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	int n = vnm_ctl_call(dir, VNM_CTL_INFO, &req, sizeof(req), out, sizeof(*out), msg,
			     sizeof(msg));
	return n < 0 ? n : 0;
}

static int daemon_fds(void)
{
	char p[64];
	int n = 0;
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)daemon_pid);
	DIR *dd = opendir(p);
	if (!dd)
		return -1;
	for (struct dirent *e; (e = readdir(dd));)
		if (e->d_name[0] != '.')
			n++;
	closedir(dd);
	return n;
}

static int region_files(void)
{
	char p[PATH_MAX + 8];
	int n = 0;
	snprintf(p, sizeof(p), "%s/mem", dir);
	DIR *dd = opendir(p);
	if (!dd)
		return 0;
	for (struct dirent *e; (e = readdir(dd));)
		if (e->d_name[0] != '.')
			n++;
	closedir(dd);
	return n;
}

static int daemon_maps(void)
{
	char p[64], line[512];
	int n = 0;
	snprintf(p, sizeof(p), "/proc/%d/maps", (int)daemon_pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, dir))
			n++;
	fclose(f);
	return n;
}

/* fds, region files and mappings back to a baseline (the daemon cleans up asynchronously) */
static int wait_baseline(int fds, int files, int maps)
{
	for (int i = 0; i < 100; i++) {
		if (daemon_fds() == fds && region_files() == files && daemon_maps() == maps)
			return 1;
		msleep(50);
	}
	fprintf(stderr, "baseline: fds %d/%d files %d/%d maps %d/%d\n", daemon_fds(), fds,
		region_files(), files, daemon_maps(), maps);
	return 0;
}

/* ---- the tests ---- */

/* a -> b broadcast stream; a/t, b/r, b/rt, a/rt, and b answers back (b's own TX). */
static void test_copy_counts(void)
{
	struct vnm_port *a = open_port("vale0:a"), *b = open_port("vale0:b");
	struct vnm_port *mt = open_port("vale0:a/t"), *mr = open_port("vale0:b/r");
	struct vnm_port *mrtb = open_port("vale0:b/rt"), *mrta = open_port("vale0:a/rt");
	struct seen sb = { 0 }, sa = { 0 }, st = { 0 }, sr = { 0 }, srtb = { 0 }, srta = { 0 };
	const unsigned N = 5000, B = 100, K = 300;

	if (!a || !b || !mt || !mr || !mrtb || !mrta)
		goto out;
	CHECK(mt->kind == VNM_KIND_MONITOR, "kind %u", mt->kind);
	CHECK(mt->first_tx_ring > mt->last_tx_ring, "a monitor binds no tx ring");
	CHECK(strcmp(mrtb->name, "vale0:b/rt") == 0, "name %s", mrtb->name);
	for (unsigned s = 0; s < N; s += B) {
		if (send_frames(a, -1, 0xa, s, B) < 0)
			break;
		recv_frames(b, &sb, B, 2000);
		recv_frames(mt, &st, B, 2000);
		recv_frames(mr, &sr, B, 2000);
		recv_frames(mrtb, &srtb, B, 2000);
		recv_frames(mrta, &srta, B, 2000);
	}
	for (unsigned s = 0; s < K; s += B) { /* b -> a */
		if (send_frames(b, -1, 0xb, s, B) < 0)
			break;
		recv_frames(a, &sa, B, 2000);
		recv_frames(mrtb, &srtb, B, 2000);
		recv_frames(mrta, &srta, B, 2000);
	}
	/* nothing more arrives anywhere */
	recv_frames(mt, &st, 1, 100);
	recv_frames(mr, &sr, 1, 100);
	CHECK(sb.total == N && sb.bad_order == 0, "b got %llu of %u (order errors %llu)",
	      (unsigned long long)sb.total, N, (unsigned long long)sb.bad_order);
	CHECK(sa.total == K && sa.bad_order == 0, "a got %llu of %u", (unsigned long long)sa.total,
	      K);
	CHECK(st.total == N && st.count[0xa] == N && st.bad_order == 0 && st.bad_len == 0,
	      "a/t got %llu (a's %llu), order errors %llu", (unsigned long long)st.total,
	      (unsigned long long)st.count[0xa], (unsigned long long)st.bad_order);
	CHECK(sr.total == N && sr.count[0xa] == N && sr.bad_order == 0,
	      "b/r got %llu (a's %llu)", (unsigned long long)sr.total,
	      (unsigned long long)sr.count[0xa]);
	CHECK(srtb.total == N + K && srtb.count[0xa] == N && srtb.count[0xb] == K &&
		      srtb.bad_order == 0,
	      "b/rt got %llu: a's %llu b's %llu", (unsigned long long)srtb.total,
	      (unsigned long long)srtb.count[0xa], (unsigned long long)srtb.count[0xb]);
	CHECK(srta.total == N + K && srta.count[0xa] == N && srta.count[0xb] == K &&
		      srta.bad_order == 0,
	      "a/rt got %llu: a's %llu b's %llu", (unsigned long long)srta.total,
	      (unsigned long long)srta.count[0xa], (unsigned long long)srta.count[0xb]);
	struct vnm_ctl_port_stats ps;
	CHECK(get_stats("vale0:b/rt", &ps) == 0 && ps.tx_packets == N + K && ps.drop_full == 0,
	      "b/rt stats tx %llu drop_full %llu", (unsigned long long)ps.tx_packets,
	      (unsigned long long)ps.drop_full);
	struct vnm_ctl_port_info pi;
	CHECK(get_info("vale0:a/t", &pi) == 0 && pi.kind == VNM_KIND_MONITOR &&
		      pi.bridge_idx >= 0 && pi.port_idx >= 0,
	      "INFO vale0:a/t kind %u bridge_idx %d", pi.kind, pi.bridge_idx);
	printf("copy monitors: b %llu, a/t %llu, b/r %llu, b/rt %llu, a/rt %llu\n",
	       (unsigned long long)sb.total, (unsigned long long)st.total,
	       (unsigned long long)sr.total, (unsigned long long)srtb.total,
	       (unsigned long long)srta.total);
out:
	vnm_port_close(mrta);
	vnm_port_close(mrtb);
	vnm_port_close(mr);
	vnm_port_close(mt);
	vnm_port_close(b);
	vnm_port_close(a);
}

/* /t of a port with two TX rings: monitor ring i receives the copies of TX ring i. */
static void test_rings(void)
{
	struct vnm_port *m2 = open_port("vale2:m@conf:rings=2"), *x = open_port("vale2:x");
	struct vnm_port *mon = open_port("vale2:m/t"), *mon1 = open_port("vale2:m-1/t");
	struct seen sx = { 0 }, sm = { 0 }, sm1 = { 0 };

	if (!m2 || !x || !mon || !mon1)
		goto out;
	CHECK(mon->first_rx_ring == 0 && mon->last_rx_ring == 1, "monitor rx rings %u..%u",
	      mon->first_rx_ring, mon->last_rx_ring);
	CHECK(mon1->first_rx_ring == 1 && mon1->last_rx_ring == 1, "-1 monitor rx rings %u..%u",
	      mon1->first_rx_ring, mon1->last_rx_ring);
	send_frames(m2, 0, 0x10, 0, 40);
	send_frames(m2, 1, 0x11, 0, 70);
	recv_frames(x, &sx, 110, 2000);
	recv_frames(mon, &sm, 110, 2000);
	recv_frames(mon1, &sm1, 70, 2000);
	recv_frames(mon1, &sm1, 1, 100);
	CHECK(sx.total == 110, "x got %llu", (unsigned long long)sx.total);
	CHECK(sm.per_ring[0] == 40 && sm.per_ring[1] == 70 && sm.count[0x10] == 40 &&
		      sm.count[0x11] == 70,
	      "monitor rings 0/1 got %llu/%llu", (unsigned long long)sm.per_ring[0],
	      (unsigned long long)sm.per_ring[1]);
	CHECK(sm1.total == 70 && sm1.count[0x11] == 70, "-1 monitor got %llu",
	      (unsigned long long)sm1.total);
out:
	vnm_port_close(mon1);
	vnm_port_close(mon);
	vnm_port_close(x);
	vnm_port_close(m2);
}

struct sender_arg {
	struct vnm_port *d;
	unsigned n;
	int rc;
};

static void *sender_thread(void *arg)
{
	struct sender_arg *s = arg;
	s->rc = send_frames(s->d, -1, 0xc, 0, s->n);
	return NULL;
}

/* /z: TX slots consumed and RX slots released swap into the monitor, zero copy. */
static void test_zcopy(void)
{
	struct vnm_port *a = open_port("vale6:a"), *b = open_port("vale6:b");
	struct vnm_port *za = open_port("vale6:a/z"), *zb = open_port("vale6:b/z"), *d;
	struct seen sa = { 0 }, sb = { 0 }, sza = { 0 }, szb = { 0 };
	const unsigned N = 3000, B = 100, K = 200;

	if (!a || !b || !za || !zb)
		goto out;
	CHECK(za->kind == VNM_KIND_MONITOR && strcmp(za->name, "vale6:a/z") == 0, "/z name %s",
	      za->name);
	CHECK(open_rc("vale6:a/z", &d) == -EBUSY, "a second /z of a port is refused");
	for (unsigned s = 0; s < N; s += B) {
		if (send_frames(a, -1, 0x6, s, B) < 0)
			break;
		recv_frames(b, &sb, B, 2000);
		recv_frames(za, &sza, B, 2000);
		recv_frames(zb, &szb, B, 2000); /* b's released RX slots */
	}
	for (unsigned s = 0; s < K; s += B) {
		if (send_frames(b, -1, 0x7, s, B) < 0)
			break;
		recv_frames(a, &sa, B, 2000);
		recv_frames(za, &sza, B, 2000);
		recv_frames(zb, &szb, B, 2000);
	}
	recv_frames(za, &sza, 1, 100);
	recv_frames(zb, &szb, 1, 100);
	CHECK(sb.total == N && sb.bad_order == 0 && sa.total == K, "pair: b %llu a %llu",
	      (unsigned long long)sb.total, (unsigned long long)sa.total);
	CHECK(sza.count[0x6] == N && sza.count[0x7] == K && sza.bad_order == 0 &&
		      sza.bad_len == 0 && sza.total == N + K,
	      "a/z: a's %llu b's %llu (order %llu)", (unsigned long long)sza.count[0x6],
	      (unsigned long long)sza.count[0x7], (unsigned long long)sza.bad_order);
	CHECK(szb.count[0x6] == N && szb.count[0x7] == K && szb.bad_order == 0 &&
		      szb.total == N + K,
	      "b/z: a's %llu b's %llu (order %llu)", (unsigned long long)szb.count[0x6],
	      (unsigned long long)szb.count[0x7], (unsigned long long)szb.bad_order);
	struct vnm_ctl_port_stats ps;
	CHECK(get_stats("vale6:a/z", &ps) == 0 && ps.tx_packets == N + K && ps.drop_full == 0,
	      "a/z stats tx %llu drop_full %llu", (unsigned long long)ps.tx_packets,
	      (unsigned long long)ps.drop_full);
	printf("zero-copy monitors: a/z %llu, b/z %llu\n", (unsigned long long)sza.total,
	       (unsigned long long)szb.total);
	/* closed and opened again: the same rings, empty, still exact */
	vnm_port_close(za);
	za = open_port("vale6:a/z");
	struct seen s2 = { 0 }, sb2 = { 0 };
	s2.next[0x6] = sb2.next[0x6] = N;
	if (za) {
		send_frames(a, -1, 0x6, N, B);
		recv_frames(b, &sb2, B, 2000);
		recv_frames(za, &s2, B, 2000);
		CHECK(s2.count[0x6] == B && s2.bad_order == 0, "reopened a/z got %llu of %u",
		      (unsigned long long)s2.count[0x6], B);
	}
	/* /z of a port whose frames never arrive: nothing */
out:
	vnm_port_close(zb);
	vnm_port_close(za);
	vnm_port_close(b);
	vnm_port_close(a);
}

/* A /z monitor that never reads, on a lossless pair. */
static void test_zstalled(void)
{
	struct vnm_port *c = open_port("vale7:c@conf:lossless=1,slots=128"),
			*d = open_port("vale7:d");
	struct vnm_port *mon = open_port("vale7:c/z");
	struct seen sd = { 0 };
	const unsigned N = 20000;
	pthread_t th;

	if (!c || !d || !mon)
		goto out;
	struct sender_arg sa = { c, N, 0 };
	pthread_create(&th, NULL, sender_thread, &sa);
	recv_frames(d, &sd, N, 5000);
	pthread_join(th, NULL);
	CHECK(sd.total == N && sd.bad_order == 0, "lossless pair with a stalled /z: %llu of %u",
	      (unsigned long long)sd.total, N);
	struct vnm_ctl_port_stats ps;
	CHECK(get_stats("vale7:c/z", &ps) == 0 && ps.tx_packets == 127 &&
		      ps.drop_full == N - 127,
	      "stalled /z: %llu swapped, %llu drop_full (want 127, %u)",
	      (unsigned long long)ps.tx_packets, (unsigned long long)ps.drop_full, N - 127);
out:
	vnm_port_close(mon);
	vnm_port_close(d);
	vnm_port_close(c);
}

/* A monitor that never reads, on a lossless pair: the pair loses nothing. */
static void test_stalled(void)
{
	struct vnm_port *c = open_port("vale1:c@conf:lossless=1"), *d = open_port("vale1:d");
	struct vnm_port *mon = open_port("vale1:c/t@conf:slots=64");
	struct vnm_port *monr = open_port("vale1:d/r");
	struct seen sd = { 0 };
	const unsigned N = 20000;
	pthread_t th;

	if (!c || !d || !mon || !monr)
		goto out;
	struct sender_arg sa = { c, N, 0 };
	pthread_create(&th, NULL, sender_thread, &sa);
	recv_frames(d, &sd, N, 5000);
	pthread_join(th, NULL);
	CHECK(sa.rc == 0, "sender failed");
	CHECK(sd.total == N && sd.bad_order == 0, "lossless pair: d got %llu of %u (order %llu)",
	      (unsigned long long)sd.total, N, (unsigned long long)sd.bad_order);
	struct vnm_ctl_port_stats ps, pd, pr;
	CHECK(get_stats("vale1:c/t", &ps) == 0, "stats of vale1:c/t");
	CHECK(ps.tx_packets == 63 && ps.drop_full == N - 63,
	      "stalled monitor: %llu copied, %llu drop_full (want 63, %u)",
	      (unsigned long long)ps.tx_packets, (unsigned long long)ps.drop_full, N - 63);
	CHECK(get_stats("vale1:d/r", &pr) == 0 && pr.tx_packets + pr.drop_full == N,
	      "d/r: %llu + %llu", (unsigned long long)pr.tx_packets,
	      (unsigned long long)pr.drop_full);
	CHECK(get_stats("vale1:d", &pd) == 0 && pd.drop_full == 0 && pd.tx_packets == N,
	      "d: tx %llu drop_full %llu", (unsigned long long)pd.tx_packets,
	      (unsigned long long)pd.drop_full);
	printf("stalled monitor: pair %llu/%u, monitor copied %llu, drop_full %llu\n",
	       (unsigned long long)sd.total, N, (unsigned long long)ps.tx_packets,
	       (unsigned long long)ps.drop_full);
out:
	vnm_port_close(monr);
	vnm_port_close(mon);
	vnm_port_close(d);
	vnm_port_close(c);
}

static void test_bad_specs(void)
{
	static const struct {
		const char *spec;
		int err;
	} bad[] = {
		{ "vale0:nope/r", -ENXIO },
		{ "vale0:nope/z", -ENXIO },
		{ "vale9:a/t", -ENXIO },
		{ "netmap:p{1/t", -EOPNOTSUPP },
		{ "netmap:p}1/r", -EOPNOTSUPP },
		{ "vale0:a{1/rt", -EOPNOTSUPP },
		{ "netmap:eth0/r", -EOPNOTSUPP },
		{ "vale0:a/rx", -EINVAL },
		{ "vale0:a/tR", -EINVAL },
		{ "vale0:a/zr", -EINVAL },
		{ "vale0:a/z@conf:slots=64", -EINVAL },
		{ "vale0:a/r@conf:rings=2", -EINVAL },
		{ "vale0:a/r@conf:lossless=1", -EINVAL },
		{ "vale0:a-3/r", -EINVAL },
		{ "vale0:a^/r", -EOPNOTSUPP },
		{ "vale0:a/q", -EINVAL },
		{ "vale0:a/", -EINVAL },
	};
	struct vnm_port *a = open_port("vale0:a"), *m[9] = { 0 }, *d;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = open_rc(bad[i].spec, &d);
		CHECK(r == bad[i].err, "%s: got %d (%s), want %d", bad[i].spec, r,
		      r < 0 ? strerror(-r) : "opened", bad[i].err);
		if (r == 0)
			vnm_port_close(d);
	}
	/* 8 monitors per port, the 9th refused */
	for (int i = 0; i < 8; i++)
		CHECK(open_rc("vale0:a/rt", &m[i]) == 0, "monitor %d of 8", i);
	CHECK(open_rc("vale0:a/r", &m[8]) == -ENOSPC, "a 9th monitor is refused");
	for (int i = 0; i < 9; i++)
		vnm_port_close(m[i]);
	vnm_port_close(a);
}

/* A monitor client writes garbage head/cur: its ring resets, the pair is unaffected. */
static void test_garbage(void)
{
	struct vnm_port *a = open_port("vale3:a"), *b = open_port("vale3:b");
	struct vnm_port *mon = open_port("vale3:b/r"), *zm = open_port("vale3:a/z");
	struct seen sb = { 0 }, sm = { 0 };

	if (!a || !b || !mon || !zm)
		goto out;
	/* the /z monitor's ring is in a's region: garbage there resets only that ring */
	struct netmap_ring *zr = NETMAP_RXRING(zm->nifp, 0);
	zr->head = 3000;
	zr->cur = 1;
	vnm_rxsync(zm);
	send_frames(a, -1, 0x3, 0, 50);
	recv_frames(b, &sb, 50, 2000);
	recv_frames(mon, &sm, 50, 2000);
	struct netmap_ring *r = NETMAP_RXRING(mon->nifp, 0);
	static const uint32_t junk[][2] = { { 7777, 7777 }, { 0xffffffffu, 3 }, { 5, 4 } };
	int eio = 0;
	for (unsigned j = 0; j < 3; j++) {
		r->head = junk[j][0];
		r->cur = junk[j][1];
		vnm_rxsync(mon); /* publishes the junk */
		send_frames(a, -1, 0x3, 50 + 10 * j, 10);
		recv_frames(b, &sb, 10, 2000);
		/* the daemon's next copy finds the junk: the ring is reset */
		for (int i = 0; i < 40 && vnm_rxsync(mon) != -EIO; i++)
			msleep(10);
		eio++;
		r->head = r->cur = r->tail; /* take what is there */
		vnm_rxsync(mon);
	}
	send_frames(a, -1, 0x3, 80, 100);
	recv_frames(b, &sb, 100, 2000);
	CHECK(sb.total == 180 && sb.bad_order == 0, "b got %llu of 180 (order %llu)",
	      (unsigned long long)sb.total, (unsigned long long)sb.bad_order);
	struct vnm_ctl_port_stats pm, pbs;
	CHECK(get_stats("vale3:b/r", &pm) == 0 && pm.ring_resets >= 3,
	      "monitor ring_resets %llu", (unsigned long long)pm.ring_resets);
	struct vnm_ctl_port_stats pz, pas;
	CHECK(get_stats("vale3:a/z", &pz) == 0 && pz.ring_resets >= 1,
	      "/z monitor ring_resets %llu", (unsigned long long)pz.ring_resets);
	CHECK(get_stats("vale3:a", &pas) == 0 && pas.ring_resets == 0 && pas.rx_packets == 180,
	      "a ring_resets %llu rx %llu", (unsigned long long)pas.ring_resets,
	      (unsigned long long)pas.rx_packets);
	CHECK(get_stats("vale3:b", &pbs) == 0 && pbs.ring_resets == 0 && pbs.drop_full == 0,
	      "b ring_resets %llu drop_full %llu", (unsigned long long)pbs.ring_resets,
	      (unsigned long long)pbs.drop_full);
	/* the monitor still works after the resets */
	struct seen s2 = { 0 };
	recv_frames(mon, &s2, 1000, 300);
	CHECK(s2.count[0x3] >= 100 && s2.next[0x3] == 180,
	      "monitor after resets: %llu frames, last seq %u (want >= 100, 179)",
	      (unsigned long long)s2.count[0x3], s2.next[0x3] - 1);
	(void)eio;
out:
	vnm_port_close(zm);
	vnm_port_close(mon);
	vnm_port_close(b);
	vnm_port_close(a);
}

/* The monitored port goes away while monitored. */
static void test_port_gone(void)
{
	struct vnm_port *a = open_port("vale4:a"), *b = open_port("vale4:b");
	struct vnm_port *mon = open_port("vale4:b/rt");
	struct seen sm = { 0 };

	if (!a || !b || !mon)
		goto out;
	send_frames(a, -1, 0x4, 0, 20);
	recv_frames(mon, &sm, 20, 2000);
	CHECK(sm.total == 20, "monitor got %llu of 20", (unsigned long long)sm.total);
	vnm_port_close(b);
	b = NULL;
	struct vnm_ctl_port_info gone;
	for (int i = 0; i < 100 && get_info("vale4:b", &gone) == 0; i++)
		msleep(20); /* the daemon unbinds when it sees the connection close */
	send_frames(a, -1, 0x4, 20, 20);
	CHECK(recv_frames(mon, &sm, 1, 200) == 0, "a monitor of a gone port reads nothing");
	CHECK(vnm_rxsync(mon) == 0, "rxsync on a stopped monitor");
	struct vnm_ctl_port_info pi;
	CHECK(get_info("vale4:b/rt", &pi) == 0 && pi.bridge_idx == -1 &&
		      pi.kind == VNM_KIND_MONITOR,
	      "INFO of a stopped monitor: bridge_idx %d", pi.bridge_idx);
	/* a new vale4:b is another port: the old monitor stays stopped */
	b = open_port("vale4:b");
	send_frames(a, -1, 0x4, 40, 20);
	CHECK(recv_frames(mon, &sm, 1, 200) == 0, "the monitor does not follow a new port");
out:
	vnm_port_close(mon);
	vnm_port_close(b);
	vnm_port_close(a);
}

static void test_leaks(void)
{
	struct vnm_port *a = open_port("vale5:a"), *b = open_port("vale5:b"), *m;
	msleep(300); /* earlier tests' connections are closed asynchronously */
	int fds = daemon_fds(), files = region_files(), maps = daemon_maps();

	if (!a || !b)
		goto out;
	for (int i = 0; i < 1000; i++) {
		static const char *sp[] = { "vale5:a/r", "vale5:a/t", "vale5:b/rt", "vale5:b/t",
					    "vale5:a/z" };
		if (open_rc(sp[i % 5], &m) != 0) {
			CHECK(0, "open/close cycle %d", i);
			break;
		}
		if (i % 10 == 0) {
			send_frames(a, -1, 0x5, (uint32_t)i, 5);
			struct seen s = { 0 };
			recv_frames(b, &s, 5, 2000);
		}
		vnm_port_close(m);
	}
	CHECK(wait_baseline(fds, files, maps), "1000 open/close cycles leave nothing behind");

	/* monitor clients killed at random moments, while a streams to b */
	srand(1234);
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct vnm_port *mm;
			static const char *ks[] = { "vale5:b/rt", "vale5:a/t", "vale5:b/z" };
			if (open_rc(ks[i % 3], &mm) != 0)
				_exit(2);
			struct seen s = { 0 };
			if (i % 3 == 0) /* a monitor that never reads */
				pause();
			for (;;)
				recv_frames(mm, &s, 1000000, 100);
		}
		send_frames(a, -1, 0x5, 0, 50);
		struct seen s = { 0 };
		recv_frames(b, &s, 50, 2000);
		msleep(rand() % 20);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	CHECK(wait_baseline(fds, files, maps), "40 killed monitor clients leave nothing behind");
out:
	vnm_port_close(b);
	vnm_port_close(a);
}

int main(void)
{
	int rc;

	signal(SIGALRM, on_alarm);
	alarm(120);
	rc = start_daemon();
	if (rc) {
		stop_daemon();
		return rc;
	}
	test_copy_counts();
	test_rings();
	test_stalled();
	test_zcopy();
	test_zstalled();
	test_bad_specs();
	test_garbage();
	test_port_gone();
	test_leaks();
	stop_daemon();
	if (failures) {
		printf("monitor: %d failure(s)\n", failures);
		return 1;
	}
	printf("monitor: all passed\n");
	return 0;
}
