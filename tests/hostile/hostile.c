/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "hostile.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ringd.h"

int hc_sock_as(const char *path, uid_t uid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* SO_PEERCRED records the effective ids at connect() time. */
	if (uid && seteuid(uid) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		ret = -errno;
	if (uid && seteuid(0) < 0)
		abort();
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int hc_sock(const char *path)
{
	return hc_sock_as(path, getuid() == 0 ? RT_UID_A : 0);
}

int hc_send_raw(int fd, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 256)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 256)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

int hc_send_req(int fd, const Ringd__Request *rq)
{
	uint8_t buf[8192];
	size_t len = ringd__request__get_packed_size(rq);

	if (len > sizeof(buf))
		return -EMSGSIZE;
	len = ringd__request__pack(rq, buf);
	return hc_send_raw(fd, buf, len, NULL, 0);
}

int hc_recv_reply(int fd, int timeout_ms, Ringd__Reply **out, int *fds, unsigned int maxfds,
		  unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cbuf;
	uint8_t buf[8192];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct cmsghdr *c;
	unsigned int got = 0;
	ssize_t n;

	*out = NULL;
	if (nfds)
		*nfds = 0;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIME;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == ECONNRESET ? -ECONNRESET : -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t i, k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fds && got < maxfds)
				fds[got++] = f;
			else
				close(f);
		}
	}
	if (nfds)
		*nfds = got;
	if (n == 0)
		return -ECONNRESET;
	*out = ringd__reply__unpack(NULL, (size_t)n, buf);
	return *out ? 0 : -EBADMSG;
}

int hc_wait_eof(int fd, int timeout_ms)
{
	int waited = 0;

	for (;;) {
		Ringd__Reply *r;
		int ret = hc_recv_reply(fd, 50, &r, NULL, 0, NULL);

		if (ret == -ECONNRESET)
			return 0;
		if (r)
			ringd__reply__free_unpacked(r, NULL);
		if (ret == -ETIME) {
			waited += 50;
			if (waited >= timeout_ms)
				return -ETIME;
		}
	}
}

/* Turn an Error reply into -errno, any other unexpected reply into -EPROTO. */
int hc_reply_errno(const Ringd__Reply *r, Ringd__Reply__MsgCase want)
{
	if (r->msg_case == want)
		return 0;
	if (r->msg_case == RINGD__REPLY__MSG_ERROR)
		return -r->error->errno_code;
	return -EPROTO;
}

size_t hc_pack_hello(uint8_t *buf, uint32_t sq, uint32_t cq, uint64_t data, bool admin)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;

	h.abi_version = RINGD_ABI_VERSION;
	h.has_sq_entries = !!sq;
	h.sq_entries = sq;
	h.has_cq_entries = !!cq;
	h.cq_entries = cq;
	h.has_data_size = !!data;
	h.data_size = data;
	h.has_admin = admin;
	h.admin = admin;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	return ringd__request__pack(&rq, buf);
}

int hc_attach_fd(int sock, uint32_t sq, uint32_t cq, uint64_t data, struct hc *out)
{
	uint8_t hello[64];
	Ringd__Reply *r;
	unsigned int nfds;
	int fds[2], ret;
	void *p;

	memset(out, 0, sizeof(*out));
	out->sock = sock;
	out->wake_fd = out->memfd = -1;
	/* A refused connection may already be closed: its Error is still
	 * there to read, so a failed send is not the answer. */
	(void)hc_send_raw(sock, hello, hc_pack_hello(hello, sq, cq, data, false), NULL, 0);
	ret = hc_recv_reply(sock, 10000, &r, fds, 2, &nfds);
	if (ret)
		goto out_close;
	ret = hc_reply_errno(r, RINGD__REPLY__MSG_ATTACHED);
	if (!ret && nfds != 2)
		ret = -EPROTO;
	if (ret) {
		while (nfds)
			close(fds[--nfds]);
		ringd__reply__free_unpacked(r, NULL);
		goto out_close;
	}
	out->memfd = fds[0];
	out->wake_fd = fds[1];
	out->session_id = r->attached->session_id;
	out->sq_entries = r->attached->sq_entries;
	out->cq_entries = r->attached->cq_entries;
	out->region_size = r->attached->region_size;
	out->data_size = r->attached->data_size;
	out->max_io = r->attached->max_io_size;
	p = mmap(NULL, out->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, out->memfd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		ringd__reply__free_unpacked(r, NULL);
		close(out->memfd);
		close(out->wake_fd);
		goto out_close;
	}
	out->base = p;
	out->hdr = p;
	out->sq_array = (uint32_t *)((char *)p + r->attached->sq_array_off);
	out->sqes = (struct ringd_sqe *)((char *)p + r->attached->sqes_off);
	out->cqes = (struct ringd_cqe *)((char *)p + r->attached->cqes_off);
	out->data = (uint8_t *)p + r->attached->data_off;
	ringd__reply__free_unpacked(r, NULL);
	return 0;

out_close:
	close(sock);
	out->sock = -1;
	return ret;
}

int hc_attach(const char *path, uint32_t sq, uint32_t cq, uint64_t data, struct hc *out)
{
	int fd = hc_sock(path);

	if (fd < 0)
		return fd;
	return hc_attach_fd(fd, sq, cq, data, out);
}

/* Send @rq and expect an Opened reply: its handle, or -errno. */
static int hc_call_opened(struct hc *c, const Ringd__Request *rq)
{
	Ringd__Reply *r;
	int ret;

	ret = hc_send_req(c->sock, rq);
	if (ret)
		return ret;
	ret = hc_recv_reply(c->sock, 10000, &r, NULL, 0, NULL);
	if (ret)
		return ret;
	ret = hc_reply_errno(r, RINGD__REPLY__MSG_OPENED);
	if (!ret)
		ret = r->opened->handle;
	ringd__reply__free_unpacked(r, NULL);
	return ret;
}

int hc_open(struct hc *c, const char *name, uint32_t flags)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__OpenVolume o = RINGD__OPEN_VOLUME__INIT;

	o.name = (char *)name;
	o.flags = flags;
	rq.msg_case = RINGD__REQUEST__MSG_OPEN;
	rq.open = &o;
	return hc_call_opened(c, &rq);
}

int hc_open_file(struct hc *c, const char *volume, const char *path, uint32_t flags)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__OpenFile o = RINGD__OPEN_FILE__INIT;

	o.volume = (char *)volume;
	o.path = (char *)path;
	o.flags = flags;
	rq.msg_case = RINGD__REQUEST__MSG_OPEN_FILE;
	rq.open_file = &o;
	return hc_call_opened(c, &rq);
}

int hc_close_handle(struct hc *c, int handle)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__CloseVolume cv = RINGD__CLOSE_VOLUME__INIT;
	Ringd__Reply *r;
	int ret;

	cv.handle = handle;
	rq.msg_case = RINGD__REQUEST__MSG_CLOSE;
	rq.close = &cv;
	ret = hc_send_req(c->sock, &rq);
	if (ret)
		return ret;
	ret = hc_recv_reply(c->sock, 10000, &r, NULL, 0, NULL);
	if (ret)
		return ret;
	ret = hc_reply_errno(r, RINGD__REPLY__MSG_CLOSED);
	ringd__reply__free_unpacked(r, NULL);
	return ret;
}

int hc_stats(struct hc *c, struct hc_stats *st)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;
	Ringd__Reply *r;
	int ret;

	rq.msg_case = RINGD__REQUEST__MSG_STATS;
	rq.stats = &sr;
	ret = hc_send_req(c->sock, &rq);
	if (ret)
		return ret;
	ret = hc_recv_reply(c->sock, 10000, &r, NULL, 0, NULL);
	if (ret)
		return ret;
	ret = hc_reply_errno(r, RINGD__REPLY__MSG_STATS);
	if (!ret) {
		st->submitted = r->stats->submitted;
		st->completed = r->stats->completed;
		st->errors = r->stats->errors;
		st->rejected = r->stats->rejected;
		st->completions_interrupt = r->stats->completions_interrupt;
		st->inflight = r->stats->inflight;
		st->broken_reason = r->stats->broken_reason;
	}
	ringd__reply__free_unpacked(r, NULL);
	return ret;
}

struct ringd_sqe *hc_sqe(struct hc *c)
{
	uint32_t idx = c->sq_tail & (c->sq_entries - 1);
	struct ringd_sqe *sqe = &c->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	c->sq_array[idx] = idx;
	c->sq_tail++;
	return sqe;
}

void hc_doorbell(struct hc *c)
{
	static const char b = 1;

	if (c->wake_fd >= 0)
		(void)!send(c->wake_fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void hc_submit(struct hc *c)
{
	ringd_store_release(&c->hdr->sq_tail, c->sq_tail);
	ringd_smp_mb();
	hc_doorbell(c);
}

unsigned int hc_reap_some(struct hc *c, struct ringd_cqe *out, unsigned int max, int timeout_ms)
{
	int waited_us = 0;

	while (ringd_load_acquire(&c->hdr->cq_tail) == c->cq_head &&
	       waited_us < timeout_ms * 1000) {
		usleep(200);
		waited_us += 200;
	}
	return hc_reap(c, out,
		       max < ringd_load_acquire(&c->hdr->cq_tail) - c->cq_head
			   ? max
			   : ringd_load_acquire(&c->hdr->cq_tail) - c->cq_head,
		       0);
}

unsigned int hc_reap(struct hc *c, struct ringd_cqe *out, unsigned int n, int timeout_ms)
{
	unsigned int got = 0;
	int waited_us = 0;

	while (got < n) {
		uint32_t tail = ringd_load_acquire(&c->hdr->cq_tail);

		if (tail == c->cq_head) {
			if (waited_us >= timeout_ms * 1000)
				break;
			usleep(200);
			waited_us += 200;
			continue;
		}
		while (got < n && c->cq_head != tail) {
			memcpy(&out[got++], &c->cqes[c->cq_head & (c->cq_entries - 1)],
			       sizeof(*out));
			c->cq_head++;
		}
		ringd_store_release(&c->hdr->cq_head, c->cq_head);
	}
	return got;
}

void hc_prep_rw(struct ringd_sqe *sqe, uint8_t op, int handle, uint64_t off, uint64_t addr,
		uint32_t len, uint64_t user_data)
{
	sqe->opcode = op;
	sqe->handle = handle;
	sqe->off = off;
	sqe->addr = addr;
	sqe->len = len;
	sqe->user_data = user_data;
}

void hc_detach(struct hc *c)
{
	if (c->base)
		munmap(c->base, c->region_size);
	if (c->memfd >= 0)
		close(c->memfd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	if (c->sock >= 0)
		close(c->sock);
	memset(c, 0, sizeof(*c));
	c->sock = c->memfd = c->wake_fd = -1;
}

uint32_t hc_wait_broken(struct hc *c, int timeout_ms)
{
	uint32_t r = 0;

	rt_wait_for(timeout_ms, (r = __atomic_load_n(&c->hdr->broken_reason, __ATOMIC_ACQUIRE)));
	return r;
}

/* ---- config, canaries, probe ---- */

const char *hs_config_extra(const char *stall, const char *daemon_extra, const char *sections_extra)
{
	static char buf[16384];

	snprintf(buf, sizeof(buf),
		 "[daemon]\n"
		 "socket = @DIR@/ringd.sock\n"
		 "state_dir = @DIR@/state\n"
		 "log_level = %s\n"
		 "stall_timeout = %s\n"
		 "max_sessions = %u\n"
		 "%s"
		 "\n"
		 "[volume hostile]\n"
		 "path = shared.img\n"
		 "create_size = %llu\n"
		 "offset = %llu\n"
		 "size = %llu\n"
		 "\n"
		 "[volume victim]\n"
		 "path = shared.img\n"
		 "create_size = %llu\n"
		 "offset = %llu\n"
		 "size = %llu\n"
		 "\n"
		 "[volume hdirect]\n"
		 "path = direct.img\n"
		 "create_size = %llu\n"
		 "offset = %llu\n"
		 "size = %llu\n"
		 "direct = yes\n"
		 "\n"
		 "[volume hfiles]\n"
		 "dir = hfiles.d\n"
		 "size = 4M\n"
		 "\n"
		 "[tenant hostile]\n"
		 "uid = %u\n"
		 "volumes = hostile:rw, hdirect:rw, hfiles:rw\n"
		 "max_open_files = %u\n"
		 "max_sessions = %u\n"
		 "max_session_memory = %llu\n"
		 "max_inflight = %u\n"
		 "max_tenant_inflight = %u\n"
		 "max_open_volumes = %u\n"
		 "\n"
		 "[tenant victim]\n"
		 "uid = %u\n"
		 "volumes = victim:rw\n"
		 "max_sessions = 4\n"
		 "\n"
		 "[tenant flood]\n"
		 "uid = %u\n"
		 "volumes = hostile:ro\n"
		 "max_sessions = %u\n"
		 "max_inflight = 256\n"
		 "max_tenant_inflight = 4096\n"
		 "max_session_memory = 2M\n"
		 "%s%s",
		 getenv("HS_LOG") ? getenv("HS_LOG") : "info", stall, HS_DAEMON_SESSIONS,
		 daemon_extra, HS_SHARED_SIZE, HS_HOSTILE_OFF, HS_HOSTILE_SIZE, HS_SHARED_SIZE,
		 HS_VICTIM_OFF, HS_VICTIM_SIZE, HS_DIRECT_SIZE, HS_DIRECT_OFF, HS_DIRECT_EXTENT,
		 RT_UID_A, HS_HOSTILE_FILES, HS_HOSTILE_SESSIONS, HS_HOSTILE_MEMORY,
		 HS_HOSTILE_INFLIGHT, HS_HOSTILE_TENANT_INFLIGHT, HS_HOSTILE_VOLUMES, RT_UID_B,
		 HS_UID_FLOOD, HS_FLOOD_SESSIONS, *sections_extra ? "\n" : "", sections_extra);
	return buf;
}

const char *hs_config(const char *stall)
{
	return hs_config_extra(stall, "", "");
}

struct cn_range {
	const char *file;
	uint64_t off, len;
};

/* Everything outside the tenant extents. */
static const struct cn_range cn_ranges[] = {
	{ "shared.img", 0, HS_HOSTILE_OFF },
	{ "shared.img", HS_HOSTILE_OFF + HS_HOSTILE_SIZE,
	  HS_VICTIM_OFF - (HS_HOSTILE_OFF + HS_HOSTILE_SIZE) },
	{ "shared.img", HS_VICTIM_OFF + HS_VICTIM_SIZE,
	  HS_SHARED_SIZE - (HS_VICTIM_OFF + HS_VICTIM_SIZE) },
	{ "direct.img", 0, HS_DIRECT_OFF },
	{ "direct.img", HS_DIRECT_OFF + HS_DIRECT_EXTENT,
	  HS_DIRECT_SIZE - (HS_DIRECT_OFF + HS_DIRECT_EXTENT) },
};

#define CN_SEED 0xca7a11ull

void cn_write(const struct rt_daemon *d)
{
	unsigned int i;

	for (i = 0; i < sizeof(cn_ranges) / sizeof(cn_ranges[0]); i++) {
		const struct cn_range *r = &cn_ranges[i];
		char path[256];
		void *buf = malloc(r->len);
		int ret;

		cr_assert_not_null(buf);
		snprintf(path, sizeof(path), "%s/state/%s", d->dir, r->file);
		rt_fill(buf, r->len, CN_SEED + i, r->off);
		ret = rt_pwrite_file(path, buf, r->len, r->off);
		cr_assert_eq(ret, 0, "canary write %s: %s", path, strerror(-ret));
		free(buf);
	}
}

void cn_check(const struct rt_daemon *d)
{
	unsigned int i;

	for (i = 0; i < sizeof(cn_ranges) / sizeof(cn_ranges[0]); i++) {
		const struct cn_range *r = &cn_ranges[i];
		char path[256];
		void *buf = malloc(r->len);
		long bad;
		int ret;

		cr_assert_not_null(buf);
		snprintf(path, sizeof(path), "%s/state/%s", d->dir, r->file);
		ret = rt_pread_file(path, buf, r->len, r->off);
		cr_assert_eq(ret, 0, "canary read %s: %s", path, strerror(-ret));
		bad = rt_check(buf, r->len, CN_SEED + i, r->off);
		cr_assert_eq(bad, -1, "canary of %s changed at byte %llu", r->file,
			     (unsigned long long)(r->off + (uint64_t)bad));
		free(buf);
	}
}

static int hs_probe_child(void *arg)
{
	const struct rt_daemon *d = arg;
	struct ringd_cqe *cqe;
	struct ringd_sqe *sqe;
	struct ringd *rd;
	void *buf;
	int h, ret;

	ret = rt_connect(d, 8, 16, 1 << 20, &rd);
	if (ret)
		return 10;
	h = ringd_open(rd, "victim", RINGD_RDWR, NULL);
	if (h < 0)
		return 11;
	buf = ringd_buf_alloc(rd, 4096, 4096);
	sqe = ringd_get_sqe(rd);
	if (!buf || !sqe)
		return 12;
	ringd_prep_read(sqe, h, buf, 4096, 0);
	if (ringd_submit(rd) != 1)
		return 13;
	if (ringd_wait_cqe_timeout(rd, &cqe, 20000))
		return 14;
	if (cqe->res != 4096)
		return 15;
	ringd_cqe_seen(rd, cqe);
	ringd_disconnect(rd);
	return 0;
}

int hs_probe(const struct rt_daemon *d)
{
	return rt_wait_child(rt_fork_as(RT_UID_B, RT_UID_B, hs_probe_child, (void *)d));
}

void hs_start(struct rt_daemon *d, const char *stall)
{
	rt_daemon_start(d, hs_config(stall));
	cn_write(d);
}

void hs_finish(struct rt_daemon *d)
{
	int ret = hs_probe(d);

	cr_assert_eq(ret, 0, "a fresh victim connection failed (probe status %d)", ret);
	cn_check(d);
	ret = rt_daemon_stop(d);
	cr_assert_eq(ret, 0, "ringd exited with status %d (see its log above)", ret);
}

/* ---- the victim ---- */

struct vt_arg {
	const struct rt_daemon *d;
	bool timed;
	int stop_fd;
	int stop_wr; /* the parent's end: closed in the child */
	int result_fd;
	int result_rd;
};

/* What the victim sends back when it ends, after it attached. */
struct vt_report {
	uint32_t rounds;
	uint32_t pad;
	uint64_t ops;
	uint64_t worst_us;
};

struct vt_state {
	struct ringd *rd;
	int h;
	uint64_t size; /* of the volume */
	struct vt_report rep;
};

#define VT_BATCH	  8
#define VT_MIN_ROUNDS	  3
#define VT_WAIT_MS	  30000
#define VT_TIMED_WAIT_MS  15000 /* timed tests bound their own runtime */
#define VT_TIMED_IO	  4096u
#define VT_TIMED_PAUSE_US 1000

static bool vt_stop_requested(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static void vt_note_latency(struct vt_state *st, uint64_t t0)
{
	uint64_t dt = rt_now_us() - t0;

	if (dt > st->rep.worst_us)
		st->rep.worst_us = dt;
}

/* One round of the classic victim: a batch of writes, then of reads. */
static int vt_batch_round(struct vt_state *st, void **bufs, unsigned int round, unsigned int *seed)
{
	uint64_t offs[VT_BATCH];
	unsigned int lens[VT_BATCH], i, pass;
	int ret;

	for (i = 0; i < VT_BATCH; i++) {
		/* Distinct 128K slots: writes of one batch never overlap. */
		uint64_t slot = (uint64_t)((round * VT_BATCH + i) % (st->size / 131072));

		lens[i] = 512 * (1 + rand_r(seed) % 128);
		offs[i] = slot * 131072 + (unsigned int)(rand_r(seed) % 512);
	}
	for (pass = 0; pass < 2; pass++) {
		struct ringd_cqe *cqe;
		uint64_t t0;

		for (i = 0; i < VT_BATCH; i++) {
			struct ringd_sqe *sqe = ringd_get_sqe(st->rd);

			if (!sqe)
				return 23;
			if (pass == 0) {
				rt_fill(bufs[i], lens[i], round + 1, offs[i]);
				ringd_prep_write(sqe, st->h, bufs[i], lens[i], offs[i]);
			} else {
				memset(bufs[i], 0xee, lens[i]);
				ringd_prep_read(sqe, st->h, bufs[i], lens[i], offs[i]);
			}
			ringd_sqe_set_data64(sqe, i);
		}
		t0 = rt_now_us();
		ret = ringd_submit(st->rd);
		if (ret != VT_BATCH) {
			fprintf(stderr, "victim: submit: %d\n", ret);
			return 24;
		}
		for (i = 0; i < VT_BATCH; i++) {
			uint64_t k;

			ret = ringd_wait_cqe_timeout(st->rd, &cqe, VT_WAIT_MS);
			vt_note_latency(st, t0);
			if (ret) {
				fprintf(stderr, "victim: wait: %s\n", strerror(-ret));
				return 25;
			}
			k = cqe->user_data;
			if (k >= VT_BATCH || cqe->res != (int)lens[k]) {
				fprintf(stderr, "victim: round %u io %llu res %d\n", round,
					(unsigned long long)k, cqe->res);
				return 26;
			}
			if (pass == 1 && rt_check(bufs[k], lens[k], round + 1, offs[k]) != -1) {
				fprintf(stderr, "victim: round %u io %llu: wrong data\n", round,
					(unsigned long long)k);
				return 27;
			}
			ringd_cqe_seen(st->rd, cqe);
			st->rep.ops++;
		}
	}
	return 0;
}

/* One timed 4 KiB I/O, alone in flight. Returns 0 or a victim status. */
static int vt_timed_io(struct vt_state *st, bool write, void *buf, uint64_t off, unsigned int round)
{
	struct ringd_sqe *sqe = ringd_get_sqe(st->rd);
	struct ringd_cqe *cqe;
	uint64_t t0;
	int ret;

	if (!sqe)
		return 23;
	if (write)
		ringd_prep_write(sqe, st->h, buf, VT_TIMED_IO, off);
	else
		ringd_prep_read(sqe, st->h, buf, VT_TIMED_IO, off);
	ringd_sqe_set_data64(sqe, round);
	t0 = rt_now_us();
	ret = ringd_submit(st->rd);
	if (ret != 1) {
		fprintf(stderr, "victim: submit: %d\n", ret);
		return 24;
	}
	ret = ringd_wait_cqe_timeout(st->rd, &cqe, VT_TIMED_WAIT_MS);
	vt_note_latency(st, t0);
	if (ret) {
		fprintf(stderr, "victim: no completion within %d ms: %s\n", VT_TIMED_WAIT_MS,
			strerror(-ret));
		return 25;
	}
	if (cqe->user_data != round || cqe->res != (int)VT_TIMED_IO) {
		fprintf(stderr, "victim: round %u %s: user_data %llu res %d\n", round,
			write ? "write" : "read", (unsigned long long)cqe->user_data, cqe->res);
		return 26;
	}
	ringd_cqe_seen(st->rd, cqe);
	st->rep.ops++;
	return 0;
}

/* One round of the timed victim: write 4 KiB, read it back, check it. */
static int vt_timed_round(struct vt_state *st, void **bufs, unsigned int round)
{
	uint64_t off = (uint64_t)(round % (st->size / VT_TIMED_IO)) * VT_TIMED_IO;
	int ret;

	rt_fill(bufs[0], VT_TIMED_IO, round + 1, off);
	ret = vt_timed_io(st, true, bufs[0], off, round);
	if (ret)
		return ret;
	memset(bufs[1], 0xee, VT_TIMED_IO);
	ret = vt_timed_io(st, false, bufs[1], off, round);
	if (ret)
		return ret;
	if (rt_check(bufs[1], VT_TIMED_IO, round + 1, off) != -1) {
		fprintf(stderr, "victim: round %u: wrong data\n", round);
		return 27;
	}
	usleep(VT_TIMED_PAUSE_US);
	return 0;
}

static int vt_child(void *arg)
{
	struct vt_arg *a = arg;
	struct ringd_volume_info info;
	struct vt_state st = { 0 };
	void *bufs[VT_BATCH];
	unsigned int round, i;
	unsigned int seed = 7;
	int ret;

	/* Never outlive the test (its worker may be killed on a timeout). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Only the parent may hold the write end, or we never see EOF. */
	close(a->stop_wr);
	close(a->result_rd);
	ret = rt_connect(a->d, 32, 64, 4u << 20, &st.rd);
	if (ret) {
		fprintf(stderr, "victim: connect: %s\n", strerror(-ret));
		return 20;
	}
	st.h = ringd_open(st.rd, "victim", RINGD_RDWR, &info);
	if (st.h < 0) {
		fprintf(stderr, "victim: open: %s\n", strerror(-st.h));
		return 21;
	}
	st.size = info.size;
	for (i = 0; i < VT_BATCH; i++) {
		bufs[i] = ringd_buf_alloc(st.rd, 65536, 4096);
		if (!bufs[i])
			return 22;
	}
	/* Attached and ready: the parent takes its baselines after this. */
	round = 0;
	(void)!write(a->result_fd, &round, sizeof(round));
	ret = 0;
	for (round = 0; round < VT_MIN_ROUNDS || !vt_stop_requested(a->stop_fd); round++) {
		ret = a->timed ? vt_timed_round(&st, bufs, round)
			       : vt_batch_round(&st, bufs, round, &seed);
		if (ret)
			break;
	}
	st.rep.rounds = round;
	if (!ret) {
		struct ringd_stats rs;

		if (ringd_stats(st.rd, &rs) || rs.errors || rs.rejected || rs.broken_reason) {
			fprintf(stderr, "victim: stats say errors\n");
			ret = 28;
		}
	}
	/* The report goes out on failure too: how long it waited matters. */
	(void)!write(a->result_fd, &st.rep, sizeof(st.rep));
	if (!ret)
		ringd_disconnect(st.rd);
	return ret;
}

static void vt_spawn(const struct rt_daemon *d, struct victim *v, bool timed)
{
	struct vt_arg a = { .d = d, .timed = timed };
	int stop[2], res[2];

	memset(v, 0, sizeof(*v));
	cr_assert_eq(pipe2(stop, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	a.stop_fd = stop[0];
	a.stop_wr = stop[1];
	a.result_fd = res[1];
	a.result_rd = res[0];
	v->pid = rt_fork_as(RT_UID_B, RT_UID_B, vt_child, &a);
	cr_assert_gt(v->pid, 0);
	close(stop[0]);
	close(res[1]);
	v->stop_fd = stop[1];
	v->result_fd = res[0];
	{
		struct pollfd p = { .fd = v->result_fd, .events = POLLIN };
		unsigned int zero = 1;

		cr_assert_eq(poll(&p, 1, 20000), 1, "the victim did not attach");
		cr_assert_eq(read(v->result_fd, &zero, sizeof(zero)), (ssize_t)sizeof(zero),
			     "the victim failed to attach (status %d)", rt_wait_child(v->pid));
		cr_assert_eq(zero, 0);
	}
}

void vt_start(const struct rt_daemon *d, struct victim *v)
{
	vt_spawn(d, v, false);
}

void vt_start_timed(const struct rt_daemon *d, struct victim *v)
{
	vt_spawn(d, v, true);
}

int vt_stop(struct victim *v)
{
	struct vt_report rep = { 0 };
	int status;

	close(v->stop_fd);
	status = rt_wait_child(v->pid);
	if (read(v->result_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		memset(&rep, 0, sizeof(rep));
	close(v->result_fd);
	v->stop_fd = v->result_fd = -1;
	v->rounds = rep.rounds;
	v->ops = rep.ops;
	v->worst_us = rep.worst_us;
	return status;
}

void vt_finish(struct victim *v)
{
	int status = vt_stop(v);

	cr_assert_eq(status, 0, "the victim failed with status %d (see its stderr)", status);
	cr_assert_geq(v->rounds, VT_MIN_ROUNDS, "victim ran %u rounds", v->rounds);
}

/* ---- /proc helpers ---- */

int hs_count_fds_matching(pid_t pid, const char *needle)
{
	char path[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		k = readlink(link, target, sizeof(target) - 1);
		if (k < 0)
			continue;
		target[k] = '\0';
		if (strstr(target, needle))
			n++;
	}
	closedir(dir);
	return n;
}

int hs_count_maps(pid_t pid, const char *needle, uint64_t *bytes)
{
	char path[64], line[1024];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (bytes)
		*bytes = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (!strstr(line, needle))
			continue;
		n++;
		if (bytes && sscanf(line, "%llx-%llx", &a, &b) == 2)
			*bytes += b - a;
	}
	fclose(f);
	return n;
}

uint32_t hs_sessions_now(const struct rt_daemon *d)
{
	struct rt_admin_stats st;

	if (rt_admin_stats(d, &st))
		return UINT32_MAX;
	return st.sessions - 1;
}

int hs_stable_fd_count(pid_t pid)
{
	int i, n, best = rt_count_fds(pid);

	for (i = 0; i < 10; i++) {
		usleep(10000);
		n = rt_count_fds(pid);
		if (n < best)
			best = n;
	}
	return best;
}

void hs_teardown(struct rt_daemon *d)
{
	char cmd[300];

	if (getenv("HS_KEEP_LOG") && d->dir[0]) {
		snprintf(cmd, sizeof(cmd), "cp %s %s", d->log, getenv("HS_KEEP_LOG"));
		(void)!system(cmd);
	}
	if (d->pid > 0)
		rt_daemon_stop(d);
}

void hs_attach(const struct rt_daemon *d, struct hc *c, uint32_t sq, uint32_t cq, uint64_t data)
{
	int ret = hc_attach(d->sock, sq, cq, data, c);

	cr_assert_eq(ret, 0, "hostile attach: %s", strerror(-ret));
}

int hs_open(struct hc *c, const char *name, uint32_t flags)
{
	int h = hc_open(c, name, flags);

	cr_assert_geq(h, 0, "open %s: %s", name, strerror(-h));
	return h;
}

int32_t hs_one(struct hc *c, const struct ringd_sqe *proto, int timeout_ms)
{
	struct ringd_sqe *sqe = hc_sqe(c);
	struct ringd_cqe cqe;

	memcpy(sqe, proto, sizeof(*sqe));
	hc_submit(c);
	cr_assert_eq(hc_reap(c, &cqe, 1, timeout_ms), 1, "no completion for op %u", proto->opcode);
	cr_assert_eq(cqe.user_data, proto->user_data);
	cr_assert_eq(cqe.flags, 0);
	return cqe.res;
}
