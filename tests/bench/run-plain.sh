#!/usr/bin/env bash
# The plain-loop section of make bench (issue 15): what a client written
# the plain way (liburing's canonical loop: wait for one completion, reap
# every ready one, prepare a new request for each, submit once) gets from
# ringd, against the same loop on liburing directly, and what 1000 idle
# sessions cost a busy one. Rounds alternate direct and ringd (and alone /
# with idle sessions), so slow phases of the machine hit both; the best
# round and the spread of the rounds are reported, with the load average
# before and after. Writes plain.tsv, idle.txt and plain.md in RESULTS_DIR
# (run-bench.sh appends plain.md to summary.md).
#
#   tests/bench/run-plain.sh BUILD_DIR RESULTS_DIR
#
# Environment: BENCH_PLAIN_RUNTIME (seconds per point, default 3),
# BENCH_ROUNDS (5), BENCH_IDLE_SESSIONS (1000), BENCH_VOL_SIZE (1G),
# BENCH_DAEMON_CPU (0), BENCH_CLIENT_CPU (1).
set -euo pipefail

build=$(cd "${1:?usage: run-plain.sh BUILD_DIR RESULTS_DIR}" && pwd)
out=${2:?usage: run-plain.sh BUILD_DIR RESULTS_DIR}
rt=${BENCH_PLAIN_RUNTIME:-3}
rounds=${BENCH_ROUNDS:-5}
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
	[ "$pinned" = yes ] && cpu=(--cpu "$ccpu")
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
		for eng in direct ringd; do
			point "$p-qd32-$eng-$r" "$pinned" "$eng" --workload randread --bs 4K --qd 32
			point "$p-qd1-$eng-$r" "$pinned" "$eng" --workload randread --bs 4K --qd 1
			point "$p-nop-$eng-$r" "$pinned" "$eng" --workload nop --qd 64 --no-lat
		done
	done
done

echo "run-plain: one QD 32 session alone and next to $nidle idle sessions, $rounds rounds"
start yes
for r in $(seq "$rounds"); do
	point "alone-$r" yes ringd --workload randread --bs 4K --qd 32
	point "idle-$r" yes ringd --workload randread --bs 4K --qd 32 --idle-sessions "$nidle" \
		--idle-uids "$IDLE_UIDS" --idle-report "$work/idle-$r.txt"
done
cp "$work/idle-$rounds.txt" "$out/idle.txt"
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# stats PREFIX FIELD: "best min max" of FIELD over the rounds PREFIX-1..N
# (best: the largest, or with "low" the smallest, as for latency).
stats() {
	awk -F'\t' -v p="$1-" -v f="$2" -v low="${3:-}" '
		index($1, p) == 1 && substr($1, length(p) + 1) ~ /^[0-9]+$/ {
			v = $f + 0; n++
			if (n == 1 || v < mn) mn = v
			if (n == 1 || v > mx) mx = v
		}
		END { if (!n) { print "0 0 0"; exit }
		      printf "%.10g %.10g %.10g\n", (low ? mn : mx), mn, mx }' "$tsv"
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
	echo "random reads from the page cache; NOPs with 64 in flight. $rounds rounds of ${rt}s,"
	echo "direct and ringd alternating; best round, and the spread of the rounds. Pinned: daemon"
	echo "on CPU $dcpu, client on CPU $ccpu. From $started to $ended; load average $load_before"
	echo "before, $load_after after."
	echo
	echo "| point | direct (best; min..max) | ringd (best; min..max) | ratio | target | met |"
	echo "|---|---|---|---|---|---|"
	declare -A ratio
	for p in pinned unpinned; do
		read -r d dmin dmax < <(stats "$p-qd32-direct" 8)
		read -r g gmin gmax < <(stats "$p-qd32-ringd" 8)
		ratio[$p-qd32]=$(calc "$g / $d")
		echo "| $p QD 32 IOPS | $d; $dmin..$dmax | $g; $gmin..$gmax | ${ratio[$p-qd32]} x |" \
			"≥ 0.95 x | $(yesno "${ratio[$p-qd32]} >= 0.95") |"
		read -r d dmin dmax < <(stats "$p-qd1-direct" 10 low)
		read -r g gmin gmax < <(stats "$p-qd1-ringd" 10 low)
		ratio[$p-qd1]=$(calc "$g - $d")
		echo "| $p QD 1 p50 µs | $d; $dmin..$dmax | $g; $gmin..$gmax |" \
			"+${ratio[$p-qd1]} µs | ≤ +0.6 µs | $(yesno "${ratio[$p-qd1]} <= 0.6") |"
		read -r d dmin dmax < <(stats "$p-nop-direct" 8)
		read -r g gmin gmax < <(stats "$p-nop-ringd" 8)
		ratio[$p-nop]=$g
		echo "| $p NOP/s, 64 in flight | $d; $dmin..$dmax | $g; $gmin..$gmax |" \
			"$(calc "$g / $d") x | ≥ 15 M/s | $(yesno "$g >= 15000000") |"
	done
	echo
	echo "Unpinned vs pinned (ringd): QD 32 $(calc "${ratio[unpinned-qd32]} / ${ratio[pinned-qd32]}") x"
	echo "the pinned ratio (target: not worse by more than 10 %:"
	echo "$(yesno "${ratio[unpinned-qd32]} >= 0.9 * ${ratio[pinned-qd32]}"))."
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
	read -r a amin amax < <(stats alone 8)
	read -r i imin imax < <(stats idle 8)
	echo "One QD 32 session (plain loop, pinned) alone: $a IOPS ($amin..$amax); next to"
	echo "$(field "$out/idle.txt" idle_sessions) idle sessions of 4 tenants (8-entry rings,"
	echo "64 KiB data areas): $i IOPS ($imin..$imax): $(calc "$i / $a") x (target ≥ 0.95 x:"
	echo "$(yesno "$i >= 0.95 * $a"))."
	echo "Attach rate: $(field "$out/idle.txt" attach_per_s) sessions/s. Daemon memory per idle"
	echo "session: $(field "$out/idle.txt" daemon_anon_kb_per_session) KiB private +"
	echo "$(field "$out/idle.txt" daemon_shmem_kb_per_session) KiB of the session's own shared"
	echo "memory (its rings and data area, mapped and registered); RSS"
	echo "$(field "$out/idle.txt" daemon_rss_kb_before) → $(field "$out/idle.txt" daemon_rss_kb_after) KiB."
	echo "Idle sessions go cold after 10 ms without SQEs: no pass looks at them until their"
	echo "doorbell rings."
} >"$out/plain.md"
echo "run-plain: $out/plain.md"
