/* SPDX-License-Identifier: MIT */
/*
 * sess_: the session table and each session's lifecycle. A session's memfd
 * (header, SQ array, SQEs, CQEs, data area) is created, sealed and mapped
 * here, and its data area registered on every kernel ring.
 *
 * Lifecycle (the code follows this table; nothing else changes state):
 *
 *   from        event                                    to
 *   ----------  ---------------------------------------  ----------------
 *   (accept)    sess_new                                 HANDSHAKE
 *   HANDSHAKE   Hello accepted (sess_attach)             ACTIVE
 *   HANDSHAKE   admin Hello (sess_admin)                 ACTIVE (admin)
 *   HANDSHAKE   bad message, EOF, deadline (sess_close)  CLOSING
 *   ACTIVE      ring violation, stall, shutdown          BROKEN
 *               (sess_break; the data path only marks)
 *   ACTIVE      EOF, control error (sess_close)          CLOSING
 *   BROKEN      its kernel I/O drained (sess_settle)     BROKEN, memory released
 *   BROKEN      EOF, stall timeout (sess_close)          CLOSING
 *   CLOSING     no kernel I/O, no poll armed             FREED: out of the table,
 *               (sess_settle, sess_poll_end)             counted down
 *   FREED       end of the pass (sess_collect)           memory freed
 *
 * A session is never freed inside a call that was handed its pointer:
 * FREED sessions stay readable until the loop's pass ends, so no caller
 * can be left holding a dangling pointer.
 */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "log.h"
#include "sysd.h"
#include "tags.h"

#define SESS_DEFAULT_SQ	  128u
#define SESS_MAX_SQ	  4096u
#define SESS_MAX_CQ	  16384u
#define SESS_DEFAULT_DATA (4ull << 20)
#define SESS_MAX_DATA	  (1ull << 30) /* the kernel's limit for one fixed buffer */
#define SESS_PAGE	  4096ull

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
	int ret = ns_region_make(len, &se->memfd, &se->base);

	if (!ret)
		se->region_size = len;
	return ret;
}

int sess_table_init(struct sessions *st, const struct cfg *cfg, struct rings *rg, struct vols *vols,
		    struct jr *jr, struct usage *use)
{
	memset(st, 0, sizeof(*st));
	st->cfg = cfg;
	st->rg = rg;
	st->vols = vols;
	st->jr = jr;
	st->use = use;
	st->max = cfg->max_sessions;
	st->broken_log =
	    (struct log_limit)LOG_LIMIT("sessions broken", LOG_LIMIT_BURST, LOG_LIMIT_WINDOW_MS);
	st->slot = calloc(st->max, sizeof(*st->slot));
	return st->slot ? 0 : -ENOMEM;
}

/*
 * Unmap and free what @se still holds (no kernel work refers to it).
 * Freeing the pages of a large region takes milliseconds: the namespace
 * worker does it, if there is one (H51).
 */
static void sess_release_memory(struct sessions *st, struct sess *se)
{
	struct ns_job *j = NULL;

	if (se->base && st->ns && se->region_size >= SESS_REGION_ASYNC)
		j = ns_job_new(NS_UNMAP);
	if (j) {
		j->map = se->base;
		j->size = se->region_size;
		j->fd = se->memfd;
		j->slot = UINT32_MAX;
		j->owner = se->tenant;
		j->tag = ns_vclock(st->ns);
		se->memfd = -1;
		ns_submit(st->ns, j);
	} else if (se->base) {
		munmap(se->base, se->region_size);
	}
	se->base = NULL;
	se->hdr = NULL;
	se->sq_array = NULL;
	se->sqes = NULL;
	se->cqes = NULL;
	se->data = NULL;
	if (se->memfd >= 0)
		close(se->memfd);
	se->memfd = -1;
}

void sess_table_fini(struct sessions *st)
{
	uint32_t i;

	sess_collect(st);
	for (i = 0; st->slot && i < st->max; i++) {
		struct sess *se = st->slot[i];

		if (!se)
			continue;
		sess_release_memory(st, se);
		if (se->wake_fd >= 0)
			close(se->wake_fd);
		if (se->sock >= 0)
			close(se->sock);
		free(se->handles);
		free(se);
	}
	free(st->slot);
	st->slot = NULL;
}

struct sess *sess_at(const struct sessions *st, uint32_t slot)
{
	if (slot >= st->max)
		return NULL;
	return st->slot[idx_nospec(slot, st->max)];
}

/* Move @se to state @to, keeping the table's handshake count. */
static void sess_set_state(struct sessions *st, struct sess *se, enum sess_state to)
{
	if (se->state == SESS_HANDSHAKE && to != SESS_HANDSHAKE)
		st->handshaking--;
	se->state = to;
}

/* Append @se to the list at *@head / *@tail. */
static void sess_link(struct sess **head, struct sess **tail, struct sess *se)
{
	se->next_active = NULL;
	se->prev_active = *tail;
	if (*tail)
		(*tail)->next_active = se;
	else
		*head = se;
	*tail = se;
}

static void sess_unlink(struct sess **head, struct sess **tail, struct sess *se)
{
	if (se->prev_active)
		se->prev_active->next_active = se->next_active;
	else
		*head = se->next_active;
	if (se->next_active)
		se->next_active->prev_active = se->prev_active;
	else
		*tail = se->prev_active;
	se->next_active = se->prev_active = NULL;
}

/* A new active session starts hot (served every pass). */
static void sess_list_add(struct sessions *st, struct sess *se)
{
	sess_link(&st->active, &st->active_tail, se);
	se->listed = true;
	se->cold = false;
	se->last_sqe_ns = clock_now_ns();
	st->nhot++;
	if (st->sleeping)
		__atomic_fetch_or(&se->hdr->sq_flags, RINGD_SQ_NEED_WAKEUP, __ATOMIC_SEQ_CST);
}

static void sess_list_del(struct sessions *st, struct sess *se)
{
	if (!se->listed)
		return;
	if (se->cold) {
		sess_unlink(&st->cold, &st->cold_tail, se);
		st->ncold--;
	} else {
		sess_unlink(&st->active, &st->active_tail, se);
		st->nhot--;
	}
	se->listed = false;
	se->cold = false;
}

bool sess_cool(struct sessions *st, struct sess *se)
{
	if (!se->listed || se->cold || se->state != SESS_ACTIVE || se->inflight)
		return false;
	/* Flag, full fence, then the tail: either we see the client's new
	 * SQEs or the client sees the flag and rings the doorbell. */
	__atomic_fetch_or(&se->hdr->sq_flags, RINGD_SQ_NEED_WAKEUP, __ATOMIC_SEQ_CST);
	ringd_smp_mb();
	if (ringd_load_acquire(&se->hdr->sq_tail) != se->sq_head) {
		if (!st->sleeping)
			__atomic_fetch_and(&se->hdr->sq_flags, ~RINGD_SQ_NEED_WAKEUP,
					   __ATOMIC_RELAXED);
		return false;
	}
	sess_unlink(&st->active, &st->active_tail, se);
	st->nhot--;
	sess_link(&st->cold, &st->cold_tail, se);
	st->ncold++;
	se->cold = true;
	return true;
}

void sess_warm(struct sessions *st, struct sess *se)
{
	if (!se->listed || !se->cold)
		return;
	sess_unlink(&st->cold, &st->cold_tail, se);
	st->ncold--;
	sess_link(&st->active, &st->active_tail, se);
	st->nhot++;
	se->cold = false;
	se->last_sqe_ns = clock_now_ns();
	if (!st->sleeping)
		__atomic_fetch_and(&se->hdr->sq_flags, ~RINGD_SQ_NEED_WAKEUP, __ATOMIC_RELAXED);
}

void sess_rotate(struct sessions *st)
{
	struct sess *first = st->active;

	if (!first || !first->next_active)
		return;
	sess_unlink(&st->active, &st->active_tail, first);
	sess_link(&st->active, &st->active_tail, first);
}

/* Arm @se's control (@ctrl) or doorbell poll; closes the session on failure. */
static void sess_arm_poll(struct sessions *st, struct sess *se, bool ctrl)
{
	int ret = rg_arm_poll(st->rg, ctrl ? se->sock : se->wake_fd,
			      srv_tag(ctrl ? TAG_CTRL : TAG_DOORBELL, se->slot));

	if (ret) {
		log_err("session %llu: cannot arm poll: %s", (unsigned long long)se->id,
			strerror(-ret));
		sess_close(st, se);
		return;
	}
	se->polls_armed++;
	if (ctrl)
		se->ctrl_poll = true;
	else
		se->doorbell_poll = true;
}

/* Ask the kernel to remove @se's control (or @doorbell) poll. */
static void sess_remove_poll(struct sessions *st, struct sess *se, bool doorbell)
{
	rg_remove_poll(st->rg, srv_tag(doorbell ? TAG_DOORBELL : TAG_CTRL, se->slot),
		       srv_tag(TAG_POLLRM, (se->slot << 1) | (doorbell ? 1u : 0u)));
}

int sess_new(struct sessions *st, int sock, pid_t pid, uid_t uid, gid_t gid, int tenant,
	     struct sess **out)
{
	struct sess *se;
	uint32_t slot;

	if (st->n >= st->max)
		return -EUSERS;
	for (slot = 0; slot < st->max; slot++)
		if (!st->slot[slot])
			break;
	if (slot == st->max)
		return -EUSERS;
	se = calloc(1, sizeof(*se));
	if (!se)
		return -ENOMEM;
	se->slot = slot;
	se->chain_tail = UINT32_MAX;
	se->id = ++st->next_id;
	se->state = SESS_HANDSHAKE;
	se->sock = sock;
	se->memfd = -1;
	se->wake_fd = -1;
	se->pid = pid;
	se->uid = uid;
	se->gid = gid;
	se->tenant = tenant;
	st->slot[slot] = se;
	st->n++;
	st->handshaking++;
	use_add_session(st->use, tenant, 0);
	*out = se;
	sess_arm_poll(st, se, true);
	return 0;
}

void sess_admin(struct sessions *st, struct sess *se)
{
	se->admin = true;
	sess_set_state(st, se, SESS_ACTIVE);
}

void sess_fd_name(uint32_t slot, uint64_t id, const char *kind, char *buf, size_t len)
{
	snprintf(buf, len, "s%u.%llu.%s", slot, (unsigned long long)id, kind);
}

/* Mirror the session's handle table into the journal. */
static void sess_journal_handles(struct sessions *st, struct sess *se)
{
	struct jr_sess *js = &st->jr->sess[se->slot];
	uint32_t i, n = se->nhandles < JR_MAX_HANDLES ? se->nhandles : JR_MAX_HANDLES;

	if (se->admin)
		return;
	for (i = 0; i < n; i++) {
		js->handles[i].vol = se->handles[i].vol;
		js->handles[i].writable = se->handles[i].writable;
		js->handles[i].write_revoked = se->handles[i].write_revoked;
		js->handles[i].revoked = se->handles[i].revoked;
		js->handles[i].open = se->handles[i].open;
		js->handles[i].locked = se->handles[i].locked;
	}
	js->nhandles = n;
}

/* Hand (or with @store false, take back) @se's fds to systemd's fd store. */
static void sess_fdstore(struct sess *se, bool store)
{
	static const char *const kinds[3] = { "ctl", "mem", "wake" };
	const int fds[3] = { se->sock, se->memfd, se->wake_fd };
	char name[64];
	int i;

	for (i = 0; i < 3; i++) {
		sess_fd_name(se->slot, se->id, kinds[i], name, sizeof(name));
		if (store)
			sysd_fdstore(name, fds[i]);
		else
			sysd_fdstore_remove(name);
	}
}

/*
 * Record a newly attached session in the journal, and hand its fds to
 * systemd's fd store so that a restarted daemon can re-adopt it.
 */
static void sess_journal_attach(struct sessions *st, struct sess *se, const struct sess_layout *l)
{
	struct jr_sess *js = &st->jr->sess[se->slot];

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
	sess_journal_handles(st, se);
	if (st->jr->hdr->next_session_id < se->id)
		st->jr->hdr->next_session_id = se->id;
	jr_commit(&js->state, JR_SESS_ACTIVE);
	sess_fdstore(se, true);
}

/* Point @se's ring pointers into its mapping at @base, per layout @l. */
static void sess_map_layout(struct sess *se, void *base, const struct sess_layout *l)
{
	se->base = base;
	se->region_size = l->region_size;
	se->hdr = base;
	se->sq_array = (uint32_t *)((char *)base + l->sq_array_off);
	se->sqes = (struct ringd_sqe *)((char *)base + l->sqes_off);
	se->cqes = (struct ringd_cqe *)((char *)base + l->cqes_off);
	se->data = (uint8_t *)base + l->data_off;
	se->data_size = l->data_size;
	se->sq_entries = l->sq_entries;
	se->cq_entries = l->cq_entries;
}

/* Send the Attached reply with the memfd, the client's wake end and the
 * ring-liveness pipe. Returns 0 or -errno. */
static int sess_send_attached(struct sessions *st, struct sess *se, const struct sess_layout *l,
			      int wake_peer)
{
	Ringd__Reply r = RINGD__REPLY__INIT;
	Ringd__Attached a = RINGD__ATTACHED__INIT;
	/* The third fd lets a client that reconnects after a crash wait
	 * until none of this instance's I/O can still land (see rings.h). */
	int fds[3] = { se->memfd, wake_peer, st->rg->live_rd };

	a.session_id = se->id;
	a.sq_entries = l->sq_entries;
	a.cq_entries = l->cq_entries;
	a.region_size = l->region_size;
	a.sq_array_off = l->sq_array_off;
	a.sqes_off = l->sqes_off;
	a.cqes_off = l->cqes_off;
	a.data_off = l->data_off;
	a.data_size = l->data_size;
	a.max_io_size = st->cfg->max_io_size;
	r.msg_case = RINGD__REPLY__MSG_ATTACHED;
	r.attached = &a;
	return ctl_send(se->sock, &r, fds, 3);
}

int sess_attach_layout(struct sessions *st, struct sess *se, const Ringd__Hello *hello, char *err,
		       size_t errlen)
{
	if (se->tenant < 0 || (unsigned int)se->tenant >= st->cfg->ntenants) {
		snprintf(err, errlen, "uid %u (gid %u) is not a tenant of this daemon",
			 (unsigned int)se->uid, (unsigned int)se->gid);
		return -EACCES;
	}
	return sess_layout(hello, st->cfg->tenants[se->tenant].max_session_memory, &se->layout, err,
			   errlen);
}

int sess_attach(struct sessions *st, struct sess *se, const Ringd__Hello *hello, char *err,
		size_t errlen)
{
	int ret = sess_attach_layout(st, se, hello, err, errlen);

	if (ret)
		return ret;
	ret = sess_region_create(se, se->layout.region_size);
	if (ret) {
		snprintf(err, errlen, "cannot create the session memory: %s", strerror(-ret));
		return ret;
	}
	return sess_attach_region(st, se, se->memfd, se->base, err, errlen);
}

int sess_attach_region(struct sessions *st, struct sess *se, int memfd, void *map, char *err,
		       size_t errlen)
{
	const struct sess_layout l = se->layout;
	const struct cfg_tenant *t;
	int wake[2];
	int ret;

	se->memfd = memfd;
	se->base = map;
	se->region_size = l.region_size;
	/* A reload while the memory was made may have taken the tenant away. */
	if (se->tenant < 0 || (unsigned int)se->tenant >= st->cfg->ntenants) {
		snprintf(err, errlen, "uid %u (gid %u) is not a tenant of this daemon",
			 (unsigned int)se->uid, (unsigned int)se->gid);
		return -EACCES;
	}
	t = &st->cfg->tenants[se->tenant];
	sess_map_layout(se, se->base, &l);
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
	ret = rg_buf_set(st->rg, se->slot, se->data, se->data_size);
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
	ret = sess_send_attached(st, se, &l, wake[1]);
	close(wake[1]);
	if (ret) {
		snprintf(err, errlen, "cannot send the session fds: %s", strerror(-ret));
		return ret;
	}
	sess_journal_attach(st, se, &l);
	sess_set_state(st, se, SESS_ACTIVE);
	sess_list_add(st, se);
	sess_arm_poll(st, se, false);
	return 0;
}

/* Wake the client if it sleeps (or always, with @force or RINGD_CQ_EVENTFD). */
static void sess_notify(struct sess *se, bool force)
{
	static const char b = 1;
	uint32_t flags;

	if (se->wake_fd < 0 || !se->hdr)
		return;
	flags = ringd_load_relaxed(&se->hdr->cq_flags);
	if (force || (flags & (RINGD_CQ_WAITING | RINGD_CQ_EVENTFD))) {
		/* Non-blocking; a full socket already holds a pending wake-up. */
		if (send(se->wake_fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			log_debug("session %llu: notify: %s", (unsigned long long)se->id,
				  strerror(errno));
	}
}

void sess_wake(struct sess *se)
{
	sess_notify(se, true);
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
	if (!se->hdr)
		return;
	ringd_store_release(&se->hdr->cq_tail, se->cq_tail);
	/* Publish the tail before reading whether the client sleeps. */
	ringd_smp_mb();
	sess_notify(se, false);
}

void sess_set_sleeping(struct sessions *st, bool sleeping)
{
	struct sess *se;

	if (st->sleeping == sleeping)
		return;
	st->sleeping = sleeping;
	for (se = st->active; se; se = se->next_active) {
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

/* Let go of @se's handle @i (open). */
static void sess_handle_drop(struct sessions *st, struct sess *se, uint32_t i)
{
	struct val_handle *h = &se->handles[i];

	if (vols_is_file(h->vol)) {
		vols_file_put(st->vols, h->vol, se->id, h->locked);
		use_del_file(st->use, se->tenant);
	}
	memset(h, 0, sizeof(*h));
	se->handles_open--;
}

void sess_ctl_answered(struct sessions *st, struct sess *se, bool answered)
{
	struct jr_sess *js = &st->jr->sess[se->slot];

	if (se->admin || js->id != se->id || js->state == JR_SESS_FREE)
		return;
	jr_commit(&js->ctl_unanswered, answered ? 0 : (uint32_t)se->ctl_seq);
}

int sess_restore(struct sessions *st, uint32_t slot, const struct jr_sess *js, int ctl, int memfd,
		 int wake)
{
	struct sess_layout l;
	struct stat sb;
	struct sess *se;
	uint32_t i, h;
	void *p;
	int ret;

	if (slot >= st->max || st->slot[slot])
		return -EINVAL;
	if (!js->sq_entries || (js->sq_entries & (js->sq_entries - 1)) || !js->cq_entries ||
	    (js->cq_entries & (js->cq_entries - 1)) ||
	    js->data_off + js->data_size > js->region_size)
		return -EINVAL;
	if (fstat(memfd, &sb) < 0)
		return -errno;
	if ((uint64_t)sb.st_size != js->region_size)
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
	/* Layout from the journal only, never from the shared header. */
	l.sq_entries = js->sq_entries;
	l.cq_entries = js->cq_entries;
	l.region_size = js->region_size;
	l.sq_array_off = js->sq_array_off;
	l.sqes_off = js->sqes_off;
	l.cqes_off = js->cqes_off;
	l.data_off = js->data_off;
	l.data_size = js->data_size;
	sess_map_layout(se, p, &l);
	se->slot = slot;
	se->chain_tail = UINT32_MAX;
	se->id = js->id;
	se->uid = js->uid;
	se->gid = js->gid;
	se->pid = (pid_t)js->pid;
	se->sock = ctl;
	se->memfd = memfd;
	se->wake_fd = wake;
	se->sq_head = js->sq_head;
	se->cq_tail = js->cq_tail;
	se->state = js->state == JR_SESS_BROKEN ? SESS_BROKEN : SESS_ACTIVE;
	se->broken_reason = js->state == JR_SESS_BROKEN ? js->broken_reason : 0;
	se->tenant = cfg_tenant_for(st->cfg, se->uid, se->gid);
	se->max_inflight = se->tenant >= 0 ? st->cfg->tenants[se->tenant].max_inflight : 256;
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
		/* A volume (or file) this instance does not have is "removed": -ENODEV. */
		se->handles[i].vol = vols_valid(st->vols, jh->vol) ? jh->vol : 0;
		if (!vols_valid(st->vols, jh->vol))
			se->handles[i].revoked = -ENODEV;
		else if (vols_is_file(jh->vol)) {
			st->vols->files[jh->vol - VOLS_MAX].refs++;
			se->handles[i].locked = jh->locked;
			use_add_files(st->use, se->tenant, 1);
		}
		se->handles_open++;
	}
	/* The client's CQ head must lie within what was posted. */
	h = ringd_load_acquire(&se->hdr->cq_head);
	se->cq_head_seen = h;
	ret = rg_buf_set(st->rg, slot, se->data, se->data_size);
	if (ret)
		goto out_handles;
	se->buf_registered = true;
	st->slot[slot] = se;
	st->n++;
	if (se->id > st->next_id)
		st->next_id = se->id;
	use_add_session(st->use, se->tenant, 0);
	ringd_store_release(&se->hdr->sq_head, se->sq_head);
	ringd_store_release(&se->hdr->cq_tail, se->cq_tail);
	if ((uint32_t)(se->cq_tail - h) > se->cq_entries) {
		se->state = SESS_ACTIVE;
		sess_break(st, se, RINGD_BROKEN_CQ_HEAD);
	} else if (se->state == SESS_ACTIVE) {
		sess_list_add(st, se);
	}
	sess_arm_poll(st, se, true);
	if (se->state == SESS_ACTIVE)
		sess_arm_poll(st, se, false);
	log_info("session %llu: re-adopted (pid %d uid %u, sq head %u, cq tail %u)",
		 (unsigned long long)se->id, (int)se->pid, (unsigned int)se->uid, se->sq_head,
		 se->cq_tail);
	return 0;

out_handles:
	for (i = 0; i < se->nhandles; i++)
		if (se->handles[i].open && vols_is_file(se->handles[i].vol))
			sess_handle_drop(st, se, i);
	free(se->handles);
out_unmap:
	munmap(p, js->region_size);
out_free:
	free(se);
	return ret;
}

void sess_break(struct sessions *st, struct sess *se, enum ringd_broken reason)
{
	static const char *const why[] = {
		[RINGD_BROKEN_SQ_TAIL] = "SQ tail moved backwards or past the ring size",
		[RINGD_BROKEN_SQ_INDEX] = "SQ array entry out of range",
		[RINGD_BROKEN_CQ_HEAD] = "CQ head beyond the tail or moved backwards",
		[RINGD_BROKEN_STALL] = "CQ not reaped within stall_timeout",
		[RINGD_BROKEN_PROTOCOL] = "control protocol violation",
		[RINGD_BROKEN_SHUTDOWN] = "daemon shutting down",
		[RINGD_BROKEN_ADMIN] = "kicked by an admin",
	};
	struct jr_sess *js = &st->jr->sess[se->slot];

	if (se->state != SESS_ACTIVE && se->state != SESS_HANDSHAKE)
		return;
	/* The daemon's own reasons every time; a client's at most so often. */
	if (reason == RINGD_BROKEN_SHUTDOWN || reason == RINGD_BROKEN_ADMIN ||
	    log_limit_take(&st->broken_log, clock_now_ms()))
		log_warn("session %llu (pid %d uid %u): broken: %s", (unsigned long long)se->id,
			 (int)se->pid, (unsigned int)se->uid, why[reason]);
	sess_set_state(st, se, SESS_BROKEN);
	se->broken_reason = (uint32_t)reason;
	sess_list_del(st, se);
	if (!se->admin && js->state == JR_SESS_ACTIVE) {
		js->broken_reason = reason;
		jr_commit(&js->state, JR_SESS_BROKEN);
	}
	if (se->hdr) {
		/* Completions first: a client that sees "broken" has seen them. */
		sess_publish_cq(se);
		__atomic_store_n(&se->hdr->broken_reason, (uint32_t)reason, __ATOMIC_RELEASE);
		sess_notify(se, true);
	}
	/* No more doorbells: the wake-up fd is closed when its poll ends. */
	if (se->doorbell_poll) {
		sess_remove_poll(st, se, true);
		if (se->wake_fd >= 0)
			shutdown(se->wake_fd, SHUT_RD);
	}
	sess_settle(st, se);
}

/*
 * Drop a broken session's shared memory once no kernel I/O can touch it:
 * unregister the data area on every ring, unmap, close the memfd. The
 * control socket and the private broken_reason stay until the client
 * disconnects, so it can still ask why (Stats); nothing of the ring is
 * read again.
 */
static void sess_release_broken(struct sessions *st, struct sess *se)
{
	/* Completions that arrived while draining are the client's to see. */
	sess_publish_cq(se);
	if (se->buf_registered) {
		int ret = rg_buf_clear(st->rg, se->slot);

		if (ret)
			log_err("session %llu: unregister buffer slot %u: %s",
				(unsigned long long)se->id, se->slot, strerror(-ret));
		se->buf_registered = false;
	}
	sess_release_memory(st, se);
	log_debug("session %llu: broken, shared memory released", (unsigned long long)se->id);
}

void sess_close(struct sessions *st, struct sess *se)
{
	if (se->state == SESS_CLOSING || se->state == SESS_FREED)
		return;
	log_debug("session %llu: closing (%u in flight)", (unsigned long long)se->id, se->inflight);
	sess_list_del(st, se);
	sess_set_state(st, se, SESS_CLOSING);
	/*
	 * Cancel both polls. A removal can miss a poll armed in the same
	 * submission; the shutdowns wake every surviving poll, and
	 * sess_poll_begin() asks again when one reports for a closing
	 * session.
	 */
	if (se->ctrl_poll)
		sess_remove_poll(st, se, false);
	if (se->doorbell_poll)
		sess_remove_poll(st, se, true);
	if (se->wake_fd >= 0)
		shutdown(se->wake_fd, SHUT_RDWR);
	/* The client sees its last replies, then EOF; armed polls hold
	 * their own file reference. */
	if (se->sock >= 0) {
		ctl_hangup(se->sock);
		se->sock = -1;
	}
	/* Files close (and their locks go) now; their I/O keeps them open. */
	if (se->handles) {
		uint32_t i;

		for (i = 0; i < se->nhandles; i++)
			if (se->handles[i].open && vols_is_file(se->handles[i].vol))
				sess_handle_drop(st, se, i);
		sess_journal_handles(st, se);
	}
	sess_settle(st, se);
}

/* CLOSING -> FREED: nothing of the kernel refers to @se any more. */
static void sess_free(struct sessions *st, struct sess *se)
{
	struct jr_sess *js = &st->jr->sess[se->slot];

	if (!se->admin && js->state != JR_SESS_FREE && js->id == se->id) {
		jr_commit(&js->state, JR_SESS_FREE);
		sess_fdstore(se, false);
	}
	if (se->buf_registered) {
		int ret = rg_buf_clear(st->rg, se->slot);

		if (ret)
			log_err("session %llu: unregister buffer slot %u: %s",
				(unsigned long long)se->id, se->slot, strerror(-ret));
		se->buf_registered = false;
	}
	sess_release_memory(st, se);
	if (se->wake_fd >= 0)
		close(se->wake_fd);
	se->wake_fd = -1;
	use_del_session(st->use, se->tenant);
	st->slot[se->slot] = NULL;
	st->n--;
	se->state = SESS_FREED;
	se->next_freed = st->freed;
	st->freed = se;
	log_debug("session %llu: freed", (unsigned long long)se->id);
}

void sess_settle_drained(struct sessions *st, struct sess *se)
{
	if (se->state == SESS_BROKEN && !se->inflight && se->base)
		sess_release_broken(st, se);
	else if (se->state == SESS_CLOSING && !se->inflight && !se->polls_armed)
		sess_free(st, se);
}

void sess_collect(struct sessions *st)
{
	while (st->freed) {
		struct sess *se = st->freed;

		st->freed = se->next_freed;
		free(se->handles);
		free(se);
	}
}

bool sess_poll_begin(struct sessions *st, struct sess *se, bool ctrl, bool more)
{
	if (se->state == SESS_FREED)
		return false;
	if (!more) {
		se->polls_armed--;
		if (ctrl)
			se->ctrl_poll = false;
		else
			se->doorbell_poll = false;
	} else if (se->state == SESS_CLOSING || (!ctrl && se->state == SESS_BROKEN)) {
		/*
		 * Still armed although we asked for its removal: the removal
		 * was issued before the poll itself was armed (both were in
		 * one submission) and found nothing. Ask again; the shutdown
		 * of the fd in sess_close()/sess_break() guarantees an event
		 * like this one for every poll that survived.
		 */
		sess_remove_poll(st, se, !ctrl);
	}
	return se->state != SESS_CLOSING;
}

void sess_poll_end(struct sessions *st, struct sess *se, bool ctrl)
{
	if (se->state == SESS_FREED)
		return;
	if (se->state == SESS_CLOSING) {
		sess_settle(st, se);
		return;
	}
	/* Multishot polls can end on their own (e.g. CQ overflow): re-arm. */
	if (ctrl && !se->ctrl_poll) {
		sess_arm_poll(st, se, true);
	} else if (!ctrl && !se->doorbell_poll && se->wake_fd >= 0) {
		if (se->state == SESS_ACTIVE) {
			sess_arm_poll(st, se, false);
		} else if (se->state == SESS_BROKEN) {
			/* A broken session hears no more doorbells. */
			close(se->wake_fd);
			se->wake_fd = -1;
		}
	}
}

void sess_poll_removed(struct sessions *st, uint32_t slot, bool doorbell, int32_t res)
{
	struct sess *se;

	/*
	 * -EALREADY means the poll was busy posting a completion at that
	 * moment (its task work owned it: with an SQ thread that runs
	 * concurrently with us) and is still armed, so ask again; any other
	 * result means it is gone or going, and its own final CQE (without
	 * F_MORE) does the accounting.
	 */
	if (res != -EALREADY)
		return;
	se = sess_at(st, slot);
	if (!se || se->state != SESS_CLOSING || !(doorbell ? se->doorbell_poll : se->ctrl_poll))
		return;
	sess_remove_poll(st, se, doorbell);
}

void sess_doorbell_drain(struct sess *se)
{
	struct mmsghdr mm[64];
	struct iovec iov[64];
	char b[64];
	unsigned int i;

	if (se->wake_fd < 0)
		return;
	/* One syscall drains up to 64 doorbells; the SQ is read in the next pass. */
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < 64; i++) {
		iov[i].iov_base = &b[i];
		iov[i].iov_len = 1;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	(void)!recvmmsg(se->wake_fd, mm, 64, MSG_DONTWAIT | MSG_TRUNC, NULL);
}

/* May @se's tenant use volume @name (@rw: to write)? Returns its index or -errno with @err. */
static int sess_grant(struct sessions *st, struct sess *se, const char *name, bool rw, char *err,
		      size_t errlen)
{
	const struct cfg_tenant *t;
	const struct cfg_grant *g;
	int vi;

	if (se->tenant < 0 || (unsigned int)se->tenant >= st->cfg->ntenants) {
		snprintf(err, errlen, "uid %u no longer belongs to a tenant",
			 (unsigned int)se->uid);
		return -EACCES;
	}
	t = &st->cfg->tenants[se->tenant];
	vi = vols_find(st->vols, name);
	if (vi < 0) {
		snprintf(err, errlen, "no volume called '%s'", name);
		return -ENOENT;
	}
	g = cfg_tenant_grant(st->cfg, t, name);
	if (!g) {
		snprintf(err, errlen, "tenant %s may not use volume '%s'", t->name, name);
		return -EACCES;
	}
	if (rw && st->vols->vv[vi].readonly) {
		snprintf(err, errlen, "volume '%s' is read-only", name);
		return -EROFS;
	}
	if (rw && !g->rw) {
		snprintf(err, errlen, "tenant %s may only read volume '%s'", t->name, name);
		return -EACCES;
	}
	return vi;
}

/* A free handle of @se, or -EMFILE with @err. */
static int sess_free_handle(struct sess *se, char *err, size_t errlen)
{
	uint32_t i;

	for (i = 0; i < se->nhandles; i++)
		if (!se->handles[i].open)
			return (int)i;
	snprintf(err, errlen, "all %u volume handles of this session are open", se->nhandles);
	return -EMFILE;
}

static void sess_handle_fill(struct sessions *st, struct sess *se, int i, uint32_t vol, bool rw,
			     bool locked)
{
	if (!se->admin && (uint32_t)i < JR_MAX_HANDLES) {
		st->jr->sess[se->slot].handles[i].opened_seq = (uint32_t)se->ctl_seq;
		/* Before the journal shows it open (a kill lands between two
		 * instructions): a replay of this request must find it. */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	}
	se->handles[i] = (struct val_handle){
		.open = true,
		.writable = rw,
		.locked = locked,
		.vol = vol,
	};
	se->handles_open++;
	sess_journal_handles(st, se);
}

int sess_handle_of_request(struct sessions *st, const struct sess *se, uint32_t vol, bool rw)
{
	const struct jr_sess *js = &st->jr->sess[se->slot];
	uint32_t i, n = se->nhandles < JR_MAX_HANDLES ? se->nhandles : JR_MAX_HANDLES;

	if (!se->ctl_replay || !(uint32_t)se->ctl_seq || se->admin)
		return -1;
	for (i = 0; i < n; i++)
		if (se->handles[i].open && se->handles[i].vol == vol &&
		    se->handles[i].writable == rw &&
		    js->handles[i].opened_seq == (uint32_t)se->ctl_seq)
			return (int)i;
	return -1;
}

int sess_handle_open(struct sessions *st, struct sess *se, const char *name, uint32_t flags,
		     int *handle, char *err, size_t errlen)
{
	bool rw = flags == RINGD_RDWR;
	int vi, i;

	if (flags != RINGD_RDONLY && flags != RINGD_RDWR) {
		snprintf(err, errlen, "open flags must be RINGD_RDONLY or RINGD_RDWR");
		return -EINVAL;
	}
	vi = sess_grant(st, se, name, rw, err, errlen);
	if (vi < 0)
		return vi;
	if (st->vols->v[vi].isdir) {
		snprintf(err, errlen,
			 "volume '%s' is a directory volume: open its files with ringd_open_file()",
			 name);
		return -EISDIR;
	}
	/* Sent again after a restart that came after the first try took effect. */
	i = sess_handle_of_request(st, se, (uint32_t)vi, rw);
	if (i < 0)
		i = sess_free_handle(se, err, errlen);
	if (i < 0)
		return i;
	if (!se->handles[i].open)
		sess_handle_fill(st, se, i, (uint32_t)vi, rw, false);
	*handle = i;
	return 0;
}

int sess_dir_access(struct sessions *st, struct sess *se, const char *name, bool rw, char *err,
		    size_t errlen)
{
	int vi = sess_grant(st, se, name, rw, err, errlen);

	if (vi >= 0 && !st->vols->v[vi].isdir) {
		snprintf(err, errlen, "volume '%s' is not a directory volume (no dir =)", name);
		return -EINVAL;
	}
	if (vi >= 0 && !se->handles) {
		snprintf(err, errlen, "this connection has no session");
		return -EPERM;
	}
	return vi;
}

int sess_file_install(struct sessions *st, struct sess *se, uint32_t file, bool rw, bool lock,
		      int *handle, char *err, size_t errlen)
{
	int i = sess_free_handle(se, err, errlen);
	const struct cfg_tenant *t = se->tenant >= 0 && (unsigned int)se->tenant < st->cfg->ntenants
					 ? &st->cfg->tenants[se->tenant]
					 : NULL;

	if (i >= 0 && (!t || use_get(st->use, se->tenant).files >= t->max_open_files)) {
		snprintf(err, errlen, "tenant %s has max_open_files = %u files open",
			 t ? t->name : "(none)", t ? t->max_open_files : 0);
		i = -EMFILE;
	}
	if (i >= 0 && lock && vols_file_lock(st->vols, file, se->id)) {
		snprintf(err, errlen, "the file is locked (RINGD_LOCK) by %s",
			 st->vols->files[file - VOLS_MAX].lock_owner == se->id
			     ? "another handle of this session"
			     : "another session");
		i = -EBUSY;
	}
	if (i < 0) {
		vols_file_put(st->vols, file, se->id, false);
		return i;
	}
	sess_handle_fill(st, se, i, file, rw, lock);
	use_add_files(st->use, se->tenant, 1);
	*handle = i;
	return 0;
}

int sess_handle_close(struct sessions *st, struct sess *se, int handle)
{
	if (handle < 0 || (uint32_t)handle >= se->nhandles)
		return -EBADF;
	handle = (int)idx_nospec((uint32_t)handle, se->nhandles);
	if (!se->handles[handle].open)
		return -EBADF;
	sess_handle_drop(st, se, (uint32_t)handle);
	sess_journal_handles(st, se);
	return 0;
}

/* Re-resolve @se's tenant and take away the rights the config no longer grants. */
static void sess_apply_rights(struct sessions *st, struct sess *se, const char *old_tenant)
{
	const struct cfg_tenant *t;
	uint32_t i;

	se->tenant = cfg_tenant_for(st->cfg, se->uid, se->gid);
	t = se->tenant >= 0 ? &st->cfg->tenants[se->tenant] : NULL;
	if (old_tenant && (!t || strcmp(t->name, old_tenant)))
		log_info("session %llu: uid %u now belongs to %s", (unsigned long long)se->id,
			 (unsigned int)se->uid, t ? t->name : "no tenant");
	if (t)
		se->max_inflight = t->max_inflight;
	if (se->admin || !se->handles)
		return;
	for (i = 0; i < se->nhandles; i++) {
		struct val_handle *h = &se->handles[i];
		const struct cfg_grant *g;

		if (!h->open || h->revoked || st->vols->vv[h->vol].removed)
			continue;
		g = t ? cfg_tenant_grant(st->cfg, t, st->vols->v[vols_owner(st->vols, h->vol)].name)
		      : NULL;
		if (!g) {
			h->revoked = -EACCES;
		} else if (h->writable && !g->rw) {
			h->writable = false;
			h->write_revoked = true;
		}
	}
	sess_journal_handles(st, se);
}

/* File handles @se has open. */
static unsigned int sess_files_open(const struct sess *se)
{
	unsigned int i, n = 0;

	for (i = 0; se->handles && i < se->nhandles; i++)
		n += se->handles[i].open && vols_is_file(se->handles[i].vol);
	return n;
}

int sess_reresolve_all(struct sessions *st, const char (*old_names)[CFG_NAME_MAX])
{
	struct usage fresh = { NULL, 0 };
	uint32_t i;
	int ret;

	ret = use_configure(&fresh, st->cfg);
	if (ret)
		return ret;
	for (i = 0; i < st->max; i++) {
		struct sess *se = st->slot[i];

		if (!se)
			continue;
		/* Every state: closing sessions still count until they are freed. */
		sess_apply_rights(st, se, old_names && old_names[i][0] ? old_names[i] : NULL);
		use_add_session(&fresh, se->tenant, se->inflight);
		use_add_blocking(&fresh, se->tenant, se->blocking);
		use_add_copying(&fresh, se->tenant, se->copying);
		use_add_files(&fresh, se->tenant, sess_files_open(se));
	}
	/* The shares once, with every session counted. */
	use_set_pool(&fresh, st->use->pool);
	use_fini(st->use);
	*st->use = fresh;
	return 0;
}
