/* SPDX-License-Identifier: MIT */
/*
 * bank: money moves between accounts of a SQLite database on the ringd VFS,
 * one transfer per transaction, and must never appear or vanish.
 *
 *   bank [--wal|--delete|--truncate|--persist] init  URI ACCOUNTS          ACCOUNTS accounts of
 * 1000 each bank [--wal|--delete|--truncate|--persist] run   URI SIDEFILE SEED [N] N transfers (0
 * or none: until killed) bank [--wal|--delete|--truncate|--persist] check URI ACCOUNTS SIDEFILE
 *
 * Each transfer takes the next id in txlog, moves a random amount between
 * two random accounts and logs it, in one transaction. Only after COMMIT
 * has returned does `run` append the id to SIDEFILE and fsync it: every id
 * there was reported committed. `check` verifies PRAGMA integrity_check,
 * that the balances still add up to ACCOUNTS * 1000, and that every id in
 * SIDEFILE is in txlog; it exits 0 only if all three hold.
 *
 * --wal: journal_mode=WAL in locking_mode=EXCLUSIVE (the ringd VFS has no
 * shared memory), set before the first read of every open; otherwise that
 * rollback journal mode (--delete, the default). synchronous=FULL always.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringd-sqlite.h"

#define BANK_START 1000

/* The journal mode: "wal" (with locking_mode=EXCLUSIVE) or a rollback mode. */
static const char *g_mode = "delete";

static void die_db(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bank: %s: %s (%d)\n", what, sqlite3_errmsg(db),
		sqlite3_extended_errcode(db));
	exit(1);
}

/* Run @sql (no rows wanted). Returns the SQLite code. */
static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* A checked strtoll: exits on anything but a whole number. */
static long long num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "bank: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

/* The one value of @sql as text into @out; exits on error. */
static void query1(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die_db(db, sql);
	if (sqlite3_step(st) != SQLITE_ROW)
		die_db(db, sql);
	snprintf(out, len, "%s",
		 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
}

/*
 * Open @uri and set the journal mode. SQLITE_BUSY (the lock of a killed
 * predecessor whose session the daemon has not yet dropped) is retried for
 * up to 10 s. Exits on failure.
 */
static sqlite3 *bank_open(const char *uri)
{
	char sql[64], mode[16];
	sqlite3 *db = NULL;
	int rc, tries;

	for (tries = 0; tries < 1000; tries++) {
		rc = sqlite3_open_v2(
		    uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
		if (rc != SQLITE_BUSY)
			break;
		sqlite3_close(db);
		db = NULL;
		usleep(10000);
	}
	if (rc != SQLITE_OK)
		die_db(db, "open");
	if (!strcmp(g_mode, "wal") && exec(db, "PRAGMA locking_mode=EXCLUSIVE") != SQLITE_OK)
		die_db(db, "locking_mode");
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode=%s", g_mode);
	query1(db, sql, mode, sizeof(mode));
	if (strcmp(mode, g_mode)) {
		fprintf(stderr, "bank: journal_mode %s, not %s\n", mode, g_mode);
		exit(1);
	}
	if (exec(db, "PRAGMA synchronous=FULL") != SQLITE_OK)
		die_db(db, "synchronous");
	return db;
}

static int cmd_init(const char *uri, long long accounts)
{
	sqlite3 *db = bank_open(uri);
	sqlite3_stmt *st;
	long long i;

	if (exec(db, "BEGIN; CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT "
		     "NULL); CREATE TABLE txlog(id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, "
		     "amount INTEGER, memo BLOB)") != SQLITE_OK)
		die_db(db, "create");
	if (sqlite3_prepare_v2(db, "INSERT INTO accounts VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
		die_db(db, "prepare insert");
	for (i = 0; i < accounts; i++) {
		sqlite3_bind_int64(st, 1, i);
		sqlite3_bind_int64(st, 2, BANK_START);
		if (sqlite3_step(st) != SQLITE_DONE)
			die_db(db, "insert account");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (exec(db, "COMMIT") != SQLITE_OK)
		die_db(db, "commit");
	if (sqlite3_close(db) != SQLITE_OK)
		die_db(db, "close");
	printf("init: %lld accounts\n", accounts);
	return 0;
}

static int cmd_run(const char *uri, const char *side, unsigned int seed, long long count)
{
	sqlite3 *db = bank_open(uri);
	sqlite3_stmt *next, *debit, *credit, *log;
	long long accounts, done;
	char buf[64];
	int fd;

	fd = open(side, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "bank: %s: %s\n", side, strerror(errno));
		return 1;
	}
	query1(db, "SELECT count(*) FROM accounts", buf, sizeof(buf));
	accounts = num(buf);
	if (accounts < 2) {
		fprintf(stderr, "bank: fewer than 2 accounts\n");
		return 1;
	}
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) + 1 FROM txlog", -1, &next, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE accounts SET balance = balance - ?2 WHERE id = ?1", -1,
			       &debit, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE accounts SET balance = balance + ?2 WHERE id = ?1", -1,
			       &credit, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO txlog VALUES(?, ?, ?, ?, randomblob(300))", -1,
			       &log, NULL) != SQLITE_OK)
		die_db(db, "prepare");
	srand(seed);
	for (done = 0; !count || done < count; done++) {
		long long src = rand() % accounts, dst = rand() % accounts;
		long long amount = 1 + rand() % 100, id;
		int len;

		if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK)
			die_db(db, "begin");
		if (sqlite3_step(next) != SQLITE_ROW)
			die_db(db, "next id");
		id = sqlite3_column_int64(next, 0);
		sqlite3_reset(next);
		sqlite3_bind_int64(debit, 1, src);
		sqlite3_bind_int64(debit, 2, amount);
		sqlite3_bind_int64(credit, 1, dst);
		sqlite3_bind_int64(credit, 2, amount);
		sqlite3_bind_int64(log, 1, id);
		sqlite3_bind_int64(log, 2, src);
		sqlite3_bind_int64(log, 3, dst);
		sqlite3_bind_int64(log, 4, amount);
		if (sqlite3_step(debit) != SQLITE_DONE || sqlite3_step(credit) != SQLITE_DONE ||
		    sqlite3_step(log) != SQLITE_DONE)
			die_db(db, "transfer");
		sqlite3_reset(debit);
		sqlite3_reset(credit);
		sqlite3_reset(log);
		if (exec(db, "COMMIT") != SQLITE_OK)
			die_db(db, "commit");
		/* Committed: only now may the id be reported. */
		len = snprintf(buf, sizeof(buf), "%lld\n", id);
		if (write(fd, buf, (size_t)len) != len || fsync(fd)) {
			fprintf(stderr, "bank: %s: %s\n", side, strerror(errno));
			return 1;
		}
	}
	sqlite3_finalize(next);
	sqlite3_finalize(debit);
	sqlite3_finalize(credit);
	sqlite3_finalize(log);
	close(fd);
	if (sqlite3_close(db) != SQLITE_OK)
		die_db(db, "close");
	printf("run: %lld transfers\n", done);
	return 0;
}

static int cmd_check(const char *uri, long long accounts, const char *side)
{
	sqlite3 *db = bank_open(uri);
	long long reported = 0, missing = 0, sum, n, logged;
	char buf[256], line[64];
	sqlite3_stmt *has;
	FILE *f;
	int bad = 0;

	query1(db, "PRAGMA integrity_check", buf, sizeof(buf));
	if (strcmp(buf, "ok")) {
		printf("check: integrity_check: %s\n", buf);
		bad = 1;
	}
	query1(db, "SELECT count(*) FROM accounts", buf, sizeof(buf));
	n = num(buf);
	query1(db, "SELECT sum(balance) FROM accounts", buf, sizeof(buf));
	sum = num(buf);
	if (n != accounts || sum != accounts * BANK_START) {
		printf("check: %lld accounts holding %lld, want %lld holding %lld\n", n, sum,
		       accounts, accounts * BANK_START);
		bad = 1;
	}
	query1(db, "SELECT count(*) FROM txlog", buf, sizeof(buf));
	logged = num(buf);
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM txlog WHERE id = ?", -1, &has, NULL) != SQLITE_OK)
		die_db(db, "prepare");
	f = fopen(side, "re");
	if (!f) {
		printf("check: %s: %s\n", side, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		reported++;
		sqlite3_bind_int64(has, 1, num(line));
		if (sqlite3_step(has) != SQLITE_ROW) {
			if (missing++ < 10)
				printf("check: transfer %s was reported committed but is lost\n",
				       line);
			bad = 1;
		}
		sqlite3_reset(has);
	}
	fclose(f);
	sqlite3_finalize(has);
	if (sqlite3_close(db) != SQLITE_OK)
		die_db(db, "close");
	printf("check: %s: %lld accounts, sum %lld, %lld transfers logged, %lld reported "
	       "committed, %lld lost\n",
	       bad ? "FAILED" : "ok", n, sum, logged, reported, missing);
	return bad;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: bank [--wal|--delete|--truncate|--persist] init URI ACCOUNTS\n"
		"       bank [--wal|--delete|--truncate|--persist] run URI SIDEFILE SEED [COUNT]\n"
		"       bank [--wal|--delete|--truncate|--persist] check URI ACCOUNTS SIDEFILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc > 1 && (!strcmp(argv[1], "--wal") || !strcmp(argv[1], "--delete") ||
			 !strcmp(argv[1], "--truncate") || !strcmp(argv[1], "--persist"))) {
		g_mode = argv[1] + 2;
		argc--;
		argv++;
	}
	if (argc < 3)
		return usage();
	rc = ringd_sqlite_register(0);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "bank: cannot register the ringd VFS: %s\n", sqlite3_errstr(rc));
		return 1;
	}
	if (!strcmp(argv[1], "init") && argc == 4)
		return cmd_init(argv[2], num(argv[3]));
	if (!strcmp(argv[1], "run") && (argc == 5 || argc == 6))
		return cmd_run(argv[2], argv[3], (unsigned int)num(argv[4]),
			       argc == 6 ? num(argv[5]) : 0);
	if (!strcmp(argv[1], "check") && argc == 5)
		return cmd_check(argv[2], num(argv[3]), argv[4]);
	return usage();
}
