/* SPDX-License-Identifier: MIT */
/* Data path through the real daemon: writes read back byte for byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "ringd.h"

static struct rt_daemon g_d;

static const char two_volumes[] = "[volume direct]\n"
				  "path = direct.img\n"
				  "create_size = 64M\n"
				  "direct = yes\n"
				  "\n"
				  "[volume buffered]\n"
				  "path = buffered.img\n"
				  "create_size = 64M\n"
				  "direct = no\n"
				  "\n"
				  "[tenant root]\n"
				  "uid = 0\n"
				  "volumes = direct:rw, buffered:rw\n";

static void daemon_start(void)
{
	rt_daemon_start(&g_d, two_volumes);
}

static void daemon_stop(void)
{
	int status = rt_daemon_stop(&g_d);

	cr_assert_eq(status, 0, "ringd exited with status %d (see its log above)", status);
}

/* Write @nbatches batches of 32 random-offset blocks, then read each back. */
static void random_roundtrip(const char *volume, unsigned int nbatches)
{
	struct ringd_volume_info info;
	struct ringd *rd;
	unsigned int b, i;
	int ret, h;

	ret = rt_connect(&g_d, 64, 128, 8u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	h = ringd_open(rd, volume, RINGD_RDWR, &info);
	cr_assert_geq(h, 0, "open %s: %s", volume, strerror(-h));
	srand(42);
	for (b = 0; b < nbatches; b++) {
		uint64_t offs[32];
		unsigned int lens[32];
		void *bufs[32];
		struct ringd_cqe *cqe;

		for (i = 0; i < 32; i++) {
			/* Distinct 64K slots so the batch's writes never overlap. */
			uint64_t slot = (uint64_t)(b * 32 + i) * 7919 % (info.size / 65536);
			unsigned int blocks = 1 + (unsigned int)rand() % 16;

			lens[i] = blocks * 4096;
			offs[i] = slot * 65536 + (info.align > 1 ? 0 : (unsigned int)rand() % 512);
			bufs[i] = ringd_buf_alloc(rd, lens[i], 4096);
			cr_assert_not_null(bufs[i]);
			rt_fill(bufs[i], lens[i], b + 1, offs[i]);
			struct ringd_sqe *sqe = ringd_get_sqe(rd);
			cr_assert_not_null(sqe);
			ringd_prep_write(sqe, h, bufs[i], lens[i], offs[i]);
			ringd_sqe_set_data64(sqe, i);
		}
		ret = ringd_submit_and_wait(rd, 32);
		cr_assert_eq(ret, 32, "submit: %d", ret);
		for (i = 0; i < 32; i++) {
			ret = ringd_wait_cqe(rd, &cqe);
			cr_assert_eq(ret, 0);
			cr_assert_eq(cqe->res, (int)lens[cqe->user_data], "write %llu: res %d",
				     (unsigned long long)cqe->user_data, cqe->res);
			ringd_cqe_seen(rd, cqe);
		}
		for (i = 0; i < 32; i++) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);

			memset(bufs[i], 0, lens[i]);
			ringd_prep_read(sqe, h, bufs[i], lens[i], offs[i]);
			ringd_sqe_set_data64(sqe, i);
		}
		ret = ringd_submit_and_wait(rd, 32);
		cr_assert_eq(ret, 32);
		for (i = 0; i < 32; i++) {
			long bad;

			ret = ringd_wait_cqe(rd, &cqe);
			cr_assert_eq(ret, 0);
			cr_assert_eq(cqe->res, (int)lens[cqe->user_data]);
			bad = rt_check(bufs[cqe->user_data], lens[cqe->user_data], b + 1,
				       offs[cqe->user_data]);
			cr_assert_eq(bad, -1, "batch %u io %llu differs at byte %ld", b,
				     (unsigned long long)cqe->user_data, bad);
			ringd_cqe_seen(rd, cqe);
		}
		for (i = 0; i < 32; i++)
			ringd_buf_free(rd, bufs[i]);
	}
	ringd_disconnect(rd);
}

Test(data_path, direct_random_roundtrip, .init = daemon_start, .fini = daemon_stop)
{
	random_roundtrip("direct", 8);
}

Test(data_path, buffered_random_roundtrip, .init = daemon_start, .fini = daemon_stop)
{
	random_roundtrip("buffered", 8);
}

/* fsync, fdatasync and nop complete with 0; the session's counters add up. */
static void flush_and_count(const char *volume)
{
	struct ringd_stats st;
	struct ringd *rd;
	void *buf;
	int ret, h, i;

	ret = rt_connect(&g_d, 8, 16, 1u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	h = ringd_open(rd, volume, RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	buf = ringd_buf_alloc(rd, 8192, 4096);
	cr_assert_not_null(buf);
	rt_fill(buf, 8192, 5, 0);
	for (i = 0; i < 3; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);
		struct ringd_cqe *cqe;

		cr_assert_not_null(sqe);
		if (i == 0)
			ringd_prep_write(sqe, h, buf, 8192, 0);
		else if (i == 1)
			ringd_prep_fsync(sqe, h, 0);
		else
			ringd_prep_fsync(sqe, h, RINGD_FSYNC_DATASYNC);
		ringd_sqe_set_data64(sqe, (uint64_t)i);
		cr_assert_eq(ringd_submit_and_wait(rd, 1), 1);
		cr_assert_eq(ringd_wait_cqe(rd, &cqe), 0);
		cr_assert_eq(cqe->user_data, (uint64_t)i);
		cr_assert_eq(cqe->res, i == 0 ? 8192 : 0, "request %d: %d", i, cqe->res);
		ringd_cqe_seen(rd, cqe);
	}
	for (i = 0; i < 4; i++)
		ringd_prep_nop(ringd_get_sqe(rd));
	cr_assert_eq(ringd_submit_and_wait(rd, 4), 4);
	for (i = 0; i < 4; i++) {
		struct ringd_cqe *cqe;

		cr_assert_eq(ringd_wait_cqe(rd, &cqe), 0);
		cr_assert_eq(cqe->res, 0);
		ringd_cqe_seen(rd, cqe);
	}
	memset(buf, 0, 8192);
	{
		struct ringd_sqe *sqe = ringd_get_sqe(rd);
		struct ringd_cqe *cqe;

		ringd_prep_read(sqe, h, buf, 4096, 4096);
		cr_assert_eq(ringd_submit_and_wait(rd, 1), 1);
		cr_assert_eq(ringd_wait_cqe(rd, &cqe), 0);
		cr_assert_eq(cqe->res, 4096);
		ringd_cqe_seen(rd, cqe);
		cr_assert_eq(rt_check(buf, 4096, 5, 4096), -1);
	}
	cr_assert_eq(ringd_stats(rd, &st), 0);
	cr_assert_eq(st.submitted, 8);
	cr_assert_eq(st.completed, 8);
	cr_assert_eq(st.errors, 0);
	cr_assert_eq(st.rejected, 0);
	cr_assert_eq(st.bytes_written, 8192);
	cr_assert_eq(st.bytes_read, 4096);
	cr_assert_eq(st.inflight, 0);
	cr_assert_eq(ringd_close(rd, h), 0);
	ringd_disconnect(rd);
}

Test(data_path, direct_fsync_nop_and_stats, .init = daemon_start, .fini = daemon_stop)
{
	flush_and_count("direct");
}

Test(data_path, buffered_fsync_nop_and_stats, .init = daemon_start, .fini = daemon_stop)
{
	flush_and_count("buffered");
}

Test(data_path, event_fd_is_readable_when_completions_wait, .init = daemon_start,
     .fini = daemon_stop)
{
	struct pollfd pfd;
	struct ringd_cqe *cqe;
	struct ringd *rd;
	char b[64];
	int ret, efd, i;

	ret = rt_connect(&g_d, 8, 16, 1u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	efd = ringd_event_fd(rd);
	cr_assert_geq(efd, 0);
	pfd = (struct pollfd){ .fd = efd, .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 0), 0, "readable with nothing submitted");
	for (i = 0; i < 3; i++) {
		ringd_prep_nop(ringd_get_sqe(rd));
		cr_assert_eq(ringd_submit(rd), 1);
		pfd.revents = 0;
		cr_assert_eq(poll(&pfd, 1, 10000), 1, "round %d: never readable", i);
		cr_assert(pfd.revents & POLLIN);
		while (recv(efd, b, sizeof(b), MSG_DONTWAIT) > 0)
			;
		cr_assert_eq(ringd_peek_cqe(rd, &cqe), 0, "readable but no completion");
		ringd_cqe_seen(rd, cqe);
	}
	ringd_disconnect(rd);
}
