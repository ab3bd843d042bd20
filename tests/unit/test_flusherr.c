/* SPDX-License-Identifier: MIT */
/*
 * fe_ (layer B): who hears of a failed write or flush (HOSTILE.md H17).
 * Three sessions on one volume: A and B write, C never does; the kernel's
 * results are played by hand, including the case that motivates it: the
 * first flush after a write-back failure takes the kernel's only report,
 * and every later flush on the shared file description says 0. The owed
 * failures are kept in a real journal, as the daemon keeps them, so that a
 * restart (new tables over the same journal) can be played too.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "flusherr.h"
#include "vols.h"

#define NVOLS VOLS_ALL /* as the daemon */
#define V     3u
#define FILE  (VOLS_MAX + 1000u) /* a directory volume's file */

enum { A = 0, B = 1, C = 2 }; /* session slots */

static struct fe g_f;
static struct jr g_jr;
static const uint64_t g_id[3] = { 11, 12, 13 };

static void setup(void)
{
	cr_assert_eq(jr_create(&g_jr, 4, 8), 0);
	cr_assert_eq(fe_init(&g_f, NVOLS, 4), 0);
	fe_persist(&g_f, &g_jr);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(fe_track(&g_f, (uint32_t)i, g_id[i], V), 0);
		cr_assert_eq(fe_track(&g_f, (uint32_t)i, g_id[i], V + 1), 0);
		cr_assert_eq(fe_track(&g_f, (uint32_t)i, g_id[i], FILE), 0);
	}
}

static void teardown(void)
{
	fe_fini(&g_f);
	jr_close(&g_jr);
}

TestSuite(flusherr, .init = setup, .fini = teardown);

static void wrote(int s, uint32_t vol, int32_t res)
{
	fe_wrote(&g_f, (uint32_t)s, g_id[s], vol, res);
}

static int32_t flushed(int s, uint32_t vol, int32_t kernel)
{
	return fe_flushed(&g_f, (uint32_t)s, g_id[s], vol, kernel, NULL);
}

Test(flusherr, good_flushes_pass_through)
{
	wrote(A, V, 4096);
	cr_assert_eq(flushed(A, V, 0), 0);
	cr_assert_eq(flushed(B, V, 0), 0);
	cr_assert_eq(flushed(A, V, 0), 0);
}

/* The failure is taken by C's flush (the kernel's one report): A and B,
 * who wrote, still get -EIO from their next flush; C gets 0. */
Test(flusherr, first_flush_does_not_take_the_error_from_the_writers)
{
	wrote(A, V, 4096);
	wrote(B, V, 4096);
	cr_assert_eq(flushed(C, V, -EIO), 0, "C never wrote");
	cr_assert_eq(flushed(A, V, 0), -EIO, "A wrote, and its flush came after the failure");
	cr_assert_eq(flushed(B, V, 0), -EIO);
	/* Told once each: the next flushes succeed if the device does. */
	cr_assert_eq(flushed(A, V, 0), 0);
	cr_assert_eq(flushed(B, V, 0), 0);
	cr_assert_eq(flushed(C, V, 0), 0);
}

/* Sticky over other sessions' flushes, however many. */
Test(flusherr, others_flushes_do_not_clear_it)
{
	int i;

	wrote(B, V, 4096);
	cr_assert_eq(flushed(A, V, -EIO), 0, "A did not write");
	for (i = 0; i < 5; i++)
		cr_assert_eq(flushed(A, V, 0), 0);
	cr_assert_eq(flushed(C, V, 0), 0);
	cr_assert_eq(flushed(B, V, 0), -EIO);
}

/* While the device keeps failing, so does every flush of a writer. */
Test(flusherr, a_failing_device_fails_each_flush)
{
	wrote(B, V, 4096);
	cr_assert_eq(flushed(B, V, -EIO), -EIO);
	cr_assert_eq(flushed(B, V, -EIO), -EIO);
	cr_assert_eq(flushed(B, V, 0), 0, "the device is good again and B was told");
	cr_assert_eq(flushed(B, V, -EIO), 0, "B has not written since its good flush");
}

/* A failed write counts against the volume: every writer hears of it. */
Test(flusherr, a_failed_write_reaches_every_writer)
{
	wrote(A, V, 4096);
	wrote(B, V, -EIO);
	cr_assert_eq(flushed(C, V, 0), 0);
	cr_assert_eq(flushed(A, V, 0), -EIO);
	cr_assert_eq(flushed(B, V, 0), -EIO);
	cr_assert_eq(flushed(A, V, 0), 0);
}

/* Only -EIO is a failed write: space and read-only errors refuse it alone. */
Test(flusherr, refused_writes_are_not_failures)
{
	wrote(A, V, 4096);
	wrote(B, V, -ENOSPC);
	wrote(B, V, -EDQUOT);
	wrote(B, V, -EROFS);
	cr_assert_eq(flushed(A, V, 0), 0);
	cr_assert(fe_write_failed(-EIO));
	cr_assert_not(fe_write_failed(-ENOSPC));
}

/* A flush that did not run is not a failure, and passes its error on. */
Test(flusherr, flush_errors_that_lose_nothing)
{
	wrote(A, V, 4096);
	cr_assert_eq(flushed(B, V, -EINVAL), -EINVAL);
	cr_assert_eq(flushed(A, V, -EOPNOTSUPP), -EOPNOTSUPP);
	cr_assert_eq(flushed(A, V, 0), 0);
	cr_assert(fe_flush_failed(-ENOSPC), "delayed allocation lost data");
	cr_assert(fe_flush_failed(-EIO));
	cr_assert_not(fe_flush_failed(-ECANCELED));
}

/* A write after the failure (and before any flush) is not its concern. */
Test(flusherr, writes_after_the_failure_start_clean)
{
	wrote(B, V, 4096);
	cr_assert_eq(flushed(B, V, -EIO), -EIO);
	wrote(A, V, 4096);
	cr_assert_eq(flushed(A, V, 0), 0, "A wrote only after the failure");
}

/* A failure during a flush of a writer, with a failure in between. */
Test(flusherr, a_newer_failure_after_being_told)
{
	wrote(A, V, 4096);
	wrote(C, V, -EIO);
	cr_assert_eq(flushed(A, V, 0), -EIO);
	wrote(C, V, -EIO);
	cr_assert_eq(flushed(A, V, 0), -EIO, "a newer failure since it was told");
	cr_assert_eq(flushed(A, V, 0), 0);
}

/* Volumes are apart, files of directory volumes included. */
Test(flusherr, other_volumes_are_unaffected)
{
	wrote(A, V, 4096);
	wrote(A, FILE, 4096);
	wrote(B, V + 1, -EIO);
	cr_assert_eq(flushed(A, V, 0), 0);
	cr_assert_eq(flushed(A, FILE, 0), 0);
	wrote(B, FILE, 4096);
	cr_assert_eq(flushed(C, FILE, -EIO), 0);
	cr_assert_eq(flushed(B, FILE, 0), -EIO);
	cr_assert_eq(flushed(A, V, 0), 0);
	/* Out of range: passed through, nothing recorded. */
	cr_assert_eq(fe_flushed(&g_f, A, g_id[A], NVOLS, -EIO, NULL), -EIO);
}

/* A new session in a slot starts clean; the old one's state is gone. */
Test(flusherr, a_reused_slot_starts_clean)
{
	wrote(B, V, 4096);
	wrote(C, V, -EIO);
	cr_assert_eq(fe_track(&g_f, B, 99, V), 0);
	cr_assert_eq(fe_flushed(&g_f, B, 99, V, 0, NULL), 0);
	/* The old id is not confused with the new one either. */
	cr_assert_eq(flushed(B, V, 0), 0, "session 12 is gone: nothing is tracked for it");
	/* A session that is gone (id 0) still counts its failure. */
	cr_assert_eq(fe_track(&g_f, B, 100, V), 0);
	fe_wrote(&g_f, B, 100, V, 4096);
	fe_wrote(&g_f, 3, 0, V, -EIO);
	cr_assert_eq(fe_flushed(&g_f, B, 100, V, 0, NULL), -EIO);
}

/* Bad arguments are refused; only the chunks written to cost memory. */
Test(flusherr, track_refuses_bad_arguments_and_allocates_by_chunk)
{
	cr_assert_eq(fe_track(&g_f, 4, 1, V), -EINVAL, "slot out of range");
	cr_assert_eq(fe_track(&g_f, 3, 0, V), -EINVAL, "id 0 is no session");
	cr_assert_eq(fe_track(&g_f, 3, 14, NVOLS), -EINVAL, "index out of range");
	cr_assert_eq(fe_track(&g_f, 3, 14, 5), 0);
	cr_assert_not_null(g_f.s[3].chunk[0]);
	cr_assert_null(g_f.s[3].chunk[1]);
	cr_assert_null(g_f.s[3].chunk[(NVOLS - 1) / FE_CHUNK]);
	cr_assert_eq(fe_track(&g_f, 3, 14, NVOLS - 1), 0);
	cr_assert_not_null(g_f.s[3].chunk[(NVOLS - 1) / FE_CHUNK]);
}

/* After a restart what a restored session wrote is unknown: it counts as a
 * writer on every volume, so a later failure reaches it. */
Test(flusherr, a_restored_session_counts_as_a_writer)
{
	cr_assert_eq(fe_restored(&g_f, C, g_id[C]), 0);
	cr_assert_eq(flushed(C, V, 0), 0, "no failure since the restart");
	wrote(A, FILE, -EIO);
	cr_assert_eq(flushed(C, FILE, 0), -EIO);
	cr_assert_eq(flushed(C, FILE, 0), 0);
}

/* A restart: the new instance's tables, over the same journal, and the
 * three sessions restored from it. */
static void restart(void)
{
	fe_fini(&g_f);
	cr_assert_eq(fe_init(&g_f, NVOLS, 4), 0);
	fe_persist(&g_f, &g_jr);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(fe_restored(&g_f, (uint32_t)i, g_id[i]), 0);
}

/*
 * C's flush takes the kernel's only report, then the daemon restarts: the
 * new instance never saw the failure and the kernel says 0 to every
 * flush. A and B, who wrote, are still told, once; C is not.
 */
Test(flusherr, an_owed_failure_survives_a_restart)
{
	wrote(A, V, 4096);
	wrote(B, V, 4096);
	wrote(B, FILE, 4096);
	cr_assert_eq(flushed(C, V, -EIO), 0, "C never wrote");
	restart();
	cr_assert_eq(flushed(A, V, 0), -EIO, "A wrote before the failure the old instance saw");
	cr_assert_eq(flushed(B, V, 0), -EIO);
	cr_assert_eq(flushed(C, V, 0), 0, "C never wrote");
	cr_assert_eq(flushed(B, FILE, 0), 0, "the failure was on V only");
	cr_assert_eq(flushed(A, V, 0), 0, "told once");
	restart();
	cr_assert_eq(flushed(A, V, 0), 0, "told before this restart: not again");
	cr_assert_eq(flushed(B, V, 0), 0);
}

/* A failure counted after a restart (restored sessions write everywhere)
 * is owed across the next one. */
Test(flusherr, a_failure_after_a_restart_survives_the_next)
{
	restart();
	wrote(A, FILE, -EIO);
	restart();
	cr_assert_eq(flushed(B, FILE, 0), -EIO);
	cr_assert_eq(flushed(C, FILE, 0), -EIO);
	cr_assert_eq(flushed(A, FILE, 0), -EIO);
	cr_assert_eq(flushed(A, FILE, 0), 0);
	cr_assert_eq(flushed(A, V, 0), 0);
}

/*
 * The journal forgets an owed failure only once the CQE that tells it is
 * safe (fe_told): a restart before that tells it again, never not at all.
 */
Test(flusherr, a_tell_is_forgotten_only_once_it_is_safe)
{
	bool told = false;

	wrote(A, V, 4096);
	cr_assert_eq(flushed(C, V, -EIO), 0);
	cr_assert_eq(fe_flushed(&g_f, A, g_id[A], V, 0, &told), -EIO);
	cr_assert(told, "the -EIO told an owed failure");
	restart();
	told = false;
	cr_assert_eq(fe_flushed(&g_f, A, g_id[A], V, 0, &told), -EIO, "its CQE was not safe");
	cr_assert(told);
	fe_told(&g_f, A, g_id[A], V);
	restart();
	cr_assert_eq(flushed(A, V, 0), 0, "told, and that was safe");
}

/* Owed failures belong to their session: one restored into the same slot
 * under another id is not owed its predecessor's. */
Test(flusherr, owed_failures_stay_with_their_session)
{
	wrote(B, V, 4096);
	cr_assert_eq(flushed(C, V, -EIO), 0);
	fe_fini(&g_f);
	cr_assert_eq(fe_init(&g_f, NVOLS, 4), 0);
	fe_persist(&g_f, &g_jr);
	cr_assert_eq(fe_restored(&g_f, B, 99), 0);
	cr_assert_eq(fe_flushed(&g_f, B, 99, V, 0, NULL), 0, "session 12 was owed it, not 99");
}
