/* SPDX-License-Identifier: MIT */
/*
 * rp_: helpers for the data-path suites (NVMe in the VM, loop devices on
 * the host): verified round trips that report the per-path completion
 * counters, daemon-log checks, and ringd-probe --json.
 */
#ifndef RINGD_TESTS_PATHIO_H
#define RINGD_TESTS_PATHIO_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "ringd.h"

/*
 * On a fresh session of @d: write @nios I/Os of @blocks blocks of @bs bytes
 * at distinct offsets of volume @vol (pattern seeded by @seed), fsync if
 * @flush, read everything back and check it block by block (cr_assert on
 * any difference, naming the block). Fills @st with the session's stats
 * after the last completion.
 */
void rp_roundtrip(const struct rt_daemon *d, const char *vol, uint32_t bs, unsigned int blocks,
		  unsigned int nios, uint64_t seed, bool flush, struct ringd_stats *st);

/* As rp_roundtrip() on the open session @rd (@st: its cumulative stats). */
void rp_roundtrip_on(struct ringd *rd, const char *vol, uint32_t bs, unsigned int blocks,
		     unsigned int nios, uint64_t seed, bool flush, struct ringd_stats *st);

/* Rewrite @d's config with @body ("@DIR@" replaced). Returns 0 or -errno. */
int rp_write_conf(const struct rt_daemon *d, const char *body);

/* Read @len bytes at @off of @vol through @d and check them against
 * rt_fill(@seed, @pattern_off) block by block (@bs). */
void rp_verify(const struct rt_daemon *d, const char *vol, uint32_t bs, uint64_t off, uint32_t len,
	       uint64_t seed, uint64_t pattern_off);

/* True if the daemon's log contains @needle. */
bool rp_log_has(const struct rt_daemon *d, const char *needle);

/* Prepare and launch @conf expecting ringd to refuse to start: returns
 * true if it exited (its log stays readable until rp_cleanup()). */
bool rp_launch_refused(struct rt_daemon *d, const char *conf);

/* Remove the private directory of a daemon that is not running. */
void rp_cleanup(struct rt_daemon *d);

/* Path of ringd-probe under test ($RINGD_PROBE_BIN or the build's). */
const char *rp_probe_bin(void);

/* Run "ringd-probe --json -c @conf", echo its output, and parse it.
 * Returns the JSON object (json_object_put() it) or NULL. */
json_object *rp_probe_json(const char *conf);

/* The entry of @root's "volumes" array called @name, or NULL. */
json_object *rp_probe_volume(json_object *root, const char *name);

#endif
