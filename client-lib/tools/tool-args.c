/* SPDX-License-Identifier: MIT */
#include "tool-args.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringd.h"

int tool_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

const char *tool_socket(const char *given)
{
	const char *env = getenv("RINGD_SOCKET");

	if (given && *given)
		return given;
	return env && *env ? env : "/run/ringd/ringd.sock";
}

const char *tool_error(char *buf, size_t len, const char *what, int err, const char *sock)
{
	const char *why = ringd_last_message();
	bool absent = sock && (err == -ENOENT || err == -ECONNREFUSED);

	snprintf(buf, len, "%s: %s%s%s%s%s", what, strerror(-err), *why ? " (" : "", why,
		 *why ? ")" : "", absent ? "; is ringd running?" : "");
	return buf;
}

int tool_run1(struct ringd *rd)
{
	struct ringd_cqe *cqe;
	int ret;

	ret = ringd_submit_and_wait(rd, 1);
	if (ret < 0)
		return ret;
	ret = ringd_wait_cqe(rd, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	ringd_cqe_seen(rd, cqe);
	return ret;
}
