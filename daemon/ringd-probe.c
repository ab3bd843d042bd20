/* SPDX-License-Identifier: MIT */
/*
 * ringd-probe: what this machine can do for ringd. Kernel and io_uring
 * capabilities, then for every volume of a config (and every device named
 * on the command line): type, queue/io_poll, the NVMe namespace behind it,
 * and which data path ringd would use, with what to change when polling or
 * passthrough is unavailable. A table by default, JSON with --json.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fabric.h"
#include "log.h"
#include "probe.h"
#include "volume.h"

#define PROBE_POLL_HINT                                                                            \
	"no NVMe poll queues: load nvme with poll_queues=N (install "                              \
	"config/modprobe.d/ringd-nvme.conf as /etc/modprobe.d/ringd-nvme.conf, then reload nvme "  \
	"or reboot)"

/* One volume (or command-line device) and what ringd would do with it. */
struct pv {
	const char *name; /* volume name, or NULL for a bare device */
	const struct cfg_volume *cv;
	struct kp_device d;
	int open_err; /* vol_open(): 0 or -errno */
	char err[PATH_MAX + 256];
	bool polled, passthrough;
	char poll_why[1024], pt_why[1024];
};

static const char *type_name(enum kp_type t)
{
	switch (t) {
	case KP_REGULAR:
		return "file";
	case KP_BLOCK:
		return "block";
	case KP_CHAR:
		return "char";
	case KP_MISSING:
		return "missing";
	default:
		return "other";
	}
}

/* Resolve @cv the way ringd would (without creating anything). */
static void probe_volume(const struct cfg *c, const struct cfg_volume *cv, struct pv *pv)
{
	char path[PATH_MAX];
	struct stat st;
	struct vol v;
	int ret;

	memset(pv, 0, sizeof(*pv));
	pv->name = cv->name;
	pv->cv = cv;
	if (cv->nvme[0]) {
		ret = kp_nvme_lookup(cv->nvme, &pv->d);
		if (ret) {
			pv->open_err = ret;
			snprintf(pv->err, sizeof(pv->err), "nvme = %s: %s", cv->nvme,
				 ret != -ENOENT ? strerror(-ret)
				 : strncmp(cv->nvme, "nqn.", 4)
				     ? "no such controller serial and namespace id"
				     : "no such subsystem NQN and namespace id "
				       "(not connected?)");
			snprintf(pv->d.path, sizeof(pv->d.path), "nvme:%s", cv->nvme);
			return;
		}
		memcpy(path, pv->d.path, sizeof(path));
	} else if (cv->path[0] == '/') {
		snprintf(path, sizeof(path), "%s", cv->path);
	} else {
		int l = snprintf(path, sizeof(path), "%.2000s/%.2000s", c->state_dir, cv->path);

		if (l < 0)
			path[0] = '\0';
	}
	kp_device_probe(path, &pv->d);
	if (cv->create_size && stat(path, &st) < 0) {
		snprintf(pv->err, sizeof(pv->err), "%.2048s does not exist yet (ringd creates it)",
			 path);
		return;
	}
	ret = vol_open(cv, c->state_dir, &v, pv->err, sizeof(pv->err));
	pv->open_err = ret;
	if (ret)
		return;
	pv->polled = v.polled;
	pv->passthrough = v.passthrough;
	snprintf(pv->poll_why, sizeof(pv->poll_why), "%s", v.poll_why);
	snprintf(pv->pt_why, sizeof(pv->pt_why), "%s", v.pt_why);
	vol_close(&v);
}

/* A device named on the command line: as a volume with poll/passthrough auto. */
static void probe_device(const char *path, struct pv *pv, struct cfg_volume *cv)
{
	struct vol v;

	memset(cv, 0, sizeof(*cv));
	snprintf(cv->name, sizeof(cv->name), "%s", "-");
	snprintf(cv->path, sizeof(cv->path), "%s", path);
	cv->readonly = true;
	memset(pv, 0, sizeof(*pv));
	pv->cv = cv;
	kp_device_probe(path, &pv->d);
	cv->direct = pv->d.type == KP_BLOCK;
	pv->open_err = vol_open(cv, "/", &v, pv->err, sizeof(pv->err));
	if (pv->open_err)
		return;
	pv->polled = v.polled;
	pv->passthrough = v.passthrough;
	snprintf(pv->poll_why, sizeof(pv->poll_why), "%s", v.poll_why);
	snprintf(pv->pt_why, sizeof(pv->pt_why), "%s", v.pt_why);
	vol_close(&v);
}

/* One fabric controller: connected (ctrl from kf_list()), configured
 * (a [fabric] section), or both. */
struct pf {
	const struct cfg_fabric *f; /* or NULL */
	struct kf_ctrl k;	    /* state "not connected" if f has none */
};

static bool pf_match(const struct kf_target *t, const struct kf_ctrl *k)
{
	return !strcmp(t->transport, k->transport) && !strcmp(t->traddr, k->traddr) &&
	       !strcmp(t->trsvcid, k->trsvcid) && !strcmp(t->nqn, k->subsysnqn);
}

/* Every fabric controller of the host and every [fabric] of @c not
 * connected, into a malloc'ed array *@out of *@n. */
static void probe_fabrics(const struct cfg *c, struct pf **out, unsigned int *n)
{
	unsigned int nk = 0, i, j, nf = c ? c->nfabrics : 0;
	struct kf_ctrl *k = NULL;
	struct pf *a;

	*out = NULL;
	*n = 0;
	if (kf_list(&k, &nk))
		nk = 0;
	a = calloc(nk + nf + 1, sizeof(*a));
	if (!a) {
		free(k);
		return;
	}
	for (i = 0; i < nk; i++) {
		a[*n].k = k[i];
		for (j = 0; j < nf; j++)
			if (pf_match(&c->fabrics[j].t, &k[i]))
				a[*n].f = &c->fabrics[j];
		(*n)++;
	}
	for (j = 0; j < nf; j++) {
		const struct kf_target *t = &c->fabrics[j].t;
		bool found = false;

		for (i = 0; i < nk && !found; i++)
			found = pf_match(t, &k[i]);
		if (found)
			continue;
		a[*n].f = &c->fabrics[j];
		snprintf(a[*n].k.name, sizeof(a[*n].k.name), "-");
		snprintf(a[*n].k.transport, sizeof(a[*n].k.transport), "%s", t->transport);
		snprintf(a[*n].k.traddr, sizeof(a[*n].k.traddr), "%s", t->traddr);
		snprintf(a[*n].k.trsvcid, sizeof(a[*n].k.trsvcid), "%s", t->trsvcid);
		snprintf(a[*n].k.subsysnqn, sizeof(a[*n].k.subsysnqn), "%s", t->nqn);
		snprintf(a[*n].k.state, sizeof(a[*n].k.state), "not connected");
		(*n)++;
	}
	free(k);
	*out = a;
}

static void print_fabrics(const struct pf *pf, unsigned int n)
{
	unsigned int i;

	if (!n)
		return;
	printf("\n%-12s %-8s %-9s %-22s %-14s %-16s %s\n", "FABRIC", "CTRL", "TRANSPORT", "ADDRESS",
	       "STATE", "NAMESPACES", "NQN");
	for (i = 0; i < n; i++) {
		char addr[300];

		snprintf(addr, sizeof(addr), "%s:%s", pf[i].k.traddr, pf[i].k.trsvcid);
		printf("%-12s %-8s %-9s %-22s %-14s %-16s %s\n", pf[i].f ? pf[i].f->name : "-",
		       pf[i].k.name, pf[i].k.transport, addr, pf[i].k.state,
		       pf[i].k.heads[0] ? pf[i].k.heads : "-", pf[i].k.subsysnqn);
	}
}

static const char *yesno(int err)
{
	return err ? "no" : "yes";
}

static void print_table(const struct kp_system *k, const struct cfg *c, const struct pv *pv,
			unsigned int n, const struct pf *pf, unsigned int npf)
{
	unsigned int i, op;
	bool poll_hint = false;

	printf("kernel            %s\n", k->release);
	printf("io_uring          %s (features 0x%x)\n", yesno(k->ring), k->features);
	printf("SQPOLL ring       %s%s%s\n", yesno(k->sqpoll), k->sqpoll ? ": " : "",
	       k->sqpoll ? strerror(-k->sqpoll) : "");
	printf("IOPOLL ring       %s%s%s\n", yesno(k->iopoll), k->iopoll ? ": " : "",
	       k->iopoll ? strerror(-k->iopoll) : "");
	printf("SQE128/CQE32 ring %s\n", yesno(k->big));
	printf("URING_CMD         %s\n", k->uring_cmd ? "yes" : "no");
	printf("opcodes          ");
	for (op = 0; op <= k->last_op && op < 64; op++)
		if (k->op_supported[op] && kp_op_name(op))
			printf(" %s", kp_op_name(op));
	printf("\n");
	if (c)
		printf("sqpoll (config)   %s\n", c->sqpoll ? "on" : "off");
	printf("\n%-12s %-22s %-6s %-7s %-24s %-12s %-5s %-12s %-14s %s\n", "VOLUME", "PATH",
	       "TYPE", "IO_POLL", "NVME (SERIAL:NSID)", "GENERIC", "LBS", "BYTES", "POLL",
	       "PASSTHROUGH");
	for (i = 0; i < n; i++) {
		const struct pv *p = &pv[i];
		char nv[64] = "-", pollc[32], ptc[32];

		if (p->d.nvme)
			snprintf(nv, sizeof(nv), "%s:%u", p->d.fabric ? p->d.ctrl : p->d.serial,
				 p->d.nsid);
		snprintf(pollc, sizeof(pollc), "%s->%s", cfg_mode_name(p->cv->poll),
			 p->open_err ? "ERROR"
			 : p->polled ? "polled"
				     : "off");
		snprintf(ptc, sizeof(ptc), "%s->%s", cfg_mode_name(p->cv->passthrough),
			 p->open_err	  ? "ERROR"
			 : p->passthrough ? "on"
					  : "off");
		printf("%-12s %-22s %-6s %-7d %-24s %-12s %-5u %-12llu %-14s %s\n",
		       p->name ? p->name : "-", p->d.path, type_name(p->d.type), p->d.io_poll, nv,
		       p->d.generic[0] ? p->d.generic : "-", p->d.lbs,
		       (unsigned long long)p->d.bytes, pollc, ptc);
		if (p->open_err || p->err[0])
			printf("  ! %s\n", p->err);
		if (p->poll_why[0])
			printf("  - poll: %s\n", p->poll_why);
		if (p->pt_why[0])
			printf("  - passthrough: %s\n", p->pt_why);
		if (p->d.type == KP_BLOCK && p->d.nvme && p->d.io_poll == 0)
			poll_hint = true;
	}
	print_fabrics(pf, npf);
	if (poll_hint)
		printf("\nhint: %s\n", PROBE_POLL_HINT);
	if (k->sqpoll)
		printf(
		    "hint: SQPOLL unavailable: %s (needs root or CAP_SYS_NICE on older kernels)\n",
		    strerror(-k->sqpoll));
}

static json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static json_object *jerr(int err)
{
	return err ? json_object_new_string(strerror(-err)) : json_object_new_null();
}

/* The "fabrics" array of --json. */
static json_object *json_fabrics(const struct pf *pf, unsigned int n)
{
	json_object *a = json_object_new_array();
	unsigned int i;

	for (i = 0; i < n; i++) {
		json_object *jf = json_object_new_object(), *ns = json_object_new_array();
		char heads[sizeof(pf[i].k.heads)], *save = NULL, *tok;

		json_object_object_add(jf, "name",
				       pf[i].f ? jstr(pf[i].f->name) : json_object_new_null());
		json_object_object_add(jf, "controller",
				       strcmp(pf[i].k.name, "-") ? jstr(pf[i].k.name)
								 : json_object_new_null());
		json_object_object_add(jf, "transport", jstr(pf[i].k.transport));
		json_object_object_add(jf, "traddr", jstr(pf[i].k.traddr));
		json_object_object_add(jf, "trsvcid", jstr(pf[i].k.trsvcid));
		json_object_object_add(jf, "nqn", jstr(pf[i].k.subsysnqn));
		json_object_object_add(jf, "state", jstr(pf[i].k.state));
		snprintf(heads, sizeof(heads), "%s", pf[i].k.heads);
		for (tok = strtok_r(heads, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			json_object_array_add(ns, jstr(tok));
		json_object_object_add(jf, "namespaces", ns);
		json_object_array_add(a, jf);
	}
	return a;
}

static void print_json(const struct kp_system *k, const struct cfg *c, const struct pv *pv,
		       unsigned int n, const struct pf *pf, unsigned int npf)
{
	json_object *root = json_object_new_object(), *ju = json_object_new_object();
	json_object *ops = json_object_new_array(), *vols = json_object_new_array();
	json_object *hints = json_object_new_array();
	unsigned int i, op;

	json_object_object_add(root, "kernel", jstr(k->release));
	json_object_object_add(ju, "available", json_object_new_boolean(!k->ring));
	json_object_object_add(ju, "features", json_object_new_int64(k->features));
	json_object_object_add(ju, "sqpoll", json_object_new_boolean(!k->sqpoll));
	json_object_object_add(ju, "sqpoll_error", jerr(k->sqpoll));
	json_object_object_add(ju, "iopoll", json_object_new_boolean(!k->iopoll));
	json_object_object_add(ju, "iopoll_error", jerr(k->iopoll));
	json_object_object_add(ju, "sqe128_cqe32", json_object_new_boolean(!k->big));
	json_object_object_add(ju, "uring_cmd", json_object_new_boolean(k->uring_cmd));
	for (op = 0; op <= k->last_op && op < 64; op++)
		if (k->op_supported[op] && kp_op_name(op))
			json_object_array_add(ops, jstr(kp_op_name(op)));
	json_object_object_add(ju, "opcodes", ops);
	json_object_object_add(root, "io_uring", ju);
	if (c) {
		json_object *jd = json_object_new_object();

		json_object_object_add(jd, "config", jstr(c->path));
		json_object_object_add(jd, "sqpoll", json_object_new_boolean(c->sqpoll));
		json_object_object_add(jd, "sqpoll_cpu", json_object_new_int(c->sqpoll_cpu));
		json_object_object_add(jd, "sqpoll_idle_ms",
				       json_object_new_int64(c->sqpoll_idle_ms));
		json_object_object_add(root, "daemon", jd);
	}
	for (i = 0; i < n; i++) {
		const struct pv *p = &pv[i];
		json_object *jv = json_object_new_object(), *jp, *jt;

		json_object_object_add(jv, "name",
				       p->name ? jstr(p->name) : json_object_new_null());
		json_object_object_add(jv, "path", jstr(p->d.path));
		json_object_object_add(jv, "type", jstr(type_name(p->d.type)));
		json_object_object_add(jv, "io_poll", json_object_new_int(p->d.io_poll));
		json_object_object_add(jv, "logical_block_size", json_object_new_int64(p->d.lbs));
		json_object_object_add(jv, "bytes", json_object_new_int64((int64_t)p->d.bytes));
		if (p->d.nvme) {
			json_object *jn = json_object_new_object();

			json_object_object_add(jn, "controller", jstr(p->d.ctrl));
			json_object_object_add(jn, "serial", jstr(p->d.serial));
			json_object_object_add(jn, "subsysnqn", jstr(p->d.subsysnqn));
			json_object_object_add(jn, "transport", jstr(p->d.transport));
			json_object_object_add(jn, "nsid", json_object_new_int64(p->d.nsid));
			json_object_object_add(jn, "generic", jstr(p->d.generic));
			json_object_object_add(jn, "lba_count",
					       json_object_new_int64((int64_t)p->d.nlba));
			json_object_object_add(jv, "nvme", jn);
		} else {
			json_object_object_add(jv, "nvme", json_object_new_null());
		}
		json_object_object_add(jv, "error",
				       p->open_err ? jstr(p->err) : json_object_new_null());
		jp = json_object_new_object();
		json_object_object_add(jp, "config", jstr(cfg_mode_name(p->cv->poll)));
		json_object_object_add(jp, "active", json_object_new_boolean(p->polled));
		json_object_object_add(jp, "reason",
				       p->poll_why[0] ? jstr(p->poll_why) : json_object_new_null());
		json_object_object_add(jv, "poll", jp);
		jt = json_object_new_object();
		json_object_object_add(jt, "config", jstr(cfg_mode_name(p->cv->passthrough)));
		json_object_object_add(jt, "active", json_object_new_boolean(p->passthrough));
		json_object_object_add(jt, "reason",
				       p->pt_why[0] ? jstr(p->pt_why) : json_object_new_null());
		json_object_object_add(jv, "passthrough", jt);
		json_object_array_add(vols, jv);
		if (p->d.type == KP_BLOCK && p->d.nvme && p->d.io_poll == 0)
			json_object_array_add(hints, jstr(PROBE_POLL_HINT));
	}
	json_object_object_add(root, "volumes", vols);
	json_object_object_add(root, "fabrics", json_fabrics(pf, npf));
	json_object_object_add(root, "hints", hints);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ringd-probe [--json] [-c CONFIG] [DEVICE...]\n"
		   "       ringd-probe --help | --version\n"
		   "  Probe the kernel's io_uring (SQPOLL, IOPOLL, passthrough) and every\n"
		   "  volume of CONFIG (and each DEVICE): type, queue/io_poll, NVMe namespace,\n"
		   "  and the data path ringd would use; then the NVMe-oF controllers (those\n"
		   "  of CONFIG's [fabric] sections too) and their state. Run as the user\n"
		   "  ringd runs as.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL;
	struct cfg_volume *dev_cv = NULL;
	struct kp_system k;
	struct cfg c, *cp = NULL;
	struct pf *pf = NULL;
	unsigned int npf = 0;
	struct pv *pv;
	char err[1024];
	bool json = false;
	unsigned int n = 0, i;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "jc:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ringd-probe %s\n", RINGD_PROJECT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* vol_open() explains fallbacks at info level; the report says it all. */
	log_threshold = LOG_ERR;
	if (conf) {
		ret = cfg_load(conf, &c, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "ringd-probe: %s\n", err);
			return 1;
		}
		cp = &c;
	}
	kp_system_probe(&k);
	pv = calloc((cp ? cp->nvols : 0) + (unsigned int)(argc - optind) + 1, sizeof(*pv));
	dev_cv = calloc((unsigned int)(argc - optind) + 1, sizeof(*dev_cv));
	if (!pv || !dev_cv) {
		fprintf(stderr, "ringd-probe: out of memory\n");
		return 1;
	}
	for (i = 0; cp && i < cp->nvols; i++)
		probe_volume(cp, &cp->vols[i], &pv[n++]);
	for (i = 0; (int)i < argc - optind; i++)
		probe_device(argv[optind + (int)i], &pv[n++], &dev_cv[i]);
	probe_fabrics(cp, &pf, &npf);
	if (json)
		print_json(&k, cp, pv, n, pf, npf);
	else
		print_table(&k, cp, pv, n, pf, npf);
	free(pf);
	free(pv);
	free(dev_cv);
	if (cp)
		cfg_free(cp);
	return 0;
}
