/* SPDX-License-Identifier: MIT */
/* vols_: the volume table and its registration on the rings. */
#define _GNU_SOURCE
#include "vols.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fabric.h"
#include "log.h"
#include "sysd.h"

/* Said of a volume whose file system takes no non-blocking I/O (H53). */
#define VOLS_WORKER_IO ", every request on a kernel worker (no non-blocking I/O here)"

int vols_init(struct vols *vs, struct rings *rg, struct jr *jr)
{
	uint32_t i;

	memset(vs, 0, sizeof(*vs));
	vs->rg = rg;
	vs->jr = jr;
	vs->v = calloc(VOLS_MAX, sizeof(*vs->v));
	vs->vv = calloc(VOLS_ALL, sizeof(*vs->vv));
	vs->inflight = calloc(VOLS_ALL, sizeof(*vs->inflight));
	vs->open = calloc(VOLS_ALL, sizeof(*vs->open));
	vs->files = calloc(VOLS_FILES, sizeof(*vs->files));
	vs->used = calloc(VOLS_MAX, sizeof(*vs->used));
	vs->files_cap = VOLS_FILES;
	if (!vs->v || !vs->vv || !vs->inflight || !vs->open || !vs->files || !vs->used)
		return -ENOMEM;
	for (i = 0; i < VOLS_MAX; i++) {
		vs->v[i].fd = -1;
		vs->v[i].ng_fd = -1;
	}
	for (i = 0; i < VOLS_ALL; i++)
		vs->vv[i].removed = true;
	for (i = 0; i < VOLS_FILES; i++)
		vs->files[i].fd = -1;
	return 0;
}

/* fd-store name of file @idx's fd. */
static void vols_file_name(uint32_t idx, char *buf, size_t len)
{
	snprintf(buf, len, "file-%u", idx - VOLS_MAX);
}

/* Record file @idx in the journal and its fd in the fd store (@open), or
 * forget it, so that a restarted daemon re-adopts the files its sessions
 * have open. */
static void vols_file_journal(struct vols *vs, uint32_t idx, bool open)
{
	struct jr_file *jf = &vs->jr->hdr->files[idx - VOLS_MAX];
	const struct vols_file *f = &vs->files[idx - VOLS_MAX];
	char name[32];

	vols_file_name(idx, name, sizeof(name));
	if (!open) {
		jr_commit(&jf->used, 0);
		sysd_fdstore_remove(name);
		return;
	}
	jf->dir = f->dir;
	jf->lock_owner = f->lock_owner;
	jf->unlinked = f->unlinked;
	if (!jf->used) {
		sysd_fdstore(name, f->fd);
		jr_commit(&jf->used, 1);
	}
}

/* Close file @idx: settle its bytes and free its entry. */
static void vols_file_release(struct vols *vs, uint32_t idx)
{
	struct vols_file *f = &vs->files[idx - VOLS_MAX];
	uint64_t *used = &vs->used[f->dir];
	struct stat st;

	rg_file_set(vs->rg, RG_MAIN, idx, -1);
	/* Writes that failed or came short were counted in full: resync. */
	if (!f->unlinked && !fstat(f->fd, &st) && (uint64_t)st.st_size != f->size)
		*used += (uint64_t)st.st_size - f->size;
	else if (f->unlinked)
		*used -= *used < f->size ? *used : f->size;
	close(f->fd);
	vols_file_journal(vs, idx, false);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	vs->open[idx] = false;
	vs->nfiles--;
	while (vs->files_hw && !vs->files[vs->files_hw - 1].used)
		vs->files_hw--;
}

/* Drop volume @idx's file slots on every ring and close its fds. */
static void vols_release(struct vols *vs, uint32_t idx)
{
	struct vol *v = &vs->v[idx];

	if (!vs->open[idx])
		return;
	if (vols_is_file(idx))
		return vols_file_release(vs, idx);
	if (v->isdir) {
		vol_close(v);
		vs->open[idx] = false;
		return;
	}
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
	if (vs->files)
		for (i = 0; i < VOLS_FILES; i++)
			if (vs->files[i].used)
				close(vs->files[i].fd);
	free(vs->files);
	free(vs->used);
	free(vs->v);
	free(vs->vv);
	free(vs->inflight);
	free(vs->open);
	memset(vs, 0, sizeof(*vs));
}

unsigned int vols_check_paths(struct vols *vs, uint64_t now_ms)
{
	unsigned int i, n = 0;

	for (i = 0; i < vs->n; i++) {
		struct vol *v = &vs->v[i];
		bool lost;
		int live;

		if (vs->vv[i].removed || !vs->open[i] || !v->subsysnqn[0])
			continue;
		n++;
		live = kf_subsys_live(v->subsysnqn);
		lost = live != 1;
		if (lost && v->path_hold &&
		    (live == -ENOENT ||
		     (v->fast_io_fail_s >= 0 &&
		      now_ms >= v->path_lost_ms + (uint64_t)v->fast_io_fail_s * 1000))) {
			v->path_hold = false; /* held long enough: fail from now on */
			log_warn("volume %s: no path to %s came back within fast_io_fail_tmo: its "
				 "held I/O fails with EIO",
				 v->name, v->subsysnqn);
		}
		if (lost == v->path_lost)
			continue;
		v->path_lost = lost;
		v->path_hold = lost && v->passthrough && !v->fail_on_path_loss;
		if (lost) {
			v->path_lost_ms = now_ms;
			v->fast_io_fail_s = kf_subsys_fast_io_fail(v->subsysnqn);
		}
		if (lost)
			log_warn("volume %s: no live path to %s: %s", v->name, v->subsysnqn,
				 v->fail_on_path_loss
				     ? "new I/O fails with EIO (on_path_loss = fail)"
				     : "I/O waits for a path until fast_io_fail_tmo, then fails "
				       "with EIO (on_path_loss = wait)");
		else
			log_info("volume %s: a path to %s is live again", v->name, v->subsysnqn);
	}
	return n;
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
	ret = v->isdir ? 0 : rg_file_set(vs->rg, RG_MAIN, idx, v->fd);
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
	vs->used[idx] = v->used;
	if (idx >= vs->n)
		vs->n = idx + 1;
	vs->live++;
	if (v->isdir) {
		log_info("volume %s: directory %s, size %llu (its files hold %llu)%s%s%s", v->name,
			 v->path, (unsigned long long)v->v.size, (unsigned long long)v->used,
			 v->direct ? ", direct" : "", v->v.readonly ? ", read-only" : "",
			 v->worker_io ? VOLS_WORKER_IO : "");
		return 0;
	}
	log_info("volume %s: %s [%llu, +%llu) %s%s block %u, %s%s%s%s", v->name, v->path,
		 (unsigned long long)v->v.base, (unsigned long long)v->v.size,
		 v->direct ? "direct" : "buffered", v->v.readonly ? " read-only" : "",
		 v->block_size, v->polled ? "polled" : "interrupts",
		 v->passthrough ? ", NVMe passthrough via " : "", v->passthrough ? v->ng_path : "",
		 v->worker_io ? VOLS_WORKER_IO : "");
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
	uint32_t i;

	jr_vol_remove(vs->jr, idx);
	if (idx >= vs->n || vs->vv[idx].removed)
		return;
	vs->vv[idx].removed = true;
	vs->live--;
	/* Its open files take no more I/O either; they close with their handles. */
	for (i = 0; vs->v[idx].isdir && i < vs->files_hw; i++)
		if (vs->files[i].used && vs->files[i].dir == idx)
			vs->vv[VOLS_MAX + i].removed = true;
	if (!vs->inflight[idx])
		vols_release(vs, idx);
}

void vols_io_start(struct vols *vs, uint32_t idx)
{
	if (vols_valid(vs, idx))
		vs->inflight[idx]++;
}

/* Whether @idx may be closed now: nothing in flight and, for a file, no handle. */
static bool vols_idle(const struct vols *vs, uint32_t idx)
{
	if (vs->inflight[idx])
		return false;
	if (vols_is_file(idx))
		return !vs->files[idx - VOLS_MAX].refs;
	return vs->vv[idx].removed;
}

void vols_io_done(struct vols *vs, uint32_t idx)
{
	if (!vols_valid(vs, idx) || !vs->inflight[idx])
		return;
	if (vols_is_file(idx)) {
		vs->inflight[idx]--;
		if (vols_idle(vs, idx))
			vols_release(vs, idx);
		return;
	}
	if (!--vs->inflight[idx] && vs->vv[idx].removed)
		vols_release(vs, idx);
}

/* Install @fd as file @idx (free) of directory volume @dir. Takes @fd. */
static int vols_file_install(struct vols *vs, uint32_t idx, uint32_t dir, int fd, uint64_t dev,
			     uint64_t ino, uint64_t size)
{
	struct vols_file *f = &vs->files[idx - VOLS_MAX];
	int ret = rg_file_set(vs->rg, RG_MAIN, idx, fd);

	if (ret) {
		close(fd);
		return ret;
	}
	*f = (struct vols_file){
		.used = true, .fd = fd, .dir = dir, .refs = 1, .dev = dev, .ino = ino, .size = size
	};
	vs->vv[idx] = (struct val_vol){
		.base = 0,
		/* No extent: a file ends where the volume's size (vols_quota) says. */
		.size = INT64_MAX,
		.align = vs->v[dir].v.align,
		.zero_align = vs->v[dir].v.align,
		.file_slot = idx,
		.readonly = vs->v[dir].v.readonly,
	};
	vs->open[idx] = true;
	vs->inflight[idx] = 0;
	vs->nfiles++;
	if (idx - VOLS_MAX >= vs->files_hw)
		vs->files_hw = idx - VOLS_MAX + 1;
	vols_file_journal(vs, idx, true);
	return (int)idx;
}

int vols_file_get(struct vols *vs, uint32_t dir, int fd, uint64_t dev, uint64_t ino, uint64_t size)
{
	uint32_t i, free_i = VOLS_FILES;

	/* Entries at and past the high-water mark are all free. */
	for (i = 0; i < vs->files_hw; i++) {
		struct vols_file *f = &vs->files[i];

		if (!f->used) {
			if (free_i == VOLS_FILES)
				free_i = i;
			continue;
		}
		/* A file whose last handle went (still draining) is not reused. */
		if (f->dir == dir && f->dev == dev && f->ino == ino && f->refs &&
		    !vs->vv[VOLS_MAX + i].removed) {
			close(fd);
			f->refs++;
			return (int)(VOLS_MAX + i);
		}
	}
	if (free_i == VOLS_FILES && vs->files_hw < vs->files_cap)
		free_i = vs->files_hw;
	if (free_i >= vs->files_cap) {
		close(fd);
		return -EMFILE;
	}
	return vols_file_install(vs, VOLS_MAX + free_i, dir, fd, dev, ino, size);
}

int vols_file_lock(struct vols *vs, uint32_t idx, uint64_t sid)
{
	struct vols_file *f = &vs->files[idx - VOLS_MAX];

	/* One holder, one handle: a second RINGD_LOCK open of the same
	 * session is refused too, so closing either handle cannot let go of
	 * a lock the other one still counts on. */
	if (f->lock_owner)
		return -EBUSY;
	f->lock_owner = sid;
	vols_file_journal(vs, idx, true);
	return 0;
}

void vols_file_put(struct vols *vs, uint32_t idx, uint64_t sid, bool locked)
{
	struct vols_file *f;

	if (!vols_is_file(idx) || !vs->files[idx - VOLS_MAX].used)
		return;
	f = &vs->files[idx - VOLS_MAX];
	if (locked && f->lock_owner == sid) {
		f->lock_owner = 0;
		vols_file_journal(vs, idx, true);
	}
	if (f->refs && !--f->refs) {
		vs->vv[idx].removed = true;
		if (vols_idle(vs, idx))
			vols_release(vs, idx);
	}
}

int vols_file_grow(struct vols *vs, uint32_t idx, uint64_t end)
{
	struct vols_file *f = &vs->files[idx - VOLS_MAX];
	uint64_t *used = &vs->used[f->dir], more;

	if (end <= f->size)
		return 0;
	more = end - f->size;
	if (*used + more < *used || *used + more > vs->vv[f->dir].size)
		return -EDQUOT;
	*used += more;
	f->size = end;
	return 0;
}

void vols_file_shrunk(struct vols *vs, uint32_t idx, uint64_t size)
{
	struct vols_file *f = &vs->files[idx - VOLS_MAX];
	uint64_t *used = &vs->used[f->dir], less;

	if (size >= f->size)
		return;
	less = f->size - size;
	*used -= *used < less ? *used : less;
	f->size = size;
}

void vols_file_gone(struct vols *vs, uint32_t dir, uint64_t dev, uint64_t ino, uint64_t size)
{
	uint32_t i;
	bool open = false;

	for (i = 0; i < vs->files_hw; i++) {
		struct vols_file *f = &vs->files[i];

		if (f->used && f->dir == dir && f->dev == dev && f->ino == ino) {
			f->unlinked = true;
			open = true;
			vols_file_journal(vs, VOLS_MAX + i, true);
		}
	}
	if (!open && dir < VOLS_MAX)
		vs->used[dir] -= vs->used[dir] < size ? vs->used[dir] : size;
}

/* Directory volume @dir, or NULL if @dir is not one. */
static struct vol *vols_dir(struct vols *vs, uint32_t dir)
{
	return dir < vs->n && vs->v[dir].isdir ? &vs->v[dir] : NULL;
}

bool vols_entry_hold(struct vols *vs, uint32_t dir)
{
	struct vol *v = vols_dir(vs, dir);

	if (!v || v->entries + v->entries_held >= v->max_entries)
		return false;
	v->entries_held++;
	return true;
}

void vols_entry_settle(struct vols *vs, uint32_t dir, bool held, bool created)
{
	struct vol *v = vols_dir(vs, dir);

	if (!v)
		return;
	if (held && v->entries_held)
		v->entries_held--;
	if (created)
		v->entries++;
}

void vols_entry_gone(struct vols *vs, uint32_t dir)
{
	struct vol *v = vols_dir(vs, dir);

	if (v && v->entries)
		v->entries--;
}

int vols_quota(struct vols *vs, uint32_t idx, uint8_t op, uint64_t off, uint64_t len)
{
	uint64_t end;

	if (!vols_is_file(idx) ||
	    (op != RINGD_OP_WRITE && op != RINGD_OP_WRITEV && op != RINGD_OP_WRITE_ZEROES))
		return 0;
	if (__builtin_add_overflow(off, len, &end))
		return -EDQUOT;
	return vols_file_grow(vs, idx, end);
}

void vols_file_restore(struct vols *vs)
{
	uint32_t i, n = 0;

	for (i = 0; i < VOLS_FILES; i++) {
		struct jr_file *jf = &vs->jr->hdr->files[i];
		uint32_t idx = VOLS_MAX + i;
		uint64_t lock;
		bool unlinked;
		struct stat st;
		char name[32];
		int fd, ret;

		if (!jf->used)
			continue;
		vols_file_name(idx, name, sizeof(name));
		fd = sysd_take_fd(name);
		if (fd < 0 || jf->dir >= vs->n || vs->vv[jf->dir].removed ||
		    !vs->v[jf->dir].isdir || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			log_warn("recovery: open file %u of volume index %u is gone: its handles "
				 "get -ENODEV",
				 i, jf->dir);
			if (fd >= 0)
				close(fd);
			jr_commit(&jf->used, 0);
			sysd_fdstore_remove(name);
			continue;
		}
		lock = jf->lock_owner;
		unlinked = jf->unlinked != 0;
		/* Still in the store and the journal: the same record goes on. */
		ret = vols_file_install(vs, idx, jf->dir, fd, st.st_dev, st.st_ino,
					(uint64_t)st.st_size);
		if (ret < 0) {
			log_warn("recovery: open file %u not re-adopted: %s", i, strerror(-ret));
			jr_commit(&jf->used, 0);
			sysd_fdstore_remove(name);
			continue;
		}
		vs->files[i].refs = 0; /* counted again from the sessions' handles */
		vs->files[i].lock_owner = lock;
		vs->files[i].unlinked = unlinked;
		/* The directory walk did not see it: count it until its last close. */
		if (unlinked)
			vs->used[jf->dir] += (uint64_t)st.st_size;
		vols_file_journal(vs, idx, true);
		n++;
	}
	if (n)
		log_info("recovery: %u open files re-adopted", n);
}

void vols_file_sweep(struct vols *vs)
{
	uint32_t i;

	for (i = 0; i < vs->files_hw; i++) {
		if (!vs->files[i].used || vs->files[i].refs)
			continue;
		vs->vv[VOLS_MAX + i].removed = true;
		if (vols_idle(vs, VOLS_MAX + i))
			vols_release(vs, VOLS_MAX + i);
	}
}
