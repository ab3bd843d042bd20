/* SPDX-License-Identifier: MIT */
/*
 * iss_: one accepted request, as its journal record describes it, turned
 * into kernel SQEs on the ring its volume's path needs, and the kernel's
 * results turned into the one error vocabulary tenants see. Built from
 * zero, from daemon-private memory only: the record, the request's iovec
 * slot and the session's data-area address.
 *
 * Some requests take more than one kernel SQE, one after the other: an
 * NVMe write-zeroes or discard longer than one command carries, and
 * write-zeroes on a file whose file system cannot zero a range in place
 * (it punches a hole instead: it reads as zeros all the same).
 */
#ifndef RINGD_DAEMON_ISSUE_H
#define RINGD_DAEMON_ISSUE_H

#include <stdbool.h>
#include <stdint.h>

#include "journal.h"
#include "reqs.h"
#include "rings.h"
#include "validate.h"
#include "volume.h"

/* The session's data area in daemon memory, and its registered-buffer slot. */
struct iss_area {
	uint8_t *data;
	uint64_t size;
	uint32_t buf_slot;
};

/* Whether @op moves data (a read or a write of some kind). */
static inline bool iss_data_op(uint8_t op)
{
	return val_op_in(op, VAL_OPS_DATA);
}

/* The kernel ring, and the path, that @op on volume @v (NULL: none) takes. */
static inline enum rg_which iss_route(const struct vol *v, uint8_t op, uint8_t *path)
{
	*path = PATH_INTR;
	if (!v)
		return RG_MAIN;
	if (v->passthrough) {
		/* Flushes, discards and write-zeroes take the interrupt ring. */
		if (!iss_data_op(op) || !v->polled) {
			*path = PATH_PT;
			return RG_PT;
		}
		*path = PATH_PT_POLL;
		return RG_POLL;
	}
	/* IOPOLL rings take reads and writes only. */
	if (v->polled && iss_data_op(op)) {
		*path = PATH_POLL;
		return RG_POLL;
	}
	return RG_MAIN;
}

/*
 * The most a read or write copies through the page cache inside the
 * io_uring_enter() that submits it, on the thread that serves every
 * tenant (256 KiB: about 60 us here). A larger one is queued IOSQE_ASYNC
 * and copied by a kernel worker thread: one 64 MiB read (max_io_size)
 * held every other tenant for 15 ms a request (H52).
 */
#define ISS_INLINE_MAX (256u << 10)

/*
 * Whether @op of @len bytes on @v runs on a kernel worker thread from the
 * start, and is queued IOSQE_ASYNC to say so: a flush, a discard or a
 * write-zeroes (the kernel never runs them inline), a copy larger than
 * ISS_INLINE_MAX, every buffered write the kernel would hand to a worker
 * untried (vol.worker_writes: all but on XFS and btrfs), and every read
 * and write of a volume whose file system takes no non-blocking I/O
 * (vol.worker_io, tmpfs). The flag matters there: the kernel starts a new worker
 * for such a request at once, while one it found it must hand over waits
 * for a worker as long as any of the ring's workers is running, and a
 * tenant's flushes writing back hundreds of MiB kept them running: another
 * tenant's 4 KiB writes to tmpfs waited 16-30 ms (H53).
 */
static inline bool iss_on_worker(const struct vol *v, uint8_t op, uint32_t len)
{
	if (!v || v->passthrough)
		return false;
	switch (op) {
	case RINGD_OP_FSYNC:
	case RINGD_OP_DISCARD:
	case RINGD_OP_WRITE_ZEROES:
		return true; /* the kernel never runs them inline */
	case RINGD_OP_READ:
	case RINGD_OP_READV:
		return v->worker_io || (!v->direct && len > ISS_INLINE_MAX);
	case RINGD_OP_WRITE:
	case RINGD_OP_WRITEV:
		return v->worker_io || (!v->direct && (v->worker_writes || len > ISS_INLINE_MAX));
	default:
		return false;
	}
}

/*
 * Whether @op (@dsync: a durable write) on @v holds a kernel worker thread
 * that may wait for the filesystem or the device: @on_worker (what
 * iss_on_worker() said of it), and a buffered or durable write (the kernel
 * hands it to a worker if it would block); never on the NVMe passthrough
 * paths, whose commands are asynchronous.
 */
static inline bool iss_blocks(const struct vol *v, uint8_t op, bool dsync, bool on_worker)
{
	if (on_worker)
		return true;
	return v && !v->passthrough && (op == RINGD_OP_WRITE || op == RINGD_OP_WRITEV) &&
	       (dsync || !v->direct);
}

/*
 * Whether @op on @v reads through the page cache: the kernel copies the
 * data on the loop's thread, at once if it is cached, and otherwise in
 * task work once the pages arrive, every request that waited on them
 * together (H50).
 */
static inline bool iss_copies(const struct vol *v, uint8_t op)
{
	return v && !v->passthrough && !v->direct && (op == RINGD_OP_READ || op == RINGD_OP_READV);
}

/* The kernel tag of request @idx: its slot and generation, so that a
 * cancel aimed at a request that completed meanwhile cannot hit the next
 * request in the same slot. */
uint64_t iss_tag(const struct reqs *rq, uint32_t idx);

/*
 * Check that what request @idx's record names lies in @a (a recovered
 * record is checked again against the session it now belongs to).
 * Returns 0 or -EFAULT.
 */
int iss_check_area(const struct jr *jr, uint32_t idx, const struct iss_area *a);

/*
 * Queue request @idx (op READ to WRITE_ZEROES; not NOP or CANCEL) of
 * volume @v on its ring. Sets the request's path, ring and issued flag.
 * Returns 0, or -errno if nothing was queued (-EBUSY: the ring's SQ stayed
 * full after a flush).
 */
int iss_queue(struct rings *rg, struct reqs *rq, const struct jr *jr, uint32_t idx,
	      const struct vol *v, const struct iss_area *a);

/*
 * The kernel completed (a part of) request @idx with *@res, already mapped
 * by iss_result(). Queue what is left of it, if anything; returns true if
 * it did (the request is not done). If queueing failed, *@res says why.
 */
bool iss_continue(struct rings *rg, struct reqs *rq, const struct jr *jr, uint32_t idx,
		  const struct vol *v, int32_t *res);

/*
 * The result the tenant sees for the kernel's @res of request @r: NVMe
 * status decoded, a successful passthrough read or write reporting its
 * length, and one errno per fault on every path: the block layer's media,
 * transport, target, protection and timeout errors (-ENODATA, -ENOLINK,
 * -EREMOTEIO, -EBADE, -EILSEQ, -ETIMEDOUT), a device gone (-ENODEV,
 * -ENXIO) and passthrough's "no path" (-EINVAL from the multipath head)
 * all become -EIO.
 */
int32_t iss_result(const struct req *r, int32_t res);

/*
 * Then, for a block device volume @v (whose extent was checked against the
 * device when it was opened): a read or write that moved nothing, or a
 * write refused as past the device's end (-ENOSPC), means the device
 * shrank or went away (a removed disk has no capacity left). If the
 * device is now smaller than the extent, returns -EIO and sets *@gone;
 * else returns @res (a thin pool out of space stays -ENOSPC). Costs a
 * syscall on those results only.
 */
int32_t iss_gone(const struct vol *v, const struct req *r, int32_t res, bool *gone);

#endif
