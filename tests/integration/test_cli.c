/* SPDX-License-Identifier: MIT */
/*
 * The command lines: `ringd --check-config`, `ringd -c` on a bad config,
 * `ringd-io` as a non-root tenant, the client-lib example, and a C++
 * client of <ringd.h> (tests/cplusplus/).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "it.h"

static struct rt_daemon g_d;

static const char conf[] = "[volume demo]\n"
			   "path = demo.img\n"
			   "create_size = 16M\n"
			   "\n"
			   "[volume direct]\n"
			   "path = direct.img\n"
			   "create_size = 16M\n"
			   "direct = yes\n"
			   "\n"
			   "[tenant a]\n"
			   "uid = 61001\n"
			   "volumes = demo:rw, direct:rw\n";

static void setup(void)
{
	rt_daemon_start(&g_d, conf);
}

static void teardown(void)
{
	it_stop(&g_d);
}

/* A scratch directory for the tests that start no daemon. */
static char g_tmp[64];

static void tmp_setup(void)
{
	snprintf(g_tmp, sizeof(g_tmp), "/var/tmp/ringd-cli.XXXXXX");
	cr_assert_not_null(mkdtemp(g_tmp));
	cr_assert_eq(chmod(g_tmp, 0755), 0);
}

static void tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	cr_assert_eq(system(cmd), 0);
}

/* When set, run() tells the child its stderr is the journal (JOURNAL_STREAM). */
static bool g_journal;

/*
 * Run @argv as @uid (0: as we are) with stdin from @in (NULL: /dev/null),
 * stdout and stderr to files @out and @err, and RINGD_SOCKET=@sock if not
 * NULL. Returns the exit status, or 128 + signal.
 */
static int run(uid_t uid, const char *sock, const char *in, const char *out, const char *err,
	       const char *const argv[])
{
	const char *bin = rt_stage_bin(argv[0]);
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int i = open(in ? in : "/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(125);
		if (uid &&
		    (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(126);
		if (g_journal) {
			struct stat st;
			char js[64];

			if (fstat(2, &st))
				_exit(125);
			snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
			setenv("JOURNAL_STREAM", js, 1);
		} else {
			unsetenv("JOURNAL_STREAM");
		}
		if (sock)
			setenv("RINGD_SOCKET", sock, 1);
		else
			unsetenv("RINGD_SOCKET");
		setenv("LD_LIBRARY_PATH", rt_stage_dir(), 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return rt_wait_child(pid);
}

/* Contents of @path (at most 64K), NUL-terminated, in a static buffer. */
static const char *slurp(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "open %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	return buf;
}

static const char *path_in(const char *dir, const char *name)
{
	static char bufs[4][256];
	static unsigned int k;
	char *p = bufs[k++ % 4];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *path, const char *body)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f);
	fputs(body, f);
	cr_assert_eq(fclose(f), 0);
}

static const char bad_conf[] = "[daemon]\n"
			       "log_level = info\n"
			       "\n"
			       "[volume v]\n"
			       "path = v.img\n"
			       "direct = perhaps\n";

Test(cli, check_config_bad_names_file_line, .init = tmp_setup, .fini = tmp_teardown)
{
	const char *cf = path_in(g_tmp, "bad.conf"), *err = path_in(g_tmp, "err");
	const char *argv[] = { rt_ringd_bin(), "--check-config", cf, NULL };
	char want[300];
	const char *msg;
	int st;

	write_file(cf, bad_conf);
	st = run(0, NULL, NULL, path_in(g_tmp, "out"), err, argv);
	cr_assert_neq(st, 0, "--check-config accepted a bad config");
	cr_assert_lt(st, 128, "--check-config died: %d", st);
	msg = slurp(err);
	snprintf(want, sizeof(want), "%s:6:", cf);
	cr_assert(strstr(msg, want), "stderr '%s' does not name %s", msg, want);
	cr_assert(strstr(msg, "direct"), "stderr '%s' does not name the key", msg);
}

Test(cli, check_config_good_exits_0, .init = tmp_setup, .fini = tmp_teardown)
{
	const char *cf = path_in(g_tmp, "good.conf"), *out = path_in(g_tmp, "out");
	const char *argv[] = { rt_ringd_bin(), "--check-config", cf, NULL };
	char body[512];
	int st;

	/* v.img is missing, and the daemon would create it in its state_dir. */
	snprintf(body, sizeof(body),
		 "[daemon]\nsocket = /run/x.sock\nstate_dir = %s/state\n\n[volume v]\n"
		 "path = v.img\ncreate_size = 1M\n\n[tenant t]\nuid = 1000\nvolumes = v:rw\n",
		 g_tmp);
	write_file(cf, body);
	st = run(0, NULL, NULL, out, path_in(g_tmp, "err"), argv);
	cr_assert_eq(st, 0, "--check-config on a good config: %d (%s)", st,
		     slurp(path_in(g_tmp, "err")));
	cr_assert(strstr(slurp(out), "OK"), "%s", slurp(out));
}

/* @msg has a line starting with @prefix that contains @what. */
static void assert_line(const char *msg, const char *prefix, const char *what)
{
	const char *l;

	for (l = msg; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, prefix, strlen(prefix)) &&
		    memmem(l, strcspn(l, "\n"), what, strlen(what)))
			return;
	}
	cr_assert_fail("no line '%s...%s' in:\n%s", prefix, what, msg);
}

/*
 * One run reports every error of the file (syntax, keys, sections, grants)
 * and every backing the daemon could not open, each at file:line; it
 * creates nothing, and a file it would create needs a usable directory.
 */
Test(cli, check_config_reports_every_error_at_once, .init = tmp_setup, .fini = tmp_teardown)
{
	char cf[256], err[256], out[256], body[2048], pre[300];
	const char *argv[] = { rt_ringd_bin(), "--check-config", cf, NULL };
	const char *msg;
	int st;

	/* path_in() rotates four buffers: keep these. */
	snprintf(cf, sizeof(cf), "%s", path_in(g_tmp, "multi.conf"));
	snprintf(err, sizeof(err), "%s", path_in(g_tmp, "err"));
	snprintf(out, sizeof(out), "%s", path_in(g_tmp, "out"));

	cr_assert_eq(truncate(path_in(g_tmp, "a.img"), 0), -1); /* not there yet */
	write_file(path_in(g_tmp, "a.img"), "");
	cr_assert_eq(truncate(path_in(g_tmp, "a.img"), 1 << 20), 0);
	cr_assert_eq(mkdir(path_in(g_tmp, "adir"), 0755), 0);
	snprintf(body, sizeof(body),
		 "[daemon]\n"				 /* 1 */
		 "state_dir = %s/state\n"		 /* 2 */
		 "max_io_size = lots\n"			 /* 3 */
		 "\n"					 /* 4 */
		 "[volume a]\n"				 /* 5 */
		 "path = %s/a.img\n"			 /* 6 */
		 "direct = perhaps\n"			 /* 7 */
		 "[volume missing]\n"			 /* 8 */
		 "path = %s/nope.img\n"			 /* 9 */
		 "[volume isdir]\n"			 /* 10 */
		 "path = %s/adir\n"			 /* 11 */
		 "[volume nodir]\n"			 /* 12 */
		 "path = %s/nodir/x.img\n"		 /* 13 */
		 "create_size = 1M\n"			 /* 14 */
		 "[volume later]\n"			 /* 15 */
		 "path = later.img\n"			 /* 16 */
		 "create_size = 1M\n"			 /* 17 */
		 "junk\n"				 /* 18 */
		 "[tenant t]\n"				 /* 19 */
		 "uid = 1000\n"				 /* 20 */
		 "volumes = a:rw, ghost:ro, later:rx\n", /* 21 */
		 g_tmp, g_tmp, g_tmp, g_tmp, g_tmp);
	write_file(cf, body);
	st = run(0, NULL, NULL, out, err, argv);
	msg = slurp(err);
	cr_assert_eq(st, 1, "exit %d:\n%s", st, msg);
#define AT(line) (snprintf(pre, sizeof(pre), "ringd: error: %s:%d: ", cf, line), pre)
	assert_line(msg, AT(3), "max_io_size");
	assert_line(msg, AT(7), "direct");
	assert_line(msg, AT(18), "syntax error");
	assert_line(msg, AT(21), "ghost");
	assert_line(msg, AT(21), "later:rx");
	assert_line(msg, AT(8), "nope.img");
	assert_line(msg, AT(10), "adir");
	assert_line(msg, AT(12), "nodir");
#undef AT
	/* later.img goes in the state directory, which the daemon creates. */
	cr_assert_null(strstr(msg, "later.img"), "%s", msg);
	snprintf(pre, sizeof(pre), "ringd: %s: 8 errors\n", cf);
	cr_assert(strstr(msg, pre), "no count '%s' in:\n%s", pre, msg);
	cr_assert_neq(access(path_in(g_tmp, "state"), F_OK), 0, "it created state_dir");
	cr_assert_neq(access(path_in(g_tmp, "nope.img"), F_OK), 0, "it created a file");
	cr_assert_eq(slurp(out)[0], '\0', "%s", slurp(out));

	/* The daemon itself refuses the same file, naming every parse error. */
	argv[1] = "-c";
	st = run(0, NULL, NULL, out, err, argv);
	msg = slurp(err);
	cr_assert_eq(st, 1, "exit %d:\n%s", st, msg);
	snprintf(pre, sizeof(pre), "ringd: config error: %s:3: ", cf);
	assert_line(msg, pre, "max_io_size");
	snprintf(pre, sizeof(pre), "ringd: config error: %s:21: ", cf);
	assert_line(msg, pre, "ghost");
}

/* Overlapping extents and a uid or gid in two tenants: legal, so warnings. */
Test(cli, check_config_warns_about_overlaps_and_shared_ids, .init = tmp_setup, .fini = tmp_teardown)
{
	char cf[256], err[256], out[256], body[1024], pre[300];
	const char *argv[] = { rt_ringd_bin(), "--check-config", cf, NULL };
	const char *msg;
	int st;

	snprintf(cf, sizeof(cf), "%s", path_in(g_tmp, "w.conf"));
	snprintf(err, sizeof(err), "%s", path_in(g_tmp, "err"));
	snprintf(out, sizeof(out), "%s", path_in(g_tmp, "out"));

	write_file(path_in(g_tmp, "b.img"), "");
	cr_assert_eq(truncate(path_in(g_tmp, "b.img"), 1 << 20), 0);
	snprintf(body, sizeof(body),
		 "[daemon]\nstate_dir = %s\n"				      /* 1-2 */
		 "[volume lo]\npath = b.img\nsize = 512K\n"		      /* 3-5 */
		 "[volume hi]\npath = %s/b.img\noffset = 256K\nsize = 256K\n" /* 6-9 */
		 "[volume apart]\npath = b.img\noffset = 768K\n"	      /* 10-12 */
		 "[tenant t1]\nuid = 1000\ngid = 100\nvolumes = lo:rw\n"      /* 13-16 */
		 "[tenant t2]\nuid = 1001, 1000\nvolumes = hi:ro\n"	      /* 17-19 */
		 "[tenant t3]\ngid = 100\n",				      /* 20-21 */
		 g_tmp, g_tmp);
	write_file(cf, body);
	st = run(0, NULL, NULL, out, err, argv);
	msg = slurp(err);
	cr_assert_eq(st, 0, "warnings failed the check: exit %d:\n%s", st, msg);
	snprintf(pre, sizeof(pre), "ringd: warning: %s:6: [volume hi] ", cf);
	assert_line(msg, pre, "overlaps volume lo");
	cr_assert_null(strstr(msg, "apart"), "%s", msg);
	snprintf(pre, sizeof(pre), "ringd: warning: %s:17: [tenant t2] ", cf);
	assert_line(msg, pre, "uid 1000 is also in tenant t1");
	snprintf(pre, sizeof(pre), "ringd: warning: %s:20: [tenant t3] ", cf);
	assert_line(msg, pre, "gid 100 is also in tenant t1");
	cr_assert(strstr(slurp(out), "OK"), "%s", slurp(out));
}

/*
 * A [fabric] section: --check-config connects nothing, so a volume on a
 * fabric not connected is a warning; without nvme-fabrics it is an error
 * to name, and the daemon refuses to start naming the section.
 */
Test(cli, check_config_and_start_with_a_fabric_not_connected, .init = tmp_setup,
     .fini = tmp_teardown)
{
	char cf[256], err[256], out[256], body[1024], pre[300];
	const char *argv[] = { rt_ringd_bin(), "--check-config", cf, NULL };
	const char *dargv[] = { rt_ringd_bin(), "-c", cf, NULL };
	bool fabrics = !access("/dev/nvme-fabrics", W_OK);
	const char *msg;
	int st;

	snprintf(cf, sizeof(cf), "%s", path_in(g_tmp, "f.conf"));
	snprintf(err, sizeof(err), "%s", path_in(g_tmp, "err"));
	snprintf(out, sizeof(out), "%s", path_in(g_tmp, "out"));
	snprintf(
	    body, sizeof(body),
	    "[daemon]\nstate_dir = %s\nsocket = %s/s.sock\n"			       /* 1-3 */
	    "[fabric far]\ntraddr = 192.0.2.1\nnqn = nqn.2026-01.org.example:absent\n" /* 4-6 */
	    "[volume remote]\nnvme = nqn.2026-01.org.example:absent:1\n"	       /* 7-8 */
	    "[tenant t]\nuid = 1000\nvolumes = remote:rw\n"			       /* 9-11 */
	    "[volume local]\npath = l.img\non_path_loss = fail\n",		       /* 12-14 */
	    g_tmp, g_tmp);
	write_file(cf, body);
	write_file(path_in(g_tmp, "l.img"), "");
	cr_assert_eq(truncate(path_in(g_tmp, "l.img"), 1 << 20), 0);
	st = run(0, NULL, NULL, out, err, argv);
	msg = slurp(err);
	snprintf(pre, sizeof(pre), "ringd: warning: %s:7: [volume remote] ", cf);
	assert_line(msg, pre,
		    "nvme = nqn.2026-01.org.example:absent:1: not checked: [fabric far] is not "
		    "connected now (the daemon connects it at start)");
	snprintf(pre, sizeof(pre), "ringd: warning: %s:12: [volume local] ", cf);
	assert_line(msg, pre, "on_path_loss: has no effect:");
	if (fabrics)
		cr_skip_test("nvme-fabrics is loaded here: not connecting to 192.0.2.1 (%s)",
			     st ? "--check-config failed" : "--check-config passed");
	cr_assert_eq(st, 1, "no nvme-fabrics, yet --check-config exited %d:\n%s", st, msg);
	snprintf(pre, sizeof(pre), "ringd: error: %s:4: [fabric far] ", cf);
	assert_line(msg, pre, "cannot be connected: /dev/nvme-fabrics: No such file or directory");
	st = run(0, NULL, NULL, out, err, dargv);
	msg = slurp(err);
	cr_assert_neq(st, 0, "ringd started without its fabric");
	cr_assert_lt(st, 128, "ringd died: %d", st);
	cr_assert(
	    strstr(msg, "fabric far: connect tcp 192.0.2.1:4420 nqn.2026-01.org.example:absent"),
	    "the refusal does not name the fabric: %s", msg);
	cr_assert_neq(access(path_in(g_tmp, "s.sock"), F_OK), 0, "it created its socket");
}

Test(cli, daemon_refuses_bad_config, .init = tmp_setup, .fini = tmp_teardown)
{
	const char *cf = path_in(g_tmp, "bad.conf"), *err = path_in(g_tmp, "err");
	const char *argv[] = { rt_ringd_bin(), "-c", cf, NULL };
	char body[512], want[300];
	const char *msg;
	int st;

	snprintf(body, sizeof(body), "[daemon]\nsocket = %s/s.sock\nstate_dir = %s/state\n%s",
		 g_tmp, g_tmp, bad_conf + sizeof("[daemon]\nlog_level = info\n") - 1);
	write_file(cf, body);
	st = run(0, NULL, NULL, path_in(g_tmp, "out"), err, argv);
	cr_assert_neq(st, 0, "ringd started on a bad config");
	cr_assert_lt(st, 128, "ringd died: %d", st);
	msg = slurp(err);
	snprintf(want, sizeof(want), "%s:7:", cf);
	cr_assert(strstr(msg, want), "stderr '%s' does not name %s", msg, want);
	cr_assert_neq(access(path_in(g_tmp, "s.sock"), F_OK), 0, "it created its socket");
}

Test(cli, daemon_refuses_unusable_volume_or_state_dir, .init = tmp_setup, .fini = tmp_teardown)
{
	const char *cf = path_in(g_tmp, "c.conf"), *err = path_in(g_tmp, "err");
	const char *argv[] = { rt_ringd_bin(), "-c", cf, NULL };
	char body[512];
	int st;

	/* Valid syntax, but the backing does not exist and is not to be created. */
	snprintf(body, sizeof(body),
		 "[daemon]\nsocket = %s/s.sock\nstate_dir = %s/state\n\n"
		 "[volume v]\npath = /nonexistent/v.img\n",
		 g_tmp, g_tmp);
	write_file(cf, body);
	st = run(0, NULL, NULL, path_in(g_tmp, "out"), err, argv);
	cr_assert(st > 0 && st < 128, "missing backing: exit %d", st);
	cr_assert(strstr(slurp(err), "/nonexistent/v.img"), "%s", slurp(err));

	/* A state directory that cannot be created. */
	snprintf(body, sizeof(body), "[daemon]\nsocket = %s/s.sock\nstate_dir = /proc/nope\n",
		 g_tmp);
	write_file(cf, body);
	st = run(0, NULL, NULL, path_in(g_tmp, "out"), err, argv);
	cr_assert(st > 0 && st < 128, "bad state_dir: exit %d", st);
	cr_assert(strstr(slurp(err), "/proc/nope"), "%s", slurp(err));
}

/*
 * The daemon's own log lines: an RFC 3339 timestamp first on a terminal or
 * file, none when stderr is the journal (which stamps them itself).
 */
Test(cli, daemon_log_is_stamped_unless_stderr_is_the_journal, .init = tmp_setup,
     .fini = tmp_teardown)
{
	const char *cf = path_in(g_tmp, "c.conf"), *err = path_in(g_tmp, "err");
	const char *argv[] = { rt_ringd_bin(), "-c", cf, NULL };
	const char *msg, *line;
	char body[512];
	int st;

	/* A start that fails after logging: the state directory cannot be made. */
	snprintf(body, sizeof(body), "[daemon]\nsocket = %s/s.sock\nstate_dir = /proc/nope\n",
		 g_tmp);
	write_file(cf, body);
	st = run(0, NULL, NULL, path_in(g_tmp, "out"), err, argv);
	cr_assert(st > 0 && st < 128, "exit %d", st);
	msg = slurp(err);
	line = strstr(msg, "ringd: error: state_dir /proc/nope");
	cr_assert_not_null(line, "%s", msg);
	cr_assert_geq(line - msg, (ptrdiff_t)sizeof("2026-12-02T05:01:02.345Z"), "%s", msg);
	line -= sizeof("2026-12-02T05:01:02.345Z");
	cr_assert(line == msg || line[-1] == '\n', "not at the start of a line: %s", msg);
	cr_assert(line[4] == '-' && line[10] == 'T' && line[19] == '.' && line[23] == 'Z' &&
		      line[24] == ' ',
		  "no RFC 3339 timestamp: %s", msg);

	g_journal = true;
	st = run(0, NULL, NULL, path_in(g_tmp, "out"), err, argv);
	g_journal = false;
	cr_assert(st > 0 && st < 128, "exit %d", st);
	msg = slurp(err);
	line = strstr(msg, "ringd: error: state_dir /proc/nope");
	cr_assert_not_null(line, "%s", msg);
	cr_assert(line == msg || line[-1] == '\n', "a timestamp for the journal: %s", msg);
}

Test(cli, ringd_io_roundtrip_as_tenant, .init = setup, .fini = teardown)
{
	const char *in = path_in(g_d.dir, "in"), *out = path_in(g_d.dir, "out");
	const char *err = path_in(g_d.dir, "err");
	const char *wr[] = { rt_ringd_io_bin(), "write", "demo", "12288", NULL };
	const char *rd[] = { rt_ringd_io_bin(), "read", "demo", "12288", "300000", NULL };
	static uint8_t data[300000], back[300000];
	int st, fd;

	rt_fill(data, sizeof(data), 7, 0);
	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);

	st = run(RT_UID_A, g_d.sock, in, out, err, wr);
	cr_assert_eq(st, 0, "ringd-io write as uid %d: exit %d: %s", RT_UID_A, st, slurp(err));
	cr_assert_eq(rt_pread_file(path_in(g_d.dir, "state/demo.img"), back, sizeof(back), 12288),
		     0);
	cr_assert_eq(memcmp(back, data, sizeof(data)), 0, "backing file differs");

	st = run(RT_UID_A, g_d.sock, NULL, out, err, rd);
	cr_assert_eq(st, 0, "ringd-io read: exit %d: %s", st, slurp(err));
	memset(back, 0, sizeof(back));
	cr_assert_eq(rt_pread_file(out, back, sizeof(back), 0), 0, "short output");
	cr_assert_eq(memcmp(back, data, sizeof(data)), 0, "read back differs");
}

Test(cli, ringd_io_info, .init = setup, .fini = teardown)
{
	const char *argv[] = { rt_ringd_io_bin(), "info", "direct", NULL };
	const char *out = path_in(g_d.dir, "out"), *err = path_in(g_d.dir, "err");
	const char *text;
	int st = run(RT_UID_A, g_d.sock, NULL, out, err, argv);

	cr_assert_eq(st, 0, "ringd-io info: exit %d: %s", st, slurp(err));
	text = slurp(out);
	cr_assert(strstr(text, "16777216"), "no size in '%s'", text);
	cr_assert(strstr(text, "direct:     yes"), "'%s'", text);
}

Test(cli, ringd_io_unknown_volume_fails_clearly, .init = setup, .fini = teardown)
{
	const char *info[] = { rt_ringd_io_bin(), "info", "no-such-vol", NULL };
	const char *rd[] = { rt_ringd_io_bin(), "read", "no-such-vol", "0", "4096", NULL };
	const char *out = path_in(g_d.dir, "out"), *err = path_in(g_d.dir, "err");
	const char *msg;
	int st;

	st = run(RT_UID_A, g_d.sock, NULL, out, err, info);
	cr_assert(st > 0 && st < 128, "info on an unknown volume: exit %d", st);
	msg = slurp(err);
	cr_assert(strstr(msg, "no-such-vol"), "stderr '%s' does not name the volume", msg);
	cr_assert(strstr(msg, strerror(ENOENT)), "stderr '%s' does not say why", msg);
	cr_assert_eq(slurp(out)[0], '\0', "info printed something");
	st = run(RT_UID_A, g_d.sock, NULL, out, err, rd);
	cr_assert(st > 0 && st < 128, "read on an unknown volume: exit %d", st);
}

Test(cli, ringd_io_without_daemon_fails_clearly, .init = tmp_setup, .fini = tmp_teardown)
{
	const char *argv[] = { rt_ringd_io_bin(), "info", "demo", NULL };
	const char *sock = path_in(g_tmp, "none.sock"), *err = path_in(g_tmp, "err");
	int st = run(RT_UID_A, sock, NULL, path_in(g_tmp, "out"), err, argv);

	cr_assert(st > 0 && st < 128, "exit %d", st);
	cr_assert(strstr(slurp(err), "none.sock"), "stderr '%s' does not name the socket",
		  slurp(err));
	cr_assert(strstr(slurp(err), strerror(ENOENT)), "%s", slurp(err));
	cr_assert(strstr(slurp(err), "is ringd running?"), "no hint: %s", slurp(err));
}

/* A socket file nobody listens on (a daemon that died): ECONNREFUSED, the
 * same hint, from ringd-io and ringd-bench alike. */
Test(cli, tools_hint_when_nothing_listens, .init = tmp_setup, .fini = tmp_teardown)
{
	char sock[256], err[256], out[256];
	const char *io[] = { rt_ringd_io_bin(), "info", "demo", NULL };
	const char *bench[] = { RINGD_BENCH_BIN, "--volume", "demo", "--runtime",
				"0.2",		 "--quiet",  NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, st;

	snprintf(sock, sizeof(sock), "%s", path_in(g_tmp, "dead.sock"));
	snprintf(err, sizeof(err), "%s", path_in(g_tmp, "err"));
	snprintf(out, sizeof(out), "%s", path_in(g_tmp, "out"));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0); /* as the daemon's */
	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0); /* no listen() */
	cr_assert_eq(chmod(sock, 0666), 0);

	st = run(RT_UID_A, sock, NULL, out, err, io);
	cr_assert(st > 0 && st < 128, "ringd-io: exit %d", st);
	cr_assert(strstr(slurp(err), strerror(ECONNREFUSED)), "%s", slurp(err));
	cr_assert(strstr(slurp(err), "is ringd running?"), "no hint: %s", slurp(err));

	st = run(RT_UID_A, sock, NULL, out, err, bench);
	cr_assert(st > 0 && st < 128, "ringd-bench: exit %d", st);
	cr_assert(strstr(slurp(err), sock), "does not name the socket: %s", slurp(err));
	cr_assert(strstr(slurp(err), strerror(ECONNREFUSED)), "%s", slurp(err));
	cr_assert(strstr(slurp(err), "is ringd running?"), "no hint: %s", slurp(err));
	close(fd);
}

/* ringd-bench says why the daemon refused, as ringd-io does. */
Test(cli, ringd_bench_carries_the_daemons_reason, .init = setup, .fini = teardown)
{
	const char *stranger[] = { RINGD_BENCH_BIN, "--volume", "demo", "--runtime",
				   "0.2",	    "--quiet",	NULL };
	const char *unknown[] = { RINGD_BENCH_BIN, "--volume", "no-such-vol", "--runtime",
				  "0.2",	   "--quiet",  NULL };
	char err[256], out[256], want[128];
	int st;

	snprintf(err, sizeof(err), "%s", path_in(g_d.dir, "err"));
	snprintf(out, sizeof(out), "%s", path_in(g_d.dir, "out"));
	st = run(RT_UID_STRANGER, g_d.sock, NULL, out, err, stranger);
	cr_assert(st > 0 && st < 128, "a stranger's ringd-bench: exit %d", st);
	snprintf(want, sizeof(want), "uid %d (gid %d) is not a tenant", RT_UID_STRANGER,
		 RT_UID_STRANGER);
	cr_assert(strstr(slurp(err), want), "no reason '%s' in: %s", want, slurp(err));
	cr_assert_null(strstr(slurp(err), "is ringd running?"), "%s", slurp(err));

	st = run(RT_UID_A, g_d.sock, NULL, out, err, unknown);
	cr_assert(st > 0 && st < 128, "unknown volume: exit %d", st);
	cr_assert(strstr(slurp(err), "no-such-vol"), "%s", slurp(err));
	cr_assert(strstr(slurp(err), strerror(ENOENT)), "%s", slurp(err));
	cr_assert(strchr(slurp(err), '('), "no reason from the daemon: %s", slurp(err));
}

/* A read or write past the end names the volume's size, before any I/O. */
Test(cli, ringd_io_out_of_range_names_the_volume_size, .init = setup, .fini = teardown)
{
	const char *rd[] = { rt_ringd_io_bin(), "read", "demo", "16380K", "8K", NULL };
	const char *wr[] = { rt_ringd_io_bin(), "write", "demo", "16380K", NULL };
	const char *far[] = { rt_ringd_io_bin(), "read", "demo", "0xffffffffffffff00", "4K", NULL };
	char err[256], out[256], in[256];
	static uint8_t data[8192];
	const char *msg;
	int st, fd;

	snprintf(err, sizeof(err), "%s", path_in(g_d.dir, "err"));
	snprintf(out, sizeof(out), "%s", path_in(g_d.dir, "out"));
	snprintf(in, sizeof(in), "%s", path_in(g_d.dir, "in"));
	st = run(RT_UID_A, g_d.sock, NULL, out, err, rd);
	msg = slurp(err);
	cr_assert(st > 0 && st < 128, "read past the end: exit %d", st);
	cr_assert(strstr(msg, "16777216 bytes"), "no volume size in: %s", msg);
	cr_assert(strstr(msg, "demo"), "%s", msg);
	cr_assert_eq(slurp(out)[0], '\0', "it printed data");

	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
	st = run(RT_UID_A, g_d.sock, in, out, err, wr);
	msg = slurp(err);
	cr_assert(st > 0 && st < 128, "write past the end: exit %d", st);
	cr_assert(strstr(msg, "16777216 bytes"), "no volume size in: %s", msg);

	st = run(RT_UID_A, g_d.sock, NULL, out, err, far);
	msg = slurp(err);
	cr_assert(st > 0 && st < 128, "offset + len overflows: exit %d", st);
	cr_assert(strstr(msg, "16777216 bytes"), "no volume size in: %s", msg);
}

/* @len bytes of pattern @seed into the file @path. */
static void fill_file(const char *path, uint8_t *buf, size_t len, uint32_t seed)
{
	int fd;

	rt_fill(buf, len, seed, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* True if @len bytes at @p are all zero. */
static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && !p[i]; i++)
		;
	return i == len;
}

/*
 * `ringd-io zero` and `discard` on 256 KiB of data: the range reads back
 * as zeros through ringd-io read and in the backing file (a discard on a
 * file volume punches a hole), and the bytes around it are untouched.
 */
static void zero_or_discard(const char *cmd, const char *vol, const char *backing)
{
	static uint8_t data[262144], back[262144];
	char in[256], out[256], err[256];
	const char *wr[] = { rt_ringd_io_bin(), "write", vol, "0", NULL };
	const char *op[] = { rt_ringd_io_bin(), cmd, vol, "64K", "128K", NULL };
	const char *rd[] = { rt_ringd_io_bin(), "read", vol, "0", "256K", NULL };
	int st;

	snprintf(in, sizeof(in), "%s", path_in(g_d.dir, "in"));
	snprintf(out, sizeof(out), "%s", path_in(g_d.dir, "out"));
	snprintf(err, sizeof(err), "%s", path_in(g_d.dir, "err"));
	fill_file(in, data, sizeof(data), 11);
	st = run(RT_UID_A, g_d.sock, in, out, err, wr);
	cr_assert_eq(st, 0, "ringd-io write: exit %d: %s", st, slurp(err));
	cr_assert_eq(rt_pread_file(backing, back, sizeof(back), 0), 0);
	cr_assert(!all_zero(back + 65536, 131072), "the pattern has no data to clear");

	st = run(RT_UID_A, g_d.sock, NULL, out, err, op);
	cr_assert_eq(st, 0, "ringd-io %s: exit %d: %s", cmd, st, slurp(err));
	st = run(RT_UID_A, g_d.sock, NULL, out, err, rd);
	cr_assert_eq(st, 0, "ringd-io read: exit %d: %s", st, slurp(err));
	cr_assert_eq(rt_pread_file(out, back, sizeof(back), 0), 0, "short output");
	cr_assert(all_zero(back + 65536, 131072), "%s: the range does not read as zeros", cmd);
	cr_assert_eq(memcmp(back, data, 65536), 0, "%s: the bytes before it changed", cmd);
	cr_assert_eq(memcmp(back + 196608, data + 196608, 65536), 0,
		     "%s: the bytes after it changed", cmd);
	cr_assert_eq(rt_pread_file(backing, back, sizeof(back), 0), 0);
	cr_assert(all_zero(back + 65536, 131072), "%s: the backing file still has data", cmd);
	cr_assert_eq(memcmp(back + 196608, data + 196608, 65536), 0);
}

Test(cli, ringd_io_zero_reads_back_zeros, .init = setup, .fini = teardown)
{
	zero_or_discard("zero", "demo", path_in(g_d.dir, "state/demo.img"));
	zero_or_discard("zero", "direct", path_in(g_d.dir, "state/direct.img"));
}

Test(cli, ringd_io_discard_on_a_file_reads_zeros, .init = setup, .fini = teardown)
{
	zero_or_discard("discard", "demo", path_in(g_d.dir, "state/demo.img"));
	zero_or_discard("discard", "direct", path_in(g_d.dir, "state/direct.img"));
}

/*
 * LEN is 64-bit: 4 GiB and 2^64 - 256 are not cut to 32 bits (which would
 * make them small and legal), they are refused naming the volume's size;
 * a misaligned range on a direct volume is refused before any I/O.
 */
Test(cli, ringd_io_discard_and_zero_check_the_range, .init = setup, .fini = teardown)
{
	const char *big[] = { rt_ringd_io_bin(), "zero", "demo", "0", "4G", NULL };
	const char *huge[] = { rt_ringd_io_bin(),    "discard", "demo", "256",
			       "0xffffffffffffff00", NULL };
	const char *odd[] = { rt_ringd_io_bin(), "zero", "direct", "100", "4K", NULL };
	const char *usage[] = { rt_ringd_io_bin(), "zero", "demo", "0", NULL };
	char out[256], err[256];
	const char *msg;
	int st;

	snprintf(out, sizeof(out), "%s", path_in(g_d.dir, "out"));
	snprintf(err, sizeof(err), "%s", path_in(g_d.dir, "err"));
	st = run(RT_UID_A, g_d.sock, NULL, out, err, big);
	msg = slurp(err);
	cr_assert_eq(st, 1, "zero of 4 GiB on 16 MiB: exit %d: %s", st, msg);
	cr_assert(strstr(msg, "16777216 bytes"), "no volume size in: %s", msg);
	cr_assert(strstr(msg, "+4294967296"), "the length was not kept whole: %s", msg);
	st = run(RT_UID_A, g_d.sock, NULL, out, err, huge);
	msg = slurp(err);
	cr_assert_eq(st, 1, "discard past 2^64: exit %d: %s", st, msg);
	cr_assert(strstr(msg, "16777216 bytes"), "no volume size in: %s", msg);
	st = run(RT_UID_A, g_d.sock, NULL, out, err, odd);
	msg = slurp(err);
	cr_assert_eq(st, 1, "misaligned zero on a direct volume: exit %d: %s", st, msg);
	cr_assert(strstr(msg, "multiples of"), "%s", msg);
	cr_assert_eq(run(RT_UID_A, g_d.sock, NULL, out, err, usage), 2, "zero without LEN");
}

/* write --dsync: every write durable on completion, the data reads back
 * (through ringd-io and in the backing file), on both kinds of volume. */
Test(cli, ringd_io_dsync_write_reads_back, .init = setup, .fini = teardown)
{
	static uint8_t data[262144], back[262144];
	static const char *const vols[] = { "demo", "direct" };
	char in[256], out[256], err[256], backing[256];
	unsigned int v;
	int st;

	snprintf(in, sizeof(in), "%s", path_in(g_d.dir, "in"));
	snprintf(out, sizeof(out), "%s", path_in(g_d.dir, "out"));
	snprintf(err, sizeof(err), "%s", path_in(g_d.dir, "err"));
	for (v = 0; v < 2; v++) {
		const char *wr[] = { rt_ringd_io_bin(), "write", "--dsync", vols[v], "8K", NULL };
		const char *rd[] = { rt_ringd_io_bin(), "read", vols[v], "8K", "256K", NULL };

		fill_file(in, data, sizeof(data), 23 + v);
		st = run(RT_UID_A, g_d.sock, in, out, err, wr);
		cr_assert_eq(st, 0, "ringd-io write --dsync %s: exit %d: %s", vols[v], st,
			     slurp(err));
		cr_assert(strstr(slurp(err), "each write durable"), "%s", slurp(err));
		snprintf(backing, sizeof(backing), "%s/state/%s.img", g_d.dir, vols[v]);
		cr_assert_eq(rt_pread_file(backing, back, sizeof(back), 8192), 0);
		cr_assert_eq(memcmp(back, data, sizeof(data)), 0, "%s: backing file differs",
			     vols[v]);
		st = run(RT_UID_A, g_d.sock, NULL, out, err, rd);
		cr_assert_eq(st, 0, "ringd-io read: exit %d: %s", st, slurp(err));
		cr_assert_eq(rt_pread_file(out, back, sizeof(back), 0), 0, "short output");
		cr_assert_eq(memcmp(back, data, sizeof(data)), 0, "%s: read back differs", vols[v]);
	}
}

Test(cli, example_runs_as_tenant, .init = setup, .fini = teardown)
{
	const char *argv[] = { RINGD_EXAMPLE_BIN, "demo", NULL };
	const char *out = path_in(g_d.dir, "out"), *err = path_in(g_d.dir, "err");
	int st = run(RT_UID_A, g_d.sock, NULL, out, err, argv);

	cr_assert_eq(st, 0, "ringd-example: exit %d: %s", st, slurp(err));
	cr_assert(strstr(slurp(out), "0 errors"), "'%s'", slurp(out));
}

Test(cli, example_runs_on_direct_volume, .init = setup, .fini = teardown)
{
	const char *argv[] = { RINGD_EXAMPLE_BIN, "direct", NULL };
	const char *out = path_in(g_d.dir, "out"), *err = path_in(g_d.dir, "err");
	int st = run(RT_UID_A, g_d.sock, NULL, out, err, argv);

	cr_assert_eq(st, 0, "ringd-example: exit %d: %s", st, slurp(err));
}

/*
 * <ringd.h> compiles and links as C++11 (g++), and the C++ client works: it
 * writes 4 KiB as a tenant, reads them back and compares; the backing file
 * holds its pattern afterwards.
 */
Test(cli, cplusplus_client_writes_and_reads_back, .init = setup, .fini = teardown)
{
#ifdef RINGD_CXX_CLIENT_BIN
	const char *argv[] = { RINGD_CXX_CLIENT_BIN, "demo", "8192", NULL };
	const char *out = path_in(g_d.dir, "out"), *err = path_in(g_d.dir, "err");
	uint8_t back[4096];
	unsigned int i;
	int st = run(RT_UID_A, g_d.sock, NULL, out, err, argv);

	cr_assert_eq(st, 0, "ringd-cxx-client: exit %d: %s", st, slurp(err));
	cr_assert(strstr(slurp(out), "wrote and read back 4096 bytes at 8192"), "'%s'", slurp(out));
	cr_assert_eq(rt_pread_file(path_in(g_d.dir, "state/demo.img"), back, sizeof(back), 8192),
		     0);
	/* The client's pattern (tests/cplusplus/ringd-cxx-client.cc). */
	for (i = 0; i < sizeof(back); i++)
		cr_assert_eq(back[i], (uint8_t)(i * 7u + 13u), "backing byte %u: %#x", i, back[i]);
#else
	cr_skip_test("%s", RINGD_CXX_CLIENT_SKIP);
#endif
}
