/* SPDX-License-Identifier: MIT */
/* log_msg: an RFC 3339 timestamp on each line, unless stderr is the journal. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char g_path[64];

/* Point stderr at a fresh file (each Criterion test runs in its own process). */
static void stderr_to_file(void)
{
	int fd;

	snprintf(g_path, sizeof(g_path), "/tmp/ringd-log.XXXXXX");
	fd = mkstemp(g_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static void cleanup(void)
{
	unlink(g_path);
}

/* What was logged so far. */
static const char *logged(void)
{
	static char buf[4096];
	int fd = open(g_path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	return buf;
}

/* JOURNAL_STREAM as systemd would set it for a stream: "DEV:INO". */
static void set_journal_stream(int fd)
{
	struct stat st;
	char v[64];

	cr_assert_eq(fstat(fd, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	cr_assert_eq(setenv("JOURNAL_STREAM", v, 1), 0);
}

Test(log, lines_carry_an_rfc3339_utc_timestamp_with_milliseconds, .init = stderr_to_file,
     .fini = cleanup)
{
	const char *re = "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\\.[0-9]{3}Z "
			 "ringd: warn: disk 7 is slow\n$";
	regmatch_t m[2];
	struct tm tm = { 0 };
	const char *text;
	time_t now = time(NULL), t;
	regex_t rx;

	unsetenv("JOURNAL_STREAM");
	log_init();
	log_warn("disk %d is slow", 7);
	text = logged();
	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED), 0);
	cr_assert_eq(regexec(&rx, text, 2, m, 0), 0, "line '%s' is not '%s'", text, re);
	regfree(&rx);
	cr_assert_not_null(strptime(text + m[1].rm_so, "%Y-%m-%dT%H:%M:%S", &tm));
	t = timegm(&tm);
	cr_assert(t >= now - 2 && t <= now + 2, "timestamp %lld is not now (%lld): %s",
		  (long long)t, (long long)now, text);
}

Test(log, no_timestamp_when_stderr_is_the_journal, .init = stderr_to_file, .fini = cleanup)
{
	set_journal_stream(STDERR_FILENO);
	log_init();
	log_info("serving %u volumes", 2u);
	cr_assert_str_eq(logged(), "ringd: info: serving 2 volumes\n");
}

/* Inherited JOURNAL_STREAM, stderr redirected elsewhere: not the journal. */
Test(log, a_journal_stream_that_is_not_stderr_is_ignored, .init = stderr_to_file, .fini = cleanup)
{
	int other = open("/dev/null", O_WRONLY);

	cr_assert_geq(other, 0);
	set_journal_stream(other);
	close(other);
	log_init();
	log_err("x");
	cr_assert(strstr(logged(), "Z ringd: error: x\n"), "%s", logged());
	cr_assert_neq(logged()[0], 'r', "no timestamp: %s", logged());

	cr_assert_eq(setenv("JOURNAL_STREAM", "garbage", 1), 0);
	log_init();
	log_err("y");
	cr_assert(strstr(logged(), "Z ringd: error: y\n"), "%s", logged());
}

/*
 * H47: with stderr a pipe, lines go through the writer thread. A reader
 * that stops reading fills the pipe and then the queue; the lines past
 * it are dropped, never waited for, and once the reader is back a line
 * in their place counts them, before the next line logged.
 */
Test(log, a_stalled_reader_drops_lines_and_counts_them)
{
	static char out[1 << 20];
	size_t got = 0;
	char *gap, *last;
	int p[2], i, idle = 0;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	cr_assert_eq(log_async_start(), 0);
	/* Far more than the pipe (64 KiB) and the queue (256 lines) hold:
	 * this must return at once, never blocked by the pipe. */
	for (i = 0; i < 5000; i++)
		log_err("line %d of a log nobody reads yet", i);
	/* The reader is back: it takes what was kept, then the next line. */
	cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	for (i = 0; i < 500; i++) {
		ssize_t n = read(p[0], out + got, sizeof(out) - 1 - got);

		if (n > 0) {
			got += (size_t)n;
			out[got] = '\0';
			idle = 0;
			continue;
		}
		/* Nothing more for a while: all that was kept is out. */
		if (++idle == 10)
			log_err("the last line");
		if (strstr(out, "the last line"))
			break;
		usleep(10000);
	}
	last = strstr(out, "the last line");
	gap = strstr(out, "log lines dropped: the log's reader was slow");
	cr_assert_not_null(last, "the last line never came");
	cr_assert_not_null(gap, "no line counts the dropped ones");
	cr_assert_lt(gap, last, "the count comes after the line logged after the gap");
	cr_assert_not_null(strstr(out, "line 0 of a log"), "the first lines were lost");
}

Test(log, a_limit_logs_a_burst_a_window_then_sums_up_the_rest, .init = stderr_to_file,
     .fini = cleanup)
{
	struct log_limit l = LOG_LIMIT("attaches", 3, 1000);
	unsigned int i, taken = 0;

	for (i = 0; i < 10; i++)
		taken += log_limit_take(&l, 5000 + i);
	cr_assert_eq(taken, 3);
	/* Not before the window is over. */
	log_limit_flush(&l, 5500);
	cr_assert_null(strstr(logged(), "attaches"), "%s", logged());
	log_limit_flush(&l, 6000);
	cr_assert_not_null(strstr(logged(), "7 more attaches in the last 1 s (rate-limited"), "%s",
			   logged());
	cr_assert_not_null(strstr(logged(), "10 since start"), "%s", logged());
	/* A new window: a burst again, and nothing more to sum up. */
	cr_assert(log_limit_take(&l, 6001));
	log_limit_flush(&l, 9000);
	cr_assert_null(strstr(strstr(logged(), "since start") + 1, "since start"), "%s", logged());
}
