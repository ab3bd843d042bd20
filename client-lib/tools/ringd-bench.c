/* SPDX-License-Identifier: MIT */
/*
 * ringd-bench: measure what the daemon costs, against io_uring used
 * directly on the same backing file, in the spirit of fio's t/io_uring.
 *
 *   ringd-bench --engine ringd  --volume NAME [--socket PATH] [options]
 *   ringd-bench --engine direct --file PATH [options]
 *
 * Each of --procs worker processes keeps --qd requests in flight, preparing
 * and submitting up to --batch at a time and, once the queue is full,
 * waiting for --batch completions. The parent starts them together, shows
 * progress once a second, stops them after --runtime and adds up:
 *
 *   IOPS, MB/s     completions inside the measured window;
 *   latency        per request, from the clock read just before its batch was
 *                  submitted to the clock read just after it was reaped, in a
 *                  log-linear histogram (64 sub-buckets per power of two, so
 *                  values are within 1.6 %);
 *   CPU            user+system seconds of the workers inside the window
 *                  (getrusage(RUSAGE_SELF) deltas) and of the daemon
 *                  (--daemon-pid: utime+stime from /proc/PID/stat);
 *   syscalls/IO    raw_syscalls:sys_enter events counted by the kernel for
 *                  the workers and for the daemon's main thread (perf
 *                  tracepoint; needs tracefs and perf permission, else null);
 *   ctxsw/IO       voluntary+involuntary context switches: how often a side
 *                  went to sleep (or was preempted) per I/O.
 *
 * Workload "idle" connects, does a few NOPs and then sits still: it measures
 * what idle sessions cost the daemon. Workload "readv" reads --vecs
 * vectors of --bs bytes (adjacent in the file) per request, IORING_OP_READV
 * on the direct engine and RINGD_OP_READV through the daemon.
 *
 * Durable writes, two ways: --dsync sets RWF_DSYNC / RINGD_RW_DSYNC on each
 * write; --fdatasync follows each write with an fdatasync linked to it
 * (IOSQE_IO_LINK / RINGD_SQE_LINK), the pair counted as one I/O whose
 * latency ends when the fdatasync completes.
 *
 * --loop plain replaces the batched loop with the one most programs are
 * written as (liburing's canonical loop): wait for one completion, reap
 * every ready one, prepare a new request for each, submit once.
 *
 * --idle-sessions N attaches N idle sessions (8-entry rings, 64 KiB data
 * areas) before the measured run, spread over the uids of --idle-uids (one
 * holder process per uid), and reports the attach rate and the daemon's
 * memory per idle session (--idle-report FILE: "key value" lines).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <liburing.h>
#include <linux/perf_event.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "line-rtt.h"
#include "ringd.h"
#include "tool-args.h"

#define MAX_PROCS 1024u
#define MAX_QD	  4096u

/* Log-linear latency histogram in nanoseconds: values below 128 exactly,
 * then 64 buckets per power of two up to 2^48 ns. */
#define H_SUB_BITS 6u
#define H_LINEAR   (1u << (H_SUB_BITS + 1))
#define H_MAX_MSB  48u
#define H_BUCKETS  (H_LINEAR + (H_MAX_MSB - H_SUB_BITS) * (1u << H_SUB_BITS))

enum workload { WL_NOP, WL_RANDREAD, WL_RANDWRITE, WL_RW, WL_IDLE, WL_READV, WL_COUNT };
enum engine { ENG_DIRECT, ENG_RINGD };
enum io_op { IO_NOP, IO_READ, IO_WRITE, IO_READV };

static const char *const wl_names[] = { "nop", "randread", "randwrite", "rw", "idle", "readv" };
static const char *const eng_names[] = { "direct", "ringd" };

/* user_data of the write half of a --fdatasync pair; its fdatasync carries
 * the bare slot, and its completion is the pair's. */
#define PAIR_WRITE (1u << 31)

struct opts {
	enum engine engine;
	enum workload wl;
	unsigned int bs, qd, batch, procs, rwmix, spin_us;
	unsigned int vecs;	/* readv: vectors of bs bytes per request */
	unsigned int req_bytes; /* bytes per request: bs, or vecs * bs for readv */
	bool dsync, fdatasync;	/* writes durable: RWF_DSYNC, or a linked fdatasync */
	double runtime;
	const char *volume, *file, *socket, *label;
	const char *summary, *cdf; /* append a TSV line / write the latency CDF */
	const char *series;	   /* write "seconds IOPS" per interval */
	unsigned int interval_ms;  /* progress and series interval */
	uint64_t size;
	pid_t daemon_pid;
	bool json, quiet, no_lat;
	bool plain; /* --loop plain */
	unsigned int idle_sessions;
	uid_t idle_uids[64];
	unsigned int nidle_uids;
	const char *idle_report;
	const char *churn; /* a directory volume to churn files in during the run */
	uid_t churn_uid;
	int cpu;     /* pin workers here; -1: no */
	int rtt_cpu; /* --line-rtt: measure the line round trip cpu <-> rtt_cpu; -1: no */
};

/* What one worker reports, in memory shared with the parent. */
struct worker_res {
	_Alignas(64) uint64_t ios; /* updated while running, for progress */
	_Alignas(64) uint64_t bytes;
	uint64_t errors;
	int32_t first_err;
	int setup_err;
	char msg[512]; /* the error, with the daemon's reason */
	double cpu_user, cpu_sys;
	uint64_t ctxsw;
	int64_t syscalls; /* -1: not counted */
	uint64_t hist[H_BUCKETS];
};

struct shared {
	_Alignas(64) unsigned int ready;
	_Alignas(64) unsigned int start;
	_Alignas(64) unsigned int stop;
	/* --idle-sessions: holders done attaching, sessions attached, first error. */
	_Alignas(64) unsigned int idle_done;
	unsigned int idle_attached;
	int idle_err;
	char idle_msg[256];
	/* --churn: cycles of create, write, rename, unlink done; its error. */
	_Alignas(64) uint64_t churn_cycles;
	unsigned int churn_ready;
	int churn_err;
	char churn_msg[256];
	struct worker_res res[];
};

struct done {
	uint32_t slot;
	int32_t res;
};

struct worker;

struct engine_ops {
	int (*setup)(struct worker *w);
	void (*prep)(struct worker *w, uint32_t slot, enum io_op op, uint64_t off);
	/* Submit what was prepared; wait until @wait_nr completions are ready.
	 * Returns 0 or -errno. */
	int (*submit)(struct worker *w, unsigned int wait_nr);
	/* Wait until one completion is ready (without a syscall if one is). */
	int (*wait)(struct worker *w);
	unsigned int (*reap)(struct worker *w, struct done *d, unsigned int max);
	void (*teardown)(struct worker *w);
};

struct worker {
	const struct opts *o;
	struct worker_res *res;
	unsigned int id;
	uint64_t size;	    /* addressable bytes */
	uint8_t *bufs;	    /* qd * req_bytes */
	struct iovec *iovs; /* readv: qd * vecs, fixed per slot */
	/* direct */
	struct io_uring ring;
	int fd;
	/* ringd */
	struct ringd *rd;
	int handle;
	struct ringd_cqe cqes[MAX_QD];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned int hist_idx(uint64_t v)
{
	unsigned int msb;

	if (v < H_LINEAR)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	if (msb >= H_MAX_MSB)
		return H_BUCKETS - 1;
	return H_LINEAR + (msb - H_SUB_BITS - 1) * (1u << H_SUB_BITS) +
	       (unsigned int)((v >> (msb - H_SUB_BITS)) & ((1u << H_SUB_BITS) - 1));
}

/* The middle of bucket @i, in ns. */
static double hist_val(unsigned int i)
{
	unsigned int msb, sub;

	if (i < H_LINEAR)
		return i;
	msb = (i - H_LINEAR) / (1u << H_SUB_BITS) + H_SUB_BITS + 1;
	sub = (i - H_LINEAR) % (1u << H_SUB_BITS);
	return ((double)((1ull << H_SUB_BITS) + sub) + 0.5) * (double)(1ull << (msb - H_SUB_BITS));
}

/* xorshift64*: cheap and good enough to pick offsets. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/*
 * Open a counter of raw_syscalls:sys_enter for @pid (0: this process).
 * Returns an fd, or -errno when tracefs or perf is not available.
 */
static int syscall_counter(pid_t pid)
{
	static const char *const paths[] = {
		"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
		"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
	};
	struct perf_event_attr a;
	unsigned long long id = 0;
	unsigned int i;
	long fd;

	for (i = 0; i < 2 && !id; i++) {
		FILE *f = fopen(paths[i], "r");

		if (!f)
			continue;
		if (fscanf(f, "%llu", &id) != 1)
			id = 0;
		fclose(f);
	}
	if (!id)
		return -ENOENT;
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = id;
	a.disabled = 1;
	a.exclude_kernel = 0;
	fd = syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return (int)fd;
}

static int64_t counter_read(int fd)
{
	uint64_t v;

	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return -1;
	return (int64_t)v;
}

/* SQ entries for a worker: two per slot when writes carry an fdatasync. */
static unsigned int ring_entries(const struct opts *o)
{
	unsigned int n = o->fdatasync ? 2 * o->qd : o->qd;

	return n < 8 ? 8 : n;
}

/* Whether the workload only reads (the target opens read-only). */
static bool read_only(const struct opts *o)
{
	return o->wl == WL_RANDREAD || o->wl == WL_READV;
}

/* readv: slot i's vectors cover its req_bytes of bufs, bs bytes each. */
static void fill_iovecs(struct worker *w)
{
	const struct opts *o = w->o;
	unsigned int i;

	for (i = 0; i < o->qd * o->vecs; i++) {
		w->iovs[i].iov_base = w->bufs + (size_t)i * o->bs;
		w->iovs[i].iov_len = o->bs;
	}
}

/* --- direct: liburing in this process ------------------------------------- */

static int direct_setup(struct worker *w)
{
	const struct opts *o = w->o;
	struct iovec iov;
	struct stat st;
	int ret;

	/* A --fdatasync pair takes two SQEs per slot. */
	ret = io_uring_queue_init(ring_entries(o), &w->ring, 0);
	if (ret < 0) {
		snprintf(w->res->msg, sizeof(w->res->msg), "io_uring_queue_init: %s",
			 strerror(-ret));
		return ret;
	}
	if (o->wl == WL_NOP || o->wl == WL_IDLE)
		return 0;
	w->fd = open(o->file, (read_only(o) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (w->fd < 0 || fstat(w->fd, &st) < 0) {
		ret = -errno;
		snprintf(w->res->msg, sizeof(w->res->msg), "%s: %s", o->file, strerror(errno));
		return ret;
	}
	w->size = o->size ? o->size : (uint64_t)st.st_size;
	ret = io_uring_register_files(&w->ring, &w->fd, 1);
	if (!ret) {
		iov.iov_base = w->bufs;
		iov.iov_len = (size_t)o->qd * o->req_bytes;
		ret = io_uring_register_buffers(&w->ring, &iov, 1);
	}
	if (ret < 0)
		snprintf(w->res->msg, sizeof(w->res->msg), "io_uring register: %s", strerror(-ret));
	if (!ret && o->wl == WL_READV) {
		w->iovs = calloc((size_t)o->qd * o->vecs, sizeof(*w->iovs));
		if (!w->iovs) {
			snprintf(w->res->msg, sizeof(w->res->msg), "iovecs: out of memory");
			return -ENOMEM;
		}
		fill_iovecs(w);
	}
	return ret;
}

static void direct_prep(struct worker *w, uint32_t slot, enum io_op op, uint64_t off)
{
	const struct opts *o = w->o;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	void *buf = w->bufs + (size_t)slot * o->req_bytes;

	/* The ring has room for every slot (two SQEs each with --fdatasync)
	 * and never more than qd slots in flight. */
	if (op == IO_NOP) {
		io_uring_prep_nop(sqe);
	} else {
		if (op == IO_READ)
			io_uring_prep_read_fixed(sqe, 0, buf, o->bs, off, 0);
		else if (op == IO_READV)
			io_uring_prep_readv(sqe, 0, w->iovs + (size_t)slot * o->vecs, o->vecs, off);
		else
			io_uring_prep_write_fixed(sqe, 0, buf, o->bs, off, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	if (op == IO_WRITE && o->dsync)
		sqe->rw_flags = RWF_DSYNC;
	if (op == IO_WRITE && o->fdatasync) {
		sqe->flags |= IOSQE_IO_LINK;
		io_uring_sqe_set_data64(sqe, slot | PAIR_WRITE);
		sqe = io_uring_get_sqe(&w->ring);
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	io_uring_sqe_set_data64(sqe, slot);
}

static int direct_submit(struct worker *w, unsigned int wait_nr)
{
	int ret = io_uring_submit_and_wait(&w->ring, wait_nr);

	return ret < 0 && ret != -EINTR ? ret : 0;
}

static int direct_wait(struct worker *w)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe(&w->ring, &cqe);

	return ret < 0 && ret != -EINTR ? ret : 0;
}

static unsigned int direct_reap(struct worker *w, struct done *d, unsigned int max)
{
	struct io_uring_cqe *cqes[256];
	unsigned int n, i;

	n = io_uring_peek_batch_cqe(&w->ring, cqes, max < 256 ? max : 256);
	for (i = 0; i < n; i++) {
		d[i].slot = (uint32_t)cqes[i]->user_data;
		d[i].res = cqes[i]->res;
	}
	io_uring_cq_advance(&w->ring, n);
	return n;
}

static void direct_teardown(struct worker *w)
{
	io_uring_queue_exit(&w->ring);
	if (w->fd >= 0)
		close(w->fd);
	free(w->iovs);
}

static const struct engine_ops direct_ops = {
	direct_setup, direct_prep, direct_submit, direct_wait, direct_reap, direct_teardown,
};

/* --- ringd: through the daemon with libringd ----------------------------- */

static int ringd_setup(struct worker *w)
{
	const struct opts *o = w->o;
	/* The iovecs too: the daemon reads them from the data area. */
	size_t iov_bytes = o->wl == WL_READV ? (size_t)o->qd * o->vecs * sizeof(struct iovec) : 0;
	struct ringd_opts ro = {
		.socket_path = o->socket,
		.sq_entries = ring_entries(o),
		.buf_size = (size_t)o->qd * o->req_bytes + iov_bytes + 8192,
		.spin_us = o->spin_us,
	};
	struct ringd_volume_info info;
	int ret;

	ret = ringd_connect(&ro, &w->rd);
	if (ret) {
		char what[PATH_MAX + 16];

		snprintf(what, sizeof(what), "connect to %s", tool_socket(o->socket));
		tool_error(w->res->msg, sizeof(w->res->msg), what, ret, tool_socket(o->socket));
		return ret;
	}
	w->bufs = ringd_buf_alloc(w->rd, (size_t)o->qd * o->req_bytes, 4096);
	if (iov_bytes && w->bufs)
		w->iovs = ringd_buf_alloc(w->rd, iov_bytes, 64);
	if (!w->bufs || (iov_bytes && !w->iovs)) {
		snprintf(w->res->msg, sizeof(w->res->msg), "ringd_buf_alloc: no room");
		return -ENOMEM;
	}
	if (w->iovs)
		fill_iovecs(w);
	if (o->wl == WL_NOP || o->wl == WL_IDLE)
		return 0;
	w->handle = ringd_open(w->rd, o->volume, read_only(o) ? RINGD_RDONLY : RINGD_RDWR, &info);
	if (w->handle < 0) {
		char what[128];

		snprintf(what, sizeof(what), "open %s", o->volume);
		tool_error(w->res->msg, sizeof(w->res->msg), what, w->handle, NULL);
		return w->handle;
	}
	w->size = o->size && o->size < info.size ? o->size : info.size;
	return 0;
}

static void ringd_prep(struct worker *w, uint32_t slot, enum io_op op, uint64_t off)
{
	const struct opts *o = w->o;
	struct ringd_sqe *sqe = ringd_get_sqe(w->rd);
	void *buf = w->bufs + (size_t)slot * o->req_bytes;

	/* The SQ has room for every slot (two SQEs each with --fdatasync)
	 * and never more than qd slots in flight. */
	if (op == IO_NOP)
		ringd_prep_nop(sqe);
	else if (op == IO_READ)
		ringd_prep_read(sqe, w->handle, buf, o->bs, off);
	else if (op == IO_READV)
		ringd_prep_readv(sqe, w->handle, w->iovs + (size_t)slot * o->vecs, o->vecs, off);
	else
		ringd_prep_write(sqe, w->handle, buf, o->bs, off);
	if (op == IO_WRITE && o->dsync)
		ringd_sqe_set_rw_flags(sqe, RINGD_RW_DSYNC);
	if (op == IO_WRITE && o->fdatasync) {
		ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
		ringd_sqe_set_data64(sqe, slot | PAIR_WRITE);
		sqe = ringd_get_sqe(w->rd);
		ringd_prep_fsync(sqe, w->handle, RINGD_FSYNC_DATASYNC);
	}
	ringd_sqe_set_data64(sqe, slot);
}

static int ringd_submit_(struct worker *w, unsigned int wait_nr)
{
	int ret = ringd_submit_and_wait(w->rd, wait_nr);

	return ret < 0 ? ret : 0;
}

static int ringd_wait(struct worker *w)
{
	struct ringd_cqe *cqe;

	return ringd_wait_cqe(w->rd, &cqe);
}

static unsigned int ringd_reap(struct worker *w, struct done *d, unsigned int max)
{
	unsigned int n, i;

	n = ringd_peek_batch_cqe(w->rd, w->cqes, max < MAX_QD ? max : MAX_QD);
	for (i = 0; i < n; i++) {
		d[i].slot = (uint32_t)w->cqes[i].user_data;
		d[i].res = w->cqes[i].res;
	}
	return n;
}

static void ringd_teardown(struct worker *w)
{
	if (w->rd)
		ringd_disconnect(w->rd);
}

static const struct engine_ops ringd_ops = {
	ringd_setup, ringd_prep, ringd_submit_, ringd_wait, ringd_reap, ringd_teardown,
};

/* --- the worker loop ------------------------------------------------------ */

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static enum io_op pick_op(const struct opts *o, uint64_t *seed)
{
	switch (o->wl) {
	case WL_RANDREAD:
		return IO_READ;
	case WL_RANDWRITE:
		return IO_WRITE;
	case WL_RW:
		return rnd(seed) % 100 < o->rwmix ? IO_READ : IO_WRITE;
	case WL_READV:
		return IO_READV;
	default:
		return IO_NOP;
	}
}

/* A worker's requests: free slots, when each was submitted, what completed. */
struct wstate {
	uint64_t *stamp;
	uint32_t *free_slots;
	int32_t *pair_err; /* a --fdatasync pair's write result */
	bool *paired;	   /* the slot holds a write + fdatasync pair */
	struct done *d;
	uint64_t seed, nblocks, ios, bytes, errors;
	unsigned int inflight, nfree; /* slots */
	bool stopping;
};

static int ws_init(struct worker *w, struct wstate *s)
{
	const struct opts *o = w->o;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->stamp = calloc(o->qd, sizeof(*s->stamp));
	s->free_slots = calloc(o->qd, sizeof(*s->free_slots));
	s->pair_err = calloc(o->qd, sizeof(*s->pair_err));
	s->paired = calloc(o->qd, sizeof(*s->paired));
	s->d = calloc(o->qd, sizeof(*s->d));
	s->seed = 0x9e3779b97f4a7c15ull * (w->id + 1) ^ (uint64_t)getpid();
	s->nblocks = w->size / o->req_bytes;
	s->nfree = o->qd;
	if (!s->stamp || !s->free_slots || !s->pair_err || !s->paired || !s->d)
		return -ENOMEM;
	if (o->wl != WL_NOP && !s->nblocks) {
		snprintf(w->res->msg, sizeof(w->res->msg), "the target is smaller than one block");
		return -EINVAL;
	}
	for (i = 0; i < o->qd; i++)
		s->free_slots[i] = o->qd - 1 - i;
	return 0;
}

static void ws_fini(struct worker *w, struct wstate *s)
{
	w->res->bytes = s->bytes;
	w->res->errors = s->errors;
	__atomic_store_n(&w->res->ios, s->ios, __ATOMIC_RELAXED);
	free(s->stamp);
	free(s->free_slots);
	free(s->pair_err);
	free(s->paired);
	free(s->d);
}

/* Prepare up to @max new requests (fewer if no slot is free, none once
 * stopping). Returns how many. */
static unsigned int ws_prep(struct worker *w, const struct engine_ops *e, struct wstate *s,
			    unsigned int max)
{
	const struct opts *o = w->o;
	uint64_t t = o->no_lat ? 0 : now_ns();
	unsigned int n = 0;

	while (!s->stopping && n < max && s->nfree) {
		uint32_t slot = s->free_slots[--s->nfree];
		enum io_op op = pick_op(o, &s->seed);
		uint64_t off = op == IO_NOP ? 0 : (rnd(&s->seed) % s->nblocks) * o->req_bytes;

		e->prep(w, slot, op, off);
		s->paired[slot] = op == IO_WRITE && o->fdatasync;
		s->stamp[slot] = t;
		n++;
	}
	s->inflight += n;
	return n;
}

/* Account @m reaped completions (s->d). Returns 0 or -EPROTO. */
static int ws_done(struct worker *w, struct wstate *s, unsigned int m)
{
	const struct opts *o = w->o;
	struct worker_res *r = w->res;
	uint64_t t = o->no_lat || !m ? 0 : now_ns();
	int32_t want = o->wl == WL_NOP ? 0 : (int32_t)o->req_bytes;
	unsigned int i;

	for (i = 0; i < m; i++) {
		uint32_t slot = s->d[i].slot & ~PAIR_WRITE;
		int32_t res = s->d[i].res;

		if (slot >= o->qd) {
			snprintf(r->msg, sizeof(r->msg), "completion for unknown slot %u", slot);
			return -EPROTO;
		}
		/* A pair's write: the slot stays busy until its fdatasync;
		 * a short write is an error like a failed one. */
		if (s->d[i].slot & PAIR_WRITE) {
			s->pair_err[slot] = res == want ? 0 : res < 0 ? res : -EIO;
			continue;
		}
		/* A pair's fdatasync stands for the pair: the write's error
		 * first (the fdatasync then says -ECANCELED), else its own. */
		if (s->paired[slot]) {
			if (s->pair_err[slot])
				res = s->pair_err[slot];
			else if (!res)
				res = want;
			s->paired[slot] = false;
			s->pair_err[slot] = 0;
		}
		s->free_slots[s->nfree++] = slot;
		s->inflight--;
		if (s->stopping)
			continue;
		if (res != want) {
			if (!s->errors)
				r->first_err = res;
			s->errors++;
		}
		s->ios++;
		s->bytes += res > 0 ? (uint64_t)res : 0;
		if (!o->no_lat)
			r->hist[hist_idx(t - s->stamp[slot])]++;
	}
	__atomic_store_n(&r->ios, s->ios, __ATOMIC_RELAXED);
	return 0;
}

/* Whether the parent said stop; true once nothing is left in flight either. */
static bool ws_finished(struct wstate *s, volatile struct shared *sh)
{
	if (!s->stopping && __atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
		s->stopping = true;
	return s->stopping && !s->inflight;
}

/*
 * The batched loop: keep qd requests in flight, preparing and submitting up
 * to --batch at a time and, once the queue is full, waiting for --batch
 * completions in the same call. Returns 0 or -errno.
 */
static int worker_loop(struct worker *w, const struct engine_ops *e, volatile struct shared *sh)
{
	const struct opts *o = w->o;
	struct wstate s;
	int ret = ws_init(w, &s);

	while (!ret && !ws_finished(&s, sh)) {
		unsigned int wait_nr = 0, m;

		ws_prep(w, e, &s, o->batch);
		if (s.stopping || !s.nfree)
			wait_nr = s.stopping ? 1 : (o->batch < s.inflight ? o->batch : s.inflight);
		ret = e->submit(w, wait_nr);
		if (ret) {
			snprintf(w->res->msg, sizeof(w->res->msg), "submit: %s", strerror(-ret));
			break;
		}
		m = e->reap(w, s.d, o->qd);
		ret = ws_done(w, &s, m);
	}
	ws_fini(w, &s);
	return ret;
}

/*
 * The plain loop, as most programs are written (liburing's canonical
 * loop): wait for one completion, reap every ready one, prepare a new
 * request for each, submit once. Returns 0 or -errno.
 */
static int worker_plain(struct worker *w, const struct engine_ops *e, volatile struct shared *sh)
{
	const struct opts *o = w->o;
	struct wstate s;
	int ret = ws_init(w, &s);

	if (!ret && ws_prep(w, e, &s, o->qd))
		ret = e->submit(w, 0);
	while (!ret && !ws_finished(&s, sh)) {
		ret = e->wait(w);
		if (ret) {
			snprintf(w->res->msg, sizeof(w->res->msg), "wait: %s", strerror(-ret));
			break;
		}
		ret = ws_done(w, &s, e->reap(w, s.d, o->qd));
		/* One new request for each slot that completed. */
		if (!ret && ws_prep(w, e, &s, o->qd))
			ret = e->submit(w, 0);
	}
	ws_fini(w, &s);
	return ret;
}

/* Idle: a few NOPs, then nothing until stop. */
static int worker_idle(struct worker *w, const struct engine_ops *e, volatile struct shared *sh)
{
	struct done d[8];
	unsigned int i, got = 0;
	int ret;

	for (i = 0; i < 8; i++)
		e->prep(w, i % w->o->qd, IO_NOP, 0);
	ret = e->submit(w, 8);
	while (!ret && got < 8)
		got += e->reap(w, d, 8);
	if (ret)
		return ret;
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
		usleep(20000);
	return 0;
}

static int worker_main(const struct opts *o, unsigned int id, volatile struct shared *sh)
{
	const struct engine_ops *e = o->engine == ENG_DIRECT ? &direct_ops : &ringd_ops;
	struct worker_res *r = (struct worker_res *)&sh->res[id];
	struct worker *w = calloc(1, sizeof(*w));
	struct rusage ru0, ru1;
	int cfd, ret;

	if (!w)
		return 1;
	w->o = o;
	w->res = r;
	w->id = id;
	w->fd = -1;
	w->handle = -1;
	w->size = o->size;
	r->syscalls = -1;
	if (o->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	if (o->engine == ENG_DIRECT) {
		w->bufs = mmap(NULL, (size_t)o->qd * o->req_bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (w->bufs == MAP_FAILED) {
			r->setup_err = -ENOMEM;
			goto out_ready;
		}
	}
	ret = e->setup(w);
	if (ret) {
		r->setup_err = ret;
		goto out_ready;
	}
	memset(w->bufs, 0xa5, (size_t)o->qd * o->req_bytes);
	if (o->wl == WL_IDLE) {
		ret = worker_idle(w, e, sh);
		if (ret)
			snprintf(r->msg, sizeof(r->msg), "idle setup: %s", strerror(-ret));
		e->teardown(w);
		return ret ? 1 : 0;
	}
	cfd = syscall_counter(0);
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sh->start, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
			goto out;
		usleep(1000);
	}
	getrusage(RUSAGE_SELF, &ru0);
	if (cfd >= 0)
		ioctl(cfd, PERF_EVENT_IOC_ENABLE, 0);
	ret = o->plain ? worker_plain(w, e, sh) : worker_loop(w, e, sh);
	if (cfd >= 0)
		ioctl(cfd, PERF_EVENT_IOC_DISABLE, 0);
	getrusage(RUSAGE_SELF, &ru1);
	r->cpu_user = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
	r->cpu_sys = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
	r->ctxsw = (uint64_t)((ru1.ru_nvcsw - ru0.ru_nvcsw) + (ru1.ru_nivcsw - ru0.ru_nivcsw));
	r->syscalls = counter_read(cfd);
	if (ret && !r->setup_err)
		r->setup_err = ret;
out:
	e->teardown(w);
	return r->setup_err ? 1 : 0;
out_ready:
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	e->teardown(w);
	return 1;
}

/* --- idle sessions --------------------------------------------------------- */

/*
 * One holder process: as @uid, attach @count idle sessions (8-entry rings,
 * 64 KiB data areas), say so, and keep them until stop.
 */
static int idle_holder(const struct opts *o, uid_t uid, unsigned int count,
		       volatile struct shared *sh)
{
	struct ringd_opts ro = {
		.socket_path = o->socket,
		.sq_entries = 8,
		.cq_entries = 16,
		.buf_size = 64u << 10,
		.flags = RINGD_OPT_NO_RECONNECT,
	};
	struct ringd **rds = calloc(count ? count : 1, sizeof(*rds));
	unsigned int i, n = 0;
	int ret = 0;

	if (!rds)
		ret = -ENOMEM;
	else if (uid && (setgid((gid_t)uid) || setuid(uid)))
		ret = -errno;
	for (i = 0; !ret && i < count; i++) {
		ret = ringd_connect(&ro, &rds[i]);
		if (!ret) {
			n++;
			__atomic_add_fetch(&sh->idle_attached, 1, __ATOMIC_RELAXED);
		}
	}
	if (ret && !__atomic_exchange_n(&sh->idle_err, ret, __ATOMIC_SEQ_CST))
		snprintf((char *)sh->idle_msg, sizeof(sh->idle_msg),
			 "uid %u: session %u of %u: %s (%s)", (unsigned int)uid, n + 1, count,
			 strerror(-ret), ringd_last_message());
	__atomic_add_fetch(&sh->idle_done, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
		usleep(20000);
	for (i = 0; i < n; i++)
		ringd_disconnect(rds[i]);
	free(rds);
	return ret ? 1 : 0;
}

/* One write of @len bytes at 0 of @h, waited for. Returns res or -errno. */
static int churn_write(struct ringd *rd, int h, void *buf, unsigned int len)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rd);

	if (!sqe)
		return -EBUSY;
	ringd_prep_write(sqe, h, buf, len, 0);
	return tool_run1(rd);
}

/*
 * --churn VOLUME: another tenant (--churn-uid) that, until the run stops,
 * creates a file in directory volume VOLUME, writes 4 KiB, closes it,
 * renames it and removes it: four durable namespace changes a cycle.
 */
static int churner(const struct opts *o, volatile struct shared *sh)
{
	struct ringd_opts ro = { .socket_path = o->socket,
				 .sq_entries = 8,
				 .cq_entries = 16,
				 .buf_size = 64u << 10,
				 .flags = RINGD_OPT_NO_RECONNECT };
	struct ringd *rd = NULL;
	char a[64], b[64];
	void *buf = NULL;
	uint64_t n = 0;
	int ret = 0, h;

	if (o->churn_uid && (setgid((gid_t)o->churn_uid) || setuid(o->churn_uid)))
		ret = -errno;
	if (!ret)
		ret = ringd_connect(&ro, &rd);
	if (!ret && !(buf = ringd_buf_alloc(rd, 4096, 4096)))
		ret = -ENOMEM;
	if (!ret)
		memset(buf, 0x5a, 4096);
	__atomic_add_fetch(&sh->churn_ready, 1, __ATOMIC_SEQ_CST);
	while (!ret && !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		snprintf(a, sizeof(a), "churn-%d-%llu", (int)getpid(), (unsigned long long)n);
		snprintf(b, sizeof(b), "churn-%d-%llu.old", (int)getpid(), (unsigned long long)n);
		h = ringd_open_file(rd, o->churn, a, RINGD_RDWR | RINGD_CREAT | RINGD_EXCL, 0600,
				    NULL);
		if (h < 0) {
			ret = h;
			break;
		}
		ret = churn_write(rd, h, buf, 4096);
		ret = ret == 4096 ? ringd_close(rd, h) : (ret < 0 ? ret : -EIO);
		if (!ret)
			ret = ringd_rename(rd, o->churn, a, b);
		if (!ret)
			ret = ringd_unlink(rd, o->churn, b);
		if (!ret)
			__atomic_store_n(&sh->churn_cycles, ++n, __ATOMIC_RELAXED);
	}
	if (ret) {
		sh->churn_err = ret;
		snprintf((char *)sh->churn_msg, sizeof(sh->churn_msg), "churn: %s (%s)",
			 strerror(-ret), ringd_last_message());
	}
	if (rd)
		ringd_disconnect(rd);
	return ret ? 1 : 0;
}

/* A process's resident memory, in KiB (from /proc/PID/status). */
struct proc_mem {
	unsigned long long rss, anon, shmem;
	bool ok;
};

static struct proc_mem proc_mem(pid_t pid)
{
	struct proc_mem m = { 0 };
	char path[64], buf[256];
	FILE *f;

	if (pid <= 0)
		return m;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return m;
	while (fgets(buf, sizeof(buf), f)) {
		if (sscanf(buf, "VmRSS: %llu", &m.rss) == 1)
			m.ok = true;
		sscanf(buf, "RssAnon: %llu", &m.anon);
		sscanf(buf, "RssShmem: %llu", &m.shmem);
	}
	fclose(f);
	return m;
}

/* What attaching the idle sessions cost. */
struct idle_figures {
	double attach_s;
	struct proc_mem before, after;
};

/*
 * Fork one holder per --idle-uids entry and wait until they have attached
 * --idle-sessions between them, then let the daemon settle (idle sessions
 * go cold). Returns 0 or -errno (the reason printed).
 */
static int idle_attach(const struct opts *o, volatile struct shared *sh, pid_t *holders,
		       struct idle_figures *fig)
{
	unsigned int k = o->nidle_uids, i;
	uint64_t t0;

	fig->before = proc_mem(o->daemon_pid);
	t0 = now_ns();
	fflush(NULL);
	for (i = 0; i < k; i++) {
		unsigned int count = o->idle_sessions / k + (i < o->idle_sessions % k);

		holders[i] = fork();
		if (holders[i] < 0) {
			fprintf(stderr, "ringd-bench: fork: %s\n", strerror(errno));
			return -errno;
		}
		if (!holders[i])
			_exit(idle_holder(o, o->idle_uids[i], count, sh));
	}
	while (__atomic_load_n(&sh->idle_done, __ATOMIC_SEQ_CST) < k)
		usleep(1000);
	fig->attach_s = (double)(now_ns() - t0) / 1e9;
	if (sh->idle_err) {
		fprintf(stderr, "ringd-bench: idle sessions: %s\n", (const char *)sh->idle_msg);
		return sh->idle_err;
	}
	usleep(300000);
	fig->after = proc_mem(o->daemon_pid);
	return 0;
}

static void idle_report(const struct opts *o, const struct idle_figures *fig, FILE *f)
{
	double n = o->idle_sessions;
	bool mem = fig->before.ok && fig->after.ok;

	fprintf(f, "idle_sessions %u\nattach_s %.4f\nattach_per_s %.0f\n", o->idle_sessions,
		fig->attach_s, fig->attach_s > 0 ? n / fig->attach_s : 0);
	if (!mem)
		return;
	fprintf(f, "daemon_rss_kb_before %llu\ndaemon_rss_kb_after %llu\n", fig->before.rss,
		fig->after.rss);
	fprintf(f, "daemon_anon_kb_per_session %.2f\ndaemon_shmem_kb_per_session %.2f\n",
		((double)fig->after.anon - (double)fig->before.anon) / n,
		((double)fig->after.shmem - (double)fig->before.shmem) / n);
}

/* --- the parent ----------------------------------------------------------- */

struct proc_cpu {
	double cpu_s;
	uint64_t ctxsw;
	bool ok;
};

/* utime+stime of @pid from /proc/PID/stat and its context switches. */
static struct proc_cpu proc_cpu(pid_t pid)
{
	struct proc_cpu pc = { 0 };
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	if (pid <= 0)
		return pc;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return pc;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* After "pid (comm)": state is field 3; utime, stime are 14 and 15. */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return pc;
	pc.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	pc.ok = true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return pc;
	while (fgets(buf, sizeof(buf), f)) {
		unsigned long long v;

		if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1 ||
		    sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			pc.ctxsw += v;
	}
	fclose(f);
	return pc;
}

static int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	uint64_t v;

	if (tool_parse_size(s, &v) || v < min || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* "1000,1001,..." into o->idle_uids. Returns 0 or -EINVAL. */
static int parse_uids(const char *arg, struct opts *o)
{
	const char *p = arg;

	o->nidle_uids = 0;
	while (*p) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || end == p || v > UINT32_MAX - 1 || o->nidle_uids == 64 ||
		    (*end && *end != ','))
			return -EINVAL;
		o->idle_uids[o->nidle_uids++] = (uid_t)v;
		p = *end ? end + 1 : end;
	}
	return o->nidle_uids ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fputs("usage: ringd-bench [options]\n"
	      "  -e, --engine ringd|direct   through the daemon, or liburing on --file (ringd)\n"
	      "  -w, --workload W            nop, randread, randwrite, rw, idle, readv (randread)\n"
	      "  -b, --bs SIZE               block size (4K)\n"
	      "  -q, --qd N                  requests in flight per process (32)\n"
	      "  -B, --batch N               submit and complete batch (min(qd, 32))\n"
	      "  -p, --procs N               worker processes (1)\n"
	      "  -t, --runtime SEC           measured time, may be fractional (5)\n"
	      "  -M, --rwmix PCT             reads in %% for rw (50)\n"
	      "      --vecs N                readv: vectors of --bs per request, 1-64 (4)\n"
	      "      --dsync                 writes durable on completion (RWF_DSYNC,\n"
	      "                              RINGD_RW_DSYNC)\n"
	      "      --fdatasync             each write followed by a linked fdatasync; the\n"
	      "                              pair is one I/O\n"
	      "  -v, --volume NAME           volume (ringd engine)\n"
	      "  -f, --file PATH             backing file (direct engine)\n"
	      "  -S, --size SIZE             limit offsets to the first SIZE bytes\n"
	      "  -s, --socket PATH           daemon socket ($RINGD_SOCKET)\n"
	      "  -d, --daemon-pid PID        account the daemon's CPU and syscalls\n"
	      "      --spin-us N             libringd spin before sleeping (library default)\n"
	      "      --cpu N                 pin the workers to CPU N\n"
	      "      --line-rtt N            measure the cache-line round trip between the\n"
	      "                              --cpu CPU and CPU N before and after the run\n"
	      "      --loop batch|plain      batched loop, or liburing's canonical one (batch)\n"
	      "      --idle-sessions N       attach N idle sessions first (ringd engine)\n"
	      "      --idle-uids LIST        their uids, comma-separated, one process each (0)\n"
	      "      --idle-report FILE      write the attach rate and daemon memory there\n"
	      "      --churn VOLUME          meanwhile, another tenant creates, writes, renames\n"
	      "                              and removes files in directory volume VOLUME\n"
	      "      --churn-uid UID         that tenant's uid (0)\n"
	      "      --no-lat                skip the clock reads (latency not measured)\n"
	      "      --label TEXT            free text copied into the JSON\n"
	      "  -j, --json                  JSON on stdout\n"
	      "      --quiet                 no progress line\n"
	      "      --summary FILE          append one tab-separated line of results to FILE\n"
	      "      --cdf FILE              write the latency CDF (\"usec fraction\" lines)\n"
	      "      --series FILE           write \"seconds IOPS MB/s\" per --interval\n"
	      "      --interval MS           progress and series interval (1000)\n"
	      "  -h, --help                  this text\n"
	      "  -V, --version               print the version and exit\n",
	      f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "engine", required_argument, NULL, 'e' },
		{ "workload", required_argument, NULL, 'w' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "batch", required_argument, NULL, 'B' },
		{ "procs", required_argument, NULL, 'p' },
		{ "runtime", required_argument, NULL, 't' },
		{ "rwmix", required_argument, NULL, 'M' },
		{ "volume", required_argument, NULL, 'v' },
		{ "file", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 'S' },
		{ "socket", required_argument, NULL, 's' },
		{ "daemon-pid", required_argument, NULL, 'd' },
		{ "spin-us", required_argument, NULL, 1 },
		{ "cpu", required_argument, NULL, 2 },
		{ "no-lat", no_argument, NULL, 3 },
		{ "label", required_argument, NULL, 4 },
		{ "quiet", no_argument, NULL, 5 },
		{ "summary", required_argument, NULL, 6 },
		{ "cdf", required_argument, NULL, 7 },
		{ "series", required_argument, NULL, 8 },
		{ "interval", required_argument, NULL, 9 },
		{ "vecs", required_argument, NULL, 10 },
		{ "dsync", no_argument, NULL, 11 },
		{ "fdatasync", no_argument, NULL, 12 },
		{ "loop", required_argument, NULL, 13 },
		{ "idle-sessions", required_argument, NULL, 14 },
		{ "idle-uids", required_argument, NULL, 15 },
		{ "idle-report", required_argument, NULL, 16 },
		{ "churn", required_argument, NULL, 17 },
		{ "churn-uid", required_argument, NULL, 18 },
		{ "line-rtt", required_argument, NULL, 19 },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	unsigned int i, u;
	uint64_t v;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->engine = ENG_RINGD;
	o->wl = WL_RANDREAD;
	o->bs = 4096;
	o->interval_ms = 1000;
	o->qd = 32;
	o->procs = 1;
	o->runtime = 5;
	o->rwmix = 50;
	o->vecs = 4;
	o->cpu = -1;
	o->rtt_cpu = -1;
	while ((c = getopt_long(argc, argv, "e:w:b:q:B:p:t:M:v:f:S:s:d:jhV", lo, NULL)) != -1) {
		switch (c) {
		case 'e':
			for (i = 0; i < 2 && strcmp(optarg, eng_names[i]); i++)
				;
			if (i == 2)
				goto bad;
			o->engine = (enum engine)i;
			break;
		case 'w':
			for (i = 0; i < WL_COUNT && strcmp(optarg, wl_names[i]); i++)
				;
			if (i == WL_COUNT)
				goto bad;
			o->wl = (enum workload)i;
			break;
		case 'b':
			if (parse_uint(optarg, 1, 64u << 20, &o->bs))
				goto bad;
			break;
		case 'q':
			if (parse_uint(optarg, 1, MAX_QD, &o->qd))
				goto bad;
			break;
		case 'B':
			if (parse_uint(optarg, 1, MAX_QD, &o->batch))
				goto bad;
			break;
		case 'p':
			if (parse_uint(optarg, 1, MAX_PROCS, &o->procs))
				goto bad;
			break;
		case 't':
			errno = 0;
			o->runtime = strtod(optarg, &end);
			if (errno || *end || !(o->runtime > 0) || o->runtime > 86400)
				goto bad;
			break;
		case 'M':
			if (parse_uint(optarg, 0, 100, &o->rwmix))
				goto bad;
			break;
		case 'v':
			o->volume = optarg;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'S':
			if (tool_parse_size(optarg, &v))
				goto bad;
			o->size = v;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			if (parse_uint(optarg, 1, INT32_MAX, &u))
				goto bad;
			o->daemon_pid = (pid_t)u;
			break;
		case 1:
			if (parse_uint(optarg, 0, 1000000, &o->spin_us))
				goto bad;
			break;
		case 2:
			if (parse_uint(optarg, 0, CPU_SETSIZE - 1, &u))
				goto bad;
			o->cpu = (int)u;
			break;
		case 19:
			if (parse_uint(optarg, 0, CPU_SETSIZE - 1, &u))
				goto bad;
			o->rtt_cpu = (int)u;
			break;
		case 3:
			o->no_lat = true;
			break;
		case 4:
			o->label = optarg;
			break;
		case 5:
			o->quiet = true;
			break;
		case 6:
			o->summary = optarg;
			break;
		case 8:
			o->series = optarg;
			break;
		case 9:
			if (parse_uint(optarg, 10, 60000, &o->interval_ms))
				goto bad;
			break;
		case 7:
			o->cdf = optarg;
			break;
		case 13:
			if (strcmp(optarg, "plain") && strcmp(optarg, "batch"))
				goto bad;
			o->plain = !strcmp(optarg, "plain");
			break;
		case 14:
			if (parse_uint(optarg, 0, 65536, &o->idle_sessions))
				goto bad;
			break;
		case 15:
			if (parse_uids(optarg, o))
				goto bad;
			break;
		case 16:
			o->idle_report = optarg;
			break;
		case 17:
			o->churn = optarg;
			break;
		case 18: {
			unsigned int cu;

			if (parse_uint(optarg, 0, UINT32_MAX - 1, &cu))
				goto bad;
			o->churn_uid = (uid_t)cu;
			break;
		}
		case 10:
			if (parse_uint(optarg, 1, RINGD_MAX_VECS, &o->vecs))
				goto bad;
			break;
		case 11:
			o->dsync = true;
			break;
		case 12:
			o->fdatasync = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("ringd-bench %s (libringd %s)\n", RINGD_PROJECT_VERSION,
			       ringd_version());
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (!o->batch)
		o->batch = o->qd < 32 ? o->qd : 32;
	if (o->batch > o->qd)
		o->batch = o->qd;
	if (o->wl != WL_NOP && o->wl != WL_IDLE) {
		if (o->engine == ENG_RINGD && !o->volume) {
			fprintf(stderr, "ringd-bench: the ringd engine needs --volume\n");
			return -EINVAL;
		}
		if (o->engine == ENG_DIRECT && !o->file) {
			fprintf(stderr, "ringd-bench: the direct engine needs --file\n");
			return -EINVAL;
		}
	}
	if (o->wl == WL_IDLE && o->qd < 8)
		o->qd = 8;
	if ((o->dsync || o->fdatasync) && o->wl != WL_RANDWRITE && o->wl != WL_RW) {
		fprintf(stderr, "ringd-bench: --dsync and --fdatasync apply to randwrite and rw\n");
		return -EINVAL;
	}
	if (o->dsync && o->fdatasync) {
		fprintf(stderr, "ringd-bench: --dsync and --fdatasync are two ways to durable "
				"writes: pick one\n");
		return -EINVAL;
	}
	if (o->wl == WL_READV && (uint64_t)o->vecs * o->bs > (64u << 20)) {
		fprintf(stderr, "ringd-bench: --vecs x --bs is over 64 MiB\n");
		return -EINVAL;
	}
	o->req_bytes = o->wl == WL_READV ? o->vecs * o->bs : o->bs;
	if (o->idle_sessions && o->engine != ENG_RINGD) {
		fprintf(stderr, "ringd-bench: --idle-sessions needs the ringd engine\n");
		return -EINVAL;
	}
	if (o->rtt_cpu >= 0 && (o->cpu < 0 || o->cpu == o->rtt_cpu)) {
		fprintf(stderr, "ringd-bench: --line-rtt needs --cpu, and another CPU than it\n");
		return -EINVAL;
	}
	if (!o->nidle_uids)
		o->nidle_uids = 1; /* uid 0 */
	return 0;
bad:
	fprintf(stderr, "ringd-bench: bad value '%s'\n", optarg);
	return -EINVAL;
}

/* The workload as the text and TSV outputs name it: "readv4" (vectors),
 * "randwrite+dsync", "randwrite+fdatasync". Returns @buf. */
static const char *wl_desc(const struct opts *o, char *buf, size_t len)
{
	if (o->wl == WL_READV)
		snprintf(buf, len, "readv%u", o->vecs);
	else
		snprintf(buf, len, "%s%s", wl_names[o->wl],
			 o->dsync	? "+dsync"
			 : o->fdatasync ? "+fdatasync"
					: "");
	return buf;
}

static double hist_pct(const uint64_t *h, uint64_t total, double p)
{
	uint64_t want = (uint64_t)ceil(p * (double)total), sum = 0;
	unsigned int i;

	if (!total)
		return 0;
	if (!want)
		want = 1;
	for (i = 0; i < H_BUCKETS; i++) {
		sum += h[i];
		if (sum >= want)
			return hist_val(i);
	}
	return hist_val(H_BUCKETS - 1);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num_or_null(FILE *f, bool ok, double v)
{
	if (ok)
		fprintf(f, "%.4f", v);
	else
		fputs("null", f);
}

int main(int argc, char **argv)
{
	/* Static: nothing to free on the many ways out. */
	static pid_t pids[MAX_PROCS], holders[64], churn_pid;
	struct idle_figures idle = { 0 };
	static uint64_t hist[H_BUCKETS];
	struct opts o;
	size_t shsize;
	struct shared *sh;
	uint64_t ios = 0, bytes = 0, errors = 0, ctxsw = 0, hist_n = 0;
	int64_t syscalls = 0;
	bool sys_ok = true, failed = false, tty;
	double elapsed, cpu_user = 0, cpu_sys = 0, lat_sum = 0, lat_min = -1, lat_max = 0;
	struct proc_cpu d0 = { 0 }, d1 = { 0 };
	double rtt0 = -1, rtt1 = -1;
	int dcfd = -1;
	int64_t dsys = -1;
	uint64_t t0 = 0, t1 = 0, last_ios = 0, last_t;
	FILE *series = NULL;
	unsigned int i, j;
	int32_t first_err = 0;
	struct utsname un;
	char date[64], wl[32];
	time_t now;

	if (parse_args(argc, argv, &o))
		return 2;
	wl_desc(&o, wl, sizeof(wl));
	shsize = sizeof(*sh) + (size_t)o.procs * sizeof(struct worker_res);
	sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "ringd-bench: out of memory\n");
		return 1;
	}
	if (o.idle_sessions && idle_attach(&o, sh, holders, &idle)) {
		__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
		o.procs = 0;
		failed = true;
		goto reap;
	}
	/* Before the workers exist, so that nothing else spins on the two CPUs. */
	if (o.rtt_cpu >= 0)
		rtt0 = line_rtt_ns(o.cpu, o.rtt_cpu);
	fflush(NULL);
	if (o.churn) {
		churn_pid = fork();
		if (!churn_pid)
			_exit(churner(&o, sh));
		while (churn_pid > 0 && !__atomic_load_n(&sh->churn_ready, __ATOMIC_SEQ_CST))
			usleep(1000);
		usleep(100000); /* churning before the clock starts */
	}
	for (i = 0; i < o.procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "ringd-bench: fork: %s\n", strerror(errno));
			__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
			o.procs = i;
			failed = true;
			break;
		}
		if (!pids[i])
			_exit(worker_main(&o, i, sh));
	}
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < o.procs)
		usleep(1000);
	for (i = 0; i < o.procs; i++)
		if (sh->res[i].setup_err)
			failed = true;
	if (failed) {
		__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
		goto reap;
	}
	/* Idle sessions: let the daemon settle before measuring it. */
	if (o.wl == WL_IDLE)
		usleep(500000);
	if (o.daemon_pid) {
		dcfd = syscall_counter(o.daemon_pid);
		if (dcfd >= 0)
			ioctl(dcfd, PERF_EVENT_IOC_ENABLE, 0);
	}
	d0 = proc_cpu(o.daemon_pid);
	if (o.series) {
		series = fopen(o.series, "we");
		if (!series)
			fprintf(stderr, "ringd-bench: %s: %s\n", o.series, strerror(errno));
	}
	t0 = last_t = now_ns();
	__atomic_store_n(&sh->start, 1, __ATOMIC_RELEASE);
	tty = isatty(STDERR_FILENO);
	for (;;) {
		uint64_t t = now_ns(), cur = 0;
		double left = o.runtime - (double)(t - t0) / 1e9, iv = o.interval_ms / 1000.0;
		double iops;

		if (left <= 0)
			break;
		usleep(left > iv ? o.interval_ms * 1000u : (useconds_t)(left * 1e6));
		if ((o.quiet && !series) || o.wl == WL_IDLE)
			continue;
		t = now_ns();
		for (i = 0; i < o.procs; i++)
			cur += __atomic_load_n(&sh->res[i].ios, __ATOMIC_RELAXED);
		iops = (double)(cur - last_ios) * 1e9 / (double)(t - last_t);
		if (series)
			fprintf(series, "%.3f %.0f %.2f\n", (double)(t - t0) / 1e9, iops,
				iops * o.req_bytes / 1e6);
		if (!o.quiet)
			fprintf(stderr, "%s[%5.1f/%.1fs] %s %s qd=%u procs=%u: %.0f IOPS%s",
				tty ? "\r" : "", (double)(t - t0) / 1e9, o.runtime,
				eng_names[o.engine], wl, o.qd, o.procs, iops, tty ? "   " : "\n");
		last_ios = cur;
		last_t = t;
	}
	if (series)
		fclose(series);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
	t1 = now_ns();
	d1 = proc_cpu(o.daemon_pid);
	if (dcfd >= 0) {
		ioctl(dcfd, PERF_EVENT_IOC_DISABLE, 0);
		dsys = counter_read(dcfd);
		close(dcfd);
	}
	if (!o.quiet && tty && o.wl != WL_IDLE)
		fputc('\n', stderr);
reap:
	for (i = 0; i < o.procs; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			failed = true;
	}
	for (i = 0; o.idle_sessions && i < o.nidle_uids; i++)
		if (holders[i] > 0)
			waitpid(holders[i], NULL, 0);
	if (churn_pid > 0) {
		waitpid(churn_pid, NULL, 0);
		if (sh->churn_err) {
			fprintf(stderr, "ringd-bench: %s\n", (const char *)sh->churn_msg);
			failed = true;
		}
	}
	for (i = 0; i < o.procs; i++) {
		struct worker_res *r = &sh->res[i];

		if (r->msg[0])
			fprintf(stderr, "ringd-bench: worker %u: %s\n", i, r->msg);
	}
	if (failed)
		return 1;
	if (o.rtt_cpu >= 0)
		rtt1 = line_rtt_ns(o.cpu, o.rtt_cpu);
	if (o.rtt_cpu >= 0 && (rtt0 < 0 || rtt1 < 0)) {
		fprintf(stderr, "ringd-bench: line round trip CPU %d-%d: %s\n", o.cpu, o.rtt_cpu,
			strerror((int)-(rtt0 < 0 ? rtt0 : rtt1)));
		rtt0 = rtt1 = -1;
	}
	elapsed = (double)(t1 - t0) / 1e9;
	for (i = 0; i < o.procs; i++) {
		struct worker_res *r = &sh->res[i];

		ios += r->ios;
		bytes += r->bytes;
		if (r->errors && !errors)
			first_err = r->first_err;
		errors += r->errors;
		cpu_user += r->cpu_user;
		cpu_sys += r->cpu_sys;
		ctxsw += r->ctxsw;
		if (r->syscalls < 0)
			sys_ok = false;
		else
			syscalls += r->syscalls;
		for (j = 0; j < H_BUCKETS; j++)
			hist[j] += r->hist[j];
	}
	for (j = 0; j < H_BUCKETS; j++) {
		if (!hist[j])
			continue;
		hist_n += hist[j];
		lat_sum += hist_val(j) * (double)hist[j];
		if (lat_min < 0)
			lat_min = hist_val(j);
		lat_max = hist_val(j);
	}
	if (errors)
		fprintf(stderr, "ringd-bench: %llu I/Os failed, the first with %d (%s)\n",
			(unsigned long long)errors, first_err, strerror(-first_err));

	{
		double iops = (double)ios / elapsed, mbs = (double)bytes / elapsed / 1e6;
		double dcpu = d1.cpu_s - d0.cpu_s, ccpu = cpu_user + cpu_sys;
		bool dok = d0.ok && d1.ok;
		double p50 = hist_pct(hist, hist_n, 0.50) / 1e3,
		       p99 = hist_pct(hist, hist_n, 0.99) / 1e3;
		double p999 = hist_pct(hist, hist_n, 0.999) / 1e3;
		double per = ios ? 1.0 / (double)ios : 0;

		if (o.idle_sessions && o.idle_report) {
			FILE *f = fopen(o.idle_report, "w");

			if (!f) {
				fprintf(stderr, "ringd-bench: %s: %s\n", o.idle_report,
					strerror(errno));
				return 1;
			}
			idle_report(&o, &idle, f);
			fclose(f);
		}
		if (o.idle_sessions && !o.json)
			idle_report(&o, &idle, stdout);
		if (o.churn && !o.json)
			printf("churn_cycles %llu\nchurn_cycles_per_s %.0f\n",
			       (unsigned long long)sh->churn_cycles,
			       (double)sh->churn_cycles / elapsed);
		if (o.summary) {
			FILE *f = fopen(o.summary, "a");

			if (!f) {
				fprintf(stderr, "ringd-bench: %s: %s\n", o.summary,
					strerror(errno));
				return 1;
			}
			/* label engine workload bs qd batch procs iops mb_s p50 p99 p999
			 * cpu%clients cpu%daemon sys/io-clients sys/io-daemon
			 * ctxsw/io-clients ctxsw/io-daemon line-rtt-ns (mean of before
			 * and after) (-1: not measured) */
			fprintf(f,
				"%s\t%s\t%s\t%u\t%u\t%u\t%u\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t"
				"%.3f\t%.4f\t%.4f\t%.4f\t%.4f\t%.1f\n",
				o.label ? o.label : "-", eng_names[o.engine], wl, o.bs, o.qd,
				o.batch, o.procs, iops, mbs, p50, p99, p999, 100 * ccpu / elapsed,
				dok ? 100 * dcpu / elapsed : -1,
				ios && sys_ok ? (double)syscalls * per : -1,
				ios && dsys >= 0 ? (double)dsys * per : -1,
				ios ? (double)ctxsw * per : -1,
				ios && dok ? (double)(d1.ctxsw - d0.ctxsw) * per : -1,
				rtt0 < 0 ? -1 : (rtt0 + rtt1) / 2);
			fclose(f);
		}
		if (o.cdf) {
			FILE *f = fopen(o.cdf, "w");
			uint64_t sum = 0;

			if (!f) {
				fprintf(stderr, "ringd-bench: %s: %s\n", o.cdf, strerror(errno));
				return 1;
			}
			for (j = 0; j < H_BUCKETS; j++) {
				if (!hist[j])
					continue;
				sum += hist[j];
				fprintf(f, "%.3f %.6f\n", hist_val(j) / 1e3,
					(double)sum / (double)hist_n);
			}
			fclose(f);
		}
		if (!o.json) {
			printf("%s %s bs=%u qd=%u batch=%u procs=%u: %.0f IOPS, %.1f MB/s",
			       eng_names[o.engine], wl, o.bs, o.qd, o.batch, o.procs, iops, mbs);
			if (hist_n)
				printf(", lat p50 %.2f p99 %.2f p99.9 %.2f us", p50, p99, p999);
			printf("\n  CPU: clients %.2f s (%.0f%%)", ccpu, 100 * ccpu / elapsed);
			if (dok)
				printf(", daemon %.2f s (%.1f%%)", dcpu, 100 * dcpu / elapsed);
			if (ios)
				printf("; ctxsw/IO clients %.4f", (double)ctxsw * per);
			if (ios && dok)
				printf(" daemon %.4f", (double)(d1.ctxsw - d0.ctxsw) * per);
			if (ios && sys_ok)
				printf("; syscalls/IO clients %.4f", (double)syscalls * per);
			if (ios && dsys >= 0)
				printf(" daemon %.4f", (double)dsys * per);
			printf("\n");
			if (rtt0 >= 0)
				printf(
				    "  line round trip CPU %d-%d: %.1f ns before, %.1f ns after\n",
				    o.cpu, o.rtt_cpu, rtt0, rtt1);
			return errors ? 1 : 0;
		}
		now = time(NULL);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		uname(&un);
		printf("{\n  \"engine\": \"%s\", \"workload\": \"%s\", \"label\": ",
		       eng_names[o.engine], wl_names[o.wl]);
		json_str(stdout, o.label ? o.label : "");
		printf(",\n  \"date\": \"%s\", \"host\": ", date);
		json_str(stdout, un.nodename);
		printf(", \"kernel\": ");
		json_str(stdout, un.release);
		printf(", \"cpus\": %ld,\n", sysconf(_SC_NPROCESSORS_ONLN));
		printf("  \"bs\": %u, \"qd\": %u, \"batch\": %u, \"procs\": %u, \"rwmix\": %u,\n",
		       o.bs, o.qd, o.batch, o.procs, o.rwmix);
		printf("  \"vecs\": %u, \"request_bytes\": %u, \"dsync\": %s, \"fdatasync\": %s,\n",
		       o.wl == WL_READV ? o.vecs : 1, o.req_bytes, o.dsync ? "true" : "false",
		       o.fdatasync ? "true" : "false");
		printf("  \"runtime_s\": %.4f, \"ios\": %llu, \"errors\": %llu,\n", elapsed,
		       (unsigned long long)ios, (unsigned long long)errors);
		printf("  \"iops\": %.1f, \"mb_s\": %.3f,\n", iops, mbs);
		printf("  \"lat_us\": {\"samples\": %llu, \"min\": %.3f, \"mean\": %.3f, \"p50\": "
		       "%.3f, "
		       "\"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f},\n",
		       (unsigned long long)hist_n, lat_min < 0 ? 0 : lat_min / 1e3,
		       hist_n ? lat_sum / (double)hist_n / 1e3 : 0, p50,
		       hist_pct(hist, hist_n, 0.90) / 1e3, p99, p999, lat_max / 1e3);
		printf("  \"cpu_s\": {\"clients\": %.4f, \"clients_user\": %.4f, \"clients_sys\": "
		       "%.4f, \"daemon\": ",
		       ccpu, cpu_user, cpu_sys);
		json_num_or_null(stdout, dok, dcpu);
		printf("},\n  \"cpu_pct\": {\"clients\": %.2f, \"daemon\": ", 100 * ccpu / elapsed);
		json_num_or_null(stdout, dok, 100 * dcpu / elapsed);
		printf("},\n  \"ctxsw_per_io\": {\"clients\": ");
		json_num_or_null(stdout, ios, (double)ctxsw * per);
		printf(", \"daemon\": ");
		json_num_or_null(stdout, ios && dok, (double)(d1.ctxsw - d0.ctxsw) * per);
		printf("},\n  \"syscalls_per_io\": {\"clients\": ");
		json_num_or_null(stdout, ios && sys_ok, (double)syscalls * per);
		printf(", \"daemon\": ");
		json_num_or_null(stdout, ios && dsys >= 0, (double)dsys * per);
		printf("},\n  \"daemon_syscalls\": ");
		json_num_or_null(stdout, dsys >= 0, (double)dsys);
		printf(",\n  \"line_rtt_ns\": {\"before\": ");
		json_num_or_null(stdout, rtt0 >= 0, rtt0);
		printf(", \"after\": ");
		json_num_or_null(stdout, rtt0 >= 0, rtt1);
		printf("}");
		printf(",\n  \"lat_cdf_us\": [");
		{
			uint64_t sum = 0;
			bool first = true;

			for (j = 0; j < H_BUCKETS; j++) {
				if (!hist[j])
					continue;
				sum += hist[j];
				printf("%s[%.3f, %.6f]", first ? "" : ", ", hist_val(j) / 1e3,
				       (double)sum / (double)hist_n);
				first = false;
			}
		}
		printf("]\n}\n");
	}
	return errors ? 1 : 0;
}
