/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>

#include "ringd.h"
#include "ringd.pb-c.h"

const char *rt_ringd_bin(void)
{
	const char *p = getenv("RINGD_BIN");

	return p && *p ? p : RINGD_BIN;
}

const char *rt_ringd_io_bin(void)
{
	const char *p = getenv("RINGD_IO_BIN");

	return p && *p ? p : RINGD_IO_BIN;
}

static char rt_stage[64];

static void rt_stage_cleanup(void)
{
	char cmd[128];

	if (!rt_stage[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt_stage);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", rt_stage);
}

/* Copy @from to @to with mode 0755. Returns 0 or -errno. */
static int rt_copy(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out, ret = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			ret = -EIO;
			break;
		}
	if (n < 0)
		ret = -errno;
	close(in);
	close(out);
	return ret;
}

const char *rt_stage_dir(void)
{
	char lib[128];

	if (rt_stage[0])
		return rt_stage;
	snprintf(rt_stage, sizeof(rt_stage), "/var/tmp/ringd-bin.XXXXXX");
	if (!mkdtemp(rt_stage) || chmod(rt_stage, 0755) < 0) {
		rt_stage[0] = '\0';
		return NULL;
	}
	atexit(rt_stage_cleanup);
	snprintf(lib, sizeof(lib), "%s/libringd.so.0", rt_stage);
	rt_copy(RINGD_LIBRINGD, lib);
	return rt_stage;
}

const char *rt_stage_bin(const char *bin)
{
	static char paths[8][128];
	static unsigned int n;
	const char *dir = rt_stage_dir(), *base = strrchr(bin, '/');
	char *p = paths[n++ % 8];

	if (!dir)
		return bin;
	snprintf(p, 128, "%s/%s", dir, base ? base + 1 : bin);
	if (access(p, X_OK) && rt_copy(bin, p))
		return bin;
	return p;
}

/* Write @body to @path replacing @DIR@ with @dir. */
static int rt_write_conf(const char *path, const char *body, const char *dir, bool add_daemon)
{
	FILE *f = fopen(path, "we");
	const char *p;

	if (!f)
		return -errno;
	if (add_daemon)
		fprintf(
		    f, "[daemon]\nsocket = %s/ringd.sock\nstate_dir = %s/state\nlog_level = %s\n\n",
		    dir, dir,
		    getenv("RINGD_TEST_LOG_LEVEL") ? getenv("RINGD_TEST_LOG_LEVEL") : "info");
	for (p = body; *p; p++) {
		if (!strncmp(p, "@DIR@", 5)) {
			fputs(dir, f);
			p += 4;
		} else {
			fputc(*p, f);
		}
	}
	return fclose(f) ? -errno : 0;
}

int rt_daemon_prepare(struct rt_daemon *d, const char *conf_body)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	snprintf(d->dir, sizeof(d->dir), "/var/tmp/ringd-test.XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	/* Test tenants run as other uids: they must reach the socket. */
	if (chmod(d->dir, 0755) < 0)
		return -errno;
	snprintf(d->sock, sizeof(d->sock), "%s/ringd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/ringd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/ringd.log", d->dir);
	ret = rt_write_conf(d->conf, conf_body, d->dir, !strstr(conf_body, "[daemon]"));
	return ret;
}

void rt_print_log(const struct rt_daemon *d)
{
	char buf[4096];
	FILE *f = fopen(d->log, "re");
	size_t n;

	if (!f)
		return;
	fprintf(stderr, "---- ringd log (%s)\n", d->log);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "----\n");
	fclose(f);
}

static bool rt_can_connect(const char path[100])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int rt_daemon_launch_with(struct rt_daemon *d, void (*setup)(void *), void *arg,
			  const char *const *argv_prefix, bool wait_ready)
{
	int status, i;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		const char *argv[32];
		int n = 0;

		/* A test killed on a timeout must not leave its daemon behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		if (setup)
			setup(arg);
		if (argv_prefix)
			for (; argv_prefix[n] && n < 28; n++)
				argv[n] = argv_prefix[n];
		else
			argv[n++] = rt_ringd_bin();
		argv[n++] = "-c";
		argv[n++] = d->conf;
		argv[n] = NULL;
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	d->pid = pid;
	if (!wait_ready)
		return 0;
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = -1;
			rt_print_log(d);
			return -ECHILD;
		}
		if (rt_can_connect(d->sock))
			return 0;
		usleep(10000);
	}
	rt_print_log(d);
	return -ETIMEDOUT;
}

int rt_daemon_launch(struct rt_daemon *d)
{
	return rt_daemon_launch_with(d, NULL, NULL, NULL, true);
}

void rt_daemon_start(struct rt_daemon *d, const char *conf_body)
{
	int ret = rt_daemon_prepare(d, conf_body);

	cr_assert_eq(ret, 0, "prepare test directory: %s", strerror(-ret));
	ret = rt_daemon_launch(d);
	cr_assert_eq(ret, 0, "ringd did not start: %s", strerror(-ret));
}

int rt_daemon_stop(struct rt_daemon *d)
{
	char cmd[PATH_MAX + 16];
	int status = 0, ret = 0, i;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (i = 0; i < 1000; i++) {
			if (waitpid(d->pid, &status, WNOHANG) == d->pid)
				break;
			usleep(10000);
		}
		if (i == 1000) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
			ret = -ETIMEDOUT;
		} else {
			ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (ret)
			rt_print_log(d);
		d->pid = -1;
	}
	if (d->dir[0] && !getenv("RINGD_TEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", d->dir);
	}
	return ret;
}

int rt_daemon_rewrite_conf(const struct rt_daemon *d, const char *conf_body)
{
	char tmp[sizeof(d->conf) + 8];
	int ret;

	snprintf(tmp, sizeof(tmp), "%s.new", d->conf);
	ret = rt_write_conf(tmp, conf_body, d->dir, !strstr(conf_body, "[daemon]"));
	if (!ret && rename(tmp, d->conf) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int rt_log_count(const struct rt_daemon *d, const char *const *needles, char *last, size_t lastlen)
{
	FILE *f = fopen(d->log, "re");
	char line[2048];
	int n = 0;

	if (!f)
		return -errno;
	if (last && lastlen)
		last[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		const char *const *p;

		for (p = needles; *p; p++)
			if (strcasestr(line, *p))
				break;
		if (!*p)
			continue;
		n++;
		if (last && lastlen) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(last, lastlen, "%s", line);
		}
	}
	fclose(f);
	return n;
}

int rt_connect(const struct rt_daemon *d, unsigned int sq, unsigned int cq, size_t buf,
	       struct ringd **out)
{
	struct ringd_opts o = {
		.socket_path = d->sock, .sq_entries = sq, .cq_entries = cq, .buf_size = buf
	};

	return ringd_connect(&o, out);
}

int rt_connect_flags(const struct rt_daemon *d, unsigned int sq, unsigned int cq, size_t buf,
		     unsigned int flags, struct ringd **out)
{
	struct ringd_opts o = { .socket_path = d->sock,
				.sq_entries = sq,
				.cq_entries = cq,
				.buf_size = buf,
				.flags = flags };

	return ringd_connect(&o, out);
}

int rt_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int rt_admin_stats(const struct rt_daemon *d, struct rt_admin_stats *st)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t buf[4096];
	Ringd__Reply *r;
	ssize_t n;
	size_t len;
	int fd, ret = 0;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	h.abi_version = RINGD_ABI_VERSION;
	h.has_admin = 1;
	h.admin = 1;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	len = ringd__request__pack(&rq, buf);
	if (send(fd, buf, len, MSG_NOSIGNAL) < 0) {
		ret = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0) {
		ret = n ? -errno : -ECONNRESET;
		goto out;
	}
	r = ringd__reply__unpack(NULL, (size_t)n, buf);
	if (!r || r->msg_case != RINGD__REPLY__MSG_STATS) {
		ret = -EBADMSG;
		if (r)
			ringd__reply__free_unpacked(r, NULL);
		goto out;
	}
	st->sessions = r->stats->sessions;
	st->buffers_registered = r->stats->buffers_registered;
	st->files_registered = r->stats->files_registered;
	st->requests_inflight = r->stats->requests_inflight;
	st->sessions_cold = r->stats->sessions_cold;
	ringd__reply__free_unpacked(r, NULL);
out:
	close(fd);
	return ret;
}

static uint64_t rt_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

void rt_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(rt_mix(seed * 0x9e3779b97f4a7c15ull + ((off + i) & ~7ull)) >>
				 (((off + i) & 7) * 8));
}

long rt_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t want =
		    (uint8_t)(rt_mix(seed * 0x9e3779b97f4a7c15ull + ((off + i) & ~7ull)) >>
			      (((off + i) & 7) * 8));

		if (p[i] != want)
			return (long)i;
	}
	return -1;
}

int rt_pread_file(const char *path, void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int rt_pwrite_file(const char *path, const void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, buf, len, (off_t)off);
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

uint64_t rt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int rt_main_one_at_a_time(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	if (criterion_handle_args(argc, argv, true)) {
		criterion_options.jobs = 1;
		result = !criterion_run_all_tests(tests);
	}
	criterion_finalize(tests);
	return result;
}

void rt_assert_not_behind(uint64_t worst_us, uint64_t slow_us, uint64_t min_us, const char *victim,
			  const char *attack)
{
	if (slow_us < min_us)
		cr_skip_test("%s took only %llu us: nothing slow to stand behind", attack,
			     (unsigned long long)slow_us);
	cr_assert_lt(worst_us * 2, slow_us,
		     "%s waited %llu us while %s took %llu us: it stood behind them", victim,
		     (unsigned long long)worst_us, attack, (unsigned long long)slow_us);
}

pid_t rt_fork_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(126);
		_exit(fn(arg));
	}
	return pid;
}

int rt_wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
