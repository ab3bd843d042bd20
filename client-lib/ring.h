/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 0: the client side of one SQ/CQ ring pair in shared
 * memory (see ring.c). Sees the ring ABI only, never the control protocol.
 */
#ifndef RINGD_CLIENT_RING_H
#define RINGD_CLIENT_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringd_abi.h"

#define RG_MAX_HANDLES 64
#define RG_NAME_MAX    64

/* A submitted request the library tracks until its completion is reaped:
 * its tag in the ring is the index of this entry, never user data. */
struct rg_req {
	struct ringd_sqe sqe; /* as submitted: user's user_data and handle */
	uint64_t seq;	      /* submission order, for resubmission */
	uint32_t next_free;
	bool busy;
};

/* A volume handle as the application sees it. The control layer fills it;
 * the ring translates it to the daemon's handle at submit. */
struct rg_handle {
	char name[RG_NAME_MAX];
	char *path; /* a file of a directory volume (malloc'd), or NULL */
	int flags;
	int dh; /* the daemon's handle in the current session */
	bool open;
};

/* Where each part of a session region lies (from the daemon's Attached
 * reply, checked by the control layer before it is used). */
struct rg_layout {
	uint32_t sq_entries, cq_entries;
	uint64_t sq_array_off, sqes_off, cqes_off, data_off, data_size, region_size;
};

struct rg_ring {
	struct ringd_shm_hdr *hdr;
	uint32_t *sq_array;
	struct ringd_sqe *sqes;
	struct ringd_cqe *cqes;
	uint8_t *data;
	size_t data_size;
	uint32_t sq_entries, cq_entries;
	uint32_t sq_tail;	/* SQEs handed out by rg_get_sqe() */
	uint32_t sq_published;	/* SQ tail last stored in shared memory */
	uint32_t sq_head_cache; /* daemon's SQ head when last loaded */
	uint32_t cq_head;	/* next CQE to reap */
	uint32_t cq_xlated;	/* CQEs before this index have their user_data restored */
	int wake_fd;		/* doorbell (send) and notifications (recv) */
	unsigned int spin_us;
	uint32_t spin_typ_us;	   /* spin time without progress, on average (rg_wait) */
	unsigned int contended;	   /* waits left in yield-spin mode (see rg_wait) */
	unsigned int alone_yields; /* yields in a row that came straight back */
	bool dead;		   /* the daemon went away (seen here or by the control layer) */
	bool event_fd_mode;	   /* rg_event_fd() was called */

	struct rg_req *reqs; /* sq_entries + cq_entries */
	uint32_t nreqs, req_free, reqs_busy;
	uint64_t seq;
	struct rg_handle handles[RG_MAX_HANDLES];

	/* Completions saved across a reconnect, handed out before the ring's. */
	struct ringd_cqe *xcq;
	uint32_t xcq_cap, xcq_head, xcq_tail;
};

/* Point @r at the parts of the region mapped at @base, laid out as @l, and
 * adopt its indices. The region must have been checked against @l. */
void rg_map(struct rg_ring *r, void *base, const struct rg_layout *l);

/* Adopt the indices of the shared header (a new session starts where the
 * daemon says): SQ tail and head, CQ head. */
void rg_load_indices(struct rg_ring *r);

/* Allocate the request-tag table and the completion stash, sized by the
 * rings. Returns 0 or -ENOMEM. */
int rg_tables_init(struct rg_ring *r);
void rg_tables_fini(struct rg_ring *r);

/* 0 while the session is served; -ENOTCONN once the daemon went away,
 * -EPIPE once it broke the session. */
int rg_state(const struct rg_ring *r);

/* Why the daemon stopped serving the session (enum ringd_broken), or 0. */
unsigned int rg_broken_reason(const struct rg_ring *r);

/* The next free SQE, zeroed, or NULL when the SQ is full. */
struct ringd_sqe *rg_get_sqe(struct rg_ring *r);

/* Tag, translate and publish the SQEs handed out since the last submit,
 * then ring the doorbell if needed. Returns the number published, or
 * -EBUSY if the tag table is exhausted (bounded by SQ + CQ: cannot happen). */
int rg_submit(struct rg_ring *r);

/* Publish every SQE placed so far and ring the doorbell if needed. */
void rg_publish(struct rg_ring *r);

/* Put a copy of @sqe in the ring, unpublished. Returns 0 or -EBUSY (full). */
int rg_place(struct rg_ring *r, const struct ringd_sqe *sqe);

/* Put tracked request @slot in the ring again, with its tag and the daemon's
 * current handle, unpublished. Returns 0 or -EBUSY (full). */
int rg_requeue(struct rg_ring *r, uint32_t slot);

/* Copy the SQEs handed out but not submitted into a new array (*out, NULL
 * if none; the caller frees it). Returns their count or -ENOMEM. */
int rg_copy_prepared(const struct rg_ring *r, struct ringd_sqe **out);

/* Move the completions the ring already holds into the private stash
 * (their user_data restored), without touching the shared CQ head: for a
 * session the daemon has abandoned. */
void rg_stash_completions(struct rg_ring *r);

/* Completions ready to be reaped (stashed and in the ring). */
unsigned int rg_cq_ready(const struct rg_ring *r);

/* The next completion to hand out, or NULL: stashed ones first, then the
 * ring's, with unknown tags skipped. */
struct ringd_cqe *rg_next_cqe(struct rg_ring *r);

/* Consume @nr completions. */
void rg_cq_advance(struct rg_ring *r, unsigned int nr);

/* Copy up to @max completions into @cqes and consume them. Returns the count. */
unsigned int rg_peek_batch(struct rg_ring *r, struct ringd_cqe *cqes, unsigned int max);

/*
 * Wait until @nr completions are ready, the session is gone or broken, or
 * the monotonic clock passes @deadline_us (UINT64_MAX: never). While asleep,
 * readability or a hang-up of @ctl_fd (the control socket, on which no reply
 * is pending) means the daemon went away. Returns 0, -ETIME, rg_state()'s
 * -ENOTCONN or -EPIPE, or -errno.
 */
int rg_wait(struct rg_ring *r, int ctl_fd, unsigned int nr, uint64_t deadline_us);

/* Ask the daemon to notify on every completion. Returns the fd to poll. */
int rg_event_fd(struct rg_ring *r);

/* The open handle @h, or NULL. */
struct rg_handle *rg_handle(struct rg_ring *r, int h);

/* A free handle number, or -EMFILE. */
int rg_handle_free_slot(const struct rg_ring *r);

#endif
