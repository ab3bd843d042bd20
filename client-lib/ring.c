/* SPDX-License-Identifier: MIT */
/*
 * libringd: the client side of the SQ/CQ rings.
 *
 * Wake-ups cost 7-9 us here, so neither side signals the other unless it
 * has said it sleeps: the client rings the doorbell only when the daemon
 * set RINGD_SQ_NEED_WAKEUP, and the daemon notifies only when the client
 * set RINGD_CQ_WAITING (after a short spin) or asked for ringd_event_fd().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"

/*
 * A spin that finds it lost the CPU for RC_PREEMPT_GAP_US between two
 * checks shares its core with other runnable work: for the next
 * RC_CONTENDED_WAITS waits it calls sched_yield() between checks instead
 * of the pause instruction, so the clients (or the daemon) it shares the
 * core with can submit and complete meanwhile. Alone on a core it never
 * makes that syscall. Time off the CPU is not charged to the spin:
 * spin_us is spinning time, so a client that yielded to others finds its
 * completions on its next turn instead of going to sleep.
 */
#define RC_PREEMPT_GAP_US   50u
#define RC_CONTENDED_WAITS  64u
#define RC_SPIN_WALL_FACTOR 64u /* wall-clock bound of a spin, in spin_us */

struct ringd_sqe *ringd_get_sqe(struct ringd *rd)
{
	struct ringd_sqe *sqe;
	uint32_t head, idx;

	/* The daemon's line is loaded only when our cached head says full. */
	head = rd->sq_head_cache;
	if (rd->sq_tail - head >= rd->sq_entries) {
		head = ringd_load_acquire(&rd->hdr->sq_head);
		rd->sq_head_cache = head;
		if (rd->sq_tail - head >= rd->sq_entries)
			return NULL;
	}
	idx = rd->sq_tail & (rd->sq_entries - 1);
	sqe = &rd->sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	rd->sq_array[idx] = idx;
	rd->sq_tail++;
	return sqe;
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

static int rc_state(struct ringd *rd)
{
	if (rd->dead)
		return -ENOTCONN;
	if (__atomic_load_n(&rd->hdr->broken_reason, __ATOMIC_ACQUIRE))
		return -EPIPE;
	return 0;
}

/* As rc_state(), but reconnect first if the daemon went away (and may). */
static int rc_state_reconnect(struct ringd *rd)
{
	unsigned int reason;

	if (rd->reconnect && !rd->dead) {
		/* A graceful shutdown breaks the session: that is "gone" too. */
		reason = __atomic_load_n(&rd->hdr->broken_reason, __ATOMIC_ACQUIRE);
		if (reason == RINGD_BROKEN_SHUTDOWN)
			rd->dead = true;
	}
	if (rd->dead && rd->reconnect)
		return rc_reconnect(rd);
	return rc_state(rd);
}

struct rc_req *rc_req_put(struct ringd *rd, uint32_t slot)
{
	struct rc_req *q = &rd->reqs[slot];

	q->busy = false;
	q->next_free = rd->req_free;
	rd->req_free = slot;
	rd->reqs_busy--;
	return q;
}

void rc_xcq_push(struct ringd *rd, uint64_t user_data, int32_t res)
{
	struct ringd_cqe *c = &rd->xcq[rd->xcq_tail % rd->xcq_cap];

	c->user_data = user_data;
	c->res = res;
	c->flags = 0;
	rd->xcq_tail++;
}

/* Restore a ring CQE's user_data from its tag. Returns false for a tag
 * the library does not know (a duplicate): such a CQE is dropped. */
static bool rc_untag(struct ringd *rd, struct ringd_cqe *cqe)
{
	uint64_t slot = cqe->user_data;

	if (slot >= rd->nreqs || !rd->reqs[slot].busy)
		return false;
	cqe->user_data = rc_req_put(rd, (uint32_t)slot)->sqe.user_data;
	return true;
}

/* Consume one ring CQE (restoring its tag first if not done yet). */
static void rc_ring_advance(struct ringd *rd)
{
	if (rd->cq_head == rd->cq_xlated) {
		rc_untag(rd, &rd->cqes[rd->cq_head & (rd->cq_entries - 1)]);
		rd->cq_xlated++;
	}
	rd->cq_head++;
	ringd_store_release(&rd->hdr->cq_head, rd->cq_head);
}

/* The next completion to hand out, or NULL: saved ones first, then the
 * ring's, with unknown tags skipped. */
static struct ringd_cqe *rc_next_cqe(struct ringd *rd)
{
	if (rd->xcq_head != rd->xcq_tail)
		return &rd->xcq[rd->xcq_head % rd->xcq_cap];
	for (;;) {
		struct ringd_cqe *cqe;

		if (ringd_load_acquire(&rd->hdr->cq_tail) == rd->cq_head)
			return NULL;
		cqe = &rd->cqes[rd->cq_head & (rd->cq_entries - 1)];
		if (rd->cq_head != rd->cq_xlated)
			return cqe;
		rd->cq_xlated++;
		if (rc_untag(rd, cqe))
			return cqe;
		rd->cq_head++;
		ringd_store_release(&rd->hdr->cq_head, rd->cq_head);
	}
}

/* Ring the doorbell if the daemon sleeps and has SQEs to read. */
void rc_doorbell(struct ringd *rd)
{
	static const char b = 1;

	/* Our tail store before our read of the daemon's sleep flag. */
	ringd_smp_mb();
	if (!(ringd_load_relaxed(&rd->hdr->sq_flags) & RINGD_SQ_NEED_WAKEUP))
		return;
	if (ringd_load_acquire(&rd->hdr->sq_head) == rd->sq_published)
		return;
	if (send(rd->wake_fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		rd->dead = true;
}

int ringd_submit(struct ringd *rd)
{
	uintptr_t base = (uintptr_t)rd->data;
	uint32_t i, n;
	int ret = rc_state_reconnect(rd);

	if (ret)
		return ret;
	n = rd->sq_tail - rd->sq_published;
	for (i = 0; i < n; i++) {
		struct ringd_sqe *sqe = &rd->sqes[(rd->sq_published + i) & (rd->sq_entries - 1)];
		uint32_t slot = rd->req_free;
		struct rc_req *q;

		/* An address below the area wraps to a huge offset: -EFAULT. */
		if (sqe->opcode == RINGD_OP_READ || sqe->opcode == RINGD_OP_WRITE)
			sqe->addr -= base;
		if (slot >= rd->nreqs)
			return -EBUSY; /* cannot happen: bounded by SQ + CQ */
		q = &rd->reqs[slot];
		rd->req_free = q->next_free;
		q->busy = true;
		rd->reqs_busy++;
		q->sqe = *sqe;
		q->seq = rd->seq++;
		/* The ring carries our tag and the daemon's handle for this session. */
		sqe->user_data = slot;
		if (sqe->handle >= 0 && sqe->handle < RC_MAX_HANDLES &&
		    rd->handles[sqe->handle].open)
			sqe->handle = rd->handles[sqe->handle].dh;
		else if (sqe->opcode != RINGD_OP_NOP)
			sqe->handle = -1;
	}
	if (n) {
		rd->sq_published += n;
		ringd_store_release(&rd->hdr->sq_tail, rd->sq_published);
	}
	rc_doorbell(rd);
	return rd->dead && !rd->reconnect ? -ENOTCONN : (int)n;
}

unsigned int ringd_cq_ready(struct ringd *rd)
{
	return (rd->xcq_tail - rd->xcq_head) +
	       (ringd_load_acquire(&rd->hdr->cq_tail) - rd->cq_head);
}

int ringd_peek_cqe(struct ringd *rd, struct ringd_cqe **cqe)
{
	*cqe = rc_next_cqe(rd);
	if (*cqe)
		return 0;
	return rc_state(rd) ? rc_state(rd) : -EAGAIN;
}

void ringd_cq_advance(struct ringd *rd, unsigned int nr)
{
	while (nr--) {
		if (rd->xcq_head != rd->xcq_tail)
			rd->xcq_head++;
		else if (ringd_load_acquire(&rd->hdr->cq_tail) != rd->cq_head)
			rc_ring_advance(rd);
	}
}

void ringd_cqe_seen(struct ringd *rd, struct ringd_cqe *cqe)
{
	(void)cqe;
	ringd_cq_advance(rd, 1);
}

unsigned int ringd_peek_batch_cqe(struct ringd *rd, struct ringd_cqe *cqes, unsigned int max)
{
	unsigned int n = 0;
	struct ringd_cqe *c;

	while (n < max && (c = rc_next_cqe(rd))) {
		cqes[n++] = *c;
		ringd_cq_advance(rd, 1);
	}
	return n;
}

static inline void rc_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ volatile("" ::: "memory");
#endif
}

static uint64_t rc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void rc_drain_wake(struct ringd *rd)
{
	char buf[64];
	unsigned int i;

	for (i = 0; i < 64; i++)
		if (recv(rd->wake_fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
}

/*
 * Wait until @nr completions are ready, the daemon is gone or the session
 * broken, or @timeout_us (UINT64_MAX: forever) passes. Returns 0, -ETIME,
 * -ENOTCONN, -EPIPE or -errno.
 */
static int rc_wait(struct ringd *rd, unsigned int nr, uint64_t timeout_us)
{
	uint64_t start = rc_now_us(), now, spin_from = start, prev = start, progress = start;
	uint32_t seen_sq = ringd_load_acquire(&rd->hdr->sq_head), seen_cq = rd->cq_head, sq, cq;
	int ret;

	/*
	 * Spin: a wake-up costs more than most completions take. The spin is
	 * adaptive: it lasts spin_us from the last sign that the daemon is
	 * serving us (it took SQEs or posted CQEs), so a batch the daemon is
	 * working through is waited for without a sleep, and a stalled one is
	 * given up on after spin_us.
	 */
	for (;;) {
		cq = ringd_load_acquire(&rd->hdr->cq_tail);
		if (ringd_cq_ready(rd) >= nr)
			break;
		ret = rc_state_reconnect(rd);
		if (ret)
			return ret;
		now = rc_now_us();
		if (now - prev >= RC_PREEMPT_GAP_US) {
			/* Off the CPU meanwhile: that was not spent spinning. */
			rd->contended = RC_CONTENDED_WAITS;
			spin_from += now - prev;
		}
		prev = now;
		sq = ringd_load_relaxed(&rd->hdr->sq_head);
		if (sq != seen_sq || cq != seen_cq) {
			seen_sq = sq;
			seen_cq = cq;
			spin_from = progress = now;
		}
		if (now - spin_from >= rd->spin_us)
			break;
		/* Yielding to others never turns into an endless poll. */
		if (now - progress >= (uint64_t)rd->spin_us * RC_SPIN_WALL_FACTOR)
			break;
		if (timeout_us != UINT64_MAX && now - start >= timeout_us)
			break;
		/*
		 * On a shared core a pure spin would hold back the very
		 * submissions and completions we wait for: let other
		 * runnable work have the CPU between checks.
		 */
		if (rd->contended)
			sched_yield();
		else
			rc_cpu_relax();
	}
	if (rd->contended)
		rd->contended--;
	while (ringd_cq_ready(rd) < nr) {
		struct pollfd pfd[2] = {
			{ .fd = rd->wake_fd, .events = POLLIN },
			{ .fd = rd->sock, .events = POLLIN },
		};
		int timeout_ms = -1;

		ret = rc_state_reconnect(rd);
		if (ret)
			return ret;
		if (timeout_us != UINT64_MAX) {
			now = rc_now_us();
			if (now - start >= timeout_us)
				return -ETIME;
			timeout_ms = (int)((timeout_us - (now - start) + 999) / 1000);
		}
		__atomic_fetch_or(&rd->hdr->cq_flags, RINGD_CQ_WAITING, __ATOMIC_RELAXED);
		/* Our flag before our re-check of the CQ tail. */
		ringd_smp_mb();
		if (ringd_cq_ready(rd) >= nr)
			break;
		/* SQEs the daemon has not taken yet (it was full): tell it. */
		rc_doorbell(rd);
		ret = poll(pfd, 2, timeout_ms);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			__atomic_fetch_and(&rd->hdr->cq_flags, ~RINGD_CQ_WAITING, __ATOMIC_RELAXED);
			return ret;
		}
		if (pfd[0].revents & POLLIN)
			rc_drain_wake(rd);
		if (pfd[1].revents & (POLLHUP | POLLERR | POLLIN)) {
			/* No reply is pending while we wait: this is EOF. */
			rd->dead = true;
		}
	}
	if (!rd->event_fd_mode)
		__atomic_fetch_and(&rd->hdr->cq_flags, ~RINGD_CQ_WAITING, __ATOMIC_RELAXED);
	return 0;
}

int ringd_submit_and_wait(struct ringd *rd, unsigned int wait_nr)
{
	int submitted = ringd_submit(rd), ret;

	if (submitted < 0)
		return submitted;
	if (wait_nr) {
		ret = rc_wait(rd, wait_nr, UINT64_MAX);
		if (ret)
			return ret;
	}
	return submitted;
}

/* Wait for a completion the library does not drop (duplicates are). */
static int rc_wait_cqe(struct ringd *rd, struct ringd_cqe **cqe, uint64_t timeout_us)
{
	int ret;

	for (;;) {
		*cqe = rc_next_cqe(rd);
		if (*cqe)
			return 0;
		ret = rc_wait(rd, 1, timeout_us);
		if (ret)
			return ret;
	}
}

int ringd_wait_cqe(struct ringd *rd, struct ringd_cqe **cqe)
{
	return rc_wait_cqe(rd, cqe, UINT64_MAX);
}

int ringd_wait_cqe_timeout(struct ringd *rd, struct ringd_cqe **cqe, unsigned int timeout_ms)
{
	return rc_wait_cqe(rd, cqe, (uint64_t)timeout_ms * 1000u);
}

int ringd_event_fd(struct ringd *rd)
{
	rd->event_fd_mode = true;
	__atomic_fetch_or(&rd->hdr->cq_flags, RINGD_CQ_EVENTFD, __ATOMIC_SEQ_CST);
	return rd->wake_fd;
}

unsigned int ringd_broken_reason(struct ringd *rd)
{
	return __atomic_load_n(&rd->hdr->broken_reason, __ATOMIC_ACQUIRE);
}
