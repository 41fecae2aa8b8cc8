// SPDX-License-Identifier: BSD-2-Clause
/*
 * test: a real VALE switch thread with three netmap ports over fake regions -
 * broadcast floods to the other two, learned unicast goes to one port, frames to
 * self and runts are dropped, unknown unicast floods, MAC moves are counted, the
 * FDB dump, detach flushes, a lossless sender waits for a slow receiver (and
 * wakes the switch by freeing RX slots), and the switch sleeps and is kicked.
 */
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/ports/netmap_port.c"
#include "../../daemon/vhost/gso.c"
#include "../../daemon/vale/fdb.c"
#include "../../daemon/vale/switch.c"
#include "unit/fakeport.h"

#define NP 3
static struct fakeport *fp[NP];
static int kick[NP];
static struct vnm_switch *sw;

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MAC[NP][6] = { { 0x02, 0, 0, 0, 0, 0xa }, { 0x02, 0, 0, 0, 0, 0xb },
				   { 0x02, 0, 0, 0, 0, 0xc } };
static const uint8_t UNKNOWN[6] = { 0x02, 0, 0, 0, 0, 0x99 };

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Client: publish TX and kick the switch if it sleeps. */
static void tx_sync(int i)
{
	fp_publish(fp[i], 0, 0);
	if (vnm_csb_app_need_kick(fp[i]->ktoa[0][0])) {
		uint64_t one = 1;
		CHECK(write(kick[i], &one, 8) == 8);
	}
}

static void rx_kick(int i)
{
	if (vnm_csb_app_need_kick(fp[i]->ktoa[1][0])) {
		uint64_t one = 1;
		CHECK(write(kick[i], &one, 8) == 8);
	}
}

static void send_frame(int i, const uint8_t *dst, const uint8_t *src, unsigned len, unsigned frag)
{
	uint8_t d[2048];

	fp_fill(d, len, (unsigned)len);
	if (len >= 6)
		memcpy(d, dst, 6);
	if (len >= 12)
		memcpy(d + 6, src, 6);
	CHECK(fp_tx_put(fp[i], 0, d, len, frag) > 0);
	tx_sync(i);
}

/* Frames waiting on port i's RX ring (client view). */
static unsigned rx_count(int i)
{
	return fp_rx_avail(fp[i], 0);
}

/* Wait until every port's TX ring is consumed, then let the switch settle. */
static void settle(void)
{
	for (int t = 0; t < 2000; t++) {
		int busy = 0;
		for (int i = 0; i < NP; i++)
			if (fp[i]->dp->sw_idx >= 0 &&
			    __atomic_load_n(&fp[i]->ktoa[0][0]->hwcur, __ATOMIC_ACQUIRE) != fp[i]->head[0][0])
				busy = 1;
		if (!busy)
			break;
		msleep(1);
	}
	/* deliver_flush follows rx_done in the same round, under the switch lock */
	ctl_lock(sw);
	ctl_unlock(sw);
}

/* Drain port i's RX; returns frames; checks the first has dst/src. */
static unsigned drain(int i, const uint8_t *dst, const uint8_t *src)
{
	uint8_t out[4096];
	unsigned n = 0;
	int l;

	while ((l = fp_rx_get(fp[i], 0, out, sizeof(out), NULL)) >= 0) {
		if (n == 0 && dst)
			CHECK(l >= 12 && !memcmp(out, dst, 6) && !memcmp(out + 6, src, 6));
		n++;
	}
	rx_kick(i);
	return n;
}

int main(void)
{
	static const char *names[NP] = { "vale0:a", "vale0:b", "vale0:c" };

	setenv("VNM_SPIN_US", "5", 1);
	if (vnm_switch_create("vale0", &sw) < 0)
		return 1;
	CHECK(!strcmp(vnm_switch_name(sw), "vale0"));
	for (int i = 0; i < NP; i++) {
		fp[i] = fp_create(names[i], 1, 1, 64, 2048, 0);
		kick[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(vnm_switch_watch_fd(sw, kick[i]) == 0);
		CHECK(vnm_switch_attach(sw, fp[i]->dp) == 0);
		CHECK(fp[i]->dp->sw_idx == i);
	}
	CHECK(vnm_switch_nports(sw) == NP);
	CHECK(vnm_switch_attach(sw, fp[0]->dp) == -EBUSY);
	msleep(10); /* the switch goes to sleep: kicks are needed from now on */

	/* broadcast from a floods to b and c */
	send_frame(0, BCAST, MAC[0], 60, 2048);
	settle();
	CHECK(drain(1, BCAST, MAC[0]) == 1);
	CHECK(drain(2, BCAST, MAC[0]) == 1);
	CHECK(drain(0, NULL, NULL) == 0);

	/* b -> a (a learned): only a */
	send_frame(1, MAC[0], MAC[1], 60, 2048);
	settle();
	CHECK(drain(0, MAC[0], MAC[1]) == 1);
	CHECK(drain(2, NULL, NULL) == 0);
	CHECK(drain(1, NULL, NULL) == 0);

	/* a -> b: only b; multi-slot frame goes through whole */
	send_frame(0, MAC[1], MAC[0], 3000 > 2048 ? 2000 : 60, 700);
	settle();
	CHECK(drain(1, MAC[1], MAC[0]) == 1);
	CHECK(drain(2, NULL, NULL) == 0);

	/* a -> a: dropped (self) */
	send_frame(0, MAC[0], MAC[0], 60, 2048);
	settle();
	CHECK(fp[0]->dp->stats.drop_self == 1);
	for (int i = 0; i < NP; i++)
		CHECK(drain(i, NULL, NULL) == 0);

	/* runts: 13 bytes; 20 bytes whose first fragment has only 10 */
	send_frame(2, BCAST, MAC[2], 13, 2048);
	send_frame(2, BCAST, MAC[2], 20, 10);
	settle();
	CHECK(fp[2]->dp->stats.drop_runt == 2);
	for (int i = 0; i < NP; i++)
		CHECK(drain(i, NULL, NULL) == 0);

	/* unknown unicast floods */
	send_frame(2, UNKNOWN, MAC[2], 60, 2048);
	settle();
	CHECK(drain(0, UNKNOWN, MAC[2]) == 1);
	CHECK(drain(1, UNKNOWN, MAC[2]) == 1);

	/* multicast source: forwarded but never learned */
	{
		uint8_t msrc[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
		send_frame(2, BCAST, msrc, 60, 2048);
		settle();
		CHECK(drain(0, NULL, NULL) == 1);
		CHECK(drain(1, NULL, NULL) == 1);
	}

	/* FDB dump: a, b, c learned on their ports */
	{
		struct vnm_ctl_fdb_entry e[16];
		int n = vnm_switch_fdb_dump(sw, e, 16);
		CHECK(n == 3);
		for (int k = 0; k < n; k++) {
			int who = e[k].mac[5] - 0xa;
			CHECK(who >= 0 && who < NP && e[k].port_idx == who);
			CHECK(who >= 0 && who < NP && !strcmp(e[k].port, names[who]));
		}
	}

	/* MAC a appears on c: moved, counted on c; then b -> a goes to c */
	send_frame(2, BCAST, MAC[0], 60, 2048);
	settle();
	CHECK(fp[2]->dp->stats.fdb_moves == 1);
	{
		struct vnm_switch_fdb_counters c;
		vnm_switch_fdb_counters(sw, &c);
		CHECK(c.entries == 3 && c.moves == 1 && c.learned == 3 && c.evictions == 0);
	}
	drain(0, NULL, NULL);
	drain(1, NULL, NULL);
	send_frame(1, MAC[0], MAC[1], 60, 2048);
	settle();
	CHECK(drain(2, MAC[0], MAC[1]) == 1);
	CHECK(drain(0, NULL, NULL) == 0);

	/* burst: many frames through, rx/tx counters add up */
	{
		uint64_t tx0 = fp[1]->dp->stats.tx_packets;
		unsigned got = 0;
		for (int r = 0; r < 20; r++) {
			for (int k = 0; k < 40; k++)
				send_frame(0, MAC[1], MAC[0], 60, 2048);
			settle();
			got += drain(1, MAC[1], MAC[0]);
		}
		CHECK(got == 800);
		CHECK(fp[1]->dp->stats.tx_packets - tx0 == 800);
		CHECK(fp[1]->dp->stats.drop_full == 0);
	}

	/* full destination: non-lossless sender drops and counts */
	{
		for (int k = 0; k < 60; k++)
			send_frame(0, MAC[1], MAC[0], 60, 2048);
		settle();
		for (int k = 0; k < 60; k++)
			send_frame(0, MAC[1], MAC[0], 60, 2048);
		settle();
		CHECK(rx_count(1) == 63);
		CHECK(fp[1]->dp->stats.drop_full == 57);
		CHECK(drain(1, NULL, NULL) == 63);
	}

	/* a flooding port does not starve another (bounded batch per port per round) */
	{
		unsigned got = 0, csent = 0;
		for (int r = 0; r < 200 && (csent < 10 || got < 10); r++) {
			while (fp_tx_space(fp[0], 0) > 0)
				send_frame(0, MAC[2], MAC[0], 60, 2048); /* to c, which never reads */
			if (csent < 10 && fp_tx_space(fp[2], 0) > 0) {
				send_frame(2, MAC[1], MAC[2], 60, 2048);
				csent++;
			}
			got += drain(1, MAC[1], MAC[2]);
		}
		settle();
		got += drain(1, MAC[1], MAC[2]);
		CHECK(csent == 10 && got == 10);
		drain(2, NULL, NULL);
	}

	/* random source MACs fill the table: bounded, evictions counted */
	{
		struct vnm_switch_fdb_counters c;
		unsigned seed = 7;
		for (int k = 0; k < 6000; k++) {
			uint8_t m[6];
			for (int j = 0; j < 6; j++) {
				seed = seed * 1103515245u + 12345u;
				m[j] = (uint8_t)(seed >> 16);
			}
			m[0] &= 0xfe;
			if (fp_tx_space(fp[2], 0) == 0) {
				settle();
				drain(0, NULL, NULL);
				drain(1, NULL, NULL);
			}
			send_frame(2, BCAST, m, 60, 2048);
		}
		settle();
		drain(0, NULL, NULL);
		drain(1, NULL, NULL);
		vnm_switch_fdb_counters(sw, &c);
		CHECK(c.evictions > 0 && c.entries <= VNM_FDB_ENTRIES && c.learned >= 6000);
		/* the real stations announce themselves again */
		for (int i = 0; i < NP; i++) {
			send_frame(i, BCAST, MAC[i], 60, 2048);
			settle();
			for (int j = 0; j < NP; j++)
				drain(j, NULL, NULL);
		}
		send_frame(0, MAC[1], MAC[0], 60, 2048);
		settle();
		CHECK(drain(1, MAC[1], MAC[0]) == 1);
		CHECK(drain(2, NULL, NULL) == 0);
	}

	/* detach b: its MACs are flushed, frames to b now flood to c only */
	vnm_switch_detach(sw, fp[1]->dp);
	CHECK(fp[1]->dp->sw_idx == -1 && vnm_switch_nports(sw) == 2);
	send_frame(0, MAC[1], MAC[0], 60, 2048);
	settle();
	CHECK(drain(2, MAC[1], MAC[0]) == 1);
	CHECK(drain(1, NULL, NULL) == 0);
	{
		struct vnm_ctl_fdb_entry e[16];
		int n = vnm_switch_fdb_dump(sw, e, 16);
		for (int k = 0; k < n; k++)
			CHECK(memcmp(e[k].mac, MAC[1], 6) != 0);
	}
	CHECK(vnm_switch_attach(sw, fp[1]->dp) == 0);
	CHECK(fp[1]->dp->sw_idx == 1);

	/* lossless sender: a (re-created lossless) -> b, 300 frames through a 64-slot ring */
	{
		vnm_switch_detach(sw, fp[0]->dp);
		vnm_switch_unwatch_fd(sw, kick[0]);
		fp_destroy(fp[0]);
		fp[0] = fp_create("vale0:a", 1, 1, 256, 2048, VNM_PI_LOSSLESS);
		CHECK(vnm_switch_watch_fd(sw, kick[0]) == 0);
		CHECK(vnm_switch_attach(sw, fp[0]->dp) == 0);
		/* b learns its MAC again, c drains */
		send_frame(1, BCAST, MAC[1], 60, 2048);
		settle();
		drain(0, NULL, NULL);
		drain(2, NULL, NULL);
		/* b has a client on its rx ring; c has none and must not hold a back */
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
		vnm_nmport_set_notify(fp[1]->dp, 1, 0, sv[0]);
		uint64_t full0 = fp[1]->dp->stats.drop_full;
		unsigned sent = 0, got = 0;
		for (int t = 0; t < 5000 && got < 300; t++) {
			while (sent < 300 && fp_tx_space(fp[0], 0) > 0) {
				send_frame(0, MAC[1], MAC[0], 60, 2048);
				sent++;
			}
			if (t % 3 == 0) /* a slow receiver */
				got += drain(1, MAC[1], MAC[0]);
			msleep(1);
		}
		CHECK(sent == 300 && got == 300);
		CHECK(fp[1]->dp->stats.drop_full == full0);
		CHECK(fp[0]->dp->stats.rx_packets >= 300);
		/* broadcast from lossless a: b (client) gets all, c (none) fills then drops */
		uint64_t c0 = fp[2]->dp->stats.tx_packets + fp[2]->dp->stats.drop_full;
		sent = got = 0;
		for (int t = 0; t < 5000 && got < 200; t++) {
			while (sent < 200 && fp_tx_space(fp[0], 0) > 0) {
				send_frame(0, BCAST, MAC[0], 60, 2048);
				sent++;
			}
			got += drain(1, BCAST, MAC[0]);
			msleep(1);
		}
		CHECK(sent == 200 && got == 200);
		settle();
		CHECK(fp[2]->dp->stats.tx_packets + fp[2]->dp->stats.drop_full - c0 == 200);

		/* a blocked on b; b's client leaves (notify -1 + kick, as the control plane
		 * does at unbind): a is released, the rest is dropped on b */
		for (int k = 0; k < 100; k++)
			send_frame(0, MAC[1], MAC[0], 60, 2048);
		for (int t = 0; t < 2000 && rx_count(1) < 63; t++)
			msleep(1);
		msleep(5);
		CHECK(rx_count(1) == 63);
		CHECK(__atomic_load_n(&fp[0]->ktoa[0][0]->hwcur, __ATOMIC_ACQUIRE) !=
		      fp[0]->head[0][0]); /* still waiting */
		uint64_t full1 = fp[1]->dp->stats.drop_full;
		vnm_nmport_set_notify(fp[1]->dp, 1, 0, -1);
		vnm_switch_kick(sw);
		settle();
		CHECK(__atomic_load_n(&fp[0]->ktoa[0][0]->hwcur, __ATOMIC_ACQUIRE) ==
		      fp[0]->head[0][0]);
		CHECK(fp[1]->dp->stats.drop_full - full1 == 37);
		drain(1, NULL, NULL);
		close(sv[0]);
		close(sv[1]);
	}

	for (int i = 0; i < NP; i++) {
		vnm_switch_detach(sw, fp[i]->dp);
		vnm_switch_unwatch_fd(sw, kick[i]);
		close(kick[i]);
		fp_destroy(fp[i]);
	}
	CHECK(vnm_switch_nports(sw) == 0);
	vnm_switch_destroy(sw);
	return fails ? 1 : 0;
}
