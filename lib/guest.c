// SPDX-License-Identifier: BSD-2-Clause
/*
 * guest.c - passthrough guest mode: open a port whose region the host exported to
 * this VM through an ivshmem PCI device (1af4:1110), with no daemon to talk to.
 *
 * Port names (docs/PASSTHROUGH.md):
 *     ptnet:                  the first ivshmem device, its exported end
 *     ptnet:0000:00:04.0      that device ("ptnet:00:04.0" too)
 *     ptnet:[BDF]/NAME        the end called NAME ("g1", "vale0:g1", "netmap:p{1")
 * and, with VNM_GUEST=1 in the environment, any ordinary name ("vale0:g1",
 * "netmap:p}1", suffix -N honoured) is looked up among the ends of every ivshmem
 * device (VNM_GUEST_DEV=BDF restricts the search to one device).
 *
 * The device: BAR2 (sysfs resource2) is the port's region, mapped MAP_SHARED; BAR0
 * (resource0) holds the registers: IVPosition (offset 8) is non-zero when QEMU is
 * connected to vnetmapd's ivshmem server (ivshmem-doorbell); then a kick is a write
 * of (VNM_PT_HOST_PEER << 16 | vector) to Doorbell (offset 12). With ivshmem-plain
 * there is no doorbell: the host polls the port. Host -> guest interrupts are not
 * used: waits poll the rings with a back-off (nanosleep growing to 50 us).
 *
 * Security model: the region is written by the host daemon and possibly by other
 * parties sharing it (a pipe peer); nothing in it is trusted for memory safety of
 * this process. The header is copied once; magic, version and every size and
 * offset are checked against the BAR's size (from the sysfs file) before use, and
 * the rings and CSBs of the chosen end go through the same checks as a local open
 * (vnm__map_rings). sysfs contents (vendor, device) are parsed with bounds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SYSFS_PCI "/sys/bus/pci/devices"
#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110
#define IVSHMEM_REG_IVPOSITION 8
#define IVSHMEM_REG_DOORBELL 12
#define BAR0_MAP 4096
#define BACKOFF_MAX_NS 50000

struct vnm_guest {
	void *bar0;             /* registers, or NULL */
	size_t bar2_len;        /* bytes of BAR2 mapped at d->mem */
	uint32_t backoff_ns;    /* current wait back-off */
	char bdf[32];
};

int vnm__guest_spec(const char *spec)
{
	const char *g = getenv("VNM_GUEST");

	if (!spec)
		return 0;
	if (strncmp(spec, "ptnet:", 6) == 0)
		return 1;
	return g && strcmp(g, "1") == 0;
}

/* Read a sysfs hex attribute ("0x1af4\n"). -1 on error. */
static long read_hex(const char *dir, const char *dev, const char *attr)
{
	char path[512], buf[32];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, dev, attr) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 16);
	if (end == buf || v < 0 || v > 0xffff)
		return -1;
	return v;
}

static int bdf_match(const char *dev, const char *want)
{
	size_t dl = strlen(dev), wl = strlen(want);

	/* "0000:00:04.0" matches "0000:00:04.0" and "00:04.0" */
	return wl && wl <= dl && strcmp(dev + dl - wl, want) == 0 &&
	       (wl == dl || dev[dl - wl - 1] == ':');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the ivshmem devices under dir, sorted; *n set. NULL (and *n 0) on none. */
static char **list_devices(const char *dir, unsigned *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	unsigned cnt = 0, cap = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= 32)
			continue;
		if (read_hex(dir, de->d_name, "vendor") != IVSHMEM_VENDOR ||
		    read_hex(dir, de->d_name, "device") != IVSHMEM_DEVICE)
			continue;
		if (cnt == cap) {
			char **nv = realloc(v, (cap ? cap * 2 : 4) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			cap = cap ? cap * 2 : 4;
		}
		v[cnt] = strdup(de->d_name);
		if (v[cnt])
			cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*n = cnt;
	return v;
}

static void free_list(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Does end e (a validated copy) answer to name? */
static int end_match(const struct vnm_region_end *e, const char *name)
{
	char en[VNM_NAME_MAX];
	const char *colon;

	memcpy(en, e->name, sizeof(en));
	en[sizeof(en) - 1] = '\0';
	if (strcmp(en, name) == 0)
		return 1;
	/* "vale0:g1" names the end "g1" of a VALE region; "p{1" the end "netmap:p{1" */
	colon = strrchr(name, ':');
	if ((e->flags & VNM_END_VALE) && colon && strcmp(en, colon + 1) == 0)
		return 1;
	if (strncmp(en, "netmap:", 7) == 0 && strcmp(en + 7, name) == 0)
		return 1;
	return 0;
}

/*
 * Pick the end: by name, else the first exported one (VNM_END_PASSTHROUGH), else
 * the first used one. Returns its index or -1.
 */
static int pick_end(const struct vnm_region_hdr *h, const char *name)
{
	int first_used = -1;

	for (int i = 0; i < VNM_REGION_MAX_ENDS; i++) {
		const struct vnm_region_end *e = &h->ends[i];

		if (!(e->flags & VNM_END_USED))
			continue;
		if (name && *name) {
			if (end_match(e, name))
				return i;
			continue;
		}
		if (e->flags & VNM_END_PASSTHROUGH)
			return i;
		if (first_used < 0)
			first_used = i;
	}
	return (name && *name) ? -1 : first_used;
}

/* Map BAR2 of dev and validate the region header. 0, or -errno with a message. */
static int map_bar2(const char *dir, const char *dev, struct vnm_port *d, struct vnm_guest *g,
		    struct vnm_region_hdr *hdr, char *err, size_t errlen)
{
	char path[512];
	struct stat st;
	void *m;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s/resource2", dir, dev);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || st.st_size < VNM_REGION_HDR_SIZE) {
		close(fd);
		snprintf(err, errlen, "%s: BAR2 too small for a region header", path);
		return -EPROTO;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ret = -errno;
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "mmap %s (%lld bytes): %s", path, (long long)st.st_size,
			 strerror(-ret));
		return ret;
	}
	g->bar2_len = (size_t)st.st_size;
	d->mem = m;
	/* one copy of the header: only the copy is used */
	memcpy(hdr, m, sizeof(*hdr));
	if (hdr->magic != VNM_REGION_MAGIC || hdr->version != VNM_REGION_VERSION ||
	    hdr->hdr_size != VNM_REGION_HDR_SIZE) {
		snprintf(err, errlen, "%s: no vnetmap region (magic/version)", dev);
		return -EPROTO;
	}
	if (hdr->region_size < VNM_REGION_HDR_SIZE || hdr->region_size > g->bar2_len ||
	    hdr->buf_size == 0 || hdr->num_bufs < 2 || hdr->buf_ofs < VNM_REGION_HDR_SIZE ||
	    !vnm__in_region(hdr->buf_ofs, (uint64_t)hdr->buf_size * hdr->num_bufs,
			    hdr->region_size) ||
	    !vnm__in_region(hdr->obj_ofs, hdr->obj_size, hdr->region_size)) {
		snprintf(err, errlen, "%s: region header sizes past the BAR (%zu bytes)", dev,
			 g->bar2_len);
		return -EPROTO;
	}
	d->memsize = hdr->region_size;
	return 0;
}

/* Map BAR0; doorbell mode when IVPosition is non-zero (interrupts configured). */
static void map_bar0(const char *dir, const char *dev, struct vnm_port *d, struct vnm_guest *g)
{
	char path[512];
	const char *mode = getenv("VNM_GUEST_KICK");
	int fd;

	snprintf(path, sizeof(path), "%s/%s/resource0", dir, dev);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return;
	void *m = mmap(NULL, BAR0_MAP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	g->bar0 = m;
	uint32_t ivpos = *(volatile uint32_t *)((char *)m + IVSHMEM_REG_IVPOSITION);
	if (ivpos != 0 && ivpos <= 0xffff && !(mode && strcmp(mode, "poll") == 0)) {
		d->doorbell = (volatile uint32_t *)((char *)m + IVSHMEM_REG_DOORBELL);
		d->doorbell_kick = ((uint32_t)VNM_PT_HOST_PEER << 16) | VNM_PT_VEC_KICK;
	}
}

/* Split "ptnet:[BDF][/NAME]" or an ordinary name (VNM_GUEST=1) into bdf and end name. */
static int parse_spec(const char *spec, char *bdf, size_t bl, char *name, size_t nl,
		      int32_t *ring_id, char *err, size_t errlen)
{
	*ring_id = -1;
	bdf[0] = name[0] = '\0';
	if (strncmp(spec, "ptnet:", 6) == 0) {
		const char *p = spec + 6, *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len >= bl || (slash && strlen(slash + 1) >= nl)) {
			snprintf(err, errlen, "%s: name too long", spec);
			return -EINVAL;
		}
		memcpy(bdf, p, len);
		bdf[len] = '\0';
		for (size_t i = 0; i < len; i++)
			if (!((bdf[i] >= '0' && bdf[i] <= '9') || (bdf[i] >= 'a' && bdf[i] <= 'f') ||
			      bdf[i] == ':' || bdf[i] == '.')) {
				snprintf(err, errlen, "%s: bad PCI address \"%s\"", spec, bdf);
				return -EINVAL;
			}
		if (slash)
			snprintf(name, nl, "%s", slash + 1);
		return 0;
	}
	/* VNM_GUEST=1: an ordinary port name, looked up among the exported ends */
	struct vnm_portname pn;
	int ret = vnm_portname_parse(spec, &pn, err, errlen);
	if (ret < 0)
		return ret;
	if (pn.pipe_role)
		snprintf(name, nl, "%s%c%u", pn.base, pn.pipe_role == 1 ? '{' : '}', pn.pipe_id);
	else
		snprintf(name, nl, "%s", pn.base);
	*ring_id = pn.ring_id;
	const char *dev = getenv("VNM_GUEST_DEV");
	if (dev)
		snprintf(bdf, bl, "%s", dev);
	return 0;
}

void vnm__guest_free(struct vnm_port *d)
{
	struct vnm_guest *g = d->guest;

	if (!g)
		return;
	if (g->bar0)
		munmap(g->bar0, BAR0_MAP);
	if (d->mem)
		munmap(d->mem, g->bar2_len);
	d->mem = NULL;
	d->doorbell = NULL;
	free(g);
	d->guest = NULL;
}

/* Try device dev: map, pick the end, build the port. 0, -ENOENT (no such end), or -errno. */
static int try_device(const char *dir, const char *dev, const char *name, int32_t ring_id,
		      struct vnm_port *d, char *err, size_t errlen)
{
	struct vnm_region_hdr *hdr = malloc(sizeof(*hdr));
	struct vnm_guest *g = calloc(1, sizeof(*g));
	int ret, e;

	if (!hdr || !g) {
		free(hdr);
		free(g);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->guest = g;
	snprintf(g->bdf, sizeof(g->bdf), "%s", dev);
	ret = map_bar2(dir, dev, d, g, hdr, err, errlen);
	if (ret < 0)
		goto out;
	e = pick_end(hdr, name);
	if (e < 0) {
		snprintf(err, errlen, "%s: no end %s in region %.64s", dev,
			 name && *name ? name : "in use", hdr->name);
		ret = -ENOENT;
		goto out;
	}
	const struct vnm_region_end *end = &hdr->ends[e];
	uint32_t ntx = end->num_tx_rings, nrx = end->num_rx_rings;

	if (ntx > VNM_MAX_RINGS || nrx > VNM_MAX_RINGS) {
		snprintf(err, errlen, "%s: end %d ring counts out of range", dev, e);
		ret = -EPROTO;
		goto out;
	}
	d->first_tx_ring = 0;
	d->last_tx_ring = (uint16_t)(ntx ? ntx - 1 : 0);
	d->first_rx_ring = 0;
	d->last_rx_ring = (uint16_t)(nrx ? nrx - 1 : 0);
	if (!ntx)
		d->first_tx_ring = 1;
	if (!nrx)
		d->first_rx_ring = 1;
	if (ring_id >= 0) {
		if ((uint32_t)ring_id < ntx)
			d->first_tx_ring = d->last_tx_ring = (uint16_t)ring_id;
		else
			d->first_tx_ring = 1, d->last_tx_ring = 0;
		if ((uint32_t)ring_id < nrx)
			d->first_rx_ring = d->last_rx_ring = (uint16_t)ring_id;
		else
			d->first_rx_ring = 1, d->last_rx_ring = 0;
	}
	if (end->flags & (VNM_END_PIPE_MASTER | VNM_END_PIPE_SLAVE))
		d->kind = VNM_KIND_PIPE;
	else
		d->kind = VNM_KIND_VALE;
	memcpy(d->name, end->name, sizeof(d->name));
	d->name[sizeof(d->name) - 1] = '\0';
	ret = vnm__map_rings(d, hdr, end, err, errlen);
	if (ret < 0)
		goto out;
	map_bar0(dir, dev, d, g);
	if (d->kind == VNM_KIND_PIPE) {
		struct vnm_ctl_open_rep rep = { .region_size = hdr->region_size,
						.kind = VNM_KIND_PIPE,
						.end = (uint32_t)e,
						.peer_end = end->peer };
		if (end->peer >= VNM_REGION_MAX_ENDS || end->peer == (uint32_t)e) {
			snprintf(err, errlen, "%s: pipe end %d has no peer", dev, e);
			ret = -EPROTO;
			goto out;
		}
		ret = vnm__pipe_setup(d, hdr, &rep, -1, err, errlen);
		if (ret < 0)
			goto out;
		if (d->doorbell)
			vnm__pipe_set_doorbell(d, d->doorbell,
					       ((uint32_t)VNM_PT_HOST_PEER << 16) | VNM_PT_VEC_KICK,
					       ((uint32_t)VNM_PT_HOST_PEER << 16) | VNM_PT_VEC_TXSPACE);
	}
	ret = 0;
out:
	free(hdr);
	return ret;
}

static void reset_port(struct vnm_port *d)
{
	vnm__pipe_free(d);
	vnm__guest_free(d);
	free(d->tx);
	free(d->rx);
	d->tx = d->rx = NULL;
	d->nifp = NULL;
	d->doorbell = NULL;
}

int vnm__guest_open_at(const char *dir, const char *spec, const struct vnm_open_opts *opts,
		       struct vnm_port **out, char *err, size_t errlen)
{
	char bdf[32], name[VNM_NAME_MAX + 8];
	int32_t ring_id;
	struct vnm_port *d;
	char **devs;
	unsigned ndev;
	int ret = -ENODEV;

	*out = NULL;
	ret = parse_spec(spec, bdf, sizeof(bdf), name, sizeof(name), &ring_id, err, errlen);
	if (ret < 0)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->fd = d->kick_fd = d->ctl_fd = -1;
	if (opts) {
		d->error = opts->error;
		d->error_arg = opts->error_arg;
	}
	devs = list_devices(dir, &ndev);
	ret = -ENODEV;
	snprintf(err, errlen, "no ivshmem device (PCI 1af4:1110)%s%s under %s", bdf[0] ? " " : "",
		 bdf, dir);
	for (unsigned i = 0; i < ndev; i++) {
		if (bdf[0] && !bdf_match(devs[i], bdf))
			continue;
		ret = try_device(dir, devs[i], name, ring_id, d, err, errlen);
		if (ret == 0)
			break;
		reset_port(d);
		if (ret != -ENOENT && (bdf[0] || !name[0]))
			break; /* a broken device named (or the first one, by default) */
	}
	free_list(devs, ndev);
	if (ret < 0) {
		free(d);
		return ret;
	}
	/* always readable and writable: poll() on it returns at once, vnm_arm backs off */
	d->fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		d->error = NULL;
		vnm_port_close(d);
		return ret;
	}
	*out = d;
	return 0;
}

int vnm__guest_open(const char *spec, const struct vnm_open_opts *opts, struct vnm_port **out)
{
	char err[VNM_ERRMSG_MAX];
	const char *dir = getenv("VNM_GUEST_SYSFS");
	int ret = vnm__guest_open_at(dir ? dir : SYSFS_PCI, spec, opts, out, err, sizeof(err));

	if (ret < 0)
		return vnm__report(opts ? opts->error : NULL, opts ? opts->error_arg : NULL, ret,
				   "%s: %s", spec, err);
	return 0;
}

/* ---- waiting: polling with back-off ---- */

static int guest_events(struct vnm_port *d, short events)
{
	int mask = 0;

	if ((events & POLLIN) && d->first_rx_ring <= d->last_rx_ring)
		for (unsigned i = d->first_rx_ring; i <= d->last_rx_ring; i++)
			if (!nm_ring_empty(d->rx[i].ring)) {
				mask |= POLLIN;
				break;
			}
	if ((events & POLLOUT) && d->first_tx_ring <= d->last_tx_ring)
		for (unsigned i = d->first_tx_ring; i <= d->last_tx_ring; i++)
			if (!nm_ring_empty(d->tx[i].ring)) {
				mask |= POLLOUT;
				break;
			}
	return mask;
}

/* Sync the directions asked for; POLLERR when a ring was reset. */
static int guest_sync(struct vnm_port *d, short events)
{
	int r = 0, e;

	if ((events & POLLOUT) && (e = vnm_txsync(d)) < 0)
		r = e;
	if ((events & POLLIN) && (e = vnm_rxsync(d)) < 0 && r == 0)
		r = e;
	return r;
}

static void backoff(struct vnm_guest *g)
{
	struct timespec ts = { 0, 0 };

	if (g->backoff_ns == 0) {
		g->backoff_ns = 1000;
		return; /* first miss: re-check at once */
	}
	ts.tv_nsec = g->backoff_ns;
	nanosleep(&ts, NULL);
	if (g->backoff_ns < BACKOFF_MAX_NS)
		g->backoff_ns = g->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS
								  : g->backoff_ns * 2;
}

int vnm__guest_arm(struct vnm_port *d, short events)
{
	int r, mask;

	r = guest_sync(d, events);
	if (r == -EIO)
		return POLLERR | guest_events(d, events);
	mask = guest_events(d, events);
	if (mask) {
		d->guest->backoff_ns = 0;
		return mask;
	}
	/* nothing yet: wait a little here, since d->fd never blocks */
	backoff(d->guest);
	r = guest_sync(d, events);
	if (r == -EIO)
		return POLLERR | guest_events(d, events);
	mask = guest_events(d, events);
	if (mask)
		d->guest->backoff_ns = 0;
	return mask;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int vnm__guest_poll(struct vnm_port *d, short events, int timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? now_ns() + (int64_t)timeout_ms * 1000000 : 0;
	int r, mask;

	events &= POLLIN | POLLOUT;
	if (d->first_tx_ring > d->last_tx_ring)
		events &= ~POLLOUT;
	if (d->first_rx_ring > d->last_rx_ring)
		events &= ~POLLIN;
	for (;;) {
		r = guest_sync(d, events);
		if (r == -EIO)
			return POLLERR | guest_events(d, events);
		if (r < 0)
			return r;
		mask = guest_events(d, events);
		if (mask) {
			d->guest->backoff_ns = 0;
			return mask;
		}
		if (timeout_ms >= 0 && now_ns() >= deadline)
			return 0;
		backoff(d->guest);
	}
}
