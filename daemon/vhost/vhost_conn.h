/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost_conn.h - the vhost-user socket of one device, on the main thread's epoll
 * loop: client (default; connects every second until the front-end's server
 * socket answers, again after every disconnect) or server (listens at the path,
 * one front-end at a time).
 */
#ifndef VNM_DAEMON_VHOST_CONN_H
#define VNM_DAEMON_VHOST_CONN_H

#include <sys/un.h>

#include "ctl.h"
#include "vhost/vhost_msg.h"

struct vhost_conn {
	struct vnm_evsrc ev_sock;   /* the connection */
	struct vnm_evsrc ev_aux;    /* listening socket (server) or retry timer (client) */
	char name[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int server;
	int fd;                     /* connection, -1: waiting for a front-end */
	int aux_fd;                 /* listening socket or timerfd */
	int retry_logged;
	struct vhost_dev *dev;
	/* the message being read */
	uint32_t rlen;
	uint8_t rbuf[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	int rfds[VHOST_USER_MAX_FDS];
	unsigned nrfds;
	uint64_t connects, disconnects;
};

/* Start serving dev at path. 0 or -errno with a message in err. */
int vhost_conn_start(struct vhost_conn *c, struct vhost_dev *dev, const char *name,
		     const char *path, int server, char *err, size_t errlen);
/* Close everything (the device is reset). */
void vhost_conn_stop(struct vhost_conn *c);

#endif
