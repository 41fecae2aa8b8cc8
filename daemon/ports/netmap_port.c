// SPDX-License-Identifier: BSD-2-Clause
/* netmap_port.c - netmap client port (stub: being written). */
#include <stdlib.h>

#include "ports/netmap_port.h"

struct vnm_dport *vnm_nmport_create(const char *name, const struct vnm_kring *tx, unsigned ntx,
				    const struct vnm_kring *rx, unsigned nrx, uint32_t flags)
{
	return NULL;
}
void vnm_nmport_set_notify(struct vnm_dport *p, int dir, unsigned ri, int notify_fd) { }
struct vnm_kring *vnm_nmport_kring(struct vnm_dport *p, int dir, unsigned ri) { return NULL; }
void vnm_nmport_destroy(struct vnm_dport *p) { }
