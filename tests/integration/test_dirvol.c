/* SPDX-License-Identifier: MIT */
/*
 * Directory volumes through the real daemon: files created, grown, read,
 * renamed and removed by tenants; the volume's size as a quota; paths that
 * try to leave the volume; RINGD_LOCK; two tenants who cannot touch each
 * other's files.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "it.h"
#include "ringd.h"

static struct rt_daemon g_d;

static const char conf[] = "[volume db]\n"
			   "dir = db.d\n"
			   "size = 1M\n"
			   "\n"
			   "[volume dbdirect]\n"
			   "dir = dbdirect.d\n"
			   "size = 4M\n"
			   "direct = yes\n"
			   "\n"
			   "[volume other]\n"
			   "dir = other.d\n"
			   "size = 1M\n"
			   "\n"
			   "[volume plain]\n"
			   "path = plain.img\n"
			   "create_size = 1M\n"
			   "\n"
			   "[volume few]\n"
			   "dir = few.d\n"
			   "size = 1M\n"
			   "max_entries = 6\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = db:rw, dbdirect:rw, plain:rw, few:rw\n"
			   "\n"
			   "[tenant b]\n"
			   "uid = 61002\n"
			   "volumes = other:rw\n";

static void start(void)
{
	rt_daemon_start(&g_d, conf);
}

static void stop(void)
{
	it_stop(&g_d);
}

TestSuite(dirvol, .init = start, .fini = stop, .timeout = 60);

static struct ringd *conn(void)
{
	struct ringd *rd;
	int ret = rt_connect(&g_d, 16, 32, 1u << 20, &rd);

	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	return rd;
}

static int io1(struct ringd *rd, bool write, int h, void *buf, unsigned int len, uint64_t off)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rd);

	cr_assert_not_null(sqe);
	if (write)
		ringd_prep_write(sqe, h, buf, len, off);
	else
		ringd_prep_read(sqe, h, buf, len, off);
	return it_run1(rd, sqe, 7);
}

static int fsync1(struct ringd *rd, int h)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rd);

	ringd_prep_fsync(sqe, h, 0);
	return it_run1(rd, sqe, 8);
}

Test(dirvol, create_write_extend_read_short)
{
	struct ringd *rd = conn();
	struct ringd_volume_info info;
	char *buf = ringd_buf_alloc(rd, 8192, 4096);
	char path[256];
	struct stat st;
	int h, ret;

	h = ringd_open_file(rd, "db", "a.db", RINGD_RDWR | RINGD_CREAT | RINGD_EXCL, 0600, &info);
	cr_assert_geq(h, 0, "open: %s (%s)", strerror(-h), ringd_last_message());
	cr_assert_eq(info.size, 0);
	cr_assert(info.flags & RINGD_VOL_FILE);
	cr_assert_eq(
	    ringd_open_file(rd, "db", "a.db", RINGD_RDWR | RINGD_CREAT | RINGD_EXCL, 0600, NULL),
	    -EEXIST);
	rt_fill(buf, 8192, 1, 0);
	cr_assert_eq(io1(rd, true, h, buf, 8192, 4096), 8192);
	cr_assert_eq(fsync1(rd, h), 0);
	cr_assert_eq(ringd_fstat(rd, h, &info), 0);
	cr_assert_eq(info.size, 12288);
	memset(buf, 0, 8192);
	/* Past the end: short. */
	cr_assert_eq(io1(rd, false, h, buf, 8192, 8192), 4096);
	cr_assert_eq(rt_check(buf, 4096, 1, 4096), -1);
	cr_assert_eq(io1(rd, false, h, buf, 4096, 65536), 0);
	/* The file is the daemon's, in the volume's directory. */
	snprintf(path, sizeof(path), "%s/state/db.d/a.db", g_d.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 12288);
	cr_assert_eq(st.st_uid, 0u);
	snprintf(path, sizeof(path), "%s/state/db.d", g_d.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	/* Truncate down and up; a reopen sees the size. */
	cr_assert_eq(ringd_truncate(rd, h, 100), 0);
	cr_assert_eq(ringd_fstat(rd, h, &info), 0);
	cr_assert_eq(info.size, 100);
	cr_assert_eq(ringd_close(rd, h), 0);
	h = ringd_open_file(rd, "db", "a.db", RINGD_RDONLY, 0, &info);
	cr_assert_geq(h, 0);
	cr_assert_eq(info.size, 100);
	cr_assert_eq(io1(rd, true, h, buf, 10, 0), -EBADF, "writes on a read-only handle");
	cr_assert_eq(ringd_truncate(rd, h, 0), -EBADF);
	cr_assert_eq(ringd_close(rd, h), 0);
	h = ringd_open_file(rd, "db", "a.db", RINGD_RDWR | RINGD_TRUNC, 0, &info);
	cr_assert_geq(h, 0, "%s", strerror(-h));
	cr_assert_eq(info.size, 0);
	cr_assert_eq(ringd_close(rd, h), 0);
	ret = ringd_unlink(rd, "db", "a.db");
	cr_assert_eq(ret, 0, "%s", strerror(-ret));
	cr_assert_eq(ringd_open_file(rd, "db", "a.db", RINGD_RDWR, 0, NULL), -ENOENT);
	ringd_disconnect(rd);
}

Test(dirvol, namespace_ops)
{
	struct ringd *rd = conn();
	struct ringd_volume_info info;
	char *buf = ringd_buf_alloc(rd, 4096, 4096);
	int h;

	cr_assert_eq(ringd_mkdir(rd, "db", "sub", 0700), 0);
	cr_assert_eq(ringd_mkdir(rd, "db", "sub", 0700), -EEXIST);
	h = ringd_open_file(rd, "db", "sub/x", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	cr_assert_geq(h, 0, "%s", strerror(-h));
	rt_fill(buf, 4096, 2, 0);
	cr_assert_eq(io1(rd, true, h, buf, 4096, 0), 4096);
	cr_assert_eq(ringd_rename(rd, "db", "sub/x", "y"), 0);
	/* The handle follows the inode. */
	memset(buf, 0, 4096);
	cr_assert_eq(io1(rd, false, h, buf, 4096, 0), 4096);
	cr_assert_eq(rt_check(buf, 4096, 2, 0), -1);
	cr_assert_eq(ringd_stat(rd, "db", "y", &info), 0);
	cr_assert_eq(info.size, 4096);
	cr_assert_eq(ringd_stat(rd, "db", "sub/x", &info), -ENOENT);
	cr_assert_eq(ringd_stat(rd, "db", "sub", &info), -EISDIR);
	cr_assert_eq(ringd_open_file(rd, "db", "sub", RINGD_RDWR, 0, NULL), -EISDIR);
	cr_assert_eq(ringd_unlink(rd, "db", "sub"), 0, "an empty directory goes");
	cr_assert_eq(ringd_unlink(rd, "db", "y"), 0);
	cr_assert_eq(ringd_close(rd, h), 0);
	/* Bad flags and the wrong kind of volume. */
	cr_assert_eq(ringd_open_file(rd, "db", "z", RINGD_RDONLY | RINGD_CREAT, 0, NULL), -EINVAL);
	cr_assert_eq(ringd_open_file(rd, "db", "z", RINGD_RDWR | RINGD_EXCL, 0, NULL), -EINVAL);
	cr_assert_eq(ringd_open_file(rd, "db", "z", RINGD_RDWR | (1 << 20), 0, NULL), -EINVAL);
	cr_assert_eq(ringd_open_file(rd, "plain", "z", RINGD_RDWR | RINGD_CREAT, 0, NULL), -EINVAL);
	cr_assert_eq(ringd_open(rd, "db", RINGD_RDWR, NULL), -EISDIR);
	cr_assert_eq(ringd_open_file(rd, "nope", "z", RINGD_RDWR | RINGD_CREAT, 0, NULL), -ENOENT);
	ringd_disconnect(rd);
}

Test(dirvol, paths_cannot_leave_the_volume)
{
	struct ringd *rd = conn();
	char link[256], outside[256];
	int ret;

	cr_assert_eq(ringd_open_file(rd, "db", "../other.d/f", RINGD_RDWR | RINGD_CREAT, 0, NULL),
		     -EXDEV);
	cr_assert(strstr(ringd_last_message(), ".."), "%s", ringd_last_message());
	cr_assert_eq(ringd_open_file(rd, "db", "/etc/passwd", RINGD_RDONLY, 0, NULL), -EXDEV);
	cr_assert_eq(ringd_open_file(rd, "db", "", RINGD_RDONLY, 0, NULL), -EINVAL);
	cr_assert_eq(ringd_unlink(rd, "db", "../plain.img"), -EXDEV);
	cr_assert_eq(ringd_mkdir(rd, "db", "a/../../x", 0700), -EXDEV);
	/* A symlink planted in the directory by root is never followed. */
	snprintf(outside, sizeof(outside), "%s/outside", g_d.dir);
	cr_assert_eq(close(open(outside, O_WRONLY | O_CREAT, 0600)), 0);
	snprintf(link, sizeof(link), "%s/state/db.d/evil", g_d.dir);
	cr_assert_eq(symlink(outside, link), 0);
	ret = ringd_open_file(rd, "db", "evil", RINGD_RDONLY, 0, NULL);
	cr_assert_eq(ret, -ELOOP, "%s", strerror(-ret));
	cr_assert(strstr(ringd_last_message(), "symbolic link"), "%s", ringd_last_message());
	snprintf(link, sizeof(link), "%s/state/db.d/evildir", g_d.dir);
	cr_assert_eq(symlink(g_d.dir, link), 0);
	cr_assert_eq(ringd_open_file(rd, "db", "evildir/outside", RINGD_RDONLY, 0, NULL), -ELOOP);
	cr_assert_eq(ringd_open_file(rd, "db", "evildir/new", RINGD_RDWR | RINGD_CREAT, 0, NULL),
		     -ELOOP);
	/* Renaming out of the volume. */
	cr_assert_geq(ringd_open_file(rd, "db", "r", RINGD_RDWR | RINGD_CREAT, 0, NULL), 0);
	cr_assert_eq(ringd_rename(rd, "db", "r", "../other.d/r"), -EXDEV);
	cr_assert_eq(ringd_rename(rd, "db", "r", "evildir/r"), -ELOOP);
	cr_assert_eq(access(outside, F_OK), 0);
	ringd_disconnect(rd);
}

Test(dirvol, quota_edquot_writes_nothing_and_deletes_free_space)
{
	struct ringd *rd = conn();
	char *buf = ringd_buf_alloc(rd, 65536, 4096);
	int h1, h2, ret;
	uint64_t off;

	h1 = ringd_open_file(rd, "db", "q1", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	cr_assert_geq(h1, 0);
	rt_fill(buf, 65536, 3, 0);
	for (off = 0; off < (1u << 20); off += 65536)
		cr_assert_eq(io1(rd, true, h1, buf, 65536, off), 65536, "at %llu",
			     (unsigned long long)off);
	/* The volume (1 MiB) is full: growing anything fails and writes nothing. */
	cr_assert_eq(io1(rd, true, h1, buf, 1, 1u << 20), -EDQUOT);
	h2 = ringd_open_file(rd, "db", "q2", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	cr_assert_geq(h2, 0);
	cr_assert_eq(io1(rd, true, h2, buf, 4096, 0), -EDQUOT);
	cr_assert_eq(ringd_truncate(rd, h2, 10), -EDQUOT);
	/* Overwriting inside the file still works. */
	cr_assert_eq(io1(rd, true, h1, buf, 4096, 0), 4096);
	/* Removing the full file frees its bytes at its close. */
	cr_assert_eq(ringd_unlink(rd, "db", "q1"), 0);
	cr_assert_eq(io1(rd, true, h2, buf, 4096, 0), -EDQUOT, "q1 is still open");
	cr_assert_eq(ringd_close(rd, h1), 0);
	ret = io1(rd, true, h2, buf, 65536, 0);
	cr_assert_eq(ret, 65536, "%s", strerror(-ret));
	/* Shrinking frees too. */
	cr_assert_eq(ringd_truncate(rd, h2, 0), 0);
	cr_assert_eq(ringd_truncate(rd, h2, 1u << 20), 0);
	cr_assert_eq(ringd_truncate(rd, h2, (1u << 20) + 1), -EDQUOT);
	cr_assert_eq(ringd_close(rd, h2), 0);
	cr_assert_eq(ringd_unlink(rd, "db", "q2"), 0);
	ringd_disconnect(rd);
}

Test(dirvol, lock_is_exclusive_per_session_until_close)
{
	struct ringd *a = conn(), *b = conn();
	int ha, hb;

	ha = ringd_open_file(a, "db", "l.db", RINGD_RDWR | RINGD_CREAT | RINGD_LOCK, 0600, NULL);
	cr_assert_geq(ha, 0);
	cr_assert_eq(ringd_open_file(b, "db", "l.db", RINGD_RDWR | RINGD_LOCK, 0, NULL), -EBUSY);
	/* Nor a second handle of the holder: closing it cannot drop the lock. */
	cr_assert_eq(ringd_open_file(a, "db", "l.db", RINGD_RDWR | RINGD_LOCK, 0, NULL), -EBUSY);
	cr_assert(strstr(ringd_last_message(), "another handle of this session"), "%s",
		  ringd_last_message());
	/* Without the lock it opens, but may not truncate the locked file. */
	hb = ringd_open_file(b, "db", "l.db", RINGD_RDWR, 0, NULL);
	cr_assert_geq(hb, 0);
	cr_assert_eq(ringd_truncate(b, hb, 0), -EBUSY);
	cr_assert_eq(ringd_open_file(b, "db", "l.db", RINGD_RDWR | RINGD_TRUNC, 0, NULL), -EBUSY);
	cr_assert_eq(ringd_close(a, ha), 0);
	ha = ringd_open_file(b, "db", "l.db", RINGD_RDWR | RINGD_LOCK, 0, NULL);
	cr_assert_geq(ha, 0, "free after close");
	/* A session that goes away lets go of its lock. */
	ringd_disconnect(b);
	ha = ringd_open_file(a, "db", "l.db", RINGD_RDWR | RINGD_LOCK, 0, NULL);
	cr_assert_geq(ha, 0, "free after disconnect: %s", strerror(-ha));
	ringd_disconnect(a);
}

static int tenant_b(void *arg)
{
	struct rt_daemon *d = arg;
	struct ringd *rd;
	int h, fails = 0;

	if (rt_connect(d, 8, 16, 65536, &rd))
		return 100;
	fails += ringd_open_file(rd, "db", "a", RINGD_RDONLY, 0, NULL) != -EACCES;
	fails += ringd_unlink(rd, "db", "victim") != -EACCES;
	fails += ringd_rename(rd, "db", "victim", "x") != -EACCES;
	fails += ringd_stat(rd, "db", "victim", NULL) != -EACCES;
	fails += ringd_open_file(rd, "other", "../db.d/victim", RINGD_RDONLY, 0, NULL) != -EXDEV;
	h = ringd_open_file(rd, "other", "mine", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	fails += h < 0;
	ringd_disconnect(rd);
	return fails;
}

Test(dirvol, a_tenant_cannot_touch_another_tenants_files)
{
	struct ringd *rd = conn();
	char path[256];
	struct stat st;
	pid_t pid;

	cr_assert_geq(ringd_open_file(rd, "db", "victim", RINGD_RDWR | RINGD_CREAT, 0600, NULL), 0);
	pid = rt_fork_as(RT_UID_B, RT_UID_B, tenant_b, &g_d);
	cr_assert_eq(rt_wait_child(pid), 0, "tenant b got through somewhere");
	cr_assert_eq(ringd_stat(rd, "db", "victim", NULL), 0);
	snprintf(path, sizeof(path), "%s/state/other.d/mine", g_d.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_uid, 0u, "files belong to the daemon, not the tenant");
	ringd_disconnect(rd);
}

Test(dirvol, direct_files_enforce_alignment)
{
	struct ringd *rd = conn();
	struct ringd_volume_info info;
	char *buf = ringd_buf_alloc(rd, 8192, 4096);
	int h, ret;

	h = ringd_open_file(rd, "dbdirect", "d", RINGD_RDWR | RINGD_CREAT, 0600, &info);
	if (h == -EINVAL) {
		cr_skip_test("the state directory's filesystem refuses O_DIRECT: %s",
			     ringd_last_message());
		return;
	}
	cr_assert_geq(h, 0, "%s", ringd_last_message());
	cr_assert(info.flags & RINGD_VOL_DIRECT);
	cr_assert_eq(info.align, 4096);
	rt_fill(buf, 8192, 4, 0);
	ret = io1(rd, true, h, buf, 8192, 0);
	cr_assert_eq(ret, 8192, "%s", strerror(-ret));
	cr_assert_eq(io1(rd, true, h, buf, 100, 0), -EINVAL);
	memset(buf, 0, 8192);
	cr_assert_eq(io1(rd, false, h, buf, 8192, 0), 8192);
	cr_assert_eq(rt_check(buf, 8192, 4, 0), -1);
	ringd_disconnect(rd);
}

Test(dirvol, reload_that_removes_the_volume_stops_its_open_files)
{
	static const char less[] = "[volume plain]\n"
				   "path = plain.img\n"
				   "create_size = 1M\n"
				   "\n"
				   "[tenant root]\n"
				   "uid = 0\n"
				   "volumes = plain:rw\n";
	struct ringd *rd = conn();
	char *buf = ringd_buf_alloc(rd, 4096, 4096);
	int h, ret = 0, i;

	h = ringd_open_file(rd, "db", "keep", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	cr_assert_geq(h, 0);
	cr_assert_eq(io1(rd, true, h, buf, 4096, 0), 4096);
	cr_assert_eq(rt_daemon_rewrite_conf(&g_d, less), 0);
	cr_assert_eq(kill(g_d.pid, SIGHUP), 0);
	for (i = 0; i < 500; i++) {
		ret = ringd_open_file(rd, "db", "keep", RINGD_RDWR, 0, NULL);
		if (ret == -ENOENT)
			break;
		if (ret >= 0)
			ringd_close(rd, ret);
		usleep(10000);
	}
	cr_assert_eq(ret, -ENOENT, "the reload did not remove the volume");
	cr_assert_eq(io1(rd, true, h, buf, 4096, 0), -ENODEV);
	cr_assert_eq(ringd_close(rd, h), 0);
	ringd_disconnect(rd);
}

/* One namespace load: mkdir then remove a directory, as fast as it can. */
struct ns_load {
	const struct rt_daemon *d;
	const char *vol;
	unsigned int id;
	uint64_t end_us;
	int fd; /* the result goes here */
};

struct ns_lat {
	uint64_t pairs, total_us, worst_us;
	int err;
};

/* One timed round that began at @t0, counted in @r. */
static void ns_lat_add(struct ns_lat *r, uint64_t t0)
{
	uint64_t dt = rt_now_us() - t0;

	r->pairs++;
	r->total_us += dt;
	if (dt > r->worst_us)
		r->worst_us = dt;
}

/* Hang up and hand @r to the parent through @fd: the loader's exit status. */
static int ns_lat_send(struct ringd *rd, int fd, const struct ns_lat *r)
{
	ringd_disconnect(rd);
	return write(fd, r, sizeof(*r)) == (ssize_t)sizeof(*r) ? 0 : 101;
}

static int ns_loader(void *arg)
{
	const struct ns_load *l = arg;
	struct ns_lat r = { 0 };
	struct ringd *rd;
	char name[32];

	if (rt_connect(l->d, 8, 16, 65536, &rd))
		return 100;
	while (rt_now_us() < l->end_us && !r.err) {
		uint64_t t0 = rt_now_us();

		snprintf(name, sizeof(name), "n%u-%llu", l->id, (unsigned long long)r.pairs);
		r.err = ringd_mkdir(rd, l->vol, name, 0700);
		if (!r.err)
			r.err = ringd_unlink(rd, l->vol, name);
		ns_lat_add(&r, t0);
	}
	return ns_lat_send(rd, l->fd, &r);
}

/*
 * Namespace calls of every tenant run on one worker thread, each made
 * durable (fsyncs). One tenant keeps six sessions' worth of them queued;
 * another tenant's calls take turns with them rather than queue behind
 * them all: its mean time per call stays well under the flooding tenant's
 * own (in a FIFO both wait for the whole queue, and the two means are
 * about equal). Times are compared within the run, so the disk's speed
 * does not matter.
 */
Test(dirvol, a_tenant_flooding_the_namespace_worker_does_not_queue_others_behind_it)
{
	enum { STORM = 6 };
	struct ns_load loads[STORM + 1];
	struct ns_lat storm = { 0 }, victim = { 0 };
	uint64_t end = rt_now_us() + 2500000u;
	pid_t pids[STORM + 1];
	int pipes[STORM + 1][2];
	unsigned int i;
	double storm_mean, victim_mean;

	for (i = 0; i <= STORM; i++) {
		bool v = i == STORM;

		cr_assert_eq(pipe(pipes[i]), 0);
		loads[i] = (struct ns_load){ .d = &g_d,
					     .vol = v ? "other" : "db",
					     .id = i,
					     .end_us = end,
					     .fd = pipes[i][1] };
		pids[i] = v ? rt_fork_as(RT_UID_B, RT_UID_B, ns_loader, &loads[i])
			    : rt_fork_as(0, 0, ns_loader, &loads[i]);
	}
	for (i = 0; i <= STORM; i++) {
		struct ns_lat r;

		cr_assert_eq(rt_wait_child(pids[i]), 0, "load %u", i);
		cr_assert_eq(read(pipes[i][0], &r, sizeof(r)), (ssize_t)sizeof(r));
		close(pipes[i][0]);
		close(pipes[i][1]);
		cr_assert_eq(r.err, 0, "load %u: %s", i, strerror(-r.err));
		if (i == STORM) {
			victim = r;
			continue;
		}
		storm.pairs += r.pairs;
		storm.total_us += r.total_us;
		if (r.worst_us > storm.worst_us)
			storm.worst_us = r.worst_us;
	}
	cr_assert_gt(storm.pairs, 0);
	cr_assert_gt(victim.pairs, 0);
	storm_mean = (double)storm.total_us / (double)storm.pairs;
	victim_mean = (double)victim.total_us / (double)victim.pairs;
	cr_log_info("namespace worker: flooding tenant %llu mkdir+unlink pairs, mean %.0f us, "
		    "worst %llu us; the other tenant %llu pairs, mean %.0f us, worst %llu us",
		    (unsigned long long)storm.pairs, storm_mean, (unsigned long long)storm.worst_us,
		    (unsigned long long)victim.pairs, victim_mean,
		    (unsigned long long)victim.worst_us);
	cr_assert_lt(victim_mean * 2.5, storm_mean,
		     "the other tenant waited %.0f us per pair, the flooding one %.0f us: "
		     "it queued behind the flood",
		     victim_mean, storm_mean);
}

/*
 * Two tenants whose directory volumes are on different filesystems, as an
 * operator who wants them apart gives them: root's on the test
 * directory's disk, b's on a tmpfs mounted for the test. (On one
 * filesystem their fsyncs wait for each other in the filesystem's own
 * journal, with or without ringd.)
 */
static const char conf_apart[] = "[volume big]\n"
				 "dir = big.d\n"
				 "size = 2G\n"
				 "\n"
				 "[volume fast]\n"
				 "dir = @DIR@/fast\n"
				 "size = 64M\n"
				 "\n"
				 "[tenant root]\n"
				 "uid = 0\n"
				 "volumes = big:rw\n"
				 "\n"
				 "[tenant b]\n"
				 "uid = 61002\n"
				 "volumes = fast:rw\n";
static char g_fast[128];

static void start_apart(void)
{
	int ret;

	/* Criterion ran the suite's init too: that daemon is not this test's. */
	if (g_d.dir[0])
		it_stop(&g_d);
	ret = rt_daemon_prepare(&g_d, conf_apart);

	cr_assert_eq(ret, 0, "prepare: %s", strerror(-ret));
	snprintf(g_fast, sizeof(g_fast), "%s/fast", g_d.dir);
	cr_assert_eq(mkdir(g_fast, 0755), 0);
	if (mount("tmpfs", g_fast, "tmpfs", 0, "size=64m,mode=0755"))
		cr_skip_test("cannot mount a tmpfs for the second filesystem: %s", strerror(errno));
	ret = rt_daemon_launch(&g_d);
	cr_assert_eq(ret, 0, "ringd did not start: %s", strerror(-ret));
}

static void stop_apart(void)
{
	/* Detached first: the directory is removed with the daemon's. */
	if (g_fast[0])
		umount2(g_fast, MNT_DETACH);
	g_fast[0] = 0;
	it_stop(&g_d);
}

enum { DV_MIB = 1u << 20, DV_DIRTY_MIB = 256 };

/*
 * One round of the test below: root dirties DV_DIRTY_MIB of @h and
 * truncates it (@flush_us) while tenant b times its mkdir + unlink pairs
 * (@victim).
 */
static void dv_truncate_round(struct ringd *rd, int h, char *buf, uint64_t *flush_us,
			      struct ns_lat *victim)
{
	struct ns_load load;
	uint64_t t0;
	int p[2];
	unsigned int i;
	pid_t pid;

	memset(buf, 0x5a, DV_MIB);
	for (i = 0; i < DV_DIRTY_MIB; i++)
		cr_assert_eq(io1(rd, true, h, buf, DV_MIB, (uint64_t)i * DV_MIB), (int)DV_MIB);
	cr_assert_eq(pipe(p), 0);
	load = (struct ns_load){
		.d = &g_d, .vol = "fast", .id = 0, .end_us = rt_now_us() + 1500000u, .fd = p[1]
	};
	pid = rt_fork_as(RT_UID_B, RT_UID_B, ns_loader, &load);
	usleep(300000);
	t0 = rt_now_us();
	cr_assert_eq(ringd_truncate(rd, h, (uint64_t)DV_DIRTY_MIB * DV_MIB), 0);
	*flush_us = rt_now_us() - t0;
	cr_assert_eq(rt_wait_child(pid), 0);
	cr_assert_eq(read(p[0], victim, sizeof(*victim)), (ssize_t)sizeof(*victim));
	close(p[0]);
	close(p[1]);
	cr_assert_eq(victim->err, 0, "tenant b: %s", strerror(-victim->err));
	cr_assert_gt(victim->pairs, 0);
	cr_log_info("truncate of %u dirty MiB took %llu us; tenant b meanwhile: %llu pairs, mean "
		    "%.0f us, worst %llu us",
		    DV_DIRTY_MIB, (unsigned long long)*flush_us, (unsigned long long)victim->pairs,
		    (double)victim->total_us / (double)victim->pairs,
		    (unsigned long long)victim->worst_us);
}

/*
 * A namespace call made durable takes as long as its filesystem needs: a
 * truncate fsyncs its file, with every dirty page of it. Root dirties 256
 * MiB and truncates; while that call runs, tenant b's mkdir + unlink
 * pairs on its own filesystem must not wait for it (with one worker
 * thread they waited for the whole flush). The flush is timed in the same
 * run, so the disk's speed does not matter; a flush too fast to stand
 * behind skips the test. A round whose victim waited is run once more:
 * a victim that stands behind the flush does so every time, while a
 * pause of a loaded machine (one pair of 50 ms next to a 93 ms flush,
 * in a CI run) does not come back.
 */
Test(dirvol, a_slow_durable_call_of_one_tenant_does_not_stall_anothers, .init = start_apart,
     .fini = stop_apart, .timeout = 120)
{
	struct ringd *rd = conn();
	char *buf = ringd_buf_alloc(rd, DV_MIB, 4096);
	struct ns_lat victim;
	uint64_t flush_us;
	int h, round;

	h = ringd_open_file(rd, "big", "dirty", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	cr_assert_geq(h, 0, "open: %s (%s)", strerror(-h), ringd_last_message());
	for (round = 1;; round++) {
		dv_truncate_round(rd, h, buf, &flush_us, &victim);
		if (round == 2 || flush_us < 20000 || victim.worst_us * 2 < flush_us)
			break;
	}
	cr_assert_eq(ringd_close(rd, h), 0);
	ringd_disconnect(rd);
	rt_assert_not_behind(victim.worst_us, flush_us, 20000, "tenant b's mkdir + unlink",
			     "root's truncate");
}

/* A write + fsync load on tenant b's own volume ("fast"), timed per pair. */
struct fs_load {
	const struct rt_daemon *d;
	uint64_t end_us;
	int fd;
};

static int fsync_loader(void *arg)
{
	const struct fs_load *l = arg;
	struct ns_lat r = { 0 };
	struct ringd *rd;
	char *buf;
	int h;

	if (rt_connect(l->d, 8, 16, 65536, &rd))
		return 100;
	buf = ringd_buf_alloc(rd, 4096, 4096);
	h = ringd_open_file(rd, "fast", "v", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	if (h < 0 || !buf)
		return 102;
	memset(buf, 1, 4096);
	while (rt_now_us() < l->end_us && !r.err) {
		uint64_t t0 = rt_now_us();
		int res = io1(rd, true, h, buf, 4096, 0);

		if (res != 4096)
			r.err = res < 0 ? res : -EIO;
		else if ((res = fsync1(rd, h)) != 0)
			r.err = res;
		ns_lat_add(&r, t0);
	}
	return ns_lat_send(rd, l->fd, &r);
}

/* The daemon's kernel worker threads (io-wq: "iou-wrk-PID") right now. */
static unsigned int iowq_threads(pid_t pid)
{
	char path[300], comm[32];
	unsigned int n = 0;
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		f = fopen(path, "re");
		if (f && fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-wrk", 7))
			n++;
		if (f)
			fclose(f);
	}
	closedir(dir);
	return n;
}

/*
 * A flush holds one of the kernel's worker threads until the filesystem is
 * done, and the kernel let a ring have 4 per CPU: one tenant's 64 flushes
 * of dirty files filled them all, and another tenant's write + fsync on
 * its own filesystem waited for them (200 ms here). Now the ring may have
 * many, and a tenant holds at most 32: root submits 64 flushes at once,
 * tenant b's pairs must not wait for them, and the daemon never has more
 * than 32 of root's (plus b's) workers.
 */
Test(dirvol, a_tenants_flushes_do_not_take_every_kernel_worker, .init = start_apart,
     .fini = stop_apart, .timeout = 120)
{
	enum { MIB = 1u << 20, FILES = 64, DIRTY_MIB = 6 };
	struct fs_load load;
	struct ns_lat victim;
	struct ringd_cqe *cqe;
	struct ringd *rd;
	unsigned int most = 0, done = 0;
	uint64_t t0, flush_us;
	int h[FILES], p[2], i, k, ret;
	char name[16], *buf;
	pid_t pid;

	ret = rt_connect(&g_d, FILES, 2 * FILES, MIB, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	buf = ringd_buf_alloc(rd, MIB, 4096);
	memset(buf, 0x5a, MIB);
	for (k = 0; k < FILES; k++) {
		snprintf(name, sizeof(name), "d%d", k);
		h[k] = ringd_open_file(rd, "big", name, RINGD_RDWR | RINGD_CREAT, 0600, NULL);
		cr_assert_geq(h[k], 0, "open %s: %s", name, strerror(-h[k]));
		for (i = 0; i < DIRTY_MIB; i++)
			cr_assert_eq(io1(rd, true, h[k], buf, MIB, (uint64_t)i * MIB), (int)MIB);
	}
	cr_assert_eq(pipe(p), 0);
	load = (struct fs_load){ .d = &g_d, .end_us = rt_now_us() + 2500000u, .fd = p[1] };
	pid = rt_fork_as(RT_UID_B, RT_UID_B, fsync_loader, &load);
	usleep(300000);
	t0 = rt_now_us();
	for (k = 0; k < FILES; k++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		cr_assert_not_null(sqe);
		ringd_prep_fsync(sqe, h[k], 0);
		ringd_sqe_set_data64(sqe, (uint64_t)k);
	}
	cr_assert_eq(ringd_submit(rd), FILES);
	while (done < FILES) {
		unsigned int n = iowq_threads(g_d.pid);

		if (n > most)
			most = n;
		ret = ringd_wait_cqe_timeout(rd, &cqe, 1000);
		if (ret == -ETIME)
			continue;
		cr_assert_eq(ret, 0, "wait: %s", strerror(-ret));
		cr_assert_eq(cqe->res, 0, "flush %llu: %d", (unsigned long long)cqe->user_data,
			     cqe->res);
		ringd_cqe_seen(rd, cqe);
		done++;
	}
	flush_us = rt_now_us() - t0;
	cr_assert_eq(rt_wait_child(pid), 0);
	cr_assert_eq(read(p[0], &victim, sizeof(victim)), (ssize_t)sizeof(victim));
	close(p[0]);
	close(p[1]);
	ringd_disconnect(rd);
	cr_assert_eq(victim.err, 0, "tenant b: %s", strerror(-victim.err));
	cr_assert_gt(victim.pairs, 0);
	cr_log_info(
	    "%d flushes of %d dirty MiB each took %llu us, at most %u kernel workers; tenant "
	    "b meanwhile: %llu write + fsync pairs, mean %.0f us, worst %llu us",
	    FILES, DIRTY_MIB, (unsigned long long)flush_us, most, (unsigned long long)victim.pairs,
	    (double)victim.total_us / (double)victim.pairs, (unsigned long long)victim.worst_us);
	cr_assert_leq(most, 32 + 4, "%u kernel workers: root held more than its 32", most);
	rt_assert_not_behind(victim.worst_us, flush_us, 20000, "tenant b's write + fsync",
			     "root's flushes");
}

/* @out = @n components @c, joined with '/', then @tail if not NULL. */
static void nested(char *out, size_t size, char c, unsigned int n, const char *tail)
{
	size_t k = 0;
	unsigned int i;

	for (i = 0; i < n && k + 3 < size; i++) {
		if (i)
			out[k++] = '/';
		out[k++] = c;
	}
	out[k] = '\0';
	if (tail)
		snprintf(out + k, size - k, "%s%s", n ? "/" : "", tail);
}

/*
 * A tenant's directories nested as deep as its paths reached, and deeper
 * by renaming one tree into another; at start the daemon counts every
 * byte beneath a directory volume, and a tree deeper than its walk failed
 * the volume, and with it the daemon's start (H44). Now a path has at
 * most 32 components, and a rename that would put anything deeper is
 * refused.
 */
Test(dirvol, trees_stay_within_32_levels)
{
	static char path[128], path2[128];
	struct ringd_volume_info info;
	struct ringd *rd = conn();
	unsigned int i;
	int ret;

	for (i = 1; i <= 32; i++) {
		nested(path, sizeof(path), 'a', i, NULL);
		ret = ringd_mkdir(rd, "db", path, 0700);
		cr_assert_eq(ret, 0, "mkdir a x %u: %s", i, strerror(-ret));
	}
	nested(path, sizeof(path), 'a', 33, NULL);
	cr_assert_eq(ringd_mkdir(rd, "db", path, 0700), -ENAMETOOLONG);
	cr_assert(strstr(ringd_last_message(), "at most 32 deep"), "%s", ringd_last_message());
	nested(path, sizeof(path), 'a', 32, "f");
	cr_assert_eq(ringd_open_file(rd, "db", path, RINGD_RDWR | RINGD_CREAT, 0600, NULL),
		     -ENAMETOOLONG);
	/* Empty components do not count: a//a is two. */
	cr_assert_eq(ringd_mkdir(rd, "db", "c//c", 0700), -ENOENT);

	/* A tree of 20 (b x 20) moved under 12 ends at 32: allowed. One level
	 * deeper: refused, and nothing moved. */
	for (i = 1; i <= 20; i++) {
		nested(path, sizeof(path), 'b', i, NULL);
		cr_assert_eq(ringd_mkdir(rd, "db", path, 0700), 0);
	}
	nested(path2, sizeof(path2), 'a', 12, "b");
	ret = ringd_rename(rd, "db", "b", path2);
	cr_assert_eq(ret, 0, "rename to %s: %s", path2, strerror(-ret));
	nested(path, sizeof(path), 'a', 13, "b");
	cr_assert_eq(ringd_rename(rd, "db", path2, path), -ENAMETOOLONG);
	cr_assert(strstr(ringd_last_message(), "more than 32 levels deep"), "%s",
		  ringd_last_message());
	nested(path, sizeof(path), 'b', 19, NULL);
	snprintf(path2 + strlen(path2), sizeof(path2) - strlen(path2), "/%s", path);
	ret = ringd_stat(rd, "db", path2, &info);
	cr_assert_eq(ret, -EISDIR, "the tree is not where it was: %s: %s", path2, strerror(-ret));
	/* A file moves anywhere a path reaches. */
	cr_assert_geq(ringd_open_file(rd, "db", "f", RINGD_RDWR | RINGD_CREAT, 0600, NULL), 0);
	nested(path, sizeof(path), 'a', 31, "f");
	cr_assert_eq(ringd_rename(rd, "db", "f", path), 0);
	ringd_disconnect(rd);
}

/* Make @n nested directories "d" under @dir, and a file of @bytes in the
 * deepest (as root, beside the daemon: as a tree made before H44). */
static void plant(const char *dir, unsigned int n, size_t bytes)
{
	static char buf[1 << 20];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), sub;
	unsigned int i;

	cr_assert_geq(fd, 0, "open %s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		cr_assert(!mkdirat(fd, "d", 0700) || errno == EEXIST);
		sub = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cr_assert_geq(sub, 0);
		close(fd);
		fd = sub;
	}
	sub = openat(fd, "f", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(sub, 0);
	memset(buf, 7, sizeof(buf));
	cr_assert_leq(bytes, sizeof(buf));
	cr_assert_eq(write(sub, buf, bytes), (ssize_t)bytes);
	close(sub);
	close(fd);
}

/*
 * A tree deeper than the start-up walk, left from before H44: the daemon
 * still starts (it failed with ELOOP, and with it every tenant), says so
 * in its log, and counts every byte it can reach.
 */
Test(dirvol, a_tree_deeper_than_the_walk_does_not_keep_the_daemon_from_starting)
{
	static const char *const needles[] = { "levels beneath", NULL };
	char dir[300], *buf;
	struct ringd *rd;
	int h, ret;

	snprintf(dir, sizeof(dir), "%s/state/db.d", g_d.dir);
	plant(dir, 10, 256 << 10);
	plant(dir, 100, 512 << 10);
	kill(g_d.pid, SIGTERM);
	cr_assert_eq(waitpid(g_d.pid, NULL, 0), g_d.pid);
	g_d.pid = -1;
	ret = rt_daemon_launch(&g_d);
	cr_assert_eq(ret, 0, "ringd did not start again over a 100-level tree: %s", strerror(-ret));
	cr_assert_eq(rt_log_count(&g_d, needles, NULL, 0), 1, "no word of the tree it skipped");
	rd = conn();
	buf = ringd_buf_alloc(rd, 1u << 20, 4096);
	h = ringd_open_file(rd, "db", "g", RINGD_RDWR | RINGD_CREAT, 0600, NULL);
	cr_assert_geq(h, 0, "create g: %s", strerror(-h));
	/* 256 KiB 11 levels down are counted: 768 KiB fit in the 1 MiB volume. */
	cr_assert_eq(io1(rd, true, h, buf, 768u << 10, 0), 768 << 10);
	cr_assert_eq(io1(rd, true, h, buf, 1, 768u << 10), -EDQUOT);
	ringd_disconnect(rd);
}

/* Open (and close) @path of volume "few" with @flags: 0 or -errno. */
static int few_open(struct ringd *rd, const char *path, uint32_t flags)
{
	int h = ringd_open_file(rd, "few", path, flags, 0600, NULL);

	if (h < 0)
		return h;
	cr_assert_eq(ringd_close(rd, h), 0);
	return 0;
}

/*
 * Files and directories cost inodes and directory blocks that a volume's
 * size does not count: a tenant making empty ones as fast as it could ran
 * the shared filesystem out of inodes for everyone (H45). Volume "few"
 * holds at most 6: the 7th file or directory is -EDQUOT, an existing file
 * still opens with RINGD_CREAT (as SQLite opens its database), removing
 * one (or renaming over one) makes room, and a restart counts them again.
 */
Test(dirvol, max_entries_bounds_the_files_and_directories_made)
{
	const uint32_t create = RINGD_RDWR | RINGD_CREAT;
	struct ringd *rd = conn();
	char name[16];
	int i;

	cr_assert_eq(ringd_mkdir(rd, "few", "d", 0700), 0);
	for (i = 1; i <= 4; i++) {
		snprintf(name, sizeof(name), "d/f%d", i);
		cr_assert_eq(few_open(rd, name, create), 0, "%s", name);
	}
	cr_assert_eq(few_open(rd, "g", create), 0);
	cr_assert_eq(few_open(rd, "h", create), -EDQUOT, "a 7th entry");
	cr_assert(strstr(ringd_last_message(), "max_entries"), "%s", ringd_last_message());
	cr_assert_eq(ringd_mkdir(rd, "few", "e", 0700), -EDQUOT);
	/* Nothing was made by the refusals. */
	cr_assert_eq(few_open(rd, "h", RINGD_RDWR), -ENOENT);
	/* Existing files open as before, with RINGD_CREAT too, but not EXCL. */
	cr_assert_eq(few_open(rd, "g", create), 0);
	cr_assert_eq(few_open(rd, "d/f2", RINGD_RDWR), 0);
	cr_assert_eq(few_open(rd, "g", create | RINGD_EXCL), -EEXIST);
	/* Removing one makes room for one. */
	cr_assert_eq(ringd_unlink(rd, "few", "d/f1"), 0);
	cr_assert_eq(few_open(rd, "h", create), 0);
	cr_assert_eq(few_open(rd, "i", create), -EDQUOT);
	/* A rename over an existing file removes that one. */
	cr_assert_eq(ringd_rename(rd, "few", "h", "g"), 0);
	cr_assert_eq(ringd_mkdir(rd, "few", "e", 0700), 0);
	cr_assert_eq(few_open(rd, "i", create), -EDQUOT);
	ringd_disconnect(rd);

	/* A restart walks the volume: 6 again, and room comes as before. */
	kill(g_d.pid, SIGTERM);
	cr_assert_eq(waitpid(g_d.pid, NULL, 0), g_d.pid);
	g_d.pid = -1;
	cr_assert_eq(rt_daemon_launch(&g_d), 0);
	rd = conn();
	cr_assert_eq(few_open(rd, "i", create), -EDQUOT, "after a restart");
	cr_assert_eq(ringd_unlink(rd, "few", "e"), 0);
	cr_assert_eq(few_open(rd, "i", create), 0);
	cr_assert_eq(ringd_mkdir(rd, "few", "e", 0700), -EDQUOT);
	ringd_disconnect(rd);
}
