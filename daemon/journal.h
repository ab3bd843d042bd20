/* SPDX-License-Identifier: MIT */
/*
 * jr_: the daemon-private journal that lets a restarted ringd re-adopt its
 * sessions. It is a memfd kept in systemd's fd store; no client can map
 * it. It holds each session's identity, layout and private ring indices,
 * its open handles, the write-back failures it is owed (flusherr.h), and
 * one record per accepted request until that request's CQE is committed.
 *
 * Crash consistency: the daemon is single-threaded and a SIGKILL stops it
 * between two instructions; stores to the shared memfd are never lost, so
 * only their order matters (each commit point is a release store):
 *
 *   consume SQE i:  req = {.., sq_index = i}; req.state = PENDING;
 *                   sess.sq_head = i + 1                       (commit)
 *   post its CQE:   req.posted_at = c; req.state = POSTING;
 *                   write CQE c; sess.cq_tail = c + 1          (commit)
 *                   req.state = FREE
 *
 * Recovery, per record: consumption not committed (sq_index >= sq_head)
 * -> drop it, the SQE is read again from the SQ (unless its CQE was
 * committed: then commit the consumption too); CQE committed (POSTING and
 * posted_at < cq_tail) -> done; otherwise the request is reissued (or its
 * immediate result posted again). Every request thus completes exactly
 * once.
 */
#ifndef RINGD_DAEMON_JOURNAL_H
#define RINGD_DAEMON_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ringd_abi.h"

#define JR_MAGIC 0x4c4e524au /* "JRNL" */
#define JR_VERSION                                                                                 \
	4u /* 2: vectors, links, durable writes, discard; 3: files;                                \
	    * 4: write-back errors owed */
#define JR_MAX_HANDLES 64u
#define JR_MAX_VOLUMES 256u
#define JR_MAX_FILES   8192u /* files of directory volumes open at once, daemon-wide */

enum jr_req_state { JR_FREE = 0, JR_PENDING = 1, JR_POSTING = 2 };

/* jr_req.flags */
enum {
	JR_F_DSYNC = 1u << 0, /* durable write */
	JR_F_LINK = 1u << 1,  /* RINGD_SQE_LINK: the next SQE waits for this one */
	JR_F_HELD = 1u << 2,  /* consumed, waiting for link_prev: not issued yet */
};

#define JR_NONE UINT32_MAX /* no request (link_prev) */
enum jr_sess_state { JR_SESS_FREE = 0, JR_SESS_ACTIVE = 1, JR_SESS_BROKEN = 2 };

/* One cache line per request: it is written twice per I/O. */
struct jr_req {
	uint32_t state;
	uint32_t sess;	    /* session slot */
	uint32_t sq_index;  /* SQ index the request was consumed at */
	uint32_t posted_at; /* CQ index of its CQE (POSTING) */
	uint64_t user_data;
	uint64_t dev_off;
	union {
		uint64_t buf_off; /* READ/WRITE: offset in the data area */
		uint64_t dev_len; /* DISCARD/WRITE_ZEROES: bytes */
		uint64_t target;  /* CANCEL: user_data of the request to cancel */
	};
	uint32_t len;
	uint32_t vol; /* index into jr_hdr.vol_names */
	int32_t res;  /* result of an immediate completion */
	uint8_t op;
	uint8_t immediate; /* completed by the daemon (validator) */
	uint8_t datasync;
	uint8_t flags;	    /* JR_F_* */
	uint32_t link_prev; /* JR_F_HELD: the request it waits for */
	uint8_t nvecs;	    /* READV/WRITEV: entries of jr.vecs[this request] */
	uint8_t pad[3];
};

static_assert(sizeof(struct jr_req) == 64, "a journal record is one cache line");

/* One vector of a journaled READV/WRITEV: a data-area range. */
struct jr_vec {
	uint64_t off;
	uint64_t len;
};

struct jr_handle {
	uint8_t open;
	uint8_t writable;
	uint8_t write_revoked;
	uint8_t locked; /* a file's RINGD_LOCK is held through it */
	int32_t revoked;
	uint32_t vol;	     /* index into jr_hdr.vol_names, or a file (JR_MAX_VOLUMES + i) */
	uint32_t opened_seq; /* low 32 bits of the Request.seq that opened it (0: none),
			      * written before open: a replay of that request finds it */
};

/* An open file of a directory volume; its fd is in the fd store as "file-I". */
struct jr_file {
	uint32_t used;
	uint32_t dir; /* the directory volume's index */
	uint64_t lock_owner;
	uint32_t unlinked;
	uint32_t pad;
};

/*
 * The write-back failures a session is owed (flusherr.h): bit i set means
 * its next flush of volume index i must fail, whatever the kernel says.
 * Kept here so that a restart does not lose a failure the previous
 * instance had taken from the kernel but not told yet.
 */
#define JR_FE_INDEXES (JR_MAX_VOLUMES + JR_MAX_FILES)
struct jr_fe_owed {
	uint64_t id; /* the session the bits were set for; 0: none */
	uint8_t bits[JR_FE_INDEXES / 8];
};

struct jr_sess {
	uint32_t state; /* enum jr_sess_state */
	uint32_t broken_reason;
	uint64_t id;
	uint32_t uid, gid, pid;
	uint32_t sq_entries, cq_entries;
	uint32_t sq_head, cq_tail; /* committed private indices */
	uint32_t nhandles;
	uint64_t region_size, sq_array_off, sqes_off, cqes_off, data_off, data_size;
	uint32_t chain_cancel;	 /* a link chain failed: its next SQEs get -ECANCELED */
	uint32_t ctl_unanswered; /* low 32 bits of the seq of a namespace request with
				  * the worker, not answered yet; 0: none */
	struct jr_handle handles[JR_MAX_HANDLES];
	struct jr_fe_owed fe;
};

struct jr_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t max_sessions;
	uint32_t max_reqs;
	uint64_t size;
	uint64_t next_session_id;
	uint32_t nvols; /* volume indexes ever used; never reused */
	uint32_t pad;
	char vol_names[JR_MAX_VOLUMES][CFG_NAME_MAX];
	uint8_t vol_removed[JR_MAX_VOLUMES];
	struct jr_file files[JR_MAX_FILES];
};

struct jr {
	int fd;
	size_t size;
	struct jr_hdr *hdr;
	struct jr_sess *sess;
	struct jr_req *reqs;
	struct jr_vec (*vecs)[RINGD_MAX_VECS]; /* per request */
};

/* Create a fresh journal memfd sized for the given tables. Returns 0 or -errno. */
int jr_create(struct jr *j, uint32_t max_sessions, uint32_t max_reqs);

/* Map an inherited journal @fd and check it matches the tables. Returns 0,
 * -EINVAL (not a journal, or other sizes), or -errno. Takes @fd on success. */
int jr_open(struct jr *j, int fd, uint32_t max_sessions, uint32_t max_reqs);

void jr_close(struct jr *j);

/* Index of the live volume called @name, or JR_MAX_VOLUMES. */
uint32_t jr_vol_find(const struct jr *j, const char *name);

/* A new volume index for @name, or JR_MAX_VOLUMES when all are used. */
uint32_t jr_vol_append(struct jr *j, const char *name);

/* Mark volume index @idx removed (never reused). */
void jr_vol_remove(struct jr *j, uint32_t idx);

/* Commit-ordered stores: see the comment at the top. */
static inline void jr_commit(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

#endif
