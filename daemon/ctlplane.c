/* SPDX-License-Identifier: MIT */
/* cp_: admission, refusal, control messages and their replies. */
#define _GNU_SOURCE
#include "ctlplane.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "log.h"
#include "sysd.h"

#define CP_ACCEPT_BUDGET   16u	  /* connections accepted (or refused) per pass */
#define CP_CTRL_BUDGET	   8u	  /* control messages per session per turn */
#define CP_PENDING_BUDGET  64u	  /* control messages per pass from the pending list */
#define CP_ACCEPT_RETRY_MS 100u	  /* after EMFILE/ENFILE */
#define CP_SWEEP_MS	   100u	  /* handshake deadline checks */
#define CP_REFUSE_WINDOW   10000u /* refusal log window */
#define CP_REFUSE_LOGGED   5u	  /* refusals logged one by one per window */

int cp_init(struct ctlplane *cp, const struct cfg *cfg, struct sessions *st, struct rings *rg,
	    struct vols *vols, struct reqs *rq, struct usage *use, struct qos *qos,
	    uint64_t listen_tag)
{
	int ret;

	memset(cp, 0, sizeof(*cp));
	cp->cfg = cfg;
	cp->st = st;
	cp->rg = rg;
	cp->vols = vols;
	cp->rq = rq;
	cp->use = use;
	cp->qos = qos;
	cp->lock_fd = -1;
	cp->pending = calloc(st->max, sizeof(*cp->pending));
	if (!cp->pending)
		return -ENOMEM;
	cp->listen_fd = sysd_take_listen_fd();
	if (cp->listen_fd < 0) {
		ret = ctl_listen(cfg, &cp->listen_fd, &cp->lock_fd);
		if (ret) {
			cp->listen_fd = -1;
			log_err("socket %s: %s", cfg->socket_path, strerror(-ret));
			return ret;
		}
		cp->listen_owned = true;
		sysd_fdstore("listen", cp->listen_fd);
	}
	ret = rg_arm_poll(rg, cp->listen_fd, listen_tag);
	if (ret)
		log_err("listening socket poll: %s", strerror(-ret));
	return ret;
}

void cp_stop_listening(struct ctlplane *cp)
{
	if (cp->listen_fd < 0)
		return;
	close(cp->listen_fd);
	cp->listen_fd = -1;
	if (cp->listen_owned)
		unlink(cp->cfg->socket_path);
}

void cp_fini(struct ctlplane *cp)
{
	cp_stop_listening(cp);
	if (cp->lock_fd >= 0)
		close(cp->lock_fd);
	cp->lock_fd = -1;
	free(cp->pending);
	cp->pending = NULL;
}

void cp_listen_event(struct ctlplane *cp, int32_t res, bool more, uint64_t listen_tag)
{
	if (cp->listen_fd < 0)
		return;
	/* Accepting happens in cp_pass(), within its budget. */
	if (res > 0)
		cp->accept_ready = true;
	if (!more && rg_arm_poll(cp->rg, cp->listen_fd, listen_tag))
		log_err("cannot re-arm the listening socket's poll");
}

/*
 * Refuse connection @fd with an Error reply, then hang up: O(1) syscalls.
 * Refusals are counted; a few per window are logged one by one, the rest
 * in one summary line per window.
 */
static void __attribute__((format(printf, 5, 6)))
cp_refuse(struct ctlplane *cp, int fd, const struct ucred *cr, int errnum, const char *fmt, ...)
{
	uint64_t now = clock_now_ms();
	char text[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cp->refused_total++;
	if (now - cp->refused_window_start_ms >= CP_REFUSE_WINDOW && !cp->refused_quiet) {
		cp->refused_window_start_ms = now;
		cp->refused_logged = 0;
	}
	if (cp->refused_logged < CP_REFUSE_LOGGED) {
		cp->refused_logged++;
		log_info("refused pid %d uid %u gid %u: %s", cr ? (int)cr->pid : -1,
			 cr ? (unsigned int)cr->uid : 0u, cr ? (unsigned int)cr->gid : 0u, text);
	} else {
		cp->refused_quiet++;
	}
	ctl_send_error(fd, errnum, "%s", text);
	ctl_hangup(fd);
}

/* Log how many refusals went unlogged in the window that ended. */
static void cp_refusal_summary(struct ctlplane *cp, uint64_t now)
{
	if (!cp->refused_quiet || now - cp->refused_window_start_ms < CP_REFUSE_WINDOW)
		return;
	log_warn("refused %llu more connections in the last %llu s (rate-limited: not logged one "
		 "by one; %llu refused since start)",
		 (unsigned long long)cp->refused_quiet,
		 (unsigned long long)((now - cp->refused_window_start_ms) / 1000),
		 (unsigned long long)cp->refused_total);
	cp->refused_quiet = 0;
	cp->refused_logged = 0;
	cp->refused_window_start_ms = now;
}

/* Connections of @uid still without a Hello. */
static unsigned int cp_handshakes_of(const struct ctlplane *cp, uid_t uid)
{
	unsigned int n = 0;
	uint32_t i;

	for (i = 0; i < cp->st->max; i++) {
		const struct sess *se = cp->st->slot[i];

		if (se && se->state == SESS_HANDSHAKE && se->uid == uid)
			n++;
	}
	return n;
}

/* Admit or refuse one accepted connection. */
static void cp_admit(struct ctlplane *cp, int fd)
{
	const struct cfg *c = cp->cfg;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct sess *se;
	int tenant, ret;

	/* Identity comes from the kernel, never from what the client says. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		cp_refuse(cp, fd, NULL, EPROTO, "SO_PEERCRED: %s", strerror(errno));
		return;
	}
	tenant = cfg_tenant_for(c, cred.uid, cred.gid);
	if (tenant < 0 && cred.uid != 0) {
		cp_refuse(cp, fd, &cred, EACCES, "uid %u (gid %u) is not a tenant of this daemon",
			  (unsigned int)cred.uid, (unsigned int)cred.gid);
		return;
	}
	if (tenant >= 0 && use_get(cp->use, tenant).sessions >= c->tenants[tenant].max_sessions) {
		cp_refuse(cp, fd, &cred, EDQUOT, "tenant %s already has max_sessions = %u sessions",
			  c->tenants[tenant].name, c->tenants[tenant].max_sessions);
		return;
	}
	/* Root is the operator, not an untrusted local user: not capped here. */
	if (cred.uid != 0 && cp->st->handshaking >= c->max_handshakes_per_uid &&
	    cp_handshakes_of(cp, cred.uid) >= c->max_handshakes_per_uid) {
		cp_refuse(cp, fd, &cred, EAGAIN,
			  "uid %u already has max_handshakes_per_uid = %u connections without "
			  "a Hello",
			  (unsigned int)cred.uid, c->max_handshakes_per_uid);
		return;
	}
	ret = sess_new(cp->st, fd, cred.pid, cred.uid, cred.gid, tenant, &se);
	if (ret) {
		cp_refuse(cp, fd, &cred, -ret, "the daemon serves its maximum of %u sessions",
			  c->max_sessions);
		return;
	}
	/* Root (the operator) is trusted not to hold connections idle. */
	se->deadline_ms = cred.uid ? clock_now_ms() + c->handshake_timeout_ms : UINT64_MAX;
	log_debug("session %llu: pid %d uid %u tenant %s", (unsigned long long)se->id, (int)se->pid,
		  (unsigned int)se->uid, tenant >= 0 ? c->tenants[tenant].name : "(admin?)");
}

/*
 * Accept up to a budget of connections. The multishot poll on the
 * listening socket fires on new arrivals only, so accept_ready stays set
 * while the budget ran out with connections maybe still queued, and after
 * EMFILE/ENFILE, when accept is retried every CP_ACCEPT_RETRY_MS (queued
 * clients are served as soon as fds free up, without a new arrival).
 */
static unsigned int cp_accept(struct ctlplane *cp, uint64_t now)
{
	unsigned int i;

	if (!cp->accept_ready || cp->listen_fd < 0 ||
	    (cp->fd_exhausted && now < cp->accept_retry_ms))
		return 0;
	for (i = 0; i < CP_ACCEPT_BUDGET; i++) {
		int fd = accept4(cp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				if (!cp->fd_exhausted)
					log_warn(
					    "accept: %s: waiting clients are accepted once fds "
					    "free up (retrying every %u ms)",
					    strerror(errno), CP_ACCEPT_RETRY_MS);
				cp->fd_exhausted = true;
				cp->accept_retry_ms = now + CP_ACCEPT_RETRY_MS;
				return i;
			}
			if (errno == EAGAIN || errno == EINTR)
				cp->accept_ready = false;
			else if (errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return i;
		}
		if (cp->fd_exhausted) {
			cp->fd_exhausted = false;
			log_info("accept: fds are free again; serving the waiting clients");
		}
		cp_admit(cp, fd);
	}
	return i;
}

static void cp_fill_stats(const struct ctlplane *cp, const struct sess *se, Ringd__Stats *st)
{
	if (se->admin) {
		st->has_sessions = st->has_buffers_registered = st->has_files_registered = 1;
		st->has_requests_inflight = 1;
		st->sessions = cp->st->n;
		st->buffers_registered = rg_bufs_registered(cp->rg);
		st->files_registered = rg_files_registered(cp->rg);
		st->requests_inflight = cp->rq->inflight;
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

/* Tenant class @c's figures into @ts (@name: its name, "" for no tenant). */
static void cp_fill_tenant(const struct ctlplane *cp, unsigned int c, Ringd__TenantStats *ts)
{
	static const uint64_t scale = 1000000000ull; /* nano-tokens per token */
	const struct qos_tenant *t = &cp->qos->t[c];
	struct tenant_usage u = use_get(cp->use, c < cp->qos->n ? (int)c : -1);
	protobuf_c_boolean *has[QB_COUNT] = {
		&ts->has_qos_tokens_iops,	&ts->has_qos_tokens_read_iops,
		&ts->has_qos_tokens_write_iops, &ts->has_qos_tokens_bw,
		&ts->has_qos_tokens_read_bw,	&ts->has_qos_tokens_write_bw,
	};
	int64_t *val[QB_COUNT] = {
		&ts->qos_tokens_iops, &ts->qos_tokens_read_iops, &ts->qos_tokens_write_iops,
		&ts->qos_tokens_bw,   &ts->qos_tokens_read_bw,	 &ts->qos_tokens_write_bw,
	};
	uint64_t throttled = t->throttled_ns;
	int i;

	if (t->throttled_since_ns)
		throttled += clock_now_ns() - t->throttled_since_ns;
	ts->name = (char *)t->name;
	ts->has_sessions = ts->has_inflight = ts->has_qos_weight = 1;
	ts->has_qos_reserve_iops = ts->has_qos_units = ts->has_qos_reserved_units = 1;
	ts->has_qos_delayed = ts->has_qos_throttled_us = 1;
	ts->sessions = u.sessions;
	ts->inflight = u.inflight;
	ts->qos_weight = t->weight;
	ts->qos_reserve_iops = t->reserve;
	ts->qos_units = t->units;
	ts->qos_reserved_units = t->reserved_units;
	ts->qos_delayed = t->delayed;
	ts->qos_throttled_us = throttled / 1000;
	for (i = 0; i < QB_COUNT; i++) {
		if (!t->b[i].rate)
			continue;
		*has[i] = 1;
		*val[i] = t->b[i].level / (int64_t)scale;
	}
}

static int cp_send_stats(struct ctlplane *cp, struct sess *se)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Stats st = RINGD__STATS__INIT;
	Ringd__TenantStats *ts = NULL, **tp = NULL;
	unsigned int n = 0, c;
	int ret;

	cp_fill_stats(cp, se, &st);
	r.msg_case = RINGD__REPLY__MSG_STATS;
	r.stats = &st;
	if (se->admin) {
		ts = calloc(cp->qos->n + 1, sizeof(*ts));
		tp = calloc(cp->qos->n + 1, sizeof(*tp));
		if (!ts || !tp) {
			free(ts);
			free(tp);
			return ctl_send_error(se->sock, ENOMEM, "out of memory");
		}
		st.tenants = tp;
		/* As many tenants as fit in one message, in config order. */
		for (c = 0; c <= cp->qos->n; c++) {
			ringd__tenant_stats__init(&ts[c]);
			cp_fill_tenant(cp, c, &ts[c]);
			tp[n] = &ts[c];
			st.n_tenants = ++n;
			if (ringd__reply__get_packed_size(&r) > CTL_MAX_MSG) {
				st.n_tenants = --n;
				st.has_tenants_truncated = st.tenants_truncated = 1;
				break;
			}
		}
	}
	ret = ctl_send(se->sock, &r, NULL, 0);
	free(ts);
	free(tp);
	return ret;
}

/* Answer a Hello. Returns 0, or -errno after which the session is closed. */
static int cp_hello(struct ctlplane *cp, struct sess *se, const Ringd__Hello *h)
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
		if (se->uid != 0) {
			ctl_send_error(se->sock, EPERM, "admin connections are for root only");
			return -EPERM;
		}
		sess_admin(cp->st, se);
		return cp_send_stats(cp, se);
	}
	ret = sess_attach(cp->st, se, h, err, sizeof(err));
	if (ret) {
		log_info("session %llu (uid %u): attach refused: %s", (unsigned long long)se->id,
			 (unsigned int)se->uid, err);
		ctl_send_error(se->sock, -ret, "%s", err);
		return ret;
	}
	log_info("session %llu: pid %d uid %u tenant %s: sq %u cq %u data %llu",
		 (unsigned long long)se->id, (int)se->pid, (unsigned int)se->uid,
		 cp->cfg->tenants[se->tenant].name, se->sq_entries, se->cq_entries,
		 (unsigned long long)se->data_size);
	return 0;
}

static int cp_open(struct ctlplane *cp, struct sess *se, const Ringd__OpenVolume *op)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Opened o = RINGD__OPENED__INIT;
	const struct vol *v;
	char err[512];
	int handle, ret;

	if (se->admin)
		return ctl_send_error(se->sock, EPERM, "admin connections open no volumes");
	if (se->state == SESS_BROKEN)
		return ctl_send_error(se->sock, EPIPE, "session is broken (reason %u)",
				      se->broken_reason);
	ret = sess_handle_open(cp->st, se, op->name, op->flags, &handle, err, sizeof(err));
	if (ret)
		return ctl_send_error(se->sock, -ret, "%s", err);
	v = vols_get(cp->vols, se->handles[handle].vol);
	o.handle = handle;
	o.size = v->v.size;
	o.block_size = v->block_size;
	o.align = v->v.align;
	o.flags = (v->direct ? RINGD_VOL_DIRECT : 0) | (v->v.readonly ? RINGD_VOL_READONLY : 0) |
		  (v->blockdev ? RINGD_VOL_BLOCKDEV : 0);
	r.msg_case = RINGD__REPLY__MSG_OPENED;
	r.opened = &o;
	return ctl_send(se->sock, &r, NULL, 0);
}

int cp_request(struct ctlplane *cp, struct sess *se, const Ringd__Request *rq)
{
	Ringd__Reply r = RINGD__REPLY__INIT;

	if (rq->msg_case == RINGD__REQUEST__MSG_HELLO)
		return cp_hello(cp, se, rq->hello);
	if (se->state == SESS_HANDSHAKE) {
		ctl_send_error(se->sock, EPROTO, "the first message must be Hello");
		return -EPROTO;
	}
	switch (rq->msg_case) {
	case RINGD__REQUEST__MSG_OPEN:
		return cp_open(cp, se, rq->open);
	case RINGD__REQUEST__MSG_CLOSE: {
		Ringd__Closed c = RINGD__CLOSED__INIT;

		if (se->admin || sess_handle_close(cp->st, se, rq->close->handle))
			return ctl_send_error(se->sock, EBADF, "handle %d is not open",
					      rq->close->handle);
		r.msg_case = RINGD__REPLY__MSG_CLOSED;
		r.closed = &c;
		return ctl_send(se->sock, &r, NULL, 0);
	}
	case RINGD__REQUEST__MSG_STATS:
		return cp_send_stats(cp, se);
	default:
		ctl_send_error(se->sock, EPROTO, "unknown request");
		return -EPROTO;
	}
}

/*
 * Handle up to @budget queued control messages of @se. Returns how many
 * were handled; *@more is set if the budget ran out before the queue did.
 */
static unsigned int cp_read(struct ctlplane *cp, struct sess *se, unsigned int budget, bool *more)
{
	unsigned int i;

	*more = false;
	for (i = 0; i < budget; i++) {
		Ringd__Request *rq;
		int ret;

		if (se->state == SESS_CLOSING || se->state == SESS_FREED || se->sock < 0)
			return i;
		ret = ctl_recv(se->sock, &rq);
		if (ret == -EAGAIN || ret == -EINTR)
			return i;
		if (ret) {
			if (ret != -ECONNRESET) {
				log_info("session %llu (pid %d uid %u): bad control message: %s",
					 (unsigned long long)se->id, (int)se->pid,
					 (unsigned int)se->uid, strerror(-ret));
				ctl_send_error(se->sock, -ret, "malformed control message: %s",
					       strerror(-ret));
			}
			sess_close(cp->st, se);
			return i + 1;
		}
		ret = cp_request(cp, se, rq);
		ringd__request__free_unpacked(rq, NULL);
		if (ret) {
			/* Includes a reply the client could not take at once. */
			sess_close(cp->st, se);
			return i + 1;
		}
	}
	*more = true;
	return i;
}

/* Remember that @se has control messages left over. */
static void cp_defer(struct ctlplane *cp, struct sess *se)
{
	if (se->ctrl_pending || cp->npending == cp->st->max)
		return;
	se->ctrl_pending = true;
	cp->pending[cp->npending].slot = se->slot;
	cp->pending[cp->npending].id = se->id;
	cp->npending++;
}

void cp_readable(struct ctlplane *cp, struct sess *se, int32_t revents)
{
	bool more;

	if (se->ctrl_pending)
		return; /* its turn comes in cp_pass(), in order */
	cp_read(cp, se, CP_CTRL_BUDGET, &more);
	if (more)
		cp_defer(cp, se);
	else if (se->state != SESS_CLOSING && se->state != SESS_FREED &&
		 (revents & (POLLHUP | POLLERR)) && !(revents & POLLIN))
		sess_close(cp->st, se);
}

/* Serve the sessions with control messages left over, within a budget. */
static unsigned int cp_serve_pending(struct ctlplane *cp)
{
	uint32_t i, keep = 0, n = cp->npending;
	unsigned int work = 0;

	for (i = 0; i < n; i++) {
		struct cp_pending p = cp->pending[i];
		struct sess *se = sess_at(cp->st, p.slot);
		bool more = false;

		if (!se || se->id != p.id)
			continue;
		if (work < CP_PENDING_BUDGET) {
			work += cp_read(cp, se, CP_CTRL_BUDGET, &more);
		} else {
			more = true;
		}
		if (more && se->state != SESS_CLOSING && se->state != SESS_FREED)
			cp->pending[keep++] = p;
		else
			se->ctrl_pending = false;
	}
	cp->npending = keep;
	return work;
}

/* Close the connections that sent no Hello within handshake_timeout. */
static void cp_sweep_handshakes(struct ctlplane *cp, uint64_t now)
{
	uint32_t i;

	if (!cp->st->handshaking || now < cp->next_sweep_ms)
		return;
	cp->next_sweep_ms = now + CP_SWEEP_MS;
	for (i = 0; i < cp->st->max && cp->st->handshaking; i++) {
		struct sess *se = cp->st->slot[i];

		if (!se || se->state != SESS_HANDSHAKE || now < se->deadline_ms)
			continue;
		log_debug("session %llu (pid %d uid %u): no Hello within %u ms",
			  (unsigned long long)se->id, (int)se->pid, (unsigned int)se->uid,
			  cp->cfg->handshake_timeout_ms);
		ctl_send_error(se->sock, ETIMEDOUT, "no Hello within handshake_timeout (%u ms)",
			       cp->cfg->handshake_timeout_ms);
		sess_close(cp->st, se);
	}
}

unsigned int cp_pass(struct ctlplane *cp, uint64_t now_ms)
{
	unsigned int work = cp_accept(cp, now_ms);

	if (cp->npending)
		work += cp_serve_pending(cp);
	cp_sweep_handshakes(cp, now_ms);
	cp_refusal_summary(cp, now_ms);
	/* Still queued work: the loop comes back without sleeping. */
	if ((cp->accept_ready && !cp->fd_exhausted && cp->listen_fd >= 0) || cp->npending)
		work++;
	return work;
}

uint64_t cp_sleep_limit_ms(const struct ctlplane *cp, uint64_t now_ms)
{
	uint64_t limit = UINT64_MAX;

	if (cp->fd_exhausted)
		limit = cp->accept_retry_ms > now_ms ? cp->accept_retry_ms - now_ms : 0;
	if (cp->st->handshaking && limit > CP_SWEEP_MS)
		limit = CP_SWEEP_MS;
	return limit;
}
