/* SPDX-License-Identifier: MIT */
/*
 * dm_: device mapper for the guest tests, through its ioctls (the guest has
 * no dmsetup and no udev). Shared by the fault and power-loss cases.
 */
#ifndef RINGD_TESTS_VM_DMCTL_H
#define RINGD_TESTS_VM_DMCTL_H

#include <linux/dm-ioctl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

union dm_buf {
	struct dm_ioctl io;
	char raw[16384];
};

/* One DM ioctl @cmd on device @name; @b's payload (if any) already set up
 * to @size bytes. Returns 0 or -errno. */
int dm_call(unsigned long cmd, const char *name, union dm_buf *b, size_t size, uint32_t flags);

/* Load a one-target table (@len sectors of @type @params) into @name's
 * inactive slot. Returns 0 or -errno. */
int dm_load(const char *name, uint64_t len, const char *type, const char *params);

/* Suspend @name without syncing the page cache first (DM_SKIP_LOCKFS:
 * dirty pages must stay dirty for the table that comes next), or resume
 * it (the loaded table goes live). Returns 0 or -errno. */
int dm_suspend(const char *name, bool suspend);

/* Remove @name; a device just closed may still be held for a moment (its
 * partition scan). Returns 0 or -errno (-ENXIO: there was none). */
int dm_remove(const char *name);

/* Create @name (a leftover of a failed run removed first) with one target
 * of @len sectors, @type @params, live; its node path goes to @path.
 * Asserts (Criterion) that every step worked. */
void dm_create(const char *name, uint64_t len, const char *type, const char *params, char *path,
	       size_t pathlen);

#endif
