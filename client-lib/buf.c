/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 0: the data-area allocator.
 *
 * Owns: first fit over a sorted free list, with the bookkeeping kept in
 * private memory (the data area itself is shared with the daemon and
 * overwritten by reads).
 * May call: libc only.
 */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"

int buf_init(struct buf_area *area, void *base, size_t size)
{
	struct buf_extent *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->off = 0;
	e->len = size;
	area->base = base;
	area->size = size;
	area->free_list = e;
	area->used_list = NULL;
	return 0;
}

static void buf_list_free(struct buf_extent *e)
{
	while (e) {
		struct buf_extent *n = e->next;

		free(e);
		e = n;
	}
}

void buf_fini(struct buf_area *area)
{
	buf_list_free(area->free_list);
	buf_list_free(area->used_list);
	area->free_list = area->used_list = NULL;
}

void *buf_alloc(struct buf_area *area, size_t len, size_t align)
{
	struct buf_extent **pp, *e, *used, *tail;
	uint64_t a, end;

	if (!len)
		return NULL;
	if (!align)
		align = 64;
	if (align & (align - 1))
		return NULL;
	for (pp = &area->free_list; (e = *pp); pp = &e->next) {
		a = (e->off + align - 1) & ~((uint64_t)align - 1);
		if (a < e->off || a + len < a || a + len > e->off + e->len)
			continue;
		used = calloc(1, sizeof(*used));
		if (!used)
			return NULL;
		end = e->off + e->len;
		tail = NULL;
		if (a + len < end) {
			tail = calloc(1, sizeof(*tail));
			if (!tail) {
				free(used);
				return NULL;
			}
			tail->off = a + len;
			tail->len = end - (a + len);
		}
		used->off = a;
		used->len = len;
		used->next = area->used_list;
		area->used_list = used;
		if (a > e->off) {
			/* Keep the head gap in place; the tail follows it. */
			e->len = a - e->off;
			if (tail) {
				tail->next = e->next;
				e->next = tail;
			}
		} else if (tail) {
			tail->next = e->next;
			*pp = tail;
			free(e);
		} else {
			*pp = e->next;
			free(e);
		}
		return area->base + a;
	}
	return NULL;
}

void buf_free(struct buf_area *area, void *p)
{
	struct buf_extent **pp, *u, *e, *prev = NULL;
	uint64_t off;

	if (!p)
		return;
	off = (uint64_t)((uint8_t *)p - area->base);
	for (pp = &area->used_list; (u = *pp); pp = &u->next)
		if (u->off == off)
			break;
	if (!u)
		return;
	*pp = u->next;
	/* Insert in offset order, then merge with both neighbours. */
	for (e = area->free_list; e && e->off < u->off; e = e->next)
		prev = e;
	u->next = e;
	if (prev)
		prev->next = u;
	else
		area->free_list = u;
	if (e && u->off + u->len == e->off) {
		u->len += e->len;
		u->next = e->next;
		free(e);
	}
	if (prev && prev->off + prev->len == u->off) {
		prev->len += u->len;
		prev->next = u->next;
		free(u);
	}
}
