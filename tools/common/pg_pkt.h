/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pg_pkt.h - pkt-gen helpers: the UDP/IPv4 frame template, checksum fix-ups,
 * address ranges, and netmap's unit scaling for the report lines.
 *
 * Frame layout (offsets after the optional virtio-net header):
 *     0 dst MAC, 6 src MAC, 12 ethertype 0x0800,
 *    14 IPv4 header (16 total length, 24 checksum, 26 src, 30 dst),
 *    34 UDP header (34 sport, 36 dport, 38 length, 40 checksum),
 *    42 payload: txseq/rxseq and ping put a 32-bit big-endian sequence number here,
 *    46 ping only: timestamp, 32-bit seconds then 32-bit nanoseconds (host order).
 */
#ifndef PG_PKT_H
#define PG_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PG_OFF_ETYPE 12
#define PG_OFF_IP 14
#define PG_OFF_IPLEN 16
#define PG_OFF_IPSUM 24
#define PG_OFF_SRCIP 26
#define PG_OFF_DSTIP 30
#define PG_OFF_SPORT 34
#define PG_OFF_DPORT 36
#define PG_OFF_UDPLEN 38
#define PG_OFF_UDPSUM 40
#define PG_OFF_SEQ 42
#define PG_OFF_TS 46
#define PG_HDR_LEN 42     /* Ethernet + IPv4 + UDP */
#define PG_SEQ_END 46     /* frame bytes needed to carry a sequence number */
#define PG_PING_END 54    /* ... and a ping timestamp */

/* An address range lo[:port][-hi[:port]], host byte order. */
struct pg_iprange {
	uint32_t start, end;
	uint16_t port0, port1;
};

/* Parse "a.b.c.d[:port][-a.b.c.d[:port]]" (port defaults to 1234). 0 or -EINVAL. */
int pg_parse_iprange(const char *s, struct pg_iprange *r);

/* Parse "aa:bb:cc:dd:ee:ff". 0 or -EINVAL. */
int pg_parse_mac(const char *s, uint8_t mac[6]);

/*
 * Build the template frame (len bytes, len >= 16; bytes past len are not written).
 * Addresses and ports are the range starts. Checksums are complete.
 */
void pg_frame_build(uint8_t *f, unsigned len, const uint8_t dst_mac[6], const uint8_t src_mac[6],
		    const struct pg_iprange *src, const struct pg_iprange *dst);

/* One's-complement adjustment of checksum hc when a 16-bit word goes from o to n (RFC 1624). */
static inline uint16_t pg_csum_fix(uint16_t hc, uint16_t o, uint16_t n)
{
	uint32_t s = (uint16_t)~hc + (uint32_t)(uint16_t)~o + n;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * Store the 16-bit word v (already in network order) at even offset off of a frame
 * of len bytes built by pg_frame_build, fixing the IPv4 and UDP checksums it is under.
 */
static inline void pg_frame_put16(uint8_t *f, unsigned len, unsigned off, uint16_t v)
{
	uint16_t o, sum;

	memcpy(&o, f + off, 2);
	if (o == v)
		return;
	memcpy(f + off, &v, 2);
	if (off >= PG_OFF_IP && off < PG_OFF_SPORT && off != PG_OFF_IPSUM) {
		memcpy(&sum, f + PG_OFF_IPSUM, 2);
		sum = pg_csum_fix(sum, o, v);
		memcpy(f + PG_OFF_IPSUM, &sum, 2);
	}
	/* The UDP checksum covers the pseudo-header addresses, the UDP header and payload. */
	if (len >= PG_HDR_LEN && off >= PG_OFF_SRCIP && off != PG_OFF_UDPSUM) {
		memcpy(&sum, f + PG_OFF_UDPSUM, 2);
		sum = pg_csum_fix(sum, o, v);
		if (sum == 0)
			sum = 0xffff; /* 0 means "no checksum" in UDP */
		memcpy(f + PG_OFF_UDPSUM, &sum, 2);
	}
}

/* Store a 32-bit value (host order) big-endian at even offset off, fixing checksums. */
static inline void pg_frame_put32(uint8_t *f, unsigned len, unsigned off, uint32_t v)
{
	pg_frame_put16(f, len, off, __builtin_bswap16((uint16_t)(v >> 16)));
	pg_frame_put16(f, len, off + 2, __builtin_bswap16((uint16_t)v));
}

/* Read a big-endian 32-bit value at any offset. */
static inline uint32_t pg_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/*
 * netmap's unit scaling: "%.3f " then "", "K", "M", "G" or "T" (the caller appends
 * "pps", "pkts" or "bps"): 123.000 pps, 14.880 Mpps. Returns buf.
 */
const char *pg_norm(char *buf, size_t len, double val);

/* xorshift64* generator; state must not be 0. */
static inline uint64_t pg_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif /* PG_PKT_H */
