/* SPDX-License-Identifier: MIT */
/*
 * ut_: what the per-layer unit suites share: a scratch directory under
 * /var/tmp (real files, O_DIRECT-capable), config files written into it,
 * an fd count to check that a test gave back everything it opened, and a
 * control reply reader. It calls only layer A (cfg_load) and proto, so the
 * suite of every layer from B up can link it.
 */
#ifndef RINGD_TESTS_UNIT_UTIL_H
#define RINGD_TESTS_UNIT_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ringd.pb-c.h"
#include "rings.h"

/* A fresh directory /var/tmp/ringd-unit.XXXXXX in @dir (PATH_MAX). Asserts. */
void ut_tmpdir(char *dir);

/* Remove @dir and everything under it (no-op on ""). */
void ut_rmtree(const char *dir);

/* Write @body to @dir/@name, replacing it; the full path goes to @path
 * (PATH_MAX) if not NULL. Asserts. */
void ut_write(const char *dir, const char *name, const char *body, char *path);

/* cfg_load(@path) into @c; asserts that it loads. */
void ut_cfg_load(const char *path, struct cfg *c);

/* Open fds of this process. */
int ut_count_fds(void);

/* Ring parameters small enough for a test: @nr_bufs buffer slots. */
struct rg_params ut_rg_params(unsigned int nr_bufs);

/*
 * Receive one control reply on @fd (waiting up to 2 s), closing any fds it
 * carried (their count goes to *@nfds if not NULL). Asserts; the caller
 * frees it with ringd__reply__free_unpacked().
 */
Ringd__Reply *ut_recv_reply(int fd, unsigned int *nfds);

#endif
