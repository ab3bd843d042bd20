/* SPDX-License-Identifier: MIT */
/*
 * disp_: the data path. Turns client SQEs into kernel SQEs and kernel
 * completions into client CQEs. It marks a session broken when its ring
 * misbehaves; it never tears one down (the session layer does that when
 * the session's work has drained).
 */
#ifndef RINGD_DAEMON_DISPATCH_H
#define RINGD_DAEMON_DISPATCH_H

#include <stdint.h>

#include "config.h"
#include "journal.h"
#include "reqs.h"
#include "rings.h"
#include "session.h"
#include "usage.h"
#include "validate.h"
#include "vols.h"

struct disp {
	const struct cfg *cfg;
	struct sessions *st;
	struct reqs *rq;
	struct rings *rg;
	struct vols *vols;
	struct jr *jr;
	struct usage *use;
	uint32_t *dirty; /* slots of sessions with unpublished CQEs */
	uint32_t ndirty, dirty_cap;
};

/* Wire the data path to its resources. Returns 0 or -ENOMEM. */
int disp_init(struct disp *d, const struct cfg *cfg, struct sessions *st, struct reqs *rq,
	      struct rings *rg, struct vols *vols, struct jr *jr, struct usage *use);
void disp_fini(struct disp *d);

/*
 * Serve every active session's SQ, up to @budget SQEs each, round robin
 * (the session served first goes last next time). Returns SQEs consumed.
 */
unsigned int disp_serve(struct disp *d, unsigned int budget);

/* Consume up to @budget SQEs of @se. Returns how many. */
unsigned int disp_consume(struct disp *d, struct sess *se, unsigned int budget);

/* The kernel completed request @idx with @res. */
void disp_complete(struct disp *d, uint32_t idx, int32_t res);

/* Publish the CQ tails of every session with new CQEs. */
void disp_flush(struct disp *d);

/* Hand request @idx (already journaled) to the kernel, or complete it at
 * once with an error (recovery uses it to reissue). */
void disp_submit(struct disp *d, struct sess *se, uint32_t idx, const struct val_io *io);

/* Post request @idx's result @res to its session, journal-ordered, and
 * free the request. */
void disp_finish(struct disp *d, struct sess *se, uint32_t idx, int32_t res);

#endif
