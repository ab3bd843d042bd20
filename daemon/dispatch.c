/* SPDX-License-Identifier: MIT */
/*
 * disp_: turns client SQEs into kernel SQEs and kernel completions into
 * client CQEs.
 *
 * Consuming one SQE: read its SQ array entry once, copy the SQE once
 * (val_sqe_fetch), validate the copy, and either post an error CQE at once
 * or build a kernel SQE from zero tagged with a private request slot. An SQE
 * is consumed only while a CQ slot can be reserved for its completion, so
 * no completion is ever dropped; a client that does not reap gets
 * backpressure (its SQEs wait in its SQ) and, after stall_timeout, is
 * disconnected.
 */
#include "server.h"

#include <errno.h>
#include <string.h>

#include "log.h"

void disp_flush(struct srv *s)
{
	uint32_t i;

	for (i = 0; i < s->ndirty; i++) {
		struct sess *se = s->sessions[s->dirty[i]];

		if (se && se->state != SESS_CLOSING && se->hdr)
			sess_publish_cq(se);
		else if (se)
			se->cq_dirty = false;
	}
	s->ndirty = 0;
}

static uint32_t req_alloc(struct srv *s)
{
	uint32_t idx = s->req_free;

	if (idx == s->nreqs)
		return idx;
	s->req_free = s->reqs[idx].next_free;
	s->reqs[idx].busy = true;
	s->reqs_inflight++;
	return idx;
}

static void req_release(struct srv *s, uint32_t idx)
{
	s->reqs[idx].busy = false;
	s->reqs[idx].next_free = s->req_free;
	s->req_free = idx;
	s->reqs_inflight--;
}

void disp_finish(struct srv *s, struct sess *se, uint32_t idx, int32_t res)
{
	struct jr_sess *js = &s->jr.sess[se->slot];
	struct jr_req *jq = &s->jr.reqs[idx];

	if (se->state != SESS_CLOSING) {
		if (!se->cq_dirty) {
			if (s->ndirty == s->dirty_cap)
				disp_flush(s);
			s->dirty[s->ndirty++] = se->slot;
		}
		/* Journal order: POSTING(at) -> CQE -> cq_tail (commit) -> FREE. */
		jq->posted_at = se->cq_tail;
		jr_commit(&jq->state, JR_POSTING);
		sess_post_cqe(se, s->reqs[idx].user_data, res);
		jr_commit(&js->cq_tail, se->cq_tail);
	}
	jr_commit(&jq->state, JR_FREE);
	req_release(s, idx);
}

/* NVMe opcodes used for passthrough. */
#define DISP_NVME_FLUSH 0x00
#define DISP_NVME_WRITE 0x01
#define DISP_NVME_READ	0x02

/*
 * Queue @io of a passthrough volume: reads and writes on the IOPOLL ring
 * when the volume is polled, else (and flushes always) on the passthrough
 * ring. Sets *@path. Returns 0 or -errno.
 */
static int disp_passthrough(struct srv *s, struct sess *se, const struct vol *v,
			    const struct val_io *io, uint64_t tag, uint8_t *path)
{
	struct kr_ring *kr = v->polled ? &s->kr_poll : &s->kr_pt;
	uint8_t nop;

	if (io->op == RINGD_OP_FSYNC) {
		*path = PATH_PT;
		return kr_queue_nvme_cmd(&s->kr_pt, io->file_slot, DISP_NVME_FLUSH, v->nsid, 0, 0,
					 NULL, 0, se->slot, false, tag);
	}
	/* The validator checked alignment to the LBA size; this is defence. */
	if ((io->dev_off | io->len) & ((1u << v->lba_shift) - 1) || !io->len)
		return -EINVAL;
	nop = io->op == RINGD_OP_READ ? DISP_NVME_READ : DISP_NVME_WRITE;
	*path = v->polled ? PATH_PT_POLL : PATH_PT;
	return kr_queue_nvme_cmd(kr, io->file_slot, nop, v->nsid, io->dev_off >> v->lba_shift,
				 io->len >> v->lba_shift, se->data + io->buf_off, io->len, se->slot,
				 v->pt_fixed, tag);
}

void disp_submit(struct srv *s, struct sess *se, uint32_t idx, const struct val_io *io)
{
	uint64_t tag = srv_tag(TAG_IO, idx);
	const struct vol *v = NULL;
	uint8_t path = PATH_INTR;
	int ret;

	if (io->op != RINGD_OP_NOP && io->vol < s->nvols)
		v = &s->vols[io->vol];
	if (v && v->passthrough) {
		ret = disp_passthrough(s, se, v, io, tag, &path);
		goto queued;
	}
	if (v && v->polled && io->op != RINGD_OP_FSYNC) {
		/* Flushes of a polled block volume take the interrupt ring below. */
		path = PATH_POLL;
		if (io->op == RINGD_OP_READ)
			ret =
			    kr_queue_read_fixed(&s->kr_poll, io->file_slot, se->data + io->buf_off,
						io->len, io->dev_off, se->slot, tag);
		else
			ret =
			    kr_queue_write_fixed(&s->kr_poll, io->file_slot, se->data + io->buf_off,
						 io->len, io->dev_off, se->slot, tag);
		goto queued;
	}
	switch (io->op) {
	case RINGD_OP_READ:
		ret = kr_queue_read_fixed(&s->kr, io->file_slot, se->data + io->buf_off, io->len,
					  io->dev_off, se->slot, tag);
		break;
	case RINGD_OP_WRITE:
		ret = kr_queue_write_fixed(&s->kr, io->file_slot, se->data + io->buf_off, io->len,
					   io->dev_off, se->slot, tag);
		break;
	case RINGD_OP_FSYNC:
		ret = kr_queue_fsync(&s->kr, io->file_slot, io->datasync, tag);
		break;
	default:
		ret = kr_queue_nop(&s->kr, tag);
		break;
	}
queued:
	if (ret) {
		/* The kernel SQ stayed full after a flush: fail this one request. */
		log_debug("request %u: not queued: %s", idx, strerror(-ret));
		disp_finish(s, se, idx, ret);
		return;
	}
	s->reqs[idx].path = path;
	if (path == PATH_POLL || path == PATH_PT_POLL)
		s->poll_inflight++;
	se->inflight++;
	se->cq_reserved++;
	if (se->tenant >= 0)
		s->usage[se->tenant].inflight++;
}

/* Journal request @idx as consumed from SQ index @sq_index of @se. */
static void disp_journal(struct srv *s, struct sess *se, uint32_t idx, uint32_t sq_index,
			 uint64_t user_data, const struct val_io *io, int32_t res, bool immediate)
{
	struct jr_req *jq = &s->jr.reqs[idx];

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
	jr_commit(&s->jr.sess[se->slot].sq_head, sq_index + 1);
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

unsigned int disp_consume(struct srv *s, struct sess *se, unsigned int budget)
{
	struct val_ctx ctx = {
		.handles = se->handles,
		.nhandles = se->nhandles,
		.vols = s->vvols,
		.nvols = s->nvols,
		.data_size = se->data_size,
		.max_io = s->cfg.max_io_size,
	};
	uint32_t tail, mask = se->sq_entries - 1;
	unsigned int n = 0;
	bool cq_full = false;

	if (se->state != SESS_ACTIVE)
		return 0;
	tail = ringd_load_acquire(&se->hdr->sq_tail);
	if ((uint32_t)(tail - se->sq_head) > se->sq_entries) {
		sess_break(s, se, RINGD_BROKEN_SQ_TAIL);
		return 0;
	}
	if (tail == se->sq_head) {
		se->stall_since_ms = 0;
		return 0;
	}
	if (!disp_refresh_cq_head(se)) {
		sess_break(s, se, RINGD_BROKEN_CQ_HEAD);
		return 0;
	}
	while (n < budget && se->sq_head != tail) {
		struct ringd_sqe sqe;
		struct val_io io;
		uint32_t idx, ridx;
		int ret;

		if ((uint32_t)(se->cq_tail - se->cq_head_seen) + se->cq_reserved >=
		    se->cq_entries) {
			cq_full = true;
			break;
		}
		/* In-flight caps are backpressure too: the SQE waits in the SQ. */
		if (se->inflight >= se->max_inflight || s->req_free == s->nreqs ||
		    (se->tenant >= 0 && s->usage[se->tenant].inflight >=
					    s->cfg.tenants[se->tenant].max_tenant_inflight))
			break;
		/* A full kernel SQ is backpressure too, never an error CQE. */
		if (kr_sq_reserve(&s->kr))
			break;
		idx = __atomic_load_n(&se->sq_array[se->sq_head & mask], __ATOMIC_RELAXED);
		if (idx >= se->sq_entries) {
			ringd_store_release(&se->hdr->sq_head, se->sq_head);
			sess_break(s, se, RINGD_BROKEN_SQ_INDEX);
			return n;
		}
		val_sqe_fetch(&sqe, &se->sqes[idx]);
		n++;
		se->stats.submitted++;
		ret = val_sqe(&sqe, &ctx, &io);
		ridx = req_alloc(s);
		s->reqs[ridx].user_data = sqe.user_data;
		s->reqs[ridx].sess = se->slot;
		s->reqs[ridx].len = io.len;
		s->reqs[ridx].op = io.op;
		/* A NOP has nothing for the kernel to do: it completes here, in order. */
		disp_journal(s, se, ridx, se->sq_head, sqe.user_data, &io, ret,
			     ret || io.op == RINGD_OP_NOP);
		se->sq_head++;
		if (ret || io.op == RINGD_OP_NOP) {
			if (ret)
				se->stats.rejected++;
			disp_finish(s, se, ridx, ret);
			continue;
		}
		disp_submit(s, se, ridx, &io);
	}
	if (n)
		ringd_store_release(&se->hdr->sq_head, se->sq_head);
	if (cq_full && !n) {
		uint64_t now = srv_now_ms();

		if (!se->stall_since_ms) {
			se->stall_since_ms = now;
		} else if (now - se->stall_since_ms > s->cfg.stall_timeout_ms) {
			sess_break(s, se, RINGD_BROKEN_STALL);
			sess_close(s, se);
		}
	} else if (n) {
		se->stall_since_ms = 0;
	}
	return n;
}

void disp_complete(struct srv *s, uint32_t req_idx, int32_t res)
{
	struct req *r;
	struct sess *se;

	if (req_idx >= s->nreqs || !s->reqs[req_idx].busy) {
		log_err("completion for unknown request slot %u", req_idx);
		return;
	}
	r = &s->reqs[req_idx];
	if (r->path == PATH_POLL || r->path == PATH_PT_POLL)
		s->poll_inflight--;
	if (r->path == PATH_PT || r->path == PATH_PT_POLL) {
		/* NVMe status -> -errno; success carries no byte count. */
		if (res)
			log_debug("request %u: passthrough completion %d (0x%x)", req_idx, res,
				  (unsigned int)res);
		res = kr_nvme_status_errno(res);
		if (!res && (r->op == RINGD_OP_READ || r->op == RINGD_OP_WRITE))
			res = (int32_t)r->len;
	}
	se = s->sessions[r->sess];
	if (!se) {
		log_err("completion for request %u of a freed session", req_idx);
		jr_commit(&s->jr.reqs[req_idx].state, JR_FREE);
		req_release(s, req_idx);
		return;
	}
	se->inflight--;
	se->cq_reserved--;
	if (se->tenant >= 0 && s->usage[se->tenant].inflight)
		s->usage[se->tenant].inflight--;
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
	disp_finish(s, se, req_idx, res);
	sess_maybe_release(s, se);
	sess_maybe_free(s, se);
}
