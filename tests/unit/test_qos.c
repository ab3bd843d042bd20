/* SPDX-License-Identifier: MIT */
/* qos_: costs, token buckets, reservation tags, virtual time (layer B). */
#include <criterion/criterion.h>
#include <string.h>

#include "qos.h"
#include "ringd_abi.h"

#define NS 1000000000ull

static struct cfg g_cfg;
static struct cfg_tenant g_t[2];
static struct qos g_q;

/* Two tenants, a and b, with default QoS; @fn may change them. */
static void setup(void)
{
	memset(&g_cfg, 0, sizeof(g_cfg));
	memset(g_t, 0, sizeof(g_t));
	memset(&g_q, 0, sizeof(g_q));
	strcpy(g_t[0].name, "a");
	strcpy(g_t[1].name, "b");
	g_t[0].qos.weight = g_t[1].qos.weight = 100;
	g_t[0].qos.burst_ms = g_t[1].qos.burst_ms = 1000;
	g_cfg.tenants = g_t;
	g_cfg.ntenants = 2;
	g_cfg.qos_cost_unit = 4096;
	g_cfg.qos_flush_cost = 1;
}

static void teardown(void)
{
	qos_fini(&g_q);
}

TestSuite(qos, .init = setup, .fini = teardown);

Test(qos, costs_in_units)
{
	struct qos_req r = { .op = RINGD_OP_READ, .len = 4096 };

	cr_assert_eq(qos_configure(&g_q, &g_cfg, 1), 0);
	cr_assert_eq(qos_cost(&g_q, &r), 1);
	r.len = 512;
	cr_assert_eq(qos_cost(&g_q, &r), 1, "max(1, ...)");
	r.len = 4097;
	cr_assert_eq(qos_cost(&g_q, &r), 2, "ceil");
	r.op = RINGD_OP_WRITE;
	r.len = 65536;
	cr_assert_eq(qos_cost(&g_q, &r), 16);
	r.op = RINGD_OP_FSYNC;
	cr_assert_eq(qos_cost(&g_q, &r), 1);
	r.op = RINGD_OP_NOP;
	cr_assert_eq(qos_cost(&g_q, &r), 0);
}

Test(qos, a_limit_is_a_bucket_that_starts_empty_and_refills)
{
	struct qos_req r = { .op = RINGD_OP_READ, .len = 4096 };
	uint64_t t = NS;
	unsigned int i, admitted = 0;

	g_t[0].qos.limit_iops = 1000;
	g_t[0].qos.burst_ms = 0; /* at least 10 ms of credit all the same */
	cr_assert_eq(qos_configure(&g_q, &g_cfg, t), 0);
	/* Level 0 at the start: one request may go, then it waits 1 ms. */
	cr_assert_eq(qos_wait_ns(&g_q, 0, &r), 0);
	qos_charge(&g_q, 0, &r, false, t);
	cr_assert_gt(qos_wait_ns(&g_q, 0, &r), 900000);
	cr_assert_leq(qos_wait_ns(&g_q, 0, &r), 1000001);
	/* Over one simulated second in 100 us steps: 1000 + 1 requests at most. */
	for (i = 0; i < 10000; i++) {
		t += 100000;
		qos_refill(&g_q, 0, t);
		while (!qos_wait_ns(&g_q, 0, &r)) {
			qos_charge(&g_q, 0, &r, false, t);
			admitted++;
		}
	}
	cr_assert(admitted >= 999 && admitted <= 1001, "%u admitted", admitted);
	/* The other tenant has no limit. */
	cr_assert_eq(qos_wait_ns(&g_q, 1, &r), 0);
}

Test(qos, idle_time_builds_a_burst_of_limit_times_burst)
{
	struct qos_req r = { .op = RINGD_OP_READ, .len = 4096 };
	uint64_t t = NS;
	unsigned int n = 0;

	g_t[0].qos.limit_iops = 1000;
	g_t[0].qos.burst_ms = 2000;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, t), 0);
	t += 10 * NS; /* idle far longer than the burst */
	qos_refill(&g_q, 0, t);
	while (!qos_wait_ns(&g_q, 0, &r)) {
		qos_charge(&g_q, 0, &r, false, t);
		n++;
	}
	cr_assert(n >= 2000 && n <= 2001, "%u requests at once after 10 s idle", n);
}

Test(qos, bandwidth_and_read_write_limits_draw_from_their_buckets)
{
	struct qos_req rd = { .op = RINGD_OP_READ, .len = 65536 };
	struct qos_req wr = { .op = RINGD_OP_WRITE, .len = 65536 };

	g_t[0].qos.limit_write_bw = 1 << 20;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, 1), 0);
	qos_charge(&g_q, 0, &wr, false, 1);
	cr_assert_gt(qos_wait_ns(&g_q, 0, &wr), 0, "writes wait for bytes");
	cr_assert_eq(qos_wait_ns(&g_q, 0, &rd), 0, "reads do not draw from the write bucket");
}

Test(qos, reload_keeps_levels_by_name_and_clamps_them)
{
	struct qos_req r = { .op = RINGD_OP_READ, .len = 4096 };
	uint64_t t = NS;

	g_t[0].qos.limit_iops = 1000;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, t), 0);
	qos_charge(&g_q, 0, &r, false, t);
	g_q.t[0].vtime = 12345;
	/* The tenants swap places and a's limit goes up. */
	memcpy(&g_t[1], &g_t[0], sizeof(g_t[0]));
	strcpy(g_t[0].name, "b");
	memset(&g_t[0].qos, 0, sizeof(g_t[0].qos));
	g_t[0].qos.weight = 100;
	g_t[1].qos.limit_iops = 5000;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, t), 0);
	cr_assert_eq(g_q.t[1].units, 1, "a's figures followed its name");
	cr_assert_eq(g_q.t[1].vtime, 12345);
	cr_assert_eq(g_q.t[1].b[QB_IOPS].rate, 5000);
	cr_assert_lt(g_q.t[1].b[QB_IOPS].level, 0, "its debt too");
	cr_assert_eq(g_q.t[0].b[QB_IOPS].rate, 0);
}

Test(qos, weights_advance_virtual_time_inversely)
{
	struct qos_req r = { .op = RINGD_OP_READ, .len = 4096 };
	unsigned int n;

	g_t[1].qos.weight = 300;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, 1), 0);
	qos_charge(&g_q, 0, &r, false, 1);
	qos_charge(&g_q, 1, &r, false, 1);
	/* 1 unit at weight 100 is 3 at weight 300 (integer division aside). */
	cr_assert_leq(g_q.t[0].vtime - 3 * g_q.t[1].vtime, 3, "%llu vs %llu",
		      (unsigned long long)g_q.t[0].vtime, (unsigned long long)g_q.t[1].vtime);
	/* Reservation-phase service is not charged to the weighted share. */
	g_t[1].qos.reserve_iops = 1000;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, 1), 0);
	qos_wake(&g_q, 1, 0, NS);
	cr_assert(qos_reserve_due(&g_q, 1, NS));
	/* Waking gives at most 2 ms of reservation backlog: 1 unit per ms. */
	for (n = 0; n < 100 && qos_reserve_due(&g_q, 1, NS); n++)
		qos_charge(&g_q, 1, &r, true, NS);
	cr_assert(n >= 2 && n <= 3, "%u units served at once", n);
	cr_assert(qos_reserve_due(&g_q, 1, NS + 1000000));
	cr_assert_eq(g_q.t[1].reserved_units, n);
}

Test(qos, off_puts_everyone_in_one_class)
{
	g_cfg.qos_off = true;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, 1), 0);
	cr_assert_eq(qos_class(&g_q, 0), 2);
	cr_assert_eq(qos_class(&g_q, 1), 2);
	cr_assert_eq(qos_class(&g_q, -1), 2);
}

Test(qos, namespace_jobs_of_tenants_take_turns_even_with_qos_off)
{
	uint64_t a[4], b;
	unsigned int i;

	g_cfg.qos_off = true;
	cr_assert_eq(qos_configure(&g_q, &g_cfg, 1), 0);
	/* a queues four jobs at once, then b one: b's starts with a's first. */
	for (i = 0; i < 4; i++)
		a[i] = qos_ns_tag(&g_q, 0, 0);
	b = qos_ns_tag(&g_q, 1, 0);
	for (i = 1; i < 4; i++)
		cr_assert_gt(a[i], a[i - 1], "one tenant's jobs keep their order");
	cr_assert_eq(b, a[0]);
	cr_assert_lt(b, a[1]);
	/* After a pause a tenant starts at the worker's clock: no credit. */
	cr_assert_eq(qos_ns_tag(&g_q, 1, a[3] + 100), a[3] + 100);
	/* Out-of-range tenants share the no-tenant class. */
	cr_assert_eq(qos_ns_tag(&g_q, -1, 0), 0);
	cr_assert_gt(qos_ns_tag(&g_q, 7, 0), 0);
}
