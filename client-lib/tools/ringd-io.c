/* SPDX-License-Identifier: MIT */
/*
 * ringd-io: move bytes between stdin/stdout and a ringd volume.
 *
 *   ringd-io [-s SOCKET] info VOLUME
 *   ringd-io [-s SOCKET] read VOLUME OFFSET LEN > out
 *   ringd-io [-s SOCKET] write [--dsync] VOLUME OFFSET < in
 *   ringd-io [-s SOCKET] discard VOLUME OFFSET LEN
 *   ringd-io [-s SOCKET] zero VOLUME OFFSET LEN
 *   ringd-io [-s SOCKET] stats
 *   ringd-io [-s SOCKET] volumes
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringd.h"
#include "tool-args.h"

#define CHUNK (256u << 10)

static void usage(FILE *f)
{
	fputs("usage: ringd-io [-s SOCKET] info VOLUME\n"
	      "       ringd-io [-s SOCKET] read VOLUME OFFSET LEN > out\n"
	      "       ringd-io [-s SOCKET] write [--dsync] VOLUME OFFSET < in\n"
	      "       ringd-io [-s SOCKET] discard VOLUME OFFSET LEN\n"
	      "       ringd-io [-s SOCKET] zero VOLUME OFFSET LEN\n"
	      "       ringd-io [-s SOCKET] stats\n"
	      "       ringd-io [-s SOCKET] volumes\n"
	      "       ringd-io -h | --help | -V | --version\n"
	      "SOCKET defaults to $RINGD_SOCKET, then /run/ringd/ringd.sock.\n"
	      "OFFSET and LEN take K, M, G suffixes (powers of 1024).\n"
	      "--dsync: each write completes only once its data is durable (RINGD_RW_DSYNC);\n"
	      "  without it, one fdatasync follows the last write.\n"
	      "discard: the range's contents become undefined (zeros on a file volume);\n"
	      "zero: the range reads as zeros. Both take a 64-bit LEN.\n",
	      f);
}

static int die(const char *what, int err)
{
	char msg[1024];

	fprintf(stderr, "ringd-io: %s\n", tool_error(msg, sizeof(msg), what, err, NULL));
	return 1;
}

/*
 * A request for [@off, @off + @len) of @vol is refused (-EINVAL) when it
 * leaves the volume: say so with the volume's size before asking. Returns
 * 0 if it fits, else 1 after the message.
 */
static int check_range(const char *op, const char *vol, const struct ringd_volume_info *info,
		       uint64_t off, uint64_t len)
{
	uint64_t end;

	if (!__builtin_add_overflow(off, len, &end) && end <= info->size)
		return 0;
	fprintf(stderr,
		"ringd-io: %s: [%llu, +%llu) is beyond the end of %s, which is %llu bytes\n", op,
		(unsigned long long)off, (unsigned long long)len, vol,
		(unsigned long long)info->size);
	return 1;
}

/* Run one prepared SQE to completion. Returns its CQE's res or -errno. */
/* Run one I/O to completion; @rw_flags (RINGD_RW_DSYNC) on a write.
 * Returns bytes or -errno. */
static int do_io(struct ringd *rd, int write, int h, void *buf, unsigned int len, uint64_t off,
		 unsigned int rw_flags)
{
	struct ringd_sqe *sqe = ringd_get_sqe(rd);

	if (!sqe)
		return -EBUSY;
	if (write) {
		ringd_prep_write(sqe, h, buf, len, off);
		ringd_sqe_set_rw_flags(sqe, rw_flags);
	} else {
		ringd_prep_read(sqe, h, buf, len, off);
	}
	return tool_run1(rd);
}

static int cmd_info(struct ringd *rd, const char *vol)
{
	struct ringd_volume_info info;
	int h = ringd_open(rd, vol, RINGD_RDONLY, &info);

	if (h < 0)
		return die(vol, h);
	printf("volume:     %s\n", vol);
	printf("size:       %llu\n", (unsigned long long)info.size);
	printf("block_size: %u\n", info.block_size);
	printf("align:      %u\n", info.align);
	printf("direct:     %s\n", info.flags & RINGD_VOL_DIRECT ? "yes" : "no");
	printf("readonly:   %s\n", info.flags & RINGD_VOL_READONLY ? "yes" : "no");
	printf("blockdev:   %s\n", info.flags & RINGD_VOL_BLOCKDEV ? "yes" : "no");
	return 0;
}

static int cmd_read(struct ringd *rd, const char *vol, uint64_t off, uint64_t len)
{
	struct ringd_volume_info info;
	int h = ringd_open(rd, vol, RINGD_RDONLY, &info);
	uint8_t *buf;

	if (h < 0)
		return die(vol, h);
	if (off % info.align || len % info.align) {
		fprintf(stderr,
			"ringd-io: %s is a direct volume: OFFSET and LEN must be multiples of %u\n",
			vol, info.align);
		return 1;
	}
	if (check_range("read", vol, &info, off, len))
		return 1;
	buf = ringd_buf_alloc(rd, CHUNK, info.align > 4096 ? info.align : 4096);
	if (!buf)
		return die("buffer", -ENOMEM);
	while (len) {
		unsigned int n = len > CHUNK ? CHUNK : (unsigned int)len;
		int ret = do_io(rd, 0, h, buf, n, off, 0);

		if (ret < 0)
			return die("read", ret);
		if (ret == 0) {
			fprintf(stderr, "ringd-io: read: end of volume at %llu\n",
				(unsigned long long)off);
			return 1;
		}
		if (fwrite(buf, 1, (size_t)ret, stdout) != (size_t)ret)
			return die("stdout", -EIO);
		off += (uint64_t)ret;
		len -= (uint64_t)ret;
	}
	return fflush(stdout) ? die("stdout", -EIO) : 0;
}

static int cmd_write(struct ringd *rd, const char *vol, uint64_t off, bool dsync)
{
	struct ringd_volume_info info;
	int h = ringd_open(rd, vol, RINGD_RDWR, &info);
	uint64_t total = 0;
	uint8_t *buf;

	if (h < 0)
		return die(vol, h);
	if (off % info.align) {
		fprintf(stderr,
			"ringd-io: %s is a direct volume: OFFSET must be a multiple of %u\n", vol,
			info.align);
		return 1;
	}
	buf = ringd_buf_alloc(rd, CHUNK, info.align > 4096 ? info.align : 4096);
	if (!buf)
		return die("buffer", -ENOMEM);
	for (;;) {
		size_t n = fread(buf, 1, CHUNK, stdin);
		unsigned int done = 0;

		if (!n)
			break;
		if (check_range("write", vol, &info, off, n)) {
			fprintf(stderr, "ringd-io: %llu bytes written before\n",
				(unsigned long long)total);
			return 1;
		}
		if (n % info.align) {
			fprintf(stderr,
				"ringd-io: %s is a direct volume: input length must be a multiple "
				"of %u (%llu bytes written so far)\n",
				vol, info.align, (unsigned long long)total);
			return 1;
		}
		while (done < n) {
			int ret = do_io(rd, 1, h, buf + done, (unsigned int)(n - done), off,
					dsync ? RINGD_RW_DSYNC : 0);

			if (ret < 0)
				return die("write", ret);
			done += (unsigned int)ret;
			off += (uint64_t)ret;
			total += (uint64_t)ret;
		}
	}
	if (ferror(stdin))
		return die("stdin", -EIO);
	/* Every write was durable when it completed: no fdatasync to add. */
	if (!dsync) {
		struct ringd_sqe *sqe = ringd_get_sqe(rd);
		int ret;

		if (!sqe)
			return die("fsync", -EBUSY);
		ringd_prep_fsync(sqe, h, RINGD_FSYNC_DATASYNC);
		ret = tool_run1(rd);
		if (ret < 0)
			return die("fsync", ret);
	}
	fprintf(stderr, "ringd-io: wrote %llu bytes to %s%s\n", (unsigned long long)total, vol,
		dsync ? " (each write durable)" : "");
	return 0;
}

/*
 * discard (@zero false) or write-zeroes [@off, @off + @len) of @vol. The
 * daemon splits a long range as the device needs, so one request covers
 * it. Returns the exit status.
 */
static int cmd_trim(struct ringd *rd, const char *vol, uint64_t off, uint64_t len, bool zero)
{
	const char *op = zero ? "zero" : "discard";
	struct ringd_volume_info info;
	int h = ringd_open(rd, vol, RINGD_RDWR, &info);
	struct ringd_sqe *sqe;
	int ret;

	if (h < 0)
		return die(vol, h);
	if (off % info.align || len % info.align) {
		fprintf(stderr,
			"ringd-io: %s is a direct volume: OFFSET and LEN must be multiples of %u\n",
			vol, info.align);
		return 1;
	}
	if (check_range(op, vol, &info, off, len))
		return 1;
	if (!len)
		return 0;
	sqe = ringd_get_sqe(rd);
	if (!sqe)
		return die(op, -EBUSY);
	if (zero)
		ringd_prep_write_zeroes(sqe, h, off, len);
	else
		ringd_prep_discard(sqe, h, off, len);
	ret = tool_run1(rd);
	if (ret < 0)
		return die(op, ret);
	fprintf(stderr, "ringd-io: %s %llu bytes at %llu of %s\n", zero ? "zeroed" : "discarded",
		(unsigned long long)len, (unsigned long long)off, vol);
	return 0;
}

static int cmd_stats(struct ringd *rd)
{
	struct ringd_stats st;
	int ret = ringd_stats(rd, &st);

	if (ret)
		return die("stats", ret);
	printf("session: submitted %llu completed %llu errors %llu rejected %llu read %llu "
	       "written %llu\n",
	       (unsigned long long)st.submitted, (unsigned long long)st.completed,
	       (unsigned long long)st.errors, (unsigned long long)st.rejected,
	       (unsigned long long)st.bytes_read, (unsigned long long)st.bytes_written);
	/* The tenant's totals: every session of it since the daemon started. */
	ret = ringd_tenant_stats(rd, &st);
	if (ret == -ENODATA) {
		printf("tenant: no figures (the daemon runs with figures = off)\n");
		return 0;
	}
	if (ret)
		return die("tenant stats", ret);
	printf("tenant: submitted %llu completed %llu errors %llu rejected %llu read %llu "
	       "written %llu inflight %u\n",
	       (unsigned long long)st.submitted, (unsigned long long)st.completed,
	       (unsigned long long)st.errors, (unsigned long long)st.rejected,
	       (unsigned long long)st.bytes_read, (unsigned long long)st.bytes_written,
	       st.inflight);
	return 0;
}

/* The volumes this tenant may open, one per line. */
static int cmd_volumes(struct ringd *rd)
{
	char **names;
	size_t n, i;
	int ret = ringd_list_volumes(rd, &names, &n);

	if (ret)
		return die("volumes", ret);
	for (i = 0; i < n; i++)
		printf("%s\n", names[i]);
	ringd_free_list(names, n);
	return 0;
}

int main(int argc, char **argv)
{
	struct ringd_opts opts = { 0 };
	struct ringd *rd;
	uint64_t off, len;
	const char *cmd;
	bool dsync = false;
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	/* "+": stop at the command, so that its arguments are never options. */
	while ((c = getopt_long(argc, argv, "+s:hV", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			opts.socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ringd-io %s (libringd %s)\n", RINGD_PROJECT_VERSION,
			       ringd_version());
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
	argc -= optind;
	argv += optind;
	/* write's one option comes right after the command word. */
	if (!strcmp(cmd, "write") && argc && !strcmp(argv[0], "--dsync")) {
		dsync = true;
		argc--;
		argv++;
	}
	if (!((!strcmp(cmd, "info") && argc == 1) || (!strcmp(cmd, "read") && argc == 3) ||
	      (!strcmp(cmd, "write") && argc == 2) || (!strcmp(cmd, "discard") && argc == 3) ||
	      (!strcmp(cmd, "zero") && argc == 3) || (!strcmp(cmd, "stats") && argc == 0) ||
	      (!strcmp(cmd, "volumes") && argc == 0))) {
		usage(stderr);
		return 2;
	}

	if ((argc >= 2 && tool_parse_size(argv[1], &off)) ||
	    (argc == 3 && tool_parse_size(argv[2], &len))) {
		fprintf(stderr,
			"ringd-io: OFFSET and LEN must be numbers (K/M/G suffixes allowed)\n");
		return 2;
	}
	ret = ringd_connect(&opts, &rd);
	if (ret) {
		char what[PATH_MAX + 16], msg[PATH_MAX + 1024];
		const char *sock = tool_socket(opts.socket_path);

		snprintf(what, sizeof(what), "connect to %s", sock);
		fprintf(stderr, "ringd-io: %s\n", tool_error(msg, sizeof(msg), what, ret, sock));
		return 1;
	}
	if (!strcmp(cmd, "info"))
		ret = cmd_info(rd, argv[0]);
	else if (!strcmp(cmd, "read"))
		ret = cmd_read(rd, argv[0], off, len);
	else if (!strcmp(cmd, "write"))
		ret = cmd_write(rd, argv[0], off, dsync);
	else if (!strcmp(cmd, "discard") || !strcmp(cmd, "zero"))
		ret = cmd_trim(rd, argv[0], off, len, !strcmp(cmd, "zero"));
	else if (!strcmp(cmd, "volumes"))
		ret = cmd_volumes(rd);
	else
		ret = cmd_stats(rd);
	ringd_disconnect(rd);
	return ret;
}
