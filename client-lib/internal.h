/* SPDX-License-Identifier: MIT */
/* Private state of libringd. */
#ifndef RINGD_CLIENT_INTERNAL_H
#define RINGD_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringd.h"
#include "ringd.pb-c.h"

/* One extent of the data area, on the free or the used list. */
struct rc_extent {
	uint64_t off, len;
	struct rc_extent *next;
};

/* A submitted request the library tracks until its completion is reaped:
 * its tag in the ring is the index of this entry, never user data. */
struct rc_req {
	struct ringd_sqe sqe; /* as submitted: user's user_data and handle */
	uint64_t seq;	      /* submission order, for resubmission */
	uint32_t next_free;
	bool busy;
};

/* A volume handle as the application sees it. */
struct rc_handle {
	char name[64];
	int flags;
	int dh; /* the daemon's handle in the current session */
	bool open;
};

#define RC_MAX_HANDLES 64

struct ringd {
	int sock;     /* control socket */
	int wake_fd;  /* doorbell (send) and notifications (recv) */
	int ringlive; /* EOF once the daemon instance's I/O is all gone */
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
	uint32_t sq_head_cache; /* daemon's SQ head when last loaded */
	uint32_t cq_head;	/* next CQE to reap */
	uint32_t cq_xlated;	/* CQEs before this index have their user_data restored */
	uint32_t max_io_size;
	unsigned int spin_us;
	unsigned int contended; /* waits left in yield-spin mode (see rc_wait) */
	bool dead;		/* the daemon went away */
	bool reconnect;		/* reconnect on our own when it does */
	bool event_fd_mode;	/* ringd_event_fd() was called */
	char socket_path[108];
	uint64_t sq_off[5]; /* layout of the first session: sq_array, sqes, cqes, data, region */

	struct rc_req *reqs; /* sq_entries + cq_entries */
	uint32_t nreqs, req_free, reqs_busy;
	uint64_t seq;
	struct rc_handle handles[RC_MAX_HANDLES];

	/* Completions saved across a reconnect, handed out before the ring's. */
	struct ringd_cqe *xcq;
	uint32_t xcq_cap, xcq_head, xcq_tail;
	struct rc_extent *free_list;
	struct rc_extent *used_list;
};

/* session.c */
/* Send @rq on @sock and receive its reply and up to @maxfds fds (@rd, if
 * not NULL, is marked dead on EOF). Returns 0, the daemon's -errno, or
 * -errno. */
int rc_call(struct ringd *rd, int sock, const Ringd__Request *rq, Ringd__Reply **out, int *fds,
	    unsigned int maxfds, unsigned int *nfds);
/* Remember the daemon's message for ringd_last_message(). */
void rc_set_message(const char *msg);
/* OpenVolume on the current session. Returns the daemon's handle or -errno. */
int rc_open_handle(struct ringd *rd, const char *volume, int flags);
/* Re-establish the session after the daemon went away. Returns 0 or -ENOTCONN. */
int rc_reconnect(struct ringd *rd);

/* ring.c */
/* Give tag @slot back; returns the request's entry (still readable). */
struct rc_req *rc_req_put(struct ringd *rd, uint32_t slot);
/* Ring the doorbell if the daemon sleeps and has SQEs to read. */
void rc_doorbell(struct ringd *rd);
/* Queue a completion to be handed out before the ring's. */
void rc_xcq_push(struct ringd *rd, uint64_t user_data, int32_t res);

/* buf.c */
int rc_buf_init(struct ringd *rd);
void rc_buf_fini(struct ringd *rd);

#endif
