/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "pathops.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

void po_open(struct po *o, const struct rt_daemon *d, const char *vol)
{
	int ret;

	memset(o, 0, sizeof(*o));
	o->vol = vol;
	ret = rt_connect(d, 32, 64, 4u << 20, &o->rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	o->h = ringd_open(o->rd, vol, RINGD_RDWR, &o->info);
	cr_assert_geq(o->h, 0, "open %s: %s", vol, strerror(-o->h));
	o->unit = o->info.align > 512 ? o->info.align : 512;
	if (o->info.block_size > o->unit)
		o->unit = o->info.block_size;
	cr_assert_leq(o->unit, 4096u, "volume %s: unit %u", vol, o->unit);
	o->buf = ringd_buf_alloc(o->rd, PO_CHUNK, 4096);
	o->buf2 = ringd_buf_alloc(o->rd, PO_CHUNK, 4096);
	cr_assert(o->buf && o->buf2);
}

void po_close(struct po *o, enum po_path path)
{
	uint64_t want_i = 0, want_p = 0, want_pt = 0, want_ptp = 0;
	uint64_t data = o->data, other = o->other;
	struct ringd_stats st;
	int ret;

	switch (path) {
	case PO_INTERRUPT:
		want_i = data + other;
		break;
	case PO_POLLED:
		want_p = data;
		want_i = other;
		break;
	case PO_PASSTHROUGH:
		want_pt = data + other;
		break;
	case PO_PASSTHROUGH_POLLED:
		want_ptp = data;
		want_pt = other;
		break;
	}
	ret = ringd_stats(o->rd, &st);
	cr_assert_eq(ret, 0, "stats: %s", strerror(-ret));
	printf("volume %s: completions interrupt %llu polled %llu passthrough %llu "
	       "passthrough_polled %llu errors %llu\n",
	       o->vol, (unsigned long long)st.completions_interrupt,
	       (unsigned long long)st.completions_polled,
	       (unsigned long long)st.completions_passthrough,
	       (unsigned long long)st.completions_passthrough_polled,
	       (unsigned long long)st.errors);
	fflush(stdout);
	cr_expect_eq(st.completions_interrupt, want_i, "%s: interrupt %llu, expected %llu", o->vol,
		     (unsigned long long)st.completions_interrupt, (unsigned long long)want_i);
	cr_expect_eq(st.completions_polled, want_p, "%s: polled %llu, expected %llu", o->vol,
		     (unsigned long long)st.completions_polled, (unsigned long long)want_p);
	cr_expect_eq(st.completions_passthrough, want_pt, "%s: passthrough %llu, expected %llu",
		     o->vol, (unsigned long long)st.completions_passthrough,
		     (unsigned long long)want_pt);
	cr_expect_eq(st.completions_passthrough_polled, want_ptp,
		     "%s: passthrough_polled %llu, expected %llu", o->vol,
		     (unsigned long long)st.completions_passthrough_polled,
		     (unsigned long long)want_ptp);
	cr_expect_eq(st.errors, o->errors, "%s: errors %llu, expected %llu", o->vol,
		     (unsigned long long)st.errors, (unsigned long long)o->errors);
	ringd_disconnect(o->rd);
	o->rd = NULL;
}

int po_run(struct po *o, struct ringd_sqe *sqe, uint64_t tag)
{
	struct ringd_cqe *cqe;
	int ret, res;

	ringd_sqe_set_data64(sqe, tag);
	ret = ringd_submit(o->rd);
	cr_assert_eq(ret, 1, "submit: %d", ret);
	/* Generous: TCG is slow, and a write-zeroes may be many commands. */
	ret = ringd_wait_cqe_timeout(o->rd, &cqe, 120000);
	cr_assert_eq(ret, 0, "%s: wait for request %llu: %s", o->vol, (unsigned long long)tag,
		     strerror(-ret));
	cr_assert_eq(cqe->user_data, tag, "completion for %llu, expected %llu",
		     (unsigned long long)cqe->user_data, (unsigned long long)tag);
	res = cqe->res;
	ringd_cqe_seen(o->rd, cqe);
	return res;
}

static struct ringd_sqe *po_sqe(struct po *o)
{
	struct ringd_sqe *sqe = ringd_get_sqe(o->rd);

	cr_assert_not_null(sqe, "SQ full");
	return sqe;
}

void po_fill(struct po *o, uint64_t off, uint32_t len, uint64_t seed)
{
	struct ringd_sqe *sqe = po_sqe(o);
	int ret;

	cr_assert_leq(len, PO_CHUNK);
	rt_fill(o->buf, len, seed, off);
	ringd_prep_write(sqe, o->h, o->buf, len, off);
	ret = po_run(o, sqe, 1);
	o->data++;
	cr_assert_eq(ret, (int)len, "%s: write of %u at %llu: %d", o->vol, len,
		     (unsigned long long)off, ret);
}

void po_expect(struct po *o, uint64_t off, uint32_t len, uint64_t seed, bool zero, const char *what)
{
	struct ringd_sqe *sqe = po_sqe(o);
	uint32_t i;
	int ret;

	cr_assert_leq(len, PO_CHUNK);
	memset(o->buf2, 0xee, len);
	ringd_prep_read(sqe, o->h, o->buf2, len, off);
	ret = po_run(o, sqe, 2);
	o->data++;
	cr_assert_eq(ret, (int)len, "%s: read of %u at %llu: %d", o->vol, len,
		     (unsigned long long)off, ret);
	if (zero) {
		for (i = 0; i < len && !o->buf2[i]; i++)
			;
		cr_assert_eq(i, len, "%s: %s: byte %llu is 0x%02x, not zero", o->vol, what,
			     (unsigned long long)(off + i), i < len ? o->buf2[i] : 0);
	} else {
		long bad = rt_check(o->buf2, len, seed, off);

		cr_assert_eq(bad, -1, "%s: %s: byte %llu differs from the pattern", o->vol, what,
			     (unsigned long long)(off + (uint64_t)bad));
	}
}

void po_vectored(struct po *o, uint64_t off, uint64_t seed)
{
	struct iovec *iov = ringd_buf_alloc(o->rd, 4 * sizeof(*iov), 64);
	struct ringd_sqe *sqe;
	unsigned int i;
	int ret;

	cr_assert_not_null(iov);
	/* writev of four pieces, out of order in memory, reads back with one read. */
	rt_fill(o->buf, 4 * 4096, seed, off);
	for (i = 0; i < 4; i++) {
		memcpy(o->buf2 + (3 - i) * 4096, o->buf + i * 4096, 4096);
		iov[i].iov_base = o->buf2 + (3 - i) * 4096;
		iov[i].iov_len = 4096;
	}
	sqe = po_sqe(o);
	ringd_prep_writev(sqe, o->h, iov, 4, off);
	ret = po_run(o, sqe, 3);
	o->data++;
	cr_assert_eq(ret, 4 * 4096, "%s: writev: %d", o->vol, ret);
	po_expect(o, off, 4 * 4096, seed, false, "writev read back with read");
	/* A write reads back with readv (pieces out of order in memory). */
	off += 32768;
	po_fill(o, off, 4 * 4096, seed + 1);
	memset(o->buf2, 0, 4 * 4096);
	for (i = 0; i < 4; i++) {
		iov[i].iov_base = o->buf2 + (3 - i) * 4096;
		iov[i].iov_len = 4096;
	}
	sqe = po_sqe(o);
	ringd_prep_readv(sqe, o->h, iov, 4, off);
	ret = po_run(o, sqe, 4);
	o->data++;
	cr_assert_eq(ret, 4 * 4096, "%s: readv: %d", o->vol, ret);
	for (i = 0; i < 4; i++)
		cr_assert_eq(memcmp(o->buf2 + (3 - i) * 4096, o->buf + i * 4096, 4096), 0,
			     "%s: readv piece %u differs from what write wrote", o->vol, i);
	ringd_buf_free(o->rd, iov);
}

void po_dsync(struct po *o, uint64_t off, uint64_t seed)
{
	struct iovec *iov = ringd_buf_alloc(o->rd, 2 * sizeof(*iov), 64);
	struct ringd_sqe *sqe;
	int ret;

	cr_assert_not_null(iov);
	rt_fill(o->buf, 8192, seed, off);
	sqe = po_sqe(o);
	ringd_prep_write(sqe, o->h, o->buf, 8192, off);
	ringd_sqe_set_rw_flags(sqe, RINGD_RW_DSYNC);
	ret = po_run(o, sqe, 5);
	o->data++;
	cr_assert_eq(ret, 8192, "%s: DSYNC write: %d", o->vol, ret);
	po_expect(o, off, 8192, seed, false, "DSYNC write read back");
	off += 16384;
	rt_fill(o->buf, 8192, seed, off);
	iov[0].iov_base = o->buf;
	iov[0].iov_len = 4096;
	iov[1].iov_base = o->buf + 4096;
	iov[1].iov_len = 4096;
	sqe = po_sqe(o);
	ringd_prep_writev(sqe, o->h, iov, 2, off);
	ringd_sqe_set_rw_flags(sqe, RINGD_RW_DSYNC);
	ret = po_run(o, sqe, 6);
	o->data++;
	cr_assert_eq(ret, 8192, "%s: DSYNC writev: %d", o->vol, ret);
	po_expect(o, off, 8192, seed, false, "DSYNC writev read back");
	ringd_buf_free(o->rd, iov);
}

/* Spots of a zeroed or discarded range: a 4 KiB pattern at each. */
struct po_spots {
	uint64_t off[128];
	unsigned int n;
};

static void po_spot(struct po_spots *s, uint64_t off, uint64_t lo, uint64_t hi)
{
	unsigned int i;

	if (off < lo || off + 4096 > hi)
		return;
	for (i = 0; i < s->n; i++)
		if (s->off[i] == off)
			return;
	cr_assert_lt(s->n, 128u, "too many spots");
	s->off[s->n++] = off;
}

static void po_inside_spots(struct po_spots *s, uint64_t off, uint64_t len, uint64_t split)
{
	uint64_t x;

	s->n = 0;
	po_spot(s, off, off, off + len);
	po_spot(s, off + len - 4096, off, off + len);
	for (x = (off + (1u << 20)) & ~((1ull << 20) - 1); x < off + len; x += 1u << 20)
		po_spot(s, x, off, off + len);
	if (split)
		for (x = off + split; x < off + len; x += split) {
			po_spot(s, x - 4096, off, off + len);
			po_spot(s, x, off, off + len);
		}
}

/* Pattern in the unit just before and just after [off, off + len). */
static void po_fill_neighbours(struct po *o, uint64_t off, uint64_t len, uint64_t seed)
{
	po_fill(o, off - o->unit, o->unit, seed);
	po_fill(o, off + len, o->unit, seed);
}

static void po_expect_neighbours(struct po *o, uint64_t off, uint64_t len, uint64_t seed)
{
	po_expect(o, off - o->unit, o->unit, seed, false, "the unit before the range");
	po_expect(o, off + len, o->unit, seed, false, "the unit after the range");
}

void po_write_zeroes(struct po *o, uint64_t off, uint64_t len, uint64_t split_bytes, uint64_t seed)
{
	struct po_spots s;
	struct ringd_sqe *sqe;
	unsigned int i;
	char what[96];
	int ret;

	cr_assert(off >= 4096 && !(off % 4096) && !(len % 4096) && len);
	cr_assert_leq(off + len + o->unit, o->info.size, "%s too small", o->vol);
	po_inside_spots(&s, off, len, split_bytes);
	for (i = 0; i < s.n; i++)
		po_fill(o, s.off[i], 4096, seed);
	po_fill_neighbours(o, off, len, seed);
	sqe = po_sqe(o);
	ringd_prep_write_zeroes(sqe, o->h, off, len);
	ret = po_run(o, sqe, 7);
	o->other++;
	cr_assert_eq(ret, 0, "%s: write-zeroes of %llu at %llu: %d (%s)", o->vol,
		     (unsigned long long)len, (unsigned long long)off, ret,
		     ret < 0 ? strerror(-ret) : "");
	for (i = 0; i < s.n; i++) {
		snprintf(what, sizeof(what), "zeroed spot at +%llu of %llu",
			 (unsigned long long)(s.off[i] - off), (unsigned long long)len);
		po_expect(o, s.off[i], 4096, seed, true, what);
	}
	po_expect_neighbours(o, off, len, seed);
}

void po_discard(struct po *o, uint64_t off, uint64_t len, uint64_t seed)
{
	struct po_spots s;
	struct ringd_sqe *sqe;
	unsigned int i;
	int ret;

	cr_assert(off >= 4096 && !(off % 4096) && !(len % 4096) && len);
	cr_assert_leq(off + len + o->unit, o->info.size, "%s too small", o->vol);
	po_inside_spots(&s, off, len, 0);
	for (i = 0; i < s.n; i++)
		po_fill(o, s.off[i], 4096, seed);
	po_fill_neighbours(o, off, len, seed);
	sqe = po_sqe(o);
	ringd_prep_discard(sqe, o->h, off, len);
	ret = po_run(o, sqe, 8);
	o->other++;
	cr_assert_eq(ret, 0, "%s: discard of %llu at %llu: %d (%s)", o->vol,
		     (unsigned long long)len, (unsigned long long)off, ret,
		     ret < 0 ? strerror(-ret) : "");
	/* Inside: undefined. Outside: untouched. */
	po_expect_neighbours(o, off, len, seed);
}

void po_misaligned(struct po *o, uint64_t off)
{
	static const struct {
		uint64_t off, len;
	} cases[] = { { 1, 0 }, { 0, 1 } }; /* half a unit on the offset, on the length */
	struct ringd_sqe *sqe;
	unsigned int i, op;
	int ret;

	for (i = 0; i < 2; i++)
		for (op = 0; op < 2; op++) {
			uint64_t x = off + cases[i].off * (o->unit / 2);
			uint64_t len = 4 * (uint64_t)o->unit + cases[i].len * (o->unit / 2);

			sqe = po_sqe(o);
			if (op)
				ringd_prep_discard(sqe, o->h, x, len);
			else
				ringd_prep_write_zeroes(sqe, o->h, x, len);
			ret = po_run(o, sqe, 9);
			o->errors++;
			cr_assert_eq(ret, -EINVAL,
				     "%s: %s at %llu length %llu (unit %u): %d, expected -EINVAL",
				     o->vol, op ? "discard" : "write-zeroes", (unsigned long long)x,
				     (unsigned long long)len, o->unit, ret);
		}
}

void po_chain(struct po *o, uint64_t off, uint64_t seed)
{
	struct ringd_cqe *cqe;
	struct ringd_sqe *sqe;
	uint64_t order[3];
	int res[3];
	unsigned int i;
	int ret;

	rt_fill(o->buf, 4096, seed, off);
	memset(o->buf2, 0, 4096);
	sqe = po_sqe(o);
	ringd_prep_write(sqe, o->h, o->buf, 4096, off);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 0);
	sqe = po_sqe(o);
	ringd_prep_fsync(sqe, o->h, RINGD_FSYNC_DATASYNC);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 1);
	sqe = po_sqe(o);
	ringd_prep_read(sqe, o->h, o->buf2, 4096, off);
	ringd_sqe_set_data64(sqe, 2);
	ret = ringd_submit(o->rd);
	cr_assert_eq(ret, 3, "submit: %d", ret);
	for (i = 0; i < 3; i++) {
		ret = ringd_wait_cqe_timeout(o->rd, &cqe, 120000);
		cr_assert_eq(ret, 0, "%s: chain completion %u: %s", o->vol, i, strerror(-ret));
		cr_assert_lt(cqe->user_data, 3u);
		res[cqe->user_data] = cqe->res;
		order[i] = cqe->user_data;
		ringd_cqe_seen(o->rd, cqe);
	}
	o->data += 2;
	o->other++;
	cr_assert_eq(res[0], 4096, "%s: chained write: %d", o->vol, res[0]);
	cr_assert_eq(res[1], 0, "%s: chained fsync: %d", o->vol, res[1]);
	cr_assert_eq(res[2], 4096, "%s: chained read: %d", o->vol, res[2]);
	for (i = 0; i < 3; i++)
		cr_assert_eq(order[i], i, "%s: completion %u was request %llu", o->vol, i,
			     (unsigned long long)order[i]);
	cr_assert_eq(memcmp(o->buf, o->buf2, 4096), 0, "%s: the read did not see the write",
		     o->vol);
}

void po_cancel(struct po *o, enum po_path path, uint64_t off)
{
	struct ringd_cqe *cqe;
	struct ringd_sqe *sqe;
	int res[2], ret;
	unsigned int i;

	sqe = po_sqe(o);
	ringd_prep_cancel64(sqe, 0x7777, 0);
	ret = po_run(o, sqe, 9);
	cr_assert_eq(ret, -ENOENT, "%s: cancel of nothing: %d", o->vol, ret);
	o->errors++;
	/* The read is issued before the cancel is taken, in the same pass. */
	sqe = po_sqe(o);
	ringd_prep_read(sqe, o->h, o->buf2, 4096, off);
	ringd_sqe_set_data64(sqe, 0);
	sqe = po_sqe(o);
	ringd_prep_cancel64(sqe, 0, 0);
	ringd_sqe_set_data64(sqe, 1);
	ret = ringd_submit(o->rd);
	cr_assert_eq(ret, 2, "submit: %d", ret);
	for (i = 0; i < 2; i++) {
		ret = ringd_wait_cqe_timeout(o->rd, &cqe, 120000);
		cr_assert_eq(ret, 0, "%s: cancel completion %u: %s", o->vol, i, strerror(-ret));
		cr_assert_lt(cqe->user_data, 2u);
		res[cqe->user_data] = cqe->res;
		ringd_cqe_seen(o->rd, cqe);
	}
	o->data++;
	/* Only the main ring (the interrupt block path) asks the kernel. */
	if (path == PO_INTERRUPT)
		o->other++;
	if (res[1] == 0 && path == PO_INTERRUPT) {
		cr_assert_eq(res[0], -ECANCELED, "%s: cancelled read: %d", o->vol, res[0]);
		o->errors++;
	} else {
		cr_assert_eq(res[1], -EALREADY, "%s: cancel of an issued read: %d", o->vol, res[1]);
		cr_assert_eq(res[0], 4096, "%s: read after -EALREADY: %d", o->vol, res[0]);
		o->errors++;
	}
	printf("volume %s: cancel of an issued read: %s\n", o->vol,
	       res[1] ? "-EALREADY" : "cancelled");
}

void po_media_error(struct po *o, uint64_t bad, uint64_t good, uint64_t seed)
{
	struct iovec *iov = ringd_buf_alloc(o->rd, sizeof(*iov), 64);
	struct ringd_cqe *cqe;
	struct ringd_sqe *sqe;
	uint64_t at = bad & ~4095ull;
	int res[2] = { 1, 1 };
	unsigned int i;
	int ret;

	cr_assert_not_null(iov);
	sqe = po_sqe(o);
	ringd_prep_read(sqe, o->h, o->buf, 4096, at);
	ret = po_run(o, sqe, 10);
	o->data++;
	o->errors++;
	cr_assert_eq(ret, -EIO, "%s: read over the bad unit at %llu: %d (%s), expected -EIO",
		     o->vol, (unsigned long long)bad, ret, ret < 0 ? strerror(-ret) : "");
	iov->iov_base = o->buf;
	iov->iov_len = 8192;
	sqe = po_sqe(o);
	ringd_prep_readv(sqe, o->h, iov, 1, at);
	ret = po_run(o, sqe, 11);
	o->data++;
	o->errors++;
	cr_assert_eq(ret, -EIO, "%s: readv over the bad unit: %d (%s), expected -EIO", o->vol, ret,
		     ret < 0 ? strerror(-ret) : "");
	rt_fill(o->buf, 4096, seed, at);
	sqe = po_sqe(o);
	ringd_prep_write(sqe, o->h, o->buf, 4096, at);
	ret = po_run(o, sqe, 12);
	o->data++;
	o->errors++;
	cr_assert_eq(ret, -EIO, "%s: write over the bad unit: %d (%s), expected -EIO", o->vol, ret,
		     ret < 0 ? strerror(-ret) : "");
	/* The failing write ends its chain: the linked write is never issued. */
	po_fill(o, good, 4096, seed);
	sqe = po_sqe(o);
	ringd_prep_write(sqe, o->h, o->buf, 4096, at);
	ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
	ringd_sqe_set_data64(sqe, 0);
	memset(o->buf2, 0x3c, 4096);
	sqe = po_sqe(o);
	ringd_prep_write(sqe, o->h, o->buf2, 4096, good);
	ringd_sqe_set_data64(sqe, 1);
	ret = ringd_submit(o->rd);
	cr_assert_eq(ret, 2, "submit: %d", ret);
	for (i = 0; i < 2; i++) {
		ret = ringd_wait_cqe_timeout(o->rd, &cqe, 120000);
		cr_assert_eq(ret, 0, "%s: chain completion %u: %s", o->vol, i, strerror(-ret));
		cr_assert_lt(cqe->user_data, 2u);
		res[cqe->user_data] = cqe->res;
		ringd_cqe_seen(o->rd, cqe);
	}
	o->data++;	/* the failed write, on the path */
	o->errors += 2; /* ... and the cancelled one, on none */
	cr_assert_eq(res[0], -EIO, "%s: chained write over the bad unit: %d", o->vol, res[0]);
	cr_assert_eq(res[1], -ECANCELED, "%s: write linked after it: %d", o->vol, res[1]);
	po_expect(o, good, 4096, seed, false, "the write cancelled by the chain did not land");
	ringd_buf_free(o->rd, iov);
}
