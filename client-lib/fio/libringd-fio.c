/* SPDX-License-Identifier: MIT */
/*
 * libringd-fio: an external fio ioengine that does its I/O through ringd.
 *
 *   [job]
 *   ioengine=external:/usr/lib/x86_64-linux-gnu/ringd/libringd-fio.so
 *   volume=db1                 ; the ringd volume (required)
 *   ringd_socket=/run/ringd/ringd.sock   ; else $RINGD_SOCKET, else the default
 *   ringd_spin_us=20           ; libringd's spin before sleeping (0: default)
 *   ringd_vectored=1           ; reads and writes as READV/WRITEV (default 0)
 *
 * What fio asks for, and what it becomes:
 *   read, write                READ, WRITE (READV/WRITEV of one vector with
 *                              ringd_vectored=1, as fio's io_uring engine
 *                              does by default)
 *   write with sync=1/dsync    WRITE with RINGD_RW_DSYNC: durable on completion
 *                              (ringd has no O_SYNC of its own; a volume's
 *                              size never changes, so DSYNC is what counts)
 *   trim (rw=trim, randtrim, trimwrite, trim_percentage)
 *                              DISCARD of the io_u's range (a file volume then
 *                              reads zeros: trim_verify_zero=1 holds)
 *   fdatasync=N                FSYNC with RINGD_FSYNC_DATASYNC
 *   fsync=N, sync_file_range   FSYNC
 *
 * fio hands an engine one buffer per io_u: it never builds a vector of
 * several buffers, so the vectored path carries one vector per request.
 * fio's I/O buffers are allocated in the session's shared data area
 * (iomem_alloc), so the daemon reads and writes them in place: the engine
 * adds no copy. The job's filename is only a label; the volume is the target.
 * Built against the headers of the installed fio (see fetch-fio-src.sh).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fio.h"
#include "optgroup.h"

#include "ringd.h"

/*
 * The Debian fio binary is built with libaio (and rdma), which puts a
 * struct iocb (64 bytes) and a pointer into the union at the end of struct
 * io_u; the configure run here may lack those headers. The union is sized
 * by struct sg_io_hdr either way, so the layouts agree.
 */
_Static_assert(sizeof(struct sg_io_hdr) >= 64, "io_u union sized by sg_io_hdr");

struct rfio_options {
	void *pad; /* fio treats offset 0 as "no option" */
	char *volume;
	char *socket;
	unsigned int spin_us;
	unsigned int vectored;
};

static struct fio_option rfio_opts[] = {
	{
	    .name = "volume",
	    .lname = "ringd volume",
	    .type = FIO_OPT_STR_STORE,
	    .off1 = offsetof(struct rfio_options, volume),
	    .help = "Name of the ringd volume to do I/O on",
	    .category = FIO_OPT_C_ENGINE,
	    .group = FIO_OPT_G_INVALID,
	},
	{
	    .name = "ringd_socket",
	    .lname = "ringd socket",
	    .type = FIO_OPT_STR_STORE,
	    .off1 = offsetof(struct rfio_options, socket),
	    .help = "Control socket of the daemon (default: $RINGD_SOCKET, then "
		    "/run/ringd/ringd.sock)",
	    .category = FIO_OPT_C_ENGINE,
	    .group = FIO_OPT_G_INVALID,
	},
	{
	    .name = "ringd_spin_us",
	    .lname = "ringd spin",
	    .type = FIO_OPT_INT,
	    .off1 = offsetof(struct rfio_options, spin_us),
	    .help = "Microseconds to spin for completions before sleeping (0: default)",
	    .def = "0",
	    .category = FIO_OPT_C_ENGINE,
	    .group = FIO_OPT_G_INVALID,
	},
	{
	    .name = "ringd_vectored",
	    .lname = "ringd vectored",
	    .type = FIO_OPT_BOOL,
	    .off1 = offsetof(struct rfio_options, vectored),
	    .help = "Issue reads and writes as READV/WRITEV of one vector",
	    .def = "0",
	    .category = FIO_OPT_C_ENGINE,
	    .group = FIO_OPT_G_INVALID,
	},
	{
	    .name = NULL,
	},
};

struct rfio_data {
	struct ringd *rd;
	int handle;
	uint64_t vol_size;
	unsigned int queued; /* prepared SQEs not yet submitted */
	struct io_u **queued_io;
	struct io_u **events;
	unsigned int nevents;
	struct ringd_cqe *cqes;
	unsigned int depth;
	struct iovec *iovecs; /* ringd_vectored: one per io_u, in the data area */
};

/* Connect a session with a data area of @buf_size bytes and open the
 * volume. Returns 0 or -errno (reported through fio's log). */
static int rfio_connect(struct thread_data *td, struct rfio_data *d, size_t buf_size)
{
	struct rfio_options *o = td->eo;
	struct ringd_opts ro = {
		.socket_path = o->socket,
		.sq_entries = d->depth,
		.cq_entries = 2 * d->depth,
		.buf_size = buf_size,
		.spin_us = o->spin_us,
	};
	struct ringd_volume_info info;
	int ret;

	if (!o->volume) {
		log_err("ringd: the job needs volume=NAME\n");
		return -EINVAL;
	}
	ret = ringd_connect(&ro, &d->rd);
	if (ret) {
		log_err("ringd: connect: %s\n", strerror(-ret));
		return ret;
	}
	/* Trim needs a read-write handle as much as write does. */
	d->handle = ringd_open(d->rd, o->volume,
			       td_write(td) || td_trim(td) ? RINGD_RDWR : RINGD_RDONLY, &info);
	if (d->handle < 0) {
		ret = d->handle;
		log_err("ringd: open %s: %s\n", o->volume, strerror(-ret));
		ringd_disconnect(d->rd);
		d->rd = NULL;
		return ret;
	}
	d->vol_size = info.size;
	return 0;
}

static int rfio_init(struct thread_data *td)
{
	struct rfio_data *d = calloc(1, sizeof(*d));

	if (!d)
		return 1;
	d->depth = td->o.iodepth ? td->o.iodepth : 1;
	d->queued_io = calloc(d->depth, sizeof(*d->queued_io));
	d->events = calloc(d->depth, sizeof(*d->events));
	d->cqes = calloc(d->depth, sizeof(*d->cqes));
	if (!d->queued_io || !d->events || !d->cqes) {
		free(d->queued_io);
		free(d->events);
		free(d->cqes);
		free(d);
		return 1;
	}
	d->handle = -1;
	td->io_ops_data = d;
	return 0;
}

static void rfio_cleanup(struct thread_data *td)
{
	struct rfio_data *d = td->io_ops_data;

	if (!d)
		return;
	if (d->rd)
		ringd_disconnect(d->rd);
	free(d->queued_io);
	free(d->events);
	free(d->cqes);
	free(d);
	td->io_ops_data = NULL;
}

/* The I/O buffers live in the session's data area: connect here, now that
 * fio knows how much it needs. */
static int rfio_iomem_alloc(struct thread_data *td, size_t total_mem)
{
	struct rfio_options *o = td->eo;
	struct rfio_data *d = td->io_ops_data;
	size_t iov_bytes = o->vectored ? (size_t)d->depth * sizeof(struct iovec) : 0;

	/* The iovecs too: the daemon reads them from the data area. */
	if (!d->rd && rfio_connect(td, d, total_mem + 4096 + iov_bytes + 64))
		return 1;
	td->orig_buffer = ringd_buf_alloc(d->rd, total_mem, 4096);
	if (!td->orig_buffer) {
		log_err("ringd: %zu bytes of buffers do not fit the data area\n", total_mem);
		return 1;
	}
	if (iov_bytes) {
		d->iovecs = ringd_buf_alloc(d->rd, iov_bytes, 64);
		if (!d->iovecs) {
			log_err("ringd: no room for the iovecs in the data area\n");
			return 1;
		}
	}
	return 0;
}

static void rfio_iomem_free(struct thread_data *td)
{
	struct rfio_data *d = td->io_ops_data;

	if (d && d->rd && td->orig_buffer)
		ringd_buf_free(d->rd, td->orig_buffer);
	if (d && d->rd && d->iovecs)
		ringd_buf_free(d->rd, d->iovecs);
	if (d)
		d->iovecs = NULL;
	td->orig_buffer = NULL;
}

/* fio asks for the size before (in the parent) and after the job's init:
 * answer from a short-lived session if this process has none yet. */
static int rfio_get_file_size(struct thread_data *td, struct fio_file *f)
{
	struct rfio_data *d = td->io_ops_data, tmp = { .handle = -1, .depth = 1 };
	int ret;

	if (fio_file_size_known(f))
		return 0;
	if (!d || !d->rd) {
		ret = rfio_connect(td, &tmp, 0);
		if (ret)
			return -ret;
		ringd_disconnect(tmp.rd);
		f->real_file_size = tmp.vol_size;
	} else {
		f->real_file_size = d->vol_size;
	}
	fio_file_set_size_known(f);
	return 0;
}

static int rfio_open_file(struct thread_data *td, struct fio_file *f)
{
	struct rfio_data *d = td->io_ops_data;
	int ret;

	if (!d->rd) {
		ret = rfio_connect(td, d, 0);
		if (ret)
			return -ret;
	}
	if (!fio_file_size_known(f)) {
		f->real_file_size = d->vol_size;
		fio_file_set_size_known(f);
	}
	return 0;
}

static int rfio_close_file(struct thread_data fio_unused *td, struct fio_file fio_unused *f)
{
	return 0;
}

/* A read or write of @io_u into @sqe: plain, or as one vector when the
 * job asked for ringd_vectored (the iovec lives in the data area). */
static void rfio_prep_rw(struct rfio_data *d, struct ringd_sqe *sqe, struct io_u *io_u)
{
	unsigned int len = (unsigned int)io_u->xfer_buflen;
	int write = io_u->ddir == DDIR_WRITE;

	if (d->iovecs && io_u->index < d->depth) {
		struct iovec *iov = &d->iovecs[io_u->index];

		/* Requeues may have moved xfer_buf: set it every time. */
		iov->iov_base = io_u->xfer_buf;
		iov->iov_len = len;
		if (write)
			ringd_prep_writev(sqe, d->handle, iov, 1, io_u->offset);
		else
			ringd_prep_readv(sqe, d->handle, iov, 1, io_u->offset);
	} else if (write) {
		ringd_prep_write(sqe, d->handle, io_u->xfer_buf, len, io_u->offset);
	} else {
		ringd_prep_read(sqe, d->handle, io_u->xfer_buf, len, io_u->offset);
	}
}

static enum fio_q_status rfio_queue(struct thread_data *td, struct io_u *io_u)
{
	struct rfio_data *d = td->io_ops_data;
	struct ringd_sqe *sqe;

	fio_ro_check(td, io_u);
	if (io_u->xfer_buflen > UINT32_MAX && io_u->ddir != DDIR_TRIM) {
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	sqe = ringd_get_sqe(d->rd);
	if (!sqe)
		return FIO_Q_BUSY;
	switch (io_u->ddir) {
	case DDIR_READ:
		rfio_prep_rw(d, sqe, io_u);
		break;
	case DDIR_WRITE:
		rfio_prep_rw(d, sqe, io_u);
		/* sync=1 (O_SYNC) and sync=dsync (O_DSYNC) alike: durable
		 * when the CQE arrives, as the open flag makes a write(2). */
		if (td->o.sync_io)
			ringd_sqe_set_rw_flags(sqe, RINGD_RW_DSYNC);
		break;
	case DDIR_TRIM:
		ringd_prep_discard(sqe, d->handle, io_u->offset, io_u->xfer_buflen);
		break;
	case DDIR_DATASYNC:
		ringd_prep_fsync(sqe, d->handle, RINGD_FSYNC_DATASYNC);
		break;
	default: /* DDIR_SYNC, DDIR_SYNC_FILE_RANGE: the whole volume */
		ringd_prep_fsync(sqe, d->handle, 0);
		break;
	}
	ringd_sqe_set_data64(sqe, (uint64_t)(uintptr_t)io_u);
	d->queued_io[d->queued++] = io_u;
	return FIO_Q_QUEUED;
}

static int rfio_commit(struct thread_data *td)
{
	struct rfio_data *d = td->io_ops_data;
	unsigned int i;
	int ret;

	if (!d->queued)
		return 0;
	ret = ringd_submit(d->rd);
	if (ret < 0) {
		td_verror(td, -ret, "ringd_submit");
		return ret;
	}
	if (fio_fill_issue_time(td)) {
		struct timespec now;

		fio_gettime(&now, NULL);
		for (i = 0; i < d->queued; i++) {
			memcpy(&d->queued_io[i]->issue_time, &now, sizeof(now));
			io_u_queued(td, d->queued_io[i]);
		}
	}
	io_u_mark_submit(td, d->queued);
	d->queued = 0;
	return 0;
}

/* Take every ready completion. Returns how many were added to events. */
static unsigned int rfio_reap(struct rfio_data *d, unsigned int max)
{
	unsigned int n, i;

	n = ringd_peek_batch_cqe(d->rd, d->cqes, max);
	for (i = 0; i < n; i++) {
		struct io_u *io_u = (struct io_u *)(uintptr_t)d->cqes[i].user_data;
		int32_t res = d->cqes[i].res;

		if (res < 0) {
			io_u->error = -res;
		} else {
			io_u->error = 0;
			/* A discard's res is 0 for the whole range. */
			if (io_u->ddir == DDIR_READ || io_u->ddir == DDIR_WRITE)
				io_u->resid = io_u->xfer_buflen - (unsigned long long)res;
			else
				io_u->resid = 0;
		}
		d->events[d->nevents++] = io_u;
	}
	return n;
}

static int rfio_getevents(struct thread_data *td, unsigned int min, unsigned int max,
			  const struct timespec *t)
{
	struct rfio_data *d = td->io_ops_data;
	unsigned int timeout_ms = 0;
	struct ringd_cqe *cqe;
	int ret;

	d->nevents = 0;
	if (max > d->depth)
		max = d->depth;
	if (t)
		timeout_ms = (unsigned int)(t->tv_sec * 1000 + t->tv_nsec / 1000000);
	for (;;) {
		rfio_reap(d, max - d->nevents);
		if (d->nevents >= min || d->nevents == max)
			break;
		/* Sleeps only after libringd's spin; the CQE stays queued. */
		if (t)
			ret = ringd_wait_cqe_timeout(d->rd, &cqe, timeout_ms ? timeout_ms : 1);
		else
			ret = ringd_wait_cqe(d->rd, &cqe);
		if (ret == -ETIME)
			break;
		if (ret) {
			td_verror(td, -ret, "ringd_wait_cqe");
			return ret;
		}
	}
	return (int)d->nevents;
}

static struct io_u *rfio_event(struct thread_data *td, int event)
{
	struct rfio_data *d = td->io_ops_data;

	return d->events[event];
}

static struct ioengine_ops ioengine = {
	.name = "ringd",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NODISKUTIL | FIO_NOEXTEND,
	.init = rfio_init,
	.queue = rfio_queue,
	.commit = rfio_commit,
	.getevents = rfio_getevents,
	.event = rfio_event,
	.cleanup = rfio_cleanup,
	.open_file = rfio_open_file,
	.close_file = rfio_close_file,
	.get_file_size = rfio_get_file_size,
	.iomem_alloc = rfio_iomem_alloc,
	.iomem_free = rfio_iomem_free,
	.option_struct_size = sizeof(struct rfio_options),
	.options = rfio_opts,
};

/* The entry point fio looks up with dlsym() for ioengine=external:... */
void get_ioengine(struct ioengine_ops **ioengine_ptr);

void get_ioengine(struct ioengine_ops **ioengine_ptr)
{
	*ioengine_ptr = &ioengine;
}
