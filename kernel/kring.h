/* SPDX-License-Identifier: MIT */
/*
 * kr_: the daemon's io_uring rings. Knows nothing of clients: callers hand
 * in registered-file slots, registered-buffer slots, addresses and 64-bit
 * tags, and get back (tag, res) completions.
 */
#ifndef RINGD_KERNEL_KRING_H
#define RINGD_KERNEL_KRING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Ring flavours (kr_params.flags). */
enum {
	KR_IOPOLL = 1u << 0, /* IORING_SETUP_IOPOLL: completions are polled, not interrupts */
	KR_BIG = 1u << 1,    /* SQE128 | CQE32: can carry NVMe passthrough (URING_CMD) */
	KR_SQPOLL = 1u << 2, /* a kernel thread consumes the SQ */
};

struct kr_params {
	unsigned int entries;  /* SQ size; CQ is 4x */
	unsigned int nr_files; /* sparse registered-file table size */
	unsigned int nr_bufs;  /* sparse registered-buffer table size */
	unsigned int flags;    /* KR_* */
	/* KR_SQPOLL: share this ring's SQ thread (IORING_SETUP_ATTACH_WQ), or NULL. */
	const struct kr_ring *attach;
	int sqpoll_cpu;		     /* KR_SQPOLL without attach: pin the thread; -1 none */
	unsigned int sqpoll_idle_ms; /* KR_SQPOLL: idle time before the thread sleeps */
	bool has_eventfd;	     /* signal @eventfd on every completion */
	int eventfd;
	/* Most kernel worker threads (io-wq, bounded: file and block work that
	 * cannot complete at once) for the calling thread's rings; 0: the
	 * kernel's default (4 per CPU). */
	unsigned int iowq_bounded;
};

struct kr_ring {
	struct io_uring ring;
	unsigned int nr_files;
	unsigned int nr_bufs;
	unsigned int files_used;
	unsigned int bufs_used;
	unsigned int queued;	   /* SQEs prepared but not yet submitted */
	struct io_uring_sqe *last; /* the SQE kr_queue_*() prepared last */
	unsigned int flags;	   /* KR_* it was created with */
	int iowq_err;		   /* kr_params.iowq_bounded not set: -errno; else 0 */
};

/* A reaped completion. */
struct kr_cqe {
	uint64_t tag;
	int32_t res;
	uint32_t flags;
};

/*
 * Create a ring: disabled, restricted to the opcodes and register calls the
 * daemon uses, with sparse file and buffer tables, then enabled.
 * Returns 0 or -errno.
 */
int kr_ring_init(struct kr_ring *kr, const struct kr_params *p);

/* Tear a ring down (closes its fd, drops both tables). */
void kr_ring_exit(struct kr_ring *kr);

/* Put @fd in file slot @slot (-1 clears the slot). Returns 0 or -errno. */
int kr_file_set(struct kr_ring *kr, unsigned int slot, int fd);

/* Register [base, base+len) as buffer slot @slot. Returns 0 or -errno. */
int kr_buf_set(struct kr_ring *kr, unsigned int slot, void *base, size_t len);

/* Empty buffer slot @slot; callers ensure no I/O on it is in flight.
 * Returns 0 or -errno. */
int kr_buf_clear(struct kr_ring *kr, unsigned int slot);

/*
 * Make sure the next kr_queue_*() finds a free SQE, submitting once if the
 * SQ is full. Returns 0, or -EBUSY if it is still full.
 */
int kr_sq_reserve(struct kr_ring *kr);

/*
 * Have the request queued last run on a kernel worker thread (io-wq)
 * rather than inside io_uring_enter() on the submitting thread: a large
 * copy through the page cache then holds no one else's submissions.
 * Call right after a kr_queue_*() that returned 0.
 */
void kr_queue_async(struct kr_ring *kr);

/*
 * Queue I/O. Each returns 0, or -EBUSY if the SQ is still full after one
 * flush. Nothing is submitted until kr_submit*() (or that one flush).
 */
int kr_queue_read_fixed(struct kr_ring *kr, unsigned int file_slot, void *buf, unsigned int len,
			uint64_t off, unsigned int buf_slot, uint64_t tag);
/* @rw_flags: RWF_* (RWF_DSYNC for a durable write), or 0. */
int kr_queue_write_fixed(struct kr_ring *kr, unsigned int file_slot, const void *buf,
			 unsigned int len, uint64_t off, unsigned int buf_slot, int rw_flags,
			 uint64_t tag);
/* Vectored read or write from plain (not registered) memory; @iov must stay
 * valid until the request completes. */
int kr_queue_rwv(struct kr_ring *kr, unsigned int file_slot, bool write, const struct iovec *iov,
		 unsigned int nr, uint64_t off, int rw_flags, uint64_t tag);
/* fallocate(2) @mode on [off, off+len) (main ring: IOPOLL rings refuse it). */
int kr_queue_fallocate(struct kr_ring *kr, unsigned int file_slot, int mode, uint64_t off,
		       uint64_t len, uint64_t tag);
/* Cancel the request queued with @tag; completes with @own_tag: 0 (it
 * will complete with -ECANCELED), -ENOENT, or -EALREADY (running). */
int kr_queue_cancel(struct kr_ring *kr, uint64_t tag, uint64_t own_tag);
int kr_queue_fsync(struct kr_ring *kr, unsigned int file_slot, int datasync, uint64_t tag);
int kr_queue_nop(struct kr_ring *kr, uint64_t tag);
/* Multishot readability poll on a plain fd. */
int kr_queue_poll(struct kr_ring *kr, int fd, uint64_t tag);
/*
 * Cancel the poll armed with @tag; its final CQE still arrives. The
 * removal completes with @own_tag: 0, -ENOENT, or -EALREADY when the poll
 * was busy completing at that instant and is still armed (try again).
 */
int kr_queue_poll_remove(struct kr_ring *kr, uint64_t tag, uint64_t own_tag);

/*
 * NVMe passthrough (KR_BIG rings only): one NVME_URING_CMD_IO on the
 * namespace char device in @file_slot. @nvme_op is the NVMe opcode (0x00
 * flush, 0x01 write, 0x02 read); @slba/@nlb in logical blocks (@nlb >= 1,
 * ignored for flush); @buf/@len inside registered buffer @buf_slot, which
 * is used as a fixed buffer (IORING_URING_CMD_FIXED) when @fixed. The CQE's
 * res is 0, a negative errno from the kernel, or a positive NVMe status
 * (see kr_nvme_status_errno()).
 */
int kr_queue_nvme_cmd(struct kr_ring *kr, unsigned int file_slot, uint8_t nvme_op, uint32_t nsid,
		      uint64_t slba, uint32_t nlb, void *buf, uint32_t len, unsigned int buf_slot,
		      bool fixed, uint64_t tag);

/* NVMe I/O command set opcodes the daemon builds. */
enum {
	KR_NVME_FLUSH = 0x00,
	KR_NVME_WRITE = 0x01,
	KR_NVME_READ = 0x02,
	KR_NVME_WRITE_ZEROES = 0x08,
	KR_NVME_DSM = 0x09,
};
#define KR_NVME_RW_FUA (1u << 30) /* cdw12 of read/write: force unit access */
#define KR_NVME_DSM_AD (1u << 2)  /* cdw11 of DSM: deallocate */
#define KR_NVME_WZ_MAX 65536u	  /* blocks of one Write Zeroes (16-bit NLB) */

/* One NVMe command, fields as in the spec (dwords 10 to 13). */
struct kr_nvme_cmd {
	uint8_t opcode;
	uint32_t nsid;
	uint32_t cdw10, cdw11, cdw12, cdw13;
	void *addr;	   /* data, or with @vec an iovec array */
	uint32_t data_len; /* bytes, or with @vec the number of iovecs */
	bool vec;	   /* NVME_URING_CMD_IO_VEC */
	bool fixed;	   /* @addr lies in registered buffer @buf_slot */
	unsigned int buf_slot;
};

/* Queue @c on the namespace char device in @file_slot (KR_BIG rings). */
int kr_queue_nvme(struct kr_ring *kr, unsigned int file_slot, const struct kr_nvme_cmd *c,
		  uint64_t tag);

/*
 * Map an NVMe completion status as io_uring reports it (the 15-bit status
 * field without the phase bit: DNR 0x4000, More 0x2000, SCT bits 10:8,
 * SC bits 7:0) to a negative errno. 0 stays 0. See kring.c for the table.
 */
int kr_nvme_status_errno(int status);

/* Submit queued SQEs. Returns the number submitted or -errno. */
int kr_submit(struct kr_ring *kr);

/*
 * Submit and wait for at least @wait_nr completions or @timeout_ns
 * (0: no timeout). Returns >= 0, -ETIME on timeout, -EINTR, or -errno.
 */
int kr_submit_and_wait(struct kr_ring *kr, unsigned int wait_nr, uint64_t timeout_ns);

/*
 * IOPOLL rings: reap what the device has completed without sleeping
 * (io_uring_enter GETEVENTS with min_complete 0 polls the queues once).
 * Returns >= 0 or -errno.
 */
int kr_iopoll(struct kr_ring *kr);

/* Completions waiting in the CQ. */
unsigned int kr_cq_ready(const struct kr_ring *kr);

/* Copy out up to @max completions and consume them. Returns the count. */
unsigned int kr_reap(struct kr_ring *kr, struct kr_cqe *out, unsigned int max);

/* True if a reaped poll CQE means the multishot poll is still armed. */
static inline int kr_poll_more(const struct kr_cqe *c)
{
	return (c->flags & IORING_CQE_F_MORE) != 0;
}

#endif
