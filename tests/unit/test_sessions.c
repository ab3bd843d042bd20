/* SPDX-License-Identifier: MIT */
/*
 * sess_ (layer C): the session table and its lifecycle over real rings, a
 * real journal, real volumes and socketpairs. Poll completions are reaped
 * and routed by hand, as the loop would.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"
#include "tags.h"
#include "unit_stack.h"
#include "unit_util.h"

#define ALICE  1000u
#define BOB    2000u
#define NOBODY 3000u

static const char g_sections[] = "[volume v0]\n"
				 "path = v0.img\n"
				 "create_size = 1M\n"
				 "poll = off\n"
				 "passthrough = off\n"
				 "\n"
				 "[tenant alice]\n"
				 "uid = 1000\n"
				 "volumes = v0:rw\n"
				 "max_session_memory = 4M\n"
				 "\n"
				 "[tenant bob]\n"
				 "uid = 2000\n"
				 "volumes = v0:ro\n";

static struct ut_stack g_s;
static int g_peers[UT_MAX_SESSIONS + 1];
static unsigned int g_npeers;

static void setup(void)
{
	ut_stack_up(&g_s, NULL, g_sections);
	g_npeers = 0;
}

static void teardown(void)
{
	unsigned int i;

	ut_stack_down(&g_s);
	for (i = 0; i < g_npeers; i++)
		close(g_peers[i]);
}

TestSuite(sessions, .init = setup, .fini = teardown, .timeout = 10);

static struct sess *session(uid_t uid)
{
	cr_assert_lt(g_npeers, UT_MAX_SESSIONS + 1);
	return ut_session(&g_s, uid, uid, &g_peers[g_npeers++]);
}

/* The client end of the last session made. */
static int last_peer(void)
{
	return g_peers[g_npeers - 1];
}

static void attach(struct sess *se)
{
	char err[512];
	int ret = ut_attach(&g_s, se, 64u << 10, err, sizeof(err));

	cr_assert_eq(ret, 0, "sess_attach: %s (%s)", strerror(-ret), err);
}

/* Every existing ring holds exactly @n buffers. */
static void assert_bufs_everywhere(unsigned int n)
{
	int w;

	for (w = 0; w < RG_COUNT; w++)
		if (g_s.rg.ready[w])
			cr_assert_eq(g_s.rg.kr[w].bufs_used, n, "ring %d holds %u buffers, not %u",
				     w, g_s.rg.kr[w].bufs_used, n);
}

Test(sessions, new_counts_usage_and_arms_the_control_poll)
{
	int alice = cfg_tenant_for(&g_s.cfg, ALICE, ALICE);
	struct kr_cqe c[8];
	struct sess *se = session(ALICE);
	bool fired = false;
	unsigned int n, i;
	int round;

	cr_assert_eq(alice, 0);
	cr_assert_eq(se->state, SESS_HANDSHAKE);
	cr_assert_eq(se->tenant, alice);
	cr_assert_eq(sess_at(&g_s.st, se->slot), se);
	cr_assert_eq(g_s.st.n, 1);
	cr_assert_eq(g_s.st.handshaking, 1);
	cr_assert_eq(use_get(&g_s.use, alice).sessions, 1);
	cr_assert(se->ctrl_poll);
	cr_assert_eq(se->polls_armed, 1);

	/* The poll is really armed: the client writes, the kernel says so. */
	cr_assert_eq(send(last_peer(), "x", 1, 0), 1);
	for (round = 0; round < 20 && !fired; round++) {
		n = ut_wait(&g_s, c, 8);
		for (i = 0; i < n; i++)
			if (c[i].tag == srv_tag(TAG_CTRL, se->slot)) {
				cr_assert(c[i].res & POLLIN);
				cr_assert(kr_poll_more(&c[i]));
				fired = true;
			}
	}
	cr_assert(fired, "no control poll completion");

	/* A non-tenant (root, the operator) is admitted but counted nowhere. */
	se = session(0);
	cr_assert_eq(se->tenant, -1);
	cr_assert_eq(g_s.st.n, 2);
	cr_assert_eq(use_get(&g_s.use, alice).sessions, 1);
	cr_assert_eq(use_get(&g_s.use, 1).sessions, 0);
}

Test(sessions, close_frees_once_polls_end_and_freed_stays_readable_until_collect)
{
	int alice = cfg_tenant_for(&g_s.cfg, ALICE, ALICE);
	struct sess *se = session(ALICE);
	uint32_t slot = se->slot;
	char b;

	sess_close(&g_s.st, se);
	/* Its poll still refers to it: closing, still in the table and counted. */
	cr_assert_eq(se->state, SESS_CLOSING);
	cr_assert_eq(sess_at(&g_s.st, slot), se);
	cr_assert_eq(g_s.st.n, 1);
	cr_assert_eq(g_s.st.handshaking, 0);
	cr_assert_eq(use_get(&g_s.use, alice).sessions, 1);
	cr_assert_eq(se->sock, -1);
	/* The client sees EOF. */
	cr_assert_eq(recv(last_peer(), &b, 1, 0), 0);

	ut_drain_sessions(&g_s);
	cr_assert_null(sess_at(&g_s.st, slot));
	cr_assert_eq(use_get(&g_s.use, alice).sessions, 0);
	/* Out of the table, but not freed under a caller's feet. */
	cr_assert_eq(g_s.st.freed, se);
	cr_assert_eq(se->state, SESS_FREED);
	cr_assert_eq(se->polls_armed, 0);
	/* Late events for a freed session are ignored. */
	cr_assert_not(sess_poll_begin(&g_s.st, se, true, false));
	sess_poll_end(&g_s.st, se, true);
	sess_close(&g_s.st, se);
	cr_assert_eq(se->state, SESS_FREED);
	sess_collect(&g_s.st);
	cr_assert_null(g_s.st.freed);
	/* The slot is free for the next one. */
	se = session(BOB);
	cr_assert_eq(se->slot, slot);
}

Test(sessions, table_full_is_refused)
{
	int sv[2];
	struct sess *se;
	unsigned int i;

	for (i = 0; i < UT_MAX_SESSIONS; i++)
		session(ALICE);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, UT_MAX_SESSIONS);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(sess_new(&g_s.st, sv[0], getpid(), ALICE, ALICE, 0, &se), -EUSERS);
	/* The socket is still the caller's. */
	cr_assert_eq(send(sv[1], "x", 1, 0), 1);
	cr_assert_eq(g_s.st.n, UT_MAX_SESSIONS);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, UT_MAX_SESSIONS);
	close(sv[0]);
	close(sv[1]);
}

Test(sessions, attach_registers_the_data_area_on_every_ring_and_replies)
{
	struct sess *se = session(ALICE);
	Ringd__Reply *r;
	unsigned int nfds;

	cr_assert_eq(rg_ensure(&g_s.rg, RG_PT), 0);
	attach(se);
	cr_assert_eq(se->state, SESS_ACTIVE);
	cr_assert(se->listed);
	cr_assert_eq(g_s.st.active, se);
	cr_assert_eq(g_s.st.handshaking, 0);
	cr_assert(se->buf_registered);
	assert_bufs_everywhere(1);
	cr_assert_eq(se->data_size, 64u << 10);
	cr_assert_eq(se->hdr->magic, RINGD_SHM_MAGIC);
	cr_assert(se->doorbell_poll);
	cr_assert_eq(se->polls_armed, 2);
	cr_assert_eq(g_s.jr.sess[se->slot].state, JR_SESS_ACTIVE);
	cr_assert_eq(g_s.jr.sess[se->slot].id, se->id);

	r = ut_recv_reply(last_peer(), &nfds);
	cr_assert_eq(r->msg_case, RINGD__REPLY__MSG_ATTACHED);
	cr_assert_eq(r->attached->session_id, se->id);
	cr_assert_eq(r->attached->data_size, se->data_size);
	cr_assert_eq(r->attached->region_size, se->region_size);
	cr_assert_eq(nfds, 3, "memfd, wake end, liveness pipe");
	ringd__reply__free_unpacked(r, NULL);

	/* Closed and drained: the buffer leaves every ring. */
	sess_close(&g_s.st, se);
	ut_drain_sessions(&g_s);
	assert_bufs_everywhere(0);
	cr_assert_eq(g_s.jr.sess[se->slot].state, JR_SESS_FREE);
	sess_collect(&g_s.st);
}

Test(sessions, broken_session_releases_its_buffer_on_every_ring)
{
	struct sess *se = session(ALICE);

	cr_assert_eq(rg_ensure(&g_s.rg, RG_PT), 0);
	attach(se);
	assert_bufs_everywhere(1);
	/*
	 * Issue 9 defect 8: the memory of a broken session was unregistered
	 * on the main ring only, and the passthrough ring kept pointing at
	 * pages about to be unmapped.
	 */
	sess_break(&g_s.st, se, RINGD_BROKEN_PROTOCOL);
	cr_assert_eq(se->state, SESS_BROKEN);
	cr_assert_not(se->buf_registered);
	cr_assert_null(se->base, "no I/O in flight: memory released at once");
	assert_bufs_everywhere(0);
	cr_assert_eq(rg_bufs_registered(&g_s.rg), 0);
	cr_assert_not(se->listed);
	/* Still a session: it can ask why (Stats) until it hangs up. */
	cr_assert_eq(sess_at(&g_s.st, se->slot), se);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, 1);
	cr_assert_eq(se->broken_reason, RINGD_BROKEN_PROTOCOL);
	cr_assert_eq(g_s.jr.sess[se->slot].state, JR_SESS_BROKEN);

	sess_close(&g_s.st, se);
	ut_drain_sessions(&g_s);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, 0);
	sess_collect(&g_s.st);
}

Test(sessions, attach_is_refused_outside_the_tenant_rights)
{
	struct sess *se = session(NOBODY);
	char err[512];

	cr_assert_eq(ut_attach(&g_s, se, 0, err, sizeof(err)), -EACCES);
	cr_assert(strstr(err, "not a tenant"), "%s", err);
	se = session(ALICE);
	/* alice's max_session_memory is 4M. */
	cr_assert_eq(ut_attach(&g_s, se, 8u << 20, err, sizeof(err)), -ENOMEM);
	cr_assert(strstr(err, "max_session_memory"), "%s", err);
	cr_assert_eq(rg_bufs_registered(&g_s.rg), 0);
	cr_assert_eq(se->state, SESS_HANDSHAKE);
}

Test(sessions, admin_leaves_the_handshake)
{
	struct sess *se = session(0);

	cr_assert_eq(g_s.st.handshaking, 1);
	sess_admin(&g_s.st, se);
	cr_assert(se->admin);
	cr_assert_eq(se->state, SESS_ACTIVE);
	cr_assert_eq(g_s.st.handshaking, 0);
	cr_assert_not(se->listed, "an admin connection has no ring to serve");
}

Test(sessions, handle_open_follows_the_grants)
{
	struct sess *a = session(ALICE), *b;
	char err[512];
	int h = -1;

	attach(a);
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &h, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(h, 0);
	cr_assert(a->handles[h].open && a->handles[h].writable);
	cr_assert_eq(a->handles_open, 1);
	cr_assert(g_s.jr.sess[a->slot].handles[h].open, "handle not journaled");
	cr_assert_eq(sess_handle_open(&g_s.st, a, "nope", RINGD_RDONLY, &h, err, sizeof(err)),
		     -ENOENT);
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", 7, &h, err, sizeof(err)), -EINVAL);

	b = session(BOB);
	attach(b);
	cr_assert_eq(sess_handle_open(&g_s.st, b, "v0", RINGD_RDWR, &h, err, sizeof(err)), -EACCES);
	cr_assert(strstr(err, "only read"), "%s", err);
	cr_assert_eq(sess_handle_open(&g_s.st, b, "v0", RINGD_RDONLY, &h, err, sizeof(err)), 0);
	cr_assert_not(b->handles[h].writable);

	cr_assert_eq(sess_handle_close(&g_s.st, b, h), 0);
	cr_assert_eq(b->handles_open, 0);
	cr_assert_eq(sess_handle_close(&g_s.st, b, h), -EBADF);
	cr_assert_eq(sess_handle_close(&g_s.st, b, -1), -EBADF);
	cr_assert_eq(sess_handle_close(&g_s.st, b, 1 << 20), -EBADF);
}

/*
 * A control request sent again after a restart (replay) that came after
 * its first try opened the handle gets that handle, not a second one; any
 * other request opens a new one.
 */
Test(sessions, a_replayed_open_gets_the_handle_its_first_try_opened)
{
	struct sess *a = session(ALICE);
	char err[512];
	int h = -1, again = -1;

	attach(a);
	a->ctl_seq = 5;
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &h, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(g_s.jr.sess[a->slot].handles[h].opened_seq, 5u, "opener not journaled");
	/* The restart came after the first try: the replay finds its handle. */
	a->ctl_replay = true;
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &again, err, sizeof(err)), 0);
	cr_assert_eq(again, h);
	cr_assert_eq(a->handles_open, 1);
	/* Read-only is another open. */
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDONLY, &again, err, sizeof(err)), 0);
	cr_assert_neq(again, h);
	cr_assert_eq(a->handles_open, 2);
	/* A new request (not a replay), or a replay of another one, opens anew. */
	a->ctl_seq = 7;
	a->ctl_replay = false;
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &again, err, sizeof(err)), 0);
	cr_assert_neq(again, h);
	a->ctl_seq = 6;
	a->ctl_replay = true;
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &again, err, sizeof(err)), 0);
	cr_assert_neq(again, h);
	cr_assert_eq(a->handles_open, 4);
	/* A closed handle is no answer to its replay. */
	a->ctl_seq = 5;
	cr_assert_eq(sess_handle_close(&g_s.st, a, h), 0);
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &again, err, sizeof(err)), 0);
	cr_assert_eq(a->handles_open, 4);
	/* No seq: nothing to match. */
	a->ctl_seq = 0;
	cr_assert_eq(sess_handle_of_request(&g_s.st, a, a->handles[again].vol, true), -1);
}

/* Replace the running config with @sections (in place, as a reload does). */
static void swap_config(const char *sections)
{
	struct cfg old = g_s.cfg;

	ut_stack_config(&g_s, NULL, sections);
	ut_cfg_load(g_s.cfg_path, &g_s.cfg);
	cfg_free(&old);
}

Test(sessions, reresolve_after_a_tenant_is_removed)
{
	struct sess *a = session(ALICE), *b = session(BOB), *x = session(NOBODY);
	char err[512];
	int ha, hb;

	attach(a);
	attach(b);
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &ha, err, sizeof(err)), 0);
	cr_assert_eq(sess_handle_open(&g_s.st, b, "v0", RINGD_RDONLY, &hb, err, sizeof(err)), 0);
	cr_assert_eq(a->tenant, 0);
	cr_assert_eq(b->tenant, 1);
	cr_assert_eq(x->tenant, -1);
	/* Requests the data path counts per session are recounted from it. */
	b->inflight = 2;

	/* alice is gone: bob moves from index 1 to index 0. */
	swap_config("[volume v0]\n"
		    "path = v0.img\n"
		    "poll = off\n"
		    "passthrough = off\n"
		    "\n"
		    "[tenant bob]\n"
		    "uid = 2000\n"
		    "volumes = v0:ro\n");
	cr_assert_eq(sess_reresolve_all(&g_s.st, NULL), 0);
	cr_assert_eq(a->tenant, -1);
	cr_assert_eq(b->tenant, 0);
	cr_assert_eq(x->tenant, -1);
	cr_assert_eq(a->handles[ha].revoked, -EACCES, "alice kept her handle");
	cr_assert_eq(b->handles[hb].revoked, 0);
	cr_assert_eq(g_s.jr.sess[a->slot].handles[ha].revoked, -EACCES);
	/* Rebuilt for one tenant, never patched with stale indices. */
	cr_assert_eq(g_s.use.n, 1);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, 1);
	cr_assert_eq(use_get(&g_s.use, 0).inflight, 2);
	cr_assert_eq(use_get(&g_s.use, 1).sessions, 0);
	b->inflight = 0;

	/* Closing alice's session (no tenant now) counts nothing down. */
	sess_close(&g_s.st, a);
	sess_close(&g_s.st, x);
	sess_close(&g_s.st, b);
	ut_drain_sessions(&g_s);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, 0);
	sess_collect(&g_s.st);
}

Test(sessions, reresolve_takes_write_access_away)
{
	struct sess *a = session(ALICE);
	char err[512];
	int h;

	attach(a);
	cr_assert_eq(sess_handle_open(&g_s.st, a, "v0", RINGD_RDWR, &h, err, sizeof(err)), 0);
	swap_config("[volume v0]\n"
		    "path = v0.img\n"
		    "poll = off\n"
		    "passthrough = off\n"
		    "\n"
		    "[tenant alice]\n"
		    "uid = 1000\n"
		    "volumes = v0:ro\n"
		    "max_inflight = 7\n");
	cr_assert_eq(sess_reresolve_all(&g_s.st, NULL), 0);
	cr_assert_eq(a->tenant, 0);
	cr_assert(a->handles[h].open);
	cr_assert_not(a->handles[h].writable);
	cr_assert(a->handles[h].write_revoked);
	cr_assert_eq(a->handles[h].revoked, 0);
	cr_assert_eq(a->max_inflight, 7);
	cr_assert_eq(use_get(&g_s.use, 0).sessions, 1);
}
