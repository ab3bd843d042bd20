/* SPDX-License-Identifier: MIT */
/*
 * cp_: the control plane. Accepting and refusing connections, the
 * handshake deadline, reading control sockets, and the Hello, Open, Close
 * and Stats handlers. Every kind of work here is budgeted per pass of the
 * loop, as SQE consumption is, and costs O(1) syscalls per connection, so
 * that no local user, tenant or not, can keep the loop from the data path.
 */
#ifndef RINGD_DAEMON_CTLPLANE_H
#define RINGD_DAEMON_CTLPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "figures.h"
#include "log.h"
#include "nsworker.h"
#include "qos.h"
#include "reload.h"
#include "reqs.h"
#include "ringd.pb-c.h"
#include "rings.h"
#include "session.h"
#include "usage.h"
#include "vols.h"

struct cp_pending {
	uint32_t slot;
	uint64_t id;
};

/* An admin `reload` parked until reload number @seq is applied or refused. */
struct cp_waiter {
	uint32_t slot;
	uint64_t id;
	uint64_t seq;
};

#define CP_MAX_WAITERS 16

struct ctlplane {
	const struct cfg *cfg;
	struct sessions *st;
	struct rings *rg;
	struct vols *vols;
	struct reqs *rq;
	struct usage *use;
	struct qos *qos;

	int listen_fd;
	bool listen_owned; /* we bound it (not systemd): unlink at exit */
	int lock_fd;	   /* "<socket>.lock", held while we own the socket */
	bool accept_ready; /* connections may be queued on the listening socket */
	bool fd_exhausted; /* the last accept hit EMFILE/ENFILE */
	uint64_t accept_retry_ms;

	/* Sessions with control messages left over from their budget. */
	struct cp_pending *pending;
	uint32_t npending;

	uint64_t next_sweep_ms; /* handshake deadline checks */

	/* What a client can repeat at will, logged at most so many per
	 * window (log_limit): refused connections, attaches, refused
	 * attaches, malformed control messages. */
	struct log_limit refused, attached, attach_refused, malformed;

	/* Set by the loop after cp_init() (NULL: no figures / no reloads). */
	struct figures *fig;
	struct reloader *rl;
	uint64_t start_ms;
	/* The exposition an admin session is paging through (METRICS). */
	uint64_t mx_owner; /* session id; 0: none */
	char *mx_text;
	size_t mx_len;
	struct cp_waiter waiters[CP_MAX_WAITERS];
	unsigned int nwaiters;
	/* Directory volumes' namespace calls run here (nsops.c). */
	struct ns_worker ns;
};

/* Take the listening socket (from systemd, or bind it), arm its poll
 * with @listen_tag. Returns 0 or -errno (logged). */
int cp_init(struct ctlplane *cp, const struct cfg *cfg, struct sessions *st, struct rings *rg,
	    struct vols *vols, struct reqs *rq, struct usage *use, struct qos *qos,
	    uint64_t listen_tag);

/* @se's namespace request was answered: read its next control messages. */
void cp_resume(struct ctlplane *cp, struct sess *se);

/* The namespace worker made the memory of @se's Hello (@j, NS_REGION):
 * finish the attach and answer it (the fd and mapping become @se's). */
void cp_hello_made(struct ctlplane *cp, struct sess *se, struct ns_job *j);

/* Stop accepting: close the listening socket (unlinking it if ours). */
void cp_stop_listening(struct ctlplane *cp);
void cp_fini(struct ctlplane *cp);

/* A completion of the listening socket's poll (@more: still armed). */
void cp_listen_event(struct ctlplane *cp, int32_t res, bool more, uint64_t listen_tag);

/* @se's control socket is readable (@revents from its poll). */
void cp_readable(struct ctlplane *cp, struct sess *se, int32_t revents);

/*
 * The control plane's share of one pass: accept within budget, read what
 * sessions still have queued, close handshakes past their deadline, log
 * the refusal summary. Returns the work done (non-zero: come back soon).
 */
unsigned int cp_pass(struct ctlplane *cp, uint64_t now_ms);

/* Longest the loop may sleep for the control plane's timers, in ms. */
uint64_t cp_sleep_limit_ms(const struct ctlplane *cp, uint64_t now_ms);

/*
 * Answer one decoded control request of @se (replies go to se->sock).
 * Returns 0, or -errno after which the caller closes the session.
 */
int cp_request(struct ctlplane *cp, struct sess *se, const Ringd__Request *rq);

#endif
