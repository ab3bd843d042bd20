/* SPDX-License-Identifier: MIT */
/*
 * srv_: the event loop. One blocking wait per iteration:
 *
 *   1. serve every active session's SQ (bounded per session per pass);
 *   2. if nothing was found, flag every session "daemon asleep"
 *      (RINGD_SQ_NEED_WAKEUP), fence, and look once more;
 *   3. publish CQ tails and wake the clients that wait;
 *   4. submit, and wait for a kernel completion only if there was no work
 *      (completions are I/O, control-socket and doorbell polls, signals);
 *   5. reap and route.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SRV_KR_ENTRIES	 1024u
#define SRV_NREQS	 2048u
#define SRV_SQ_BUDGET	 64u  /* SQEs per session per pass */
#define SRV_CTRL_BUDGET	 8u   /* control messages per session per wake-up */
#define SRV_TICK_MS	 250u /* longest sleep: stall checks */
#define SRV_DRAIN_MS	 10000u

uint64_t srv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The tenant a peer belongs to: first uid match, else first gid match. */
static int srv_tenant_for(const struct cfg *c, uid_t uid, gid_t gid)
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

static int srv_arm_poll(struct srv *s, int fd, enum srv_tag kind, uint32_t idx)
{
	return kr_queue_poll(&s->kr, fd, srv_tag(kind, idx));
}

static void srv_arm_session_poll(struct srv *s, struct sess *se, bool ctrl)
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

static void srv_accept(struct srv *s)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		srv_accept_one(s, fd);
	}
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
		ctl_send_error(se->sock, EPROTO, "ABI version %u is not supported (daemon speaks %u)",
			       h->abi_version, RINGD_ABI_VERSION);
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

		if (se->admin || sess_handle_close(se, rq->close->handle))
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
		kr_queue_poll_remove(&s->kr, c->tag);
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

static void srv_reap(struct srv *s)
{
	struct kr_cqe cqes[256];
	unsigned int n, i;

	do {
		n = kr_reap(&s->kr, cqes, 256);
		for (i = 0; i < n; i++)
			srv_cqe(s, &cqes[i]);
	} while (n == 256);
}

/* One iteration of the loop. */
static int srv_iterate(struct srv *s)
{
	unsigned int work = srv_consume_all(s);
	int ret;

	if (!work) {
		srv_set_sleeping(s, true);
		work = srv_consume_all(s);
	}
	if (work)
		srv_set_sleeping(s, false);
	disp_flush(s);
	ret = kr_submit_and_wait(&s->kr, work ? 0 : 1, work ? 0 : SRV_TICK_MS * 1000000ull);
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
		log_err("io_uring wait: %s", strerror(-ret));
		return ret;
	}
	srv_reap(s);
	disp_flush(s);
	return 0;
}

static void srv_drain(struct srv *s)
{
	uint64_t deadline = srv_now_ms() + SRV_DRAIN_MS;
	uint32_t i;

	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		s->listen_fd = -1;
		unlink(s->cfg.socket_path);
	}
	for (i = 0; i < s->cfg.max_sessions; i++) {
		struct sess *se = s->sessions[i];

		if (!se)
			continue;
		sess_break(s, se, RINGD_BROKEN_SHUTDOWN);
		sess_close(s, se);
	}
	while (s->nsessions && srv_now_ms() < deadline) {
		kr_submit_and_wait(&s->kr, 1, 100 * 1000000ull);
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
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0)
		return -errno;
	return 0;
}

static int srv_open_volumes(struct srv *s)
{
	unsigned int i;
	char err[PATH_MAX + 256];
	int ret;

	s->vols = calloc(s->cfg.nvols ? s->cfg.nvols : 1, sizeof(*s->vols));
	s->vvols = calloc(s->cfg.nvols ? s->cfg.nvols : 1, sizeof(*s->vvols));
	if (!s->vols || !s->vvols)
		return -ENOMEM;
	for (i = 0; i < s->cfg.nvols; i++) {
		ret = vol_open(&s->cfg.vols[i], s->cfg.state_dir, &s->vols[i], err, sizeof(err));
		if (ret) {
			log_err("%s", err);
			return ret;
		}
		s->nvols = i + 1;
		s->vols[i].v.file_slot = i;
		s->vvols[i] = s->vols[i].v;
		ret = kr_file_set(&s->kr, i, s->vols[i].fd);
		if (ret) {
			log_err("volume %s: cannot register %s: %s", s->vols[i].name,
				s->vols[i].path, strerror(-ret));
			return ret;
		}
		log_info("volume %s: %s [%llu, +%llu) %s%s block %u", s->vols[i].name,
			 s->vols[i].path, (unsigned long long)s->vols[i].v.base,
			 (unsigned long long)s->vols[i].v.size,
			 s->vols[i].direct ? "direct" : "buffered",
			 s->vols[i].v.readonly ? " read-only" : "", s->vols[i].block_size);
	}
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
	uint32_t i;
	int ret;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->listen_fd = -1;
	s->signal_fd = -1;
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

	memset(&kp, 0, sizeof(kp));
	kp.entries = SRV_KR_ENTRIES;
	kp.nr_files = cfg->nvols ? cfg->nvols : 1;
	kp.nr_bufs = cfg->max_sessions;
	ret = kr_ring_init(&s->kr, &kp);
	if (ret) {
		log_err("io_uring setup: %s", strerror(-ret));
		return ret;
	}
	ret = srv_open_volumes(s);
	if (ret)
		return ret;
	ret = ctl_listen(cfg, &s->listen_fd);
	if (ret) {
		log_err("socket %s: %s", cfg->socket_path, strerror(-ret));
		return ret;
	}
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
	log_info("ready: %u volumes, %u tenants", s->nvols, cfg->ntenants);
	return 0;
}

void srv_fini(struct srv *s)
{
	unsigned int i;

	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->cfg.socket_path);
	}
	if (s->kr.ring.ring_fd > 0)
		kr_ring_exit(&s->kr);
	for (i = 0; i < s->nvols; i++)
		vol_close(&s->vols[i]);
	if (s->signal_fd >= 0)
		close(s->signal_fd);
	free(s->vols);
	free(s->vvols);
	free(s->usage);
	free(s->sessions);
	free(s->reqs);
	free(s->dirty);
	cfg_free(&s->cfg);
}
