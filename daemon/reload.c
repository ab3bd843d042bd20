/* SPDX-License-Identifier: MIT */
/*
 * rl_: live reload. The thread parses the new file and opens its new or
 * redefined volumes before anything changes; any error leaves the running
 * configuration in force. The loop then installs those volumes, marks the
 * ones that disappeared (or were redefined) removed, swaps the config, and
 * re-resolves every session's tenant from its kernel credentials: handles
 * lose the rights the new file no longer grants (new I/O on them completes
 * with -ENODEV or -EACCES), while I/O accepted before completes normally.
 * Tenant usage is rebuilt from the session table, never patched.
 */
#define _GNU_SOURCE
#include "reload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sysd.h"

struct rl_job {
	char path[PATH_MAX];
	char state_dir[PATH_MAX];
	struct cfg_volume *cur; /* the running volume definitions, copied */
	unsigned int ncur;
	/* Filled by the thread. */
	int ret;
	char err[PATH_MAX + 512];
	struct cfg nc;
	bool nc_loaded;
	struct vol *opened; /* per nc volume; fd < 0: unchanged, nothing opened */
	int efd;	    /* written when done */
};

/* Record the outcome of reload number rl->seq for whoever waits for it. */
static void __attribute__((format(printf, 3, 4)))
rl_outcome(struct reloader *rl, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rl->last_msg, sizeof(rl->last_msg), fmt, ap);
	va_end(ap);
	rl->last_ret = ret;
	rl->done_seq = rl->seq;
}

/* Same backing, extent and mode? */
static bool rl_same_volume(const struct cfg_volume *a, const struct cfg_volume *b)
{
	return !strcmp(a->path, b->path) && !strcmp(a->nvme, b->nvme) && !strcmp(a->dir, b->dir) &&
	       a->offset == b->offset && a->size == b->size && a->max_entries == b->max_entries &&
	       a->direct == b->direct && a->readonly == b->readonly && a->poll == b->poll &&
	       a->passthrough == b->passthrough && a->on_path_loss == b->on_path_loss;
}

static const struct cfg_volume *rl_find(const struct cfg_volume *v, unsigned int n,
					const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static void rl_job_free(struct rl_job *job)
{
	unsigned int i;

	if (!job)
		return;
	if (job->opened)
		for (i = 0; i < job->nc.nvols; i++)
			if (job->opened[i].fd >= 0)
				vol_close(&job->opened[i]);
	if (job->nc_loaded)
		cfg_free(&job->nc);
	free(job->opened);
	free(job->cur);
	free(job);
}

/* The thread: parse, then open what is new. Touches only @arg. */
static void *rl_thread(void *arg)
{
	struct rl_job *job = arg;
	unsigned int i;

	job->ret = cfg_load(job->path, &job->nc, job->err, sizeof(job->err));
	if (job->ret)
		goto out;
	job->nc_loaded = true;
	job->opened = calloc(job->nc.nvols ? job->nc.nvols : 1, sizeof(*job->opened));
	if (!job->opened) {
		job->ret = -ENOMEM;
		snprintf(job->err, sizeof(job->err), "out of memory");
		goto out;
	}
	for (i = 0; i < job->nc.nvols; i++)
		job->opened[i].fd = job->opened[i].ng_fd = -1;
	for (i = 0; i < job->nc.nvols; i++) {
		const struct cfg_volume *cur = rl_find(job->cur, job->ncur, job->nc.vols[i].name);

		if (cur && rl_same_volume(cur, &job->nc.vols[i]))
			continue;
		job->ret = vol_open(&job->nc.vols[i], job->state_dir, &job->opened[i], job->err,
				    sizeof(job->err));
		if (job->ret) {
			job->opened[i].fd = job->opened[i].ng_fd = -1;
			break;
		}
	}
out:
	if (eventfd_write(job->efd, 1) < 0)
		log_err("reload: cannot signal the loop: %s", strerror(errno));
	return NULL;
}

int rl_init(struct reloader *rl, struct cfg *cfg, struct sessions *st, struct vols *vols,
	    struct jr *jr, struct rings *rg, struct qos *qos, uint64_t tag)
{
	memset(rl, 0, sizeof(*rl));
	rl->cfg = cfg;
	rl->st = st;
	rl->vols = vols;
	rl->jr = jr;
	rl->rg = rg;
	rl->qos = qos;
	rl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rl->efd < 0)
		return -errno;
	return rg_arm_poll(rg, rl->efd, tag);
}

void rl_fini(struct reloader *rl)
{
	if (rl->running) {
		/* Blocked in an open() or a probe: open() is a cancellation point. */
		pthread_cancel(rl->thread);
		pthread_join(rl->thread, NULL);
		rl->running = false;
		/* Whatever it opened is left to the exit. */
		free(rl->job->cur);
		free(rl->job);
		rl->job = NULL;
	}
	if (rl->efd >= 0)
		close(rl->efd);
	rl->efd = -1;
}

void rl_request(struct reloader *rl)
{
	struct rl_job *job;
	int ret;

	if (rl->running) {
		if (!rl->again)
			log_info("reload: one is running (for %llu ms); another follows it",
				 (unsigned long long)(clock_now_ms() - rl->started_ms));
		rl->again = true;
		return;
	}
	rl->seq++;
	sysd_reloading();
	log_info("reload: reading %s", rl->cfg->path);
	job = calloc(1, sizeof(*job));
	if (job)
		job->cur = calloc(rl->cfg->nvols ? rl->cfg->nvols : 1, sizeof(*job->cur));
	if (!job || !job->cur) {
		free(job);
		log_err("reload refused: out of memory");
		rl_outcome(rl, -ENOMEM, "reload refused: out of memory");
		sysd_ready(rl->st->n, rl->vols->live);
		return;
	}
	memcpy(job->cur, rl->cfg->vols, rl->cfg->nvols * sizeof(*job->cur));
	job->ncur = rl->cfg->nvols;
	memcpy(job->path, rl->cfg->path, sizeof(job->path));
	memcpy(job->state_dir, rl->cfg->state_dir, sizeof(job->state_dir));
	job->efd = rl->efd;
	ret = pthread_create(&rl->thread, NULL, rl_thread, job);
	if (ret) {
		log_err("reload refused: cannot start its thread: %s", strerror(ret));
		rl_outcome(rl, -ret, "reload refused: cannot start its thread: %s", strerror(ret));
		free(job->cur);
		free(job);
		sysd_ready(rl->st->n, rl->vols->live);
		return;
	}
	rl->job = job;
	rl->running = true;
	rl->started_ms = clock_now_ms();
}

/* Keys that only take effect on restart keep their running values. */
static void rl_keep_restart_keys(const struct cfg *old, struct cfg *nc)
{
	if (strcmp(old->socket_path, nc->socket_path))
		log_warn("reload: 'socket' changes only on restart; still %s", old->socket_path);
	if (strcmp(old->state_dir, nc->state_dir))
		log_warn("reload: 'state_dir' changes only on restart; still %s", old->state_dir);
	if (old->max_sessions != nc->max_sessions)
		log_warn("reload: daemon 'max_sessions' changes only on restart; still %u",
			 old->max_sessions);
	memcpy(nc->socket_path, old->socket_path, sizeof(nc->socket_path));
	memcpy(nc->state_dir, old->state_dir, sizeof(nc->state_dir));
	nc->max_sessions = old->max_sessions;
	if (old->sqpoll != nc->sqpoll || old->sqpoll_cpu != nc->sqpoll_cpu ||
	    old->sqpoll_idle_ms != nc->sqpoll_idle_ms)
		log_warn("reload: 'sqpoll*' change only on restart");
	nc->sqpoll = old->sqpoll;
	nc->sqpoll_cpu = old->sqpoll_cpu;
	nc->sqpoll_idle_ms = old->sqpoll_idle_ms;
	nc->socket_mode = old->socket_mode;
	nc->socket_group = old->socket_group;
	nc->has_socket_group = old->has_socket_group;
	memcpy(nc->path, old->path, sizeof(nc->path));
}

/*
 * Install the volumes the thread opened. Returns 0, or -errno after
 * undoing every one installed (the running config stays in force).
 */
static int rl_install(struct reloader *rl, struct rl_job *job, unsigned int *added)
{
	unsigned int first = rl->vols->n, i;
	int ret;

	for (i = 0; i < job->nc.nvols; i++) {
		uint32_t idx;

		if (job->opened[i].fd < 0)
			continue;
		idx = jr_vol_append(rl->jr, job->nc.vols[i].name);
		ret = vols_install(rl->vols, &job->opened[i], idx);
		job->opened[i].fd = job->opened[i].ng_fd = -1; /* taken over or closed */
		if (ret) {
			log_err("reload refused: volume %s cannot be registered; the running "
				"configuration stays in force",
				job->nc.vols[i].name);
			for (i = first; i < rl->vols->n; i++)
				vols_remove(rl->vols, i);
			return ret;
		}
		(*added)++;
	}
	return 0;
}

/* Apply a parsed and opened config in the loop: O(volumes + sessions). */
static void rl_apply(struct reloader *rl, struct rl_job *job)
{
	unsigned int first = rl->vols->n, added = 0, removed = 0, i;
	char(*old_names)[CFG_NAME_MAX];
	struct cfg old;
	int ret;

	if (job->ret) {
		const char *e;

		/* cfg_load() gives every error of the file, one a line. */
		for (e = job->err; e; e = strchr(e, '\n') ? strchr(e, '\n') + 1 : NULL)
			log_err("reload refused, the running configuration stays in force: %.*s",
				(int)strcspn(e, "\n"), e);
		rl_outcome(rl, job->ret,
			   "reload refused, the running configuration stays in force: %s",
			   job->err);
		rl->refused++;
		return;
	}
	old_names = calloc(rl->st->max, sizeof(*old_names));
	if (!old_names) {
		log_err("reload refused: out of memory");
		rl_outcome(rl, -ENOMEM, "reload refused: out of memory");
		rl->refused++;
		return;
	}
	rl_keep_restart_keys(rl->cfg, &job->nc);
	ret = rl_install(rl, job, &added);
	if (ret) {
		free(old_names);
		rl_outcome(rl, ret, "reload refused: a new volume cannot be registered: %s",
			   strerror(-ret));
		rl->refused++;
		return;
	}
	/* Retire volumes that are gone or were redefined (the new
	 * definition, if any, was installed above under a new index). */
	for (i = 0; i < first; i++) {
		const struct cfg_volume *want, *cur;

		if (rl->vols->vv[i].removed)
			continue;
		want = rl_find(job->nc.vols, job->nc.nvols, rl->vols->v[i].name);
		cur = rl_find(rl->cfg->vols, rl->cfg->nvols, rl->vols->v[i].name);
		if (want && cur && rl_same_volume(cur, want))
			continue;
		log_info("reload: volume %s %s", rl->vols->v[i].name,
			 want ? "redefined" : "removed");
		vols_remove(rl->vols, i);
		removed++;
	}
	/* Swap the configuration and re-check every session. */
	for (i = 0; i < rl->st->max; i++) {
		const struct sess *se = rl->st->slot[i];

		if (se && se->tenant >= 0 && (unsigned int)se->tenant < rl->cfg->ntenants)
			memcpy(old_names[i], rl->cfg->tenants[se->tenant].name, CFG_NAME_MAX);
	}
	old = *rl->cfg;
	*rl->cfg = job->nc;
	job->nc_loaded = false; /* the running config now */
	ret = sess_reresolve_all(rl->st, (const char(*)[CFG_NAME_MAX])old_names);
	if (ret) {
		/* Nothing of the sessions changed: keep their config. */
		job->nc = *rl->cfg;
		job->nc_loaded = true;
		*rl->cfg = old;
		free(old_names);
		log_err("reload: out of memory while re-checking sessions; tenants and limits "
			"stay as they were");
		rl_outcome(rl, ret, "reload: out of memory while re-checking sessions");
		rl->refused++;
		return;
	}
	free(old_names);
	cfg_free(&old);
	/* New weights, reservations and limits; levels and tags carry over. */
	if (qos_configure(rl->qos, rl->cfg, clock_now_ns()))
		log_err("reload: out of memory for the QoS table; QoS keeps its old settings");
	/* Figures follow the tenants by name, like QoS: never a stale index. */
	if (rl->fig && fig_configure(rl->fig, rl->cfg, rl->vols->n))
		log_err("reload: out of memory for the figures; every tenant's I/O counts as "
			"no tenant's until the next reload");
	log_threshold = rl->cfg->log_level;
	rl->applied++;
	log_info("reloaded: %u volumes (%u added, %u removed), %u tenants (in %llu ms)",
		 rl->vols->live, added, removed, rl->cfg->ntenants,
		 (unsigned long long)(clock_now_ms() - rl->started_ms));
	rl_outcome(rl, 0, "reloaded %s: %u volumes (%u added, %u removed), %u tenants",
		   rl->cfg->path, rl->vols->live, added, removed, rl->cfg->ntenants);
}

void rl_event(struct reloader *rl, bool more, uint64_t tag)
{
	eventfd_t v;

	if (eventfd_read(rl->efd, &v) == 0 && rl->running) {
		pthread_join(rl->thread, NULL);
		rl->running = false;
		rl_apply(rl, rl->job);
		rl_job_free(rl->job);
		rl->job = NULL;
		sysd_ready(rl->st->n, rl->vols->live);
		if (rl->again) {
			rl->again = false;
			rl_request(rl);
		}
	}
	if (!more && rg_arm_poll(rl->rg, rl->efd, tag))
		log_err("reload: cannot re-arm its eventfd poll");
}
