// SPDX-License-Identifier: BSD-2-Clause
/*
 * notify.c - the notify-socket mechanics of csb.h: an app end with a minimal
 * SO_SNDBUF becomes unwritable after a VNM_NOTIFY_FILL filler and writable again
 * once the kernel end drains it; one byte from the kernel end makes it readable.
 * Checked for SOCK_STREAM (what the architecture describes) and SOCK_SEQPACKET.
 * Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vnetmap.h"

static int fails;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			fails++;                                           \
			return;                                            \
		}                                                          \
	} while (0)

static short revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static int make_pair(int type, int sv[2])
{
	int one = 1;
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	/* sv[0]: application end (minimal send buffer), sv[1]: kernel end */
	return setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
}

static void drain(int fd)
{
	char buf[4096];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void test_fresh(int type)
{
	int sv[2];
	CHECK(make_pair(type, sv) == 0, "socketpair: %s", strerror(errno));
	short r = revents(sv[0]);
	CHECK((r & POLLOUT) && !(r & POLLIN), "fresh app end revents 0x%x", r);
	close(sv[0]);
	close(sv[1]);
}

static void test_filler_blocks_drain_unblocks(int type)
{
	static const char filler[VNM_NOTIFY_FILL];
	int sv[2];
	CHECK(make_pair(type, sv) == 0, "socketpair: %s", strerror(errno));
	CHECK(send(sv[0], filler, sizeof(filler), MSG_DONTWAIT) == (ssize_t)sizeof(filler),
	      "first filler: %s", strerror(errno));
	short r = revents(sv[0]);
	CHECK(!(r & POLLOUT), "app end still writable after the filler (0x%x)", r);
	/*
	 * poll()'s "writable" needs the send buffer 3/4 free, send() only some room:
	 * a few more fillers may still go (an arm racing a drain sends one extra),
	 * but the amount queued is bounded by the minimal buffer.
	 */
	int extra = 0;
	while (send(sv[0], filler, sizeof(filler), MSG_DONTWAIT) > 0 && extra < 64)
		extra++;
	CHECK(extra < 8 && (errno == EAGAIN || errno == EWOULDBLOCK), "%d extra fillers queued", extra);
	CHECK(!(revents(sv[0]) & POLLOUT), "app end writable after extra fillers");
	/* the kernel end sees the filler (it could wake on it) */
	CHECK(revents(sv[1]) & POLLIN, "kernel end not readable");
	drain(sv[1]);
	r = revents(sv[0]);
	CHECK((r & POLLOUT) && !(r & POLLIN), "app end not writable after drain (0x%x)", r);
	close(sv[0]);
	close(sv[1]);
}

static void test_byte_readable(int type)
{
	int sv[2];
	char b = 1;
	CHECK(make_pair(type, sv) == 0, "socketpair: %s", strerror(errno));
	CHECK(send(sv[1], &b, 1, MSG_DONTWAIT) == 1, "notify byte: %s", strerror(errno));
	CHECK(revents(sv[0]) & POLLIN, "app end not readable after a byte");
	/* several notifications collapse: one drain clears them all */
	CHECK(send(sv[1], &b, 1, MSG_DONTWAIT) == 1, "second byte: %s", strerror(errno));
	drain(sv[0]);
	CHECK(!(revents(sv[0]) & POLLIN), "app end readable after drain");
	close(sv[0]);
	close(sv[1]);
}

/* The blocking case as vnm_poll uses it: a poll on the unwritable end wakes on drain. */
static void test_poll_wakes_on_drain(int type)
{
	static const char filler[VNM_NOTIFY_FILL];
	int sv[2];
	CHECK(make_pair(type, sv) == 0, "socketpair: %s", strerror(errno));
	CHECK(send(sv[0], filler, sizeof(filler), MSG_DONTWAIT) > 0, "filler");
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		usleep(50000);
		drain(sv[1]);
		_exit(0);
	}
	struct pollfd p = { .fd = sv[0], .events = POLLOUT };
	int n = poll(&p, 1, 5000);
	CHECK(n == 1 && (p.revents & POLLOUT), "poll did not wake on drain (%d, 0x%x)", n, p.revents);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET };

	for (unsigned i = 0; i < 2; i++) {
		test_fresh(types[i]);
		test_filler_blocks_drain_unblocks(types[i]);
		test_byte_readable(types[i]);
		test_poll_wakes_on_drain(types[i]);
	}
	return fails ? 1 : 0;
}
