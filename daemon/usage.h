/* SPDX-License-Identifier: MIT */
/*
 * use_: what each tenant uses, counted against its limits: sessions
 * (max_sessions) and kernel requests (max_tenant_inflight). Indexed by the
 * running config's tenant index. The only writers are the calls below, and
 * a reload does not patch the counters: it rebuilds them from the session
 * table (use_reset, then use_add_session for every session), so that a
 * tenant index that changed or vanished can never be used stale. Every
 * call ignores a tenant index that is out of range (-1: no tenant).
 *
 * The request pool is shared, so a tenant's max_tenant_inflight alone
 * does not keep it from starving another: two tenants at the default 1024
 * (or one configured higher) could hold every slot behind slow requests.
 * So each tenant with a session is guaranteed a share of the pool: its
 * pool size divided by the tenants with sessions, or its own cap if that
 * is smaller. A tenant below its share may always take a free slot; one at
 * or past it only while the slots left cover every other tenant's unused
 * share (use_may_start). Nothing is taken back: a share comes free as the
 * requests holding it complete.
 */
#ifndef RINGD_DAEMON_USAGE_H
#define RINGD_DAEMON_USAGE_H

#include <stdbool.h>
#include <stdint.h>

struct cfg;

struct tenant_usage {
	unsigned int sessions; /* connections counted against max_sessions */
	unsigned int inflight; /* kernel requests, against max_tenant_inflight */
	unsigned int files;    /* file handles, against max_open_files */
	unsigned int blocking; /* of inflight: holding a kernel worker thread (iss_blocks) */
	uint64_t copying;      /* of inflight: bytes read through the page cache (iss_copies) */
	unsigned int cap;      /* its max_tenant_inflight (use_limit; UINT_MAX until set) */
	unsigned int reserve;  /* slots guaranteed: min(cap, share) with a session, else 0 */
};

struct usage {
	struct tenant_usage *t;
	unsigned int n;
	unsigned int pool;   /* the request pool's slots (0: no shares kept) */
	unsigned int active; /* tenants with a session */
	unsigned int share;  /* of the pool, each of them is guaranteed: pool / active */
	unsigned int unmet;  /* their guaranteed slots not in use, summed */
};

/* Zero counters for @ntenants tenants, without caps, sharing u->pool
 * (kept). Returns 0 or -ENOMEM (then unchanged). */
int use_reset(struct usage *u, unsigned int ntenants);
/* use_reset() for @cfg's tenants, each capped at its max_tenant_inflight. */
int use_configure(struct usage *u, const struct cfg *cfg);
/* The request pool has @pool slots / tenant @t may have @cap in flight. */
void use_set_pool(struct usage *u, unsigned int pool);
void use_limit(struct usage *u, int t, unsigned int cap);
/*
 * Whether tenant @t may start one more request with @free slots of the
 * pool free: under its cap, and within its share or leaving the other
 * tenants' unused shares free. A session without a tenant (-1) has no
 * share and no cap.
 */
bool use_may_start(const struct usage *u, int t, unsigned int free);
void use_fini(struct usage *u);

/* A session of tenant @t with @inflight requests, counted whole (rebuilds). */
void use_add_session(struct usage *u, int t, unsigned int inflight);
/* A session of tenant @t went away (its requests were counted down already). */
void use_del_session(struct usage *u, int t);
/* File handles of tenant @t: @n more (rebuilds, restores) / one less. */
void use_add_files(struct usage *u, int t, unsigned int n);
void use_del_file(struct usage *u, int t);
/*
 * The data path's: one request of tenant @t starts / is done, holding a
 * kernel worker if @blocking and reading @copying bytes through the page
 * cache. One lookup for all of its counters, in O(1).
 */
void use_io_start(struct usage *u, int t, bool blocking, uint64_t copying);
void use_io_done(struct usage *u, int t, bool blocking, uint64_t copying);
/* Rebuilds: requests of tenant @t that hold a kernel worker / bytes it
 * reads through the page cache, @n more. */
void use_add_blocking(struct usage *u, int t, unsigned int n);
void use_add_copying(struct usage *u, int t, uint64_t n);

/* Tenant @t's counters (zeros for no tenant). */
struct tenant_usage use_get(const struct usage *u, int t);
/* Of those, the two the data path checks on every request. */
unsigned int use_blocking(const struct usage *u, int t);
uint64_t use_copying(const struct usage *u, int t);

#endif
