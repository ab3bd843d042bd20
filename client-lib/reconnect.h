/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 2: keeping a session live across a daemon restart (see
 * reconnect.c).
 */
#ifndef RINGD_CLIENT_RECONNECT_H
#define RINGD_CLIENT_RECONNECT_H

#include "ctl.h"

/*
 * Before a ring operation: if the daemon went away (a graceful shutdown
 * counts) and @rd may reconnect, reconnect. Returns 0 when the session is
 * served, -ENOTCONN when the daemon is gone (and reconnecting failed or is
 * not allowed), -EPIPE when the daemon broke the session.
 */
int rcn_ring_live(struct ringd *rd);

/*
 * Before a control call: if the daemon went away and @rd may reconnect,
 * reconnect. Returns 0, or -ENOTCONN if reconnecting failed. A session the
 * daemon broke is left for the call itself to report.
 */
int rcn_ctl_live(struct ringd *rd);

#endif
