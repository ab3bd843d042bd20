/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

#define LOG_LINE 1024

/* The writer thread's queue (log_async_start). */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t more, empty;
	char line[LOG_QUEUE][LOG_LINE];
	unsigned int head, n;
	unsigned long long dropped;
	bool on, busy;
} log_q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER };

/* All of @s and a newline to stderr, as blocking as stderr is. */
static void log_write(const char *s)
{
	size_t len = strlen(s), off = 0;
	char buf[LOG_LINE + 1];

	memcpy(buf, s, len);
	buf[len++] = '\n';
	while (off < len) {
		ssize_t w = write(STDERR_FILENO, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void *log_writer(void *arg)
{
	char line[LOG_LINE];

	(void)arg;
	pthread_mutex_lock(&log_q.mu);
	for (;;) {
		while (!log_q.n) {
			log_q.busy = false;
			pthread_cond_broadcast(&log_q.empty);
			pthread_cond_wait(&log_q.more, &log_q.mu);
		}
		log_q.busy = true;
		memcpy(line, log_q.line[log_q.head], LOG_LINE);
		log_q.head = (log_q.head + 1) % LOG_QUEUE;
		log_q.n--;
		pthread_mutex_unlock(&log_q.mu);
		log_write(line);
		pthread_mutex_lock(&log_q.mu);
	}
	return NULL;
}

int log_async_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	struct stat st;
	int ret;

	/* A file takes every line at once: nothing to wait for. */
	if (!fstat(STDERR_FILENO, &st) && S_ISREG(st.st_mode))
		return 0;
	/* Signals are the loop's (its signalfd): the writer takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&t, &attr, log_writer, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	pthread_setname_np(t, "ringd-log");
	pthread_mutex_lock(&log_q.mu);
	log_q.on = true;
	pthread_mutex_unlock(&log_q.mu);
	return 0;
}

/* The line saying @n were dropped (stamped like the others). */
static void log_dropped_line(char *buf, size_t len, unsigned long long n)
{
	char stamp[40] = "";

	if (log_to_journal == 0)
		log_stamp(stamp, sizeof(stamp));
	snprintf(buf, len, "%sringd: warn: %llu log lines dropped: the log's reader was slow",
		 stamp, n);
}

/* Queue the count of the lines dropped since the last, if there is room
 * (with @need slots left over). Called locked. */
static void log_q_dropped(unsigned int need)
{
	if (!log_q.dropped || log_q.n + 1 + need > LOG_QUEUE)
		return;
	log_dropped_line(log_q.line[(log_q.head + log_q.n) % LOG_QUEUE], LOG_LINE, log_q.dropped);
	log_q.n++;
	log_q.dropped = 0;
}

void log_async_flush(unsigned int wait_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&log_q.mu);
	if (log_q.on) {
		log_q_dropped(0);
		pthread_cond_signal(&log_q.more);
	}
	/* A reader still stuck keeps the rest: the daemon exits anyway. */
	while (log_q.on && (log_q.n || log_q.busy))
		if (pthread_cond_timedwait(&log_q.empty, &log_q.mu, &until))
			break;
	pthread_mutex_unlock(&log_q.mu);
}

/* Queue @line for the writer; false if there is no writer. */
static bool log_enqueue(const char *line)
{
	pthread_mutex_lock(&log_q.mu);
	if (!log_q.on) {
		pthread_mutex_unlock(&log_q.mu);
		return false;
	}
	/* After a gap, the count of what fell in it first, in its place. */
	log_q_dropped(1);
	if (log_q.dropped || log_q.n == LOG_QUEUE) {
		log_q.dropped++;
	} else {
		snprintf(log_q.line[(log_q.head + log_q.n) % LOG_QUEUE], LOG_LINE, "%s", line);
		log_q.n++;
	}
	pthread_cond_signal(&log_q.more);
	pthread_mutex_unlock(&log_q.mu);
	return true;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[LOG_LINE], stamp[40] = "";
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
	if (!log_enqueue(line))
		fprintf(stderr, "%s\n", line);
}

bool log_limit_take(struct log_limit *l, uint64_t now_ms)
{
	l->total++;
	if (now_ms - l->start_ms >= l->window_ms && !l->quiet) {
		l->start_ms = now_ms;
		l->logged = 0;
	}
	if (l->logged < l->burst) {
		l->logged++;
		return true;
	}
	l->quiet++;
	return false;
}

void log_limit_flush(struct log_limit *l, uint64_t now_ms)
{
	if (!l->quiet || now_ms - l->start_ms < l->window_ms)
		return;
	log_warn("%llu more %s in the last %llu s (rate-limited: not logged one by one; %llu since "
		 "start)",
		 (unsigned long long)l->quiet, l->what,
		 (unsigned long long)((now_ms - l->start_ms) / 1000), (unsigned long long)l->total);
	l->quiet = 0;
	l->logged = 0;
	l->start_ms = now_ms;
}
