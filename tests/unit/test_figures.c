/* SPDX-License-Identifier: MIT */
/* fig_: histogram buckets, quantiles, and re-indexing by tenant name (layer B). */
#include <criterion/criterion.h>
#include <string.h>

#include "figures.h"
#include "ringd_abi.h"

static struct cfg g_cfg;
static struct cfg_tenant g_t[3];
static struct figures g_f;

static void setup(void)
{
	memset(&g_cfg, 0, sizeof(g_cfg));
	memset(g_t, 0, sizeof(g_t));
	memset(&g_f, 0, sizeof(g_f));
	strcpy(g_t[0].name, "a");
	strcpy(g_t[1].name, "b");
	strcpy(g_t[2].name, "c");
	g_cfg.tenants = g_t;
	g_cfg.ntenants = 2;
}

static void teardown(void)
{
	fig_fini(&g_f);
}

TestSuite(figures, .init = setup, .fini = teardown);

Test(figures, buckets_bound_every_value_within_1_6_percent)
{
	uint64_t v;

	for (v = 0; v < (1ull << 37); v = v < 4096 ? v + 1 : v + v / 61 + 1) {
		unsigned int b = fig_bucket(v);

		cr_assert_lt(b, FIG_BUCKETS);
		if (v >= (1ull << (FIG_MAX_MSB + 1)))
			continue; /* the last bucket takes everything larger */
		cr_assert_leq(fig_bucket_low(b), v, "v %llu bucket %u", (unsigned long long)v, b);
		cr_assert_geq(fig_bucket_high(b), v, "v %llu bucket %u", (unsigned long long)v, b);
		cr_assert_leq((double)(fig_bucket_high(b) - fig_bucket_low(b)),
			      0.016 * (double)v + 1);
	}
	/* Buckets are contiguous. */
	for (v = 1; v < FIG_BUCKETS - 1; v++)
		cr_assert_eq(fig_bucket_low((unsigned int)v),
			     fig_bucket_high((unsigned int)v - 1) + 1);
}

Test(figures, quantiles)
{
	struct fig_hist *h = calloc(1, sizeof(*h));
	uint64_t p50, p99;
	unsigned int i;

	cr_assert_not_null(h);
	cr_assert_eq(fig_quantile(h, 0.5), 0);
	for (i = 1; i <= 1000; i++)
		fig_hist_add(h, (uint64_t)i * 1000); /* 1 us .. 1 ms */
	p50 = fig_quantile(h, 0.50);
	p99 = fig_quantile(h, 0.99);
	cr_assert(p50 >= 500000 && p50 <= 510000, "p50 %llu", (unsigned long long)p50);
	cr_assert(p99 >= 990000 && p99 <= 1006000, "p99 %llu", (unsigned long long)p99);
	cr_assert_eq(h->count, 1000);
	cr_assert_eq(h->sum_ns, 500500000ull);
	free(h);
}

Test(figures, done_counts_per_tenant_volume_and_path)
{
	cr_assert_eq(fig_configure(&g_f, &g_cfg, 2), 0);
	fig_done(&g_f, 1, 0, RINGD_OP_READ, 4096, 0, 1000);
	fig_done(&g_f, 1, 1, RINGD_OP_WRITE, 512, 1, 2000);
	fig_done(&g_f, 1, 1, RINGD_OP_FSYNC, -5, 0, 3000);
	fig_done(&g_f, -1, -1, RINGD_OP_NOP, 0, 0, 0);
	fig_done(&g_f, 0, 7, RINGD_OP_READ, 10, 0, 10); /* volume out of range: tenant only */
	fig_rejected(&g_f, 1);
	cr_assert_eq(g_f.t[1].ops[FIG_READ], 1);
	cr_assert_eq(g_f.t[1].ops[FIG_WRITE], 1);
	cr_assert_eq(g_f.t[1].ops[FIG_FLUSH], 1);
	cr_assert_eq(g_f.t[1].bytes_read, 4096);
	cr_assert_eq(g_f.t[1].bytes_written, 512);
	cr_assert_eq(g_f.t[1].errors, 1);
	cr_assert_eq(g_f.t[1].rejected, 1);
	cr_assert_eq(g_f.t[2].ops[FIG_OTHER], 1, "no tenant: class n");
	cr_assert_eq(g_f.v[1].ops[FIG_WRITE], 1);
	cr_assert_eq(g_f.v[1].errors, 1);
	cr_assert_eq(g_f.v[1].lat.count, 2);
	cr_assert_eq(g_f.path_ops[0], 4);
	cr_assert_eq(g_f.path_ops[1], 1);
}

Test(figures, off_records_nothing)
{
	g_cfg.figures_off = true;
	cr_assert_eq(fig_configure(&g_f, &g_cfg, 1), 0);
	fig_done(&g_f, 0, 0, RINGD_OP_READ, 4096, 0, 1000);
	fig_rejected(&g_f, 0);
	cr_assert_eq(g_f.t[0].ops[FIG_READ], 0);
	cr_assert_eq(g_f.t[0].rejected, 0);
	cr_assert_eq(g_f.v[0].lat.count, 0);
}

/* A reload reorders tenants: figures follow the names, never the old index. */
Test(figures, reload_reindexes_by_name)
{
	cr_assert_eq(fig_configure(&g_f, &g_cfg, 1), 0);
	fig_done(&g_f, 0, 0, RINGD_OP_READ, 100, 0, 1000);  /* a */
	fig_done(&g_f, 1, 0, RINGD_OP_WRITE, 200, 0, 1000); /* b */
	/* New config: c, b (a removed), and one more volume. */
	strcpy(g_t[0].name, "c");
	cr_assert_eq(fig_configure(&g_f, &g_cfg, 3), 0);
	cr_assert_str_eq(g_f.t[0].name, "c");
	cr_assert_eq(g_f.t[0].ops[FIG_READ], 0, "c starts from zero");
	cr_assert_str_eq(g_f.t[1].name, "b");
	cr_assert_eq(g_f.t[1].bytes_written, 200, "b keeps its figures");
	cr_assert_eq(g_f.nvols, 3);
	cr_assert_eq(g_f.v[0].ops[FIG_READ] + g_f.v[0].ops[FIG_WRITE], 2, "volume 0 kept");
	fig_done(&g_f, 0, 2, RINGD_OP_READ, 100, 0, 1000);
	cr_assert_eq(g_f.t[0].ops[FIG_READ], 1);
	cr_assert_eq(g_f.v[2].ops[FIG_READ], 1);
}
