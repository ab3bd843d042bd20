#!/usr/bin/env bash
# The peers section of make bench (issue 15): the same fio job, 4 KiB
# random reads at QD 1 and QD 32 from one page-cached file, through
#   io_uring   fio's io_uring engine on the file itself;
#   ringd      fio with libringd-fio.so against a ringd serving the file
#              as a buffered volume;
#   qsd-fuse   qemu-storage-daemon's FUSE export of the file (fio io_uring,
#              O_DIRECT on the mount);
#   qsd-nbd    qemu-storage-daemon's NBD export on a unix socket (fio's
#              nbd engine).
# Servers (ringd, both qemu-storage-daemons) are pinned to
# BENCH_DAEMON_CPU, fio to BENCH_CLIENT_CPU. Every point runs
# BENCH_REPEAT times in alternating rounds (round 1 of every peer, then
# round 2, ...), the run with the most IOPS is kept and the spread is
# reported. A peer that cannot run here is reported with the reason.
# Writes peers.tsv, peers.dat, peers.png/svg, peers.md and the best fio
# JSON of each point (peers-PEER-qdN.json) in RESULTS_DIR; run-bench.sh
# appends peers.md to summary.md.
#
#   tests/bench/run-peers.sh BUILD_DIR RESULTS_DIR
#
# Environment: BENCH_RUNTIME (seconds per point, default 4; fio takes
# whole seconds), BENCH_REPEAT (2), BENCH_VOL_SIZE (1G),
# BENCH_DAEMON_CPU (0), BENCH_CLIENT_CPU (1). Needs root (ringd's tenant
# is uid 0, the FUSE export mounts).
set -euo pipefail

build=$(cd "${1:?usage: run-peers.sh BUILD_DIR RESULTS_DIR}" && pwd)
out=${2:?usage: run-peers.sh BUILD_DIR RESULTS_DIR}
rt=${BENCH_RUNTIME:-4}
repeat=${BENCH_REPEAT:-2}
volsize=${BENCH_VOL_SIZE:-1G}
dcpu=${BENCH_DAEMON_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
ringd="$build/daemon/ringd"
engine="$build/client-lib/fio/libringd-fio.so"
fio_rt=$(( ${rt%.*} > 0 ? ${rt%.*} : 1 ))

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup peers
command -v gnuplot >/dev/null || { echo "run-peers: gnuplot missing (make deps)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/peers.tsv "$out"/peers.dat "$out"/peers.md "$out"/peers.png "$out"/peers.svg \
	"$out"/peers-*.json

peers=(io_uring ringd qsd-fuse qsd-nbd)
declare -A title=(
	[io_uring]="fio io_uring on the file"
	[ringd]="fio + libringd-fio.so → ringd (buffered volume)"
	[qsd-fuse]="qemu-storage-daemon FUSE export (fio io_uring, O_DIRECT)"
	[qsd-nbd]="qemu-storage-daemon NBD export, unix socket (fio nbd)"
)
declare -A short=(
	[io_uring]="fio io_uring"
	[ringd]="ringd (libringd-fio)"
	[qsd-fuse]="QSD FUSE"
	[qsd-nbd]="QSD NBD"
)
# why[PEER]: empty while the peer can be measured, else why it is not.
declare -A why=([io_uring]="" [ringd]="" [qsd-fuse]="" [qsd-nbd]="")
# skip PEER REASON: the peer is not measured, and the output says why.
skip() {
	[ -n "${why[$1]}" ] && return 0
	# It goes in a TSV field and a markdown table cell.
	why[$1]=${2//[$'\t'|]/ }
	echo "run-peers: ${short[$1]}: not measured: ${why[$1]}"
}

# mounted PATH: something is mounted on PATH.
mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}
# stop PID: TERM, then KILL after 5 s; PID need not be our child.
stop() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL "$1" 2>/dev/null || true
}
# Run by bench_cleanup before it stops ringd and removes $work.
bench_cleanup_hook() {
	local f
	for f in "$work"/qsd-*.pid; do
		[ -s "$f" ] && stop "$(cat "$f")"
	done
	# A qemu-storage-daemon that died without unmounting leaves the mount.
	if mounted "$work/fuse.img"; then
		umount "$work/fuse.img" 2>/dev/null || umount -l "$work/fuse.img" || true
	fi
}
trap 'exit 130' INT TERM

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

if ! command -v fio >/dev/null; then
	for p in "${peers[@]}"; do
		skip "$p" "fio is not installed (make deps)"
	done
fi

# One file for every peer, filled and read once: every read hits the page
# cache, so what is measured is each path's software overhead.
img="$work/bench.img"
echo "run-peers: filling a $volsize file"
bench_fill "$img" "$volsize"

# ringd serving the file as a buffered volume, as run-bench.sh starts it.
if [ ! -x "$ringd" ]; then
	skip ringd "$ringd is not built (make build)"
elif [ ! -f "$engine" ]; then
	skip ringd "$engine is not built (meson option fio: needs the Debian source of the installed fio)"
fi
if [ -z "${why[ringd]}" ]; then
	cat >"$work/ringd.conf" <<EOF
[daemon]
socket = $work/ringd.sock
state_dir = $work/state
log_level = warn
max_sessions = 256

[volume bench]
path = $img
direct = no

[tenant bench]
uid = 0
volumes = bench:rw
max_sessions = 128
max_session_memory = 64M
max_inflight = 1024
EOF
	taskset -c "$dcpu" "$ringd" -c "$work/ringd.conf" 2>"$work/ringd.log" &
	daemon_pid=$!
	for _ in $(seq 100); do
		[ -S "$work/ringd.sock" ] && break
		sleep 0.05
	done
	if [ ! -S "$work/ringd.sock" ]; then
		skip ringd "ringd did not start: $(head -n1 "$work/ringd.log")"
	fi
fi

# qsd NAME EXPORT-ARGS...: start a qemu-storage-daemon (pinned, read-only,
# page cache, io_uring) serving the file; it forks once its exports are up.
# On failure its first line of errors is in $work/qsd-NAME.log.
qsd() {
	local name=$1
	shift
	taskset -c "$dcpu" qemu-storage-daemon --daemonize --pidfile "$work/qsd-$name.pid" \
		--blockdev "driver=file,node-name=file0,filename=$img,read-only=on,locking=off,cache.direct=off,aio=io_uring" \
		--blockdev driver=raw,node-name=raw0,file=file0,read-only=on \
		"$@" >"$work/qsd-$name.log" 2>&1
}
# The first line of a log, for a reason, or a stand-in if it is empty.
first_line() {
	local l
	l=$(grep -m1 . "$1" 2>/dev/null || true)
	echo "${l:-no message}"
}

if ! command -v qemu-storage-daemon >/dev/null; then
	skip qsd-fuse "qemu-storage-daemon is not installed (Debian package qemu-system-common)"
	skip qsd-nbd "qemu-storage-daemon is not installed (Debian package qemu-system-common)"
fi
if [ ! -c /dev/fuse ]; then
	skip qsd-fuse "no /dev/fuse on this machine"
elif ! grep -qw fuse /proc/filesystems && ! modprobe fuse 2>/dev/null; then
	skip qsd-fuse "the kernel has no fuse file system (and modprobe fuse failed)"
fi
if [ -z "${why[qsd-fuse]}" ]; then
	# The export's mountpoint is a regular file: the mount is the image.
	: >"$work/fuse.img"
	if ! qsd fuse --export "type=fuse,id=fuse0,node-name=raw0,mountpoint=$work/fuse.img,writable=off"; then
		skip qsd-fuse "qemu-storage-daemon's FUSE export failed: $(first_line "$work/qsd-fuse.log")"
	elif ! mounted "$work/fuse.img"; then
		skip qsd-fuse "qemu-storage-daemon started but $work/fuse.img is not mounted"
	fi
fi
if command -v fio >/dev/null && ! fio --enghelp=nbd >/dev/null 2>&1; then
	skip qsd-nbd "this fio has no nbd engine (fio --enghelp does not list it; it needs libnbd)"
fi
if [ -z "${why[qsd-nbd]}" ]; then
	if ! qsd nbd --nbd-server "addr.type=unix,addr.path=$work/nbd.sock" \
		--export type=nbd,id=nbd0,node-name=raw0,name=peers,writable=off; then
		skip qsd-nbd "qemu-storage-daemon's NBD export failed: $(first_line "$work/qsd-nbd.log")"
	elif [ ! -S "$work/nbd.sock" ]; then
		skip qsd-nbd "qemu-storage-daemon started but $work/nbd.sock does not exist"
	fi
fi

# job PEER QD: the fio job, the same for every peer but its engine lines.
# The submit batch is a quarter of the queue, as in run-bench.sh.
job() {
	local qd=$2
	printf '[global]\nrw=randread\nbs=4k\niodepth=%s\niodepth_batch_submit=%s\n' \
		"$qd" $(( qd >= 4 ? qd / 4 : 1 ))
	printf 'iodepth_batch_complete_min=1\nsize=%s\ntime_based=1\nruntime=%s\n' \
		"$volsize" "$fio_rt"
	# invalidate=0: fio would otherwise drop the file's page cache before
	# each job, and the paths would read the disk, not the cache.
	printf 'norandommap=1\nrandrepeat=0\ngroup_reporting=1\ninvalidate=0\n'
	# Percentiles of the whole latency, submission to completion.
	printf 'lat_percentiles=1\nclat_percentiles=0\npercentile_list=50:99\n[job]\n'
	case $1 in
	io_uring)
		printf 'ioengine=io_uring\nfilename=%s\nfixedbufs=1\nregisterfiles=1\n' "$img" ;;
	ringd)
		printf 'ioengine=external:%s\nvolume=bench\nringd_socket=%s\nfilename=ringd\n' \
			"$engine" "$work/ringd.sock" ;;
	qsd-fuse)
		printf 'ioengine=io_uring\nfilename=%s\ndirect=1\nfixedbufs=1\nregisterfiles=1\n' \
			"$work/fuse.img" ;;
	qsd-nbd)
		printf 'ioengine=nbd\nuri=nbd+unix:///peers?socket=%s\n' "$work/nbd.sock" ;;
	esac
}
# fio_read FILE: "IOPS P50_NS P99_NS" of the reads in fio's JSON output.
fio_read() {
	awk '/"read" : \{/ { r = 1 }
		function val() { gsub(/[ ,]/, ""); split($0, a, ":"); return a[2] }
		r && iops == "" && /"iops" :/ { iops = val() }
		r && /"lat_ns" : \{/ { l = 1 }
		l && /"50\.000000" :/ { p50 = val() }
		l && /"99\.000000" :/ { print iops, p50, val(); exit }' "$1"
}

# Rounds: every measurable peer at each QD, then again; runs.tsv gets
# PEER QD ROUND IOPS P50_NS P99_NS per run, the best JSON is kept.
qds=(1 32)
: >"$work/runs.tsv"
for round in $(seq "$repeat"); do
	for qd in "${qds[@]}"; do
		for p in "${peers[@]}"; do
			[ -z "${why[$p]}" ] || continue
			echo "run-peers: round $round/$repeat, QD $qd, ${short[$p]}"
			job "$p" "$qd" >"$work/$p.fio"
			if ! taskset -c "$ccpu" fio --output-format=json --output="$work/try.json" \
				"$work/$p.fio" >/dev/null 2>"$work/fio.err"; then
				skip "$p" "fio failed at QD $qd: $(first_line "$work/fio.err")"
				continue
			fi
			read -r iops p50 p99 < <(fio_read "$work/try.json") || true
			if [ -z "${iops:-}" ] || awk "BEGIN { exit !(${iops:-0} <= 0) }"; then
				skip "$p" "fio reported no reads at QD $qd (see its JSON)"
				continue
			fi
			best=$(awk -v p="$p" -v q="$qd" '$1 == p && $2 == q && $4 > b { b = $4 }
				END { print b + 0 }' "$work/runs.tsv")
			if awk "BEGIN { exit !($iops > $best) }"; then
				cp "$work/try.json" "$out/peers-$p-qd$qd.json"
			fi
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$qd" "$round" "$iops" "$p50" "$p99" \
				>>"$work/runs.tsv"
		done
	done
done

ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# peers.tsv: one line per peer and QD, the best run's figures and the
# spread; a peer not measured has empty figures and the reason.
tsv="$out/peers.tsv"
printf 'peer\tqd\tiops_best\tiops_min\tiops_max\tp50_us\tp99_us\truns\tnot_measured\n' >"$tsv"
for p in "${peers[@]}"; do
	for qd in "${qds[@]}"; do
		if [ -n "${why[$p]}" ]; then
			printf '%s\t%s\t\t\t\t\t\t0\t%s\n' "$p" "$qd" "${why[$p]}" >>"$tsv"
			continue
		fi
		awk -F'\t' -v p="$p" -v q="$qd" -v OFS='\t' '$1 == p && $2 == q {
				n++
				if (n == 1 || $4 < mn) mn = $4
				if (n == 1 || $4 > mx) { mx = $4; p50 = $5; p99 = $6 }
			}
			END { printf "%s\t%s\t%.0f\t%.0f\t%.0f\t%.2f\t%.2f\t%d\t\n",
				p, q, mx, mn, mx, p50 / 1000, p99 / 1000, n }' "$work/runs.tsv" >>"$tsv"
	done
done

# get PEER QD FIELD: one field of peers.tsv (1-based, as its header).
get() {
	awk -F'\t' -v p="$1" -v q="$2" -v f="$3" '$1 == p && $2 == q { print $f; exit }' "$tsv"
}
# sep N: N with thousands separators.
sep() {
	sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"
}
# ratio PEER QD: best IOPS against fio io_uring's at the same QD.
ratio() {
	local a b
	a=$(get "$1" "$2" 3) b=$(get io_uring "$2" 3)
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "—"
	else
		awk "BEGIN { printf \"%.3g ×\", $a / $b }"
	fi
}
# iops_cell PEER QD: best IOPS and the spread of the runs.
iops_cell() {
	if [ "$(get "$1" "$2" 8)" -gt 1 ]; then
		echo "$(sep "$(get "$1" "$2" 3)") ($(sep "$(get "$1" "$2" 4)")–$(sep "$(get "$1" "$2" 5)"))"
	else
		sep "$(get "$1" "$2" 3)"
	fi
}

# Plot: IOPS per peer, QD 1 and QD 32 side by side, log scale (the
# peers are orders of magnitude apart). A peer not measured has no bars
# and says so in its label.
{
	echo "# peer qd1_iops qd32_iops"
	for p in "${peers[@]}"; do
		if [ -n "${why[$p]}" ]; then
			printf '"%s\\n(not measured)" NaN NaN\n' "${short[$p]}"
		else
			printf '"%s" %s %s\n' "${short[$p]}" "$(get "$p" 1 3)" "$(get "$p" 32 3)"
		fi
	done
} >"$out/peers.dat"
# The y axis starts at the power of ten below the smallest figure.
ymin=$(awk -F'\t' 'NR > 1 && $3 != "" && (m == "" || $3 < m) { m = $3 }
	END { e = 1000; while (m != "" && e > 1 && m < e) e /= 10; print e }' "$tsv")
plotted=yes
# A short run says so wherever its figures go (peers.md, the plot).
smoke=
if [ "$fio_rt" -lt 4 ] || [ "$repeat" -lt 2 ]; then
	smoke="smoke run (${fio_rt} s x $repeat), not a measurement: "
fi
awk -F'\t' 'NR > 1 && $3 != "" { f = 1 } END { exit !f }' "$tsv" || plotted=
for term in "pngcairo size 900,560 font ',10'" "svg size 900,560 dynamic font ',10'"; do
	[ -n "$plotted" ] || break
	ext=png
	[[ $term == svg* ]] && ext=svg
	gnuplot <<EOF
set terminal $term noenhanced
set output "$out/peers.$ext"
set title "${smoke}4 KiB random reads from one page-cached file, fio: IOPS per path (log scale)"
set datafile missing "NaN"
k(v) = v >= 1e6 ? sprintf("%.2fM", v / 1e6) : v >= 1e4 ? sprintf("%.0fk", v / 1e3) : sprintf("%.1fk", v / 1e3)
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set logscale y
set xrange [-0.6:${#peers[@]} - 0.4]
set bmargin 4
set yrange [$ymin:*]
set format y "%.0s%c"
set ylabel "IOPS"
set grid ytics
set key top right
plot "$out/peers.dat" using 2:xtic(1) lc rgb "#a0a0a0" title "QD 1", \
     "" using 3 lc rgb "#3060a0" title "QD 32", \
     "" using (\$0 - 0.17):(\$2 * 1.15):(k(\$2)) with labels notitle, \
     "" using (\$0 + 0.17):(\$3 * 1.15):(k(\$3)) with labels notitle
EOF
done

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, kernel $(uname -r)"
qsd_version=$(qemu-storage-daemon --version 2>/dev/null | head -n1 || true)
{
	echo
	echo "## Peers (\`tests/bench/run-peers.sh\`)"
	echo
	if [ -n "$smoke" ]; then
		echo "**Smoke run** (${fio_rt} s per point, $repeat run(s) each): it shows the section works end"
		echo "to end; the figures are not a measurement."
		echo
	fi
	echo "- $started to $ended (UTC), $machine; load average before $load_before,"
	if [ "$repeat" -gt 1 ]; then
		echo "  after $load_after. Each point is the best of $repeat runs of ${fio_rt} s in"
		echo "  alternating rounds, the spread of the runs in parentheses."
	else
		echo "  after $load_after. Each point is one run of ${fio_rt} s (no spread)."
	fi
	echo "- One ${volsize} file, filled and read once so that every read hits the page cache."
	echo "  The same fio job for every path: rw=randread bs=4k, iodepth 1 and 32 (submit"
	echo "  batch 1 and 8), norandommap; latency is fio's submission-to-completion"
	echo "  percentile. Servers (ringd, qemu-storage-daemon) pinned to CPU $dcpu, fio to CPU $ccpu."
	echo "- io_uring: fixedbufs, registerfiles. ringd: \`libringd-fio.so\`, buffered volume."
	echo "  qemu-storage-daemon${qsd_version:+ (${qsd_version#qemu-storage-daemon })}: file driver"
	echo "  read-only, page cache, aio=io_uring, raw node; FUSE export read with fio's io_uring"
	echo "  engine and O_DIRECT on the mount, NBD export on a unix socket read with fio's nbd engine."
	echo
	echo "| path | QD 1 IOPS | QD 1 p50 / p99 µs | QD 32 IOPS | QD 32 p50 / p99 µs | × fio io_uring, QD 1 / QD 32 |"
	echo "|---|---|---|---|---|---|"
	for p in "${peers[@]}"; do
		if [ -n "${why[$p]}" ]; then
			echo "| ${title[$p]} | not measured: ${why[$p]} | | | | |"
			continue
		fi
		echo "| ${title[$p]} | $(iops_cell "$p" 1) | $(get "$p" 1 6) / $(get "$p" 1 7) |" \
			"$(iops_cell "$p" 32) | $(get "$p" 32 6) / $(get "$p" 32 7) |" \
			"$(ratio "$p" 1) / $(ratio "$p" 32) |"
	done
	echo
	if [ -n "$plotted" ]; then
		echo "![IOPS per path](peers.svg)"
	else
		echo "No plot: no path was measured."
	fi
} >"$out/peers.md"
echo "run-peers: results in $out (peers.md, peers.tsv, peers.png/svg)"
