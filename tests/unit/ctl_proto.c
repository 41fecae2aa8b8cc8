// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_proto.c - negative tests of vnetmapd's control parser (bad-inputs.md items 1-4):
 * truncated, oversized, unknown-type and wrong-version messages, bad payloads,
 * fds attached to requests, peers that disconnect at every step, 10,000 rounds;
 * every bad request must get an error reply and /proc/<daemon>/fd must not grow.
 * Runs the daemon of the build dir ($VNM_BIN/vnetmapd or ../bin/vnetmapd); 77 if absent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vnetmap/ctl.h"
#include "vnetmap/region.h"

#define ROUNDS 10000

static char dir[PATH_MAX];
static char sock_path[108];
static pid_t dpid = -1;
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failures++;
}

static void cleanup(void)
{
	if (dpid > 0) {
		kill(dpid, SIGKILL);
		waitpid(dpid, NULL, 0);
		dpid = -1;
	}
	if (dir[0]) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/%s", dir, VNM_CTL_SOCK_NAME);
		unlink(p);
		rmdir(dir);
	}
}

static int count_fds(pid_t pid)
{
	char p[64];
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(p);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int ctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Send raw bytes with optional fds. */
static int send_raw(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 256)];
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(ch), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static union {
	struct vnm_ctl_hdr h;
	uint8_t b[sizeof(struct vnm_ctl_hdr) + VNM_CTL_MAX_PAYLOAD + 64];
} rbuf, sbuf;

/*
 * Receive one reply; returns its status (or INT32_MIN on a transport/format error).
 * Received fds are stored in fds_out (if given) or closed.
 */
static int32_t recv_reply(int s, uint16_t type, int *fds_out, int *nfds_out)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct iovec iov = { rbuf.b, sizeof(rbuf.b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	int nf = 0;

	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); n >= 0 && ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(fd));
			if (fds_out && nf < 8)
				fds_out[nf++] = fd;
			else
				close(fd);
		}
	}
	if (nfds_out)
		*nfds_out = nf;
	if (n < (ssize_t)sizeof(struct vnm_ctl_hdr)) {
		fail("reply to type %u: recv %zd (%s)", type, n, n < 0 ? strerror(errno) : "short");
		return INT32_MIN;
	}
	if (rbuf.h.magic != VNM_CTL_MAGIC || rbuf.h.version != VNM_CTL_VERSION ||
	    rbuf.h.len != (size_t)n - sizeof(rbuf.h) || rbuf.h.type != type) {
		fail("reply to type %u: bad header (magic %x version %u type %u len %u/%zd)", type,
		     rbuf.h.magic, rbuf.h.version, rbuf.h.type, rbuf.h.len, n);
		return INT32_MIN;
	}
	if (rbuf.h.status < 0) {
		/* an error reply carries a NUL-terminated message */
		if (rbuf.h.len == 0 || rbuf.b[sizeof(rbuf.h) + rbuf.h.len - 1] != '\0' ||
		    strlen((char *)rbuf.b + sizeof(rbuf.h)) == 0) {
			fail("error reply to type %u without a message", type);
			return INT32_MIN;
		}
	}
	return rbuf.h.status;
}

static size_t mkreq(uint16_t type, const void *payload, uint32_t len)
{
	sbuf.h.magic = VNM_CTL_MAGIC;
	sbuf.h.version = VNM_CTL_VERSION;
	sbuf.h.type = type;
	sbuf.h.len = len;
	sbuf.h.status = 0;
	if (len)
		memcpy(sbuf.b + sizeof(sbuf.h), payload, len);
	return sizeof(sbuf.h) + len;
}

static size_t mkname(uint16_t type, const char *name)
{
	struct vnm_ctl_name_req q;

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	return mkreq(type, &q, sizeof(q));
}

static size_t mkopen(const char *spec)
{
	struct vnm_ctl_open_req q;

	memset(&q, 0, sizeof(q));
	snprintf(q.spec, sizeof(q.spec), "%s", spec);
	return mkreq(VNM_CTL_OPEN, &q, sizeof(q));
}

/* Send len bytes of sbuf (fds optional), expect status want in a reply echoing type. */
static void expect(int s, const char *what, size_t len, const int *fds, int nfds, uint16_t type,
		   int32_t want)
{
	if (send_raw(s, sbuf.b, len, fds, nfds) < 0) {
		fail("%s: send: %s", what, strerror(errno));
		return;
	}
	int32_t st = recv_reply(s, type, NULL, NULL);
	if (st != INT32_MIN && st != want)
		fail("%s: status %d (%s), want %d: %s", what, st, strerror(-st), want,
		     st < 0 ? (char *)rbuf.b + sizeof(rbuf.h) : "");
}

/* One round of every bad message on connection s. */
static void bad_messages(int s, int round)
{
	static const char *const bad_specs[] = {
		"", "vale0:", "x{", "vale0:x/zz", "vale0:a@conf:rings=0", "vale0:a@conf:slots=99999999",
		"vale0:a@conf:foo=1", "vale0:a@conf:rings=2,rings=2", "netmap:p{1-99",
		"vale0:a b", "vale0:\xff",
	};
	int fds[3];
	size_t len;

	/* zero-length and truncated headers */
	expect(s, "empty message", 0, NULL, 0, 0, -EPROTO);
	mkname(VNM_CTL_LIST, "");
	expect(s, "3-byte message", 3, NULL, 0, 0, -EPROTO);
	expect(s, "15-byte message", sizeof(struct vnm_ctl_hdr) - 1, NULL, 0, 0, -EPROTO);

	/* header fields */
	len = mkname(VNM_CTL_LIST, "");
	sbuf.h.magic ^= 1;
	expect(s, "bad magic", len, NULL, 0, VNM_CTL_LIST, -EPROTO);
	len = mkname(VNM_CTL_LIST, "");
	sbuf.h.version = VNM_CTL_VERSION + 1;
	expect(s, "wrong version", len, NULL, 0, VNM_CTL_LIST, -EPROTO);
	len = mkname(VNM_CTL_LIST, "");
	sbuf.h.len = VNM_CTL_MAX_PAYLOAD + 1;
	expect(s, "len over max", len, NULL, 0, VNM_CTL_LIST, -EMSGSIZE);
	len = mkname(VNM_CTL_LIST, "");
	sbuf.h.len -= 1;
	expect(s, "len short of payload", len, NULL, 0, VNM_CTL_LIST, -EPROTO);
	len = mkname(VNM_CTL_LIST, "");
	sbuf.h.len += 1;
	expect(s, "len past payload", len, NULL, 0, VNM_CTL_LIST, -EPROTO);
	len = mkname(VNM_CTL_LIST, "");
	sbuf.h.status = -1;
	expect(s, "request with status", len, NULL, 0, VNM_CTL_LIST, -EPROTO);
	len = mkname(0, "");
	expect(s, "type 0", len, NULL, 0, 0, -EINVAL);
	len = mkname(VNM_CTL_TYPE_MAX, "");
	expect(s, "type max", len, NULL, 0, VNM_CTL_TYPE_MAX, -EINVAL);
	len = mkname((uint16_t)(0xff00 + (round & 0xff)), "");
	expect(s, "type unknown", len, NULL, 0, (uint16_t)(0xff00 + (round & 0xff)), -EINVAL);

	/* oversized: header + 64 KiB + more */
	len = mkreq(VNM_CTL_LIST, NULL, 0);
	memset(sbuf.b + sizeof(sbuf.h), 'A', VNM_CTL_MAX_PAYLOAD + 32);
	sbuf.h.len = VNM_CTL_MAX_PAYLOAD + 32;
	expect(s, "oversized message", sizeof(sbuf.h) + VNM_CTL_MAX_PAYLOAD + 32, NULL, 0,
	       VNM_CTL_LIST, -EMSGSIZE);

	/* payload sizes and strings */
	len = mkreq(VNM_CTL_LIST, "abc", 4);
	expect(s, "short payload", len, NULL, 0, VNM_CTL_LIST, -EINVAL);
	len = mkreq(VNM_CTL_OPEN, NULL, 0);
	expect(s, "OPEN without payload", len, NULL, 0, VNM_CTL_OPEN, -EINVAL);
	len = mkname(VNM_CTL_INFO, "");
	memset(sbuf.b + sizeof(sbuf.h), 'x', VNM_PORTSPEC_MAX);
	expect(s, "unterminated name", len, NULL, 0, VNM_CTL_INFO, -EINVAL);
	len = mkopen("");
	memset(sbuf.b + sizeof(sbuf.h), 'v', VNM_PORTSPEC_MAX);
	expect(s, "unterminated spec", len, NULL, 0, VNM_CTL_OPEN, -EINVAL);
	len = mkname(VNM_CTL_LIST, "");
	((struct vnm_ctl_name_req *)(sbuf.b + sizeof(sbuf.h)))->flags = 0x80;
	expect(s, "unknown flags", len, NULL, 0, VNM_CTL_LIST, -EINVAL);
	len = mkopen("vale0:a");
	((struct vnm_ctl_open_req *)(sbuf.b + sizeof(sbuf.h)))->flags = 1;
	expect(s, "open flags", len, NULL, 0, VNM_CTL_OPEN, -EINVAL);

	/* fds attached where none are expected */
	fds[0] = eventfd(0, EFD_CLOEXEC);
	if (pipe2(&fds[1], O_CLOEXEC) < 0)
		fds[1] = fds[2] = -1;
	len = mkname(VNM_CTL_LIST, "");
	expect(s, "fds on LIST", len, fds, 3, VNM_CTL_LIST, -EINVAL);
	len = mkreq(0x7777, NULL, 0);
	expect(s, "fds on unknown type", len, fds, 3, 0x7777, -EINVAL);
	expect(s, "fds on 3 bytes", 3, fds, 1, 0, -EPROTO);
	if (round % 100 == 0) {
		int many[250];
		for (int i = 0; i < 250; i++)
			many[i] = fds[i % 3];
		len = mkopen("vale0:a");
		expect(s, "250 fds on OPEN", len, many, 250, VNM_CTL_OPEN, -EINVAL);
	}
	for (int i = 0; i < 3; i++)
		close(fds[i]);

	/* port names (bad-inputs item 2) and lookups */
	const char *spec = bad_specs[round % (sizeof(bad_specs) / sizeof(bad_specs[0]))];
	len = mkopen(spec);
	expect(s, "bad spec", len, NULL, 0, VNM_CTL_OPEN, -EINVAL);
	len = mkname(VNM_CTL_INFO, "vale9:nope");
	expect(s, "INFO unknown port", len, NULL, 0, VNM_CTL_INFO, -ENXIO);
	len = mkname(VNM_CTL_FDB, "nosuchswitch");
	expect(s, "FDB unknown switch", len, NULL, 0, VNM_CTL_FDB, -ENXIO);
	len = mkname(VNM_CTL_CREATE, "bad-name!");
	expect(s, "CREATE bad name", len, NULL, 0, VNM_CTL_CREATE, -EINVAL);
	len = mkname(VNM_CTL_REMOVE, "nosuchport");
	expect(s, "REMOVE unknown", len, NULL, 0, VNM_CTL_REMOVE, -ENXIO);
	len = mkname(VNM_CTL_ATTACH, "vale0");
	expect(s, "ATTACH without port", len, NULL, 0, VNM_CTL_ATTACH, -EINVAL);

	/* and the connection still works */
	len = mkname(VNM_CTL_LIST, "");
	expect(s, "LIST after bad input", len, NULL, 0, VNM_CTL_LIST, 0);
}

/* Peers that go away at every step. */
static void disconnects(int round)
{
	int s;
	size_t len;

	/* connect, close */
	s = ctl_connect();
	if (s < 0) {
		fail("connect: %s", strerror(errno));
		return;
	}
	close(s);
	/* send a request, close before the reply */
	s = ctl_connect();
	if (s >= 0) {
		len = mkname(VNM_CTL_LIST, "");
		send_raw(s, sbuf.b, len, NULL, 0);
		close(s);
	}
	/* send half a header with an fd, close */
	s = ctl_connect();
	if (s >= 0) {
		int fd = eventfd(0, EFD_CLOEXEC);
		mkname(VNM_CTL_LIST, "");
		send_raw(s, sbuf.b, 7, &fd, 1);
		close(fd);
		close(s);
	}
	/* every 50 rounds: OPEN a port (VALE or pipe) and hang up without reading the reply */
	if (round % 50 == 0) {
		s = ctl_connect();
		if (s >= 0) {
			len = mkopen(round % 100 ? "netmap:tp{3" : "vale7:hangup");
			send_raw(s, sbuf.b, len, NULL, 0);
			close(s);
		}
	}
}

/* A real OPEN: the region fd is a 0600 file of the announced size; then a second bind -EBUSY. */
static void open_checks(void)
{
	struct vnm_ctl_open_rep rep;
	struct stat st;
	int s1 = ctl_connect(), s2 = ctl_connect(), fds[8], nf = 0;
	size_t len;

	if (s1 < 0 || s2 < 0) {
		fail("connect for open checks");
		goto out;
	}
	len = mkopen("vale5:p");
	send_raw(s1, sbuf.b, len, NULL, 0);
	if (recv_reply(s1, VNM_CTL_OPEN, fds, &nf) != 0 || rbuf.h.len != sizeof(rep) || nf != 3) {
		fail("OPEN vale5:p: status %d, %d fds: %s", rbuf.h.status, nf,
		     rbuf.h.status < 0 ? (char *)rbuf.b + sizeof(rbuf.h) : "");
		goto out;
	}
	memcpy(&rep, rbuf.b + sizeof(rbuf.h), sizeof(rep));
	if (fstat(fds[0], &st) < 0 || (st.st_mode & 0777) != 0600 ||
	    (uint64_t)st.st_size != rep.region_size)
		fail("region file: mode %o size %lld (want 0600, %llu)", st.st_mode & 0777,
		     (long long)st.st_size, (unsigned long long)rep.region_size);
	if (rep.kind != VNM_KIND_VALE || strcmp(rep.name, "vale5:p") != 0 || rep.nfds != 3)
		fail("OPEN reply: kind %u name %s nfds %u", rep.kind, rep.name, rep.nfds);
	/* the same rings again from another connection */
	len = mkopen("vale5:p");
	expect(s2, "second bind", len, NULL, 0, VNM_CTL_OPEN, -EBUSY);
	/* a second OPEN on a bound connection */
	len = mkopen("vale5:q");
	expect(s1, "OPEN on a bound connection", len, NULL, 0, VNM_CTL_OPEN, -EISCONN);
	len = mkopen("vale5:p@conf:rings=4");
	expect(s2, "conf differs", len, NULL, 0, VNM_CTL_OPEN, -EINVAL);
	len = mkname(VNM_CTL_INFO, "vale5:p");
	expect(s2, "INFO vale5:p", len, NULL, 0, VNM_CTL_INFO, 0);
out:
	for (int i = 0; i < nf; i++)
		close(fds[i]);
	if (s1 >= 0)
		close(s1);
	if (s2 >= 0)
		close(s2);
}

/* OPEN on connection c (a fresh one if c < 0 is passed as -1: returns it); status. */
static int32_t open_on(int *c, const char *spec)
{
	int fds[8], nf = 0;
	int32_t st;

	if (*c < 0)
		*c = ctl_connect();
	if (*c < 0)
		return INT32_MIN;
	size_t len = mkopen(spec);
	if (send_raw(*c, sbuf.b, len, NULL, 0) < 0)
		return INT32_MIN;
	st = recv_reply(*c, VNM_CTL_OPEN, fds, &nf);
	for (int i = 0; i < nf; i++)
		close(fds[i]);
	if (st == 0 && nf != 3)
		fail("OPEN %s: %d fds", spec, nf);
	return st;
}

static int32_t name_req(int s, uint16_t type, const char *name)
{
	size_t len = mkname(type, name);

	if (send_raw(s, sbuf.b, len, NULL, 0) < 0)
		return INT32_MIN;
	return recv_reply(s, type, NULL, NULL);
}

#define WANT(expr, want, what)                                                                  \
	do {                                                                                    \
		int32_t st_ = (expr);                                                           \
		if (st_ != (want))                                                              \
			fail("%s: status %d, want %d: %s", what, st_, want,                     \
			     st_ < 0 && st_ != INT32_MIN ? (char *)rbuf.b + sizeof(rbuf.h) : ""); \
	} while (0)

/*
 * HDR_SET / HDR_GET (netmap's NETMAP_REQ_PORT_HDR_SET): an unterminated name, pad not 0,
 * a short payload, a length other than 0/10/12, a missing port, a port that is not a
 * netmap client's (vhost-user): each refused with its errno, the connection usable.
 */
static void hdr_checks(int s)
{
	struct vnm_ctl_hdr_req q;
	struct vnm_ctl_vhost_req v;
	int c = -1;

	memset(&q, 'a', sizeof(q.name));
	q.hdr_len = 12;
	q.pad = 0;
	expect(s, "HDR_SET unterminated name", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q)), NULL, 0,
	       VNM_CTL_HDR_SET, -EINVAL);
	expect(s, "HDR_GET unterminated name", mkreq(VNM_CTL_HDR_GET, &q, sizeof(q)), NULL, 0,
	       VNM_CTL_HDR_GET, -EINVAL);
	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "vale3:h");
	q.hdr_len = 12;
	expect(s, "HDR_SET short payload", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q) - 4), NULL, 0,
	       VNM_CTL_HDR_SET, -EINVAL);
	expect(s, "HDR_SET missing port", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q)), NULL, 0,
	       VNM_CTL_HDR_SET, -ENXIO);
	WANT(open_on(&c, "vale3:h"), 0, "vale3:h for HDR_SET");
	q.pad = 1;
	expect(s, "HDR_SET pad 1", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q)), NULL, 0, VNM_CTL_HDR_SET,
	       -EINVAL);
	q.pad = 0;
	q.hdr_len = 11;
	expect(s, "HDR_SET 11", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q)), NULL, 0, VNM_CTL_HDR_SET,
	       -EINVAL);
	q.hdr_len = 0xffffffffu;
	expect(s, "HDR_SET 0xffffffff", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q)), NULL, 0,
	       VNM_CTL_HDR_SET, -EINVAL);
	q.hdr_len = 12;
	expect(s, "HDR_SET 12", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q)), NULL, 0, VNM_CTL_HDR_SET, 0);
	expect(s, "HDR_GET", mkreq(VNM_CTL_HDR_GET, &q, sizeof(q)), NULL, 0, VNM_CTL_HDR_GET, 0);
	if (rbuf.h.status == 0 && (rbuf.h.len != sizeof(struct vnm_ctl_hdr_req) ||
				   ((struct vnm_ctl_hdr_req *)(rbuf.b + sizeof(rbuf.h)))->hdr_len != 12))
		fail("HDR_GET reply: len %u", rbuf.h.len);
	if (c >= 0)
		close(c);
	/* a vhost-user port (client mode: nothing listens, nothing is created) */
	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "hv");
	snprintf(v.path, sizeof(v.path), "/nonexistent/vnm-ctl-proto.sock");
	expect(s, "VHOST hv", mkreq(VNM_CTL_VHOST, &v, sizeof(v)), NULL, 0, VNM_CTL_VHOST, 0);
	WANT(name_req(s, VNM_CTL_ATTACH, "vale3:hv"), 0, "ATTACH vale3:hv");
	snprintf(q.name, sizeof(q.name), "vale3:hv");
	expect(s, "HDR_SET on a vhost-user port", mkreq(VNM_CTL_HDR_SET, &q, sizeof(q)), NULL, 0,
	       VNM_CTL_HDR_SET, -EOPNOTSUPP);
	WANT(name_req(s, VNM_CTL_DETACH, "vale3:hv"), 0, "DETACH vale3:hv");
	WANT(name_req(s, VNM_CTL_REMOVE, "hv"), 0, "REMOVE hv");
}

/* Binding rules: ring pairs, /R /T, /x, pipes, persistent ports. */
static void semantics_checks(int s)
{
	int c[6] = { -1, -1, -1, -1, -1, -1 };

	/* two ring pairs of one port from two clients; then everything is taken */
	WANT(open_on(&c[0], "vale3:m-0@conf:rings=2"), 0, "vale3:m-0");
	WANT(open_on(&c[1], "vale3:m-1"), 0, "vale3:m-1");
	WANT(open_on(&c[2], "vale3:m"), -EBUSY, "vale3:m all rings while bound");
	close(c[2]), c[2] = -1;
	WANT(open_on(&c[2], "vale3:m-2"), -EINVAL, "vale3:m-2 out of range");
	close(c[2]), c[2] = -1;
	close(c[1]), c[1] = -1;
	WANT(open_on(&c[1], "vale3:m-1/R"), 0, "vale3:m-1/R after the owner left");
	WANT(open_on(&c[2], "vale3:m-1/T"), 0, "vale3:m-1/T next to /R");
	WANT(open_on(&c[3], "vale3:m/x"), -EBUSY, "/x on a bound port");
	for (int i = 0; i < 4; i++)
		if (c[i] >= 0)
			close(c[i]), c[i] = -1;
	WANT(open_on(&c[0], "vale3:n/x"), 0, "vale3:n/x");
	WANT(open_on(&c[1], "vale3:n-0/T"), -EBUSY, "bind next to /x");
	close(c[0]), c[0] = -1;
	close(c[1]), c[1] = -1;

	/* pipes: each end once; a pair's geometry is fixed at creation */
	WANT(open_on(&c[0], "netmap:sp{2@conf:slots=128"), 0, "netmap:sp{2");
	WANT(open_on(&c[1], "netmap:sp{2"), -EBUSY, "netmap:sp{2 twice");
	close(c[1]), c[1] = -1;
	WANT(open_on(&c[1], "netmap:sp}2@conf:slots=256"), -EINVAL, "netmap:sp}2 other geometry");
	close(c[1]), c[1] = -1;
	WANT(open_on(&c[1], "netmap:sp}2"), 0, "netmap:sp}2");
	WANT(open_on(&c[2], "vale3:q{1"), 0, "vale3:q{1 (parent port absent)");
	WANT(name_req(s, VNM_CTL_INFO, "netmap:sp}2"), 0, "INFO netmap:sp}2");
	close(c[0]), c[0] = -1;
	WANT(open_on(&c[0], "netmap:sp{2"), 0, "netmap:sp{2 re-opened");

	/* persistent ports */
	WANT(name_req(s, VNM_CTL_CREATE, "pp@conf:rings=2"), 0, "CREATE pp");
	WANT(name_req(s, VNM_CTL_CREATE, "pp"), -EEXIST, "CREATE pp twice");
	WANT(open_on(&c[3], "vale3:pp"), -EBUSY, "open detached persistent port");
	if (rbuf.h.status == -EBUSY && !strstr((char *)rbuf.b + sizeof(rbuf.h), "vale-ctl -a"))
		fail("detached port message: %s", (char *)rbuf.b + sizeof(rbuf.h));
	close(c[3]), c[3] = -1;
	WANT(name_req(s, VNM_CTL_ATTACH, "vale3:pp"), 0, "ATTACH vale3:pp");
	WANT(name_req(s, VNM_CTL_ATTACH, "vale4:pp"), -EBUSY, "ATTACH twice");
	WANT(open_on(&c[3], "vale3:pp"), 0, "open attached persistent port");
	WANT(name_req(s, VNM_CTL_DETACH, "vale3:pp"), -EBUSY, "DETACH while bound");
	WANT(name_req(s, VNM_CTL_REMOVE, "pp"), -EBUSY, "REMOVE while bound");
	WANT(name_req(s, VNM_CTL_STATS, "vale3"), 0, "STATS vale3");
	WANT(name_req(s, VNM_CTL_FDB, "vale3"), 0, "FDB vale3");
	close(c[3]), c[3] = -1;
	/* the persistent port survives its last close */
	WANT(name_req(s, VNM_CTL_INFO, "vale3:pp"), 0, "INFO vale3:pp after close");
	WANT(name_req(s, VNM_CTL_DETACH, "vale3:pp"), 0, "DETACH vale3:pp");
	WANT(name_req(s, VNM_CTL_INFO, "pp"), 0, "INFO pp detached");
	WANT(name_req(s, VNM_CTL_REMOVE, "pp"), 0, "REMOVE pp");
	WANT(name_req(s, VNM_CTL_INFO, "pp"), -ENXIO, "INFO pp removed");
	for (int i = 0; i < 6; i++)
		if (c[i] >= 0)
			close(c[i]);
	hdr_checks(s);
}

/* Random garbage, half of it behind a plausible header: every message gets a reply. */
static void random_messages(int s, unsigned n)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (unsigned i = 0; i < n && failures < 20; i++) {
		size_t len;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = (size_t)(x % 400);
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			sbuf.b[j] = (uint8_t)x;
		}
		if ((i & 1) && len >= sizeof(sbuf.h)) {
			sbuf.h.magic = VNM_CTL_MAGIC;
			sbuf.h.version = VNM_CTL_VERSION;
			sbuf.h.type = (uint16_t)(1 + x % (VNM_CTL_TYPE_MAX + 1));
			sbuf.h.status = 0;
			if (i & 2)
				sbuf.h.len = (uint32_t)(len - sizeof(sbuf.h));
		}
		uint16_t type = len >= sizeof(sbuf.h) ? sbuf.h.type : 0;
		if (send_raw(s, sbuf.b, len, NULL, 0) < 0) {
			fail("random message %u: send: %s", i, strerror(errno));
			return;
		}
		int32_t st = recv_reply(s, type, NULL, NULL);
		if (st == INT32_MIN)
			return;
		if (st == 0 && type == VNM_CTL_OPEN)
			return; /* bound by chance: stop using this connection for garbage */
	}
}

static int wait_fds(int want, int ms)
{
	int n = -1;

	for (int i = 0; i < ms / 10; i++) {
		n = count_fds(dpid);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

int main(int argc, char **argv)
{
	char daemon_path[PATH_MAX];
	const char *bin = getenv("VNM_BIN");
	struct stat st;

	if (bin && *bin) {
		snprintf(daemon_path, sizeof(daemon_path), "%s/vnetmapd", bin);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return 77;
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(daemon_path, sizeof(daemon_path), "%.4000s/../bin/vnetmapd", self);
	}
	if (access(daemon_path, X_OK) < 0) {
		fprintf(stderr, "SKIP: no daemon at %s\n", daemon_path);
		return 77;
	}
	snprintf(dir, sizeof(dir), "%s/vnm-ctlproto.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%.90s/%s", dir, VNM_CTL_SOCK_NAME);
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);

	dpid = fork();
	if (dpid == 0) {
		execl(daemon_path, "vnetmapd", "--dir", dir, "-q", (char *)NULL);
		_exit(127);
	}
	int s = -1;
	for (int i = 0; i < 500 && s < 0; i++) {
		s = ctl_connect();
		if (s < 0)
			usleep(10000);
	}
	if (s < 0) {
		fprintf(stderr, "FAIL: daemon did not come up at %s\n", sock_path);
		return 1;
	}
	/* item 4: permissions */
	if (stat(sock_path, &st) < 0 || (st.st_mode & 0777) != 0600)
		fail("socket mode %o, want 0600", st.st_mode & 0777);
	if (stat(dir, &st) < 0 || (st.st_mode & 0777) != 0700)
		fail("runtime dir mode %o, want 0700", st.st_mode & 0777);

	semantics_checks(s);
	/* warm up (first switch, pipe parent) so lazily opened fds are not counted as leaks */
	open_checks();
	disconnects(0);
	usleep(300000);
	int base = count_fds(dpid);

	/* an idle client connected through the whole run is harmless */
	int idle = ctl_connect();
	base += idle >= 0;

	for (int round = 0; round < ROUNDS && failures < 20; round++) {
		bad_messages(s, round);
		disconnects(round);
		if (round % 1000 == 999) {
			/* a fresh connection now and then */
			close(s);
			s = ctl_connect();
			if (s < 0) {
				fail("reconnect: %s", strerror(errno));
				break;
			}
		}
		if (kill(dpid, 0) < 0) {
			fail("daemon died at round %d", round);
			break;
		}
	}
	open_checks();
	int g = ctl_connect();
	if (g >= 0) {
		random_messages(g, ROUNDS);
		close(g);
	}

	int now = wait_fds(base, 2000);
	if (now != base)
		fail("daemon fds: %d before, %d after %d rounds", base, now, ROUNDS);
	/* nothing left bound: the ports opened by peers that hung up are gone */
	size_t len = mkname(VNM_CTL_LIST, "");
	if (send_raw(s, sbuf.b, len, NULL, 0) == 0 && recv_reply(s, VNM_CTL_LIST, NULL, NULL) == 0 &&
	    rbuf.h.len != 0)
		fail("ports left after the clients went: %u bytes of list",
		     rbuf.h.len);
	if (idle >= 0)
		close(idle);
	close(s);

	/* clean exit on SIGTERM: status 0, socket removed */
	int status = 0;
	kill(dpid, SIGTERM);
	if (waitpid(dpid, &status, 0) == dpid) {
		dpid = -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("daemon exit status 0x%x after SIGTERM", status);
		if (access(sock_path, F_OK) == 0)
			fail("socket left after exit");
	}
	if (failures) {
		fprintf(stderr, "%d failure(s)\n", failures);
		return 1;
	}
	printf("ctl_proto: %d rounds, daemon fds stable at %d\n", ROUNDS, base);
	return 0;
}
