/* SPDX-License-Identifier: MIT */
/*
 * srv_: the event loop. One blocking wait per iteration:
 *
 *   1. serve every active session's SQ (bounded per session per pass);
 *   2. if nothing was found and nothing happened for [daemon] poll_idle_us,
 *      flag every session "daemon asleep" (RINGD_SQ_NEED_WAKEUP), fence,
 *      and look once more; within poll_idle_us, go round again (polling);
 *   3. publish CQ tails and wake the clients that wait;
 *   4. submit, and wait for a kernel completion only if there was no work
 *      and the poll time is over (completions are I/O, control-socket and
 *      doorbell polls, signals) and no polled I/O is in flight (the IOPOLL
 *      ring never interrupts: it is polled once per pass instead, see
 *      srv_kernel_wait());
 *   5. reap and route (every ring).
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sysd.h"

#define SRV_KR_ENTRIES	1024u
#define SRV_NREQS	2048u
#define SRV_SQ_BUDGET	64u  /* SQEs per session per pass */
#define SRV_CTRL_BUDGET 8u   /* control messages per session per wake-up */
#define SRV_TICK_MS	250u /* longest sleep: stall checks */
#define SRV_DRAIN_MS	10000u

uint64_t srv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int srv_tenant_for(const struct cfg *c, uid_t uid, gid_t gid)
{
	unsigned int i, j;

	for (i = 0; i < c->ntenants; i++)
		for (j = 0; j < c->tenants[i].nuids; j++)
			if (c->tenants[i].uids[j] == uid)
				return (int)i;
	for (i = 0; i < c->ntenants; i++)
		for (j = 0; j < c->tenants[i].ngids; j++)
			if (c->tenants[i].gids[j] == gid)
				return (int)i;
	return -1;
}

int srv_arm_poll(struct srv *s, int fd, enum srv_tag kind, uint32_t idx)
{
	return kr_queue_poll(&s->kr, fd, srv_tag(kind, idx));
}

void srv_arm_session_poll(struct srv *s, struct sess *se, bool ctrl)
{
	int ret = srv_arm_poll(s, ctrl ? se->sock : se->wake_fd, ctrl ? TAG_CTRL : TAG_DOORBELL,
			       se->slot);

	if (ret) {
		log_err("session %llu: cannot arm poll: %s", (unsigned long long)se->id,
			strerror(-ret));
		sess_close(s, se);
		return;
	}
	se->polls_armed++;
	if (ctrl)
		se->ctrl_poll = true;
	else
		se->doorbell_poll = true;
}

static void srv_accept_one(struct srv *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct sess *se;
	int tenant, ret;

	/* Identity comes from the kernel, never from what the client says. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("SO_PEERCRED: %s", strerror(errno));
		ctl_hangup(fd);
		return;
	}
	tenant = srv_tenant_for(&s->cfg, cred.uid, cred.gid);
	if (tenant < 0 && cred.uid != 0) {
		log_info("refused pid %d uid %u gid %u: no tenant entry", (int)cred.pid,
			 (unsigned int)cred.uid, (unsigned int)cred.gid);
		ctl_send_error(fd, EACCES, "uid %u (gid %u) is not a tenant of this daemon",
			       (unsigned int)cred.uid, (unsigned int)cred.gid);
		ctl_hangup(fd);
		return;
	}
	if (tenant >= 0 && s->usage[tenant].sessions >= s->cfg.tenants[tenant].max_sessions) {
		log_info("refused pid %d uid %u: tenant %s is at max_sessions %u", (int)cred.pid,
			 (unsigned int)cred.uid, s->cfg.tenants[tenant].name,
			 s->cfg.tenants[tenant].max_sessions);
		ctl_send_error(fd, EDQUOT, "tenant %s already has max_sessions = %u sessions",
			       s->cfg.tenants[tenant].name, s->cfg.tenants[tenant].max_sessions);
		ctl_hangup(fd);
		return;
	}
	ret = sess_new(s, fd, &se);
	if (ret) {
		ctl_send_error(fd, -ret, "the daemon serves its maximum of %u sessions",
			       s->cfg.max_sessions);
		ctl_hangup(fd);
		return;
	}
	se->pid = cred.pid;
	se->uid = cred.uid;
	se->gid = cred.gid;
	se->tenant = tenant;
	if (tenant >= 0)
		s->usage[tenant].sessions++;
	log_debug("session %llu: pid %d uid %u tenant %s", (unsigned long long)se->id, (int)se->pid,
		  (unsigned int)se->uid, tenant >= 0 ? s->cfg.tenants[tenant].name : "(admin?)");
	srv_arm_session_poll(s, se, true);
}

/*
 * Accept up to a budget of connections. The multishot poll on the listening
 * socket fires on new arrivals only, so when the budget runs out with
 * connections still queued, accept_more makes the loop come back for them
 * (else a burst of connects would wait for the next arrival).
 */
static void srv_accept(struct srv *s)
{
	unsigned int i;

	s->accept_more = false;
	for (i = 0; i < 16; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		srv_accept_one(s, fd);
	}
	s->accept_more = true;
}

static void srv_fill_stats(const struct srv *s, const struct sess *se, Ringd__Stats *st)
{
	if (se->admin) {
		st->has_sessions = st->has_buffers_registered = st->has_files_registered = 1;
		st->has_requests_inflight = 1;
		st->sessions = s->nsessions;
		st->buffers_registered = s->kr.bufs_used;
		st->files_registered = s->kr.files_used;
		st->requests_inflight = s->reqs_inflight;
		return;
	}
	st->has_submitted = st->has_completed = st->has_errors = st->has_rejected = 1;
	st->has_bytes_read = st->has_bytes_written = st->has_inflight = 1;
	st->has_broken_reason = st->has_completions_interrupt = 1;
	st->has_completions_polled = st->has_completions_passthrough = 1;
	st->has_completions_passthrough_polled = 1;
	st->completions_polled = se->stats.completions_polled;
	st->completions_passthrough = se->stats.completions_passthrough;
	st->completions_passthrough_polled = se->stats.completions_passthrough_polled;
	st->submitted = se->stats.submitted;
	st->completed = se->stats.completed;
	st->errors = se->stats.errors;
	st->rejected = se->stats.rejected;
	st->bytes_read = se->stats.bytes_read;
	st->bytes_written = se->stats.bytes_written;
	st->inflight = se->inflight;
	/* Ours, not the shared header's: the client can write that one. */
	st->broken_reason = se->broken_reason;
	st->completions_interrupt = se->stats.completions_interrupt;
}

/* Answer a Hello. Returns 0, or -errno after which the session is closed. */
static int srv_hello(struct srv *s, struct sess *se, const Ringd__Hello *h)
{
	char err[512];
	int ret;

	if (se->state != SESS_HANDSHAKE) {
		ctl_send_error(se->sock, EPROTO, "Hello sent twice");
		return -EPROTO;
	}
	if (h->abi_version != RINGD_ABI_VERSION) {
		ctl_send_error(se->sock, EPROTO,
			       "ABI version %u is not supported (daemon speaks %u)", h->abi_version,
			       RINGD_ABI_VERSION);
		return -EPROTO;
	}
	if (h->has_admin && h->admin) {
		Ringd__Reply r = RINGD__REPLY__INIT;
		Ringd__Stats st = RINGD__STATS__INIT;

		if (se->uid != 0) {
			ctl_send_error(se->sock, EPERM, "admin connections are for root only");
			return -EPERM;
		}
		se->admin = true;
		se->state = SESS_ACTIVE;
		srv_fill_stats(s, se, &st);
		r.msg_case = RINGD__REPLY__MSG_STATS;
		r.stats = &st;
		return ctl_send(se->sock, &r, NULL, 0);
	}
	if (se->tenant < 0) {
		ctl_send_error(se->sock, EACCES, "uid %u (gid %u) is not a tenant of this daemon",
			       (unsigned int)se->uid, (unsigned int)se->gid);
		return -EACCES;
	}
	ret = sess_attach(s, se, h, err, sizeof(err));
	if (ret) {
		log_info("session %llu (uid %u): attach refused: %s", (unsigned long long)se->id,
			 (unsigned int)se->uid, err);
		ctl_send_error(se->sock, -ret, "%s", err);
		return ret;
	}
	if (s->sleeping)
		__atomic_fetch_or(&se->hdr->sq_flags, RINGD_SQ_NEED_WAKEUP, __ATOMIC_SEQ_CST);
	srv_arm_session_poll(s, se, false);
	log_info("session %llu: pid %d uid %u tenant %s: sq %u cq %u data %llu",
		 (unsigned long long)se->id, (int)se->pid, (unsigned int)se->uid,
		 s->cfg.tenants[se->tenant].name, se->sq_entries, se->cq_entries,
		 (unsigned long long)se->data_size);
	return 0;
}

int srv_request(struct srv *s, struct sess *se, const Ringd__Request *rq)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	char err[512];
	int ret;

	if (rq->msg_case == RINGD__REQUEST__MSG_HELLO)
		return srv_hello(s, se, rq->hello);
	if (se->state == SESS_HANDSHAKE) {
		ctl_send_error(se->sock, EPROTO, "the first message must be Hello");
		return -EPROTO;
	}
	switch (rq->msg_case) {
	case RINGD__REQUEST__MSG_OPEN: {
		Ringd__Opened o = RINGD__OPENED__INIT;
		const struct vol *v;
		int handle;

		if (se->admin)
			return ctl_send_error(se->sock, EPERM, "admin connections open no volumes");
		if (se->state == SESS_BROKEN)
			return ctl_send_error(se->sock, EPIPE, "session is broken (reason %u)",
					      se->broken_reason);
		ret = sess_handle_open(s, se, rq->open->name, rq->open->flags, &handle, err,
				       sizeof(err));
		if (ret)
			return ctl_send_error(se->sock, -ret, "%s", err);
		v = &s->vols[se->handles[handle].vol];
		o.handle = handle;
		o.size = v->v.size;
		o.block_size = v->block_size;
		o.align = v->v.align;
		o.flags = (v->direct ? RINGD_VOL_DIRECT : 0) |
			  (v->v.readonly ? RINGD_VOL_READONLY : 0) |
			  (v->blockdev ? RINGD_VOL_BLOCKDEV : 0);
		r.msg_case = RINGD__REPLY__MSG_OPENED;
		r.opened = &o;
		return ctl_send(se->sock, &r, NULL, 0);
	}
	case RINGD__REQUEST__MSG_CLOSE: {
		Ringd__Closed c = RINGD__CLOSED__INIT;

		if (se->admin || sess_handle_close(s, se, rq->close->handle))
			return ctl_send_error(se->sock, EBADF, "handle %d is not open",
					      rq->close->handle);
		r.msg_case = RINGD__REPLY__MSG_CLOSED;
		r.closed = &c;
		return ctl_send(se->sock, &r, NULL, 0);
	}
	case RINGD__REQUEST__MSG_STATS: {
		Ringd__Stats st = RINGD__STATS__INIT;

		srv_fill_stats(s, se, &st);
		r.msg_case = RINGD__REPLY__MSG_STATS;
		r.stats = &st;
		return ctl_send(se->sock, &r, NULL, 0);
	}
	default:
		ctl_send_error(se->sock, EPROTO, "unknown request");
		return -EPROTO;
	}
}

static void srv_control(struct srv *s, struct sess *se, int32_t revents)
{
	unsigned int i;

	for (i = 0; i < SRV_CTRL_BUDGET && se->state != SESS_CLOSING; i++) {
		Ringd__Request *rq;
		int ret = ctl_recv(se->sock, &rq);

		if (ret == -EAGAIN || ret == -EINTR)
			break;
		if (ret) {
			if (ret != -ECONNRESET) {
				log_info("session %llu (pid %d uid %u): bad control message: %s",
					 (unsigned long long)se->id, (int)se->pid,
					 (unsigned int)se->uid, strerror(-ret));
				ctl_send_error(se->sock, -ret, "malformed control message: %s",
					       strerror(-ret));
			}
			sess_close(s, se);
			return;
		}
		ret = srv_request(s, se, rq);
		ringd__request__free_unpacked(rq, NULL);
		if (ret) {
			/* Includes a reply the client could not take at once. */
			sess_close(s, se);
			return;
		}
	}
	if (se->state != SESS_CLOSING && (revents & (POLLHUP | POLLERR)) && !(revents & POLLIN))
		sess_close(s, se);
}

static void srv_doorbell(struct sess *se)
{
	char buf[256];
	unsigned int i;

	/* Drain; the SQ itself is read in the next pass. */
	for (i = 0; i < 64; i++)
		if (recv(se->wake_fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
}

static void srv_signal(struct srv *s)
{
	struct signalfd_siginfo si;

	while (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			log_info("signal %u: draining and stopping", si.ssi_signo);
			s->stop = true;
		} else if (si.ssi_signo == SIGHUP) {
			s->reload = true;
		}
	}
}

/* A multishot poll on a session fd fired or ended. */
static void srv_session_poll(struct srv *s, const struct kr_cqe *c, bool ctrl)
{
	struct sess *se = s->sessions[srv_tag_idx(c->tag)];

	if (!se)
		return;
	if (!kr_poll_more(c)) {
		se->polls_armed--;
		if (ctrl)
			se->ctrl_poll = false;
		else
			se->doorbell_poll = false;
		if (se->state == SESS_CLOSING) {
			sess_maybe_free(s, se);
			return;
		}
	} else if (se->state == SESS_CLOSING || (!ctrl && se->state == SESS_BROKEN)) {
		/*
		 * Still armed although we asked for its removal: the removal
		 * was issued before the poll itself was armed (both were in
		 * one submission) and found nothing. Ask again; the shutdown
		 * of the fd in sess_close()/sess_break() guarantees an event
		 * like this one for every poll that survived.
		 */
		sess_remove_poll(s, se, !ctrl);
	}
	if (c->res > 0) {
		if (ctrl)
			srv_control(s, se, c->res);
		else if (se->wake_fd >= 0)
			srv_doorbell(se);
	}
	if (se->state == SESS_CLOSING) {
		sess_maybe_free(s, se);
		return;
	}
	/* Multishot polls can end on their own (e.g. CQ overflow): re-arm. */
	if (ctrl && !se->ctrl_poll)
		srv_arm_session_poll(s, se, true);
	else if (!ctrl && !se->doorbell_poll && se->wake_fd >= 0 && se->state == SESS_ACTIVE)
		srv_arm_session_poll(s, se, false);
	else if (!ctrl && !se->doorbell_poll && se->wake_fd >= 0 && se->state == SESS_BROKEN) {
		/* A broken session hears no more doorbells. */
		close(se->wake_fd);
		se->wake_fd = -1;
	}
}

/*
 * The completion of a session poll's removal. -EALREADY means the poll was
 * busy posting a completion at that moment (its task work owned it: with
 * an SQ thread that runs concurrently with us) and is still armed, so ask
 * again; any other result means it is gone or going, and its own final
 * CQE (without F_MORE) does the accounting.
 */
static void srv_poll_removed(struct srv *s, const struct kr_cqe *c)
{
	uint32_t idx = srv_tag_idx(c->tag), slot = idx >> 1;
	bool doorbell = idx & 1;
	struct sess *se;

	if (c->res != -EALREADY || slot >= s->cfg.max_sessions)
		return;
	se = s->sessions[slot];
	if (!se || se->state != SESS_CLOSING || !(doorbell ? se->doorbell_poll : se->ctrl_poll))
		return;
	sess_remove_poll(s, se, doorbell);
}

void srv_cqe(struct srv *s, const struct kr_cqe *c)
{
	switch (srv_tag_kind(c->tag)) {
	case TAG_IO:
		disp_complete(s, srv_tag_idx(c->tag), c->res);
		break;
	case TAG_LISTEN:
		if (s->listen_fd >= 0 && c->res > 0)
			srv_accept(s);
		if (!kr_poll_more(c) && s->listen_fd >= 0 && !s->stop)
			srv_arm_poll(s, s->listen_fd, TAG_LISTEN, 0);
		break;
	case TAG_CTRL:
		srv_session_poll(s, c, true);
		break;
	case TAG_DOORBELL:
		srv_session_poll(s, c, false);
		break;
	case TAG_SIGNAL:
		srv_signal(s);
		if (!kr_poll_more(c))
			srv_arm_poll(s, s->signal_fd, TAG_SIGNAL, 0);
		break;
	case TAG_KRING: {
		uint64_t v;

		/* Only a wake-up: every ring is reaped each pass anyway. */
		if (read(s->pt_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("passthrough eventfd: %s", strerror(errno));
		if (!kr_poll_more(c))
			srv_arm_poll(s, s->pt_efd, TAG_KRING, 0);
		break;
	}
	case TAG_POLLRM:
		srv_poll_removed(s, c);
		break;
	default:
		break;
	}
}

/* Flag (or unflag) every active session: the daemon is about to sleep. */
static void srv_set_sleeping(struct srv *s, bool sleeping)
{
	struct sess *se;

	if (s->sleeping == sleeping)
		return;
	s->sleeping = sleeping;
	for (se = s->active; se; se = se->next_active) {
		if (sleeping)
			__atomic_fetch_or(&se->hdr->sq_flags, RINGD_SQ_NEED_WAKEUP,
					  __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(&se->hdr->sq_flags, ~RINGD_SQ_NEED_WAKEUP,
					   __ATOMIC_RELAXED);
	}
	/* Flag stores before the re-check of every SQ tail. */
	ringd_smp_mb();
}

static unsigned int srv_consume_all(struct srv *s)
{
	struct sess *se, *next, *last = NULL, *first = s->active;
	unsigned int work = 0;

	for (se = s->active; se; se = next) {
		next = se->next_active;
		work += disp_consume(s, se, SRV_SQ_BUDGET);
		/* disp_consume() can only unlist the session it serves. */
		if (se->listed)
			last = se;
	}
	/*
	 * Round robin: the session served first goes last next time, so that
	 * when the request pool or a tenant cap runs short no session is
	 * always served before the others.
	 */
	if (first && first->listed && last && last != first) {
		s->active = first->next_active;
		s->active->prev_active = NULL;
		first->prev_active = last;
		first->next_active = NULL;
		last->next_active = first;
	}
	return work;
}

/* Route every completion of one ring. Returns how many there were. */
static unsigned int srv_reap_ring(struct srv *s, struct kr_ring *kr)
{
	struct kr_cqe cqes[256];
	unsigned int n, i, total = 0;

	do {
		n = kr_reap(kr, cqes, 256);
		for (i = 0; i < n; i++)
			srv_cqe(s, &cqes[i]);
		total += n;
	} while (n == 256);
	return total;
}

static inline void srv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ volatile("" ::: "memory");
#endif
}

static uint64_t srv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Whether to poll rather than sleep: yes for poll_idle_us after the last
 * SQE or kernel completion (@activity: completions in the last pass). A
 * wake-up costs the client a doorbell syscall and us 7-9 us (far more in
 * a VM), so while a client is busy it submits without any syscall; an
 * idle daemon still sleeps.
 */
static bool srv_keep_polling(struct srv *s, bool activity)
{
	uint64_t now;

	if (!s->cfg.poll_idle_us)
		return false;
	now = srv_now_ns();
	if (activity || !s->idle_since_ns) {
		s->idle_since_ns = now;
		return true;
	}
	return now - s->idle_since_ns < (uint64_t)s->cfg.poll_idle_us * 1000u;
}

/* Route every kernel completion of every ring. Returns how many there were. */
static unsigned int srv_reap(struct srv *s)
{
	unsigned int n = 0;

	if (s->poll_ready)
		n += srv_reap_ring(s, &s->kr_poll);
	if (s->pt_ready)
		n += srv_reap_ring(s, &s->kr_pt);
	return n + srv_reap_ring(s, &s->kr);
}

/*
 * The loop's one wait. The passthrough ring wakes the main ring through
 * its eventfd, so blocking on the main ring is enough for it; the IOPOLL
 * ring never interrupts, so while polled requests are in flight nothing
 * blocks: submit, poll the device queues once, and come back.
 */
static int srv_kernel_wait(struct srv *s, bool block, uint64_t timeout_ns)
{
	int ret;

	if (s->pt_ready) {
		ret = kr_submit(&s->kr_pt);
		if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
			log_warn("passthrough ring submit: %s", strerror(-ret));
	}
	if (s->poll_ready) {
		ret = kr_submit(&s->kr_poll);
		if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
			log_warn("polled ring submit: %s", strerror(-ret));
	}
	if (s->poll_inflight)
		block = false;
	ret = kr_submit_and_wait(&s->kr, block ? 1 : 0, block ? timeout_ns : 0);
	if (s->poll_inflight) {
		int pret = kr_iopoll(&s->kr_poll);

		if (pret < 0 && pret != -EAGAIN && pret != -EINTR && pret != -EBUSY)
			log_warn("io_uring iopoll: %s", strerror(-pret));
	}
	return ret;
}

/* Work done before each sleep: watchdog, status, reload. */
static void srv_before_sleep(struct srv *s)
{
	uint64_t now = srv_now_ms();

	sysd_watchdog_tick(now);
	if (s->reload) {
		s->reload = false;
		srv_reload(s);
	}
	if (now - s->last_status_ms >= 1000) {
		s->last_status_ms = now;
		sysd_status(s->nsessions, s->nvols_live, s->reqs_inflight);
	}
}

/* One iteration of the loop. */
static int srv_iterate(struct srv *s)
{
	unsigned int work = srv_consume_all(s);
	bool polling = false;
	int ret;

	if (s->accept_more && s->listen_fd >= 0) {
		srv_accept(s);
		work++;
	}
	if (!work)
		polling = srv_keep_polling(s, s->reaped);
	/* With polled I/O in flight the loop does not sleep either. */
	if (!work && !polling && !s->poll_inflight) {
		srv_set_sleeping(s, true);
		work = srv_consume_all(s);
	}
	/* Awake or polling: clients need not ring the doorbell. */
	if (work || polling || s->poll_inflight)
		srv_set_sleeping(s, false);
	if (work)
		s->idle_since_ns = 0; /* the idle clock restarts on the next empty pass */
	disp_flush(s);
	srv_before_sleep(s);
	ret = srv_kernel_wait(s, !work && !polling, s->tick_ms * 1000000ull);
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
		log_err("io_uring wait: %s", strerror(-ret));
		return ret;
	}
	s->reaped = srv_reap(s);
	disp_flush(s);
	if (polling && !s->reaped)
		srv_cpu_relax();
	return 0;
}

/*
 * Graceful stop: accept no one, take no new SQEs, let the kernel finish
 * what it has and post those completions, then tell every client
 * (RINGD_BROKEN_SHUTDOWN in its header, and EOF on its socket).
 */
static void srv_drain(struct srv *s)
{
	uint64_t deadline = srv_now_ms() + SRV_DRAIN_MS;
	struct sess *se;
	uint32_t i;

	sysd_stopping();
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		s->listen_fd = -1;
		if (s->listen_owned)
			unlink(s->cfg.socket_path);
	}
	/* No more SQEs are read: this loop only reaps. */
	while (s->reqs_inflight && srv_now_ms() < deadline) {
		srv_kernel_wait(s, true, 100 * 1000000ull);
		srv_reap(s);
		disp_flush(s);
	}
	for (i = 0; i < s->cfg.max_sessions; i++) {
		se = s->sessions[i];
		if (!se)
			continue;
		sess_break(s, se, RINGD_BROKEN_SHUTDOWN);
		sess_close(s, se);
	}
	while (s->nsessions && srv_now_ms() < deadline) {
		srv_kernel_wait(s, true, 100 * 1000000ull);
		srv_reap(s);
		disp_flush(s);
	}
	if (s->nsessions)
		log_warn("%u sessions still had kernel I/O in flight at exit", s->nsessions);
}

int srv_run(struct srv *s)
{
	int ret = 0;

	while (!s->stop) {
		ret = srv_iterate(s);
		if (ret)
			break;
	}
	srv_drain(s);
	return ret;
}

static int srv_signals(struct srv *s)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0)
		return -errno;
	return 0;
}

int srv_volume_find(const struct srv *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->nvols; i++)
		if (!s->vvols[i].removed && !strcmp(s->vols[i].name, name))
			return (int)i;
	return -1;
}

int srv_buf_set(struct srv *s, unsigned int slot, void *base, size_t len)
{
	int ret;

	ret = base ? kr_buf_set(&s->kr, slot, base, len) : kr_buf_clear(&s->kr, slot);
	if (ret)
		return ret;
	if (s->poll_ready) {
		ret = base ? kr_buf_set(&s->kr_poll, slot, base, len)
			   : kr_buf_clear(&s->kr_poll, slot);
		if (ret)
			goto out_undo;
	}
	if (s->pt_ready) {
		ret = base ? kr_buf_set(&s->kr_pt, slot, base, len) : kr_buf_clear(&s->kr_pt, slot);
		if (ret)
			goto out_undo;
	}
	return 0;

out_undo:
	if (base) {
		kr_buf_clear(&s->kr, slot);
		if (s->poll_ready)
			kr_buf_clear(&s->kr_poll, slot);
	}
	return ret;
}

/*
 * Create the IOPOLL ring (@polled) or the passthrough ring the first time
 * a volume needs it: on the main ring's SQ thread when sqpoll is on, with
 * the ring-liveness pipe in its file table (so that EOF on the pipe still
 * means every ring of this instance is gone) and every live session's
 * data area registered. Returns 0 or -errno (logged).
 */
static int srv_ring_create(struct srv *s, bool polled)
{
	struct kr_ring *kr = polled ? &s->kr_poll : &s->kr_pt;
	struct kr_params kp;
	uint32_t i;
	int ret;

	memset(&kp, 0, sizeof(kp));
	kp.entries = SRV_KR_ENTRIES;
	kp.nr_files = SRV_MAX_VOLUMES + 1;
	kp.nr_bufs = s->cfg.max_sessions;
	kp.flags = KR_BIG | (polled ? KR_IOPOLL : 0);
	if (s->cfg.sqpoll) {
		kp.flags |= KR_SQPOLL;
		kp.attach = &s->kr;
		kp.sqpoll_idle_ms = s->cfg.sqpoll_idle_ms;
	}
	if (!polled) {
		s->pt_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (s->pt_efd < 0) {
			ret = -errno;
			log_err("passthrough ring: eventfd: %s", strerror(-ret));
			return ret;
		}
		kp.has_eventfd = true;
		kp.eventfd = s->pt_efd;
	}
	ret = kr_ring_init(kr, &kp);
	if (ret) {
		log_err("%s ring setup: %s", polled ? "IOPOLL" : "passthrough", strerror(-ret));
		goto out_efd;
	}
	ret = kr_file_set(kr, SRV_RINGLIVE_SLOT, s->ringlive_wr);
	for (i = 0; !ret && i < s->cfg.max_sessions; i++) {
		struct sess *se = s->sessions[i];

		if (se && se->buf_registered)
			ret = kr_buf_set(kr, i, se->data, se->data_size);
	}
	if (!polled && !ret)
		ret = srv_arm_poll(s, s->pt_efd, TAG_KRING, 0);
	if (ret) {
		log_err("%s ring: %s", polled ? "IOPOLL" : "passthrough", strerror(-ret));
		kr_ring_exit(kr);
		goto out_efd;
	}
	if (polled)
		s->poll_ready = true;
	else
		s->pt_ready = true;
	log_info("%s ring ready%s", polled ? "IOPOLL" : "NVMe passthrough",
		 s->cfg.sqpoll ? " (on the shared SQPOLL thread)" : "");
	return 0;

out_efd:
	if (!polled) {
		close(s->pt_efd);
		s->pt_efd = -1;
	}
	return ret;
}

/* Register the polled/passthrough side of volume @v (index @idx). */
static int srv_volume_rings(struct srv *s, struct vol *v, uint32_t idx)
{
	int ret;

	if (v->polled) {
		if (!s->poll_ready) {
			ret = srv_ring_create(s, true);
			if (ret)
				return ret;
		}
		ret = kr_file_set(&s->kr_poll, idx, v->passthrough ? v->ng_fd : v->fd);
		if (ret) {
			log_err("volume %s: cannot register on the IOPOLL ring: %s", v->name,
				strerror(-ret));
			return ret;
		}
	}
	if (v->passthrough) {
		/* Also the home of a polled passthrough volume's flushes. */
		if (!s->pt_ready) {
			ret = srv_ring_create(s, false);
			if (ret)
				goto out_poll;
		}
		ret = kr_file_set(&s->kr_pt, idx, v->ng_fd);
		if (ret) {
			log_err("volume %s: cannot register %s: %s", v->name, v->ng_path,
				strerror(-ret));
			goto out_poll;
		}
	}
	return 0;

out_poll:
	if (v->polled)
		kr_file_set(&s->kr_poll, idx, -1);
	return ret;
}

int srv_volume_add(struct srv *s, const struct cfg_volume *cv, uint32_t idx)
{
	char err[PATH_MAX + 256];
	struct vol *v;
	int ret;

	if (idx >= SRV_MAX_VOLUMES) {
		log_err("volume %s: the daemon has used all %u volume slots; restart it", cv->name,
			SRV_MAX_VOLUMES);
		return -ENOSPC;
	}
	v = &s->vols[idx];
	ret = vol_open(cv, s->cfg.state_dir, v, err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	v->v.file_slot = idx;
	ret = kr_file_set(&s->kr, idx, v->fd);
	if (ret) {
		log_err("volume %s: cannot register %s: %s", v->name, v->path, strerror(-ret));
		vol_close(v);
		return ret;
	}
	ret = srv_volume_rings(s, v, idx);
	if (ret) {
		kr_file_set(&s->kr, idx, -1);
		vol_close(v);
		return ret;
	}
	s->vvols[idx] = v->v;
	if (idx >= s->nvols)
		s->nvols = idx + 1;
	s->nvols_live++;
	log_info("volume %s: %s [%llu, +%llu) %s%s block %u, %s%s%s", v->name, v->path,
		 (unsigned long long)v->v.base, (unsigned long long)v->v.size,
		 v->direct ? "direct" : "buffered", v->v.readonly ? " read-only" : "",
		 v->block_size, v->polled ? "polled" : "interrupts",
		 v->passthrough ? ", NVMe passthrough via " : "", v->passthrough ? v->ng_path : "");
	return 0;
}

void srv_volume_remove(struct srv *s, uint32_t idx)
{
	jr_vol_remove(&s->jr, idx);
	if (s->vvols[idx].removed)
		return;
	s->vvols[idx].removed = true;
	s->nvols_live--;
	/* In-flight I/O holds its own reference on the file. */
	kr_file_set(&s->kr, idx, -1);
	if (s->poll_ready && s->vols[idx].polled)
		kr_file_set(&s->kr_poll, idx, -1);
	if (s->pt_ready && s->vols[idx].passthrough)
		kr_file_set(&s->kr_pt, idx, -1);
	vol_close(&s->vols[idx]);
}

/*
 * Open the configured volumes. Indexes come from the journal so that a
 * restarted daemon gives each volume the index its sessions' handles and
 * journaled requests refer to.
 */
static int srv_open_volumes(struct srv *s)
{
	uint32_t i, idx;
	int ret;

	s->vols = calloc(SRV_MAX_VOLUMES, sizeof(*s->vols));
	s->vvols = calloc(SRV_MAX_VOLUMES, sizeof(*s->vvols));
	if (!s->vols || !s->vvols)
		return -ENOMEM;
	for (i = 0; i < SRV_MAX_VOLUMES; i++) {
		s->vols[i].fd = -1;
		s->vols[i].ng_fd = -1;
		s->vvols[i].removed = true;
	}
	for (i = 0; i < s->cfg.nvols; i++) {
		idx = jr_vol_find(&s->jr, s->cfg.vols[i].name);
		if (idx == JR_MAX_VOLUMES)
			idx = jr_vol_append(&s->jr, s->cfg.vols[i].name);
		ret = srv_volume_add(s, &s->cfg.vols[i], idx);
		if (ret)
			return ret;
	}
	/* Volumes a previous instance had and this config dropped. */
	for (i = 0; i < s->jr.hdr->nvols; i++) {
		if (!s->jr.hdr->vol_removed[i] && s->vols[i].fd < 0)
			jr_vol_remove(&s->jr, i);
	}
	if (s->jr.hdr->nvols > s->nvols)
		s->nvols = s->jr.hdr->nvols;
	return 0;
}

/*
 * The ring-liveness pipe: its write end lives in every kernel ring's
 * registered-file table (the main ring's here, the IOPOLL and passthrough
 * rings' when srv_ring_create() makes them), which the kernel releases
 * after the last request of that ring has completed, and in this process
 * (kept to seed rings created later; closed at exit like any fd). Its read
 * end (in the fd store) therefore sees EOF exactly when no I/O of this
 * daemon instance can still land: the next instance waits for that before
 * reissuing anything.
 */
static int srv_ringlive(struct srv *s)
{
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	ret = kr_file_set(&s->kr, SRV_RINGLIVE_SLOT, p[1]);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return ret;
	}
	s->ringlive_rd = p[0];
	s->ringlive_wr = p[1];
	return 0;
}

/* Journal: inherited from the previous instance, or new. */
static int srv_journal(struct srv *s, bool *recovering)
{
	int fd = sysd_take_fd("journal"), ret;

	*recovering = false;
	if (fd >= 0) {
		ret = jr_open(&s->jr, fd, s->cfg.max_sessions, s->nreqs);
		if (!ret) {
			*recovering = true;
			return 0;
		}
		log_warn("the stored journal does not match this configuration (%s); starting "
			 "without it",
			 strerror(-ret));
		close(fd);
		sysd_fdstore_remove("journal");
	}
	ret = jr_create(&s->jr, s->cfg.max_sessions, s->nreqs);
	if (ret)
		return ret;
	sysd_fdstore("journal", s->jr.fd);
	return 0;
}

/* mkdir -p @dir with @mode for the last component. */
static int srv_mkdirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX], *p;

	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int srv_init(struct srv *s, const struct cfg *cfg)
{
	struct kr_params kp;
	bool recovering;
	uint32_t i;
	int ret;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->listen_fd = -1;
	s->signal_fd = -1;
	s->ringlive_rd = -1;
	s->ringlive_wr = -1;
	s->pt_efd = -1;
	s->lock_fd = -1;
	s->jr.fd = -1;
	log_threshold = cfg->log_level;
	ret = srv_signals(s);
	if (ret) {
		log_err("signals: %s", strerror(-ret));
		return ret;
	}
	ret = srv_mkdirs(cfg->state_dir, 0700);
	if (ret) {
		log_err("state_dir %s: %s", cfg->state_dir, strerror(-ret));
		return ret;
	}
	s->usage = calloc(cfg->ntenants ? cfg->ntenants : 1, sizeof(*s->usage));
	s->sessions = calloc(cfg->max_sessions, sizeof(*s->sessions));
	s->reqs = calloc(SRV_NREQS, sizeof(*s->reqs));
	s->dirty_cap = 2 * cfg->max_sessions;
	s->dirty = calloc(s->dirty_cap, sizeof(*s->dirty));
	if (!s->usage || !s->sessions || !s->reqs || !s->dirty)
		return -ENOMEM;
	s->nreqs = SRV_NREQS;
	for (i = 0; i < SRV_NREQS; i++)
		s->reqs[i].next_free = i + 1;
	s->req_free = 0;

	ret = sysd_collect_fds();
	if (ret < 0)
		log_warn("cannot read the fds systemd passed: %s", strerror(-ret));
	ret = srv_journal(s, &recovering);
	if (ret) {
		log_err("journal: %s", strerror(-ret));
		return ret;
	}

	memset(&kp, 0, sizeof(kp));
	kp.entries = SRV_KR_ENTRIES;
	kp.nr_files = SRV_MAX_VOLUMES + 1;
	kp.nr_bufs = cfg->max_sessions;
	if (cfg->sqpoll) {
		kp.flags = KR_SQPOLL;
		kp.sqpoll_cpu = cfg->sqpoll_cpu;
		kp.sqpoll_idle_ms = cfg->sqpoll_idle_ms;
	}
	ret = kr_ring_init(&s->kr, &kp);
	if (ret) {
		log_err("io_uring setup%s: %s", cfg->sqpoll ? " (sqpoll = on)" : "",
			strerror(-ret));
		return ret;
	}
	s->kr_ready = true;
	if (cfg->sqpoll && cfg->sqpoll_cpu >= 0)
		log_info("SQPOLL thread on cpu %d, idle %u ms, shared by every ring",
			 cfg->sqpoll_cpu, cfg->sqpoll_idle_ms);
	else if (cfg->sqpoll)
		log_info("SQPOLL thread (unpinned), idle %u ms, shared by every ring",
			 cfg->sqpoll_idle_ms);
	ret = srv_ringlive(s);
	if (ret) {
		log_err("ring liveness pipe: %s", strerror(-ret));
		return ret;
	}
	ret = srv_open_volumes(s);
	if (ret)
		return ret;
	s->listen_fd = sysd_take_listen_fd();
	if (s->listen_fd < 0) {
		ret = ctl_listen(cfg, &s->listen_fd, &s->lock_fd);
		if (ret) {
			log_err("socket %s: %s", cfg->socket_path, strerror(-ret));
			return ret;
		}
		s->listen_owned = true;
		sysd_fdstore("listen", s->listen_fd);
	}
	if (recovering) {
		ret = srv_recover(s);
		if (ret)
			return ret;
	}
	sysd_fdstore_remove("ringlive");
	sysd_fdstore("ringlive", s->ringlive_rd);
	sysd_release_unclaimed();
	s->tick_ms = SRV_TICK_MS;
	if (sysd_watchdog_usec() && sysd_watchdog_usec() / 4000 < s->tick_ms)
		s->tick_ms = sysd_watchdog_usec() / 4000 ? sysd_watchdog_usec() / 4000 : 1;
	ret = srv_arm_poll(s, s->listen_fd, TAG_LISTEN, 0);
	if (!ret)
		ret = srv_arm_poll(s, s->signal_fd, TAG_SIGNAL, 0);
	if (!ret)
		ret = kr_submit(&s->kr);
	if (ret < 0) {
		log_err("io_uring: %s", strerror(-ret));
		return ret;
	}
	log_info("state directory %s", cfg->state_dir);
	log_info("listening on %s (mode %04o)", cfg->socket_path, cfg->socket_mode);
	log_info("ready: %u volumes, %u tenants, %u sessions", s->nvols_live, cfg->ntenants,
		 s->nsessions);
	sysd_ready(s->nsessions, s->nvols_live);
	return 0;
}

void srv_fini(struct srv *s)
{
	unsigned int i;

	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (s->listen_owned)
			unlink(s->cfg.socket_path);
	}
	if (s->poll_ready)
		kr_ring_exit(&s->kr_poll);
	if (s->pt_ready)
		kr_ring_exit(&s->kr_pt);
	if (s->kr_ready)
		kr_ring_exit(&s->kr);
	s->kr_ready = false;
	if (s->pt_efd >= 0)
		close(s->pt_efd);
	if (s->ringlive_wr >= 0)
		close(s->ringlive_wr);
	for (i = 0; i < s->nvols; i++)
		vol_close(&s->vols[i]);
	if (s->signal_fd >= 0)
		close(s->signal_fd);
	if (s->ringlive_rd >= 0)
		close(s->ringlive_rd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	jr_close(&s->jr);
	free(s->vols);
	free(s->vvols);
	free(s->usage);
	free(s->sessions);
	free(s->reqs);
	free(s->dirty);
	cfg_free(&s->cfg);
}
