/* SPDX-License-Identifier: MIT */
/*
 * powerloss/: H18, run INSIDE the VM with vm_guest.c (issue 14).
 *
 * A dm-log-writes device over a memory-backed null_blk device with a
 * volatile write cache (so flushes and FUA reach the target) logs every
 * write, flush and FUA write onto a second null_blk device. ringd serves
 * three direct volumes on it, one tenant each (A root, B uid 61002, C uid
 * 61003), and the tenants run a verified workload at queue depth up to 6:
 * writes, DSYNC writes (RINGD_RW_DSYNC) and flushes, interleaved with
 * each other's. Every 4 KiB block written carries its tenant, block number,
 * version and a checksum of its payload. Each tenant records, in memory,
 * what it may rely on:
 *
 *   - a flush that completed 0 makes durable every write the tenant saw
 *     complete before it submitted the flush (a snapshot of the versions
 *     acknowledged at submission);
 *   - a DSYNC write that completed is durable by itself.
 *
 * Each such promise is posted to the log as a user mark ("mark pN",
 * DM_TARGET_MSG) after the tenant has seen the completion; the target logs
 * the flush or FUA entry that kept the promise before the mark.
 *
 * Then the daemon stops, the target is removed (it logs what was still
 * unflushed and a last mark) and the checker replays the log onto a zeroed
 * image entry by entry (logreplay.c): every data entry must be a valid
 * block of the tenant that owns the extent it lands in (nothing anywhere
 * else: no tenant's bytes outside its own extent); promise N becomes due
 * at the last flush or FUA entry before mark pN (sound: the flush or FUA
 * entry that kept it lies at or before that one), and at that entry and
 * every flush, FUA and mark entry after it, each block it names must hold
 * that version or a later one. The replayed image must equal the data
 * device at the end. Every mark checked and every violation is counted;
 * violations must be 0.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dmctl.h"
#include "harness.h"
#include "logreplay.h"
#include "pathio.h"

#define BS	  4096u
#define NT	  3u
#define NBLK	  256u /* blocks per tenant extent: 1 MiB */
#define QD	  6u
#define ROUNDS	  60u
#define DATA_MIB  8u
#define LOG_MIB	  48u
#define MAXPROM	  4096u
#define BLK_MAGIC 0x52494e47444c5752ull /* "RINGDLWR" */

static struct rt_daemon g_d;
static bool g_up;
static char g_data[32], g_logdev[32], g_dm[32];

static const uid_t uids[NT] = { 0, 61002, 61003 };
static const char *const tnames[NT] = { "A", "B", "C" };
/* Extents on the data device: 1M, 3M, 5M; the gaps stay zero. */
static uint64_t ext_off(unsigned int t)
{
	return (1u + 2u * t) << 20;
}

/* ---------------------------------------------------------------------- */
/* Block contents                                                          */

struct blkhdr {
	uint64_t magic;
	uint32_t tenant;
	uint32_t block;
	uint64_t version;
	uint64_t sum; /* FNV-1a of the payload */
};

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

static void blk_fill(uint8_t *b, unsigned int t, unsigned int blk, uint64_t ver)
{
	struct blkhdr h = { BLK_MAGIC, t, blk, ver, 0 };
	uint64_t x = (ver << 20) ^ ((uint64_t)t << 12) ^ blk ^ 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = sizeof(h); i < BS; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
	h.sum = fnv(b + sizeof(h), BS - sizeof(h));
	memcpy(b, &h, sizeof(h));
}

/* The version in @b if it is a valid block of tenant @t at @blk, 0 if all
 * zero, -1 otherwise. */
static int64_t blk_version(const uint8_t *b, unsigned int t, unsigned int blk)
{
	struct blkhdr h;
	size_t i;

	memcpy(&h, b, sizeof(h));
	if (h.magic != BLK_MAGIC) {
		for (i = 0; i < BS; i++)
			if (b[i])
				return -1;
		return 0;
	}
	if (h.tenant != t || h.block != blk || h.sum != fnv(b + sizeof(h), BS - sizeof(h)))
		return -1;
	return (int64_t)h.version;
}

/* ---------------------------------------------------------------------- */
/* null_blk and the device mapper, through configfs and ioctls              */

static void put_attr(const char *dir, const char *attr, const char *val)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	f = fopen(path, "we");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(val, f);
	cr_assert_eq(fclose(f), 0, "%s = %s: %s", path, val, strerror(errno));
}

/* A memory-backed null_blk device of @mib MiB named @name (configfs),
 * with a write cache of @cache_mib (0: none); its node goes to @node. */
static void nullb_make(const char *name, unsigned int mib, unsigned int cache_mib, char *node,
		       size_t nodelen)
{
	char dir[128], ipath[160], v[16], idx[16] = "";
	FILE *f;

	snprintf(dir, sizeof(dir), "/sys/kernel/config/nullb/%s", name);
	rmdir(dir);
	cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s: %s", dir, strerror(errno));
	snprintf(v, sizeof(v), "%u", mib);
	put_attr(dir, "size", v);
	put_attr(dir, "memory_backed", "1");
	put_attr(dir, "blocksize", "512");
	if (cache_mib) {
		snprintf(v, sizeof(v), "%u", cache_mib);
		put_attr(dir, "cache_size", v);
	}
	put_attr(dir, "power", "1");
	snprintf(ipath, sizeof(ipath), "%s/index", dir);
	f = fopen(ipath, "re");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(idx, sizeof(idx), f));
	fclose(f);
	snprintf(node, nodelen, "/dev/nullb%u", (unsigned int)strtoul(idx, NULL, 10));
	if (!rt_wait_for(2000, access(node, F_OK) == 0))
		snprintf(node, nodelen, "/dev/%s", name);
	cr_assert(rt_wait_for(10000, access(node, F_OK) == 0), "%s did not appear", node);
}

static void nullb_drop(const char *name)
{
	char dir[128], p[160];
	FILE *f;

	snprintf(dir, sizeof(dir), "/sys/kernel/config/nullb/%s", name);
	if (access(dir, F_OK))
		return;
	snprintf(p, sizeof(p), "%s/power", dir);
	f = fopen(p, "we");
	if (f) {
		fputs("0", f);
		fclose(f);
	}
	rmdir(dir);
}

/* Create @name: one log-writes target of @len sectors over @data, its log on @logdev. */
static void dm_create_logwrites(const char *name, uint64_t len, const char *data,
				const char *logdev, char *path, size_t pathlen)
{
	char params[256];

	snprintf(params, sizeof(params), "%s %s", data, logdev);
	dm_create(name, len, "log-writes", params, path, pathlen);
}

/* A user mark in the log: "mark @text" to the target (dmsetup message). */
static void dm_mark(const char *name, const char *text)
{
	union dm_buf b;
	struct dm_target_msg *m = (struct dm_target_msg *)(b.raw + sizeof(b.io));
	int ret;

	memset(&b, 0, sizeof(b));
	m->sector = 0;
	snprintf(m->message, 128, "mark %s", text);
	ret =
	    dm_call(DM_TARGET_MSG, name, &b, sizeof(b.io) + sizeof(*m) + strlen(m->message) + 1, 0);
	cr_assert_eq(ret, 0, "mark %s: %s", text, strerror(-ret));
}

/* Read @len bytes of block device @path from 0 with O_DIRECT (what the
 * target wrote went around the page cache). */
static uint8_t *read_dev(const char *path, size_t len)
{
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(posix_memalign((void **)&buf, 4096, len), 0);
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done < (1u << 20) ? len - done : 1u << 20,
				  (off_t)done);

		cr_assert_gt(n, 0, "read %s at %zu: %s", path, done, strerror(errno));
		done += (size_t)n;
	}
	close(fd);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Set-up                                                                  */

static void pl_up(void)
{
	char conf[4096];
	int n = 0;
	unsigned int t;

	if (access("/sys/module/null_blk", F_OK) || access("/dev/mapper/control", F_OK))
		cr_skip_test("no null_blk or device mapper: this suite runs inside "
			     "tests/vm/run-vm.sh --module dm-log-writes --module 'null_blk "
			     "nr_devices=0'");
	if (access("/sys/kernel/config/nullb", F_OK))
		mount("configfs", "/sys/kernel/config", "configfs", 0, NULL);
	cr_assert_eq(access("/sys/kernel/config/nullb", F_OK), 0, "no configfs for null_blk");
	nullb_make("ringd-pldata", DATA_MIB, 4, g_data, sizeof(g_data));
	nullb_make("ringd-pllog", LOG_MIB, 0, g_logdev, sizeof(g_logdev));
	dm_create_logwrites("ringd-plw", (uint64_t)DATA_MIB << 11, g_data, g_logdev, g_dm,
			    sizeof(g_dm));
	n += snprintf(conf + n, sizeof(conf) - (size_t)n,
		      "[daemon]\nsocket = @DIR@/ringd.sock\nstate_dir = @DIR@/state\n");
	for (t = 0; t < NT; t++)
		n += snprintf(conf + n, sizeof(conf) - (size_t)n,
			      "[volume pl%s]\npath = %s\noffset = %uM\nsize = 1M\ndirect = yes\n"
			      "poll = off\npassthrough = off\n",
			      tnames[t], g_dm, 1u + 2u * t);
	for (t = 0; t < NT; t++)
		n += snprintf(conf + n, sizeof(conf) - (size_t)n,
			      "[tenant pl%s]\nuid = %u\nvolumes = pl%s:rw\n", tnames[t],
			      (unsigned int)uids[t], tnames[t]);
	rt_daemon_start(&g_d, conf);
	g_up = true;
}

static void pl_stop_daemon(void)
{
	int status;

	if (!g_up)
		return;
	g_up = false;
	status = rt_daemon_stop(&g_d);
	cr_assert_eq(status, 0, "ringd exited with status %d (see its log above)", status);
}

static void pl_down(void)
{
	pl_stop_daemon();
	dm_remove("ringd-plw");
	nullb_drop("ringd-pldata");
	nullb_drop("ringd-pllog");
}

/* ---------------------------------------------------------------------- */
/* The workload                                                            */

enum { P_FLUSH = 1, P_DSYNC = 2 };

struct promise {
	unsigned int tenant, kind;
	unsigned int block; /* P_DSYNC */
	uint64_t ver;	    /* P_DSYNC */
	uint64_t *snap;	    /* P_FLUSH: NBLK versions acknowledged at submission */
	long due;	    /* log entry at which it is checked first; -1 none */
	bool seen;
};

static struct promise g_prom[MAXPROM];
static unsigned int g_nprom;

struct slot {
	bool busy, flush, dsync;
	unsigned int block;
	uint64_t ver;
	uint64_t *snap;
};

struct pten {
	struct ringd *rd;
	int h;
	uint8_t *bufs;
	struct slot s[QD];
	unsigned int inflight;
	uint64_t ver;	      /* last version issued */
	uint64_t acked[NBLK]; /* last version acknowledged, per block */
	bool busyblk[NBLK];
	bool dirty[NBLK]; /* a plain write acknowledged since the last flush */
	unsigned int writes, dsyncs, flushes;
};

static struct pten g_t[NT];
/*
 * One flush in flight at a time, whoever's. dm-log-writes gives each write
 * that completed to the first flush *mapped* after it and logs that flush
 * when it *completes*: with A's flush mapped before B's but completing
 * after it, B's writes (completed, acknowledged, covered by B's flush on
 * the device) would be logged after B's flush and its mark, and the
 * replay would call B's promise broken when no device could have broken
 * it. Seen once in about 10 runs once ringd answered faster.
 */
static bool g_flush_in_flight;
static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return (uint32_t)(g_rng % n);
}

static void post(unsigned int t, unsigned int kind, unsigned int block, uint64_t ver,
		 uint64_t *snap)
{
	char text[32];
	struct promise *p;

	cr_assert_lt(g_nprom, MAXPROM);
	p = &g_prom[g_nprom];
	p->tenant = t;
	p->kind = kind;
	p->block = block;
	p->ver = ver;
	p->snap = snap;
	p->due = -1;
	snprintf(text, sizeof(text), "p%u", g_nprom);
	g_nprom++;
	dm_mark("ringd-plw", text);
}

static void submit_ops(unsigned int t)
{
	struct pten *pt = &g_t[t];
	unsigned int nops = 1 + rnd(QD), i, k;

	for (i = 0; i < nops && pt->inflight < QD; i++) {
		struct ringd_sqe *sqe = ringd_get_sqe(pt->rd);
		struct slot *s = NULL;

		cr_assert_not_null(sqe);
		for (k = 0; k < QD; k++)
			if (!pt->s[k].busy) {
				s = &pt->s[k];
				break;
			}
		cr_assert_not_null(s);
		memset(s, 0, sizeof(*s));
		s->busy = true;
		if (!g_flush_in_flight && i > 0 && rnd(4) == 0) {
			/* A flush while this tenant's writes are in flight: it
			 * covers only what completed before it was submitted. */
			s->flush = true;
			s->snap = malloc(sizeof(pt->acked));
			cr_assert_not_null(s->snap);
			memcpy(s->snap, pt->acked, sizeof(pt->acked));
			g_flush_in_flight = true;
			ringd_prep_fsync(sqe, pt->h, 0);
		} else {
			uint8_t *buf = pt->bufs + (size_t)k * BS;
			unsigned int b;

			do
				b = rnd(NBLK);
			while (pt->busyblk[b]);
			pt->busyblk[b] = true;
			s->block = b;
			s->ver = ++pt->ver;
			/* Never a DSYNC write over a plain one that no flush of
			 * this tenant has covered yet: dm-log-writes logs a FUA
			 * write when it completes but a plain write only at the
			 * next flush, so it would replay the older plain write
			 * over the newer one, a state no device can be in. */
			s->dsync = rnd(4) == 0 && !pt->dirty[b];
			blk_fill(buf, t, b, s->ver);
			ringd_prep_write(sqe, pt->h, buf, BS, (uint64_t)b * BS);
			if (s->dsync)
				ringd_sqe_set_rw_flags(sqe, RINGD_RW_DSYNC);
		}
		ringd_sqe_set_data64(sqe, k);
		pt->inflight++;
	}
	cr_assert_geq(ringd_submit(pt->rd), 1);
}

static void reap(unsigned int t)
{
	struct pten *pt = &g_t[t];

	while (pt->inflight) {
		struct ringd_cqe *cqe;
		struct slot *s;
		int ret = ringd_wait_cqe_timeout(pt->rd, &cqe, 120000), res;

		cr_assert_eq(ret, 0, "%s: no completion: %s", tnames[t], strerror(-ret));
		cr_assert_lt(cqe->user_data, QD);
		s = &pt->s[cqe->user_data];
		res = cqe->res;
		ringd_cqe_seen(pt->rd, cqe);
		cr_assert(s->busy, "%s: a completion for nothing in flight", tnames[t]);
		s->busy = false;
		pt->inflight--;
		if (s->flush) {
			cr_assert_eq(res, 0, "%s: flush: %s", tnames[t], strerror(-res));
			g_flush_in_flight = false;
			pt->flushes++;
			for (unsigned int b = 0; b < NBLK; b++)
				if (pt->acked[b] <= s->snap[b])
					pt->dirty[b] = false;
			post(t, P_FLUSH, 0, 0, s->snap);
		} else {
			cr_assert_eq(res, (int)BS, "%s: write of block %u: %d", tnames[t], s->block,
				     res);
			pt->busyblk[s->block] = false;
			if (pt->acked[s->block] < s->ver)
				pt->acked[s->block] = s->ver;
			pt->writes++;
			if (!s->dsync)
				pt->dirty[s->block] = true;
			if (s->dsync) {
				pt->dsyncs++;
				post(t, P_DSYNC, s->block, s->ver, NULL);
			}
		}
	}
}

/* ---------------------------------------------------------------------- */
/* The replay check                                                        */

static unsigned long g_viol;
static bool g_quiet;
/* The version each block of the replayed image holds (-1: not valid). */
static int64_t g_imgver[NT][NBLK];

#define violation(...)                                                                             \
	do {                                                                                       \
		if (g_viol++ < 20 && !g_quiet)                                                     \
			printf("  VIOLATION: " __VA_ARGS__);                                       \
	} while (0)

/* Each block of data entry @i must be a valid block of the tenant that
 * owns it; nothing may land outside the extents. */
static void check_entry(long i, const struct lr_entry *e)
{
	uint64_t o;
	unsigned int t;

	if (e->flags & LR_DISCARD) {
		violation("entry %ld: a discard nobody issued at %" PRIu64 "\n", i, e->off);
		return;
	}
	if (e->off % BS || e->len % BS) {
		violation("entry %ld: %" PRIu64 " bytes at %" PRIu64 ", not whole blocks\n", i,
			  e->len, e->off);
		return;
	}
	for (o = 0; o < e->len; o += BS) {
		uint64_t at = e->off + o;
		bool owned = false;

		for (t = 0; t < NT; t++)
			if (at >= ext_off(t) && at < ext_off(t) + (uint64_t)NBLK * BS) {
				unsigned int b = (unsigned int)((at - ext_off(t)) / BS);

				owned = true;
				g_imgver[t][b] = blk_version(e->data + o, t, b);
				if (g_imgver[t][b] <= 0)
					violation("entry %ld: the block at %" PRIu64 " in %s's "
						  "extent is not %s's\n",
						  i, at, tnames[t], tnames[t]);
			}
		if (!owned)
			violation("entry %ld: a write at %" PRIu64 ", outside every extent\n", i,
				  at);
	}
}

static uint64_t g_checks;

static void check_block(long i, unsigned int p, unsigned int t, unsigned int b, uint64_t want)
{
	int64_t v = g_imgver[t][b];

	g_checks++;
	if (v < 0 || (uint64_t)v < want)
		violation("at entry %ld (promise p%u, %s): block %u holds version %" PRId64
			  ", acknowledged %" PRIu64 "\n",
			  i, p, tnames[t], b, v, want);
}

/* Every promise due by entry @i holds in @img. */
static void check_promises(long i)
{
	unsigned int p, b;

	for (p = 0; p < g_nprom; p++) {
		struct promise *pr = &g_prom[p];

		if (pr->due < 0 || pr->due > i)
			continue;
		if (pr->kind == P_DSYNC) {
			check_block(i, p, pr->tenant, pr->block, pr->ver);
			continue;
		}
		for (b = 0; b < NBLK; b++)
			if (pr->snap[b])
				check_block(i, p, pr->tenant, b, pr->snap[b]);
	}
}

Test(powerloss, log_writes_replay_keeps_every_promise, .init = pl_up, .fini = pl_down,
     .timeout = 900)
{
	struct timespec t0, t1, t2;
	size_t loglen = (size_t)LOG_MIB << 20, datalen = (size_t)DATA_MIB << 20;
	uint64_t checks;
	unsigned long ctl_viol, marks = 0, flushes = 0, fuas = 0, umarks = 0, writes = 0;
	uint8_t *log, *img, *dev;
	struct lr_log lg;
	char why[160];
	long i, last_dur = -1;
	unsigned int t, r, b;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (t = 0; t < NT; t++) {
		struct pten *pt = &g_t[t];
		int ret;

		cr_assert_eq(setegid(uids[t]), 0);
		cr_assert_eq(seteuid(uids[t]), 0);
		ret = rt_connect(&g_d, 16, 32, 1u << 20, &pt->rd);
		cr_assert_eq(seteuid(0), 0);
		cr_assert_eq(setegid(0), 0);
		cr_assert_eq(ret, 0, "%s: connect: %s", tnames[t], strerror(-ret));
		{
			char vol[16];

			snprintf(vol, sizeof(vol), "pl%s", tnames[t]);
			pt->h = ringd_open(pt->rd, vol, RINGD_RDWR, NULL);
		}
		cr_assert_geq(pt->h, 0, "%s: open: %s", tnames[t], strerror(-pt->h));
		pt->bufs = ringd_buf_alloc(pt->rd, (size_t)QD * BS, BS);
		cr_assert_not_null(pt->bufs);
	}
	printf("powerloss/ (%s: log-writes over %s, log on %s; extents at 1M, 3M, 5M):\n", g_dm,
	       g_data, g_logdev);
	/* Every tenant's batch goes in before any is reaped. */
	for (r = 0; r < ROUNDS; r++) {
		for (t = 0; t < NT; t++)
			submit_ops(t);
		for (t = 0; t < NT; t++)
			reap((t + r) % NT);
	}
	/* Read back through ringd: the last acknowledged version of each block. */
	for (t = 0; t < NT; t++) {
		struct pten *pt = &g_t[t];

		for (b = 0; b < NBLK; b++) {
			struct ringd_sqe *sqe = ringd_get_sqe(pt->rd);
			struct ringd_cqe *cqe;
			int ret, res;

			ringd_prep_read(sqe, pt->h, pt->bufs, BS, (uint64_t)b * BS);
			ringd_sqe_set_data64(sqe, 0);
			cr_assert_eq(ringd_submit(pt->rd), 1);
			ret = ringd_wait_cqe_timeout(pt->rd, &cqe, 120000);
			cr_assert_eq(ret, 0);
			res = cqe->res;
			ringd_cqe_seen(pt->rd, cqe);
			cr_assert_eq(res, (int)BS);
			cr_assert_eq(blk_version(pt->bufs, t, b), (int64_t)pt->acked[b],
				     "%s: block %u read back wrong", tnames[t], b);
		}
		printf("  tenant %s: %u writes (%u DSYNC), %u flushes, read back\n", tnames[t],
		       pt->writes, pt->dsyncs, pt->flushes);
		ringd_disconnect(pt->rd);
		pt->rd = NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Power off: the daemon goes, the target logs what is left and ends. */
	pl_stop_daemon();
	cr_assert_eq(dm_remove("ringd-plw"), 0, "remove the log-writes device");
	log = read_dev(g_logdev, loglen);
	dev = read_dev(g_data, datalen);
	cr_assert_eq(lr_parse(log, loglen, &lg, why, sizeof(why)), 0, "log: %s", why);
	printf("  log: %" PRIu64 " entries, sector size %u\n", lg.nr_entries, lg.sectorsize);
	/* When each promise is due: the last flush or FUA entry before its mark. */
	for (i = 0; i < (long)lg.n; i++) {
		const struct lr_entry *e = &lg.e[i];
		unsigned int p;

		if (e->flags & (LR_FLUSH | LR_FUA))
			last_dur = i;
		if (!(e->flags & LR_MARK) || sscanf(e->mark, "p%u", &p) != 1)
			continue;
		cr_assert_lt(p, g_nprom, "mark %s: no such promise", e->mark);
		g_prom[p].seen = true;
		g_prom[p].due = last_dur;
		if (last_dur < 0)
			violation("promise p%u: no flush or FUA entry before its mark\n", p);
	}
	for (r = 0; r < g_nprom; r++)
		if (!g_prom[r].seen)
			violation("promise p%u: its mark is not in the log\n", r);
	/* Replay, checking at every flush, FUA and mark entry. */
	img = calloc(1, datalen);
	cr_assert_not_null(img);
	for (i = 0; i < (long)lg.n; i++) {
		const struct lr_entry *e = &lg.e[i];

		if (e->len) {
			writes++;
			check_entry(i, e);
			if (lr_apply(e, img, datalen))
				violation("entry %ld: past the device's end\n", i);
		}
		if (e->flags & LR_FLUSH)
			flushes++;
		if (e->flags & LR_FUA)
			fuas++;
		if (e->flags & LR_MARK)
			umarks++;
		if (e->flags & (LR_FLUSH | LR_FUA | LR_MARK)) {
			marks++;
			check_promises(i);
		}
	}
	/* The replay ends where the device is; outside the extents: zeros. */
	if (memcmp(img, dev, datalen))
		violation("the replayed image differs from the data device\n");
	for (size_t o = 0; o < datalen; o += BS) {
		bool owned = false;

		for (t = 0; t < NT; t++)
			owned |= o >= ext_off(t) && o < ext_off(t) + (uint64_t)NBLK * BS;
		if (!owned && blk_version(img + o, 0, 0) != 0)
			violation("bytes at %zu, outside every extent\n", o);
		for (t = 0; t < NT; t++)
			if (o >= ext_off(t) && o < ext_off(t) + (uint64_t)NBLK * BS &&
			    blk_version(img + o, t, (unsigned int)((o - ext_off(t)) / BS)) !=
				g_imgver[t][(o - ext_off(t)) / BS])
				violation("bytes at %zu: not what the replay applied\n", o);
	}
	/* Negative control: the same checks on a device that loses every
	 * plain write (keeps only FUA writes) must find violations. */
	ctl_viol = g_viol;
	checks = g_checks;
	g_quiet = true;
	memset(g_imgver, 0, sizeof(g_imgver));
	for (i = 0; i < (long)lg.n; i++) {
		const struct lr_entry *e = &lg.e[i];

		if (e->len && (e->flags & LR_FUA))
			check_entry(i, e);
		if (e->flags & (LR_FLUSH | LR_FUA | LR_MARK))
			check_promises(i);
	}
	g_quiet = false;
	ctl_viol = g_viol - ctl_viol;
	g_viol -= ctl_viol;
	g_checks = checks;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	printf("  negative control (plain writes lost): %lu violations found\n", ctl_viol);
	printf("  replay: %lu data entries, %lu flush, %lu FUA, %lu user marks; %u promises; "
	       "%lu marks checked (%" PRIu64 " block checks), %lu violations\n",
	       writes, flushes, fuas, umarks, g_nprom, marks, g_checks, g_viol);
	printf("  workload %.1f s, removal + replay %.1f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9);
	fflush(stdout);
	cr_assert_gt(flushes, 0, "no flush reached the log: no write cache under the target?");
	cr_assert_gt(g_nprom, 0);
	cr_assert_gt(ctl_viol, 0, "the checker missed the lost writes of the negative control");
	cr_assert_eq(g_viol, 0, "%lu violations (the first are above)", g_viol);
	lr_free(&lg);
	free(img);
	free(dev);
	free(log);
	for (r = 0; r < g_nprom; r++)
		free(g_prom[r].snap);
}
