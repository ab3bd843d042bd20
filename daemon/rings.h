/* SPDX-License-Identifier: MIT */
/*
 * rg_: the daemon's kernel rings as one object. The main (interrupt) ring
 * always exists; the IOPOLL ring and the NVMe passthrough ring are created
 * the first time a volume needs them. Whatever must hold on every ring is
 * done here, once, for all of them: a session's data area is registered on
 * (or cleared from) every ring, and a ring created later is seeded with
 * every buffer already registered.
 *
 * The ring-liveness pipe: its write end lives in every ring's file table,
 * which the kernel releases after the last request of that ring has
 * completed, and in this process (closed at exit). Its read end (in the fd
 * store) therefore sees EOF exactly when no I/O of this daemon instance
 * can still land: a restarted daemon waits for that before reissuing.
 */
#ifndef RINGD_DAEMON_RINGS_H
#define RINGD_DAEMON_RINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kring.h"

/*
 * Kernel worker threads (io-wq) the daemon's rings may use at once: a
 * flush, a buffered write, a fallocate each hold one until the filesystem
 * is done. The kernel's default, 4 per CPU, let one tenant's flushes fill
 * them all and every other tenant's wait behind them; dispatch holds each
 * tenant to DISP_BLOCKING_MAX of them, this leaves room for many tenants.
 * Threads are made on demand and go away when idle.
 */
#define RG_IOWQ_WORKERS 1024u

enum rg_which {
	RG_MAIN = 0, /* interrupts: files, block devices, fsync, polls */
	RG_POLL = 1, /* IOPOLL (SQE128|CQE32): polled block I/O and polled passthrough */
	RG_PT = 2,   /* NVMe passthrough with interrupts, and passthrough flushes */
	RG_COUNT
};

struct rg_params {
	unsigned int entries;  /* SQ entries of each ring */
	unsigned int nr_files; /* volume slots; the liveness pipe takes one more */
	unsigned int nr_bufs;  /* buffer slots (one per session slot) */
	bool sqpoll;	       /* one SQ thread, shared by every ring */
	int sqpoll_cpu;
	unsigned int sqpoll_idle_ms;
	uint64_t pt_event_tag; /* tag of the main-ring poll on the passthrough eventfd */
};

struct rg_buf {
	void *base;
	size_t len;
};

struct rings {
	struct kr_ring kr[RG_COUNT];
	bool ready[RG_COUNT];
	struct rg_params p;
	int pt_efd;		/* the passthrough ring signals it; polled on the main ring */
	uint32_t poll_inflight; /* requests on the IOPOLL ring: the loop spins while > 0 */
	int live_rd, live_wr;	/* the ring-liveness pipe */
	struct rg_buf *bufs;	/* nr_bufs: what every ring has registered */
	unsigned int nbufs;
};

/* Create the main ring and the liveness pipe. Returns 0 or -errno (logged). */
int rg_init(struct rings *r, const struct rg_params *p);

/* Tear every ring down and close the pipe's write end and the eventfd. */
void rg_fini(struct rings *r);

/* Create ring @w (RG_POLL or RG_PT) if it does not exist yet, seeded with
 * the liveness pipe and every registered buffer. Returns 0 or -errno (logged). */
int rg_ensure(struct rings *r, enum rg_which w);

/* The kernel ring @w (which must exist). */
static inline struct kr_ring *rg_ring(struct rings *r, enum rg_which w)
{
	return &r->kr[w];
}

/* Register [base, base+len) as buffer @slot on every ring, or none.
 * Returns 0 or -errno. */
int rg_buf_set(struct rings *r, unsigned int slot, void *base, size_t len);

/* Clear buffer @slot on every ring (no I/O on it may be in flight).
 * Returns 0, or the first -errno (every ring is still tried). */
int rg_buf_clear(struct rings *r, unsigned int slot);

/* Buffers registered: the most any ring holds (they all hold the same). */
unsigned int rg_bufs_registered(const struct rings *r);

/* Files registered on the main ring (volumes and the liveness pipe). */
unsigned int rg_files_registered(const struct rings *r);

/* Put @fd in file slot @slot of ring @w (-1 clears it). Returns 0 or -errno. */
int rg_file_set(struct rings *r, enum rg_which w, unsigned int slot, int fd);

/* Make sure ring @w has a free SQE for the next queue call, submitting
 * once if needed. Returns 0 or -EBUSY (backpressure). */
int rg_sq_reserve(struct rings *r, enum rg_which w);

/* Arm a multishot readability poll on @fd (main ring). Returns 0 or -errno. */
int rg_arm_poll(struct rings *r, int fd, uint64_t tag);

/* Ask for the removal of the poll armed with @tag; the removal completes
 * with @own_tag. Returns 0 or -errno. */
int rg_remove_poll(struct rings *r, uint64_t tag, uint64_t own_tag);

/* Submit what is queued on every ring. Returns 0 or the main ring's -errno. */
int rg_submit(struct rings *r);

/*
 * The loop's one wait: submit every ring, then wait on the main ring for a
 * completion (@block, at most @timeout_ns) unless polled I/O is in flight,
 * and poll the IOPOLL ring's queues once if it is. The passthrough ring
 * wakes the main ring through its eventfd. Returns >= 0, -ETIME, -EINTR
 * or another -errno.
 */
int rg_wait(struct rings *r, bool block, uint64_t timeout_ns);

/* Copy out up to @max completions, IOPOLL ring first, then passthrough,
 * then main. Returns the count (call again while it equals @max). */
unsigned int rg_reap(struct rings *r, struct kr_cqe *out, unsigned int max);

#endif
