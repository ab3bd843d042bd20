#!/usr/bin/env bash
# Turn the results of run-bench.sh into summary.md and gnuplot plots.
#
#   report.sh RESULTS_DIR STARTED ENDED LOAD_BEFORE LOAD_AFTER RUNTIME [REPEAT]
set -euo pipefail

out=$1 started=$2 ended=$3 load_before=$4 load_after=$5 rt=$6 repeat=${7:-1}
tsv="$out/results.tsv"
md="$out/summary.md"

# col LABEL FIELD: one field of the TSV line of run LABEL (see ringd-bench --summary).
col() {
	awk -F'\t' -v l="$1" -v f="$2" '$1 == l { print $f; exit }' "$tsv"
}
# calc EXPR: floating-point arithmetic.
calc() {
	awk "BEGIN { printf \"%.4g\", $1 }"
}
# fio_iops FILE: read IOPS from fio's JSON output.
fio_iops() {
	awk '/"read" : \{/ { r = 1 } r && /"iops" :/ { gsub(/[ ,]/, ""); split($0, a, ":");
		print a[2]; exit }' "$1"
}
yesno() {
	awk "BEGIN { print ($1) ? \"yes\" : \"**no**\" }"
}

# Data files for gnuplot.
{
	echo "# qd direct_iops ringd_iops"
	for qd in 1 2 4 8 16 32 64 128; do
		echo "$qd $(col "qd-direct-$qd" 8) $(col "qd-ringd-$qd" 8)"
	done
} >"$out/iops_vs_qd.dat"

qd32_d=$(col qd-direct-32 8) qd32_r=$(col qd-ringd-32 8)
qd1_d=$(col qd-direct-1 10) qd1_r=$(col qd-ringd-1 10)
qd1i_d=$(col qd-direct-1 8) qd1i_r=$(col qd-ringd-1 8)
nop_d=$(col nop-direct 8) nop_r=$(col nop-ringd 8)
rw_d=$(col randwrite-direct 8) rw_r=$(col randwrite-ringd 8)
p64_r=$(col procs64-ringd 8) q256_r=$(col qd256-ringd 8)
p64_d=$(col procs64-direct 8) q256_d=$(col qd256-direct 8)
idle_cpu=$(col idle64-ringd 14)
# best IOPS of the runs whose label starts with PREFIX
best_of() {
	awk -F'\t' -v p="$1" 'index($1, p) == 1 && $8 > b { b = $8 } END { printf "%.0f", b }' "$tsv"
}
figon=$(best_of figon-ringd-32-) figoff=$(best_of figoff-ringd-32-)
fio_u= fio_r=
if [ -f "$out/fio-uring.json" ] && [ -f "$out/fio-ringd.json" ]; then
	fio_u=$(fio_iops "$out/fio-uring.json" | awk '{ printf "%.0f", $1 }')
	fio_r=$(fio_iops "$out/fio-ringd.json" | awk '{ printf "%.0f", $1 }')
fi

{
	echo "# label ratio (ringd / direct)"
	echo "\"QD1 IOPS\" $(calc "$qd1i_r / $qd1i_d")"
	echo "\"QD32 IOPS\" $(calc "$qd32_r / $qd32_d")"
	echo "\"QD256 IOPS\" $(calc "$q256_r / $q256_d")"
	echo "\"64x QD4 IOPS\" $(calc "$p64_r / $p64_d")"
	echo "\"randwrite QD32\" $(calc "$rw_r / $rw_d")"
	echo "\"NOP batch 32\" $(calc "$nop_r / $nop_d")"
	[ -n "$fio_u" ] && echo "\"fio randread QD32\" $(calc "$fio_r / $fio_u")"
} >"$out/ratios.dat"

for term in "pngcairo size 900,560 font ',10'" "svg size 900,560 dynamic font ',10'"; do
	ext=png
	[[ $term == svg* ]] && ext=svg
	gnuplot <<EOF
set terminal $term
set datafile separator whitespace
set key top left
set grid

set output "$out/iops_vs_qd.$ext"
set title "4 KiB random reads from the page cache: IOPS vs queue depth (1 process)"
set logscale x 2
set xlabel "queue depth"
set ylabel "IOPS"
set format y "%.2s%c"
set yrange [0:*]
plot "$out/iops_vs_qd.dat" using 1:2 with linespoints lw 2 title "direct io\\\\_uring", \
     "" using 1:3 with linespoints lw 2 title "ringd"

set output "$out/lat_cdf.$ext"
set title "Latency CDF, 4 KiB random reads from the page cache"
set logscale x 10
set autoscale y
unset logscale y
set format y "%g"
set xlabel "latency (µs, log)"
set ylabel "fraction of I/Os"
set key bottom right
set yrange [0:1]
plot "$out/qd-direct-1.cdf.dat" using 1:2 with lines lw 2 title "direct QD1", \
     "$out/qd-ringd-1.cdf.dat" using 1:2 with lines lw 2 title "ringd QD1", \
     "$out/qd-direct-32.cdf.dat" using 1:2 with lines lw 2 dt 2 title "direct QD32", \
     "$out/qd-ringd-32.cdf.dat" using 1:2 with lines lw 2 dt 2 title "ringd QD32"

set output "$out/direct_vs_ringd.$ext"
set title "ringd throughput relative to direct io\\\\_uring (1.0 = same)"
unset logscale x
unset logscale y
set autoscale
set yrange [0:*]
set xlabel ""
set ylabel "ringd / direct"
set style data histogram
set style fill solid 0.6 border -1
set boxwidth 0.7
set xtics rotate by -20
unset key
plot "$out/ratios.dat" using 2:xtic(1) lc rgb "#3060a0", 0.9 with lines dt 2 lc rgb "red"
EOF
done

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
{
	echo "# ringd benchmark results"
	echo
	echo "- Date: $started to $ended (UTC); each point is the best of $repeat runs of ${rt}s"
	echo "- Machine: $machine ($(hostname))"
	echo "- Load average (1/5/15 min) before: $load_before, after: $load_after (the"
	echo "  benchmark's own 64-process runs raise it)"
	echo "- Daemon pinned to one CPU, benchmark processes to the other; a ${BENCH_VOL_SIZE:-1G} buffered"
	echo "  file volume, pre-filled and read once, so reads are served from the page cache."
	echo "- Direct = liburing in the benchmark process on the same file (registered file,"
	echo "  fixed buffers). ringd = the same workload through libringd and the daemon."
	echo
	echo "## Targets (issue 6)"
	echo
	echo "| Target | Goal | direct | ringd | Measured | Met |"
	echo "|---|---|---|---|---|---|"
	echo "| 4K randread QD32 (batch 8) IOPS | ringd ≥ 0.90 × direct | $qd32_d | $qd32_r | $(calc "$qd32_r / $qd32_d") × | $(yesno "$qd32_r >= 0.9 * $qd32_d") |"
	echo "| 4K randread QD1 p50 latency (µs), polling on | ringd ≤ direct + 2 µs | $qd1_d | $qd1_r | +$(calc "$qd1_r - $qd1_d") µs | $(yesno "$qd1_r <= $qd1_d + 2") |"
	echo "| NOP batch 32 (ops/s) | ringd ≥ 5 M/s | $nop_d | $nop_r | $(calc "$nop_r / 1e6") M/s ($(calc "$nop_r / $nop_d") × direct) | $(yesno "$nop_r >= 5e6") |"
	echo "| 64 procs × QD4 vs 1 × QD256 (ringd IOPS) | ≥ 0.8 × | $p64_r (64×4) | $q256_r (1×256) | $(calc "$p64_r / $q256_r") × | $(yesno "$p64_r >= 0.8 * $q256_r") |"
	echo "| 64 idle sessions, daemon CPU over ${BENCH_IDLE:-10}s | < 1 % | | | $idle_cpu % | $(yesno "$idle_cpu >= 0 && $idle_cpu < 1") |"
	if [ "${figoff:-0}" != 0 ] && [ "${figon:-0}" != 0 ]; then
		echo "| QD32 IOPS with figures on vs off (issue 13) | on ≥ 0.98 × off | $figoff (off) | $figon (on) | $(calc "$figon / $figoff") × | $(yesno "$figon >= 0.98 * $figoff") |"
	fi
	if [ -n "$fio_u" ]; then
		echo "| fio randread 4K QD32: libringd-fio vs io_uring | ≥ 0.85 × | $fio_u | $fio_r | $(calc "$fio_r / $fio_u") × | $(yesno "$fio_r >= 0.85 * $fio_u") |"
	else
		echo "| fio: libringd-fio vs io_uring | ≥ 0.85 × | | | not run (fio or engine missing) | |"
	fi
	echo
	echo "## Every run"
	echo
	echo "CPU is % of one CPU over the run. Syscalls/IO are raw_syscalls:sys_enter events the"
	echo "kernel counted for the benchmark processes (clients) and the daemon's thread; ctxsw/IO"
	echo "are context switches (each one a sleep or a preemption) per I/O. -1: not measured."
	echo
	echo "| run | engine | workload | QD | batch | procs | IOPS | MB/s | p50 µs | p99 µs | p99.9 µs | CPU clients % | CPU daemon % | syscalls/IO clients | syscalls/IO daemon | ctxsw/IO clients | ctxsw/IO daemon |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %.0f | %.1f | %.2f | %.2f | %.2f | %.1f | %.1f | %.3f | %.3f | %.3f | %.3f |\n",
		$1, $2, $3, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 }' "$tsv"
	if [ -n "$fio_u" ]; then
		echo
		echo "fio job (both engines): rw=randread bs=4k iodepth=32 iodepth_batch_submit=8,"
		echo "time_based over the whole volume; io_uring with fixedbufs=1 registerfiles=1."
	fi
	echo
	echo "## Plots"
	echo
	echo "![IOPS vs queue depth](iops_vs_qd.svg)"
	echo "![Latency CDF](lat_cdf.svg)"
	echo "![ringd / direct](direct_vs_ringd.svg)"
} >"$md"
