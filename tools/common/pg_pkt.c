// SPDX-License-Identifier: BSD-2-Clause
/*
 * pg_pkt.c - pkt-gen helpers (see pg_pkt.h): frame template, address parsing,
 * unit scaling. Parses only command-line arguments, never peer input.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg_pkt.h"

/* "a.b.c.d[:port]" into host-order address and port (port left alone if absent). */
static int pg_parse_ipport(const char *s, size_t n, uint32_t *ip, uint16_t *port)
{
	char buf[64];
	char *colon, *end;
	struct in_addr a;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	colon = strchr(buf, ':');
	if (colon) {
		unsigned long p;

		*colon++ = '\0';
		errno = 0;
		p = strtoul(colon, &end, 0);
		if (errno || *colon == '\0' || *end != '\0' || p > 65535)
			return -EINVAL;
		*port = (uint16_t)p;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

int pg_parse_iprange(const char *s, struct pg_iprange *r)
{
	const char *dash = strchr(s, '-');
	size_t n0 = dash ? (size_t)(dash - s) : strlen(s);
	int ret;

	r->port0 = 1234;
	ret = pg_parse_ipport(s, n0, &r->start, &r->port0);
	if (ret < 0)
		return ret;
	r->end = r->start;
	r->port1 = r->port0;
	if (dash) {
		ret = pg_parse_ipport(dash + 1, strlen(dash + 1), &r->end, &r->port1);
		if (ret < 0)
			return ret;
	}
	if (r->start > r->end) {
		uint32_t t = r->start;
		r->start = r->end;
		r->end = t;
	}
	if (r->port0 > r->port1) {
		uint16_t t = r->port0;
		r->port0 = r->port1;
		r->port1 = t;
	}
	return 0;
}

int pg_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int n = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &n) != 6 ||
	    s[n] != '\0')
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* One's-complement sum of len bytes (network order words) added to sum, not folded. */
static uint32_t pg_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += ((uint32_t)p[i] << 8) | p[i + 1];
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t pg_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void pg_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void pg_put_be32(uint8_t *p, uint32_t v)
{
	pg_put_be16(p, (uint16_t)(v >> 16));
	pg_put_be16(p + 2, (uint16_t)v);
}

void pg_frame_build(uint8_t *out, unsigned len, const uint8_t dst_mac[6], const uint8_t src_mac[6],
		    const struct pg_iprange *src, const struct pg_iprange *dst)
{
	static const char payload[] = "vnetmap pkt-gen payload ";
	unsigned full = len < PG_HDR_LEN ? PG_HDR_LEN : len;
	uint8_t *f = calloc(1, full);
	uint16_t sum;

	if (!f) { /* tiny allocation; callers already hold a larger one */
		memset(out, 0, len);
		return;
	}
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	pg_put_be16(f + PG_OFF_ETYPE, 0x0800);
	f[PG_OFF_IP] = 0x45;                              /* IPv4, 20-byte header */
	f[PG_OFF_IP + 1] = 0x10;                          /* TOS: low delay */
	pg_put_be16(f + PG_OFF_IPLEN, (uint16_t)(full - PG_OFF_IP));
	pg_put_be16(f + PG_OFF_IP + 6, 0x4000);           /* don't fragment */
	f[PG_OFF_IP + 8] = 64;                            /* TTL */
	f[PG_OFF_IP + 9] = 17;                            /* UDP */
	pg_put_be32(f + PG_OFF_SRCIP, src->start);
	pg_put_be32(f + PG_OFF_DSTIP, dst->start);
	sum = pg_fold(pg_sum(f + PG_OFF_IP, 20, 0));
	pg_put_be16(f + PG_OFF_IPSUM, sum);

	pg_put_be16(f + PG_OFF_SPORT, src->port0);
	pg_put_be16(f + PG_OFF_DPORT, dst->port0);
	pg_put_be16(f + PG_OFF_UDPLEN, (uint16_t)(full - PG_OFF_SPORT));
	for (unsigned i = PG_HDR_LEN; i < full; i++)
		f[i] = (uint8_t)payload[(i - PG_HDR_LEN) % (sizeof(payload) - 1)];
	/* pseudo header: addresses, protocol, UDP length; then UDP header and payload */
	sum = pg_fold(pg_sum(f + PG_OFF_SRCIP, 8, 17 + (full - PG_OFF_SPORT)) +
		      pg_sum(f + PG_OFF_SPORT, full - PG_OFF_SPORT, 0));
	pg_put_be16(f + PG_OFF_UDPSUM, sum ? sum : 0xffff);
	memcpy(out, f, len);
	free(f);
}

const char *pg_norm(char *buf, size_t len, double val)
{
	static const char *const units[] = { "", "K", "M", "G", "T" };
	unsigned i = 0;

	while (val >= 1000 && i < sizeof(units) / sizeof(units[0]) - 1) {
		val /= 1000;
		i++;
	}
	snprintf(buf, len, "%.3f %s", val, units[i]);
	return buf;
}
