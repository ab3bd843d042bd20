# shellcheck shell=bash
# Shared by the make bench scripts (sourced, not run): their work
# directory and its clean-up, the page-cached volume, and the daemon.
#
#   bench_setup NAME      needs root; $work = a fresh /var/tmp/ringd-NAME.XXXXXX
#                         (0755), removed on exit with the daemon stopped and
#                         bench_cleanup_hook called first if the script has one
#   bench_fill FILE SIZE  fill FILE with SIZE (K/M/G) random bytes, flushed, then
#                         read once so that reads are served from the page cache
#   bench_daemon CONF [CPU]
#                         (re)start ringd on CONF (its socket must be
#                         $work/ringd.sock), pinned to CPU if given; log in
#                         $work/ringd.log; $daemon_pid; exits if it never listens
#   bench_stop_daemon     stop it (TERM, then wait)
#
# Needs $ringd (the daemon binary) for bench_daemon.
# shellcheck disable=SC2154 # $ringd is the sourcing script's

daemon_pid=

bench_stop_daemon() {
	if [ -n "$daemon_pid" ]; then
		kill -TERM "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
		daemon_pid=
	fi
}

bench_cleanup() {
	if declare -F bench_cleanup_hook >/dev/null; then
		bench_cleanup_hook
	fi
	bench_stop_daemon
	rm -rf "$work"
}

bench_setup() {
	[ "$(id -u)" = 0 ] || { echo "run-$1: needs root" >&2; exit 1; }
	work=$(mktemp -d "/var/tmp/ringd-$1.XXXXXX")
	chmod 755 "$work"
	trap bench_cleanup EXIT
}

bench_fill() {
	dd if=/dev/urandom of="$1" bs=1M count=$(( $(numfmt --from=iec "$2") >> 20 )) status=none
	sync "$1"
	cat "$1" >/dev/null
}

bench_daemon() {
	local conf=$1 cpu=${2:-}

	bench_stop_daemon
	rm -f "$work/ringd.sock"
	if [ -n "$cpu" ]; then
		taskset -c "$cpu" "$ringd" -c "$conf" 2>>"$work/ringd.log" &
	else
		"$ringd" -c "$conf" 2>>"$work/ringd.log" &
	fi
	daemon_pid=$!
	for _ in $(seq 100); do
		[ -S "$work/ringd.sock" ] && return 0
		sleep 0.05
	done
	cat "$work/ringd.log" >&2
	exit 1
}
