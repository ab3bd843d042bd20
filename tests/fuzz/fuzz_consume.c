/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness (c): the ring consumer fed adversarial shared memory.
 * A session is attached to a real in-process server (real io_uring, a
 * file volume, a registered data area); the input is a program of client
 * actions on the shared mapping (raw byte writes anywhere in the ring
 * area, SQ tail and CQ head stores, well-formed SQEs with fuzzed fields,
 * reaping) interleaved with the daemon's disp_consume() and completion
 * routing. After every step the daemon's private invariants must hold:
 * no more CQEs promised than CQ slots free, in-flight caps respected; at
 * the end all kernel I/O drains and the session is freed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_srv();
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t n, pos;
};

static uint64_t take(struct rd *r, unsigned int bytes)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < bytes; i++)
		v |= (uint64_t)(r->pos < r->n ? r->p[r->pos++] : 0) << (8 * i);
	return v;
}

static void check(struct srv *s, struct sess *se)
{
	if (se->state == SESS_ACTIVE &&
	    (uint64_t)(uint32_t)(se->cq_tail - se->cq_head_seen) + se->cq_reserved >
		se->cq_entries) {
		fprintf(stderr, "CQ over-committed: tail %u head %u reserved %u entries %u\n",
			se->cq_tail, se->cq_head_seen, se->cq_reserved, se->cq_entries);
		abort();
	}
	if (se->inflight > se->max_inflight || use_get(&s->use, se->tenant).inflight >
						   s->cfg.tenants[se->tenant].max_tenant_inflight) {
		fprintf(stderr, "in-flight cap exceeded: %u\n", se->inflight);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Ringd__Hello hello = RINGD__HELLO__INIT;
	struct rd r = { .p = data, .n = size };
	struct srv *s = fz_srv();
	struct sess *se;
	char err[256];
	uint32_t slot, tail = 0, steps = 0;
	size_t rings;
	int peer, h[2], ret, i;
	uint8_t shape = (uint8_t)take(&r, 1);

	if (fz_sess_new(s, &se, &peer))
		abort();
	slot = se->slot;
	hello.abi_version = RINGD_ABI_VERSION;
	hello.has_sq_entries = hello.has_cq_entries = hello.has_data_size = 1;
	hello.sq_entries = 1u << (1 + shape % 5);
	hello.cq_entries = hello.sq_entries << ((shape >> 4) % 3);
	hello.data_size = FZ_DATA_SIZE;
	ret = sess_attach(&s->st, se, &hello, err, sizeof(err));
	fz_drain(peer);
	if (ret) {
		fprintf(stderr, "attach: %s\n", err);
		abort();
	}
	if (sess_handle_open(&s->st, se, "v", RINGD_RDWR, &h[0], err, sizeof(err)) ||
	    sess_handle_open(&s->st, se, "ro", RINGD_RDONLY, &h[1], err, sizeof(err)))
		abort();
	rings = (size_t)(se->data - (uint8_t *)se->base);

	while (r.pos < r.n && steps++ < 256 && s->st.slot[slot] == se && se->base) {
		uint8_t op = (uint8_t)take(&r, 1);

		switch (op % 8) {
		case 0: { /* raw bytes anywhere in the ring area */
			size_t off = take(&r, 2) % rings, len = take(&r, 1) % 64;

			if (off + len > rings)
				len = rings - off;
			for (size_t k = 0; k < len; k++)
				((uint8_t *)se->base)[off + k] = (uint8_t)take(&r, 1);
			break;
		}
		case 1:
			tail = (uint32_t)take(&r, 4);
			ringd_store_release(&se->hdr->sq_tail, tail);
			break;
		case 2:
			ringd_store_release(&se->hdr->cq_head, (uint32_t)take(&r, 4));
			break;
		case 3:
			disp_consume(&s->disp, se, 1 + (unsigned int)take(&r, 1) % 64);
			break;
		case 4:
			fz_reap(s, 0);
			break;
		case 5: { /* a well-formed-looking SQE with fuzzed fields */
			uint32_t idx = tail & (se->sq_entries - 1);
			struct ringd_sqe *q = &se->sqes[idx];
			uint8_t f = (uint8_t)take(&r, 1);

			memset(q, 0, sizeof(*q));
			q->opcode = f % 5;
			q->handle = f & 0x20 ? h[(f >> 3) & 1] : (int32_t)take(&r, 1) - 2;
			q->off = f & 0x40 ? take(&r, 8) : (take(&r, 2) << 9);
			q->addr = f & 0x80 ? take(&r, 8) : (take(&r, 2) << 6) % FZ_DATA_SIZE;
			q->len = (uint32_t)(f & 0x10 ? take(&r, 4) : (take(&r, 1) + 1) << 9);
			q->user_data = take(&r, 8);
			if (q->opcode == RINGD_OP_NOP)
				q->handle = 0, q->off = q->addr = q->len = 0;
			if (q->opcode == RINGD_OP_FSYNC)
				q->off = q->addr = q->len = 0;
			se->sq_array[idx] = idx;
			ringd_store_release(&se->hdr->sq_tail, ++tail);
			break;
		}
		case 6: /* the client reaps everything published */
			ringd_store_release(&se->hdr->cq_head,
					    ringd_load_acquire(&se->hdr->cq_tail));
			break;
		default:
			fz_reap(s, se->inflight != 0);
			break;
		}
		if (s->st.slot[slot] == se)
			check(s, se);
	}
	if (s->st.slot[slot] != se)
		abort(); /* only a stall timeout closes it, and no input lasts 30 s */
	for (i = 0; i < 1000 && se->inflight; i++)
		fz_reap(s, 1);
	if (se->inflight) {
		fprintf(stderr, "kernel I/O did not drain\n");
		abort();
	}
	fz_drain(peer);
	fz_sess_end(s, se);
	close(peer);
	return 0;
}
