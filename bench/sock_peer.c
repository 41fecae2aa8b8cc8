// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_sock_peer - the QEMU end of a socket port, as fast as a program can be, for
 * bench/socket.sh:
 *   bench_sock_peer sink PATH SECS     listen at PATH (QEMU -netdev stream,server=on),
 *                                      read framed frames for SECS seconds after the
 *                                      first byte, print "frames N bytes B secs S"
 *   bench_sock_peer source PATH SECS LEN [DSTMAC]
 *                                      connect to PATH (vnetmapd --server) and write framed
 *                                      LEN-byte broadcast frames for SECS seconds, print
 *                                      "frames N secs S"
 * Not a test: no checks beyond the framing.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sink(const char *path, double secs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static uint8_t buf[1 << 20];
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0), fd;
	uint64_t frames = 0, bytes = 0;
	uint32_t need = 0, have = 0; /* bytes left of the current frame; header bytes seen */
	uint8_t hdr[4];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		perror(path);
		return 1;
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		perror("accept");
		return 1;
	}
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 30000) != 1)
		return 1;
	double t0 = now(), t1 = t0;
	while ((t1 = now()) - t0 < secs) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN) {
			poll(&p, 1, 100);
			continue;
		}
		if (r <= 0)
			break;
		for (ssize_t o = 0; o < r;) {
			if (need) {
				uint32_t k = (uint32_t)(r - o) < need ? (uint32_t)(r - o) : need;
				need -= k;
				o += k;
				if (!need)
					frames++;
				continue;
			}
			hdr[have++] = buf[o++];
			if (have == 4) {
				need = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
				       (uint32_t)hdr[2] << 8 | hdr[3];
				bytes += need;
				have = 0;
			}
		}
	}
	printf("frames %llu bytes %llu secs %.3f\n", (unsigned long long)frames,
	       (unsigned long long)bytes, t1 - t0);
	return 0;
}

static int source(const char *path, double secs, unsigned len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static uint8_t buf[64 * (4 + 1514)];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	uint64_t frames = 0;

	if (len < 14 || len > 1514)
		return 2;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(path);
		return 1;
	}
	for (unsigned i = 0; i < 64; i++) {
		uint8_t *f = buf + i * (4 + len);
		f[0] = 0;
		f[1] = 0;
		f[2] = (uint8_t)(len >> 8);
		f[3] = (uint8_t)len;
		memset(f + 4, 0xff, 6);                              /* broadcast */
		memcpy(f + 10, "\x02\x00\x00\x00\x00\x51", 6);       /* source */
		f[16] = 0x08;
		f[17] = 0x00;
		memset(f + 18, 0x5a, len - 14);
	}
	double t0 = now(), t1 = t0;
	while ((t1 = now()) - t0 < secs) {
		ssize_t w = write(fd, buf, 64 * (4 + len)); /* blocking: as fast as it is read */
		if (w != (ssize_t)(64 * (4 + len)))
			break;
		frames += 64;
	}
	printf("frames %llu secs %.3f\n", (unsigned long long)frames, t1 - t0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "sink") == 0)
		return sink(argv[2], atof(argv[3]));
	if (argc >= 5 && strcmp(argv[1], "source") == 0)
		return source(argv[2], atof(argv[3]), (unsigned)atoi(argv[4]));
	fprintf(stderr, "usage: bench_sock_peer sink PATH SECS | source PATH SECS LEN\n");
	return 2;
}
