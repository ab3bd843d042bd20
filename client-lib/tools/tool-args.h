/* SPDX-License-Identifier: MIT */
/* Argument parsing and error messages shared by the command-line tools. */
#ifndef RINGD_TOOLS_ARGS_H
#define RINGD_TOOLS_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* "4096", "0x1000", "4K", "1M", "2G" -> bytes. Returns 0 or -EINVAL. */
int tool_parse_size(const char *s, uint64_t *out);

/* The socket libringd connects to for @given: itself, else $RINGD_SOCKET,
 * else /run/ringd/ringd.sock. Never NULL. */
const char *tool_socket(const char *given);

/*
 * "WHAT: strerror(-ERR)" into @buf, followed by the daemon's reason for the
 * call it refused last in this thread (ringd_last_message()), if any, and,
 * when @sock is not NULL (a connect) and nothing listens there (-ENOENT,
 * -ECONNREFUSED), by "; is ringd running?". Returns @buf.
 */
const char *tool_error(char *buf, size_t len, const char *what, int err, const char *sock);

struct ringd;

/* Submit what is prepared, wait for one completion and consume it.
 * Returns its res, or the library's -errno. */
int tool_run1(struct ringd *rd);

#endif
