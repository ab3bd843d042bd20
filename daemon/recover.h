/* SPDX-License-Identifier: MIT */
/* rcv_: restart without losing clients (see recover.c). */
#ifndef RINGD_DAEMON_RECOVER_H
#define RINGD_DAEMON_RECOVER_H

#include "dispatch.h"

/* Re-adopt the sessions of a previous instance from the fd store and the
 * journal, and reissue what it left unfinished. Returns 0 or -errno. */
int rcv_recover(struct disp *d);

#endif
