// SPDX-License-Identifier: BSD-2-Clause
/*
 * pipe_vhost_bad_peer - a hostile program on the other end of a pipe end that
 * vnetmapd serves as vhost-user (ports/pipe_vhost.c). It writes the daemon end's RX
 * ring directly, as a kernel side that lies: out-of-range buffer indices, lengths over
 * the buffer size, a MOREFRAG chain longer than NM_MAX_FRAGS, then moves the ring's
 * hwtail over them and notifies; it also moves the region header's buffer offset.
 * vnetmapd must survive, drop and count each bad frame once (drop_bad_slot), release
 * the slots, stay responsive and exit cleanly.
 *
 * Starts its own vnetmapd with --vhost-user 'netmap:h{1=DIR/vh.sock,server' (found as
 * $VNM_BIN/vnetmapd or ../bin/vnetmapd). Exit 0 pass, 1 fail, 77 no daemon.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>
#include <vnetmap/region.h>

#include "find_daemon.h"

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
	snprintf(dir, sizeof(dir), "/tmp/vnm-pvb.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sockpath, sizeof(sockpath), "%s/vh.sock", dir);
	snprintf(spec, sizeof(spec), "netmap:h{1=%s,server", sockpath);
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

/* The daemon end's notify socket (the library keeps it privately): our other stream socket. */
static int find_peer_fd(struct vnm_port *d)
{
	DIR *dd = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	while (dd && (e = readdir(dd))) {
		int fd = atoi(e->d_name), type = 0;
		socklen_t l = sizeof(type);
		if (fd <= 2 || fd == d->fd || fd == d->ctl_fd || fd == dirfd(dd))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_STREAM)
			found = fd;
	}
	if (dd)
		closedir(dd);
	return found;
}

static uint64_t bad_slots(void)
{
	struct vnm_ctl_name_req q;
	struct vnm_ctl_port_stats st[4];
	char msg[256];

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "netmap:h{1");
	int n = vnm_ctl_call(dir, VNM_CTL_STATS, &q, sizeof(q), st, sizeof(st), msg, sizeof(msg));
	if (n < (int)sizeof(st[0]))
		return UINT64_MAX;
	for (int i = 0; i < n / (int)sizeof(st[0]); i++)
		if (strcmp(st[i].name, "netmap:h{1.pipe") == 0)
			return st[i].drop_bad_slot;
	return UINT64_MAX;
}

int main(void)
{
	struct vnm_open_opts o = { 0 };
	struct vnm_port *d = NULL;
	int ret = start_daemon();

	if (ret)
		return ret;
	o.dir = dir;
	CHECK(vnm_port_open("netmap:h}1", &o, &d) == 0);
	if (d) {
		struct vnm_region_hdr *h = d->mem;
		struct vnm_region_end *de = NULL;
		int pfd = find_peer_fd(d);

		CHECK(pfd >= 0);
		for (unsigned e = 0; e < VNM_REGION_MAX_ENDS; e++)
			if ((h->ends[e].flags & VNM_END_USED) &&
			    strcmp(h->ends[e].name, "netmap:h{1") == 0)
				de = &h->ends[e];
		CHECK(de != NULL);
		if (de && pfd >= 0) {
			struct netmap_if *nifp = (struct netmap_if *)((char *)d->mem + de->nifp_ofs);
			uint32_t ntx = nifp->ni_tx_rings, nhtx = nifp->ni_host_tx_rings;
			struct netmap_ring *rx =
				(struct netmap_ring *)((char *)nifp + nifp->ring_ofs[ntx + nhtx]);
			struct nm_csb_ktoa *ktoa =
				(struct nm_csb_ktoa *)((char *)d->mem + de->csb_ktoa_ofs) + ntx;
			struct nm_csb_atok *atok =
				(struct nm_csb_atok *)((char *)d->mem + de->csb_atok_ofs) + ntx;
			uint32_t n = rx->num_slots, t = ktoa->hwtail, j = t;
			uint32_t good = d->tx[0].ring->slot[0].buf_idx;

			/* 8 frames with buffer indices out of range */
			for (int k = 0; k < 8; k++, j = (j + 1) % n) {
				rx->slot[j].buf_idx = 0xffffff00u + (uint32_t)k;
				rx->slot[j].len = 60;
				rx->slot[j].flags = 0;
			}
			/* 2 frames longer than a buffer */
			for (int k = 0; k < 2; k++, j = (j + 1) % n) {
				rx->slot[j].buf_idx = good;
				rx->slot[j].len = 0xffff;
				rx->slot[j].flags = 0;
			}
			/* 1 frame of 70 slots (NM_MAX_FRAGS is 64) */
			for (int k = 0; k < 70; k++, j = (j + 1) % n) {
				rx->slot[j].buf_idx = good;
				rx->slot[j].len = 60;
				rx->slot[j].flags = k < 69 ? NS_MOREFRAG : 0;
			}
			/* the buffer offset the daemon must not re-read */
			h->buf_ofs += 1ull << 40;
			__atomic_store_n(&ktoa->hwtail, j, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			char b = 0;
			CHECK(send(pfd, &b, 1, MSG_DONTWAIT) == 1);
			uint64_t bad = 0;
			for (int i = 0; i < 100; i++) {
				bad = bad_slots();
				if (bad == 11)
					break;
				msleep(50);
			}
			fprintf(stderr, "drop_bad_slot %llu (11 expected)\n", (unsigned long long)bad);
			CHECK(bad == 11);
			/* every bad slot was released: the daemon's RX head is past them */
			CHECK(__atomic_load_n(&atok->head, __ATOMIC_ACQUIRE) == j);
			/*
			 * A good frame, then 3 bad ones: with no front-end the good one waits
			 * (a pipe is lossless), so the daemon reads the bad ones again at each
			 * wake-up; they still count once, and nothing is released.
			 */
			uint32_t j0 = j;
			/* a broadcast (a zero destination MAC would be learned on the source: drop_self) */
			uint8_t *fb = (uint8_t *)NETMAP_BUF(d->tx[0].ring, good);
			memset(fb, 0xff, 6);
			memcpy(fb + 6, "\x02\x00\x00\x00\x00\x07", 6);
			rx->slot[j].buf_idx = good;
			rx->slot[j].len = 60;
			rx->slot[j].flags = 0;
			j = (j + 1) % n;
			for (int k = 0; k < 3; k++, j = (j + 1) % n) {
				rx->slot[j].buf_idx = 0xfffffff0u;
				rx->slot[j].len = 60;
				rx->slot[j].flags = 0;
			}
			__atomic_store_n(&ktoa->hwtail, j, __ATOMIC_RELEASE);
			for (int k = 0; k < 5; k++) {
				CHECK(send(pfd, &b, 1, MSG_DONTWAIT) == 1);
				msleep(100);
			}
			bad = bad_slots();
			fprintf(stderr, "drop_bad_slot %llu (14 expected)\n", (unsigned long long)bad);
			CHECK(bad == 14);
			CHECK(__atomic_load_n(&atok->head, __ATOMIC_ACQUIRE) == j0);
			/* a hwtail out of the ring: ignored */
			__atomic_store_n(&ktoa->hwtail, n + 5, __ATOMIC_RELEASE);
			CHECK(send(pfd, &b, 1, MSG_DONTWAIT) == 1);
			msleep(200);
			CHECK(bad_slots() == 14);
			h->buf_ofs -= 1ull << 40;
		}
		vnm_port_close(d);
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
		fprintf(stderr, "pipe_vhost_bad_peer: %d checks failed\n", fails);
		return 1;
	}
	printf("pipe_vhost_bad_peer: ok\n");
	return 0;
}
