// SPDX-License-Identifier: BSD-2-Clause
/*
 * guest_map.c - the passthrough guest's device lookup and region parsing (lib/guest.c)
 * without QEMU: a fake sysfs PCI tree whose ivshmem devices' resource2 are region
 * files laid out by the daemon's own region code, resource0 a register file.
 *
 * Checks: ptnet: / ptnet:BDF / ptnet:[BDF]/NAME / VNM_GUEST=1 selection, the exported
 * end picked by default, the CSB sync and the doorbell write, a pipe run by two guest
 * ends with no notify socket, and the negative cases (bad magic, region larger than
 * the BAR, offsets past the BAR, no such device or end, non-ivshmem devices skipped).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/region.c"
#include "../../lib/internal.h"

int vnm_log_level = VNM_LOG_WARN;
void vnm_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > vnm_log_level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int failures;
#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
			failures++;                                                \
		}                                                                  \
	} while (0)

static char root[256], devdir[300];

static void put_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		perror(p);
		exit(1);
	}
	close(fd);
}

/* A PCI device dir; resource2 a copy of len bytes of region (mutated by the caller after). */
static void mkdev(const char *bdf, const char *vendor, const char *device, const void *region,
		  size_t len, uint32_t ivpos)
{
	char d[600];
	uint8_t regs[256];

	snprintf(d, sizeof(d), "%s/%s", devdir, bdf);
	mkdir(d, 0700);
	put_file(d, "vendor", vendor, strlen(vendor));
	put_file(d, "device", device, strlen(device));
	if (region)
		put_file(d, "resource2", region, len);
	memset(regs, 0, sizeof(regs));
	memcpy(regs + 8, &ivpos, 4);
	memset(regs + 12, 0xff, 4);
	put_file(d, "resource0", regs, sizeof(regs));
}

static uint32_t read_doorbell(const char *bdf)
{
	char p[600];
	uint32_t v = 0;
	snprintf(p, sizeof(p), "%s/%s/resource0", devdir, bdf);
	int fd = open(p, O_RDONLY);
	if (fd < 0 || pread(fd, &v, 4, 12) != 4)
		v = 0xdeadbeef;
	close(fd);
	return v;
}

static int gopen(const char *spec, struct vnm_port **d)
{
	char err[256];
	int r = vnm__guest_open_at(devdir, spec, NULL, d, err, sizeof(err));
	if (r < 0 && getenv("V"))
		fprintf(stderr, "  %s -> %d %s\n", spec, r, err);
	return r;
}

int main(void)
{
	struct vnm_geom g = { 1, 1, 64, 64, 2048 };
	struct vnm_region *vr, *pr;
	struct vnm_end ve, pe[2];
	char err[256];
	struct vnm_port *d, *d2;

	snprintf(root, sizeof(root), "/tmp/guest_map.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	snprintf(devdir, sizeof(devdir), "%s/devices", root);
	mkdir(devdir, 0700);
	if (vnm_memdir_init(root, err, sizeof(err)) < 0) {
		fprintf(stderr, "memdir: %s\n", err);
		return 1;
	}
	/* a VALE port's region, its end exported */
	if (vnm_region_create("g1", vnm_end_obj_bytes(&g), 2 + vnm_end_num_bufs(&g), 2048, &vr) < 0 ||
	    vnm_end_build(vr, "g1", &g, VNM_END_VALE, &ve) < 0)
		return 1;
	struct vnm_region_hdr *vh = (struct vnm_region_hdr *)vr->base;
	vh->ends[ve.idx].flags |= VNM_END_PASSTHROUGH;
	CHECK((vr->size & (vr->size - 1)) == 0); /* regions are a power of two (PCI BAR) */

	/* a pipe parent's region: p{1 exported, p}1 not */
	if (vnm_region_create("p.pipes", 2 * vnm_end_obj_bytes(&g), 2 + 2 * vnm_end_num_bufs(&g),
			      2048, &pr) < 0 ||
	    vnm_end_build(pr, "netmap:p{1", &g, VNM_END_PIPE_MASTER, &pe[0]) < 0 ||
	    vnm_end_build(pr, "netmap:p}1", &g, VNM_END_PIPE_SLAVE, &pe[1]) < 0)
		return 1;
	vnm_end_set_peer(pr, &pe[0], (uint32_t)pe[1].idx);
	vnm_end_set_peer(pr, &pe[1], (uint32_t)pe[0].idx);
	struct vnm_region_hdr *ph = (struct vnm_region_hdr *)pr->base;
	ph->ends[pe[0].idx].flags |= VNM_END_PASSTHROUGH;

	mkdev("0000:00:03.0", "0x8086\n", "0x100e\n", NULL, 0, 0); /* an e1000: skipped */
	mkdev("0000:00:04.0", "0x1af4\n", "0x1110\n", vr->base, vr->size, 1); /* doorbell */
	mkdev("0000:00:05.0", "0x1af4\n", "0x1110\n", pr->base, pr->size, 0); /* plain */

	/* ---- the VALE port ---- */
	CHECK(gopen("ptnet:", &d) == 0);
	if (d) {
		CHECK(d->kind == VNM_KIND_VALE);
		CHECK(strcmp(d->name, "g1") == 0);
		CHECK(d->doorbell != NULL);
		CHECK(d->first_tx_ring == 0 && d->last_tx_ring == 0);
		struct netmap_ring *tx = NETMAP_TXRING(d->nifp, 0);
		CHECK(tx->num_slots == 64);
		CHECK(nm_ring_space(tx) == 63);
		/* fill two slots, sync: the CSB carries head/cur; the host sleeps: doorbell */
		tx->slot[tx->cur].len = 60;
		tx->head = tx->cur = nm_ring_next(tx, nm_ring_next(tx, tx->cur));
		d->tx[0].ktoa->kern_need_kick = 1;
		CHECK(read_doorbell("0000:00:04.0") == 0xffffffff);
		CHECK(vnm_txsync(d) == 0);
		CHECK(d->tx[0].atok->head == 2 && d->tx[0].atok->cur == 2);
		CHECK(read_doorbell("0000:00:04.0") ==
		      (((uint32_t)VNM_PT_HOST_PEER << 16) | VNM_PT_VEC_KICK));
		/* the host resets the ring: the next sync says -EIO */
		__atomic_store_n(&d->tx[0].ktoa->err_reason, VNM_RERR_HEAD, __ATOMIC_RELAXED);
		__atomic_store_n(&d->tx[0].ktoa->err_count, 1, __ATOMIC_RELEASE);
		CHECK(vnm_txsync(d) == -EIO);
		CHECK(vnm_txsync(d) == 0);
		/* waits poll: nothing to receive, a 5 ms poll times out */
		CHECK(vnm_poll(d, POLLIN, 5) == 0);
		CHECK(vnm_poll(d, POLLOUT, 5) == POLLOUT);
		vnm_port_close(d);
	}
	d = NULL;
	CHECK(gopen("ptnet:00:04.0", &d) == 0);
	vnm_port_close(d);
	d = NULL;
	CHECK(gopen("ptnet:0000:00:04.0/vale0:g1", &d) == 0);
	vnm_port_close(d);
	d = NULL;
	CHECK(gopen("ptnet:/g1", &d) == 0);
	vnm_port_close(d);
	CHECK(gopen("ptnet:/nosuch", &d) == -ENOENT && d == NULL);
	CHECK(gopen("ptnet:00:07.0", &d) == -ENODEV && d == NULL);
	CHECK(gopen("ptnet:00:03.0", &d) == -ENODEV && d == NULL); /* not an ivshmem */
	CHECK(gopen("ptnet:zz", &d) == -EINVAL);

	/* VNM_GUEST=1: ordinary names through vnm_port_open */
	setenv("VNM_GUEST", "1", 1);
	setenv("VNM_GUEST_SYSFS", devdir, 1);
	d = NULL;
	CHECK(vnm_port_open("vale0:g1", NULL, &d) == 0);
	if (d)
		CHECK(d->kind == VNM_KIND_VALE);
	vnm_port_close(d);
	d = NULL;
	CHECK(vnm_port_open("vale0:other", NULL, &d) == -ENOENT);

	/* ---- the pipe: both ends through the guest path, no notify sockets ---- */
	d = d2 = NULL;
	CHECK(vnm_port_open("netmap:p{1", NULL, &d) == 0);
	CHECK(vnm_port_open("netmap:p}1", NULL, &d2) == 0);
	unsetenv("VNM_GUEST");
	if (d && d2) {
		CHECK(d->kind == VNM_KIND_PIPE && d2->kind == VNM_KIND_PIPE);
		CHECK(d->doorbell == NULL); /* plain device */
		struct netmap_ring *tx = NETMAP_TXRING(d->nifp, 0);
		struct netmap_ring *rx = NETMAP_RXRING(d2->nifp, 0);
		unsigned sent = 0, got = 0;
		for (int round = 0; round < 20; round++) {
			while (nm_ring_space(tx) && sent < 500) {
				struct netmap_slot *s = &tx->slot[tx->cur];
				char *b = NETMAP_BUF(tx, s->buf_idx);
				memcpy(b, &sent, 4);
				s->len = 60;
				sent++;
				tx->head = tx->cur = nm_ring_next(tx, tx->cur);
			}
			CHECK(vnm_txsync(d) == 0);
			CHECK(vnm_rxsync(d2) == 0);
			while (!nm_ring_empty(rx)) {
				struct netmap_slot *s = &rx->slot[rx->cur];
				unsigned v;
				memcpy(&v, NETMAP_BUF(rx, s->buf_idx), 4);
				if (v != got)
					failures += (got == 0 || v != got) ? 1 : 0;
				got++;
				rx->head = rx->cur = nm_ring_next(rx, rx->cur);
			}
			CHECK(vnm_rxsync(d2) == 0);
		}
		CHECK(sent == 500 && got == 500);
		/* the peer armed its RX: nobody can notify it from a plain guest, the flag stays */
		d2->rx[0].atok->appl_need_kick = 1;
		tx->slot[tx->cur].len = 60;
		tx->head = tx->cur = nm_ring_next(tx, tx->cur);
		CHECK(vnm_txsync(d) == 0);
		CHECK(d2->rx[0].atok->appl_need_kick == 1);
	}
	vnm_port_close(d);
	vnm_port_close(d2);
	d = NULL;
	CHECK(gopen("ptnet:00:05.0", &d) == 0); /* the exported end by default */
	if (d)
		CHECK(strcmp(d->name, "netmap:p{1") == 0);
	vnm_port_close(d);

	/* ---- negative cases ---- */
	uint8_t *copy = malloc(vr->size);
	struct vnm_region_hdr *ch = (struct vnm_region_hdr *)copy;

	memcpy(copy, vr->base, vr->size);
	ch->magic ^= 1;
	mkdev("0000:00:06.0", "0x1af4\n", "0x1110\n", copy, vr->size, 0);
	CHECK(gopen("ptnet:00:06.0", &d) == -EPROTO && d == NULL);

	memcpy(copy, vr->base, vr->size); /* BAR smaller than the region */
	mkdev("0000:00:07.0", "0x1af4\n", "0x1110\n", copy, vr->size / 2, 0);
	CHECK(gopen("ptnet:00:07.0", &d) == -EPROTO && d == NULL);

	memcpy(copy, vr->base, vr->size); /* netmap_if past the BAR */
	ch->ends[ve.idx].nifp_ofs = vr->size + 4096;
	mkdev("0000:00:08.0", "0x1af4\n", "0x1110\n", copy, vr->size, 0);
	CHECK(gopen("ptnet:00:08.0", &d) == -EPROTO && d == NULL);

	memcpy(copy, vr->base, vr->size); /* CSB arrays past the BAR */
	ch->ends[ve.idx].csb_ktoa_ofs = vr->size - 64;
	mkdev("0000:00:09.0", "0x1af4\n", "0x1110\n", copy, vr->size, 0);
	CHECK(gopen("ptnet:00:09.0", &d) == -EPROTO && d == NULL);

	memcpy(copy, vr->base, vr->size); /* buffer pool past the BAR */
	ch->num_bufs = 0x7fffffff;
	mkdev("0000:00:0a.0", "0x1af4\n", "0x1110\n", copy, vr->size, 0);
	CHECK(gopen("ptnet:00:0a.0", &d) == -EPROTO && d == NULL);

	memcpy(copy, vr->base, vr->size); /* a ring whose slots run past the BAR */
	{
		const struct netmap_if *nifp =
			(const struct netmap_if *)(copy + ch->ends[ve.idx].nifp_ofs);
		struct netmap_ring *r =
			(struct netmap_ring *)(copy + ch->ends[ve.idx].nifp_ofs + nifp->ring_ofs[0]);
		uint32_t big = 0x10000000;
		memcpy((char *)r + offsetof(struct netmap_ring, num_slots), &big, 4);
	}
	mkdev("0000:00:0b.0", "0x1af4\n", "0x1110\n", copy, vr->size, 0);
	CHECK(gopen("ptnet:00:0b.0", &d) == -EPROTO && d == NULL);

	memcpy(copy, vr->base, vr->size); /* a tiny BAR */
	mkdev("0000:00:0c.0", "0x1af4\n", "0x1110\n", copy, 100, 0);
	CHECK(gopen("ptnet:00:0c.0", &d) == -EPROTO && d == NULL);
	free(copy);

	vnm_region_destroy(vr);
	vnm_region_destroy(pr);
	vnm_memdir_cleanup();
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		failures++;
	if (failures) {
		fprintf(stderr, "guest_map: %d failure(s)\n", failures);
		return 1;
	}
	printf("guest_map: ok\n");
	return 0;
}
