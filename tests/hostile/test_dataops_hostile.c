/* SPDX-License-Identifier: MIT */
/*
 * The hostile-tenant suite for the operations of issue 11 (HOSTILE.md
 * H32 to H37): iovec arrays and vectors a tenant controls and rewrites,
 * vector counts and sums, discard and write-zeroes aimed outside its
 * extent, LINK on every SQE, and cancels aimed at other sessions.
 *
 * As in test_hostile.c, a raw-protocol hostile client (tenant "hostile")
 * misbehaves while a victim (tenant "victim", another process) runs a
 * verified workload; hs_finish() then checks that a fresh connection is
 * served, that the canaries outside every extent are intact and that the
 * daemon exits cleanly. Where the daemon could be made to write outside a
 * data area, a bystander session of a third tenant ("flood") holds a known
 * pattern in its own data area that must survive.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "ringd.h"

#define DO_BOUND_MS  2000 /* liveness: the victim's slowest 4 KiB I/O */
#define DO_REAP_MS   20000
#define DO_BYSTANDER 0xb5 /* the bystander's data-area pattern */

static struct rt_daemon g_d;

static void setup(void)
{
	hs_start(&g_d, "30s");
}

static void teardown(void)
{
	hs_teardown(&g_d);
}

#define DTEST(name) Test(hostile, name, .init = setup, .fini = teardown, .timeout = 180)

static void attach(struct hc *c, uint32_t sq, uint32_t cq, uint64_t data)
{
	hs_attach(&g_d, c, sq, cq, data);
}

static int open_vol(struct hc *c, const char *name, uint32_t flags)
{
	return hs_open(c, name, flags);
}

/* Submit one SQE and return its CQE's res; asserts the CQE arrives. */
static int32_t one(struct hc *c, const struct ringd_sqe *proto)
{
	return hs_one(c, proto, DO_REAP_MS);
}

static struct ringd_sqe rw(uint8_t op, int h, uint64_t off, uint64_t addr, uint32_t len)
{
	struct ringd_sqe s;

	memset(&s, 0, sizeof(s));
	hc_prep_rw(&s, op, h, off, addr, len, 0xd0000000ull + op);
	return s;
}

/* A READV/WRITEV of @n vectors from the array at data-area offset @arr,
 * with the client's true base address. */
static struct ringd_sqe rwv(const struct hc *c, uint8_t op, int h, uint64_t off, uint64_t arr,
			    uint32_t n)
{
	struct ringd_sqe s = rw(op, h, off, arr, n);

	s.buf_base = (uint64_t)(uintptr_t)c->data;
	return s;
}

/* A DISCARD/WRITE_ZEROES of @len bytes at @off. */
static struct ringd_sqe zr(uint8_t op, int h, uint64_t off, uint64_t len)
{
	return rw(op, h, off, len, 0);
}

/* Vector @i of the array at area offset @arr: client pointer @ptr, @len bytes. */
static void put_iov(struct hc *c, uint64_t arr, unsigned int i, uint64_t ptr, uint64_t len)
{
	uint64_t *w = (uint64_t *)(void *)(c->data + arr + 16u * i);

	__atomic_store_n(&w[0], ptr, __ATOMIC_RELAXED);
	__atomic_store_n(&w[1], len, __ATOMIC_RELAXED);
}

/* The client's address of area offset @off (arithmetic only: may be outside). */
static uint64_t at(const struct hc *c, uint64_t off)
{
	return (uint64_t)(uintptr_t)c->data + off;
}

static void read_extent(const char *file, uint64_t off, uint64_t len, void *buf)
{
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/state/%s", g_d.dir, file);
	ret = rt_pread_file(path, buf, len, off);
	cr_assert_eq(ret, 0, "read %s: %s", path, strerror(-ret));
}

static struct hc_stats stats(struct hc *c)
{
	struct hc_stats st;

	cr_assert_eq(hc_stats(c, &st), 0);
	return st;
}

/*
 * A session of a third tenant ("flood", read-only on "hostile"), attached
 * before the hostile one so that the daemon maps its area next to it,
 * with a pattern in its data area that nothing may change.
 */
static void bystander_start(struct hc *by)
{
	int fd = hc_sock_as(g_d.sock, HS_UID_FLOOD);
	int ret;

	cr_assert_geq(fd, 0, "bystander connect: %s", strerror(-fd));
	ret = hc_attach_fd(fd, 8, 16, 1 * HS_MB, by);
	cr_assert_eq(ret, 0, "bystander attach: %s", strerror(-ret));
	memset(by->data, DO_BYSTANDER, by->data_size);
}

static void bystander_check(struct hc *by)
{
	uint64_t i;

	for (i = 0; i < by->data_size; i++)
		if (by->data[i] != DO_BYSTANDER)
			cr_assert_fail("the bystander's data area changed at byte %llu",
				       (unsigned long long)i);
	hc_detach(by);
}

/* Stop the timed victim and assert it saw no error and stayed live. */
static void timed_victim_done(struct victim *v, const char *test)
{
	int status = vt_stop(v);

	fprintf(stderr, "hostile/%s: victim worst latency %.1f ms over %llu ops\n", test,
		(double)v->worst_us / 1000.0, (unsigned long long)v->ops);
	cr_assert_eq(status, 0, "the victim failed with status %d (see its stderr)", status);
	cr_assert_geq(v->rounds, 3, "the victim ran only %u rounds", v->rounds);
	cr_assert_lt(v->worst_us, DO_BOUND_MS * 1000ull,
		     "one 4 KiB I/O of the victim took %.1f ms (bound %d ms)",
		     (double)v->worst_us / 1000.0, DO_BOUND_MS);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------- H32 */

/* Submit @s as a writev, then as a readv: asserts both complete with @want. */
static void both_ways(struct hc *c, struct ringd_sqe s, int32_t want, const char *what)
{
	int32_t res;

	s.opcode = RINGD_OP_WRITEV;
	res = one(c, &s);
	cr_assert_eq(res, want, "writev, %s: %d", what, res);
	s.opcode = RINGD_OP_READV;
	s.user_data++;
	res = one(c, &s);
	cr_assert_eq(res, want, "readv, %s: %d", what, res);
}

DTEST(h32_iovec_array_outside_the_data_area_is_efault)
{
	struct hc_stats before, after;
	uint8_t *ext_before, *ext_after, *area;
	struct victim v;
	struct hc c, by;
	uint64_t ds, rings;
	unsigned int i;
	int h;

	vt_start(&g_d, &v);
	bystander_start(&by);
	attach(&c, 16, 32, 1 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	ds = c.data_size;
	rings = (uint64_t)(c.data - (uint8_t *)c.base);
	cr_assert_eq(rings % 8, 0);
	/* Every iovec slot of the area names a valid 4 KiB buffer: only where
	 * the array lies can be wrong. */
	for (i = 0; i < ds / 16; i++)
		put_iov(&c, 0, i, at(&c, 4096), 4096);
	{
		const struct {
			uint64_t arr;
			uint32_t n;
			const char *what;
		} bad[] = {
			{ ds, 1, "at the end" },
			{ ds - 16, 2, "straddles the end" },
			{ ds - 8, 1, "half of it past the end" },
			{ ds - 16 * (RINGD_MAX_VECS - 1), RINGD_MAX_VECS, "the 64th past the end" },
			{ ds + 4096, 1, "past the end" },
			{ 1ull << 40, 4, "far away" },
			{ ~0ull - 7, 1, "offset + size wraps 2^64" },
			{ (uint64_t)0 - rings, 4, "below: the ring header" },
			{ (uint64_t)0 - 64, 8, "straddles the start" },
		};

		ext_before = malloc(HS_HOSTILE_SIZE);
		ext_after = malloc(HS_HOSTILE_SIZE);
		area = malloc(ds);
		cr_assert(ext_before && ext_after && area);
		read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_before);
		memcpy(area, c.data, ds);
		before = stats(&c);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct ringd_sqe s = rwv(&c, RINGD_OP_READV, h, 0, bad[i].arr, bad[i].n);

			/* The array is an offset into the area, as the library makes it. */
			both_ways(&c, s, -EFAULT, bad[i].what);
		}
		/* Inside the area but not 8-byte aligned. */
		both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 4, 1), -EINVAL, "misaligned array");
		after = stats(&c);
	}
	cr_assert_eq(after.completions_interrupt, before.completions_interrupt,
		     "a refused request reached the kernel");
	cr_assert_eq(after.rejected - before.rejected, 2 * 10);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_after);
	cr_assert_eq(memcmp(ext_before, ext_after, HS_HOSTILE_SIZE), 0,
		     "a refused writev changed the extent");
	cr_assert_eq(memcmp(area, c.data, ds), 0, "a refused readv changed the data area");
	/* The same arrays, where they belong, work. */
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, ds - 16 * RINGD_MAX_VECS, RINGD_MAX_VECS),
		  (int32_t)(RINGD_MAX_VECS * 4096), "64 vectors at the end of the area");
	free(ext_before);
	free(ext_after);
	free(area);
	hc_detach(&c);
	bystander_check(&by);
	vt_finish(&v);
	hs_finish(&g_d);
}

DTEST(h32_vectors_outside_the_data_area_are_efault)
{
	struct hc_stats before, after;
	uint8_t *ext_before, *ext_after, *area;
	struct victim v;
	struct hc c, by;
	uint64_t ds, base, i;
	int h;

	vt_start(&g_d, &v);
	bystander_start(&by);
	attach(&c, 16, 32, 1 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	ds = c.data_size;
	base = at(&c, 0);
	{
		/* The middle of three vectors; the other two are valid. */
		const struct {
			uint64_t ptr, len;
			const char *what;
		} bad[] = {
			{ base - 4096, 4096, "below the area: the CQ ring" },
			{ (uint64_t)(uintptr_t)c.base, 64, "the ring header" },
			{ base - 2048, 4096, "straddles the start" },
			{ base + ds - 2048, 4096, "straddles the end" },
			{ base + ds, 4096, "just past the end" },
			{ base + ds + 1, 0, "empty, past the end" },
			{ 0, 4096, "NULL" },
			{ (uint64_t)-4096, 4096, "the top of the address space" },
			{ (uint64_t)(uintptr_t)by.data, 4096,
			  "another tenant's area (our mapping)" },
		};
		/* The client's word for where its area is, against its vectors. */
		const struct {
			uint64_t buf_base, ptr;
			const char *what;
		} lies[] = {
			{ base + 8192, base + 4096, "base above the vector" },
			{ base - ds, base, "base an area below" },
			{ base - 2048, base + ds - 4096, "vector straddles the end" },
			{ 0, base + 4096, "base 0" },
			{ ~0ull, base + 4096, "base 2^64 - 1" },
		};

		ext_before = malloc(HS_HOSTILE_SIZE);
		ext_after = malloc(HS_HOSTILE_SIZE);
		area = malloc(ds);
		cr_assert(ext_before && ext_after && area);
		for (i = 0; i < ds; i++)
			c.data[i] = (uint8_t)(i * 13 + 1);
		read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_before);
		before = stats(&c);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			put_iov(&c, 0, 0, base + 65536, 4096);
			put_iov(&c, 0, 1, bad[i].ptr, bad[i].len);
			put_iov(&c, 0, 2, base + 131072, 4096);
			memcpy(area, c.data, ds);
			both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, 3), -EFAULT, bad[i].what);
			cr_assert_eq(memcmp(area, c.data, ds), 0,
				     "a refused readv (%s) changed the data area", bad[i].what);
		}
		for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
			struct ringd_sqe s = rwv(&c, RINGD_OP_READV, h, 0, 0, 1);

			s.buf_base = lies[i].buf_base;
			put_iov(&c, 0, 0, lies[i].ptr, 4096);
			memcpy(area, c.data, ds);
			both_ways(&c, s, -EFAULT, lies[i].what);
			cr_assert_eq(memcmp(area, c.data, ds), 0,
				     "a refused readv (%s) changed the data area", lies[i].what);
		}
		after = stats(&c);
	}
	cr_assert_eq(after.completions_interrupt, before.completions_interrupt,
		     "a refused request reached the kernel");
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_after);
	cr_assert_eq(memcmp(ext_before, ext_after, HS_HOSTILE_SIZE), 0,
		     "a refused writev changed the extent");

	/* A lie that still lands in the area hurts only the liar: the data
	 * goes to pointer - buf_base, wherever the client meant it. */
	{
		struct ringd_sqe s = rwv(&c, RINGD_OP_WRITEV, h, 0, 0, 2);
		uint8_t *want = malloc(8192);

		cr_assert_not_null(want);
		rt_fill(c.data + 65536, 4096, 1, 0);
		rt_fill(c.data + 131072, 4096, 1, 4096);
		put_iov(&c, 0, 0, base + 65536, 4096);
		put_iov(&c, 0, 1, base + 131072, 4096);
		cr_assert_eq(one(&c, &s), 8192, "truthful writev");
		s = rw(RINGD_OP_READ, h, 0, 262144, 8192);
		cr_assert_eq(one(&c, &s), 8192);
		cr_assert_eq(rt_check(c.data + 262144, 8192, 1, 0), -1, "writev wrote wrong data");
		memcpy(want, c.data + 262144, 8192);
		s = rwv(&c, RINGD_OP_READV, h, 0, 0, 1);
		s.buf_base = base + 4096; /* "my area starts 4 KiB later" */
		put_iov(&c, 0, 0, base + 8192 + 4096, 8192);
		memset(c.data + 4096, 0, 16384);
		cr_assert_eq(one(&c, &s), 8192, "readv with a lying base inside the area");
		cr_assert_eq(memcmp(c.data + 8192, want, 8192), 0,
			     "the data did not land at pointer - buf_base");
		free(want);
	}
	free(ext_before);
	free(ext_after);
	free(area);
	hc_detach(&c);
	bystander_check(&by);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H34 */

DTEST(h34_vector_counts_and_overflowing_sums_are_einval)
{
	struct hc_stats before, after;
	uint8_t *ext_before, *ext_after;
	struct victim v;
	struct hc c;
	uint64_t base;
	unsigned int i;
	int h;

	vt_start(&g_d, &v);
	attach(&c, 16, 32, 1 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	base = at(&c, 0);
	cr_assert_geq(c.max_io, 65536u);
	ext_before = malloc(HS_HOSTILE_SIZE);
	ext_after = malloc(HS_HOSTILE_SIZE);
	cr_assert(ext_before && ext_after);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_before);
	/* 1000 valid 512-byte vectors: only the count can be wrong. */
	for (i = 0; i < 1000; i++)
		put_iov(&c, 0, i, base + 65536 + 512 * i, 512);
	before = stats(&c);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, 0), -EINVAL, "0 vectors");
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, RINGD_MAX_VECS + 1), -EINVAL, "65 vectors");
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, 1000), -EINVAL, "1000 vectors");
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, UINT32_MAX), -EINVAL, "2^32 - 1 vectors");

	/* Sums: two of 2^63 wrap to 0, 2^64 - 1 + 4097 to 4096. */
	put_iov(&c, 0, 0, base + 65536, 1ull << 63);
	put_iov(&c, 0, 1, base + 65536, 1ull << 63);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, 2), -EINVAL, "2^63 + 2^63");
	put_iov(&c, 0, 0, base + 65536, ~0ull);
	put_iov(&c, 0, 1, base + 65536, 4097);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, 2), -EINVAL, "2^64 - 1 + 4097");
	/* 2^32 + 4096 is 4096 to anyone who keeps 32 bits. */
	put_iov(&c, 0, 0, base + 65536, (1ull << 32) + 4096);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, 1), -EINVAL, "2^32 + 4096");
	/* Each vector fine, the sum one byte above max_io. */
	for (i = 0; i < RINGD_MAX_VECS; i++)
		put_iov(&c, 0, i, base, c.max_io / RINGD_MAX_VECS);
	put_iov(&c, 0, RINGD_MAX_VECS - 1, base, c.max_io / RINGD_MAX_VECS + 1);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, RINGD_MAX_VECS), -EINVAL, "max_io + 1");
	/* All empty. */
	for (i = 0; i < 4; i++)
		put_iov(&c, 0, i, base + 4096, 0);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, 4), -EINVAL, "a sum of 0");
	/* The sum past the end of the extent. */
	for (i = 0; i < 2; i++)
		put_iov(&c, 0, i, base + 65536, 4096);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, HS_HOSTILE_SIZE - 4096, 0, 2), -EINVAL,
		  "the sum crosses the end of the extent");
	after = stats(&c);
	cr_assert_eq(after.completions_interrupt, before.completions_interrupt,
		     "a refused request reached the kernel");
	cr_assert_eq(after.rejected - before.rejected, 2 * 10);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_after);
	cr_assert_eq(memcmp(ext_before, ext_after, HS_HOSTILE_SIZE), 0,
		     "a refused writev changed the extent");
	/* 64 vectors of max_io / 64: exactly max_io is fine. */
	for (i = 0; i < RINGD_MAX_VECS; i++)
		put_iov(&c, 0, i, base + 65536, c.max_io / RINGD_MAX_VECS);
	both_ways(&c, rwv(&c, RINGD_OP_READV, h, 0, 0, RINGD_MAX_VECS),
		  (int32_t)(c.max_io / RINGD_MAX_VECS * RINGD_MAX_VECS), "64 vectors, max_io");
	free(ext_before);
	free(ext_after);
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H33 */

#define FL_SLOTS    32u
#define FL_VECS	    4u
#define FL_LEN	    4096u
#define FL_BUFS	    (1 * HS_MB) /* area offset of the vectors' buffers */
#define FL_SECONDS  4
#define FL_FLIPPERS 2

struct vflip_arg {
	struct hc *c;
	volatile int stop;
	unsigned int id, seed;
	uint64_t flips;
};

/* Where vector @i of slot @s points when it is valid (slot FL_SLOTS: the
 * shared array). */
static uint64_t fl_buf(unsigned int s, unsigned int i)
{
	return FL_BUFS + (uint64_t)(s * FL_VECS + i) * FL_LEN;
}

/* The area offset of slot @s's iovec array; the even slots share one. */
static uint64_t fl_arr(unsigned int s)
{
	return (s & 1 ? s : FL_SLOTS) * FL_VECS * 16u;
}

/*
 * A hostile value for word @word (0: pointer, 1: length) of a vector. None
 * combines with valid vectors into another valid total (one is a valid
 * pointer to another page of the area): a request either moves
 * FL_VECS * FL_LEN bytes or is refused.
 */
static uint64_t fl_bad(struct vflip_arg *a, unsigned int word)
{
	uint64_t base = at(a->c, 0), ds = a->c->data_size;

	if (word == 0) {
		switch (rand_r(&a->seed) % 5) {
		case 0:
			return base - FL_LEN; /* below: the CQ ring */
		case 1:
			return base + ds - FL_LEN / 2; /* straddles the end */
		case 2:
			return base + ds; /* just past the end */
		case 3:
			return 0;
		default:
			return base + ds - FL_LEN; /* valid, another page: still a full transfer */
		}
	}
	switch (rand_r(&a->seed) % 4) {
	case 0:
		return 1ull << 63;
	case 1:
		return ~0ull;
	case 2:
		return (1ull << 32) + FL_LEN; /* FL_LEN in 32 bits */
	default:
		return a->c->max_io; /* alone fine, the sum too long */
	}
}

static void fl_spin(struct vflip_arg *a, unsigned int n)
{
	while (n-- && !a->stop)
		__asm__ __volatile__("" ::: "memory");
}

/*
 * Flipper @id: mostly toggles word @id of vector @id of the shared array
 * (which half the SQEs use) between a hostile and its valid value as fast
 * as it can, so that a daemon that read a vector twice (checked one value,
 * used another) would, often, send an unchecked pointer or length to the
 * kernel; now and then it holds a hostile value in a random private
 * array for a while instead.
 */
static void *vflipper(void *p)
{
	struct vflip_arg *a = p;
	struct hc *c = a->c;
	uint64_t base = at(c, 0);

	while (!a->stop) {
		unsigned int s = FL_SLOTS, i = a->id, word = a->id & 1, hold = 64;
		uint64_t *w;

		if (rand_r(&a->seed) % 8 == 0) {
			s = 1 + 2 * ((unsigned int)rand_r(&a->seed) % (FL_SLOTS / 2));
			i = (unsigned int)rand_r(&a->seed) % FL_VECS;
			word = (unsigned int)rand_r(&a->seed) % 2;
			hold = 4096;
		}
		w = (uint64_t *)(void *)(c->data + fl_arr(s) + i * 16u);
		__atomic_store_n(&w[word], fl_bad(a, word), __ATOMIC_RELAXED);
		fl_spin(a, (unsigned int)rand_r(&a->seed) % hold);
		__atomic_store_n(&w[word], word ? FL_LEN : base + fl_buf(s, i), __ATOMIC_RELAXED);
		fl_spin(a, (unsigned int)rand_r(&a->seed) % hold);
		a->flips++;
	}
	return NULL;
}

DTEST(h33_vectors_rewritten_while_the_daemon_reads_them)
{
	struct vflip_arg fa[FL_FLIPPERS];
	pthread_t th[FL_FLIPPERS];
	struct hc_stats st;
	struct victim v;
	struct hc c, by;
	uint64_t end, ok = 0, refused = 0, rounds = 0, flips = 0;
	unsigned int s, i;
	int h;

	vt_start_timed(&g_d, &v);
	bystander_start(&by);
	attach(&c, FL_SLOTS, 2 * FL_SLOTS, 2 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	cr_assert_geq(c.data_size, fl_buf(FL_SLOTS + 1, 0) + FL_LEN);
	cr_assert_gt(c.max_io, FL_VECS * FL_LEN);
	memset(c.data + FL_BUFS, 0x3c, (size_t)(FL_SLOTS + 1) * FL_VECS * FL_LEN);
	for (s = 0; s <= FL_SLOTS; s++)
		for (i = 0; i < FL_VECS; i++)
			put_iov(&c, fl_arr(s), i, at(&c, fl_buf(s, i)), FL_LEN);
	for (i = 0; i < FL_FLIPPERS; i++) {
		fa[i] = (struct vflip_arg){ .c = &c, .id = i, .seed = 17 + i };
		cr_assert_eq(pthread_create(&th[i], NULL, vflipper, &fa[i]), 0);
	}
	end = now_ms() + FL_SECONDS * 1000;
	while (now_ms() < end) {
		struct ringd_cqe cqes[FL_SLOTS];
		unsigned int n;

		for (s = 0; s < FL_SLOTS; s++) {
			struct ringd_sqe *q = hc_sqe(&c);

			*q = rwv(&c, s & 2 ? RINGD_OP_READV : RINGD_OP_WRITEV, h,
				 (uint64_t)s * FL_VECS * FL_LEN, fl_arr(s), FL_VECS);
			q->user_data = s;
		}
		hc_submit(&c);
		n = hc_reap(&c, cqes, FL_SLOTS, DO_REAP_MS);
		cr_assert_eq(n, FL_SLOTS, "round %llu: %u of %u completions",
			     (unsigned long long)rounds, n, FL_SLOTS);
		for (s = 0; s < FL_SLOTS; s++) {
			int32_t res = cqes[s].res;

			cr_assert(res == (int32_t)(FL_VECS * FL_LEN) || res == -EFAULT ||
				      res == -EINVAL,
				  "round %llu, %s: res %d", (unsigned long long)rounds,
				  cqes[s].user_data & 2 ? "readv" : "writev", res);
			if (res > 0)
				ok++;
			else
				refused++;
		}
		rounds++;
	}
	for (i = 0; i < FL_FLIPPERS; i++) {
		fa[i].stop = 1;
		pthread_join(th[i], NULL);
		flips += fa[i].flips;
	}
	cr_log_info("h33: %llu rounds, %llu flips, %llu full transfers, %llu refused",
		    (unsigned long long)rounds, (unsigned long long)flips, (unsigned long long)ok,
		    (unsigned long long)refused);
	cr_assert_gt(ok, 0, "no request ever went through");
	cr_assert_gt(refused, 0, "the flips never made a request invalid");
	/*
	 * Every refusal came from the validator: a vector that escaped it
	 * would have reached the kernel, which would have failed it (or worse)
	 * and counted an error the validator did not.
	 */
	st = stats(&c);
	cr_assert_eq(st.rejected, refused, "%llu rejected by the validator, %llu refused",
		     (unsigned long long)st.rejected, (unsigned long long)refused);
	cr_assert_eq(st.errors, refused);
	/* The session still works, with the vectors it meant. */
	for (i = 0; i < FL_VECS; i++) {
		put_iov(&c, 0, i, at(&c, fl_buf(0, i)), FL_LEN);
		rt_fill(c.data + fl_buf(0, i), FL_LEN, 99, (uint64_t)i * FL_LEN);
	}
	{
		struct ringd_sqe q = rwv(&c, RINGD_OP_WRITEV, h, 0, 0, FL_VECS);

		cr_assert_eq(one(&c, &q), (int32_t)(FL_VECS * FL_LEN));
		q = rw(RINGD_OP_READ, h, 0, 0, FL_VECS * FL_LEN);
		memset(c.data, 0, FL_VECS * FL_LEN);
		cr_assert_eq(one(&c, &q), (int32_t)(FL_VECS * FL_LEN));
		cr_assert_eq(rt_check(c.data, FL_VECS * FL_LEN, 99, 0), -1);
	}
	hc_detach(&c);
	bystander_check(&by);
	timed_victim_done(&v, "h33");
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H35 */

/* Each of @n ranges, as a discard and as a write-zeroes, completes with @want. */
static void zero_all(struct hc *c, int h, const uint64_t (*r)[2], unsigned int n, int32_t want)
{
	static const uint8_t ops[] = { RINGD_OP_DISCARD, RINGD_OP_WRITE_ZEROES };
	unsigned int i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++) {
			struct ringd_sqe s = zr(ops[k], h, r[i][0], r[i][1]);
			int32_t res = one(c, &s);

			cr_assert_eq(res, want, "%s off %#llx len %#llx: %d",
				     k ? "write-zeroes" : "discard", (unsigned long long)r[i][0],
				     (unsigned long long)r[i][1], res);
		}
}

DTEST(h35_discard_and_write_zeroes_outside_the_extent)
{
	/* Offsets in the hostile volume; the victim's extent starts 3 MiB in. */
	static const uint64_t out[][2] = {
		{ HS_HOSTILE_SIZE, 4096 },			    /* the canary gap after it */
		{ HS_HOSTILE_SIZE - 4096, 8192 },		    /* straddles the end */
		{ HS_VICTIM_OFF - HS_HOSTILE_OFF, HS_VICTIM_SIZE }, /* the victim's extent */
		{ 0, HS_VICTIM_OFF - HS_HOSTILE_OFF + 4096 },	    /* up into the victim's */
		{ 0, HS_HOSTILE_SIZE + 1 },
		{ 0, ~0ull },
		{ ~0ull - 4095, 4096 },	   /* off + len wraps */
		{ 4096, (uint64_t)-4096 }, /* off + len = 2^64 */
		{ 0, 0 },
	};
	static const uint64_t dout[][2] = {
		{ HS_DIRECT_EXTENT, 4096 },
		{ HS_DIRECT_EXTENT - 4096, 8192 },
		{ 0, HS_DIRECT_EXTENT + 4096 },
		{ (uint64_t)-HS_DIRECT_OFF, HS_DIRECT_OFF + 4096 }, /* wraps to before the extent */
	};
	static const uint64_t fine[][2] = { { 0, 4096 }, { 8192, 8192 } };
	struct hc_stats before, after;
	uint8_t *vic_before, *vic_after, buf[8192];
	struct victim v;
	struct hc c, ro;
	unsigned int i;
	int h, hd, hro;

	vt_start(&g_d, &v);
	attach(&c, 16, 32, 1 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	hd = open_vol(&c, "hdirect", RINGD_RDWR);
	attach(&ro, 16, 32, 1 * HS_MB);
	hro = open_vol(&ro, "hostile", RINGD_RDONLY);

	/* They work inside the extent: zeros where asked, nothing else. */
	{
		struct ringd_sqe s;

		rt_fill(c.data, 16384, 5, 0);
		s = rw(RINGD_OP_WRITE, h, 0, 0, 16384);
		cr_assert_eq(one(&c, &s), 16384);
		s = zr(RINGD_OP_WRITE_ZEROES, h, 4096, 4096);
		cr_assert_eq(one(&c, &s), 0);
		read_extent("shared.img", HS_HOSTILE_OFF, 8192, buf);
		cr_assert_eq(rt_check(buf, 4096, 5, 0), -1);
		for (i = 4096; i < 8192; i++)
			cr_assert_eq(buf[i], 0, "write-zeroes left byte %u", i);
		zero_all(&c, h, fine, 2, 0);
	}

	before = stats(&c);
	zero_all(&c, h, out, sizeof(out) / sizeof(out[0]), -EINVAL);
	zero_all(&c, hd, dout, sizeof(dout) / sizeof(dout[0]), -EINVAL);
	/* A read-only handle: -EBADF inside the extent and outside it. */
	zero_all(&ro, hro, fine, 2, -EBADF);
	zero_all(&ro, hro, out, 3, -EBADF);
	/* A handle of the other session means nothing in this one. */
	{
		struct ringd_sqe s = zr(RINGD_OP_DISCARD, hd, 0, 4096);

		cr_assert_neq(hd, hro);
		cr_assert_eq(one(&ro, &s), -EBADF);
	}
	after = stats(&c);
	cr_assert_eq(after.completions_interrupt, before.completions_interrupt,
		     "a refused discard or write-zeroes reached the kernel");
	vt_finish(&v);

	/* With the victim stopped, its extent must not change by a byte. */
	vic_before = malloc(HS_VICTIM_SIZE);
	vic_after = malloc(HS_VICTIM_SIZE);
	cr_assert(vic_before && vic_after);
	read_extent("shared.img", HS_VICTIM_OFF, HS_VICTIM_SIZE, vic_before);
	zero_all(&c, h, out, sizeof(out) / sizeof(out[0]), -EINVAL);
	zero_all(&ro, hro, out, 3, -EBADF);
	read_extent("shared.img", HS_VICTIM_OFF, HS_VICTIM_SIZE, vic_after);
	cr_assert_eq(memcmp(vic_before, vic_after, HS_VICTIM_SIZE), 0,
		     "the victim's extent changed");
	free(vic_before);
	free(vic_after);
	hc_detach(&ro);
	hc_detach(&c);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H36 */

#define LK_SLOT	   16384u /* extent bytes per SQE slot */
#define LK_ROUNDS  40
#define LK_SECONDS 3

/*
 * SQE @i of a round, one of each kind that can be linked, all valid:
 * write, read, writev, readv, NOP, fsync, write-zeroes. @pattern seeds
 * what a write writes. Returns the res a full success completes with.
 */
static int32_t lk_prep(struct hc *c, struct ringd_sqe *q, int h, unsigned int i, uint64_t ud,
		       uint64_t pattern)
{
	uint64_t off = (uint64_t)i * LK_SLOT, buf = (uint64_t)i * LK_SLOT + 65536;
	uint64_t arr = (uint64_t)i * 32;
	int32_t want;

	switch (i % 7) {
	case 0:
		rt_fill(c->data + buf, 4096, pattern, off);
		*q = rw(RINGD_OP_WRITE, h, off, buf, 4096);
		want = 4096;
		break;
	case 1:
		*q = rw(RINGD_OP_READ, h, off, buf, 4096);
		want = 4096;
		break;
	case 2:
		rt_fill(c->data + buf, 8192, pattern, off);
		put_iov(c, arr, 0, at(c, buf), 4096);
		put_iov(c, arr, 1, at(c, buf + 4096), 4096);
		*q = rwv(c, RINGD_OP_WRITEV, h, off, arr, 2);
		want = 8192;
		break;
	case 3:
		put_iov(c, arr, 0, at(c, buf), 4096);
		put_iov(c, arr, 1, at(c, buf + 4096), 4096);
		*q = rwv(c, RINGD_OP_READV, h, off, arr, 2);
		want = 8192;
		break;
	case 4:
		*q = rw(RINGD_OP_NOP, 0, 0, 0, 0);
		want = 0;
		break;
	case 5:
		*q = rw(RINGD_OP_FSYNC, h, 0, 0, 0);
		want = 0;
		break;
	default:
		*q = zr(RINGD_OP_WRITE_ZEROES, h, off, 4096);
		want = 0;
		break;
	}
	q->user_data = ud;
	return want;
}

/*
 * Fill the whole SQ with @c's round @round: every SQE linked (the last
 * too if @link_last), SQE @bad (if < sq_entries) made invalid by an
 * extent past the end. Submit and reap them all; returns the CQEs in
 * @cqes (ordered by SQE, not by arrival) and the wanted results in @want.
 */
static void lk_round(struct hc *c, int h, unsigned int round, bool link_last, unsigned int bad,
		     struct ringd_cqe *cqes, int32_t *want)
{
	struct ringd_cqe got[256];
	unsigned int i, n = c->sq_entries;

	cr_assert_leq(n, 256u);
	for (i = 0; i < n; i++) {
		struct ringd_sqe *q = hc_sqe(c);

		want[i] = lk_prep(c, q, h, i, ((uint64_t)round << 16) | i, round + 1);
		if (i == bad) {
			q->opcode = RINGD_OP_WRITE;
			q->handle = h;
			q->off = HS_HOSTILE_SIZE;
			q->addr = 0;
			q->len = 4096;
			q->buf_base = 0;
		}
		if (i < n - 1 || link_last)
			q->flags = RINGD_SQE_LINK;
	}
	hc_submit(c);
	cr_assert_eq(hc_reap(c, got, n, 30000), n, "round %u: not every SQE completed", round);
	for (i = 0; i < n; i++) {
		uint64_t k = got[i].user_data & 0xffff;

		cr_assert_eq(got[i].user_data >> 16, round, "round %u: a CQE of another round",
			     round);
		cr_assert_lt(k, n);
		cqes[k] = got[i];
	}
}

DTEST(h36_link_on_every_sqe_of_a_full_ring)
{
	struct ringd_cqe cqes[256];
	int32_t want[256];
	uint8_t *ext_before, *ext_after;
	struct hc_stats st;
	struct victim v;
	struct hc c;
	unsigned int round, r, i, n;
	uint64_t end;
	int h;

	vt_start_timed(&g_d, &v);
	attach(&c, 32, 64, 2 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	n = c.sq_entries;
	/* More SQEs than the session may have in flight: the chain waits in the SQ. */
	cr_assert_gt(n, HS_HOSTILE_INFLIGHT);
	cr_assert_leq((uint64_t)n * LK_SLOT, HS_HOSTILE_SIZE);

	/*
	 * One chain that never ends: every SQE of every round linked. Each
	 * starts after the one before completes, so the CQEs come in order,
	 * and all succeed. At least LK_ROUNDS rounds, and LK_SECONDS while
	 * the victim measures.
	 */
	end = now_ms() + LK_SECONDS * 1000;
	for (round = 0; round < LK_ROUNDS || now_ms() < end; round++) {
		struct ringd_cqe got[256];

		for (i = 0; i < n; i++) {
			struct ringd_sqe *q = hc_sqe(&c);

			want[i] = lk_prep(&c, q, h, i, ((uint64_t)round << 16) | i, round + 1);
			q->flags = RINGD_SQE_LINK;
		}
		hc_submit(&c);
		if (round % 8 == 0) {
			/* Held requests count: the in-flight cap holds the chain back. */
			st = stats(&c);
			cr_assert_leq(st.inflight, HS_HOSTILE_INFLIGHT, "round %u: %u in flight",
				      round, st.inflight);
		}
		cr_assert_eq(hc_reap(&c, got, n, 30000), n, "round %u: not every SQE completed",
			     round);
		for (i = 0; i < n; i++) {
			cr_assert_eq(got[i].user_data, ((uint64_t)round << 16) | i,
				     "round %u: CQE %u out of chain order", round, i);
			cr_assert_eq(got[i].res, want[i], "round %u, SQE %u: res %d", round, i,
				     got[i].res);
		}
	}
	cr_log_info("h36: one chain of %u SQEs", round * n);
	/* The chain is still open; a round whose last SQE is unlinked ends it. */
	r = round;
	lk_round(&c, h, r, false, UINT32_MAX, cqes, want);
	for (i = 0; i < n; i++)
		cr_assert_eq(cqes[i].res, want[i], "round %u, SQE %u: res %d", r, i, cqes[i].res);

	/*
	 * A chain whose head fails: the head is refused, every other SQE of
	 * the ring is cancelled unissued, and since the last is linked too,
	 * so is the whole next round, up to its unlinked last SQE.
	 */
	ext_before = malloc(HS_HOSTILE_SIZE);
	ext_after = malloc(HS_HOSTILE_SIZE);
	cr_assert(ext_before && ext_after);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_before);
	lk_round(&c, h, ++r, true, 0, cqes, want);
	cr_assert_eq(cqes[0].res, -EINVAL, "the head: %d", cqes[0].res);
	for (i = 1; i < n; i++)
		cr_assert_eq(cqes[i].res, -ECANCELED, "round %u, SQE %u: res %d", r, i,
			     cqes[i].res);
	lk_round(&c, h, ++r, false, UINT32_MAX, cqes, want);
	for (i = 0; i < n; i++)
		cr_assert_eq(cqes[i].res, -ECANCELED, "round %u (same chain), SQE %u: res %d", r, i,
			     cqes[i].res);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_after);
	cr_assert_eq(memcmp(ext_before, ext_after, HS_HOSTILE_SIZE), 0,
		     "a cancelled write or write-zeroes reached the extent");

	/* Failing in the middle: before it all succeed, after it all are cancelled. */
	lk_round(&c, h, ++r, false, n / 2, cqes, want);
	for (i = 0; i < n; i++) {
		int32_t w = i < n / 2 ? want[i] : i == n / 2 ? -EINVAL : -ECANCELED;

		cr_assert_eq(cqes[i].res, w, "round %u, SQE %u: res %d, want %d", r, i, cqes[i].res,
			     w);
	}
	/* And the next chain is a new one. */
	lk_round(&c, h, ++r, false, UINT32_MAX, cqes, want);
	for (i = 0; i < n; i++)
		cr_assert_eq(cqes[i].res, want[i], "round %u, SQE %u: res %d", r, i, cqes[i].res);
	st = stats(&c);
	cr_assert_eq(st.inflight, 0, "%u requests still in flight", st.inflight);
	free(ext_before);
	free(ext_after);
	hc_detach(&c);
	timed_victim_done(&v, "h36");
	hs_finish(&g_d);
}

/*
 * Sessions that go away with a full ring of linked SQEs consumed, held
 * and running: the held requests are completed or dropped with their
 * session, and nothing they counted stays counted.
 */
DTEST(h36_closed_mid_chain_leaks_nothing)
{
	struct ringd_cqe cqes[32];
	struct rt_admin_stats ad;
	struct victim v;
	unsigned int round, i, n;
	uint32_t base;
	struct hc c;
	int h;

	vt_start(&g_d, &v);
	base = hs_sessions_now(&g_d);
	for (round = 0; round < 20; round++) {
		attach(&c, 32, 64, 2 * HS_MB);
		h = open_vol(&c, "hostile", RINGD_RDWR);
		for (i = 0; i < c.sq_entries; i++) {
			struct ringd_sqe *q = hc_sqe(&c);

			lk_prep(&c, q, h, i, i, round + 1);
			q->flags = RINGD_SQE_LINK;
		}
		hc_submit(&c);
		/* Gone at once, or after the chain got going. */
		if (round & 1)
			(void)hc_reap(&c, cqes, 4, DO_REAP_MS);
		hc_detach(&c);
	}
	vt_finish(&v);
	cr_assert(rt_wait_for(10000, hs_sessions_now(&g_d) == base - 1),
		  "%u sessions left, %u before", hs_sessions_now(&g_d), base);
	cr_assert(rt_wait_for(10000, !rt_admin_stats(&g_d, &ad) && ad.requests_inflight == 0),
		  "%u requests still in flight", ad.requests_inflight);
	/* The tenant's in-flight count is back to 0: a full ring of
	 * independent reads, more than its cap, all run. */
	attach(&c, 32, 64, 2 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	n = c.sq_entries;
	cr_assert_gt(n, HS_HOSTILE_TENANT_INFLIGHT);
	for (i = 0; i < n; i++) {
		struct ringd_sqe *q = hc_sqe(&c);

		hc_prep_rw(q, RINGD_OP_READ, h, (uint64_t)i * 4096, (uint64_t)i * 4096, 4096, i);
	}
	hc_submit(&c);
	cr_assert_eq(hc_reap(&c, cqes, n, DO_REAP_MS), n, "the tenant's in-flight count leaked");
	for (i = 0; i < n; i++)
		cr_assert_eq(cqes[i].res, 4096);
	hc_detach(&c);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H37 */

#define CX_UD	 0xb0b0b0b0ull /* every request of the other session */
#define CX_CHAIN 8u
#define CX_IO	 65536u
#define CX_SECS	 3

struct cx_arg {
	struct hc *c;
	int h;
	volatile int stop;
	uint64_t done, wrong, rounds;
	int32_t first_wrong;
};

/* The other session: chains of linked writes, all tagged CX_UD, so that
 * some of them are always held, waiting, with that user_data. */
static void *cx_other(void *p)
{
	struct cx_arg *a = p;
	unsigned int i;

	while (!a->stop) {
		struct ringd_cqe cqes[CX_CHAIN];
		unsigned int n;

		for (i = 0; i < CX_CHAIN; i++) {
			struct ringd_sqe *q = hc_sqe(a->c);

			hc_prep_rw(q, RINGD_OP_WRITE, a->h, (uint64_t)i * CX_IO,
				   (uint64_t)i * CX_IO, CX_IO, CX_UD);
			if (i < CX_CHAIN - 1)
				q->flags = RINGD_SQE_LINK;
		}
		hc_submit(a->c);
		n = hc_reap(a->c, cqes, CX_CHAIN, DO_REAP_MS);
		for (i = 0; i < CX_CHAIN; i++) {
			if (i < n && cqes[i].res == (int32_t)CX_IO && cqes[i].user_data == CX_UD) {
				a->done++;
				continue;
			}
			if (!a->wrong)
				a->first_wrong = i < n ? cqes[i].res : 1;
			a->wrong++;
		}
		a->rounds++;
	}
	return NULL;
}

DTEST(h37_cancel_never_reaches_another_session)
{
	struct cx_arg xa;
	pthread_t th;
	struct victim v;
	struct hc a, b;
	uint64_t end, cancels = 0;
	int ha, hb, i;

	vt_start(&g_d, &v);
	attach(&a, 16, 32, 1 * HS_MB);
	attach(&b, 16, 32, 1 * HS_MB);
	ha = open_vol(&a, "hostile", RINGD_RDWR);
	hb = open_vol(&b, "hostile", RINGD_RDWR);

	/* It works on the caller's own held request: the cancel can hit. */
	{
		struct ringd_cqe cqes[3];
		struct ringd_sqe *q;
		unsigned int n, k;

		q = hc_sqe(&a);
		hc_prep_rw(q, RINGD_OP_READ, ha, 0, 0, CX_IO, 0xa0);
		q->flags = RINGD_SQE_LINK;
		q = hc_sqe(&a);
		hc_prep_rw(q, RINGD_OP_WRITE, ha, 0, 0, 4096, 0xa1);
		q = hc_sqe(&a);
		hc_prep_rw(q, RINGD_OP_CANCEL, 0, 0, 0xa1, 0, 0xa2);
		hc_submit(&a);
		n = hc_reap(&a, cqes, 3, DO_REAP_MS);
		cr_assert_eq(n, 3);
		for (k = 0; k < 3; k++) {
			if (cqes[k].user_data == 0xa0)
				cr_assert_eq(cqes[k].res, (int32_t)CX_IO);
			else if (cqes[k].user_data == 0xa1)
				cr_assert_eq(cqes[k].res, -ECANCELED, "own held write: %d",
					     cqes[k].res);
			else
				cr_assert_eq(cqes[k].res, 0, "cancel of own held write: %d",
					     cqes[k].res);
		}
	}

	/* Another session of the same tenant keeps requests tagged CX_UD
	 * waiting in chains; this one cancels CX_UD, and the victim's and
	 * its own small tags, as fast as it can. */
	xa = (struct cx_arg){ .c = &b, .h = hb };
	cr_assert_eq(pthread_create(&th, NULL, cx_other, &xa), 0);
	end = now_ms() + CX_SECS * 1000;
	while (now_ms() < end) {
		struct ringd_cqe cqes[16];
		unsigned int n;

		for (i = 0; i < 16; i++) {
			struct ringd_sqe *q = hc_sqe(&a);

			hc_prep_rw(q, RINGD_OP_CANCEL, 0, 0, i < 8 ? CX_UD : (uint64_t)(i - 8), 0,
				   0xc0000000ull + (uint64_t)i);
		}
		hc_submit(&a);
		n = hc_reap(&a, cqes, 16, DO_REAP_MS);
		cr_assert_eq(n, 16, "%u of 16 cancels completed", n);
		for (i = 0; i < 16; i++)
			cr_assert_eq(cqes[i].res, -ENOENT,
				     "a cancel of another session's %#llx: %d",
				     (unsigned long long)(cqes[i].user_data & 0xf), cqes[i].res);
		cancels += 16;
	}
	xa.stop = 1;
	pthread_join(th, NULL);
	cr_log_info("h37: %llu cancels, %llu chains of the other session",
		    (unsigned long long)cancels, (unsigned long long)xa.rounds);
	cr_assert_eq(xa.wrong, 0,
		     "%llu requests of the other session did not complete in full (first: %d)",
		     (unsigned long long)xa.wrong, xa.first_wrong);
	cr_assert_gt(xa.done, 0);
	cr_assert_eq(xa.done, xa.rounds * CX_CHAIN);
	hc_detach(&b);
	hc_detach(&a);
	vt_finish(&v);
	hs_finish(&g_d);
}
