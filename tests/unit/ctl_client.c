// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctl_client.c - the library's control client against a scripted fake daemon:
 * malformed replies (short, bad magic/version/type, length mismatch, positive
 * status, descriptors where none belong, too few descriptors) are -EPROTO and
 * leak no descriptor; error replies carry their message; no daemon / stale socket
 * give the "no vnetmapd at" hint; the runtime directory rules. Exit 0 pass, 1 fail.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vnetmap.h"

static int fails;
static char dir[64];

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			fails++;                                           \
		}                                                          \
	} while (0)

/* Open descriptors, once the fake daemon has closed its side of past connections. */
static int count_fds(void)
{
	usleep(20000);
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* What the fake daemon answers to the next request. */
struct script {
	const void *data;
	size_t len;
	int nfds;   /* descriptors to attach (fresh socketpair ends) */
	int hangup; /* close without replying */
};

static struct script script;
static int listen_fd = -1;

static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(listen_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[512];
		if (recv(c, buf, sizeof(buf), 0) <= 0 || script.hangup) {
			close(c);
			continue;
		}
		int fds[8], n = script.nfds;
		for (int i = 0; i < n; i += 2) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
				abort();
			fds[i] = sv[0];
			if (i + 1 < n)
				fds[i + 1] = sv[1];
			else
				close(sv[1]);
		}
		union {
			struct cmsghdr a;
			char b[CMSG_SPACE(sizeof(int) * 8)];
		} cb;
		struct iovec iov = { .iov_base = (void *)script.data, .iov_len = script.len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (n) {
			mh.msg_control = cb.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
		}
		if (sendmsg(c, &mh, 0) < 0)
			perror("fake daemon sendmsg");
		for (int i = 0; i < n; i++)
			close(fds[i]);
		/* keep the connection until the client closes it */
		while (recv(c, buf, sizeof(buf), 0) > 0)
			;
		close(c);
	}
}

static struct {
	struct vnm_ctl_hdr h;
	char payload[sizeof(struct vnm_ctl_open_rep) + 64];
} msg;

static void set_reply(uint16_t type, int32_t status, const void *payload, uint32_t len, int nfds)
{
	msg.h = (struct vnm_ctl_hdr){ VNM_CTL_MAGIC, VNM_CTL_VERSION, type, len, status };
	memcpy(msg.payload, payload, len);
	script = (struct script){ &msg, sizeof(msg.h) + len, nfds, 0 };
}

static int call_list(char *err, size_t errlen, void *rep, uint32_t replen)
{
	struct vnm_ctl_name_req req = { .name = "" };
	return vnm_ctl_call(dir, VNM_CTL_LIST, &req, sizeof(req), rep, replen, err, errlen);
}

static void test_good_reply(void)
{
	char err[256], rep[64] = "";
	int before = count_fds();
	set_reply(VNM_CTL_LIST, 0, "hello", 6, 0);
	int r = call_list(err, sizeof(err), rep, sizeof(rep));
	CHECK(r == 6 && !strcmp(rep, "hello"), "good reply: %d '%s' (%s)", r, rep, err);
	/* replen smaller than the payload: copies replen, returns the payload length */
	memset(rep, 0, sizeof(rep));
	r = call_list(err, sizeof(err), rep, 2);
	CHECK(r == 6 && !strcmp(rep, "he"), "short replen: %d '%s'", r, rep);
	CHECK(count_fds() == before, "fd leak");
}

static void test_error_reply(void)
{
	char err[256];
	const char m[] = "no such port vale0:zz";
	set_reply(VNM_CTL_LIST, -ENOENT, m, sizeof(m), 0);
	int r = call_list(err, sizeof(err), NULL, 0);
	CHECK(r == -ENOENT && !strcmp(err, m), "error reply: %d '%s'", r, err);
	/* unterminated message: still a C string, bounded */
	set_reply(VNM_CTL_LIST, -EBUSY, "abc", 3, 0);
	r = call_list(err, sizeof(err), NULL, 0);
	CHECK(r == -EBUSY && !strcmp(err, "abc"), "unterminated message: %d '%s'", r, err);
	/* a tiny errmsg buffer */
	char small[4];
	set_reply(VNM_CTL_LIST, -EBUSY, m, sizeof(m), 0);
	r = call_list(small, sizeof(small), NULL, 0);
	CHECK(r == -EBUSY && strlen(small) == 3, "small errmsg");
}

static void test_malformed(void)
{
	char err[256];
	int before = count_fds(), r;

	script = (struct script){ "abcd", 4, 0, 0 };
	r = call_list(err, sizeof(err), NULL, 0);
	CHECK(r == -EPROTO, "short reply: %d", r);

	set_reply(VNM_CTL_LIST, 0, "x", 1, 0);
	msg.h.magic ^= 1;
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "bad magic");
	set_reply(VNM_CTL_LIST, 0, "x", 1, 0);
	msg.h.version = 2;
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "bad version");
	set_reply(VNM_CTL_INFO, 0, "x", 1, 0);
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "wrong type");
	set_reply(VNM_CTL_LIST, 0, "xy", 2, 0);
	msg.h.len = 5; /* says more than arrived */
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "len over");
	set_reply(VNM_CTL_LIST, 0, "xy", 2, 0);
	msg.h.len = 1; /* says less than arrived */
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "len under");
	set_reply(VNM_CTL_LIST, 3, "", 0, 0);
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "positive status");
	set_reply(VNM_CTL_LIST, -100000, "", 0, 0);
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "status out of errno range");

	set_reply(VNM_CTL_LIST, 0, "x", 1, 2);
	r = call_list(err, sizeof(err), NULL, 0);
	CHECK(r == -EPROTO && strstr(err, "descriptors"), "fds on LIST: %d '%s'", r, err);
	set_reply(VNM_CTL_LIST, -EINVAL, "bad", 4, 1);
	CHECK(call_list(err, sizeof(err), NULL, 0) == -EPROTO, "fds on an error reply");

	script.hangup = 1;
	r = call_list(err, sizeof(err), NULL, 0);
	CHECK(r == -ECONNRESET, "hang-up: %d '%s'", r, err);
	script.hangup = 0;

	CHECK(count_fds() == before, "descriptors leaked: %d -> %d", before, count_fds());
}

static void on_error(void *arg, int err, const char *m)
{
	snprintf(arg, 256, "%d %s", err, m);
}

static void test_open_malformed(void)
{
	char emsg[256] = "";
	struct vnm_open_opts o = { .dir = dir, .error = on_error, .error_arg = emsg };
	struct vnm_ctl_open_rep rep = { .region_size = 1 << 20, .kind = VNM_KIND_VALE, .nfds = 3 };
	struct vnm_port *d = (struct vnm_port *)1;
	int before = count_fds(), r;

	set_reply(VNM_CTL_OPEN, 0, &rep, sizeof(rep), 2);
	r = vnm_port_open("vale0:a", &o, &d);
	CHECK(r == -EPROTO && d == NULL && strstr(emsg, "vale0:a"), "2 fds: %d '%s'", r, emsg);
	CHECK(strncmp(emsg, "71 ", 3) == 0, "callback gets a positive errno: '%s'", emsg);
	set_reply(VNM_CTL_OPEN, 0, &rep, sizeof(rep), 4);
	CHECK(vnm_port_open("vale0:a", &o, &d) == -EPROTO, "4 fds");
	/* 3 fds, but fds[0] is a socket: fstat size 0 != region_size */
	set_reply(VNM_CTL_OPEN, 0, &rep, sizeof(rep), 3);
	r = vnm_port_open("vale0:a", &o, &d);
	CHECK(r == -EPROTO && strstr(emsg, "region"), "region size: %d '%s'", r, emsg);
	/* short reply payload */
	set_reply(VNM_CTL_OPEN, 0, &rep, 16, 3);
	CHECK(vnm_port_open("vale0:a", &o, &d) == -EPROTO, "short OPEN reply");
	/* bad kind / end index */
	rep.kind = 9;
	set_reply(VNM_CTL_OPEN, 0, &rep, sizeof(rep), 3);
	CHECK(vnm_port_open("vale0:a", &o, &d) == -EPROTO, "bad kind");
	rep.kind = VNM_KIND_PIPE;
	rep.end = 3;
	rep.peer_end = 3;
	set_reply(VNM_CTL_OPEN, 0, &rep, sizeof(rep), 3);
	CHECK(vnm_port_open("netmap:p{1", &o, &d) == -EPROTO, "pipe end == peer_end");
	/* a bad name never reaches the daemon */
	r = vnm_port_open("vale0:", &o, &d);
	CHECK(r == -EINVAL && strstr(emsg, "missing port name"), "bad name: '%s'", emsg);
	CHECK(count_fds() == before, "descriptors leaked: %d -> %d", before, count_fds());
}

static void test_no_daemon(void)
{
	char err[256], d2[80];
	struct vnm_ctl_name_req req = { .name = "" };
	int r;

	snprintf(d2, sizeof(d2), "%s/nothing", dir);
	r = vnm_ctl_call(d2, VNM_CTL_LIST, &req, sizeof(req), NULL, 0, err, sizeof(err));
	CHECK(r == -ENOENT && strstr(err, "no vnetmapd at") && strstr(err, "--dir"), "%d '%s'", r, err);

	/* a stale socket file: ECONNREFUSED, same hint */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(d2, sizeof(d2), "%s/stale", dir);
	mkdir(d2, 0700);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", d2, VNM_CTL_SOCK_NAME);
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind stale");
	close(s);
	r = vnm_ctl_call(d2, VNM_CTL_LIST, &req, sizeof(req), NULL, 0, err, sizeof(err));
	CHECK(r == -ENOENT && strstr(err, "no vnetmapd at"), "stale socket: %d '%s'", r, err);
	unlink(sa.sun_path);
	rmdir(d2);

	char longdir[200];
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = 0;
	r = vnm_ctl_call(longdir, VNM_CTL_LIST, &req, sizeof(req), NULL, 0, err, sizeof(err));
	CHECK(r == -ENAMETOOLONG, "long dir: %d", r);
}

static void test_runtime_dir(void)
{
	char buf[256];
	const char *p;

	p = vnm_runtime_dir("/x/y", buf, sizeof(buf));
	CHECK(p && !strcmp(p, "/x/y"), "explicit");
	setenv(VNETMAP_DIR_ENV, "/from/env", 1);
	p = vnm_runtime_dir(NULL, buf, sizeof(buf));
	CHECK(p && !strcmp(p, "/from/env"), "env");
	setenv(VNETMAP_DIR_ENV, "", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/77", 1);
	p = vnm_runtime_dir(NULL, buf, sizeof(buf));
	if (getuid() == 0)
		CHECK(p && !strcmp(p, "/run/vnetmap"), "root default: %s", p);
	else
		CHECK(p && !strcmp(p, "/run/user/77/vnetmap"), "xdg: %s", p);
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv(VNETMAP_DIR_ENV);
	p = vnm_runtime_dir(NULL, buf, sizeof(buf));
	char want[64];
	snprintf(want, sizeof(want), getuid() == 0 ? "/run/vnetmap" : "/tmp/vnetmap-%u",
		 (unsigned)getuid());
	CHECK(p && !strcmp(p, want), "fallback: %s, want %s", p, want);
	CHECK(vnm_runtime_dir("/a/very/long/directory", buf, 8) == NULL && buf[0] == 0, "too long");
}

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t th;

	snprintf(dir, sizeof(dir), "/tmp/vnm-ctlc.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, VNM_CTL_SOCK_NAME);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 8) < 0) {
		perror("fake daemon");
		return 1;
	}
	pthread_create(&th, NULL, server, NULL);

	test_good_reply();
	test_error_reply();
	test_malformed();
	test_open_malformed();
	test_no_daemon();
	test_runtime_dir();

	shutdown(listen_fd, SHUT_RDWR);
	close(listen_fd);
	unlink(sa.sun_path);
	rmdir(dir);
	return fails ? 1 : 0;
}
