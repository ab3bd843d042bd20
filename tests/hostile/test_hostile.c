/* SPDX-License-Identifier: MIT */
/*
 * The hostile-tenant suite: one test per case of HOSTILE.md that applies.
 * In each, a hostile client (tenant "hostile", uid RT_UID_A, raw protocol
 * and its own mapping of the session memfd) misbehaves while the victim
 * (tenant "victim", RT_UID_B, libringd) runs a verified read/write loop.
 * Each test asserts the documented outcome, then (hs_finish) that a fresh
 * connection is served, that canary bytes outside every tenant extent are
 * unchanged, and that the daemon exits cleanly; vt_finish() asserts the
 * victim saw zero errors and correct data.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile.h"
#include "ringd.h"

static struct rt_daemon g_d;

static void setup(void)
{
	hs_start(&g_d, "30s");
}

/* Only cleanup: the tests call hs_finish() themselves to assert on it. */
static void teardown(void)
{
	hs_teardown(&g_d);
}

#define HTEST(name) Test(hostile, name, .init = setup, .fini = teardown, .timeout = 120)

/* Attach the hostile tenant with small rings; asserts success. */
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
	return hs_one(c, proto, 20000);
}

static struct ringd_sqe rw(uint8_t op, int h, uint64_t off, uint64_t addr, uint32_t len)
{
	struct ringd_sqe s;

	memset(&s, 0, sizeof(s));
	hc_prep_rw(&s, op, h, off, addr, len, 0x5eed0000ull + op);
	return s;
}

static void read_extent(const char *file, uint64_t off, uint64_t len, void *buf)
{
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/state/%s", g_d.dir, file);
	ret = rt_pread_file(path, buf, len, off);
	cr_assert_eq(ret, 0, "read %s: %s", path, strerror(-ret));
}

static struct rt_admin_stats admin(void)
{
	struct rt_admin_stats st;
	int ret = rt_admin_stats(&g_d, &st);

	cr_assert_eq(ret, 0, "admin stats: %s", strerror(-ret));
	return st;
}

/* ---------------------------------------------------------------- H1 */

struct flip_arg {
	struct hc *c;
	volatile int stop;
	unsigned int seed;
	uint64_t extent, data;
};

/*
 * Rewrite fields of every SQE one store at a time, so that a daemon that
 * read a field twice could combine a checked value with an unchecked one:
 * (off near the end, small len) and (off 0, len 1M) are both valid, their
 * mix is not; the same for addr.
 */
static void *flipper(void *p)
{
	struct flip_arg *a = p;
	struct hc *c = a->c;

	while (!a->stop) {
		uint32_t i = (uint32_t)rand_r(&a->seed) % c->sq_entries;
		struct ringd_sqe *s = &c->sqes[i];

		switch (rand_r(&a->seed) % 6) {
		case 0:
			__atomic_store_n(&s->off, a->extent - 4096, __ATOMIC_RELAXED);
			__atomic_store_n(&s->len, 4096u, __ATOMIC_RELAXED);
			break;
		case 1:
			__atomic_store_n(&s->len, 1u << 20, __ATOMIC_RELAXED);
			__atomic_store_n(&s->off, 0ull, __ATOMIC_RELAXED);
			break;
		case 2:
			__atomic_store_n(&s->addr, a->data - 4096, __ATOMIC_RELAXED);
			break;
		case 3:
			__atomic_store_n(&s->addr, 0ull, __ATOMIC_RELAXED);
			break;
		case 4:
			__atomic_store_n(&s->off, ~0ull - 4095, __ATOMIC_RELAXED);
			break;
		default:
			__atomic_store_n(&s->handle, (int32_t)(rand_r(&a->seed) % 3) - 1,
					 __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

HTEST(h01_double_fetch_stays_in_bounds)
{
	struct flip_arg fa[2];
	pthread_t th[2];
	struct victim v;
	struct hc c;
	unsigned int round, i, ok = 0, refused = 0;
	int h;

	vt_start(&g_d, &v);
	attach(&c, 32, 64, 2 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	cr_assert_eq(h, 0);
	memset(c.data, 0x5a, c.data_size);
	for (i = 0; i < 2; i++) {
		fa[i] = (struct flip_arg){
			.c = &c, .seed = i + 1, .extent = HS_HOSTILE_SIZE, .data = c.data_size
		};
		cr_assert_eq(pthread_create(&th[i], NULL, flipper, &fa[i]), 0);
	}
	for (round = 0; round < 150; round++) {
		struct ringd_cqe cqes[32];
		unsigned int n;

		for (i = 0; i < 32; i++) {
			struct ringd_sqe *s = hc_sqe(&c);

			hc_prep_rw(s, i & 1 ? RINGD_OP_READ : RINGD_OP_WRITE, h, (uint64_t)i * 8192,
				   (uint64_t)i * 8192, 4096, i);
		}
		hc_submit(&c);
		n = hc_reap(&c, cqes, 32, 20000);
		cr_assert_eq(n, 32, "round %u: %u of 32 completions", round, n);
		for (i = 0; i < 32; i++) {
			int32_t res = cqes[i].res;

			cr_assert(res == 4096 || res == (1 << 20) || res == -EINVAL ||
				      res == -EFAULT || res == -EBADF,
				  "round %u: unexpected res %d", round, res);
			if (res > 0)
				ok++;
			else
				refused++;
		}
	}
	for (i = 0; i < 2; i++) {
		fa[i].stop = 1;
		pthread_join(th[i], NULL);
	}
	cr_log_info("h01: %u accepted, %u refused", ok, refused);
	cr_assert_gt(ok, 0);
	/*
	 * Every refusal came from the validator, none from the kernel: a mix
	 * that escaped validation would have reached io_uring, which bounds
	 * fixed buffers itself and would have failed it there.
	 */
	{
		struct hc_stats st;

		cr_assert_eq(hc_stats(&c, &st), 0);
		cr_assert_eq(st.rejected, refused, "%llu rejected by the validator, %u refused",
			     (unsigned long long)st.rejected, refused);
		cr_assert_eq(st.errors, refused);
	}
	/* Whatever the mixes, the hostile tenant's writes stayed in its extent. */
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H2 */

HTEST(h02_out_of_extent_is_einval)
{
	const struct {
		uint64_t off;
		uint32_t len;
	} bad[] = {
		{ HS_HOSTILE_SIZE, 4096 },	/* at the end */
		{ HS_HOSTILE_SIZE - 511, 512 }, /* crosses the end */
		{ HS_HOSTILE_SIZE + (1ull << 40), 4096 },
		{ ~0ull - 100, 4096 }, /* off + len wraps 2^64 */
		{ ~0ull, 1 },
		{ 0, (1u << 20) + 1 }, /* above max_io_size */
		{ 0, ~0u },	       /* len huge */
	};
	struct hc_stats before, after;
	struct victim v;
	struct hc c;
	unsigned int i;
	int h;

	vt_start(&g_d, &v);
	attach(&c, 16, 32, 2 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	cr_assert_eq(hc_stats(&c, &before), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ringd_sqe s = rw(RINGD_OP_WRITE, h, bad[i].off, 0, bad[i].len);
		int32_t res = one(&c, &s);

		cr_assert_eq(res, -EINVAL, "write off %llu len %u: %d",
			     (unsigned long long)bad[i].off, bad[i].len, res);
		s.opcode = RINGD_OP_READ;
		res = one(&c, &s);
		cr_assert_eq(res, -EINVAL, "read off %llu len %u: %d",
			     (unsigned long long)bad[i].off, bad[i].len, res);
	}
	cr_assert_eq(hc_stats(&c, &after), 0);
	/* Nothing reached the kernel: no kernel completion was counted. */
	cr_assert_eq(after.completions_interrupt, before.completions_interrupt);
	cr_assert_eq(after.rejected - before.rejected, 2 * sizeof(bad) / sizeof(bad[0]));
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H3 */

HTEST(h03_buffer_outside_data_area_is_efault)
{
	struct hc_stats before, after;
	struct victim v;
	struct hc c;
	uint8_t *ext_before, *ext_after, *hdr_copy;
	uint64_t bad_addr[5];
	size_t rings;
	unsigned int i;
	int h;

	vt_start(&g_d, &v);
	attach(&c, 16, 32, 1 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	rings = (size_t)(c.data - (uint8_t *)c.base);
	bad_addr[0] = c.data_size;		 /* just past the end */
	bad_addr[1] = c.data_size - 100;	 /* crosses the end */
	bad_addr[2] = ~0ull - 10;		 /* addr + len wraps */
	bad_addr[3] = (uint64_t)0 - rings;	 /* "negative": the ring header */
	bad_addr[4] = (uint64_t)0 - rings + 128; /* the live indices */
	ext_before = malloc(HS_HOSTILE_SIZE);
	ext_after = malloc(HS_HOSTILE_SIZE);
	hdr_copy = malloc(rings);
	cr_assert(ext_before && ext_after && hdr_copy);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_before);
	memset(c.data, 0x77, c.data_size);
	cr_assert_eq(hc_stats(&c, &before), 0);
	for (i = 0; i < 5; i++) {
		struct ringd_sqe s = rw(RINGD_OP_WRITE, h, 0, bad_addr[i], 4096);
		int32_t res = one(&c, &s);

		cr_assert_eq(res, -EFAULT, "write from addr %#llx: %d",
			     (unsigned long long)bad_addr[i], res);
		memcpy(hdr_copy, c.base, rings);
		s.opcode = RINGD_OP_READ;
		s.user_data = 0x7ead;
		res = one(&c, &s);
		cr_assert_eq(res, -EFAULT, "read into addr %#llx: %d",
			     (unsigned long long)bad_addr[i], res);
	}
	cr_assert_eq(hc_stats(&c, &after), 0);
	cr_assert_eq(after.completions_interrupt, before.completions_interrupt);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, ext_after);
	cr_assert_eq(memcmp(ext_before, ext_after, HS_HOSTILE_SIZE), 0,
		     "a refused write changed the extent");
	for (i = 0; i < c.data_size; i++)
		cr_assert_eq(c.data[i], 0x77, "a refused read changed data byte %u", i);
	free(ext_before);
	free(ext_after);
	free(hdr_copy);
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H4 */

/* After a break: a valid write queued behind it is never executed. */
static void assert_dead_ring(struct hc *c, int h, uint32_t reason)
{
	struct hc_stats st;
	uint32_t head = ringd_load_acquire(&c->hdr->sq_head);
	uint32_t cqt = ringd_load_acquire(&c->hdr->cq_tail);
	uint8_t *ext = malloc(65536);
	struct ringd_sqe *s;
	unsigned int i;

	cr_assert_eq(hc_wait_broken(c, 10000), reason, "broken_reason %u, want %u",
		     c->hdr->broken_reason, reason);
	cr_assert_eq(hc_stats(c, &st), 0);
	cr_assert_eq(st.broken_reason, reason, "Stats.broken_reason %u", st.broken_reason);
	/* Make the ring look sane again and queue a real write. */
	c->sq_tail = head;
	ringd_store_release(&c->hdr->sq_tail, head);
	memset(c->data, 0xab, 65536);
	s = hc_sqe(c);
	hc_prep_rw(s, RINGD_OP_WRITE, h, 0, 0, 65536, 1);
	hc_submit(c);
	cr_assert_not(rt_wait_for(300, ringd_load_acquire(&c->hdr->sq_head) != head),
		      "a broken session's SQE was consumed");
	cr_assert_eq(ringd_load_acquire(&c->hdr->cq_tail), cqt);
	read_extent("shared.img", HS_HOSTILE_OFF, 65536, ext);
	for (i = 0; i < 65536; i++)
		cr_assert_neq(ext[i], 0xab, "a broken session's write reached the volume");
	free(ext);
}

HTEST(h04_ring_index_abuse_breaks_session)
{
	struct victim v;
	struct hc c;
	struct ringd_sqe nop = { .opcode = RINGD_OP_NOP, .user_data = 9 };
	int h, maps0;

	vt_start(&g_d, &v);
	maps0 = hs_count_maps(g_d.pid, "ringd-session", NULL);

	/* Tail more than the ring size ahead of the head. */
	attach(&c, 16, 32, 256 << 10);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	ringd_store_release(&c.hdr->sq_tail, 17);
	hc_doorbell(&c);
	assert_dead_ring(&c, h, RINGD_BROKEN_SQ_TAIL);
	/* Its kernel I/O drained (there was none): its memory is released. */
	cr_assert(rt_wait_for(5000, hs_count_maps(g_d.pid, "ringd-session", NULL) == maps0),
		  "a broken session's mapping is still there");
	hc_detach(&c);

	/* Tail moving backwards. */
	attach(&c, 16, 32, 256 << 10);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	cr_assert_eq(one(&c, &nop), 0);
	cr_assert_eq(one(&c, &nop), 0);
	ringd_store_release(&c.hdr->sq_tail, 1);
	hc_doorbell(&c);
	assert_dead_ring(&c, h, RINGD_BROKEN_SQ_TAIL);
	hc_detach(&c);

	/* SQ array entry out of range. */
	attach(&c, 16, 32, 256 << 10);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	hc_sqe(&c)->opcode = RINGD_OP_NOP;
	c.sq_array[0] = 16 + 5;
	hc_submit(&c);
	assert_dead_ring(&c, h, RINGD_BROKEN_SQ_INDEX);
	hc_detach(&c);

	/* Header sizes overwritten: ignored, the daemon keeps its own copy. */
	attach(&c, 16, 32, 256 << 10);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	c.hdr->sq_entries = ~0u;
	c.hdr->cq_entries = 1;
	c.hdr->data_size = ~0ull;
	c.hdr->data_off = 0;
	c.hdr->region_size = ~0ull;
	c.hdr->magic = 0;
	{
		struct ringd_sqe past = rw(RINGD_OP_READ, h, 0, c.data_size, 4096);
		struct ringd_sqe okr = rw(RINGD_OP_READ, h, 0, 0, 4096);

		cr_assert_eq(one(&c, &past), -EFAULT);
		cr_assert_eq(one(&c, &okr), 4096);
		cr_assert_eq(one(&c, &nop), 0);
	}
	cr_assert_eq(c.hdr->broken_reason, 0);
	hc_detach(&c);

	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H5 */

HTEST(h05_cq_head_abuse_breaks_session)
{
	struct ringd_sqe nop = { .opcode = RINGD_OP_NOP };
	const uint32_t bogus[] = { 32 + 5, 0xdeadbeef };
	struct victim v;
	struct hc c;
	unsigned int k, i;
	int h;

	vt_start(&g_d, &v);
	for (k = 0; k < 2; k++) {
		struct ringd_cqe snap[32];

		/* Fill the CQ without reaping, then lie about the head. */
		attach(&c, 16, 32, 256 << 10);
		h = open_vol(&c, "hostile", RINGD_RDWR);
		for (i = 0; i < 16; i++) {
			nop.user_data = 100 + i;
			memcpy(hc_sqe(&c), &nop, sizeof(nop));
		}
		hc_submit(&c);
		cr_assert(rt_wait_for(10000, ringd_load_acquire(&c.hdr->cq_tail) == 16));
		memcpy(snap, c.cqes, sizeof(snap));
		ringd_store_release(&c.hdr->cq_head, bogus[k]);
		for (i = 0; i < 16; i++)
			memcpy(hc_sqe(&c), &nop, sizeof(nop));
		hc_submit(&c);
		assert_dead_ring(&c, h, RINGD_BROKEN_CQ_HEAD);
		/* No unread CQE was overwritten. */
		cr_assert_eq(memcmp(snap, c.cqes, sizeof(snap)), 0);
		for (i = 0; i < 16; i++)
			cr_assert_eq(c.cqes[i].user_data, 100 + i);
		hc_detach(&c);
	}

	/* The head moving backwards. */
	attach(&c, 16, 32, 256 << 10);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	cr_assert_eq(one(&c, &nop), 0);
	cr_assert_eq(one(&c, &nop), 0);
	ringd_store_release(&c.hdr->cq_head, 0);
	memcpy(hc_sqe(&c), &nop, sizeof(nop));
	hc_submit(&c);
	assert_dead_ring(&c, h, RINGD_BROKEN_CQ_HEAD);
	hc_detach(&c);

	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H6 */

/* Keep the SQ full of NOPs numbered from @next; returns the new next. */
static uint64_t keep_sq_full(struct hc *c, uint64_t next)
{
	while (c->sq_tail - ringd_load_acquire(&c->hdr->sq_head) < c->sq_entries) {
		struct ringd_sqe *s = hc_sqe(c);

		s->opcode = RINGD_OP_NOP;
		s->user_data = next++;
	}
	hc_submit(c);
	return next;
}

HTEST(h06_unreaped_cq_gets_backpressure_then_stall_disconnect)
{
	struct ringd_cqe cqes[64];
	struct victim v;
	struct hc c;
	uint64_t next = 0, want = 0;
	unsigned int i, n, rounds;
	int maps0;

	/* 1. Backpressure: with the default stall timeout, nothing is lost. */
	vt_start(&g_d, &v);
	attach(&c, 16, 32, 256 << 10);
	cr_assert(rt_wait_for(
	    10000, (next = keep_sq_full(&c, next), ringd_load_acquire(&c.hdr->cq_tail) == 32)));
	next = keep_sq_full(&c, next);
	/* The daemon stops consuming when no CQ slot is free. */
	cr_assert_not(rt_wait_for(300, ringd_load_acquire(&c.hdr->cq_tail) != 32));
	cr_assert_eq(ringd_load_acquire(&c.hdr->sq_head), 32);
	cr_assert_eq(c.sq_tail, 48);
	for (rounds = 0; rounds < 20; rounds++) {
		n = hc_reap_some(&c, cqes, 64, 10000);
		cr_assert_gt(n, 0);
		for (i = 0; i < n; i++) {
			cr_assert_eq(cqes[i].user_data, want, "CQE %llu missing",
				     (unsigned long long)want);
			cr_assert_eq(cqes[i].res, 0);
			want++;
		}
		next = keep_sq_full(&c, next);
	}
	n = hc_reap(&c, cqes, (unsigned int)(next - want), 10000);
	for (i = 0; i < n; i++)
		cr_assert_eq(cqes[i].user_data, want++);
	cr_assert_eq(want, next, "completions lost: %llu of %llu", (unsigned long long)want,
		     (unsigned long long)next);
	next = 0;
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);

	/* 2. A tenant that never reaps is disconnected after stall_timeout. */
	hs_start(&g_d, "1s");
	vt_start(&g_d, &v);
	maps0 = hs_count_maps(g_d.pid, "ringd-session", NULL);
	attach(&c, 16, 32, 256 << 10);
	cr_assert(rt_wait_for(
	    10000, (next = keep_sq_full(&c, next), ringd_load_acquire(&c.hdr->cq_tail) == 32)));
	next = keep_sq_full(&c, next);
	cr_assert_eq(hc_wait_eof(c.sock, 15000), 0, "the stalled session was not disconnected");
	cr_assert_eq(c.hdr->broken_reason, RINGD_BROKEN_STALL);
	cr_assert_eq(ringd_load_acquire(&c.hdr->cq_tail), 32, "a CQE was overwritten");
	/* Its resources are reclaimed. */
	cr_assert(rt_wait_for(5000, hs_count_maps(g_d.pid, "ringd-session", NULL) <= maps0));
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H7 */

struct flood_arg {
	struct hc c;
	int h;
	bool direct;
	unsigned int batches; /* at least this many, then until stop */
	volatile int stop;
	unsigned int bad; /* completions that were neither OK nor the expected refusal */
};

/* Count completions that are neither a success nor the expected refusal. */
static unsigned int flood_check(const struct ringd_cqe *cqes, unsigned int n)
{
	unsigned int i, bad = 0;

	for (i = 0; i < n; i++)
		if ((cqes[i].user_data == 1 && cqes[i].res != -EINVAL) ||
		    (cqes[i].user_data != 1 && cqes[i].res < 0))
			bad++;
	return bad;
}

static void *flood(void *p)
{
	struct flood_arg *a = p;
	struct hc *c = &a->c;
	struct ringd_cqe cqes[64];
	uint64_t sent = 0, got = 0;
	unsigned int b, n;

	for (b = 0; b < a->batches || !a->stop; b++) {
		while (c->sq_tail - ringd_load_acquire(&c->hdr->sq_head) < c->sq_entries) {
			struct ringd_sqe *s = hc_sqe(c);
			unsigned int k = (unsigned int)(sent++ % 8);

			if (k == 0) {
				s->opcode = RINGD_OP_FSYNC;
				s->handle = a->h;
				s->user_data = 0;
			} else if (k == 1) {
				/* Huge: one byte over max_io_size. */
				hc_prep_rw(s, RINGD_OP_READ, a->h, 0, 0, (1u << 20) + 1, 1);
			} else {
				hc_prep_rw(s, RINGD_OP_READ, a->h, (uint64_t)k * 65536, 0,
					   k == 2 ? 1u << 20 : 65536, 2);
			}
		}
		hc_submit(c);
		n = hc_reap_some(c, cqes, 64, 0);
		a->bad += flood_check(cqes, n);
		got += n;
		usleep(100);
	}
	while (got < sent) {
		n = hc_reap_some(c, cqes, 64, 20000);
		if (!n)
			break;
		a->bad += flood_check(cqes, n);
		got += n;
	}
	if (got != sent)
		a->bad += (unsigned int)(sent - got);
	return NULL;
}

HTEST(h07_flood_respects_inflight_caps)
{
	struct flood_arg fa[3];
	pthread_t th[3];
	struct victim v;
	unsigned int i, samples = 0, max_sess = 0, max_all = 0;

	vt_start(&g_d, &v);
	for (i = 0; i < 3; i++) {
		attach(&fa[i].c, 64, 128, 2 * HS_MB);
		fa[i].direct = i == 2;
		fa[i].h = open_vol(&fa[i].c, i == 2 ? "hdirect" : "hostile", RINGD_RDWR);
		fa[i].batches = 200;
		fa[i].bad = 0;
		fa[i].stop = 0;
	}
	for (i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, flood, &fa[i]), 0);
	/* Sample the caps while the floods run. */
	for (samples = 0; samples < 40; samples++) {
		struct rt_admin_stats st = admin();

		for (i = 0; i < 3; i++) {
			struct hc_stats hs;

			cr_assert_eq(hc_stats(&fa[i].c, &hs), 0);
			cr_assert_leq(hs.inflight, HS_HOSTILE_INFLIGHT,
				      "session %u has %u in flight", i, hs.inflight);
			if (hs.inflight > max_sess)
				max_sess = hs.inflight;
		}
		/* The hostile tenant's cap, plus the victim's batch of 8. */
		cr_assert_leq(st.requests_inflight, HS_HOSTILE_TENANT_INFLIGHT + 8,
			      "%u requests in flight", st.requests_inflight);
		if (st.requests_inflight > max_all)
			max_all = st.requests_inflight;
		usleep(20000);
	}
	for (i = 0; i < 3; i++)
		fa[i].stop = 1;
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(fa[i].bad, 0, "flood %u: %u wrong or lost completions", i, fa[i].bad);
		hc_detach(&fa[i].c);
	}
	cr_log_info("h07: max %u in flight per session, %u daemon-wide", max_sess, max_all);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H8 */

HTEST(h08_bad_opcode_flags_reserved_are_refused)
{
	struct hc_stats before, after;
	struct victim v;
	struct hc c;
	unsigned int i, k;
	int h;

	vt_start(&g_d, &v);
	attach(&c, 16, 32, 256 << 10);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	cr_assert_eq(hc_stats(&c, &before), 0);
	for (k = 0; k < 2; k++) {
		struct ringd_sqe s;

		for (i = RINGD_OP_LAST; i < 256; i += 37) {
			s = rw(RINGD_OP_READ, h, 0, 0, 4096);
			s.opcode = (uint8_t)i;
			cr_assert_eq(one(&c, &s), -EOPNOTSUPP, "opcode %u", i);
		}
		s = rw(RINGD_OP_READ, h, 0, 0, 4096);
		s.flags = 0x80; /* bit 0 is RINGD_SQE_LINK */
		cr_assert_eq(one(&c, &s), -EINVAL);
		s = rw(RINGD_OP_READ, h, 0, 0, 4096);
		s.ioprio = 1;
		cr_assert_eq(one(&c, &s), -EINVAL);
		for (i = 0; i < 3; i++) {
			s = rw(RINGD_OP_WRITE, h, 0, 0, 4096);
			if (i < 2)
				s.resv[i] = 1ull << 63;
			else
				s.buf_base = 1ull << 63; /* a plain write carries none */
			cr_assert_eq(one(&c, &s), -EINVAL, "resv[%u]", i);
		}
		s = rw(RINGD_OP_READ, h, 0, 0, 4096);
		s.op_flags = RINGD_FSYNC_DATASYNC;
		cr_assert_eq(one(&c, &s), -EINVAL);
		memset(&s, 0, sizeof(s));
		s.opcode = RINGD_OP_FSYNC;
		s.handle = h;
		s.op_flags = 2;
		cr_assert_eq(one(&c, &s), -EINVAL);
		s.op_flags = 0;
		s.len = 1;
		cr_assert_eq(one(&c, &s), -EINVAL);
		memset(&s, 0, sizeof(s));
		s.opcode = RINGD_OP_NOP;
		s.addr = 64;
		cr_assert_eq(one(&c, &s), -EINVAL);
	}
	cr_assert_eq(hc_stats(&c, &after), 0);
	cr_assert_eq(after.completions_interrupt, before.completions_interrupt,
		     "a refused SQE reached the kernel");
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H9 */

HTEST(h09_foreign_closed_or_out_of_range_handle_is_ebadf)
{
	const int32_t wild[] = { -1, 2, 3, 1000, INT32_MAX, INT32_MIN };
	struct victim v;
	struct hc a, b;
	unsigned int i;
	int h0, h1, hr;

	vt_start(&g_d, &v);
	attach(&a, 16, 32, 256 << 10);
	attach(&b, 16, 32, 256 << 10);
	h0 = open_vol(&a, "hostile", RINGD_RDWR);
	h1 = open_vol(&a, "hdirect", RINGD_RDWR);
	/* Another session's handles mean nothing here. */
	for (i = 0; i < 2; i++) {
		struct ringd_sqe s = rw(RINGD_OP_READ, i ? h1 : h0, 0, 0, 4096);

		cr_assert_eq(one(&b, &s), -EBADF);
	}
	/* A closed handle. */
	cr_assert_eq(hc_close_handle(&a, h1), 0);
	{
		struct ringd_sqe s = rw(RINGD_OP_READ, h1, 0, 0, 4096);

		cr_assert_eq(one(&a, &s), -EBADF);
		s.opcode = RINGD_OP_FSYNC;
		s.off = s.addr = s.len = 0;
		cr_assert_eq(one(&a, &s), -EBADF);
	}
	cr_assert_eq(hc_close_handle(&a, h1), -EBADF);
	/* Out of range. */
	for (i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		struct ringd_sqe s = rw(RINGD_OP_WRITE, wild[i], 0, 0, 4096);

		cr_assert_eq(one(&a, &s), -EBADF, "handle %d", wild[i]);
	}
	/* A write on a read-only handle. */
	cr_assert_eq(hc_close_handle(&a, h0), 0);
	hr = open_vol(&a, "hostile", RINGD_RDONLY);
	{
		struct ringd_sqe s = rw(RINGD_OP_WRITE, hr, 0, 0, 4096);

		cr_assert_eq(one(&a, &s), -EBADF);
	}
	/* The victim's volume cannot even be opened. */
	cr_assert_eq(hc_open(&a, "victim", RINGD_RDONLY), -EACCES);
	hc_detach(&a);
	hc_detach(&b);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H10 */

HTEST(h10_len_and_alignment_rules_are_einval)
{
	struct victim v;
	struct hc c;
	unsigned int k;
	int hd, hb;

	vt_start(&g_d, &v);
	attach(&c, 16, 32, 1 * HS_MB);
	hd = open_vol(&c, "hdirect", RINGD_RDWR);
	hb = open_vol(&c, "hostile", RINGD_RDWR);
	for (k = 0; k < 20; k++) {
		struct ringd_sqe s;

		s = rw(RINGD_OP_READ, hb, 0, 0, 0);
		cr_assert_eq(one(&c, &s), -EINVAL, "len 0, buffered");
		s = rw(RINGD_OP_WRITE, hd, 0, 0, 0);
		cr_assert_eq(one(&c, &s), -EINVAL, "len 0, direct");
		s = rw(RINGD_OP_READ, hd, 0, 0, 4096 + 100);
		cr_assert_eq(one(&c, &s), -EINVAL, "odd len, direct");
		s = rw(RINGD_OP_WRITE, hd, 100, 0, 4096);
		cr_assert_eq(one(&c, &s), -EINVAL, "odd offset, direct");
		s = rw(RINGD_OP_READ, hd, 0, 100, 4096);
		cr_assert_eq(one(&c, &s), -EINVAL, "misaligned buffer, direct");
		/* The same on the buffered volume is fine. */
		s = rw(RINGD_OP_READ, hb, 100, 100, 4096 + 100);
		cr_assert_eq(one(&c, &s), 4096 + 100);
		s = rw(RINGD_OP_READ, hd, 8192, 4096, 8192);
		cr_assert_eq(one(&c, &s), 8192);
	}
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H11 */

enum death { DIE_BEFORE_HELLO, DIE_AFTER_HELLO, DIE_WITH_IO, DIE_MAPPED_IDLE, DIE_NKINDS };

static int dying_child(void *arg)
{
	const char *sock = ((const struct rt_daemon *)arg)->sock;
	unsigned int kind = (unsigned int)getpid() % DIE_NKINDS;
	struct hc c;
	int fd, h, i;

	fd = hc_sock_as(sock, 0);
	if (fd < 0)
		return 1;
	if (kind == DIE_BEFORE_HELLO)
		raise(SIGKILL);
	if (kind == DIE_AFTER_HELLO) {
		Ringd__Request rq = RINGD__REQUEST__INIT;
		Ringd__Hello hello = RINGD__HELLO__INIT;

		hello.abi_version = RINGD_ABI_VERSION;
		rq.msg_case = RINGD__REQUEST__MSG_HELLO;
		rq.hello = &hello;
		hc_send_req(fd, &rq);
		/* Die while the daemon passes the fds. */
		raise(SIGKILL);
	}
	if (hc_attach_fd(fd, 64, 128, 4 * HS_MB, &c))
		return 2;
	h = hc_open(&c, "hostile", RINGD_RDWR);
	if (h < 0)
		return 3;
	if (kind == DIE_WITH_IO) {
		for (i = 0; i < 63; i++) {
			struct ringd_sqe *s = hc_sqe(&c);

			if (i % 16 == 15) {
				s->opcode = RINGD_OP_FSYNC;
				s->handle = h;
			} else {
				hc_prep_rw(s, i & 1 ? RINGD_OP_READ : RINGD_OP_WRITE, h,
					   (uint64_t)(i % 16) * 65536, (uint64_t)i * 65536, 65536,
					   (uint64_t)i);
			}
		}
		hc_submit(&c);
	}
	raise(SIGKILL);
	return 4;
}

HTEST(h11_killed_clients_leak_nothing)
{
	struct rt_admin_stats base, now;
	struct victim v;
	struct hc full[HS_HOSTILE_SESSIONS], extra;
	int fds0, maps0, i, st;
	unsigned int k, with_io = 0;

	vt_start(&g_d, &v);
	/* Let the victim settle into its one session first. */
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 1));
	base = admin();
	fds0 = hs_stable_fd_count(g_d.pid);
	maps0 = hs_count_maps(g_d.pid, "ringd-session", NULL);
	for (k = 0; k < 24; k++) {
		pid_t pid = rt_fork_as(RT_UID_A, RT_UID_A, dying_child, &g_d);

		if ((unsigned int)pid % DIE_NKINDS == DIE_WITH_IO)
			with_io++;
		st = rt_wait_child(pid);
		cr_assert_eq(st, 128 + SIGKILL, "dying child %u exited %d", k, st);
	}
	cr_log_info("h11: %u of 24 died with I/O in flight", with_io);
	/* Everything returns to the baseline once their kernel I/O completed. */
	cr_assert(rt_wait_for(10000, (now = admin()).sessions == base.sessions &&
					 now.buffers_registered == base.buffers_registered),
		  "sessions %u (base %u), buffers %u (base %u)", now.sessions, base.sessions,
		  now.buffers_registered, base.buffers_registered);
	cr_assert_eq(now.files_registered, base.files_registered);
	cr_assert(rt_wait_for(10000, rt_count_fds(g_d.pid) == fds0), "daemon fds %d, base %d",
		  rt_count_fds(g_d.pid), fds0);
	cr_assert(rt_wait_for(10000, hs_count_maps(g_d.pid, "ringd-session", NULL) == maps0));
	/* The tenant's session quota is whole again. */
	for (i = 0; i < (int)HS_HOSTILE_SESSIONS; i++)
		attach(&full[i], 8, 16, 64 << 10);
	cr_assert_eq(hc_attach(g_d.sock, 8, 16, 64 << 10, &extra), -EDQUOT);
	for (i = 0; i < (int)HS_HOSTILE_SESSIONS; i++)
		hc_detach(&full[i]);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H12 */

HTEST(h12_own_fds_and_memfd_resize_are_refused)
{
	char path[128];
	struct victim v;
	struct hc c;
	int fd, fds0, h;

	vt_start(&g_d, &v);
	snprintf(path, sizeof(path), "%s/passed-by-client", g_d.dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 1));
	fds0 = hs_stable_fd_count(g_d.pid);

	/* An fd with an ordinary request: the connection is dropped. */
	attach(&c, 16, 32, 256 << 10);
	{
		Ringd__Request rq = RINGD__REQUEST__INIT;
		Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;
		uint8_t buf[64];
		size_t len;

		rq.msg_case = RINGD__REQUEST__MSG_STATS;
		rq.stats = &sr;
		len = ringd__request__pack(&rq, buf);
		cr_assert_eq(hc_send_raw(c.sock, buf, len, &fd, 1), 0);
	}
	cr_assert_eq(hc_wait_eof(c.sock, 10000), 0, "connection not dropped");
	hc_detach(&c);
	cr_assert(rt_wait_for(5000, hs_count_fds_matching(g_d.pid, "passed-by-client") == 0),
		  "the daemon kept the client's fd");
	cr_assert(rt_wait_for(5000, rt_count_fds(g_d.pid) == fds0));

	/* Resizing the sealed memfd is refused; the daemon never SIGBUSes. */
	attach(&c, 16, 32, 256 << 10);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	cr_assert_eq(ftruncate(c.memfd, 4096), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(ftruncate(c.memfd, (off_t)c.region_size * 2), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(fallocate(c.memfd, 0, 0, (off_t)c.region_size * 2), -1);
	cr_assert_eq(fcntl(c.memfd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	cr_assert_eq(errno, EPERM);
	{
		struct ringd_sqe s = rw(RINGD_OP_READ, h, 0, 0, 4096);

		cr_assert_eq(one(&c, &s), 4096);
	}
	/* Punching holes is allowed by the seals: the pages come back as
	 * zeros, which only this tenant sees; the ring keeps working. */
	cr_assert_eq(
	    fallocate(c.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)c.region_size),
	    0);
	c.sq_tail = c.cq_head = 0;
	{
		struct ringd_sqe s = rw(RINGD_OP_READ, h, 0, 0, 4096);
		struct ringd_sqe *q = hc_sqe(&c);
		struct ringd_cqe cqe;

		memcpy(q, &s, sizeof(s));
		hc_submit(&c);
		/* Whatever the outcome for this tenant, the daemon must survive. */
		(void)hc_reap(&c, &cqe, 1, 500);
	}
	hc_detach(&c);
	close(fd);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H13 */

HTEST(h13_scm_rights_abuse_closes_every_fd)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello hello = RINGD__HELLO__INIT;
	const unsigned int counts[] = { 1, 3, 32, 33, 200 };
	uint8_t buf[64];
	size_t len;
	char path[128];
	struct victim v;
	int fds[256], fds0, sock;
	unsigned int i, k;

	vt_start(&g_d, &v);
	snprintf(path, sizeof(path), "%s/scm-target", g_d.dir);
	fds[0] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fds[0], 0);
	for (i = 1; i < 256; i++)
		fds[i] = fds[0];
	hello.abi_version = RINGD_ABI_VERSION;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &hello;
	len = ringd__request__pack(&rq, buf);
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 1));
	fds0 = hs_stable_fd_count(g_d.pid);
	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		/* With a Hello, with garbage, and with an empty payload. */
		for (i = 0; i < 3; i++) {
			sock = hc_sock(g_d.sock);
			cr_assert_geq(sock, 0);
			if (i == 0)
				cr_assert_eq(hc_send_raw(sock, buf, len, fds, counts[k]), 0);
			else if (i == 1)
				cr_assert_eq(hc_send_raw(sock, "\xff\xff\xff", 3, fds, counts[k]),
					     0);
			else
				cr_assert_eq(hc_send_raw(sock, "", 0, fds, counts[k]), 0);
			cr_assert_eq(hc_wait_eof(sock, 10000), 0,
				     "%u fds (case %u): connection not rejected", counts[k], i);
			close(sock);
		}
	}
	/* Fds passed after attaching, too. */
	{
		struct hc c;
		Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;
		uint8_t b2[64];
		size_t l2;

		attach(&c, 8, 16, 64 << 10);
		rq.msg_case = RINGD__REQUEST__MSG_STATS;
		rq.stats = &sr;
		l2 = ringd__request__pack(&rq, b2);
		cr_assert_eq(hc_send_raw(c.sock, b2, l2, fds, 40), 0);
		cr_assert_eq(hc_wait_eof(c.sock, 10000), 0);
		hc_detach(&c);
	}
	cr_assert(rt_wait_for(5000, hs_count_fds_matching(g_d.pid, "scm-target") == 0),
		  "the daemon holds %d of the passed fds",
		  hs_count_fds_matching(g_d.pid, "scm-target"));
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 1));
	cr_assert(rt_wait_for(5000, rt_count_fds(g_d.pid) == fds0), "daemon fds %d, base %d",
		  rt_count_fds(g_d.pid), fds0);
	close(fds[0]);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H14 */

/* Send @len bytes on a fresh connection: expect an Error reply with
 * @want (0: any) and/or EOF, never an Attached. */
static void expect_refused(const void *pkt, size_t len, int want, const char *what)
{
	int sock = hc_sock(g_d.sock);
	Ringd__Reply *r = NULL;
	int ret;

	cr_assert_geq(sock, 0);
	cr_assert_eq(hc_send_raw(sock, pkt, len, NULL, 0), 0, "%s: send", what);
	ret = hc_recv_reply(sock, 10000, &r, NULL, 0, NULL);
	cr_assert(ret == 0 || ret == -ECONNRESET, "%s: %s", what, strerror(-ret));
	if (r) {
		cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_ERROR, "%s: not refused", what);
		if (want)
			cr_assert_eq(r->error->errno_code, want, "%s: errno %d", what,
				     r->error->errno_code);
		cr_assert_lt(strlen(r->error->message), 512);
		ringd__reply__free_unpacked(r, NULL);
		cr_assert_eq(hc_wait_eof(sock, 10000), 0, "%s: connection kept", what);
	}
	close(sock);
}

HTEST(h14_malformed_protobuf_is_refused)
{
	static uint8_t big[5000];
	uint8_t hello[64], pkt[64];
	size_t hl;
	struct victim v;
	struct hc c;
	unsigned int i, seed = 14;

	vt_start(&g_d, &v);
	hl = hc_pack_hello(hello, 16, 32, 65536, false);
	/* Truncated: every strict prefix of a valid Hello. */
	for (i = 1; i < hl; i++)
		expect_refused(hello, i, 0, "truncated Hello");
	/* Oversized packet. */
	memset(big, 0x0a, sizeof(big));
	expect_refused(big, sizeof(big), EMSGSIZE, "oversized packet");
	/* Wrong wire type: field 1 (hello) as a varint. */
	expect_refused("\x08\x01", 2, EBADMSG, "hello as varint");
	/* Hello's abi_version as a length-delimited field. */
	expect_refused("\x0a\x03\x0a\x01\x01", 5, 0, "abi_version as bytes");
	/* Only unknown fields: no request in it. */
	expect_refused("\xf8\x06\x01", 3, EBADMSG, "unknown field only");
	/* A length prefix far beyond the packet ("huge repeated counts"). */
	expect_refused("\x0a\xff\xff\xff\xff\x07\x08\x01", 8, EBADMSG, "huge length");
	/* Sizes out of range. */
	pkt[0] = 0;
	expect_refused(pkt, hc_pack_hello(pkt, ~0u, 0, 0, false), EINVAL, "sq_entries 2^32-1");
	expect_refused(pkt, hc_pack_hello(pkt, 64, 16, 0, false), EINVAL, "cq below sq");
	expect_refused(pkt, hc_pack_hello(pkt, 16, 1u << 30, 0, false), EINVAL, "cq_entries huge");
	expect_refused(pkt, hc_pack_hello(pkt, 16, 0, ~0ull, false), ENOMEM, "data_size 2^64-1");
	expect_refused(pkt, hc_pack_hello(pkt, 16, 0, HS_HOSTILE_MEMORY + 4096, false), ENOMEM,
		       "data_size over max_session_memory");
	/* Random garbage. */
	for (i = 0; i < 64; i++) {
		uint8_t junk[256];
		size_t n = 1 + (size_t)rand_r(&seed) % sizeof(junk), j;

		for (j = 0; j < n; j++)
			junk[j] = (uint8_t)rand_r(&seed);
		junk[0] = 0x0a; /* a Hello that is almost never well-formed */
		{
			int sock = hc_sock(g_d.sock);
			Ringd__Reply *r = NULL;

			cr_assert_geq(sock, 0);
			hc_send_raw(sock, junk, n, NULL, 0);
			(void)hc_recv_reply(sock, 10000, &r, NULL, 0, NULL);
			if (r)
				ringd__reply__free_unpacked(r, NULL);
			close(sock);
		}
	}
	/* Unknown fields inside a valid Hello are ignored (proto2 rules). */
	{
		uint8_t h2[80];
		int sock;

		memcpy(h2, hello, hl);
		/* Append field 99 (varint) inside the Hello: patch its length. */
		cr_assert_eq(h2[0], 0x0a);
		memcpy(h2 + hl, "\x98\x06\x2a", 3);
		h2[1] = (uint8_t)(h2[1] + 3);
		sock = hc_sock(g_d.sock);
		cr_assert_geq(sock, 0);
		cr_assert_eq(hc_send_raw(sock, h2, hl + 3, NULL, 0), 0);
		{
			Ringd__Reply *r;
			int fds[2];
			unsigned int nf;

			cr_assert_eq(hc_recv_reply(sock, 10000, &r, fds, 2, &nf), 0);
			cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_ATTACHED);
			while (nf)
				close(fds[--nf]);
			ringd__reply__free_unpacked(r, NULL);
		}
		close(sock);
	}
	/* A garbage packet on an attached session ends it. */
	attach(&c, 8, 16, 64 << 10);
	{
		char name[3900];

		memset(name, 'x', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		cr_assert_eq(hc_open(&c, name, RINGD_RDONLY), -ENOENT);
		cr_assert_eq(hc_open(&c, "hostile", 7), -EINVAL);
	}
	cr_assert_eq(hc_send_raw(c.sock, "\x12\x02\x0a", 3, NULL, 0), 0);
	cr_assert_eq(hc_wait_eof(c.sock, 10000), 0);
	hc_detach(&c);
	/* The empty packet reads as end of connection. */
	expect_refused("", 0, 0, "empty packet");
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H19 */

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

HTEST(h19_published_bytes_are_defined)
{
	struct victim v;
	struct hc c;
	size_t rings;
	unsigned int i;
	int h;

	vt_start(&g_d, &v);
	/* A session leaves a pattern in its data area and goes. */
	attach(&c, 16, 32, 1 * HS_MB);
	memset(c.data, 0xd1, c.data_size);
	memset(c.sqes, 0xd2, 16 * sizeof(struct ringd_sqe));
	hc_detach(&c);
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 1));

	/* A fresh one sees only zeros and the documented header fields. */
	attach(&c, 16, 32, 1 * HS_MB);
	rings = (size_t)(c.data - (uint8_t *)c.base);
	cr_assert_eq(c.hdr->magic, RINGD_SHM_MAGIC);
	cr_assert_eq(c.hdr->abi_version, RINGD_ABI_VERSION);
	cr_assert_eq(c.hdr->sq_entries, 16);
	cr_assert_eq(c.hdr->cq_entries, 32);
	cr_assert_eq(c.hdr->region_size, c.region_size);
	cr_assert_eq(c.hdr->data_size, c.data_size);
	cr_assert_eq(c.hdr->broken_reason, 0);
	cr_assert(all_zero(c.hdr->resv0, sizeof(c.hdr->resv0)));
	cr_assert_eq(c.hdr->sq_tail, 0);
	cr_assert_eq(c.hdr->sq_head, 0);
	cr_assert_eq(c.hdr->sq_flags & ~RINGD_SQ_NEED_WAKEUP, 0);
	cr_assert_eq(c.hdr->cq_tail, 0);
	cr_assert_eq(c.hdr->cq_head, 0);
	cr_assert_eq(c.hdr->cq_flags, 0);
	cr_assert(all_zero(c.hdr->resv1, sizeof(c.hdr->resv1)));
	cr_assert(all_zero((uint8_t *)c.base + sizeof(struct ringd_shm_hdr),
			   rings - sizeof(struct ringd_shm_hdr)),
		  "ring memory is not zero at attach");
	cr_assert(all_zero(c.data, c.data_size), "the data area carries old bytes");

	/* CQEs of every path: flags zero, res and user_data as documented. */
	h = open_vol(&c, "hostile", RINGD_RDWR);
	for (i = 0; i < 4; i++) {
		struct ringd_sqe s = rw(RINGD_OP_READ, h, 0, 0, 4096);
		struct ringd_cqe *q;

		if (i == 1)
			s.opcode = 99;
		if (i == 2)
			s.handle = 77;
		if (i == 3)
			s.addr = c.data_size;
		s.user_data = 0x1900 + i;
		memcpy(hc_sqe(&c), &s, sizeof(s));
		hc_submit(&c);
		cr_assert(rt_wait_for(10000, ringd_load_acquire(&c.hdr->cq_tail) == i + 1));
		q = &c.cqes[i];
		cr_assert_eq(q->user_data, 0x1900 + i);
		cr_assert_eq(q->flags, 0);
		cr_assert_eq(q->res, i == 0   ? 4096
				     : i == 1 ? -EOPNOTSUPP
				     : i == 2 ? -EBADF
					      : -EFAULT);
	}
	cr_assert(all_zero(&c.cqes[4], 28 * sizeof(struct ringd_cqe)));
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H20 */

HTEST(h20_writes_after_disconnect_are_ignored)
{
	uint8_t *before = malloc(HS_HOSTILE_SIZE), *after = malloc(HS_HOSTILE_SIZE);
	struct victim v;
	struct hc c;
	uint32_t head, cqt;
	unsigned int i;
	int h;

	cr_assert(before && after);
	vt_start(&g_d, &v);
	attach(&c, 16, 32, 1 * HS_MB);
	h = open_vol(&c, "hostile", RINGD_RDWR);
	{
		struct ringd_sqe s = rw(RINGD_OP_WRITE, h, 0, 0, 4096);

		cr_assert_eq(one(&c, &s), 4096);
	}
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 2));
	/* Hang up, but keep the mapping and the doorbell. */
	close(c.sock);
	c.sock = -1;
	cr_assert(rt_wait_for(10000, hs_sessions_now(&g_d) == 1), "session not torn down");
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, before);
	head = ringd_load_acquire(&c.hdr->sq_head);
	cqt = ringd_load_acquire(&c.hdr->cq_tail);
	memset(c.data, 0xee, c.data_size);
	for (i = 0; i < 16; i++) {
		struct ringd_sqe *s = hc_sqe(&c);

		hc_prep_rw(s, RINGD_OP_WRITE, h, (uint64_t)i * 65536, 0, 65536, i);
	}
	hc_submit(&c);
	cr_assert_not(rt_wait_for(500, ringd_load_acquire(&c.hdr->sq_head) != head),
		      "SQEs consumed after teardown");
	cr_assert_eq(ringd_load_acquire(&c.hdr->cq_tail), cqt);
	read_extent("shared.img", HS_HOSTILE_OFF, HS_HOSTILE_SIZE, after);
	cr_assert_eq(memcmp(before, after, HS_HOSTILE_SIZE), 0, "a write landed after teardown");
	free(before);
	free(after);
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H21 */

HTEST(h21_quota_exhaustion_is_clean)
{
	struct hc s[HS_HOSTILE_SESSIONS], extra;
	struct victim v;
	uint64_t pinned;
	int roots[HS_DAEMON_SESSIONS + 4], nroots = 0, i, ret;

	vt_start(&g_d, &v);
	/* Regions too big for the tenant or for one fixed buffer. */
	cr_assert_eq(hc_attach(g_d.sock, 16, 32, 2ull << 30, &extra), -ENOMEM);
	cr_assert_eq(hc_attach(g_d.sock, 16, 32, HS_HOSTILE_MEMORY, &extra), -ENOMEM);
	cr_assert_eq(hc_attach(g_d.sock, 1u << 20, 0, 0, &extra), -EINVAL);

	/* As many sessions as the tenant may have, each as big as allowed. */
	for (i = 0; i < (int)HS_HOSTILE_SESSIONS; i++) {
		ret = hc_attach(g_d.sock, 16, 32, HS_HOSTILE_MEMORY - 64 * 1024, &s[i]);
		cr_assert_eq(ret, 0, "session %d: %s", i, strerror(-ret));
	}
	cr_assert_eq(hc_attach(g_d.sock, 16, 32, 64 << 10, &extra), -EDQUOT);
	/* Pinned memory within the budget: sessions x max_session_memory. */
	cr_assert_geq(hs_count_maps(g_d.pid, "ringd-session", &pinned), (int)HS_HOSTILE_SESSIONS);
	cr_assert_leq(pinned, (uint64_t)(HS_HOSTILE_SESSIONS + 2) * HS_HOSTILE_MEMORY,
		      "%llu bytes mapped", (unsigned long long)pinned);

	/* Volumes: max_open_volumes handles, then -EMFILE. */
	cr_assert_geq(hc_open(&s[0], "hostile", RINGD_RDWR), 0);
	cr_assert_geq(hc_open(&s[0], "hdirect", RINGD_RDWR), 0);
	cr_assert_eq(hc_open(&s[0], "hostile", RINGD_RDONLY), -EMFILE);
	cr_assert_eq(hc_open(&s[0], "nosuchvolume", RINGD_RDONLY), -ENOENT);

	/* The daemon-wide cap: connections (root, not a tenant) until refused. */
	for (nroots = 0; nroots < (int)HS_DAEMON_SESSIONS + 4; nroots++) {
		Ringd__Reply *r = NULL;

		roots[nroots] = hc_sock_as(g_d.sock, 0);
		cr_assert_geq(roots[nroots], 0);
		if (hc_recv_reply(roots[nroots], 200, &r, NULL, 0, NULL) == 0 && r) {
			cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_ERROR);
			cr_assert_eq(r->error->errno_code, EUSERS);
			ringd__reply__free_unpacked(r, NULL);
			cr_assert_eq(hc_wait_eof(roots[nroots], 5000), 0);
			nroots++;
			break;
		}
	}
	cr_assert_leq(nroots, (int)HS_DAEMON_SESSIONS, "the daemon-wide cap did not hold");
	for (i = 0; i < nroots; i++)
		close(roots[i]);
	for (i = 0; i < (int)HS_HOSTILE_SESSIONS; i++)
		hc_detach(&s[i]);
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 1));
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H22 */

static int stranger_child(void *arg)
{
	const char *sock = arg;
	uint8_t pkt[80];
	size_t len = hc_pack_hello(pkt, 8, 16, 65536, false);
	Ringd__Reply *r;
	int fd, ret;

	/* Claim uid 61001 in an extra field of the Hello: means nothing. */
	memcpy(pkt + len, "\x98\x06\xc9\xdc\x03", 5);
	pkt[1] = (uint8_t)(pkt[1] + 5);
	fd = hc_sock_as(sock, 0);
	if (fd < 0)
		return 1;
	/* The daemon refuses a stranger at accept, so the Hello may find the
	 * socket already shut: the Error reply is still there to read. */
	ret = hc_send_raw(fd, pkt, len + 5, NULL, 0);
	if (ret && ret != -EPIPE && ret != -ECONNRESET)
		return 2;
	/* The Error, or a reset if our Hello was still unread when the
	 * daemon hung up: either way no session. */
	ret = hc_recv_reply(fd, 10000, &r, NULL, 0, NULL);
	if (ret == -ECONNRESET)
		return 0;
	if (ret || r->msg_case != RINGD__REPLY__MSG_ERROR || r->error->errno_code != EACCES)
		return 3;
	ringd__reply__free_unpacked(r, NULL);
	return hc_wait_eof(fd, 10000) ? 4 : 0;
}

static int connect_and_pass(void *arg)
{
	int *sp = arg;
	int fd = hc_sock_as(((const char *)(sp + 2)), 0);

	if (fd < 0)
		return 1;
	return hc_send_raw(sp[1], "x", 1, &fd, 1) ? 2 : 0;
}

HTEST(h22_identity_comes_from_the_kernel)
{
	struct victim v;
	struct hc c;
	int st, ret;

	vt_start(&g_d, &v);
	/* A stranger is refused, whatever its Hello claims. */
	st = rt_wait_child(rt_fork_as(RT_UID_STRANGER, RT_UID_STRANGER, stranger_child, g_d.sock));
	cr_assert_eq(st, 0, "stranger child: %d", st);

	/* A socket connected by the victim and passed to root is the victim's:
	 * root using it is neither admin nor the hostile tenant. */
	{
		struct {
			int sp[2];
			char path[100];
		} a;
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr al;
		} cb;
		char x;
		struct iovec iov = { .iov_base = &x, .iov_len = 1 };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b) };
		int fd;

		cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, a.sp), 0);
		snprintf(a.path, sizeof(a.path), "%s", g_d.sock);
		st = rt_wait_child(rt_fork_as(RT_UID_B, RT_UID_B, connect_and_pass, &a));
		cr_assert_eq(st, 0);
		cr_assert_eq(recvmsg(a.sp[0], &m, 0), 1);
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
		close(a.sp[0]);
		close(a.sp[1]);
		/* Admin needs uid 0 at connect time. */
		{
			Ringd__Request rq = RINGD__REQUEST__INIT;
			Ringd__Hello h = RINGD__HELLO__INIT;
			Ringd__Reply *r;

			h.abi_version = RINGD_ABI_VERSION;
			h.has_admin = h.admin = 1;
			rq.msg_case = RINGD__REQUEST__MSG_HELLO;
			rq.hello = &h;
			cr_assert_eq(hc_send_req(fd, &rq), 0);
			cr_assert_eq(hc_recv_reply(fd, 10000, &r, NULL, 0, NULL), 0);
			cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_ERROR);
			cr_assert_eq(r->error->errno_code, EPERM);
			ringd__reply__free_unpacked(r, NULL);
			cr_assert_eq(hc_wait_eof(fd, 10000), 0);
			close(fd);
		}
	}
	/* A hostile session cannot reach the victim's volume by name. */
	attach(&c, 8, 16, 64 << 10);
	ret = hc_open(&c, "victim", RINGD_RDWR);
	cr_assert_eq(ret, -EACCES);
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H23 */

HTEST(h23_blocking_fds_and_unread_replies_do_not_block_daemon)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;
	struct ringd_cqe cqes[32];
	uint8_t pkt[16];
	size_t len;
	struct victim v;
	struct hc c;
	unsigned int i, sent = 0, doorbells = 0;
	int fl;

	vt_start(&g_d, &v);
	attach(&c, 16, 32, 256 << 10);
	/* Blocking mode on every fd we share with the daemon. */
	fl = fcntl(c.sock, F_GETFL);
	cr_assert_eq(fcntl(c.sock, F_SETFL, fl & ~O_NONBLOCK), 0);
	fl = fcntl(c.wake_fd, F_GETFL);
	cr_assert_eq(fcntl(c.wake_fd, F_SETFL, fl & ~O_NONBLOCK), 0);
	fl = fcntl(c.memfd, F_GETFL);
	cr_assert_eq(fcntl(c.memfd, F_SETFL, fl & ~O_NONBLOCK), 0);
	/* Ask for a notification on every completion, and never read them. */
	__atomic_store_n(&c.hdr->cq_flags, RINGD_CQ_EVENTFD | RINGD_CQ_WAITING, __ATOMIC_RELEASE);
	/* Saturate the doorbell socketpair from our side. */
	while (send(c.wake_fd, "d", 1, MSG_DONTWAIT) == 1 && doorbells < 100000)
		doorbells++;
	for (i = 0; i < 200; i++) {
		struct ringd_sqe *s;
		unsigned int k;

		for (k = 0; k < 16; k++) {
			s = hc_sqe(&c);
			s->opcode = RINGD_OP_NOP;
		}
		hc_submit(&c);
		if (hc_reap(&c, cqes, 16, 10000) != 16)
			break;
	}
	cr_assert_eq(i, 200, "the ring stopped after %u rounds", i);
	/* Flood requests and never read a reply. */
	rq.msg_case = RINGD__REQUEST__MSG_STATS;
	rq.stats = &sr;
	len = ringd__request__pack(&rq, pkt);
	for (i = 0; i < 200000; i++) {
		if (send(c.sock, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno != EAGAIN)
				break; /* the daemon hung up */
			usleep(1000);
			continue;
		}
		sent++;
	}
	cr_log_info("h23: %u doorbells queued, %u requests sent", doorbells, sent);
	/* The daemon could not deliver a reply at once: it dropped us. */
	cr_assert_eq(hc_wait_eof(c.sock, 20000), 0, "slow tenant was not disconnected");
	hc_detach(&c);
	vt_finish(&v);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H24 */

struct storm_arg {
	struct hc c;
	int h;
	unsigned int n;
	unsigned int bad;
};

/* Keep the SQ full of reads and NOPs, ring the doorbell on every pass,
 * and check that every user_data completes exactly once. */
static void *storm(void *p)
{
	struct storm_arg *a = p;
	struct hc *c = &a->c;
	uint8_t *seen = calloc(a->n, 1);
	struct ringd_cqe cqes[128];
	uint32_t next = 0, got = 0;

	while (got < a->n) {
		unsigned int n, i;

		while (next < a->n &&
		       c->sq_tail - ringd_load_acquire(&c->hdr->sq_head) < c->sq_entries) {
			struct ringd_sqe *s = hc_sqe(c);

			if (next & 1)
				hc_prep_rw(s, RINGD_OP_READ, a->h, (next % 512) * 4096ull,
					   (next % 64) * 4096ull, 4096, next);
			else {
				s->opcode = RINGD_OP_NOP;
				s->user_data = next;
			}
			next++;
		}
		hc_submit(c);
		hc_doorbell(c);
		n = hc_reap_some(c, cqes, 128, 20000);
		if (!n) {
			a->bad++;
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t u = cqes[i].user_data;

			if (u >= a->n || seen[u] || cqes[i].res != ((u & 1) ? 4096 : 0))
				a->bad++;
			else
				seen[u] = 1;
		}
		got += n;
	}
	free(seen);
	return NULL;
}

HTEST(h24_daemon_ring_floods_lose_no_completion)
{
	struct storm_arg *sa = calloc(HS_FLOOD_SESSIONS, sizeof(*sa));
	pthread_t th[HS_FLOOD_SESSIONS];
	struct victim v;
	unsigned int i;

	cr_assert_not_null(sa);
	vt_start(&g_d, &v);
	/* 16 sessions x 256 = twice the daemon's request pool in the SQs. */
	for (i = 0; i < HS_FLOOD_SESSIONS; i++) {
		int fd = hc_sock_as(g_d.sock, HS_UID_FLOOD), ret;

		cr_assert_geq(fd, 0);
		ret = hc_attach_fd(fd, 256, 512, 1 * HS_MB, &sa[i].c);
		cr_assert_eq(ret, 0, "flood session %u: %s", i, strerror(-ret));
		sa[i].h = open_vol(&sa[i].c, "hostile", RINGD_RDONLY);
		sa[i].n = 4000;
	}
	for (i = 0; i < HS_FLOOD_SESSIONS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, storm, &sa[i]), 0);
	for (i = 0; i < HS_FLOOD_SESSIONS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(sa[i].bad, 0, "session %u: %u lost, duplicated or failed completions",
			     i, sa[i].bad);
		hc_detach(&sa[i].c);
	}
	free(sa);
	vt_finish(&v);
	hs_finish(&g_d);
}

/*
 * Most tests here time a victim tenant's I/O next to an attack: one at a
 * time, so that the attack next door is never another test's.
 */
int main(int argc, char *argv[])
{
	return rt_main_one_at_a_time(argc, argv);
}
