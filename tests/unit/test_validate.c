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
