/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vnetmap/ctl.h - control protocol between clients (libvnetmap, vale-ctl) and vnetmapd.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET at $VNETMAP_DIR/vnetmapd.sock (see vnm_default_dir()).
 * One request, one reply; each message is a struct vnm_ctl_hdr followed by hdr.len
 * payload bytes (hdr.len <= VNM_CTL_MAX_PAYLOAD). File descriptors travel as
 * SCM_RIGHTS on replies only; the daemon closes any fd a client attaches.
 * A reply with status < 0 (negative errno) carries a NUL-terminated message as payload.
 *
 * VNM_CTL_OPEN binds the connection to a port: the connection then stays open for
 * the life of the binding and its close (or the client's death) unbinds it.
 * Native byte order; all structs have fixed sizes with explicit padding.
 */
#ifndef VNETMAP_CTL_H
#define VNETMAP_CTL_H

#include <stdint.h>

#include "region.h"

#define VNM_CTL_MAGIC 0x434d4e56u /* "VNMC" */
#define VNM_CTL_VERSION 1
#define VNM_CTL_MAX_PAYLOAD 65536
#define VNM_CTL_SOCK_NAME "vnetmapd.sock"
#define VNM_PORTSPEC_MAX 256 /* whole port spec with options */

enum vnm_ctl_type {
	VNM_CTL_OPEN = 1,   /* req: vnm_ctl_open_req; rep: vnm_ctl_open_rep + fds */
	VNM_CTL_LIST = 2,   /* req: vnm_ctl_name_req (name may be empty); rep: vnm_ctl_port_info[] */
	VNM_CTL_CREATE = 3, /* req: vnm_ctl_name_req: persistent port (vale-ctl -n) */
	VNM_CTL_REMOVE = 4, /* req: vnm_ctl_name_req (vale-ctl -r) */
	VNM_CTL_ATTACH = 5, /* req: vnm_ctl_name_req "valeX:NAME" (vale-ctl -a) */
	VNM_CTL_DETACH = 6, /* req: vnm_ctl_name_req "valeX:NAME" (vale-ctl -d) */
	VNM_CTL_STATS = 7,  /* req: vnm_ctl_name_req (port or switch; empty = all); rep: vnm_ctl_port_stats[] */
	VNM_CTL_FDB = 8,    /* req: vnm_ctl_name_req "valeX"; rep: vnm_ctl_fdb_entry[] */
	VNM_CTL_INFO = 9,   /* req: vnm_ctl_name_req port; rep: vnm_ctl_port_info (vale-ctl -g) */
	VNM_CTL_VHOST = 10, /* req: vnm_ctl_vhost_req: persistent vhost-user port (vale-ctl -n NAME --vhost-user PATH) */
	VNM_CTL_PASSTHROUGH = 11, /* req: vnm_ctl_pt_req; rep: vnm_ctl_pt_info (vale-ctl --passthrough) */
	VNM_CTL_PT_REMOVE = 12,   /* req: vnm_ctl_name_req: the exported port (vale-ctl --passthrough-remove) */
	VNM_CTL_PT_LIST = 13,     /* req: vnm_ctl_name_req (name may be empty); rep: vnm_ctl_pt_info[] */
	VNM_CTL_SOCKET = 14,  /* req: vnm_ctl_socket_req: persistent socket port (QEMU -netdev stream/dgram) */
	VNM_CTL_HDR_SET = 15, /* req: vnm_ctl_hdr_req: virtio-net header length of a VALE port (pkt-gen -H) */
	VNM_CTL_HDR_GET = 16, /* req: vnm_ctl_hdr_req (hdr_len ignored); rep: vnm_ctl_hdr_req */
	VNM_CTL_TYPE_MAX
};

struct vnm_ctl_hdr {
	uint32_t magic;   /* VNM_CTL_MAGIC */
	uint16_t version; /* VNM_CTL_VERSION */
	uint16_t type;    /* enum vnm_ctl_type; the reply echoes it */
	uint32_t len;     /* payload bytes after the header */
	int32_t status;   /* replies: 0 or -errno; requests: 0 */
};

struct vnm_ctl_name_req {
	char name[VNM_PORTSPEC_MAX]; /* NUL-terminated */
	uint32_t flags;              /* VNM_CTL_F_* */
	uint32_t pad;
};

#define VNM_CTL_F_HOST 0x1 /* ATTACH valeX:TAPNAME as a TAP host-stack port (vale-ctl -h) */

/*
 * VNM_CTL_VHOST: create a persistent port NAME served as a vhost-user socket at path
 * (a virtio-net front-end: QEMU, DPDK virtio-user). Default: vnetmapd is the socket
 * client and reconnects every second (QEMU: -chardev socket,path=P,server=on);
 * VNM_VHOST_SERVER: vnetmapd listens at path. Attach it with VNM_CTL_ATTACH.
 */
#define VNM_VHOST_PATH_MAX 108 /* sun_path */
struct vnm_ctl_vhost_req {
	char name[64];                 /* [A-Za-z0-9_]{1,47}, NUL-terminated */
	char path[VNM_VHOST_PATH_MAX]; /* NUL-terminated */
	uint32_t flags;                /* VNM_VHOST_* */
	uint32_t pad;
};
#define VNM_VHOST_SERVER 0x1

/*
 * VNM_CTL_PASSTHROUGH: bind a port (VALE port "valeX:Y[@conf:...]", or a pipe end
 * "netmap:X{N" / "netmap:X}N") on behalf of a guest, with no client connection: the
 * binding lives until VNM_CTL_PT_REMOVE (or the daemon exits). QEMU maps the port's
 * region file (ivshmem-plain, memory-backend-file share=on), or, with VNM_PT_DOORBELL,
 * connects an ivshmem-doorbell chardev to sock_path where vnetmapd serves QEMU's
 * ivshmem server protocol (version 0; one guest at a time). Peer ids: vnetmapd is
 * VNM_PT_HOST_PEER, the guest VNM_PT_GUEST_PEER (its IVPosition register). Doorbell
 * vectors the guest rings on the host peer: VNM_PT_VEC_KICK (VALE: kick the switch;
 * pipe: the peer end's RX has packets) and VNM_PT_VEC_TXSPACE (pipe: the peer end's
 * TX has space). Region files of vnetmapd are a power of two in size (PCI BARs).
 * The exported end carries VNM_END_PASSTHROUGH in the region header's ends[].
 */
struct vnm_ctl_pt_req {
	char spec[VNM_PORTSPEC_MAX]; /* NUL-terminated */
	uint32_t flags;              /* VNM_PT_* */
	uint32_t pad;
};
#define VNM_PT_DOORBELL 0x1
#define VNM_PT_HOST_PEER 0
#define VNM_PT_GUEST_PEER 1
#define VNM_PT_VEC_KICK 0
#define VNM_PT_VEC_TXSPACE 1
#define VNM_PT_VECTORS 2

struct vnm_ctl_pt_info {
	char name[VNM_NAME_MAX];   /* canonical port name ("vale0:g1", "netmap:p{1") */
	char mem_path[256];        /* the region file (memory-backend-file mem-path) */
	char sock_path[108];       /* VNM_PT_DOORBELL: the ivshmem server socket; else "" */
	uint32_t flags;            /* VNM_PT_* */
	uint64_t region_size;      /* bytes, a power of two (memory-backend-file size) */
	uint32_t kind;             /* enum vnm_port_kind of the port (VALE, PIPE) */
	uint32_t end;              /* index in the region header's ends[] */
	uint32_t vectors;          /* doorbell: vectors served (VNM_PT_VECTORS); else 0 */
	uint32_t guest_connected;  /* doorbell: a QEMU is connected */
};

/*
 * VNM_CTL_SOCKET: create a persistent port NAME that carries frames over a UNIX socket in
 * QEMU's framing, so any QEMU front-end attaches without root or vhost-user:
 *   VNM_SOCK_STREAM: -netdev stream (and legacy -netdev socket): each frame is a 4-byte
 *     big-endian length, then the frame. Default: vnetmapd connects to path (QEMU
 *     server=on) and reconnects; VNM_SOCK_SERVER: vnetmapd listens at path (QEMU server=off).
 *   VNM_SOCK_DGRAM: -netdev dgram: one datagram per frame; vnetmapd binds path and sends to
 *     peer_path (QEMU local=peer_path, remote=path).
 * No virtio-net header: offloaded frames reach it segmented and checksummed (gso.h).
 * Attach it with VNM_CTL_ATTACH.
 */
struct vnm_ctl_socket_req {
	char name[64];                      /* [A-Za-z0-9_]{1,47}, NUL-terminated */
	char path[VNM_VHOST_PATH_MAX];      /* NUL-terminated */
	char peer_path[VNM_VHOST_PATH_MAX]; /* DGRAM: the peer's socket; else "" */
	uint32_t flags;                     /* VNM_SOCK_* */
	uint32_t pad;
};
#define VNM_SOCK_STREAM 0x1
#define VNM_SOCK_DGRAM 0x2
#define VNM_SOCK_SERVER 0x4

/*
 * VNM_CTL_HDR_SET: netmap's NETMAP_REQ_PORT_HDR_SET. Frames in the port's slots (both
 * directions) start with a virtio-net header of hdr_len bytes (0, 10 or 12), as for
 * pkt-gen -H: offloads travel in it; 0 (default) means plain frames.
 * Ports of netmap clients only (else -EOPNOTSUPP; no such port: -ENXIO; other lengths:
 * -EINVAL); allowed any time, the switch thread applies it at its next read of the
 * port's rings. Both replies carry the struct with the length in force.
 */
struct vnm_ctl_hdr_req {
	char name[VNM_PORTSPEC_MAX]; /* "valeX:Y", NUL-terminated */
	uint32_t hdr_len;
	uint32_t pad;
};

struct vnm_ctl_open_req {
	char spec[VNM_PORTSPEC_MAX]; /* full port spec, NUL-terminated, parsed by the daemon */
	uint32_t flags;              /* reserved, 0 */
	uint32_t pad;
};

enum vnm_port_kind {
	VNM_KIND_VALE = 1,
	VNM_KIND_PIPE = 2,
	VNM_KIND_VHOST = 3, /* a persistent VALE port served as vhost-user (not OPENable) */
	VNM_KIND_NETDEV = 4, /* a Linux interface attached with vale-ctl -a (AF_PACKET; not OPENable) */
	VNM_KIND_TAP = 5,    /* a TAP host-stack port attached with vale-ctl -h (not OPENable) */
	VNM_KIND_SOCKET = 6, /* a persistent socket port (VNM_CTL_SOCKET; not OPENable) */
	VNM_KIND_MONITOR = 7, /* a monitor binding: "PORT/r", "/t", "/rt", "/z" */
};

/*
 * Reply to OPEN. fds, in order:
 *   [0] region file (mmap MAP_SHARED, region_size bytes)
 *   [1] notify socket, application end (see csb.h)
 *   [2] VALE: kick eventfd (write when ktoa.kern_need_kick)
 *       PIPE: notify socket, kernel end of the PEER's binding (to notify the peer)
 */
struct vnm_ctl_open_rep {
	uint64_t region_size;
	uint32_t kind;      /* enum vnm_port_kind */
	uint32_t end;       /* index in the region header's ends[] */
	uint32_t peer_end;  /* pipes: the other end's index; else UINT32_MAX */
	uint16_t first_tx_ring, last_tx_ring; /* bound ring ranges, inclusive; first > last = none */
	uint16_t first_rx_ring, last_rx_ring;
	uint32_t nr_flags;  /* NR_* flags in force */
	uint32_t nfds;      /* fds attached (3) */
	char name[VNM_NAME_MAX]; /* canonical port name */
};

struct vnm_ctl_port_info {
	char name[VNM_NAME_MAX];   /* "vale0:a", "pipe0{1", or a detached persistent port */
	char bridge[VNM_NAME_MAX]; /* "vale0", or "" */
	int32_t bridge_idx;        /* -1 when not on a switch */
	int32_t port_idx;          /* -1 when not on a switch */
	uint32_t kind;             /* enum vnm_port_kind */
	uint32_t flags;            /* VNM_PI_* */
	uint32_t num_tx_rings, num_rx_rings;
	uint32_t num_tx_slots, num_rx_slots;
	uint32_t buf_size, num_bufs;
	uint64_t region_size;
	uint32_t clients;          /* bindings open now */
	uint32_t pad;
};

#define VNM_PI_PERSISTENT 0x1
#define VNM_PI_LOSSLESS 0x2
#define VNM_PI_XDP 0x4 /* kind NETDEV: the interface runs on AF_XDP (else af_packet) */

struct vnm_ctl_port_stats {
	char name[VNM_NAME_MAX];
	uint64_t rx_packets, rx_bytes; /* into the switch from this port (its TX rings) */
	uint64_t tx_packets, tx_bytes; /* delivered to this port (its RX rings) */
	uint64_t drop_full;            /* destination RX ring full */
	uint64_t drop_runt;            /* frame < 14 bytes */
	uint64_t drop_oversize;        /* frame over 64 KiB */
	uint64_t drop_self;            /* destination is the source port */
	uint64_t drop_bad_slot;        /* invalid buf_idx/len on the datapath */
	uint64_t ring_resets;          /* rings reset after a client violation */
	uint64_t fdb_moves;            /* a learned MAC moved to this port */
	uint64_t drop_gso;             /* offloaded (GSO) frame to a port that cannot take it */
	uint64_t gso_segs;             /* segments made in software from GSO frames (gso.h) */
	uint64_t pad[3];
};

struct vnm_ctl_fdb_entry {
	uint8_t mac[6];
	uint16_t pad;
	int32_t port_idx;
	char port[VNM_NAME_MAX];
	uint64_t age_ms; /* since last seen */
};

#endif /* VNETMAP_CTL_H */
