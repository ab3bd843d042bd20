/* SPDX-License-Identifier: MIT */
#include "check.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fabric.h"
#include "log.h"
#include "volume.h"

/* Where a volume's extent lies, once its backing is known. */
struct chk_extent {
	bool known;
	dev_t dev; /* of the backing, or 0 with ino 0 for a file still to be created */
	ino_t ino;
	char path[PATH_MAX];
	uint64_t base, size;
};

struct chk {
	const struct cfg *cfg;
	FILE *errf;
	unsigned int errors, warnings;
};

static void __attribute__((format(printf, 3, 4)))
chk_report(struct chk *k, bool error, const char *fmt, ...)
{
	va_list ap;

	fprintf(k->errf, "ringd: %s: ", error ? "error" : "warning");
	va_start(ap, fmt);
	vfprintf(k->errf, fmt, ap);
	va_end(ap);
	fputc('\n', k->errf);
	if (error)
		k->errors++;
	else
		k->warnings++;
}

/*
 * Can the directory @dir be used to create files in, or be created (its
 * nearest existing ancestor is a writable directory)? Returns 0 or -errno
 * with the path that failed in @why.
 */
static int chk_dir(const char *dir, bool may_create, char *why, size_t len)
{
	char buf[PATH_MAX];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (;;) {
		snprintf(why, len, "%s", buf);
		if (!stat(buf, &st)) {
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
			return access(buf, W_OK | X_OK) ? -errno : 0;
		}
		if (errno != ENOENT || !may_create || !strcmp(buf, "/") || !strcmp(buf, "."))
			return -errno;
		snprintf(why, len, "%s", dirname(buf)); /* dirname() writes into buf */
		snprintf(buf, sizeof(buf), "%s", why);
	}
}

static void chk_state_dir(struct chk *k)
{
	const struct cfg *c = k->cfg;
	char why[PATH_MAX];
	int ret = chk_dir(c->state_dir, true, why, sizeof(why));

	if (ret)
		chk_report(k, true, "%s: [daemon] state_dir: %s cannot be used or created (%s: %s)",
			   c->path, c->state_dir, why, strerror(-ret));
}

/* The [fabric] section whose subsystem @nqn_spec ("NQN:NSID") is on, or NULL. */
static const struct cfg_fabric *chk_fabric_of(const struct cfg *c, const char *nqn_spec)
{
	size_t len;
	const char *colon = strrchr(nqn_spec, ':');
	unsigned int i;

	if (strncmp(nqn_spec, "nqn.", 4) || !colon)
		return NULL;
	len = (size_t)(colon - nqn_spec);
	for (i = 0; i < c->nfabrics; i++)
		if (strlen(c->fabrics[i].t.nqn) == len &&
		    !strncmp(c->fabrics[i].t.nqn, nqn_spec, len))
			return &c->fabrics[i];
	return NULL;
}

/*
 * Is @cv on a [fabric] the daemon would connect at start that is not
 * connected now? Then its namespace cannot be opened here: say so (a
 * warning) and return true.
 */
static bool chk_fabric_pending(struct chk *k, const struct cfg_volume *cv)
{
	const struct cfg_fabric *f = cv->nvme[0] ? chk_fabric_of(k->cfg, cv->nvme) : NULL;

	if (!f || kf_subsys_live(f->t.nqn) >= 0)
		return false;
	chk_report(k, false,
		   "%s:%u: [volume %s] nvme = %s: not checked: [fabric %s] is not connected now "
		   "(the daemon connects it at start)",
		   k->cfg->path, cv->line, cv->name, cv->nvme, f->name);
	return true;
}

/* Each [fabric]: the host can connect it (nvme-fabrics loaded, the
 * transport's module too), or it is connected already. */
static void chk_fabrics(struct chk *k)
{
	const struct cfg *c = k->cfg;
	unsigned int i;

	for (i = 0; i < c->nfabrics; i++) {
		const struct cfg_fabric *f = &c->fabrics[i];
		char mod[64];

		if (kf_subsys_live(f->t.nqn) >= 0)
			continue;
		if (access("/dev/nvme-fabrics", W_OK)) {
			chk_report(k, true,
				   "%s:%u: [fabric %s] cannot be connected: /dev/nvme-fabrics: %s "
				   "(load the nvme-%s module)",
				   c->path, f->line, f->name, strerror(errno), f->t.transport);
			continue;
		}
		snprintf(mod, sizeof(mod), "/sys/module/nvme_%s", f->t.transport);
		if (access(mod, F_OK))
			chk_report(k, true,
				   "%s:%u: [fabric %s] cannot be connected: transport %s is not "
				   "loaded (modprobe nvme-%s)",
				   c->path, f->line, f->name, f->t.transport, f->t.transport);
	}
}

/* Open @cv's backing as the daemon would, creating nothing; fill @ext. */
static void chk_volume(struct chk *k, const struct cfg_volume *cv, struct chk_extent *ext)
{
	const struct cfg *c = k->cfg;
	struct cfg_volume probe = *cv;
	char err[PATH_MAX + 512], why[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	struct vol v;
	int ret;

	if (!cv->path[0] && !cv->nvme[0])
		return; /* reported by the parser */
	if (chk_fabric_pending(k, cv))
		return;
	if (cv->path[0] == '/')
		ret = snprintf(ext->path, sizeof(ext->path), "%s", cv->path);
	else
		ret = snprintf(ext->path, sizeof(ext->path), "%s/%s", c->state_dir, cv->path);
	if (ret < 0 || (size_t)ret >= sizeof(ext->path)) {
		chk_report(k, true, "%s:%u: [volume %s] path: too long", c->path, cv->line,
			   cv->name);
		return;
	}
	if (cv->path[0] && cv->create_size && stat(ext->path, &st) && errno == ENOENT) {
		/* The daemon would create it: its directory must let it. A relative
		 * path's directory may be the state directory, which it creates. */
		snprintf(why, sizeof(why), "%s", ext->path);
		snprintf(dir, sizeof(dir), "%s", dirname(why));
		ret = chk_dir(dir, !strcmp(dir, c->state_dir), why, sizeof(why));
		if (ret) {
			chk_report(k, true,
				   "%s:%u: [volume %s] path: %s would be created (create_size), "
				   "but %s: %s",
				   c->path, cv->line, cv->name, ext->path, why, strerror(-ret));
			return;
		}
		ext->known = true;
		ext->base = cv->offset;
		ext->size = cv->size ? cv->size : cv->create_size - cv->offset;
		return;
	}
	probe.create_size = 0; /* never create anything while checking */
	ret = vol_open(&probe, c->state_dir, &v, err, sizeof(err));
	if (ret) {
		/* vol_open() names the volume first; the section says it here. */
		size_t skip = strlen("volume ") + strlen(cv->name) + 2;

		if (strncmp(err, "volume ", 7) || strncmp(err + 7, cv->name, strlen(cv->name)) ||
		    strncmp(err + skip - 2, ": ", 2))
			skip = 0;
		chk_report(k, true, "%s:%u: [volume %s] %s", c->path, cv->line, cv->name,
			   err + skip);
		return;
	}
	if (cv->has_on_path_loss && !v.subsysnqn[0])
		chk_report(k, false,
			   "%s:%u: [volume %s] on_path_loss: has no effect: %s is not reached over "
			   "a fabric",
			   c->path, cv->line, cv->name, v.path);
	if (!fstat(v.fd, &st)) {
		ext->known = true;
		ext->dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
		ext->ino = S_ISBLK(st.st_mode) ? 0 : st.st_ino;
		snprintf(ext->path, sizeof(ext->path), "%s", v.path);
		ext->base = v.v.base;
		ext->size = v.v.size;
	}
	vol_close(&v);
}

static bool chk_same_backing(const struct chk_extent *a, const struct chk_extent *b)
{
	if (a->dev || a->ino || b->dev || b->ino)
		return a->dev == b->dev && a->ino == b->ino;
	return !strcmp(a->path, b->path);
}

/* Two volumes over the same bytes: legal (one may be read-only), but
 * rarely meant. */
static void chk_overlaps(struct chk *k, const struct chk_extent *ext)
{
	const struct cfg *c = k->cfg;
	unsigned int i, j;

	for (i = 0; i < c->nvols; i++) {
		for (j = i + 1; j < c->nvols; j++) {
			const struct chk_extent *a = &ext[i], *b = &ext[j];

			if (!a->known || !b->known || !chk_same_backing(a, b))
				continue;
			if (a->base >= b->base + b->size || b->base >= a->base + a->size)
				continue;
			chk_report(k, false,
				   "%s:%u: [volume %s] extent [%llu, +%llu) overlaps volume %s's "
				   "[%llu, +%llu) on %s",
				   c->path, c->vols[j].line, c->vols[j].name,
				   (unsigned long long)b->base, (unsigned long long)b->size,
				   c->vols[i].name, (unsigned long long)a->base,
				   (unsigned long long)a->size, b->path);
		}
	}
}

/* A uid (gid) in two tenants: the first one listing it always wins. */
static void chk_shared_ids(struct chk *k)
{
	const struct cfg *c = k->cfg;
	unsigned int i, j, a, b;

	for (i = 0; i < c->ntenants; i++) {
		const struct cfg_tenant *first = &c->tenants[i];

		for (j = i + 1; j < c->ntenants; j++) {
			const struct cfg_tenant *t = &c->tenants[j];

			for (a = 0; a < t->nuids; a++)
				for (b = 0; b < first->nuids; b++)
					if (t->uids[a] == first->uids[b])
						chk_report(k, false,
							   "%s:%u: [tenant %s] uid %u is also in "
							   "tenant %s, which takes it (the first "
							   "listing a uid wins)",
							   c->path, t->line, t->name,
							   (unsigned int)t->uids[a], first->name);
			for (a = 0; a < t->ngids; a++)
				for (b = 0; b < first->ngids; b++)
					if (t->gids[a] == first->gids[b])
						chk_report(k, false,
							   "%s:%u: [tenant %s] gid %u is also in "
							   "tenant %s, which takes it (the first "
							   "listing a gid wins)",
							   c->path, t->line, t->name,
							   (unsigned int)t->gids[a], first->name);
		}
	}
}

unsigned int chk_config(const char *path, FILE *out, FILE *errf)
{
	static char err[65536];
	struct chk_extent *ext = NULL;
	struct chk k = { .errf = errf };
	unsigned int nerr, i;
	const char *line;
	struct cfg cfg;
	int ret;

	ret = cfg_load_all(path, &cfg, err, sizeof(err), &nerr);
	k.cfg = &cfg;
	for (line = err; *err && line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		fprintf(errf, "ringd: error: %.*s\n", (int)strcspn(line, "\n"), line);
	k.errors = nerr;
	if (ret && ret != -EINVAL)
		goto out; /* the file cannot be read, or out of memory */
	/* vol_open() explains its choices at info level; errors say enough here. */
	log_threshold = LOG_WARN;
	chk_state_dir(&k);
	chk_fabrics(&k);
	if (cfg.nvols) {
		ext = calloc(cfg.nvols, sizeof(*ext));
		if (!ext) {
			chk_report(&k, true, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < cfg.nvols; i++)
		chk_volume(&k, &cfg.vols[i], &ext[i]);
	chk_overlaps(&k, ext);
	chk_shared_ids(&k);
out:
	if (k.errors)
		fprintf(errf, "ringd: %s: %u error%s\n", path, k.errors, k.errors == 1 ? "" : "s");
	else
		fprintf(out, "%s: OK (%u volume%s, %u tenant%s%s)\n", path, cfg.nvols,
			cfg.nvols == 1 ? "" : "s", cfg.ntenants, cfg.ntenants == 1 ? "" : "s",
			k.warnings ? ", warnings above" : "");
	free(ext);
	cfg_free(&cfg);
	return k.errors;
}
