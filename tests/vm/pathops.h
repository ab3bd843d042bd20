/* SPDX-License-Identifier: MIT */
/*
 * po_: the operations of issue 11 (vectored I/O, DSYNC writes, write-zeroes,
 * discard, link chains) checked on one volume of a running daemon, shared by
 * the loop-device suite on the host (test-nvme-host) and the NVMe suite in
 * the VM (vm-guest-tests). Every helper counts what it issued, so that the
 * caller can check the session's per-path completion counters against it
 * and prove which path carried the requests.
 */
#ifndef RINGD_TESTS_PATHOPS_H
#define RINGD_TESTS_PATHOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "ringd.h"

/* How the daemon serves a volume: which counter each kind of request lands on. */
enum po_path {
	PO_INTERRUPT,	       /* everything on the interrupt ring */
	PO_POLLED,	       /* data on the IOPOLL ring, the rest on the interrupt ring */
	PO_PASSTHROUGH,	       /* everything as NVMe commands, interrupt-driven */
	PO_PASSTHROUGH_POLLED, /* data polled, flush/zeroes/deallocate interrupt-driven */
};

struct po {
	struct ringd *rd;
	int h;
	const char *vol;
	struct ringd_volume_info info;
	uint32_t unit;	 /* alignment the tests use: the volume's, at least 512 */
	uint8_t *buf;	 /* scratch in the data area, PO_CHUNK bytes */
	uint8_t *buf2;	 /* second scratch, PO_CHUNK bytes */
	uint64_t data;	 /* completions of reads and writes issued (any result) */
	uint64_t other;	 /* completions of fsync, discard and write-zeroes */
	uint64_t errors; /* negative completions expected (refused: on no path) */
};

#define PO_CHUNK (256u << 10)

/* Connect a fresh session to @d and open @vol read-write on it. */
void po_open(struct po *o, const struct rt_daemon *d, const char *vol);

/* Check the session's counters against what was issued on a volume served
 * as @path (cr_expect on each), then disconnect. */
void po_close(struct po *o, enum po_path path);

/* writev of four pieces (out of order in memory) read back with one read,
 * and a write read back with readv, byte for byte, at @off (64 KiB used). */
void po_vectored(struct po *o, uint64_t off, uint64_t seed);

/* DSYNC write and DSYNC writev at @off (32 KiB used), each completing with
 * its length, read back byte for byte. */
void po_dsync(struct po *o, uint64_t off, uint64_t seed);

/*
 * Write-zeroes of [@off, @off + @len): a pattern is written first at both
 * ends, every MiB inside, either side of every @split_bytes boundary (0:
 * none), and in the unit before and after the range; after the write-zeroes
 * (res 0) the inside spots read as zeros and the neighbours keep the pattern.
 * @off and @len are multiples of 4 KiB and @off >= 4 KiB.
 */
void po_write_zeroes(struct po *o, uint64_t off, uint64_t len, uint64_t split_bytes, uint64_t seed);

/* Discard of [@off, @off + @len) completes 0; the units either side keep
 * the pattern written before. Same constraints as po_write_zeroes(). */
void po_discard(struct po *o, uint64_t off, uint64_t len, uint64_t seed);

/* Write-zeroes and discard misaligned in offset or length (half a unit):
 * -EINVAL, refused before any path. */
void po_misaligned(struct po *o, uint64_t off);

/* A chain write -> fsync -> read (RINGD_SQE_LINK) at @off (4 KiB): all
 * succeed, complete in order, and the read sees the write. */
void po_chain(struct po *o, uint64_t off, uint64_t seed);

/* Cancel results on the volume's @path: -ENOENT for nothing in flight; for
 * a read issued just before, -EALREADY (the read completes) or, on the
 * main ring only, 0 (the kernel stopped it: the read says -ECANCELED). */
void po_cancel(struct po *o, enum po_path path, uint64_t off);

/*
 * A device fault at @bad (a unit the device fails to read and write): a
 * read, a readv and a write covering it complete -EIO on the volume's path,
 * a write linked before another write fails -EIO and the next one
 * completes -ECANCELED without being issued, and I/O at @good succeeds.
 */
void po_media_error(struct po *o, uint64_t bad, uint64_t good, uint64_t seed);

/* Write a pattern at @off (@len <= PO_CHUNK), seeded by @seed at @off. */
void po_fill(struct po *o, uint64_t off, uint32_t len, uint64_t seed);

/* Read @len bytes at @off (<= PO_CHUNK) and assert the pattern (@seed) or,
 * with @zero, zeros. */
void po_expect(struct po *o, uint64_t off, uint32_t len, uint64_t seed, bool zero,
	       const char *what);

/* Submit @sqe alone, tagged @tag, and wait for it (2 min): its res. */
int po_run(struct po *o, struct ringd_sqe *sqe, uint64_t tag);

#endif
