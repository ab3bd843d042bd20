/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "line-rtt.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define LR_BATCHES  16u
#define LR_TRIPS    1000u
#define LR_LIMIT_NS 2000000000ull /* CPUs busy with other work: give up */

/* The two lines: the caller writes ping, the peer answers in pong. */
struct lr_lines {
	_Alignas(64) uint32_t ping;
	_Alignas(64) uint32_t pong;
	uint32_t stop;
	int cpu;
	int err;
};

static int lr_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void *lr_peer(void *arg)
{
	struct lr_lines *l = arg;
	uint32_t seen = 0, v;

	l->err = lr_pin(l->cpu);
	/* Pinned or not, it answers until told to stop. */
	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		v = __atomic_load_n(&l->ping, __ATOMIC_ACQUIRE);
		if (v != seen) {
			seen = v;
			__atomic_store_n(&l->pong, v, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

static uint64_t lr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int lr_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double line_rtt_ns(int cpu_a, int cpu_b)
{
	static struct lr_lines l;
	double batch[LR_BATCHES];
	uint64_t start, spins;
	cpu_set_t saved;
	pthread_t peer;
	uint32_t b, i, v = 0;
	int ret;

	if (sched_getaffinity(0, sizeof(saved), &saved))
		return -errno;
	ret = lr_pin(cpu_a);
	if (ret)
		return ret;
	__atomic_store_n(&l.ping, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l.pong, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l.stop, 0, __ATOMIC_RELAXED);
	l.cpu = cpu_b;
	l.err = 0;
	ret = pthread_create(&peer, NULL, lr_peer, &l);
	if (ret) {
		sched_setaffinity(0, sizeof(saved), &saved);
		return -ret;
	}
	start = lr_now_ns();
	for (b = 0; b < LR_BATCHES; b++) {
		uint64_t t0 = lr_now_ns();

		for (i = 0; i < LR_TRIPS; i++) {
			__atomic_store_n(&l.ping, ++v, __ATOMIC_RELEASE);
			for (spins = 1; __atomic_load_n(&l.pong, __ATOMIC_ACQUIRE) != v; spins++)
				if (!(spins & 0xffff) && lr_now_ns() - start > LR_LIMIT_NS)
					goto out;
		}
		batch[b] = (double)(lr_now_ns() - t0) / LR_TRIPS;
	}
out:
	__atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
	pthread_join(peer, NULL);
	sched_setaffinity(0, sizeof(saved), &saved);
	if (l.err)
		return l.err;
	if (!b)
		return -ETIMEDOUT;
	/* The median of the batches that finished. */
	qsort(batch, b, sizeof(batch[0]), lr_cmp);
	return b % 2 ? batch[b / 2] : (batch[b / 2 - 1] + batch[b / 2]) / 2;
}
