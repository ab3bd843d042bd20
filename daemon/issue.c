/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "issue.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "tags.h"
#include "validate.h"

/* One NVMe Dataset Management range (little-endian, as the spec lays it out). */
struct iss_dsm_range {
	uint32_t cattr;
	uint32_t nlb; /* blocks, 1's based */
	uint64_t slba;
};

#define ISS_DSM_RANGES	  (sizeof(((struct reqs *)0)->iov[0]) / sizeof(struct iss_dsm_range))
#define ISS_DSM_RANGE_MAX (1ull << 31) /* blocks per range: a round part of the 32-bit field */

static_assert(sizeof(struct iss_dsm_range) == 16, "NVMe DSM range is 16 bytes");
static_assert(ISS_DSM_RANGES >= 1 && ISS_DSM_RANGES <= 256, "DSM takes 1 to 256 ranges");

uint64_t iss_tag(const struct reqs *rq, uint32_t idx)
{
	return srv_tag(TAG_IO, idx) | ((uint64_t)(rq->r[idx].gen & 0xffffffu) << 32);
}

static bool iss_in(const struct iss_area *a, uint64_t off, uint64_t len)
{
	return off <= a->size && len <= a->size - off;
}

int iss_check_area(const struct jr *jr, uint32_t idx, const struct iss_area *a)
{
	const struct jr_req *jq = &jr->reqs[idx];
	uint32_t i;

	switch (jq->op) {
	case RINGD_OP_READ:
	case RINGD_OP_WRITE:
		return iss_in(a, jq->buf_off, jq->len) ? 0 : -EFAULT;
	case RINGD_OP_READV:
	case RINGD_OP_WRITEV:
		if (!jq->nvecs || jq->nvecs > RINGD_MAX_VECS)
			return -EFAULT;
		for (i = 0; i < jq->nvecs; i++)
			if (!iss_in(a, jr->vecs[idx][i].off, jr->vecs[idx][i].len))
				return -EFAULT;
		return 0;
	default:
		return 0;
	}
}

/* The kernel's iovecs of a vectored request: data-area ranges, in daemon memory. */
static void iss_iov(struct reqs *rq, const struct jr *jr, uint32_t idx, const struct iss_area *a)
{
	uint32_t i, n = jr->reqs[idx].nvecs;

	for (i = 0; i < n; i++) {
		rq->iov[idx][i].iov_base = a->data + jr->vecs[idx][i].off;
		rq->iov[idx][i].iov_len = (size_t)jr->vecs[idx][i].len;
	}
}

/* Discard or write-zeroes on a file or block device: one fallocate(2). */
static int iss_fallocate(struct kr_ring *kr, struct reqs *rq, uint32_t idx, const struct vol *v,
			 uint32_t file_slot)
{
	const struct req *r = &rq->r[idx];
	int mode;

	if (r->op == RINGD_OP_DISCARD)
		/* On a block device NO_HIDE_STALE makes it a real discard (not
		 * zeroing); kernels that no longer take it get the plain punch
		 * (stage 1), which the device serves with its write-zeroes. */
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE |
		       (v->blockdev && !r->stage ? FALLOC_FL_NO_HIDE_STALE : 0);
	else if (r->stage)
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else
		mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	return kr_queue_fallocate(kr, file_slot, mode, r->part_off, r->part_left, iss_tag(rq, idx));
}

static int iss_file_sqe(struct kr_ring *kr, struct reqs *rq, const struct jr *jr, uint32_t idx,
			const struct vol *v, const struct iss_area *a)
{
	const struct jr_req *jq = &jr->reqs[idx];
	int rwf = (jq->flags & JR_F_DSYNC) ? RWF_DSYNC : 0;
	uint64_t tag = iss_tag(rq, idx);

	switch (jq->op) {
	case RINGD_OP_READ:
		return kr_queue_read_fixed(kr, jq->vol, a->data + jq->buf_off, jq->len, jq->dev_off,
					   a->buf_slot, tag);
	case RINGD_OP_WRITE:
		return kr_queue_write_fixed(kr, jq->vol, a->data + jq->buf_off, jq->len,
					    jq->dev_off, a->buf_slot, rwf, tag);
	case RINGD_OP_READV:
	case RINGD_OP_WRITEV:
		return kr_queue_rwv(kr, jq->vol, jq->op == RINGD_OP_WRITEV, rq->iov[idx], jq->nvecs,
				    jq->dev_off, rwf, tag);
	case RINGD_OP_FSYNC:
		return kr_queue_fsync(kr, jq->vol, jq->datasync, tag);
	case RINGD_OP_DISCARD:
	case RINGD_OP_WRITE_ZEROES:
		return iss_fallocate(kr, rq, idx, v, jq->vol);
	default:
		return -EINVAL;
	}
}

/* A file or block-device request: its SQE, on a kernel worker if it copies much. */
static int iss_file(struct kr_ring *kr, struct reqs *rq, const struct jr *jr, uint32_t idx,
		    const struct vol *v, const struct iss_area *a)
{
	int ret = iss_file_sqe(kr, rq, jr, idx, v, a);

	if (!ret && rq->r[idx].on_worker)
		kr_queue_async(kr);
	return ret;
}

/*
 * The next NVMe command of a write-zeroes (at most KR_NVME_WZ_MAX blocks)
 * or a discard (one Dataset Management of up to ISS_DSM_RANGES ranges, its
 * range list in the request's iovec slot), from part_off for part_left.
 */
static int iss_nvme_part(struct kr_ring *kr, struct reqs *rq, uint32_t idx, const struct vol *v,
			 uint32_t file_slot)
{
	struct req *r = &rq->r[idx];
	struct kr_nvme_cmd c = { .nsid = v->nsid };
	uint64_t slba = r->part_off >> v->lba_shift, left = r->part_left >> v->lba_shift, n = 0;
	int ret;

	if (!left)
		return -EINVAL;
	if (r->op == RINGD_OP_WRITE_ZEROES) {
		n = left < KR_NVME_WZ_MAX ? left : KR_NVME_WZ_MAX;
		c.opcode = KR_NVME_WRITE_ZEROES;
		c.cdw10 = (uint32_t)slba;
		c.cdw11 = (uint32_t)(slba >> 32);
		c.cdw12 = (uint32_t)(n - 1);
	} else {
		struct iss_dsm_range *rg = (struct iss_dsm_range *)(void *)rq->iov[idx];
		unsigned int nr = 0;

		while (nr < ISS_DSM_RANGES && n < left) {
			uint64_t k = left - n < ISS_DSM_RANGE_MAX ? left - n : ISS_DSM_RANGE_MAX;

			rg[nr].cattr = 0;
			rg[nr].nlb = (uint32_t)k;
			rg[nr].slba = slba + n;
			n += k;
			nr++;
		}
		c.opcode = KR_NVME_DSM;
		c.cdw10 = nr - 1; /* 0's based */
		c.cdw11 = KR_NVME_DSM_AD;
		c.addr = rg;
		c.data_len = (uint32_t)(nr * sizeof(*rg));
	}
	ret = kr_queue_nvme(kr, file_slot, &c, iss_tag(rq, idx));
	if (!ret) {
		r->part_off += n << v->lba_shift;
		r->part_left -= n << v->lba_shift;
	}
	return ret;
}

static int iss_nvme(struct kr_ring *kr, struct reqs *rq, const struct jr *jr, uint32_t idx,
		    const struct vol *v, const struct iss_area *a)
{
	const struct jr_req *jq = &jr->reqs[idx];
	struct kr_nvme_cmd c = { .nsid = v->nsid, .buf_slot = a->buf_slot };
	uint64_t slba = jq->dev_off >> v->lba_shift;

	switch (jq->op) {
	case RINGD_OP_FSYNC:
		c.opcode = KR_NVME_FLUSH;
		return kr_queue_nvme(kr, jq->vol, &c, iss_tag(rq, idx));
	case RINGD_OP_DISCARD:
	case RINGD_OP_WRITE_ZEROES:
		return iss_nvme_part(kr, rq, idx, v, jq->vol);
	case RINGD_OP_READ:
	case RINGD_OP_WRITE:
		c.addr = a->data + jq->buf_off;
		c.data_len = jq->len;
		c.fixed = v->pt_fixed;
		break;
	case RINGD_OP_READV:
	case RINGD_OP_WRITEV:
		c.addr = rq->iov[idx];
		c.data_len = jq->nvecs;
		c.vec = true;
		break;
	default:
		return -EINVAL;
	}
	/* The validator checked alignment to the LBA size; this is defence. */
	if ((jq->dev_off | jq->len) & ((1u << v->lba_shift) - 1) || !jq->len ||
	    (jq->len >> v->lba_shift) > KR_NVME_WZ_MAX)
		return -EINVAL;
	c.opcode =
	    jq->op == RINGD_OP_READ || jq->op == RINGD_OP_READV ? KR_NVME_READ : KR_NVME_WRITE;
	c.cdw10 = (uint32_t)slba;
	c.cdw11 = (uint32_t)(slba >> 32);
	c.cdw12 = (jq->len >> v->lba_shift) - 1; /* 0's based */
	if (jq->flags & JR_F_DSYNC)
		c.cdw12 |= KR_NVME_RW_FUA;
	return kr_queue_nvme(kr, jq->vol, &c, iss_tag(rq, idx));
}

int iss_queue(struct rings *rg, struct reqs *rq, const struct jr *jr, uint32_t idx,
	      const struct vol *v, const struct iss_area *a)
{
	const struct jr_req *jq = &jr->reqs[idx];
	struct req *r = &rq->r[idx];
	enum rg_which w;
	uint8_t path;
	int ret;

	if (!v)
		return -ENODEV;
	/* No live path: on_path_loss = fail does not wait for one; a passthrough
	 * volume that waited (path_hold) past fast_io_fail_tmo fails too. */
	if (v->path_lost && (v->fail_on_path_loss || (v->passthrough && !v->path_hold)))
		return -EIO;
	w = iss_route(v, jq->op, &path);
	if (jq->op == RINGD_OP_DISCARD || jq->op == RINGD_OP_WRITE_ZEROES) {
		r->part_off = jq->dev_off;
		r->part_left = jq->dev_len;
		r->stage = 0;
	}
	if (jq->op == RINGD_OP_READV || jq->op == RINGD_OP_WRITEV)
		iss_iov(rq, jr, idx, a);
	if (v->passthrough)
		ret = iss_nvme(rg_ring(rg, w), rq, jr, idx, v, a);
	else
		ret = iss_file(rg_ring(rg, w), rq, jr, idx, v, a);
	if (ret)
		return ret;
	r->path = path;
	r->ring = (uint8_t)w;
	r->issued = true;
	if (path == PATH_POLL || path == PATH_PT_POLL)
		rg->poll_inflight++;
	return 0;
}

bool iss_continue(struct rings *rg, struct reqs *rq, const struct jr *jr, uint32_t idx,
		  const struct vol *v, int32_t *res)
{
	struct req *r = &rq->r[idx];
	struct kr_ring *kr;
	int ret;

	if (!v || (r->op != RINGD_OP_DISCARD && r->op != RINGD_OP_WRITE_ZEROES))
		return false;
	kr = rg_ring(rg, (enum rg_which)r->ring);
	if (v->passthrough) {
		if (*res || !r->part_left)
			return false;
		ret = iss_nvme_part(kr, rq, idx, v, jr->reqs[idx].vol);
	} else if (*res == -EOPNOTSUPP && !r->stage &&
		   (r->op == RINGD_OP_WRITE_ZEROES ? !v->blockdev : v->blockdev)) {
		/* No zero-range here (tmpfs, ...): a punched hole reads as zeros.
		 * No NO_HIDE_STALE on a block device (gone from blkdev_fallocate
		 * in recent kernels, Linux 6.18 here): punch without it. */
		r->stage = 1;
		ret = iss_fallocate(kr, rq, idx, v, jr->reqs[idx].vol);
	} else {
		return false;
	}
	if (ret)
		*res = ret;
	return !ret;
}

int32_t iss_result(const struct req *r, int32_t res)
{
	bool pt = r->path == PATH_PT || r->path == PATH_PT_POLL;

	if (res >= 0 && !pt)
		return res;
	if (pt) {
		/* We built the command: the kernel's -EINVAL means the
		 * multipath head found no path to send it on. */
		if (res == -EINVAL)
			return -EIO;
		res = kr_nvme_status_errno(res);
		if (!res && iss_data_op(r->op))
			return (int32_t)r->len;
	}
	switch (res) {
	case -ENODATA:	 /* BLK_STS_MEDIUM */
	case -ENOLINK:	 /* BLK_STS_TRANSPORT */
	case -EREMOTEIO: /* BLK_STS_TARGET */
	case -EBADE:	 /* BLK_STS_NEXUS */
	case -EILSEQ:	 /* BLK_STS_PROTECTION */
	case -ETIMEDOUT: /* BLK_STS_TIMEOUT */
	case -ENODEV:	 /* BLK_STS_OFFLINE: the device went away */
	case -ENXIO:
		return -EIO;
	default:
		return res;
	}
}

int32_t iss_gone(const struct vol *v, const struct req *r, int32_t res, bool *gone)
{
	bool write = r->op == RINGD_OP_WRITE || r->op == RINGD_OP_WRITEV;
	uint64_t size;

	*gone = false;
	if (!v || !v->blockdev || v->isdir || r->path == PATH_PT || r->path == PATH_PT_POLL)
		return res;
	if (!(res == -ENOSPC && write) && !(res == 0 && iss_data_op(r->op)))
		return res;
	if (ioctl(v->fd, BLKGETSIZE64, &size) < 0 || size >= v->v.base + v->v.size)
		return res;
	*gone = true;
	return -EIO;
}
