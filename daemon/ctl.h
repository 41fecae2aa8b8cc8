/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl.h - vnetmapd's control plane (main thread): logging, the epoll loop's event
 * sources and the control socket.
 */
#ifndef VNM_DAEMON_CTL_H
#define VNM_DAEMON_CTL_H

#include <stddef.h>
#include <stdint.h>

enum { VNM_LOG_ERR = 0, VNM_LOG_WARN = 1, VNM_LOG_INFO = 2, VNM_LOG_DEBUG = 3 };

extern int vnm_log_level; /* messages above this level are dropped */

/* One line to stderr: "vnetmapd: <level>: message". Any thread. */
void vnm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An fd in the main epoll loop: data.ptr points at this, handler runs on events. */
struct vnm_evsrc {
	void (*handler)(struct vnm_evsrc *src, uint32_t events);
};

int vnm_ev_add(struct vnm_evsrc *src, int fd, uint32_t events);
void vnm_ev_del(int fd);

/*
 * Close fd after a grace period: for fds a switch thread may still be using
 * (kick eventfds, notify sockets) after they were unpublished, so a stale use
 * never hits a reused fd number.
 */
void vnm_defer_close(int fd);
/* ms until the next deferred close is due, -1 if none. */
int vnm_defer_timeout_ms(void);
/* Close what is due (all if force). */
void vnm_defer_run(int force);

/*
 * Bind and listen on DIR/vnetmapd.sock (umask 077: the socket is 0600). A stale
 * socket is replaced; a live daemon is an error (-EADDRINUSE). 0 or -errno with a
 * message in err.
 */
int vnm_ctl_listen(const char *dir, char *err, size_t errlen);
/* Drop every connection (unbinding its ports) and remove the socket. */
void vnm_ctl_shutdown(void);

/*
 * Test and fuzz seam: a connection whose replies go to fd (the caller's end of a
 * SOCK_SEQPACKET pair; closed by vnm_ctl_conn_free), fed messages by the caller
 * instead of recvmsg. vnm_ctl_conn_input runs the daemon's validation and dispatch
 * on len bytes that carried nfds descriptors (already closed by the caller; more
 * than SCM_MAX_FD reads as MSG_CTRUNC, more than header + 64 KiB as MSG_TRUNC).
 * Returns -1 when a real connection would be dropped, else 0. Main thread only.
 */
struct vnm_ctl_conn;
struct vnm_ctl_conn *vnm_ctl_conn_new(int fd);
int vnm_ctl_conn_input(struct vnm_ctl_conn *c, const void *buf, size_t len, int nfds);
/* Unbind the connection's port, close fd, free. */
void vnm_ctl_conn_free(struct vnm_ctl_conn *c);

#endif /* VNM_DAEMON_CTL_H */
