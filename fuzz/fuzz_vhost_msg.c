// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_vhost_msg.c - libFuzzer target: the vhost-user message handler (daemon/vhost/
 * vhost_msg.c) fed a stream of messages decoded from the input: request, flags, size
 * field, payload (possibly shorter or longer than the request wants) and 0-9 fds
 * (a 2 MiB memfd of guest memory, eventfds, a pipe, a read-only file). One in four
 * memory tables is made valid (regions over the memfd chosen by the input), so ring
 * set-up, start, stop and table replacement are reached. After an error the device is
 * reset, as the connection layer does.
 *
 * Security model: the fuzzer is the hostile front-end (bad-inputs.md items 9-12).
 * Besides ASan/UBSan the harness checks: every fd handed to the handler is consumed
 * (the lowest free fd number never moves: no leak), a started ring's three parts lie
 * inside the device's mappings, a reply never exceeds the reply buffer, and a reset
 * leaves no ring started and no memory mapped. A violation traps.
 */
// FUZZ_SOURCES: lib/csb.c
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../daemon/vhost/vhost_vq.c"
#include "../daemon/vhost/vhost_msg.c"

#define REQUIRE(c)                                                                      \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "fuzz_vhost_msg: %s:%d: %s\n", __FILE__, __LINE__, #c); \
			__builtin_trap();                                               \
		}                                                                       \
	} while (0)

#define GMEM (2u << 20)

struct in {
	const uint8_t *d;
	size_t n, off;
};

static uint8_t g8(struct in *in)
{
	return in->off < in->n ? in->d[in->off++] : 0;
}

static uint32_t g32(struct in *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)g8(in) << (8 * i);
	return v;
}

static int memfd = -1, rofd = -1, fd_floor = -1;

static void init_once(void)
{
	if (memfd >= 0)
		return;
	memfd = memfd_create("fuzzguest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, GMEM) < 0)
		abort();
	char path[] = "/tmp/fuzz_vhost_ro.XXXXXX";
	int w = mkstemp(path);
	if (w < 0 || ftruncate(w, 65536) < 0)
		abort();
	rofd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	close(w);
	int t = dup(0);
	fd_floor = t;
	close(t);
}

static int make_fd(uint8_t kind)
{
	int p[2];

	switch (kind % 4) {
	case 0:
		return dup(memfd);
	case 1:
		return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	case 2:
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		close(p[1]);
		return p[0];
	default:
		return dup(rofd);
	}
}

static void check_dev(const struct vhost_dev *d)
{
	for (unsigned q = 0; q < VHOST_QUEUES; q++) {
		const struct vhost_vq *vq = &d->vq[q];
		if (!vq->started)
			continue;
		REQUIRE(vq->num && !(vq->num & (vq->num - 1)) && vq->num <= VHOST_VQ_MAX);
		const uint8_t *parts[3] = { (const uint8_t *)vq->desc, (const uint8_t *)vq->avail,
					    vq->used };
		uint64_t lens[3] = { vq_desc_bytes(vq->num), vq_avail_bytes(vq->num),
				     vq_used_bytes(vq->num) };
		for (int k = 0; k < 3; k++) {
			int inside = 0;
			for (unsigned r = 0; r < d->mem.n; r++) {
				const struct vhost_region *rg = &d->mem.r[r];
				if (parts[k] >= rg->host && parts[k] + lens[k] <= rg->host + rg->size)
					inside = 1;
			}
			REQUIRE(inside);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vhost_dev dev;
	static uint8_t reply[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	static uint8_t pl[VHOST_USER_PAYLOAD_MAX + 64];
	struct in in = { data, size, 0 };

	init_once();
	vhost_dev_init(&dev, NULL, NULL);
	for (int m = 0; m < 64 && in.off < in.n; m++) {
		struct vhost_user_hdr h;
		uint8_t sel = g8(&in);
		int fds[VHOST_USER_MAX_FDS + 1];
		unsigned nfds;
		size_t rlen = 0;

		h.request = sel & 0x80 ? g32(&in) : (uint32_t)((sel & 0x1f) % VHOST_USER_REQ_MAX);
		h.flags = (g8(&in) & 0x0f);
		if ((g8(&in) & 3) == 0)
			h.flags = VHOST_USER_VERSION | VHOST_USER_NEED_REPLY;
		else if ((h.flags & 3) != 1 && (sel & 0x40) == 0)
			h.flags = VHOST_USER_VERSION;
		memset(pl, 0, sizeof(pl));
		if (h.request == VHOST_USER_SET_MEM_TABLE && (sel & 0x30) == 0) {
			/* a plausible table over the memfd: regions chosen by the input */
			struct vhost_user_mem um;
			memset(&um, 0, sizeof(um));
			um.nregions = 1 + g8(&in) % 2;
			for (unsigned i = 0; i < um.nregions; i++) {
				um.r[i].gpa = 0x100000ull * (1 + i * 4) + (g8(&in) & 1) * 4096;
				um.r[i].uva = 0x7f0000000000ull + 0x400000ull * i + (g8(&in) & 1) * 4096;
				um.r[i].size = (uint64_t)(1 + g8(&in) % 8) * 65536;
				um.r[i].mmap_offset = (uint64_t)(g8(&in) % 16) * 65536;
			}
			h.size = 8 + 32 * um.nregions;
			memcpy(pl, &um, h.size);
			nfds = um.nregions;
			for (unsigned i = 0; i < nfds; i++)
				fds[i] = dup(memfd);
		} else {
			uint32_t sz = g8(&in);
			if (sel & 0x20) /* the exact size of the request, mostly */
				sz = h.request < VHOST_USER_REQ_MAX ? reqs[h.request].size : sz;
			h.size = sz > VHOST_USER_PAYLOAD_MAX ? VHOST_USER_PAYLOAD_MAX : sz;
			for (uint32_t i = 0; i < h.size; i++)
				pl[i] = g8(&in);
			uint8_t f = g8(&in);
			nfds = (f & 0x0f) > VHOST_USER_MAX_FDS ? 0 : (f & 0x0f) % 4;
			for (unsigned i = 0; i < nfds; i++) {
				fds[i] = make_fd(f >> 4);
				if (fds[i] < 0)
					fds[i] = dup(memfd);
			}
		}
		int ret = vhost_dev_msg(&dev, &h, pl, fds, nfds, reply, &rlen);
		REQUIRE(rlen <= sizeof(reply));
		if (rlen) {
			struct vhost_user_hdr rh;
			memcpy(&rh, reply, sizeof(rh));
			REQUIRE(rh.size + VHOST_USER_HDR_SIZE == rlen && rh.size <= 8 + 8);
		}
		check_dev(&dev);
		/* the datapath over whatever was set up: avail / pop never leave the mappings */
		for (unsigned q = 0; q < VHOST_QUEUES; q++) {
			struct vhost_vq *vq = &dev.vq[q];
			struct vhost_iov iov[16];
			unsigned niov;
			uint16_t head;
			uint32_t total;
			if (!vq->started)
				continue;
			int a = vhost_vq_avail(vq);
			for (int k = 0; k < a && k < 4; k++) {
				vhost_vq_pop(vq, (int)q == 0, iov, 16, &niov, &head, &total);
				vhost_vq_used(vq, head, 0);
			}
			vhost_vq_publish(vq);
		}
		if (ret < 0)
			vhost_dev_reset(&dev);
	}
	vhost_dev_reset(&dev);
	for (unsigned q = 0; q < VHOST_QUEUES; q++)
		REQUIRE(!dev.vq[q].started && dev.vq[q].kick_fd < 0 && dev.vq[q].call_fd < 0);
	REQUIRE(dev.mem.n == 0);
	/*
	 * Every fd received was closed: after the reset the device owns none. (libFuzzer's
	 * RSS thread may hold /proc/self/statm open for a moment: only our kinds count.)
	 */
	int t = dup(0);
	if (t > fd_floor) {
		char lp[64], tg[256] = "";
		snprintf(lp, sizeof(lp), "/proc/self/fd/%d", fd_floor);
		ssize_t k = readlink(lp, tg, sizeof(tg) - 1);
		tg[k > 0 ? k : 0] = '\0';
		int ours = strstr(tg, "fuzzguest") || strstr(tg, "eventfd") || strstr(tg, "pipe:") ||
			   strstr(tg, "fuzz_vhost_ro");
		if (ours)
			fprintf(stderr, "fd %d (%s) leaked\n", fd_floor, tg);
		REQUIRE(!ours);
	}
	close(t);
	return 0;
}
