/* SPDX-License-Identifier: MIT */
/*
 * ringctl: the operator's view of a running ringd, over its control socket
 * (an admin connection: root or a member of [daemon] admin_group).
 *
 *   ringctl [-s SOCKET] [--json] status | tenants | sessions | volumes
 *   ringctl [-s SOCKET] [--json] top [-n COUNT]
 *   ringctl [-s SOCKET] metrics | reload | kick SESSION-ID
 *
 * It speaks the control protocol (proto/ringd.proto) directly: one
 * protobuf message per SOCK_SEQPACKET packet, lists paged by the daemon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ringd.pb-c.h"
#include "ringd_abi.h"

#define RC_MAX_MSG	  4096
#define RC_TIMEOUT_MS	  10000
#define RC_RELOAD_TIMEOUT 120000
#define RC_DEFAULT_SOCKET "/run/ringd/ringd.sock"

static bool g_json;
static const char *g_socket;

static void usage(FILE *f)
{
	fputs(
	    "usage: ringctl [-s SOCKET] [--json] COMMAND\n"
	    "       ringctl -h | --help | -V | --version\n"
	    "commands:\n"
	    "  status            version, uptime, config, volumes, sessions, completions per path\n"
	    "  tenants           per tenant: sessions, ops, bytes, errors, QoS, latency\n"
	    "  sessions          id, pid, uid, tenant, handles, in flight, ops, bytes, state\n"
	    "  volumes           name, backing, extent, path, ops, bytes, errors, latency\n"
	    "  top [-n COUNT]    per-tenant rates, refreshed every second\n"
	    "  metrics           the Prometheus text exposition\n"
	    "  reload            reload the daemon's config and print the outcome\n"
	    "  kick SESSION-ID   break a session (RINGD_BROKEN_ADMIN)\n"
	    "SOCKET defaults to $RINGD_SOCKET, then " RC_DEFAULT_SOCKET ".\n"
	    "For root and members of the daemon's [daemon] admin_group.\n",
	    f);
}

/* Connect and open an admin connection. Returns the socket or exits. */
static int rc_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(g_socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ringctl: socket path too long: %s\n", g_socket);
		exit(1);
	}
	memcpy(sa.sun_path, g_socket, strlen(g_socket) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "ringctl: socket: %s\n", strerror(errno));
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		fprintf(stderr, "ringctl: connect to %s: %s%s\n", g_socket, strerror(err),
			err == ENOENT || err == ECONNREFUSED ? " (is ringd running?)" : "");
		exit(1);
	}
	return fd;
}

static Ringd__Reply *rc_recv(int fd, const char *what, int timeout_ms);

static void rc_send(int fd, const Ringd__Request *rq)
{
	uint8_t buf[RC_MAX_MSG];
	size_t len = ringd__request__get_packed_size(rq);

	if (len > sizeof(buf)) {
		fprintf(stderr, "ringctl: request too large\n");
		exit(1);
	}
	ringd__request__pack(rq, buf);
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
		int err = errno;

		/* A refused connection: the daemon said why before hanging up. */
		if (err == EPIPE || err == ECONNRESET)
			ringd__reply__free_unpacked(rc_recv(fd, "connect", 1000), NULL);
		fprintf(stderr, "ringctl: send: %s\n", strerror(err));
		exit(1);
	}
}

/* Receive one reply; an Error reply is printed and exits 1. */
static Ringd__Reply *rc_recv(int fd, const char *what, int timeout_ms)
{
	uint8_t buf[RC_MAX_MSG];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	Ringd__Reply *r;
	ssize_t n;
	int ret;

	do
		ret = poll(&p, 1, timeout_ms);
	while (ret < 0 && errno == EINTR);
	if (ret == 0) {
		fprintf(stderr, "ringctl: %s: no reply within %d s\n", what, timeout_ms / 1000);
		exit(1);
	}
	n = recv(fd, buf, sizeof(buf), MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		fprintf(stderr, "ringctl: %s: %s\n", what,
			n ? strerror(errno) : "the daemon closed the connection");
		exit(1);
	}
	r = ringd__reply__unpack(NULL, (size_t)n, buf);
	if (!r) {
		fprintf(stderr, "ringctl: %s: malformed reply\n", what);
		exit(1);
	}
	if (r->msg_case == RINGD__REPLY__MSG_ERROR) {
		fprintf(stderr, "ringctl: %s: %s (%s)\n", what, strerror(r->error->errno_code),
			r->error->message);
		exit(1);
	}
	return r;
}

static int rc_open(void)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Hello h = RINGD__HELLO__INIT;
	int fd = rc_connect();

	h.abi_version = RINGD_ABI_VERSION;
	h.has_admin = 1;
	h.admin = 1;
	rq.msg_case = RINGD__REQUEST__MSG_HELLO;
	rq.hello = &h;
	rc_send(fd, &rq);
	ringd__reply__free_unpacked(rc_recv(fd, "admin connection", RC_TIMEOUT_MS), NULL);
	return fd;
}

/* One admin request; the reply must be an AdminReply. */
static Ringd__Reply *rc_admin(int fd, Ringd__Admin__Kind kind, uint32_t offset, uint64_t id,
			      const char *what, int timeout_ms)
{
	Ringd__Request rq = RINGD__REQUEST__INIT;
	Ringd__Admin a = RINGD__ADMIN__INIT;
	Ringd__Reply *r;

	a.kind = kind;
	a.has_offset = 1;
	a.offset = offset;
	if (kind == RINGD__ADMIN__KIND__KICK) {
		a.has_session_id = 1;
		a.session_id = id;
	}
	rq.msg_case = RINGD__REQUEST__MSG_ADMIN;
	rq.admin = &a;
	rc_send(fd, &rq);
	r = rc_recv(fd, what, timeout_ms);
	if (r->msg_case != RINGD__REPLY__MSG_ADMIN) {
		fprintf(stderr, "ringctl: %s: unexpected reply\n", what);
		exit(1);
	}
	return r;
}

/* Every page of a list; returns the replies (NULL-terminated). */
static Ringd__Reply **rc_pages(int fd, Ringd__Admin__Kind kind, const char *what)
{
	Ringd__Reply **pages = NULL;
	size_t n = 0;
	uint32_t off = 0;

	for (;;) {
		Ringd__Reply *r = rc_admin(fd, kind, off, 0, what, RC_TIMEOUT_MS);
		Ringd__Reply **grown = realloc(pages, (n + 2) * sizeof(*pages));

		if (!grown) {
			fprintf(stderr, "ringctl: out of memory\n");
			exit(1);
		}
		pages = grown;
		pages[n++] = r;
		pages[n] = NULL;
		if (!r->admin->more)
			break;
		if (r->admin->next_offset <= off) {
			fprintf(stderr, "ringctl: %s: the daemon's paging went backwards\n", what);
			exit(1);
		}
		off = r->admin->next_offset;
	}
	return pages;
}

static void rc_pages_free(Ringd__Reply **pages)
{
	size_t i;

	for (i = 0; pages[i]; i++)
		ringd__reply__free_unpacked(pages[i], NULL);
	free(pages);
}

static void rc_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void jadd_u(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static void jadd_s(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* "512", "12.3K", "4.0M", ... (powers of 1024). */
static const char *human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int u = -1;

	while (d >= 1024.0 && u < 5) {
		d /= 1024.0;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%.1f%c", d, units[u]);
	return buf;
}

/* A latency in ns as "850ns", "12.3us", "4.56ms", "1.20s"; "-" if none. */
static const char *human_ns(uint64_t ns, bool any, char *buf, size_t len)
{
	if (!any)
		snprintf(buf, len, "-");
	else if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
	return buf;
}

static json_object *json_latency(const Ringd__Latency *l)
{
	json_object *o = json_object_new_object();

	jadd_u(o, "count", l->count);
	jadd_u(o, "sum_ns", l->sum_ns);
	jadd_u(o, "p50_ns", l->p50_ns);
	jadd_u(o, "p99_ns", l->p99_ns);
	jadd_u(o, "p999_ns", l->p999_ns);
	return o;
}

static const char *broken_name(uint32_t r)
{
	static const char *const names[] = { "",      "sq_tail",  "sq_index", "cq_head",
					     "stall", "protocol", "shutdown", "admin" };

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

static int cmd_status(int fd)
{
	Ringd__Reply *r = rc_admin(fd, RINGD__ADMIN__KIND__STATUS, 0, 0, "status", RC_TIMEOUT_MS);
	const Ringd__StatusInfo *s = r->admin->status;

	if (!s) {
		fprintf(stderr, "ringctl: status: empty reply\n");
		return 1;
	}
	if (g_json) {
		json_object *o = json_object_new_object(), *c = json_object_new_object();

		jadd_s(o, "version", s->version);
		jadd_u(o, "uptime_ms", s->uptime_ms);
		jadd_s(o, "config", s->config);
		jadd_u(o, "volumes", s->volumes);
		jadd_u(o, "tenants", s->tenants);
		jadd_u(o, "sessions", s->sessions);
		jadd_u(o, "requests_inflight", s->requests_inflight);
		json_object_object_add(o, "figures", json_object_new_boolean(s->figures));
		jadd_u(c, "interrupt", s->completions_interrupt);
		jadd_u(c, "polled", s->completions_polled);
		jadd_u(c, "passthrough", s->completions_passthrough);
		jadd_u(c, "passthrough_polled", s->completions_passthrough_polled);
		json_object_object_add(o, "completions", c);
		jadd_u(o, "reloads_applied", s->reloads_applied);
		jadd_u(o, "reloads_refused", s->reloads_refused);
		rc_print_json(o);
	} else {
		printf("version:      %s\n", s->version);
		printf("uptime:       %.1f s\n", (double)s->uptime_ms / 1000.0);
		printf("config:       %s\n", s->config);
		printf("volumes:      %u\n", s->volumes);
		printf("tenants:      %u\n", s->tenants);
		printf("sessions:     %u\n", s->sessions);
		printf("in flight:    %u\n", s->requests_inflight);
		printf("figures:      %s\n", s->figures ? "on" : "off");
		printf("completions:  interrupt %" PRIu64 ", polled %" PRIu64
		       ", passthrough %" PRIu64 ", passthrough-polled %" PRIu64 "\n",
		       s->completions_interrupt, s->completions_polled, s->completions_passthrough,
		       s->completions_passthrough_polled);
		printf("reloads:      %u applied, %u refused\n", s->reloads_applied,
		       s->reloads_refused);
	}
	ringd__reply__free_unpacked(r, NULL);
	return 0;
}

static const char *tenant_name(const char *n)
{
	return n && *n ? n : "(none)";
}

static int cmd_tenants(int fd)
{
	Ringd__Reply **pages = rc_pages(fd, RINGD__ADMIN__KIND__TENANTS, "tenants");
	json_object *arr = g_json ? json_object_new_array() : NULL;
	char b1[32], b2[32], l1[32], l2[32], l3[32];
	size_t p, i, k;

	if (!g_json)
		printf("%-16s %5s %5s %10s %10s %8s %8s %9s %9s %7s %7s %10s %10s\n", "TENANT",
		       "SESS", "INFL", "READS", "WRITES", "FLUSHES", "OTHERS", "READ", "WRITTEN",
		       "ERRORS", "REJECT", "QOS_UNITS", "THROTTLED");
	for (p = 0; pages[p]; p++) {
		for (i = 0; i < pages[p]->admin->n_tenants; i++) {
			const Ringd__TenantFigures *t = pages[p]->admin->tenants[i];

			/* The no-tenant class is shown only when it has had sessions. */
			if (!*t->name && !t->sessions && !t->reads && !t->writes && !t->flushes &&
			    !t->others && !t->rejected)
				continue;
			if (g_json) {
				json_object *o = json_object_new_object(),
					    *lat = json_object_new_object();

				jadd_s(o, "name", t->name);
				jadd_u(o, "sessions", t->sessions);
				jadd_u(o, "inflight", t->inflight);
				jadd_u(o, "reads", t->reads);
				jadd_u(o, "writes", t->writes);
				jadd_u(o, "flushes", t->flushes);
				jadd_u(o, "others", t->others);
				jadd_u(o, "bytes_read", t->bytes_read);
				jadd_u(o, "bytes_written", t->bytes_written);
				jadd_u(o, "errors", t->errors);
				jadd_u(o, "rejected", t->rejected);
				jadd_u(o, "qos_units", t->qos_units);
				jadd_u(o, "qos_throttled_us", t->qos_throttled_us);
				jadd_u(o, "qos_delayed", t->qos_delayed);
				for (k = 0; k < t->n_latency; k++)
					json_object_object_add(lat, t->latency[k]->op,
							       json_latency(t->latency[k]));
				json_object_object_add(o, "latency", lat);
				json_object_array_add(arr, o);
				continue;
			}
			printf("%-16s %5u %5u %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64
			       " %9s %9s %7" PRIu64 " %7" PRIu64 " %10" PRIu64 " %9.3fs\n",
			       tenant_name(t->name), t->sessions, t->inflight, t->reads, t->writes,
			       t->flushes, t->others, human_bytes(t->bytes_read, b1, sizeof(b1)),
			       human_bytes(t->bytes_written, b2, sizeof(b2)), t->errors,
			       t->rejected, t->qos_units, (double)t->qos_throttled_us / 1e6);
			for (k = 0; k < t->n_latency; k++) {
				const Ringd__Latency *l = t->latency[k];

				if (!l->count)
					continue;
				printf("  %-6s latency  p50 %-9s p99 %-9s p99.9 %-9s (%" PRIu64
				       " ops)\n",
				       l->op, human_ns(l->p50_ns, true, l1, sizeof(l1)),
				       human_ns(l->p99_ns, true, l2, sizeof(l2)),
				       human_ns(l->p999_ns, true, l3, sizeof(l3)), l->count);
			}
		}
	}
	if (g_json)
		rc_print_json(arr);
	rc_pages_free(pages);
	return 0;
}

static int cmd_sessions(int fd)
{
	Ringd__Reply **pages = rc_pages(fd, RINGD__ADMIN__KIND__SESSIONS, "sessions");
	json_object *arr = g_json ? json_object_new_array() : NULL;
	char b1[32];
	size_t p, i;

	if (!g_json)
		printf("%8s %8s %6s %-16s %7s %5s %10s %9s %-9s %s\n", "ID", "PID", "UID", "TENANT",
		       "HANDLES", "INFL", "OPS", "BYTES", "STATE", "BROKEN");
	for (p = 0; pages[p]; p++) {
		for (i = 0; i < pages[p]->admin->n_sessions; i++) {
			const Ringd__SessionInfo *s = pages[p]->admin->sessions[i];

			if (g_json) {
				json_object *o = json_object_new_object();

				jadd_u(o, "id", s->id);
				json_object_object_add(o, "pid", json_object_new_int(s->pid));
				jadd_u(o, "uid", s->uid);
				jadd_s(o, "tenant", s->tenant);
				jadd_u(o, "handles", s->handles);
				jadd_u(o, "inflight", s->inflight);
				jadd_u(o, "ops", s->ops);
				jadd_u(o, "bytes", s->bytes);
				jadd_u(o, "errors", s->errors);
				jadd_u(o, "rejected", s->rejected);
				jadd_s(o, "state", s->state);
				jadd_u(o, "broken_reason", s->broken_reason);
				jadd_s(o, "broken", broken_name(s->broken_reason));
				json_object_array_add(arr, o);
				continue;
			}
			printf(
			    "%8" PRIu64 " %8d %6u %-16s %7u %5u %10" PRIu64 " %9s %-9s %s\n", s->id,
			    s->pid, s->uid,
			    *s->tenant ? s->tenant : (strcmp(s->state, "admin") ? "(none)" : "-"),
			    s->handles, s->inflight, s->ops, human_bytes(s->bytes, b1, sizeof(b1)),
			    s->state, s->broken_reason ? broken_name(s->broken_reason) : "-");
		}
	}
	if (g_json)
		rc_print_json(arr);
	rc_pages_free(pages);
	return 0;
}

static int cmd_volumes(int fd)
{
	Ringd__Reply **pages = rc_pages(fd, RINGD__ADMIN__KIND__VOLUMES, "volumes");
	json_object *arr = g_json ? json_object_new_array() : NULL;
	char b1[32], b2[32], b3[32], l1[32], l2[32], l3[32];
	size_t p, i;

	if (!g_json)
		printf("%-16s %-11s %9s %10s %9s %9s %7s %9s %9s %9s %s\n", "VOLUME", "PATH",
		       "SIZE", "OPS", "READ", "WRITTEN", "ERRORS", "P50", "P99", "P99.9",
		       "BACKING");
	for (p = 0; pages[p]; p++) {
		for (i = 0; i < pages[p]->admin->n_volumes; i++) {
			const Ringd__VolumeFigures *v = pages[p]->admin->volumes[i];
			const Ringd__Latency *l = v->latency;
			bool any = l && l->count;

			if (g_json) {
				json_object *o = json_object_new_object();

				jadd_s(o, "name", v->name);
				jadd_s(o, "backing", v->backing);
				jadd_u(o, "offset", v->offset);
				jadd_u(o, "size", v->size);
				jadd_s(o, "path", v->path);
				jadd_u(o, "ops", v->ops);
				jadd_u(o, "bytes_read", v->bytes_read);
				jadd_u(o, "bytes_written", v->bytes_written);
				jadd_u(o, "errors", v->errors);
				json_object_object_add(o, "removed",
						       json_object_new_boolean(v->removed));
				if (l)
					json_object_object_add(o, "latency", json_latency(l));
				json_object_array_add(arr, o);
				continue;
			}
			printf("%-16s %-11s %9s %10" PRIu64 " %9s %9s %7" PRIu64
			       " %9s %9s %9s %s%s (offset %" PRIu64 ")\n",
			       v->name, v->path, human_bytes(v->size, b1, sizeof(b1)), v->ops,
			       human_bytes(v->bytes_read, b2, sizeof(b2)),
			       human_bytes(v->bytes_written, b3, sizeof(b3)), v->errors,
			       human_ns(any ? l->p50_ns : 0, any, l1, sizeof(l1)),
			       human_ns(any ? l->p99_ns : 0, any, l2, sizeof(l2)),
			       human_ns(any ? l->p999_ns : 0, any, l3, sizeof(l3)),
			       v->removed ? "[removed] " : "", v->backing, v->offset);
		}
	}
	if (g_json)
		rc_print_json(arr);
	rc_pages_free(pages);
	return 0;
}

static int cmd_metrics(int fd)
{
	uint32_t off = 0;

	for (;;) {
		Ringd__Reply *r =
		    rc_admin(fd, RINGD__ADMIN__KIND__METRICS, off, 0, "metrics", RC_TIMEOUT_MS);
		bool more = r->admin->more;

		fputs(r->admin->text ? r->admin->text : "", stdout);
		if (more && r->admin->next_offset <= off) {
			fprintf(stderr, "ringctl: metrics: the daemon's paging went backwards\n");
			exit(1);
		}
		off = r->admin->next_offset;
		ringd__reply__free_unpacked(r, NULL);
		if (!more)
			break;
	}
	return 0;
}

static int cmd_reload(int fd)
{
	Ringd__Reply *r =
	    rc_admin(fd, RINGD__ADMIN__KIND__RELOAD, 0, 0, "reload", RC_RELOAD_TIMEOUT);

	if (g_json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "ok", json_object_new_boolean(1));
		jadd_s(o, "message", r->admin->text);
		rc_print_json(o);
	} else {
		printf("%s\n", r->admin->text ? r->admin->text : "reloaded");
	}
	ringd__reply__free_unpacked(r, NULL);
	return 0;
}

static int cmd_kick(int fd, const char *arg)
{
	char *end;
	unsigned long long id;
	Ringd__Reply *r;

	errno = 0;
	id = strtoull(arg, &end, 10);
	if (!*arg || *end || errno) {
		fprintf(stderr, "ringctl: kick: '%s' is not a session id\n", arg);
		return 2;
	}
	r = rc_admin(fd, RINGD__ADMIN__KIND__KICK, 0, id, "kick", RC_TIMEOUT_MS);
	if (g_json) {
		json_object *o = json_object_new_object();

		jadd_u(o, "kicked", id);
		jadd_s(o, "message", r->admin->text);
		rc_print_json(o);
	} else {
		printf("%s\n", r->admin->text ? r->admin->text : "kicked");
	}
	ringd__reply__free_unpacked(r, NULL);
	return 0;
}

/* Per-tenant totals used by top. */
struct top_row {
	char name[72];
	uint64_t ops, rd, wr, errors;
	uint64_t throttled_us;
	uint32_t sessions, inflight;
	uint64_t p99_ns;
};

static size_t top_sample(int fd, struct top_row **rows)
{
	Ringd__Reply **pages = rc_pages(fd, RINGD__ADMIN__KIND__TENANTS, "top");
	size_t n = 0, p, i, k;

	*rows = NULL;
	for (p = 0; pages[p]; p++) {
		for (i = 0; i < pages[p]->admin->n_tenants; i++) {
			const Ringd__TenantFigures *t = pages[p]->admin->tenants[i];
			struct top_row *grown = realloc(*rows, (n + 1) * sizeof(**rows)), *row;

			if (!grown) {
				fprintf(stderr, "ringctl: out of memory\n");
				exit(1);
			}
			*rows = grown;
			row = &grown[n++];
			memset(row, 0, sizeof(*row));
			snprintf(row->name, sizeof(row->name), "%s", tenant_name(t->name));
			row->ops = t->reads + t->writes + t->flushes + t->others;
			row->rd = t->bytes_read;
			row->wr = t->bytes_written;
			row->errors = t->errors;
			row->throttled_us = t->qos_throttled_us;
			row->sessions = t->sessions;
			row->inflight = t->inflight;
			for (k = 0; k < t->n_latency; k++)
				if (t->latency[k]->count && t->latency[k]->p99_ns > row->p99_ns)
					row->p99_ns = t->latency[k]->p99_ns;
		}
	}
	rc_pages_free(pages);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A live view like iostat: rates over each second; @count rounds (0: forever). */
static int cmd_top(int fd, unsigned long count)
{
	struct top_row *prev, *cur;
	size_t np, nc, i, j;
	double t0 = now_s(), t1;
	unsigned long round;
	bool tty = isatty(STDOUT_FILENO);

	np = top_sample(fd, &prev);
	for (round = 0; !count || round < count; round++) {
		json_object *arr = g_json ? json_object_new_array() : NULL;
		char b1[32], b2[32], l1[32];

		sleep(1);
		nc = top_sample(fd, &cur);
		t1 = now_s();
		if (tty && !g_json)
			fputs("\033[H\033[2J", stdout);
		if (!g_json)
			printf("%-16s %5s %5s %10s %10s %10s %7s %9s %9s\n", "TENANT", "SESS",
			       "INFL", "IOPS", "READ/s", "WRITE/s", "ERR/s", "THROTTLE", "P99");
		for (i = 0; i < nc; i++) {
			const struct top_row *c = &cur[i];
			struct top_row zero = { 0 };
			const struct top_row *p = &zero;
			double dt = t1 - t0 > 0 ? t1 - t0 : 1;

			for (j = 0; j < np; j++)
				if (!strcmp(prev[j].name, c->name))
					p = &prev[j];
			if (!strcmp(c->name, "(none)") && !c->sessions && c->ops == p->ops)
				continue;
			if (g_json) {
				json_object *o = json_object_new_object();

				jadd_s(o, "name", c->name);
				jadd_u(o, "sessions", c->sessions);
				jadd_u(o, "inflight", c->inflight);
				json_object_object_add(
				    o, "iops",
				    json_object_new_double((double)(c->ops - p->ops) / dt));
				json_object_object_add(
				    o, "read_bps",
				    json_object_new_double((double)(c->rd - p->rd) / dt));
				json_object_object_add(
				    o, "write_bps",
				    json_object_new_double((double)(c->wr - p->wr) / dt));
				json_object_object_add(
				    o, "throttled_share",
				    json_object_new_double(
					(double)(c->throttled_us - p->throttled_us) / (dt * 1e6)));
				jadd_u(o, "p99_ns", c->p99_ns);
				json_object_array_add(arr, o);
				continue;
			}
			printf(
			    "%-16s %5u %5u %10.0f %10s %10s %7.0f %8.0f%% %9s\n", c->name,
			    c->sessions, c->inflight, (double)(c->ops - p->ops) / dt,
			    human_bytes((uint64_t)((double)(c->rd - p->rd) / dt), b1, sizeof(b1)),
			    human_bytes((uint64_t)((double)(c->wr - p->wr) / dt), b2, sizeof(b2)),
			    (double)(c->errors - p->errors) / dt,
			    100.0 * (double)(c->throttled_us - p->throttled_us) / (dt * 1e6),
			    human_ns(c->p99_ns, c->ops != 0, l1, sizeof(l1)));
		}
		if (g_json) {
			/* One JSON document per line and round. */
			printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
			json_object_put(arr);
		} else {
			printf("\n");
		}
		fflush(stdout);
		free(prev);
		prev = cur;
		np = nc;
		t0 = t1;
	}
	free(prev);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long count = 0;
	const char *cmd;
	int c, fd, ret;

	g_socket = getenv("RINGD_SOCKET") ? getenv("RINGD_SOCKET") : RC_DEFAULT_SOCKET;
	/* Options stop at the command ("+"): top has its own -n. */
	while ((c = getopt_long(argc, argv, "+s:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			g_socket = optarg;
			break;
		case 'j':
			g_json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ringctl %s\n", RINGD_PROJECT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	/* --json is also accepted after the command. */
	while (optind < argc && !strcmp(argv[optind], "--json")) {
		g_json = true;
		optind++;
	}
	if (!strcmp(cmd, "top")) {
		for (; optind < argc; optind++) {
			char *end;

			if (!strcmp(argv[optind], "--json")) {
				g_json = true;
				continue;
			}
			if (strcmp(argv[optind], "-n") || optind + 1 >= argc) {
				usage(stderr);
				return 2;
			}
			errno = 0;
			count = strtoul(argv[++optind], &end, 10);
			if (!*argv[optind] || *end || errno) {
				fprintf(stderr, "ringctl: top -n: '%s' is not a count\n",
					argv[optind]);
				return 2;
			}
		}
	} else if (!strcmp(cmd, "kick")) {
		if (optind + 1 != argc) {
			usage(stderr);
			return 2;
		}
	} else if (optind != argc ||
		   (strcmp(cmd, "status") && strcmp(cmd, "tenants") && strcmp(cmd, "sessions") &&
		    strcmp(cmd, "volumes") && strcmp(cmd, "metrics") && strcmp(cmd, "reload"))) {
		usage(stderr);
		return 2;
	}
	fd = rc_open();
	if (!strcmp(cmd, "status"))
		ret = cmd_status(fd);
	else if (!strcmp(cmd, "tenants"))
		ret = cmd_tenants(fd);
	else if (!strcmp(cmd, "sessions"))
		ret = cmd_sessions(fd);
	else if (!strcmp(cmd, "volumes"))
		ret = cmd_volumes(fd);
	else if (!strcmp(cmd, "metrics"))
		ret = cmd_metrics(fd);
	else if (!strcmp(cmd, "reload"))
		ret = cmd_reload(fd);
	else if (!strcmp(cmd, "kick"))
		ret = cmd_kick(fd, argv[optind]);
	else
		ret = cmd_top(fd, count);
	close(fd);
	return ret;
}
