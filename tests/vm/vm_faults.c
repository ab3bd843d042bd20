/* SPDX-License-Identifier: MIT */
/*
 * Faults, run INSIDE the VM with vm_guest.c (issue 14):
 *
 *   flush/  H17: a failed write or flush reaches the next flush of every
 *           session that wrote to the volume since its last good flush,
 *           whoever flushes first, and no session that did not write.
 *           Injected with dm-flakey (error_writes, a table swapped in and
 *           out under a live volume on nvme1n1) and with QEMU blkdebug (a
 *           bad sector of nvme0n1 under a buffered volume).
 *   gone/   a device that goes away under a volume (a null_blk device
 *           powered off and removed through configfs): its tenants get
 *           -EIO, the daemon keeps serving the other volumes, and a reload
 *           drops the dead volume.
 *
 * Tenants: A is root (uid 0), B uid 61002 and C uid 61003, each its own
 * session in this process: connected with the effective ids set to the
 * tenant's (the daemon takes the identity from SO_PEERCRED at connect).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmctl.h"
#include "harness.h"
#include "pathio.h"
#include "sdnotify.h"

#define UID_B 61002u
#define UID_C 61003u
#define BS    4096u

static struct rt_daemon g_d;
static struct rt_notify g_n; /* a stand-in systemd, for the tests that restart ringd */
static bool g_up, g_notify;

/* ---------------------------------------------------------------------- */
/* Tenants                                                                 */

struct ten {
	const char *name;
	struct ringd *rd;
	int h;
	uint8_t *buf;
};

/* Connect as @uid (effective ids only, back to root after) and open @vol. */
static void ten_open(struct ten *t, const char *name, uid_t uid, const char *vol)
{
	int ret;

	t->name = name;
	cr_assert_eq(setegid(uid), 0);
	cr_assert_eq(seteuid(uid), 0);
	ret = rt_connect(&g_d, 16, 32, 1u << 20, &t->rd);
	cr_assert_eq(seteuid(0), 0);
	cr_assert_eq(setegid(0), 0);
	cr_assert_eq(ret, 0, "%s: connect: %s", name, strerror(-ret));
	t->h = ringd_open(t->rd, vol, RINGD_RDWR, NULL);
	cr_assert_geq(t->h, 0, "%s: open %s: %s", name, vol, strerror(-t->h));
	t->buf = ringd_buf_alloc(t->rd, BS, BS);
	cr_assert_not_null(t->buf);
}

static void ten_close(struct ten *t)
{
	if (t->rd)
		ringd_disconnect(t->rd);
	t->rd = NULL;
}

/* Submit what @prep built on @t's next SQE and return its result (2 min
 * at most: TCG), checking that exactly one CQE comes back for it. */
static int ten_run(struct ten *t, struct ringd_sqe *sqe)
{
	struct ringd_cqe *cqe;
	int ret, res;

	ringd_sqe_set_data64(sqe, 0x5eed);
	cr_assert_eq(ringd_submit(t->rd), 1);
	ret = ringd_wait_cqe_timeout(t->rd, &cqe, 120000);
	cr_assert_eq(ret, 0, "%s: no completion: %s", t->name, strerror(-ret));
	cr_assert_eq(cqe->user_data, 0x5eed);
	res = cqe->res;
	ringd_cqe_seen(t->rd, cqe);
	cr_assert_eq(ringd_cq_ready(t->rd), 0, "%s: a second CQE for one request", t->name);
	return res;
}

static int ten_write(struct ten *t, uint64_t off, uint64_t seed)
{
	struct ringd_sqe *sqe = ringd_get_sqe(t->rd);

	cr_assert_not_null(sqe);
	rt_fill(t->buf, BS, seed, off);
	ringd_prep_write(sqe, t->h, t->buf, BS, off);
	return ten_run(t, sqe);
}

static int ten_read(struct ten *t, uint64_t off)
{
	struct ringd_sqe *sqe = ringd_get_sqe(t->rd);

	cr_assert_not_null(sqe);
	ringd_prep_read(sqe, t->h, t->buf, BS, off);
	return ten_run(t, sqe);
}

static int ten_fsync(struct ten *t)
{
	struct ringd_sqe *sqe = ringd_get_sqe(t->rd);

	cr_assert_not_null(sqe);
	ringd_prep_fsync(sqe, t->h, 0);
	return ten_run(t, sqe);
}

#define expect_res(what, got, want)                                                                \
	do {                                                                                       \
		int __g = (got);                                                                   \
		printf("  %-58s %d\n", what, __g);                                                 \
		fflush(stdout);                                                                    \
		cr_assert_eq(__g, (want), "%s: %d (%s), expected %d", what, __g,                   \
			     __g < 0 ? strerror(-__g) : "", (want));                               \
	} while (0)

/* Kernel completions the daemon logged as -EIO (log_level = debug). */
static int kernel_eio(void)
{
	const char *needles[] = { "kernel completion -5 ", NULL };

	return rt_log_count(&g_d, needles, NULL, 0);
}

/* ---------------------------------------------------------------------- */
/* Device mapper, through its ioctls (no dmsetup, no udev in the guest)     */

/* Swap @name's table for a new one, live. */
static void dm_swap(const char *name, uint64_t len, const char *type, const char *params)
{
	int ret = dm_load(name, len, type, params);

	cr_assert_eq(ret, 0, "load %s %s on %s: %s", type, params, name, strerror(-ret));
	ret = dm_suspend(name, true);
	cr_assert_eq(ret, 0, "suspend %s: %s", name, strerror(-ret));
	ret = dm_suspend(name, false);
	cr_assert_eq(ret, 0, "resume %s: %s", name, strerror(-ret));
}

/* Create @name with a linear table over @dev from sector @start, @len
 * sectors; its node path goes to @path. */
static void dm_create_linear(const char *name, const char *dev, uint64_t start, uint64_t len,
			     char *path, size_t pathlen)
{
	char params[128];

	snprintf(params, sizeof(params), "%s %llu", dev, (unsigned long long)start);
	dm_create(name, len, "linear", params, path, pathlen);
}

static bool dm_available(void)
{
	return access("/dev/mapper/control", F_OK) == 0;
}

/* ---------------------------------------------------------------------- */
/* Write-back: pages stay dirty until a flush asks for them                 */

static char g_expire[32], g_writeback[32];

static void sysctl_swap(const char *path, const char *val, char *old, size_t oldlen)
{
	FILE *f = fopen(path, "re");

	if (old && f && !fgets(old, (int)oldlen, f))
		old[0] = 0;
	if (f)
		fclose(f);
	f = fopen(path, "we");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(val, f);
	fclose(f);
}

/* No background write-back while a test runs: a page must meet the fault
 * when a flush writes it, not before the fault is injected. */
static void hold_writeback(void)
{
	sysctl_swap("/proc/sys/vm/dirty_expire_centisecs", "360000", g_expire, sizeof(g_expire));
	sysctl_swap("/proc/sys/vm/dirty_writeback_centisecs", "0", g_writeback,
		    sizeof(g_writeback));
}

static void release_writeback(void)
{
	if (g_expire[0])
		sysctl_swap("/proc/sys/vm/dirty_expire_centisecs", g_expire, NULL, 0);
	if (g_writeback[0])
		sysctl_swap("/proc/sys/vm/dirty_writeback_centisecs", g_writeback, NULL, 0);
	g_expire[0] = g_writeback[0] = 0;
}

static const char conf_tenants[] = "[tenant root]\n"
				   "uid = 0\n"
				   "volumes = %s\n"
				   "[tenant b]\n"
				   "uid = 61002\n"
				   "volumes = %s\n"
				   "[tenant c]\n"
				   "uid = 61003\n"
				   "volumes = %s\n";

/* The config: @volumes, and the three tenants granted @grants. */
static void conf_with(char *conf, size_t len, const char *volumes, const char *grants)
{
	int n;

	n = snprintf(conf, len,
		     "[daemon]\n"
		     "socket = @DIR@/ringd.sock\n"
		     "state_dir = @DIR@/state\n"
		     "log_level = debug\n"
		     "%s",
		     volumes);
	snprintf(conf + n, len - (size_t)n, conf_tenants, grants, grants, grants);
}

static void start_with(const char *volumes, const char *grants)
{
	char conf[4096];

	conf_with(conf, sizeof(conf), volumes, grants);
	rt_daemon_start(&g_d, conf);
	g_up = true;
}

/* (Re)launch ringd under the stand-in systemd, with its fd store. */
static void launch_stored(void)
{
	int ret = rt_notify_launch(&g_n, &g_d, true);

	cr_assert_eq(ret, 0, "no READY=1 (see the log): %s", strerror(-ret));
	g_up = true;
}

/* As start_with(), under a stand-in systemd that keeps the fd store, so a
 * test can kill ringd and start it again with its sessions. */
static void start_stored_with(const char *volumes, const char *grants)
{
	char conf[4096];

	conf_with(conf, sizeof(conf), volumes, grants);
	cr_assert_eq(rt_daemon_prepare(&g_d, conf), 0);
	cr_assert_eq(rt_notify_open(&g_n, g_d.dir), 0);
	g_notify = true;
	launch_stored();
}

/* SIGKILL ringd and start it again from the fd store. */
static void kill_and_restart(void)
{
	int status;

	cr_assert_eq(kill(g_d.pid, SIGKILL), 0);
	cr_assert_eq(waitpid(g_d.pid, &status, 0), g_d.pid);
	g_d.pid = -1;
	launch_stored();
}

static void stop(void)
{
	int status;

	if (!g_up)
		return;
	g_up = false;
	status = rt_daemon_stop(&g_d);
	if (g_notify)
		rt_notify_close(&g_n);
	g_notify = false;
	cr_assert_eq(status, 0, "ringd exited with status %d (see its log above)", status);
}

/* ---------------------------------------------------------------------- */
/* flush/: H17 with dm-flakey                                               */

/*
 * Two dm devices on nvme1n1 (no other suite writes past its first 64 MiB),
 * linear until a test swaps in flakey: fbuf under a buffered volume, fdir
 * under a direct one.
 */
#define FL_LEN	 65536ull /* sectors: 32 MiB each */
#define FL_START 262144ull
static char g_fbuf[32], g_fdir[32];

static void flakey_volumes(char *vols, size_t len)
{
	if (access("/dev/nvme1n1", F_OK) || !dm_available())
		cr_skip_test("no /dev/nvme1n1 or no device mapper: this suite runs inside "
			     "tests/vm/run-vm.sh --nvme2 --module dm-flakey");
	hold_writeback();
	dm_create_linear("ringd-fbuf", "/dev/nvme1n1", FL_START, FL_LEN, g_fbuf, sizeof(g_fbuf));
	dm_create_linear("ringd-fdir", "/dev/nvme1n1", FL_START + FL_LEN, FL_LEN, g_fdir,
			 sizeof(g_fdir));
	snprintf(vols, len,
		 "[volume fbuf]\npath = %s\ndirect = no\npoll = off\npassthrough = off\n"
		 "[volume fdir]\npath = %s\ndirect = yes\npoll = off\npassthrough = off\n",
		 g_fbuf, g_fdir);
}

static void flakey_up(void)
{
	char vols[1024];

	flakey_volumes(vols, sizeof(vols));
	start_with(vols, "fbuf:rw, fdir:rw");
}

static void flakey_up_stored(void)
{
	char vols[1024];

	flakey_volumes(vols, sizeof(vols));
	start_stored_with(vols, "fbuf:rw, fdir:rw");
}

static void flakey_down(void)
{
	int r1, r2;

	stop();
	r1 = dm_remove("ringd-fbuf");
	r2 = dm_remove("ringd-fdir");
	release_writeback();
	cr_assert(!r1 && !r2, "remove the dm devices: %s, %s", strerror(-r1), strerror(-r2));
}

/* @name's table: every write and flush fails (error_writes, always down),
 * or the plain linear mapping again. */
static void flakey(const char *name, uint64_t start, bool failing)
{
	char params[128];

	if (failing) {
		snprintf(params, sizeof(params), "/dev/nvme1n1 %llu 0 3600 1 error_writes",
			 (unsigned long long)start);
		dm_swap(name, FL_LEN, "flakey", params);
	} else {
		snprintf(params, sizeof(params), "/dev/nvme1n1 %llu", (unsigned long long)start);
		dm_swap(name, FL_LEN, "linear", params);
	}
}

/*
 * Open A, B and C on the buffered volume; A and B write and flush
 * cleanly, then write again into the page cache, the device starts
 * failing writes, and C (who never wrote) flushes first and takes the
 * kernel's only report of the lost pages. The device still fails.
 */
static void writeback_fails_under_c(struct ten *a, struct ten *b, struct ten *c)
{
	int before;

	ten_open(a, "A", 0, "fbuf");
	ten_open(b, "B", UID_B, "fbuf");
	ten_open(c, "C", UID_C, "fbuf");
	/* A clean start: every flush succeeds. */
	expect_res("A write 4K at 0", ten_write(a, 0, 1), (int)BS);
	expect_res("B write 4K at 1M", ten_write(b, 1u << 20, 2), (int)BS);
	expect_res("A flush (device good)", ten_fsync(a), 0);
	expect_res("B flush (device good)", ten_fsync(b), 0);
	expect_res("C flush (device good)", ten_fsync(c), 0);
	/* Dirty pages of A and B, then the fault. */
	expect_res("A write 4K at 0 (cached)", ten_write(a, 0, 3), (int)BS);
	expect_res("B write 4K at 1M (cached)", ten_write(b, 1u << 20, 4), (int)BS);
	flakey("ringd-fbuf", FL_START, true);
	before = kernel_eio();
	expect_res("C flush, device failing, C never wrote", ten_fsync(c), 0);
	cr_assert_gt(kernel_eio(), before, "the kernel did not fail C's flush: no fault injected?");
}

/*
 * Buffered volume: A and B write (into the page cache), the device starts
 * failing writes, C (who never wrote) flushes first and takes the
 * kernel's only report of the lost pages; B flushes while the device still
 * fails; the device comes back; A flushes (the kernel says 0 to it).
 */
Test(flush, flakey_writeback_error_reaches_every_writer, .init = flakey_up, .fini = flakey_down)
{
	struct ten a, b, c;
	int before;

	printf("flush/flakey buffered (%s):\n", g_fbuf);
	writeback_fails_under_c(&a, &b, &c);
	expect_res("B flush, device failing", ten_fsync(&b), -EIO);
	flakey("ringd-fbuf", FL_START, false);
	before = kernel_eio();
	expect_res("A flush, device good again (the kernel says 0)", ten_fsync(&a), -EIO);
	cr_assert_eq(kernel_eio(), before,
		     "the kernel itself failed A's flush: not the case tested");
	expect_res("B flush, device good (B was told)", ten_fsync(&b), 0);
	expect_res("A flush again (A was told)", ten_fsync(&a), 0);
	expect_res("C flush", ten_fsync(&c), 0);
	/* Fresh writes flush cleanly. */
	expect_res("B write 4K at 1M", ten_write(&b, 1u << 20, 5), (int)BS);
	expect_res("B flush", ten_fsync(&b), 0);
	ten_close(&a);
	ten_close(&b);
	ten_close(&c);
}

/*
 * The same failure, taken by C's flush, and then ringd is killed and
 * started again from its fd store before A and B flush. The new instance
 * never saw the failure and the kernel says 0 to every flush after it:
 * only the journal remembers that A and B are owed it.
 */
Test(flush, flakey_writeback_error_survives_a_restart, .init = flakey_up_stored,
     .fini = flakey_down)
{
	struct ten a, b, c;
	int before;

	printf("flush/flakey buffered, then a restart (%s):\n", g_fbuf);
	writeback_fails_under_c(&a, &b, &c);
	flakey("ringd-fbuf", FL_START, false);
	kill_and_restart();
	printf("  ringd killed and restarted (pid %d)\n", (int)g_d.pid);
	before = kernel_eio();
	expect_res("A flush after the restart (the kernel says 0)", ten_fsync(&a), -EIO);
	expect_res("B flush after the restart", ten_fsync(&b), -EIO);
	expect_res("C flush after the restart", ten_fsync(&c), 0);
	cr_assert_eq(kernel_eio(), before,
		     "the kernel itself failed a flush after the restart: not the case tested");
	expect_res("A flush again (A was told)", ten_fsync(&a), 0);
	expect_res("B flush again (B was told)", ten_fsync(&b), 0);
	ten_close(&a);
	ten_close(&b);
	ten_close(&c);
}

/*
 * Direct volume: A writes (durable on the device's side of the cache), the
 * device starts failing writes, B's write fails at once; the device comes
 * back; every session that wrote hears of it from its next flush, C not.
 */
Test(flush, flakey_failed_write_reaches_every_writer, .init = flakey_up, .fini = flakey_down)
{
	struct ten a, b, c;

	ten_open(&a, "A", 0, "fdir");
	ten_open(&b, "B", UID_B, "fdir");
	ten_open(&c, "C", UID_C, "fdir");
	printf("flush/flakey direct (%s):\n", g_fdir);
	expect_res("A write 4K at 0", ten_write(&a, 0, 11), (int)BS);
	expect_res("C flush (device good)", ten_fsync(&c), 0);
	flakey("ringd-fdir", FL_START + FL_LEN, true);
	expect_res("B write 4K at 1M, device failing", ten_write(&b, 1u << 20, 12), -EIO);
	expect_res("A read 4K at 0, device failing (reads still work)", ten_read(&a, 0), (int)BS);
	cr_assert_eq(rt_check(a.buf, BS, 11, 0), -1, "A's data read back wrong");
	flakey("ringd-fdir", FL_START + FL_LEN, false);
	expect_res("C flush, C never wrote", ten_fsync(&c), 0);
	expect_res("A flush, A wrote before B's write failed", ten_fsync(&a), -EIO);
	expect_res("B flush, B's write failed", ten_fsync(&b), -EIO);
	expect_res("B flush again (told)", ten_fsync(&b), 0);
	expect_res("A flush again (told)", ten_fsync(&a), 0);
	ten_close(&a);
	ten_close(&b);
	ten_close(&c);
}

/* ---------------------------------------------------------------------- */
/* flush/: H17 with blkdebug                                                */

/*
 * nvme0n1's window [248M, 256M) has a bad sector 1 MiB in (test-vm:
 * sector 509952): a buffered volume over it. B's page over the bad sector
 * is accepted into the page cache and fails when written back.
 */
static void start_wbuf(void)
{
	if (access("/dev/nvme0n1", F_OK))
		cr_skip_test("no /dev/nvme0n1: this suite runs inside tests/vm/run-vm.sh");
	if (!getenv("RINGD_VM_BAD_SECTORS") || !strstr(getenv("RINGD_VM_BAD_SECTORS"), "509952"))
		cr_skip_test("no bad sector 509952 on nvme0n1 (test-vm passes it to run-vm.sh "
			     "--nvme-bad-sector and lists it in RINGD_VM_BAD_SECTORS)");
	hold_writeback();
	start_with("[volume wbuf]\npath = /dev/nvme0n1\noffset = 248M\nsize = 8M\n"
		   "direct = no\npoll = off\npassthrough = off\n",
		   "wbuf:rw");
}

static void stop_wbuf(void)
{
	stop();
	release_writeback();
}

Test(flush, blkdebug_writeback_error_reaches_every_writer, .init = start_wbuf, .fini = stop_wbuf)
{
	struct ten a, b, c;
	int before;

	ten_open(&a, "A", 0, "wbuf");
	ten_open(&b, "B", UID_B, "wbuf");
	ten_open(&c, "C", UID_C, "wbuf");
	printf("flush/blkdebug buffered (nvme0n1, bad sector 509952):\n");
	expect_res("A write 4K at 0", ten_write(&a, 0, 21), (int)BS);
	expect_res("B write 4K at 1M over the bad sector (cached)", ten_write(&b, 1u << 20, 22),
		   (int)BS);
	before = kernel_eio();
	expect_res("C flush, C never wrote", ten_fsync(&c), 0);
	cr_assert_gt(kernel_eio(), before, "the kernel did not fail C's flush: no bad sector?");
	before = kernel_eio();
	expect_res("A flush (the kernel says 0)", ten_fsync(&a), -EIO);
	expect_res("B flush (the kernel says 0)", ten_fsync(&b), -EIO);
	cr_assert_eq(kernel_eio(), before, "the kernel itself failed A's or B's flush");
	expect_res("B flush again (told)", ten_fsync(&b), 0);
	expect_res("A flush again (told)", ten_fsync(&a), 0);
	expect_res("C flush", ten_fsync(&c), 0);
	ten_close(&a);
	ten_close(&b);
	ten_close(&c);
}

/* ---------------------------------------------------------------------- */
/* gone/: a device that goes away                                           */

#define NULLB "/sys/kernel/config/nullb/ringd-gone"
static char g_nullb[32];

static void put_attr(const char *attr, const char *val)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), NULLB "/%s", attr);
	f = fopen(path, "we");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(val, f);
	cr_assert_eq(fclose(f), 0, "%s = %s: %s", path, val, strerror(errno));
}

/* A 64 MiB memory-backed null_blk device, made through configfs. */
static void nullb_up(void)
{
	char idx[16] = "";
	FILE *f;

	if (access("/sys/module/null_blk", F_OK))
		cr_skip_test("no null_blk: this suite runs inside tests/vm/run-vm.sh --module "
			     "'null_blk nr_devices=0'");
	if (access("/sys/kernel/config/nullb", F_OK))
		mount("configfs", "/sys/kernel/config", "configfs", 0, NULL);
	cr_assert_eq(access("/sys/kernel/config/nullb", F_OK), 0, "no configfs for null_blk");
	rmdir(NULLB);
	cr_assert_eq(mkdir(NULLB, 0755), 0, "mkdir " NULLB ": %s", strerror(errno));
	put_attr("size", "64");
	put_attr("memory_backed", "1");
	put_attr("blocksize", "4096");
	put_attr("power", "1");
	f = fopen(NULLB "/index", "re");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(idx, sizeof(idx), f));
	fclose(f);
	/* Since Linux 6.0 the disk is named after its configfs entry. */
	snprintf(g_nullb, sizeof(g_nullb), "/dev/nullb%u", (unsigned int)strtoul(idx, NULL, 10));
	if (!rt_wait_for(2000, access(g_nullb, F_OK) == 0))
		snprintf(g_nullb, sizeof(g_nullb), "/dev/ringd-gone");
	cr_assert(rt_wait_for(10000, access(g_nullb, F_OK) == 0), "%s did not appear", g_nullb);
}

static const char gone_vols[] =
    "[volume gone]\npath = %s\ndirect = yes\npoll = off\npassthrough = off\n"
    "[volume alive]\npath = /dev/nvme1n1\noffset = 200M\nsize = 8M\ndirect = yes\n"
    "poll = off\npassthrough = off\n";

static void start_gone(void)
{
	char vols[512];

	if (access("/dev/nvme1n1", F_OK))
		cr_skip_test("no /dev/nvme1n1 (run-vm.sh --nvme2)");
	nullb_up();
	snprintf(vols, sizeof(vols), gone_vols, g_nullb);
	start_with(vols, "gone:rw, alive:rw");
}

static void stop_gone(void)
{
	stop();
	if (access(NULLB, F_OK) == 0) {
		put_attr("power", "0");
		rmdir(NULLB);
	}
}

/* ringd-probe on the running config names the dead volume, and only it. */
static void probe_says_gone(void)
{
	json_object *root = rp_probe_json(g_d.conf), *v, *e;

	cr_assert_not_null(root, "ringd-probe --json did not print JSON");
	v = rp_probe_volume(root, "gone");
	cr_assert_not_null(v);
	cr_assert(json_object_object_get_ex(v, "error", &e) && e, "no error for \"gone\"");
	printf("  ringd-probe: %s\n", json_object_get_string(e));
	cr_assert(strstr(json_object_get_string(e), "volume gone"));
	v = rp_probe_volume(root, "alive");
	cr_assert_not_null(v);
	cr_assert(!json_object_object_get_ex(v, "error", &e) || !e, "\"alive\": %s",
		  json_object_get_string(e));
	json_object_put(root);
}

/*
 * B works on "gone", C on "alive"; the null_blk device under "gone" is
 * powered off and its configfs entry removed (del_gendisk: the disk is
 * dead, its node goes away) while the daemon holds it open. B's I/O fails
 * -EIO, exactly once each; C's goes on; the daemon stays up; a reload
 * drops "gone" (B then gets -ENODEV, a new open -ENOENT) and C goes on.
 */
Test(gone, removed_device_fails_its_tenants_only, .init = start_gone, .fini = stop_gone)
{
	struct ten b, c, a;
	char conf[2048];
	int i, n;

	ten_open(&b, "B", UID_B, "gone");
	ten_open(&c, "C", UID_C, "alive");
	printf("gone/null_blk (%s under \"gone\", nvme1n1 under \"alive\"):\n", g_nullb);
	expect_res("B write 4K at 0 of gone", ten_write(&b, 0, 31), (int)BS);
	expect_res("B flush", ten_fsync(&b), 0);
	expect_res("C write 4K at 0 of alive", ten_write(&c, 0, 32), (int)BS);
	put_attr("power", "0");
	cr_assert_eq(rmdir(NULLB), 0, "rmdir " NULLB ": %s", strerror(errno));
	cr_assert(rt_wait_for(10000, access(g_nullb, F_OK) != 0), "%s is still there", g_nullb);
	expect_res("B write 4K at 0 of gone, device removed", ten_write(&b, 0, 33), -EIO);
	expect_res("B read 4K at 0 of gone, device removed", ten_read(&b, 0), -EIO);
	expect_res("B flush, device removed", ten_fsync(&b), -EIO);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(ten_write(&c, (uint64_t)i * BS, 40 + (uint64_t)i), (int)BS);
		cr_assert_eq(ten_read(&c, (uint64_t)i * BS), (int)BS);
		cr_assert_eq(rt_check(c.buf, BS, 40 + (uint64_t)i, (uint64_t)i * BS), -1);
	}
	expect_res("C flush on alive", ten_fsync(&c), 0);
	cr_assert_eq(kill(g_d.pid, 0), 0, "the daemon died");
	cr_assert(rp_log_has(&g_d, "volume gone: "), "the log does not name the dead volume");
	probe_says_gone();
	/* The operator drops the dead volume. */
	n = snprintf(conf, sizeof(conf),
		     "[daemon]\nsocket = @DIR@/ringd.sock\nstate_dir = @DIR@/state\n"
		     "log_level = debug\n"
		     "[volume alive]\npath = /dev/nvme1n1\noffset = 200M\nsize = 8M\n"
		     "direct = yes\npoll = off\npassthrough = off\n");
	snprintf(conf + n, sizeof(conf) - (size_t)n, conf_tenants, "alive:rw", "alive:rw",
		 "alive:rw");
	cr_assert_eq(rp_write_conf(&g_d, conf), 0);
	cr_assert_eq(kill(g_d.pid, SIGHUP), 0);
	cr_assert(rt_wait_for(20000, rp_log_has(&g_d, "(0 added, 1 removed)")),
		  "the reload did not remove \"gone\"");
	expect_res("B write on gone after the reload", ten_write(&b, 0, 34), -ENODEV);
	ten_open(&a, "A", 0, "alive");
	cr_assert_eq(ringd_open(a.rd, "gone", RINGD_RDWR, NULL), -ENOENT);
	expect_res("A write 4K at 1M of alive", ten_write(&a, 1u << 20, 35), (int)BS);
	expect_res("C read 4K at 0 of alive", ten_read(&c, 0), (int)BS);
	cr_assert_eq(rt_check(c.buf, BS, 40, 0), -1);
	ten_close(&a);
	ten_close(&b);
	ten_close(&c);
}

/* ---------------------------------------------------------------------- */
/* flush/: a failed write on the polled and NVMe passthrough paths          */

/*
 * The media suite's root windows of nvme0n1 (a blkdebug bad sector 1 MiB
 * into each), served polled and as NVMe commands: the same rule whatever
 * the path (the flush of a passthrough volume is an NVMe Flush). Not
 * polled passthrough: the guest's 6.1 kernel can oops in bio_poll() from
 * nvme_ns_chr_uring_cmd_iopoll() around failed polled commands (seen once
 * in the media suite's case), and one such case in the boot is enough.
 */
static void start_paths(void)
{
	if (access("/dev/nvme0n1", F_OK))
		cr_skip_test("no /dev/nvme0n1: this suite runs inside tests/vm/run-vm.sh");
	if (!getenv("RINGD_VM_BAD_SECTORS") || !strstr(getenv("RINGD_VM_BAD_SECTORS"), "460800"))
		cr_skip_test("no bad sectors on nvme0n1 (test-vm passes them to run-vm.sh "
			     "--nvme-bad-sector and lists them in RINGD_VM_BAD_SECTORS)");
	start_with("[volume hpolled]\npath = /dev/nvme0n1\noffset = 224M\nsize = 4M\n"
		   "direct = yes\npoll = on\npassthrough = off\n"
		   "[volume hpt]\npath = /dev/nvme0n1\noffset = 232M\nsize = 4M\n"
		   "poll = off\npassthrough = on\n",
		   "hpolled:rw, hpt:rw");
}

static void failed_write_on(const char *vol, uint64_t seed)
{
	struct ten a, b, c;

	ten_open(&a, "A", 0, vol);
	ten_open(&b, "B", UID_B, vol);
	ten_open(&c, "C", UID_C, vol);
	printf("flush/%s (bad sector 1M in):\n", vol);
	expect_res("A write 4K at 0", ten_write(&a, 0, seed), (int)BS);
	expect_res("C flush", ten_fsync(&c), 0);
	expect_res("B write 4K at 1M over the bad sector", ten_write(&b, 1u << 20, seed + 1), -EIO);
	expect_res("C flush, C never wrote", ten_fsync(&c), 0);
	expect_res("A flush, A wrote before B's write failed", ten_fsync(&a), -EIO);
	expect_res("B flush", ten_fsync(&b), -EIO);
	expect_res("B flush again (told)", ten_fsync(&b), 0);
	expect_res("A flush again (told)", ten_fsync(&a), 0);
	expect_res("A read 4K at 0", ten_read(&a, 0), (int)BS);
	cr_assert_eq(rt_check(a.buf, BS, seed, 0), -1, "%s: A's data read back wrong", vol);
	ten_close(&a);
	ten_close(&b);
	ten_close(&c);
}

Test(flush, failed_write_reaches_every_writer_polled, .init = start_paths, .fini = stop)
{
	failed_write_on("hpolled", 51);
}

Test(flush, failed_write_reaches_every_writer_passthrough, .init = start_paths, .fini = stop)
{
	failed_write_on("hpt", 53);
}
