/* SPDX-License-Identifier: MIT */
/* rq_: the request pool. */
#include "reqs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tags.h"

int rq_init(struct reqs *q, uint32_t n)
{
	memset(q, 0, sizeof(*q));
	q->r = calloc(n, sizeof(*q->r));
	q->iov = calloc(n, sizeof(*q->iov));
	if (!q->r || !q->iov) {
		rq_fini(q);
		return -ENOMEM;
	}
	q->n = n;
	rq_rebuild(q);
	return 0;
}

void rq_fini(struct reqs *q)
{
	free(q->r);
	free(q->iov);
	memset(q, 0, sizeof(*q));
}

uint32_t rq_get(struct reqs *q)
{
	uint32_t idx = q->free, gen;

	if (idx == q->n)
		return idx;
	q->free = q->r[idx].next_free;
	gen = q->r[idx].gen + 1;
	memset(&q->r[idx], 0, sizeof(q->r[idx]));
	q->r[idx].gen = gen;
	q->r[idx].busy = true;
	q->r[idx].link_prev = q->r[idx].link_next = RQ_NONE;
	q->inflight++;
	return idx;
}

void rq_put(struct reqs *q, uint32_t idx)
{
	q->r[idx].busy = false;
	q->r[idx].next_free = q->free;
	q->free = idx;
	q->inflight--;
}

struct req *rq_busy(struct reqs *q, uint32_t idx)
{
	if (idx >= q->n)
		return NULL;
	idx = idx_nospec(idx, q->n);
	return q->r[idx].busy ? &q->r[idx] : NULL;
}

struct req *rq_claim(struct reqs *q, uint32_t idx)
{
	struct req *r = &q->r[idx];
	uint32_t gen = r->gen + 1;

	memset(r, 0, sizeof(*r));
	r->gen = gen;
	r->busy = true;
	r->link_prev = r->link_next = RQ_NONE;
	q->inflight++;
	return r;
}

void rq_rebuild(struct reqs *q)
{
	uint32_t i;

	q->free = q->n;
	for (i = q->n; i-- > 0;) {
		if (q->r[i].busy)
			continue;
		q->r[i].next_free = q->free;
		q->free = i;
	}
}
