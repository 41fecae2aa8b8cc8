// SPDX-License-Identifier: BSD-2-Clause
/*
 * portname.c - netmap's port-name grammar (see vnetmap/portname.h).
 *
 * Security model: the spec is untrusted (vnetmapd parses what any local client
 * sends). The parser reads at most VNM_PORTSPEC_MAX bytes of it, never writes
 * past the fixed-size fields of struct vnm_portname (every copy is length-checked
 * first), rejects every character outside the grammar, and checks every number
 * for overflow and against the limits before storing it. *out is fully written
 * (zeroed first) whatever the outcome.
 *
 * Interpretation choices (the grammar leaves them open):
 *  - a pipe suffix sets nr_mode NR_REG_PIPE_MASTER/SLAVE; a following "-N" then
 *    only sets ring_id (nr_mode stays the pipe's); "^" and "*" are rejected on pipes;
 *  - "^" alone is NR_REG_SW, "^N" NR_REG_ONE_SW with ring_id N, "*" NR_REG_NIC_SW;
 *  - @conf: "rings" sets tx and rx; an explicit tx-rings/rx-rings wins whatever
 *    the order (same for slots); a key given twice is an error; lossless is 0 or 1;
 *  - /R and /T together bind no ring at all and are rejected;
 *  - "@N" (memory region id) must be 1..65535 and may appear once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vnetmap/ctl.h"
#include "vnetmap/netmap.h"
#include "vnetmap/portname.h"

struct parser {
	const char *spec;
	const char *p;
	char *err;
	unsigned errlen;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *ps, const char *fmt, ...)
{
	if (ps->err && ps->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Printable rendering of a character for messages. */
static const char *show_char(char c, char buf[8])
{
	if (c == '\0')
		return "end of name";
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", (unsigned char)c);
	return buf;
}

/*
 * Parse a decimal number at ps->p into *val (<= max). what names the part for
 * messages. Advances ps->p.
 */
static int parse_num(struct parser *ps, const char *what, uint32_t max, uint32_t *val)
{
	const char *start = ps->p;
	uint64_t v = 0;
	char cb[8];

	if (!is_digit(*ps->p))
		return fail(ps, "%s: expected a number at offset %u, found %s", what,
			    (unsigned)(ps->p - ps->spec), show_char(*ps->p, cb));
	while (is_digit(*ps->p)) {
		v = v * 10 + (uint64_t)(*ps->p - '0');
		if (v > max)
			break;
		ps->p++;
	}
	if (v > max) {
		while (is_digit(*ps->p))
			ps->p++;
		return fail(ps, "%s: number '%.*s' is over %u", what, (int)(ps->p - start), start,
			    max);
	}
	*val = (uint32_t)v;
	return 0;
}

/* Length of an identifier at s. */
static size_t ident_len(const char *s)
{
	size_t n = 0;
	while (is_ident(s[n]))
		n++;
	return n;
}

struct conf_key {
	const char *name;
	uint32_t min, max;
};

enum {
	K_RINGS, K_TX_RINGS, K_RX_RINGS, K_SLOTS, K_TX_SLOTS, K_RX_SLOTS, K_HOST_RINGS, K_LOSSLESS,
	K_NUM
};

static const struct conf_key conf_keys[K_NUM] = {
	[K_RINGS] = { "rings", 1, VNM_MAX_RINGS },
	[K_TX_RINGS] = { "tx-rings", 1, VNM_MAX_RINGS },
	[K_RX_RINGS] = { "rx-rings", 1, VNM_MAX_RINGS },
	[K_SLOTS] = { "slots", VNM_MIN_SLOTS, VNM_MAX_SLOTS },
	[K_TX_SLOTS] = { "tx-slots", VNM_MIN_SLOTS, VNM_MAX_SLOTS },
	[K_RX_SLOTS] = { "rx-slots", VNM_MIN_SLOTS, VNM_MAX_SLOTS },
	[K_HOST_RINGS] = { "host-rings", 1, VNM_MAX_RINGS },
	[K_LOSSLESS] = { "lossless", 0, 1 },
};

/* "@conf:" already consumed. Fills vals[]/seen[]. */
static int parse_conf(struct parser *ps, uint32_t vals[K_NUM], int seen[K_NUM])
{
	for (;;) {
		const char *key = ps->p;
		size_t klen = 0;
		int k;
		char cb[8];

		while ((key[klen] >= 'a' && key[klen] <= 'z') || key[klen] == '-')
			klen++;
		if (klen == 0)
			return fail(ps, "@conf: expected a key at offset %u, found %s",
				    (unsigned)(key - ps->spec), show_char(*key, cb));
		for (k = 0; k < K_NUM; k++)
			if (strlen(conf_keys[k].name) == klen && !memcmp(conf_keys[k].name, key, klen))
				break;
		if (k == K_NUM)
			return fail(ps, "@conf: unknown key '%.*s'", (int)klen, key);
		if (seen[k])
			return fail(ps, "@conf: duplicate key '%s'", conf_keys[k].name);
		ps->p += klen;
		if (*ps->p != '=')
			return fail(ps, "@conf: expected '=' after '%s', found %s", conf_keys[k].name,
				    show_char(*ps->p, cb));
		ps->p++;
		const char *vstart = ps->p;
		uint32_t v;
		int ret = parse_num(ps, conf_keys[k].name, conf_keys[k].max, &v);
		if (ret < 0)
			return ret;
		if (v < conf_keys[k].min)
			return fail(ps, "@conf: %s=%.*s is under the minimum %u", conf_keys[k].name,
				    (int)(ps->p - vstart), vstart, conf_keys[k].min);
		vals[k] = v;
		seen[k] = 1;
		if (*ps->p != ',')
			return 0;
		ps->p++;
	}
}

int vnm_portname_parse(const char *spec, struct vnm_portname *out, char *errbuf, unsigned errlen)
{
	struct parser ps = { .spec = spec, .p = spec, .err = errbuf, .errlen = errlen };
	uint32_t vals[K_NUM] = { 0 };
	int seen[K_NUM] = { 0 };
	int have_mem = 0, have_conf = 0, ret;
	size_t len, plen, vlen;
	char cb[8];

	if (errbuf && errlen)
		errbuf[0] = '\0';
	memset(out, 0, sizeof(*out));
	out->ring_id = -1;
	if (!spec)
		return fail(&ps, "no port name");
	len = strnlen(spec, VNM_PORTSPEC_MAX);
	if (len == 0)
		return fail(&ps, "empty port name");
	if (len >= VNM_PORTSPEC_MAX)
		return fail(&ps, "port name too long (%u bytes or more, limit %u)", VNM_PORTSPEC_MAX,
			    VNM_PORTSPEC_MAX - 1);

	/* prefix */
	plen = ident_len(spec);
	if (spec[plen] != ':') {
		if (plen == len)
			return fail(&ps, "'%.*s': missing ':' (expected netmap:NAME or valeX:NAME)",
				    (int)(plen > 64 ? 64 : plen), spec);
		return fail(&ps, "bad character %s at offset %u in prefix", show_char(spec[plen], cb),
			    (unsigned)plen);
	}
	if (plen == 6 && !memcmp(spec, "netmap", 6)) {
		out->is_vale = 0;
	} else if (plen >= 4 && !memcmp(spec, "vale", 4)) {
		out->is_vale = 1;
	} else {
		return fail(&ps, "unknown prefix '%.*s' (expected 'netmap' or 'vale[X]')",
			    (int)(plen > 64 ? 64 : plen), spec);
	}
	ps.p = spec + plen + 1;

	/* vpname */
	vlen = ident_len(ps.p);
	if (vlen == 0)
		return fail(&ps, "'%.*s': missing port name after ':' (found %s)", (int)plen + 1,
			    spec, show_char(*ps.p, cb));
	if (plen + 1 + vlen >= sizeof(out->base))
		return fail(&ps, "'%.*s...': prefix:name is %zu bytes, limit %zu", 20, spec,
			    plen + 1 + vlen, sizeof(out->base) - 1);
	memcpy(out->base, spec, plen + 1 + vlen);
	out->base[plen + 1 + vlen] = '\0';
	if (out->is_vale) {
		memcpy(out->sw, spec, plen);
		out->sw[plen] = '\0';
	}
	memcpy(out->port, ps.p, vlen);
	out->port[vlen] = '\0';
	ps.p += vlen;
	out->nr_mode = NR_REG_ALL_NIC;

	/* pipe */
	if (*ps.p == '{' || *ps.p == '}') {
		char c = *ps.p++;
		out->pipe_role = c == '{' ? 1 : 2;
		out->nr_mode = c == '{' ? NR_REG_PIPE_MASTER : NR_REG_PIPE_SLAVE;
		ret = parse_num(&ps, c == '{' ? "pipe '{'" : "pipe '}'", UINT32_MAX, &out->pipe_id);
		if (ret < 0)
			return ret;
	}

	/* mode */
	if (*ps.p == '-') {
		uint32_t r;
		ps.p++;
		ret = parse_num(&ps, "ring '-'", VNM_MAX_RINGS - 1, &r);
		if (ret < 0)
			return ret;
		out->ring_id = (int32_t)r;
		if (!out->pipe_role)
			out->nr_mode = NR_REG_ONE_NIC;
	} else if (*ps.p == '^' || *ps.p == '*') {
		char c = *ps.p;
		if (out->pipe_role)
			return fail(&ps, "'%c' (host rings) is not valid on a pipe end", c);
		ps.p++;
		if (c == '*') {
			out->nr_mode = NR_REG_NIC_SW;
		} else if (is_digit(*ps.p)) {
			uint32_t r;
			ret = parse_num(&ps, "host ring '^'", VNM_MAX_RINGS - 1, &r);
			if (ret < 0)
				return ret;
			out->ring_id = (int32_t)r;
			out->nr_mode = NR_REG_ONE_SW;
		} else {
			out->nr_mode = NR_REG_SW;
		}
	}

	/* flags */
	if (*ps.p == '/') {
		const char *start = ps.p++;
		if (!is_ident(*ps.p))
			return fail(&ps, "empty flag list after '/' at offset %u",
				    (unsigned)(start - spec));
		while (is_ident(*ps.p)) {
			uint32_t f;
			switch (*ps.p) {
			case 'x': f = NR_EXCLUSIVE; break;
			case 'z': f = NR_ZCOPY_MON; break;
			case 'r': f = NR_MONITOR_RX; break;
			case 't': f = NR_MONITOR_TX; break;
			case 'R': f = NR_RX_RINGS_ONLY; break;
			case 'T': f = NR_TX_RINGS_ONLY; break;
			default:
				return fail(&ps, "unknown flag '%c' in '/%.*s' (valid: x z r t R T)",
					    *ps.p, (int)ident_len(start + 1), start + 1);
			}
			if (out->nr_flags & f)
				return fail(&ps, "duplicate flag '%c' in '/%.*s'", *ps.p,
					    (int)ident_len(start + 1), start + 1);
			out->nr_flags |= f;
			ps.p++;
		}
		if ((out->nr_flags & (NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY)) ==
		    (NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY))
			return fail(&ps, "flags 'R' and 'T' together bind no ring");
	}

	/* options */
	while (*ps.p == '@') {
		const char *opt = ++ps.p;
		if (is_digit(*ps.p)) {
			uint32_t id;
			if (have_mem)
				return fail(&ps, "duplicate option '@%.*s' (memory id already given)",
					    (int)ident_len(opt), opt);
			ret = parse_num(&ps, "memory id '@'", 65535, &id);
			if (ret < 0)
				return ret;
			if (id == 0)
				return fail(&ps, "memory id '@0' is invalid (ids start at 1)");
			out->mem_id = id;
			have_mem = 1;
		} else if (!strncmp(ps.p, "conf:", 5)) {
			if (have_conf)
				return fail(&ps, "duplicate option '@conf' (put all keys in one)");
			have_conf = 1;
			ps.p += 5;
			ret = parse_conf(&ps, vals, seen);
			if (ret < 0)
				return ret;
		} else {
			size_t n = 0;
			while (opt[n] && opt[n] != '@' && opt[n] != ':' && n < 32)
				n++;
			if (n == 0)
				return fail(&ps, "empty option after '@' at offset %u",
					    (unsigned)(opt - 1 - spec));
			return fail(&ps, "unknown option '@%.*s' (supported: @conf:..., @N)", (int)n,
				    opt);
		}
	}

	if (*ps.p != '\0')
		return fail(&ps, "unexpected %s at offset %u: '%.*s'", show_char(*ps.p, cb),
			    (unsigned)(ps.p - spec), 32, ps.p);

	out->tx_rings = seen[K_TX_RINGS] ? vals[K_TX_RINGS] : vals[K_RINGS];
	out->rx_rings = seen[K_RX_RINGS] ? vals[K_RX_RINGS] : vals[K_RINGS];
	out->tx_slots = seen[K_TX_SLOTS] ? vals[K_TX_SLOTS] : vals[K_SLOTS];
	out->rx_slots = seen[K_RX_SLOTS] ? vals[K_RX_SLOTS] : vals[K_SLOTS];
	out->host_rings = vals[K_HOST_RINGS];
	if (vals[K_LOSSLESS])
		out->nr_flags |= NR_VNM_LOSSLESS;
	return 0;
}
