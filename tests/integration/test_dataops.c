/* SPDX-License-Identifier: MIT */
/*
 * The operations databases need, through the real daemon, on a buffered
 * and a direct file: vectored I/O, durable writes, discard and
 * write-zeroes, link chains and cancel.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "harness.h"
#include "it.h"
#include "ringd.h"

static struct rt_daemon g_d;

static const char conf[] = "[volume direct]\n"
			   "path = direct.img\n"
			   "create_size = 16M\n"
			   "direct = yes\n"
			   "\n"
			   "[volume buffered]\n"
			   "path = buffered.img\n"
			   "create_size = 16M\n"
			   "direct = no\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = direct:rw, buffered:rw\n";

static void start(void)
{
	rt_daemon_start(&g_d, conf);
}

static void stop(void)
{
	it_stop(&g_d);
}

TestSuite(dataops, .init = start, .fini = stop, .timeout = 60);

struct ops {
	struct ringd *rd;
	int h;
	struct ringd_volume_info info;
};

static void ops_open(struct ops *o, const char *volume)
{
	int ret = rt_connect(&g_d, 32, 64, 4u << 20, &o->rd);

	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	o->h = ringd_open(o->rd, volume, RINGD_RDWR, &o->info);
	cr_assert_geq(o->h, 0, "open %s: %s", volume, strerror(-o->h));
}

/* Reap @n completions into @res by user_data (0..n-1), in arrival order into @order. */
static void reap(struct ringd *rd, unsigned int n, int *res, uint64_t *order)
{
	struct ringd_cqe *cqe;
	unsigned int i;

	for (i = 0; i < n; i++) {
		int ret = ringd_wait_cqe_timeout(rd, &cqe, 10000);

		cr_assert_eq(ret, 0, "completion %u of %u: %s", i, n, strerror(-ret));
		cr_assert_lt(cqe->user_data, n);
		res[cqe->user_data] = cqe->res;
		if (order)
			order[i] = cqe->user_data;
		ringd_cqe_seen(rd, cqe);
	}
}

static void vectored_roundtrip(const char *volume)
{
	struct iovec *iov;
	struct ops o;
	uint8_t *buf, *back;
	unsigned int i;
	int ret;

	ops_open(&o, volume);
	iov = ringd_buf_alloc(o.rd, 4 * sizeof(*iov), 64);
	buf = ringd_buf_alloc(o.rd, 4 * 4096, 4096);
	back = ringd_buf_alloc(o.rd, 4 * 4096, 4096);
	cr_assert(iov && buf && back);
	/* writev of four scattered pieces reads back with one read. */
	rt_fill(buf, 4 * 4096, 7, 65536);
	for (i = 0; i < 4; i++) {
		iov[i].iov_base = buf + (3 - i) * 4096; /* out of order in memory */
		iov[i].iov_len = 4096;
	}
	struct ringd_sqe *sqe = ringd_get_sqe(o.rd);
	ringd_prep_writev(sqe, o.h, iov, 4, 65536);
	ret = it_run1(o.rd, sqe, 1);
	cr_assert_eq(ret, 4 * 4096, "writev: %d", ret);
	ret = it_read(o.rd, o.h, back, 4 * 4096, 65536);
	cr_assert_eq(ret, 4 * 4096);
	for (i = 0; i < 4; i++)
		cr_assert_eq(memcmp(back + i * 4096, buf + (3 - i) * 4096, 4096), 0, "piece %u", i);
	/* ... and a plain write reads back with readv. */
	rt_fill(buf, 4 * 4096, 9, 131072);
	ret = it_write(o.rd, o.h, buf, 4 * 4096, 131072);
	cr_assert_eq(ret, 4 * 4096);
	memset(back, 0, 4 * 4096);
	for (i = 0; i < 4; i++) {
		iov[i].iov_base = back + (3 - i) * 4096;
		iov[i].iov_len = 4096;
	}
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_readv(sqe, o.h, iov, 4, 131072);
	ret = it_run1(o.rd, sqe, 2);
	cr_assert_eq(ret, 4 * 4096, "readv: %d", ret);
	for (i = 0; i < 4; i++)
		cr_assert_eq(memcmp(back + (3 - i) * 4096, buf + i * 4096, 4096), 0, "piece %u", i);
	ringd_disconnect(o.rd);
}

Test(dataops, vectored_roundtrip_buffered)
{
	vectored_roundtrip("buffered");
}

Test(dataops, vectored_roundtrip_direct)
{
	vectored_roundtrip("direct");
}

Test(dataops, dsync_write_completes_with_its_length)
{
	struct ops o;
	void *buf;
	int ret;

	ops_open(&o, "direct");
	buf = ringd_buf_alloc(o.rd, 8192, 4096);
	rt_fill(buf, 8192, 3, 0);
	struct ringd_sqe *sqe = ringd_get_sqe(o.rd);
	ringd_prep_write(sqe, o.h, buf, 8192, 0);
	ringd_sqe_set_rw_flags(sqe, RINGD_RW_DSYNC);
	ret = it_run1(o.rd, sqe, 1);
	cr_assert_eq(ret, 8192, "DSYNC write: %d", ret);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_write(sqe, o.h, buf, 8192, 0);
	ringd_sqe_set_rw_flags(sqe, 2);
	cr_assert_eq(it_run1(o.rd, sqe, 2), -EINVAL, "unknown op_flags bit");
	ringd_disconnect(o.rd);
}

static void zero_and_discard(const char *volume)
{
	struct ops o;
	uint8_t *buf;
	unsigned int i;
	int ret;

	ops_open(&o, volume);
	buf = ringd_buf_alloc(o.rd, 65536, 4096);
	memset(buf, 0xab, 65536);
	cr_assert_eq(it_write(o.rd, o.h, buf, 65536, 1 << 20), 65536);
	struct ringd_sqe *sqe = ringd_get_sqe(o.rd);
	ringd_prep_write_zeroes(sqe, o.h, (1 << 20) + 8192, 16384);
	ret = it_run1(o.rd, sqe, 1);
	cr_assert_eq(ret, 0, "write-zeroes: %d", ret);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_discard(sqe, o.h, (1 << 20) + 32768, 16384);
	ret = it_run1(o.rd, sqe, 2);
	cr_assert_eq(ret, 0, "discard: %d", ret);
	memset(buf, 0x11, 65536);
	cr_assert_eq(it_read(o.rd, o.h, buf, 65536, 1 << 20), 65536);
	for (i = 0; i < 65536; i++) {
		int zero = (i >= 8192 && i < 24576) || (i >= 32768 && i < 49152);

		cr_assert_eq(buf[i], zero ? 0 : 0xab, "byte %u: 0x%02x", i, buf[i]);
	}
	/* Outside the extent, and length 0: -EINVAL. */
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_write_zeroes(sqe, o.h, o.info.size - 4096, 8192);
	cr_assert_eq(it_run1(o.rd, sqe, 3), -EINVAL);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_discard(sqe, o.h, 0, 0);
	cr_assert_eq(it_run1(o.rd, sqe, 4), -EINVAL);
	ringd_disconnect(o.rd);
}

Test(dataops, zero_and_discard_buffered)
{
	zero_and_discard("buffered");
}

Test(dataops, zero_and_discard_direct)
{
	zero_and_discard("direct");
}

Test(dataops, chain_runs_in_order)
{
	struct ops o;
	uint8_t *a, *b;
	uint64_t order[3];
	int res[3];
	int ret;

	ops_open(&o, "buffered");
	a = ringd_buf_alloc(o.rd, 4096, 4096);
	b = ringd_buf_alloc(o.rd, 4096, 4096);
	memset(a, 0x5a, 4096);
	memset(b, 0, 4096);
	struct ringd_sqe *sqe = ringd_get_sqe(o.rd);
	ringd_prep_write(sqe, o.h, a, 4096, 4096);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 0);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_fsync(sqe, o.h, RINGD_FSYNC_DATASYNC);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 1);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_read(sqe, o.h, b, 4096, 4096);
	ringd_sqe_set_data64(sqe, 2);
	ret = ringd_submit(o.rd);
	cr_assert_eq(ret, 3);
	reap(o.rd, 3, res, order);
	cr_assert_eq(res[0], 4096);
	cr_assert_eq(res[1], 0);
	cr_assert_eq(res[2], 4096);
	cr_assert_eq(order[0], 0);
	cr_assert_eq(order[1], 1);
	cr_assert_eq(order[2], 2);
	cr_assert_eq(memcmp(a, b, 4096), 0, "the read ran after the write");
	ringd_disconnect(o.rd);
}

Test(dataops, chain_failure_cancels_the_rest)
{
	struct ops o;
	uint8_t *a;
	int res[4];
	int ret;

	ops_open(&o, "buffered");
	a = ringd_buf_alloc(o.rd, 4096, 4096);
	memset(a, 0x77, 4096);
	/* A read past the extent fails: the two writes linked after it never run. */
	struct ringd_sqe *sqe = ringd_get_sqe(o.rd);
	ringd_prep_read(sqe, o.h, a, 4096, o.info.size);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 0);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_write(sqe, o.h, a, 4096, 8192);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 1);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_write(sqe, o.h, a, 4096, 12288);
	ringd_sqe_set_data64(sqe, 2);
	/* The chain ended: this one runs. */
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_nop(sqe);
	ringd_sqe_set_data64(sqe, 3);
	ret = ringd_submit(o.rd);
	cr_assert_eq(ret, 4);
	reap(o.rd, 4, res, NULL);
	cr_assert_eq(res[0], -EINVAL);
	cr_assert_eq(res[1], -ECANCELED);
	cr_assert_eq(res[2], -ECANCELED);
	cr_assert_eq(res[3], 0);
	char path[256];

	snprintf(path, sizeof(path), "%s/state/buffered.img", g_d.dir);
	cr_assert(it_file_is(path, 8192, 8192, 0), "a cancelled write landed");
	ringd_disconnect(o.rd);
}

Test(dataops, cancel_results)
{
	struct ops o;
	uint8_t *a;
	int res[3];
	int ret;

	ops_open(&o, "buffered");
	a = ringd_buf_alloc(o.rd, 4096, 4096);
	struct ringd_sqe *sqe = ringd_get_sqe(o.rd);
	ringd_prep_cancel64(sqe, 12345, 0);
	cr_assert_eq(it_run1(o.rd, sqe, 9), -ENOENT, "nothing to cancel");
	/* A read held behind a linked flush is cancelled before it starts. */
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_fsync(sqe, o.h, 0);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 0);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_read(sqe, o.h, a, 4096, 0);
	ringd_sqe_set_data64(sqe, 1);
	sqe = ringd_get_sqe(o.rd);
	ringd_prep_cancel64(sqe, 1, 0);
	ringd_sqe_set_data64(sqe, 2);
	ret = ringd_submit(o.rd);
	cr_assert_eq(ret, 3);
	reap(o.rd, 3, res, NULL);
	cr_assert_eq(res[0], 0, "fsync: %d", res[0]);
	cr_assert_eq(res[1], -ECANCELED, "read: %d", res[1]);
	cr_assert_eq(res[2], 0, "cancel: %d", res[2]);
	ringd_disconnect(o.rd);
}

Test(dataops, cancel_of_a_request_in_the_kernel)
{
	struct ops o;
	uint8_t *a;
	int res[2];
	unsigned int round, already = 0, cancelled = 0;

	ops_open(&o, "buffered");
	a = ringd_buf_alloc(o.rd, 4096, 4096);
	for (round = 0; round < 20; round++) {
		/* The read is issued before the cancel is taken: the kernel
		 * either stops it (0, and the read says -ECANCELED) or it is
		 * past stopping (-EALREADY, and the read completes). */
		struct ringd_sqe *sqe = ringd_get_sqe(o.rd);

		ringd_prep_read(sqe, o.h, a, 4096, (uint64_t)round * 4096);
		ringd_sqe_set_data64(sqe, 0);
		sqe = ringd_get_sqe(o.rd);
		ringd_prep_cancel64(sqe, 0, 0);
		ringd_sqe_set_data64(sqe, 1);
		cr_assert_eq(ringd_submit(o.rd), 2);
		reap(o.rd, 2, res, NULL);
		if (res[1] == -EALREADY) {
			cr_assert_eq(res[0], 4096, "read after -EALREADY: %d", res[0]);
			already++;
		} else {
			cr_assert_eq(res[1], 0, "cancel: %d", res[1]);
			cr_assert_eq(res[0], -ECANCELED, "read after a cancel: %d", res[0]);
			cancelled++;
		}
	}
	cr_log_info("cancel of an issued read: %u -EALREADY, %u cancelled", already, cancelled);
	ringd_disconnect(o.rd);
}

Test(dataops, chain_across_a_full_sq)
{
	struct ringd *rd;
	uint8_t *a, *b;
	int h, ret, res[12];
	uint64_t order[12];
	unsigned int i, n = 0;

	/* An 8-entry SQ: a chain of 12 goes in two submits, the link on the
	 * 8th SQE joining them. */
	ret = rt_connect(&g_d, 8, 32, 1u << 20, &rd);
	cr_assert_eq(ret, 0);
	h = ringd_open(rd, "buffered", RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	a = ringd_buf_alloc(rd, 11 * 4096, 4096);
	b = ringd_buf_alloc(rd, 4096, 4096);
	for (i = 0; i < 11; i++)
		memset(a + i * 4096, 0x40 + (int)i, 4096);
	for (i = 0; i < 12; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		if (!sqe) {
			unsigned int tries = 0;

			cr_assert_eq(ringd_submit(rd), 8, "the first 8");
			n = 8;
			/* Room again once the daemon took them (held, most of them). */
			while (!(sqe = ringd_get_sqe(rd)) && tries++ < 10000)
				usleep(500);
			cr_assert_not_null(sqe, "the daemon never took the first 8 SQEs");
		}
		/* Eleven writes of the same block, each with its own byte, then the read. */
		if (i < 11)
			ringd_prep_write(sqe, h, a + i * 4096, 4096, 1 << 20);
		else
			ringd_prep_read(sqe, h, b, 4096, 1 << 20);
		if (i < 11)
			ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
		ringd_sqe_set_data64(sqe, i);
	}
	cr_assert_eq(n, 8);
	cr_assert_eq(ringd_submit(rd), 4);
	reap(rd, 12, res, order);
	for (i = 0; i < 12; i++) {
		cr_assert_eq(res[i], 4096, "SQE %u: %d", i, res[i]);
		cr_assert_eq(order[i], i, "completion %u was SQE %llu", i,
			     (unsigned long long)order[i]);
	}
	cr_assert_eq(memcmp(b, a + 10 * 4096, 4096), 0, "the read saw the last write");
	ringd_disconnect(rd);
}
