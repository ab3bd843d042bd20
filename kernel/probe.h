/* SPDX-License-Identifier: MIT */
/*
 * kp_: what this kernel and these devices can do for ringd: io_uring
 * opcodes and ring flavours (SQPOLL, IOPOLL, SQE128), and per device its
 * type, queue/io_poll, the NVMe namespace behind it (found with libnvme:
 * controller serial, nsid, generic char device /dev/ngXnY, LBA size,
 * capacity). Used by the daemon at start and by ringd-probe; nothing here
 * is on the data path.
 */
#ifndef RINGD_KERNEL_PROBE_H
#define RINGD_KERNEL_PROBE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

/* NVMe Qualified Names are at most 223 bytes (NVMe base specification). */
#define KP_NQN_MAX 224

struct kp_system {
	char release[65];      /* uname -r */
	unsigned int last_op;  /* io_uring_get_probe: highest opcode known */
	bool op_supported[64]; /* by IORING_OP_* */
	unsigned int features; /* IORING_FEAT_* */
	int ring;	       /* plain ring setup: 0 or -errno */
	int sqpoll;	       /* SQPOLL ring setup: 0 or -errno */
	int iopoll;	       /* IOPOLL ring setup: 0 or -errno */
	int big;	       /* SQE128|CQE32 ring setup: 0 or -errno */
	bool uring_cmd;	       /* IORING_OP_URING_CMD known */
};

enum kp_type { KP_MISSING, KP_REGULAR, KP_BLOCK, KP_CHAR, KP_OTHER };

struct kp_device {
	char path[PATH_MAX];
	enum kp_type type;
	int err;		    /* stat() failure: -errno */
	char blk_name[64];	    /* "nvme0n1" for a block device */
	int io_poll;		    /* queue/io_poll: 1, 0, or -1 unknown / not a block device */
	uint32_t lbs;		    /* logical block size (0 unknown) */
	uint64_t bytes;		    /* capacity (0 unknown) */
	bool nvme;		    /* an NVMe namespace (libnvme found it) */
	char serial[32];	    /* controller serial, trimmed */
	char ctrl[32];		    /* "nvme0" */
	char subsysnqn[KP_NQN_MAX]; /* the subsystem's NQN */
	char transport[16];	    /* "pcie", "tcp", ... */
	bool fabric;		    /* reached over a fabric (transport not pcie) */
	uint32_t nsid;
	char generic[PATH_MAX]; /* "/dev/ng0n1", or "" */
	uint64_t nlba;		/* namespace size in LBAs (identify) */
};

/* Probe the kernel's io_uring. Never fails: what cannot be set up is
 * recorded as -errno in the corresponding field. */
void kp_system_probe(struct kp_system *out);

/* True if the running kernel's release is at least @major.@minor. */
bool kp_kernel_at_least(unsigned int major, unsigned int minor);

/* The name of io_uring opcode @op ("READ_FIXED"), or NULL. */
const char *kp_op_name(unsigned int op);

/* Describe @path (what ringd would open for a volume). Returns 0, or
 * -errno if it cannot be examined (also stored in out->err). */
int kp_device_probe(const char *path, struct kp_device *out);

/*
 * Find the namespace "SERIAL:NSID" or "NQN:NSID" (an NQN starts with
 * "nqn.") with libnvme and fill @out as kp_device_probe() would for its
 * block device. By NQN, the subsystem's multipath head (/dev/nvmeXnY and
 * /dev/ngXnY of the head) is preferred over a controller's own namespace,
 * so that the volume survives the loss of one path. Returns 0, -ENOENT if
 * no controller has that serial (no subsystem that NQN) or it has no such
 * namespace, -EINVAL if @spec is malformed, or -errno.
 */
int kp_nvme_lookup(const char *spec, struct kp_device *out);

/*
 * Issue one polled read of the first @lbs bytes of @fd (opened O_DIRECT)
 * on a fresh IOPOLL ring. Returns 0 if the device completed it, -EOPNOTSUPP
 * if it refuses polled I/O, or -errno.
 */
int kp_iopoll_try(int fd, uint32_t lbs);

/*
 * Issue one NVMe read of LBA 0 (@lbs bytes) as IORING_OP_URING_CMD on the
 * generic char device @fd for namespace @nsid, polled if @polled, from a
 * large registered buffer (IORING_URING_CMD_FIXED) and, if the kernel
 * refuses that, from plain memory. Returns 0 with *@fixed_ok telling
 * whether fixed buffers work, or -errno (NVMe status mapped with
 * kr_nvme_status_errno()).
 */
int kp_passthrough_try(int fd, uint32_t nsid, uint32_t lbs, bool polled, bool *fixed_ok);

#endif
