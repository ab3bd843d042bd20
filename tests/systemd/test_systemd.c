/* SPDX-License-Identifier: MIT */
/*
 * ringd under systemd's protocols, with the test playing systemd: socket
 * activation (systemd-socket-activate), sd_notify (READY/STATUS/WATCHDOG/
 * RELOADING/STOPPING on a datagram socket we own), live reload, and the
 * unit files checked by systemd-analyze.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "ringd.h"
#include "sdnotify.h"

static struct rt_daemon g_d;
static struct rt_notify g_n;

struct sd_env {
	const char *notify;
	unsigned long long watchdog_usec;
};

static void sd_setup(void *arg)
{
	const struct sd_env *e = arg;
	char buf[32];

	setenv("NOTIFY_SOCKET", e->notify, 1);
	if (e->watchdog_usec) {
		snprintf(buf, sizeof(buf), "%llu", e->watchdog_usec);
		setenv("WATCHDOG_USEC", buf, 1);
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		setenv("WATCHDOG_PID", buf, 1);
	}
}

static const char base_conf[] = "[volume a]\n"
				"path = a.img\n"
				"create_size = 16M\n"
				"\n"
				"[volume c]\n"
				"path = c.img\n"
				"create_size = 16M\n"
				"\n"
				"[tenant root]\n"
				"uid = 0\n"
				"volumes = a:rw, c:rw\n";

/* Start ringd with a notify socket (and a watchdog if @wd_usec). */
static void start_notified(const char *conf, unsigned long long wd_usec)
{
	struct sd_env e = { .notify = g_n.path, .watchdog_usec = wd_usec };
	int ret = rt_daemon_prepare(&g_d, conf);

	cr_assert_eq(ret, 0);
	ret = rt_notify_open(&g_n, g_d.dir);
	cr_assert_eq(ret, 0, "notify socket: %s", strerror(-ret));
	e.notify = g_n.path;
	ret = rt_daemon_launch_with(&g_d, sd_setup, &e, NULL, true);
	cr_assert_eq(ret, 0, "ringd did not start: %s", strerror(-ret));
}

static void stop_notified(void)
{
	int status = rt_daemon_stop(&g_d);

	rt_notify_close(&g_n);
	cr_assert_eq(status, 0, "ringd exited with status %d", status);
}

/* One write+read of @len bytes at @off on handle @h; returns the CQE res of the read. */
static int io_once(struct ringd *rd, int h, bool write, void *buf, unsigned int len, uint64_t off)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rd);
	struct ringd_cqe *cqe;
	int ret;

	cr_assert_not_null(sqe);
	if (write)
		ringd_prep_write(sqe, h, buf, len, off);
	else
		ringd_prep_read(sqe, h, buf, len, off);
	ret = ringd_submit_and_wait(rd, 1);
	cr_assert_geq(ret, 0, "submit: %s", strerror(-ret));
	ret = ringd_wait_cqe(rd, &cqe);
	cr_assert_eq(ret, 0);
	ret = cqe->res;
	ringd_cqe_seen(rd, cqe);
	return ret;
}

static void rewrite_conf(const char *body)
{
	FILE *f = fopen(g_d.conf, "we");

	cr_assert_not_null(f);
	fprintf(f, "[daemon]\nsocket = %s\nstate_dir = %s/state\n\n%s", g_d.sock, g_d.dir, body);
	fclose(f);
}

/* SIGHUP and wait for RELOADING=1 then READY=1. */
static void reload(void)
{
	unsigned int from = g_n.nev;
	int r1, r2;

	kill(g_d.pid, SIGHUP);
	r1 = rt_notify_wait(&g_n, "RELOADING=1", from, 5000);
	cr_assert_geq(r1, 0, "no RELOADING=1 after SIGHUP");
	r2 = rt_notify_wait(&g_n, "READY=1", (unsigned int)r1, 5000);
	cr_assert_geq(r2, 0, "no READY=1 after RELOADING=1");
}

Test(notify, ready_status_and_stopping)
{
	struct ringd *rd;
	int i, ret;

	start_notified(base_conf, 0);
	i = rt_notify_wait(&g_n, "READY=1", 0, 5000);
	cr_assert_geq(i, 0, "READY=1 never arrived");
	cr_assert(rt_notify_has(&g_n, (unsigned int)i, "STATUS="), "READY without STATUS");
	/* READY means serving: a client is served right away. */
	ret = rt_connect(&g_d, 0, 0, 0, &rd);
	cr_assert_eq(ret, 0, "connect after READY: %s", strerror(-ret));
	cr_assert_geq(ringd_open(rd, "a", RINGD_RDWR, NULL), 0);
	ringd_disconnect(rd);
	kill(g_d.pid, SIGTERM);
	cr_assert_geq(rt_notify_wait(&g_n, "STOPPING=1", (unsigned int)i, 5000), 0,
		      "no STOPPING=1 after SIGTERM");
	stop_notified();
}

Test(notify, sigterm_drains_inflight_io_before_exit)
{
	struct ringd *rd;
	struct ringd_cqe *cqe;
	unsigned int i, done = 0;
	uint64_t seen = 0;
	void *buf;
	int h, ret;

	start_notified(base_conf, 0);
	ret = rt_connect_flags(&g_d, 64, 128, 1u << 20, RINGD_OPT_NO_RECONNECT, &rd);
	cr_assert_eq(ret, 0);
	h = ringd_open(rd, "a", RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	buf = ringd_buf_alloc(rd, 65536, 4096);
	for (i = 0; i < 32; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		ringd_prep_write(sqe, h, buf, 65536, (uint64_t)i * 65536);
		ringd_sqe_set_data64(sqe, i);
	}
	cr_assert_eq(ringd_submit(rd), 32);
	/* Wait until the daemon has taken all 32 (SQEs it has not read when
	 * SIGTERM arrives are not in flight and are not served). */
	{
		struct ringd_stats st = { 0 };

		cr_assert(rt_wait_for(5000, ringd_stats(rd, &st) == 0 && st.submitted == 32),
			  "the daemon took %llu of 32 SQEs", (unsigned long long)st.submitted);
	}
	kill(g_d.pid, SIGTERM);
	/* Every accepted request completes (not dropped), then the session ends. */
	for (;;) {
		ret = ringd_wait_cqe_timeout(rd, &cqe, 5000);
		if (ret)
			break;
		cr_assert_eq(cqe->res, 65536, "write %llu: %d", (unsigned long long)cqe->user_data,
			     cqe->res);
		cr_assert_lt(cqe->user_data, 32);
		cr_assert_eq(seen & (1ull << cqe->user_data), 0, "tag %llu twice",
			     (unsigned long long)cqe->user_data);
		seen |= 1ull << cqe->user_data;
		done++;
		ringd_cqe_seen(rd, cqe);
	}
	cr_assert(ret == -EPIPE || ret == -ENOTCONN, "after drain: %s", strerror(-ret));
	cr_assert_eq(done, 32, "completions after SIGTERM: %u of 32 (missing tags %#llx, %u ready)",
		     done, (unsigned long long)~seen & 0xffffffffull, ringd_cq_ready(rd));
	cr_assert_eq(ringd_broken_reason(rd), RINGD_BROKEN_SHUTDOWN);
	ringd_disconnect(rd);
	stop_notified();
}

Test(notify, watchdog_pings_within_interval_under_load)
{
	const unsigned long long wd_usec = 1000000; /* 1 s */
	uint64_t start, last = 0, worst = 0;
	unsigned int i, pings = 0;
	struct ringd *rd;
	void *buf;
	int h, ret;

	start_notified(base_conf, wd_usec);
	ret = rt_connect(&g_d, 64, 128, 1u << 20, &rd);
	cr_assert_eq(ret, 0);
	h = ringd_open(rd, "a", RINGD_RDWR, NULL);
	buf = ringd_buf_alloc(rd, 4096, 4096);
	start = rt_now_ms();
	/* Keep the daemon busy for 3 s while collecting pings. */
	while (rt_now_ms() - start < 3000) {
		for (i = 0; i < 200; i++)
			cr_assert_eq(io_once(rd, h, i & 1, buf, 4096, (uint64_t)(i % 64) * 4096),
				     4096);
		rt_notify_pump(&g_n, 0);
	}
	rt_notify_pump(&g_n, 0);
	pthread_mutex_lock(&g_n.lock);
	for (i = 0; i < g_n.nev; i++) {
		if (!rt_notify_has(&g_n, i, "WATCHDOG=1") || g_n.ev[i].t_ms < start)
			continue;
		if (last && g_n.ev[i].t_ms - last > worst)
			worst = g_n.ev[i].t_ms - last;
		last = g_n.ev[i].t_ms;
		pings++;
	}
	pthread_mutex_unlock(&g_n.lock);
	cr_assert_geq(pings, 3, "only %u watchdog pings in 3 s under load", pings);
	cr_assert_lt(worst, wd_usec / 1000, "a watchdog gap of %llu ms exceeds WatchdogSec",
		     (unsigned long long)worst);
	ringd_disconnect(rd);
	stop_notified();
}

Test(reload, adds_volume_and_tenant_while_clients_run)
{
	struct ringd *rd;
	uint8_t *buf;
	int h, ret;

	start_notified(base_conf, 0);
	ret = rt_connect(&g_d, 0, 0, 0, &rd);
	cr_assert_eq(ret, 0);
	h = ringd_open(rd, "a", RINGD_RDWR, NULL);
	buf = ringd_buf_alloc(rd, 4096, 4096);
	rt_fill(buf, 4096, 7, 0);
	cr_assert_eq(io_once(rd, h, true, buf, 4096, 0), 4096);
	cr_assert_eq(ringd_open(rd, "b", RINGD_RDWR, NULL), -ENOENT);

	rewrite_conf("[volume a]\npath = a.img\ncreate_size = 16M\n\n"
		     "[volume c]\npath = c.img\ncreate_size = 16M\n\n"
		     "[volume b]\npath = b.img\ncreate_size = 16M\n\n"
		     "[tenant root]\nuid = 0\nvolumes = a:rw, b:rw, c:rw\n\n"
		     "[tenant alice]\nuid = 61001\nvolumes = b:ro\n");
	reload();
	/* The running session kept its handle and its data. */
	memset(buf, 0, 4096);
	cr_assert_eq(io_once(rd, h, false, buf, 4096, 0), 4096);
	cr_assert_eq(rt_check(buf, 4096, 7, 0), -1);
	/* The new volume is there for it, and the new tenant can connect. */
	ret = ringd_open(rd, "b", RINGD_RDWR, NULL);
	cr_assert_geq(ret, 0, "open new volume: %s", strerror(-ret));
	cr_assert_eq(io_once(rd, ret, true, buf, 4096, 4096), 4096);
	ringd_disconnect(rd);
	stop_notified();
}

static int alice_reads_b(void *arg)
{
	const struct rt_daemon *d = arg;
	struct ringd *rd;
	int h;

	if (rt_connect(d, 0, 0, 0, &rd))
		return 1;
	h = ringd_open(rd, "b", RINGD_RDONLY, NULL);
	ringd_disconnect(rd);
	return h >= 0 ? 0 : 2;
}

Test(reload, new_tenant_can_connect)
{
	pid_t pid;

	start_notified(base_conf, 0);
	rewrite_conf("[volume a]\npath = a.img\ncreate_size = 16M\n\n"
		     "[volume b]\npath = b.img\ncreate_size = 16M\n\n"
		     "[tenant root]\nuid = 0\nvolumes = a:rw\n\n"
		     "[tenant alice]\nuid = 61001\nvolumes = b:ro\n");
	pid = rt_fork_as(RT_UID_A, RT_UID_A, alice_reads_b, &g_d);
	cr_assert_eq(rt_wait_child(pid), 1, "alice must be refused before the reload");
	reload();
	pid = rt_fork_as(RT_UID_A, RT_UID_A, alice_reads_b, &g_d);
	cr_assert_eq(rt_wait_child(pid), 0, "alice must be served after the reload");
	stop_notified();
}

Test(reload, removed_volume_enodev_and_revoked_write_eacces)
{
	struct ringd *rd, *other;
	int ha, hc, ret;
	uint8_t *buf;

	start_notified(base_conf, 0);
	ret = rt_connect(&g_d, 0, 0, 0, &rd);
	cr_assert_eq(ret, 0);
	ha = ringd_open(rd, "a", RINGD_RDWR, NULL);
	hc = ringd_open(rd, "c", RINGD_RDWR, NULL);
	cr_assert_geq(ha, 0);
	cr_assert_geq(hc, 0);
	buf = ringd_buf_alloc(rd, 4096, 4096);
	cr_assert_eq(io_once(rd, hc, true, buf, 4096, 0), 4096);
	/* c removed, a demoted to read-only for this tenant. */
	rewrite_conf("[volume a]\npath = a.img\ncreate_size = 16M\n\n"
		     "[tenant root]\nuid = 0\nvolumes = a:ro\n");
	reload();
	cr_assert_eq(io_once(rd, hc, false, buf, 4096, 0), -ENODEV);
	cr_assert_eq(io_once(rd, ha, true, buf, 4096, 0), -EACCES);
	cr_assert_eq(io_once(rd, ha, false, buf, 4096, 0), 4096);
	cr_assert_eq(ringd_open(rd, "c", RINGD_RDONLY, NULL), -ENOENT);
	cr_assert_eq(ringd_open(rd, "a", RINGD_RDWR, NULL), -EACCES);
	/* The daemon still serves new sessions. */
	ret = rt_connect(&g_d, 0, 0, 0, &other);
	cr_assert_eq(ret, 0);
	cr_assert_geq(ringd_open(other, "a", RINGD_RDONLY, NULL), 0);
	ringd_disconnect(other);
	ringd_disconnect(rd);
	stop_notified();
}

Test(reload, invalid_config_keeps_the_old_one)
{
	struct ringd *rd;
	uint8_t *buf;
	int h, ret;

	start_notified(base_conf, 0);
	ret = rt_connect(&g_d, 0, 0, 0, &rd);
	cr_assert_eq(ret, 0);
	h = ringd_open(rd, "c", RINGD_RDWR, NULL);
	buf = ringd_buf_alloc(rd, 4096, 4096);
	rewrite_conf("[volume a]\npath = a.img\nbogus_key = 1\n");
	reload();
	/* Nothing changed: c is still there, writable. */
	cr_assert_eq(io_once(rd, h, true, buf, 4096, 0), 4096);
	cr_assert_geq(ringd_open(rd, "c", RINGD_RDWR, NULL), 0);
	ringd_disconnect(rd);
	stop_notified();
	(void)h;
}

Test(activation, socket_activation_serves_first_client)
{
	static const char *const argv_sa[] = {
		"/usr/bin/systemd-socket-activate",
		"--seqpacket",
		"-l",
		NULL,
		"--fdname=ringd.sock",
		NULL,
		NULL,
	};
	const char *argv[8];
	char sock_arg[128];
	struct ringd *rd;
	int ret, status, h;

	if (access(argv_sa[0], X_OK))
		cr_skip_test("systemd-socket-activate is not installed");
	ret = rt_daemon_prepare(&g_d, base_conf);
	cr_assert_eq(ret, 0);
	memcpy(argv, argv_sa, sizeof(argv_sa));
	snprintf(sock_arg, sizeof(sock_arg), "%s", g_d.sock);
	argv[3] = sock_arg;
	argv[5] = rt_ringd_bin();
	ret = rt_daemon_launch_with(&g_d, NULL, NULL, argv, false);
	cr_assert_eq(ret, 0);
	/* systemd-socket-activate binds at once; ringd starts on the first connection. */
	cr_assert(rt_wait_for(5000, access(g_d.sock, F_OK) == 0), "socket never appeared");
	ret = rt_connect(&g_d, 0, 0, 0, &rd);
	cr_assert_eq(ret, 0, "first client: %s", strerror(-ret));
	h = ringd_open(rd, "a", RINGD_RDWR, NULL);
	cr_assert_geq(h, 0);
	{
		uint8_t *buf = ringd_buf_alloc(rd, 4096, 4096);

		rt_fill(buf, 4096, 3, 0);
		cr_assert_eq(io_once(rd, h, true, buf, 4096, 0), 4096);
		memset(buf, 0, 4096);
		cr_assert_eq(io_once(rd, h, false, buf, 4096, 0), 4096);
		cr_assert_eq(rt_check(buf, 4096, 3, 0), -1);
	}
	ringd_disconnect(rd);
	/* It was served on the inherited socket, not one it bound itself. */
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "grep -q 'listening socket passed by systemd' %s",
			 g_d.log);
		status = system(cmd);
		cr_assert_eq(status, 0, "ringd did not use the activated socket");
	}
	status = rt_daemon_stop(&g_d);
	cr_assert_eq(status, 0);
}

/* Copy the built unit with ExecStart pointing at the built binary. */
static void stage_units(const char *dir)
{
	char in[512], out[512], line[1024];
	FILE *fi, *fo;

	snprintf(in, sizeof(in), "%s/ringd.service", RINGD_UNIT_DIR);
	snprintf(out, sizeof(out), "%s/ringd.service", dir);
	fi = fopen(in, "re");
	fo = fopen(out, "we");
	cr_assert(fi && fo);
	while (fgets(line, sizeof(line), fi)) {
		char *p = strstr(line, "/ringd ");

		if ((!strncmp(line, "ExecStart=", 10) || !strncmp(line, "ExecStartPre=", 13)) &&
		    p) {
			*strchr(line, '=') = '\0';
			fprintf(fo, "%s=%s %s", line, rt_ringd_bin(), p + 7);
		} else {
			fputs(line, fo);
		}
	}
	fclose(fi);
	fclose(fo);
	snprintf(line, sizeof(line), "cp %s/ringd.socket %s/", RINGD_UNIT_DIR, dir);
	cr_assert_eq(system(line), 0);
}

Test(units, systemd_analyze_verify_passes)
{
	char dir[] = "/var/tmp/ringd-units.XXXXXX", cmd[512], out[4096];
	size_t n;
	FILE *p;
	int status;

	if (access("/usr/bin/systemd-analyze", X_OK))
		cr_skip_test("systemd-analyze is not installed");
	cr_assert_not_null(mkdtemp(dir));
	stage_units(dir);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && systemd-analyze verify --man=no ./ringd.service ./ringd.socket 2>&1",
		 dir);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_assert_eq(status, 0, "systemd-analyze verify failed:\n%s", out);
	cr_assert_eq(n, 0, "systemd-analyze verify complained:\n%s", out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(units, security_exposure_at_most_2_5)
{
	char cmd[512], line[512];
	double exposure = 99;
	FILE *p;

	if (access("/usr/bin/systemd-analyze", X_OK))
		cr_skip_test("systemd-analyze is not installed");
	snprintf(cmd, sizeof(cmd), "systemd-analyze security --offline=true %s/ringd.service 2>&1",
		 RINGD_UNIT_DIR);
	p = popen(cmd, "r");
	while (fgets(line, sizeof(line), p)) {
		char *s = strstr(line, "Overall exposure level for ringd.service:");

		if (s)
			exposure =
			    strtod(s + strlen("Overall exposure level for ringd.service:"), NULL);
	}
	pclose(p);
	cr_assert_leq(exposure, 2.5, "exposure %.1f is above 2.5", exposure);
}

/* The value of @key= in the built ringd.service (0 if it is not there). */
static unsigned long unit_value(const char *key)
{
	char path[512], line[512];
	unsigned long v = 0;
	size_t n = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/ringd.service", RINGD_UNIT_DIR);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == '=')
			v = strtoul(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * Every fd the daemon stores (3 per session, one per open file of a
 * directory volume, its journal and pipes) is one it holds: a store
 * smaller than LimitNOFILE could fill up, and systemd drops what does not
 * fit, so a restart would lose the sessions of whichever tenant came last.
 */
Test(units, the_fd_store_holds_every_fd_the_daemon_may_have)
{
	unsigned long store = unit_value("FileDescriptorStoreMax");
	unsigned long nofile = unit_value("LimitNOFILE");

	cr_assert_gt(nofile, 0, "LimitNOFILE is not set");
	cr_assert_geq(store, nofile, "FileDescriptorStoreMax=%lu is below LimitNOFILE=%lu", store,
		      nofile);
}
