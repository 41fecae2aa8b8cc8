// SPDX-License-Identifier: BSD-2-Clause
/*
 * capture.c - `vale-ctl capture PORT -w FILE|-`: open a monitor of PORT (PORT/rt by
 * default: copies of the frames it receives and sends), and write every frame of the
 * monitor's RX rings to a pcap file (pcap.h), or to stdout for `tshark -r -`.
 *
 *   vale-ctl [--dir DIR] capture PORT -w FILE|- [-c COUNT] [-s SNAPLEN] [-G SECONDS]
 *            [--rx|--tx|--both] [-q] [--nano] [--vnet-hdr LEN]
 *
 * Loop: drain [head, tail) of every RX ring into the write buffer, rxsync to release
 * the slots and fetch more; when a sync brings nothing, flush the buffer (so a live
 * reader sees frames at once) and sleep in vnm_poll(). Timestamps: CLOCK_REALTIME
 * read after each sync, shared by the frames that sync brought. The monitor drops
 * copies it has no room for (never slowing the port): their count comes from the
 * daemon's counters (VNM_CTL_STATS: drop_full + drop_gso of the monitor binding).
 * Monitor frames are plain Ethernet: the daemon copies the frame without the
 * monitored port's virtio-net header (partial checksums completed), so nothing is
 * stripped; a port opened as given (PORT/R) may carry its HDR_SET header: stripped.
 * Stop: -c frames, -G seconds, SIGINT/SIGTERM (a second one kills), the reader of
 * stdout gone (EPIPE), the monitored port gone (seen through VNM_CTL_INFO when idle:
 * the daemon keeps an orphaned monitor, silent), all with status 0; a write error
 * (status 1, the file cut back to its last whole record), the daemon gone (status 1).
 *
 * Security model: frame bytes are the monitored peers' data, copied, never parsed,
 * at most snaplen per frame. The ring words and slots are the daemon's (trusted to
 * follow the ring protocol), but still bounded: head/tail inside the ring, each
 * slot's len clamped to the buffer size, a chain ends after NM_MAX_FRAGS slots or
 * at tail, and a buffer index outside the mapped region drops the frame (counted).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>

#include "capture.h"
#include "pcap.h"

#define CAP_WAIT_MS 200 /* longest sleep: SIGINT, -G and a closed reader are seen this fast */
#define CAP_GONE_S 1.0  /* idle this long: ask whether the monitored port still exists */

enum { CAP_RX = 1, CAP_TX = 2, CAP_BOTH = 3 };

struct cap {
	/* options */
	const char *dir, *port, *out;
	uint64_t count;    /* 0: no limit */
	uint32_t snaplen;
	double duration;   /* seconds; 0: no limit */
	int dirn, dirn_set, quiet, nano, vhdr_opt; /* vhdr_opt -1: the port's */

	/* state */
	struct vnm_portname pn;
	int monitor;       /* the spec opens a monitor (/r /t /rt) */
	char spec[VNM_PORTSPEC_MAX];
	struct vnm_port *d;
	struct pcap_out po;
	int out_fd, created;
	unsigned vhdr;
	uint64_t captured, skipped; /* skipped: shorter than the header, or a bad buffer */
	struct timespec ts;
};

/* the daemon's message for a failed open (libvnetmap's error callback) */
static char cap_errmsg[256];

static void cap_on_error(void *arg, int err, const char *msg)
{
	(void)arg;
	(void)err;
	snprintf(cap_errmsg, sizeof(cap_errmsg), "%s", msg);
}

/* set by the signal handler, read by the loop */
static volatile sig_atomic_t cap_stop;

static void cap_on_signal(int sig)
{
	(void)sig;
	cap_stop = 1;
}

static void cap_usage(FILE *f)
{
	fprintf(f,
		"usage: vale-ctl [--dir DIR] capture PORT -w FILE|- [options]\n"
		"\t-w FILE|-\twrite pcap to FILE, or to stdout (| tshark -r -)\n"
		"\t-c COUNT\tstop after COUNT frames\n"
		"\t-s SNAPLEN\tkeep at most SNAPLEN bytes of each frame (default and 0: %u)\n"
		"\t-G SECONDS\tstop after SECONDS (also --duration)\n"
		"\t--rx | --tx | --both\tframes PORT receives, sends, or both (default: PORT/rt)\n"
		"\t-q\t\tno start and summary lines on stderr\n"
		"\t--nano\t\tnanosecond timestamps (pcap magic 0xa1b23c4d)\n"
		"\t--vnet-hdr LEN\tframes start with a LEN-byte virtio-net header to strip\n"
		"\t\t\t(default: the port's, as set with HDR_SET)\n"
		"PORT with a '/' flag, or a pipe end, is opened as given (vale0:x/R: a port of its\n"
		"own on the switch; netmap:p}1: that end of the pipe).\n",
		PCAP_SNAPLEN_MAX);
}

int cap_is_command(int argc, char **argv)
{
	int i = 1;

	if (i < argc && !strcmp(argv[i], "--dir"))
		i += 2;
	else if (i < argc && !strncmp(argv[i], "--dir=", 6))
		i++;
	return i < argc && !strcmp(argv[i], "capture");
}

/* A whole decimal number in [lo, hi]; 0 or -EINVAL. */
static int cap_num(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

enum { OPT_RX = 256, OPT_TX, OPT_BOTH, OPT_NANO, OPT_TSP, OPT_VHDR, OPT_DIR, OPT_HELP };

static int cap_parse(struct cap *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "rx", no_argument, NULL, OPT_RX },
		{ "tx", no_argument, NULL, OPT_TX },
		{ "both", no_argument, NULL, OPT_BOTH },
		{ "nano", no_argument, NULL, OPT_NANO },
		{ "time-stamp-precision", required_argument, NULL, OPT_TSP },
		{ "vnet-hdr", required_argument, NULL, OPT_VHDR },
		{ "duration", required_argument, NULL, 'G' },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	uint64_t v;
	char *end;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":w:c:s:G:q", lopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (!*optarg) {
				fprintf(stderr, "vale-ctl capture: -w needs a file name or -\n");
				return 2;
			}
			c->out = optarg;
			break;
		case 'c':
			if (cap_num(optarg, 1, UINT64_MAX, &v) < 0) {
				fprintf(stderr, "vale-ctl capture: bad count -c '%s' (1 or more)\n", optarg);
				return 2;
			}
			c->count = v;
			break;
		case 's':
			if (cap_num(optarg, 0, UINT32_MAX, &v) < 0) {
				fprintf(stderr, "vale-ctl capture: bad snapshot length -s '%s'\n", optarg);
				return 2;
			}
			/* tcpdump: 0 and anything larger mean the largest */
			c->snaplen = v == 0 || v > PCAP_SNAPLEN_MAX ? PCAP_SNAPLEN_MAX : (uint32_t)v;
			break;
		case 'G':
			errno = 0;
			c->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(c->duration) ||
			    c->duration <= 0 || c->duration > 1e7) {
				fprintf(stderr, "vale-ctl capture: bad duration -G '%s' (seconds > 0)\n",
					optarg);
				return 2;
			}
			break;
		case 'q':
			c->quiet = 1;
			break;
		case OPT_RX:
		case OPT_TX:
		case OPT_BOTH:
			c->dirn = ch == OPT_RX ? CAP_RX : ch == OPT_TX ? CAP_TX : CAP_BOTH;
			c->dirn_set = 1;
			break;
		case OPT_NANO:
			c->nano = 1;
			break;
		case OPT_TSP:
			if (strcmp(optarg, "nano") && strcmp(optarg, "micro")) {
				fprintf(stderr, "vale-ctl capture: --time-stamp-precision micro or nano\n");
				return 2;
			}
			c->nano = !strcmp(optarg, "nano");
			break;
		case OPT_VHDR:
			if (cap_num(optarg, 0, 12, &v) < 0 || (v != 0 && v != 10 && v != 12)) {
				fprintf(stderr, "vale-ctl capture: bad --vnet-hdr '%s' (0, 10 or 12)\n",
					optarg);
				return 2;
			}
			c->vhdr_opt = (int)v;
			break;
		case OPT_DIR:
			c->dir = optarg;
			break;
		case OPT_HELP:
			cap_usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "vale-ctl capture: option %s needs a value\n", argv[optind - 1]);
			cap_usage(stderr);
			return 2;
		default:
			if (optopt)
				fprintf(stderr, "vale-ctl capture: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "vale-ctl capture: unknown option %s\n", argv[optind - 1]);
			cap_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "vale-ctl capture: missing PORT\n");
		cap_usage(stderr);
		return 2;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "vale-ctl capture: unexpected argument '%s'\n", argv[optind + 1]);
		cap_usage(stderr);
		return 2;
	}
	c->port = argv[optind];
	if (!c->out) {
		fprintf(stderr, "vale-ctl capture: missing -w FILE (or -w - for stdout)\n");
		cap_usage(stderr);
		return 2;
	}
	return 0;
}

/* The spec to open: PORT plus /rt, /r or /t before its @options; PORT/flags as given. */
static int cap_spec(struct cap *c)
{
	char err[160] = "";
	const char *at;
	int n;

	if (vnm_portname_parse(c->port, &c->pn, err, sizeof(err)) < 0) {
		fprintf(stderr, "vale-ctl capture: bad port name '%s': %s\n", c->port, err);
		return 1;
	}
	/* '/' flags given, or a pipe end (pipes have no monitors): the port itself */
	if (strchr(c->port, '/') || c->pn.pipe_role) {
		if (c->dirn_set) {
			fprintf(stderr, "vale-ctl capture: --rx/--tx/--both with a port given with "
					"'/' flags or a pipe end\n");
			return 2;
		}
		n = snprintf(c->spec, sizeof(c->spec), "%s", c->port);
	} else {
		const char *fl = c->dirn == CAP_RX ? "/r" : c->dirn == CAP_TX ? "/t" : "/rt";

		at = strchr(c->port, '@');
		n = at ? snprintf(c->spec, sizeof(c->spec), "%.*s%s%s", (int)(at - c->port),
				  c->port, fl, at)
		       : snprintf(c->spec, sizeof(c->spec), "%s%s", c->port, fl);
	}
	if (n < 0 || (size_t)n >= sizeof(c->spec)) {
		fprintf(stderr, "vale-ctl capture: port name too long\n");
		return 1;
	}
	struct vnm_portname sp;
	if (vnm_portname_parse(c->spec, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "vale-ctl capture: bad port name '%s': %s\n", c->spec, err);
		return 1;
	}
	c->monitor = !!(sp.nr_flags & (NR_MONITOR_RX | NR_MONITOR_TX | NR_ZCOPY_MON));
	return 0;
}

/*
 * Bytes of virtio-net header in front of each frame: --vnet-hdr, else none for a
 * monitor (its copies are plain frames), else the port's HDR_GET length.
 */
static unsigned cap_port_vhdr(struct cap *c)
{
	struct vnm_ctl_hdr_req req, rep;
	char msg[256];

	if (c->vhdr_opt >= 0)
		return (unsigned)c->vhdr_opt;
	if (c->monitor || !c->pn.is_vale)
		return 0;
	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	snprintf(req.name, sizeof(req.name), "%s", c->pn.base);
	if (vnm_ctl_call(c->dir, VNM_CTL_HDR_GET, &req, sizeof(req), &rep, sizeof(rep), msg,
			 sizeof(msg)) < (int)sizeof(rep))
		return 0; /* a daemon without HDR_GET: plain frames */
	return rep.hdr_len == 10 || rep.hdr_len == 12 ? rep.hdr_len : 0;
}

/* drop_full + drop_gso of the binding we opened (the monitor's drops); -errno if not known. */
static int cap_drops(struct cap *c, uint64_t *drops)
{
	struct vnm_ctl_name_req req;
	struct vnm_ctl_port_stats *st;
	char msg[256];
	int n, ret = -ENOENT;

	st = calloc(1, VNM_CTL_MAX_PAYLOAD);
	if (!st)
		return -ENOMEM;
	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", c->d->name);
	n = vnm_ctl_call(c->dir, VNM_CTL_STATS, &req, sizeof(req), st, VNM_CTL_MAX_PAYLOAD, msg,
			 sizeof(msg));
	if (n < 0)
		ret = n;
	for (int i = 0; i < n / (int)sizeof(*st); i++) {
		if (!strncmp(st[i].name, c->d->name, sizeof(st[i].name))) {
			*drops = st[i].drop_full + st[i].drop_gso;
			ret = 0;
			break;
		}
	}
	free(st);
	return ret;
}

/* 1 when our monitor is orphaned: its port went away (INFO: not on a switch any more). */
static int cap_port_gone(struct cap *c)
{
	struct vnm_ctl_name_req req;
	struct vnm_ctl_port_info pi;
	char msg[256];
	int n;

	if (!c->monitor)
		return 0; /* our own port: it lives as long as we hold it */
	memset(&req, 0, sizeof(req));
	memset(&pi, 0, sizeof(pi));
	snprintf(req.name, sizeof(req.name), "%s", c->d->name);
	n = vnm_ctl_call(c->dir, VNM_CTL_INFO, &req, sizeof(req), &pi, sizeof(pi), msg, sizeof(msg));
	if (n == -ENXIO || n == -ENOENT)
		return 1;
	return n >= (int)sizeof(pi) && pi.kind == VNM_KIND_MONITOR && pi.bridge_idx < 0;
}

/* The buffer of slot s of ring, if it lies inside the mapped region; else NULL. */
static const unsigned char *cap_buf(struct cap *c, struct netmap_ring *ring, uint32_t idx)
{
	int64_t off = (int64_t)((char *)ring - (char *)c->d->mem) + ring->buf_ofs;

	off += (int64_t)idx * ring->nr_buf_size;
	if (off < 0 || (uint64_t)off + ring->nr_buf_size > c->d->memsize)
		return NULL;
	return (const unsigned char *)c->d->mem + off;
}

/*
 * Frames in [head, tail) of ring into the write buffer, up to -c. Returns the frames
 * taken (captured or skipped), or -errno from a failed write.
 */
static int cap_ring(struct cap *c, struct netmap_ring *ring)
{
	uint32_t ns = ring->num_slots, head = ring->head, tail = ring->tail;
	uint32_t bsz = ring->nr_buf_size;
	int taken = 0;

	if (head >= ns || tail >= ns)
		return 0; /* not a ring state the daemon publishes: wait for a reset */
	while (head != tail && !(c->count && c->captured >= c->count)) {
		uint32_t i = head, nslots = 0, end;
		uint64_t len = 0;
		int bad = 0;

		/* the chain: MOREFRAG slots, at most NM_MAX_FRAGS, never past tail */
		for (;;) {
			struct netmap_slot *s = &ring->slot[i];

			len += s->len < bsz ? s->len : bsz;
			if (!cap_buf(c, ring, s->buf_idx))
				bad = 1;
			nslots++;
			i = i + 1 == ns ? 0 : i + 1;
			if (!(s->flags & NS_MOREFRAG) || nslots >= NM_MAX_FRAGS || i == tail)
				break;
		}
		end = i;
		taken++;
		if (bad || len <= c->vhdr) {
			c->skipped++;
			head = end;
			continue;
		}

		uint64_t flen = len - c->vhdr;
		uint32_t cl, orig = flen > UINT32_MAX ? UINT32_MAX : (uint32_t)flen;
		int err;
		unsigned char *p = pcap_out_reserve(&c->po, &c->ts, orig, &cl, &err);

		if (!p) {
			ring->head = ring->cur = head;
			return err;
		}
		/* copy cl bytes after the virtio-net header, across the chain */
		uint64_t skip = c->vhdr;
		for (i = head; i != end && cl; i = i + 1 == ns ? 0 : i + 1) {
			struct netmap_slot *s = &ring->slot[i];
			uint32_t sl = s->len < bsz ? s->len : bsz, n;
			const unsigned char *b = cap_buf(c, ring, s->buf_idx);

			if (skip >= sl) {
				skip -= sl;
				continue;
			}
			n = sl - (uint32_t)skip < cl ? sl - (uint32_t)skip : cl;
			memcpy(p, b + skip, n);
			p += n;
			cl -= n;
			skip = 0;
		}
		c->captured++;
		head = end;
	}
	ring->head = ring->cur = head; /* released at the next rxsync */
	return taken;
}

/* Open the output: stdout, or FILE (created, else truncated). 0 or 1 (reported). */
static int cap_open_out(struct cap *c)
{
	if (!strcmp(c->out, "-")) {
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "vale-ctl capture: refusing to write pcap to a terminal "
					"(pipe it: -w - | tshark -r -)\n");
			return 1;
		}
		c->out_fd = STDOUT_FILENO;
		return 0;
	}
	c->out_fd = open(c->out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (c->out_fd >= 0) {
		c->created = 1;
		return 0;
	}
	if (errno == EEXIST)
		c->out_fd = open(c->out, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (c->out_fd < 0) {
		fprintf(stderr, "vale-ctl capture: cannot open %s: %s\n", c->out, strerror(errno));
		return 1;
	}
	return 0;
}

static double cap_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* 1 when the output is a pipe or socket whose reader went away. */
static int cap_reader_gone(struct cap *c)
{
	struct pollfd p = { .fd = c->out_fd, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

enum { END_DONE, END_PIPE, END_WRITE, END_PORT, END_GONE };

/* The capture loop; returns END_*, *err the error of END_WRITE/END_PORT. */
static int cap_loop(struct cap *c, int *err)
{
	struct vnm_port *d = c->d;
	double deadline = c->duration > 0 ? cap_mono() + c->duration : 0;
	double idle_since = cap_mono();
	int r;

	clock_gettime(CLOCK_REALTIME, &c->ts);
	while (!cap_stop) {
		int got = 0;

		for (unsigned ri = d->first_rx_ring; ri <= d->last_rx_ring; ri++) {
			r = cap_ring(c, NETMAP_RXRING(d->nifp, ri));
			if (r < 0) {
				*err = r;
				return r == -EPIPE ? END_PIPE : END_WRITE;
			}
			got += r;
		}
		if (c->count && c->captured >= c->count)
			break;
		if (deadline && cap_mono() >= deadline)
			break;
		if (got) {
			idle_since = 0;
			r = vnm_rxsync(d);
			clock_gettime(CLOCK_REALTIME, &c->ts);
			if (r < 0 && r != -EIO) {
				*err = r;
				return END_PORT;
			}
			continue;
		}
		/* nothing new: let a live reader see what we have, then sleep */
		r = pcap_out_flush(&c->po);
		if (r < 0) {
			*err = r;
			return r == -EPIPE ? END_PIPE : END_WRITE;
		}
		if (cap_reader_gone(c))
			return END_PIPE;
		if (!idle_since) {
			idle_since = cap_mono();
		} else if (cap_mono() - idle_since >= CAP_GONE_S) {
			if (cap_port_gone(c))
				return END_GONE;
			idle_since = cap_mono();
		}
		int wait = CAP_WAIT_MS;
		if (deadline) {
			double left = (deadline - cap_mono()) * 1000.0;
			wait = left < 0 ? 0 : left < wait ? (int)left + 1 : wait;
		}
		r = vnm_poll(d, POLLIN, wait);
		clock_gettime(CLOCK_REALTIME, &c->ts);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			*err = r;
			return END_PORT;
		}
		if ((r & (POLLHUP | POLLNVAL)) || (r & (POLLERR | POLLIN)) == POLLERR) {
			/* the binding is gone (port removed, daemon exited) */
			*err = -ENODEV;
			return END_PORT;
		}
	}
	return END_DONE;
}

int cap_main(int argc, char **argv)
{
	struct cap cs, *c = &cs;
	struct vnm_open_opts oo;
	struct sigaction sa;
	uint64_t drops0 = 0, drops1 = 0;
	int ci = 1, ret, end, err = 0, have_drops;

	memset(c, 0, sizeof(*c));
	c->snaplen = PCAP_SNAPLEN_MAX;
	c->dirn = CAP_BOTH;
	c->vhdr_opt = -1;
	c->out_fd = -1;
	/* vale-ctl [--dir DIR] capture ...: argv[ci] plays argv[0] for getopt */
	if (!strcmp(argv[ci], "--dir")) {
		c->dir = argv[ci + 1];
		ci += 2;
	} else if (!strncmp(argv[ci], "--dir=", 6)) {
		c->dir = argv[ci] + 6;
		ci++;
	}
	ret = cap_parse(c, argc - ci, argv + ci);
	if (ret)
		return ret;
	ret = cap_spec(c);
	if (ret)
		return ret;

	memset(&oo, 0, sizeof(oo));
	oo.dir = c->dir;
	oo.error = cap_on_error;
	ret = vnm_port_open(c->spec, &oo, &c->d);
	if (ret < 0) {
		fprintf(stderr, "vale-ctl capture: cannot open %s: %s\n%s%s", c->spec,
			strerror(-ret), cap_errmsg, cap_errmsg[0] ? "\n" : "");
		return 1;
	}
	if (c->d->first_rx_ring > c->d->last_rx_ring) {
		fprintf(stderr, "vale-ctl capture: %s binds no RX ring\n", c->spec);
		vnm_port_close(c->d);
		return 1;
	}
	c->vhdr = cap_port_vhdr(c);
	have_drops = cap_drops(c, &drops0) == 0;

	if (cap_open_out(c)) {
		vnm_port_close(c->d);
		return 1;
	}
	ret = pcap_out_init(&c->po, c->out_fd, c->snaplen, c->nano, 0);
	if (ret == 0)
		ret = pcap_out_flush(&c->po); /* the header now: a bad target fails at once */
	if (ret < 0) {
		fprintf(stderr, "vale-ctl capture: cannot write %s: %s\n",
			strcmp(c->out, "-") ? c->out : "stdout", strerror(-ret));
		if (c->created)
			unlink(c->out);
		pcap_out_free(&c->po);
		vnm_port_close(c->d);
		if (c->out_fd != STDOUT_FILENO)
			close(c->out_fd);
		return ret == -EPIPE ? 0 : 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cap_on_signal;
	sa.sa_flags = SA_RESETHAND; /* a second signal ends the program the default way */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed reader: EPIPE from write */

	if (!c->quiet)
		fprintf(stderr,
			"capturing on %s, link-type EN10MB (Ethernet), snapshot length %u bytes%s\n",
			c->spec, c->snaplen, c->vhdr ? ", virtio-net header stripped" : "");

	end = cap_loop(c, &err);
	if (end == END_DONE || end == END_PORT || end == END_GONE) {
		ret = pcap_out_flush(&c->po);
		if (ret < 0) {
			end = ret == -EPIPE ? END_PIPE : END_WRITE;
			err = ret;
		}
	}
	if (have_drops)
		have_drops = cap_drops(c, &drops1) == 0;
	vnm_port_close(c->d);

	ret = 0;
	if (end == END_WRITE) {
		fprintf(stderr, "vale-ctl capture: write %s: %s\n",
			strcmp(c->out, "-") ? c->out : "stdout", strerror(-err));
		ret = 1;
	} else if (end == END_GONE) {
		fprintf(stderr, "vale-ctl capture: %s: the monitored port went away\n", c->spec);
	} else if (end == END_PORT) {
		fprintf(stderr, "vale-ctl capture: %s: %s\n", c->spec,
			err == -ENODEV ? "the daemon went away" : strerror(-err));
		ret = 1;
	}
	if (!c->quiet) {
		if (c->pn.pipe_role)
			fprintf(stderr, "%llu frames captured, 0 dropped (a pipe is lossless)\n",
				(unsigned long long)c->captured);
		else if (have_drops)
			fprintf(stderr, "%llu frames captured, %llu dropped by the monitor\n",
				(unsigned long long)c->captured,
				(unsigned long long)(drops1 >= drops0 ? drops1 - drops0 : drops1));
		else
			fprintf(stderr, "%llu frames captured, drops unknown (no counters for %s)\n",
				(unsigned long long)c->captured, c->spec);
		if (c->skipped)
			fprintf(stderr, "%llu frames skipped (shorter than the %u-byte virtio-net "
					"header, or a bad buffer)\n",
				(unsigned long long)c->skipped, c->vhdr);
	}
	pcap_out_free(&c->po);
	if (c->out_fd != STDOUT_FILENO && close(c->out_fd) < 0 && ret == 0) {
		fprintf(stderr, "vale-ctl capture: close %s: %s\n", c->out, strerror(errno));
		ret = 1;
	}
	return ret;
}
