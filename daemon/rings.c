/* SPDX-License-Identifier: MIT */
/* rg_: every kernel ring of the daemon, kept alike in one place. */
#define _GNU_SOURCE
#include "rings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

static const char *const rg_names[RG_COUNT] = { "main", "IOPOLL", "NVMe passthrough" };

int rg_init(struct rings *r, const struct rg_params *p)
{
	struct kr_params kp;
	int fds[2], ret;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	r->pt_efd = -1;
	r->live_rd = r->live_wr = -1;
	r->bufs = calloc(p->nr_bufs ? p->nr_bufs : 1, sizeof(*r->bufs));
	if (!r->bufs)
		return -ENOMEM;
	memset(&kp, 0, sizeof(kp));
	kp.entries = p->entries;
	kp.nr_files = p->nr_files + 1;
	kp.nr_bufs = p->nr_bufs;
	/* Room for every tenant's share of blocking requests (RG_IOWQ_WORKERS). */
	kp.iowq_bounded = RG_IOWQ_WORKERS;
	if (p->sqpoll) {
		kp.flags = KR_SQPOLL;
		kp.sqpoll_cpu = p->sqpoll_cpu;
		kp.sqpoll_idle_ms = p->sqpoll_idle_ms;
	}
	ret = kr_ring_init(&r->kr[RG_MAIN], &kp);
	if (ret) {
		log_err("io_uring setup%s: %s", p->sqpoll ? " (sqpoll = on)" : "", strerror(-ret));
		return ret;
	}
	r->ready[RG_MAIN] = true;
	if (r->kr[RG_MAIN].iowq_err)
		log_warn("io_uring: cannot raise the kernel worker threads to %u (%s): a tenant's "
			 "flushes may delay another's",
			 RG_IOWQ_WORKERS, strerror(-r->kr[RG_MAIN].iowq_err));
	if (p->sqpoll && p->sqpoll_cpu >= 0)
		log_info("SQPOLL thread on cpu %d, idle %u ms, shared by every ring", p->sqpoll_cpu,
			 p->sqpoll_idle_ms);
	else if (p->sqpoll)
		log_info("SQPOLL thread (unpinned), idle %u ms, shared by every ring",
			 p->sqpoll_idle_ms);
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = -errno;
		log_err("ring liveness pipe: %s", strerror(-ret));
		return ret;
	}
	r->live_rd = fds[0];
	r->live_wr = fds[1];
	ret = kr_file_set(&r->kr[RG_MAIN], p->nr_files, r->live_wr);
	if (ret)
		log_err("ring liveness pipe: %s", strerror(-ret));
	return ret;
}

void rg_fini(struct rings *r)
{
	int w;

	for (w = RG_COUNT - 1; w >= 0; w--)
		if (r->ready[w])
			kr_ring_exit(&r->kr[w]);
	memset(r->ready, 0, sizeof(r->ready));
	if (r->pt_efd >= 0)
		close(r->pt_efd);
	if (r->live_wr >= 0)
		close(r->live_wr);
	if (r->live_rd >= 0)
		close(r->live_rd);
	r->pt_efd = r->live_wr = r->live_rd = -1;
	free(r->bufs);
	r->bufs = NULL;
}

int rg_ensure(struct rings *r, enum rg_which w)
{
	struct kr_ring *kr = &r->kr[w];
	struct kr_params kp;
	unsigned int i;
	int ret;

	if (r->ready[w])
		return 0;
	memset(&kp, 0, sizeof(kp));
	kp.entries = r->p.entries;
	kp.nr_files = r->p.nr_files + 1;
	kp.nr_bufs = r->p.nr_bufs;
	kp.flags = KR_BIG | (w == RG_POLL ? KR_IOPOLL : 0);
	if (r->p.sqpoll) {
		kp.flags |= KR_SQPOLL;
		kp.attach = &r->kr[RG_MAIN];
		kp.sqpoll_idle_ms = r->p.sqpoll_idle_ms;
	}
	if (w == RG_PT) {
		r->pt_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (r->pt_efd < 0) {
			ret = -errno;
			log_err("passthrough ring: eventfd: %s", strerror(-ret));
			return ret;
		}
		kp.has_eventfd = true;
		kp.eventfd = r->pt_efd;
	}
	ret = kr_ring_init(kr, &kp);
	if (ret) {
		log_err("%s ring setup: %s", rg_names[w], strerror(-ret));
		goto out_efd;
	}
	ret = kr_file_set(kr, r->p.nr_files, r->live_wr);
	for (i = 0; !ret && i < r->p.nr_bufs; i++)
		if (r->bufs[i].base)
			ret = kr_buf_set(kr, i, r->bufs[i].base, r->bufs[i].len);
	if (!ret && w == RG_PT)
		ret = kr_queue_poll(&r->kr[RG_MAIN], r->pt_efd, r->p.pt_event_tag);
	if (ret) {
		log_err("%s ring: %s", rg_names[w], strerror(-ret));
		kr_ring_exit(kr);
		goto out_efd;
	}
	r->ready[w] = true;
	log_info("%s ring ready%s", rg_names[w],
		 r->p.sqpoll ? " (on the shared SQPOLL thread)" : "");
	return 0;

out_efd:
	if (w == RG_PT) {
		close(r->pt_efd);
		r->pt_efd = -1;
	}
	return ret;
}

int rg_buf_set(struct rings *r, unsigned int slot, void *base, size_t len)
{
	int w, ret = 0;

	if (slot >= r->p.nr_bufs)
		return -EINVAL;
	for (w = 0; w < RG_COUNT; w++) {
		if (!r->ready[w])
			continue;
		ret = kr_buf_set(&r->kr[w], slot, base, len);
		if (ret)
			break;
	}
	if (ret) {
		/* All or none: undo the rings that took it. */
		while (w-- > 0)
			if (r->ready[w])
				kr_buf_clear(&r->kr[w], slot);
		return ret;
	}
	if (!r->bufs[slot].base)
		r->nbufs++;
	r->bufs[slot].base = base;
	r->bufs[slot].len = len;
	return 0;
}

int rg_buf_clear(struct rings *r, unsigned int slot)
{
	int w, ret = 0, err;

	if (slot >= r->p.nr_bufs)
		return -EINVAL;
	for (w = 0; w < RG_COUNT; w++) {
		if (!r->ready[w])
			continue;
		err = kr_buf_clear(&r->kr[w], slot);
		if (err && !ret)
			ret = err;
	}
	if (r->bufs[slot].base)
		r->nbufs--;
	r->bufs[slot].base = NULL;
	r->bufs[slot].len = 0;
	return ret;
}

unsigned int rg_bufs_registered(const struct rings *r)
{
	unsigned int n = 0;
	int w;

	for (w = 0; w < RG_COUNT; w++)
		if (r->ready[w] && r->kr[w].bufs_used > n)
			n = r->kr[w].bufs_used;
	return n;
}

unsigned int rg_files_registered(const struct rings *r)
{
	return r->kr[RG_MAIN].files_used;
}

int rg_file_set(struct rings *r, enum rg_which w, unsigned int slot, int fd)
{
	if (!r->ready[w] || slot >= r->p.nr_files)
		return -EINVAL;
	return kr_file_set(&r->kr[w], slot, fd);
}

int rg_sq_reserve(struct rings *r, enum rg_which w)
{
	return kr_sq_reserve(&r->kr[w]);
}

int rg_arm_poll(struct rings *r, int fd, uint64_t tag)
{
	return kr_queue_poll(&r->kr[RG_MAIN], fd, tag);
}

int rg_remove_poll(struct rings *r, uint64_t tag, uint64_t own_tag)
{
	return kr_queue_poll_remove(&r->kr[RG_MAIN], tag, own_tag);
}

/* Submit ring @w, logging what is not backpressure. */
static void rg_submit_one(struct rings *r, enum rg_which w)
{
	int ret = kr_submit(&r->kr[w]);

	if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
		log_warn("%s ring submit: %s", rg_names[w], strerror(-ret));
}

int rg_submit(struct rings *r)
{
	int ret;

	if (r->ready[RG_PT])
		rg_submit_one(r, RG_PT);
	if (r->ready[RG_POLL])
		rg_submit_one(r, RG_POLL);
	ret = kr_submit(&r->kr[RG_MAIN]);
	return ret < 0 ? ret : 0;
}

int rg_wait(struct rings *r, bool block, uint64_t timeout_ns)
{
	int ret;

	if (r->ready[RG_PT])
		rg_submit_one(r, RG_PT);
	if (r->ready[RG_POLL])
		rg_submit_one(r, RG_POLL);
	if (r->poll_inflight)
		block = false;
	ret = kr_submit_and_wait(&r->kr[RG_MAIN], block ? 1 : 0, block ? timeout_ns : 0);
	if (r->poll_inflight) {
		int pret = kr_iopoll(&r->kr[RG_POLL]);

		if (pret < 0 && pret != -EAGAIN && pret != -EINTR && pret != -EBUSY)
			log_warn("io_uring iopoll: %s", strerror(-pret));
	}
	return ret;
}

unsigned int rg_reap(struct rings *r, struct kr_cqe *out, unsigned int max)
{
	static const enum rg_which order[RG_COUNT] = { RG_POLL, RG_PT, RG_MAIN };
	unsigned int n = 0, i;

	for (i = 0; i < RG_COUNT && n < max; i++)
		if (r->ready[order[i]])
			n += kr_reap(&r->kr[order[i]], out + n, max - n);
	return n;
}
