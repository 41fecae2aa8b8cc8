# SPDX-License-Identifier: BSD-2-Clause
# /vnm/lib.sh - helpers for guest scripts (busybox sh). Source it: `. /vnm/lib.sh`.
#
#   vnm_wait_peer IP [SEC]        ping IP once a second-ish until it answers; 1 on timeout
#   vnm_ping IP COUNT [INTERVAL]  iputils ping; prints its output; rc of ping
#   vnm_iperf_server [SEC]        iperf3 -s -1 (one client), bounded by SEC (default 60)
#   vnm_iperf_client IP SEC [ARGS...]  iperf3 -c with retries while the server is not up yet
#   vnm_note KEY VALUE...         prints "VNM-RESULT KEY VALUE..." (the host greps these lines)
#   vnm_stay_up [SEC]             answer the network until a peer says done (TCP 5999) or SEC
#   vnm_say_done IP               tell a peer in vnm_stay_up that it may end
#   vnm_ping_stats OUT            from iputils ping output: "LOSS_PCT AVG_MS"
#
# Output goes to the console (the host's serial log). Keep lines short: the serial port
# is slow under TCG.

# busybox sh (and busybox timeout, xargs, ...) run their own applets before $PATH: make
# "ping" mean iputils ping (-f, -A, ...); under `timeout` write /usr/bin/ping
[ -x /usr/bin/ping ] && ping() { /usr/bin/ping "$@"; }

vnm_note() {
	echo "VNM-RESULT $*"
}

vnm_wait_peer() {
	local ip=$1 t=${2:-30} i=0
	while [ $i -lt $((t * 2)) ]; do
		ping -c 1 -W 1 -q "$ip" >/dev/null 2>&1 && return 0
		sleep 0.3
		i=$((i + 1))
	done
	echo "vnm_wait_peer: $ip not reachable after ${t}s"
	return 1
}

vnm_ping() {
	ping -c "$2" -i "${3:-0.2}" -W 2 "$1"
}

vnm_iperf_server() {
	timeout "${1:-60}" iperf3 -s -1
}

# the server may still be starting: retry a refused connection for up to ~15 s
vnm_iperf_client() {
	local ip=$1 sec=$2 i=0 out rc
	shift 2
	while :; do
		out=$(iperf3 -c "$ip" -t "$sec" "$@" 2>&1)
		rc=$?
		echo "$out"
		[ $rc -eq 0 ] && return 0
		case $out in
		*"Connection refused"*|*"unable to connect"*) ;;
		*) return $rc ;;
		esac
		i=$((i + 1))
		[ $i -ge 30 ] && return $rc
		sleep 0.5
	done
}

vnm_stay_up() {
	timeout "${1:-60}" nc -l -p 5999 >/dev/null 2>&1
	return 0
}

vnm_say_done() {
	echo done | nc -w 3 "$1" 5999 >/dev/null 2>&1
}

vnm_ping_stats() {
	local loss avg
	loss=$(echo "$1" | sed -n -E 's/.* ([0-9.]+)% packet loss.*/\1/p')
	avg=$(echo "$1" | sed -n -E 's#^rtt [^=]*= [0-9.]+/([0-9.]+)/.*#\1#p')
	echo "${loss:-?} ${avg:-?}"
}
