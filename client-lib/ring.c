/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 0: the client side of the SQ/CQ rings.
 *
 * Owns: the SQ/CQ index loads and stores, handing out SQEs, tagging and
 * publishing them, the doorbell, reaping CQEs (untagging them, the stash of
 * completions saved across a reconnect), waiting on the CQ, and the handle
 * table's translation to the daemon's handles.
 * May call: libc and the ring ABI (proto/ringd_abi.h) only. It reports to
 * the layers above by return values and rg_ring.dead, never by calling up:
 * whether a lost session is reconnected is the caller's business.
 *
 * Wake-ups cost 7-9 us here, so neither side signals the other unless it
 * has said it sleeps: the client rings the doorbell only when the daemon
 * set RINGD_SQ_NEED_WAKEUP, and the daemon notifies only when the client
 * set RINGD_CQ_WAITING (after a short spin) or asked for rg_event_fd().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "ring.h"

/*
 * A spin that finds it lost the CPU for RG_PREEMPT_GAP_US between two
 * checks shares its core with other runnable work: for the next
 * RG_CONTENDED_WAITS waits it calls sched_yield() between checks instead
 * of the pause instruction, so the clients (or the daemon) it shares the
 * core with can submit and complete meanwhile. Alone on a core it never
 * makes that syscall. Time off the CPU is not charged to the spin:
 * spin_us is spinning time, so a client that yielded to others finds its
 * completions on its next turn instead of going to sleep.
 *
 * A gap is not always a neighbour: the host preempts a VM's vCPU, an
 * interrupt runs long. A yield that comes back within RG_YIELD_ALONE_US
 * found nothing else to run, and RG_ALONE_YIELDS of them in a row end the
 * yield mode (in a pinned plain-loop run, rounds that stayed in it made
 * 0.07 syscalls per read against 0.002 and served 10-15 % fewer reads).
 * Not the first one: the scheduler (EEVDF) may hand the CPU straight back
 * to a task that yields while its neighbour is not yet eligible to run.
 */
#define RG_PREEMPT_GAP_US   50u
#define RG_CONTENDED_WAITS  64u
#define RG_YIELD_ALONE_US   10u
#define RG_ALONE_YIELDS	    16u
#define RG_SPIN_WALL_FACTOR 64u /* wall-clock bound of a spin, in spin_us */
#define RG_SPIN_BURST	    16u /* checks of the CQ between two reads of the clock */

/*
 * A ring whose daemon usually shows progress within half of spin_us
 * (rg_spin_learn(): an average of the spin time each wait went without
 * progress, a quarter weight to the newest) rides out a hiccup of up to
 * RG_SPIN_HICCUP times spin_us before it sleeps. A sleep costs both sides
 * a wake-up, and the pipeline a gap: the daemon's kernel enter of 16
 * page-cache reads took 8-16 us here, but 0.5 % of them 32 us or more,
 * and in a pinned plain-loop run at QD 32 a client that slept after 50 us
 * did so about 370 times a second (30 times in 3 s after 100 us). A ring
 * whose progress is slow (a slow device, a stalled daemon) keeps the
 * plain spin_us: one long spin moves the average past the bound.
 */
#define RG_SPIN_HICCUP 4u

void rg_map(struct rg_ring *r, void *base, const struct rg_layout *l)
{
	r->hdr = base;
	r->sq_array = (uint32_t *)((char *)base + l->sq_array_off);
	r->sqes = (struct ringd_sqe *)((char *)base + l->sqes_off);
	r->cqes = (struct ringd_cqe *)((char *)base + l->cqes_off);
	r->data = (uint8_t *)base + l->data_off;
	r->data_size = l->data_size;
	r->sq_entries = l->sq_entries;
	r->cq_entries = l->cq_entries;
	rg_load_indices(r);
}

void rg_load_indices(struct rg_ring *r)
{
	r->sq_tail = r->sq_published = ringd_load_acquire(&r->hdr->sq_tail);
	r->sq_head_cache = ringd_load_acquire(&r->hdr->sq_head);
	r->cq_head = r->cq_xlated = ringd_load_acquire(&r->hdr->cq_head);
}

int rg_tables_init(struct rg_ring *r)
{
	uint32_t i;

	r->nreqs = r->sq_entries + r->cq_entries;
	r->reqs = calloc(r->nreqs, sizeof(*r->reqs));
	r->xcq_cap = r->sq_entries + 2 * r->cq_entries;
	r->xcq = calloc(r->xcq_cap, sizeof(*r->xcq));
	if (!r->reqs || !r->xcq) {
		rg_tables_fini(r);
		return -ENOMEM;
	}
	for (i = 0; i < r->nreqs; i++)
		r->reqs[i].next_free = i + 1;
	r->req_free = 0;
	return 0;
}

void rg_tables_fini(struct rg_ring *r)
{
	free(r->reqs);
	free(r->xcq);
	r->reqs = NULL;
	r->xcq = NULL;
}

int rg_state(const struct rg_ring *r)
{
	if (r->dead)
		return -ENOTCONN;
	if (__atomic_load_n(&r->hdr->broken_reason, __ATOMIC_ACQUIRE))
		return -EPIPE;
	return 0;
}

unsigned int rg_broken_reason(const struct rg_ring *r)
{
	return __atomic_load_n(&r->hdr->broken_reason, __ATOMIC_ACQUIRE);
}

struct ringd_sqe *rg_get_sqe(struct rg_ring *r)
{
	struct ringd_sqe *sqe;
	uint32_t head, idx;

	/* The daemon's line is loaded only when our cached head says full. */
	head = r->sq_head_cache;
	if (r->sq_tail - head >= r->sq_entries) {
		head = ringd_load_acquire(&r->hdr->sq_head);
		r->sq_head_cache = head;
		if (r->sq_tail - head >= r->sq_entries)
			return NULL;
	}
	idx = r->sq_tail & (r->sq_entries - 1);
	sqe = &r->sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	/* The array always maps slot i to SQE i: written once, then only
	 * read, so that its line stays in the daemon's cache. */
	if (r->sq_array[idx] != idx)
		r->sq_array[idx] = idx;
	r->sq_tail++;
	return sqe;
}

/*
 * The handle an SQE the application wrote on handle @sqe->handle carries in
 * the ring: the daemon's handle in this session for an open one, -1 (which
 * the daemon refuses) for any other, except that a NOP keeps what it has.
 */
static int32_t rg_ring_handle(const struct rg_ring *r, const struct ringd_sqe *sqe)
{
	int h = sqe->handle;

	if (h >= 0 && h < RG_MAX_HANDLES && r->handles[h].open)
		return r->handles[h].dh;
	/* NOP and CANCEL name no volume: what they carry is checked as is. */
	return sqe->opcode == RINGD_OP_NOP || sqe->opcode == RINGD_OP_CANCEL ? sqe->handle : -1;
}

/*
 * The ring tag of the tracked request whose user_data is @user_data (the
 * oldest one still in flight), or UINT64_MAX, which matches nothing (the
 * daemon answers -ENOENT).
 */
static uint64_t rg_tag_of(const struct rg_ring *r, uint64_t user_data)
{
	uint64_t best = UINT64_MAX, best_seq = UINT64_MAX;
	uint32_t i;

	for (i = 0; i < r->nreqs; i++)
		if (r->reqs[i].busy && r->reqs[i].sqe.user_data == user_data &&
		    r->reqs[i].sqe.opcode != RINGD_OP_CANCEL && r->reqs[i].seq < best_seq) {
			best = i;
			best_seq = r->reqs[i].seq;
		}
	return best;
}

/*
 * Turn the application's pointers of @sqe into what the daemon checks:
 * buffer and iovec-array addresses become data-area offsets (an address
 * below the area wraps to a huge offset: -EFAULT); a vectored request
 * carries the area's address, against which the daemon translates the
 * iovecs it reads; a cancel names its target by ring tag.
 */
static void rg_translate(const struct rg_ring *r, struct ringd_sqe *sqe)
{
	uintptr_t base = (uintptr_t)r->data;

	switch (sqe->opcode) {
	case RINGD_OP_READ:
	case RINGD_OP_WRITE:
		sqe->addr -= base;
		break;
	case RINGD_OP_READV:
	case RINGD_OP_WRITEV:
		sqe->addr -= base;
		sqe->buf_base = base;
		break;
	case RINGD_OP_CANCEL:
		sqe->addr = rg_tag_of(r, sqe->addr);
		break;
	default:
		break;
	}
}

/* Ring the doorbell if the daemon sleeps and has SQEs to read. */
static void rg_doorbell(struct rg_ring *r)
{
	static const char b = 1;

	/* Our tail store before our read of the daemon's sleep flag. */
	ringd_smp_mb();
	if (!(ringd_load_relaxed(&r->hdr->sq_flags) & RINGD_SQ_NEED_WAKEUP))
		return;
	if (ringd_load_acquire(&r->hdr->sq_head) == r->sq_published)
		return;
	if (send(r->wake_fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		r->dead = true;
}

void rg_publish(struct rg_ring *r)
{
	if (r->sq_published != r->sq_tail) {
		r->sq_published = r->sq_tail;
		ringd_store_release(&r->hdr->sq_tail, r->sq_published);
	}
	rg_doorbell(r);
}

int rg_submit(struct rg_ring *r)
{
	uint32_t i, n = r->sq_tail - r->sq_published;

	for (i = 0; i < n; i++) {
		struct ringd_sqe *sqe = &r->sqes[(r->sq_published + i) & (r->sq_entries - 1)];
		uint32_t slot = r->req_free;
		struct rg_req *q;

		rg_translate(r, sqe);
		if (slot >= r->nreqs)
			return -EBUSY; /* cannot happen: bounded by SQ + CQ */
		q = &r->reqs[slot];
		r->req_free = q->next_free;
		q->busy = true;
		r->reqs_busy++;
		q->sqe = *sqe;
		q->seq = r->seq++;
		/* The ring carries our tag and the daemon's handle for this session. */
		sqe->user_data = slot;
		sqe->handle = rg_ring_handle(r, sqe);
	}
	rg_publish(r);
	return (int)n;
}

int rg_place(struct rg_ring *r, const struct ringd_sqe *sqe)
{
	struct ringd_sqe *s = rg_get_sqe(r);

	if (!s)
		return -EBUSY;
	*s = *sqe;
	return 0;
}

int rg_requeue(struct rg_ring *r, uint32_t slot)
{
	struct ringd_sqe sqe = r->reqs[slot].sqe;

	sqe.user_data = slot;
	sqe.handle = rg_ring_handle(r, &sqe);
	return rg_place(r, &sqe);
}

int rg_copy_prepared(const struct rg_ring *r, struct ringd_sqe **out)
{
	uint32_t n = r->sq_tail - r->sq_published, i;

	*out = NULL;
	if (!n)
		return 0;
	*out = malloc(sizeof(**out) * n);
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		(*out)[i] = r->sqes[(r->sq_published + i) & (r->sq_entries - 1)];
	return (int)n;
}

/* Give tag @slot back; returns the request's entry (still readable). */
static struct rg_req *rg_req_put(struct rg_ring *r, uint32_t slot)
{
	struct rg_req *q = &r->reqs[slot];

	q->busy = false;
	q->next_free = r->req_free;
	r->req_free = slot;
	r->reqs_busy--;
	return q;
}

/* Restore a ring CQE's user_data from its tag. Returns false for a tag
 * the library does not know (a duplicate): such a CQE is dropped. */
static bool rg_untag(struct rg_ring *r, struct ringd_cqe *cqe)
{
	uint64_t slot = cqe->user_data;

	if (slot >= r->nreqs || !r->reqs[slot].busy)
		return false;
	cqe->user_data = rg_req_put(r, (uint32_t)slot)->sqe.user_data;
	return true;
}

/* Queue a completion to be handed out before the ring's. */
static void rg_xcq_push(struct rg_ring *r, uint64_t user_data, int32_t res)
{
	struct ringd_cqe *c = &r->xcq[r->xcq_tail % r->xcq_cap];

	c->user_data = user_data;
	c->res = res;
	c->flags = 0;
	r->xcq_tail++;
}

void rg_stash_completions(struct rg_ring *r)
{
	uint32_t tail = ringd_load_acquire(&r->hdr->cq_tail);

	for (; r->cq_head != tail; r->cq_head++) {
		struct ringd_cqe *c = &r->cqes[r->cq_head & (r->cq_entries - 1)];

		if (r->cq_head == r->cq_xlated) {
			r->cq_xlated++;
			if (!rg_untag(r, c))
				continue;
		}
		rg_xcq_push(r, c->user_data, c->res);
	}
}

/* Consume one ring CQE (restoring its tag first if not done yet). */
static void rg_ring_advance(struct rg_ring *r)
{
	if (r->cq_head == r->cq_xlated) {
		rg_untag(r, &r->cqes[r->cq_head & (r->cq_entries - 1)]);
		r->cq_xlated++;
	}
	r->cq_head++;
	ringd_store_release(&r->hdr->cq_head, r->cq_head);
}

unsigned int rg_cq_ready(const struct rg_ring *r)
{
	return (r->xcq_tail - r->xcq_head) + (ringd_load_acquire(&r->hdr->cq_tail) - r->cq_head);
}

struct ringd_cqe *rg_next_cqe(struct rg_ring *r)
{
	if (r->xcq_head != r->xcq_tail)
		return &r->xcq[r->xcq_head % r->xcq_cap];
	for (;;) {
		struct ringd_cqe *cqe;

		if (ringd_load_acquire(&r->hdr->cq_tail) == r->cq_head)
			return NULL;
		cqe = &r->cqes[r->cq_head & (r->cq_entries - 1)];
		if (r->cq_head != r->cq_xlated)
			return cqe;
		r->cq_xlated++;
		if (rg_untag(r, cqe))
			return cqe;
		r->cq_head++;
		ringd_store_release(&r->hdr->cq_head, r->cq_head);
	}
}

void rg_cq_advance(struct rg_ring *r, unsigned int nr)
{
	while (nr--) {
		if (r->xcq_head != r->xcq_tail)
			r->xcq_head++;
		else if (ringd_load_acquire(&r->hdr->cq_tail) != r->cq_head)
			rg_ring_advance(r);
	}
}

/*
 * One load of the daemon's tail and one store of our head for the whole
 * batch: the head is a line the daemon reads, so a store per CQE would
 * pull it back and forth while the daemon posts the next ones.
 */
unsigned int rg_peek_batch(struct rg_ring *r, struct ringd_cqe *cqes, unsigned int max)
{
	uint32_t tail, head = r->cq_head, mask = r->cq_entries - 1;
	unsigned int n = 0;

	for (; n < max && r->xcq_head != r->xcq_tail; r->xcq_head++)
		cqes[n++] = r->xcq[r->xcq_head % r->xcq_cap];
	if (n == max)
		return n;
	tail = ringd_load_acquire(&r->hdr->cq_tail);
	for (; n < max && head != tail; head++) {
		cqes[n] = r->cqes[head & mask];
		/* Untagged on our copy, unless a peek did it in the ring. */
		if (head == r->cq_xlated) {
			r->cq_xlated++;
			if (!rg_untag(r, &cqes[n]))
				continue;
		}
		n++;
	}
	if (head != r->cq_head) {
		r->cq_head = head;
		ringd_store_release(&r->hdr->cq_head, head);
	}
	return n;
}

static inline void rg_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ volatile("" ::: "memory");
#endif
}

static void rg_drain_wake(struct rg_ring *r)
{
	char buf[64];
	unsigned int i;

	for (i = 0; i < 64; i++)
		if (recv(r->wake_fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
}

/* How long a wait spins without progress before it sleeps (RG_SPIN_HICCUP). */
static uint64_t rg_spin_limit(const struct rg_ring *r)
{
	if ((uint64_t)r->spin_typ_us * 2u <= r->spin_us)
		return (uint64_t)r->spin_us * RG_SPIN_HICCUP;
	return r->spin_us;
}

/* A wait spun @gap_us without progress before it ended: into the average. */
static void rg_spin_learn(struct rg_ring *r, uint64_t gap_us)
{
	uint64_t cap = (uint64_t)r->spin_us * RG_SPIN_WALL_FACTOR;

	if (gap_us > cap)
		gap_us = cap;
	if (gap_us > UINT32_MAX)
		gap_us = UINT32_MAX;
	r->spin_typ_us = (uint32_t)(r->spin_typ_us - r->spin_typ_us / 4u + gap_us / 4u);
}

int rg_wait(struct rg_ring *r, int ctl_fd, unsigned int nr, uint64_t deadline_us)
{
	uint64_t now, spin_from, prev, progress, limit = rg_spin_limit(r);
	uint32_t seen_sq, seen_cq = r->cq_head, sq, cq;
	unsigned int burst;
	bool flagged = false;
	int ret;

	if (rg_cq_ready(r) >= nr)
		return 0;
	spin_from = prev = progress = clk_now_us();
	seen_sq = ringd_load_acquire(&r->hdr->sq_head);

	/*
	 * Spin: a wake-up costs more than most completions take. The spin is
	 * adaptive: it lasts spin_us from the last sign that the daemon is
	 * serving us (it took SQEs or posted CQEs), so a batch the daemon is
	 * working through is waited for without a sleep, and a stalled one is
	 * given up on after spin_us.
	 */
	for (;;) {
		/*
		 * A burst of bare checks between the clock reads below: the
		 * sooner a completion is seen, the sooner the next request
		 * goes. Contended, one check per yield.
		 */
		for (burst = r->contended ? 1 : RG_SPIN_BURST; burst; burst--) {
			if (rg_cq_ready(r) >= nr) {
				/* As of the last clock read (at most a burst short):
				 * a completion costs no clock read of its own. */
				rg_spin_learn(r, prev - spin_from);
				goto spun;
			}
			/* The line the next CQE lands in, on its way here. */
			__builtin_prefetch(&r->cqes[r->cq_head & (r->cq_entries - 1)]);
			if (burst > 1)
				rg_cpu_relax();
		}
		/* The burst just looked: only the tail, for progress below. */
		cq = ringd_load_acquire(&r->hdr->cq_tail);
		ret = rg_state(r);
		if (ret)
			return ret;
		now = clk_now_us();
		if (now - prev >= RG_PREEMPT_GAP_US) {
			/* Off the CPU meanwhile: that was not spent spinning. */
			r->contended = RG_CONTENDED_WAITS;
			r->alone_yields = 0;
			spin_from += now - prev;
		}
		prev = now;
		sq = ringd_load_relaxed(&r->hdr->sq_head);
		if (sq != seen_sq || cq != seen_cq) {
			seen_sq = sq;
			seen_cq = cq;
			spin_from = progress = now;
		}
		if (now - spin_from >= limit)
			break;
		/* Yielding to others never turns into an endless poll. */
		if (now - progress >= (uint64_t)r->spin_us * RG_SPIN_WALL_FACTOR)
			break;
		if (deadline_us != UINT64_MAX && now >= deadline_us)
			break;
		/*
		 * On a shared core a pure spin would hold back the very
		 * submissions and completions we wait for: let other
		 * runnable work have the CPU between checks.
		 */
		if (r->contended) {
			sched_yield();
			if (clk_now_us() - now >= RG_YIELD_ALONE_US)
				r->alone_yields = 0;
			else if (++r->alone_yields >= RG_ALONE_YIELDS)
				r->contended = r->alone_yields = 0; /* no one else wants this CPU */
		} else {
			rg_cpu_relax();
		}
	}
	rg_spin_learn(r, now - spin_from);
spun:
	if (r->contended)
		r->contended--;
	while (rg_cq_ready(r) < nr) {
		struct pollfd pfd[2] = {
			{ .fd = r->wake_fd, .events = POLLIN },
			{ .fd = ctl_fd, .events = POLLIN },
		};
		int timeout_ms = -1;
		uint64_t left_ms;

		ret = rg_state(r);
		if (ret)
			return ret;
		if (deadline_us != UINT64_MAX) {
			now = clk_now_us();
			if (now >= deadline_us)
				return -ETIME;
			/* poll() takes an int: past 24.8 days, wake and look again. */
			left_ms = (deadline_us - now + 999) / 1000;
			timeout_ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
		}
		__atomic_fetch_or(&r->hdr->cq_flags, RINGD_CQ_WAITING, __ATOMIC_RELAXED);
		flagged = true;
		/* Our flag before our re-check of the CQ tail. */
		ringd_smp_mb();
		if (rg_cq_ready(r) >= nr)
			break;
		/* SQEs the daemon has not taken yet (it was full): tell it. */
		rg_doorbell(r);
		ret = poll(pfd, 2, timeout_ms);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			__atomic_fetch_and(&r->hdr->cq_flags, ~RINGD_CQ_WAITING, __ATOMIC_RELAXED);
			return ret;
		}
		if (pfd[0].revents & POLLIN)
			rg_drain_wake(r);
		if (pfd[1].revents & (POLLHUP | POLLERR | POLLIN)) {
			/* No reply is pending while we wait: this is EOF. */
			r->dead = true;
		}
	}
	/* Cleared only if set: the flag shares the line of our CQ head. */
	if (flagged && !r->event_fd_mode)
		__atomic_fetch_and(&r->hdr->cq_flags, ~RINGD_CQ_WAITING, __ATOMIC_RELAXED);
	return 0;
}

int rg_event_fd(struct rg_ring *r)
{
	r->event_fd_mode = true;
	__atomic_fetch_or(&r->hdr->cq_flags, RINGD_CQ_EVENTFD, __ATOMIC_SEQ_CST);
	return r->wake_fd;
}

struct rg_handle *rg_handle(struct rg_ring *r, int h)
{
	if (h < 0 || h >= RG_MAX_HANDLES || !r->handles[h].open)
		return NULL;
	return &r->handles[h];
}

int rg_handle_free_slot(const struct rg_ring *r)
{
	int i;

	for (i = 0; i < RG_MAX_HANDLES; i++)
		if (!r->handles[i].open)
			return i;
	return -EMFILE;
}
