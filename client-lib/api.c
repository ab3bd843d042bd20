/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 3 (top): the public entry points of <ringd.h>, and the
 * only file that defines ringd_* symbols.
 *
 * Owns: argument checks, and the order of each call: make sure the session
 * is live (reconnect.c), then do the ring (ring.c, buf.c) or control
 * (ctl.c) operation. Nothing in the library calls back into it.
 * May call: reconnect (rcn_), ctl (cc_), ring (rg_), buf (buf_), libc.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "reconnect.h"
#include "ringd.h"

int ringd_connect(const struct ringd_opts *opts, struct ringd **out)
{
	return cc_connect(opts, out);
}

void ringd_disconnect(struct ringd *rd)
{
	if (rd)
		cc_disconnect(rd);
}

/*
 * @ret is a control call's result. If the daemon went away under the call
 * (-ENOTCONN) and this session may be replaced, replace it and say the call
 * should be made once more, as a replay (the daemon makes a replayed call
 * idempotent: see Request.replay in ringd.proto). A daemon restarting
 * again and again gets a few tries (each reconnect waits up to 30 s).
 */
static bool ringd_again(struct ringd *rd, int ret)
{
	if (ret != -ENOTCONN || !rd->reconnect || rcn_ctl_live(rd))
		return false;
	rd->replay_next = true;
	return true;
}

int ringd_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info)
{
	int ret;

	if (!rd || !volume || (flags != (int)RINGD_RDONLY && flags != (int)RINGD_RDWR))
		return -EINVAL;
	if (strlen(volume) >= RG_NAME_MAX)
		return -ENAMETOOLONG;
	if (rcn_ctl_live(rd))
		return -ENOTCONN;
	ret = cc_handle_open(rd, volume, flags, info);
	for (int again = 0; again < 4 && ringd_again(rd, ret); again++)
		ret = cc_handle_open(rd, volume, flags, info);
	return ret;
}

int ringd_open_file(struct ringd *rd, const char *volume, const char *path, int flags,
		    unsigned int mode, struct ringd_volume_info *info)
{
	int ret;

	if (!rd || !volume || !path)
		return -EINVAL;
	if (strlen(volume) >= RG_NAME_MAX)
		return -ENAMETOOLONG;
	if (rcn_ctl_live(rd))
		return -ENOTCONN;
	ret = cc_handle_open_file(rd, volume, path, flags, mode, info);
	for (int again = 0; again < 4 && ringd_again(rd, ret); again++)
		ret = cc_handle_open_file(rd, volume, path, flags, mode, info);
	return ret;
}

/* A PathOp through a live control connection. */
static int ringd_path_call(struct ringd *rd, int kind, const char *volume, const char *path,
			   const char *path2, unsigned int mode, struct ringd_volume_info *info)
{
	int ret;

	if (!rd || !volume || !path || (kind == CC_RENAME && !path2))
		return -EINVAL;
	if (strlen(volume) >= RG_NAME_MAX)
		return -ENAMETOOLONG;
	if (rcn_ctl_live(rd))
		return -ENOTCONN;
	ret = cc_path_op(rd, kind, volume, path, path2, mode, info);
	for (int again = 0; again < 4 && ringd_again(rd, ret); again++)
		ret = cc_path_op(rd, kind, volume, path, path2, mode, info);
	return ret;
}

int ringd_unlink(struct ringd *rd, const char *volume, const char *path)
{
	return ringd_path_call(rd, CC_UNLINK, volume, path, NULL, 0, NULL);
}

int ringd_rename(struct ringd *rd, const char *volume, const char *from, const char *to)
{
	return ringd_path_call(rd, CC_RENAME, volume, from, to, 0, NULL);
}

int ringd_mkdir(struct ringd *rd, const char *volume, const char *path, unsigned int mode)
{
	return ringd_path_call(rd, CC_MKDIR, volume, path, NULL, mode, NULL);
}

int ringd_stat(struct ringd *rd, const char *volume, const char *path,
	       struct ringd_volume_info *info)
{
	return ringd_path_call(rd, CC_STAT, volume, path, NULL, 0, info);
}

/* A control call on @handle may go ahead: 0, or -EINVAL/-EBADF/-ENOTCONN. */
static int ringd_handle_call(struct ringd *rd, int handle)
{
	if (!rd)
		return -EINVAL;
	if (!rg_handle(&rd->ring, handle))
		return -EBADF;
	return rcn_ctl_live(rd) ? -ENOTCONN : 0;
}

int ringd_truncate(struct ringd *rd, int handle, uint64_t size)
{
	int ret = ringd_handle_call(rd, handle);

	if (!ret)
		ret = cc_truncate(rd, handle, size);
	for (int again = 0; again < 4 && ringd_again(rd, ret); again++)
		ret = cc_truncate(rd, handle, size);
	return ret;
}

int ringd_fstat(struct ringd *rd, int handle, struct ringd_volume_info *info)
{
	int ret = info ? ringd_handle_call(rd, handle) : -EINVAL;

	if (!ret)
		ret = cc_fstat(rd, handle, info);
	for (int again = 0; again < 4 && ringd_again(rd, ret); again++)
		ret = cc_fstat(rd, handle, info);
	return ret;
}

int ringd_close(struct ringd *rd, int handle)
{
	int ret = ringd_handle_call(rd, handle);

	if (!ret)
		ret = cc_handle_close(rd, handle);
	for (int again = 0; again < 4 && ringd_again(rd, ret); again++)
		ret = cc_handle_close(rd, handle);
	return ret;
}

/* Counters of the current session: a lost session is not reconnected for
 * them (a new one would report zeros). */
int ringd_stats(struct ringd *rd, struct ringd_stats *st)
{
	if (!rd || !st)
		return -EINVAL;
	return cc_stats(rd, st);
}

/* The tenant's totals: like ringd_stats(), not replayed over a reconnect. */
int ringd_tenant_stats(struct ringd *rd, struct ringd_stats *st)
{
	if (!rd || !st)
		return -EINVAL;
	return cc_tenant_stats(rd, st);
}

int ringd_list_volumes(struct ringd *rd, char ***names, size_t *count)
{
	if (!rd || !names || !count)
		return -EINVAL;
	return cc_list_volumes(rd, names, count);
}

void ringd_free_list(char **names, size_t count)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

const char *ringd_last_message(void)
{
	return cc_last_message();
}

const char *ringd_version(void)
{
	return RINGD_VERSION_STRING;
}

void *ringd_buf_alloc(struct ringd *rd, size_t len, size_t align)
{
	if (!rd)
		return NULL;
	return buf_alloc(&rd->buf, len, align);
}

void ringd_buf_free(struct ringd *rd, void *buf)
{
	if (rd)
		buf_free(&rd->buf, buf);
}

void *ringd_buf_region(struct ringd *rd, size_t *len)
{
	if (!rd)
		return NULL;
	if (len)
		*len = rd->ring.data_size;
	return rd->ring.data;
}

struct ringd_sqe *ringd_get_sqe(struct ringd *rd)
{
	return rg_get_sqe(&rd->ring);
}

/* Buffers are passed as pointers and turned into data-area offsets at submit. */
void ringd_prep_read(struct ringd_sqe *sqe, int handle, void *buf, unsigned int len,
		     uint64_t offset)
{
	sqe->opcode = RINGD_OP_READ;
	sqe->handle = handle;
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->len = len;
	sqe->off = offset;
}

void ringd_prep_write(struct ringd_sqe *sqe, int handle, const void *buf, unsigned int len,
		      uint64_t offset)
{
	sqe->opcode = RINGD_OP_WRITE;
	sqe->handle = handle;
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->len = len;
	sqe->off = offset;
}

void ringd_prep_fsync(struct ringd_sqe *sqe, int handle, unsigned int flags)
{
	sqe->opcode = RINGD_OP_FSYNC;
	sqe->handle = handle;
	sqe->op_flags = flags;
}

void ringd_prep_nop(struct ringd_sqe *sqe)
{
	sqe->opcode = RINGD_OP_NOP;
}

/* The iovec array and every buffer it names must lie in the data area. */
void ringd_prep_readv(struct ringd_sqe *sqe, int handle, const struct iovec *iovecs,
		      unsigned int nr_vecs, uint64_t offset)
{
	sqe->opcode = RINGD_OP_READV;
	sqe->handle = handle;
	sqe->addr = (uint64_t)(uintptr_t)iovecs;
	sqe->len = nr_vecs;
	sqe->off = offset;
}

void ringd_prep_writev(struct ringd_sqe *sqe, int handle, const struct iovec *iovecs,
		       unsigned int nr_vecs, uint64_t offset)
{
	ringd_prep_readv(sqe, handle, iovecs, nr_vecs, offset);
	sqe->opcode = RINGD_OP_WRITEV;
}

/* The 64-bit length travels in addr (as liburing does for fallocate). */
void ringd_prep_discard(struct ringd_sqe *sqe, int handle, uint64_t offset, uint64_t len)
{
	sqe->opcode = RINGD_OP_DISCARD;
	sqe->handle = handle;
	sqe->off = offset;
	sqe->addr = len;
}

void ringd_prep_write_zeroes(struct ringd_sqe *sqe, int handle, uint64_t offset, uint64_t len)
{
	ringd_prep_discard(sqe, handle, offset, len);
	sqe->opcode = RINGD_OP_WRITE_ZEROES;
}

void ringd_prep_cancel64(struct ringd_sqe *sqe, uint64_t user_data, int flags)
{
	sqe->opcode = RINGD_OP_CANCEL;
	sqe->addr = user_data;
	sqe->op_flags = (uint32_t)flags;
}

int ringd_submit(struct ringd *rd)
{
	int ret = rcn_ring_live(rd);

	if (ret)
		return ret;
	ret = rg_submit(&rd->ring);
	if (ret < 0)
		return ret;
	return rd->ring.dead && !rd->reconnect ? -ENOTCONN : ret;
}

/*
 * Wait until @nr completions are ready, the session is lost for good or
 * broken, or @timeout_us (UINT64_MAX: forever) passes; a session lost on
 * the way is reconnected if it may be. Returns 0, -ETIME, -ENOTCONN,
 * -EPIPE or -errno.
 */
static int api_wait(struct ringd *rd, unsigned int nr, uint64_t timeout_us)
{
	uint64_t deadline = timeout_us == UINT64_MAX ? UINT64_MAX : clk_now_us() + timeout_us;
	int ret;

	for (;;) {
		ret = rg_wait(&rd->ring, rd->sock, nr, deadline);
		if (ret != -ENOTCONN && ret != -EPIPE)
			return ret;
		ret = rcn_ring_live(rd);
		if (ret)
			return ret;
	}
}

int ringd_submit_and_wait(struct ringd *rd, unsigned int wait_nr)
{
	int submitted = ringd_submit(rd), ret;

	if (submitted < 0)
		return submitted;
	if (wait_nr) {
		ret = api_wait(rd, wait_nr, UINT64_MAX);
		if (ret)
			return ret;
	}
	return submitted;
}

/* Wait for a completion the library does not drop (duplicates are). */
static int api_wait_cqe(struct ringd *rd, struct ringd_cqe **cqe, uint64_t timeout_us)
{
	int ret;

	for (;;) {
		*cqe = rg_next_cqe(&rd->ring);
		if (*cqe)
			return 0;
		ret = api_wait(rd, 1, timeout_us);
		if (ret)
			return ret;
	}
}

int ringd_wait_cqe(struct ringd *rd, struct ringd_cqe **cqe)
{
	return api_wait_cqe(rd, cqe, UINT64_MAX);
}

int ringd_wait_cqe_timeout(struct ringd *rd, struct ringd_cqe **cqe, unsigned int timeout_ms)
{
	return api_wait_cqe(rd, cqe, (uint64_t)timeout_ms * 1000u);
}

int ringd_peek_cqe(struct ringd *rd, struct ringd_cqe **cqe)
{
	int ret;

	*cqe = rg_next_cqe(&rd->ring);
	if (*cqe)
		return 0;
	ret = rg_state(&rd->ring);
	return ret ? ret : -EAGAIN;
}

unsigned int ringd_peek_batch_cqe(struct ringd *rd, struct ringd_cqe *cqes, unsigned int max)
{
	return rg_peek_batch(&rd->ring, cqes, max);
}

void ringd_cqe_seen(struct ringd *rd, struct ringd_cqe *cqe)
{
	(void)cqe;
	rg_cq_advance(&rd->ring, 1);
}

void ringd_cq_advance(struct ringd *rd, unsigned int nr)
{
	rg_cq_advance(&rd->ring, nr);
}

unsigned int ringd_cq_ready(struct ringd *rd)
{
	return rg_cq_ready(&rd->ring);
}

int ringd_event_fd(struct ringd *rd)
{
	return rg_event_fd(&rd->ring);
}

unsigned int ringd_broken_reason(struct ringd *rd)
{
	return rg_broken_reason(&rd->ring);
}
