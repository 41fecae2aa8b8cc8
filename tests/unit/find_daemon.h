/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * find_daemon.h - where the test programs that start their own vnetmapd find it:
 * $VNM_BIN/vnetmapd (set by tests/run-all.sh), else ../bin/vnetmapd next to the
 * test binary (BUILD/tests/test_x -> BUILD/bin/vnetmapd). 0, or -1 if absent.
 */
#ifndef VNM_TEST_FIND_DAEMON_H
#define VNM_TEST_FIND_DAEMON_H

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int find_daemon(char *path, size_t len)
{
	const char *bin = getenv("VNM_BIN");
	char self[PATH_MAX];
	ssize_t n;

	if (bin && *bin) {
		snprintf(path, len, "%s/vnetmapd", bin);
		if (access(path, X_OK) == 0)
			return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(path, len, "%s/../bin/vnetmapd", dirname(self));
	return access(path, X_OK) == 0 ? 0 : -1;
}

#endif
