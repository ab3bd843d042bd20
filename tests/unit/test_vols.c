/* SPDX-License-Identifier: MIT */
/*
 * vols_ (layer B): the volume table over real rings, a real journal and
 * real files. Issue 9 defect 6: a reload that removed a volume pulled its
 * registered file from under requests already accepted for it, so queued
 * writes completed with -EBADF. A removed volume now keeps its file slot
 * and its fd until vols_io_done() says its last request has completed.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/capability.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "rings.h"
#include "tags.h"
#include "unit_util.h"
#include "vols.h"

static char g_dir[PATH_MAX];
static struct rings g_rg;
static struct jr g_jr;
static struct vols g_vs;
static bool g_up;

static void setup(void)
{
	struct rg_params p = ut_rg_params(2);
	int ret;

	struct rlimit rl;

	/* Files of directory volumes too: the kernel wants RLIMIT_NOFILE that high. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur <= VOLS_ALL && rl.rlim_max > VOLS_ALL) {
		rl.rlim_cur = VOLS_ALL + 1; /* and the liveness pipe's slot */
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	p.nr_files = VOLS_ALL;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur <= VOLS_ALL)
		p.nr_files = VOLS_MAX + 64;
	log_threshold = LOG_WARN;
	ut_tmpdir(g_dir);
	ret = rg_init(&g_rg, &p);
	if (ret == -EPERM || ret == -ENOSYS)
		cr_skip_test("io_uring is not available here: %s", strerror(-ret));
	cr_assert_eq(ret, 0, "rg_init: %s", strerror(-ret));
	cr_assert_eq(jr_create(&g_jr, 2, 8), 0);
	cr_assert_eq(vols_init(&g_vs, &g_rg, &g_jr), 0);
	g_vs.files_cap = p.nr_files - VOLS_MAX;
	g_up = true;
}

static void teardown(void)
{
	if (g_up) {
		vols_fini(&g_vs);
		rg_fini(&g_rg);
		jr_close(&g_jr);
	}
	g_up = false;
	ut_rmtree(g_dir);
}

TestSuite(vols, .init = setup, .fini = teardown, .timeout = 10);

/* A 1 MiB file volume @name (created in the scratch directory), interrupts only. */
static struct cfg_volume file_volume(const char *name)
{
	struct cfg_volume cv;

	memset(&cv, 0, sizeof(cv));
	snprintf(cv.name, sizeof(cv.name), "%s", name);
	snprintf(cv.path, sizeof(cv.path), "%s.img", name);
	cv.create_size = 1u << 20;
	cv.poll = CFG_OFF;
	cv.passthrough = CFG_OFF;
	return cv;
}

/* Add volume @name at its journal index; returns the index. */
static uint32_t add(const char *name)
{
	struct cfg_volume cv = file_volume(name);
	uint32_t idx = jr_vol_append(&g_jr, name);
	int ret = vols_add(&g_vs, &cv, g_dir, idx);

	cr_assert_eq(ret, 0, "vols_add %s: %s", name, strerror(-ret));
	return idx;
}

Test(vols, add_registers_the_file_and_find_finds_it)
{
	uint32_t a = add("alpha"), b = add("beta");

	cr_assert_eq(a, 0);
	cr_assert_eq(b, 1);
	cr_assert_eq(vols_find(&g_vs, "alpha"), 0);
	cr_assert_eq(vols_find(&g_vs, "beta"), 1);
	cr_assert_eq(vols_find(&g_vs, "gamma"), -1);
	cr_assert_eq(g_vs.live, 2);
	cr_assert_eq(g_vs.n, 2);
	/* Two volumes and the liveness pipe. */
	cr_assert_eq(rg_files_registered(&g_rg), 3);
	cr_assert_eq(g_vs.vv[b].file_slot, b);
	cr_assert_eq(g_vs.vv[b].size, 1u << 20);
	cr_assert_not_null(vols_get(&g_vs, b));
	cr_assert_null(vols_get(&g_vs, 2));
}

Test(vols, remove_without_io_releases_at_once)
{
	uint32_t a = add("alpha");

	vols_remove(&g_vs, a);
	cr_assert(g_vs.vv[a].removed);
	cr_assert_eq(vols_find(&g_vs, "alpha"), -1);
	cr_assert_eq(g_vs.live, 0);
	cr_assert_not(g_vs.open[a]);
	cr_assert_eq(rg_files_registered(&g_rg), 1);
	cr_assert(g_jr.hdr->vol_removed[a], "journal still lists the volume");
	/* The index stays known (handles and journal records name it). */
	cr_assert_not_null(vols_get(&g_vs, a));
	/* Removing twice is harmless. */
	vols_remove(&g_vs, a);
	cr_assert_eq(g_vs.live, 0);
}

Test(vols, removed_volume_keeps_its_slot_until_its_io_is_done)
{
	const size_t len = 4096;
	uint64_t tag = srv_tag(TAG_IO, 5);
	char path[PATH_MAX + 16], back[4096];
	struct kr_cqe c[4];
	struct stat before, after;
	uint32_t a = add("alpha");
	unsigned int n = 0;
	int fd, round, file;
	char *buf;

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(buf, MAP_FAILED);
	memset(buf, 0x5a, len);
	cr_assert_eq(rg_buf_set(&g_rg, 0, buf, len), 0);
	fd = g_vs.v[a].fd;
	cr_assert_eq(fstat(fd, &before), 0);

	/* A write accepted for the volume, queued but not yet submitted ... */
	cr_assert_eq(kr_queue_write_fixed(rg_ring(&g_rg, RG_MAIN), g_vs.vv[a].file_slot, buf,
					  (unsigned int)len, 8192, 0, 0, tag),
		     0);
	vols_io_start(&g_vs, a);
	/* ... when a reload removes the volume. */
	vols_remove(&g_vs, a);
	cr_assert_eq(vols_find(&g_vs, "alpha"), -1, "removed volumes take no new I/O");
	cr_assert(g_vs.open[a], "file released with a request in flight");
	cr_assert_eq(rg_files_registered(&g_rg), 2);
	cr_assert_eq(g_rg.kr[RG_MAIN].files_used, 2);
	cr_assert_neq(fcntl(fd, F_GETFD), -1, "backing fd closed with a request in flight");

	for (round = 0; round < 50 && !n; round++) {
		rg_wait(&g_rg, true, 100 * 1000000ull);
		n = rg_reap(&g_rg, c, 4);
	}
	cr_assert_eq(n, 1);
	cr_assert_eq(c[0].tag, tag);
	cr_assert_eq(c[0].res, (int32_t)len, "queued write completed with %d", c[0].res);

	vols_io_done(&g_vs, a);
	cr_assert_not(g_vs.open[a], "still held after its last request");
	cr_assert_eq(rg_files_registered(&g_rg), 1);
	cr_assert(fcntl(fd, F_GETFD) == -1 ||
		      (fstat(fd, &after) == 0 &&
		       (after.st_ino != before.st_ino || after.st_dev != before.st_dev)),
		  "backing fd still open after release");

	/* The write reached the file. */
	snprintf(path, sizeof(path), "%s/alpha.img", g_dir);
	file = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(file, 0);
	cr_assert_eq(pread(file, back, sizeof(back), 8192), (ssize_t)sizeof(back));
	cr_assert_eq(memcmp(back, buf, sizeof(back)), 0);
	close(file);
	cr_assert_eq(rg_buf_clear(&g_rg, 0), 0);
	munmap(buf, len);
}

Test(vols, io_done_counts_and_never_releases_a_live_volume)
{
	uint32_t a = add("alpha");

	vols_io_start(&g_vs, a);
	vols_io_start(&g_vs, a);
	cr_assert_eq(g_vs.inflight[a], 2);
	vols_io_done(&g_vs, a);
	vols_io_done(&g_vs, a);
	vols_io_done(&g_vs, a); /* one too many: no wrap */
	cr_assert_eq(g_vs.inflight[a], 0);
	cr_assert(g_vs.open[a]);
	cr_assert_eq(rg_files_registered(&g_rg), 2);
	/* Indices past the table are ignored. */
	vols_io_start(&g_vs, 7);
	vols_io_done(&g_vs, 7);
	vols_io_done(&g_vs, UINT32_MAX);
	cr_assert_eq(vols_find(&g_vs, "alpha"), 0);
}

Test(vols, failed_add_registers_nothing)
{
	struct cfg_volume cv = file_volume("ghost");
	int fds = ut_count_fds();

	cv.create_size = 0; /* and the file does not exist */
	cr_assert_lt(vols_add(&g_vs, &cv, g_dir, 0), 0);
	cr_assert_eq(g_vs.live, 0);
	cr_assert_eq(g_vs.n, 0);
	cr_assert_eq(rg_files_registered(&g_rg), 1);
	cr_assert_eq(vols_find(&g_vs, "ghost"), -1);
	cr_assert_eq(ut_count_fds(), fds);
}

Test(vols, install_past_the_table_is_refused_and_closes_the_volume)
{
	struct cfg_volume cv = file_volume("alpha");
	char err[PATH_MAX + 256];
	struct vol v;
	int fds = ut_count_fds(), ret;

	memset(&v, 0, sizeof(v));
	v.fd = v.ng_fd = -1;
	ret = vol_open(&cv, g_dir, &v, err, sizeof(err));
	cr_assert_eq(ret, 0, "vol_open: %s", err);
	cr_assert_eq(vols_install(&g_vs, &v, VOLS_MAX), -ENOSPC);
	cr_assert_eq(ut_count_fds(), fds, "the refused volume's fd leaked");
	cr_assert_eq(g_vs.live, 0);
}

/* The access time of @path, in nanoseconds. */
static long long atime_ns(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	return st.st_atim.tv_sec * 1000000000ll + st.st_atim.tv_nsec;
}

/* Set @path's access time a day before its modification time. */
static void atime_before_mtime(const char *path)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_NOW }, { .tv_nsec = UTIME_NOW } };
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	ts[0].tv_sec = st.st_mtim.tv_sec - 86400;
	ts[0].tv_nsec = 0;
	ts[1] = st.st_mtim;
	cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0, "utimensat: %s", strerror(errno));
}

/* Drop CAP_FOWNER from this (forked, per-test) process's effective set. */
static void drop_cap_fowner(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	cr_assert_eq(syscall(SYS_capget, &h, d), 0);
	d[CAP_FOWNER / 32].effective &= ~(1u << (CAP_FOWNER % 32));
	cr_assert_eq(syscall(SYS_capset, &h, d), 0, "capset: %s", strerror(errno));
}

/*
 * A file volume's reads do not update its access time: touch_atime() was
 * about 2 % of the daemon's CPU per cached 4 KiB read, for a time no one
 * reads. A read through the volume's fd leaves an access time older than
 * the modification time (which relatime would update) as it was. A file
 * the daemon may not open O_NOATIME (not its own, no CAP_FOWNER) is
 * opened without it.
 */
Test(vols, a_file_volume_is_read_without_access_time_updates)
{
	struct cfg_volume cv = file_volume("alpha");
	char path[PATH_MAX + 16], err[PATH_MAX + 256], b;
	long long before;
	struct vol v;
	int ret, probe;

	cr_assert_eq(vol_open(&cv, g_dir, &v, err, sizeof(err)), 0, "vol_open: %s", err);
	cr_assert(fcntl(v.fd, F_GETFL) & O_NOATIME, "the volume's fd has O_NOATIME");
	snprintf(path, sizeof(path), "%s", v.path);
	atime_before_mtime(path);
	/* Whether this file system updates access times on a read at all. */
	probe = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(probe, 0);
	before = atime_ns(path);
	cr_assert_eq(pread(v.fd, &b, 1, 0), 1);
	cr_assert_eq(atime_ns(path), before, "a read through the volume touched its atime");
	cr_assert_eq(pread(probe, &b, 1, 0), 1);
	if (atime_ns(path) == before)
		cr_log_warn("%s does not update access times (noatime mount?): the "
			    "contrast read proves nothing here",
			    g_dir);
	close(probe);
	vol_close(&v);

	/* Not the daemon's file, and no CAP_FOWNER: opened all the same. */
	cr_assert_eq(chown(path, 61301, 61301), 0, "chown: %s", strerror(errno));
	drop_cap_fowner();
	cv.create_size = 0;
	ret = vol_open(&cv, g_dir, &v, err, sizeof(err));
	cr_assert_eq(ret, 0, "vol_open of another user's file: %s", err);
	cr_assert_not(fcntl(v.fd, F_GETFL) & O_NOATIME);
	vol_close(&v);
}

/*
 * A volume whose file system takes no non-blocking I/O (tmpfs) has every
 * read and write run on a kernel worker from the start (H53); one on the
 * scratch directory's file system (ext4 here) only its buffered writes
 * (all but XFS and btrfs). Both a file volume and a directory volume
 * (which asks an unnamed file made in it).
 */
Test(vols, a_volume_on_tmpfs_is_served_on_kernel_workers)
{
	struct cfg_volume cv = file_volume("alpha");
	char mnt[PATH_MAX + 8], err[PATH_MAX + 256];
	struct statfs sf;
	struct vol v;
	int ret;

	memset(&v, 0, sizeof(v));
	v.fd = v.ng_fd = -1;
	cr_assert_eq(statfs(g_dir, &sf), 0);
	if (sf.f_type != 0x01021994 /* TMPFS_MAGIC */) {
		ret = vol_open(&cv, g_dir, &v, err, sizeof(err));
		cr_assert_eq(ret, 0, "vol_open: %s", err);
		cr_assert_not(v.worker_io, "%s takes non-blocking reads", g_dir);
		/* Buffered writes are tried inline on XFS and btrfs only. */
		cr_assert_eq(v.worker_writes,
			     sf.f_type != 0x58465342 /* XFS */ &&
				 sf.f_type != 0x9123683e /* btrfs */,
			     "worker_writes on file system %#lx", (unsigned long)sf.f_type);
		vol_close(&v);
	}
	snprintf(mnt, sizeof(mnt), "%s/mnt", g_dir);
	cr_assert_eq(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m"))
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
	ret = vol_open(&cv, mnt, &v, err, sizeof(err));
	cr_assert_eq(ret, 0, "vol_open on tmpfs: %s", err);
	cr_assert(v.worker_io, "a file volume on tmpfs");
	cr_assert(v.worker_writes);
	vol_close(&v);
	memset(&cv, 0, sizeof(cv));
	snprintf(cv.name, sizeof(cv.name), "db");
	snprintf(cv.dir, sizeof(cv.dir), "db.d");
	cv.size = 1u << 20;
	memset(&v, 0, sizeof(v));
	v.fd = v.ng_fd = -1;
	ret = vol_open(&cv, mnt, &v, err, sizeof(err));
	cr_assert_eq(ret, 0, "vol_open of a directory on tmpfs: %s", err);
	cr_assert(v.isdir);
	cr_assert(v.worker_io, "a directory volume on tmpfs");
	vol_close(&v);
	umount2(mnt, MNT_DETACH);
}

/* A directory volume @name of @size bytes; returns its index. */
static uint32_t add_dir(const char *name, uint64_t size)
{
	struct cfg_volume cv;
	uint32_t idx = jr_vol_append(&g_jr, name);
	int ret;

	memset(&cv, 0, sizeof(cv));
	snprintf(cv.name, sizeof(cv.name), "%s", name);
	snprintf(cv.dir, sizeof(cv.dir), "%s.d", name);
	cv.size = size;
	ret = vols_add(&g_vs, &cv, g_dir, idx);
	cr_assert_eq(ret, 0, "vols_add %s: %s", name, strerror(-ret));
	cr_assert(g_vs.v[idx].isdir);
	return idx;
}

/* Create @path (of @len bytes) under directory volume @dir and open it there. */
static int file_in(uint32_t dir, const char *path, uint64_t len)
{
	struct stat st;
	int fd = openat(g_vs.v[dir].fd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)len), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	return vols_file_get(&g_vs, dir, fd, st.st_dev, st.st_ino, (uint64_t)st.st_size);
}

Test(vols, directory_volume_counts_existing_files_and_registers_nothing)
{
	char path[PATH_MAX + 16];
	uint32_t d;
	int fd;

	snprintf(path, sizeof(path), "%s/db.d", g_dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/db.d/old", g_dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	cr_assert_eq(ftruncate(fd, 5000), 0);
	close(fd);
	d = add_dir("db", 1u << 20);
	cr_assert_eq(g_vs.used[d], 5000);
	cr_assert_eq(rg_files_registered(&g_rg), 1, "only the liveness pipe");
}

Test(vols, files_share_one_entry_per_inode_and_close_with_their_last_handle)
{
	uint32_t d = add_dir("db", 1u << 20);
	int a = file_in(d, "a", 0), a2, b;

	cr_assert_geq(a, (int)VOLS_MAX);
	cr_assert(vols_valid(&g_vs, (uint32_t)a));
	cr_assert_eq(vols_owner(&g_vs, (uint32_t)a), d);
	cr_assert_eq(vols_get(&g_vs, (uint32_t)a), &g_vs.v[d]);
	cr_assert_eq(g_vs.vv[a].file_slot, (uint32_t)a);
	a2 = file_in(d, "a", 0);
	cr_assert_eq(a2, a, "the same inode is the same file");
	b = file_in(d, "b", 0);
	cr_assert_neq(b, a);
	cr_assert_eq(g_vs.nfiles, 2);
	cr_assert_eq(g_jr.hdr->files[a - VOLS_MAX].used, 1, "journaled");
	vols_file_put(&g_vs, (uint32_t)a, 1, false);
	cr_assert(g_vs.files[a - VOLS_MAX].used);
	/* In-flight I/O keeps it past its last handle. */
	vols_io_start(&g_vs, (uint32_t)a);
	vols_file_put(&g_vs, (uint32_t)a, 1, false);
	cr_assert(g_vs.files[a - VOLS_MAX].used);
	cr_assert(g_vs.vv[a].removed, "no new I/O");
	vols_io_done(&g_vs, (uint32_t)a);
	cr_assert_not(g_vs.files[a - VOLS_MAX].used);
	cr_assert_eq(g_jr.hdr->files[a - VOLS_MAX].used, 0);
	cr_assert_eq(g_vs.nfiles, 1);
}

Test(vols, lock_belongs_to_one_session_until_its_handle_goes)
{
	uint32_t d = add_dir("db", 1u << 20);
	int a = file_in(d, "a", 0);

	cr_assert_eq(vols_file_lock(&g_vs, (uint32_t)a, 7), 0);
	cr_assert_eq(g_jr.hdr->files[a - VOLS_MAX].lock_owner, 7);
	cr_assert_eq(vols_file_lock(&g_vs, (uint32_t)a, 7), -EBUSY, "one handle holds it");
	cr_assert_eq(vols_file_lock(&g_vs, (uint32_t)a, 8), -EBUSY);
	cr_assert_eq(file_in(d, "a", 0), a);
	vols_file_put(&g_vs, (uint32_t)a, 8, false);
	cr_assert_eq(vols_file_lock(&g_vs, (uint32_t)a, 8), -EBUSY, "8 held no lock");
	cr_assert_eq(file_in(d, "a", 0), a);
	vols_file_put(&g_vs, (uint32_t)a, 7, true);
	cr_assert(g_vs.files[a - VOLS_MAX].used, "a third handle remains");
	cr_assert_eq(g_vs.files[a - VOLS_MAX].lock_owner, 0);
	cr_assert_eq(vols_file_lock(&g_vs, (uint32_t)a, 8), 0, "free once 7 let go");
}

Test(vols, quota_counts_growth_once_and_refuses_past_the_size)
{
	uint32_t d = add_dir("db", 100000);
	int a = file_in(d, "a", 1000), b;

	cr_assert_eq(g_vs.used[d], 0, "files made after the walk count from their first growth");
	g_vs.used[d] = 1000; /* as if the walk had seen it */
	cr_assert_eq(vols_quota(&g_vs, (uint32_t)a, RINGD_OP_READ, 0, 1u << 30), 0);
	cr_assert_eq(vols_quota(&g_vs, (uint32_t)a, RINGD_OP_WRITE, 0, 500), 0);
	cr_assert_eq(g_vs.used[d], 1000, "inside the file: nothing grows");
	cr_assert_eq(vols_quota(&g_vs, (uint32_t)a, RINGD_OP_WRITE, 1000, 4000), 0);
	cr_assert_eq(vols_quota(&g_vs, (uint32_t)a, RINGD_OP_WRITEV, 1000, 4000), 0);
	cr_assert_eq(g_vs.used[d], 5000, "counted once");
	b = file_in(d, "b", 0);
	cr_assert_eq(vols_quota(&g_vs, (uint32_t)b, RINGD_OP_WRITE_ZEROES, 0, 95000), 0);
	cr_assert_eq(g_vs.used[d], 100000);
	cr_assert_eq(vols_quota(&g_vs, (uint32_t)b, RINGD_OP_WRITE, 95000, 1), -EDQUOT);
	cr_assert_eq(vols_quota(&g_vs, (uint32_t)a, RINGD_OP_WRITE, UINT64_MAX, 2), -EDQUOT);
	cr_assert_eq(g_vs.used[d], 100000, "a refused write counts nothing");
	vols_file_shrunk(&g_vs, (uint32_t)b, 0);
	cr_assert_eq(g_vs.used[d], 5000);
	/* Unlinked while open: its bytes go at its last close. */
	vols_file_gone(&g_vs, d, g_vs.files[a - VOLS_MAX].dev, g_vs.files[a - VOLS_MAX].ino, 5000);
	cr_assert_eq(g_vs.used[d], 5000);
	vols_file_put(&g_vs, (uint32_t)a, 1, false);
	cr_assert_eq(g_vs.used[d], 0);
}

Test(vols, close_resyncs_bytes_counted_for_writes_that_never_landed)
{
	uint32_t d = add_dir("db", 1u << 20);
	int a = file_in(d, "a", 0);

	cr_assert_eq(vols_quota(&g_vs, (uint32_t)a, RINGD_OP_WRITE, 0, 65536), 0);
	cr_assert_eq(g_vs.used[d], 65536);
	/* The write failed: the file is still empty. */
	vols_file_put(&g_vs, (uint32_t)a, 1, false);
	cr_assert_eq(g_vs.used[d], 0);
}

Test(vols, removing_a_directory_volume_stops_its_files)
{
	uint32_t d = add_dir("db", 1u << 20);
	int a = file_in(d, "a", 0);

	vols_remove(&g_vs, d);
	cr_assert(g_vs.vv[a].removed);
	cr_assert(g_vs.files[a - VOLS_MAX].used, "closed with its handle");
	vols_file_put(&g_vs, (uint32_t)a, 1, false);
	cr_assert_not(g_vs.files[a - VOLS_MAX].used);
}
