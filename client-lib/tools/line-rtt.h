/* SPDX-License-Identifier: MIT */
/*
 * The cache-line round trip between two CPUs: what any cross-core ring
 * pays at least once per request it hands over. ringd-bench measures it
 * around a run, because on a VM it changes with where the host runs the
 * vCPUs (here from about 50 ns to about 570 ns within seconds).
 */
#ifndef RINGD_TOOLS_LINE_RTT_H
#define RINGD_TOOLS_LINE_RTT_H

/*
 * Median over 16 batches of 1000 round trips of one line between a thread
 * on @cpu_a (the caller, for the duration) and one on @cpu_b, in
 * nanoseconds per round trip; the batches that finished within 2 s if
 * other work holds the CPUs. Returns -errno if a thread cannot be pinned
 * or started, -ETIMEDOUT if no batch finished; the caller's affinity is
 * restored either way.
 */
double line_rtt_ns(int cpu_a, int cpu_b);

#endif
