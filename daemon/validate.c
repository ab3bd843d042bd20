/* SPDX-License-Identifier: MIT */
#include "validate.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

void val_sqe_fetch(struct ringd_sqe *dst, const struct ringd_sqe *shared)
{
	const uint64_t *src = (const uint64_t *)shared;
	uint64_t words[sizeof(*dst) / 8];
	unsigned int i;

#pragma GCC unroll 8
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		words[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	memcpy(dst, words, sizeof(*dst));
}

static bool val_reserved_zero(const struct ringd_sqe *sqe)
{
	return !(sqe->flags & ~RINGD_SQE_LINK) && !sqe->ioprio && !sqe->resv[0] && !sqe->resv[1];
}

static int val_handle(const struct ringd_sqe *sqe, const struct val_ctx *ctx,
		      const struct val_handle **out)
{
	const struct val_handle *h;

	if (sqe->handle < 0 || (uint32_t)sqe->handle >= ctx->nhandles)
		return -EBADF;
	h = &ctx->handles[sqe->handle];
	if (!h->open || h->vol >= ctx->nvols)
		return -EBADF;
	if (h->revoked)
		return h->revoked;
	if (ctx->vols[h->vol].removed)
		return -ENODEV;
	*out = h;
	return 0;
}

/* The handle of a request that changes data, and its volume. */
static int val_writer(const struct ringd_sqe *sqe, const struct val_ctx *ctx,
		      const struct val_handle **h)
{
	int ret = val_handle(sqe, ctx, h);

	if (ret)
		return ret;
	if (!(*h)->writable)
		return (*h)->write_revoked ? -EACCES : -EBADF;
	return 0;
}

/* [off, off+len) inside @v: fill dev_off. Returns 0 or -EINVAL. */
static int val_extent(const struct val_vol *v, uint64_t off, uint64_t len, struct val_io *out)
{
	uint64_t end;

	if (__builtin_add_overflow(off, len, &end) || end > v->size)
		return -EINVAL;
	if (__builtin_add_overflow(v->base, off, &out->dev_off))
		return -EINVAL;
	return 0;
}

/* [off, off+len) inside the data area. */
static bool val_in_area(const struct val_ctx *ctx, uint64_t off, uint64_t len)
{
	uint64_t end;

	return !__builtin_add_overflow(off, len, &end) && end <= ctx->data_size;
}

static void val_target(const struct val_handle *h, const struct val_ctx *ctx, struct val_io *out)
{
	out->vol = h->vol;
	out->file_slot = ctx->vols[h->vol].file_slot;
}

static int val_rw(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out)
{
	bool write = sqe->opcode == RINGD_OP_WRITE;
	const struct val_handle *h;
	const struct val_vol *v;
	int ret;

	if (sqe->buf_base || (sqe->op_flags & ~(write ? RINGD_RW_DSYNC : 0u)))
		return -EINVAL;
	ret = write ? val_writer(sqe, ctx, &h) : val_handle(sqe, ctx, &h);
	if (ret)
		return ret;
	v = &ctx->vols[h->vol];
	if (!sqe->len || sqe->len > ctx->max_io)
		return -EINVAL;
	if (val_extent(v, sqe->off, sqe->len, out))
		return -EINVAL;
	if (!val_in_area(ctx, sqe->addr, sqe->len))
		return -EFAULT;
	if (v->align > 1 && (sqe->off % v->align || sqe->len % v->align || sqe->addr % v->align))
		return -EINVAL;
	out->op = sqe->opcode;
	out->dsync = (sqe->op_flags & RINGD_RW_DSYNC) != 0;
	val_target(h, ctx, out);
	out->buf_off = sqe->addr;
	out->len = sqe->len;
	return 0;
}

/*
 * Read the iovec array at data-area offset @arr (checked to lie in the
 * area) once, with one load per 8-byte word, into @vecs as client
 * addresses. Word loads because a concurrent writer may tear nothing we
 * use twice: every later check looks at this copy only.
 */
static void val_iov_fetch(const struct val_ctx *ctx, uint64_t arr, uint32_t n, struct val_vec *vecs)
{
	const uint64_t *src = (const uint64_t *)(const void *)(ctx->data + arr);
	uint32_t i;

	for (i = 0; i < n; i++) {
		vecs[i].off = __atomic_load_n(&src[2 * i], __ATOMIC_RELAXED);
		vecs[i].len = __atomic_load_n(&src[2 * i + 1], __ATOMIC_RELAXED);
	}
}

static int val_rwv(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out)
{
	bool write = sqe->opcode == RINGD_OP_WRITEV;
	const struct val_handle *h;
	const struct val_vol *v;
	uint64_t total = 0;
	uint32_t i;
	int ret;

	if (sqe->op_flags & ~(write ? RINGD_RW_DSYNC : 0u))
		return -EINVAL;
	ret = write ? val_writer(sqe, ctx, &h) : val_handle(sqe, ctx, &h);
	if (ret)
		return ret;
	v = &ctx->vols[h->vol];
	if (!sqe->len || sqe->len > RINGD_MAX_VECS || !out->vecs)
		return -EINVAL;
	/* The array itself: in the area, and 8-byte aligned for the word loads. */
	if (!val_in_area(ctx, sqe->addr, (uint64_t)sqe->len * sizeof(struct iovec)))
		return -EFAULT;
	if (sqe->addr % 8)
		return -EINVAL;
	val_iov_fetch(ctx, sqe->addr, sqe->len, out->vecs);
	for (i = 0; i < sqe->len; i++) {
		struct val_vec *vec = &out->vecs[i];

		if (__builtin_add_overflow(total, vec->len, &total) || total > ctx->max_io)
			return -EINVAL;
		/* Client address -> area offset; one below the area wraps: -EFAULT. */
		vec->off -= sqe->buf_base;
	}
	if (!total || val_extent(v, sqe->off, total, out))
		return -EINVAL;
	for (i = 0; i < sqe->len; i++)
		if (!val_in_area(ctx, out->vecs[i].off, out->vecs[i].len))
			return -EFAULT;
	if (v->align > 1) {
		if (sqe->off % v->align)
			return -EINVAL;
		for (i = 0; i < sqe->len; i++)
			if (out->vecs[i].off % v->align || out->vecs[i].len % v->align)
				return -EINVAL;
	}
	out->op = sqe->opcode;
	out->dsync = (sqe->op_flags & RINGD_RW_DSYNC) != 0;
	val_target(h, ctx, out);
	out->len = (uint32_t)total;
	out->nvecs = sqe->len;
	return 0;
}

static int val_zero(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out)
{
	const struct val_handle *h;
	const struct val_vol *v;
	uint32_t a;
	int ret;

	if (sqe->len || sqe->op_flags || sqe->buf_base)
		return -EINVAL;
	ret = val_writer(sqe, ctx, &h);
	if (ret)
		return ret;
	v = &ctx->vols[h->vol];
	if (!sqe->addr || val_extent(v, sqe->off, sqe->addr, out))
		return -EINVAL;
	a = v->zero_align > v->align ? v->zero_align : v->align;
	if (a > 1 && (out->dev_off % a || sqe->addr % a || sqe->off % v->align))
		return -EINVAL;
	out->op = sqe->opcode;
	val_target(h, ctx, out);
	out->dev_len = sqe->addr;
	return 0;
}

static int val_check(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out)
{
	const struct val_handle *h;
	int ret;

	out->link = val_sqe_links(sqe);
	if (sqe->opcode >= RINGD_OP_LAST)
		return -EOPNOTSUPP;
	if (!val_reserved_zero(sqe))
		return -EINVAL;
	switch (sqe->opcode) {
	case RINGD_OP_NOP:
		if (sqe->handle || sqe->off || sqe->addr || sqe->len || sqe->op_flags ||
		    sqe->buf_base)
			return -EINVAL;
		out->op = RINGD_OP_NOP;
		return 0;
	case RINGD_OP_FSYNC:
		if (sqe->off || sqe->addr || sqe->len || sqe->buf_base ||
		    (sqe->op_flags & ~RINGD_FSYNC_DATASYNC))
			return -EINVAL;
		ret = val_handle(sqe, ctx, &h);
		if (ret)
			return ret;
		out->op = RINGD_OP_FSYNC;
		out->datasync = (sqe->op_flags & RINGD_FSYNC_DATASYNC) != 0;
		val_target(h, ctx, out);
		return 0;
	case RINGD_OP_READ:
	case RINGD_OP_WRITE:
		return val_rw(sqe, ctx, out);
	case RINGD_OP_READV:
	case RINGD_OP_WRITEV:
		return val_rwv(sqe, ctx, out);
	case RINGD_OP_DISCARD:
	case RINGD_OP_WRITE_ZEROES:
		return val_zero(sqe, ctx, out);
	case RINGD_OP_CANCEL:
		if (sqe->handle || sqe->off || sqe->len || sqe->op_flags || sqe->buf_base)
			return -EINVAL;
		out->op = RINGD_OP_CANCEL;
		out->target = sqe->addr;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

int val_sqe(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out)
{
	struct val_vec *vecs = out->vecs;
	int ret;

	memset(out, 0, sizeof(*out));
	out->vecs = vecs;
	ret = val_check(sqe, ctx, out);
	/* A refused SQE leaves nothing usable behind. */
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}
