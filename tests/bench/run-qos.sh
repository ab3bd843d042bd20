#!/usr/bin/env bash
# The QoS section of make bench: per-tenant weights, sessions, limits,
# reservations, latency next to a deep queue, and the cost of QoS, on a
# page-cached buffered volume with the daemon pinned to one CPU and every
# client on the other. Writes qos.tsv, qos-*.dat, qos_share.png/svg and
# qos.md in RESULTS_DIR (run-bench.sh appends qos.md to summary.md).
#
#   tests/bench/run-qos.sh BUILD_DIR RESULTS_DIR
#
# Environment: BENCH_QOS_RUNTIME (seconds per point, default 5),
# BENCH_VOL_SIZE (1G), BENCH_DAEMON_CPU (0), BENCH_CLIENT_CPU (1).
set -euo pipefail

build=$(cd "${1:?usage: run-qos.sh BUILD_DIR RESULTS_DIR}" && pwd)
out=${2:?usage: run-qos.sh BUILD_DIR RESULTS_DIR}
rt=${BENCH_QOS_RUNTIME:-5}
volsize=${BENCH_VOL_SIZE:-1G}
dcpu=${BENCH_DAEMON_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
ringd="$build/daemon/ringd"
# Tenants are uids without passwd entries, as in the tests.
UA=61101 UB=61102

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup qos
command -v gnuplot >/dev/null || { echo "run-qos: gnuplot missing (make deps)" >&2; exit 1; }
mkdir -p "$out"


# The client and its library where every uid can reach them.
mkdir -p "$work/bin"
cp "$build/client-lib/ringd-bench" "$work/bin/"
for f in "$build"/client-lib/libringd.so*; do
	[ -d "$f" ] || cp -P "$f" "$work/bin/"
done
chmod -R a+rX "$work/bin"
# Clients run as tenant uids: their results go to a directory they may write.
mkdir -p "$work/res"
chmod 1777 "$work/res"
bench="$work/bin/ringd-bench"

echo "run-qos: filling a $volsize volume"
bench_fill "$work/bench.img" "$volsize"

# daemon QOS-DAEMON-KEYS A-KEYS B-KEYS: (re)start ringd with tenants a and b.
daemon() {
	cat >"$work/ringd.conf" <<EOF
[daemon]
socket = $work/ringd.sock
state_dir = $work/state
log_level = warn
max_sessions = 256
$1

[volume bench]
path = $work/bench.img
direct = no

[tenant a]
uid = $UA
volumes = bench:ro
max_sessions = 64
max_inflight = 1024
max_tenant_inflight = 1024
$2

[tenant b]
uid = $UB
volumes = bench:ro
max_sessions = 64
max_inflight = 1024
max_tenant_inflight = 1024
$3
EOF
	bench_daemon "$work/ringd.conf" "$dcpu"
}

# client NAME UID ARGS...: one ringd-bench run as UID in the background;
# results in $work/res/NAME.tsv (see ringd-bench --summary) and NAME.series.
client() {
	local name=$1 uid=$2
	shift 2
	rm -f "$work/res/$name.tsv"
	setpriv --reuid "$uid" --regid "$uid" --clear-groups env LD_LIBRARY_PATH="$work/bin" \
		taskset -c "$ccpu" "$bench" --engine ringd --volume bench \
		--socket "$work/ringd.sock" --quiet --label "$name" --summary "$work/res/$name.tsv" \
		--series "$work/res/$name.series" --interval 200 "$@" &
	clients+=($!)
}
# Wait for the clients started since the last call (not for the daemon).
wait_clients() {
	local rc=0 p

	for p in "${clients[@]}"; do
		wait "$p" || rc=$?
	done
	clients=()
	[ "$rc" = 0 ] || { echo "run-qos: a client failed ($rc)" >&2; cat "$work/ringd.log" >&2; exit 1; }
}
clients=()
# field NAME COLUMN of a client's summary line.
field() {
	cut -f"$2" "$work/res/$1.tsv"
}
calc() {
	awk "BEGIN { printf \"%.4g\", $1 }"
}
num() {
	awk "BEGIN { printf \"%.0f\", $1 }"
}
yesno() {
	awk "BEGIN { print ($1) ? \"yes\" : \"**no**\" }"
}
tsv="$out/qos.tsv"
: >"$tsv"
# record POINT VALUE TARGET MET: one line of qos.tsv.
record() {
	printf '%s\t%s\t%s\t%s\n' "$@" >>"$tsv"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rd="--workload randread --runtime $rt"

echo "run-qos: weights 100:300, QD 64 4K reads each"
daemon "" "qos_weight = 100" "qos_weight = 300"
client w100 $UA $rd --bs 4K --qd 64
client w300 $UB $rd --bs 4K --qd 64
wait_clients
w_a=$(field w100 8) w_b=$(field w300 8)
w_ratio=$(calc "$w_b / $w_a")
record weights_ratio "$w_ratio" "3 +-10%" "$(yesno "$w_ratio >= 2.7 && $w_ratio <= 3.3")"
cp "$work/res/w100.series" "$out/qos-w100.dat"
cp "$work/res/w300.series" "$out/qos-w300.dat"

echo "run-qos: 8 sessions against 1, equal weights"
daemon "" "" ""
client s8 $UA $rd --bs 4K --qd 32 --procs 8
client s1 $UB $rd --bs 4K --qd 64
wait_clients
s_a=$(field s8 8) s_b=$(field s1 8)
s_ratio=$(calc "$s_a / $s_b")
record sessions_ratio "$s_ratio" "1 +-10%" "$(yesno "$s_ratio >= 0.9 && $s_ratio <= 1.1")"
cp "$work/res/s8.series" "$out/qos-s8.dat"
cp "$work/res/s1.series" "$out/qos-s1.dat"

echo "run-qos: qos_limit_iops = 20000"
daemon "" "qos_limit_iops = 20000
qos_burst = 0" ""
client lim_iops $UA $rd --bs 4K --qd 32
wait_clients
l_iops=$(field lim_iops 8)
record limit_iops "$l_iops" "20000 +-3%" "$(yesno "$l_iops >= 19400 && $l_iops <= 20600")"

echo "run-qos: qos_limit_bw = 50M, 64K reads"
daemon "" "qos_limit_bw = 50M
qos_burst = 0" ""
client lim_bw $UA $rd --bs 64K --qd 16
wait_clients
l_bw=$(calc "$(field lim_bw 8) * 65536 / 1048576")
record limit_bw_mib "$l_bw" "50 +-3%" "$(yesno "$l_bw >= 48.5 && $l_bw <= 51.5")"

echo "run-qos: qos_reserve_iops = 100000 against a tenant of weight 1000"
daemon "" "qos_reserve_iops = 100000" "qos_weight = 1000"
client resv $UA $rd --bs 4K --qd 64
client heavy $UB $rd --bs 4K --qd 64
wait_clients
r_got=$(field resv 8) r_other=$(field heavy 8)
r_share=$(calc "$r_got / 100000")
record reservation_share "$r_share" ">= 0.95" "$(yesno "$r_share >= 0.95")"

echo "run-qos: a QD 1 tenant next to a QD 256 tenant, QoS on and off"
for mode in on off; do
	daemon "qos = $mode" "" ""
	client "qd1_$mode" $UA $rd --bs 4K --qd 1
	client "qd256_$mode" $UB $rd --bs 4K --qd 256 --no-lat
	wait_clients
done
p50_on=$(field qd1_on 10) p99_on=$(field qd1_on 11)
p50_off=$(field qd1_off 10) p99_off=$(field qd1_off 11)
record qd1_p50_us_on "$p50_on" "(QoS off: $p50_off)" "-"
record qd1_p99_us_on "$p99_on" "(QoS off: $p99_off)" "-"

echo "run-qos: cost: QoS keys set but not binding vs qos = off (best of 3 each)"
best_on=0 best_off=0
for i in 1 2 3; do
	for mode in off on; do
		if [ $mode = on ]; then
			daemon "" "qos_weight = 500
qos_limit_iops = 100000000
qos_limit_bw = 1000G" ""
		else
			daemon "qos = off" "" ""
		fi
		client "cost_${mode}_$i" $UA $rd --bs 4K --qd 32
		wait_clients
		v=$(field "cost_${mode}_$i" 8)
		if [ $mode = on ]; then
			best_on=$(awk "BEGIN { print ($v > $best_on) ? $v : $best_on }")
		else
			best_off=$(awk "BEGIN { print ($v > $best_off) ? $v : $best_off }")
		fi
	done
done
c_ratio=$(calc "$best_on / $best_off")
record cost_ratio "$c_ratio" ">= 0.97" "$(yesno "$c_ratio >= 0.97")"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

gnuplot <<EOF
set terminal pngcairo size 900,500
set output "$out/qos_share.png"
set title "Per-tenant throughput over time (4K page-cache reads, daemon on CPU $dcpu)"
set xlabel "time (s)"
set ylabel "IOPS"
set key outside right
set grid
plot "$out/qos-w100.dat" using 1:2 with lines lw 2 title "weight 100", \\
     "$out/qos-w300.dat" using 1:2 with lines lw 2 title "weight 300", \\
     "$out/qos-s8.dat" using 1:2 with lines dt 2 title "8 sessions (equal weight)", \\
     "$out/qos-s1.dat" using 1:2 with lines dt 2 title "1 session (equal weight)"
set terminal svg size 900,500
set output "$out/qos_share.svg"
replot
EOF

cat >"$out/qos.md" <<EOF

## QoS (\`tests/bench/run-qos.sh\`)

Page-cached buffered volume, 4 KiB random reads unless said otherwise,
daemon on CPU $dcpu, every client on CPU $ccpu, $rt s per point; load
average before $load_before, after $load_after.

| point | measured | target | met |
|---|---|---|---|
| weights 100:300, both QD 64: share ratio | $w_ratio ($(num "$w_a") vs $(num "$w_b") IOPS) | 3 ± 10 % | $(yesno "$w_ratio >= 2.7 && $w_ratio <= 3.3") |
| 8 sessions (QD 32 each) vs 1 session (QD 64), equal weights: ratio | $s_ratio ($(num "$s_a") vs $(num "$s_b") IOPS) | 1 ± 10 % | $(yesno "$s_ratio >= 0.9 && $s_ratio <= 1.1") |
| \`qos_limit_iops = 20000\` (burst 0): IOPS | $l_iops | 20000 ± 3 % | $(yesno "$l_iops >= 19400 && $l_iops <= 20600") |
| \`qos_limit_bw = 50M\`, 64 KiB reads (burst 0): MiB/s | $l_bw | 50 ± 3 % | $(yesno "$l_bw >= 48.5 && $l_bw <= 51.5") |
| \`qos_reserve_iops = 100000\` (weight 100) vs weight 1000, both QD 64: reserved tenant's IOPS / reservation | $r_share ($(num "$r_got") vs $(num "$r_other") IOPS) | ≥ 0.95 | $(yesno "$r_share >= 0.95") |
| QD 1 tenant next to a QD 256 tenant, equal weights: p50 / p99 latency (µs), QoS on | $p50_on / $p99_on | (QoS off: $p50_off / $p99_off) | - |
| cost: one tenant with QoS keys set but not binding / \`qos = off\`, QD 32, best of 3 | $c_ratio ($(num "$best_on") vs $(num "$best_off") IOPS) | ≥ 0.97 | $(yesno "$c_ratio >= 0.97") |

![per-tenant throughput](qos_share.png)
EOF
echo "run-qos: results in $out (qos.md)"
