#!/usr/bin/env bash
# The directory-volume section of make bench (issue 12): does namespace
# work stall the data path? One tenant reads 4 KiB at QD 1 from a
# page-cached volume (plain loop) alone, then while another tenant loops
# create, write 4 KiB, close, rename, unlink in a directory volume (each a
# durable namespace change: directory fsyncs) as fast as it can. Rounds
# alternate; the p99 of each round and the churn rate are reported, with
# the load average before and after. Writes files.tsv and files.md in
# RESULTS_DIR (run-bench.sh appends files.md to summary.md).
#
#   tests/bench/run-files.sh BUILD_DIR RESULTS_DIR
#
# Environment: BENCH_FILES_RUNTIME (seconds per point, default 3),
# BENCH_ROUNDS (5).
set -euo pipefail

build=$(cd "${1:?usage: run-files.sh BUILD_DIR RESULTS_DIR}" && pwd)
out=${2:?usage: run-files.sh BUILD_DIR RESULTS_DIR}
rt=${BENCH_FILES_RUNTIME:-3}
rounds=${BENCH_ROUNDS:-5}
ringd="$build/daemon/ringd"
bench="$build/client-lib/ringd-bench"
CHURN_UID=61301

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup files
mkdir -p "$out"

echo "run-files: filling a 256M volume"
bench_fill "$work/bench.img" 256M

cat >"$work/ringd.conf" <<EOF
[daemon]
socket = $work/ringd.sock
state_dir = $work/state
log_level = warn

[volume bench]
path = $work/bench.img
direct = no

[volume churn]
dir = $work/churn.d
size = 1G

[tenant bench]
uid = 0
volumes = bench:rw

[tenant churner]
uid = $CHURN_UID
volumes = churn:rw
EOF

tsv="$out/files.tsv"
rm -f "$tsv" "$out/files.md"
bench_daemon "$work/ringd.conf"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "run-files: QD 1 reads alone and next to a namespace churn, $rounds rounds"
for r in $(seq "$rounds"); do
	for mode in alone churn; do
		extra=()
		[ "$mode" = churn ] && extra=(--churn churn --churn-uid "$CHURN_UID")
		"$bench" --engine ringd --volume bench --socket "$work/ringd.sock" --loop plain \
			--workload randread --bs 4K --qd 1 --runtime "$rt" --quiet \
			--label "$mode-$r" --summary "$tsv" "${extra[@]}" >"$work/$mode-$r.txt"
		if [ "$mode" = churn ]; then
			awk -v l="churn-$r" '$1 == "churn_cycles_per_s" { print l "\t" $2 }' \
				"$work/$mode-$r.txt" >>"$work/churn.tsv"
		fi
	done
done
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# median PREFIX FIELD: the median of FIELD over the rounds PREFIX-1..N.
median() {
	awk -F'\t' -v p="$1-" -v f="$2" 'index($1, p) == 1 { print $f + 0 }' "$3" | sort -g |
		awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
span() {
	awk -F'\t' -v p="$1-" -v f="$2" 'index($1, p) == 1 { v = $f + 0; n++
		if (n == 1 || v < mn) mn = v; if (n == 1 || v > mx) mx = v }
		END { printf "%.6g..%.6g\n", mn, mx }' "$3"
}
a99=$(median alone 11 "$tsv")
c99=$(median churn 11 "$tsv")
a50=$(median alone 10 "$tsv")
c50=$(median churn 10 "$tsv")
rate=$(median churn 2 "$work/churn.tsv")
delta=$(awk "BEGIN { printf \"%.1f\", $c99 - $a99 }")
met=$(awk "BEGIN { print ($c99 - $a99 <= 100) ? \"yes\" : \"**no**\" }")
{
	echo "## Namespace work next to the data path (issue 12)"
	echo
	echo "One tenant reads 4 KiB at QD 1 (plain loop, page-cached volume); another creates,"
	echo "writes 4 KiB to, renames and removes files in a directory volume as fast as it can"
	echo "(\`ringd-bench --churn\`: four durable namespace changes a cycle, each with its"
	echo "directory fsync, run by the daemon's namespace worker). $rounds rounds of ${rt}s,"
	echo "alternating; medians, with the spread of the rounds. From $started to $ended; load"
	echo "average $load_before before, $load_after after."
	echo
	echo "| reader | p50 µs | p99 µs (rounds) |"
	echo "|---|---|---|"
	echo "| alone | $a50 | $a99 ($(span alone 11 "$tsv")) |"
	echo "| next to the churn ($rate cycles/s) | $c50 | $c99 ($(span churn 11 "$tsv")) |"
	echo
	echo "p99 raised by $delta µs (target ≤ 100 µs: $met)."
} >"$out/files.md"
echo "run-files: $out/files.md"
