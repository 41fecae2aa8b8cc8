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
#   5. vnetmapd --group G (a throwaway group vnmgPID with a throwaway member vnmuPID,
#      deleted at exit; skipped without useradd): runtime dir, region dir 0750, socket,
#      region files, the ivshmem doorbell socket, a vhost-user listening socket and a
#      socket port's listening and dgram sockets 0660, all of group G. The member (a supplementary group: SO_PEERGROUPS) lists,
#      opens ports and sends (its pkt-gen maps the region), and reads a region file by
#      path (what a QEMU of the group does for passthrough); a process whose primary
#      group is G may connect; nobody cannot list, connect, open or map, and with the
#      socket made 0666 and the directory 0755 it is refused by the daemon's check.
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
GRP=vnmg$$ MEMBER=vnmu$$ made_user=
drop_user() {
	[ -n "$made_user" ] || return 0
	userdel "$MEMBER" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
}
trap 'rc=$?; rm -rf "$PUB"; drop_user; (exit $rc); vnm_cleanup' EXIT
chmod 755 "$PUB"
cp "$BIN/vale-ctl" "$BIN/pkt-gen" "$PUB/" && chmod 755 "$PUB/vale-ctl" "$PUB/pkt-gen"
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

# 5. --group: shared with one group, still closed to everybody else
if ! command -v useradd >/dev/null || ! command -v groupadd >/dev/null; then
	log "no useradd/groupadd: --group is not exercised"
	echo "privilege: $OTHER (uid $ouid) could not list, connect, open or map anything of the daemon's"
	exit 0
fi
groupadd "$GRP" || fail "groupadd $GRP"
made_user=1
useradd -M -N -s /usr/sbin/nologin -G "$GRP" "$MEMBER" || fail "useradd $MEMBER"
gid=$(getent group "$GRP" | cut -d: -f3)
as_member() { runuser -u "$MEMBER" -- "$@" </dev/null; }
GRUN=$TMPD/grun
VHS=$TMPD/vh$$.sock
"${VNM_VG_BIN:-$BIN}/vnetmapd" --dir "$GRUN" --group "$GRP" \
	--vhost-user "vale0:vh=$VHS,server" >"$TMPD/vnetmapd3.log" 2>&1 &
D3=$!
VNM_PIDS+=("$D3")
wait_until 10 test -S "$GRUN/vnetmapd.sock" || fail "daemon with --group did not start: $(tail -n 3 "$TMPD/vnetmapd3.log")"
wait_until 10 grep -q "shared with group $gid" "$TMPD/vnetmapd3.log" || fail "no 'shared with group' line: $(head -n 3 "$TMPD/vnetmapd3.log")"
VNETMAP_DIR=$GRUN bg grx "$BIN/pkt-gen" -i vale0:b -f rx
GRX=$BG_PID
gl() { "$BIN/vale-ctl" --dir "$GRUN" -l 2>/dev/null | grep -q "^$1 "; }
wait_until 10 gl vale0:b || fail "vale0:b not up on the --group daemon"
"$BIN/vale-ctl" --dir "$GRUN" --passthrough vale0:g1 --doorbell >"$TMPD/pt.out" 2>&1 ||
	fail "passthrough export: $(cat "$TMPD/pt.out")"
# socket ports (QEMU -netdev stream/dgram framing): a listening and a dgram socket
SSS=$TMPD/ss$$.sock SDS=$TMPD/sd$$.sock
"$BIN/vale-ctl" --dir "$GRUN" -n ss --stream "$SSS" --server >"$TMPD/ss.out" 2>&1 ||
	fail "socket port (stream server): $(cat "$TMPD/ss.out")"
"$BIN/vale-ctl" --dir "$GRUN" -n sd --dgram "$SDS" --peer "$TMPD/nopeer$$.sock" >"$TMPD/sd.out" 2>&1 ||
	fail "socket port (dgram): $(cat "$TMPD/sd.out")"
GMEM=$GRUN/mem
modes() { stat -c '%a %G' "$1"; }
[ "$(modes "$SSS")" = "660 $GRP" ] || fail "--group stream socket port: $(modes "$SSS")"
[ "$(modes "$SDS")" = "660 $GRP" ] || fail "--group dgram socket port: $(modes "$SDS")"
[ "$(modes "$GRUN")" = "750 $GRP" ] || fail "--group runtime dir: $(modes "$GRUN")"
[ "$(modes "$GRUN/vnetmapd.sock")" = "660 $GRP" ] || fail "--group socket: $(modes "$GRUN/vnetmapd.sock")"
[ "$(modes "$GMEM")" = "750 $GRP" ] || fail "--group region dir: $(modes "$GMEM")"
[ "$(modes "$VHS")" = "660 $GRP" ] || fail "--group vhost-user socket: $(modes "$VHS")"
mapfile -t gfiles < <(find "$GMEM" -type f)
mapfile -t gsocks < <(find "$GMEM" -type s)
[ ${#gfiles[@]} -ge 2 ] || fail "--group: expected 2 region files, found ${#gfiles[@]}"
[ ${#gsocks[@]} -ge 1 ] || fail "--group: no ivshmem doorbell socket in $GMEM"
for f in "${gfiles[@]}" "${gsocks[@]}"; do
	[ "$(modes "$f")" = "660 $GRP" ] || fail "--group $(basename "$f"): $(modes "$f")"
done
log "--group $GRP ($gid): dirs 0750, socket, vhost-user socket, doorbell socket, socket-port sockets, ${#gfiles[@]} region files 0660"

# the member: list, open a port and send through it (its pkt-gen maps the region)
out=$(as_member "$PUB/vale-ctl" --dir "$GRUN" -l 2>&1) || fail "member $MEMBER cannot list: $out"
echo "$out" | grep -q '^vale0:b ' || fail "member's list lacks vale0:b: $out"
out=$(as_member env VNETMAP_DIR="$GRUN" "$PUB/pkt-gen" -i vale0:m -f tx -n 1000 2>&1) ||
	fail "member $MEMBER cannot open and send on vale0:m: $out"
echo "$out" | grep -q 'Sent 1000 packets' || fail "member's pkt-gen: $out"
as_member dd if="${gfiles[0]}" of=/dev/null bs=4096 count=1 2>/dev/null ||
	fail "member $MEMBER cannot read region file ${gfiles[0]} by path"
out=$(runuser -u "$OTHER" -g "$GRP" -- "$PUB/vale-ctl" --dir "$GRUN" -l </dev/null 2>&1) ||
	fail "a process of primary group $GRP cannot list: $out"
log "member $MEMBER: listed, sent 1000 frames on vale0:m, read a region file; primary group $GRP listed"

# everybody else
as_other_fails "list the --group runtime directory" ls "$GRUN"
as_other_fails "connect to the --group socket" "$PUB/vale-ctl" --dir "$GRUN" -l
as_other_fails "open a --group region file" dd if="${gfiles[0]}" of=/dev/null bs=4096 count=1
as_other_fails "open the --group pkt-gen port" env VNETMAP_DIR="$GRUN" "$PUB/pkt-gen" -i vale0:n -f tx -n 1
chmod 755 "$GRUN" "$GMEM"
chmod 666 "$GRUN/vnetmapd.sock"
as_other_fails "use the --group daemon through a 0666 socket" "$PUB/vale-ctl" --dir "$GRUN" -l
wait_until 5 grep -q "connection from uid $ouid refused" "$TMPD/vnetmapd3.log" ||
	fail "the --group daemon did not refuse uid $ouid: $(tail -n 3 "$TMPD/vnetmapd3.log")"
for f in "${gfiles[@]}"; do
	as_other_fails "open --group region $(basename "$f")" dd if="$f" of=/dev/null bs=4096 count=1
done
chmod 660 "$GRUN/vnetmapd.sock"
chmod 750 "$GRUN" "$GMEM"
"$BIN/vale-ctl" --dir "$GRUN" -l >/dev/null || fail "the daemon's own user cannot use the --group daemon"
kill -TERM "$GRX" "$D3"
wait_pid "$GRX" 10
wait_pid "$D3" 10
st=$?
VNM_PIDS=()
[ $st -eq 0 ] || fail "the --group daemon exited with status $st on SIGTERM"
[ -e "$GRUN/vnetmapd.sock" ] && fail "--group socket left after exit"
[ -e "$VHS" ] && fail "--group vhost-user socket left after exit"
[ -e "$SSS" ] || [ -e "$SDS" ] && fail "--group socket port sockets left after exit"
echo "privilege: $OTHER (uid $ouid) could not list, connect, open or map anything of the daemon's"
echo "privilege: --group $GRP: member $MEMBER listed, opened a port, sent and mapped; $OTHER could not"
exit 0
