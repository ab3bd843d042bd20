/* SPDX-License-Identifier: MIT */
/* chk_: `ringd --check-config`: the file, then what the daemon would open. */
#ifndef RINGD_DAEMON_CHECK_H
#define RINGD_DAEMON_CHECK_H

#include <stdio.h>

/*
 * Check the config file @path as the daemon would start on it: every
 * parse error, then state_dir and each volume's backing opened as
 * vol_open() would (nothing is created: a missing file with create_size
 * needs a writable directory to be created in), each error on @errf as
 * "file:line: ...". Warns on @errf (without failing) about extents that
 * overlap on one backing and about a uid or gid listed by two tenants.
 * Prints "FILE: OK (...)" on @out when there is no error. Returns the
 * number of errors.
 */
unsigned int chk_config(const char *path, FILE *out, FILE *errf);

#endif
