#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# kill_client: kill -9 a pkt-gen client of vale0:x (and of a pipe): its port disappears
# from vale-ctl, and the daemon's fd count and region-file count return to their
# values before the client came.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
start_daemon
sleep 0.3

fds0=$(fd_count "$DAEMON_PID")
reg0=$(region_count)
log "baseline: daemon fds $fds0, region files $reg0"

listed() { vctl -l 2>/dev/null | grep -q "^$1 "; }
not_listed() { ! listed "$1"; }
fds_back() { [ "$(fd_count "$DAEMON_PID")" -eq "$fds0" ]; }
regions_back() { [ "$(region_count)" -eq "$reg0" ]; }

for round in 1 2 3; do
	for mode in rx tx; do
		bg "client$round$mode" "$BIN/pkt-gen" -i vale0:x -f $mode
		pid=$BG_PID
		wait_until 10 listed vale0:x || fail "round $round ($mode): vale0:x never listed: $(vctl -l 2>&1)"
		[ "$(fd_count "$DAEMON_PID")" -gt "$fds0" ] || fail "daemon fd count did not grow with a client"
		[ "$(region_count)" -gt "$reg0" ] || log "note: no new region file seen for vale0:x"
		sleep 0.5 # traffic (tx) or a blocked reader (rx)
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		wait_until 10 not_listed vale0:x || fail "round $round ($mode): vale0:x still listed after kill -9"
		wait_until 10 fds_back || fail "round $round ($mode): daemon fds $(fd_count "$DAEMON_PID"), were $fds0"
		wait_until 10 regions_back || fail "round $round ($mode): region files $(region_count), were $reg0"
	done
done

# a pipe end killed while its peer keeps running, then the peer too
bg pipe_rx "$BIN/pkt-gen" -i 'netmap:kc}1' -f rx
prx=$BG_PID
bg pipe_tx "$BIN/pkt-gen" -i 'netmap:kc{1' -f tx
ptx=$BG_PID
sleep 1
kill -KILL "$ptx"; wait "$ptx" 2>/dev/null
sleep 0.3
kill -0 "$prx" 2>/dev/null || fail "pipe receiver died when its peer was killed"
kill -KILL "$prx"; wait "$prx" 2>/dev/null
wait_until 10 fds_back || fail "pipe: daemon fds $(fd_count "$DAEMON_PID"), were $fds0"
wait_until 10 regions_back || fail "pipe: region files $(region_count), were $reg0"
kill -0 "$DAEMON_PID" || fail "daemon died"
log "daemon fds $(fd_count "$DAEMON_PID"), region files $(region_count): back to baseline"
exit 0
