/* SPDX-License-Identifier: MIT */
/*
 * Layer E: reload (rl_) and the control plane (cp_) over real rings,
 * volumes, sessions, a real listening socket and real config files. The
 * test reaps completions and routes them as the loop does.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "ctlplane.h"
#include "reload.h"
#include "tags.h"
#include "unit_stack.h"
#include "unit_util.h"

#define ALICE 1000u

static const char g_v0[] = "[volume v0]\n"
			   "path = v0.img\n"
			   "create_size = 1M\n"
			   "poll = off\n"
			   "passthrough = off\n"
			   "\n";
static const char g_alice[] = "[tenant alice]\n"
			      "uid = 1000\n"
			      "volumes = v0:rw\n";

static struct ut_stack g_s;
static struct reloader g_rl;
static struct ctlplane g_cp;
static bool g_rl_up, g_cp_up;

/* The running config's sections: v0 and alice. */
static void stack_up(void)
{
	char sections[512];

	snprintf(sections, sizeof(sections), "%s%s", g_v0, g_alice);
	ut_stack_up(&g_s, NULL, sections);
}

static void reload_setup(void)
{
	int ret;

	stack_up();
	ret = rl_init(&g_rl, &g_s.cfg, &g_s.st, &g_s.vols, &g_s.jr, &g_s.rg, &g_s.qos,
		      srv_tag(TAG_RELOAD, 0));
	cr_assert_eq(ret, 0, "rl_init: %s", strerror(-ret));
	g_rl_up = true;
}

static void cp_setup(void)
{
	int ret;

	stack_up();
	ret = cp_init(&g_cp, &g_s.cfg, &g_s.st, &g_s.rg, &g_s.vols, &g_s.rq, &g_s.use, &g_s.qos,
		      srv_tag(TAG_LISTEN, 0));
	cr_assert_eq(ret, 0, "cp_init: %s", strerror(-ret));
	g_cp_up = true;
}

static void teardown(void)
{
	if (g_rl_up)
		rl_fini(&g_rl);
	if (g_cp_up)
		cp_fini(&g_cp);
	g_rl_up = g_cp_up = false;
	ut_stack_down(&g_s);
}

TestSuite(reload, .init = reload_setup, .fini = teardown, .timeout = 10);
TestSuite(ctlplane, .init = cp_setup, .fini = teardown, .timeout = 10);

/* Rewrite the config file: v0 (unless @no_v0), then @more sections. */
static void write_config(bool no_v0, const char *more)
{
	char sections[1024];

	snprintf(sections, sizeof(sections), "%s%s", no_v0 ? "" : g_v0, more);
	ut_stack_config(&g_s, NULL, sections);
}

/* SIGHUP, then route completions until @want reloads have finished. */
static void reload_and_wait(unsigned int want)
{
	struct kr_cqe c[8];
	unsigned int n, i;
	int round;

	rl_request(&g_rl);
	for (round = 0; round < 50 && g_rl.applied + g_rl.refused < want; round++) {
		n = ut_wait(&g_s, c, 8);
		for (i = 0; i < n; i++) {
			if (srv_tag_kind(c[i].tag) == TAG_RELOAD)
				rl_event(&g_rl, kr_poll_more(&c[i]), srv_tag(TAG_RELOAD, 0));
			else
				ut_route_session_poll(&g_s, &c[i]);
		}
	}
	cr_assert_eq(g_rl.applied + g_rl.refused, want, "reload did not finish within 5 s");
	cr_assert_not(g_rl.running);
}

Test(reload, an_invalid_file_changes_nothing)
{
	unsigned int files = rg_files_registered(&g_s.rg);

	write_config(false, "[tenant alice]\nuid = 1000\nvolumes = v0:rw, nosuch:ro\n"
			    "[volume v1]\npath = v1.img\ncreate_size = 1M\n");
	reload_and_wait(1);
	cr_assert_eq(g_rl.refused, 1);
	cr_assert_eq(g_rl.applied, 0);
	cr_assert_eq(g_s.cfg.nvols, 1);
	cr_assert_eq(g_s.cfg.ntenants, 1);
	cr_assert_str_eq(g_s.cfg.tenants[0].name, "alice");
	cr_assert_eq(vols_find(&g_s.vols, "v0"), 0);
	cr_assert_eq(vols_find(&g_s.vols, "v1"), -1);
	cr_assert_eq(g_s.vols.live, 1);
	cr_assert_eq(rg_files_registered(&g_s.rg), files);
}

Test(reload, a_volume_that_cannot_be_opened_is_refused_whole)
{
	write_config(false, "[volume v1]\npath = v1.img\ncreate_size = 1M\n"
			    "poll = off\npassthrough = off\n"
			    "[volume v2]\npath = missing/v2.img\n"
			    "[tenant alice]\nuid = 1000\nvolumes = v0:rw, v1:rw, v2:ro\n");
	reload_and_wait(1);
	cr_assert_eq(g_rl.refused, 1);
	cr_assert_eq(g_s.cfg.nvols, 1);
	/* v1 opened fine, but nothing of a refused reload is installed. */
	cr_assert_eq(vols_find(&g_s.vols, "v1"), -1);
	cr_assert_eq(g_s.vols.live, 1);
	cr_assert_eq(rg_files_registered(&g_s.rg), 2);
}

Test(reload, a_valid_file_that_adds_a_volume_is_applied)
{
	int v1;

	ut_stack_config(&g_s, "max_sessions = 99\n",
			"[volume v0]\npath = v0.img\npoll = off\npassthrough = off\n"
			"[volume v1]\npath = v1.img\ncreate_size = 1M\n"
			"poll = off\npassthrough = off\n"
			"[tenant alice]\nuid = 1000\nvolumes = v0:rw, v1:ro\n");
	reload_and_wait(1);
	cr_assert_eq(g_rl.applied, 1, "refused %u", g_rl.refused);
	v1 = vols_find(&g_s.vols, "v1");
	cr_assert_geq(v1, 0);
	cr_assert_eq(vols_find(&g_s.vols, "v0"), 0, "an unchanged volume was reopened");
	cr_assert_eq(g_s.vols.live, 2);
	cr_assert_eq(g_s.cfg.nvols, 2);
	cr_assert_neq(jr_vol_find(&g_s.jr, "v1"), JR_MAX_VOLUMES);
	cr_assert_eq(rg_files_registered(&g_s.rg), 3);
	cr_assert_eq(g_s.cfg.tenants[0].ngrants, 2);
	/* Keys that change only on restart keep their running values. */
	cr_assert_eq(g_s.cfg.max_sessions, UT_MAX_SESSIONS);
}

Test(reload, removing_a_volume_and_a_tenant_reaches_the_sessions)
{
	int peer;
	struct sess *se = ut_session(&g_s, ALICE, ALICE, &peer);

	cr_assert_eq(use_get(&g_s.use, 0).sessions, 1);
	write_config(true, "[volume v1]\npath = v1.img\ncreate_size = 1M\n"
			   "poll = off\npassthrough = off\n");
	reload_and_wait(1);
	cr_assert_eq(g_rl.applied, 1, "refused %u", g_rl.refused);
	cr_assert_eq(vols_find(&g_s.vols, "v0"), -1);
	cr_assert(g_s.vols.vv[0].removed);
	cr_assert_eq(g_s.cfg.ntenants, 0);
	cr_assert_eq(se->tenant, -1);
	cr_assert_eq(g_s.use.n, 0);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, 0);
	close(peer);
}

Test(reload, a_request_during_a_reload_runs_after_it)
{
	write_config(false, g_alice);
	rl_request(&g_rl);
	/* The first is still running until the loop sees its eventfd. */
	cr_assert(g_rl.running);
	reload_and_wait(2);
	cr_assert_eq(g_rl.applied, 2, "refused %u", g_rl.refused);
	cr_assert_not(g_rl.again);
}

/* A session for the peer of a fresh socketpair, as if accepted. */
static struct sess *session(uid_t uid, int *peer)
{
	return ut_session(&g_s, uid, uid, peer);
}

static int request(struct sess *se, Ringd__Request *rq)
{
	return cp_request(&g_cp, se, rq);
}

static int hello(struct sess *se, bool admin)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;

	h.abi_version = RINGD_ABI_VERSION;
	h.has_admin = admin;
	h.admin = admin;
	h.has_data_size = 1;
	h.data_size = 64u << 10;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	return request(se, &rq);
}

static int stats(struct sess *se)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__StatsRequest sr = RINGD__STATS_REQUEST__INIT;

	rq.msg_case = RINGD__REQUEST__MSG_STATS;
	rq.stats = &sr;
	return request(se, &rq);
}

/* The next reply on @peer is an Error carrying @errnum. */
static void expect_error(int peer, int errnum)
{
	Ringd__Reply *r = ut_recv_reply(peer, NULL);

	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_ERROR, "reply %d", r->msg_case);
	cr_assert_eq(r->error->errno_code, errnum, "error %d (%s)", r->error->errno_code,
		     r->error->message);
	ringd__reply__free_unpacked(r, NULL);
}

Test(ctlplane, stats_on_an_admin_session_replies)
{
	int peer;
	struct sess *se = session(0, &peer);
	Ringd__Reply *r;

	cr_assert_eq(hello(se, true), 0);
	cr_assert(se->admin);
	cr_assert_eq(se->state, SESS_ACTIVE);
	/* An admin Hello is answered with Stats. */
	r = ut_recv_reply(peer, NULL);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_STATS);
	ringd__reply__free_unpacked(r, NULL);

	cr_assert_eq(stats(se), 0);
	r = ut_recv_reply(peer, NULL);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_STATS);
	cr_assert(r->stats->has_sessions);
	cr_assert_eq(r->stats->sessions, 1);
	cr_assert_eq(r->stats->files_registered, 2, "v0 and the liveness pipe");
	cr_assert_eq(r->stats->buffers_registered, 0);
	cr_assert_eq(r->stats->requests_inflight, 0);
	ringd__reply__free_unpacked(r, NULL);
	close(peer);
}

Test(ctlplane, admin_is_for_root_only)
{
	int peer;
	struct sess *se = session(ALICE, &peer);

	cr_assert_eq(hello(se, true), -EPERM);
	expect_error(peer, EPERM);
	cr_assert_not(se->admin);
	close(peer);
}

Test(ctlplane, the_first_message_must_be_hello)
{
	int peer;
	struct sess *se = session(ALICE, &peer);

	cr_assert_eq(stats(se), -EPROTO);
	expect_error(peer, EPROTO);
	close(peer);
}

Test(ctlplane, tenant_hello_open_close_stats)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__OpenVolume ov = RINGD__OPEN_VOLUME__INIT;
	Ringd__CloseVolume cv = RINGD__CLOSE_VOLUME__INIT;
	int peer;
	struct sess *se = session(ALICE, &peer);
	Ringd__Reply *r;
	unsigned int nfds;

	cr_assert_eq(hello(se, false), 0);
	r = ut_recv_reply(peer, &nfds);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_ATTACHED);
	cr_assert_eq(nfds, 3);
	ringd__reply__free_unpacked(r, NULL);
	cr_assert_eq(hello(se, false), -EPROTO, "a second Hello");
	expect_error(peer, EPROTO);

	ov.name = "v0";
	ov.flags = RINGD_RDWR;
	rq.msg_case = RINGD__REQUEST__MSG_OPEN;
	rq.open = &ov;
	cr_assert_eq(request(se, &rq), 0);
	r = ut_recv_reply(peer, NULL);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_OPENED);
	cr_assert_eq(r->opened->handle, 0);
	cr_assert_eq(r->opened->size, 1u << 20);
	ringd__reply__free_unpacked(r, NULL);
	/* A refusal is a reply, not the end of the session. */
	ov.name = "nosuch";
	cr_assert_eq(request(se, &rq), 0);
	expect_error(peer, ENOENT);

	cv.handle = 0;
	rq.msg_case = RINGD__REQUEST__MSG_CLOSE;
	rq.close = &cv;
	cr_assert_eq(request(se, &rq), 0);
	r = ut_recv_reply(peer, NULL);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_CLOSED);
	ringd__reply__free_unpacked(r, NULL);
	cr_assert_eq(request(se, &rq), 0);
	expect_error(peer, EBADF);

	cr_assert_eq(stats(se), 0);
	r = ut_recv_reply(peer, NULL);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_STATS);
	cr_assert(r->stats->has_submitted);
	cr_assert_eq(r->stats->submitted, 0);
	cr_assert_not(r->stats->has_sessions, "a tenant sees only its own counters");
	ringd__reply__free_unpacked(r, NULL);
	close(peer);
}

static bool one_session(void)
{
	return g_s.st.n == 1;
}

static bool no_session(void)
{
	return g_s.st.n == 0;
}

static int g_client = -1;

static bool client_readable(void)
{
	struct pollfd pfd = { .fd = g_client, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* Route completions as the loop does (listen and control polls, the
 * control plane's pass) until @done, for at most 3 s. */
static void pump_until(bool (*done)(void))
{
	uint64_t end = clock_now_ms() + 3000;
	struct kr_cqe c[8];
	unsigned int n, i;

	while (!done() && clock_now_ms() < end) {
		n = ut_wait(&g_s, c, 8);
		for (i = 0; i < n; i++) {
			enum srv_tag kind = srv_tag_kind(c[i].tag);
			struct sess *se = sess_at(&g_s.st, srv_tag_idx(c[i].tag));

			if (kind == TAG_LISTEN) {
				cp_listen_event(&g_cp, c[i].res, kr_poll_more(&c[i]),
						srv_tag(TAG_LISTEN, 0));
			} else if (kind == TAG_CTRL && se) {
				if (sess_poll_begin(&g_s.st, se, true, kr_poll_more(&c[i])) &&
				    c[i].res > 0)
					cp_readable(&g_cp, se, c[i].res);
				sess_poll_end(&g_s.st, se, true);
			} else {
				ut_route_session_poll(&g_s, &c[i]);
			}
		}
		cp_pass(&g_cp, clock_now_ms());
		sess_collect(&g_s.st);
	}
	cr_assert(done(), "not done within 3 s");
}

Test(ctlplane, a_connection_is_accepted_and_answered)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;
	struct sockaddr_un sa;
	uint8_t buf[256];
	Ringd__Reply *r;
	size_t len;

	if (getuid() != 0)
		cr_skip_test("admitting an admin connection needs root (uid %u)",
			     (unsigned int)getuid());
	g_client = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert_geq(g_client, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_s.cfg.socket_path);
	cr_assert_eq(connect(g_client, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %s: %s",
		     sa.sun_path, strerror(errno));
	pump_until(one_session);
	cr_assert_eq(g_s.st.handshaking, 1);

	h.abi_version = RINGD_ABI_VERSION;
	h.has_admin = h.admin = 1;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	len = ringd__request__pack(&rq, buf);
	cr_assert_eq(send(g_client, buf, len, 0), (ssize_t)len);
	pump_until(client_readable);
	r = ut_recv_reply(g_client, NULL);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_STATS);
	cr_assert_eq(r->stats->sessions, 1);
	ringd__reply__free_unpacked(r, NULL);
	cr_assert_eq(g_s.st.handshaking, 0);

	/* Hanging up ends the session. */
	close(g_client);
	pump_until(no_session);
	cr_assert_eq(g_cp.refused.total, 0);
}
