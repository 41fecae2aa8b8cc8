// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: the netmap client port ops over a fake region - valid single/multi-slot
 * frames, every ring violation of bad-inputs.md items 5-6 (reset + err_count +
 * ring_resets, and the port keeps working), oversize frames, deliver splitting a
 * 9000-byte frame over 5 slots, a full RX ring, bad RX slots, notifications,
 * sleep_prepare.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../daemon/ports/netmap_port.c"
#include "../../daemon/vhost/gso.c"
#include "unit/fakeport.h"

static struct vnm_frame frames[VNM_BATCH_MAX];

/* Send one valid 60-byte frame on tx ring 0 and check it comes out intact. */
static void check_works(struct fakeport *fp, const char *what)
{
	uint8_t d[60];
	struct vnm_dport *p = fp->dp;

	fp_fill(d, sizeof(d), 0x33);
	if (fp_tx_put(fp, 0, d, sizeof(d), 2048) < 0) {
		fprintf(stderr, "%s: no tx space\n", what);
		fails++;
		return;
	}
	fp_publish(fp, 0, 0);
	int n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	if (n != 1 || frames[0].len != 60 || memcmp(frames[0].frag[0], d, 60)) {
		fprintf(stderr, "%s: port does not work afterwards (n=%d)\n", what, n);
		fails++;
	}
	if (n > 0)
		p->ops->rx_done(p, (unsigned)n);
}

/* Expect a reset of tx ring 0 with reason, then recovery. */
static void expect_reset(struct fakeport *fp, int reason, const char *what)
{
	struct vnm_dport *p = fp->dp;
	uint32_t errc = fp->ktoa[0][0]->err_count;
	uint64_t resets = p->stats.ring_resets;

	int n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	if (n != 0 || fp->ktoa[0][0]->err_count != errc + 1 ||
	    fp->ktoa[0][0]->err_reason != (uint32_t)reason || p->stats.ring_resets != resets + 1) {
		fprintf(stderr, "%s: n=%d err_count %u->%u reason %u (want %d) resets %lu\n", what, n,
			errc, fp->ktoa[0][0]->err_count, fp->ktoa[0][0]->err_reason, reason,
			(unsigned long)p->stats.ring_resets);
		fails++;
	}
	if (n > 0)
		p->ops->rx_done(p, (unsigned)n);
	/* head/cur went back to hwcur */
	CHECK(fp->atok[0][0]->head == fp->ktoa[0][0]->hwcur);
	CHECK(fp->atok[0][0]->cur == fp->ktoa[0][0]->hwcur);
	fp_resync(fp, 0, 0);
	/* repair what the client broke: each slot gets a valid buffer again */
	for (unsigned s = 0; s < fp->nslots; s++) {
		struct netmap_slot *sl = fp_slot(fp, 0, 0, s);
		if (sl->buf_idx < 2 || sl->buf_idx >= fp->nbufs)
			sl->buf_idx = 2 + s;
	}
	check_works(fp, what);
}

static void test_tx(void)
{
	struct fakeport *fp = fp_create("t:tx", 1, 1, 256, 2048, 0);
	struct vnm_dport *p = fp->dp;
	uint8_t d[9000];
	int n;

	/* nothing */
	CHECK(p->ops->rx_batch(p, frames, VNM_BATCH_MAX) == 0);

	/* valid single-slot and multi-slot frames */
	fp_fill(d, 60, 1);
	CHECK(fp_tx_put(fp, 0, d, 60, 2048) == 1);
	fp_fill(d, 5000, 2);
	CHECK(fp_tx_put(fp, 0, d, 5000, 2048) == 3);
	fp_publish(fp, 0, 0);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 2);
	CHECK(frames[0].nfrags == 1 && frames[0].len == 60);
	CHECK(frames[1].nfrags == 3 && frames[1].len == 5000);
	CHECK(frames[1].frag_len[0] == 2048 && frames[1].frag_len[2] == 5000 - 4096);
	CHECK(!memcmp(frames[1].frag[2], d + 4096, 5000 - 4096));
	/* lossless-style partial consume: only the first */
	p->ops->rx_done(p, 1);
	CHECK(fp->ktoa[0][0]->hwcur == 1 && fp->ktoa[0][0]->hwtail == 0);
	CHECK(p->stats.rx_packets == 1 && p->stats.rx_bytes == 60);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 1 && frames[0].len == 5000);
	p->ops->rx_done(p, 1);
	CHECK(fp->ktoa[0][0]->hwcur == 4 && fp->ktoa[0][0]->hwtail == 3);
	CHECK(p->stats.rx_packets == 2 && p->stats.rx_bytes == 5060);

	/* batch limit */
	for (int i = 0; i < 5; i++)
		fp_tx_put(fp, 0, d, 60, 2048);
	fp_publish(fp, 0, 0);
	CHECK(p->ops->rx_batch(p, frames, 3) == 3);
	p->ops->rx_done(p, 3);
	CHECK(p->ops->rx_batch(p, frames, 3) == 2);
	p->ops->rx_done(p, 2);

	/* an unterminated chain before head waits for the rest */
	uint32_t h0 = fp->head[0][0];
	fp_tx_put(fp, 0, d, 3000, 2048); /* 2 slots */
	fp->head[0][0] = fp_next(fp, h0);    /* publish only the first (MOREFRAG) */
	fp_publish(fp, 0, 0);
	CHECK(p->ops->rx_batch(p, frames, VNM_BATCH_MAX) == 0);
	CHECK(p->ops->sleep_prepare(p) == 0); /* not new work: no spin on a partial chain */
	p->ops->wake(p);
	fp->head[0][0] = fp_next(fp, fp_next(fp, h0));
	fp_publish(fp, 0, 0);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 1 && frames[0].len == 3000 && frames[0].nfrags == 2);
	p->ops->rx_done(p, (unsigned)n);

	/* oversize frame (33 x 2048 > 64 KiB) is dropped and its slots freed */
	uint8_t *big = calloc(1, 33 * 2048);
	CHECK(fp_tx_put(fp, 0, big, 33 * 2048, 2048) == 33);
	fp_publish(fp, 0, 0);
	CHECK(p->ops->rx_batch(p, frames, VNM_BATCH_MAX) == 0);
	CHECK(p->stats.drop_oversize == 1);
	CHECK(fp->ktoa[0][0]->hwcur == fp->head[0][0]);
	free(big);
	check_works(fp, "oversize");

	/* ---- violations (bad-inputs.md 5, 6) ---- */

	/* head out of range */
	vnm_csb_app_publish(fp->atok[0][0], 100000, 100000);
	expect_reset(fp, VNM_RERR_HEAD, "head >= num_slots");

	/* cur out of range. (On a TX ring whose slots were all returned every head
	 * < num_slots is legal: backwards / past tail are tested on RX below.) */
	vnm_csb_app_publish(fp->atok[0][0], fp->head[0][0], 5000);
	expect_reset(fp, VNM_RERR_CUR, "cur >= num_slots");

	/* cur before head */
	fp_tx_put(fp, 0, d, 60, 2048);
	fp_tx_put(fp, 0, d, 60, 2048);
	vnm_csb_app_publish(fp->atok[0][0], fp->head[0][0], fp_next(fp, fp->ktoa[0][0]->hwcur));
	expect_reset(fp, VNM_RERR_CUR, "cur before head");

	/* buf_idx 0, 1, huge; len over the buffer */
	uint32_t bad_idx[3] = { 0, 1, 0xfffffff0u };
	for (int b = 0; b < 3; b++) {
		uint32_t at = fp->head[0][0];
		fp_tx_put(fp, 0, d, 60, 2048);
		fp_tx_put(fp, 0, d, 60, 2048);
		fp_slot(fp, 0, 0, fp_next(fp, at))->buf_idx = bad_idx[b];
		fp_publish(fp, 0, 0);
		uint64_t dbs = p->stats.drop_bad_slot;
		expect_reset(fp, VNM_RERR_BUF_IDX, "bad buf_idx");
		CHECK(p->stats.drop_bad_slot == dbs + 1);
		CHECK(p->stats.rx_packets > 0);
	}
	{
		uint32_t at = fp->head[0][0];
		fp_tx_put(fp, 0, d, 60, 2048);
		fp_slot(fp, 0, 0, at)->len = 2049;
		fp_publish(fp, 0, 0);
		expect_reset(fp, VNM_RERR_LEN, "len > buf_size");
	}

	/* a 65-slot chain */
	{
		uint8_t *c = calloc(1, 65 * 64);
		CHECK(fp_tx_put(fp, 0, c, 65 * 64, 64) == 65);
		fp_publish(fp, 0, 0);
		expect_reset(fp, VNM_RERR_CHAIN, "65-slot chain");
		/* 64 is fine */
		CHECK(fp_tx_put(fp, 0, c, 64 * 64, 64) == 64);
		fp_publish(fp, 0, 0);
		n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
		CHECK(n == 1 && frames[0].nfrags == 64 && frames[0].len == 64 * 64);
		p->ops->rx_done(p, (unsigned)n);
		free(c);
	}
	/* a chain that fills every slot the client owns and never ends */
	{
		struct fakeport *f2 = fp_create("t:chain", 1, 1, 64, 2048, 0);
		uint8_t *c = calloc(1, 63 * 16);
		/* 63 slots, all MOREFRAG: nothing could ever terminate it */
		CHECK(fp_tx_put(f2, 0, c, 63 * 16, 16) == 63);
		fp_slot(f2, 0, 0, 62)->flags = NS_MOREFRAG;
		fp_publish(f2, 0, 0);
		CHECK(f2->dp->ops->rx_batch(f2->dp, frames, VNM_BATCH_MAX) == 0);
		CHECK(f2->ktoa[0][0]->err_count == 1 && f2->ktoa[0][0]->err_reason == VNM_RERR_CHAIN);
		fp_resync(f2, 0, 0);
		check_works(f2, "unterminated chain");
		free(c);
		fp_destroy(f2);
	}
	/* frames before a bad slot in the same ring are not delivered (head reset) */
	{
		uint64_t pk = p->stats.rx_packets;
		uint32_t at = fp->head[0][0];
		fp_tx_put(fp, 0, d, 60, 2048);
		fp_tx_put(fp, 0, d, 60, 2048);
		fp_slot(fp, 0, 0, fp_next(fp, at))->buf_idx = 1;
		fp_publish(fp, 0, 0);
		CHECK(p->ops->rx_batch(p, frames, VNM_BATCH_MAX) == 0);
		p->ops->rx_done(p, 0);
		CHECK(p->stats.rx_packets == pk);
		CHECK(fp->ktoa[0][0]->hwcur == at);
		fp_resync(fp, 0, 0);
		fp_slot(fp, 0, 0, fp_next(fp, at))->buf_idx = 2 + fp_next(fp, at);
		check_works(fp, "after bad slot mid-batch");
	}
	CHECK(p->stats.ring_resets == fp->ktoa[0][0]->err_count);
	fp_destroy(fp);
}

/* A second ring, round robin and a violation on one ring not affecting the other. */
static void test_multi_ring(void)
{
	struct fakeport *fp = fp_create("t:mr", 2, 1, 64, 2048, 0);
	struct vnm_dport *p = fp->dp;
	uint8_t d[60];

	fp_fill(d, 60, 9);
	for (int i = 0; i < 10; i++) {
		fp_tx_put(fp, 0, d, 60, 2048);
		fp_tx_put(fp, 1, d, 60, 2048);
	}
	fp_publish(fp, 0, 0);
	fp_publish(fp, 0, 1);
	int n = p->ops->rx_batch(p, frames, 15);
	CHECK(n == 15);
	p->ops->rx_done(p, 15);
	n = p->ops->rx_batch(p, frames, 15);
	CHECK(n == 5);
	p->ops->rx_done(p, 5);
	CHECK(fp->ktoa[0][0]->hwcur == 10 && fp->ktoa[0][1]->hwcur == 10);

	vnm_csb_app_publish(fp->atok[0][0], 9999, 9999);
	fp_tx_put(fp, 0 + 1, d, 60, 2048);
	fp_publish(fp, 0, 1);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 1);
	p->ops->rx_done(p, 1);
	CHECK(fp->ktoa[0][0]->err_count == 1 && fp->ktoa[0][1]->err_count == 0);
	fp_destroy(fp);
}

static void mkframe(struct vnm_frame *f, const uint8_t *data, unsigned len, unsigned frag)
{
	memset(f, 0, sizeof(*f));
	f->len = len;
	for (unsigned off = 0; off < len || f->nfrags == 0; off += frag) {
		unsigned l = len - off > frag ? frag : len - off;
		f->frag[f->nfrags] = data + off;
		f->frag_len[f->nfrags++] = (uint16_t)l;
		if (l == 0)
			break;
	}
}

static void test_deliver(void)
{
	struct fakeport *fp = fp_create("t:rx", 1, 1, 64, 2048, 0);
	struct vnm_dport *p = fp->dp;
	static uint8_t d[9000], out[10000];
	uint16_t idx[128];
	unsigned nsl;

	for (int i = 0; i < 128; i++)
		idx[i] = (uint16_t)i;
	/* no client bound to rx ring 0: unlimited for lossless senders */
	CHECK(p->ops->space(p) > 1000);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	vnm_nmport_set_notify(p, 1, 0, sv[0]);
	CHECK(p->ops->space(p) == 63);

	/* 9000 bytes from 3 source fragments of 3000: 5 slots, MOREFRAG on 4 */
	fp_fill(d, sizeof(d), 5);
	mkframe(&frames[0], d, 9000, 3000);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	CHECK(fp_rx_avail(fp, 0) == 0); /* not published before flush */
	p->ops->deliver_flush(p);
	CHECK(fp_rx_avail(fp, 0) == 5);
	for (uint32_t s = 0; s < 5; s++) {
		struct netmap_slot *sl = fp_slot(fp, 1, 0, s);
		CHECK(sl->len == (s < 4 ? 2048 : 9000 - 4 * 2048));
		CHECK((sl->flags & NS_MOREFRAG) == (s < 4 ? NS_MOREFRAG : 0));
		CHECK(NS_RFRAGS(sl) == 5);
	}
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), &nsl) == 9000 && nsl == 5);
	CHECK(!memcmp(out, d, 9000));
	CHECK(p->stats.tx_packets == 1 && p->stats.tx_bytes == 9000);

	/* single-slot sizes around the copy thresholds */
	unsigned sizes[] = { 0, 1, 7, 8, 15, 16, 31, 32, 33, 60, 63, 64, 65, 1514, 2048 };
	unsigned ns = sizeof(sizes) / sizeof(sizes[0]);
	for (unsigned i = 0; i < ns; i++)
		mkframe(&frames[i], d + i, sizes[i], 2048);
	CHECK(p->ops->deliver(p, frames, idx, ns) == (int)ns);
	p->ops->deliver_flush(p);
	for (unsigned i = 0; i < ns; i++) {
		memset(out, 0xee, 4096);
		int l = fp_rx_get(fp, 0, out, sizeof(out), &nsl);
		CHECK(l == (int)sizes[i] && nsl == 1);
		CHECK(!memcmp(out, d + i, sizes[i]));
	}

	/* full RX ring: deliver takes fewer */
	for (int i = 0; i < 100; i++)
		mkframe(&frames[i], d, 60, 2048);
	CHECK(p->ops->space(p) == 63);
	CHECK(p->ops->deliver(p, frames, idx, 100) == 63);
	CHECK(p->ops->deliver(p, frames, idx, 10) == 0);
	p->ops->deliver_flush(p);
	CHECK(fp_rx_avail(fp, 0) == 63);
	CHECK(p->ops->space(p) == 0);
	for (int i = 0; i < 10; i++)
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);
	CHECK(p->ops->space(p) == 10);
	/* a multi-slot frame that does not fit entirely is not delivered */
	mkframe(&frames[0], d, 9000, 9000 > 2048 ? 2048 : 9000);
	for (int i = 0; i < 7; i++)
		mkframe(&frames[1 + i], d, 60, 2048);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1); /* 5 slots of 10 */
	CHECK(p->ops->deliver(p, frames, idx, 2) == 1); /* 5 left: 9000 takes 5, 60 has none */
	p->ops->deliver_flush(p);
	while (fp_rx_get(fp, 0, out, sizeof(out), NULL) >= 0)
		;
	CHECK(p->ops->space(p) == 63);

	/* bad RX slot: nothing written there, counted, ring reset once */
	{
		uint32_t t = fp->ktoa[1][0]->hwtail;
		uint32_t keep = fp_slot(fp, 1, 0, t)->buf_idx;
		uint32_t errc = fp->ktoa[1][0]->err_count;
		fp_slot(fp, 1, 0, t)->buf_idx = 1;
		mkframe(&frames[0], d, 60, 2048);
		mkframe(&frames[1], d, 60, 2048);
		CHECK(p->ops->deliver(p, frames, idx, 2) == 2); /* taken = dropped */
		CHECK(p->stats.drop_bad_slot == 2);
		CHECK(fp->ktoa[1][0]->err_count == errc + 1);
		CHECK(fp->ktoa[1][0]->err_reason == VNM_RERR_BUF_IDX);
		CHECK(fp_slot(fp, 1, 0, t)->buf_idx == 0);
		/* again: buf_idx 0 after the reset: dropped and counted, no new reset */
		CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
		CHECK(p->stats.drop_bad_slot == 3);
		CHECK(fp->ktoa[1][0]->err_count == errc + 1);
		p->ops->deliver_flush(p);
		CHECK(fp_rx_avail(fp, 0) == 0);
		/* the client repairs its slot: delivery resumes */
		fp_slot(fp, 1, 0, t)->buf_idx = keep;
		CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
		p->ops->deliver_flush(p);
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);
		CHECK(p->stats.ring_resets == 1);
	}
	/* RX head violations: reset, and delivery still works */
	{
		/* 3 frames delivered, client takes 1: hwcur 1, hwtail 3 (relative) */
		uint32_t errc = fp->ktoa[1][0]->err_count;
		for (int i = 0; i < 3; i++)
			mkframe(&frames[i], d, 60, 2048);
		CHECK(p->ops->deliver(p, frames, idx, 3) == 3);
		p->ops->deliver_flush(p);
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);
		CHECK(p->ops->space(p) == 63 - 2); /* the daemon saw the release */
		uint32_t h = fp->head[1][0];
		uint32_t t = fp->ktoa[1][0]->hwtail;
		/* head past tail */
		uint32_t past = t + 1 == fp->nslots ? 0 : t + 1;
		vnm_csb_app_publish(fp->atok[1][0], past, past);
		CHECK(p->ops->space(p) == 63 - 2);
		CHECK(fp->ktoa[1][0]->err_count == errc + 1);
		CHECK(fp->ktoa[1][0]->err_reason == VNM_RERR_HEAD);
		/* head backwards (behind hwcur) */
		uint32_t back = h == 0 ? fp->nslots - 1 : h - 1;
		vnm_csb_app_publish(fp->atok[1][0], back, back);
		CHECK(p->ops->space(p) == 63 - 2);
		CHECK(fp->ktoa[1][0]->err_count == errc + 2);
		CHECK(fp->ktoa[1][0]->err_reason == VNM_RERR_HEAD);
		/* cur before head */
		vnm_csb_app_publish(fp->atok[1][0], fp_next(fp, h), h);
		CHECK(p->ops->space(p) == 63 - 2);
		CHECK(fp->ktoa[1][0]->err_count == errc + 3);
		CHECK(fp->ktoa[1][0]->err_reason == VNM_RERR_CUR);
		/* cur past tail */
		vnm_csb_app_publish(fp->atok[1][0], h, past);
		CHECK(p->ops->space(p) == 63 - 2);
		CHECK(fp->ktoa[1][0]->err_count == errc + 4);
		CHECK(fp->ktoa[1][0]->err_reason == VNM_RERR_CUR);
		fp_resync(fp, 1, 0);
		CHECK(fp->head[1][0] == h);
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);
		CHECK(p->ops->space(p) == 63);
		CHECK(p->stats.ring_resets == 1 + 4);
	}
	{
		vnm_csb_app_publish(fp->atok[1][0], 7777, 7777);
		mkframe(&frames[0], d, 60, 2048);
		CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
		p->ops->deliver_flush(p);
		CHECK(fp->ktoa[1][0]->err_reason == VNM_RERR_HEAD);
		fp_resync(fp, 1, 0);
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);
	}
	close(sv[0]);
	close(sv[1]);
	fp_destroy(fp);
}

static void test_notify(void)
{
	struct fakeport *fp = fp_create("t:nt", 1, 1, 64, 2048, 0);
	struct vnm_dport *p = fp->dp;
	int sv[2]; /* sv[0] daemon end, sv[1] app end */
	uint8_t d[60], b[4096];
	uint16_t idx[1] = { 0 };

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	vnm_nmport_set_notify(p, 0, 0, sv[0]);
	vnm_nmport_set_notify(p, 1, 0, sv[0]);

	/* RX: armed client gets one byte, unarmed gets none */
	fp_fill(d, 60, 3);
	mkframe(&frames[0], d, 60, 2048);
	p->ops->deliver(p, frames, idx, 1);
	p->ops->deliver_flush(p);
	CHECK(recv(sv[1], b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN);
	vnm_csb_app_arm(fp->atok[1][0], fp->ktoa[1][0]);
	p->ops->deliver(p, frames, idx, 1);
	p->ops->deliver_flush(p);
	CHECK(recv(sv[1], b, sizeof(b), MSG_DONTWAIT) == 1);
	CHECK(fp->atok[1][0]->appl_need_kick == 0);

	/* TX: the armed client's filler is drained when slots come back */
	vnm_csb_app_arm(fp->atok[0][0], fp->ktoa[0][0]);
	memset(b, 0, VNM_NOTIFY_FILL);
	CHECK(send(sv[1], b, VNM_NOTIFY_FILL, 0) == VNM_NOTIFY_FILL);
	fp_tx_put(fp, 0, d, 60, 2048);
	fp_publish(fp, 0, 0);
	int n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 1);
	p->ops->rx_done(p, 1);
	CHECK(recv(sv[0], b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN);
	CHECK(fp->atok[0][0]->appl_need_kick == 0);

	/* no client bound: no notification, no crash */
	vnm_nmport_set_notify(p, 1, 0, -1);
	vnm_csb_app_arm(fp->atok[1][0], fp->ktoa[1][0]);
	p->ops->deliver(p, frames, idx, 1);
	p->ops->deliver_flush(p);
	vnm_nmport_set_notify(p, 1, 0, sv[0]);

	/* sleep_prepare: idle -> 0 and need-kick set; new head -> 1; wake clears */
	CHECK(p->ops->sleep_prepare(p) == 0);
	CHECK(fp->ktoa[0][0]->kern_need_kick == 1);
	fp_tx_put(fp, 0, d, 60, 2048);
	fp_publish(fp, 0, 0);
	CHECK(vnm_csb_app_need_kick(fp->ktoa[0][0]));
	CHECK(p->ops->sleep_prepare(p) == 1);
	p->ops->wake(p);
	CHECK(fp->ktoa[0][0]->kern_need_kick == 0);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	p->ops->rx_done(p, (unsigned)n);
	/* after space() (a lossless source waits) rx is armed too: the client freeing slots wakes us */
	while (fp_rx_get(fp, 0, b, sizeof(b), NULL) >= 0)
		;
	p->ops->space(p);
	CHECK(p->ops->sleep_prepare(p) == 0);
	CHECK(fp->ktoa[1][0]->kern_need_kick == 1);
	p->ops->wake(p);
	p->ops->deliver(p, frames, idx, 1);
	p->ops->deliver_flush(p);
	p->ops->space(p);
	CHECK(p->ops->sleep_prepare(p) == 0);
	CHECK(fp_rx_get(fp, 0, b, sizeof(b), NULL) == 60);
	CHECK(p->ops->sleep_prepare(p) == 1);
	p->ops->wake(p);
	close(sv[0]);
	close(sv[1]);
	fp_destroy(fp);
}

/* Random garbage from the client on both rings: nothing out of bounds, indices sane. */
static void test_random(void)
{
	struct fakeport *fp = fp_create("t:rnd", 1, 1, 64, 2048, 0);
	struct vnm_dport *p = fp->dp;
	char *lo = fp->buf_base + 2 * 2048, *hi = fp->buf_base + (size_t)fp->nbufs * 2048;
	uint16_t idx[VNM_BATCH_MAX];
	unsigned seed = 12345;

	for (int i = 0; i < VNM_BATCH_MAX; i++)
		idx[i] = (uint16_t)i;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 8))
	for (int it = 0; it < 20000; it++) {
		for (int dir = 0; dir < 2; dir++) {
			if (RND() % 2) { /* a client that (re)fills its slots properly */
				for (unsigned q = 0; q < 64; q++) {
					struct netmap_slot *sl = fp_slot(fp, dir, 0, q);
					sl->buf_idx = 2 + q + 64 * (unsigned)dir;
					sl->len = (uint16_t)(RND() % 2049);
					sl->flags = RND() % 8 ? 0 : NS_MOREFRAG;
				}
			}
			unsigned nw = RND() % 4 == 0;
			for (unsigned w = 0; w < nw; w++) {
				struct netmap_slot *sl = fp_slot(fp, dir, 0, RND() % 64);
				switch (RND() % 10) {
				case 0: sl->buf_idx = RND() % 3; break;
				case 1: sl->buf_idx = RND(); break;
				case 7: sl->len = (uint16_t)RND(); break;
				case 8: sl->len = (uint16_t)(RND() % 2049); break;
				case 9: sl->flags ^= NS_MOREFRAG; break;
				default: sl->buf_idx = 2 + RND() % (fp->nbufs - 2); break;
				}
			}
			uint32_t t = fp->ktoa[dir][0]->hwtail, h;
			switch (RND() % 10) {
			case 0: h = RND(); break;
			case 1: h = RND() % 64; break;
			default: h = t; break; /* valid: everything */
			}
			vnm_csb_app_publish(fp->atok[dir][0], h, RND() % 10 ? h : RND() % 70);
		}
		int n = p->ops->rx_batch(p, frames, 1 + RND() % 80);
		CHECK(n >= 0 && n <= 80);
		for (int f = 0; f < n; f++) {
			CHECK(frames[f].nfrags >= 1 && frames[f].nfrags <= NM_MAX_FRAGS);
			CHECK(frames[f].len <= VNM_FRAME_MAX);
			uint32_t tot = 0;
			for (unsigned g = 0; g < frames[f].nfrags; g++) {
				const char *b = (const char *)frames[f].frag[g];
				CHECK(b >= lo && b + frames[f].frag_len[g] <= hi);
				CHECK(frames[f].frag_len[g] <= 2048);
				tot += frames[f].frag_len[g];
			}
			CHECK(tot == frames[f].len);
		}
		int nd = n ? p->ops->deliver(p, frames, idx, (unsigned)n) : 0;
		CHECK(nd >= 0 && nd <= n);
		p->ops->deliver_flush(p);
		p->ops->rx_done(p, n ? RND() % (unsigned)(n + 1) : 0);
		for (int dir = 0; dir < 2; dir++) {
			struct vnm_kring *k = vnm_nmport_kring(p, dir, 0);
			CHECK(k->nr_hwcur < 64 && k->nr_hwtail < 64);
			CHECK(fp->ktoa[dir][0]->hwtail < 64 && fp->ktoa[dir][0]->hwcur < 64);
		}
		struct vnm_kring *kt = vnm_nmport_kring(p, 0, 0);
		CHECK(kt->nr_hwtail == (kt->nr_hwcur + 63) % 64);
		if (fails)
			break;
	}
#undef RND
	CHECK(p->stats.ring_resets > 100);
	if (getenv("VERBOSE") || p->stats.rx_packets <= 1000 || p->stats.tx_packets <= 1000)
		fprintf(stderr, "random: rx %lu tx %lu resets %lu\n", (unsigned long)p->stats.rx_packets, (unsigned long)p->stats.tx_packets,
			(unsigned long)p->stats.ring_resets);
	CHECK(p->stats.rx_packets > 1000 && p->stats.tx_packets > 1000);
	fp_destroy(fp);
}

/* fold(sum of the delivered bytes [start, len) + the pseudo-header partial) == 0xffff */
static int csum_ok(const uint8_t *d, uint32_t len, uint32_t start, uint16_t partial)
{
	uint64_t sum = partial;
	for (uint32_t i = start; i < len; i++)
		sum += (uint32_t)d[i] << (((i - start) & 1) ? 0 : 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* Offloaded frames (VNM_FRAME_F_VNET) to a netmap client: checksum completed, GSO dropped. */
static void test_offload(void)
{
	struct fakeport *fp = fp_create("t:vnet", 1, 1, 64, 2048, 0);
	struct vnm_dport *p = fp->dp;
	static uint8_t d[6000], out[8000];
	uint16_t idx[4] = { 0, 1, 2, 3 };
	struct virtio_net_hdr_mrg h;
	unsigned nsl;

	/* one slot, one fragment: UDP checksum at 34 + 6, partial 0x1234 in the field */
	fp_fill(d, 200, 11);
	d[40] = 0x12;
	d[41] = 0x34;
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 6;
	mkframe(&frames[0], d, 200, 2048);
	frames[0].flags = VNM_FRAME_F_VNET;
	frames[0].vnet_hdr = &h;
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	p->ops->deliver_flush(p);
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), &nsl) == 200 && nsl == 1);
	CHECK(csum_ok(out, 200, 34, 0x1234));
	CHECK(!memcmp(out, d, 40) && !memcmp(out + 42, d + 42, 200 - 42));

	/* odd-sized source fragments (33, 33, ...) */
	mkframe(&frames[0], d, 200, 33);
	frames[0].flags = VNM_FRAME_F_VNET;
	frames[0].vnet_hdr = &h;
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	p->ops->deliver_flush(p);
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), &nsl) == 200 && nsl == 1);
	CHECK(csum_ok(out, 200, 34, 0x1234));

	/* 5001 bytes over 3 slots, odd start, the field straddling two slots (2047, 2048) */
	fp_fill(d, 5001, 3);
	h.csum_start = 2041;
	h.csum_offset = 6;
	d[2047] = 0xab;
	d[2048] = 0xcd;
	mkframe(&frames[0], d, 5001, 1001);
	frames[0].flags = VNM_FRAME_F_VNET;
	frames[0].vnet_hdr = &h;
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	p->ops->deliver_flush(p);
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), &nsl) == 5001 && nsl == 3);
	CHECK(csum_ok(out, 5001, 2041, 0xabcd));
	CHECK(!memcmp(out, d, 2047) && !memcmp(out + 2049, d + 2049, 5001 - 2049));

	/* GSO: dropped (drop_gso), taken; a bad csum position: dropped; no offload: as is */
	struct virtio_net_hdr_mrg g = { .gso_type = 1, .gso_size = 1448 }, bad = h, none = { 0 };
	bad.csum_start = 4999;
	mkframe(&frames[0], d, 3000, 2048);
	frames[0].flags = VNM_FRAME_F_VNET;
	frames[0].vnet_hdr = &g;
	mkframe(&frames[1], d, 60, 2048);
	mkframe(&frames[2], d, 3000, 2048);
	frames[2].flags = VNM_FRAME_F_VNET;
	frames[2].vnet_hdr = &bad;
	mkframe(&frames[3], d, 100, 2048);
	frames[3].flags = VNM_FRAME_F_VNET;
	frames[3].vnet_hdr = &none;
	uint64_t tx0 = p->stats.tx_packets;
	CHECK(p->ops->deliver(p, frames, idx, 4) == 4);
	p->ops->deliver_flush(p);
	CHECK(p->stats.drop_gso == 2);
	CHECK(p->stats.tx_packets == tx0 + 2);
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 100 && !memcmp(out, d, 100));
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) < 0);
	fp_destroy(fp);
}

/* A TCPv4 GSO frame in d: 14 + 20 + 20 + paylen bytes, gso_size mss. */
static uint32_t mk_tso(uint8_t *d, uint32_t paylen, struct virtio_net_hdr_mrg *h, uint16_t mss)
{
	uint32_t len = 54 + paylen;
	memset(d, 0, 54);
	memcpy(d, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	d[14] = 0x45;
	d[16] = (uint8_t)((len - 14) >> 8);
	d[17] = (uint8_t)(len - 14);
	d[22] = 64;
	d[23] = 6;
	d[46] = 0x50;
	d[47] = 0x18;
	fp_fill(d + 54, paylen, 9);
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = mss;
	h->hdr_len = 54;
	h->csum_start = 34;
	h->csum_offset = 16;
	return len;
}

/* Software segmentation into a client without a header; headers with VNM_CTL_HDR_SET. */
static void test_gso(void)
{
	struct fakeport *fp = fp_create("t:gso", 1, 1, 16, 2048, 0);
	struct vnm_dport *p = fp->dp;
	static uint8_t d[8000], out[8000];
	uint16_t idx[2] = { 0, 1 };
	struct virtio_net_hdr_mrg h;
	unsigned nsl;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	vnm_nmport_set_notify(p, 1, 0, sv[0]);
	uint32_t len = mk_tso(d, 3000, &h, 1000); /* 3 segments of 1054 bytes */
	mkframe(&frames[0], d, len, 777);
	frames[0].flags = VNM_FRAME_F_VNET;
	frames[0].vnet_hdr = &h;
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	p->ops->deliver_flush(p);
	CHECK(p->stats.gso_segs == 3 && p->stats.tx_packets == 3 && p->stats.drop_gso == 0);
	CHECK(p->stats.tx_bytes == 3 * 1054);
	for (int i = 0; i < 3; i++) {
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), &nsl) == 1054 && nsl == 1);
		CHECK(!memcmp(out + 54, d + 54 + i * 1000, 1000));
		CHECK(out[17] == (uint8_t)(1054 - 14) && out[16] == (uint8_t)((1054 - 14) >> 8));
	}
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) < 0);

	/* all or none: 15 slots free, 13 taken by plain frames, 2 left for 3 segments */
	for (int i = 0; i < 13; i++) {
		mkframe(&frames[1], d, 60, 2048);
		CHECK(p->ops->deliver(p, frames, idx + 1, 1) == 1);
	}
	CHECK(p->ops->deliver(p, frames, idx, 1) == 0);
	p->ops->deliver_flush(p);
	CHECK(fp_rx_avail(fp, 0) == 13 && p->stats.gso_segs == 3);
	for (int i = 0; i < 13; i++)
		CHECK(fp_rx_get(fp, 0, out, sizeof(out), NULL) == 60);

	/* a header of 12 bytes on the port: the GSO frame passes whole, its header first */
	CHECK(vnm_nmport_set_hdr(p, 11) == -EINVAL);
	CHECK(vnm_nmport_set_hdr(p, 12) == 0 && vnm_nmport_get_hdr(p) == 12);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	p->ops->deliver_flush(p);
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), &nsl) == (int)(12 + len) && nsl == 2);
	CHECK(!memcmp(out, &h, 10) && out[10] == 0 && out[11] == 0 && !memcmp(out + 12, d, len));
	CHECK(p->stats.gso_segs == 3);
	/* a plain frame gets a zero header (10 bytes now) */
	CHECK(vnm_nmport_set_hdr(p, 10) == 0);
	mkframe(&frames[1], d, 60, 2048);
	CHECK(p->ops->deliver(p, frames, idx + 1, 1) == 1);
	p->ops->deliver_flush(p);
	static const uint8_t zero[12];
	CHECK(fp_rx_get(fp, 0, out, sizeof(out), &nsl) == 70 && !memcmp(out, zero, 10) &&
	      !memcmp(out + 10, d, 60));

	/* TX with a header: offloads travel as VNM_FRAME_F_VNET, plain headers as plain */
	CHECK(vnm_nmport_set_hdr(p, 12) == 0);
	static uint8_t w[8000];
	memcpy(w, &h, 12);
	memcpy(w + 12, d, len);
	{
		/* the header split over 3 slots: 5 + 4 + 2000 + the rest */
		static const unsigned cut[4] = { 5, 4, 2000, 0 };
		uint32_t hd = fp->head[0][0], off = 0;
		for (int k = 0; k < 4; k++) {
			struct netmap_slot *sl = fp_slot(fp, 0, 0, hd);
			unsigned l = k < 3 ? cut[k] : 12 + len - off;
			memcpy(fp_buf(fp, sl->buf_idx), w + off, l);
			sl->len = (uint16_t)l;
			sl->flags = k < 3 ? NS_MOREFRAG : 0;
			off += l;
			hd = fp_next(fp, hd);
		}
		fp->head[0][0] = hd;
	}
	memset(w, 0, 12);
	memcpy(w + 12, d, 60);
	CHECK(fp_tx_put(fp, 0, w, 72, 2048) > 0);
	memcpy(w, &h, 12);
	w[0] = 0x40; /* an unknown flag: a bad header */
	CHECK(fp_tx_put(fp, 0, w, 72, 2048) > 0);
	CHECK(fp_tx_put(fp, 0, w, 12, 2048) > 0); /* a header and nothing: a runt */
	memset(w, 0, 12);
	CHECK(fp_tx_put(fp, 0, w, 72, 2048) > 0);
	fp_publish(fp, 0, 0);
	uint64_t bad0 = p->stats.drop_bad_slot, runt0 = p->stats.drop_runt;
	CHECK(p->ops->rx_batch(p, frames, 16) == 3);
	CHECK(frames[0].flags == VNM_FRAME_F_VNET && frames[0].len == len);
	CHECK(frames[0].vnet_hdr && !memcmp(frames[0].vnet_hdr, &h, 10));
	uint8_t back[8000];
	uint32_t o = 0;
	for (unsigned i = 0; i < frames[0].nfrags; i++) {
		memcpy(back + o, frames[0].frag[i], frames[0].frag_len[i]);
		o += frames[0].frag_len[i];
	}
	CHECK(o == len && !memcmp(back, d, len));
	CHECK(frames[1].flags == 0 && frames[1].len == 60 && !memcmp(frames[1].frag[0], d, 60));
	CHECK(frames[2].flags == 0 && frames[2].len == 60);
	CHECK(p->stats.drop_bad_slot == bad0 + 1 && p->stats.drop_runt == runt0 + 1);
	p->ops->rx_done(p, 3);
	CHECK(vnm_nmport_set_hdr(p, 0) == 0);
	close(sv[0]);
	close(sv[1]);
	fp_destroy(fp);
}

int main(void)
{
	test_tx();
	test_multi_ring();
	test_deliver();
	test_notify();
	test_offload();
	test_gso();
	test_random();
	return fails ? 1 : 0;
}
