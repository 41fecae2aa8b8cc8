// SPDX-License-Identifier: BSD-2-Clause
/*
 * capture_pcap - the pcap writer of vale-ctl capture (tools/common/pcap.c): global
 * header and record layout byte by byte, snaplen truncation, usec/nsec timestamps,
 * a buffer that fills and flushes, EPIPE from a closed reader, ENOSPC (/dev/full), and
 * a write that fails half way through a flush (RLIMIT_FSIZE: a disk that fills up)
 * leaving the file cut back to its last complete record.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tools/common/pcap.c"

#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "FAIL %s:%d: %s\n", __func__, __LINE__, #c); \
			return 1;                                                  \
		}                                                                  \
	} while (0)

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t get16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static char tmpl[] = "/tmp/capture_pcap.XXXXXX";

/* Append one record of len bytes (value b), as capture.c does. */
static int rec(struct pcap_out *o, uint32_t len, unsigned char b, long sec, long nsec)
{
	struct timespec ts = { .tv_sec = sec, .tv_nsec = nsec };
	uint32_t cl;
	int err;
	unsigned char *p = pcap_out_reserve(o, &ts, len, &cl, &err);

	if (!p)
		return err;
	memset(p, b, cl);
	return 0;
}

static int test_layout(void)
{
	int fd = mkstemp(tmpl);
	struct pcap_out o;
	unsigned char f[256];
	struct stat st;

	CHECK(fd >= 0);
	unlink(tmpl);
	memcpy(tmpl + strlen(tmpl) - 6, "XXXXXX", 6);
	CHECK(pcap_out_init(&o, fd, 0, 0, 0) == -EINVAL);
	CHECK(pcap_out_init(&o, fd, PCAP_SNAPLEN_MAX + 1, 0, 0) == -EINVAL);
	CHECK(pcap_out_init(&o, fd, 100, 0, 100) == -EINVAL); /* buffer below one record */
	CHECK(pcap_out_init(&o, fd, 40, 0, 0) == 0);
	CHECK(o.regular);
	CHECK(rec(&o, 60, 0xab, 1700000000, 123456789) == 0); /* truncated to 40 */
	CHECK(rec(&o, 14, 0xcd, 1700000001, 999) == 0);
	CHECK(pcap_out_flush(&o) == 0);
	CHECK(o.written == 24 + 16 + 40 + 16 + 14 && o.records == 2);
	CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == o.written);
	CHECK(pread(fd, f, sizeof(f), 0) == (ssize_t)o.written);
	CHECK(get32(f) == 0xa1b2c3d4 && get16(f + 4) == 2 && get16(f + 6) == 4);
	CHECK(get32(f + 8) == 0 && get32(f + 12) == 0 && get32(f + 16) == 40 && get32(f + 20) == 1);
	CHECK(get32(f + 24) == 1700000000 && get32(f + 28) == 123456); /* usec */
	CHECK(get32(f + 32) == 40 && get32(f + 36) == 60);
	CHECK(f[40] == 0xab && f[79] == 0xab);
	CHECK(get32(f + 80) == 1700000001 && get32(f + 84) == 0);
	CHECK(get32(f + 88) == 14 && get32(f + 92) == 14 && f[96] == 0xcd && f[109] == 0xcd);
	pcap_out_free(&o);
	close(fd);

	/* nanoseconds */
	fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	unlink(tmpl);
	memcpy(tmpl + strlen(tmpl) - 6, "XXXXXX", 6);
	CHECK(pcap_out_init(&o, fd, PCAP_SNAPLEN_MAX, 1, 0) == 0);
	CHECK(rec(&o, 60, 1, 5, 123456789) == 0);
	CHECK(pcap_out_flush(&o) == 0);
	CHECK(pread(fd, f, 40, 0) == 40);
	CHECK(get32(f) == 0xa1b23c4d && get32(f + 16) == PCAP_SNAPLEN_MAX);
	CHECK(get32(f + 24) == 5 && get32(f + 28) == 123456789);
	pcap_out_free(&o);
	close(fd);
	return 0;
}

/* A small buffer fills and flushes by itself; only whole records reach the file. */
static int test_buffer_fills(void)
{
	int fd = mkstemp(tmpl);
	struct pcap_out o;
	struct stat st;

	CHECK(fd >= 0);
	unlink(tmpl);
	memcpy(tmpl + strlen(tmpl) - 6, "XXXXXX", 6);
	CHECK(pcap_out_init(&o, fd, 1514, 0, 24 + 16 + 1514) == 0);
	for (int i = 0; i < 100; i++) {
		CHECK(rec(&o, 1514, (unsigned char)i, i, 0) == 0);
		CHECK(o.written == 0 || (o.written - 24) % (16 + 1514) == 0); /* whole records */
	}
	CHECK(pcap_out_flush(&o) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 24 + 100 * (16 + 1514));
	pcap_out_free(&o);
	close(fd);
	return 0;
}

/* A pipe whose reader is gone: -EPIPE (SIGPIPE ignored), not a crash. */
static int test_epipe(void)
{
	int p[2];
	struct pcap_out o;

	CHECK(pipe(p) == 0);
	close(p[0]);
	CHECK(pcap_out_init(&o, p[1], 100, 0, 0) == 0);
	CHECK(!o.regular);
	CHECK(pcap_out_flush(&o) == -EPIPE);
	CHECK(o.len == 0);
	pcap_out_free(&o);
	close(p[1]);
	return 0;
}

static int test_full(void)
{
	int fd = open("/dev/full", O_WRONLY);
	struct pcap_out o;

	if (fd < 0)
		return 0; /* no /dev/full here */
	CHECK(pcap_out_init(&o, fd, 100, 0, 0) == 0);
	CHECK(rec(&o, 60, 0, 0, 0) == 0);
	CHECK(pcap_out_flush(&o) == -ENOSPC);
	pcap_out_free(&o);
	close(fd);
	return 0;
}

/* The disk fills in the middle of a flush: the file ends at the last whole record. */
static int test_fsize_limit(void)
{
	struct rlimit old, lim;
	struct pcap_out o;
	struct stat st;
	unsigned char f[24];
	int fd = mkstemp(tmpl), r;

	CHECK(fd >= 0);
	unlink(tmpl);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = 24 + 3 * (16 + 60) + 30; /* room for 3 records and part of a 4th */
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK(pcap_out_init(&o, fd, 100, 0, 0) == 0);
	CHECK(rec(&o, 60, 1, 0, 0) == 0);
	CHECK(pcap_out_flush(&o) == 0); /* header + 1 record */
	for (int i = 0; i < 5; i++)
		CHECK(rec(&o, 60, 2, 0, 0) == 0);
	r = pcap_out_flush(&o);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(r == -EFBIG);
	/* the partial write of the second flush is undone: only the first one stays */
	CHECK(fstat(fd, &st) == 0 && st.st_size == 24 + 16 + 60);
	CHECK(pread(fd, f, 24, 0) == 24 && get32(f) == PCAP_MAGIC_USEC);
	pcap_out_free(&o);
	close(fd);
	return 0;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	if (test_layout() || test_buffer_fills() || test_epipe() || test_full() ||
	    test_fsize_limit())
		return 1;
	printf("capture_pcap: ok\n");
	return 0;
}
