/* SPDX-License-Identifier: MIT */
/*
 * libringd's layer 0 alone: ring.c and buf.c, linked without the layers
 * above (a call up from them would not link). The test plays the daemon on
 * a region in a memfd; there is no daemon and no control socket.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "client_region.h"
#include "ring.h"

#define SQ 8u
#define CQ 16u

static struct test_region g_reg;
static struct rg_ring g_r;
static int g_peer = -1; /* the daemon's end of the doorbell */

/* Indices start just below 2^32, so every test crosses the wrap. */
static void ring_setup(void)
{
	struct rg_layout l;
	int sv[2];

	test_layout(SQ, CQ, 64u << 10, &l);
	cr_assert_eq(test_region_create(&l, UINT32_MAX - 4, &g_reg), 0);
	memset(&g_r, 0, sizeof(g_r));
	rg_map(&g_r, g_reg.base, &l);
	cr_assert_eq(rg_tables_init(&g_r), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	g_r.wake_fd = sv[0];
	g_peer = sv[1];
	g_r.spin_us = 10;
}

static void ring_teardown(void)
{
	rg_tables_fini(&g_r);
	close(g_r.wake_fd);
	close(g_peer);
	test_region_destroy(&g_reg);
}

/* Bytes the doorbell carried so far (non-blocking). */
static int doorbell_rings(void)
{
	char b[16];
	int n = 0;

	while (recv(g_peer, b, sizeof(b), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

TestSuite(client_ring, .init = ring_setup, .fini = ring_teardown);

Test(client_ring, map_adopts_the_headers_indices)
{
	cr_assert_eq(g_r.sq_tail, UINT32_MAX - 4);
	cr_assert_eq(g_r.sq_published, UINT32_MAX - 4);
	cr_assert_eq(g_r.cq_head, UINT32_MAX - 4);
	cr_assert_eq((void *)g_r.data, (void *)test_region_data(&g_reg));
	cr_assert_eq(g_r.data_size, 64u << 10);
	cr_assert_eq(rg_state(&g_r), 0);
	cr_assert_eq(rg_cq_ready(&g_r), 0);
}

Test(client_ring, get_sqe_stops_at_a_full_sq_until_the_daemon_takes_some)
{
	struct ringd_sqe *sqe;
	unsigned int i;

	for (i = 0; i < SQ; i++) {
		sqe = rg_get_sqe(&g_r);
		cr_assert_not_null(sqe, "SQE %u of %u", i, SQ);
		for (unsigned int b = 0; b < sizeof(*sqe); b++)
			cr_assert_eq(((uint8_t *)sqe)[b], 0, "SQE %u is not zeroed", i);
		sqe->opcode = RINGD_OP_NOP;
		sqe->user_data = 1000 + i;
	}
	cr_assert_null(rg_get_sqe(&g_r), "a ninth SQE in an SQ of 8");
	/* Not published yet: the daemon sees nothing. */
	cr_assert_eq(g_reg.hdr->sq_tail, UINT32_MAX - 4);
	cr_assert_eq(rg_submit(&g_r), (int)SQ);
	cr_assert_eq(g_reg.hdr->sq_tail, (uint32_t)(UINT32_MAX - 4 + SQ));
	cr_assert_null(rg_get_sqe(&g_r), "published is not consumed");
	cr_assert_eq(test_region_consume(&g_reg), SQ);
	cr_assert_not_null(rg_get_sqe(&g_r));
}

Test(client_ring, submit_tags_translates_and_publishes)
{
	uint8_t *buf = g_r.data + 4096;
	struct ringd_sqe *sqe, *ring_sqes = test_region_sqes(&g_reg);
	uint32_t *sq_array = test_region_sq_array(&g_reg), idx;

	g_r.handles[3] = (struct rg_handle){ .name = "v", .dh = 42, .open = true };
	sqe = rg_get_sqe(&g_r);
	sqe->opcode = RINGD_OP_READ;
	sqe->handle = 3;
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->len = 512;
	sqe->user_data = 0xdead;
	sqe = rg_get_sqe(&g_r);
	sqe->opcode = RINGD_OP_WRITE;
	sqe->handle = 5; /* not open */
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->user_data = 0xbeef;
	sqe = rg_get_sqe(&g_r);
	sqe->opcode = RINGD_OP_NOP;
	sqe->handle = 77; /* a NOP keeps what it has */
	sqe->user_data = 0xf00d;
	cr_assert_eq(rg_submit(&g_r), 3);

	idx = (UINT32_MAX - 4) & (SQ - 1);
	cr_assert_eq(sq_array[idx], idx);
	cr_assert_eq(ring_sqes[idx].handle, 42, "open handle -> the daemon's");
	cr_assert_eq(ring_sqes[idx].addr, 4096, "pointer -> data-area offset");
	cr_assert_lt(ring_sqes[idx].user_data, g_r.nreqs, "the ring carries a tag");
	idx = (idx + 1) & (SQ - 1);
	cr_assert_eq(ring_sqes[idx].handle, -1, "a handle that is not open -> -1");
	idx = (idx + 1) & (SQ - 1);
	cr_assert_eq(ring_sqes[idx].handle, 77);
	cr_assert_eq(g_r.reqs_busy, 3);
	cr_assert_eq(rg_submit(&g_r), 0, "nothing new");
}

Test(client_ring, completions_come_back_with_user_data_and_unknown_tags_are_dropped)
{
	struct ringd_sqe *ring_sqes = test_region_sqes(&g_reg);
	struct ringd_cqe *cqe, batch[4];
	uint64_t tag0, tag1;
	uint32_t first = UINT32_MAX - 4;

	for (int i = 0; i < 2; i++) {
		struct ringd_sqe *sqe = rg_get_sqe(&g_r);

		sqe->opcode = RINGD_OP_NOP;
		sqe->user_data = 100 + (uint64_t)i;
	}
	cr_assert_eq(rg_submit(&g_r), 2);
	tag0 = ring_sqes[first & (SQ - 1)].user_data;
	tag1 = ring_sqes[(first + 1) & (SQ - 1)].user_data;
	test_region_consume(&g_reg);

	cr_assert_null(rg_next_cqe(&g_r));
	test_region_post(&g_reg, tag1, 7);
	test_region_post(&g_reg, tag1, 8); /* a duplicate: dropped */
	test_region_post(&g_reg, tag0, 9);
	cr_assert_eq(rg_cq_ready(&g_r), 3);
	cqe = rg_next_cqe(&g_r);
	cr_assert_not_null(cqe);
	cr_assert_eq(cqe->user_data, 101);
	cr_assert_eq(cqe->res, 7);
	cr_assert_eq(rg_next_cqe(&g_r), cqe, "peeking twice is the same CQE");
	rg_cq_advance(&g_r, 1);
	cr_assert_eq(g_reg.hdr->cq_head, first + 1, "the CQ head is published");
	cr_assert_eq(rg_peek_batch(&g_r, batch, 4), 1);
	cr_assert_eq(batch[0].user_data, 100);
	cr_assert_eq(batch[0].res, 9);
	cr_assert_eq(g_reg.hdr->cq_head, first + 3, "the duplicate was consumed too");
	cr_assert_eq(g_r.reqs_busy, 0);
}

Test(client_ring, doorbell_rings_only_when_the_daemon_sleeps)
{
	rg_get_sqe(&g_r)->opcode = RINGD_OP_NOP;
	cr_assert_eq(rg_submit(&g_r), 1);
	cr_assert_eq(doorbell_rings(), 0, "awake daemon: no syscall");
	g_reg.hdr->sq_flags = RINGD_SQ_NEED_WAKEUP;
	rg_get_sqe(&g_r)->opcode = RINGD_OP_NOP;
	cr_assert_eq(rg_submit(&g_r), 1);
	cr_assert_eq(doorbell_rings(), 1);
	test_region_consume(&g_reg);
	rg_publish(&g_r);
	cr_assert_eq(doorbell_rings(), 0, "asleep but nothing left to read");
	cr_assert_not(g_r.dead);
}

Test(client_ring, wait_returns_ready_times_out_or_reports_the_state)
{
	struct ringd_sqe *ring_sqes = test_region_sqes(&g_reg);
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(rg_wait(&g_r, sv[0], 1, 0), -ETIME);
	cr_assert_eq(g_reg.hdr->cq_flags & RINGD_CQ_WAITING, 0, "flag left set");

	rg_get_sqe(&g_r)->opcode = RINGD_OP_NOP;
	rg_submit(&g_r);
	test_region_consume(&g_reg);
	test_region_post(&g_reg, ring_sqes[(UINT32_MAX - 4) & (SQ - 1)].user_data, 0);
	cr_assert_eq(rg_wait(&g_r, sv[0], 1, UINT64_MAX), 0);

	/* A hang-up of the control socket while asleep: the daemon is gone. */
	close(sv[1]);
	cr_assert_eq(rg_wait(&g_r, sv[0], 2, UINT64_MAX), -ENOTCONN);
	cr_assert(g_r.dead);
	cr_assert_eq(rg_state(&g_r), -ENOTCONN);
	close(sv[0]);

	g_r.dead = false;
	g_reg.hdr->broken_reason = RINGD_BROKEN_STALL;
	cr_assert_eq(rg_wait(&g_r, -1, 2, UINT64_MAX), -EPIPE);
	cr_assert_eq(rg_broken_reason(&g_r), RINGD_BROKEN_STALL);
}

/* Pin this (forked, per-test) process to the CPU it is on; returns that CPU. */
static int pin_here(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	cr_assert_geq(cpu, 0);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	return cpu;
}

/* A wait for a completion that never comes, spinning until the deadline. */
static void wait_out(unsigned int us)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	g_r.spin_us = us;
	cr_assert_eq(rg_wait(&g_r, sv[0], 1, clk_now_us() + us), -ETIME);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A spin that lost its CPU for a while yields between checks for the
 * next waits (64) in case it shares the core. Yields that come straight
 * back (16 in a row) found no one to yield to (the gap was the host's or
 * an interrupt's): the client spins again at once instead of making a
 * syscall per check for 64 waits, which cost a pinned plain loop 10-15 %
 * of its reads in the rounds it happened. Next to a busy process on its
 * CPU it keeps yielding. One test, so that Criterion never runs the busy
 * neighbour next to the part that wants its CPU alone; that part tries up
 * to five times, in case something else ran on the CPU meanwhile.
 */
Test(client_ring, a_spin_yields_only_while_its_cpu_is_shared)
{
	pid_t child;
	int i, st;

	pin_here();
	for (i = 0; i < 5; i++) {
		g_r.contended = 64;
		wait_out(500);
		if (!g_r.contended)
			break;
		usleep(20000);
	}
	cr_assert_eq(g_r.contended, 0,
		     "alone on its CPU, still yielding after five tries (%u waits left)",
		     g_r.contended);

	child = fork();
	cr_assert_geq(child, 0);
	if (!child)
		for (;;)
			; /* the neighbour, on the same CPU (inherited affinity) */
	usleep(10000);
	g_r.contended = 64;
	wait_out(5000);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	cr_assert_gt(g_r.contended, 0, "stopped yielding to a busy neighbour");
}

/*
 * A wait on a ring that usually sees progress within half of spin_us
 * rides out a hiccup of up to four times spin_us before it sleeps; one
 * whose progress is slow sleeps after spin_us. A wait that sleeps rings
 * the doorbell for the SQE the sleeping daemon has not taken: the ring
 * shows which one it did.
 */
Test(client_ring, a_spin_rides_out_a_hiccup_only_where_progress_is_fast)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	rg_get_sqe(&g_r)->opcode = RINGD_OP_NOP;
	cr_assert_eq(rg_submit(&g_r), 1);
	g_reg.hdr->sq_flags = RINGD_SQ_NEED_WAKEUP;
	g_r.spin_us = 2000;

	/* Progress usually within 100 us: a 6 ms gap (3 x spin_us) is spun. */
	g_r.spin_typ_us = 100;
	cr_assert_eq(rg_wait(&g_r, sv[0], 1, clk_now_us() + 6000), -ETIME);
	cr_assert_eq(doorbell_rings(), 0, "slept in a hiccup of a fast ring");
	/* That long spin counts (time off the CPU does not). */
	cr_assert_gt(g_r.spin_typ_us, 100, "average %u us", g_r.spin_typ_us);

	/* Progress usually after 2 ms: the wait sleeps after spin_us (of
	 * spinning: on a busy CPU that takes longer than 2 ms). */
	g_r.spin_typ_us = 2000;
	cr_assert_eq(rg_wait(&g_r, sv[0], 1, clk_now_us() + 100000), -ETIME);
	cr_assert_geq(doorbell_rings(), 1, "a slow ring spun past spin_us");
	close(sv[0]);
	close(sv[1]);
}

Test(client_ring, stash_keeps_completions_and_requeue_reuses_tags)
{
	struct ringd_sqe *ring_sqes = test_region_sqes(&g_reg), *prep;
	uint32_t first = UINT32_MAX - 4, idx;
	struct ringd_cqe *cqe;
	uint64_t tag0, tag1;

	g_r.handles[0] = (struct rg_handle){ .name = "v", .dh = 10, .open = true };
	for (int i = 0; i < 2; i++) {
		struct ringd_sqe *sqe = rg_get_sqe(&g_r);

		sqe->opcode = RINGD_OP_FSYNC;
		sqe->handle = 0;
		sqe->user_data = 200 + (uint64_t)i;
	}
	rg_submit(&g_r);
	tag0 = ring_sqes[first & (SQ - 1)].user_data;
	tag1 = ring_sqes[(first + 1) & (SQ - 1)].user_data;
	rg_get_sqe(&g_r)->user_data = 300; /* prepared, not submitted */
	test_region_consume(&g_reg);
	test_region_post(&g_reg, tag0, 5);

	cr_assert_eq(rg_copy_prepared(&g_r, &prep), 1);
	cr_assert_eq(prep[0].user_data, 300);
	rg_stash_completions(&g_r);
	cr_assert_eq(g_reg.hdr->cq_head, first, "an abandoned ring's CQ head is not stored");

	/* "New session": the handle now means 11 to the daemon. */
	g_r.handles[0].dh = 11;
	g_reg.hdr->cq_head = g_reg.hdr->cq_tail;
	rg_load_indices(&g_r);
	cr_assert_eq(rg_requeue(&g_r, (uint32_t)tag1), 0);
	cr_assert_eq(rg_place(&g_r, &prep[0]), 0);
	free(prep);
	rg_publish(&g_r);
	idx = g_reg.hdr->sq_head & (SQ - 1);
	cr_assert_eq(g_reg.hdr->sq_tail, g_reg.hdr->sq_head + 2);
	cr_assert_eq(ring_sqes[idx].user_data, tag1, "same tag");
	cr_assert_eq(ring_sqes[idx].handle, 11, "the daemon's new handle");
	cr_assert_eq(ring_sqes[(idx + 1) & (SQ - 1)].user_data, 300, "prepared SQE verbatim");

	cqe = rg_next_cqe(&g_r);
	cr_assert_not_null(cqe, "the stashed completion comes first");
	cr_assert_eq(cqe->user_data, 200);
	cr_assert_eq(cqe->res, 5);
	rg_cq_advance(&g_r, 1);
	cr_assert_null(rg_next_cqe(&g_r));
}

Test(client_ring, handle_table)
{
	cr_assert_null(rg_handle(&g_r, 0));
	cr_assert_null(rg_handle(&g_r, -1));
	cr_assert_null(rg_handle(&g_r, RG_MAX_HANDLES));
	cr_assert_eq(rg_handle_free_slot(&g_r), 0);
	for (int i = 0; i < RG_MAX_HANDLES; i++)
		g_r.handles[i].open = true;
	cr_assert_eq(rg_handle_free_slot(&g_r), -EMFILE);
	cr_assert_eq(rg_handle(&g_r, 5), &g_r.handles[5]);
}

Test(client_ring, event_fd_mode_raises_the_flag)
{
	cr_assert_eq(rg_event_fd(&g_r), g_r.wake_fd);
	cr_assert(g_reg.hdr->cq_flags & RINGD_CQ_EVENTFD);
}

Test(client_buf, allocates_aligned_until_full_and_merges_on_free)
{
	static uint8_t area[64 << 10] __attribute__((aligned(4096)));
	struct buf_area a;
	void *p[16], *q;
	int i;

	cr_assert_eq(buf_init(&a, area, sizeof(area)), 0);
	cr_assert_null(buf_alloc(&a, 0, 0));
	cr_assert_null(buf_alloc(&a, 64, 3), "alignment not a power of two");
	q = buf_alloc(&a, 1, 0);
	cr_assert_eq((uintptr_t)q % 64, 0, "default alignment is 64");
	for (i = 0; i < 15; i++) {
		p[i] = buf_alloc(&a, 4096, 4096);
		cr_assert_not_null(p[i], "block %d", i);
		cr_assert_eq((uintptr_t)p[i] % 4096, 0);
		cr_assert_geq((uint8_t *)p[i], area);
		cr_assert_leq((uint8_t *)p[i] + 4096, area + sizeof(area));
	}
	cr_assert_null(buf_alloc(&a, 4096, 4096), "exhausted");
	buf_free(&a, q);
	for (i = 0; i < 15; i++)
		buf_free(&a, p[i]);
	buf_free(&a, area + 12345); /* not ours: ignored */
	q = buf_alloc(&a, sizeof(area), 4096);
	cr_assert_eq(q, (void *)area, "everything merged back into one extent");
	buf_fini(&a);
}
