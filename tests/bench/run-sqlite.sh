#!/usr/bin/env bash
# The SQLite section of make bench (issue 12): SQLite's own speedtest1 on
# the ringd VFS (libringd-sqlite, a directory volume) against SQLite's
# default unix VFS on the same file system, one tenant alone and four
# tenants at once (four uids, four directory volumes / four directories),
# in rollback-journal (DELETE) and WAL (exclusive locking) modes. Rounds
# alternate the VFSes; the best round and the spread are reported, with
# the load average before and after. Writes sqlite.tsv and sqlite.md in
# RESULTS_DIR (run-bench.sh appends sqlite.md to summary.md).
#
#   tests/bench/run-sqlite.sh BUILD_DIR RESULTS_DIR
#
# Environment: BENCH_SQLITE_SIZE (speedtest1 --size, default 25),
# BENCH_SQLITE_ROUNDS (3).
set -euo pipefail

build=$(cd "${1:?usage: run-sqlite.sh BUILD_DIR RESULTS_DIR}" && pwd)
out=${2:?usage: run-sqlite.sh BUILD_DIR RESULTS_DIR}
size=${BENCH_SQLITE_SIZE:-25}
rounds=${BENCH_SQLITE_ROUNDS:-3}
ringd="$build/daemon/ringd"
speed="$build/tests/sqlite/speedtest1"
UIDS=(61401 61402 61403 61404)

mkdir -p "$out"
if [ ! -x "$speed" ]; then
	{
		echo "## SQLite speedtest1 (issue 12)"
		echo
		echo "Not measured: $speed was not built (speedtest1.c is fetched from Debian's"
		echo "sqlite3 source at configure time; see the meson log)."
	} >"$out/sqlite.md"
	echo "run-sqlite: speedtest1 not built, skipped" >&2
	exit 0
fi

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup sqlite
# Binaries and libraries where every tenant uid can reach them.
mkdir -p "$work/bin"
cp "$speed" "$work/bin/"
cp -L "$build"/client-lib/libringd.so "$build"/client-lib/libringd.so.[0-9] \
	"$build"/client-lib/sqlite/libringd-sqlite.so "$work/bin/"
chmod -R a+rX "$work/bin"

{
	cat <<EOF
[daemon]
socket = $work/ringd.sock
state_dir = $work/state
log_level = warn
EOF
	for i in 0 1 2 3; do
		printf '\n[volume db%s]\ndir = %s/ringd%s\nsize = 4G\n' "$i" "$work" "$i"
		printf '\n[tenant t%s]\nuid = %s\nvolumes = db%s:rw\n' "$i" "${UIDS[$i]}" "$i"
	done
} >"$work/ringd.conf"
for i in 0 1 2 3; do
	mkdir -p "$work/unix$i"
	chown "${UIDS[$i]}:${UIDS[$i]}" "$work/unix$i"
done
bench_daemon "$work/ringd.conf"

tsv="$out/sqlite.tsv"
rm -f "$tsv" "$out/sqlite.md"

# one VFS MODE I: speedtest1 as tenant I, its seconds on stdout.
one() {
	local vfs=$1 mode=$2 i=$3 db args=()
	if [ "$vfs" = ringd ]; then
		rm -rf "$work/ringd$i"/*
		db="db$i/speed.db"
		args=(--vfs ringd)
	else
		rm -rf "$work/unix$i"/*
		db="$work/unix$i/speed.db"
	fi
	[ "$mode" = wal ] && args+=(--journal wal --exclusive)
	setpriv --reuid "${UIDS[$i]}" --regid "${UIDS[$i]}" --clear-groups \
		env LD_LIBRARY_PATH="$work/bin" RINGD_SOCKET="$work/ringd.sock" \
		"$work/bin/speedtest1" --size "$size" "${args[@]}" "$db" >"$work/out-$vfs-$mode-$i.txt" 2>&1 ||
		{ echo "run-sqlite: speedtest1 ($vfs, $mode, tenant $i) failed:" >&2
		  cat "$work/out-$vfs-$mode-$i.txt" >&2; exit 1; }
	awk '/TOTAL/ { gsub("s", "", $NF); print $NF }' "$work/out-$vfs-$mode-$i.txt"
}

# point VFS MODE N ROUND: N tenants at once; the slowest one's seconds.
point() {
	local vfs=$1 mode=$2 n=$3 r=$4 i worst=0 pids=() t
	for ((i = 0; i < n; i++)); do
		one "$vfs" "$mode" "$i" >"$work/t-$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	for ((i = 0; i < n; i++)); do
		t=$(cat "$work/t-$i")
		worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
	done
	printf '%s\t%s\t%s\t%s\t%s\n' "$vfs" "$mode" "$n" "$r" "$worst" >>"$tsv"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for mode in delete wal; do
	for n in 1 4; do
		echo "run-sqlite: speedtest1 --size $size, $mode, $n tenant(s), $rounds rounds"
		for r in $(seq "$rounds"); do
			point unix "$mode" "$n" "$r"
			point ringd "$mode" "$n" "$r"
		done
	done
done
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# stats VFS MODE N: "best min max" seconds over the rounds (best: the least).
stats() {
	awk -F'\t' -v v="$1" -v m="$2" -v n="$3" '$1 == v && $2 == m && $3 == n {
		x = $5 + 0; k++; if (k == 1 || x < mn) mn = x; if (k == 1 || x > mx) mx = x }
		END { printf "%.3f %.3f %.3f\n", mn, mn, mx }' "$tsv"
}
{
	echo "## SQLite speedtest1 (issue 12)"
	echo
	echo "SQLite's own \`speedtest1 --size $size\` (from Debian's sqlite3 source, linked"
	echo "against the system libsqlite3) on the ringd VFS (\`libringd-sqlite.so\`, a"
	echo "directory volume; the tenant under no seccomp restriction here) against SQLite's"
	echo "default unix VFS on the same file system, run as the same uid. Four tenants: four"
	echo "uids, four volumes (four directories), at once; the slowest one's time. $rounds"
	echo "rounds, alternating; best round (least seconds) and spread. Ratio: unix seconds /"
	echo "ringd seconds (above 1: ringd is faster). From $started to $ended; load average"
	echo "$load_before before, $load_after after."
	echo
	echo "| journal | tenants | unix VFS s (best; min..max) | ringd VFS s (best; min..max) | ratio |"
	echo "|---|---|---|---|---|"
	for mode in delete wal; do
		for n in 1 4; do
			read -r u umin umax < <(stats unix "$mode" "$n")
			read -r g gmin gmax < <(stats ringd "$mode" "$n")
			echo "| $mode | $n | $u; $umin..$umax | $g; $gmin..$gmax |" \
				"$(awk "BEGIN { printf \"%.2f\", $u / $g }") x |"
		done
	done
} >"$out/sqlite.md"
echo "run-sqlite: $out/sqlite.md"
