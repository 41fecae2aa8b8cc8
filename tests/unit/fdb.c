// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: VALE forwarding database - learn, lookup, multicast never learned (the
 * caller's check, exercised through vnm_mac_is_group), moves counted, eviction of
 * the oldest entry of a full bucket, flush of a port, dump.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../daemon/vale/fdb.c"

static int fails;
#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                                   \
		}                                                                  \
	} while (0)

static void mac_of(uint8_t *m, uint64_t v)
{
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)(v >> (8 * i));
	m[0] &= 0xfe; /* unicast */
}

/* learn as the switch does: never a group address */
static int learn(struct vnm_fdb *f, const uint8_t *mac, unsigned port, uint32_t now)
{
	if (vnm_mac_is_group(mac))
		return -1;
	return vnm_fdb_learn(f, mac, port, now);
}

int main(void)
{
	static struct vnm_fdb f __attribute__((aligned(64)));
	uint8_t a[6] = { 0x02, 0, 0, 0, 0, 1 }, b[6] = { 0x02, 0, 0, 0, 0, 2 };
	uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	uint8_t zero[6] = { 0 };

	vnm_fdb_init(&f);
	/* learn + lookup */
	CHECK(vnm_fdb_lookup(&f, a) == -1);
	CHECK(learn(&f, a, 3, 100) == VNM_FDB_L_NEW);
	CHECK(vnm_fdb_lookup(&f, a) == 3);
	CHECK(vnm_fdb_lookup(&f, b) == -1);
	CHECK(learn(&f, a, 3, 101) == 0); /* refresh only */
	CHECK(f.entries == 1);
	CHECK(learn(&f, zero, 7, 100) == VNM_FDB_L_NEW); /* all-zero MAC is unicast */
	CHECK(vnm_fdb_lookup(&f, zero) == 7);

	/* group addresses are never learned */
	CHECK(learn(&f, bc, 1, 100) == -1);
	CHECK(learn(&f, mc, 1, 100) == -1);
	CHECK(vnm_fdb_lookup(&f, bc) == -1 && vnm_fdb_lookup(&f, mc) == -1);
	CHECK(f.entries == 2);

	/* a move is reported and counted */
	CHECK(learn(&f, a, 5, 102) == VNM_FDB_L_MOVED);
	CHECK(vnm_fdb_lookup(&f, a) == 5);
	CHECK(f.moves == 1);
	CHECK(f.entries == 2);

	/* fill a bucket: find WAYS+1 MACs hashing to a's bucket; the oldest goes */
	vnm_fdb_flush(&f);
	struct vnm_fdb_bucket *ba = vnm_fdb_bucket(&f, vnm_mac_key(a));
	uint8_t same[VNM_FDB_WAYS + 1][6];
	int found = 0;
	for (uint64_t v = 1; found < VNM_FDB_WAYS + 1 && v < 100000000; v++) {
		uint8_t m[6];
		mac_of(m, v * 0x10001);
		if (vnm_fdb_bucket(&f, vnm_mac_key(m)) == ba) {
			int dup = 0;
			for (int j = 0; j < found; j++)
				dup |= !memcmp(same[j], m, 6);
			if (!dup)
				memcpy(same[found++], m, 6);
		}
	}
	CHECK(found == VNM_FDB_WAYS + 1);
	for (int j = 0; j < VNM_FDB_WAYS; j++)
		CHECK(learn(&f, same[j], (unsigned)j, 1000 + (uint32_t)j) == VNM_FDB_L_NEW);
	learn(&f, same[0], 0, 2000); /* refresh 0: 1 is now the oldest */
	CHECK(learn(&f, same[VNM_FDB_WAYS], 9, 2001) == (VNM_FDB_L_NEW | VNM_FDB_L_EVICTED));
	CHECK(f.evictions == 1);
	CHECK(vnm_fdb_lookup(&f, same[1]) == -1);
	CHECK(vnm_fdb_lookup(&f, same[0]) == 0);
	CHECK(vnm_fdb_lookup(&f, same[VNM_FDB_WAYS]) == 9);
	CHECK(f.entries == VNM_FDB_WAYS);

	/* many random MACs: the table stays bounded, all lookups consistent */
	vnm_fdb_flush(&f);
	srand(1);
	for (int j = 0; j < 20000; j++) {
		uint8_t m[6];
		mac_of(m, ((uint64_t)rand() << 24) ^ (uint64_t)rand());
		learn(&f, m, (unsigned)(j % 200), (uint32_t)j);
		CHECK(vnm_fdb_lookup(&f, m) == j % 200);
	}
	CHECK(f.entries <= VNM_FDB_ENTRIES);
	CHECK(f.entries > VNM_FDB_ENTRIES / 2);
	CHECK(f.evictions > 0);

	/* flush one port */
	vnm_fdb_flush(&f);
	learn(&f, a, 1, 10);
	learn(&f, b, 2, 10);
	CHECK(vnm_fdb_flush_port(&f, 1) == 1);
	CHECK(vnm_fdb_lookup(&f, a) == -1 && vnm_fdb_lookup(&f, b) == 2);
	CHECK(f.entries == 1);

	/* dump */
	struct vnm_fdb_dump_ent d[4];
	CHECK(vnm_fdb_dump(&f, d, 4, 15) == 1);
	CHECK(!memcmp(d[0].mac, b, 6) && d[0].port == 2 && d[0].age_ms == 5);
	CHECK(vnm_fdb_dump(&f, d, 0, 15) == 0);

	return fails ? 1 : 0;
}
