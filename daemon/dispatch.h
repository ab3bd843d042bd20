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
#include "figures.h"
#include "flusherr.h"
#include "journal.h"
#include "qos.h"
#include "reqs.h"
#include "rings.h"
#include "session.h"
#include "usage.h"
#include "validate.h"
#include "vols.h"

/* One QoS class (tenant) during a pass: its sessions with SQEs waiting. */
struct disp_class {
	struct sess *head, *tail;
	uint64_t last_ready_ns; /* last pass it had SQEs waiting */
	uint32_t outstanding;	/* requests in the kernel or posted and not yet reaped */
	bool busy;		/* keeps a deep pipeline: counts while between SQEs */
	bool holding;		/* the last pass ended held back for it */
	int64_t hold_ns;	/* how long it may still hold others back while
				 * between SQEs: earned by what it consumes */
	bool throttled;		/* waiting only for tokens in this pass */
	bool was_throttled;	/* ... in the previous pass */
};

/*
 * Bytes of reads and writes one pass starts at most (and always one
 * request): the kernel copies page-cached data inside the loop's own
 * io_uring_enter(), about 4 GB/s here, so this bounds how long a pass
 * keeps every other SQ waiting (H49) to about 0.1 ms plus one request.
 */
#define DISP_PASS_BYTES (512u << 10)

/*
 * Bytes a tenant reads through the page cache at once, at most (and
 * always one request). A read of pages not yet cached waits for them, and
 * when they arrive the kernel copies every read that waited on them in one
 * go, in task work on the loop's thread: about 0.1 ms per MiB here, so
 * this bounds that stall to about a millisecond per tenant (H50).
 */
#define DISP_COPY_MAX (8u << 20)

struct disp {
	const struct cfg *cfg;
	struct qos *qos;
	struct sessions *st;
	struct reqs *rq;
	struct rings *rg;
	struct vols *vols;
	struct jr *jr;
	struct usage *use;
	uint32_t *dirty; /* slots of sessions with unpublished CQEs */
	uint32_t ndirty, dirty_cap;
	struct disp_class *cls; /* qos->n + 1 */
	unsigned int ncls;
	uint64_t wake_ns;	/* earliest time a throttled request may go; 0: none */
	uint64_t held_since_ns; /* the last pass ended holding tenants back; 0: no */
	struct figures *fig;	/* operators' figures, or NULL (set after disp_init) */
	uint64_t clock_ns;	/* this pass's or this completion batch's clock */
	uint64_t pass_bytes;	/* reads and writes this pass has started (DISP_PASS_BYTES) */
	struct fe fe;		/* write-back errors per session and volume */
	bool *gone;		/* VOLS_MAX: the volume's device was found gone (logged) */
};

/* Wire the data path to its resources. Returns 0 or -ENOMEM. */
int disp_init(struct disp *d, const struct cfg *cfg, struct sessions *st, struct reqs *rq,
	      struct rings *rg, struct vols *vols, struct jr *jr, struct usage *use,
	      struct qos *qos);
void disp_fini(struct disp *d);

/*
 * Serve the active sessions' SQs, up to @budget SQEs per session per pass,
 * tenant by tenant as QoS decides: reservations due first, then the
 * smallest weighted virtual time, never past a limit. A deep tenant
 * (DISP_BUSY_DEPTH requests outstanding) may run ahead of the slowest busy
 * tenant by DISP_LAG units of virtual time at most; busy means SQEs
 * waiting now, or a deep pipeline and SQEs within the last
 * DISP_ACTIVE_NS, so that a saturating tenant whose client is between two
 * submissions keeps its share. A shallow tenant is never held back for
 * one. Holding others back while it has nothing queued is paid for with
 * credit earned by consuming (DISP_HOLD_PER_UNIT_NS per unit, at most
 * DISP_HOLD_MAX_NS), so a light tenant, or one that games its pipeline,
 * can delay the others by no more than in proportion to its own service. A tenant alone, or
 * next to tenants held only by their limits, takes all it can
 * (work-conserving). A request held back stays in its SQ, in order;
 * d->wake_ns then says when to look again. A pass starts at most
 * DISP_PASS_BYTES of reads and writes (and always one request), so that
 * the kernel's copies of page-cached data in the next io_uring_enter()
 * keep no other SQ waiting long. @now_ns is the pass's clock.
 * Returns SQEs consumed.
 */
unsigned int disp_serve(struct disp *d, unsigned int budget, uint64_t now_ns);

/* Consume up to @budget SQEs of @se (QoS applies). Returns how many. */
unsigned int disp_consume(struct disp *d, struct sess *se, unsigned int budget);

/* The kernel completed request @idx with @res. */
void disp_complete(struct disp *d, uint32_t idx, int32_t res);

/* Read the clock for the completions about to be routed (one vDSO call per
 * batch, only while figures are kept). */
void disp_clock(struct disp *d);

/* Publish the CQ tails of every session with new CQEs. */
void disp_flush(struct disp *d);

/*
 * Recovery, for request @idx that its journal record says was accepted
 * and not completed (the request slot claimed, user_data, session, op and
 * len set): adopt it (account it, or complete it at once with -ENODEV or
 * -EFAULT if its volume or data went away). Returns true if adopted. Then,
 * once every request is adopted, disp_relink() each held one and
 * disp_launch() each other one.
 */
bool disp_adopt(struct disp *d, struct sess *se, uint32_t idx);
/* Attach held request @idx behind its journaled predecessor (cancelled if
 * that one is not in flight any more) and make the session's chain state
 * match. */
void disp_relink(struct disp *d, struct sess *se, uint32_t idx);
/* Start adopted request @idx, which waits for nothing. */
void disp_launch(struct disp *d, struct sess *se, uint32_t idx);
/* Before any of that: take @se's link-chain state from its journal and
 * the requests claimed for it (the last SQE it consumed says whether a
 * chain is open or being cancelled). */
void disp_chain_restore(struct disp *d, struct sess *se);

/* Post request @idx's result @res to its session, journal-ordered, and
 * free the request. */
void disp_finish(struct disp *d, struct sess *se, uint32_t idx, int32_t res);

#endif
