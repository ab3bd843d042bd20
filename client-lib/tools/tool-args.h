/* SPDX-License-Identifier: MIT */
/* Argument parsing shared by the command-line tools. */
#ifndef RINGD_TOOLS_ARGS_H
#define RINGD_TOOLS_ARGS_H

#include <stdint.h>

/* "4096", "0x1000", "4K", "1M", "2G" -> bytes. Returns 0 or -EINVAL. */
int tool_parse_size(const char *s, uint64_t *out);

#endif
