/* SPDX-License-Identifier: MIT */
/*
 * Every error a tenant can see (issue 2 item 9), each checked for its code
 * and, for refused I/O, for the backing file being left byte-for-byte
 * untouched (the volumes are created sparse, so "untouched" is "all zero").
 */
#include <stdio.h>

#include "it.h"

static struct rt_daemon g_d;
static struct ringd *g_rd;

#define DATA_OFF  (1u << 20) /* extent of "data" inside data.img */
#define DATA_SIZE (2u << 20)
#define DATA_FILE (4u << 20)

static const char conf[] = "[volume data]\n"
			   "path = data.img\n"
			   "create_size = 4M\n"
			   "offset = 1M\n"
			   "size = 2M\n"
			   "\n"
			   "[volume direct]\n"
			   "path = direct.img\n"
			   "create_size = 4M\n"
			   "direct = yes\n"
			   "\n"
			   "[volume ro]\n"
			   "path = ro.img\n"
			   "create_size = 1M\n"
			   "readonly = yes\n"
			   "\n"
			   "[volume rog]\n"
			   "path = rog.img\n"
			   "create_size = 1M\n"
			   "\n"
			   "[volume secret]\n"
			   "path = secret.img\n"
			   "create_size = 1M\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = data:rw, direct:rw, ro:rw, rog:ro\n"
			   "max_sessions = 2\n"
			   "max_session_memory = 8M\n";

static void setup(void)
{
	int ret;

	rt_daemon_start(&g_d, conf);
	ret = rt_connect(&g_d, 16, 32, 1u << 20, &g_rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
}

static void teardown(void)
{
	ringd_disconnect(g_rd);
	g_rd = NULL;
	it_stop(&g_d);
}

static const char *backing(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/state/%s", g_d.dir, name);
	return path;
}

/* A 4K buffer in the data area full of non-zero bytes. */
static void *pattern_buf(size_t len)
{
	void *b = ringd_buf_alloc(g_rd, len, 4096);

	cr_assert_not_null(b);
	rt_fill(b, len, 99, 0);
	memset(b, 0xa5, 16);
	return b;
}

static void assert_untouched(const char *name, size_t len)
{
	cr_assert(it_file_is(backing(name), 0, len, 0), "%s was written to", name);
}

static void assert_rejected(unsigned long long n)
{
	struct ringd_stats st;

	cr_assert_eq(ringd_stats(g_rd, &st), 0);
	cr_assert_eq(st.rejected, n, "daemon counted %llu rejected SQEs, expected %llu",
		     (unsigned long long)st.rejected, n);
	cr_assert_eq(st.bytes_written, 0);
}

Test(errors, open_unknown_volume_is_enoent, .init = setup, .fini = teardown)
{
	cr_assert_eq(ringd_open(g_rd, "nope", RINGD_RDONLY, NULL), -ENOENT);
	cr_assert_eq(ringd_open(g_rd, "nope", RINGD_RDWR, NULL), -ENOENT);
	cr_assert_eq(ringd_open(g_rd, "", RINGD_RDONLY, NULL), -ENOENT);
}

Test(errors, open_not_granted_is_eacces, .init = setup, .fini = teardown)
{
	cr_assert_eq(ringd_open(g_rd, "secret", RINGD_RDONLY, NULL), -EACCES);
	cr_assert_eq(ringd_open(g_rd, "secret", RINGD_RDWR, NULL), -EACCES);
}

Test(errors, rdwr_of_ro_grant_is_eacces, .init = setup, .fini = teardown)
{
	int h;

	cr_assert_eq(ringd_open(g_rd, "rog", RINGD_RDWR, NULL), -EACCES);
	h = ringd_open(g_rd, "rog", RINGD_RDONLY, NULL);
	cr_assert_geq(h, 0, "RDONLY open of a ro grant: %d", h);
}

Test(errors, rdwr_of_readonly_volume_is_erofs, .init = setup, .fini = teardown)
{
	struct ringd_volume_info info;
	void *buf = pattern_buf(4096);
	int h;

	cr_assert_eq(ringd_open(g_rd, "ro", RINGD_RDWR, NULL), -EROFS);
	h = ringd_open(g_rd, "ro", RINGD_RDONLY, &info);
	cr_assert_geq(h, 0);
	cr_assert(info.flags & RINGD_VOL_READONLY);
	cr_assert_eq(it_read(g_rd, h, buf, 4096, 0), 4096, "reading a read-only volume works");
	cr_assert(it_file_is(backing("ro.img"), 0, 1u << 20, 0));
}

Test(errors, write_on_rdonly_handle_is_ebadf, .init = setup, .fini = teardown)
{
	void *buf = pattern_buf(4096);
	int h = ringd_open(g_rd, "data", RINGD_RDONLY, NULL);
	int h2 = ringd_open(g_rd, "rog", RINGD_RDONLY, NULL);

	cr_assert_geq(h, 0);
	cr_assert_geq(h2, 0);
	cr_assert_eq(it_write(g_rd, h, buf, 4096, 0), -EBADF);
	cr_assert_eq(it_write(g_rd, h2, buf, 4096, 0), -EBADF);
	assert_untouched("data.img", DATA_FILE);
	assert_untouched("rog.img", 1u << 20);
	assert_rejected(2);
}

Test(errors, invalid_or_closed_handle_is_ebadf, .init = setup, .fini = teardown)
{
	static const int bad[] = { -1, 5, 63, 64, 1000, 0x7fffffff };
	void *buf = pattern_buf(4096);
	unsigned int i;
	int h;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(it_write(g_rd, bad[i], buf, 4096, 0), -EBADF, "handle %d", bad[i]);
		cr_assert_eq(it_read(g_rd, bad[i], buf, 4096, 0), -EBADF, "handle %d", bad[i]);
	}
	h = ringd_open(g_rd, "data", RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	cr_assert_eq(ringd_close(g_rd, h), 0);
	cr_assert_eq(ringd_close(g_rd, h), -EBADF, "closing twice");
	cr_assert_eq(it_write(g_rd, h, buf, 4096, 0), -EBADF, "write on a closed handle");
	assert_untouched("data.img", DATA_FILE);
	assert_rejected(2 * i + 1);
}

Test(errors, outside_extent_is_einval, .init = setup, .fini = teardown)
{
	struct ringd_volume_info info;
	void *buf = pattern_buf(8192);
	int h = ringd_open(g_rd, "data", RINGD_RDWR, &info);

	cr_assert_geq(h, 0);
	cr_assert_eq(info.size, DATA_SIZE);
	cr_assert_eq(it_write(g_rd, h, buf, 4096, DATA_SIZE), -EINVAL, "at the end");
	cr_assert_eq(it_write(g_rd, h, buf, 8192, DATA_SIZE - 4096), -EINVAL, "straddling");
	cr_assert_eq(it_write(g_rd, h, buf, 4096, DATA_FILE), -EINVAL, "in the backing's tail");
	cr_assert_eq(it_write(g_rd, h, buf, 4096, UINT64_MAX - 1023), -EINVAL, "off+len wraps");
	cr_assert_eq(it_write(g_rd, h, buf, 4096, UINT64_MAX - DATA_OFF + 1), -EINVAL,
		     "base+off wraps to the backing's head");
	cr_assert_eq(it_read(g_rd, h, buf, 4096, DATA_SIZE), -EINVAL, "reads too");
	assert_untouched("data.img", DATA_FILE);
	assert_rejected(6);

	/* Control: the last block of the extent lands just below its end. */
	cr_assert_eq(it_write(g_rd, h, buf, 4096, DATA_SIZE - 4096), 4096);
	cr_assert(it_file_is(backing("data.img"), 0, DATA_OFF + DATA_SIZE - 4096, 0));
	cr_assert(it_file_is(backing("data.img"), DATA_OFF + DATA_SIZE,
			     DATA_FILE - DATA_OFF - DATA_SIZE, 0),
		  "a write at the end of the extent spilled past it");
	cr_assert_not(it_file_is(backing("data.img"), DATA_OFF + DATA_SIZE - 4096, 4096, 0));
}

Test(errors, buffer_outside_data_area_is_efault, .init = setup, .fini = teardown)
{
	char stackbuf[4096];
	char *heap = malloc(4096), *region;
	size_t rlen;
	struct ringd_sqe *sqe;
	int h = ringd_open(g_rd, "data", RINGD_RDWR, NULL);

	cr_assert_geq(h, 0);
	cr_assert_not_null(heap);
	memset(stackbuf, 0x5a, sizeof(stackbuf));
	memset(heap, 0x5a, 4096);
	region = ringd_buf_region(g_rd, &rlen);
	cr_assert_not_null(region);
	cr_assert_eq(it_write(g_rd, h, stackbuf, 4096, 0), -EFAULT, "stack buffer");
	cr_assert_eq(it_write(g_rd, h, heap, 4096, 0), -EFAULT, "heap buffer");
	cr_assert_eq(it_write(g_rd, h, region + rlen - 100, 4096, 0), -EFAULT,
		     "straddling the end of the data area");
	cr_assert_eq(it_write(g_rd, h, region - 4096, 4096, 0), -EFAULT, "just below it");
	/* SQE fields written directly: an absurd address. */
	sqe = ringd_get_sqe(g_rd);
	ringd_prep_write(sqe, h, region, 4096, 0);
	sqe->addr = UINT64_MAX - 10;
	cr_assert_eq(it_run1(g_rd, sqe, 77), -EFAULT, "addr near 2^64");
	/* A read into the stack must not land there either. */
	cr_assert_eq(it_read(g_rd, h, stackbuf, 4096, 0), -EFAULT);
	cr_assert_eq(stackbuf[0], 0x5a);
	cr_assert_eq(stackbuf[4095], 0x5a);
	assert_untouched("data.img", DATA_FILE);
	assert_rejected(6);
	free(heap);
}

Test(errors, misaligned_on_direct_is_einval, .init = setup, .fini = teardown)
{
	struct ringd_volume_info info;
	char *buf = pattern_buf(3 * 4096);
	int h = ringd_open(g_rd, "direct", RINGD_RDWR, &info);
	uint32_t a;

	cr_assert_geq(h, 0);
	cr_assert(info.flags & RINGD_VOL_DIRECT);
	if (info.align < 2)
		cr_skip_test("the direct volume requires no alignment on this filesystem");
	a = info.align;
	cr_assert_eq(it_write(g_rd, h, buf, a, a / 2), -EINVAL, "offset");
	cr_assert_eq(it_write(g_rd, h, buf, a + 1, 0), -EINVAL, "length");
	cr_assert_eq(it_write(g_rd, h, buf + 1, a, 0), -EINVAL, "buffer");
	cr_assert_eq(it_read(g_rd, h, buf, a - 1, 0), -EINVAL, "reads too");
	assert_untouched("direct.img", 4u << 20);
	assert_rejected(4);
	cr_assert_eq(it_write(g_rd, h, buf, a, a), (int)a, "aligned control");
}

Test(errors, over_max_sessions_is_edquot, .init = setup, .fini = teardown)
{
	struct ringd *rd2, *rd3;
	int ret;

	/* The harness's start-up probe was a session of this tenant too, until
	 * the daemon saw it hang up. */
	cr_assert(rt_wait_for(5000, (ret = rt_connect(&g_d, 0, 0, 1u << 20, &rd2)) != -EDQUOT));
	cr_assert_eq(ret, 0, "second session: %s", strerror(-ret));
	ret = rt_connect(&g_d, 0, 0, 1u << 20, &rd3);
	cr_assert_eq(ret, -EDQUOT, "third session: %d", ret);
	ringd_disconnect(rd2);
	/* The quota comes back once the daemon has seen the disconnect. */
	cr_assert(rt_wait_for(5000, (ret = rt_connect(&g_d, 0, 0, 1u << 20, &rd3)) == 0),
		  "no session after a disconnect: %d", ret);
	ringd_disconnect(rd3);
}

Test(errors, data_area_over_quota_is_enomem, .init = setup, .fini = teardown)
{
	struct ringd *rd;
	int ret;

	/* Wait out the harness's start-up probe session (see above). */
	cr_assert(rt_wait_for(5000, (ret = rt_connect(&g_d, 0, 0, 16u << 20, &rd)) != -EDQUOT));
	cr_assert_eq(ret, -ENOMEM, "16M data area with an 8M quota: %d", ret);
	cr_assert(rt_wait_for(5000, (ret = rt_connect(&g_d, 0, 0, 8u << 20, &rd)) != -EDQUOT));
	cr_assert_eq(ret, -ENOMEM, "rings + 8M data area with an 8M quota: %d", ret);
}

static int stranger_connect(void *arg)
{
	struct ringd_opts o = { .socket_path = arg };
	struct ringd *rd;
	int ret = ringd_connect(&o, &rd);

	if (!ret)
		ringd_disconnect(rd);
	return ret == -EACCES ? 0 : 100 + (-ret & 0xff);
}

Test(errors, uid_without_tenant_is_eacces, .init = setup, .fini = teardown)
{
	pid_t pid = rt_fork_as(RT_UID_STRANGER, RT_UID_STRANGER, stranger_connect, g_d.sock);
	int st;

	cr_assert_gt(pid, 0);
	st = rt_wait_child(pid);
	cr_assert_eq(st, 0, "stranger's connect: exit %d (100 + errno, 0 means -EACCES)", st);
}

Test(errors, io_above_max_io_size_is_einval, .init = setup, .fini = teardown)
{
	size_t rlen;
	char *region = ringd_buf_region(g_rd, &rlen);
	int h = ringd_open(g_rd, "data", RINGD_RDWR, NULL);

	cr_assert_geq(h, 0);
	cr_assert_geq(rlen, 1u << 20);
	memset(region, 0x3c, 1u << 20);
	/* max_io_size defaults to 1M: one byte more is refused before anything else. */
	cr_assert_eq(it_write(g_rd, h, region, (1u << 20) + 1, 0), -EINVAL);
	cr_assert_eq(it_write(g_rd, h, region, UINT32_MAX, 0), -EINVAL);
	cr_assert_eq(it_write(g_rd, h, region, 0, 0), -EINVAL, "len 0");
	assert_untouched("data.img", DATA_FILE);
	assert_rejected(3);
	cr_assert_eq(it_write(g_rd, h, region, 1u << 20, 0), 1 << 20, "exactly max_io_size");
}

Test(errors, malformed_sqe_fields_are_refused, .init = setup, .fini = teardown)
{
	void *buf = pattern_buf(4096);
	struct ringd_sqe *sqe;
	int h = ringd_open(g_rd, "data", RINGD_RDWR, NULL);
	unsigned int i;

	cr_assert_geq(h, 0);
	sqe = ringd_get_sqe(g_rd);
	ringd_prep_write(sqe, h, buf, 4096, 0);
	sqe->opcode = 99;
	cr_assert_eq(it_run1(g_rd, sqe, 1), -EOPNOTSUPP, "unknown opcode");
	for (i = 0; i < 6; i++) {
		sqe = ringd_get_sqe(g_rd);
		ringd_prep_write(sqe, h, buf, 4096, 0);
		switch (i) {
		case 0:
			sqe->flags = 0x80; /* not RINGD_SQE_LINK */
			break;
		case 1:
			sqe->ioprio = 7;
			break;
		case 2:
			sqe->op_flags = 2; /* bit 0 is RINGD_RW_DSYNC on a write */
			break;
		case 5:
			sqe->buf_base = 1;
			break;
		default:
			sqe->resv[i - 3] = 1;
			break;
		}
		cr_assert_eq(it_run1(g_rd, sqe, 2 + i), -EINVAL, "field %u", i);
	}
	sqe = ringd_get_sqe(g_rd);
	ringd_prep_fsync(sqe, h, 0x80);
	cr_assert_eq(it_run1(g_rd, sqe, 9), -EINVAL, "unknown fsync flag");
	sqe = ringd_get_sqe(g_rd);
	ringd_prep_nop(sqe);
	sqe->len = 4096;
	cr_assert_eq(it_run1(g_rd, sqe, 10), -EINVAL, "nop with a length");
	assert_untouched("data.img", DATA_FILE);
	assert_rejected(9);
}
