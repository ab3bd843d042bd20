/* SPDX-License-Identifier: MIT */
/*
 * rt_: test harness. Starts the real ringd binary on a private directory
 * with a config written by the test, and helps tests act as other users.
 */
#ifndef RINGD_TESTS_HARNESS_H
#define RINGD_TESTS_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

struct ringd;

struct rt_daemon {
	pid_t pid;
	char dir[64];	/* private directory, mode 0755 */
	char sock[100]; /* dir/ringd.sock (fits sun_path) */
	char conf[100]; /* dir/ringd.conf */
	char log[100];	/* dir/ringd.log: the daemon's stderr */
};

/* Test uids used by tenants; no passwd entries are needed. */
#define RT_UID_A	61001
#define RT_UID_B	61002
#define RT_UID_STRANGER 61999

/* Path of the ringd binary under test (the build's, or $RINGD_BIN). */
const char *rt_ringd_bin(void);
/* Path of ringd-io under test. */
const char *rt_ringd_io_bin(void);

/*
 * Copy the client binary @bin, and libringd next to it, into a directory
 * every uid can reach (the build tree may sit under a 0700 directory), so a
 * test can exec it after dropping to a tenant uid. Returns the copy's path
 * (valid until the process exits); run it with LD_LIBRARY_PATH set to
 * rt_stage_dir().
 */
const char *rt_stage_bin(const char *bin);
const char *rt_stage_dir(void);

/*
 * Create a private directory and write @conf_body to its ringd.conf with
 * every "@DIR@" replaced by the directory; a [daemon] section naming the
 * socket and state_dir is prepended unless the body has one. Returns 0 or -errno.
 */
int rt_daemon_prepare(struct rt_daemon *d, const char *conf_body);

/* Start ringd on the prepared config and wait until it accepts
 * connections. Returns 0, or -errno (the daemon's log is printed). */
int rt_daemon_launch(struct rt_daemon *d);

/*
 * As rt_daemon_launch(), running @setup(@arg) in the child before exec (to
 * set environment variables). @argv_prefix, if non-NULL, is the command to
 * run instead of ringd (e.g. systemd-socket-activate ... ringd); "-c CONF"
 * is appended. With @wait_ready false it returns right after fork.
 */
int rt_daemon_launch_with(struct rt_daemon *d, void (*setup)(void *), void *arg,
			  const char *const *argv_prefix, bool wait_ready);

/* prepare + launch; aborts the test (cr_assert) on failure. */
void rt_daemon_start(struct rt_daemon *d, const char *conf_body);

/* SIGTERM, wait, remove the directory. Returns the exit status or -errno. */
int rt_daemon_stop(struct rt_daemon *d);

/*
 * Replace the running daemon's config file with @conf_body (as
 * rt_daemon_prepare() writes it), atomically: a reload never reads half a
 * file. The daemon is not signalled. Returns 0 or -errno.
 */
int rt_daemon_rewrite_conf(const struct rt_daemon *d, const char *conf_body);

/* Print the daemon's log to stderr. */
void rt_print_log(const struct rt_daemon *d);

/*
 * Lines of the daemon's log containing any of the NULL-terminated
 * @needles (case-insensitive). The last such line goes to @last (if
 * non-NULL). Returns the count, or -errno.
 */
int rt_log_count(const struct rt_daemon *d, const char *const *needles, char *last, size_t lastlen);

/* Connect to @d with optional sizes; returns 0 or -errno. */
int rt_connect(const struct rt_daemon *d, unsigned int sq, unsigned int cq, size_t buf,
	       struct ringd **out);

/* As rt_connect(), with ringd_opts.flags = @flags (e.g. RINGD_OPT_NO_RECONNECT). */
int rt_connect_flags(const struct rt_daemon *d, unsigned int sq, unsigned int cq, size_t buf,
		     unsigned int flags, struct ringd **out);

/* Number of open fds of process @pid, or -errno. */
int rt_count_fds(pid_t pid);

/* Daemon-wide counters, through a root admin connection. */
struct rt_admin_stats {
	uint32_t sessions;
	uint32_t buffers_registered;
	uint32_t files_registered;
	uint32_t requests_inflight;
	uint32_t sessions_cold; /* idle, not polled until their doorbell */
};
int rt_admin_stats(const struct rt_daemon *d, struct rt_admin_stats *st);

/* Poll @cond every 10 ms for up to @ms; returns true if it became true. */
#define rt_wait_for(ms, cond)                                                                      \
	({                                                                                         \
		int __i;                                                                           \
		bool __ok = false;                                                                 \
		for (__i = 0; __i < (ms) / 10; __i++) {                                            \
			if (cond) {                                                                \
				__ok = true;                                                       \
				break;                                                             \
			}                                                                          \
			usleep(10000);                                                             \
		}                                                                                  \
		__ok || (cond);                                                                    \
	})

/* Fill @buf with a pattern derived from @seed and @off (checkable later). */
void rt_fill(void *buf, size_t len, uint64_t seed, uint64_t off);
/* Returns the first byte index that differs from rt_fill()'s pattern, or -1. */
long rt_check(const void *buf, size_t len, uint64_t seed, uint64_t off);

/* Read @len bytes at @off of @path into @buf (pread, for checking backing
 * files). Returns 0 or -errno. */
int rt_pread_file(const char *path, void *buf, size_t len, uint64_t off);
int rt_pwrite_file(const char *path, const void *buf, size_t len, uint64_t off);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t rt_now_us(void);

/*
 * A victim measured beside an attack that stood still for @slow_us (a
 * flush, a held pool): skip the test if that was under @min_us (nothing
 * slow to stand behind on this machine), else assert the victim's worst
 * wait @worst_us was under half of it: a victim that stood behind it
 * waited all of it. Suites that time victims run their tests one at a
 * time (rt_main_one_at_a_time): two at a time, a victim that did not
 * stand behind it still saw the other test's load (70 ms seen).
 * @victim and @attack name both in the failure ("tenant b's write +
 * fsync", "root's flushes").
 */
/*
 * main() of a suite whose tests time a victim or measure rates: its tests
 * run one at a time, whatever --jobs the runner passes (tests/run-suites.sh
 * passes two), so that no test's load lands in another's figures. Returns
 * the process's exit status.
 */
int rt_main_one_at_a_time(int argc, char *argv[]);

void rt_assert_not_behind(uint64_t worst_us, uint64_t slow_us, uint64_t min_us, const char *victim,
			  const char *attack);

/* Fork; in the child drop to @uid/@gid and run @fn(arg), exiting with its
 * return value. Returns the child's pid. */
pid_t rt_fork_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);
/* Wait for @pid; returns its exit status, or 128+signal. */
int rt_wait_child(pid_t pid);

#endif
