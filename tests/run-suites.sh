#!/usr/bin/env bash
# Run every Criterion suite (tests/test-*) of each build directory given,
# then print one Criterion-style synthesis line and "N passed, N failed".
# Exit status is non-zero if any test failed or crashed, or a suite could
# not run.
set -u
shopt -s nullglob

# Sanitizer findings in the suites or in the daemons they start are failures.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:exitcode=98}"

total=0 pass=0 fail=0 crash=0 skip=0 broken=0
logdir=$(mktemp -d /tmp/ringd-suites.XXXXXX)

for build in "$@"; do
	for suite in "$build"/tests/test-*; do
		[ -x "$suite" ] && [ -f "$suite" ] || continue
		name="$(basename "$build")/$(basename "$suite")"
		log="$logdir/$(basename "$build")-$(basename "$suite").log"
		echo "=== $name"
		# Criterion's own output, verbose enough to show each test and skip.
		"$suite" --verbose=0 --jobs="${RINGD_TEST_JOBS:-2}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		line=$(grep -a "Synthesis: Tested:" "$log" | tail -n 1)
		if [ -z "$line" ]; then
			echo "!!! $name exited $rc without a Criterion synthesis line"
			broken=$((broken + 1))
			continue
		fi
		t=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$line")
		p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
		c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
		s=$(grep -ac "\[SKIP\]" "$log" || true)
		total=$((total + t)) pass=$((pass + p)) fail=$((fail + f)) crash=$((crash + c))
		skip=$((skip + s))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$c" -eq 0 ]; then
			echo "!!! $name exited $rc"
			broken=$((broken + 1))
		fi
	done
done

failed=$((fail + crash + broken))
echo
echo "[====] Synthesis: Tested: $total | Passing: $pass | Failing: $fail | Crashing: $crash "
echo "$pass passed, $failed failed, $skip skipped"
rm -rf "$logdir"
[ "$failed" -eq 0 ] && [ "$total" -gt 0 ]
