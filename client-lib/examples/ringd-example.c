/* SPDX-License-Identifier: MIT */
/*
 * ringd-example: the whole libringd API in one small program. It writes
 * QD blocks at queue depth QD, reads them back and checks them, flushes,
 * and prints the session's counters.
 *
 * Build against an installed libringd:
 *	cc -o ringd-example ringd-example.c $(pkg-config --cflags --libs libringd)
 * Run as a tenant of the daemon (the socket comes from $RINGD_SOCKET, else
 * /run/ringd/ringd.sock):
 *	./ringd-example demo
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <ringd.h>

#define QD 16
#define BS 4096

static int fail(const char *what, int err)
{
	fprintf(stderr, "ringd-example: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	struct ringd_opts opts = { .sq_entries = QD,
				   .cq_entries = 2 * QD,
				   .buf_size = 2 * QD * BS };
	const char *vol = argc > 1 ? argv[1] : "demo";
	struct ringd_volume_info info;
	struct ringd_stats st;
	struct ringd_sqe *sqe, *nop;
	struct ringd_cqe *cqe;
	struct ringd *rd;
	char *bufs[QD];
	int h, i, ret, done, efd;

	ret = ringd_connect(&opts, &rd); /* opts.socket_path NULL: $RINGD_SOCKET */
	if (ret)
		return fail("connect", ret);
	h = ringd_open(rd, vol, RINGD_RDWR, &info);
	if (h < 0)
		return fail(vol, h);
	if (info.size < QD * BS || BS % info.align)
		return fail("volume geometry", -EINVAL);
	for (i = 0; i < QD; i++) /* I/O buffers must live in the shared data area */
		if (!(bufs[i] = ringd_buf_alloc(rd, BS, BS)))
			return fail("ringd_buf_alloc", -ENOMEM);

	/* QD writes in one batch; completions reaped through poll() on the event fd. */
	efd = ringd_event_fd(rd);
	for (i = 0; i < QD; i++) {
		sqe = ringd_get_sqe(rd); /* never NULL here: the SQ has QD entries */
		memset(bufs[i], 'a' + i, BS);
		ringd_prep_write(sqe, h, bufs[i], BS, (uint64_t)i * BS);
		ringd_sqe_set_data64(sqe, i);
	}
	if ((ret = ringd_submit(rd)) != QD)
		return fail("submit", ret < 0 ? ret : -EIO);
	for (done = 0; done < QD;) {
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		char drain[64];

		while (ringd_peek_cqe(rd, &cqe) == 0) {
			if (cqe->res != BS)
				return fail("write", cqe->res < 0 ? cqe->res : -EIO);
			ringd_cqe_seen(rd, cqe);
			done++;
		}
		if (done < QD && poll(&pfd, 1, 10000) <= 0)
			return fail("poll", -ETIMEDOUT);
		while (recv(efd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
			; /* empty it before reaping again */
	}

	/* QD reads into cleared buffers: submit, then wait for each completion. */
	for (i = 0; i < QD; i++) {
		sqe = ringd_get_sqe(rd);
		memset(bufs[i], 0, BS);
		ringd_prep_read(sqe, h, bufs[i], BS, (uint64_t)i * BS);
		ringd_sqe_set_data64(sqe, i);
	}
	if ((ret = ringd_submit_and_wait(rd, QD)) != QD)
		return fail("submit_and_wait", ret < 0 ? ret : -EIO);
	for (i = 0; i < QD; i++) {
		uint64_t k;

		if ((ret = ringd_wait_cqe(rd, &cqe)))
			return fail("wait_cqe", ret);
		k = ringd_cqe_get_data64(cqe);
		if (cqe->res != BS || k >= QD || bufs[k][0] != (char)('a' + k) ||
		    memcmp(bufs[k], bufs[k] + 1, BS - 1))
			return fail("read back", cqe->res < 0 ? cqe->res : -EIO);
		ringd_cqe_seen(rd, cqe);
	}

	/* Make it durable, plus a no-op to show the simplest request. */
	sqe = ringd_get_sqe(rd);
	nop = ringd_get_sqe(rd);
	if (!sqe || !nop) /* NULL means the SQ is full: submit, reap, retry */
		return fail("get_sqe", -EBUSY);
	ringd_prep_fsync(sqe, h, RINGD_FSYNC_DATASYNC);
	ringd_prep_nop(nop);
	if ((ret = ringd_submit_and_wait(rd, 2)) != 2)
		return fail("fsync", ret < 0 ? ret : -EIO);
	for (i = 0; i < 2; i++) {
		if ((ret = ringd_wait_cqe_timeout(rd, &cqe, 10000)) || cqe->res < 0)
			return fail("fsync/nop", ret ? ret : cqe->res);
		ringd_cqe_seen(rd, cqe);
	}

	if ((ret = ringd_stats(rd, &st)))
		return fail("stats", ret);
	printf("%s: %llu submitted, %llu completed, %llu errors, %llu bytes written, %llu read\n",
	       vol, (unsigned long long)st.submitted, (unsigned long long)st.completed,
	       (unsigned long long)st.errors, (unsigned long long)st.bytes_written,
	       (unsigned long long)st.bytes_read);
	for (i = 0; i < QD; i++)
		ringd_buf_free(rd, bufs[i]);
	if ((ret = ringd_close(rd, h)))
		return fail("close", ret);
	ringd_disconnect(rd);
	return 0;
}
