/* SPDX-License-Identifier: MIT */
/*
 * Live reload (SIGHUP). The new file is parsed and its new volumes opened
 * before anything changes; any error leaves the running configuration in
 * force. Then volumes that disappeared (or whose definition changed) are
 * marked removed, every session's tenant is re-resolved from its kernel
 * credentials, and handles lose the rights the new file no longer grants:
 * new I/O on them completes with -ENODEV (volume removed) or -EACCES
 * (right revoked), while I/O already in flight completes normally.
 * Unaffected sessions notice nothing.
 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sysd.h"

/* Same backing, extent and mode? */
static bool rl_same_volume(const struct cfg_volume *a, const struct cfg_volume *b)
{
	return !strcmp(a->path, b->path) && !strcmp(a->nvme, b->nvme) && a->offset == b->offset &&
	       a->size == b->size && a->direct == b->direct && a->readonly == b->readonly &&
	       a->poll == b->poll && a->passthrough == b->passthrough;
}

static const struct cfg_volume *rl_cfg_volume(const struct cfg *c, const char *name)
{
	int i = cfg_volume_find(c, name);

	return i < 0 ? NULL : &c->vols[i];
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
}

void srv_session_rights(struct srv *s, struct sess *se, const char *old_tenant)
{
	const struct cfg_tenant *t;
	uint32_t i;

	se->tenant = srv_tenant_for(&s->cfg, se->uid, se->gid);
	t = se->tenant >= 0 ? &s->cfg.tenants[se->tenant] : NULL;
	if (old_tenant && (!t || strcmp(t->name, old_tenant)))
		log_info("session %llu: uid %u now belongs to %s", (unsigned long long)se->id,
			 (unsigned int)se->uid, t ? t->name : "no tenant");
	if (t)
		se->max_inflight = t->max_inflight;
	for (i = 0; i < se->nhandles; i++) {
		struct val_handle *h = &se->handles[i];
		const struct cfg_grant *g;

		if (!h->open || h->revoked || s->vvols[h->vol].removed)
			continue;
		g = t ? cfg_tenant_grant(&s->cfg, t, s->vols[h->vol].name) : NULL;
		if (!g) {
			h->revoked = -EACCES;
		} else if (h->writable && !g->rw) {
			h->writable = false;
			h->write_revoked = true;
		}
	}
	sess_journal_handles(s, se);
}

int srv_reload(struct srv *s)
{
	unsigned int first_new = s->nvols, added = 0, removed = 0, i;
	char err[PATH_MAX + 512];
	struct tenant_usage *usage;
	char(*old_tenant)[CFG_NAME_MAX];
	struct cfg nc, old;
	int ret;

	sysd_reloading();
	log_info("reload: reading %s", s->cfg.path);
	ret = cfg_load(s->cfg.path, &nc, err, sizeof(err));
	if (ret) {
		log_err("reload refused, the running configuration stays in force: %s", err);
		goto out_ready;
	}
	rl_keep_restart_keys(&s->cfg, &nc);
	usage = calloc(nc.ntenants ? nc.ntenants : 1, sizeof(*usage));
	old_tenant = calloc(s->cfg.max_sessions, sizeof(*old_tenant));
	if (!usage || !old_tenant) {
		free(usage);
		free(old_tenant);
		cfg_free(&nc);
		ret = -ENOMEM;
		log_err("reload refused: out of memory");
		goto out_ready;
	}

	/* 1. Open what is new; undo all of it if any fails. */
	for (i = 0; i < nc.nvols; i++) {
		int vi = srv_volume_find(s, nc.vols[i].name);
		const struct cfg_volume *cur = rl_cfg_volume(&s->cfg, nc.vols[i].name);

		if (vi >= 0 && cur && rl_same_volume(cur, &nc.vols[i]))
			continue;
		ret = srv_volume_add(s, &nc.vols[i], jr_vol_append(&s->jr, nc.vols[i].name));
		if (ret) {
			log_err("reload refused: volume %s cannot be opened; the running "
				"configuration stays in force",
				nc.vols[i].name);
			for (i = first_new; i < s->jr.hdr->nvols; i++)
				srv_volume_remove(s, i);
			free(usage);
			free(old_tenant);
			cfg_free(&nc);
			goto out_ready;
		}
		added++;
	}

	/* 2. Retire volumes that are gone or were redefined (the new
	 * definition, if any, was added above under a new index). */
	for (i = 0; i < first_new; i++) {
		const struct cfg_volume *want;

		if (s->vvols[i].removed)
			continue;
		want = rl_cfg_volume(&nc, s->vols[i].name);
		if (want && rl_same_volume(rl_cfg_volume(&s->cfg, s->vols[i].name), want))
			continue;
		log_info("reload: volume %s %s", s->vols[i].name, want ? "redefined" : "removed");
		srv_volume_remove(s, i);
		removed++;
	}

	/* 3. Swap the configuration and re-check every session. */
	for (i = 0; i < s->cfg.max_sessions; i++) {
		struct sess *se = s->sessions[i];

		if (se && se->tenant >= 0)
			memcpy(old_tenant[i], s->cfg.tenants[se->tenant].name, CFG_NAME_MAX);
	}
	old = s->cfg;
	s->cfg = nc;
	free(s->usage);
	s->usage = usage;
	for (i = 0; i < s->cfg.max_sessions; i++) {
		struct sess *se = s->sessions[i];

		if (!se || se->admin || se->state == SESS_CLOSING)
			continue;
		srv_session_rights(s, se, old_tenant[i]);
		if (se->tenant >= 0) {
			s->usage[se->tenant].sessions++;
			s->usage[se->tenant].inflight += se->inflight;
		}
	}
	free(old_tenant);
	cfg_free(&old);
	log_threshold = s->cfg.log_level;
	log_info("reloaded: %u volumes (%u added, %u removed), %u tenants", s->nvols_live, added,
		 removed, s->cfg.ntenants);
	ret = 0;

out_ready:
	sysd_ready(s->nsessions, s->nvols_live);
	return ret;
}
