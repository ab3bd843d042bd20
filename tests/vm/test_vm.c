/* SPDX-License-Identifier: MIT */
/*
 * test-vm: boots the VM (tests/vm/run-vm.sh: Debian's kernel under QEMU
 * TCG, emulated NVMe with poll queues plus a second controller without)
 * and runs Criterion suites inside it. The guest's Criterion output goes to
 * this suite's output; the guest command's exit status decides each test.
 * Skips only when run-vm.sh says QEMU or the kernel cannot be provided
 * (exit 77), or on a sanitizer build.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VM_TIMEOUT_S "1500"

/*
 * Bad sectors of nvme0n1 for vm-guest-tests: 1 MiB into each root volume
 * of the media suite at 216M, 224M, 232M and 240M, and into the flush
 * suite's buffered window at 248M (in 512-byte sectors), away from
 * everything else the guest suites touch and from the partition scan.
 */
static const char *const bad_sectors[] = { "444416", "460800", "477184", "493568", "509952" };
#define NBAD (sizeof(bad_sectors) / sizeof(bad_sectors[0]))

/* Kernel modules of the fault suites (vm_faults.c, vm_powerloss.c):
 * dm-flakey under the flush suite's volumes, dm-log-writes for power loss,
 * null_blk (devices made through configfs) for a device that goes away and
 * under the log-writes target. */
static const char *const fault_modules[] = { "dm-flakey", "dm-log-writes",
					     "null_blk nr_devices=0" };
#define NMODS (sizeof(fault_modules) / sizeof(fault_modules[0]))

/* Run @cmd (sh -c) in a fresh VM with ringd, ringd-probe and @files;
 * with @faults, nvme0n1 has the bad_sectors and the fault_modules are loaded. */
static void run_in_vm(const char *cmd, const char *const *files, unsigned int nfiles, bool faults)
{
	const char *argv[64];
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
	argv[n++] = VM_TIMEOUT_S;
	for (i = 0; faults && i < NBAD; i++) {
		argv[n++] = "--nvme-bad-sector";
		argv[n++] = bad_sectors[i];
	}
	for (i = 0; faults && i < NMODS; i++) {
		argv[n++] = "--module";
		argv[n++] = fault_modules[i];
	}
	if (faults) {
		argv[n++] = "--env";
		argv[n++] = "RINGD_VM_BAD_SECTORS=444416,460800,477184,493568,509952";
	}
	argv[n++] = "--file";
	argv[n++] = RINGD_BIN;
	argv[n++] = "--file";
	argv[n++] = RINGD_PROBE_BIN;
	for (i = 0; i < nfiles && n < 58; i++) {
		argv[n++] = "--file";
		argv[n++] = files[i];
	}
	argv[n++] = "--";
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = cmd;
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
		     "the guest suite failed: exit %d (124: VM timeout, 125: VM died; the guest's "
		     "Criterion output is above)",
		     rc);
}

/* vm-guest-tests: every data path on the emulated namespace, a media
 * error on each (the bad sectors), flush failures (bad sector, dm-flakey)
 * and a device that goes away (null_blk). */
Test(vm, nvme_suite_in_guest, .timeout = 1800)
{
	const char *files[] = { GUEST_TESTS };

	/* ulimit: the daemon sizes its registered-file table (volumes and
	 * directory-volume files) to RLIMIT_NOFILE; give it the full table,
	 * as systemd's limits do, rather than the guest's default 4096. */
	run_in_vm("mkdir -p /var/tmp && ulimit -n 65536 && " GUEST_TESTS " --verbose=0 --jobs=1",
		  files, 1, true);
}

/*
 * test-systemd's SIGKILL/restart loop (journal, fd store, reissue) on
 * interrupt passthrough and on polled block I/O with the SQPOLL thread: the
 * reissued requests must take the same rings, and the next instance must
 * wait for every ring of the killed one.
 */
Test(vm, restart_loop_on_nvme_in_guest, .timeout = 1800)
{
	const char *files[] = {
		SYSTEMD_TESTS,
		SRCDIR "/tests/vm/restart-pt.conf:/etc/ringd-vm/restart-pt.conf",
		SRCDIR "/tests/vm/restart-polled.conf:/etc/ringd-vm/restart-polled.conf",
	};

	/* ulimit: the test moves stored fds above 2000 before passing them on.
	 * The filter's "Test is disabled" lines would count as skips here. */
	run_in_vm("mkdir -p /var/tmp && ulimit -n 65536 && export RINGD_RESTARTS=20 && "
		  "{ RINGD_RESTART_CONF_FILE=/etc/ringd-vm/restart-pt.conf " SYSTEMD_TESTS
		  " --verbose=0 --jobs=1 --filter 'restart/sigkill_loop_with_fd_store*' && "
		  "RINGD_RESTART_CONF_FILE=/etc/ringd-vm/restart-polled.conf " SYSTEMD_TESTS
		  " --verbose=0 --jobs=1 --filter 'restart/sigkill_loop_with_fd_store*'; "
		  "echo $? >/tmp/rc; } 2>&1 | grep -v 'Test is disabled'; exit $(cat /tmp/rc)",
		  files, 3, false);
}
