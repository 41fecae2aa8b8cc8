/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vnetmap/portname.h - netmap's port-name grammar (libnetmap's), parsed once,
 * used by libvnetmap (to fail early) and by vnetmapd (which never trusts the client).
 *
 *   spec     := prefix ":" vpname [pipe] [mode] [flags] { "@" option }
 *   prefix   := "netmap" | "vale" IDENT?          ("vale:x" is switch "vale")
 *   vpname   := IDENT                             (IDENT = [A-Za-z0-9_]+)
 *   pipe     := ("{" | "}") NUM                   ("{" master, "}" slave)
 *   mode     := "-" NUM          one NIC ring pair
 *             | "^" [NUM]        host rings (parsed; not served yet)
 *             | "*"              NIC + host rings (parsed; not served yet)
 *   flags    := "/" [xzrtRT]+    exclusive, zero-copy monitor, rx/tx monitor,
 *                                rx rings only, tx rings only
 *   option   := "conf:" kv {"," kv}   kv: rings tx-rings rx-rings slots tx-slots
 *                                     rx-slots host-rings lossless  "=" NUM
 *             | NUM                   memory region id (accepted, ignored)
 * Whole spec < VNM_PORTSPEC_MAX bytes; prefix+vpname < 64 bytes.
 * Limits: rings 1..16, slots 64..16384 (VNM_MAX_RINGS, VNM_MIN/MAX_SLOTS).
 */
#ifndef VNETMAP_PORTNAME_H
#define VNETMAP_PORTNAME_H

#include <stdint.h>

#define VNM_MAX_RINGS 16
#define VNM_MIN_SLOTS 64
#define VNM_MAX_SLOTS 16384
#define VNM_DEFAULT_SLOTS 1024

struct vnm_portname {
	int is_vale;        /* 1: "valeX:", 0: "netmap:" */
	char sw[64];        /* switch name, e.g. "vale0" (empty for netmap:) */
	char port[64];      /* vpname */
	char base[64];      /* canonical "prefix:vpname" (no pipe/mode/flags) */
	int pipe_role;      /* 0 none, 1 master "{", 2 slave "}" */
	uint32_t pipe_id;
	uint32_t nr_mode;   /* NR_REG_* */
	int32_t ring_id;    /* -N; -1 if none */
	uint32_t nr_flags;  /* NR_EXCLUSIVE, NR_ZCOPY_MON, NR_MONITOR_*, NR_*_RINGS_ONLY, NR_VNM_LOSSLESS */
	/* @conf values; 0 = not given */
	uint32_t tx_rings, rx_rings, tx_slots, rx_slots, host_rings;
	uint32_t mem_id;
};

/*
 * Parse spec into *out. Returns 0, or -EINVAL with a reason in errbuf
 * (NUL-terminated, at most errlen bytes) naming the offending part.
 */
int vnm_portname_parse(const char *spec, struct vnm_portname *out, char *errbuf, unsigned errlen);

#endif /* VNETMAP_PORTNAME_H */
