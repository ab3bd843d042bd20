#!/usr/bin/env bash
# complete.sh FILE COMMAND [WORD...] - what the bash completion in FILE
# offers for the command line "COMMAND WORD...", the cursor at the end of
# the last WORD (pass "" to complete a new word): one candidate a line.
#
# Runs in a bash without startup files, so only FILE is loaded. Exits 1 if
# FILE registers no completion function for COMMAND.
set -eu

file=$1
shift
# shellcheck source=/dev/null
. "$file"
spec=$(complete -p "$1" 2>/dev/null) || {
	echo "complete.sh: $file registers no completion for $1" >&2
	exit 1
}
fn=$(sed -nE 's/.* -F ([^ ]+) .*/\1/p' <<<"$spec")
[ -n "$fn" ] || {
	echo "complete.sh: '$spec' is not a completion function" >&2
	exit 1
}
[ $# -ge 2 ] || set -- "$@" ""

COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
# As bash calls it: COMMAND, the word being completed, the word before it.
set +eu
"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
