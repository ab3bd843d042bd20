/* SPDX-License-Identifier: MIT */
/*
 * rg_ (layer B): every kernel ring as one object, on real io_uring. The
 * per-ring invariants ("a buffer is registered on every ring or none") are
 * checked on each kr_ring, not through rg_'s own bookkeeping.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "rings.h"
#include "tags.h"
#include "unit_util.h"

#define NBUFS 4u

static struct rings g_rg;
static bool g_rg_up;
static void *g_mem;
static const size_t g_memlen = 64u << 10;

static void setup(void)
{
	struct rg_params p = ut_rg_params(NBUFS);
	int ret;

	log_threshold = LOG_WARN;
	g_mem = mmap(NULL, g_memlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(g_mem, MAP_FAILED);
	ret = rg_init(&g_rg, &p);
	if (ret == -EPERM || ret == -ENOSYS)
		cr_skip_test("io_uring is not available here: %s", strerror(-ret));
	cr_assert_eq(ret, 0, "rg_init: %s", strerror(-ret));
	g_rg_up = true;
}

static void teardown(void)
{
	if (g_rg_up)
		rg_fini(&g_rg);
	g_rg_up = false;
	munmap(g_mem, g_memlen);
}

/* The passthrough ring (SQE128/CQE32) or the IOPOLL ring, or a skip. */
static void ensure(enum rg_which w)
{
	int ret = rg_ensure(&g_rg, w);

	if (ret == -EINVAL || ret == -EOPNOTSUPP)
		cr_skip_test("ring %d cannot be created on this kernel: %s", w, strerror(-ret));
	cr_assert_eq(ret, 0, "rg_ensure(%d): %s", w, strerror(-ret));
	cr_assert(g_rg.ready[w]);
}

/* Every ring that exists holds exactly @n buffers. */
static void assert_bufs_everywhere(unsigned int n)
{
	int w;

	for (w = 0; w < RG_COUNT; w++)
		if (g_rg.ready[w])
			cr_assert_eq(g_rg.kr[w].bufs_used, n, "ring %d holds %u buffers, not %u", w,
				     g_rg.kr[w].bufs_used, n);
	cr_assert_eq(rg_bufs_registered(&g_rg), n);
}

/* Wait for and reap one completion tagged @tag (others are dropped). */
static struct kr_cqe reap_tag(uint64_t tag)
{
	struct kr_cqe c[8];
	unsigned int n, i;
	int round;

	for (round = 0; round < 50; round++) {
		rg_wait(&g_rg, true, 100 * 1000000ull);
		n = rg_reap(&g_rg, c, 8);
		for (i = 0; i < n; i++)
			if (c[i].tag == tag)
				return c[i];
	}
	cr_assert_fail("no completion with tag %#llx", (unsigned long long)tag);
	return c[0];
}

TestSuite(rings, .init = setup, .fini = teardown, .timeout = 10);

Test(rings, init_makes_main_ring_and_liveness_pipe)
{
	cr_assert(g_rg.ready[RG_MAIN]);
	cr_assert_not(g_rg.ready[RG_POLL]);
	cr_assert_not(g_rg.ready[RG_PT]);
	cr_assert_geq(g_rg.live_rd, 0);
	cr_assert_geq(g_rg.live_wr, 0);
	/* The liveness pipe's write end sits in the slot after the volumes. */
	cr_assert_eq(rg_files_registered(&g_rg), 1);
	cr_assert_eq(g_rg.pt_efd, -1);
}

Test(rings, passthrough_ring_is_big_and_seeded_with_the_pipe)
{
	ensure(RG_PT);
	cr_assert(g_rg.kr[RG_PT].flags & KR_BIG, "passthrough ring without SQE128/CQE32");
	cr_assert_not(g_rg.kr[RG_PT].flags & KR_IOPOLL);
	cr_assert_eq(g_rg.kr[RG_PT].files_used, 1, "liveness pipe missing on the PT ring");
	cr_assert_geq(g_rg.pt_efd, 0);
	/* Idempotent. */
	cr_assert_eq(rg_ensure(&g_rg, RG_PT), 0);
}

Test(rings, iopoll_ring_can_be_created)
{
	ensure(RG_POLL);
	cr_assert(g_rg.kr[RG_POLL].flags & KR_IOPOLL);
	cr_assert(g_rg.kr[RG_POLL].flags & KR_BIG);
	cr_assert_eq(g_rg.kr[RG_POLL].files_used, 1);
}

Test(rings, buf_set_and_clear_act_on_every_ring)
{
	ensure(RG_PT);
	ensure(RG_POLL);
	cr_assert_eq(rg_buf_set(&g_rg, 1, g_mem, g_memlen), 0);
	assert_bufs_everywhere(1);
	cr_assert_eq(g_rg.nbufs, 1);
	cr_assert_eq(rg_buf_set(&g_rg, 3, (char *)g_mem + 4096, 4096), 0);
	assert_bufs_everywhere(2);
	/*
	 * Issue 9 defect 8: a broken session's buffer was unregistered on the
	 * main ring only, so the other rings kept a registration of memory
	 * about to be unmapped.
	 */
	cr_assert_eq(rg_buf_clear(&g_rg, 1), 0);
	assert_bufs_everywhere(1);
	cr_assert_null(g_rg.bufs[1].base);
	cr_assert_eq(rg_buf_clear(&g_rg, 3), 0);
	assert_bufs_everywhere(0);
	cr_assert_eq(g_rg.nbufs, 0);
}

Test(rings, ring_created_later_is_seeded_with_registered_buffers)
{
	cr_assert_eq(rg_buf_set(&g_rg, 0, g_mem, g_memlen), 0);
	cr_assert_eq(rg_buf_set(&g_rg, 2, g_mem, 8192), 0);
	cr_assert_eq(rg_buf_clear(&g_rg, 2), 0);
	ensure(RG_PT);
	/* Slot 0 only: what was cleared before is not resurrected. */
	assert_bufs_everywhere(1);
	ensure(RG_POLL);
	assert_bufs_everywhere(1);
	cr_assert_eq(rg_buf_clear(&g_rg, 0), 0);
	assert_bufs_everywhere(0);
}

Test(rings, buf_slot_out_of_range_is_refused)
{
	cr_assert_eq(rg_buf_set(&g_rg, NBUFS, g_mem, 4096), -EINVAL);
	cr_assert_eq(rg_buf_clear(&g_rg, NBUFS), -EINVAL);
	cr_assert_eq(rg_buf_clear(&g_rg, UINT32_MAX), -EINVAL);
	assert_bufs_everywhere(0);
}

Test(rings, file_set_checks_ring_and_slot)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	/* A ring that does not exist yet, a slot past the volumes. */
	cr_assert_eq(rg_file_set(&g_rg, RG_PT, 0, fd), -EINVAL);
	cr_assert_eq(rg_file_set(&g_rg, RG_MAIN, g_rg.p.nr_files, fd), -EINVAL);
	cr_assert_eq(rg_file_set(&g_rg, RG_MAIN, 2, fd), 0);
	cr_assert_eq(rg_files_registered(&g_rg), 2);
	cr_assert_eq(rg_file_set(&g_rg, RG_MAIN, 2, -1), 0);
	cr_assert_eq(rg_files_registered(&g_rg), 1);
	close(fd);
}

Test(rings, nop_round_trip_on_main_ring)
{
	uint64_t tag = srv_tag(TAG_IO, 7);
	struct kr_cqe c;

	cr_assert_eq(rg_sq_reserve(&g_rg, RG_MAIN), 0);
	cr_assert_eq(kr_queue_nop(rg_ring(&g_rg, RG_MAIN), tag), 0);
	c = reap_tag(tag);
	cr_assert_eq(c.res, 0);
}

/*
 * A request kr_queue_async() marks carries IOSQE_ASYNC, which the ring's
 * restrictions let through (a flag they do not allow fails the request
 * with -EACCES), and completes as any other (H52).
 */
Test(rings, a_request_queued_async_passes_the_restrictions)
{
	uint64_t tag = srv_tag(TAG_IO, 8);
	struct kr_ring *kr = rg_ring(&g_rg, RG_MAIN);
	struct kr_cqe c;

	cr_assert_eq(rg_sq_reserve(&g_rg, RG_MAIN), 0);
	cr_assert_eq(kr_queue_nop(kr, tag), 0);
	kr_queue_async(kr);
	cr_assert(kr->last->flags & IOSQE_ASYNC);
	c = reap_tag(tag);
	cr_assert_eq(c.res, 0, "an IOSQE_ASYNC NOP: %s", strerror(-c.res));
	cr_assert_null(kr->last, "a submitted SQE is not ours to change");
}

Test(rings, passthrough_ring_wakes_the_main_ring)
{
	uint64_t tag = srv_tag(TAG_IO, 9);
	bool woke = false, done = false;
	struct kr_cqe c[8];
	unsigned int n, i;
	int round;

	ensure(RG_PT);
	cr_assert_eq(kr_queue_nop(rg_ring(&g_rg, RG_PT), tag), 0);
	/* rg_wait blocks on the main ring only: the PT ring's eventfd poll
	 * (armed there by rg_ensure) is what ends the wait. */
	for (round = 0; round < 50 && !(woke && done); round++) {
		rg_wait(&g_rg, true, 100 * 1000000ull);
		n = rg_reap(&g_rg, c, 8);
		for (i = 0; i < n; i++) {
			if (c[i].tag == g_rg.p.pt_event_tag) {
				cr_assert_gt(c[i].res, 0, "eventfd poll: %d", c[i].res);
				woke = true;
			} else if (c[i].tag == tag) {
				cr_assert_eq(c[i].res, 0);
				done = true;
			}
		}
	}
	cr_assert(woke, "the passthrough eventfd poll did not fire");
	cr_assert(done, "the passthrough NOP was not reaped");
}

Test(rings, poll_arm_fire_and_remove)
{
	uint64_t tag = srv_tag(TAG_CTRL, 3), rm = srv_tag(TAG_POLLRM, 3 << 1);
	struct kr_cqe c[8];
	bool saw_rm = false, saw_end = false;
	int p[2], round;
	unsigned int n, i;

	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	cr_assert_eq(rg_arm_poll(&g_rg, p[0], tag), 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	c[0] = reap_tag(tag);
	cr_assert(c[0].res & POLLIN);
	cr_assert(kr_poll_more(&c[0]), "a multishot poll stays armed");
	cr_assert_eq(rg_remove_poll(&g_rg, tag, rm), 0);
	for (round = 0; round < 50 && !(saw_rm && saw_end); round++) {
		rg_wait(&g_rg, true, 100 * 1000000ull);
		n = rg_reap(&g_rg, c, 8);
		for (i = 0; i < n; i++) {
			if (c[i].tag == rm) {
				cr_assert_eq(c[i].res, 0, "poll removal: %d", c[i].res);
				saw_rm = true;
			} else if (c[i].tag == tag && !kr_poll_more(&c[i])) {
				saw_end = true;
			}
		}
	}
	cr_assert(saw_rm && saw_end, "removal %d, final poll CQE %d", saw_rm, saw_end);
	close(p[0]);
	close(p[1]);
}

Test(rings, liveness_pipe_sees_eof_once_every_ring_is_gone)
{
	struct pollfd pfd;
	char b;
	int rd, ret;

	ensure(RG_PT);
	rd = dup(g_rg.live_rd);
	cr_assert_geq(rd, 0);
	pfd.fd = rd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 0), 0, "EOF while the rings still exist");
	rg_fini(&g_rg);
	g_rg_up = false;
	/* The kernel drops a ring's file table asynchronously. */
	ret = poll(&pfd, 1, 3000);
	cr_assert_eq(ret, 1, "no EOF within 3 s of rg_fini");
	cr_assert_eq(read(rd, &b, 1), 0);
	close(rd);
}
