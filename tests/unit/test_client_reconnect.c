/* SPDX-License-Identifier: MIT */
/*
 * libringd's layer 2: reconnect.c over ctl.c, ring.c and buf.c, linked
 * without api.c (a call up would not link). The daemon that goes away and
 * comes back is the stand-in of client_fake.c; the test plays its data path.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_fake.h"
#include "reconnect.h"

static struct fake_daemon g_f;

static void fake_up(void)
{
	cr_assert_eq(fake_start(&g_f), 0);
}

static void fake_down(void)
{
	fake_stop(&g_f);
}

/* A session object on a header of our own, for the policy alone. */
static struct ringd *bare_session(struct ringd_shm_hdr *hdr, bool reconnect)
{
	struct ringd *rd = calloc(1, sizeof(*rd));

	cr_assert_not_null(rd);
	memset(hdr, 0, sizeof(*hdr));
	rd->ring.hdr = hdr;
	rd->reconnect = reconnect;
	rd->sock = rd->memfd = rd->ringlive = rd->ring.wake_fd = -1;
	return rd;
}

Test(client_reconnect, without_reconnect_the_state_is_reported_as_is)
{
	static struct ringd_shm_hdr hdr;
	struct ringd *rd = bare_session(&hdr, false);

	cr_assert_eq(rcn_ring_live(rd), 0);
	cr_assert_eq(rcn_ctl_live(rd), 0);
	hdr.broken_reason = RINGD_BROKEN_SHUTDOWN;
	cr_assert_eq(rcn_ring_live(rd), -EPIPE, "a shutdown is a broken session");
	cr_assert_not(rd->ring.dead);
	cr_assert_eq(rcn_ctl_live(rd), 0, "a control call reports it itself");
	rd->ring.dead = true;
	cr_assert_eq(rcn_ring_live(rd), -ENOTCONN);
	cr_assert_eq(rcn_ctl_live(rd), 0);
	free(rd);
}

Test(client_reconnect, a_broken_session_is_not_replaced)
{
	static struct ringd_shm_hdr hdr;
	struct ringd *rd = bare_session(&hdr, true);

	hdr.broken_reason = RINGD_BROKEN_CQ_HEAD;
	cr_assert_eq(rcn_ring_live(rd), -EPIPE, "only a shutdown or a lost daemon reconnects");
	cr_assert_not(rd->ring.dead);
	free(rd);
}

/*
 * The whole replacement: a session with a volume open, data in its data
 * area, two requests in flight, one completed but not reaped and one SQE
 * prepared; the daemon shuts down and comes back.
 */
Test(client_reconnect, replaces_the_session_and_resubmits_in_order, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = { .socket_path = g_f.path, .sq_entries = 8 };
	struct ringd_sqe *sqe, *old_sqes, *new_sqes;
	uint64_t tags[3], data_off;
	uint32_t first, idx;
	struct ringd_cqe *cqe;
	struct ringd *rd;
	void *base;
	uint8_t *buf;
	int h, i;

	g_f.first_index = UINT32_MAX - 17; /* session 2 crosses the wrap */
	cr_assert_eq(cc_connect(&o, &rd), 0);
	base = rd->base;
	h = cc_handle_open(rd, "db1", RINGD_RDWR, NULL);
	cr_assert_eq(h, 0);
	buf = buf_alloc(&rd->buf, 4096, 4096);
	cr_assert_not_null(buf);
	memset(buf, 0xab, 4096);
	data_off = (uint64_t)(buf - rd->ring.data);

	first = rd->ring.sq_tail;
	for (i = 0; i < 3; i++) {
		sqe = rg_get_sqe(&rd->ring);
		sqe->opcode = RINGD_OP_WRITE;
		sqe->handle = h;
		sqe->addr = (uint64_t)(uintptr_t)buf;
		sqe->len = 4096;
		sqe->off = 4096 * (uint64_t)i;
		sqe->user_data = 10 + (uint64_t)i;
	}
	cr_assert_eq(rg_submit(&rd->ring), 3);
	old_sqes = test_region_sqes(&g_f.reg);
	for (i = 0; i < 3; i++)
		tags[i] = old_sqes[(first + (uint32_t)i) & 7].user_data;
	test_region_consume(&g_f.reg);
	test_region_post(&g_f.reg, tags[1], 4096); /* the middle one completed */
	sqe = rg_get_sqe(&rd->ring);		   /* prepared, not submitted */
	sqe->opcode = RINGD_OP_FSYNC;
	sqe->handle = h;
	sqe->user_data = 99;

	fake_shutdown_session(&g_f);
	cr_assert_eq(rcn_ring_live(rd), 0, "reconnected");
	cr_assert_eq(g_f.sessions, 2);
	cr_assert_not(rd->ring.dead);
	cr_assert_eq(rd->base, base, "mapped at the same address");
	cr_assert_eq(memcmp(test_region_data(&g_f.reg) + data_off, buf, 4096), 0);
	cr_assert_eq(test_region_data(&g_f.reg)[data_off], 0xab, "data area copied");
	cr_assert_str_eq(g_f.last_open, "db1", "the volume was reopened");

	/* In flight: requests 0 and 2, in submission order, with their tags
	 * and the daemon's new handle; published. The prepared SQE is back,
	 * unpublished. */
	new_sqes = test_region_sqes(&g_f.reg);
	first = g_f.reg.hdr->sq_head;
	cr_assert_eq(first, UINT32_MAX - 1);
	cr_assert_eq(g_f.reg.hdr->sq_tail, first + 2);
	idx = first & 7;
	cr_assert_eq(new_sqes[idx].user_data, tags[0]);
	cr_assert_eq(new_sqes[idx].handle, 101);
	cr_assert_eq(new_sqes[idx].addr, data_off, "still a data-area offset");
	cr_assert_eq(new_sqes[idx].off, 0);
	cr_assert_eq(new_sqes[(idx + 1) & 7].user_data, tags[2]);
	cr_assert_eq(new_sqes[(idx + 1) & 7].off, 8192);
	cr_assert_eq(rd->ring.sq_tail, first + 3);
	cr_assert_eq(new_sqes[(idx + 2) & 7].user_data, 99);

	/* The completion the old daemon posted comes first, user_data restored. */
	cqe = rg_next_cqe(&rd->ring);
	cr_assert_not_null(cqe);
	cr_assert_eq(cqe->user_data, 11);
	cr_assert_eq(cqe->res, 4096);
	rg_cq_advance(&rd->ring, 1);
	cr_assert_null(rg_next_cqe(&rd->ring));

	/* The new daemon completes the resubmitted ones. */
	test_region_consume(&g_f.reg);
	test_region_post(&g_f.reg, tags[2], 4096);
	test_region_post(&g_f.reg, tags[0], 4096);
	cqe = rg_next_cqe(&rd->ring);
	cr_assert_eq(cqe->user_data, 12);
	rg_cq_advance(&rd->ring, 1);
	cqe = rg_next_cqe(&rd->ring);
	cr_assert_eq(cqe->user_data, 10);
	rg_cq_advance(&rd->ring, 1);
	cr_assert_eq(rg_submit(&rd->ring), 1, "the prepared SQE submits normally");
	cc_disconnect(rd);
}

Test(client_reconnect, a_refused_reconnect_leaves_the_session_lost, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = { .socket_path = g_f.path };
	struct ringd *rd;

	cr_assert_eq(cc_connect(&o, &rd), 0);
	fake_shutdown_session(&g_f);
	/* Next time the stand-in refuses outright: a refusal that is not
	 * "not up yet" ends the attempt at once. */
	g_f.refuse_errno = EACCES;
	g_f.refuse_message = "no longer a tenant";
	cr_assert_eq(rcn_ring_live(rd), -ENOTCONN);
	cr_assert(rd->ring.dead);
	cr_assert_eq(rcn_ctl_live(rd), -ENOTCONN);
	cc_disconnect(rd);
}

/*
 * The daemon is killed while the application is idle, and the next
 * instance is killed too while the library reopens the session's volumes
 * for it: the check a control call starts with replaces the session again
 * rather than fail the call (a SQLite opening its journal saw an I/O
 * error there).
 */
Test(client_reconnect, a_daemon_killed_during_the_reconnect_gets_another_try, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = { .socket_path = g_f.path };
	struct ringd *rd;
	struct ringd_stats st;

	cr_assert_eq(cc_connect(&o, &rd), 0);
	cr_assert_eq(cc_handle_open(rd, "db1", RINGD_RDWR, NULL), 0);
	fake_shutdown_session(&g_f);
	/* A call finds the daemon gone (a doorbell or a control call). */
	cr_assert_eq(cc_stats(rd, &st), -ENOTCONN);
	cr_assert(rd->ring.dead);
	g_f.die_in_session = 2; /* the first replacement dies reopening db1 */
	cr_assert_eq(rcn_ctl_live(rd), 0, "the call would fail instead of reconnecting again");
	cr_assert_eq(g_f.sessions, 3);
	cr_assert_eq(g_f.opens, 2, "db1 reopened on the session that lived");
	cr_assert_not(rd->ring.dead);
	cr_assert_geq(cc_handle_open(rd, "db2", RINGD_RDWR, NULL), 0);
	cc_disconnect(rd);
}
