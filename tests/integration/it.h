/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the integration suites (header-only, static). */
#ifndef RINGD_TESTS_IT_H
#define RINGD_TESTS_IT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ringd.h"

/* Stop @d and assert it exited 0 (a sanitizer report makes it non-zero). */
static inline void it_stop(struct rt_daemon *d)
{
	int status = rt_daemon_stop(d);

	cr_assert_eq(status, 0, "ringd exited with status %d (see its log above)", status);
}

/* Submit one prepared SQE tagged @tag and wait for its completion. Returns
 * cqe->res, or the library's -errno if submitting or waiting failed. */
static inline int it_run1(struct ringd *rd, struct ringd_sqe *sqe, uint64_t tag)
{
	struct ringd_cqe *cqe;
	int ret, res;

	ringd_sqe_set_data64(sqe, tag);
	ret = ringd_submit_and_wait(rd, 1);
	if (ret < 0)
		return ret;
	ret = ringd_wait_cqe(rd, &cqe);
	if (ret < 0)
		return ret;
	cr_assert_eq(cqe->user_data, tag, "completion for tag %llu, expected %llu",
		     (unsigned long long)cqe->user_data, (unsigned long long)tag);
	res = cqe->res;
	ringd_cqe_seen(rd, cqe);
	return res;
}

/* One write (or read) of @len bytes from @buf at @off; returns cqe->res. */
static inline int it_write(struct ringd *rd, int h, const void *buf, unsigned int len, uint64_t off)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rd);

	cr_assert_not_null(sqe, "SQ full");
	ringd_prep_write(sqe, h, buf, len, off);
	return it_run1(rd, sqe, 0x5157);
}

static inline int it_read(struct ringd *rd, int h, void *buf, unsigned int len, uint64_t off)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rd);

	cr_assert_not_null(sqe, "SQ full");
	ringd_prep_read(sqe, h, buf, len, off);
	return it_run1(rd, sqe, 0x4ead);
}

/* True if @len bytes at @off of @path all equal @byte. */
static inline bool it_file_is(const char *path, uint64_t off, size_t len, uint8_t byte)
{
	uint8_t *buf = malloc(len);
	bool ok = false;
	size_t i;

	cr_assert_not_null(buf);
	if (!rt_pread_file(path, buf, len, off)) {
		for (i = 0; i < len && buf[i] == byte; i++)
			;
		ok = i == len;
	}
	free(buf);
	return ok;
}

#endif
