/* SPDX-License-Identifier: MIT */
/* fig_: counters and latency histograms per tenant, volume and path. */
#include "figures.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringd_abi.h"

int fig_configure(struct figures *f, const struct cfg *cfg, unsigned int nvols)
{
	struct fig_tenant *t = calloc(cfg->ntenants + 1, sizeof(*t));
	struct fig_volume *v = NULL;
	unsigned int i, j;

	f->off = cfg->figures_off;
	if (!t)
		goto out_nomem;
	if (nvols > f->nvols) {
		v = calloc(nvols, sizeof(*v));
		if (!v)
			goto out_nomem;
		if (f->v)
			memcpy(v, f->v, f->nvols * sizeof(*v));
	}
	for (i = 0; i <= cfg->ntenants; i++) {
		struct fig_tenant *nt = &t[i];

		if (i < cfg->ntenants)
			memcpy(nt->name, cfg->tenants[i].name, sizeof(nt->name));
		/* The same tenant before (or the no-tenant class): keep its figures. */
		for (j = 0; f->t && j <= f->n; j++) {
			if (strcmp(f->t[j].name, nt->name) || (j == f->n) != (i == cfg->ntenants))
				continue;
			*nt = f->t[j];
			break;
		}
	}
	free(f->t);
	f->t = t;
	f->n = cfg->ntenants;
	if (v) {
		free(f->v);
		f->v = v;
		f->nvols = nvols;
	}
	return 0;

out_nomem:
	free(t);
	/* Indexes of the old table may be stale now: count everyone in one class. */
	f->n = 0;
	return -ENOMEM;
}

void fig_fini(struct figures *f)
{
	free(f->t);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

enum fig_op fig_op_of(uint8_t op)
{
	switch (op) {
	case RINGD_OP_READ:
	case RINGD_OP_READV:
		return FIG_READ;
	case RINGD_OP_WRITE:
	case RINGD_OP_WRITEV:
		return FIG_WRITE;
	case RINGD_OP_FSYNC:
		return FIG_FLUSH;
	default:
		return FIG_OTHER;
	}
}

const char *fig_op_name(enum fig_op k)
{
	static const char *const names[FIG_NOPS] = { "read", "write", "flush", "other" };

	return k < FIG_NOPS ? names[k] : "other";
}

uint64_t fig_bucket_low(unsigned int b)
{
	unsigned int group = b / FIG_SUB, sub = b % FIG_SUB, msb;

	if (!group)
		return b;
	msb = group + FIG_SUB_BITS - 1;
	return (1ull << msb) + ((uint64_t)sub << (msb - FIG_SUB_BITS));
}

uint64_t fig_bucket_high(unsigned int b)
{
	if (b + 1 >= FIG_BUCKETS)
		return UINT64_MAX;
	return fig_bucket_low(b + 1) - 1;
}

uint64_t fig_quantile(const struct fig_hist *h, double q)
{
	uint64_t want, seen = 0;
	unsigned int b;

	if (!h->count)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	for (b = 0; b < FIG_BUCKETS; b++) {
		seen += h->b[b];
		if (seen > want)
			return b + 1 >= FIG_BUCKETS ? fig_bucket_low(b) : fig_bucket_high(b);
	}
	return fig_bucket_low(FIG_BUCKETS - 1);
}

void fig_hist_merge(struct fig_hist *dst, const struct fig_hist *src)
{
	unsigned int b;

	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	for (b = 0; b < FIG_BUCKETS; b++)
		dst->b[b] += src->b[b];
}
