/* SPDX-License-Identifier: MIT */
/*
 * TEMPORARY, branch sqlite only: the directory-volume calls of <ringd.h>
 * fail with -ENOSYS until their implementation (being written on main)
 * is merged; the merge deletes this file. They let the SQLite VFS and its
 * suite link meanwhile.
 */
#include <errno.h>

#include "ringd.h"

int ringd_open_file(struct ringd *rd, const char *volume, const char *path, int flags,
		    unsigned int mode, struct ringd_volume_info *info)
{
	(void)rd, (void)volume, (void)path, (void)flags, (void)mode, (void)info;
	return -ENOSYS;
}

int ringd_unlink(struct ringd *rd, const char *volume, const char *path)
{
	(void)rd, (void)volume, (void)path;
	return -ENOSYS;
}

int ringd_rename(struct ringd *rd, const char *volume, const char *from, const char *to)
{
	(void)rd, (void)volume, (void)from, (void)to;
	return -ENOSYS;
}

int ringd_mkdir(struct ringd *rd, const char *volume, const char *path, unsigned int mode)
{
	(void)rd, (void)volume, (void)path, (void)mode;
	return -ENOSYS;
}

int ringd_truncate(struct ringd *rd, int handle, uint64_t size)
{
	(void)rd, (void)handle, (void)size;
	return -ENOSYS;
}

int ringd_fstat(struct ringd *rd, int handle, struct ringd_volume_info *info)
{
	(void)rd, (void)handle, (void)info;
	return -ENOSYS;
}

int ringd_stat(struct ringd *rd, const char *volume, const char *path,
	       struct ringd_volume_info *info)
{
	(void)rd, (void)volume, (void)path, (void)info;
	return -ENOSYS;
}
