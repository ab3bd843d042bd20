#!/usr/bin/env bash
# make bench: run the direct-io_uring vs ringd comparison matrix on this
# machine and write tests/bench/results/ (JSON per run, results.tsv,
# gnuplot PNG+SVG plots, summary.md), then the QoS section (run-qos.sh),
# the readv / durable-write section (run-dataops.sh), the plain-loop and
# 1000-session section (run-plain.sh), the peers (run-peers.sh) and
# namespace work next to the data path (run-files.sh) and SQLite's
# speedtest1 on the ringd VFS (run-sqlite.sh).
#
#   tests/bench/run-bench.sh BUILD_DIR [RESULTS_DIR]
#
# Environment: BENCH_RUNTIME (seconds per point, default 4), BENCH_REPEAT
# (runs per point, the best kept, default 2), BENCH_IDLE
# (seconds of the idle-sessions point, default 10), BENCH_VOL_SIZE (1G),
# BENCH_DAEMON_CPU (0) and BENCH_CLIENT_CPU (1): the daemon gets one core,
# the clients the other. Needs root (the daemon, its tenant uid 0, and the
# kernel's syscall counters).
set -euo pipefail

build=${1:?usage: run-bench.sh BUILD_DIR [RESULTS_DIR]}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$src/tests/bench/results}
build=$(cd "$build" && pwd)
rt=${BENCH_RUNTIME:-4}
idle=${BENCH_IDLE:-10}
repeat=${BENCH_REPEAT:-2}
volsize=${BENCH_VOL_SIZE:-1G}
dcpu=${BENCH_DAEMON_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
bench="$build/client-lib/ringd-bench"
ringd="$build/daemon/ringd"
engine="$build/client-lib/fio/libringd-fio.so"

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup bench
for b in "$bench" "$ringd"; do
	[ -x "$b" ] || { echo "run-bench: $b is not built" >&2; exit 1; }
done
command -v gnuplot >/dev/null || { echo "run-bench: gnuplot missing (make deps)" >&2; exit 1; }

# Syscalls per I/O come from the raw_syscalls tracepoint: tracefs must be mounted.
if [ ! -e /sys/kernel/tracing/events/raw_syscalls ] && [ -d /sys/kernel/tracing ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi


mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.dat "$out"/results.tsv "$out"/*.png "$out"/*.svg "$out"/summary.md \
	"$out"/dataops.tsv "$out"/dataops.md
tsv="$out/results.tsv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

cat >"$work/ringd.conf" <<EOF
[daemon]
socket = $work/ringd.sock
state_dir = $work/state
log_level = warn
max_sessions = 256

[volume bench]
path = $work/bench.img
direct = no

[tenant bench]
uid = 0
volumes = bench:rw
max_sessions = 128
max_session_memory = 64M
max_inflight = 1024
EOF

# A buffered volume, filled with data and read once so that every read
# hits the page cache: what is measured is software overhead.
echo "run-bench: filling a $volsize volume"
bench_fill "$work/bench.img" "$volsize"
bench_daemon "$work/ringd.conf" "$dcpu"

# run NAME ENGINE ARGS...: one point, JSON in $out/NAME.json, a TSV line.
# Each point runs $repeat times and the run with the most IOPS is kept:
# other work on the machine only ever makes a run slower.
run() {
	local name=$1 eng=$2 best=-1 i iops
	shift 2
	local tgt=(--file "$work/bench.img")
	[ "$eng" = ringd ] && tgt=(--volume bench --socket "$work/ringd.sock")
	for i in $(seq "$repeat"); do
		rm -f "$work/try.tsv"
		"$bench" --engine "$eng" "${tgt[@]}" --daemon-pid "$daemon_pid" --cpu "$ccpu" \
			--label "$name" --summary "$work/try.tsv" --cdf "$work/try.cdf" --json "$@" \
			>"$work/try.json"
		iops=$(cut -f8 "$work/try.tsv")
		if awk "BEGIN { exit !($iops > $best) }"; then
			best=$iops
			mv "$work/try.json" "$out/$name.json"
			mv "$work/try.cdf" "$out/$name.cdf.dat"
			mv "$work/try.tsv" "$work/best.tsv"
		fi
	done
	cat "$work/best.tsv" >>"$tsv"
}

echo "run-bench: IOPS vs queue depth, 4K random reads from the page cache"
for qd in 1 2 4 8 16 32 64 128; do
	for eng in direct ringd; do
		# A quarter of the queue per batch: submission and completion overlap.
		run "qd-$eng-$qd" "$eng" --workload randread --bs 4K --qd "$qd" \
			--batch $((qd >= 4 ? qd / 4 : 1)) --runtime "$rt"
	done
done

echo "run-bench: NOP, batch 32"
for eng in direct ringd; do
	run "nop-$eng" "$eng" --workload nop --qd 64 --batch 32 --runtime "$rt" --no-lat
done

echo "run-bench: 4K random writes, QD 32"
for eng in direct ringd; do
	run "randwrite-$eng" "$eng" --workload randwrite --bs 4K --qd 32 --runtime "$rt"
done

echo "run-bench: 64 processes x QD 4 vs 1 process x QD 256"
for eng in direct ringd; do
	run "procs64-$eng" "$eng" --workload randread --bs 4K --qd 4 --procs 64 --runtime "$rt"
	run "qd256-$eng" "$eng" --workload randread --bs 4K --qd 256 --runtime "$rt"
done

# The cost of the figures (issue 13): the QD32 point with [daemon] figures
# off and on, switched by a reload of the same daemon (nothing else
# changes), each state run $repeat times, alternating, the best kept.
echo "run-bench: QD32 with figures off vs on (reload between)"
set_figures() { # on|off
	sed -i '/^figures = /d' "$work/ringd.conf"
	sed -i "s/^\[daemon\]\$/[daemon]\nfigures = $1/" "$work/ringd.conf"
	# ringctl reload returns once the reload is applied (or says why not).
	"$build/client-lib/ringctl" -s "$work/ringd.sock" reload >/dev/null
}
fig_repeat=$repeat
for i in $(seq "$fig_repeat"); do
	for f in off on; do
		set_figures "$f"
		repeat=1 run "fig$f-ringd-32-$i" ringd --workload randread --bs 4K --qd 32 --batch 8 \
			--runtime "$rt"
	done
done
repeat=$fig_repeat

echo "run-bench: 64 idle sessions, daemon CPU over ${idle}s"
repeat=1 run "idle64-ringd" ringd --workload idle --procs 64 --runtime "$idle"

if command -v fio >/dev/null && [ -f "$engine" ]; then
	echo "run-bench: fio, libringd-fio vs fio's io_uring engine"
	fio_job() { # ENGINE-LINES...
		printf '[global]\nrw=randread\nbs=4k\niodepth=32\niodepth_batch_submit=8\n'
		# fio wants whole seconds.
		printf 'iodepth_batch_complete_min=1\nsize=%s\ntime_based=1\nruntime=%s\n' \
			"$volsize" "$(( ${rt%.*} > 0 ? ${rt%.*} : 1 ))"
		# invalidate=0: fio would drop the page cache of the file first, and
		# its io_uring engine would then read the disk while ringd reads the cache.
		printf 'norandommap=1\nrandrepeat=0\ngroup_reporting=1\ninvalidate=0\n[job]\n'
		printf '%s\n' "$@"
	}
	fio_job "ioengine=io_uring" "filename=$work/bench.img" "fixedbufs=1" "registerfiles=1" \
		>"$work/uring.fio"
	fio_job "ioengine=external:$engine" "volume=bench" "ringd_socket=$work/ringd.sock" \
		"filename=ringd" >"$work/ringd.fio"
	for e in uring ringd; do
		best=-1
		for _ in $(seq "$repeat"); do
			taskset -c "$ccpu" fio --output-format=json --output="$work/try-fio.json" \
				"$work/$e.fio" >/dev/null
			iops=$(awk '/"read" : \{/ { r = 1 } r && /"iops" :/ { gsub(/[ ,]/, "");
				split($0, a, ":"); print a[2]; exit }' "$work/try-fio.json")
			if awk "BEGIN { exit !($iops > $best) }"; then
				best=$iops
				mv "$work/try-fio.json" "$out/fio-$e.json"
			fi
		done
	done
else
	echo "run-bench: fio or libringd-fio.so missing: skipping the fio comparison"
fi

ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
"$src/tests/bench/report.sh" "$out" "$started" "$ended" "$load_before" "$load_after" "$rt" \
	"$repeat"

# Per-tenant QoS (its own daemons, pinned the same way).
bench_stop_daemon
"$src/tests/bench/run-qos.sh" "$build" "$out"
cat "$out/qos.md" >>"$out/summary.md"

# readv vs reads, DSYNC vs write + fdatasync (its own daemon, pinned the same way).
"$src/tests/bench/run-dataops.sh" "$build" "$out"
cat "$out/dataops.md" >>"$out/summary.md"
# The plain loop, pinned and not, and 1000 idle sessions (its own daemons).
"$src/tests/bench/run-plain.sh" "$build" "$out"
cat "$out/plain.md" >>"$out/summary.md"
# Peers (issue 15): fio io_uring, ringd, qemu-storage-daemon FUSE and NBD.
"$src/tests/bench/run-peers.sh" "$build" "$out"
cat "$out/peers.md" >>"$out/summary.md"
# Namespace work next to the data path (issue 12).
"$src/tests/bench/run-files.sh" "$build" "$out"
cat "$out/files.md" >>"$out/summary.md"
# SQLite's speedtest1 on the ringd VFS vs the unix VFS (issue 12).
"$src/tests/bench/run-sqlite.sh" "$build" "$out"
cat "$out/sqlite.md" >>"$out/summary.md"
echo "run-bench: results in $out (summary.md)"
