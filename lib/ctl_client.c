// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_client.c - the client half of the control protocol (vnetmap/ctl.h): the
 * runtime directory, one request/reply exchange over AF_UNIX SOCK_SEQPACKET,
 * descriptors received with SCM_RIGHTS.
 *
 * Security model: the daemon is the authority for the port but its replies are
 * still checked before use: a reply must be one whole datagram (no MSG_TRUNC /
 * MSG_CTRUNC) with the right magic, version and type, a payload length that
 * matches what arrived, and exactly the expected number of descriptors. Anything
 * else is -EPROTO and every descriptor that came with it is closed, so a confused
 * or hostile peer cannot leak descriptors into the process. The error message of a
 * failed reply is copied bounded and NUL-terminated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

#define VNM_CTL_TIMEOUT_S 10
#define VNM_CTL_MAX_FDS 8 /* room for more than any reply carries, to close extras */

int vnm__report(vnm_error_cb cb, void *arg, int err, const char *fmt, ...)
{
	if (cb) {
		char msg[VNM_ERRMSG_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		cb(arg, -err, msg);
	}
	return err;
}

static int copy_str(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s%s", a, b);
	return n >= 0 && (size_t)n < len;
}

const char *vnm_runtime_dir(const char *dir, char *buf, size_t len)
{
	const char *env;
	int ok;

	if (!buf || !len)
		return NULL;
	if (dir && *dir) {
		ok = copy_str(buf, len, dir, "");
	} else if ((env = getenv(VNETMAP_DIR_ENV)) && *env) {
		ok = copy_str(buf, len, env, "");
	} else if (getuid() == 0) {
		ok = copy_str(buf, len, "/run/vnetmap", "");
	} else if ((env = getenv("XDG_RUNTIME_DIR")) && *env) {
		ok = copy_str(buf, len, env, "/vnetmap");
	} else {
		int n = snprintf(buf, len, "/tmp/vnetmap-%u", (unsigned)getuid());
		ok = n >= 0 && (size_t)n < len;
	}
	if (!ok) {
		buf[0] = '\0';
		return NULL;
	}
	return buf;
}

static void set_msg(char *errmsg, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *errmsg, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, errlen, fmt, ap);
	va_end(ap);
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int vnm__ctl_xfer(const char *dir_arg, uint16_t type, const void *req, uint32_t reqlen, void *rep,
		  uint32_t replen, int *fds, unsigned nfds, int *conn_out, char *errmsg,
		  size_t errlen)
{
	char dirbuf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *dir = vnm_runtime_dir(dir_arg, dirbuf, sizeof(dirbuf));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = VNM_CTL_TIMEOUT_S };
	int rfds[VNM_CTL_MAX_FDS];
	unsigned nrfds = 0;
	uint8_t *buf = NULL;
	int s = -1, ret;
	ssize_t n;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (conn_out)
		*conn_out = -1;
	if (nfds > VNM_CTL_MAX_FDS || reqlen > VNM_CTL_MAX_PAYLOAD || (reqlen && !req)) {
		set_msg(errmsg, errlen, "bad control request arguments");
		return -EINVAL;
	}
	if (!dir) {
		set_msg(errmsg, errlen, "runtime directory name too long");
		return -ENAMETOOLONG;
	}
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, VNM_CTL_SOCK_NAME) >=
	    (int)sizeof(sa.sun_path)) {
		set_msg(errmsg, errlen, "socket path %s/%s too long", dir, VNM_CTL_SOCK_NAME);
		return -ENAMETOOLONG;
	}

	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0) {
		ret = -errno;
		set_msg(errmsg, errlen, "socket: %s", strerror(errno));
		return ret;
	}
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		if (errno == ENOENT || errno == ECONNREFUSED) {
			set_msg(errmsg, errlen, "no vnetmapd at %s (start it with: vnetmapd --dir %s)",
				dir, dir);
			ret = -ENOENT;
		} else {
			set_msg(errmsg, errlen, "connect %s: %s", sa.sun_path, strerror(errno));
		}
		goto out;
	}
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		ret = -errno;
		set_msg(errmsg, errlen, "setsockopt: %s", strerror(errno));
		goto out;
	}

	buf = malloc(sizeof(struct vnm_ctl_hdr) + VNM_CTL_MAX_PAYLOAD + 1);
	if (!buf) {
		ret = -ENOMEM;
		set_msg(errmsg, errlen, "out of memory");
		goto out;
	}

	/* request */
	struct vnm_ctl_hdr h = {
		.magic = VNM_CTL_MAGIC, .version = VNM_CTL_VERSION, .type = type, .len = reqlen,
	};
	memcpy(buf, &h, sizeof(h));
	if (reqlen)
		memcpy(buf + sizeof(h), req, reqlen);
	do
		n = send(s, buf, sizeof(h) + reqlen, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = -errno;
		set_msg(errmsg, errlen, "send to vnetmapd: %s", strerror(errno));
		goto out;
	}
	if ((size_t)n != sizeof(h) + reqlen) {
		ret = -EIO;
		set_msg(errmsg, errlen, "send to vnetmapd: short write");
		goto out;
	}

	/* reply: one datagram, one byte larger than allowed to detect oversize ones */
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * VNM_CTL_MAX_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(h) + VNM_CTL_MAX_PAYLOAD + 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.b,
		.msg_controllen = sizeof(cbuf.b),
	};
	do
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		set_msg(errmsg, errlen, "no reply from vnetmapd: %s",
			ret == -ETIMEDOUT ? "timed out" : strerror(errno));
		goto out;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nrfds < VNM_CTL_MAX_FDS)
				rfds[nrfds++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0) {
		ret = -ECONNRESET;
		set_msg(errmsg, errlen, "vnetmapd closed the connection");
		goto out;
	}
	memcpy(&h, buf, (size_t)n < sizeof(h) ? (size_t)n : sizeof(h));
	if ((size_t)n < sizeof(h) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    h.magic != VNM_CTL_MAGIC || h.version != VNM_CTL_VERSION || h.type != type ||
	    h.len > VNM_CTL_MAX_PAYLOAD || (size_t)n != sizeof(h) + h.len || h.status > 0 ||
	    h.status < -4095) {
		ret = -EPROTO;
		set_msg(errmsg, errlen, "malformed reply from vnetmapd (%zd bytes, type %u)", n,
			(size_t)n >= sizeof(h) ? h.type : 0);
		goto out;
	}
	if (h.status < 0) {
		if (nrfds) {
			ret = -EPROTO;
			set_msg(errmsg, errlen, "vnetmapd error reply carried descriptors");
			goto out;
		}
		ret = h.status;
		if (h.len) {
			buf[sizeof(h) + h.len] = '\0'; /* buf has one spare byte */
			set_msg(errmsg, errlen, "%s", (char *)buf + sizeof(h));
		} else {
			set_msg(errmsg, errlen, "vnetmapd: %s", strerror(-ret));
		}
		goto out;
	}
	if (nrfds != nfds) {
		ret = -EPROTO;
		set_msg(errmsg, errlen, "vnetmapd reply carried %u descriptors, expected %u", nrfds,
			nfds);
		goto out;
	}
	if (rep && replen)
		memcpy(rep, buf + sizeof(h), h.len < replen ? h.len : replen);
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = rfds[i];
	nrfds = 0; /* ownership passed */
	ret = (int)h.len;
	if (conn_out) {
		*conn_out = s;
		s = -1;
	}
out:
	close_fds(rfds, nrfds);
	if (s >= 0)
		close(s);
	free(buf);
	return ret;
}

int vnm_ctl_call(const char *dir, uint16_t type, const void *req, uint32_t reqlen, void *rep,
		 uint32_t replen, char *errmsg, size_t errlen)
{
	return vnm__ctl_xfer(dir, type, req, reqlen, rep, replen, NULL, 0, NULL, errmsg, errlen);
}

static int hdr_call(uint16_t type, const char *name, unsigned len)
{
	struct vnm_ctl_hdr_req q, rep;
	char msg[8];

	memset(&q, 0, sizeof(q));
	if (!name || strlen(name) >= sizeof(q.name))
		return -EINVAL;
	strcpy(q.name, name);
	q.hdr_len = len;
	int ret = vnm_ctl_call(NULL, type, &q, sizeof(q), &rep, sizeof(rep), msg, sizeof(msg));
	if (ret < 0)
		return ret;
	if (ret != (int)sizeof(rep))
		return -EPROTO;
	return (int)rep.hdr_len;
}

int vnm_port_hdr_set(const char *name, unsigned len)
{
	int ret = hdr_call(VNM_CTL_HDR_SET, name, len);
	return ret < 0 ? ret : 0;
}

int vnm_port_hdr_get(const char *name)
{
	return hdr_call(VNM_CTL_HDR_GET, name, 0);
}
