/* SPDX-License-Identifier: MIT */
/* mx_: the Prometheus text exposition and the metrics_file writer. */
#define _GNU_SOURCE
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define MX_DEFAULT_INTERVAL_MS 10000u
/* Histogram boundaries exposed: 2^MX_LE_FIRST .. 2^MX_LE_LAST ns. */
#define MX_LE_FIRST 9
#define MX_LE_LAST  34

struct mx_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void __attribute__((format(printf, 2, 3))) mx_printf(struct mx_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A label value: names are [A-Za-z0-9._-] by config, escaped anyway. */
static const char *mx_label(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = 0;
	return out;
}

static void mx_head(struct mx_buf *b, const char *name, const char *type, const char *help)
{
	mx_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram series @name{@labels,le=...} from @h. */
static void mx_hist(struct mx_buf *b, const char *name, const char *labels,
		    const struct fig_hist *h)
{
	uint64_t cum = 0;
	unsigned int k, bk = 0;

	for (k = MX_LE_FIRST; k <= MX_LE_LAST; k++) {
		/* Buckets below 2^k hold values of at most 2^k - 1 ns. */
		unsigned int upto = fig_bucket(1ull << k);

		for (; bk < upto; bk++)
			cum += h->b[bk];
		mx_printf(b, "%s_bucket{%s,le=\"%.9g\"} %llu\n", name, labels,
			  (double)(1ull << k) / 1e9, (unsigned long long)cum);
	}
	mx_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
		  (unsigned long long)h->count);
	mx_printf(b, "%s_sum{%s} %.9f\n", name, labels, (double)h->sum_ns / 1e9);
	mx_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
}

static const char *mx_vol_path(const struct vol *v)
{
	if (v->passthrough)
		return v->polled ? "passthrough-polled" : "passthrough";
	return v->polled ? "polled" : "interrupt";
}

/* Tenant class @c's name (the no-tenant class is ""). */
static const char *mx_tenant(const struct figures *f, unsigned int c)
{
	return f->t[c].name;
}

static bool mx_vol_shown(const struct mx_src *s, unsigned int i)
{
	const struct vol *v = vols_get(s->vols, i);

	return v && v->name[0] && (!s->vols->vv[i].removed || s->vols->inflight[i]);
}

static void mx_tenants(struct mx_buf *b, const struct mx_src *s)
{
	static const char *const ops[FIG_NOPS] = { "read", "write", "flush", "other" };
	const struct figures *f = s->fig;
	char lab[256], t[160];
	unsigned int c, k;

	mx_head(b, "ringd_tenant_sessions", "gauge", "Sessions of the tenant.");
	for (c = 0; c <= f->n; c++)
		mx_printf(b, "ringd_tenant_sessions{tenant=\"%s\"} %u\n",
			  mx_label(mx_tenant(f, c), t, sizeof(t)),
			  use_get(s->use, c < f->n ? (int)c : -1).sessions);
	mx_head(b, "ringd_tenant_inflight", "gauge", "Requests of the tenant in the kernel.");
	for (c = 0; c <= f->n; c++)
		mx_printf(b, "ringd_tenant_inflight{tenant=\"%s\"} %u\n",
			  mx_label(mx_tenant(f, c), t, sizeof(t)),
			  use_get(s->use, c < f->n ? (int)c : -1).inflight);
	mx_head(b, "ringd_tenant_ops_total", "counter", "Requests completed, per op class.");
	for (c = 0; c <= f->n; c++)
		for (k = 0; k < FIG_NOPS; k++)
			mx_printf(b, "ringd_tenant_ops_total{tenant=\"%s\",op=\"%s\"} %llu\n",
				  mx_label(mx_tenant(f, c), t, sizeof(t)), ops[k],
				  (unsigned long long)f->t[c].ops[k]);
	mx_head(b, "ringd_tenant_bytes_total", "counter", "Bytes read and written.");
	for (c = 0; c <= f->n; c++) {
		mx_label(mx_tenant(f, c), t, sizeof(t));
		mx_printf(b, "ringd_tenant_bytes_total{tenant=\"%s\",op=\"read\"} %llu\n", t,
			  (unsigned long long)f->t[c].bytes_read);
		mx_printf(b, "ringd_tenant_bytes_total{tenant=\"%s\",op=\"write\"} %llu\n", t,
			  (unsigned long long)f->t[c].bytes_written);
	}
	mx_head(b, "ringd_tenant_errors_total", "counter", "Requests completed with an error.");
	for (c = 0; c <= f->n; c++)
		mx_printf(b, "ringd_tenant_errors_total{tenant=\"%s\"} %llu\n",
			  mx_label(mx_tenant(f, c), t, sizeof(t)),
			  (unsigned long long)f->t[c].errors);
	mx_head(b, "ringd_tenant_rejected_total", "counter", "SQEs refused by the validator.");
	for (c = 0; c <= f->n; c++)
		mx_printf(b, "ringd_tenant_rejected_total{tenant=\"%s\"} %llu\n",
			  mx_label(mx_tenant(f, c), t, sizeof(t)),
			  (unsigned long long)f->t[c].rejected);
	mx_head(b, "ringd_tenant_qos_units_total", "counter", "QoS cost units served.");
	for (c = 0; c <= s->qos->n && c <= f->n; c++)
		mx_printf(b, "ringd_tenant_qos_units_total{tenant=\"%s\"} %llu\n",
			  mx_label(s->qos->t[c].name, t, sizeof(t)),
			  (unsigned long long)s->qos->t[c].units);
	mx_head(b, "ringd_tenant_qos_throttled_seconds_total", "counter",
		"Time with work waiting only for the tenant's QoS limits.");
	for (c = 0; c <= s->qos->n && c <= f->n; c++) {
		const struct qos_tenant *q = &s->qos->t[c];
		uint64_t ns = q->throttled_ns;

		if (q->throttled_since_ns)
			ns += clock_now_ns() - q->throttled_since_ns;
		mx_printf(b, "ringd_tenant_qos_throttled_seconds_total{tenant=\"%s\"} %.6f\n",
			  mx_label(q->name, t, sizeof(t)), (double)ns / 1e9);
	}
	mx_head(b, "ringd_tenant_latency_seconds", "histogram",
		"Latency from SQE consumption to CQE post, per op class.");
	for (c = 0; c <= f->n; c++)
		for (k = 0; k < FIG_NOPS; k++) {
			snprintf(lab, sizeof(lab), "tenant=\"%s\",op=\"%s\"",
				 mx_label(mx_tenant(f, c), t, sizeof(t)), ops[k]);
			mx_hist(b, "ringd_tenant_latency_seconds", lab, &f->t[c].lat[k]);
		}
}

static void mx_volumes(struct mx_buf *b, const struct mx_src *s)
{
	static const char *const ops[FIG_NOPS] = { "read", "write", "flush", "other" };
	const struct figures *f = s->fig;
	char lab[256], v[160];
	unsigned int i, k;

	mx_head(b, "ringd_volume_ops_total", "counter", "Requests completed on the volume.");
	for (i = 0; i < f->nvols; i++) {
		if (!mx_vol_shown(s, i))
			continue;
		for (k = 0; k < FIG_NOPS; k++)
			mx_printf(
			    b, "ringd_volume_ops_total{volume=\"%s\",path=\"%s\",op=\"%s\"} %llu\n",
			    mx_label(s->vols->v[i].name, v, sizeof(v)), mx_vol_path(&s->vols->v[i]),
			    ops[k], (unsigned long long)f->v[i].ops[k]);
	}
	mx_head(b, "ringd_volume_bytes_total", "counter", "Bytes read and written on the volume.");
	for (i = 0; i < f->nvols; i++) {
		if (!mx_vol_shown(s, i))
			continue;
		mx_label(s->vols->v[i].name, v, sizeof(v));
		mx_printf(b, "ringd_volume_bytes_total{volume=\"%s\",op=\"read\"} %llu\n", v,
			  (unsigned long long)f->v[i].bytes_read);
		mx_printf(b, "ringd_volume_bytes_total{volume=\"%s\",op=\"write\"} %llu\n", v,
			  (unsigned long long)f->v[i].bytes_written);
	}
	mx_head(b, "ringd_volume_errors_total", "counter", "Requests on the volume that failed.");
	for (i = 0; i < f->nvols; i++)
		if (mx_vol_shown(s, i))
			mx_printf(b, "ringd_volume_errors_total{volume=\"%s\"} %llu\n",
				  mx_label(s->vols->v[i].name, v, sizeof(v)),
				  (unsigned long long)f->v[i].errors);
	mx_head(b, "ringd_volume_latency_seconds", "histogram",
		"Latency from SQE consumption to CQE post on the volume.");
	for (i = 0; i < f->nvols; i++) {
		if (!mx_vol_shown(s, i))
			continue;
		snprintf(lab, sizeof(lab), "volume=\"%s\",path=\"%s\"",
			 mx_label(s->vols->v[i].name, v, sizeof(v)), mx_vol_path(&s->vols->v[i]));
		mx_hist(b, "ringd_volume_latency_seconds", lab, &f->v[i].lat);
	}
}

int mx_render(const struct mx_src *s, char **out, size_t *len)
{
	static const char *const paths[FIG_NPATHS] = { "interrupt", "polled", "passthrough",
						       "passthrough-polled" };
	struct mx_buf b = { .cap = 16384 };
	unsigned int i;

	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	b.p[0] = 0;
	mx_head(&b, "ringd_uptime_seconds", "gauge", "Seconds since the daemon started.");
	mx_printf(&b, "ringd_uptime_seconds %.3f\n",
		  (double)(clock_now_ms() - s->start_ms) / 1000.0);
	mx_head(&b, "ringd_figures_enabled", "gauge",
		"1 if the daemon keeps per-tenant figures ([daemon] figures).");
	mx_printf(&b, "ringd_figures_enabled %d\n", s->fig->off ? 0 : 1);
	mx_head(&b, "ringd_sessions", "gauge", "Connections in the session table.");
	mx_printf(&b, "ringd_sessions %u\n", s->st->n);
	mx_head(&b, "ringd_sessions_cold", "gauge",
		"Idle sessions not polled until their doorbell rings.");
	mx_printf(&b, "ringd_sessions_cold %u\n", s->st->ncold);
	mx_head(&b, "ringd_volumes", "gauge", "Volumes served.");
	mx_printf(&b, "ringd_volumes %u\n", s->vols->live);
	mx_head(&b, "ringd_requests_inflight", "gauge", "Requests accepted and not yet completed.");
	mx_printf(&b, "ringd_requests_inflight %u\n", s->rq->inflight);
	mx_head(&b, "ringd_completions_total", "counter", "Completions per kernel path.");
	for (i = 0; i < FIG_NPATHS; i++)
		mx_printf(&b, "ringd_completions_total{path=\"%s\"} %llu\n", paths[i],
			  (unsigned long long)s->fig->path_ops[i]);
	if (s->fig->t) {
		mx_tenants(&b, s);
		mx_volumes(&b, s);
	}
	if (b.failed) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

int mx_write_file(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX + 32];
	size_t off = 0;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out_unlink;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto out_unlink;
	}
	fd = -1;
	/* rename() replaces the old file in one step: readers see old or new. */
	if (rename(tmp, path) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	return 0;

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ret;
}

static void *mx_thread(void *arg)
{
	struct mx_writer *w = arg;
	char path[PATH_MAX];

	pthread_mutex_lock(&w->lock);
	for (;;) {
		char *text;
		size_t len;
		int ret;

		while (!w->stop && !w->text)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		text = w->text;
		len = w->len;
		w->text = NULL;
		memcpy(path, w->path, sizeof(path));
		pthread_mutex_unlock(&w->lock);
		ret = mx_write_file(path, text, len);
		free(text);
		pthread_mutex_lock(&w->lock);
		if (ret && ret != w->last_err)
			log_warn("metrics_file %s: %s", path, strerror(-ret));
		else if (!ret && w->last_err)
			log_info("metrics_file %s: written again", path);
		w->last_err = ret;
		if (!ret)
			w->written++;
		w->busy = false;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

void mx_tick(struct mx_writer *w, const struct mx_src *src, uint64_t now_ms)
{
	unsigned int interval =
	    src->cfg->metrics_interval_ms ? src->cfg->metrics_interval_ms : MX_DEFAULT_INTERVAL_MS;
	char *text;
	size_t len;
	bool busy;
	int ret;

	if (!src->cfg->metrics_file[0] || now_ms < w->next_ms)
		return;
	w->next_ms = now_ms + interval;
	if (!w->started) {
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->cond, NULL);
		ret = pthread_create(&w->thread, NULL, mx_thread, w);
		if (ret) {
			pthread_mutex_destroy(&w->lock);
			pthread_cond_destroy(&w->cond);
			log_err("metrics_file: cannot start its writer thread: %s", strerror(ret));
			return;
		}
		w->started = true;
	}
	/* The thread is still writing the last one: skip this snapshot. */
	pthread_mutex_lock(&w->lock);
	busy = w->busy;
	pthread_mutex_unlock(&w->lock);
	if (busy)
		return;
	if (mx_render(src, &text, &len)) {
		log_warn("metrics_file: out of memory for a snapshot");
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->text = text;
	w->len = len;
	w->busy = true;
	snprintf(w->path, sizeof(w->path), "%s", src->cfg->metrics_file);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void mx_writer_fini(struct mx_writer *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	free(w->text);
	w->text = NULL;
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	w->started = false;
}
