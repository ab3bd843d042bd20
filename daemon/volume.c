/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"

#define VOL_POLL_HINT                                                                              \
	"load nvme with poll_queues=N (see config/modprobe.d/ringd-nvme.conf) or set poll = off"

/* Create @path as a sparse file of @size bytes if it does not exist. */
static int vol_create(const char *path, uint64_t size)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		unlink(path);
	}
	close(fd);
	return ret;
}

/* Size and alignment of an open backing. */
static int vol_geometry(struct vol *v, uint64_t *bytes)
{
	struct statx stx;

	if (statx(v->fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE | STATX_DIOALIGN, &stx) < 0)
		return -errno;
	if (S_ISBLK(stx.stx_mode)) {
		unsigned long long sz;
		int lbs;

		if (ioctl(v->fd, BLKGETSIZE64, &sz) < 0 || ioctl(v->fd, BLKSSZGET, &lbs) < 0)
			return -errno;
		v->blockdev = true;
		*bytes = sz;
		v->block_size = (uint32_t)lbs;
		return 0;
	}
	if (!S_ISREG(stx.stx_mode))
		return -EINVAL;
	*bytes = stx.stx_size;
	v->block_size = 512;
	if ((stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align)
		v->block_size = stx.stx_dio_offset_align;
	if (v->direct && (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align > v->block_size)
		v->block_size = stx.stx_dio_mem_align;
	return 0;
}

/* Can @v do NVMe passthrough? Opens v->ng_fd. Returns 0 or -errno with @why. */
static int vol_try_passthrough(struct vol *v, const struct kp_device *d, bool polled, char *why,
			       size_t whylen)
{
	int ret;

	if (!d->nvme) {
		snprintf(why, whylen, "%.200s is not an NVMe namespace", v->path);
		return -ENOTTY;
	}
	if (!d->generic[0]) {
		snprintf(why, whylen, "no NVMe generic char device (/dev/ngXnY) for %.200s",
			 v->path);
		return -ENODEV;
	}
	snprintf(v->ng_path, sizeof(v->ng_path), "%.200s", d->generic);
	v->ng_fd = open(d->generic, (v->v.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (v->ng_fd < 0) {
		ret = -errno;
		snprintf(why, whylen, "cannot open %.200s: %.200s", d->generic, strerror(-ret));
		return ret;
	}
	v->nsid = d->nsid;
	ret = kp_passthrough_try(v->ng_fd, d->nsid, v->block_size, polled, &v->pt_fixed);
	if (ret) {
		snprintf(why, whylen, "a %.200sNVMe read through %.200s failed: %.200s",
			 polled ? "polled " : "", d->generic, strerror(-ret));
		close(v->ng_fd);
		v->ng_fd = -1;
		return ret;
	}
	return 0;
}

/* Can @v be polled (IOPOLL)? Returns 0 or -errno with @why. */
static int vol_try_poll(struct vol *v, const struct kp_device *d, enum cfg_mode poll, char *why,
			size_t whylen)
{
	int ret;

	if (!v->blockdev) {
		snprintf(why, whylen,
			 "%.200s is not a block device (IOPOLL needs an NVMe poll queue)", v->path);
		return -ENOTBLK;
	}
	/* IOPOLL on a queue without poll queues may silently complete by interrupt
	 * (6.1) or fail (-EOPNOTSUPP): trust the queue's own flag. */
	if (d->io_poll != 1 && !d->nvme) {
		snprintf(why, whylen,
			 "%.200s has no poll queues (queue/io_poll is %d; polled I/O needs an NVMe "
			 "namespace with poll queues)",
			 v->path, d->io_poll);
		return -EOPNOTSUPP;
	}
	if (d->io_poll != 1) {
		snprintf(why, whylen,
			 "%.200s has no poll queues (queue/io_poll is %d): " VOL_POLL_HINT, v->path,
			 d->io_poll);
		return -EOPNOTSUPP;
	}
	if (v->passthrough && poll == CFG_AUTO && !kp_kernel_at_least(6, 10)) {
		snprintf(
		    why, whylen,
		    "polled NVMe passthrough is not chosen automatically before Linux 6.10: on "
		    "older kernels (6.1 seen) a process killed with polled passthrough in "
		    "flight can crash the kernel (nvme_ns_chr_uring_cmd_iopoll); set poll = "
		    "on to use it anyway");
		return -EOPNOTSUPP;
	}
	if (v->passthrough)
		return vol_try_passthrough(v, d, true, why, whylen) ? -EOPNOTSUPP : 0;
	if (!v->direct) {
		snprintf(why, whylen, "polled block I/O needs direct = yes (O_DIRECT)");
		return -EINVAL;
	}
	ret = kp_iopoll_try(v->fd, v->block_size);
	if (ret) {
		snprintf(why, whylen, "a polled read of %.200s failed: %.200s: " VOL_POLL_HINT,
			 v->path, strerror(-ret));
		return ret;
	}
	return 0;
}

/* Resolve poll = and passthrough = for the open volume @v. */
static int vol_modes(const struct cfg_volume *cv, struct vol *v, char *err, size_t errlen)
{
	struct kp_device d;
	char why[1024];
	int ret;

	kp_device_probe(v->path, &d);
	if (d.nvme && d.fabric) {
		snprintf(v->subsysnqn, sizeof(v->subsysnqn), "%s", d.subsysnqn);
		v->fail_on_path_loss = cv->on_path_loss == CFG_PATH_LOSS_FAIL;
		log_info("volume %s: over %s, subsystem %s (%s), on_path_loss = %s", cv->name,
			 d.transport, d.subsysnqn, d.ctrl, cfg_path_loss_name(cv->on_path_loss));
	}
	if (cv->passthrough != CFG_OFF) {
		why[0] = '\0';
		ret = vol_try_passthrough(v, &d, false, why, sizeof(why));
		if (ret && cv->passthrough == CFG_ON) {
			snprintf(err, errlen, "volume %.200s: passthrough = on, but %.200s",
				 cv->name, why);
			return ret;
		}
		if (ret) {
			snprintf(v->pt_why, sizeof(v->pt_why), "%.1000s", why);
			log_info("volume %s: passthrough = auto: not used: %s", cv->name, why);
		}
		v->passthrough = !ret;
	}
	if (v->passthrough && (cv->offset % v->block_size || (v->v.size % v->block_size))) {
		snprintf(err, errlen,
			 "volume %.200s: passthrough needs offset and size aligned to %u bytes",
			 cv->name, v->block_size);
		return -EINVAL;
	}
	if (v->passthrough && !v->pt_fixed)
		log_info("volume %s: this kernel refuses passthrough from large registered "
			 "buffers; passthrough maps the data area per I/O instead",
			 cv->name);
	if (v->passthrough) {
		v->v.align = v->block_size;
		while ((1u << v->lba_shift) < v->block_size)
			v->lba_shift++;
	}
	if (cv->poll != CFG_OFF) {
		bool pt = v->passthrough;

		why[0] = '\0';
		if (pt) {
			/* Re-probe the char device with a polled command. */
			close(v->ng_fd);
			v->ng_fd = -1;
		}
		ret = vol_try_poll(v, &d, cv->poll, why, sizeof(why));
		if (pt && v->ng_fd < 0) {
			/* Polled passthrough failed: keep interrupt passthrough. */
			char w2[1024];

			if (vol_try_passthrough(v, &d, false, w2, sizeof(w2))) {
				snprintf(err, errlen, "volume %.200s: %.200s", cv->name, w2);
				return -EIO;
			}
		}
		if (ret && cv->poll == CFG_ON) {
			snprintf(err, errlen, "volume %.200s: poll = on, but %.200s", cv->name,
				 why);
			return ret;
		}
		if (ret) {
			snprintf(v->poll_why, sizeof(v->poll_why), "%.1000s", why);
			log_info("volume %s: poll = auto: not polled: %s", cv->name, why);
		}
		v->polled = !ret;
		if (v->polled && v->passthrough && !kp_kernel_at_least(6, 10))
			log_warn(
			    "volume %s: polled NVMe passthrough on Linux < 6.10: if ringd is "
			    "killed with polled I/O in flight the kernel may crash "
			    "(nvme_ns_chr_uring_cmd_iopoll); stop it with SIGTERM, which drains",
			    cv->name);
	}
	return 0;
}

/* mkdir -p @path, the last component 0700 (the others 0755). */
static int vol_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	char *c;

	snprintf(buf, sizeof(buf), "%s", path);
	for (c = buf + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* What is beneath @fd (taken: closed here), @depth levels down: the sum of
 * the regular files' st_size in *@bytes, entries in *@n, and in *@deep
 * the directories too deep to walk. */
struct vol_walk {
	uint64_t bytes, n;
	unsigned int deep;
};

static int vol_dir_walk(int fd, struct vol_walk *w, unsigned int depth)
{
	struct dirent *e;
	DIR *d;
	int ret = 0;

	if (depth > VOL_WALK_DEPTH) {
		close(fd);
		w->deep++;
		return 0;
	}
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while (!ret && (e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		w->n++;
		if (S_ISREG(st.st_mode))
			w->bytes += (uint64_t)st.st_size;
		else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				ret = vol_dir_walk(sub, w, depth + 1);
		}
	}
	closedir(d);
	return ret;
}

int vol_dir_usage(int dirfd, uint64_t *bytes, uint64_t *entries, unsigned int *deep)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct vol_walk w = { 0, 0, 0 };
	int ret;

	if (fd < 0)
		return -errno;
	ret = vol_dir_walk(fd, &w, 0);
	*bytes = w.bytes;
	*entries = w.n;
	*deep = w.deep;
	return ret;
}

/*
 * Whether @fd's file system takes non-blocking reads: a read with
 * RWF_NOWAIT is refused with EOPNOTSUPP, before anything else is looked
 * at, where it does not (tmpfs here). io_uring then hands every read and
 * write of the file to a worker thread without trying it inline.
 */
static bool vol_takes_nowait(int fd)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };

	return preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP;
}

/*
 * Whether io_uring tries buffered writes to @fd inline before handing them
 * to a worker: only where the file system writes into the page cache
 * without blocking (FMODE_BUF_WASYNC), which no call reports; XFS and
 * btrfs do on the kernels ringd runs on. ext4 and block devices do not:
 * every buffered write to them was seen handed over untried (Linux 6.18).
 */
static bool vol_writes_nowait(int fd)
{
	struct statfs sf;
	struct stat st;

	if (fstat(fd, &st) || S_ISBLK(st.st_mode) || fstatfs(fd, &sf))
		return false;
	return sf.f_type == XFS_SUPER_MAGIC || sf.f_type == BTRFS_SUPER_MAGIC;
}

/* As vol_takes_nowait(), for the files of directory @dirfd: an unnamed
 * file made in it answers (if none can be made, assume yes). */
static bool vol_dir_takes_nowait(int dirfd)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	bool yes;

	if (fd < 0)
		return true;
	yes = vol_takes_nowait(fd);
	close(fd);
	return yes;
}

/* A directory volume: create the directory if missing, open it, count its bytes. */
static int vol_open_dir(const struct cfg_volume *cv, const char *state_dir, struct vol *out,
			char *err, size_t errlen)
{
	uint64_t used, entries;
	unsigned int deep;
	struct stat st;
	int ret;

	ret = cv->dir[0] == '/'
		  ? snprintf(out->path, sizeof(out->path), "%s", cv->dir)
		  : snprintf(out->path, sizeof(out->path), "%s/%s", state_dir, cv->dir);
	if (ret < 0 || (size_t)ret >= sizeof(out->path)) {
		snprintf(err, errlen, "volume %s: dir too long", cv->name);
		return -ENAMETOOLONG;
	}
	out->isdir = true;
	out->direct = cv->direct;
	ret = vol_mkdirs(out->path);
	if (!ret) {
		out->fd = open(out->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (out->fd < 0)
			ret = -errno;
	}
	if (ret) {
		snprintf(err, errlen, "volume %s: dir = %s: %s", cv->name, out->path,
			 strerror(-ret));
		return ret;
	}
	if (fstat(out->fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077)) {
		if (!fchown(out->fd, geteuid(), getegid()) && !fchmod(out->fd, 0700))
			log_warn("volume %s: %s made the daemon's, mode 0700", cv->name, out->path);
	}
	out->worker_io = !vol_dir_takes_nowait(out->fd);
	out->worker_writes = out->worker_io || !vol_writes_nowait(out->fd);
	ret = vol_dir_usage(out->fd, &used, &entries, &deep);
	if (ret) {
		snprintf(err, errlen, "volume %s: cannot count the bytes under %s: %s", cv->name,
			 out->path, strerror(-ret));
		vol_close(out);
		return ret;
	}
	if (deep)
		log_warn("volume %s: %u directories lie more than %d levels beneath %s (not made "
			 "through ringd): the bytes below them are not counted against its size",
			 cv->name, deep, VOL_WALK_DEPTH, out->path);
	out->block_size = (uint32_t)(st.st_blksize ? st.st_blksize : 4096);
	out->v.base = 0;
	out->v.size = cv->size;
	out->v.readonly = cv->readonly;
	out->v.align = cv->direct ? 4096 : 1;
	out->v.zero_align = out->v.align;
	out->used = used;
	out->entries = entries;
	out->max_entries = cv->max_entries;
	if (entries > cv->max_entries)
		log_warn("volume %s: it holds %llu files and directories, more than max_entries = "
			 "%u: creating more gets -EDQUOT until some are removed",
			 cv->name, (unsigned long long)entries, cv->max_entries);
	if (used > cv->size)
		log_warn("volume %s: its files hold %llu bytes, more than size = %llu: writes that "
			 "grow a file get -EDQUOT until files are removed",
			 cv->name, (unsigned long long)used, (unsigned long long)cv->size);
	return 0;
}

int vol_open(const struct cfg_volume *cv, const char *state_dir, struct vol *out, char *err,
	     size_t errlen)
{
	uint64_t bytes = 0, size;
	int flags, ret;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->ng_fd = -1;
	snprintf(out->name, sizeof(out->name), "%s", cv->name);
	if (cv->dir[0])
		return vol_open_dir(cv, state_dir, out, err, errlen);
	if (cv->nvme[0]) {
		struct kp_device d;

		ret = kp_nvme_lookup(cv->nvme, &d);
		if (ret) {
			snprintf(err, errlen, "volume %s: nvme = %s: %s", cv->name, cv->nvme,
				 ret != -ENOENT ? strerror(-ret)
				 : strncmp(cv->nvme, "nqn.", 4)
				     ? "no such controller serial and namespace id"
				     : "no such subsystem NQN and namespace id (not connected?)");
			return ret;
		}
		ret = snprintf(out->path, sizeof(out->path), "/dev/%s", d.blk_name);
	} else if (cv->path[0] == '/')
		ret = snprintf(out->path, sizeof(out->path), "%s", cv->path);
	else
		ret = snprintf(out->path, sizeof(out->path), "%s/%s", state_dir, cv->path);
	if (ret < 0 || (size_t)ret >= sizeof(out->path)) {
		snprintf(err, errlen, "volume %s: path too long", cv->name);
		return -ENAMETOOLONG;
	}
	if (cv->create_size) {
		ret = vol_create(out->path, cv->create_size);
		if (ret) {
			snprintf(err, errlen, "volume %s: cannot create %s: %s", cv->name,
				 out->path, strerror(-ret));
			return ret;
		}
	}
	out->direct = cv->direct;
	flags = (cv->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (cv->direct ? O_DIRECT : 0);
	/*
	 * No access-time updates: a volume's reads are its tenants', and
	 * touch_atime() is about 2 % of the daemon's CPU per cached 4 KiB
	 * read. Refused (EPERM) unless we own the file or have CAP_FOWNER.
	 */
	out->fd = open(out->path, flags | O_NOATIME);
	if (out->fd < 0 && errno == EPERM)
		out->fd = open(out->path, flags);
	if (out->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "volume %s: cannot open %s%s: %s", cv->name, out->path,
			 cv->direct && ret == -EINVAL ? " with O_DIRECT (direct = yes)" : "",
			 strerror(-ret));
		return ret;
	}
	ret = vol_geometry(out, &bytes);
	if (ret) {
		snprintf(err, errlen,
			 "volume %s: %s is neither a regular file nor a block device%s%s", cv->name,
			 out->path, ret == -EINVAL ? "" : ": ",
			 ret == -EINVAL ? "" : strerror(-ret));
		goto out_close;
	}
	/* Asked only of a file or block device: a read from a FIFO would take a byte. */
	out->worker_io = !vol_takes_nowait(out->fd);
	out->worker_writes = out->worker_io || !vol_writes_nowait(out->fd);
	if (cv->offset > bytes) {
		ret = -ERANGE;
		snprintf(err, errlen, "volume %s: offset %llu is beyond the end of %s (%llu bytes)",
			 cv->name, (unsigned long long)cv->offset, out->path,
			 (unsigned long long)bytes);
		goto out_close;
	}
	size = cv->size ? cv->size : bytes - cv->offset;
	if (size > bytes - cv->offset) {
		ret = -ERANGE;
		snprintf(err, errlen,
			 "volume %s: extent [%llu, +%llu) does not fit in %s (%llu bytes)",
			 cv->name, (unsigned long long)cv->offset, (unsigned long long)size,
			 out->path, (unsigned long long)bytes);
		goto out_close;
	}
	if (!size) {
		ret = -EINVAL;
		snprintf(err, errlen, "volume %s: extent is empty", cv->name);
		goto out_close;
	}
	out->v.base = cv->offset;
	out->v.size = size;
	out->v.readonly = cv->readonly;
	out->v.align = cv->direct ? out->block_size : 1;
	if (cv->direct && (cv->offset % out->block_size || size % out->block_size)) {
		ret = -EINVAL;
		snprintf(err, errlen,
			 "volume %s: direct = yes needs offset and size aligned to %u bytes",
			 cv->name, out->block_size);
		goto out_close;
	}
	ret = vol_modes(cv, out, err, errlen);
	if (ret)
		goto out_close;
	/* fallocate() on a block device takes whole logical blocks. */
	out->v.zero_align = out->v.align;
	if (out->blockdev && out->block_size > out->v.zero_align)
		out->v.zero_align = out->block_size;
	return 0;

out_close:
	vol_close(out);
	return ret;
}

void vol_close(struct vol *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	if (v->ng_fd >= 0)
		close(v->ng_fd);
	v->ng_fd = -1;
}
