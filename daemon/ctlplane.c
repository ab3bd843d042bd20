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
#include <sys/types.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "log.h"
#include "nsops.h"
#include "metrics.h"
#include "sysd.h"

#define CP_ACCEPT_BUDGET   16u	 /* connections accepted (or refused) per pass */
#define CP_CTRL_BUDGET	   8u	 /* control messages per session per turn */
#define CP_PENDING_BUDGET  64u	 /* control messages per pass from the pending list */
#define CP_ACCEPT_RETRY_MS 100u	 /* after EMFILE/ENFILE */
#define CP_SWEEP_MS	   100u	 /* handshake deadline checks */
#define CP_REFUSE_LOGGED   5u	 /* refusals logged one by one per window */
#define CP_MX_CHUNK	   3800u /* exposition bytes per METRICS reply */

#ifndef RINGD_PROJECT_VERSION
#define RINGD_PROJECT_VERSION "unknown"
#endif

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
	cp->start_ms = clock_now_ms();
	cp->refused = (struct log_limit)LOG_LIMIT("connections refused", CP_REFUSE_LOGGED,
						  LOG_LIMIT_WINDOW_MS);
	cp->attached =
	    (struct log_limit)LOG_LIMIT("sessions attached", LOG_LIMIT_BURST, LOG_LIMIT_WINDOW_MS);
	cp->attach_refused =
	    (struct log_limit)LOG_LIMIT("attaches refused", LOG_LIMIT_BURST, LOG_LIMIT_WINDOW_MS);
	cp->malformed = (struct log_limit)LOG_LIMIT("malformed control messages", LOG_LIMIT_BURST,
						    LOG_LIMIT_WINDOW_MS);
	cp->pending = calloc(st->max, sizeof(*cp->pending));
	if (!cp->pending)
		return -ENOMEM;
	ret = ns_start(&cp->ns);
	if (ret) {
		log_err("namespace worker: %s", strerror(-ret));
		return ret;
	}
	st->ns = &cp->ns;
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
	if (cp->st)
		cp->st->ns = NULL;
	ns_stop(&cp->ns);
	if (cp->lock_fd >= 0)
		close(cp->lock_fd);
	cp->lock_fd = -1;
	free(cp->pending);
	cp->pending = NULL;
	free(cp->mx_text);
	cp->mx_text = NULL;
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
	if (log_limit_take(&cp->refused, now))
		log_info("refused pid %d uid %u gid %u: %s", cr ? (int)cr->pid : -1,
			 cr ? (unsigned int)cr->uid : 0u, cr ? (unsigned int)cr->gid : 0u, text);
	ctl_send_error(fd, errnum, "%s", text);
	ctl_hangup(fd);
}

/* Log how many of each kind went unlogged in the window that ended. */
static void cp_log_summaries(struct ctlplane *cp, uint64_t now)
{
	log_limit_flush(&cp->refused, now);
	log_limit_flush(&cp->attached, now);
	log_limit_flush(&cp->attach_refused, now);
	log_limit_flush(&cp->malformed, now);
	log_limit_flush(&cp->st->broken_log, now);
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

/*
 * Is the peer of @fd (@uid, primary @gid from SO_PEERCRED) an operator:
 * root, or a member of [daemon] admin_group? Supplementary groups come
 * from SO_PEERGROUPS: the kernel's copy of the peer's credentials at
 * connect(), like SO_PEERCRED. Not /proc/PID/status (the pid may have
 * exited and been reused) nor getgrouplist() (the group database, not the
 * process, and an NSS lookup that can block the loop).
 */
static bool cp_is_admin(const struct ctlplane *cp, int fd, uid_t uid, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);
	unsigned int i;

	if (uid == 0)
		return true;
	if (!cp->cfg->has_admin_group)
		return false;
	if (gid == cp->cfg->admin_group)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false; /* ERANGE: over 256 groups; refused rather than guessed */
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == cp->cfg->admin_group)
			return true;
	return false;
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
	if (tenant < 0 && !cp_is_admin(cp, fd, cred.uid, cred.gid)) {
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
		st->has_requests_inflight = st->has_sessions_cold = 1;
		st->sessions = cp->st->n;
		st->sessions_cold = cp->st->ncold;
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

static int cp_hello_region(struct ctlplane *cp, struct sess *se);
static int cp_hello_answered(struct ctlplane *cp, struct sess *se, int ret, const char *err);

/* Answer a Hello. Returns 0, or -errno after which the session is closed. */
static int cp_hello(struct ctlplane *cp, struct sess *se, const Ringd__Hello *h)
{
	char err[512];
	int ret;

	if (se->state != SESS_HANDSHAKE || se->ns_busy) {
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
		if (!cp_is_admin(cp, se->sock, se->uid, se->gid)) {
			ctl_send_error(se->sock, EPERM,
				       "admin connections are for root and members of [daemon] "
				       "admin_group (uid %u gid %u is neither)",
				       (unsigned int)se->uid, (unsigned int)se->gid);
			return -EPERM;
		}
		sess_admin(cp->st, se);
		return cp_send_stats(cp, se);
	}
	ret = sess_attach_layout(cp->st, se, h, err, sizeof(err));
	if (!ret && se->layout.region_size >= SESS_REGION_ASYNC)
		return cp_hello_region(cp, se);
	if (!ret)
		ret = sess_attach(cp->st, se, h, err, sizeof(err));
	return cp_hello_answered(cp, se, ret, err);
}

/*
 * Have the namespace worker make @se's shared memory (H51): making the
 * pages of a large region takes milliseconds, which other tenants' I/O
 * must not wait for. The session reads no more control messages until
 * cp_hello_made() has its memory; the tenant takes turns with the others
 * there, one job at a time, like its namespace calls.
 */
static int cp_hello_region(struct ctlplane *cp, struct sess *se)
{
	struct ns_job *j = ns_job_new(NS_REGION);

	if (!j) {
		ctl_send_error(se->sock, ENOMEM, "out of memory");
		return -ENOMEM;
	}
	j->size = se->layout.region_size;
	j->slot = se->slot;
	j->sid = se->id;
	j->owner = se->tenant;
	j->tag = qos_ns_tag(cp->qos, se->tenant, ns_vclock(&cp->ns));
	se->ns_busy = true;
	ns_submit(&cp->ns, j);
	return 0;
}

void cp_hello_made(struct ctlplane *cp, struct sess *se, struct ns_job *j)
{
	char err[512];
	int ret = j->res;

	se->ns_busy = false;
	if (ret) {
		snprintf(err, sizeof(err), "%.*s", (int)sizeof(err) - 1, j->msg);
	} else if (se->state != SESS_HANDSHAKE) {
		/* Closed or broken meanwhile: the job keeps the memory to free. */
		return;
	} else {
		ret = sess_attach_region(cp->st, se, j->fd, j->map, err, sizeof(err));
		j->fd = -1;
		j->map = NULL;
	}
	if (cp_hello_answered(cp, se, ret, err))
		sess_close(cp->st, se);
	else
		cp_resume(cp, se);
}

/* Log and answer an attach that failed with @ret (@err says why), or log
 * one that worked. Returns @ret. */
static int cp_hello_answered(struct ctlplane *cp, struct sess *se, int ret, const char *err)
{
	if (ret) {
		if (log_limit_take(&cp->attach_refused, clock_now_ms()))
			log_info("session %llu (uid %u): attach refused: %s",
				 (unsigned long long)se->id, (unsigned int)se->uid, err);
		ctl_send_error(se->sock, -ret, "%s", err);
		return ret;
	}
	if (log_limit_take(&cp->attached, clock_now_ms()))
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

/* Fill @l for op class @name from @h. */
static void cp_latency(Ringd__Latency *l, const char *name, const struct fig_hist *h)
{
	l->op = (char *)name;
	l->has_count = l->has_sum_ns = l->has_p50_ns = l->has_p99_ns = l->has_p999_ns = 1;
	l->count = h->count;
	l->sum_ns = h->sum_ns;
	l->p50_ns = fig_quantile(h, 0.50);
	l->p99_ns = fig_quantile(h, 0.99);
	l->p999_ns = fig_quantile(h, 0.999);
}

/* A tenant session: its tenant's totals, summed over its sessions ever. */
static int cp_tenant_stats(struct ctlplane *cp, struct sess *se)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Stats st = RINGD__STATS__INIT;
	const struct fig_tenant *t;
	struct tenant_usage u;
	unsigned int k;

	if (se->admin || se->tenant < 0 || (unsigned int)se->tenant >= cp->cfg->ntenants)
		return ctl_send_error(se->sock, EPERM, "tenant figures need a tenant session");
	if (!cp->fig || cp->fig->off || !cp->fig->t)
		return ctl_send_error(
		    se->sock, ENODATA,
		    "the daemon keeps no tenant figures ([daemon] figures = off)");
	t = &cp->fig->t[fig_class(cp->fig, se->tenant)];
	u = use_get(cp->use, se->tenant);
	st.has_submitted = st.has_completed = st.has_errors = st.has_rejected = 1;
	st.has_bytes_read = st.has_bytes_written = st.has_inflight = st.has_sessions = 1;
	for (k = 0; k < FIG_NOPS; k++)
		st.completed += t->ops[k];
	st.submitted = st.completed + t->rejected + u.inflight;
	st.errors = t->errors;
	st.rejected = t->rejected;
	st.bytes_read = t->bytes_read;
	st.bytes_written = t->bytes_written;
	st.inflight = u.inflight;
	st.sessions = u.sessions;
	r.msg_case = RINGD__REPLY__MSG_STATS;
	r.stats = &st;
	return ctl_send(se->sock, &r, NULL, 0);
}

/* A tenant session: the volumes its tenant may open, one page from @lv->offset. */
static int cp_list_volumes(struct ctlplane *cp, struct sess *se, const Ringd__ListVolumes *lv)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__VolumeList vl = RINGD__VOLUME_LIST__INIT;
	const struct cfg_tenant *t = NULL;
	char **names = NULL;
	unsigned int i, n = 0, ngrants = 0;
	int ret;

	if (!se->admin && se->tenant >= 0 && (unsigned int)se->tenant < cp->cfg->ntenants) {
		t = &cp->cfg->tenants[se->tenant];
		ngrants = t->ngrants;
	}
	if (ngrants) {
		names = calloc(ngrants, sizeof(*names));
		if (!names)
			return ctl_send_error(se->sock, ENOMEM, "out of memory");
	}
	r.msg_case = RINGD__REPLY__MSG_VOLUMES;
	r.volumes = &vl;
	vl.names = names;
	vl.has_next_offset = vl.has_more = 1;
	for (i = lv->has_offset ? lv->offset : 0; i < ngrants; i++) {
		names[n] = cp->cfg->vols[t->grants[i].vol].name;
		vl.n_names = ++n;
		if (ringd__reply__get_packed_size(&r) > CTL_MAX_MSG) {
			vl.n_names = --n;
			break;
		}
	}
	vl.next_offset = i;
	vl.more = i < ngrants;
	ret = ctl_send(se->sock, &r, NULL, 0);
	free(names);
	return ret;
}

static const char *cp_vol_path(const struct vol *v)
{
	if (v->passthrough)
		return v->polled ? "passthrough-polled" : "passthrough";
	return v->polled ? "polled" : "interrupt";
}

static const char *cp_state_name(const struct sess *se)
{
	if (se->admin)
		return "admin";
	switch (se->state) {
	case SESS_HANDSHAKE:
		return "handshake";
	case SESS_ACTIVE:
		return "active";
	case SESS_BROKEN:
		return "broken";
	default:
		return "closing";
	}
}

static void cp_status(const struct ctlplane *cp, Ringd__StatusInfo *si)
{
	si->version = (char *)RINGD_PROJECT_VERSION;
	si->config = (char *)cp->cfg->path;
	si->has_uptime_ms = si->has_volumes = si->has_sessions = si->has_requests_inflight = 1;
	si->has_tenants = si->has_figures = 1;
	si->uptime_ms = clock_now_ms() - cp->start_ms;
	si->volumes = cp->vols->live;
	si->sessions = cp->st->n;
	si->requests_inflight = cp->rq->inflight;
	si->tenants = cp->cfg->ntenants;
	si->figures = cp->fig && !cp->fig->off;
	if (cp->fig) {
		si->has_completions_interrupt = si->has_completions_polled = 1;
		si->has_completions_passthrough = si->has_completions_passthrough_polled = 1;
		si->completions_interrupt = cp->fig->path_ops[PATH_INTR];
		si->completions_polled = cp->fig->path_ops[PATH_POLL];
		si->completions_passthrough = cp->fig->path_ops[PATH_PT];
		si->completions_passthrough_polled = cp->fig->path_ops[PATH_PT_POLL];
	}
	if (cp->rl) {
		si->has_reloads_applied = si->has_reloads_refused = 1;
		si->reloads_applied = cp->rl->applied;
		si->reloads_refused = cp->rl->refused;
	}
}

/* Everything one page of an admin list points to. */
#define CP_PAGE_MAX 256u

struct cp_page {
	Ringd__TenantFigures *tf;
	Ringd__SessionInfo *si;
	Ringd__VolumeFigures *vf;
	Ringd__Latency *lat;
	Ringd__Latency **lp;
	void **list;
};

static int cp_page_alloc(struct cp_page *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->tf = calloc(CP_PAGE_MAX, sizeof(*pg->tf));
	pg->si = calloc(CP_PAGE_MAX, sizeof(*pg->si));
	pg->vf = calloc(CP_PAGE_MAX, sizeof(*pg->vf));
	pg->lat = calloc(CP_PAGE_MAX * FIG_NOPS, sizeof(*pg->lat));
	pg->lp = calloc(CP_PAGE_MAX * FIG_NOPS, sizeof(*pg->lp));
	pg->list = calloc(CP_PAGE_MAX, sizeof(*pg->list));
	return pg->tf && pg->si && pg->vf && pg->lat && pg->lp && pg->list ? 0 : -ENOMEM;
}

static void cp_page_free(struct cp_page *pg)
{
	free(pg->tf);
	free(pg->si);
	free(pg->vf);
	free(pg->lat);
	free(pg->lp);
	free(pg->list);
}

/* Tenant class @c's figures into @tf (latencies from @lat, pointers in @lp). */
static void cp_tenant_figures(const struct ctlplane *cp, unsigned int c, Ringd__TenantFigures *tf,
			      Ringd__Latency *lat, Ringd__Latency **lp)
{
	static const uint64_t zero_ops[FIG_NOPS];
	const struct fig_tenant *ft =
	    cp->fig && cp->fig->t && c <= cp->fig->n ? &cp->fig->t[c] : NULL;
	struct tenant_usage u = use_get(cp->use, c < cp->cfg->ntenants ? (int)c : -1);
	const uint64_t *ops = ft ? ft->ops : zero_ops;
	unsigned int k;

	ringd__tenant_figures__init(tf);
	tf->name = c < cp->cfg->ntenants ? (char *)cp->cfg->tenants[c].name : (char *)"";
	tf->has_sessions = tf->has_inflight = tf->has_reads = tf->has_writes = 1;
	tf->has_flushes = tf->has_others = tf->has_bytes_read = tf->has_bytes_written = 1;
	tf->has_errors = tf->has_rejected = 1;
	tf->sessions = u.sessions;
	tf->inflight = u.inflight;
	tf->reads = ops[FIG_READ];
	tf->writes = ops[FIG_WRITE];
	tf->flushes = ops[FIG_FLUSH];
	tf->others = ops[FIG_OTHER];
	if (ft) {
		tf->bytes_read = ft->bytes_read;
		tf->bytes_written = ft->bytes_written;
		tf->errors = ft->errors;
		tf->rejected = ft->rejected;
		for (k = 0; k < FIG_NOPS; k++) {
			ringd__latency__init(&lat[k]);
			cp_latency(&lat[k], fig_op_name(k), &ft->lat[k]);
			lp[k] = &lat[k];
		}
		tf->latency = lp;
		tf->n_latency = FIG_NOPS;
	}
	if (c <= cp->qos->n) {
		const struct qos_tenant *q = &cp->qos->t[c];
		uint64_t ns = q->throttled_ns;

		if (q->throttled_since_ns)
			ns += clock_now_ns() - q->throttled_since_ns;
		tf->has_qos_units = tf->has_qos_throttled_us = tf->has_qos_delayed = 1;
		tf->qos_units = q->units;
		tf->qos_throttled_us = ns / 1000;
		tf->qos_delayed = q->delayed;
	}
}

static void cp_session_info(const struct ctlplane *cp, const struct sess *se,
			    Ringd__SessionInfo *si)
{
	ringd__session_info__init(si);
	si->id = se->id;
	si->has_pid = si->has_uid = si->has_handles = si->has_inflight = si->has_ops = 1;
	si->has_bytes = si->has_broken_reason = si->has_errors = si->has_rejected = 1;
	si->pid = se->pid;
	si->uid = se->uid;
	si->tenant = se->tenant >= 0 && (unsigned int)se->tenant < cp->cfg->ntenants
			 ? (char *)cp->cfg->tenants[se->tenant].name
			 : (char *)"";
	si->handles = se->handles_open;
	si->inflight = se->inflight;
	si->ops = se->stats.completed;
	si->bytes = se->stats.bytes_read + se->stats.bytes_written;
	si->state = (char *)cp_state_name(se);
	si->broken_reason = se->broken_reason;
	si->errors = se->stats.errors;
	si->rejected = se->stats.rejected;
}

static void cp_volume_figures(const struct ctlplane *cp, unsigned int i, Ringd__VolumeFigures *vf,
			      Ringd__Latency *lat)
{
	const struct vol *v = &cp->vols->v[i];
	const struct fig_volume *fv = cp->fig && i < cp->fig->nvols ? &cp->fig->v[i] : NULL;
	unsigned int k;

	ringd__volume_figures__init(vf);
	vf->name = (char *)v->name;
	vf->backing = (char *)v->path;
	vf->path = (char *)cp_vol_path(v);
	vf->has_offset = vf->has_size = vf->has_ops = vf->has_bytes_read = 1;
	vf->has_bytes_written = vf->has_errors = vf->has_removed = 1;
	vf->offset = cp->vols->vv[i].base;
	vf->size = v->v.size;
	vf->removed = cp->vols->vv[i].removed;
	if (fv) {
		for (k = 0; k < FIG_NOPS; k++)
			vf->ops += fv->ops[k];
		vf->bytes_read = fv->bytes_read;
		vf->bytes_written = fv->bytes_written;
		vf->errors = fv->errors;
		ringd__latency__init(lat);
		cp_latency(lat, "all", &fv->lat);
		vf->latency = lat;
	}
}

/* Does a page of @n entries fit in one message? (sets the counts) */
static bool cp_admin_fits(const Ringd__Reply *r, Ringd__AdminReply *ar, size_t n)
{
	if (ar->tenants)
		ar->n_tenants = n;
	else if (ar->sessions)
		ar->n_sessions = n;
	else if (ar->volumes)
		ar->n_volumes = n;
	return ringd__reply__get_packed_size(r) <= CTL_MAX_MSG;
}

/* One page of TENANTS, SESSIONS or VOLUMES from the request's offset. */
static int cp_admin_list(struct ctlplane *cp, struct sess *se, const Ringd__Admin *a)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__AdminReply ar = RINGD__ADMIN_REPLY__INIT;
	uint32_t i = a->has_offset ? a->offset : 0, end;
	struct cp_page pg;
	size_t n = 0;
	int ret;

	if (cp_page_alloc(&pg)) {
		cp_page_free(&pg);
		return ctl_send_error(se->sock, ENOMEM, "out of memory");
	}
	r.msg_case = RINGD__REPLY__MSG_ADMIN;
	r.admin = &ar;
	ar.has_next_offset = ar.has_more = 1;
	switch (a->kind) {
	case RINGD__ADMIN__KIND__TENANTS:
		end = cp->cfg->ntenants + 1;
		ar.tenants = (Ringd__TenantFigures **)pg.list;
		break;
	case RINGD__ADMIN__KIND__SESSIONS:
		end = cp->st->max;
		ar.sessions = (Ringd__SessionInfo **)pg.list;
		break;
	default:
		end = cp->vols->n;
		ar.volumes = (Ringd__VolumeFigures **)pg.list;
		break;
	}
	for (; i < end && n < CP_PAGE_MAX; i++) {
		if (a->kind == RINGD__ADMIN__KIND__TENANTS) {
			cp_tenant_figures(cp, i, &pg.tf[n], &pg.lat[n * FIG_NOPS],
					  &pg.lp[n * FIG_NOPS]);
			pg.list[n] = &pg.tf[n];
		} else if (a->kind == RINGD__ADMIN__KIND__SESSIONS) {
			const struct sess *s2 = cp->st->slot[i];

			if (!s2)
				continue;
			cp_session_info(cp, s2, &pg.si[n]);
			pg.list[n] = &pg.si[n];
		} else {
			if (!vols_get(cp->vols, i) || !cp->vols->v[i].name[0])
				continue;
			cp_volume_figures(cp, i, &pg.vf[n], &pg.lat[n]);
			pg.list[n] = &pg.vf[n];
		}
		if (!cp_admin_fits(&r, &ar, n + 1))
			break;
		n++;
	}
	cp_admin_fits(&r, &ar, n);
	ar.next_offset = i;
	ar.more = i < end;
	ret = ctl_send(se->sock, &r, NULL, 0);
	cp_page_free(&pg);
	return ret;
}

/* One chunk of the exposition: rendered afresh at offset 0, then paged
 * from that snapshot by the same session. */
static int cp_admin_metrics(struct ctlplane *cp, struct sess *se, uint32_t off)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__AdminReply ar = RINGD__ADMIN_REPLY__INIT;
	struct mx_src src = {
		.cfg = cp->cfg,
		.fig = cp->fig,
		.qos = cp->qos,
		.use = cp->use,
		.vols = cp->vols,
		.st = cp->st,
		.rq = cp->rq,
		.start_ms = cp->start_ms,
	};
	char chunk[CP_MX_CHUNK + 1];
	size_t n;

	if (!cp->fig)
		return ctl_send_error(se->sock, ENODATA, "no figures in this daemon");
	if (!off || cp->mx_owner != se->id || !cp->mx_text) {
		free(cp->mx_text);
		cp->mx_text = NULL;
		cp->mx_owner = 0;
		if (mx_render(&src, &cp->mx_text, &cp->mx_len))
			return ctl_send_error(se->sock, ENOMEM, "out of memory");
		cp->mx_owner = se->id;
	}
	if (off > cp->mx_len)
		off = (uint32_t)cp->mx_len;
	n = cp->mx_len - off < CP_MX_CHUNK ? cp->mx_len - off : CP_MX_CHUNK;
	memcpy(chunk, cp->mx_text + off, n);
	chunk[n] = 0;
	r.msg_case = RINGD__REPLY__MSG_ADMIN;
	r.admin = &ar;
	ar.text = chunk;
	ar.has_next_offset = ar.has_more = 1;
	ar.next_offset = off + (uint32_t)n;
	ar.more = ar.next_offset < cp->mx_len;
	if (!ar.more) {
		free(cp->mx_text);
		cp->mx_text = NULL;
		cp->mx_owner = 0;
	}
	return ctl_send(se->sock, &r, NULL, 0);
}

/* KICK: break session @id (RINGD_BROKEN_ADMIN); it takes no more SQEs. */
static int cp_admin_kick(struct ctlplane *cp, struct sess *se, uint64_t id)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__AdminReply ar = RINGD__ADMIN_REPLY__INIT;
	char text[128];
	uint32_t i;

	for (i = 0; i < cp->st->max; i++) {
		struct sess *k = cp->st->slot[i];

		if (!k || k->id != id)
			continue;
		if (k->admin || k->state != SESS_ACTIVE)
			return ctl_send_error(se->sock, EINVAL,
					      "session %llu is not an active tenant session (%s)",
					      (unsigned long long)id, cp_state_name(k));
		log_info("session %llu: kicked by admin session %llu (pid %d uid %u)",
			 (unsigned long long)id, (unsigned long long)se->id, (int)se->pid,
			 (unsigned int)se->uid);
		sess_break(cp->st, k, RINGD_BROKEN_ADMIN);
		snprintf(text, sizeof(text), "session %llu broken (RINGD_BROKEN_ADMIN)",
			 (unsigned long long)id);
		r.msg_case = RINGD__REPLY__MSG_ADMIN;
		r.admin = &ar;
		ar.text = text;
		return ctl_send(se->sock, &r, NULL, 0);
	}
	return ctl_send_error(se->sock, ESRCH, "no session %llu", (unsigned long long)id);
}

/* RELOAD: start one (or ask for one after the running one) and park the
 * request; cp_pass() answers it once that reload is applied or refused. */
static int cp_admin_reload(struct ctlplane *cp, struct sess *se)
{
	struct cp_waiter *w;

	if (!cp->rl)
		return ctl_send_error(se->sock, ENOTSUP, "this daemon cannot reload");
	if (cp->nwaiters == CP_MAX_WAITERS)
		return ctl_send_error(se->sock, EBUSY, "%u reload requests already wait",
				      CP_MAX_WAITERS);
	w = &cp->waiters[cp->nwaiters++];
	w->slot = se->slot;
	w->id = se->id;
	/* The reload that answers us starts after this request: the next one. */
	w->seq = cp->rl->seq + 1;
	log_info("reload asked by admin session %llu (pid %d uid %u)", (unsigned long long)se->id,
		 (int)se->pid, (unsigned int)se->uid);
	rl_request(cp->rl);
	return 0;
}

/* Answer the parked reload requests whose reload has finished. */
static void cp_reload_answers(struct ctlplane *cp)
{
	unsigned int i, keep = 0;

	if (!cp->nwaiters || !cp->rl)
		return;
	for (i = 0; i < cp->nwaiters; i++) {
		struct cp_waiter w = cp->waiters[i];
		struct sess *se;

		if (cp->rl->done_seq < w.seq) {
			cp->waiters[keep++] = w;
			continue;
		}
		se = sess_at(cp->st, w.slot);
		if (!se || se->id != w.id || se->sock < 0 || se->state == SESS_CLOSING ||
		    se->state == SESS_FREED)
			continue;
		if (cp->rl->last_ret) {
			if (ctl_send_error(se->sock, -cp->rl->last_ret, "%s", cp->rl->last_msg))
				sess_close(cp->st, se);
		} else {
			Ringd__Reply r = RINGD__REPLY__INIT;
			Ringd__AdminReply ar = RINGD__ADMIN_REPLY__INIT;

			r.msg_case = RINGD__REPLY__MSG_ADMIN;
			r.admin = &ar;
			ar.text = cp->rl->last_msg;
			if (ctl_send(se->sock, &r, NULL, 0))
				sess_close(cp->st, se);
		}
	}
	cp->nwaiters = keep;
}

static int cp_admin(struct ctlplane *cp, struct sess *se, const Ringd__Admin *a)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__AdminReply ar = RINGD__ADMIN_REPLY__INIT;
	Ringd__StatusInfo si = RINGD__STATUS_INFO__INIT;

	switch (a->kind) {
	case RINGD__ADMIN__KIND__STATUS:
		cp_status(cp, &si);
		r.msg_case = RINGD__REPLY__MSG_ADMIN;
		r.admin = &ar;
		ar.status = &si;
		return ctl_send(se->sock, &r, NULL, 0);
	case RINGD__ADMIN__KIND__TENANTS:
	case RINGD__ADMIN__KIND__SESSIONS:
	case RINGD__ADMIN__KIND__VOLUMES:
		return cp_admin_list(cp, se, a);
	case RINGD__ADMIN__KIND__METRICS:
		return cp_admin_metrics(cp, se, a->has_offset ? a->offset : 0);
	case RINGD__ADMIN__KIND__RELOAD:
		return cp_admin_reload(cp, se);
	case RINGD__ADMIN__KIND__KICK:
		if (!a->has_session_id)
			return ctl_send_error(se->sock, EINVAL, "kick needs a session id");
		return cp_admin_kick(cp, se, a->session_id);
	default:
		return ctl_send_error(se->sock, EINVAL, "unknown admin request %d", (int)a->kind);
	}
}

int cp_request(struct ctlplane *cp, struct sess *se, const Ringd__Request *rq)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	bool replay = rq->has_replay && rq->replay;

	/* Kept while the request is handled (a namespace job outlives this call). */
	se->ctl_replay = replay;

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

		/* Replayed: the first try may have closed it. */
		if (se->admin || (sess_handle_close(cp->st, se, rq->close->handle) && !replay))
			return ctl_send_error(se->sock, EBADF, "handle %d is not open",
					      rq->close->handle);
		r.msg_case = RINGD__REPLY__MSG_CLOSED;
		r.closed = &c;
		return ctl_send(se->sock, &r, NULL, 0);
	}
	case RINGD__REQUEST__MSG_STATS:
		return cp_send_stats(cp, se);
	case RINGD__REQUEST__MSG_TENANT_STATS:
		return cp_tenant_stats(cp, se);
	case RINGD__REQUEST__MSG_LIST_VOLUMES:
		return cp_list_volumes(cp, se, rq->list_volumes);
	case RINGD__REQUEST__MSG_OPEN_FILE:
		return nso_open_file(cp, se, rq->open_file, replay);
	case RINGD__REQUEST__MSG_PATH_OP:
		return nso_path_op(cp, se, rq->path_op, replay);
	case RINGD__REQUEST__MSG_TRUNCATE:
		return nso_truncate(cp, se, rq->truncate);
	case RINGD__REQUEST__MSG_FSTAT:
		return nso_fstat(cp, se, rq->fstat);
	case RINGD__REQUEST__MSG_ADMIN:
		if (!se->admin)
			return ctl_send_error(se->sock, EPERM,
					      "admin requests need an admin connection");
		return cp_admin(cp, se, rq->admin);
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
		/* Replies go in order: the next message waits for the worker. */
		if (se->ns_busy)
			return i;
		/*
		 * Peeked, journaled as unanswered, then taken: a restart at any
		 * point either finds it still queued, or tells the client to
		 * send it again (Restarted), never loses it.
		 */
		ret = ctl_recv_peek(se->sock, &rq, true);
		if (ret == -EAGAIN || ret == -EINTR)
			return i;
		if (ret) {
			if (ret != -ECONNRESET) {
				if (log_limit_take(&cp->malformed, clock_now_ms()))
					log_info("session %llu (pid %d uid %u): bad control "
						 "message: %s",
						 (unsigned long long)se->id, (int)se->pid,
						 (unsigned int)se->uid, strerror(-ret));
				ctl_send_error(se->sock, -ret, "malformed control message: %s",
					       strerror(-ret));
			}
			sess_close(cp->st, se);
			return i + 1;
		}
		se->ctl_seq = rq->has_seq ? rq->seq : 0;
		/* Asked for again after a restart: the replay will come. */
		if (se->restarted_seq && (uint32_t)se->ctl_seq == se->restarted_seq &&
		    !(rq->has_replay && rq->replay)) {
			se->restarted_seq = 0;
			ctl_drop(se->sock);
			ringd__request__free_unpacked(rq, NULL);
			continue;
		}
		sess_ctl_answered(cp->st, se, false);
		ctl_drop(se->sock);
		ret = cp_request(cp, se, rq);
		ringd__request__free_unpacked(rq, NULL);
		if (!ret && !se->ns_busy)
			sess_ctl_answered(cp->st, se, true);
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

void cp_resume(struct ctlplane *cp, struct sess *se)
{
	cp_defer(cp, se);
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

		/* One whose memory is being made has sent its Hello. */
		if (!se || se->state != SESS_HANDSHAKE || se->ns_busy || now < se->deadline_ms)
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
	cp_log_summaries(cp, now_ms);
	cp_reload_answers(cp);
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
