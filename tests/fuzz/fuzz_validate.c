/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness (b): val_sqe() against a reference model written
 * with 128-bit arithmetic, which cannot overflow. The input is an SQE
 * followed by the context (handles, volumes, data area, max_io); any
 * disagreement in the verdict or in the validated request aborts, and so
 * does an accepted request that leaves its extent or the data area.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

typedef unsigned __int128 u128;

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
};

/* The documented contract of val_sqe(), in order of precedence. */
static int model(const struct ringd_sqe *q, const struct val_ctx *c, struct val_io *o)
{
	const struct val_handle *h = NULL;
	const struct val_vol *v;
	u128 end;

	memset(o, 0, sizeof(*o));
	if (q->opcode >= RINGD_OP_LAST)
		return -EOPNOTSUPP;
	if (q->flags || q->ioprio || q->resv[0] || q->resv[1] || q->buf_base)
		return -EINVAL;
	if (q->opcode == RINGD_OP_NOP) {
		if (q->handle || q->off || q->addr || q->len || q->op_flags)
			return -EINVAL;
		o->op = RINGD_OP_NOP;
		return 0;
	}
	if (q->opcode == RINGD_OP_FSYNC) {
		if (q->off || q->addr || q->len || (q->op_flags & ~(uint32_t)RINGD_FSYNC_DATASYNC))
			return -EINVAL;
	} else if (q->op_flags) {
		return -EINVAL;
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
	o->vol = h->vol;
	o->file_slot = v->file_slot;
	if (q->opcode == RINGD_OP_FSYNC) {
		o->op = RINGD_OP_FSYNC;
		o->datasync = q->op_flags & RINGD_FSYNC_DATASYNC;
		return 0;
	}
	if (q->opcode == RINGD_OP_WRITE && !h->writable)
		return h->write_revoked ? -EACCES : -EBADF;
	if (q->len == 0 || q->len > c->max_io)
		return -EINVAL;
	end = (u128)q->off + q->len;
	if (end > v->size)
		return -EINVAL;
	end = (u128)q->addr + q->len;
	if (end > c->data_size)
		return -EFAULT;
	if (v->align > 1 &&
	    ((u128)q->off % v->align || q->len % v->align || (u128)q->addr % v->align))
		return -EINVAL;
	end = (u128)v->base + q->off;
	if (end > UINT64_MAX)
		return -EINVAL;
	o->op = q->opcode;
	o->dev_off = (uint64_t)end;
	o->buf_off = q->addr;
	o->len = q->len;
	return 0;
}

static void fail(const char *what, int got, int want)
{
	fprintf(stderr, "val_sqe disagrees with the model: %s (val_sqe %d, model %d)\n", what, got,
		want);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct val_handle handles[4];
	struct val_vol vols[3];
	struct val_ctx ctx;
	struct val_io got, want;
	struct fz_in in;
	unsigned int i;
	int r1, r2;

	if (size < sizeof(struct ringd_sqe))
		return 0;
	memset(&in, 0, sizeof(in));
	memcpy(&in, data, size < sizeof(in) ? size : sizeof(in));
	for (i = 0; i < 3; i++) {
		vols[i].base = in.vol_base[i];
		vols[i].size = in.vol_size[i];
		vols[i].align = 1u << (in.vol_align_log[i] % 13);
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
	ctx.handles = handles;
	ctx.nhandles = in.nhandles % 5;
	ctx.vols = vols;
	ctx.nvols = in.nvols % 4;
	ctx.data_size = in.data_size;
	ctx.max_io = in.max_io;

	r1 = val_sqe(&in.sqe, &ctx, &got);
	r2 = model(&in.sqe, &ctx, &want);
	if (r1 != r2)
		fail("verdict", r1, r2);
	if (r1)
		return 0;
	if (got.op != want.op || got.len != want.len || got.datasync != want.datasync)
		fail("op/len/datasync", r1, r2);
	if (got.op == RINGD_OP_NOP)
		return 0;
	if (got.vol != want.vol || got.file_slot != want.file_slot)
		fail("volume", r1, r2);
	if (got.op == RINGD_OP_FSYNC)
		return 0;
	if (got.dev_off != want.dev_off || got.buf_off != want.buf_off)
		fail("offsets", r1, r2);
	/* The property that matters: inside the extent and the data area. */
	if ((u128)got.dev_off + got.len > (u128)vols[got.vol].base + vols[got.vol].size ||
	    got.dev_off < vols[got.vol].base)
		fail("request leaves its extent", r1, r2);
	if ((u128)got.buf_off + got.len > ctx.data_size)
		fail("buffer leaves the data area", r1, r2);
	return 0;
}
