/* SPDX-License-Identifier: MIT */
/*
 * speedtest1.c registers its optional static VFS first thing in main()
 * when built with SQLITE_CKSUMVFS_STATIC; meson points that hook here
 * (-Dsqlite3_register_cksumvfs=ringd_speedtest1_register), so that
 * --vfs ringd finds the ringd VFS without changing SQLite's source.
 */
#include "ringd-sqlite.h"

int ringd_speedtest1_register(const char *unused);

int ringd_speedtest1_register(const char *unused)
{
	(void)unused;
	return ringd_sqlite_register(0);
}
