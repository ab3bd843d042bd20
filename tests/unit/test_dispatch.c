/* SPDX-License-Identifier: MIT */
/*
 * disp_ (layer D): the data path on a real session. The test plays the
 * client by writing SQEs into the session's shared memory, and the loop by
 * reaping kernel completions and handing them to disp_complete().
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "dispatch.h"
#include "issue.h"
#include "tags.h"
#include "unit_stack.h"
#include "unit_util.h"

#define ALICE 1000u
#define BOB   1001u
#define UD    0xc0ffee0000ull

static const char g_sections[] = "[volume v0]\n"
				 "path = v0.img\n"
				 "create_size = 1M\n"
				 "poll = off\n"
				 "passthrough = off\n"
				 "\n"
				 "[tenant alice]\n"
				 "uid = 1000\n"
				 "volumes = v0:rw\n"
				 "max_inflight = 2\n"
				 "\n"
				 "[tenant bob]\n"
				 "uid = 1001\n"
				 "volumes = v0:rw\n";

static struct ut_stack g_s;
static struct disp g_d;
static struct sess *g_se;
static int g_peer = -1, g_handle;
static uint32_t g_tail; /* the client's SQ tail */

/* A session of @uid with a data area of @data_size bytes, attached, with
 * v0 open read-write. */
static struct sess *client_with(uid_t uid, uint64_t data_size, int *peer, int *handle)
{
	struct sess *se = ut_session(&g_s, uid, uid, peer);
	char err[512];
	int ret = ut_attach(&g_s, se, data_size, err, sizeof(err));

	cr_assert_eq(ret, 0, "sess_attach: %s", err);
	ret = sess_handle_open(&g_s.st, se, "v0", RINGD_RDWR, handle, err, sizeof(err));
	cr_assert_eq(ret, 0, "sess_handle_open: %s", err);
	return se;
}

/* A session of @uid, attached (64 KiB of data area), with v0 open read-write. */
static struct sess *client_as(uid_t uid, int *peer, int *handle)
{
	return client_with(uid, 64u << 10, peer, handle);
}

/* A session of alice, attached, with v0 open read-write. */
static struct sess *client(int *peer, int *handle)
{
	return client_as(ALICE, peer, handle);
}

static void setup(void)
{
	ut_stack_up(&g_s, NULL, g_sections);
	cr_assert_eq(disp_init(&g_d, &g_s.cfg, &g_s.st, &g_s.rq, &g_s.rg, &g_s.vols, &g_s.jr,
			       &g_s.use, &g_s.qos),
		     0);
	g_se = client(&g_peer, &g_handle);
	g_tail = 0;
}

static void teardown(void)
{
	ut_stack_down(&g_s);
	disp_fini(&g_d);
	if (g_peer >= 0)
		close(g_peer);
	g_peer = -1;
}

TestSuite(dispatch, .init = setup, .fini = teardown, .timeout = 10);

static struct ringd_sqe sqe(uint8_t op, int handle, uint64_t off, uint64_t addr, uint32_t len,
			    uint64_t user_data)
{
	struct ringd_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = op;
	s.handle = handle;
	s.off = off;
	s.addr = addr;
	s.len = len;
	s.user_data = user_data;
	return s;
}

/* As a client: queue @s in @se's SQ (slot = index) and publish the tail. */
static void push_to(struct sess *se, uint32_t *tail, struct ringd_sqe s)
{
	uint32_t i = *tail & (se->sq_entries - 1);

	se->sqes[i] = s;
	se->sq_array[i] = i;
	ringd_store_release(&se->hdr->sq_tail, ++*tail);
}

static void push(struct ringd_sqe s)
{
	push_to(g_se, &g_tail, s);
}

/* CQE number @n of @se, once published. */
static struct ringd_cqe cqe_of(struct sess *se, uint32_t n)
{
	cr_assert_gt(ringd_load_acquire(&se->hdr->cq_tail), n, "CQE %u not published", n);
	return se->cqes[n & (se->cq_entries - 1)];
}

/* As the loop: reap until no request is in the kernel, then publish. */
static void complete_all(void)
{
	struct kr_cqe c[16];
	unsigned int n, i;
	int round;

	for (round = 0; round < 50 && g_s.rq.inflight; round++) {
		n = ut_wait(&g_s, c, 16);
		for (i = 0; i < n; i++) {
			if (srv_tag_kind(c[i].tag) == TAG_IO)
				disp_complete(&g_d, srv_tag_idx(c[i].tag), c[i].res);
			else
				ut_route_session_poll(&g_s, &c[i]);
		}
	}
	cr_assert_eq(g_s.rq.inflight, 0, "%u requests never completed", g_s.rq.inflight);
	disp_flush(&g_d);
}

/* Whether the SQE the loop queued last on the main ring asked for a worker. */
static bool last_sqe_async(void)
{
	struct io_uring *r = &rg_ring(&g_s.rg, RG_MAIN)->ring;

	return (r->sq.sqes[(r->sq.sqe_tail - 1) & r->sq.ring_mask].flags & IOSQE_ASYNC) != 0;
}

/*
 * Push @s to @se's SQ, serve it (it must be taken), and let it complete:
 * whether the loop queued its kernel SQE IOSQE_ASYNC.
 */
static bool served_async(struct sess *se, uint32_t *tail, struct ringd_sqe s)
{
	bool async;

	push_to(se, tail, s);
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 1);
	async = last_sqe_async();
	complete_all();
	disp_flush(&g_d);
	return async;
}

Test(dispatch, nop_is_posted_after_flush)
{
	struct ringd_cqe c;
	struct kr_cqe kc[4];

	push(sqe(RINGD_OP_NOP, 0, 0, 0, 0, UD + 1));
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 1);
	cr_assert_eq(ringd_load_acquire(&g_se->hdr->sq_head), 1, "SQ head not published");
	/* Completed in order, without the kernel, but not yet published. */
	cr_assert_eq(g_s.rq.inflight, 0);
	cr_assert_eq(g_se->cq_tail, 1);
	cr_assert_eq(ringd_load_acquire(&g_se->hdr->cq_tail), 0, "published before the flush");
	disp_flush(&g_d);
	c = cqe_of(g_se, 0);
	cr_assert_eq(c.user_data, UD + 1);
	cr_assert_eq(c.res, 0);
	cr_assert_eq(g_se->stats.submitted, 1);
	cr_assert_eq(g_se->stats.completed, 1);
	/* Journal: consumption and posting both committed, record free. */
	cr_assert_eq(g_s.jr.sess[g_se->slot].sq_head, 1);
	cr_assert_eq(g_s.jr.sess[g_se->slot].cq_tail, 1);
	cr_assert_eq(g_s.jr.reqs[0].state, JR_FREE);
	/* Nothing was left for the kernel. */
	cr_assert_eq(rg_submit(&g_s.rg), 0);
	cr_assert_eq(rg_reap(&g_s.rg, kc, 4), 0);
	/* An empty SQ consumes nothing. */
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 0);
}

Test(dispatch, write_then_read_round_trips_4k)
{
	char path[PATH_MAX + 16], back[4096];
	struct ringd_cqe c;
	int fd;
	unsigned int i;

	for (i = 0; i < 4096; i++)
		g_se->data[i] = (uint8_t)(i * 7 + 3);
	push(sqe(RINGD_OP_WRITE, g_handle, 12288, 0, 4096, UD + 2));
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 1);
	/* In the kernel's hands, counted everywhere it must be. */
	cr_assert_eq(g_s.rq.inflight, 1);
	cr_assert_eq(g_se->inflight, 1);
	cr_assert_eq(use_get(&g_s.use, g_se->tenant).inflight, 1);
	cr_assert_eq(g_s.vols.inflight[0], 1);
	complete_all();
	c = cqe_of(g_se, 0);
	cr_assert_eq(c.user_data, UD + 2);
	cr_assert_eq(c.res, 4096, "write: %d", c.res);
	cr_assert_eq(g_se->inflight, 0);
	cr_assert_eq(use_get(&g_s.use, g_se->tenant).inflight, 0);
	cr_assert_eq(g_s.vols.inflight[0], 0);

	/* The bytes are in the backing file. */
	snprintf(path, sizeof(path), "%s/v0.img", g_s.dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, back, sizeof(back), 12288), (ssize_t)sizeof(back));
	close(fd);
	cr_assert_eq(memcmp(back, g_se->data, sizeof(back)), 0);

	/* And read back into another part of the data area. */
	memset(g_se->data + 8192, 0, 4096);
	push(sqe(RINGD_OP_READ, g_handle, 12288, 8192, 4096, UD + 3));
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 1);
	complete_all();
	c = cqe_of(g_se, 1);
	cr_assert_eq(c.user_data, UD + 3);
	cr_assert_eq(c.res, 4096, "read: %d", c.res);
	cr_assert_eq(memcmp(g_se->data + 8192, g_se->data, 4096), 0);
	cr_assert_eq(g_se->stats.bytes_written, 4096);
	cr_assert_eq(g_se->stats.bytes_read, 4096);
	cr_assert_eq(g_se->stats.completions_interrupt, 2);
}

/*
 * As complete_all(), but the kernel's result for the first request of op
 * @op is @fake instead (a device fault the file under v0 cannot produce).
 */
static void complete_all_faking(uint8_t op, int32_t fake)
{
	struct kr_cqe c[16];
	unsigned int n, i;
	bool faked = false;
	int round;

	for (round = 0; round < 50 && g_s.rq.inflight; round++) {
		n = ut_wait(&g_s, c, 16);
		for (i = 0; i < n; i++) {
			if (srv_tag_kind(c[i].tag) != TAG_IO) {
				ut_route_session_poll(&g_s, &c[i]);
				continue;
			}
			if (!faked && g_s.rq.r[srv_tag_idx(c[i].tag)].op == op) {
				c[i].res = fake;
				faked = true;
			}
			disp_complete(&g_d, srv_tag_idx(c[i].tag), c[i].res);
		}
	}
	cr_assert(faked, "no request of op %u reached the kernel", op);
	cr_assert_eq(g_s.rq.inflight, 0, "%u requests never completed", g_s.rq.inflight);
	disp_flush(&g_d);
}

/* Run @s on @se and return its result (CQE number *@n, counted). */
static int32_t run_on(struct sess *se, uint32_t *tail, uint32_t *n, struct ringd_sqe s,
		      int32_t fake)
{
	push_to(se, tail, s);
	cr_assert_eq(disp_consume(&g_d, se, 16), 1);
	if (fake)
		complete_all_faking(s.opcode, fake);
	else
		complete_all();
	return cqe_of(se, (*n)++).res;
}

/*
 * H17: the kernel reports a write-back error once per file description,
 * and v0 has one for every session. C, which never wrote, flushes first
 * and takes the kernel's -EIO: it gets 0, and A and B, which wrote, get
 * -EIO from their next flush although the kernel says 0 to them; told
 * once, their next flushes succeed.
 */
Test(dispatch, a_flush_failure_reaches_every_writer_and_only_them)
{
	uint32_t ta = 0, tb = 0, tc = 0, na = 0, nb = 0, nc = 0;
	struct sess *a = g_se, *b, *c;
	int pb, pc, hb, hc;

	b = client_as(BOB, &pb, &hb);
	c = client(&pc, &hc);
	cr_assert_eq(run_on(a, &ta, &na, sqe(RINGD_OP_WRITE, g_handle, 0, 0, 4096, UD + 1), 0),
		     4096);
	cr_assert_eq(run_on(b, &tb, &nb, sqe(RINGD_OP_WRITE, hb, 8192, 0, 4096, UD + 2), 0), 4096);
	cr_assert_eq(run_on(c, &tc, &nc, sqe(RINGD_OP_FSYNC, hc, 0, 0, 0, UD + 3), -EIO), 0,
		     "C never wrote: a failure on others' data is not its");
	cr_assert_eq(run_on(a, &ta, &na, sqe(RINGD_OP_FSYNC, g_handle, 0, 0, 0, UD + 4), 0), -EIO,
		     "A wrote before the failure: C's flush must not take it away");
	cr_assert_eq(run_on(b, &tb, &nb, sqe(RINGD_OP_FSYNC, hb, 0, 0, 0, UD + 5), 0), -EIO);
	cr_assert_eq(run_on(b, &tb, &nb, sqe(RINGD_OP_FSYNC, hb, 0, 0, 0, UD + 6), 0), 0,
		     "B was told: its next flush succeeds");
	cr_assert_eq(run_on(a, &ta, &na, sqe(RINGD_OP_FSYNC, g_handle, 0, 0, 0, UD + 7), 0), 0);
	/* A failed write reaches the other writers' flushes too. */
	cr_assert_eq(run_on(a, &ta, &na, sqe(RINGD_OP_WRITE, g_handle, 0, 0, 4096, UD + 8), 0),
		     4096);
	cr_assert_eq(run_on(b, &tb, &nb, sqe(RINGD_OP_WRITE, hb, 8192, 0, 4096, UD + 9), -EIO),
		     -EIO);
	cr_assert_eq(run_on(c, &tc, &nc, sqe(RINGD_OP_FSYNC, hc, 0, 0, 0, UD + 10), 0), 0);
	cr_assert_eq(run_on(a, &ta, &na, sqe(RINGD_OP_FSYNC, g_handle, 0, 0, 0, UD + 11), 0), -EIO);
	cr_assert_eq(run_on(b, &tb, &nb, sqe(RINGD_OP_FSYNC, hb, 0, 0, 0, UD + 12), 0), -EIO);
	/* Each error CQE went to the session it was meant for, once. */
	cr_assert_eq(a->stats.errors, 2);
	cr_assert_eq(b->stats.errors, 3);
	cr_assert_eq(c->stats.errors, 0);
	close(pb);
	close(pc);
}

Test(dispatch, invalid_sqes_complete_with_an_error_and_never_reach_the_kernel)
{
	static const struct {
		int handle, res;
		uint8_t op;
		uint64_t off, addr;
		uint32_t len;
	} cases[] = {
		{ 7, -EBADF, RINGD_OP_WRITE, 0, 0, 4096 },	   /* handle never opened */
		{ -1, -EBADF, RINGD_OP_READ, 0, 0, 4096 },	   /* negative handle */
		{ 0, -EINVAL, RINGD_OP_READ, 1u << 20, 0, 4096 },  /* past the extent */
		{ 0, -EFAULT, RINGD_OP_READ, 0, 64u << 10, 4096 }, /* past the data area */
		{ 0, -EOPNOTSUPP, 99, 0, 0, 0 },		   /* unknown opcode */
	};
	unsigned int i, n = sizeof(cases) / sizeof(cases[0]);

	for (i = 0; i < n; i++)
		push(sqe(cases[i].op, cases[i].handle, cases[i].off, cases[i].addr, cases[i].len,
			 UD + i));
	cr_assert_eq(disp_consume(&g_d, g_se, 16), n);
	cr_assert_eq(g_s.rq.inflight, 0);
	cr_assert_eq(g_se->inflight, 0);
	cr_assert_eq(use_get(&g_s.use, g_se->tenant).inflight, 0);
	disp_flush(&g_d);
	for (i = 0; i < n; i++) {
		struct ringd_cqe c = cqe_of(g_se, i);

		cr_assert_eq(c.user_data, UD + i);
		cr_assert_eq(c.res, cases[i].res, "case %u: %d, expected %d", i, c.res,
			     cases[i].res);
	}
	cr_assert_eq(g_se->stats.rejected, n);
	cr_assert_eq(g_se->state, SESS_ACTIVE, "a bad SQE is the client's error, not a break");
}

Test(dispatch, inflight_cap_is_backpressure)
{
	/* alice's max_inflight is 2: the third write waits in the SQ. */
	push(sqe(RINGD_OP_WRITE, g_handle, 0, 0, 4096, UD + 1));
	push(sqe(RINGD_OP_WRITE, g_handle, 4096, 0, 4096, UD + 2));
	push(sqe(RINGD_OP_WRITE, g_handle, 8192, 0, 4096, UD + 3));
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 2);
	cr_assert_eq(ringd_load_acquire(&g_se->hdr->sq_head), 2);
	cr_assert_eq(g_se->inflight, 2);
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 0);
	complete_all();
	cr_assert_eq(cqe_of(g_se, 1).res, 4096);
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 1);
	complete_all();
	cr_assert_eq(cqe_of(g_se, 2).user_data, UD + 3);
	cr_assert_eq(cqe_of(g_se, 2).res, 4096);
}

Test(dispatch, a_removed_volume_completes_what_it_accepted)
{
	struct ringd_cqe c;

	/* A write accepted and queued for the kernel ... */
	push(sqe(RINGD_OP_WRITE, g_handle, 0, 0, 4096, UD + 1));
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 1);
	/* ... when a reload removes its volume (issue 9 defect 6). */
	vols_remove(&g_s.vols, 0);
	cr_assert(g_s.vols.open[0]);
	complete_all();
	c = cqe_of(g_se, 0);
	cr_assert_eq(c.res, 4096, "accepted write completed with %d", c.res);
	cr_assert_not(g_s.vols.open[0], "released once its last request completed");
	/* New I/O on it is refused. */
	push(sqe(RINGD_OP_WRITE, g_handle, 0, 0, 4096, UD + 2));
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 1);
	disp_flush(&g_d);
	cr_assert_eq(cqe_of(g_se, 1).res, -ENODEV);
}

Test(dispatch, sq_tail_out_of_range_breaks_without_teardown)
{
	ringd_store_release(&g_se->hdr->sq_tail, g_se->sq_entries + 5);
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 0);
	cr_assert_eq(g_se->state, SESS_BROKEN);
	cr_assert_eq(g_se->broken_reason, RINGD_BROKEN_SQ_TAIL);
	/* The data path marks; the session layer tears down later. */
	cr_assert_eq(sess_at(&g_s.st, g_se->slot), g_se);
	cr_assert_eq(g_s.st.n, 1);
	cr_assert_eq(disp_consume(&g_d, g_se, 16), 0, "a broken session is not served");
}

Test(dispatch, serve_visits_every_active_session)
{
	uint32_t tail2 = 0;
	int peer2, h2;
	struct sess *se2 = client(&peer2, &h2);

	push(sqe(RINGD_OP_NOP, 0, 0, 0, 0, UD + 1));
	push_to(se2, &tail2, sqe(RINGD_OP_NOP, 0, 0, 0, 0, UD + 2));
	push_to(se2, &tail2, sqe(RINGD_OP_NOP, 0, 0, 0, 0, UD + 3));
	cr_assert_eq(disp_serve(&g_d, 8, clock_now_ns()), 3);
	disp_flush(&g_d);
	cr_assert_eq(cqe_of(g_se, 0).user_data, UD + 1);
	cr_assert_eq(cqe_of(se2, 1).user_data, UD + 3);
	close(peer2);
}

Test(dispatch, completion_for_an_unknown_slot_is_ignored)
{
	disp_complete(&g_d, 3, 0);
	disp_complete(&g_d, UINT32_MAX, 0);
	cr_assert_eq(g_s.rq.inflight, 0);
	cr_assert_eq(g_se->cq_tail, 0);
}

/*
 * A pass starts at most DISP_PASS_BYTES of reads (the kernel copies
 * page-cached data inside the loop's next io_uring_enter(), H49): the
 * rest waits in the SQ for the next pass, and a pass always starts one.
 */
Test(dispatch, a_pass_starts_a_bounded_number_of_bytes)
{
	const uint32_t len = 64u << 10, per_pass = DISP_PASS_BYTES / len;
	uint32_t tail = 0, i, n;
	int peer, h;
	struct sess *se = client_as(BOB, &peer, &h);

	for (i = 0; i < per_pass + 4; i++)
		push_to(se, &tail, sqe(RINGD_OP_READ, h, 0, 0, len, UD + i));
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), per_pass);
	cr_assert_eq(g_d.pass_bytes, DISP_PASS_BYTES);
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 4);
	complete_all();
	disp_flush(&g_d);
	for (i = 0; i < per_pass + 4; i++) {
		n = (uint32_t)cqe_of(se, i).res;
		cr_assert_eq(n, len, "read %u: %d", i, cqe_of(se, i).res);
	}
	close(peer);
}

/*
 * A tenant reads at most DISP_COPY_MAX bytes through the page cache at
 * once (H50): past it, its reads wait in the SQ until some complete, and
 * the bytes are given back on completion.
 */
Test(dispatch, a_tenant_reads_a_bounded_number_of_bytes_through_the_page_cache)
{
	const uint32_t len = 1u << 20, cap = DISP_COPY_MAX / len;
	int peer;
	struct sess *se = ut_session(&g_s, BOB, BOB, &peer);
	uint32_t tail = 0, i, taken = 0;
	char err[512];
	int h, ret;

	ret = ut_attach(&g_s, se, 4u << 20, err, sizeof(err));
	cr_assert_eq(ret, 0, "sess_attach: %s", err);
	ret = sess_handle_open(&g_s.st, se, "v0", RINGD_RDONLY, &h, err, sizeof(err));
	cr_assert_eq(ret, 0, "sess_handle_open: %s", err);
	for (i = 0; i < cap + 2; i++)
		push_to(se, &tail, sqe(RINGD_OP_READ, h, 0, 0, len, UD + i));
	/* One read of 1 MiB a pass (DISP_PASS_BYTES), until the cap. */
	for (i = 0; i < cap + 2; i++)
		taken += disp_serve(&g_d, 64, clock_now_ns());
	cr_assert_eq(taken, cap);
	cr_assert_eq(use_get(&g_s.use, se->tenant).copying, DISP_COPY_MAX);
	complete_all();
	cr_assert_eq(use_get(&g_s.use, se->tenant).copying, 0);
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 1);
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 1);
	complete_all();
	disp_flush(&g_d);
	for (i = 0; i < cap + 2; i++)
		cr_assert_eq(cqe_of(se, i).res, (int32_t)len, "read %u: %d", i, cqe_of(se, i).res);
	cr_assert_eq(se->copying, 0);
	close(peer);
}

/*
 * A read or write of more than ISS_INLINE_MAX through the page cache is
 * copied by a kernel worker (H52), so it holds one of the tenant's
 * DISP_BLOCKING_MAX workers until it completes; a smaller one does not.
 * Both read what is there.
 */
Test(dispatch, a_large_copy_holds_a_kernel_worker_of_its_tenant)
{
	const uint32_t big = ISS_INLINE_MAX * 2, small = 4096;
	int peer, h;
	struct sess *se = client_with(BOB, 4u << 20, &peer, &h);
	uint32_t tail = 0;

	/* Whatever the scratch directory's file system (H53 is another test's). */
	g_s.vols.v[se->handles[h].vol].worker_io = false;
	g_s.vols.v[se->handles[h].vol].worker_writes = false;
	push_to(se, &tail, sqe(RINGD_OP_READ, h, 0, 0, small, UD));
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 1);
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 0);
	cr_assert_not(last_sqe_async(), "a 4 KiB read is copied inline");
	complete_all();
	push_to(se, &tail, sqe(RINGD_OP_READ, h, 0, 0, big, UD + 1));
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 1);
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 1);
	cr_assert(last_sqe_async(), "a 512 KiB read is queued IOSQE_ASYNC");
	complete_all();
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 0);
	push_to(se, &tail, sqe(RINGD_OP_WRITE, h, 0, 0, big, UD + 2));
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 1);
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 1);
	cr_assert(last_sqe_async(), "a 512 KiB write is queued IOSQE_ASYNC");
	complete_all();
	disp_flush(&g_d);
	cr_assert_eq(cqe_of(se, 0).res, (int32_t)small);
	cr_assert_eq(cqe_of(se, 1).res, (int32_t)big, "the worker's read: %d", cqe_of(se, 1).res);
	cr_assert_eq(cqe_of(se, 2).res, (int32_t)big, "the worker's write: %d", cqe_of(se, 2).res);
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 0);
	close(peer);
}

/*
 * Every read and write of a volume whose file system takes no
 * non-blocking I/O (tmpfs), and every buffered write where the kernel
 * hands them over untried (ext4, block devices), is queued IOSQE_ASYNC
 * (H53): the kernel then starts a worker for it at once. Even a 4 KiB
 * read holds one of its tenant's workers until it completes; each reads
 * or writes all of it.
 */
Test(dispatch, what_the_kernel_runs_on_a_worker_anyway_is_queued_async)
{
	int peer, h;
	struct sess *se = client_with(BOB, 1u << 20, &peer, &h);
	uint32_t tail = 0;

	g_s.vols.v[se->handles[h].vol].worker_io = true;
	push_to(se, &tail, sqe(RINGD_OP_READ, h, 0, 0, 4096, UD));
	cr_assert_eq(disp_serve(&g_d, 64, clock_now_ns()), 1);
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 1);
	cr_assert(last_sqe_async(), "a read of a worker_io volume is queued IOSQE_ASYNC");
	complete_all();
	disp_flush(&g_d);
	cr_assert_eq(cqe_of(se, 0).res, 4096, "the worker's read: %d", cqe_of(se, 0).res);
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 0);
	g_s.vols.v[se->handles[h].vol].worker_io = false;
	/* A 4 KiB buffered write the kernel would hand over untried (ext4). */
	g_s.vols.v[se->handles[h].vol].worker_writes = true;
	cr_assert(served_async(se, &tail, sqe(RINGD_OP_WRITE, h, 0, 0, 4096, UD + 1)),
		  "a buffered write of a worker_writes volume");
	cr_assert_eq(cqe_of(se, 1).res, 4096, "the worker's write: %d", cqe_of(se, 1).res);
	/* One on XFS or btrfs is tried inline first. */
	g_s.vols.v[se->handles[h].vol].worker_writes = false;
	cr_assert_not(served_async(se, &tail, sqe(RINGD_OP_WRITE, h, 0, 0, 4096, UD + 2)),
		      "a buffered write tried inline");
	cr_assert_eq(cqe_of(se, 2).res, 4096);
	close(peer);
}

/*
 * A request a restart adopts from the journal is queued as it was when it
 * was first accepted (iss_on_worker() is asked once, at acceptance or at
 * adoption) and counted the same: a 512 KiB read on a kernel worker,
 * holding one of its tenant's workers and counted as a page-cache copy
 * until it completes (before, adoption counted neither), and it reads
 * all of it.
 */
Test(dispatch, an_adopted_large_read_is_queued_async_and_counted)
{
	const uint32_t big = ISS_INLINE_MAX * 2;
	int peer, h;
	struct sess *se = client_with(BOB, 4u << 20, &peer, &h);
	uint32_t idx = 5, vol = se->handles[h].vol;
	struct jr_req *jq = &g_s.jr.reqs[idx];
	struct req *r;

	g_s.vols.v[vol].worker_io = false;
	g_s.vols.v[vol].worker_writes = false;
	cr_assert_not(g_s.rq.r[idx].busy);
	/* What recovery finds in the journal and claims (recover.c). */
	memset(jq, 0, sizeof(*jq));
	jq->sess = se->slot;
	jq->user_data = UD + 7;
	jq->op = RINGD_OP_READ;
	jq->vol = vol;
	jq->len = big;
	jq->state = JR_PENDING;
	r = rq_claim(&g_s.rq, idx);
	r->user_data = jq->user_data;
	r->sess = se->slot;
	r->len = jq->len;
	r->op = jq->op;
	cr_assert(disp_adopt(&g_d, se, idx));
	disp_launch(&g_d, se, idx);
	cr_assert(last_sqe_async(), "the adopted 512 KiB read is queued IOSQE_ASYNC");
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 1, "it holds a worker of its tenant");
	cr_assert_eq(use_get(&g_s.use, se->tenant).copying, big, "and counts as copying");
	complete_all();
	disp_flush(&g_d);
	cr_assert_eq(use_get(&g_s.use, se->tenant).blocking, 0);
	cr_assert_eq(use_get(&g_s.use, se->tenant).copying, 0);
	cr_assert_eq(cqe_of(se, 0).user_data, UD + 7);
	cr_assert_eq(cqe_of(se, 0).res, (int32_t)big, "the worker's read: %d", cqe_of(se, 0).res);
	close(peer);
}
