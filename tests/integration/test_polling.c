/* SPDX-License-Identifier: MIT */
/*
 * Polling and wake-ups: whatever [daemon] poll_idle_us is, and however the
 * client's waits interleave with the daemon going to sleep, no completion
 * and no submission is ever left waiting for a wake-up that does not come.
 * Every wait has a generous timeout; a lost wake-up shows as -ETIME.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ringd.h"

#define WAIT_MS 5000u

static struct rt_daemon g_d;

/* Criterion 2.4.1 leaks a 48-byte record of its own when a suite runs
 * several tests with timeouts; suppress only what libcriterion allocated. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}

static void start_with_poll(const char *poll_idle_us)
{
	char conf[1024];

	snprintf(conf, sizeof(conf),
		 "[daemon]\nsocket = @DIR@/ringd.sock\nstate_dir = @DIR@/state\n"
		 "log_level = info\npoll_idle_us = %s\n\n"
		 "[volume v]\npath = v.img\ncreate_size = 16M\ndirect = no\n\n"
		 "[tenant root]\nuid = 0\nvolumes = v:rw\nmax_sessions = 16\n",
		 poll_idle_us);
	rt_daemon_start(&g_d, conf);
}

static void daemon_stop(void)
{
	cr_assert_eq(rt_daemon_stop(&g_d), 0);
}

/*
 * @rounds round trips of @depth requests (alternating NOPs and 4K reads),
 * sleeping a pseudo-random 0..@max_gap_us between rounds so the daemon's
 * idle poll runs out at varied moments. Returns the rounds completed.
 */
static unsigned int round_trips(unsigned int rounds, unsigned int depth, unsigned int max_gap_us,
				unsigned int seed)
{
	struct ringd_volume_info info;
	struct ringd *rd;
	unsigned int r, i;
	uint8_t *buf;
	int ret, h;

	ret = rt_connect(&g_d, 64, 128, 1u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	h = ringd_open(rd, "v", RINGD_RDONLY, &info);
	cr_assert_geq(h, 0, "open: %s", strerror(-h));
	buf = ringd_buf_alloc(rd, 4096u * depth, 4096);
	cr_assert_not_null(buf);
	srand(seed);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < depth; i++) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);

			cr_assert_not_null(sqe);
			if ((r + i) & 1)
				ringd_prep_nop(sqe);
			else
				ringd_prep_read(sqe, h, buf + 4096u * i, 4096,
						4096ull * (uint64_t)(rand() % 4096));
			ringd_sqe_set_data64(sqe, i);
		}
		ret = ringd_submit(rd);
		cr_assert_eq(ret, (int)depth, "submit: %d", ret);
		for (i = 0; i < depth; i++) {
			struct ringd_cqe *cqe;

			ret = ringd_wait_cqe_timeout(rd, &cqe, WAIT_MS);
			cr_assert_eq(ret, 0, "round %u: completion %u of %u never came: %s", r, i,
				     depth, strerror(-ret));
			cr_assert_geq(cqe->res, 0, "round %u: res %d", r, cqe->res);
			ringd_cqe_seen(rd, cqe);
		}
		if (max_gap_us)
			usleep((useconds_t)(rand() % (max_gap_us + 1)));
	}
	ringd_disconnect(rd);
	return r;
}

static int child_round_trips(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;

	return round_trips(300, 1 + seed % 8, 300, seed) == 300 ? 0 : 1;
}

static void concurrent_clients(unsigned int n)
{
	pid_t pids[16];
	unsigned int i;

	for (i = 0; i < n; i++) {
		fflush(NULL);
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (!pids[i])
			_exit(child_round_trips((void *)(uintptr_t)(i + 1)));
	}
	for (i = 0; i < n; i++)
		cr_assert_eq(rt_wait_child(pids[i]), 0, "client %u lost a completion", i);
}

static void start_poll_0(void)
{
	start_with_poll("0");
}

static void start_poll_50(void)
{
	start_with_poll("50");
}

static void start_poll_forever(void)
{
	start_with_poll("1000000");
}

Test(polling, never_polling_daemon_serves_every_round_trip, .init = start_poll_0,
     .fini = daemon_stop, .timeout = 120)
{
	cr_assert_eq(round_trips(1000, 1, 100, 1), 1000);
	cr_assert_eq(round_trips(300, 32, 100, 2), 300);
}

Test(polling, idle_poll_expiring_between_waits_loses_no_wakeup, .init = start_poll_50,
     .fini = daemon_stop, .timeout = 120)
{
	/* Gaps of 0..200 us straddle the 50 us idle poll again and again. */
	cr_assert_eq(round_trips(2000, 1, 200, 3), 2000);
	cr_assert_eq(round_trips(500, 16, 200, 4), 500);
}

Test(polling, always_polling_daemon_serves_every_round_trip, .init = start_poll_forever,
     .fini = daemon_stop, .timeout = 120)
{
	cr_assert_eq(round_trips(2000, 4, 0, 5), 2000);
}

Test(polling, concurrent_clients_lose_no_wakeup, .init = start_poll_50, .fini = daemon_stop,
     .timeout = 180)
{
	concurrent_clients(8);
}

Test(polling, concurrent_clients_without_polling_lose_no_wakeup, .init = start_poll_0,
     .fini = daemon_stop, .timeout = 180)
{
	concurrent_clients(8);
}
