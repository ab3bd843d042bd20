/* SPDX-License-Identifier: MIT */
/*
 * sqlite-threads VOLUME THREADS ROWS: THREADS threads at once, each with
 * its own connection to its own database VOLUME/threads-N.db on the ringd
 * VFS, all sharing the process's one libringd session. Each inserts ROWS
 * rows of 2000 bytes, ten per transaction, then checks its count and
 * PRAGMA integrity_check. Prints "threads: ok" and exits 0 if every thread
 * did; otherwise says which failed and how.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringd-sqlite.h"

struct worker {
	pthread_t tid;
	const char *volume;
	int id, rows;
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

static void *worker_main(void *arg)
{
	work(arg);
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *w;
	int n, rows, i, failed = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: sqlite-threads VOLUME THREADS ROWS\n");
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
	w = calloc((size_t)n, sizeof(*w));
	if (!w)
		return 1;
	for (i = 0; i < n; i++) {
		w[i].volume = argv[1];
		w[i].id = i;
		w[i].rows = rows;
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
	printf("threads: %s\n", failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}
