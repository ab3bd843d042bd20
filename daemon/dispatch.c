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

int disp_init(struct disp *d, const struct cfg *cfg, struct sessions *st, struct reqs *rq,
	      struct rings *rg, struct vols *vols, struct jr *jr, struct usage *use)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
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
	d->dirty = NULL;
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

unsigned int disp_consume(struct disp *d, struct sess *se, unsigned int budget)
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

	if (se->state != SESS_ACTIVE)
		return 0;
	tail = ringd_load_acquire(&se->hdr->sq_tail);
	if ((uint32_t)(tail - se->sq_head) > se->sq_entries) {
		sess_break(d->st, se, RINGD_BROKEN_SQ_TAIL);
		return 0;
	}
	if (tail == se->sq_head) {
		se->stall_since_ms = 0;
		return 0;
	}
	if (!disp_refresh_cq_head(se)) {
		sess_break(d->st, se, RINGD_BROKEN_CQ_HEAD);
		return 0;
	}
	while (n < budget && se->sq_head != tail) {
		struct ringd_sqe sqe;
		struct val_io io;
		uint8_t path;
		uint32_t idx, ridx;
		int ret;

		if ((uint32_t)(se->cq_tail - se->cq_head_seen) + se->cq_reserved >=
		    se->cq_entries) {
			cq_full = true;
			break;
		}
		/* In-flight caps are backpressure too: the SQE waits in the SQ. */
		if (!disp_may_issue(d, se))
			break;
		idx = __atomic_load_n(&se->sq_array[se->sq_head & mask], __ATOMIC_RELAXED);
		if (idx >= se->sq_entries) {
			ringd_store_release(&se->hdr->sq_head, se->sq_head);
			sess_break(d->st, se, RINGD_BROKEN_SQ_INDEX);
			return n;
		}
		idx = idx_nospec(idx, se->sq_entries);
		val_sqe_fetch(&sqe, &se->sqes[idx]);
		ret = val_sqe(&sqe, &ctx, &io);
		/*
		 * A full kernel SQ on the ring this request needs is
		 * backpressure, never an error CQE: the SQE stays in the SQ
		 * (our copy is dropped, and made again next time).
		 */
		if (!ret && io.op != RINGD_OP_NOP &&
		    rg_sq_reserve(d->rg, disp_route(vols_get(d->vols, io.vol), &io, &path)))
			break;
		n++;
		se->stats.submitted++;
		ridx = rq_get(d->rq);
		d->rq->r[ridx].user_data = sqe.user_data;
		d->rq->r[ridx].sess = se->slot;
		d->rq->r[ridx].len = io.len;
		d->rq->r[ridx].op = io.op;
		/* A NOP has nothing for the kernel to do: it completes here, in order. */
		disp_journal(d, se, ridx, se->sq_head, sqe.user_data, &io, ret,
			     ret || io.op == RINGD_OP_NOP);
		se->sq_head++;
		if (ret || io.op == RINGD_OP_NOP) {
			if (ret)
				se->stats.rejected++;
			disp_finish(d, se, ridx, ret);
			continue;
		}
		disp_submit(d, se, ridx, &io);
	}
	if (n)
		ringd_store_release(&se->hdr->sq_head, se->sq_head);
	if (cq_full && !n)
		disp_stalled(d, se);
	else if (n)
		se->stall_since_ms = 0;
	return n;
}

unsigned int disp_serve(struct disp *d, unsigned int budget)
{
	struct sessions *st = d->st;
	struct sess *se, *next, *last = NULL, *first = st->active;
	unsigned int work = 0;

	for (se = st->active; se; se = next) {
		next = se->next_active;
		work += disp_consume(d, se, budget);
		/* disp_consume() can only unlist the session it serves, and
		 * sessions are freed only at the end of the pass. */
		if (se->listed)
			last = se;
	}
	/*
	 * Round robin: the session served first goes last next time, so that
	 * when the request pool or a tenant cap runs short no session is
	 * always served before the others.
	 */
	if (first && first->listed && last && last != first) {
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
