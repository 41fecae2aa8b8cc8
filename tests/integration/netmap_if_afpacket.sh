#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# netmap_if_afpacket: netmap_if.sh with vnetmapd forced onto the af_packet backend
# (VNM_NO_XDP=1), so both interface backends are tested where AF_XDP works.
VNM_NO_XDP=1 exec bash "$(dirname "$0")/netmap_if.sh" "$@"
