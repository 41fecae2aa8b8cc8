// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: header mismatch through a real vnetmapd (issue 5 item 4). A sender on VALE
 * port vale0:tx sets its virtio-net header length to 12 (VNM_CTL_HDR_SET through
 * vnm_port_hdr_set) and sends offloaded frames: TSO over IPv4 and IPv6, UFO over IPv4
 * and IPv6, partial checksums (TCP, UDP), a plain frame with a zero header, and one
 * bad header. A receiver on vale0:rx (header length 0) must get exactly the segments
 * vnm_gso_segment makes, in order, each with good checksums (checked here with an
 * independent routine), whose payloads re-assemble to what was sent; then, with the
 * receiver's header length also 12, the TSO frame arrives whole behind its header.
 * Counters: gso_segs on the receiver, drop_bad_slot (the bad header) on the sender.
 * Phase 3 (root, /dev/net/tun): the destination is a TAP without offloads attached as
 * an af_packet port (vale-ctl -a): the GSO frames leave vnetmapd whole with their
 * header and the KERNEL segments them for the TAP; the segments read from the TAP's fd
 * get the same checks (this once lost every GSO frame: PACKET_QDISC_BYPASS).
 *
 * test_gso_hdr [--pcap FILE]: FILE gets the received frames of the first phase
 * (pcap, Ethernet), and FILE.expect the payloads as hex per stream, for
 * tests/integration/gso_tshark.sh to check with tshark.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vnetmap.h>

#include "find_daemon.h"

static int fails;
#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                                          \
		}                                                                         \
	} while (0)

static char dir[64];
static pid_t daemon_pid = -1;

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int start_daemon(void)
{
	char path[PATH_MAX], sock[128], logf[128];

	if (find_daemon(path, sizeof(path)) < 0) {
		printf("SKIP: vnetmapd not built\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/vnm-gso.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/vnetmapd.sock", dir);
	snprintf(logf, sizeof(logf), "%s/vnetmapd.log", dir);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(path, "vnetmapd", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	setenv("VNETMAP_DIR", dir, 1);
	for (int i = 0; i < 200; i++) {
		struct stat st;
		int status;
		/* the socket file appears at bind(): wait until a request is answered */
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
			struct vnm_ctl_name_req q;
			char msg[64];
			memset(&q, 0, sizeof(q));
			if (vnm_ctl_call(dir, VNM_CTL_LIST, &q, sizeof(q), NULL, 0, msg, sizeof(msg)) >= 0)
				return 0;
		}
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			return 1;
		}
		msleep(25);
	}
	fprintf(stderr, "vnetmapd socket did not appear\n");
	return 1;
}

static void stop_daemon(void)
{
	char cmd[128];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
}

/* ---- frames ---- */

struct vhdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

static void p16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void p32(uint8_t *p, uint32_t v)
{
	p16(p, v >> 16);
	p16(p + 2, v & 0xffff);
}

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)g16(p) << 16 | g16(p + 2);
}

/* independent checksum: byte by byte, by parity */
static uint32_t sum8(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t pseudo(const uint8_t *ip, int v6, uint8_t proto, uint32_t len)
{
	uint32_t s = v6 ? sum8(0, ip + 8, 32) : sum8(0, ip + 12, 8);
	return s + proto + (len >> 16) + (len & 0xffff);
}

enum { C_TCP4, C_TCP6, C_UDP4, C_UDP6, C_CSUM_TCP, C_CSUM_UDP, C_PLAIN, NCASES };
static const char *case_name[NCASES] = { "tcp4", "tcp6", "udp4", "udp6", "csum_tcp", "csum_udp",
					 "plain" };
static const uint32_t case_pay[NCASES] = { 20000, 10000, 5000, 3000, 500, 301, 100 };
static const uint16_t case_mss[NCASES] = { 1448, 1428, 1480, 1448, 0, 0, 0 };
static const unsigned case_segs[NCASES] = { 14, 8, 4, 3, 1, 1, 1 };
#define PORT0 41000 /* source port of case c: PORT0 + c */

static uint8_t payload[NCASES][20000];

/* Build case c into buf: the 12-byte header, then the frame. Returns the total. */
static uint32_t build(int c, uint8_t *buf)
{
	struct vhdr h = { 0 };
	uint8_t *f = buf + 12;
	int v6 = c == C_TCP6 || c == C_UDP6;
	int tcp = c == C_TCP4 || c == C_TCP6 || c == C_CSUM_TCP;
	uint32_t l3 = 14, iphl = v6 ? 40 : 20, l4 = l3 + iphl, thl = tcp ? 32 : 8;
	uint32_t pay = case_pay[c], len = l4 + thl + pay;

	for (uint32_t i = 0; i < pay; i++)
		payload[c][i] = (uint8_t)(i * 13 + c * 31 + (i >> 9));
	memset(f, 0, l4 + thl);
	memcpy(f, "\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a", 12);
	p16(f + 12, v6 ? 0x86dd : 0x0800);
	uint8_t *ip = f + l3;
	if (v6) {
		ip[0] = 0x60;
		p16(ip + 4, thl + pay);
		ip[6] = tcp ? 6 : 17;
		ip[7] = 64;
		ip[8] = 0xfd;
		ip[23] = 1;
		ip[24] = 0xfd;
		ip[39] = 2;
	} else {
		ip[0] = 0x45;
		p16(ip + 2, iphl + thl + pay);
		p16(ip + 4, 0x100 * (c + 1));
		p16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = tcp ? 6 : 17;
		memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		p16(ip + 10, (uint16_t)~fold(sum8(0, ip, 20)));
	}
	uint8_t *l4p = f + l4;
	p16(l4p, PORT0 + c);
	p16(l4p + 2, PORT0 + 100 + c);
	if (tcp) {
		p32(l4p + 4, 1000000u * (c + 1));
		p32(l4p + 8, 1);
		l4p[12] = (uint8_t)((thl / 4) << 4);
		l4p[13] = 0x18; /* PSH ACK */
		p16(l4p + 14, 65535);
		l4p[20] = 1;
		l4p[21] = 1;
		l4p[22] = 8;
		l4p[23] = 10;
		p32(l4p + 24, 12345);
		p32(l4p + 28, 678);
	} else {
		p16(l4p + 4, thl + pay);
	}
	memcpy(f + l4 + thl, payload[c], pay);
	if (c != C_PLAIN) {
		/* Linux's convention: the field holds the folded pseudo-header sum */
		p16(l4p + (tcp ? 16 : 6), fold(pseudo(ip, v6, tcp ? 6 : 17, thl + pay)));
		h.flags = 1; /* NEEDS_CSUM */
		h.csum_start = (uint16_t)l4;
		h.csum_offset = tcp ? 16 : 6;
		h.hdr_len = (uint16_t)(l4 + thl);
		h.gso_size = case_mss[c];
		h.gso_type = c == C_TCP4 ? 1 : c == C_TCP6 ? 4 : (c == C_UDP4 || c == C_UDP6) ? 3 : 0;
	} else {
		/* a plain frame: its UDP checksum complete already */
		p16(l4p + 6, (uint16_t)~fold(sum8(pseudo(ip, 0, 17, thl + pay), l4p, thl + pay)));
	}
	memcpy(buf, &h, 12);
	return 12 + len;
}

/* Send one frame (len bytes, multi-slot as needed); waits for room. */
static int send_frame(struct vnm_port *d, const uint8_t *buf, uint32_t len)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	uint32_t bs = r->nr_buf_size, need = (len + bs - 1) / bs;

	for (int tries = 0; nm_ring_space(r) < need; tries++) {
		if (tries > 100)
			return -ETIMEDOUT;
		vnm_poll(d, POLLOUT, 100);
	}
	for (uint32_t k = 0, off = 0; k < need; k++) {
		struct netmap_slot *s = &r->slot[r->cur];
		uint32_t l = len - off < bs ? len - off : bs;
		memcpy(NETMAP_BUF(r, s->buf_idx), buf + off, l);
		s->len = (uint16_t)l;
		s->flags = k + 1 < need ? NS_MOREFRAG : 0;
		off += l;
		r->head = r->cur = nm_ring_next(r, r->cur);
	}
	return vnm_txsync(d);
}

/* Receive one frame into out (max bytes): its length, or -1 after timeout_ms. */
static int recv_frame(struct vnm_port *d, uint8_t *out, uint32_t max, int timeout_ms)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);

	for (int waited = 0; nm_ring_empty(r); waited += 50) {
		if (waited >= timeout_ms)
			return -1;
		vnm_poll(d, POLLIN, 50);
	}
	uint32_t len = 0, i = r->cur;
	for (;;) {
		if (i == r->tail)
			return -1; /* a chain cut short: cannot happen */
		struct netmap_slot *s = &r->slot[i];
		if (len + s->len <= max)
			memcpy(out + len, NETMAP_BUF(r, s->buf_idx), s->len);
		len += s->len;
		i = nm_ring_next(r, i);
		if (!(s->flags & NS_MOREFRAG))
			break;
	}
	r->head = r->cur = i;
	vnm_rxsync(d);
	return (int)len;
}

/* ---- pcap ---- */
static FILE *pcap;

static void pcap_open(const char *path)
{
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} gh = { 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1 };
	pcap = fopen(path, "wb");
	if (pcap)
		fwrite(&gh, sizeof(gh), 1, pcap);
}

static void pcap_write(const uint8_t *p, uint32_t len)
{
	struct timeval tv;
	uint32_t rh[4];

	if (!pcap)
		return;
	gettimeofday(&tv, NULL);
	rh[0] = (uint32_t)tv.tv_sec;
	rh[1] = (uint32_t)tv.tv_usec;
	rh[2] = len;
	rh[3] = len;
	fwrite(rh, sizeof(rh), 1, pcap);
	fwrite(p, len, 1, pcap);
}

/* ---- checks on what arrived ---- */
static uint8_t got[NCASES][20008]; /* TCP payload / UDP datagram re-assembled */
static uint32_t got_bytes[NCASES];
static unsigned got_segs[NCASES];

static void check_frame(const uint8_t *f, uint32_t len)
{
	uint16_t et = g16(f + 12);
	int v6 = et == 0x86dd;
	CHECK(len >= 14 && (et == 0x0800 || v6));
	const uint8_t *ip = f + 14;
	uint32_t iphl, l4len;
	uint8_t proto;
	uint32_t off = 0;
	int frag = 0;
	if (v6) {
		iphl = 40;
		proto = ip[6];
		l4len = g16(ip + 4);
		CHECK(14 + 40 + l4len == len);
		if (proto == 44) {
			const uint8_t *fr = ip + 40;
			proto = fr[0];
			off = g16(fr + 2) & ~7u;
			frag = 1;
			iphl += 8;
			l4len -= 8;
		}
	} else {
		iphl = (ip[0] & 15) * 4u;
		proto = ip[9];
		l4len = g16(ip + 2) - iphl;
		CHECK(14 + iphl + l4len == len);
		CHECK(fold(sum8(0, ip, iphl)) == 0xffff);
		off = (g16(ip + 6) & 0x1fff) * 8u;
		frag = (g16(ip + 6) & 0x3fff) != 0;
	}
	const uint8_t *l4 = ip + iphl;
	if (proto == 6) {
		int c = g16(l4) - PORT0;
		CHECK(c == C_TCP4 || c == C_TCP6 || c == C_CSUM_TCP);
		if (c < 0 || c >= NCASES)
			return;
		uint32_t thl = (l4[12] >> 4) * 4u, dl = l4len - thl;
		uint32_t rel = g32(l4 + 4) - 1000000u * (c + 1);
		CHECK(fold(sum8(pseudo(ip, v6, 6, l4len), l4, l4len)) == 0xffff);
		CHECK(rel + dl <= case_pay[c]);
		if (rel + dl <= case_pay[c])
			memcpy(got[c] + rel, l4 + thl, dl);
		got_bytes[c] += dl;
		got_segs[c]++;
		return;
	}
	CHECK(proto == 17);
	/* UDP: the first fragment names the case; later ones follow it in order */
	static int cur_udp = -1;
	if (off == 0)
		cur_udp = g16(l4) - PORT0;
	int c = cur_udp;
	CHECK(c == C_UDP4 || c == C_UDP6 || c == C_CSUM_UDP || c == C_PLAIN);
	if (c < 0 || c >= NCASES)
		return;
	CHECK(off + l4len <= 8 + case_pay[c]);
	if (off + l4len <= 8 + case_pay[c])
		memcpy(got[c] + off, l4, l4len);
	got_bytes[c] += l4len;
	got_segs[c]++;
	if (!frag || !(v6 ? (g16(ip + 42) & 1) : (g16(ip + 6) & 0x2000))) {
		/* the datagram is complete: its checksum over the pseudo-header */
		uint32_t dg = off + l4len;
		CHECK(dg == 8 + case_pay[c]);
		CHECK(fold(sum8(pseudo(ip, v6, 17, dg), got[c], dg)) == 0xffff);
	}
}

static uint64_t port_stat(const char *name, size_t field)
{
	struct vnm_ctl_name_req q;
	struct vnm_ctl_port_stats st[8];
	char msg[256];

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	int n = vnm_ctl_call(NULL, VNM_CTL_STATS, &q, sizeof(q), st, sizeof(st), msg, sizeof(msg));
	for (int i = 0; n > 0 && i < n / (int)sizeof(st[0]); i++)
		if (strcmp(st[i].name, name) == 0)
			return *(const uint64_t *)((const char *)&st[i] + field);
	return UINT64_MAX;
}

/* A TAP with no offloads (no IFF_VNET_HDR), up; its fd (non-blocking), or -1. */
static int tap_open(char *name, size_t len)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vgso%d", (int)getpid() % 100000);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	snprintf(name, len, "%s", ifr.ifr_name);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 2>/dev/null", name);
	if (system(cmd) != 0) {
		/* router solicitations may show up: frames that are not ours are skipped */
	}
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return fd;
}

/* One of our test frames (TCP/UDP from a PORT0 port, or a later IP fragment)? */
static int ours(const uint8_t *f, int len)
{
	if (len < 14 + 40 + 8)
		return 0;
	uint16_t et = g16(f + 12);
	const uint8_t *ip = f + 14;
	if (et == 0x0800)
		return ip[9] == 6 || ip[9] == 17;
	return et == 0x86dd && (ip[6] == 6 || ip[6] == 17 || ip[6] == 44);
}

static void phase_tap(const uint8_t (*buf)[70000], const uint32_t *blen, struct vnm_port *tx)
{
	static const int cases[] = { C_TCP4, C_TCP6, C_CSUM_TCP, C_CSUM_UDP };
	static uint8_t in[70000];
	char tap[IFNAMSIZ], msg[256];
	int fd;

	if (geteuid() != 0 || (fd = tap_open(tap, sizeof(tap))) < 0) {
		printf("gso_hdr: phase 3 (TAP) skipped: needs root and /dev/net/tun\n");
		return;
	}
	struct vnm_ctl_name_req q;
	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "vale0:%s", tap);
	int r = vnm_ctl_call(NULL, VNM_CTL_ATTACH, &q, sizeof(q), NULL, 0, msg, sizeof(msg));
	CHECK(r >= 0);
	if (r < 0) {
		fprintf(stderr, "attach %s: %s\n", q.name, msg);
		close(fd);
		return;
	}
	memset(got, 0, sizeof(got));
	memset(got_bytes, 0, sizeof(got_bytes));
	memset(got_segs, 0, sizeof(got_segs));
	CHECK(vnm_port_hdr_set("vale0:tx", 12) == 0);
	unsigned want = 0, n = 0;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(send_frame(tx, buf[cases[i]], blen[cases[i]]) == 0);
		want += case_segs[cases[i]];
	}
	for (int idle = 0; n < want && idle < 100;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0) {
			idle++;
			continue;
		}
		ssize_t len = read(fd, in, sizeof(in));
		if (len <= 0 || !ours(in, (int)len))
			continue;
		n++;
		check_frame(in, (uint32_t)len);
	}
	CHECK(n == want);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int c = cases[i], tcp = c != C_CSUM_UDP;
		const uint8_t *p = tcp ? got[c] : got[c] + 8;
		if (got_segs[c] != case_segs[c] || memcmp(p, payload[c], case_pay[c]) != 0) {
			fprintf(stderr, "TAP: case %s: %u segments (want %u), %u bytes, payload %s\n",
				case_name[c], got_segs[c], case_segs[c], got_bytes[c],
				memcmp(p, payload[c], case_pay[c]) ? "differs" : "same");
			fails++;
		}
	}
	vnm_ctl_call(NULL, VNM_CTL_DETACH, &q, sizeof(q), NULL, 0, msg, sizeof(msg));
	close(fd);
	printf("gso_hdr: TAP %s without offloads (kernel segmentation): %u segments\n", tap, n);
}

static void open_err(void *arg, int err, const char *msg)
{
	fprintf(stderr, "open: %s (%d)\n", msg, err);
}

int main(int argc, char **argv)
{
	const char *pcap_path = NULL;
	static uint8_t buf[NCASES][70000], in[70000];
	uint32_t blen[NCASES];
	struct vnm_port *tx = NULL, *rx = NULL;
	unsigned n = 0;

	if (argc == 3 && strcmp(argv[1], "--pcap") == 0)
		pcap_path = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: test_gso_hdr [--pcap FILE]\n");
		return 2;
	}
	int ret = start_daemon();
	if (ret) {
		stop_daemon();
		return ret;
	}
	struct vnm_open_opts o = { .error = open_err };
	CHECK(vnm_port_open("vale0:rx", &o, &rx) == 0);
	CHECK(vnm_port_open("vale0:tx", &o, &tx) == 0);
	if (!rx || !tx)
		goto out;
	/* the control messages */
	CHECK(vnm_port_hdr_get("vale0:tx") == 0);
	CHECK(vnm_port_hdr_set("vale0:tx", 11) == -EINVAL);
	CHECK(vnm_port_hdr_set("vale0:nope", 12) == -ENXIO);
	CHECK(vnm_port_hdr_set("vale0:tx", 12) == 0);
	CHECK(vnm_port_hdr_get("vale0:tx") == 12);
	CHECK(vnm_port_hdr_get("vale0:rx") == 0);

	if (pcap_path)
		pcap_open(pcap_path);
	unsigned want = 0;
	for (int c = 0; c < NCASES; c++) {
		blen[c] = build(c, buf[c]);
		want += case_segs[c];
	}
	/* a bad header (unknown flag) first: dropped, counted on the sender */
	memcpy(in, buf[C_PLAIN], blen[C_PLAIN]);
	in[0] = 0x40;
	CHECK(send_frame(tx, in, blen[C_PLAIN]) == 0);
	for (int c = 0; c < NCASES; c++)
		CHECK(send_frame(tx, buf[c], blen[c]) == 0);
	int len;
	while (n < want + 1 && (len = recv_frame(rx, in, sizeof(in), n < want ? 5000 : 300)) >= 0) {
		n++;
		pcap_write(in, (uint32_t)len);
		check_frame(in, (uint32_t)len);
	}
	if (pcap)
		fclose(pcap);
	CHECK(n == want);
	for (int c = 0; c < NCASES; c++) {
		int tcp = c == C_TCP4 || c == C_TCP6 || c == C_CSUM_TCP;
		const uint8_t *p = tcp ? got[c] : got[c] + 8;
		if (got_segs[c] != case_segs[c] || memcmp(p, payload[c], case_pay[c]) != 0) {
			fprintf(stderr, "case %s: %u segments (want %u), %u bytes, payload %s\n",
				case_name[c], got_segs[c], case_segs[c], got_bytes[c],
				memcmp(p, payload[c], case_pay[c]) ? "differs" : "same");
			fails++;
		}
	}
	if (pcap_path) {
		/* the payload of each stream as hex, for the tshark check */
		char ep[PATH_MAX];
		snprintf(ep, sizeof(ep), "%s.expect", pcap_path);
		FILE *e = fopen(ep, "w");
		CHECK(e != NULL);
		for (int c = 0; e && c < NCASES; c++) {
			fprintf(e, "%s %u %u ", case_name[c], PORT0 + c, case_segs[c]);
			for (uint32_t i = 0; i < case_pay[c]; i++)
				fprintf(e, "%02x", payload[c][i]);
			fprintf(e, "\n");
		}
		if (e)
			fclose(e);
	}
	CHECK(port_stat("vale0:rx", offsetof(struct vnm_ctl_port_stats, gso_segs)) ==
	      case_segs[C_TCP4] + case_segs[C_TCP6] + case_segs[C_UDP4] + case_segs[C_UDP6]);
	CHECK(port_stat("vale0:rx", offsetof(struct vnm_ctl_port_stats, drop_gso)) == 0);
	CHECK(port_stat("vale0:tx", offsetof(struct vnm_ctl_port_stats, drop_bad_slot)) == 1);

	/* phase 2: the receiver takes headers too: the TSO frame arrives whole, header first */
	CHECK(vnm_port_hdr_set("vale0:rx", 12) == 0);
	CHECK(send_frame(tx, buf[C_TCP4], blen[C_TCP4]) == 0);
	len = recv_frame(rx, in, sizeof(in), 5000);
	CHECK(len == (int)blen[C_TCP4]);
	if (len == (int)blen[C_TCP4])
		CHECK(memcmp(in, buf[C_TCP4], 10) == 0 && memcmp(in + 12, buf[C_TCP4] + 12, blen[C_TCP4] - 12) == 0);
	/* and a plain frame from a sender without a header gets a zero one */
	CHECK(vnm_port_hdr_set("vale0:tx", 0) == 0);
	CHECK(send_frame(tx, buf[C_PLAIN] + 12, blen[C_PLAIN] - 12) == 0);
	len = recv_frame(rx, in, sizeof(in), 5000);
	static const uint8_t zero[12];
	CHECK(len == (int)blen[C_PLAIN] && memcmp(in, zero, 12) == 0 &&
	      memcmp(in + 12, buf[C_PLAIN] + 12, blen[C_PLAIN] - 12) == 0);

	/* phase 3: a TAP without offloads; the receiver port leaves (no copies to it) */
	vnm_port_close(rx);
	rx = NULL;
	phase_tap((const uint8_t (*)[70000])buf, blen, tx);
out:
	if (tx)
		vnm_port_close(tx);
	if (rx)
		vnm_port_close(rx);
	stop_daemon();
	if (fails) {
		fprintf(stderr, "gso_hdr: %d check(s) failed\n", fails);
		return 1;
	}
	printf("gso_hdr: %u segments, checksums good, payloads re-assembled\n", n);
	return 0;
}
