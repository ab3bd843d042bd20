#!/bin/sh
# Fetch the Debian source of the installed libsqlite3 into OUTDIR, for
# SQLite's own benchmark, test/speedtest1.c, built against the system
# library. Nothing here touches the system's apt state: the sources list,
# package lists and caches all live under OUTDIR (as client-lib/fio/
# fetch-fio-src.sh does for fio).
#
#   fetch-sqlite-src.sh OUTDIR     prints the path of speedtest1.c on success
#
# Environment: SQLITE_SRC_MIRROR (default http://deb.debian.org/debian),
# SQLITE_SRC_SECURITY_MIRROR (default http://deb.debian.org/debian-security:
# a +debNNuN version may only be there).
set -eu

out=$1
mirror=${SQLITE_SRC_MIRROR:-http://deb.debian.org/debian}
secmirror=${SQLITE_SRC_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
log="$out/fetch.log"

mkdir -p "$out"
: >"$log"
fail() {
	echo "fetch-sqlite-src: $*" >&2
	echo "fetch-sqlite-src: see $log" >&2
	exit 1
}

ver=$(dpkg-query -W -f='${Version}' libsqlite3-dev 2>/dev/null) ||
	fail "libsqlite3-dev is not installed as a Debian package here"
upstream=${ver%-*}
upstream=${upstream#*:}
dest="$out/sqlite3-$upstream"
src="$dest/speedtest1.c"
tree="$out/tree"

if [ -f "$src" ] && [ -f "$dest/.ringd-sqlite-version" ] &&
	[ "$(cat "$dest/.ringd-sqlite-version")" = "$ver" ]; then
	echo "$src"
	exit 0
fi

. /etc/os-release
suite=${VERSION_CODENAME:-bookworm}
apt="$out/apt"
rm -rf "$apt" "$tree" "$dest"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/src"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb-src [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
echo "deb-src [signed-by=$keyring] $mirror $suite-updates main" >>"$apt/sources.list"
echo "deb-src [signed-by=$keyring] $secmirror $suite-security main" >>"$apt/sources.list"

set -- -o Dir::Etc::SourceList="$apt/sources.list" \
	-o Dir::Etc::SourceParts=/nonexistent \
	-o Dir::State::Lists="$apt/lists" \
	-o Dir::Cache="$apt/cache" \
	-o APT::Sandbox::User="$(id -un)" \
	-o Debug::NoLocking=1 -qq

apt-get "$@" update >>"$log" 2>&1 || fail "apt-get update of the private deb-src list failed"
(cd "$apt/src" && apt-get "$@" source --download-only "sqlite3=$ver") >>"$log" 2>&1 ||
	fail "apt-get source --download-only sqlite3=$ver failed"

dsc=$(ls "$apt/src"/sqlite3_*.dsc 2>/dev/null | head -n 1)
[ -n "$dsc" ] || fail "no .dsc downloaded"
if command -v dpkg-source >/dev/null 2>&1; then
	dpkg-source --no-check -x "$dsc" "$tree" >>"$log" 2>&1 || fail "dpkg-source -x failed"
else
	orig=$(ls "$apt/src"/sqlite3_"$upstream".orig.tar.* | head -n 1)
	mkdir -p "$tree"
	tar -xf "$orig" -C "$tree" --strip-components=1 >>"$log" 2>&1 || fail "cannot unpack $orig"
fi
[ -f "$tree/test/speedtest1.c" ] || fail "the source has no test/speedtest1.c"
# Only speedtest1.c is built (the tree is 180M): keep it, drop the rest.
mkdir -p "$dest"
cp "$tree/test/speedtest1.c" "$src"
rm -rf "$tree" "$apt/src"
echo "$ver" >"$dest/.ringd-sqlite-version"
echo "$src"
