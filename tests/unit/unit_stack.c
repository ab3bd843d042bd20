/* SPDX-License-Identifier: MIT */
/* ut_stack: layers A to C, built by hand for the unit suites. */
#define _GNU_SOURCE
#include "unit_stack.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tags.h"
#include "unit_util.h"

enum { UT_CFG = 1, UT_RINGS, UT_JOURNAL, UT_PARTS };

void ut_stack_config(struct ut_stack *s, const char *daemon_extra, const char *sections)
{
	char *body;
	int n;

	n = asprintf(&body,
		     "[daemon]\n"
		     "socket = %s/ringd.sock\n"
		     "state_dir = %s\n"
		     "max_sessions = %u\n"
		     "log_level = warn\n"
		     "%s\n"
		     "%s",
		     s->dir, s->dir, UT_MAX_SESSIONS, daemon_extra ? daemon_extra : "",
		     sections ? sections : "");
	cr_assert_geq(n, 0);
	ut_write(s->dir, "ringd.conf", body, s->cfg_path);
	free(body);
}

void ut_stack_up(struct ut_stack *s, const char *daemon_extra, const char *sections)
{
	struct rg_params rp;
	uint32_t i, idx;
	int ret;

	memset(s, 0, sizeof(*s));
	ut_tmpdir(s->dir);
	ut_stack_config(s, daemon_extra, sections);
	ut_cfg_load(s->cfg_path, &s->cfg);
	log_threshold = s->cfg.log_level;
	s->ready = UT_CFG;

	rp = ut_rg_params(s->cfg.max_sessions);
	rp.nr_files = VOLS_MAX;
	ret = rg_init(&s->rg, &rp);
	if (ret == -EPERM || ret == -ENOSYS)
		cr_skip_test("io_uring is not available here: %s", strerror(-ret));
	cr_assert_eq(ret, 0, "rg_init: %s", strerror(-ret));
	s->ready = UT_RINGS;
	cr_assert_eq(jr_create(&s->jr, s->cfg.max_sessions, UT_NREQS), 0);
	s->ready = UT_JOURNAL;
	cr_assert_eq(vols_init(&s->vols, &s->rg, &s->jr), 0);
	cr_assert_eq(rq_init(&s->rq, UT_NREQS), 0);
	cr_assert_eq(use_configure(&s->use, &s->cfg), 0);
	use_set_pool(&s->use, UT_NREQS);
	cr_assert_eq(qos_configure(&s->qos, &s->cfg, 1), 0);
	cr_assert_eq(sess_table_init(&s->st, &s->cfg, &s->rg, &s->vols, &s->jr, &s->use), 0);
	s->ready = UT_PARTS;
	for (i = 0; i < s->cfg.nvols; i++) {
		idx = jr_vol_append(&s->jr, s->cfg.vols[i].name);
		ret = vols_add(&s->vols, &s->cfg.vols[i], s->cfg.state_dir, idx);
		cr_assert_eq(ret, 0, "volume %s: %s", s->cfg.vols[i].name, strerror(-ret));
	}
}

void ut_stack_down(struct ut_stack *s)
{
	/* The rings first: then no kernel I/O refers to session memory. */
	if (s->ready >= UT_RINGS)
		rg_fini(&s->rg);
	if (s->ready >= UT_PARTS) {
		sess_table_fini(&s->st);
		vols_fini(&s->vols);
		rq_fini(&s->rq);
		use_fini(&s->use);
		qos_fini(&s->qos);
	}
	if (s->ready >= UT_JOURNAL)
		jr_close(&s->jr);
	if (s->ready >= UT_CFG)
		cfg_free(&s->cfg);
	ut_rmtree(s->dir);
	s->ready = 0;
}

struct sess *ut_session(struct ut_stack *s, uid_t uid, gid_t gid, int *peer)
{
	struct sess *se = NULL;
	int sv[2], ret;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	ret = sess_new(&s->st, sv[0], getpid(), uid, gid, cfg_tenant_for(&s->cfg, uid, gid), &se);
	cr_assert_eq(ret, 0, "sess_new: %s", strerror(-ret));
	cr_assert_not_null(se);
	*peer = sv[1];
	return se;
}

int ut_attach(struct ut_stack *s, struct sess *se, uint64_t data_size, char *err, size_t errlen)
{
	Ringd__Hello h = RINGD__HELLO__INIT;

	h.abi_version = RINGD_ABI_VERSION;
	if (data_size) {
		h.has_data_size = 1;
		h.data_size = data_size;
	}
	err[0] = '\0';
	return sess_attach(&s->st, se, &h, err, errlen);
}

unsigned int ut_wait(struct ut_stack *s, struct kr_cqe *out, unsigned int max)
{
	rg_wait(&s->rg, true, 100 * 1000000ull);
	return rg_reap(&s->rg, out, max);
}

bool ut_route_session_poll(struct ut_stack *s, const struct kr_cqe *c)
{
	uint32_t idx = srv_tag_idx(c->tag);
	enum srv_tag kind = srv_tag_kind(c->tag);
	struct sess *se;

	if (kind == TAG_POLLRM) {
		sess_poll_removed(&s->st, idx >> 1, idx & 1, c->res);
		return true;
	}
	if (kind != TAG_CTRL && kind != TAG_DOORBELL)
		return false;
	se = sess_at(&s->st, idx);
	if (!se)
		return true;
	if (sess_poll_begin(&s->st, se, kind == TAG_CTRL, kr_poll_more(c)) && c->res > 0 &&
	    kind == TAG_DOORBELL)
		sess_doorbell_drain(se);
	sess_poll_end(&s->st, se, kind == TAG_CTRL);
	return true;
}

void ut_drain_sessions(struct ut_stack *s)
{
	struct kr_cqe c[16];
	unsigned int n, i;
	int round;

	for (round = 0; round < 50 && s->st.n; round++) {
		n = ut_wait(s, c, 16);
		for (i = 0; i < n; i++)
			ut_route_session_poll(s, &c[i]);
	}
	cr_assert_eq(s->st.n, 0, "%u sessions still in the table", s->st.n);
}
