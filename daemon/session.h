/* SPDX-License-Identifier: MIT */
/*
 * sess_: the session table and each session's lifecycle, shared memory and
 * volume handles. See the transition table at the top of session.c.
 */
#ifndef RINGD_DAEMON_SESSION_H
#define RINGD_DAEMON_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "nsworker.h"
#include "journal.h"
#include "log.h"
#include "ringd.pb-c.h"
#include "ringd_abi.h"
#include "rings.h"
#include "usage.h"
#include "validate.h"
#include "vols.h"

enum sess_state {
	SESS_HANDSHAKE, /* accepted, no Hello yet */
	SESS_ACTIVE,	/* serving its SQ */
	SESS_BROKEN,	/* protocol violation: no more SQEs, control still answered;
			 * its memory is released once its kernel I/O drains */
	SESS_CLOSING,	/* torn down; waiting for its kernel work to drain */
	SESS_FREED,	/* out of the table; its memory goes at the end of the pass */
};

struct sess_stats {
	uint64_t submitted;
	uint64_t completed;
	uint64_t errors;
	uint64_t rejected;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t completions_interrupt;
	uint64_t completions_polled;
	uint64_t completions_passthrough;
	uint64_t completions_passthrough_polled;
};

/* Where a session's rings and data area lie in its shared memory. */
struct sess_layout {
	uint32_t sq_entries, cq_entries;
	uint64_t sq_array_off, sqes_off, cqes_off, data_off, data_size, region_size;
};

/*
 * Shared memory of at least this size is made and dropped by the
 * namespace worker's threads (NS_REGION, NS_UNMAP), not on the loop (H51).
 */
#define SESS_REGION_ASYNC (1u << 20)

struct sess {
	uint32_t slot; /* in the table; also its registered-buffer slot */
	uint64_t id;
	enum sess_state state;
	bool admin;
	bool listed; /* on the active list */
	bool buf_registered;
	bool cq_dirty; /* CQEs posted but cq_tail not yet published */

	/* Identity, from SO_PEERCRED only. */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int tenant;		   /* index into cfg.tenants, -1 for none */
	uint64_t deadline_ms;	   /* SESS_HANDSHAKE: closed if no Hello by then */
	struct sess_layout layout; /* SESS_HANDSHAKE: of the Hello being answered */

	int sock;
	int memfd;
	int wake_fd; /* daemon's end of the doorbell/notification socketpair */
	unsigned int polls_armed;
	bool ctrl_poll;
	bool doorbell_poll;
	bool ctrl_pending;	/* more control messages may be queued (ctlplane) */
	bool ns_busy;		/* a namespace request is with the worker: read no more */
	uint64_t ctl_seq;	/* Request.seq of the control request being handled */
	bool ctl_replay;	/* ... sent again after a restart (Request.replay) */
	uint32_t restarted_seq; /* a Restarted asked for this seq again (recovery) */
	struct sess *ctrl_next; /* ctlplane's list of those */

	/* The mapping and the daemon's private copy of its layout. */
	void *base;
	size_t region_size;
	struct ringd_shm_hdr *hdr;
	uint32_t *sq_array;
	struct ringd_sqe *sqes;
	struct ringd_cqe *cqes;
	uint8_t *data;
	uint64_t data_size;
	uint32_t sq_entries, cq_entries;

	/* Private ring state: never read back from shared memory. */
	uint32_t sq_head;      /* next SQ index to consume */
	uint32_t cq_tail;      /* next CQ index to fill */
	uint32_t cq_head_seen; /* last validated client CQ head */
	uint32_t cq_reserved;  /* CQ slots promised to accepted requests */
	uint32_t inflight;     /* kernel requests of this session */
	uint32_t blocking;     /* ... of them holding a kernel worker thread */
	uint64_t copying;      /* ... their bytes read through the page cache */
	uint32_t max_inflight;
	uint32_t broken_reason;	 /* enum ringd_broken: private copy for Stats */
	uint64_t stall_since_ms; /* CQ full with SQEs waiting since; 0: not stalled */

	struct val_handle *handles;
	uint32_t nhandles;
	uint32_t handles_open;

	struct sess_stats stats;
	struct sess *next_active, *prev_active; /* on the hot or the cold list */
	bool cold;	      /* on the cold list: not polled; NEED_WAKEUP stays set */
	uint64_t last_sqe_ns; /* a pass last found SQEs waiting (or it was warmed) */
	struct sess *next_freed;
	/* The data path's per-pass scratch (dispatch.c). */
	struct sess *ready_next; /* next ready session of the same QoS class */
	uint32_t pass_consumed;	 /* SQEs consumed this pass */
	uint32_t delayed_head;	 /* sq_head + 1 of the last request counted as delayed */

	/* Link chains (dispatch.c). */
	uint32_t chain_tail; /* the last consumed linked request not yet done, or
			      * UINT32_MAX: the next SQE waits for it */
	bool chain_cancel;   /* a chain failed: its next SQEs complete -ECANCELED */
};

struct sessions {
	const struct cfg *cfg; /* the running config (its address never changes) */
	struct rings *rg;
	struct vols *vols;
	struct jr *jr;
	struct usage *use;
	struct sess **slot; /* cfg->max_sessions long */
	uint32_t max;
	uint32_t n;	      /* slots in use */
	uint32_t handshaking; /* of them in SESS_HANDSHAKE */
	/* Sessions broken by what their client did, logged at most so many a
	 * window (the control plane logs the summaries). */
	struct log_limit broken_log;
	/*
	 * Sessions whose SQ is served: hot ones are polled every pass; a
	 * session with nothing in flight and no SQEs for a while goes cold
	 * (its NEED_WAKEUP flag set for good), costs no pass anything, and
	 * comes back with its doorbell.
	 */
	struct sess *active, *active_tail; /* hot */
	struct sess *cold, *cold_tail;
	uint32_t nhot, ncold;
	struct sess *freed; /* freed this pass, released by sess_collect() */
	/* Drops large shared memory off the loop (NULL: here, at once). */
	struct ns_worker *ns;
	uint64_t next_id;
	bool sleeping; /* NEED_WAKEUP set on the active sessions */
};

/* An empty table over these resources. Returns 0 or -ENOMEM. */
int sess_table_init(struct sessions *st, const struct cfg *cfg, struct rings *rg, struct vols *vols,
		    struct jr *jr, struct usage *use);
/* Free every session's memory (after the rings are gone). */
void sess_table_fini(struct sessions *st);

/* The session in @slot, or NULL (free or out of range). */
struct sess *sess_at(const struct sessions *st, uint32_t slot);

/*
 * A new session for the accepted socket @sock of peer (@pid, @uid, @gid),
 * in SESS_HANDSHAKE, counted against @tenant, with its control poll armed.
 * Returns 0 or -EUSERS (table full) / -ENOMEM; @sock is the caller's on error.
 */
int sess_new(struct sessions *st, int sock, pid_t pid, uid_t uid, gid_t gid, int tenant,
	     struct sess **out);

/* Make @se an admin connection (SESS_ACTIVE, no ring). */
void sess_admin(struct sessions *st, struct sess *se);

/*
 * Create @se's shared memory for @hello, register its data area on every
 * ring, send the Attached reply with its fds, journal it, and start serving
 * its SQ. Returns 0, or -errno with a message in @err (the caller replies).
 */
int sess_attach(struct sessions *st, struct sess *se, const Ringd__Hello *hello, char *err,
		size_t errlen);

/*
 * sess_attach() in two steps, for memory made elsewhere: check @hello
 * against @se's tenant and lay it out (se->layout; its region_size is
 * the memory to make), then take the made memory (@memfd mapped at @map,
 * owned by @se from then on, also on failure) and do the rest. Each
 * returns 0, or -errno with a message in @err.
 */
int sess_attach_layout(struct sessions *st, struct sess *se, const Ringd__Hello *hello, char *err,
		       size_t errlen);
int sess_attach_region(struct sessions *st, struct sess *se, int memfd, void *map, char *err,
		       size_t errlen);

/* Mark @se broken for @reason: it takes no more SQEs; nothing is freed. */
void sess_break(struct sessions *st, struct sess *se, enum ringd_broken reason);

/* Tear @se down: replies already sent still reach it, then EOF. Its memory
 * goes once its kernel work has drained. */
void sess_close(struct sessions *st, struct sess *se);

/* sess_settle() for a broken or closing session with nothing in flight. */
void sess_settle_drained(struct sessions *st, struct sess *se);

/* After a completion: release a broken session's memory, or free a closing
 * one, once nothing of the kernel refers to it any more. */
static inline void sess_settle(struct sessions *st, struct sess *se)
{
	if ((se->state == SESS_BROKEN || se->state == SESS_CLOSING) && !se->inflight)
		sess_settle_drained(st, se);
}

/* Free the sessions that left the table during this pass. */
void sess_collect(struct sessions *st);

/* A poll CQE for @se (@ctrl: control socket, else doorbell; @more: still
 * armed). Returns true if the caller should handle the readiness. */
bool sess_poll_begin(struct sessions *st, struct sess *se, bool ctrl, bool more);
/* ... and after handling it: re-arm what ended, or free what is done. */
void sess_poll_end(struct sessions *st, struct sess *se, bool ctrl);
/* A poll removal of @se completed with @res: ask again if it was -EALREADY. */
void sess_poll_removed(struct sessions *st, uint32_t slot, bool doorbell, int32_t res);

/* Drain the doorbell (the SQ itself is read in the next pass). */
void sess_doorbell_drain(struct sess *se);

/* Post one CQE (a slot was reserved when the request was accepted). */
void sess_post_cqe(struct sess *se, uint64_t user_data, int32_t res);
/* Publish the CQ tail and wake the client if it waits. */
void sess_publish_cq(struct sess *se);
/* Wake the client unconditionally (after a restart, or to say it broke). */
void sess_wake(struct sess *se);

/* Flag (or unflag) every hot session: the daemon is about to sleep. */
void sess_set_sleeping(struct sessions *st, bool sleeping);

/* Move hot @se to the cold list unless it has work (SQEs, I/O in
 * flight). Returns true if it moved. */
bool sess_cool(struct sessions *st, struct sess *se);
/* A doorbell from @se: back to the hot list if it was cold. */
void sess_warm(struct sessions *st, struct sess *se);
/* Round robin: the first hot session goes last. O(1). */
void sess_rotate(struct sessions *st);

/* Open volume @name for @se. Returns 0 with *@handle, or -errno with @err. */
int sess_handle_open(struct sessions *st, struct sess *se, const char *name, uint32_t flags,
		     int *handle, char *err, size_t errlen);
/*
 * May @se open files of directory volume @name (@rw: for writing)? Returns
 * the volume's index, or -errno with @err (-EINVAL: not a directory volume).
 */
int sess_dir_access(struct sessions *st, struct sess *se, const char *name, bool rw, char *err,
		    size_t errlen);

/*
 * Give @se a handle on file @file (a reference from vols_file_get(), which
 * this takes over), taking its RINGD_LOCK if @lock. Returns 0 with
 * *@handle, or -EMFILE / -EBUSY with @err (the reference dropped).
 */
int sess_file_install(struct sessions *st, struct sess *se, uint32_t file, bool rw, bool lock,
		      int *handle, char *err, size_t errlen);

/*
 * The handle on volume or file @vol (@rw: writable) that the first try of
 * @se's current control request opened, if that request is a replay
 * (ctl_replay) and the first try got that far before a restart; else -1.
 * Opening it again would leave the session a handle nobody knows of.
 */
int sess_handle_of_request(struct sessions *st, const struct sess *se, uint32_t vol, bool rw);

/* Close @handle of @se. Returns 0 or -EBADF. */
int sess_handle_close(struct sessions *st, struct sess *se, int handle);

/*
 * Re-resolve the tenant of every session (in every state) from its kernel
 * credentials under the running config, take away the rights it no longer
 * grants, and rebuild the tenant usage counters from the table.
 * @old_names: per slot, the tenant name before the change (for the log),
 * or NULL. Returns 0 or -ENOMEM (counters unchanged, tenants re-resolved
 * only if 0).
 */
int sess_reresolve_all(struct sessions *st, const char (*old_names)[CFG_NAME_MAX]);

/* A control request of @se was read (@answered false; se->ctl_seq is its
 * seq) or answered: kept in the journal, so that a restart in between
 * tells the client to send it again (Restarted). */
void sess_ctl_answered(struct sessions *st, struct sess *se, bool answered);

/* Rebuild session @slot of a previous instance from its journal record and
 * its stored fds (taken over on success). Returns 0 or -errno. */
int sess_restore(struct sessions *st, uint32_t slot, const struct jr_sess *js, int ctl, int memfd,
		 int wake);

/* fd-store name of one of a session's fds ("ctl", "mem", "wake"). */
void sess_fd_name(uint32_t slot, uint64_t id, const char *kind, char *buf, size_t len);

#endif
