#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/experiment.sh [BUILD_DIR] - the tutorial's experiment in one command (`make experiment`):
# front-end x back-end against TCP stream, request/response, ping flood and 60-byte packet rate.
#
# Rows (vm/bench-pair.sh modes; bench/pt.sh for the passthrough rows):
#   virtio-net + TAP/bridge           tap        (the baseline: QEMU user-space virtio, Linux bridge)
#   virtio-net + vnetmap VALE         vale       (vhost-user ports of vnetmapd's vale0)
#   virtio-net + vnetmap pipe         pipe       (the two ends of a pipe served as vhost-user)
#   e1000 + TAP/bridge                tap-e1000
#   e1000 + vnetmap VALE              vale-tap --model e1000 (QEMU TAPs on vale0 as host ports)
#   e1000 + vnetmap VALE socket port  vale-socket --model e1000 (-netdev stream, no root needed)
#   virtio-net + DPDK testpmd         testpmd    (vhost-user peer, io forwarding)
#   passthrough + VALE / + pipe       bench/pt.sh (guest pkt-gen on an exported port, ivshmem)
# Columns: iperf3 Gbps; sockperf TCP ping-pong K transactions/s; ping -f average µs; 60-byte
# Mpps (guest kernel pktgen, delivered rate, for the kernel-NIC rows; netmap pkt-gen for the
# passthrough rows). Each cell: the median of RUNS runs, every configuration run once per
# round (interleaved). A row that cannot run on this machine says n/a (reason).
#
# Environment: RUNS (3), SECS (seconds per test, 10), ROWS (subset of the row keys:
#   tap vale pipe tap-e1000 vale-e1000 sock-e1000 testpmd pt), PT_MODE (ivshmem flavour for the
#   passthrough rows: plain or doorbell; default plain), PT_N / PT_PINGS (frames per pkt-gen
#   tx run, 1000000; ping/pong exchanges, 10000), NO_DOCS=1 (table on stdout only),
#   LOGS=DIR (keep every run's guest logs).
# Output: progress lines on stderr; the table on stdout; docs/RESULTS.md's experiment section
# (between <!-- experiment:begin --> and <!-- experiment:end -->), docs/results.png and the
# medians it is drawn from, docs/results.dat. `bench/experiment.sh --chart-only` redraws the
# PNG from docs/results.dat.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
RUNS=${RUNS:-3}
SECS=${SECS:-10}
ROWS=${ROWS:-tap vale pipe tap-e1000 vale-e1000 sock-e1000 testpmd pt}
PT_MODE=${PT_MODE:-plain}
PT_N=${PT_N:-1000000}
PT_PINGS=${PT_PINGS:-10000}
RESULTS=$SRC/docs/RESULTS.md
CHART=$SRC/docs/results.png

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vnm-exp.XXXXXX")
CHILD=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# bench-pair.sh and pt.sh tear down their own guests, daemons, testpmd and netns on
	# TERM; we only have to stop the one running now (its process group)
	if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
		kill -TERM "$CHILD" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$CHILD" 2>/dev/null
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }
LOADS=()

# draw_chart DATFILE TITLE: docs/results.png, one panel per column (missing value = no bar)
draw_chart() {
	command -v gnuplot >/dev/null || { say "no gnuplot: chart not drawn (apt-get install gnuplot-nox)"; return 0; }
	gnuplot <<EOF 2>"$WORK/gnuplot.err" || say "gnuplot failed: $(head -n 2 "$WORK/gnuplot.err")"
set terminal pngcairo size 1400,900 font "sans,10" noenhanced
set output "$CHART"
set datafile missing "NaN"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set xtics rotate by -35 font "sans,8"
set xrange [-0.6:7.6]
set yrange [0:*]
set grid ytics
unset key
set multiplot layout 2,2 title "$2"
set title "TCP stream (iperf3), Gbps"
plot "$1" using 2:xtic(1) lc rgb "#4477aa"
set title "TCP request/response (sockperf), K transactions/s"
plot "$1" using 3:xtic(1) lc rgb "#66ccee"
set title "ping -f average RTT, us (passthrough: pkt-gen ping/pong)"
plot "$1" using 4:xtic(1) lc rgb "#ee6677"
set title "60-byte packets, Mpps delivered (log scale)"
set logscale y
set yrange [0.01:*]
plot "$1" using 5:xtic(1) lc rgb "#228833"
unset multiplot
EOF
	[ -s "$CHART" ] && say "wrote $CHART"
}
if [ "${1:-}" = --chart-only ]; then
	# redraw docs/results.png from docs/results.dat (the medians of the last run; its first
	# line, a comment, is the title)
	t=$(sed -n '1s/^# //p' "$SRC/docs/results.dat")
	draw_chart "$SRC/docs/results.dat" "${t:-vnetmap experiment}"
	exit 0
fi

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { say "no build directory $BUILD (run make)"; exit 1; }
BIN=$BUILD/bin
[ "$(id -u)" -eq 0 ] || say "not root: the TAP, e1000 and testpmd rows will likely be n/a"

# --- what this machine can run: probe, never assume --------------------------------------
declare -A NA=() LABEL_FE=() LABEL_BE=() MODE=()
LABEL_FE=([tap]=virtio-net [vale]=virtio-net [pipe]=virtio-net [tap-e1000]=e1000
	[vale-e1000]=e1000 [sock-e1000]=e1000 [testpmd]=virtio-net [pt-vale]=passthrough [pt-pipe]=passthrough)
LABEL_BE=([tap]="TAP + Linux bridge" [vale]="vnetmap VALE (vhost-user)"
	[pipe]="vnetmap pipe (vhost-user)" [tap-e1000]="TAP + Linux bridge"
	[vale-e1000]="vnetmap VALE (TAP host port)" [sock-e1000]="vnetmap VALE (socket port, -netdev stream)"
	[testpmd]="DPDK testpmd vhost-user (io fwd)"
	[pt-vale]="vnetmap VALE (ivshmem)" [pt-pipe]="vnetmap pipe (ivshmem)")
ALL_ROWS="tap vale pipe tap-e1000 vale-e1000 sock-e1000 testpmd pt-vale pt-pipe"
command -v qemu-system-x86_64 >/dev/null || for r in $ALL_ROWS; do NA[$r]="no qemu-system-x86_64"; done
[ -x "$BIN/vnetmapd" ] || for r in vale pipe vale-e1000 sock-e1000 pt-vale pt-pipe; do NA[$r]="no vnetmapd built"; done
if [ -x "$BIN/vnetmapd" ] && ! "$BIN/vnetmapd" --help 2>&1 | grep -q -- 'netmap:X{N'; then
	NA[pipe]="vnetmapd cannot serve pipe ends as vhost-user"
fi
if [ -x "$BIN/vale-ctl" ] && ! "$BIN/vale-ctl" --help 2>&1 | grep -q 'af_packet'; then
	NA[vale-e1000]="vale-ctl cannot attach a host interface (no af_packet in vale-ctl --help)"
fi
if [ -x "$BIN/vale-ctl" ] && ! "$BIN/vale-ctl" --help 2>&1 | grep -q -- '--stream'; then
	NA[sock-e1000]="vale-ctl has no socket ports (--stream)"
fi
if [ -x "$BIN/vale-ctl" ] && ! "$BIN/vale-ctl" --help 2>&1 | grep -q -- '--passthrough'; then
	NA[pt-vale]="vale-ctl has no --passthrough"; NA[pt-pipe]=${NA[pt-vale]}
fi
[ -x "$SRC/bench/pt.sh" ] || { NA[pt-vale]="no bench/pt.sh"; NA[pt-pipe]="no bench/pt.sh"; }
command -v dpdk-testpmd >/dev/null || NA[testpmd]="no dpdk-testpmd (apt-get install dpdk)"
if [ "$(id -u)" -ne 0 ]; then
	for r in tap tap-e1000 vale-e1000; do NA[$r]=${NA[$r]:-"needs root (netns, TAP)"}; done
fi
[ -c /dev/net/tun ] || for r in tap tap-e1000 vale-e1000; do NA[$r]="no /dev/net/tun"; done

PAIRS=() PT=0
for r in $ROWS; do
	case $r in
	pt) PT=1 ;;
	tap|vale|pipe|tap-e1000|vale-e1000|sock-e1000|testpmd) PAIRS+=("$r") ;;
	*) say "unknown row $r (rows: tap vale pipe tap-e1000 vale-e1000 sock-e1000 testpmd pt)"; exit 2 ;;
	esac
done
RUNNABLE=()
for r in "${PAIRS[@]}"; do [ -z "${NA[$r]:-}" ] && RUNNABLE+=("$r"); done
PT_RUN=0
[ $PT -eq 1 ] && { [ -z "${NA[pt-vale]:-}" ] || [ -z "${NA[pt-pipe]:-}" ]; } && PT_RUN=1

# --- estimate: a pair run is ~25 s of boots and hand-overs plus 5 tests of ~SECS each
# (ping -f up to 2 SECS, the idle ping 4 s); a passthrough round is four guest boots.
per_pair=$((25 + 5 * SECS))
per_pt=120
total=$(( RUNS * (${#RUNNABLE[@]} * per_pair + PT_RUN * per_pt) + 20 ))
say "experiment: RUNS=$RUNS SECS=$SECS; ${#RUNNABLE[@]} VM-pair rows + $([ $PT_RUN -eq 1 ] && echo 1 || echo 0) passthrough set," \
	"interleaved; estimated total $((total / 60)) min $((total % 60)) s" \
	"(finish ~$(date -d "+$total sec" +%H:%M))"
for r in "${PAIRS[@]}" $([ $PT -eq 1 ] && echo pt-vale pt-pipe); do
	[ -n "${NA[$r]:-}" ] && say "row ${LABEL_FE[$r]} + ${LABEL_BE[$r]}: n/a (${NA[$r]})"
done
LOAD_START=$(cat /proc/loadavg)

say "step 0: guest image ($BUILD/vm)"
"$SRC/vm/build-image.sh" "$BUILD/vm" "$BIN" >"$WORK/image.log" 2>&1 ||
	{ say "image build failed: $(tail -n 3 "$WORK/image.log")"; exit 1; }

RAW=$WORK/raw      # "ROW key=value ..." per run
: >"$RAW"
declare -A FAILS=()
nsteps=$(( RUNS * (${#RUNNABLE[@]} + PT_RUN) ))
step=0
T0=$(date +%s)
for run in $(seq "$RUNS"); do
	for r in "${RUNNABLE[@]}"; do
		step=$((step + 1))
		LOADS+=("$(load1)")
		say "step $step/$nsteps: run $run/$RUNS, ${LABEL_FE[$r]} + ${LABEL_BE[$r]} (load $(load1))"
		args=("$r")
		case $r in
		vale-e1000) args=(vale-tap --model e1000) ;;
		sock-e1000) args=(vale-socket --model e1000) ;;
		esac
		out=()
		[ -n "${LOGS:-}" ] && out=(--out "$LOGS/$r-$run")
		"$SRC/vm/bench-pair.sh" "${args[@]}" --image "$BUILD/vm" --tools "$BIN" --time "$SECS" \
			"${out[@]}" >"$WORK/pair.out" 2>"$WORK/pair.err" &
		CHILD=$!
		wait "$CHILD"
		rc=$?
		CHILD=
		line=$(grep -E "^${args[0]} " "$WORK/pair.out" | tail -n 1)
		if [ -n "$line" ]; then
			echo "$r ${line#* }" >>"$RAW"
			say "  -> ${line#* } (rc $rc)"
		fi
		if [ $rc -ne 0 ]; then
			FAILS[$r]="$(grep -v '^#' "$WORK/pair.err" | grep -m1 -E 'bench-pair|error|fail' | cut -c1-80)"
			[ -n "${FAILS[$r]}" ] || FAILS[$r]="exit status $rc"
			say "  run failed: ${FAILS[$r]}"
			cp "$WORK/pair.err" "$WORK/$r-$run.err"
		fi
	done
	if [ $PT_RUN -eq 1 ]; then
		step=$((step + 1))
		LOADS+=("$(load1)")
		say "step $step/$nsteps: run $run/$RUNS, passthrough + VALE and + pipe (bench/pt.sh, ivshmem $PT_MODE) (load $(load1))"
		RUNS=1 MODES=$PT_MODE N=$PT_N PINGS=$PT_PINGS "$SRC/bench/pt.sh" "$BUILD" >"$WORK/pt.out" 2>"$WORK/pt.err" &
		CHILD=$!
		wait "$CHILD"
		rc=$?
		CHILD=
		# "pt pt+VALE tx 60B plain: 1.23 Mpps (runs: 1.23)"
		while read -r l; do
			v=$(echo "$l" | sed -n -E 's/^pt [^:]*: ([0-9.]+) (Mpps|us) .*/\1/p')
			[ -n "$v" ] || continue
			case $l in
			"pt pt+VALE tx"*) echo "pt-vale pt_mpps=$v" >>"$RAW" ;;
			"pt pt+pipe tx"*) echo "pt-pipe pt_mpps=$v" >>"$RAW" ;;
			"pt pt+VALE ping"*) echo "pt-vale pt_rtt_us=$v" >>"$RAW" ;;
			"pt pt+pipe ping"*) echo "pt-pipe pt_rtt_us=$v" >>"$RAW" ;;
			esac
			say "  -> $l"
		done <"$WORK/pt.out"
		[ $rc -eq 0 ] || { FAILS[pt]="bench/pt.sh: $(tail -n 1 "$WORK/pt.err" | cut -c1-80)"; say "  ${FAILS[pt]}"; }
	fi
done
ELAPSED=$(( $(date +%s) - T0 ))
LOADS+=("$(load1)")
LOAD_END=$(cat /proc/loadavg)

# --- medians -------------------------------------------------------------------------------
# med ROW KEY: median of the runs that produced KEY, empty if none
med() {
	awk -v r="$1" -v k="$2" '$1 == r { for (i = 2; i <= NF; i++) { n = index($i, "=");
		if (substr($i, 1, n - 1) == k && substr($i, n + 1) != "") print substr($i, n + 1) } }' "$RAW" |
		sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2];
			else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
nruns() { awk -v r="$1" -v k="$2" '$1 == r && index($0, " " k "=") { n = split($0, f, " ");
	for (i = 2; i <= n; i++) if (f[i] ~ ("^" k "=[0-9]")) c++ } END { print c + 0 }' "$RAW"; }
fmt() { awk -v v="$1" -v s="$2" -v d="$3" 'BEGIN { printf "%." d "f", v * s }'; }
accel=$(sed -n -E 's/.* accel=([a-z]+).*/\1/p' "$RAW" | sort -u | paste -sd, -)

TABLE=$WORK/table.md
DAT=$WORK/chart.dat
{
	echo "| Front-end | Back-end | TCP_STREAM | TCP_RR | ping -f | pkt-gen |"
	echo "|---|---|---|---|---|---|"
} >"$TABLE"
: >"$DAT"
na_reason() { # row: why a row has no figure
	local r=$1 key=${2:-$1}
	if [ -n "${NA[$r]:-}" ]; then echo "${NA[$r]}"
	elif [ -n "${FAILS[$key]:-}" ]; then echo "every run failed: ${FAILS[$key]}"
	else echo "not in ROWS"; fi
}
for r in $ALL_ROWS; do
	fe=${LABEL_FE[$r]} be=${LABEL_BE[$r]}
	case $r in
	pt-vale|pt-pipe)
		if [ $PT -eq 0 ] || [ -n "${NA[$r]:-}" ] || [ -z "$(med "$r" pt_mpps)$(med "$r" pt_rtt_us)" ]; then
			why=$(na_reason "$r" pt)
			echo "| $fe | $be | n/a ($why) | n/a | n/a | n/a |" >>"$TABLE"
			echo "\"$fe\\n$be\" NaN NaN NaN NaN" >>"$DAT"
			continue
		fi
		m=$(med "$r" pt_mpps) rtt=$(med "$r" pt_rtt_us)
		c3="n/a (no pkt-gen RTT)"; c4="n/a (no pkt-gen tx)"
		[ -n "$rtt" ] && c3="$(fmt "$rtt" 1 1) µs (pkt-gen ping/pong RTT)"
		[ -n "$m" ] && c4="$(fmt "$m" 1 3) Mpps (netmap pkt-gen)"
		echo "| $fe | $be | n/a (no guest kernel NIC: netmap port only, no ptnet driver) | n/a (same) | $c3 | $c4 |" >>"$TABLE"
		echo "\"$fe\\n$be\" NaN NaN ${rtt:-NaN} ${m:-NaN}" >>"$DAT"
		;;
	*)
		if [ -n "${NA[$r]:-}" ] || ! grep -q "^$r " "$RAW"; then
			why=$(na_reason "$r")
			echo "| $fe | $be | n/a ($why) | n/a | n/a | n/a |" >>"$TABLE"
			echo "\"$fe\\n$be\" NaN NaN NaN NaN" >>"$DAT"
			continue
		fi
		g=$(med "$r" iperf_mbps) k=$(med "$r" rr_tps) p=$(med "$r" pingf_avg_us)
		rx=$(med "$r" pktgen_rx_pps) tx=$(med "$r" pktgen_tx_pps)
		c1=n/a c2=n/a c3=n/a c4=n/a
		[ -n "$g" ] && c1="$(fmt "$g" 0.001 2) Gbps"
		[ -n "$k" ] && c2="$(fmt "$k" 0.001 2) Ktps"
		[ -n "$p" ] && c3="$(fmt "$p" 1 0) µs"
		[ -n "$rx" ] && c4="$(fmt "$rx" 0.000001 3) Mpps (tx $(fmt "${tx:-0}" 0.000001 3))"
		for v in g k p rx; do [ -n "${!v}" ] || eval "$v=NaN"; done
		n=$(nruns "$r" iperf_mbps)
		[ "$n" -lt "$RUNS" ] && c1="$c1 ($n/$RUNS runs)"
		echo "| $fe | $be | $c1 | $c2 | $c3 | $c4 |" >>"$TABLE"
		echo "\"$fe\\n$be\" $(awk -v g="$g" -v k="$k" -v p="$p" -v x="$rx" 'BEGIN {
			printf "%s %s %s %s", (g == "NaN" ? g : g / 1000), (k == "NaN" ? k : k / 1000), p,
			(x == "NaN" ? x : x / 1e6) }')" >>"$DAT"
		;;
	esac
done

# --- the machine ---------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
qemu=$(qemu-system-x86_64 --version 2>/dev/null | head -n 1 | sed 's/^QEMU emulator version //')
gk=$(sed -n -E 's/^kernel[^ ]* *//p' "$BUILD/vm/manifest" 2>/dev/null | head -n 1)
[ -n "$gk" ] || gk=$(ls "$BUILD/vm" 2>/dev/null | grep -m1 -o 'linux-image[^ ]*')
dpdk=$(dpkg-query -W -f='${Version}' dpdk 2>/dev/null)
lmin=$(printf '%s\n' "${LOADS[@]}" | sort -g | head -n 1)
lmax=$(printf '%s\n' "${LOADS[@]}" | sort -g | tail -n 1)
HDR=$WORK/hdr.md
{
	echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`RUNS=$RUNS SECS=$SECS make experiment\`, $((ELAPSED / 60)) min $((ELAPSED % 60)) s."
	echo
	echo "- Machine: $cpu, $(nproc) cores; tree: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo '?')"
	echo "- Accelerator: ${accel:-unknown} (guests: 1 vCPU, 512 MiB each)"
	echo "- QEMU: ${qemu:-?}; host kernel: $(uname -r); guest kernel: ${gk:-?}; DPDK: ${dpdk:-not installed}"
	echo "- Load average (1/5/15 min): at start $(echo "$LOAD_START" | cut -d' ' -f1-3), at end $(echo "$LOAD_END" | cut -d' ' -f1-3); 1-min value sampled before every step: min $lmin, max $lmax"
	echo "- Each cell: the median of $RUNS runs, $SECS s per test, configurations interleaved (one run of every row per round)."
	echo "- Columns: iperf3 TCP stream (receiver); sockperf TCP ping-pong 64 B, transactions/s = 1e6 / (2 x one-way latency);"
	echo "  iputils \`ping -f\` average RTT; guest kernel pktgen 60-byte UDP frames, rate delivered to the peer's eth0 (sender's rate in parentheses)."
	echo "  Passthrough rows: netmap pkt-gen in the guest on an exported port (ivshmem-$PT_MODE), 60-byte frames to a host pkt-gen ($PT_N per run),"
	echo "  and pkt-gen ping/pong RTT in the ping column (not ping -f: there is no guest kernel NIC)."
}>"$HDR"

echo
cat "$HDR"
echo
cat "$TABLE"

[ -n "${NO_DOCS:-}" ] && exit 0

# --- docs/RESULTS.md: only the experiment section ------------------------------------------
SEC=$WORK/section.md
{
	echo "<!-- experiment:begin -->"
	echo "## The experiment (\`make experiment\`)"
	echo
	echo "Generated by bench/experiment.sh; do not edit by hand. Comparison with the tutorial: [EXPERIMENT.md](EXPERIMENT.md)."
	echo
	cat "$HDR"
	echo
	cat "$TABLE"
	echo
	echo "![results](results.png)"
	echo "<!-- experiment:end -->"
} >"$SEC"
if [ ! -f "$RESULTS" ]; then
	{ echo "# Results"; echo; cat "$SEC"; } >"$RESULTS"
elif grep -q '<!-- experiment:begin -->' "$RESULTS" && grep -q '<!-- experiment:end -->' "$RESULTS"; then
	awk -v sec="$SEC" '
		/<!-- experiment:begin -->/ { while ((getline l < sec) > 0) print l; skip = 1; next }
		/<!-- experiment:end -->/ { skip = 0; next }
		!skip { print }' "$RESULTS" >"$WORK/results.new" && cat "$WORK/results.new" >"$RESULTS"
else
	{ echo; cat "$SEC"; } >>"$RESULTS"
fi
say "wrote $RESULTS (experiment section)"

# --- the chart -----------------------------------------------------------------------------
TITLE="vnetmap experiment: ${accel:-?} guests, $(nproc) host cores, median of $RUNS x ${SECS}s runs ($(date -u +%Y-%m-%d)); missing bar = n/a"
{ echo "# $TITLE"; cat "$DAT"; } >"$SRC/docs/results.dat"
draw_chart "$DAT" "$TITLE"
exit 0
