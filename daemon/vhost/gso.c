// SPDX-License-Identifier: BSD-2-Clause
/*
 * gso.c - software segmentation (see gso.h). Contract stub: replaced by the
 * implementation; until then every GSO frame is refused (callers count drop_gso).
 */
#include <errno.h>

#include "vhost/gso.h"

int vnm_gso_segment(const struct vnm_frame *f, struct vnm_frame *segs, unsigned max_segs,
		    uint8_t *scratch, size_t scratch_len)
{
	(void)f;
	(void)segs;
	(void)max_segs;
	(void)scratch;
	(void)scratch_len;
	return -EPROTONOSUPPORT;
}
