/* SPDX-License-Identifier: MIT */
/*
 * fig_: the figures the daemon keeps for operators: counters per tenant,
 * per volume and per kernel path, and log-linear latency histograms (from
 * SQE consumption to CQE post) per tenant x op class and per volume.
 *
 * Recording one completion is a few adds into arrays sized beforehand:
 * no allocation, lock or syscall (the data path reads the clock once per
 * pass or per batch of completions through the vDSO). Arrays are sized
 * and re-indexed outside the data path by fig_configure(), at start and on
 * every reload, by tenant name as qos_configure() does, so an index is
 * never stale. Tenant index n is the "no tenant" class (sessions whose
 * tenant a reload removed).
 *
 * Histogram: values below 64 ns have a bucket each; above, each power of
 * two is split in 64 equal sub-buckets (every value is within 1.6 % of its
 * bucket's bounds), up to 2^36 ns (69 s, larger values land in the last).
 */
#ifndef RINGD_DAEMON_FIGURES_H
#define RINGD_DAEMON_FIGURES_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define FIG_SUB_BITS 6
#define FIG_SUB	     (1u << FIG_SUB_BITS)
#define FIG_MAX_MSB  35 /* largest power of two with its own sub-buckets */
#define FIG_BUCKETS  ((FIG_MAX_MSB - FIG_SUB_BITS + 2) * FIG_SUB)

/* Op classes of the histograms and counters. */
enum fig_op { FIG_READ, FIG_WRITE, FIG_FLUSH, FIG_OTHER, FIG_NOPS };

/* Kernel paths (the same order as enum req_path). */
#define FIG_NPATHS 4

struct fig_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t b[FIG_BUCKETS];
};

struct fig_tenant {
	char name[CFG_NAME_MAX];
	uint64_t ops[FIG_NOPS];
	uint64_t bytes_read, bytes_written;
	uint64_t errors;
	uint64_t rejected;
	struct fig_hist lat[FIG_NOPS];
};

struct fig_volume {
	uint64_t ops[FIG_NOPS];
	uint64_t bytes_read, bytes_written;
	uint64_t errors;
	struct fig_hist lat;
};

struct figures {
	bool off;	      /* [daemon] figures = off: nothing is recorded */
	struct fig_tenant *t; /* n + 1 */
	unsigned int n;
	struct fig_volume *v; /* nvols */
	unsigned int nvols;
	uint64_t path_ops[FIG_NPATHS]; /* completions per kernel path */
};

/*
 * (Re)build the tables for @cfg and volume indexes below @nvols. Tenant
 * figures carry over by name, volume figures by index (indexes are never
 * reused). Returns 0, or -ENOMEM with the tables unchanged except that
 * every tenant's I/O then counts in the "no tenant" class (n = 0) until a
 * later call succeeds, so that no stale index is used.
 */
int fig_configure(struct figures *f, const struct cfg *cfg, unsigned int nvols);
void fig_fini(struct figures *f);

/* The class of tenant index @tenant (-1 or out of range: the no-tenant class). */
static inline unsigned int fig_class(const struct figures *f, int tenant)
{
	return tenant >= 0 && (unsigned int)tenant < f->n ? (unsigned int)tenant : f->n;
}

/* The op class of a RINGD_OP_* opcode. */
enum fig_op fig_op_of(uint8_t op);

/* Bucket of a latency of @ns nanoseconds. */
static inline unsigned int fig_bucket(uint64_t ns)
{
	unsigned int msb;

	if (ns < FIG_SUB)
		return (unsigned int)ns;
	msb = 63u - (unsigned int)__builtin_clzll(ns);
	if (msb > FIG_MAX_MSB)
		return FIG_BUCKETS - 1;
	return (msb - FIG_SUB_BITS + 1) * FIG_SUB +
	       (unsigned int)((ns >> (msb - FIG_SUB_BITS)) & (FIG_SUB - 1));
}

/* Smallest and largest value (ns) of bucket @b. */
uint64_t fig_bucket_low(unsigned int b);
uint64_t fig_bucket_high(unsigned int b);

/* Count @ns, which falls in bucket @b (fig_bucket(@ns)), in @h. */
static inline void fig_hist_put(struct fig_hist *h, uint64_t ns, unsigned int b)
{
	h->count++;
	h->sum_ns += ns;
	h->b[b]++;
}

static inline void fig_hist_add(struct fig_hist *h, uint64_t ns)
{
	fig_hist_put(h, ns, fig_bucket(ns));
}

/*
 * One completed request: tenant index @tenant (cfg index or -1), volume
 * index @vol (-1: none), RINGD_OP_* @op, result @res, kernel path @path,
 * latency @lat_ns. O(1), no allocation.
 */
static inline void fig_done(struct figures *f, int tenant, int vol, uint8_t op, int32_t res,
			    unsigned int path, uint64_t lat_ns)
{
	struct fig_tenant *t;
	unsigned int b;
	enum fig_op k;

	if (f->off)
		return;
	k = fig_op_of(op);
	b = fig_bucket(lat_ns);
	t = &f->t[fig_class(f, tenant)];
	t->ops[k]++;
	fig_hist_put(&t->lat[k], lat_ns, b);
	if (res < 0)
		t->errors++;
	else if (k == FIG_READ)
		t->bytes_read += (uint64_t)res;
	else if (k == FIG_WRITE)
		t->bytes_written += (uint64_t)res;
	f->path_ops[path & (FIG_NPATHS - 1)]++;
	if (vol >= 0 && (unsigned int)vol < f->nvols) {
		struct fig_volume *v = &f->v[vol];

		v->ops[k]++;
		fig_hist_put(&v->lat, lat_ns, b);
		if (res < 0)
			v->errors++;
		else if (k == FIG_READ)
			v->bytes_read += (uint64_t)res;
		else if (k == FIG_WRITE)
			v->bytes_written += (uint64_t)res;
	}
}

/* A request of @tenant refused by the validator. */
static inline void fig_rejected(struct figures *f, int tenant)
{
	if (!f->off)
		f->t[fig_class(f, tenant)].rejected++;
}

/* The value (ns) below which a fraction @q (0..1) of @h lies: the upper
 * bound of that bucket; 0 for an empty histogram. */
uint64_t fig_quantile(const struct fig_hist *h, double q);

/* Merge @src into @dst. */
void fig_hist_merge(struct fig_hist *dst, const struct fig_hist *src);

/* Name of op class @k: "read", "write", "flush", "other". */
const char *fig_op_name(enum fig_op k);

#endif
