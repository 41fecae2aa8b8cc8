// SPDX-License-Identifier: BSD-2-Clause
/*
 * fdb.c - slow paths of the VALE forwarding database (see fdb.h).
 *
 * Security model: keys come from frames sent by untrusted clients. A client can
 * choose any source MAC, so it can fill buckets (random MACs): a full bucket evicts
 * its oldest entry and counts it; nothing grows without bound and no input is
 * used as an index except through the hash (masked to the table size). Group
 * (multicast/broadcast) addresses are never learned: the caller checks.
 */
#include "vale/fdb.h"

void vnm_fdb_init(struct vnm_fdb *f)
{
	memset(f, 0, sizeof(*f));
}

int vnm_fdb_learn_slow(struct vnm_fdb *f, uint64_t key, unsigned port, uint32_t now_ms)
{
	struct vnm_fdb_bucket *b = vnm_fdb_bucket(f, key);
	uint64_t e_new = key | VNM_FDB_VALID | ((uint64_t)(port & 0xff) << VNM_FDB_PORT_SHIFT);
	int empty = -1, oldest = 0;
	uint32_t oldest_age = 0;

	for (int w = 0; w < VNM_FDB_WAYS; w++) {
		uint64_t e = b->ent[w];

		if (!(e & VNM_FDB_VALID)) {
			if (empty < 0)
				empty = w;
			continue;
		}
		if ((e & VNM_FDB_MAC_MASK) == key) {
			/* known MAC on another port (same port is the inline fast path) */
			b->ent[w] = e_new;
			b->last_seen[w] = now_ms;
			if (e != e_new) {
				f->moves++;
				return VNM_FDB_L_MOVED;
			}
			return 0;
		}
		uint32_t age = now_ms - b->last_seen[w]; /* modulo 2^32 */
		if (age >= oldest_age) {
			oldest_age = age;
			oldest = w;
		}
	}
	f->learned++;
	if (empty >= 0) {
		b->ent[empty] = e_new;
		b->last_seen[empty] = now_ms;
		f->entries++;
		return VNM_FDB_L_NEW;
	}
	b->ent[oldest] = e_new;
	b->last_seen[oldest] = now_ms;
	f->evictions++;
	return VNM_FDB_L_NEW | VNM_FDB_L_EVICTED;
}

unsigned vnm_fdb_flush_port(struct vnm_fdb *f, unsigned port)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VNM_FDB_BUCKETS; i++) {
		struct vnm_fdb_bucket *b = &f->b[i];
		for (int w = 0; w < VNM_FDB_WAYS; w++) {
			uint64_t e = b->ent[w];
			unsigned ep = (unsigned)((e >> VNM_FDB_PORT_SHIFT) & 0xff);
			if ((e & VNM_FDB_VALID) && ep == (port & 0xff)) {
				b->ent[w] = 0;
				b->last_seen[w] = 0;
				n++;
			}
		}
	}
	f->entries -= n;
	return n;
}

void vnm_fdb_flush(struct vnm_fdb *f)
{
	memset(f->b, 0, sizeof(f->b));
	f->entries = 0;
}

int vnm_fdb_dump(const struct vnm_fdb *f, struct vnm_fdb_dump_ent *out, int max, uint32_t now_ms)
{
	int n = 0;

	for (unsigned i = 0; i < VNM_FDB_BUCKETS && n < max; i++) {
		const struct vnm_fdb_bucket *b = &f->b[i];
		for (int w = 0; w < VNM_FDB_WAYS && n < max; w++) {
			uint64_t e = b->ent[w];
			if (!(e & VNM_FDB_VALID))
				continue;
			for (int j = 0; j < 6; j++)
				out[n].mac[j] = (uint8_t)(e >> (8 * j));
			out[n].port = (uint16_t)((e >> VNM_FDB_PORT_SHIFT) & 0xff);
			out[n].age_ms = now_ms - b->last_seen[w];
			n++;
		}
	}
	return n;
}
