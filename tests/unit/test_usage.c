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
	use_io_start(&g_u, t);
	use_io_done(&g_u, t);
	use_io_start(&g_u, t);
	use_del_session(&g_u, t);
	use_add_session(&g_u, t, 0);
}

Test(usage, counts_sessions_and_io)
{
	struct tenant_usage tu;

	cr_assert_eq(use_reset(&g_u, 2), 0);
	use_add_session(&g_u, 1, 0);
	use_add_session(&g_u, 1, 3);
	use_io_start(&g_u, 1);
	use_io_done(&g_u, 1);
	use_io_done(&g_u, 1);
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
	}
}

Test(usage, counters_never_wrap_below_zero)
{
	cr_assert_eq(use_reset(&g_u, 1), 0);
	use_io_done(&g_u, 0);
	use_del_session(&g_u, 0);
	cr_assert_eq(use_get(&g_u, 0).inflight, 0);
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
