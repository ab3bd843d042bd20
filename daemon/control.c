/* SPDX-License-Identifier: MIT */
/*
 * The control socket: unix SOCK_SEQPACKET, one protobuf message per packet,
 * capped at CTL_MAX_MSG bytes before anything is unpacked. The daemon never
 * blocks on a client: every send is MSG_DONTWAIT, and a client that cannot
 * take its reply at once is disconnected by the caller.
 */
#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int ctl_mkdirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX], *p;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* mkdir -p of the socket's directory (mode 0755: clients must reach it). */
static int ctl_mkdir_parent(const char *path)
{
	char dir[CFG_SOCK_MAX], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	return ctl_mkdirs(dir, 0755);
}

/*
 * Hold "<socket>.lock" (flock) for the daemon's lifetime: it tells a live
 * daemon from a dead one. Connecting to the old socket cannot: a killed
 * daemon's socket keeps accepting into its backlog until the kernel has
 * torn its io_uring down. Returns the lock fd or -errno.
 */
static int ctl_lock(const char *sock_path)
{
	char path[CFG_SOCK_MAX + 8];
	int fd;

	snprintf(path, sizeof(path), "%s.lock", sock_path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int ret = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;

		close(fd);
		if (ret == -EADDRINUSE)
			log_err("%s: another ringd is running (it holds %s)", sock_path, path);
		return ret;
	}
	return fd;
}

/* Remove a stale socket left by a dead daemon (we hold the lock). */
static int ctl_clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; refusing to replace it", sa->sun_path);
		return -EEXIST;
	}
	if (unlink(sa->sun_path) < 0)
		return -errno;
	return 0;
}

int ctl_listen(const struct cfg *cfg, int *out, int *lock_out)
{
	struct sockaddr_un sa;
	int fd, ret, lock;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, cfg->socket_path, strlen(cfg->socket_path) + 1);
	ret = ctl_mkdir_parent(cfg->socket_path);
	if (ret)
		return ret;
	lock = ctl_lock(cfg->socket_path);
	if (lock < 0)
		return lock;
	ret = ctl_clear_stale(&sa);
	if (ret)
		goto out_unlock;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto out_unlock;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out_close;
	}
	/* Who may do what is decided by the tenant entries, not by the mode. */
	if (chmod(sa.sun_path, cfg->socket_mode) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	if (cfg->has_socket_group && chown(sa.sun_path, (uid_t)-1, cfg->socket_group) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	if (listen(fd, 128) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	*out = fd;
	*lock_out = lock;
	return 0;

out_unlink:
	unlink(sa.sun_path);
out_close:
	close(fd);
out_unlock:
	close(lock);
	return ret;
}

int ctl_recv(int fd, Ringd__Request **out)
{
	return ctl_recv_peek(fd, out, false);
}

void ctl_drop(int fd)
{
	char b;

	/* SOCK_SEQPACKET: a short read discards the rest of the packet. */
	(void)!recv(fd, &b, 1, MSG_DONTWAIT | MSG_TRUNC);
}

int ctl_recv_peek(int fd, Ringd__Request **out, bool peek)
{
	uint8_t buf[CTL_MAX_MSG];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	/*
	 * No control buffer: clients never pass fds to the daemon, so any
	 * that come are a protocol error (MSG_CTRUNC), and the kernel drops
	 * them without installing one in our fd table. A flood of packets
	 * full of fds thus costs one recvmsg each, not an install and a
	 * close per fd.
	 */
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	Ringd__Request *req;
	ssize_t n;

	*out = NULL;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | (peek ? MSG_PEEK : 0));
	if (n < 0)
		return -errno;
	/* Before the EOF check: a zero-length packet can carry fds too. */
	if (msg.msg_flags & MSG_CTRUNC)
		return -EPROTO;
	if (n == 0)
		return -ECONNRESET;
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	req = ringd__request__unpack(NULL, (size_t)n, buf);
	if (!req)
		return -EBADMSG;
	if (req->msg_case == RINGD__REQUEST__MSG__NOT_SET) {
		ringd__request__free_unpacked(req, NULL);
		return -EBADMSG;
	}
	*out = req;
	return 0;
}

int ctl_send(int fd, const Ringd__Reply *r, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;
	uint8_t buf[CTL_MAX_MSG];
	struct iovec iov = { .iov_base = buf };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t len = ringd__reply__get_packed_size(r);

	if (len > sizeof(buf) || nfds > 4)
		return -EMSGSIZE;
	iov.iov_len = ringd__reply__pack(r, buf);
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

#define CTL_DRAIN_BATCH 64

void ctl_hangup(int fd)
{
	struct mmsghdr mm[CTL_DRAIN_BATCH];
	struct iovec iov[CTL_DRAIN_BATCH];
	char b[CTL_DRAIN_BATCH];
	unsigned int i;
	int n;

	/*
	 * After SHUT_RD nothing more can be queued to us, and an empty queue
	 * reads as EOF (0). One recvmmsg drops up to 64 packets (fds they
	 * carry are discarded by the kernel: no control buffer); the
	 * socket's backlog (net.unix.max_dgram_qlen) bounds the rest.
	 */
	shutdown(fd, SHUT_RDWR);
	/* The common case: nothing queued, one recv sees EOF. */
	if (recv(fd, b, 1, MSG_DONTWAIT | MSG_TRUNC) <= 0)
		goto out_close;
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < CTL_DRAIN_BATCH; i++) {
		iov[i].iov_base = &b[i];
		iov[i].iov_len = 1;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	/*
	 * At EOF each further entry reads as a 0-byte packet, so a batch
	 * ending in one means the queue is empty (or the client sent empty
	 * packets, and may see ECONNRESET: only a hostile one does that).
	 */
	for (i = 0; i < 16; i++) {
		n = recvmmsg(fd, mm, CTL_DRAIN_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n < CTL_DRAIN_BATCH || !mm[n - 1].msg_len)
			break;
	}
out_close:
	close(fd);
}

int ctl_send_error(int fd, int errnum, const char *fmt, ...)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Error e = RINGD__ERROR__INIT;
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	e.errno_code = errnum;
	e.message = text;
	r.msg_case = RINGD__REPLY__MSG_ERROR;
	r.error = &e;
	return ctl_send(fd, &r, NULL, 0);
}
