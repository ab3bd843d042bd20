/* SPDX-License-Identifier: MIT */
/*
 * rq_: the request pool. A request is one accepted client SQE on its way
 * through the kernel; its slot index is the tag of its kernel SQE and its
 * journal record. Slots are handed out from a free list.
 */
#ifndef RINGD_DAEMON_REQS_H
#define RINGD_DAEMON_REQS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ringd_abi.h"

/* Which kernel path carried a request (and which counter it bumps). */
enum req_path {
	PATH_INTR = 0,	  /* main ring: interrupt-driven block/file I/O */
	PATH_POLL = 1,	  /* IOPOLL ring: polled block I/O */
	PATH_PT = 2,	  /* passthrough ring: NVMe URING_CMD, interrupts */
	PATH_PT_POLL = 3, /* IOPOLL ring: NVMe URING_CMD, polled */
};

#define RQ_NONE UINT32_MAX /* no request */

struct req {
	uint64_t user_data; /* the client's, echoed in its CQE */
	uint32_t sess;	    /* session slot */
	uint32_t vol;	    /* volume index (ops other than NOP) */
	uint32_t len;
	uint8_t op;
	uint8_t path;  /* enum req_path */
	uint8_t ring;  /* enum rg_which it was issued on */
	uint8_t stage; /* 1 once a WRITE_ZEROES on a file fell back to punching, or
			* a DISCARD on a block device to a punch without NO_HIDE_STALE */
	bool busy;
	bool has_vol;		       /* counted in the volume's in-flight */
	bool rejected;		       /* refused by the validator (not an op in the figures) */
	bool accounted;		       /* counted in its session's in-flight and CQ reservation */
	bool issued;		       /* handed to the kernel */
	bool link;		       /* RINGD_SQE_LINK */
	bool held;		       /* waits for link_prev to complete */
	bool blocking;		       /* counted as holding a kernel worker (iss_blocks) */
	bool copies;		       /* counted as read through the page cache (iss_copies) */
	bool on_worker;		       /* queued IOSQE_ASYNC (iss_on_worker, once) */
	uint32_t link_prev, link_next; /* its chain neighbours, or RQ_NONE */
	uint64_t t0_ns; /* consumed at (the pass's clock); 0: not timed (recovered) */
	uint32_t next_free;
	uint32_t gen; /* times the slot was handed out (part of its kernel tag) */
	/* Last: only discard and write-zeroes touch the second cache line. */
	uint64_t part_off, part_left; /* NVMe write-zeroes/discard: the rest to issue */
};

struct reqs {
	struct req *r;
	struct iovec (*iov)[RINGD_MAX_VECS]; /* per request: its kernel iovecs, or
					      * NVMe dataset-management ranges */
	uint32_t n;
	uint32_t free; /* head of the free list; n = none free */
	uint32_t inflight;
};

/* A pool of @n free requests. Returns 0 or -ENOMEM. */
int rq_init(struct reqs *q, uint32_t n);
void rq_fini(struct reqs *q);

/* A free slot, marked busy, or q->n if there is none. */
uint32_t rq_get(struct reqs *q);

/* Give slot @idx back. */
void rq_put(struct reqs *q, uint32_t idx);

/* The busy request in slot @idx, or NULL (bad or free slot). */
struct req *rq_busy(struct reqs *q, uint32_t idx);

/* True when no slot is free. */
static inline bool rq_exhausted(const struct reqs *q)
{
	return q->free == q->n;
}

/* Recovery: mark slot @idx busy (outside the free list) ... */
struct req *rq_claim(struct reqs *q, uint32_t idx);
/* ... then rebuild the free list from every slot not claimed. */
void rq_rebuild(struct reqs *q);

#endif
