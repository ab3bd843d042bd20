/* SPDX-License-Identifier: MIT */
/*
 * 8 concurrent client processes, as two tenant uids, on two volumes that
 * are extents of one shared backing file: each verifies its own data, and
 * the backing file's bytes outside both extents keep their canary.
 */
#include <stdio.h>
#include <sys/wait.h>

#include "it.h"

#define MB	  (1ull << 20)
#define FILE_SIZE (20 * MB)
#define VA_OFF	  (1 * MB)  /* [1M, 9M): direct */
#define VB_OFF	  (10 * MB) /* [10M, 18M): buffered */
#define VOL_SIZE  (8 * MB)
#define REGION	  (2 * MB) /* per client, 4 per volume */
#define CHUNK	  (64u << 10)
#define NCLIENTS  8
#define ROUNDS	  3
#define CANARY	  0xc3

static struct rt_daemon g_d;

static const char conf[] = "[volume va]\n"
			   "path = @DIR@/shared.img\n"
			   "offset = 1M\n"
			   "size = 8M\n"
			   "direct = yes\n"
			   "\n"
			   "[volume vb]\n"
			   "path = @DIR@/shared.img\n"
			   "offset = 10M\n"
			   "size = 8M\n"
			   "direct = no\n"
			   "\n"
			   "[tenant a]\n"
			   "uid = 61001\n"
			   "volumes = va:rw, vb:rw\n"
			   "\n"
			   "[tenant b]\n"
			   "uid = 61002\n"
			   "volumes = va:rw, vb:rw\n";

struct client {
	int id;
	int barrier; /* read end: EOF means go */
	int barrier_w;
};

static const char *shared_path(void)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/shared.img", g_d.dir);
	return p;
}

static uint64_t seed_of(int id, int round)
{
	return (uint64_t)id * 16 + (uint64_t)round + 1;
}

/* In the child: write the client's region in 32 chunks, read it back, ROUNDS times. */
static int client_main(void *arg)
{
	const struct client *c = arg;
	const char *vol = c->id < 4 ? "va" : "vb";
	uint64_t base = (uint64_t)(c->id % 4) * REGION;
	struct ringd_volume_info info;
	struct ringd_cqe *cqe;
	struct ringd *rd;
	char b;
	void *bufs[32];
	int h, i, r, ret;

	close(c->barrier_w);
	if (read(c->barrier, &b, 1) != 0)
		return 2;
	ret = rt_connect(&g_d, 64, 128, 4 * MB, &rd);
	if (ret)
		return 3;
	h = ringd_open(rd, vol, RINGD_RDWR, &info);
	if (h < 0 || info.size != VOL_SIZE)
		return 4;
	for (i = 0; i < 32; i++) {
		bufs[i] = ringd_buf_alloc(rd, CHUNK, 4096);
		if (!bufs[i])
			return 5;
	}
	for (r = 0; r < ROUNDS; r++) {
		uint64_t seed = seed_of(c->id, r);

		for (i = 0; i < 32; i++) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);
			uint64_t off = base + (uint64_t)i * CHUNK;

			if (!sqe)
				return 6;
			rt_fill(bufs[i], CHUNK, seed, off);
			ringd_prep_write(sqe, h, bufs[i], CHUNK, off);
			ringd_sqe_set_data64(sqe, (uint64_t)i);
		}
		if (ringd_submit_and_wait(rd, 32) != 32)
			return 7;
		for (i = 0; i < 32; i++) {
			if (ringd_wait_cqe(rd, &cqe) || cqe->res != (int)CHUNK)
				return 8;
			ringd_cqe_seen(rd, cqe);
		}
		/* Read back in reverse order into cleared buffers. */
		for (i = 31; i >= 0; i--) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);

			memset(bufs[i], 0, CHUNK);
			ringd_prep_read(sqe, h, bufs[i], CHUNK, base + (uint64_t)i * CHUNK);
			ringd_sqe_set_data64(sqe, (uint64_t)i);
		}
		if (ringd_submit_and_wait(rd, 32) != 32)
			return 9;
		for (i = 0; i < 32; i++) {
			uint64_t k;

			if (ringd_wait_cqe(rd, &cqe) || cqe->res != (int)CHUNK)
				return 10;
			k = cqe->user_data;
			ringd_cqe_seen(rd, cqe);
			if (k >= 32 || rt_check(bufs[k], CHUNK, seed, base + k * CHUNK) != -1)
				return 11;
		}
	}
	ringd_disconnect(rd);
	return 0;
}

static void check_canary(uint64_t off, uint64_t len)
{
	cr_assert(it_file_is(shared_path(), off, len, CANARY),
		  "bytes [%llu, %llu) outside the extents changed", (unsigned long long)off,
		  (unsigned long long)(off + len));
}

static void teardown(void)
{
	it_stop(&g_d);
}

Test(multitenant, eight_clients_two_tenants_two_volumes, .fini = teardown)
{
	static struct client cl[NCLIENTS];
	uint8_t *buf = malloc(REGION);
	pid_t pids[NCLIENTS];
	int pfd[2], i, ret;
	void *fill;

	cr_assert_not_null(buf);
	ret = rt_daemon_prepare(&g_d, conf);
	cr_assert_eq(ret, 0);
	/* The shared backing, all canary, before the daemon opens it. */
	fill = malloc(FILE_SIZE);
	cr_assert_not_null(fill);
	memset(fill, CANARY, FILE_SIZE);
	{
		FILE *f = fopen(shared_path(), "we");

		cr_assert_not_null(f);
		cr_assert_eq(fwrite(fill, 1, FILE_SIZE, f), FILE_SIZE);
		cr_assert_eq(fclose(f), 0);
	}
	free(fill);
	ret = rt_daemon_launch(&g_d);
	cr_assert_eq(ret, 0, "ringd did not start: %s", strerror(-ret));

	cr_assert_eq(pipe(pfd), 0);
	for (i = 0; i < NCLIENTS; i++) {
		cl[i].id = i;
		cl[i].barrier = pfd[0];
		cl[i].barrier_w = pfd[1];
		pids[i] = rt_fork_as(i % 2 ? RT_UID_B : RT_UID_A, i % 2 ? RT_UID_B : RT_UID_A,
				     client_main, &cl[i]);
		cr_assert_gt(pids[i], 0);
	}
	close(pfd[0]);
	close(pfd[1]); /* go */
	for (i = 0; i < NCLIENTS; i++) {
		int st = rt_wait_child(pids[i]);

		cr_assert_eq(st, 0, "client %d (uid %d) failed at step %d", i,
			     i % 2 ? RT_UID_B : RT_UID_A, st);
	}

	/* Each region holds its client's last round, at base + offset. */
	for (i = 0; i < NCLIENTS; i++) {
		uint64_t voff = (uint64_t)(i % 4) * REGION;
		uint64_t base = i < 4 ? VA_OFF : VB_OFF;
		long bad;

		cr_assert_eq(rt_pread_file(shared_path(), buf, REGION, base + voff), 0);
		bad = rt_check(buf, REGION, seed_of(i, ROUNDS - 1), voff);
		cr_assert_eq(bad, -1, "client %d's region differs at byte %ld", i, bad);
	}
	check_canary(0, VA_OFF);
	check_canary(VA_OFF + VOL_SIZE, VB_OFF - VA_OFF - VOL_SIZE);
	check_canary(VB_OFF + VOL_SIZE, FILE_SIZE - VB_OFF - VOL_SIZE);
	free(buf);
}
