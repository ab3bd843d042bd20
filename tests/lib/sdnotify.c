/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "sdnotify.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t rt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *rt_notify_thread(void *arg);

int rt_notify_open(struct rt_notify *n, const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1;

	memset(n, 0, sizeof(*n));
	snprintf(n->path, sizeof(n->path), "%s/notify.sock", dir);
	n->ev = calloc(RT_NOTIFY_MAX_EV, sizeof(*n->ev));
	if (!n->ev)
		return -ENOMEM;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0)
		return -errno;
	setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	memcpy(sa.sun_path, n->path, strlen(n->path) + 1);
	unlink(n->path);
	if (bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	pthread_mutex_init(&n->lock, NULL);
	n->stop = false;
	if (pthread_create(&n->thread, NULL, rt_notify_thread, n))
		return -EAGAIN;
	return 0;
}

void rt_notify_close(struct rt_notify *n)
{
	unsigned int i;

	n->stop = true;
	pthread_join(n->thread, NULL);
	for (i = 0; i < n->nfds; i++)
		if (n->fds[i] >= 0)
			close(n->fds[i]);
	if (n->fd >= 0)
		close(n->fd);
	unlink(n->path);
	free(n->ev);
	n->ev = NULL;
}

/* Value of "KEY=" in @msg into @out, or "" */
static void rt_field(const char *msg, const char *key, char *out, size_t len)
{
	const char *p = msg;
	size_t kl = strlen(key);

	out[0] = '\0';
	while (p && *p) {
		if (!strncmp(p, key, kl)) {
			const char *e = strchr(p, '\n');
			size_t vl = e ? (size_t)(e - p - kl) : strlen(p + kl);

			if (vl >= len)
				vl = len - 1;
			memcpy(out, p + kl, vl);
			out[vl] = '\0';
			return;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

static void rt_store_fds(struct rt_notify *n, const char *msg, const int *fds, unsigned int k)
{
	char name[64];
	unsigned int i;

	rt_field(msg, "FDNAME=", name, sizeof(name));
	if (!name[0])
		snprintf(name, sizeof(name), "stored");
	for (i = 0; i < k; i++) {
		if (n->nfds >= RT_NOTIFY_MAX_FDS) {
			close(fds[i]);
			continue;
		}
		n->fds[n->nfds] = fds[i];
		snprintf(n->names[n->nfds], sizeof(n->names[0]), "%s", name);
		n->nfds++;
	}
}

/* FDSTOREREMOVE=1 with FDNAME=: drop every stored fd of that name. */
static void rt_remove_fds(struct rt_notify *n, const char *msg)
{
	char name[64];
	unsigned int i, j = 0;

	rt_field(msg, "FDNAME=", name, sizeof(name));
	for (i = 0; i < n->nfds; i++) {
		if (!strcmp(n->names[i], name)) {
			close(n->fds[i]);
			continue;
		}
		n->fds[j] = n->fds[i];
		memcpy(n->names[j], n->names[i], sizeof(n->names[0]));
		j++;
	}
	n->nfds = j;
}

/* Receive every message waiting. Called with the lock held. */
static void rt_notify_recv(struct rt_notify *n)
{
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		} cbuf;
		char msg[4096];
		struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) - 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf.buf,
				     .msg_controllen = sizeof(cbuf.buf) };
		struct cmsghdr *c;
		int fds[253];
		unsigned int k = 0;
		ssize_t r = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (r < 0)
			return;
		msg[r] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				memcpy(fds, CMSG_DATA(c), k * sizeof(int));
			}
		}
		if (strstr(msg, "FDSTORE=1") && !n->discard_fds)
			rt_store_fds(n, msg, fds, k);
		else
			while (k)
				close(fds[--k]);
		if (strstr(msg, "FDSTOREREMOVE=1"))
			rt_remove_fds(n, msg);
		/* The store is kept above; a storm of opened and closed files
		 * must not fill the log that READY=1 is looked for in. */
		if (strstr(msg, "FDSTORE") && !strstr(msg, "READY=1"))
			continue;
		if (n->nev < RT_NOTIFY_MAX_EV) {
			n->ev[n->nev].t_ms = rt_now_ms();
			size_t l = strnlen(msg, sizeof(n->ev[0].msg) - 1);

			memcpy(n->ev[n->nev].msg, msg, l);
			n->ev[n->nev].msg[l] = '\0';
			n->nev++;
		}
	}
}

static void *rt_notify_thread(void *arg)
{
	struct rt_notify *n = arg;

	while (!n->stop) {
		struct pollfd pfd = { .fd = n->fd, .events = POLLIN };

		if (poll(&pfd, 1, 20) > 0) {
			pthread_mutex_lock(&n->lock);
			rt_notify_recv(n);
			pthread_mutex_unlock(&n->lock);
		}
	}
	return NULL;
}

void rt_notify_pump(struct rt_notify *n, int timeout_ms)
{
	if (timeout_ms > 0)
		usleep((useconds_t)timeout_ms * 1000);
	pthread_mutex_lock(&n->lock);
	rt_notify_recv(n);
	pthread_mutex_unlock(&n->lock);
}

unsigned int rt_notify_stored(struct rt_notify *n, int *fds, char (*names)[64], unsigned int max)
{
	unsigned int i, k;

	pthread_mutex_lock(&n->lock);
	rt_notify_recv(n);
	k = n->nfds < max ? n->nfds : max;
	for (i = 0; i < k; i++) {
		fds[i] = n->fds[i];
		memcpy(names[i], n->names[i], 64);
	}
	pthread_mutex_unlock(&n->lock);
	return k;
}

bool rt_notify_has(const struct rt_notify *n, unsigned int i, const char *line)
{
	size_t ll = strlen(line);
	bool prefix = ll && line[ll - 1] == '=';
	const char *p = n->ev[i].msg;

	while (p && *p) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (prefix ? !strncmp(p, line, ll) : (l == ll && !strncmp(p, line, ll)))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

int rt_notify_wait(struct rt_notify *n, const char *line, unsigned int from, int timeout_ms)
{
	uint64_t deadline = rt_now_ms() + (uint64_t)timeout_ms;
	unsigned int i = from;

	for (;;) {
		pthread_mutex_lock(&n->lock);
		for (; i < n->nev; i++) {
			if (rt_notify_has(n, i, line)) {
				pthread_mutex_unlock(&n->lock);
				return (int)i;
			}
		}
		pthread_mutex_unlock(&n->lock);
		if (rt_now_ms() >= deadline)
			return -1;
		usleep(5000);
	}
}

struct rt_notify_env {
	const char *notify;
	int *fds;
	char (*names)[64];
	unsigned int nfds;
};

/* Child side of a launch: pass the stored fds as systemd does. */
static void rt_notify_pass_fds(void *arg)
{
	struct rt_notify_env *e = arg;
	static char names[RT_NOTIFY_MAX_FDS * 65];
	char num[32];
	int high[RT_NOTIFY_MAX_FDS];
	size_t off = 0;
	unsigned int i;

	names[0] = '\0';
	setenv("NOTIFY_SOCKET", e->notify, 1);
	for (i = 0; i < e->nfds; i++)
		high[i] = fcntl(e->fds[i], F_DUPFD_CLOEXEC, 2000);
	for (i = 0; i < e->nfds; i++) {
		dup2(high[i], 3 + (int)i);
		close(high[i]);
		off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", i ? ":" : "",
					e->names[i]);
	}
	if (!e->nfds)
		return;
	snprintf(num, sizeof(num), "%u", e->nfds);
	setenv("LISTEN_FDS", num, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

int rt_notify_launch(struct rt_notify *n, struct rt_daemon *d, bool use_store)
{
	static int fds[RT_NOTIFY_MAX_FDS];
	static char names[RT_NOTIFY_MAX_FDS][64];
	struct rt_notify_env e = { .notify = n->path, .fds = fds, .names = names };
	unsigned int from;
	int ret;

	e.nfds = use_store ? rt_notify_stored(n, fds, names, RT_NOTIFY_MAX_FDS) : 0;
	pthread_mutex_lock(&n->lock);
	from = n->nev;
	pthread_mutex_unlock(&n->lock);
	ret = rt_daemon_launch_with(d, rt_notify_pass_fds, &e, NULL, false);
	if (ret)
		return ret;
	return rt_notify_wait(n, "READY=1", from, 15000) < 0 ? -ETIMEDOUT : 0;
}
