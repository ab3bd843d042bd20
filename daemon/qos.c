/* SPDX-License-Identifier: MIT */
/* qos_: costs, token buckets, reservation tags and virtual time. */
#include "qos.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_abi.h"

#define QOS_NS		 1000000000ull
#define QOS_VT_SHIFT	 16	    /* virtual time resolution: units << 16 / weight */
#define QOS_R_SLACK_NS	 2000000ull /* reservation backlog kept at most this long */
#define QOS_MIN_BURST_MS 10u	    /* the least credit a bucket holds */

/*
 * Set bucket @b to @rate tokens/s with @burst_ms of credit, keeping its
 * level. The credit is never below QOS_MIN_BURST_MS: a wake-up that comes
 * a little late must not cost the tenant the tokens of that delay.
 */
static void qos_bucket_set(struct qos_bucket *b, uint64_t rate, unsigned int burst_ms)
{
	unsigned __int128 cap;

	if (burst_ms < QOS_MIN_BURST_MS)
		burst_ms = QOS_MIN_BURST_MS;
	cap = (unsigned __int128)rate * burst_ms * 1000000ull;

	b->rate = rate;
	b->cap = cap > INT64_MAX ? INT64_MAX : (int64_t)cap;
	if (!rate)
		b->level = 0;
	else if (b->level > b->cap)
		b->level = b->cap;
}

int qos_configure(struct qos *q, const struct cfg *cfg, uint64_t now_ns)
{
	struct qos_tenant *t = calloc(cfg->ntenants + 1, sizeof(*t));
	unsigned int i, j;

	if (!t)
		return -ENOMEM;
	for (i = 0; i <= cfg->ntenants; i++) {
		const struct cfg_qos *cq = i < cfg->ntenants ? &cfg->tenants[i].qos : NULL;
		struct qos_tenant *nt = &t[i];

		if (cq)
			memcpy(nt->name, cfg->tenants[i].name, sizeof(nt->name));
		nt->refilled_ns = now_ns;
		nt->vtime = q->vnow;
		/* The same tenant before: keep its figures, tags and levels. */
		for (j = 0; q->t && j <= q->n; j++) {
			if (strcmp(q->t[j].name, nt->name) || (j == q->n) != (i == cfg->ntenants))
				continue;
			*nt = q->t[j];
			break;
		}
		nt->weight = cq ? cq->weight : 100;
		nt->vt_unit = (1ull << QOS_VT_SHIFT) / nt->weight;
		nt->reserve = cq ? cq->reserve_iops : 0;
		if (!nt->reserve)
			nt->r_due_ns = 0;
		qos_bucket_set(&nt->b[QB_IOPS], cq ? cq->limit_iops : 0, cq ? cq->burst_ms : 0);
		qos_bucket_set(&nt->b[QB_READ_IOPS], cq ? cq->limit_read_iops : 0,
			       cq ? cq->burst_ms : 0);
		qos_bucket_set(&nt->b[QB_WRITE_IOPS], cq ? cq->limit_write_iops : 0,
			       cq ? cq->burst_ms : 0);
		qos_bucket_set(&nt->b[QB_BW], cq ? cq->limit_bw : 0, cq ? cq->burst_ms : 0);
		qos_bucket_set(&nt->b[QB_READ_BW], cq ? cq->limit_read_bw : 0,
			       cq ? cq->burst_ms : 0);
		qos_bucket_set(&nt->b[QB_WRITE_BW], cq ? cq->limit_write_bw : 0,
			       cq ? cq->burst_ms : 0);
		nt->limited = false;
		for (j = 0; j < QB_COUNT; j++)
			nt->limited |= nt->b[j].rate != 0;
		if (!nt->limited)
			nt->throttled_since_ns = 0;
	}
	free(q->t);
	q->t = t;
	q->n = cfg->ntenants;
	q->cost_unit = cfg->qos_cost_unit ? cfg->qos_cost_unit : 4096;
	q->flush_cost = cfg->qos_flush_cost;
	q->off = cfg->qos_off;
	return 0;
}

void qos_fini(struct qos *q)
{
	free(q->t);
	memset(q, 0, sizeof(*q));
}

uint64_t qos_ns_tag(struct qos *q, int tenant, uint64_t vclock)
{
	struct qos_tenant *t =
	    &q->t[tenant >= 0 && (unsigned int)tenant < q->n ? (unsigned int)tenant : q->n];
	uint64_t start = t->ns_next > vclock ? t->ns_next : vclock;

	t->ns_next = start + t->vt_unit;
	return start;
}

uint64_t qos_cost(const struct qos *q, const struct qos_req *r)
{
	switch (r->op) {
	case RINGD_OP_READ:
	case RINGD_OP_WRITE:
		/* Most requests are one unit: no division for them. */
		if (r->len <= q->cost_unit)
			return 1;
		return ((uint64_t)r->len + q->cost_unit - 1) / q->cost_unit;
	case RINGD_OP_FSYNC:
		return q->flush_cost;
	default:
		return 0;
	}
}

/* Which buckets a request of @units draws from, and how much from each. */
static void qos_draws(const struct qos_req *r, uint64_t units, uint64_t amount[QB_COUNT])
{
	bool rd = r->op == RINGD_OP_READ;
	bool wr = r->op == RINGD_OP_WRITE || r->op == RINGD_OP_FSYNC;
	uint64_t bytes = r->op == RINGD_OP_READ || r->op == RINGD_OP_WRITE ? r->len : 0;

	amount[QB_IOPS] = units;
	amount[QB_READ_IOPS] = rd ? units : 0;
	amount[QB_WRITE_IOPS] = wr ? units : 0;
	amount[QB_BW] = bytes;
	amount[QB_READ_BW] = rd ? bytes : 0;
	amount[QB_WRITE_BW] = r->op == RINGD_OP_WRITE ? bytes : 0;
}

void qos_refill(struct qos *q, unsigned int c, uint64_t now_ns)
{
	struct qos_tenant *t = &q->t[c];
	uint64_t dt;
	int i;

	if (now_ns <= t->refilled_ns)
		return;
	dt = now_ns - t->refilled_ns;
	t->refilled_ns = now_ns;
	if (!t->limited)
		return;
	for (i = 0; i < QB_COUNT; i++) {
		struct qos_bucket *b = &t->b[i];
		unsigned __int128 add;

		if (!b->rate || b->level >= b->cap)
			continue;
		add = (unsigned __int128)b->rate * dt;
		if (add >= (unsigned __int128)(b->cap - b->level))
			b->level = b->cap;
		else
			b->level += (int64_t)add;
	}
}

uint64_t qos_wait_ns(const struct qos *q, unsigned int c, const struct qos_req *r)
{
	const struct qos_tenant *t = &q->t[c];
	uint64_t amount[QB_COUNT], wait = 0;
	int i;

	if (!t->limited || r->op == RINGD_OP_NOP)
		return 0;
	qos_draws(r, qos_cost(q, r), amount);
	for (i = 0; i < QB_COUNT; i++) {
		const struct qos_bucket *b = &t->b[i];
		uint64_t w;

		if (!b->rate || !amount[i] || b->level >= 0)
			continue;
		/* Until the level is back at zero. */
		w = (uint64_t)(-b->level) / b->rate + 1;
		if (w > wait)
			wait = w;
	}
	return wait;
}

uint64_t qos_charge(struct qos *q, unsigned int c, const struct qos_req *r, bool reserved,
		    uint64_t now_ns)
{
	struct qos_tenant *t = &q->t[c];
	uint64_t amount[QB_COUNT], units;
	int i;

	if (r->op == RINGD_OP_NOP)
		return 0;
	units = qos_cost(q, r);
	t->units += units;
	if (t->limited) {
		qos_draws(r, units, amount);
		for (i = 0; i < QB_COUNT; i++)
			if (t->b[i].rate && amount[i])
				t->b[i].level -= (int64_t)(amount[i] > (uint64_t)INT64_MAX / QOS_NS
							       ? INT64_MAX
							       : amount[i] * QOS_NS);
	}
	if (reserved) {
		uint64_t floor = now_ns > QOS_R_SLACK_NS ? now_ns - QOS_R_SLACK_NS : 0;

		t->reserved_units += units;
		if (t->r_due_ns < floor)
			t->r_due_ns = floor;
		t->r_due_ns += (units ? units : 1) * QOS_NS / t->reserve;
		return units;
	}
	/* The start tag of what is served is the system's virtual time. */
	q->vnow = t->vtime;
	t->vtime += units <= 1 ? t->vt_unit : (units << QOS_VT_SHIFT) / t->weight;
	return units;
}

void qos_wake(struct qos *q, unsigned int c, uint64_t lag, uint64_t now_ns)
{
	struct qos_tenant *t = &q->t[c];

	if (t->vtime + lag < q->vnow)
		t->vtime = q->vnow - lag;
	if (t->reserve && t->r_due_ns + QOS_R_SLACK_NS < now_ns)
		t->r_due_ns = now_ns - QOS_R_SLACK_NS;
	if (t->reserve && !t->r_due_ns)
		t->r_due_ns = now_ns;
}

void qos_throttled(struct qos *q, unsigned int c, bool throttled, uint64_t now_ns)
{
	struct qos_tenant *t = &q->t[c];

	if (throttled && !t->throttled_since_ns) {
		t->throttled_since_ns = now_ns ? now_ns : 1;
	} else if (!throttled && t->throttled_since_ns) {
		t->throttled_ns += now_ns - t->throttled_since_ns;
		t->throttled_since_ns = 0;
	}
}
