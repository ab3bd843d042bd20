/* SPDX-License-Identifier: MIT */
/* poll / passthrough / nvme / sqpoll keys, and the NVMe status mapping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kring.h"

/* Write @body to a temporary file and cfg_load() it. */
static int load(const char *body, struct cfg *c, char *err, size_t errlen)
{
	char path[] = "/tmp/ringd-cfg.XXXXXX";
	int fd = mkstemp(path), ret;
	FILE *f;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fputs(body, f);
	fclose(f);
	ret = cfg_load(path, c, err, errlen);
	unlink(path);
	return ret;
}

#define TENANT "[tenant t]\nuid = 1000\nvolumes = v:rw\n"

Test(nvme_config, modes_and_sqpoll_parse)
{
	struct cfg c;
	char err[512] = "";
	int ret;

	ret = load("[daemon]\nsqpoll = on\nsqpoll_cpu = 1\nsqpoll_idle_ms = 20ms\n"
		   "[volume v]\nnvme = S123:2\npoll = on\npassthrough = auto\n" TENANT,
		   &c, err, sizeof(err));
	cr_assert_eq(ret, 0, "%s", err);
	cr_expect(c.sqpoll);
	cr_expect_eq(c.sqpoll_cpu, 1);
	cr_expect_eq(c.sqpoll_idle_ms, 20u);
	cr_expect_eq(c.vols[0].poll, CFG_ON);
	cr_expect_eq(c.vols[0].passthrough, CFG_AUTO);
	cr_expect_str_eq(c.vols[0].nvme, "S123:2");
	cfg_free(&c);
}

Test(nvme_config, defaults_are_auto_and_no_sqpoll)
{
	struct cfg c;
	char err[512] = "";

	cr_assert_eq(load("[volume v]\npath = /dev/null\n" TENANT, &c, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect(!c.sqpoll);
	cr_expect_eq(c.sqpoll_cpu, -1);
	cr_expect_eq(c.vols[0].poll, CFG_AUTO);
	cr_expect_eq(c.vols[0].passthrough, CFG_AUTO);
	cfg_free(&c);
}

Test(nvme_config, bad_mode_names_file_line_and_key)
{
	struct cfg c;
	char err[512] = "";

	cr_assert_neq(
	    load("[volume v]\npath = /dev/null\npoll = sometimes\n" TENANT, &c, err, sizeof(err)),
	    0);
	cr_expect(strstr(err, ":3: [volume v] poll: 'sometimes' is not auto, on or off"), "%s",
		  err);
}

Test(nvme_config, nvme_spec_must_be_serial_colon_nsid)
{
	struct cfg c;
	char err[512] = "";

	cr_assert_neq(load("[volume v]\nnvme = justaserial\n" TENANT, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "nvme: 'justaserial' is not SERIAL:NSID or NQN:NSID"), "%s", err);
}

Test(nvme_config, path_and_nvme_are_exclusive)
{
	struct cfg c;
	char err[512] = "";

	cr_assert_neq(
	    load("[volume v]\npath = /dev/null\nnvme = S:1\n" TENANT, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "give one of path, nvme and dir"), "%s", err);
}

/* A [fabric] section and a volume on its subsystem by NQN:NSID. */
Test(nvme_config, fabric_section_and_nqn_volume_parse)
{
	struct cfg c;
	char err[1024] = "";
	int ret;

	ret = load(
	    "[fabric store1]\ntransport = tcp\ntraddr = 10.0.0.2\n"
	    "nqn = nqn.2026-01.org.example:store1\nhostnqn = nqn.2026-01.org.example:host\n"
	    "nr_poll_queues = 2\nctrl_loss_tmo = 2m\nfast_io_fail_tmo = 5s\n"
	    "reconnect_delay = 1\n"
	    "[volume v]\nnvme = nqn.2026-01.org.example:store1:1\non_path_loss = fail\n" TENANT,
	    &c, err, sizeof(err));
	cr_assert_eq(ret, 0, "%s", err);
	cr_assert_eq(c.nfabrics, 1u);
	cr_expect_str_eq(c.fabrics[0].name, "store1");
	cr_expect_str_eq(c.fabrics[0].t.transport, "tcp");
	cr_expect_str_eq(c.fabrics[0].t.traddr, "10.0.0.2");
	cr_expect_str_eq(c.fabrics[0].t.trsvcid, "4420", "the NVMe/TCP port by default");
	cr_expect_str_eq(c.fabrics[0].t.nqn, "nqn.2026-01.org.example:store1");
	cr_expect_str_eq(c.fabrics[0].t.hostnqn, "nqn.2026-01.org.example:host");
	cr_expect_eq(c.fabrics[0].t.nr_poll_queues, 2);
	cr_expect_eq(c.fabrics[0].t.ctrl_loss_tmo, 120);
	cr_expect_eq(c.fabrics[0].t.fast_io_fail_tmo, 5);
	cr_expect_eq(c.fabrics[0].t.reconnect_delay, 1);
	cr_expect_str_eq(c.vols[0].nvme, "nqn.2026-01.org.example:store1:1");
	cr_expect_eq(c.vols[0].on_path_loss, CFG_PATH_LOSS_FAIL);
	cfg_free(&c);
}

/* Unset times are left to the kernel; on_path_loss waits by default. */
Test(nvme_config, fabric_defaults)
{
	struct cfg c;
	char err[1024] = "";

	cr_assert_eq(load("[fabric f]\ntraddr = 127.0.0.1\nnqn = nqn.2026-01.x:y\n"
			  "ctrl_loss_tmo = forever\n[volume v]\nnvme = nqn.2026-01.x:y:3\n" TENANT,
			  &c, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(c.fabrics[0].t.ctrl_loss_tmo, KF_FOREVER);
	cr_expect_eq(c.fabrics[0].t.fast_io_fail_tmo, -1);
	cr_expect_eq(c.fabrics[0].t.reconnect_delay, -1);
	cr_expect_eq(c.fabrics[0].t.nr_poll_queues, 0);
	cr_expect_eq(c.vols[0].on_path_loss, CFG_PATH_LOSS_WAIT);
	cfg_free(&c);
}

/* Every mistake of a [fabric] section, each named by file:line and key. */
Test(nvme_config, fabric_errors_name_section_and_key)
{
	struct cfg c;
	char err[4096] = "";

	cr_assert_eq(
	    load("[fabric a]\ntransport = fc\nnqn = store1\nnr_poll_queues = x\n"
		 "fast_io_fail_tmo = 500ms\nbogus = 1\n"
		 "[fabric b]\nnqn = nqn.2026-01.x:y\nctrl_loss_tmo = 5\nfast_io_fail_tmo = 10\n"
		 "[fabric c]\ntraddr = h\nnqn = nqn.2026-01.x:y\n"
		 "[fabric d]\ntraddr = h\nnqn = nqn.2026-01.x:y\n"
		 "[volume v]\npath = /dev/null\non_path_loss = later\n" TENANT,
		 &c, err, sizeof(err)),
	    -EINVAL);
	cr_expect(strstr(err, ":2: [fabric a] transport: 'fc' is not tcp or rdma"), "%s", err);
	cr_expect(strstr(err, ":3: [fabric a] nqn: 'store1' is not an NQN"), "%s", err);
	cr_expect(strstr(err, ":4: [fabric a] nr_poll_queues:"), "%s", err);
	cr_expect(strstr(err, ":5: [fabric a] fast_io_fail_tmo: '500ms' is not whole seconds"),
		  "%s", err);
	cr_expect(strstr(err, ":6: [fabric a] bogus: unknown key"), "%s", err);
	cr_expect(strstr(err, ":1: [fabric a] traddr: missing"), "%s", err);
	cr_expect(strstr(err, ":7: [fabric b] traddr: missing"), "%s", err);
	cr_expect(strstr(err, ":7: [fabric b] fast_io_fail_tmo: 10s is beyond ctrl_loss_tmo (5s)"),
		  "%s", err);
	cr_expect(strstr(err, ":14: [fabric d] nqn: the same controller as [fabric c]"), "%s", err);
	cr_expect(strstr(err, "[volume v] on_path_loss: 'later' is not wait or fail"), "%s", err);
}

Test(nvme_status, maps_to_errno)
{
	cr_expect_eq(kr_nvme_status_errno(0), 0);
	cr_expect_eq(kr_nvme_status_errno(-EINTR), -EINTR);
	cr_expect_eq(kr_nvme_status_errno(0x0001), -EOPNOTSUPP);
	cr_expect_eq(kr_nvme_status_errno(0x0002), -EINVAL);
	cr_expect_eq(kr_nvme_status_errno(0x4002), -EINVAL, "DNR bit ignored");
	cr_expect_eq(kr_nvme_status_errno(0x000b), -ENODEV);
	cr_expect_eq(kr_nvme_status_errno(0x0007), -ECANCELED);
	cr_expect_eq(kr_nvme_status_errno(0x0080), -ERANGE);
	cr_expect_eq(kr_nvme_status_errno(0x0081), -ENOSPC);
	cr_expect_eq(kr_nvme_status_errno(0x0082), -EAGAIN);
	cr_expect_eq(kr_nvme_status_errno(0x0182), -EROFS);
	cr_expect_eq(kr_nvme_status_errno(0x0286), -EACCES);
	cr_expect_eq(kr_nvme_status_errno(0x0281), -EIO);
	cr_expect_eq(kr_nvme_status_errno(0x0300), -EIO,
		     "a lost path is -EIO, as on the block path");
	cr_expect_eq(kr_nvme_status_errno(0x0006), -EIO);
}

Test(nvme_config, directory_volume_needs_size_and_no_extent_keys)
{
	struct cfg c;
	char err[1024] = "";

	cr_assert_neq(load("[volume v]\ndir = d\n" TENANT, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "a directory volume needs size"), "%s", err);
	err[0] = '\0';
	cr_assert_neq(
	    load("[volume v]\ndir = d\nsize = 1G\noffset = 4K\n" TENANT, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "do not apply to a directory volume"), "%s", err);
	err[0] = '\0';
	cr_assert_neq(
	    load("[volume v]\ndir = d\npath = x\nsize = 1G\n" TENANT, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "give one of path, nvme and dir"), "%s", err);
	cr_assert_eq(load("[volume v]\ndir = d\nsize = 1G\n" TENANT, &c, err, sizeof(err)), 0, "%s",
		     err);
	cfg_free(&c);
}
