/* SPDX-License-Identifier: MIT */
/*
 * sysd_: every interaction with systemd (sd-daemon) goes through sysd.c.
 * Outside systemd each call is a cheap no-op.
 */
#ifndef RINGD_DAEMON_SYSD_H
#define RINGD_DAEMON_SYSD_H

#include <stdbool.h>
#include <stdint.h>

/* An fd systemd passed us (socket activation or the fd store). */
struct sysd_fd {
	int fd;
	char name[256];
	bool taken; /* claimed by the daemon; unclaimed ones are closed */
};

/*
 * Collect the fds systemd passed (LISTEN_FDS/LISTEN_FDNAMES), once, at
 * start. Returns the count (0 outside systemd) or -errno.
 */
int sysd_collect_fds(void);

/* Claim the passed fd called @name. Returns it, or -ENOENT. */
int sysd_take_fd(const char *name);

/* Claim the first passed listening SOCK_SEQPACKET unix socket, made
 * non-blocking. Returns it, or -ENOENT. */
int sysd_take_listen_fd(void);

/* Close every passed fd nobody claimed, and drop it from the fd store. */
void sysd_release_unclaimed(void);

/* True if systemd keeps an fd store for us (NOTIFY_SOCKET is set). */
bool sysd_fdstore_enabled(void);

/* Keep @fd in systemd's fd store under @name. Returns 0 or -errno. */
int sysd_fdstore(const char *name, int fd);

/* Drop every fd called @name from the fd store. */
void sysd_fdstore_remove(const char *name);

/* Send the notifications that found the notify socket full (once per
 * pass; never blocks). */
void sysd_flush(void);

/* Notifications still waiting for room in the notify socket. */
unsigned int sysd_pending_count(void);

/* Watchdog interval in microseconds, or 0 when no watchdog is asked for. */
uint64_t sysd_watchdog_usec(void);

/* Tell systemd we serve / reload / stop. */
void sysd_ready(unsigned int sessions, unsigned int volumes);
void sysd_reloading(void);
void sysd_stopping(void);
void sysd_status(unsigned int sessions, unsigned int volumes, uint64_t inflight);

/* Ping the watchdog if half the interval has passed since the last ping. */
void sysd_watchdog_tick(uint64_t now_ms);

#endif
