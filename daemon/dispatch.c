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
#include "log.h"
#include "tags.h"

#define DISP_TURN	      16u		    /* SQEs per turn of a tenant */
#define DISP_ACTIVE_NS	      5000000ull	    /* a busy tenant counts this long after SQEs */
#define DISP_BUSY_DEPTH	      8u		    /* outstanding requests of a busy tenant */
#define DISP_LAG	      ((64ull << 16) / 100) /* virtual time a tenant may run ahead */
#define DISP_HOLD_PER_UNIT_NS 20000		    /* hold credit earned per unit consumed */
#define DISP_HOLD_MAX_NS      5000000		    /* ... kept at most */

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
	return d->dirty ? 0 : -ENOMEM;
}

void disp_fini(struct disp *d)
{
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
	fig_done(d->fig, se->tenant, r->has_vol ? (int)r->vol : -1, r->op, res, r->path,
		 d->clock_ns > r->t0_ns ? d->clock_ns - r->t0_ns : 0);
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

/* NVMe opcodes used for passthrough. */
#define DISP_NVME_FLUSH 0x00
#define DISP_NVME_WRITE 0x01
#define DISP_NVME_READ	0x02

/* The kernel ring, and the path, that @io of volume @v (or none) takes. */
static enum rg_which disp_route(const struct vol *v, const struct val_io *io, uint8_t *path)
{
	*path = PATH_INTR;
	if (!v || io->op == RINGD_OP_NOP)
		return RG_MAIN;
	if (v->passthrough) {
		if (io->op == RINGD_OP_FSYNC || !v->polled) {
			*path = PATH_PT;
			return RG_PT;
		}
		*path = PATH_PT_POLL;
		return RG_POLL;
	}
	/* Flushes of a polled block volume take the interrupt ring. */
	if (v->polled && io->op != RINGD_OP_FSYNC) {
		*path = PATH_POLL;
		return RG_POLL;
	}
	return RG_MAIN;
}

/* Queue @io of a passthrough volume on ring @kr. Returns 0 or -errno. */
static int disp_passthrough(struct kr_ring *kr, struct sess *se, const struct vol *v,
			    const struct val_io *io, uint64_t tag)
{
	uint8_t nop;

	if (io->op == RINGD_OP_FSYNC)
		return kr_queue_nvme_cmd(kr, io->file_slot, DISP_NVME_FLUSH, v->nsid, 0, 0, NULL, 0,
					 se->slot, false, tag);
	/* The validator checked alignment to the LBA size; this is defence. */
	if ((io->dev_off | io->len) & ((1u << v->lba_shift) - 1) || !io->len)
		return -EINVAL;
	nop = io->op == RINGD_OP_READ ? DISP_NVME_READ : DISP_NVME_WRITE;
	return kr_queue_nvme_cmd(kr, io->file_slot, nop, v->nsid, io->dev_off >> v->lba_shift,
				 io->len >> v->lba_shift, se->data + io->buf_off, io->len, se->slot,
				 v->pt_fixed, tag);
}

void disp_submit(struct disp *d, struct sess *se, uint32_t idx, const struct val_io *io)
{
	uint64_t tag = srv_tag(TAG_IO, idx);
	const struct vol *v = io->op != RINGD_OP_NOP ? vols_get(d->vols, io->vol) : NULL;
	struct req *r = &d->rq->r[idx];
	enum rg_which w;
	struct kr_ring *kr;
	uint8_t path;
	int ret;

	w = disp_route(v, io, &path);
	kr = rg_ring(d->rg, w);
	if (v && v->passthrough) {
		ret = disp_passthrough(kr, se, v, io, tag);
	} else {
		switch (io->op) {
		case RINGD_OP_READ:
			ret = kr_queue_read_fixed(kr, io->file_slot, se->data + io->buf_off,
						  io->len, io->dev_off, se->slot, tag);
			break;
		case RINGD_OP_WRITE:
			ret = kr_queue_write_fixed(kr, io->file_slot, se->data + io->buf_off,
						   io->len, io->dev_off, se->slot, tag);
			break;
		case RINGD_OP_FSYNC:
			ret = kr_queue_fsync(kr, io->file_slot, io->datasync, tag);
			break;
		default:
			ret = kr_queue_nop(kr, tag);
			break;
		}
	}
	if (ret) {
		/* The kernel SQ stayed full after a flush: fail this one request. */
		log_debug("request %u: not queued: %s", idx, strerror(-ret));
		disp_finish(d, se, idx, ret);
		return;
	}
	r->path = path;
	if (path == PATH_POLL || path == PATH_PT_POLL)
		d->rg->poll_inflight++;
	if (v) {
		r->vol = io->vol;
		r->has_vol = true;
		vols_io_start(d->vols, io->vol);
	}
	se->inflight++;
	se->cq_reserved++;
	use_io_start(d->use, se->tenant);
}

/* Journal request @idx as consumed from SQ index @sq_index of @se. */
static void disp_journal(struct disp *d, struct sess *se, uint32_t idx, uint32_t sq_index,
			 uint64_t user_data, const struct val_io *io, int32_t res, bool immediate)
{
	struct jr_req *jq = &d->jr->reqs[idx];

	jq->sess = se->slot;
	jq->sq_index = sq_index;
	jq->user_data = user_data;
	jq->op = io->op;
	jq->datasync = io->datasync;
	jq->vol = io->file_slot;
	jq->dev_off = io->dev_off;
	jq->buf_off = io->buf_off;
	jq->len = io->len;
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

/* Whether @se may have one more request in the kernel (backpressure if not). */
static bool disp_may_issue(struct disp *d, const struct sess *se)
{
	const struct cfg_tenant *t;

	if (se->inflight >= se->max_inflight || rq_exhausted(d->rq))
		return false;
	if (se->tenant < 0 || (unsigned int)se->tenant >= d->cfg->ntenants)
		return true;
	t = &d->cfg->tenants[se->tenant];
	return use_get(d->use, se->tenant).inflight < t->max_tenant_inflight;
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
		.nvols = d->vols->n,
		.data_size = se->data_size,
		.max_io = d->cfg->max_io_size,
	};
	uint32_t tail, mask = se->sq_entries - 1;
	unsigned int n = 0;
	bool cq_full = false;

	*why = DISP_EMPTY;
	if (!disp_pending(d, se))
		return 0;
	tail = ringd_load_acquire(&se->hdr->sq_tail);
	if (!disp_refresh_cq_head(se)) {
		sess_break(d->st, se, RINGD_BROKEN_CQ_HEAD);
		return 0;
	}
	*why = DISP_BUDGET;
	while (n < budget && se->sq_head != tail) {
		struct qos_req qr;
		struct ringd_sqe sqe;
		struct val_io io;
		uint8_t path;
		uint32_t idx, ridx;
		int ret;

		if ((uint32_t)(se->cq_tail - se->cq_head_seen) + se->cq_reserved >=
		    se->cq_entries) {
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
		ret = val_sqe(&sqe, &ctx, &io);
		qr.op = ret ? RINGD_OP_NOP : io.op;
		qr.len = io.len;
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
		 * A full kernel SQ on the ring this request needs is
		 * backpressure, never an error CQE.
		 */
		if (!ret && io.op != RINGD_OP_NOP &&
		    rg_sq_reserve(d->rg, disp_route(vols_get(d->vols, io.vol), &io, &path))) {
			*why = DISP_BLOCKED;
			break;
		}
		n++;
		se->stats.submitted++;
		*units += qos_cost(d->qos, &qr);
		qos_charge(d->qos, c, &qr, reserved, now_ns);
		ridx = rq_get(d->rq);
		d->rq->r[ridx].user_data = sqe.user_data;
		d->rq->r[ridx].sess = se->slot;
		d->rq->r[ridx].len = io.len;
		d->rq->r[ridx].op = io.op;
		d->rq->r[ridx].t0_ns = now_ns;
		d->rq->r[ridx].rejected = ret != 0;
		/* A NOP has nothing for the kernel to do: it completes here, in order. */
		disp_journal(d, se, ridx, se->sq_head, sqe.user_data, &io, ret,
			     ret || io.op == RINGD_OP_NOP);
		se->sq_head++;
		if (ret || io.op == RINGD_OP_NOP) {
			if (ret) {
				se->stats.rejected++;
				if (d->fig)
					fig_rejected(d->fig, se->tenant);
			}
			disp_finish(d, se, ridx, ret);
			continue;
		}
		disp_submit(d, se, ridx, &io);
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
		if (!disp_pending(d, se))
			continue;
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
	if (floor != UINT64_MAX && q->t[best].vtime > floor + DISP_LAG) {
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

unsigned int disp_serve(struct disp *d, unsigned int budget)
{
	struct sessions *st = d->st;
	struct sess *first = st->active, *last;
	uint64_t now = clock_now_ns(), units = 0;
	unsigned int work = 0, c;
	bool reserved;
	int pick;

	d->wake_ns = 0;
	d->clock_ns = now;
	if (!first || disp_classes(d))
		return 0;
	disp_gather(d, now);
	while ((pick = disp_pick(d, now, &reserved)) >= 0)
		work += disp_turn(d, (unsigned int)pick, reserved, budget, now, &units);
	for (c = 0; c < d->ncls; c++)
		qos_throttled(d->qos, c, d->cls[c].throttled, now);
	/*
	 * Round robin of the active list: the session served first goes
	 * last next time, so that when the request pool or a tenant cap runs
	 * short no session is always served before the others.
	 */
	first = st->active;
	if (first && first->listed && first->next_active) {
		for (last = first; last->next_active; last = last->next_active)
			;
		st->active = first->next_active;
		st->active->prev_active = NULL;
		first->prev_active = last;
		first->next_active = NULL;
		last->next_active = first;
	}
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
	if (res > 0 && r->op == RINGD_OP_READ)
		se->stats.bytes_read += (uint64_t)res;
	else if (res > 0 && r->op == RINGD_OP_WRITE)
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
	if (r->path == PATH_PT || r->path == PATH_PT_POLL) {
		/* NVMe status -> -errno; success carries no byte count. */
		if (res)
			log_debug("request %u: passthrough completion %d (0x%x)", idx, res,
				  (unsigned int)res);
		res = kr_nvme_status_errno(res);
		if (!res && (r->op == RINGD_OP_READ || r->op == RINGD_OP_WRITE))
			res = (int32_t)r->len;
	}
	if (r->has_vol)
		vols_io_done(d->vols, r->vol);
	se = sess_at(d->st, r->sess);
	if (!se) {
		log_err("completion for request %u of a freed session", idx);
		jr_commit(&d->jr->reqs[idx].state, JR_FREE);
		rq_put(d->rq, idx);
		return;
	}
	se->inflight--;
	se->cq_reserved--;
	use_io_done(d->use, se->tenant);
	disp_count(se, r, res);
	disp_finish(d, se, idx, res);
	sess_settle(d->st, se);
}
