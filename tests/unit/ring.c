// SPDX-License-Identifier: BSD-2-Clause
/*
 * ring.c - ring helpers (nm_ring_next/space/empty, nm_tx_pending) and the
 * kernel-side rules of csb.h / lib/csb.c (vnm_kring_read_app, check_slot, reset,
 * publish / notify handshake), including rings whose size is not a power of two.
 * Exit 0 pass, 1 fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnetmap.h"

static int fails;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			fails++;                                           \
		}                                                          \
	} while (0)

/* A ring of n slots in plain memory (the const fields are set through raw offsets). */
static struct netmap_ring *make_ring(uint32_t n, uint32_t buf_size)
{
	size_t sz = (256 + 16 * (size_t)n + NM_CACHE_ALIGN - 1) & ~(size_t)(NM_CACHE_ALIGN - 1);
	struct netmap_ring *r = aligned_alloc(NM_CACHE_ALIGN, sz);
	if (!r) {
		perror("aligned_alloc");
		exit(1);
	}
	memset(r, 0, 256 + 16 * (size_t)n);
	memcpy((char *)r + 8, &n, 4);
	memcpy((char *)r + 12, &buf_size, 4);
	return r;
}

static void set_idx(struct netmap_ring *r, uint32_t head, uint32_t cur, uint32_t tail)
{
	r->head = head;
	r->cur = cur;
	r->tail = tail;
}

static void test_next(void)
{
	struct netmap_ring *r = make_ring(7, 2048);
	CHECK(nm_ring_next(r, 0) == 1, "next(0)");
	CHECK(nm_ring_next(r, 5) == 6, "next(5)");
	CHECK(nm_ring_next(r, 6) == 0, "next(6) on 7 slots = %u", nm_ring_next(r, 6));
	free(r);
	r = make_ring(1024, 2048);
	CHECK(nm_ring_next(r, 1023) == 0, "next(1023) on 1024");
	free(r);
}

static void test_space_empty(void)
{
	struct netmap_ring *r = make_ring(7, 2048);
	set_idx(r, 0, 0, 6); /* fresh TX ring */
	CHECK(nm_ring_space(r) == 6, "fresh tx space %u", nm_ring_space(r));
	CHECK(!nm_ring_empty(r), "fresh tx empty");
	set_idx(r, 5, 5, 2); /* wrapped: slots 5, 6, 0, 1 */
	CHECK(nm_ring_space(r) == 4, "wrapped space %u", nm_ring_space(r));
	set_idx(r, 3, 4, 2); /* cur ahead of head: space counts from cur */
	CHECK(nm_ring_space(r) == 5, "space from cur %u", nm_ring_space(r));
	set_idx(r, 3, 3, 3);
	CHECK(nm_ring_space(r) == 0 && nm_ring_empty(r), "empty");
	set_idx(r, 0, 0, 0); /* fresh RX ring */
	CHECK(nm_ring_empty(r), "fresh rx not empty");
	free(r);
}

static void test_tx_pending(void)
{
	struct netmap_ring *r = make_ring(7, 2048);
	set_idx(r, 0, 0, 6);
	CHECK(!nm_tx_pending(r), "fresh tx pending");
	set_idx(r, 2, 2, 6); /* two slots handed over, not yet sent */
	CHECK(nm_tx_pending(r), "pending not seen");
	set_idx(r, 2, 2, 1); /* all sent: tail = head - 1 */
	CHECK(!nm_tx_pending(r), "sent still pending");
	set_idx(r, 0, 0, 6); /* wrap: tail 6, next(6) = 0 = head */
	CHECK(!nm_tx_pending(r), "wrap pending");
	free(r);
}

static void test_dist_add(void)
{
	CHECK(vnm_ring_dist(5, 2, 7) == 4, "dist wrap");
	CHECK(vnm_ring_dist(2, 5, 7) == 3, "dist");
	CHECK(vnm_ring_dist(3, 3, 7) == 0, "dist same");
	CHECK(vnm_ring_add(5, 3, 7) == 1, "add wrap");
	CHECK(vnm_ring_add(1, 6, 7) == 0, "add to 0");
}

struct kfix {
	struct netmap_ring *ring;
	struct nm_csb_atok atok;
	struct nm_csb_ktoa ktoa;
	struct vnm_kring k;
};

static void kfix_init(struct kfix *f, uint32_t n, uint32_t dir)
{
	memset(&f->atok, 0, sizeof(f->atok));
	memset(&f->ktoa, 0, sizeof(f->ktoa));
	f->ring = make_ring(n, 2048);
	vnm_kring_init(&f->k, f->ring, &f->atok, &f->ktoa, NULL, n, 2048, 100, dir);
}

static int read_app(struct kfix *f, uint32_t hwcur, uint32_t hwtail, uint32_t head, uint32_t cur)
{
	f->k.nr_hwcur = hwcur;
	f->k.nr_hwtail = hwtail;
	f->atok.head = head;
	f->atok.cur = cur;
	return vnm_kring_read_app(&f->k);
}

static void test_kring_init(void)
{
	struct kfix f;
	kfix_init(&f, 7, 0);
	CHECK(f.k.nr_hwcur == 0 && f.k.nr_hwtail == 6, "tx init %u %u", f.k.nr_hwcur, f.k.nr_hwtail);
	free(f.ring);
	kfix_init(&f, 7, 1);
	CHECK(f.k.nr_hwcur == 0 && f.k.nr_hwtail == 0, "rx init");
	free(f.ring);
}

static void test_read_app_valid(void)
{
	static const uint32_t ok[][4] = {
		/* hwcur hwtail head cur */
		{ 0, 6, 0, 0 },   { 0, 6, 6, 6 },   { 0, 6, 3, 5 },   { 2, 2, 2, 2 },
		{ 5, 2, 5, 5 },   { 5, 2, 6, 0 },   { 5, 2, 0, 2 },   { 5, 2, 2, 2 },
		{ 5, 2, 6, 1 },   { 6, 5, 4, 5 },   { 3, 1, 0, 0 },   { 4, 3, 3, 3 },
	};
	struct kfix f;
	kfix_init(&f, 7, 0);
	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int r = read_app(&f, ok[i][0], ok[i][1], ok[i][2], ok[i][3]);
		CHECK(r == 0, "hwcur %u hwtail %u head %u cur %u rejected (%d)", ok[i][0], ok[i][1],
		      ok[i][2], ok[i][3], r);
		if (r == 0)
			CHECK(f.k.rhead == ok[i][2] && f.k.rcur == ok[i][3], "rhead/rcur not stored");
	}
	free(f.ring);
}

static void test_read_app_invalid(void)
{
	static const struct { uint32_t hwcur, hwtail, head, cur; int err; } bad[] = {
		{ 0, 6, 7, 7, -VNM_RERR_HEAD },          /* head == num_slots */
		{ 0, 6, 0xffffffff, 0, -VNM_RERR_HEAD }, /* huge */
		{ 2, 5, 1, 3, -VNM_RERR_HEAD },          /* head behind hwcur */
		{ 2, 5, 6, 6, -VNM_RERR_HEAD },          /* head past hwtail */
		{ 5, 2, 3, 3, -VNM_RERR_HEAD },          /* wrapped: head in the kernel's part */
		{ 5, 2, 4, 4, -VNM_RERR_HEAD },
		{ 2, 2, 3, 3, -VNM_RERR_HEAD },          /* empty span: only hwcur allowed */
		{ 0, 6, 3, 7, -VNM_RERR_CUR },           /* cur == num_slots */
		{ 0, 6, 3, 2, -VNM_RERR_CUR },           /* cur behind head */
		{ 5, 2, 6, 5, -VNM_RERR_CUR },           /* wrapped: cur behind head */
		{ 5, 2, 6, 3, -VNM_RERR_CUR },           /* wrapped: cur past hwtail */
		{ 5, 2, 0, 6, -VNM_RERR_CUR },           /* cur before head across the wrap */
		{ 2, 5, 3, 6, -VNM_RERR_CUR },           /* cur past hwtail */
		{ 2, 2, 2, 3, -VNM_RERR_CUR },
	};
	struct kfix f;
	kfix_init(&f, 7, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.k.rhead = f.k.rcur = 99;
		int r = read_app(&f, bad[i].hwcur, bad[i].hwtail, bad[i].head, bad[i].cur);
		CHECK(r == bad[i].err, "hwcur %u hwtail %u head %u cur %u: got %d want %d", bad[i].hwcur,
		      bad[i].hwtail, bad[i].head, bad[i].cur, r, bad[i].err);
		CHECK(f.k.rhead == 99 && f.k.rcur == 99, "rejected values stored");
	}
	free(f.ring);
}

/* Every (head, cur) on a 7-slot ring, against a brute-force model of the rule. */
static void test_read_app_exhaustive(void)
{
	const uint32_t n = 7;
	struct kfix f;
	kfix_init(&f, n, 0);
	for (uint32_t hc = 0; hc < n; hc++)
		for (uint32_t ht = 0; ht < n; ht++)
			for (uint32_t h = 0; h < n + 1; h++)
				for (uint32_t c = 0; c < n + 1; c++) {
					/* model: walk from hwcur to hwtail, head then cur must be met in order */
					int seen_h = -1, seen_c = -1;
					for (uint32_t j = 0, i = hc;; j++, i = (i + 1) % n) {
						if (i == h && seen_h < 0)
							seen_h = (int)j;
						if (i == c && seen_c < 0 && seen_h >= 0)
							seen_c = (int)j;
						if (i == ht)
							break;
					}
					int want = seen_h < 0 ? -VNM_RERR_HEAD
						   : seen_c < 0 ? -VNM_RERR_CUR : 0;
					int got = read_app(&f, hc, ht, h, c);
					if (got != want) {
						CHECK(0, "hwcur %u hwtail %u head %u cur %u: got %d want %d",
						      hc, ht, h, c, got, want);
						goto out;
					}
				}
out:
	free(f.ring);
}

static void test_check_slot(void)
{
	struct kfix f;
	kfix_init(&f, 7, 0);
	CHECK(vnm_kring_check_slot(&f.k, 2, 60) == 0, "valid slot");
	CHECK(vnm_kring_check_slot(&f.k, 99, 2048) == 0, "last buffer, full len");
	CHECK(vnm_kring_check_slot(&f.k, 0, 60) == -VNM_RERR_BUF_IDX, "buf 0");
	CHECK(vnm_kring_check_slot(&f.k, 1, 60) == -VNM_RERR_BUF_IDX, "buf 1");
	CHECK(vnm_kring_check_slot(&f.k, 100, 60) == -VNM_RERR_BUF_IDX, "buf num_bufs");
	CHECK(vnm_kring_check_slot(&f.k, 5, 2049) == -VNM_RERR_LEN, "len over");
	free(f.ring);
}

static void test_reset(void)
{
	struct kfix f;
	kfix_init(&f, 7, 0);
	for (uint32_t i = 0; i < 7; i++) {
		f.ring->slot[i].buf_idx = 10 + i;
		f.ring->slot[i].len = 60;
	}
	f.ring->slot[1].buf_idx = 0;
	f.ring->slot[1].len = 5;
	f.ring->slot[2].buf_idx = 1;
	f.ring->slot[3].buf_idx = 100; /* == num_bufs */
	f.ring->slot[4].len = 4000;    /* over buf_size, buffer valid */
	f.k.nr_hwcur = 3;
	f.k.nr_hwtail = 1;
	set_idx(f.ring, 6, 0, 5); /* garbage the application wrote */
	f.atok.head = 6;
	f.atok.cur = 0;
	vnm_kring_reset(&f.k, VNM_RERR_HEAD);
	CHECK(f.ring->slot[1].buf_idx == 0 && f.ring->slot[1].len == 0, "slot 1");
	CHECK(f.ring->slot[2].buf_idx == 0 && f.ring->slot[2].len == 0, "slot 2");
	CHECK(f.ring->slot[3].buf_idx == 0 && f.ring->slot[3].len == 0, "slot 3");
	CHECK(f.ring->slot[4].buf_idx == 14 && f.ring->slot[4].len == 0, "slot 4: %u %u",
	      f.ring->slot[4].buf_idx, f.ring->slot[4].len);
	CHECK(f.ring->slot[0].buf_idx == 10 && f.ring->slot[0].len == 60, "good slot 0 touched");
	CHECK(f.ring->slot[6].buf_idx == 16 && f.ring->slot[6].len == 60, "good slot 6 touched");
	CHECK(f.ring->head == 3 && f.ring->cur == 3 && f.ring->tail == 1, "ring indices %u %u %u",
	      f.ring->head, f.ring->cur, f.ring->tail);
	CHECK(f.atok.head == 3 && f.atok.cur == 3, "atok not reset");
	CHECK(f.ktoa.hwcur == 3 && f.ktoa.hwtail == 1, "ktoa not published");
	CHECK(f.ktoa.err_count == 1 && f.ktoa.err_reason == VNM_RERR_HEAD, "err %u %u",
	      f.ktoa.err_count, f.ktoa.err_reason);
	CHECK(vnm_kring_read_app(&f.k) == 0, "ring not valid after reset");
	vnm_kring_reset(&f.k, VNM_RERR_LEN);
	CHECK(f.ktoa.err_count == 2 && f.ktoa.err_reason == VNM_RERR_LEN, "second reset");
	CHECK(strcmp(vnm_ring_err_str(VNM_RERR_LEN), "unknown ring error") != 0, "err str");
	CHECK(vnm_ring_err_str(12345) != NULL, "err str default");
	free(f.ring);
}

/* The need-kick handshake in one thread: publish/arm/take semantics. */
static void test_notify_flags(void)
{
	struct kfix f;
	kfix_init(&f, 7, 1);
	CHECK(!vnm_kring_notify_needed(&f.k), "notify without arm");
	uint32_t t = vnm_csb_app_arm(&f.atok, &f.ktoa);
	CHECK(t == 0 && vnm_csb_app_armed(&f.atok), "arm");
	f.k.nr_hwtail = 3;
	vnm_kring_publish(&f.k);
	CHECK(vnm_csb_app_hwtail(&f.ktoa) == 3, "hwtail published");
	CHECK(vnm_kring_notify_needed(&f.k), "armed: notify");
	CHECK(!vnm_csb_app_armed(&f.atok), "flag not taken");
	CHECK(!vnm_kring_notify_needed(&f.k), "second notify for one arm");
	vnm_csb_app_arm(&f.atok, &f.ktoa);
	vnm_csb_app_disarm(&f.atok);
	CHECK(!vnm_kring_notify_needed(&f.k), "notify after disarm");
	CHECK(!vnm_csb_app_need_kick(&f.ktoa), "need_kick fresh");
	vnm_csb_kern_sleep_prepare(&f.k);
	CHECK(vnm_csb_app_need_kick(&f.ktoa), "need_kick after sleep_prepare");
	vnm_csb_kern_wake(&f.k);
	CHECK(!vnm_csb_app_need_kick(&f.ktoa), "need_kick after wake");
	vnm_csb_app_publish(&f.atok, 2, 3);
	CHECK(f.atok.head == 2 && f.atok.cur == 3, "publish");
	free(f.ring);
}

int main(void)
{
	test_next();
	test_space_empty();
	test_tx_pending();
	test_dist_add();
	test_kring_init();
	test_read_app_valid();
	test_read_app_invalid();
	test_read_app_exhaustive();
	test_check_slot();
	test_reset();
	test_notify_flags();
	return fails ? 1 : 0;
}
