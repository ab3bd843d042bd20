/* SPDX-License-Identifier: MIT */
/*
 * sysd_: every interaction with systemd (sd-daemon) goes through sysd.c.
 * Outside systemd each call is a cheap no-op.
 */
#ifndef RINGD_DAEMON_SYSD_H
#define RINGD_DAEMON_SYSD_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The SOCK_SEQPACKET unix socket systemd passed us (socket activation or
 * the fd store), made non-blocking. Returns the fd, or -ENOENT if none.
 */
int sysd_listen_fd(void);

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
