/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * net/netmap.h - compatibility shim: programs written for netmap include this;
 * under vnetmap it is the same ABI (vnetmap/netmap.h).
 */
#ifndef VNM_COMPAT_NET_NETMAP_H
#define VNM_COMPAT_NET_NETMAP_H

#include "../vnetmap/netmap.h"

#endif
