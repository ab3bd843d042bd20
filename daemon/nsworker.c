/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "nsworker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NS_NICE	   10 /* the worker thread's nice value */
#define NS_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

struct ns_job *ns_job_new(enum ns_op op)
{
	struct ns_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->op = op;
	j->dirfd = j->fd = -1;
	j->may_create = true;
	return j;
}

void ns_job_free(struct ns_job *j)
{
	if (!j)
		return;
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->map)
		munmap(j->map, j->size);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

/* Components of @path (empty ones, as in "a//b", are none). */
static unsigned int ns_depth(const char *path)
{
	unsigned int depth = 0;

	while (*path) {
		size_t l = strcspn(path, "/");

		depth += l != 0;
		path += l;
		while (*path == '/')
			path++;
	}
	return depth;
}

int ns_path_check(const char *path, char *msg, size_t len)
{
	const char *c = path;
	size_t n = strnlen(path, NS_PATH_MAX);
	unsigned int depth;

	if (!n) {
		snprintf(msg, len, "empty path");
		return -EINVAL;
	}
	if (n == NS_PATH_MAX) {
		snprintf(msg, len, "path longer than %d bytes", NS_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (path[0] == '/') {
		snprintf(msg, len, "'%s' is absolute: paths are relative to the volume", path);
		return -EXDEV;
	}
	while (*c) {
		size_t l = strcspn(c, "/");

		if (l == 2 && c[0] == '.' && c[1] == '.') {
			snprintf(msg, len, "'%s' goes up with '..': paths stay inside the volume",
				 path);
			return -EXDEV;
		}
		c += l;
		while (*c == '/')
			c++;
	}
	depth = ns_depth(path);
	if (depth > NS_DEPTH_MAX) {
		snprintf(msg, len,
			 "the path has %u components: a volume's trees are at most %d deep", depth,
			 NS_DEPTH_MAX);
		return -ENAMETOOLONG;
	}
	return 0;
}

/*
 * Whether the tree in directory @fd (taken: closed here) has anything more
 * than @room levels below it: 1 if so, 0 if not, or -errno. Its recursion
 * is at most @room + 1 deep.
 */
static int ns_deeper(int fd, unsigned int room)
{
	struct dirent *e;
	DIR *d = fdopendir(fd);
	int ret = 0;

	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while (!ret && (e = readdir(d))) {
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!room) {
			ret = 1;
			break;
		}
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			ret = ns_deeper(sub, room - 1);
		else if (errno != ENOTDIR && errno != ENOENT && errno != ELOOP)
			ret = -errno;
	}
	closedir(d);
	return ret;
}

static int ns_openat2(int dirfd, const char *path, int flags, unsigned mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = NS_RESOLVE,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

/* The job's answer for -errno @err on @path. */
static void ns_fail(struct ns_job *j, int err, const char *what, const char *path)
{
	j->res = err;
	if (err == -EDQUOT)
		snprintf(j->msg, sizeof(j->msg),
			 "%s '%s': the volume holds as many files and directories as its "
			 "max_entries allows",
			 what, path);
	else if (err == -EXDEV)
		snprintf(j->msg, sizeof(j->msg), "%s '%s': the path leaves the volume", what, path);
	else if (err == -ELOOP)
		snprintf(j->msg, sizeof(j->msg),
			 "%s '%s': the path goes through a symbolic link (refused)", what, path);
	else
		snprintf(j->msg, sizeof(j->msg), "%s '%s': %s", what, path, strerror(-err));
}

/*
 * Open the directory that holds @path's last component (beneath @dirfd)
 * and point *@name at that component. Returns the directory fd or -errno.
 */
static int ns_parent(int dirfd, const char *path, char *buf, const char **name)
{
	size_t n = strlen(path);
	char *slash;

	memcpy(buf, path, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash) {
		*name = buf;
		return ns_openat2(dirfd, ".", O_RDONLY | O_DIRECTORY, 0);
	}
	*slash = '\0';
	*name = slash + 1;
	return ns_openat2(dirfd, buf, O_RDONLY | O_DIRECTORY, 0);
}

static bool ns_bad_name(const char *name)
{
	return !*name || !strcmp(name, ".") || !strcmp(name, "..");
}

static void ns_stat_fill(struct ns_inode *in, const struct stat *st)
{
	in->valid = true;
	in->isreg = S_ISREG(st->st_mode);
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->size = (uint64_t)st->st_size;
}

/* fsync the directory holding @path. */
static int ns_sync_parent(int dirfd, const char *path)
{
	char buf[NS_PATH_MAX];
	const char *name;
	int pfd = ns_parent(dirfd, path, buf, &name), ret = 0;

	if (pfd < 0)
		return pfd;
	if (fsync(pfd) < 0)
		ret = -errno;
	close(pfd);
	return ret;
}

static void ns_open(struct ns_job *j)
{
	int flags = j->oflags & ~(O_CREAT | O_EXCL | O_TRUNC);
	struct stat st;
	int fd = -1, ret;

	/* Learn whether we create it: the parent is fsynced only then. */
	if ((j->oflags & O_CREAT) && !j->may_create) {
		/* No room for another file: only an existing one opens. */
		fd = ns_openat2(j->dirfd, j->path, flags | O_NONBLOCK, 0);
		if (fd == -ENOENT)
			return ns_fail(j, -EDQUOT, "create", j->path);
		if (fd < 0)
			return ns_fail(j, fd, "open", j->path);
		if (j->oflags & O_EXCL) {
			close(fd);
			return ns_fail(j, -EEXIST, "open", j->path);
		}
	} else if (j->oflags & O_CREAT) {
		fd = ns_openat2(j->dirfd, j->path, flags | O_CREAT | O_EXCL, j->mode);
		if (fd >= 0)
			j->created = true;
		else if (fd != -EEXIST || (j->oflags & O_EXCL))
			return ns_fail(j, fd, "open", j->path);
	}
	if (fd < 0)
		fd = ns_openat2(j->dirfd, j->path, flags | O_NONBLOCK, 0);
	if (fd < 0)
		return ns_fail(j, fd, "open", j->path);
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ns_fail(j, ret, "open", j->path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		j->res = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(j->msg, sizeof(j->msg), "open '%s': %s", j->path,
			 S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		return;
	}
	if (j->created) {
		ret = ns_sync_parent(j->dirfd, j->path);
		if (ret) {
			close(fd);
			return ns_fail(j, ret, "create", j->path);
		}
	}
	ns_stat_fill(&j->st, &st);
	j->fd = fd;
}

static void ns_unlink(struct ns_job *j)
{
	char buf[NS_PATH_MAX];
	const char *name;
	struct stat st;
	int pfd = ns_parent(j->dirfd, j->path, buf, &name), ret = 0;

	if (pfd < 0)
		return ns_fail(j, pfd, "unlink", j->path);
	if (ns_bad_name(name))
		ret = -EINVAL;
	else if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = errno == ENOENT && j->replay ? 0 : -errno;
	else if (unlinkat(pfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		ret = -errno;
	else {
		ns_stat_fill(&j->st, &st);
		if (fsync(pfd) < 0)
			ret = -errno;
	}
	close(pfd);
	if (ret)
		ns_fail(j, ret, "unlink", j->path);
}

/*
 * Whether directory @name in @pfd, renamed to j->path2, keeps every tree
 * of the volume within NS_DEPTH_MAX (so that the start-up walk can always
 * count it): 0 if it does (or is not a directory), 1 with the job failed
 * if not, or -errno.
 */
static int ns_fits(struct ns_job *j, int pfd, const char *name)
{
	unsigned int depth = ns_depth(j->path2);
	int fd, ret;

	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP || errno == ENOENT ? 0 : -errno;
	ret = ns_deeper(fd, NS_DEPTH_MAX - depth);
	if (ret <= 0)
		return ret;
	j->res = -ENAMETOOLONG;
	snprintf(j->msg, sizeof(j->msg),
		 "rename '%s' to '%s': the tree moved would end more than %d levels deep", j->path,
		 j->path2, NS_DEPTH_MAX);
	return 1;
}

static void ns_rename(struct ns_job *j)
{
	char b1[NS_PATH_MAX], b2[NS_PATH_MAX];
	const char *n1, *n2;
	int p1, p2, ret = 0;
	struct stat st;

	p1 = ns_parent(j->dirfd, j->path, b1, &n1);
	if (p1 < 0)
		return ns_fail(j, p1, "rename", j->path);
	p2 = ns_parent(j->dirfd, j->path2, b2, &n2);
	if (p2 < 0) {
		close(p1);
		return ns_fail(j, p2, "rename to", j->path2);
	}
	if (ns_bad_name(n1) || ns_bad_name(n2))
		ret = -EINVAL;
	else if ((ret = ns_fits(j, p1, n1)) != 0) {
		close(p1);
		close(p2);
		if (ret > 0)
			return;
		return ns_fail(j, ret, "rename", j->path);
	} else {
		if (!fstatat(p2, n2, &st, AT_SYMLINK_NOFOLLOW))
			ns_stat_fill(&j->gone, &st);
		if (renameat(p1, n1, p2, n2) < 0) {
			ret = -errno;
			j->gone.valid = false;
			/* Replayed after a restart: done if the source is gone and the
			 * target is there. */
			if (ret == -ENOENT && j->replay &&
			    !fstatat(p2, n2, &st, AT_SYMLINK_NOFOLLOW))
				ret = 0;
		} else if (fsync(p2) < 0 || fsync(p1) < 0)
			ret = -errno;
	}
	close(p1);
	close(p2);
	if (ret)
		ns_fail(j, ret, "rename", j->path);
}

static bool ns_is_dir(int pfd, const char *name)
{
	struct stat st;

	return !fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode);
}

static void ns_mkdir(struct ns_job *j)
{
	char buf[NS_PATH_MAX];
	const char *name;
	int pfd = ns_parent(j->dirfd, j->path, buf, &name), ret = 0;

	if (pfd < 0)
		return ns_fail(j, pfd, "mkdir", j->path);
	if (ns_bad_name(name))
		ret = -EINVAL;
	else if (!j->may_create)
		ret = j->replay && ns_is_dir(pfd, name) ? 0 : -EDQUOT;
	else if (!mkdirat(pfd, name, j->mode & 0777))
		j->created = true;
	else if (!(errno == EEXIST && j->replay && ns_is_dir(pfd, name)))
		ret = -errno;
	if (!ret && fsync(pfd) < 0)
		ret = -errno;
	close(pfd);
	if (ret)
		ns_fail(j, ret, "mkdir", j->path);
}

static void ns_truncate(struct ns_job *j)
{
	if (ftruncate(j->fd, (off_t)j->size) < 0 || fsync(j->fd) < 0) {
		j->res = -errno;
		snprintf(j->msg, sizeof(j->msg), "truncate to %llu: %s",
			 (unsigned long long)j->size, strerror(errno));
	}
}

static void ns_stat(struct ns_job *j)
{
	struct stat st;
	int fd = ns_openat2(j->dirfd, j->path, O_PATH, 0);

	if (fd < 0)
		return ns_fail(j, fd, "stat", j->path);
	if (fstat(fd, &st) < 0) {
		ns_fail(j, -errno, "stat", j->path);
	} else {
		ns_stat_fill(&j->st, &st);
		if (S_ISDIR(st.st_mode)) {
			j->res = -EISDIR;
			j->st.size = 0;
		}
	}
	close(fd);
}

/*
 * Map every page of @p (@len bytes, all of them made) now, a few MiB at a
 * time: each step holds the daemon's mmap_lock only briefly, and the
 * loop's registration of the data area then finds them mapped (it took
 * 70 ms to fault in 250 MiB itself). Best effort: what is left is mapped
 * by the registration.
 */
static void ns_region_map(uint8_t *p, uint64_t len)
{
	const uint64_t step = 4u << 20;
	uint64_t off;

	for (off = 0; off < len; off += step)
		if (madvise(p + off, len - off < step ? len - off : step, MADV_POPULATE_WRITE))
			break;
}

int ns_region_make(uint64_t len, int *fd, void **map)
{
	int f, ret;
	void *p;

	f = memfd_create("ringd-session", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0)
		return -errno;
	if (ftruncate(f, (off_t)len) < 0) {
		ret = -errno;
		goto out_close;
	}
	/*
	 * Every page made now, through the file: MAP_POPULATE would make them
	 * holding the daemon's mmap_lock all along, and the loop's own mmap,
	 * munmap and heap growth would wait for it.
	 */
	if (fallocate(f, 0, 0, (off_t)len) < 0) {
		ret = -errno;
		goto out_close;
	}
	/* A client must not be able to shrink the region and SIGBUS us. */
	if (fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto out_close;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out_close;
	}
	ns_region_map(p, len);
	*fd = f;
	*map = p;
	return 0;

out_close:
	close(f);
	return ret;
}

void ns_run(struct ns_job *j)
{
	if (j->op == NS_REGION) {
		j->res = ns_region_make(j->size, &j->fd, &j->map);
		if (j->res)
			snprintf(j->msg, sizeof(j->msg), "cannot create the session memory: %s",
				 strerror(-j->res));
		return;
	}
	if (j->op == NS_UNMAP) {
		/* The last mapping and fd of the memfd: its pages are freed here. */
		if (j->map)
			munmap(j->map, j->size);
		j->map = NULL;
		if (j->fd >= 0)
			close(j->fd);
		j->fd = -1;
		return;
	}
	j->res = ns_path_check(j->path, j->msg, sizeof(j->msg));
	if (!j->res && j->op == NS_RENAME)
		j->res = ns_path_check(j->path2, j->msg, sizeof(j->msg));
	if (j->res && j->op != NS_TRUNCATE)
		return;
	j->res = 0;
	switch (j->op) {
	case NS_OPEN:
		ns_open(j);
		break;
	case NS_UNLINK:
		ns_unlink(j);
		break;
	case NS_RENAME:
		ns_rename(j);
		break;
	case NS_MKDIR:
		ns_mkdir(j);
		break;
	case NS_TRUNCATE:
		ns_truncate(j);
		break;
	case NS_STAT:
		ns_stat(j);
		break;
	case NS_REGION:
	case NS_UNMAP:
		break; /* done above */
	}
}

/* Whether a thread runs a job of @owner. Under the lock. */
static bool ns_owner_busy(const struct ns_worker *w, int32_t owner)
{
	unsigned int i;

	for (i = 0; i < NS_THREADS; i++)
		if (w->t[i].busy && w->t[i].owner == owner)
			return true;
	return false;
}

/* Unqueue the first job whose owner has none running, or NULL. Under the lock. */
static struct ns_job *ns_pick(struct ns_worker *w)
{
	struct ns_job **pos, *prev = NULL, *j;

	for (pos = &w->queue; (j = *pos); prev = j, pos = &j->next) {
		if (ns_owner_busy(w, j->owner))
			continue;
		*pos = j->next;
		if (w->queue_tail == j)
			w->queue_tail = prev;
		j->next = NULL;
		return j;
	}
	return NULL;
}

static void *ns_main(void *arg)
{
	struct ns_thread *t = arg;
	struct ns_worker *w = t->w;

	/*
	 * Below the event loop: where they compete for a CPU, the data path
	 * goes first (Linux: a thread's own nice value). Its work is mostly
	 * waiting for fsync anyway.
	 */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), NS_NICE);

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct ns_job *j, **tail;

		/* Stopping: the queue is finished first. */
		while (!(j = ns_pick(w)) && (w->queue || !w->stop))
			pthread_cond_wait(&w->cv, &w->mu);
		if (!j)
			break;
		t->busy = true;
		t->owner = j->owner;
		if (j->tag > w->vclock)
			w->vclock = j->tag;
		pthread_mutex_unlock(&w->mu);
		ns_run(j);
		pthread_mutex_lock(&w->mu);
		t->busy = false;
		for (tail = &w->done; *tail; tail = &(*tail)->next)
			;
		*tail = j;
		eventfd_write(w->efd, 1);
		/* A job of this owner may be runnable now, by any thread. */
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Stop and join the threads started. */
static void ns_join(struct ns_worker *w)
{
	unsigned int i;

	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < NS_THREADS; i++)
		if (w->t[i].started)
			pthread_join(w->t[i].id, NULL);
}

int ns_start(struct ns_worker *w)
{
	unsigned int i;
	int ret;

	memset(w, 0, sizeof(*w));
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0)
		return -errno;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (i = 0; i < NS_THREADS; i++) {
		w->t[i].w = w;
		ret = pthread_create(&w->t[i].id, NULL, ns_main, &w->t[i]);
		if (ret) {
			ns_join(w);
			pthread_mutex_destroy(&w->mu);
			pthread_cond_destroy(&w->cv);
			close(w->efd);
			w->efd = -1;
			return -ret;
		}
		w->t[i].started = true;
	}
	w->started = true;
	return 0;
}

void ns_stop(struct ns_worker *w)
{
	struct ns_job *j;

	if (!w->started)
		return;
	ns_join(w);
	while ((j = ns_reap(w)))
		while (j) {
			struct ns_job *next = j->next;

			ns_job_free(j);
			j = next;
		}
	close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	w->started = false;
}

void ns_submit(struct ns_worker *w, struct ns_job *j)
{
	struct ns_job **pos;

	pthread_mutex_lock(&w->mu);
	/* Mostly at the tail (one class, or a tag as large as any): no walk. */
	if (!w->queue_tail || w->queue_tail->tag <= j->tag) {
		pos = w->queue_tail ? &w->queue_tail->next : &w->queue;
	} else {
		for (pos = &w->queue; *pos && (*pos)->tag <= j->tag; pos = &(*pos)->next)
			;
	}
	j->next = *pos;
	*pos = j;
	if (!j->next)
		w->queue_tail = j;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

uint64_t ns_vclock(struct ns_worker *w)
{
	uint64_t v;

	pthread_mutex_lock(&w->mu);
	v = w->vclock;
	pthread_mutex_unlock(&w->mu);
	return v;
}

struct ns_job *ns_reap(struct ns_worker *w)
{
	struct ns_job *j, *k;
	eventfd_t v;

	eventfd_read(w->efd, &v);
	pthread_mutex_lock(&w->mu);
	j = w->done;
	w->done = NULL;
	for (k = j; k; k = k->next)
		w->queued--;
	pthread_mutex_unlock(&w->mu);
	return j;
}
