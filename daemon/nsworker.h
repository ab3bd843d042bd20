/* SPDX-License-Identifier: MIT */
/*
 * ns_: the namespace worker, NS_THREADS threads that do the slow
 * filesystem calls of directory volumes (openat2, create, unlink, rename,
 * mkdir, truncate, fsync of the directory) so that the event loop never
 * waits on them.
 *
 * The loop fills a job, hands it over with ns_submit() and forgets it. A
 * free thread takes the queued job with the smallest tag (the oldest of
 * equal tags) among those whose owner has no job running: an owner's jobs
 * run one at a time and in order, different owners' side by side. Each
 * finished job goes on a done list, and the eventfd the loop polls is
 * written. Tags are the caller's fair queuing (qos_ns_tag(): tenants take
 * turns); all-zero tags make a FIFO. The owner is the tenant: a tenant
 * whose call waits on a long fsync holds one thread, never the others'
 * calls. The threads touch nothing but the job: every fd one uses is the
 * job's own (a dup), so a reload that closes a volume while its job runs
 * changes nothing for it.
 *
 * Paths are relative and resolved beneath the job's directory with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV. Every change of the namespace is made durable (the
 * directories involved fsynced, a truncated file fsynced) before the job
 * is done.
 */
#ifndef RINGD_DAEMON_NSWORKER_H
#define RINGD_DAEMON_NSWORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define NS_PATH_MAX 1024 /* bytes of a relative path, NUL included */
/* Components of a path, and levels of any tree beneath a volume: a tree
 * the start-up walk (vol_dir_usage) can always count. */
#define NS_DEPTH_MAX 32
#define NS_THREADS   4 /* worker threads: owners served side by side */

/*
 * NS_REGION and NS_UNMAP make and drop a session's shared memory (H51):
 * making its pages (and freeing them) takes milliseconds per 64 MiB, work
 * the loop must not do while other tenants wait.
 */
enum ns_op { NS_OPEN, NS_UNLINK, NS_RENAME, NS_MKDIR, NS_TRUNCATE, NS_STAT, NS_REGION, NS_UNMAP };

/* An inode a job removed or found (for the quota). */
struct ns_inode {
	bool valid;
	bool isreg;
	uint64_t dev, ino, size;
};

struct ns_job {
	enum ns_op op;
	/* In: owned by the job, closed by ns_job_free(). */
	int dirfd;     /* the volume's directory (a dup) */
	int fd;	       /* NS_TRUNCATE: the file (a dup); NS_OPEN: the result */
	int oflags;    /* NS_OPEN: open(2) flags (O_CREAT, O_EXCL, O_DIRECT...) */
	unsigned mode; /* NS_OPEN, NS_MKDIR */
	uint64_t size; /* NS_TRUNCATE; NS_REGION, NS_UNMAP: the region's length */
	void *map;     /* NS_UNMAP: the mapping to drop (fd: its memfd); NS_REGION: the result */
	char path[NS_PATH_MAX];
	char path2[NS_PATH_MAX]; /* NS_RENAME: the new name */
	bool replay;		 /* sent again after a restart: already done is done */
	/* NS_OPEN with O_CREAT, NS_MKDIR: whether the volume has room for one
	 * more file or directory (else creating one is -EDQUOT). */
	bool may_create;
	uint64_t tag;  /* run order: smallest first (see above) */
	int32_t owner; /* whose jobs run one at a time (the tenant) */

	/* Out. */
	int res;			 /* 0 or -errno */
	char msg[NS_PATH_MAX * 2 + 128]; /* why, when res < 0 */
	bool created;			 /* NS_OPEN, NS_MKDIR: made by this job */
	struct ns_inode st;   /* NS_OPEN, NS_STAT: the file; NS_UNLINK: the removed one */
	struct ns_inode gone; /* NS_RENAME: the file it replaced */

	/* The loop's: who waits for it, and what for. */
	uint32_t slot;
	uint64_t sid;
	uint32_t vol;
	int32_t handle;
	uint32_t file;	 /* NS_TRUNCATE: the file's index, referenced until done */
	uint32_t want;	 /* the client's flags */
	bool entry_held; /* holds room for one entry of the volume (vols_entry_hold) */
	uint64_t old_size;
	struct ns_job *next;
};

struct ns_worker;

struct ns_thread {
	struct ns_worker *w;
	pthread_t id;
	bool started;
	bool busy;     /* runs a job of ... */
	int32_t owner; /* ... this owner */
};

struct ns_worker {
	struct ns_thread t[NS_THREADS];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ns_job *queue, *queue_tail, *done;
	int efd; /* readable when done is not empty */
	bool stop;
	bool started;
	unsigned int queued; /* jobs not yet reaped */
	uint64_t vclock;     /* largest tag of a job started */
};

/* A zeroed job with no fds. NULL if out of memory. */
struct ns_job *ns_job_new(enum ns_op op);
/* Close the job's fds and free it. */
void ns_job_free(struct ns_job *j);

/* Start the threads. Returns 0 or -errno. */
int ns_start(struct ns_worker *w);
/* Finish the queued jobs, stop the threads and free what was not reaped. */
void ns_stop(struct ns_worker *w);

/* Hand @j to the thread: queued behind every job with a tag <= its own. */
void ns_submit(struct ns_worker *w, struct ns_job *j);
/* The largest tag of a job started (0 before the first). */
uint64_t ns_vclock(struct ns_worker *w);
/* Take the finished jobs, oldest first (a list through ->next). */
struct ns_job *ns_reap(struct ns_worker *w);

/*
 * A session's shared memory: a sealed memfd (it can neither shrink nor
 * grow) of @len bytes with every page made, mapped shared. Returns 0
 * with *@fd and *@map, or -errno.
 */
int ns_region_make(uint64_t len, int *fd, void **map);

/* Run @j here (a thread does this; also the unit tests). */
void ns_run(struct ns_job *j);

/* Whether @path is one the worker would take: relative, not empty, no
 * component "..", shorter than NS_PATH_MAX, at most NS_DEPTH_MAX
 * components. Returns 0 or -errno with @msg. */
int ns_path_check(const char *path, char *msg, size_t len);

#endif
