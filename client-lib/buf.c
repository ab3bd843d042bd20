/* SPDX-License-Identifier: MIT */
/*
 * The data-area allocator: first fit over a sorted free list, with the
 * bookkeeping kept in private memory (the data area itself is shared with
 * the daemon and overwritten by reads).
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

int rc_buf_init(struct ringd *rd)
{
	struct rc_extent *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->off = 0;
	e->len = rd->data_size;
	rd->free_list = e;
	rd->used_list = NULL;
	return 0;
}

static void rc_list_free(struct rc_extent *e)
{
	while (e) {
		struct rc_extent *n = e->next;

		free(e);
		e = n;
	}
}

void rc_buf_fini(struct ringd *rd)
{
	rc_list_free(rd->free_list);
	rc_list_free(rd->used_list);
	rd->free_list = rd->used_list = NULL;
}

void *ringd_buf_alloc(struct ringd *rd, size_t len, size_t align)
{
	struct rc_extent **pp, *e, *used, *tail;
	uint64_t a, end;

	if (!rd || !len)
		return NULL;
	if (!align)
		align = 64;
	if (align & (align - 1))
		return NULL;
	for (pp = &rd->free_list; (e = *pp); pp = &e->next) {
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
		used->next = rd->used_list;
		rd->used_list = used;
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
		return rd->data + a;
	}
	return NULL;
}

void ringd_buf_free(struct ringd *rd, void *buf)
{
	struct rc_extent **pp, *u, *e, *prev = NULL;
	uint64_t off;

	if (!rd || !buf)
		return;
	off = (uint64_t)((uint8_t *)buf - rd->data);
	for (pp = &rd->used_list; (u = *pp); pp = &u->next)
		if (u->off == off)
			break;
	if (!u)
		return;
	*pp = u->next;
	/* Insert in offset order, then merge with both neighbours. */
	for (e = rd->free_list; e && e->off < u->off; e = e->next)
		prev = e;
	u->next = e;
	if (prev)
		prev->next = u;
	else
		rd->free_list = u;
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

void *ringd_buf_region(struct ringd *rd, size_t *len)
{
	if (!rd)
		return NULL;
	if (len)
		*len = rd->data_size;
	return rd->data;
}
