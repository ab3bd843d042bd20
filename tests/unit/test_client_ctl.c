/* SPDX-License-Identifier: MIT */
/*
 * libringd's layer 1: ctl.c over ring.c and buf.c, linked without
 * reconnect.c and api.c (a call up from them would not link). Its peer is
 * the stand-in control plane of client_fake.c, not the daemon.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "client_fake.h"
#include "ctl.h"

static struct fake_daemon g_f;

static void fake_up(void)
{
	cr_assert_eq(fake_start(&g_f), 0);
}

static void fake_down(void)
{
	fake_stop(&g_f);
}

static struct ringd_opts opts_for(const char *path)
{
	struct ringd_opts o = { .socket_path = path };

	return o;
}

Test(client_ctl, connect_fails_when_the_socket_does_not_exist)
{
	struct ringd_opts o = opts_for("/nonexistent/ringd/ringd.sock");
	struct ringd *rd = (struct ringd *)1;

	cr_assert_eq(cc_connect(&o, &rd), -ENOENT);
	cr_assert_null(rd, "*out is cleared on failure");
}

Test(client_ctl, connect_checks_its_arguments)
{
	char longpath[200];
	struct ringd_opts o;
	struct ringd *rd;

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	o = opts_for(longpath);
	cr_assert_eq(cc_connect(&o, &rd), -ENAMETOOLONG);
	o = opts_for("/nonexistent");
	o.flags = 1u << 7;
	cr_assert_eq(cc_connect(&o, &rd), -EINVAL, "unknown flag");
	cr_assert_eq(cc_connect(&o, NULL), -EINVAL);
}

Test(client_ctl, a_refusal_returns_the_daemons_errno_and_message, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = opts_for(g_f.path);
	struct ringd *rd;

	g_f.refuse_errno = EACCES;
	g_f.refuse_message = "uid 1234 is not a tenant";
	cr_assert_eq(cc_connect(&o, &rd), -EACCES);
	cr_assert_null(rd);
	cr_assert_str_eq(cc_last_message(), "uid 1234 is not a tenant");
}

Test(client_ctl, a_layout_that_does_not_match_the_memfd_is_refused, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = opts_for(g_f.path);
	struct ringd *rd;

	g_f.bad_layout = true;
	cr_assert_eq(cc_connect(&o, &rd), -EBADMSG);
	cr_assert_null(rd);
}

Test(client_ctl, connect_attaches_and_maps_the_session, .init = fake_up, .fini = fake_down)
{
	struct ringd_opts o = opts_for(g_f.path);
	struct ringd *rd;

	g_f.first_index = 1000;
	o.sq_entries = 16;
	o.buf_size = 128u << 10;
	cr_assert_eq(cc_connect(&o, &rd), 0);
	cr_assert_eq(g_f.sessions, 1);
	cr_assert_eq(rd->ring.sq_entries, 16, "the Hello carried the shape");
	cr_assert_eq(rd->ring.cq_entries, 32);
	cr_assert_eq(rd->ring.data_size, 128u << 10);
	cr_assert_eq(rd->ring.sq_tail, 1000, "indices adopted from the header");
	cr_assert_eq(rd->ring.cq_head, 1000);
	cr_assert_eq(rd->layout.region_size, g_f.reg.l.region_size);
	cr_assert(rd->reconnect, "reconnect is the default");
	/* The same memory as the daemon's. */
	g_f.reg.hdr->sq_head = 1003;
	cr_assert_eq(ringd_load_acquire(&rd->ring.hdr->sq_head), 1003);
	cr_assert_not_null(buf_alloc(&rd->buf, 4096, 4096), "allocator over the data area");
	cc_disconnect(rd);
}

Test(client_ctl, open_close_and_stats_go_through_the_handle_table, .init = fake_up,
     .fini = fake_down)
{
	struct ringd_opts o = opts_for(g_f.path);
	struct ringd_volume_info info;
	struct ringd_stats st;
	struct ringd *rd;
	int h, h2;

	o.flags = RINGD_OPT_NO_RECONNECT;
	cr_assert_eq(cc_connect(&o, &rd), 0);
	cr_assert_not(rd->reconnect);
	h = cc_handle_open(rd, "db1", RINGD_RDWR, &info);
	cr_assert_eq(h, 0);
	cr_assert_str_eq(g_f.last_open, "db1");
	cr_assert_eq(rd->ring.handles[h].dh, 100, "the daemon's handle is kept");
	cr_assert_str_eq(rd->ring.handles[h].name, "db1");
	cr_assert_eq(info.size, 1u << 20);
	cr_assert_eq(info.block_size, 512);
	cr_assert_eq(info.flags, RINGD_VOL_DIRECT);
	h2 = cc_handle_open(rd, "db2", RINGD_RDONLY, NULL);
	cr_assert_eq(h2, 1);
	cr_assert_eq(rd->ring.handles[h2].dh, 101);

	cr_assert_eq(cc_handle_close(rd, h), 0);
	cr_assert_eq(g_f.last_close, 100, "Close carries the daemon's handle");
	cr_assert_null(rg_handle(&rd->ring, h));
	cr_assert_eq(cc_handle_close(rd, h), -EBADF);
	cr_assert_eq(cc_handle_open(rd, "db3", RINGD_RDWR, NULL), 0, "a freed number is reused");

	cr_assert_eq(cc_stats(rd, &st), 0);
	cr_assert_eq(st.submitted, 7);
	cr_assert_eq(st.inflight, 2);
	cc_disconnect(rd);
}

Test(client_ctl, calls_on_a_lost_session_fail_with_enotconn, .init = fake_up, .fini = fake_down)
{
	struct ringd_opts o = opts_for(g_f.path);
	struct ringd_stats st;
	struct ringd *rd;

	cr_assert_eq(cc_connect(&o, &rd), 0);
	fake_shutdown_session(&g_f);
	cr_assert_eq(cc_stats(rd, &st), -ENOTCONN, "EOF on the control socket");
	cr_assert(rd->ring.dead, "seen by ctl, reported through the ring state");
	cr_assert_eq(rg_state(&rd->ring), -ENOTCONN);
	cr_assert_eq(cc_volume_open(rd, "db1", RINGD_RDWR, NULL), -ENOTCONN);
	cc_disconnect(rd);
}
