/* SPDX-License-Identifier: MIT */
/*
 * rl_: live reload (SIGHUP). Reading the file, opening and probing new
 * volumes (NVMe probing can take seconds, an open can block) happen on a
 * helper thread, off the loop; the loop applies the result in
 * O(volumes + sessions) without blocking, when the thread signals its
 * eventfd. One reload runs at a time; a SIGHUP during one asks for another
 * after it.
 */
#ifndef RINGD_DAEMON_RELOAD_H
#define RINGD_DAEMON_RELOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "figures.h"
#include "journal.h"
#include "qos.h"
#include "rings.h"
#include "session.h"
#include "vols.h"

struct rl_job;

struct reloader {
	struct cfg *cfg; /* the running config, replaced in place */
	struct sessions *st;
	struct vols *vols;
	struct jr *jr;
	struct rings *rg;
	struct qos *qos;
	int efd; /* the thread's "done" signal, polled on the main ring */
	pthread_t thread;
	bool running;
	bool again; /* a SIGHUP came while one ran */
	uint64_t started_ms;
	struct rl_job *job;
	unsigned int applied, refused; /* outcomes since start */
	struct figures *fig;	       /* re-indexed with the tenants, or NULL */
	/* Outcomes, for whoever waits for one (ringctl reload). */
	uint64_t seq;	     /* reloads started (or refused before starting) */
	uint64_t done_seq;   /* ... of them finished: applied or refused */
	int last_ret;	     /* the last one's 0 or -errno */
	char last_msg[1024]; /* and what it said (the error for a bad file) */
};

/* Wire the reloader and arm its eventfd's poll with @tag. Returns 0 or -errno. */
int rl_init(struct reloader *rl, struct cfg *cfg, struct sessions *st, struct vols *vols,
	    struct jr *jr, struct rings *rg, struct qos *qos, uint64_t tag);

/* Stop a reload still running (its thread is cancelled) and free everything. */
void rl_fini(struct reloader *rl);

/* SIGHUP: start a reload, or ask for one more after the running one. */
void rl_request(struct reloader *rl);

/* The eventfd poll fired (@more: still armed): apply the finished reload. */
void rl_event(struct reloader *rl, bool more, uint64_t tag);

#endif
