// SPDX-License-Identifier: BSD-2-Clause
/* switch.c - VALE switch (stub: being written). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vale/fdb.h"
#include "vale/switch.h"

struct vnm_switch {
	char name[64];
	unsigned nports;
};

int vnm_switch_create(const char *name, struct vnm_switch **out)
{
	struct vnm_switch *sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	strncpy(sw->name, name, sizeof(sw->name) - 1);
	*out = sw;
	return 0;
}
void vnm_switch_destroy(struct vnm_switch *sw) { free(sw); }
const char *vnm_switch_name(const struct vnm_switch *sw) { return sw->name; }
unsigned vnm_switch_nports(struct vnm_switch *sw) { return sw->nports; }
int vnm_switch_attach(struct vnm_switch *sw, struct vnm_dport *p) { return -ENOSYS; }
void vnm_switch_detach(struct vnm_switch *sw, struct vnm_dport *p) { }
int vnm_switch_watch_fd(struct vnm_switch *sw, int fd) { return 0; }
void vnm_switch_unwatch_fd(struct vnm_switch *sw, int fd) { }
void vnm_switch_kick(struct vnm_switch *sw) { }
int vnm_switch_fdb_dump(struct vnm_switch *sw, struct vnm_ctl_fdb_entry *out, int max) { return 0; }
