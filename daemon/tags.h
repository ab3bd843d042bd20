/* SPDX-License-Identifier: MIT */
/*
 * Kernel SQE tags: daemon-private values only, never client data. The top
 * byte says what a completion is for (enum srv_tag), the low 32 bits which
 * request or session slot. The loop routes each completion with one
 * explicit switch on the kind.
 */
#ifndef RINGD_DAEMON_TAGS_H
#define RINGD_DAEMON_TAGS_H

#include <stdint.h>

enum srv_tag {
	TAG_NONE = 0,	  /* completions nobody waits for */
	TAG_IO = 1,	  /* low 32 bits: request slot */
	TAG_LISTEN = 2,	  /* listening socket readable */
	TAG_CTRL = 3,	  /* low 32 bits: session slot; control socket readable */
	TAG_DOORBELL = 4, /* low 32 bits: session slot; doorbell readable */
	TAG_SIGNAL = 5,	  /* signalfd readable */
	TAG_KRING = 6,	  /* the passthrough ring's completion eventfd readable */
	TAG_POLLRM = 7,	  /* low 32 bits: session slot << 1 | doorbell; a poll removal done */
	TAG_RELOAD = 8,	  /* the reload thread's eventfd readable: a parsed config waits */
	TAG_NS = 9,	  /* the namespace worker's eventfd readable: jobs are done */
};

static inline uint64_t srv_tag(enum srv_tag t, uint32_t idx)
{
	return ((uint64_t)t << 56) | idx;
}

static inline enum srv_tag srv_tag_kind(uint64_t tag)
{
	return (enum srv_tag)(tag >> 56);
}

static inline uint32_t srv_tag_idx(uint64_t tag)
{
	return (uint32_t)tag;
}

/*
 * @idx if it is below @size, else 0, without a branch the CPU could
 * speculate past (the kernel's array_index_nospec()). Every index a client
 * chooses is clamped with it after the bounds check.
 */
static inline uint32_t idx_nospec(uint32_t idx, uint32_t size)
{
	uint32_t mask = (uint32_t)((int32_t)((idx - size) & ~idx) >> 31);

	__asm__("" : "+r"(mask));
	return idx & mask;
}

#endif
