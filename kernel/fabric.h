/* SPDX-License-Identifier: MIT */
/*
 * kf_: NVMe over Fabrics controllers, through libnvme: connect one (as
 * `nvme connect` would, skipping one already connected), and list those
 * the host has with their state. Used by the daemon at start, before it
 * opens volumes, and by ringd-probe; nothing here is on the data path.
 */
#ifndef RINGD_KERNEL_FABRIC_H
#define RINGD_KERNEL_FABRIC_H

#include <stdbool.h>
#include <stddef.h>

#include "probe.h"

/* A controller to connect: what a [fabric NAME] section says. Times are
 * in seconds; -1 leaves the kernel's default (ctrl_loss_tmo -1 is
 * KF_FOREVER: reconnect forever). */
struct kf_target {
	char transport[16]; /* "tcp" */
	char traddr[256];
	char trsvcid[32];
	char nqn[KP_NQN_MAX];
	char hostnqn[KP_NQN_MAX]; /* "" : /etc/nvme/hostnqn (libnvme's default host) */
	int nr_poll_queues;	  /* 0: none */
	int ctrl_loss_tmo;
	int fast_io_fail_tmo;
	int reconnect_delay;
};

#define KF_FOREVER (-2) /* ctrl_loss_tmo = forever (the kernel's -1) */

/* A fabric controller of this host, as sysfs shows it. */
struct kf_ctrl {
	char name[32];	    /* "nvme2" */
	char transport[16]; /* "tcp" */
	char traddr[256];
	char trsvcid[32];
	char subsysnqn[KP_NQN_MAX];
	char state[32];	 /* "live", "connecting", "resetting", "deleting", ... */
	char heads[128]; /* the subsystem's namespaces: "nvme2n1 nvme2n2" */
};

/*
 * Connect @t unless a controller with its transport, address, service id
 * and NQN is already there, then wait (up to a few seconds) until it
 * shows a namespace. Fills @name ("nvme2") and sets *@already. Returns 0,
 * or -errno with a message in @err.
 */
int kf_connect(const struct kf_target *t, char *name, size_t namelen, bool *already, char *err,
	       size_t errlen);

/*
 * Every fabric (not PCIe) controller of this host, in a malloc'ed array in
 * *@out (free() it) of *@n. Returns 0 (none: *@n = 0) or -errno.
 */
int kf_list(struct kf_ctrl **out, unsigned int *n);

/*
 * Whether subsystem @nqn has a live controller right now (read from
 * sysfs, without libnvme: cheap enough for the daemon's tick). Returns 1,
 * 0, or -errno (-ENOENT: no controller of that subsystem at all).
 */
int kf_subsys_live(const char *nqn);

/*
 * The largest fast_io_fail_tmo (seconds) of subsystem @nqn's controllers,
 * or -1 if none has one ("off", or no controller).
 */
int kf_subsys_fast_io_fail(const char *nqn);

#endif
