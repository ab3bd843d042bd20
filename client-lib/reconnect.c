/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 2: carrying on after the daemon went away without keeping
 * our session (a plain restart, no fd store).
 *
 * Owns: deciding that a session is gone and may be replaced (the two
 * "make sure it is live" checks the entry points start with), and the
 * replacement below.
 * May call: ctl (cc_) and ring (rg_) below it, libc. Neither of them calls
 * it: they report a lost daemon through rg_ring.dead and their return
 * values.
 *
 *   1. Completions the old daemon already published are moved to a private
 *      stash (handed out first); SQEs prepared but not submitted are kept.
 *   2. Wait for EOF on the old daemon's ring-liveness pipe: from then on
 *      none of its I/O can land, so a resubmitted write cannot be overtaken
 *      by its own stale original.
 *   3. Attach a new session of the same shape, copy the data area into it
 *      and map it at the same address (application pointers stay valid).
 *   4. Reopen the volumes (handle numbers are the library's, unchanged) and
 *      resubmit the requests still in flight, in submission order, with
 *      their original tags; then put the prepared SQEs back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "reconnect.h"

#define RCN_RECONNECT_MS 30000
#define RCN_RETRY_US	 20000 /* between two Hellos to a daemon not up yet */
#define RCN_ROOM_US	 200   /* between two looks for room in the SQ */
#define RCN_TRIES	 4     /* reconnects in a row before the call fails */

/* Step 2. Returns 0 or -ETIMEDOUT. */
static int rcn_wait_old_instance(struct ringd *rd, uint64_t deadline)
{
	struct pollfd pfd = { .fd = rd->ringlive, .events = POLLIN };
	char buf[16];

	if (rd->ringlive < 0)
		return 0;
	while (clk_now_ms() < deadline) {
		if (poll(&pfd, 1, 50) > 0 && (pfd.revents & POLLHUP) &&
		    read(rd->ringlive, buf, sizeof(buf)) <= 0)
			return 0;
	}
	return -ETIMEDOUT;
}

/* Whether a failed Hello means "not up yet (or still cleaning up our old
 * session)": worth another try. */
static bool rcn_retryable(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED || err == -ECONNRESET || err == -ENOTCONN ||
	       err == -EPIPE || err == -EDQUOT || err == -EUSERS || err == -ETIMEDOUT;
}

static bool rcn_same_layout(const struct rg_layout *a, const struct rg_layout *b)
{
	return a->sq_entries == b->sq_entries && a->cq_entries == b->cq_entries &&
	       a->data_size == b->data_size && a->sq_array_off == b->sq_array_off &&
	       a->sqes_off == b->sqes_off && a->cqes_off == b->cqes_off &&
	       a->data_off == b->data_off && a->region_size == b->region_size;
}

/* Step 3: same shape, same address. Returns 0 or -errno. */
static int rcn_remap(struct ringd *rd, const struct cc_attach *a)
{
	const struct rg_layout *l = &a->layout;
	void *tmp, *p;

	if (!rcn_same_layout(l, &rd->layout))
		return -EXDEV;
	tmp = mmap(NULL, l->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, a->memfd, 0);
	if (tmp == MAP_FAILED)
		return -errno;
	memcpy((uint8_t *)tmp + l->data_off, rd->ring.data, rd->ring.data_size);
	munmap(tmp, l->region_size);
	p = mmap(rd->base, l->region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, a->memfd,
		 0);
	if (p == MAP_FAILED)
		return -errno;
	return 0;
}

static int rcn_seq_cmp(const void *a, const void *b, void *arg)
{
	const struct rg_ring *r = arg;
	uint64_t x = r->reqs[*(const uint32_t *)a].seq, y = r->reqs[*(const uint32_t *)b].seq;

	return x < y ? -1 : x > y;
}

/* Put one SQE in the ring, unpublished: tracked request @slot again or, if
 * @sqe is not NULL, a prepared one. While the SQ is full, publish what is
 * there so that the daemon makes room. Returns 0 or -ETIMEDOUT. */
static int rcn_place(struct ringd *rd, const struct ringd_sqe *sqe, uint32_t slot,
		     uint64_t deadline)
{
	for (;;) {
		int ret = sqe ? rg_place(&rd->ring, sqe) : rg_requeue(&rd->ring, slot);

		if (ret != -EBUSY)
			return ret;
		rg_publish(&rd->ring);
		if (clk_now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(RCN_ROOM_US);
	}
}

/* Step 4. Returns 0 or -errno. */
static int rcn_resubmit(struct ringd *rd, const struct ringd_sqe *prepared, uint32_t nprep,
			uint64_t deadline)
{
	struct rg_ring *r = &rd->ring;
	uint32_t *order, n = 0, i;
	struct rg_handle *h;
	int ret = 0;

	for (i = 0; i < RG_MAX_HANDLES; i++)
		if ((h = rg_handle(r, (int)i)))
			h->dh = h->path ? cc_file_open(rd, h->name, h->path, h->flags, 0, NULL)
					: cc_volume_open(rd, h->name, h->flags, NULL);
	order = malloc(sizeof(*order) * (r->nreqs ? r->nreqs : 1));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < r->nreqs; i++)
		if (r->reqs[i].busy)
			order[n++] = i;
	qsort_r(order, n, sizeof(*order), rcn_seq_cmp, r);
	for (i = 0; i < n && !ret; i++)
		ret = rcn_place(rd, NULL, order[i], deadline);
	free(order);
	if (ret)
		return ret;
	rg_publish(r);
	/* The application's prepared SQEs come back unsubmitted. */
	for (i = 0; i < nprep && !ret; i++)
		ret = rcn_place(rd, &prepared[i], 0, deadline);
	return ret;
}

/* Steps 1-4. Returns 0 or -ENOTCONN. */
static int rcn_reconnect(struct ringd *rd)
{
	uint64_t deadline = clk_now_ms() + RCN_RECONNECT_MS;
	struct cc_shape shape = {
		.sq_entries = rd->layout.sq_entries,
		.cq_entries = rd->layout.cq_entries,
		.data_size = rd->layout.data_size,
	};
	struct ringd_sqe *prepared;
	struct cc_attach a;
	int nprep, ret;

	rg_stash_completions(&rd->ring);
	nprep = rg_copy_prepared(&rd->ring, &prepared);
	if (nprep < 0)
		return -ENOTCONN;
	ret = rcn_wait_old_instance(rd, deadline);
	while (!ret) {
		ret = cc_hello(rd->socket_path, &shape, &a);
		if (!ret || !rcn_retryable(ret) || clk_now_ms() > deadline)
			break;
		usleep(RCN_RETRY_US);
		ret = 0;
	}
	if (ret)
		goto out_fail;
	ret = rcn_remap(rd, &a);
	if (ret) {
		cc_attach_close(&a);
		goto out_fail;
	}
	cc_adopt(rd, &a);
	rg_load_indices(&rd->ring);
	rd->ring.dead = false;
	if (rd->ring.event_fd_mode)
		rg_event_fd(&rd->ring);
	ret = rcn_resubmit(rd, prepared, (uint32_t)nprep, deadline);
	free(prepared);
	/* The new daemon may have gone too while we reopened handles. */
	if (ret || rd->ring.dead) {
		rd->ring.dead = true;
		return -ENOTCONN;
	}
	return 0;

out_fail:
	free(prepared);
	/* The stashed SQEs stay where they were; a later call tries again. */
	return -ENOTCONN;
}

/* Replace a lost session: a daemon restarting again while we reconnect
 * (killed while we reopened our handles) gets a few tries. 0 or -ENOTCONN. */
static int rcn_replace(struct ringd *rd)
{
	unsigned int tries;

	for (tries = 0; tries < RCN_TRIES; tries++)
		if (!rcn_reconnect(rd))
			return 0;
	return -ENOTCONN;
}

int rcn_ring_live(struct ringd *rd)
{
	/* A graceful shutdown breaks the session: that is "gone" too. */
	if (rd->reconnect && !rd->ring.dead && rg_broken_reason(&rd->ring) == RINGD_BROKEN_SHUTDOWN)
		rd->ring.dead = true;
	if (rd->ring.dead && rd->reconnect)
		return rcn_replace(rd);
	return rg_state(&rd->ring);
}

int rcn_ctl_live(struct ringd *rd)
{
	if (rd->ring.dead && rd->reconnect)
		return rcn_replace(rd);
	return 0;
}
