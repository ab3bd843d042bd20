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

struct vols {
	struct vol *v;	    /* VOLS_MAX; removed ones stay, marked */
	struct val_vol *vv; /* the validator's view, parallel to v */
	uint32_t *inflight; /* accepted requests per volume not yet completed */
	bool *open;	    /* backing fds and file slots still held */
	unsigned int n;	    /* high-water mark of indexes in use */
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

/* vol_open() then vols_install(). Returns 0 or -errno (logged). */
int vols_add(struct vols *vs, const struct cfg_volume *cv, const char *state_dir, uint32_t idx);

/* Retire volume @idx: new I/O gets -ENODEV; released once its I/O is done. */
void vols_remove(struct vols *vs, uint32_t idx);

/* A request for volume @idx was accepted / has completed. */
void vols_io_start(struct vols *vs, uint32_t idx);
void vols_io_done(struct vols *vs, uint32_t idx);

/* Volume @idx, if it is a valid index (live or removed), else NULL. */
static inline const struct vol *vols_get(const struct vols *vs, uint32_t idx)
{
	return idx < vs->n ? &vs->v[idx] : NULL;
}

#endif
