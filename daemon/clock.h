/* SPDX-License-Identifier: MIT */
/* The daemon's one clock: CLOCK_MONOTONIC in milliseconds or nanoseconds. */
#ifndef RINGD_DAEMON_CLOCK_H
#define RINGD_DAEMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_now_ms(void)
{
	return clock_now_ns() / 1000000u;
}

#endif
