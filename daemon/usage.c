/* SPDX-License-Identifier: MIT */
/* use_: per-tenant usage counters. */
#include "usage.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tags.h"

/* How many of its guaranteed slots tenant @tu leaves unused. */
static unsigned int use_unmet_of(const struct tenant_usage *tu)
{
	return tu->inflight < tu->reserve ? tu->reserve - tu->inflight : 0;
}

/* Tenant @tu's guaranteed slots: its share (capped) if it has a session. */
static unsigned int use_reserve_of(const struct usage *u, const struct tenant_usage *tu)
{
	if (!u->pool || !tu->sessions)
		return 0;
	return tu->cap < u->share ? tu->cap : u->share;
}

/* Every share again (the tenants with sessions, or the pool, changed). */
static void use_recount(struct usage *u)
{
	unsigned int i;

	u->active = 0;
	for (i = 0; i < u->n; i++)
		u->active += u->t[i].sessions != 0;
	u->share = u->active ? u->pool / u->active : 0;
	u->unmet = 0;
	for (i = 0; i < u->n; i++) {
		u->t[i].reserve = use_reserve_of(u, &u->t[i]);
		u->unmet += use_unmet_of(&u->t[i]);
	}
}

/* Tenant @tu's sessions or cap changed; before, it had sessions if @had
 * and left @unmet of its share unused. O(1) unless it gained its first
 * session or lost its last (and without a pool, nothing is kept: a rebuild
 * sets the pool last, for one recount). */
static void use_changed(struct usage *u, struct tenant_usage *tu, bool had, unsigned int unmet)
{
	if (!u->pool)
		return;
	if (had != (tu->sessions != 0)) {
		use_recount(u);
		return;
	}
	tu->reserve = use_reserve_of(u, tu);
	u->unmet = u->unmet - unmet + use_unmet_of(tu);
}

int use_reset(struct usage *u, unsigned int ntenants)
{
	struct tenant_usage *t = calloc(ntenants ? ntenants : 1, sizeof(*t));
	unsigned int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < ntenants; i++)
		t[i].cap = UINT_MAX;
	free(u->t);
	u->t = t;
	u->n = ntenants;
	use_recount(u);
	return 0;
}

int use_configure(struct usage *u, const struct cfg *cfg)
{
	unsigned int i;
	int ret = use_reset(u, cfg->ntenants);

	for (i = 0; !ret && i < cfg->ntenants; i++)
		u->t[i].cap = cfg->tenants[i].max_tenant_inflight;
	return ret;
}

void use_set_pool(struct usage *u, unsigned int pool)
{
	u->pool = pool;
	use_recount(u);
}

void use_fini(struct usage *u)
{
	free(u->t);
	u->t = NULL;
	u->n = 0;
}

/* Tenant @t's counters, or NULL for no tenant or an index out of range. */
static const struct tenant_usage *use_peek(const struct usage *u, int t)
{
	if (t < 0 || (unsigned int)t >= u->n)
		return NULL;
	return &u->t[idx_nospec((uint32_t)t, u->n)];
}

static struct tenant_usage *use_of(struct usage *u, int t)
{
	return (struct tenant_usage *)use_peek(u, t);
}

void use_limit(struct usage *u, int t, unsigned int cap)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu) {
		unsigned int unmet = use_unmet_of(tu);

		tu->cap = cap;
		use_changed(u, tu, tu->sessions != 0, unmet);
	}
}

void use_add_session(struct usage *u, int t, unsigned int inflight)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu) {
		bool had = tu->sessions != 0;
		unsigned int unmet = use_unmet_of(tu);

		tu->sessions++;
		tu->inflight += inflight;
		use_changed(u, tu, had, unmet);
	}
}

void use_del_session(struct usage *u, int t)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu && tu->sessions) {
		unsigned int unmet = use_unmet_of(tu);

		tu->sessions--;
		use_changed(u, tu, true, unmet);
	}
}

void use_add_files(struct usage *u, int t, unsigned int n)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu)
		tu->files += n;
}

void use_del_file(struct usage *u, int t)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu && tu->files)
		tu->files--;
}

void use_io_start(struct usage *u, int t, bool blocking, uint64_t copying)
{
	struct tenant_usage *tu = use_of(u, t);

	if (!tu)
		return;
	if (tu->inflight < tu->reserve)
		u->unmet--;
	tu->inflight++;
	tu->blocking += blocking;
	tu->copying += copying;
}

void use_io_done(struct usage *u, int t, bool blocking, uint64_t copying)
{
	struct tenant_usage *tu = use_of(u, t);

	if (!tu)
		return;
	if (tu->inflight) {
		tu->inflight--;
		if (tu->inflight < tu->reserve)
			u->unmet++;
	}
	if (blocking && tu->blocking)
		tu->blocking--;
	tu->copying -= copying < tu->copying ? copying : tu->copying;
}

void use_add_blocking(struct usage *u, int t, unsigned int n)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu)
		tu->blocking += n;
}

void use_add_copying(struct usage *u, int t, uint64_t n)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu)
		tu->copying += n;
}

bool use_may_start(const struct usage *u, int t, unsigned int free)
{
	const struct tenant_usage *tu;

	if (!free)
		return false;
	tu = use_peek(u, t);
	if (!tu)
		return free > u->unmet;
	if (tu->inflight >= tu->cap)
		return false;
	/* Past its share, the slot taken must not be one another tenant is owed. */
	return tu->inflight < tu->reserve || free > u->unmet;
}

struct tenant_usage use_get(const struct usage *u, int t)
{
	const struct tenant_usage *tu = use_peek(u, t);
	struct tenant_usage z = { 0 };

	return tu ? *tu : z;
}

unsigned int use_blocking(const struct usage *u, int t)
{
	const struct tenant_usage *tu = use_peek(u, t);

	return tu ? tu->blocking : 0;
}

uint64_t use_copying(const struct usage *u, int t)
{
	const struct tenant_usage *tu = use_peek(u, t);

	return tu ? tu->copying : 0;
}
