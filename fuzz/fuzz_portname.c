// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_portname.c - libFuzzer target: netmap's port-name parser (lib/portname.c),
 * the one vnetmapd runs on every OPEN/CREATE/ATTACH spec a client sends.
 *
 * Security model: the input is an untrusted spec (bad-inputs.md item 2). Besides
 * the sanitizers, every successful parse must leave a structure that honours the
 * documented limits (NUL-terminated names, rings 0 or 1..16, slots 0 or 64..16384,
 * a known pipe role and register mode), a failed one an error text; anything else
 * traps, so libFuzzer reports it as a crash.
 */
// FUZZ_SOURCES: lib/portname.c
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vnetmap/ctl.h"
#include "vnetmap/netmap.h"
#include "vnetmap/portname.h"

#define REQUIRE(c)                         \
	do {                               \
		if (!(c))                  \
			__builtin_trap();  \
	} while (0)

static void check_name(const char *s, size_t cap)
{
	REQUIRE(memchr(s, '\0', cap) != NULL);
}

static void check_count(uint32_t v, uint32_t lo, uint32_t hi)
{
	REQUIRE(v == 0 || (v >= lo && v <= hi));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char spec[VNM_PORTSPEC_MAX * 2];
	char err[128];
	struct vnm_portname pn;
	size_t n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;

	memcpy(spec, data, n);
	spec[n] = '\0';
	err[0] = '\0';
	memset(&pn, 0xa5, sizeof(pn)); /* the parser must write every field */
	int ret = vnm_portname_parse(spec, &pn, err, sizeof(err));

	if (ret < 0) {
		REQUIRE(ret == -EINVAL);
		REQUIRE(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		return 0;
	}
	REQUIRE(ret == 0);
	REQUIRE(strlen(spec) < VNM_PORTSPEC_MAX);
	check_name(pn.sw, sizeof(pn.sw));
	check_name(pn.port, sizeof(pn.port));
	check_name(pn.base, sizeof(pn.base));
	REQUIRE(pn.port[0] != '\0');
	REQUIRE(pn.is_vale == 0 || pn.is_vale == 1);
	REQUIRE(pn.is_vale ? pn.sw[0] != '\0' : pn.sw[0] == '\0');
	/* every vpname character is an identifier character */
	for (const char *c = pn.port; *c; c++)
		REQUIRE((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '_');
	REQUIRE(pn.pipe_role >= 0 && pn.pipe_role <= 2);
	REQUIRE(pn.nr_mode <= NR_REG_ONE_SW);
	REQUIRE(pn.ring_id >= -1);
	check_count(pn.tx_rings, 1, VNM_MAX_RINGS);
	check_count(pn.rx_rings, 1, VNM_MAX_RINGS);
	check_count(pn.tx_slots, VNM_MIN_SLOTS, VNM_MAX_SLOTS);
	check_count(pn.rx_slots, VNM_MIN_SLOTS, VNM_MAX_SLOTS);
	REQUIRE(pn.mem_id <= 65535);
	/* /R and /T together are rejected */
	REQUIRE((pn.nr_flags & (NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY)) !=
		(NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY));
	/* parsing is a pure function: the same spec parses the same way again */
	struct vnm_portname again;
	REQUIRE(vnm_portname_parse(spec, &again, NULL, 0) == 0);
	REQUIRE(memcmp(&pn, &again, sizeof(pn)) == 0);
	return 0;
}
