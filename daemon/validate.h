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

/* What the validator needs to know about one volume. */
struct val_vol {
	uint64_t base;	    /* extent start in the backing */
	uint64_t size;	    /* extent length */
	uint32_t align;	    /* offset/len/buffer alignment; 1 = none */
	uint32_t file_slot; /* registered-file slot */
	bool readonly;
	bool removed; /* dropped by a reload: new I/O gets -ENODEV */
};

/* One entry of a session's handle table. */
struct val_handle {
	bool open;
	bool writable;
	bool write_revoked; /* was writable until a reload took write access away */
	int32_t revoked;    /* non-zero (-EACCES): a reload took all access away */
	uint32_t vol;	    /* index into val_ctx.vols */
};

struct val_ctx {
	const struct val_handle *handles;
	uint32_t nhandles;
	const struct val_vol *vols;
	uint32_t nvols;
	uint64_t data_size; /* bytes in the session's data area */
	uint32_t max_io;    /* largest len accepted */
};

/* A validated request, in daemon terms. */
struct val_io {
	uint8_t op;	    /* enum ringd_op */
	bool datasync;	    /* FSYNC only */
	uint32_t vol;	    /* index into val_ctx.vols */
	uint32_t file_slot; /* registered-file slot */
	uint64_t dev_off;   /* absolute offset in the backing */
	uint64_t buf_off;   /* offset in the data area */
	uint32_t len;
};

/*
 * Check @sqe (a private copy) against @ctx. Returns 0 and fills @out, or
 * the negative errno the completion must carry:
 *   -EOPNOTSUPP unknown opcode
 *   -EINVAL     non-zero flags/reserved/unused fields, len 0 or > max_io,
 *               [off, off+len) outside the extent (overflow included),
 *               misalignment on an aligned (direct) volume
 *   -EBADF      handle not open in this session, write on a read-only handle
 *   -EACCES     a reload took the tenant's right to this volume (or to write it) away
 *   -ENODEV     a reload removed the volume
 *   -EFAULT     [addr, addr+len) outside the data area (overflow included)
 * The checks run in that order of precedence (opcode, reserved fields,
 * handle, extent, buffer, alignment) so that the result is deterministic.
 */
int val_sqe(const struct ringd_sqe *sqe, const struct val_ctx *ctx, struct val_io *out);

/*
 * Copy one SQE out of shared memory with exactly one load of each 8-byte
 * word, so that a client rewriting it concurrently can make us see an old
 * or a new value of a word, but never make us read a field twice.
 */
void val_sqe_fetch(struct ringd_sqe *dst, const struct ringd_sqe *shared);

#endif
