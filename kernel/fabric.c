/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "fabric.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nvme/fabrics.h>
#include <nvme/tree.h>
#include <nvme/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KF_NS_WAIT_MS 10000u
#define KF_SYS_NVME   "/sys/class/nvme"

static bool kf_eq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* Read a one-line sysfs attribute into @buf, newline stripped; 0 or -errno. */
static int kf_sysfs(const char *dir, const char *attr, char *buf, size_t len)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* Does controller directory @dir show a namespace (nvmeXnY, or the path
 * device nvmeXcZnY under multipath)? */
static bool kf_has_ns(const char *dir)
{
	struct dirent *e;
	bool found = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!found && (e = readdir(d)))
		found = !strncmp(e->d_name, "nvme", 4) && strchr(e->d_name + 4, 'n');
	closedir(d);
	return found;
}

/* libnvme's connect failures (-1 and errno, the ENVME_CONNECT_* codes
 * above 1000 among them) as -errno. */
static int kf_connect_errno(int e)
{
	switch (e) {
	case ENVME_CONNECT_ALREADY:
		return -EALREADY;
	case ENVME_CONNECT_INVAL:
		return -EINVAL;
	case ENVME_CONNECT_ADDRINUSE:
		return -EADDRINUSE;
	case ENVME_CONNECT_NODEV:
		return -ENODEV;
	case ENVME_CONNECT_OPNOTSUPP:
		return -EOPNOTSUPP;
	case ENVME_CONNECT_CONNREFUSED:
		return -ECONNREFUSED;
	case ENVME_CONNECT_OPEN:
		return -ENOENT; /* no /dev/nvme-fabrics: nvme-fabrics not loaded */
	default:
		return e > 0 && e < 1000 ? -e : -EIO;
	}
}

/* The controller of @r matching @t, or NULL. */
static nvme_ctrl_t kf_find(nvme_root_t r, const struct kf_target *t)
{
	nvme_host_t h;
	nvme_subsystem_t s;
	nvme_ctrl_t c;

	nvme_for_each_host(r, h)
	{
		nvme_for_each_subsystem(h, s)
		{
			nvme_subsystem_for_each_ctrl(s, c)
			{
				if (kf_eq(nvme_ctrl_get_transport(c), t->transport) &&
				    kf_eq(nvme_ctrl_get_traddr(c), t->traddr) &&
				    kf_eq(nvme_ctrl_get_trsvcid(c), t->trsvcid) &&
				    kf_eq(nvme_ctrl_get_subsysnqn(c), t->nqn))
					return c;
			}
		}
	}
	return NULL;
}

static uint64_t kf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait until controller @name shows a namespace (the kernel scans them
 * after the connect returns). 0 or -ETIMEDOUT. */
static int kf_wait_ns(const char *name)
{
	uint64_t start = kf_now_ms();
	char dir[128];

	snprintf(dir, sizeof(dir), KF_SYS_NVME "/%s", name);
	while (!kf_has_ns(dir)) {
		if (kf_now_ms() - start > KF_NS_WAIT_MS)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
	return 0;
}

int kf_connect(const struct kf_target *t, char *name, size_t namelen, bool *already, char *err,
	       size_t errlen)
{
	struct nvme_fabrics_config cfg;
	nvme_root_t r;
	nvme_host_t h;
	nvme_ctrl_t c;
	int ret;

	*already = false;
	name[0] = '\0';
	r = nvme_create_root(NULL, 0);
	if (!r) {
		snprintf(err, errlen, "libnvme: cannot create the topology root");
		return -ENOMEM;
	}
	nvme_scan_topology(r, NULL, NULL);
	c = kf_find(r, t);
	if (c) {
		*already = true;
		snprintf(name, namelen, "%s", nvme_ctrl_get_name(c));
		ret = 0;
		goto out_free;
	}
	h = t->hostnqn[0] ? nvme_lookup_host(r, t->hostnqn, NULL) : nvme_default_host(r);
	if (!h || !nvme_host_get_hostnqn(h)) {
		snprintf(
		    err, errlen,
		    "no host NQN: set hostnqn in the [fabric] section or write /etc/nvme/hostnqn");
		ret = -EINVAL;
		goto out_free;
	}
	c = nvme_create_ctrl(r, t->nqn, t->transport, t->traddr, NULL, NULL,
			     t->trsvcid[0] ? t->trsvcid : NULL);
	if (!c) {
		snprintf(err, errlen, "libnvme: cannot create a controller for %s", t->nqn);
		ret = -ENOMEM;
		goto out_free;
	}
	nvmf_default_config(&cfg);
	cfg.nr_poll_queues = t->nr_poll_queues;
	if (t->ctrl_loss_tmo != -1)
		cfg.ctrl_loss_tmo = t->ctrl_loss_tmo == KF_FOREVER ? -1 : t->ctrl_loss_tmo;
	if (t->fast_io_fail_tmo != -1)
		cfg.fast_io_fail_tmo = t->fast_io_fail_tmo;
	if (t->reconnect_delay != -1)
		cfg.reconnect_delay = t->reconnect_delay;
	if (nvmf_add_ctrl(h, c, &cfg) < 0) {
		int e = errno;

		ret = kf_connect_errno(e);
		if (ret == -EALREADY) {
			/* The kernel matched one kf_find() did not (an address
			 * written differently): it is connected all the same. */
			*already = true;
			snprintf(name, namelen, "(existing)");
			nvme_free_ctrl(c);
			ret = 0;
			goto out_free;
		}
		snprintf(err, errlen, "connect %s %s:%s %s: %s", t->transport, t->traddr,
			 t->trsvcid, t->nqn, e >= 1000 ? nvme_errno_to_string(e) : strerror(e));
		nvme_free_ctrl(c);
		goto out_free;
	}
	snprintf(name, namelen, "%s", nvme_ctrl_get_name(c) ? nvme_ctrl_get_name(c) : "");
	ret = name[0] ? kf_wait_ns(name) : 0;
	if (ret)
		snprintf(err, errlen, "%s connected but showed no namespace within %us", name,
			 KF_NS_WAIT_MS / 1000);
out_free:
	nvme_free_tree(r);
	return ret;
}

/* "nvme2n1 nvme2n2": the namespaces of @s. */
static void kf_heads(nvme_subsystem_t s, nvme_ctrl_t c, char *buf, size_t len)
{
	size_t used = 0;
	nvme_ns_t n;
	int k;

	buf[0] = '\0';
	nvme_subsystem_for_each_ns(s, n)
	{
		k = snprintf(buf + used, len - used, "%s%s", used ? " " : "", nvme_ns_get_name(n));
		if (k < 0 || (size_t)k >= len - used)
			return;
		used += (size_t)k;
	}
	if (used)
		return;
	nvme_ctrl_for_each_ns(c, n)
	{
		k = snprintf(buf + used, len - used, "%s%s", used ? " " : "", nvme_ns_get_name(n));
		if (k < 0 || (size_t)k >= len - used)
			return;
		used += (size_t)k;
	}
}

int kf_list(struct kf_ctrl **out, unsigned int *n)
{
	struct kf_ctrl *a = NULL, *grown;
	nvme_subsystem_t s;
	nvme_root_t r;
	nvme_host_t h;
	nvme_ctrl_t c;

	*out = NULL;
	*n = 0;
	r = nvme_create_root(NULL, 0);
	if (!r)
		return -ENOMEM;
	nvme_scan_topology(r, NULL, NULL);
	nvme_for_each_host(r, h)
	{
		nvme_for_each_subsystem(h, s)
		{
			nvme_subsystem_for_each_ctrl(s, c)
			{
				const char *tr = nvme_ctrl_get_transport(c);
				char dir[128];
				struct kf_ctrl *k;

				if (!tr || !strcmp(tr, "pcie"))
					continue;
				grown = realloc(a, (*n + 1) * sizeof(*a));
				if (!grown) {
					free(a);
					*n = 0;
					nvme_free_tree(r);
					return -ENOMEM;
				}
				a = grown;
				k = &a[(*n)++];
				memset(k, 0, sizeof(*k));
				snprintf(k->name, sizeof(k->name), "%s", nvme_ctrl_get_name(c));
				snprintf(k->transport, sizeof(k->transport), "%s", tr);
				snprintf(k->traddr, sizeof(k->traddr), "%s",
					 nvme_ctrl_get_traddr(c) ? nvme_ctrl_get_traddr(c) : "");
				snprintf(k->trsvcid, sizeof(k->trsvcid), "%s",
					 nvme_ctrl_get_trsvcid(c) ? nvme_ctrl_get_trsvcid(c) : "");
				snprintf(k->subsysnqn, sizeof(k->subsysnqn), "%s",
					 nvme_ctrl_get_subsysnqn(c) ? nvme_ctrl_get_subsysnqn(c)
								    : "");
				/* Fresh from sysfs: libnvme keeps what it read at the scan. */
				snprintf(dir, sizeof(dir), KF_SYS_NVME "/%s", k->name);
				if (kf_sysfs(dir, "state", k->state, sizeof(k->state)))
					snprintf(k->state, sizeof(k->state), "unknown");
				kf_heads(s, c, k->heads, sizeof(k->heads));
			}
		}
	}
	nvme_free_tree(r);
	*out = a;
	return 0;
}

int kf_subsys_fast_io_fail(const char *nqn)
{
	char dir[300], buf[KP_NQN_MAX];
	struct dirent *e;
	int best = -1;
	DIR *d = opendir(KF_SYS_NVME);

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		long v;
		char *end;

		if (strncmp(e->d_name, "nvme", 4))
			continue;
		snprintf(dir, sizeof(dir), KF_SYS_NVME "/%s", e->d_name);
		if (kf_sysfs(dir, "subsysnqn", buf, sizeof(buf)) || strcmp(buf, nqn) ||
		    kf_sysfs(dir, "fast_io_fail_tmo", buf, sizeof(buf)))
			continue;
		v = strtol(buf, &end, 10); /* "off" reads as no number */
		if (end != buf && v >= 0 && v > best)
			best = (int)v;
	}
	closedir(d);
	return best;
}

int kf_subsys_live(const char *nqn)
{
	char dir[300], buf[KP_NQN_MAX];
	bool any = false, live = false;
	struct dirent *e;
	DIR *d = opendir(KF_SYS_NVME);

	if (!d)
		return -errno;
	while (!live && (e = readdir(d))) {
		if (strncmp(e->d_name, "nvme", 4))
			continue;
		snprintf(dir, sizeof(dir), KF_SYS_NVME "/%s", e->d_name);
		if (kf_sysfs(dir, "subsysnqn", buf, sizeof(buf)) || strcmp(buf, nqn))
			continue;
		any = true;
		live = !kf_sysfs(dir, "state", buf, sizeof(buf)) && !strcmp(buf, "live");
	}
	closedir(d);
	return live ? 1 : any ? 0 : -ENOENT;
}
