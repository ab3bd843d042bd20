/* SPDX-License-Identifier: MIT */
/*
 * A full SQ hands out no SQE, and a client that submits far more than its
 * CQ holds before reaping loses no completion: the daemon takes only as
 * many SQEs as it has CQ slots for and leaves the rest queued.
 */
#include <stdio.h>

#include "it.h"

static struct rt_daemon g_d;
static struct ringd *g_rd;

static const char conf[] = "[volume vol]\n"
			   "path = vol.img\n"
			   "create_size = 4M\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = vol:rw\n";

static void setup(void)
{
	rt_daemon_start(&g_d, conf);
}

static void teardown(void)
{
	ringd_disconnect(g_rd);
	g_rd = NULL;
	it_stop(&g_d);
}

Test(backpressure, sq_full_get_sqe_null, .init = setup, .fini = teardown)
{
	struct ringd_sqe *sqe;
	struct ringd_cqe *cqe;
	unsigned int i;
	int ret = rt_connect(&g_d, 8, 16, 1u << 20, &g_rd);

	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	for (i = 0; i < 8; i++) {
		sqe = ringd_get_sqe(g_rd);
		cr_assert_not_null(sqe, "SQE %u of 8", i);
		ringd_prep_nop(sqe);
		ringd_sqe_set_data64(sqe, i);
	}
	cr_assert_null(ringd_get_sqe(g_rd), "a 9th SQE from an 8-entry SQ");
	cr_assert_null(ringd_get_sqe(g_rd), "and again");
	ret = ringd_submit_and_wait(g_rd, 8);
	cr_assert_eq(ret, 8);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(ringd_wait_cqe(g_rd, &cqe), 0);
		cr_assert_eq(cqe->res, 0, "nop: %d", cqe->res);
		ringd_cqe_seen(g_rd, cqe);
	}
	/* Consumed by the daemon: the SQ has room again. */
	cr_assert_not_null(ringd_get_sqe(g_rd));
}

#define SQ    32u
#define CQ    64u
#define TOTAL (4 * CQ)

static unsigned int g_next;
static bool g_sq_full;

/* Queue and submit as many writes as the SQ takes; true when the SQ is
 * full and the CQ holds CQ completions, i.e. the daemon stopped taking.
 * The CQ is looked at first: once it is full (phase 1 never reaps) the
 * daemon takes nothing more, so an SQ found full after that stays full.
 * Looked at after, a full SQ the daemon emptied meanwhile would count. */
static bool fill_and_submit(void **bufs)
{
	bool cq_full = ringd_cq_ready(g_rd) == CQ;
	struct ringd_sqe *sqe;

	g_sq_full = false;
	while (g_next < TOTAL) {
		sqe = ringd_get_sqe(g_rd);
		if (!sqe) {
			g_sq_full = true;
			break;
		}
		ringd_prep_write(sqe, 0, bufs[g_next % SQ], 4096, (uint64_t)g_next * 4096);
		ringd_sqe_set_data64(sqe, g_next);
		g_next++;
	}
	cr_assert_geq(ringd_submit(g_rd), 0);
	return cq_full && g_sq_full;
}

Test(backpressure, submit_4x_cq_before_reaping_loses_nothing, .init = setup, .fini = teardown)
{
	static unsigned char seen[TOTAL];
	void *bufs[SQ];
	struct ringd_cqe *cqe;
	unsigned int i, got = 0;
	int ret = rt_connect(&g_d, SQ, CQ, 1u << 20, &g_rd);
	uint8_t *file;

	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	cr_assert_eq(ringd_open(g_rd, "vol", RINGD_RDWR, NULL), 0);
	/* Write i sends buffer i % SQ; buffers never change, so reuse is safe. */
	for (i = 0; i < SQ; i++) {
		bufs[i] = ringd_buf_alloc(g_rd, 4096, 4096);
		cr_assert_not_null(bufs[i]);
		memset(bufs[i], 0x11 + i, 4096);
	}

	/* Phase 1: never reap. The daemon takes exactly CQ SQEs and then
	 * leaves the SQ full. */
	cr_assert(rt_wait_for(10000, fill_and_submit(bufs)),
		  "CQ never filled: %u ready, %u submitted", ringd_cq_ready(g_rd), g_next);
	cr_assert_eq(ringd_cq_ready(g_rd), CQ);
	cr_assert_eq(g_next, CQ + SQ, "the daemon took %u SQEs for %u CQ slots", g_next - SQ, CQ);
	cr_assert_null(ringd_get_sqe(g_rd));

	/* Phase 2: reap, and keep submitting as room opens, up to 4 x CQ. */
	while (got < TOTAL) {
		ret = ringd_wait_cqe_timeout(g_rd, &cqe, 10000);
		cr_assert_eq(ret, 0, "waiting for completion %u of %u: %s", got, TOTAL,
			     strerror(-ret));
		cr_assert_lt(cqe->user_data, TOTAL, "unknown tag %llu",
			     (unsigned long long)cqe->user_data);
		cr_assert_eq(seen[cqe->user_data], 0, "tag %llu completed twice",
			     (unsigned long long)cqe->user_data);
		cr_assert_eq(cqe->res, 4096, "tag %llu: res %d", (unsigned long long)cqe->user_data,
			     cqe->res);
		seen[cqe->user_data] = 1;
		got++;
		ringd_cqe_seen(g_rd, cqe);
		fill_and_submit(bufs);
	}
	cr_assert_eq(g_next, TOTAL);
	for (i = 0; i < TOTAL; i++)
		cr_assert_eq(seen[i], 1, "tag %u never completed", i);
	cr_assert_eq(ringd_peek_cqe(g_rd, &cqe), -EAGAIN, "a completion too many");

	/* Every write landed: block i holds buffer i % SQ's bytes. */
	file = malloc(TOTAL * 4096);
	cr_assert_not_null(file);
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/state/vol.img", g_d.dir);
		cr_assert_eq(rt_pread_file(path, file, TOTAL * 4096, 0), 0);
	}
	for (i = 0; i < TOTAL; i++)
		cr_assert_eq(file[i * 4096 + 100], (uint8_t)(0x11 + i % SQ), "block %u", i);
	free(file);
}

static const char stall_conf[] = "[daemon]\n"
				 "socket = @DIR@/ringd.sock\n"
				 "state_dir = @DIR@/state\n"
				 "stall_timeout = 300ms\n"
				 "\n"
				 "[tenant root]\n"
				 "uid = 0\n";

static void stall_setup(void)
{
	rt_daemon_start(&g_d, stall_conf);
}

Test(backpressure, client_that_never_reaps_is_disconnected_after_stall_timeout, .init = stall_setup,
     .fini = teardown)
{
	struct rt_admin_stats st;
	struct ringd_cqe *cqe;
	unsigned int i;
	int ret = rt_connect(&g_d, 8, 8, 64u << 10, &g_rd);

	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	for (i = 0; i < 16; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(g_rd);

		if (!sqe) {
			cr_assert_eq(ringd_submit(g_rd), 8);
			sqe = ringd_get_sqe(g_rd);
			if (!sqe) {
				/* Room opens as the daemon takes the first 8. */
				cr_assert(rt_wait_for(5000, (sqe = ringd_get_sqe(g_rd)) != NULL));
			}
		}
		ringd_prep_nop(sqe);
		ringd_sqe_set_data64(sqe, i);
	}
	cr_assert_eq(ringd_submit(g_rd), 8);
	cr_assert(rt_wait_for(10000, ringd_broken_reason(g_rd) == RINGD_BROKEN_STALL),
		  "broken reason %u", ringd_broken_reason(g_rd));
	/* The completions posted before the stall are still there, once each. */
	cr_assert_eq(ringd_cq_ready(g_rd), 8);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(ringd_peek_cqe(g_rd, &cqe), 0);
		cr_assert_eq(cqe->user_data, i);
		cr_assert_eq(cqe->res, 0);
		ringd_cqe_seen(g_rd, cqe);
	}
	ret = ringd_wait_cqe(g_rd, &cqe);
	cr_assert(ret == -EPIPE || ret == -ENOTCONN, "wait on a broken session: %d", ret);
	ret = ringd_submit(g_rd);
	cr_assert(ret == -EPIPE || ret == -ENOTCONN, "submit on a broken session: %d", ret);
	/* The daemon let go of the session and its buffer. */
	cr_assert(rt_wait_for(5000, !rt_admin_stats(&g_d, &st) && st.buffers_registered == 0 &&
					st.sessions == 1),
		  "buffers %u sessions %u", st.buffers_registered, st.sessions);
}
