/* SPDX-License-Identifier: MIT */
/*
 * qos_: per-tenant quality of service, as arithmetic only (no I/O, no
 * sessions): the cost of a request, token buckets for the limits, a
 * reservation tag and a weighted virtual time. The data path asks it which
 * tenant to serve next and whether a request may go now.
 *
 *   limits       one token bucket per configured limit (units or bytes per
 *                second, all / reads / writes), refilled continuously and
 *                capped at limit x burst. A request may start while every
 *                bucket it draws from is at zero or above, then takes its whole
 *                cost (a bucket can go below zero: the long-run rate is
 *                exactly the limit, and a request larger than the burst
 *                still passes). Buckets start empty: credit is earned by
 *                running below the limit.
 *   reservation  a tag that advances by cost / reserve in real time;
 *                a tenant whose tag is due is served before any other.
 *   weight       start-time fair queuing: each tenant's virtual time
 *                advances by cost / weight when it is served outside its
 *                reservation; the tenant with the smallest one goes next.
 *                A tenant that was idle restarts close to the current
 *                virtual time, so idleness earns (almost) no credit.
 *
 * Tenant index n (one past the config's tenants) is the "no tenant" class
 * of sessions whose tenant a reload removed: weight 100, no limits.
 */
#ifndef RINGD_DAEMON_QOS_H
#define RINGD_DAEMON_QOS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum qos_bucket_kind {
	QB_IOPS,
	QB_READ_IOPS,
	QB_WRITE_IOPS,
	QB_BW,
	QB_READ_BW,
	QB_WRITE_BW,
	QB_COUNT
};

struct qos_bucket {
	uint64_t rate; /* tokens per second; 0: no limit */
	int64_t level; /* nano-tokens (1 token = 1e9) */
	int64_t cap;   /* nano-tokens */
};

struct qos_tenant {
	char name[CFG_NAME_MAX];
	uint32_t weight;
	uint64_t reserve; /* units per second */
	struct qos_bucket b[QB_COUNT];
	bool limited; /* any bucket has a rate */
	uint64_t refilled_ns;
	uint64_t vtime;	   /* virtual time, units * 2^16 / weight */
	uint64_t vt_unit;  /* what one unit adds to it */
	uint64_t r_due_ns; /* reservation tag */
	uint64_t ns_next;  /* the namespace worker's start tag of its next job */
	/* Figures (admin stats). */
	uint64_t units;		     /* served */
	uint64_t reserved_units;     /* of them, in the reservation phase */
	uint64_t delayed;	     /* requests held back by a limit */
	uint64_t throttled_ns;	     /* time with work waiting only for tokens */
	uint64_t throttled_since_ns; /* 0: not throttled now */
};

struct qos {
	struct qos_tenant *t; /* n + 1 */
	unsigned int n;
	uint32_t cost_unit;
	uint32_t flush_cost;
	bool off;      /* qos = off: every session in one class without limits */
	uint64_t vnow; /* virtual time of the last tenant picked */
};

/* A request, as QoS sees it. */
struct qos_req {
	uint8_t op; /* enum ringd_op */
	uint32_t len;
};

/*
 * (Re)build the table for @cfg at time @now_ns. Figures, virtual times and
 * bucket levels carry over by tenant name (levels clamped to the new caps),
 * so a reload does not disturb anyone. Returns 0 or -ENOMEM (unchanged).
 */
int qos_configure(struct qos *q, const struct cfg *cfg, uint64_t now_ns);
void qos_fini(struct qos *q);

/* The class of tenant index @tenant (-1 or out of range, or QoS off: the
 * no-tenant class). */
static inline unsigned int qos_class(const struct qos *q, int tenant)
{
	return !q->off && tenant >= 0 && (unsigned int)tenant < q->n ? (unsigned int)tenant : q->n;
}

/*
 * The start tag of a namespace-worker job of tenant index @tenant (cfg
 * index, or -1: the no-tenant class), @vclock being the tag of the job
 * the worker last started: start-time fair queuing, one unit per job at
 * the tenant's weight, so that tenants take turns at the worker however
 * many jobs one of them queues. Per tenant whatever `qos` says: this is
 * isolation, not arbitration.
 */
uint64_t qos_ns_tag(struct qos *q, int tenant, uint64_t vclock);

/* Units a request costs. */
uint64_t qos_cost(const struct qos *q, const struct qos_req *r);

/* Refill class @c's buckets up to @now_ns. */
void qos_refill(struct qos *q, unsigned int c, uint64_t now_ns);

/*
 * May class @c start @r now? Returns 0 if yes, else the nanoseconds until
 * it may (the buckets it draws from are empty). Call qos_refill() first.
 */
uint64_t qos_wait_ns(const struct qos *q, unsigned int c, const struct qos_req *r);

/* Class @c started @r (@reserved: in the reservation phase). Returns the
 * units it cost (qos_cost()). */
uint64_t qos_charge(struct qos *q, unsigned int c, const struct qos_req *r, bool reserved,
		    uint64_t now_ns);

/* Is class @c's reservation due at @now_ns? */
static inline bool qos_reserve_due(const struct qos *q, unsigned int c, uint64_t now_ns)
{
	return q->t[c].reserve && q->t[c].r_due_ns <= now_ns;
}

/* Class @c has work again after being idle: it restarts no further back
 * than @lag behind the current virtual time, and earns no reservation
 * backlog beyond a short slack. */
void qos_wake(struct qos *q, unsigned int c, uint64_t lag, uint64_t now_ns);

/* Class @c is (or is no longer) held back only by its limits. */
void qos_throttled(struct qos *q, unsigned int c, bool throttled, uint64_t now_ns);

#endif
