/* SPDX-License-Identifier: MIT */
/* fio through the libringd-fio external engine, against the real daemon. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#ifndef RINGD_FIO_ENGINE
#define RINGD_FIO_ENGINE ""
#endif

static struct rt_daemon g_d;

/*
 * Criterion 2.4.1 leaks the 48-byte record of a skipped test; under
 * LeakSanitizer that turns a clean skip (the engine is never built in
 * sanitizer builds) into a failed run. Only allocations made inside
 * libcriterion itself are suppressed.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}

static const char conf[] = "[volume fiovol]\n"
			   "path = fio.img\n"
			   "create_size = 64M\n"
			   "direct = no\n"
			   "\n"
			   "[volume fiodirect]\n"
			   "path = fiodirect.img\n"
			   "create_size = 64M\n"
			   "direct = yes\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = fiovol:rw, fiodirect:rw\n";

/* The fio binary, or NULL. */
static const char *fio_bin(void)
{
	static const char *const paths[] = { "/usr/bin/fio", "/usr/local/bin/fio" };
	unsigned int i;

	for (i = 0; i < 2; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Skip unless both fio and the engine are there. */
static void need_fio(void)
{
	if (!fio_bin())
		cr_skip_test("fio is not installed (make deps installs it)");
	if (!RINGD_FIO_ENGINE[0])
		cr_skip_test("libringd-fio.so was not built here (sanitizer build, or the fio "
			     "source could not be fetched: see the meson setup log)");
	if (access(RINGD_FIO_ENGINE, R_OK))
		cr_skip_test("%s is missing", RINGD_FIO_ENGINE);
}

/* Run fio on a job file with @body; returns its exit status, output in @log. */
static int run_fio(const char *body, char *log, size_t loglen)
{
	char job[160];
	FILE *f;
	pid_t pid;
	int st, fd;

	snprintf(job, sizeof(job), "%s/job.fio", g_d.dir);
	snprintf(log, loglen, "%s/fio.log", g_d.dir);
	f = fopen(job, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"[global]\nioengine=external:%s\nringd_socket=%s\n"
		"filename=ringd\nthread=0\nverify_state_save=0\n%s",
		RINGD_FIO_ENGINE, g_d.sock, body);
	cr_assert_eq(fclose(f), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		/* Whatever fio leaves behind stays in the daemon's directory. */
		if (chdir(g_d.dir))
			_exit(127);
		execl(fio_bin(), "fio", job, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void dump(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

/* The error count fio reports for the job ("err= N"), or -1 if none found. */
static int fio_err(const char *path)
{
	char line[512], *p;
	int err = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, "err=")))
			err = (int)strtol(p + 4, NULL, 10);
	fclose(f);
	return err;
}

/* Whether the file at @path contains @needle on one line. */
static bool log_has(const char *path, const char *needle)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static bool have_fio(void)
{
	return fio_bin() && RINGD_FIO_ENGINE[0] && !access(RINGD_FIO_ENGINE, R_OK);
}

static void daemon_start(void)
{
	if (have_fio())
		rt_daemon_start(&g_d, conf);
}

static void daemon_stop(void)
{
	if (g_d.pid > 0)
		cr_assert_eq(rt_daemon_stop(&g_d), 0);
}

Test(fio, crc32c_verify_passes_through_engine, .init = daemon_start, .fini = daemon_stop,
     .timeout = 120)
{
	char log[160];
	int ret;

	need_fio();
	ret = run_fio("[v]\nvolume=fiovol\nrw=randwrite\nbs=4k\niodepth=16\nsize=32m\n"
		      "verify=crc32c\ndo_verify=1\nverify_fatal=1\n",
		      log, sizeof(log));

	if (ret)
		dump(log);
	cr_assert_eq(ret, 0, "fio exited with %d", ret);
	cr_assert_eq(fio_err(log), 0, "fio reported errors (or no result line)");
}

Test(fio, crc32c_verify_on_direct_volume_mixed_sizes, .init = daemon_start, .fini = daemon_stop,
     .timeout = 120)
{
	char log[160];
	int ret;

	need_fio();
	ret = run_fio("[v]\nvolume=fiodirect\nrw=randrw\nbsrange=4k-64k\nblockalign=4k\n"
		      "iodepth=8\nsize=32m\nverify=crc32c\ndo_verify=1\nverify_fatal=1\n"
		      "norandommap=0\n",
		      log, sizeof(log));

	if (ret)
		dump(log);
	cr_assert_eq(ret, 0, "fio exited with %d", ret);
	cr_assert_eq(fio_err(log), 0, "fio reported errors (or no result line)");
}

Test(fio, missing_volume_option_fails_cleanly, .init = daemon_start, .fini = daemon_stop,
     .timeout = 60)
{
	char log[160];
	int ret;

	need_fio();
	ret = run_fio("[v]\nrw=read\nbs=4k\nsize=1m\n", log, sizeof(log));

	cr_assert_neq(ret, 0, "fio succeeded without volume=");
	cr_assert(log_has(log, "needs volume=NAME"), "no message naming the missing option");
}

/* Run the job @body and assert that fio exits 0 with no errors. */
static void fio_ok(const char *what, const char *body)
{
	char log[160];
	int ret;

	ret = run_fio(body, log, sizeof(log));
	if (ret || fio_err(log))
		dump(log);
	cr_assert_eq(ret, 0, "%s: fio exited with %d", what, ret);
	cr_assert_eq(fio_err(log), 0, "%s: fio reported errors (or no result line)", what);
}

/* Whether @len bytes at @off of the backing file @name are all zero. */
static bool backing_is_zero(const char *name, uint64_t off, size_t len)
{
	char path[192];
	uint8_t *buf = malloc(len);
	bool zero;
	size_t i;

	cr_assert_not_null(buf);
	snprintf(path, sizeof(path), "%s/state/%s", g_d.dir, name);
	cr_assert_eq(rt_pread_file(path, buf, len, off), 0, "read %s", path);
	for (i = 0; i < len && !buf[i]; i++)
		;
	zero = i == len;
	free(buf);
	return zero;
}

/* Fill @len bytes at @off of the backing file @name with a pattern. */
static void backing_fill(const char *name, uint64_t off, size_t len)
{
	char path[192];
	uint8_t *buf = malloc(len);

	cr_assert_not_null(buf);
	rt_fill(buf, len, 0xf10, off);
	snprintf(path, sizeof(path), "%s/state/%s", g_d.dir, name);
	cr_assert_eq(rt_pwrite_file(path, buf, len, off), 0, "write %s", path);
	free(buf);
}

/*
 * rw=trim and rw=randtrim become discards: the jobs complete without
 * errors, and the range a sequential trim covered reads as zeros in the
 * file (a discard on a file volume punches a hole) on both volumes.
 */
Test(fio, trim_jobs_discard_the_range, .init = daemon_start, .fini = daemon_stop, .timeout = 120)
{
	need_fio();
	backing_fill("fio.img", 0, 4 << 20);
	backing_fill("fiodirect.img", 0, 4 << 20);
	cr_assert(!backing_is_zero("fio.img", 0, 4 << 20));
	fio_ok("trim", "[t]\nvolume=fiovol\nrw=trim\nbs=64k\niodepth=8\nsize=4m\n");
	cr_assert(backing_is_zero("fio.img", 0, 4 << 20), "rw=trim left data behind");
	fio_ok("trim direct", "[t]\nvolume=fiodirect\nrw=trim\nbs=1m\niodepth=4\nsize=4m\n");
	cr_assert(backing_is_zero("fiodirect.img", 0, 4 << 20), "rw=trim left data behind");
	fio_ok("randtrim", "[t]\nvolume=fiovol\nrw=randtrim\nbs=4k\niodepth=16\nsize=16m\n");
}

/*
 * fio's verify around a trim: 8 MiB written with checksums and verified,
 * the first 4 MiB trimmed, then that half must read as zeros (a pattern
 * verify of 0) and the other half must still carry the checksums
 * (verify_only). (fio 3.33's trim_percentage cannot be used: fio itself
 * asserts on a trim in a job without trim in rw.)
 */
Test(fio, trimmed_range_verifies_as_zeros_and_the_rest_intact, .init = daemon_start,
     .fini = daemon_stop, .timeout = 120)
{
	need_fio();
	fio_ok("trim verify", "[global]\nvolume=fiovol\nbs=4k\niodepth=8\nverify_fatal=1\n"
			      "[w]\nrw=write\nsize=8m\nverify=crc32c\ndo_verify=1\n"
			      "[t]\nstonewall\nrw=trim\nbs=64k\nsize=4m\n"
			      "[z]\nstonewall\nrw=read\nsize=4m\nverify=pattern\n"
			      "verify_pattern=0\n"
			      "[k]\nstonewall\nrw=write\noffset=4m\nsize=4m\nverify=crc32c\n"
			      "verify_only=1\n");
}

/* sync=1 and sync=dsync writes go out as DSYNC writes; fdatasync=N as
 * datasyncs in between. The data checks out with fio's verify. */
Test(fio, sync_and_fdatasync_jobs_verify, .init = daemon_start, .fini = daemon_stop, .timeout = 120)
{
	need_fio();
	fio_ok("sync=1", "[s]\nvolume=fiovol\nrw=randwrite\nbs=4k\niodepth=8\nsize=4m\nsync=1\n"
			 "verify=crc32c\ndo_verify=1\nverify_fatal=1\n");
	fio_ok("sync=dsync direct", "[s]\nvolume=fiodirect\nrw=randwrite\nbs=4k\niodepth=4\n"
				    "size=4m\nsync=dsync\nverify=crc32c\ndo_verify=1\n"
				    "verify_fatal=1\n");
	fio_ok("fdatasync", "[s]\nvolume=fiovol\nrw=randwrite\nbs=4k\niodepth=8\nsize=4m\n"
			    "fdatasync=8\nverify=crc32c\ndo_verify=1\nverify_fatal=1\n");
}

/* ringd_vectored=1: reads and writes as READV/WRITEV, verified, on the
 * buffered and the direct volume, with mixed sizes. */
Test(fio, vectored_requests_verify, .init = daemon_start, .fini = daemon_stop, .timeout = 120)
{
	need_fio();
	fio_ok("vectored", "[v]\nvolume=fiovol\nringd_vectored=1\nrw=randwrite\nbs=4k\n"
			   "iodepth=16\nsize=8m\nverify=crc32c\ndo_verify=1\nverify_fatal=1\n");
	fio_ok("vectored direct", "[v]\nvolume=fiodirect\nringd_vectored=1\nrw=randrw\n"
				  "bsrange=4k-64k\nblockalign=4k\niodepth=8\nsize=8m\n"
				  "verify=crc32c\ndo_verify=1\nverify_fatal=1\n");
}
