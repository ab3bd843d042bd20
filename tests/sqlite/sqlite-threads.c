/* SPDX-License-Identifier: MIT */
/*
 * sqlite-threads VOLUME THREADS ROWS: THREADS threads at once, each with
 * its own connection to its own database VOLUME/threads-N.db on the ringd
 * VFS, all sharing the process's one libringd session. Each inserts ROWS
 * rows of 2000 bytes, ten per transaction, then checks its count and
 * PRAGMA integrity_check. Prints "threads: ok" and exits 0 if every thread
 * did; otherwise says which failed and how.
 *
 * sqlite-threads --same VOLUME THREADS ROWS: every thread's connection is
 * to one database, VOLUME/threads-same.db (the main thread keeps one open
 * too), and each makes ROWS increments of one counter, one BEGIN
 * IMMEDIATE transaction each, reading it between them; SQLITE_BUSY is
 * waited out (busy_timeout). The counter must end at THREADS * ROWS.
 *
 * sqlite-threads --fork VOLUME: a process with a database open forks; the
 * child works on a database of its own (through a session of its own),
 * then the parent carries on with its database. Both must succeed.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringd-sqlite.h"

struct worker {
	pthread_t tid;
	const char *volume;
	int id, rows;
	bool same;
	char error[256];
};

static int worker_fail(struct worker *w, sqlite3 *db, const char *what)
{
	snprintf(w->error, sizeof(w->error), "thread %d: %s: %s", w->id, what,
		 db ? sqlite3_errmsg(db) : "no connection");
	return -1;
}

/* The one integer or text value of @sql into @out. Returns 0 or -1. */
static int query1(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st;
	int ret = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);

		snprintf(out, len, "%s", v ? (const char *)v : "");
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

static int work(struct worker *w)
{
	char uri[256], buf[64];
	sqlite3_stmt *ins;
	sqlite3 *db = NULL;
	int i;

	snprintf(uri, sizeof(uri), "file:%s/threads-%d.db?vfs=ringd", w->volume, w->id);
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK)
		return worker_fail(w, db, "open");
	if (sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)", NULL, NULL, NULL))
		return worker_fail(w, db, "create");
	if (sqlite3_prepare_v2(db, "INSERT INTO t(b) VALUES(randomblob(2000))", -1, &ins, NULL))
		return worker_fail(w, db, "prepare");
	for (i = 0; i < w->rows; i++) {
		if (i % 10 == 0 && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL))
			return worker_fail(w, db, "begin");
		if (sqlite3_step(ins) != SQLITE_DONE)
			return worker_fail(w, db, "insert");
		sqlite3_reset(ins);
		if ((i % 10 == 9 || i == w->rows - 1) &&
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
			return worker_fail(w, db, "commit");
	}
	sqlite3_finalize(ins);
	if (query1(db, "SELECT count(*) FROM t", buf, sizeof(buf)) ||
	    strtol(buf, NULL, 10) != w->rows)
		return worker_fail(w, db, "count");
	if (query1(db, "PRAGMA integrity_check", buf, sizeof(buf)) || strcmp(buf, "ok"))
		return worker_fail(w, db, "integrity_check");
	if (sqlite3_close(db) != SQLITE_OK)
		return worker_fail(w, db, "close");
	return 0;
}

/* Open VOLUME/threads-same.db with a busy timeout; NULL on failure. */
static sqlite3 *open_same(const char *volume)
{
	char uri[256];
	sqlite3 *db = NULL;

	snprintf(uri, sizeof(uri), "file:%s/threads-same.db?vfs=ringd", volume);
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 30000);
	return db;
}

static int work_same(struct worker *w)
{
	sqlite3 *db = open_same(w->volume);
	char buf[64];
	int i;

	if (!db)
		return worker_fail(w, NULL, "open");
	for (i = 0; i < w->rows; i++) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
			return worker_fail(w, db, "begin");
		if (sqlite3_exec(db,
				 "UPDATE c SET n = n + 1; "
				 "INSERT INTO log(pad) VALUES(randomblob(500))",
				 NULL, NULL, NULL))
			return worker_fail(w, db, "update");
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
			return worker_fail(w, db, "commit");
		/* A reader between the writers. */
		if (query1(db, "SELECT n FROM c", buf, sizeof(buf)))
			return worker_fail(w, db, "read");
	}
	if (sqlite3_close(db) != SQLITE_OK)
		return worker_fail(w, db, "close");
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->same)
		work_same(w);
	else
		work(w);
	return NULL;
}

/* Run @sql on @db, then check that "SELECT count(*) FROM t" is @want and
 * the integrity. Returns 0, or -1 with the reason printed. */
static int one_db(sqlite3 *db, const char *sql, const char *want)
{
	char buf[64];

	if (sqlite3_exec(db, sql, NULL, NULL, NULL)) {
		printf("%s: %s\n", sql, sqlite3_errmsg(db));
		return -1;
	}
	if (query1(db, "SELECT count(*) FROM t", buf, sizeof(buf)) || strcmp(buf, want)) {
		printf("count: %s, want %s (%s)\n", buf, want, sqlite3_errmsg(db));
		return -1;
	}
	if (query1(db, "PRAGMA integrity_check", buf, sizeof(buf)) || strcmp(buf, "ok")) {
		printf("integrity_check: %s\n", buf);
		return -1;
	}
	return 0;
}

static sqlite3 *open_named(const char *volume, const char *name)
{
	char uri[256];
	sqlite3 *db = NULL;

	snprintf(uri, sizeof(uri), "file:%s/%s?vfs=ringd", volume, name);
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK) {
		printf("open %s: %s\n", uri, db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static int fork_test(const char *volume)
{
	sqlite3 *db = open_named(volume, "fork-parent.db");
	int status;
	pid_t pid;

	if (!db || one_db(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1)", "1"))
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* Not the parent's connection: a database and session of its own. */
		sqlite3 *cdb = open_named(volume, "fork-child.db");

		if (!cdb || one_db(cdb,
				   "CREATE TABLE t(x); INSERT INTO t VALUES(1); "
				   "INSERT INTO t SELECT x + 1 FROM t",
				   "2"))
			_exit(1);
		_exit(sqlite3_close(cdb) == SQLITE_OK ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("fork: the child failed (status %d)\n", status);
		return 1;
	}
	/* The parent's session is as it left it. */
	if (one_db(db, "INSERT INTO t VALUES(2); INSERT INTO t VALUES(3)", "3"))
		return 1;
	if (sqlite3_close(db) != SQLITE_OK)
		return 1;
	printf("fork: ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct worker *w;
	sqlite3 *main_db = NULL;
	int n, rows, i, failed = 0;
	bool same = argc > 1 && !strcmp(argv[1], "--same");
	char buf[64], want[64];

	if (argc == 3 && !strcmp(argv[1], "--fork")) {
		if (ringd_sqlite_register(0) != SQLITE_OK)
			return 1;
		return fork_test(argv[2]);
	}
	if (same) {
		argc--;
		argv++;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: sqlite-threads [--same] VOLUME THREADS ROWS\n"
				"       sqlite-threads --fork VOLUME\n");
		return 2;
	}
	n = (int)strtol(argv[2], NULL, 10);
	rows = (int)strtol(argv[3], NULL, 10);
	if (n < 1 || n > 64 || rows < 1) {
		fprintf(stderr, "sqlite-threads: 1 to 64 threads, at least 1 row\n");
		return 2;
	}
	if (sqlite3_threadsafe() == 0 || ringd_sqlite_register(0) != SQLITE_OK) {
		fprintf(stderr, "sqlite-threads: no thread-safe SQLite, or no ringd VFS\n");
		return 1;
	}
	if (same) {
		main_db = open_same(argv[1]);
		if (!main_db || sqlite3_exec(main_db,
					     "CREATE TABLE c(n INTEGER); INSERT INTO c VALUES(0); "
					     "CREATE TABLE log(id INTEGER PRIMARY KEY, pad BLOB)",
					     NULL, NULL, NULL)) {
			printf("setup: %s\n", main_db ? sqlite3_errmsg(main_db) : "no connection");
			return 1;
		}
	}
	w = calloc((size_t)n, sizeof(*w));
	if (!w)
		return 1;
	for (i = 0; i < n; i++) {
		w[i].volume = argv[1];
		w[i].id = i;
		w[i].rows = rows;
		w[i].same = same;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			fprintf(stderr, "sqlite-threads: pthread_create failed\n");
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].error[0]) {
			printf("%s\n", w[i].error);
			failed++;
		}
	}
	free(w);
	if (same) {
		snprintf(want, sizeof(want), "%d", n * rows);
		if (query1(main_db, "SELECT n FROM c", buf, sizeof(buf)) || strcmp(buf, want)) {
			printf("counter: %s, want %s\n", buf, want);
			failed++;
		}
		if (query1(main_db, "SELECT count(*) FROM log", buf, sizeof(buf)) ||
		    strcmp(buf, want)) {
			printf("log: %s rows, want %s\n", buf, want);
			failed++;
		}
		if (query1(main_db, "PRAGMA integrity_check", buf, sizeof(buf)) ||
		    strcmp(buf, "ok")) {
			printf("integrity_check: %s\n", buf);
			failed++;
		}
		if (sqlite3_close(main_db) != SQLITE_OK)
			failed++;
	}
	printf("threads: %s\n", failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}
