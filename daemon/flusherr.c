/* SPDX-License-Identifier: MIT */
/* fe_: who must hear of a failed write or flush. See flusherr.h. */
#include "flusherr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A session's state for one volume index. */
#define FE_DIRTY (1u << 31) /* wrote since its last good flush */
#define FE_KNOWN (1u << 30) /* set (else: the session's default) */
#define FE_SEQ	 (FE_KNOWN - 1)

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
	f->nchunks = (nvols + FE_CHUNK - 1) / FE_CHUNK;
	f->nsess = nsess;
	return 0;
}

static void fe_drop(struct fe *f, struct fe_sess *s)
{
	uint32_t c;

	for (c = 0; s->chunk && c < f->nchunks; c++) {
		free(s->chunk[c]);
		s->chunk[c] = NULL;
	}
}

void fe_persist(struct fe *f, struct jr *jr)
{
	f->jr = jr;
}

/* @slot's journal record of owed failures, or NULL (not kept, bad slot). */
static struct jr_fe_owed *fe_record(const struct fe *f, uint32_t slot)
{
	if (!f->jr || !f->jr->sess || slot >= f->nsess || slot >= f->jr->hdr->max_sessions)
		return NULL;
	return &f->jr->sess[slot].fe;
}

/* Session @id in @slot is owed a failure on @vol: say so in the journal. */
static void fe_owe(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol)
{
	struct jr_fe_owed *o = fe_record(f, slot);

	if (!o || vol >= JR_FE_INDEXES)
		return;
	if (o->id != id) {
		/* Another session's bits: they are not this one's. */
		memset(o->bits, 0, sizeof(o->bits));
		__atomic_store_n(&o->id, id, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&o->bits[vol / 8], (uint8_t)(o->bits[vol / 8] | (1u << (vol % 8))),
			 __ATOMIC_RELEASE);
}

void fe_told(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol)
{
	struct jr_fe_owed *o = fe_record(f, slot);

	if (!o || vol >= JR_FE_INDEXES || o->id != id)
		return;
	__atomic_store_n(&o->bits[vol / 8], (uint8_t)(o->bits[vol / 8] & ~(1u << (vol % 8))),
			 __ATOMIC_RELEASE);
}

void fe_fini(struct fe *f)
{
	uint32_t i;

	for (i = 0; f->s && i < f->nsess; i++) {
		fe_drop(f, &f->s[i]);
		free(f->s[i].chunk);
	}
	free(f->s);
	free(f->seq);
	memset(f, 0, sizeof(*f));
}

/* @slot's state, made @id's (a session that used the slot before is
 * forgotten). Returns it, or NULL (bad slot or id, no memory). */
static struct fe_sess *fe_own(struct fe *f, uint32_t slot, uint64_t id)
{
	struct fe_sess *s;

	if (slot >= f->nsess || !id)
		return NULL;
	s = &f->s[slot];
	if (!s->chunk) {
		s->chunk = calloc(f->nchunks, sizeof(*s->chunk));
		if (!s->chunk)
			return NULL;
	}
	if (s->id != id) {
		fe_drop(f, s);
		s->restored = false;
		s->id = id;
	}
	return s;
}

/* Make sure @vol's chunk of @s exists. Returns 0 or -ENOMEM. */
static int fe_chunk(struct fe_sess *s, uint32_t vol)
{
	uint32_t **c = &s->chunk[vol / FE_CHUNK];

	if (!*c)
		*c = calloc(FE_CHUNK, sizeof(**c));
	return *c ? 0 : -ENOMEM;
}

int fe_track(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol)
{
	struct fe_sess *s = fe_own(f, slot, id);

	if (!s)
		return slot < f->nsess && id ? -ENOMEM : -EINVAL;
	if (vol >= f->nvols)
		return -EINVAL;
	return fe_chunk(s, vol);
}

/* Session @id's tracked state, or NULL if it has none (never wrote). */
static struct fe_sess *fe_sess(struct fe *f, uint32_t slot, uint64_t id)
{
	if (!id || slot >= f->nsess || f->s[slot].id != id || !f->s[slot].chunk)
		return NULL;
	return &f->s[slot];
}

/* @s's state for @vol: what was set, else dirty since before any failure
 * for a restored session, clean for any other. */
static uint32_t fe_get(const struct fe_sess *s, uint32_t vol)
{
	const uint32_t *c = s->chunk[vol / FE_CHUNK];
	uint32_t st = c ? c[vol % FE_CHUNK] : 0;

	if (st & FE_KNOWN)
		return st;
	return s->restored ? FE_DIRTY : 0;
}

/* Set @s's state for @vol. Without memory the old state stays: it only
 * ever errs towards -EIO (a dirty state kept, a failure told again). */
static void fe_set(struct fe_sess *s, uint32_t vol, uint32_t st)
{
	if (!fe_chunk(s, vol))
		s->chunk[vol / FE_CHUNK][vol % FE_CHUNK] = st | FE_KNOWN;
}

int fe_restored(struct fe *f, uint32_t slot, uint64_t id)
{
	struct fe_sess *s = fe_own(f, slot, id);
	const struct jr_fe_owed *o = fe_record(f, slot);
	uint32_t vol;

	if (!s)
		return slot < f->nsess && id ? -ENOMEM : -EINVAL;
	s->restored = true;
	if (!o || o->id != id)
		return 0;
	for (vol = 0; vol < f->nvols && vol < JR_FE_INDEXES; vol++) {
		if (!(o->bits[vol / 8] & (1u << (vol % 8))))
			continue;
		/* Dirty since before a failure this instance never counted. */
		if (fe_chunk(s, vol))
			return -ENOMEM;
		fe_set(s, vol, FE_DIRTY | ((f->seq[vol] - 1) & FE_SEQ));
	}
	return 0;
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

/* A failure on @vol: every session that wrote to it since its last good
 * flush is owed it (in the journal too). */
static void fe_bump(struct fe *f, uint32_t vol)
{
	uint32_t i;

	f->seq[vol] = (f->seq[vol] + 1) & FE_SEQ;
	for (i = 0; f->jr && i < f->nsess; i++) {
		struct fe_sess *s = fe_sess(f, i, f->s[i].id);
		uint32_t st = s ? fe_get(s, vol) : 0;

		if ((st & FE_DIRTY) && (st & FE_SEQ) != f->seq[vol])
			fe_owe(f, i, s->id, vol);
	}
}

void fe_wrote(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol, int32_t res)
{
	struct fe_sess *s;

	if (vol >= f->nvols)
		return;
	s = fe_sess(f, slot, id);
	/* Clean until now: failures before this write are not its concern. */
	if (s && !(fe_get(s, vol) & FE_DIRTY))
		fe_set(s, vol, FE_DIRTY | f->seq[vol]);
	if (fe_write_failed(res))
		fe_bump(f, vol);
}

int32_t fe_flushed(struct fe *f, uint32_t slot, uint64_t id, uint32_t vol, int32_t res, bool *told)
{
	bool failed = fe_flush_failed(res);
	struct fe_sess *s;
	uint32_t st;

	if (vol >= f->nvols)
		return res;
	if (failed)
		fe_bump(f, vol);
	s = fe_sess(f, slot, id);
	st = s ? fe_get(s, vol) : 0;
	if (!(st & FE_DIRTY))
		return failed ? 0 : res; /* nothing of its own to lose */
	if ((st & FE_SEQ) != f->seq[vol]) {
		/* Told now; it stays dirty until a flush succeeds. */
		fe_set(s, vol, FE_DIRTY | f->seq[vol]);
		if (told)
			*told = true;
		else
			fe_told(f, slot, id, vol);
		return -EIO;
	}
	if (!res)
		fe_set(s, vol, 0);
	return res;
}
