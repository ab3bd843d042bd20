/* SPDX-License-Identifier: MIT */
/*
 * fe_: who must hear of a failed write or flush (HOSTILE.md H17).
 *
 * The kernel reports a write-back error once per open file description,
 * and the daemon holds one description per volume for every tenant, so
 * the first fsync after a failure would take the error away from whoever
 * lost the data. fe_ keeps the error per session instead:
 *
 *   - every volume index has a failure count, bumped by each write that
 *     completes -EIO and each flush that fails with a data error (any
 *     session's);
 *   - every session has, per volume index, "wrote since its last good
 *     flush" and the failure count when that began or when it was last
 *     told of a failure;
 *   - a flush of a session that wrote, when the count has moved since,
 *     completes -EIO (whatever the kernel said) and the session is told:
 *     its next flush succeeds if the device does and nothing failed
 *     since. A session that did not write gets 0 from a flush that
 *     failed on someone else's data.
 *
 * Indexes run over every volume and directory-volume file (VOLS_ALL);
 * sessions by slot, with the session id telling a reused slot apart. A
 * file's index is reused once it is closed: a session that wrote to the
 * old file and never flushed it may get -EIO from its first flush of a
 * new file at that index if the old one failed (never a lost report).
 *
 * Across a restart: a failure a session is owed (it wrote, the volume
 * failed since, it has not been told) is also a bit in its journal record
 * (jr_fe_owed), set when the failure is counted and cleared once the CQE
 * that tells it is safe (fe_told). The restored session's next flush of
 * that volume then fails although the new instance never saw the error;
 * without the bit, the kernel's report, taken by the previous instance,
 * would be gone.
 */
#ifndef RINGD_DAEMON_FLUSHERR_H
#define RINGD_DAEMON_FLUSHERR_H

#include <stdbool.h>
#include <stdint.h>

#include "journal.h"

/* Per-session state comes in chunks of this many volume indexes, made
 * when the session first writes to one of them: a session that writes to
 * a volume and a few files costs a few KiB at most. */
#define FE_CHUNK 256u

struct fe_sess {
	uint64_t id;	  /* the session whose state this is; 0: none yet */
	bool restored;	  /* restored after a restart: a writer on every volume */
	uint32_t **chunk; /* nchunks, each FE_CHUNK states (dirty, seen) or NULL */
};

struct fe {
	uint32_t *seq; /* per volume index: failures seen on it (30 bits) */
	uint32_t nvols;
	uint32_t nchunks;
	struct fe_sess *s; /* per session slot */
	uint32_t nsess;
	struct jr *jr; /* owed failures kept in its session records, or NULL */
};

/* Tables for @nvols volume indexes and @nsess session slots. Returns 0 or -ENOMEM. */
int fe_init(struct fe *f, uint32_t nvols, uint32_t nsess);
void fe_fini(struct fe *f);

/* Keep the failures sessions are owed in @jr's session records (one per
 * session slot; NULL: in memory only). */
void fe_persist(struct fe *f, struct jr *jr);

/*
 * Make room for the state of session @id in @slot for volume index @vol
 * (a session that used the slot before is forgotten). Call before a write
 * of it to @vol is issued. Returns 0, or -ENOMEM (the write must not be
 * issued), -EINVAL for a bad slot, id or index.
 */
int fe_track(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol);

/*
 * Session @id in @slot was restored after a restart: what it wrote
 * before is unknown, so it counts as having written to every volume (a
 * failure from now on reaches its next flush), and the failures its
 * journal record says it is owed reach its next flush of those volumes.
 * Returns 0 or -ENOMEM.
 */
int fe_restored(struct fe *f, uint32_t slot, uint64_t id);

/* Whether a write's result @res is a failure that may have lost data. */
bool fe_write_failed(int32_t res);
/* Whether a flush's result @res is one (not: it was refused or never ran). */
bool fe_flush_failed(int32_t res);

/*
 * A write (WRITE, WRITEV, WRITE_ZEROES, DISCARD) of session @id in @slot
 * on volume index @vol reached the device and completed with @res: the
 * session has written since its last good flush, and a failure counts
 * against the volume. @id 0 (the session is gone): only the latter.
 */
void fe_wrote(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol, int32_t res);

/*
 * A flush of session @id in @slot on volume index @vol completed with
 * @res: returns what the session's CQE carries. -EIO if the session wrote
 * since its last good flush and the volume failed since (it is then
 * told, once); 0 for a session that did not write, even if the flush
 * failed on others' data; else @res. @id 0: only counts a failure.
 *
 * When that -EIO tells an owed failure and @told is not NULL, *@told is
 * set and the journal keeps the failure owed until fe_told(): the caller
 * first makes the result survive a restart. With @told NULL the bit goes
 * at once.
 */
int32_t fe_flushed(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol, int32_t res, bool *told);

/* The CQE telling session @id in @slot of the failure on @vol is safe. */
void fe_told(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol);

#endif
