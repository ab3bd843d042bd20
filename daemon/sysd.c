/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "sysd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"

static uint64_t sysd_wd_usec;
static uint64_t sysd_wd_last_ms;
static bool sysd_wd_probed;

static struct sysd_fd *sysd_fds;
static int sysd_nfds;

int sysd_collect_fds(void)
{
	char **names = NULL;
	int n, i;

	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0)
		return n < 0 ? n : 0;
	sysd_fds = calloc((size_t)n, sizeof(*sysd_fds));
	if (!sysd_fds) {
		for (i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		n = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		sysd_fds[i].fd = SD_LISTEN_FDS_START + i;
		/* Passed fds are not close-on-exec; ours all are. */
		fcntl(sysd_fds[i].fd, F_SETFD, FD_CLOEXEC);
		snprintf(sysd_fds[i].name, sizeof(sysd_fds[i].name), "%s",
			 names && names[i] ? names[i] : "unknown");
	}
	sysd_nfds = n;
	log_info("systemd passed %d fds", n);
out_free:
	for (i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	return n;
}

int sysd_take_fd(const char *name)
{
	int i;

	for (i = 0; i < sysd_nfds; i++) {
		if (!sysd_fds[i].taken && !strcmp(sysd_fds[i].name, name)) {
			sysd_fds[i].taken = true;
			return sysd_fds[i].fd;
		}
	}
	return -ENOENT;
}

int sysd_take_listen_fd(void)
{
	int i;

	for (i = 0; i < sysd_nfds; i++) {
		int fd = sysd_fds[i].fd, fl;

		if (sysd_fds[i].taken || sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
			continue;
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			continue;
		sysd_fds[i].taken = true;
		log_info("using the listening socket passed by systemd (%s)", sysd_fds[i].name);
		return fd;
	}
	return -ENOENT;
}

void sysd_release_unclaimed(void)
{
	int i;

	for (i = 0; i < sysd_nfds; i++) {
		if (sysd_fds[i].taken)
			continue;
		log_info("dropping stale stored fd '%s'", sysd_fds[i].name);
		sysd_fdstore_remove(sysd_fds[i].name);
		close(sysd_fds[i].fd);
	}
	free(sysd_fds);
	sysd_fds = NULL;
	sysd_nfds = 0;
}

bool sysd_fdstore_enabled(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	return e && *e;
}

/*
 * Notifications are sent by hand rather than with sd_notify(): libsystemd
 * sends with a blocking sendmsg(), and a notify socket whose queue is full
 * (systemd busy, or a test that never reads) would stop the whole event
 * loop. Ours never blocks: a message that does not fit now waits in a
 * small queue (fd-store messages keep a dup of their fd) and is sent again
 * from sysd_flush(), once per pass.
 */
#define SYSD_PENDING 128

struct sysd_msg {
	char text[320];
	int fd; /* dup of the fd to store, or -1 */
};

static int sysd_sock = -1;
static struct sockaddr_un sysd_addr;
static socklen_t sysd_addrlen;
static struct sysd_msg sysd_pending[SYSD_PENDING];
static unsigned int sysd_npending;
static uint64_t sysd_dropped;

/* The notify socket's address, once. Returns 0 or -errno. */
static int sysd_open(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t len;

	if (sysd_sock >= 0)
		return 0;
	if (!e || !*e)
		return -ENOENT;
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len >= sizeof(sysd_addr.sun_path))
		return -EINVAL;
	memset(&sysd_addr, 0, sizeof(sysd_addr));
	sysd_addr.sun_family = AF_UNIX;
	memcpy(sysd_addr.sun_path, e, len);
	if (e[0] == '@')
		sysd_addr.sun_path[0] = '\0'; /* abstract namespace */
	sysd_addrlen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '@' ? 0 : 1));
	sysd_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return sysd_sock < 0 ? -errno : 0;
}

/* One non-blocking send of @text (with @fd if >= 0). Returns 0 or -errno. */
static int sysd_send_now(const char *text, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr msg = {
		.msg_name = &sysd_addr,
		.msg_namelen = sysd_addrlen,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(sysd_sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/*
 * Send @text (with @fd if >= 0), queued behind earlier messages that did
 * not fit. Never blocks. Returns 0 (sent or queued) or -errno.
 */
static int sysd_send(const char *text, int fd)
{
	struct sysd_msg *m;
	int ret = sysd_open();

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (!sysd_npending) {
		ret = sysd_send_now(text, fd);
		if (ret != -EAGAIN)
			return ret;
	}
	if (sysd_npending == SYSD_PENDING) {
		if (!sysd_dropped++)
			log_warn("notify socket: %u messages wait for systemd; dropping more "
				 "(counted)",
				 SYSD_PENDING);
		return -EAGAIN;
	}
	m = &sysd_pending[sysd_npending];
	snprintf(m->text, sizeof(m->text), "%s", text);
	m->fd = -1;
	if (fd >= 0) {
		m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (m->fd < 0)
			return -errno;
	}
	if (!sysd_npending)
		log_warn("notify socket is full: messages to systemd wait (the loop goes on)");
	sysd_npending++;
	return 0;
}

void sysd_flush(void)
{
	unsigned int i, sent = 0;

	for (i = 0; i < sysd_npending; i++) {
		if (sysd_send_now(sysd_pending[i].text, sysd_pending[i].fd) == -EAGAIN)
			break;
		if (sysd_pending[i].fd >= 0)
			close(sysd_pending[i].fd);
		sent++;
	}
	if (!sent)
		return;
	memmove(sysd_pending, sysd_pending + sent, (sysd_npending - sent) * sizeof(*sysd_pending));
	sysd_npending -= sent;
	if (!sysd_npending)
		log_info("notify socket drained%s",
			 sysd_dropped ? "; some messages were dropped" : "");
}

unsigned int sysd_pending_count(void)
{
	return sysd_npending;
}

static void __attribute__((format(printf, 2, 3))) sysd_sendf(int fd, const char *fmt, ...)
{
	char text[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sysd_send(text, fd);
}

int sysd_fdstore(const char *name, int fd)
{
	char msg[320];
	int ret;

	if (!sysd_fdstore_enabled())
		return 0;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	ret = sysd_send(msg, fd);
	if (ret < 0) {
		log_warn("fd store: cannot keep '%s': %s", name, strerror(-ret));
		return ret;
	}
	return 0;
}

void sysd_fdstore_remove(const char *name)
{
	unsigned int i;

	if (!sysd_fdstore_enabled())
		return;
	/* Not sent yet: forget it rather than store and remove it. */
	for (i = 0; i < sysd_npending; i++) {
		const char *n = strstr(sysd_pending[i].text, "FDNAME=");

		if (sysd_pending[i].fd >= 0 && n && !strcmp(n + 7, name) &&
		    !strncmp(sysd_pending[i].text, "FDSTORE=1", 9)) {
			close(sysd_pending[i].fd);
			memmove(&sysd_pending[i], &sysd_pending[i + 1],
				(sysd_npending - i - 1) * sizeof(*sysd_pending));
			sysd_npending--;
			return;
		}
	}
	sysd_sendf(-1, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}

uint64_t sysd_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (!sysd_wd_probed) {
		sysd_wd_probed = true;
		if (sd_watchdog_enabled(0, &usec) > 0)
			sysd_wd_usec = usec;
	}
	return sysd_wd_usec;
}

void sysd_ready(unsigned int sessions, unsigned int volumes)
{
	sysd_sendf(-1, "READY=1\nSTATUS=serving %u volumes, %u sessions", volumes, sessions);
}

void sysd_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* MONOTONIC_USEC lets Type=notify-reload services be tracked too. */
	sysd_sendf(-1, "RELOADING=1\nSTATUS=reloading configuration\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ull +
		       (unsigned long long)ts.tv_nsec / 1000);
}

void sysd_stopping(void)
{
	sysd_send("STOPPING=1\nSTATUS=draining in-flight I/O and stopping", -1);
}

void sysd_status(unsigned int sessions, unsigned int volumes, uint64_t inflight)
{
	sysd_sendf(-1, "STATUS=serving %u volumes, %u sessions, %llu requests in flight", volumes,
		   sessions, (unsigned long long)inflight);
}

void sysd_watchdog_tick(uint64_t now_ms)
{
	uint64_t usec = sysd_watchdog_usec();

	if (!usec)
		return;
	if (now_ms - sysd_wd_last_ms >= usec / 2000) {
		sysd_send("WATCHDOG=1", -1);
		sysd_wd_last_ms = now_ms;
	}
}
