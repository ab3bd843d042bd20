/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "pathio.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RINGD_PROBE_BIN
#define RINGD_PROBE_BIN "ringd-probe"
#endif

const char *rp_probe_bin(void)
{
	const char *p = getenv("RINGD_PROBE_BIN");

	return p && *p ? p : RINGD_PROBE_BIN;
}

/* Submit what is queued and reap @n CQEs, asserting each res == @want[user_data]. */
static void rp_reap(struct ringd *rd, unsigned int n, const int *want, const char *what)
{
	struct ringd_cqe *cqe;
	unsigned int i;
	int ret;

	ret = ringd_submit_and_wait(rd, n);
	cr_assert_eq(ret, (int)n, "%s: submit: %d", what, ret);
	for (i = 0; i < n; i++) {
		ret = ringd_wait_cqe(rd, &cqe);
		cr_assert_eq(ret, 0, "%s: wait: %s", what, strerror(-ret));
		cr_assert_eq(cqe->res, want[cqe->user_data], "%s %llu: res %d (%s), expected %d",
			     what, (unsigned long long)cqe->user_data, cqe->res,
			     cqe->res < 0 ? strerror(-cqe->res) : "ok", want[cqe->user_data]);
		ringd_cqe_seen(rd, cqe);
	}
}

/* Check @buf block by block against the pattern. */
static void rp_check_blocks(const void *buf, uint32_t len, uint32_t bs, uint64_t seed, uint64_t off,
			    const char *vol)
{
	uint32_t b;

	for (b = 0; b < len / bs; b++) {
		long bad =
		    rt_check((const char *)buf + (size_t)b * bs, bs, seed, off + (uint64_t)b * bs);

		cr_assert_eq(bad, -1, "volume %s: block at offset %llu differs at byte %ld", vol,
			     (unsigned long long)(off + (uint64_t)b * bs), bad);
	}
}

void rp_roundtrip_on(struct ringd *rd, const char *vol, uint32_t bs, unsigned int blocks,
		     unsigned int nios, uint64_t seed, bool flush, struct ringd_stats *st)
{
	struct ringd_volume_info info;
	uint32_t len = bs * blocks;
	void **bufs;
	int *want;
	unsigned int i;
	int ret, h;

	cr_assert_leq(nios, 32u);
	h = ringd_open(rd, vol, RINGD_RDWR, &info);
	cr_assert_geq(h, 0, "open %s: %s", vol, strerror(-h));
	cr_assert_geq(info.size, (uint64_t)len * nios * 2, "volume %s too small", vol);
	bufs = calloc(nios, sizeof(*bufs));
	want = calloc(nios, sizeof(*want));
	cr_assert(bufs && want);
	for (i = 0; i < nios; i++) {
		/* Every other slot: distinct, non-adjacent extents. */
		uint64_t off = (uint64_t)i * 2 * len;
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		cr_assert_not_null(sqe);
		bufs[i] = ringd_buf_alloc(rd, len, 4096);
		cr_assert_not_null(bufs[i]);
		rt_fill(bufs[i], len, seed, off);
		ringd_prep_write(sqe, h, bufs[i], len, off);
		ringd_sqe_set_data64(sqe, i);
		want[i] = (int)len;
	}
	rp_reap(rd, nios, want, "write");
	if (flush) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);
		int zero = 0;

		ringd_prep_fsync(sqe, h, 0);
		ringd_sqe_set_data64(sqe, 0);
		rp_reap(rd, 1, &zero, "fsync");
	}
	for (i = 0; i < nios; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		memset(bufs[i], 0, len);
		ringd_prep_read(sqe, h, bufs[i], len, (uint64_t)i * 2 * len);
		ringd_sqe_set_data64(sqe, i);
	}
	rp_reap(rd, nios, want, "read");
	for (i = 0; i < nios; i++)
		rp_check_blocks(bufs[i], len, bs, seed, (uint64_t)i * 2 * len, vol);
	ret = ringd_stats(rd, st);
	cr_assert_eq(ret, 0, "stats: %s", strerror(-ret));
	cr_log_info("volume %s: %u writes + %u reads of %u bytes%s: completions interrupt %llu "
		    "polled %llu passthrough %llu passthrough_polled %llu",
		    vol, nios, nios, len, flush ? " + fsync" : "",
		    (unsigned long long)st->completions_interrupt,
		    (unsigned long long)st->completions_polled,
		    (unsigned long long)st->completions_passthrough,
		    (unsigned long long)st->completions_passthrough_polled);
	for (i = 0; i < nios; i++)
		ringd_buf_free(rd, bufs[i]);
	free(bufs);
	free(want);
	ringd_close(rd, h);
}

void rp_roundtrip(const struct rt_daemon *d, const char *vol, uint32_t bs, unsigned int blocks,
		  unsigned int nios, uint64_t seed, bool flush, struct ringd_stats *st)
{
	struct ringd *rd;
	int ret = rt_connect(d, 64, 128, 4u << 20, &rd);

	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	rp_roundtrip_on(rd, vol, bs, blocks, nios, seed, flush, st);
	ringd_disconnect(rd);
}

int rp_write_conf(const struct rt_daemon *d, const char *body)
{
	FILE *f = fopen(d->conf, "we");
	const char *p;

	if (!f)
		return -errno;
	for (p = body; *p; p++) {
		if (!strncmp(p, "@DIR@", 5)) {
			fputs(d->dir, f);
			p += 4;
		} else {
			fputc(*p, f);
		}
	}
	return fclose(f) ? -errno : 0;
}

void rp_verify(const struct rt_daemon *d, const char *vol, uint32_t bs, uint64_t off, uint32_t len,
	       uint64_t seed, uint64_t pattern_off)
{
	struct ringd *rd;
	struct ringd_sqe *sqe;
	void *buf;
	int ret, h;

	ret = rt_connect(d, 8, 16, 4u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	h = ringd_open(rd, vol, RINGD_RDONLY, NULL);
	cr_assert_geq(h, 0, "open %s: %s", vol, strerror(-h));
	buf = ringd_buf_alloc(rd, len, 4096);
	cr_assert_not_null(buf);
	sqe = ringd_get_sqe(rd);
	ringd_prep_read(sqe, h, buf, len, off);
	ringd_sqe_set_data64(sqe, 0);
	rp_reap(rd, 1, (const int[]){ (int)len }, "read");
	rp_check_blocks(buf, len, bs, seed, pattern_off, vol);
	ringd_buf_free(rd, buf);
	ringd_disconnect(rd);
}

bool rp_log_has(const struct rt_daemon *d, const char *needle)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen(d->log, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

bool rp_launch_refused(struct rt_daemon *d, const char *conf)
{
	int ret = rt_daemon_prepare(d, conf);

	cr_assert_eq(ret, 0, "prepare: %s", strerror(-ret));
	ret = rt_daemon_launch(d);
	if (ret == -ECHILD) {
		d->pid = -1; /* already reaped */
		return true;
	}
	if (!ret)
		rt_daemon_stop(d);
	return false;
}

void rp_cleanup(struct rt_daemon *d)
{
	d->pid = -1;
	rt_daemon_stop(d);
}

json_object *rp_probe_json(const char *conf)
{
	char cmd[PATH_MAX * 2 + 32];
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	json_object *root;
	FILE *p;

	if (!out)
		return NULL;
	snprintf(cmd, sizeof(cmd), "'%s' --json -c '%s'", rp_probe_bin(), conf);
	p = popen(cmd, "r");
	if (!p) {
		free(out);
		return NULL;
	}
	while (n < cap - 1) {
		size_t r = fread(out + n, 1, cap - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	out[n] = '\0';
	pclose(p);
	printf("%s\n", out);
	root = json_tokener_parse(out);
	free(out);
	return root;
}

json_object *rp_probe_volume(json_object *root, const char *name)
{
	json_object *vols, *v, *jn;
	size_t i;

	if (!json_object_object_get_ex(root, "volumes", &vols))
		return NULL;
	for (i = 0; i < json_object_array_length(vols); i++) {
		v = json_object_array_get_idx(vols, i);
		if (json_object_object_get_ex(v, "name", &jn) && json_object_get_string(jn) &&
		    !strcmp(json_object_get_string(jn), name))
			return v;
	}
	return NULL;
}
