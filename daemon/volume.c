/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

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

int vol_open(const struct cfg_volume *cv, const char *state_dir, struct vol *out, char *err,
	     size_t errlen)
{
	uint64_t bytes, size;
	int flags, ret;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	snprintf(out->name, sizeof(out->name), "%s", cv->name);
	if (cv->path[0] == '/')
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
			snprintf(err, errlen, "volume %s: cannot create %s: %s", cv->name, out->path,
				 strerror(-ret));
			return ret;
		}
	}
	out->direct = cv->direct;
	flags = (cv->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (cv->direct ? O_DIRECT : 0);
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
		snprintf(err, errlen, "volume %s: %s is neither a regular file nor a block device%s%s",
			 cv->name, out->path, ret == -EINVAL ? "" : ": ",
			 ret == -EINVAL ? "" : strerror(-ret));
		goto out_close;
	}
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
	return 0;

out_close:
	close(out->fd);
	out->fd = -1;
	return ret;
}

void vol_close(struct vol *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
