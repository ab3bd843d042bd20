/* SPDX-License-Identifier: MIT */
/* ringd: the daemon's command line. */
#include <getopt.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "loop.h"

#define RINGD_DEFAULT_CONFIG "/etc/ringd/ringd.conf"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ringd [-c FILE] [--log-level LEVEL]\n"
	    "       ringd --check-config FILE\n"
	    "\n"
	    "  -c, --config FILE       run in the foreground on FILE (default %s)\n"
	    "      --check-config FILE check FILE and what it names (backing files, state_dir);\n"
	    "                          every error and warning, exit 1 on an error\n"
	    "      --log-level LEVEL   error, warn, info or debug (overrides the file)\n"
	    "  -h, --help              this text\n"
	    "  -V, --version           print the version and exit\n",
	    RINGD_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = RINGD_DEFAULT_CONFIG, *level = NULL;
	enum log_level lvl;
	bool check = false;
	static char err[65536];
	struct cfg cfg;
	struct srv srv;
	int c, ret;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			path = optarg;
			check = true;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ringd %s\n", RINGD_PROJECT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (level && log_level_parse(level, &lvl)) {
		fprintf(stderr, "ringd: --log-level %s: expected error, warn, info or debug\n",
			level);
		return 2;
	}
	if (check)
		return chk_config(path, stdout, stderr) ? 1 : 0;
	ret = cfg_load(path, &cfg, err, sizeof(err));
	if (ret) {
		const char *line;

		/* Every error, one a line. */
		for (line = err; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
			fprintf(stderr, "ringd: config error: %.*s\n", (int)strcspn(line, "\n"),
				line);
		return 1;
	}
	if (level)
		cfg.log_level = lvl;
	/* Sessions and open files are fds: take the whole hard limit. */
	{
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	/* A stalled reader of the log never stalls the daemon (H47). */
	ret = log_async_start();
	if (ret)
		log_warn("log writer thread: %s: lines are written by the loop", strerror(-ret));
	ret = srv_init(&srv, &cfg);
	if (!ret)
		ret = srv_run(&srv);
	srv_fini(&srv);
	log_async_flush(2000);
	return ret ? 1 : 0;
}
