/* SPDX-License-Identifier: MIT */
/*
 * sqlite-run URI: a minimal SQL runner over the ringd VFS, for tests that
 * must also run in sanitizer builds (where the uninstrumented sqlite3 shell
 * cannot load an instrumented libringd-sqlite). Opens URI (with
 * SQLITE_OPEN_URI) and runs stdin one line at a time: each line's
 * statements in turn, rows printed '|'-separated, an error printed as
 * "error: CODE (extended) message" after which the next statement runs.
 * Output is flushed after every line, so a test can drive it through a
 * pipe. Exits 0 after the last line, or with the open's SQLite error code
 * ("open: ..." on stdout) if the database cannot be opened.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "ringd-sqlite.h"

/* Run every statement of @sql, printing rows and errors. */
static void run_line(sqlite3 *db, const char *sql)
{
	while (*sql) {
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;
		int rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
		int i;

		if (rc != SQLITE_OK) {
			printf("error: %d (%d) %s\n", rc & 0xff, sqlite3_extended_errcode(db),
			       sqlite3_errmsg(db));
			return;
		}
		if (!st) /* whitespace or a comment */
			break;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			for (i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *v = sqlite3_column_text(st, i);

				printf("%s%s", i ? "|" : "", v ? (const char *)v : "");
			}
			printf("\n");
		}
		if (rc != SQLITE_DONE)
			printf("error: %d (%d) %s\n", rc & 0xff, sqlite3_extended_errcode(db),
			       sqlite3_errmsg(db));
		sqlite3_finalize(st);
		sql = tail;
	}
}

int main(int argc, char **argv)
{
	char line[65536];
	sqlite3 *db;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: sqlite-run URI < SQL\n");
		return 2;
	}
	rc = ringd_sqlite_register(0);
	if (rc != SQLITE_OK) {
		printf("register: %s\n", sqlite3_errstr(rc));
		return rc;
	}
	rc = sqlite3_open_v2(argv[1], &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
	if (rc != SQLITE_OK) {
		printf("open: %d %s\n", rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		fflush(stdout);
		sqlite3_close(db);
		return rc;
	}
	printf("opened\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		run_line(db, line);
		fflush(stdout);
	}
	rc = sqlite3_close(db);
	if (rc != SQLITE_OK)
		printf("close: %s\n", sqlite3_errstr(rc));
	return rc;
}
