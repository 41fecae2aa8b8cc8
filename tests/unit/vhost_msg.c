// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: the vhost-user message handler (back-end side) driven directly: the
 * DPDK virtio-user and QEMU message sequences, REPLY_ACK, and every bad-input class
 * 9-12 of the reference list (size/flags/unknown requests, fds where none are
 * expected or fewer than announced, memory tables with 0/9 regions, size 0,
 * overflow, beyond the file, overlaps, unmappable files, replacement while rings
 * run, ring indices/sizes/addresses, features never offered, messages out of
 * order). Each error is reported (REPLY_ACK 1, d->err), leaks no fd, and the
 * device works for a valid sequence afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "../../daemon/vhost/vhost_vq.c"
#include "../../daemon/vhost/vhost_msg.c"
#include "unit/fakeguest.h"

static struct fakeguest g;
static struct vhost_dev dev;
static int npause, nresume, nkick_changed;
static uint8_t reply[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
static size_t reply_len;

static void t_pause(struct vhost_dev *d)
{
	npause++;
}
static void t_resume(struct vhost_dev *d)
{
	nresume++;
}
static void t_kick_changed(struct vhost_dev *d, unsigned qi, int old_fd, int new_fd)
{
	nkick_changed++;
}
static const struct vhost_dev_ops tops = { t_pause, t_resume, t_kick_changed, NULL };

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* Send one message; fds are dup'd (the handler consumes its copies). */
static int msg(uint32_t req, uint32_t flags, const void *payload, uint32_t size, const int *fds,
	       unsigned nfds)
{
	struct vhost_user_hdr h = { req, flags ? flags : VHOST_USER_VERSION, size };
	int f[VHOST_USER_MAX_FDS];
	static uint8_t pl[VHOST_USER_PAYLOAD_MAX + 64];

	memset(pl, 0, sizeof(pl));
	if (size <= sizeof(pl) && payload)
		memcpy(pl, payload, size);
	for (unsigned i = 0; i < nfds; i++)
		f[i] = dup(fds[i]);
	return vhost_dev_msg(&dev, &h, pl, f, nfds, reply, &reply_len);
}

static int msg64(uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return msg(req, 0, &v, 8, fds, nfds);
}

static int state(uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_user_state s = { index, num };
	return msg(req, 0, &s, sizeof(s), NULL, 0);
}

static uint64_t reply_u64_val(void)
{
	uint64_t v = ~0ull;
	if (reply_len == VHOST_USER_HDR_SIZE + 8)
		memcpy(&v, reply + VHOST_USER_HDR_SIZE, 8);
	return v;
}

static int mem_table(unsigned n, const struct vhost_user_region *r, const int *fds, unsigned nfds)
{
	struct vhost_user_mem m;

	memset(&m, 0, sizeof(m));
	m.nregions = n;
	for (unsigned i = 0; i < n && i < VHOST_MAX_REGIONS; i++)
		m.r[i] = r[i];
	return msg(VHOST_USER_SET_MEM_TABLE, 0, &m, 8 + 32 * (n > 8 ? 8 : n), fds, nfds);
}

static struct vhost_user_region regions[2] = {
	{ FG_GPA0, FG_REGION, FG_UVA0, 0 },
	{ FG_GPA0 + FG_REGION, FG_REGION, FG_UVA0 + FG_REGION, FG_REGION },
};

static int addr(uint32_t q, uint64_t d, uint64_t a, uint64_t u)
{
	struct vhost_user_addr ad = { q, 0, d, u, a, 0 };
	return msg(VHOST_USER_SET_VRING_ADDR, 0, &ad, sizeof(ad), NULL, 0);
}

static int ring_addr_ok(uint32_t q)
{
	uint64_t b = FG_UVA0 + (uint64_t)q * 0x8000;
	return addr(q, b, b + 0x2000, b + 0x4000);
}

/* A complete, valid set-up as DPDK's virtio-user sends it. Returns the failures. */
static int setup(void)
{
	int before = fails;
	int fds[2] = { g.fd, g.fd };
	int efd = eventfd(0, EFD_CLOEXEC);

	CHECK(msg(VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0) == 0);
	CHECK(msg(VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0) == 0);
	CHECK(reply_u64_val() == VHOST_NET_FEATURES);
	struct vhost_user_hdr *rh = (struct vhost_user_hdr *)reply;
	CHECK(rh->request == VHOST_USER_GET_FEATURES &&
	      rh->flags == (VHOST_USER_VERSION | VHOST_USER_REPLY) && rh->size == 8);
	CHECK(msg(VHOST_USER_GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0) == 0);
	CHECK(reply_u64_val() == VHOST_PROTOCOL_FEATURES);
	CHECK(msg64(VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_PROTOCOL_FEATURES, NULL, 0) == 0);
	CHECK(reply_len == 0);
	CHECK(msg64(VHOST_USER_SET_FEATURES, VHOST_NET_FEATURES, NULL, 0) == 0);
	/* with need_reply: an ack of 0 */
	CHECK(msg(VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY,
		  &(struct vhost_user_mem){ 2, 0, { regions[0], regions[1] } }, 8 + 64, fds,
		  2) == 0);
	CHECK(reply_u64_val() == 0);
	for (uint32_t q = 0; q < 2; q++) {
		CHECK(msg64(VHOST_USER_SET_VRING_CALL, q, &efd, 1) == 0);
		CHECK(state(VHOST_USER_SET_VRING_NUM, q, 256) == 0);
		CHECK(state(VHOST_USER_SET_VRING_BASE, q, 0) == 0);
		CHECK(ring_addr_ok(q) == 0);
		CHECK(msg64(VHOST_USER_SET_VRING_KICK, q, &efd, 1) == 0);
		CHECK(dev.vq[q].started && !dev.vq[q].enabled); /* protocol features: disabled */
		CHECK(state(VHOST_USER_SET_VRING_ENABLE, q, 1) == 0);
		CHECK(dev.vq[q].enabled);
	}
	CHECK(msg(VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0) == 0 && reply_u64_val() == 1);
	CHECK(dev.vq[1].desc == (struct vring_desc *)(dev.mem.r[0].host + 0x8000));
	/* the back-end's own mapping of the same memory */
	g.base[0x8000] = 0x5a;
	CHECK(((uint8_t *)dev.vq[1].desc)[0] == 0x5a);
	g.base[0x8000] = 0;
	close(efd);
	return fails - before;
}

static void reset(void)
{
	vhost_dev_reset(&dev);
}

/* An error: returned, REPLY_ACK says 1 when asked for, and a reset + valid set-up works. */
static void expect_err(int ret, const char *what)
{
	if (ret >= 0) {
		fprintf(stderr, "%s: accepted\n", what);
		fails++;
	} else if (!dev.err[0]) {
		fprintf(stderr, "%s: no error text\n", what);
		fails++;
	}
	reset();
	if (setup()) {
		fprintf(stderr, "  ... set-up after %s failed\n", what);
	}
	reset();
}

static void test_class9(void)
{
	/* unknown requests, sizes not matching the request, version and reply bits */
	expect_err(msg(0, 0, NULL, 0, NULL, 0), "request 0");
	expect_err(msg(6, 0, NULL, 0, NULL, 0), "request 6 (not served)");
	expect_err(msg(VHOST_USER_REQ_MAX, 0, NULL, 0, NULL, 0), "request past the table");
	expect_err(msg(0xffffffffu, 0, NULL, 0, NULL, 0), "request 0xffffffff");
	expect_err(msg(VHOST_USER_GET_FEATURES, 0, NULL, 8, NULL, 0), "GET_FEATURES with a payload");
	expect_err(msg(VHOST_USER_SET_FEATURES, 0, NULL, 4, NULL, 0), "SET_FEATURES of 4 bytes");
	expect_err(msg(VHOST_USER_SET_VRING_NUM, 0, NULL, 16, NULL, 0), "SET_VRING_NUM of 16 bytes");
	expect_err(msg(VHOST_USER_SET_VRING_ADDR, 0, NULL, 32, NULL, 0), "SET_VRING_ADDR of 32");
	expect_err(msg(VHOST_USER_GET_FEATURES, 2, NULL, 0, NULL, 0), "version 2");
	expect_err(msg(VHOST_USER_GET_FEATURES, VHOST_USER_VERSION | VHOST_USER_REPLY, NULL, 0,
		       NULL, 0), "reply bit in a request");
	/* reply-ack: an error answers 1 */
	int r = msg(VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY,
		    &(struct vhost_user_state){ 0, 3 }, 8, NULL, 0);
	CHECK(r < 0 && reply_u64_val() == 1);
	reset();
	/* success with need_reply: 0 */
	r = msg(VHOST_USER_SET_OWNER, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY, NULL, 0, NULL, 0);
	CHECK(r == 0 && reply_u64_val() == 0);
	/* a GET with need_reply gets its own reply only */
	r = msg(VHOST_USER_GET_FEATURES, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY, NULL, 0, NULL,
		0);
	CHECK(r == 0 && reply_u64_val() == VHOST_NET_FEATURES);
	reset();
	/* fds where none are expected, fewer than announced */
	int efd = eventfd(0, EFD_CLOEXEC);
	expect_err(msg(VHOST_USER_SET_OWNER, 0, NULL, 0, &efd, 1), "fd with SET_OWNER");
	expect_err(msg64(VHOST_USER_SET_VRING_CALL, 0, NULL, 0), "SET_VRING_CALL without its fd");
	expect_err(msg64(VHOST_USER_SET_VRING_CALL, 0 | VHOST_USER_VRING_NOFD, &efd, 1),
		   "SET_VRING_CALL NOFD with an fd");
	int two[2] = { g.fd, g.fd };
	expect_err(mem_table(2, regions, two, 1), "2 regions, 1 fd");
	expect_err(mem_table(1, regions, two, 2), "1 region, 2 fds");
	close(efd);
}

static void test_class10(void)
{
	int fds[9];
	struct vhost_user_region r[9];

	for (int i = 0; i < 9; i++)
		fds[i] = g.fd;
	expect_err(mem_table(0, regions, fds, 0), "0 regions");
	{
		struct vhost_user_hdr h = { VHOST_USER_SET_MEM_TABLE, 1, 8 + 32 * 9 };
		static uint8_t pl[8 + 32 * 9];
		uint32_t n = 9;
		int f[9];
		memcpy(pl, &n, 4);
		for (int i = 0; i < 9; i++)
			f[i] = dup(g.fd);
		expect_err(vhost_dev_msg(&dev, &h, pl, f, 9, reply, &reply_len), "9 regions");
	}
	memcpy(r, regions, sizeof(regions));
	r[0].size = 0;
	expect_err(mem_table(1, r, fds, 1), "size 0");
	memcpy(r, regions, sizeof(regions));
	r[0].gpa = ~0ull - 100;
	expect_err(mem_table(1, r, fds, 1), "gpa + size overflow");
	memcpy(r, regions, sizeof(regions));
	r[0].uva = ~0ull - 100;
	expect_err(mem_table(1, r, fds, 1), "uva + size overflow");
	memcpy(r, regions, sizeof(regions));
	r[0].mmap_offset = ~0ull - 100;
	expect_err(mem_table(1, r, fds, 1), "offset + size overflow");
	memcpy(r, regions, sizeof(regions));
	r[1].mmap_offset = FG_REGION + 4096;
	expect_err(mem_table(2, r, fds, 2), "offset + size beyond the file");
	memcpy(r, regions, sizeof(regions));
	r[1].gpa = FG_GPA0 + FG_REGION / 2;
	expect_err(mem_table(2, r, fds, 2), "overlapping guest addresses");
	memcpy(r, regions, sizeof(regions));
	r[1].uva = FG_UVA0 + 4096;
	expect_err(mem_table(2, r, fds, 2), "overlapping front-end addresses");
	/* files that cannot be mapped: a pipe, a read-only file */
	int p[2];
	CHECK(pipe(p) == 0);
	expect_err(mem_table(1, regions, p, 1), "a pipe as memory");
	close(p[0]);
	close(p[1]);
	char path[] = "/tmp/vhost_msg_ro.XXXXXX";
	int wfd = mkstemp(path);
	CHECK(wfd >= 0 && ftruncate(wfd, FG_REGION) == 0);
	int ro = open(path, O_RDONLY);
	unlink(path);
	expect_err(mem_table(1, regions, &ro, 1), "a read-only file");
	close(ro);
	close(wfd);

	/* replacing the table while the rings run: re-translated, old mapping gone */
	CHECK(setup() == 0);
	struct fakeguest g2;
	CHECK(fg_init(&g2) == 0);
	memcpy(g2.base, g.base, 2 * FG_REGION);
	int fds2[2] = { g2.fd, g2.fd };
	int p0 = npause;
	void *old = dev.vq[1].desc;
	CHECK(mem_table(2, regions, fds2, 2) == 0);
	CHECK(npause == p0 + 1 && nresume == npause);
	CHECK(dev.vq[1].started && dev.vq[1].desc == (struct vring_desc *)(dev.mem.r[0].host + 0x8000));
	g2.base[0x8000] = 0x77;
	CHECK(old != dev.vq[1].desc && ((uint8_t *)dev.vq[1].desc)[0] == 0x77);
	/* a table that no longer holds the rings: error, rings stopped */
	struct vhost_user_region far = { 0x40000000, FG_REGION, 0x10000000000ull, 0 };
	CHECK(mem_table(1, &far, fds2, 1) < 0 && !dev.vq[0].started && !dev.vq[1].started);
	reset();
	fg_fini(&g2);
}

static void test_class11(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	CHECK(setup() == 0);
	reset();
	expect_err(state(VHOST_USER_SET_VRING_NUM, 2, 256), "ring index 2");
	expect_err(state(VHOST_USER_SET_VRING_NUM, 0x80000000u, 256), "ring index high bit");
	expect_err(state(VHOST_USER_SET_VRING_NUM, 0, 0), "ring size 0");
	expect_err(state(VHOST_USER_SET_VRING_NUM, 0, 3), "ring size 3");
	expect_err(state(VHOST_USER_SET_VRING_NUM, 0, 65536), "ring size 65536");
	expect_err(state(VHOST_USER_SET_VRING_ENABLE, 0, 2), "enable 2");
	expect_err(state(VHOST_USER_GET_VRING_BASE, 5, 0), "GET_VRING_BASE ring 5");
	expect_err(state(VHOST_USER_SET_VRING_BASE, 0, 0x10000), "base over 16 bits");
	expect_err(msg64(VHOST_USER_SET_VRING_KICK, 2, &efd, 1), "kick ring 2");
	expect_err(msg64(VHOST_USER_SET_VRING_CALL, 0x201, &efd, 1), "call with stray bits");
	/* addresses: outside memory, straddling, misaligned */
	int fds[2] = { g.fd, g.fd };
	CHECK(mem_table(2, regions, fds, 2) == 0 && state(VHOST_USER_SET_VRING_NUM, 0, 256) == 0);
	expect_err(addr(0, 0x1000, FG_UVA0 + 0x2000, FG_UVA0 + 0x4000), "desc outside memory");
	CHECK(mem_table(2, regions, fds, 2) == 0 && state(VHOST_USER_SET_VRING_NUM, 0, 256) == 0);
	expect_err(addr(0, FG_UVA0 + FG_REGION - 2048, FG_UVA0 + 0x2000, FG_UVA0 + 0x4000),
		   "desc straddling two regions");
	CHECK(mem_table(2, regions, fds, 2) == 0 && state(VHOST_USER_SET_VRING_NUM, 0, 256) == 0);
	expect_err(addr(0, FG_UVA0, FG_UVA0 + 2 * FG_REGION - 100, FG_UVA0 + 0x4000),
		   "avail past the end");
	CHECK(mem_table(2, regions, fds, 2) == 0 && state(VHOST_USER_SET_VRING_NUM, 0, 256) == 0);
	expect_err(addr(0, FG_UVA0 + 8, FG_UVA0 + 0x2000, FG_UVA0 + 0x4000), "desc misaligned");
	CHECK(mem_table(2, regions, fds, 2) == 0 && state(VHOST_USER_SET_VRING_NUM, 0, 256) == 0);
	expect_err(addr(0, FG_UVA0, FG_UVA0 + 0x2000, FG_UVA0 + 0x4002), "used misaligned");
	close(efd);
}

static void test_class12(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int fds[2] = { g.fd, g.fd };

	expect_err(msg64(VHOST_USER_SET_FEATURES, VHOST_NET_FEATURES | VHOST_BIT(22), NULL, 0),
		   "MQ never offered");
	expect_err(msg64(VHOST_USER_SET_FEATURES, VHOST_BIT(63), NULL, 0), "bit 63");
	expect_err(msg64(VHOST_USER_SET_FEATURES, VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF), NULL, 0),
		   "without VERSION_1");
	expect_err(msg64(VHOST_USER_SET_PROTOCOL_FEATURES, 1ull << 1, NULL, 0),
		   "protocol feature never offered");
	CHECK(setup() == 0);
	expect_err(msg64(VHOST_USER_SET_FEATURES, VHOST_BIT(VIRTIO_F_VERSION_1), NULL, 0),
		   "features changed while running");
	/* the same features again while running are fine (QEMU re-sends them) */
	CHECK(setup() == 0);
	CHECK(msg64(VHOST_USER_SET_FEATURES, VHOST_NET_FEATURES, NULL, 0) == 0);
	reset();
	/* out of order */
	expect_err(msg64(VHOST_USER_SET_VRING_KICK, 0, &efd, 1), "kick before anything");
	CHECK(state(VHOST_USER_SET_VRING_NUM, 0, 256) == 0);
	expect_err(ring_addr_ok(0), "addresses before the memory table");
	CHECK(mem_table(2, regions, fds, 2) == 0);
	expect_err(ring_addr_ok(0), "addresses before the ring size");
	CHECK(mem_table(2, regions, fds, 2) == 0 && state(VHOST_USER_SET_VRING_NUM, 0, 256) == 0);
	expect_err(msg64(VHOST_USER_SET_VRING_KICK, 0, &efd, 1), "kick before addresses");
	/* size or base changed on a running ring */
	CHECK(setup() == 0);
	expect_err(state(VHOST_USER_SET_VRING_NUM, 1, 128), "resize a running ring");
	CHECK(setup() == 0);
	expect_err(state(VHOST_USER_SET_VRING_BASE, 1, 7), "base of a running ring");
	close(efd);
}

/* GET_VRING_BASE stops the ring and answers the next avail index; a restart resumes there. */
static void test_stop_restart(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	CHECK(setup() == 0);
	dev.vq[1].last_avail = 17;
	int k0 = nkick_changed;
	CHECK(state(VHOST_USER_GET_VRING_BASE, 1, 0) == 0);
	struct vhost_user_state s;
	memcpy(&s, reply + VHOST_USER_HDR_SIZE, sizeof(s));
	CHECK(s.index == 1 && s.num == 17 && !dev.vq[1].started && dev.vq[1].kick_fd < 0);
	CHECK(nkick_changed == k0 + 1);
	CHECK(state(VHOST_USER_SET_VRING_BASE, 1, 17) == 0);
	CHECK(msg64(VHOST_USER_SET_VRING_KICK, 1, &efd, 1) == 0);
	CHECK(dev.vq[1].started && dev.vq[1].last_avail == 17);
	/* a kick with "no fd" (polling) is accepted */
	CHECK(msg64(VHOST_USER_SET_VRING_KICK, 1 | VHOST_USER_VRING_NOFD, NULL, 0) == 0);
	CHECK(dev.vq[1].kick_fd == -1 && dev.vq[1].started);
	/* RESET_OWNER: everything goes */
	CHECK(msg(VHOST_USER_RESET_OWNER, 0, NULL, 0, NULL, 0) == 0);
	CHECK(!dev.vq[0].started && !dev.vq[1].started && dev.mem.n == 0);
	close(efd);
	reset();
}

int main(void)
{
	if (fg_init(&g) < 0) {
		perror("fakeguest");
		return 1;
	}
	vhost_dev_init(&dev, &tops, NULL);
	int fd0 = count_fds();
	CHECK(setup() == 0);
	reset();
	test_class9();
	test_class10();
	test_class11();
	test_class12();
	test_stop_restart();
	/* 1,000 rounds of bad messages: no fd leak */
	for (int i = 0; i < 1000; i++) {
		int efd = eventfd(0, EFD_CLOEXEC);
		int fds[3] = { g.fd, efd, efd };
		msg(VHOST_USER_SET_OWNER, 0, NULL, 0, fds, 3);
		mem_table(2, regions, fds, 3);
		mem_table(1, regions, fds, 1);
		msg64(VHOST_USER_SET_VRING_CALL, 0, &efd, 1);
		reset();
		close(efd);
	}
	CHECK(count_fds() == fd0);
	CHECK(npause == nresume);
	fg_fini(&g);
	if (fails) {
		fprintf(stderr, "vhost_msg: %d checks failed\n", fails);
		return 1;
	}
	printf("vhost_msg: ok (%llu messages, %llu errors)\n", (unsigned long long)dev.msgs,
	       (unsigned long long)dev.errors);
	return 0;
}
