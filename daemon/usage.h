/* SPDX-License-Identifier: MIT */
/*
 * use_: what each tenant uses, counted against its limits: sessions
 * (max_sessions) and kernel requests (max_tenant_inflight). Indexed by the
 * running config's tenant index. The only writers are the calls below, and
 * a reload does not patch the counters: it rebuilds them from the session
 * table (use_reset, then use_add_session for every session), so that a
 * tenant index that changed or vanished can never be used stale. Every
 * call ignores a tenant index that is out of range (-1: no tenant).
 */
#ifndef RINGD_DAEMON_USAGE_H
#define RINGD_DAEMON_USAGE_H

#include <stdbool.h>

struct tenant_usage {
	unsigned int sessions; /* connections counted against max_sessions */
	unsigned int inflight; /* kernel requests, against max_tenant_inflight */
	unsigned int files;    /* file handles, against max_open_files */
	unsigned int blocking; /* of inflight: holding a kernel worker thread (iss_blocks) */
};

struct usage {
	struct tenant_usage *t;
	unsigned int n;
};

/* Zero counters for @ntenants tenants. Returns 0 or -ENOMEM (then unchanged). */
int use_reset(struct usage *u, unsigned int ntenants);
void use_fini(struct usage *u);

/* A session of tenant @t with @inflight requests, counted whole (rebuilds). */
void use_add_session(struct usage *u, int t, unsigned int inflight);
/* A session of tenant @t went away (its requests were counted down already). */
void use_del_session(struct usage *u, int t);
/* File handles of tenant @t: @n more (rebuilds, restores) / one less. */
void use_add_files(struct usage *u, int t, unsigned int n);
void use_del_file(struct usage *u, int t);
void use_io_start(struct usage *u, int t);
void use_io_done(struct usage *u, int t);
/* Requests of tenant @t that hold a kernel worker: @n more (rebuilds too) / one less. */
void use_add_blocking(struct usage *u, int t, unsigned int n);
void use_block_done(struct usage *u, int t);

/* Tenant @t's counters (zeros for no tenant). */
struct tenant_usage use_get(const struct usage *u, int t);

#endif
