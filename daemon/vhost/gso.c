// SPDX-License-Identifier: BSD-2-Clause
/*
 * gso.c - software segmentation (TSO/UFO) and checksum completion (contract: gso.h).
 *
 * Security model: every byte of the input frame and of its virtio-net header comes
 * from a peer (a guest, a netmap client with a header, a host interface) and may be
 * anything. The header is copied once into a local. Fragment lengths are summed and
 * must equal f->len (<= VNM_FRAME_MAX, <= NM_MAX_FRAGS fragments); after that every
 * read goes through frag_copy(), which never reads past a fragment. The protocol
 * headers (Ethernet, one optional 802.1Q tag, IPv4 with options or IPv6 without
 * extension headers, TCP with options / UDP) are copied into a local buffer and
 * parsed only there, each length checked against the frame's end before use: IPv4
 * ihl >= 5 and the IP total length inside the frame (trailing bytes past it, e.g.
 * Ethernet padding, are ignored), TCP data offset >= 5 and inside the IP packet, UDP
 * length equal to the IP payload. The header's own claims are not trusted: hdr_len
 * must lie inside the frame but is otherwise ignored (the real header length is
 * parsed), csum_start/csum_offset must name exactly the L4 checksum field when
 * NEEDS_CSUM is set, and all checksums are recomputed from scratch (the peer's
 * partial sum is never used for GSO frames). gso_size 0 is refused; the number of
 * segments and the scratch bytes are computed before anything is written, and
 * segments of more than 65535 bytes are refused (slot and fragment lengths are 16
 * bits). A peer can thus only make us do work bounded by VNM_GSO_SCRATCH per frame.
 *
 * Threading: none of its own; reentrant (an atomic counter feeds IPv6 fragment ids).
 */
#include <errno.h>
#include <string.h>

#include "vhost/gso.h"
#include "vhost/vnet.h"

#define GSO_ETH_HLEN 14
#define GSO_ETH_P_IP 0x0800
#define GSO_ETH_P_IPV6 0x86dd
#define GSO_ETH_P_8021Q 0x8100
#define GSO_PROTO_TCP 6
#define GSO_PROTO_UDP 17
#define GSO_PROTO_FRAG 44
#define GSO_HDR_MAX (GSO_ETH_HLEN + 4 + 60 + 60) /* L2 + VLAN + IPv4 with options + TCP with options */
#define GSO_TCP_FIN 0x01
#define GSO_TCP_PSH 0x08
#define GSO_TCP_CWR 0x80

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/*
 * The ones' complement sum helpers, written once: add len bytes at p as big-endian
 * 16-bit words to sum (odd length: the last byte is the high half of a word; every
 * call but the last of a sum must therefore pass an even length), fold to 16 bits.
 */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	while (len >= 2) {
		sum += rd16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header of IPv4 (ip points at the IPv4 header) or IPv6 (v6). */
static uint64_t pseudo_sum(const uint8_t *ip, int v6, uint8_t proto, uint32_t l4len)
{
	uint64_t s = v6 ? csum_add(0, ip + 8, 32) : csum_add(0, ip + 12, 8);

	return s + proto + (l4len >> 16) + (l4len & 0xffff);
}

/* Cursor over the frame's fragments: copies bytes in order, never past a fragment. */
struct fcur {
	const struct vnm_frame *f;
	unsigned fi;
	uint32_t fo;
};

static void frag_copy(struct fcur *c, uint8_t *dst, uint32_t len)
{
	while (len && c->fi < c->f->nfrags) {
		uint32_t l = c->f->frag_len[c->fi] - c->fo;
		if (l > len)
			l = len;
		memcpy(dst, c->f->frag[c->fi] + c->fo, l);
		dst += l;
		len -= l;
		c->fo += l;
		if (c->fo == c->f->frag_len[c->fi]) {
			c->fi++;
			c->fo = 0;
		}
	}
}

static void frag_skip(struct fcur *c, uint32_t len)
{
	while (len && c->fi < c->f->nfrags) {
		uint32_t l = c->f->frag_len[c->fi] - c->fo;
		if (l > len)
			l = len;
		len -= l;
		c->fo += l;
		if (c->fo == c->f->frag_len[c->fi]) {
			c->fi++;
			c->fo = 0;
		}
	}
}

static void seg_set(struct vnm_frame *s, uint8_t *p, uint32_t len)
{
	s->nfrags = 1;
	s->flags = 0;
	s->len = len;
	s->frag[0] = p;
	s->frag_len[0] = (uint16_t)len;
	s->vnet_hdr = NULL;
}

/* GSO_NONE: one linear copy, the partial checksum completed (vnet.h's routine). */
static int one_frame(const struct vnm_frame *f, const struct virtio_net_hdr_mrg *h,
		     struct vnm_frame *segs, uint8_t *scratch, size_t scratch_len)
{
	struct fcur c = { f, 0, 0 };
	uint32_t pos = 0;
	uint16_t v = 0;

	if (f->len > scratch_len)
		return -E2BIG;
	if (f->len > UINT16_MAX)
		return -E2BIG;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		pos = (uint32_t)h->csum_start + h->csum_offset;
		if (pos + 2 > f->len)
			return -EINVAL;
		v = vnm_vnet_csum(f, h->csum_start); /* network order */
	}
	frag_copy(&c, scratch, f->len);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		memcpy(scratch + pos, &v, 2);
	seg_set(&segs[0], scratch, f->len);
	return 1;
}

static uint32_t ip6_frag_id(void)
{
	static uint32_t next = 0x5a17e000;

	return __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
}

int vnm_gso_segment(const struct vnm_frame *f, struct vnm_frame *segs, unsigned max_segs,
		    uint8_t *scratch, size_t scratch_len)
{
	struct virtio_net_hdr_mrg h;
	uint8_t hb[GSO_HDR_MAX];
	uint32_t tot = 0;

	if (!f || !segs || !scratch || max_segs == 0)
		return -EINVAL;
	if (f->nfrags > NM_MAX_FRAGS || f->len > VNM_FRAME_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < f->nfrags; i++)
		tot += f->frag_len[i];
	if (tot != f->len)
		return -EINVAL;
	if (!(f->flags & VNM_FRAME_F_VNET) || !f->vnet_hdr)
		memset(&h, 0, sizeof(h)); /* a plain frame: one copy */
	else
		memcpy(&h, f->vnet_hdr, sizeof(h)); /* once */
	if (h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	uint8_t gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return one_frame(f, &h, segs, scratch, scratch_len);
	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    gso != VIRTIO_NET_HDR_GSO_UDP)
		return -EPROTONOSUPPORT;
	if (h.gso_size == 0 || h.hdr_len > f->len)
		return -EINVAL;

	/* ---- parse: L2 ---- */
	uint32_t hcopy = f->len < GSO_HDR_MAX ? f->len : GSO_HDR_MAX;
	struct fcur c = { f, 0, 0 };
	frag_copy(&c, hb, hcopy);
	if (hcopy < GSO_ETH_HLEN)
		return -EINVAL;
	uint32_t l3 = GSO_ETH_HLEN;
	uint16_t et = rd16(hb + 12);
	if (et == GSO_ETH_P_8021Q) {
		if (hcopy < GSO_ETH_HLEN + 4)
			return -EINVAL;
		et = rd16(hb + 16);
		l3 += 4;
	}

	/* ---- L3: end = the IP packet's end in the frame ---- */
	int v6;
	uint32_t iphl, end;
	uint8_t proto;
	if (et == GSO_ETH_P_IP) {
		if (gso == VIRTIO_NET_HDR_GSO_TCPV6)
			return -EINVAL;
		if (l3 + 20 > hcopy)
			return -EINVAL;
		const uint8_t *ip = hb + l3;
		if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
			return -EINVAL;
		iphl = (uint32_t)(ip[0] & 0xf) * 4;
		uint32_t totlen = rd16(ip + 2);
		if (l3 + iphl > hcopy || totlen < iphl || l3 + totlen > f->len)
			return -EINVAL;
		if (rd16(ip + 6) & 0x3fff) /* already a fragment (MF or offset) */
			return -EINVAL;
		end = l3 + totlen;
		proto = ip[9];
		v6 = 0;
	} else if (et == GSO_ETH_P_IPV6) {
		if (gso == VIRTIO_NET_HDR_GSO_TCPV4)
			return -EINVAL;
		if (l3 + 40 > hcopy)
			return -EINVAL;
		const uint8_t *ip = hb + l3;
		if ((ip[0] >> 4) != 6)
			return -EINVAL;
		iphl = 40;
		uint32_t plen = rd16(ip + 4);
		if (l3 + 40 + plen > f->len)
			return -EINVAL;
		end = l3 + 40 + plen;
		proto = ip[6];
		v6 = 1;
	} else {
		return -EINVAL;
	}
	uint32_t l4 = l3 + iphl;
	int tcp = gso != VIRTIO_NET_HDR_GSO_UDP;
	if (proto != (tcp ? GSO_PROTO_TCP : GSO_PROTO_UDP))
		return v6 ? -EPROTONOSUPPORT : -EINVAL; /* IPv6 extension headers: not cut */
	if (!v6 && !tcp && iphl != 20)
		return -EPROTONOSUPPORT; /* UFO with IPv4 options: not cut */

	/* ---- L4 ---- */
	uint32_t l4hl;
	if (tcp) {
		if (l4 + 20 > hcopy || l4 + 20 > end)
			return -EINVAL;
		l4hl = (uint32_t)(hb[l4 + 12] >> 4) * 4;
		if (l4hl < 20 || l4 + l4hl > hcopy || l4 + l4hl > end)
			return -EINVAL;
	} else {
		l4hl = 8;
		if (l4 + 8 > hcopy || l4 + 8 > end)
			return -EINVAL;
		if (rd16(hb + l4 + 4) != end - l4)
			return -EINVAL; /* UDP length must be the IP payload */
	}
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (h.csum_start != l4 || h.csum_offset != (tcp ? 16 : 6))
			return -EINVAL;
	}

	uint32_t hl = l4 + l4hl; /* L2..L4 headers, copied into every TCP segment */
	uint32_t paylen = end - hl;
	uint32_t mss = h.gso_size;
	uint8_t *out = scratch;
	size_t room = scratch_len;
	unsigned nseg;

	c.fi = 0; /* back to the frame's start: segments are copied from there */
	c.fo = 0;

	if (tcp) {
		nseg = paylen == 0 ? 1 : (paylen + mss - 1) / mss;
		if (nseg > max_segs || nseg > VNM_GSO_MAX_SEGS)
			return -E2BIG;
		if ((uint64_t)nseg * hl + paylen > room)
			return -E2BIG;
		if (hl + (paylen < mss ? paylen : mss) > UINT16_MAX)
			return -E2BIG;
		uint32_t seq = rd32(hb + l4 + 4);
		uint16_t id = rd16(hb + l3 + 4);
		uint8_t fl = hb[l4 + 13];
		frag_skip(&c, hl);
		for (unsigned i = 0; i < nseg; i++) {
			uint32_t dl = paylen - i * mss < mss ? paylen - i * mss : mss;
			uint8_t *s = out;
			memcpy(s, hb, hl);
			frag_copy(&c, s + hl, dl);
			uint8_t *ip = s + l3, *th = s + l4;
			if (v6) {
				wr16(ip + 4, (uint16_t)(l4hl + dl));
			} else {
				wr16(ip + 2, (uint16_t)(iphl + l4hl + dl));
				wr16(ip + 4, (uint16_t)(id + i));
				wr16(ip + 10, 0);
				wr16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, iphl)));
			}
			wr32(th + 4, seq + i * mss);
			uint8_t tf = fl;
			if (i + 1 < nseg)
				tf &= (uint8_t)~(GSO_TCP_FIN | GSO_TCP_PSH);
			if (i > 0)
				tf &= (uint8_t)~GSO_TCP_CWR;
			th[13] = tf;
			wr16(th + 16, 0);
			uint64_t sum = pseudo_sum(ip, v6, GSO_PROTO_TCP, l4hl + dl);
			sum = csum_add(sum, th, l4hl + dl); /* l4hl is even: one call */
			wr16(th + 16, (uint16_t)~csum_fold(sum));
			seg_set(&segs[i], s, hl + dl);
			out += hl + dl;
		}
		return (int)nseg;
	}

	/*
	 * UFO: one UDP datagram (header + data = the IP payload), its checksum completed
	 * over the whole datagram, then cut into IP fragments carrying gso_size bytes of
	 * IP payload each (rounded down to a multiple of 8, as fragment offsets require).
	 */
	uint32_t dglen = end - l4; /* UDP header + data */
	uint32_t fsz = mss & ~7u;
	if (fsz == 0)
		return -EINVAL;
	uint32_t fh = v6 ? 8 : 0; /* IPv6 fragment header */
	nseg = (dglen + fsz - 1) / fsz;
	if (nseg == 1)
		fh = 0; /* fits: no fragmentation, one datagram */
	if (nseg > max_segs || nseg > VNM_GSO_MAX_SEGS)
		return -E2BIG;
	if ((uint64_t)nseg * (l4 + fh) + dglen > room)
		return -E2BIG;
	if (l4 + fh + (dglen < fsz ? dglen : fsz) > UINT16_MAX)
		return -E2BIG;
	/* the checksum: over the datagram, from the frame (one pass, no extra copy) */
	uint8_t udph[8];
	memcpy(udph, hb + l4, 8);
	wr16(udph + 6, 0);
	uint64_t sum = pseudo_sum(hb + l3, v6, GSO_PROTO_UDP, dglen);
	sum = csum_add(sum, udph, 8);
	{
		/* the data, from the fragments: big-endian words across fragment boundaries */
		struct fcur d = { f, 0, 0 };
		uint8_t buf[256];
		uint32_t left = dglen - 8;
		frag_skip(&d, l4 + 8);
		while (left) {
			uint32_t n = left > sizeof(buf) ? sizeof(buf) : left;
			frag_copy(&d, buf, n);
			sum = csum_add(sum, buf, n); /* n even except for the last chunk */
			left -= n;
		}
	}
	uint16_t ucs = (uint16_t)~csum_fold(sum);
	if (ucs == 0)
		ucs = 0xffff; /* 0 means "no checksum" in UDP */
	wr16(udph + 6, ucs);

	uint32_t fid = v6 ? ip6_frag_id() : 0;
	frag_skip(&c, l4 + 8);
	for (unsigned i = 0; i < nseg; i++) {
		uint32_t off = i * fsz; /* in the datagram */
		uint32_t dl = dglen - off < fsz ? dglen - off : fsz;
		uint8_t *s = out;
		uint8_t *p = s + l4 + fh; /* this fragment's part of the datagram */
		memcpy(s, hb, l4);
		if (i == 0) {
			memcpy(p, udph, 8);
			frag_copy(&c, p + 8, dl - 8);
		} else {
			frag_copy(&c, p, dl);
		}
		uint8_t *ip = s + l3;
		int more = i + 1 < nseg;
		if (v6) {
			wr16(ip + 4, (uint16_t)(fh + dl));
			if (fh) {
				uint8_t *fr = s + l4;
				ip[6] = GSO_PROTO_FRAG;
				fr[0] = GSO_PROTO_UDP;
				fr[1] = 0;
				wr16(fr + 2, (uint16_t)(off | (more ? 1 : 0)));
				wr32(fr + 4, fid);
			}
		} else {
			wr16(ip + 2, (uint16_t)(iphl + dl));
			/* DF cleared: we are the fragmenter; the id stays the same */
			wr16(ip + 6, (uint16_t)((off >> 3) | (more ? 0x2000 : 0)));
			wr16(ip + 10, 0);
			wr16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, iphl)));
		}
		seg_set(&segs[i], s, l4 + fh + dl);
		out += l4 + fh + dl;
	}
	return (int)nseg;
}
