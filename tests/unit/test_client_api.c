/* SPDX-License-Identifier: MIT */
/*
 * libringd's top layer: api.c over all the others, as a static link of the
 * same objects libringd.so is made of. Argument checks without a daemon,
 * and the public calls end to end against the stand-in control plane of
 * client_fake.c, the test playing the daemon's data path.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "client_fake.h"
#include "ringd.h"

static struct fake_daemon g_f;

static void fake_up(void)
{
	cr_assert_eq(fake_start(&g_f), 0);
}

static void fake_down(void)
{
	fake_stop(&g_f);
}

Test(client_api, connect_to_a_missing_socket_fails_with_enoent)
{
	struct ringd_opts o = { .socket_path = "/nonexistent/ringd.sock" };
	struct ringd *rd;

	cr_assert_eq(ringd_connect(&o, &rd), -ENOENT);
	cr_assert_null(rd);
}

/* The library's version is the header's, and the macros spell it. */
Test(client_api, version_matches_the_header)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", RINGD_VERSION_MAJOR, RINGD_VERSION_MINOR,
		 RINGD_VERSION_PATCH);
	cr_assert_str_eq(RINGD_VERSION_STRING, want);
	cr_assert_not_null(ringd_version());
	cr_assert_str_eq(ringd_version(), RINGD_VERSION_STRING);
}

Test(client_api, null_session_arguments_are_refused)
{
	cr_assert_eq(ringd_open(NULL, "v", RINGD_RDWR, NULL), -EINVAL);
	cr_assert_eq(ringd_close(NULL, 0), -EINVAL);
	cr_assert_eq(ringd_stats(NULL, NULL), -EINVAL);
	cr_assert_null(ringd_buf_alloc(NULL, 4096, 0));
	cr_assert_null(ringd_buf_region(NULL, NULL));
	ringd_buf_free(NULL, NULL);
	ringd_disconnect(NULL);
	cr_assert_str_eq(ringd_last_message(), "");
}

Test(client_api, the_public_calls_end_to_end, .init = fake_up, .fini = fake_down)
{
	struct ringd_opts o = { .socket_path = g_f.path, .spin_us = 5 };
	struct ringd_volume_info info;
	struct ringd_cqe *cqe, batch[2];
	struct ringd_stats st;
	struct ringd_sqe *sqe;
	struct ringd *rd;
	size_t len;
	void *buf;
	int h;

	cr_assert_eq(ringd_connect(&o, &rd), 0);
	cr_assert_eq(ringd_open(rd, "db1", 7, NULL), -EINVAL, "bad flags");
	cr_assert_eq(ringd_open(rd,
				"a-name-longer-than-the-sixty-three-bytes-a-handle-keeps-"
				"for-reopening",
				RINGD_RDWR, NULL),
		     -ENAMETOOLONG);
	h = ringd_open(rd, "db1", RINGD_RDWR, &info);
	cr_assert_eq(h, 0);
	cr_assert_eq(info.block_size, 512);
	cr_assert_not_null(ringd_buf_region(rd, &len));
	cr_assert_eq(len, 64u << 10);
	buf = ringd_buf_alloc(rd, 4096, 4096);
	cr_assert_not_null(buf);

	sqe = ringd_get_sqe(rd);
	ringd_prep_write(sqe, h, buf, 4096, 8192);
	ringd_sqe_set_data64(sqe, 0x1234);
	sqe = ringd_get_sqe(rd);
	ringd_prep_nop(sqe);
	ringd_sqe_set_data64(sqe, 0x5678);
	cr_assert_eq(ringd_submit(rd), 2);
	cr_assert_eq(ringd_peek_cqe(rd, &cqe), -EAGAIN);
	cr_assert_eq(ringd_wait_cqe_timeout(rd, &cqe, 1), -ETIME);

	{
		struct ringd_sqe *ring = test_region_sqes(&g_f.reg);
		uint32_t head = g_f.reg.hdr->sq_head;

		cr_assert_eq(ring[head & 7].opcode, RINGD_OP_WRITE);
		cr_assert_eq(ring[head & 7].handle, 100);
		cr_assert_eq(ring[head & 7].off, 8192);
		test_region_consume(&g_f.reg);
		test_region_post(&g_f.reg, ring[(head + 1) & 7].user_data, 0);
		test_region_post(&g_f.reg, ring[head & 7].user_data, 4096);
	}
	cr_assert_eq(ringd_cq_ready(rd), 2);
	cr_assert_eq(ringd_wait_cqe(rd, &cqe), 0);
	cr_assert_eq(ringd_cqe_get_data64(cqe), 0x5678);
	ringd_cqe_seen(rd, cqe);
	cr_assert_eq(ringd_peek_batch_cqe(rd, batch, 2), 1);
	cr_assert_eq(batch[0].user_data, 0x1234);
	cr_assert_eq(batch[0].res, 4096);

	/* Asleep in a wait: the daemon's notification wakes it. */
	{
		struct pollfd pfd = { .fd = ringd_event_fd(rd), .events = POLLIN };

		cr_assert_geq(pfd.fd, 0);
		cr_assert(g_f.reg.hdr->cq_flags & RINGD_CQ_EVENTFD);
		cr_assert_eq(poll(&pfd, 1, 0), 0, "nothing to notify yet");
	}

	cr_assert_eq(ringd_stats(rd, &st), 0);
	cr_assert_eq(st.submitted, 7);
	cr_assert_eq(ringd_close(rd, h), 0);
	cr_assert_eq(ringd_close(rd, h), -EBADF);
	cr_assert_eq(ringd_broken_reason(rd), 0);
	ringd_buf_free(rd, buf);
	ringd_disconnect(rd);
}

Test(client_api, a_daemon_that_goes_away_is_reported_without_reconnect, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = { .socket_path = g_f.path, .flags = RINGD_OPT_NO_RECONNECT };
	struct ringd_cqe *cqe;
	struct ringd *rd;

	cr_assert_eq(ringd_connect(&o, &rd), 0);
	ringd_prep_nop(ringd_get_sqe(rd));
	cr_assert_eq(ringd_submit(rd), 1);
	fake_shutdown_session(&g_f);
	cr_assert_eq(ringd_wait_cqe(rd, &cqe), -EPIPE);
	cr_assert_eq(ringd_broken_reason(rd), RINGD_BROKEN_SHUTDOWN);
	cr_assert_eq(ringd_submit(rd), -EPIPE);
	cr_assert_eq(ringd_open(rd, "db1", RINGD_RDWR, NULL), -ENOTCONN);
	ringd_disconnect(rd);
}

Test(client_api, a_daemon_that_comes_back_is_reconnected_in_a_wait, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = { .socket_path = g_f.path };
	struct ringd_cqe *cqe;
	struct ringd *rd;
	int h;

	cr_assert_eq(ringd_connect(&o, &rd), 0);
	h = ringd_open(rd, "db1", RINGD_RDWR, NULL);
	ringd_prep_fsync(ringd_get_sqe(rd), h, 0);
	cr_assert_eq(ringd_submit(rd), 1);
	fake_shutdown_session(&g_f);
	/* The wait sees the shutdown, reconnects, resubmits, and then times
	 * out on the new session (nobody completes the fsync there). */
	cr_assert_eq(ringd_wait_cqe_timeout(rd, &cqe, 50), -ETIME);
	cr_assert_eq(g_f.sessions, 2);
	cr_assert_eq(g_f.reg.hdr->sq_tail - g_f.reg.hdr->sq_head, 1, "the fsync, resubmitted");
	cr_assert_eq(ringd_broken_reason(rd), 0);
	ringd_disconnect(rd);
}
