/* SPDX-License-Identifier: MIT */
/*
 * SQLite on directory volumes through libringd-sqlite (the "ringd" VFS),
 * against the real daemon. Every tenant runs as a non-root uid under
 * no-io-uring, as in a container where io_uring is blocked: all its I/O
 * goes through the daemon's rings.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "sdnotify.h"

/* SQLite's result codes, as sqlite-run exits with them. */
#define SQLITE_BUSY	5
#define SQLITE_CANTOPEN 14

/*
 * Criterion 2.4.1 leaks the record of a skipped test; under LeakSanitizer
 * that would turn a clean skip into a failed run (as in test_fio.c).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}

static struct rt_daemon g_d;
/* The uid tenant_spawn() runs as (the four-tenant test changes it). */
static uid_t g_uid = RT_UID_A;
/* The bank's side file in /tmp, removed by daemon_stop() even when a test fails. */
static char g_side[64];

static const char conf[] = "[volume db1]\n"
			   "dir = @DIR@/db1\n"
			   "size = 256M\n"
			   "\n"
			   "[volume small]\n"
			   "dir = @DIR@/small\n"
			   "size = 1M\n"
			   "\n"
			   "[volume direct]\n"
			   "dir = @DIR@/direct\n"
			   "size = 16M\n"
			   "direct = yes\n"
			   "\n"
			   "[tenant a]\n"
			   "uid = 61001\n"
			   "volumes = db1:rw, small:rw, direct:rw\n";

static void need_sqlite(void)
{
#ifdef RINGD_SQLITE_SKIP
	cr_skip_test("%s", RINGD_SQLITE_SKIP);
#endif
}

static void daemon_start(void)
{
	char path[160];
	int ret;

#ifdef RINGD_SQLITE_SKIP
	return;
#endif
	ret = rt_daemon_prepare(&g_d, conf);
	cr_assert_eq(ret, 0, "prepare: %s", strerror(-ret));
	snprintf(path, sizeof(path), "%s/db1", g_d.dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/small", g_d.dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/direct", g_d.dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	ret = rt_daemon_launch(&g_d);
	cr_assert_eq(ret, 0, "ringd did not start: %s", strerror(-ret));
}

static void daemon_stop(void)
{
	int status;

	if (g_side[0])
		unlink(g_side);
	if (g_d.pid <= 0)
		return;
	status = rt_daemon_stop(&g_d);
	cr_assert_eq(status, 0, "ringd exited with status %d (see its log above)", status);
}

/* "@DIR@/name" of the running daemon, in one of four static buffers. */
static const char *in_dir(const char *name)
{
	static char bufs[4][192];
	static unsigned int k;
	char *p = bufs[k++ % 4];

	snprintf(p, 192, "%s/%s", g_d.dir, name);
	return p;
}

/*
 * Start @argv (argv[0] a binary of the build, staged where a tenant can
 * reach it) as tenant uid A under no-io-uring, with stdin from @in (a
 * path; NULL: /dev/null) or, if @in_fd >= 0, from that fd; stdout and
 * stderr to @out and @err. Returns the pid.
 */
static pid_t tenant_spawn(const char *const argv[], const char *in, int in_fd, const char *out,
			  const char *err)
{
	const char *wrap = rt_stage_bin(NO_IO_URING_BIN);
	const char *bin =
	    argv[0][0] == '/' && strncmp(argv[0], "/usr/", 5) ? rt_stage_bin(argv[0]) : argv[0];
	const char *args[32];
	unsigned int n = 0, i;
	pid_t pid;

	cr_assert_not_null(rt_stage_dir(), "cannot stage binaries in /var/tmp");
	/* bank, sqlite-run and speedtest1 need it beside libringd.so.0. */
	if (LIBRINGD_SQLITE_SO[0])
		rt_stage_bin(LIBRINGD_SQLITE_SO);
	args[n++] = wrap;
	args[n++] = bin;
	for (i = 1; argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int i0 = in_fd >= 0 ? in_fd : open(in ? in : "/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		gid_t gid = g_uid;

		if (i0 < 0 || o < 0 || e < 0 || dup2(i0, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(125);
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(g_uid, g_uid, g_uid))
			_exit(126);
		setenv("RINGD_SOCKET", g_d.sock, 1);
		setenv("LD_LIBRARY_PATH", rt_stage_dir(), 1);
		/* Whatever a tenant leaves behind stays out of the tree. */
		if (chdir("/"))
			_exit(125);
		execv(wrap, (char *const *)args);
		_exit(127);
	}
	return pid;
}

/* tenant_spawn() and wait; returns the exit status, or 128 + signal. */
static int tenant_run(const char *const argv[], const char *in, const char *out, const char *err)
{
	return rt_wait_child(tenant_spawn(argv, in, -1, out, err));
}

/* Contents of @path (at most 256K), NUL-terminated, in a static buffer. */
static const char *slurp(const char *path)
{
	static char buf[262144];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return "";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void write_file(const char *path, const char *body)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(body, f);
	cr_assert_eq(fclose(f), 0);
}

/* Print a tenant's output files (for a failing assertion's context). */
static void dump(const char *what, const char *path)
{
	fprintf(stderr, "---- %s (%s)\n%s----\n", what, path, slurp(path));
}

/* Lines of @path. */
static long count_lines(const char *path)
{
	const char *p = slurp(path);
	long n = 0;

	for (; *p; p++)
		n += *p == '\n';
	return n;
}

/* Run sqlite-run on @uri with @sql as its stdin; returns its exit status
 * and leaves its stdout and stderr in "@DIR@/run.out" and "run.err". */
static int sqlite_run(const char *uri, const char *sql)
{
	const char *argv[] = { SQLITE_RUN_BIN, uri, NULL };

	write_file(in_dir("run.sql"), sql);
	return tenant_run(argv, in_dir("run.sql"), in_dir("run.out"), in_dir("run.err"));
}

/* Temporary files of the VFS in the db1 volume's directory. */
static int system_count_tmp(void)
{
	DIR *dir = opendir(in_dir("db1"));
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(dir);
	while ((e = readdir(dir)))
		n += !strncmp(e->d_name, ".ringd-sqlite-tmp-", 18);
	closedir(dir);
	return n;
}

Test(no_io_uring, blocks_plain_io_uring_and_sets_no_new_privs)
{
	char out[64], err[64];
	const char *probe[] = { URING_PROBE_BIN, NULL };
	const char *status[] = { "/usr/bin/grep", "-E",
				 "^(NoNewPrivs|Seccomp):", "/proc/self/status", NULL };
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "/tmp/ringd-no-io-uring.%d.out", (int)getpid());
	snprintf(err, sizeof(err), "/tmp/ringd-no-io-uring.%d.err", (int)getpid());
	/* Outside the wrapper: plain io_uring works (or the host forbids it). */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || dup2(o, 1) < 0)
			_exit(125);
		execl(URING_PROBE_BIN, "uring-probe", (char *)NULL);
		_exit(127);
	}
	st = rt_wait_child(pid);
	if (st != 0)
		cr_skip_test("io_uring does not work here even without the wrapper: %s",
			     slurp(out));
	cr_assert_str_eq(slurp(out), "io_uring: ok\n");

	/* Inside: io_uring_setup fails with EPERM. */
	st = tenant_run(probe, NULL, out, err);
	cr_assert_eq(st, 1, "uring-probe under no-io-uring exited %d: %s %s", st, slurp(out),
		     slurp(err));
	cr_assert_str_eq(slurp(out), "io_uring: Operation not permitted\n");

	st = tenant_run(status, NULL, out, err);
	cr_assert_eq(st, 0, "grep exited %d: %s", st, slurp(err));
	cr_assert_str_eq(slurp(out), "NoNewPrivs:\t1\nSeccomp:\t2\n");
	unlink(out);
	unlink(err);
}

Test(sqlite, shell_load_create_insert_select, .init = daemon_start, .fini = daemon_stop,
     .timeout = 60)
{
	const char *sh[] = { "/usr/bin/sqlite3", "-batch", "-bail", NULL };
	char script[1024];
	int st;

	need_sqlite();
#ifdef RINGD_SANITIZED
	/* A skipped test's .fini does not run: its daemon (and directory) would stay. */
	daemon_stop();
	cr_skip_test("the sqlite3 shell is not instrumented and cannot load the sanitized "
		     "libringd-sqlite.so (the plain build runs this test)");
#endif
	if (access(sh[0], X_OK)) {
		daemon_stop();
		cr_skip_test("no sqlite3 shell (apt-get install sqlite3)");
	}
	snprintf(script, sizeof(script),
		 ".load %s\n"
		 ".open file:db1/x.db?vfs=ringd\n"
		 "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER);\n"
		 "INSERT INTO kv VALUES('a', 1), ('b', 2), ('c', 3);\n"
		 "SELECT k || '=' || v FROM kv ORDER BY k;\n"
		 "SELECT sum(v) FROM kv;\n"
		 "PRAGMA integrity_check;\n",
		 rt_stage_bin(LIBRINGD_SQLITE_SO));
	write_file(in_dir("shell.sql"), script);
	st = tenant_run(sh, in_dir("shell.sql"), in_dir("shell.out"), in_dir("shell.err"));
	cr_assert_eq(st, 0, "sqlite3 exited %d: %s", st, slurp(in_dir("shell.err")));
	cr_assert_str_eq(slurp(in_dir("shell.out")), "a=1\nb=2\nc=3\n6\nok\n");

	/* Another process finds the rows: they were in the volume. */
	snprintf(script, sizeof(script),
		 ".load %s\n"
		 ".open file:db1/x.db?vfs=ringd\n"
		 "SELECT group_concat(k) FROM kv;\n",
		 rt_stage_bin(LIBRINGD_SQLITE_SO));
	write_file(in_dir("shell.sql"), script);
	st = tenant_run(sh, in_dir("shell.sql"), in_dir("shell.out"), in_dir("shell.err"));
	cr_assert_eq(st, 0, "sqlite3 exited %d: %s", st, slurp(in_dir("shell.err")));
	cr_assert_str_eq(slurp(in_dir("shell.out")), "a,b,c\n");
	/* And it is an ordinary SQLite file in the volume's directory. */
	cr_assert_eq(access(in_dir("db1/x.db"), F_OK), 0, "no db1/x.db in the volume");
	cr_assert_neq(access(in_dir("db1/x.db-journal"), F_OK), 0, "journal left behind");
}

Test(sqlite, second_process_gets_busy, .init = daemon_start, .fini = daemon_stop, .timeout = 60)
{
	const char *argv[] = { SQLITE_RUN_BIN, "file:db1/busy.db?vfs=ringd", NULL };
	/* A second connection to it in the holder comes and goes first: the
	 * lock is the process's, not that connection's. */
	const char *hold =
	    "CREATE TABLE t(x); INSERT INTO t VALUES(42);\n"
	    "ATTACH 'file:db1/busy.db?vfs=ringd' AS b; SELECT x FROM b.t; DETACH b;\n"
	    "SELECT 'held';\n";
	int pfd[2], st;
	pid_t holder;

	need_sqlite();
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	holder = tenant_spawn(argv, NULL, pfd[0], in_dir("hold.out"), in_dir("hold.err"));
	close(pfd[0]);
	cr_assert_eq(write(pfd[1], hold, strlen(hold)), (ssize_t)strlen(hold));
	if (!rt_wait_for(10000, strstr(slurp(in_dir("hold.out")), "held\n") != NULL)) {
		dump("holder stdout", in_dir("hold.out"));
		dump("holder stderr", in_dir("hold.err"));
		cr_assert_fail("the first process never got to hold the database");
	}
	cr_assert_str_eq(slurp(in_dir("hold.out")), "opened\n42\nheld\n");

	/* The second process cannot open it while the first has it open. */
	st = sqlite_run(argv[1], "SELECT x FROM t;\n");
	cr_assert_eq(st, SQLITE_BUSY, "second open: exit %d, %s", st, slurp(in_dir("run.out")));
	cr_assert(strstr(slurp(in_dir("run.out")), "database is locked"), "%s",
		  slurp(in_dir("run.out")));

	/* Once the first is gone, it can. */
	close(pfd[1]);
	st = rt_wait_child(holder);
	cr_assert_eq(st, 0, "holder exited %d: %s", st, slurp(in_dir("hold.err")));
	st = sqlite_run(argv[1], "SELECT x FROM t;\n");
	cr_assert_eq(st, 0, "third open: exit %d: %s %s", st, slurp(in_dir("run.out")),
		     slurp(in_dir("run.err")));
	cr_assert_str_eq(slurp(in_dir("run.out")), "opened\n42\n");
}

Test(sqlite, temp_files_live_in_the_volume_until_closed, .init = daemon_start, .fini = daemon_stop,
     .timeout = 60)
{
	const char *argv[] = { SQLITE_RUN_BIN, "file:db1/tmp.db?vfs=ringd", NULL };
	/* A temp table on a file: SQLite opens it with no name. */
	const char *sql = "PRAGMA temp_store=FILE;\nCREATE TABLE t(x);\n"
			  "CREATE TEMP TABLE tt(x, pad);\n"
			  /* 5M: more than the page cache holds, so it spills. */
			  "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
			  "WHERE i < 5000) INSERT INTO tt(x) SELECT i FROM c;\n"
			  "UPDATE tt SET pad = zeroblob(1000);\n"
			  "INSERT INTO t SELECT x FROM tt WHERE x % 1000 = 0;\n"
			  "SELECT group_concat(x) FROM t;\nSELECT 'done';\n";
	int pfd[2], st;
	pid_t pid;

	need_sqlite();
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = tenant_spawn(argv, NULL, pfd[0], in_dir("tmp.out"), in_dir("tmp.err"));
	close(pfd[0]);
	cr_assert_eq(write(pfd[1], sql, strlen(sql)), (ssize_t)strlen(sql));
	if (!rt_wait_for(10000, strstr(slurp(in_dir("tmp.out")), "done\n") != NULL)) {
		dump("sqlite-run stdout", in_dir("tmp.out"));
		dump("sqlite-run stderr", in_dir("tmp.err"));
		cr_assert_fail("sqlite-run did not get through the temp table");
	}
	cr_assert_str_eq(slurp(in_dir("tmp.out")), "opened\n1000,2000,3000,4000,5000\ndone\n");
	/* While the connection is open, its temp file is in the database's volume. */
	cr_assert_eq(system_count_tmp(), 1, "temp files in db1 while open");
	close(pfd[1]);
	st = rt_wait_child(pid);
	cr_assert_eq(st, 0, "sqlite-run exited %d: %s", st, slurp(in_dir("tmp.err")));
	cr_assert_eq(system_count_tmp(), 0, "temp files left in db1 after close");
}

/* SQLite does unaligned I/O: a database on a direct volume is refused at
 * open (SQLITE_CANTOPEN) rather than failing at its first header read. */
Test(sqlite, direct_volume_is_refused_at_open, .init = daemon_start, .fini = daemon_stop,
     .timeout = 60)
{
	int st;

	need_sqlite();
	st = sqlite_run("file:direct/x.db?vfs=ringd", "CREATE TABLE t(x);\n");
	cr_assert_eq(st, SQLITE_CANTOPEN, "sqlite-run exited %d: %s", st, slurp(in_dir("run.out")));
	/* The same database on a buffered volume is fine. */
	st = sqlite_run("file:db1/x.db?vfs=ringd", "CREATE TABLE t(x);\n");
	cr_assert_eq(st, 0, "sqlite-run exited %d: %s", st, slurp(in_dir("run.out")));
}

/* One process, eight threads, each its own connection and database, all on
 * the process's one session: the VFS serializes them on its mutex. */
Test(sqlite, threads_share_one_session, .init = daemon_start, .fini = daemon_stop, .timeout = 120)
{
	const char *argv[] = { SQLITE_THREADS_BIN, "db1", "8", "200", NULL };
	int st;

	need_sqlite();
	st = tenant_run(argv, NULL, in_dir("threads.out"), in_dir("threads.err"));
	cr_assert_eq(st, 0, "sqlite-threads exited %d: %s %s", st, slurp(in_dir("threads.out")),
		     slurp(in_dir("threads.err")));
	cr_assert_str_eq(slurp(in_dir("threads.out")), "threads: ok\n");
}

/* A process with a database open forks: the child gets a session of its
 * own for its database, and the parent's session carries on unharmed. */
Test(sqlite, fork_child_gets_its_own_session, .init = daemon_start, .fini = daemon_stop,
     .timeout = 60)
{
	const char *argv[] = { SQLITE_THREADS_BIN, "--fork", "db1", NULL };
	int st;

	need_sqlite();
	st = tenant_run(argv, NULL, in_dir("fork.out"), in_dir("fork.err"));
	cr_assert_eq(st, 0, "sqlite-threads --fork exited %d: %s %s", st, slurp(in_dir("fork.out")),
		     slurp(in_dir("fork.err")));
	cr_assert_str_eq(slurp(in_dir("fork.out")), "fork: ok\n");
}

/*
 * Eight threads of one process, each its own connection to one database:
 * they share the process's handle (and its RINGD_LOCK), and the VFS keeps
 * SQLite's lock levels between them, so no increment is lost.
 */
Test(sqlite, threads_share_one_database, .init = daemon_start, .fini = daemon_stop, .timeout = 120)
{
	const char *argv[] = { SQLITE_THREADS_BIN, "--same", "db1", "8", "50", NULL };
	int st;

	need_sqlite();
	st = tenant_run(argv, NULL, in_dir("threads.out"), in_dir("threads.err"));
	cr_assert_eq(st, 0, "sqlite-threads exited %d: %s %s", st, slurp(in_dir("threads.out")),
		     slurp(in_dir("threads.err")));
	cr_assert_str_eq(slurp(in_dir("threads.out")), "threads: ok\n");
}

/*
 * Whether the rollback journal at @path is hot (a transaction was under
 * way): it exists with a header. DELETE removes it at commit, TRUNCATE
 * empties it, PERSIST zeroes its header's magic.
 */
static bool hot_journal(const char *path)
{
	static const uint8_t zero[8];
	uint8_t magic[8];

	return rt_pread_file(path, magic, sizeof(magic), 0) == 0 &&
	       memcmp(magic, zero, sizeof(magic)) != 0;
}

/*
 * Every rollback journal mode: a committed row stays, a rolled-back one
 * goes (not with OFF, which has no journal to roll back from), and the
 * journal file is left as the mode says: none for DELETE, MEMORY and OFF,
 * an empty one for TRUNCATE, one with a zeroed header for PERSIST.
 */
Test(sqlite, rollback_journal_modes, .init = daemon_start, .fini = daemon_stop, .timeout = 60)
{
	static const struct {
		const char *mode;
		bool rollback;
		int journal; /* -1 none, 0 empty, 1 with contents */
	} modes[] = {
		{ "delete", true, -1 }, { "truncate", true, 0 }, { "persist", true, 1 },
		{ "memory", true, -1 }, { "off", false, -1 },
	};
	char uri[128], sql[512], want[128], journal[64];
	unsigned int i;
	struct stat stb;
	int st;

	need_sqlite();
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(uri, sizeof(uri), "file:db1/jm-%s.db?vfs=ringd", modes[i].mode);
		snprintf(sql, sizeof(sql),
			 "PRAGMA journal_mode=%s;\n"
			 "CREATE TABLE t(x);\n"
			 "INSERT INTO t VALUES('kept');\n"
			 "%s"
			 "SELECT group_concat(x) FROM t;\nPRAGMA integrity_check;\n",
			 modes[i].mode,
			 modes[i].rollback ? "BEGIN; INSERT INTO t VALUES('gone'); ROLLBACK;\n"
					   : "");
		st = sqlite_run(uri, sql);
		cr_assert_eq(st, 0, "%s: sqlite-run exited %d: %s", modes[i].mode, st,
			     slurp(in_dir("run.err")));
		snprintf(want, sizeof(want), "opened\n%s\nkept\nok\n", modes[i].mode);
		cr_assert_str_eq(slurp(in_dir("run.out")), want, "journal_mode=%s", modes[i].mode);

		snprintf(journal, sizeof(journal), "db1/jm-%s.db-journal", modes[i].mode);
		st = stat(in_dir(journal), &stb);
		if (modes[i].journal < 0)
			cr_assert_neq(st, 0, "%s: a journal file was left", modes[i].mode);
		else if (modes[i].journal == 0)
			cr_assert(st == 0 && stb.st_size == 0, "%s: no empty journal file",
				  modes[i].mode);
		else
			cr_assert(st == 0 && stb.st_size > 0 && !hot_journal(in_dir(journal)),
				  "%s: no journal file with a zeroed header", modes[i].mode);
	}
}

Test(sqlite, quota_full_then_space_reusable, .init = daemon_start, .fini = daemon_stop,
     .timeout = 120)
{
	static char sql[256 * 1024];
	const char *out, *p;
	size_t n = 0;
	long count = -1, after = -1;
	int i, st;

	need_sqlite();
	n += (size_t)snprintf(sql + n, sizeof(sql) - n,
			      "PRAGMA journal_mode=DELETE;\nCREATE TABLE t(b BLOB);\n");
	/* 3000-byte rows, one per transaction: far more than 1M holds. */
	for (i = 0; i < 600; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
				      "INSERT INTO t VALUES(randomblob(3000));\n");
	n += (size_t)snprintf(sql + n, sizeof(sql) - n,
			      "SELECT 'count', count(*) FROM t;\nPRAGMA integrity_check;\n"
			      "SELECT 'freeing';\n"
			      /* As on a full disk, a journal file would not fit. */
			      "PRAGMA journal_mode=MEMORY;\nPRAGMA temp_store=MEMORY;\n"
			      "DELETE FROM t;\nVACUUM;\nPRAGMA journal_mode=DELETE;\n");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
				      "INSERT INTO t VALUES(randomblob(3000));\n");
	snprintf(sql + n, sizeof(sql) - n,
		 "SELECT 'after', count(*) FROM t;\nPRAGMA integrity_check;\n");

	st = sqlite_run("file:small/q.db?vfs=ringd", sql);
	cr_assert_eq(st, 0, "sqlite-run exited %d: %s", st, slurp(in_dir("run.err")));
	out = slurp(in_dir("run.out"));
	p = strstr(out, "\ncount|");
	cr_assert_not_null(p, "%s", out);
	count = strtol(p + 7, NULL, 10);
	p = strstr(out, "\nafter|");
	cr_assert_not_null(p, "%s", out);
	after = strtol(p + 7, NULL, 10);

	/* Filling the volume ends in SQLITE_FULL (not an I/O error)... */
	cr_assert(strstr(out, "error: 13 "), "never SQLITE_FULL: %.2000s", out);
	cr_assert_null(strstr(out, "error: 10 "), "an I/O error: %.2000s", out);
	cr_assert(count > 50 && count < 600, "%ld rows fit in 1M", count);
	/* ...with the database intact, */
	p = strstr(out, "\ncount|");
	cr_assert(!strncmp(strchr(p + 1, '\n'), "\nok\n", 4), "integrity after FULL: %.500s", p);
	/*
	 * and once the rows are gone and VACUUM has given the pages back, the
	 * space is usable again. (With the volume full, even DELETE needs a
	 * journal_mode that writes no journal file, as on a full disk.)
	 */
	p = strstr(out, "\nfreeing\n");
	cr_assert_not_null(p);
	cr_assert_null(strstr(p, "error:"), "after freeing: %.2000s", p);
	cr_assert_eq(after, 100, "%ld of 100 rows inserted after VACUUM", after);
	cr_assert(strstr(out, "\nafter|100\nok\n"), "%.500s", strstr(out, "\nafter|"));
}

/*
 * speedtest1 --vfs ringd on db1/speed.db with @extra options, then through
 * the VFS (@pre first, e.g. the locking mode) PRAGMA integrity_check, and
 * the journal mode the database was left in must be @mode.
 */
static void speedtest(const char *const extra[], const char *pre, const char *mode)
{
	const char *argv[32] = { SPEEDTEST1_BIN, "--vfs", "ringd", "--size", "10" };
	char sql[256];
	unsigned int n = 5, i;
	int st;

	need_sqlite();
#ifdef SPEEDTEST1_SKIP
	cr_skip_test("%s", SPEEDTEST1_SKIP);
#endif
	for (i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n++] = "db1/speed.db";
	argv[n] = NULL;
	st = tenant_run(argv, NULL, in_dir("speed.out"), in_dir("speed.err"));
	if (st) {
		dump("speedtest1 stdout", in_dir("speed.out"));
		dump("speedtest1 stderr", in_dir("speed.err"));
	}
	cr_assert_eq(st, 0, "speedtest1 exited %d", st);
	cr_assert(strstr(slurp(in_dir("speed.out")), "TOTAL"), "speedtest1 did not finish: %s",
		  slurp(in_dir("speed.out")));
	fprintf(stderr, "speedtest1 %s: %s", extra[0] ? extra[0] : "",
		strstr(slurp(in_dir("speed.out")), "TOTAL"));

	snprintf(sql, sizeof(sql), "%sPRAGMA integrity_check;\nPRAGMA journal_mode;\n", pre);
	st = sqlite_run("file:db1/speed.db?vfs=ringd", sql);
	cr_assert_eq(st, 0, "sqlite-run exited %d: %s %s", st, slurp(in_dir("run.out")),
		     slurp(in_dir("run.err")));
	cr_assert(strstr(slurp(in_dir("run.out")), "\nok\n"), "integrity_check: %s",
		  slurp(in_dir("run.out")));
	snprintf(sql, sizeof(sql), "\nok\n%s\n", mode);
	cr_assert(strstr(slurp(in_dir("run.out")), sql), "not in journal mode %s: %s", mode,
		  slurp(in_dir("run.out")));
}

Test(sqlite, speedtest1_rollback_journal, .init = daemon_start, .fini = daemon_stop, .timeout = 240)
{
	const char *extra[] = { NULL };

	speedtest(extra, "", "delete");
}

Test(sqlite, speedtest1_wal_exclusive, .init = daemon_start, .fini = daemon_stop, .timeout = 240)
{
	const char *extra[] = { "--journal", "wal", "--exclusive", NULL };

	speedtest(extra, "PRAGMA locking_mode=EXCLUSIVE;\n", "wal");
}

/*
 * The bank under fire: @kills times, start a tenant making transfers,
 * wait until it has committed some more, SIGKILL it at a random moment
 * (nearly always inside a transaction). Then a clean run, and `bank check`:
 * integrity_check ok, the money adds up, no reported commit lost.
 */
static void bank_crash(const char *mode, int kills)
{
	const char *uri = "file:db1/bank.db?vfs=ringd";
	char *side = g_side, seed[16];
	bool wal = !strcmp(mode, "--wal");
	const char *init[] = { BANK_BIN, mode, "init", uri, "20", NULL };
	const char *check[] = { BANK_BIN, mode, "check", uri, "20", side, NULL };
	const char *run[] = { BANK_BIN, mode, "run", uri, side, seed, NULL, NULL };
	int fd, i, st, hot = 0;

	need_sqlite();
	snprintf(g_side, sizeof(g_side), "/tmp/ringd-bank-side.XXXXXX");
	fd = mkstemp(side);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fchown(fd, RT_UID_A, RT_UID_A), 0);
	close(fd);

	st = tenant_run(init, NULL, in_dir("bank.out"), in_dir("bank.err"));
	cr_assert_eq(st, 0, "bank init exited %d: %s", st, slurp(in_dir("bank.err")));
	srand((unsigned int)time(NULL));
	for (i = 0; i < kills; i++) {
		long before = count_lines(side);
		pid_t pid;

		snprintf(seed, sizeof(seed), "%d", i + 1);
		pid = tenant_spawn(run, NULL, -1, in_dir("bank.out"), in_dir("bank.err"));
		/* Let it commit at least one transfer, then a little more. */
		if (!rt_wait_for(20000, count_lines(side) > before ||
					    waitpid(pid, NULL, WNOHANG) == pid)) {
			kill(pid, SIGKILL);
			rt_wait_child(pid);
			cr_assert_fail("round %d: no transfer committed in 20 s: %s", i,
				       slurp(in_dir("bank.err")));
		}
		usleep((useconds_t)(rand() % 30000));
		cr_assert_eq(kill(pid, SIGKILL), 0, "round %d: the tenant had exited: %s", i,
			     slurp(in_dir("bank.err")));
		st = rt_wait_child(pid);
		cr_assert_eq(st, 128 + SIGKILL, "round %d: exit %d: %s", i, st,
			     slurp(in_dir("bank.err")));
		hot += hot_journal(in_dir("db1/bank.db-journal"));
	}
	/* A clean run carries on from whatever the kills left. */
	run[6] = "50";
	snprintf(seed, sizeof(seed), "%d", kills + 1);
	st = tenant_run(run, NULL, in_dir("bank.out"), in_dir("bank.err"));
	cr_assert_eq(st, 0, "final bank run exited %d: %s", st, slurp(in_dir("bank.err")));

	st = tenant_run(check, NULL, in_dir("bank.out"), in_dir("bank.err"));
	if (wal)
		fprintf(stderr, "bank %s, %d kills: %s", mode, kills, slurp(in_dir("bank.out")));
	else
		fprintf(stderr, "bank %s, %d kills (%d left a hot journal): %s", mode, kills, hot,
			slurp(in_dir("bank.out")));
	cr_assert_eq(st, 0, "bank check exited %d: %s %s", st, slurp(in_dir("bank.out")),
		     slurp(in_dir("bank.err")));
	cr_assert(strstr(slurp(in_dir("bank.out")), "check: ok:"));
	cr_assert_geq(count_lines(side), kills + 50);
	/* The kills did land inside transactions, and were recovered from. */
	if (!wal)
		cr_assert_gt(hot, 0, "no kill of %d left a hot journal", kills);
}

Test(sqlite, bank_survives_50_kills_delete_journal, .init = daemon_start, .fini = daemon_stop,
     .timeout = 300)
{
	bank_crash("--delete", 50);
}

Test(sqlite, bank_survives_50_kills_truncate_journal, .init = daemon_start, .fini = daemon_stop,
     .timeout = 300)
{
	bank_crash("--truncate", 50);
}

Test(sqlite, bank_survives_50_kills_persist_journal, .init = daemon_start, .fini = daemon_stop,
     .timeout = 300)
{
	bank_crash("--persist", 50);
}

Test(sqlite, bank_survives_50_kills_wal_exclusive, .init = daemon_start, .fini = daemon_stop,
     .timeout = 300)
{
	bank_crash("--wal", 50);
}

/*
 * The daemon restarts (SIGTERM, then SIGKILL) under a tenant in the middle
 * of its transfers: libringd reconnects and reopens (and locks again) the
 * database and its journal by path, and the tenant finishes its run
 * without seeing an error; nothing reported committed is lost.
 */
Test(sqlite, bank_carries_on_across_daemon_restarts, .init = daemon_start, .fini = daemon_stop,
     .timeout = 300)
{
	const char *uri = "file:db1/bank.db?vfs=ringd";
	char *side = g_side;
	const char *init[] = { BANK_BIN, "--delete", "init", uri, "20", NULL };
	const char *check[] = { BANK_BIN, "--delete", "check", uri, "20", side, NULL };
	const char *run[] = { BANK_BIN, "--delete", "run", uri, side, "7", "400", NULL };
	static const int sigs[] = { SIGTERM, SIGKILL };
	unsigned int i;
	pid_t pid;
	int fd, st, ret;

	need_sqlite();
	snprintf(g_side, sizeof(g_side), "/tmp/ringd-bank-side.XXXXXX");
	fd = mkstemp(side);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fchown(fd, RT_UID_A, RT_UID_A), 0);
	close(fd);
	st = tenant_run(init, NULL, in_dir("bank.out"), in_dir("bank.err"));
	cr_assert_eq(st, 0, "bank init exited %d: %s", st, slurp(in_dir("bank.err")));

	pid = tenant_spawn(run, NULL, -1, in_dir("bank.out"), in_dir("bank.err"));
	for (i = 0; i < 2; i++) {
		long before = count_lines(side);

		cr_assert(rt_wait_for(20000, count_lines(side) > before + 20),
			  "restart %u: the tenant made no progress: %s", i,
			  slurp(in_dir("bank.err")));
		cr_assert_eq(kill(g_d.pid, sigs[i]), 0);
		cr_assert_eq(waitpid(g_d.pid, &st, 0), g_d.pid);
		g_d.pid = -1;
		ret = rt_daemon_launch(&g_d);
		cr_assert_eq(ret, 0, "ringd did not start again: %s", strerror(-ret));
	}
	st = rt_wait_child(pid);
	cr_assert_eq(st, 0, "bank run exited %d across the restarts: %s", st,
		     slurp(in_dir("bank.err")));
	cr_assert_eq(count_lines(side), 400);

	st = tenant_run(check, NULL, in_dir("bank.out"), in_dir("bank.err"));
	cr_assert_eq(st, 0, "bank check exited %d: %s %s", st, slurp(in_dir("bank.out")),
		     slurp(in_dir("bank.err")));
	cr_assert(strstr(slurp(in_dir("bank.out")), "check: ok:"));
}

/*
 * The daemon SIGKILLed @kills times under a tenant making transfers, and
 * restarted as systemd would: with the fd store (@store: sessions, open
 * files and locks carry on; the tenant never notices) or without it
 * (libringd reconnects and opens and locks the database and its journal
 * again). The tenant finishes its run without an error; integrity_check
 * ok, the money adds up, every reported commit is there.
 */
static void bank_daemon_kills(bool store, bool wal, int kills)
{
	const char *uri = "file:db1/bank.db?vfs=ringd";
	const char *mode = wal ? "--wal" : "--delete";
	char side[] = "/tmp/ringd-bank-side.XXXXXX", total[16];
	const char *init[] = { BANK_BIN, mode, "init", uri, "20", NULL };
	const char *check[] = { BANK_BIN, mode, "check", uri, "20", side, NULL };
	const char *run[] = { BANK_BIN, mode, "run", uri, side, "11", total, NULL };
	struct rt_notify n;
	pid_t pid;
	int fd, st, ret, i;
	long done;

	need_sqlite();
	fd = mkstemp(side);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fchown(fd, RT_UID_A, RT_UID_A), 0);
	close(fd);
	/* The fixture's daemon goes; this one plays systemd's notify and store. */
	daemon_stop();
	cr_assert_eq(rt_daemon_prepare(&g_d, conf), 0);
	cr_assert_eq(mkdir(in_dir("db1"), 0700), 0);
	cr_assert_eq(rt_notify_open(&n, g_d.dir), 0);
	n.discard_fds = !store;
	cr_assert_eq(rt_notify_launch(&n, &g_d, store), 0);
	st = tenant_run(init, NULL, in_dir("bank.out"), in_dir("bank.err"));
	cr_assert_eq(st, 0, "bank init exited %d: %s", st, slurp(in_dir("bank.err")));
	snprintf(total, sizeof(total), "%d", 100000);
	pid = tenant_spawn(run, NULL, -1, in_dir("bank.out"), in_dir("bank.err"));
	srand(4242);
	for (i = 0; i < kills; i++) {
		long before = count_lines(side);

		uint64_t born = rt_now_ms();

		/* Each instance lives until the tenant has committed more on it,
		 * and at least 300 ms: a restart storm, not a crash loop faster
		 * than a reconnect. */
		if (!rt_wait_for(30000,
				 (count_lines(side) > before + 5 && rt_now_ms() - born >= 300) ||
				     waitpid(pid, NULL, WNOHANG) == pid)) {
			rt_print_log(&g_d);
			cr_assert_fail("kill %d: the tenant made no progress: %s", i,
				       slurp(in_dir("bank.err")));
		}
		usleep((useconds_t)(rand() % 20000));
		cr_assert_eq(kill(g_d.pid, SIGKILL), 0);
		cr_assert_eq(waitpid(g_d.pid, &st, 0), g_d.pid);
		g_d.pid = -1;
		ret = rt_notify_launch(&n, &g_d, store);
		cr_assert_eq(ret, 0, "kill %d: ringd did not come back: %s", i, strerror(-ret));
	}
	done = count_lines(side);
	/* Let it commit more after the last restart, then stop it cleanly. */
	if (!rt_wait_for(30000, count_lines(side) > done + 20)) {
		rt_print_log(&g_d);
		cr_assert_fail("the tenant made no progress after the last restart: %s",
			       slurp(in_dir("bank.err")));
	}
	cr_assert_eq(kill(pid, SIGTERM), 0);
	st = rt_wait_child(pid);
	cr_assert(st == 0 || st == 128 + SIGTERM, "bank run exited %d across %d restarts: %s", st,
		  kills, slurp(in_dir("bank.err")));
	st = tenant_run(check, NULL, in_dir("bank.out"), in_dir("bank.err"));
	fprintf(stderr, "bank %s, daemon SIGKILLed %d times (%s): %ld transfers committed: %s",
		wal ? "WAL" : "DELETE", kills, store ? "fd store" : "plain restart",
		count_lines(side), slurp(in_dir("bank.out")));
	cr_assert_eq(st, 0, "bank check exited %d: %s %s", st, slurp(in_dir("bank.out")),
		     slurp(in_dir("bank.err")));
	cr_assert(strstr(slurp(in_dir("bank.out")), "check: ok:"));
	unlink(side);
	daemon_stop();
	rt_notify_close(&n);
}

Test(sqlite_restart, bank_20_daemon_kills_with_fd_store, .init = daemon_start, .fini = daemon_stop,
     .timeout = 300)
{
	bank_daemon_kills(true, false, 20);
}

Test(sqlite_restart, bank_20_daemon_kills_plain_restart, .init = daemon_start, .fini = daemon_stop,
     .timeout = 300)
{
#ifdef RINGD_SANITIZED
	/* Known: under ASan's slowdown about one run in eight sees one SQLite
	 * I/O error while libringd reconnects to a daemon restarted every few
	 * hundred ms (cause not found yet); the plain build runs this test. */
	daemon_stop();
	cr_skip_test("flaky under ASan (a reconnect racing restarts 300 ms apart); the plain "
		     "build runs it");
#endif
	bank_daemon_kills(false, false, 20);
}

Test(sqlite_restart, bank_wal_20_daemon_kills_with_fd_store, .init = daemon_start,
     .fini = daemon_stop, .timeout = 300)
{
	bank_daemon_kills(true, true, 20);
}

static const char four_conf[] = "[volume t0]\ndir = @DIR@/t0\nsize = 64M\n\n"
				"[volume t1]\ndir = @DIR@/t1\nsize = 64M\n\n"
				"[volume t2]\ndir = @DIR@/t2\nsize = 64M\n\n"
				"[volume t3]\ndir = @DIR@/t3\nsize = 64M\n\n"
				"[tenant a0]\nuid = 61101\nvolumes = t0:rw\n\n"
				"[tenant a1]\nuid = 61102\nvolumes = t1:rw\n\n"
				"[tenant a2]\nuid = 61103\nvolumes = t2:rw\n\n"
				"[tenant a3]\nuid = 61104\nvolumes = t3:rw\n";

/* sqlite-run as tenant @t on @uri with @sql; its exit status, output in "t@t.out". */
static int four_run(int t, const char *uri, const char *sql)
{
	const char *argv[] = { SQLITE_RUN_BIN, uri, NULL };
	char in[32], out[32], err[32];

	snprintf(in, sizeof(in), "t%d.sql", t);
	snprintf(out, sizeof(out), "t%d.out", t);
	snprintf(err, sizeof(err), "t%d.err", t);
	write_file(in_dir(in), sql);
	g_uid = (uid_t)(61101 + t);
	return tenant_run(argv, in_dir(in), in_dir(out), in_dir(err));
}

/*
 * Four tenants (four uids, four directory volumes) run their banks at
 * once; none can open another's database, by its volume's name or by a
 * path out of its own; a symlink root planted in a tenant's directory
 * towards another's database is not followed.
 */
Test(sqlite, four_tenants_at_once_cannot_reach_each_other, .timeout = 300)
{
	char side[4][40], uri[4][48], acct[] = "10", seed[4][8], link[320], target[200];
	pid_t pids[4];
	int t, o, st;

	need_sqlite();
	cr_assert_eq(rt_daemon_prepare(&g_d, four_conf), 0);
	cr_assert_eq(rt_daemon_launch(&g_d), 0);
	for (t = 0; t < 4; t++) {
		const char *init[] = { BANK_BIN, "--wal", "init", uri[t], acct, NULL };
		int fd;

		snprintf(side[t], sizeof(side[t]), "/tmp/ringd-four-side.XXXXXX");
		fd = mkstemp(side[t]);
		cr_assert_geq(fd, 0);
		cr_assert_eq(fchown(fd, 61101 + t, 61101 + t), 0);
		close(fd);
		snprintf(uri[t], sizeof(uri[t]), "file:t%d/bank.db?vfs=ringd", t);
		snprintf(seed[t], sizeof(seed[t]), "%d", t + 1);
		g_uid = (uid_t)(61101 + t);
		st = tenant_run(init, NULL, in_dir("init.out"), in_dir("init.err"));
		cr_assert_eq(st, 0, "tenant %d: bank init exited %d: %s", t, st,
			     slurp(in_dir("init.err")));
	}
	/* All four at once. */
	for (t = 0; t < 4; t++) {
		const char *run[] = { BANK_BIN, "--wal", "run", uri[t],
				      side[t],	seed[t], "300", NULL };
		char out[16], err[16];

		snprintf(out, sizeof(out), "b%d.out", t);
		snprintf(err, sizeof(err), "b%d.err", t);
		g_uid = (uid_t)(61101 + t);
		pids[t] = tenant_spawn(run, NULL, -1, in_dir(out), in_dir(err));
	}
	/* Meanwhile every tenant tries every other's database. */
	for (t = 0; t < 4; t++)
		for (o = 0; o < 4; o++) {
			char u[64];

			if (o == t)
				continue;
			snprintf(u, sizeof(u), "file:t%d/bank.db?vfs=ringd", o);
			st = four_run(t, u, "SELECT count(*) FROM accounts;\n");
			cr_assert_eq(st, SQLITE_CANTOPEN,
				     "tenant %d opened t%d's database (%d): %s", t, o, st,
				     slurp(in_dir("t0.out")));
			snprintf(u, sizeof(u), "file:t%d/../t%d/bank.db?vfs=ringd", t, o);
			st = four_run(t, u, "SELECT count(*) FROM accounts;\n");
			cr_assert_eq(st, SQLITE_CANTOPEN, "tenant %d escaped with '..' (%d)", t,
				     st);
		}
	/* A symlink planted by root in t0's directory, to t1's database. */
	snprintf(link, sizeof(link), "%s/t0/evil.db", g_d.dir);
	snprintf(target, sizeof(target), "%s/t1/bank.db", g_d.dir);
	cr_assert_eq(symlink(target, link), 0);
	st = four_run(0, "file:t0/evil.db?vfs=ringd", "SELECT count(*) FROM accounts;\n");
	cr_assert_eq(st, SQLITE_CANTOPEN, "the symlink was followed (%d)", st);
	/* An absolute path. */
	snprintf(link, sizeof(link), "file:t0/%s?vfs=ringd", target);
	st = four_run(0, link, "SELECT 1;\n");
	cr_assert_neq(st, 0, "an absolute path opened");
	for (t = 0; t < 4; t++) {
		const char *check[] = { BANK_BIN, "--wal", "check", uri[t], acct, side[t], NULL };

		st = rt_wait_child(pids[t]);
		cr_assert_eq(st, 0, "tenant %d: bank run exited %d", t, st);
		g_uid = (uid_t)(61101 + t);
		st = tenant_run(check, NULL, in_dir("check.out"), in_dir("check.err"));
		cr_assert_eq(st, 0, "tenant %d: check exited %d: %s %s", t, st,
			     slurp(in_dir("check.out")), slurp(in_dir("check.err")));
		cr_assert(strstr(slurp(in_dir("check.out")), "check: ok:"));
		cr_assert_eq(count_lines(side[t]), 300);
		unlink(side[t]);
	}
	g_uid = RT_UID_A;
	daemon_stop();
}

/*
 * kernel.io_uring_disabled = 1 (Linux 6.6 and later): the kernel refuses
 * io_uring to unprivileged processes outright. The Debian 6.1 kernel of
 * the VM suite has no such switch, so this runs on the host, restoring
 * the setting afterwards: a tenant (no seccomp wrapper needed) cannot set
 * up a ring, and its SQLite database on ringd works.
 */
Test(sqlite, io_uring_disabled_by_the_kernel_ringd_still_serves, .init = daemon_start,
     .fini = daemon_stop, .timeout = 120)
{
	static const char knob[] = "/proc/sys/kernel/io_uring_disabled";
	const char *probe_bin = rt_stage_bin(URING_PROBE_BIN);
	char was[16] = "", out[192];
	static char sqlout[262144];
	FILE *f;
	pid_t pid;
	int st, sql_st;

	need_sqlite();
	f = fopen(knob, "r");
	if (!f)
		cr_skip_test("this kernel has no %s (Linux 6.6 and later)", knob);
	if (!fgets(was, sizeof(was), f))
		was[0] = '\0';
	fclose(f);
	f = fopen(knob, "w");
	if (!f || fputs("1\n", f) < 0 || fclose(f))
		cr_skip_test("cannot write %s here: %s", knob, strerror(errno));
	snprintf(out, sizeof(out), "%s", in_dir("k.out"));
	/* The probe as the tenant's uid, outside the seccomp wrapper: the kernel refuses. */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || dup2(o, 1) < 0 || setgroups(0, NULL) ||
		    setresgid(RT_UID_A, RT_UID_A, RT_UID_A) ||
		    setresuid(RT_UID_A, RT_UID_A, RT_UID_A))
			_exit(125);
		execl(probe_bin, "uring-probe", (char *)NULL);
		_exit(127);
	}
	st = rt_wait_child(pid);
	/* SQLite through ringd meanwhile. */
	sql_st = sqlite_run("file:db1/k.db?vfs=ringd", "CREATE TABLE t(x);\n"
						       "INSERT INTO t VALUES(42);\n"
						       "SELECT x FROM t;\n"
						       "PRAGMA integrity_check;\n");
	snprintf(sqlout, sizeof(sqlout), "%s", slurp(in_dir("run.out")));
	/* Restore before asserting anything. */
	f = fopen(knob, "w");
	cr_assert_not_null(f);
	fputs(was[0] ? was : "0\n", f);
	fclose(f);
	cr_assert_eq(st, 1, "uring-probe exited %d: %s", st, slurp(out));
	cr_assert(strstr(slurp(out), "io_uring: Operation not permitted"), "%s", slurp(out));
	cr_assert_eq(sql_st, 0, "sqlite-run exited %d: %s", sql_st, sqlout);
	cr_assert_str_eq(sqlout, "opened\n42\nok\n");
}
