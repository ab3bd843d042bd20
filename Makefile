# ringd: thin wrapper around meson. `make run` and `make test` work on a
# fresh Debian 12 machine as root: they install what is missing first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
CONFIG     ?= config/ringd.conf
MESON_OPTS ?= -Dwerror=true

# Debian packages the build, the tests and the tools need. prometheus is
# there for promtool (tests/integration/test_ops.c checks the exposition
# with it; Debian 12 ships no separate promtool package). Installed without
# systemd as PID 1 it starts nothing; on a systemd host it also enables a
# Prometheus server (disable it with systemctl disable --now prometheus).
# libsqlite3-dev and sqlite3 are for libringd-sqlite (the SQLite VFS) and
# its suite; libseccomp-dev for tests/lib/no-io-uring (tenants run with
# io_uring blocked, as in a container).
DEPS = meson ninja-build pkg-config gcc g++ clang \
       liburing-dev libnvme-dev libjson-c-dev libsystemd-dev \
       libprotobuf-c-dev protobuf-c-compiler libinih-dev libcriterion-dev \
       util-linux systemd fio gnuplot-nox dpkg-dev mandoc man-db \
       qemu-system-x86 busybox-static cpio kmod xz-utils \
       prometheus libsqlite3-dev sqlite3 libseccomp-dev

.PHONY: all deps build build-asan run test test-plain test-asan test-vm bench fuzz format check-format clean

all: build

deps:
	@missing=""; for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root to install:$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The plain build is the one that runs and is measured: link-time
# optimization inlines the data path's small cross-file helpers (about a
# fifth fewer instructions per request; make bench's plain-loop NOPs went
# from 13 to 16 M/s with it).
$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS) -Db_lto=true

$(ASAN_BUILD)/build.ninja:
	CC=clang CXX=clang++ meson setup $(ASAN_BUILD) $(MESON_OPTS) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# CXX here too: a build directory set up before the C++ client existed
# picks clang++ (not g++) when ninja regenerates it.
build-asan: deps $(ASAN_BUILD)/build.ninja
	CXX=clang++ ninja -C $(ASAN_BUILD)

run: build
	./$(BUILD)/daemon/ringd -c $(CONFIG)

# Every suite, plain (gcc) and under ASan+UBSan (clang); one summary at the end.
test: build build-asan
	tests/run-suites.sh $(BUILD) $(ASAN_BUILD)

test-plain: build
	tests/run-suites.sh $(BUILD)

test-asan: build-asan
	tests/run-suites.sh $(ASAN_BUILD)

# Direct io_uring vs ringd on this machine: tests/bench/results/ (JSON,
# plots, summary.md). About 5 minutes; needs root.
bench: build
	tests/bench/run-bench.sh $(BUILD)

# Each libFuzzer harness (clang, in the ASan build) for FUZZ_SECONDS; the
# grown corpus and any crash artifacts stay in $(ASAN_BUILD)/fuzz-work.
# (make test runs the same harnesses for 20 s each as the test-fuzz suite.)
FUZZ_SECONDS ?= 300
fuzz: build-asan
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_KEEP=$(CURDIR)/$(ASAN_BUILD)/fuzz-work \
		$(ASAN_BUILD)/tests/test-fuzz

# Only the NVMe suite in the QEMU VM (plain build; make test runs it too,
# as build/tests/test-vm). The kernel package is cached in /var/cache/ringd-vm.
test-vm: build
	./$(BUILD)/tests/test-vm --verbose=0

format:
	git ls-files '*.c' '*.h' '*.cc' | xargs clang-format -i

check-format:
	git ls-files '*.c' '*.h' '*.cc' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
