#!/bin/bash
# Check that a change to the product code comes with a release note.
#
# Usage: tools/check-release-note.sh [<base>]
#
# Looks at the commits between <base> and HEAD (from their merge base).  When
# they change files under migrationclient/ other than the tests
# (migrationclient/tests/), they must either add a note under
# releasenotes/notes/ (reno new <name>) or carry, in one of their commit
# messages, a trailer that says why no note is needed:
#
#     Release-Note: none (internal refactoring, no behaviour change)
#
# <base> defaults to origin/main when that exists, else main.
# Exit status: 0 fine, 1 release note missing, 2 usage or repository error.
set -euo pipefail

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

case "${1:-}" in
    -h|--help) usage ;;
esac
[ $# -le 1 ] || usage

cd "$(git rev-parse --show-toplevel 2>/dev/null)" || {
    echo "check-release-note: not inside a git repository" >&2
    exit 2
}

if [ $# -eq 1 ]; then
    base=$1
elif git rev-parse -q --verify origin/main >/dev/null; then
    base=origin/main
else
    base=main
fi

git rev-parse -q --verify "$base^{commit}" >/dev/null || {
    echo "check-release-note: unknown base revision '$base'" >&2
    exit 2
}
merge_base=$(git merge-base "$base" HEAD) || {
    echo "check-release-note: no common ancestor of '$base' and HEAD" \
         "(shallow clone? fetch more history)" >&2
    exit 2
}

range="$merge_base..HEAD"
if [ -z "$(git rev-list "$range")" ]; then
    echo "check-release-note: no commit between $base and HEAD"
    exit 0
fi

code_changes=$(git diff --name-only "$merge_base" HEAD -- \
    'migrationclient/' ':(exclude)migrationclient/tests/')
if [ -z "$code_changes" ]; then
    echo "check-release-note: no change under migrationclient/ outside the" \
         "tests: no release note needed"
    exit 0
fi

new_notes=$(git diff --name-only --diff-filter=A "$merge_base" HEAD -- \
    'releasenotes/notes/*.yaml')
if [ -n "$new_notes" ]; then
    echo "check-release-note: release note(s) added:"
    printf '  %s\n' $new_notes
    exit 0
fi

# "Release-Note: none <reason>" as a trailer of any commit in the range.
reasons=$(git log --format='%(trailers:key=Release-Note,valueonly,unfold)' \
    "$range" | sed -n 's/^[[:space:]]*[Nn][Oo][Nn][Ee]\b[[:space:]:,;-]*\(.*[^[:space:]].*\)$/\1/p')
if [ -n "$reasons" ]; then
    echo "check-release-note: no release note, because:"
    printf '%s\n' "$reasons" | sed 's/^/  /'
    exit 0
fi

bare=$(git log --format='%(trailers:key=Release-Note,valueonly,unfold)' \
    "$range" | sed '/^[[:space:]]*$/d')

cat >&2 <<EOF
check-release-note: these files changed since $base with no release note:
$(printf '  %s\n' $code_changes)

Add one:  reno new <short-name>   (then edit releasenotes/notes/<short-name>-*.yaml)
or say why none is needed, as the last paragraph of the commit message:

  Release-Note: none (internal refactoring, no behaviour change)
EOF
if [ -n "$bare" ]; then
    echo "(found 'Release-Note: $bare': it must be 'none' followed by a reason)" >&2
fi
exit 1
