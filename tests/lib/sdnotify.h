/* SPDX-License-Identifier: MIT */
/*
 * rt_notify_: plays systemd's side of the sd_notify protocol for tests: a
 * datagram NOTIFY_SOCKET that records every message with its arrival time
 * and keeps the fds sent with FDSTORE=1 (by FDNAME), as systemd does.
 */
#ifndef RINGD_TESTS_SDNOTIFY_H
#define RINGD_TESTS_SDNOTIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RT_NOTIFY_MAX_EV  8192
#define RT_NOTIFY_MAX_FDS 1024

struct rt_notify_ev {
	uint64_t t_ms; /* CLOCK_MONOTONIC */
	char msg[512];
};

struct rt_notify {
	int fd;
	/* A thread drains the socket continuously, as systemd does: a full
	 * datagram queue would block the daemon's sd_notify(). */
	pthread_t thread;
	pthread_mutex_t lock;
	volatile bool stop;
	bool discard_fds; /* play a systemd without FileDescriptorStoreMax= */
	char path[100];
	struct rt_notify_ev *ev;
	unsigned int nev;
	int fds[RT_NOTIFY_MAX_FDS];
	char names[RT_NOTIFY_MAX_FDS][64];
	unsigned int nfds;
};

/* Bind @dir/notify.sock. Returns 0 or -errno. */
int rt_notify_open(struct rt_notify *n, const char *dir);
void rt_notify_close(struct rt_notify *n);

/* Let the receiving thread catch up for up to @timeout_ms. */
void rt_notify_pump(struct rt_notify *n, int timeout_ms);

/* Copy the stored fds (and names) out, under the lock. Returns the count. */
unsigned int rt_notify_stored(struct rt_notify *n, int *fds, char (*names)[64], unsigned int max);

/* Wait up to @timeout_ms for a message, at index >= @from, with a line
 * equal to @line (or starting with it if it ends in '='). Returns its
 * index, or -1. */
int rt_notify_wait(struct rt_notify *n, const char *line, unsigned int from, int timeout_ms);

/* True if message @i has line @line. */
bool rt_notify_has(const struct rt_notify *n, unsigned int i, const char *line);

uint64_t rt_now_ms(void);

struct rt_daemon;

/*
 * Start @d's daemon as systemd would, with NOTIFY_SOCKET = @n and, if
 * @use_store, the fds @n holds in its store passed as LISTEN_FDS with
 * their names; wait up to 15 s for a new READY=1. Returns 0, -ETIMEDOUT,
 * or the launch's -errno.
 */
int rt_notify_launch(struct rt_notify *n, struct rt_daemon *d, bool use_store);

#endif
