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

/* Post a CQE and remember to publish the session's tail this pass. */
static void disp_post(struct srv *s, struct sess *se, uint64_t user_data, int32_t res)
{
	if (!se->cq_dirty) {
		if (s->ndirty == s->dirty_cap)
			disp_flush(s);
		s->dirty[s->ndirty++] = se->slot;
	}
	sess_post_cqe(se, user_data, res);
}

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
	s->reqs_inflight++;
	return idx;
}

static void req_release(struct srv *s, uint32_t idx)
{
	s->reqs[idx].next_free = s->req_free;
	s->req_free = idx;
	s->reqs_inflight--;
}

/* Hand one validated request to the kernel. Returns 0 or -errno. */
static int disp_issue(struct srv *s, struct sess *se, const struct val_io *io, uint64_t user_data)
{
	uint32_t idx = req_alloc(s);
	uint64_t tag = srv_tag(TAG_IO, idx);
	struct req *r;
	int ret;

	if (idx == s->nreqs)
		return -EAGAIN;
	r = &s->reqs[idx];
	r->user_data = user_data;
	r->sess = se->slot;
	r->len = io->len;
	r->op = io->op;
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
	if (ret) {
		req_release(s, idx);
		return ret;
	}
	se->inflight++;
	se->cq_reserved++;
	s->usage[se->tenant].inflight++;
	return 0;
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
		uint32_t idx;
		int ret;

		if ((uint32_t)(se->cq_tail - se->cq_head_seen) + se->cq_reserved >=
		    se->cq_entries) {
			cq_full = true;
			break;
		}
		/* In-flight caps are backpressure too: the SQE waits in the SQ. */
		if (se->inflight >= se->max_inflight || s->req_free == s->nreqs ||
		    s->usage[se->tenant].inflight >= s->cfg.tenants[se->tenant].max_tenant_inflight)
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
		se->sq_head++;
		n++;
		se->stats.submitted++;
		ret = val_sqe(&sqe, &ctx, &io);
		if (!ret)
			ret = disp_issue(s, se, &io, sqe.user_data);
		if (ret) {
			if (ret != -EAGAIN && ret != -EBUSY)
				se->stats.rejected++;
			disp_post(s, se, sqe.user_data, ret);
		}
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

	if (req_idx >= s->nreqs) {
		log_err("completion for unknown request slot %u", req_idx);
		return;
	}
	r = &s->reqs[req_idx];
	se = s->sessions[r->sess];
	if (!se) {
		log_err("completion for request %u of a freed session", req_idx);
		req_release(s, req_idx);
		return;
	}
	se->inflight--;
	se->cq_reserved--;
	s->usage[se->tenant].inflight--;
	se->stats.completions_interrupt++;
	if (res > 0 && r->op == RINGD_OP_READ)
		se->stats.bytes_read += (uint64_t)res;
	else if (res > 0 && r->op == RINGD_OP_WRITE)
		se->stats.bytes_written += (uint64_t)res;
	if (se->state != SESS_CLOSING)
		disp_post(s, se, r->user_data, res);
	req_release(s, req_idx);
	sess_maybe_release(s, se);
	sess_maybe_free(s, se);
}
