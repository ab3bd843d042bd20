/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "sysd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"

static uint64_t sysd_wd_usec;
static uint64_t sysd_wd_last_ms;
static bool sysd_wd_probed;

static struct sysd_fd *sysd_fds;
static int sysd_nfds;

int sysd_collect_fds(void)
{
	char **names = NULL;
	int n, i;

	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0)
		return n < 0 ? n : 0;
	sysd_fds = calloc((size_t)n, sizeof(*sysd_fds));
	if (!sysd_fds) {
		for (i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		n = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		sysd_fds[i].fd = SD_LISTEN_FDS_START + i;
		/* Passed fds are not close-on-exec; ours all are. */
		fcntl(sysd_fds[i].fd, F_SETFD, FD_CLOEXEC);
		snprintf(sysd_fds[i].name, sizeof(sysd_fds[i].name), "%s",
			 names && names[i] ? names[i] : "unknown");
	}
	sysd_nfds = n;
	log_info("systemd passed %d fds", n);
out_free:
	for (i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	return n;
}

int sysd_take_fd(const char *name)
{
	int i;

	for (i = 0; i < sysd_nfds; i++) {
		if (!sysd_fds[i].taken && !strcmp(sysd_fds[i].name, name)) {
			sysd_fds[i].taken = true;
			return sysd_fds[i].fd;
		}
	}
	return -ENOENT;
}

int sysd_take_listen_fd(void)
{
	int i;

	for (i = 0; i < sysd_nfds; i++) {
		int fd = sysd_fds[i].fd, fl;

		if (sysd_fds[i].taken || sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
			continue;
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			continue;
		sysd_fds[i].taken = true;
		log_info("using the listening socket passed by systemd (%s)", sysd_fds[i].name);
		return fd;
	}
	return -ENOENT;
}

void sysd_release_unclaimed(void)
{
	int i;

	for (i = 0; i < sysd_nfds; i++) {
		if (sysd_fds[i].taken)
			continue;
		log_info("dropping stale stored fd '%s'", sysd_fds[i].name);
		sysd_fdstore_remove(sysd_fds[i].name);
		close(sysd_fds[i].fd);
	}
	free(sysd_fds);
	sysd_fds = NULL;
	sysd_nfds = 0;
}

bool sysd_fdstore_enabled(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	return e && *e;
}

int sysd_fdstore(const char *name, int fd)
{
	char msg[320];
	int ret;

	if (!sysd_fdstore_enabled())
		return 0;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	ret = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	if (ret < 0) {
		log_warn("fd store: cannot keep '%s': %s", name, strerror(-ret));
		return ret;
	}
	return 0;
}

void sysd_fdstore_remove(const char *name)
{
	if (!sysd_fdstore_enabled())
		return;
	sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", name);
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
		   (unsigned long long)ts.tv_sec * 1000000ull +
		       (unsigned long long)ts.tv_nsec / 1000);
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
