/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <nvme/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "kring.h"

#define KP_TRY_MS 5000u

static const char *const kp_op_names[] = {
	[IORING_OP_NOP] = "NOP",
	[IORING_OP_READV] = "READV",
	[IORING_OP_WRITEV] = "WRITEV",
	[IORING_OP_FSYNC] = "FSYNC",
	[IORING_OP_READ_FIXED] = "READ_FIXED",
	[IORING_OP_WRITE_FIXED] = "WRITE_FIXED",
	[IORING_OP_POLL_ADD] = "POLL_ADD",
	[IORING_OP_POLL_REMOVE] = "POLL_REMOVE",
	[IORING_OP_SYNC_FILE_RANGE] = "SYNC_FILE_RANGE",
	[IORING_OP_SENDMSG] = "SENDMSG",
	[IORING_OP_RECVMSG] = "RECVMSG",
	[IORING_OP_TIMEOUT] = "TIMEOUT",
	[IORING_OP_TIMEOUT_REMOVE] = "TIMEOUT_REMOVE",
	[IORING_OP_ACCEPT] = "ACCEPT",
	[IORING_OP_ASYNC_CANCEL] = "ASYNC_CANCEL",
	[IORING_OP_LINK_TIMEOUT] = "LINK_TIMEOUT",
	[IORING_OP_CONNECT] = "CONNECT",
	[IORING_OP_FALLOCATE] = "FALLOCATE",
	[IORING_OP_OPENAT] = "OPENAT",
	[IORING_OP_CLOSE] = "CLOSE",
	[IORING_OP_FILES_UPDATE] = "FILES_UPDATE",
	[IORING_OP_STATX] = "STATX",
	[IORING_OP_READ] = "READ",
	[IORING_OP_WRITE] = "WRITE",
	[IORING_OP_FADVISE] = "FADVISE",
	[IORING_OP_MADVISE] = "MADVISE",
	[IORING_OP_SEND] = "SEND",
	[IORING_OP_RECV] = "RECV",
	[IORING_OP_OPENAT2] = "OPENAT2",
	[IORING_OP_EPOLL_CTL] = "EPOLL_CTL",
	[IORING_OP_SPLICE] = "SPLICE",
	[IORING_OP_PROVIDE_BUFFERS] = "PROVIDE_BUFFERS",
	[IORING_OP_REMOVE_BUFFERS] = "REMOVE_BUFFERS",
	[IORING_OP_TEE] = "TEE",
	[IORING_OP_SHUTDOWN] = "SHUTDOWN",
	[IORING_OP_RENAMEAT] = "RENAMEAT",
	[IORING_OP_UNLINKAT] = "UNLINKAT",
	[IORING_OP_MKDIRAT] = "MKDIRAT",
	[IORING_OP_SYMLINKAT] = "SYMLINKAT",
	[IORING_OP_LINKAT] = "LINKAT",
	[IORING_OP_MSG_RING] = "MSG_RING",
	[IORING_OP_FSETXATTR] = "FSETXATTR",
	[IORING_OP_SETXATTR] = "SETXATTR",
	[IORING_OP_FGETXATTR] = "FGETXATTR",
	[IORING_OP_GETXATTR] = "GETXATTR",
	[IORING_OP_SOCKET] = "SOCKET",
	[IORING_OP_URING_CMD] = "URING_CMD",
	[IORING_OP_SEND_ZC] = "SEND_ZC",
	[IORING_OP_SENDMSG_ZC] = "SENDMSG_ZC",
};

const char *kp_op_name(unsigned int op)
{
	if (op >= sizeof(kp_op_names) / sizeof(kp_op_names[0]))
		return NULL;
	return kp_op_names[op];
}

bool kp_kernel_at_least(unsigned int major, unsigned int minor)
{
	unsigned int ma = 0, mi = 0;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* Set up and tear down a ring with @flags; 0 or -errno. */
static int kp_try_setup(unsigned int flags, unsigned int *features)
{
	struct io_uring_params p;
	struct io_uring ring;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if (flags & IORING_SETUP_SQPOLL)
		p.sq_thread_idle = 10;
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret < 0)
		return ret;
	if (features)
		*features = p.features;
	io_uring_queue_exit(&ring);
	return 0;
}

void kp_system_probe(struct kp_system *out)
{
	struct io_uring_probe *pr;
	struct utsname u;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	if (!uname(&u))
		snprintf(out->release, sizeof(out->release), "%s", u.release);
	out->ring = kp_try_setup(0, &out->features);
	out->sqpoll = kp_try_setup(IORING_SETUP_SQPOLL, NULL);
	out->iopoll = kp_try_setup(IORING_SETUP_IOPOLL, NULL);
	out->big = kp_try_setup(IORING_SETUP_SQE128 | IORING_SETUP_CQE32, NULL);
	pr = io_uring_get_probe();
	if (!pr)
		return;
	out->last_op = pr->last_op;
	for (i = 0; i < pr->ops_len && i < 64; i++)
		out->op_supported[i] = io_uring_opcode_supported(pr, (int)i);
	out->uring_cmd = io_uring_opcode_supported(pr, IORING_OP_URING_CMD);
	io_uring_free_probe(pr);
}

/* Read a one-line sysfs attribute into @buf (newline stripped). */
static int kp_sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* Copy @src (NULL: "") into @dst with trailing blanks trimmed. */
static void kp_trimmed(char *dst, size_t len, const char *src)
{
	size_t l;

	snprintf(dst, len, "%s", src ? src : "");
	l = strlen(dst);
	while (l && dst[l - 1] == ' ')
		dst[--l] = '\0';
}

/* Fill the NVMe fields of @d from the libnvme namespace @n of @c in @sub. */
static void kp_fill_ns(struct kp_device *d, nvme_subsystem_t sub, nvme_ctrl_t c, nvme_ns_t n)
{
	const char *g = nvme_ns_get_generic_name(n);
	const char *tr = nvme_ctrl_get_transport(c);

	d->nvme = true;
	d->nsid = (uint32_t)nvme_ns_get_nsid(n);
	d->nlba = nvme_ns_get_lba_count(n);
	if (!d->lbs)
		d->lbs = (uint32_t)nvme_ns_get_lba_size(n);
	snprintf(d->ctrl, sizeof(d->ctrl), "%s", nvme_ctrl_get_name(c));
	kp_trimmed(d->serial, sizeof(d->serial), nvme_ctrl_get_serial(c));
	kp_trimmed(d->subsysnqn, sizeof(d->subsysnqn), nvme_subsystem_get_nqn(sub));
	snprintf(d->transport, sizeof(d->transport), "%s", tr ? tr : "");
	d->fabric = tr && *tr && strcmp(tr, "pcie");
	if (g && *g)
		snprintf(d->generic, sizeof(d->generic), "/dev/%s", g);
}

/* What kp_nvme_walk() looks for: a block device by name, or a namespace
 * id under a controller serial or a subsystem NQN. */
struct kp_want {
	const char *blk;    /* "nvme0n1", or NULL */
	const char *serial; /* trimmed serial, or NULL */
	const char *nqn;    /* subsystem NQN, or NULL */
	uint32_t nsid;
};

/* Is @n (of controller @c, serial @ser, in @sub) what @w asks for? If so,
 * fill @d from it and return true. */
static bool kp_ns_match(struct kp_device *d, nvme_subsystem_t sub, nvme_ctrl_t c, nvme_ns_t n,
			const char *ser, const struct kp_want *w)
{
	const char *name = nvme_ns_get_name(n);

	if (w->blk) {
		if (strcmp(name, w->blk))
			return false;
	} else {
		if ((uint32_t)nvme_ns_get_nsid(n) != w->nsid)
			return false;
		if (w->serial && strcmp(ser, w->serial))
			return false;
		if (w->nqn &&
		    strcmp(nvme_subsystem_get_nqn(sub) ? nvme_subsystem_get_nqn(sub) : "", w->nqn))
			return false;
		snprintf(d->blk_name, sizeof(d->blk_name), "%s", name);
	}
	kp_fill_ns(d, sub, c, n);
	return true;
}

/*
 * Walk the NVMe topology for what @w asks. A subsystem's own namespaces
 * (the multipath heads) are tried before its controllers': a head
 * outlives the loss of any one path. Fills @d; returns 0 or -ENOENT.
 */
static int kp_nvme_walk(struct kp_device *d, const struct kp_want *w)
{
	nvme_root_t r;
	nvme_host_t h;
	nvme_subsystem_t sub;
	nvme_ctrl_t c;
	nvme_ns_t n;
	int ret = -ENOENT;

	r = nvme_create_root(NULL, 0);
	if (!r)
		return -ENOMEM;
	if (nvme_scan_topology(r, NULL, NULL) < 0) {
		nvme_free_tree(r);
		return -ENOENT;
	}
	nvme_for_each_host(r, h)
	{
		nvme_for_each_subsystem(h, sub)
		{
			nvme_subsystem_for_each_ctrl(sub, c)
			{
				char ser[32];

				kp_trimmed(ser, sizeof(ser), nvme_ctrl_get_serial(c));
				/* Multipath: namespaces hang off the subsystem. */
				nvme_subsystem_for_each_ns(sub, n)
				{
					if (kp_ns_match(d, sub, c, n, ser, w)) {
						ret = 0;
						goto out;
					}
				}
				nvme_ctrl_for_each_ns(c, n)
				{
					if (kp_ns_match(d, sub, c, n, ser, w)) {
						ret = 0;
						goto out;
					}
				}
			}
		}
	}
out:
	nvme_free_tree(r);
	return ret;
}

int kp_device_probe(const char *path, struct kp_device *out)
{
	char sys[PATH_MAX], buf[64], link[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", path);
	out->io_poll = -1;
	if (stat(path, &st) < 0) {
		out->err = -errno;
		out->type = KP_MISSING;
		return out->err;
	}
	if (S_ISREG(st.st_mode)) {
		out->type = KP_REGULAR;
		out->bytes = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISCHR(st.st_mode)) {
		out->type = KP_CHAR;
		return 0;
	}
	if (!S_ISBLK(st.st_mode)) {
		out->type = KP_OTHER;
		return 0;
	}
	out->type = KP_BLOCK;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	n = readlink(sys, link, sizeof(link) - 1);
	if (n > 0) {
		const char *base;

		link[n] = '\0';
		base = strrchr(link, '/');
		snprintf(out->blk_name, sizeof(out->blk_name), "%.63s", base ? base + 1 : link);
	}
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/queue/io_poll", major(st.st_rdev),
		 minor(st.st_rdev));
	if (!kp_sysfs_read(sys, buf, sizeof(buf)))
		out->io_poll = buf[0] == '1';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		unsigned long long sz;
		int lbs;

		if (!ioctl(fd, BLKGETSIZE64, &sz))
			out->bytes = sz;
		if (!ioctl(fd, BLKSSZGET, &lbs))
			out->lbs = (uint32_t)lbs;
		close(fd);
	}
	if (!strncmp(out->blk_name, "nvme", 4)) {
		struct kp_want w = { .blk = out->blk_name };

		kp_nvme_walk(out, &w);
	}
	return 0;
}

int kp_nvme_lookup(const char *spec, struct kp_device *out)
{
	const char *colon = strrchr(spec, ':');
	struct kp_want w = { 0 };
	char id[KP_NQN_MAX], path[80];
	struct kp_device d;
	unsigned long nsid;
	char *end;
	int ret;

	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(id))
		return -EINVAL;
	errno = 0;
	nsid = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || !nsid || nsid > UINT32_MAX)
		return -EINVAL;
	memcpy(id, spec, (size_t)(colon - spec));
	id[colon - spec] = '\0';
	if (!strncmp(id, "nqn.", 4))
		w.nqn = id;
	else if (strlen(id) < sizeof(out->serial))
		w.serial = id;
	else
		return -EINVAL;
	w.nsid = (uint32_t)nsid;
	memset(out, 0, sizeof(*out));
	ret = kp_nvme_walk(out, &w);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/dev/%s", out->blk_name);
	ret = kp_device_probe(path, &d);
	if (ret)
		return ret;
	*out = d;
	return 0;
}

static uint64_t kp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait for the one completion of a try ring; returns its res or -errno. */
static int kp_try_wait(struct kr_ring *kr, bool polled)
{
	uint64_t start = kp_now_ms();
	struct kr_cqe c;
	int ret;

	ret = kr_submit(kr);
	if (ret < 0)
		return ret;
	for (;;) {
		if (kr_reap(kr, &c, 1))
			return c.res;
		if (kp_now_ms() - start > KP_TRY_MS)
			return -ETIMEDOUT;
		if (polled) {
			ret = kr_iopoll(kr);
			if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
				return ret;
		} else {
			ret = kr_submit_and_wait(kr, 1, 100 * 1000000ull);
			if (ret < 0 && ret != -ETIME && ret != -EINTR)
				return ret;
		}
	}
}

/* A one-shot ring with @fd in slot 0 and a @len-byte buffer in slot 0. */
static int kp_try_ring(struct kr_ring *kr, unsigned int flags, int fd, void **buf, uint32_t len)
{
	struct kr_params p = { .entries = 4, .nr_files = 1, .nr_bufs = 1, .flags = flags };
	int ret;

	ret = posix_memalign(buf, 4096, len);
	if (ret)
		return -ret;
	ret = kr_ring_init(kr, &p);
	if (ret)
		goto out_free;
	ret = kr_file_set(kr, 0, fd);
	if (!ret)
		ret = kr_buf_set(kr, 0, *buf, len);
	if (!ret)
		return 0;
	kr_ring_exit(kr);
out_free:
	free(*buf);
	*buf = NULL;
	return ret;
}

int kp_iopoll_try(int fd, uint32_t lbs)
{
	struct kr_ring kr;
	void *buf;
	int ret;

	if (!lbs)
		lbs = 4096;
	ret = kp_try_ring(&kr, KR_IOPOLL, fd, &buf, lbs);
	if (ret)
		return ret;
	ret = kr_queue_read_fixed(&kr, 0, buf, lbs, 0, 0, 1);
	if (!ret)
		ret = kp_try_wait(&kr, true);
	kr_ring_exit(&kr);
	free(buf);
	return ret < 0 ? ret : 0;
}

int kp_passthrough_try(int fd, uint32_t nsid, uint32_t lbs, bool polled, bool *fixed_ok)
{
	/* Many pages: Linux 6.1 refuses (-EINVAL) fixed-buffer passthrough
	 * when the registered buffer has more pages than the queue has
	 * segments, whatever the I/O's own size; sessions' areas are that big. */
	const uint32_t area = 1u << 20;
	struct kr_ring kr;
	void *buf;
	int ret, fixed;

	if (!lbs)
		lbs = 4096;
	ret = kp_try_ring(&kr, KR_BIG | (polled ? KR_IOPOLL : 0), fd, &buf, area);
	if (ret)
		return ret;
	*fixed_ok = false;
	for (fixed = 1; fixed >= 0; fixed--) {
		ret = kr_queue_nvme_cmd(&kr, 0, 0x02, nsid, 0, 1, buf, lbs, 0, fixed, 1);
		if (!ret)
			ret = kr_nvme_status_errno(kp_try_wait(&kr, polled));
		if (!ret) {
			*fixed_ok = fixed;
			break;
		}
		if (ret != -EINVAL)
			break;
	}
	kr_ring_exit(&kr);
	free(buf);
	return ret;
}
