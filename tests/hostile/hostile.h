/* SPDX-License-Identifier: MIT */
/*
 * hc_: a hostile client. Speaks the raw control protocol (protobuf-c) and
 * maps the session memfd itself, so a test can tamper with every byte a
 * tenant controls: SQEs, ring indices, header fields, packets, fds.
 *
 * vt_: the victim, a second tenant (RT_UID_B) forked to run a verified
 * read/write workload on its own volume while the hostile client works.
 *
 * cn_: canary bytes around every tenant's extent in the backing files.
 */
#ifndef RINGD_TESTS_HOSTILE_H
#define RINGD_TESTS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "ringd.pb-c.h"
#include "ringd_abi.h"

/* The layout every hostile test uses (see hs_config()). */
#define HS_MB			   (1ull << 20)
#define HS_SHARED_SIZE		   (8 * HS_MB) /* shared.img: hostile and victim volumes */
#define HS_HOSTILE_OFF		   (1 * HS_MB)
#define HS_HOSTILE_SIZE		   (2 * HS_MB)
#define HS_VICTIM_OFF		   (4 * HS_MB)
#define HS_VICTIM_SIZE		   (2 * HS_MB)
#define HS_DIRECT_SIZE		   (4 * HS_MB) /* direct.img: the hostile tenant's O_DIRECT volume */
#define HS_DIRECT_OFF		   (1 * HS_MB)
#define HS_DIRECT_EXTENT	   (2 * HS_MB)
#define HS_HOSTILE_INFLIGHT	   16u	       /* per-session max_inflight of the hostile tenant */
#define HS_HOSTILE_TENANT_INFLIGHT 24u	       /* its max_tenant_inflight */
#define HS_HOSTILE_SESSIONS	   6u	       /* its max_sessions */
#define HS_HOSTILE_MEMORY	   (8 * HS_MB) /* its max_session_memory */
#define HS_HOSTILE_VOLUMES	   2u	       /* its max_open_volumes */
#define HS_HOSTILE_FILES	   8u	       /* its max_open_files (directory volume "hfiles") */
#define HS_UID_FLOOD		   61003u      /* tenant "flood": many sessions, reads "hostile" */
#define HS_FLOOD_SESSIONS	   16u
#define HS_DAEMON_SESSIONS	   40u /* daemon-wide max_sessions */

struct hc {
	int sock;
	int wake_fd;
	int memfd;
	void *base;
	size_t region_size;
	struct ringd_shm_hdr *hdr;
	uint32_t *sq_array;
	struct ringd_sqe *sqes;
	struct ringd_cqe *cqes;
	uint8_t *data;
	uint64_t data_size;
	uint64_t session_id;
	uint32_t sq_entries, cq_entries, max_io;
	uint32_t sq_tail; /* our private tail */
	uint32_t cq_head; /* our private head */
};

struct hc_stats {
	uint64_t submitted, completed, errors, rejected, completions_interrupt;
	uint32_t inflight, broken_reason;
};

/* Connect a raw SEQPACKET socket to @path as the hostile tenant (the
 * test runs as root and connects with euid RT_UID_A). Returns the fd or -errno. */
int hc_sock(const char *path);
/* The same with effective uid @uid (0: as we are). */
int hc_sock_as(const char *path, uid_t uid);

/* Pack and send @rq (MSG_DONTWAIT). Returns 0 or -errno. */
int hc_send_req(int fd, const Ringd__Request *rq);

/* Send @len raw bytes with @nfds fds in one SCM_RIGHTS message. Returns 0 or -errno. */
int hc_send_raw(int fd, const void *buf, size_t len, const int *fds, unsigned int nfds);

/* Receive one reply within @timeout_ms. Returns 0, -ECONNRESET on EOF,
 * -ETIME on timeout, -EBADMSG if it does not decode. Received fds go to
 * @fds (up to @maxfds; the rest are closed), their count to @nfds. */
int hc_recv_reply(int fd, int timeout_ms, Ringd__Reply **out, int *fds, unsigned int maxfds,
		  unsigned int *nfds);

/* Wait until the daemon closes @fd (EOF, after any pending replies) within
 * @timeout_ms. Returns 0 on EOF, -ETIME otherwise. */
int hc_wait_eof(int fd, int timeout_ms);

/* Pack a Hello with these sizes (0: default) into @buf (64 bytes are
 * enough). Returns its length. */
size_t hc_pack_hello(uint8_t *buf, uint32_t sq, uint32_t cq, uint64_t data, bool admin);

/* 0 if @r is a @want reply, -errno for an Error, else -EPROTO. */
int hc_reply_errno(const Ringd__Reply *r, Ringd__Reply__MsgCase want);

/* Hello with these sizes. Returns 0, or -errno from the daemon's Error. */
int hc_attach(const char *path, uint32_t sq, uint32_t cq, uint64_t data, struct hc *out);

/* Like hc_attach on an already connected socket (taken over by @out). */
int hc_attach_fd(int sock, uint32_t sq, uint32_t cq, uint64_t data, struct hc *out);

/* Open a volume. Returns a handle >= 0 or -errno. */
int hc_open(struct hc *c, const char *name, uint32_t flags);

/* Open a file of directory volume @volume. Returns a handle >= 0 or -errno. */
int hc_open_file(struct hc *c, const char *volume, const char *path, uint32_t flags);
/* Close a handle. Returns 0 or -errno. */
int hc_close_handle(struct hc *c, int handle);

/* Session counters. Returns 0 or -errno. */
int hc_stats(struct hc *c, struct hc_stats *st);

/* The next SQE (zeroed), with its SQ array entry pointing at it. The tail
 * is not published until hc_submit(). */
struct ringd_sqe *hc_sqe(struct hc *c);

/* Publish the private tail and ring the doorbell. */
void hc_submit(struct hc *c);

/* Ring the doorbell (non-blocking, errors ignored). */
void hc_doorbell(struct hc *c);

/* Wait for @n CQEs within @timeout_ms, copy them to @out and advance the
 * CQ head. Returns the number reaped (< @n on timeout). */
unsigned int hc_reap(struct hc *c, struct ringd_cqe *out, unsigned int n, int timeout_ms);

/* Wait up to @timeout_ms for at least one CQE, then reap what is there
 * (at most @max). Returns the number reaped. */
unsigned int hc_reap_some(struct hc *c, struct ringd_cqe *out, unsigned int max, int timeout_ms);

/* Prepare a read or write into the data area at @addr. */
void hc_prep_rw(struct ringd_sqe *sqe, uint8_t op, int handle, uint64_t off, uint64_t addr,
		uint32_t len, uint64_t user_data);

/* Unmap and close everything. */
void hc_detach(struct hc *c);

/* Wait until the session's header says broken (within @timeout_ms).
 * Returns the reason, 0 on timeout. */
uint32_t hc_wait_broken(struct hc *c, int timeout_ms);

/* Config text for the hostile suite, with @stall for the [daemon]
 * stall_timeout (e.g. "30s"). Static buffer. */
const char *hs_config(const char *stall);

/*
 * hs_config() with @daemon_extra (lines of "key = value\n") added to its
 * [daemon] section and @sections_extra (whole sections) appended; either
 * may be "". Static buffer, shared with hs_config().
 */
const char *hs_config_extra(const char *stall, const char *daemon_extra,
			    const char *sections_extra);

/* Start the daemon with hs_config(@stall) and write the canaries. */
void hs_start(struct rt_daemon *d, const char *stall);

/* Check the canaries, that the daemon serves a fresh tenant connection,
 * and stop it (exit status 0). */
void hs_finish(struct rt_daemon *d);

/* A suite's .fini: stop the daemon if a test left it running (the tests
 * call hs_finish() themselves to assert on it). HS_KEEP_LOG=file keeps
 * the daemon's log there (HS_LOG=debug for more of it). */
void hs_teardown(struct rt_daemon *d);

/* hc_attach() / hc_open() that assert success. */
void hs_attach(const struct rt_daemon *d, struct hc *c, uint32_t sq, uint32_t cq, uint64_t data);
int hs_open(struct hc *c, const char *name, uint32_t flags);

/* Submit a copy of @proto and return its CQE's res; asserts that the CQE
 * arrives within @timeout_ms and carries @proto's user_data and no flags. */
int32_t hs_one(struct hc *c, const struct ringd_sqe *proto, int timeout_ms);

/* Write canary patterns around every tenant extent of the backing files. */
void cn_write(const struct rt_daemon *d);
/* Assert every canary byte is unchanged. */
void cn_check(const struct rt_daemon *d);

/* A fresh connection as the victim tenant opens its volume and reads:
 * returns 0 if all of it worked. */
int hs_probe(const struct rt_daemon *d);

struct victim {
	pid_t pid;
	int stop_fd; /* write end: closing it asks the victim to finish */
	int result_fd;
	/* What the victim reported, filled in by vt_stop()/vt_finish(): */
	unsigned int rounds;
	uint64_t ops;	   /* I/Os completed */
	uint64_t worst_us; /* the longest submit-to-CQE time of one I/O */
};

/* Fork the victim as RT_UID_B: a write/read/verify loop on volume "victim"
 * until asked to stop (at least a few rounds). */
void vt_start(const struct rt_daemon *d, struct victim *v);

/*
 * As vt_start(), with a latency probe for a workload: one 4 KiB write,
 * then its read-back and check, one I/O in flight at a time with a 1 ms
 * pause between rounds, each I/O timed from submit to its CQE.
 */
void vt_start_timed(const struct rt_daemon *d, struct victim *v);

/* Stop the victim and fill in its report (also when it failed). Returns
 * its exit status: 0 if every I/O completed in full with correct data. */
int vt_stop(struct victim *v);

/* Stop the victim and assert it completed rounds with zero errors and
 * correct data. */
void vt_finish(struct victim *v);

/* Sessions of @d other than the admin connection asking (UINT32_MAX if
 * the daemon cannot take one more connection right now). */
uint32_t hs_sessions_now(const struct rt_daemon *d);

/* The fd count of process @pid, the least of a few samples 10 ms apart
 * (an admin connection just closed may still be counted). */
int hs_stable_fd_count(pid_t pid);

/* Fds of process @pid whose link target contains @needle. */
int hs_count_fds_matching(pid_t pid, const char *needle);
/* Mappings of @pid whose line contains @needle; total bytes in @bytes. */
int hs_count_maps(pid_t pid, const char *needle, uint64_t *bytes);

#endif
