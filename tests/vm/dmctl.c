/* SPDX-License-Identifier: MIT */
#include "dmctl.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "harness.h"

int dm_call(unsigned long cmd, const char *name, union dm_buf *b, size_t size, uint32_t flags)
{
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	b->io.version[0] = DM_VERSION_MAJOR;
	b->io.version[1] = 0;
	b->io.version[2] = 0;
	b->io.data_size = (uint32_t)(size < sizeof(b->io) ? sizeof(b->io) : size);
	b->io.data_start = sizeof(b->io);
	b->io.flags = flags;
	snprintf(b->io.name, sizeof(b->io.name), "%s", name);
	if (ioctl(fd, cmd, &b->io) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int dm_load(const char *name, uint64_t len, const char *type, const char *params)
{
	union dm_buf b;
	struct dm_target_spec *t = (struct dm_target_spec *)(b.raw + sizeof(b.io));
	char *p = (char *)(t + 1);
	size_t plen = strlen(params) + 1;

	memset(&b, 0, sizeof(b));
	b.io.target_count = 1;
	t->sector_start = 0;
	t->length = len;
	snprintf(t->target_type, sizeof(t->target_type), "%s", type);
	memcpy(p, params, plen);
	t->next = 0;
	return dm_call(DM_TABLE_LOAD, name, &b, sizeof(b.io) + sizeof(*t) + ((plen + 7) & ~7ul), 0);
}

int dm_suspend(const char *name, bool suspend)
{
	union dm_buf b;

	memset(&b, 0, sizeof(b));
	return dm_call(DM_DEV_SUSPEND, name, &b, 0,
		       suspend ? DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG : 0);
}

int dm_remove(const char *name)
{
	union dm_buf b;
	int ret = 0, i;

	for (i = 0; i < 100; i++) {
		memset(&b, 0, sizeof(b));
		ret = dm_call(DM_DEV_REMOVE, name, &b, 0, 0);
		if (ret != -EBUSY)
			return ret;
		usleep(50000);
	}
	return ret;
}

void dm_create(const char *name, uint64_t len, const char *type, const char *params, char *path,
	       size_t pathlen)
{
	union dm_buf b;
	unsigned int minor;
	int ret;

	dm_remove(name);
	memset(&b, 0, sizeof(b));
	ret = dm_call(DM_DEV_CREATE, name, &b, 0, 0);
	cr_assert_eq(ret, 0, "create %s: %s (dm_mod loaded?)", name, strerror(-ret));
	minor = (unsigned int)((b.io.dev & 0xff) | ((b.io.dev >> 12) & 0xfff00));
	ret = dm_load(name, len, type, params);
	cr_assert_eq(ret, 0, "load %s %s on %s: %s (its module loaded?)", type, params, name,
		     strerror(-ret));
	ret = dm_suspend(name, false);
	cr_assert_eq(ret, 0, "resume %s: %s", name, strerror(-ret));
	snprintf(path, pathlen, "/dev/dm-%u", minor);
	cr_assert(rt_wait_for(10000, access(path, F_OK) == 0), "%s did not appear", path);
}
