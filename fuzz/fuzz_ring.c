// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_ring.c - libFuzzer target: ring and CSB validation at sync. Drives the kernel
 * side of the ring protocol (vnm_kring_read_app / check_slot / reset, lib/csb.c) and
 * the netmap port ops (daemon/ports/netmap_port.c: rx_batch, rx_done, deliver,
 * deliver_flush, space, sleep_prepare, wake) over two fake regions (tests/unit/
 * fakeport.h) whose shared words - atok head/cur/need_kick, slots' buf_idx/len/flags,
 * ring headers, even the ktoa words we own - are written by the fuzzer between the
 * calls, mixed with well-behaved client steps so the datapath is reached.
 *
 * Security model: the fuzzer is the hostile client (bad-inputs.md items 5-7; 17 for
 * the checksum completion of frames carrying a virtio-net header). Besides ASan/UBSan
 * the harness checks after every step what the port promises: the private indices
 * stay below num_slots, a TX ring's hwtail is hwcur - 1, every frame handed to the
 * switch has 1..64 fragments that lie inside buffers 2..num_bufs-1 and add up to its
 * length (at most 64 KiB), deliver takes 0..n frames, and the reserved buffers 0 and
 * 1 are never written. A violation traps.
 *
 * The harness trusts nothing it reads back from the fake region either (it bounds a
 * buf_idx before it touches a buffer as the client).
 */
// FUZZ_SOURCES: lib/csb.c
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../daemon/ports/netmap_port.c"
#include "../daemon/vhost/gso.c"
#include "unit/fakeport.h"

#define REQUIRE(c)                                                                      \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "fuzz_ring: %s:%d: %s\n", __FILE__, __LINE__, #c); \
			__builtin_trap();                                               \
		}                                                                       \
	} while (0)

struct in {
	const uint8_t *d;
	size_t n, off;
};

static uint8_t g8(struct in *in)
{
	return in->off < in->n ? in->d[in->off++] : 0;
}

static uint16_t g16(struct in *in)
{
	return (uint16_t)(g8(in) | g8(in) << 8);
}

static uint32_t g32(struct in *in)
{
	return (uint32_t)g16(in) | (uint32_t)g16(in) << 16;
}

static struct vnm_frame frames[VNM_BATCH_MAX];
static uint16_t idxs[VNM_BATCH_MAX];
static uint8_t scratch[8192];
static uint8_t vnet[2][12];
static int notify_sv[2][2] = { { -1, -1 }, { -1, -1 } }; /* per port: [0] daemon end, [1] app end */

static size_t region_len(const struct fakeport *fp)
{
	return (size_t)(fp->buf_base - fp->mem) + (size_t)fp->nbufs * fp->buf_size;
}

/* The reserved buffers 0 and 1 must stay as the harness left them (zero). */
static void check_reserved(const struct fakeport *fp)
{
	for (size_t i = 0; i < 2 * (size_t)fp->buf_size; i++)
		REQUIRE(fp->buf_base[i] == 0);
}

static void check_krings(struct fakeport *fp)
{
	for (int dir = 0; dir < 2; dir++) {
		unsigned nr = dir ? fp->nrx : fp->ntx;
		for (unsigned ri = 0; ri < nr; ri++) {
			struct vnm_kring *k = vnm_nmport_kring(fp->dp, dir, ri);
			uint32_t n = fp->nslots;

			REQUIRE(k && k->num_slots == n && k->num_bufs == fp->nbufs);
			REQUIRE(k->nr_hwcur < n && k->nr_hwtail < n && k->rhead < n && k->rcur < n);
			if (dir == 0)
				REQUIRE(k->nr_hwtail == (k->nr_hwcur + n - 1) % n);
		}
	}
}

static void check_frames(const struct fakeport *fp, int n)
{
	const char *lo = fp->buf_base + 2 * (size_t)fp->buf_size;
	const char *hi = fp->buf_base + (size_t)fp->nbufs * fp->buf_size;

	REQUIRE(n >= 0 && n <= VNM_BATCH_MAX);
	for (int i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[i];
		uint32_t tot = 0;

		REQUIRE(f->nfrags >= 1 && f->nfrags <= NM_MAX_FRAGS);
		REQUIRE(f->flags == 0);
		for (unsigned g = 0; g < f->nfrags; g++) {
			const char *p = (const char *)f->frag[g];
			REQUIRE(p >= lo && p + f->frag_len[g] <= hi);
			REQUIRE((size_t)(p - fp->buf_base) % fp->buf_size == 0);
			REQUIRE(f->frag_len[g] <= fp->buf_size);
			tot += f->frag_len[g];
		}
		REQUIRE(tot == f->len && tot <= VNM_FRAME_MAX);
	}
}

/* Client: a well-formed frame of len bytes on tx ring ri, then publish head = cur. */
static void client_tx(struct fakeport *fp, unsigned ri, unsigned len)
{
	uint32_t n = fp->nslots, bs = fp->buf_size;
	uint32_t h = fp->head[0][ri] % n;
	uint32_t t = vnm_csb_app_hwtail(fp->ktoa[0][ri]) % n;
	uint32_t space = t >= h ? t - h : t + n - h;
	uint32_t nsl = len == 0 ? 1 : (len + bs - 1) / bs;

	if (nsl > space || nsl > NM_MAX_FRAGS)
		return;
	for (uint32_t k = 0, off = 0; k < nsl; k++) {
		struct netmap_slot *s = fp_slot(fp, 0, ri, h);
		uint32_t l = len - off > bs ? bs : len - off;
		uint32_t b = s->buf_idx;

		if (b < 2 || b >= fp->nbufs)
			s->buf_idx = b = 2 + (h % (fp->nbufs - 2)); /* repair as a client would */
		memset(fp_buf(fp, b), (int)(0x40 + k), l);
		if (l >= 12) /* unicast or broadcast destinations */
			fp_buf(fp, b)[0] = (char)(k & 1);
		s->len = (uint16_t)l;
		s->flags = k + 1 < nsl ? NS_MOREFRAG : 0;
		off += l;
		h = fp_next(fp, h);
	}
	fp->head[0][ri] = h;
	fp_publish(fp, 0, ri);
}

/* Client: release every received slot of rx ring ri (or up to a given head). */
static void client_rx(struct fakeport *fp, unsigned ri, uint32_t upto, int all)
{
	uint32_t t = vnm_csb_app_hwtail(fp->ktoa[1][ri]);

	fp->head[1][ri] = all ? t % fp->nslots : upto % fp->nslots;
	fp_publish(fp, 1, ri);
}

/* Deliver synthetic frames (several fragments, optional virtio-net header) into dst. */
static void synth_deliver(struct in *in, struct fakeport *dst, int p)
{
	unsigned n = 1 + g8(in) % 4;

	for (unsigned i = 0; i < n; i++) {
		struct vnm_frame *f = &frames[i];
		unsigned nf = 1 + g8(in) % 4;
		uint32_t tot = 0;

		for (unsigned g = 0; g < nf; g++) {
			uint16_t off = g16(in) % 4096, l = g16(in) % 2049;
			f->frag[g] = scratch + off;
			f->frag_len[g] = l;
			tot += l;
		}
		f->nfrags = (uint16_t)nf;
		f->len = tot;
		f->flags = (g8(in) & 1) ? VNM_FRAME_F_VNET : 0;
		for (unsigned b = 0; b < sizeof(vnet[p]); b++)
			vnet[p][b] = g8(in);
		f->vnet_hdr = f->flags ? vnet[p] : NULL;
		idxs[i] = (uint16_t)i;
	}
	int taken = dst->dp->ops->deliver(dst->dp, frames, idxs, n);
	REQUIRE(taken >= 0 && (unsigned)taken <= n);
	dst->dp->ops->deliver_flush(dst->dp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* multiples of 8: fakeport.h packs rings back to back and a ring is 128-byte aligned */
	static const unsigned slot_tab[4] = { 8, 16, 64, 256 };
	static const unsigned bs_tab[4] = { 64, 256, 2048, 2048 };
	struct in in = { data, size, 0 };
	uint8_t b0 = g8(&in), b1 = g8(&in);
	unsigned ntx = 1 + (b0 & 1), nrx = 1 + ((b0 >> 1) & 1);
	unsigned nslots = slot_tab[b1 & 3], bs = bs_tab[(b1 >> 2) & 3];
	uint32_t flags = (b0 & 4) ? VNM_PI_LOSSLESS : 0;
	struct fakeport *fp[2];

	if (notify_sv[0][0] < 0) {
		for (int p = 0; p < 2; p++) {
			REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
					   notify_sv[p]) == 0);
		}
		for (size_t i = 0; i < sizeof(scratch); i++)
			scratch[i] = (uint8_t)(i * 13 + 7);
	}
	fp[0] = fp_create("fz:a", ntx, nrx, nslots, bs, flags);
	fp[1] = fp_create("fz:b", ntx, nrx, nslots, bs, 0);
	REQUIRE(fp[0] && fp[1] && fp[0]->dp && fp[1]->dp);

	for (unsigned step = 0; step < 512 && in.off < in.n; step++) {
		uint8_t op = g8(&in), sel = g8(&in);
		int p = sel & 1, dir = (sel >> 1) & 1;
		struct fakeport *f = fp[p], *o = fp[!p];
		unsigned ri = ((sel >> 2) & 1) % (dir ? f->nrx : f->ntx);
		struct vnm_dport *dp = f->dp;

		switch (op % 11) {
		case 0: { /* scribble one 32-bit word anywhere in the shared region but buffers 0-1 */
			size_t len = region_len(f), at = (g32(&in) % (len / 4)) * 4;
			uint32_t v = g32(&in);
			size_t b0s = (size_t)(f->buf_base - f->mem);
			if (at >= b0s && at < b0s + 2 * (size_t)f->buf_size)
				break;
			memcpy(f->mem + at, &v, sizeof(v));
			break;
		}
		case 1: { /* the application's head and cur: near the ring or anything */
			uint16_t h = g16(&in), c = g16(&in);
			uint32_t head = (h & 0x8000) ? (uint32_t)h << 8 : h % (f->nslots + 1);
			uint32_t cur = (c & 0x8000) ? (uint32_t)c << 8 : c % (f->nslots + 1);
			vnm_csb_app_publish(f->atok[dir][ri], head, cur);
			if (g8(&in) & 1)
				f->atok[dir][ri]->appl_need_kick = 1;
			break;
		}
		case 2: { /* one slot: buf_idx, len, flags */
			struct netmap_slot *s = fp_slot(f, dir, ri, g8(&in) % f->nslots);
			uint16_t bi = g16(&in), l = g16(&in);
			uint8_t fl = g8(&in);
			s->buf_idx = (bi & 0x8000) ? (uint32_t)bi << 16 | bi : bi % (f->nbufs + 2);
			s->len = (l & 0x8000) ? l : l % (2 * f->buf_size + 1);
			s->flags = (uint16_t)((fl & 1 ? NS_MOREFRAG : 0) | (fl & 0xfe) << 7);
			break;
		}
		case 3: /* a well-behaved client frame */
			client_tx(f, ri < f->ntx ? ri : 0, g16(&in) % (3 * f->buf_size + 1));
			break;
		case 4: { /* one switch round: f's TX into o's RX */
			unsigned max = 1 + g8(&in) % 64;
			int n = dp->ops->rx_batch(dp, frames, max);
			REQUIRE(n >= 0 && (unsigned)n <= max);
			check_frames(f, n);
			if (n > 0) {
				for (int i = 0; i < n; i++)
					idxs[i] = (uint16_t)i;
				int taken = o->dp->ops->deliver(o->dp, frames, idxs, (unsigned)n);
				REQUIRE(taken >= 0 && taken <= n);
				unsigned handled = (g8(&in) & 1) ? (unsigned)n : (unsigned)taken;
				dp->ops->rx_done(dp, handled);
			}
			o->dp->ops->deliver_flush(o->dp);
			check_reserved(o);
			break;
		}
		case 5: /* the client takes what it received */
			client_rx(f, ri < f->nrx ? ri : 0, g8(&in), g8(&in) & 1);
			break;
		case 6: /* the switch's idle path */
			(void)dp->ops->space(dp);
			if (dp->ops->sleep_prepare(dp) == 0 || (g8(&in) & 1))
				dp->ops->wake(dp);
			break;
		case 7: { /* the protocol helpers directly */
			struct vnm_kring *k = vnm_nmport_kring(dp, dir, ri);
			int err = vnm_kring_read_app(k);
			if (err == 0) {
				REQUIRE(k->rhead < k->num_slots && k->rcur < k->num_slots);
				struct netmap_slot *s = &k->ring->slot[k->rhead];
				uint32_t bi = __atomic_load_n(&s->buf_idx, __ATOMIC_RELAXED);
				uint32_t l = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
				if (vnm_kring_check_slot(k, bi, l) == 0)
					REQUIRE(bi >= 2 && bi < k->num_bufs && l <= k->buf_size);
			} else {
				REQUIRE(err == -VNM_RERR_HEAD || err == -VNM_RERR_CUR);
				uint32_t ec = k->ktoa->err_count;
				vnm_kring_reset(k, -err);
				REQUIRE(k->ktoa->err_count == ec + 1 || k->ktoa->err_count == k->err_count);
				REQUIRE(vnm_kring_read_app(k) == 0); /* a reset ring is consistent */
				REQUIRE(strlen(vnm_ring_err_str(-err)) > 0);
			}
			break;
		}
		case 8: /* client resync after a reset */
			fp_resync(f, dir, ri);
			break;
		case 9: { /* notify sockets on and off; the app end drained now and then */
			int fd = (g8(&in) & 1) ? notify_sv[p][0] : -1;
			vnm_nmport_set_notify(dp, dir, ri, fd);
			char buf[4096];
			while (recv(notify_sv[p][1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
			if (g8(&in) & 1) /* a TX-wait filler, as the library sends */
				(void)!send(notify_sv[p][1], buf, VNM_NOTIFY_FILL, MSG_DONTWAIT);
			break;
		}
		case 10:
			synth_deliver(&in, f, p);
			check_reserved(f);
			break;
		}
		check_krings(fp[0]);
		check_krings(fp[1]);
	}
	for (int p = 0; p < 2; p++) {
		vnm_nmport_set_notify(fp[p]->dp, 0, 0, -1);
		fp_destroy(fp[p]);
	}
	return 0;
}
