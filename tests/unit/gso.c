// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: vnm_gso_segment (daemon/vhost/gso.c) over crafted frames.
 *   - TCPv4 64 KiB (frame of exactly VNM_FRAME_MAX bytes in 33 odd-sized fragments),
 *     gso_size 1448: 46 segments, seq/len/id/flags right, payload re-assembles;
 *   - TCPv6 behind an 802.1Q tag; UFO over IPv4 (fragments) and IPv6 (fragment
 *     header) re-assembled by offset to the original datagram; GSO_NONE + NEEDS_CSUM;
 *   - every checksum checked with the test's own byte-at-a-time routine;
 *   - negative: each malformed header class returns an error; every truncation of a
 *     valid frame and 20000 random header mutations never crash nor read out of
 *     bounds (fragments are exact-size heap blocks: ASan sees any overread, make
 *     asan-test), and whatever is accepted comes out with good checksums.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/vhost/gso.c"

static int fails;
#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                                          \
		}                                                                         \
	} while (0)

static uint8_t scratch[VNM_GSO_SCRATCH];
static struct vnm_frame segs[VNM_GSO_MAX_SEGS];

/* ---- an independent checksum: byte by byte, position parity decides the half ---- */
static uint32_t ref_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static int ref_ok(uint32_t s) /* the sum, checksum field included, folds to 0xffff */
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static uint32_t ref_pseudo(const uint8_t *ip, int v6, uint8_t proto, uint32_t len)
{
	uint32_t s = v6 ? ref_sum(0, ip + 8, 32) : ref_sum(0, ip + 12, 8);
	return s + proto + (len >> 16) + (len & 0xffff);
}

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)g16(p) << 16 | g16(p + 2);
}

/* ---- frames: built linear, handed over in exact-size heap fragments ---- */
static uint8_t lin[VNM_FRAME_MAX + 64];
static uint8_t *pieces[NM_MAX_FRAGS];

static void frame_free(struct vnm_frame *f)
{
	for (unsigned i = 0; i < f->nfrags; i++) {
		free(pieces[i]);
		pieces[i] = NULL;
	}
	f->nfrags = 0;
}

/* cut lin[0..len) into pieces of fsz bytes (the last shorter) */
static void frame_make(struct vnm_frame *f, uint32_t len, uint32_t fsz,
		       const struct virtio_net_hdr_mrg *h)
{
	uint32_t off = 0;
	memset(f, 0, sizeof(*f));
	while (off < len || f->nfrags == 0) {
		uint32_t l = len - off < fsz ? len - off : fsz;
		if (f->nfrags == NM_MAX_FRAGS) {
			fprintf(stderr, "too many fragments (len %u fsz %u)\n", len, fsz);
			exit(1);
		}
		pieces[f->nfrags] = malloc(l ? l : 1);
		memcpy(pieces[f->nfrags], lin + off, l);
		f->frag[f->nfrags] = pieces[f->nfrags];
		f->frag_len[f->nfrags] = (uint16_t)l;
		f->nfrags++;
		off += l;
		if (len == 0)
			break;
	}
	f->len = len;
	f->flags = VNM_FRAME_F_VNET;
	f->vnet_hdr = h;
}

static void p16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void p32(uint8_t *p, uint32_t v)
{
	p16(p, (uint16_t)(v >> 16));
	p16(p + 2, (uint16_t)v);
}

/* Ethernet (+ VLAN) header; returns the L3 offset */
static uint32_t put_eth(uint16_t et, int vlan)
{
	memset(lin, 0, 64);
	memcpy(lin, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (vlan) {
		p16(lin + 12, 0x8100);
		p16(lin + 14, 42);
		p16(lin + 16, et);
		return 18;
	}
	p16(lin + 12, et);
	return 14;
}

static void put_ip4(uint32_t l3, uint8_t proto, uint32_t totlen)
{
	uint8_t *ip = lin + l3;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	p16(ip + 2, (uint16_t)totlen);
	p16(ip + 4, 0x1234);
	p16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
}

static void put_ip6(uint32_t l3, uint8_t proto, uint32_t plen)
{
	uint8_t *ip = lin + l3;
	memset(ip, 0, 40);
	ip[0] = 0x60;
	p16(ip + 4, (uint16_t)plen);
	ip[6] = proto;
	ip[7] = 64;
	ip[8] = 0xfd;
	ip[23] = 1;
	ip[24] = 0xfd;
	ip[39] = 2;
}

/* TCP header of thl bytes (options: NOPs + a timestamp) */
static void put_tcp(uint32_t l4, uint32_t thl, uint8_t flags)
{
	uint8_t *th = lin + l4;
	memset(th, 0, thl);
	p16(th, 40000);
	p16(th + 2, 5201);
	p32(th + 4, 0xfffff000); /* wraps during the stream */
	p32(th + 8, 77);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = flags;
	p16(th + 14, 65535);
	for (uint32_t i = 20; i < thl; i++)
		th[i] = 1; /* NOP */
	if (thl >= 32) {
		th[22] = 8;
		th[23] = 10;
		p32(th + 24, 1000);
		p32(th + 28, 2000);
	}
}

static void put_payload(uint32_t off, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		lin[off + i] = (uint8_t)(i * 7 + (i >> 8) + 3);
}

/* ---- checks on produced segments ---- */
static uint8_t reasm[VNM_FRAME_MAX * 2];

/* every segment of a TCP stream: headers, checksums, payload re-assembled into reasm */
static void check_tcp(int n, int v6, uint32_t l3, uint32_t thl, uint32_t mss, uint32_t paylen,
		      uint8_t flags)
{
	uint32_t iphl = v6 ? 40 : 20, hl = l3 + iphl + thl, got = 0;
	for (int i = 0; i < n; i++) {
		const struct vnm_frame *s = &segs[i];
		const uint8_t *p = s->frag[0], *ip = p + l3, *th = p + l3 + iphl;
		uint32_t dl = paylen - got < mss ? paylen - got : mss;
		CHECK(s->nfrags == 1 && s->flags == 0 && s->vnet_hdr == NULL);
		CHECK(s->len == hl + dl && s->frag_len[0] == s->len);
		CHECK(memcmp(p, lin, l3) == 0);
		if (v6) {
			CHECK(g16(ip + 4) == thl + dl);
		} else {
			CHECK(g16(ip + 2) == iphl + thl + dl);
			CHECK(g16(ip + 4) == (uint16_t)(0x1234 + i));
			CHECK(ref_ok(ref_sum(0, ip, iphl)));
		}
		CHECK(g32(th + 4) == 0xfffff000u + got);
		uint8_t want = flags;
		if (i + 1 < n)
			want &= (uint8_t)~(0x01 | 0x08);
		if (i > 0)
			want &= (uint8_t)~0x80;
		CHECK(th[13] == want);
		CHECK(memcmp(th + 20, lin + l3 + iphl + 20, thl - 20) == 0); /* options kept */
		CHECK(ref_ok(ref_sum(ref_pseudo(ip, v6, 6, thl + dl), th, thl + dl)));
		memcpy(reasm + got, p + hl, dl);
		got += dl;
	}
	CHECK(got == paylen);
	CHECK(memcmp(reasm, lin + hl, paylen) == 0);
}

static void test_tcp4_64k(void)
{
	struct virtio_net_hdr_mrg h = { 0 };
	struct vnm_frame f;
	uint32_t l3 = put_eth(0x0800, 0), thl = 32, len = VNM_FRAME_MAX;
	uint32_t paylen = len - l3 - 20 - thl;

	put_ip4(l3, 6, len - l3);
	put_tcp(l3 + 20, thl, 0x80 | 0x18 | 0x01); /* CWR PSH ACK FIN */
	put_payload(l3 + 20 + thl, paylen);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	h.hdr_len = (uint16_t)(l3 + 20 + thl);
	h.gso_size = 1448;
	h.csum_start = (uint16_t)(l3 + 20);
	h.csum_offset = 16;
	frame_make(&f, len, 1999, &h); /* 33 fragments, headers cut too */
	CHECK(f.nfrags == 33);
	int n = vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch));
	CHECK(n == 46);
	if (n == 46)
		check_tcp(n, 0, l3, thl, 1448, paylen, 0x80 | 0x18 | 0x01);
	/* the header's hdr_len may lie (it is a hint): same result */
	h.hdr_len = 3;
	CHECK(vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch)) == 46);
	/* too few segments allowed, scratch too small: refused, nothing half-done */
	CHECK(vnm_gso_segment(&f, segs, 45, scratch, sizeof(scratch)) == -E2BIG);
	CHECK(vnm_gso_segment(&f, segs, 46, scratch, 65536) == -E2BIG);
	h.gso_size = 100; /* 655 segments */
	CHECK(vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch)) == -E2BIG);
	frame_free(&f);
}

static void test_tcp6_vlan(void)
{
	struct virtio_net_hdr_mrg h = { 0 };
	struct vnm_frame f;
	uint32_t l3 = put_eth(0x86dd, 1), thl = 20, paylen = 5001;
	uint32_t len = l3 + 40 + thl + paylen;

	put_ip6(l3, 6, thl + paylen);
	put_tcp(l3 + 40, thl, 0x18);
	put_payload(l3 + 40 + thl, paylen);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	h.gso_size = 1400;
	h.csum_start = (uint16_t)(l3 + 40);
	h.csum_offset = 16;
	frame_make(&f, len, 97, &h);
	int n = vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch));
	CHECK(n == 4);
	if (n == 4)
		check_tcp(n, 1, l3, thl, 1400, paylen, 0x18);
	/* a TCPV6 frame that is IPv4, a TCPV4 frame that is IPv6: refused */
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CHECK(vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch)) == -EINVAL);
	frame_free(&f);
}

/* UFO: fragments re-assembled by offset; returns the datagram length re-assembled */
static void check_ufo(int n, int v6, uint32_t l3, uint32_t dglen, uint32_t fsz)
{
	uint32_t iphl = v6 ? 40 : 20, seen = 0;
	uint32_t id6 = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = segs[i].frag[0], *ip = p + l3, *d;
		uint32_t off, dl;
		int more;
		CHECK(memcmp(p, lin, l3) == 0);
		if (v6) {
			const uint8_t *fr = ip + 40;
			if (n == 1) {
				CHECK(ip[6] == 17);
				off = 0;
				more = 0;
				d = ip + 40;
				dl = g16(ip + 4);
			} else {
				CHECK(ip[6] == 44 && fr[0] == 17 && fr[1] == 0);
				off = g16(fr + 2) & ~7u;
				more = g16(fr + 2) & 1;
				if (i == 0)
					id6 = g32(fr + 4);
				CHECK(g32(fr + 4) == id6);
				d = fr + 8;
				dl = g16(ip + 4) - 8;
			}
			CHECK(segs[i].len == l3 + 40 + (n == 1 ? 0 : 8) + dl);
		} else {
			CHECK(ref_ok(ref_sum(0, ip, iphl)));
			CHECK(g16(ip + 4) == 0x1234);
			off = (uint32_t)(g16(ip + 6) & 0x1fff) * 8;
			more = !!(g16(ip + 6) & 0x2000);
			CHECK(!(g16(ip + 6) & 0x4000)); /* DF cleared */
			d = ip + iphl;
			dl = g16(ip + 2) - iphl;
			CHECK(segs[i].len == l3 + g16(ip + 2));
		}
		CHECK(more == (i + 1 < n));
		CHECK(i + 1 == n || dl == fsz);
		CHECK(off == seen);
		memcpy(reasm + off, d, dl);
		seen = off + dl;
	}
	CHECK(seen == dglen);
	/* the datagram: the original's bytes except the checksum, and the checksum good */
	CHECK(memcmp(reasm, lin + l3 + iphl, 6) == 0);
	CHECK(memcmp(reasm + 8, lin + l3 + iphl + 8, dglen - 8) == 0);
	CHECK(g16(reasm + 6) != 0);
	CHECK(ref_ok(ref_sum(ref_pseudo(lin + l3, v6, 17, dglen), reasm, dglen)));
}

static void test_ufo(int v6, uint32_t paylen, uint16_t gso_size, int want)
{
	struct virtio_net_hdr_mrg h = { 0 };
	struct vnm_frame f;
	uint32_t l3 = put_eth(v6 ? 0x86dd : 0x0800, 0), iphl = v6 ? 40 : 20;
	uint32_t dglen = 8 + paylen, len = l3 + iphl + dglen;
	uint8_t *u = lin + l3 + iphl;

	if (v6)
		put_ip6(l3, 17, dglen);
	else
		put_ip4(l3, 17, iphl + dglen);
	p16(u, 5000);
	p16(u + 2, 6000);
	p16(u + 4, (uint16_t)dglen);
	p16(u + 6, 0xbeef); /* garbage partial sum: must be recomputed */
	put_payload(l3 + iphl + 8, paylen);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	h.gso_size = gso_size;
	h.csum_start = (uint16_t)(l3 + iphl);
	h.csum_offset = 6;
	frame_make(&f, len, len / 60 > 333 ? len / 60 + 1 : 333, &h);
	int n = vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch));
	CHECK(n == want);
	if (n == want)
		check_ufo(n, v6, l3, dglen, gso_size & ~7u);
	frame_free(&f);
}

static void test_csum_only(void)
{
	struct virtio_net_hdr_mrg h = { 0 };
	struct vnm_frame f;
	uint32_t l3 = put_eth(0x0800, 0), paylen = 101, len = l3 + 20 + 8 + paylen;
	uint8_t *u = lin + l3 + 20;

	put_ip4(l3, 17, 20 + 8 + paylen);
	p16(u, 1);
	p16(u + 2, 2);
	p16(u + 4, (uint16_t)(8 + paylen));
	put_payload(l3 + 28, paylen);
	/* Linux's convention: the field holds the folded pseudo-header sum */
	uint32_t ps = ref_pseudo(lin + l3, 0, 17, 8 + paylen);
	while (ps >> 16)
		ps = (ps & 0xffff) + (ps >> 16);
	p16(u + 6, (uint16_t)ps);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = (uint16_t)(l3 + 20);
	h.csum_offset = 6;
	frame_make(&f, len, 7, &h);
	int n = vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch));
	CHECK(n == 1);
	if (n == 1) {
		const uint8_t *p = segs[0].frag[0];
		CHECK(segs[0].len == len && segs[0].flags == 0);
		CHECK(memcmp(p, lin, l3 + 26) == 0 && memcmp(p + l3 + 28, lin + l3 + 28, paylen) == 0);
		CHECK(ref_ok(ref_sum(ref_pseudo(p + l3, 0, 17, 8 + paylen), p + l3 + 20, 8 + paylen)));
	}
	h.csum_offset = (uint16_t)(len - h.csum_start - 1); /* field past the end */
	CHECK(vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch)) == -EINVAL);
	frame_free(&f);
}

/* A valid TCPv4 GSO frame in lin: returns its length, fills h. */
static uint32_t base_tcp4(struct virtio_net_hdr_mrg *h)
{
	uint32_t l3 = put_eth(0x0800, 0), paylen = 3000, len = l3 + 20 + 20 + paylen;
	put_ip4(l3, 6, len - l3);
	put_tcp(l3 + 20, 20, 0x10);
	put_payload(l3 + 40, paylen);
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = 54;
	h->gso_size = 1000;
	h->csum_start = 34;
	h->csum_offset = 16;
	return len;
}

static int run_lin(uint32_t len, uint32_t fsz, const struct virtio_net_hdr_mrg *h)
{
	struct vnm_frame f;
	frame_make(&f, len, fsz, h);
	int n = vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch));
	frame_free(&f);
	return n;
}

static void test_negative(void)
{
	struct virtio_net_hdr_mrg h;
	uint32_t len = base_tcp4(&h);
	struct vnm_frame f;

	CHECK(run_lin(len, 500, &h) == 3);
#define BAD(expr, want)                                                                   \
	do {                                                                              \
		len = base_tcp4(&h);                                                      \
		expr;                                                                     \
		int r_ = run_lin(len, 500, &h);                                           \
		if (r_ != (want))                                                         \
			fprintf(stderr, "case \"%s\": got %d\n", #expr, r_);              \
		CHECK(r_ == (want));                                                      \
	} while (0)
	BAD(h.gso_size = 0, -EINVAL);
	BAD(h.hdr_len = (uint16_t)(len + 1), -EINVAL);
	BAD(h.csum_start = 33, -EINVAL);
	BAD(h.csum_offset = 6, -EINVAL);
	BAD(h.csum_start = 0xffff, -EINVAL);
	BAD(h.flags |= 0x40, -EINVAL);
	BAD(h.gso_type = 2, -EPROTONOSUPPORT);
	BAD(h.gso_type = 5, -EPROTONOSUPPORT);
	BAD(h.gso_type = VIRTIO_NET_HDR_GSO_UDP, -EINVAL); /* TCP inside */
	BAD(h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6, -EINVAL);
	BAD(p16(lin + 12, 0x0806), -EINVAL);             /* not IP */
	BAD(p16(lin + 12, 0x8100), -EINVAL);             /* a "tag" followed by garbage */
	BAD(lin[14] = 0x44, -EINVAL);                    /* ihl 4 */
	BAD(lin[14] = 0x65, -EINVAL);                    /* version 6 in an IPv4 ethertype */
	BAD(lin[14] = 0x4f, -EINVAL);                    /* ihl 60 bytes: TCP header moves off */
	BAD(p16(lin + 16, (uint16_t)(len - 14 + 1)), -EINVAL); /* tot_len past the frame */
	BAD(p16(lin + 16, 19), -EINVAL);                 /* tot_len < ihl */
	BAD(p16(lin + 16, 30), -EINVAL);                 /* tot_len cuts the TCP header */
	BAD(p16(lin + 20, 0x2000), -EINVAL);             /* MF: already a fragment */
	BAD(p16(lin + 20, 0x0001), -EINVAL);             /* offset: already a fragment */
	BAD(lin[23] = 17, -EINVAL);                      /* protocol UDP */
	BAD(lin[34 + 12] = 0x40, -EINVAL);               /* doff 4 */
	BAD(lin[34 + 12] = 0x00, -EINVAL);               /* doff 0 */
	BAD((lin[34 + 12] = 0xf0, p16(lin + 16, 60)), -EINVAL); /* doff 60 > packet */
	BAD(len = 13, -EINVAL);                          /* runt */
	BAD(len = 40, -EINVAL);                          /* cut in the TCP header */
	BAD(h.gso_size = 1, -E2BIG);                     /* 3000 segments */
	/* tot_len shorter than the frame: trailing bytes ignored, not an error */
	BAD(p16(lin + 16, 20 + 20 + 1000), 1);
	/* IPv4 options with TCP: kept in every segment */
	{
		len = base_tcp4(&h);
		memmove(lin + 38, lin + 34, len - 34);
		lin[14] = 0x46;
		p16(lin + 16, (uint16_t)(len + 4 - 14));
		memcpy(lin + 34, "\x01\x01\x01\x00", 4);
		h.csum_start = 38;
		int n = run_lin(len + 4, 500, &h);
		CHECK(n == 3);
		for (int i = 0; i < n && i < 3; i++) {
			const uint8_t *ip = segs[i].frag[0] + 14;
			CHECK(ref_ok(ref_sum(0, ip, 24)) && memcmp(ip + 20, "\x01\x01\x01\x00", 4) == 0);
		}
	}
	/* UFO: UDP length lies, IPv4 options, gso_size under 8 */
	{
		uint32_t l3 = put_eth(0x0800, 0), dg = 8 + 2000;
		put_ip4(l3, 17, 20 + dg);
		memset(lin + 34, 0, 8);
		p16(lin + 34 + 4, (uint16_t)(dg - 1));
		memset(&h, 0, sizeof(h));
		h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
		h.gso_size = 1000;
		CHECK(run_lin(l3 + 20 + dg, 700, &h) == -EINVAL);
		p16(lin + 34 + 4, (uint16_t)dg);
		CHECK(run_lin(l3 + 20 + dg, 700, &h) == 3);
		h.gso_size = 7;
		CHECK(run_lin(l3 + 20 + dg, 700, &h) == -EINVAL);
		h.gso_size = 1000;
		lin[14] = 0x46;
		CHECK(run_lin(l3 + 20 + dg, 700, &h) == -EPROTONOSUPPORT);
	}
	/* IPv6 with an extension header: not cut */
	{
		uint32_t l3 = put_eth(0x86dd, 0);
		put_ip6(l3, 0 /* hop-by-hop */, 20 + 2000);
		memset(&h, 0, sizeof(h));
		h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		h.gso_size = 1000;
		CHECK(run_lin(l3 + 40 + 20 + 2000, 700, &h) == -EPROTONOSUPPORT);
	}
	/* fragment lengths that do not add up to f->len: refused before any read */
	len = base_tcp4(&h);
	frame_make(&f, len, 500, &h);
	f.len = len + 1;
	CHECK(vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch)) == -EINVAL);
	f.len = len - 1;
	CHECK(vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch)) == -EINVAL);
	f.len = len;
	CHECK(vnm_gso_segment(&f, segs, 0, scratch, sizeof(scratch)) == -EINVAL);
	frame_free(&f);

	/* every truncation of a valid frame (tot_len kept): an error, no overread */
	len = base_tcp4(&h);
	for (uint32_t l = 0; l < len; l++) {
		int r = run_lin(l, l % 3 ? 61 : 64, &h);
		CHECK(r < 0);
	}
}

/* Random mutations of header bytes and header fields: whatever is accepted is sane. */
static void test_mutations(void)
{
	uint32_t seed = 12345;
	for (int it = 0; it < 20000; it++) {
		struct virtio_net_hdr_mrg h;
		uint32_t len;
		int kind = it % 4;
		seed = seed * 1103515245 + 12345;
		if (kind == 0) {
			len = base_tcp4(&h);
		} else if (kind == 1) {
			uint32_t l3 = put_eth(0x86dd, it & 8);
			put_ip6(l3, 6, 20 + 900);
			put_tcp(l3 + 40, 20, 0x18);
			len = l3 + 40 + 20 + 900;
			memset(&h, 0, sizeof(h));
			h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
			h.gso_size = 300;
		} else {
			uint32_t l3 = put_eth(kind == 2 ? 0x0800 : 0x86dd, 0), iphl = kind == 2 ? 20 : 40;
			if (kind == 2)
				put_ip4(l3, 17, 20 + 8 + 900);
			else
				put_ip6(l3, 17, 8 + 900);
			p16(lin + l3 + iphl + 4, 8 + 900);
			len = l3 + iphl + 8 + 900;
			memset(&h, 0, sizeof(h));
			h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
			h.gso_size = 256;
		}
		int nm = 1 + (int)(seed >> 28);
		for (int m = 0; m < nm; m++) {
			seed = seed * 1103515245 + 12345;
			uint32_t r = seed >> 8;
			if (r % 5 == 0)
				((uint8_t *)&h)[r % 10] ^= (uint8_t)(r >> 12);
			else
				lin[r % 80] ^= (uint8_t)(1 << ((r >> 10) & 7));
		}
		if (seed % 7 == 0)
			len = seed % (len + 1);
		struct vnm_frame f;
		frame_make(&f, len, len / 60 + 1 + seed % 97, &h);
		int n = vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch));
		CHECK(n < 0 || (n >= 1 && n <= VNM_GSO_MAX_SEGS));
		for (int i = 0; i < n; i++) {
			const uint8_t *p = segs[i].frag[0];
			CHECK(segs[i].len >= 14 && segs[i].frag[0] >= scratch &&
			      segs[i].frag[0] + segs[i].len <= scratch + sizeof(scratch));
			/* TCP segments: IPv4 header and TCP checksums good */
			uint32_t l3 = g16(p + 12) == 0x8100 ? 18 : 14;
			uint16_t et = g16(p + l3 - 2);
			uint8_t gso = h.gso_type & 0x7f;
			if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && et == 0x0800) {
				const uint8_t *ip = p + l3;
				uint32_t ihl = (ip[0] & 15) * 4u, tl = g16(ip + 2);
				CHECK(ref_ok(ref_sum(0, ip, ihl)));
				CHECK(l3 + tl == segs[i].len);
				CHECK(ref_ok(ref_sum(ref_pseudo(ip, 0, 6, tl - ihl), ip + ihl, tl - ihl)));
			}
		}
		frame_free(&f);
	}
}

int main(void)
{
	test_tcp4_64k();
	test_tcp6_vlan();
	test_ufo(0, 4000, 1480, 3);  /* 4008-byte datagram: 1480 + 1480 + 1048 */
	test_ufo(0, 100, 1480, 1);   /* fits: one datagram, checksum completed */
	test_ufo(1, 4000, 1452, 3);  /* IPv6: 1448-byte fragments */
	test_ufo(1, 60000, 1232, 49);
	test_ufo(1, 50, 1232, 1);
	test_csum_only();
	test_negative();
	test_mutations();
	if (fails) {
		fprintf(stderr, "gso: %d check(s) failed\n", fails);
		return 1;
	}
	printf("gso: ok\n");
	return 0;
}
