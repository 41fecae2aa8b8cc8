#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# privilege (bad-inputs.md item 4; issue 6 item 5): the control socket and the region
# files are private to the daemon's user. As another unprivileged user (nobody, through
# runuser; skipped when not root or without runuser) while a client holds a VALE port
# and a pipe:
#   1. as shipped (runtime dir 0700, socket 0600, region dir 0700, files 0600):
#      cannot list the runtime or region directory, cannot connect (vale-ctl fails),
#      cannot open (so cannot map) a region file, cannot read /proc/<daemon>/fd or maps;
#   2. with the directories loosened to 0755 by mistake: still cannot connect (socket
#      0600), cannot open a region file (0600);
#   3. with the socket also made 0666: the connection is refused by the daemon's
#      SO_PEERCRED check (logged "connection from uid 65534 refused");
#   4. regions outside tmpfs: with the runtime directory on a disk, the region files
#      go to /dev/shm/vnetmap-UID-*, which is 0700 with 0600 files (when /tmp is not tmpfs).
# The daemon's own user keeps working throughout.
. "$(dirname "$0")/../lib.sh"
vnm_init "$1"
require_bin vnetmapd pkt-gen vale-ctl
[ "$(id -u)" -eq 0 ] || skip "needs root (runuser to another user)"
command -v runuser >/dev/null || skip "no runuser"
OTHER=${PRIV_USER:-nobody}
id "$OTHER" >/dev/null 2>&1 || skip "no user $OTHER"
ouid=$(id -u "$OTHER")

# a copy of vale-ctl the other user can run whatever the build dir's permissions
PUB=$(mktemp -d /tmp/vnmpriv.XXXXXX) || fail mktemp
trap 'rc=$?; rm -rf "$PUB"; (exit $rc); vnm_cleanup' EXIT
chmod 755 "$PUB"
cp "$BIN/vale-ctl" "$PUB/" && chmod 755 "$PUB/vale-ctl"
as_other() { runuser -u "$OTHER" -- "$@" </dev/null; }
# as_other_fails WHAT cmd...: the command must fail for the other user
as_other_fails() {
	local what=$1 out
	shift
	if out=$(as_other "$@" 2>&1); then
		fail "$OTHER could $what: $out"
	fi
	log "$OTHER cannot $what: $(echo "$out" | head -n 1)"
}
as_other true || skip "runuser -u $OTHER does not work here"

chmod 755 "$TMPD" # only the daemon's own directories protect it now
start_daemon
bg vrx "$BIN/pkt-gen" -i vale0:b -f rx
bg ptx "$BIN/pkt-gen" -i 'netmap:pv{1' -f tx
listed() { vctl -l 2>/dev/null | grep -q "^$1 "; }
wait_until 10 listed vale0:b && wait_until 10 listed 'netmap:pv{1' || fail "ports not up: $(vctl -l 2>&1)"
RUN=$VNETMAP_DIR
MEM=$RUN/mem
[ -d "$MEM" ] || fail "no region directory $MEM"
mapfile -t regions < <(find "$MEM" -type f)
[ ${#regions[@]} -ge 2 ] || fail "expected 2 region files, found ${#regions[@]}"
sock=$RUN/vnetmapd.sock

# modes as shipped
[ "$(stat -c %a "$RUN")" = 700 ] || fail "runtime dir mode $(stat -c %a "$RUN")"
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock")"
[ "$(stat -c %a "$MEM")" = 700 ] || fail "region dir mode $(stat -c %a "$MEM")"
for f in "${regions[@]}"; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "region file $f mode $(stat -c %a "$f")"
done

# 1. as shipped
as_other_fails "list the runtime directory" ls "$RUN"
as_other_fails "list the region directory" ls "$MEM"
as_other_fails "connect to the control socket" "$PUB/vale-ctl" --dir "$RUN" -l
as_other_fails "open a region file" dd if="${regions[0]}" of=/dev/null bs=4096 count=1
as_other_fails "read the daemon's fd table" ls "/proc/$DAEMON_PID/fd"
as_other_fails "read the daemon's mappings" cat "/proc/$DAEMON_PID/maps"
as_other_fails "open a region through /proc" dd if="/proc/$DAEMON_PID/fd/3" of=/dev/null count=1

# 2. directories loosened by mistake
chmod 755 "$RUN" "$MEM"
as_other ls "$MEM" >/dev/null 2>&1 || fail "setup: $OTHER cannot list a 0755 directory"
as_other_fails "connect to the 0600 socket" "$PUB/vale-ctl" --dir "$RUN" -l
for f in "${regions[@]}"; do
	as_other_fails "open region $(basename "$f")" dd if="$f" of=/dev/null bs=4096 count=1
done

# 3. the socket too: the daemon's peer-credential check refuses the connection
chmod 666 "$sock"
as_other_fails "use a 0666 socket" "$PUB/vale-ctl" --dir "$RUN" -l
wait_until 5 grep -q "connection from uid $ouid refused" "$TMPD/vnetmapd.log" ||
	fail "the daemon did not log the refused uid $ouid: $(tail -n 3 "$TMPD/vnetmapd.log")"
chmod 600 "$sock"
chmod 700 "$RUN" "$MEM"

# the daemon's user is unaffected
vctl -l >/dev/null || fail "the daemon's own user cannot use it any more"
listed vale0:b || fail "vale0:b gone"

# 4. runtime directory on a disk: regions in /dev/shm/vnetmap-UID-*
if [ "$(stat -f -c %T /tmp)" != tmpfs ] && [ -d /dev/shm ]; then
	kill -TERM "${VNM_PIDS[@]}" 2>/dev/null
	for p in "${VNM_PIDS[@]}"; do wait_pid "$p" 5; done
	VNM_PIDS=()
	DISK=$(mktemp -d /tmp/vnmpriv-run.XXXXXX)
	"$BIN/vnetmapd" --dir "$DISK" >"$TMPD/vnetmapd2.log" 2>&1 &
	D2=$!
	VNM_PIDS+=("$D2")
	wait_until 10 test -S "$DISK/vnetmapd.sock" || fail "second daemon did not start"
	VNETMAP_DIR=$DISK bg vrx2 "$BIN/pkt-gen" -i vale0:d -f rx
	shm_has_file() { find /dev/shm -maxdepth 2 -path "/dev/shm/vnetmap-0-*" -type f 2>/dev/null | grep -q .; }
	wait_until 10 shm_has_file || fail "no region file under /dev/shm/vnetmap-0-*: $(tail -n 2 "$TMPD/vnetmapd2.log")"
	shmdir=$(grep -o '/dev/shm/vnetmap-[^ ]*' "$TMPD/vnetmapd2.log" | head -n 1)
	[ -d "$shmdir" ] || fail "region dir not in the log: $(head -n 2 "$TMPD/vnetmapd2.log")"
	[ "$(stat -c %a "$shmdir")" = 700 ] || fail "$shmdir mode $(stat -c %a "$shmdir")"
	as_other_fails "list $shmdir" ls "$shmdir"
	f=$(find "$shmdir" -type f | head -n 1)
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f mode $(stat -c %a "$f")"
	as_other_fails "open $(basename "$f")" dd if="$f" of=/dev/null count=1
	kill -TERM "${VNM_PIDS[@]}"
	for p in "${VNM_PIDS[@]}"; do wait_pid "$p" 5; done
	VNM_PIDS=()
	[ -d "$shmdir" ] && fail "$shmdir left after the daemon stopped"
	rm -rf "$DISK"
else
	log "/tmp is tmpfs: the /dev/shm fallback case is not exercised"
fi
echo "privilege: $OTHER (uid $ouid) could not list, connect, open or map anything of the daemon's"
exit 0
