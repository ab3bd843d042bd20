/* SPDX-License-Identifier: MIT */
/*
 * The server: one event loop thread that owns the kernel ring, the
 * volumes, every session and every in-flight request.
 *
 * Kernel SQEs are tagged with daemon-private values only (enum srv_tag in
 * the top byte, a request or session slot below); client user_data lives in
 * struct req and is copied into the client's CQE when the kernel completes.
 */
#ifndef RINGD_DAEMON_SERVER_H
#define RINGD_DAEMON_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "journal.h"
#include "kring.h"
#include "ringd.pb-c.h"
#include "ringd_abi.h"
#include "validate.h"
#include "volume.h"

enum srv_tag {
	TAG_NONE = 0,	  /* completions nobody waits for (poll removal) */
	TAG_IO = 1,	  /* low 32 bits: request slot */
	TAG_LISTEN = 2,	  /* listening socket readable */
	TAG_CTRL = 3,	  /* low 32 bits: session slot; control socket readable */
	TAG_DOORBELL = 4, /* low 32 bits: session slot; doorbell readable */
	TAG_SIGNAL = 5,	  /* signalfd readable */
	TAG_KRING = 6,	  /* the passthrough ring's completion eventfd readable */
	TAG_POLLRM = 7,	  /* low 32 bits: session slot << 1 | doorbell; a poll removal done */
};

/* Which kernel path carried a request (and which counter it bumps). */
enum srv_path {
	PATH_INTR = 0,	  /* main ring: interrupt-driven block/file I/O */
	PATH_POLL = 1,	  /* IOPOLL ring: polled block I/O */
	PATH_PT = 2,	  /* passthrough ring: NVMe URING_CMD, interrupts */
	PATH_PT_POLL = 3, /* IOPOLL ring: NVMe URING_CMD, polled */
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

enum sess_state {
	SESS_HANDSHAKE, /* accepted, no Hello yet */
	SESS_ACTIVE,	/* serving its SQ */
	SESS_BROKEN,	/* protocol violation: no more SQEs, control still answered;
			 * its memory is released once its kernel I/O drains */
	SESS_CLOSING,	/* torn down; waiting for its kernel work to drain */
};

/* A daemon-private request: one accepted client SQE in the kernel. */
struct req {
	uint64_t user_data; /* the client's, echoed in its CQE */
	uint32_t sess;	    /* session slot */
	uint32_t len;
	uint8_t op;
	uint8_t path; /* enum srv_path */
	bool busy;
	uint32_t next_free;
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

struct sess {
	uint32_t slot; /* in srv.sessions; also its registered-buffer slot */
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
	int tenant; /* index into cfg.tenants, -1 for none */

	int sock;
	int memfd;
	int wake_fd; /* daemon's end of the doorbell/notification socketpair */
	unsigned int polls_armed;
	bool ctrl_poll;
	bool doorbell_poll;

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
	uint32_t max_inflight;
	uint32_t broken_reason;	 /* enum ringd_broken: private copy for Stats */
	uint64_t stall_since_ms; /* CQ full with SQEs waiting since; 0: not stalled */

	struct val_handle *handles;
	uint32_t nhandles;
	uint32_t handles_open;

	struct sess_stats stats;
	struct sess *next_active, *prev_active;
};

struct tenant_usage {
	unsigned int sessions; /* connections counted against max_sessions */
	unsigned int inflight; /* kernel requests, against max_tenant_inflight */
};

/* Volume table capacity: indexes are never reused, so a reload can add
 * volumes until the daemon has seen this many in its lifetime. */
#define SRV_MAX_VOLUMES JR_MAX_VOLUMES
/* Registered-file slot of the ring-liveness pipe (see srv_init). */
#define SRV_RINGLIVE_SLOT SRV_MAX_VOLUMES

struct srv {
	struct cfg cfg;
	struct kr_ring kr; /* interrupt ring: file I/O, polls, fsync */
	bool kr_ready;	   /* kr_ring_init() succeeded: srv_fini() must exit it */
	/* IOPOLL ring (SQE128|CQE32: polled block I/O and polled passthrough)
	 * and the interrupt passthrough ring; created when a volume needs them. */
	struct kr_ring kr_poll;
	bool poll_ready;
	struct kr_ring kr_pt;
	bool pt_ready;
	int pt_efd;		/* eventfd kr_pt signals on completion (polled by kr) */
	uint32_t poll_inflight; /* requests on kr_poll: the loop spins while > 0 */
	int ringlive_wr;	/* write end of the ring-liveness pipe (see srv_ringlive) */
	struct jr jr;		/* the private journal, in the fd store */
	int ringlive_rd;	/* read end of the ring-liveness pipe */
	struct vol *vols;	/* SRV_MAX_VOLUMES; removed ones stay, marked */
	struct val_vol *vvols;	/* validator view, parallel to vols */
	unsigned int nvols;	/* high-water mark */
	unsigned int nvols_live;
	struct tenant_usage *usage; /* parallel to cfg.tenants */

	int listen_fd;
	bool listen_owned; /* we bound it (not systemd): unlink at exit */
	int lock_fd;	   /* "<socket>.lock", held while we own the socket */
	int signal_fd;
	bool accept_more; /* the last accept pass stopped at its budget */
	bool stop;
	bool reload;
	uint64_t tick_ms;	 /* longest sleep of the loop */
	uint64_t last_status_ms; /* last STATUS= sent to systemd */

	struct sess **sessions; /* slot table, cfg.max_sessions long */
	uint32_t nsessions;	/* slots in use */
	struct sess *active;	/* sessions whose SQ is served */
	uint64_t next_session_id;

	struct req *reqs;
	uint32_t nreqs;
	uint32_t req_free; /* head of free list; nreqs = empty */
	uint32_t reqs_inflight;
	bool sleeping;		/* NEED_WAKEUP set on the active sessions */
	uint64_t idle_since_ns; /* start of the current idle poll; 0: not idle */
	unsigned int reaped;	/* kernel completions in the last pass */

	uint32_t *dirty; /* slots of sessions with unpublished CQEs */
	uint32_t ndirty, dirty_cap;
};

/* server.c */
int srv_init(struct srv *s, const struct cfg *cfg);
/* Index of the live volume called @name, or -1. */
int srv_volume_find(const struct srv *s, const char *name);
/* Open and register volume @cv at index @idx (a journal volume index).
 * Returns 0 or -errno (logged). */
int srv_volume_add(struct srv *s, const struct cfg_volume *cv, uint32_t idx);
/* Register (or with @base NULL, clear) session buffer @slot on every ring.
 * Returns 0 or -errno. */
int srv_buf_set(struct srv *s, unsigned int slot, void *base, size_t len);
/* Retire volume @idx: new I/O on it gets -ENODEV; in-flight I/O completes. */
void srv_volume_remove(struct srv *s, uint32_t idx);
/* Arm a multishot readability poll tagged (@kind, @idx). Returns 0 or -errno. */
int srv_arm_poll(struct srv *s, int fd, enum srv_tag kind, uint32_t idx);
/* Arm a session's control (@ctrl) or doorbell poll; closes it on failure. */
void srv_arm_session_poll(struct srv *s, struct sess *se, bool ctrl);
/* The tenant a peer belongs to under @c: first uid match, else first gid match; -1 if none. */
int srv_tenant_for(const struct cfg *c, uid_t uid, gid_t gid);

/* reload.c */
/* Re-read the config file and apply it; on any error keep the old one.
 * Returns 0 or -errno. */
int srv_reload(struct srv *s);
/* Re-resolve @se's tenant from its credentials and take away the rights
 * the running config no longer grants (@old_tenant: for the log, or NULL). */
void srv_session_rights(struct srv *s, struct sess *se, const char *old_tenant);
int srv_run(struct srv *s);
void srv_fini(struct srv *s);
uint64_t srv_now_ms(void);
/*
 * Answer one decoded control request of @se (replies go to se->sock).
 * Returns 0, or -errno after which the caller closes the session.
 */
int srv_request(struct srv *s, struct sess *se, const Ringd__Request *rq);
/* Route one kernel completion (I/O, poll, signal) to its owner. */
void srv_cqe(struct srv *s, const struct kr_cqe *c);

/* session.c */
int sess_new(struct srv *s, int sock, struct sess **out);
int sess_attach(struct srv *s, struct sess *se, const Ringd__Hello *hello, char *err,
		size_t errlen);
void sess_break(struct srv *s, struct sess *se, enum ringd_broken reason);
void sess_close(struct srv *s, struct sess *se);
/* Ask the kernel to remove @se's control (or @doorbell) poll. */
void sess_remove_poll(struct srv *s, struct sess *se, bool doorbell);
void sess_maybe_free(struct srv *s, struct sess *se);
void sess_maybe_release(struct srv *s, struct sess *se);
void sess_post_cqe(struct sess *se, uint64_t user_data, int32_t res);
/* Rebuild session @slot of a previous instance from its journal record and
 * its stored fds (taken over on success). Returns 0 or -errno. */
int sess_restore(struct srv *s, uint32_t slot, const struct jr_sess *js, int ctl, int memfd,
		 int wake);
/* Wake the client unconditionally (after a restart, or to say it broke). */
void sess_wake(struct sess *se);
/* Mirror the session's handle table into the journal. */
void sess_journal_handles(struct srv *s, struct sess *se);
/* fd-store name of one of a session's fds ("ctl", "mem", "wake"). */
void sess_fd_name(const struct sess *se, const char *kind, char *buf, size_t len);
void sess_publish_cq(struct sess *se);
int sess_handle_open(struct srv *s, struct sess *se, const char *name, uint32_t flags, int *handle,
		     char *err, size_t errlen);
int sess_handle_close(struct srv *s, struct sess *se, int handle);

/* dispatch.c */
unsigned int disp_consume(struct srv *s, struct sess *se, unsigned int budget);
void disp_complete(struct srv *s, uint32_t req_idx, int32_t res);
void disp_flush(struct srv *s);
/* Hand request @idx (already journaled) to the kernel, or complete it at
 * once with an error. */
void disp_submit(struct srv *s, struct sess *se, uint32_t idx, const struct val_io *io);
/* Post request @idx's result @res to its session, journal-ordered. */
void disp_finish(struct srv *s, struct sess *se, uint32_t idx, int32_t res);

/* recover.c */
/* Re-adopt the sessions of a previous instance from the fd store and the
 * journal, and reissue what it left unfinished. Returns 0 or -errno. */
int srv_recover(struct srv *s);

/* control.c */
#define CTL_MAX_MSG 4096
/* Bind and listen on the configured socket (holding its lock file).
 * Returns 0 or -errno. */
int ctl_listen(const struct cfg *cfg, int *out, int *lock_out);
int ctl_recv(int fd, Ringd__Request **out);
int ctl_send(int fd, const Ringd__Reply *r, const int *fds, unsigned int nfds);
int ctl_send_error(int fd, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Close a control connection so that the client still reads every reply
 * already sent: closing a unix socket with unread input makes the peer's
 * next recv fail with ECONNRESET before it sees queued replies, so input
 * is refused (shutdown) and drained first. Never blocks.
 */
void ctl_hangup(int fd);

#endif
