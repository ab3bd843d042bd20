/* SPDX-License-Identifier: MIT */
/*
 * Operating ringd (issue 13): ringctl's commands (tables and --json), the
 * Prometheus exposition (checked by promtool), metrics_file rewritten
 * atomically, kick, reload with a bad file, admin_group, paging of long
 * lists, figures = off, and the tenant calls ringd_tenant_stats() and
 * ringd_list_volumes() with `ringd-io stats` / `ringd-io volumes`.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "it.h"

#define OPS_ADMIN_GID 61500u

static struct rt_daemon g_d;

/* Tenant "a" is root too, so this process does I/O through libringd. */
static const char conf[] = "[daemon]\n"
			   "socket = @DIR@/ringd.sock\n"
			   "state_dir = @DIR@/state\n"
			   "admin_group = 61500\n"
			   "metrics_file = @DIR@/metrics.prom\n"
			   "metrics_interval = 100ms\n"
			   "\n"
			   "[volume demo]\n"
			   "path = demo.img\n"
			   "create_size = 16M\n"
			   "\n"
			   "[volume other]\n"
			   "path = other.img\n"
			   "create_size = 1M\n"
			   "\n"
			   "[volume hidden]\n"
			   "path = hidden.img\n"
			   "create_size = 1M\n"
			   "\n"
			   "[tenant a]\n"
			   "uid = 0, 61001\n"
			   "volumes = demo:rw, other:ro\n";

static void setup(void)
{
	rt_daemon_start(&g_d, conf);
}

static void teardown(void)
{
	it_stop(&g_d);
}

static const char *ringctl_bin(void)
{
	return getenv("RINGCTL_BIN") ? getenv("RINGCTL_BIN") : RINGCTL_BIN;
}

/*
 * Run @argv (argv[0] is staged so every uid can reach it) as @uid/@gid with
 * supplementary groups @groups (uid 0: as we are), RINGD_SOCKET set to the
 * daemon's, stdout and stderr into the files named @out and @err.
 * Returns the exit status.
 */
static int run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, const char *out,
		  const char *err, const char *const argv[])
{
	const char *bin = rt_stage_bin(argv[0]);
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int i = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(125);
		if (uid && (setgroups(ngroups, groups) || setresgid(gid, gid, gid) ||
			    setresuid(uid, uid, uid)))
			_exit(126);
		setenv("RINGD_SOCKET", g_d.sock, 1);
		setenv("LD_LIBRARY_PATH", rt_stage_dir(), 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return rt_wait_child(pid);
}

/* Contents of @path (at most 1M), NUL-terminated, in one of 4 static
 * buffers used in turn (so a failed assertion's message leaks nothing). */
static char *slurp(const char *path)
{
	static char bufs[4][(1 << 20) + 1];
	static unsigned int k;
	size_t cap = 1 << 20, len = 0;
	char *buf = bufs[k++ % 4];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "open %s", path);
	while ((n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	return buf;
}

static const char *path_in(const char *name)
{
	static char bufs[4][256];
	static unsigned int k;
	char *p = bufs[k++ % 4];

	snprintf(p, 256, "%s/%s", g_d.dir, name);
	return p;
}

/* Run ringctl (as root) with @args; returns its stdout (slurp()'s) and
 * asserts the exit status @want. */
static char *ringctl(int want, const char *const *args)
{
	const char *argv[16] = { ringctl_bin() };
	size_t i;
	char *out, *err;
	int st;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	st = run_as(0, 0, NULL, 0, path_in("rc.out"), path_in("rc.err"), argv);
	out = slurp(path_in("rc.out"));
	err = slurp(path_in("rc.err"));
	cr_assert_eq(st, want, "ringctl %s: exit %d, want %d; stderr: %s", args[0], st, want, err);
	return out;
}

static json_object *ringctl_json(const char *const *args)
{
	char *out = ringctl(0, args);
	json_object *o = json_tokener_parse(out);

	cr_assert_not_null(o, "not JSON: %s", out);
	return o;
}

static uint64_t jget_u(json_object *o, const char *k)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, k, &v), "no key %s in %s", k,
		  json_object_to_json_string(o));
	return (uint64_t)json_object_get_int64(v);
}

static const char *jget_s(json_object *o, const char *k)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, k, &v), "no key %s", k);
	return json_object_get_string(v);
}

/* Writes, reads and a flush on demo through libringd; returns the session. */
static struct ringd *do_io(unsigned int n)
{
	struct ringd *rd;
	struct ringd_sqe *sqe;
	void *buf;
	unsigned int i;
	int h, ret;

	ret = rt_connect(&g_d, 0, 0, 0, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	h = ringd_open(rd, "demo", RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	buf = ringd_buf_alloc(rd, 4096, 4096);
	cr_assert_not_null(buf);
	memset(buf, 0x5a, 4096);
	for (i = 0; i < n; i++) {
		cr_assert_eq(it_write(rd, h, buf, 4096, (uint64_t)i * 4096), 4096);
		cr_assert_eq(it_read(rd, h, buf, 4096, (uint64_t)i * 4096), 4096);
	}
	sqe = ringd_get_sqe(rd);
	ringd_prep_fsync(sqe, h, 0);
	cr_assert_eq(it_run1(rd, sqe, 9), 0);
	return rd;
}

TestSuite(ops, .init = setup, .fini = teardown, .timeout = 120);

Test(ops, status_human_and_json)
{
	const char *a1[] = { "status", NULL }, *a2[] = { "--json", "status", NULL };
	struct ringd *rd = do_io(2);
	char *out = ringctl(0, a1);
	json_object *o, *c;

	cr_assert(strstr(out, "version:") && strstr(out, "uptime:") && strstr(out, g_d.conf) &&
		      strstr(out, "volumes:      3") && strstr(out, "interrupt 5"),
		  "status:\n%s", out);
	o = ringctl_json(a2);
	cr_assert_eq(jget_u(o, "volumes"), 3);
	cr_assert_geq(jget_u(o, "sessions"), 2); /* ours and ringctl's */
	cr_assert_str_eq(jget_s(o, "config"), g_d.conf);
	cr_assert(json_object_object_get_ex(o, "completions", &c));
	cr_assert_eq(jget_u(c, "interrupt"), 5, "2 writes + 2 reads + 1 flush");
	json_object_put(o);
	ringd_disconnect(rd);
}

Test(ops, tenants_human_and_json_with_latency)
{
	const char *a1[] = { "tenants", NULL }, *a2[] = { "tenants", "--json", NULL };
	struct ringd *rd = do_io(10);
	json_object *arr, *t, *lat, *rl;
	char *out = ringctl(0, a1);

	cr_assert(strstr(out, "TENANT") && strstr(out, "\na ") && strstr(out, "read   latency") &&
		      strstr(out, "p99.9"),
		  "tenants:\n%s", out);
	arr = ringctl_json(a2);
	cr_assert_eq(json_object_array_length(arr), 1,
		     "only tenant a (the no-tenant class is "
		     "empty)");
	t = json_object_array_get_idx(arr, 0);
	cr_assert_str_eq(jget_s(t, "name"), "a");
	cr_assert_eq(jget_u(t, "reads"), 10);
	cr_assert_eq(jget_u(t, "writes"), 10);
	cr_assert_eq(jget_u(t, "flushes"), 1);
	cr_assert_eq(jget_u(t, "bytes_read"), 40960);
	cr_assert_eq(jget_u(t, "bytes_written"), 40960);
	cr_assert_eq(jget_u(t, "errors"), 0);
	cr_assert_eq(jget_u(t, "qos_units"), 21);
	(void)jget_u(t, "qos_throttled_us");
	cr_assert(json_object_object_get_ex(t, "latency", &lat));
	cr_assert(json_object_object_get_ex(lat, "read", &rl));
	cr_assert_eq(jget_u(rl, "count"), 10);
	cr_assert_gt(jget_u(rl, "p50_ns"), 0);
	cr_assert_leq(jget_u(rl, "p50_ns"), jget_u(rl, "p99_ns"));
	cr_assert_leq(jget_u(rl, "p99_ns"), jget_u(rl, "p999_ns"));
	/* A read from the page cache through the daemon: well under a second. */
	cr_assert_lt(jget_u(rl, "p99_ns"), 1000000000ull);
	json_object_put(arr);
	ringd_disconnect(rd);
}

Test(ops, sessions_human_and_json)
{
	const char *a1[] = { "sessions", NULL }, *a2[] = { "--json", "sessions", NULL };
	struct ringd *rd = do_io(3);
	json_object *arr, *s, *mine = NULL;
	char *out = ringctl(0, a1), pid[32];
	size_t i;

	snprintf(pid, sizeof(pid), " %d ", (int)getpid());
	cr_assert(strstr(out, "STATE") && strstr(out, pid) && strstr(out, "active"),
		  "sessions:\n%s", out);
	arr = ringctl_json(a2);
	for (i = 0; i < json_object_array_length(arr); i++) {
		s = json_object_array_get_idx(arr, i);
		if (jget_u(s, "pid") == (uint64_t)getpid())
			mine = s;
	}
	cr_assert_not_null(mine, "our session is listed");
	cr_assert_str_eq(jget_s(mine, "tenant"), "a");
	cr_assert_str_eq(jget_s(mine, "state"), "active");
	cr_assert_eq(jget_u(mine, "handles"), 1);
	cr_assert_eq(jget_u(mine, "ops"), 7);
	cr_assert_eq(jget_u(mine, "bytes"), 6 * 4096);
	cr_assert_eq(jget_u(mine, "broken_reason"), 0);
	json_object_put(arr);
	ringd_disconnect(rd);
}

Test(ops, volumes_human_and_json)
{
	const char *a1[] = { "volumes", NULL }, *a2[] = { "--json", "volumes", NULL };
	struct ringd *rd = do_io(4);
	json_object *arr, *v, *lat;
	char *out = ringctl(0, a1);

	cr_assert(strstr(out, "demo") && strstr(out, "interrupt") && strstr(out, "hidden") &&
		      strstr(out, "16.0M"),
		  "volumes:\n%s", out);
	arr = ringctl_json(a2);
	cr_assert_eq(json_object_array_length(arr), 3);
	v = json_object_array_get_idx(arr, 0);
	cr_assert_str_eq(jget_s(v, "name"), "demo");
	cr_assert_str_eq(jget_s(v, "path"), "interrupt");
	cr_assert_eq(jget_u(v, "size"), 16u << 20);
	cr_assert_eq(jget_u(v, "ops"), 9);
	cr_assert_eq(jget_u(v, "bytes_written"), 4 * 4096);
	cr_assert(strstr(jget_s(v, "backing"), "demo.img"));
	cr_assert(json_object_object_get_ex(v, "latency", &lat));
	cr_assert_eq(jget_u(lat, "count"), 9);
	json_object_put(arr);
	ringd_disconnect(rd);
}

Test(ops, top_refreshes_count_times)
{
	const char *a1[] = { "top", "-n", "2", NULL }, *a2[] = { "--json", "top", "-n", "2", NULL };
	char *out = ringctl(0, a1), *p, *line;
	unsigned int heads = 0, docs = 0;

	for (p = out; (p = strstr(p, "TENANT")); p++)
		heads++;
	cr_assert_eq(heads, 2, "two refreshes:\n%s", out);
	cr_assert(strstr(out, "IOPS") && strstr(out, "\na "), "top:\n%s", out);
	out = ringctl(0, a2);
	for (line = strtok_r(out, "\n", &p); line; line = strtok_r(NULL, "\n", &p)) {
		json_object *arr = json_tokener_parse(line);

		cr_assert_not_null(arr, "one JSON document per round: %s", line);
		cr_assert_str_eq(jget_s(json_object_array_get_idx(arr, 0), "name"), "a");
		json_object_put(arr);
		docs++;
	}
	cr_assert_eq(docs, 2);
}

/* Run promtool check metrics on @path; -1 if promtool is not installed. */
static int promtool_check(const char *path)
{
	char cmd[512];

	if (access("/usr/bin/promtool", X_OK))
		return -1;
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s' 2>&1", path,
		 path_in("promtool.out"));
	return WEXITSTATUS(system(cmd));
}

Test(ops, metrics_exposition_passes_promtool)
{
	const char *a1[] = { "metrics", NULL };
	struct ringd *rd = do_io(5);
	char *out = ringctl(0, a1), *pt;
	FILE *f;
	int st;

	cr_assert(strstr(out, "# TYPE ringd_tenant_ops_total counter\n"), "%s", out);
	cr_assert(strstr(out, "ringd_tenant_ops_total{tenant=\"a\",op=\"read\"} 5\n"));
	cr_assert(strstr(out, "ringd_tenant_bytes_total{tenant=\"a\",op=\"write\"} 20480\n"));
	cr_assert(strstr(out, "# TYPE ringd_tenant_latency_seconds histogram\n"));
	cr_assert(
	    strstr(out, "ringd_tenant_latency_seconds_bucket{tenant=\"a\",op=\"read\",le=\""));
	cr_assert(strstr(out, "ringd_tenant_latency_seconds_bucket{tenant=\"a\",op=\"read\",le=\""
			      "+Inf\"} 5\n"));
	cr_assert(strstr(out, "ringd_tenant_latency_seconds_count{tenant=\"a\",op=\"read\"} 5\n"));
	cr_assert(strstr(out, "ringd_tenant_latency_seconds_sum{tenant=\"a\",op=\"read\"} "));
	cr_assert(strstr(out, "ringd_volume_ops_total{volume=\"demo\",path=\"interrupt\",op="
			      "\"write\"} 5\n"));
	cr_assert(strstr(out, "ringd_volume_latency_seconds_count{volume=\"demo\",path="
			      "\"interrupt\"} 11\n"));
	cr_assert(strstr(out, "ringd_completions_total{path=\"interrupt\"} 11\n"));
	cr_assert(strlen(out) > 4096, "long enough to need several pages: %zu", strlen(out));
	f = fopen(path_in("metrics.txt"), "we");
	cr_assert_not_null(f);
	fputs(out, f);
	fclose(f);
	st = promtool_check(path_in("metrics.txt"));
	if (st < 0) {
		ringd_disconnect(rd);
		cr_skip_test("promtool is not installed (apt-get install prometheus)");
	}
	pt = slurp(path_in("promtool.out"));
	cr_assert_eq(st, 0, "promtool check metrics: %s", pt);
	ringd_disconnect(rd);
}

Test(ops, metrics_file_rewritten_atomically)
{
	const char *file = path_in("metrics.prom");
	char first[64] = "", *text;
	unsigned int reads = 0, changes = 0;
	uint64_t end;
	struct stat sb;
	struct ringd *rd;

	cr_assert(rt_wait_for(3000, stat(file, &sb) == 0), "metrics_file appears");
	rd = do_io(1);
	/* For about 2 s, read it as fast as possible while the daemon rewrites it
	 * every 100 ms: every read is a whole exposition. */
	end = (uint64_t)time(NULL) + 2;
	while ((uint64_t)time(NULL) < end) {
		const char *up;
		size_t len;

		text = slurp(file);
		len = strlen(text);
		cr_assert_gt(len, 0, "never empty");
		cr_assert_eq(text[len - 1], '\n', "ends with a whole line");
		cr_assert(strstr(text, "# HELP ringd_uptime_seconds ") == text,
			  "starts with the first family");
		cr_assert(strstr(text, "ringd_volume_latency_seconds_count{volume=\"hidden\""),
			  "ends with the last family (read %u)", reads);
		up = strstr(text, "\nringd_uptime_seconds ");
		cr_assert_not_null(up);
		if (strncmp(first, up, 40)) {
			snprintf(first, sizeof(first), "%.40s", up);
			changes++;
		}
		reads++;
	}
	/* Every 100 ms, at the loop's 250 ms tick when it is idle. */
	cr_assert_geq(changes, 4, "rewritten every 100-250 ms: %u versions in %u reads", changes,
		      reads);
	cr_assert_eq(promtool_check(file) > 0, 0, "the file passes promtool too");
	ringd_disconnect(rd);
}

Test(ops, kick_breaks_the_session_with_admin_reason)
{
	const char *a2[] = { "--json", "sessions", NULL };
	struct ringd *rd = do_io(1);
	json_object *arr;
	char id[32] = "";
	const char *kick[] = { "kick", id, NULL }, *kick_bad[] = { "kick", "987654321", NULL };
	struct ringd_sqe *sqe;
	struct ringd_stats st;
	char *out;
	size_t i;
	int ret;

	arr = ringctl_json(a2);
	for (i = 0; i < json_object_array_length(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i);

		if (jget_u(s, "pid") == (uint64_t)getpid() && !strcmp(jget_s(s, "state"), "active"))
			snprintf(id, sizeof(id), "%llu", (unsigned long long)jget_u(s, "id"));
	}
	json_object_put(arr);
	cr_assert(id[0], "our session is listed");
	out = ringctl(0, kick);
	cr_assert(strstr(out, "RINGD_BROKEN_ADMIN"), "%s", out);
	/* The session takes no more SQEs: its calls fail with -EPIPE. */
	cr_assert(rt_wait_for(2000, ringd_broken_reason(rd) == RINGD_BROKEN_ADMIN),
		  "broken reason %u", ringd_broken_reason(rd));
	sqe = ringd_get_sqe(rd);
	if (sqe) {
		ringd_prep_nop(sqe);
		ret = ringd_submit(rd);
		cr_assert_eq(ret, -EPIPE, "submit after a kick: %d", ret);
	}
	ret = ringd_stats(rd, &st);
	cr_assert_eq(ret, 0);
	cr_assert_eq(st.broken_reason, RINGD_BROKEN_ADMIN);
	/* An unknown id: non-zero exit with the daemon's words. */
	ringctl(1, kick_bad);
	cr_assert(strstr(slurp(path_in("rc.err")), "no session 987654321"));
	ringd_disconnect(rd);
}

Test(ops, reload_with_a_bad_file_prints_the_error)
{
	const char *a1[] = { "reload", NULL }, *a2[] = { "--json", "reload", NULL };
	char body[sizeof(conf) + 64], *err;
	json_object *o;

	snprintf(body, sizeof(body), "%s%s", conf, "bogus_key = 1\n");
	cr_assert_eq(rt_daemon_rewrite_conf(&g_d, body), 0);
	ringctl(1, a1);
	err = slurp(path_in("rc.err"));
	cr_assert(strstr(err, "reload refused") && strstr(err, "bogus_key: unknown key") &&
		      strstr(err, "ringd.conf:"),
		  "the parse error, with file:line: %s", err);
	/* A good file: applied, exit 0, and the new volume is there. */
	snprintf(body, sizeof(body), "%s%s", conf,
		 "\n[volume late]\npath = late.img\n"
		 "create_size = 1M\n");
	cr_assert_eq(rt_daemon_rewrite_conf(&g_d, body), 0);
	o = ringctl_json(a2);
	cr_assert(strstr(jget_s(o, "message"), "reloaded") &&
		      strstr(jget_s(o, "message"), "4 volumes (1 added"),
		  "%s", jget_s(o, "message"));
	json_object_put(o);
}

Test(ops, admin_group_members_only)
{
	const char *argv[] = { ringctl_bin(), "status", NULL };
	gid_t admin = OPS_ADMIN_GID, other = 61997;
	char *err;
	int st;

	/* Primary group (SO_PEERCRED's gid). */
	st = run_as(RT_UID_STRANGER, OPS_ADMIN_GID, NULL, 0, path_in("o"), path_in("e"), argv);
	cr_assert_eq(st, 0, "admin_group as primary group: %s", slurp(path_in("e")));
	/* Supplementary group (SO_PEERGROUPS). */
	st = run_as(RT_UID_STRANGER, RT_UID_STRANGER, &admin, 1, path_in("o"), path_in("e"), argv);
	cr_assert_eq(st, 0, "admin_group as supplementary group: %s", slurp(path_in("e")));
	/* Neither root, nor a tenant, nor in admin_group: refused at connect. */
	st = run_as(RT_UID_STRANGER, RT_UID_STRANGER, &other, 1, path_in("o"), path_in("e"), argv);
	err = slurp(path_in("e"));
	cr_assert_eq(st, 1, "a stranger: %s", err);
	cr_assert(strstr(err, "not a tenant"), "%s", err);
	/* A tenant (uid 61001) that is not in admin_group: EPERM at Hello. */
	st = run_as(RT_UID_A, RT_UID_A, NULL, 0, path_in("o"), path_in("e"), argv);
	err = slurp(path_in("e"));
	cr_assert_eq(st, 1, "a tenant: %s", err);
	cr_assert(strstr(err, "admin_group"), "%s", err);
}

Test(ops, no_daemon_hints_is_ringd_running)
{
	const char *argv[] = { ringctl_bin(), "-s", "/nonexistent/ringd.sock", "status", NULL };
	char *err;
	int st = run_as(0, 0, NULL, 0, path_in("o"), path_in("e"), argv);

	err = slurp(path_in("e"));
	cr_assert_eq(st, 1);
	cr_assert(strstr(err, "is ringd running?"), "%s", err);
}

Test(ops, tenant_stats_and_list_volumes)
{
	struct ringd *rd = do_io(3), *rd2 = do_io(2);
	struct ringd_stats st;
	char **names;
	size_t n;
	int ret;

	ringd_disconnect(rd2); /* its figures stay in the tenant's totals */
	ret = ringd_tenant_stats(rd, &st);
	cr_assert_eq(ret, 0, "%s", strerror(-ret));
	cr_assert_eq(st.completed, 3 * 2 + 1 + 2 * 2 + 1);
	cr_assert_eq(st.bytes_read, 5 * 4096);
	cr_assert_eq(st.bytes_written, 5 * 4096);
	cr_assert_eq(st.errors, 0);
	/* The session's own counters keep their scope. */
	cr_assert_eq(ringd_stats(rd, &st), 0);
	cr_assert_eq(st.completed, 7);
	ret = ringd_list_volumes(rd, &names, &n);
	cr_assert_eq(ret, 0);
	cr_assert_eq(n, 2, "demo and other, not hidden");
	cr_assert_str_eq(names[0], "demo");
	cr_assert_str_eq(names[1], "other");
	ringd_free_list(names, n);
	ringd_disconnect(rd);
}

Test(ops, ringd_io_stats_and_volumes_as_a_tenant)
{
	const char *a1[] = { rt_ringd_io_bin(), "volumes", NULL };
	const char *a2[] = { rt_ringd_io_bin(), "stats", NULL };
	struct ringd *rd = do_io(2);
	char *out;

	cr_assert_eq(run_as(RT_UID_A, RT_UID_A, NULL, 0, path_in("o"), path_in("e"), a1), 0, "%s",
		     slurp(path_in("e")));
	out = slurp(path_in("o"));
	cr_assert_str_eq(out, "demo\nother\n");
	cr_assert_eq(run_as(RT_UID_A, RT_UID_A, NULL, 0, path_in("o"), path_in("e"), a2), 0, "%s",
		     slurp(path_in("e")));
	out = slurp(path_in("o"));
	cr_assert(strstr(out, "session: submitted 0") &&
		      strstr(out, "tenant: submitted 5 completed 5"),
		  "%s", out);
	ringd_disconnect(rd);
}

/*
 * Long lists come in pages: 80 volumes with long names are over 4096 bytes
 * in one reply. (A tenant's grant list cannot be that long: a config line
 * is at most 200 bytes, so ringd_list_volumes() pages are exercised with
 * the short list above; the daemon pages both lists the same way.)
 */
static struct rt_daemon g_many;

Test(ops_paging, long_lists_are_paged, .timeout = 120)
{
	size_t cap = 80 * 160 + 512, len = 0, i;
	char *body = malloc(cap);
	const char *argv[] = { ringctl_bin(), "--json", "volumes", NULL };
	const char *argv2[] = { ringctl_bin(), "volumes", NULL };
	json_object *arr;
	char *out;

	cr_assert_not_null(body);
	for (i = 0; i < 80; i++)
		len += (size_t)snprintf(body + len, cap - len,
					"[volume v%02zu-with-a-long-name-to-fill-the-pages]\n"
					"path = v%02zu.img\ncreate_size = 4K\n\n",
					i, i);
	snprintf(body + len, cap - len,
		 "[tenant a]\nuid = 0\nvolumes = v00-with-a-long-"
		 "name-to-fill-the-pages:ro\n");
	rt_daemon_start(&g_many, body);
	free(body);
	memcpy(&g_d, &g_many, sizeof(g_d)); /* run_as() uses g_d's socket and dir */
	cr_assert_eq(run_as(0, 0, NULL, 0, path_in("o"), path_in("e"), argv), 0);
	out = slurp(path_in("o"));
	cr_assert_gt(strlen(out), 8192, "several pages' worth");
	arr = json_tokener_parse(out);
	cr_assert_not_null(arr);
	cr_assert_eq(json_object_array_length(arr), 80);
	cr_assert_str_eq(jget_s(json_object_array_get_idx(arr, 79), "name"),
			 "v79-with-a-long-name-to-fill-the-pages");
	json_object_put(arr);
	cr_assert_eq(run_as(0, 0, NULL, 0, path_in("o"), path_in("e"), argv2), 0);
	out = slurp(path_in("o"));
	cr_assert(strstr(out, "v00-with") && strstr(out, "v79-with"), "%s", out);
	it_stop(&g_many);
}

/* [daemon] figures = off: nothing recorded, and the tenant call says so. */
Test(ops_off, figures_off)
{
	static const char off_conf[] = "[daemon]\n"
				       "socket = @DIR@/ringd.sock\n"
				       "state_dir = @DIR@/state\n"
				       "figures = off\n"
				       "\n"
				       "[volume demo]\npath = demo.img\ncreate_size = 16M\n\n"
				       "[tenant a]\nuid = 0\nvolumes = demo:rw\n";
	const char *argv[] = { ringctl_bin(), "--json", "status", NULL };
	struct ringd_stats st;
	struct ringd *rd;
	json_object *o, *v;
	char *out;

	rt_daemon_start(&g_d, off_conf);
	rd = do_io(2);
	cr_assert_eq(ringd_tenant_stats(rd, &st), -ENODATA);
	cr_assert_eq(run_as(0, 0, NULL, 0, path_in("o"), path_in("e"), argv), 0);
	out = slurp(path_in("o"));
	o = json_tokener_parse(out);
	cr_assert_not_null(o);
	cr_assert(json_object_object_get_ex(o, "figures", &v));
	cr_assert_eq(json_object_get_boolean(v), 0);
	json_object_put(o);
	ringd_disconnect(rd);
	it_stop(&g_d);
}
