/* SPDX-License-Identifier: MIT */
/*
 * use_ (layer B): tenant counters. Issue 9 defect 5: a stale or missing
 * tenant index wrote out of bounds. Every call must ignore an index that
 * is not a tenant of the running config.
 */
#include <criterion/criterion.h>
#include <limits.h>

#include "usage.h"

static struct usage g_u;

static void teardown(void)
{
	use_fini(&g_u);
}

TestSuite(usage, .fini = teardown);

/* Every use_ call with tenant @t. */
static void touch_all(int t)
{
	use_add_session(&g_u, t, 5);
	use_io_start(&g_u, t, true, 4096);
	use_io_done(&g_u, t, true, 4096);
	use_io_start(&g_u, t, true, 4096);
	use_add_blocking(&g_u, t, 2);
	use_add_copying(&g_u, t, 8192);
	use_del_session(&g_u, t);
	use_add_session(&g_u, t, 0);
}

Test(usage, counts_sessions_and_io)
{
	struct tenant_usage tu;

	cr_assert_eq(use_reset(&g_u, 2), 0);
	use_add_session(&g_u, 1, 0);
	use_add_session(&g_u, 1, 3);
	use_io_start(&g_u, 1, false, 0);
	use_io_done(&g_u, 1, false, 0);
	use_io_done(&g_u, 1, false, 0);
	tu = use_get(&g_u, 1);
	cr_assert_eq(tu.sessions, 2);
	cr_assert_eq(tu.inflight, 2);
	use_del_session(&g_u, 1);
	cr_assert_eq(use_get(&g_u, 1).sessions, 1);
	tu = use_get(&g_u, 0);
	cr_assert_eq(tu.sessions, 0);
	cr_assert_eq(tu.inflight, 0);
}

Test(usage, out_of_range_tenants_are_ignored)
{
	static const int bad[] = { -1, -2, 2, 3, 1000, INT_MAX, INT_MIN };
	unsigned int i;

	/*
	 * Four counters allocated, two in use: a write past n lands in memory
	 * this test can see (and ASan sees anything further out).
	 */
	cr_assert_eq(use_reset(&g_u, 4), 0);
	g_u.n = 2;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tenant_usage tu;

		touch_all(bad[i]);
		tu = use_get(&g_u, bad[i]);
		cr_assert_eq(tu.sessions, 0, "tenant %d reads %u sessions", bad[i], tu.sessions);
		cr_assert_eq(tu.inflight, 0);
	}
	for (i = 0; i < 4; i++) {
		cr_assert_eq(g_u.t[i].sessions, 0, "counter %u written", i);
		cr_assert_eq(g_u.t[i].inflight, 0, "counter %u written", i);
		cr_assert_eq(g_u.t[i].blocking, 0, "counter %u written", i);
		cr_assert_eq(g_u.t[i].copying, 0, "counter %u written", i);
	}
}

/* One call counts a request whole: in flight, a kernel worker it holds,
 * the bytes it reads through the page cache; its end takes back each. */
Test(usage, a_request_is_counted_whole_in_one_call)
{
	cr_assert_eq(use_reset(&g_u, 2), 0);
	use_add_session(&g_u, 1, 0);
	use_io_start(&g_u, 1, true, 0);
	use_io_start(&g_u, 1, false, 65536);
	use_io_start(&g_u, 1, false, 0);
	cr_assert_eq(use_get(&g_u, 1).inflight, 3);
	cr_assert_eq(use_blocking(&g_u, 1), 1);
	cr_assert_eq(use_copying(&g_u, 1), 65536);
	use_io_done(&g_u, 1, false, 65536);
	cr_assert_eq(use_copying(&g_u, 1), 0);
	cr_assert_eq(use_blocking(&g_u, 1), 1);
	use_io_done(&g_u, 1, true, 0);
	use_io_done(&g_u, 1, false, 0);
	cr_assert_eq(use_get(&g_u, 1).inflight, 0);
	cr_assert_eq(use_blocking(&g_u, 1), 0);
	/* Tenant 0 untouched; no tenant and a stale index read zero. */
	cr_assert_eq(use_get(&g_u, 0).inflight, 0);
	cr_assert_eq(use_blocking(&g_u, -1), 0);
	cr_assert_eq(use_copying(&g_u, 2), 0);
}

Test(usage, counters_never_wrap_below_zero)
{
	cr_assert_eq(use_reset(&g_u, 1), 0);
	use_io_done(&g_u, 0, true, 4096);
	use_del_session(&g_u, 0);
	cr_assert_eq(use_get(&g_u, 0).inflight, 0);
	cr_assert_eq(use_blocking(&g_u, 0), 0);
	cr_assert_eq(use_copying(&g_u, 0), 0);
	cr_assert_eq(use_get(&g_u, 0).sessions, 0);
}

Test(usage, reset_zeroes_and_resizes)
{
	cr_assert_eq(use_reset(&g_u, 3), 0);
	use_add_session(&g_u, 2, 4);
	cr_assert_eq(use_get(&g_u, 2).sessions, 1);
	/* A reload that drops tenant 2: its index is gone, not kept stale. */
	cr_assert_eq(use_reset(&g_u, 2), 0);
	cr_assert_eq(g_u.n, 2);
	cr_assert_eq(use_get(&g_u, 2).sessions, 0);
	cr_assert_eq(use_get(&g_u, 0).inflight, 0);
	use_add_session(&g_u, 2, 1);
	cr_assert_eq(use_get(&g_u, 1).sessions, 0);
	/* No tenants at all still works. */
	cr_assert_eq(use_reset(&g_u, 0), 0);
	touch_all(0);
	cr_assert_eq(use_get(&g_u, 0).sessions, 0);
}

/*
 * The request pool's shares (H43): the slots in use are the sum of the
 * tenants' in flight here. take() starts up to @n requests of tenant @t
 * while use_may_start() lets it; returns how many started.
 */
#define POOL 100u

static unsigned int pool_used(void)
{
	unsigned int i, used = 0;

	for (i = 0; i < g_u.n; i++)
		used += g_u.t[i].inflight;
	return used;
}

static unsigned int take(int t, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && use_may_start(&g_u, t, POOL - pool_used()); i++)
		use_io_start(&g_u, t, false, 0);
	return i;
}

static void pool_of(unsigned int ntenants, unsigned int cap)
{
	unsigned int i;

	cr_assert_eq(use_reset(&g_u, ntenants), 0);
	use_set_pool(&g_u, POOL);
	for (i = 0; i < ntenants; i++)
		use_limit(&g_u, (int)i, cap);
}

Test(usage, a_tenant_alone_may_take_the_whole_pool_up_to_its_cap)
{
	pool_of(2, 1000);
	use_add_session(&g_u, 0, 0);
	cr_assert_eq(take(0, 1000), POOL);
	pool_of(2, 60);
	use_add_session(&g_u, 0, 0);
	cr_assert_eq(take(0, 1000), 60, "past its max_tenant_inflight");
}

Test(usage, a_tenant_past_its_share_leaves_the_others_theirs)
{
	pool_of(3, 1000);
	use_add_session(&g_u, 0, 0);
	use_add_session(&g_u, 1, 0);
	/* Two tenants with sessions: 50 each. The first takes its 50 and no more. */
	cr_assert_eq(take(0, 1000), 50);
	/* The second gets all of its share, then nothing is left. */
	cr_assert_eq(take(1, 1000), 50);
	cr_assert_eq(take(0, 1), 0);
	/* A third tenant arrives while the pool is full: nothing is taken back,
	 * but what completes goes to it first. */
	use_add_session(&g_u, 2, 0);
	cr_assert_eq(g_u.share, POOL / 3);
	cr_assert_eq(take(2, 1), 0);
	use_io_done(&g_u, 0, false, 0);
	use_io_done(&g_u, 1, false, 0);
	cr_assert_eq(take(0, 1), 0, "the first is past its share of 33");
	cr_assert_eq(take(1, 1), 0);
	cr_assert_eq(take(2, 1000), 2);
	/* The first completes down to its share: still nothing for it while the
	 * third is owed slots, and the third gets them. */
	while (g_u.t[0].inflight > 33)
		use_io_done(&g_u, 0, false, 0);
	cr_assert_eq(take(0, 1), 0);
	cr_assert_eq(take(2, 1000), 16);
	cr_assert_eq(g_u.unmet, 15u, "the third still owed 15 (held by the second)");
	/* Below its share again, the first may take its slot back. */
	use_io_done(&g_u, 0, false, 0);
	cr_assert_eq(take(0, 1), 1);
}

Test(usage, a_small_cap_holds_back_only_what_the_tenant_may_use)
{
	pool_of(2, 1000);
	use_limit(&g_u, 1, 10);
	use_add_session(&g_u, 0, 0);
	use_add_session(&g_u, 1, 0);
	cr_assert_eq(g_u.unmet, 50u + 10u);
	cr_assert_eq(take(0, 1000), POOL - 10);
	cr_assert_eq(take(1, 1000), 10);
}

Test(usage, a_tenant_without_sessions_has_no_share)
{
	pool_of(2, 1000);
	use_add_session(&g_u, 0, 0);
	use_add_session(&g_u, 1, 0);
	use_del_session(&g_u, 1);
	cr_assert_eq(g_u.active, 1);
	cr_assert_eq(g_u.unmet, POOL);
	cr_assert_eq(take(0, 1000), POOL);
	/* A session without a tenant has no share: only what nobody is owed. */
	use_io_done(&g_u, 0, false, 0);
	use_add_session(&g_u, 1, 0);
	cr_assert_eq(take(-1, 1), 0);
}

Test(usage, a_rebuild_with_the_pool_set_last_keeps_the_same_shares)
{
	struct usage fresh = { NULL, 0 };

	pool_of(3, 1000);
	use_add_session(&g_u, 0, 7);
	use_add_session(&g_u, 0, 0);
	use_add_session(&g_u, 2, 40);
	cr_assert_eq(use_reset(&fresh, 3), 0);
	use_add_session(&fresh, 0, 7);
	use_add_session(&fresh, 0, 0);
	use_add_session(&fresh, 2, 40);
	use_set_pool(&fresh, POOL);
	cr_assert_eq(fresh.active, g_u.active);
	cr_assert_eq(fresh.share, g_u.share);
	cr_assert_eq(fresh.unmet, g_u.unmet);
	cr_assert_eq(g_u.unmet, 50u - 7 + 10);
	use_fini(&fresh);
}
