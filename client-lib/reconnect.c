/* SPDX-License-Identifier: MIT */
/*
 * libringd: carrying on after the daemon went away without keeping our
 * session (a plain restart, no fd store).
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
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "ringd.pb-c.h"

#define RC_RECONNECT_MS 30000

static uint64_t rc_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Step 1: stash what the old ring already completed. */
static void rc_stash_completions(struct ringd *rd)
{
	uint32_t tail = ringd_load_acquire(&rd->hdr->cq_tail);

	while (rd->cq_head != tail) {
		struct ringd_cqe *c = &rd->cqes[rd->cq_head & (rd->cq_entries - 1)];
		uint64_t slot = c->user_data;

		if (rd->cq_head != rd->cq_xlated) {
			rc_xcq_push(rd, c->user_data, c->res); /* already restored */
		} else if (slot < rd->nreqs && rd->reqs[slot].busy) {
			rc_xcq_push(rd, rc_req_put(rd, (uint32_t)slot)->sqe.user_data, c->res);
			rd->cq_xlated++;
		} else {
			rd->cq_xlated++;
		}
		rd->cq_head++;
	}
}

/* Step 2. Returns 0 or -ETIMEDOUT. */
static int rc_wait_old_instance(struct ringd *rd, uint64_t deadline)
{
	struct pollfd pfd = { .fd = rd->ringlive, .events = POLLIN };
	char buf[16];

	if (rd->ringlive < 0)
		return 0;
	while (rc_ms() < deadline) {
		if (poll(&pfd, 1, 50) > 0 && (pfd.revents & POLLHUP) &&
		    read(rd->ringlive, buf, sizeof(buf)) <= 0)
			return 0;
	}
	return -ETIMEDOUT;
}

/* Connect and say Hello with the old shape. Returns 0 or -errno. */
static int rc_hello(struct ringd *rd, int *sock, int fds[3], Ringd__Reply **reply)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned int nfds;
	int fd, ret;

	*reply = NULL;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, rd->socket_path, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out_close;
	}
	h.abi_version = RINGD_ABI_VERSION;
	h.has_sq_entries = h.has_cq_entries = h.has_data_size = 1;
	h.sq_entries = rd->sq_entries;
	h.cq_entries = rd->cq_entries;
	h.data_size = rd->data_size;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	ret = rc_call(NULL, fd, &rq, reply, fds, 3, &nfds);
	if (ret)
		goto out_close;
	if ((*reply)->msg_case != RINGD__REPLY__MSG_ATTACHED || nfds != 3) {
		while (nfds)
			close(fds[--nfds]);
		ringd__reply__free_unpacked(*reply, NULL);
		*reply = NULL;
		ret = -EBADMSG;
		goto out_close;
	}
	*sock = fd;
	return 0;

out_close:
	close(fd);
	return ret;
}

/* Step 3: same shape, same address. Returns 0 or -errno. */
static int rc_remap(struct ringd *rd, const Ringd__Attached *a, int memfd)
{
	void *tmp, *p;

	if (a->sq_entries != rd->sq_entries || a->cq_entries != rd->cq_entries ||
	    a->data_size != rd->data_size || a->sq_array_off != rd->sq_off[0] ||
	    a->sqes_off != rd->sq_off[1] || a->cqes_off != rd->sq_off[2] ||
	    a->data_off != rd->sq_off[3] || a->region_size != rd->sq_off[4])
		return -EXDEV;
	tmp = mmap(NULL, a->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (tmp == MAP_FAILED)
		return -errno;
	memcpy((uint8_t *)tmp + a->data_off, rd->data, rd->data_size);
	munmap(tmp, a->region_size);
	p = mmap(rd->base, a->region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd,
		 0);
	if (p == MAP_FAILED)
		return -errno;
	return 0;
}

static int rc_seq_cmp(const void *a, const void *b, void *arg)
{
	const struct ringd *rd = arg;
	uint64_t x = rd->reqs[*(const uint32_t *)a].seq, y = rd->reqs[*(const uint32_t *)b].seq;

	return x < y ? -1 : x > y;
}

/* Put one SQE in the ring, waiting for room; publish later. Returns 0 or -ETIMEDOUT. */
static int rc_place(struct ringd *rd, const struct ringd_sqe *sqe, uint64_t deadline)
{
	uint32_t idx;

	while (rd->sq_tail - ringd_load_acquire(&rd->hdr->sq_head) >= rd->sq_entries) {
		ringd_store_release(&rd->hdr->sq_tail, rd->sq_tail);
		rd->sq_published = rd->sq_tail;
		rc_doorbell(rd);
		if (rc_ms() > deadline)
			return -ETIMEDOUT;
		usleep(200);
	}
	idx = rd->sq_tail & (rd->sq_entries - 1);
	rd->sqes[idx] = *sqe;
	rd->sq_array[idx] = idx;
	rd->sq_tail++;
	return 0;
}

/* Step 4. Returns 0 or -errno. */
static int rc_resubmit(struct ringd *rd, const struct ringd_sqe *prepared, uint32_t nprep,
		       uint64_t deadline)
{
	uint32_t *order, n = 0, i;
	int ret = 0;

	for (i = 0; i < RC_MAX_HANDLES; i++) {
		struct rc_handle *h = &rd->handles[i];

		if (h->open)
			h->dh = rc_open_handle(rd, h->name, h->flags);
	}
	order = malloc(sizeof(*order) * (rd->nreqs ? rd->nreqs : 1));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < rd->nreqs; i++)
		if (rd->reqs[i].busy)
			order[n++] = i;
	qsort_r(order, n, sizeof(*order), rc_seq_cmp, rd);
	for (i = 0; i < n && !ret; i++) {
		struct ringd_sqe sqe = rd->reqs[order[i]].sqe;
		int h = sqe.handle;

		sqe.user_data = order[i];
		if (h >= 0 && h < RC_MAX_HANDLES && rd->handles[h].open)
			sqe.handle = rd->handles[h].dh;
		else if (sqe.opcode != RINGD_OP_NOP)
			sqe.handle = -1;
		ret = rc_place(rd, &sqe, deadline);
	}
	free(order);
	if (ret)
		return ret;
	ringd_store_release(&rd->hdr->sq_tail, rd->sq_tail);
	rd->sq_published = rd->sq_tail;
	rc_doorbell(rd);
	/* The application's prepared SQEs come back unsubmitted. */
	for (i = 0; i < nprep && !ret; i++)
		ret = rc_place(rd, &prepared[i], deadline);
	return ret;
}

int rc_reconnect(struct ringd *rd)
{
	uint64_t deadline = rc_ms() + RC_RECONNECT_MS;
	uint32_t nprep = rd->sq_tail - rd->sq_published, i;
	struct ringd_sqe *prepared = NULL;
	Ringd__Reply *r = NULL;
	int sock = -1, fds[3], ret;

	rc_stash_completions(rd);
	if (nprep) {
		prepared = malloc(sizeof(*prepared) * nprep);
		if (!prepared)
			return -ENOTCONN;
		for (i = 0; i < nprep; i++)
			prepared[i] = rd->sqes[(rd->sq_published + i) & (rd->sq_entries - 1)];
	}
	ret = rc_wait_old_instance(rd, deadline);
	while (!ret) {
		ret = rc_hello(rd, &sock, fds, &r);
		if (!ret)
			break;
		/* Not up yet (or still cleaning up our old session): retry. */
		if (ret != -ENOENT && ret != -ECONNREFUSED && ret != -ECONNRESET &&
		    ret != -ENOTCONN && ret != -EPIPE && ret != -EDQUOT && ret != -EUSERS &&
		    ret != -ETIMEDOUT)
			break;
		if (rc_ms() > deadline)
			break;
		usleep(20000);
		ret = 0;
	}
	if (ret || !r)
		goto out_fail;
	ret = rc_remap(rd, r->attached, fds[0]);
	ringd__reply__free_unpacked(r, NULL);
	if (ret) {
		close(sock);
		for (i = 0; i < 3; i++)
			close(fds[i]);
		goto out_fail;
	}
	close(rd->sock);
	close(rd->memfd);
	close(rd->wake_fd);
	if (rd->ringlive >= 0)
		close(rd->ringlive);
	rd->sock = sock;
	rd->memfd = fds[0];
	rd->wake_fd = fds[1];
	rd->ringlive = fds[2];
	rd->sq_tail = rd->sq_published = ringd_load_acquire(&rd->hdr->sq_tail);
	rd->cq_head = rd->cq_xlated = ringd_load_acquire(&rd->hdr->cq_head);
	rd->sq_head_cache = ringd_load_acquire(&rd->hdr->sq_head);
	rd->dead = false;
	if (rd->event_fd_mode)
		__atomic_fetch_or(&rd->hdr->cq_flags, RINGD_CQ_EVENTFD, __ATOMIC_SEQ_CST);
	ret = rc_resubmit(rd, prepared, nprep, deadline);
	free(prepared);
	if (ret) {
		rd->dead = true;
		return -ENOTCONN;
	}
	return 0;

out_fail:
	free(prepared);
	/* The stashed SQEs stay where they were; a later call tries again. */
	return -ENOTCONN;
}
