/* SPDX-License-Identifier: MIT */
/*
 * srv_: the daemon, composed of its parts, and its event loop. Nothing
 * calls this layer but main().
 */
#ifndef RINGD_DAEMON_LOOP_H
#define RINGD_DAEMON_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ctlplane.h"
#include "dispatch.h"
#include "figures.h"
#include "journal.h"
#include "metrics.h"
#include "qos.h"
#include "reload.h"
#include "reqs.h"
#include "rings.h"
#include "session.h"
#include "usage.h"
#include "vols.h"

struct srv {
	struct cfg cfg; /* the running config: every part points here */
	struct jr jr;	/* the private journal, in the fd store */
	struct rings rg;
	struct vols vols;
	struct reqs rq;
	struct usage use;
	struct qos qos;
	struct figures fig;
	struct mx_writer mx;
	struct sessions st;
	struct disp disp;
	struct ctlplane cp;
	struct reloader rl;

	int signal_fd;
	bool stop;
	uint64_t tick_ms;	 /* longest sleep of the loop */
	uint64_t last_status_ms; /* last STATUS= sent to systemd */
	uint64_t last_paths_ms;	 /* last look at the fabric volumes' paths */
	uint64_t idle_since_ns;	 /* start of the current idle poll; 0: not idle */
	unsigned int reaped;	 /* kernel completions in the last pass */
	unsigned int ready;	 /* how far srv_init() got: what srv_fini() undoes */
};

/* Build the daemon on @cfg (taken over): rings, volumes, the socket,
 * and recovery of a previous instance's sessions. Returns 0 or -errno
 * (logged); call srv_fini() either way. */
int srv_init(struct srv *s, const struct cfg *cfg);

/* Run the loop until SIGINT/SIGTERM, then drain. Returns 0 or -errno. */
int srv_run(struct srv *s);

/* Release everything srv_init() acquired. */
void srv_fini(struct srv *s);

/* Route one kernel completion to its owner (an explicit switch on the tag). */
void srv_cqe(struct srv *s, const struct kr_cqe *c);

/* Reap and route every completion waiting on every ring, then publish
 * CQ tails and free what left the session table. Returns the count. */
unsigned int srv_reap(struct srv *s);

#endif
