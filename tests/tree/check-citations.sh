#!/usr/bin/env bash
# check-citations.sh [SRCDIR] - every file of the repository that the docs
# and the shipped config cite must exist.
#
# Reads the Markdown files at the top level and in the doc folders
# (README.md, tests/hostile/HOSTILE.md, ...), config/**/*.conf and the
# systemd/ files, and checks each word that names a repository path:
#   - a relative path with a slash whose first part is a top-level entry of
#     the tree (tests/systemd, daemon/sysd.c, client-lib/fio/), or whose
#     last part has a source or doc extension (so a misspelt folder is
#     caught too); <placeholder> and * parts match anything;
#   - a bare NAME.md: a document at the top of the tree (README.md);
#   - a bare NAME.c, NAME.h or NAME.cc: a source file of that name anywhere.
# Absolute paths (/etc, /run, ...), $variables, placeholders in capitals
# (DIR/ringd/ringd.conf) and the build directories (build/, build-asan/:
# what `make` creates) are not the repository's.
#
# Prints each missing citation as FILE:LINE: PATH and exits 1 if there is
# one; exits 0 otherwise.
set -euo pipefail
shopt -s nullglob globstar

SRC=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$SRC"

# Top-level entries of the tree, build directories left out.
declare -A top=()
for e in * .[!.]*; do
	[ "$e" = .git ] && continue
	[ -e "$e/build.ninja" ] || [ -d "$e/meson-private" ] && continue
	top[$e]=1
done

# Files of the tree (not of a build directory) by base name.
declare -A base=()
while IFS= read -r -d '' f; do
	base[${f##*/}]=1
done < <(find . \( -path ./.git -o -path ./build -o -path './build-*' \) -prune -o \
	-type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print0)

docs=(*.md docs/**/*.md tests/**/*.md config/**/*.conf systemd/*)
bad=0

# exists PATTERN: some file or folder matches (placeholders become *).
exists() {
	local pat=${1%/}
	while [[ $pat =~ ^(.*)\<[^\>]*\>(.*)$ ]]; do
		pat="${BASH_REMATCH[1]}*${BASH_REMATCH[2]}"
	done
	compgen -G "$pat" >/dev/null
}

for doc in "${docs[@]}"; do
	[ -f "$doc" ] || continue
	# results of `make bench`: generated, they name what the run produced
	case $doc in tests/bench/results/*) continue ;; esac
	# one LINE:WORD per word that may be a path
	while IFS= read -r hit; do
		n=${hit%%:*}
		w=${hit#*:}
		w=${w%%[.,:;]}
		w=${w%%[.,:;]}
		# <ringd.h>: an include names the header
		if [[ $w == '<'*'>' ]]; then
			w=${w#<}
			w=${w%>}
		fi
		case $w in
		/* | *'$'* | '' | . | ..) continue ;;
		esac
		first=${w%%/*}
		last=${w%/}
		last=${last##*/}
		check=""
		if [[ $w == */* ]]; then
			if [ -n "${top[$first]+x}" ]; then
				check=path
			elif [[ $last =~ \.(md|c|h|cc|sh|proto|conf|in|map|build|txt)$ ]] &&
				[[ $first != build && $first != build-* && ! $first =~ ^[A-Z][A-Z0-9_]*$ ]]; then
				check=path
			fi
		elif [[ $w =~ ^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.md$ ]]; then
			check=path
		elif [[ $w =~ ^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(c|h|cc)$ ]]; then
			check=base
		fi
		case $check in
		path) exists "$w" && continue ;;
		base) [ -n "${base[$w]+x}" ] && continue ;;
		*) continue ;;
		esac
		printf '%s:%d: %s does not exist in the repository\n' "$doc" "$n" "$w"
		bad=1
	done < <(grep -noE '[A-Za-z0-9_.<>*$/-]*[A-Za-z0-9_>*/-]' "$doc" || true)
done
exit "$bad"
