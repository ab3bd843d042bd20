/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

Test(config, size_suffixes)
{
	uint64_t v;

	cr_assert_eq(cfg_parse_size("64M", &v), 0);
	cr_assert_eq(v, 64ull << 20);
}

/* Write @body to a temporary file and load it. Returns cfg_load()'s result. */
static int load_str(const char *body, struct cfg *c, char *err, size_t errlen)
{
	char path[] = "/tmp/ringd-cfg-XXXXXX";
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

Test(config, poll_idle_us_default_set_and_bounded)
{
	struct cfg c;
	char err[512];
	int ret;

	ret = load_str("[daemon]\nsocket = /tmp/x.sock\n", &c, err, sizeof(err));
	cr_assert_eq(ret, 0, "%s", err);
	cr_assert_eq(c.poll_idle_us, 50, "default poll_idle_us: %u", c.poll_idle_us);
	cfg_free(&c);

	ret = load_str("[daemon]\npoll_idle_us = 0\n", &c, err, sizeof(err));
	cr_assert_eq(ret, 0, "%s", err);
	cr_assert_eq(c.poll_idle_us, 0, "poll_idle_us = 0 (never poll): %u", c.poll_idle_us);
	cfg_free(&c);

	ret = load_str("[daemon]\n\npoll_idle_us = 2000000\n", &c, err, sizeof(err));
	cr_assert_lt(ret, 0, "poll_idle_us above 1 s accepted");
	cr_assert(strstr(err, ":3:") && strstr(err, "poll_idle_us"),
		  "error names file:line and key: %s", err);
}
