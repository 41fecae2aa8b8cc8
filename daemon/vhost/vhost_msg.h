/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost_msg.h - the vhost-user protocol, back-end side (QEMU docs/interop/vhost-user.rst):
 * one device (a virtio-net queue pair) and its message handler, independent of
 * sockets (vhost_conn.c reads and writes the messages) so tests and fuzzers drive it
 * directly.
 */
#ifndef VNM_DAEMON_VHOST_MSG_H
#define VNM_DAEMON_VHOST_MSG_H

#include "vhost/vhost.h"

enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_REQ_MAX = 19,
};

#define VHOST_USER_VERSION 0x1
#define VHOST_USER_VERSION_MASK 0x3
#define VHOST_USER_REPLY 0x4
#define VHOST_USER_NEED_REPLY 0x8
#define VHOST_USER_VRING_IDX_MASK 0xff
#define VHOST_USER_VRING_NOFD 0x100

#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_PROTOCOL_FEATURES (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vhost_user_state {
	uint32_t index;
	uint32_t num;
};

struct vhost_user_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;  /* front-end user addresses */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vhost_user_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct vhost_user_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region r[VHOST_MAX_REGIONS];
};

#define VHOST_USER_HDR_SIZE 12
#define VHOST_USER_PAYLOAD_MAX ((uint32_t)sizeof(struct vhost_user_mem))
#define VHOST_USER_MAX_FDS VHOST_MAX_REGIONS

struct vhost_dev;

/* What the device needs from its owner (the port / the tests). Main thread. */
struct vhost_dev_ops {
	/* Stop the switch thread from touching the rings; returns when it no longer does. */
	void (*pause)(struct vhost_dev *d);
	void (*resume)(struct vhost_dev *d);
	/* Ring qi's kick fd changes (watch new, unwatch old); old is closed by the device. */
	void (*kick_changed)(struct vhost_dev *d, unsigned qi, int old_fd, int new_fd);
	/* Close an fd the switch thread may still hold briefly (kick eventfds). */
	void (*close_fd)(int fd);
};

struct vhost_dev {
	const struct vhost_dev_ops *ops;
	void *opaque;
	uint64_t features;           /* negotiated (SET_FEATURES) */
	int features_set;
	uint64_t protocol_features;
	int owner;
	struct vhost_mem mem;
	struct vhost_vq vq[VHOST_QUEUES];
	uint64_t msgs, errors;       /* messages handled, connections closed for an error */
	char err[160];               /* the last error, one line */
	uint64_t withheld;           /* bits of VHOST_NET_FEATURES this device never offers (appended) */
};

void vhost_dev_init(struct vhost_dev *d, const struct vhost_dev_ops *ops, void *opaque);
/* Back to "no front-end": stop the rings, close their fds, unmap guest memory. */
void vhost_dev_reset(struct vhost_dev *d);

/*
 * Handle one message: hdr, then hdr->size payload bytes (the caller read exactly
 * that many), with nfds received fds (always consumed: kept or closed). The reply,
 * if any, is written to reply (header + payload, at most VHOST_USER_HDR_SIZE +
 * VHOST_USER_PAYLOAD_MAX bytes) and its length to *reply_len (0: none).
 * Returns 0, or -errno: the caller sends the reply (a failed REPLY_ACK) if any,
 * then closes the connection; d->err says why.
 */
int vhost_dev_msg(struct vhost_dev *d, const struct vhost_user_hdr *hdr, const void *payload,
		  int *fds, unsigned nfds, void *reply, size_t *reply_len);

/* Name of a request (for logs); "unknown" outside the table. */
const char *vhost_req_name(uint32_t req);

#endif
