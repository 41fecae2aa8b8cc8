// SPDX-License-Identifier: BSD-2-Clause
/*
 * main.c - vnetmapd: plays netmap's kernel for VALE switches and pipes in user
 * space. Main thread = control plane: one epoll loop over the signalfd, the
 * listening control socket and the client connections. Each VALE switch runs
 * its own forwarding thread (vale/switch.c).
 *
 * Security model: the runtime directory is created 0700 (an existing one must be
 * ours), the socket 0600 (umask 077) and region files 0600 in a 0700 directory.
 * With --group G they belong to G instead, directories 0750, socket and files 0660
 * (region.c vnm_share_*), and ctl.c also accepts peers in G. Clients are untrusted;
 * see ctl.c and registry.c.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ports/passthrough.h"
#include "ports/pipe_vhost.h"
#include "region_alloc.h"
#include "registry.h"
#include "vnetmap.h"

#ifndef VNETMAP_VERSION_STR
#define VNETMAP_VERSION_STR "0.1.0"
#endif

int vnm_log_level = VNM_LOG_INFO;
static int epfd = -1;

void vnm_log(int level, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "" };
	char line[512];
	va_list ap;
	int n;

	if (level > vnm_log_level)
		return;
	n = snprintf(line, sizeof(line), "vnetmapd: %s", tag[level < 0 ? 0 : level > 3 ? 3 : level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* one write per line: lines from switch threads do not interleave */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

/*
 * The batch of events being handled, and the source of each registered fd: a handler
 * may free sources other than its own (a REMOVE request frees a port whose socket or
 * eventfd has an event later in the same batch). vnm_ev_del forgets the fd's source in
 * the rest of the batch, so a source unregistered before it is freed is never called.
 */
static struct epoll_event *batch_evs;
static int batch_n, batch_i;
static struct vnm_evsrc **src_of_fd;
static unsigned src_cap;

int vnm_ev_add(struct vnm_evsrc *src, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	if ((unsigned)fd >= src_cap) {
		unsigned cap = src_cap ? src_cap : 256;
		while (cap <= (unsigned)fd)
			cap *= 2;
		struct vnm_evsrc **t = realloc(src_of_fd, cap * sizeof(*t));
		if (!t)
			return 0; /* untracked: its stale events are not forgotten */
		memset(t + src_cap, 0, (cap - src_cap) * sizeof(*t));
		src_of_fd = t;
		src_cap = cap;
	}
	src_of_fd[fd] = src;
	return 0;
}

void vnm_ev_del(int fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	if (fd < 0 || (unsigned)fd >= src_cap || !src_of_fd[fd])
		return;
	struct vnm_evsrc *src = src_of_fd[fd];
	src_of_fd[fd] = NULL;
	for (int i = batch_i + 1; i < batch_n; i++)
		if (batch_evs[i].data.ptr == src)
			batch_evs[i].data.ptr = NULL;
}

/* ---- deferred close ---- */

#define DEFER_GRACE_MS 250

struct defer {
	int fd;
	uint64_t due_ms;
};

static struct defer *defers;
static unsigned ndefer, capdefer;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vnm_defer_close(int fd)
{
	if (fd < 0)
		return;
	if (ndefer == capdefer) {
		unsigned cap = capdefer ? capdefer * 2 : 64;
		struct defer *nd = realloc(defers, cap * sizeof(*nd));

		if (!nd) {
			/* cannot defer: a stale use then fails with EBADF at worst, rarely */
			close(fd);
			return;
		}
		defers = nd;
		capdefer = cap;
	}
	defers[ndefer].fd = fd;
	defers[ndefer].due_ms = now_ms() + DEFER_GRACE_MS;
	ndefer++;
}

int vnm_defer_timeout_ms(void)
{
	if (!ndefer)
		return -1;
	uint64_t now = now_ms();
	/* entries are appended in due order */
	return defers[0].due_ms <= now ? 0 : (int)(defers[0].due_ms - now);
}

void vnm_defer_run(int force)
{
	uint64_t now = now_ms();
	unsigned i = 0;

	while (i < ndefer && (force || defers[i].due_ms <= now))
		close(defers[i++].fd);
	if (i) {
		memmove(defers, defers + i, (ndefer - i) * sizeof(*defers));
		ndefer -= i;
	}
	if (force) {
		free(defers);
		defers = NULL;
		ndefer = capdefer = 0;
	}
}

static volatile int stop;
static int sigfd = -1;

static void signal_event(struct vnm_evsrc *src, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		vnm_log(VNM_LOG_INFO, "signal %u: exiting", si.ssi_signo);
		stop = 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vnetmapd [--dir DIR] [-v]... [-q] [--help] [--version]\n"
		"  netmap's VALE switches and pipes in user space (runs in the foreground).\n"
		"  --dir DIR   runtime directory (control socket DIR/%s);\n"
		"              default $%s, else /run/vnetmap (root),\n"
		"              $XDG_RUNTIME_DIR/vnetmap, /tmp/vnetmap-UID\n"
		"  --group NAME|GID\n"
		"              share with a group: runtime dir 0750, socket and region files\n"
		"              0660, all owned by the group, whose members may connect; default:\n"
		"              private to the daemon's user (0700/0600)\n"
		"  -v          debug output (every connection and request)\n"
		"  -q          errors only\n"
		"  --vhost-user valeX:NAME=PATH[,server]\n"
		"              a persistent port NAME on switch valeX served as vhost-user at\n"
		"              PATH (QEMU -chardev socket,path=PATH,server=on); vnetmapd\n"
		"              connects and reconnects every second, or with ,server listens\n"
		"              at PATH (repeatable)\n"
		"  --vhost-user netmap:X{N=PATH[,server]  (or netmap:X}N=...)\n"
		"              the pipe end served as vhost-user at PATH: a VM on each end\n"
		"  --help      this text\n"
		"  --version   print the version\n",
		VNM_CTL_SOCK_NAME, VNETMAP_DIR_ENV);
}

/*
 * The runtime directory: created 0700, or an existing directory of ours, made
 * private (0700) or, with --group, the group's (0750).
 */
static int runtime_dir(const char *dir)
{
	char err[512];

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		vnm_log(VNM_LOG_ERR, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (vnm_share_dir(dir, err, sizeof(err)) < 0) {
		vnm_log(VNM_LOG_ERR, "%s", err);
		return -1;
	}
	return 0;
}

/* --group NAME|GID: a group name, else a decimal gid. 0, or -1 (logged). */
static int group_flag(const char *arg, gid_t *gid)
{
	struct group *gr = getgrnam(arg);
	char *end;
	unsigned long v;

	if (gr) {
		*gid = gr->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (arg[0] >= '0' && arg[0] <= '9' && !*end && !errno && v < (gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	vnm_log(VNM_LOG_ERR, "--group %s: no such group", arg);
	return -1;
}

/*
 * --vhost-user valeX:NAME=PATH[,server]: create the port and attach it.
 * --vhost-user netmap:X{N=PATH[,server]: serve a pipe end (ports/pipe_vhost.c).
 */
static int vhost_flag(const char *spec)
{
	const char *eq = strchr(spec, '=');
	char port[VNM_PORTSPEC_MAX], path[VNM_VHOST_PATH_MAX + 8];
	struct vnm_err e = { "" };
	uint32_t flags = 0;
	size_t pl;

	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(port) || !strchr(spec, ':') ||
	    strchr(spec, ':') > eq) {
		vnm_log(VNM_LOG_ERR, "--vhost-user %s: expected valeX:NAME=PATH[,server]", spec);
		return -1;
	}
	memcpy(port, spec, (size_t)(eq - spec));
	port[eq - spec] = '\0';
	snprintf(path, sizeof(path), "%s", eq + 1);
	pl = strlen(path);
	if (pl > 7 && strcmp(path + pl - 7, ",server") == 0) {
		path[pl - 7] = '\0';
		flags |= VNM_VHOST_SERVER;
	} else if (pl > 7 && strcmp(path + pl - 7, ",client") == 0) {
		path[pl - 7] = '\0';
	}
	if (strlen(path) >= VNM_VHOST_PATH_MAX || !path[0]) {
		vnm_log(VNM_LOG_ERR, "--vhost-user %s: bad socket path", spec);
		return -1;
	}
	if (vnm_pipe_vhost_is_pipe(port)) {
		/* a pipe end: served on its private switch, nothing to attach */
		if (vnm_pipe_vhost_create(port, path, flags, &e) < 0) {
			vnm_log(VNM_LOG_ERR, "--vhost-user %s: %s", spec, e.msg);
			return -1;
		}
		return 0;
	}
	if (vnm_reg_create_vhost(strchr(port, ':') + 1, path, flags, &e) < 0 ||
	    vnm_reg_attach(port, &e) < 0) {
		vnm_log(VNM_LOG_ERR, "--vhost-user %s: %s", spec, e.msg);
		return -1;
	}
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "vhost-user", required_argument, NULL, 'U' },
		{ "group", required_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	const char *opt_dir = NULL;
	char dirbuf[4096], err[512];
	struct vnm_evsrc sig_ev = { signal_event };
	sigset_t mask;
	int c, lockfd = -1, ret = 1;
	const char *vhost_specs[64];
	unsigned nvhost = 0;

	while ((c = getopt_long(argc, argv, "vqh", lopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			opt_dir = optarg;
			break;
		case 'v':
			if (vnm_log_level < VNM_LOG_DEBUG)
				vnm_log_level++;
			break;
		case 'q':
			vnm_log_level = VNM_LOG_ERR;
			break;
		case 'G': {
			gid_t g;

			if (group_flag(optarg, &g) < 0)
				return 2;
			vnm_share_set_group(g);
			break;
		}
		case 'U':
			if (nvhost == sizeof(vhost_specs) / sizeof(vhost_specs[0])) {
				vnm_log(VNM_LOG_ERR, "too many --vhost-user");
				return 2;
			}
			vhost_specs[nvhost++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vnetmapd %s (netmap API %d)\n", VNETMAP_VERSION_STR, NETMAP_API);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	/* before any thread exists: the switch threads inherit the mask, signals go to sigfd */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		vnm_log(VNM_LOG_ERR, "sigprocmask: %s", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	raise_nofile();

	const char *dir = vnm_runtime_dir(opt_dir, dirbuf, sizeof(dirbuf));
	if (!dir || !*dir) {
		vnm_log(VNM_LOG_ERR, "no usable runtime directory");
		return 1;
	}
	if (runtime_dir(dir) < 0)
		return 1;
	/* one daemon per directory: the lock closes the race between two starting at once */
	lockfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			vnm_log(VNM_LOG_ERR, "vnetmapd already running at %s", dir);
		else
			vnm_log(VNM_LOG_ERR, "lock %s: %s", dir, strerror(errno));
		return 1;
	}

	epfd = epoll_create1(EPOLL_CLOEXEC);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (epfd < 0 || sigfd < 0 || vnm_ev_add(&sig_ev, sigfd, EPOLLIN) < 0) {
		vnm_log(VNM_LOG_ERR, "epoll/signalfd: %s", strerror(errno));
		return 1;
	}
	if (vnm_ctl_listen(dir, err, sizeof(err)) < 0) {
		vnm_log(VNM_LOG_ERR, "%s", err);
		return 1;
	}
	if (vnm_memdir_init(dir, err, sizeof(err)) < 0) {
		vnm_log(VNM_LOG_ERR, "%s", err);
		goto out;
	}
	vnm_log(VNM_LOG_INFO, "listening on %s/%s, regions in %s (pid %d)", dir, VNM_CTL_SOCK_NAME,
		vnm_memdir(), (int)getpid());
	{
		gid_t g;

		if (vnm_share_group(&g))
			vnm_log(VNM_LOG_INFO, "shared with group %u: directories 0750, socket and "
				"region files 0660", (unsigned)g);
	}
	for (unsigned i = 0; i < nvhost; i++)
		if (vhost_flag(vhost_specs[i]) < 0)
			goto out;

	while (!stop) {
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, vnm_defer_timeout_ms());

		if (n < 0 && errno != EINTR) {
			vnm_log(VNM_LOG_ERR, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		batch_evs = evs;
		batch_n = n;
		for (batch_i = 0; batch_i < n && !stop; batch_i++) {
			struct vnm_evsrc *src = evs[batch_i].data.ptr;
			/* NULL: unregistered (vnm_ev_del) by an earlier handler of this batch */
			if (src)
				src->handler(src, evs[batch_i].events);
		}
		batch_n = 0;
		vnm_defer_run(0);
	}
	ret = 0;
out:
	/* stop: unbind every client, destroy ports and switches, remove every file */
	vnm_pt_shutdown();
	vnm_ctl_shutdown();
	vnm_reg_shutdown();
	vnm_memdir_cleanup();
	close(sigfd);
	close(epfd);
	free(src_of_fd);
	close(lockfd);
	vnm_log(VNM_LOG_INFO, "stopped");
	return ret;
}
