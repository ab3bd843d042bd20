/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 0: the data-area allocator (see buf.c). Knows a base and
 * a length, nothing of rings or sessions.
 */
#ifndef RINGD_CLIENT_BUF_H
#define RINGD_CLIENT_BUF_H

#include <stddef.h>
#include <stdint.h>

/* One extent of the data area, on the free or the used list. */
struct buf_extent {
	uint64_t off, len;
	struct buf_extent *next;
};

struct buf_area {
	uint8_t *base;
	size_t size;
	struct buf_extent *free_list; /* sorted by offset */
	struct buf_extent *used_list;
};

/* Manage the @size bytes at @base, all free. Returns 0 or -ENOMEM. */
int buf_init(struct buf_area *area, void *base, size_t size);

/* Forget every extent (the memory at base is not ours to free). */
void buf_fini(struct buf_area *area);

/* @len (> 0) bytes aligned to @align (a power of two; 0 means 64), or NULL
 * when no free extent fits, @align is not a power of two, or on ENOMEM. */
void *buf_alloc(struct buf_area *area, size_t len, size_t align);

/* Give back @p from buf_alloc(); anything else is ignored. */
void buf_free(struct buf_area *area, void *p);

#endif
