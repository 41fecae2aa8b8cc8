/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * passthrough.h - ports exported to guests (VNM_CTL_PASSTHROUGH, docs/PASSTHROUGH.md).
 * Main thread only.
 */
#ifndef VNM_DAEMON_PASSTHROUGH_H
#define VNM_DAEMON_PASSTHROUGH_H

#include "registry.h"
#include "vnetmap/ctl.h"

/* Bind spec on behalf of a guest (flags VNM_PT_*); fills info. 0 or -errno. */
int vnm_pt_export(const char *spec, uint32_t flags, struct vnm_ctl_pt_info *info,
		  struct vnm_err *err);
/* Unbind an exported port (its canonical name, or the spec it was exported with). */
int vnm_pt_remove(const char *name, struct vnm_err *err);
/* Exports matching filter ("" all). Returns the count stored, or -errno. */
int vnm_pt_list(const char *filter, struct vnm_ctl_pt_info *out, unsigned max,
		struct vnm_err *err);
/* At exit, before the registry shuts down: remove every export. */
void vnm_pt_shutdown(void);

#endif
