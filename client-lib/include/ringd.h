/* SPDX-License-Identifier: MIT */
/*
 * libringd: io_uring-style rings served by the ringd daemon.
 *
 *	struct ringd *rd;
 *	ringd_connect(NULL, &rd);                    // $RINGD_SOCKET or /run/ringd/ringd.sock
 *	int h = ringd_open(rd, "db1", RINGD_RDWR, NULL);
 *	void *buf = ringd_buf_alloc(rd, 4096, 4096); // I/O buffers live in the shared data area
 *	struct ringd_sqe *sqe = ringd_get_sqe(rd);
 *	ringd_prep_read(sqe, h, buf, 4096, 0);
 *	ringd_sqe_set_data64(sqe, 42);
 *	ringd_submit_and_wait(rd, 1);
 *	struct ringd_cqe *cqe;
 *	ringd_wait_cqe(rd, &cqe);                    // cqe->res: bytes or -errno
 *	ringd_cqe_seen(rd, cqe);
 *
 * Every function returns 0 (or a count) on success and -errno on failure;
 * none sets or relies on errno, and the library never prints. When the
 * daemon has gone away, calls fail with -ENOTCONN; when the daemon stopped
 * serving the session because the ring protocol was broken, with -EPIPE
 * (ringd_broken_reason() tells why).
 *
 * A struct ringd is not thread-safe: use one per thread, or lock around it.
 */
#ifndef RINGD_H
#define RINGD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ringd-version.h"
#include "ringd_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ringd;

struct ringd_opts {
	const char *socket_path; /* NULL: $RINGD_SOCKET, else /run/ringd/ringd.sock */
	unsigned int sq_entries; /* 0: daemon default (128) */
	unsigned int cq_entries; /* 0: 2 * sq_entries */
	size_t buf_size;	 /* data-area bytes; 0: daemon default (4 MiB, within quota) */
	unsigned int spin_us;	 /* spin this long (from the last progress) before sleeping
				    in waits, up to 4 times that while progress usually
				    comes within half of it; 0: $RINGD_SPIN_US, else 50 */
	unsigned int flags;	 /* RINGD_OPT_* */
};

/*
 * By default, when the daemon goes away without keeping the session (a
 * plain restart), the library reconnects on its own: it waits until none
 * of the old daemon's I/O can still land, attaches a new session with the
 * same data area at the same address, reopens its volumes (handles keep
 * their numbers) and resubmits what was in flight. With this flag, calls
 * fail with -ENOTCONN instead.
 */
#define RINGD_OPT_NO_RECONNECT (1u << 0)

struct ringd_volume_info {
	uint64_t size;	     /* bytes addressable through the handle */
	uint32_t block_size; /* logical block size of the backing */
	uint32_t align;	     /* offset, length and buffer alignment required (1: none) */
	uint32_t flags;	     /* RINGD_VOL_* */
};

struct ringd_stats {
	uint64_t submitted;
	uint64_t completed;
	uint64_t errors;
	uint64_t rejected; /* refused by the daemon's validator */
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint32_t inflight;
	uint32_t broken_reason; /* enum ringd_broken */
	uint64_t completions_interrupt;
	uint64_t completions_polled;
	uint64_t completions_passthrough;
	uint64_t completions_passthrough_polled;
};

/* Connect and attach a session. Returns 0 and sets *out, or -errno
 * (-EACCES: not a tenant, -EDQUOT: too many sessions, -ENOMEM: data area
 * over quota, -ENOENT/-ECONNREFUSED: no daemon). */
int ringd_connect(const struct ringd_opts *opts, struct ringd **out);

/* Detach and free everything (buffers from ringd_buf_alloc included). */
void ringd_disconnect(struct ringd *rd);

/* Open a volume. Returns a handle >= 0, or -ENOENT (unknown volume),
 * -EACCES (not allowed, or RDWR where the tenant may only read), -EROFS
 * (RDWR on a read-only volume), -EMFILE, -ENOTCONN. @info may be NULL. */
int ringd_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info);

/* Close a handle. Returns 0 or -EBADF. I/O already submitted on it completes. */
int ringd_close(struct ringd *rd, int handle);

/*
 * Files of directory volumes ([volume X] dir = ...). @path is relative and
 * resolved beneath the volume's directory; "..", absolute paths, symlinks
 * and magic links are refused (-EXDEV or -ELOOP, ringd_last_message()
 * says which). Namespace changes are durable when the call returns.
 *
 * ringd_open_file(): @flags RINGD_RDONLY or RINGD_RDWR, with RINGD_CREAT,
 * RINGD_EXCL, RINGD_TRUNC, RINGD_LOCK; @mode as for open(2) (the file
 * belongs to the daemon). Returns a handle >= 0 that every ring operation
 * takes: reads past the end are short, writes past the end extend the
 * file; a write that would take the volume past its size fails with
 * -EDQUOT and writes nothing. @info (may be NULL) gets the file's size.
 * Errors: -ENOENT, -EEXIST, -EISDIR, -EBUSY (RINGD_LOCK held by another
 * session), -EACCES, -EROFS, -EMFILE, -EXDEV, -ELOOP, -ENAMETOOLONG,
 * -EINVAL (not a directory volume, bad flags, not a regular file).
 */
int ringd_open_file(struct ringd *rd, const char *volume, const char *path, int flags,
		    unsigned int mode, struct ringd_volume_info *info);
/* Remove a file (-EISDIR: use it on files only; an empty directory goes too). */
int ringd_unlink(struct ringd *rd, const char *volume, const char *path);
/* Rename within one volume, replacing @to if it is a file. */
int ringd_rename(struct ringd *rd, const char *volume, const char *from, const char *to);
int ringd_mkdir(struct ringd *rd, const char *volume, const char *path, unsigned int mode);
/* Set a file's size (-EDQUOT past the volume's size; needs a RINGD_RDWR handle). */
int ringd_truncate(struct ringd *rd, int handle, uint64_t size);
/* The handle's current size (a file's grows with its writes). */
int ringd_fstat(struct ringd *rd, int handle, struct ringd_volume_info *info);
/* The size of the file at @path: 0, or -ENOENT if there is none, -EISDIR
 * for a directory (info->size 0). @info may be NULL. */
int ringd_stat(struct ringd *rd, const char *volume, const char *path,
	       struct ringd_volume_info *info);

/* Allocate @len bytes aligned to @align (a power of two; 0 means 64) in the
 * shared data area. Returns NULL when it is exhausted. */
void *ringd_buf_alloc(struct ringd *rd, size_t len, size_t align);
void ringd_buf_free(struct ringd *rd, void *buf);

/* The whole data area, for applications that manage it themselves. */
void *ringd_buf_region(struct ringd *rd, size_t *len);

/* The next free SQE, zeroed, or NULL when the SQ is full. */
struct ringd_sqe *ringd_get_sqe(struct ringd *rd);

void ringd_prep_read(struct ringd_sqe *sqe, int handle, void *buf, unsigned int len,
		     uint64_t offset);
void ringd_prep_write(struct ringd_sqe *sqe, int handle, const void *buf, unsigned int len,
		      uint64_t offset);
void ringd_prep_fsync(struct ringd_sqe *sqe, int handle, unsigned int flags);
void ringd_prep_nop(struct ringd_sqe *sqe);

/*
 * Vectored I/O at @offset of @handle, as in liburing: @iovecs holds
 * @nr_vecs (1 to RINGD_MAX_VECS) of the application's own pointers. The
 * array and every buffer must lie in the data area (else the CQE carries
 * -EFAULT); the lengths add up to at most the daemon's max_io_size (else
 * -EINVAL); on a volume with alignment every vector is aligned. The daemon
 * reads the array once, when it takes the SQE: it may be reused as soon as
 * ringd_submit() has returned and the daemon has consumed the SQE (to be
 * safe, once the CQE is seen).
 */
void ringd_prep_readv(struct ringd_sqe *sqe, int handle, const struct iovec *iovecs,
		      unsigned int nr_vecs, uint64_t offset);
void ringd_prep_writev(struct ringd_sqe *sqe, int handle, const struct iovec *iovecs,
		       unsigned int nr_vecs, uint64_t offset);

/*
 * Discard [offset, offset+len) of @handle (contents undefined afterwards;
 * zeros on files), or make it read as zeros. A read-write handle; the
 * range inside the volume; aligned as writes are on an aligned volume (on
 * a block device, to its logical block size). The CQE's res is 0.
 */
void ringd_prep_discard(struct ringd_sqe *sqe, int handle, uint64_t offset, uint64_t len);
void ringd_prep_write_zeroes(struct ringd_sqe *sqe, int handle, uint64_t offset, uint64_t len);

/*
 * Cancel this ring's request with @user_data (the oldest, if several);
 * @flags 0. The CQE's res: 0, cancelled (the target completes with
 * -ECANCELED); -ENOENT, no such request in flight; -EALREADY, it is
 * already running and cannot be stopped.
 */
void ringd_prep_cancel64(struct ringd_sqe *sqe, uint64_t user_data, int flags);

/* RINGD_RW_DSYNC on a write: its CQE means the data is durable. */
static inline void ringd_sqe_set_rw_flags(struct ringd_sqe *sqe, unsigned int flags)
{
	sqe->op_flags = flags;
}

/* RINGD_SQE_LINK: see ringd_abi.h. */
static inline void ringd_sqe_set_flags(struct ringd_sqe *sqe, unsigned int flags)
{
	sqe->flags = flags & 0xffu; /* no cast: the header is C++ too */
}

static inline void ringd_sqe_set_data64(struct ringd_sqe *sqe, uint64_t data)
{
	sqe->user_data = data;
}

static inline uint64_t ringd_cqe_get_data64(const struct ringd_cqe *cqe)
{
	return cqe->user_data;
}

/* Publish prepared SQEs to the daemon. Returns the number submitted or -errno. */
int ringd_submit(struct ringd *rd);

/* Submit, then wait until at least @wait_nr completions are available.
 * Returns the number submitted or -errno. */
int ringd_submit_and_wait(struct ringd *rd, unsigned int wait_nr);

/* Wait for a completion. Returns 0 and sets *cqe, or -errno. */
int ringd_wait_cqe(struct ringd *rd, struct ringd_cqe **cqe);

/* As ringd_wait_cqe(), giving up with -ETIME after @timeout_ms. */
int ringd_wait_cqe_timeout(struct ringd *rd, struct ringd_cqe **cqe, unsigned int timeout_ms);

/* Returns 0 and sets *cqe if a completion is ready, else -EAGAIN. */
int ringd_peek_cqe(struct ringd *rd, struct ringd_cqe **cqe);

/* Copy up to @max ready completions into @cqes and consume them.
 * Returns the count (0 if none). */
unsigned int ringd_peek_batch_cqe(struct ringd *rd, struct ringd_cqe *cqes, unsigned int max);

/* Mark @cqe consumed; its slot may be reused by the daemon. */
void ringd_cqe_seen(struct ringd *rd, struct ringd_cqe *cqe);

/* Consume @nr completions at once. */
void ringd_cq_advance(struct ringd *rd, unsigned int nr);

/* Number of completions ready to be reaped. */
unsigned int ringd_cq_ready(struct ringd *rd);

/* A file descriptor that is readable while completions are waiting, for
 * poll/epoll. Read it empty (non-blocking) before reaping. */
int ringd_event_fd(struct ringd *rd);

/* Counters of this session, from the daemon. Returns 0 or -errno. */
int ringd_stats(struct ringd *rd, struct ringd_stats *st);

/* Totals of the caller's tenant: every session of it (closed ones
 * included) since the daemon started; per-path completions are 0.
 * Returns 0, or -ENODATA if the daemon keeps no figures
 * ([daemon] figures = off), or -errno. */
int ringd_tenant_stats(struct ringd *rd, struct ringd_stats *st);

/* Names of the volumes the caller's tenant may open: *@names is an array of
 * *@count strings, freed with ringd_free_list(). Returns 0 or -errno. */
int ringd_list_volumes(struct ringd *rd, char ***names, size_t *count);

/* Free a list from ringd_list_volumes() (NULL is fine). */
void ringd_free_list(char **names, size_t count);

/* The daemon's own words for the last call it refused in this thread (e.g.
 * "tenant alice may only read volume 'db1'"), or "" if none. */
const char *ringd_last_message(void);

/* Why the daemon stopped serving this session (enum ringd_broken), 0 if it did not. */
unsigned int ringd_broken_reason(struct ringd *rd);

/* The version of the libringd in use, "MAJOR.MINOR.PATCH" (compare with
 * RINGD_VERSION_STRING, the version compiled against). Never NULL. */
const char *ringd_version(void);

#ifdef __cplusplus
}
#endif

#endif
