/* SPDX-License-Identifier: MIT */
/*
 * no-io-uring PROG ARGS...: run PROG where io_uring does not exist, as in a
 * container under Docker's default seccomp profile. io_uring_setup,
 * io_uring_enter and io_uring_register fail with EPERM; everything else is
 * allowed. The filter survives exec and is inherited by children, and
 * no_new_privs is set (an unprivileged process needs it to install a
 * filter, and it keeps a setuid binary from escaping it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Install the filter. Returns 0 or -errno. */
static int block_io_uring(void)
{
	static const char *const names[] = { "io_uring_setup", "io_uring_enter",
					     "io_uring_register" };
	scmp_filter_ctx ctx;
	unsigned int i;
	int ret;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		/* Older libseccomp without the name: nothing to block it by. */
		if (nr == __NR_SCMP_ERROR) {
			ret = -ENOSYS;
			goto out_release;
		}
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (ret < 0)
			goto out_release;
	}
	ret = seccomp_load(ctx);
out_release:
	seccomp_release(ctx);
	return ret;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: no-io-uring PROG [ARGS...]\n"
			"Run PROG with io_uring_setup, io_uring_enter and io_uring_register\n"
			"failing with EPERM (a seccomp filter, as Docker's default profile).\n");
		return argc < 2 ? 2 : 0;
	}
	ret = block_io_uring();
	if (ret < 0) {
		fprintf(stderr, "no-io-uring: cannot install the seccomp filter: %s\n",
			strerror(-ret));
		return 125;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-io-uring: %s: %s\n", argv[1], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
