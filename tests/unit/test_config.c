/* SPDX-License-Identifier: MIT */
/* cfg_load on real temporary files: every key, and errors naming file:line and key. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char g_path[64];
static struct cfg g_cfg;
static char g_err[PATH_MAX + 512];

static void cleanup(void)
{
	cfg_free(&g_cfg);
	if (g_path[0])
		unlink(g_path);
	g_path[0] = '\0';
}

/* Write @body to a fresh temporary file and cfg_load it. */
static int load(const char *body)
{
	size_t n = strlen(body);
	int fd;

	snprintf(g_path, sizeof(g_path), "/tmp/ringd-cfg-test.XXXXXX");
	fd = mkstemp(g_path);
	cr_assert_geq(fd, 0, "mkstemp");
	cr_assert_eq(write(fd, body, n), (ssize_t)n);
	close(fd);
	g_err[0] = '\0';
	return cfg_load(g_path, &g_cfg, g_err, sizeof(g_err));
}

/* The load failed, and its message names "file:line" and @what. */
static void assert_error(int ret, unsigned int line, const char *what)
{
	char loc[128];

	cr_assert_lt(ret, 0, "expected an error");
	snprintf(loc, sizeof(loc), "%s:%u:", g_path, line);
	cr_assert(strstr(g_err, loc), "message '%s' does not name %s", g_err, loc);
	cr_assert(strstr(g_err, what), "message '%s' does not name '%s'", g_err, what);
}

/* The example of issue 2 item 5, with the "logs" volume it grants defined. */
static const char full_example[] =
    "[daemon]\n"
    "socket = /run/ringd/ringd.sock\n"
    "state_dir = /var/lib/ringd\n"
    "log_level = info\n"
    "\n"
    "[volume db1]\n"
    "path = /var/lib/ringd/db1.img   ; regular file or block device\n"
    "create_size = 1G                ; create a sparse file\n"
    "offset = 0                      ; extent inside the backing\n"
    "size = 512M                     ; default: rest of the backing\n"
    "direct = yes                    ; O_DIRECT\n"
    "readonly = no\n"
    "\n"
    "[volume logs]\n"
    "path = logs.img\n"
    "\n"
    "[tenant alice]\n"
    "uid = 1000                      ; and/or gid = ...\n"
    "volumes = db1:rw, logs:ro\n"
    "max_sessions = 8\n"
    "max_session_memory = 64M        ; ring + data area per session\n";

Test(config, size_suffixes)
{
	uint64_t v;

	cr_assert_eq(cfg_parse_size("64M", &v), 0);
	cr_assert_eq(v, 64ull << 20);
	cr_assert_eq(cfg_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(cfg_parse_size("4k", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(cfg_parse_size("1GiB", &v), 0);
	cr_assert_eq(v, 1ull << 30);
	cr_assert_eq(cfg_parse_size("2TB", &v), 0);
	cr_assert_eq(v, 2ull << 40);
	cr_assert_eq(cfg_parse_size("", &v), -EINVAL);
	cr_assert_eq(cfg_parse_size("-1", &v), -EINVAL);
	cr_assert_eq(cfg_parse_size("12Q", &v), -EINVAL);
	cr_assert_eq(cfg_parse_size("1Mx", &v), -EINVAL);
	cr_assert_eq(cfg_parse_size("99999999999999999999", &v), -ERANGE);
	cr_assert_eq(cfg_parse_size("99999999999T", &v), -ERANGE);
}

Test(config, durations_and_uints)
{
	unsigned int ms;
	uint64_t v;

	cr_assert_eq(cfg_parse_duration_ms("30", &ms), 0);
	cr_assert_eq(ms, 30000);
	cr_assert_eq(cfg_parse_duration_ms("500ms", &ms), 0);
	cr_assert_eq(ms, 500);
	cr_assert_eq(cfg_parse_duration_ms("2m", &ms), 0);
	cr_assert_eq(ms, 120000);
	cr_assert_eq(cfg_parse_duration_ms("2h", &ms), -EINVAL);
	cr_assert_eq(cfg_parse_duration_ms("99999999999", &ms), -ERANGE);
	cr_assert_eq(cfg_parse_uint("42", 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(cfg_parse_uint("101", 100, &v), -ERANGE);
	cr_assert_eq(cfg_parse_uint("4x", 100, &v), -EINVAL);
	cr_assert_eq(cfg_parse_uint(" 4", 100, &v), -EINVAL);
}

Test(config, full_example_loads, .fini = cleanup)
{
	const struct cfg_volume *v;
	const struct cfg_tenant *t;
	int ret = load(full_example);

	cr_assert_eq(ret, 0, "%s", g_err);
	cr_assert_str_eq(g_cfg.socket_path, "/run/ringd/ringd.sock");
	cr_assert_str_eq(g_cfg.state_dir, "/var/lib/ringd");
	cr_assert_eq(g_cfg.log_level, LOG_INFO);
	cr_assert_eq(g_cfg.nvols, 2);
	v = &g_cfg.vols[0];
	cr_assert_str_eq(v->name, "db1");
	cr_assert_str_eq(v->path, "/var/lib/ringd/db1.img");
	cr_assert_eq(v->create_size, 1ull << 30);
	cr_assert_eq(v->offset, 0);
	cr_assert_eq(v->size, 512ull << 20);
	cr_assert(v->direct);
	cr_assert_not(v->readonly);
	v = &g_cfg.vols[1];
	cr_assert_str_eq(v->name, "logs");
	cr_assert_str_eq(v->path, "logs.img");
	cr_assert_eq(v->create_size, 0);
	cr_assert_eq(v->size, 0, "default: rest of the backing");
	cr_assert_not(v->direct);
	cr_assert_eq(g_cfg.ntenants, 1);
	t = &g_cfg.tenants[0];
	cr_assert_str_eq(t->name, "alice");
	cr_assert_eq(t->nuids, 1);
	cr_assert_eq(t->uids[0], 1000);
	cr_assert_eq(t->ngids, 0);
	cr_assert_eq(t->ngrants, 2);
	cr_assert_eq(t->grants[0].vol, 0);
	cr_assert(t->grants[0].rw);
	cr_assert_eq(t->grants[1].vol, 1);
	cr_assert_not(t->grants[1].rw);
	cr_assert_eq(t->max_sessions, 8);
	cr_assert_eq(t->max_session_memory, 64ull << 20);
	cr_assert_eq(cfg_volume_find(&g_cfg, "logs"), 1);
	cr_assert_eq(cfg_volume_find(&g_cfg, "nope"), -1);
}

Test(config, defaults, .fini = cleanup)
{
	int ret = load("[volume v]\npath = /tmp/v.img\n");

	cr_assert_eq(ret, 0, "%s", g_err);
	cr_assert_str_eq(g_cfg.socket_path, "/run/ringd/ringd.sock");
	cr_assert_str_eq(g_cfg.state_dir, "/var/lib/ringd");
	cr_assert_eq(g_cfg.socket_mode, 0666);
	cr_assert_eq(g_cfg.ntenants, 0);
	cr_assert_eq(g_cfg.nvols, 1);
	cr_assert_not(g_cfg.vols[0].direct);
	cr_assert_not(g_cfg.vols[0].readonly);
}

Test(config, every_key_type, .fini = cleanup)
{
	const struct cfg_tenant *t;
	int ret = load("[daemon]\n"
		       "socket = /tmp/x.sock\n"
		       "state_dir = /tmp/state\n"
		       "log_level = debug\n"
		       "socket_mode = 0660\n"
		       "socket_group = 4242\n"
		       "max_io_size = 256K\n"
		       "stall_timeout = 500ms\n"
		       "max_sessions = 77\n"
		       "\n"
		       "[volume a]\n"
		       "path = a.img\n"
		       "create_size = 8M\n"
		       "offset = 1M\n"
		       "size = 4M\n"
		       "direct = true\n"
		       "readonly = on\n"
		       "\n"
		       "[volume b]\n"
		       "path = /dev/loop7\n"
		       "direct = 0\n"
		       "readonly = off\n"
		       "\n"
		       "[tenant t]\n"
		       "uid = 10, 11\n"
		       "gid = 20\n"
		       "user = root\n"
		       "group = root\n"
		       "volumes = a, b:rw\n"
		       "max_sessions = 3\n"
		       "max_session_memory = 128K\n"
		       "max_inflight = 9\n"
		       "max_open_volumes = 2\n");

	cr_assert_eq(ret, 0, "%s", g_err);
	cr_assert_str_eq(g_cfg.socket_path, "/tmp/x.sock");
	cr_assert_str_eq(g_cfg.state_dir, "/tmp/state");
	cr_assert_eq(g_cfg.log_level, LOG_DEBUG);
	cr_assert_eq(g_cfg.socket_mode, 0660);
	cr_assert(g_cfg.has_socket_group);
	cr_assert_eq(g_cfg.socket_group, 4242);
	cr_assert_eq(g_cfg.max_io_size, 256u << 10);
	cr_assert_eq(g_cfg.stall_timeout_ms, 500);
	cr_assert_eq(g_cfg.max_sessions, 77);
	cr_assert_eq(g_cfg.vols[0].create_size, 8u << 20);
	cr_assert_eq(g_cfg.vols[0].offset, 1u << 20);
	cr_assert_eq(g_cfg.vols[0].size, 4u << 20);
	cr_assert(g_cfg.vols[0].direct);
	cr_assert(g_cfg.vols[0].readonly);
	cr_assert_str_eq(g_cfg.vols[1].path, "/dev/loop7");
	cr_assert_not(g_cfg.vols[1].direct);
	cr_assert_not(g_cfg.vols[1].readonly);
	t = &g_cfg.tenants[0];
	cr_assert_eq(t->nuids, 3);
	cr_assert_eq(t->uids[0], 10);
	cr_assert_eq(t->uids[1], 11);
	cr_assert_eq(t->uids[2], 0, "user = root");
	cr_assert_eq(t->ngids, 2);
	cr_assert_eq(t->gids[0], 20);
	cr_assert_eq(t->gids[1], 0, "group = root");
	cr_assert_eq(t->ngrants, 2);
	cr_assert_not(t->grants[0].rw, "no mode means ro");
	cr_assert(t->grants[1].rw);
	cr_assert_eq(t->max_sessions, 3);
	cr_assert_eq(t->max_session_memory, 128u << 10);
	cr_assert_eq(t->max_inflight, 9);
	cr_assert_eq(t->max_open_volumes, 2);
}

Test(config, missing_file_is_an_error)
{
	struct cfg c;
	char err[256];

	cr_assert_eq(cfg_load("/nonexistent/ringd.conf", &c, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/ringd.conf"), "%s", err);
}

Test(config, unknown_key, .fini = cleanup)
{
	assert_error(load("[daemon]\nlog_level = info\nsocket_moed = 0600\n"), 3, "socket_moed");
	cleanup();
	assert_error(load("[volume v]\npath = x\ncolour = red\n"), 3, "colour");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nvolume = v\n"), 3, "volume");
}

Test(config, unknown_section, .fini = cleanup)
{
	assert_error(load("[daemon]\nlog_level = info\n\n[volumes x]\npath = y\n"), 4, "volumes x");
	cleanup();
	assert_error(load("[volume v]\npath = x\n[demon]\nsocket = /x\n"), 3, "demon");
}

Test(config, key_outside_section, .fini = cleanup)
{
	assert_error(load("socket = /x\n"), 1, "socket");
}

Test(config, syntax_error, .fini = cleanup)
{
	assert_error(load("[daemon]\nlog_level = info\nthis is not ini\n"), 3, "syntax");
}

Test(config, bad_size, .fini = cleanup)
{
	assert_error(load("[volume v]\npath = x\ncreate_size = 12 parsecs\n"), 3, "create_size");
	cleanup();
	assert_error(load("[volume v]\npath = x\nsize = -1\n"), 3, "size");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nmax_session_memory = lots\n"), 3,
		     "max_session_memory");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nmax_session_memory = 2G\n"), 3,
		     "max_session_memory");
	cleanup();
	assert_error(load("[daemon]\nmax_io_size = 1K\n"), 2, "max_io_size");
}

Test(config, bad_bool, .fini = cleanup)
{
	assert_error(load("[volume v]\npath = x\ndirect = maybe\n"), 3, "direct");
	cleanup();
	assert_error(load("[volume v]\npath = x\nreadonly = 2\n"), 3, "readonly");
}

Test(config, bad_numbers_and_enums, .fini = cleanup)
{
	assert_error(load("[daemon]\nlog_level = chatty\n"), 2, "log_level");
	cleanup();
	assert_error(load("[daemon]\nsocket_mode = 0999\n"), 2, "socket_mode");
	cleanup();
	assert_error(load("[daemon]\nstall_timeout = soon\n"), 2, "stall_timeout");
	cleanup();
	assert_error(load("[daemon]\nsocket = relative.sock\n"), 2, "socket");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nmax_sessions = 0\n"), 3, "max_sessions");
	cleanup();
	assert_error(load("[tenant t]\nuid = alice\n"), 2, "uid");
	cleanup();
	assert_error(load("[tenant t]\nuser = no-such-user-ringd-test\n"), 2, "user");
}

Test(config, unknown_volume_in_volumes, .fini = cleanup)
{
	assert_error(
	    load("[volume a]\npath = x\n\n[tenant t]\nuid = 1\nvolumes = a:rw, ghost:ro\n"), 6,
	    "volumes");
	cr_assert(strstr(g_err, "ghost"), "%s", g_err);
}

Test(config, bad_access_mode_in_volumes, .fini = cleanup)
{
	assert_error(load("[volume a]\npath = x\n[tenant t]\nuid = 1\nvolumes = a:wx\n"), 5,
		     "volumes");
}

Test(config, volume_granted_twice, .fini = cleanup)
{
	assert_error(load("[volume a]\npath = x\n[tenant t]\nuid = 1\nvolumes = a:ro, a:rw\n"), 5,
		     "volumes");
}

Test(config, duplicate_volume, .fini = cleanup)
{
	assert_error(load("[volume a]\npath = x\n\n[tenant t]\nuid = 1\n\n[volume a]\npath = y\n"),
		     7, "volume a");
	cr_assert(strstr(g_err, "twice"), "%s", g_err);
}

Test(config, duplicate_volume_adjacent, .fini = cleanup)
{
	assert_error(load("[volume a]\npath = x\n[volume a]\npath = y\n"), 3, "volume a");
	cr_assert(strstr(g_err, "twice"), "%s", g_err);
}

Test(config, duplicate_tenant, .fini = cleanup)
{
	assert_error(load("[tenant t]\nuid = 1\n[volume a]\npath = x\n[tenant t]\nuid = 2\n"), 5,
		     "tenant t");
}

Test(config, missing_path, .fini = cleanup)
{
	assert_error(load("[daemon]\nlog_level = info\n\n[volume v]\ncreate_size = 1M\n"), 4,
		     "path");
	cr_assert(strstr(g_err, "volume v"), "%s", g_err);
}

Test(config, tenant_without_uid_or_gid, .fini = cleanup)
{
	assert_error(load("[volume a]\npath = x\n\n[tenant nobody]\nvolumes = a\n"), 4, "uid");
	cr_assert(strstr(g_err, "tenant nobody"), "%s", g_err);
}

Test(config, extent_beyond_create_size, .fini = cleanup)
{
	assert_error(load("[volume a]\npath = x\ncreate_size = 1M\noffset = 512K\nsize = 1M\n"), 1,
		     "size");
}

Test(config, bad_names, .fini = cleanup)
{
	assert_error(load("[volume a/b]\npath = x\n"), 1, "volume a/b");
	cleanup();
	assert_error(load("[tenant ]\nuid = 1\n"), 1, "tenant");
}

Test(config, empty_unknown_section, .fini = cleanup)
{
	assert_error(load("[daemon]\nlog_level = info\n[bogus]\n\n[volume v]\npath = x\n"), 3,
		     "bogus");
	cleanup();
	assert_error(load("[volume v]\npath = x\n[bogus]\n"), 3, "bogus");
}

Test(config, empty_volume_section, .fini = cleanup)
{
	assert_error(load("[volume v]\npath = x\n\n[volume w]\n; nothing\n"), 4, "path");
	cr_assert(strstr(g_err, "volume w"), "%s", g_err);
}

Test(config, empty_tenant_section, .fini = cleanup)
{
	assert_error(load("[tenant t]\n[volume v]\npath = x\n"), 1, "uid");
	cr_assert(strstr(g_err, "tenant t"), "%s", g_err);
}

Test(config, empty_daemon_section_is_fine, .fini = cleanup)
{
	cr_assert_eq(load("[daemon]\n\n[volume v]\npath = x\n[daemon]\n"), 0, "%s", g_err);
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

Test(config, qos_keys_load_with_defaults, .fini = cleanup)
{
	const struct cfg_qos *q;

	cr_assert_eq(load("[daemon]\nqos_cost_unit = 8K\nqos_flush_cost = 4\n"
			  "[tenant a]\nuid = 1\nqos_weight = 300\nqos_reserve_iops = 5000\n"
			  "qos_limit_iops = 20000\nqos_limit_read_iops = 15000\n"
			  "qos_limit_write_iops = 10000\nqos_limit_bw = 200M\n"
			  "qos_limit_read_bw = 100M\nqos_limit_write_bw = 50M\nqos_burst = 250ms\n"
			  "[tenant b]\nuid = 2\n"),
		     0, "%s", g_err);
	cr_assert_eq(g_cfg.qos_cost_unit, 8192);
	cr_assert_eq(g_cfg.qos_flush_cost, 4);
	q = &g_cfg.tenants[0].qos;
	cr_assert_eq(q->weight, 300);
	cr_assert_eq(q->reserve_iops, 5000);
	cr_assert_eq(q->limit_iops, 20000);
	cr_assert_eq(q->limit_read_iops, 15000);
	cr_assert_eq(q->limit_write_iops, 10000);
	cr_assert_eq(q->limit_bw, 200ull << 20);
	cr_assert_eq(q->limit_read_bw, 100ull << 20);
	cr_assert_eq(q->limit_write_bw, 50ull << 20);
	cr_assert_eq(q->burst_ms, 250);
	/* Defaults: weight 100, no reservation or limit, burst 1 s. */
	q = &g_cfg.tenants[1].qos;
	cr_assert_eq(q->weight, 100);
	cr_assert_eq(q->reserve_iops + q->limit_iops + q->limit_bw, 0);
	cr_assert_eq(q->burst_ms, 1000);
}

Test(config, bad_qos_values_name_file_and_line, .fini = cleanup)
{
	assert_error(load("[tenant t]\nuid = 1\nqos_weight = 0\n"), 3, "qos_weight");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nqos_weight = 10001\n"), 3, "qos_weight");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\n\nqos_limit_iops = lots\n"), 4, "qos_limit_iops");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nqos_limit_bw = 12Q\n"), 3, "qos_limit_bw");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nqos_burst = forever\n"), 3, "qos_burst");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nqos_reserve_iops = -5\n"), 3, "qos_reserve_iops");
	cleanup();
	assert_error(load("[tenant t]\nuid = 1\nqos_limits = 5\n"), 3, "qos_limits");
	cleanup();
	assert_error(load("[daemon]\nqos_cost_unit = 100\n"), 2, "qos_cost_unit");
	cleanup();
	assert_error(load("[daemon]\nqos_flush_cost = x\n"), 2, "qos_flush_cost");
}

/* Every error of a file in one load, each on its own line with its own
 * file:line, in file order, and the keys after an error still parsed. */
Test(config, every_error_is_reported_in_one_load, .fini = cleanup)
{
	static const char body[] = "[daemon]\n"			   /* 1 */
				   "max_io_size = lots\n"	   /* 2 */
				   "frobnicate = 1\n"		   /* 3 */
				   "\n"				   /* 4 */
				   "[volume a]\n"		   /* 5 */
				   "direct = perhaps\n"		   /* 6 */
				   "path = a.img\n"		   /* 7 */
				   "junk without an equals sign\n" /* 8 */
				   "[volme typo]\n"		   /* 9 */
				   "path = ignored\n"		   /* 10 */
				   "[tenant t]\n"		   /* 11 */
				   "uid = 1000\n"		   /* 12 */
				   "volumes = a:rx, ghost:rw\n";   /* 13 */
	const char *want[][2] = {
		{ "2", "max_io_size" },	 { "3", "frobnicate" }, { "6", "direct" },
		{ "8", "syntax error" }, { "9", "volme typo" }, { "13", "a:rx" },
		{ "13", "ghost" },
	};
	char loc[160], *line, *save = NULL;
	unsigned int i = 0;
	int ret = load(body);

	cr_assert_eq(ret, -EINVAL, "%s", g_err);
	for (line = strtok_r(g_err, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		cr_assert_lt(i, sizeof(want) / sizeof(want[0]), "extra error '%s'", line);
		snprintf(loc, sizeof(loc), "%s:%s: ", g_path, want[i][0]);
		cr_expect_eq(strncmp(line, loc, strlen(loc)), 0, "error %u '%s' is not at %s", i,
			     line, loc);
		cr_expect(strstr(line, want[i][1]), "error %u '%s' does not name %s", i, line,
			  want[i][1]);
	}
	cr_assert_eq(i, sizeof(want) / sizeof(want[0]), "%u errors, want %zu", i,
		     sizeof(want) / sizeof(want[0]));
}

/* cfg_load_all() keeps what it parsed and counts errors beyond the buffer. */
Test(config, load_all_counts_errors_that_do_not_fit, .fini = cleanup)
{
	char err[64];
	unsigned int nerr = 0;
	struct cfg c;
	int fd, ret;

	snprintf(g_path, sizeof(g_path), "/tmp/ringd-cfg-test.XXXXXX");
	fd = mkstemp(g_path);
	cr_assert_geq(fd, 0);
	dprintf(fd, "[daemon]\na = 1\nb = 2\nc = 3\n[volume v]\npath = v.img\n");
	close(fd);
	ret = cfg_load_all(g_path, &c, err, sizeof(err), &nerr);
	cr_assert_eq(ret, -EINVAL);
	cr_assert_eq(nerr, 3, "%u errors", nerr);
	cr_assert_lt(strlen(err), sizeof(err));
	cr_assert_eq(c.nvols, 1, "the volume after the errors was not kept");
	cr_assert_str_eq(c.vols[0].path, "v.img");
	cfg_free(&c);
}

Test(config, max_entries_is_a_directory_volumes_with_a_default, .fini = cleanup)
{
	cr_assert_eq(load("[volume d]\ndir = d\nsize = 1M\n\n[volume e]\ndir = e\nsize = 1M\n"
			  "max_entries = 12\n"),
		     0, "%s", g_err);
	cr_assert_eq(g_cfg.vols[0].max_entries, 10000u);
	cr_assert_eq(g_cfg.vols[1].max_entries, 12u);
	cleanup();
	assert_error(load("[volume a]\npath = x\nmax_entries = 5\n"), 1, "max_entries");
	cr_assert(strstr(g_err, "directory volume"), "%s", g_err);
	cleanup();
	assert_error(load("[volume d]\ndir = d\nsize = 1M\nmax_entries = 0\n"), 4, "max_entries");
}
