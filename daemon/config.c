/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_DEFAULT_SOCKET	       "/run/ringd/ringd.sock"
#define CFG_DEFAULT_STATE_DIR	       "/var/lib/ringd"
#define CFG_DEFAULT_MAX_IO	       (1u << 20)
#define CFG_DEFAULT_STALL_MS	       30000u
#define CFG_DEFAULT_POLL_IDLE_US       50u
#define CFG_DEFAULT_HANDSHAKE_MS       5000u
#define CFG_DEFAULT_HANDSHAKES_PER_UID 16u
#define CFG_DEFAULT_TENANT_SESSIONS    8u
#define CFG_DEFAULT_TENANT_MEMORY      (64ull << 20)
#define CFG_DEFAULT_TENANT_INFLIGHT    256u
#define CFG_DEFAULT_TENANT_VOLUMES     64u
#define CFG_DEFAULT_TENANT_FILES       256u
#define CFG_DEFAULT_DIR_ENTRIES	       10000u
#define CFG_MAX_DIR_ENTRIES	       (1u << 30)
/* Half of the daemon's request pool: one tenant can never take all of it. */
#define CFG_DEFAULT_TENANT_TOTAL_INFLIGHT 1024u

/* SEC_BAD: a header that was reported; its keys are skipped, not misfiled. */
enum cfg_section_kind { SEC_NONE, SEC_DAEMON, SEC_VOLUME, SEC_TENANT, SEC_FABRIC, SEC_BAD };

struct cfg_parse {
	struct cfg *cfg;
	FILE *f;
	unsigned int line;
	/* Section headers seen by the reader, and the last one's line: inih
	 * does not tell us when a section starts, and names alone cannot tell
	 * "[volume a]" from a second "[volume a]" right after it. */
	unsigned int sections_read;
	unsigned int sections_started;
	unsigned int section_line;
	char pending[2 * CFG_NAME_MAX + 16]; /* the last header's name */
	enum cfg_section_kind kind;
	char section[2 * CFG_NAME_MAX + 16]; /* as written, for messages */
	char *err;
	size_t errlen;
	size_t errused;
	unsigned int nerr;
	int errnum; /* of the first error; -ENOMEM stops the parse */
};

/*
 * Record an error at the current line, after those already recorded (one
 * a line, so that one run reports them all); returns 0 for inih.
 */
static int __attribute__((format(printf, 3, 4)))
cfg_fail(struct cfg_parse *p, const char *key, const char *fmt, ...)
{
	size_t room = p->errlen - p->errused;
	char msg[512], *dst = p->err + p->errused;
	va_list ap;
	int n;

	p->nerr++;
	if (!p->errnum)
		p->errnum = -EINVAL;
	if (room < 2)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key)
		n = snprintf(dst, room, "%s%s:%u: [%s] %s: %s", p->errused ? "\n" : "",
			     p->cfg->path, p->line, p->section, key, msg);
	else
		n = snprintf(dst, room, "%s%s:%u: %s", p->errused ? "\n" : "", p->cfg->path,
			     p->line, msg);
	p->errused += n < 0 ? 0 : (size_t)n >= room ? room - 1 : (size_t)n;
	return 0;
}

int cfg_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (shift) {
		end++;
		/* Accept "K", "KB", "KiB". */
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end)
			return -EINVAL;
		if (v > (UINT64_MAX >> shift))
			return -ERANGE;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

int cfg_parse_duration_ms(const char *s, unsigned int *out)
{
	unsigned long long v, mul = 1000;
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s") || !*end)
		mul = 1000;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60000;
	else
		return -EINVAL;
	if (v > UINT32_MAX / mul)
		return -ERANGE;
	*out = (unsigned int)(v * mul);
	return 0;
}

static int cfg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static bool cfg_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= CFG_NAME_MAX)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	}
	return true;
}

/* Copy @v into @dst of @len bytes; fails (for the caller to report) if it does not fit. */
static bool cfg_copy(char *dst, size_t len, const char *v)
{
	size_t n = strlen(v);

	if (n >= len)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

static int cfg_size_key(struct cfg_parse *p, const char *key, const char *v, uint64_t *out)
{
	int ret = cfg_parse_size(v, out);

	if (ret)
		return cfg_fail(p, key, "'%s' is not a size (bytes, or a number with K/M/G/T)", v);
	return 1;
}

static int cfg_bool_key(struct cfg_parse *p, const char *key, const char *v, bool *out)
{
	if (cfg_parse_bool(v, out))
		return cfg_fail(p, key, "'%s' is not yes/no", v);
	return 1;
}

static int cfg_uint_key(struct cfg_parse *p, const char *key, const char *v, uint64_t min,
			uint64_t max, unsigned int *out)
{
	uint64_t x;

	if (cfg_parse_uint(v, max, &x) || x < min)
		return cfg_fail(p, key, "'%s' is not a whole number in [%llu, %llu]", v,
				(unsigned long long)min, (unsigned long long)max);
	*out = (unsigned int)x;
	return 1;
}

const char *cfg_mode_name(enum cfg_mode m)
{
	return m == CFG_ON ? "on" : m == CFG_OFF ? "off" : "auto";
}

static int cfg_mode_key(struct cfg_parse *p, const char *key, const char *v, enum cfg_mode *out)
{
	bool b;

	if (!strcmp(v, "auto")) {
		*out = CFG_AUTO;
		return 1;
	}
	if (cfg_parse_bool(v, &b))
		return cfg_fail(p, key, "'%s' is not auto, on or off", v);
	*out = b ? CFG_ON : CFG_OFF;
	return 1;
}

static int cfg_daemon_key(struct cfg_parse *p, const char *key, const char *v)
{
	struct cfg *c = p->cfg;
	uint64_t size;

	if (!strcmp(key, "socket")) {
		if (v[0] != '/' || !cfg_copy(c->socket_path, sizeof(c->socket_path), v))
			return cfg_fail(p, key, "must be an absolute path shorter than %d bytes",
					CFG_SOCK_MAX);
		return 1;
	}
	if (!strcmp(key, "state_dir")) {
		if (v[0] != '/' || !cfg_copy(c->state_dir, sizeof(c->state_dir), v))
			return cfg_fail(p, key, "must be an absolute path");
		return 1;
	}
	if (!strcmp(key, "log_level")) {
		if (log_level_parse(v, &c->log_level))
			return cfg_fail(p, key, "'%s' is not one of error, warn, info, debug", v);
		return 1;
	}
	if (!strcmp(key, "socket_mode")) {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(v, &end, 8);
		if (!*v || *end || errno || m > 0777)
			return cfg_fail(p, key, "'%s' is not an octal mode like 0660", v);
		c->socket_mode = (unsigned int)m;
		return 1;
	}
	if (!strcmp(key, "socket_group")) {
		uint64_t id;
		struct group *g;

		if (!cfg_parse_uint(v, UINT32_MAX - 1, &id)) {
			c->socket_group = (gid_t)id;
		} else {
			g = getgrnam(v);
			if (!g)
				return cfg_fail(p, key, "no group called '%s'", v);
			c->socket_group = g->gr_gid;
		}
		c->has_socket_group = true;
		return 1;
	}
	if (!strcmp(key, "max_io_size")) {
		if (cfg_size_key(p, key, v, &size) != 1)
			return 0;
		if (size < 4096 || size > (64u << 20))
			return cfg_fail(p, key, "must be between 4K and 64M");
		c->max_io_size = (uint32_t)size;
		return 1;
	}
	if (!strcmp(key, "stall_timeout")) {
		if (cfg_parse_duration_ms(v, &c->stall_timeout_ms) || !c->stall_timeout_ms)
			return cfg_fail(p, key, "'%s' is not a duration like 30s or 500ms", v);
		return 1;
	}
	if (!strcmp(key, "max_sessions"))
		return cfg_uint_key(p, key, v, 1, 65536, &c->max_sessions);
	if (!strcmp(key, "handshake_timeout")) {
		if (cfg_parse_duration_ms(v, &c->handshake_timeout_ms) ||
		    !c->handshake_timeout_ms || c->handshake_timeout_ms > 600000)
			return cfg_fail(p, key, "'%s' is not a duration up to 10m like 5s", v);
		return 1;
	}
	if (!strcmp(key, "max_handshakes_per_uid"))
		return cfg_uint_key(p, key, v, 1, 65536, &c->max_handshakes_per_uid);
	if (!strcmp(key, "poll_idle_us"))
		return cfg_uint_key(p, key, v, 0, 1000000, &c->poll_idle_us);
	if (!strcmp(key, "qos")) {
		bool on;

		if (cfg_parse_bool(v, &on))
			return cfg_fail(p, key, "'%s' is not on/off", v);
		c->qos_off = !on;
		return 1;
	}
	if (!strcmp(key, "qos_cost_unit")) {
		if (cfg_size_key(p, key, v, &size) != 1)
			return 0;
		if (size < 512 || size > (64u << 20))
			return cfg_fail(p, key, "must be between 512 and 64M");
		c->qos_cost_unit = (uint32_t)size;
		return 1;
	}
	if (!strcmp(key, "qos_flush_cost"))
		return cfg_uint_key(p, key, v, 0, 1000000, &c->qos_flush_cost);
	if (!strcmp(key, "figures")) {
		bool on;

		if (cfg_parse_bool(v, &on))
			return cfg_fail(p, key, "'%s' is not on/off", v);
		c->figures_off = !on;
		return 1;
	}
	if (!strcmp(key, "admin_group")) {
		uint64_t id;
		struct group *g;

		if (!cfg_parse_uint(v, UINT32_MAX - 1, &id)) {
			c->admin_group = (gid_t)id;
		} else {
			g = getgrnam(v);
			if (!g)
				return cfg_fail(p, key, "no group called '%s'", v);
			c->admin_group = g->gr_gid;
		}
		c->has_admin_group = true;
		return 1;
	}
	if (!strcmp(key, "metrics_file")) {
		if (v[0] && (v[0] != '/' || !cfg_copy(c->metrics_file, sizeof(c->metrics_file), v)))
			return cfg_fail(p, key, "must be an absolute path");
		return 1;
	}
	if (!strcmp(key, "metrics_interval")) {
		if (cfg_parse_duration_ms(v, &c->metrics_interval_ms) ||
		    c->metrics_interval_ms < 100 || c->metrics_interval_ms > 3600000)
			return cfg_fail(p, key, "'%s' is not a duration from 100ms to 1h like 10s",
					v);
		return 1;
	}
	if (!strcmp(key, "sqpoll")) {
		if (cfg_parse_bool(v, &c->sqpoll))
			return cfg_fail(p, key, "'%s' is not on/off", v);
		return 1;
	}
	if (!strcmp(key, "sqpoll_cpu")) {
		unsigned int cpu = 0;

		if (cfg_uint_key(p, key, v, 0, 4095, &cpu) != 1)
			return 0;
		c->sqpoll_cpu = (int)cpu;
		return 1;
	}
	if (!strcmp(key, "sqpoll_idle_ms")) {
		if (cfg_parse_duration_ms(v, &c->sqpoll_idle_ms) || c->sqpoll_idle_ms > 60000)
			return cfg_fail(p, key, "'%s' is not a duration up to 60s like 50ms", v);
		return 1;
	}
	return cfg_fail(p, key, "unknown key");
}

static int cfg_volume_key(struct cfg_parse *p, const char *key, const char *v)
{
	struct cfg_volume *vol = &p->cfg->vols[p->cfg->nvols - 1];

	if (!strcmp(key, "path")) {
		if (!*v || !cfg_copy(vol->path, sizeof(vol->path), v))
			return cfg_fail(p, key, "empty or too long");
		return 1;
	}
	if (!strcmp(key, "dir")) {
		if (!*v || !cfg_copy(vol->dir, sizeof(vol->dir), v))
			return cfg_fail(p, key, "empty or too long");
		return 1;
	}
	if (!strcmp(key, "create_size"))
		return cfg_size_key(p, key, v, &vol->create_size);
	if (!strcmp(key, "offset"))
		return cfg_size_key(p, key, v, &vol->offset);
	if (!strcmp(key, "size"))
		return cfg_size_key(p, key, v, &vol->size);
	if (!strcmp(key, "max_entries"))
		return cfg_uint_key(p, key, v, 1, CFG_MAX_DIR_ENTRIES, &vol->max_entries);
	if (!strcmp(key, "direct"))
		return cfg_bool_key(p, key, v, &vol->direct);
	if (!strcmp(key, "readonly"))
		return cfg_bool_key(p, key, v, &vol->readonly);
	if (!strcmp(key, "poll"))
		return cfg_mode_key(p, key, v, &vol->poll);
	if (!strcmp(key, "passthrough"))
		return cfg_mode_key(p, key, v, &vol->passthrough);
	if (!strcmp(key, "nvme")) {
		const char *colon = strrchr(v, ':');

		if (!colon || colon == v || !colon[1] || !cfg_copy(vol->nvme, sizeof(vol->nvme), v))
			return cfg_fail(p, key, "'%s' is not SERIAL:NSID or NQN:NSID", v);
		return 1;
	}
	if (!strcmp(key, "on_path_loss")) {
		if (!strcmp(v, "wait"))
			vol->on_path_loss = CFG_PATH_LOSS_WAIT;
		else if (!strcmp(v, "fail"))
			vol->on_path_loss = CFG_PATH_LOSS_FAIL;
		else
			return cfg_fail(p, key, "'%s' is not wait or fail", v);
		vol->has_on_path_loss = true;
		return 1;
	}
	return cfg_fail(p, key, "unknown key");
}

const char *cfg_path_loss_name(enum cfg_path_loss m)
{
	return m == CFG_PATH_LOSS_FAIL ? "fail" : "wait";
}

/* A [fabric] time in whole seconds into *@out; @none ("off", "forever")
 * stores @none_val. */
static int cfg_secs_key(struct cfg_parse *p, const char *key, const char *v, const char *none,
			int none_val, unsigned int max_s, int *out)
{
	unsigned int ms;

	if (none && !strcmp(v, none)) {
		*out = none_val;
		return 1;
	}
	if (cfg_parse_duration_ms(v, &ms) || ms % 1000 || ms / 1000 > max_s)
		return cfg_fail(p, key, "'%s' is not whole seconds up to %us like 5s%s%s", v, max_s,
				none ? ", or " : "", none ? none : "");
	*out = (int)(ms / 1000);
	return 1;
}

static int cfg_fabric_key(struct cfg_parse *p, const char *key, const char *v)
{
	struct kf_target *t = &p->cfg->fabrics[p->cfg->nfabrics - 1].t;
	unsigned int n = 0;

	if (!strcmp(key, "transport")) {
		if (strcmp(v, "tcp") && strcmp(v, "rdma"))
			return cfg_fail(p, key, "'%s' is not tcp or rdma", v);
		snprintf(t->transport, sizeof(t->transport), "%s", v);
		return 1;
	}
	if (!strcmp(key, "traddr")) {
		if (!*v || strchr(v, ',') || !cfg_copy(t->traddr, sizeof(t->traddr), v))
			return cfg_fail(p, key, "'%s' is not an address", v);
		return 1;
	}
	if (!strcmp(key, "trsvcid")) {
		if (!*v || strchr(v, ',') || !cfg_copy(t->trsvcid, sizeof(t->trsvcid), v))
			return cfg_fail(p, key, "'%s' is not a service id (a port)", v);
		return 1;
	}
	if (!strcmp(key, "nqn") || !strcmp(key, "hostnqn")) {
		char *dst = key[0] == 'n' ? t->nqn : t->hostnqn;

		if (strncmp(v, "nqn.", 4) || strchr(v, ',') || !cfg_copy(dst, KP_NQN_MAX, v))
			return cfg_fail(
			    p, key,
			    "'%s' is not an NQN (nqn.YYYY-MM.domain:name, at most %d bytes)", v,
			    KP_NQN_MAX - 1);
		return 1;
	}
	if (!strcmp(key, "nr_poll_queues")) {
		if (cfg_uint_key(p, key, v, 0, 128, &n) != 1)
			return 0;
		t->nr_poll_queues = (int)n;
		return 1;
	}
	if (!strcmp(key, "ctrl_loss_tmo"))
		return cfg_secs_key(p, key, v, "forever", KF_FOREVER, 86400 * 365,
				    &t->ctrl_loss_tmo);
	if (!strcmp(key, "fast_io_fail_tmo"))
		return cfg_secs_key(p, key, v, "off", -1, 86400 * 365, &t->fast_io_fail_tmo);
	if (!strcmp(key, "reconnect_delay"))
		return cfg_secs_key(p, key, v, NULL, 0, 86400, &t->reconnect_delay);
	return cfg_fail(p, key, "unknown key");
}

/* Append the ids of a comma-separated list of numbers or names. */
static int cfg_id_list(struct cfg_parse *p, const char *key, const char *v, bool group)
{
	struct cfg_tenant *t = &p->cfg->tenants[p->cfg->ntenants - 1];
	char buf[1024], *save = NULL, *tok;

	if (!cfg_copy(buf, sizeof(buf), v))
		return cfg_fail(p, key, "value too long");
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		unsigned int *n = group ? &t->ngids : &t->nuids;
		uint64_t id;
		bool numeric = !strcmp(key, "uid") || !strcmp(key, "gid");

		if (*n >= CFG_MAX_IDS)
			return cfg_fail(p, key, "more than %d ids", CFG_MAX_IDS);
		if (numeric) {
			if (cfg_parse_uint(tok, UINT32_MAX - 1, &id))
				return cfg_fail(p, key, "'%s' is not a numeric id", tok);
		} else if (group) {
			struct group *g = getgrnam(tok);

			if (!g)
				return cfg_fail(p, key, "no group called '%s'", tok);
			id = g->gr_gid;
		} else {
			struct passwd *pw = getpwnam(tok);

			if (!pw)
				return cfg_fail(p, key, "no user called '%s'", tok);
			id = pw->pw_uid;
		}
		if (group)
			t->gids[(*n)++] = (gid_t)id;
		else
			t->uids[(*n)++] = (uid_t)id;
	}
	return 1;
}

/* One [tenant] qos_* key. */
static int cfg_qos_key(struct cfg_parse *p, const char *key, const char *v, struct cfg_qos *q)
{
	static const struct {
		const char *key;
		size_t off;
		bool bytes;
	} limits[] = {
		{ "qos_reserve_iops", offsetof(struct cfg_qos, reserve_iops), false },
		{ "qos_limit_iops", offsetof(struct cfg_qos, limit_iops), false },
		{ "qos_limit_read_iops", offsetof(struct cfg_qos, limit_read_iops), false },
		{ "qos_limit_write_iops", offsetof(struct cfg_qos, limit_write_iops), false },
		{ "qos_limit_bw", offsetof(struct cfg_qos, limit_bw), true },
		{ "qos_limit_read_bw", offsetof(struct cfg_qos, limit_read_bw), true },
		{ "qos_limit_write_bw", offsetof(struct cfg_qos, limit_write_bw), true },
	};
	unsigned int i;
	uint64_t x;

	if (!strcmp(key, "qos_weight"))
		return cfg_uint_key(p, key, v, 1, 10000, &q->weight);
	if (!strcmp(key, "qos_burst")) {
		if (cfg_parse_duration_ms(v, &q->burst_ms) || q->burst_ms > 3600000)
			return cfg_fail(p, key, "'%s' is not a duration up to 1h like 1s or 200ms",
					v);
		return 1;
	}
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (strcmp(key, limits[i].key))
			continue;
		if (limits[i].bytes) {
			if (cfg_size_key(p, key, v, &x) != 1)
				return 0;
			if (x > (1ull << 50))
				return cfg_fail(p, key, "'%s' is above 1P per second", v);
		} else if (cfg_parse_uint(v, 1ull << 40, &x)) {
			return cfg_fail(p, key, "'%s' is not a whole number of units per second",
					v);
		}
		memcpy((char *)q + limits[i].off, &x, sizeof(x));
		return 1;
	}
	return cfg_fail(p, key, "unknown key");
}

static int cfg_tenant_key(struct cfg_parse *p, const char *key, const char *v)
{
	struct cfg_tenant *t = &p->cfg->tenants[p->cfg->ntenants - 1];

	if (!strcmp(key, "uid") || !strcmp(key, "user"))
		return cfg_id_list(p, key, v, false);
	if (!strcmp(key, "gid") || !strcmp(key, "group"))
		return cfg_id_list(p, key, v, true);
	if (!strcmp(key, "volumes")) {
		free(t->volumes_raw);
		t->volumes_raw = strdup(v);
		if (!t->volumes_raw) {
			p->errnum = -ENOMEM;
			return 0;
		}
		t->volumes_line = p->line;
		return 1;
	}
	if (!strcmp(key, "max_sessions"))
		return cfg_uint_key(p, key, v, 1, 65536, &t->max_sessions);
	if (!strcmp(key, "max_session_memory")) {
		if (cfg_size_key(p, key, v, &t->max_session_memory) != 1)
			return 0;
		if (t->max_session_memory < (64u << 10) || t->max_session_memory > (1ull << 30))
			return cfg_fail(p, key, "must be between 64K and 1G");
		return 1;
	}
	if (!strcmp(key, "max_inflight"))
		return cfg_uint_key(p, key, v, 1, 65536, &t->max_inflight);
	if (!strncmp(key, "qos_", 4))
		return cfg_qos_key(p, key, v, &t->qos);
	if (!strcmp(key, "max_tenant_inflight"))
		return cfg_uint_key(p, key, v, 1, 65536, &t->max_tenant_inflight);
	if (!strcmp(key, "max_open_volumes"))
		return cfg_uint_key(p, key, v, 1, 64, &t->max_open_volumes);
	if (!strcmp(key, "max_open_files"))
		return cfg_uint_key(p, key, v, 1, CFG_MAX_OPEN_FILES, &t->max_open_files);
	return cfg_fail(p, key, "unknown key");
}

/* Grow an array by one zeroed element. Returns the new element or NULL. */
static void *cfg_grow(void **arr, unsigned int *n, size_t elem)
{
	void *a = realloc(*arr, (*n + 1) * elem);

	if (!a)
		return NULL;
	*arr = a;
	memset((char *)a + *n * elem, 0, elem);
	return (char *)a + (*n)++ * elem;
}

/* A new "[kind name]" section starts. */
static int cfg_section_start(struct cfg_parse *p, const char *section)
{
	struct cfg *c = p->cfg;
	const char *name;
	unsigned int i;

	snprintf(p->section, sizeof(p->section), "%s", section);
	p->line = p->section_line;
	p->kind = SEC_BAD;
	if (!strcmp(section, "daemon")) {
		p->kind = SEC_DAEMON;
		return 1;
	}
	if (!strncmp(section, "volume ", 7)) {
		struct cfg_volume *vol;

		name = section + 7;
		if (!cfg_name_ok(name))
			return cfg_fail(p, NULL, "[%s]: volume names are 1-63 of [A-Za-z0-9._-]",
					section);
		if (cfg_volume_find(c, name) >= 0)
			return cfg_fail(p, NULL, "[%s]: volume defined twice", section);
		vol = cfg_grow((void **)&c->vols, &c->nvols, sizeof(*vol));
		if (!vol) {
			p->errnum = -ENOMEM;
			return 0;
		}
		snprintf(vol->name, sizeof(vol->name), "%s", name);
		vol->line = p->line;
		p->kind = SEC_VOLUME;
		return 1;
	}
	if (!strncmp(section, "tenant ", 7)) {
		struct cfg_tenant *t;

		name = section + 7;
		if (!cfg_name_ok(name))
			return cfg_fail(p, NULL, "[%s]: tenant names are 1-63 of [A-Za-z0-9._-]",
					section);
		for (i = 0; i < c->ntenants; i++)
			if (!strcmp(c->tenants[i].name, name))
				return cfg_fail(p, NULL, "[%s]: tenant defined twice", section);
		t = cfg_grow((void **)&c->tenants, &c->ntenants, sizeof(*t));
		if (!t) {
			p->errnum = -ENOMEM;
			return 0;
		}
		snprintf(t->name, sizeof(t->name), "%s", name);
		t->line = p->line;
		t->max_sessions = CFG_DEFAULT_TENANT_SESSIONS;
		t->max_session_memory = CFG_DEFAULT_TENANT_MEMORY;
		t->max_inflight = CFG_DEFAULT_TENANT_INFLIGHT;
		t->max_open_volumes = CFG_DEFAULT_TENANT_VOLUMES;
		t->max_open_files = CFG_DEFAULT_TENANT_FILES;
		t->qos.weight = 100;
		t->qos.burst_ms = 1000;
		t->max_tenant_inflight = CFG_DEFAULT_TENANT_TOTAL_INFLIGHT;
		p->kind = SEC_TENANT;
		return 1;
	}
	if (!strncmp(section, "fabric ", 7)) {
		struct cfg_fabric *f;

		name = section + 7;
		if (!cfg_name_ok(name))
			return cfg_fail(p, NULL, "[%s]: fabric names are 1-63 of [A-Za-z0-9._-]",
					section);
		for (i = 0; i < c->nfabrics; i++)
			if (!strcmp(c->fabrics[i].name, name))
				return cfg_fail(p, NULL, "[%s]: fabric defined twice", section);
		f = cfg_grow((void **)&c->fabrics, &c->nfabrics, sizeof(*f));
		if (!f) {
			p->errnum = -ENOMEM;
			return 0;
		}
		snprintf(f->name, sizeof(f->name), "%s", name);
		snprintf(f->t.transport, sizeof(f->t.transport), "tcp");
		f->t.ctrl_loss_tmo = -1;
		f->t.fast_io_fail_tmo = -1;
		f->t.reconnect_delay = -1;
		f->line = p->line;
		p->kind = SEC_FABRIC;
		return 1;
	}
	return cfg_fail(p, NULL,
			"unknown section [%s] (expected [daemon], [volume NAME], [tenant NAME], "
			"[fabric NAME])",
			section);
}

static int cfg_handler(void *user, const char *section, const char *key, const char *value)
{
	struct cfg_parse *p = user;

	if (p->errnum == -ENOMEM)
		return 0;
	/* inih does not call us at a new section (INI_CALL_HANDLER_ON_NEW_SECTION
	 * is off in Debian's build): the reader counts section headers. */
	if (!*section)
		return cfg_fail(p, key, "key outside of any section");
	if (p->sections_read != p->sections_started || p->kind == SEC_NONE) {
		unsigned int key_line = p->line;
		int ok;

		p->sections_started = p->sections_read;
		ok = cfg_section_start(p, section);
		p->line = key_line;
		if (!ok)
			return 0;
	}
	if (!key)
		return 1;
	switch (p->kind) {
	case SEC_DAEMON:
		return cfg_daemon_key(p, key, value);
	case SEC_VOLUME:
		return cfg_volume_key(p, key, value);
	case SEC_TENANT:
		return cfg_tenant_key(p, key, value);
	case SEC_FABRIC:
		return cfg_fabric_key(p, key, value);
	case SEC_BAD:
		return 1;
	default:
		return cfg_fail(p, key, "key outside of any section");
	}
}

/*
 * The section read last has no keys, so inih never showed it to the
 * handler: start it now, so that "[volme x]" or an empty "[volume x]" is
 * an error too.
 */
static void cfg_start_empty(struct cfg_parse *p)
{
	unsigned int line = p->line;

	if (p->errnum == -ENOMEM || p->sections_read == p->sections_started)
		return;
	p->sections_started = p->sections_read;
	cfg_section_start(p, p->pending);
	p->line = line;
}

/*
 * A line inih will call a syntax error: neither blank, a comment, a section
 * header nor "key = value" (or "key: value"). Reported here, since inih
 * tells only the first error line it met, whatever its kind.
 */
static bool cfg_syntax_error(const char *c)
{
	if (!*c || *c == '\n' || *c == '\r' || *c == ';' || *c == '#')
		return false;
	if (*c == '[')
		return !strchr(c, ']');
	return !strpbrk(c, "=:");
}

/* inih reader: fgets that counts lines and section headers and reports
 * syntax errors. NULL (EOF for inih) once out of memory. */
static char *cfg_reader(char *str, int num, void *stream)
{
	struct cfg_parse *p = stream;
	char *r = fgets(str, num, p->f);
	const char *c = r;
	size_t n;

	if (!r) {
		cfg_start_empty(p);
		return NULL;
	}
	p->line++;
	while (*c == ' ' || *c == '\t')
		c++;
	if (cfg_syntax_error(c)) {
		/* inih starts no section on a bad header: its keys go to the last one. */
		cfg_fail(p, NULL, "syntax error (expected [section] or key = value)");
	} else if (*c == '[') {
		cfg_start_empty(p);
		p->sections_read++;
		p->section_line = p->line;
		n = strcspn(c + 1, "]\r\n");
		if (n >= sizeof(p->pending))
			n = sizeof(p->pending) - 1;
		memcpy(p->pending, c + 1, n);
		p->pending[n] = '\0';
	}
	return p->errnum == -ENOMEM ? NULL : r;
}

/* Turn "db1:rw, logs:ro" into grants. */
static int cfg_resolve_grants(struct cfg_parse *p, struct cfg_tenant *t)
{
	char *save = NULL, *tok, *buf;
	unsigned int i;

	if (!t->volumes_raw)
		return 1;
	p->line = t->volumes_line;
	snprintf(p->section, sizeof(p->section), "tenant %s", t->name);
	buf = strdup(t->volumes_raw);
	if (!buf) {
		p->errnum = -ENOMEM;
		return 0;
	}
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char *mode = strchr(tok, ':');
		struct cfg_grant *g;
		bool rw = false;
		int vi;

		if (mode) {
			*mode++ = '\0';
			if (!strcmp(mode, "rw")) {
				rw = true;
			} else if (strcmp(mode, "ro")) {
				cfg_fail(p, "volumes", "'%s:%s': access must be ro or rw", tok,
					 mode);
				continue;
			}
		}
		vi = cfg_volume_find(p->cfg, tok);
		if (vi < 0) {
			cfg_fail(p, "volumes", "no [volume %s] is defined", tok);
			continue;
		}
		for (i = 0; i < t->ngrants && t->grants[i].vol != (unsigned int)vi; i++)
			;
		if (i < t->ngrants) {
			cfg_fail(p, "volumes", "volume '%s' listed twice", tok);
			continue;
		}
		g = cfg_grow((void **)&t->grants, &t->ngrants, sizeof(*g));
		if (!g) {
			p->errnum = -ENOMEM;
			goto out_free;
		}
		g->vol = (unsigned int)vi;
		g->rw = rw;
	}
	free(buf);
	return 1;

out_free:
	free(buf);
	return 0;
}

/* A [fabric] section is complete, its times agree, and no earlier one
 * names the same controller. */
static void cfg_finish_fabric(struct cfg_parse *p, struct cfg_fabric *f, unsigned int idx)
{
	struct kf_target *t = &f->t;
	int loss = t->ctrl_loss_tmo == -1 ? 600 : t->ctrl_loss_tmo; /* the kernel's default */
	unsigned int j;

	p->line = f->line;
	snprintf(p->section, sizeof(p->section), "fabric %s", f->name);
	if (!t->traddr[0])
		cfg_fail(p, "traddr", "missing: the target's address");
	if (!t->nqn[0])
		cfg_fail(p, "nqn", "missing: the subsystem's NQN");
	if (!t->trsvcid[0]) /* the NVMe/TCP and NVMe/RDMA port */
		snprintf(t->trsvcid, sizeof(t->trsvcid), "4420");
	if (loss != KF_FOREVER && t->fast_io_fail_tmo >= 0 && t->fast_io_fail_tmo > loss)
		cfg_fail(p, "fast_io_fail_tmo",
			 "%ds is beyond ctrl_loss_tmo (%ds): the controller would be gone first",
			 t->fast_io_fail_tmo, loss);
	if (loss != KF_FOREVER && t->reconnect_delay > 0 && t->reconnect_delay > loss)
		cfg_fail(p, "reconnect_delay", "%ds is beyond ctrl_loss_tmo (%ds)",
			 t->reconnect_delay, loss);
	for (j = 0; j < idx; j++) {
		const struct kf_target *o = &p->cfg->fabrics[j].t;

		if (!strcmp(o->transport, t->transport) && !strcmp(o->traddr, t->traddr) &&
		    !strcmp(o->trsvcid, t->trsvcid) && !strcmp(o->nqn, t->nqn))
			cfg_fail(p, "nqn", "the same controller as [fabric %s]",
				 p->cfg->fabrics[j].name);
	}
}

/* Checks that need the whole file; each volume and tenant is checked
 * whatever was wrong before it. */
static void cfg_finish(struct cfg_parse *p)
{
	struct cfg *c = p->cfg;
	unsigned int i;

	for (i = 0; i < c->nvols; i++) {
		struct cfg_volume *v = &c->vols[i];

		p->line = v->line;
		snprintf(p->section, sizeof(p->section), "volume %s", v->name);
		if (!v->path[0] && !v->nvme[0] && !v->dir[0])
			cfg_fail(p, "path", "missing: every volume needs a path (or nvme, or dir)");
		if (!!v->path[0] + !!v->nvme[0] + !!v->dir[0] > 1)
			cfg_fail(p, v->dir[0] ? "dir" : "nvme",
				 "give one of path, nvme and dir, not several");
		if (v->dir[0] && !v->size)
			cfg_fail(p, "size",
				 "missing: a directory volume needs size (the most bytes its files "
				 "hold)");
		if (v->dir[0] &&
		    (v->offset || v->create_size || v->poll == CFG_ON || v->passthrough == CFG_ON))
			cfg_fail(p, "dir",
				 "offset, create_size, poll and passthrough do not apply to a "
				 "directory volume");
		if (v->nvme[0] && v->create_size)
			cfg_fail(p, "create_size", "an NVMe namespace cannot be created");
		if (v->has_on_path_loss && v->dir[0])
			cfg_fail(p, "on_path_loss", "does not apply to a directory volume");
		if (v->max_entries && !v->dir[0])
			cfg_fail(p, "max_entries", "applies to a directory volume (dir =) only");
		else if (v->dir[0] && !v->max_entries)
			v->max_entries = CFG_DEFAULT_DIR_ENTRIES;
		if (v->offset + v->size < v->offset)
			cfg_fail(p, "size", "offset + size overflows");
		else if (v->create_size && v->size && v->offset + v->size > v->create_size)
			cfg_fail(p, "size", "offset + size is beyond create_size");
	}
	for (i = 0; i < c->nfabrics; i++)
		cfg_finish_fabric(p, &c->fabrics[i], i);
	for (i = 0; i < c->ntenants && p->errnum != -ENOMEM; i++) {
		struct cfg_tenant *t = &c->tenants[i];

		p->line = t->line;
		snprintf(p->section, sizeof(p->section), "tenant %s", t->name);
		if (!t->nuids && !t->ngids)
			cfg_fail(p, "uid", "missing: a tenant needs uid, gid, user or group");
		cfg_resolve_grants(p, t);
	}
}

int cfg_load_all(const char *path, struct cfg *out, char *err, size_t errlen, unsigned int *nerr)
{
	struct cfg_parse p;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	snprintf(out->path, sizeof(out->path), "%s", path);
	snprintf(out->socket_path, sizeof(out->socket_path), "%s", CFG_DEFAULT_SOCKET);
	snprintf(out->state_dir, sizeof(out->state_dir), "%s", CFG_DEFAULT_STATE_DIR);
	out->log_level = LOG_INFO;
	out->socket_mode = 0666;
	out->max_io_size = CFG_DEFAULT_MAX_IO;
	out->stall_timeout_ms = CFG_DEFAULT_STALL_MS;
	out->poll_idle_us = CFG_DEFAULT_POLL_IDLE_US;
	out->max_sessions = 1024;
	out->handshake_timeout_ms = CFG_DEFAULT_HANDSHAKE_MS;
	out->max_handshakes_per_uid = CFG_DEFAULT_HANDSHAKES_PER_UID;
	out->sqpoll_cpu = -1;
	out->sqpoll_idle_ms = 50;
	out->qos_cost_unit = 4096;
	out->qos_flush_cost = 1;
	p.cfg = out;
	p.err = err;
	p.errlen = errlen;
	if (errlen)
		err[0] = '\0';
	*nerr = 0;
	p.f = fopen(path, "re");
	if (!p.f) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		*nerr = 1;
		return ret;
	}
	ret = ini_parse_stream(cfg_reader, &p, cfg_handler, &p);
	fclose(p.f);
	if (!p.nerr && ret > 0) {
		/* One inih calls an error that cfg_syntax_error() did not. */
		p.line = (unsigned int)ret;
		cfg_fail(&p, NULL, "syntax error (expected [section] or key = value)");
	} else if (ret < 0) {
		p.errnum = -ENOMEM;
	}
	if (p.errnum != -ENOMEM)
		cfg_finish(&p);
	if (p.errnum == -ENOMEM) {
		snprintf(err, errlen, "%s: out of memory while parsing", path);
		p.nerr = 1;
	}
	*nerr = p.nerr;
	return p.errnum;
}

int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen)
{
	unsigned int nerr;
	int ret = cfg_load_all(path, out, err, errlen, &nerr);

	if (ret)
		cfg_free(out);
	return ret;
}

void cfg_free(struct cfg *c)
{
	unsigned int i;

	for (i = 0; i < c->ntenants; i++) {
		free(c->tenants[i].grants);
		free(c->tenants[i].volumes_raw);
	}
	free(c->tenants);
	free(c->vols);
	free(c->fabrics);
	c->tenants = NULL;
	c->vols = NULL;
	c->fabrics = NULL;
	c->nfabrics = 0;
	c->ntenants = 0;
	c->nvols = 0;
}

int cfg_volume_find(const struct cfg *c, const char *name)
{
	unsigned int i;

	for (i = 0; i < c->nvols; i++)
		if (!strcmp(c->vols[i].name, name))
			return (int)i;
	return -1;
}

const struct cfg_grant *cfg_tenant_grant(const struct cfg *c, const struct cfg_tenant *t,
					 const char *name)
{
	unsigned int i;

	for (i = 0; i < t->ngrants; i++)
		if (!strcmp(c->vols[t->grants[i].vol].name, name))
			return &t->grants[i];
	return NULL;
}

int cfg_tenant_for(const struct cfg *c, uid_t uid, gid_t gid)
{
	unsigned int i, j;

	for (i = 0; i < c->ntenants; i++)
		for (j = 0; j < c->tenants[i].nuids; j++)
			if (c->tenants[i].uids[j] == uid)
				return (int)i;
	for (i = 0; i < c->ntenants; i++)
		for (j = 0; j < c->tenants[i].ngids; j++)
			if (c->tenants[i].gids[j] == gid)
				return (int)i;
	return -1;
}
