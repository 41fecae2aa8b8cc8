// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_vhost_vq.c - libFuzzer target: the virtqueue walk (daemon/vhost/vhost_vq.c) and
 * the vhost-user switch port (daemon/ports/vhost_port.c) over a fake guest memory
 * (tests/unit/fakeguest.h: a memfd, two regions contiguous in guest-physical space).
 * The input picks the ring size and the negotiated features, then is a program of
 * steps the guest and the switch take in turn: the guest writes descriptors (direct,
 * indirect tables, any address/length/flags/next), avail entries and the avail index
 * (also jumps), the used_event word, or raw bytes anywhere in its memory; the switch
 * runs rx_batch + rx_done (all or part of the batch), deliver of frames built from
 * the input (with or without an offload header), deliver_flush, space,
 * sleep_prepare and wake.
 *
 * Security model: the fuzzer is the hostile guest (bad-inputs.md items 13-19).
 * Besides ASan/UBSan the harness checks what the port promises the switch: every
 * frame has 1..64 fragments inside guest memory adding up to its length (at most
 * VHOST_FRAME_MAX), an offload header passed vhost_hdr_check, rx_batch returns at most
 * max frames, deliver takes 0..n, and the used index never runs ahead of what was
 * consumed from the avail ring. A violation traps.
 */
// FUZZ_SOURCES: lib/csb.c
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../daemon/vhost/vhost_vq.c"
#include "../daemon/vhost/vhost_msg.c"
#include "../daemon/vhost/vhost_conn.c"
#include "../daemon/ports/vhost_port.c"
#include "../daemon/vhost/gso.c"
#include "unit/fakeguest.h"
#include "unit/vhost_stubs.h"

#define REQUIRE(c)                                                                      \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "fuzz_vhost_vq: %s:%d: %s\n", __FILE__, __LINE__, #c); \
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

static struct fakeguest g;
static struct vhost_port *port;
static struct vnm_frame frames[VNM_BATCH_MAX];
static uint8_t src[70000];

/* A guest address: mostly inside the buffers, sometimes anywhere. */
static uint64_t gaddr(struct in *in)
{
	uint8_t k = g8(in);
	if (k < 200)
		return fg_gpa(FG_BUF0 + (uint32_t)g16(in) * 8);
	if (k < 230)
		return fg_gpa((uint32_t)g32(in) % (2 * FG_REGION));
	return (uint64_t)g32(in) << (k & 31);
}

static void check_frames(int n, unsigned max)
{
	REQUIRE(n >= 0 && (unsigned)n <= max);
	for (int i = 0; i < n; i++) {
		const struct vnm_frame *f = &frames[i];
		uint64_t sum = 0;
		REQUIRE(f->nfrags >= 1 && f->nfrags <= NM_MAX_FRAGS);
		for (unsigned k = 0; k < f->nfrags; k++) {
			REQUIRE(f->frag[k] >= g.base &&
				f->frag[k] + f->frag_len[k] <= g.base + 2 * FG_REGION);
			sum += f->frag_len[k];
		}
		REQUIRE(sum == f->len && f->len <= VHOST_FRAME_MAX);
		if (f->flags & VNM_FRAME_F_VNET)
			REQUIRE(vhost_hdr_check(f->vnet_hdr, f->len, port->dev.vq[TXQ].features) == 0);
		else
			REQUIRE(f->flags == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size, 0 };

	if (!g.base) {
		if (fg_init(&g) < 0)
			abort();
		port = calloc(1, sizeof(*port));
		for (unsigned i = 0; i < sizeof(src); i++)
			src[i] = (uint8_t)(i * 31 + 7);
	}
	uint32_t num = 1u << (g8(&in) % 9); /* 1..256 */
	uint64_t feat = (VHOST_NET_FEATURES & ~VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES)) &
			~((uint64_t)g32(&in) << 1 & 0x7ffe) & ~((uint64_t)(g8(&in) & 7) << 27);
	/* the segmentation buffers (allocated at the first GSO frame) live across inputs */
	uint8_t *gso_scratch = port->gso_scratch;
	struct vnm_frame *gso_segs = port->gso_segs;
	memset(port, 0, sizeof(*port));
	port->gso_scratch = gso_scratch;
	port->gso_segs = gso_segs;
	port->dp.ops = &vhost_ops;
	port->dp.sw_idx = -1;
	vhost_dev_init(&port->dev, &vp_dev_ops, port);
	memset(g.base + FG_BUF0, 0, 0x10000);
	if (fg_vq_start(&g, &port->dev.vq[TXQ], 1, num, feat) < 0 ||
	    fg_vq_start(&g, &port->dev.vq[RXQ], 0, num, feat) < 0)
		abort();
	struct vnm_dport *p = &port->dp;
	uint16_t idx[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };

	for (int step = 0; step < 256 && in.off < in.n; step++) {
		uint8_t op = g8(&in);
		unsigned q = op & 1;
		struct vhost_vq *vq = &port->dev.vq[q ? TXQ : RXQ];
		switch ((op >> 1) % 10) {
		case 0: /* a descriptor */
		case 1: {
			unsigned i = g16(&in) % (num + 1); /* sometimes one past the table */
			if (i == num)
				i = 0;
			uint64_t a = gaddr(&in);
			uint32_t l = g8(&in) < 240 ? g16(&in) : g32(&in);
			uint16_t fl = g8(&in) & 7;
			if (q == 1)
				fl &= (uint16_t)~(g8(&in) < 200 ? VRING_DESC_F_WRITE : 0);
			else if (g8(&in) < 200)
				fl |= VRING_DESC_F_WRITE;
			fg_set_desc(&g, q, i, a, l, fl, g16(&in) % (num + 2));
			break;
		}
		case 2: { /* an indirect table entry */
			uint32_t t = FG_BUF0 + 0x8000;
			fg_set_idesc(&g, t, g8(&in) % 32, gaddr(&in), g16(&in), g8(&in) & 7,
				     g8(&in) % 34);
			break;
		}
		case 3: /* post a head */
		case 4:
			fg_post(&g, q, (uint16_t)(g8(&in) < 240 ? g16(&in) % num : g16(&in)));
			break;
		case 5: { /* the avail index, or used_event, or raw bytes */
			uint8_t k = g8(&in);
			if (k < 100)
				__atomic_store_n(&fg_avail(&g, q)[1], g16(&in), __ATOMIC_RELEASE);
			else if (k < 150)
				fg_avail(&g, q)[2 + num] = g16(&in);
			else
				g.base[g32(&in) % (2 * FG_REGION)] = g8(&in);
			break;
		}
		case 6: { /* the switch pulls a batch */
			unsigned max = 1 + g8(&in) % 64;
			/* the device's own used index: the guest may scribble the shared copy */
			uint16_t used0 = port->dev.vq[TXQ].used_idx;
			uint16_t la0 = port->dev.vq[TXQ].last_avail;
			int n = p->ops->rx_batch(p, frames, max);
			check_frames(n, max);
			if (n > 0)
				p->ops->rx_done(p, g8(&in) % ((unsigned)n + 1));
			uint16_t used1 = port->dev.vq[TXQ].used_idx;
			uint16_t la1 = port->dev.vq[TXQ].last_avail;
			/* used grew by exactly what was consumed */
			REQUIRE((uint16_t)(used1 - used0) == (uint16_t)(la1 - la0));
			break;
		}
		case 7: { /* the switch delivers frames */
			unsigned n = 1 + g8(&in) % 8;
			static struct virtio_net_hdr_mrg vh;
			for (unsigned i = 0; i < n; i++) {
				struct vnm_frame *f = &frames[i];
				uint32_t len = g8(&in) < 200 ? g16(&in) % 3000 : g32(&in) % 65600;
				unsigned nf = 1 + g8(&in) % 4;
				memset(f, 0, sizeof(*f));
				for (uint32_t o = 0; o < len && f->nfrags < nf;) {
					uint32_t c = f->nfrags + 1 == nf ? len - o : 1 + g16(&in) % (len - o);
					if (c > 65535)
						c = 65535;
					f->frag[f->nfrags] = src + o;
					f->frag_len[f->nfrags++] = (uint16_t)c;
					o += c;
					f->len = o;
				}
				if (g8(&in) < 60 && f->len >= 16) {
					vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
					vh.gso_type = g8(&in) % 5;
					vh.gso_size = 1 + g8(&in);
					vh.csum_start = (uint16_t)(g16(&in) % (f->len - 2));
					/* csum_start <= len - 3: room for the 2-byte field */
					vh.csum_offset = (uint16_t)(g16(&in) % (f->len - 1 - vh.csum_start));
					vh.hdr_len = 0;
					f->flags = VNM_FRAME_F_VNET;
					f->vnet_hdr = &vh;
				}
			}
			uint16_t used0 = port->dev.vq[RXQ].used_idx;
			uint16_t la0 = port->dev.vq[RXQ].last_avail;
			int t = p->ops->deliver(p, frames, idx, n);
			REQUIRE(t >= 0 && (unsigned)t <= n);
			p->ops->deliver_flush(p);
			REQUIRE((uint16_t)(port->dev.vq[RXQ].used_idx - used0) ==
				(uint16_t)(port->dev.vq[RXQ].last_avail - la0));
			break;
		}
		case 8:
			p->ops->space(p);
			p->ops->sleep_prepare(p);
			p->ops->wake(p);
			break;
		default: /* enable / disable a ring */
			vq->enabled = g8(&in) & 1;
			break;
		}
	}
	return 0;
}
