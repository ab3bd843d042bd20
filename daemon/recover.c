/* SPDX-License-Identifier: MIT */
/*
 * rcv_: restart without losing clients. A previous instance left in systemd's
 * fd store: its journal, the read end of its ring-liveness pipe, and each
 * session's control socket, memfd and wake socket. We:
 *
 *   1. wait for EOF on the old ring-liveness pipe: the kernel has released
 *      the old ring, so none of its I/O can still land (this is what keeps
 *      an interrupted write from landing after a newer one);
 *   2. re-adopt every journaled session from its fds, trusting only the
 *      journal for layout and ring indices (never client-writable memory);
 *   3. walk the journaled requests (see journal.h for the commit order):
 *      drop the ones whose consumption was not committed (their SQEs are
 *      read again), forget the ones whose CQE was committed, and reissue
 *      the rest, so each request completes exactly once;
 *   4. wake every client so that waiters look at their CQ again.
 */
#include "recover.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "log.h"
#include "sysd.h"

#define RECOVER_DRAIN_MS 30000

/* Step 1. Returns 0, or -ETIMEDOUT if the old ring never went away. */
static int rcv_wait_old_ring(void)
{
	struct pollfd pfd = { .events = POLLIN };
	uint64_t start = clock_now_ms();
	char buf[16];
	int ret;

	pfd.fd = sysd_take_fd("ringlive");
	if (pfd.fd < 0) {
		log_warn(
		    "recovery: no ring-liveness pipe was stored; assuming the old ring is gone");
		return 0;
	}
	for (;;) {
		ret = poll(&pfd, 1, 100);
		if (ret > 0 && (pfd.revents & POLLHUP) && read(pfd.fd, buf, sizeof(buf)) <= 0)
			break;
		if (clock_now_ms() - start > RECOVER_DRAIN_MS) {
			close(pfd.fd);
			log_err(
			    "recovery: the previous instance's kernel I/O has not drained after "
			    "%u ms; refusing to reissue over it",
			    RECOVER_DRAIN_MS);
			return -ETIMEDOUT;
		}
	}
	close(pfd.fd);
	log_info("recovery: the previous kernel ring is gone (waited %llu ms)",
		 (unsigned long long)(clock_now_ms() - start));
	return 0;
}

/*
 * The previous instance read a control request of session @slot and died
 * before answering it: tell the client, which sends it again (replayed).
 */
static void rcv_restarted(struct disp *d, uint32_t slot, struct jr_sess *js)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Restarted rs = RINGD__RESTARTED__INIT;
	struct sess *se = sess_at(d->st, slot);

	if (!js->ctl_unanswered || !se || se->sock < 0)
		return;
	rs.has_seq = true;
	rs.seq = js->ctl_unanswered;
	/* If it is still queued (read, not taken), it is dropped for the replay. */
	se->restarted_seq = js->ctl_unanswered;
	r.msg_case = RINGD__REPLY__MSG_RESTARTED;
	r.restarted = &rs;
	if (ctl_send(se->sock, &r, NULL, 0))
		log_warn("recovery: session %llu: cannot ask for its unanswered request again",
			 (unsigned long long)js->id);
	else
		log_info(
		    "recovery: session %llu: its unanswered control request is asked for again",
		    (unsigned long long)js->id);
	jr_commit(&js->ctl_unanswered, 0);
}

/* Step 2 for one journal slot. */
static void rcv_session(struct disp *d, uint32_t slot)
{
	struct jr_sess *js = &d->jr->sess[slot];
	static const char *const kinds[3] = { "ctl", "mem", "wake" };
	int fds[3], i, ret;
	char name[64];

	for (i = 0; i < 3; i++) {
		sess_fd_name(slot, js->id, kinds[i], name, sizeof(name));
		fds[i] = sysd_take_fd(name);
	}
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
		log_warn("recovery: session %llu: its fds were not stored; dropping it",
			 (unsigned long long)js->id);
		ret = -ENOENT;
		goto out_drop;
	}
	ret = sess_restore(d->st, slot, js, fds[0], fds[1], fds[2]);
	if (!ret) {
		rcv_restarted(d, slot, js);
		return;
	}
	log_err("recovery: session %llu cannot be re-adopted: %s", (unsigned long long)js->id,
		strerror(-ret));
out_drop:
	for (i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		sess_fd_name(slot, js->id, kinds[i], name, sizeof(name));
		sysd_fdstore_remove(name);
	}
	jr_commit(&js->state, JR_SESS_FREE);
}

/* Step 3a for one journaled request: drop it, or claim its slot. */
static void rcv_request(struct disp *d, uint32_t idx)
{
	struct jr_req *jq = &d->jr->reqs[idx];
	struct sess *se = sess_at(d->st, jq->sess);
	struct jr_sess *js;
	bool consumed, posted;
	struct req *r;

	if (!se || se->state == SESS_CLOSING || se->state == SESS_FREED) {
		jr_commit(&jq->state, JR_FREE);
		return;
	}
	js = &d->jr->sess[se->slot];
	consumed = (int32_t)(jq->sq_index - js->sq_head) < 0;
	posted = jq->state == JR_POSTING && (int32_t)(jq->posted_at - js->cq_tail) < 0;
	if (!consumed) {
		/* Killed between CQE commit and consumption commit: finish the latter. */
		if (posted) {
			jr_commit(&js->sq_head, jq->sq_index + 1);
			se->sq_head = jq->sq_index + 1;
			ringd_store_release(&se->hdr->sq_head, se->sq_head);
		}
		jr_commit(&jq->state, JR_FREE);
		return;
	}
	if (posted) {
		jr_commit(&jq->state, JR_FREE);
		return;
	}
	r = rq_claim(d->rq, idx);
	r->user_data = jq->user_data;
	r->sess = se->slot;
	r->len = jq->len;
	r->op = jq->op;
}

/* The session of claimed request @idx. */
static struct sess *rcv_owner(struct disp *d, uint32_t idx)
{
	return d->rq->r[idx].busy ? sess_at(d->st, d->rq->r[idx].sess) : NULL;
}

/*
 * Step 3 over the claimed requests, in the order links need: each
 * session's chain state (before any record goes), adoption, holds
 * re-attached to what they wait for, and only then anything started or
 * posted, so that a request that completes at once finds its successor.
 */
static void rcv_requests(struct disp *d)
{
	uint32_t i, n = d->rq->n;
	struct sess *se;

	for (i = 0; i < n; i++)
		if (d->jr->reqs[i].state != JR_FREE)
			rcv_request(d, i);
	for (i = 0; i < d->st->max; i++)
		if (d->st->slot[i])
			disp_chain_restore(d, d->st->slot[i]);
	for (i = 0; i < n; i++)
		if ((se = rcv_owner(d, i)) && !d->jr->reqs[i].immediate)
			disp_adopt(d, se, i);
	for (i = 0; i < n; i++)
		if ((se = rcv_owner(d, i)) && d->rq->r[i].held)
			disp_relink(d, se, i);
	for (i = 0; i < n; i++) {
		se = rcv_owner(d, i);
		if (!se || d->rq->r[i].held)
			continue;
		if (d->jr->reqs[i].immediate)
			disp_finish(d, se, i, d->jr->reqs[i].res);
		else if (d->rq->r[i].accounted && !d->rq->r[i].issued)
			disp_launch(d, se, i);
	}
}

int rcv_recover(struct disp *d)
{
	uint32_t i, reissued;
	int ret;

	log_info("recovery: re-adopting the sessions of the previous instance");
	ret = rcv_wait_old_ring();
	if (ret)
		return ret;
	if (d->jr->hdr->next_session_id > d->st->next_id)
		d->st->next_id = d->jr->hdr->next_session_id;
	for (i = 0; i < d->st->max; i++)
		if (d->jr->sess[i].state != JR_SESS_FREE)
			rcv_session(d, i);
	rcv_requests(d);
	reissued = d->rq->inflight;
	/* The free list holds every request slot recovery did not claim. */
	rq_rebuild(d->rq);
	disp_flush(d);
	for (i = 0; i < d->st->max; i++)
		if (d->st->slot[i])
			sess_wake(d->st->slot[i]);
	log_info("recovery: %u sessions re-adopted, %u requests reissued", d->st->n, reissued);
	return 0;
}
