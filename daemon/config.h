/* SPDX-License-Identifier: MIT */
/* cfg_: the INI configuration (parsed with libinih). */
#ifndef RINGD_DAEMON_CONFIG_H
#define RINGD_DAEMON_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fabric.h"
#include "log.h"

#define CFG_NAME_MAX 64
#define CFG_MAX_IDS  16
#define CFG_SOCK_MAX 108

/* poll = / passthrough = of a volume. */
enum cfg_mode { CFG_AUTO = 0, CFG_ON, CFG_OFF };

/* on_path_loss = of a volume reached over a fabric: what a tenant's I/O
 * does while no path to the namespace is live. */
enum cfg_path_loss {
	CFG_PATH_LOSS_WAIT = 0, /* held (by the kernel) until fast_io_fail_tmo, then -EIO */
	CFG_PATH_LOSS_FAIL,	/* -EIO at once */
};

/* Files of directory volumes the daemon keeps open at once (all tenants). */
#define CFG_MAX_OPEN_FILES 8192u

struct cfg_volume {
	char name[CFG_NAME_MAX];
	char path[PATH_MAX];
	char nvme[KP_NQN_MAX + 16]; /* "SERIAL:NSID" or "NQN:NSID" instead of a path, or "" */
	char dir[PATH_MAX];	    /* a directory volume: its files live here, or "" */
	enum cfg_mode poll;	    /* IOPOLL ring (needs an NVMe poll queue) */
	enum cfg_mode passthrough;  /* NVMe URING_CMD on the generic char device */
	uint64_t create_size;	    /* 0: never create */
	uint64_t offset;
	uint64_t size; /* 0: rest of the backing */
	/* A directory volume: most files and directories beneath it (its
	 * inodes and directory blocks, which size does not count). */
	unsigned int max_entries;
	bool direct;
	bool readonly;
	enum cfg_path_loss on_path_loss;
	bool has_on_path_loss;
	unsigned int line; /* of the section header */
};

/* A [fabric NAME] section: an NVMe-oF controller the daemon connects at
 * start (kf_connect()), before it opens the volumes. */
struct cfg_fabric {
	char name[CFG_NAME_MAX];
	struct kf_target t;
	unsigned int line;
};

struct cfg_grant {
	unsigned int vol; /* index into cfg.vols */
	bool rw;
};

/* A tenant's QoS (0 = none for every limit and the reservation). Units:
 * a read or write of LEN bytes costs max(1, ceil(LEN / qos_cost_unit)),
 * an fsync qos_flush_cost, a NOP nothing. */
struct cfg_qos {
	unsigned int weight;   /* share under contention, 1..10000 */
	uint64_t reserve_iops; /* units per second served first */
	uint64_t limit_iops;   /* units per second, all operations */
	uint64_t limit_read_iops;
	uint64_t limit_write_iops; /* writes and flushes */
	uint64_t limit_bw;	   /* bytes per second, reads and writes */
	uint64_t limit_read_bw;
	uint64_t limit_write_bw;
	unsigned int burst_ms; /* credit earned below a limit: limit x burst */
};

struct cfg_tenant {
	char name[CFG_NAME_MAX];
	uid_t uids[CFG_MAX_IDS];
	unsigned int nuids;
	gid_t gids[CFG_MAX_IDS];
	unsigned int ngids;
	struct cfg_grant *grants;
	unsigned int ngrants;
	unsigned int max_sessions;
	uint64_t max_session_memory;
	unsigned int max_inflight;	  /* per session */
	unsigned int max_tenant_inflight; /* all sessions of the tenant together */
	unsigned int max_open_volumes;	  /* per session */
	unsigned int max_open_files;	  /* file handles of directory volumes, all sessions */
	struct cfg_qos qos;
	unsigned int line;
	/* Raw "volumes =" value, resolved once every volume is known. */
	char *volumes_raw;
	unsigned int volumes_line;
};

struct cfg {
	char path[PATH_MAX]; /* the file it was read from */
	char socket_path[CFG_SOCK_MAX];
	char state_dir[PATH_MAX];
	enum log_level log_level;
	unsigned int socket_mode;
	gid_t socket_group;
	bool has_socket_group;
	uint32_t max_io_size;		     /* bytes per request */
	unsigned int stall_timeout_ms;	     /* CQ not reaped this long: disconnect */
	unsigned int max_sessions;	     /* daemon-wide */
	unsigned int handshake_timeout_ms;   /* no Hello within this long: closed */
	unsigned int max_handshakes_per_uid; /* connections of one uid still without Hello */
	unsigned int poll_idle_us;	     /* poll the SQs this long after the last work */
	bool sqpoll;			     /* one kernel SQ thread shared by every ring */
	int sqpoll_cpu;			     /* -1: not pinned */
	unsigned int sqpoll_idle_ms;
	bool qos_off;		     /* qos = off: no per-tenant scheduling or limits */
	uint32_t qos_cost_unit;	     /* bytes per QoS unit of a read or write */
	unsigned int qos_flush_cost; /* units of an fsync */
	bool figures_off;	     /* figures = off: no per-tenant/volume figures or latency */
	gid_t admin_group;	     /* members may open admin connections (ringctl) */
	bool has_admin_group;
	char metrics_file[PATH_MAX];	  /* Prometheus text written here, or "" */
	unsigned int metrics_interval_ms; /* ... this often (0: the default, 10 s) */
	struct cfg_volume *vols;
	unsigned int nvols;
	struct cfg_tenant *tenants;
	unsigned int ntenants;
	struct cfg_fabric *fabrics;
	unsigned int nfabrics;
};

/*
 * Parse @path into @out. Returns 0, or -errno with every error in @err, one
 * a line, each naming "file:line: [section] key: what is wrong" (as many as
 * fit in @errlen).
 */
int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen);

/*
 * As cfg_load(), but @out keeps what could be parsed even on -EINVAL (free
 * it with cfg_free() either way, unless the file could not be opened), and
 * *@nerr counts the errors, also those that did not fit in @err.
 */
int cfg_load_all(const char *path, struct cfg *out, char *err, size_t errlen, unsigned int *nerr);

/* Free what cfg_load() allocated. */
void cfg_free(struct cfg *c);

/* "auto", "on" or "off". */
const char *cfg_mode_name(enum cfg_mode m);

/* "wait" or "fail". */
const char *cfg_path_loss_name(enum cfg_path_loss m);

/* Index of the volume called @name, or -1. */
int cfg_volume_find(const struct cfg *c, const char *name);

/* The grant of tenant @t on the volume called @name, or NULL. */
const struct cfg_grant *cfg_tenant_grant(const struct cfg *c, const struct cfg_tenant *t,
					 const char *name);

/* The tenant a peer belongs to: first uid match, else first gid match;
 * -1 if none. */
int cfg_tenant_for(const struct cfg *c, uid_t uid, gid_t gid);

/* Parse "4096", "4K", "64M", "1G", "2T" into bytes. Returns 0 or -EINVAL/-ERANGE. */
int cfg_parse_size(const char *s, uint64_t *out);

/* Parse "30", "30s", "500ms", "2m" into milliseconds. Returns 0 or -EINVAL/-ERANGE. */
int cfg_parse_duration_ms(const char *s, unsigned int *out);

/* Parse a decimal unsigned with bounds. Returns 0 or -EINVAL/-ERANGE. */
int cfg_parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
