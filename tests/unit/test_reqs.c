/* SPDX-License-Identifier: MIT */
/* rq_ (layer B): the request pool: its free list, exhaustion, bad indices, recovery. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "reqs.h"

static struct reqs g_q;

static void setup(void)
{
	cr_assert_eq(rq_init(&g_q, 4), 0);
}

static void teardown(void)
{
	rq_fini(&g_q);
}

TestSuite(reqs, .init = setup, .fini = teardown);

Test(reqs, get_hands_out_every_slot_then_exhausts)
{
	uint32_t i;

	cr_assert_not(rq_exhausted(&g_q));
	for (i = 0; i < 4; i++) {
		uint32_t idx = rq_get(&g_q);

		cr_assert_eq(idx, i, "slot %u handed out as %u", i, idx);
		cr_assert(g_q.r[idx].busy);
	}
	cr_assert(rq_exhausted(&g_q));
	cr_assert_eq(g_q.inflight, 4);
	/* Exhausted: the pool size, never a slot. */
	cr_assert_eq(rq_get(&g_q), g_q.n);
	cr_assert_eq(g_q.inflight, 4);
}

Test(reqs, put_makes_the_slot_available_again_and_get_zeroes_it)
{
	uint32_t a = rq_get(&g_q), b = rq_get(&g_q);

	g_q.r[b].user_data = 0xfeed;
	g_q.r[b].has_vol = true;
	rq_put(&g_q, b);
	cr_assert_eq(g_q.inflight, 1);
	cr_assert_null(rq_busy(&g_q, b));
	cr_assert_eq(rq_get(&g_q), b, "the last slot put is the next one got");
	cr_assert_eq(g_q.r[b].user_data, 0, "a reused slot keeps the old request's data");
	cr_assert_not(g_q.r[b].has_vol);
	cr_assert_not_null(rq_busy(&g_q, a));
	rq_put(&g_q, a);
	rq_put(&g_q, b);
	cr_assert_eq(g_q.inflight, 0);
}

Test(reqs, busy_refuses_bad_and_free_indices)
{
	uint32_t idx = rq_get(&g_q);

	cr_assert_eq(rq_busy(&g_q, idx), &g_q.r[idx]);
	/* A completion tag the kernel hands back is only trusted this far. */
	cr_assert_null(rq_busy(&g_q, 1), "a free slot looked busy");
	cr_assert_null(rq_busy(&g_q, 4));
	cr_assert_null(rq_busy(&g_q, 1000));
	cr_assert_null(rq_busy(&g_q, UINT32_MAX));
}

Test(reqs, claim_then_rebuild_keeps_claimed_slots_out_of_the_free_list)
{
	uint32_t got[2];

	/* Recovery: the journal says slots 1 and 3 are in flight. */
	cr_assert_not_null(rq_claim(&g_q, 1));
	cr_assert_not_null(rq_claim(&g_q, 3));
	rq_rebuild(&g_q);
	cr_assert_eq(g_q.inflight, 2);
	got[0] = rq_get(&g_q);
	got[1] = rq_get(&g_q);
	cr_assert_eq(got[0], 0);
	cr_assert_eq(got[1], 2);
	cr_assert(rq_exhausted(&g_q));
	cr_assert_not_null(rq_busy(&g_q, 1));
	cr_assert_not_null(rq_busy(&g_q, 3));
}
