/* SPDX-License-Identifier: MIT */
/*
 * test-vm: boots the VM (tests/vm/run-vm.sh: Debian's kernel under QEMU
 * TCG, emulated NVMe with poll queues plus a second controller without)
 * and runs vm-guest-tests inside it. The guest's Criterion output goes to
 * this suite's output; its exit status decides this test. Skips only when
 * run-vm.sh says QEMU or the kernel cannot be provided (exit 77).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VM_TIMEOUT_S "1500"

Test(vm, nvme_suite_in_guest, .timeout = 1800)
{
	const char *argv[] = {
		RUN_VM,	     "--nvme2",
		"--timeout", VM_TIMEOUT_S,
		"--file",    RINGD_BIN,
		"--file",    RINGD_PROBE_BIN,
		"--file",    GUEST_TESTS,
		"--",	     "sh",
		"-c",	     "mkdir -p /var/tmp && " GUEST_TESTS " --verbose=0 --jobs=1",
		NULL,
	};
	int status, rc;
	pid_t pid;

#ifdef RINGD_VM_SKIP
	cr_skip_test("%s", RINGD_VM_SKIP);
#endif
	if (getuid() != 0)
		cr_skip_test(
		    "the VM suite needs root (it installs qemu and runs the daemon as root)");
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
		     "the guest suite failed: exit %d (124: VM timeout, 125: VM died; the guest's "
		     "Criterion output is above)",
		     rc);
}
