/* SPDX-License-Identifier: MIT */
/*
 * test-vm's NVMe-oF case: boots the VM with the nvmet target and the
 * NVMe/TCP host modules (from the kernel package run-vm.sh already
 * fetches) and runs vm-fabric-tests (tests/vm/vm_fabric.c) inside it: an
 * nvmet target on 127.0.0.1 over nvme1n1, ringd connecting it from a
 * [fabric] section, then the target's port removed and restored.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Loaded after nvme, in this order; fetch-kernel.sh adds their dependencies
 * (configfs is built in; nvmet, nvme-fabrics). */
static const char *const fabric_modules[] = { "nvmet", "nvmet-tcp", "nvme-tcp" };
#define NMODS (sizeof(fabric_modules) / sizeof(fabric_modules[0]))

Test(vm, nvme_over_tcp_in_guest, .timeout = 1200)
{
	const char *argv[40];
	unsigned int n = 0, i;
	int status, rc;
	pid_t pid;

#ifdef RINGD_VM_SKIP
	cr_skip_test("%s", RINGD_VM_SKIP);
#endif
	if (getuid() != 0)
		cr_skip_test(
		    "the VM suite needs root (it installs qemu and runs the daemon as root)");
	argv[n++] = RUN_VM;
	argv[n++] = "--nvme2";
	argv[n++] = "--timeout";
	argv[n++] = "1100";
	for (i = 0; i < NMODS; i++) {
		argv[n++] = "--module";
		argv[n++] = fabric_modules[i];
	}
	argv[n++] = "--file";
	argv[n++] = RINGD_BIN;
	argv[n++] = "--file";
	argv[n++] = RINGD_PROBE_BIN;
	argv[n++] = "--file";
	argv[n++] = FABRIC_TESTS;
	argv[n++] = "--";
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = "mkdir -p /var/tmp && " FABRIC_TESTS " --verbose=0 --jobs=1";
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (!pid) {
		dup2(STDOUT_FILENO, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (rc == 77)
		cr_skip_test("run-vm.sh cannot run a VM on this host (see its message above)");
	cr_assert_eq(rc, 0,
		     "the guest fabric suite failed: exit %d (124: VM timeout, 125: VM died; the "
		     "guest's Criterion output is above)",
		     rc);
}
