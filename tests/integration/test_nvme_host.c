/* SPDX-License-Identifier: MIT */
/*
 * Polling and passthrough modes on the host (no NVMe here): loop devices
 * as block-device volumes, auto falls back and serves, on refuses to
 * start naming the volume and the reason, sqpoll = on serves,
 * ringd-probe --json lists every configured volume, and the operations of
 * issue 11 (vectored, DSYNC, write-zeroes, discard, chains) on direct and
 * buffered block volumes, and a loop device shrunk under a volume.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "pathio.h"
#include "pathops.h"
#include "probe.h"

static struct rt_daemon g_d;
static char g_loop[64];	     /* /dev/loopN */
static char g_img[PATH_MAX]; /* its backing file */

/* Attach a 64 MiB loop device (direct I/O) or skip with the reason. */
static void loop_setup(void)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int fd;

	if (getuid() != 0)
		cr_skip_test("loop devices need root");
	snprintf(g_img, sizeof(g_img), "/var/tmp/ringd-loop.XXXXXX");
	fd = mkstemp(g_img);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, 64 << 20), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "losetup --direct-io=on -f --show '%s' 2>&1", g_img);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (!fgets(g_loop, sizeof(g_loop), p))
		g_loop[0] = '\0';
	pclose(p);
	g_loop[strcspn(g_loop, "\n")] = '\0';
	if (strncmp(g_loop, "/dev/loop", 9)) {
		unlink(g_img);
		cr_skip_test("no loop device available (losetup: %s)", g_loop);
	}
}

static void loop_teardown(void)
{
	char cmd[128];

	if (g_loop[0]) {
		snprintf(cmd, sizeof(cmd), "losetup -d '%s'", g_loop);
		if (system(cmd) != 0)
			fprintf(stderr, "could not detach %s\n", g_loop);
		g_loop[0] = '\0';
	}
	unlink(g_img);
}

static void stop(void)
{
	int status = rt_daemon_stop(&g_d);

	cr_assert_eq(status, 0, "ringd exited with status %d (see its log above)", status);
}

/* Config: volume "blk" on the loop device with @keys, plus a file volume. */
static void conf_for(char *buf, size_t len, const char *keys, const char *daemon_keys)
{
	snprintf(buf, len,
		 "[daemon]\nsocket = @DIR@/ringd.sock\nstate_dir = @DIR@/state\nlog_level = %s\n"
		 "%s\n"
		 "[volume blk]\npath = %s\ndirect = yes\n%s\n"
		 "[volume file]\npath = file.img\ncreate_size = 16M\ndirect = yes\n\n"
		 "[tenant root]\nuid = 0\nvolumes = blk:rw, file:rw\n",
		 getenv("RINGD_TEST_LOG_LEVEL") ? getenv("RINGD_TEST_LOG_LEVEL") : "info",
		 daemon_keys, g_loop, keys);
}

Test(nvme_host, loop_poll_auto_falls_back_and_serves, .init = loop_setup, .fini = loop_teardown)
{
	struct ringd_stats st;
	char conf[1024];

	conf_for(conf, sizeof(conf), "poll = auto\npassthrough = auto\n", "");
	rt_daemon_start(&g_d, conf);
	cr_expect(rp_log_has(&g_d, "volume blk: poll = auto: not polled"),
		  "no log line saying why blk is not polled");
	cr_expect(rp_log_has(&g_d, "volume blk: passthrough = auto: not used"),
		  "no log line saying why blk has no passthrough");
	rp_roundtrip(&g_d, "blk", 4096, 4, 16, 7, true, &st);
	cr_expect_eq(st.completions_interrupt, 33);
	cr_expect_eq(st.completions_polled + st.completions_passthrough +
			 st.completions_passthrough_polled,
		     0);
	stop();
}

Test(nvme_host, loop_poll_on_refuses_to_start, .init = loop_setup, .fini = loop_teardown)
{
	struct rt_daemon d;
	char conf[1024], needle[128];

	conf_for(conf, sizeof(conf), "poll = on\n", "");
	cr_assert(rp_launch_refused(&d, conf), "ringd started with poll = on on a loop device");
	snprintf(needle, sizeof(needle), "volume blk: poll = on, but %s has no poll queues",
		 g_loop);
	cr_expect(rp_log_has(&d, needle), "the refusal does not say '%s'", needle);
	rp_cleanup(&d);
}

Test(nvme_host, loop_passthrough_on_refuses_to_start, .init = loop_setup, .fini = loop_teardown)
{
	struct rt_daemon d;
	char conf[1024], needle[128];

	conf_for(conf, sizeof(conf), "passthrough = on\n", "");
	cr_assert(rp_launch_refused(&d, conf), "ringd started with passthrough = on on a loop");
	snprintf(needle, sizeof(needle), "volume blk: passthrough = on, but %s is not an NVMe",
		 g_loop);
	cr_expect(rp_log_has(&d, needle), "the refusal does not say '%s'", needle);
	rp_cleanup(&d);
}

Test(nvme_host, file_poll_on_refuses_to_start)
{
	static const char conf[] = "[volume f]\npath = f.img\ncreate_size = 4M\ndirect = yes\n"
				   "poll = on\n[tenant root]\nuid = 0\nvolumes = f:rw\n";
	struct rt_daemon d;

	cr_assert(rp_launch_refused(&d, conf), "ringd started with poll = on on a file");
	cr_expect(rp_log_has(&d, "volume f: poll = on, but"));
	cr_expect(rp_log_has(&d, "is not a block device"));
	rp_cleanup(&d);
}

Test(nvme_host, nvme_serial_not_found_refuses_to_start)
{
	static const char conf[] = "[volume n]\nnvme = NO-SUCH-SERIAL:1\n"
				   "[tenant root]\nuid = 0\nvolumes = n:rw\n";
	struct rt_daemon d;

	cr_assert(rp_launch_refused(&d, conf), "ringd started on a missing NVMe serial");
	cr_expect(rp_log_has(&d, "volume n: nvme = NO-SUCH-SERIAL:1: no such controller"));
	rp_cleanup(&d);
}

/* Sessions of @d, the asking admin connection included; -1 on error. */
static int sessions_left(const struct rt_daemon *d)
{
	struct rt_admin_stats a;

	return rt_admin_stats(d, &a) ? -1 : (int)a.sessions;
}

Test(nvme_host, sqpoll_on_serves_block_and_file, .init = loop_setup, .fini = loop_teardown)
{
	struct ringd_stats st;
	char conf[1024];

	conf_for(conf, sizeof(conf), "poll = off\n", "sqpoll = on\nsqpoll_idle_ms = 20ms\n");
	rt_daemon_start(&g_d, conf);
	cr_expect(rp_log_has(&g_d, "SQPOLL thread"), "no SQPOLL log line");
	rp_roundtrip(&g_d, "blk", 4096, 2, 16, 8, true, &st);
	cr_expect_eq(st.completions_interrupt, 33);
	rp_roundtrip(&g_d, "file", 4096, 1, 16, 9, false, &st);
	cr_expect_eq(st.completions_interrupt, 32);
	/* Closed sessions are freed (their poll cancellations complete on the
	 * SQ thread) while the daemon runs, not only when it stops. */
	cr_expect(rt_wait_for(5000, sessions_left(&g_d) == 1),
		  "closed sessions were not freed: %d left besides the admin connection",
		  sessions_left(&g_d) - 1);
	stop();
}

Test(nvme_host, probe_json_lists_every_volume, .init = loop_setup, .fini = loop_teardown)
{
	json_object *root, *v, *x, *n;
	char conf[1024];

	conf_for(conf, sizeof(conf), "poll = auto\n", "");
	rt_daemon_start(&g_d, conf);
	root = rp_probe_json(g_d.conf);
	cr_assert_not_null(root, "ringd-probe --json did not print parseable JSON");
	cr_assert(json_object_object_get_ex(root, "kernel", &x));
	cr_assert(json_object_object_get_ex(root, "io_uring", &x));
	cr_assert(json_object_object_get_ex(x, "opcodes", &n));
	cr_assert_gt(json_object_array_length(n), 0);
	cr_assert(json_object_object_get_ex(root, "volumes", &x));
	cr_assert_eq(json_object_array_length(x), 2);
	v = rp_probe_volume(root, "blk");
	cr_assert_not_null(v, "volume blk missing");
	cr_assert(json_object_object_get_ex(v, "type", &n));
	cr_assert_str_eq(json_object_get_string(n), "block");
	cr_assert(json_object_object_get_ex(v, "path", &n));
	cr_assert_str_eq(json_object_get_string(n), g_loop);
	cr_assert(json_object_object_get_ex(v, "poll", &x) &&
		  json_object_object_get_ex(x, "active", &n));
	cr_assert(!json_object_get_boolean(n), "a loop device cannot be polled");
	cr_assert(json_object_object_get_ex(x, "reason", &n) && json_object_get_string(n));
	v = rp_probe_volume(root, "file");
	cr_assert_not_null(v, "volume file missing");
	cr_assert(json_object_object_get_ex(v, "type", &n));
	cr_assert_str_eq(json_object_get_string(n), "file");
	json_object_put(root);
	stop();
}

/*
 * The start-up probe's polled read: on kernels that refuse IOPOLL on a
 * device without poll queues, the first polled I/O fails -EOPNOTSUPP and
 * the probe reports it (so ringd finds out at start, not a tenant).
 */
Test(nvme_host, iopoll_probe_catches_eopnotsupp_at_first_io, .init = loop_setup,
     .fini = loop_teardown)
{
	int fd = open(g_loop, O_RDONLY | O_DIRECT | O_CLOEXEC), ret;

	cr_assert_geq(fd, 0, "open %s: %s", g_loop, strerror(errno));
	ret = kp_iopoll_try(fd, 512);
	close(fd);
	if (ret == 0)
		cr_skip_test("this kernel completes polled I/O on %s by interrupts (Linux 6.1 "
			     "does); ringd relies on queue/io_poll there",
			     g_loop);
	cr_assert_eq(ret, -EOPNOTSUPP, "polled read on %s: %s", g_loop, strerror(-ret));
}

/* Two windows of the loop device: one direct, one through the page cache. */
static void conf_dataops(char *buf, size_t len)
{
	snprintf(buf, len,
		 "[daemon]\nsocket = @DIR@/ringd.sock\nstate_dir = @DIR@/state\nlog_level = %s\n"
		 "[volume blk]\npath = %s\noffset = 0\nsize = 32M\ndirect = yes\n"
		 "poll = off\npassthrough = off\n"
		 "[volume blkbuf]\npath = %s\noffset = 32M\nsize = 32M\ndirect = no\n"
		 "poll = off\npassthrough = off\n"
		 "[tenant root]\nuid = 0\nvolumes = blk:rw, blkbuf:rw\n",
		 getenv("RINGD_TEST_LOG_LEVEL") ? getenv("RINGD_TEST_LOG_LEVEL") : "info", g_loop,
		 g_loop);
}

/*
 * Every operation on one block volume: vectored both ways, DSYNC write and
 * writev, write-zeroes reading back zeros with its neighbours untouched,
 * discard, misaligned ranges refused, a write -> fsync -> read chain; all
 * on the interrupt path.
 */
static void loop_dataops(const char *vol, uint64_t seed)
{
	char conf[1024];
	struct po o;

	conf_dataops(conf, sizeof(conf));
	rt_daemon_start(&g_d, conf);
	po_open(&o, &g_d, vol);
	cr_assert_eq(o.info.block_size, o.unit, "%s: logical block %u, unit %u", vol,
		     o.info.block_size, o.unit);
	po_vectored(&o, 64 << 10, seed);
	po_dsync(&o, 256 << 10, seed + 1);
	po_write_zeroes(&o, 1 << 20, (3 << 20) + 8192, 0, seed + 2);
	po_discard(&o, 8 << 20, (1 << 20) + 4096, seed + 3);
	po_misaligned(&o, 16 << 20);
	po_chain(&o, 20 << 20, seed + 4);
	po_cancel(&o, PO_INTERRUPT, 20 << 20);
	po_close(&o, PO_INTERRUPT);
	stop();
}

Test(nvme_host, loop_dataops_direct, .init = loop_setup, .fini = loop_teardown)
{
	loop_dataops("blk", 71);
}

Test(nvme_host, loop_dataops_buffered, .init = loop_setup, .fini = loop_teardown)
{
	loop_dataops("blkbuf", 72);
}

/* Submit the one request prepared on @rd and return its result. */
static int run_one(struct ringd *rd)
{
	struct ringd_cqe *cqe;
	int res;

	cr_assert_eq(ringd_submit(rd), 1);
	cr_assert_eq(ringd_wait_cqe_timeout(rd, &cqe, 30000), 0);
	res = cqe->res;
	ringd_cqe_seen(rd, cqe);
	return res;
}

/*
 * The device under a volume shrinks below it (the loop device's backing
 * file truncated, its capacity set again; a removed disk does the same
 * with a capacity of 0): what lies past the new end fails -EIO, not the
 * kernel's -ENOSPC for a write or its empty read, the log names the
 * volume, and what is still there and the other volume are served.
 */
Test(nvme_host, loop_shrunk_under_a_volume_fails_with_eio, .init = loop_setup,
     .fini = loop_teardown)
{
	char conf[1024], cmd[PATH_MAX + 64];
	struct ringd_sqe *sqe;
	struct ringd *rd;
	uint8_t *buf;
	int h, hf, ret;

	conf_for(conf, sizeof(conf), "poll = off\npassthrough = off\n", "");
	rt_daemon_start(&g_d, conf);
	ret = rt_connect(&g_d, 8, 16, 1u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	h = ringd_open(rd, "blk", RINGD_RDWR, NULL);
	hf = ringd_open(rd, "file", RINGD_RDWR, NULL);
	cr_assert(h >= 0 && hf >= 0);
	buf = ringd_buf_alloc(rd, 4096, 4096);
	cr_assert_not_null(buf);
	memset(buf, 0x5a, 4096);
	sqe = ringd_get_sqe(rd);
	ringd_prep_write(sqe, h, buf, 4096, 60u << 20);
	cr_assert_eq(run_one(rd), 4096);
	cr_assert_eq(truncate(g_img, 1 << 20), 0);
	snprintf(cmd, sizeof(cmd), "losetup -c '%s'", g_loop);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
	sqe = ringd_get_sqe(rd);
	ringd_prep_write(sqe, h, buf, 4096, 60u << 20);
	ret = run_one(rd);
	cr_assert_eq(ret, -EIO, "write past the new end: %d (%s)", ret, strerror(-ret));
	sqe = ringd_get_sqe(rd);
	ringd_prep_read(sqe, h, buf, 4096, 60u << 20);
	ret = run_one(rd);
	cr_assert_eq(ret, -EIO, "read past the new end: %d", ret);
	cr_assert(rp_log_has(&g_d, "volume blk: "), "the log does not name the volume");
	sqe = ringd_get_sqe(rd);
	ringd_prep_write(sqe, h, buf, 4096, 0);
	cr_assert_eq(run_one(rd), 4096, "what is left of the device is still served");
	sqe = ringd_get_sqe(rd);
	ringd_prep_write(sqe, hf, buf, 4096, 0);
	cr_assert_eq(run_one(rd), 4096, "the other volume is still served");
	ringd_disconnect(rd);
	stop();
}
