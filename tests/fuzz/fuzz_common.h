/* SPDX-License-Identifier: MIT */
/*
 * fz_: shared set-up of the fuzz harnesses: one real server (struct srv,
 * with its io_uring, one file volume and one tenant) in the fuzzing
 * process, and sessions attached to it over a socketpair instead of the
 * listening socket.
 */
#ifndef RINGD_FUZZ_COMMON_H
#define RINGD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "loop.h"

#define FZ_VOL_SIZE  (1u << 20)	 /* the volume's extent */
#define FZ_DATA_SIZE (64u << 10) /* data area of fuzzed sessions */
#define FZ_MAX_IO    (64u << 10)

/* The server, initialised once (aborts if that fails). */
struct srv *fz_srv(void);

/*
 * A new session of tenant 0 on a socketpair, in SESS_HANDSHAKE; *peer is
 * the client end. Returns 0 or -errno.
 */
int fz_sess_new(struct srv *s, struct sess **out, int *peer);

/* Read and drop every reply waiting on @peer. */
void fz_drain(int peer);

/* Close @se and reap kernel completions until it is freed (aborts if it
 * is not within a few seconds). */
void fz_sess_end(struct srv *s, struct sess *se);

/* Submit, reap every kernel completion available and route it as the
 * server's loop does. @wait: block (briefly) for one. */
void fz_reap(struct srv *s, int wait);

#endif
