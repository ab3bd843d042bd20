/* SPDX-License-Identifier: MIT */
/*
 * val_: the SQE validator. Pure: it looks only at a private copy of the
 * client's SQE and at daemon-private tables, and either fills a val_io the
 * dispatcher can hand to the kernel or returns the -errno the client's CQE
 * will carry. Nothing a client wrote reaches the kernel without passing here.
 */
#ifndef RINGD_DAEMON_VALIDATE_H
#define RINGD_DAEMON_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ringd_abi.h"

/* Sets of RINGD_OP_* opcodes, tested with one shift (val_op_in()). */
#define VAL_OP(op) (1u << (op))
#define VAL_OPS_DATA                                                                               \
	(VAL_OP(RINGD_OP_READ) | VAL_OP(RINGD_OP_WRITE) | VAL_OP(RINGD_OP_READV) |                 \
	 VAL_OP(RINGD_OP_WRITEV))
#define VAL_OPS_WRITES                                                                             \
	(VAL_OP(RINGD_OP_WRITE) | VAL_OP(RINGD_OP_WRITEV) | VAL_OP(RINGD_OP_WRITE_ZEROES) |        \
	 VAL_OP(RINGD_OP_DISCARD))

/* Whether opcode @op is in the set @ops. */
static inline bool val_op_in(uint8_t op, uint32_t ops)
{
	return op < 32 && ((ops >> op) & 1u);
}

/* What the validator needs to know about one volume. */
struct val_vol {
	uint64_t base;	     /* extent start in the backing */
	uint64_t size;	     /* extent length */
	uint32_t align;	     /* offset/len/buffer alignment; 1 = none */
	uint32_t zero_align; /* DISCARD/WRITE_ZEROES: absolute offset and length
			      * alignment (block devices: the logical block) */
	uint32_t file_slot;  /* registered-file slot */
	bool readonly;
	bool removed; /* dropped by a reload: new I/O gets -ENODEV */
};

/* One entry of a session's handle table. */
struct val_handle {
	bool open;
	bool writable;
	bool write_revoked; /* was writable until a reload took write access away */
	bool locked;	    /* a file's RINGD_LOCK is held through this handle */
	int32_t revoked;    /* non-zero (-EACCES): a reload took all access away */
	uint32_t vol;	    /* index into val_ctx.vols */
};

struct val_ctx {
	const struct val_handle *handles;
	uint32_t nhandles;
	const struct val_vol *vols;
	uint32_t nvols;
	const uint8_t *data; /* the session's data area (shared: read once) */
	uint64_t data_size;  /* bytes in it */
	uint32_t max_io;     /* largest len accepted */
};

/* One vector of a READV/WRITEV, in data-area terms. */
struct val_vec {
	uint64_t off; /* in the data area */
	uint64_t len;
};

/* A validated request, in daemon terms. */
struct val_io {
	uint8_t op;	      /* enum ringd_op */
	bool datasync;	      /* FSYNC only */
	bool dsync;	      /* WRITE/WRITEV: durable on completion */
	bool link;	      /* RINGD_SQE_LINK */
	uint32_t vol;	      /* index into val_ctx.vols */
	uint32_t file_slot;   /* registered-file slot */
	uint64_t dev_off;     /* absolute offset in the backing */
	uint64_t buf_off;     /* offset in the data area (READ/WRITE) */
	uint32_t len;	      /* bytes (READ/WRITE, and READV/WRITEV in all) */
	uint64_t dev_len;     /* DISCARD/WRITE_ZEROES: bytes */
	uint64_t target;      /* CANCEL: user_data of the request to cancel */
	uint32_t nvecs;	      /* READV/WRITEV: entries of @vecs */
	struct val_vec *vecs; /* caller's storage, RINGD_MAX_VECS long (may be NULL
			       * if no vectored SQE is expected: -EINVAL then) */
};

/*
 * Check @sqe (a private copy) against @ctx. Returns 0 and fills @out, or
 * the negative errno the completion must carry:
 *   -EOPNOTSUPP unknown opcode
 *   -EINVAL     unknown flags, non-zero reserved/unused fields, unknown
 *               op_flags bits, len 0 or > max_io (vectored: 0 or more than
 *               RINGD_MAX_VECS vectors, or their sum 0 or > max_io, overflow
 *               included), the range outside the extent (overflow included),
 *               misalignment on an aligned volume (each vector, and the
 *               discard/write-zeroes range)
 *   -EBADF      handle not open in this session, a write, discard or
 *               write-zeroes on a read-only handle
 *   -EACCES     a reload took the tenant's right to this volume (or to write it) away
 *   -ENODEV     a reload removed the volume
 *   -EFAULT     a buffer, the iovec array or one of its vectors outside the
 *               data area (overflow included)
 * The checks run in that order of precedence (opcode, flags and reserved
 * fields, handle, extent, buffers, alignment) so that the result is
 * deterministic. A vectored SQE's iovec array is read from ctx->data once,
 * into @out->vecs (set it before the call), after its bounds are checked
 * and before anything in it is. A refused SQE leaves @out all zero (its
 * RINGD_SQE_LINK: val_sqe_links()).
 */
int val_sqe(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out);

/* Whether @sqe asks for RINGD_SQE_LINK (read from the copy, whatever its validity). */
static inline bool val_sqe_links(const struct ringd_sqe *sqe)
{
	return (sqe->flags & RINGD_SQE_LINK) != 0;
}

/*
 * Copy one SQE out of shared memory with exactly one load of each 8-byte
 * word, so that a client rewriting it concurrently can make us see an old
 * or a new value of a word, but never make us read a field twice.
 */
void val_sqe_fetch(struct ringd_sqe *dst, const struct ringd_sqe *shared);

#endif
