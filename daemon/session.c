/* SPDX-License-Identifier: MIT */
/*
 * sess_: a client session. Its memfd (header, SQ array, SQEs, CQEs, data
 * area) is created, sealed and mapped here; the data area is registered as
 * the session's fixed buffer. A session is freed only after every kernel
 * request and poll that refers to it has completed.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sysd.h"

#define SESS_DEFAULT_SQ	  128u
#define SESS_MAX_SQ	  4096u
#define SESS_MAX_CQ	  16384u
#define SESS_DEFAULT_DATA (4ull << 20)
#define SESS_MAX_DATA	  (1ull << 30) /* the kernel's limit for one fixed buffer */
#define SESS_PAGE	  4096ull

struct sess_layout {
	uint32_t sq_entries, cq_entries;
	uint64_t sq_array_off, sqes_off, cqes_off, data_off, data_size, region_size;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint32_t pow2_roundup(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Sizes from a Hello, within the tenant's budget. Returns 0 or -errno. */
static int sess_layout(const Ringd__Hello *h, uint64_t budget, struct sess_layout *l, char *err,
		       size_t errlen)
{
	uint32_t sq = h->has_sq_entries && h->sq_entries ? h->sq_entries : SESS_DEFAULT_SQ;
	uint32_t cq;
	uint64_t data = h->has_data_size && h->data_size ? h->data_size : SESS_DEFAULT_DATA;
	uint64_t rings;

	if (sq > SESS_MAX_SQ) {
		snprintf(err, errlen, "sq_entries %u is above the maximum %u", sq, SESS_MAX_SQ);
		return -EINVAL;
	}
	sq = pow2_roundup(sq);
	cq = h->has_cq_entries && h->cq_entries ? h->cq_entries : 2 * sq;
	if (cq > SESS_MAX_CQ) {
		snprintf(err, errlen, "cq_entries %u is above the maximum %u", cq, SESS_MAX_CQ);
		return -EINVAL;
	}
	cq = pow2_roundup(cq);
	if (cq < sq) {
		snprintf(err, errlen, "cq_entries %u is below sq_entries %u", cq, sq);
		return -EINVAL;
	}
	if (data > SESS_MAX_DATA) {
		snprintf(err, errlen, "data area of %llu bytes is above the 1 GiB maximum",
			 (unsigned long long)data);
		return -ENOMEM;
	}
	data = align_up(data, SESS_PAGE);
	l->sq_entries = sq;
	l->cq_entries = cq;
	l->sq_array_off = sizeof(struct ringd_shm_hdr);
	l->sqes_off = align_up(l->sq_array_off + 4ull * sq, RINGD_CACHELINE);
	l->cqes_off =
	    align_up(l->sqes_off + sizeof(struct ringd_sqe) * (uint64_t)sq, RINGD_CACHELINE);
	l->data_off = align_up(l->cqes_off + sizeof(struct ringd_cqe) * (uint64_t)cq, SESS_PAGE);
	rings = l->data_off;
	/* A default-sized request shrinks to fit; an explicit one must fit. */
	if (rings + data > budget && !(h->has_data_size && h->data_size) && budget > rings)
		data = (budget - rings) & ~(SESS_PAGE - 1);
	l->data_size = data;
	l->region_size = l->data_off + data;
	if (l->region_size > budget) {
		snprintf(err, errlen,
			 "session needs %llu bytes (rings %llu + data %llu); the tenant's "
			 "max_session_memory is %llu",
			 (unsigned long long)l->region_size, (unsigned long long)rings,
			 (unsigned long long)data, (unsigned long long)budget);
		return -ENOMEM;
	}
	return 0;
}

/* Create, size, seal and map the session memfd. Returns 0 or -errno. */
static int sess_region_create(struct sess *se, size_t len)
{
	int fd, ret;
	void *p;

	fd = memfd_create("ringd-session", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		ret = -errno;
		goto out_close;
	}
	/* A client must not be able to shrink the region and SIGBUS us. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto out_close;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out_close;
	}
	se->memfd = fd;
	se->base = p;
	se->region_size = len;
	return 0;

out_close:
	close(fd);
	return ret;
}

int sess_new(struct srv *s, int sock, struct sess **out)
{
	struct sess *se;
	uint32_t slot;

	if (s->nsessions >= s->cfg.max_sessions)
		return -EUSERS;
	for (slot = 0; slot < s->cfg.max_sessions; slot++)
		if (!s->sessions[slot])
			break;
	if (slot == s->cfg.max_sessions)
		return -EUSERS;
	se = calloc(1, sizeof(*se));
	if (!se)
		return -ENOMEM;
	se->slot = slot;
	se->id = ++s->next_session_id;
	se->state = SESS_HANDSHAKE;
	se->sock = sock;
	se->memfd = -1;
	se->wake_fd = -1;
	se->tenant = -1;
	s->sessions[slot] = se;
	s->nsessions++;
	*out = se;
	return 0;
}

static void sess_list_add(struct srv *s, struct sess *se)
{
	se->prev_active = NULL;
	se->next_active = s->active;
	if (s->active)
		s->active->prev_active = se;
	s->active = se;
	se->listed = true;
}

static void sess_list_del(struct srv *s, struct sess *se)
{
	if (!se->listed)
		return;
	if (se->prev_active)
		se->prev_active->next_active = se->next_active;
	else
		s->active = se->next_active;
	if (se->next_active)
		se->next_active->prev_active = se->prev_active;
	se->listed = false;
}

void sess_fd_name(const struct sess *se, const char *kind, char *buf, size_t len)
{
	snprintf(buf, len, "s%u.%llu.%s", se->slot, (unsigned long long)se->id, kind);
}

void sess_journal_handles(struct srv *s, struct sess *se)
{
	struct jr_sess *js = &s->jr.sess[se->slot];
	uint32_t i, n = se->nhandles < JR_MAX_HANDLES ? se->nhandles : JR_MAX_HANDLES;

	for (i = 0; i < n; i++) {
		js->handles[i].vol = se->handles[i].vol;
		js->handles[i].writable = se->handles[i].writable;
		js->handles[i].write_revoked = se->handles[i].write_revoked;
		js->handles[i].revoked = se->handles[i].revoked;
		js->handles[i].open = se->handles[i].open;
	}
	js->nhandles = n;
}

/*
 * Record a newly attached session in the journal, and hand its fds to
 * systemd's fd store so that a restarted daemon can re-adopt it.
 */
static void sess_journal_attach(struct srv *s, struct sess *se, const struct sess_layout *l)
{
	struct jr_sess *js = &s->jr.sess[se->slot];
	char name[64];

	memset(js, 0, sizeof(*js));
	js->id = se->id;
	js->uid = se->uid;
	js->gid = se->gid;
	js->pid = (uint32_t)se->pid;
	js->sq_entries = l->sq_entries;
	js->cq_entries = l->cq_entries;
	js->region_size = l->region_size;
	js->sq_array_off = l->sq_array_off;
	js->sqes_off = l->sqes_off;
	js->cqes_off = l->cqes_off;
	js->data_off = l->data_off;
	js->data_size = l->data_size;
	sess_journal_handles(s, se);
	if (s->jr.hdr->next_session_id < se->id)
		s->jr.hdr->next_session_id = se->id;
	jr_commit(&js->state, JR_SESS_ACTIVE);
	sess_fd_name(se, "ctl", name, sizeof(name));
	sysd_fdstore(name, se->sock);
	sess_fd_name(se, "mem", name, sizeof(name));
	sysd_fdstore(name, se->memfd);
	sess_fd_name(se, "wake", name, sizeof(name));
	sysd_fdstore(name, se->wake_fd);
}

int sess_attach(struct srv *s, struct sess *se, const Ringd__Hello *hello, char *err, size_t errlen)
{
	const struct cfg_tenant *t = &s->cfg.tenants[se->tenant];
	struct sess_layout l;
	int wake[2];
	int ret;

	ret = sess_layout(hello, t->max_session_memory, &l, err, errlen);
	if (ret)
		return ret;
	ret = sess_region_create(se, l.region_size);
	if (ret) {
		snprintf(err, errlen, "cannot create the session memory: %s", strerror(-ret));
		return ret;
	}
	se->hdr = se->base;
	se->sq_array = (uint32_t *)((char *)se->base + l.sq_array_off);
	se->sqes = (struct ringd_sqe *)((char *)se->base + l.sqes_off);
	se->cqes = (struct ringd_cqe *)((char *)se->base + l.cqes_off);
	se->data = (uint8_t *)se->base + l.data_off;
	se->data_size = l.data_size;
	se->sq_entries = l.sq_entries;
	se->cq_entries = l.cq_entries;
	se->max_inflight = t->max_inflight;
	se->hdr->magic = RINGD_SHM_MAGIC;
	se->hdr->abi_version = RINGD_ABI_VERSION;
	se->hdr->sq_entries = l.sq_entries;
	se->hdr->cq_entries = l.cq_entries;
	se->hdr->region_size = l.region_size;
	se->hdr->data_off = l.data_off;
	se->hdr->data_size = l.data_size;

	se->nhandles = t->max_open_volumes;
	se->handles = calloc(se->nhandles, sizeof(*se->handles));
	if (!se->handles) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = srv_buf_set(s, se->slot, se->data, se->data_size);
	if (ret) {
		snprintf(err, errlen, "cannot register the data area: %s", strerror(-ret));
		return ret;
	}
	se->buf_registered = true;

	/*
	 * One datagram socketpair carries doorbells (client -> daemon) and
	 * notifications (daemon -> client). Not an eventfd or a pipe: each
	 * side has its own open file description, so the client cannot change
	 * the blocking mode of ours, drain what we read, or SIGPIPE us, and
	 * every daemon send/recv is MSG_DONTWAIT anyway.
	 */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, wake) < 0) {
		ret = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return ret;
	}
	se->wake_fd = wake[0];

	{
		Ringd__Reply r = RINGD__REPLY__INIT;
		Ringd__Attached a = RINGD__ATTACHED__INIT;
		/* The third fd lets a client that reconnects after a crash wait
		 * until none of this instance's I/O can still land (see srv_init). */
		int fds[3] = { se->memfd, wake[1], s->ringlive_rd };

		a.session_id = se->id;
		a.sq_entries = l.sq_entries;
		a.cq_entries = l.cq_entries;
		a.region_size = l.region_size;
		a.sq_array_off = l.sq_array_off;
		a.sqes_off = l.sqes_off;
		a.cqes_off = l.cqes_off;
		a.data_off = l.data_off;
		a.data_size = l.data_size;
		a.max_io_size = s->cfg.max_io_size;
		r.msg_case = RINGD__REPLY__MSG_ATTACHED;
		r.attached = &a;
		ret = ctl_send(se->sock, &r, fds, 3);
		close(wake[1]);
		if (ret) {
			snprintf(err, errlen, "cannot send the session fds: %s", strerror(-ret));
			return ret;
		}
	}
	sess_journal_attach(s, se, &l);
	se->state = SESS_ACTIVE;
	sess_list_add(s, se);
	return 0;
}

/* Wake the client if it sleeps (or always, with RINGD_CQ_EVENTFD). */
static void sess_notify(struct sess *se, bool force)
{
	static const char b = 1;
	uint32_t flags;

	if (se->wake_fd < 0 || !se->hdr)
		return;
	flags = ringd_load_relaxed(&se->hdr->cq_flags);
	if (force || (flags & (RINGD_CQ_WAITING | RINGD_CQ_EVENTFD))) {
		/* Non-blocking; a full pipe already holds a pending wake-up. */
		if (send(se->wake_fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			log_debug("session %llu: notify: %s", (unsigned long long)se->id,
				  strerror(errno));
	}
}

void sess_wake(struct sess *se)
{
	sess_notify(se, true);
}

int sess_restore(struct srv *s, uint32_t slot, const struct jr_sess *js, int ctl, int memfd,
		 int wake)
{
	struct stat st;
	struct sess *se;
	uint32_t i, h;
	void *p;
	int ret;

	if (!js->sq_entries || (js->sq_entries & (js->sq_entries - 1)) || !js->cq_entries ||
	    (js->cq_entries & (js->cq_entries - 1)) ||
	    js->data_off + js->data_size > js->region_size)
		return -EINVAL;
	if (fstat(memfd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size != js->region_size)
		return -EINVAL;
	se = calloc(1, sizeof(*se));
	if (!se)
		return -ENOMEM;
	p = mmap(NULL, js->region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, memfd,
		 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out_free;
	}
	se->slot = slot;
	se->id = js->id;
	se->uid = js->uid;
	se->gid = js->gid;
	se->pid = (pid_t)js->pid;
	se->sock = ctl;
	se->memfd = memfd;
	se->wake_fd = wake;
	se->base = p;
	se->region_size = js->region_size;
	/* Layout from the journal only, never from the shared header. */
	se->hdr = p;
	se->sq_array = (uint32_t *)((char *)p + js->sq_array_off);
	se->sqes = (struct ringd_sqe *)((char *)p + js->sqes_off);
	se->cqes = (struct ringd_cqe *)((char *)p + js->cqes_off);
	se->data = (uint8_t *)p + js->data_off;
	se->data_size = js->data_size;
	se->sq_entries = js->sq_entries;
	se->cq_entries = js->cq_entries;
	se->sq_head = js->sq_head;
	se->cq_tail = js->cq_tail;
	se->state = js->state == JR_SESS_BROKEN ? SESS_BROKEN : SESS_ACTIVE;
	se->tenant = srv_tenant_for(&s->cfg, se->uid, se->gid);
	se->max_inflight = se->tenant >= 0 ? s->cfg.tenants[se->tenant].max_inflight : 256;
	se->nhandles = JR_MAX_HANDLES;
	se->handles = calloc(se->nhandles, sizeof(*se->handles));
	if (!se->handles) {
		ret = -ENOMEM;
		goto out_unmap;
	}
	for (i = 0; i < js->nhandles && i < JR_MAX_HANDLES; i++) {
		const struct jr_handle *jh = &js->handles[i];

		if (!jh->open)
			continue;
		se->handles[i].open = true;
		se->handles[i].writable = jh->writable;
		se->handles[i].write_revoked = jh->write_revoked;
		se->handles[i].revoked = jh->revoked;
		/* A volume this instance does not have is "removed": -ENODEV. */
		se->handles[i].vol = jh->vol < s->nvols ? jh->vol : 0;
		if (jh->vol >= s->nvols)
			se->handles[i].revoked = -ENODEV;
		se->handles_open++;
	}
	/* The client's CQ head must lie within what was posted. */
	h = ringd_load_acquire(&se->hdr->cq_head);
	se->cq_head_seen = h;
	ret = srv_buf_set(s, slot, se->data, se->data_size);
	if (ret)
		goto out_handles;
	se->buf_registered = true;
	s->sessions[slot] = se;
	s->nsessions++;
	if (se->tenant >= 0)
		s->usage[se->tenant].sessions++;
	srv_session_rights(s, se, NULL);
	ringd_store_release(&se->hdr->sq_head, se->sq_head);
	ringd_store_release(&se->hdr->cq_tail, se->cq_tail);
	if ((uint32_t)(se->cq_tail - h) > se->cq_entries) {
		se->state = SESS_ACTIVE;
		sess_break(s, se, RINGD_BROKEN_CQ_HEAD);
	} else if (se->state == SESS_ACTIVE) {
		sess_list_add(s, se);
		if (s->sleeping)
			__atomic_fetch_or(&se->hdr->sq_flags, RINGD_SQ_NEED_WAKEUP,
					  __ATOMIC_SEQ_CST);
	}
	srv_arm_session_poll(s, se, true);
	if (se->state != SESS_CLOSING)
		srv_arm_session_poll(s, se, false);
	log_info("session %llu: re-adopted (pid %d uid %u, sq head %u, cq tail %u)",
		 (unsigned long long)se->id, (int)se->pid, (unsigned int)se->uid, se->sq_head,
		 se->cq_tail);
	return 0;

out_handles:
	free(se->handles);
out_unmap:
	munmap(p, js->region_size);
out_free:
	free(se);
	return ret;
}

void sess_break(struct srv *s, struct sess *se, enum ringd_broken reason)
{
	static const char *const why[] = {
		[RINGD_BROKEN_SQ_TAIL] = "SQ tail moved backwards or past the ring size",
		[RINGD_BROKEN_SQ_INDEX] = "SQ array entry out of range",
		[RINGD_BROKEN_CQ_HEAD] = "CQ head beyond the tail or moved backwards",
		[RINGD_BROKEN_STALL] = "CQ not reaped within stall_timeout",
		[RINGD_BROKEN_PROTOCOL] = "control protocol violation",
		[RINGD_BROKEN_SHUTDOWN] = "daemon shutting down",
	};

	if (se->state != SESS_ACTIVE && se->state != SESS_HANDSHAKE)
		return;
	log_warn("session %llu (pid %d uid %u): broken: %s", (unsigned long long)se->id,
		 (int)se->pid, (unsigned int)se->uid, why[reason]);
	se->state = SESS_BROKEN;
	se->broken_reason = (uint32_t)reason;
	sess_list_del(s, se);
	if (s->jr.sess[se->slot].state == JR_SESS_ACTIVE) {
		s->jr.sess[se->slot].broken_reason = reason;
		jr_commit(&s->jr.sess[se->slot].state, JR_SESS_BROKEN);
	}
	if (se->hdr) {
		/* Completions first: a client that sees "broken" has seen them. */
		sess_publish_cq(se);
		__atomic_store_n(&se->hdr->broken_reason, (uint32_t)reason, __ATOMIC_RELEASE);
		sess_notify(se, true);
	}
	/* No more doorbells: the wake-up fd is closed when its poll ends. */
	if (se->doorbell_poll) {
		sess_remove_poll(s, se, true);
		if (se->wake_fd >= 0)
			shutdown(se->wake_fd, SHUT_RD);
	}
	sess_maybe_release(s, se);
}

/*
 * Drop a broken session's shared memory once no kernel I/O can touch it:
 * unregister the data area, unmap, close the memfd. The control socket and
 * the private broken_reason stay until the client disconnects, so it can
 * still ask why (Stats); nothing of the ring is read again.
 */
void sess_maybe_release(struct srv *s, struct sess *se)
{
	if (se->state != SESS_BROKEN || se->inflight || !se->base)
		return;
	/* Completions that arrived while draining are the client's to see. */
	sess_publish_cq(se);
	if (se->buf_registered) {
		int ret = kr_buf_clear(&s->kr, se->slot);

		if (ret)
			log_err("session %llu: unregister buffer slot %u: %s",
				(unsigned long long)se->id, se->slot, strerror(-ret));
		se->buf_registered = false;
	}
	munmap(se->base, se->region_size);
	se->base = NULL;
	se->hdr = NULL;
	se->sq_array = NULL;
	se->sqes = NULL;
	se->cqes = NULL;
	se->data = NULL;
	if (se->memfd >= 0) {
		close(se->memfd);
		se->memfd = -1;
	}
	log_debug("session %llu: broken, shared memory released", (unsigned long long)se->id);
}

void sess_remove_poll(struct srv *s, struct sess *se, bool doorbell)
{
	kr_queue_poll_remove(&s->kr, srv_tag(doorbell ? TAG_DOORBELL : TAG_CTRL, se->slot),
			     srv_tag(TAG_POLLRM, (se->slot << 1) | (doorbell ? 1u : 0u)));
}

void sess_close(struct srv *s, struct sess *se)
{
	if (se->state == SESS_CLOSING)
		return;
	log_debug("session %llu: closing (%u in flight)", (unsigned long long)se->id, se->inflight);
	sess_list_del(s, se);
	se->state = SESS_CLOSING;
	/*
	 * Cancel both polls. A removal can miss a poll armed in the same
	 * submission; the shutdowns wake every surviving poll, and
	 * srv_session_poll() asks again when one reports for a closing
	 * session.
	 */
	if (se->ctrl_poll)
		sess_remove_poll(s, se, false);
	if (se->doorbell_poll)
		sess_remove_poll(s, se, true);
	if (se->wake_fd >= 0)
		shutdown(se->wake_fd, SHUT_RDWR);
	/* The client sees its last replies, then EOF; armed polls hold
	 * their own file reference. */
	if (se->sock >= 0) {
		ctl_hangup(se->sock);
		se->sock = -1;
	}
	sess_maybe_free(s, se);
}

void sess_maybe_free(struct srv *s, struct sess *se)
{
	if (se->state != SESS_CLOSING || se->inflight || se->polls_armed)
		return;
	if (s->jr.sess[se->slot].state != JR_SESS_FREE && !se->admin) {
		char name[64];

		jr_commit(&s->jr.sess[se->slot].state, JR_SESS_FREE);
		sess_fd_name(se, "ctl", name, sizeof(name));
		sysd_fdstore_remove(name);
		sess_fd_name(se, "mem", name, sizeof(name));
		sysd_fdstore_remove(name);
		sess_fd_name(se, "wake", name, sizeof(name));
		sysd_fdstore_remove(name);
	}
	/* No kernel I/O can touch the data area any more: drop the buffer. */
	if (se->buf_registered) {
		int ret = srv_buf_set(s, se->slot, NULL, 0);

		if (ret)
			log_err("session %llu: unregister buffer slot %u: %s",
				(unsigned long long)se->id, se->slot, strerror(-ret));
	}
	if (se->base)
		munmap(se->base, se->region_size);
	if (se->memfd >= 0)
		close(se->memfd);
	if (se->wake_fd >= 0)
		close(se->wake_fd);
	if (se->tenant >= 0 && s->usage[se->tenant].sessions)
		s->usage[se->tenant].sessions--;
	s->sessions[se->slot] = NULL;
	s->nsessions--;
	log_debug("session %llu: freed", (unsigned long long)se->id);
	free(se->handles);
	free(se);
}

void sess_post_cqe(struct sess *se, uint64_t user_data, int32_t res)
{
	struct ringd_cqe c = { .user_data = user_data, .res = res, .flags = 0 };

	/* A slot was reserved when the request was accepted. */
	memcpy(&se->cqes[se->cq_tail & (se->cq_entries - 1)], &c, sizeof(c));
	se->cq_tail++;
	se->cq_dirty = true;
	se->stats.completed++;
	if (res < 0)
		se->stats.errors++;
}

void sess_publish_cq(struct sess *se)
{
	if (!se->cq_dirty)
		return;
	se->cq_dirty = false;
	ringd_store_release(&se->hdr->cq_tail, se->cq_tail);
	/* Publish the tail before reading whether the client sleeps. */
	ringd_smp_mb();
	sess_notify(se, false);
}

int sess_handle_open(struct srv *s, struct sess *se, const char *name, uint32_t flags, int *handle,
		     char *err, size_t errlen)
{
	const struct cfg_tenant *t;
	const struct cfg_grant *g;
	bool rw = flags == RINGD_RDWR;
	unsigned int i;
	int vi;

	if (se->tenant < 0) {
		snprintf(err, errlen, "uid %u no longer belongs to a tenant",
			 (unsigned int)se->uid);
		return -EACCES;
	}
	t = &s->cfg.tenants[se->tenant];

	if (flags != RINGD_RDONLY && flags != RINGD_RDWR) {
		snprintf(err, errlen, "open flags must be RINGD_RDONLY or RINGD_RDWR");
		return -EINVAL;
	}
	vi = srv_volume_find(s, name);
	if (vi < 0) {
		snprintf(err, errlen, "no volume called '%s'", name);
		return -ENOENT;
	}
	g = cfg_tenant_grant(&s->cfg, t, name);
	if (!g) {
		snprintf(err, errlen, "tenant %s may not use volume '%s'", t->name, name);
		return -EACCES;
	}
	if (rw && s->vols[vi].v.readonly) {
		snprintf(err, errlen, "volume '%s' is read-only", name);
		return -EROFS;
	}
	if (rw && !g->rw) {
		snprintf(err, errlen, "tenant %s may only read volume '%s'", t->name, name);
		return -EACCES;
	}
	for (i = 0; i < se->nhandles; i++)
		if (!se->handles[i].open)
			break;
	if (i == se->nhandles) {
		snprintf(err, errlen, "all %u volume handles of this session are open",
			 se->nhandles);
		return -EMFILE;
	}
	se->handles[i].open = true;
	se->handles[i].writable = rw;
	se->handles[i].vol = (uint32_t)vi;
	se->handles_open++;
	sess_journal_handles(s, se);
	*handle = (int)i;
	return 0;
}

int sess_handle_close(struct srv *s, struct sess *se, int handle)
{
	if (handle < 0 || (uint32_t)handle >= se->nhandles || !se->handles[handle].open)
		return -EBADF;
	memset(&se->handles[handle], 0, sizeof(se->handles[handle]));
	se->handles_open--;
	sess_journal_handles(s, se);
	return 0;
}
