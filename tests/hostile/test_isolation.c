/* SPDX-License-Identifier: MIT */
/*
 * Isolation under floods and reloads (issue 9; HOSTILE.md H23, H26-H30).
 * Each test starts its own daemon, runs the timed victim (tenant "victim",
 * RT_UID_B: one verified 4 KiB write or read in flight, each timed from
 * submit to CQE), lets an attacker or the operator do something that used
 * to stall or corrupt the daemon, and then asserts only a generous
 * liveness bound: the victim's worst single I/O and every tenant control
 * call measured meanwhile take less than ISO_BOUND_MS, the victim saw no
 * error and read back what it wrote, and the daemon survived. Every test
 * prints the victim's worst latency; the figure to reach is far below
 * the bound.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"
#include "ringd.h"
#include "sdnotify.h"

#define ISO_BOUND_MS   1000 /* the liveness bound every test asserts */
#define ISO_FLOOD_MS   3000 /* how long each flood lasts */
#define ISO_UID_NOBODY 65534u
#define ISO_UID_SLOW   61004u /* tenant "slow" (slowloris test) */
#define ISO_UID_WRITER 61005u /* tenant "writer" (volume removal test) */
#define ISO_VICTIM_MAX 4u     /* the victim tenant's max_sessions (hs_config) */

static struct rt_daemon g_d;
static char g_tmpfs[160];    /* a tmpfs the test mounted in its directory, or "" */
static char g_fifo[128];     /* a FIFO a blocked reload may be waiting on */
static int g_notify_fd = -1; /* a notify socket nobody reads */

static const char *test_name(void)
{
	return criterion_current_test->name;
}

static void teardown(void)
{
	char cmd[300];

	/* Let a reload stuck on the FIFO (or a daemon stuck on a full
	 * notify socket) go, so that it can stop. */
	if (g_fifo[0]) {
		int fd = open(g_fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0)
			close(fd);
		g_fifo[0] = '\0';
	}
	if (g_notify_fd >= 0) {
		close(g_notify_fd);
		g_notify_fd = -1;
	}
	if (getenv("HS_KEEP_LOG") && g_d.dir[0]) {
		snprintf(cmd, sizeof(cmd), "cp %s %s", g_d.log, getenv("HS_KEEP_LOG"));
		(void)!system(cmd);
	}
	/* Detached first: the directory goes with the daemon's. */
	if (g_tmpfs[0]) {
		umount2(g_tmpfs, MNT_DETACH);
		g_tmpfs[0] = '\0';
	}
	/* Also when the daemon died: the directory goes. */
	if (g_d.dir[0])
		rt_daemon_stop(&g_d);
}

#define ITEST(name) Test(isolation, name, .fini = teardown, .timeout = 60)

/* Start the daemon on @conf and write the canaries. */
static void iso_start(const char *conf)
{
	rt_daemon_start(&g_d, conf);
	cn_write(&g_d);
}

/* Whether the daemon is still running (it stays waitable). */
static bool daemon_running(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)g_d.pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return si.si_pid == 0;
}

/* Fail the test if the daemon has exited (its log, with any sanitizer
 * report, is printed). */
static void daemon_alive(const char *when)
{
	int status;

	if (waitpid(g_d.pid, &status, WNOHANG) != g_d.pid)
		return;
	g_d.pid = -1;
	rt_print_log(&g_d);
	cr_assert_fail("ringd died %s (%s %d)", when, WIFEXITED(status) ? "exit status" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/*
 * A non-blocking SEQPACKET connection with effective uid @uid (0: as we
 * are), retried while the listen backlog is full, for up to @timeout_ms.
 * Returns the fd or -errno.
 */
static int iso_connect_as(uid_t uid, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t end = rt_now_ms() + (uint64_t)timeout_ms;
	int fd, ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_d.sock);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		/* SO_PEERCRED records the effective ids at connect() time. */
		if (uid && seteuid(uid) < 0) {
			ret = -errno;
			close(fd);
			return ret;
		}
		ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
		if (uid && seteuid(0) < 0)
			abort();
		if (!ret)
			return fd;
		close(fd);
		if (ret != -EAGAIN || rt_now_ms() >= end)
			return ret;
		usleep(1000);
	}
}

static int ms_left(uint64_t end)
{
	uint64_t now = rt_now_ms();

	return now >= end ? 0 : (int)(end - now);
}

/*
 * A tenant's control calls over a fresh connection, as uid @uid: Hello
 * (attach), then Stats. Returns how long both took in ms, or -errno
 * (-ETIME if they did not complete within @timeout_ms).
 */
static int probe_ms(uid_t uid, int timeout_ms)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;
	uint64_t t0 = rt_now_ms(), end = t0 + (uint64_t)timeout_ms;
	uint8_t pkt[64];
	size_t len = hc_pack_hello(pkt, 8, 16, 64 << 10, false);
	unsigned int nfds = 0;
	Ringd__Reply *r;
	int fds[2], fd, ret;

	fd = iso_connect_as(uid, timeout_ms);
	if (fd < 0)
		return fd == -EAGAIN ? -ETIME : fd;
	ret = hc_send_raw(fd, pkt, len, NULL, 0);
	if (!ret)
		ret = hc_recv_reply(fd, ms_left(end), &r, fds, 2, &nfds);
	while (nfds)
		close(fds[--nfds]);
	if (!ret) {
		ret = hc_reply_errno(r, RINGD__REPLY__MSG_ATTACHED);
		ringd__reply__free_unpacked(r, NULL);
	}
	if (!ret) {
		rq.msg_case = RINGD__REQUEST__MSG_STATS;
		rq.stats = &sr;
		ret = hc_send_req(fd, &rq);
	}
	if (!ret)
		ret = hc_recv_reply(fd, ms_left(end), &r, NULL, 0, NULL);
	if (!ret) {
		ret = hc_reply_errno(r, RINGD__REPLY__MSG_STATS);
		ringd__reply__free_unpacked(r, NULL);
	}
	close(fd);
	return ret ? ret : (int)(rt_now_ms() - t0);
}

/* probe_ms() that must succeed; returns the time. */
static int probe_ok(uid_t uid, const char *when)
{
	int ms = probe_ms(uid, 5000);

	cr_assert_geq(ms, 0, "%s: a tenant's Hello + Stats on a fresh connection failed: %s", when,
		      strerror(-ms));
	return ms;
}

/* Attach as uid @uid over iso_connect_as(). Returns 0 or -errno. */
static int attach_as(uid_t uid, uint32_t sq, uint32_t cq, uint64_t data, struct hc *c)
{
	int fd = iso_connect_as(uid, 5000);

	if (fd < 0) {
		memset(c, 0, sizeof(*c));
		c->sock = c->memfd = c->wake_fd = -1;
		return fd;
	}
	return hc_attach_fd(fd, sq, cq, data, c);
}

/* Whether uid @uid is admitted now: attach and detach at once. Returns 0
 * or the refusal (-errno). */
static int admitted(uid_t uid)
{
	struct hc c;
	int ret = attach_as(uid, 8, 16, 64 << 10, &c);

	if (!ret)
		hc_detach(&c);
	return ret;
}

/*
 * Stop the victim, print its worst latency and (if @ctl_worst >= 0) the
 * worst tenant control call measured during the attack, then assert both
 * against the liveness bound and that the victim saw no error.
 */
static void measured_done(struct victim *v, int ctl_worst)
{
	int status = vt_stop(v);

	fprintf(stderr, "isolation/%s: victim worst latency %.1f ms over %llu ops\n", test_name(),
		(double)v->worst_us / 1000.0, (unsigned long long)v->ops);
	if (ctl_worst >= 0)
		fprintf(stderr, "isolation/%s: tenant control call worst %d ms\n", test_name(),
			ctl_worst);
	cr_assert_eq(status, 0,
		     "the victim failed with status %d (an I/O error, a timeout or wrong data; "
		     "see its stderr); its worst latency was %.1f ms",
		     status, (double)v->worst_us / 1000.0);
	cr_assert_geq(v->rounds, 3, "the victim ran only %u rounds", v->rounds);
	cr_assert_lt(v->worst_us, ISO_BOUND_MS * 1000ull,
		     "one 4 KiB I/O of the victim took %.1f ms (bound %d ms)",
		     (double)v->worst_us / 1000.0, ISO_BOUND_MS);
	cr_assert_lt(ctl_worst, ISO_BOUND_MS,
		     "a tenant's Hello + Stats on a fresh connection took %d ms (bound %d ms)",
		     ctl_worst, ISO_BOUND_MS);
}

/* A copy of @conf without the section that starts with @header. */
static char *conf_without(const char *conf, const char *header)
{
	const char *a = strstr(conf, header), *b;
	char *out;

	cr_assert_not_null(a, "no %s in the config", header);
	b = strstr(a + 1, "\n[");
	b = b ? b + 1 : a + strlen(a);
	out = malloc(strlen(conf) + 1);
	cr_assert_not_null(out);
	memcpy(out, conf, (size_t)(a - conf));
	memcpy(out + (a - conf), b, strlen(b) + 1);
	return out;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	cr_assert_not_null(p);
	return p;
}

/* Rewrite the config to @conf and send SIGHUP. */
static void reload_to(const char *conf)
{
	int ret = rt_daemon_rewrite_conf(&g_d, conf);

	cr_assert_eq(ret, 0, "rewrite %s: %s", g_d.conf, strerror(-ret));
	cr_assert_eq(kill(g_d.pid, SIGHUP), 0);
}

/* ---------------------------------------------------------------- floods */

enum flood_kind {
	FLOOD_CONNECT_CLOSE, /* connect and close, as fast as possible */
	FLOOD_JUNK_FDS,	     /* connections sending junk with 32 fds per packet */
};

struct flood_ctl {
	volatile int stop;
	volatile uint64_t conns; /* connections made */
	volatile uint64_t sent;	 /* packets sent (FLOOD_JUNK_FDS) */
};

struct flood {
	pid_t pid;
	enum flood_kind kind;
	const char *sock;
	int pass_fd; /* the fd passed with every junk packet */
	uint64_t end_ms;
	struct flood_ctl *ctl; /* shared with the child */
};

#define FLOOD_WINDOW	 8  /* connections a junk flooder holds at a time */
#define FLOOD_PACKETS	 4  /* junk packets per connection */
#define FLOOD_FDS_PER_PK 32 /* fds per junk packet */

static int flood_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int flood_child(void *arg)
{
	struct flood *f = arg;
	int fds[FLOOD_FDS_PER_PK], socks[FLOOD_WINDOW];
	unsigned int i, k, n;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (i = 0; i < FLOOD_FDS_PER_PK; i++)
		fds[i] = f->pass_fd;
	while (!f->ctl->stop && rt_now_ms() < f->end_ms) {
		if (f->kind == FLOOD_CONNECT_CLOSE) {
			int fd = flood_connect(f->sock);

			if (fd < 0) {
				/* Backlog full: the daemon is behind. */
				sched_yield();
				continue;
			}
			f->ctl->conns++;
			close(fd);
			continue;
		}
		for (n = 0; n < FLOOD_WINDOW; n++) {
			socks[n] = flood_connect(f->sock);
			if (socks[n] < 0)
				break;
			f->ctl->conns++;
		}
		for (i = 0; i < n; i++)
			for (k = 0; k < FLOOD_PACKETS; k++)
				if (!hc_send_raw(socks[i], "\xff\xfe\x07junk\x00\x80", 9, fds,
						 FLOOD_FDS_PER_PK))
					f->ctl->sent++;
		for (i = 0; i < n; i++)
			close(socks[i]);
		if (!n)
			sched_yield();
	}
	return 0;
}

/* Fork a flooder running as @uid for at most @ms. */
static void flood_start(struct flood *f, uid_t uid, enum flood_kind kind, int pass_fd, int ms)
{
	f->ctl =
	    mmap(NULL, sizeof(*f->ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(f->ctl, MAP_FAILED);
	memset((void *)f->ctl, 0, sizeof(*f->ctl));
	f->kind = kind;
	f->sock = g_d.sock;
	f->pass_fd = pass_fd;
	f->end_ms = rt_now_ms() + (uint64_t)ms;
	f->pid = rt_fork_as(uid, uid, flood_child, f);
	cr_assert_gt(f->pid, 0);
}

/* Stop the flooder; returns the connections it made. */
static uint64_t flood_stop(struct flood *f, uint64_t *sent)
{
	uint64_t n;
	int status;

	f->ctl->stop = 1;
	status = rt_wait_child(f->pid);
	cr_assert_eq(status, 0, "flooder exited with %d", status);
	n = f->ctl->conns;
	if (sent)
		*sent = f->ctl->sent;
	munmap((void *)f->ctl, sizeof(*f->ctl));
	return n;
}

#define ISO_PROBE_MS 5000 /* how long a watch() probe waits */

/*
 * For @ms: every 250 ms, time a tenant control call as @uid on a fresh
 * connection, and check that the daemon is alive. Returns the worst time
 * (a call that failed or timed out counts as ISO_PROBE_MS).
 */
static int watch(int ms, uid_t uid)
{
	uint64_t end = rt_now_ms() + (uint64_t)ms;
	int worst = 0;

	while (rt_now_ms() < end) {
		int t = probe_ms(uid, ISO_PROBE_MS);

		if (t < 0) {
			fprintf(stderr, "isolation/%s: a tenant's Hello + Stats failed: %s\n",
				test_name(), strerror(-t));
			t = ISO_PROBE_MS;
		}
		if (t > worst)
			worst = t;
		daemon_alive("during the attack");
		usleep(250000);
	}
	return worst;
}

static const char *const refusal_needles[] = { "refused", NULL };

/* ---------------------------------------------------------------- H26 */

/*
 * Any local user connects and closes as fast as it can (defects 1, 2):
 * each refusal must cost the daemon O(1) work, so the victim and a
 * tenant's control calls keep their latency.
 */
ITEST(h26_nontenant_connect_close_flood)
{
	char last[512];
	struct victim v;
	struct flood f;
	uint64_t conns;
	int worst, lines;

	iso_start(hs_config("30s"));
	vt_start_timed(&g_d, &v);
	flood_start(&f, ISO_UID_NOBODY, FLOOD_CONNECT_CLOSE, -1, ISO_FLOOD_MS);
	worst = watch(ISO_FLOOD_MS, RT_UID_B);
	conns = flood_stop(&f, NULL);
	lines = rt_log_count(&g_d, refusal_needles, last, sizeof(last));
	fprintf(stderr,
		"isolation/%s: uid %u made %llu connections in %d ms; %d log lines "
		"mention refusals\n",
		test_name(), ISO_UID_NOBODY, (unsigned long long)conns, ISO_FLOOD_MS, lines);
	measured_done(&v, worst);
	cr_assert_geq(conns, 100, "the flood made only %llu connections",
		      (unsigned long long)conns);
	cr_assert_lt(lines, 100, "%d refusal log lines for %llu connections (last: %s)", lines,
		     (unsigned long long)conns, last);
	hs_finish(&g_d);
}

/*
 * A tenant at max_sessions keeps reconnecting (defects 1, 2): every
 * connection is refused (EDQUOT) at O(1) cost, and the refusals are
 * counted and logged rate-limited, not one line each.
 */
ITEST(h26_tenant_at_max_sessions_reconnect_flood)
{
	struct hc s[HS_HOSTILE_SESSIONS], extra;
	char last[512];
	struct victim v;
	struct flood f;
	uint64_t conns;
	int worst, lines, i, ret;

	iso_start(hs_config("30s"));
	vt_start_timed(&g_d, &v);
	for (i = 0; i < (int)HS_HOSTILE_SESSIONS; i++) {
		ret = attach_as(RT_UID_A, 8, 16, 64 << 10, &s[i]);
		cr_assert_eq(ret, 0, "hostile session %d: %s", i, strerror(-ret));
	}
	cr_assert_eq(attach_as(RT_UID_A, 8, 16, 64 << 10, &extra), -EDQUOT);
	flood_start(&f, RT_UID_A, FLOOD_CONNECT_CLOSE, -1, ISO_FLOOD_MS);
	worst = watch(ISO_FLOOD_MS, RT_UID_B);
	conns = flood_stop(&f, NULL);
	/* A summary of the last refusals may come a moment later. */
	usleep(1500000);
	lines = rt_log_count(&g_d, refusal_needles, last, sizeof(last));
	fprintf(stderr,
		"isolation/%s: tenant at max_sessions made %llu connections in %d ms; %d log "
		"lines mention refusals, the last: %s\n",
		test_name(), (unsigned long long)conns, ISO_FLOOD_MS, lines, last);
	measured_done(&v, worst);
	cr_assert_geq(conns, 100, "the flood made only %llu connections",
		      (unsigned long long)conns);
	cr_assert_geq(lines, 1, "the refusals were not logged at all");
	cr_assert_lt(lines, 100,
		     "%d refusal log lines for %llu refused connections: not rate-limited "
		     "(last: %s)",
		     lines, (unsigned long long)conns, last);
	for (i = 0; i < (int)HS_HOSTILE_SESSIONS; i++)
		hc_detach(&s[i]);
	hs_finish(&g_d);
}

/*
 * Two tenants open connection after connection, each sending junk packets
 * with 32 fds apiece (defect 1; H13): every connection is refused, every
 * passed fd closed, and the victim does not wait for any of it.
 */
ITEST(h26_garbage_packets_with_fd_floods)
{
	char path[160];
	struct victim v;
	struct flood fa, fb;
	uint64_t ca, cb, sa, sb;
	int fds0, target, worst;

	iso_start(hs_config("30s"));
	fds0 = hs_stable_fd_count(g_d.pid);
	vt_start_timed(&g_d, &v);
	snprintf(path, sizeof(path), "%s/iso-scm-target", g_d.dir);
	target = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(target, 0);
	flood_start(&fa, RT_UID_A, FLOOD_JUNK_FDS, target, ISO_FLOOD_MS);
	flood_start(&fb, HS_UID_FLOOD, FLOOD_JUNK_FDS, target, ISO_FLOOD_MS);
	worst = watch(ISO_FLOOD_MS, RT_UID_B);
	ca = flood_stop(&fa, &sa);
	cb = flood_stop(&fb, &sb);
	close(target);
	fprintf(stderr, "isolation/%s: %llu connections sent %llu junk packets with %u fds each\n",
		test_name(), (unsigned long long)(ca + cb), (unsigned long long)(sa + sb),
		FLOOD_FDS_PER_PK);
	measured_done(&v, worst);
	cr_assert_geq(sa + sb, 100, "the flood sent only %llu packets",
		      (unsigned long long)(sa + sb));
	cr_assert(rt_wait_for(10000, hs_count_fds_matching(g_d.pid, "iso-scm-target") == 0),
		  "the daemon still holds %d of the passed fds",
		  hs_count_fds_matching(g_d.pid, "iso-scm-target"));
	cr_assert(rt_wait_for(10000, hs_sessions_now(&g_d) == 0), "%u sessions left",
		  hs_sessions_now(&g_d));
	cr_assert(rt_wait_for(10000, rt_count_fds(g_d.pid) == fds0),
		  "daemon fds %d, %d before the flood and the victim", rt_count_fds(g_d.pid), fds0);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H27 */

#define ISO_HANDSHAKES	   16 /* [daemon] max_handshakes_per_uid in this test */
#define ISO_SLOW_EXTRA	   4  /* connections of "slow" beyond that */
#define ISO_SLOWLORIS	   200
#define ISO_REFUSE_FAST_MS 750 /* "at once"; the handshake timeout is 1 s */

/* Keys of the fix for H27: the handshake deadline and the per-uid cap. */
static const char slow_daemon_keys[] = "handshake_timeout = 1s\n"
				       "max_handshakes_per_uid = 16\n";
/* A tenant whose max_sessions is above the handshake cap. */
static const char slow_tenant[] = "[tenant slow]\n"
				  "uid = 61004\n"
				  "volumes = hostile:ro\n"
				  "max_sessions = 32\n";

struct pending {
	int fd;
	uint64_t t_open, t_end; /* t_end: EOF seen (0: not yet) */
	bool replied;		/* an Error (or any packet) came first */
};

/* Open a connection as @uid for @p; half_hello: send half a Hello. */
static void pending_open(struct pending *p, uid_t uid, bool half_hello)
{
	uint8_t pkt[64];
	size_t len = hc_pack_hello(pkt, 8, 16, 64 << 10, false);

	memset(p, 0, sizeof(*p));
	p->fd = iso_connect_as(uid, 5000);
	cr_assert_geq(p->fd, 0, "connect as uid %u: %s", (unsigned int)uid, strerror(-p->fd));
	p->t_open = rt_now_ms();
	if (half_hello)
		(void)hc_send_raw(p->fd, pkt, len / 2, NULL, 0);
}

/* Wait until every connection of @p has seen EOF, for up to @ms. */
static void pending_wait(struct pending *p, unsigned int n, int ms)
{
	uint64_t end = rt_now_ms() + (uint64_t)ms;
	struct pollfd *pf = calloc(n, sizeof(*pf));
	unsigned int i, open;

	cr_assert_not_null(pf);
	do {
		open = 0;
		for (i = 0; i < n; i++) {
			pf[i].fd = p[i].t_end ? -1 : p[i].fd;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
			open += !p[i].t_end;
		}
		if (!open || poll(pf, n, 20) < 0)
			break;
		for (i = 0; i < n; i++) {
			char buf[1024];
			ssize_t k;

			if (!pf[i].revents)
				continue;
			while ((k = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				p[i].replied = true;
			if (k == 0 || (k < 0 && errno != EAGAIN))
				p[i].t_end = rt_now_ms();
		}
	} while (rt_now_ms() < end);
	free(pf);
}

static void pending_close(struct pending *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(p[i].fd);
}

/*
 * Slowloris (H27): a non-tenant and two tenants open many connections and
 * never finish a Hello (or send half of one). A connection still in its
 * handshake after handshake_timeout is closed; beyond
 * max_handshakes_per_uid pending connections of one uid, more are refused
 * at once; the victim and a fresh tenant connection are served meanwhile.
 */
ITEST(h27_slowloris_handshakes_are_bounded)
{
	static struct pending slow[ISO_HANDSHAKES + ISO_SLOW_EXTRA], nobody[ISO_SLOWLORIS],
	    hostile[ISO_SLOWLORIS];
	uint64_t worst_slow = 0, worst_extra = 0, worst_other = 0, first_slow = UINT64_MAX;
	struct victim v;
	int worst, t;
	unsigned int i;

	iso_start(hs_config_extra("30s", slow_daemon_keys, slow_tenant));
	vt_start_timed(&g_d, &v);
	for (i = 0; i < ISO_HANDSHAKES + ISO_SLOW_EXTRA; i++)
		pending_open(&slow[i], ISO_UID_SLOW, false);
	/* Those beyond the cap: refused now, not at the handshake timeout. */
	pending_wait(slow + ISO_HANDSHAKES, ISO_SLOW_EXTRA, ISO_REFUSE_FAST_MS + 250);
	for (i = 0; i < ISO_SLOWLORIS; i++)
		pending_open(&nobody[i], ISO_UID_NOBODY, false);
	/* The hostile tenant: its first max_sessions connections are taken
	 * into the handshake; half of those send half a Hello. */
	for (i = 0; i < ISO_SLOWLORIS; i++)
		pending_open(&hostile[i], RT_UID_A, i < HS_HOSTILE_SESSIONS / 2);
	worst = probe_ok(RT_UID_B, "with 400 connections in their handshake");
	pending_wait(slow, ISO_HANDSHAKES + ISO_SLOW_EXTRA, 6000);
	pending_wait(nobody, ISO_SLOWLORIS, 6000);
	pending_wait(hostile, ISO_SLOWLORIS, 6000);
	t = probe_ok(RT_UID_B, "after the slowloris connections");
	worst = t > worst ? t : worst;
	daemon_alive("after the slowloris connections");

	for (i = 0; i < ISO_HANDSHAKES + ISO_SLOW_EXTRA; i++) {
		cr_assert_neq(slow[i].t_end, 0,
			      "connection %u of uid %u (no Hello) is still open after 6 s", i,
			      ISO_UID_SLOW);
		if (i < ISO_HANDSHAKES) {
			worst_slow = slow[i].t_end - slow[i].t_open > worst_slow
					 ? slow[i].t_end - slow[i].t_open
					 : worst_slow;
			if (slow[i].t_end - slow[i].t_open < first_slow)
				first_slow = slow[i].t_end - slow[i].t_open;
		} else if (slow[i].t_end - slow[i].t_open > worst_extra) {
			worst_extra = slow[i].t_end - slow[i].t_open;
		}
	}
	for (i = 0; i < ISO_SLOWLORIS; i++) {
		cr_assert_neq(nobody[i].t_end, 0, "connection %u of uid %u is still open after 6 s",
			      i, ISO_UID_NOBODY);
		cr_assert_neq(hostile[i].t_end, 0,
			      "connection %u of the hostile tenant is still open after 6 s", i);
		if (nobody[i].t_end - nobody[i].t_open > worst_other)
			worst_other = nobody[i].t_end - nobody[i].t_open;
		if (hostile[i].t_end - hostile[i].t_open > worst_other)
			worst_other = hostile[i].t_end - hostile[i].t_open;
	}
	fprintf(stderr,
		"isolation/%s: pending handshakes closed after %llu-%llu ms, the %u beyond the "
		"cap within %llu ms, the others within %llu ms\n",
		test_name(), (unsigned long long)first_slow, (unsigned long long)worst_slow,
		ISO_SLOW_EXTRA, (unsigned long long)worst_extra, (unsigned long long)worst_other);
	pending_close(slow, ISO_HANDSHAKES + ISO_SLOW_EXTRA);
	pending_close(nobody, ISO_SLOWLORIS);
	pending_close(hostile, ISO_SLOWLORIS);
	measured_done(&v, worst);
	cr_assert_lt(worst_slow, 5000, "a connection without Hello stayed open %llu ms",
		     (unsigned long long)worst_slow);
	cr_assert_lt(worst_other, 5000, "a slowloris connection stayed open %llu ms",
		     (unsigned long long)worst_other);
	cr_assert_lt(worst_extra, ISO_REFUSE_FAST_MS,
		     "a pending connection beyond max_handshakes_per_uid lasted %llu ms",
		     (unsigned long long)worst_extra);
	cr_assert_geq(first_slow, ISO_REFUSE_FAST_MS,
		      "a connection within max_handshakes_per_uid was closed after %llu ms, "
		      "before its handshake_timeout",
		      (unsigned long long)first_slow);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H28 */

#define ISO_EMFILE_HEADROOM 10 /* fds between the daemon's count and its new limit */
#define ISO_EMFILE_QUEUED   4  /* clients queued while the daemon is out of fds */
#define ISO_EMFILE_KNOCKERS 30 /* arrivals while out of fds, 20 ms apart */

/* Open fds of @pid numbered below @limit, or -errno. */
static int fds_below(pid_t pid, int limit, int *maxfd)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	if (maxfd)
		*maxfd = -1;
	while ((e = readdir(dir))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = (int)strtol(e->d_name, NULL, 10);
		if (maxfd && fd > *maxfd)
			*maxfd = fd;
		if (fd < limit)
			n++;
	}
	closedir(dir);
	return n;
}

/* How a log line about the fd limit may read. */
static const char *const emfile_needles[] = { "too many open files", "emfile",	 "nofile",
					      "file descriptor",     "fd limit", NULL };

/*
 * The daemon at RLIMIT_NOFILE (H28, defect 3): accept fails with EMFILE.
 * Clients that queue up meanwhile must be served once fds free up, with
 * nobody else connecting to wake the listener, and the condition is
 * logged once, not once per arrival.
 */
ITEST(h28_emfile_on_accept_serves_queued_clients)
{
	int holders[3 * ISO_EMFILE_HEADROOM], queued[ISO_EMFILE_QUEUED];
	struct rlimit lim, old;
	uint8_t pkt[64];
	size_t len = hc_pack_hello(pkt, 0, 0, 0, true);
	char last[512];
	int nholders = 0, maxfd, limit, early = 0, unanswered = 0, first_err = 0, lines, i, ret;
	uint64_t t_release, answered_ms = 0;
	struct victim v;

	iso_start(hs_config("30s"));
	vt_start_timed(&g_d, &v);
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == 1));
	hs_stable_fd_count(g_d.pid);
	cr_assert_geq(fds_below(g_d.pid, INT32_MAX, &maxfd), 0);
	limit = maxfd + 1 + ISO_EMFILE_HEADROOM;
	cr_assert_eq(prlimit(g_d.pid, RLIMIT_NOFILE, NULL, &old), 0);
	lim.rlim_cur = (rlim_t)limit;
	lim.rlim_max = old.rlim_max;
	cr_assert_eq(prlimit(g_d.pid, RLIMIT_NOFILE, &lim, NULL), 0, "prlimit: %s",
		     strerror(errno));

	/* Idle root connections until every fd below the limit is taken. */
	while (fds_below(g_d.pid, limit, NULL) < limit) {
		cr_assert_lt(nholders, 3 * ISO_EMFILE_HEADROOM,
			     "the daemon did not reach its fd limit %d (%d below it)", limit,
			     fds_below(g_d.pid, limit, NULL));
		holders[nholders] = iso_connect_as(0, 5000);
		cr_assert_geq(holders[nholders], 0);
		nholders++;
		rt_wait_for(200, fds_below(g_d.pid, limit, NULL) >= limit);
	}
	/* Arrivals while out of fds, each a wake-up of the listener. */
	for (i = 0; i < ISO_EMFILE_KNOCKERS; i++) {
		int fd = iso_connect_as(ISO_UID_NOBODY, 5000);

		cr_assert_geq(fd, 0);
		close(fd);
		usleep(20000);
	}
	for (i = 0; i < ISO_EMFILE_QUEUED; i++) {
		queued[i] = iso_connect_as(0, 5000);
		cr_assert_geq(queued[i], 0);
		cr_assert_eq(hc_send_raw(queued[i], pkt, len, NULL, 0), 0);
	}
	usleep(500000);
	for (i = 0; i < ISO_EMFILE_QUEUED; i++) {
		struct pollfd p = { .fd = queued[i], .events = POLLIN };

		early += poll(&p, 1, 0) > 0;
	}
	daemon_alive("at its fd limit");

	/* Fds free up; nobody new connects. */
	for (i = 0; i < nholders; i++)
		close(holders[i]);
	t_release = rt_now_ms();
	for (i = 0; i < ISO_EMFILE_QUEUED; i++) {
		Ringd__Reply *r = NULL;

		ret = hc_recv_reply(queued[i], ms_left(t_release + 5000), &r, NULL, 0, NULL);
		if (ret) {
			unanswered++;
			if (!first_err)
				first_err = ret;
		} else {
			answered_ms = rt_now_ms() - t_release;
			ringd__reply__free_unpacked(r, NULL);
		}
		close(queued[i]);
	}
	cr_assert_eq(prlimit(g_d.pid, RLIMIT_NOFILE, &old, NULL), 0);
	lines = rt_log_count(&g_d, emfile_needles, last, sizeof(last));
	fprintf(stderr,
		"isolation/%s: %d holders; %d of %d queued clients answered (%d of them before "
		"fds freed up, the last %llu ms after); %d log lines about the fd limit, the "
		"last: %s\n",
		test_name(), nholders, ISO_EMFILE_QUEUED - unanswered, ISO_EMFILE_QUEUED, early,
		(unsigned long long)answered_ms, lines, last);
	measured_done(&v, -1);
	cr_assert_eq(unanswered, 0,
		     "%d of %d queued clients got no reply within 5 s of fds freeing up (%s)",
		     unanswered, ISO_EMFILE_QUEUED, strerror(-first_err));
	cr_assert_geq(lines, 1, "running out of fds was not logged");
	cr_assert_lt(lines, 10, "%d log lines about running out of fds (last: %s)", lines, last);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H29 */

#define ISO_PIPELINE 32
#define ISO_BURSTS   10

/*
 * Pipelined control requests (H29, defect 4): a tenant sends 32 requests
 * back to back, then reads. Every one is answered, in order, without the
 * client sending anything more: Stats and a failing Open alternate, so
 * the order of the replies shows.
 */
ITEST(h29_pipelined_control_requests_are_all_answered)
{
	Ringd__Request stats = RINGD__REQUEST__INIT, open = RINGD__REQUEST__INIT;
	Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;
	Ringd__OpenVolume o = RINGD__OPEN_VOLUME__INIT;
	unsigned int burst, i, short_bursts = 0;
	struct victim v;
	struct hc c;
	int ret;

	iso_start(hs_config("30s"));
	vt_start_timed(&g_d, &v);
	ret = attach_as(RT_UID_A, 8, 16, 64 << 10, &c);
	cr_assert_eq(ret, 0, "attach: %s", strerror(-ret));
	stats.msg_case = RINGD__REQUEST__MSG_STATS;
	stats.stats = &sr;
	o.name = "no-such-volume";
	o.flags = RINGD_RDONLY;
	open.msg_case = RINGD__REQUEST__MSG_OPEN;
	open.open = &o;
	for (burst = 0; burst < ISO_BURSTS; burst++) {
		unsigned int got = 0;

		for (i = 0; i < ISO_PIPELINE; i++) {
			ret = hc_send_req(c.sock, i & 1 ? &open : &stats);
			cr_assert_eq(ret, 0, "burst %u: send request %u: %s", burst, i,
				     strerror(-ret));
		}
		for (i = 0; i < ISO_PIPELINE; i++) {
			Ringd__Reply *r;

			ret = hc_recv_reply(c.sock, 2000, &r, NULL, 0, NULL);
			if (ret)
				break;
			got++;
			if (i & 1)
				cr_assert(r->msg_case == RINGD__REPLY__MSG_ERROR &&
					      r->error->errno_code == ENOENT,
					  "burst %u: reply %u is not the Open's ENOENT", burst, i);
			else
				cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_STATS,
					     "burst %u: reply %u is not Stats", burst, i);
			ringd__reply__free_unpacked(r, NULL);
		}
		if (got < ISO_PIPELINE) {
			fprintf(stderr,
				"isolation/%s: burst %u: %u of %u replies, then %s after 2 s\n",
				test_name(), burst, got, ISO_PIPELINE, strerror(-ret));
			short_bursts++;
			/* The rest would only spill into the next burst. */
			break;
		}
	}
	hc_detach(&c);
	measured_done(&v, -1);
	cr_assert_eq(short_bursts, 0,
		     "a burst of %u pipelined requests was answered only in part (see above)",
		     ISO_PIPELINE);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H30 */

/* A volume to add and remove by reload (no tenant is granted it). */
static const char storm_volume[] = "[volume storm]\n"
				   "path = storm.img\n"
				   "create_size = 1M\n";

/*
 * A reload storm (H30): 50 SIGHUPs 20 ms apart, each config adding or
 * removing a volume. The daemon stays up, the victim keeps its latency,
 * and the last config is the one in force.
 */
ITEST(h30_reload_storm)
{
	char *plain, *with_storm;
	struct victim v;
	struct hc c;
	int worst = 0, t, i, ret;

	plain = xstrdup(hs_config("30s"));
	with_storm = xstrdup(hs_config_extra("30s", "", storm_volume));
	iso_start(plain);
	vt_start_timed(&g_d, &v);
	ret = attach_as(RT_UID_A, 8, 16, 64 << 10, &c);
	cr_assert_eq(ret, 0, "attach: %s", strerror(-ret));
	for (i = 0; i < 50; i++) {
		reload_to(i & 1 ? plain : with_storm);
		usleep(20000);
		if (i % 10 == 9) {
			daemon_alive("during the reload storm");
			t = probe_ok(RT_UID_B, "during the reload storm");
			worst = t > worst ? t : worst;
		}
	}
	/* The last word: with the volume (it exists, not granted: EACCES). */
	reload_to(with_storm);
	cr_assert(rt_wait_for(5000, hc_open(&c, "storm", RINGD_RDONLY) == -EACCES),
		  "the last config is not in force: open storm: %s",
		  strerror(-hc_open(&c, "storm", RINGD_RDONLY)));
	daemon_alive("after the reload storm");
	hc_detach(&c);
	measured_done(&v, worst);
	free(plain);
	free(with_storm);
	hs_finish(&g_d);
}

#define ISO_RM_ROUNDS	20
#define ISO_RM_SESSIONS 4
#define ISO_RM_IOS	16
#define ISO_VICTIM_HELD 2 /* victim-tenant sessions the test holds */

/* Attach up to @max sessions as @uid into @s, stopping at the first
 * refusal (in @refused, else 0). Returns how many were admitted. */
static unsigned int admit_until_refused(uid_t uid, struct hc *s, unsigned int max, int *refused)
{
	unsigned int n;

	*refused = 0;
	for (n = 0; n < max; n++) {
		int ret = attach_as(uid, 8, 16, 64 << 10, &s[n]);

		if (ret) {
			*refused = ret;
			break;
		}
	}
	return n;
}

/* The victim tenant, with @held sessions of it open, admits exactly the
 * rest of its max_sessions, then refuses with EDQUOT. */
static void check_victim_quota(unsigned int held, const char *when)
{
	struct hc extra[ISO_VICTIM_MAX + 1];
	unsigned int n, i;
	int refused;

	/* One more than the quota leaves, so that going past it shows. */
	n = admit_until_refused(RT_UID_B, extra, ISO_VICTIM_MAX - held + 1, &refused);
	for (i = 0; i < n; i++)
		hc_detach(&extra[i]);
	cr_assert_eq(n, ISO_VICTIM_MAX - held,
		     "%s: the victim tenant (max_sessions %u, %u open) was admitted %u more "
		     "sessions",
		     when, ISO_VICTIM_MAX, held, n);
	cr_assert_eq(refused, -EDQUOT, "%s: the next victim session got %s, not EDQUOT", when,
		     strerror(-refused));
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == held), "%s: %u sessions, expected %u",
		  when, hs_sessions_now(&g_d), held);
}

/* Attach @n sessions as @uid, each with @ios 4 KiB I/Os on "hostile" in
 * flight (writes if @rw, reads otherwise). */
static void busy_sessions(uid_t uid, bool rw, struct hc *s, unsigned int n, unsigned int ios)
{
	unsigned int i, k;

	for (i = 0; i < n; i++) {
		int ret = attach_as(uid, 32, 64, 256 << 10, &s[i]), h;

		cr_assert_eq(ret, 0, "uid %u session %u: %s", (unsigned int)uid, i, strerror(-ret));
		h = hc_open(&s[i], "hostile", rw ? RINGD_RDWR : RINGD_RDONLY);
		cr_assert_geq(h, 0, "open hostile: %s", strerror(-h));
		for (k = 0; k < ios; k++)
			hc_prep_rw(hc_sqe(&s[i]), rw ? RINGD_OP_WRITE : RINGD_OP_READ, h,
				   (uint64_t)(i * ios + k) * 4096, (uint64_t)k * 4096, 4096, k);
		hc_submit(&s[i]);
	}
}

/*
 * A reload removes a tenant while its sessions close with I/O in flight
 * (H30, defect 5): no stale tenant index may be used. Even rounds remove
 * the last tenant ("flood": a stale index is out of bounds; ASan reports
 * it), odd rounds the first ("hostile": its stale index is now the
 * victim tenant's, whose session count must not drop). Each round then
 * puts the tenant back. The daemon stays up, and the victim tenant is
 * admitted exactly up to its max_sessions.
 */
ITEST(h30_tenant_removal_races_session_close)
{
	struct hc held[ISO_VICTIM_HELD], s[ISO_RM_SESSIONS];
	char *full, *no_hostile, *no_flood;
	struct victim v;
	unsigned int r, i;
	int worst = 0, t, ret;
	uint32_t n;

	full = xstrdup(hs_config("30s"));
	no_hostile = conf_without(full, "[tenant hostile]");
	no_flood = conf_without(full, "[tenant flood]");
	iso_start(full);
	vt_start_timed(&g_d, &v);
	for (i = 0; i < ISO_VICTIM_HELD; i++) {
		ret = attach_as(RT_UID_B, 8, 16, 64 << 10, &held[i]);
		cr_assert_eq(ret, 0, "victim-tenant session %u: %s", i, strerror(-ret));
	}
	for (r = 0; r < ISO_RM_ROUNDS; r++) {
		bool flood = r % 2 == 0;
		uid_t uid = flood ? HS_UID_FLOOD : RT_UID_A;
		char when[64];

		snprintf(when, sizeof(when), "round %u (tenant %s removed)", r,
			 flood ? "flood" : "hostile");
		busy_sessions(uid, !flood, s, ISO_RM_SESSIONS, ISO_RM_IOS);
		/* Close some before the reload and some right after it. */
		for (i = 0; i < ISO_RM_SESSIONS / 2; i++)
			hc_detach(&s[i]);
		reload_to(flood ? no_flood : no_hostile);
		for (; i < ISO_RM_SESSIONS; i++)
			hc_detach(&s[i]);
		ret = 0;
		rt_wait_for(5000, !daemon_running() || (ret = admitted(uid)) == -EACCES);
		daemon_alive(when);
		cr_assert_eq(ret, -EACCES, "%s: uid %u is still admitted (%s)", when,
			     (unsigned int)uid, strerror(-ret));
		/* Counted once: each count is an admin connection, itself counted
		 * by the next one until the daemon has closed it. */
		n = UINT32_MAX;
		rt_wait_for(5000, !daemon_running() ||
				      (n = hs_sessions_now(&g_d)) == 1 + ISO_VICTIM_HELD);
		daemon_alive(when);
		cr_assert_eq(n, 1 + ISO_VICTIM_HELD, "%s: %u sessions", when, n);
		check_victim_quota(1 + ISO_VICTIM_HELD, when);

		reload_to(full);
		ret = 0;
		rt_wait_for(5000, !daemon_running() || (ret = admitted(uid)) == 0);
		daemon_alive(when);
		cr_assert_eq(ret, 0, "%s: uid %u is not admitted again (%s)", when,
			     (unsigned int)uid, strerror(-ret));
		if (r % 5 == 4) {
			t = probe_ok(RT_UID_B, when);
			worst = t > worst ? t : worst;
		}
	}
	measured_done(&v, worst);
	cr_assert(rt_wait_for(5000, hs_sessions_now(&g_d) == ISO_VICTIM_HELD));
	check_victim_quota(ISO_VICTIM_HELD, "after the removals");
	for (i = 0; i < ISO_VICTIM_HELD; i++)
		hc_detach(&held[i]);
	free(full);
	free(no_hostile);
	free(no_flood);
	hs_finish(&g_d);
}

#define ISO_VR_ROUNDS 10
#define ISO_VR_WRITES 128

/* A volume the reload removes, and a tenant with a deep queue on it. */
static const char doomed_with[] = "[volume doomed]\n"
				  "path = doomed.img\n"
				  "create_size = 1M\n"
				  "\n"
				  "[tenant writer]\n"
				  "uid = 61005\n"
				  "volumes = doomed:rw, hostile:ro\n"
				  "max_sessions = 2\n"
				  "max_inflight = 256\n"
				  "max_tenant_inflight = 1024\n"
				  "max_session_memory = 4M\n";
static const char doomed_without[] = "[tenant writer]\n"
				     "uid = 61005\n"
				     "volumes = hostile:ro\n"
				     "max_sessions = 2\n"
				     "max_inflight = 256\n"
				     "max_tenant_inflight = 1024\n"
				     "max_session_memory = 4M\n";

/*
 * A reload removes a volume while writes to it are queued (H30, defect
 * 6): a write the daemon accepted completes in full, one it had not
 * issued yet completes -ENODEV; none may complete with the kernel's
 * -EBADF of an emptied fixed-file slot.
 */
ITEST(h30_volume_removal_races_queued_writes)
{
	unsigned int r, i, nfull = 0, nnodev = 0;
	struct ringd_cqe cqes[ISO_VR_WRITES];
	char *with, *without;
	struct victim v;

	with = xstrdup(hs_config_extra("30s", "", doomed_with));
	without = xstrdup(hs_config_extra("30s", "", doomed_without));
	iso_start(with);
	vt_start_timed(&g_d, &v);
	for (r = 0; r < ISO_VR_ROUNDS; r++) {
		unsigned int full = 0, nodev = 0, got;
		int h, ret, other = 0;
		struct hc c;

		ret = attach_as(ISO_UID_WRITER, 256, 256, 1 << 20, &c);
		cr_assert_eq(ret, 0, "round %u: attach: %s", r, strerror(-ret));
		/* The volume is back from the previous round's reload. */
		cr_assert(rt_wait_for(5000, (h = hc_open(&c, "doomed", RINGD_RDWR)) >= 0),
			  "round %u: open doomed: %s", r, strerror(-h));
		ret = rt_daemon_rewrite_conf(&g_d, without);
		cr_assert_eq(ret, 0);
		for (i = 0; i < ISO_VR_WRITES; i++) {
			memset(c.data + i * 4096, (int)(r + i), 4096);
			hc_prep_rw(hc_sqe(&c), RINGD_OP_WRITE, h, (uint64_t)i * 4096,
				   (uint64_t)i * 4096, 4096, i);
		}
		/* Submit, and reload at once: some writes are accepted and not
		 * yet issued to the kernel when the reload runs. */
		hc_submit(&c);
		cr_assert_eq(kill(g_d.pid, SIGHUP), 0);
		got = hc_reap(&c, cqes, ISO_VR_WRITES, 10000);
		cr_assert_eq(got, ISO_VR_WRITES, "round %u: %u of %u completions", r, got,
			     ISO_VR_WRITES);
		for (i = 0; i < got; i++) {
			if (cqes[i].res == 4096)
				full++;
			else if (cqes[i].res == -ENODEV)
				nodev++;
			else if (!other)
				other = cqes[i].res;
		}
		cr_assert_eq(full + nodev, ISO_VR_WRITES,
			     "round %u: %u writes completed in full, %u -ENODEV, %u otherwise "
			     "(e.g. %d: %s)",
			     r, full, nodev, ISO_VR_WRITES - full - nodev, other, strerror(-other));
		nfull += full;
		nnodev += nodev;
		hc_detach(&c);
		daemon_alive("after a volume removal");
		reload_to(with);
	}
	fprintf(stderr, "isolation/%s: %u writes completed in full, %u with -ENODEV\n", test_name(),
		nfull, nnodev);
	measured_done(&v, -1);
	free(with);
	free(without);
	hs_finish(&g_d);
}

#define ISO_STUCK_MS 3000

/* A new volume, then one whose open() blocks: a FIFO with no writer. */
static const char fifo_volumes[] = "[volume newvol]\n"
				   "path = newvol.img\n"
				   "create_size = 1M\n"
				   "\n"
				   "[volume slowfifo]\n"
				   "path = slow.fifo\n"
				   "readonly = yes\n";
static const char newvol_only[] = "[volume newvol]\n"
				  "path = newvol.img\n"
				  "create_size = 1M\n";

/*
 * A reload that blocks (H30, defect 7): opening a new volume takes
 * seconds (here a FIFO, whose open(O_RDONLY) waits for a writer; NVMe
 * probing can take as long). The event loop must not wait for it: the
 * victim and a fresh connection are served meanwhile. Once the open
 * returns, the reload fails (not a file or block device) and the
 * running config stays in force; a later reload works.
 */
ITEST(h30_blocked_reload_does_not_stall_the_loop)
{
	uint64_t end;
	struct victim v;
	struct hc c;
	bool blocked;
	int worst = 0, t, wfd, ret;

	iso_start(hs_config("30s"));
	snprintf(g_fifo, sizeof(g_fifo), "%s/state/slow.fifo", g_d.dir);
	cr_assert_eq(mkfifo(g_fifo, 0600), 0, "mkfifo: %s", strerror(errno));
	vt_start_timed(&g_d, &v);
	ret = attach_as(RT_UID_A, 8, 16, 64 << 10, &c);
	cr_assert_eq(ret, 0, "attach: %s", strerror(-ret));

	reload_to(hs_config_extra("30s", "", fifo_volumes));
	end = rt_now_ms() + ISO_STUCK_MS;
	while (rt_now_ms() < end) {
		usleep(250000);
		t = probe_ms(RT_UID_B, 1500);
		fprintf(stderr, "isolation/%s: control call during the reload: %d%s\n", test_name(),
			t, t < 0 ? " (error)" : " ms");
		worst = t < 0 ? 1500 : t > worst ? t : worst;
		daemon_alive("during a blocked reload");
	}
	/* A writer lets the reload's open() return; a reader must be
	 * waiting for O_NONBLOCK to succeed. */
	wfd = open(g_fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	blocked = wfd >= 0;
	cr_assert(blocked || errno == ENXIO, "open the FIFO for writing: %s", strerror(errno));
	if (!blocked)
		cr_log_warn("the reload never opened the FIFO: defect 7 was not exercised");
	cr_assert(rt_wait_for(5000, hs_count_fds_matching(g_d.pid, "slow.fifo") == 0),
		  "the daemon keeps the FIFO open");
	/* The reload failed: the running config stays (no "newvol"). */
	usleep(500000);
	ret = hc_open(&c, "newvol", RINGD_RDONLY);
	cr_assert_eq(ret, -ENOENT, "a failed reload took effect: open newvol: %s", strerror(-ret));
	if (wfd >= 0)
		close(wfd);
	/* And the next reload is not refused as "still reloading". */
	reload_to(hs_config_extra("30s", "", newvol_only));
	cr_assert(rt_wait_for(5000, hc_open(&c, "newvol", RINGD_RDONLY) == -EACCES),
		  "a reload after the failed one did not take effect: open newvol: %s",
		  strerror(-hc_open(&c, "newvol", RINGD_RDONLY)));
	g_fifo[0] = '\0';
	hc_detach(&c);
	daemon_alive("after a blocked reload");
	fprintf(stderr, "isolation/%s: the reload %s in open() for %d ms\n", test_name(),
		blocked ? "was blocked" : "never blocked", ISO_STUCK_MS);
	measured_done(&v, worst);
	hs_finish(&g_d);
}

/* ---------------------------------------------------------------- H23 */

#define ISO_NOTIFY_CYCLES 50

/* Launch the prepared daemon with @setup(@arg) in its child, write the
 * canaries and start the timed victim. */
static void iso_launch_with(void (*setup)(void *), void *arg, struct victim *v)
{
	int ret = rt_daemon_launch_with(&g_d, setup, arg, NULL, true);

	cr_assert_eq(ret, 0, "ringd did not start: %s", strerror(-ret));
	cn_write(&g_d);
	vt_start_timed(&g_d, v);
}

/*
 * Attach and detach as @uid (probe_ms) @n times, or until @end_ms if @n is
 * 0; each must succeed within 2 s (@why says what would block the daemon).
 * Returns the worst in ms; *@cycles is how many there were.
 */
static int probe_cycles(uid_t uid, int n, uint64_t end_ms, const char *why, int *cycles)
{
	int t, worst = 0;

	for (*cycles = 0; n ? *cycles < n : rt_now_ms() < end_ms; (*cycles)++) {
		t = probe_ms(uid, 2000);
		cr_assert_geq(t, 0, "attach/detach cycle %d: %s (the daemon blocks in %s?)",
			      *cycles, strerror(-t), why);
		worst = t > worst ? t : worst;
	}
	return worst;
}

static void notify_env(void *arg)
{
	setenv("NOTIFY_SOCKET", arg, 1);
}

/*
 * A notify socket whose queue is full (H23, defect 9): the daemon sends
 * fd-store datagrams on every attach and detach; the service manager
 * reading them may be slow. The daemon must never block there: attaches
 * keep being answered and the victim served.
 */
ITEST(h23_full_notify_socket_does_not_block)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512], qlen_s[32] = "";
	int worst = 0, t, i, ret, queued = 0, qlen = 0;
	struct victim v;
	FILE *f;

	ret = rt_daemon_prepare(&g_d, hs_config("30s"));
	cr_assert_eq(ret, 0, "prepare: %s", strerror(-ret));
	g_notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(g_notify_fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify.sock", g_d.dir);
	cr_assert_eq(bind(g_notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s",
		     strerror(errno));
	iso_launch_with(notify_env, sa.sun_path, &v);
	worst = probe_cycles(HS_UID_FLOOD, ISO_NOTIFY_CYCLES, 0, "sd_notify", &i);
	daemon_alive("with a full notify socket");
	t = probe_ok(RT_UID_B, "with a full notify socket");
	worst = t > worst ? t : worst;
	measured_done(&v, worst);

	/* Was the queue full at all? */
	f = fopen("/proc/sys/net/unix/max_dgram_qlen", "re");
	if (f) {
		if (fgets(qlen_s, sizeof(qlen_s), f))
			qlen = (int)strtol(qlen_s, NULL, 10);
		fclose(f);
	}
	while (recv(g_notify_fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		queued++;
	fprintf(stderr, "isolation/%s: %d datagrams were queued (max_dgram_qlen %d)\n", test_name(),
		queued, qlen);
	if (queued < qlen)
		cr_log_warn("the notify queue never filled: defect 9 was not exercised");
	close(g_notify_fd);
	g_notify_fd = -1;
	hs_finish(&g_d);
}

/*
 * Start the daemon on @conf, whose victim volume lies in @DIR@/fast: a
 * tmpfs of its own, so that the victim never waits for the attacker's
 * filesystem (its journal commits), ringd or not.
 */
static void launch_with_fast_victim(const char *conf)
{
	int ret = rt_daemon_prepare(&g_d, conf);

	cr_assert_eq(ret, 0, "prepare: %s", strerror(-ret));
	snprintf(g_tmpfs, sizeof(g_tmpfs), "%s/fast", g_d.dir);
	cr_assert_eq(mkdir(g_tmpfs, 0755), 0);
	if (mount("tmpfs", g_tmpfs, "tmpfs", 0, "size=16m,mode=0755")) {
		g_tmpfs[0] = '\0';
		cr_skip_test("cannot mount a tmpfs for the victim: %s", strerror(errno));
	}
	ret = rt_daemon_launch(&g_d);
	cr_assert_eq(ret, 0, "ringd did not start: %s", strerror(-ret));
}

#define ISO_UID_HOG	 61006u
#define ISO_HOG_SESSIONS 8u   /* x 256 SQEs: the daemon's whole request pool */
#define ISO_HOG_DIRTY_MB 512u /* dirtied before each round, so that its flushes are slow */
#define ISO_HOG_ROUNDS	 3u

/* The victim's volume on a tmpfs of its own: the hog's flushes commit
 * the journal of the filesystem under hog.img, and a victim writing to
 * that filesystem waits for them there (20-85 ms here), ringd or not. */
static const char hog_conf[] = "[volume victim]\n"
			       "path = @DIR@/fast/victim.img\n"
			       "create_size = 2M\n"
			       "\n"
			       "[volume hogvol]\n"
			       "path = hog.img\n"
			       "create_size = 512M\n"
			       "\n"
			       "[tenant victim]\n"
			       "uid = 61002\n"
			       "volumes = victim:rw\n"
			       "\n"
			       "[tenant hog]\n"
			       "uid = 61006\n"
			       "volumes = hogvol:rw\n"
			       "max_sessions = 8\n"
			       "max_inflight = 256\n"
			       "max_tenant_inflight = 4096\n"
			       "max_session_memory = 1M\n";

/* Dirty @mb MiB of @path's page cache (as root, beside the daemon). */
static void dirty(const char *path, unsigned int mb)
{
	static char buf[1 << 20];
	unsigned int i;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	for (i = 0; i < mb; i++) {
		memset(buf, (int)(i + 1), sizeof(buf));
		cr_assert_eq(pwrite(fd, buf, sizeof(buf), (off_t)i << 20), (ssize_t)sizeof(buf));
	}
	close(fd);
}

/*
 * The request pool is the daemon's, shared by every tenant (H43). A tenant
 * whose max_tenant_inflight reaches it (4096 here; two tenants at the
 * default 1024 do the same) fills it with chains: each of its sessions
 * links a flush of hundreds of dirty MiB with 255 NOPs held behind it, so
 * every slot stays taken for as long as the flush runs. Another tenant's
 * 4 KiB reads and writes waited for a free slot, that is for the flush.
 * Now each tenant with a session is guaranteed its share of the pool: the
 * hog's chains past its share wait in its SQs, and the victim's I/O must
 * not stand behind them.
 */
ITEST(h43_a_tenant_filling_the_request_pool_does_not_starve_another)
{
	struct hc hog[ISO_HOG_SESSIONS];
	struct ringd_cqe cqe[256];
	uint64_t t0, hold_us, least_us = UINT64_MAX;
	char path[300];
	struct victim v;
	unsigned int r, i, k, n;
	int h[ISO_HOG_SESSIONS], ret;

	launch_with_fast_victim(hog_conf);
	snprintf(path, sizeof(path), "%s/state/hog.img", g_d.dir);
	for (i = 0; i < ISO_HOG_SESSIONS; i++) {
		ret = attach_as(ISO_UID_HOG, 256, 256, 64 << 10, &hog[i]);
		cr_assert_eq(ret, 0, "hog session %u: %s", i, strerror(-ret));
		cr_assert_eq(hog[i].sq_entries, 256u);
		h[i] = hc_open(&hog[i], "hogvol", RINGD_RDWR);
		cr_assert_geq(h[i], 0, "open hogvol: %s", strerror(-h[i]));
	}
	vt_start_timed(&g_d, &v);
	for (r = 0; r < ISO_HOG_ROUNDS; r++) {
		dirty(path, ISO_HOG_DIRTY_MB);
		t0 = rt_now_us();
		for (i = 0; i < ISO_HOG_SESSIONS; i++) {
			for (k = 0; k < 256; k++) {
				struct ringd_sqe *q = hc_sqe(&hog[i]);

				if (k == 0)
					hc_prep_rw(q, RINGD_OP_FSYNC, h[i], 0, 0, 0, k);
				else
					q->user_data = k; /* a NOP */
				if (k < 255)
					q->flags = RINGD_SQE_LINK;
			}
			hc_submit(&hog[i]);
		}
		for (i = 0; i < ISO_HOG_SESSIONS; i++) {
			n = hc_reap(&hog[i], cqe, 256, 30000);
			cr_assert_eq(n, 256u, "round %u, hog session %u: %u of 256 CQEs", r, i, n);
			for (k = 0; k < n; k++)
				cr_assert_eq(cqe[k].res, 0,
					     "round %u, hog session %u, SQE %llu: %d", r, i,
					     (unsigned long long)cqe[k].user_data, cqe[k].res);
		}
		hold_us = rt_now_us() - t0;
		least_us = hold_us < least_us ? hold_us : least_us;
		fprintf(stderr, "isolation/%s: round %u: the hog's chains took %.1f ms\n",
			test_name(), r, (double)hold_us / 1000.0);
	}
	daemon_alive("after the hog's chains");
	for (i = 0; i < ISO_HOG_SESSIONS; i++)
		hc_detach(&hog[i]);
	measured_done(&v, -1);
	rt_assert_not_behind(v.worst_us, least_us, 40000, "one 4 KiB I/O of the victim",
			     "the hog's chains holding the pool");
}

#define ISO_LOG_SECONDS 2

static void stderr_to(void *arg)
{
	dup2(*(int *)arg, STDERR_FILENO);
}

/*
 * The daemon's log is a stream someone else reads (the journal, a pipe
 * into a logger, a terminal), and that reader may stall. Every attach is
 * a line at info level, so any tenant could fill the stream in a few
 * hundred attaches, and the daemon then blocked in write(2), every tenant
 * with it (H47). Here stderr is a pipe of one page nobody reads: attaches
 * and the victim's I/O must go on, and the daemon must stop cleanly.
 */
ITEST(h47_a_log_reader_that_never_reads_does_not_stall_the_daemon)
{
	int p[2], ret, worst, cycles;
	struct victim v;

	ret = rt_daemon_prepare(&g_d, hs_config("30s"));
	cr_assert_eq(ret, 0, "prepare: %s", strerror(-ret));
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	/* One page: the first 100 attaches' lines (the most logged one by one
	 * per 10 s, H48) are more than it holds. */
	cr_assert_eq(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	iso_launch_with(stderr_to, &p[1], &v);
	close(p[1]);
	worst = probe_cycles(HS_UID_FLOOD, 0, rt_now_ms() + ISO_LOG_SECONDS * 1000,
			     "its log's full pipe", &cycles);
	fprintf(stderr,
		"isolation/%s: %d attaches, the first 100 a log line each, into a pipe of "
		"%d bytes\n",
		test_name(), cycles, fcntl(p[0], F_GETPIPE_SZ));
	cr_assert_geq(cycles, 100, "too few attaches to fill the pipe");
	daemon_alive("with its log's pipe full");
	measured_done(&v, worst);
	hs_finish(&g_d);
	close(p[0]);
}

/*
 * A tenant attaching in a loop (H48): every attach was a log line, about
 * 6,000 a second here, and a journal's rate limit then drops every line
 * of the daemon's, other tenants' too. At most 100 attaches are logged one
 * by one per 10 s; the rest are summed up in one line per window.
 */
ITEST(h48_a_tenant_attaching_in_a_loop_writes_few_log_lines)
{
	static const char *const needles[] = { "tenant flood:", NULL };
	int t, cycles = 0, lines;
	uint64_t end;

	iso_start(hs_config("30s"));
	end = rt_now_ms() + 2000;
	while (rt_now_ms() < end) {
		t = probe_ms(HS_UID_FLOOD, 2000);
		cr_assert_geq(t, 0, "attach %d: %s", cycles, strerror(-t));
		cycles++;
	}
	lines = rt_log_count(&g_d, needles, NULL, 0);
	fprintf(stderr, "isolation/%s: %d attaches, %d of them logged\n", test_name(), cycles,
		lines);
	cr_assert_gt(cycles, 200, "only %d attaches: too few to tell", cycles);
	cr_assert_leq(lines, 100, "%d attaches logged one by one in 2 s", lines);
	hs_finish(&g_d);
}

#define ISO_UID_READER	    61007u
#define ISO_READER_SESSIONS 16u
#define ISO_READER_QD	    32u	       /* reads in flight per session */
#define ISO_READER_IO	    (4u << 20) /* each read (the daemon's max_io_size) */
#define ISO_READER_MB	    128u       /* the page-cached file they read */

/* A daemon of @max_io bytes a request, a victim on its own tmpfs, and a
 * 128 MiB volume "big" the tenant "reader" (uid 61007) may read. */
#define READER_CONF(max_io)                                                                        \
	"[daemon]\n"                                                                               \
	"socket = @DIR@/ringd.sock\n"                                                              \
	"state_dir = @DIR@/state\n"                                                                \
	"max_io_size = " max_io "\n"                                                               \
	"\n"                                                                                       \
	"[volume victim]\n"                                                                        \
	"path = @DIR@/fast/victim.img\n"                                                           \
	"create_size = 2M\n"                                                                       \
	"\n"                                                                                       \
	"[volume big]\n"                                                                           \
	"path = big.img\n"                                                                         \
	"create_size = 128M\n"                                                                     \
	"\n"                                                                                       \
	"[tenant victim]\n"                                                                        \
	"uid = 61002\n"                                                                            \
	"volumes = victim:rw\n"                                                                    \
	"\n"                                                                                       \
	"[tenant reader]\n"                                                                        \
	"uid = 61007\n"                                                                            \
	"volumes = big:ro\n"

static const char reader_conf[] = READER_CONF("4M") "max_sessions = 16\n"
						    "max_inflight = 32\n"
						    "max_session_memory = 8M\n";

/*
 * The reader's attack: every session of tenant "reader" keeps
 * ISO_READER_QD reads of 4 MiB queued, round after round, for
 * ISO_FLOOD_MS, while the timed victim runs; then the victim must not
 * have stood behind a round. @cold: every read is of the same 4 MiB,
 * dropped from the page cache before each round (memory pressure, on
 * cue), so that the round's reads all wait for the same pages; else they
 * spread over the file, all of it cached.
 */
static void reader_attack(bool cold)
{
	struct hc rd[ISO_READER_SESSIONS];
	struct ringd_cqe cqe[ISO_READER_QD];
	uint64_t t0, round_us, least_us = UINT64_MAX, end;
	char path[300];
	struct victim v;
	unsigned int rounds = 0, i, k, n;
	int h[ISO_READER_SESSIONS], ret, fd = -1;

	launch_with_fast_victim(reader_conf);
	/* Written here, so that every page of it is in the page cache. */
	snprintf(path, sizeof(path), "%s/state/big.img", g_d.dir);
	dirty(path, ISO_READER_MB);
	/* Written back first, or the dropped pages would stay (dirty). */
	if (cold)
		cr_assert_eq(system("sync"), 0);
	for (i = 0; i < ISO_READER_SESSIONS; i++) {
		ret =
		    attach_as(ISO_UID_READER, ISO_READER_QD, ISO_READER_QD, ISO_READER_IO, &rd[i]);
		cr_assert_eq(ret, 0, "reader session %u: %s", i, strerror(-ret));
		h[i] = hc_open(&rd[i], "big", RINGD_RDONLY);
		cr_assert_geq(h[i], 0, "open big: %s", strerror(-h[i]));
	}
	if (cold) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	}
	vt_start_timed(&g_d, &v);
	end = rt_now_ms() + ISO_FLOOD_MS;
	while (rt_now_ms() < end) {
		if (cold)
			posix_fadvise(fd, 0, ISO_READER_IO, POSIX_FADV_DONTNEED);
		t0 = rt_now_us();
		for (i = 0; i < ISO_READER_SESSIONS; i++) {
			for (k = 0; k < ISO_READER_QD; k++) {
				uint64_t off =
				    cold ? 0
					 : (uint64_t)((rounds + i + k * 4) % (ISO_READER_MB / 4)) *
					       ISO_READER_IO;

				hc_prep_rw(hc_sqe(&rd[i]), RINGD_OP_READ, h[i], off, 0,
					   ISO_READER_IO, k);
			}
			hc_submit(&rd[i]);
		}
		for (i = 0; i < ISO_READER_SESSIONS; i++) {
			n = hc_reap(&rd[i], cqe, ISO_READER_QD, 30000);
			cr_assert_eq(n, ISO_READER_QD, "round %u, session %u: %u CQEs", rounds, i,
				     n);
			for (k = 0; k < n; k++)
				cr_assert_eq(cqe[k].res, (int)ISO_READER_IO,
					     "round %u, session %u: %d", rounds, i, cqe[k].res);
		}
		round_us = rt_now_us() - t0;
		least_us = round_us < least_us ? round_us : least_us;
		rounds++;
	}
	if (fd >= 0)
		close(fd);
	fprintf(stderr,
		"isolation/%s: %u rounds of %u x %u reads of 4 MiB%s, the quickest in %.1f ms\n",
		test_name(), rounds, ISO_READER_SESSIONS, ISO_READER_QD,
		cold ? " (one range, dropped before each)" : "", (double)least_us / 1000.0);
	daemon_alive("after the reader's rounds");
	for (i = 0; i < ISO_READER_SESSIONS; i++)
		hc_detach(&rd[i]);
	measured_done(&v, -1);
	rt_assert_not_behind(v.worst_us, least_us, 40000, "one 4 KiB I/O of the victim",
			     "a round of the reader's reads");
}

/*
 * A read of page-cached data is copied by the kernel inside the daemon's
 * own io_uring_enter(), on the loop's thread: 4 MiB take about a
 * millisecond. A tenant with such reads queued in every session had a
 * pass of the loop start 16 of them per session, 1 GiB of copying here,
 * before the loop looked at any other SQ again, and another tenant's
 * 4 KiB I/O waited all of it, pass after pass (H49). A pass now starts at
 * most DISP_PASS_BYTES of transfers (and always one request): the victim
 * must not stand behind the reader's rounds. (Every read of a session
 * lands on the same 4 MiB of its data area: only the copying counts.)
 */
ITEST(h49_a_tenants_large_cached_reads_do_not_hold_the_loop)
{
	reader_attack(false);
}

/*
 * A read of pages that are not cached waits for them, and when they
 * arrive the kernel copies every read that waited on them in one go, in
 * task work on the daemon's loop thread. The reader's 512 reads of the
 * same cold 4 MiB were 2 GiB of copying in one go, and the victim waited
 * all of it (H50). A tenant now reads at most DISP_COPY_MAX bytes through
 * the page cache at once (and always one request); the rest waits in its
 * SQ.
 */
ITEST(h50_a_tenants_reads_of_cold_pages_do_not_hold_the_loop)
{
	reader_attack(true);
}

#define ISO_ONE_IO (64u << 20) /* the largest max_io_size allows */

static const char one_io_conf[] = READER_CONF("64M") "max_sessions = 1\n"
						     "max_session_memory = 80M\n";

/*
 * H49 and H50 bound what a pass copies and what a tenant has copied at
 * once, but always let one request go: a read as large as max_io_size
 * allows (64 MiB) was copied whole inside the loop's io_uring_enter(),
 * 3 ms here, and another tenant's I/O waited for one such copy, I/O after
 * I/O: it did a quarter of what it did alone (H52). A copy of more than
 * ISS_INLINE_MAX now runs on a kernel worker thread. The reader keeps one
 * 64 MiB read of page-cached data in flight, back to back; the victim must
 * keep at least half of its pace alone.
 */
ITEST(h52_a_tenants_single_huge_read_does_not_hold_the_loop)
{
	uint64_t end, t0, t, since, least_us = UINT64_MAX;
	unsigned int reads = 0;
	struct ringd_cqe cqe;
	struct victim v;
	double alone, next;
	char path[300];
	struct hc rd;
	int h, ret;

	launch_with_fast_victim(one_io_conf);
	snprintf(path, sizeof(path), "%s/state/big.img", g_d.dir);
	dirty(path, 128);
	ret = attach_as(ISO_UID_READER, 2, 2, ISO_ONE_IO, &rd);
	cr_assert_eq(ret, 0, "reader session: %s", strerror(-ret));
	h = hc_open(&rd, "big", RINGD_RDONLY);
	cr_assert_geq(h, 0, "open big: %s", strerror(-h));
	/* The victim's pace alone, I/Os a second. */
	since = rt_now_us();
	vt_start_timed(&g_d, &v);
	usleep(ISO_FLOOD_MS * 1000 / 2);
	cr_assert_eq(vt_stop(&v), 0, "the victim alone failed");
	alone = (double)v.ops * 1e6 / (double)(rt_now_us() - since);
	since = rt_now_us();
	vt_start_timed(&g_d, &v);
	end = rt_now_ms() + ISO_FLOOD_MS;
	while (rt_now_ms() < end) {
		t0 = rt_now_us();
		hc_prep_rw(hc_sqe(&rd), RINGD_OP_READ, h, (uint64_t)(reads % 2) * ISO_ONE_IO, 0,
			   ISO_ONE_IO, reads);
		hc_submit(&rd);
		cr_assert_eq(hc_reap(&rd, &cqe, 1, 30000), 1u, "read %u: no CQE", reads);
		cr_assert_eq(cqe.res, (int)ISO_ONE_IO, "read %u: %d", reads, cqe.res);
		t = rt_now_us() - t0;
		least_us = t < least_us ? t : least_us;
		reads++;
	}
	daemon_alive("after the reader's reads");
	hc_detach(&rd);
	measured_done(&v, -1);
	next = (double)v.ops * 1e6 / (double)(rt_now_us() - since);
	fprintf(stderr,
		"isolation/%s: %u reads of 64 MiB, the quickest in %.1f ms; the victim's "
		"I/Os a second: %.0f alone, %.0f next to them\n",
		test_name(), reads, (double)least_us / 1000.0, alone, next);
	cr_assert_gt(next * 2, alone,
		     "next to one tenant's 64 MiB reads, another did %.0f I/Os a second, "
		     "%.0f alone",
		     next, alone);
}

#define ISO_UID_BIG  61008u
#define ISO_BIG_AREA (250u << 20) /* within its max_session_memory (256M) */

/*
 * Every session's memory is the daemon's to make: a memfd of the size the
 * Hello asks for, within the tenant's max_session_memory (64 MiB by
 * default), mapped with every page in place, then registered with the
 * kernel. Making 64 MiB of pages takes milliseconds, and it was done on
 * the loop's thread: a tenant attaching and detaching such sessions in a
 * loop kept every other tenant's I/O waiting for each (H51). The pages
 * are now made by a worker thread and the loop only registers them.
 */
ITEST(h51_attaching_large_sessions_in_a_loop_does_not_hold_the_loop)
{
	uint64_t end, t0, t, least_us = UINT64_MAX;
	unsigned int cycles = 0;
	struct victim v;
	struct hc c;
	int ret;

	iso_start(hs_config_extra(
	    "30s", "", "[tenant big]\nuid = 61008\nmax_sessions = 4\nmax_session_memory = 256M\n"));
	vt_start_timed(&g_d, &v);
	end = rt_now_ms() + ISO_FLOOD_MS;
	while (rt_now_ms() < end) {
		t0 = rt_now_us();
		ret = attach_as(ISO_UID_BIG, 8, 16, ISO_BIG_AREA, &c);
		cr_assert_eq(ret, 0, "attach %u: %s", cycles, strerror(-ret));
		t = rt_now_us() - t0;
		least_us = t < least_us ? t : least_us;
		hc_detach(&c);
		cycles++;
	}
	fprintf(stderr, "isolation/%s: %u attaches of %u MiB, the quickest in %.1f ms\n",
		test_name(), cycles, ISO_BIG_AREA >> 20, (double)least_us / 1000.0);
	daemon_alive("after the attaches");
	measured_done(&v, -1);
	rt_assert_not_behind(v.worst_us, least_us, 2000, "one 4 KiB I/O of the victim",
			     "an attach of a large session");
	hs_finish(&g_d);
}
