/* SPDX-License-Identifier: MIT */
/*
 * ctl_: the control socket's transport. Unix SOCK_SEQPACKET, one protobuf
 * message per packet, capped at CTL_MAX_MSG bytes before anything is
 * unpacked. Every call is non-blocking and costs O(1) syscalls, whatever
 * the peer sent: the daemon never waits for a client and never spends in
 * proportion to what a client queued.
 */
#ifndef RINGD_DAEMON_CONTROL_H
#define RINGD_DAEMON_CONTROL_H

#include <sys/types.h>

#include "config.h"
#include "ringd.pb-c.h"

#define CTL_MAX_MSG 4096

/* Bind and listen on the configured socket (holding its lock file).
 * Returns 0 or -errno. */
int ctl_listen(const struct cfg *cfg, int *out, int *lock_out);

/*
 * Receive and decode one request. Returns 0 with *@out set, -EAGAIN when
 * nothing is queued, -ECONNRESET on EOF, -EPROTO if the packet carried fds
 * (clients never pass any; the kernel discards them, none is installed
 * here), -EMSGSIZE, -EBADMSG, or another -errno.
 */
int ctl_recv(int fd, Ringd__Request **out);
/* ctl_recv(), leaving the packet queued if @peek (take it with ctl_drop()). */
int ctl_recv_peek(int fd, Ringd__Request **out, bool peek);
/* Drop the next queued packet of @fd. */
void ctl_drop(int fd);

/* Send one reply (with up to 4 fds), never blocking. Returns 0 or -errno. */
int ctl_send(int fd, const Ringd__Reply *r, const int *fds, unsigned int nfds);

/* Send an Error reply. Returns 0 or -errno. */
int ctl_send_error(int fd, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Close a control connection so that the client still reads every reply
 * already sent: closing a unix socket with unread input makes the peer's
 * next recv fail with ECONNRESET before it sees queued replies, so input
 * is refused (shutdown) and what was queued is dropped first, in batches
 * (a few syscalls at most: the queue is bounded by the socket's backlog).
 * Never blocks.
 */
void ctl_hangup(int fd);

/* mkdir -p @dir, @mode for the last component, 0755 above it. Returns 0 or -errno. */
int ctl_mkdirs(const char *dir, mode_t mode);

#endif
