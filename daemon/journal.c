/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t jr_size(uint32_t max_sessions, uint32_t max_reqs)
{
	size_t sz = sizeof(struct jr_hdr) + (size_t)max_sessions * sizeof(struct jr_sess) +
		    (size_t)max_reqs * sizeof(struct jr_req) +
		    (size_t)max_reqs * sizeof(struct jr_vec[RINGD_MAX_VECS]);

	return (sz + 4095) & ~(size_t)4095;
}

static int jr_map(struct jr *j, int fd, size_t size, uint32_t max_sessions, uint32_t max_reqs)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	j->fd = fd;
	j->size = size;
	j->hdr = p;
	j->sess = (struct jr_sess *)(j->hdr + 1);
	j->reqs = (struct jr_req *)(j->sess + max_sessions);
	j->vecs = (struct jr_vec(*)[RINGD_MAX_VECS])(void *)(j->reqs + max_reqs);
	return 0;
}

int jr_create(struct jr *j, uint32_t max_sessions, uint32_t max_reqs)
{
	size_t size = jr_size(max_sessions, max_reqs);
	int fd, ret;

	memset(j, 0, sizeof(*j));
	fd = memfd_create("ringd-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto out_close;
	}
	ret = jr_map(j, fd, size, max_sessions, max_reqs);
	if (ret)
		goto out_close;
	j->hdr->version = JR_VERSION;
	j->hdr->max_sessions = max_sessions;
	j->hdr->max_reqs = max_reqs;
	j->hdr->size = size;
	jr_commit(&j->hdr->magic, JR_MAGIC);
	return 0;

out_close:
	close(fd);
	return ret;
}

int jr_open(struct jr *j, int fd, uint32_t max_sessions, uint32_t max_reqs)
{
	size_t size = jr_size(max_sessions, max_reqs);
	struct stat st;
	int ret;

	memset(j, 0, sizeof(*j));
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size != size)
		return -EINVAL;
	ret = jr_map(j, fd, size, max_sessions, max_reqs);
	if (ret)
		return ret;
	if (j->hdr->magic != JR_MAGIC || j->hdr->version != JR_VERSION ||
	    j->hdr->max_sessions != max_sessions || j->hdr->max_reqs != max_reqs ||
	    j->hdr->nvols > JR_MAX_VOLUMES) {
		munmap(j->hdr, size);
		memset(j, 0, sizeof(*j));
		return -EINVAL;
	}
	return 0;
}

void jr_close(struct jr *j)
{
	if (j->hdr)
		munmap(j->hdr, j->size);
	if (j->fd > 0)
		close(j->fd);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}

uint32_t jr_vol_find(const struct jr *j, const char *name)
{
	uint32_t i;

	for (i = 0; i < j->hdr->nvols; i++)
		if (!j->hdr->vol_removed[i] && !strncmp(j->hdr->vol_names[i], name, CFG_NAME_MAX))
			return i;
	return JR_MAX_VOLUMES;
}

uint32_t jr_vol_append(struct jr *j, const char *name)
{
	uint32_t i = j->hdr->nvols;

	if (i >= JR_MAX_VOLUMES)
		return JR_MAX_VOLUMES;
	snprintf(j->hdr->vol_names[i], CFG_NAME_MAX, "%s", name);
	j->hdr->vol_removed[i] = 0;
	jr_commit(&j->hdr->nvols, i + 1);
	return i;
}

void jr_vol_remove(struct jr *j, uint32_t idx)
{
	if (idx < JR_MAX_VOLUMES)
		__atomic_store_n(&j->hdr->vol_removed[idx], 1, __ATOMIC_RELEASE);
}
