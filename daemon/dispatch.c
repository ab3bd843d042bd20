/* SPDX-License-Identifier: MIT */
/*
 * disp_: turns client SQEs into kernel SQEs and kernel completions into
 * client CQEs.
 *
 * Consuming one SQE: read its SQ array entry once, copy the SQE once
 * (val_sqe_fetch), validate the copy, reserve room on the kernel ring its
 * path needs, and either post an error CQE at once or build a kernel SQE
 * from zero tagged with a private request slot. An SQE is consumed only
 * while a CQ slot can be reserved for its completion, so no completion is
 * ever dropped; a client that does not reap gets backpressure (its SQEs
 * wait in its SQ) and, after stall_timeout, is marked broken and closed.
 */
#include "dispatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "issue.h"
#include "log.h"
#include "tags.h"

#define DISP_TURN	      16u		    /* SQEs per turn of a tenant */
#define DISP_ACTIVE_NS	      5000000ull	    /* a busy tenant counts this long after SQEs */
#define DISP_BUSY_DEPTH	      8u		    /* outstanding requests of a busy tenant */
#define DISP_LAG	      ((64ull << 16) / 100) /* virtual time a tenant may run ahead */
#define DISP_HOLD_PER_UNIT_NS 20000		    /* hold credit earned per unit consumed */
#define DISP_HOLD_MAX_NS      5000000		    /* ... kept at most */
#define DISP_COLD_NS	      10000000ull	    /* idle this long: the session goes cold */
#define DISP_BLOCKING_MAX     32u /* a tenant's requests holding kernel workers (RG_IOWQ_WORKERS) */

/* Why disp_take() stopped. */
enum disp_stop {
	DISP_EMPTY,	/* the SQ has nothing more (or the session broke) */
	DISP_BLOCKED,	/* CQ full, in-flight caps, kernel SQ full: backpressure */
	DISP_THROTTLED, /* the next request waits for its tenant's tokens */
	DISP_BUDGET,	/* the budget ran out with SQEs left */
};

int disp_init(struct disp *d, const struct cfg *cfg, struct sessions *st, struct reqs *rq,
	      struct rings *rg, struct vols *vols, struct jr *jr, struct usage *use,
	      struct qos *qos)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->qos = qos;
	d->st = st;
	d->rq = rq;
	d->rg = rg;
	d->vols = vols;
	d->jr = jr;
	d->use = use;
	d->dirty_cap = 2 * st->max;
	d->dirty = calloc(d->dirty_cap, sizeof(*d->dirty));
	d->gone = calloc(VOLS_MAX, sizeof(*d->gone));
	if (!d->dirty || !d->gone || fe_init(&d->fe, VOLS_ALL, st->max)) {
		disp_fini(d);
		return -ENOMEM;
	}
	fe_persist(&d->fe, jr);
	return 0;
}

void disp_fini(struct disp *d)
{
	fe_fini(&d->fe);
	free(d->gone);
	d->gone = NULL;
	free(d->dirty);
	free(d->cls);
	d->dirty = NULL;
	d->cls = NULL;
}

void disp_flush(struct disp *d)
{
	uint32_t i;

	for (i = 0; i < d->ndirty; i++) {
		struct sess *se = sess_at(d->st, d->dirty[i]);

		if (se && se->state != SESS_CLOSING && se->hdr)
			sess_publish_cq(se);
		else if (se)
			se->cq_dirty = false;
	}
	d->ndirty = 0;
}

/* Record request @r's completion with @res in the figures (O(1), no syscall). */
static inline void disp_figures(struct disp *d, const struct sess *se, const struct req *r,
				int32_t res)
{
	if (!d->fig || d->fig->off || !r->t0_ns || r->rejected)
		return;
	fig_done(d->fig, se->tenant, r->has_vol ? (int)vols_owner(d->vols, r->vol) : -1, r->op, res,
		 r->path, d->clock_ns > r->t0_ns ? d->clock_ns - r->t0_ns : 0);
}

void disp_clock(struct disp *d)
{
	if (d->fig && !d->fig->off)
		d->clock_ns = clock_now_ns();
}

void disp_finish(struct disp *d, struct sess *se, uint32_t idx, int32_t res)
{
	struct jr_sess *js = &d->jr->sess[se->slot];
	struct jr_req *jq = &d->jr->reqs[idx];

	if (se->state != SESS_CLOSING && se->state != SESS_FREED && se->hdr) {
		if (!se->cq_dirty) {
			if (d->ndirty == d->dirty_cap)
				disp_flush(d);
			d->dirty[d->ndirty++] = se->slot;
		}
		/* Journal order: POSTING(at) -> CQE -> cq_tail (commit) -> FREE. */
		jq->posted_at = se->cq_tail;
		jr_commit(&jq->state, JR_POSTING);
		sess_post_cqe(se, d->rq->r[idx].user_data, res);
		jr_commit(&js->cq_tail, se->cq_tail);
	}
	jr_commit(&jq->state, JR_FREE);
	disp_figures(d, se, &d->rq->r[idx], res);
	rq_put(d->rq, idx);
}

/* The session's data area, as the issue layer takes it. */
static struct iss_area disp_area(const struct sess *se)
{
	struct iss_area a = { .data = se->data, .size = se->data_size, .buf_slot = se->slot };

	return a;
}

/* Count request @idx against its session, tenant and volume until it is done. */
static void disp_account(struct disp *d, struct sess *se, uint32_t idx)
{
	struct req *r = &d->rq->r[idx];

	r->accounted = true;
	se->inflight++;
	se->cq_reserved++;
	se->blocking += r->blocking;
	if (r->copies)
		se->copying += r->len;
	use_io_start(d->use, se->tenant, r->blocking, r->copies ? r->len : 0);
	if (r->has_vol)
		vols_io_start(d->vols, r->vol);
}

static void disp_unaccount(struct disp *d, struct sess *se, struct req *r)
{
	if (!r->accounted)
		return;
	r->accounted = false;
	se->inflight--;
	se->cq_reserved--;
	se->blocking -= r->blocking;
	if (r->copies)
		se->copying -= r->len;
	use_io_done(d->use, se->tenant, r->blocking, r->copies ? r->len : 0);
	r->blocking = false;
	r->copies = false;
	if (r->has_vol)
		vols_io_done(d->vols, r->vol);
}

/* Whether @op changes the volume's contents (and a flush must cover it). */
static bool disp_writes(uint8_t op)
{
	return val_op_in(op, VAL_OPS_WRITES);
}

/* Journal @res as request @idx's result: a restart posts it rather than
 * issue the request (again). */
static void disp_settle(struct disp *d, uint32_t idx, int32_t res)
{
	struct jr_req *jq = &d->jr->reqs[idx];

	jq->res = res;
	__atomic_store_n(&jq->immediate, 1, __ATOMIC_RELEASE);
}

/*
 * Kernel completion @res of request @idx, of session @id in @slot (0:
 * gone): a write marks the session as having written, a failure counts
 * against the volume, and a flush gets -EIO if its session wrote and the
 * volume failed since (flusherr.h). Returns the result the session sees.
 */
static int32_t disp_wb_track(struct disp *d, uint32_t idx, uint32_t slot, uint64_t id, int32_t res)
{
	const struct req *r = &d->rq->r[idx];
	bool told = false;

	if (disp_writes(r->op)) {
		fe_wrote(&d->fe, slot, id, r->vol, res);
	} else if (r->op == RINGD_OP_FSYNC) {
		res = fe_flushed(&d->fe, slot, id, r->vol, res, &told);
		if (told) {
			/* The flush's result first: a restart posts it instead of
			 * flushing again and hearing 0. Then the journal may
			 * forget the failure was owed. */
			disp_settle(d, idx, res);
			fe_told(&d->fe, slot, id, r->vol);
		}
	}
	return res;
}

/* @res of request @idx, once the write-back error tracking has seen a
 * write's or a flush's result (reads and the rest pass through). */
static inline int32_t disp_wb(struct disp *d, uint32_t idx, uint32_t slot, uint64_t id, int32_t res)
{
	const struct req *r = &d->rq->r[idx];

	if (!r->has_vol || (!disp_writes(r->op) && r->op != RINGD_OP_FSYNC))
		return res;
	return disp_wb_track(d, idx, slot, id, res);
}

/* @r's result @res, with a device that went away under a block volume
 * made -EIO (said once in the log, naming the volume). */
static int32_t disp_gone(struct disp *d, const struct vol *v, const struct req *r, int32_t res)
{
	bool gone;

	res = iss_gone(v, r, res, &gone);
	if (gone && r->vol < VOLS_MAX && !d->gone[r->vol]) {
		d->gone[r->vol] = true;
		log_warn("volume %s: %s is gone (or now smaller than the volume): its I/O fails "
			 "with -EIO until a reload removes it",
			 v->name, v->path);
	}
	return res;
}

/* Whether @res of @r lets a chain go on: success, and a read or write
 * transferred its full length. */
static bool disp_ok(const struct req *r, int32_t res)
{
	if (res < 0)
		return false;
	switch (r->op) {
	case RINGD_OP_READ:
	case RINGD_OP_WRITE:
	case RINGD_OP_READV:
	case RINGD_OP_WRITEV:
		return (uint32_t)res == r->len;
	default:
		return true;
	}
}

/* Set (or clear) @se's "the rest of this chain is cancelled", journaled. */
static void disp_set_chain_cancel(struct disp *d, struct sess *se, bool on)
{
	if (se->chain_cancel == on)
		return;
	se->chain_cancel = on;
	jr_commit(&d->jr->sess[se->slot].chain_cancel, on);
}

/*
 * Requests @first and every one linked after it will complete with
 * -ECANCELED: journal that before anything they wait for posts its CQE,
 * and if the chain goes on past them, cancel its next SQEs too.
 */
static void disp_chain_mark(struct disp *d, struct sess *se, uint32_t first)
{
	uint32_t m, last = first;

	for (m = first; m != RQ_NONE; m = d->rq->r[m].link_next) {
		disp_settle(d, m, -ECANCELED);
		last = m;
	}
	if (d->rq->r[last].link && se->chain_tail == last) {
		se->chain_tail = RQ_NONE;
		disp_set_chain_cancel(d, se, true);
	}
}

/* ... and complete them (after the CQE of the request they waited for). */
static void disp_chain_finish(struct disp *d, struct sess *se, uint32_t first)
{
	uint32_t m, next;

	for (m = first; m != RQ_NONE; m = next) {
		struct req *r = &d->rq->r[m];

		next = r->link_next;
		r->link_next = r->link_prev = RQ_NONE;
		r->held = false;
		disp_unaccount(d, se, r);
		disp_finish(d, se, m, -ECANCELED);
	}
}

/*
 * Request @idx is done with @res: what it means for the chain after it.
 * Returns the request released to start now (its hold lifted in the
 * journal), or RQ_NONE; *@cancel: the first of the requests to cancel
 * (marked), or RQ_NONE.
 */
static uint32_t disp_chain_step(struct disp *d, struct sess *se, uint32_t idx, int32_t res,
				uint32_t *cancel)
{
	struct req *r = &d->rq->r[idx];
	uint32_t next = r->link_next;
	struct jr_req *jn;
	bool ok;

	*cancel = RQ_NONE;
	if (!r->link)
		return RQ_NONE;
	/* A session that is going away starts nothing more. */
	ok = disp_ok(r, res) && se->state == SESS_ACTIVE;
	if (next == RQ_NONE) {
		if (se->chain_tail == idx) {
			se->chain_tail = RQ_NONE;
			if (!ok)
				disp_set_chain_cancel(d, se, true);
		}
		return RQ_NONE;
	}
	r->link_next = RQ_NONE;
	d->rq->r[next].link_prev = RQ_NONE;
	if (!ok) {
		disp_chain_mark(d, se, next);
		*cancel = next;
		return RQ_NONE;
	}
	d->rq->r[next].held = false;
	jn = &d->jr->reqs[next];
	__atomic_store_n(&jn->flags, (uint8_t)(jn->flags & ~JR_F_HELD), __ATOMIC_RELEASE);
	return next;
}

static bool disp_start(struct disp *d, struct sess *se, uint32_t idx, int32_t *res);

/*
 * Request @idx of @se is done with @res: the chain after it moves on, its
 * CQE is posted, and a request it released that completes at once (a
 * NOP, a refused cancel...) is done in turn, iteratively.
 */
static void disp_done(struct disp *d, struct sess *se, uint32_t idx, int32_t res)
{
	for (;;) {
		uint32_t cancel, next = disp_chain_step(d, se, idx, res, &cancel);

		disp_unaccount(d, se, &d->rq->r[idx]);
		disp_finish(d, se, idx, res);
		if (cancel != RQ_NONE)
			disp_chain_finish(d, se, cancel);
		if (next == RQ_NONE || !disp_start(d, se, next, &res))
			return;
		idx = next;
	}
}

/* The in-flight request of @se (not @self, not a cancel) whose user_data is @ud. */
static uint32_t disp_find(struct disp *d, const struct sess *se, uint32_t self, uint64_t ud)
{
	uint32_t i;

	for (i = 0; i < d->rq->n; i++) {
		const struct req *r = &d->rq->r[i];

		if (r->busy && i != self && r->sess == se->slot && r->user_data == ud &&
		    r->op != RINGD_OP_CANCEL && !r->rejected)
			return i;
	}
	return RQ_NONE;
}

/*
 * CANCEL request @idx for @target. A request waiting in a chain is
 * cancelled here, with the rest of its chain; one on the main ring is
 * asked of the kernel (which can stop what has not started); anything
 * else is running. Returns true with *@res if it is done now.
 */
static bool disp_cancel(struct disp *d, struct sess *se, uint32_t idx, uint64_t target,
			int32_t *res)
{
	uint32_t t = disp_find(d, se, idx, target);
	struct req *r;

	if (t == RQ_NONE) {
		*res = -ENOENT;
		return true;
	}
	r = &d->rq->r[t];
	if (r->held) {
		if (r->link_prev != RQ_NONE)
			d->rq->r[r->link_prev].link_next = RQ_NONE;
		r->link_prev = RQ_NONE;
		disp_chain_mark(d, se, t);
		disp_chain_finish(d, se, t);
		*res = 0;
		return true;
	}
	if (r->issued && r->ring == RG_MAIN &&
	    !kr_queue_cancel(rg_ring(d->rg, RG_MAIN), iss_tag(d->rq, t), iss_tag(d->rq, idx))) {
		d->rq->r[idx].issued = true;
		d->rq->r[idx].ring = RG_MAIN;
		return false;
	}
	*res = -EALREADY;
	return true;
}

/*
 * Start accepted request @idx (journaled, accounted, not held). Returns
 * false once it is in the kernel, or true with *@res if it is done at once
 * (a NOP, a cancel answered here, or the kernel SQ stayed full).
 */
static bool disp_start(struct disp *d, struct sess *se, uint32_t idx, int32_t *res)
{
	struct req *r = &d->rq->r[idx];
	struct iss_area a = disp_area(se);
	int ret;

	if (r->op == RINGD_OP_NOP) {
		*res = 0;
		return true;
	}
	if (r->op == RINGD_OP_CANCEL)
		return disp_cancel(d, se, idx, d->jr->reqs[idx].target, res);
	ret = iss_queue(d->rg, d->rq, d->jr, idx, vols_get(d->vols, r->vol), &a);
	if (ret) {
		/* The kernel SQ stayed full after a flush: fail this one request. */
		log_debug("request %u: not queued: %s", idx, strerror(-ret));
		*res = ret;
		return true;
	}
	return false;
}

bool disp_adopt(struct disp *d, struct sess *se, uint32_t idx)
{
	const struct jr_req *jq = &d->jr->reqs[idx];
	struct req *r = &d->rq->r[idx];
	struct iss_area a = disp_area(se);

	r->link = (jq->flags & JR_F_LINK) != 0;
	if (r->op != RINGD_OP_NOP && r->op != RINGD_OP_CANCEL) {
		const struct vol *v;

		if (!vols_valid(d->vols, jq->vol) || d->vols->vv[jq->vol].removed) {
			disp_finish(d, se, idx, -ENODEV);
			return false;
		}
		if (iss_check_area(d->jr, idx, &a)) {
			disp_finish(d, se, idx, -EFAULT);
			return false;
		}
		v = vols_get(d->vols, jq->vol);
		r->vol = jq->vol;
		r->has_vol = true;
		/* Counted as at its acceptance: its worker and its page-cache copy. */
		r->on_worker = iss_on_worker(v, jq->op, jq->len);
		r->blocking = iss_blocks(v, jq->op, (jq->flags & JR_F_DSYNC) != 0, r->on_worker);
		r->copies = iss_copies(v, jq->op);
	}
	se->stats.submitted++;
	disp_account(d, se, idx);
	if (jq->flags & JR_F_HELD) {
		r->held = true;
		r->link_prev = jq->link_prev;
	}
	return true;
}

void disp_relink(struct disp *d, struct sess *se, uint32_t idx)
{
	struct req *r = &d->rq->r[idx];
	uint32_t p = r->link_prev;
	struct req *pr = p < d->rq->n ? &d->rq->r[p] : NULL;

	if (pr && pr->busy && pr->sess == se->slot && pr->link && pr->link_next == RQ_NONE &&
	    (pr->held || pr->accounted)) {
		pr->link_next = idx;
		return;
	}
	log_warn("recovery: request %u waited for a request that is gone; cancelling it", idx);
	r->link_prev = RQ_NONE;
	disp_chain_mark(d, se, idx);
	disp_chain_finish(d, se, idx);
}

void disp_launch(struct disp *d, struct sess *se, uint32_t idx)
{
	int32_t res;

	if (disp_start(d, se, idx, &res))
		disp_done(d, se, idx, res);
}

void disp_chain_restore(struct disp *d, struct sess *se)
{
	const struct jr_sess *js = &d->jr->sess[se->slot];
	uint32_t i, last = js->sq_head - 1;

	se->chain_cancel = js->chain_cancel != 0;
	se->chain_tail = RQ_NONE;
	/* A flush after a failure must not succeed over what it wrote before. */
	if (fe_restored(&d->fe, se->slot, se->id))
		log_warn("session %llu: no memory to track its write-back errors",
			 (unsigned long long)se->id);
	for (i = 0; i < d->rq->n; i++) {
		const struct jr_req *jq = &d->jr->reqs[i];

		if (!d->rq->r[i].busy || d->rq->r[i].sess != se->slot || jq->sq_index != last)
			continue;
		/* The last SQE consumed decides whether a chain is open. */
		if (jq->immediate && jq->res < 0)
			disp_set_chain_cancel(d, se, (jq->flags & JR_F_LINK) != 0);
		else if (!jq->immediate && (jq->flags & JR_F_LINK))
			se->chain_tail = i;
	}
}

/* Journal request @idx as consumed from SQ index @sq_index of @se. */
static void disp_journal(struct disp *d, struct sess *se, uint32_t idx, uint32_t sq_index,
			 uint64_t user_data, const struct val_io *io, bool link, int32_t res,
			 bool immediate, uint32_t link_prev)
{
	struct jr_req *jq = &d->jr->reqs[idx];
	uint32_t i;

	jq->sess = se->slot;
	jq->sq_index = sq_index;
	jq->user_data = user_data;
	jq->op = io->op;
	jq->datasync = io->datasync;
	jq->flags = (uint8_t)((io->dsync ? JR_F_DSYNC : 0) | (link ? JR_F_LINK : 0) |
			      (link_prev != RQ_NONE ? JR_F_HELD : 0));
	jq->link_prev = link_prev;
	jq->vol = io->file_slot;
	jq->dev_off = io->dev_off;
	jq->len = io->len;
	if (io->op == RINGD_OP_DISCARD || io->op == RINGD_OP_WRITE_ZEROES)
		jq->dev_len = io->dev_len;
	else if (io->op == RINGD_OP_CANCEL)
		jq->target = io->target;
	else
		jq->buf_off = io->buf_off;
	jq->nvecs = (uint8_t)io->nvecs;
	for (i = 0; i < io->nvecs; i++) {
		d->jr->vecs[idx][i].off = io->vecs[i].off;
		d->jr->vecs[idx][i].len = io->vecs[i].len;
	}
	jq->res = res;
	jq->immediate = immediate;
	jr_commit(&jq->state, JR_PENDING);
	jr_commit(&d->jr->sess[se->slot].sq_head, sq_index + 1);
}

/* Re-read and check the client's CQ head. Returns false if it is bogus. */
static bool disp_refresh_cq_head(struct sess *se)
{
	uint32_t h = ringd_load_acquire(&se->hdr->cq_head);

	/* The head may only move forward, and never past what we posted. */
	if ((uint32_t)(h - se->cq_head_seen) > (uint32_t)(se->cq_tail - se->cq_head_seen))
		return false;
	se->cq_head_seen = h;
	return true;
}

/* Whether @se's CQ has room for one more completion. */
static inline bool disp_cq_room(const struct sess *se)
{
	return (uint32_t)(se->cq_tail - se->cq_head_seen) + se->cq_reserved < se->cq_entries;
}

/*
 * Start loading @se's next SQEs (up to @budget before @tail) while the
 * first one is checked: each is a line the client's core wrote. Clients
 * place SQE i at slot i (liburing's and libringd's rings do), so the SQE
 * is fetched alongside its SQ array entry instead of after it; any other
 * placement only makes the prefetch useless.
 */
static inline void disp_prefetch(const struct sess *se, uint32_t tail, unsigned int budget)
{
	uint32_t mask = se->sq_entries - 1, n = tail - se->sq_head, i;

	if (n > budget)
		n = budget;
	for (i = 0; i < n; i++) {
		uint32_t k = (se->sq_head + i) & mask;

		if (!(i & 15) || !(k & 15))
			__builtin_prefetch(&se->sq_array[k]);
		__builtin_prefetch(&se->sqes[k]);
	}
}

/* Whether @se may have one more request in the kernel (backpressure if
 * not): its own cap, its tenant's, and the other tenants' pool shares. */
static bool disp_may_issue(struct disp *d, const struct sess *se)
{
	if (se->inflight >= se->max_inflight)
		return false;
	return use_may_start(d->use, se->tenant, d->rq->n - d->rq->inflight);
}

/* Whether a tenant reading @copying bytes through the page cache may start
 * a read of @len more: within DISP_COPY_MAX, or its only one. */
static inline bool disp_may_copy(uint64_t copying, uint32_t len)
{
	return !copying || copying + len <= DISP_COPY_MAX;
}

/* The CQ has been full with SQEs waiting: break and close after stall_timeout. */
static void disp_stalled(struct disp *d, struct sess *se)
{
	uint64_t now = clock_now_ms();

	if (!se->stall_since_ms) {
		se->stall_since_ms = now;
	} else if (now - se->stall_since_ms > d->cfg->stall_timeout_ms) {
		sess_break(d->st, se, RINGD_BROKEN_STALL);
		sess_close(d->st, se);
	}
}

/*
 * Whether @se's SQ has SQEs waiting. A tail that moved backwards or past
 * the ring size breaks the session; an empty SQ ends a stall.
 */
static bool disp_pending(struct disp *d, struct sess *se)
{
	uint32_t tail;

	if (se->state != SESS_ACTIVE)
		return false;
	tail = ringd_load_acquire(&se->hdr->sq_tail);
	if ((uint32_t)(tail - se->sq_head) > se->sq_entries) {
		sess_break(d->st, se, RINGD_BROKEN_SQ_TAIL);
		return false;
	}
	if (tail == se->sq_head) {
		se->stall_since_ms = 0;
		return false;
	}
	return true;
}

/*
 * A request as QoS weighs it: vectored I/O as the plain kind with its
 * total length, discard and write-zeroes as one write unit that moves no
 * bytes, a cancel (like a refused SQE) as nothing.
 */
static struct qos_req disp_qos_req(const struct val_io *io, int ret)
{
	struct qos_req qr = { .op = RINGD_OP_NOP };

	if (ret)
		return qr;
	switch (io->op) {
	case RINGD_OP_READ:
	case RINGD_OP_READV:
		qr.op = RINGD_OP_READ;
		qr.len = io->len;
		break;
	case RINGD_OP_WRITE:
	case RINGD_OP_WRITEV:
		qr.op = RINGD_OP_WRITE;
		qr.len = io->len;
		break;
	case RINGD_OP_DISCARD:
	case RINGD_OP_WRITE_ZEROES:
		qr.op = RINGD_OP_WRITE;
		break;
	case RINGD_OP_FSYNC:
		qr.op = RINGD_OP_FSYNC;
		break;
	default:
		break;
	}
	return qr;
}

/*
 * Take the SQE just consumed (its private copy @sqe, validated as @io with
 * result @ret): journal it, then complete it here (refused, or in a chain
 * that failed, or a NOP), hold it behind the linked request it waits for,
 * or start it.
 */
static void disp_accept(struct disp *d, struct sess *se, const struct ringd_sqe *sqe,
			const struct val_io *io, int ret, bool blocks, bool copies, bool on_worker,
			uint64_t now_ns)
{
	uint32_t ridx = rq_get(d->rq), prev = RQ_NONE;
	struct req *r = &d->rq->r[ridx];
	int32_t res;

	/* Its flushes must hear of failures after it: room for that first. */
	if (!ret && disp_writes(io->op) && fe_track(&d->fe, se->slot, se->id, io->vol))
		ret = -ENOMEM;
	res = ret;

	r->user_data = sqe->user_data;
	r->sess = se->slot;
	r->len = io->len;
	r->op = io->op;
	r->t0_ns = now_ns;
	r->rejected = ret != 0;
	if (!res && se->chain_cancel)
		res = -ECANCELED;
	else if (!res && se->chain_tail != RQ_NONE)
		prev = se->chain_tail;
	/* A NOP has nothing for the kernel to do: it completes here, in order. */
	disp_journal(d, se, ridx, se->sq_head, sqe->user_data, io, val_sqe_links(sqe), res,
		     res || (prev == RQ_NONE && io->op == RINGD_OP_NOP), prev);
	se->sq_head++;
	if (res) {
		/* Refused or cancelled: the chain ends here, or its rest is cancelled. */
		se->chain_tail = RQ_NONE;
		disp_set_chain_cancel(d, se, val_sqe_links(sqe));
		if (ret) {
			se->stats.rejected++;
			if (d->fig)
				fig_rejected(d->fig, se->tenant);
		}
		disp_finish(d, se, ridx, res);
		return;
	}
	r->link = io->link;
	r->blocking = blocks;
	r->copies = copies;
	r->on_worker = on_worker;
	if (io->op != RINGD_OP_NOP && io->op != RINGD_OP_CANCEL) {
		r->vol = io->vol;
		r->has_vol = true;
	}
	se->chain_tail = io->link ? ridx : RQ_NONE;
	if (prev != RQ_NONE) {
		r->held = true;
		r->link_prev = prev;
		d->rq->r[prev].link_next = ridx;
		disp_account(d, se, ridx);
		return;
	}
	if (io->op != RINGD_OP_NOP)
		disp_account(d, se, ridx);
	if (disp_start(d, se, ridx, &res))
		disp_done(d, se, ridx, res);
}

/*
 * Consume up to @budget SQEs of @se for QoS class @c (@reserved: in its
 * reservation phase). Adds the units started to *@units and says why it
 * stopped; for DISP_THROTTLED, *@wait_ns is how long the next request
 * waits. Returns SQEs consumed.
 */
static unsigned int disp_take(struct disp *d, struct sess *se, unsigned int budget, unsigned int c,
			      bool reserved, uint64_t now_ns, uint64_t *units, uint64_t *wait_ns,
			      enum disp_stop *why)
{
	struct val_ctx ctx = {
		.handles = se->handles,
		.nhandles = se->nhandles,
		.vols = d->vols->vv,
		.nvols = VOLS_ALL,
		.data = se->data,
		.data_size = se->data_size,
		.max_io = d->cfg->max_io_size,
	};
	struct val_vec vecs[RINGD_MAX_VECS];
	uint32_t tail, mask = se->sq_entries - 1;
	unsigned int n = 0;
	bool cq_full = false;

	*why = DISP_EMPTY;
	if (!disp_pending(d, se))
		return 0;
	tail = ringd_load_acquire(&se->hdr->sq_tail);
	/* Every line this take reads from the client, loaded at once. */
	disp_prefetch(se, tail, budget);
	if (!disp_refresh_cq_head(se)) {
		sess_break(d->st, se, RINGD_BROKEN_CQ_HEAD);
		return 0;
	}
	*why = DISP_BUDGET;
	while (n < budget && se->sq_head != tail && d->pass_bytes < DISP_PASS_BYTES) {
		const struct vol *v;
		struct qos_req qr;
		struct ringd_sqe sqe;
		struct val_io io;
		uint8_t path;
		uint32_t idx;
		bool blocks, copies, on_worker;
		int ret;

		if (!disp_cq_room(se)) {
			cq_full = true;
			*why = DISP_BLOCKED;
			break;
		}
		/* In-flight caps are backpressure too: the SQE waits in the SQ. */
		if (!disp_may_issue(d, se)) {
			*why = DISP_BLOCKED;
			break;
		}
		idx = __atomic_load_n(&se->sq_array[se->sq_head & mask], __ATOMIC_RELAXED);
		if (idx >= se->sq_entries) {
			ringd_store_release(&se->hdr->sq_head, se->sq_head);
			sess_break(d->st, se, RINGD_BROKEN_SQ_INDEX);
			*why = DISP_EMPTY;
			return n;
		}
		idx = idx_nospec(idx, se->sq_entries);
		val_sqe_fetch(&sqe, &se->sqes[idx]);
		io.vecs = vecs;
		ret = val_sqe(&sqe, &ctx, &io);
		/*
		 * A passthrough volume without a live path (on_path_loss = wait):
		 * the request waits at the head of its SQ, as one over a QoS
		 * limit does, until a path is back or fast_io_fail_tmo is over.
		 */
		v = !ret && io.op != RINGD_OP_NOP && io.op != RINGD_OP_CANCEL
			? vols_get(d->vols, io.vol)
			: NULL;
		if (v && v->path_hold) {
			*why = DISP_BLOCKED;
			break;
		}
		/* A write that grows a file is counted against its volume's size first. */
		if (!ret)
			ret = vols_quota(d->vols, io.vol, io.op, io.dev_off,
					 io.op == RINGD_OP_WRITE_ZEROES ? io.dev_len : io.len);
		qr = disp_qos_req(&io, ret);
		/*
		 * Over a limit: the request waits at the head of its SQ (our
		 * copy is dropped and made again next time), so nothing of
		 * this session overtakes it. Refused SQEs never wait.
		 */
		if (!ret) {
			*wait_ns = qos_wait_ns(d->qos, c, &qr);
			if (*wait_ns) {
				if (se->delayed_head != se->sq_head + 1) {
					se->delayed_head = se->sq_head + 1;
					d->qos->t[c].delayed++;
				}
				*why = DISP_THROTTLED;
				break;
			}
		}
		/*
		 * A tenant holds at most DISP_BLOCKING_MAX kernel worker
		 * threads: its next flush or buffered write waits in its SQ,
		 * not in the kernel's queue in front of other tenants'.
		 */
		on_worker = !ret && iss_on_worker(v, io.op, io.len);
		blocks = !ret && iss_blocks(v, io.op, io.dsync, on_worker);
		if (blocks && use_blocking(d->use, se->tenant) >= DISP_BLOCKING_MAX) {
			*why = DISP_BLOCKED;
			break;
		}
		/*
		 * A tenant reads at most DISP_COPY_MAX bytes through the page
		 * cache at once (and always one request): the kernel may copy
		 * them all in one go on the loop's thread (H50).
		 */
		copies = !ret && iss_copies(v, io.op);
		if (copies && !disp_may_copy(use_copying(d->use, se->tenant), io.len)) {
			*why = DISP_BLOCKED;
			break;
		}
		/*
		 * A full kernel SQ on the ring this request needs is
		 * backpressure, never an error CQE.
		 */
		if (!ret && io.op != RINGD_OP_NOP &&
		    rg_sq_reserve(d->rg, iss_route(v, io.op, &path))) {
			*why = DISP_BLOCKED;
			break;
		}
		n++;
		se->stats.submitted++;
		d->pass_bytes += qr.len;
		*units += qos_charge(d->qos, c, &qr, reserved, now_ns);
		disp_accept(d, se, &sqe, &io, ret, blocks, copies, on_worker, now_ns);
	}
	if (se->sq_head == tail && *why == DISP_BUDGET)
		*why = DISP_EMPTY;
	if (n)
		ringd_store_release(&se->hdr->sq_head, se->sq_head);
	if (cq_full && !n)
		disp_stalled(d, se);
	else if (n)
		se->stall_since_ms = 0;
	return n;
}

unsigned int disp_consume(struct disp *d, struct sess *se, unsigned int budget)
{
	unsigned int c = qos_class(d->qos, se->tenant);
	uint64_t now = clock_now_ns(), units = 0, wait = 0;
	enum disp_stop why;

	d->clock_ns = now;
	d->pass_bytes = 0;
	qos_refill(d->qos, c, now);
	return disp_take(d, se, budget, c, false, now, &units, &wait, &why);
}

/* Size the class table to the QoS table. Returns 0 or -ENOMEM. */
static int disp_classes(struct disp *d)
{
	unsigned int n = d->qos->n + 1;
	struct disp_class *cls;

	if (d->cls && d->ncls == n)
		return 0;
	cls = calloc(n, sizeof(*cls));
	if (!cls)
		return -ENOMEM;
	free(d->cls);
	d->cls = cls;
	d->ncls = n;
	return 0;
}

/*
 * Sort the active sessions with SQEs waiting into their classes, keeping
 * the active list's order (which rotates every pass).
 */
static void disp_gather(struct disp *d, uint64_t now)
{
	struct sess *se, *next;
	unsigned int c;

	/* The time others were held since the last pass is paid by the busy
	 * tenants they were held for (whether or not they have SQEs now). */
	for (c = 0; c < d->ncls; c++) {
		if (d->held_since_ns && d->cls[c].holding)
			d->cls[c].hold_ns -= (int64_t)(now - d->held_since_ns);
		d->cls[c].holding = false;
	}
	d->held_since_ns = 0;
	for (c = 0; c < d->ncls; c++) {
		d->cls[c].head = d->cls[c].tail = NULL;
		d->cls[c].was_throttled = d->cls[c].throttled;
		d->cls[c].throttled = false;
		d->cls[c].outstanding = 0;
	}
	for (se = d->st->active; se; se = next) {
		next = se->next_active;
		c = qos_class(d->qos, se->tenant);
		d->cls[c].outstanding += se->inflight + (se->cq_tail - se->cq_head_seen);
		if (!disp_pending(d, se)) {
			/* Idle for a while: off the list every pass walks. */
			if (now - se->last_sqe_ns > DISP_COLD_NS)
				sess_cool(d->st, se);
			continue;
		}
		se->last_sqe_ns = now;
		se->ready_next = NULL;
		se->pass_consumed = 0;
		if (d->cls[c].tail)
			d->cls[c].tail->ready_next = se;
		else
			d->cls[c].head = se;
		d->cls[c].tail = se;
	}
	for (c = 0; c < d->ncls; c++) {
		struct disp_class *k = &d->cls[c];
		bool was_busy = k->busy && k->last_ready_ns + DISP_ACTIVE_NS > now;

		k->busy = k->head || (was_busy && k->outstanding >= DISP_BUSY_DEPTH &&
				      !k->was_throttled && k->hold_ns > 0);
		if (!k->head)
			continue;
		qos_refill(d->qos, c, now);
		/* Back after a pause: no credit for the time it had no work. */
		if (!was_busy)
			qos_wake(d->qos, c, DISP_LAG, now);
		k->last_ready_ns = now;
	}
}

/*
 * The smallest virtual time of the busy tenants not held back by their
 * own limits: nobody may run more than DISP_LAG ahead of it. UINT64_MAX
 * if there is none. *@expires is when the earliest busy tenant without
 * SQEs waiting stops counting; @mark flags those tenants as holding
 * others back (they pay for it in the next pass).
 */
static uint64_t disp_floor(struct disp *d, uint64_t now, bool mark, uint64_t *expires)
{
	uint64_t floor = UINT64_MAX;
	unsigned int c;

	*expires = 0;
	for (c = 0; c < d->ncls; c++) {
		struct disp_class *k = &d->cls[c];

		if (!k->busy || k->throttled)
			continue;
		if (d->qos->t[c].vtime < floor)
			floor = d->qos->t[c].vtime;
		if (!k->head) {
			/* It stops counting when its window or its credit ends. */
			if (mark)
				d->cls[c].holding = true;
			uint64_t end = k->last_ready_ns + DISP_ACTIVE_NS;

			if (now + (uint64_t)k->hold_ns < end)
				end = now + (uint64_t)k->hold_ns;
			if (!*expires || end < *expires)
				*expires = end;
		}
	}
	return floor;
}

/* The class to serve next: a reservation due first, then the smallest
 * virtual time within the lag. Returns -1 if none may go. Sets *@reserved. */
static int disp_pick(struct disp *d, uint64_t now, bool *reserved)
{
	const struct qos *q = d->qos;
	uint64_t floor, expires;
	int best = -1, due = -1;
	unsigned int c;

	for (c = 0; c < d->ncls; c++) {
		if (!d->cls[c].head || d->cls[c].throttled)
			continue;
		if (qos_reserve_due(q, c, now) &&
		    (due < 0 || q->t[c].r_due_ns < q->t[due].r_due_ns))
			due = (int)c;
		if (best < 0 || q->t[c].vtime < q->t[best].vtime)
			best = (int)c;
	}
	*reserved = due >= 0;
	if (due >= 0 || best < 0)
		return due >= 0 ? due : best;
	floor = disp_floor(d, now, false, &expires);
	/* Only a deep tenant is held: a shallow one (fewer than DISP_BUSY_DEPTH
	 * requests out, a QD 1 database) takes little while the others are
	 * between submissions, and waiting for them would cost it its share
	 * and its latency. */
	if (floor != UINT64_MAX && q->t[best].vtime > floor + DISP_LAG &&
	    d->cls[best].outstanding >= DISP_BUSY_DEPTH) {
		/* Held: the busy tenants without SQEs pay for it from their credit. */
		disp_floor(d, now, true, &expires);
		/* Ahead of a busy tenant that has nothing queued this instant:
		 * wait for it a little (at most until it stops counting). */
		if (expires && (!d->wake_ns || expires < d->wake_ns))
			d->wake_ns = expires;
		d->held_since_ns = now;
		return -1;
	}
	return best;
}

/* One turn of class @c: its first ready session, up to DISP_TURN SQEs. */
static unsigned int disp_turn(struct disp *d, unsigned int c, bool reserved, unsigned int budget,
			      uint64_t now, uint64_t *units)
{
	struct disp_class *k = &d->cls[c];
	struct sess *se = k->head;
	unsigned int left = budget - se->pass_consumed, n;
	uint64_t wait = 0, before = *units;
	enum disp_stop why;

	n = disp_take(d, se, left < DISP_TURN ? left : DISP_TURN, c, reserved, now, units, &wait,
		      &why);
	se->pass_consumed += n;
	k->hold_ns += (int64_t)(*units - before) * DISP_HOLD_PER_UNIT_NS;
	if (k->hold_ns > DISP_HOLD_MAX_NS)
		k->hold_ns = DISP_HOLD_MAX_NS;
	k->head = se->ready_next;
	if (!k->head)
		k->tail = NULL;
	if (why == DISP_THROTTLED) {
		/* The limits are the tenant's: none of its sessions goes on. */
		k->throttled = true;
		if (!d->wake_ns || now + wait < d->wake_ns)
			d->wake_ns = now + wait;
		se->ready_next = k->head;
		k->head = se;
		if (!k->tail)
			k->tail = se;
	} else if (why == DISP_BUDGET && se->pass_consumed < budget) {
		/* Round robin inside the tenant: to the back of its list. */
		se->ready_next = NULL;
		if (k->tail)
			k->tail->ready_next = se;
		else
			k->head = se;
		k->tail = se;
	}
	return n;
}

unsigned int disp_serve(struct disp *d, unsigned int budget, uint64_t now)
{
	struct sessions *st = d->st;
	struct sess *first = st->active;
	uint64_t units = 0;
	unsigned int work = 0, c;
	bool reserved;
	int pick;

	d->wake_ns = 0;
	d->clock_ns = now;
	d->pass_bytes = 0;
	if (!first || disp_classes(d))
		return 0;
	disp_gather(d, now);
	while (d->pass_bytes < DISP_PASS_BYTES && (pick = disp_pick(d, now, &reserved)) >= 0)
		work += disp_turn(d, (unsigned int)pick, reserved, budget, now, &units);
	for (c = 0; c < d->ncls; c++)
		qos_throttled(d->qos, c, d->cls[c].throttled, now);
	/*
	 * Round robin of the hot list: the session served first goes last
	 * next time, so that when the request pool or a tenant cap runs
	 * short no session is always served before the others.
	 */
	sess_rotate(st);
	return work;
}

/* Count a completion of request @r on @se's path counters. */
static void disp_count(struct sess *se, const struct req *r, int32_t res)
{
	switch (r->path) {
	case PATH_POLL:
		se->stats.completions_polled++;
		break;
	case PATH_PT:
		se->stats.completions_passthrough++;
		break;
	case PATH_PT_POLL:
		se->stats.completions_passthrough_polled++;
		break;
	default:
		se->stats.completions_interrupt++;
		break;
	}
	if (res > 0 && (r->op == RINGD_OP_READ || r->op == RINGD_OP_READV))
		se->stats.bytes_read += (uint64_t)res;
	else if (res > 0 && (r->op == RINGD_OP_WRITE || r->op == RINGD_OP_WRITEV))
		se->stats.bytes_written += (uint64_t)res;
}

void disp_complete(struct disp *d, uint32_t idx, int32_t res)
{
	struct req *r = rq_busy(d->rq, idx);
	struct sess *se;

	if (!r) {
		log_err("completion for unknown request slot %u", idx);
		return;
	}
	idx = idx_nospec(idx, d->rq->n);
	if (r->path == PATH_POLL || r->path == PATH_PT_POLL)
		d->rg->poll_inflight--;
	if (res < 0 || ((r->path == PATH_PT || r->path == PATH_PT_POLL) && res))
		log_debug("request %u: kernel completion %d (0x%x)", idx, res, (unsigned int)res);
	se = sess_at(d->st, r->sess);
	if (!se) {
		log_err("completion for request %u of a freed session", idx);
		if (r->op != RINGD_OP_CANCEL)
			disp_wb(d, idx, r->sess, 0, iss_result(r, res));
		if (r->has_vol)
			vols_io_done(d->vols, r->vol);
		jr_commit(&d->jr->reqs[idx].state, JR_FREE);
		rq_put(d->rq, idx);
		return;
	}
	if (r->op == RINGD_OP_CANCEL) {
		/* The kernel's -ENOENT: the target was past stopping (or just done). */
		res = res == 0 ? 0 : -EALREADY;
	} else {
		const struct vol *v = vols_get(d->vols, r->vol);

		res = disp_gone(d, v, r, iss_result(r, res));
		if (iss_continue(d->rg, d->rq, d->jr, idx, v, &res))
			return;
		res = disp_wb(d, idx, se->slot, se->id, res);
	}
	disp_count(se, r, res);
	disp_done(d, se, idx, res);
	sess_settle(d->st, se);
}
