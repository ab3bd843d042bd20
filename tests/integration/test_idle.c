/* SPDX-License-Identifier: MIT */
/*
 * Idle sessions go cold (off the list every pass walks) and come back
 * with their doorbell. Hundreds of sessions attached, each idle long
 * enough to go cold, then woken in random order and in bursts: every
 * request completes (a lost wake-up would time out) with its own data.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "it.h"
#include "ringd.h"

#define NSESS 300

static struct rt_daemon g_d;

static const char conf[] = "[volume v]\n"
			   "path = v.img\n"
			   "create_size = 64M\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = v:rw\n"
			   "max_sessions = 400\n";

static void start(void)
{
	rt_daemon_start(&g_d, conf);
}

static void stop(void)
{
	it_stop(&g_d);
}

TestSuite(idle, .init = start, .fini = stop, .timeout = 120);

struct idle_sess {
	struct ringd *rd;
	int h;
	uint8_t *buf;
	uint64_t version;
};

static void attach_all(struct idle_sess *s)
{
	unsigned int i;
	int ret;

	for (i = 0; i < NSESS; i++) {
		ret = rt_connect(&g_d, 8, 16, 64u << 10, &s[i].rd);
		cr_assert_eq(ret, 0, "session %u: %s", i, strerror(-ret));
		s[i].h = ringd_open(s[i].rd, "v", RINGD_RDWR, NULL);
		cr_assert_geq(s[i].h, 0);
		s[i].buf = ringd_buf_alloc(s[i].rd, 4096, 4096);
		cr_assert_not_null(s[i].buf);
	}
}

/* One verified write and read of session @i's own block. */
static void roundtrip(struct idle_sess *s, unsigned int i)
{
	uint64_t off = (uint64_t)i * 4096;
	int ret;

	s[i].version++;
	rt_fill(s[i].buf, 4096, s[i].version, off);
	ret = it_write(s[i].rd, s[i].h, s[i].buf, 4096, off);
	cr_assert_eq(ret, 4096, "session %u write: %d", i, ret);
	memset(s[i].buf, 0, 4096);
	ret = it_read(s[i].rd, s[i].h, s[i].buf, 4096, off);
	cr_assert_eq(ret, 4096, "session %u read: %d", i, ret);
	cr_assert_eq(rt_check(s[i].buf, 4096, s[i].version, off), -1, "session %u data", i);
}

Test(idle, cold_sessions_wake_with_their_doorbell)
{
	static struct idle_sess s[NSESS];
	unsigned int i, k;

	struct rt_admin_stats as;

	attach_all(s);
	/* Every one of them goes cold: the passes no longer look at them. */
	cr_assert(rt_wait_for(5000, !rt_admin_stats(&g_d, &as) && as.sessions_cold >= NSESS),
		  "cold sessions: %u of %u", as.sessions_cold, NSESS);
	srand(7);
	for (k = 0; k < 2 * NSESS; k++) {
		i = (unsigned int)rand() % NSESS;
		roundtrip(s, i);
		/* Now and then long enough for the daemon to cool it again. */
		if (k % 50 == 49)
			usleep(30000);
	}
	for (i = 0; i < NSESS; i++)
		ringd_disconnect(s[i].rd);
}

Test(idle, bursts_across_many_sessions_complete)
{
	static struct idle_sess s[NSESS];
	unsigned int i, round;

	attach_all(s);
	for (round = 0; round < 6; round++) {
		/* A burst: every session submits before any waits. */
		for (i = 0; i < NSESS; i++) {
			struct ringd_sqe *sqe = ringd_get_sqe(s[i].rd);

			cr_assert_not_null(sqe);
			ringd_prep_nop(sqe);
			ringd_sqe_set_data64(sqe, i);
			cr_assert_eq(ringd_submit(s[i].rd), 1);
		}
		for (i = 0; i < NSESS; i++) {
			struct ringd_cqe *cqe;
			int ret = ringd_wait_cqe_timeout(s[i].rd, &cqe, 10000);

			cr_assert_eq(ret, 0, "round %u session %u: %s", round, i, strerror(-ret));
			cr_assert_eq(cqe->user_data, i);
			ringd_cqe_seen(s[i].rd, cqe);
		}
		/* Alternately idle just past and well past the cooling time. */
		usleep(round % 2 ? 12000 : 40000);
	}
	for (i = 0; i < NSESS; i += 37)
		roundtrip(s, i);
	for (i = 0; i < NSESS; i++)
		ringd_disconnect(s[i].rd);
}
