/* SPDX-License-Identifier: MIT */
/*
 * ns_ (layer A): the namespace worker's jobs on a real directory: paths
 * that leave it, symlinks planted in it, and each operation's result.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsworker.h"

static char g_dir[] = "/tmp/ringd-ns.XXXXXX";
static int g_fd = -1;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(g_dir));
	g_fd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(g_fd, 0);
}

static void teardown(void)
{
	char cmd[128];

	close(g_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(nsworker, .init = setup, .fini = teardown, .timeout = 10);

/* Run one job of @op on @path (and @path2) here; returns it (free it). */
static struct ns_job *run(enum ns_op op, const char *path, const char *path2, int oflags)
{
	struct ns_job *j = ns_job_new(op);

	cr_assert_not_null(j);
	j->dirfd = dup(g_fd);
	snprintf(j->path, sizeof(j->path), "%s", path);
	if (path2)
		snprintf(j->path2, sizeof(j->path2), "%s", path2);
	j->oflags = oflags;
	j->mode = 0600;
	ns_run(j);
	return j;
}

static int res_of(enum ns_op op, const char *path, const char *path2, int oflags)
{
	struct ns_job *j = run(op, path, path2, oflags);
	int res = j->res;

	ns_job_free(j);
	return res;
}

Test(nsworker, path_check_refuses_what_leaves_the_volume)
{
	char msg[128], longp[NS_PATH_MAX + 8];

	cr_assert_eq(ns_path_check("a/b.db", msg, sizeof(msg)), 0);
	cr_assert_eq(ns_path_check("a/..b/c", msg, sizeof(msg)), 0, "'..b' is a name");
	cr_assert_eq(ns_path_check("", msg, sizeof(msg)), -EINVAL);
	cr_assert_eq(ns_path_check("/etc/passwd", msg, sizeof(msg)), -EXDEV);
	cr_assert_eq(ns_path_check("..", msg, sizeof(msg)), -EXDEV);
	cr_assert_eq(ns_path_check("a/../../b", msg, sizeof(msg)), -EXDEV);
	cr_assert_eq(ns_path_check("a//..//b", msg, sizeof(msg)), -EXDEV);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(ns_path_check(longp, msg, sizeof(msg)), -ENAMETOOLONG);
}

Test(nsworker, path_check_refuses_more_than_32_components)
{
	char msg[128], p[2 * NS_DEPTH_MAX + 8];
	unsigned int i;

	for (i = 0; i < NS_DEPTH_MAX; i++)
		memcpy(p + 2 * i, "a/", 2);
	p[2 * NS_DEPTH_MAX - 1] = '\0';
	cr_assert_eq(ns_path_check(p, msg, sizeof(msg)), 0, "%s", msg);
	/* Trailing and doubled slashes make no components. */
	p[2 * NS_DEPTH_MAX - 1] = '/';
	p[2 * NS_DEPTH_MAX] = '/';
	p[2 * NS_DEPTH_MAX + 1] = '\0';
	cr_assert_eq(ns_path_check(p, msg, sizeof(msg)), 0, "%s", msg);
	p[2 * NS_DEPTH_MAX + 1] = 'b';
	p[2 * NS_DEPTH_MAX + 2] = '\0';
	cr_assert_eq(ns_path_check(p, msg, sizeof(msg)), -ENAMETOOLONG);
	cr_assert(strstr(msg, "33 components"), "%s", msg);
}

Test(nsworker, open_create_exclusive_and_stat)
{
	struct ns_job *j = run(NS_OPEN, "f", NULL, O_RDWR | O_CREAT);

	cr_assert_eq(j->res, 0, "%s", j->msg);
	cr_assert(j->created);
	cr_assert_geq(j->fd, 0);
	cr_assert(j->st.isreg);
	cr_assert_eq(pwrite(j->fd, "abc", 3, 0), 3);
	ns_job_free(j);
	j = run(NS_OPEN, "f", NULL, O_RDWR | O_CREAT);
	cr_assert_eq(j->res, 0);
	cr_assert_not(j->created, "it existed");
	cr_assert_eq(j->st.size, 3);
	ns_job_free(j);
	cr_assert_eq(res_of(NS_OPEN, "f", NULL, O_RDWR | O_CREAT | O_EXCL), -EEXIST);
	cr_assert_eq(res_of(NS_OPEN, "nope", NULL, O_RDWR), -ENOENT);
	j = run(NS_STAT, "f", NULL, 0);
	cr_assert_eq(j->res, 0);
	cr_assert_eq(j->st.size, 3);
	ns_job_free(j);
	cr_assert_eq(res_of(NS_MKDIR, "d", NULL, 0), 0);
	cr_assert_eq(res_of(NS_STAT, "d", NULL, 0), -EISDIR);
	cr_assert_eq(res_of(NS_OPEN, "d", NULL, O_RDWR), -EISDIR);
}

Test(nsworker, symlinks_and_fifos_planted_by_root_are_refused)
{
	struct ns_job *j;
	char p[64];

	cr_assert_eq(symlinkat("/etc/passwd", g_fd, "l"), 0);
	cr_assert_eq(symlinkat("/tmp", g_fd, "ld"), 0);
	cr_assert_eq(mkfifoat(g_fd, "fifo", 0600), 0);
	j = run(NS_OPEN, "l", NULL, O_RDONLY);
	cr_assert_eq(j->res, -ELOOP);
	cr_assert(strstr(j->msg, "symbolic link"), "%s", j->msg);
	ns_job_free(j);
	cr_assert_eq(res_of(NS_OPEN, "ld/x", NULL, O_RDWR | O_CREAT), -ELOOP);
	cr_assert_eq(res_of(NS_MKDIR, "ld/x", NULL, 0), -ELOOP);
	cr_assert_eq(res_of(NS_RENAME, "fifo", "ld/x", 0), -ELOOP);
	cr_assert_eq(res_of(NS_STAT, "ld/x", NULL, 0), -ELOOP);
	/* A FIFO opens without blocking and is refused. */
	cr_assert_eq(res_of(NS_OPEN, "fifo", NULL, O_RDWR), -EINVAL);
	cr_assert_eq(res_of(NS_OPEN, "/etc/passwd", NULL, O_RDONLY), -EXDEV);
	cr_assert_eq(res_of(NS_OPEN, "../x", NULL, O_RDONLY), -EXDEV);
	/* Unlinking the link removes the link only. */
	cr_assert_eq(res_of(NS_UNLINK, "l", NULL, 0), 0);
	snprintf(p, sizeof(p), "/etc/passwd");
	cr_assert_eq(access(p, F_OK), 0);
}

Test(nsworker, rename_reports_the_file_it_replaced_and_unlink_what_it_removed)
{
	struct ns_job *j = run(NS_OPEN, "a", NULL, O_RDWR | O_CREAT);

	cr_assert_eq(ftruncate(j->fd, 100), 0);
	ns_job_free(j);
	j = run(NS_OPEN, "b", NULL, O_RDWR | O_CREAT);
	cr_assert_eq(ftruncate(j->fd, 50), 0);
	ns_job_free(j);
	j = run(NS_RENAME, "a", "b", 0);
	cr_assert_eq(j->res, 0, "%s", j->msg);
	cr_assert(j->gone.valid && j->gone.isreg);
	cr_assert_eq(j->gone.size, 50);
	ns_job_free(j);
	j = run(NS_UNLINK, "b", NULL, 0);
	cr_assert_eq(j->res, 0);
	cr_assert_eq(j->st.size, 100);
	ns_job_free(j);
	cr_assert_eq(res_of(NS_UNLINK, "b", NULL, 0), -ENOENT);
	cr_assert_eq(res_of(NS_UNLINK, ".", NULL, 0), -EINVAL);
}

Test(nsworker, the_thread_runs_jobs_in_order_and_signals_its_eventfd)
{
	struct ns_worker w;
	struct pollfd pfd;
	struct ns_job *j, *done = NULL;
	unsigned int i, n = 0;

	cr_assert_eq(ns_start(&w), 0);
	for (i = 0; i < 20; i++) {
		j = ns_job_new(i % 2 ? NS_UNLINK : NS_OPEN);
		j->dirfd = dup(g_fd);
		snprintf(j->path, sizeof(j->path), "f");
		j->oflags = O_RDWR | O_CREAT | O_EXCL;
		j->mode = 0600;
		j->slot = i;
		ns_submit(&w, j);
	}
	pfd = (struct pollfd){ .fd = w.efd, .events = POLLIN };
	while (n < 20) {
		cr_assert_eq(poll(&pfd, 1, 5000), 1);
		for (done = ns_reap(&w); done; done = j) {
			j = done->next;
			cr_assert_eq(done->slot, n, "in order");
			cr_assert_eq(done->res, 0, "job %u: %s", n, done->msg);
			n++;
			ns_job_free(done);
		}
	}
	ns_stop(&w);
}

/* Jobs run smallest tag first, the oldest first among equal tags. */
Test(nsworker, the_queue_is_ordered_by_tag_then_age)
{
	static const uint64_t tags[] = { 5, 1, 5, 3, 1, 9, 0 };
	static const unsigned int order[] = { 6, 1, 4, 3, 0, 2, 5 };
	struct ns_worker w;
	struct ns_job *j;
	unsigned int i;

	/* No thread: the queue only. */
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		j = ns_job_new(NS_STAT);
		cr_assert_not_null(j);
		j->tag = tags[i];
		j->slot = i;
		ns_submit(&w, j);
	}
	cr_assert_eq(w.queued, sizeof(tags) / sizeof(tags[0]));
	for (i = 0, j = w.queue; j; i++, j = j->next) {
		cr_assert_eq(j->slot, order[i], "position %u: job %u", i, j->slot);
		if (!j->next)
			cr_assert_eq(w.queue_tail, j);
	}
	cr_assert_eq(i, sizeof(order) / sizeof(order[0]));
	while ((j = w.queue)) {
		w.queue = j->next;
		ns_job_free(j);
	}
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
}

/*
 * A session's shared memory made off the loop (H51): sealed against
 * shrinking and growing, every page made and mapped; dropped (unmapped,
 * its memfd closed) by an NS_UNMAP job.
 */
Test(nsworker, region_is_made_sealed_and_mapped_then_dropped)
{
	const uint64_t len = 8u << 20;
	struct ns_job *j = ns_job_new(NS_REGION);
	unsigned char vec[(8u << 20) / 4096];
	struct stat sb;
	size_t i;
	int seals;

	cr_assert_not_null(j);
	j->size = len;
	ns_run(j);
	cr_assert_eq(j->res, 0, "%s", j->msg);
	cr_assert_geq(j->fd, 0);
	cr_assert_not_null(j->map);
	cr_assert_eq(fstat(j->fd, &sb), 0);
	cr_assert_eq((uint64_t)sb.st_size, len);
	cr_assert_eq((uint64_t)sb.st_blocks * 512, len, "every page made: %lld blocks",
		     (long long)sb.st_blocks);
	seals = fcntl(j->fd, F_GET_SEALS);
	cr_assert_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	cr_assert_neq(ftruncate(j->fd, 4096), 0, "a sealed region shrank");
	cr_assert_eq(mincore(j->map, len, vec), 0);
	for (i = 0; i < sizeof(vec); i++)
		cr_assert(vec[i] & 1, "page %zu not made", i);
	((volatile char *)j->map)[len - 1] = 1;
	j->op = NS_UNMAP;
	ns_run(j);
	cr_assert_null(j->map);
	cr_assert_eq(j->fd, -1);
	ns_job_free(j);
}
