/* SPDX-License-Identifier: MIT */
/* use_: per-tenant usage counters. */
#include "usage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tags.h"

int use_reset(struct usage *u, unsigned int ntenants)
{
	struct tenant_usage *t = calloc(ntenants ? ntenants : 1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	free(u->t);
	u->t = t;
	u->n = ntenants;
	return 0;
}

void use_fini(struct usage *u)
{
	free(u->t);
	u->t = NULL;
	u->n = 0;
}

/* Tenant @t's counters, or NULL for no tenant or an index out of range. */
static struct tenant_usage *use_of(struct usage *u, int t)
{
	if (t < 0 || (unsigned int)t >= u->n)
		return NULL;
	return &u->t[idx_nospec((uint32_t)t, u->n)];
}

void use_add_session(struct usage *u, int t, unsigned int inflight)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu) {
		tu->sessions++;
		tu->inflight += inflight;
	}
}

void use_del_session(struct usage *u, int t)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu && tu->sessions)
		tu->sessions--;
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

void use_io_start(struct usage *u, int t)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu)
		tu->inflight++;
}

void use_io_done(struct usage *u, int t)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu && tu->inflight)
		tu->inflight--;
}

void use_add_blocking(struct usage *u, int t, unsigned int n)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu)
		tu->blocking += n;
}

void use_block_done(struct usage *u, int t)
{
	struct tenant_usage *tu = use_of(u, t);

	if (tu && tu->blocking)
		tu->blocking--;
}

struct tenant_usage use_get(const struct usage *u, int t)
{
	struct tenant_usage z = { 0 };

	if (t < 0 || (unsigned int)t >= u->n)
		return z;
	return u->t[idx_nospec((uint32_t)t, u->n)];
}
