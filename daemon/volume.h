/* SPDX-License-Identifier: MIT */
/* vol_: volumes, each a backing file or block device opened once. */
#ifndef RINGD_DAEMON_VOLUME_H
#define RINGD_DAEMON_VOLUME_H

#include <stddef.h>

#include "config.h"
#include "validate.h"

struct vol {
	char name[CFG_NAME_MAX];
	char path[PATH_MAX];
	int fd;
	bool blockdev;
	bool isdir;    /* a directory volume: fd is the directory, files are opened in it */
	uint64_t used; /* isdir: bytes its files hold, as found by vol_open() */
	/* isdir: files and directories beneath it (found by vol_open(), then
	 * kept by vols_entry_*), creates running that may add one, and the
	 * most it may hold (max_entries). */
	uint64_t entries;
	uint32_t entries_held;
	uint32_t max_entries;
	bool direct;
	/* Its file system takes no non-blocking reads and writes (tmpfs): the
	 * kernel runs every one on a worker thread (vol_takes_nowait()). */
	bool worker_io;
	/* The kernel runs its buffered writes on a worker thread untried: all
	 * but files on XFS and btrfs (vol_writes_nowait()). */
	bool worker_writes;
	uint32_t block_size; /* logical block size of the backing */
	struct val_vol v;    /* what the validator sees */

	/* Data path, resolved from poll = / passthrough = and the probe. */
	bool polled;	  /* served on the IOPOLL ring */
	bool passthrough; /* NVMe URING_CMD on ng_fd */
	bool pt_fixed;	  /* ... from the registered buffer (IORING_URING_CMD_FIXED) */
	int ng_fd;	  /* the namespace's generic char device, or -1 */
	char ng_path[PATH_MAX];
	uint32_t nsid;
	uint32_t lba_shift;  /* log2(block_size), passthrough only */
	char poll_why[1024]; /* why polling is off (empty if on or off by config) */
	char pt_why[1024];   /* why passthrough is off (likewise) */

	/* Reached over a fabric: its subsystem (else ""), what path loss
	 * does (on_path_loss = fail), and whether no controller of the
	 * subsystem was live at the last look (vols_check_paths()). */
	char subsysnqn[KP_NQN_MAX];
	bool fail_on_path_loss;
	bool path_lost;
	/*
	 * Passthrough, on_path_loss = wait: the kernel does not hold
	 * passthrough commands while the host reconnects, so the daemon does:
	 * new I/O waits at the head of its SQ (path_hold) until a path is
	 * live again or the controllers' fast_io_fail_tmo has run out since
	 * the loss (then it fails with -EIO, as the block path's does).
	 */
	bool path_hold;
	uint64_t path_lost_ms; /* when the loss was first seen */
	int fast_io_fail_s;    /* of the subsystem's controllers then; -1: none */
};

/*
 * Open (creating a sparse file if configured and missing) the backing of
 * @cv, check that the extent fits, and fill @out. Relative paths are taken
 * under @state_dir. Returns 0, or -errno with a message in @err.
 */
int vol_open(const struct cfg_volume *cv, const char *state_dir, struct vol *out, char *err,
	     size_t errlen);

/*
 * Bytes the regular files beneath directory fd @dirfd hold (st_size, not
 * allocated blocks), and in *@entries how many files and directories are
 * there, down to VOL_WALK_DEPTH levels; *@deep is how many
 * directories lie deeper (not walked: tenants' trees are at most
 * NS_DEPTH_MAX deep, so only one made otherwise, by hand or by a daemon
 * before that limit, has any). Returns 0 or -errno.
 */
#define VOL_WALK_DEPTH 64
int vol_dir_usage(int dirfd, uint64_t *bytes, uint64_t *entries, unsigned int *deep);

/* Close the backing fd (and the passthrough char device). */
void vol_close(struct vol *v);

#endif
