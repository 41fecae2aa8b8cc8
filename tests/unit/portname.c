// SPDX-License-Identifier: BSD-2-Clause
/*
 * portname.c - vnm_portname_parse() against a table of valid and invalid names.
 * Exit 0 pass, 1 fail. Prints one line per failing case to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vnetmap/ctl.h"
#include "vnetmap/netmap.h"
#include "vnetmap/portname.h"

/* table rows leave trailing fields (0) out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct good {
	const char *spec;
	int is_vale;
	const char *sw, *port, *base;
	int pipe_role;
	uint32_t pipe_id, nr_mode;
	int32_t ring_id;
	uint32_t nr_flags;
	uint32_t tx_rings, rx_rings, tx_slots, rx_slots, host_rings, mem_id;
};

static const struct good good[] = {
	{ "vale0:a", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0 },
	{ "vale:x", 1, "vale", "x", "vale:x", 0, 0, NR_REG_ALL_NIC, -1, 0 },
	{ "vale_sw_1:Port_9", 1, "vale_sw_1", "Port_9", "vale_sw_1:Port_9", 0, 0, NR_REG_ALL_NIC, -1, 0 },
	{ "netmap:eth0", 0, "", "eth0", "netmap:eth0", 0, 0, NR_REG_ALL_NIC, -1, 0 },
	{ "netmap:pipe0{1", 0, "", "pipe0", "netmap:pipe0", 1, 1, NR_REG_PIPE_MASTER, -1, 0 },
	{ "netmap:pipe0}1", 0, "", "pipe0", "netmap:pipe0", 2, 1, NR_REG_PIPE_SLAVE, -1, 0 },
	{ "netmap:p{0", 0, "", "p", "netmap:p", 1, 0, NR_REG_PIPE_MASTER, -1, 0 },
	{ "vale0:x{3", 1, "vale0", "x", "vale0:x", 1, 3, NR_REG_PIPE_MASTER, -1, 0 },
	{ "netmap:p}4294967295", 0, "", "p", "netmap:p", 2, 4294967295u, NR_REG_PIPE_SLAVE, -1, 0 },
	{ "netmap:p{2-1", 0, "", "p", "netmap:p", 1, 2, NR_REG_PIPE_MASTER, 1, 0 },
	{ "vale0:a-0", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ONE_NIC, 0, 0 },
	{ "vale0:a-15", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ONE_NIC, 15, 0 },
	{ "netmap:eth0^", 0, "", "eth0", "netmap:eth0", 0, 0, NR_REG_SW, -1, 0 },
	{ "netmap:eth0^1", 0, "", "eth0", "netmap:eth0", 0, 0, NR_REG_ONE_SW, 1, 0 },
	{ "netmap:eth0*", 0, "", "eth0", "netmap:eth0", 0, 0, NR_REG_NIC_SW, -1, 0 },
	{ "vale0:a/x", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, NR_EXCLUSIVE },
	{ "vale0:a/R", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, NR_RX_RINGS_ONLY },
	{ "vale0:a/T", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, NR_TX_RINGS_ONLY },
	{ "vale0:a/rt", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1,
	  NR_MONITOR_RX | NR_MONITOR_TX },
	{ "vale0:a/zx", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, NR_ZCOPY_MON | NR_EXCLUSIVE },
	{ "vale0:a-1/xT", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ONE_NIC, 1,
	  NR_EXCLUSIVE | NR_TX_RINGS_ONLY },
	{ "vale0:a@conf:rings=2", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0, 2, 2 },
	{ "vale0:a@conf:rings=2,slots=2048", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0,
	  2, 2, 2048, 2048 },
	{ "vale0:a@conf:tx-rings=3,rx-rings=4,tx-slots=64,rx-slots=16384", 1, "vale0", "a", "vale0:a",
	  0, 0, NR_REG_ALL_NIC, -1, 0, 3, 4, 64, 16384 },
	{ "vale0:a@conf:tx-rings=3,rings=2", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0,
	  3, 2 },
	{ "vale0:a@conf:host-rings=1", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0, 0, 0, 0,
	  0, 1 },
	{ "vale0:a@conf:lossless=1", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1,
	  NR_VNM_LOSSLESS },
	{ "vale0:a@conf:lossless=0", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0 },
	{ "vale0:a@conf:rings=16,slots=1024,lossless=1", 1, "vale0", "a", "vale0:a", 0, 0,
	  NR_REG_ALL_NIC, -1, NR_VNM_LOSSLESS, 16, 16, 1024, 1024 },
	{ "vale0:a@1", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0, 0, 0, 0, 0, 0, 1 },
	{ "vale0:a@conf:rings=1@7", 1, "vale0", "a", "vale0:a", 0, 0, NR_REG_ALL_NIC, -1, 0, 1, 1, 0, 0,
	  0, 7 },
	{ "netmap:p{1-0/x@conf:slots=256", 0, "", "p", "netmap:p", 1, 1, NR_REG_PIPE_MASTER, 0,
	  NR_EXCLUSIVE, 0, 0, 256, 256 },
	{ "vale0:0123", 1, "vale0", "0123", "vale0:0123", 0, 0, NR_REG_ALL_NIC, -1, 0 },
	/* prefix:name of 63 bytes: the longest accepted */
	{ "vale0:abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefg", 1, "vale0",
	  "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefg",
	  "vale0:abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefg", 0, 0, NR_REG_ALL_NIC, -1,
	  0 },
};

struct bad {
	const char *spec;
	const char *msg; /* substring expected in the error text */
};

static const struct bad bad[] = {
	{ "", "empty" },
	{ "vale0", "missing ':'" },
	{ "vale0:", "missing port name" },
	{ "netmap:", "missing port name" },
	{ ":a", "unknown prefix" },
	{ "eth0:a", "unknown prefix 'eth0'" },
	{ "netmapx:a", "unknown prefix 'netmapx'" },
	{ "vale-0:a", "'-'" },
	{ "vale0:a b", "' '" },
	{ "vale0:a.b", "'.'" },
	{ "vale0:a\xff", "0xff" },
	{ "x{", "bad character '{'" },
	{ "netmap:x{", "pipe '{'" },
	{ "netmap:x}", "pipe '}'" },
	{ "netmap:x{a", "pipe '{'" },
	{ "netmap:x{4294967296", "over" },
	{ "netmap:x{1^", "not valid on a pipe" },
	{ "netmap:x{1*", "not valid on a pipe" },
	{ "vale0:a-", "ring '-'" },
	{ "vale0:a-16", "over 15" },
	{ "vale0:a-1-2", "'-'" },
	{ "vale0:a^16", "over 15" },
	{ "vale0:a/", "empty flag" },
	{ "vale0:a/zz", "duplicate flag 'z'" },
	{ "vale0:a/q", "unknown flag 'q'" },
	{ "vale0:a/xq", "unknown flag 'q'" },
	{ "vale0:a/RT", "'R' and 'T'" },
	{ "vale0:a/x-1", "'-'" },
	{ "vale0:a@", "empty option" },
	{ "vale0:a@share=b", "unknown option '@share=b'" },
	{ "vale0:a@extmem:file=/x", "unknown option '@extmem'" },
	{ "vale0:a@conf:", "expected a key" },
	{ "vale0:a@conf:bogus=1", "unknown key 'bogus'" },
	{ "vale0:a@conf:rings", "expected '='" },
	{ "vale0:a@conf:rings=", "expected a number" },
	{ "vale0:a@conf:rings=0", "rings=0 is under" },
	{ "vale0:a@conf:rings=17", "over 16" },
	{ "vale0:a@conf:tx-rings=0", "tx-rings=0" },
	{ "vale0:a@conf:slots=63", "slots=63 is under" },
	{ "vale0:a@conf:slots=16385", "over 16384" },
	{ "vale0:a@conf:rx-slots=99999999999999999999", "over 16384" },
	{ "vale0:a@conf:host-rings=0", "host-rings=0" },
	{ "vale0:a@conf:lossless=2", "over 1" },
	{ "vale0:a@conf:rings=2,rings=3", "duplicate key 'rings'" },
	{ "vale0:a@conf:rings=2@conf:slots=64", "duplicate option '@conf'" },
	{ "vale0:a@conf:rings=2,", "expected a key" },
	{ "vale0:a@conf:rings=2x", "'x'" },
	{ "vale0:a@0", "@0" },
	{ "vale0:a@1@2", "duplicate option" },
	{ "vale0:a@65536", "over 65535" },
	{ "vale0:a#", "'#'" },
	{ "vale0:a{1}2", "'}'" },
	/* prefix:name of 64 bytes */
	{ "vale0:abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefgh", "limit 63" },
};

static int check_u(const char *spec, const char *field, uint64_t got, uint64_t want)
{
	if (got == want)
		return 0;
	fprintf(stderr, "FAIL %s: %s = %llu, want %llu\n", spec, field, (unsigned long long)got,
		(unsigned long long)want);
	return 1;
}

static int check_s(const char *spec, const char *field, const char *got, const char *want)
{
	if (!strcmp(got, want))
		return 0;
	fprintf(stderr, "FAIL %s: %s = '%s', want '%s'\n", spec, field, got, want);
	return 1;
}

static int test_good(void)
{
	int fails = 0;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good *g = &good[i];
		struct vnm_portname pn;
		char err[256];
		int ret = vnm_portname_parse(g->spec, &pn, err, sizeof(err));
		int f = 0;

		if (ret != 0) {
			fprintf(stderr, "FAIL %s: rejected: %s\n", g->spec, err);
			fails++;
			continue;
		}
		f |= check_u(g->spec, "is_vale", pn.is_vale, g->is_vale);
		f |= check_s(g->spec, "sw", pn.sw, g->sw);
		f |= check_s(g->spec, "port", pn.port, g->port);
		f |= check_s(g->spec, "base", pn.base, g->base);
		f |= check_u(g->spec, "pipe_role", pn.pipe_role, g->pipe_role);
		f |= check_u(g->spec, "pipe_id", pn.pipe_id, g->pipe_id);
		f |= check_u(g->spec, "nr_mode", pn.nr_mode, g->nr_mode);
		f |= check_u(g->spec, "ring_id", (uint64_t)(int64_t)pn.ring_id, (uint64_t)(int64_t)g->ring_id);
		f |= check_u(g->spec, "nr_flags", pn.nr_flags, g->nr_flags);
		f |= check_u(g->spec, "tx_rings", pn.tx_rings, g->tx_rings);
		f |= check_u(g->spec, "rx_rings", pn.rx_rings, g->rx_rings);
		f |= check_u(g->spec, "tx_slots", pn.tx_slots, g->tx_slots);
		f |= check_u(g->spec, "rx_slots", pn.rx_slots, g->rx_slots);
		f |= check_u(g->spec, "host_rings", pn.host_rings, g->host_rings);
		f |= check_u(g->spec, "mem_id", pn.mem_id, g->mem_id);
		fails += f;
	}
	return fails;
}

static int test_bad(void)
{
	int fails = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vnm_portname pn;
		char err[256];
		int ret = vnm_portname_parse(bad[i].spec, &pn, err, sizeof(err));

		if (ret != -EINVAL) {
			fprintf(stderr, "FAIL '%s': returned %d, want -EINVAL\n", bad[i].spec, ret);
			fails++;
		} else if (!strstr(err, bad[i].msg)) {
			fprintf(stderr, "FAIL '%s': message '%s' lacks '%s'\n", bad[i].spec, err,
				bad[i].msg);
			fails++;
		}
	}
	return fails;
}

/* Whole spec of 255 bytes passes the length check; 256 does not; NULL and a tiny errbuf are safe. */
static int test_lengths(void)
{
	char spec[VNM_PORTSPEC_MAX + 8], err[256], small[8];
	struct vnm_portname pn;
	int fails = 0;
	size_t n;

	/* "vale0:a@conf:rings=1" followed by "@1"... would be duplicate; pad with conf keys instead */
	strcpy(spec, "vale0:a@conf:rings=0001");
	n = strlen(spec);
	/* lengthen the number with leading zeros: still a valid value */
	memmove(spec + 19 + (VNM_PORTSPEC_MAX - 1 - n), spec + 19, n - 19 + 1);
	memset(spec + 19, '0', VNM_PORTSPEC_MAX - 1 - n);
	if (strlen(spec) != VNM_PORTSPEC_MAX - 1 || vnm_portname_parse(spec, &pn, err, sizeof(err)) ||
	    pn.tx_rings != 1) {
		fprintf(stderr, "FAIL 255-byte spec: %s\n", err);
		fails++;
	}
	memmove(spec + 20, spec + 19, strlen(spec + 19) + 1);
	spec[19] = '0';
	if (vnm_portname_parse(spec, &pn, err, sizeof(err)) != -EINVAL || !strstr(err, "too long")) {
		fprintf(stderr, "FAIL 256-byte spec accepted or wrong message: %s\n", err);
		fails++;
	}
	if (vnm_portname_parse(NULL, &pn, err, sizeof(err)) != -EINVAL) {
		fprintf(stderr, "FAIL NULL spec\n");
		fails++;
	}
	memset(small, 'X', sizeof(small));
	if (vnm_portname_parse("vale0:a/q", &pn, small, sizeof(small)) != -EINVAL ||
	    strlen(small) != sizeof(small) - 1) {
		fprintf(stderr, "FAIL small errbuf not NUL-terminated\n");
		fails++;
	}
	if (vnm_portname_parse("vale0:a/q", &pn, NULL, 0) != -EINVAL) {
		fprintf(stderr, "FAIL NULL errbuf\n");
		fails++;
	}
	return fails;
}

/*
 * Random names built from grammar fragments and stray bytes: never a crash (run it
 * under ASan), and whatever is accepted satisfies the invariants the daemon relies on.
 */
static int test_random(void)
{
	static const char *frag[] = {
		"netmap", "vale", "vale0", ":", "a", "pipe0", "_", "{", "}", "1", "0", "65535",
		"4294967296", "-", "^", "*", "/", "x", "z", "R", "T", "rt", "@", "conf:", "rings=",
		"slots=", "tx-rings=", "lossless=", ",", "=", "2048", "16", "17", "\xff", " ", ".",
	};
	char spec[300], err[128];
	struct vnm_portname pn;
	unsigned seed = 12345, fails = 0, accepted = 0;

	for (int iter = 0; iter < 200000 && fails < 5; iter++) {
		size_t len = 0;
		int nf = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 12;
		for (int i = 0; i < nf; i++) {
			const char *f = frag[((seed = seed * 1103515245 + 12345) >> 16) %
					     (sizeof(frag) / sizeof(frag[0]))];
			size_t fl = strlen(f);
			if (len + fl >= sizeof(spec))
				break;
			memcpy(spec + len, f, fl);
			len += fl;
		}
		spec[len] = '\0';
		/* most random names fail at the prefix: force a valid one half of the time */
		if (iter & 1) {
			memmove(spec + 7, spec, len + 1 < sizeof(spec) - 7 ? len + 1 : sizeof(spec) - 7);
			memcpy(spec, "vale0:p", 7);
			spec[sizeof(spec) - 1] = '\0';
		}
		int r = vnm_portname_parse(spec, &pn, err, sizeof(err));
		if (r != 0) {
			if (r != -EINVAL || !err[0]) {
				fprintf(stderr, "FAIL random '%s': ret %d, message '%s'\n", spec, r, err);
				fails++;
			}
			continue;
		}
		accepted++;
		char base[200];
		snprintf(base, sizeof(base), "%s:%s", pn.is_vale ? pn.sw : "netmap", pn.port);
		if (strcmp(base, pn.base) || strlen(pn.base) >= 64 || !pn.port[0] ||
		    pn.ring_id < -1 || pn.ring_id >= VNM_MAX_RINGS || pn.tx_rings > VNM_MAX_RINGS ||
		    pn.rx_rings > VNM_MAX_RINGS ||
		    (pn.tx_slots && (pn.tx_slots < VNM_MIN_SLOTS || pn.tx_slots > VNM_MAX_SLOTS)) ||
		    (pn.nr_flags & NR_RX_RINGS_ONLY && pn.nr_flags & NR_TX_RINGS_ONLY) ||
		    (pn.pipe_role && pn.nr_mode != NR_REG_PIPE_MASTER && pn.nr_mode != NR_REG_PIPE_SLAVE)) {
			fprintf(stderr, "FAIL random '%s' accepted with bad fields (base '%s')\n", spec,
				pn.base);
			fails++;
		}
	}
	if (accepted < 1000) {
		fprintf(stderr, "FAIL random: only %u names accepted, generator broken\n", accepted);
		fails++;
	}
	return (int)fails;
}

int main(void)
{
	int fails = 0;

	fails += test_good();
	fails += test_bad();
	fails += test_lengths();
	fails += test_random();
	return fails ? 1 : 0;
}
