#!/usr/bin/env bash
# The plain-loop section of make bench (issue 15): what a client written
# the plain way (liburing's canonical loop: wait for one completion, reap
# every ready one, prepare a new request for each, submit once) gets from
# ringd, against the same loop on liburing directly, and what 1000 idle
# sessions cost a busy one. In each round direct and ringd (or alone and
# with idle sessions) run back to back, and targets are judged on the
# median over the rounds of the two runs' ratio, which a slow phase of the
# machine moves least; the best round of each, the spread, and the load
# average before and after are reported beside it. Writes plain.tsv, idle.txt and plain.md in RESULTS_DIR
# (run-bench.sh appends plain.md to summary.md).
#
#   tests/bench/run-plain.sh BUILD_DIR RESULTS_DIR
#
# Environment: BENCH_PLAIN_RUNTIME (seconds per point, default 3),
# BENCH_ROUNDS (7), BENCH_IDLE_SESSIONS (1000), BENCH_VOL_SIZE (1G),
# BENCH_DAEMON_CPU (0), BENCH_CLIENT_CPU (1).
set -euo pipefail

build=$(cd "${1:?usage: run-plain.sh BUILD_DIR RESULTS_DIR}" && pwd)
out=${2:?usage: run-plain.sh BUILD_DIR RESULTS_DIR}
rt=${BENCH_PLAIN_RUNTIME:-3}
rounds=${BENCH_ROUNDS:-7}
nidle=${BENCH_IDLE_SESSIONS:-1000}
volsize=${BENCH_VOL_SIZE:-1G}
dcpu=${BENCH_DAEMON_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
ringd="$build/daemon/ringd"
bench="$build/client-lib/ringd-bench"
# The idle sessions' tenants: uids without passwd entries, as in the tests.
IDLE_UIDS=61201,61202,61203,61204

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup plain
mkdir -p "$out"

echo "run-plain: filling a $volsize volume"
bench_fill "$work/bench.img" "$volsize"

{
	cat <<EOF
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
max_sessions = 16
max_inflight = 1024
EOF
	# The idle sessions' tenants: no volumes, a quarter of them each.
	for u in ${IDLE_UIDS//,/ }; do
		printf '\n[tenant idle%s]\nuid = %s\nmax_sessions = %s\n' "$u" "$u" \
			$(( nidle / 4 + 1 ))
	done
} >"$work/ringd.conf"

# start PINNED: (re)start ringd, on CPU $dcpu if PINNED is yes.
start() {
	bench_daemon "$work/ringd.conf" "$([ "$1" = yes ] && echo "$dcpu")"
}

tsv="$out/plain.tsv"
rm -f "$tsv" "$out/plain.md" "$out/idle.txt"
# point LABEL PINNED ENGINE ARGS...: one run, one TSV line (ringd-bench --summary).
point() {
	local label=$1 pinned=$2 eng=$3
	shift 3
	local tgt=(--file "$work/bench.img") cpu=()
	[ "$eng" = ringd ] && tgt=(--volume bench --socket "$work/ringd.sock")
	# Pinned: the cache-line round trip between the two CPUs around each run.
	[ "$pinned" = yes ] && cpu=(--cpu "$ccpu" --line-rtt "$dcpu")
	"$bench" --engine "$eng" "${tgt[@]}" --daemon-pid "$daemon_pid" "${cpu[@]}" --loop plain \
		--label "$label" --summary "$tsv" --quiet --runtime "$rt" "$@" >/dev/null
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for pinned in yes no; do
	start "$pinned"
	p=$([ "$pinned" = yes ] && echo pinned || echo unpinned)
	echo "run-plain: plain loop, $p, $rounds rounds"
	for r in $(seq "$rounds"); do
		# The two engines of a pair run back to back, the first one by turns,
		# so a slow phase of the machine falls on both or on each alike.
		engs=(direct ringd)
		[ $((r % 2)) = 0 ] && engs=(ringd direct)
		for eng in "${engs[@]}"; do
			point "$p-qd32-$eng-$r" "$pinned" "$eng" --workload randread --bs 4K --qd 32
		done
		for eng in "${engs[@]}"; do
			point "$p-qd1-$eng-$r" "$pinned" "$eng" --workload randread --bs 4K --qd 1
		done
		for eng in "${engs[@]}"; do
			point "$p-nop-$eng-$r" "$pinned" "$eng" --workload nop --qd 64 --no-lat
		done
	done
done

echo "run-plain: one QD 32 session alone and next to $nidle idle sessions, $rounds rounds"
start yes
for r in $(seq "$rounds"); do
	# As above, the first of the pair by turns.
	for k in $([ $((r % 2)) = 1 ] && echo alone idle || echo idle alone); do
		if [ "$k" = alone ]; then
			point "alone-$r" yes ringd --workload randread --bs 4K --qd 32
		else
			point "idle-$r" yes ringd --workload randread --bs 4K --qd 32 \
				--idle-sessions "$nidle" --idle-uids "$IDLE_UIDS" \
				--idle-report "$work/idle-$r.txt"
		fi
	done
done
cp "$work/idle-$rounds.txt" "$out/idle.txt"
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# An awk function: sorts x[1..n] in place and returns its median.
awk_median='
	function median(x, n,  i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && x[j - 1] > x[j]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
		return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
	}'
# stats PREFIX FIELD: "best min max median" of FIELD over the rounds
# PREFIX-1..N (best: the largest, or with "low" the smallest, as for latency).
stats() {
	awk -F'\t' -v p="$1-" -v f="$2" -v low="${3:-}" "$awk_median"'
		index($1, p) == 1 && substr($1, length(p) + 1) ~ /^[0-9]+$/ {
			v = $f + 0; n++
			if (n == 1 || v < mn) mn = v
			if (n == 1 || v > mx) mx = v
			x[n] = v
		}
		END { if (!n) { print "0 0 0 0"; exit }
		      m = median(x, n)
		      printf "%.10g %.10g %.10g %.10g\n", (low ? mn : mx), mn, mx, m }' "$tsv"
}
# paired A B FIELD [diff]: "median min max" over the rounds r of B-r / A-r
# (or B-r - A-r): each round's two runs ran back to back.
paired() {
	awk -F'\t' -v a="$1-" -v b="$2-" -v f="$3" -v diff="${4:-}" "$awk_median"'
		function rnd(l, p) { return substr(l, length(p) + 1) }
		index($1, a) == 1 && rnd($1, a) ~ /^[0-9]+$/ { va[rnd($1, a)] = $f + 0 }
		index($1, b) == 1 && rnd($1, b) ~ /^[0-9]+$/ { vb[rnd($1, b)] = $f + 0 }
		END {
			n = 0
			for (r in vb)
				if ((r in va) && (diff || va[r] > 0))
					x[++n] = diff ? vb[r] - va[r] : vb[r] / va[r]
			if (!n) { print "0 0 0"; exit }
			m = median(x, n)
			printf "%.4g %.4g %.4g\n", m, x[1], x[n]
		}' "$tsv"
}
field() { # FILE KEY
	awk -v k="$2" '$1 == k { print $2 }' "$1"
}
calc() {
	awk "BEGIN { printf \"%.4g\", $1 }"
}
yesno() {
	awk "BEGIN { print ($1) ? \"yes\" : \"**no**\" }"
}

{
	echo "## Plain loop (issue 15)"
	echo
	echo "liburing's canonical loop on both engines (\`ringd-bench --loop plain\`): wait for one"
	echo "completion, reap every ready one, prepare a new request for each, submit once. 4 KiB"
	echo "random reads from the page cache; NOPs with 64 in flight. $rounds rounds of ${rt}s;"
	echo "in each round the two engines run back to back (which one first alternates), and a"
	echo "target is judged on the median over the rounds of ringd's run against direct's run"
	echo "of the same round (\"pairs\"), which a slow phase of the machine moves least. The best"
	echo "round of each engine and the spread are beside it. Pinned: daemon on CPU $dcpu, client"
	echo "on CPU $ccpu. From $started to $ended; load average $load_before before, $load_after after."
	echo
	echo "| point | direct (best; min..max) | ringd (best; min..max) | pairs: median (min..max) | best / best | target | met |"
	echo "|---|---|---|---|---|---|---|"
	declare -A ratio
	for p in pinned unpinned; do
		read -r d dmin dmax _ < <(stats "$p-qd32-direct" 8)
		read -r g gmin gmax _ < <(stats "$p-qd32-ringd" 8)
		read -r m mmin mmax < <(paired "$p-qd32-direct" "$p-qd32-ringd" 8)
		ratio[$p-qd32]=$m
		echo "| $p QD 32 IOPS | $d; $dmin..$dmax | $g; $gmin..$gmax | $m x ($mmin..$mmax) |" \
			"$(calc "$g / $d") x | ≥ 0.95 x | $(yesno "$m >= 0.95") |"
		read -r d dmin dmax _ < <(stats "$p-qd1-direct" 10 low)
		read -r g gmin gmax _ < <(stats "$p-qd1-ringd" 10 low)
		read -r m mmin mmax < <(paired "$p-qd1-direct" "$p-qd1-ringd" 10 diff)
		echo "| $p QD 1 p50 µs | $d; $dmin..$dmax | $g; $gmin..$gmax | +$m µs ($mmin..$mmax) |" \
			"+$(calc "$g - $d") µs | ≤ +0.6 µs | $(yesno "$m <= 0.6") |"
		read -r d dmin dmax _ < <(stats "$p-nop-direct" 8)
		read -r g gmin gmax gmed < <(stats "$p-nop-ringd" 8)
		read -r m mmin mmax < <(paired "$p-nop-direct" "$p-nop-ringd" 8)
		echo "| $p NOP/s, 64 in flight | $d; $dmin..$dmax | $g; $gmin..$gmax | $m x ($mmin..$mmax) |" \
			"$(calc "$g / $d") x | ≥ 15 M/s (median round: $gmed) | $(yesno "$gmed >= 15000000") |"
	done
	echo
	echo "Unpinned vs pinned (ringd, medians of pairs): QD 32"
	echo "$(calc "${ratio[unpinned-qd32]} / ${ratio[pinned-qd32]}") x the pinned ratio (target: not worse by"
	echo "more than 10 %: $(yesno "${ratio[unpinned-qd32]} >= 0.9 * ${ratio[pinned-qd32]}"))."
	echo
	echo "What crossing cores cost during the pinned rounds: the cache-line round trip"
	echo "between CPU $ccpu and CPU $dcpu (\`ringd-bench --line-rtt\`: median of 16 x 1000 round"
	echo "trips just before and just after each run, the two averaged). A ringd request"
	echo "crosses twice (SQE to the daemon, CQE back), so at QD 1 it pays about one round"
	echo "trip that direct does not; on this VM the round trip moves with where the host"
	echo "runs the two vCPUs."
	echo
	echo "| round | round trip around ringd's QD 32 run ns | QD 32 ringd / direct | round trip around ringd's QD 1 run ns | QD 1 p50 ringd - direct µs | minus the round trip µs |"
	echo "|---|---|---|---|---|---|"
	awk -F'\t' '
		{ split($1, k, "-") }
		k[1] == "pinned" && (k[2] == "qd32" || k[2] == "qd1") {
			v[k[2], k[3], k[4]] = k[2] == "qd32" ? $8 : $10
			rtt[k[2], k[3], k[4]] = $19
			r[k[4]] = 1
		}
		END {
			for (i = 1; (i in r); i++) {
				q = v["qd32", "ringd", i] / v["qd32", "direct", i]
				d = v["qd1", "ringd", i] - v["qd1", "direct", i]
				t = rtt["qd1", "ringd", i]
				printf "| %d | %.0f | %.3f x | %.0f | +%.3f | %+.3f |\n", i, rtt["qd32", "ringd", i], q, t, d, d - t / 1000
			}
		}' "$tsv"
	echo
	# The pinned QD 32 pairs split by that round trip: the two CPUs sharing
	# a last-level cache (under 200 ns here) or not.
	awk -F'\t' "$awk_median"'
		{ split($1, k, "-") }
		k[1] == "pinned" && k[2] == "qd32" { v[k[3], k[4]] = $8; if (k[3] == "ringd") t[k[4]] = $19 }
		END {
			for (i in t) {
				if (t[i] < 0 || !v["direct", i])
					continue
				q = v["ringd", i] / v["direct", i]
				if (t[i] < 200) { near[++nn] = q; if (nn == 1 || q < nlo) nlo = q; if (q > nhi) nhi = q }
				else { far[++nf] = q; if (nf == 1 || q < flo) flo = q; if (q > fhi) fhi = q }
			}
			printf "Pinned QD 32 pairs by that round trip: under 200 ns (the two CPUs sharing a\n"
			printf "last-level cache), "
			if (nn) printf "median %.3f x (%.3f..%.3f) over %d rounds", median(near, nn), nlo, nhi, nn
			else printf "no round"
			printf "; 200 ns or more, "
			if (nf) printf "median %.3f x (%.3f..%.3f) over %d rounds.\n", median(far, nf), flo, fhi, nf
			else printf "no round.\n"
		}' "$tsv"
	echo
	read -r _ tmin tmax t < <(stats "pinned-qd1-ringd" 19)
	read -r m mmin mmax < <(paired "pinned-qd1-direct" "pinned-qd1-ringd" 10 diff)
	echo "Round trip around the pinned QD 1 ringd runs: median $t ns ($tmin..$tmax); ringd's"
	echo "QD 1 p50 over direct's: median +$m µs, of which about $(calc "$t / 1000") µs is the round trip."
	echo
	echo "Cost per I/O of each side, pinned, best round of each point (\`plain.tsv\` has every"
	echo "round). CPU time per I/O stands in for cycles: this VM exposes no hardware counters."
	echo "Syscalls are raw_syscalls:sys_enter events (-1: the kernel would not count them)."
	echo
	echo "| point | engine | syscalls/IO client / daemon | ctxsw/IO client / daemon | CPU ns/IO client / daemon |"
	echo "|---|---|---|---|---|"
	for pt in qd32 qd1 nop; do
		for eng in direct ringd; do
			awk -F'\t' -v p="pinned-$pt-$eng-" -v pt="$pt" -v eng="$eng" '
				index($1, p) == 1 && $8 + 0 > best {
					best = $8 + 0
					cns = $13 / 100 * 1e9 / $8
					dns = $14 / 100 * 1e9 / $8
					line = sprintf("| %s | %s | %s / %s | %s / %s | %.0f / %s |", pt, eng,
						$15, (eng == "direct" ? "-" : $16), $17,
						(eng == "direct" ? "-" : $18), cns,
						(eng == "direct" ? "-" : sprintf("%.0f", dns))) }
				END { if (line != "") print line }' "$tsv"
		done
	done
	echo
	echo "### 1000 sessions"
	echo
	read -r a amin amax _ < <(stats alone 8)
	read -r i imin imax _ < <(stats idle 8)
	read -r m mmin mmax < <(paired alone idle 8)
	echo "One QD 32 session (plain loop, pinned) alone: $a IOPS ($amin..$amax); next to"
	echo "$(field "$out/idle.txt" idle_sessions) idle sessions of 4 tenants (8-entry rings,"
	echo "64 KiB data areas): $i IOPS ($imin..$imax). Each round runs the two back to back;"
	echo "median of the rounds' ratios: $m x ($mmin..$mmax; best / best $(calc "$i / $a") x),"
	echo "target ≥ 0.95 x: $(yesno "$m >= 0.95")."
	echo "Attach rate: $(field "$out/idle.txt" attach_per_s) sessions/s. Daemon memory per idle"
	echo "session: $(field "$out/idle.txt" daemon_anon_kb_per_session) KiB private +"
	echo "$(field "$out/idle.txt" daemon_shmem_kb_per_session) KiB of the session's own shared"
	echo "memory (its rings and data area, mapped and registered); RSS"
	echo "$(field "$out/idle.txt" daemon_rss_kb_before) → $(field "$out/idle.txt" daemon_rss_kb_after) KiB."
	echo "Idle sessions go cold after 10 ms without SQEs: no pass looks at them until their"
	echo "doorbell rings."
} >"$out/plain.md"
echo "run-plain: $out/plain.md"
