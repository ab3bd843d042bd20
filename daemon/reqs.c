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
	if (!q->r)
		return -ENOMEM;
	q->n = n;
	rq_rebuild(q);
	return 0;
}

void rq_fini(struct reqs *q)
{
	free(q->r);
	memset(q, 0, sizeof(*q));
}

uint32_t rq_get(struct reqs *q)
{
	uint32_t idx = q->free;

	if (idx == q->n)
		return idx;
	q->free = q->r[idx].next_free;
	memset(&q->r[idx], 0, sizeof(q->r[idx]));
	q->r[idx].busy = true;
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

	memset(r, 0, sizeof(*r));
	r->busy = true;
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
