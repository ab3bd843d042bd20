/* SPDX-License-Identifier: MIT */
/* fe_: who must hear of a failed write or flush. See flusherr.h. */
#include "flusherr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FE_DIRTY (1u << 31) /* wrote since its last good flush */
#define FE_SEQ	 (FE_DIRTY - 1)

int fe_init(struct fe *f, uint32_t nvols, uint32_t nsess)
{
	memset(f, 0, sizeof(*f));
	f->seq = calloc(nvols, sizeof(*f->seq));
	f->s = calloc(nsess, sizeof(*f->s));
	if (!f->seq || !f->s) {
		fe_fini(f);
		return -ENOMEM;
	}
	f->nvols = nvols;
	f->nsess = nsess;
	return 0;
}

void fe_fini(struct fe *f)
{
	uint32_t i;

	for (i = 0; f->s && i < f->nsess; i++)
		free(f->s[i].st);
	free(f->s);
	free(f->seq);
	memset(f, 0, sizeof(*f));
}

int fe_track(struct fe *f, uint32_t slot, uint64_t id)
{
	struct fe_sess *s;

	if (slot >= f->nsess || !id)
		return -EINVAL;
	s = &f->s[slot];
	if (!s->st) {
		/* Kept for the slot's next sessions: one allocation per slot. */
		s->st = calloc(f->nvols, sizeof(*s->st));
		if (!s->st)
			return -ENOMEM;
	} else if (s->id != id) {
		memset(s->st, 0, f->nvols * sizeof(*s->st));
	}
	s->id = id;
	return 0;
}

int fe_restored(struct fe *f, uint32_t slot, uint64_t id)
{
	int ret = fe_track(f, slot, id);
	uint32_t i;

	if (ret)
		return ret;
	for (i = 0; i < f->nvols; i++)
		f->s[slot].st[i] = FE_DIRTY | f->seq[i];
	return 0;
}

/* Session @id's state for volume @vol, or NULL if it has none. */
static uint32_t *fe_state(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol)
{
	if (!id || slot >= f->nsess || f->s[slot].id != id || !f->s[slot].st)
		return NULL;
	return &f->s[slot].st[vol];
}

bool fe_write_failed(int32_t res)
{
	/* The issue layer turns every device, path and media error into -EIO;
	 * -ENOSPC, -EDQUOT, -EROFS... refuse this write and lose nothing else. */
	return res == -EIO;
}

bool fe_flush_failed(int32_t res)
{
	switch (res) {
	case -EINVAL:
	case -EOPNOTSUPP:
	case -EBADF:
	case -ECANCELED:
	case -EAGAIN:
	case -EINTR:
	case -ENOMEM:
	case -EFAULT:
		return false; /* the flush did not run */
	default:
		return res < 0; /* -EIO, -ENOSPC, -EDQUOT, -EROFS...: write-back lost data */
	}
}

static void fe_bump(struct fe *f, uint32_t vol)
{
	f->seq[vol] = (f->seq[vol] + 1) & FE_SEQ;
}

void fe_wrote(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol, int32_t res)
{
	uint32_t *st;

	if (vol >= f->nvols)
		return;
	st = fe_state(f, slot, id, vol);
	/* Clean until now: failures before this write are not its concern. */
	if (st && !(*st & FE_DIRTY))
		*st = FE_DIRTY | f->seq[vol];
	if (fe_write_failed(res))
		fe_bump(f, vol);
}

int32_t fe_flushed(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol, int32_t res)
{
	bool failed = fe_flush_failed(res);
	uint32_t *st;

	if (vol >= f->nvols)
		return res;
	if (failed)
		fe_bump(f, vol);
	st = fe_state(f, slot, id, vol);
	if (!st || !(*st & FE_DIRTY))
		return failed ? 0 : res; /* nothing of its own to lose */
	if ((*st & FE_SEQ) != f->seq[vol]) {
		/* Told now; it stays dirty until a flush succeeds. */
		*st = FE_DIRTY | f->seq[vol];
		return -EIO;
	}
	if (!res)
		*st = 0;
	return res;
}
