/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * switch.h - a VALE learning switch: one forwarding thread per switch.
 *
 * The thread loops while any port has work: for each port, rx_batch (at most
 * VNM_BATCH_MAX frames, so a flooding port cannot starve the others), classify
 * (learn source MAC, look up destination: unicast / flood), then deliver per
 * destination, rx_done, deliver_flush. When a whole round finds nothing it calls
 * sleep_prepare on every port and, if still idle, sleeps in epoll_wait on the
 * watched kick eventfds (plus its own control eventfd).
 */
#ifndef VNM_DAEMON_SWITCH_H
#define VNM_DAEMON_SWITCH_H

#include "port.h"

#define VNM_SWITCH_MAX_PORTS 254
#define VNM_SWITCH_MAX 64

struct vnm_switch;

/* Create the switch and start its thread. 0 or -errno. */
int vnm_switch_create(const char *name, struct vnm_switch **out);
/*
 * The same with flags (additive). VNM_SWITCH_F_HUB: two ports at most, no learning,
 * every frame to the other port (a netmap:IFNAME binding: the program's port and the
 * interface's). A source with VNM_PI_LOSSLESS keeps in its ring the frames the other
 * port did not take (netmap's NIC semantics: a TX slot is released once sent) and the
 * switch retries them after 1 ms at most; other sources' untaken frames are dropped
 * and counted (drop_full), as a NIC drops on a full RX ring. attach: -ENOSPC past 2.
 */
#define VNM_SWITCH_F_HUB 0x1
int vnm_switch_create2(const char *name, uint32_t flags, struct vnm_switch **out);
/* Stop the thread and free (ports must have been detached). */
void vnm_switch_destroy(struct vnm_switch *sw);
const char *vnm_switch_name(const struct vnm_switch *sw);
unsigned vnm_switch_nports(struct vnm_switch *sw);

/* Attach p (sets p->sw_idx). -ENOSPC when 254 ports are attached. Main thread. */
int vnm_switch_attach(struct vnm_switch *sw, struct vnm_dport *p);
/* Detach p; returns when the switch thread no longer touches it. Flushes its MACs. */
void vnm_switch_detach(struct vnm_switch *sw, struct vnm_dport *p);
/* Wake the thread when fd becomes readable (kick eventfds). The thread drains it. Main thread. */
int vnm_switch_watch_fd(struct vnm_switch *sw, int fd);
/*
 * The same with flags (additive). VNM_WATCH_NODRAIN: the thread only wakes on fd and
 * never reads it (a data fd, e.g. a packet socket or TAP, whose port's rx_batch
 * consumes what is there; epoll is level-triggered, so the port must consume or the
 * switch keeps waking). Main thread.
 */
#define VNM_WATCH_NODRAIN 0x1
/*
 * VNM_WATCH_OUT_ET (additive): also wake when fd becomes writable, edge-triggered
 * (EPOLLIN | EPOLLOUT | EPOLLET): a notify socket's app end, whose TX filler drained by
 * the peer means "TX space" (csb.h); edge-triggered so that a socket that simply stays
 * writable does not keep the thread awake. Readable bytes are still read (8 at most).
 */
#define VNM_WATCH_OUT_ET 0x2
int vnm_switch_watch_fd2(struct vnm_switch *sw, int fd, uint32_t flags);
/*
 * Stop watching fd. Returns once the switch thread has finished the round it was in:
 * it will not touch fd again, nor a notify fd cleared (vnm_nmport_set_notify -1)
 * before this call, so the caller may close both at once. Main thread.
 */
void vnm_switch_unwatch_fd(struct vnm_switch *sw, int fd);
/* Wake the thread once (e.g. after attach). */
void vnm_switch_kick(struct vnm_switch *sw);
/* Copy up to max learned entries. Returns the count. Any thread. */
int vnm_switch_fdb_dump(struct vnm_switch *sw, struct vnm_ctl_fdb_entry *out, int max);

/* FDB totals (entries now; learned, moved, evicted since creation). Any thread. */
struct vnm_switch_fdb_counters {
	uint64_t entries, learned, moves, evictions;
};
void vnm_switch_fdb_counters(struct vnm_switch *sw, struct vnm_switch_fdb_counters *c);

/*
 * Monitors (netmap's /r /t /rt copy monitors, additive). A monitor is a port object
 * that is never in the forwarding list: the switch thread copies into it, through
 * vnm_switch_mon_deliver_fn, the frames the monitored port p transmitted
 * (VNM_MON_TX: pulled by rx_batch and consumed, after forwarding) and/or the frames
 * delivered into p (VNM_MON_RX: only those p's deliver took). The copy never waits:
 * what the monitor has no room for is counted in the monitor's stats.drop_full, and a
 * lossless source never waits for a monitor. At most VNM_SWITCH_MAX_MONS per port.
 * ring: VNM_MON_TX copies go to the monitor ring of the frame's source ring
 * (ops->frame_ring, 0 without it), VNM_MON_RX copies to ring 0 (VALE delivers to rx ring
 * 0). ring_mask: the monitor rings a client bound (bit i: ring i; others are skipped).
 * mon->ops->deliver_flush runs after a round that copied into the monitor.
 * Main thread; once vnm_switch_mon_del (or a detach of p) returns, the switch thread no
 * longer touches mon.
 */
#define VNM_MON_TX 0x1
#define VNM_MON_RX 0x2
#define VNM_SWITCH_MAX_MONS 8
typedef int (*vnm_switch_mon_deliver_fn)(struct vnm_dport *mon, unsigned ring,
					 const struct vnm_frame *frames, const uint16_t *idx,
					 unsigned n);
int vnm_switch_mon_add(struct vnm_switch *sw, struct vnm_dport *p, struct vnm_dport *mon,
		       uint32_t dirs, uint32_t ring_mask, vnm_switch_mon_deliver_fn deliver);
void vnm_switch_mon_del(struct vnm_switch *sw, struct vnm_dport *p, struct vnm_dport *mon);
/* Run fn(arg) between two rounds, with the switch thread held (additive). Main thread. */
void vnm_switch_locked(struct vnm_switch *sw, void (*fn)(void *), void *arg);

#endif /* VNM_DAEMON_SWITCH_H */
