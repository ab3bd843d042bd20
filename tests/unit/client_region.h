/* SPDX-License-Identifier: MIT */
/*
 * A session region laid out as the daemon lays it out, in a sealed-size
 * memfd, for the client-lib unit tests (no daemon). Header only: it uses
 * the ring layer's struct rg_layout, and links nothing. Include it after
 * defining _GNU_SOURCE (memfd_create).
 */
#ifndef RINGD_TEST_CLIENT_REGION_H
#define RINGD_TEST_CLIENT_REGION_H

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring.h"

struct test_region {
	int memfd;
	void *base;
	struct ringd_shm_hdr *hdr;
	struct rg_layout l;
};

static inline uint64_t test_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* The daemon's layout (daemon/session.c) for @sq, @cq entries and @data bytes. */
static inline void test_layout(uint32_t sq, uint32_t cq, uint64_t data, struct rg_layout *l)
{
	l->sq_entries = sq;
	l->cq_entries = cq;
	l->sq_array_off = sizeof(struct ringd_shm_hdr);
	l->sqes_off = test_align_up(l->sq_array_off + 4ull * sq, RINGD_CACHELINE);
	l->cqes_off = test_align_up(l->sqes_off + sizeof(struct ringd_sqe) * sq, RINGD_CACHELINE);
	l->data_off = test_align_up(l->cqes_off + sizeof(struct ringd_cqe) * cq, 4096);
	l->data_size = data;
	l->region_size = l->data_off + data;
}

/*
 * Create a region laid out as @l, its header filled as the daemon fills it
 * and every index starting at @first (free-running: pick one near 2^32 to
 * cross the wrap). Returns 0 or -errno.
 */
static inline int test_region_create(const struct rg_layout *l, uint32_t first,
				     struct test_region *out)
{
	int fd = memfd_create("ringd-test-region", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)l->region_size) < 0) {
		close(fd);
		return -errno;
	}
	p = mmap(NULL, l->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	out->memfd = fd;
	out->base = p;
	out->hdr = p;
	out->l = *l;
	out->hdr->magic = RINGD_SHM_MAGIC;
	out->hdr->abi_version = RINGD_ABI_VERSION;
	out->hdr->sq_entries = l->sq_entries;
	out->hdr->cq_entries = l->cq_entries;
	out->hdr->region_size = l->region_size;
	out->hdr->data_off = l->data_off;
	out->hdr->data_size = l->data_size;
	out->hdr->sq_tail = out->hdr->sq_head = first;
	out->hdr->cq_tail = out->hdr->cq_head = first;
	return 0;
}

static inline void test_region_destroy(struct test_region *r)
{
	munmap(r->base, r->l.region_size);
	close(r->memfd);
}

static inline struct ringd_sqe *test_region_sqes(const struct test_region *r)
{
	return (struct ringd_sqe *)((char *)r->base + r->l.sqes_off);
}

static inline uint32_t *test_region_sq_array(const struct test_region *r)
{
	return (uint32_t *)((char *)r->base + r->l.sq_array_off);
}

static inline uint8_t *test_region_data(const struct test_region *r)
{
	return (uint8_t *)r->base + r->l.data_off;
}

/* Play the daemon: take every published SQE (SQ head = tail). Returns how many. */
static inline uint32_t test_region_consume(struct test_region *r)
{
	uint32_t tail = ringd_load_acquire(&r->hdr->sq_tail), n = tail - r->hdr->sq_head;

	ringd_store_release(&r->hdr->sq_head, tail);
	return n;
}

/* Play the daemon: post a CQE carrying @tag. */
static inline void test_region_post(struct test_region *r, uint64_t tag, int32_t res)
{
	struct ringd_cqe *cqes = (struct ringd_cqe *)((char *)r->base + r->l.cqes_off);
	uint32_t t = r->hdr->cq_tail;

	cqes[t & (r->l.cq_entries - 1)].user_data = tag;
	cqes[t & (r->l.cq_entries - 1)].res = res;
	cqes[t & (r->l.cq_entries - 1)].flags = 0;
	ringd_store_release(&r->hdr->cq_tail, t + 1);
}

#endif
