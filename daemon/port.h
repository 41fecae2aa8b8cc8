/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * port.h - the one small port interface every switch port implements.
 *
 * The switch (vale/switch.c) knows ports only through this: it pulls a batch of
 * frames out of a port (rx_batch/rx_done), classifies them, and pushes each frame
 * to its destinations (deliver). Port kinds (netmap client port now; vhost-user,
 * passthrough, tap, interface later) live in ports/, one file each, and never
 * know about one another.
 *
 * Threading: all ops of a port attached to a switch run on that switch's thread.
 * The control plane (main thread) attaches/detaches through vnm_switch_attach/
 * vnm_switch_detach, which synchronise with the switch thread.
 */
#ifndef VNM_DAEMON_PORT_H
#define VNM_DAEMON_PORT_H

#include <stdint.h>

#include "vnetmap/csb.h"
#include "vnetmap/ctl.h"

#define VNM_BATCH_MAX 1024    /* frames per batch (netmap's) */
#define VNM_FRAME_MAX 65536   /* largest frame, header included */

/* One frame pulled out of a source port: fragments point into the source's memory. */
struct vnm_frame {
	uint16_t nfrags;
	uint16_t flags;       /* VNM_FRAME_F_*; a port that sets none stores 0 */
	uint32_t len;         /* total bytes over all fragments */
	const uint8_t *frag[NM_MAX_FRAGS];
	uint16_t frag_len[NM_MAX_FRAGS];
	const void *vnet_hdr; /* with VNM_FRAME_F_VNET only (valid until rx_done) */
};

/*
 * The frame carries offloads in a virtio-net header (struct virtio_net_hdr_mrg of
 * daemon/vhost/vhost.h, 12 bytes, validated by the source port): a partial checksum
 * (NEEDS_CSUM) and/or GSO. The header is NOT part of frag[]/len, which hold the
 * Ethernet frame only. A destination without a header (vnet_hdr_len 0) completes
 * the checksum or segments a GSO frame in software (vhost/gso.h; gso_segs, or
 * drop_gso when refused); a virtio destination passes the header on. Frames with no offload never set the flag.
 */
#define VNM_FRAME_F_VNET 0x1

struct vnm_dport;

struct vnm_dport_ops {
	/*
	 * Pull up to max complete frames from the port into frames[] (fragment
	 * pointers stay valid until rx_done). Returns the count (0: nothing), or
	 * -errno if the port is broken (the switch then skips it this round).
	 * Invalid input from the port's peer is handled here (ring reset, counted).
	 */
	int (*rx_batch)(struct vnm_dport *p, struct vnm_frame *frames, unsigned max);
	/* The first n frames of the last batch are consumed: free their slots. */
	void (*rx_done)(struct vnm_dport *p, unsigned n);
	/*
	 * Copy frames[idx[0..n)] into the port. Returns how many were taken, in
	 * order; the rest did not fit (the switch drops and counts them, or for a
	 * lossless source keeps them in the source ring). Must not block.
	 */
	int (*deliver)(struct vnm_dport *p, const struct vnm_frame *frames, const uint16_t *idx,
		       unsigned n);
	/* After a round of deliver calls: publish tails and notify sleepers (one syscall at most). */
	void (*deliver_flush)(struct vnm_dport *p);
	/* Free space (frames of one slot) the port can take now; used for lossless sources. */
	unsigned (*space)(struct vnm_dport *p);
	/*
	 * The switch is going to sleep: ask the port's peer to kick (need-kick flags)
	 * and return 1 if work arrived meanwhile (then the switch must not sleep).
	 */
	int (*sleep_prepare)(struct vnm_dport *p);
	/* The switch woke: clear the need-kick flags. */
	void (*wake)(struct vnm_dport *p);
	/*
	 * Optional (additive; NULL means ring 0): the TX ring of the peer frame i of the
	 * last batch came from, between rx_batch and rx_done. Used by /t monitors.
	 */
	unsigned (*frame_ring)(struct vnm_dport *p, unsigned i);
};

struct vnm_dport {
	char name[VNM_NAME_MAX];
	const struct vnm_dport_ops *ops;
	void *priv;                      /* the port kind's state */
	int sw_idx;                      /* index on its switch, -1 when detached */
	uint32_t flags;                  /* VNM_PI_* (VNM_PI_LOSSLESS: never drop our frames on full) */
	struct vnm_ctl_port_stats stats; /* written by the switch thread only; read racily */
	uint16_t vnet_hdr_len;           /* virtio-net header length of the port's peer: 0, 12 */
};

#endif /* VNM_DAEMON_PORT_H */
