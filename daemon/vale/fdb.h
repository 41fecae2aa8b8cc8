/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fdb.h - the VALE forwarding database: MAC address -> switch port, learned from
 * source addresses.
 *
 * A bucketed hash: VNM_FDB_BUCKETS buckets of VNM_FDB_WAYS entries, one cache line
 * per bucket, so a lookup touches one line. An entry packs the 48-bit MAC, the
 * port index and a valid bit into one 64-bit word; last_seen is a millisecond
 * timestamp (32 bits, compared modulo 2^32).
 *
 * Concurrency: the table has a single writer at a time. The switch thread learns
 * and looks up inside a forwarding round while it holds the switch's port-table
 * mutex; the control plane (flush on detach, dump) holds the same mutex. So the
 * lookups on the switch thread take no lock of their own.
 *
 * The hot functions (lookup, learn when nothing changes) are inline here; the
 * slow paths are in fdb.c.
 */
#ifndef VNM_DAEMON_FDB_H
#define VNM_DAEMON_FDB_H

#include <stdint.h>
#include <string.h>

#define VNM_FDB_BUCKET_BITS 10
#define VNM_FDB_BUCKETS (1u << VNM_FDB_BUCKET_BITS) /* 1024 */
#define VNM_FDB_WAYS 4                              /* 4096 entries */
#define VNM_FDB_ENTRIES (VNM_FDB_BUCKETS * VNM_FDB_WAYS)

#define VNM_FDB_VALID (1ULL << 63)
#define VNM_FDB_MAC_MASK 0xffffffffffffULL
#define VNM_FDB_PORT_SHIFT 48

struct vnm_fdb_bucket {
	uint64_t ent[VNM_FDB_WAYS];       /* VALID | port << 48 | mac; 0 = empty */
	uint32_t last_seen[VNM_FDB_WAYS]; /* ms */
	uint8_t pad[64 - VNM_FDB_WAYS * 12];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct vnm_fdb_bucket) == 64, "fdb bucket is one cache line");

struct vnm_fdb {
	struct vnm_fdb_bucket b[VNM_FDB_BUCKETS];
	uint64_t entries;   /* valid entries now */
	uint64_t learned;   /* new entries */
	uint64_t moves;     /* a MAC moved to another port */
	uint64_t evictions; /* a full bucket dropped its oldest entry */
};

/* Result of vnm_fdb_learn (bit mask). */
#define VNM_FDB_L_NEW 0x1
#define VNM_FDB_L_MOVED 0x2
#define VNM_FDB_L_EVICTED 0x4

/* The 6 bytes of a MAC as a little-endian 48-bit integer (two loads, no division). */
static inline uint64_t vnm_mac_key(const uint8_t *mac)
{
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, mac, 4);
	memcpy(&hi, mac + 4, 2);
	return (uint64_t)lo | ((uint64_t)hi << 32);
}

/* Group bit: bit 0 of the first byte (multicast and broadcast). */
static inline int vnm_mac_is_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

static inline struct vnm_fdb_bucket *vnm_fdb_bucket(const struct vnm_fdb *f, uint64_t key)
{
	/* multiplicative hash: the high bits mix all 48 bits of the key */
	uint64_t h = (key * 0x9e3779b97f4a7c15ULL) >> (64 - VNM_FDB_BUCKET_BITS);
	return (struct vnm_fdb_bucket *)&f->b[h];
}

/* Port index of mac, or -1 if unknown. */
static inline int vnm_fdb_lookup(const struct vnm_fdb *f, const uint8_t *mac)
{
	uint64_t key = vnm_mac_key(mac);
	const struct vnm_fdb_bucket *b = vnm_fdb_bucket(f, key);
	uint64_t want = key | VNM_FDB_VALID;

	for (int w = 0; w < VNM_FDB_WAYS; w++) {
		uint64_t e = b->ent[w];
		if ((e & (VNM_FDB_VALID | VNM_FDB_MAC_MASK)) == want)
			return (int)((e >> VNM_FDB_PORT_SHIFT) & 0xff);
	}
	return -1;
}

int vnm_fdb_learn_slow(struct vnm_fdb *f, uint64_t key, unsigned port, uint32_t now_ms);

/*
 * Learn mac (a unicast source address: the caller checks) on port at time now_ms.
 * Returns 0 if only the timestamp was refreshed (or nothing changed), else a
 * VNM_FDB_L_* mask. The common case (known MAC, same port, same ms) writes nothing.
 */
static inline int vnm_fdb_learn(struct vnm_fdb *f, const uint8_t *mac, unsigned port,
				uint32_t now_ms)
{
	uint64_t key = vnm_mac_key(mac);
	struct vnm_fdb_bucket *b = vnm_fdb_bucket(f, key);
	uint64_t want = key | VNM_FDB_VALID | ((uint64_t)port << VNM_FDB_PORT_SHIFT);

	for (int w = 0; w < VNM_FDB_WAYS; w++) {
		if (b->ent[w] == want) {
			if (b->last_seen[w] != now_ms)
				b->last_seen[w] = now_ms;
			return 0;
		}
	}
	return vnm_fdb_learn_slow(f, key, port, now_ms);
}

void vnm_fdb_init(struct vnm_fdb *f);
/* Forget every entry of port. Returns how many were removed. */
unsigned vnm_fdb_flush_port(struct vnm_fdb *f, unsigned port);
void vnm_fdb_flush(struct vnm_fdb *f);

struct vnm_fdb_dump_ent {
	uint8_t mac[6];
	uint16_t port;
	uint32_t age_ms;
};

/* Copy up to max valid entries (ages relative to now_ms). Returns the count. */
int vnm_fdb_dump(const struct vnm_fdb *f, struct vnm_fdb_dump_ent *out, int max, uint32_t now_ms);

#endif /* VNM_DAEMON_FDB_H */
