/* SPDX-License-Identifier: MIT */
/*
 * log_: leveled logging to stderr. Each line starts with an RFC 3339 UTC
 * timestamp with milliseconds, except when stderr is the systemd journal
 * (JOURNAL_STREAM names it), which stamps lines itself.
 */
#ifndef RINGD_DAEMON_LOG_H
#define RINGD_DAEMON_LOG_H

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
