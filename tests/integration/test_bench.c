/* SPDX-License-Identifier: MIT */
/* ringd-bench runs each workload and engine cleanly against a real daemon. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct rt_daemon g_d;

static const char conf[] = "[volume bench]\n"
			   "path = bench.img\n"
			   "create_size = 16M\n"
			   "direct = no\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = bench:rw\n"
			   "max_sessions = 16\n";

static void daemon_start(void)
{
	rt_daemon_start(&g_d, conf);
}

static void daemon_stop(void)
{
	cr_assert_eq(rt_daemon_stop(&g_d), 0);
}

/* Run ringd-bench with @args (NULL-terminated) plus --json into @out
 * (a file in the daemon's directory). Returns its exit status. */
static int run_bench(const char *out, const char *const *args)
{
	const char *argv[40];
	char pid[16];
	unsigned int n = 0, i;
	pid_t p;
	int st, fd;

	snprintf(pid, sizeof(pid), "%d", (int)g_d.pid);
	argv[n++] = RINGD_BENCH_BIN;
	argv[n++] = "--socket";
	argv[n++] = g_d.sock;
	argv[n++] = "--daemon-pid";
	argv[n++] = pid;
	argv[n++] = "--json";
	argv[n++] = "--quiet";
	for (i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	p = fork();
	cr_assert_geq(p, 0);
	if (!p) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(p, &st, 0), p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The number after "@key": in the JSON file @path, or -1. */
static double json_num(const char *path, const char *key)
{
	char buf[16384], pat[64];
	FILE *f = fopen(path, "r");
	size_t n;
	char *p;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(buf, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* Whether the file at @path contains @needle. */
static bool json_has(const char *path, const char *needle)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* Each of the @n argument lists in @bad (at most 8, NULL-ended if shorter)
 * is a usage error: ringd-bench exits 2 before anything runs. */
static void refused(const char *const (*bad)[8], unsigned int n)
{
	const char *args[10];
	char out[160];
	unsigned int k, i;

	snprintf(out, sizeof(out), "%s/bad.json", g_d.dir);
	for (k = 0; k < n; k++) {
		for (i = 0; i < 8 && bad[k][i]; i++)
			args[i] = bad[k][i];
		args[i] = NULL;
		cr_assert_eq(run_bench(out, args), 2, "case %u accepted", k);
	}
}

static void check_run(const char *name, const char *const *args, bool expect_ios)
{
	char out[160];
	int ret;

	snprintf(out, sizeof(out), "%s/%s.json", g_d.dir, name);
	ret = run_bench(out, args);
	cr_assert_eq(ret, 0, "%s: ringd-bench exited %d", name, ret);
	cr_assert_eq(json_num(out, "errors"), 0, "%s: I/O errors reported", name);
	if (expect_ios)
		cr_assert_gt(json_num(out, "ios"), 0, "%s: no I/O completed", name);
	cr_assert_geq(json_num(out, "runtime_s"), 0.1, "%s: no measured window", name);
}

Test(bench, ringd_engine_runs_every_workload, .init = daemon_start, .fini = daemon_stop,
     .timeout = 120)
{
	static const char *const nop[] = { "--engine", "ringd",	    "--workload", "nop", "--qd",
					   "16",       "--runtime", "0.3",	  NULL };
	static const char *const rr[] = { "--engine",  "ringd", "--volume", "bench",   "--workload",
					  "randread",  "--qd",	"8",	    "--procs", "2",
					  "--runtime", "0.3",	NULL };
	static const char *const rw[] = { "--engine",  "ringd",	  "--volume", "bench", "--workload",
					  "rw",	       "--rwmix", "70",	      "--qd",  "4",
					  "--runtime", "0.3",	  NULL };
	static const char *const wr[] = { "--engine",	"ringd",     "--volume", "bench",
					  "--workload", "randwrite", "--qd",	 "4",
					  "--runtime",	"0.3",	     NULL };
	static const char *const idle[] = { "--engine",	 "ringd",   "--workload",
					    "idle",	 "--procs", "4",
					    "--runtime", "0.3",	    NULL };

	check_run("nop", nop, true);
	check_run("randread", rr, true);
	check_run("rw", rw, true);
	check_run("randwrite", wr, true);
	check_run("idle", idle, false);
}

Test(bench, direct_engine_runs_on_the_backing_file, .init = daemon_start, .fini = daemon_stop,
     .timeout = 120)
{
	char file[160];
	const char *rr[] = { "--engine", "direct", "--file",	file,  "--workload", "randread",
			     "--qd",	 "8",	   "--runtime", "0.3", NULL };
	static const char *const nop[] = { "--engine", "direct",    "--workload", "nop", "--qd",
					   "16",       "--runtime", "0.3",	  NULL };

	snprintf(file, sizeof(file), "%s/state/bench.img", g_d.dir);
	check_run("direct-randread", rr, true);
	check_run("direct-nop", nop, true);
}

/* The readv workload and both kinds of durable write, through the daemon
 * and on the backing file directly: every request completes in full (a
 * readv its 4 x 4 KiB, a write+fdatasync pair as one I/O). */
Test(bench, readv_and_durable_writes_run_on_both_engines, .init = daemon_start, .fini = daemon_stop,
     .timeout = 120)
{
	char file[160];
	const char *tgt_r[] = { "--engine", "ringd", "--volume", "bench" };
	const char *tgt_d[] = { "--engine", "direct", "--file", file };
	static const char *const kinds[][6] = {
		{ "readv", "--workload", "readv", "--qd", "8", NULL },
		{ "readv16", "--workload", "readv", "--vecs", "16", NULL },
		{ "dsync", "--workload", "randwrite", "--dsync", NULL },
		{ "fdatasync", "--workload", "randwrite", "--fdatasync", NULL },
		{ "rw-fdatasync", "--workload", "rw", "--fdatasync", NULL },
	};
	unsigned int e, k, i;

	snprintf(file, sizeof(file), "%s/state/bench.img", g_d.dir);
	for (e = 0; e < 2; e++) {
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			const char *args[16];
			char name[64];
			unsigned int n = 0;

			for (i = 0; i < 4; i++)
				args[n++] = e ? tgt_d[i] : tgt_r[i];
			for (i = 1; kinds[k][i]; i++)
				args[n++] = kinds[k][i];
			args[n++] = "--runtime";
			args[n++] = "0.3";
			args[n] = NULL;
			snprintf(name, sizeof(name), "%s-%s", e ? "direct" : "ringd", kinds[k][0]);
			check_run(name, args, true);
		}
	}
}

/* The JSON names what ran: vectors, bytes per request, durability. */
Test(bench, json_describes_readv_and_durability, .init = daemon_start, .fini = daemon_stop,
     .timeout = 60)
{
	static const char *const rv[] = { "--engine",	"ringd", "--volume", "bench",
					  "--workload", "readv", "--vecs",   "8",
					  "--runtime",	"0.2",	 NULL };
	static const char *const ds[] = { "--engine",	"ringd",     "--volume", "bench",
					  "--workload", "randwrite", "--dsync",	 "--qd",
					  "2",		"--runtime", "0.2",	 NULL };
	char out[160];

	snprintf(out, sizeof(out), "%s/rv.json", g_d.dir);
	cr_assert_eq(run_bench(out, rv), 0);
	cr_assert_eq(json_num(out, "vecs"), 8);
	cr_assert_eq(json_num(out, "request_bytes"), 8 * 4096);
	cr_assert_gt(json_num(out, "ios"), 0);
	cr_assert_eq(json_num(out, "errors"), 0, "a readv came back short or failed");
	snprintf(out, sizeof(out), "%s/ds.json", g_d.dir);
	cr_assert_eq(run_bench(out, ds), 0);
	cr_assert_eq(json_num(out, "request_bytes"), 4096);
	cr_assert(json_has(out, "\"dsync\": true"), "dsync not reported");
	cr_assert(json_has(out, "\"fdatasync\": false"), "fdatasync reported");
}

/* Durability on a read workload, both kinds at once, 65 vectors: usage
 * errors (exit 2) before anything runs. */
Test(bench, durable_and_vector_options_are_checked, .init = daemon_start, .fini = daemon_stop)
{
	static const char *const bad[][8] = {
		{ "--engine", "ringd", "--volume", "bench", "--workload", "readv", "--dsync",
		  NULL },
		{ "--engine", "ringd", "--volume", "bench", "--workload", "randread", "--fdatasync",
		  NULL },
		{ "--engine", "ringd", "--volume", "bench", "--dsync", "--fdatasync", "--workload",
		  "randwrite" },
		{ "--engine", "ringd", "--volume", "bench", "--workload", "readv", "--vecs", "65" },
	};

	refused(bad, sizeof(bad) / sizeof(bad[0]));
}

Test(bench, bad_option_is_refused, .init = daemon_start, .fini = daemon_stop)
{
	static const char *const bad[] = { "--engine", "ringd", "--workload", "nope", NULL };
	char out[160];

	snprintf(out, sizeof(out), "%s/bad.json", g_d.dir);
	cr_assert_eq(run_bench(out, bad), 2, "unknown workload accepted");
}

/* --line-rtt: the cache-line round trip between the workers' CPU and
 * another, measured before and after the run and reported in the JSON;
 * without --cpu, or with the same CPU twice, a usage error. */
Test(bench, line_round_trip_is_measured_around_a_run, .init = daemon_start, .fini = daemon_stop,
     .timeout = 60)
{
	static const char *const run[] = { "--engine",	 "ringd", "--volume",	"bench",
					   "--workload", "nop",	  "--qd",	"8",
					   "--cpu",	 "0",	  "--line-rtt", "1",
					   "--runtime",	 "0.2",	  NULL };
	static const char *const bad[][8] = {
		{ "--engine", "ringd", "--workload", "nop", "--line-rtt", "1", NULL },
		{ "--engine", "ringd", "--workload", "nop", "--cpu", "1", "--line-rtt", "1" },
	};
	char out[160];
	double before, after;

	refused(bad, sizeof(bad) / sizeof(bad[0]));
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("one CPU online: no second CPU to measure a round trip to");
	snprintf(out, sizeof(out), "%s/rtt.json", g_d.dir);
	cr_assert_eq(run_bench(out, run), 0);
	cr_assert_gt(json_num(out, "ios"), 0);
	before = json_num(out, "before");
	after = json_num(out, "after");
	/* Generous: from an SMT sibling (tens of ns) to a busy host (ms). */
	cr_assert(before > 0 && before < 1e7, "round trip before the run: %g ns", before);
	cr_assert(after > 0 && after < 1e7, "round trip after the run: %g ns", after);
}
