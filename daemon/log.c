/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

/* -1: not decided yet; 0: stamp each line; 1: stderr is the journal. */
static int log_to_journal = -1;

int log_level_parse(const char *s, enum log_level *out)
{
	unsigned int i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (!strcmp(s, log_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcmp(s, "warning")) {
		*out = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

/*
 * systemd connects stderr to the journal and says so in JOURNAL_STREAM
 * ("DEV:INO" of that stream). It is still the journal only if stderr is
 * that very stream: a child or a redirection inherits the variable too.
 */
static bool log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!js || !*js)
		return false;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno || end == js || *end != ':')
		return false;
	js = end + 1;
	ino = strtoull(js, &end, 10);
	if (errno || end == js || *end)
		return false;
	if (fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
	log_to_journal = log_stderr_is_journal();
}

/* "2026-12-02T05:01:02.345Z " into @buf, or "" if the clock fails. */
static void log_stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	buf[0] = '\0';
	if (clock_gettime(CLOCK_REALTIME, &ts) || !gmtime_r(&ts.tv_sec, &tm))
		return;
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!n)
		return;
	snprintf(buf + n, len - n, ".%03ldZ ", ts.tv_nsec / 1000000);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024], stamp[40] = "";
	va_list ap;
	int n;

	if (lvl > log_threshold)
		return;
	if (log_to_journal < 0)
		log_init();
	if (!log_to_journal)
		log_stamp(stamp, sizeof(stamp));
	n = snprintf(line, sizeof(line), "%sringd: %s: ", stamp, log_names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
