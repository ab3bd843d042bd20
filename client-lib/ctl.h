/* SPDX-License-Identifier: MIT */
/*
 * libringd, layer 1: the control plane (see ctl.c) and struct ringd, the
 * session object every layer above works on.
 */
#ifndef RINGD_CLIENT_CTL_H
#define RINGD_CLIENT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ring.h"
#include "ringd.h"

struct ringd {
	struct rg_ring ring;	 /* the rings, request tags, stash and handle table */
	struct buf_area buf;	 /* ringd_buf_alloc() over the data area */
	int sock;		 /* control socket */
	int memfd;		 /* the session region */
	int ringlive;		 /* EOF once the daemon instance's I/O is all gone */
	void *base;		 /* where the region is mapped (kept across a reconnect) */
	struct rg_layout layout; /* of the first session: a reconnect must match it */
	uint32_t max_io_size;	 /* from the Attached reply */
	bool reconnect;		 /* reconnect on our own when the daemon goes away */
	bool replay_next;	 /* the next control request is one sent again (replay) */
	uint64_t ctl_seq;	 /* Request.seq of the last control request */
	char socket_path[108];	 /* kept for reconnecting */
};

/* The ring shape a Hello asks for; 0 leaves a field to the daemon. */
struct cc_shape {
	uint32_t sq_entries, cq_entries;
	uint64_t data_size;
};

/* A session the daemon attached, its layout checked, not mapped yet. */
struct cc_attach {
	int sock, memfd, wake_fd, ringlive;
	struct rg_layout layout;
	uint32_t max_io_size;
};

/* Connect to @path and ask for a session of @shape. Returns 0 and fills
 * @out (whose fds the caller then owns), or -errno: the daemon's refusal
 * (its message kept for cc_last_message()), -EBADMSG for a reply or layout
 * that does not add up, or the socket's error. */
int cc_hello(const char *path, const struct cc_shape *shape, struct cc_attach *out);

/* Close the fds of an attach that will not be used. */
void cc_attach_close(struct cc_attach *a);

/* Make @a the session's socket and fds, closing the ones it replaces. */
void cc_adopt(struct ringd *rd, struct cc_attach *a);

/* Connect, attach and map a session as @opts (may be NULL) says. Returns 0
 * and sets *out, or -errno (see ringd_connect() in <ringd.h>). */
int cc_connect(const struct ringd_opts *opts, struct ringd **out);

/* Close and free everything of @rd. */
void cc_disconnect(struct ringd *rd);

/* OpenVolume on the current session (@info may be NULL). Returns the
 * daemon's handle or -errno. */
int cc_volume_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info);

/* Open @volume under a free handle of the application. Returns the handle,
 * -ENAMETOOLONG, -EMFILE, or cc_volume_open()'s -errno. */
int cc_handle_open(struct ringd *rd, const char *volume, int flags, struct ringd_volume_info *info);

/* OpenFile on the current session. Returns the daemon's handle or -errno. */
int cc_file_open(struct ringd *rd, const char *volume, const char *path, int flags,
		 unsigned int mode, struct ringd_volume_info *info);
/* ... under a free handle of the application, remembered for a reconnect. */
int cc_handle_open_file(struct ringd *rd, const char *volume, const char *path, int flags,
			unsigned int mode, struct ringd_volume_info *info);
/* PathOp kinds (the values of Ringd__PathOp__Kind). */
enum cc_path_kind { CC_UNLINK = 0, CC_MKDIR = 1, CC_RENAME = 2, CC_STAT = 3 };
/* PathOp @kind (enum cc_path_kind); @info filled for CC_STAT. Returns 0 or -errno. */
int cc_path_op(struct ringd *rd, int kind, const char *volume, const char *path, const char *path2,
	       unsigned int mode, struct ringd_volume_info *info);
/* Truncate / Fstat of the application's handle @handle. Returns 0 or -errno. */
int cc_truncate(struct ringd *rd, int handle, uint64_t size);
int cc_fstat(struct ringd *rd, int handle, struct ringd_volume_info *info);

/* Close the application's handle @handle. Returns 0 (also when the daemon
 * no longer knew it), -EBADF (not open), -EBADMSG (an unexpected reply:
 * the handle is closed all the same), or the call's -errno (the handle
 * stays open). */
int cc_handle_close(struct ringd *rd, int handle);

/* The daemon's counters of this session. Returns 0 or -errno. */
int cc_stats(struct ringd *rd, struct ringd_stats *st);

/* The daemon's totals of this session's tenant. Returns 0 or -errno. */
int cc_tenant_stats(struct ringd *rd, struct ringd_stats *st);

/* Every page of the tenant's volume names. Returns 0 or -errno. */
int cc_list_volumes(struct ringd *rd, char ***names, size_t *count);

/* The daemon's explanation of the last call it refused in this thread. */
const char *cc_last_message(void);

#endif
