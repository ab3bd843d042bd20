/* SPDX-License-Identifier: MIT */
/*
 * Hostile tenants of directory volumes (HOSTILE.md H38-H40): a RINGD_LOCK
 * held by a session that never reaps, open storms against the tenant's
 * limits, and a create/rename/unlink flood, each while a second tenant
 * runs its timed, verified workload.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "ringd.h"

static struct rt_daemon g_d;

static void teardown(void)
{
	hs_teardown(&g_d);
}

TestSuite(files_hostile, .fini = teardown, .timeout = 120);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The lock holder: opens db with RINGD_LOCK, fills its tiny CQ with
 * writes it never reaps, says so on @ready and sleeps until killed. */
static int lock_holder(void *arg)
{
	int ready = *(int *)arg;
	struct ringd_opts o = {
		.socket_path = g_d.sock, .sq_entries = 16, .cq_entries = 16, .buf_size = 1u << 20
	};
	struct ringd *rd;
	char *buf;
	int h, i;

	if (ringd_connect(&o, &rd))
		return 10;
	h = ringd_open_file(rd, "hfiles", "db", RINGD_RDWR | RINGD_CREAT | RINGD_LOCK, 0600, NULL);
	if (h < 0)
		return 11;
	buf = ringd_buf_alloc(rd, 4096, 4096);
	/* Until the CQ (never reaped) and then the SQ are full. */
	for (i = 0; i < 64; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		if (!sqe) {
			usleep(20000);
			if (!(sqe = ringd_get_sqe(rd)))
				break;
		}
		ringd_prep_write(sqe, h, buf, 4096, (uint64_t)i * 4096);
		ringd_submit(rd);
	}
	if (write(ready, "r", 1) != 1)
		return 12;
	for (;;)
		pause();
}

static int open_locked(int *h_out)
{
	struct ringd_opts o = {
		.socket_path = g_d.sock, .sq_entries = 8, .cq_entries = 16, .buf_size = 65536
	};
	struct ringd *rd;
	int h;

	if (ringd_connect(&o, &rd))
		return -ENOTCONN;
	h = ringd_open_file(rd, "hfiles", "db", RINGD_RDWR | RINGD_LOCK, 0, NULL);
	*h_out = h;
	ringd_disconnect(rd);
	return h < 0 ? h : 0;
}

struct lock_probe {
	int busy_res;
	uint64_t busy_ms;
	int after_kill_res;
};

/* Run as the hostile uid: the lock is busy while the holder lives, free
 * once it is gone (the holder's pid arrives on @arg's pipe). */
static int lock_prober(void *arg)
{
	int *fds = arg, h;
	pid_t holder;
	uint64_t t0 = now_ms();
	struct lock_probe p = { 0 };

	p.busy_res = open_locked(&h);
	p.busy_ms = now_ms() - t0;
	if (read(fds[0], &holder, sizeof(holder)) != sizeof(holder))
		return 20;
	kill(holder, SIGKILL);
	/* The daemon sees the hang-up and lets go of the lock. */
	t0 = now_ms();
	do {
		p.after_kill_res = open_locked(&h);
		if (p.after_kill_res != -EBUSY)
			break;
		usleep(10000);
	} while (now_ms() - t0 < 5000);
	return write(fds[1], &p, sizeof(p)) == sizeof(p) ? 0 : 21;
}

/* H38: a lock holder that never reaps cannot hold the daemon, nor its
 * lock past its own life. */
Test(files_hostile, h38_lock_held_by_a_session_that_never_reaps)
{
	int ready[2], to_prober[2], from_prober[2], args[2];
	struct victim v;
	struct lock_probe p;
	pid_t holder, prober;
	char c;

	hs_start(&g_d, "30s");
	vt_start_timed(&g_d, &v);
	cr_assert_eq(pipe(ready), 0);
	holder = rt_fork_as(RT_UID_A, RT_UID_A, lock_holder, &ready[1]);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		cr_assert_fail("the lock holder did not start (exit %d)", rt_wait_child(holder));
	usleep(200000);
	cr_assert_eq(pipe(to_prober), 0);
	cr_assert_eq(pipe(from_prober), 0);
	args[0] = to_prober[0];
	args[1] = from_prober[1];
	prober = rt_fork_as(RT_UID_A, RT_UID_A, lock_prober, args);
	cr_assert_eq(write(to_prober[1], &holder, sizeof(holder)), (ssize_t)sizeof(holder));
	cr_assert_eq(rt_wait_child(prober), 0);
	cr_assert_eq(read(from_prober[0], &p, sizeof(p)), (ssize_t)sizeof(p));
	waitpid(holder, NULL, 0);
	vt_finish(&v);
	cr_log_info("H38: lock busy answered in %llu ms (%d); free after the holder died (%d); "
		    "victim worst %llu us over %llu I/Os",
		    (unsigned long long)p.busy_ms, p.busy_res, p.after_kill_res,
		    (unsigned long long)v.worst_us, (unsigned long long)v.ops);
	cr_assert_eq(p.busy_res, -EBUSY);
	cr_assert_lt(p.busy_ms, 2000, "a refused lock is answered at once");
	cr_assert_eq(p.after_kill_res, 0, "the lock outlived its holder: %s",
		     strerror(-p.after_kill_res));
	cr_assert_lt(v.worst_us, 2000000, "victim stalled %llu us", (unsigned long long)v.worst_us);
	hs_finish(&g_d);
}

struct storm_result {
	uint64_t opens, emfile, creates, renames, unlinks, other_errors;
	int first_error;
};

/*
 * One storm session for 3 s. Sessions 0-3 first take two files each, the
 * tenant's max_open_files in all; then every session tries to open more
 * (refused) and creates, renames and removes directories as fast as it
 * can: each of those is a durable namespace change for the worker.
 */
static int stormer(void *arg)
{
	unsigned int id = *(unsigned int *)arg;
	struct ringd_opts o = {
		.socket_path = g_d.sock, .sq_entries = 8, .cq_entries = 16, .buf_size = 65536
	};
	struct storm_result r = { 0 };
	struct ringd *rd;
	uint64_t end = now_ms() + 3000;
	int held[2], nheld = 0, i = 0, h;
	char a[32], b[32];

	if (ringd_connect(&o, &rd))
		return 30;
	while (id < 4 && nheld < 2) {
		snprintf(a, sizeof(a), "held%u-%d", id, nheld);
		h = ringd_open_file(rd, "hfiles", a, RINGD_RDWR | RINGD_CREAT, 0600, NULL);
		if (h < 0)
			return 32;
		held[nheld++] = h;
		r.opens++;
	}
	usleep(100000); /* everyone holds what they hold */
	while (now_ms() < end) {
		int ret;

		snprintf(a, sizeof(a), "d%u-%d", id, i);
		snprintf(b, sizeof(b), "e%u-%d", id, i);
		i++;
		h = ringd_open_file(rd, "hfiles", a, RINGD_RDWR | RINGD_CREAT, 0600, NULL);
		if (h >= 0) {
			r.opens++;
			ringd_close(rd, h);
			ringd_unlink(rd, "hfiles", a);
		} else if (h == -EMFILE)
			r.emfile++;
		else if (!r.first_error)
			r.first_error = h, r.other_errors++;
		ret = ringd_mkdir(rd, "hfiles", a, 0700);
		r.creates += !ret;
		ret = ret ? ret : ringd_rename(rd, "hfiles", a, b);
		r.renames += !ret;
		ret = ret ? ret : ringd_unlink(rd, "hfiles", b);
		r.unlinks += !ret;
		if (ret && !r.first_error)
			r.first_error = ret, r.other_errors++;
	}
	while (nheld)
		ringd_close(rd, held[--nheld]);
	ringd_disconnect(rd);
	return write(*((int *)arg + 1), &r, sizeof(r)) == sizeof(r) ? 0 : 31;
}

/* H39 + H40: open and namespace storms from every session the hostile
 * tenant may have stay inside its limits and do not stall the victim. */
Test(files_hostile, h39_h40_open_and_namespace_storms_stay_in_the_tenants_limits)
{
	unsigned int i, n = HS_HOSTILE_SESSIONS;
	struct storm_result tot = { 0 };
	int pipes[HS_HOSTILE_SESSIONS][2], args[HS_HOSTILE_SESSIONS][2], fds_before, fds_peak = 0;
	pid_t pids[HS_HOSTILE_SESSIONS];
	struct victim v;

	hs_start(&g_d, "30s");
	fds_before = hs_stable_fd_count(g_d.pid);
	vt_start_timed(&g_d, &v);
	for (i = 0; i < n; i++) {
		cr_assert_eq(pipe(pipes[i]), 0);
		args[i][0] = (int)i;
		args[i][1] = pipes[i][1];
		pids[i] = rt_fork_as(RT_UID_A, RT_UID_A, stormer, args[i]);
	}
	for (i = 0; i < 25; i++) {
		int fds = rt_count_fds(g_d.pid);

		if (fds > fds_peak)
			fds_peak = fds;
		usleep(100000);
	}
	for (i = 0; i < n; i++) {
		struct storm_result r;

		cr_assert_eq(rt_wait_child(pids[i]), 0, "stormer %u", i);
		cr_assert_eq(read(pipes[i][0], &r, sizeof(r)), (ssize_t)sizeof(r));
		tot.opens += r.opens;
		tot.emfile += r.emfile;
		tot.creates += r.creates;
		tot.renames += r.renames;
		tot.unlinks += r.unlinks;
		tot.other_errors += r.other_errors;
		cr_expect_eq(r.other_errors, 0, "stormer %u: %s", i, strerror(-r.first_error));
	}
	vt_finish(&v);
	cr_log_info(
	    "H39/H40: %llu opens, %llu -EMFILE, %llu mkdirs, %llu renames, %llu unlinks "
	    "from %u sessions; daemon fds %d -> peak %d; victim worst %llu us over %llu I/Os",
	    (unsigned long long)tot.opens, (unsigned long long)tot.emfile,
	    (unsigned long long)tot.creates, (unsigned long long)tot.renames,
	    (unsigned long long)tot.unlinks, n, fds_before, fds_peak,
	    (unsigned long long)v.worst_us, (unsigned long long)v.ops);
	cr_assert_geq(tot.opens, HS_HOSTILE_FILES, "the tenant could open its max_open_files");
	cr_assert_gt(tot.emfile, 0, "max_open_files never bound");
	cr_assert_gt(tot.unlinks, 0);
	/* At most max_open_files files, plus each session's three fds and a
	 * job's dups in flight, beyond the baseline. */
	cr_assert_leq(fds_peak, fds_before + (int)HS_HOSTILE_FILES + 3 * (int)n + 8 + 4,
		      "the daemon holds %d fds (baseline %d)", fds_peak, fds_before);
	cr_assert_lt(v.worst_us, 2000000, "victim stalled %llu us", (unsigned long long)v.worst_us);
	hs_finish(&g_d);
}

/* Bytes (st_size) of the regular files directly in @dir. */
static uint64_t dir_bytes(const char *dir)
{
	char cmd[512], buf[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "find '%s' -type f -printf '%%s\\n' | awk '{ s += $1 } END "
		 "{ print s + 0 }'",
		 dir);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(buf, sizeof(buf), p));
	pclose(p);
	return strtoull(buf, NULL, 10);
}

/*
 * H41: grow a file with a truncate and hang up before the answer, again
 * and again. Each growth is counted before the worker runs; the hang-up
 * is read only after the answer, and the file is held open by the job
 * anyway (a session can also end by a kick or a stall): the files never
 * hold more than the volume's size, and the daemon's count agrees with
 * the disk.
 */
Test(files_hostile, h41_truncate_then_hang_up_cannot_beat_the_quota)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Truncate t = RINGD__TRUNCATE__INIT;
	struct ringd_sqe sqe;
	char dir[256], path[32];
	struct victim v;
	struct hc c;
	uint64_t bytes;
	int i, h;

	hs_start(&g_d, "30s");
	vt_start_timed(&g_d, &v);
	for (i = 0; i < 20; i++) {
		hs_attach(&g_d, &c, 8, 16, 65536);
		snprintf(path, sizeof(path), "t%d", i);
		h = hc_open_file(&c, "hfiles", path, RINGD_RDWR | RINGD_CREAT);
		cr_assert_geq(h, 0, "open %s: %s", path, strerror(-h));
		t.handle = h;
		t.size = 4u << 20; /* the whole volume */
		rq.msg_case = RINGD__REQUEST__MSG_TRUNCATE;
		rq.truncate = &t;
		cr_assert_eq(hc_send_req(c.sock, &rq), 0);
		hc_detach(&c); /* before the answer */
	}
	usleep(500000);
	snprintf(dir, sizeof(dir), "%s/state/hfiles.d", g_d.dir);
	bytes = dir_bytes(dir);
	/* The daemon's count matches: growing anything now is -EDQUOT. */
	hs_attach(&g_d, &c, 8, 16, 65536);
	h = hc_open_file(&c, "hfiles", "probe", RINGD_RDWR | RINGD_CREAT);
	cr_assert_geq(h, 0);
	memset(&sqe, 0, sizeof(sqe));
	hc_prep_rw(&sqe, RINGD_OP_WRITE, h, bytes ? 0 : (4u << 20), 0, 4096, 1);
	if (bytes >= (4u << 20) - 4096)
		cr_assert_eq(hs_one(&c, &sqe, 5000), -EDQUOT, "the volume is full on disk");
	hc_detach(&c);
	vt_finish(&v);
	cr_log_info("H41: 20 truncates to 4 MiB each, hung up on: files hold %llu bytes",
		    (unsigned long long)bytes);
	cr_assert_leq(bytes, 4u << 20, "the files hold %llu bytes, past the volume's 4 MiB",
		      (unsigned long long)bytes);
	hs_finish(&g_d);
}
