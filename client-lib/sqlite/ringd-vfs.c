/* SPDX-License-Identifier: MIT */
/*
 * rv_: the "ringd" SQLite VFS (ringd-sqlite.h). Database files live in
 * directory volumes of the daemon: "VOLUME/path/to.db" opens path/to.db of
 * volume VOLUME with ringd_open_file(), and every read, write and sync is a
 * request on the process's one ring.
 *
 * One struct ringd per process serves every connection and thread. It is
 * not thread-safe, so everything that touches it holds rv_mu, and I/O runs
 * one request at a time through a single bounce buffer in the shared data
 * area (the daemon only reads and writes that area): SQLite's page buffers
 * are copied in and out, at most rv_chunk bytes per request.
 *
 * Locking: the main database is opened with RINGD_LOCK, which excludes
 * every other session (so every other process) until it is closed. Inside
 * the process, connections to one database share one handle (a second
 * handle of the same session would get the lock too, and closing either
 * would release it), and SQLite's lock levels are kept between them here,
 * as the unix VFS keeps them between the connections of one process: many
 * SHARED, one RESERVED, PENDING to drain the readers, then EXCLUSIVE.
 * There is no shared memory (io_methods version 1), so SQLite allows WAL
 * only in locking_mode=EXCLUSIVE and keeps the WAL index on its heap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The extension API's struct without its sqlite3_* -> sqlite3_api-> macros:
 * this library calls the libsqlite3 it is linked against. */
#define SQLITE_CORE 1
#include <sqlite3.h>
#include <sqlite3ext.h>

#include "ringd-sqlite.h"
#include "ringd.h"

#define RV_MAX_PATHNAME 512
/* The largest request: within the daemon's default max_io_size (1M); halved
 * on -EINVAL down to the smallest it may be configured to (4K). */
#define RV_CHUNK_MAX (256u * 1024u)
#define RV_CHUNK_MIN 4096u

/* A main database open in this process: its one handle and its lock state
 * across the process's connections (rv_mu). */
struct rv_db {
	struct rv_db *next;
	char volume[RV_MAX_PATHNAME];
	char path[RV_MAX_PATHNAME];
	int handle;
	bool writable;
	unsigned int refs;    /* rv_files sharing the handle */
	unsigned int nshared; /* of them, those at SHARED or above */
	int lock;	      /* the highest SQLITE_LOCK_* any of them holds */
};

struct rv_file {
	sqlite3_file base; /* first: SQLite casts */
	int handle;
	int lock;	   /* SQLITE_LOCK_* this connection holds */
	struct rv_db *db;  /* main databases only, else NULL */
	unsigned long gen; /* rv_gen when opened: the session it belongs to */
	bool delete_on_close;
	char volume[RV_MAX_PATHNAME];
	char path[RV_MAX_PATHNAME];
};

/* The process's connection to the daemon, made on first use. */
static pthread_mutex_t rv_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ringd *rv_rd;
static void *rv_buf;
static unsigned int rv_chunk = RV_CHUNK_MAX;
/* The volume of the last main database opened: temporary files go there. */
static char rv_temp_volume[RV_MAX_PATHNAME];
static unsigned long rv_temp_seq;
/* The VFS this one leaves time, randomness and dlopen to ("unix"). */
static sqlite3_vfs *rv_base;
/* The main databases open in this process. */
static struct rv_db *rv_dbs;
/* Bumped in a forked child, which must not use its parent's session. */
static unsigned long rv_gen;

/* Connect (once) with rv_mu held. Returns 0 or -errno. */
static int rv_connect_locked(void)
{
	struct ringd_opts o = { 0 }; /* socket: $RINGD_SOCKET, else the default */
	int ret;

	if (rv_rd)
		return 0;
	ret = ringd_connect(&o, &rv_rd);
	if (ret)
		return ret;
	rv_buf = ringd_buf_alloc(rv_rd, RV_CHUNK_MAX, 4096);
	if (!rv_buf) {
		ringd_disconnect(rv_rd);
		rv_rd = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * Run control call @call (an expression returning 0, a count or -errno)
 * with rv_mu held, once more if it failed with -ENOTCONN. libringd
 * reconnects before a call once it knows the daemon went away, but a call
 * during which it learns that (a restart under it) fails: the second try
 * reconnects (waiting up to 30 s for the new daemon) and reopens every
 * handle. Each call below is idempotent, or its retry is handled by the
 * caller (an unlink that already happened: -ENOENT).
 */
#define RV_CTL(call)                                                                               \
	({                                                                                         \
		int __ret = (call);                                                                \
		if (__ret == -ENOTCONN)                                                            \
			__ret = (call);                                                            \
		__ret;                                                                             \
	})

/*
 * Split "VOLUME/path" (leading slashes ignored) into @vol and @path.
 * Returns 0, or -EINVAL if either part is empty, -ENAMETOOLONG.
 */
static int rv_split(const char *name, char vol[RV_MAX_PATHNAME], char path[RV_MAX_PATHNAME])
{
	const char *slash, *p;
	size_t vlen, n = 0;

	while (*name == '/')
		name++;
	slash = strchr(name, '/');
	if (!slash || slash == name)
		return -EINVAL;
	vlen = (size_t)(slash - name);
	if (vlen >= RV_MAX_PATHNAME)
		return -ENAMETOOLONG;
	memcpy(vol, name, vlen);
	vol[vlen] = '\0';
	/* One spelling per file ("a//b", "./a" are "a/b", "a"), so that the
	 * process finds a database it has open under another one. */
	for (p = slash; *p;) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.')) {
			p += len;
			continue;
		}
		if (n + len + 2 > RV_MAX_PATHNAME)
			return -ENAMETOOLONG;
		if (n)
			path[n++] = '/';
		memcpy(path + n, p, len);
		n += len;
		p += len;
	}
	if (!n)
		return -EINVAL;
	path[n] = '\0';
	return 0;
}

/* One read or write of at most rv_chunk bytes through rv_buf, rv_mu held.
 * Returns the CQE's res (bytes or -errno). */
static int rv_rw_locked(int write, int handle, unsigned int len, uint64_t off)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rv_rd);
	struct ringd_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY; /* one request at a time: cannot happen */
	if (write)
		ringd_prep_write(sqe, handle, rv_buf, len, off);
	else
		ringd_prep_read(sqe, handle, rv_buf, len, off);
	ret = ringd_submit_and_wait(rv_rd, 1);
	if (ret < 0)
		return ret;
	ret = ringd_wait_cqe(rv_rd, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	ringd_cqe_seen(rv_rd, cqe);
	return ret;
}

/*
 * Read or write @len bytes at @off of @rf from or into @data, in chunks.
 * Returns the bytes moved (fewer than @len on a short read, at the end of
 * the file), or -errno (-ESTALE: opened by the parent of a forked child).
 */
static long rv_io(int write, const struct rv_file *rf, void *data, size_t len, uint64_t off)
{
	size_t done = 0;
	long ret = 0;

	pthread_mutex_lock(&rv_mu);
	if (rf->gen != rv_gen) {
		ret = -ESTALE;
		goto out;
	}
	while (done < len) {
		unsigned int n = len - done < rv_chunk ? (unsigned int)(len - done) : rv_chunk;
		int res;

		if (write)
			memcpy(rv_buf, (char *)data + done, n);
		res = rv_rw_locked(write, rf->handle, n, off + done);
		if (res == -EINVAL && rv_chunk > RV_CHUNK_MIN && n > RV_CHUNK_MIN) {
			/* A daemon with a smaller max_io_size. */
			rv_chunk /= 2;
			continue;
		}
		if (res < 0) {
			ret = res;
			goto out;
		}
		if (!write)
			memcpy((char *)data + done, rv_buf, (size_t)res);
		done += (size_t)res;
		if ((unsigned int)res < n && (!write || res == 0))
			break; /* end of file, or a write that made no progress */
	}
	ret = (long)done;
out:
	pthread_mutex_unlock(&rv_mu);
	return ret;
}

static int rv_unlock(sqlite3_file *f, int level);

static int rv_close(sqlite3_file *f)
{
	struct rv_file *rf = (struct rv_file *)f;
	struct rv_db **pp;

	rv_unlock(f, SQLITE_LOCK_NONE);
	pthread_mutex_lock(&rv_mu);
	if (rf->gen != rv_gen) {
		/* The parent's: its handle and lock are the parent's to close. */
		pthread_mutex_unlock(&rv_mu);
		return SQLITE_OK;
	}
	if (rf->db && --rf->db->refs) {
		/* Another connection of the process still uses the handle. */
		pthread_mutex_unlock(&rv_mu);
		return SQLITE_OK;
	}
	if (rf->db) {
		for (pp = &rv_dbs; *pp != rf->db; pp = &(*pp)->next)
			;
		*pp = rf->db->next;
		free(rf->db);
	}
	/* Closing releases the RINGD_LOCK: it must reach the daemon. */
	RV_CTL(ringd_close(rv_rd, rf->handle));
	if (rf->delete_on_close)
		RV_CTL(ringd_unlink(rv_rd, rf->volume, rf->path));
	pthread_mutex_unlock(&rv_mu);
	return SQLITE_OK;
}

static int rv_read(sqlite3_file *f, void *data, int amt, sqlite3_int64 off)
{
	struct rv_file *rf = (struct rv_file *)f;
	long n = rv_io(0, rf, data, (size_t)amt, (uint64_t)off);

	if (n < 0)
		return SQLITE_IOERR_READ;
	if (n < amt) {
		/* SQLite requires the unread rest to be zeros. */
		memset((char *)data + n, 0, (size_t)(amt - n));
		return SQLITE_IOERR_SHORT_READ;
	}
	return SQLITE_OK;
}

static int rv_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
	struct rv_file *rf = (struct rv_file *)f;
	long n = rv_io(1, rf, (void *)data, (size_t)amt, (uint64_t)off);

	if (n == -EDQUOT || n == -ENOSPC)
		return SQLITE_FULL;
	if (n != amt)
		return SQLITE_IOERR_WRITE;
	return SQLITE_OK;
}

static int rv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct rv_file *rf = (struct rv_file *)f;
	int ret;

	pthread_mutex_lock(&rv_mu);
	ret =
	    rf->gen != rv_gen ? -ESTALE : RV_CTL(ringd_truncate(rv_rd, rf->handle, (uint64_t)size));
	pthread_mutex_unlock(&rv_mu);
	if (ret == -EDQUOT || ret == -ENOSPC)
		return SQLITE_FULL;
	return ret ? SQLITE_IOERR_TRUNCATE : SQLITE_OK;
}

static int rv_sync(sqlite3_file *f, int flags)
{
	struct rv_file *rf = (struct rv_file *)f;
	struct ringd_cqe *cqe;
	struct ringd_sqe *sqe;
	int ret;

	pthread_mutex_lock(&rv_mu);
	sqe = rf->gen == rv_gen ? ringd_get_sqe(rv_rd) : NULL;
	if (!sqe) {
		ret = rf->gen == rv_gen ? -EBUSY : -ESTALE;
		goto out;
	}
	ringd_prep_fsync(sqe, rf->handle,
			 (flags & SQLITE_SYNC_DATAONLY) ? RINGD_FSYNC_DATASYNC : 0);
	ret = ringd_submit_and_wait(rv_rd, 1);
	if (ret < 0)
		goto out;
	ret = ringd_wait_cqe(rv_rd, &cqe);
	if (ret)
		goto out;
	ret = cqe->res;
	ringd_cqe_seen(rv_rd, cqe);
out:
	pthread_mutex_unlock(&rv_mu);
	return ret < 0 ? SQLITE_IOERR_FSYNC : SQLITE_OK;
}

static int rv_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct rv_file *rf = (struct rv_file *)f;
	struct ringd_volume_info info;
	int ret;

	pthread_mutex_lock(&rv_mu);
	ret = rf->gen != rv_gen ? -ESTALE : RV_CTL(ringd_fstat(rv_rd, rf->handle, &info));
	pthread_mutex_unlock(&rv_mu);
	if (ret)
		return SQLITE_IOERR_FSTAT;
	*size = (sqlite3_int64)info.size;
	return SQLITE_OK;
}

/*
 * Raise this connection's lock to @level (SHARED, RESERVED or EXCLUSIVE)
 * against the other connections of the process to the same database, as
 * unixLock() does within one process. Returns SQLITE_OK or SQLITE_BUSY;
 * a failed EXCLUSIVE leaves PENDING, which lets no new reader in.
 */
static int rv_lock(sqlite3_file *f, int level)
{
	struct rv_file *rf = (struct rv_file *)f;
	struct rv_db *db = rf->db;
	int ret = SQLITE_OK;

	if (rf->lock >= level)
		return SQLITE_OK;
	if (!db) { /* journals and temp files: only their database's holder */
		rf->lock = level;
		return SQLITE_OK;
	}
	pthread_mutex_lock(&rv_mu);
	if (db->lock != rf->lock &&
	    (db->lock >= SQLITE_LOCK_PENDING || level > SQLITE_LOCK_SHARED)) {
		/* Another connection writes, or is draining the readers. */
		ret = SQLITE_BUSY;
	} else if (level == SQLITE_LOCK_SHARED) {
		db->nshared++;
		if (db->lock < SQLITE_LOCK_SHARED)
			db->lock = SQLITE_LOCK_SHARED;
		rf->lock = SQLITE_LOCK_SHARED;
	} else if (level == SQLITE_LOCK_EXCLUSIVE && db->nshared > 1) {
		/* Readers left: stop new ones and let SQLite retry. */
		rf->lock = db->lock = SQLITE_LOCK_PENDING;
		ret = SQLITE_BUSY;
	} else {
		rf->lock = db->lock = level;
	}
	pthread_mutex_unlock(&rv_mu);
	return ret;
}

/* Lower this connection's lock to @level (SHARED or NONE). Returns SQLITE_OK. */
static int rv_unlock(sqlite3_file *f, int level)
{
	struct rv_file *rf = (struct rv_file *)f;
	struct rv_db *db = rf->db;

	if (rf->lock <= level)
		return SQLITE_OK;
	if (!db) {
		rf->lock = level;
		return SQLITE_OK;
	}
	pthread_mutex_lock(&rv_mu);
	if (rf->lock > SQLITE_LOCK_SHARED)
		db->lock = SQLITE_LOCK_SHARED; /* it was the one writer */
	if (level == SQLITE_LOCK_NONE && rf->lock >= SQLITE_LOCK_SHARED && !--db->nshared)
		db->lock = SQLITE_LOCK_NONE;
	rf->lock = level;
	pthread_mutex_unlock(&rv_mu);
	return SQLITE_OK;
}

/* Whether any connection of the process holds RESERVED or more: then a
 * journal beside the database is not hot. */
static int rv_check_reserved_lock(sqlite3_file *f, int *out)
{
	struct rv_file *rf = (struct rv_file *)f;

	pthread_mutex_lock(&rv_mu);
	*out = (rf->db ? rf->db->lock : rf->lock) > SQLITE_LOCK_SHARED;
	pthread_mutex_unlock(&rv_mu);
	return SQLITE_OK;
}

static int rv_file_control(sqlite3_file *f, int op, void *arg)
{
	(void)f;
	if (op == SQLITE_FCNTL_VFSNAME) {
		*(char **)arg = sqlite3_mprintf("ringd");
		return SQLITE_OK;
	}
	return SQLITE_NOTFOUND;
}

static int rv_sector_size(sqlite3_file *f)
{
	(void)f;
	return 4096;
}

static int rv_device_characteristics(sqlite3_file *f)
{
	(void)f;
	/* As the unix VFS on a local file: the daemon writes to one. */
	return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static const sqlite3_io_methods rv_io_methods = {
	.iVersion = 1, /* no xShm*: WAL only in exclusive locking mode */
	.xClose = rv_close,
	.xRead = rv_read,
	.xWrite = rv_write,
	.xTruncate = rv_truncate,
	.xSync = rv_sync,
	.xFileSize = rv_file_size,
	.xLock = rv_lock,
	.xUnlock = rv_unlock,
	.xCheckReservedLock = rv_check_reserved_lock,
	.xFileControl = rv_file_control,
	.xSectorSize = rv_sector_size,
	.xDeviceCharacteristics = rv_device_characteristics,
};

/* SQLite's code for a failed open or namespace call returning -@err. */
static int rv_open_error(int err)
{
	switch (err) {
	case -EBUSY:
		return SQLITE_BUSY;
	case -EDQUOT:
	case -ENOSPC:
		return SQLITE_FULL;
	case -ENOMEM:
		return SQLITE_NOMEM;
	default:
		return SQLITE_CANTOPEN;
	}
}

/*
 * Open a unique temporary file in the volume of the last main database
 * (SQLite names none for temp databases, sorters and statement journals),
 * rv_mu held. Returns the handle (and @info) or -errno.
 */
static int rv_open_temp_locked(struct rv_file *rf, struct ringd_volume_info *info)
{
	int attempt, h = -ENOENT;

	if (!rv_temp_volume[0])
		return -ENOENT; /* no database of this process says where */
	snprintf(rf->volume, sizeof(rf->volume), "%s", rv_temp_volume);
	for (attempt = 0; attempt < 16; attempt++) {
		snprintf(rf->path, sizeof(rf->path), ".ringd-sqlite-tmp-%ld-%lu", (long)getpid(),
			 ++rv_temp_seq);
		h = RV_CTL(ringd_open_file(rv_rd, rf->volume, rf->path,
					   RINGD_RDWR | RINGD_CREAT | RINGD_EXCL | RINGD_TRUNC,
					   0600, info));
		if (h != -EEXIST)
			break;
	}
	return h;
}

/* The main database @vol/@path if this process has it open, rv_mu held. */
static struct rv_db *rv_db_find(const char *vol, const char *path)
{
	struct rv_db *db;

	for (db = rv_dbs; db; db = db->next)
		if (!strcmp(db->volume, vol) && !strcmp(db->path, path))
			return db;
	return NULL;
}

/*
 * Open @rf->volume/@rf->path with @rflags, rv_mu held, falling back to
 * read-only (and saying so in *@flags) as the unix VFS does when writing
 * is not allowed. Returns the handle (and @info) or -errno.
 */
static int rv_open_named_locked(struct rv_file *rf, int rflags, int *flags,
				struct ringd_volume_info *info)
{
	int h = RV_CTL(ringd_open_file(rv_rd, rf->volume, rf->path, rflags, 0644, info));

	if ((h == -EROFS || h == -EACCES) && (rflags & RINGD_RDWR) &&
	    !(*flags & SQLITE_OPEN_CREATE)) {
		h = RV_CTL(ringd_open_file(rv_rd, rf->volume, rf->path,
					   (rflags & ~RINGD_RDWR) | RINGD_RDONLY, 0644, info));
		if (h >= 0)
			*flags = (*flags & ~SQLITE_OPEN_READWRITE) | SQLITE_OPEN_READONLY;
	}
	return h;
}

/*
 * Open a main database, rv_mu held: the process's handle to it if it has
 * one (read-only for this connection too if that handle is), else a new
 * RINGD_LOCK handle. Returns 0 or -errno.
 */
static int rv_open_db_locked(struct rv_file *rf, int rflags, int *flags)
{
	struct ringd_volume_info info = { 0 };
	struct rv_db *db = rv_db_find(rf->volume, rf->path);
	int h;

	if (db) {
		if (!db->writable)
			*flags = (*flags & ~SQLITE_OPEN_READWRITE) | SQLITE_OPEN_READONLY;
		db->refs++;
		rf->db = db;
		rf->handle = db->handle;
		return 0;
	}
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	h = rv_open_named_locked(rf, rflags | RINGD_LOCK, flags, &info);
	if (h >= 0 && info.align > 1) {
		/* SQLite reads and writes at any offset (a 100-byte header):
		 * a direct (O_DIRECT) volume, which needs alignment, is not for it. */
		RV_CTL(ringd_close(rv_rd, h));
		h = -EINVAL;
	}
	if (h < 0) {
		free(db);
		return h;
	}
	memcpy(db->volume, rf->volume, sizeof(db->volume));
	memcpy(db->path, rf->path, sizeof(db->path));
	db->handle = h;
	db->writable = (*flags & SQLITE_OPEN_READWRITE) != 0;
	db->refs = 1;
	db->next = rv_dbs;
	rv_dbs = db;
	rf->db = db;
	rf->handle = h;
	/* Temporary files of this process go beside it. */
	snprintf(rv_temp_volume, sizeof(rv_temp_volume), "%s", rf->volume);
	return 0;
}

/* Open a journal, WAL or temporary file, rv_mu held. Returns 0 or -errno. */
static int rv_open_file_locked(struct rv_file *rf, bool named, int rflags, int *flags)
{
	struct ringd_volume_info info = { 0 };
	int h;

	if (named)
		h = rv_open_named_locked(rf, rflags, flags, &info);
	else
		h = rv_open_temp_locked(rf, &info);
	if (h >= 0 && info.align > 1) {
		RV_CTL(ringd_close(rv_rd, h));
		if (!named)
			RV_CTL(ringd_unlink(rv_rd, rf->volume, rf->path));
		h = -EINVAL;
	}
	if (h < 0)
		return h;
	rf->handle = h;
	rf->delete_on_close = !named || (*flags & SQLITE_OPEN_DELETEONCLOSE);
	return 0;
}

static int rv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct rv_file *rf = (struct rv_file *)f;
	int rflags, ret;

	(void)vfs;
	memset(rf, 0, sizeof(*rf));
	rf->handle = -1;
	rflags = (flags & SQLITE_OPEN_READWRITE) ? RINGD_RDWR : RINGD_RDONLY;
	if (flags & SQLITE_OPEN_CREATE)
		rflags |= RINGD_CREAT;
	if (flags & SQLITE_OPEN_EXCLUSIVE)
		rflags |= RINGD_EXCL;
	if (name && rv_split(name, rf->volume, rf->path))
		return SQLITE_CANTOPEN;

	pthread_mutex_lock(&rv_mu);
	ret = rv_connect_locked();
	/* The database excludes other processes; its journal and WAL are only
	 * ever touched by the holder of that lock. */
	if (!ret && name && (flags & SQLITE_OPEN_MAIN_DB))
		ret = rv_open_db_locked(rf, rflags, &flags);
	else if (!ret)
		ret = rv_open_file_locked(rf, name != NULL, rflags, &flags);
	rf->gen = rv_gen;
	pthread_mutex_unlock(&rv_mu);
	if (ret)
		return rv_open_error(ret);
	rf->base.pMethods = &rv_io_methods;
	if (out_flags)
		*out_flags = flags;
	return SQLITE_OK;
}

/* Run a namespace call that needs the connection; returns its result. */
static int rv_connected(int (*fn)(const char *, const char *, void *), const char *name, void *arg)
{
	char vol[RV_MAX_PATHNAME], path[RV_MAX_PATHNAME];
	int ret = rv_split(name, vol, path);

	if (ret)
		return ret;
	pthread_mutex_lock(&rv_mu);
	ret = rv_connect_locked();
	if (!ret)
		ret = fn(vol, path, arg);
	pthread_mutex_unlock(&rv_mu);
	return ret;
}

static int rv_unlink_fn(const char *vol, const char *path, void *arg)
{
	int ret = ringd_unlink(rv_rd, vol, path);

	(void)arg;
	/* Retried after the daemon went away: the first try may have done it. */
	if (ret == -ENOTCONN) {
		ret = ringd_unlink(rv_rd, vol, path);
		if (ret == -ENOENT)
			ret = 0;
	}
	return ret;
}

static int rv_stat_fn(const char *vol, const char *path, void *arg)
{
	return RV_CTL(ringd_stat(rv_rd, vol, path, arg));
}

static int rv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	int ret;

	/* The daemon makes namespace changes durable before it answers. */
	(void)vfs;
	(void)sync_dir;
	ret = rv_connected(rv_unlink_fn, name, NULL);
	if (ret == -ENOENT)
		return SQLITE_IOERR_DELETE_NOENT;
	return ret ? SQLITE_IOERR_DELETE : SQLITE_OK;
}

static int rv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	struct ringd_volume_info info = { 0 };
	int ret;

	(void)vfs;
	ret = rv_connected(rv_stat_fn, name, &info);
	*out = 0;
	if (ret == -ENOENT || ret == -EINVAL)
		return SQLITE_OK;
	if (ret == -EISDIR) {
		*out = 1;
		return SQLITE_OK;
	}
	if (ret)
		return SQLITE_IOERR_ACCESS;
	/* As the unix VFS: an empty file does not count as an existing
	 * journal (SQLITE_ACCESS_EXISTS); rights are the daemon's to check. */
	*out = flags == SQLITE_ACCESS_EXISTS ? info.size > 0 : 1;
	return SQLITE_OK;
}

static int rv_full_pathname(sqlite3_vfs *vfs, const char *name, int n_out, char *out)
{
	(void)vfs;
	/* Names are already absolute within the daemon: VOLUME/path. */
	while (*name == '/')
		name++;
	if ((int)strlen(name) >= n_out)
		return SQLITE_CANTOPEN;
	memcpy(out, name, strlen(name) + 1);
	return SQLITE_OK;
}

static void *rv_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return rv_base->xDlOpen(rv_base, name);
}

static void rv_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	rv_base->xDlError(rv_base, n, msg);
}

static void (*rv_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return rv_base->xDlSym(rv_base, h, sym);
}

static void rv_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	rv_base->xDlClose(rv_base, h);
}

static int rv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return rv_base->xRandomness(rv_base, n, out);
}

static int rv_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return rv_base->xSleep(rv_base, us);
}

static int rv_current_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return rv_base->xCurrentTime(rv_base, t);
}

static int rv_get_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	if (n > 0)
		snprintf(msg, (size_t)n, "%s", ringd_last_message());
	return 0;
}

static int rv_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	return rv_base->xCurrentTimeInt64(rv_base, t);
}

static sqlite3_vfs rv_vfs = {
	.iVersion = 2,
	.szOsFile = sizeof(struct rv_file),
	.mxPathname = RV_MAX_PATHNAME,
	.zName = "ringd",
	.xOpen = rv_open,
	.xDelete = rv_delete,
	.xAccess = rv_access,
	.xFullPathname = rv_full_pathname,
	.xDlOpen = rv_dlopen,
	.xDlError = rv_dlerror,
	.xDlSym = rv_dlsym,
	.xDlClose = rv_dlclose,
	.xRandomness = rv_randomness,
	.xSleep = rv_sleep,
	.xCurrentTime = rv_current_time,
	.xGetLastError = rv_get_last_error,
	.xCurrentTimeInt64 = rv_current_time_int64,
};

/*
 * fork(): the child shares its parent's session (rings, data area, socket),
 * which only one process may drive. It forgets it, and connects its own on
 * its next open; files it inherited fail with an I/O error (SQLite's
 * connections must not cross a fork anyway). The mutex is held across the
 * fork so that the child gets it in a consistent state.
 */
static void rv_atfork_prepare(void)
{
	pthread_mutex_lock(&rv_mu);
}

static void rv_atfork_parent(void)
{
	pthread_mutex_unlock(&rv_mu);
}

static void rv_atfork_child(void)
{
	rv_rd = NULL; /* the parent's, left as they are */
	rv_buf = NULL;
	rv_dbs = NULL;
	rv_chunk = RV_CHUNK_MAX;
	rv_gen++;
	pthread_mutex_unlock(&rv_mu);
}

static pthread_once_t rv_once = PTHREAD_ONCE_INIT;

static void rv_init_once(void)
{
	pthread_atfork(rv_atfork_prepare, rv_atfork_parent, rv_atfork_child);
}

int ringd_sqlite_register(int make_default)
{
	int ret = sqlite3_initialize();

	if (ret != SQLITE_OK)
		return ret;
	pthread_once(&rv_once, rv_init_once);
	pthread_mutex_lock(&rv_mu);
	if (!rv_base) {
		rv_base = sqlite3_vfs_find("unix");
		if (!rv_base)
			rv_base = sqlite3_vfs_find(NULL);
	}
	pthread_mutex_unlock(&rv_mu);
	if (!rv_base || rv_base == &rv_vfs || rv_base->iVersion < 2)
		return SQLITE_ERROR;
	return sqlite3_vfs_register(&rv_vfs, make_default);
}

/*
 * The extension entry point: SQLite derives its name from the file name
 * (libringd-sqlite.so -> sqlite3_ringdsqlite_init). Registers the VFS (not
 * as the default) and asks SQLite to keep the library loaded, since the
 * VFS outlives the connection that loaded it. Returns
 * SQLITE_OK_LOAD_PERMANENTLY, or an error with *@err set.
 */
int sqlite3_ringdsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);
int sqlite3_ringdsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
	int ret;

	(void)db;
	/* This library calls the libsqlite3 it was linked with: the host must
	 * be using that one, not a copy of its own. */
	if (api && api->vfs_register != sqlite3_vfs_register) {
		if (err)
			*err = api->mprintf("libringd-sqlite: the host does not use the system "
					    "libsqlite3 (%s); link it with -lsqlite3",
					    api->libversion());
		return SQLITE_ERROR;
	}
	ret = ringd_sqlite_register(0);
	if (ret != SQLITE_OK) {
		if (err)
			*err = sqlite3_mprintf("libringd-sqlite: cannot register the ringd VFS");
		return ret;
	}
	return SQLITE_OK_LOAD_PERMANENTLY;
}

/* The generic entry point, for hosts that load by that name. */
int sqlite3_extension_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);
int sqlite3_extension_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
	return sqlite3_ringdsqlite_init(db, err, api);
}
