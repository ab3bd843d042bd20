/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 1: the control plane.
 *
 * Owns: the control socket and its request/reply exchange (with fd
 * passing), connecting and the Hello/attach handshake with its layout
 * check, mapping the first session, the lifetime of struct ringd, the
 * OpenVolume/CloseVolume/Stats calls and what they put in the handle table,
 * and the daemon's last refusal message.
 * May call: ring (rg_) and buf (buf_) below it, the control protocol
 * (proto/), libc. It never reconnects: a caller that wants a live session
 * gets one from reconnect.c first.
 */
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

#include "ctl.h"
#include "ringd.pb-c.h"

#define CC_DEFAULT_SOCKET "/run/ringd/ringd.sock"
#define CC_MAX_MSG	  4096
#define CC_REPLY_TIMEOUT  10000 /* ms; the daemon answers at once */
#define CC_DEFAULT_SPIN	  50

/* The daemon's explanation of the last refused call, per thread. */
static __thread char cc_message[256];

static void cc_set_message(const char *msg)
{
	snprintf(cc_message, sizeof(cc_message), "%s", msg ? msg : "");
}

const char *cc_last_message(void)
{
	return cc_message;
}

/*
 * Send @rq on @sock and receive its reply and up to @maxfds fds (@rd, if
 * not NULL, is marked dead on EOF). Returns 0 and sets *out, the daemon's
 * -errno (its message kept), or -errno.
 */
static int cc_call(struct ringd *rd, int sock, const Ringd__Request *rq, Ringd__Reply **out,
		   int *fds, unsigned int maxfds, unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cbuf;
	uint8_t buf[CC_MAX_MSG];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	Ringd__Request copy = *rq;
	unsigned int got = 0, restarts = 0;
	struct cmsghdr *c;
	Ringd__Reply *r;
	size_t len;
	ssize_t n;
	int ret;

	*out = NULL;
	if (nfds)
		*nfds = 0;
	if (rd && rd->ring.dead)
		return -ENOTCONN;
	if (rd) {
		/* Numbered, for a Restarted to name (never 0 in its low 32 bits). */
		if (!(uint32_t)++rd->ctl_seq)
			++rd->ctl_seq;
		copy.has_seq = true;
		copy.seq = rd->ctl_seq;
	}
	/* Sent again after a reconnect: the daemon makes it idempotent. */
	if (rd && rd->replay_next) {
		copy.has_replay = true;
		copy.replay = true;
		rd->replay_next = false;
	}
resend:
	len = ringd__request__get_packed_size(&copy);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	ringd__request__pack(&copy, buf);
	if (send(sock, buf, len, MSG_NOSIGNAL) < 0) {
		/* A refusal may already be waiting for us: read it below. */
		if (errno != EPIPE && errno != ECONNRESET && errno != ENOTCONN &&
		    errno != ECONNREFUSED)
			return -errno;
	}
again:
	ret = poll(&pfd, 1, CC_REPLY_TIMEOUT);
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
		/* Whatever the socket says, the daemon is gone: a session that
		 * may be replaced is (the caller sees -ENOTCONN and reconnects). */
		if (rd) {
			rd->ring.dead = true;
			return -ENOTCONN;
		}
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
	/*
	 * The daemon was restarted (keeping our session) after it read this
	 * request and before it answered: send it again, as a replay.
	 */
	if (r->msg_case == RINGD__REPLY__MSG_RESTARTED && !got && restarts++ < 8) {
		bool ours = !r->restarted->has_seq || r->restarted->seq == (uint32_t)copy.seq;

		ringd__reply__free_unpacked(r, NULL);
		msg.msg_controllen = sizeof(cbuf.buf);
		msg.msg_flags = 0;
		if (!ours)
			goto again; /* about a request already answered: ours is coming */
		copy.has_replay = true;
		copy.replay = true;
		goto resend;
	}
	if (r->msg_case == RINGD__REPLY__MSG_ERROR) {
		cc_set_message(r->error->message);
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

/* Check the daemon's layout against the memfd before trusting it, and
 * keep it in @l. Returns 0, -EBADMSG or -errno. */
static int cc_check_layout(const Ringd__Attached *a, int memfd, struct rg_layout *l)
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
	l->sq_entries = a->sq_entries;
	l->cq_entries = a->cq_entries;
	l->sq_array_off = a->sq_array_off;
	l->sqes_off = a->sqes_off;
	l->cqes_off = a->cqes_off;
	l->data_off = a->data_off;
	l->data_size = a->data_size;
	l->region_size = a->region_size;
	return 0;
}

int cc_hello(const char *path, const struct cc_shape *shape, struct cc_attach *out)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	Ringd__Reply *r;
	unsigned int nfds;
	int fds[3], fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out_close;
	}
	h.abi_version = RINGD_ABI_VERSION;
	h.has_sq_entries = shape->sq_entries != 0;
	h.sq_entries = shape->sq_entries;
	h.has_cq_entries = shape->cq_entries != 0;
	h.cq_entries = shape->cq_entries;
	h.has_data_size = shape->data_size != 0;
	h.data_size = shape->data_size;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	ret = cc_call(NULL, fd, &rq, &r, fds, 3, &nfds);
	if (ret)
		goto out_close;
	if (r->msg_case != RINGD__REPLY__MSG_ATTACHED || nfds != 3) {
		ret = -EBADMSG;
		goto out_reply;
	}
	ret = cc_check_layout(r->attached, fds[0], &out->layout);
	if (ret)
		goto out_reply;
	out->sock = fd;
	out->memfd = fds[0];
	out->wake_fd = fds[1];
	out->ringlive = fds[2];
	out->max_io_size = r->attached->max_io_size;
	ringd__reply__free_unpacked(r, NULL);
	return 0;

out_reply:
	while (nfds)
		close(fds[--nfds]);
	ringd__reply__free_unpacked(r, NULL);
out_close:
	close(fd);
	return ret;
}

void cc_attach_close(struct cc_attach *a)
{
	close(a->ringlive);
	close(a->wake_fd);
	close(a->memfd);
	close(a->sock);
}

void cc_adopt(struct ringd *rd, struct cc_attach *a)
{
	if (rd->sock >= 0)
		close(rd->sock);
	if (rd->memfd >= 0)
		close(rd->memfd);
	if (rd->ring.wake_fd >= 0)
		close(rd->ring.wake_fd);
	if (rd->ringlive >= 0)
		close(rd->ringlive);
	rd->sock = a->sock;
	rd->memfd = a->memfd;
	rd->ring.wake_fd = a->wake_fd;
	rd->ringlive = a->ringlive;
}

/* Map the first session anywhere and point the ring at it. Returns 0,
 * -EBADMSG (not a ringd region) or -errno. */
static int cc_map(struct ringd *rd, const struct cc_attach *a)
{
	size_t len = a->layout.region_size;
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, a->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (((struct ringd_shm_hdr *)p)->magic != RINGD_SHM_MAGIC) {
		munmap(p, len);
		return -EBADMSG;
	}
	rd->base = p;
	rd->layout = a->layout;
	rd->max_io_size = a->max_io_size;
	rg_map(&rd->ring, p, &a->layout);
	return 0;
}

/* $RINGD_SPIN_US (1..1000000) if set and valid, else CC_DEFAULT_SPIN. */
static unsigned int cc_default_spin(void)
{
	const char *e = getenv("RINGD_SPIN_US");
	unsigned long v;
	char *end;

	if (!e || !*e)
		return CC_DEFAULT_SPIN;
	errno = 0;
	v = strtoul(e, &end, 10);
	if (errno || *end || !v || v > 1000000)
		return CC_DEFAULT_SPIN;
	return (unsigned int)v;
}

int cc_connect(const struct ringd_opts *opts, struct ringd **out)
{
	const char *path = opts ? opts->socket_path : NULL;
	struct cc_shape shape = { 0 };
	struct cc_attach a;
	struct ringd *rd;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts && (opts->flags & ~RINGD_OPT_NO_RECONNECT))
		return -EINVAL;
	if (!path)
		path = getenv("RINGD_SOCKET");
	if (!path || !*path)
		path = CC_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(rd->socket_path))
		return -ENAMETOOLONG;

	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->sock = rd->memfd = rd->ring.wake_fd = rd->ringlive = -1;
	rd->ring.spin_us = opts && opts->spin_us ? opts->spin_us : cc_default_spin();
	rd->reconnect = !(opts && (opts->flags & RINGD_OPT_NO_RECONNECT));
	memcpy(rd->socket_path, path, strlen(path) + 1);
	if (opts) {
		shape.sq_entries = opts->sq_entries;
		shape.cq_entries = opts->cq_entries;
		shape.data_size = opts->buf_size;
	}
	ret = cc_hello(rd->socket_path, &shape, &a);
	if (ret)
		goto out_free;
	ret = cc_map(rd, &a);
	if (ret)
		goto out_close_attach;
	ret = buf_init(&rd->buf, rd->ring.data, rd->ring.data_size);
	if (ret)
		goto out_unmap;
	ret = rg_tables_init(&rd->ring);
	if (ret)
		goto out_buf;
	cc_adopt(rd, &a);
	*out = rd;
	return 0;

out_buf:
	buf_fini(&rd->buf);
out_unmap:
	munmap(rd->base, rd->layout.region_size);
out_close_attach:
	cc_attach_close(&a);
out_free:
	free(rd);
	return ret;
}

void cc_disconnect(struct ringd *rd)
{
	unsigned int i;

	for (i = 0; i < RG_MAX_HANDLES; i++)
		free(rd->ring.handles[i].path);
	buf_fini(&rd->buf);
	rg_tables_fini(&rd->ring);
	if (rd->ringlive >= 0)
		close(rd->ringlive);
	if (rd->base)
		munmap(rd->base, rd->layout.region_size);
	if (rd->memfd >= 0)
		close(rd->memfd);
	if (rd->ring.wake_fd >= 0)
		close(rd->ring.wake_fd);
	if (rd->sock >= 0)
		close(rd->sock);
	free(rd);
}

int cc_volume_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__OpenVolume o = RINGD__OPEN_VOLUME__INIT;
	Ringd__Reply *r;
	int ret;

	o.name = (char *)volume;
	o.flags = (uint32_t)flags;
	rq.msg_case = RINGD__REQUEST__MSG_OPEN;
	rq.open = &o;
	ret = cc_call(rd, rd->sock, &rq, &r, NULL, 0, NULL);
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

/* Fill @info from an Opened reply. */
static void cc_info(const Ringd__Opened *o, struct ringd_volume_info *info)
{
	if (!info)
		return;
	info->size = o->size;
	info->block_size = o->block_size;
	info->align = o->align;
	info->flags = o->flags;
}

/* Send @rq and expect @want back. Returns 0 with *@out, or -errno. */
static int cc_call_expect(struct ringd *rd, Ringd__Request *rq, Ringd__Reply__MsgCase want,
			  Ringd__Reply **out)
{
	int ret = cc_call(rd, rd->sock, rq, out, NULL, 0, NULL);

	if (ret)
		return ret;
	if ((*out)->msg_case != want) {
		ringd__reply__free_unpacked(*out, NULL);
		return -EBADMSG;
	}
	return 0;
}

int cc_file_open(struct ringd *rd, const char *volume, const char *path, int flags,
		 unsigned int mode, struct ringd_volume_info *info)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__OpenFile o = RINGD__OPEN_FILE__INIT;
	Ringd__Reply *r;
	int ret;

	o.volume = (char *)volume;
	o.path = (char *)path;
	o.flags = (uint32_t)flags;
	o.has_mode = true;
	o.mode = mode;
	rq.msg_case = RINGD__REQUEST__MSG_OPEN_FILE;
	rq.open_file = &o;
	ret = cc_call_expect(rd, &rq, RINGD__REPLY__MSG_OPENED, &r);
	if (ret)
		return ret;
	ret = r->opened->handle;
	cc_info(r->opened, info);
	ringd__reply__free_unpacked(r, NULL);
	return ret;
}

int cc_path_op(struct ringd *rd, int kind, const char *volume, const char *path, const char *path2,
	       unsigned int mode, struct ringd_volume_info *info)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__PathOp p = RINGD__PATH_OP__INIT;
	Ringd__Reply *r;
	int ret;

	static_assert((int)CC_STAT == (int)RINGD__PATH_OP__KIND__STAT &&
			  (int)CC_RENAME == (int)RINGD__PATH_OP__KIND__RENAME,
		      "enum cc_path_kind follows the protocol");
	p.kind = (Ringd__PathOp__Kind)kind;
	p.volume = (char *)volume;
	p.path = (char *)path;
	p.path2 = (char *)path2;
	p.has_mode = mode != 0;
	p.mode = mode;
	rq.msg_case = RINGD__REQUEST__MSG_PATH_OP;
	rq.path_op = &p;
	ret = cc_call_expect(rd, &rq,
			     kind == RINGD__PATH_OP__KIND__STAT ? RINGD__REPLY__MSG_OPENED
								: RINGD__REPLY__MSG_DONE,
			     &r);
	if (ret)
		return ret;
	if (kind == RINGD__PATH_OP__KIND__STAT)
		cc_info(r->opened, info);
	ringd__reply__free_unpacked(r, NULL);
	return 0;
}

int cc_truncate(struct ringd *rd, int handle, uint64_t size)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Truncate t = RINGD__TRUNCATE__INIT;
	struct rg_handle *h = rg_handle(&rd->ring, handle);
	Ringd__Reply *r;
	int ret;

	if (!h)
		return -EBADF;
	t.handle = h->dh;
	t.size = size;
	rq.msg_case = RINGD__REQUEST__MSG_TRUNCATE;
	rq.truncate = &t;
	ret = cc_call_expect(rd, &rq, RINGD__REPLY__MSG_DONE, &r);
	if (!ret)
		ringd__reply__free_unpacked(r, NULL);
	return ret;
}

int cc_fstat(struct ringd *rd, int handle, struct ringd_volume_info *info)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Fstat f = RINGD__FSTAT__INIT;
	struct rg_handle *h = rg_handle(&rd->ring, handle);
	Ringd__Reply *r;
	int ret;

	if (!h)
		return -EBADF;
	f.handle = h->dh;
	rq.msg_case = RINGD__REQUEST__MSG_FSTAT;
	rq.fstat = &f;
	ret = cc_call_expect(rd, &rq, RINGD__REPLY__MSG_OPENED, &r);
	if (ret)
		return ret;
	cc_info(r->opened, info);
	ringd__reply__free_unpacked(r, NULL);
	return 0;
}

int cc_handle_open_file(struct ringd *rd, const char *volume, const char *path, int flags,
			unsigned int mode, struct ringd_volume_info *info)
{
	struct rg_handle *h;
	char *copy;
	int i, dh;

	if (strlen(volume) >= sizeof(h->name))
		return -ENAMETOOLONG;
	i = rg_handle_free_slot(&rd->ring);
	if (i < 0)
		return i;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	dh = cc_file_open(rd, volume, path, flags, mode, info);
	if (dh < 0) {
		free(copy);
		return dh;
	}
	h = &rd->ring.handles[i];
	memcpy(h->name, volume, strlen(volume) + 1);
	free(h->path);
	h->path = copy;
	/* A reconnect opens the same file again, without creating or truncating it. */
	h->flags = flags & ~(int)(RINGD_CREAT | RINGD_EXCL | RINGD_TRUNC);
	h->dh = dh;
	h->open = true;
	return i;
}

int cc_handle_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info)
{
	struct rg_handle *h;
	int i, dh;

	if (strlen(volume) >= sizeof(h->name))
		return -ENAMETOOLONG;
	i = rg_handle_free_slot(&rd->ring);
	if (i < 0)
		return i;
	dh = cc_volume_open(rd, volume, flags, info);
	if (dh < 0)
		return dh;
	/* Handles are ours, so they keep their numbers across a reconnect. */
	h = &rd->ring.handles[i];
	memcpy(h->name, volume, strlen(volume) + 1);
	free(h->path);
	h->path = NULL;
	h->flags = flags;
	h->dh = dh;
	h->open = true;
	return i;
}

int cc_handle_close(struct ringd *rd, int handle)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__CloseVolume c = RINGD__CLOSE_VOLUME__INIT;
	struct rg_handle *h = rg_handle(&rd->ring, handle);
	Ringd__Reply *r;
	int ret;

	if (!h)
		return -EBADF;
	c.handle = h->dh;
	rq.msg_case = RINGD__REQUEST__MSG_CLOSE;
	rq.close = &c;
	ret = cc_call(rd, rd->sock, &rq, &r, NULL, 0, NULL);
	if (ret && ret != -EBADF)
		return ret;
	if (!ret) {
		ret = r->msg_case == RINGD__REPLY__MSG_CLOSED ? 0 : -EBADMSG;
		ringd__reply__free_unpacked(r, NULL);
	}
	h->open = false;
	free(h->path);
	h->path = NULL;
	return ret == -EBADF ? 0 : ret;
}

static int cc_stats_call(struct ringd *rd, Ringd__Request *rq, struct ringd_stats *st);

int cc_stats(struct ringd *rd, struct ringd_stats *st)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;

	rq.msg_case = RINGD__REQUEST__MSG_STATS;
	rq.stats = &sr;
	return cc_stats_call(rd, &rq, st);
}

int cc_tenant_stats(struct ringd *rd, struct ringd_stats *st)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__TenantStatsRequest sr = RINGD__TENANT_STATS_REQUEST__INIT;

	rq.msg_case = RINGD__REQUEST__MSG_TENANT_STATS;
	rq.tenant_stats = &sr;
	return cc_stats_call(rd, &rq, st);
}

int cc_list_volumes(struct ringd *rd, char ***names, size_t *count)
{
	char **out = NULL, **grown;
	size_t n = 0, i;
	uint32_t off = 0;
	int ret;

	for (;;) {
		Ringd__Request rq = RINGD__REQUEST__INIT;
		Ringd__ListVolumes lv = RINGD__LIST_VOLUMES__INIT;
		Ringd__Reply *r;
		bool more;

		lv.has_offset = 1;
		lv.offset = off;
		rq.msg_case = RINGD__REQUEST__MSG_LIST_VOLUMES;
		rq.list_volumes = &lv;
		ret = cc_call(rd, rd->sock, &rq, &r, NULL, 0, NULL);
		if (ret)
			goto out_free;
		if (r->msg_case != RINGD__REPLY__MSG_VOLUMES ||
		    (r->volumes->more && r->volumes->next_offset <= off)) {
			ringd__reply__free_unpacked(r, NULL);
			ret = -EBADMSG;
			goto out_free;
		}
		grown = realloc(out, (n + r->volumes->n_names + 1) * sizeof(*out));
		if (!grown) {
			ringd__reply__free_unpacked(r, NULL);
			ret = -ENOMEM;
			goto out_free;
		}
		out = grown;
		for (i = 0; i < r->volumes->n_names; i++) {
			out[n] = strdup(r->volumes->names[i]);
			if (!out[n]) {
				ringd__reply__free_unpacked(r, NULL);
				ret = -ENOMEM;
				goto out_free;
			}
			n++;
		}
		more = r->volumes->more;
		off = r->volumes->next_offset;
		ringd__reply__free_unpacked(r, NULL);
		if (!more)
			break;
	}
	*names = out;
	*count = n;
	return 0;

out_free:
	for (i = 0; i < n; i++)
		free(out[i]);
	free(out);
	return ret;
}

static int cc_stats_call(struct ringd *rd, Ringd__Request *rq, struct ringd_stats *st)
{
	Ringd__Reply *r;
	int ret;

	ret = cc_call(rd, rd->sock, rq, &r, NULL, 0, NULL);
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
