/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct srv g_srv;
static char g_dir[64];
static int g_ready;

static void fz_cleanup(void)
{
	char cmd[128];

	if (!g_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	(void)!system(cmd);
}

struct srv *fz_srv(void)
{
	char conf[128], err[512];
	struct cfg cfg;
	FILE *f;
	int ret;

	if (g_ready)
		return &g_srv;
	snprintf(g_dir, sizeof(g_dir), "/tmp/ringd-fuzz.XXXXXX");
	if (!mkdtemp(g_dir))
		abort();
	atexit(fz_cleanup);
	snprintf(conf, sizeof(conf), "%s/ringd.conf", g_dir);
	f = fopen(conf, "we");
	if (!f)
		abort();
	fprintf(f,
		"[daemon]\n"
		"socket = %s/ringd.sock\n"
		"state_dir = %s/state\n"
		"log_level = error\n"
		"max_io_size = %u\n"
		"max_sessions = 8\n"
		"\n"
		"[volume v]\n"
		"path = v.img\n"
		"create_size = %u\n"
		"\n"
		"[volume ro]\n"
		"path = v.img\n"
		"create_size = %u\n"
		"readonly = yes\n"
		"\n"
		"[tenant t]\n"
		"uid = %u\n"
		"volumes = v:rw, ro:ro\n"
		"max_session_memory = 1M\n"
		"max_inflight = 32\n"
		"max_tenant_inflight = 48\n"
		"max_open_volumes = 4\n",
		g_dir, g_dir, FZ_MAX_IO, FZ_VOL_SIZE, FZ_VOL_SIZE, (unsigned int)getuid());
	fclose(f);
	ret = cfg_load(conf, &cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "fuzz config: %s\n", err);
		abort();
	}
	ret = srv_init(&g_srv, &cfg);
	if (ret) {
		fprintf(stderr, "fuzz srv_init: %s\n", strerror(-ret));
		abort();
	}
	g_ready = 1;
	return &g_srv;
}

int fz_sess_new(struct srv *s, struct sess **out, int *peer)
{
	int sp[2], ret;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	ret = sess_new(&s->st, sp[0], getpid(), getuid(), getgid(), 0, out);
	if (ret) {
		close(sp[0]);
		close(sp[1]);
		return ret;
	}
	*peer = sp[1];
	return 0;
}

void fz_drain(int peer)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;
	char b[8192];

	for (;;) {
		struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf.buf,
				    .msg_controllen = sizeof(cbuf.buf) };
		struct cmsghdr *c;

		if (recvmsg(peer, &m, MSG_DONTWAIT) < 0)
			return;
		/* The Attached reply passes fds: do not leak them. */
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t i, n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

void fz_reap(struct srv *s, int wait)
{
	/* Wait only for something that will come: a request or a poll end. */
	rg_wait(&s->rg, wait, 1000000ull);
	srv_reap(s);
}

void fz_sess_end(struct srv *s, struct sess *se)
{
	uint32_t slot = se->slot;
	int i;

	sess_close(&s->st, se);
	for (i = 0; i < 5000 && s->st.slot[slot]; i++)
		fz_reap(s, 1);
	if (s->st.slot[slot]) {
		fprintf(stderr, "session in slot %u was not freed\n", slot);
		abort();
	}
}
