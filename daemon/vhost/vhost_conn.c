// SPDX-License-Identifier: BSD-2-Clause
/*
 * vhost_conn.c - the vhost-user socket: connect/accept, read whole messages with
 * their fds, hand them to vhost_dev_msg, send replies, reconnect.
 *
 * Security model: the peer on the socket is untrusted (see vhost_msg.c). Here:
 * reads are bounded by the header's size field, which must not exceed the largest
 * payload of any request (else the connection closes before reading it); at most
 * VHOST_USER_MAX_FDS fds per message (more, or a truncated control message, closes
 * the connection; every fd received is closed unless the device keeps it); a
 * peer that stalls mid-message only stalls its own port (non-blocking reads, no
 * wait); a bounded number of messages per wake-up so a chatty peer cannot starve
 * the main loop. A server socket is created 0600 (umask 077) and a stale socket
 * file at the path is replaced only if it is a socket. On any error the device is
 * reset (rings stopped, memory unmapped) and the port waits for a front-end again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "region_alloc.h"
#include "vhost/vhost_conn.h"

#define RETRY_MS 1000
#define MSGS_PER_WAKEUP 64

#define container_of(p, T, m) ((T *)((char *)(p) - __builtin_offsetof(T, m)))

static void conn_drop_fds(struct vhost_conn *c)
{
	for (unsigned i = 0; i < c->nrfds; i++)
		close(c->rfds[i]);
	c->nrfds = 0;
}

static void arm_retry(struct vhost_conn *c, int on)
{
	struct itimerspec its;

	if (c->server || c->aux_fd < 0)
		return;
	memset(&its, 0, sizeof(its));
	if (on) {
		its.it_value.tv_sec = RETRY_MS / 1000;
		its.it_value.tv_nsec = (RETRY_MS % 1000) * 1000000L;
		its.it_interval = its.it_value;
	}
	timerfd_settime(c->aux_fd, 0, &its, NULL);
}

static void conn_close(struct vhost_conn *c, const char *why)
{
	if (c->fd < 0)
		return;
	vnm_ev_del(c->fd);
	close(c->fd);
	c->fd = -1;
	conn_drop_fds(c);
	c->rlen = 0;
	c->disconnects++;
	vhost_dev_reset(c->dev);
	vnm_log(VNM_LOG_INFO, "vhost %s: %s: waiting for a front-end", c->name, why);
	c->retry_logged = 0;
	arm_retry(c, 1);
}

static int conn_take(struct vhost_conn *c, int fd)
{
	c->fd = fd;
	c->rlen = 0;
	c->nrfds = 0;
	if (vnm_ev_add(&c->ev_sock, fd, EPOLLIN | EPOLLRDHUP) < 0) {
		close(fd);
		c->fd = -1;
		return -1;
	}
	c->connects++;
	arm_retry(c, 0);
	vnm_log(VNM_LOG_INFO, "vhost %s: front-end connected at %s", c->name, c->path);
	return 0;
}

/* One complete message in rbuf: handle it. 0, or -1 after closing the connection. */
static int conn_message(struct vhost_conn *c)
{
	struct vhost_user_hdr hdr;
	uint8_t reply[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	size_t rlen = 0;
	char why[256];

	memcpy(&hdr, c->rbuf, sizeof(hdr));
	unsigned nfds = c->nrfds;
	c->nrfds = 0; /* vhost_dev_msg consumes them */
	c->rlen = 0;
	int ret = vhost_dev_msg(c->dev, &hdr, c->rbuf + VHOST_USER_HDR_SIZE, c->rfds, nfds, reply,
				&rlen);
	vnm_log(VNM_LOG_DEBUG, "vhost %s: %s (%u bytes, %u fds): %d", c->name,
		vhost_req_name(hdr.request), hdr.size, nfds, ret);
	if (rlen) {
		ssize_t w = send(c->fd, reply, rlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w != (ssize_t)rlen && ret == 0) {
			conn_close(c, "cannot send a reply");
			return -1;
		}
	}
	if (ret < 0) {
		snprintf(why, sizeof(why), "%s: closing the connection", c->dev->err);
		vnm_log(VNM_LOG_WARN, "vhost %s: %s", c->name, why);
		conn_close(c, "closed after an error");
		return -1;
	}
	return 0;
}

static void sock_event(struct vnm_evsrc *src, uint32_t events)
{
	struct vhost_conn *c = container_of(src, struct vhost_conn, ev_sock);
	union {
		char b[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;

	for (int m = 0; m < MSGS_PER_WAKEUP * 2 && c->fd >= 0; m++) {
		uint32_t need = VHOST_USER_HDR_SIZE;
		struct vhost_user_hdr hdr;

		if (c->rlen >= VHOST_USER_HDR_SIZE) {
			memcpy(&hdr, c->rbuf, sizeof(hdr));
			need += hdr.size;
		}
		struct iovec iov = { c->rbuf + c->rlen, need - c->rlen };
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.b;
		mh.msg_controllen = sizeof(cbuf.b);
		ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(c, strerror(errno));
			return;
		}
		/* fds first: whatever happens next, none leaks */
		int bad = !!(mh.msg_flags & MSG_CTRUNC);
		for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch)) {
			if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(fd));
				if (c->nrfds < VHOST_USER_MAX_FDS)
					c->rfds[c->nrfds++] = fd;
				else {
					close(fd);
					bad = 1;
				}
			}
		}
		if (n == 0) {
			conn_close(c, c->rlen ? "front-end closed mid-message" : "front-end closed");
			return;
		}
		if (bad) {
			vnm_log(VNM_LOG_WARN, "vhost %s: too many file descriptors: closing", c->name);
			conn_close(c, "closed after an error");
			return;
		}
		c->rlen += (uint32_t)n;
		if (c->rlen == VHOST_USER_HDR_SIZE) {
			memcpy(&hdr, c->rbuf, sizeof(hdr));
			if (hdr.size > VHOST_USER_PAYLOAD_MAX) {
				vnm_log(VNM_LOG_WARN,
					"vhost %s: request %u with a %u-byte payload: closing", c->name,
					hdr.request, hdr.size);
				conn_close(c, "closed after an error");
				return;
			}
			need = VHOST_USER_HDR_SIZE + hdr.size;
		}
		if (c->rlen == need && conn_message(c) < 0)
			return;
	}
	if (c->fd >= 0 && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
		conn_close(c, "front-end hung up");
}

static int try_connect(struct vhost_conn *c)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->path, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return conn_take(c, fd);
}

static void aux_event(struct vnm_evsrc *src, uint32_t events)
{
	struct vhost_conn *c = container_of(src, struct vhost_conn, ev_aux);

	if (c->server) {
		int fd = accept4(c->aux_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (c->fd >= 0) {
			vnm_log(VNM_LOG_WARN, "vhost %s: a second front-end refused", c->name);
			close(fd);
			return;
		}
		conn_take(c, fd);
		return;
	}
	uint64_t ticks;
	ssize_t r = read(c->aux_fd, &ticks, sizeof(ticks));
	(void)r;
	if (c->fd >= 0)
		return;
	int ret = try_connect(c);
	if (ret < 0 && !c->retry_logged) {
		vnm_log(VNM_LOG_INFO, "vhost %s: cannot connect to %s (%s): retrying every second",
			c->name, c->path, strerror(-ret));
		c->retry_logged = 1;
	}
}

static int make_listener(struct vhost_conn *c, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->path, sizeof(sa.sun_path));
	if (lstat(c->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", c->path);
			close(fd);
			return -EEXIST;
		}
		unlink(c->path); /* a stale socket (a previous vnetmapd) */
	}
	/* 0700 by the daemon's umask; --group: the group's, 0660 (region.c vnm_share_sock) */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || vnm_share_sock(c->path) < 0 ||
	    listen(fd, 4) < 0) {
		int e = errno;
		snprintf(err, errlen, "listen at %s: %s", c->path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int vhost_conn_start(struct vhost_conn *c, struct vhost_dev *dev, const char *name,
		     const char *path, int server, char *err, size_t errlen)
{
	size_t pl = strlen(path);

	memset(c, 0, sizeof(*c));
	c->fd = c->aux_fd = -1;
	c->dev = dev;
	c->server = server;
	c->ev_sock.handler = sock_event;
	c->ev_aux.handler = aux_event;
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (pl == 0 || pl >= sizeof(c->path)) {
		snprintf(err, errlen, "socket path must have 1..%zu characters", sizeof(c->path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(c->path, path, pl + 1);
	if (server) {
		c->aux_fd = make_listener(c, err, errlen);
		if (c->aux_fd < 0)
			return c->aux_fd;
	} else {
		c->aux_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (c->aux_fd < 0) {
			snprintf(err, errlen, "timerfd: %s", strerror(errno));
			return -errno;
		}
	}
	if (vnm_ev_add(&c->ev_aux, c->aux_fd, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		close(c->aux_fd);
		c->aux_fd = -1;
		return -EIO;
	}
	if (server) {
		vnm_log(VNM_LOG_INFO, "vhost %s: listening at %s", c->name, c->path);
	} else if (try_connect(c) < 0) {
		vnm_log(VNM_LOG_INFO, "vhost %s: no front-end at %s yet: retrying every second",
			c->name, c->path);
		c->retry_logged = 1;
		arm_retry(c, 1);
	}
	return 0;
}

void vhost_conn_stop(struct vhost_conn *c)
{
	if (c->fd >= 0)
		conn_close(c, "port removed");
	if (c->aux_fd >= 0) {
		vnm_ev_del(c->aux_fd);
		close(c->aux_fd);
		c->aux_fd = -1;
		if (c->server)
			unlink(c->path);
	}
}
