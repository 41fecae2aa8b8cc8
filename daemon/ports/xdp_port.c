// SPDX-License-Identifier: BSD-2-Clause
/* xdp_port.c - AF_XDP interface port (not implemented yet: af_packet is used). */
#include <stdio.h>

#include "ports/hostport.h"

struct vnm_dport *vnm_xdp_port_create(const char *ifname, char *err, size_t errlen)
{
	(void)ifname;
	snprintf(err, errlen, "not implemented");
	return NULL;
}

void vnm_xdp_port_destroy(struct vnm_dport *p)
{
	(void)p;
}

void vnm_xdp_port_attached(struct vnm_dport *p, struct vnm_switch *sw)
{
	(void)p;
	(void)sw;
}

void vnm_xdp_port_detached(struct vnm_dport *p)
{
	(void)p;
}
