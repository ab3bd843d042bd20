/* SPDX-License-Identifier: MIT */
/*
 * srv_ (layer F): the daemon composed of every part, on a config in a
 * scratch directory: it builds and tears down without leaking, fails
 * cleanly, routes a SIGHUP to a reload, and serves a client until SIGTERM.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop.h"
#include "tags.h"
#include "unit_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UT_ASAN 1
#endif
#endif
#ifdef UT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static char g_dir[PATH_MAX];
static char g_sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct srv g_srv;

static void setup(void)
{
	ut_tmpdir(g_dir);
	cr_assert_lt(strlen(g_dir) + sizeof("/ringd.sock"), sizeof(g_sock));
	memcpy(g_sock, g_dir, strlen(g_dir));
	memcpy(g_sock + strlen(g_dir), "/ringd.sock", sizeof("/ringd.sock"));
}

static void teardown(void)
{
	ut_rmtree(g_dir);
}

TestSuite(loop, .init = setup, .fini = teardown, .timeout = 10);

/* Write the config (socket and state in the scratch directory, then
 * @sections) and load it into @c. */
static void config(struct cfg *c, const char *sections)
{
	char path[PATH_MAX], *body;

	cr_assert_geq(asprintf(&body,
			       "[daemon]\n"
			       "socket = %s\n"
			       "state_dir = %s/state\n"
			       "max_sessions = 4\n"
			       "log_level = warn\n"
			       "\n%s",
			       g_sock, g_dir, sections),
		      0);
	ut_write(g_dir, "ringd.conf", body, path);
	free(body);
	ut_cfg_load(path, c);
}

static const char g_v0[] = "[volume v0]\n"
			   "path = v0.img\n"
			   "create_size = 1M\n"
			   "poll = off\n"
			   "passthrough = off\n"
			   "\n"
			   "[tenant alice]\n"
			   "uid = 1000\n"
			   "volumes = v0:rw\n";

/* srv_init() on @sections; skips if this host has no io_uring. */
static int init(const char *sections)
{
	struct cfg c;
	int ret;

	config(&c, sections);
	ret = srv_init(&g_srv, &c);
	if (ret == -EPERM || ret == -ENOSYS) {
		srv_fini(&g_srv);
		cr_skip_test("io_uring is not available here: %s", strerror(-ret));
	}
	return ret;
}

/* Under ASan: nothing allocated is unreachable now. */
static void assert_no_leaks(void)
{
#ifdef UT_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks");
#endif
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

Test(loop, init_and_fini_give_everything_back)
{
	char state[PATH_MAX + 8];
	int fds = ut_count_fds(), ret;
	struct stat sb;

	ret = init(g_v0);
	cr_assert_eq(ret, 0, "srv_init: %s", strerror(-ret));
	cr_assert_eq(g_srv.vols.live, 1);
	cr_assert_eq(vols_find(&g_srv.vols, "v0"), 0);
	cr_assert_eq(g_srv.cfg.ntenants, 1);
	cr_assert(g_srv.rg.ready[RG_MAIN]);
	cr_assert_eq(stat(g_sock, &sb), 0, "no socket at %s", g_sock);
	cr_assert(S_ISSOCK(sb.st_mode));
	snprintf(state, sizeof(state), "%s/state", g_dir);
	cr_assert(exists(state));
	cr_assert_eq(g_srv.st.n, 0);

	srv_fini(&g_srv);
	cr_assert_not(exists(g_sock), "socket left behind");
	cr_assert_eq(ut_count_fds(), fds, "fds leaked");
	assert_no_leaks();
}

Test(loop, a_volume_that_cannot_be_opened_fails_cleanly)
{
	int fds = ut_count_fds(), ret;

	ret = init("[volume v0]\n"
		   "path = no/such/dir/v0.img\n"
		   "poll = off\n"
		   "passthrough = off\n");
	cr_assert_eq(ret, -ENOENT, "srv_init: %d", ret);
	srv_fini(&g_srv);
	cr_assert_not(exists(g_sock), "socket bound although init failed");
	cr_assert_eq(ut_count_fds(), fds, "fds leaked");
	assert_no_leaks();
}

Test(loop, sighup_is_routed_to_a_reload)
{
	char body[1024];
	struct cfg c;
	int round, ret;

	ret = init(g_v0);
	cr_assert_eq(ret, 0, "srv_init: %s", strerror(-ret));
	snprintf(body, sizeof(body),
		 "%s[volume v1]\npath = v1.img\ncreate_size = 1M\npoll = off\npassthrough = off\n",
		 g_v0);
	config(&c, body); /* written for the reload; this copy is not used */
	cfg_free(&c);
	/* srv_init blocked SIGHUP: it waits for the signalfd. */
	cr_assert_eq(raise(SIGHUP), 0);
	for (round = 0; round < 50 && !g_srv.rl.applied && !g_srv.rl.refused; round++) {
		rg_wait(&g_srv.rg, true, 100 * 1000000ull);
		srv_reap(&g_srv);
	}
	cr_assert_eq(g_srv.rl.applied, 1, "refused %u", g_srv.rl.refused);
	cr_assert_geq(vols_find(&g_srv.vols, "v1"), 0);
	cr_assert_eq(g_srv.vols.live, 2);
	srv_fini(&g_srv);
}

struct client {
	pthread_t daemon; /* the thread in srv_run() */
	bool served;	  /* an admin Hello was answered with Stats */
	bool eof;	  /* then SIGTERM closed the connection */
};

/* The client: an admin Hello, its Stats reply, SIGTERM, then EOF. */
static void *admin_client(void *arg)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;
	struct timeval tmo = { .tv_sec = 3 };
	struct client *cl = arg;
	struct sockaddr_un sa;
	uint8_t buf[256];
	Ringd__Reply *r;
	ssize_t got;
	size_t len;
	char b;
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, g_sock, sizeof(sa.sun_path));
	/* A daemon that never answers still gets its SIGTERM. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		h.abi_version = RINGD_ABI_VERSION;
		h.has_admin = h.admin = 1;
		rq.msg_case = RINGD__REQUEST__MSG_HELLO;
		rq.hello = &h;
		len = ringd__request__pack(&rq, buf);
		/* No Criterion asserts off the test's thread: plain calls. */
		if (send(fd, buf, len, 0) == (ssize_t)len &&
		    (got = recv(fd, buf, sizeof(buf), 0)) > 0 &&
		    (r = ringd__reply__unpack(NULL, (size_t)got, buf))) {
			cl->served =
			    r->msg_case == RINGD__REPLY__MSG_STATS && r->stats->sessions == 1;
			ringd__reply__free_unpacked(r, NULL);
		}
	}
	/*
	 * To the daemon's thread, which blocks it (srv_init): it stays
	 * pending there for the signalfd, whatever other threads the test
	 * runner has.
	 */
	pthread_kill(cl->daemon, SIGTERM);
	/* The drain closes the session: EOF. */
	if (fd >= 0) {
		cl->eof = recv(fd, &b, 1, 0) == 0;
		close(fd);
	}
	return NULL;
}

Test(loop, serves_a_client_until_sigterm)
{
	struct client cl = { .daemon = pthread_self() };
	pthread_t t;
	int ret;

	if (getuid() != 0)
		cr_skip_test("the admin connection needs root (uid %u)", (unsigned int)getuid());
	ret = init(g_v0);
	cr_assert_eq(ret, 0, "srv_init: %s", strerror(-ret));
	cr_assert_eq(pthread_create(&t, NULL, admin_client, &cl), 0);
	ret = srv_run(&g_srv);
	pthread_join(t, NULL);
	cr_assert_eq(ret, 0, "srv_run: %s", strerror(-ret));
	cr_assert(g_srv.stop);
	cr_assert(cl.served, "the admin Hello was not answered with Stats");
	cr_assert(cl.eof, "no EOF after SIGTERM");
	cr_assert_eq(g_srv.st.n, 0, "sessions left after the drain");
	srv_fini(&g_srv);
	assert_no_leaks();
}
