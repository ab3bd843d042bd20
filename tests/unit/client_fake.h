/* SPDX-License-Identifier: MIT */
/*
 * A scripted stand-in for the daemon's control plane, in a thread of the
 * test: it answers Hello with a real session region (a memfd laid out as
 * the daemon lays it out, a doorbell socketpair and a ring-liveness pipe),
 * and OpenVolume, CloseVolume and Stats with fixed answers. The test plays
 * the daemon's data path itself on fake_daemon.reg.
 */
#ifndef RINGD_TEST_CLIENT_FAKE_H
#define RINGD_TEST_CLIENT_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client_region.h"

struct fake_daemon {
	/* Script: set before fake_start(). */
	uint32_t first_index;	     /* indices of session n start at first_index + 16 n */
	int refuse_errno;	     /* > 0: answer Hello with this error ... */
	const char *refuse_message;  /* ... and this message */
	bool bad_layout;	     /* announce a region size the memfd does not have */
	unsigned int die_in_session; /* > 0: session number n goes away, as a killed
				      * daemon, when asked to open (once) */

	/* State: read it once the call that changed it has returned. */
	char path[108];
	struct test_region reg; /* the current session's region */
	unsigned int sessions, opens, closes;
	char last_open[64];
	int last_close;

	/* Private. */
	char dir[32];
	int listen_fd, conn, wake_peer, ringlive_w;
	int cmd[2], ack[2];
	pthread_t thread;
};

/* Listen on a fresh socket in a temporary directory and serve from a
 * thread. Returns 0 or -errno. */
int fake_start(struct fake_daemon *f);

/* Go away as a daemon that shuts down: mark the session broken
 * (RINGD_BROKEN_SHUTDOWN), hang up its control socket, and end the
 * instance's I/O (EOF on the ring-liveness pipe). Then accept again. */
void fake_shutdown_session(struct fake_daemon *f);

/* Stop the thread and remove everything. */
void fake_stop(struct fake_daemon *f);

#endif
