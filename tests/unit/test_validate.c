/* SPDX-License-Identifier: MIT */
/* val_sqe: every rule of daemon/validate.h, one test per rule. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "validate.h"

/*
 * Two volumes: 0 buffered (base 1M, size 64K, align 1) and 1 direct
 * (base 8M, size 1M, align 4096, read-only). Handles: 0 rw on vol 0,
 * 1 ro on vol 0, 2 rw on vol 1, 3 closed, 4 open on a bogus volume index.
 */
static const struct val_vol g_vols[] = {
	{ .base = 1u << 20, .size = 64u << 10, .align = 1, .file_slot = 5 },
	{ .base = 8u << 20, .size = 1u << 20, .align = 4096, .file_slot = 7, .readonly = true },
};
static const struct val_handle g_handles[] = {
	{ .open = true, .writable = true, .vol = 0 }, { .open = true, .writable = false, .vol = 0 },
	{ .open = true, .writable = true, .vol = 1 }, { .open = false, .writable = true, .vol = 0 },
	{ .open = true, .writable = true, .vol = 9 },
};
static const struct val_ctx g_ctx = {
	.handles = g_handles,
	.nhandles = 5,
	.vols = g_vols,
	.nvols = 2,
	.data_size = 1u << 20,
	.max_io = 128u << 10,
};

static struct ringd_sqe rw(uint8_t op, int handle, uint64_t off, uint64_t addr, uint32_t len)
{
	struct ringd_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = op;
	s.handle = handle;
	s.off = off;
	s.addr = addr;
	s.len = len;
	s.user_data = 0xdeadbeefcafef00dull;
	return s;
}

static int check(const struct ringd_sqe *s)
{
	struct val_io io;
	int ret = val_sqe(s, &g_ctx, &io);
	static const struct val_io zero;

	/* A refused SQE leaves nothing usable behind. */
	if (ret)
		cr_assert_eq(memcmp(&io, &zero, sizeof(io)), 0, "refused SQE filled val_io");
	return ret;
}

Test(validate, nop_ok)
{
	struct ringd_sqe sqe = { .opcode = RINGD_OP_NOP, .user_data = 7 };
	struct val_ctx ctx = { 0 };
	struct val_io io;

	cr_assert_eq(val_sqe(&sqe, &ctx, &io), 0);
	cr_assert_eq(io.op, RINGD_OP_NOP);
}

Test(validate, nop_with_any_field_is_einval)
{
	struct ringd_sqe s;

	s = rw(RINGD_OP_NOP, 0, 0, 0, 0);
	cr_assert_eq(check(&s), 0);
	s.handle = 1;
	cr_assert_eq(check(&s), -EINVAL, "handle");
	s = rw(RINGD_OP_NOP, 0, 1, 0, 0);
	cr_assert_eq(check(&s), -EINVAL, "off");
	s = rw(RINGD_OP_NOP, 0, 0, 1, 0);
	cr_assert_eq(check(&s), -EINVAL, "addr");
	s = rw(RINGD_OP_NOP, 0, 0, 0, 1);
	cr_assert_eq(check(&s), -EINVAL, "len");
	s = rw(RINGD_OP_NOP, 0, 0, 0, 0);
	s.op_flags = 1;
	cr_assert_eq(check(&s), -EINVAL, "op_flags");
}

Test(validate, unknown_opcode_is_eopnotsupp)
{
	struct ringd_sqe s = rw(RINGD_OP_LAST, 0, 0, 0, 4096);
	unsigned int op;

	cr_assert_eq(check(&s), -EOPNOTSUPP);
	for (op = RINGD_OP_LAST; op < 256; op++) {
		s.opcode = (uint8_t)op;
		cr_assert_eq(check(&s), -EOPNOTSUPP, "opcode %u", op);
	}
}

Test(validate, unknown_opcode_wins_over_reserved_fields)
{
	struct ringd_sqe s = rw(200, 0, 0, 0, 0);

	s.flags = 1;
	s.resv[0] = 1;
	cr_assert_eq(check(&s), -EOPNOTSUPP);
}

Test(validate, read_ok)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 1, 4096, 8192, 4096);
	struct val_io io;

	cr_assert_eq(val_sqe(&s, &g_ctx, &io), 0);
	cr_assert_eq(io.op, RINGD_OP_READ);
	cr_assert_eq(io.vol, 0);
	cr_assert_eq(io.file_slot, 5);
	cr_assert_eq(io.buf_off, 8192);
	cr_assert_eq(io.len, 4096);
	cr_assert_not(io.datasync);
}

Test(validate, write_ok_and_dev_off_is_base_plus_off)
{
	struct ringd_sqe s = rw(RINGD_OP_WRITE, 0, 123, 77, 1000);
	struct val_io io;

	cr_assert_eq(val_sqe(&s, &g_ctx, &io), 0);
	cr_assert_eq(io.op, RINGD_OP_WRITE);
	cr_assert_eq(io.dev_off, (1u << 20) + 123, "dev_off %llu", (unsigned long long)io.dev_off);
	cr_assert_eq(io.buf_off, 77);
	cr_assert_eq(io.len, 1000);

	s = rw(RINGD_OP_READ, 2, 4096, 0, 8192);
	cr_assert_eq(val_sqe(&s, &g_ctx, &io), 0);
	cr_assert_eq(io.dev_off, (8u << 20) + 4096);
	cr_assert_eq(io.file_slot, 7);
	cr_assert_eq(io.vol, 1);
}

Test(validate, fsync_ok_and_datasync)
{
	struct ringd_sqe s = rw(RINGD_OP_FSYNC, 1, 0, 0, 0);
	struct val_io io;

	/* fsync needs no write right: flushing is harmless. */
	cr_assert_eq(val_sqe(&s, &g_ctx, &io), 0);
	cr_assert_eq(io.op, RINGD_OP_FSYNC);
	cr_assert_not(io.datasync);
	cr_assert_eq(io.file_slot, 5);
	s.op_flags = RINGD_FSYNC_DATASYNC;
	cr_assert_eq(val_sqe(&s, &g_ctx, &io), 0);
	cr_assert(io.datasync);
}

Test(validate, fsync_with_fields_or_unknown_flags_is_einval)
{
	struct ringd_sqe s;

	s = rw(RINGD_OP_FSYNC, 0, 4096, 0, 0);
	cr_assert_eq(check(&s), -EINVAL, "off");
	s = rw(RINGD_OP_FSYNC, 0, 0, 64, 0);
	cr_assert_eq(check(&s), -EINVAL, "addr");
	s = rw(RINGD_OP_FSYNC, 0, 0, 0, 4096);
	cr_assert_eq(check(&s), -EINVAL, "len");
	s = rw(RINGD_OP_FSYNC, 0, 0, 0, 0);
	s.op_flags = 2;
	cr_assert_eq(check(&s), -EINVAL, "op_flags");
}

Test(validate, fsync_bad_handle_is_ebadf)
{
	struct ringd_sqe s = rw(RINGD_OP_FSYNC, 3, 0, 0, 0);

	cr_assert_eq(check(&s), -EBADF);
	s.handle = 99;
	cr_assert_eq(check(&s), -EBADF);
	s.handle = -1;
	cr_assert_eq(check(&s), -EBADF);
}

Test(validate, nonzero_flags_ioprio_resv_are_einval)
{
	static const uint8_t ops[] = { RINGD_OP_NOP, RINGD_OP_READ, RINGD_OP_WRITE,
				       RINGD_OP_FSYNC };
	unsigned int i, f;

	for (i = 0; i < sizeof(ops); i++) {
		for (f = 0; f < 5; f++) {
			struct ringd_sqe s = rw(ops[i], 0, 0, 0, 0);

			if (ops[i] == RINGD_OP_READ || ops[i] == RINGD_OP_WRITE)
				s.len = 512;
			cr_assert_eq(check(&s), 0, "op %u baseline", ops[i]);
			switch (f) {
			case 0:
				s.flags = 0x80;
				break;
			case 1:
				s.ioprio = 1;
				break;
			case 4:
				s.buf_base = 1ull << 63; /* only vectored ops carry it */
				break;
			default:
				s.resv[f - 2] = 1ull << 63;
				break;
			}
			cr_assert_eq(check(&s), -EINVAL, "op %u field %u", ops[i], f);
		}
	}
}

Test(validate, rw_op_flags_are_einval)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 0, 0, 0, 512);

	/* A read takes no op_flags; a write only RINGD_RW_DSYNC. */
	s.op_flags = RINGD_RW_DSYNC;
	cr_assert_eq(check(&s), -EINVAL);
	s.opcode = RINGD_OP_WRITE;
	s.op_flags = 2;
	cr_assert_eq(check(&s), -EINVAL);
}

Test(validate, handle_out_of_range_is_ebadf)
{
	static const int bad[] = { -1, -2147483647 - 1, 5, 6, 1000, 2147483647 };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ringd_sqe s = rw(RINGD_OP_READ, bad[i], 0, 0, 512);

		cr_assert_eq(check(&s), -EBADF, "handle %d", bad[i]);
		s.opcode = RINGD_OP_WRITE;
		cr_assert_eq(check(&s), -EBADF, "handle %d", bad[i]);
	}
}

Test(validate, closed_handle_is_ebadf)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 3, 0, 0, 512);

	cr_assert_eq(check(&s), -EBADF);
	s.opcode = RINGD_OP_WRITE;
	cr_assert_eq(check(&s), -EBADF);
}

Test(validate, handle_on_unknown_volume_is_ebadf)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 4, 0, 0, 512);

	cr_assert_eq(check(&s), -EBADF);
}

Test(validate, empty_handle_table_is_ebadf)
{
	struct val_ctx ctx = g_ctx;
	struct ringd_sqe s = rw(RINGD_OP_READ, 0, 0, 0, 512);
	struct val_io io;

	ctx.nhandles = 0;
	cr_assert_eq(val_sqe(&s, &ctx, &io), -EBADF);
}

Test(validate, write_on_rdonly_handle_is_ebadf)
{
	struct ringd_sqe s = rw(RINGD_OP_WRITE, 1, 0, 0, 512);

	cr_assert_eq(check(&s), -EBADF);
	s.opcode = RINGD_OP_READ;
	cr_assert_eq(check(&s), 0, "reading through it is fine");
}

Test(validate, len_zero_is_einval)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 0, 0, 0, 0);

	cr_assert_eq(check(&s), -EINVAL);
	s.opcode = RINGD_OP_WRITE;
	cr_assert_eq(check(&s), -EINVAL);
}

Test(validate, len_above_max_io_is_einval)
{
	/* The direct volume (1M) is larger than max_io (128K). */
	struct ringd_sqe s = rw(RINGD_OP_READ, 2, 0, 0, g_ctx.max_io);

	cr_assert_eq(check(&s), 0, "exactly max_io is fine");
	s.len = g_ctx.max_io + 4096;
	cr_assert_eq(check(&s), -EINVAL);
	s.len = UINT32_MAX;
	cr_assert_eq(check(&s), -EINVAL);
}

Test(validate, extent_bounds)
{
	uint64_t size = g_vols[0].size;
	struct ringd_sqe s = rw(RINGD_OP_WRITE, 0, size - 512, 0, 512);

	cr_assert_eq(check(&s), 0, "last 512 bytes");
	s.off = size - 511;
	cr_assert_eq(check(&s), -EINVAL, "one byte past the end");
	s.off = size;
	cr_assert_eq(check(&s), -EINVAL, "at the end");
	s.off = size + (1u << 20);
	cr_assert_eq(check(&s), -EINVAL, "far past the end");
	s.opcode = RINGD_OP_READ;
	cr_assert_eq(check(&s), -EINVAL, "reads too");
}

Test(validate, extent_overflow_is_einval)
{
	struct ringd_sqe s = rw(RINGD_OP_WRITE, 0, UINT64_MAX - 100, 0, 512);

	/* off + len wraps to a small number that would pass a naive check. */
	cr_assert_eq(check(&s), -EINVAL);
	s.off = UINT64_MAX;
	s.len = 1;
	cr_assert_eq(check(&s), -EINVAL);
	s.off = UINT64_MAX - 511;
	s.len = 512;
	cr_assert_eq(check(&s), -EINVAL);
}

Test(validate, dev_off_overflow_is_einval)
{
	/* A hostile table cannot happen, but base + off must not wrap either. */
	struct val_vol vols[] = { { .base = UINT64_MAX - 4095, .size = UINT64_MAX, .align = 1 } };
	struct val_handle h[] = { { .open = true, .writable = true, .vol = 0 } };
	struct val_ctx ctx = g_ctx;
	struct ringd_sqe s = rw(RINGD_OP_READ, 0, 8192, 0, 512);
	struct val_io io;

	ctx.vols = vols;
	ctx.nvols = 1;
	ctx.handles = h;
	ctx.nhandles = 1;
	cr_assert_eq(val_sqe(&s, &ctx, &io), -EINVAL);
}

Test(validate, buffer_outside_data_area_is_efault)
{
	uint64_t ds = g_ctx.data_size;
	struct ringd_sqe s = rw(RINGD_OP_READ, 0, 0, ds - 512, 512);

	cr_assert_eq(check(&s), 0, "last 512 bytes of the area");
	s.addr = ds - 511;
	cr_assert_eq(check(&s), -EFAULT, "one byte past");
	s.addr = ds;
	cr_assert_eq(check(&s), -EFAULT, "at the end");
	s.addr = 1ull << 40;
	cr_assert_eq(check(&s), -EFAULT, "far away");
	s.opcode = RINGD_OP_WRITE;
	cr_assert_eq(check(&s), -EFAULT, "writes too");
}

Test(validate, buffer_overflow_is_efault)
{
	struct ringd_sqe s = rw(RINGD_OP_WRITE, 0, 0, UINT64_MAX - 100, 512);

	cr_assert_eq(check(&s), -EFAULT);
	/* What a client pointer below the data area becomes after submit. */
	s.addr = (uint64_t)-4096;
	cr_assert_eq(check(&s), -EFAULT);
}

Test(validate, misaligned_on_direct_volume_is_einval)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 2, 4096, 8192, 4096);

	cr_assert_eq(check(&s), 0, "aligned");
	s.off = 4096 + 512;
	cr_assert_eq(check(&s), -EINVAL, "offset");
	s.off = 4096;
	s.len = 4096 + 512;
	cr_assert_eq(check(&s), -EINVAL, "length");
	s.len = 4096;
	s.addr = 8192 + 1;
	cr_assert_eq(check(&s), -EINVAL, "buffer");
	s.opcode = RINGD_OP_WRITE;
	cr_assert_eq(check(&s), -EINVAL, "writes too");
}

Test(validate, unaligned_on_buffered_volume_is_ok)
{
	struct ringd_sqe s = rw(RINGD_OP_WRITE, 0, 3, 5, 7);

	cr_assert_eq(check(&s), 0);
}

Test(validate, precedence_is_deterministic)
{
	struct ringd_sqe s;

	/* reserved field beats bad handle */
	s = rw(RINGD_OP_READ, 99, 0, 0, 512);
	s.resv[1] = 1;
	cr_assert_eq(check(&s), -EINVAL);
	/* bad handle beats bad extent and bad buffer */
	s = rw(RINGD_OP_READ, 99, UINT64_MAX, UINT64_MAX, 512);
	cr_assert_eq(check(&s), -EBADF);
	/* bad extent beats bad buffer */
	s = rw(RINGD_OP_READ, 0, UINT64_MAX, UINT64_MAX, 512);
	cr_assert_eq(check(&s), -EINVAL);
	/* bad buffer beats misalignment */
	s = rw(RINGD_OP_READ, 2, 4096, UINT64_MAX - 1, 4096);
	cr_assert_eq(check(&s), -EFAULT);
}

Test(validate, user_data_does_not_matter)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 0, 0, 0, 512);

	s.user_data = UINT64_MAX;
	cr_assert_eq(check(&s), 0);
	s.user_data = 0;
	cr_assert_eq(check(&s), 0);
}

Test(validate, fetch_copies_every_byte)
{
	struct ringd_sqe shared, copy;
	unsigned int i;

	for (i = 0; i < sizeof(shared); i++)
		((uint8_t *)&shared)[i] = (uint8_t)(i * 7 + 1);
	memset(&copy, 0, sizeof(copy));
	val_sqe_fetch(&copy, &shared);
	cr_assert_eq(memcmp(&copy, &shared, sizeof(copy)), 0);
}

Test(validate, fetch_result_is_independent_of_shared)
{
	struct ringd_sqe shared = rw(RINGD_OP_WRITE, 0, 0, 0, 512), copy;
	struct val_io io;

	val_sqe_fetch(&copy, &shared);
	cr_assert_eq(val_sqe(&copy, &g_ctx, &io), 0);
	/* The client rewrites its SQE after the fetch: our copy is unaffected. */
	shared.off = UINT64_MAX;
	shared.addr = UINT64_MAX;
	shared.handle = 3;
	cr_assert_eq(copy.off, 0);
	cr_assert_eq(copy.addr, 0);
	cr_assert_eq(copy.handle, 0);
	cr_assert_eq(val_sqe(&copy, &g_ctx, &io), 0);
	cr_assert_eq(io.dev_off, g_vols[0].base);
}

/*
 * The operations of issue 11: READV/WRITEV (an iovec array in the data
 * area, client pointers translated by buf_base), DISCARD/WRITE_ZEROES,
 * CANCEL, RINGD_RW_DSYNC and RINGD_SQE_LINK. Their own context, with a
 * real data area for the iovec arrays:
 *   vol 0 buffered file (base 1M, 64K, align 1)
 *   vol 1 direct file   (base 8M, 1M, align 4096, zero_align 4096)
 *   vol 2 block device  (base 16M + 512, 1M, align 1, zero_align 512)
 *   vol 3 removed by a reload
 * Handles: 0 rw vol 0, 1 ro vol 0, 2 rw vol 1, 3 closed, 4 rw vol 2,
 * 5 write access revoked on vol 0, 6 all access revoked, 7 rw vol 3.
 */
#define V_AREA	   (16u << 10)
#define V_BUF_BASE 0x7f5500000000ull /* where the client mapped its data area */
#define V_MAX_IO   (128u << 10)

static uint64_t g_area[V_AREA / 8]; /* 8-byte aligned, like the real (page-aligned) area */

static const struct val_vol g_vvols[] = {
	{ .base = 1u << 20, .size = 64u << 10, .align = 1, .zero_align = 1, .file_slot = 5 },
	{ .base = 8u << 20, .size = 1u << 20, .align = 4096, .zero_align = 4096, .file_slot = 7 },
	{ .base = (16u << 20) + 512,
	  .size = 1u << 20,
	  .align = 1,
	  .zero_align = 512,
	  .file_slot = 9 },
	{ .base = 32u << 20, .size = 1u << 20, .align = 1, .file_slot = 11, .removed = true },
};
static const struct val_handle g_vhandles[] = {
	{ .open = true, .writable = true, .vol = 0 },
	{ .open = true, .writable = false, .vol = 0 },
	{ .open = true, .writable = true, .vol = 1 },
	{ .open = false, .writable = true, .vol = 0 },
	{ .open = true, .writable = true, .vol = 2 },
	{ .open = true, .writable = false, .write_revoked = true, .vol = 0 },
	{ .open = true, .writable = true, .revoked = -EACCES, .vol = 0 },
	{ .open = true, .writable = true, .vol = 3 },
};

static struct val_ctx vctx(void)
{
	struct val_ctx c = {
		.handles = g_vhandles,
		.nhandles = sizeof(g_vhandles) / sizeof(g_vhandles[0]),
		.vols = g_vvols,
		.nvols = sizeof(g_vvols) / sizeof(g_vvols[0]),
		.data = (const uint8_t *)g_area,
		.data_size = V_AREA,
		.max_io = V_MAX_IO,
	};

	return c;
}

static struct val_vec g_vecs[RINGD_MAX_VECS];
static struct val_io g_io; /* the last vcheck()'s result */

/* val_sqe() on vctx(); a refused SQE must leave val_io all zero. */
static int vcheck(const struct ringd_sqe *s)
{
	static const struct val_io zero;
	struct val_ctx c = vctx();
	int ret;

	memset(&g_io, 0xa5, sizeof(g_io));
	memset(g_vecs, 0xa5, sizeof(g_vecs));
	g_io.vecs = g_vecs;
	ret = val_sqe(s, &c, &g_io);
	if (ret)
		cr_assert_eq(memcmp(&g_io, &zero, sizeof(g_io)), 0, "refused SQE filled val_io");
	return ret;
}

/* Vector @i of the iovec array at area offset @arr: client pointer @ptr, @len bytes. */
static void put_iov(uint64_t arr, unsigned int i, uint64_t ptr, uint64_t len)
{
	uint64_t *w = &g_area[(arr + 16u * i) / 8];

	w[0] = ptr;
	w[1] = len;
}

/* A READV/WRITEV of @n vectors whose array is at area offset @arr. */
static struct ringd_sqe rwv(uint8_t op, int handle, uint64_t off, uint64_t arr, uint32_t n)
{
	struct ringd_sqe s = rw(op, handle, off, arr, n);

	s.buf_base = V_BUF_BASE;
	return s;
}

/* A DISCARD/WRITE_ZEROES of @len bytes at @off. */
static struct ringd_sqe zr(uint8_t op, int handle, uint64_t off, uint64_t len)
{
	return rw(op, handle, off, len, 0);
}

Test(validate_v, readv_ok_translates_client_pointers)
{
	struct ringd_sqe s = rwv(RINGD_OP_READV, 1, 4096, 0, 3);

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE + 4096, 512);
	put_iov(0, 1, V_BUF_BASE + 100, 1);
	put_iov(0, 2, V_BUF_BASE + V_AREA - 1000, 1000);
	cr_assert_eq(vcheck(&s), 0, "a read needs no write access");
	cr_assert_eq(g_io.op, RINGD_OP_READV);
	cr_assert_eq(g_io.vol, 0);
	cr_assert_eq(g_io.file_slot, 5);
	cr_assert_eq(g_io.dev_off, (1u << 20) + 4096);
	cr_assert_eq(g_io.len, 1513);
	cr_assert_eq(g_io.nvecs, 3);
	cr_assert_eq(g_io.vecs, g_vecs, "the caller's storage is kept");
	cr_assert_eq(g_io.vecs[0].off, 4096);
	cr_assert_eq(g_io.vecs[0].len, 512);
	cr_assert_eq(g_io.vecs[1].off, 100);
	cr_assert_eq(g_io.vecs[1].len, 1);
	cr_assert_eq(g_io.vecs[2].off, V_AREA - 1000);
	cr_assert_eq(g_io.vecs[2].len, 1000);
	cr_assert_not(g_io.dsync);
	cr_assert_not(g_io.link);
	cr_assert_eq(g_io.buf_off, 0);
}

Test(validate_v, writev_ok_with_dsync_and_link)
{
	struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 0, 0, 8, 2);

	memset(g_area, 0, sizeof(g_area));
	put_iov(8, 0, V_BUF_BASE + 8192, 4096);
	put_iov(8, 1, V_BUF_BASE + 12288, 4096);
	s.op_flags = RINGD_RW_DSYNC;
	s.flags = RINGD_SQE_LINK;
	cr_assert_eq(vcheck(&s), 0);
	cr_assert_eq(g_io.op, RINGD_OP_WRITEV);
	cr_assert(g_io.dsync);
	cr_assert(g_io.link);
	cr_assert_eq(g_io.len, 8192);
	cr_assert_eq(g_io.nvecs, 2);
	cr_assert_eq(g_io.vecs[1].off, 12288);
}

Test(validate_v, buf_base_is_the_clients_own_business)
{
	/* Pointers are only meaningful relative to buf_base: any base works. */
	static const uint64_t bases[] = { 0, 4096, V_BUF_BASE, UINT64_MAX - V_AREA + 1 };
	unsigned int i;

	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 0, 0, 0, 1);

		s.buf_base = bases[i];
		memset(g_area, 0, sizeof(g_area));
		put_iov(0, 0, bases[i] + 64, 256);
		cr_assert_eq(vcheck(&s), 0, "base %#llx", (unsigned long long)bases[i]);
		cr_assert_eq(g_io.vecs[0].off, 64);
	}
}

Test(validate_v, vector_count_0_and_65_are_einval)
{
	struct ringd_sqe s = rwv(RINGD_OP_READV, 0, 0, 0, 0);
	unsigned int i;

	memset(g_area, 0, sizeof(g_area));
	for (i = 0; i < RINGD_MAX_VECS + 1; i++)
		put_iov(0, i, V_BUF_BASE + 4096 + i * 64, 64);
	cr_assert_eq(vcheck(&s), -EINVAL, "0 vectors");
	s.len = RINGD_MAX_VECS + 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "65 vectors");
	s.len = UINT32_MAX;
	cr_assert_eq(vcheck(&s), -EINVAL, "2^32 - 1 vectors");
	s.len = RINGD_MAX_VECS;
	cr_assert_eq(vcheck(&s), 0, "64 vectors");
	cr_assert_eq(g_io.nvecs, RINGD_MAX_VECS);
	cr_assert_eq(g_io.len, RINGD_MAX_VECS * 64);
	s.opcode = RINGD_OP_WRITEV;
	s.len = RINGD_MAX_VECS + 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "writev too");
}

Test(validate_v, no_vector_storage_is_einval)
{
	struct ringd_sqe s = rwv(RINGD_OP_READV, 0, 0, 0, 1);
	struct val_ctx c = vctx();
	struct val_io io;

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE, 512);
	memset(&io, 0, sizeof(io));
	cr_assert_eq(val_sqe(&s, &c, &io), -EINVAL);
}

Test(validate_v, iovec_array_outside_the_area_is_efault)
{
	struct ringd_sqe s = rwv(RINGD_OP_READV, 0, 0, V_AREA - 16, 1);

	memset(g_area, 0, sizeof(g_area));
	put_iov(V_AREA - 16, 0, V_BUF_BASE, 512);
	cr_assert_eq(vcheck(&s), 0, "the last iovec of the area");
	s.len = 2;
	cr_assert_eq(vcheck(&s), -EFAULT, "straddles the end");
	s.addr = V_AREA - 8;
	s.len = 1;
	cr_assert_eq(vcheck(&s), -EFAULT, "half of it past the end");
	s.addr = V_AREA;
	cr_assert_eq(vcheck(&s), -EFAULT, "at the end");
	s.addr = 1ull << 40;
	cr_assert_eq(vcheck(&s), -EFAULT, "far away");
	s.addr = UINT64_MAX - 7;
	cr_assert_eq(vcheck(&s), -EFAULT, "addr + size wraps");
	s.addr = (uint64_t)-4096;
	cr_assert_eq(vcheck(&s), -EFAULT, "below the area");
	s.opcode = RINGD_OP_WRITEV;
	s.len = RINGD_MAX_VECS;
	s.addr = V_AREA - 16 * (RINGD_MAX_VECS - 1);
	cr_assert_eq(vcheck(&s), -EFAULT, "64 vectors, the last one past the end");
}

Test(validate_v, misaligned_iovec_array_is_einval)
{
	struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 0, 0, 4, 1);

	memset(g_area, 0, sizeof(g_area));
	cr_assert_eq(vcheck(&s), -EINVAL, "4-byte aligned");
	s.addr = 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "odd");
	s.addr = 8;
	put_iov(8, 0, V_BUF_BASE, 512);
	cr_assert_eq(vcheck(&s), 0, "8-byte aligned is enough");
}

Test(validate_v, vector_sum_overflow_is_einval)
{
	struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 0, 0, 0, 2);

	memset(g_area, 0, sizeof(g_area));
	/* 2^63 + 2^63 wraps to 0; 2^64 - 1 + 513 wraps to 512. */
	put_iov(0, 0, V_BUF_BASE, 1ull << 63);
	put_iov(0, 1, V_BUF_BASE, 1ull << 63);
	cr_assert_eq(vcheck(&s), -EINVAL, "2^63 + 2^63");
	put_iov(0, 0, V_BUF_BASE, UINT64_MAX);
	put_iov(0, 1, V_BUF_BASE, 513);
	cr_assert_eq(vcheck(&s), -EINVAL, "2^64 - 1 + 513");
	/* Each vector small, the sum one byte above max_io. */
	put_iov(0, 0, V_BUF_BASE, V_MAX_IO / 2);
	put_iov(0, 1, V_BUF_BASE, V_MAX_IO / 2 + 1);
	cr_assert_eq(vcheck(&s), -EINVAL, "max_io + 1");
	/* A length of 2^32 + 512 must not pass as 512 in a 32-bit len. */
	s.len = 1;
	put_iov(0, 0, V_BUF_BASE, (1ull << 32) + 512);
	cr_assert_eq(vcheck(&s), -EINVAL, "2^32 + 512");
	s.opcode = RINGD_OP_READV;
	cr_assert_eq(vcheck(&s), -EINVAL, "readv too");
}

Test(validate_v, vector_sum_zero_is_einval)
{
	struct ringd_sqe s = rwv(RINGD_OP_READV, 0, 0, 0, 3);

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE, 0);
	put_iov(0, 1, V_BUF_BASE + 64, 0);
	put_iov(0, 2, V_BUF_BASE + 128, 0);
	cr_assert_eq(vcheck(&s), -EINVAL);
	/* Empty vectors among others are fine. */
	put_iov(0, 1, V_BUF_BASE + 64, 7);
	cr_assert_eq(vcheck(&s), 0);
	cr_assert_eq(g_io.len, 7);
}

Test(validate_v, vectored_extent_is_checked_on_the_sum)
{
	uint64_t size = g_vvols[0].size;
	struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 0, size - 1024, 0, 2);

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE, 512);
	put_iov(0, 1, V_BUF_BASE + 512, 512);
	cr_assert_eq(vcheck(&s), 0, "the last 1024 bytes");
	put_iov(0, 1, V_BUF_BASE + 512, 513);
	cr_assert_eq(vcheck(&s), -EINVAL, "one byte past the end");
	s.off = UINT64_MAX - 100;
	cr_assert_eq(vcheck(&s), -EINVAL, "off + sum wraps");
	s.off = size;
	s.opcode = RINGD_OP_READV;
	cr_assert_eq(vcheck(&s), -EINVAL, "at the end");
}

Test(validate_v, vector_outside_the_area_is_efault)
{
	const struct {
		uint64_t ptr, len;
		const char *what;
	} bad[] = {
		{ V_BUF_BASE + V_AREA, 1, "at the end" },
		{ V_BUF_BASE + V_AREA - 100, 101, "straddles the end" },
		{ V_BUF_BASE - 1, 1, "one byte below" },
		{ V_BUF_BASE - 4096, 8192, "straddles the start" },
		{ V_BUF_BASE - (1ull << 40), 512, "far below" },
		{ 0, 512, "NULL" },
		{ UINT64_MAX - 10, 512, "near 2^64" },
		{ V_BUF_BASE + V_AREA + 1, 0, "empty, but past the end" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 0, 0, 0, 3);

		memset(g_area, 0, sizeof(g_area));
		put_iov(0, 0, V_BUF_BASE + 4096, 512);
		put_iov(0, 1, bad[i].ptr, bad[i].len);
		put_iov(0, 2, V_BUF_BASE + 8192, 512);
		cr_assert_eq(vcheck(&s), -EFAULT, "writev, %s", bad[i].what);
		s.opcode = RINGD_OP_READV;
		cr_assert_eq(vcheck(&s), -EFAULT, "readv, %s", bad[i].what);
	}
}

Test(validate_v, lying_buf_base_is_efault)
{
	struct ringd_sqe s = rwv(RINGD_OP_READV, 0, 0, 0, 1);

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE + 4096, 4096);
	cr_assert_eq(vcheck(&s), 0, "the truth");
	/* A base above the pointer: the difference wraps far above the area. */
	s.buf_base = V_BUF_BASE + 8192;
	cr_assert_eq(vcheck(&s), -EFAULT, "base above the pointer");
	/* A base far below: the pointer lands past the end. */
	s.buf_base = V_BUF_BASE - (1ull << 30);
	cr_assert_eq(vcheck(&s), -EFAULT, "base far below");
	/* A base a little below: the vector straddles the end. */
	s.buf_base = V_BUF_BASE - (V_AREA - 6144);
	cr_assert_eq(vcheck(&s), -EFAULT, "base a little below");
	s.buf_base = UINT64_MAX;
	cr_assert_eq(vcheck(&s), -EFAULT, "base 2^64 - 1");
}

Test(validate_v, vectors_are_aligned_on_a_direct_volume)
{
	struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 2, 4096, 0, 2);

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE + 4096, 4096);
	put_iov(0, 1, V_BUF_BASE + 8192, 8192);
	cr_assert_eq(vcheck(&s), 0, "aligned");
	cr_assert_eq(g_io.dev_off, (8u << 20) + 4096);
	cr_assert_eq(g_io.file_slot, 7);
	s.off = 4096 + 512;
	cr_assert_eq(vcheck(&s), -EINVAL, "device offset");
	s.off = 4096;
	put_iov(0, 1, V_BUF_BASE + 8192 + 512, 4096);
	cr_assert_eq(vcheck(&s), -EINVAL, "second vector's buffer");
	put_iov(0, 1, V_BUF_BASE + 8192, 4096 + 512);
	cr_assert_eq(vcheck(&s), -EINVAL, "second vector's length (sum not a multiple)");
	/* Two vectors that are each misaligned but add up to a multiple. */
	put_iov(0, 0, V_BUF_BASE + 4096, 2048);
	put_iov(0, 1, V_BUF_BASE + 8192, 2048);
	cr_assert_eq(vcheck(&s), -EINVAL, "each vector's length");
	s.opcode = RINGD_OP_READV;
	cr_assert_eq(vcheck(&s), -EINVAL, "readv too");
}

Test(validate_v, rw_flags)
{
	struct ringd_sqe s = rwv(RINGD_OP_READV, 0, 0, 0, 1);
	unsigned int bit;

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE, 512);
	s.op_flags = RINGD_RW_DSYNC;
	cr_assert_eq(vcheck(&s), -EINVAL, "DSYNC on a readv");
	s.opcode = RINGD_OP_WRITEV;
	cr_assert_eq(vcheck(&s), 0, "DSYNC on a writev");
	cr_assert(g_io.dsync);
	for (bit = 1; bit < 32; bit++) {
		s.op_flags = RINGD_RW_DSYNC | (1u << bit);
		cr_assert_eq(vcheck(&s), -EINVAL, "writev op_flags bit %u", bit);
	}
	s = rw(RINGD_OP_WRITE, 0, 0, 0, 512);
	for (bit = 1; bit < 32; bit++) {
		s.op_flags = 1u << bit;
		cr_assert_eq(vcheck(&s), -EINVAL, "write op_flags bit %u", bit);
	}
	s.op_flags = RINGD_RW_DSYNC;
	cr_assert_eq(vcheck(&s), 0);
	cr_assert(g_io.dsync);
	s.op_flags = 0;
	cr_assert_eq(vcheck(&s), 0);
	cr_assert_not(g_io.dsync);
}

Test(validate_v, link_is_the_only_sqe_flag)
{
	static const uint8_t ops[] = { RINGD_OP_NOP,	 RINGD_OP_READ,		RINGD_OP_WRITE,
				       RINGD_OP_FSYNC,	 RINGD_OP_READV,	RINGD_OP_WRITEV,
				       RINGD_OP_DISCARD, RINGD_OP_WRITE_ZEROES, RINGD_OP_CANCEL };
	unsigned int i, bit;

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE, 512);
	for (i = 0; i < sizeof(ops); i++) {
		struct ringd_sqe s;

		switch (ops[i]) {
		case RINGD_OP_READ:
		case RINGD_OP_WRITE:
			s = rw(ops[i], 0, 0, 0, 512);
			break;
		case RINGD_OP_READV:
		case RINGD_OP_WRITEV:
			s = rwv(ops[i], 0, 0, 0, 1);
			break;
		case RINGD_OP_DISCARD:
		case RINGD_OP_WRITE_ZEROES:
			s = zr(ops[i], 0, 0, 512);
			break;
		case RINGD_OP_CANCEL:
			s = rw(ops[i], 0, 0, 42, 0);
			break;
		default:
			s = rw(ops[i], 0, 0, 0, 0);
			break;
		}
		cr_assert_eq(vcheck(&s), 0, "op %u", ops[i]);
		cr_assert_not(g_io.link, "op %u", ops[i]);
		s.flags = RINGD_SQE_LINK;
		cr_assert_eq(vcheck(&s), 0, "op %u with LINK", ops[i]);
		cr_assert(g_io.link, "op %u", ops[i]);
		cr_assert(val_sqe_links(&s));
		for (bit = 1; bit < 8; bit++) {
			s.flags = (uint8_t)(1u << bit);
			cr_assert_eq(vcheck(&s), -EINVAL, "op %u flags bit %u", ops[i], bit);
			s.flags |= RINGD_SQE_LINK;
			cr_assert_eq(vcheck(&s), -EINVAL, "op %u flags bit %u + LINK", ops[i], bit);
			/* The dispatcher still sees the link of a refused SQE. */
			cr_assert(val_sqe_links(&s));
		}
	}
}

Test(validate_v, refused_linked_sqe_still_links)
{
	struct ringd_sqe s = rw(RINGD_OP_READ, 3, 0, 0, 512);

	s.flags = RINGD_SQE_LINK;
	cr_assert_eq(vcheck(&s), -EBADF);
	cr_assert_not(g_io.link, "val_io is all zero");
	cr_assert(val_sqe_links(&s));
}

Test(validate_v, new_ops_reserved_fields_are_einval)
{
	static const uint8_t ops[] = { RINGD_OP_READV, RINGD_OP_WRITEV, RINGD_OP_DISCARD,
				       RINGD_OP_WRITE_ZEROES, RINGD_OP_CANCEL };
	unsigned int i, f;

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE, 512);
	for (i = 0; i < sizeof(ops); i++) {
		for (f = 0; f < 3; f++) {
			struct ringd_sqe s = ops[i] == RINGD_OP_READV || ops[i] == RINGD_OP_WRITEV
						 ? rwv(ops[i], 0, 0, 0, 1)
					     : ops[i] == RINGD_OP_CANCEL ? rw(ops[i], 0, 0, 1, 0)
									 : zr(ops[i], 0, 0, 512);

			cr_assert_eq(vcheck(&s), 0, "op %u baseline", ops[i]);
			if (f == 0)
				s.ioprio = 1;
			else
				s.resv[f - 1] = 1;
			cr_assert_eq(vcheck(&s), -EINVAL, "op %u field %u", ops[i], f);
		}
	}
}

Test(validate_v, buf_base_only_on_vectored_ops)
{
	static const uint8_t ops[] = { RINGD_OP_NOP,   RINGD_OP_READ,	 RINGD_OP_WRITE,
				       RINGD_OP_FSYNC, RINGD_OP_DISCARD, RINGD_OP_WRITE_ZEROES,
				       RINGD_OP_CANCEL };
	unsigned int i;

	for (i = 0; i < sizeof(ops); i++) {
		struct ringd_sqe s = ops[i] == RINGD_OP_READ || ops[i] == RINGD_OP_WRITE
					 ? rw(ops[i], 0, 0, 0, 512)
				     : ops[i] == RINGD_OP_DISCARD || ops[i] == RINGD_OP_WRITE_ZEROES
					 ? zr(ops[i], 0, 0, 512)
					 : rw(ops[i], 0, 0, 0, 0);

		cr_assert_eq(vcheck(&s), 0, "op %u baseline", ops[i]);
		s.buf_base = V_BUF_BASE;
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u with buf_base", ops[i]);
	}
}

Test(validate_v, new_ops_handle_rules)
{
	static const uint8_t ops[] = { RINGD_OP_READV, RINGD_OP_WRITEV, RINGD_OP_DISCARD,
				       RINGD_OP_WRITE_ZEROES };
	unsigned int i;

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE, 512);
	for (i = 0; i < sizeof(ops); i++) {
		bool vec = ops[i] == RINGD_OP_READV || ops[i] == RINGD_OP_WRITEV;
		bool writes = ops[i] != RINGD_OP_READV;
		struct ringd_sqe s = vec ? rwv(ops[i], 0, 0, 0, 1) : zr(ops[i], 0, 0, 512);

		cr_assert_eq(vcheck(&s), 0, "op %u", ops[i]);
		s.handle = 1;
		cr_assert_eq(vcheck(&s), writes ? -EBADF : 0, "op %u, read-only handle", ops[i]);
		s.handle = 3;
		cr_assert_eq(vcheck(&s), -EBADF, "op %u, closed handle", ops[i]);
		s.handle = 8;
		cr_assert_eq(vcheck(&s), -EBADF, "op %u, out of range", ops[i]);
		s.handle = -1;
		cr_assert_eq(vcheck(&s), -EBADF, "op %u, negative", ops[i]);
		s.handle = 5;
		cr_assert_eq(vcheck(&s), writes ? -EACCES : 0, "op %u, write revoked", ops[i]);
		s.handle = 6;
		cr_assert_eq(vcheck(&s), -EACCES, "op %u, access revoked", ops[i]);
		s.handle = 7;
		cr_assert_eq(vcheck(&s), -ENODEV, "op %u, volume removed", ops[i]);
	}
}

Test(validate_v, discard_and_write_zeroes_ok)
{
	static const uint8_t ops[] = { RINGD_OP_DISCARD, RINGD_OP_WRITE_ZEROES };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct ringd_sqe s = zr(ops[i], 0, 123, 4567);

		cr_assert_eq(vcheck(&s), 0, "op %u", ops[i]);
		cr_assert_eq(g_io.op, ops[i]);
		cr_assert_eq(g_io.dev_off, (1u << 20) + 123);
		cr_assert_eq(g_io.dev_len, 4567);
		cr_assert_eq(g_io.len, 0);
		cr_assert_eq(g_io.buf_off, 0);
		cr_assert_eq(g_io.file_slot, 5);
		/* The whole extent in one request: len is 64-bit, not max_io. */
		s = zr(ops[i], 0, 0, g_vvols[0].size);
		cr_assert_eq(vcheck(&s), 0, "op %u, whole extent", ops[i]);
		s = zr(ops[i], 2, 0, g_vvols[1].size);
		cr_assert_eq(vcheck(&s), 0, "op %u, 1M > max_io", ops[i]);
		cr_assert_eq(g_io.dev_len, 1u << 20);
	}
}

Test(validate_v, discard_and_write_zeroes_fields_are_einval)
{
	static const uint8_t ops[] = { RINGD_OP_DISCARD, RINGD_OP_WRITE_ZEROES };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct ringd_sqe s = zr(ops[i], 0, 0, 512);

		s.len = 512;
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, len", ops[i]);
		s = zr(ops[i], 0, 0, 512);
		s.op_flags = RINGD_RW_DSYNC;
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, op_flags", ops[i]);
		s = zr(ops[i], 0, 0, 0);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, length 0", ops[i]);
	}
}

Test(validate_v, discard_and_write_zeroes_stay_in_the_extent)
{
	static const uint8_t ops[] = { RINGD_OP_DISCARD, RINGD_OP_WRITE_ZEROES };
	uint64_t size = g_vvols[0].size;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct ringd_sqe s = zr(ops[i], 0, size - 512, 512);

		cr_assert_eq(vcheck(&s), 0, "op %u, last 512 bytes", ops[i]);
		s = zr(ops[i], 0, size - 512, 513);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, one byte past the end", ops[i]);
		s = zr(ops[i], 0, size, 1);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, at the end", ops[i]);
		s = zr(ops[i], 0, 0, size + 1);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, longer than the extent", ops[i]);
		/* The next tenant's extent starts where this one ends. */
		s = zr(ops[i], 0, size, 1u << 20);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, the neighbour's range", ops[i]);
		s = zr(ops[i], 0, 4096, UINT64_MAX - 100);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, off + len wraps", ops[i]);
		s = zr(ops[i], 0, UINT64_MAX, 2);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, off 2^64 - 1", ops[i]);
		s = zr(ops[i], 0, (uint64_t) - (1 << 20), 1 << 20);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, off + len = 2^64", ops[i]);
	}
}

Test(validate_v, discard_and_write_zeroes_alignment)
{
	static const uint8_t ops[] = { RINGD_OP_DISCARD, RINGD_OP_WRITE_ZEROES };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct ringd_sqe s;

		/* Direct file: as for writes, on the volume's alignment. */
		s = zr(ops[i], 2, 8192, 4096);
		cr_assert_eq(vcheck(&s), 0, "op %u, direct, aligned", ops[i]);
		s = zr(ops[i], 2, 8192 + 512, 4096);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, direct, offset", ops[i]);
		s = zr(ops[i], 2, 8192, 4096 + 512);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, direct, length", ops[i]);
		/*
		 * Block device whose extent starts 512 bytes into a block:
		 * zero_align holds on the absolute offset, so offset 0 of the
		 * extent is aligned and offset 512 of it is not.
		 */
		s = zr(ops[i], 4, 0, 512);
		cr_assert_eq(vcheck(&s), 0, "op %u, blockdev, aligned", ops[i]);
		cr_assert_eq(g_io.dev_off, (16u << 20) + 512);
		s = zr(ops[i], 4, 256, 512);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, blockdev, absolute offset", ops[i]);
		s = zr(ops[i], 4, 512, 1000);
		cr_assert_eq(vcheck(&s), -EINVAL, "op %u, blockdev, length", ops[i]);
		/* Buffered file: anything goes. */
		s = zr(ops[i], 0, 3, 5);
		cr_assert_eq(vcheck(&s), 0, "op %u, buffered", ops[i]);
	}
}

Test(validate_v, cancel)
{
	struct ringd_sqe s = rw(RINGD_OP_CANCEL, 0, 0, 0xfeedfacecafebeefull, 0);

	cr_assert_eq(vcheck(&s), 0);
	cr_assert_eq(g_io.op, RINGD_OP_CANCEL);
	cr_assert_eq(g_io.target, 0xfeedfacecafebeefull);
	s.addr = 0;
	cr_assert_eq(vcheck(&s), 0, "user_data 0 is a user_data");
	cr_assert_eq(g_io.target, 0);
	s.handle = 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "handle");
	s = rw(RINGD_OP_CANCEL, 0, 1, 0, 0);
	cr_assert_eq(vcheck(&s), -EINVAL, "off");
	s = rw(RINGD_OP_CANCEL, 0, 0, 0, 1);
	cr_assert_eq(vcheck(&s), -EINVAL, "len");
	s = rw(RINGD_OP_CANCEL, 0, 0, 0, 0);
	s.op_flags = 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "op_flags");
}

Test(validate_v, vectored_precedence)
{
	struct ringd_sqe s;

	memset(g_area, 0, sizeof(g_area));
	/* Unknown opcode beats everything, bad flags beat a bad handle. */
	s = rwv(RINGD_OP_LAST, 3, 0, 1, 0);
	s.flags = 0x80;
	cr_assert_eq(vcheck(&s), -EOPNOTSUPP);
	s.opcode = RINGD_OP_WRITEV;
	cr_assert_eq(vcheck(&s), -EINVAL, "flags before handle");
	s.flags = 0;
	s.op_flags = 2;
	cr_assert_eq(vcheck(&s), -EINVAL, "op_flags before handle");
	/* Handle before the vector count and the array. */
	s = rwv(RINGD_OP_WRITEV, 3, 0, V_AREA, 65);
	cr_assert_eq(vcheck(&s), -EBADF, "closed handle");
	s.handle = 1;
	cr_assert_eq(vcheck(&s), -EBADF, "read-only handle");
	/* Count before the array's bounds. */
	s.handle = 0;
	cr_assert_eq(vcheck(&s), -EINVAL, "65 vectors, array outside");
	s.len = 0;
	cr_assert_eq(vcheck(&s), -EINVAL, "0 vectors, array outside");
	/* Array bounds before its alignment. */
	s.len = 1;
	s.addr = V_AREA + 4;
	cr_assert_eq(vcheck(&s), -EFAULT, "misaligned array outside");
	/* Array alignment before anything in it. */
	s.addr = 4;
	cr_assert_eq(vcheck(&s), -EINVAL, "misaligned array");
	/* Sum before the extent: both -EINVAL. Sum before the vectors' bounds. */
	s = rwv(RINGD_OP_WRITEV, 0, 0, 0, 2);
	put_iov(0, 0, 0, 1ull << 63);
	put_iov(0, 1, 0, 1ull << 63);
	cr_assert_eq(vcheck(&s), -EINVAL, "sum wraps, vectors outside");
	put_iov(0, 0, 0, V_MAX_IO);
	put_iov(0, 1, 0, 1);
	cr_assert_eq(vcheck(&s), -EINVAL, "sum > max_io, vectors outside");
	/* Extent before the vectors' bounds. */
	put_iov(0, 0, 0, 512);
	put_iov(0, 1, 0, 512);
	s.off = g_vvols[0].size;
	cr_assert_eq(vcheck(&s), -EINVAL, "outside extent, vectors outside");
	s.off = 0;
	cr_assert_eq(vcheck(&s), -EFAULT, "vectors outside");
	/* Vectors' bounds before alignment. */
	s = rwv(RINGD_OP_WRITEV, 2, 512, 0, 2);
	put_iov(0, 0, V_BUF_BASE + 4096, 4096);
	put_iov(0, 1, V_BUF_BASE - 4096, 4096);
	cr_assert_eq(vcheck(&s), -EFAULT, "misaligned offset, vector outside");
	s.off = 0;
	put_iov(0, 1, V_BUF_BASE + 8192, 4096);
	cr_assert_eq(vcheck(&s), 0);
}

Test(validate_v, zero_precedence)
{
	struct ringd_sqe s;

	/* Fields before the handle, handle before the extent, extent before alignment. */
	s = zr(RINGD_OP_DISCARD, 3, UINT64_MAX, 0);
	s.len = 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "len set, closed handle");
	s.len = 0;
	cr_assert_eq(vcheck(&s), -EBADF, "closed handle, length 0, outside");
	s.handle = 1;
	s.addr = 512;
	cr_assert_eq(vcheck(&s), -EBADF, "read-only handle, outside");
	s.handle = 2;
	s.off = g_vvols[1].size + 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "outside and misaligned");
	s.off = 1;
	cr_assert_eq(vcheck(&s), -EINVAL, "misaligned");
	s.off = 0;
	s.addr = 4096;
	cr_assert_eq(vcheck(&s), 0);
}

Test(validate_v, vectors_are_a_private_copy)
{
	struct ringd_sqe s = rwv(RINGD_OP_WRITEV, 0, 0, 0, 1);

	memset(g_area, 0, sizeof(g_area));
	put_iov(0, 0, V_BUF_BASE + 4096, 4096);
	cr_assert_eq(vcheck(&s), 0);
	/* The client rewrites its iovec after validation: our copy is unaffected. */
	put_iov(0, 0, 0, UINT64_MAX);
	cr_assert_eq(g_io.vecs[0].off, 4096);
	cr_assert_eq(g_io.vecs[0].len, 4096);
	cr_assert_eq(g_io.len, 4096);
}
