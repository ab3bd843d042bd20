/* SPDX-License-Identifier: MIT */
/* The stand-in control plane of client_fake.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client_fake.h"
#include "ringd.pb-c.h"

#define FAKE_DEFAULT_SQ	  8u
#define FAKE_DEFAULT_DATA (64u << 10)
#define FAKE_FIRST_HANDLE 100

static void fake_send(struct fake_daemon *f, const Ringd__Reply *r, const int *fds,
		      unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} cbuf;
	uint8_t buf[4096];
	struct iovec iov = { .iov_base = buf, .iov_len = ringd__reply__get_packed_size(r) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	ringd__reply__pack(r, buf);
	if (nfds) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(f->conn, &msg, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "fake daemon: sendmsg: %s\n", strerror(errno));
}

static void fake_error(struct fake_daemon *f, int err, const char *message)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Error e = RINGD__ERROR__INIT;

	e.errno_code = err;
	e.message = (char *)message;
	r.msg_case = RINGD__REPLY__MSG_ERROR;
	r.error = &e;
	fake_send(f, &r, NULL, 0);
}

/* A new session for @h: region, doorbell, ring-liveness pipe. */
static void fake_hello(struct fake_daemon *f, const Ringd__Hello *h)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Attached a = RINGD__ATTACHED__INIT;
	uint32_t sq = h->has_sq_entries && h->sq_entries ? h->sq_entries : FAKE_DEFAULT_SQ;
	uint32_t cq = h->has_cq_entries && h->cq_entries ? h->cq_entries : 2 * sq;
	uint64_t data = h->has_data_size && h->data_size ? h->data_size : FAKE_DEFAULT_DATA;
	struct rg_layout l;
	int wake[2], live[2], fds[3];

	if (f->refuse_errno) {
		fake_error(f, f->refuse_errno, f->refuse_message);
		return;
	}
	if (f->reg.base)
		test_region_destroy(&f->reg);
	test_layout(sq, cq, data, &l);
	if (test_region_create(&l, f->first_index + 16 * f->sessions, &f->reg) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, wake) || pipe2(live, O_CLOEXEC)) {
		fake_error(f, EIO, "fake daemon: out of resources");
		return;
	}
	f->sessions++;
	f->wake_peer = wake[1];
	f->ringlive_w = live[1];
	a.session_id = f->sessions;
	a.sq_entries = l.sq_entries;
	a.cq_entries = l.cq_entries;
	a.region_size = l.region_size + (f->bad_layout ? 4096 : 0);
	a.sq_array_off = l.sq_array_off;
	a.sqes_off = l.sqes_off;
	a.cqes_off = l.cqes_off;
	a.data_off = l.data_off;
	a.data_size = l.data_size;
	a.max_io_size = 1u << 20;
	r.msg_case = RINGD__REPLY__MSG_ATTACHED;
	r.attached = &a;
	fds[0] = f->reg.memfd;
	fds[1] = wake[0];
	fds[2] = live[0];
	fake_send(f, &r, fds, 3);
	close(wake[0]);
	close(live[0]);
}

static void fake_end_session(struct fake_daemon *f);

static void fake_request(struct fake_daemon *f, const Ringd__Request *rq)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Opened o = RINGD__OPENED__INIT;
	Ringd__Closed c = RINGD__CLOSED__INIT;
	Ringd__Stats st = RINGD__STATS__INIT;

	switch (rq->msg_case) {
	case RINGD__REQUEST__MSG_HELLO:
		fake_hello(f, rq->hello);
		return;
	case RINGD__REQUEST__MSG_OPEN:
		if (f->die_in_session && f->sessions == f->die_in_session) {
			/* Killed under the call: no reply, everything hung up. */
			f->die_in_session = 0;
			fake_end_session(f);
			return;
		}
		snprintf(f->last_open, sizeof(f->last_open), "%s", rq->open->name);
		o.handle = FAKE_FIRST_HANDLE + (int)f->opens++;
		o.size = 1u << 20;
		o.block_size = 512;
		o.align = 1;
		o.flags = RINGD_VOL_DIRECT;
		r.msg_case = RINGD__REPLY__MSG_OPENED;
		r.opened = &o;
		break;
	case RINGD__REQUEST__MSG_CLOSE:
		f->closes++;
		f->last_close = rq->close->handle;
		r.msg_case = RINGD__REPLY__MSG_CLOSED;
		r.closed = &c;
		break;
	case RINGD__REQUEST__MSG_STATS:
		st.has_submitted = 1;
		st.submitted = 7;
		st.has_inflight = 1;
		st.inflight = 2;
		r.msg_case = RINGD__REPLY__MSG_STATS;
		r.stats = &st;
		break;
	default:
		fake_error(f, EPROTO, "fake daemon: unexpected request");
		return;
	}
	fake_send(f, &r, NULL, 0);
}

static void fake_end_session(struct fake_daemon *f)
{
	if (f->reg.base)
		__atomic_store_n(&f->reg.hdr->broken_reason, RINGD_BROKEN_SHUTDOWN,
				 __ATOMIC_RELEASE);
	if (f->conn >= 0)
		close(f->conn);
	if (f->wake_peer >= 0)
		close(f->wake_peer);
	if (f->ringlive_w >= 0)
		close(f->ringlive_w);
	f->conn = f->wake_peer = f->ringlive_w = -1;
}

static void *fake_main(void *arg)
{
	struct fake_daemon *f = arg;
	uint8_t buf[4096];

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = f->cmd[0], .events = POLLIN },
			{ .fd = f->listen_fd, .events = POLLIN },
			{ .fd = f->conn, .events = POLLIN },
		};
		char cmd;

		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			if (read(f->cmd[0], &cmd, 1) != 1 || cmd == 'Q')
				break;
			if (cmd == 'S')
				fake_end_session(f);
			if (write(f->ack[1], &cmd, 1) != 1)
				break;
			continue;
		}
		if ((pfd[1].revents & POLLIN) && f->conn < 0)
			f->conn = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (f->conn >= 0 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = recv(f->conn, buf, sizeof(buf), 0);
			Ringd__Request *rq;

			if (n <= 0) {
				close(f->conn);
				f->conn = -1;
				continue;
			}
			rq = ringd__request__unpack(NULL, (size_t)n, buf);
			if (!rq) {
				fake_error(f, EBADMSG, "fake daemon: bad request");
				continue;
			}
			fake_request(f, rq);
			ringd__request__free_unpacked(rq, NULL);
		}
	}
	return NULL;
}

int fake_start(struct fake_daemon *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret;

	f->conn = f->wake_peer = f->ringlive_w = -1;
	f->reg.base = NULL;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ringd-fake.XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	snprintf(f->path, sizeof(f->path), "%s/ringd.sock", f->dir);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	f->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0)
		return -errno;
	if (bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->listen_fd, 8) < 0 || pipe2(f->cmd, O_CLOEXEC) < 0 ||
	    pipe2(f->ack, O_CLOEXEC) < 0)
		return -errno;
	ret = pthread_create(&f->thread, NULL, fake_main, f);
	return -ret;
}

static void fake_command(struct fake_daemon *f, char cmd)
{
	char a;

	if (write(f->cmd[1], &cmd, 1) != 1)
		return;
	if (cmd != 'Q' && read(f->ack[0], &a, 1) != 1)
		return;
}

void fake_shutdown_session(struct fake_daemon *f)
{
	fake_command(f, 'S');
}

void fake_stop(struct fake_daemon *f)
{
	fake_command(f, 'Q');
	pthread_join(f->thread, NULL);
	fake_end_session(f);
	if (f->reg.base)
		test_region_destroy(&f->reg);
	close(f->listen_fd);
	close(f->cmd[0]);
	close(f->cmd[1]);
	close(f->ack[0]);
	close(f->ack[1]);
	unlink(f->path);
	rmdir(f->dir);
}
