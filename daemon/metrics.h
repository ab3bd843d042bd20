/* SPDX-License-Identifier: MIT */
/*
 * mx_: the Prometheus text exposition of the daemon's figures (served to
 * `ringctl metrics` and written to [daemon] metrics_file), and the small
 * thread that writes that file. The loop renders a snapshot (every
 * metrics_interval, never per I/O) and hands it over; the thread writes a
 * temporary file next to the target and renames it over, so a reader
 * (node_exporter's textfile collector) never sees a partial file and the
 * loop never waits for the disk.
 */
#ifndef RINGD_DAEMON_METRICS_H
#define RINGD_DAEMON_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "figures.h"
#include "qos.h"
#include "reqs.h"
#include "session.h"
#include "usage.h"
#include "vols.h"

/* What the exposition is made of (all read-only). */
struct mx_src {
	const struct cfg *cfg;
	const struct figures *fig;
	const struct qos *qos;
	const struct usage *use;
	const struct vols *vols;
	const struct sessions *st;
	const struct reqs *rq;
	uint64_t start_ms;
};

/* Render the exposition into a new buffer (*@out, NUL-terminated, *@len
 * bytes, the caller frees). Returns 0 or -ENOMEM. */
int mx_render(const struct mx_src *src, char **out, size_t *len);

struct mx_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
	bool stop;
	bool busy;  /* a snapshot is being written (under lock) */
	char *text; /* handed to the thread (under lock) */
	size_t len;
	char path[PATH_MAX];
	uint64_t next_ms; /* next snapshot */
	int last_err;	  /* last write's -errno (under lock), logged once per change */
	uint64_t written; /* snapshots written (under lock) */
};

/* Every metrics_interval, if metrics_file is set and the last snapshot is
 * written: render one and hand it to the writer thread (started on first
 * use). Called by the loop once per pass; O(1) between snapshots. */
void mx_tick(struct mx_writer *w, const struct mx_src *src, uint64_t now_ms);

/* Stop the writer thread (after the snapshot it is writing) and free. */
void mx_writer_fini(struct mx_writer *w);

/* Write @len bytes of @text to @path atomically (temp file + rename).
 * Returns 0 or -errno. */
int mx_write_file(const char *path, const char *text, size_t len);

#endif
