// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: split virtqueues over a fake guest memory (a memfd laid out by the test) and
 * the vhost-user switch port on top: valid TX chains (one buffer, split header,
 * indirect), every bad-input class 13-18 of the reference list (each counted, the
 * chain consumed, the queue still working for a valid chain afterwards), RX with
 * mergeable buffers and num_buffers, EVENT_IDX both ways, the port's batch and
 * in-order used marking, offloads (checksum completed in software, GSO dropped
 * for a guest that did not negotiate it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "../../daemon/vhost/vhost_vq.c"
#include "../../daemon/vhost/vhost_msg.c"
#include "../../daemon/vhost/vhost_conn.c"
#include "../../daemon/ports/vhost_port.c"
#include "../../daemon/vhost/gso.c"
#include "unit/fakeguest.h"

#include "unit/vhost_stubs.h"

#define ALL_F (VHOST_NET_FEATURES & ~VHOST_BIT(VHOST_USER_F_PROTOCOL_FEATURES))
#define NUM 8

static struct fakeguest g;
static struct vhost_vq vq;
static struct vhost_iov iov[VHOST_IOV_MAX];

static int pop(int writable, unsigned *niov, uint16_t *head, uint32_t *total)
{
	CHECK(vhost_vq_avail(&vq) >= 1);
	return vhost_vq_pop(&vq, writable, iov, VHOST_IOV_MAX, niov, head, total);
}

/* A valid 2-descriptor TX chain at descs 0,1 still works (after a bad case). */
static void check_valid_after(const char *what)
{
	unsigned niov;
	uint16_t head;
	uint32_t total;

	fg_set_desc(&g, 1, 0, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 1);
	fg_set_desc(&g, 1, 1, fg_gpa(FG_BUF0 + 4096), 60, 0, 0);
	fg_post(&g, 1, 0);
	int ret = pop(0, &niov, &head, &total);
	if (ret != 0 || niov != 2 || head != 0 || total != 72 ||
	    iov[0].base != g.base + FG_BUF0 || iov[1].base != g.base + FG_BUF0 + 4096) {
		fprintf(stderr, "valid chain after %s: ret %d niov %u total %u\n", what, ret, niov,
			total);
		fails++;
	}
	vhost_vq_used(&vq, head, 0);
	vhost_vq_publish(&vq);
}

/* Post head and expect pop to fail with err, consuming the chain. */
static void expect_bad(uint16_t head, int writable, int err, uint64_t *counter, const char *what)
{
	unsigned niov;
	uint16_t h;
	uint32_t total;
	uint64_t before = *counter;
	uint16_t la = vq.last_avail;

	fg_post(&g, 1, head);
	int ret = pop(writable, &niov, &h, &total);
	if (ret != err || *counter != before + 1 || vq.last_avail != (uint16_t)(la + 1)) {
		fprintf(stderr, "%s: ret %d (want %d), counter %llu -> %llu\n", what, ret, err,
			(unsigned long long)before, (unsigned long long)*counter);
		fails++;
	}
	vhost_vq_used(&vq, h, 0);
	vhost_vq_publish(&vq);
	check_valid_after(what);
}

static void test_valid_chains(void)
{
	unsigned niov;
	uint16_t head;
	uint32_t total;

	CHECK(fg_vq_start(&g, &vq, 1, NUM, ALL_F) == 0);
	check_valid_after("start");
	/* header split over 12 one-byte descriptors, then data: fine (ANY_LAYOUT) */
	for (unsigned i = 0; i < 6; i++)
		fg_set_desc(&g, 1, i, fg_gpa(FG_BUF0 + i), 2, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	fg_set_desc(&g, 1, 6, fg_gpa(FG_BUF0 + 100), 60, 0, 0);
	fg_post(&g, 1, 0);
	CHECK(pop(0, &niov, &head, &total) == 0 && niov == 7 && total == 72);
	vhost_vq_used(&vq, head, 0);
	/* indirect: table of 3 in region 0 */
	uint32_t t = FG_BUF0 + 0x10000;
	fg_set_idesc(&g, t, 0, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 2);
	fg_set_idesc(&g, t, 2, fg_gpa(FG_BUF0 + 0x100), 100, VRING_DESC_F_NEXT, 1);
	fg_set_idesc(&g, t, 1, fg_gpa(FG_BUF0 + 0x200), 200, 0, 0);
	fg_set_desc(&g, 1, 3, fg_gpa(t), 48, VRING_DESC_F_INDIRECT, 0);
	fg_post(&g, 1, 3);
	CHECK(pop(0, &niov, &head, &total) == 0 && niov == 3 && total == 312 && head == 3);
	vhost_vq_used(&vq, head, 0);
	vhost_vq_publish(&vq);
	/* a direct descriptor, then an indirect one ending the chain */
	fg_set_idesc(&g, t + 0x100, 0, fg_gpa(FG_BUF0 + 0x300), 12, 0, 0);
	fg_set_desc(&g, 1, 4, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 5);
	fg_set_desc(&g, 1, 5, fg_gpa(t + 0x100), 16, VRING_DESC_F_INDIRECT, 0);
	fg_post(&g, 1, 4);
	CHECK(pop(0, &niov, &head, &total) == 0 && niov == 2 && total == 24);
	vhost_vq_used(&vq, head, 0);
	vhost_vq_publish(&vq);
	/* a buffer at the very end of region 1 */
	fg_set_desc(&g, 1, 0, fg_gpa(2 * FG_REGION - 64), 64, 0, 0);
	fg_post(&g, 1, 0);
	CHECK(pop(0, &niov, &head, &total) == 0 && total == 64);
	vhost_vq_used(&vq, head, 0);
	vhost_vq_publish(&vq);
}

/* 13: avail index and chain structure */
static void test_class13(void)
{
	uint16_t *a = fg_avail(&g, 1);

	/* avail idx moved more than the ring size: error, nothing consumed */
	uint16_t la = vq.last_avail;
	__atomic_store_n(&a[1], (uint16_t)(la + NUM + 1), __ATOMIC_RELEASE);
	CHECK(vhost_vq_avail(&vq) == -ERANGE);
	CHECK(vq.st.bad_avail_idx == 1 && vq.last_avail == la);
	__atomic_store_n(&a[1], (uint16_t)(la - 1), __ATOMIC_RELEASE); /* backwards: a jump too */
	CHECK(vhost_vq_avail(&vq) == -ERANGE);
	__atomic_store_n(&a[1], g.avail_idx[1], __ATOMIC_RELEASE);
	CHECK(vhost_vq_avail(&vq) == 0);
	check_valid_after("avail jump");

	expect_bad(NUM, 0, -EINVAL, &vq.st.bad_desc, "head == num");
	expect_bad(0xffff, 0, -EINVAL, &vq.st.bad_desc, "head 0xffff");
	fg_set_desc(&g, 1, 2, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, NUM);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_desc, "next == num");
	fg_set_desc(&g, 1, 2, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 2);
	expect_bad(2, 0, -ELOOP, &vq.st.bad_desc, "self loop");
	fg_set_desc(&g, 1, 2, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 3);
	fg_set_desc(&g, 1, 3, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 2);
	expect_bad(2, 0, -ELOOP, &vq.st.bad_desc, "two-cycle");
	/* a chain through every descriptor then back: longer than the ring */
	for (unsigned i = 0; i < NUM; i++)
		fg_set_desc(&g, 1, i, fg_gpa(FG_BUF0), 1, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % NUM));
	expect_bad(0, 0, -ELOOP, &vq.st.bad_desc, "chain longer than the ring");
}

/* 14: indirect tables */
static void test_class14(void)
{
	uint32_t t = FG_BUF0 + 0x10000;

	for (unsigned i = 0; i < 16; i++)
		fg_set_idesc(&g, t, i, fg_gpa(FG_BUF0), 12, 0, 0);
	fg_set_desc(&g, 1, 2, fg_gpa(t), 40, VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_indirect, "indirect len % 16");
	fg_set_desc(&g, 1, 2, fg_gpa(t), 0, VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_indirect, "indirect len 0");
	fg_set_desc(&g, 1, 2, fg_gpa(t), 16 * (NUM + 1), VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_indirect, "indirect larger than the ring");
	fg_set_idesc(&g, t, 0, fg_gpa(t), 32, VRING_DESC_F_INDIRECT, 0);
	fg_set_desc(&g, 1, 2, fg_gpa(t), 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_indirect, "nested indirect");
	fg_set_desc(&g, 1, 2, fg_gpa(t), 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 3);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_indirect, "INDIRECT with NEXT");
	fg_set_desc(&g, 1, 2, fg_gpa(FG_REGION - 16), 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_indirect, "indirect table across regions");
	fg_set_desc(&g, 1, 2, 0x1000, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_indirect, "indirect table unmapped");
	/* loop inside a table */
	fg_set_idesc(&g, t, 0, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 1);
	fg_set_idesc(&g, t, 1, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 0);
	fg_set_desc(&g, 1, 2, fg_gpa(t), 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -ELOOP, &vq.st.bad_desc, "loop in an indirect table");
	fg_set_idesc(&g, t, 1, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 2);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_desc, "next past the indirect table");
	/* without the feature */
	vq.indirect_ok = 0;
	fg_set_idesc(&g, t, 0, fg_gpa(FG_BUF0), 12, 0, 0);
	fg_set_desc(&g, 1, 2, fg_gpa(t), 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_indirect, "indirect not negotiated");
	vq.indirect_ok = 1;
}

/* 15: buffer addresses and lengths */
static void test_class15(void)
{
	fg_set_desc(&g, 1, 2, 0x5000000, 64, 0, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_addr, "unmapped buffer");
	fg_set_desc(&g, 1, 2, fg_gpa(2 * FG_REGION - 32), 64, 0, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_addr, "buffer past the last region");
	fg_set_desc(&g, 1, 2, fg_gpa(FG_REGION - 32), 64, 0, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_addr, "buffer straddling two regions");
	fg_set_desc(&g, 1, 2, 0x10, 0, 0, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_addr, "zero length, bad address");
	fg_set_desc(&g, 1, 2, fg_gpa(FG_BUF0), 0xffffffffu, 0, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_addr, "length 0xffffffff");
	fg_set_desc(&g, 1, 2, 0xfffffffffffffff0ull, 0x20, 0, 0);
	expect_bad(2, 0, -EFAULT, &vq.st.bad_addr, "address + length wraps");
	/* direction: a device-writable descriptor in a TX chain, read-only in RX */
	fg_set_desc(&g, 1, 2, fg_gpa(FG_BUF0), 64, VRING_DESC_F_WRITE, 0);
	expect_bad(2, 0, -EINVAL, &vq.st.bad_desc, "write-only descriptor in TX");
	fg_set_desc(&g, 1, 2, fg_gpa(FG_BUF0), 64, 0, 0);
	expect_bad(2, 1, -EINVAL, &vq.st.bad_desc, "read-only descriptor in RX");
}

/* 17: virtio-net header fields */
static void test_class17(void)
{
	struct virtio_net_hdr_mrg h;
	const uint64_t f = ALL_F;

	memset(&h, 0, sizeof(h));
	CHECK(vhost_hdr_check(&h, 60, f) == 0);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 6;
	CHECK(vhost_hdr_check(&h, 60, f) == 0);
	CHECK(vhost_hdr_check(&h, 41, f) == -EINVAL); /* csum field past the end */
	h.csum_start = 59;
	h.csum_offset = 0;
	CHECK(vhost_hdr_check(&h, 60, f) == -EINVAL);
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	CHECK(vhost_hdr_check(&h, 60, f) == -EINVAL);
	h.csum_start = 34;
	h.csum_offset = 16;
	CHECK(vhost_hdr_check(&h, 60, f & ~VHOST_BIT(VIRTIO_NET_F_CSUM)) == -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1448;
	h.hdr_len = 54;
	CHECK(vhost_hdr_check(&h, 60000, f) == 0);
	CHECK(vhost_hdr_check(&h, 60000, f & ~VHOST_BIT(VIRTIO_NET_F_HOST_TSO4)) == -EINVAL);
	h.gso_type = 2; /* unknown */
	CHECK(vhost_hdr_check(&h, 60000, f) == -EINVAL);
	h.gso_type = 5;
	CHECK(vhost_hdr_check(&h, 60000, f) == -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	CHECK(vhost_hdr_check(&h, 60000, f) == 0);
	CHECK(vhost_hdr_check(&h, 60000, f & ~VHOST_BIT(VIRTIO_NET_F_HOST_ECN)) == -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	CHECK(vhost_hdr_check(&h, 60000, f) == -EINVAL);
	h.gso_size = 1448;
	h.hdr_len = 60001;
	CHECK(vhost_hdr_check(&h, 60000, f) == -EINVAL);
	h.hdr_len = 54;
	h.flags = 0; /* GSO without the partial checksum */
	CHECK(vhost_hdr_check(&h, 60000, f) == -EINVAL);
	h.flags = 0x40; /* unknown flag */
	h.gso_type = 0;
	CHECK(vhost_hdr_check(&h, 60000, f) == -EINVAL);
}

/* EVENT_IDX both ways, and NO_INTERRUPT without it */
static void test_notify(void)
{
	struct vhost_vq v;
	uint16_t *a = fg_avail(&g, 0);
	int efd = eventfd(0, EFD_NONBLOCK);

	CHECK(fg_vq_start(&g, &v, 0, NUM, ALL_F) == 0);
	v.call_fd = efd;
	/* first call always signals; then only when used_event is crossed */
	v.used_idx = 1;
	CHECK(vhost_vq_need_call(&v) == 1);
	a[2 + NUM] = 5; /* used_event: interrupt when used passes 5 */
	v.used_idx = 3;
	CHECK(vhost_vq_need_call(&v) == 0);
	v.used_idx = 6;
	CHECK(vhost_vq_need_call(&v) == 1);
	v.used_idx = 7;
	CHECK(vhost_vq_need_call(&v) == 0);
	/* avail_event: enable writes last_avail, reports pending work */
	v.last_avail = 4;
	a[1] = 4;
	CHECK(vhost_vq_enable_notify(&v) == 0);
	CHECK(*vq_avail_event(&v) == 4);
	a[1] = 5;
	CHECK(vhost_vq_enable_notify(&v) == 1);
	/* without EVENT_IDX: flags */
	CHECK(fg_vq_start(&g, &v, 0, NUM, ALL_F & ~VHOST_BIT(VIRTIO_RING_F_EVENT_IDX)) == 0);
	vhost_vq_disable_notify(&v);
	CHECK(*vq_used_flags(&v) == VRING_USED_F_NO_NOTIFY);
	CHECK(vhost_vq_enable_notify(&v) == 0 && *vq_used_flags(&v) == 0);
	a[0] = VRING_AVAIL_F_NO_INTERRUPT;
	CHECK(vhost_vq_need_call(&v) == 0);
	a[0] = 0;
	CHECK(vhost_vq_need_call(&v) == 1);
	close(efd);
}

/*
 * The RX interrupt protocol as Linux's virtio_net drives it with EVENT_IDX, interleaved
 * with the device at random (one thread, so the logic, not the ordering): while NAPI
 * runs the driver writes used_event = 0 (virtqueue_disable_cb), consumes, then writes
 * used_event = last_used (enable_cb_prepare) and re-checks. A driver asleep must get
 * an interrupt for the next used entry: never a frame left without one.
 */
static void test_no_lost_interrupt(void)
{
	struct vhost_vq v;
	uint16_t *a = fg_avail(&g, 0);
	uint32_t x = 1;
	uint16_t last_used = 0;
	int asleep = 0, lost = 0, irqs = 0;

	CHECK(fg_vq_start(&g, &v, 0, 256, ALL_F) == 0);
	for (int step = 0; step < 200000; step++) {
		x = x * 1103515245u + 12345u;
		if ((x >> 16) % 3 == 0) {
			/* device: one or more used entries, then at most one interrupt */
			unsigned k = 1 + (x >> 20) % 4;
			for (unsigned i = 0; i < k; i++)
				vhost_vq_used(&v, 0, 64);
			vhost_vq_publish(&v);
			if (vhost_vq_need_call(&v)) {
				irqs++;
				asleep = 0; /* the interrupt schedules NAPI */
				a[2 + 256] = 0; /* virtqueue_disable_cb (event_idx hack) */
			} else if (asleep && *vq_used_idx(&v) != last_used) {
				lost++;
			}
		} else if (!asleep) {
			/* NAPI: consume what is there, then arm and re-check */
			last_used = *vq_used_idx(&v);
			a[2 + 256] = last_used;
			if (*vq_used_idx(&v) == last_used)
				asleep = 1;
			else
				a[2 + 256] = 0;
		}
	}
	CHECK(lost == 0 && irqs > 1000);
}

/* ---- the port ---- */

static struct vhost_port *port;
static struct vnm_frame frames[VNM_BATCH_MAX];

static void port_setup(uint64_t txf, uint64_t rxf)
{
	if (!port)
		port = calloc(1, sizeof(*port));
	free(port->gso_scratch);
	free(port->gso_segs);
	memset(port, 0, sizeof(*port));
	port->dp.ops = &vhost_ops;
	port->dp.sw_idx = -1;
	vhost_dev_init(&port->dev, &vp_dev_ops, port);
	CHECK(fg_vq_start(&g, &port->dev.vq[TXQ], 1, NUM, txf) == 0);
	CHECK(fg_vq_start(&g, &port->dev.vq[RXQ], 0, NUM, rxf) == 0);
}

/* TX chain d (2 descs from 2d): header h, then len bytes of pattern */
static void post_tx(unsigned d, const struct virtio_net_hdr_mrg *h, uint32_t len, uint8_t pat)
{
	uint32_t off = FG_BUF0 + 0x1000 * d;
	uint8_t *p = g.base + off;

	memset(p, 0, 12);
	if (h)
		memcpy(p, h, 12);
	for (uint32_t i = 0; i < len; i++)
		p[64 + i] = (uint8_t)(pat + i);
	fg_set_desc(&g, 1, 2 * d, fg_gpa(off), 12, VRING_DESC_F_NEXT, (uint16_t)(2 * d + 1));
	fg_set_desc(&g, 1, 2 * d + 1, fg_gpa(off + 64), len, 0, 0);
	fg_post(&g, 1, (uint16_t)(2 * d));
}

static void test_port_tx(void)
{
	struct vnm_dport *p = &port->dp;
	uint32_t id, len;

	port_setup(ALL_F, ALL_F);
	post_tx(0, NULL, 60, 1);
	post_tx(1, NULL, 8, 2);      /* a runt for the switch; fine here */
	fg_set_desc(&g, 1, 4, 0x10, 64, 0, 0);
	fg_post(&g, 1, 4);           /* bad: consumed, counted */
	post_tx(3, NULL, 100, 3);
	int n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 3);
	CHECK(frames[0].len == 60 && frames[0].nfrags == 1 && frames[0].frag[0][0] == 1);
	CHECK(frames[2].len == 100 && frames[2].flags == 0);
	CHECK(p->stats.drop_bad_slot == 1);
	/* a lossless stop after one frame: chain 0 used, the rest back to avail */
	p->ops->rx_done(p, 1);
	CHECK(fg_get_used(&g, 1, &id, &len) == 1 && id == 0);
	CHECK(fg_get_used(&g, 1, &id, &len) == 0);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 2);
	p->ops->rx_done(p, 2);
	/* in order: chain 2, the bad one (4), chain 6 */
	CHECK(fg_get_used(&g, 1, &id, &len) == 1 && id == 2);
	CHECK(fg_get_used(&g, 1, &id, &len) == 1 && id == 4);
	CHECK(fg_get_used(&g, 1, &id, &len) == 1 && id == 6);
	CHECK(p->stats.rx_packets == 3);

	/* 16: chain shorter than the header; frame over 64 KiB; bad offload header */
	fg_set_desc(&g, 1, 0, fg_gpa(FG_BUF0), 10, 0, 0);
	fg_post(&g, 1, 0);
	fg_set_desc(&g, 1, 1, fg_gpa(FG_BUF0), 12, VRING_DESC_F_NEXT, 2);
	fg_set_desc(&g, 1, 2, fg_gpa(FG_BUF0 + 0x1000), VHOST_FRAME_MAX + 1, 0, 0);
	fg_post(&g, 1, 1);
	struct virtio_net_hdr_mrg h = { VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 50, 16, 0 };
	post_tx(2, &h, 60, 4); /* csum field past the frame */
	post_tx(3, NULL, 60, 5);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 1 && frames[0].frag[0][0] == 5);
	CHECK(port->dev.vq[TXQ].st.bad_hdr == 2 && port->dev.vq[TXQ].st.oversize == 1);
	CHECK(p->stats.drop_oversize == 1);
	p->ops->rx_done(p, 1);
	for (int k = 0; k < 4; k++)
		CHECK(fg_get_used(&g, 1, &id, &len) == 1);

	/* a valid offload header travels with the frame (a copy, not guest memory) */
	h.csum_start = 34;
	h.csum_offset = 6;
	post_tx(0, &h, 60, 6);
	n = p->ops->rx_batch(p, frames, VNM_BATCH_MAX);
	CHECK(n == 1 && (frames[0].flags & VNM_FRAME_F_VNET));
	CHECK(frames[0].vnet_hdr == &port->hdr[0]);
	p->ops->rx_done(p, 1);
	CHECK(fg_get_used(&g, 1, &id, &len) == 1);

	/* a disabled ring: consumed and dropped */
	port->dev.vq[TXQ].enabled = 0;
	post_tx(0, NULL, 60, 7);
	CHECK(p->ops->rx_batch(p, frames, VNM_BATCH_MAX) == 0);
	CHECK(fg_get_used(&g, 1, &id, &len) == 1);
	port->dev.vq[TXQ].enabled = 1;

	/* bounded batch: max frames per call */
	for (unsigned d = 0; d < 4; d++)
		post_tx(d, NULL, 60, 8);
	CHECK(p->ops->rx_batch(p, frames, 3) == 3);
	p->ops->rx_done(p, 3);
	CHECK(p->ops->rx_batch(p, frames, 3) == 1);
	p->ops->rx_done(p, 1);
}

/* RX buffer d: one writable descriptor of len at region 0 offset FG_BUF0 + 0x40000 + d*0x2000 */
static uint8_t *post_rx(unsigned d, uint32_t len)
{
	uint32_t off = FG_BUF0 + 0x40000 + 0x2000 * d;
	fg_set_desc(&g, 0, d, fg_gpa(off), len, VRING_DESC_F_WRITE, 0);
	fg_post(&g, 0, (uint16_t)d);
	return g.base + off;
}

static void mkframe(struct vnm_frame *f, uint8_t *buf, uint32_t len, unsigned nfr)
{
	memset(f, 0, sizeof(*f));
	uint32_t per = (len + nfr - 1) / nfr;
	for (uint32_t o = 0; o < len; o += per) {
		f->frag[f->nfrags] = buf + o;
		f->frag_len[f->nfrags] = (uint16_t)(len - o < per ? len - o : per);
		f->nfrags++;
	}
	f->len = len;
}

static void test_port_rx(void)
{
	static uint8_t src[4000];
	struct vnm_dport *p = &port->dp;
	uint16_t idx[4] = { 0, 1, 2, 3 };
	uint32_t id, len;

	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13 + 1);
	port_setup(ALL_F, ALL_F);
	/* 18: no RX buffers: nothing taken (the switch counts drop_full), no spin */
	mkframe(&frames[0], src, 60, 1);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 0);
	CHECK(port->dev.vq[RXQ].st.no_rxbuf == 1);

	/* mergeable: 3000 bytes in 3 fragments over two 2048-byte buffers */
	uint8_t *b0 = post_rx(0, 2048);
	uint8_t *b1 = post_rx(1, 2048);
	mkframe(&frames[0], src, 3000, 3);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	p->ops->deliver_flush(p);
	struct virtio_net_hdr_mrg h;
	memcpy(&h, b0, 12);
	CHECK(h.num_buffers == 2 && h.flags == 0 && h.gso_type == 0);
	CHECK(memcmp(b0 + 12, src, 2036) == 0 && memcmp(b1, src + 2036, 964) == 0);
	CHECK(fg_get_used(&g, 0, &id, &len) == 1 && id == 0 && len == 2048);
	CHECK(fg_get_used(&g, 0, &id, &len) == 1 && id == 1 && len == 964);
	CHECK(p->stats.tx_packets == 1 && p->stats.tx_bytes == 3000);

	/* not enough buffers for a frame: nothing consumed */
	post_rx(2, 1024);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 0);
	CHECK(fg_used_idx(&g, 0) == 2);
	post_rx(3, 2048);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	CHECK(fg_used_idx(&g, 0) == 4);
	fg_get_used(&g, 0, &id, &len);
	fg_get_used(&g, 0, &id, &len);

	/* a bad RX chain (read-only): returned empty, frame dropped, counted; then it works */
	fg_set_desc(&g, 0, 4, fg_gpa(FG_BUF0 + 0x40000), 2048, 0, 0);
	fg_post(&g, 0, 4);
	mkframe(&frames[0], src, 60, 1);
	uint64_t bad = p->stats.drop_bad_slot;
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1 && p->stats.drop_bad_slot == bad + 1);
	CHECK(fg_get_used(&g, 0, &id, &len) == 1 && id == 4 && len == 0);
	post_rx(5, 2048);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	CHECK(fg_get_used(&g, 0, &id, &len) == 1 && id == 5 && len == 72);

	/* without MRG_RXBUF a frame must fit one chain: too small -> dropped, not consumed */
	port_setup(ALL_F, ALL_F & ~VHOST_BIT(VIRTIO_NET_F_MRG_RXBUF));
	post_rx(0, 1024);
	mkframe(&frames[0], src, 3000, 1);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1 && p->stats.drop_oversize == 1);
	CHECK(fg_used_idx(&g, 0) == 0);
	mkframe(&frames[0], src, 1000, 1);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	CHECK(fg_used_idx(&g, 0) == 1);

	/* offloads: partial checksum to a guest without GUEST_CSUM is completed */
	port_setup(ALL_F, ALL_F & ~(VHOST_BIT(VIRTIO_NET_F_GUEST_CSUM) |
				    VHOST_BIT(VIRTIO_NET_F_GUEST_TSO4)));
	static uint8_t pkt[100];
	memset(pkt, 0, sizeof(pkt));
	for (unsigned i = 14; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7);
	pkt[34 + 16] = 0x12; /* "pseudo-header sum" seed in the checksum field */
	pkt[34 + 17] = 0x34;
	struct virtio_net_hdr_mrg vh = { VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16, 0 };
	mkframe(&frames[0], pkt, sizeof(pkt), 3);
	frames[0].flags = VNM_FRAME_F_VNET;
	frames[0].vnet_hdr = &vh;
	b0 = post_rx(0, 2048);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	memcpy(&h, b0, 12);
	CHECK(h.flags == 0 && h.num_buffers == 1);
	/* verify as a receiver: the sum over [34, 100) plus the pseudo-header sum is 0xffff */
	uint32_t s = 0x1234;
	for (unsigned i = 34; i < sizeof(pkt); i += 2)
		s += (uint32_t)(b0[12 + i] << 8 | (i + 1 < sizeof(pkt) ? b0[12 + i + 1] : 0));
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	CHECK(s == 0xffff);
	CHECK(memcmp(b0 + 12, pkt, 50) == 0 && memcmp(b0 + 12 + 52, pkt + 52, 48) == 0);
	/* GSO to a guest without GUEST_TSO4: dropped, counted */
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 1448;
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1 && p->stats.drop_gso == 1);
	{
		/* a real TCPv4 TSO frame (2 x 1000 + 500): cut in software, all or none */
		static uint8_t t[54 + 2500];
		struct virtio_net_hdr_mrg th = { VIRTIO_NET_HDR_F_NEEDS_CSUM,
						 VIRTIO_NET_HDR_GSO_TCPV4, 54, 1000, 34, 16, 0 };
		memset(t, 0, 54);
		t[12] = 0x08;
		t[14] = 0x45;
		t[16] = (uint8_t)((sizeof(t) - 14) >> 8);
		t[17] = (uint8_t)(sizeof(t) - 14);
		t[23] = 6;
		t[46] = 0x50;
		for (unsigned i = 54; i < sizeof(t); i++)
			t[i] = (uint8_t)i;
		mkframe(&frames[0], t, sizeof(t), 4);
		frames[0].flags = VNM_FRAME_F_VNET;
		frames[0].vnet_hdr = &th;
		uint16_t u0 = fg_used_idx(&g, 0);
		post_rx(1, 2048);
		post_rx(2, 2048); /* 2 buffers for 3 segments: nothing taken */
		CHECK(p->ops->deliver(p, frames, idx, 1) == 0 && fg_used_idx(&g, 0) == u0);
		uint8_t *b3 = post_rx(3, 2048);
		uint64_t tx0 = p->stats.tx_packets;
		CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
		p->ops->deliver_flush(p);
		CHECK(fg_used_idx(&g, 0) == (uint16_t)(u0 + 3) && p->stats.gso_segs == 3);
		CHECK(p->stats.tx_packets == tx0 + 3 && p->stats.drop_gso == 1);
		memcpy(&h, b3, 12);
		CHECK(h.flags == 0 && h.gso_type == 0 && h.num_buffers == 1);
		CHECK(b3[12 + 16] == 2 && b3[12 + 17] == 28); /* last: tot_len 20 + 20 + 500 */
		CHECK(memcmp(b3 + 12 + 54, t + 54 + 2000, 500) == 0);
		mkframe(&frames[0], pkt, sizeof(pkt), 3);
		frames[0].flags = VNM_FRAME_F_VNET;
		frames[0].vnet_hdr = &vh;
	}
	/* to a guest with the offloads: the header passes untouched */
	port_setup(ALL_F, ALL_F);
	b0 = post_rx(0, 2048);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 1);
	memcpy(&h, b0, 12);
	CHECK(h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 &&
	      h.gso_size == 1448 && h.csum_start == 34 && h.csum_offset == 16 && h.num_buffers == 1);
	CHECK(memcmp(b0 + 12, pkt, sizeof(pkt)) == 0);

	/* a disabled or stopped RX ring takes nothing */
	port->dev.vq[RXQ].enabled = 0;
	post_rx(1, 2048);
	CHECK(p->ops->deliver(p, frames, idx, 1) == 0);
	port->dev.vq[RXQ].enabled = 1;
	/* space() counts buffers and asks for RX kicks at sleep */
	CHECK(p->ops->space(p) == 1 && port->rx_want_kick == 1);
	CHECK(p->ops->sleep_prepare(p) == 1); /* buffers are there: retry, do not sleep */
	p->ops->wake(p);
	CHECK(port->rx_want_kick == 0);
}

int main(void)
{
	if (fg_init(&g) < 0) {
		perror("fakeguest");
		return 1;
	}
	test_valid_chains();
	test_class13();
	test_class14();
	test_class15();
	test_class17();
	test_notify();
	test_no_lost_interrupt();
	port = calloc(1, sizeof(*port));
	test_port_tx();
	test_port_rx();
	free(port->gso_scratch);
	free(port->gso_segs);
	free(port);
	fg_fini(&g);
	if (fails) {
		fprintf(stderr, "vhost_vq: %d checks failed\n", fails);
		return 1;
	}
	printf("vhost_vq: ok\n");
	return 0;
}
