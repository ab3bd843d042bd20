/* SPDX-License-Identifier: MIT */
/*
 * nso_: the control plane's requests on directory volumes (OpenFile,
 * PathOp, Truncate, Fstat). Each is checked here, on the loop, against the
 * tenant's rights and the volume's size, then handed to the namespace
 * worker (nsworker.h); its answer is applied and sent when the worker is
 * done. Meanwhile the session's later control messages wait (replies stay
 * in order) and every other session is served as usual.
 */
#ifndef RINGD_DAEMON_NSOPS_H
#define RINGD_DAEMON_NSOPS_H

#include "ringd.pb-c.h"
#include "session.h"

struct ctlplane;

/* @replay: the request is sent again after a restart (Request.replay). */
int nso_open_file(struct ctlplane *cp, struct sess *se, const Ringd__OpenFile *of, bool replay);
int nso_path_op(struct ctlplane *cp, struct sess *se, const Ringd__PathOp *po, bool replay);
int nso_truncate(struct ctlplane *cp, struct sess *se, const Ringd__Truncate *tr);
int nso_fstat(struct ctlplane *cp, struct sess *se, const Ringd__Fstat *fs);

/* The worker's eventfd fired: apply and answer the finished jobs. */
void nso_event(struct ctlplane *cp);

#endif
