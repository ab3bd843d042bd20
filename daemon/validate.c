/* SPDX-License-Identifier: MIT */
#include "validate.h"

#include <errno.h>
#include <string.h>

void val_sqe_fetch(struct ringd_sqe *dst, const struct ringd_sqe *shared)
{
	const uint64_t *src = (const uint64_t *)shared;
	uint64_t words[sizeof(*dst) / 8];
	unsigned int i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		words[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	memcpy(dst, words, sizeof(*dst));
}

static bool val_reserved_zero(const struct ringd_sqe *sqe)
{
	return !sqe->flags && !sqe->ioprio && !sqe->resv[0] && !sqe->resv[1] && !sqe->resv[2];
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

static int val_rw(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out)
{
	const struct val_handle *h;
	const struct val_vol *v;
	uint64_t end;
	int ret;

	if (sqe->op_flags)
		return -EINVAL;
	ret = val_handle(sqe, ctx, &h);
	if (ret)
		return ret;
	if (sqe->opcode == RINGD_OP_WRITE && !h->writable)
		return h->write_revoked ? -EACCES : -EBADF;
	v = &ctx->vols[h->vol];
	if (!sqe->len || sqe->len > ctx->max_io)
		return -EINVAL;
	if (__builtin_add_overflow(sqe->off, (uint64_t)sqe->len, &end) || end > v->size)
		return -EINVAL;
	if (__builtin_add_overflow(sqe->addr, (uint64_t)sqe->len, &end) || end > ctx->data_size)
		return -EFAULT;
	if (v->align > 1 && (sqe->off % v->align || sqe->len % v->align || sqe->addr % v->align))
		return -EINVAL;
	if (__builtin_add_overflow(v->base, sqe->off, &out->dev_off))
		return -EINVAL;
	out->op = sqe->opcode;
	out->datasync = false;
	out->vol = h->vol;
	out->file_slot = v->file_slot;
	out->buf_off = sqe->addr;
	out->len = sqe->len;
	return 0;
}

int val_sqe(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out)
{
	const struct val_handle *h;
	int ret;

	memset(out, 0, sizeof(*out));
	if (sqe->opcode >= RINGD_OP_LAST)
		return -EOPNOTSUPP;
	if (!val_reserved_zero(sqe))
		return -EINVAL;
	switch (sqe->opcode) {
	case RINGD_OP_NOP:
		if (sqe->handle || sqe->off || sqe->addr || sqe->len || sqe->op_flags)
			return -EINVAL;
		out->op = RINGD_OP_NOP;
		return 0;
	case RINGD_OP_FSYNC:
		if (sqe->off || sqe->addr || sqe->len || (sqe->op_flags & ~RINGD_FSYNC_DATASYNC))
			return -EINVAL;
		ret = val_handle(sqe, ctx, &h);
		if (ret)
			return ret;
		out->op = RINGD_OP_FSYNC;
		out->datasync = (sqe->op_flags & RINGD_FSYNC_DATASYNC) != 0;
		out->vol = h->vol;
		out->file_slot = ctx->vols[h->vol].file_slot;
		return 0;
	case RINGD_OP_READ:
	case RINGD_OP_WRITE:
		return val_rw(sqe, ctx, out);
	default:
		return -EOPNOTSUPP;
	}
}
