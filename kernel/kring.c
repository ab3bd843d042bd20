/* SPDX-License-Identifier: MIT */
#include "kring.h"

#include <errno.h>
#include <linux/nvme_ioctl.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Opcodes the daemon issues; the ring refuses everything else. */
static const uint8_t kr_allowed_ops[] = {
	IORING_OP_NOP,	    IORING_OP_READ_FIXED,  IORING_OP_WRITE_FIXED,  IORING_OP_FSYNC,
	IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_ASYNC_CANCEL, IORING_OP_TIMEOUT,
	IORING_OP_READV,    IORING_OP_WRITEV,	   IORING_OP_FALLOCATE,
};

/* Register calls allowed once the ring is enabled. */
static const uint8_t kr_allowed_register_ops[] = {
	IORING_REGISTER_FILES_UPDATE, IORING_REGISTER_FILES_UPDATE2, IORING_REGISTER_BUFFERS_UPDATE,
	IORING_UNREGISTER_RING_FDS, /* io_uring_queue_exit() */
};

/*
 * Debian's liburing 2.3 declares io_uring_register_restrictions() and
 * io_uring_enable_rings() but its shared library does not export them (a
 * version-script omission fixed upstream in 2.4), so make those two calls
 * directly. Returns 0 or -errno.
 */
static int kr_register(struct kr_ring *kr, unsigned int op, const void *arg, unsigned int nr)
{
	long ret = syscall(__NR_io_uring_register, kr->ring.ring_fd, op, arg, nr);

	return ret < 0 ? -errno : 0;
}

static int kr_restrict(struct kr_ring *kr)
{
	struct io_uring_restriction
	    res[sizeof(kr_allowed_ops) + sizeof(kr_allowed_register_ops) + 2];
	unsigned int n = 0, i;

	memset(res, 0, sizeof(res));
	for (i = 0; i < sizeof(kr_allowed_ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = kr_allowed_ops[i];
	}
	/* Passthrough only where the daemon builds it: the SQE128 rings. */
	if (kr->flags & KR_BIG) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = IORING_OP_URING_CMD;
	}
	for (i = 0; i < sizeof(kr_allowed_register_ops); i++) {
		res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
		res[n++].register_op = kr_allowed_register_ops[i];
	}
	/* IOSQE_ASYNC: kr_queue_async(). */
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE | IOSQE_ASYNC;
	return kr_register(kr, IORING_REGISTER_RESTRICTIONS, res, n);
}

int kr_ring_init(struct kr_ring *kr, const struct kr_params *p)
{
	struct io_uring_params params;
	int ret;

	memset(kr, 0, sizeof(*kr));
	memset(&params, 0, sizeof(params));
	params.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
	params.cq_entries = p->entries * 4;
	if (p->flags & KR_IOPOLL)
		params.flags |= IORING_SETUP_IOPOLL;
	if (p->flags & KR_BIG)
		params.flags |= IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
	if (p->flags & KR_SQPOLL) {
		params.flags |= IORING_SETUP_SQPOLL;
		params.sq_thread_idle = p->sqpoll_idle_ms;
		if (p->attach) {
			/* One kernel submission thread for every ring of the daemon. */
			params.flags |= IORING_SETUP_ATTACH_WQ;
			params.wq_fd = (uint32_t)p->attach->ring.ring_fd;
		} else if (p->sqpoll_cpu >= 0) {
			params.flags |= IORING_SETUP_SQ_AFF;
			params.sq_thread_cpu = (uint32_t)p->sqpoll_cpu;
		}
	}
	kr->flags = p->flags;
	ret = io_uring_queue_init_params(p->entries, &kr->ring, &params);
	if (ret < 0)
		return ret;
	/*
	 * The thread that sets a ring up is the one that submits on it: with
	 * its fd registered, io_uring_enter() skips the fd table on every
	 * call. Best effort: a kernel without it (before 5.18) only loses that.
	 */
	(void)io_uring_register_ring_fd(&kr->ring);
	if (p->nr_files) {
		ret = io_uring_register_files_sparse(&kr->ring, p->nr_files);
		if (ret < 0)
			goto out_exit;
	}
	if (p->nr_bufs) {
		ret = io_uring_register_buffers_sparse(&kr->ring, p->nr_bufs);
		if (ret < 0)
			goto out_exit;
	}
	if (p->has_eventfd) {
		ret = io_uring_register_eventfd(&kr->ring, p->eventfd);
		if (ret < 0)
			goto out_exit;
	}
	if (p->iowq_bounded) {
		unsigned int w[2] = { p->iowq_bounded, 0 };

		/* Best effort (5.15 and later): the caller reports a failure. */
		kr->iowq_err = io_uring_register_iowq_max_workers(&kr->ring, w);
	}
	ret = kr_restrict(kr);
	if (ret < 0)
		goto out_exit;
	ret = kr_register(kr, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		goto out_exit;
	kr->nr_files = p->nr_files;
	kr->nr_bufs = p->nr_bufs;
	return 0;

out_exit:
	io_uring_queue_exit(&kr->ring);
	return ret;
}

void kr_ring_exit(struct kr_ring *kr)
{
	io_uring_queue_exit(&kr->ring);
}

int kr_file_set(struct kr_ring *kr, unsigned int slot, int fd)
{
	int ret;

	if (slot >= kr->nr_files)
		return -EINVAL;
	ret = io_uring_register_files_update(&kr->ring, slot, &fd, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO;
	if (fd >= 0)
		kr->files_used++;
	else if (kr->files_used)
		kr->files_used--;
	return 0;
}

int kr_buf_set(struct kr_ring *kr, unsigned int slot, void *base, size_t len)
{
	struct iovec iov = { .iov_base = base, .iov_len = len };
	__u64 tag = 0;
	int ret;

	if (slot >= kr->nr_bufs)
		return -EINVAL;
	ret = io_uring_register_buffers_update_tag(&kr->ring, slot, &iov, &tag, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO;
	kr->bufs_used++;
	return 0;
}

int kr_buf_clear(struct kr_ring *kr, unsigned int slot)
{
	struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
	__u64 tag = 0;
	int ret;

	if (slot >= kr->nr_bufs)
		return -EINVAL;
	ret = io_uring_register_buffers_update_tag(&kr->ring, slot, &iov, &tag, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO;
	if (kr->bufs_used)
		kr->bufs_used--;
	return 0;
}

/* An SQE, flushing once if the SQ is full; NULL means still full. */
static struct io_uring_sqe *kr_get_sqe(struct kr_ring *kr)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&kr->ring);

	if (!sqe) {
		kr_submit(kr);
		sqe = io_uring_get_sqe(&kr->ring);
		if (!sqe)
			return NULL;
	}
	kr->queued++;
	kr->last = sqe;
	return sqe;
}

void kr_queue_async(struct kr_ring *kr)
{
	if (kr->last)
		kr->last->flags |= IOSQE_ASYNC;
}

int kr_sq_reserve(struct kr_ring *kr)
{
	if (io_uring_sq_space_left(&kr->ring))
		return 0;
	kr_submit(kr);
	return io_uring_sq_space_left(&kr->ring) ? 0 : -EBUSY;
}

int kr_queue_read_fixed(struct kr_ring *kr, unsigned int file_slot, void *buf, unsigned int len,
			uint64_t off, unsigned int buf_slot, uint64_t tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read_fixed(sqe, (int)file_slot, buf, len, off, (int)buf_slot);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = tag;
	return 0;
}

int kr_queue_write_fixed(struct kr_ring *kr, unsigned int file_slot, const void *buf,
			 unsigned int len, uint64_t off, unsigned int buf_slot, int rw_flags,
			 uint64_t tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_write_fixed(sqe, (int)file_slot, buf, len, off, (int)buf_slot);
	sqe->rw_flags = rw_flags;
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = tag;
	return 0;
}

int kr_queue_rwv(struct kr_ring *kr, unsigned int file_slot, bool write, const struct iovec *iov,
		 unsigned int nr, uint64_t off, int rw_flags, uint64_t tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_writev(sqe, (int)file_slot, iov, nr, off);
	else
		io_uring_prep_readv(sqe, (int)file_slot, iov, nr, off);
	sqe->rw_flags = rw_flags;
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = tag;
	return 0;
}

int kr_queue_fallocate(struct kr_ring *kr, unsigned int file_slot, int mode, uint64_t off,
		       uint64_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, (int)file_slot, mode, (off_t)off, (off_t)len);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = tag;
	return 0;
}

int kr_queue_cancel(struct kr_ring *kr, uint64_t tag, uint64_t own_tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, tag, 0);
	sqe->user_data = own_tag;
	return 0;
}

int kr_queue_fsync(struct kr_ring *kr, unsigned int file_slot, int datasync, uint64_t tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, (int)file_slot, datasync ? IORING_FSYNC_DATASYNC : 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = tag;
	return 0;
}

int kr_queue_nop(struct kr_ring *kr, uint64_t tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_nop(sqe);
	sqe->user_data = tag;
	return 0;
}

int kr_queue_poll(struct kr_ring *kr, int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	sqe->user_data = tag;
	return 0;
}

int kr_queue_poll_remove(struct kr_ring *kr, uint64_t tag, uint64_t own_tag)
{
	struct io_uring_sqe *sqe = kr_get_sqe(kr);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_remove(sqe, tag);
	sqe->user_data = own_tag;
	return 0;
}

int kr_queue_nvme(struct kr_ring *kr, unsigned int file_slot, const struct kr_nvme_cmd *c,
		  uint64_t tag)
{
	struct io_uring_sqe *sqe;
	struct nvme_uring_cmd *cmd;

	if (!(kr->flags & KR_BIG))
		return -EINVAL;
	sqe = kr_get_sqe(kr);
	if (!sqe)
		return -EBUSY;
	/* liburing 2.3 has no io_uring_prep_cmd: the whole 128-byte SQE by hand. */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = (int)file_slot;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->cmd_op = c->vec ? NVME_URING_CMD_IO_VEC : NVME_URING_CMD_IO;
	sqe->user_data = tag;
	if (c->fixed && c->data_len && !c->vec) {
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		sqe->buf_index = (uint16_t)c->buf_slot;
	}
	cmd = (struct nvme_uring_cmd *)sqe->cmd;
	cmd->opcode = c->opcode;
	cmd->nsid = c->nsid;
	cmd->addr = (uint64_t)(uintptr_t)c->addr;
	cmd->data_len = c->data_len;
	cmd->cdw10 = c->cdw10;
	cmd->cdw11 = c->cdw11;
	cmd->cdw12 = c->cdw12;
	cmd->cdw13 = c->cdw13;
	return 0;
}

int kr_queue_nvme_cmd(struct kr_ring *kr, unsigned int file_slot, uint8_t nvme_op, uint32_t nsid,
		      uint64_t slba, uint32_t nlb, void *buf, uint32_t len, unsigned int buf_slot,
		      bool fixed, uint64_t tag)
{
	struct kr_nvme_cmd c = {
		.opcode = nvme_op,
		.nsid = nsid,
		.buf_slot = buf_slot,
		.fixed = fixed,
	};

	if (nvme_op != KR_NVME_FLUSH) {
		c.addr = buf;
		c.data_len = len;
		c.cdw10 = (uint32_t)slba;
		c.cdw11 = (uint32_t)(slba >> 32);
		c.cdw12 = nlb - 1; /* 0's based */
	}
	return kr_queue_nvme(kr, file_slot, &c, tag);
}

/*
 * NVMe status -> errno. Generic (SCT 0) and command-specific (SCT 1) codes
 * that say "the request was wrong" become -EINVAL/-EOPNOTSUPP/-ERANGE, the
 * device-state ones -EAGAIN/-EROFS/-ENOSPC/-ENODEV, aborts -ECANCELED,
 * media and data-integrity errors (SCT 2) -EIO (-EACCES for access denied),
 * path errors (SCT 3) -EIO, as a lost path is on the block layer's paths;
 * everything else -EIO.
 */
int kr_nvme_status_errno(int status)
{
	unsigned int sct, sc;

	if (status <= 0)
		return status;
	sct = ((unsigned int)status >> 8) & 0x7;
	sc = (unsigned int)status & 0xff;
	switch (sct) {
	case 0: /* generic */
		switch (sc) {
		case 0x01: /* invalid command opcode */
			return -EOPNOTSUPP;
		case 0x02: /* invalid field in command */
		case 0x0f: /* SGL offset invalid, data SGL length invalid: ... */
		case 0x0d:
			return -EINVAL;
		case 0x0b: /* invalid namespace or format */
			return -ENODEV;
		case 0x07: /* command abort requested */
		case 0x08: /* aborted: SQ deletion */
			return -ECANCELED;
		case 0x80: /* LBA out of range */
			return -ERANGE;
		case 0x81: /* capacity exceeded */
			return -ENOSPC;
		case 0x82: /* namespace not ready */
			return -EAGAIN;
		default:
			return -EIO;
		}
	case 1:			/* command specific */
		if (sc == 0x82) /* attempted write to read-only range */
			return -EROFS;
		return -EINVAL;
	case 2:			/* media and data integrity */
		if (sc == 0x86) /* access denied */
			return -EACCES;
		return -EIO;
	case 3: /* path related: the path is gone (multipath retries before us) */
		return -EIO;
	default:
		return -EIO;
	}
}

int kr_iopoll(struct kr_ring *kr)
{
	long ret;

	if (!(kr->flags & KR_IOPOLL) || (kr->flags & KR_SQPOLL))
		return 0; /* interrupts, or the SQ thread polls */
	ret = syscall(__NR_io_uring_enter, kr->ring.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0);
	return ret < 0 ? -errno : (int)ret;
}

unsigned int kr_cq_ready(const struct kr_ring *kr)
{
	return io_uring_cq_ready(&kr->ring);
}

int kr_submit(struct kr_ring *kr)
{
	int ret;

	if (!kr->queued)
		return 0;
	kr->last = NULL;
	ret = io_uring_submit(&kr->ring);
	if (ret > 0)
		kr->queued -= (unsigned int)ret > kr->queued ? kr->queued : (unsigned int)ret;
	return ret;
}

int kr_submit_and_wait(struct kr_ring *kr, unsigned int wait_nr, uint64_t timeout_ns)
{
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(timeout_ns / 1000000000ull),
		.tv_nsec = (long long)(timeout_ns % 1000000000ull),
	};
	struct io_uring_cqe *cqe;
	int ret;

	kr->queued = 0;
	kr->last = NULL;
	if (!wait_nr)
		return io_uring_submit(&kr->ring);
	ret = io_uring_submit_and_wait_timeout(&kr->ring, &cqe, wait_nr, timeout_ns ? &ts : NULL,
					       NULL);
	return ret;
}

unsigned int kr_reap(struct kr_ring *kr, struct kr_cqe *out, unsigned int max)
{
	struct io_uring_cqe *cqes[64];
	unsigned int n, i, total = 0;

	while (total < max) {
		unsigned int want = max - total;

		if (want > 64)
			want = 64;
		n = io_uring_peek_batch_cqe(&kr->ring, cqes, want);
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			out[total + i].tag = cqes[i]->user_data;
			out[total + i].res = cqes[i]->res;
			out[total + i].flags = cqes[i]->flags;
		}
		io_uring_cq_advance(&kr->ring, n);
		total += n;
	}
	return total;
}
