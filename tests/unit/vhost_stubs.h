/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost_stubs.h - test helper: what ports/vhost_port.c and vhost/vhost_conn.c use from
 * the rest of vnetmapd (log, main loop, switch, deferred close), as no-ops, so a test
 * or fuzzer can include those files and drive the port ops directly. The stub switch
 * "attaches" by setting sw_idx.
 */
#ifndef VNM_TEST_VHOST_STUBS_H
#define VNM_TEST_VHOST_STUBS_H

int vnm_log_level = VNM_LOG_ERR;
void vnm_log(int level, const char *fmt, ...)
{
}
int vnm_ev_add(struct vnm_evsrc *src, int fd, uint32_t events)
{
	return 0;
}
void vnm_ev_del(int fd)
{
}
void vnm_defer_close(int fd)
{
	close(fd);
}
int vnm_switch_attach(struct vnm_switch *sw, struct vnm_dport *p)
{
	p->sw_idx = 0;
	return 0;
}
void vnm_switch_detach(struct vnm_switch *sw, struct vnm_dport *p)
{
	p->sw_idx = -1;
}
int vnm_switch_watch_fd(struct vnm_switch *sw, int fd)
{
	return 0;
}
void vnm_switch_unwatch_fd(struct vnm_switch *sw, int fd)
{
}
void vnm_switch_kick(struct vnm_switch *sw)
{
}
int vnm_share_sock(const char *path)
{
	return 0;
}

#endif
