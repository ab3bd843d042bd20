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
	cr_expect(strstr(err, "nvme: 'justaserial' is not SERIAL:NSID"), "%s", err);
}

Test(nvme_config, path_and_nvme_are_exclusive)
{
	struct cfg c;
	char err[512] = "";

	cr_assert_neq(
	    load("[volume v]\npath = /dev/null\nnvme = S:1\n" TENANT, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "give one of path, nvme and dir"), "%s", err);
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
