/* SPDX-License-Identifier: MIT */
/*
 * NVMe over Fabrics, run INSIDE the VM (tests/vm/run-vm.sh with the nvmet,
 * nvmet-tcp and nvme-tcp modules) by test-vm: an nvmet target in the same
 * guest exports nvme1n1 (the emulated controller without poll queues) as
 * namespace 1 of FAB_NQN on a TCP port at 127.0.0.1:4420, and ringd
 * connects it itself from a [fabric] section and serves four windows of
 * it, found by NQN:NSID on the multipath head: block I/O by interrupts,
 * polled block I/O over the TCP poll queue, passthrough on the head's
 * /dev/ngXnY, and block I/O with on_path_loss = fail.
 *
 * Path loss is the target's port losing the subsystem (configfs: the
 * port's link to it removed), which is what a dead switch port or a
 * target reboot looks like to the host: its queues drop, it reconnects
 * every reconnect_delay, fails held I/O after fast_io_fail_tmo and gives
 * up after ctrl_loss_tmo.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fabric.h"
#include "harness.h"
#include "pathio.h"

#define BS	     4096u
#define FAB_NQN	     "nqn.2026-01.org.example:store1"
#define FAB_FAIL_S   3 /* fast_io_fail_tmo */
#define NVMET	     "/sys/kernel/config/nvmet"
#define NVMET_SUBSYS NVMET "/subsystems/" FAB_NQN
#define NVMET_PORT   NVMET "/ports/1"
#define NVMET_LINK   NVMET_PORT "/subsystems/" FAB_NQN

static struct rt_daemon g_d;

static const char conf_fabric[] =
    "[daemon]\n"
    "socket = @DIR@/ringd.sock\n"
    "state_dir = @DIR@/state\n"
    "log_level = info\n"
    "[fabric store1]\n"
    "transport = tcp\n"
    "traddr = 127.0.0.1\n"
    "trsvcid = 4420\n"
    "nqn = " FAB_NQN "\n"
    "hostnqn = nqn.2026-01.org.example:ringd-vm\n"
    "nr_poll_queues = 1\n"
    "ctrl_loss_tmo = 60s\n"
    "fast_io_fail_tmo = 3s\n"
    "reconnect_delay = 1s\n"
    "[volume fintr]\n"
    "nvme = " FAB_NQN ":1\n"
    "offset = 0\nsize = 32M\ndirect = yes\npoll = off\npassthrough = off\n"
    "[volume fpoll]\n"
    "nvme = " FAB_NQN ":1\n"
    "offset = 32M\nsize = 32M\ndirect = yes\npoll = on\npassthrough = off\n"
    "[volume fpt]\n"
    "nvme = " FAB_NQN ":1\n"
    "offset = 64M\nsize = 32M\npoll = off\npassthrough = on\n"
    "[volume ffail]\n"
    "nvme = " FAB_NQN ":1\n"
    "offset = 96M\nsize = 32M\ndirect = yes\npoll = off\npassthrough = off\n"
    "on_path_loss = fail\n"
    "[tenant root]\n"
    "uid = 0\n"
    "volumes = fintr:rw, fpoll:rw, fpt:rw, ffail:rw\n";

/* The four volumes, and the path each must take. */
static const char *const fab_vols[] = { "fintr", "fpoll", "fpt", "ffail" };
#define NFAB (sizeof(fab_vols) / sizeof(fab_vols[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	n = write(fd, val, strlen(val));
	cr_assert_eq(n, (ssize_t)strlen(val), "write '%s' to %s: %s", val, path, strerror(errno));
	close(fd);
}

static void mkdir_ok(const char *path)
{
	cr_assert(!mkdir(path, 0755) || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
}

/* Bring the loopback interface up (the guest init leaves it down). */
static void lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(s, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	cr_assert(!ioctl(s, SIOCGIFFLAGS, &ifr), "SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	cr_assert(!ioctl(s, SIOCSIFFLAGS, &ifr), "SIOCSIFFLAGS lo: %s", strerror(errno));
	close(s);
}

/* The port links the subsystem (the path is there) or not. */
static void port_link(bool on)
{
	if (on) {
		cr_assert(!symlink(NVMET_SUBSYS, NVMET_LINK) || errno == EEXIST, "link port: %s",
			  strerror(errno));
	} else {
		cr_assert(!unlink(NVMET_LINK), "unlink port: %s", strerror(errno));
	}
}

/* The nvmet target (idempotent: every test starts from it, port linked). */
static void target_up(void)
{
	if (access("/dev/nvme1n1", F_OK) || access("/sys/module/nvmet_tcp", F_OK) ||
	    access("/sys/module/nvme_tcp", F_OK))
		cr_skip_test("no nvme1n1, nvmet-tcp or nvme-tcp: this suite runs inside "
			     "tests/vm/run-vm.sh --nvme2 --module nvmet-tcp --module nvme-tcp");
	if (access(NVMET, F_OK))
		cr_assert(!mount("configfs", "/sys/kernel/config", "configfs", 0, NULL),
			  "mount configfs: %s", strerror(errno));
	lo_up();
	if (access(NVMET_SUBSYS, F_OK)) {
		mkdir_ok(NVMET_SUBSYS);
		put(NVMET_SUBSYS "/attr_allow_any_host", "1");
		mkdir_ok(NVMET_SUBSYS "/namespaces/1");
		put(NVMET_SUBSYS "/namespaces/1/device_path", "/dev/nvme1n1");
		put(NVMET_SUBSYS "/namespaces/1/enable", "1");
	}
	if (access(NVMET_PORT, F_OK)) {
		mkdir_ok(NVMET_PORT);
		put(NVMET_PORT "/addr_trtype", "tcp");
		put(NVMET_PORT "/addr_adrfam", "ipv4");
		put(NVMET_PORT "/addr_traddr", "127.0.0.1");
		put(NVMET_PORT "/addr_trsvcid", "4420");
	}
	port_link(true);
}

static void start(void)
{
	target_up();
	rt_daemon_start(&g_d, conf_fabric);
}

static void stop(void)
{
	int status;

	port_link(true); /* whatever the test did, the next one finds the path */
	status = rt_daemon_stop(&g_d);
	cr_assert_eq(status, 0, "ringd exited with status %d (see its log above)", status);
}

/* The fabric entry of ringd-probe --json for [fabric store1], its state in @state. */
static bool probe_fabric_state(char *state, size_t len)
{
	json_object *root = rp_probe_json(g_d.conf), *a, *f, *x;
	bool found = false;
	size_t i;

	if (!root)
		return false;
	if (json_object_object_get_ex(root, "fabrics", &a)) {
		for (i = 0; i < json_object_array_length(a) && !found; i++) {
			f = json_object_array_get_idx(a, i);
			if (!json_object_object_get_ex(f, "name", &x) ||
			    !json_object_get_string(x) ||
			    strcmp(json_object_get_string(x), "store1"))
				continue;
			found = json_object_object_get_ex(f, "state", &x);
			snprintf(state, len, "%s", found ? json_object_get_string(x) : "");
		}
	}
	json_object_put(root);
	return found;
}

/*
 * ringd connects the controller itself, finds the namespace by NQN on the
 * multipath head, and serves every path on it; a second daemon start finds
 * it connected and does not connect again.
 */
Test(fabric, connects_and_serves_every_path, .init = start, .fini = stop)
{
	struct ringd_stats st;
	char state[32] = "";

	cr_assert(rp_log_has(&g_d, "fabric store1: nvme"), "no fabric log line");
	cr_expect(rp_log_has(&g_d, "volume fintr: over tcp, subsystem " FAB_NQN));
	rp_roundtrip(&g_d, "fintr", BS, 4, 8, 301, true, &st);
	cr_expect_eq(st.completions_interrupt, 17, "fintr: interrupt %llu",
		     (unsigned long long)st.completions_interrupt);
	rp_roundtrip(&g_d, "fpoll", BS, 4, 8, 302, false, &st);
	cr_expect_eq(st.completions_polled, 16, "fpoll: polled %llu (over the TCP poll queue)",
		     (unsigned long long)st.completions_polled);
	rp_roundtrip(&g_d, "fpt", BS, 4, 8, 303, true, &st);
	cr_expect_eq(st.completions_passthrough, 17, "fpt: passthrough %llu",
		     (unsigned long long)st.completions_passthrough);
	rp_roundtrip(&g_d, "ffail", BS, 4, 8, 304, false, &st);
	/* The bytes are on the target's disk (nvmet writes nvme1n1 by bios,
	 * and nothing read it through the page cache before). */
	{
		static uint8_t disk[4 * BS] __attribute__((aligned(4096)));
		long bad;

		cr_assert_eq(rt_pread_file("/dev/nvme1n1", disk, sizeof(disk), 0), 0);
		bad = rt_check(disk, sizeof(disk), 301, 0);
		cr_expect_eq(bad, -1, "nvme1n1 (the target's disk) differs at byte %ld", bad);
	}
	cr_assert(probe_fabric_state(state, sizeof(state)), "ringd-probe shows no [fabric store1]");
	cr_expect_str_eq(state, "live");
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "'%s' --check-config '%s'", rt_ringd_bin(), g_d.conf);
		cr_expect_eq(system(cmd), 0, "ringd --check-config on the running setup");
	}
	/* A restart finds the controller connected. */
	cr_assert_eq(rt_daemon_stop(&g_d), 0);
	rt_daemon_start(&g_d, conf_fabric);
	cr_expect(rp_log_has(&g_d, "fabric store1: nvme"));
	cr_expect(rp_log_has(&g_d, "already connected"), "the restart connected again");
	rp_roundtrip(&g_d, "fpt", BS, 2, 4, 305, false, &st);
}

struct inflight {
	int h;
	void *buf;
	double done; /* seconds after the port went away; < 0: not yet */
	int res;
};

/*
 * Submit one 4 KiB read on each volume; its user_data is its index. The
 * passthrough one last: while the daemon holds it (on_path_loss = wait),
 * the SQEs behind it in the SQ wait too.
 */
static void read_all(struct ringd *rd, struct inflight *io)
{
	static const unsigned int order[NFAB] = { 0, 1, 3, 2 };
	unsigned int k, i;

	for (k = 0; k < NFAB; k++) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);

		i = order[k];

		cr_assert_not_null(sqe);
		ringd_prep_read(sqe, io[i].h, io[i].buf, BS, 8 * BS);
		ringd_sqe_set_data64(sqe, i);
		io[i].done = -1;
	}
	cr_assert_eq(ringd_submit(rd), (int)NFAB);
}

/* Reap the NFAB completions of read_all(), timed from @t0. */
static void reap_all(struct ringd *rd, struct inflight *io, double t0)
{
	unsigned int n;

	for (n = 0; n < NFAB; n++) {
		struct ringd_cqe *cqe;
		uint64_t i;

		cr_assert_eq(ringd_wait_cqe_timeout(rd, &cqe, 60000), 0,
			     "a read did not complete within 60 s of the path loss");
		i = ringd_cqe_get_data64(cqe);
		cr_assert_lt(i, NFAB);
		io[i].res = cqe->res;
		io[i].done = now_s() - t0;
		ringd_cqe_seen(rd, cqe);
	}
}

/*
 * The port goes away: every path's I/O fails with -EIO, never -EINVAL;
 * on_path_loss = fail at once, the block paths (wait) when
 * fast_io_fail_tmo runs out (the kernel holds them), passthrough (wait)
 * then too (the daemon holds it: the kernel does not); ringd-probe says the controller is
 * reconnecting; the daemon stays up. The port comes back within ctrl_loss_tmo: new I/O on every
 * path succeeds on the same sessions, without a restart.
 */
Test(fabric, path_loss_fails_with_eio_then_recovers, .init = start, .fini = stop, .timeout = 600)
{
	struct inflight io[NFAB];
	struct ringd_stats st;
	char state[32] = "";
	double t0, t_seen, t_back;
	struct ringd *rd;
	unsigned int i;
	int ret;

	ret = rt_connect(&g_d, 16, 32, 1u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	for (i = 0; i < NFAB; i++) {
		struct ringd_volume_info info;

		io[i].h = ringd_open(rd, fab_vols[i], RINGD_RDWR, &info);
		cr_assert_geq(io[i].h, 0, "open %s: %d", fab_vols[i], io[i].h);
		io[i].buf = ringd_buf_alloc(rd, BS, 4096);
		cr_assert_not_null(io[i].buf);
	}
	read_all(rd, io);
	reap_all(rd, io, now_s());
	for (i = 0; i < NFAB; i++)
		cr_assert_eq(io[i].res, (int)BS, "%s before the loss: %d", fab_vols[i], io[i].res);

	port_link(false);
	t0 = now_s();
	cr_assert(rt_wait_for(10000, rp_log_has(&g_d, "volume ffail: no live path")),
		  "the daemon did not see the path loss within 10 s");
	t_seen = now_s() - t0;
	read_all(rd, io);
	reap_all(rd, io, t0);
	for (i = 0; i < NFAB; i++) {
		printf("fabric: %s: res %d after %.2f s of path loss\n", fab_vols[i], io[i].res,
		       io[i].done);
		cr_expect_eq(io[i].res, -EIO, "%s: %d (%s), expected -EIO", fab_vols[i], io[i].res,
			     strerror(-io[i].res));
		cr_expect_leq(io[i].done, FAB_FAIL_S + 2.0, "%s: failed after %.2f s", fab_vols[i],
			      io[i].done);
	}
	printf("fabric: the daemon saw the loss after %.2f s\n", t_seen);
	/* fail: at once once seen; wait: held until fast_io_fail_tmo. */
	cr_expect_leq(io[3].done - t_seen, 0.5, "ffail (on_path_loss = fail) took %.2f s",
		      io[3].done - t_seen);
	cr_expect_geq(io[0].done, FAB_FAIL_S - 1.0, "fintr (wait) failed after only %.2f s",
		      io[0].done);
	cr_expect_geq(io[2].done, FAB_FAIL_S - 1.0, "fpt (wait) failed after only %.2f s",
		      io[2].done);
	cr_expect(probe_fabric_state(state, sizeof(state)));
	cr_expect(!strcmp(state, "connecting") || !strcmp(state, "resetting"),
		  "ringd-probe state while the port is gone: '%s'", state);
	cr_assert_eq(kill(g_d.pid, 0), 0, "ringd died on the path loss");

	port_link(true);
	t0 = now_s();
	cr_assert(rt_wait_for(30000, kf_subsys_live(FAB_NQN) == 1),
		  "the controller did not reconnect within 30 s");
	t_back = now_s() - t0;
	cr_assert(rt_wait_for(5000, rp_log_has(&g_d, "volume ffail: a path to")),
		  "the daemon did not log the path coming back");
	printf("fabric: reconnected %.2f s after the port came back\n", t_back);
	read_all(rd, io);
	reap_all(rd, io, now_s());
	for (i = 0; i < NFAB; i++)
		cr_expect_eq(io[i].res, (int)BS, "%s after the path came back: %d", fab_vols[i],
			     io[i].res);
	cr_expect(probe_fabric_state(state, sizeof(state)));
	cr_expect_str_eq(state, "live");
	ringd_disconnect(rd);
	/* Verified writes and reads on every path of the same daemon. */
	rp_roundtrip(&g_d, "fintr", BS, 2, 4, 311, true, &st);
	rp_roundtrip(&g_d, "fpoll", BS, 2, 4, 312, false, &st);
	rp_roundtrip(&g_d, "fpt", BS, 2, 4, 313, true, &st);
	rp_roundtrip(&g_d, "ffail", BS, 2, 4, 314, false, &st);
}

/*
 * A path loss shorter than fast_io_fail_tmo: with on_path_loss = wait,
 * reads issued while no path is live are held (by the kernel on the block
 * path, by the daemon on passthrough) and succeed once the host has
 * reconnected; on_path_loss = fail has failed at once meanwhile.
 */
Test(fabric, short_path_loss_holds_then_succeeds, .init = start, .fini = stop, .timeout = 600)
{
	struct inflight io[NFAB];
	struct ringd *rd;
	unsigned int i;
	double t0;
	int ret;

	ret = rt_connect(&g_d, 16, 32, 1u << 20, &rd);
	cr_assert_eq(ret, 0, "connect: %s", strerror(-ret));
	for (i = 0; i < NFAB; i++) {
		io[i].h = ringd_open(rd, fab_vols[i], RINGD_RDWR, NULL);
		cr_assert_geq(io[i].h, 0, "open %s: %d", fab_vols[i], io[i].h);
		io[i].buf = ringd_buf_alloc(rd, BS, 4096);
		cr_assert_not_null(io[i].buf);
	}
	port_link(false);
	t0 = now_s();
	cr_assert(rt_wait_for(10000, rp_log_has(&g_d, "volume ffail: no live path")),
		  "the daemon did not see the path loss within 10 s");
	read_all(rd, io);
	/* Back well within fast_io_fail_tmo. */
	usleep(300000);
	port_link(true);
	reap_all(rd, io, t0);
	for (i = 0; i < NFAB; i++)
		printf("fabric: short loss: %s: res %d after %.2f s\n", fab_vols[i], io[i].res,
		       io[i].done);
	cr_expect_eq(io[3].res, -EIO, "ffail (fail): %d", io[3].res);
	for (i = 0; i < 3; i++)
		cr_expect_eq(io[i].res, (int)BS, "%s (wait) after a short loss: %d (%s)",
			     fab_vols[i], io[i].res, strerror(-io[i].res));
	ringd_disconnect(rd);
}
