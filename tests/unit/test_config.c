/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

Test(config, size_suffixes)
{
	uint64_t v;

	cr_assert_eq(cfg_parse_size("64M", &v), 0);
	cr_assert_eq(v, 64ull << 20);
}
