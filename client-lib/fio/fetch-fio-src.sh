#!/bin/sh
# Fetch the Debian source of the installed fio into OUTDIR and configure it,
# so that libringd-fio.so is built against exactly the headers of the fio
# binary that will load it. Nothing here touches the system's apt state:
# the sources list, package lists and caches all live under OUTDIR.
#
#   fetch-fio-src.sh OUTDIR     prints the configured source tree on success
#
# Environment: FIO_SRC_MIRROR (default http://deb.debian.org/debian).
set -eu

out=$1
mirror=${FIO_SRC_MIRROR:-http://deb.debian.org/debian}
log="$out/fetch.log"

mkdir -p "$out"
: >"$log"
fail() {
	echo "fetch-fio-src: $*" >&2
	echo "fetch-fio-src: see $log" >&2
	exit 1
}

command -v fio >/dev/null 2>&1 || fail "no fio binary installed"
ver=$(dpkg-query -W -f='${Version}' fio 2>/dev/null) || fail "fio is not a Debian package here"
upstream=${ver%-*}
upstream=${upstream#*:}
tree="$out/fio-$upstream"

if [ -f "$tree/config-host.h" ] && [ -f "$tree/.ringd-fio-version" ] &&
	[ "$(cat "$tree/.ringd-fio-version")" = "$ver" ]; then
	echo "$tree"
	exit 0
fi

. /etc/os-release
suite=${VERSION_CODENAME:-bookworm}
apt="$out/apt"
rm -rf "$apt" "$tree"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/src"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb-src [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
echo "deb-src [signed-by=$keyring] $mirror $suite-updates main" >>"$apt/sources.list"

set -- -o Dir::Etc::SourceList="$apt/sources.list" \
	-o Dir::Etc::SourceParts=/nonexistent \
	-o Dir::State::Lists="$apt/lists" \
	-o Dir::Cache="$apt/cache" \
	-o APT::Sandbox::User="$(id -un)" \
	-o Debug::NoLocking=1 -qq

apt-get "$@" update >>"$log" 2>&1 || fail "apt-get update of the private deb-src list failed"
(cd "$apt/src" && apt-get "$@" source --download-only "fio=$ver") >>"$log" 2>&1 ||
	fail "apt-get source --download-only fio=$ver failed"

dsc=$(ls "$apt/src"/fio_*.dsc 2>/dev/null | head -n 1)
[ -n "$dsc" ] || fail "no .dsc downloaded"
if command -v dpkg-source >/dev/null 2>&1; then
	dpkg-source --no-check -x "$dsc" "$tree" >>"$log" 2>&1 || fail "dpkg-source -x failed"
else
	orig=$(ls "$apt/src"/fio_"$upstream".orig.tar.* | head -n 1)
	mkdir -p "$tree"
	tar -xf "$orig" -C "$tree" --strip-components=1 >>"$log" 2>&1 || fail "cannot unpack $orig"
fi
# config-host.h decides struct layouts: generate it on this machine, as
# Debian's build did, rather than guessing the defines.
(cd "$tree" && ./configure --disable-native) >>"$log" 2>&1 || fail "fio ./configure failed"
echo "$ver" >"$tree/.ringd-fio-version"
echo "$tree"
