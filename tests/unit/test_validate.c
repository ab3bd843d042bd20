/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "validate.h"

Test(validate, nop_ok)
{
	struct val_ctx ctx = { 0 };
	struct ringd_sqe sqe = { .opcode = RINGD_OP_NOP };
	struct val_io io;

	cr_assert_eq(val_sqe(&sqe, &ctx, &io), 0);
}
