/* SPDX-License-Identifier: MIT */
/*
 * Processes that die: a tenant killed with I/O in flight costs the daemon
 * nothing (another client keeps being served, fds and registered buffers
 * return to their baseline), and a client whose daemon dies gets
 * -ENOTCONN from every call instead of hanging.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "it.h"

static struct rt_daemon g_d;
static struct ringd *g_rd;

static const char conf[] = "[volume direct]\n"
			   "path = direct.img\n"
			   "create_size = 64M\n"
			   "direct = yes\n"
			   "\n"
			   "[volume buf]\n"
			   "path = buf.img\n"
			   "create_size = 4M\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = buf:rw\n"
			   "\n"
			   "[tenant a]\n"
			   "uid = 61001\n"
			   "volumes = direct:rw\n";

static void setup(void)
{
	int ret;

	rt_daemon_start(&g_d, conf);
	/* These tests assert -ENOTCONN when the daemon dies: no auto-reconnect. */
	ret = rt_connect_flags(&g_d, 32, 64, 1u << 20, RINGD_OPT_NO_RECONNECT, &g_rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
}

static void teardown(void)
{
	ringd_disconnect(g_rd);
	g_rd = NULL;
	it_stop(&g_d);
}

/* The surviving client: 8 writes then 8 reads on its own volume, verified. */
static void survivor_roundtrip(int h, void **bufs, uint64_t seed)
{
	struct ringd_cqe *cqe;
	unsigned int i;
	int ret;

	for (i = 0; i < 8; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(g_rd);

		cr_assert_not_null(sqe);
		rt_fill(bufs[i], 4096, seed, i * 4096);
		ringd_prep_write(sqe, h, bufs[i], 4096, i * 4096);
		ringd_sqe_set_data64(sqe, i);
	}
	cr_assert_eq(ringd_submit_and_wait(g_rd, 8), 8);
	for (i = 0; i < 8; i++) {
		ret = ringd_wait_cqe(g_rd, &cqe);
		cr_assert_eq(ret, 0, "survivor wait: %s", strerror(-ret));
		cr_assert_eq(cqe->res, 4096, "survivor write: %d", cqe->res);
		ringd_cqe_seen(g_rd, cqe);
	}
	for (i = 0; i < 8; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(g_rd);

		memset(bufs[i], 0, 4096);
		ringd_prep_read(sqe, h, bufs[i], 4096, i * 4096);
		ringd_sqe_set_data64(sqe, i);
	}
	cr_assert_eq(ringd_submit_and_wait(g_rd, 8), 8);
	for (i = 0; i < 8; i++) {
		uint64_t k;

		cr_assert_eq(ringd_wait_cqe(g_rd, &cqe), 0);
		cr_assert_eq(cqe->res, 4096);
		k = cqe->user_data;
		ringd_cqe_seen(g_rd, cqe);
		cr_assert_eq(rt_check(bufs[k], 4096, seed, k * 4096), -1, "survivor data");
	}
}

/* In the child: keep 16 direct 1M writes in flight forever; tell the
 * parent (one byte on @arg's pipe) once the first batch is submitted. */
static int victim_main(void *arg)
{
	int fd = *(int *)arg;
	struct ringd_cqe *cqe;
	struct ringd *rd;
	void *bufs[16];
	unsigned int i, n = 0;
	int h;

	if (rt_connect(&g_d, 16, 32, 17u << 20, &rd))
		return 2;
	h = ringd_open(rd, "direct", RINGD_RDWR, NULL);
	if (h < 0)
		return 3;
	for (i = 0; i < 16; i++) {
		bufs[i] = ringd_buf_alloc(rd, 1u << 20, 4096);
		if (!bufs[i])
			return 4;
		memset(bufs[i], 0x77, 1u << 20);
	}
	for (i = 0; i < 16; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		ringd_prep_write(sqe, h, bufs[i], 1u << 20, (uint64_t)(n++ % 64) << 20);
		ringd_sqe_set_data64(sqe, i);
	}
	if (ringd_submit(rd) != 16 || write(fd, "x", 1) != 1)
		return 5;
	for (;;) {
		struct ringd_sqe *sqe;

		if (ringd_wait_cqe(rd, &cqe))
			return 6;
		i = (unsigned int)cqe->user_data;
		ringd_cqe_seen(rd, cqe);
		sqe = ringd_get_sqe(rd);
		if (!sqe)
			return 7;
		ringd_prep_write(sqe, h, bufs[i % 16], 1u << 20, (uint64_t)(n++ % 64) << 20);
		ringd_sqe_set_data64(sqe, i);
		ringd_submit(rd);
	}
}

static struct rt_admin_stats admin(void)
{
	struct rt_admin_stats st;
	int ret = rt_admin_stats(&g_d, &st);

	cr_assert_eq(ret, 0, "admin stats: %s", strerror(-ret));
	return st;
}

/* The daemon's fd count once no connection is coming or going. */
static int stable_fd_count(void)
{
	int a = -1, b = -2;

	cr_assert(rt_wait_for(5000, ({
				      a = rt_count_fds(g_d.pid);
				      usleep(20000);
				      b = rt_count_fds(g_d.pid);
				      a == b;
			      })),
		  "fd count of the daemon does not settle");
	return b;
}

Test(crash, sigkill_with_io_in_flight, .init = setup, .fini = teardown)
{
	struct rt_admin_stats st;
	void *bufs[8];
	int h, base_fds, round, n;

	h = ringd_open(g_rd, "buf", RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	for (n = 0; n < 8; n++) {
		bufs[n] = ringd_buf_alloc(g_rd, 4096, 4096);
		cr_assert_not_null(bufs[n]);
	}
	survivor_roundtrip(h, bufs, 1);

	/* Baseline: our session only (plus the admin connection asking). */
	cr_assert(rt_wait_for(5000, (st = admin()).sessions == 2), "sessions: %u", st.sessions);
	cr_assert_eq(st.buffers_registered, 1);
	cr_assert_eq(st.requests_inflight, 0);
	base_fds = stable_fd_count();

	for (round = 0; round < 3; round++) {
		int pfd[2], status;
		char b;
		pid_t pid;

		cr_assert_eq(pipe(pfd), 0);
		pid = rt_fork_as(RT_UID_A, RT_UID_A, victim_main, &pfd[1]);
		cr_assert_gt(pid, 0);
		close(pfd[1]);
		n = (int)read(pfd[0], &b, 1);
		close(pfd[0]);
		if (n != 1) {
			status = rt_wait_child(pid);
			cr_assert_fail("victim failed before submitting: exit %d", status);
		}
		cr_assert(rt_wait_for(5000, (st = admin()).requests_inflight > 0),
			  "victim's I/O never seen in flight");
		cr_assert_eq(st.buffers_registered, 2);
		kill(pid, SIGKILL);
		status = rt_wait_child(pid);
		cr_assert_eq(status, 128 + SIGKILL, "victim exit %d", status);

		/* The daemon keeps serving the survivor at once. */
		survivor_roundtrip(h, bufs, 10 + (uint64_t)round);

		/* Everything the victim held comes back. */
		cr_assert(rt_wait_for(10000, ({
					      st = admin();
					      st.sessions == 2 && st.buffers_registered == 1 &&
						  st.requests_inflight == 0;
				      })),
			  "round %d: sessions %u, buffers %u, in flight %u", round, st.sessions,
			  st.buffers_registered, st.requests_inflight);
		cr_assert(rt_wait_for(5000, (n = rt_count_fds(g_d.pid)) <= base_fds),
			  "round %d: daemon holds %d fds, baseline %d", round, n, base_fds);
	}
	survivor_roundtrip(h, bufs, 99);
}

struct stage {
	int stage; /* 0: connected, no Hello; 1: attached; 2: volume open */
	int fd;	   /* pipe to tell the parent we got there */
};

/* In the child: get to @arg's stage, tell the parent, and wait to be killed. */
static int die_at_stage(void *arg)
{
	const struct stage *s = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ringd *rd;
	int fd;

	if (s->stage == 0) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_d.sock);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 2;
	} else {
		if (rt_connect(&g_d, 0, 0, 1u << 20, &rd))
			return 3;
		if (s->stage == 2 && ringd_open(rd, "direct", RINGD_RDWR, NULL) < 0)
			return 4;
	}
	if (write(s->fd, "x", 1) != 1)
		return 5;
	for (;;)
		pause();
}

Test(crash, sigkill_at_each_session_stage, .init = setup, .fini = teardown)
{
	struct rt_admin_stats st;
	int base_fds, stage, n;

	cr_assert(rt_wait_for(5000, (st = admin()).sessions == 2), "sessions: %u", st.sessions);
	base_fds = stable_fd_count();
	for (stage = 0; stage < 3; stage++) {
		struct stage s = { .stage = stage };
		int pfd[2], status;
		char b;
		pid_t pid;

		cr_assert_eq(pipe(pfd), 0);
		s.fd = pfd[1];
		pid = rt_fork_as(RT_UID_A, RT_UID_A, die_at_stage, &s);
		cr_assert_gt(pid, 0);
		close(pfd[1]);
		n = (int)read(pfd[0], &b, 1);
		close(pfd[0]);
		if (n != 1) {
			status = rt_wait_child(pid);
			cr_assert_fail("stage %d: child failed: exit %d", stage, status);
		}
		kill(pid, SIGKILL);
		cr_assert_eq(rt_wait_child(pid), 128 + SIGKILL);
		cr_assert(rt_wait_for(10000, ({
					      st = admin();
					      st.sessions == 2 && st.buffers_registered == 1;
				      })),
			  "stage %d: sessions %u, buffers %u", stage, st.sessions,
			  st.buffers_registered);
		cr_assert(rt_wait_for(5000, (n = rt_count_fds(g_d.pid)) <= base_fds),
			  "stage %d: daemon holds %d fds, baseline %d", stage, n, base_fds);
	}
	/* And the daemon still serves. */
	{
		struct ringd_sqe *sqe = ringd_get_sqe(g_rd);

		ringd_prep_nop(sqe);
		cr_assert_eq(it_run1(g_rd, sqe, 3), 0);
	}
}

Test(crash, daemon_death_gives_enotconn, .init = setup, .fini = teardown, .timeout = 30)
{
	struct ringd_sqe *sqe;
	struct ringd_cqe *cqe;
	struct ringd_stats rs;
	int h, ret;

	h = ringd_open(g_rd, "buf", RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	sqe = ringd_get_sqe(g_rd);
	ringd_prep_nop(sqe);
	cr_assert_eq(it_run1(g_rd, sqe, 1), 0);

	kill(g_d.pid, SIGKILL);
	cr_assert_eq(waitpid(g_d.pid, NULL, 0), g_d.pid);
	g_d.pid = -1;

	/* A waiter notices at once instead of sleeping forever. */
	sqe = ringd_get_sqe(g_rd);
	cr_assert_not_null(sqe);
	ringd_prep_nop(sqe);
	ret = ringd_submit(g_rd);
	cr_assert(ret == 1 || ret == -ENOTCONN, "submit: %d", ret);
	cr_assert_eq(ringd_wait_cqe(g_rd, &cqe), -ENOTCONN);
	cr_assert_eq(ringd_wait_cqe_timeout(g_rd, &cqe, 100000), -ENOTCONN);
	cr_assert_eq(ringd_submit_and_wait(g_rd, 1), -ENOTCONN);
	cr_assert_eq(ringd_submit(g_rd), -ENOTCONN);
	cr_assert_eq(ringd_peek_cqe(g_rd, &cqe), -ENOTCONN);
	cr_assert_eq(ringd_open(g_rd, "buf", RINGD_RDONLY, NULL), -ENOTCONN);
	cr_assert_eq(ringd_close(g_rd, h), -ENOTCONN);
	cr_assert_eq(ringd_stats(g_rd, &rs), -ENOTCONN);
}

Test(crash, control_calls_after_daemon_death_give_enotconn, .init = setup, .fini = teardown,
     .timeout = 30)
{
	struct ringd_stats rs;
	struct ringd_cqe *cqe;

	kill(g_d.pid, SIGKILL);
	cr_assert_eq(waitpid(g_d.pid, NULL, 0), g_d.pid);
	g_d.pid = -1;
	/* The first call after the death is a control call this time. */
	cr_assert_eq(ringd_stats(g_rd, &rs), -ENOTCONN);
	cr_assert_eq(ringd_open(g_rd, "buf", RINGD_RDONLY, NULL), -ENOTCONN);
	cr_assert_eq(ringd_wait_cqe(g_rd, &cqe), -ENOTCONN);
}

Test(crash, waiter_wakes_with_enotconn_when_daemon_dies, .init = setup, .fini = teardown,
     .timeout = 30)
{
	struct ringd_cqe *cqe;
	pid_t killer, daemon = g_d.pid;
	int ret;

	/* The daemon dies while we are asleep in the wait, not before it. */
	killer = fork();
	cr_assert_geq(killer, 0);
	if (killer == 0) {
		usleep(200000);
		kill(daemon, SIGKILL);
		_exit(0);
	}
	ret = ringd_wait_cqe_timeout(g_rd, &cqe, 20000);
	cr_assert_eq(ret, -ENOTCONN, "wait across the daemon's death: %d", ret);
	cr_assert_eq(rt_wait_child(killer), 0);
	cr_assert_eq(waitpid(daemon, NULL, 0), daemon);
	g_d.pid = -1;
	cr_assert_eq(ringd_wait_cqe(g_rd, &cqe), -ENOTCONN);
}
