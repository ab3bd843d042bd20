/* SPDX-License-Identifier: MIT */
/* Data path through the real daemon: writes read back byte for byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
