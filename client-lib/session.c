/* SPDX-License-Identifier: MIT */
/* libringd: connecting, attaching, and the control-plane calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "ringd.pb-c.h"

#define RC_DEFAULT_SOCKET "/run/ringd/ringd.sock"
#define RC_MAX_MSG	  4096
#define RC_REPLY_TIMEOUT  10000 /* ms; the daemon answers at once */
#define RC_DEFAULT_SPIN	  50

/* The daemon's explanation of the last refused call, per thread. */
static __thread char rc_message[256];

void rc_set_message(const char *msg)
{
	snprintf(rc_message, sizeof(rc_message), "%s", msg ? msg : "");
}

const char *ringd_last_message(void)
{
	return rc_message;
}

/* Send @rq and receive its reply (and up to @maxfds fds). Returns 0 or -errno. */
int rc_call(struct ringd *rd, int sock, const Ringd__Request *rq, Ringd__Reply **out, int *fds,
	    unsigned int maxfds, unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cbuf;
	uint8_t buf[RC_MAX_MSG];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	size_t len = ringd__request__get_packed_size(rq);
	unsigned int got = 0;
	struct cmsghdr *c;
	Ringd__Reply *r;
	ssize_t n;
	int ret;

	*out = NULL;
	if (nfds)
		*nfds = 0;
	if (rd && rd->dead)
		return -ENOTCONN;
	if (len > sizeof(buf))
		return -EMSGSIZE;
	ringd__request__pack(rq, buf);
	if (send(sock, buf, len, MSG_NOSIGNAL) < 0) {
		/* A refusal may already be waiting for us: read it below. */
		if (errno != EPIPE && errno != ECONNRESET)
			return -errno;
	}
	ret = poll(&pfd, 1, RC_REPLY_TIMEOUT);
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return -ETIMEDOUT;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	/*
	 * A daemon that refuses us (not a tenant, over quota) replies and
	 * closes at once; if our Hello was still unread then, the kernel
	 * reports ECONNRESET once before the queued reply: read it.
	 */
	if (n < 0 && errno == ECONNRESET)
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0) {
		if (rd)
			rd->dead = true;
		return n == 0 || errno == ECONNRESET || errno == EAGAIN ? -ENOTCONN : -errno;
	}
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		unsigned int i, k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < maxfds)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	r = ringd__reply__unpack(NULL, (size_t)n, buf);
	if (!r || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		ret = -EBADMSG;
		goto out_close_fds;
	}
	if (r->msg_case == RINGD__REPLY__MSG_ERROR) {
		rc_set_message(r->error->message);
		ret = r->error->errno_code > 0 ? -r->error->errno_code : -EIO;
		ringd__reply__free_unpacked(r, NULL);
		goto out_close_fds;
	}
	if (nfds)
		*nfds = got;
	else if (got) {
		ret = -EBADMSG;
		ringd__reply__free_unpacked(r, NULL);
		goto out_close_fds;
	}
	*out = r;
	return 0;

out_close_fds:
	while (got)
		close(fds[--got]);
	return ret;
}

/* Check the daemon's layout against the memfd before trusting it. */
static int rc_check_layout(const Ringd__Attached *a, int memfd)
{
	struct stat st;

	if (fstat(memfd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size != a->region_size || !a->sq_entries || !a->cq_entries ||
	    (a->sq_entries & (a->sq_entries - 1)) || (a->cq_entries & (a->cq_entries - 1)))
		return -EBADMSG;
	if (a->sq_array_off < sizeof(struct ringd_shm_hdr) ||
	    a->sq_array_off + 4ull * a->sq_entries > a->sqes_off ||
	    a->sqes_off + 64ull * a->sq_entries > a->cqes_off ||
	    a->cqes_off + 16ull * a->cq_entries > a->data_off ||
	    a->data_off + a->data_size > a->region_size)
		return -EBADMSG;
	return 0;
}

static int rc_attach(struct ringd *rd, const Ringd__Attached *a, const int *fds)
{
	int ret = rc_check_layout(a, fds[0]);
	void *p;

	if (ret)
		return ret;
	p = mmap(NULL, a->region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fds[0],
		 0);
	if (p == MAP_FAILED)
		return -errno;
	rd->memfd = fds[0];
	rd->wake_fd = fds[1];
	rd->ringlive = fds[2];
	rd->base = p;
	rd->region_size = a->region_size;
	rd->hdr = p;
	rd->sq_array = (uint32_t *)((char *)p + a->sq_array_off);
	rd->sqes = (struct ringd_sqe *)((char *)p + a->sqes_off);
	rd->cqes = (struct ringd_cqe *)((char *)p + a->cqes_off);
	rd->data = (uint8_t *)p + a->data_off;
	rd->data_size = a->data_size;
	rd->sq_entries = a->sq_entries;
	rd->cq_entries = a->cq_entries;
	rd->max_io_size = a->max_io_size;
	rd->sq_tail = rd->sq_published = ringd_load_acquire(&rd->hdr->sq_tail);
	rd->sq_head_cache = ringd_load_acquire(&rd->hdr->sq_head);
	rd->cq_head = rd->cq_xlated = ringd_load_acquire(&rd->hdr->cq_head);
	rd->sq_off[0] = a->sq_array_off;
	rd->sq_off[1] = a->sqes_off;
	rd->sq_off[2] = a->cqes_off;
	rd->sq_off[3] = a->data_off;
	rd->sq_off[4] = a->region_size;
	if (rd->hdr->magic != RINGD_SHM_MAGIC) {
		munmap(p, a->region_size);
		rd->base = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* The request-tag table and the reconnect stash, sized by the rings. */
static int rc_tables_init(struct ringd *rd)
{
	uint32_t i;

	rd->nreqs = rd->sq_entries + rd->cq_entries;
	rd->reqs = calloc(rd->nreqs, sizeof(*rd->reqs));
	rd->xcq_cap = rd->sq_entries + 2 * rd->cq_entries;
	rd->xcq = calloc(rd->xcq_cap, sizeof(*rd->xcq));
	if (!rd->reqs || !rd->xcq) {
		free(rd->reqs);
		free(rd->xcq);
		rd->reqs = NULL;
		rd->xcq = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < rd->nreqs; i++)
		rd->reqs[i].next_free = i + 1;
	rd->req_free = 0;
	return 0;
}

/* $RINGD_SPIN_US (1..1000000) if set and valid, else RC_DEFAULT_SPIN. */
static unsigned int rc_default_spin(void)
{
	const char *e = getenv("RINGD_SPIN_US");
	unsigned long v;
	char *end;

	if (!e || !*e)
		return RC_DEFAULT_SPIN;
	errno = 0;
	v = strtoul(e, &end, 10);
	if (errno || *end || !v || v > 1000000)
		return RC_DEFAULT_SPIN;
	return (unsigned int)v;
}

int ringd_connect(const struct ringd_opts *opts, struct ringd **out)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;
	const char *path = opts ? opts->socket_path : NULL;
	struct sockaddr_un sa;
	Ringd__Reply *r;
	struct ringd *rd;
	unsigned int nfds;
	int fds[3], ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts && (opts->flags & ~RINGD_OPT_NO_RECONNECT))
		return -EINVAL;
	if (!path)
		path = getenv("RINGD_SOCKET");
	if (!path || !*path)
		path = RC_DEFAULT_SOCKET;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->memfd = rd->wake_fd = rd->ringlive = -1;
	rd->spin_us = opts && opts->spin_us ? opts->spin_us : rc_default_spin();
	rd->reconnect = !(opts && (opts->flags & RINGD_OPT_NO_RECONNECT));
	memcpy(rd->socket_path, sa.sun_path, sizeof(rd->socket_path));
	rd->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (rd->sock < 0) {
		ret = -errno;
		goto out_free;
	}
	if (connect(rd->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out_close;
	}
	h.abi_version = RINGD_ABI_VERSION;
	if (opts) {
		h.has_sq_entries = opts->sq_entries != 0;
		h.sq_entries = opts->sq_entries;
		h.has_cq_entries = opts->cq_entries != 0;
		h.cq_entries = opts->cq_entries;
		h.has_data_size = opts->buf_size != 0;
		h.data_size = opts->buf_size;
	}
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	ret = rc_call(NULL, rd->sock, &rq, &r, fds, 3, &nfds);
	if (ret)
		goto out_close;
	if (r->msg_case != RINGD__REPLY__MSG_ATTACHED || nfds != 3) {
		ret = -EBADMSG;
		goto out_reply;
	}
	ret = rc_attach(rd, r->attached, fds);
	if (ret)
		goto out_reply;
	ret = rc_buf_init(rd);
	if (ret)
		goto out_unmap;
	ret = rc_tables_init(rd);
	if (ret)
		goto out_buf;
	ringd__reply__free_unpacked(r, NULL);
	*out = rd;
	return 0;

out_buf:
	rc_buf_fini(rd);
out_unmap:
	munmap(rd->base, rd->region_size);
out_reply:
	while (nfds)
		close(fds[--nfds]);
	ringd__reply__free_unpacked(r, NULL);
out_close:
	close(rd->sock);
out_free:
	free(rd);
	return ret;
}

void ringd_disconnect(struct ringd *rd)
{
	if (!rd)
		return;
	rc_buf_fini(rd);
	free(rd->reqs);
	free(rd->xcq);
	if (rd->ringlive >= 0)
		close(rd->ringlive);
	if (rd->base)
		munmap(rd->base, rd->region_size);
	if (rd->memfd >= 0)
		close(rd->memfd);
	if (rd->wake_fd >= 0)
		close(rd->wake_fd);
	if (rd->sock >= 0)
		close(rd->sock);
	free(rd);
}

static int rc_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__OpenVolume o = RINGD__OPEN_VOLUME__INIT;
	Ringd__Reply *r;
	int ret;

	o.name = (char *)volume;
	o.flags = (uint32_t)flags;
	rq.msg_case = RINGD__REQUEST__MSG_OPEN;
	rq.open = &o;
	ret = rc_call(rd, rd->sock, &rq, &r, NULL, 0, NULL);
	if (ret)
		return ret;
	if (r->msg_case != RINGD__REPLY__MSG_OPENED) {
		ringd__reply__free_unpacked(r, NULL);
		return -EBADMSG;
	}
	ret = r->opened->handle;
	if (info) {
		info->size = r->opened->size;
		info->block_size = r->opened->block_size;
		info->align = r->opened->align;
		info->flags = r->opened->flags;
	}
	ringd__reply__free_unpacked(r, NULL);
	return ret;
}

int rc_open_handle(struct ringd *rd, const char *volume, int flags)
{
	return rc_open(rd, volume, flags, NULL);
}

int ringd_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info)
{
	struct rc_handle *h;
	int i, dh;

	if (!rd || !volume || (flags != (int)RINGD_RDONLY && flags != (int)RINGD_RDWR))
		return -EINVAL;
	if (strlen(volume) >= sizeof(h->name))
		return -ENAMETOOLONG;
	if (rd->dead && rd->reconnect && rc_reconnect(rd))
		return -ENOTCONN;
	for (i = 0; i < RC_MAX_HANDLES; i++)
		if (!rd->handles[i].open)
			break;
	if (i == RC_MAX_HANDLES)
		return -EMFILE;
	dh = rc_open(rd, volume, flags, info);
	if (dh < 0)
		return dh;
	/* Handles are ours, so they keep their numbers across a reconnect. */
	h = &rd->handles[i];
	memcpy(h->name, volume, strlen(volume) + 1);
	h->flags = flags;
	h->dh = dh;
	h->open = true;
	return i;
}

int ringd_close(struct ringd *rd, int handle)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__CloseVolume c = RINGD__CLOSE_VOLUME__INIT;
	Ringd__Reply *r;
	int ret;

	if (!rd)
		return -EINVAL;
	if (handle < 0 || handle >= RC_MAX_HANDLES || !rd->handles[handle].open)
		return -EBADF;
	if (rd->dead && rd->reconnect && rc_reconnect(rd))
		return -ENOTCONN;
	c.handle = rd->handles[handle].dh;
	rq.msg_case = RINGD__REQUEST__MSG_CLOSE;
	rq.close = &c;
	ret = rc_call(rd, rd->sock, &rq, &r, NULL, 0, NULL);
	if (ret && ret != -EBADF)
		return ret;
	if (!ret) {
		ret = r->msg_case == RINGD__REPLY__MSG_CLOSED ? 0 : -EBADMSG;
		ringd__reply__free_unpacked(r, NULL);
	}
	rd->handles[handle].open = false;
	return ret == -EBADF ? 0 : ret;
}

int ringd_stats(struct ringd *rd, struct ringd_stats *st)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;
	Ringd__Reply *r;
	int ret;

	if (!rd || !st)
		return -EINVAL;
	rq.msg_case = RINGD__REQUEST__MSG_STATS;
	rq.stats = &sr;
	ret = rc_call(rd, rd->sock, &rq, &r, NULL, 0, NULL);
	if (ret)
		return ret;
	if (r->msg_case != RINGD__REPLY__MSG_STATS) {
		ringd__reply__free_unpacked(r, NULL);
		return -EBADMSG;
	}
	memset(st, 0, sizeof(*st));
	st->submitted = r->stats->submitted;
	st->completed = r->stats->completed;
	st->errors = r->stats->errors;
	st->rejected = r->stats->rejected;
	st->bytes_read = r->stats->bytes_read;
	st->bytes_written = r->stats->bytes_written;
	st->inflight = r->stats->inflight;
	st->broken_reason = r->stats->broken_reason;
	st->completions_interrupt = r->stats->completions_interrupt;
	st->completions_polled = r->stats->completions_polled;
	st->completions_passthrough = r->stats->completions_passthrough;
	st->completions_passthrough_polled = r->stats->completions_passthrough_polled;
	ringd__reply__free_unpacked(r, NULL);
	return 0;
}
