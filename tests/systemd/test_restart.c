/* SPDX-License-Identifier: MIT */
/*
 * Kill ringd with SIGKILL at random points of a verified multi-client
 * write/read/flush workload, and restart it the way systemd would: with
 * the fd store (sessions carry on, nothing reconnects) or without it (the
 * client library reconnects and resubmits). Every client keeps a model of
 * the version it last had acknowledged for each block; every read must
 * return exactly that version. Half the I/O is vectored, a third of the
 * writes durable (DSYNC), and flushes are linked behind writes, so that
 * restarts land on vectored, held and chained requests too.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "harness.h"
#include "hostile.h"
#include "ringd.h"
#include "sdnotify.h"

#define NCLIENTS  3
#define NBLOCKS	  512 /* per client */
#define BS	  4096
#define BATCH	  16
#define NRESTARTS 50

static const char conf[] = "[volume kv]\n"
			   "path = kv.img\n"
			   "create_size = 16M\n"
			   "\n"
			   "[tenant root]\n"
			   "uid = 0\n"
			   "volumes = kv:rw\n";

struct blk_hdr {
	uint32_t magic;
	uint32_t client;
	uint32_t block;
	uint32_t version;
};

#define BLK_MAGIC 0x6b6c6272u

struct client_result {
	uint64_t writes_acked;
	uint64_t reads_verified;
	uint64_t flushes;
	uint64_t lost;	/* read an older version than acknowledged */
	uint64_t stale; /* read a version that was never the latest acknowledged */
	uint64_t errors;
	int first_error;
};

static void fill_block(uint8_t *b, uint32_t client, uint32_t block, uint32_t version)
{
	struct blk_hdr h = { BLK_MAGIC, client, block, version };

	if (!version) {
		memset(b, 0, BS);
		return;
	}
	memcpy(b, &h, sizeof(h));
	rt_fill(b + sizeof(h), BS - sizeof(h),
		((uint64_t)client << 40) ^ ((uint64_t)block << 20) ^ version, 0);
}

/* Compare a read block with the model; classify a mismatch. */
static void check_block(const uint8_t *b, uint32_t client, uint32_t block, uint32_t want,
			struct client_result *r)
{
	struct blk_hdr h;

	if (!want) {
		unsigned int i;

		for (i = 0; i < BS; i++)
			if (b[i])
				break;
		if (i == BS) {
			r->reads_verified++;
			return;
		}
	}
	memcpy(&h, b, sizeof(h));
	if (want && h.magic == BLK_MAGIC && h.client == client && h.block == block &&
	    h.version == want &&
	    rt_check(b + sizeof(h), BS - sizeof(h),
		     ((uint64_t)client << 40) ^ ((uint64_t)block << 20) ^ want, 0) == -1) {
		r->reads_verified++;
		return;
	}
	if (h.magic == BLK_MAGIC && h.version < want)
		r->lost++;
	else
		r->stale++;
}

/* A readv that put the block's second half first: put it back. */
static void swap_halves(uint8_t *b)
{
	uint8_t tmp[BS / 2];

	memcpy(tmp, b, BS / 2);
	memcpy(b, b + BS / 2, BS / 2);
	memcpy(b + BS / 2, tmp, BS / 2);
}

static volatile sig_atomic_t g_stop;
static bool g_files; /* each client writes a file of directory volume "files" */
static bool g_opens; /* each client opens and closes handles instead of I/O */

static const char files_conf[] = "[volume files]\n"
				 "dir = files.d\n"
				 "size = 64M\n"
				 "\n"
				 "[tenant root]\n"
				 "uid = 0\n"
				 "volumes = files:rw\n";

#define OPENS_MAX 8 /* the tenant's max_open_volumes in opens_conf */

static const char opens_conf[] = "[volume kv]\n"
				 "path = kv.img\n"
				 "create_size = 1M\n"
				 "\n"
				 "[volume files]\n"
				 "dir = files.d\n"
				 "size = 1M\n"
				 "\n"
				 "[tenant root]\n"
				 "uid = 0\n"
				 "volumes = kv:rw, files:rw\n"
				 "max_open_volumes = 8\n";

/*
 * The VM suite reuses this test on NVMe volumes: $RINGD_RESTART_CONF_FILE
 * replaces the config (its volume must be called $RINGD_RESTART_VOLUME,
 * default "kv") and $RINGD_RESTARTS the number of restarts.
 */
static const char *restart_volume(void)
{
	const char *v = getenv("RINGD_RESTART_VOLUME");

	return v && *v ? v : "kv";
}

static unsigned int restart_count(void)
{
	const char *v = getenv("RINGD_RESTARTS");

	return v && *v ? (unsigned int)strtoul(v, NULL, 10) : NRESTARTS;
}

/* The config body: the file named by $RINGD_RESTART_CONF_FILE, or conf. */
static const char *restart_conf(void)
{
	static char body[8192];
	const char *path = getenv("RINGD_RESTART_CONF_FILE");
	size_t n;
	FILE *f;

	if (!path || !*path)
		return conf;
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	n = fread(body, 1, sizeof(body) - 1, f);
	fclose(f);
	body[n] = '\0';
	return body;
}

static void on_usr1(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void fail(struct client_result *r, int err)
{
	r->errors++;
	if (!r->first_error)
		r->first_error = err;
}

/* Submit @n prepared SQEs and collect exactly @n completions. */
static int run_batch(struct ringd *rd, unsigned int n, int32_t *res)
{
	unsigned int got = 0;
	int ret = ringd_submit(rd);

	if (ret < 0)
		return ret;
	while (got < n) {
		struct ringd_cqe *cqe;

		ret = ringd_wait_cqe(rd, &cqe);
		if (ret)
			return ret;
		if (cqe->user_data >= n)
			return -EPROTO;
		res[cqe->user_data] = cqe->res;
		ringd_cqe_seen(rd, cqe);
		got++;
	}
	return 0;
}

/* One client process: returns 0 and fills @r. */
/*
 * Open a volume and a locked file of a directory volume, close both, again
 * and again while the daemon is killed. Every call must succeed (a replay
 * that opened a second handle would find the file locked by the first),
 * and at the end the session must have all its handles free: @r->lost
 * counts those a replay left open.
 */
static int opens_main(struct ringd *rd, uint32_t client, int ready_fd, struct client_result *r)
{
	int h[OPENS_MAX], n = 0, hv, hf, ret;
	sigset_t usr1, pending;
	char path[32];

	/* The stop signal is looked for between rounds: it interrupts no call
	 * (an interrupted open would leave a handle the client lost track of). */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	snprintf(path, sizeof(path), "client%u.dat", client);
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	while (!r->errors && !(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1))) {
		hv = ringd_open(rd, "kv", RINGD_RDWR, NULL);
		hf = ringd_open_file(rd, "files", path, RINGD_RDWR | RINGD_CREAT | RINGD_LOCK, 0600,
				     NULL);
		if (hv < 0)
			fail(r, hv);
		if (hf < 0)
			fail(r, hf);
		if (hv >= 0 && (ret = ringd_close(rd, hv)))
			fail(r, ret);
		if (hf >= 0 && (ret = ringd_close(rd, hf)))
			fail(r, ret);
		r->writes_acked++;
	}
	/* Nothing of ours is open: every handle of the session must be free. */
	while (n < OPENS_MAX && (h[n] = ringd_open(rd, "kv", RINGD_RDONLY, NULL)) >= 0)
		n++;
	r->lost = (uint64_t)(OPENS_MAX - n);
	while (n)
		ringd_close(rd, h[--n]);
	ringd_disconnect(rd);
	return r->errors || r->lost ? 1 : 0;
}

static int client_main(const char *sock, uint32_t client, int ready_fd, struct client_result *r)
{
	struct ringd_opts o = {
		.socket_path = sock, .sq_entries = 64, .cq_entries = 128, .buf_size = 1u << 20
	};
	uint32_t version[NBLOCKS] = { 0 };
	uint64_t base = (uint64_t)client * NBLOCKS * BS;
	struct ringd *rd;
	uint8_t *bufs[BATCH];
	struct iovec *iov;
	uint32_t blocks[BATCH];
	int32_t res[BATCH + 1];
	unsigned int i, iter = 0;
	int h, ret;

	memset(r, 0, sizeof(*r));
	signal(SIGUSR1, on_usr1);
	ret = ringd_connect(&o, &rd);
	if (ret) {
		fail(r, ret);
		return 1;
	}
	if (g_opens)
		return opens_main(rd, client, ready_fd, r);
	if (g_files) {
		/* Its own file of a directory volume, locked: a restart must
		 * keep (fd store) or take again (reconnect) both. */
		char path[32];

		snprintf(path, sizeof(path), "client%u.dat", client);
		h = ringd_open_file(rd, "files", path, RINGD_RDWR | RINGD_CREAT | RINGD_LOCK, 0600,
				    NULL);
		base = 0;
		/* Reads of blocks never written are full (zeros), as on a volume. */
		ret = h < 0 ? 0 : ringd_truncate(rd, h, (uint64_t)NBLOCKS * BS);
		if (ret) {
			fail(r, ret);
			return 1;
		}
	} else
		h = ringd_open(rd, restart_volume(), RINGD_RDWR, NULL);
	if (h < 0) {
		fail(r, h);
		return 1;
	}
	for (i = 0; i < BATCH; i++)
		bufs[i] = ringd_buf_alloc(rd, BS, BS);
	iov = ringd_buf_alloc(rd, 2 * BATCH * sizeof(*iov), 64);
	if (!iov) {
		fail(r, -ENOMEM);
		return 1;
	}
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	srand(client * 7919 + 1);
	while (!g_stop) {
		/*
		 * Writes: BATCH distinct blocks, each to its next version;
		 * every other one vectored (two halves), every third durable,
		 * and every fourth batch ends in a flush linked behind its
		 * last write, so restarts find held and vectored requests.
		 */
		bool flush = ++iter % 4 == 0;

		for (i = 0; i < BATCH; i++) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);

			blocks[i] =
			    (uint32_t)((unsigned int)rand() % (NBLOCKS / BATCH)) * BATCH + i;
			fill_block(bufs[i], client, blocks[i], version[blocks[i]] + 1);
			if (i % 2) {
				iov[2 * i].iov_base = bufs[i];
				iov[2 * i].iov_len = BS / 2;
				iov[2 * i + 1].iov_base = bufs[i] + BS / 2;
				iov[2 * i + 1].iov_len = BS / 2;
				ringd_prep_writev(sqe, h, &iov[2 * i], 2,
						  base + (uint64_t)blocks[i] * BS);
			} else {
				ringd_prep_write(sqe, h, bufs[i], BS,
						 base + (uint64_t)blocks[i] * BS);
			}
			if (i % 3 == 0)
				ringd_sqe_set_rw_flags(sqe, RINGD_RW_DSYNC);
			if (flush && i == BATCH - 1)
				ringd_sqe_set_flags(sqe, RINGD_SQE_LINK);
			ringd_sqe_set_data64(sqe, i);
		}
		if (flush) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);

			ringd_prep_fsync(sqe, h, RINGD_FSYNC_DATASYNC);
			ringd_sqe_set_data64(sqe, BATCH);
		}
		ret = run_batch(rd, BATCH + flush, res);
		if (ret) {
			fail(r, ret);
			break;
		}
		for (i = 0; i < BATCH; i++) {
			if (res[i] != BS) {
				fail(r, res[i]);
				continue;
			}
			version[blocks[i]]++;
			r->writes_acked++;
		}
		if (flush) {
			if (res[BATCH]) {
				fail(r, res[BATCH]);
				break;
			}
			r->flushes++;
		}
		/* Reads: the blocks just written, then random ones; every other vectored. */
		for (i = 0; i < BATCH; i++) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);
			uint64_t off;

			if (i >= BATCH / 2)
				blocks[i] = (uint32_t)((unsigned int)rand() % NBLOCKS);
			memset(bufs[i], 0xee, BS);
			off = base + (uint64_t)blocks[i] * BS;
			if (i % 2) {
				iov[2 * i].iov_base = bufs[i] + BS / 2;
				iov[2 * i].iov_len = BS / 2;
				iov[2 * i + 1].iov_base = bufs[i];
				iov[2 * i + 1].iov_len = BS / 2;
				/* Second half first in the file: swap the halves in memory. */
				ringd_prep_readv(sqe, h, &iov[2 * i], 2, off);
			} else {
				ringd_prep_read(sqe, h, bufs[i], BS, off);
			}
			ringd_sqe_set_data64(sqe, i);
		}
		ret = run_batch(rd, BATCH, res);
		if (ret) {
			fail(r, ret);
			break;
		}
		for (i = 0; i < BATCH; i++) {
			/* Two slots can name the same block: same version either way. */
			if (res[i] != BS) {
				fail(r, res[i]);
				continue;
			}
			if (i % 2)
				swap_halves(bufs[i]);
			check_block(bufs[i], client, blocks[i], version[blocks[i]], r);
		}
	}
	/* Final sweep: every acknowledged write is there. */
	for (i = 0; i < NBLOCKS && !r->errors; i += BATCH) {
		unsigned int k;

		for (k = 0; k < BATCH; k++) {
			struct ringd_sqe *sqe = ringd_get_sqe(rd);

			ringd_prep_read(sqe, h, bufs[k], BS, base + (uint64_t)(i + k) * BS);
			ringd_sqe_set_data64(sqe, k);
		}
		ret = run_batch(rd, BATCH, res);
		if (ret) {
			fail(r, ret);
			break;
		}
		for (k = 0; k < BATCH; k++)
			check_block(bufs[k], client, i + k, version[i + k], r);
	}
	ringd_disconnect(rd);
	return r->errors || r->lost || r->stale ? 1 : 0;
}

static struct rt_daemon g_d;
static struct rt_notify g_n;

/* Launch ringd (with the stored fds if @use_store) and wait for READY=1. */
static void launch(bool use_store)
{
	int ret = rt_notify_launch(&g_n, &g_d, use_store);

	cr_assert_eq(ret, 0, "no READY=1 after a restart (see the log): %s", strerror(-ret));
}

static void kill_loop(bool use_store, const char *what)
{
	struct client_result res[NCLIENTS];
	int pipes[NCLIENTS][2], ready[2];
	uint64_t acked = 0, verified = 0, flushes = 0, lost = 0, stale = 0, errors = 0;
	pid_t pids[NCLIENTS];
	unsigned int i, readies = 0;
	char c;
	int ret;

	ret = rt_daemon_prepare(&g_d, g_opens ? opens_conf : g_files ? files_conf : restart_conf());
	cr_assert_eq(ret, 0);
	ret = rt_notify_open(&g_n, g_d.dir);
	cr_assert_eq(ret, 0);
	g_n.discard_fds = !use_store;
	launch(use_store);
	cr_assert_eq(pipe(ready), 0);
	for (i = 0; i < NCLIENTS; i++) {
		cr_assert_eq(pipe(pipes[i]), 0);
		pids[i] = fork();
		if (pids[i] == 0) {
			struct client_result r;
			int rc;

			close(ready[0]);
			rc = client_main(g_d.sock, i, ready[1], &r);
			if (write(pipes[i][1], &r, sizeof(r)) != sizeof(r))
				_exit(3);
			_exit(rc);
		}
		close(pipes[i][1]);
	}
	close(ready[1]);
	for (i = 0; i < NCLIENTS; i++)
		cr_assert_eq(read(ready[0], &c, 1), 1, "client %u did not start", i);
	srand(12345);
	for (i = 0; i < restart_count(); i++) {
		int status;

		usleep(20000 + (unsigned int)(rand() % 130000));
		kill(g_d.pid, SIGKILL);
		waitpid(g_d.pid, &status, 0);
		g_d.pid = -1;
		launch(use_store);
		readies++;
	}
	usleep(100000);
	for (i = 0; i < NCLIENTS; i++)
		kill(pids[i], SIGUSR1);
	for (i = 0; i < NCLIENTS; i++) {
		int rc = rt_wait_child(pids[i]);

		cr_assert_eq(read(pipes[i][0], &res[i], sizeof(res[i])), (ssize_t)sizeof(res[i]),
			     "client %u (exit %d) sent no result", i, rc);
		close(pipes[i][0]);
		acked += res[i].writes_acked;
		verified += res[i].reads_verified;
		flushes += res[i].flushes;
		lost += res[i].lost;
		stale += res[i].stale;
		errors += res[i].errors;
		cr_expect_eq(res[i].errors, 0, "client %u saw %llu errors (first: %s)", i,
			     (unsigned long long)res[i].errors, strerror(-res[i].first_error));
	}
	fprintf(stderr,
		"kill loop (%s): %u restarts, %u READY, %llu acknowledged writes, %llu reads "
		"verified, %llu flushes, lost %llu, stale %llu, client errors %llu\n",
		what, restart_count(), readies, (unsigned long long)acked,
		(unsigned long long)verified, (unsigned long long)flushes, (unsigned long long)lost,
		(unsigned long long)stale, (unsigned long long)errors);
	cr_assert_eq(readies, restart_count());
	cr_assert_eq(lost, 0, "%llu %s", (unsigned long long)lost,
		     g_opens ? "handles left open by replays" : "acknowledged writes lost");
	cr_assert_eq(stale, 0, "%llu stale reads", (unsigned long long)stale);
	cr_assert_eq(errors, 0);
	cr_assert_gt(acked, 0);
	ret = rt_daemon_stop(&g_d);
	rt_notify_close(&g_n);
	cr_assert_eq(ret, 0, "ringd exited with %d", ret);
}

Test(restart, sigkill_loop_with_fd_store_loses_nothing, .timeout = 300)
{
	kill_loop(true, "fd store");
}

Test(restart, sigkill_loop_without_fd_store_clients_reconnect, .timeout = 300)
{
	kill_loop(false, "no fd store, client reconnect");
}

/* The same on locked files of a directory volume: the fd store keeps the
 * files and their locks; a reconnect opens and locks them again. */
Test(restart, sigkill_loop_on_directory_volume_files_with_fd_store, .timeout = 300)
{
	g_files = true;
	kill_loop(true, "directory volume, fd store");
}

Test(restart, sigkill_loop_on_directory_volume_files_clients_reconnect, .timeout = 300)
{
	g_files = true;
	kill_loop(false, "directory volume, no fd store, client reconnect");
}

/*
 * Opens and closes across restarts with the fd store, end to end: every
 * open and close succeeds (a locked file opened twice by one session would
 * be -EBUSY) and no handle is left behind. An open the daemon carried out
 * but did not answer before it died is sent again (replayed) and must get
 * the handle the first try opened; that window is a few microseconds, so
 * this loop rarely lands in it (sessions::a_replayed_open_gets_the_handle_
 * its_first_try_opened pins the rule). writes_acked counts rounds here.
 */
Test(restart, sigkill_loop_replayed_opens_leave_no_handle_behind, .timeout = 300)
{
	g_opens = true;
	kill_loop(true, "opens and closes, fd store");
}

/*
 * H25: a tenant tampers with its shared state while the daemon is down.
 * The restarted daemon takes layout and ring positions from its journal
 * only: the tampered session is isolated (its CQ head is out of range),
 * the honest one carries on with correct data, and the shared indices the
 * tenant overwrote are rewritten from the journal.
 */
Test(restart, h25_tampering_while_down_trusts_only_the_journal, .timeout = 120)
{
	struct hc a, b;
	struct ringd_cqe cqe;
	uint32_t a_sq_head, b_sq_head, b_cq_tail;
	int ha, hb, ret, status;

	ret = rt_daemon_prepare(&g_d, hs_config("30s"));
	cr_assert_eq(ret, 0);
	ret = rt_notify_open(&g_n, g_d.dir);
	cr_assert_eq(ret, 0);
	launch(true);
	cr_assert_eq(hc_attach(g_d.sock, 16, 32, 65536, &a), 0);
	cr_assert_eq(hc_attach(g_d.sock, 16, 32, 65536, &b), 0);
	ha = hc_open(&a, "hostile", RINGD_RDWR);
	hb = hc_open(&b, "hostile", RINGD_RDWR);
	cr_assert_geq(ha, 0);
	cr_assert_geq(hb, 0);
	/* Each writes one verified block. */
	rt_fill(a.data, 4096, 1, 0);
	rt_fill(b.data, 4096, 2, 4096);
	hc_prep_rw(hc_sqe(&a), RINGD_OP_WRITE, ha, 0, 0, 4096, 1);
	hc_submit(&a);
	hc_prep_rw(hc_sqe(&b), RINGD_OP_WRITE, hb, 4096, 0, 4096, 2);
	hc_submit(&b);
	cr_assert_eq(hc_reap(&a, &cqe, 1, 5000), 1);
	cr_assert_eq(cqe.res, 4096);
	cr_assert_eq(hc_reap(&b, &cqe, 1, 5000), 1);
	cr_assert_eq(cqe.res, 4096);
	a_sq_head = ringd_load_acquire(&a.hdr->sq_head);
	b_sq_head = ringd_load_acquire(&b.hdr->sq_head);
	b_cq_tail = ringd_load_acquire(&b.hdr->cq_tail);

	kill(g_d.pid, SIGKILL);
	waitpid(g_d.pid, &status, 0);
	g_d.pid = -1;
	/* Tamper with everything the tenant can write, and with what it must not. */
	a.hdr->sq_entries = 1;
	a.hdr->cq_entries = 1u << 30;
	a.hdr->data_size = UINT64_MAX;
	a.hdr->region_size = 1;
	a.hdr->sq_head = 0xdead;
	a.hdr->cq_tail = 0xbeef;
	a.hdr->cq_head = 0x7fffffff; /* far beyond what was posted */
	b.hdr->sq_head = 0x1234;     /* the honest one's too: rewritten */
	b.hdr->cq_tail = 0x4321;
	launch(true);

	cr_assert_eq(hc_wait_broken(&a, 5000), RINGD_BROKEN_CQ_HEAD,
		     "the tampered session must be isolated");
	cr_assert_eq(ringd_load_acquire(&a.hdr->sq_head), a_sq_head,
		     "SQ head not restored from the journal");
	cr_assert_eq(ringd_load_acquire(&b.hdr->sq_head), b_sq_head);
	cr_assert_eq(ringd_load_acquire(&b.hdr->cq_tail), b_cq_tail);
	/* The honest session reads its block back, and A's is intact. */
	memset(b.data, 0, 8192);
	hc_prep_rw(hc_sqe(&b), RINGD_OP_READ, hb, 4096, 0, 4096, 3);
	hc_prep_rw(hc_sqe(&b), RINGD_OP_READ, hb, 0, 4096, 4096, 4);
	hc_submit(&b);
	cr_assert_eq(hc_reap(&b, &cqe, 1, 5000), 1);
	cr_assert_eq(cqe.res, 4096);
	cr_assert_eq(hc_reap(&b, &cqe, 1, 5000), 1);
	cr_assert_eq(cqe.res, 4096);
	cr_assert_eq(rt_check(b.data, 4096, 2, 4096), -1);
	cr_assert_eq(rt_check(b.data + 4096, 4096, 1, 0), -1);
	cr_assert_eq(hs_probe(&g_d), 0, "the daemon must still serve new sessions");
	hc_detach(&a);
	hc_detach(&b);
	ret = rt_daemon_stop(&g_d);
	rt_notify_close(&g_n);
	cr_assert_eq(ret, 0);
}
