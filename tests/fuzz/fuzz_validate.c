/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness (b): val_sqe() against a reference model written
 * with 128-bit arithmetic, which cannot overflow. The input is an SQE
 * followed by the context (handles, volumes, data area, max_io) and then
 * the bytes of the data area itself, where READV/WRITEV find their iovec
 * arrays. Any disagreement in the verdict or in the validated request
 * aborts, and so does an accepted request that leaves its extent or the
 * data area. For vectored opcodes the data area is a heap block of exactly
 * its size, so that a read of the iovec array past its end is an ASan
 * report, not a silent pass.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

typedef unsigned __int128 u128;

/* The largest data area of a vectored input (the bytes after struct fz_in). */
#define FZ_AREA 2048u

/* Bytes of one client iovec (struct iovec: a pointer and a size_t). */
#define FZ_IOV 16u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_in {
	struct ringd_sqe sqe;
	uint64_t vol_base[3], vol_size[3];
	uint32_t vol_align_log[3];
	uint8_t vol_ro[3];
	uint8_t handle_bits[4]; /* open | writable<<1 | vol<<2 */
	uint8_t nhandles, nvols;
	uint64_t data_size;
	uint32_t max_io;
	uint8_t handle_extra[4]; /* revoked | write_revoked<<1 (after a reload) */
	uint8_t vol_zero_log[3]; /* zero_align = 1 << (n % 14), or 0 for 13 */
	uint8_t resv[5];	 /* (the data area's bytes follow the struct) */
};

static_assert(sizeof(struct fz_in) == 160, "the seed corpus depends on this layout");

static bool is_vectored(uint8_t op)
{
	return op == RINGD_OP_READV || op == RINGD_OP_WRITEV;
}

static bool is_write(uint8_t op)
{
	return op == RINGD_OP_WRITE || op == RINGD_OP_WRITEV || op == RINGD_OP_DISCARD ||
	       op == RINGD_OP_WRITE_ZEROES;
}

/* Vector @i of the iovec array at area offset @arr, as the client wrote it. */
static void model_iov(const struct val_ctx *c, uint64_t arr, uint32_t i, uint64_t *base,
		      uint64_t *len)
{
	memcpy(base, c->data + arr + (uint64_t)i * FZ_IOV, 8);
	memcpy(len, c->data + arr + (uint64_t)i * FZ_IOV + 8, 8);
}

/*
 * READV/WRITEV after the handle: vector count, the array in the area and
 * aligned, the total (0 or > max_io), the extent, each vector in the area,
 * alignment.
 */
static int model_rwv(const struct ringd_sqe *q, const struct val_ctx *c, const struct val_vol *v,
		     struct val_io *o, struct val_vec *vecs)
{
	u128 total = 0, end;
	uint64_t base, len;
	uint32_t i;

	if (q->len == 0 || q->len > RINGD_MAX_VECS)
		return -EINVAL;
	if ((u128)q->addr + (u128)q->len * FZ_IOV > c->data_size)
		return -EFAULT;
	if (q->addr % 8)
		return -EINVAL;
	for (i = 0; i < q->len; i++) {
		model_iov(c, q->addr, i, &base, &len);
		total += len;
		vecs[i].off = base - q->buf_base; /* mod 2^64: below the area is far above it */
		vecs[i].len = len;
	}
	if (total == 0 || total > c->max_io)
		return -EINVAL;
	end = (u128)q->off + total;
	if (end > v->size || (u128)v->base + q->off > UINT64_MAX)
		return -EINVAL;
	for (i = 0; i < q->len; i++)
		if ((u128)vecs[i].off + vecs[i].len > c->data_size)
			return -EFAULT;
	if (v->align > 1) {
		if (q->off % v->align)
			return -EINVAL;
		for (i = 0; i < q->len; i++)
			if (vecs[i].off % v->align || vecs[i].len % v->align)
				return -EINVAL;
	}
	o->dev_off = v->base + q->off;
	o->len = (uint32_t)total;
	o->nvecs = q->len;
	o->dsync = (q->op_flags & RINGD_RW_DSYNC) != 0;
	return 0;
}

/*
 * DISCARD/WRITE_ZEROES after the handle: length (addr) 0 or outside the
 * extent, then the absolute range aligned to the larger of zero_align and
 * align, and the offset in the extent to align as for a write.
 */
static int model_zero(const struct ringd_sqe *q, const struct val_vol *v, struct val_io *o)
{
	uint64_t a = v->zero_align > v->align ? v->zero_align : v->align;
	u128 dev = (u128)v->base + q->off;

	if (q->addr == 0 || (u128)q->off + q->addr > v->size || dev > UINT64_MAX)
		return -EINVAL;
	if (a > 1 && ((uint64_t)dev % a || q->addr % a || q->off % v->align))
		return -EINVAL;
	o->dev_off = (uint64_t)dev;
	o->dev_len = q->addr;
	return 0;
}

/* READ/WRITE after the handle: len, extent, buffer, alignment. */
static int model_rw(const struct ringd_sqe *q, const struct val_ctx *c, const struct val_vol *v,
		    struct val_io *o)
{
	u128 dev = (u128)v->base + q->off;

	if (q->len == 0 || q->len > c->max_io)
		return -EINVAL;
	if ((u128)q->off + q->len > v->size || dev > UINT64_MAX)
		return -EINVAL;
	if ((u128)q->addr + q->len > c->data_size)
		return -EFAULT;
	if (v->align > 1 && (q->off % v->align || q->len % v->align || q->addr % v->align))
		return -EINVAL;
	o->dev_off = (uint64_t)dev;
	o->buf_off = q->addr;
	o->len = q->len;
	o->dsync = (q->op_flags & RINGD_RW_DSYNC) != 0;
	return 0;
}

/*
 * Unused fields and op_flags of each opcode (the checks that precede the
 * handle): -EINVAL if any is set.
 */
static bool model_fields_bad(const struct ringd_sqe *q)
{
	switch (q->opcode) {
	case RINGD_OP_NOP:
		return q->handle || q->off || q->addr || q->len || q->op_flags || q->buf_base;
	case RINGD_OP_FSYNC:
		return q->off || q->addr || q->len || q->buf_base ||
		       (q->op_flags & ~(uint32_t)RINGD_FSYNC_DATASYNC);
	case RINGD_OP_READ:
		return q->buf_base || q->op_flags;
	case RINGD_OP_WRITE:
		return q->buf_base || (q->op_flags & ~(uint32_t)RINGD_RW_DSYNC);
	case RINGD_OP_READV:
		return q->op_flags;
	case RINGD_OP_WRITEV:
		return q->op_flags & ~(uint32_t)RINGD_RW_DSYNC;
	case RINGD_OP_DISCARD:
	case RINGD_OP_WRITE_ZEROES:
		return q->len || q->op_flags || q->buf_base;
	case RINGD_OP_CANCEL:
		return q->handle || q->off || q->len || q->op_flags || q->buf_base;
	default:
		return true;
	}
}

/* The documented contract of val_sqe(), in order of precedence. */
static int model(const struct ringd_sqe *q, const struct val_ctx *c, struct val_io *o,
		 struct val_vec *vecs)
{
	const struct val_handle *h = NULL;
	const struct val_vol *v;
	int ret;

	memset(o, 0, sizeof(*o));
	if (q->opcode >= RINGD_OP_LAST)
		return -EOPNOTSUPP;
	if ((q->flags & ~(uint32_t)RINGD_SQE_LINK) || q->ioprio || q->resv[0] || q->resv[1])
		return -EINVAL;
	if (model_fields_bad(q))
		return -EINVAL;
	o->link = (q->flags & RINGD_SQE_LINK) != 0;
	if (q->opcode == RINGD_OP_NOP || q->opcode == RINGD_OP_CANCEL) {
		o->op = q->opcode;
		o->target = q->opcode == RINGD_OP_CANCEL ? q->addr : 0;
		return 0;
	}
	if (q->handle < 0 || (int64_t)q->handle >= (int64_t)c->nhandles)
		return -EBADF;
	h = &c->handles[q->handle];
	if (!h->open || h->vol >= c->nvols)
		return -EBADF;
	if (h->revoked)
		return h->revoked;
	v = &c->vols[h->vol];
	if (v->removed)
		return -ENODEV;
	o->op = q->opcode;
	o->vol = h->vol;
	o->file_slot = v->file_slot;
	if (q->opcode == RINGD_OP_FSYNC) {
		o->datasync = q->op_flags & RINGD_FSYNC_DATASYNC;
		return 0;
	}
	if (is_write(q->opcode) && !h->writable)
		return h->write_revoked ? -EACCES : -EBADF;
	if (is_vectored(q->opcode))
		ret = model_rwv(q, c, v, o, vecs);
	else if (q->opcode == RINGD_OP_DISCARD || q->opcode == RINGD_OP_WRITE_ZEROES)
		ret = model_zero(q, v, o);
	else
		ret = model_rw(q, c, v, o);
	return ret;
}

static void fail(const char *what, int got, int want)
{
	fprintf(stderr, "val_sqe disagrees with the model: %s (val_sqe %d, model %d)\n", what, got,
		want);
	abort();
}

/* What must hold of any request val_sqe() accepts, whatever the model says. */
static void check_bounds(const struct val_io *io, const struct val_ctx *ctx)
{
	const struct val_vol *v = &ctx->vols[io->vol];
	u128 len = io->len;
	uint32_t i;

	if (io->op == RINGD_OP_NOP || io->op == RINGD_OP_CANCEL || io->op == RINGD_OP_FSYNC)
		return;
	if (io->op == RINGD_OP_DISCARD || io->op == RINGD_OP_WRITE_ZEROES)
		len = io->dev_len;
	if (!len || io->dev_off < v->base || (u128)io->dev_off + len > (u128)v->base + v->size)
		fail("request leaves its extent", 0, 0);
	if ((io->op == RINGD_OP_READ || io->op == RINGD_OP_WRITE) &&
	    (u128)io->buf_off + io->len > ctx->data_size)
		fail("buffer leaves the data area", 0, 0);
	if (is_vectored(io->op)) {
		u128 sum = 0;

		if (!io->nvecs || io->nvecs > RINGD_MAX_VECS)
			fail("vector count", 0, 0);
		for (i = 0; i < io->nvecs; i++) {
			if ((u128)io->vecs[i].off + io->vecs[i].len > ctx->data_size)
				fail("a vector leaves the data area", 0, 0);
			sum += io->vecs[i].len;
		}
		if (sum != io->len || sum > ctx->max_io)
			fail("vector lengths do not add up to len", 0, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct val_io zero;
	struct val_vec got_vecs[RINGD_MAX_VECS], want_vecs[RINGD_MAX_VECS];
	struct val_handle handles[4];
	struct val_vol vols[3];
	struct val_ctx ctx;
	struct val_io got, want;
	struct fz_in in;
	uint8_t *area = NULL;
	unsigned int i;
	int r1, r2;

	if (size < sizeof(struct ringd_sqe))
		return 0;
	memset(&in, 0, sizeof(in));
	memcpy(&in, data, size < sizeof(in) ? size : sizeof(in));
	for (i = 0; i < 3; i++) {
		unsigned int z = in.vol_zero_log[i] % 14;

		vols[i].base = in.vol_base[i];
		vols[i].size = in.vol_size[i];
		vols[i].align = 1u << (in.vol_align_log[i] % 13);
		vols[i].zero_align = z == 13 ? 0 : 1u << z;
		vols[i].file_slot = i;
		vols[i].readonly = in.vol_ro[i] & 1;
		vols[i].removed = (in.vol_ro[i] >> 1) & 1;
	}
	for (i = 0; i < 4; i++) {
		handles[i].open = in.handle_bits[i] & 1;
		handles[i].writable = (in.handle_bits[i] >> 1) & 1;
		handles[i].vol = in.handle_bits[i] >> 2;
		handles[i].revoked = in.handle_extra[i] & 1 ? -EACCES : 0;
		handles[i].write_revoked = (in.handle_extra[i] >> 1) & 1;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.handles = handles;
	ctx.nhandles = in.nhandles % 5;
	ctx.vols = vols;
	ctx.nvols = in.nvols % 4;
	ctx.data_size = in.data_size;
	ctx.max_io = in.max_io;
	if (is_vectored(in.sqe.opcode)) {
		/* A real area, of exactly its size: the input's tail, zero-padded. */
		size_t have = size > sizeof(in) ? size - sizeof(in) : 0;

		if (ctx.data_size > FZ_AREA)
			ctx.data_size = FZ_AREA;
		area = malloc(ctx.data_size ? ctx.data_size : 1);
		if (!area)
			abort();
		memset(area, 0, ctx.data_size);
		if (have)
			memcpy(area, data + sizeof(in),
			       have < ctx.data_size ? have : ctx.data_size);
		ctx.data = area;
	}

	memset(&got, 0xa5, sizeof(got));
	got.vecs = got_vecs;
	r1 = val_sqe(&in.sqe, &ctx, &got);
	r2 = model(&in.sqe, &ctx, &want, want_vecs);
	if (r1 != r2)
		fail("verdict", r1, r2);
	if (r1) {
		if (memcmp(&got, &zero, sizeof(got)))
			fail("a refused SQE left val_io set", r1, r2);
		goto out;
	}
	if (got.op != want.op || got.datasync != want.datasync || got.dsync != want.dsync ||
	    got.link != want.link || got.link != val_sqe_links(&in.sqe))
		fail("op/flags", r1, r2);
	if (got.op == RINGD_OP_NOP || got.op == RINGD_OP_CANCEL) {
		if (got.target != want.target)
			fail("cancel target", r1, r2);
		goto out;
	}
	if (got.vol != want.vol || got.file_slot != want.file_slot)
		fail("volume", r1, r2);
	if (got.dev_off != want.dev_off || got.buf_off != want.buf_off || got.len != want.len ||
	    got.dev_len != want.dev_len || got.nvecs != want.nvecs || got.target != 0)
		fail("offsets/lengths", r1, r2);
	if (got.vecs != got_vecs)
		fail("vecs pointer not kept", r1, r2);
	for (i = 0; i < got.nvecs; i++)
		if (got.vecs[i].off != want_vecs[i].off || got.vecs[i].len != want_vecs[i].len)
			fail("vector", r1, r2);
	/* The property that matters: inside the extent and the data area. */
	check_bounds(&got, &ctx);
out:
	free(area);
	return 0;
}
