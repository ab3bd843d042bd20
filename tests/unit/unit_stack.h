/* SPDX-License-Identifier: MIT */
/*
 * ut_stack: the daemon's parts up to the session layer (A, B and C), built
 * the way srv_init() builds them but without the loop, on a config file in
 * a scratch directory, so that the suites of layers C, D and E can drive
 * them by hand. Only for suites that link the session layer.
 */
#ifndef RINGD_TESTS_UNIT_STACK_H
#define RINGD_TESTS_UNIT_STACK_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "journal.h"
#include "reqs.h"
#include "rings.h"
#include "session.h"
#include "qos.h"
#include "usage.h"
#include "vols.h"

#define UT_MAX_SESSIONS 4u
#define UT_NREQS	32u

struct ut_stack {
	char dir[PATH_MAX];
	char cfg_path[PATH_MAX];
	struct cfg cfg;
	struct rings rg;
	struct jr jr;
	struct vols vols;
	struct usage use;
	struct qos qos;
	struct reqs rq;
	struct sessions st;
	unsigned int ready;
};

/*
 * Write the config file of @s: a [daemon] section (socket and state_dir in
 * the scratch directory, max_sessions UT_MAX_SESSIONS, then @daemon_extra)
 * followed by @sections.
 */
void ut_stack_config(struct ut_stack *s, const char *daemon_extra, const char *sections);

/*
 * A scratch directory, the config (as ut_stack_config), and every part up
 * to the session table, with the configured volumes open. Skips the test
 * if io_uring is not available. Asserts.
 */
void ut_stack_up(struct ut_stack *s, const char *daemon_extra, const char *sections);

/* Tear down whatever ut_stack_up() built, in srv_fini()'s order. */
void ut_stack_down(struct ut_stack *s);

/* A session of peer (@uid, @gid) on a fresh socketpair; the client's end
 * goes to *@peer. Asserts. */
struct sess *ut_session(struct ut_stack *s, uid_t uid, gid_t gid, int *peer);

/* Hello for a session with a data area of @data_size bytes (0: default). */
int ut_attach(struct ut_stack *s, struct sess *se, uint64_t data_size, char *err, size_t errlen);

/* One wait of at most 100 ms, then reap. Returns the completions in @out. */
unsigned int ut_wait(struct ut_stack *s, struct kr_cqe *out, unsigned int max);

/*
 * Route a session poll completion (control, doorbell, poll removal) the
 * way the loop does, without reading the control socket. Returns false
 * if @c is not one of those.
 */
bool ut_route_session_poll(struct ut_stack *s, const struct kr_cqe *c);

/* Wait and route session polls until no session is left in the table
 * (at most 5 s). Asserts. */
void ut_drain_sessions(struct ut_stack *s);

#endif
