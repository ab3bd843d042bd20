/* SPDX-License-Identifier: MIT */
/* Private state of libringd. */
#ifndef RINGD_CLIENT_INTERNAL_H
#define RINGD_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringd.h"

/* One extent of the data area, on the free or the used list. */
struct rc_extent {
	uint64_t off, len;
	struct rc_extent *next;
};

struct ringd {
	int sock;    /* control socket */
	int wake_fd; /* doorbell (send) and notifications (recv) */
	int memfd;
	void *base;
	size_t region_size;
	struct ringd_shm_hdr *hdr;
	uint32_t *sq_array;
	struct ringd_sqe *sqes;
	struct ringd_cqe *cqes;
	uint8_t *data;
	size_t data_size;
	uint32_t sq_entries, cq_entries;
	uint32_t sq_tail;	/* SQEs handed out by ringd_get_sqe() */
	uint32_t sq_published;	/* SQ tail last stored in shared memory */
	uint32_t sq_head_cache;	/* daemon's SQ head when last loaded */
	uint32_t cq_head;	/* next CQE to reap */
	uint32_t max_io_size;
	unsigned int spin_us;
	unsigned int contended;	/* waits left in yield-spin mode (see rc_wait) */
	bool dead;		/* the daemon went away */
	bool event_fd_mode;	/* ringd_event_fd() was called */
	struct rc_extent *free_list;
	struct rc_extent *used_list;
};

/* buf.c */
int rc_buf_init(struct ringd *rd);
void rc_buf_fini(struct ringd *rd);

#endif
