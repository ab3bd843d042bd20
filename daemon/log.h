/* SPDX-License-Identifier: MIT */
/*
 * log_: leveled logging to stderr. Each line starts with an RFC 3339 UTC
 * timestamp with milliseconds, except when stderr is the systemd journal
 * (JOURNAL_STREAM names it), which stamps lines itself.
 */
#ifndef RINGD_DAEMON_LOG_H
#define RINGD_DAEMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

/* Parse "error|warn|info|debug". Returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Decide again whether stderr is the journal (done on the first line
 * otherwise; call after redirecting stderr). */
void log_init(void);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The daemon's lines go through a writer thread unless stderr is a regular
 * file: a journal, pipe or terminal whose reader stalls must not stall the
 * daemon (H47). Up to LOG_QUEUE lines wait; past that they are dropped and
 * counted, and a line in their place says how many once there is room.
 * log_async_start() returns 0 or -errno (then lines stay synchronous);
 * log_async_flush() waits at most @wait_ms for the queue to be written
 * (before exit: a reader still stuck keeps the rest).
 */
#define LOG_QUEUE 256

/*
 * Lines about one kind of event a client can repeat at will (an attach, a
 * refusal, a bad message, a broken session): the first @burst of each
 * window are logged one by one, the rest only counted, and one line sums
 * them up once the window is over. Without it, any tenant attaching in a
 * loop wrote thousands of lines a second, and the journal's rate limit
 * then dropped every line of the daemon's, other tenants' too.
 */
struct log_limit {
	const char *what; /* "attaches": the summary's noun */
	unsigned int burst;
	uint64_t window_ms;
	uint64_t start_ms; /* of the current window */
	unsigned int logged;
	uint64_t quiet; /* not logged one by one in this window */
	uint64_t total;
};
#define LOG_LIMIT_BURST	    100u   /* the usual burst ... */
#define LOG_LIMIT_WINDOW_MS 10000u /* ... per window */
#define LOG_LIMIT(what_, burst_, window_ms_)                                                       \
	{                                                                                          \
		.what = (what_), .burst = (burst_), .window_ms = (window_ms_)                      \
	}

/* Count one event at @now_ms: true if it is to be logged one by one. */
bool log_limit_take(struct log_limit *l, uint64_t now_ms);
/* Once its window is over, the line for what log_limit_take() kept quiet. */
void log_limit_flush(struct log_limit *l, uint64_t now_ms);
int log_async_start(void);
void log_async_flush(unsigned int wait_ms);

#define log_err(...)  log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_threshold >= LOG_DEBUG)                                                    \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

#endif
