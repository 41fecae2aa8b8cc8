// SPDX-License-Identifier: BSD-2-Clause
/*
 * vale-ctl - manage VALE switches and ports of a running vnetmapd, with netmap's flags.
 *
 *   vale-ctl                       list every port (same as -l)
 *   vale-ctl -l [valeX[:Y]]        list ports (of one switch, or one port)
 *   vale-ctl -n NAME [-C spec]     create a persistent port
 *   vale-ctl -n NAME --vhost-user PATH [--server|--client]
 *                                  a persistent port served as vhost-user at PATH
 *   vale-ctl -n NAME --stream PATH [--server]
 *   vale-ctl -n NAME --dgram PATH --peer PEERPATH
 *                                  a persistent socket port: QEMU -netdev stream/dgram
 *   vale-ctl -r NAME               remove a persistent port
 *   vale-ctl -a valeX:NAME         attach a port to switch valeX (NAME not a persistent
 *                                  port but a Linux interface: attached via af_packet)
 *   vale-ctl -h valeX:TAPNAME      attach the host stack: TAP TAPNAME, created or opened
 *   vale-ctl -d valeX:NAME         detach
 *   vale-ctl -g NAME               port info
 *   vale-ctl --stats [NAME]        per-port counters (drops by reason, ring resets)
 *   vale-ctl --fdb valeX           learned MAC table
 *   vale-ctl --passthrough SPEC [--doorbell]
 *                                  bind a VALE port or pipe end for a guest (ivshmem);
 *                                  prints the QEMU arguments to use
 *   vale-ctl --passthrough-remove NAME   unbind it
 *   vale-ctl --passthrough-list [NAME]   exported ports (also in the plain listing)
 *   vale-ctl capture PORT -w FILE|- [...]  pcap of a monitor of PORT (common/capture.c)
 *   --json                         machine-readable output for -l, --stats, --fdb, -g
 *   --dir DIR                      runtime directory (else $VNETMAP_DIR, else the default)
 *
 * -C "tx_slots,rx_slots,tx_rings,rx_rings" as netmap's vale-ctl: the first value sets
 * both slot counts, the second overrides rx slots; likewise for rings.
 *
 * Security model: the daemon is trusted to answer within the protocol, but replies are
 * still bounded: the payload length is checked against the record size and every
 * string is printed with an explicit bound.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vnetmap.h>

#include "common/capture.h"

static int json;
static const char *dir;

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: vale-ctl [--dir DIR] [--json] [option]\n"
		"\t-l [valeX[:Y]]\tlist all ports, or a switch's, or one port (default)\n"
		"\t-n NAME\t\tcreate a persistent port\n"
		"\t  --vhost-user PATH [--server|--client]\n"
		"\t\t\t... served as vhost-user at PATH (default --client:\n"
		"\t\t\tQEMU listens, vnetmapd connects and reconnects)\n"
		"\t  --stream PATH [--server]\n"
		"\t\t\t... a socket port in QEMU's -netdev stream framing (default:\n"
		"\t\t\tQEMU listens at PATH, vnetmapd connects and reconnects;\n"
		"\t\t\t--server: vnetmapd listens, QEMU connects)\n"
		"\t  --dgram PATH --peer PEERPATH\n"
		"\t\t\t... a socket port in -netdev dgram framing: vnetmapd binds\n"
		"\t\t\tPATH, sends to PEERPATH (QEMU's local.path)\n"
		"\t-r NAME\t\tremove a persistent port\n"
		"\t-a valeX:NAME\tattach a port to a switch (or Linux interface NAME: af_packet)\n"
		"\t-h valeX:TAP\tattach the host stack: TAP device TAP (created if needed)\n"
		"\t-d valeX:NAME\tdetach a port from a switch\n"
		"\t-g NAME\t\tshow port info\n"
		"\t-C spec\t\tring/slot sizes for -n: tx_slots,rx_slots,tx_rings,rx_rings\n"
		"\t--stats [NAME]\tper-port counters (port, switch, or all)\n"
		"\t--fdb valeX\tthe switch's learned MAC table\n"
		"\t--passthrough SPEC [--doorbell]\n"
		"\t\t\tbind valeX:Y or netmap:X{N for a guest (ivshmem), print\n"
		"\t\t\tthe QEMU arguments (--doorbell: ivshmem-doorbell)\n"
		"\t--passthrough-remove NAME\tunbind it\n"
		"\t--passthrough-list [NAME]\texported ports\n"
		"\tcapture PORT -w FILE|- [-c N] [-s LEN] [-G SECS] [--rx|--tx|--both] [-q]\n"
		"\t\t\tpcap of PORT's frames (vale-ctl capture --help)\n"
		"\t--json\t\tmachine-readable output\n"
		"\t--dir DIR\truntime directory (default $VNETMAP_DIR)\n");
	exit(code);
}

/* One request; on error prints netmap's message plus the daemon's, and exits 1. */
static int call(uint16_t type, const char *action, const char *name, uint32_t flags, void *rep,
		uint32_t replen)
{
	struct vnm_ctl_name_req req;
	char msg[512] = "";
	int ret;

	memset(&req, 0, sizeof(req));
	if (strlen(name) >= sizeof(req.name)) {
		fprintf(stderr, "failed to %s %s: %s\n", action, name, strerror(ENAMETOOLONG));
		exit(1);
	}
	strcpy(req.name, name);
	req.flags = flags;
	ret = vnm_ctl_call(dir, type, &req, sizeof(req), rep, replen, msg, sizeof(msg));
	if (ret < 0) {
		/* the name as the user typed it: without the @conf options -C added */
		const char *shown = *name ? name : "ports";
		fprintf(stderr, "failed to %s %.*s: %s\n", action, (int)strcspn(shown, "@"), shown,
			strerror(-ret));
		msg[sizeof(msg) - 1] = '\0';
		if (msg[0])
			fprintf(stderr, "%s\n", msg);
		exit(1);
	}
	return ret;
}

/* Print s as a JSON string (names are identifiers, but escape anyway). */
static void jstr(const char *s, size_t max)
{
	putchar('"');
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

#define NSTR(s) (int)strnlen((s), sizeof(s)), (s)

static void *alloc_reply(void)
{
	void *p = calloc(1, VNM_CTL_MAX_PAYLOAD);
	if (!p) {
		perror("vale-ctl");
		exit(1);
	}
	return p;
}

static int do_pt_list(const char *name, int quiet);

static int do_list(const char *name, int info)
{
	struct vnm_ctl_port_info *pi = alloc_reply();
	int n = call(info ? VNM_CTL_INFO : VNM_CTL_LIST, info ? "get info for" : "list", name, 0,
		     pi, VNM_CTL_MAX_PAYLOAD);
	int cnt = n / (int)sizeof(*pi);

	if (json)
		printf("[");
	for (int i = 0; i < cnt; i++) {
		struct vnm_ctl_port_info *p = &pi[i];
		if (json) {
			printf("%s\n {\"name\": ", i ? "," : "");
			jstr(p->name, sizeof(p->name));
			printf(", \"bridge\": ");
			jstr(p->bridge, sizeof(p->bridge));
			printf(", \"bridge_idx\": %d, \"port_idx\": %d, \"kind\": \"%s\", "
			       "\"persistent\": %s, \"lossless\": %s, \"tx_rings\": %u, \"rx_rings\": %u, "
			       "\"tx_slots\": %u, \"rx_slots\": %u, \"buf_size\": %u, \"num_bufs\": %u, "
			       "\"region_size\": %llu, \"clients\": %u}",
			       p->bridge_idx, p->port_idx, p->kind == VNM_KIND_PIPE    ? "pipe"
			       : p->kind == VNM_KIND_VHOST  ? "vhost"
			       : p->kind == VNM_KIND_NETDEV ? "netdev"
			       : p->kind == VNM_KIND_TAP    ? "tap"
			       : p->kind == VNM_KIND_MONITOR ? "monitor"
			       : p->kind == VNM_KIND_SOCKET ? "socket"
							    : "vale",
			       p->flags & VNM_PI_PERSISTENT ? "true" : "false",
			       p->flags & VNM_PI_LOSSLESS ? "true" : "false", p->num_tx_rings,
			       p->num_rx_rings, p->num_tx_slots, p->num_rx_slots, p->buf_size,
			       p->num_bufs, (unsigned long long)p->region_size, p->clients);
		} else if (info && p->kind == VNM_KIND_VHOST) {
			printf("%.*s: bridge_idx %d port_idx %d, vhost-user, front-end %s, persistent\n",
			       NSTR(p->name), p->bridge_idx, p->port_idx,
			       p->clients ? "connected" : "not connected");
		} else if (info && p->kind == VNM_KIND_SOCKET) {
			printf("%.*s: bridge_idx %d port_idx %d, socket (QEMU stream/dgram framing), "
			       "peer %s, persistent\n",
			       NSTR(p->name), p->bridge_idx, p->port_idx,
			       p->clients ? "connected" : "not connected");
		} else if (info && p->kind == VNM_KIND_NETDEV && p->num_tx_slots) {
			/* netmap:IF opened by a program: its rings, and the interface's backend */
			printf("%.*s: bridge_idx %d port_idx %d, netdev (%s), %u tx ring of %u slots, "
			       "%u rx ring of %u slots, %u client(s)\n", NSTR(p->name), p->bridge_idx,
			       p->port_idx, p->flags & VNM_PI_XDP ? "af_xdp, copy mode" : "af_packet",
			       p->num_tx_rings, p->num_tx_slots, p->num_rx_rings, p->num_rx_slots,
			       p->clients);
		} else if (info && (p->kind == VNM_KIND_NETDEV || p->kind == VNM_KIND_TAP)) {
			printf("%.*s: bridge_idx %d port_idx %d, %s\n", NSTR(p->name), p->bridge_idx,
			       p->port_idx,
			       p->kind == VNM_KIND_TAP ? "tap (host stack), vnet header"
						       : "netdev (af_packet), vnet header");
		} else if (info && p->kind == VNM_KIND_MONITOR) {
			printf("%.*s: monitor of bridge_idx %d port_idx %d, %u rx rings of %u slots, "
			       "region %llu bytes\n",
			       NSTR(p->name), p->bridge_idx, p->port_idx, p->num_rx_rings,
			       p->num_rx_slots, (unsigned long long)p->region_size);
		} else if (info) {
			printf("%.*s: bridge_idx %d port_idx %d, %u tx rings of %u slots, %u rx rings "
			       "of %u slots, %u buffers of %u bytes, region %llu bytes, %u client(s)%s%s\n",
			       NSTR(p->name), p->bridge_idx, p->port_idx, p->num_tx_rings,
			       p->num_tx_slots, p->num_rx_rings, p->num_rx_slots, p->num_bufs,
			       p->buf_size, (unsigned long long)p->region_size, p->clients,
			       p->flags & VNM_PI_PERSISTENT ? ", persistent" : "",
			       p->flags & VNM_PI_LOSSLESS ? ", lossless" : "");
		} else {
			/* netmap's list line: name, then switch and port index */
			printf("%.*s bridge_idx %d port_idx %d\n", NSTR(p->name), p->bridge_idx,
			       p->port_idx);
		}
	}
	if (json)
		printf("%s]\n", cnt ? "\n" : "");
	free(pi);
	if (!info && !json && !*name)
		do_pt_list("", 1);
	return 0;
}

static void pt_qemu_args(const struct vnm_ctl_pt_info *p)
{
	if (p->flags & VNM_PT_DOORBELL)
		printf("-chardev socket,id=vnmpt,path=%.*s -device ivshmem-doorbell,chardev=vnmpt,"
		       "vectors=%u\n",
		       NSTR(p->sock_path), p->vectors);
	else
		printf("-object memory-backend-file,id=vnmpt,share=on,mem-path=%.*s,size=%llu "
		       "-device ivshmem-plain,memdev=vnmpt\n",
		       NSTR(p->mem_path), (unsigned long long)p->region_size);
}

/* Exported ports: one line each (or JSON); name "" lists all. quiet: no error if none. */
static int do_pt_list(const char *name, int quiet)
{
	struct vnm_ctl_pt_info *pt = alloc_reply();
	char msg[512] = "";
	struct vnm_ctl_name_req req;
	int n, cnt;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	n = vnm_ctl_call(dir, VNM_CTL_PT_LIST, &req, sizeof(req), pt, VNM_CTL_MAX_PAYLOAD, msg,
			 sizeof(msg));
	if (n < 0) {
		free(pt);
		if (quiet)
			return 0; /* an older daemon */
		msg[sizeof(msg) - 1] = '\0';
		fprintf(stderr, "failed to list passthrough ports: %s\n%s\n", strerror(-n), msg);
		return 1;
	}
	cnt = n / (int)sizeof(*pt);
	if (json && !quiet)
		printf("[");
	for (int i = 0; i < cnt; i++) {
		struct vnm_ctl_pt_info *p = &pt[i];
		if (json && !quiet) {
			printf("%s\n {\"name\": ", i ? "," : "");
			jstr(p->name, sizeof(p->name));
			printf(", \"mode\": \"%s\", \"kind\": \"%s\", \"mem_path\": ",
			       p->flags & VNM_PT_DOORBELL ? "doorbell" : "plain",
			       p->kind == VNM_KIND_PIPE ? "pipe" : "vale");
			jstr(p->mem_path, sizeof(p->mem_path));
			printf(", \"socket\": ");
			jstr(p->sock_path, sizeof(p->sock_path));
			printf(", \"region_size\": %llu, \"end\": %u, \"guest_connected\": %s}",
			       (unsigned long long)p->region_size, p->end,
			       p->guest_connected ? "true" : "false");
		} else if (!json) {
			printf("%.*s passthrough %s, region %llu bytes, end %u%s\n  qemu: ", NSTR(p->name),
			       p->flags & VNM_PT_DOORBELL ? "doorbell" : "plain",
			       (unsigned long long)p->region_size, p->end,
			       (p->flags & VNM_PT_DOORBELL)
				       ? (p->guest_connected ? ", QEMU connected" : ", no QEMU")
				       : "");
			pt_qemu_args(p);
		}
	}
	if (json && !quiet)
		printf("%s]\n", cnt ? "\n" : "");
	free(pt);
	return 0;
}

static int do_passthrough(const char *spec, uint32_t flags)
{
	struct vnm_ctl_pt_req req;
	struct vnm_ctl_pt_info info;
	char msg[512] = "";
	int ret;

	memset(&req, 0, sizeof(req));
	if (strlen(spec) >= sizeof(req.spec)) {
		fprintf(stderr, "failed to export %s: %s\n", spec, strerror(ENAMETOOLONG));
		return 1;
	}
	strcpy(req.spec, spec);
	req.flags = flags;
	memset(&info, 0, sizeof(info));
	ret = vnm_ctl_call(dir, VNM_CTL_PASSTHROUGH, &req, sizeof(req), &info, sizeof(info), msg,
			   sizeof(msg));
	if (ret < 0) {
		msg[sizeof(msg) - 1] = '\0';
		fprintf(stderr, "failed to export %s: %s\n%s%s", spec, strerror(-ret), msg,
			msg[0] ? "\n" : "");
		return 1;
	}
	if (ret < (int)sizeof(info)) {
		fprintf(stderr, "failed to export %s: short reply\n", spec);
		return 1;
	}
	/* the QEMU arguments, alone on the first line (scripts take it as is) */
	pt_qemu_args(&info);
	return 0;
}

static int do_stats(const char *name)
{
	struct vnm_ctl_port_stats *st = alloc_reply();
	int n = call(VNM_CTL_STATS, "get stats for", name, 0, st, VNM_CTL_MAX_PAYLOAD);
	int cnt = n / (int)sizeof(*st);

	if (json)
		printf("[");
	else
		printf("%-20s %12s %14s %12s %14s %10s %8s %8s %8s %8s %7s %7s %8s %10s\n", "port",
		       "rx_pkts", "rx_bytes", "tx_pkts", "tx_bytes", "drop_full", "runt", "oversize",
		       "self", "bad_slot", "resets", "moves", "gso_drop", "gso_segs");
	for (int i = 0; i < cnt; i++) {
		struct vnm_ctl_port_stats *s = &st[i];
		if (json) {
			printf("%s\n {\"name\": ", i ? "," : "");
			jstr(s->name, sizeof(s->name));
			printf(", \"rx_packets\": %llu, \"rx_bytes\": %llu, \"tx_packets\": %llu, "
			       "\"tx_bytes\": %llu, \"drop_full\": %llu, \"drop_runt\": %llu, "
			       "\"drop_oversize\": %llu, \"drop_self\": %llu, \"drop_bad_slot\": %llu, "
			       "\"ring_resets\": %llu, \"fdb_moves\": %llu, \"drop_gso\": %llu, "
			       "\"gso_segs\": %llu}",
			       (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes,
			       (unsigned long long)s->tx_packets, (unsigned long long)s->tx_bytes,
			       (unsigned long long)s->drop_full, (unsigned long long)s->drop_runt,
			       (unsigned long long)s->drop_oversize, (unsigned long long)s->drop_self,
			       (unsigned long long)s->drop_bad_slot, (unsigned long long)s->ring_resets,
			       (unsigned long long)s->fdb_moves, (unsigned long long)s->drop_gso,
			       (unsigned long long)s->gso_segs);
		} else {
			printf("%-20.*s %12llu %14llu %12llu %14llu %10llu %8llu %8llu %8llu %8llu "
			       "%7llu %7llu %8llu %10llu\n",
			       NSTR(s->name), (unsigned long long)s->rx_packets,
			       (unsigned long long)s->rx_bytes, (unsigned long long)s->tx_packets,
			       (unsigned long long)s->tx_bytes, (unsigned long long)s->drop_full,
			       (unsigned long long)s->drop_runt, (unsigned long long)s->drop_oversize,
			       (unsigned long long)s->drop_self, (unsigned long long)s->drop_bad_slot,
			       (unsigned long long)s->ring_resets, (unsigned long long)s->fdb_moves,
			       (unsigned long long)s->drop_gso, (unsigned long long)s->gso_segs);
		}
	}
	if (json)
		printf("%s]\n", cnt ? "\n" : "");
	free(st);
	return 0;
}

static int do_fdb(const char *name)
{
	struct vnm_ctl_fdb_entry *fe = alloc_reply();
	int n = call(VNM_CTL_FDB, "get fdb of", name, 0, fe, VNM_CTL_MAX_PAYLOAD);
	int cnt = n / (int)sizeof(*fe);

	if (json)
		printf("[");
	else
		printf("%-17s %8s %-20s %10s\n", "mac", "port_idx", "port", "age_ms");
	for (int i = 0; i < cnt; i++) {
		struct vnm_ctl_fdb_entry *e = &fe[i];
		char mac[18];
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0], e->mac[1],
			 e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
		if (json) {
			printf("%s\n {\"mac\": \"%s\", \"port_idx\": %d, \"port\": ", i ? "," : "", mac,
			       e->port_idx);
			jstr(e->port, sizeof(e->port));
			printf(", \"age_ms\": %llu}", (unsigned long long)e->age_ms);
		} else {
			printf("%-17s %8d %-20.*s %10llu\n", mac, e->port_idx, NSTR(e->port),
			       (unsigned long long)e->age_ms);
		}
	}
	if (json)
		printf("%s]\n", cnt ? "\n" : "");
	free(fe);
	return 0;
}

/* netmap's -C: "tx_slots,rx_slots,tx_rings,rx_rings" -> "@conf:..." options. */
static void conf_suffix(const char *conf, char *out, size_t outlen)
{
	unsigned v[4] = { 0, 0, 0, 0 };
	int n = 0;
	const char *p = conf;
	char *end;

	while (*p && n < 4) {
		unsigned long x = strtoul(p, &end, 10);
		if (end == p || (*end && *end != ',') || x > 1000000) {
			fprintf(stderr, "vale-ctl: bad -C spec '%s' (tx_slots,rx_slots,tx_rings,rx_rings)\n",
				conf);
			exit(1);
		}
		v[n++] = (unsigned)x;
		p = *end ? end + 1 : end;
	}
	if (*p) {
		fprintf(stderr, "vale-ctl: bad -C spec '%s': at most 4 values\n", conf);
		exit(1);
	}
	if (n == 0) {
		out[0] = '\0';
		return;
	}
	unsigned txs = v[0], rxs = n > 1 && v[1] ? v[1] : v[0];
	int len = snprintf(out, outlen, "@conf:tx-slots=%u,rx-slots=%u", txs, rxs);
	if (n > 2) {
		unsigned txr = v[2], rxr = n > 3 && v[3] ? v[3] : v[2];
		snprintf(out + len, outlen - (size_t)len, ",tx-rings=%u,rx-rings=%u", txr, rxr);
	}
}

enum { OPT_JSON = 256, OPT_STATS, OPT_FDB, OPT_DIR, OPT_HELP, OPT_VHOST, OPT_SERVER, OPT_CLIENT,
       OPT_PT, OPT_PT_RM, OPT_PT_LIST, OPT_DOORBELL, OPT_STREAM, OPT_DGRAM, OPT_PEER };

/* A socket path for the daemon, whose working directory is not ours: made absolute. */
static int abs_path(const char *in, char *out, size_t outlen)
{
	char cwd[PATH_MAX];

	if (in[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return (size_t)snprintf(out, outlen, "%s", in) >= outlen ? -1 : 0;
	return (size_t)snprintf(out, outlen, "%s/%s", cwd, in) >= outlen ? -1 : 0;
}

static int do_socket(const char *name, const char *path, const char *peer, uint32_t flags)
{
	struct vnm_ctl_socket_req sr;
	char msg[512] = "";

	memset(&sr, 0, sizeof(sr));
	if (strlen(name) >= sizeof(sr.name)) {
		fprintf(stderr, "failed to create %s: %s\n", name, strerror(ENAMETOOLONG));
		return 1;
	}
	strcpy(sr.name, name);
	if (abs_path(path, sr.path, sizeof(sr.path)) < 0 ||
	    (peer && abs_path(peer, sr.peer_path, sizeof(sr.peer_path)) < 0)) {
		fprintf(stderr, "failed to create %s: %s\nsocket paths have at most %zu characters\n",
			name, strerror(ENAMETOOLONG), sizeof(sr.path) - 1);
		return 1;
	}
	sr.flags = flags;
	int ret = vnm_ctl_call(dir, VNM_CTL_SOCKET, &sr, sizeof(sr), NULL, 0, msg, sizeof(msg));
	if (ret < 0) {
		fprintf(stderr, "failed to create %s: %s\n", name, strerror(-ret));
		msg[sizeof(msg) - 1] = '\0';
		if (msg[0])
			fprintf(stderr, "%s\n", msg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "stats", optional_argument, NULL, OPT_STATS },
		{ "fdb", required_argument, NULL, OPT_FDB },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "vhost-user", required_argument, NULL, OPT_VHOST },
		{ "server", no_argument, NULL, OPT_SERVER },
		{ "client", no_argument, NULL, OPT_CLIENT },
		{ "passthrough", required_argument, NULL, OPT_PT },
		{ "passthrough-remove", required_argument, NULL, OPT_PT_RM },
		{ "passthrough-list", optional_argument, NULL, OPT_PT_LIST },
		{ "doorbell", no_argument, NULL, OPT_DOORBELL },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "dgram", required_argument, NULL, OPT_DGRAM },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ NULL, 0, NULL, 0 },
	};
	int ch, cmd = 'l';
	const char *name = "", *conf = NULL, *vhost = NULL, *sock = NULL, *peer = NULL;
	uint32_t sflags = 0;
	uint32_t vflags = 0, ptflags = 0;

	if (cap_is_command(argc, argv))
		return cap_main(argc, argv);
	while ((ch = getopt_long(argc, argv, "d:a:h:g:l::n:r:C:p:P:m:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
		case 'a':
		case 'h':
		case 'g':
		case 'n':
		case 'r':
			cmd = ch;
			name = optarg;
			break;
		case 'l':
			cmd = 'l';
			/* netmap's -l takes an optional name: accept "-l NAME" as well as "-lNAME" */
			if (optarg)
				name = optarg;
			else if (optind < argc && argv[optind][0] != '-')
				name = argv[optind++];
			break;
		case OPT_STATS:
			cmd = 's';
			if (optarg)
				name = optarg;
			else if (optind < argc && argv[optind][0] != '-')
				name = argv[optind++];
			break;
		case OPT_FDB:
			cmd = 'f';
			name = optarg;
			break;
		case 'C':
			conf = optarg;
			break;
		case 'p':
		case 'P':
			fprintf(stderr, "failed to %s polling on %s: %s\n", ch == 'p' ? "start" : "stop",
				optarg, strerror(EOPNOTSUPP));
			fprintf(stderr, "vnetmapd always polls with its own threads\n");
			return 1;
		case 'm':
			break; /* memory region id: accepted, ignored (one region per port) */
		case OPT_JSON:
			json = 1;
			break;
		case OPT_DIR:
			dir = optarg;
			break;
		case OPT_HELP:
			usage(0);
			break;
		case OPT_VHOST:
			vhost = optarg;
			break;
		case OPT_SERVER:
			vflags |= VNM_VHOST_SERVER;
			break;
		case OPT_CLIENT:
			vflags &= ~(uint32_t)VNM_VHOST_SERVER;
			break;
		case OPT_PT:
		case OPT_PT_RM:
			cmd = ch;
			name = optarg;
			break;
		case OPT_PT_LIST:
			cmd = ch;
			if (optarg)
				name = optarg;
			else if (optind < argc && argv[optind][0] != '-')
				name = argv[optind++];
			break;
		case OPT_DOORBELL:
			ptflags |= VNM_PT_DOORBELL;
			break;
		case OPT_STREAM:
		case OPT_DGRAM:
			if (sock)
				usage(2);
			sock = optarg;
			sflags = ch == OPT_STREAM ? VNM_SOCK_STREAM : VNM_SOCK_DGRAM;
			break;
		case OPT_PEER:
			peer = optarg;
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc || ((vhost || vflags) && cmd != 'n') || (vhost && conf) ||
	    (ptflags && cmd != OPT_PT) || ((sock || peer) && cmd != 'n') || (sock && (vhost || conf)) ||
	    (peer && sflags != VNM_SOCK_DGRAM))
		usage(2);
	if (sock) {
		if (sflags == VNM_SOCK_DGRAM && !peer) {
			fprintf(stderr, "vale-ctl: --dgram PATH needs --peer PEERPATH\n");
			return 2;
		}
		if (vflags & VNM_VHOST_SERVER)
			sflags |= VNM_SOCK_SERVER; /* the daemon refuses it for dgram */
		return do_socket(name, sock, peer, sflags);
	}
	if (vhost) {
		struct vnm_ctl_vhost_req vr;
		char msg[512] = "";

		memset(&vr, 0, sizeof(vr));
		if (strlen(name) >= sizeof(vr.name) || strlen(vhost) >= sizeof(vr.path)) {
			fprintf(stderr, "failed to create %s: %s\n", name, strerror(ENAMETOOLONG));
			return 1;
		}
		strcpy(vr.name, name);
		strcpy(vr.path, vhost);
		vr.flags = vflags;
		int ret = vnm_ctl_call(dir, VNM_CTL_VHOST, &vr, sizeof(vr), NULL, 0, msg, sizeof(msg));
		if (ret < 0) {
			fprintf(stderr, "failed to create %s: %s\n", name, strerror(-ret));
			msg[sizeof(msg) - 1] = '\0';
			if (msg[0])
				fprintf(stderr, "%s\n", msg);
			return 1;
		}
		return 0;
	}

	switch (cmd) {
	case 'l':
		return do_list(name, 0);
	case 'g':
		return do_list(name, 1);
	case 's':
		return do_stats(name);
	case 'f':
		return do_fdb(name);
	case 'n': {
		char spec[VNM_PORTSPEC_MAX], suffix[128] = "";
		if (conf)
			conf_suffix(conf, suffix, sizeof(suffix));
		if ((size_t)snprintf(spec, sizeof(spec), "%s%s", name, suffix) >= sizeof(spec)) {
			fprintf(stderr, "failed to create %s: %s\n", name, strerror(ENAMETOOLONG));
			return 1;
		}
		call(VNM_CTL_CREATE, "create", spec, 0, NULL, 0);
		return 0;
	}
	case 'r':
		call(VNM_CTL_REMOVE, "remove", name, 0, NULL, 0);
		return 0;
	case 'a':
		call(VNM_CTL_ATTACH, "attach", name, 0, NULL, 0);
		return 0;
	case 'h':
		call(VNM_CTL_ATTACH, "attach", name, VNM_CTL_F_HOST, NULL, 0);
		return 0;
	case 'd':
		call(VNM_CTL_DETACH, "detach", name, 0, NULL, 0);
		return 0;
	case OPT_PT:
		return do_passthrough(name, ptflags);
	case OPT_PT_RM:
		call(VNM_CTL_PT_REMOVE, "remove passthrough", name, 0, NULL, 0);
		return 0;
	case OPT_PT_LIST:
		return do_pt_list(name, 0);
	}
	return 0;
}
