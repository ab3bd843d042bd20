/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness (a): control messages. The input is a sequence of
 * packets (2-byte little-endian length, then the bytes). Each is sent on a
 * socketpair to a session of a real in-process server and goes through
 * the daemon's own path: ctl_recv() (size cap, fd check, unpack) and
 * cp_request() (Hello/attach, Open, Close, Stats). The session ends the
 * way the event loop ends it, and must then be freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"

#define FZ_MAX_PKT 8192u

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_srv();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv *s = fz_srv();
	struct sess *se;
	size_t pos = 0;
	int peer, ret;

	if (fz_sess_new(s, &se, &peer))
		abort();
	while (pos + 2 <= size && se->state != SESS_CLOSING) {
		size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		Ringd__Request *rq;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		if (len > FZ_MAX_PKT)
			len = FZ_MAX_PKT;
		if (send(peer, data + pos, len, MSG_DONTWAIT) < 0)
			break;
		pos += len;
		ret = ctl_recv(se->sock, &rq);
		if (ret) {
			/* What cp_readable() does with a bad packet. */
			ctl_send_error(se->sock, ret < 0 ? -ret : ret, "malformed");
			break;
		}
		ret = cp_request(&s->cp, se, rq);
		ringd__request__free_unpacked(rq, NULL);
		fz_drain(peer);
		if (ret)
			break;
		fz_reap(s, 0);
	}
	fz_drain(peer);
	fz_sess_end(s, se);
	close(peer);
	return 0;
}
