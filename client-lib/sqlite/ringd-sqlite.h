/* SPDX-License-Identifier: MIT */
/*
 * libringd-sqlite: a SQLite VFS named "ringd" that keeps databases in the
 * directory volumes of a ringd daemon.
 *
 *	ringd_sqlite_register(0);
 *	sqlite3_open_v2("file:db/app.db?vfs=ringd", &db,
 *			SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
 *
 * The first component of a database name is the volume, the rest the path
 * inside it; the journal and the WAL sit beside the database. The process
 * connects to the daemon at $RINGD_SOCKET (else /run/ringd/ringd.sock) on
 * the first open (a forked child connects its own). A database is locked
 * against every other process while this one has it open (they get
 * SQLITE_BUSY); the connections of this process share it and take SQLite's
 * locks among themselves. Rollback journals work in every mode; WAL only
 * with PRAGMA locking_mode=EXCLUSIVE (the VFS has no shared memory). From
 * the sqlite3 shell: .load .../libringd-sqlite.so
 */
#ifndef RINGD_SQLITE_H
#define RINGD_SQLITE_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Register the "ringd" VFS with SQLite, as the default VFS if @make_default
 * is non-zero. Calling it again is harmless. Returns SQLITE_OK or an
 * SQLite error code.
 */
int ringd_sqlite_register(int make_default);

#ifdef __cplusplus
}
#endif

#endif
