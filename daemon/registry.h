/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * registry.h - vnetmapd's tables (main thread only): VALE switches, VALE ports
 * (ephemeral and persistent), pipe parents and pairs, and bindings (one per
 * client connection that opened a port).
 */
#ifndef VNM_DAEMON_REGISTRY_H
#define VNM_DAEMON_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "vnetmap/ctl.h"
#include "vnetmap/portname.h"

struct vnm_vport;
struct vnm_pipe_pair;
struct vnm_mon;

/* What one client connection has bound. */
struct vnm_binding {
	uint32_t kind;                  /* enum vnm_port_kind */
	struct vnm_vport *vp;           /* VALE */
	struct vnm_pipe_pair *pair;     /* PIPE */
	int end;                        /* PIPE: 0 master, 1 slave */
	uint16_t ftx, ltx, frx, lrx;    /* bound ranges, inclusive; first > last: none */
	uint32_t nr_flags;
	int kick_fd;                    /* VALE: eventfd watched by the switch */
	int notify_fd;                  /* VALE: daemon end of the notify socket */
	int app_fd;                     /* VALE: app end, until the reply is sent */
	struct vnm_mon *mon;            /* MONITOR (kind VNM_KIND_MONITOR; fds as VALE) */
};

/* Error text for a reply: handlers fill it when they return < 0. */
struct vnm_err {
	char msg[256];
};

int vnm_err_set(struct vnm_err *e, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * OPEN: bind a new binding. On success fills rep and fds[3] (the reply's fds; the
 * caller sends them, then calls vnm_binding_committed) and returns 0.
 */
int vnm_reg_open(const struct vnm_portname *pn, struct vnm_binding **out,
		 struct vnm_ctl_open_rep *rep, int fds[3], struct vnm_err *err);
/* The reply went out: drop what only the client needed. */
void vnm_binding_committed(struct vnm_binding *b);
/* Unbind (connection closed, or the reply could not be sent). Frees b. */
void vnm_binding_release(struct vnm_binding *b);

/* LIST (single = 0) and INFO (single = 1). Returns entries stored, or -errno. */
int vnm_reg_list(const char *filter, int single, struct vnm_ctl_port_info *out, unsigned max,
		 struct vnm_err *err);
/* CREATE takes "NAME[@conf:...]" (vale-ctl -n NAME -C ...). */
int vnm_reg_create(const char *spec, struct vnm_err *err);
int vnm_reg_remove(const char *name, struct vnm_err *err);
/* VHOST: persistent vhost-user port NAME at path (flags VNM_VHOST_SERVER), detached. */
int vnm_reg_create_vhost(const char *name, const char *path, uint32_t flags, struct vnm_err *err);
/* SOCKET: persistent socket port NAME (flags VNM_SOCK_*; peer_path for DGRAM), detached. */
int vnm_reg_create_socket(const char *name, const char *path, const char *peer_path,
			  uint32_t flags, struct vnm_err *err);
int vnm_reg_attach(const char *spec, struct vnm_err *err);
/* ATTACH with VNM_CTL_F_*: HOST attaches TAP NAME; NAME with no persistent port but in
 * /sys/class/net attaches that interface (AF_PACKET). Both are freed at DETACH. */
int vnm_reg_attach2(const char *spec, uint32_t flags, struct vnm_err *err);
int vnm_reg_detach(const char *spec, struct vnm_err *err);
int vnm_reg_stats(const char *filter, struct vnm_ctl_port_stats *out, unsigned max,
		  struct vnm_err *err);
/*
 * HDR_SET (set 1, *len in) / HDR_GET (set 0, *len out): the virtio-net header length of
 * the VALE port name ("valeX:Y", or a persistent port's name) whose peer is a netmap
 * client (vnm_nmport_set_hdr). Any time; other port kinds: -EOPNOTSUPP.
 */
int vnm_reg_hdr(const char *name, int set, uint32_t *len, struct vnm_err *err);
int vnm_reg_fdb(const char *sw, struct vnm_ctl_fdb_entry *out, unsigned max, struct vnm_err *err);

/* At exit, after every binding is released: destroy persistent ports and switches. */
void vnm_reg_shutdown(void);

/* ---- pipes (ports/pipe.c) ---- */

int vnm_pipe_open(const struct vnm_portname *pn, struct vnm_binding *b,
		  struct vnm_ctl_open_rep *rep, int fds[3], struct vnm_err *err);
void vnm_pipe_unbind(struct vnm_binding *b);
/* Append pipe ends matching filter ("" all) to out; returns the count stored. */
unsigned vnm_pipe_list(const char *filter, struct vnm_ctl_port_info *out, unsigned max,
		       unsigned *matched);
void vnm_pipe_shutdown(void);

#endif /* VNM_DAEMON_REGISTRY_H */
