/* SPDX-License-Identifier: MIT */
/* ut_: scratch directories, config files and fd counts for the unit suites. */
#define _GNU_SOURCE
#include "unit_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tags.h"

void ut_tmpdir(char *dir)
{
	snprintf(dir, PATH_MAX, "/var/tmp/ringd-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
}

static int ut_rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void ut_rmtree(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, ut_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void ut_write(const char *dir, const char *name, const char *body, char *path)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8];
	size_t n = strlen(body);
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	/* Written aside then renamed: a reader never sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.new", p);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "open %s", tmp);
	cr_assert_eq(write(fd, body, n), (ssize_t)n, "write %s", tmp);
	close(fd);
	cr_assert_eq(rename(tmp, p), 0, "rename %s", p);
	if (path)
		snprintf(path, PATH_MAX, "%s", p);
}

void ut_cfg_load(const char *path, struct cfg *c)
{
	char err[PATH_MAX + 512];
	int ret = cfg_load(path, c, err, sizeof(err));

	cr_assert_eq(ret, 0, "cfg_load %s: %s", path, err);
}

int ut_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "/proc/self/fd");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

struct rg_params ut_rg_params(unsigned int nr_bufs)
{
	struct rg_params p;

	memset(&p, 0, sizeof(p));
	p.entries = 64;
	p.nr_files = 8;
	p.nr_bufs = nr_bufs;
	p.sqpoll_cpu = -1;
	p.pt_event_tag = srv_tag(TAG_KRING, 0);
	return p;
}

Ringd__Reply *ut_recv_reply(int fd, unsigned int *nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t buf[4096];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh;
	struct cmsghdr *cm;
	Ringd__Reply *r;
	unsigned int n = 0, i;
	ssize_t len;

	cr_assert_eq(poll(&pfd, 1, 2000), 1, "no reply within 2 s");
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	len = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	cr_assert_gt(len, 0, "recvmsg: %zd (%s)", len, strerror(errno));
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int rfd;

			memcpy(&rfd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			close(rfd);
			n++;
		}
	}
	if (nfds)
		*nfds = n;
	r = ringd__reply__unpack(NULL, (size_t)len, buf);
	cr_assert_not_null(r, "reply does not decode");
	return r;
}
