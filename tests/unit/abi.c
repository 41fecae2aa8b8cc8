// SPDX-License-Identifier: BSD-2-Clause
/*
 * abi.c - the shared-memory and control ABI, checked at run time on real objects
 * (the headers' _Static_asserts check the compiler's view; this checks addresses).
 * Exit 0 pass, 1 fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnetmap.h"
#include "vnetmap/region.h"

static int fails;

#define EQ(what, got, want)                                                              \
	do {                                                                             \
		unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
		if (g_ != w_) {                                                          \
			fprintf(stderr, "FAIL %s: %s = %llu, want %llu\n", __func__, what, g_, w_); \
			fails++;                                                         \
		}                                                                        \
	} while (0)

#define OFS(obj, field) ((size_t)((char *)&(obj)->field - (char *)(obj)))

static void test_slot(void)
{
	struct netmap_slot s[2];
	EQ("sizeof slot", sizeof(s[0]), 16);
	EQ("slot stride", (char *)&s[1] - (char *)&s[0], 16);
	EQ("buf_idx", OFS(&s[0], buf_idx), 0);
	EQ("len", OFS(&s[0], len), 4);
	EQ("flags", OFS(&s[0], flags), 6);
	EQ("ptr", OFS(&s[0], ptr), 8);
}

static void test_ring(void)
{
	struct netmap_ring *r = aligned_alloc(NM_CACHE_ALIGN, 384);
	if (!r) {
		fails++;
		return;
	}
	EQ("buf_ofs", OFS(r, buf_ofs), 0);
	EQ("num_slots", OFS(r, num_slots), 8);
	EQ("nr_buf_size", OFS(r, nr_buf_size), 12);
	EQ("ringid", OFS(r, ringid), 16);
	EQ("dir", OFS(r, dir), 18);
	EQ("head", OFS(r, head), 20);
	EQ("cur", OFS(r, cur), 24);
	EQ("tail", OFS(r, tail), 28);
	EQ("flags", OFS(r, flags), 32);
	EQ("ts", OFS(r, ts), 40);
	EQ("offset_mask", OFS(r, offset_mask), 56);
	EQ("buf_align", OFS(r, buf_align), 64);
	EQ("sem", OFS(r, sem), 128);
	EQ("slot[0]", (char *)&r->slot[0] - (char *)r, 256);
	EQ("slot[3]", (char *)&r->slot[3] - (char *)r, 256 + 48);
	EQ("sizeof ring", sizeof(*r), 256);
	free(r);
}

static void test_if_and_macros(void)
{
	/* a netmap_if with 2 tx, 1 host tx, 3 rx rings, and rings placed after it */
	size_t sz = 8192;
	char *mem = aligned_alloc(4096, sz);
	if (!mem) {
		fails++;
		return;
	}
	memset(mem, 0, sz);
	struct netmap_if *nifp = (struct netmap_if *)mem;
	EQ("ni_name", OFS(nifp, ni_name), 0);
	EQ("ni_version", OFS(nifp, ni_version), 16);
	EQ("ni_flags", OFS(nifp, ni_flags), 20);
	EQ("ni_tx_rings", OFS(nifp, ni_tx_rings), 24);
	EQ("ni_rx_rings", OFS(nifp, ni_rx_rings), 28);
	EQ("ni_bufs_head", OFS(nifp, ni_bufs_head), 32);
	EQ("ni_host_tx_rings", OFS(nifp, ni_host_tx_rings), 36);
	EQ("ni_host_rx_rings", OFS(nifp, ni_host_rx_rings), 40);
	EQ("ring_ofs", (char *)&nifp->ring_ofs[0] - mem, 56);
	EQ("ring_ofs[2]", (char *)&nifp->ring_ofs[2] - mem, 72);

	uint32_t v;
	ssize_t ofs[7] = { 1024, 1280, 1536, 1792, 2048, 2304, 0 };
	v = 2; memcpy(mem + 24, &v, 4);
	v = 3; memcpy(mem + 28, &v, 4);
	v = 1; memcpy(mem + 36, &v, 4);
	memcpy(mem + 56, ofs, sizeof(ofs));
	EQ("NETMAP_TXRING(1)", (char *)NETMAP_TXRING(nifp, 1) - mem, 1280);
	/* rx rings come after the NIC and host tx rings */
	EQ("NETMAP_RXRING(0)", (char *)NETMAP_RXRING(nifp, 0) - mem, 1792);
	EQ("NETMAP_RXRING(2)", (char *)NETMAP_RXRING(nifp, 2) - mem, 2304);

	struct netmap_ring *r = NETMAP_TXRING(nifp, 0);
	int64_t bo = 4096 - 1024;
	uint32_t bs = 2048;
	memcpy((char *)r, &bo, 8);
	memcpy((char *)r + 12, &bs, 4);
	EQ("NETMAP_BUF(0)", NETMAP_BUF(r, 0) - mem, 4096);
	EQ("NETMAP_BUF(3)", NETMAP_BUF(r, 3) - mem, 4096 + 3 * 2048);
	EQ("NETMAP_BUF_IDX", NETMAP_BUF_IDX(r, NETMAP_BUF(r, 5)), 5);
	free(mem);
}

static void test_constants(void)
{
	EQ("NETMAP_API", NETMAP_API, 14);
	EQ("NS_BUF_CHANGED", NS_BUF_CHANGED, 0x1);
	EQ("NS_REPORT", NS_REPORT, 0x2);
	EQ("NS_FORWARD", NS_FORWARD, 0x4);
	EQ("NS_NO_LEARN", NS_NO_LEARN, 0x8);
	EQ("NS_INDIRECT", NS_INDIRECT, 0x10);
	EQ("NS_MOREFRAG", NS_MOREFRAG, 0x20);
	EQ("NS_TXMON", NS_TXMON, 0x40);
	EQ("NR_REG_ALL_NIC", NR_REG_ALL_NIC, 1);
	EQ("NR_REG_SW", NR_REG_SW, 2);
	EQ("NR_REG_NIC_SW", NR_REG_NIC_SW, 3);
	EQ("NR_REG_ONE_NIC", NR_REG_ONE_NIC, 4);
	EQ("NR_REG_PIPE_MASTER", NR_REG_PIPE_MASTER, 5);
	EQ("NR_REG_PIPE_SLAVE", NR_REG_PIPE_SLAVE, 6);
	EQ("NR_REG_NULL", NR_REG_NULL, 7);
	EQ("NR_REG_ONE_SW", NR_REG_ONE_SW, 8);
	EQ("NR_MONITOR_TX", NR_MONITOR_TX, 0x100);
	EQ("NR_MONITOR_RX", NR_MONITOR_RX, 0x200);
	EQ("NR_ZCOPY_MON", NR_ZCOPY_MON, 0x400);
	EQ("NR_EXCLUSIVE", NR_EXCLUSIVE, 0x800);
	EQ("NR_RX_RINGS_ONLY", NR_RX_RINGS_ONLY, 0x8000);
	EQ("NR_TX_RINGS_ONLY", NR_TX_RINGS_ONLY, 0x10000);
	EQ("NM_MAX_FRAGS", NM_MAX_FRAGS, 64);
}

static void test_csb(void)
{
	struct nm_csb_atok a[2];
	struct nm_csb_ktoa k[2];
	EQ("atok stride", (char *)&a[1] - (char *)&a[0], 64);
	EQ("ktoa stride", (char *)&k[1] - (char *)&k[0], 64);
	EQ("atok.head", OFS(&a[0], head), 0);
	EQ("atok.cur", OFS(&a[0], cur), 4);
	EQ("atok.appl_need_kick", OFS(&a[0], appl_need_kick), 8);
	EQ("atok.sync_flags", OFS(&a[0], sync_flags), 12);
	EQ("ktoa.hwcur", OFS(&k[0], hwcur), 0);
	EQ("ktoa.hwtail", OFS(&k[0], hwtail), 4);
	EQ("ktoa.kern_need_kick", OFS(&k[0], kern_need_kick), 8);
	EQ("ktoa.err_count", OFS(&k[0], err_count), 12);
	EQ("ktoa.err_reason", OFS(&k[0], err_reason), 16);
}

static void test_region(void)
{
	struct vnm_region_hdr *h = calloc(1, sizeof(*h));
	if (!h) {
		fails++;
		return;
	}
	EQ("hdr.magic", OFS(h, magic), 0);
	EQ("hdr.version", OFS(h, version), 8);
	EQ("hdr.hdr_size", OFS(h, hdr_size), 12);
	EQ("hdr.region_size", OFS(h, region_size), 16);
	EQ("hdr.obj_ofs", OFS(h, obj_ofs), 24);
	EQ("hdr.obj_size", OFS(h, obj_size), 32);
	EQ("hdr.buf_ofs", OFS(h, buf_ofs), 40);
	EQ("hdr.buf_size", OFS(h, buf_size), 48);
	EQ("hdr.num_bufs", OFS(h, num_bufs), 52);
	EQ("hdr.num_ends", OFS(h, num_ends), 56);
	EQ("hdr.name", OFS(h, name), 64);
	EQ("hdr.ends", OFS(h, ends), 256);
	EQ("end stride", (char *)&h->ends[1] - (char *)&h->ends[0], 128);
	EQ("end.nifp_ofs", OFS(&h->ends[0], nifp_ofs), 64);
	EQ("end.csb_atok_ofs", OFS(&h->ends[0], csb_atok_ofs), 72);
	EQ("end.csb_ktoa_ofs", OFS(&h->ends[0], csb_ktoa_ofs), 80);
	EQ("end.num_tx_rings", OFS(&h->ends[0], num_tx_rings), 88);
	EQ("end.peer", OFS(&h->ends[0], peer), 100);
	EQ("sizeof hdr <= 16K", sizeof(*h) <= VNM_REGION_HDR_SIZE, 1);
	EQ("magic bytes", memcmp(&(uint64_t){ VNM_REGION_MAGIC }, "VNMRG01", 8), 0);
	free(h);
}

static void test_ctl(void)
{
	struct vnm_ctl_hdr h;
	struct vnm_ctl_open_rep r;
	EQ("sizeof ctl_hdr", sizeof(h), 16);
	EQ("hdr.version", OFS(&h, version), 4);
	EQ("hdr.type", OFS(&h, type), 6);
	EQ("hdr.len", OFS(&h, len), 8);
	EQ("hdr.status", OFS(&h, status), 12);
	EQ("sizeof open_req", sizeof(struct vnm_ctl_open_req), 264);
	EQ("sizeof name_req", sizeof(struct vnm_ctl_name_req), 264);
	EQ("rep.kind", OFS(&r, kind), 8);
	EQ("rep.end", OFS(&r, end), 12);
	EQ("rep.peer_end", OFS(&r, peer_end), 16);
	EQ("rep.first_tx_ring", OFS(&r, first_tx_ring), 20);
	EQ("rep.last_rx_ring", OFS(&r, last_rx_ring), 26);
	EQ("rep.nr_flags", OFS(&r, nr_flags), 28);
	EQ("rep.nfds", OFS(&r, nfds), 32);
	EQ("rep.name", OFS(&r, name), 36);
	/* 100 bytes of fields, 4 of implicit tail padding (uint64 alignment) */
	EQ("sizeof open_rep", sizeof(r), 104);
	EQ("magic", VNM_CTL_MAGIC, 0x434d4e56u);
}

int main(void)
{
	test_slot();
	test_ring();
	test_if_and_macros();
	test_constants();
	test_csb();
	test_region();
	test_ctl();
	return fails ? 1 : 0;
}
