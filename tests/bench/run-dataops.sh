#!/usr/bin/env bash
# The data-operations section of make bench (issue 11): what vectored reads
# and durable writes cost through ringd against io_uring used directly on
# the same backing file, with the daemon pinned to one CPU and the
# benchmark to the other. Writes dataops.tsv, dataops-*.json and
# dataops.md in RESULTS_DIR (run-bench.sh appends dataops.md to
# summary.md).
#
#   tests/bench/run-dataops.sh BUILD_DIR RESULTS_DIR
#
# (a) readv of 4 x 4 KiB (one request, 16 KiB adjacent) vs 4 separate
#     4 KiB reads (randread with 4 x the queue depth, so that as many
#     bytes are in flight), from the page cache; the headline is the readv
#     IOPS ratio ringd / direct.
# (b) a 4 KiB write made durable by RWF_DSYNC / RINGD_RW_DSYNC vs a 4 KiB
#     write linked to an fdatasync, at QD 1 and QD 16, through ringd and
#     directly. These reach the disk under the volume's file.
#
# Environment: BENCH_RUNTIME (seconds per point, default 4), BENCH_REPEAT
# (runs per point, the best kept, default 2), BENCH_VOL_SIZE (1G),
# BENCH_DAEMON_CPU (0), BENCH_CLIENT_CPU (1). Needs root.
set -euo pipefail

build=$(cd "${1:?usage: run-dataops.sh BUILD_DIR RESULTS_DIR}" && pwd)
out=${2:?usage: run-dataops.sh BUILD_DIR RESULTS_DIR}
rt=${BENCH_RUNTIME:-4}
repeat=${BENCH_REPEAT:-2}
volsize=${BENCH_VOL_SIZE:-1G}
dcpu=${BENCH_DAEMON_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
bench="$build/client-lib/ringd-bench"
ringd="$build/daemon/ringd"

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup dataops
for b in "$bench" "$ringd"; do
	[ -x "$b" ] || { echo "run-dataops: $b is not built" >&2; exit 1; }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/dataops-*.json "$out/dataops.tsv" "$out/dataops.md"
tsv="$out/dataops.tsv"

cat >"$work/ringd.conf" <<EOF
[daemon]
socket = $work/ringd.sock
state_dir = $work/state
log_level = warn

[volume bench]
path = $work/bench.img
direct = no

[tenant bench]
uid = 0
volumes = bench:rw
max_inflight = 1024
EOF

echo "run-dataops: filling a $volsize volume"
bench_fill "$work/bench.img" "$volsize"
bench_daemon "$work/ringd.conf" "$dcpu"

# run NAME ENGINE ARGS...: one point, best of $repeat by IOPS, JSON in
# $out/dataops-NAME.json and its TSV line (ringd-bench --summary) in $tsv.
run() {
	local name=$1 eng=$2 best=-1 iops
	shift 2
	local tgt=(--file "$work/bench.img")
	[ "$eng" = ringd ] && tgt=(--volume bench --socket "$work/ringd.sock")
	for _ in $(seq "$repeat"); do
		rm -f "$work/try.tsv"
		"$bench" --engine "$eng" "${tgt[@]}" --daemon-pid "$daemon_pid" --cpu "$ccpu" \
			--label "$name" --summary "$work/try.tsv" --json --quiet "$@" >"$work/try.json"
		iops=$(cut -f8 "$work/try.tsv")
		if awk "BEGIN { exit !($iops > $best) }"; then
			best=$iops
			mv "$work/try.json" "$out/dataops-$name.json"
			mv "$work/try.tsv" "$work/best.tsv"
		fi
	done
	cat "$work/best.tsv" >>"$tsv"
}

echo "run-dataops: readv 4 x 4K (QD 32) vs 4K reads (QD 128), page cache"
for eng in direct ringd; do
	run "readv-$eng" "$eng" --workload readv --vecs 4 --bs 4K --qd 32 --batch 8 --runtime "$rt"
	run "reads4-$eng" "$eng" --workload randread --bs 4K --qd 128 --batch 32 --runtime "$rt"
done

echo "run-dataops: 4K DSYNC write vs 4K write + linked fdatasync, QD 1 and 16"
for qd in 1 16; do
	for eng in direct ringd; do
		run "dsync-$eng-$qd" "$eng" --workload randwrite --bs 4K --qd "$qd" --dsync \
			--runtime "$rt"
		run "fdsync-$eng-$qd" "$eng" --workload randwrite --bs 4K --qd "$qd" --fdatasync \
			--runtime "$rt"
	done
done

# col LABEL FIELD: a field of run LABEL's TSV line (see ringd-bench --summary:
# 8 IOPS, 9 MB/s, 10 p50 µs, 11 p99 µs, 13 CPU clients %, 14 CPU daemon %).
col() {
	awk -F'\t' -v l="$1" -v f="$2" '$1 == l { print $f; exit }' "$tsv"
}
calc() {
	awk "BEGIN { printf \"%.3g\", $1 }"
}
int() {
	awk "BEGIN { printf \"%.0f\", $1 }"
}
one() { # one decimal
	awk "BEGIN { printf \"%.1f\", $1 }"
}

{
	echo
	echo "## Vectored reads and durable writes (issue 11)"
	echo
	echo "\`tests/bench/run-dataops.sh\`, $(date -u +%Y-%m-%dT%H:%M:%SZ), each point the best of"
	echo "$repeat runs of ${rt}s; its own daemon on CPU $dcpu, the benchmark on CPU $ccpu, a"
	echo "$volsize buffered file volume. Direct = liburing on the same file in the benchmark process."
	echo
	echo "**readv of 4 × 4 KiB** (one request of 16 KiB in four vectors, QD 32, batch 8) against"
	echo "**4 separate 4 KiB reads** (QD 128, batch 32: the same bytes in flight), from the page"
	echo "cache. readv/reads compares MB/s (4 KiB blocks per second)."
	echo
	echo "| engine | readv req/s | readv MB/s | readv p50 µs | 4K reads IOPS | 4K reads MB/s | readv / reads |"
	echo "|---|---|---|---|---|---|---|"
	for eng in direct ringd; do
		echo "| $eng | $(int "$(col "readv-$eng" 8)") | $(one "$(col "readv-$eng" 9)") | $(one "$(col "readv-$eng" 10)") | $(int "$(col "reads4-$eng" 8)") | $(one "$(col "reads4-$eng" 9)") | $(calc "$(col "readv-$eng" 9) / $(col "reads4-$eng" 9)") × |"
	done
	echo
	echo "readv IOPS, ringd / direct: **$(calc "$(col readv-ringd 8) / $(col readv-direct 8)") ×**"
	echo "(4 KiB reads: $(calc "$(col reads4-ringd 8) / $(col reads4-direct 8)") ×)."
	echo
	echo "**Durable 4 KiB random writes**: DSYNC (RWF_DSYNC directly, RINGD_RW_DSYNC through"
	echo "ringd) against a write linked to an fdatasync (IOSQE_IO_LINK / RINGD_SQE_LINK; the pair"
	echo "is one I/O, timed to the fdatasync's completion). These reach the disk under /var/tmp."
	echo
	echo "| QD | engine | DSYNC IOPS | DSYNC p50 µs | DSYNC p99 µs | write+fdatasync IOPS | p50 µs | p99 µs | DSYNC / write+fdatasync |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for qd in 1 16; do
		for eng in direct ringd; do
			d=dsync-$eng-$qd f=fdsync-$eng-$qd
			echo "| $qd | $eng | $(int "$(col "$d" 8)") | $(one "$(col "$d" 10)") | $(one "$(col "$d" 11)") | $(int "$(col "$f" 8)") | $(one "$(col "$f" 10)") | $(one "$(col "$f" 11)") | $(calc "$(col "$d" 8) / $(col "$f" 8)") × |"
		done
	done
	echo
	for qd in 1 16; do
		echo "- QD $qd, ringd / direct: DSYNC $(calc "$(col "dsync-ringd-$qd" 8) / $(col "dsync-direct-$qd" 8)") ×, write+fdatasync $(calc "$(col "fdsync-ringd-$qd" 8) / $(col "fdsync-direct-$qd" 8)") ×"
	done
} >"$out/dataops.md"
echo "run-dataops: results in $out (dataops.md)"
