/* SPDX-License-Identifier: MIT */
/*
 * vols_: the volume table. Indexes come from the journal and are never
 * reused, so a handle or a journaled request that names index i means the
 * same volume for the life of the state directory.
 *
 * Liveness has one flag, vv[i].removed (what the validator sees): a
 * removed volume takes no new I/O (-ENODEV). Its registered-file slots and
 * fds are released only once no request that was accepted for it is still
 * queued or in the kernel, so a reload never pulls a file from under a
 * request it already took (the request then completes normally).
 */
#ifndef RINGD_DAEMON_VOLS_H
#define RINGD_DAEMON_VOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "journal.h"
#include "rings.h"
#include "validate.h"
#include "volume.h"

/* Capacity: a reload can add volumes until the daemon has seen this many. */
#define VOLS_MAX JR_MAX_VOLUMES

/*
 * Files of directory volumes are volumes too, at indexes VOLS_MAX and up
 * (one per open inode, shared by every handle on it): the validator, the
 * journal and the issue layer see them as volumes whose extent is the
 * directory volume's size, on their own registered-file slot. An index
 * is reused once the file is closed and its I/O is done.
 */
#define VOLS_FILES JR_MAX_FILES
#define VOLS_ALL   (VOLS_MAX + VOLS_FILES)

struct vols_file {
	bool used;
	bool unlinked; /* removed while open: its bytes go at the last close */
	int fd;
	uint32_t dir;  /* the directory volume's index */
	uint32_t refs; /* handles on it */
	uint64_t dev, ino;
	uint64_t size;	     /* bytes counted for it in the volume's usage */
	uint64_t lock_owner; /* session id holding RINGD_LOCK, 0: none */
};

struct vols {
	struct vol *v;		 /* VOLS_MAX; removed ones stay, marked */
	struct val_vol *vv;	 /* the validator's view, parallel to v */
	uint32_t *inflight;	 /* accepted requests per volume not yet completed */
	bool *open;		 /* backing fds and file slots still held */
	struct vols_file *files; /* VOLS_FILES: index VOLS_MAX + i */
	uint64_t *used;		 /* per directory volume: bytes of its files */
	unsigned int nfiles;	 /* open */
	unsigned int files_hw;	 /* files[files_hw..] are all free */
	unsigned int files_cap;	 /* files registrable (RLIMIT_NOFILE); VOLS_FILES at most */
	unsigned int n;		 /* high-water mark of indexes in use */
	unsigned int live;
	struct rings *rg;
	struct jr *jr;
};

/* An empty table over @rg and @jr. Returns 0 or -ENOMEM. */
int vols_init(struct vols *vs, struct rings *rg, struct jr *jr);

/* Close every backing (no I/O may be in flight). */
void vols_fini(struct vols *vs);

/* Index of the live volume called @name, or -1. */
int vols_find(const struct vols *vs, const char *name);

/*
 * Take over volume @v (opened with vol_open()) at index @idx: register its
 * fds on the rings its path needs. On failure @v is closed. Returns 0 or
 * -errno (logged).
 */
int vols_install(struct vols *vs, struct vol *v, uint32_t idx);

/*
 * Look at the fabric controllers of every live volume reached over a
 * fabric and set its path_lost; log each change. Returns how many such
 * volumes there are (0: nothing to look at, callers may stop asking).
 */
unsigned int vols_check_paths(struct vols *vs, uint64_t now_ms);

/* vol_open() then vols_install(). Returns 0 or -errno (logged). */
int vols_add(struct vols *vs, const struct cfg_volume *cv, const char *state_dir, uint32_t idx);

/* Retire volume @idx: new I/O gets -ENODEV; released once its I/O is done. */
void vols_remove(struct vols *vs, uint32_t idx);

/* A request for volume @idx was accepted / has completed. */
void vols_io_start(struct vols *vs, uint32_t idx);
void vols_io_done(struct vols *vs, uint32_t idx);

static inline bool vols_is_file(uint32_t idx)
{
	return idx >= VOLS_MAX && idx < VOLS_ALL;
}

/* The volume that owns @idx: itself, or a file's directory volume. */
static inline uint32_t vols_owner(const struct vols *vs, uint32_t idx)
{
	return vols_is_file(idx) ? vs->files[idx - VOLS_MAX].dir : idx;
}

/* Volume @idx, if it is a valid index (live or removed), else NULL; for a
 * file, its directory volume (how its I/O is routed). */
static inline const struct vol *vols_get(const struct vols *vs, uint32_t idx)
{
	if (vols_is_file(idx))
		return vs->files[idx - VOLS_MAX].used ? &vs->v[vs->files[idx - VOLS_MAX].dir]
						      : NULL;
	return idx < vs->n ? &vs->v[idx] : NULL;
}

/*
 * Open file @fd (regular, of directory volume @dir; its inode @dev/@ino,
 * @size bytes) as a volume, or take one more reference to the one already
 * open for that inode (then @fd is closed). Takes @fd in every case.
 * Returns the index (>= VOLS_MAX) or -EMFILE (table full), -errno.
 */
int vols_file_get(struct vols *vs, uint32_t dir, int fd, uint64_t dev, uint64_t ino, uint64_t size);

/* Take file @idx's RINGD_LOCK for session @sid. Returns 0 or -EBUSY (held,
 * by another session or by another handle of this one). */
int vols_file_lock(struct vols *vs, uint32_t idx, uint64_t sid);

/* One handle of session @sid (@locked: it holds the lock) on @idx less;
 * the last one closes the file once its I/O is done. */
void vols_file_put(struct vols *vs, uint32_t idx, uint64_t sid, bool locked);

/*
 * A write of file @idx up to byte @end: count its growth against the
 * directory volume. Idempotent. Returns 0 or -EDQUOT (nothing counted).
 */
int vols_file_grow(struct vols *vs, uint32_t idx, uint64_t end);

/* File @idx is now @size bytes (a truncate that shrank it). */
void vols_file_shrunk(struct vols *vs, uint32_t idx, uint64_t size);

/* Inode @dev/@ino (@size bytes) of directory volume @dir left the
 * namespace: its bytes are free now, or at its last close if it is open. */
void vols_file_gone(struct vols *vs, uint32_t dir, uint64_t dev, uint64_t ino, uint64_t size);

/*
 * Files and directories of directory volume @dir, against its max_entries
 * (its inodes and directory blocks, which its size does not count; H45).
 * hold: room for one more, held for a create until it settles (false: the
 * volume is full). settle: that create is done (@held: it held room;
 * @created: it made an entry). gone: an entry was removed.
 */
bool vols_entry_hold(struct vols *vs, uint32_t dir);
void vols_entry_settle(struct vols *vs, uint32_t dir, bool held, bool created);
void vols_entry_gone(struct vols *vs, uint32_t dir);

/*
 * Recovery: re-adopt the files a previous instance had open (journal and
 * fd store), at the same indexes, with no references yet; the restored
 * sessions' handles count them again, and vols_file_sweep() then closes
 * the ones no handle names once their recovered I/O is done.
 */
void vols_file_restore(struct vols *vs);
void vols_file_sweep(struct vols *vs);

/* The volume's quota check for a validated request (writes that grow a
 * file). Returns 0 or -EDQUOT. */
int vols_quota(struct vols *vs, uint32_t idx, uint8_t op, uint64_t off, uint64_t len);

/* Whether @idx names a volume or a file that exists (live or removed). */
static inline bool vols_valid(const struct vols *vs, uint32_t idx)
{
	return vols_is_file(idx) ? vs->files[idx - VOLS_MAX].used : idx < vs->n;
}

#endif
