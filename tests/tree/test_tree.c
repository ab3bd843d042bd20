/* SPDX-License-Identifier: MIT */
/*
 * test-tree: what a newcomer meets before running anything. The docs and
 * the shipped config cite files that exist; `meson install` puts the config
 * where the daemon and the units read it and the units name man pages; the
 * bash completion of ringd-io is installed where bash-completion finds it,
 * and completes what `ringd-io -h` offers.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define COMPLETION_SRC SRCDIR "/client-lib/tools/ringd-io.bash-completion"
#define COMPLETE_SH    "bash --norc --noprofile " SRCDIR "/tests/tree/complete.sh"

static char g_out[65536];

/*
 * Run the shell command made from @fmt with its stdout into g_out
 * (NUL-terminated, truncated to its size; add 2>&1 for stderr). Returns
 * the exit status, or 128 + signal.
 */
__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	size_t n;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "popen %s", cmd);
	n = fread(g_out, 1, sizeof(g_out) - 1, p);
	g_out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char g_tmp[64];

static void tmp_setup(void)
{
	snprintf(g_tmp, sizeof(g_tmp), "/var/tmp/ringd-tree.XXXXXX");
	cr_assert_not_null(mkdtemp(g_tmp));
}

static void tmp_teardown(void)
{
	cr_assert_eq(sh("rm -rf '%s'", g_tmp), 0);
}

static void write_file(const char *dir, const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	cr_assert_not_null(f, "%s", path);
	fputs(body, f);
	cr_assert_eq(fclose(f), 0);
}

Test(docs, readme_and_config_cite_existing_files)
{
	int st = sh("%s/tests/tree/check-citations.sh %s 2>&1", SRCDIR, SRCDIR);

	cr_assert_eq(st, 0, "cited files that are not in the repository:\n%s", g_out);
}

/* The checker itself: a citation of a missing file fails the check. */
Test(docs, citation_check_names_missing_files, .init = tmp_setup, .fini = tmp_teardown)
{
	int st;

	cr_assert_eq(sh("mkdir -p %s/daemon %s/tests %s/config && touch %s/daemon/real.c "
			"%s/tests/run.sh",
			g_tmp, g_tmp, g_tmp, g_tmp, g_tmp),
		     0);
	write_file(g_tmp, "README.md",
		   "# x\nSee `HOSTILE.md` and daemon/gone.c, `tests/run.sh`, `real.c`,\n"
		   "`/etc/ringd/ringd.conf`, read/write, `build/daemon/ringd`, test/typo.sh.\n");
	write_file(g_tmp, "config/ringd.conf", "# see README-performance.md.\n");
	st = sh("%s/tests/tree/check-citations.sh %s 2>&1", SRCDIR, g_tmp);
	cr_assert_eq(st, 1, "exit %d:\n%s", st, g_out);
	cr_assert(strstr(g_out, "README.md:2: HOSTILE.md does not exist"), "%s", g_out);
	cr_assert(strstr(g_out, "README.md:2: daemon/gone.c does not exist"), "%s", g_out);
	cr_assert(strstr(g_out, "README.md:3: test/typo.sh does not exist"), "%s", g_out);
	cr_assert(strstr(g_out, "config/ringd.conf:1: README-performance.md does not exist"), "%s",
		  g_out);
	/* Existing files, system paths, prose and build outputs pass. */
	cr_assert_null(strstr(g_out, "tests/run.sh"), "%s", g_out);
	cr_assert_null(strstr(g_out, "real.c"), "%s", g_out);
	cr_assert_null(strstr(g_out, "/etc/"), "%s", g_out);
	cr_assert_null(strstr(g_out, "read/write"), "%s", g_out);
	cr_assert_null(strstr(g_out, "build/"), "%s", g_out);
}

/* meson install into @destdir (the build is complete: make test built it). */
static void install_into(const char *destdir)
{
	/* One install at a time per build directory (tests run in parallel). */
	int st =
	    sh("flock %s/meson-private %s install -C %s --no-rebuild --quiet --destdir %s 2>&1",
	       BUILD_ROOT, MESON_BIN, BUILD_ROOT, destdir);

	cr_assert_eq(st, 0, "meson install: exit %d:\n%s", st, g_out);
}

/* Contents of the installed file @rel under g_tmp, or NULL. */
static char *installed(const char *rel)
{
	char *path, *buf;
	FILE *f;
	long n;

	cr_assert_gt(asprintf(&path, "%s%s", g_tmp, rel), 0);
	f = fopen(path, "re");
	free(path);
	if (!f)
		return NULL;
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/*
 * The daemon's default config (`ringd --help`), the file `meson install`
 * writes and the file both units run the daemon on are one path.
 */
Test(install, config_is_where_daemon_and_units_read_it, .init = tmp_setup, .fini = tmp_teardown)
{
	char conf[256], want[512], *def, *end, *unit;

	cr_assert_eq(sh("%s --help", RINGD_BIN), 0, "%s", g_out);
	def = strstr(g_out, "(default ");
	cr_assert_not_null(def, "ringd --help names no default config:\n%s", g_out);
	def += strlen("(default ");
	end = strchr(def, ')');
	cr_assert_not_null(end);
	*end = '\0';
	snprintf(conf, sizeof(conf), "%s", def);

	install_into(g_tmp);
	cr_assert_eq(sh("cmp %s/config/ringd.conf %s%s 2>&1", SRCDIR, g_tmp, conf), 0,
		     "meson install did not put config/ringd.conf at the daemon's default %s: "
		     "%s",
		     conf, g_out);

	cr_assert_eq(sh("cd %s && find . -name ringd.service | sed 's|^\\.||'", g_tmp), 0);
	cr_assert_neq(g_out[0], '\0', "no ringd.service installed");
	*strchrnul(g_out, '\n') = '\0';
	unit = installed(g_out);
	cr_assert_not_null(unit, "%s", g_out);
	snprintf(want, sizeof(want), "/ringd --check-config %s\n", conf);
	cr_assert(strstr(unit, want), "ExecStartPre= does not check %s:\n%s", conf, unit);
	snprintf(want, sizeof(want), "/ringd -c %s\n", conf);
	cr_assert(strstr(unit, want), "ExecStart= does not run on %s:\n%s", conf, unit);
	free(unit);
}

/* Documentation= in both installed units: the man pages, no placeholder. */
Test(install, units_document_the_man_pages, .init = tmp_setup, .fini = tmp_teardown)
{
	const char *units[] = { "ringd.service", "ringd.socket" };
	unsigned int i;

	install_into(g_tmp);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(sh("cd %s && find . -name %s | sed 's|^\\.||'", g_tmp, units[i]), 0);
		cr_assert_neq(g_out[0], '\0', "%s not installed", units[i]);
		*strchrnul(g_out, '\n') = '\0';
		cr_assert_eq(sh("grep '^Documentation=' %s%s", g_tmp, g_out), 0,
			     "%s has no Documentation=", units[i]);
		cr_assert_str_eq(g_out, "Documentation=man:ringd(8) man:ringd.conf(5)\n", "%s: %s",
				 units[i], g_out);
	}
}

/* Installed under the name bash-completion loads on demand (the command's). */
Test(install, ringd_io_completion_is_where_bash_completion_looks, .init = tmp_setup,
     .fini = tmp_teardown)
{
	int st;

	install_into(g_tmp);
	st = sh("cmp %s %s%s/ringd-io 2>&1", COMPLETION_SRC, g_tmp, BASH_COMPLETION_DIR);
	cr_assert_eq(st, 0, "no ringd-io completion in %s: %s", BASH_COMPLETION_DIR, g_out);
	st = sh("bash --norc --noprofile -c '. %s%s/ringd-io && complete -p ringd-io' 2>&1", g_tmp,
		BASH_COMPLETION_DIR);
	cr_assert_eq(st, 0, "%s", g_out);
	cr_assert_str_eq(g_out, "complete -F _ringd_io ringd-io\n");
}

/* COMPREPLY for the command line @words (the last one is completed). */
static const char *complete(const char *words)
{
	int st = sh("%s %s ringd-io %s 2>&1", COMPLETE_SH, COMPLETION_SRC, words);

	cr_assert_eq(st, 0, "complete.sh: exit %d: %s", st, g_out);
	return g_out;
}

Test(completion, ringd_io_completes_a_partial_command)
{
	cr_assert_str_eq(complete("re"), "read\n");
	cr_assert_str_eq(complete("st"), "stats\n");
	cr_assert_str_eq(complete("i"), "info\n");
	cr_assert_str_eq(complete("-s /run/ringd/ringd.sock w"), "write\n");
	cr_assert_str_eq(complete("-"), "-s\n-h\n-V\n--help\n--version\n");
	/* VOLUME and the numbers are not completed (no file names either). */
	cr_assert_str_eq(complete("read d"), "");
	cr_assert_str_eq(complete("write demo ''"), "");
}

/* Every command of `ringd-io -h`, and nothing else, for an empty word. */
Test(completion, ringd_io_offers_the_commands_of_its_usage)
{
	char *want;

	cr_assert_eq(sh("%s -h | sed -nE 's/.*ringd-io \\[-s SOCKET\\] ([a-z]+).*/\\1/p' | sort",
			RINGD_IO_BIN),
		     0);
	cr_assert_neq(g_out[0], '\0', "no commands in ringd-io -h");
	want = strdup(g_out);
	cr_assert_not_null(want);
	cr_assert_eq(sh("%s %s ringd-io '' | sort", COMPLETE_SH, COMPLETION_SRC), 0);
	cr_assert_str_eq(g_out, want);
	free(want);
}

Test(completion, ringd_io_completes_the_socket_path, .init = tmp_setup, .fini = tmp_teardown)
{
	char words[256], want[256];

	write_file(g_tmp, "ringd.sock", "");
	snprintf(words, sizeof(words), "-s %s/ringd.s", g_tmp);
	snprintf(want, sizeof(want), "%s/ringd.sock\n", g_tmp);
	cr_assert_str_eq(complete(words), want);
}

/* Manual pages as meson configured them (build/man), and their sources. */
static const char *const man_pages[] = {
	"ringd.8",    "ringd.conf.5",  "ringctl.8",  "ringd-probe.8",
	"ringd-io.1", "ringd-bench.1", "libringd.3", "ringd-sqlite.3",
};

/* mandoc -T lint and man-db's groff warnings: nothing to say on any page. */
Test(man, pages_render_without_warnings)
{
	unsigned int i;
	int st;

	if (sh("command -v mandoc") != 0)
		cr_skip_test("mandoc is not installed (apt-get install mandoc; make deps does)");
	for (i = 0; i < sizeof(man_pages) / sizeof(man_pages[0]); i++) {
		st = sh("mandoc -T lint -W all %s/%s 2>&1", MAN_DIR, man_pages[i]);
		cr_expect_eq(st, 0, "mandoc -T lint %s: exit %d:\n%s", man_pages[i], st, g_out);
		cr_expect_str_eq(g_out, "", "mandoc -T lint %s:\n%s", man_pages[i], g_out);
		st = sh("MANWIDTH=80 man --warnings -l %s/%s 2>&1 >/dev/null", MAN_DIR,
			man_pages[i]);
		cr_expect_eq(st, 0, "man -l %s: exit %d:\n%s", man_pages[i], st, g_out);
		cr_expect_str_eq(g_out, "", "man --warnings -l %s:\n%s", man_pages[i], g_out);
	}
}

/* The checks catch a bad page (a misspelt macro, a bad font escape). */
Test(man, a_broken_page_fails_the_checks, .init = tmp_setup, .fini = tmp_teardown)
{
	if (sh("command -v mandoc") != 0)
		cr_skip_test("mandoc is not installed (apt-get install mandoc; make deps does)");
	write_file(g_tmp, "bad.1",
		   ".TH BAD 1 2026-12-02 x x\n.SH NAME\nbad \\- bad\n.SH DESCRIPTION\n"
		   ".BOGUS macro\n\\fQfont\\fR\n");
	sh("mandoc -T lint -W all %s/bad.1 2>&1", g_tmp);
	cr_assert_neq(g_out[0], '\0', "mandoc found nothing wrong");
	sh("man --warnings -l %s/bad.1 2>&1 >/dev/null", g_tmp);
	cr_assert_neq(g_out[0], '\0', "man --warnings found nothing wrong");
}

/* The pages carry the project version, not the placeholder. */
Test(man, pages_carry_the_version)
{
	unsigned int i;

	for (i = 0; i < sizeof(man_pages) / sizeof(man_pages[0]); i++) {
		cr_assert_eq(sh("sed -n 's/^\\.TH .*\"ringd \\([^\"]*\\)\".*/\\1/p' %s/%s", MAN_DIR,
				man_pages[i]),
			     0);
		cr_expect_str_eq(g_out, PROJECT_VERSION "\n", "%s: %s", man_pages[i], g_out);
	}
}

/*
 * Every function a program can call, taken from libringd.so's exports
 * (not from the script that makes the link pages) and the header's
 * inline functions: each has a link page to libringd(3), and libringd(3)
 * documents it. protobuf-c's generated ringd__* functions (the control
 * protocol) must not be exported at all.
 */
Test(man, every_public_function_has_its_page)
{
	char names[sizeof(g_out)], *save = NULL, *fn;
	unsigned int n = 0;

	cr_assert_eq(sh("nm -D --defined-only %s | grep -c ' ringd__'", LIBRINGD_SO), 1,
		     "libringd exports protobuf-c's functions:\n%s", g_out);
	cr_assert_eq(sh("{ nm -D --defined-only %s | awk '$2 == \"T\" { sub(\"@.*\", \"\", $3); "
			"print $3 }'; "
			"sed -nE 's/^static inline [^(]*[ *](ringd_[a-z0-9_]+)\\(.*/\\1/p' %s; } "
			"| sort -u",
			LIBRINGD_SO, RINGD_H),
		     0, "%s", g_out);
	snprintf(names, sizeof(names), "%s", g_out);
	for (fn = strtok_r(names, "\n", &save); fn; fn = strtok_r(NULL, "\n", &save), n++) {
		cr_expect_eq(strncmp(fn, "ringd_", 6), 0, "libringd exports %s", fn);
		cr_expect_eq(sh("cat %s/%s.3 2>&1", MAN_DIR, fn), 0, "no page %s(3)", fn);
		cr_expect_str_eq(g_out, ".so man3/libringd.3\n", "%s.3: %s", fn, g_out);
		cr_expect_eq(
		    sh("grep -c -e '\\b%s(' -e '^\\.BR %s ()' %s/man/libringd.3", fn, fn, SRCDIR),
		    0, "libringd(3) does not document %s", fn);
	}
	cr_assert_geq(n, 20, "only %u functions found:\n%s", n, names);
}

/* Installed under g_tmp, `man ringd_open` shows libringd(3) through its
 * link page. */
static void check_link_page_resolves(void)
{
	char mandir[sizeof(g_tmp) + sizeof(g_out)];

	cr_assert_eq(sh("cd %s && find . -path '*/man/man3/libringd.3' | sed 's|^\\.||; "
			"s|/man3/libringd.3$||'",
			g_tmp),
		     0);
	*strchrnul(g_out, '\n') = '\0';
	snprintf(mandir, sizeof(mandir), "%s%s", g_tmp, g_out);
	cr_assert_eq(sh("MANWIDTH=80 man --warnings -M %s ringd_open 2>&1 | "
			"grep -c 'libringd - io_uring-style rings'",
			mandir),
		     0, "man -M %s ringd_open does not show libringd(3):\n%s", mandir, g_out);
}

/* meson install puts each page, and each link page, in its mandir section. */
Test(install, man_pages_are_installed, .init = tmp_setup, .fini = tmp_teardown)
{
	unsigned int i;

	install_into(g_tmp);
	for (i = 0; i < sizeof(man_pages) / sizeof(man_pages[0]); i++) {
		const char *sect = strrchr(man_pages[i], '.') + 1;

		cr_expect_eq(sh("cd %s && find . -path '*/man/man%s/%s' | grep -c .", g_tmp, sect,
				man_pages[i]),
			     0, "%s not installed under man/man%s", man_pages[i], sect);
	}
	cr_assert_eq(sh("cd %s && find . -path '*/man/man3/ringd_connect.3' | grep -c .", g_tmp), 0,
		     "no link page ringd_connect(3) installed");
	check_link_page_resolves();
}

/* --help and --version: exit 0, on stdout, nothing on stderr. */
static void check_help_version(const char *bin, const char *name)
{
	char want[128];
	int st;

	st = sh("%s --help 2>/dev/null", bin);
	cr_expect_eq(st, 0, "%s --help: exit %d", name, st);
	cr_expect(strstr(g_out, "usage: ") || strstr(g_out, "Usage: "), "%s --help: %s", name,
		  g_out);
	st = sh("%s --help 2>&1 >/dev/null", bin);
	cr_expect_str_eq(g_out, "", "%s --help wrote on stderr: %s", name, g_out);
	st = sh("%s --version 2>/dev/null", bin);
	cr_expect_eq(st, 0, "%s --version: exit %d", name, st);
	snprintf(want, sizeof(want), "%s %s", name, PROJECT_VERSION);
	cr_expect_eq(strncmp(g_out, want, strlen(want)), 0, "%s --version: '%s', want '%s'", name,
		     g_out, want);
	st = sh("%s -V 2>&1", bin);
	cr_expect_eq(st, 0, "%s -V: exit %d", name, st);
	cr_expect_eq(strncmp(g_out, want, strlen(want)), 0, "%s -V: '%s'", name, g_out);
	st = sh("%s --no-such-option 2>&1 >/dev/null", bin);
	cr_expect_eq(st, 2, "%s with a bad option: exit %d", name, st);
}

Test(cli, every_tool_has_help_and_version)
{
	check_help_version(RINGD_BIN, "ringd");
	check_help_version(RINGD_IO_BIN, "ringd-io");
	check_help_version(RINGD_BENCH_BIN, "ringd-bench");
	check_help_version(RINGD_PROBE_BIN, "ringd-probe");
	check_help_version(RINGCTL_BIN, "ringctl");
}

/*
 * ringd.conf(5) documents every key of the README's config reference (the
 * source of truth), each as a .BI/.BR tag of its own.
 */
Test(man, ringd_conf_documents_every_key_of_the_readme)
{
	char keys[sizeof(g_out)], *save = NULL, *key;
	unsigned int n = 0;

	cr_assert_eq(sh("sed -n '/^## Config reference/,/^## /p' %s/README.md "
			"| sed -n '/^```ini/,/^```$/p' "
			"| sed -nE 's/^;? ?([a-z_]+) = .*/\\1/p' | sort -u",
			SRCDIR),
		     0);
	snprintf(keys, sizeof(keys), "%s", g_out);
	for (key = strtok_r(keys, "\n", &save); key; key = strtok_r(NULL, "\n", &save), n++)
		cr_expect_eq(sh("grep -cE '^\\.B[IR]? %s( |$)' %s/man/ringd.conf.5", key, SRCDIR),
			     0, "ringd.conf(5) does not document %s", key);
	cr_assert_geq(n, 30, "only %u keys in the README's reference:\n%s", n, keys);
}
