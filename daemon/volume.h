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
	bool direct;
	uint32_t block_size; /* logical block size of the backing */
	struct val_vol v;    /* what the validator sees */
};

/*
 * Open (creating a sparse file if configured and missing) the backing of
 * @cv, check that the extent fits, and fill @out. Relative paths are taken
 * under @state_dir. Returns 0, or -errno with a message in @err.
 */
int vol_open(const struct cfg_volume *cv, const char *state_dir, struct vol *out, char *err,
	     size_t errlen);

/* Close the backing fd. */
void vol_close(struct vol *v);

#endif
