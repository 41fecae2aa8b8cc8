// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl.c - the control socket: connections, message validation, table-driven
 * dispatch, replies (with fds for OPEN).
 *
 * Security model: any process of our uid (or root) that can reach the 0600 socket
 * in the 0700 runtime directory is a client; connections from other uids are
 * refused (SO_PEERCRED). With vnetmapd --group G the socket is 0660 and the
 * directory 0750, both of group G, and a peer whose primary or supplementary
 * groups (SO_PEERCRED, SO_PEERGROUPS, as of its connect) include G is a client too. A client is untrusted: every message is received whole
 * into a fixed buffer (recvmsg, SOCK_SEQPACKET), then checked in this order before
 * any handler sees it: size >= header, not truncated (MSG_TRUNC), magic, version,
 * hdr.len <= VNM_CTL_MAX_PAYLOAD and == bytes received, status 0, type known, no
 * fds attached (every SCM_RIGHTS fd is closed first; MSG_CTRUNC means the kernel
 * dropped some), payload size exact for the type, strings NUL-terminated within
 * their field. A bad message gets an error reply and the connection stays usable.
 * Handlers get a validated, fixed-size request and copy out what they keep.
 * A client that sends nothing costs one fd; one that does not read its replies is
 * dropped when its socket buffer is full (replies are sent MSG_DONTWAIT).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/passthrough.h"
#include "region_alloc.h"
#include "registry.h"
#include "vnetmap/ctl.h"
#include "vnetmap/portname.h"

#define CTL_MAX_FDS_IN 253 /* SCM_MAX_FD: what one message can carry */

struct conn {
	struct vnm_evsrc ev; /* first */
	int fd;
	struct vnm_binding *b;
	unsigned uid, pid;
	struct conn *prev, *next;
};

struct reply {
	uint8_t *payload;        /* VNM_CTL_MAX_PAYLOAD bytes */
	uint32_t len;
	int fds[3];
	int nfds;
	struct vnm_binding *b;   /* OPEN: the new binding, committed once sent */
	struct vnm_err err;
};

struct ctl_op {
	const char *name;
	uint32_t req_size;
	int fds_ok; /* no request accepts fds today */
	int (*fn)(struct conn *c, const void *req, struct reply *r);
};

static struct vnm_evsrc listen_ev;
static int listen_fd = -1;
static int reserve_fd = -1; /* given up to accept-and-close when out of fds */
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct conn *conns;
static unsigned nconns;

/* message buffers: one request / one reply at a time, 8-byte aligned */
static union {
	struct vnm_ctl_hdr h;
	uint8_t b[sizeof(struct vnm_ctl_hdr) + VNM_CTL_MAX_PAYLOAD];
} rxbuf, txbuf;
static union {
	struct cmsghdr h;
	char b[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS_IN)];
} cbuf;

/* ---- handlers ---- */

static const char *name_of(const void *req)
{
	return ((const struct vnm_ctl_name_req *)req)->name;
}

static int h_open(struct conn *c, const void *req, struct reply *r)
{
	const struct vnm_ctl_open_req *q = req;
	struct vnm_ctl_open_rep rep;
	struct vnm_portname pn;
	char msg[200];
	int ret;

	if (c->b)
		return vnm_err_set(&r->err, -EISCONN, "this connection has a port bound already");
	if (q->flags)
		return vnm_err_set(&r->err, -EINVAL, "open flags are reserved (0)");
	ret = vnm_portname_parse(q->spec, &pn, msg, sizeof(msg));
	if (ret < 0)
		return vnm_err_set(&r->err, ret, "%s", msg);
	ret = vnm_reg_open(&pn, &r->b, &rep, r->fds, &r->err);
	if (ret < 0)
		return ret;
	memcpy(r->payload, &rep, sizeof(rep));
	r->len = sizeof(rep);
	r->nfds = 3;
	return 0;
}

static int h_list(struct conn *c, const void *req, struct reply *r)
{
	int n = vnm_reg_list(name_of(req), 0, (struct vnm_ctl_port_info *)r->payload,
			     VNM_CTL_MAX_PAYLOAD / sizeof(struct vnm_ctl_port_info), &r->err);
	if (n < 0)
		return n;
	r->len = (uint32_t)n * sizeof(struct vnm_ctl_port_info);
	return 0;
}

static int h_info(struct conn *c, const void *req, struct reply *r)
{
	if (!name_of(req)[0])
		return vnm_err_set(&r->err, -EINVAL, "INFO needs a port name");
	int n = vnm_reg_list(name_of(req), 1, (struct vnm_ctl_port_info *)r->payload, 1, &r->err);
	if (n < 0)
		return n;
	if (n == 0)
		return vnm_err_set(&r->err, -ENXIO, "no such port");
	r->len = sizeof(struct vnm_ctl_port_info);
	return 0;
}

static int h_create(struct conn *c, const void *req, struct reply *r)
{
	return vnm_reg_create(name_of(req), &r->err);
}

static int h_remove(struct conn *c, const void *req, struct reply *r)
{
	return vnm_reg_remove(name_of(req), &r->err);
}

static int h_attach(struct conn *c, const void *req, struct reply *r)
{
	const struct vnm_ctl_name_req *q = req;

	return vnm_reg_attach2(name_of(req), q->flags, &r->err);
}

static int h_detach(struct conn *c, const void *req, struct reply *r)
{
	return vnm_reg_detach(name_of(req), &r->err);
}

static int h_stats(struct conn *c, const void *req, struct reply *r)
{
	int n = vnm_reg_stats(name_of(req), (struct vnm_ctl_port_stats *)r->payload,
			      VNM_CTL_MAX_PAYLOAD / sizeof(struct vnm_ctl_port_stats), &r->err);
	if (n < 0)
		return n;
	r->len = (uint32_t)n * sizeof(struct vnm_ctl_port_stats);
	return 0;
}

static int h_fdb(struct conn *c, const void *req, struct reply *r)
{
	int n = vnm_reg_fdb(name_of(req), (struct vnm_ctl_fdb_entry *)r->payload,
			    VNM_CTL_MAX_PAYLOAD / sizeof(struct vnm_ctl_fdb_entry), &r->err);
	if (n < 0)
		return n;
	r->len = (uint32_t)n * sizeof(struct vnm_ctl_fdb_entry);
	return 0;
}

static int h_vhost(struct conn *c, const void *req, struct reply *r)
{
	const struct vnm_ctl_vhost_req *q = req;

	return vnm_reg_create_vhost(q->name, q->path, q->flags, &r->err);
}

static int h_socket(struct conn *c, const void *req, struct reply *r)
{
	const struct vnm_ctl_socket_req *q = req;

	return vnm_reg_create_socket(q->name, q->path, q->peer_path, q->flags, &r->err);
}

static int h_pt(struct conn *c, const void *req, struct reply *r)
{
	const struct vnm_ctl_pt_req *q = req;
	int ret = vnm_pt_export(q->spec, q->flags, (struct vnm_ctl_pt_info *)r->payload, &r->err);

	if (ret < 0)
		return ret;
	r->len = sizeof(struct vnm_ctl_pt_info);
	return 0;
}

static int h_pt_remove(struct conn *c, const void *req, struct reply *r)
{
	return vnm_pt_remove(name_of(req), &r->err);
}

static int h_pt_list(struct conn *c, const void *req, struct reply *r)
{
	int n = vnm_pt_list(name_of(req), (struct vnm_ctl_pt_info *)r->payload,
			    VNM_CTL_MAX_PAYLOAD / sizeof(struct vnm_ctl_pt_info), &r->err);
	if (n < 0)
		return n;
	r->len = (uint32_t)n * sizeof(struct vnm_ctl_pt_info);
	return 0;
}

static int h_hdr(struct conn *c, const void *req, struct reply *r, int set)
{
	const struct vnm_ctl_hdr_req *q = req;
	struct vnm_ctl_hdr_req *rep = (struct vnm_ctl_hdr_req *)r->payload;
	uint32_t len = q->hdr_len;
	int ret = vnm_reg_hdr(q->name, set, &len, &r->err);

	if (ret < 0)
		return ret;
	memset(rep, 0, sizeof(*rep));
	snprintf(rep->name, sizeof(rep->name), "%s", q->name);
	rep->hdr_len = len;
	r->len = sizeof(*rep);
	return 0;
}

static int h_hdr_set(struct conn *c, const void *req, struct reply *r)
{
	return h_hdr(c, req, r, 1);
}

static int h_hdr_get(struct conn *c, const void *req, struct reply *r)
{
	return h_hdr(c, req, r, 0);
}

/* The whole request policy in one place. */
static const struct ctl_op ops[VNM_CTL_TYPE_MAX] = {
	[VNM_CTL_OPEN] = { "OPEN", sizeof(struct vnm_ctl_open_req), 0, h_open },
	[VNM_CTL_LIST] = { "LIST", sizeof(struct vnm_ctl_name_req), 0, h_list },
	[VNM_CTL_CREATE] = { "CREATE", sizeof(struct vnm_ctl_name_req), 0, h_create },
	[VNM_CTL_REMOVE] = { "REMOVE", sizeof(struct vnm_ctl_name_req), 0, h_remove },
	[VNM_CTL_ATTACH] = { "ATTACH", sizeof(struct vnm_ctl_name_req), 0, h_attach },
	[VNM_CTL_DETACH] = { "DETACH", sizeof(struct vnm_ctl_name_req), 0, h_detach },
	[VNM_CTL_STATS] = { "STATS", sizeof(struct vnm_ctl_name_req), 0, h_stats },
	[VNM_CTL_FDB] = { "FDB", sizeof(struct vnm_ctl_name_req), 0, h_fdb },
	[VNM_CTL_INFO] = { "INFO", sizeof(struct vnm_ctl_name_req), 0, h_info },
	[VNM_CTL_VHOST] = { "VHOST", sizeof(struct vnm_ctl_vhost_req), 0, h_vhost },
	[VNM_CTL_PASSTHROUGH] = { "PASSTHROUGH", sizeof(struct vnm_ctl_pt_req), 0, h_pt },
	[VNM_CTL_PT_REMOVE] = { "PT_REMOVE", sizeof(struct vnm_ctl_name_req), 0, h_pt_remove },
	[VNM_CTL_PT_LIST] = { "PT_LIST", sizeof(struct vnm_ctl_name_req), 0, h_pt_list },
	[VNM_CTL_SOCKET] = { "SOCKET", sizeof(struct vnm_ctl_socket_req), 0, h_socket },
	[VNM_CTL_HDR_SET] = { "HDR_SET", sizeof(struct vnm_ctl_hdr_req), 0, h_hdr_set },
	[VNM_CTL_HDR_GET] = { "HDR_GET", sizeof(struct vnm_ctl_hdr_req), 0, h_hdr_get },
};

/* Payload checks common to the request structs: strings terminated, flags known. */
static int check_payload(uint16_t type, const void *p, struct vnm_err *err)
{
	if (type == VNM_CTL_OPEN) {
		const struct vnm_ctl_open_req *q = p;

		if (!memchr(q->spec, '\0', sizeof(q->spec)))
			return vnm_err_set(err, -EINVAL, "spec not NUL-terminated within %d bytes",
					   VNM_PORTSPEC_MAX);
		return 0;
	}
	if (type == VNM_CTL_VHOST) {
		const struct vnm_ctl_vhost_req *v = p;

		if (!memchr(v->name, '\0', sizeof(v->name)) || !memchr(v->path, '\0', sizeof(v->path)))
			return vnm_err_set(err, -EINVAL, "vhost name or path not NUL-terminated");
		return 0; /* flags: checked by vnm_reg_create_vhost */
	}
	if (type == VNM_CTL_SOCKET) {
		const struct vnm_ctl_socket_req *v = p;

		if (!memchr(v->name, '\0', sizeof(v->name)) || !memchr(v->path, '\0', sizeof(v->path)) ||
		    !memchr(v->peer_path, '\0', sizeof(v->peer_path)))
			return vnm_err_set(err, -EINVAL,
					   "socket name, path or peer path not NUL-terminated "
					   "(paths: at most %d characters)",
					   VNM_VHOST_PATH_MAX - 1);
		return 0; /* flags: checked by vnm_sock_port_create */
	}
	if (type == VNM_CTL_PASSTHROUGH) {
		const struct vnm_ctl_pt_req *q = p;

		if (!memchr(q->spec, '\0', sizeof(q->spec)))
			return vnm_err_set(err, -EINVAL, "spec not NUL-terminated within %d bytes",
					   VNM_PORTSPEC_MAX);
		return 0; /* flags: checked by vnm_pt_export */
	}
	if (type == VNM_CTL_HDR_SET || type == VNM_CTL_HDR_GET) {
		const struct vnm_ctl_hdr_req *q = p;

		if (!memchr(q->name, '\0', sizeof(q->name)) || q->pad)
			return vnm_err_set(err, -EINVAL, "name not NUL-terminated, or pad not 0");
		return 0; /* hdr_len: checked by vnm_nmport_set_hdr */
	}
	const struct vnm_ctl_name_req *q = p;

	if (!memchr(q->name, '\0', sizeof(q->name)))
		return vnm_err_set(err, -EINVAL, "name not NUL-terminated within %d bytes",
				   VNM_PORTSPEC_MAX);
	if (q->flags & ~VNM_CTL_F_HOST)
		return vnm_err_set(err, -EINVAL, "unknown flags 0x%x", q->flags);
	if ((q->flags & VNM_CTL_F_HOST) && type != VNM_CTL_ATTACH)
		return vnm_err_set(err, -EINVAL, "VNM_CTL_F_HOST is for ATTACH only");
	return 0;
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	if (c->b) {
		vnm_binding_release(c->b);
		c->b = NULL;
	}
	vnm_ev_del(c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	nconns--;
	vnm_log(VNM_LOG_DEBUG, "client pid %u disconnected", c->pid);
	free(c);
}

/* Send one reply. 0, or -errno (the connection is then dropped by the caller). */
static int send_reply(struct conn *c, uint16_t type, int32_t status, const void *payload,
		      uint32_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 3)];
	} cm;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;

	txbuf.h.magic = VNM_CTL_MAGIC;
	txbuf.h.version = VNM_CTL_VERSION;
	txbuf.h.type = type;
	txbuf.h.len = len;
	txbuf.h.status = status;
	if (len && payload != txbuf.b + sizeof(txbuf.h))
		memcpy(txbuf.b + sizeof(txbuf.h), payload, len);
	iov.iov_base = txbuf.b;
	iov.iov_len = sizeof(txbuf.h) + len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(ch), fds, sizeof(int) * (size_t)nfds);
	}
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	return (size_t)n == iov.iov_len ? 0 : -EIO;
}

static int send_error(struct conn *c, uint16_t type, int status, const char *msg)
{
	vnm_log(VNM_LOG_DEBUG, "pid %u: request type %u: %s (%s)", c->pid, type, msg,
		strerror(-status));
	return send_reply(c, type, status, msg, (uint32_t)strlen(msg) + 1, NULL, 0);
}

/* Close every fd a message carried; returns how many (and whether some were dropped). */
static int close_rights(struct msghdr *mh)
{
	int count = 0;

	for (struct cmsghdr *ch = CMSG_FIRSTHDR(mh); ch; ch = CMSG_NXTHDR(mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(fd));
			if (fd >= 0)
				close(fd);
			count++;
		}
	}
	return count;
}

/*
 * Validate and answer the message of n bytes in rxbuf, which carried nfds file
 * descriptors (already closed); msg_flags are recvmsg's (MSG_TRUNC, MSG_CTRUNC).
 * Returns -1 if the connection must be closed (the reply could not be sent).
 */
static int conn_message(struct conn *c, size_t n, int nfds, int msg_flags)
{
	struct reply r;
	int ret;
	uint16_t type = 0;

	if (n >= sizeof(struct vnm_ctl_hdr))
		type = rxbuf.h.type;
	if (msg_flags & MSG_TRUNC)
		ret = send_error(c, type, -EMSGSIZE, "message larger than header + 64 KiB");
	else if (n < sizeof(struct vnm_ctl_hdr))
		ret = send_error(c, 0, -EPROTO, "truncated message: shorter than the header");
	else if (rxbuf.h.magic != VNM_CTL_MAGIC)
		ret = send_error(c, type, -EPROTO, "bad magic");
	else if (rxbuf.h.version != VNM_CTL_VERSION)
		ret = send_error(c, type, -EPROTO, "unsupported protocol version");
	else if (rxbuf.h.len > VNM_CTL_MAX_PAYLOAD)
		ret = send_error(c, type, -EMSGSIZE, "payload length over 64 KiB");
	else if (rxbuf.h.len != n - sizeof(struct vnm_ctl_hdr))
		ret = send_error(c, type, -EPROTO, "payload length does not match the message");
	else if (rxbuf.h.status != 0)
		ret = send_error(c, type, -EPROTO, "requests carry status 0");
	else if (type == 0 || type >= VNM_CTL_TYPE_MAX || !ops[type].fn)
		ret = send_error(c, type, -EINVAL, "unknown request type");
	else if ((nfds || (msg_flags & MSG_CTRUNC)) && !ops[type].fds_ok)
		ret = send_error(c, type, -EINVAL, "file descriptors are not accepted");
	else if (rxbuf.h.len != ops[type].req_size)
		ret = send_error(c, type, -EINVAL, "payload size does not match the request type");
	else {
		const void *req = rxbuf.b + sizeof(struct vnm_ctl_hdr);

		memset(&r, 0, sizeof(r));
		r.payload = txbuf.b + sizeof(txbuf.h);
		ret = check_payload(type, req, &r.err);
		if (ret == 0)
			ret = ops[type].fn(c, req, &r);
		if (ret < 0) {
			if (!r.err.msg[0])
				snprintf(r.err.msg, sizeof(r.err.msg), "%s", strerror(-ret));
			ret = send_error(c, type, ret, r.err.msg);
		} else {
			vnm_log(VNM_LOG_DEBUG, "pid %u: %s ok", c->pid, ops[type].name);
			ret = send_reply(c, type, 0, r.payload, r.len, r.fds, r.nfds);
			if (r.b) {
				if (ret < 0) {
					vnm_binding_release(r.b);
				} else {
					c->b = r.b;
					vnm_binding_committed(r.b);
				}
			}
		}
	}
	if (ret < 0) {
		vnm_log(VNM_LOG_DEBUG, "pid %u: reply failed: %s", c->pid, strerror(-ret));
		return -1;
	}
	return 0;
}

/* Receive and answer one message. Returns -1 if the connection must be closed. */
static int conn_request(struct conn *c, uint32_t events)
{
	struct iovec iov = { rxbuf.b, sizeof(rxbuf.b) };
	struct msghdr mh;
	ssize_t n;
	int nfds;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.b;
	mh.msg_controllen = sizeof(cbuf.b);
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	/* first of all: no fd a client sent survives this function */
	nfds = close_rights(&mh);
	if (n == 0 && (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		return -1; /* orderly close (SEQPACKET: an empty message reads the same) */
	return conn_message(c, (size_t)n, nfds, mh.msg_flags);
}

static void conn_event(struct vnm_evsrc *src, uint32_t events)
{
	struct conn *c = (struct conn *)src;

	if (events & EPOLLIN) {
		if (conn_request(c, events) < 0)
			conn_close(c);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		conn_close(c);
}

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/* Our uid, root, or (--group G) a member of G. */
static int peer_allowed(int fd, const struct ucred *cred)
{
	gid_t g, groups[256], *gl = groups;
	socklen_t len = sizeof(groups);
	int ok = 0;

	if (cred->uid == geteuid() || cred->uid == 0)
		return 1;
	if (!vnm_share_group(&g))
		return 0;
	if (cred->gid == g)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gl, &len) < 0) {
		if (errno != ERANGE || !(gl = malloc(len)))
			return 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gl, &len) < 0) {
			free(gl);
			return 0;
		}
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (gl[i] == g)
			ok = 1;
	if (gl != groups)
		free(gl);
	return ok;
}

static void accept_one(void)
{
	struct ucred cred = { 0, (uid_t)-1, (gid_t)-1 };
	socklen_t cl = sizeof(cred);
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if ((errno == EMFILE || errno == ENFILE) && reserve_fd >= 0) {
			/* out of fds: take the connection with the reserve and drop it */
			close(reserve_fd);
			fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
			reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			vnm_log(VNM_LOG_WARN, "out of file descriptors: connection refused");
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || !peer_allowed(fd, &cred)) {
		vnm_log(VNM_LOG_WARN, "connection from uid %u refused", (unsigned)cred.uid);
		close(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->ev.handler = conn_event;
	c->fd = fd;
	c->uid = cred.uid;
	c->pid = (unsigned)cred.pid;
	if (vnm_ev_add(&c->ev, fd, EPOLLIN | EPOLLRDHUP) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	nconns++;
	vnm_log(VNM_LOG_DEBUG, "client pid %u connected (%u connections)", c->pid, nconns);
}

/* ---- test and fuzz seam (no socket to receive from) ---- */

struct vnm_ctl_conn *vnm_ctl_conn_new(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ev.handler = conn_event;
	c->fd = fd;
	c->uid = (unsigned)geteuid();
	c->pid = (unsigned)getpid();
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	nconns++;
	return (struct vnm_ctl_conn *)c;
}

int vnm_ctl_conn_input(struct vnm_ctl_conn *cc, const void *buf, size_t len, int nfds)
{
	int flags = 0;

	if (len > sizeof(rxbuf.b)) {
		len = sizeof(rxbuf.b); /* what recvmsg would have stored */
		flags |= MSG_TRUNC;
	}
	memcpy(rxbuf.b, buf, len);
	return conn_message((struct conn *)cc, len, nfds < 0 ? 0 : nfds,
			    flags | (nfds > CTL_MAX_FDS_IN ? MSG_CTRUNC : 0));
}

void vnm_ctl_conn_free(struct vnm_ctl_conn *cc)
{
	conn_close((struct conn *)cc);
}

static void listen_event(struct vnm_evsrc *src, uint32_t events)
{
	/* a bounded batch, so a connection storm cannot starve the clients */
	for (int i = 0; i < 16; i++) {
		int before = (int)nconns;

		accept_one();
		if ((int)nconns == before)
			break;
	}
}

int vnm_ctl_listen(const char *dir, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int n, fd, tries;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, VNM_CTL_SOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path %s/%s too long", dir, VNM_CTL_SOCK_NAME);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	for (tries = 0; tries < 3; tries++) {
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno != EADDRINUSE) {
			int e = errno;
			snprintf(err, errlen, "bind %s: %s", sa.sun_path, strerror(e));
			close(fd);
			return -e;
		}
		if (lstat(sa.sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", sa.sun_path);
			close(fd);
			return -EEXIST;
		}
		/* live or stale? */
		int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			int e = errno;
			snprintf(err, errlen, "socket: %s", strerror(e));
			close(fd);
			return -e;
		}
		int r = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		int e = errno;
		close(probe);
		if (r == 0 || e == EAGAIN) {
			snprintf(err, errlen, "vnetmapd already running at %s", dir);
			close(fd);
			return -EADDRINUSE;
		}
		if (e == ECONNREFUSED) {
			vnm_log(VNM_LOG_INFO, "removing stale socket %s", sa.sun_path);
			unlink(sa.sun_path);
		}
	}
	if (tries == 3) {
		snprintf(err, errlen, "cannot bind %s", sa.sun_path);
		close(fd);
		return -EADDRINUSE;
	}
	memcpy(sock_path, sa.sun_path, sizeof(sock_path));
	/* umask 077 made it 0600 already; say so explicitly (--group: the group's, 0660) */
	if (chmod(sa.sun_path, 0600) < 0 || vnm_share_sock(sa.sun_path) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		snprintf(err, errlen, "listen %s: %s", sa.sun_path, strerror(e));
		unlink(sa.sun_path);
		sock_path[0] = '\0';
		close(fd);
		return -e;
	}
	listen_fd = fd;
	listen_ev.handler = listen_event;
	if (vnm_ev_add(&listen_ev, fd, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		vnm_ctl_shutdown();
		return -EIO;
	}
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

void vnm_ctl_shutdown(void)
{
	while (conns)
		conn_close(conns);
	if (listen_fd >= 0) {
		vnm_ev_del(listen_fd);
		close(listen_fd);
		listen_fd = -1;
	}
	if (sock_path[0]) {
		unlink(sock_path);
		sock_path[0] = '\0';
	}
	if (reserve_fd >= 0) {
		close(reserve_fd);
		reserve_fd = -1;
	}
}
