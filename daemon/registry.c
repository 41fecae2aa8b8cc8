// SPDX-License-Identifier: BSD-2-Clause
/*
 * registry.c - VALE switches, VALE ports (ephemeral and persistent) and the
 * bindings of client connections to them. Main thread only.
 *
 * Security model: requests reach here already validated in shape by ctl.c (sizes,
 * NUL-terminated strings); port specs are parsed again with vnm_portname_parse and
 * every value from them is range-checked before use. A client can only affect the
 * ports it names; ring ownership (one binding per ring, /x exclusive) is enforced
 * here. The region a client maps is never read back: ring geometry lives in the
 * private struct vnm_end. fds handed out are dups (SCM_RIGHTS); a binding's kick and
 * notify fds are closed only after vnm_switch_unwatch_fd() has waited out the
 * switch thread's current round.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "port.h"
#include "ports/hostport.h"
#include "ports/netmap_port.h"
#include "ports/pipe_vhost.h"
#include "ports/socket_port.h"
#include "ports/vhost_port.h"
#include "region_alloc.h"
#include "registry.h"
#include "vale/switch.h"
#include "vnetmap/netmap.h"

struct sw_ent {
	struct vnm_switch *sw; /* NULL: slot free */
	char name[64];
	unsigned nports;       /* our ports attached to it */
};

struct vnm_vport {
	struct vnm_vport *next;
	char name[64];         /* vpname (persistent: the interface name) */
	char full[VNM_NAME_MAX]; /* "valeX:Y" while attached, else name */
	int persistent;
	struct sw_ent *sw;     /* NULL when detached */
	struct vnm_region *r;
	struct vnm_end end;    /* ends[0] of r */
	struct vnm_dport *dp;
	uint32_t pi_flags;     /* VNM_PI_* */
	struct vnm_binding *txb[VNM_MAX_RINGS];
	struct vnm_binding *rxb[VNM_MAX_RINGS];
	unsigned nbind;
	struct vnm_binding *excl; /* bound with /x */
	int vhost;             /* a vhost-user port: dp is ports/vhost_port.c's, no region */
	int host;              /* HOST_NETDEV / HOST_TAP: dp is ports/hostport.h's, no region */
	struct vnm_mon *mons[VNM_SWITCH_MAX_MONS]; /* monitors of this port (not in nbind) */
	unsigned nmons;
	struct vnm_end zend;   /* /z monitor rings in r (room reserved by vport_new), once built */
	int zend_built;
	struct vnm_mon *zmon;  /* the /z monitor bound now (one per port) */
	int sock;              /* a socket port: dp is ports/socket_port.c's, no region */
	struct vnm_dport *nif; /* netmap:IF: the interface's port on this port's hub switch */
	int nif_xdp;           /* nif is AF_XDP's (ports/hostport.h), else af_packet's */
};

/*
 * A monitor binding ("valeX:Y/r", /t, /rt): its own region and rings (one unused TX
 * ring, max(ntx, nrx) RX rings of the monitored port), an nmport over them that the
 * switch thread copies into (vnm_switch_mon_add). vp goes NULL when the monitored port
 * is detached or freed: the monitor's rings then stop, reads return nothing.
 */
struct vnm_mon {
	struct vnm_mon *next;      /* all monitors (LIST, STATS), orphans included */
	struct vnm_vport *vp;      /* monitored port; NULL once it went away */
	struct vnm_region *r;
	struct vnm_end end;
	struct vnm_dport *dp;
	uint32_t dirs;             /* VNM_MON_TX | VNM_MON_RX */
	int zcopy;                 /* /z: rings = vp->zend in vp's region, no r, no dp */
	struct vnm_ctl_port_stats zstats; /* /z counters (written by the switch thread) */
	char name[VNM_NAME_MAX];   /* "valeX:Y/rt" */
	char swname[VNM_NAME_MAX]; /* switch of the monitored port at open */
};

static struct vnm_mon *mons;
static void mon_orphan_all(struct vnm_vport *vp);

enum { HOST_NETDEV = 1, HOST_TAP = 2 };

static struct sw_ent switches[VNM_SWITCH_MAX];
static struct vnm_vport *vports;

int vnm_err_set(struct vnm_err *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- switches ---- */

static struct sw_ent *sw_find(const char *name)
{
	for (int i = 0; i < VNM_SWITCH_MAX; i++)
		if (switches[i].sw && strcmp(switches[i].name, name) == 0)
			return &switches[i];
	return NULL;
}

static int sw_get2(const char *name, uint32_t swflags, struct sw_ent **out, struct vnm_err *err);

static int sw_get(const char *name, struct sw_ent **out, struct vnm_err *err)
{
	return sw_get2(name, 0, out, err);
}

/* swflags VNM_SWITCH_F_* apply when the switch is created here. */
static int sw_get2(const char *name, uint32_t swflags, struct sw_ent **out, struct vnm_err *err)
{
	struct sw_ent *s = sw_find(name);
	int i, ret;

	if (s) {
		*out = s;
		return 0;
	}
	for (i = 0; i < VNM_SWITCH_MAX; i++)
		if (!switches[i].sw)
			break;
	if (i == VNM_SWITCH_MAX)
		return vnm_err_set(err, -ENOSPC, "too many VALE switches (%d)", VNM_SWITCH_MAX);
	s = &switches[i];
	ret = vnm_switch_create2(name, swflags, &s->sw);
	if (ret < 0) {
		s->sw = NULL;
		return vnm_err_set(err, ret, "cannot create switch %s: %s", name, strerror(-ret));
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->nports = 0;
	vnm_log(VNM_LOG_INFO, "switch %s created (bridge_idx %d)", name, i);
	*out = s;
	return 0;
}

static void sw_put(struct sw_ent *s)
{
	if (!s || !s->sw || s->nports)
		return;
	vnm_switch_destroy(s->sw);
	s->sw = NULL;
	vnm_log(VNM_LOG_INFO, "switch %s destroyed", s->name);
	s->name[0] = '\0';
}

/* ---- VALE ports ---- */

/* "valeX:Y" while attached, else the bare name. */
static void vport_fullname(const struct vnm_vport *vp, char *buf, size_t len)
{
	_Static_assert(sizeof(vp->full) == VNM_NAME_MAX, "full name size");
	memcpy(buf, vp->full, len < sizeof(vp->full) ? len : sizeof(vp->full));
	buf[len - 1] = '\0';
}

static struct vnm_vport *vport_find_eph(const char *sw, const char *name)
{
	for (struct vnm_vport *vp = vports; vp; vp = vp->next)
		if (!vp->persistent && vp->sw && strcmp(vp->sw->name, sw) == 0 &&
		    strcmp(vp->name, name) == 0)
			return vp;
	return NULL;
}

static struct vnm_vport *vport_find_pers(const char *name)
{
	for (struct vnm_vport *vp = vports; vp; vp = vp->next)
		if (vp->persistent && strcmp(vp->name, name) == 0)
			return vp;
	return NULL;
}

static int vport_attach(struct vnm_vport *vp, struct sw_ent *s, struct vnm_err *err)
{
	char full[VNM_NAME_MAX] = ""; /* copied whole into names clients read: no stack bytes */
	/* netmap:IF's port is named after its hub switch, "netmap:IF" */
	int n = vp->nif ? snprintf(full, sizeof(full), "%s", s->name)
			: snprintf(full, sizeof(full), "%s:%s", s->name, vp->name);
	int ret;

	if (n < 0 || (size_t)n >= sizeof(full))
		return vnm_err_set(err, -ENAMETOOLONG, "name %s:%s too long", s->name, vp->name);
	/* the port is detached: nobody else reads its name now */
	memcpy(vp->dp->name, full, sizeof(full));
	ret = vnm_switch_attach(s->sw, vp->dp);
	if (ret < 0) {
		memcpy(vp->dp->name, vp->name, sizeof(vp->name));
		return vnm_err_set(err, ret, "cannot attach %s: %s", full, strerror(-ret));
	}
	memcpy(vp->full, full, sizeof(full));
	vp->sw = s;
	s->nports++;
	if (vp->vhost)
		vnm_vhost_port_attached(vp->dp, s->sw);
	if (vp->host == HOST_NETDEV)
		vnm_afp_port_attached(vp->dp, s->sw);
	else if (vp->host == HOST_TAP)
		vnm_tap_port_attached(vp->dp, s->sw);
	if (vp->sock)
		vnm_sock_port_attached(vp->dp, s->sw);
	vnm_switch_kick(s->sw);
	vnm_log(VNM_LOG_INFO, "%s attached (port_idx %d)", full, vp->dp->sw_idx);
	return 0;
}

/* Detach from the switch; the switch goes when it has no ports left. */
static void vport_detach(struct vnm_vport *vp)
{
	struct sw_ent *s = vp->sw;

	if (!s)
		return;
	/* synchronous: the switch thread no longer touches the port afterwards */
	vnm_switch_detach(s->sw, vp->dp);
	mon_orphan_all(vp); /* the switch dropped its monitors with it */
	if (vp->vhost)
		vnm_vhost_port_detached(vp->dp);
	if (vp->host == HOST_NETDEV)
		vnm_afp_port_detached(vp->dp);
	else if (vp->host == HOST_TAP)
		vnm_tap_port_detached(vp->dp);
	if (vp->sock)
		vnm_sock_port_detached(vp->dp);
	vnm_log(VNM_LOG_INFO, "%s:%s detached", s->name, vp->name);
	memcpy(vp->dp->name, vp->name, sizeof(vp->name));
	memcpy(vp->full, vp->name, sizeof(vp->name));
	vp->sw = NULL;
	s->nports--;
	sw_put(s);
}

/* A /z monitor's geometry (netmap's): one unused TX ring, max(ntx, nrx) RX rings. */
static void zmon_geom(const struct vnm_geom *g, struct vnm_geom *z)
{
	z->ntx = 1;
	z->tx_slots = VNM_MIN_SLOTS;
	z->nrx = g->ntx > g->nrx ? g->ntx : g->nrx;
	z->rx_slots = g->rx_slots;
	z->buf_size = g->buf_size;
}

static int vport_new(const char *name, const struct vnm_geom *g, int persistent, uint32_t pi_flags,
		     struct vnm_vport **out, struct vnm_err *err)
{
	struct vnm_vport *vp = calloc(1, sizeof(*vp));
	int ret;

	if (!vp)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	snprintf(vp->name, sizeof(vp->name), "%s", name);
	memcpy(vp->full, vp->name, sizeof(vp->name));
	vp->persistent = persistent;
	vp->pi_flags = pi_flags | (persistent ? VNM_PI_PERSISTENT : 0);
	/* room for one /z monitor's rings too (the file is sparse: unused room costs nothing) */
	struct vnm_geom gz;
	zmon_geom(g, &gz);
	ret = vnm_region_create(name, vnm_end_obj_bytes(g) + vnm_end_obj_bytes(&gz) + 4096,
				2 + vnm_end_num_bufs(g) + vnm_end_num_bufs(&gz), g->buf_size,
				&vp->r);
	if (ret < 0) {
		free(vp);
		return vnm_err_set(err, ret, "cannot create the region of %s: %s", name,
				   strerror(-ret));
	}
	ret = vnm_end_build(vp->r, name, g, VNM_END_VALE, &vp->end);
	if (ret < 0) {
		vnm_region_destroy(vp->r);
		free(vp);
		return vnm_err_set(err, ret, "cannot lay out %s: %s", name, strerror(-ret));
	}
	vp->dp = vnm_nmport_create(name, vp->end.tx, g->ntx, vp->end.rx, g->nrx,
				   vp->pi_flags & ~VNM_PI_PERSISTENT);
	if (!vp->dp) {
		vnm_region_destroy(vp->r);
		free(vp);
		return vnm_err_set(err, -ENOMEM, "cannot create port %s", name);
	}
	vp->dp->flags = vp->pi_flags;
	vp->next = vports;
	vports = vp;
	*out = vp;
	return 0;
}

static void vport_free(struct vnm_vport *vp)
{
	struct vnm_vport **pp;

	vport_detach(vp);
	for (pp = &vports; *pp; pp = &(*pp)->next)
		if (*pp == vp) {
			*pp = vp->next;
			break;
		}
	if (vp->vhost) {
		vnm_vhost_port_destroy(vp->dp);
	} else if (vp->host == HOST_NETDEV) {
		vnm_afp_port_destroy(vp->dp);
	} else if (vp->host == HOST_TAP) {
		vnm_tap_port_destroy(vp->dp);
	} else if (vp->sock) {
		vnm_sock_port_destroy(vp->dp);
	} else {
		vnm_nmport_destroy(vp->dp);
		vnm_region_destroy(vp->r);
	}
	vnm_log(VNM_LOG_DEBUG, "port %s destroyed", vp->name);
	free(vp);
}

/* ---- OPEN ---- */

static void geom_default(struct vnm_geom *g)
{
	g->ntx = g->nrx = 1;
	g->tx_slots = g->rx_slots = VNM_DEFAULT_SLOTS;
	g->buf_size = VNM_BUF_SIZE_DEFAULT;
}

static int geom_from_pn(const struct vnm_portname *pn, struct vnm_geom *g, struct vnm_err *err)
{
	geom_default(g);
	if (pn->tx_rings)
		g->ntx = pn->tx_rings;
	if (pn->rx_rings)
		g->nrx = pn->rx_rings;
	if (pn->tx_slots)
		g->tx_slots = pn->tx_slots;
	if (pn->rx_slots)
		g->rx_slots = pn->rx_slots;
	/* the parser checks these too; the daemon does not rely on it */
	if (g->ntx < 1 || g->ntx > VNM_MAX_RINGS || g->nrx < 1 || g->nrx > VNM_MAX_RINGS)
		return vnm_err_set(err, -EINVAL, "ring count out of 1..%d", VNM_MAX_RINGS);
	if (g->tx_slots < VNM_MIN_SLOTS || g->tx_slots > VNM_MAX_SLOTS ||
	    g->rx_slots < VNM_MIN_SLOTS || g->rx_slots > VNM_MAX_SLOTS)
		return vnm_err_set(err, -EINVAL, "slot count out of %d..%d", VNM_MIN_SLOTS,
				   VNM_MAX_SLOTS);
	if (pn->host_rings)
		return vnm_err_set(err, -EOPNOTSUPP, "host rings are not supported");
	return 0;
}

/* @conf given for a port that exists: every value given must match. */
static int geom_check(const struct vnm_portname *pn, const struct vnm_geom *g, const char *name,
		      struct vnm_err *err)
{
	if ((pn->tx_rings && pn->tx_rings != g->ntx) || (pn->rx_rings && pn->rx_rings != g->nrx) ||
	    (pn->tx_slots && pn->tx_slots != g->tx_slots) ||
	    (pn->rx_slots && pn->rx_slots != g->rx_slots))
		return vnm_err_set(err, -EINVAL,
				   "%s exists with %u/%u rings of %u/%u slots: @conf differs", name,
				   g->ntx, g->nrx, g->tx_slots, g->rx_slots);
	if (pn->host_rings)
		return vnm_err_set(err, -EOPNOTSUPP, "host rings are not supported");
	return 0;
}

/* Which rings the spec binds (netmap's nr_mode, -N, /R /T). */
static int select_rings(const struct vnm_portname *pn, const struct vnm_geom *g,
			struct vnm_binding *b, struct vnm_err *err)
{
	const uint32_t monitors = NR_MONITOR_TX | NR_MONITOR_RX | NR_ZCOPY_MON;

	b->ftx = 0;
	b->ltx = (uint16_t)(g->ntx - 1);
	b->frx = 0;
	b->lrx = (uint16_t)(g->nrx - 1);
	if (pn->nr_flags & monitors)
		return vnm_err_set(err, -EOPNOTSUPP, "monitor ports are not supported yet");
	switch (pn->nr_mode) {
	case NR_REG_DEFAULT:
	case NR_REG_ALL_NIC:
	case NR_REG_PIPE_MASTER:
	case NR_REG_PIPE_SLAVE:
		break;
	case NR_REG_ONE_NIC: {
		uint32_t n = (uint32_t)pn->ring_id;
		uint32_t max = g->ntx > g->nrx ? g->ntx : g->nrx;

		if (pn->ring_id < 0 || n >= max)
			return vnm_err_set(err, -EINVAL, "ring %d out of range (port has %u rings)",
					   pn->ring_id, max);
		if (n < g->ntx)
			b->ftx = b->ltx = (uint16_t)n;
		else
			b->ftx = 1, b->ltx = 0;
		if (n < g->nrx)
			b->frx = b->lrx = (uint16_t)n;
		else
			b->frx = 1, b->lrx = 0;
		break;
	}
	case NR_REG_SW:
	case NR_REG_NIC_SW:
	case NR_REG_ONE_SW:
		return vnm_err_set(err, -EOPNOTSUPP, "host rings are not supported");
	default:
		return vnm_err_set(err, -EOPNOTSUPP, "registration mode %u is not supported",
				   pn->nr_mode);
	}
	if ((pn->nr_flags & NR_RX_RINGS_ONLY) && (pn->nr_flags & NR_TX_RINGS_ONLY))
		return vnm_err_set(err, -EINVAL, "/R and /T together bind nothing");
	if (pn->nr_flags & NR_RX_RINGS_ONLY)
		b->ftx = 1, b->ltx = 0;
	if (pn->nr_flags & NR_TX_RINGS_ONLY)
		b->frx = 1, b->lrx = 0;
	return 0;
}

/*
 * A ring changes hands: make the shared ring agree with the CSB (what the kernel
 * side last saw published), so the new client starts from a consistent state.
 * Shared-to-shared copies only; the daemon uses none of these values.
 */
static void ring_rebind(struct vnm_kring *k)
{
	uint32_t head = __atomic_load_n(&k->atok->head, __ATOMIC_RELAXED);
	uint32_t cur = __atomic_load_n(&k->atok->cur, __ATOMIC_RELAXED);
	uint32_t tail = __atomic_load_n(&k->ktoa->hwtail, __ATOMIC_ACQUIRE);

	__atomic_store_n(&k->ring->head, head, __ATOMIC_RELAXED);
	__atomic_store_n(&k->ring->cur, cur, __ATOMIC_RELAXED);
	__atomic_store_n(&k->ring->tail, tail, __ATOMIC_RELAXED);
}

static int vale_open(const struct vnm_portname *pn, struct vnm_binding *b,
		     struct vnm_ctl_open_rep *rep, int fds[3], struct vnm_err *err)
{
	struct vnm_vport *vp = vport_find_eph(pn->sw, pn->port);
	struct sw_ent *s = NULL;
	struct vnm_geom g;
	int created = 0, sv[2] = { -1, -1 }, ret;
	char full[VNM_NAME_MAX];

	if (!vp) {
		vp = vport_find_pers(pn->port);
		if (vp && (!vp->sw || strcmp(vp->sw->name, pn->sw) != 0)) {
			if (!vp->sw)
				return vnm_err_set(err, -EBUSY,
						   "port %s is not attached: vale-ctl -a %s:%s",
						   pn->port, pn->sw, pn->port);
			return vnm_err_set(err, -EBUSY, "port %s is attached to %s", pn->port,
					   vp->sw->name);
		}
	}
	if (vp && vp->vhost)
		return vnm_err_set(err, -EBUSY, "%s is a vhost-user port (its peer is a VM)",
				   pn->base);
	if (vp && vp->host)
		return vnm_err_set(err, -EBUSY, "%s is a host port (its peer is Linux)", pn->base);
	if (vp && vp->sock)
		return vnm_err_set(err, -EBUSY, "%s is a socket port (its peer is on a socket)",
				   pn->base);
	if (vp) {
		ret = geom_check(pn, &vp->end.g, pn->base, err);
		if (ret < 0)
			return ret;
	} else {
		int n = snprintf(full, sizeof(full), "%s:%s", pn->sw, pn->port);

		if (n < 0 || (size_t)n >= sizeof(full))
			return vnm_err_set(err, -ENAMETOOLONG, "port name too long");
		ret = geom_from_pn(pn, &g, err);
		if (ret < 0)
			return ret;
		ret = sw_get(pn->sw, &s, err);
		if (ret < 0)
			return ret;
		ret = vport_new(pn->port, &g, 0,
				(pn->nr_flags & NR_VNM_LOSSLESS) ? VNM_PI_LOSSLESS : 0, &vp, err);
		if (ret < 0) {
			sw_put(s);
			return ret;
		}
		ret = vport_attach(vp, s, err);
		if (ret < 0) {
			vport_free(vp);
			sw_put(s);
			return ret;
		}
		created = 1;
	}
	g = vp->end.g;
	vport_fullname(vp, full, sizeof(full));

	ret = select_rings(pn, &g, b, err);
	if (ret < 0)
		goto fail;
	if (vp->excl) {
		ret = vnm_err_set(err, -EBUSY, "%s is bound exclusively by another client", full);
		goto fail;
	}
	if ((pn->nr_flags & NR_EXCLUSIVE) && vp->nbind) {
		ret = vnm_err_set(err, -EBUSY, "%s is bound: no exclusive access", full);
		goto fail;
	}
	for (unsigned i = b->ftx; i <= b->ltx && b->ftx <= b->ltx; i++)
		if (vp->txb[i]) {
			ret = vnm_err_set(err, -EBUSY, "tx ring %u of %s is bound by another client",
					  i, full);
			goto fail;
		}
	for (unsigned i = b->frx; i <= b->lrx && b->frx <= b->lrx; i++)
		if (vp->rxb[i]) {
			ret = vnm_err_set(err, -EBUSY, "rx ring %u of %s is bound by another client",
					  i, full);
			goto fail;
		}

	b->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->kick_fd < 0) {
		ret = vnm_err_set(err, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = vnm_err_set(err, -errno, "socketpair: %s", strerror(errno));
		goto fail;
	}
	/* the app end: a minimal send buffer, so a VNM_NOTIFY_FILL filler fills it (csb.h) */
	int one = 1;
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) < 0) {
		ret = vnm_err_set(err, -errno, "SO_SNDBUF: %s", strerror(errno));
		goto fail;
	}
	ret = vnm_switch_watch_fd(vp->sw->sw, b->kick_fd);
	if (ret < 0) {
		vnm_err_set(err, ret, "cannot watch the kick fd: %s", strerror(-ret));
		goto fail;
	}
	b->app_fd = sv[0];
	b->notify_fd = sv[1];
	b->kind = VNM_KIND_VALE;
	b->vp = vp;
	b->nr_flags = pn->nr_flags;
	for (unsigned i = b->ftx; i <= b->ltx && b->ftx <= b->ltx; i++) {
		vp->txb[i] = b;
		ring_rebind(&vp->end.tx[i]);
		vnm_nmport_set_notify(vp->dp, 0, i, b->notify_fd);
	}
	for (unsigned i = b->frx; i <= b->lrx && b->frx <= b->lrx; i++) {
		vp->rxb[i] = b;
		ring_rebind(&vp->end.rx[i]);
		vnm_nmport_set_notify(vp->dp, 1, i, b->notify_fd);
	}
	vp->nbind++;
	if (pn->nr_flags & NR_EXCLUSIVE)
		vp->excl = b;
	vnm_switch_kick(vp->sw->sw);

	memset(rep, 0, sizeof(*rep));
	rep->region_size = vp->r->size;
	rep->kind = VNM_KIND_VALE;
	rep->end = (uint32_t)vp->end.idx;
	rep->peer_end = UINT32_MAX;
	rep->first_tx_ring = b->ftx;
	rep->last_tx_ring = b->ltx;
	rep->first_rx_ring = b->frx;
	rep->last_rx_ring = b->lrx;
	rep->nr_flags = pn->nr_flags;
	rep->nfds = 3;
	snprintf(rep->name, sizeof(rep->name), "%s", full);
	fds[0] = vp->r->fd;
	fds[1] = b->app_fd;
	fds[2] = b->kick_fd;
	vnm_log(VNM_LOG_INFO, "%s bound (tx %d..%d rx %d..%d)", full, b->ftx, b->ltx, b->frx,
		b->lrx);
	return 0;

fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (b->kick_fd >= 0)
		close(b->kick_fd); /* never watched: the watch is the last step that can fail */
	b->kick_fd = b->notify_fd = b->app_fd = -1;
	if (created) {
		s = vp->sw;
		vport_free(vp);
		sw_put(s);
	}
	return ret;
}

/* ---- netmap:IFNAME: a program on a Linux interface ---- */

/*
 * netmap:IF binds the client to an ephemeral VALE port ("netmap:IF", lossless: TX slots
 * wait until the interface takes them) on a hidden two-port hub switch named "netmap:IF"
 * whose other port is the interface: AF_XDP (copy mode, XDP program on queue 0) when
 * that works, else af_packet. One binding per interface (EBUSY); the port, the switch
 * and the interface's socket go when the client closes. One tx and one rx ring.
 */
static void nif_if_close(struct sw_ent *s, struct vnm_dport *ifdp, int xdp)
{
	vnm_switch_detach(s->sw, ifdp);
	if (xdp) {
		vnm_xdp_port_detached(ifdp);
		vnm_xdp_port_destroy(ifdp);
	} else {
		vnm_afp_port_detached(ifdp);
		vnm_afp_port_destroy(ifdp);
	}
	s->nports--;
	sw_put(s);
}

static void nif_free(struct vnm_vport *vp)
{
	struct sw_ent *s = vp->sw;
	struct vnm_dport *ifdp = vp->nif;
	int xdp = vp->nif_xdp;
	char name[64];

	snprintf(name, sizeof(name), "%s", s ? s->name : "netmap:?");
	vport_free(vp); /* detaches; the switch stays: the interface is still on it */
	if (s)
		nif_if_close(s, ifdp, xdp);
	vnm_log(VNM_LOG_INFO, "%s closed", name);
}

static int nif_open(const struct vnm_portname *pn, struct vnm_binding *b,
		    struct vnm_ctl_open_rep *rep, int fds[3], struct vnm_err *err)
{
	const char *ifn = pn->port;
	struct vnm_portname vpn = *pn;
	struct vnm_vport *vp = NULL, *hp;
	struct vnm_dport *ifdp = NULL;
	struct sw_ent *s = NULL;
	struct vnm_geom g;
	char path[96], msg[200], xmsg[200] = "";
	int ret, xdp = 0;

	if (pn->nr_mode == NR_REG_SW || pn->nr_mode == NR_REG_NIC_SW ||
	    pn->nr_mode == NR_REG_ONE_SW || pn->host_rings)
		return vnm_err_set(err, -EOPNOTSUPP,
				   "%s: host rings ('^', '*', host-rings) need netmap's kernel "
				   "module; to reach the host stack attach a TAP: vale-ctl -h "
				   "valeX:TAPNAME", pn->base);
	if (strlen(ifn) >= 16)
		return vnm_err_set(err, -EINVAL, "bad interface name \"%.64s\"", ifn);
	snprintf(path, sizeof(path), "/sys/class/net/%s", ifn);
	if (access(path, F_OK) != 0)
		return vnm_err_set(err, -ENXIO,
				   "%s: no interface %s (served: valeX:Y, netmap:X{N / X}N pipes, "
				   "netmap:IFNAME)", pn->base, ifn);
	hp = vport_find_pers(ifn);
	if (hp && hp->host && hp->sw)
		return vnm_err_set(err, -EBUSY,
				   "%s is attached to VALE switch %s: detach it first (vale-ctl -d "
				   "%s:%s)", ifn, hp->sw->name, hp->sw->name, ifn);
	if (sw_find(pn->base))
		return vnm_err_set(err, -EBUSY,
				   "%s is bound by another program (one binding per interface)",
				   pn->base);
	if (pn->tx_rings > 1 || pn->rx_rings > 1)
		return vnm_err_set(err, -EINVAL, "%s has 1 tx and 1 rx ring", pn->base);
	ret = geom_from_pn(pn, &g, err);
	if (ret < 0)
		return ret;
	ret = sw_get2(pn->base, VNM_SWITCH_F_HUB, &s, err);
	if (ret < 0)
		return ret;
	if (!getenv("VNM_NO_XDP")) {
		ifdp = vnm_xdp_port_create(ifn, xmsg, sizeof(xmsg));
		xdp = ifdp != NULL;
	}
	if (!ifdp)
		ifdp = vnm_afp_port_create(ifn, msg, sizeof(msg));
	if (!ifdp) {
		sw_put(s);
		return vnm_err_set(err, -EIO, "%s: af_packet: %s", pn->base, msg);
	}
	ifdp->flags = 0; /* its frames to the program are dropped when the RX ring is full */
	ret = vnm_switch_attach(s->sw, ifdp);
	if (ret < 0) {
		if (xdp)
			vnm_xdp_port_destroy(ifdp);
		else
			vnm_afp_port_destroy(ifdp);
		sw_put(s);
		return vnm_err_set(err, ret, "cannot attach %s: %s", ifn, strerror(-ret));
	}
	s->nports++;
	if (xdp)
		vnm_xdp_port_attached(ifdp, s->sw);
	else
		vnm_afp_port_attached(ifdp, s->sw);
	ret = vport_new(ifn, &g, 0, VNM_PI_LOSSLESS, &vp, err);
	if (ret < 0) {
		nif_if_close(s, ifdp, xdp);
		return ret;
	}
	vp->nif = ifdp;
	vp->nif_xdp = xdp;
	ret = vport_attach(vp, s, err);
	if (ret < 0) {
		vp->nif = NULL;
		vport_free(vp);
		nif_if_close(s, ifdp, xdp);
		return ret;
	}
	/* bind it as a VALE port of the hub switch */
	vpn.is_vale = 1;
	snprintf(vpn.sw, sizeof(vpn.sw), "%s", pn->base);
	vpn.nr_flags &= ~(uint32_t)NR_VNM_LOSSLESS;
	ret = vale_open(&vpn, b, rep, fds, err);
	if (ret < 0) {
		nif_free(vp);
		return ret;
	}
	rep->kind = VNM_KIND_NETDEV;
	rep->nr_flags = pn->nr_flags;
	if (xdp)
		vnm_log(VNM_LOG_INFO, "%s: interface %s on af_xdp (copy mode)", pn->base, ifn);
	else
		vnm_log(VNM_LOG_INFO, "%s: interface %s on af_packet%s%s%s", pn->base, ifn,
			*xmsg ? " (AF_XDP: " : "", *xmsg ? xmsg : "", *xmsg ? ")" : "");
	return 0;
}

static void vale_unbind(struct vnm_binding *b)
{
	struct vnm_vport *vp = b->vp;

	for (unsigned i = b->ftx; i <= b->ltx && b->ftx <= b->ltx; i++) {
		vnm_nmport_set_notify(vp->dp, 0, i, -1);
		vp->txb[i] = NULL;
	}
	for (unsigned i = b->frx; i <= b->lrx && b->frx <= b->lrx; i++) {
		vnm_nmport_set_notify(vp->dp, 1, i, -1);
		vp->rxb[i] = NULL;
	}
	if (vp->sw) {
		/* returns after the round that may still use the notify fds: close them now */
		vnm_switch_unwatch_fd(vp->sw->sw, b->kick_fd);
		/* a lossless sender may wait on this port's RX rings: let it re-evaluate */
		vnm_switch_kick(vp->sw->sw);
		close(b->kick_fd);
		close(b->notify_fd);
	} else {
		close(b->kick_fd); /* not on a switch: no thread uses them */
		close(b->notify_fd);
	}
	if (b->app_fd >= 0)
		close(b->app_fd);
	if (vp->excl == b)
		vp->excl = NULL;
	vp->nbind--;
	vnm_log(VNM_LOG_INFO, "%s:%s unbound", vp->sw ? vp->sw->name : "-", vp->name);
	if (!vp->persistent && vp->nbind == 0) {
		if (vp->nif)
			nif_free(vp); /* netmap:IF: the interface and the hub switch go too */
		else
			vport_free(vp);
	}
}

/* ---- monitors: "valeX:Y/r", "/t", "/rt" (copies made by the switch thread) ---- */

static void mon_orphan_all(struct vnm_vport *vp)
{
	/* main thread, after vnm_switch_detach: the switch no longer copies into them */
	for (unsigned k = 0; k < vp->nmons; k++) {
		vnm_log(VNM_LOG_INFO, "%s: monitored port went away, monitor stopped",
			vp->mons[k]->name);
		vp->mons[k]->vp = NULL;
	}
	vp->nmons = 0;
	if (vp->zmon) {
		vnm_nmport_set_zmon(vp->dp, NULL, 0, 0, -1, NULL); /* detached: no thread uses it */
		vp->zmon = NULL;
	}
}

/* A /z monitor's rings bound again: empty (the slots keep their buffers: a permutation). */
static void zend_reset(struct vnm_end *e)
{
	for (unsigned i = 0; i < e->g.nrx; i++) {
		struct vnm_kring *k = &e->rx[i];
		k->nr_hwcur = k->nr_hwtail = k->rhead = k->rcur = 0;
		__atomic_store_n(&k->ktoa->hwcur, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->ktoa->hwtail, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->ktoa->kern_need_kick, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->atok->head, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->atok->cur, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->atok->appl_need_kick, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->ring->head, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->ring->cur, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&k->ring->tail, 0, __ATOMIC_RELAXED);
		k->err_count = __atomic_load_n(&k->ktoa->err_count, __ATOMIC_RELAXED);
	}
}

struct zmon_set_arg {
	struct vnm_vport *vp;
	struct vnm_mon *m;
	uint32_t mask;
	int notify_fd;
	int ret;
};

static void zmon_set_locked(void *arg)
{
	struct zmon_set_arg *a = arg;

	if (a->m)
		a->ret = vnm_nmport_set_zmon(a->vp->dp, a->vp->zend.rx, a->vp->zend.g.nrx, a->mask,
					     a->notify_fd, &a->m->zstats);
	else
		a->ret = vnm_nmport_set_zmon(a->vp->dp, NULL, 0, 0, -1, NULL);
}

static void mon_free(struct vnm_mon *m)
{
	if (m->dp)
		vnm_nmport_destroy(m->dp);
	if (m->r) {
		if (m->end.idx >= 0)
			vnm_end_release(m->r, &m->end);
		vnm_region_destroy(m->r);
	}
	free(m);
}

/* Is spec a monitor of a pipe or of a netmap: port? Clear refusals (docs/ARCHITECTURE.md). */
static int mon_refuse(const struct vnm_portname *pn, struct vnm_err *err)
{
	if (pn->pipe_role)
		return vnm_err_set(err, -EOPNOTSUPP,
				   "monitors of pipes are not supported: the pipe datapath runs in "
				   "the two clients, vnetmapd never sees the frames");
	if (!pn->is_vale)
		return vnm_err_set(err, -EOPNOTSUPP,
				   "%s: monitors are served for VALE ports (valeX:Y/r, /t, /rt, /z)",
				   pn->base);
	if (pn->nr_flags & (NR_EXCLUSIVE | NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY | NR_VNM_LOSSLESS))
		return vnm_err_set(err, -EINVAL,
				   "a monitor takes /r, /t, /rt or /z (not /x /R /T or lossless)");
	if ((pn->nr_flags & NR_ZCOPY_MON) && (pn->nr_flags & (NR_MONITOR_TX | NR_MONITOR_RX)))
		return vnm_err_set(err, -EINVAL, "/z is a monitor of both directions: not with /r /t");
	if (pn->tx_rings || pn->rx_rings || pn->host_rings)
		return vnm_err_set(err, -EINVAL,
				   "a monitor has the monitored port's rings: @conf takes slots only");
	if (pn->nr_mode != NR_REG_DEFAULT && pn->nr_mode != NR_REG_ALL_NIC &&
	    pn->nr_mode != NR_REG_ONE_NIC)
		return vnm_err_set(err, -EOPNOTSUPP, "a monitor binds all rings or one (-N)");
	return 0;
}

/* The port valeX:Y attached to switch X (ephemeral or persistent), or NULL. */
static struct vnm_vport *vport_find_attached(const char *sw, const char *name)
{
	struct vnm_vport *vp = vport_find_eph(sw, name);

	if (!vp) {
		vp = vport_find_pers(name);
		if (vp && (!vp->sw || strcmp(vp->sw->name, sw) != 0))
			vp = NULL;
	}
	return vp;
}

static int mon_copy_deliver(struct vnm_dport *mon, unsigned ring, const struct vnm_frame *frames,
			    const uint16_t *idx, unsigned n)
{
	return vnm_nmport_deliver_ring(mon, ring, frames, idx, n);
}

static int mon_open(const struct vnm_portname *pn, struct vnm_binding *b,
		    struct vnm_ctl_open_rep *rep, int fds[3], struct vnm_err *err)
{
	struct vnm_vport *vp;
	struct vnm_mon *m;
	struct vnm_geom g;
	int sv[2] = { -1, -1 }, ret;
	char flags[4] = "";

	ret = mon_refuse(pn, err);
	if (ret < 0)
		return ret;
	vp = vport_find_attached(pn->sw, pn->port);
	if (!vp)
		return vnm_err_set(err, -ENXIO, "no port %s:%s to monitor (not open or not attached)",
				   pn->sw, pn->port);
	if (pn->nr_flags & NR_ZCOPY_MON) {
		if (vp->vhost || vp->host || vp->sock)
			return vnm_err_set(err, -EOPNOTSUPP,
					   "/z needs a port with its own region (a netmap client's "
					   "VALE port); %s:%s is a %s port: use /r, /t or /rt",
					   pn->sw, pn->port,
					   vp->vhost ? "vhost-user" : vp->sock ? "socket" : "host");
		if (vp->zmon)
			return vnm_err_set(err, -EBUSY, "%s:%s has a /z monitor already (one per port)",
					   pn->sw, pn->port);
	}
	if (vp->nmons >= VNM_SWITCH_MAX_MONS)
		return vnm_err_set(err, -ENOSPC, "%s:%s has %d monitors already", pn->sw, pn->port,
				   VNM_SWITCH_MAX_MONS);
	/* netmap's monitor: one (unused) TX ring, max(ntx, nrx) RX rings, the port's slots */
	geom_default(&g);
	g.ntx = 1;
	g.tx_slots = VNM_MIN_SLOTS;
	if (!vp->vhost && !vp->host && !vp->sock) {
		g.nrx = vp->end.g.ntx > vp->end.g.nrx ? vp->end.g.ntx : vp->end.g.nrx;
		g.rx_slots = vp->end.g.rx_slots;
	}
	if (pn->nr_flags & NR_ZCOPY_MON) {
		zmon_geom(&vp->end.g, &g); /* in the room vport_new reserved */
		if (pn->rx_slots && pn->rx_slots != g.rx_slots)
			return vnm_err_set(err, -EINVAL, "a /z monitor has the port's %u slots",
					   g.rx_slots);
	} else if (pn->rx_slots) {
		g.rx_slots = pn->rx_slots;
	}
	if (g.rx_slots < VNM_MIN_SLOTS || g.rx_slots > VNM_MAX_SLOTS || g.nrx > VNM_MAX_RINGS)
		return vnm_err_set(err, -EINVAL, "slot count out of %d..%d", VNM_MIN_SLOTS,
				   VNM_MAX_SLOTS);
	b->ftx = 1, b->ltx = 0; /* nothing to transmit */
	b->frx = 0, b->lrx = (uint16_t)(g.nrx - 1);
	if (pn->nr_mode == NR_REG_ONE_NIC) {
		if (pn->ring_id < 0 || (uint32_t)pn->ring_id >= g.nrx)
			return vnm_err_set(err, -EINVAL, "ring %d out of range (monitor has %u rings)",
					   pn->ring_id, g.nrx);
		b->frx = b->lrx = (uint16_t)pn->ring_id;
	}

	m = calloc(1, sizeof(*m));
	if (!m)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	m->end.idx = -1;
	m->dirs = (pn->nr_flags & NR_MONITOR_TX ? VNM_MON_TX : 0) |
		  (pn->nr_flags & NR_MONITOR_RX ? VNM_MON_RX : 0);
	m->zcopy = !!(pn->nr_flags & NR_ZCOPY_MON);
	snprintf(flags, sizeof(flags), "%s%s%s", pn->nr_flags & NR_MONITOR_RX ? "r" : "",
		 pn->nr_flags & NR_MONITOR_TX ? "t" : "", m->zcopy ? "z" : "");
	if (snprintf(m->name, sizeof(m->name), "%s/%s", vp->full, flags) >= (int)sizeof(m->name)) {
		free(m);
		return vnm_err_set(err, -ENAMETOOLONG, "port name too long");
	}
	snprintf(m->swname, sizeof(m->swname), "%s", vp->sw->name);
	snprintf(m->zstats.name, sizeof(m->zstats.name), "%s", m->name);
	if (m->zcopy) {
		if (!vp->zend_built) {
			ret = vnm_end_build(vp->r, m->name, &g, VNM_END_VALE | VNM_END_MONITOR,
					    &vp->zend);
			if (ret < 0) {
				vnm_err_set(err, ret, "cannot lay out %s: %s", m->name,
					    strerror(-ret));
				goto fail;
			}
			vp->zend_built = 1;
		} else {
			zend_reset(&vp->zend);
		}
		m->end = vp->zend; /* a copy for LIST; the rings belong to vp */
		goto fds;
	}
	ret = vnm_region_create(m->name, vnm_end_obj_bytes(&g), 2 + vnm_end_num_bufs(&g),
				g.buf_size, &m->r);
	if (ret < 0) {
		vnm_err_set(err, ret, "cannot create the region of %s: %s", m->name, strerror(-ret));
		goto fail;
	}
	ret = vnm_end_build(m->r, m->name, &g, VNM_END_VALE | VNM_END_MONITOR, &m->end);
	if (ret < 0) {
		vnm_err_set(err, ret, "cannot lay out %s: %s", m->name, strerror(-ret));
		goto fail;
	}
	m->dp = vnm_nmport_create(m->name, m->end.tx, g.ntx, m->end.rx, g.nrx, 0);
	if (!m->dp) {
		ret = vnm_err_set(err, -ENOMEM, "cannot create monitor %s", m->name);
		goto fail;
	}
fds:
	/* never watched: kern_need_kick stays 0, so the client never kicks it */
	b->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->kick_fd < 0) {
		ret = vnm_err_set(err, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = vnm_err_set(err, -errno, "socketpair: %s", strerror(errno));
		goto fail;
	}
	int one = 1;
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) < 0) {
		ret = vnm_err_set(err, -errno, "SO_SNDBUF: %s", strerror(errno));
		goto fail;
	}
	uint32_t mask = 0;
	for (unsigned i = b->frx; i <= b->lrx; i++) {
		if (m->dp)
			vnm_nmport_set_notify(m->dp, 1, i, sv[1]); /* not on the switch yet */
		mask |= 1u << i;
	}
	/* the last step that can fail: afterwards the switch thread copies (swaps) into m */
	if (m->zcopy) {
		struct zmon_set_arg za = { vp, m, mask, sv[1], 0 };
		vnm_switch_locked(vp->sw->sw, zmon_set_locked, &za);
		ret = za.ret;
		if (ret == 0)
			vp->zmon = m;
	} else {
		ret = vnm_switch_mon_add(vp->sw->sw, vp->dp, m->dp, m->dirs, mask,
					 mon_copy_deliver);
	}
	if (ret < 0) {
		vnm_err_set(err, ret, "cannot monitor %s: %s", vp->full, strerror(-ret));
		goto fail;
	}
	m->vp = vp;
	vp->mons[vp->nmons++] = m;
	m->next = mons;
	mons = m;
	b->app_fd = sv[0];
	b->notify_fd = sv[1];
	b->kind = VNM_KIND_MONITOR;
	b->mon = m;
	b->nr_flags = pn->nr_flags;

	memset(rep, 0, sizeof(*rep));
	rep->region_size = m->zcopy ? vp->r->size : m->r->size;
	rep->kind = VNM_KIND_MONITOR;
	rep->end = (uint32_t)m->end.idx;
	rep->peer_end = UINT32_MAX;
	rep->first_tx_ring = b->ftx;
	rep->last_tx_ring = b->ltx;
	rep->first_rx_ring = b->frx;
	rep->last_rx_ring = b->lrx;
	rep->nr_flags = pn->nr_flags;
	rep->nfds = 3;
	snprintf(rep->name, sizeof(rep->name), "%s", m->name);
	fds[0] = m->zcopy ? vp->r->fd : m->r->fd;
	fds[1] = b->app_fd;
	fds[2] = b->kick_fd;
	vnm_log(VNM_LOG_INFO, "%s: monitor bound (rx rings %d..%d)", m->name, b->frx, b->lrx);
	return 0;

fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (b->kick_fd >= 0)
		close(b->kick_fd);
	b->kick_fd = b->notify_fd = b->app_fd = -1;
	mon_free(m);
	return ret;
}

static void mon_unbind(struct vnm_binding *b)
{
	struct vnm_mon *m = b->mon, **pp;
	struct vnm_vport *vp = m->vp;

	if (vp && m->zcopy) {
		struct zmon_set_arg za = { vp, NULL, 0, -1, 0 };
		/* returns after the round that may still swap into its rings or notify it */
		if (vp->sw)
			vnm_switch_locked(vp->sw->sw, zmon_set_locked, &za);
		else
			zmon_set_locked(&za);
		vp->zmon = NULL;
	} else if (vp) {
		/* returns after the round that may still copy into m or notify its client */
		if (vp->sw)
			vnm_switch_mon_del(vp->sw->sw, vp->dp, m->dp);
	}
	if (vp) {
		for (unsigned k = 0; k < vp->nmons; k++)
			if (vp->mons[k] == m) {
				vp->mons[k] = vp->mons[--vp->nmons];
				break;
			}
	}
	for (pp = &mons; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	close(b->kick_fd);
	close(b->notify_fd);
	if (b->app_fd >= 0)
		close(b->app_fd);
	vnm_log(VNM_LOG_INFO, "%s: monitor unbound", m->name);
	mon_free(m);
	b->mon = NULL;
}

static int mon_match(const struct vnm_mon *m, const char *filter, int single)
{
	if (!*filter || strcmp(m->name, filter) == 0)
		return 1;
	if (single)
		return 0;
	/* LIST valeX: the switch's monitors; LIST valeX:Y: the port's */
	if (m->vp && strcmp(m->vp->full, filter) == 0)
		return 1;
	return m->vp && strcmp(m->swname, filter) == 0;
}

static void mon_info(const struct vnm_mon *m, struct vnm_ctl_port_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	snprintf(pi->name, sizeof(pi->name), "%s", m->name);
	pi->bridge_idx = -1;
	pi->port_idx = -1;
	if (m->vp && m->vp->sw) {
		snprintf(pi->bridge, sizeof(pi->bridge), "%s", m->vp->sw->name);
		pi->bridge_idx = (int32_t)(m->vp->sw - switches);
		pi->port_idx = m->vp->dp->sw_idx; /* the monitored port's */
	}
	pi->kind = VNM_KIND_MONITOR;
	pi->num_tx_rings = m->end.g.ntx;
	pi->num_rx_rings = m->end.g.nrx;
	pi->num_tx_slots = m->end.g.tx_slots;
	pi->num_rx_slots = m->end.g.rx_slots;
	if (m->r) {
		pi->buf_size = m->r->buf_size;
		pi->num_bufs = m->r->num_bufs;
		pi->region_size = m->r->size;
	} else if (m->vp) { /* /z: the monitored port's region */
		pi->buf_size = m->vp->r->buf_size;
		pi->num_bufs = m->vp->r->num_bufs;
		pi->region_size = m->vp->r->size;
	}
	pi->clients = 1;
}

int vnm_reg_open(const struct vnm_portname *pn, struct vnm_binding **out,
		 struct vnm_ctl_open_rep *rep, int fds[3], struct vnm_err *err)
{
	struct vnm_binding *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	b->kick_fd = b->notify_fd = b->app_fd = -1;
	if (pn->nr_flags & (NR_MONITOR_TX | NR_MONITOR_RX | NR_ZCOPY_MON))
		ret = mon_open(pn, b, rep, fds, err);
	else if (pn->pipe_role)
		ret = vnm_pipe_open(pn, b, rep, fds, err);
	else if (pn->is_vale)
		ret = vale_open(pn, b, rep, fds, err);
	else
		ret = nif_open(pn, b, rep, fds, err); /* netmap:IFNAME */
	if (ret < 0) {
		free(b);
		return ret;
	}
	*out = b;
	return 0;
}

void vnm_binding_committed(struct vnm_binding *b)
{
	if ((b->kind == VNM_KIND_VALE || b->kind == VNM_KIND_MONITOR) && b->app_fd >= 0) {
		close(b->app_fd);
		b->app_fd = -1;
	}
}

void vnm_binding_release(struct vnm_binding *b)
{
	if (!b)
		return;
	if (b->kind == VNM_KIND_VALE)
		vale_unbind(b);
	else if (b->kind == VNM_KIND_PIPE)
		vnm_pipe_unbind(b);
	else if (b->kind == VNM_KIND_MONITOR)
		mon_unbind(b);
	free(b);
}

/* ---- persistent ports: CREATE, REMOVE, ATTACH, DETACH ---- */

static int valid_ident(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* CREATE "NAME[@conf:...]": a persistent port, detached, geometry from @conf (vale-ctl -C). */
int vnm_reg_create(const char *spec, struct vnm_err *err)
{
	struct vnm_portname pn;
	struct vnm_vport *vp;
	struct vnm_geom g;
	char buf[VNM_PORTSPEC_MAX + 8], msg[160];
	const char *at = strchr(spec, '@');
	size_t nlen = at ? (size_t)(at - spec) : strlen(spec);
	int ret;

	if (nlen == 0 || nlen >= 48)
		return vnm_err_set(err, -EINVAL, "bad port name \"%.64s\": [A-Za-z0-9_]{1,47}", spec);
	/* the name and options through the one parser, as a VALE port of switch "vale" */
	snprintf(buf, sizeof(buf), "vale:%.*s", VNM_PORTSPEC_MAX - 1, spec);
	ret = vnm_portname_parse(buf, &pn, msg, sizeof(msg));
	if (ret < 0 || strlen(pn.port) != nlen || !valid_ident(pn.port))
		return vnm_err_set(err, -EINVAL, "bad port name \"%.64s\": [A-Za-z0-9_]{1,47}%s%s",
				   spec, ret < 0 ? ": " : "", ret < 0 ? msg : "");
	if (pn.pipe_role || pn.ring_id >= 0 ||
	    (pn.nr_mode != NR_REG_DEFAULT && pn.nr_mode != NR_REG_ALL_NIC) ||
	    (pn.nr_flags & ~NR_VNM_LOSSLESS))
		return vnm_err_set(err, -EINVAL, "CREATE takes NAME[@conf:...] only");
	if (vport_find_pers(pn.port))
		return vnm_err_set(err, -EEXIST, "port %s exists", pn.port);
	ret = geom_from_pn(&pn, &g, err);
	if (ret < 0)
		return ret;
	ret = vport_new(pn.port, &g, 1, (pn.nr_flags & NR_VNM_LOSSLESS) ? VNM_PI_LOSSLESS : 0, &vp,
			err);
	if (ret == 0)
		vnm_log(VNM_LOG_INFO, "persistent port %s created (%u/%u rings, %u/%u slots)",
			pn.port, g.ntx, g.nrx, g.tx_slots, g.rx_slots);
	return ret;
}

/* VHOST: a persistent port NAME served as vhost-user at path (client, or server). */
int vnm_reg_create_vhost(const char *name, const char *path, uint32_t flags, struct vnm_err *err)
{
	struct vnm_vport *vp;
	char msg[200];
	size_t nlen = strnlen(name, 64);

	if (vnm_pipe_vhost_is_pipe(name)) /* a pipe end: ports/pipe_vhost.c */
		return vnm_pipe_vhost_create(name, path, flags, err);
	if (nlen == 0 || nlen >= 48 || !valid_ident(name))
		return vnm_err_set(err, -EINVAL, "bad port name \"%.64s\": [A-Za-z0-9_]{1,47}", name);
	if (flags & ~(uint32_t)VNM_VHOST_SERVER)
		return vnm_err_set(err, -EINVAL, "unknown vhost flags 0x%x", flags);
	if (vport_find_pers(name))
		return vnm_err_set(err, -EEXIST, "port %s exists", name);
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	vp->dp = vnm_vhost_port_create(name, path, !!(flags & VNM_VHOST_SERVER), msg, sizeof(msg));
	if (!vp->dp) {
		free(vp);
		return vnm_err_set(err, -EINVAL, "vhost-user port %s: %s", name, msg);
	}
	snprintf(vp->name, sizeof(vp->name), "%s", name);
	memcpy(vp->full, vp->name, sizeof(vp->name));
	vp->persistent = 1;
	vp->vhost = 1;
	vp->pi_flags = VNM_PI_PERSISTENT;
	vp->dp->flags = vp->pi_flags;
	vp->next = vports;
	vports = vp;
	vnm_log(VNM_LOG_INFO, "vhost-user port %s created (%s at %s)", name,
		(flags & VNM_VHOST_SERVER) ? "server" : "client", path);
	return 0;
}

/* SOCKET: a persistent port NAME carrying frames over a UNIX socket (QEMU stream/dgram). */
int vnm_reg_create_socket(const char *name, const char *path, const char *peer_path,
			  uint32_t flags, struct vnm_err *err)
{
	struct vnm_vport *vp;
	char msg[200];
	size_t nlen = strnlen(name, 64);

	if (nlen == 0 || nlen >= 48 || !valid_ident(name))
		return vnm_err_set(err, -EINVAL, "bad port name \"%.64s\": [A-Za-z0-9_]{1,47}", name);
	if (vport_find_pers(name))
		return vnm_err_set(err, -EEXIST, "port %s exists", name);
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	vp->dp = vnm_sock_port_create(name, path, peer_path, flags, msg, sizeof(msg));
	if (!vp->dp) {
		free(vp);
		return vnm_err_set(err, -EINVAL, "socket port %s: %s", name, msg);
	}
	snprintf(vp->name, sizeof(vp->name), "%s", name);
	memcpy(vp->full, vp->name, sizeof(vp->name));
	vp->persistent = 1;
	vp->sock = 1;
	vp->pi_flags = VNM_PI_PERSISTENT;
	vp->dp->flags = 0; /* never lossless: a full socket drops */
	vp->next = vports;
	vports = vp;
	vnm_log(VNM_LOG_INFO, "socket port %s created (%s %s%s%s)", name,
		(flags & VNM_SOCK_DGRAM) ? "dgram" : "stream",
		(flags & VNM_SOCK_SERVER) ? "listening at " : "", path,
		(flags & VNM_SOCK_DGRAM) ? ", peer elsewhere" : "");
	return 0;
}

int vnm_reg_remove(const char *name, struct vnm_err *err)
{
	struct vnm_vport *vp = vport_find_pers(name);

	if (!vp && vnm_pipe_vhost_is_pipe(name))
		return vnm_pipe_vhost_remove(name, err);
	if (!vp)
		return vnm_err_set(err, -ENXIO, "no persistent port %.64s", name);
	if (vp->nbind)
		return vnm_err_set(err, -EBUSY, "port %s has %u client(s)", name, vp->nbind);
	vnm_log(VNM_LOG_INFO, "persistent port %s removed", name);
	vport_free(vp);
	return 0;
}

/* "valeX:NAME" -> switch and port names (NAME a bare identifier). */
static int split_vale(const char *spec, struct vnm_portname *pn, struct vnm_err *err)
{
	char msg[160];
	int ret = vnm_portname_parse(spec, pn, msg, sizeof(msg));

	if (ret < 0)
		return vnm_err_set(err, ret, "%s", msg);
	if (!pn->is_vale || pn->pipe_role || pn->ring_id >= 0 ||
	    (pn->nr_mode != NR_REG_DEFAULT && pn->nr_mode != NR_REG_ALL_NIC) || pn->nr_flags ||
	    pn->tx_rings || pn->rx_rings || pn->tx_slots || pn->rx_slots || pn->host_rings)
		return vnm_err_set(err, -EINVAL, "expected valeX:NAME, got \"%.64s\"", spec);
	return 0;
}

/*
 * A host port for NAME: a TAP vnetmapd creates/opens (host), else the Linux interface
 * NAME through AF_PACKET when /sys/class/net/NAME exists. It lives while attached.
 */
static int host_port_new(const char *name, int host, struct vnm_vport **out, struct vnm_err *err)
{
	struct vnm_vport *vp;
	char path[64], msg[200];
	size_t nlen = strlen(name);

	if (nlen == 0 || nlen >= 16 || strchr(name, '/') || name[0] == '.')
		return vnm_err_set(err, -EINVAL, "bad interface name \"%.64s\"", name);
	if (!host) {
		snprintf(path, sizeof(path), "/sys/class/net/%s", name);
		if (access(path, F_OK) != 0)
			return vnm_err_set(err, -ENXIO,
					   "no persistent port or interface %s: vale-ctl -n %s", name,
					   name);
	}
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return vnm_err_set(err, -ENOMEM, "out of memory");
	vp->dp = host ? vnm_tap_port_create(name, msg, sizeof(msg))
		      : vnm_afp_port_create(name, msg, sizeof(msg));
	if (!vp->dp) {
		free(vp);
		return vnm_err_set(err, -EIO, "%s %s: %s", host ? "tap" : "af_packet", name, msg);
	}
	snprintf(vp->name, sizeof(vp->name), "%s", name);
	memcpy(vp->full, vp->name, sizeof(vp->name));
	vp->persistent = 1;
	vp->host = host ? HOST_TAP : HOST_NETDEV;
	vp->pi_flags = VNM_PI_PERSISTENT;
	vp->dp->flags = 0;
	vp->next = vports;
	vports = vp;
	*out = vp;
	return 0;
}

int vnm_reg_attach(const char *spec, struct vnm_err *err)
{
	return vnm_reg_attach2(spec, 0, err);
}

int vnm_reg_attach2(const char *spec, uint32_t flags, struct vnm_err *err)
{
	struct vnm_portname pn;
	struct vnm_vport *vp;
	struct sw_ent *s;
	int ret = split_vale(spec, &pn, err), made = 0;

	if (ret < 0)
		return ret;
	vp = vport_find_pers(pn.port);
	if (vp && (flags & VNM_CTL_F_HOST) && vp->host != HOST_TAP)
		return vnm_err_set(err, -EEXIST, "port %s exists and is not a TAP", pn.port);
	if (!vp && !vport_find_eph(pn.sw, pn.port)) {
		char nb[80];
		snprintf(nb, sizeof(nb), "netmap:%s", pn.port);
		if (sw_find(nb))
			return vnm_err_set(err, -EBUSY, "%s is bound by a program as %s", pn.port,
					   nb);
		ret = host_port_new(pn.port, !!(flags & VNM_CTL_F_HOST), &vp, err);
		if (ret < 0 && ret != -ENXIO)
			return ret;
		made = ret == 0;
	}
	if (!vp)
		return vnm_err_set(err, -ENXIO, "no persistent port %s: vale-ctl -n %s", pn.port,
				   pn.port);
	if (vp->sw)
		return vnm_err_set(err, -EBUSY, "port %s is attached to %s", pn.port, vp->sw->name);
	if (vport_find_eph(pn.sw, pn.port))
		return vnm_err_set(err, -EEXIST, "%s:%s exists (ephemeral)", pn.sw, pn.port);
	ret = sw_get(pn.sw, &s, err);
	if (ret >= 0) {
		ret = vport_attach(vp, s, err);
		if (ret < 0)
			sw_put(s);
	}
	if (ret < 0 && made)
		vport_free(vp);
	return ret;
}

int vnm_reg_detach(const char *spec, struct vnm_err *err)
{
	struct vnm_portname pn;
	struct vnm_vport *vp;
	int ret = split_vale(spec, &pn, err);

	if (ret < 0)
		return ret;
	vp = vport_find_pers(pn.port);
	if (!vp || !vp->sw || strcmp(vp->sw->name, pn.sw) != 0) {
		if (vport_find_eph(pn.sw, pn.port))
			return vnm_err_set(err, -EINVAL, "%s:%s is ephemeral: it goes at last close",
					   pn.sw, pn.port);
		return vnm_err_set(err, -ENXIO, "%s:%s is not attached", pn.sw, pn.port);
	}
	if (vp->nbind)
		return vnm_err_set(err, -EBUSY, "%s:%s has %u client(s)", pn.sw, pn.port,
				   vp->nbind);
	vport_detach(vp);
	if (vp->host) {
		vnm_log(VNM_LOG_INFO, "host port %s closed", vp->name);
		vport_free(vp); /* host ports live while attached */
	}
	return 0;
}

/* ---- LIST, INFO, STATS, FDB ---- */

static void vport_info(const struct vnm_vport *vp, struct vnm_ctl_port_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	vport_fullname(vp, pi->name, sizeof(pi->name));
	if (vp->sw) {
		snprintf(pi->bridge, sizeof(pi->bridge), "%s", vp->sw->name);
		pi->bridge_idx = (int32_t)(vp->sw - switches);
		pi->port_idx = vp->dp->sw_idx;
	} else {
		pi->bridge_idx = -1;
		pi->port_idx = -1;
	}
	pi->kind = VNM_KIND_VALE;
	pi->flags = vp->pi_flags;
	if (vp->vhost) {
		int server, connected;
		pi->kind = VNM_KIND_VHOST;
		vnm_vhost_port_path(vp->dp, &server, &connected);
		pi->clients = (uint32_t)connected;
		pi->num_tx_rings = pi->num_rx_rings = 1;
		return;
	}
	if (vp->sock) {
		pi->kind = VNM_KIND_SOCKET;
		pi->clients = (uint32_t)vnm_sock_port_connected(vp->dp);
		pi->num_tx_rings = pi->num_rx_rings = 1;
		return;
	}
	if (vp->host) {
		pi->kind = vp->host == HOST_TAP ? VNM_KIND_TAP : VNM_KIND_NETDEV;
		pi->num_tx_rings = pi->num_rx_rings = 1;
		return;
	}
	pi->num_tx_rings = vp->end.g.ntx;
	pi->num_rx_rings = vp->end.g.nrx;
	pi->num_tx_slots = vp->end.g.tx_slots;
	pi->num_rx_slots = vp->end.g.rx_slots;
	pi->buf_size = vp->r->buf_size;
	pi->num_bufs = vp->r->num_bufs;
	pi->region_size = vp->r->size;
	pi->clients = vp->nbind;
	if (vp->nif) { /* netmap:IF: the program's port, the interface behind it */
		pi->kind = VNM_KIND_NETDEV;
		pi->flags = (pi->flags & ~(uint32_t)VNM_PI_LOSSLESS) | (vp->nif_xdp ? VNM_PI_XDP : 0);
	}
}

/* Does vp match filter: "" all, a switch name, "valeX:Y", or a persistent port's name. */
static int vport_match(const struct vnm_vport *vp, const char *filter, int single)
{
	char full[VNM_NAME_MAX];

	if (!*filter)
		return 1;
	vport_fullname(vp, full, sizeof(full));
	if (strcmp(full, filter) == 0)
		return 1;
	if (vp->persistent && strcmp(vp->name, filter) == 0)
		return 1;
	return !single && vp->sw && strcmp(vp->sw->name, filter) == 0;
}

int vnm_reg_list(const char *filter, int single, struct vnm_ctl_port_info *out, unsigned max,
		 struct vnm_err *err)
{
	unsigned n = 0, matched = 0;

	/* switches in bridge_idx order, ports in port_idx order, then detached ports */
	for (int si = 0; si < VNM_SWITCH_MAX; si++) {
		if (!switches[si].sw)
			continue;
		for (int pi = 0; pi < VNM_SWITCH_MAX_PORTS; pi++)
			for (struct vnm_vport *vp = vports; vp; vp = vp->next)
				if (vp->sw == &switches[si] && vp->dp->sw_idx == pi &&
				    vport_match(vp, filter, single)) {
					matched++;
					if (n < max)
						vport_info(vp, &out[n++]);
				}
	}
	for (struct vnm_vport *vp = vports; vp; vp = vp->next)
		if (!vp->sw && vport_match(vp, filter, single)) {
			matched++;
			if (n < max)
				vport_info(vp, &out[n++]);
		}
	for (struct vnm_mon *m = mons; m; m = m->next)
		if (mon_match(m, filter, single)) {
			matched++;
			if (n < max)
				mon_info(m, &out[n++]);
		}
	unsigned pm = 0;
	/* a pipe end served as vhost-user first: INFO (one entry) then says "vhost-user" */
	n += vnm_pipe_vhost_list(filter, out + n, max - n, &pm);
	matched += pm;
	n += vnm_pipe_list(filter, out + n, max - n, &pm);
	matched += pm;
	if (*filter && matched == 0)
		return vnm_err_set(err, -ENXIO, "no such port: %.64s", filter);
	if (!single && matched > n) /* INFO: the first match (a vhost-user pipe end: that) */
		vnm_log(VNM_LOG_WARN, "list truncated to %u of %u ports", n, matched);
	return (int)n;
}

int vnm_reg_stats(const char *filter, struct vnm_ctl_port_stats *out, unsigned max,
		  struct vnm_err *err)
{
	unsigned n = 0, matched = 0;

	for (struct vnm_vport *vp = vports; vp; vp = vp->next) {
		if (!vport_match(vp, filter, 0))
			continue;
		matched++;
		if (n == max)
			continue;
		/* written by the switch thread: a racy snapshot, each counter read once */
		memcpy(&out[n], &vp->dp->stats, sizeof(out[n]));
		vport_fullname(vp, out[n].name, sizeof(out[n].name));
		n++;
		if (vp->nif && n < max) {
			/* netmap:IF: the interface's side too, under the interface's name */
			memcpy(&out[n], &vp->nif->stats, sizeof(out[n]));
			snprintf(out[n].name, sizeof(out[n].name), "%s", vp->name);
			n++;
		}
	}
	for (struct vnm_mon *m = mons; m; m = m->next) {
		if (!mon_match(m, filter, 0))
			continue;
		matched++;
		if (n == max)
			continue;
		/* drop_full: frames the monitor had no room for (it never slows the port) */
		memcpy(&out[n], m->dp ? &m->dp->stats : &m->zstats, sizeof(out[n]));
		snprintf(out[n].name, sizeof(out[n].name), "%s", m->name);
		n++;
	}
	unsigned pm = 0;
	n += vnm_pipe_vhost_stats(filter, out + n, max - n, &pm);
	matched += pm;
	if (*filter && matched == 0)
		return vnm_err_set(err, -ENXIO, "no such port or switch: %.64s", filter);
	return (int)n;
}

int vnm_reg_hdr(const char *name, int set, uint32_t *len, struct vnm_err *err)
{
	if (!*name)
		return vnm_err_set(err, -EINVAL, "no port name");
	for (struct vnm_vport *vp = vports; vp; vp = vp->next) {
		if (!vport_match(vp, name, 1))
			continue;
		if (!vnm_dport_is_nmport(vp->dp))
			return vnm_err_set(err, -EOPNOTSUPP,
					   "%.64s: a header length is for ports of netmap clients", name);
		if (!set) {
			*len = vnm_nmport_get_hdr(vp->dp);
			return 0;
		}
		if (vnm_nmport_set_hdr(vp->dp, *len) < 0)
			return vnm_err_set(err, -EINVAL, "header length %u: 0, 10 or 12", *len);
		vnm_log(VNM_LOG_INFO, "port %.64s: virtio-net header length %u", name, *len);
		return 0;
	}
	return vnm_err_set(err, -ENXIO, "no such VALE port: %.64s", name);
}

int vnm_reg_fdb(const char *sw, struct vnm_ctl_fdb_entry *out, unsigned max, struct vnm_err *err)
{
	struct sw_ent *s = sw_find(sw);

	if (!s)
		return vnm_err_set(err, -ENXIO, "no such switch: %.64s", sw);
	int n = vnm_switch_fdb_dump(s->sw, out, (int)max);
	return n < 0 ? vnm_err_set(err, n, "fdb dump failed") : n;
}

void vnm_reg_shutdown(void)
{
	vnm_pipe_vhost_shutdown(); /* unbinds pipe ends: before the pipes go */
	while (vports)
		vport_free(vports); /* detaches; destroys each switch with its last port */
	for (int i = 0; i < VNM_SWITCH_MAX; i++) {
		switches[i].nports = 0;
		sw_put(&switches[i]);
	}
	vnm_pipe_shutdown();
	vnm_defer_run(1);
}
