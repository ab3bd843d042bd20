/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "nsops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "ctlplane.h"
#include "log.h"
#include "nsworker.h"
#include "tags.h"

#define NSO_FLAGS (RINGD_RDWR | RINGD_CREAT | RINGD_EXCL | RINGD_TRUNC | RINGD_LOCK)

/* Whether @se may send a data-volume request at all; else the reply is sent. */
static int nso_refused(struct sess *se, bool *refused)
{
	*refused = true;
	if (se->admin)
		return ctl_send_error(se->sock, EPERM, "admin connections open no files");
	if (se->state == SESS_BROKEN)
		return ctl_send_error(se->sock, EPIPE, "session is broken (reason %u)",
				      se->broken_reason);
	*refused = false;
	return 0;
}

/* A job on volume @vi for @se, with a dup of the volume's directory. */
static struct ns_job *nso_job(struct ctlplane *cp, struct sess *se, enum ns_op op, int vi)
{
	struct ns_job *j = ns_job_new(op);

	if (!j)
		return NULL;
	j->dirfd = fcntl(cp->vols->v[vi].fd, F_DUPFD_CLOEXEC, 3);
	if (j->dirfd < 0) {
		ns_job_free(j);
		return NULL;
	}
	j->slot = se->slot;
	j->sid = se->id;
	j->vol = (uint32_t)vi;
	j->handle = -1;
	return j;
}

static int nso_submit(struct ctlplane *cp, struct sess *se, struct ns_job *j)
{
	if (!j)
		return ctl_send_error(se->sock, ENOMEM, "out of memory (or fds) for the request");
	/* A job that may make a file or directory holds room for it (H45). */
	if (j->op == NS_MKDIR || (j->op == NS_OPEN && (j->oflags & O_CREAT)))
		j->may_create = j->entry_held = vols_entry_hold(cp->vols, j->vol);
	se->ns_busy = true;
	/* Still unanswered (journaled since it was read, see cp_read()). */
	sess_ctl_answered(cp->st, se, false);
	/* Tenants take turns at the worker, however many sessions one has. */
	j->tag = qos_ns_tag(cp->qos, se->tenant, ns_vclock(&cp->ns));
	/* A tenant's calls run one at a time: its slow fsync holds one thread. */
	j->owner = se->tenant;
	ns_submit(&cp->ns, j);
	return 0;
}

static bool nso_copy(char *dst, const char *src, struct sess *se, int *ret)
{
	char msg[128];
	int err = ns_path_check(src, msg, sizeof(msg));

	if (err) {
		*ret = ctl_send_error(se->sock, -err, "%s", msg);
		return false;
	}
	memcpy(dst, src, strlen(src) + 1);
	return true;
}

/* Directory volume @name for @se (@rw: to change it): its index, or -1
 * with the refusal sent (its result in *@ret). */
static int nso_dir(struct ctlplane *cp, struct sess *se, const char *name, bool rw, int *ret)
{
	char err[512];
	int vi = sess_dir_access(cp->st, se, name, rw, err, sizeof(err));

	if (vi >= 0)
		return vi;
	*ret = ctl_send_error(se->sock, -vi, "%s", err);
	return -1;
}

int nso_open_file(struct ctlplane *cp, struct sess *se, const Ringd__OpenFile *of, bool replay)
{
	uint32_t f = of->flags;
	bool refused, rw = (f & RINGD_RDWR) != 0;
	struct ns_job *j;
	int vi, ret;

	ret = nso_refused(se, &refused);
	if (refused)
		return ret;
	if (f & ~NSO_FLAGS)
		return ctl_send_error(se->sock, EINVAL, "unknown open flags 0x%x", f & ~NSO_FLAGS);
	if ((f & (RINGD_CREAT | RINGD_TRUNC)) && !rw)
		return ctl_send_error(se->sock, EINVAL,
				      "RINGD_CREAT and RINGD_TRUNC need RINGD_RDWR");
	if ((f & RINGD_EXCL) && !(f & RINGD_CREAT))
		return ctl_send_error(se->sock, EINVAL, "RINGD_EXCL needs RINGD_CREAT");
	vi = nso_dir(cp, se, of->volume, rw, &ret);
	if (vi < 0)
		return ret;
	if (se->handles_open >= se->nhandles)
		return ctl_send_error(se->sock, EMFILE,
				      "all %u volume handles of this session are open",
				      se->nhandles);
	/* A storm of opens past the tenant's files never reaches the worker. */
	if (use_get(cp->use, se->tenant).files >= cp->cfg->tenants[se->tenant].max_open_files)
		return ctl_send_error(
		    se->sock, EMFILE, "tenant %s has max_open_files = %u files open",
		    cp->cfg->tenants[se->tenant].name, cp->cfg->tenants[se->tenant].max_open_files);
	j = nso_job(cp, se, NS_OPEN, vi);
	if (j) {
		if (!nso_copy(j->path, of->path, se, &ret)) {
			ns_job_free(j);
			return ret;
		}
		/* Replayed: the first try may have created it. */
		j->oflags = (cp->vols->vv[vi].readonly ? O_RDONLY : O_RDWR) |
			    (cp->vols->v[vi].direct ? O_DIRECT : 0) |
			    ((f & RINGD_CREAT) ? O_CREAT : 0) |
			    ((f & RINGD_EXCL) && !replay ? O_EXCL : 0);
		j->mode = of->has_mode && of->mode ? of->mode & 0777 : 0600;
		j->want = f;
	}
	return nso_submit(cp, se, j);
}

int nso_path_op(struct ctlplane *cp, struct sess *se, const Ringd__PathOp *po, bool replay)
{
	static const enum ns_op ops[] = { NS_UNLINK, NS_MKDIR, NS_RENAME, NS_STAT };
	bool refused;
	struct ns_job *j;
	int vi, ret;

	ret = nso_refused(se, &refused);
	if (refused)
		return ret;
	if ((unsigned int)po->kind >= sizeof(ops) / sizeof(ops[0]))
		return ctl_send_error(se->sock, EINVAL, "unknown path operation %d", (int)po->kind);
	if (po->kind == RINGD__PATH_OP__KIND__RENAME && !po->path2)
		return ctl_send_error(se->sock, EINVAL, "rename needs a new name");
	vi = nso_dir(cp, se, po->volume, po->kind != RINGD__PATH_OP__KIND__STAT, &ret);
	if (vi < 0)
		return ret;
	j = nso_job(cp, se, ops[po->kind], vi);
	if (j) {
		if (!nso_copy(j->path, po->path, se, &ret) ||
		    (po->kind == RINGD__PATH_OP__KIND__RENAME &&
		     !nso_copy(j->path2, po->path2, se, &ret))) {
			ns_job_free(j);
			return ret;
		}
		j->mode = po->has_mode && po->mode ? po->mode & 0777 : 0700;
		j->replay = replay;
	}
	return nso_submit(cp, se, j);
}

/* @se's open handle @h on a file, or NULL (the error reply is in *@ret). */
static const struct val_handle *nso_file_handle(struct ctlplane *cp, struct sess *se, int32_t h,
						int *ret)
{
	const struct val_handle *vh;
	bool refused;

	*ret = nso_refused(se, &refused);
	if (refused)
		return NULL;
	if (h < 0 || (uint32_t)h >= se->nhandles || !se->handles[h].open) {
		*ret = ctl_send_error(se->sock, EBADF, "handle %d is not open", h);
		return NULL;
	}
	vh = &se->handles[h];
	if (vh->revoked) {
		*ret = ctl_send_error(se->sock, -vh->revoked, "handle %d: access revoked", h);
		return NULL;
	}
	if (cp->vols->vv[vh->vol].removed) {
		*ret = ctl_send_error(se->sock, ENODEV, "handle %d: the volume was removed", h);
		return NULL;
	}
	return vh;
}

/*
 * Keep file @idx open until truncate job @j is done (nso_event() lets go):
 * were it closed first (its session gone), its bytes would be settled
 * before the truncate changed them, and a tenant could grow files past
 * the volume's size by closing its session behind each truncate.
 */
static void nso_hold(struct ctlplane *cp, struct ns_job *j, uint32_t idx)
{
	cp->vols->files[idx - VOLS_MAX].refs++;
	j->file = idx;
}

int nso_truncate(struct ctlplane *cp, struct sess *se, const Ringd__Truncate *tr)
{
	const struct val_handle *vh;
	struct vols_file *f;
	struct ns_job *j;
	int ret = 0;

	vh = nso_file_handle(cp, se, tr->handle, &ret);
	if (!vh)
		return ret;
	if (!vols_is_file(vh->vol))
		return ctl_send_error(
		    se->sock, EINVAL,
		    "handle %d is a volume, not a file: volumes have a fixed size", tr->handle);
	if (!vh->writable)
		return ctl_send_error(se->sock, EBADF, "handle %d is read-only", tr->handle);
	f = &cp->vols->files[vh->vol - VOLS_MAX];
	if (f->lock_owner && f->lock_owner != se->id)
		return ctl_send_error(se->sock, EBUSY, "the file is locked by another session");
	j = nso_job(cp, se, NS_TRUNCATE, (int)f->dir);
	if (!j)
		return nso_submit(cp, se, NULL);
	j->old_size = f->size;
	if (vols_file_grow(cp->vols, vh->vol, tr->size)) {
		ns_job_free(j);
		return ctl_send_error(se->sock, EDQUOT,
				      "truncate to %llu bytes would take volume '%s' past its size",
				      (unsigned long long)tr->size, cp->vols->v[f->dir].name);
	}
	j->fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 3);
	j->size = tr->size;
	j->handle = tr->handle;
	j->st = (struct ns_inode){ .valid = true, .dev = f->dev, .ino = f->ino };
	if (j->fd < 0) {
		ns_job_free(j);
		j = NULL;
	} else
		nso_hold(cp, j, vh->vol);
	return nso_submit(cp, se, j);
}

/* Fill @o for file or volume @idx. */
static void nso_opened(struct ctlplane *cp, uint32_t idx, int32_t handle, uint64_t size,
		       Ringd__Opened *o)
{
	const struct vol *v = vols_get(cp->vols, idx);

	o->handle = handle;
	o->size = size;
	o->block_size = v ? v->block_size : 4096;
	o->align = cp->vols->vv[idx].align;
	o->flags = (v && v->direct ? RINGD_VOL_DIRECT : 0) |
		   (cp->vols->vv[idx].readonly ? RINGD_VOL_READONLY : 0) |
		   (v && v->blockdev ? RINGD_VOL_BLOCKDEV : 0) |
		   (vols_is_file(idx) ? RINGD_VOL_FILE : 0);
}

static int nso_send_opened(struct sess *se, const Ringd__Opened *o)
{
	Ringd__Reply r = RINGD__REPLY__INIT;

	r.msg_case = RINGD__REPLY__MSG_OPENED;
	r.opened = (Ringd__Opened *)o;
	return ctl_send(se->sock, &r, NULL, 0);
}

static int nso_send_done(struct sess *se)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Done d = RINGD__DONE__INIT;

	r.msg_case = RINGD__REPLY__MSG_DONE;
	r.done = &d;
	return ctl_send(se->sock, &r, NULL, 0);
}

int nso_fstat(struct ctlplane *cp, struct sess *se, const Ringd__Fstat *fs)
{
	Ringd__Opened o = RINGD__OPENED__INIT;
	const struct val_handle *vh;
	uint64_t size;
	int ret = 0;

	vh = nso_file_handle(cp, se, fs->handle, &ret);
	if (!vh)
		return ret;
	size = cp->vols->vv[vh->vol].size;
	if (vols_is_file(vh->vol)) {
		struct stat st;

		/* The inode is in memory while the file is open: no I/O. */
		if (fstat(cp->vols->files[vh->vol - VOLS_MAX].fd, &st) < 0)
			return ctl_send_error(se->sock, errno, "fstat: %s", strerror(errno));
		size = (uint64_t)st.st_size;
	}
	nso_opened(cp, vh->vol, fs->handle, size, &o);
	return nso_send_opened(se, &o);
}

/* Whether file index @idx still is the inode job @j worked on. */
static bool nso_same_file(const struct ctlplane *cp, uint32_t idx, const struct ns_job *j)
{
	const struct vols_file *f = &cp->vols->files[idx - VOLS_MAX];

	return vols_is_file(idx) && f->used && f->dev == j->st.dev && f->ino == j->st.ino;
}

/* An open job done: install the file for @se, then truncate it if asked. */
static int nso_opened_file(struct ctlplane *cp, struct sess *se, struct ns_job *j, bool *more)
{
	Ringd__Opened o = RINGD__OPENED__INIT;
	bool rw = (j->want & RINGD_RDWR) != 0;
	char err[256];
	int idx, handle, ret;

	if (cp->vols->vv[j->vol].removed)
		return ctl_send_error(se->sock, ENODEV, "volume '%s' was removed",
				      cp->vols->v[j->vol].name);
	idx = vols_file_get(cp->vols, j->vol, j->fd, j->st.dev, j->st.ino, j->st.size);
	j->fd = -1;
	if (idx < 0)
		return ctl_send_error(se->sock, -idx,
				      idx == -EMFILE ? "the daemon has %u files open: close some"
						     : "cannot register the file (%u max)",
				      VOLS_FILES);
	/* Replayed after a restart that came after the first try installed it:
	 * that handle (its lock included), not a second one. */
	handle = sess_handle_of_request(cp->st, se, (uint32_t)idx, rw);
	if (handle >= 0) {
		vols_file_put(cp->vols, (uint32_t)idx, se->id, false);
	} else {
		ret = sess_file_install(cp->st, se, (uint32_t)idx, rw, (j->want & RINGD_LOCK) != 0,
					&handle, err, sizeof(err));
		if (ret)
			return ctl_send_error(se->sock, -ret, "%s", err);
	}
	if ((j->want & RINGD_TRUNC) && cp->vols->files[idx - VOLS_MAX].lock_owner != se->id &&
	    cp->vols->files[idx - VOLS_MAX].lock_owner) {
		sess_handle_close(cp->st, se, handle);
		return ctl_send_error(se->sock, EBUSY,
				      "RINGD_TRUNC: the file is locked by another session");
	}
	if ((j->want & RINGD_TRUNC) && cp->vols->files[idx - VOLS_MAX].size) {
		struct vols_file *f = &cp->vols->files[idx - VOLS_MAX];
		struct ns_job *t;

		t = nso_job(cp, se, NS_TRUNCATE, (int)j->vol);
		if (t) {
			t->fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 3);
			t->handle = handle;
			t->want = j->want;
			t->st = j->st;
			t->old_size = f->size;
		}
		if (!t || t->fd < 0) {
			ns_job_free(t);
			sess_handle_close(cp->st, se, handle);
			return ctl_send_error(se->sock, ENOMEM, "out of memory for the truncate");
		}
		nso_hold(cp, t, (uint32_t)idx);
		*more = true;
		return nso_submit(cp, se, t);
	}
	nso_opened(cp, (uint32_t)idx, handle, cp->vols->files[idx - VOLS_MAX].size, &o);
	return nso_send_opened(se, &o);
}

/* A truncate done (ringd_truncate(), or RINGD_TRUNC of an open). */
static int nso_truncated(struct ctlplane *cp, struct sess *se, struct ns_job *j)
{
	Ringd__Opened o = RINGD__OPENED__INIT;
	const struct val_handle *vh = &se->handles[j->handle];
	bool from_open = j->want != 0;

	if (!vh->open || !nso_same_file(cp, vh->vol, j)) {
		if (j->res)
			return ctl_send_error(se->sock, -j->res, "%s", j->msg);
		return from_open ? ctl_send_error(se->sock, EBADF, "the file was closed")
				 : nso_send_done(se);
	}
	if (j->res) {
		if (from_open)
			sess_handle_close(cp->st, se, j->handle);
		return ctl_send_error(se->sock, -j->res, "%s", j->msg);
	}
	vols_file_shrunk(cp->vols, vh->vol, j->size);
	if (!from_open)
		return nso_send_done(se);
	nso_opened(cp, vh->vol, j->handle, j->size, &o);
	return nso_send_opened(se, &o);
}

/* Apply job @j's effects on the daemon's tables (whether or not its
 * session is still there), then answer @se if it is. */
static int nso_finish(struct ctlplane *cp, struct sess *se, struct ns_job *j, bool *more)
{
	Ringd__Opened o = RINGD__OPENED__INIT;

	/* What it made stays made, even if a later step of it failed. */
	if (j->entry_held || j->created)
		vols_entry_settle(cp->vols, j->vol, j->entry_held, j->created);
	if (!j->res && j->op == NS_UNLINK && j->st.valid)
		vols_entry_gone(cp->vols, j->vol);
	if (!j->res && j->op == NS_RENAME && j->gone.valid)
		vols_entry_gone(cp->vols, j->vol);
	if (!j->res && j->op == NS_UNLINK && j->st.isreg)
		vols_file_gone(cp->vols, j->vol, j->st.dev, j->st.ino, j->st.size);
	if (!j->res && j->op == NS_RENAME && j->gone.valid && j->gone.isreg)
		vols_file_gone(cp->vols, j->vol, j->gone.dev, j->gone.ino, j->gone.size);
	if (j->op == NS_TRUNCATE && !se) {
		if (!j->res)
			vols_file_shrunk(cp->vols, j->file, j->size);
		return 0;
	}
	if (!se)
		return 0;
	if (j->op == NS_TRUNCATE)
		return nso_truncated(cp, se, j);
	if (j->res)
		return ctl_send_error(se->sock, -j->res, "%s", j->msg);
	switch (j->op) {
	case NS_OPEN:
		return nso_opened_file(cp, se, j, more);
	case NS_STAT:
		nso_opened(cp, j->vol, -1, j->st.size, &o);
		o.flags |= RINGD_VOL_FILE;
		return nso_send_opened(se, &o);
	default:
		return nso_send_done(se);
	}
}

void nso_event(struct ctlplane *cp)
{
	struct ns_job *j = ns_reap(&cp->ns);

	while (j) {
		struct ns_job *next = j->next;
		struct sess *se = sess_at(cp->st, j->slot);
		bool more = false;

		if (se && (se->id != j->sid || se->sock < 0 || se->state == SESS_CLOSING ||
			   se->state == SESS_FREED))
			se = NULL;
		if (j->op == NS_REGION && se) {
			cp_hello_made(cp, se, j);
			ns_job_free(j);
			j = next;
			continue;
		}
		if (j->op == NS_REGION && j->map) {
			/* Its session is gone: the worker frees the memory too. */
			j->op = NS_UNMAP;
			j->slot = UINT32_MAX;
			ns_submit(&cp->ns, j);
			j = next;
			continue;
		}
		if (se)
			se->ns_busy = false;
		if (nso_finish(cp, se, j, &more) && se)
			sess_close(cp->st, se);
		else if (se && !more) {
			/* After the answer: a restart in between sends a Restarted
			 * for a seq the client is already past, which it ignores. */
			sess_ctl_answered(cp->st, se, true);
			cp_resume(cp, se);
		}
		if (j->op == NS_TRUNCATE)
			vols_file_put(cp->vols, j->file, 0, false);
		ns_job_free(j);
		j = next;
	}
}
