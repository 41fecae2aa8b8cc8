// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_ctl.c - libFuzzer target: vnetmapd's control-message validation and dispatch
 * (daemon/ctl.c through its test seam vnm_ctl_conn_input), with the real registry,
 * regions, switches and pipes behind it.
 *
 * Security model: every message is hostile (bad-inputs.md items 1-3). The input is a
 * sequence of records, each one message on one of four connections:
 *   byte 0   bits 0-1 connection, bit 2: close that connection after the message
 *   byte 1   fds "attached" (the seam is told the count; 254 or more reads as MSG_CTRUNC)
 *   byte 2-3 message length, little endian (a length of 0xffff means header + 64 KiB + 1)
 *   ...      the message (what is left of the input if shorter)
 * Every message must get exactly one well-formed reply on that connection's socket:
 * magic, version, the request type echoed (0 when shorter than a header), status 0 or
 * a negative errno, a NUL-terminated text when negative, and file descriptors only on
 * a successful OPEN (3 of them). Anything else traps. After each input every
 * connection is closed and the registry shut down, so inputs are independent and
 * LeakSanitizer sees any leak; the process's fd count must return to its start value.
 * VHOST and SOCKET requests have their socket paths replaced by ones in the fuzzer's
 * private directory (the fuzzer must not create sockets elsewhere).
 */
// FUZZ_SOURCES: lib/*.c daemon/ctl.c daemon/registry.c daemon/region.c
// FUZZ_SOURCES: daemon/ports/*.c daemon/vale/*.c daemon/vhost/*.c
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/passthrough.h"
#include "region_alloc.h"
#include "registry.h"
#include "vnetmap/ctl.h"

#define REQUIRE(c)                                                              \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "fuzz_ctl: %s:%d: %s\n", __FILE__, __LINE__, #c); \
			__builtin_trap();                                       \
		}                                                               \
	} while (0)

/* ---- what daemon/main.c provides to the rest of the daemon ---- */

int vnm_log_level = -1; /* silent */

void vnm_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	/* format anyway: a bad format argument must still show up under the sanitizers */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (level <= vnm_log_level)
		fprintf(stderr, "vnetmapd: %s\n", buf);
}

int vnm_ev_add(struct vnm_evsrc *src, int fd, uint32_t events)
{
	return fd >= 0 ? 0 : -EBADF;
}

void vnm_ev_del(int fd)
{
}

static int deferred[4096];
static unsigned ndeferred;

void vnm_defer_close(int fd)
{
	if (fd < 0)
		return;
	if (ndeferred < sizeof(deferred) / sizeof(deferred[0]))
		deferred[ndeferred++] = fd;
	else
		close(fd);
}

int vnm_defer_timeout_ms(void)
{
	return ndeferred ? 0 : -1;
}

void vnm_defer_run(int force)
{
	/* switch threads are joined by the time the registry is shut down */
	while (ndeferred)
		close(deferred[--ndeferred]);
}

/* ---- harness ---- */

#define NCONN 4

static char fuzz_dir[256];
static int base_fds = -1;

struct fconn {
	struct vnm_ctl_conn *c;
	int peer; /* our end: replies arrive here */
};

static struct fconn conns[NCONN];

/*
 * Open fds, pipes excepted: the sanitizers' symbolizer talks through pipes it opens
 * at any time, and the daemon's code under test opens none.
 */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char p[300], t[64];
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
		ssize_t k = readlink(p, t, sizeof(t) - 1);
		if (k > 0) {
			t[k] = '\0';
			if (strncmp(t, "pipe:", 5) == 0)
				continue;
		}
		n++;
	}
	closedir(d);
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	const char *tmp = getenv("TMPDIR");

	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/vnm-fuzzctl.XXXXXX",
		 tmp && *tmp ? tmp : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"));
	if (!mkdtemp(fuzz_dir) || vnm_memdir_init(fuzz_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_ctl: cannot set up %s: %s\n", fuzz_dir, err);
		exit(1);
	}
	return 0;
}

__attribute__((destructor)) static void fuzz_cleanup(void)
{
	if (fuzz_dir[0]) {
		vnm_pt_shutdown();
		vnm_reg_shutdown();
		vnm_memdir_cleanup();
		rmdir(fuzz_dir);
	}
}

static struct fconn *conn_get(unsigned i)
{
	struct fconn *f = &conns[i];
	int sv[2];

	if (f->c)
		return f;
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	/* a reply (header + 64 KiB) must fit the socket buffers */
	int sz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	f->c = vnm_ctl_conn_new(sv[0]);
	REQUIRE(f->c != NULL);
	f->peer = sv[1];
	return f;
}

static void conn_drop(struct fconn *f)
{
	if (!f->c)
		return;
	vnm_ctl_conn_free(f->c); /* closes sv[0] */
	close(f->peer);
	f->c = NULL;
	f->peer = -1;
}

static union {
	struct vnm_ctl_hdr h;
	uint8_t b[sizeof(struct vnm_ctl_hdr) + VNM_CTL_MAX_PAYLOAD + 64];
} rx, msg;

/* Read and check the one reply to a request of type (0: shorter than a header). */
static void check_reply(struct fconn *f, uint16_t type)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct iovec iov = { rx.b, sizeof(rx.b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	ssize_t n = recvmsg(f->peer, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int nfds = 0;

	REQUIRE(n >= (ssize_t)sizeof(struct vnm_ctl_hdr));
	REQUIRE(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)));
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(fd));
			close(fd);
			nfds++;
		}
	}
	REQUIRE(rx.h.magic == VNM_CTL_MAGIC && rx.h.version == VNM_CTL_VERSION);
	REQUIRE(rx.h.type == type);
	REQUIRE(rx.h.len == (size_t)n - sizeof(struct vnm_ctl_hdr));
	REQUIRE(rx.h.status <= 0 && rx.h.status > -4096);
	if (rx.h.status < 0) {
		REQUIRE(rx.h.len > 0 && rx.b[sizeof(rx.h) + rx.h.len - 1] == '\0');
		REQUIRE(nfds == 0);
	} else if (type == VNM_CTL_OPEN) {
		REQUIRE(nfds == 3 && rx.h.len == sizeof(struct vnm_ctl_open_rep));
	} else {
		REQUIRE(nfds == 0);
	}
	/* exactly one reply */
	REQUIRE(recv(f->peer, rx.b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (base_fds < 0)
		base_fds = count_fds();
	while (off + 4 <= size) {
		unsigned ci = data[off] & 3, close_after = data[off] & 4;
		int nfds = data[off + 1];
		size_t len = (size_t)data[off + 2] | (size_t)data[off + 3] << 8;
		off += 4;

		if (len == 0xffff) {
			/* oversized: header + 64 KiB + 1, from whatever is left padded with zeros */
			len = sizeof(struct vnm_ctl_hdr) + VNM_CTL_MAX_PAYLOAD + 1;
			size_t have = size - off < len ? size - off : len;
			memset(msg.b, 0, len);
			memcpy(msg.b, data + off, have);
			off += have;
		} else {
			if (len > size - off)
				len = size - off;
			memcpy(msg.b, data + off, len);
			off += len;
		}
		if (len >= sizeof(struct vnm_ctl_hdr) && msg.h.type == VNM_CTL_VHOST &&
		    len >= sizeof(msg.h) + sizeof(struct vnm_ctl_vhost_req)) {
			struct vnm_ctl_vhost_req *v = (void *)(msg.b + sizeof(msg.h));
			snprintf(v->path, sizeof(v->path), "%s/vh%u", fuzz_dir, (unsigned)(v->path[0] & 7));
		}
		if (len >= sizeof(struct vnm_ctl_hdr) && msg.h.type == VNM_CTL_SOCKET &&
		    len >= sizeof(msg.h) + sizeof(struct vnm_ctl_socket_req)) {
			/* socket ports too: paths in our directory (peer path: empty stays empty) */
			struct vnm_ctl_socket_req *v = (void *)(msg.b + sizeof(msg.h));
			snprintf(v->path, sizeof(v->path), "%s/so%u", fuzz_dir, (unsigned)(v->path[0] & 7));
			if (v->peer_path[0])
				snprintf(v->peer_path, sizeof(v->peer_path), "%s/sp%u", fuzz_dir,
					 (unsigned)(v->peer_path[0] & 7));
		}
		struct fconn *f = conn_get(ci);
		uint16_t type = len >= sizeof(struct vnm_ctl_hdr) ? msg.h.type : 0;
		int ret = vnm_ctl_conn_input(f->c, msg.b, len, nfds);
		/* every reply fits our socket: the daemon never has a reason to drop us */
		REQUIRE(ret == 0);
		check_reply(f, type);
		if (close_after)
			conn_drop(f);
	}
	for (unsigned i = 0; i < NCONN; i++)
		conn_drop(&conns[i]);
	/* what vnetmapd does at exit: exports, then the registry */
	vnm_pt_shutdown();
	vnm_reg_shutdown();
	/* nothing left open: no port, no region, no socket of the input */
	int now = count_fds();
	if (now != base_fds) {
		char cmd[128];
		fprintf(stderr, "fuzz_ctl: %d fds open, %d at start:\n", now, base_fds);
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)getpid());
		if (system(cmd) < 0)
			perror("system");
	}
	REQUIRE(now == base_fds);
	return 0;
}
