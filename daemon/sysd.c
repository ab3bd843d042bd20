/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "sysd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"

static uint64_t sysd_wd_usec;
static uint64_t sysd_wd_last_ms;
static bool sysd_wd_probed;

int sysd_listen_fd(void)
{
	char **names = NULL;
	int n, i, found = -ENOENT;

	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0)
		return -ENOENT;
	for (i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (found < 0 && sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) > 0) {
			int fl = fcntl(fd, F_GETFL);

			if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
				log_info("using the listening socket passed by systemd (%s)",
					 names && names[i] ? names[i] : "unnamed");
				found = fd;
			}
		}
	}
	for (i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	return found;
}

uint64_t sysd_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (!sysd_wd_probed) {
		sysd_wd_probed = true;
		if (sd_watchdog_enabled(0, &usec) > 0)
			sysd_wd_usec = usec;
	}
	return sysd_wd_usec;
}

void sysd_ready(unsigned int sessions, unsigned int volumes)
{
	sd_notifyf(0, "READY=1\nSTATUS=serving %u volumes, %u sessions", volumes, sessions);
}

void sysd_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* MONOTONIC_USEC lets Type=notify-reload services be tracked too. */
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading configuration\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}

void sysd_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=draining in-flight I/O and stopping");
}

void sysd_status(unsigned int sessions, unsigned int volumes, uint64_t inflight)
{
	sd_notifyf(0, "STATUS=serving %u volumes, %u sessions, %llu requests in flight", volumes,
		   sessions, (unsigned long long)inflight);
}

void sysd_watchdog_tick(uint64_t now_ms)
{
	uint64_t usec = sysd_watchdog_usec();

	if (!usec)
		return;
	if (now_ms - sysd_wd_last_ms >= usec / 2000) {
		sd_notify(0, "WATCHDOG=1");
		sysd_wd_last_ms = now_ms;
	}
}
