/* SPDX-License-Identifier: MIT */
/*
 * ringd shared-memory ring ABI.
 *
 * One session = one sealed memfd shared by a client and the daemon:
 *
 *   [ struct ringd_shm_hdr | SQ index array | SQE array | CQE array | data ]
 *
 * The offsets of each part are sent in the Attached control reply; the
 * daemon keeps its own private copy of them and never reads layout or sizes
 * back from shared memory. Everything here is fixed-size and little-endian.
 *
 * Ownership of each index (who stores, who loads):
 *   sq_tail  client stores (release), daemon loads (acquire)
 *   sq_head  daemon stores (release), client loads (acquire)
 *   cq_tail  daemon stores (release), client loads (acquire)
 *   cq_head  client stores (release), daemon loads (acquire)
 * Indices are free-running 32-bit counters; slot = index & (entries - 1).
 */
#ifndef RINGD_ABI_H
#define RINGD_ABI_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/*
 * C11 and C++11 alike: the header is installed with <ringd.h>, and C++
 * clients include it too. The layout is the same under both (asserted
 * below, in either language); the index helpers use the GCC/Clang
 * __atomic builtins, which both compilers accept on plain integers.
 */
#ifdef __cplusplus
#if __cplusplus < 201103L
#error "<ringd.h> needs C++11 or later (static_assert, alignas)"
#endif
#define RINGD_ALIGNAS(n) alignas(n)
extern "C" {
#else
#define RINGD_ALIGNAS(n) _Alignas(n)
#endif

#define RINGD_ABI_VERSION 1u
#define RINGD_SHM_MAGIC	  0x474e4952u /* "RING" */

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ringd ABI is little-endian"
#endif

/* Opcodes of struct ringd_sqe. */
enum ringd_op {
	RINGD_OP_NOP = 0,
	RINGD_OP_READ = 1,
	RINGD_OP_WRITE = 2,
	RINGD_OP_FSYNC = 3,
	RINGD_OP_READV = 4,	   /* addr: iovec array, len: vectors (at most 64) */
	RINGD_OP_WRITEV = 5,	   /* likewise */
	RINGD_OP_DISCARD = 6,	   /* off, addr: byte length (64-bit), len 0 */
	RINGD_OP_WRITE_ZEROES = 7, /* likewise */
	RINGD_OP_CANCEL = 8,	   /* addr: user_data of the request to cancel */
	RINGD_OP_LAST,
};

/* ringd_sqe.op_flags for RINGD_OP_FSYNC. */
#define RINGD_FSYNC_DATASYNC (1u << 0)

/* ringd_sqe.op_flags for RINGD_OP_WRITE and RINGD_OP_WRITEV: the CQE is
 * posted once the data is durable (RWF_DSYNC; FUA on NVMe passthrough). */
#define RINGD_RW_DSYNC (1u << 0)

/* ringd_sqe.flags: the next SQE of this session starts only after this one
 * completed successfully (a read or write: its full length); if it fails,
 * the rest of the chain completes with -ECANCELED, unissued. A chain ends
 * at its first SQE without the flag, wherever the client's submits split
 * it. */
#define RINGD_SQE_LINK (1u << 0)

/* Most vectors of one RINGD_OP_READV / RINGD_OP_WRITEV. */
#define RINGD_MAX_VECS 64u

/* Flags of ringd_open() and OpenVolume.flags. */
#define RINGD_RDONLY 0u
#define RINGD_RDWR   1u

/* More flags of ringd_open_file() (OpenFile.flags), files of directory volumes. */
#define RINGD_CREAT (1u << 8)  /* create the file if it does not exist */
#define RINGD_EXCL  (1u << 9)  /* with RINGD_CREAT: -EEXIST if it exists */
#define RINGD_TRUNC (1u << 10) /* truncate to 0 (needs RINGD_RDWR) */
#define RINGD_LOCK  (1u << 11) /* exclusive lock through this handle until close: -EBUSY if held */

/* Opened.flags / ringd_volume_info.flags. */
#define RINGD_VOL_DIRECT   (1u << 0) /* O_DIRECT: alignment enforced */
#define RINGD_VOL_READONLY (1u << 1) /* volume is read-only for everyone */
#define RINGD_VOL_BLOCKDEV (1u << 2) /* backed by a block device */
#define RINGD_VOL_FILE	   (1u << 3) /* a file of a directory volume */

/*
 * A submission. 64 bytes. Every field not used by the opcode must be zero,
 * or the request completes with -EINVAL.
 */
struct ringd_sqe {
	uint8_t opcode;	    /* enum ringd_op */
	uint8_t flags;	    /* RINGD_SQE_LINK, else 0 */
	uint16_t ioprio;    /* reserved: must be 0 */
	int32_t handle;	    /* volume handle from ringd_open() */
	uint64_t off;	    /* byte offset inside the volume */
	uint64_t addr;	    /* byte offset inside the data area */
	uint32_t len;	    /* bytes */
	uint32_t op_flags;  /* RINGD_FSYNC_*, RINGD_RW_* */
	uint64_t user_data; /* returned untouched in the CQE */
	/*
	 * READV/WRITEV: the client's own address of the data area; the
	 * daemon turns each iovec's pointer into pointer - buf_base and checks
	 * it lies in the area. The library sets it. 0 for other opcodes.
	 */
	uint64_t buf_base;
	uint64_t resv[2]; /* must be 0 */
};

/* A completion. 16 bytes, no padding. */
struct ringd_cqe {
	uint64_t user_data;
	int32_t res; /* bytes transferred, or -errno */
	uint32_t flags;
};

/* ringd_shm_hdr.sq_flags: the daemon's poller is (about to be) asleep. */
#define RINGD_SQ_NEED_WAKEUP (1u << 0)

/* ringd_shm_hdr.cq_flags, set by the client. */
#define RINGD_CQ_WAITING (1u << 0) /* blocked: write the notification pipe */
#define RINGD_CQ_EVENTFD (1u << 1) /* always notify (epoll integration) */

/* Why the daemon stopped serving a session (ringd_shm_hdr.broken_reason). */
enum ringd_broken {
	RINGD_BROKEN_NONE = 0,
	RINGD_BROKEN_SQ_TAIL = 1,  /* tail moved backwards or > entries ahead */
	RINGD_BROKEN_SQ_INDEX = 2, /* SQ array entry out of range */
	RINGD_BROKEN_CQ_HEAD = 3,  /* CQ head beyond tail or moved backwards */
	RINGD_BROKEN_STALL = 4,	   /* CQ not reaped within stall_timeout */
	RINGD_BROKEN_PROTOCOL = 5, /* control-plane violation */
	RINGD_BROKEN_SHUTDOWN = 6, /* daemon is going away */
	RINGD_BROKEN_ADMIN = 7,	   /* an operator kicked it (ringctl kick) */
};

#define RINGD_CACHELINE 64

/*
 * The header at offset 0 of the session memfd. The daemon fills the first
 * line once at attach (for the client's convenience and debugging only);
 * the rest are the live indices, one writer per cache line.
 */
struct ringd_shm_hdr {
	/* Line 0: written once by the daemon at attach. */
	uint32_t magic;
	uint32_t abi_version;
	uint32_t sq_entries;
	uint32_t cq_entries;
	uint64_t region_size;
	uint64_t data_off;
	uint64_t data_size;
	uint32_t broken_reason; /* enum ringd_broken, daemon writes */
	uint32_t resv0[5];
	/* Line 1: client writes. */
	RINGD_ALIGNAS(RINGD_CACHELINE) uint32_t sq_tail;
	/* Line 2: daemon writes. */
	RINGD_ALIGNAS(RINGD_CACHELINE) uint32_t sq_head;
	uint32_t sq_flags;
	/* Line 3: daemon writes. */
	RINGD_ALIGNAS(RINGD_CACHELINE) uint32_t cq_tail;
	/* Line 4: client writes. */
	RINGD_ALIGNAS(RINGD_CACHELINE) uint32_t cq_head;
	uint32_t cq_flags;
	uint8_t resv1[RINGD_CACHELINE - 8];
};

static_assert(sizeof(struct ringd_sqe) == 64, "ringd_sqe is 64 bytes");
static_assert(offsetof(struct ringd_sqe, handle) == 4, "sqe layout");
static_assert(offsetof(struct ringd_sqe, off) == 8, "sqe layout");
static_assert(offsetof(struct ringd_sqe, addr) == 16, "sqe layout");
static_assert(offsetof(struct ringd_sqe, len) == 24, "sqe layout");
static_assert(offsetof(struct ringd_sqe, op_flags) == 28, "sqe layout");
static_assert(offsetof(struct ringd_sqe, user_data) == 32, "sqe layout");
static_assert(offsetof(struct ringd_sqe, buf_base) == 40, "sqe layout");
static_assert(offsetof(struct ringd_sqe, resv) == 48, "sqe layout");
static_assert(sizeof(struct ringd_cqe) == 16, "ringd_cqe is 16 bytes");
static_assert(offsetof(struct ringd_cqe, res) == 8, "cqe layout");
static_assert(offsetof(struct ringd_shm_hdr, sq_tail) == 64, "hdr layout");
static_assert(offsetof(struct ringd_shm_hdr, sq_head) == 128, "hdr layout");
static_assert(offsetof(struct ringd_shm_hdr, sq_flags) == 132, "hdr layout");
static_assert(offsetof(struct ringd_shm_hdr, cq_tail) == 192, "hdr layout");
static_assert(offsetof(struct ringd_shm_hdr, cq_head) == 256, "hdr layout");
static_assert(offsetof(struct ringd_shm_hdr, cq_flags) == 260, "hdr layout");
static_assert(sizeof(struct ringd_shm_hdr) == 320, "hdr size");

/*
 * Index helpers. Each load-acquire pairs with the other side's
 * store-release of the same index: it orders the entries written before
 * the store before our reads of them.
 */

/* Load an index the other side publishes; later reads of ring entries
 * cannot be reordered before it. */
static inline uint32_t ringd_load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Publish an index; earlier writes of ring entries are visible first. */
static inline void ringd_store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Read a flag word without ordering (flags are paired with full fences). */
static inline uint32_t ringd_load_relaxed(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
 * Full fence between publishing an index and reading the peer's sleep flag
 * (and between setting our sleep flag and re-checking the peer's index), so
 * that either the sleeper sees the new work or the waker sees the flag.
 */
static inline void ringd_smp_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#ifdef __cplusplus
}
#endif

#endif /* RINGD_ABI_H */
