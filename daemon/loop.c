/* SPDX-License-Identifier: MIT */
/*
 * srv_: the event loop. One blocking wait per pass:
 *
 *   1. serve every active session's SQ (bounded per session per pass),
 *      and the control plane's budgeted work (accept, queued control
 *      messages, handshake deadlines);
 *   2. if nothing was found and nothing happened for [daemon] poll_idle_us,
 *      flag every session "daemon asleep" (RINGD_SQ_NEED_WAKEUP), fence,
 *      and look once more; within poll_idle_us, go round again (polling);
 *   3. publish CQ tails and wake the clients that wait;
 *   4. housekeeping: watchdog, systemd status, notifications that waited;
 *   5. submit, and wait for a kernel completion only if there was no work
 *      and the poll time is over, and no polled I/O is in flight (the
 *      IOPOLL ring never interrupts: it is polled once per pass instead);
 *   6. reap and route (every ring), publish, free what left the table.
 *
 * A reload is never run here: SIGHUP starts it on its thread (reload.c),
 * and its result is applied when its eventfd fires, as a completion.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "fabric.h"
#include "log.h"
#include "nsops.h"
#include "recover.h"
#include "sysd.h"
#include "tags.h"

#define SRV_KR_ENTRIES 1024u
#define SRV_NREQS      2048u
#define SRV_TICK_MS    250u /* longest sleep: stall and deadline checks */
#define SRV_PATHS_MS   100u /* fabric volumes: how often their paths are looked at */
#define SRV_DRAIN_MS   10000u

/*
 * SQEs per session per pass. Small, so that a busy client's completions
 * are published while it still has requests queued: it reaps and submits
 * while we serve the rest (one io_uring_enter() per 16 requests; 64 made
 * the plain loop lock-step, the daemon idle while the client refilled).
 */
#define SRV_SQ_BUDGET 16u

/* What srv_init() has built, in order (srv_fini() undoes down from here). */
enum {
	SRV_READY_SIGNALS = 1,
	SRV_READY_JOURNAL,
	SRV_READY_RINGS,
	SRV_READY_PARTS,
	SRV_READY_CTLPLANE,
	SRV_READY_RELOADER,
};

static void srv_signal(struct srv *s)
{
	struct signalfd_siginfo si;

	while (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			log_info("signal %u: draining and stopping", si.ssi_signo);
			s->stop = true;
		} else if (si.ssi_signo == SIGHUP) {
			rl_request(&s->rl);
		}
	}
}

/* A multishot poll on a session fd fired or ended. */
static void srv_session_poll(struct srv *s, const struct kr_cqe *c, bool ctrl)
{
	struct sess *se = sess_at(&s->st, srv_tag_idx(c->tag));

	if (!se)
		return;
	if (sess_poll_begin(&s->st, se, ctrl, kr_poll_more(c)) && c->res > 0) {
		if (ctrl)
			cp_readable(&s->cp, se, c->res);
		else {
			sess_doorbell_drain(se);
			sess_warm(&s->st, se);
		}
	}
	sess_poll_end(&s->st, se, ctrl);
}

void srv_cqe(struct srv *s, const struct kr_cqe *c)
{
	uint32_t idx = srv_tag_idx(c->tag);

	switch (srv_tag_kind(c->tag)) {
	case TAG_IO:
		disp_complete(&s->disp, idx, c->res);
		break;
	case TAG_LISTEN:
		cp_listen_event(&s->cp, c->res, kr_poll_more(c) || s->stop, srv_tag(TAG_LISTEN, 0));
		break;
	case TAG_CTRL:
		srv_session_poll(s, c, true);
		break;
	case TAG_DOORBELL:
		srv_session_poll(s, c, false);
		break;
	case TAG_SIGNAL:
		srv_signal(s);
		if (!kr_poll_more(c))
			rg_arm_poll(&s->rg, s->signal_fd, srv_tag(TAG_SIGNAL, 0));
		break;
	case TAG_KRING: {
		eventfd_t v;

		/* Only a wake-up: every ring is reaped each pass anyway. */
		if (eventfd_read(s->rg.pt_efd, &v) < 0 && errno != EAGAIN)
			log_warn("passthrough eventfd: %s", strerror(errno));
		if (!kr_poll_more(c))
			rg_arm_poll(&s->rg, s->rg.pt_efd, srv_tag(TAG_KRING, 0));
		break;
	}
	case TAG_POLLRM:
		sess_poll_removed(&s->st, idx >> 1, idx & 1, c->res);
		break;
	case TAG_NS:
		nso_event(&s->cp);
		if (!kr_poll_more(c))
			rg_arm_poll(&s->rg, s->cp.ns.efd, srv_tag(TAG_NS, 0));
		break;
	case TAG_RELOAD:
		rl_event(&s->rl, kr_poll_more(c), srv_tag(TAG_RELOAD, 0));
		break;
	default:
		break;
	}
}

unsigned int srv_reap(struct srv *s)
{
	struct kr_cqe cqes[256];
	unsigned int n, i, total = 0;

	do {
		n = rg_reap(&s->rg, cqes, 256);
		if (n)
			disp_clock(&s->disp);
		for (i = 0; i < n; i++)
			srv_cqe(s, &cqes[i]);
		total += n;
	} while (n == 256);
	disp_flush(&s->disp);
	sess_collect(&s->st);
	return total;
}

static inline void srv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ volatile("" ::: "memory");
#endif
}

/*
 * Whether to poll rather than sleep: yes for poll_idle_us after the last
 * SQE or kernel completion (@activity: completions in the last pass). A
 * wake-up costs the client a doorbell syscall and us 7-9 us (far more in
 * a VM), so while a client is busy it submits without any syscall; an
 * idle daemon still sleeps.
 */
static bool srv_keep_polling(struct srv *s, bool activity, uint64_t now)
{
	if (!s->cfg.poll_idle_us)
		return false;
	if (activity || !s->idle_since_ns) {
		s->idle_since_ns = now;
		return true;
	}
	return now - s->idle_since_ns < (uint64_t)s->cfg.poll_idle_us * 1000u;
}

/* Watchdog, systemd status, and notifications that found the socket full. */
static void srv_housekeeping(struct srv *s, uint64_t now)
{
	struct mx_src src = {
		.cfg = &s->cfg,
		.fig = &s->fig,
		.qos = &s->qos,
		.use = &s->use,
		.vols = &s->vols,
		.st = &s->st,
		.rq = &s->rq,
		.start_ms = s->cp.start_ms,
	};

	/* Every metrics_interval: a snapshot for the writer thread. */
	mx_tick(&s->mx, &src, now);
	sysd_watchdog_tick(now);
	sysd_flush();
	if (now - s->last_paths_ms >= SRV_PATHS_MS) {
		s->last_paths_ms = now;
		vols_check_paths(&s->vols, now);
	}
	if (now - s->last_status_ms >= 1000) {
		s->last_status_ms = now;
		sysd_status(s->st.n, s->vols.live, s->rq.inflight);
	}
}

/* One pass of the loop. */
static int srv_iterate(struct srv *s)
{
	/* One clock read per pass: a busy poll makes millions of passes. */
	uint64_t now_ns = clock_now_ns(), now = now_ns / 1000000u, sleep_ns, limit;
	unsigned int work = disp_serve(&s->disp, SRV_SQ_BUDGET, now_ns);
	bool polling = false;
	int ret;

	work += cp_pass(&s->cp, now);
	/* Requests waiting for QoS tokens are a timer, not a reason to poll. */
	if (!work && !s->disp.wake_ns)
		polling = srv_keep_polling(s, s->reaped, now_ns);
	/* With polled I/O in flight the loop does not sleep either. */
	if (!work && !polling && !s->rg.poll_inflight) {
		sess_set_sleeping(&s->st, true);
		work = disp_serve(&s->disp, SRV_SQ_BUDGET, clock_now_ns());
	}
	/* Awake or polling: clients need not ring the doorbell. */
	if (work || polling || s->rg.poll_inflight)
		sess_set_sleeping(&s->st, false);
	if (work)
		s->idle_since_ns = 0; /* the idle clock restarts on the next empty pass */
	disp_flush(&s->disp);
	srv_housekeeping(s, now);
	/* The sleep ends for the next timer: tick, control plane, QoS tokens. */
	sleep_ns = s->tick_ms * 1000000ull;
	limit = cp_sleep_limit_ms(&s->cp, now);
	if (limit < s->tick_ms)
		sleep_ns = limit * 1000000ull;
	if (sysd_pending_count() && sleep_ns > 10000000ull)
		sleep_ns = 10000000ull;
	if (s->disp.wake_ns) {
		uint64_t ns = clock_now_ns();

		limit = s->disp.wake_ns > ns ? s->disp.wake_ns - ns : 1;
		if (limit < sleep_ns)
			sleep_ns = limit;
	}
	ret = rg_wait(&s->rg, !work && !polling, sleep_ns ? sleep_ns : 1);
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
		log_err("io_uring wait: %s", strerror(-ret));
		return ret;
	}
	s->reaped = srv_reap(s);
	/*
	 * Polling with requests the kernel handed to its io-wq workers
	 * (buffered writes, fsync, fallocate): those workers need a CPU, and
	 * the one they share with this loop is busy polling, so give it up
	 * between checks. Otherwise one pause.
	 */
	if (polling && !s->reaped) {
		if (s->rq.inflight > s->rg.poll_inflight)
			sched_yield();
		else
			srv_cpu_relax();
	}
	return 0;
}

/*
 * Graceful stop: accept no one, take no new SQEs, let the kernel finish
 * what it has and post those completions, then tell every client
 * (RINGD_BROKEN_SHUTDOWN in its header, and EOF on its socket).
 */
static void srv_drain(struct srv *s)
{
	uint64_t deadline = clock_now_ms() + SRV_DRAIN_MS;
	uint32_t i;

	sysd_stopping();
	cp_stop_listening(&s->cp);
	/* No more SQEs are read: this loop only reaps. */
	while (s->rq.inflight && clock_now_ms() < deadline) {
		rg_wait(&s->rg, true, 100 * 1000000ull);
		srv_reap(s);
	}
	for (i = 0; i < s->st.max; i++) {
		struct sess *se = s->st.slot[i];

		if (!se)
			continue;
		sess_break(&s->st, se, RINGD_BROKEN_SHUTDOWN);
		sess_close(&s->st, se);
	}
	sess_collect(&s->st);
	while (s->st.n && clock_now_ms() < deadline) {
		rg_wait(&s->rg, true, 100 * 1000000ull);
		srv_reap(s);
	}
	if (s->st.n)
		log_warn("%u sessions still had kernel I/O in flight at exit", s->st.n);
}

int srv_run(struct srv *s)
{
	int ret = 0;

	while (!s->stop) {
		ret = srv_iterate(s);
		if (ret)
			break;
	}
	srv_drain(s);
	return ret;
}

static int srv_signals(struct srv *s)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0)
		return -errno;
	return 0;
}

/* Journal: inherited from the previous instance, or new. */
static int srv_journal(struct srv *s, bool *recovering)
{
	int fd = sysd_take_fd("journal"), ret;

	*recovering = false;
	if (fd >= 0) {
		ret = jr_open(&s->jr, fd, s->cfg.max_sessions, SRV_NREQS);
		if (!ret) {
			*recovering = true;
			return 0;
		}
		log_warn("the stored journal does not match this configuration (%s); starting "
			 "without it",
			 strerror(-ret));
		close(fd);
		sysd_fdstore_remove("journal");
	}
	ret = jr_create(&s->jr, s->cfg.max_sessions, SRV_NREQS);
	if (ret)
		return ret;
	sysd_fdstore("journal", s->jr.fd);
	return 0;
}

/*
 * Registered-file slots: every volume, plus as many files of directory
 * volumes as RLIMIT_NOFILE lets the kernel register (it refuses a table
 * larger than the limit). Sets the file table's capacity to match.
 */
static unsigned int srv_file_slots(struct srv *s)
{
	struct rlimit rl;
	uint64_t n = VOLS_ALL;

	/* The rings add one slot (the ring-liveness pipe). */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= n)
		n = rl.rlim_cur - 1;
	s->vols.files_cap = n > VOLS_MAX ? (unsigned int)(n - VOLS_MAX) : 0;
	if (s->vols.files_cap < VOLS_FILES)
		log_warn("RLIMIT_NOFILE is %llu: at most %u files of directory volumes open at "
			 "once (%u with a limit of %u)",
			 (unsigned long long)rl.rlim_cur, s->vols.files_cap, VOLS_FILES,
			 VOLS_ALL + 1);
	return (unsigned int)n;
}

/*
 * Connect every [fabric] controller that is not connected yet, before the
 * volumes on it are opened. Returns 0, or -errno (logged, naming the
 * section) if one cannot be connected.
 */
static int srv_connect_fabrics(const struct cfg *cfg)
{
	char name[32], err[512];
	unsigned int i;
	bool already;
	int ret;

	for (i = 0; i < cfg->nfabrics; i++) {
		const struct cfg_fabric *f = &cfg->fabrics[i];

		ret = kf_connect(&f->t, name, sizeof(name), &already, err, sizeof(err));
		if (ret) {
			log_err("fabric %s: %s", f->name, err);
			return ret;
		}
		log_info("fabric %s: %s %s %s %s:%s %s", f->name, name,
			 already ? "already connected," : "connected over", f->t.transport,
			 f->t.traddr, f->t.trsvcid, f->t.nqn);
	}
	return 0;
}

/*
 * Open the configured volumes. Indexes come from the journal so that a
 * restarted daemon gives each volume the index its sessions' handles and
 * journaled requests refer to.
 */
static int srv_open_volumes(struct srv *s)
{
	uint32_t i, idx;
	int ret;

	for (i = 0; i < s->cfg.nvols; i++) {
		idx = jr_vol_find(&s->jr, s->cfg.vols[i].name);
		if (idx == JR_MAX_VOLUMES)
			idx = jr_vol_append(&s->jr, s->cfg.vols[i].name);
		ret = vols_add(&s->vols, &s->cfg.vols[i], s->cfg.state_dir, idx);
		if (ret)
			return ret;
	}
	/* Volumes a previous instance had and this config dropped. */
	for (i = 0; i < s->jr.hdr->nvols; i++)
		if (!s->jr.hdr->vol_removed[i] && (i >= s->vols.n || s->vols.vv[i].removed))
			jr_vol_remove(&s->jr, i);
	if (s->jr.hdr->nvols > s->vols.n)
		s->vols.n = s->jr.hdr->nvols;
	return 0;
}

/* The parts between the rings and the control plane. Returns 0 or -errno. */
static int srv_parts(struct srv *s)
{
	int ret;

	ret = vols_init(&s->vols, &s->rg, &s->jr);
	if (!ret)
		ret = rq_init(&s->rq, SRV_NREQS);
	if (!ret)
		ret = use_configure(&s->use, &s->cfg);
	if (!ret)
		use_set_pool(&s->use, SRV_NREQS);
	if (!ret)
		ret = qos_configure(&s->qos, &s->cfg, clock_now_ns());
	if (!ret)
		ret = sess_table_init(&s->st, &s->cfg, &s->rg, &s->vols, &s->jr, &s->use);
	if (!ret)
		ret = disp_init(&s->disp, &s->cfg, &s->st, &s->rq, &s->rg, &s->vols, &s->jr,
				&s->use, &s->qos);
	if (ret)
		log_err("out of memory");
	return ret;
}

int srv_init(struct srv *s, const struct cfg *cfg)
{
	struct rg_params rp;
	bool recovering;
	int ret;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->signal_fd = -1;
	s->jr.fd = -1;
	log_threshold = cfg->log_level;
	ret = srv_signals(s);
	if (ret) {
		log_err("signals: %s", strerror(-ret));
		return ret;
	}
	s->ready = SRV_READY_SIGNALS;
	ret = ctl_mkdirs(s->cfg.state_dir, 0700);
	if (ret) {
		log_err("state_dir %s: %s", s->cfg.state_dir, strerror(-ret));
		return ret;
	}
	ret = sysd_collect_fds();
	if (ret < 0)
		log_warn("cannot read the fds systemd passed: %s", strerror(-ret));
	ret = srv_journal(s, &recovering);
	if (ret) {
		log_err("journal: %s", strerror(-ret));
		return ret;
	}
	s->ready = SRV_READY_JOURNAL;
	memset(&rp, 0, sizeof(rp));
	rp.entries = SRV_KR_ENTRIES;
	rp.nr_files = srv_file_slots(s);
	rp.nr_bufs = s->cfg.max_sessions;
	rp.sqpoll = s->cfg.sqpoll;
	rp.sqpoll_cpu = s->cfg.sqpoll_cpu;
	rp.sqpoll_idle_ms = s->cfg.sqpoll_idle_ms;
	rp.pt_event_tag = srv_tag(TAG_KRING, 0);
	ret = rg_init(&s->rg, &rp);
	s->ready = SRV_READY_RINGS;
	if (ret)
		return ret;
	ret = srv_parts(s);
	s->ready = SRV_READY_PARTS;
	if (ret)
		return ret;
	ret = srv_connect_fabrics(&s->cfg);
	if (ret)
		return ret;
	ret = srv_open_volumes(s);
	if (ret)
		return ret;
	ret = fig_configure(&s->fig, &s->cfg, s->vols.n);
	if (ret) {
		log_err("figures: out of memory");
		return ret;
	}
	s->disp.fig = &s->fig;
	ret = cp_init(&s->cp, &s->cfg, &s->st, &s->rg, &s->vols, &s->rq, &s->use, &s->qos,
		      srv_tag(TAG_LISTEN, 0));
	s->ready = SRV_READY_CTLPLANE;
	if (ret)
		return ret;
	s->cp.fig = &s->fig;
	if (recovering) {
		vols_file_restore(&s->vols);
		ret = rcv_recover(&s->disp);
		if (ret)
			return ret;
		vols_file_sweep(&s->vols);
	} else {
		memset(s->jr.hdr->files, 0, sizeof(s->jr.hdr->files));
	}
	sysd_fdstore_remove("ringlive");
	sysd_fdstore("ringlive", s->rg.live_rd);
	sysd_release_unclaimed();
	s->tick_ms = SRV_TICK_MS;
	if (sysd_watchdog_usec() && sysd_watchdog_usec() / 4000 < s->tick_ms)
		s->tick_ms = sysd_watchdog_usec() / 4000 ? sysd_watchdog_usec() / 4000 : 1;
	ret = rl_init(&s->rl, &s->cfg, &s->st, &s->vols, &s->jr, &s->rg, &s->qos,
		      srv_tag(TAG_RELOAD, 0));
	s->ready = SRV_READY_RELOADER;
	s->rl.fig = &s->fig;
	s->cp.rl = &s->rl;
	if (!ret)
		ret = rg_arm_poll(&s->rg, s->signal_fd, srv_tag(TAG_SIGNAL, 0));
	if (!ret)
		ret = rg_arm_poll(&s->rg, s->cp.ns.efd, srv_tag(TAG_NS, 0));
	if (!ret)
		ret = rg_submit(&s->rg);
	if (ret < 0) {
		log_err("io_uring: %s", strerror(-ret));
		return ret;
	}
	log_info("state directory %s", s->cfg.state_dir);
	log_info("listening on %s (mode %04o)", s->cfg.socket_path, s->cfg.socket_mode);
	log_info("ready: %u volumes, %u tenants, %u sessions", s->vols.live, s->cfg.ntenants,
		 s->st.n);
	sysd_ready(s->st.n, s->vols.live);
	return 0;
}

void srv_fini(struct srv *s)
{
	mx_writer_fini(&s->mx);
	if (s->ready >= SRV_READY_RELOADER)
		rl_fini(&s->rl);
	if (s->ready >= SRV_READY_CTLPLANE)
		cp_fini(&s->cp);
	/* The rings go first: then no kernel I/O refers to session memory. */
	if (s->ready >= SRV_READY_RINGS)
		rg_fini(&s->rg);
	if (s->ready >= SRV_READY_PARTS) {
		sess_table_fini(&s->st);
		disp_fini(&s->disp);
		vols_fini(&s->vols);
		rq_fini(&s->rq);
		use_fini(&s->use);
		qos_fini(&s->qos);
		fig_fini(&s->fig);
	}
	if (s->ready >= SRV_READY_JOURNAL)
		jr_close(&s->jr);
	if (s->signal_fd >= 0)
		close(s->signal_fd);
	s->signal_fd = -1;
	cfg_free(&s->cfg);
	s->ready = 0;
}
