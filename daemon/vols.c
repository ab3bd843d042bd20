/* SPDX-License-Identifier: MIT */
/* vols_: the volume table and its registration on the rings. */
#define _GNU_SOURCE
#include "vols.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int vols_init(struct vols *vs, struct rings *rg, struct jr *jr)
{
	uint32_t i;

	memset(vs, 0, sizeof(*vs));
	vs->rg = rg;
	vs->jr = jr;
	vs->v = calloc(VOLS_MAX, sizeof(*vs->v));
	vs->vv = calloc(VOLS_MAX, sizeof(*vs->vv));
	vs->inflight = calloc(VOLS_MAX, sizeof(*vs->inflight));
	vs->open = calloc(VOLS_MAX, sizeof(*vs->open));
	if (!vs->v || !vs->vv || !vs->inflight || !vs->open)
		return -ENOMEM;
	for (i = 0; i < VOLS_MAX; i++) {
		vs->v[i].fd = -1;
		vs->v[i].ng_fd = -1;
		vs->vv[i].removed = true;
	}
	return 0;
}

/* Drop volume @idx's file slots on every ring and close its fds. */
static void vols_release(struct vols *vs, uint32_t idx)
{
	struct vol *v = &vs->v[idx];

	if (!vs->open[idx])
		return;
	rg_file_set(vs->rg, RG_MAIN, idx, -1);
	if (v->polled)
		rg_file_set(vs->rg, RG_POLL, idx, -1);
	if (v->passthrough)
		rg_file_set(vs->rg, RG_PT, idx, -1);
	vol_close(v);
	vs->open[idx] = false;
}

void vols_fini(struct vols *vs)
{
	unsigned int i;

	if (vs->v)
		for (i = 0; i < vs->n; i++)
			if (vs->open[i])
				vol_close(&vs->v[i]);
	free(vs->v);
	free(vs->vv);
	free(vs->inflight);
	free(vs->open);
	memset(vs, 0, sizeof(*vs));
}

int vols_find(const struct vols *vs, const char *name)
{
	unsigned int i;

	for (i = 0; i < vs->n; i++)
		if (!vs->vv[i].removed && !strcmp(vs->v[i].name, name))
			return (int)i;
	return -1;
}

/* Register the polled/passthrough side of @v (index @idx). */
static int vols_register_paths(struct vols *vs, struct vol *v, uint32_t idx)
{
	int ret;

	if (v->polled) {
		ret = rg_ensure(vs->rg, RG_POLL);
		if (ret)
			return ret;
		ret = rg_file_set(vs->rg, RG_POLL, idx, v->passthrough ? v->ng_fd : v->fd);
		if (ret) {
			log_err("volume %s: cannot register on the IOPOLL ring: %s", v->name,
				strerror(-ret));
			return ret;
		}
	}
	if (v->passthrough) {
		/* Also the home of a polled passthrough volume's flushes. */
		ret = rg_ensure(vs->rg, RG_PT);
		if (!ret)
			ret = rg_file_set(vs->rg, RG_PT, idx, v->ng_fd);
		if (ret) {
			log_err("volume %s: cannot register %s: %s", v->name, v->ng_path,
				strerror(-ret));
			if (v->polled)
				rg_file_set(vs->rg, RG_POLL, idx, -1);
			return ret;
		}
	}
	return 0;
}

int vols_install(struct vols *vs, struct vol *v, uint32_t idx)
{
	int ret;

	if (idx >= VOLS_MAX) {
		log_err("volume %s: the daemon has used all %u volume slots; restart it", v->name,
			VOLS_MAX);
		vol_close(v);
		return -ENOSPC;
	}
	v->v.file_slot = idx;
	ret = rg_file_set(vs->rg, RG_MAIN, idx, v->fd);
	if (ret) {
		log_err("volume %s: cannot register %s: %s", v->name, v->path, strerror(-ret));
		vol_close(v);
		return ret;
	}
	ret = vols_register_paths(vs, v, idx);
	if (ret) {
		rg_file_set(vs->rg, RG_MAIN, idx, -1);
		vol_close(v);
		return ret;
	}
	vs->v[idx] = *v;
	vs->vv[idx] = v->v;
	vs->open[idx] = true;
	vs->inflight[idx] = 0;
	if (idx >= vs->n)
		vs->n = idx + 1;
	vs->live++;
	log_info("volume %s: %s [%llu, +%llu) %s%s block %u, %s%s%s", v->name, v->path,
		 (unsigned long long)v->v.base, (unsigned long long)v->v.size,
		 v->direct ? "direct" : "buffered", v->v.readonly ? " read-only" : "",
		 v->block_size, v->polled ? "polled" : "interrupts",
		 v->passthrough ? ", NVMe passthrough via " : "", v->passthrough ? v->ng_path : "");
	return 0;
}

int vols_add(struct vols *vs, const struct cfg_volume *cv, const char *state_dir, uint32_t idx)
{
	char err[PATH_MAX + 256];
	struct vol v;
	int ret;

	memset(&v, 0, sizeof(v));
	v.fd = v.ng_fd = -1;
	ret = vol_open(cv, state_dir, &v, err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	return vols_install(vs, &v, idx);
}

void vols_remove(struct vols *vs, uint32_t idx)
{
	jr_vol_remove(vs->jr, idx);
	if (idx >= vs->n || vs->vv[idx].removed)
		return;
	vs->vv[idx].removed = true;
	vs->live--;
	if (!vs->inflight[idx])
		vols_release(vs, idx);
}

void vols_io_start(struct vols *vs, uint32_t idx)
{
	if (idx < vs->n)
		vs->inflight[idx]++;
}

void vols_io_done(struct vols *vs, uint32_t idx)
{
	if (idx >= vs->n || !vs->inflight[idx])
		return;
	if (!--vs->inflight[idx] && vs->vv[idx].removed)
		vols_release(vs, idx);
}
