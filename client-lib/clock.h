/* SPDX-License-Identifier: MIT */
/*
 * libringd: the monotonic clock, for every layer. Header only; calls
 * nothing but libc.
 */
#ifndef RINGD_CLIENT_CLOCK_H
#define RINGD_CLIENT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds on CLOCK_MONOTONIC. */
static inline uint64_t clk_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Milliseconds on CLOCK_MONOTONIC. */
static inline uint64_t clk_now_ms(void)
{
	return clk_now_us() / 1000u;
}

#endif
