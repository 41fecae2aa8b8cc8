// SPDX-License-Identifier: BSD-2-Clause
/*
 * pipe.c - netmap pipes (X{N / X}N): set-up only. Pipes have no daemon datapath:
 * the two endpoints' libraries move slots between each other's rings and notify
 * each other through the notify sockets handed out here.
 *
 * Layout: the pairs of one parent (netmap:X, or valeX:Y) live in one hidden region
 * per parent, created at the first open of any of its pipes whether X exists or
 * not, sized (sparse) for VNM_PIPE_MAX_PAIRS pairs of the default geometry; pairs
 * take and give back objects and buffer ranges with a first-fit allocator.
 * Deviation from netmap: the pipes of a VALE port do not share the port's memory
 * (the port's region holds the port only); they share a region of their own.
 *
 * Security model: the two ends of a pipe, and all pipes of one parent, share
 * memory and trust each other (as in netmap: zero-copy swaps between peers). A
 * peer may hand back buffers it does not own; that can only corrupt the pipes of
 * this parent, never the daemon: the daemon never reads ring or slot contents of
 * a pipe, when it creates a pair, re-opens an end or destroys a pair. Each end
 * can be bound by one client at a time (-EBUSY otherwise).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "region_alloc.h"
#include "registry.h"
#include "vnetmap/netmap.h"

#define VNM_PIPE_MAX_PAIRS 16

struct pipe_end {
	struct vnm_end e;
	char name[VNM_NAME_MAX]; /* "netmap:X{N" */
	int app_fd;              /* notify socket, application end (sent to the binder) */
	int daemon_fd;           /* notify socket, kernel end (sent to the peer's binder) */
	struct vnm_binding *b;   /* NULL: not bound */
	int ever_bound;
};

struct pipe_parent;

struct vnm_pipe_pair {
	struct vnm_pipe_pair *next;
	struct pipe_parent *parent;
	uint32_t id;
	struct pipe_end end[2]; /* [0] master "{", [1] slave "}" */
};

struct pipe_parent {
	struct pipe_parent *next;
	char name[VNM_NAME_MAX];
	struct vnm_region *r;
	struct vnm_pipe_pair *pairs;
	unsigned npairs;
};

static struct pipe_parent *parents;

static struct pipe_parent *parent_get(const char *name, struct vnm_err *err, int *ret)
{
	struct pipe_parent *pp;
	struct vnm_geom g = { 1, 1, VNM_DEFAULT_SLOTS, VNM_DEFAULT_SLOTS, VNM_BUF_SIZE_DEFAULT };
	char rname[VNM_NAME_MAX];

	for (pp = parents; pp; pp = pp->next)
		if (strcmp(pp->name, name) == 0)
			return pp;
	pp = calloc(1, sizeof(*pp));
	if (!pp) {
		*ret = vnm_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(pp->name, sizeof(pp->name), "%s", name);
	snprintf(rname, sizeof(rname), "%.50s.pipes", name);
	*ret = vnm_region_create(rname, 2 * VNM_PIPE_MAX_PAIRS * vnm_end_obj_bytes(&g),
				 2 + 2 * VNM_PIPE_MAX_PAIRS * vnm_end_num_bufs(&g), g.buf_size,
				 &pp->r);
	if (*ret < 0) {
		vnm_err_set(err, *ret, "cannot create the pipe region of %s: %s", name,
			    strerror(-*ret));
		free(pp);
		return NULL;
	}
	pp->next = parents;
	parents = pp;
	vnm_log(VNM_LOG_DEBUG, "pipe parent %s created", name);
	return pp;
}

static void parent_put(struct pipe_parent *pp)
{
	struct pipe_parent **p;

	if (pp->npairs)
		return;
	for (p = &parents; *p; p = &(*p)->next)
		if (*p == pp) {
			*p = pp->next;
			break;
		}
	vnm_region_destroy(pp->r);
	vnm_log(VNM_LOG_DEBUG, "pipe parent %s destroyed", pp->name);
	free(pp);
}

static void pair_free(struct vnm_pipe_pair *pr)
{
	struct pipe_parent *pp = pr->parent;
	struct vnm_pipe_pair **p;

	for (p = &pp->pairs; *p; p = &(*p)->next)
		if (*p == pr) {
			*p = pr->next;
			break;
		}
	for (int i = 0; i < 2; i++) {
		struct pipe_end *pe = &pr->end[i];

		vnm_end_release(pp->r, &pe->e);
		if (pe->app_fd >= 0)
			close(pe->app_fd);
		if (pe->daemon_fd >= 0)
			close(pe->daemon_fd);
	}
	vnm_log(VNM_LOG_INFO, "pipe %s{%u destroyed", pp->name, pr->id);
	pp->npairs--;
	free(pr);
}

static int end_sockets(struct pipe_end *pe, struct vnm_err *err)
{
	int sv[2], one = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return vnm_err_set(err, -errno, "socketpair: %s", strerror(errno));
	/* the app end: a minimal send buffer, so a VNM_NOTIFY_FILL filler fills it (csb.h) */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return vnm_err_set(err, -e, "SO_SNDBUF: %s", strerror(e));
	}
	pe->app_fd = sv[0];
	pe->daemon_fd = sv[1];
	return 0;
}

static int pair_new(struct pipe_parent *pp, const struct vnm_portname *pn,
		    struct vnm_pipe_pair **out, struct vnm_err *err)
{
	struct vnm_geom g = { 1, 1, VNM_DEFAULT_SLOTS, VNM_DEFAULT_SLOTS, VNM_BUF_SIZE_DEFAULT };
	struct vnm_pipe_pair *pr;
	int ret;

	if (pp->npairs >= VNM_PIPE_MAX_PAIRS)
		return vnm_err_set(err, -ENOSPC, "%s has %d pipes already", pp->name,
				   VNM_PIPE_MAX_PAIRS);
	/* @conf is honoured when the pair is created */
	if (pn->tx_rings)
		g.ntx = pn->tx_rings;
	if (pn->rx_rings)
		g.nrx = pn->rx_rings;
	if (pn->tx_slots)
		g.tx_slots = pn->tx_slots;
	if (pn->rx_slots)
		g.rx_slots = pn->rx_slots;
	if (pn->host_rings)
		return vnm_err_set(err, -EOPNOTSUPP, "host rings are not supported");
	if (g.ntx < 1 || g.ntx > VNM_MAX_RINGS || g.nrx < 1 || g.nrx > VNM_MAX_RINGS ||
	    g.tx_slots < VNM_MIN_SLOTS || g.tx_slots > VNM_MAX_SLOTS ||
	    g.rx_slots < VNM_MIN_SLOTS || g.rx_slots > VNM_MAX_SLOTS)
		return vnm_err_set(err, -EINVAL, "pipe geometry out of range");
	/* a pipe's tx ring feeds the peer's rx ring: both ends get the same geometry */
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	pr->parent = pp;
	pr->id = pn->pipe_id;
	for (int i = 0; i < 2; i++) {
		pr->end[i].e.idx = -1;
		pr->end[i].app_fd = pr->end[i].daemon_fd = -1;
		int n = snprintf(pr->end[i].name, sizeof(pr->end[i].name), "%s%c%u", pp->name,
				 i == 0 ? '{' : '}', pn->pipe_id);
		if (n < 0 || (size_t)n >= sizeof(pr->end[i].name)) {
			free(pr);
			return vnm_err_set(err, -ENAMETOOLONG, "pipe name too long");
		}
	}
	for (int i = 0; i < 2; i++) {
		ret = vnm_end_build(pp->r, pr->end[i].name, &g,
				    i == 0 ? VNM_END_PIPE_MASTER : VNM_END_PIPE_SLAVE, &pr->end[i].e);
		if (ret < 0) {
			vnm_err_set(err, ret, "no room for pipe %s in its parent's region: %s",
				    pr->end[i].name, strerror(-ret));
			goto fail;
		}
		ret = end_sockets(&pr->end[i], err);
		if (ret < 0)
			goto fail;
	}
	vnm_end_set_peer(pp->r, &pr->end[0].e, (uint32_t)pr->end[1].e.idx);
	vnm_end_set_peer(pp->r, &pr->end[1].e, (uint32_t)pr->end[0].e.idx);
	pr->next = pp->pairs;
	pp->pairs = pr;
	pp->npairs++;
	vnm_log(VNM_LOG_INFO, "pipe %s{%u created (%u/%u rings, %u/%u slots)", pp->name, pr->id,
		g.ntx, g.nrx, g.tx_slots, g.rx_slots);
	*out = pr;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		vnm_end_release(pp->r, &pr->end[i].e);
		if (pr->end[i].app_fd >= 0)
			close(pr->end[i].app_fd);
		if (pr->end[i].daemon_fd >= 0)
			close(pr->end[i].daemon_fd);
	}
	free(pr);
	return ret;
}

/* Throw away what a previous binder of this end left in its notify socket. */
static void end_drain(struct pipe_end *pe)
{
	char buf[4096];
	int fds[2] = { pe->app_fd, pe->daemon_fd };

	for (int i = 0; i < 2; i++)
		for (int n = 0; n < 64; n++)
			if (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) <= 0)
				break;
}

int vnm_pipe_open(const struct vnm_portname *pn, struct vnm_binding *b,
		  struct vnm_ctl_open_rep *rep, int fds[3], struct vnm_err *err)
{
	struct pipe_parent *pp;
	struct vnm_pipe_pair *pr;
	struct pipe_end *pe, *peer;
	char name[VNM_NAME_MAX];
	int ret = 0, n;
	int e = pn->pipe_role == 1 ? 0 : 1;
	const uint32_t unsupported = NR_MONITOR_TX | NR_MONITOR_RX | NR_ZCOPY_MON |
				     NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY;

	if (pn->pipe_role != 1 && pn->pipe_role != 2)
		return vnm_err_set(err, -EINVAL, "bad pipe role");
	if (pn->nr_flags & unsupported)
		return vnm_err_set(err, -EOPNOTSUPP, "pipes take no /R /T or monitor flags");
	n = snprintf(name, sizeof(name), "%s%c%u", pn->base, e == 0 ? '{' : '}', pn->pipe_id);
	if (n < 0 || (size_t)n >= sizeof(name))
		return vnm_err_set(err, -ENAMETOOLONG, "pipe name too long");

	pp = parent_get(pn->base, err, &ret);
	if (!pp)
		return ret;
	for (pr = pp->pairs; pr; pr = pr->next)
		if (pr->id == pn->pipe_id)
			break;
	if (pr) {
		const struct vnm_geom *g = &pr->end[0].e.g;

		if ((pn->tx_rings && pn->tx_rings != g->ntx) ||
		    (pn->rx_rings && pn->rx_rings != g->nrx) ||
		    (pn->tx_slots && pn->tx_slots != g->tx_slots) ||
		    (pn->rx_slots && pn->rx_slots != g->rx_slots))
			return vnm_err_set(err, -EINVAL,
					   "pipe %s exists with %u/%u rings of %u/%u slots: @conf differs",
					   name, g->ntx, g->nrx, g->tx_slots, g->rx_slots);
	} else {
		ret = pair_new(pp, pn, &pr, err);
		if (ret < 0) {
			parent_put(pp);
			return ret;
		}
	}
	pe = &pr->end[e];
	peer = &pr->end[1 - e];
	if (pe->b)
		return vnm_err_set(err, -EBUSY, "%s is bound by another client", name);

	const struct vnm_geom *g = &pe->e.g;
	uint32_t max = g->ntx > g->nrx ? g->ntx : g->nrx;

	b->ftx = 0;
	b->ltx = (uint16_t)(g->ntx - 1);
	b->frx = 0;
	b->lrx = (uint16_t)(g->nrx - 1);
	if (pn->ring_id >= 0) {
		/* -N: the library uses ring pair N; the binding still holds the whole end */
		if ((uint32_t)pn->ring_id >= max) {
			ret = vnm_err_set(err, -EINVAL, "ring %d out of range (pipe has %u rings)",
					  pn->ring_id, max);
			goto fail;
		}
		if ((uint32_t)pn->ring_id < g->ntx)
			b->ftx = b->ltx = (uint16_t)pn->ring_id;
		else
			b->ftx = 1, b->ltx = 0;
		if ((uint32_t)pn->ring_id < g->nrx)
			b->frx = b->lrx = (uint16_t)pn->ring_id;
		else
			b->frx = 1, b->lrx = 0;
	}
	if (pe->ever_bound)
		end_drain(pe);
	pe->b = b;
	pe->ever_bound = 1;
	b->kind = VNM_KIND_PIPE;
	b->pair = pr;
	b->end = e;
	b->nr_flags = pn->nr_flags;

	memset(rep, 0, sizeof(*rep));
	rep->region_size = pp->r->size;
	rep->kind = VNM_KIND_PIPE;
	rep->end = (uint32_t)pe->e.idx;
	rep->peer_end = (uint32_t)peer->e.idx;
	rep->first_tx_ring = b->ftx;
	rep->last_tx_ring = b->ltx;
	rep->first_rx_ring = b->frx;
	rep->last_rx_ring = b->lrx;
	rep->nr_flags = pn->nr_flags;
	rep->nfds = 3;
	snprintf(rep->name, sizeof(rep->name), "%s", name);
	/* SCM_RIGHTS sends dups: the daemon keeps all four notify fds for the pair's life */
	fds[0] = pp->r->fd;
	fds[1] = pe->app_fd;
	fds[2] = peer->daemon_fd;
	vnm_log(VNM_LOG_INFO, "%s bound", name);
	return 0;
fail:
	if (!pr->end[0].b && !pr->end[1].b && !pr->end[0].ever_bound && !pr->end[1].ever_bound) {
		pair_free(pr);
		parent_put(pp);
	}
	return ret;
}

void vnm_pipe_unbind(struct vnm_binding *b)
{
	struct vnm_pipe_pair *pr = b->pair;
	struct pipe_parent *pp = pr->parent;

	pr->end[b->end].b = NULL;
	vnm_log(VNM_LOG_INFO, "%s unbound", pr->end[b->end].name);
	if (!pr->end[0].b && !pr->end[1].b) {
		pair_free(pr);
		parent_put(pp);
	}
}

static void end_info(const struct pipe_parent *pp, const struct pipe_end *pe,
		     struct vnm_ctl_port_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	snprintf(pi->name, sizeof(pi->name), "%s", pe->name);
	pi->bridge_idx = -1;
	pi->port_idx = -1;
	pi->kind = VNM_KIND_PIPE;
	pi->num_tx_rings = pe->e.g.ntx;
	pi->num_rx_rings = pe->e.g.nrx;
	pi->num_tx_slots = pe->e.g.tx_slots;
	pi->num_rx_slots = pe->e.g.rx_slots;
	pi->buf_size = pp->r->buf_size;
	pi->num_bufs = pp->r->num_bufs;
	pi->region_size = pp->r->size;
	pi->clients = pe->b ? 1 : 0;
}

unsigned vnm_pipe_list(const char *filter, struct vnm_ctl_port_info *out, unsigned max,
		       unsigned *matched)
{
	unsigned n = 0;

	*matched = 0;
	for (struct pipe_parent *pp = parents; pp; pp = pp->next)
		for (struct vnm_pipe_pair *pr = pp->pairs; pr; pr = pr->next)
			for (int i = 0; i < 2; i++) {
				const struct pipe_end *pe = &pr->end[i];

				if (*filter && strcmp(filter, pe->name) != 0 &&
				    strcmp(filter, pp->name) != 0)
					continue;
				(*matched)++;
				if (n < max)
					end_info(pp, pe, &out[n++]);
			}
	return n;
}

void vnm_pipe_shutdown(void)
{
	while (parents) {
		struct pipe_parent *pp = parents;

		while (pp->pairs)
			pair_free(pp->pairs);
		parent_put(pp);
	}
}
