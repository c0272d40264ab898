#!/bin/bash
# Build the SRPM and RPMs of python-migrationclient from the current tree,
# list their contents and check them.
#
# Usage: tools/build-rpm.sh
#
#   PYTHON   Python with the project's runtime, test and doc requirements
#            (default: python3); rpmbuild builds, tests and documents with it.
#   OUT      output directory (default: rpm/build); emptied first.
#   CHECK    0 skips the spec's %check (the unit tests), for a quick
#            packaging-only run (default: 1).
#
# Steps:
#   1. version from pbr and git; a source tarball of the current tree (the
#      files git tracks plus untracked ones it does not ignore) made by pbr;
#   2. rpmbuild -ba rpm/python-migrationclient.spec (SRPM and RPMs;
#      --nodeps: the build host need not be an RPM distribution);
#   3. checks: the main package has the entry points (entry_points.txt with
#      openstack.cli.extension) and no tests, the tests package has the
#      tests but not the test bed (testbed/, a tool of the source tree),
#      the doc package the HTML and the man page, the collection package
#      the Ansible collection's files; the main package's
#      files, unpacked into a fresh virtual environment that sees the
#      dependencies but not this source tree, load in openstack:
#      "openstack command list --group openstack.migration.v1".
# Needs rpmbuild, rpm2cpio and cpio (Debian: apt-get install rpm), git.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
PYTHON=$(command -v "${PYTHON:-python3}")
OUT=${OUT:-$TOP/rpm/build}
SPEC=rpm/python-migrationclient.spec
GROUP=openstack.migration.v1

for tool in rpmbuild rpm2cpio cpio git; do
    command -v "$tool" >/dev/null || {
        echo "build-rpm: $tool is missing (Debian: apt-get install rpm cpio git)" >&2
        exit 2
    }
done

fail=0
check() {  # check <description> <command...>
    local what=$1; shift
    if "$@"; then
        echo "  ok    $what"
    else
        echo "  FAIL  $what"
        fail=1
    fi
}

rm -rf "$OUT"
mkdir -p "$OUT"/{SOURCES,snapshot,check}

# 1. Version and source tarball -------------------------------------------
version=$("$PYTHON" -c \
    'from pbr import packaging; print(packaging.get_version("python-migrationclient"))')
echo "== version $version (pbr)"

# A private git repository holding exactly the current tree, so that pbr's
# file list (git ls-files) sees uncommitted and new files too.
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$OUT/snapshot"
(
    cd "$OUT/snapshot"
    git init -q
    git add -A
    git -c user.name=build-rpm -c user.email=build-rpm@localhost \
        commit -q -m "snapshot of the tree for tools/build-rpm.sh"
    export PBR_VERSION=$version SKIP_GENERATE_AUTHORS=1 SKIP_WRITE_GIT_CHANGELOG=1
    if "$PYTHON" -c 'import build' 2>/dev/null; then
        "$PYTHON" -m build --sdist --no-isolation --outdir "$OUT/SOURCES" . >/dev/null
    else
        "$PYTHON" setup.py -q sdist --dist-dir "$OUT/SOURCES" >/dev/null 2>&1
    fi
)
tarball=$(ls "$OUT"/SOURCES/*.tar.gz)
echo "== sdist $(basename "$tarball")"

# 2. rpmbuild -----------------------------------------------------------------
echo "== rpmbuild (log: $OUT/rpmbuild.log)"
nocheck=()
[ "${CHECK:-1}" = 0 ] && nocheck=(--nocheck)
if ! rpmbuild -ba --nodeps "${nocheck[@]}" \
        --define "_topdir $OUT" \
        --define "upstream_version $version" \
        --define "__python3 $PYTHON" \
        "$SPEC" >"$OUT/rpmbuild.log" 2>&1; then
    tail -40 "$OUT/rpmbuild.log"
    echo "build-rpm: rpmbuild failed" >&2
    exit 1
fi
grep -E '^(Wrote: |Ran: | - (Passed|Failed|Skipped): )' "$OUT/rpmbuild.log" || true

srpm=$(ls "$OUT"/SRPMS/*.src.rpm)
main=$(ls "$OUT"/RPMS/noarch/python3-migrationclient-[0-9]*.noarch.rpm)
tests=$(ls "$OUT"/RPMS/noarch/python3-migrationclient-tests-*.noarch.rpm)
doc=$(ls "$OUT"/RPMS/noarch/python-migrationclient-doc-*.noarch.rpm)
collection=$(ls "$OUT"/RPMS/noarch/ansible-collection-openstack-migration-*.noarch.rpm)

# 3. Contents -----------------------------------------------------------------
for pkg in "$srpm" "$main" "$tests" "$doc" "$collection"; do
    echo "== $(basename "$pkg")"
    rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}: %{SUMMARY}\n' "$pkg"
    rpm -qp --requires "$pkg" | sed 's/^/  requires: /'
    rpm -qlp "$pkg" | sed 's/^/  /'
done | tee "$OUT/contents.txt" | awk '
    /^==/ { print; n = 0; next }
    /^  requires:/ { print; next }
    { if (++n <= 25) print; else if (n == 26) print "  ... (all in contents.txt)" }'

# 4. Checks -------------------------------------------------------------------
echo "== checks"
main_files=$(rpm -qlp "$main")
tests_files=$(rpm -qlp "$tests")
doc_files=$(rpm -qlp "$doc")
eps_path=$(printf '%s\n' "$main_files" | grep '\.dist-info/entry_points\.txt$' || true)

check "main package has entry_points.txt" test -n "$eps_path"
eps=$(rpm2cpio "$main" | cpio -i --quiet --to-stdout ".$eps_path" 2>/dev/null || true)
check "entry_points.txt declares openstack.cli.extension" \
    grep -q '^\[openstack\.cli\.extension\]' <<<"$eps"
check "openstack.cli.extension: migration = migrationclient.plugin" \
    grep -Eq '^migration *= *migrationclient\.plugin$' <<<"$eps"
check "main package has no tests" \
    bash -c '! grep -q "/migrationclient/tests" <<<"$1"' _ "$main_files"
check "main package has migrationclient/plugin.py" \
    grep -q '/migrationclient/plugin\.py$' <<<"$main_files"
check "tests package has the unit tests" \
    grep -q '/migrationclient/tests/unit/__init__\.py$' <<<"$tests_files"
check "tests package has nothing outside the tests" \
    bash -c '! grep "site-packages/" <<<"$1" | grep -vq "/migrationclient/tests"' _ "$tests_files"
# The test bed is a tool of the source tree (testbed/), not a package of
# python-migrationclient: no RPM ships it.
check "tests package has the functional tests" \
    grep -q '/migrationclient/tests/functional/base\.py$' <<<"$tests_files"
check "no package ships the test bed" \
    bash -c '! grep -Eq "/(testbed|fakecloud|sshhosts|httpproxy\.py)(/|$)|/tests/functional/keystone/" <<<"$1"' \
    _ "$main_files"$'\n'"$tests_files"
check "doc package has the HTML" grep -q '/html/index\.html$' <<<"$doc_files"
check "doc package has openstack-migration(1)" \
    grep -q '/man1/openstack-migration\.1' <<<"$doc_files"
collection_files=$(rpm -qlp "$collection")
for f in galaxy.yml meta/runtime.yml plugins/modules/compute_drain.py \
        plugins/module_utils/openstack.py playbooks/rolling_maintenance.yml; do
    check "collection package has $f" grep -q \
        "/ansible_collections/openstack/migration/$f\$" <<<"$collection_files"
done

# The group's commands as the entry points declare them ("a_b" -> "a b").
expected=$(awk -v g="[$GROUP]" '
    /^\[/ { on = ($0 == g); next }
    on && /=/ { sub(/ *=.*/, ""); gsub(/_/, " "); print }' <<<"$eps" | sort)

# A fresh virtual environment: the main package's files first, then the
# dependencies of $PYTHON without this project (no editable install, no
# dist-info of python-migrationclient), so nothing comes from the tree.
root=$OUT/check/root
venv=$OUT/check/venv
mkdir -p "$root" "$OUT/check/deps" "$OUT/check/home"
(cd "$root" && rpm2cpio "$main" | cpio -idm --quiet)
sitelib=$(dirname "$(dirname "$eps_path")")
"$PYTHON" -m venv --without-pip "$venv"
deps_src=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
for entry in "$deps_src"/*; do
    name=$(basename "$entry")
    case "$name" in
        migrationclient|python_migrationclient*|python-migrationclient*|\
        __editable__*migrationclient*|*migrationclient*.pth|*migrationclient*.egg-link)
            continue ;;
    esac
    ln -s "$entry" "$OUT/check/deps/$name"
done
venv_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "$root$sitelib" > "$venv_site/00-rpm.pth"
echo "import site; site.addsitedir('$OUT/check/deps')" > "$venv_site/zz-deps.pth"

run_fresh() {
    (cd "$OUT/check" && env -i HOME="$OUT/check/home" PATH=/usr/bin:/bin \
        PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" "$@")
}
origin=$(run_fresh -c '
import importlib.metadata as md, migrationclient
print(migrationclient.__file__)
print(md.distribution("python-migrationclient")._path)')
echo "  plugin loaded from: $(head -1 <<<"$origin")"
check "migrationclient is imported from the RPM's files" \
    bash -c '[ "$(grep -c "^$1/" <<<"$2")" = 2 ]' _ "$root" "$origin"

echo "  \$ openstack command list --group $GROUP   (fresh venv)"
listed_json=$(run_fresh -m openstackclient.shell command list --group "$GROUP" -f json)
listed=$("$PYTHON" -c '
import json, sys
for row in json.loads(sys.stdin.read()):
    if row["Command Group"] == sys.argv[1]:
        print("\n".join(row["Commands"]))' "$GROUP" <<<"$listed_json" | sort)
sed 's/^/    /' <<<"${listed:-(no command in the group)}"
check "openstack lists every command the entry points declare" \
    test "$listed" = "$expected"
opts=$(run_fresh -m openstackclient.shell --help 2>/dev/null || true)
check "the plugin's global option --os-migration-api-version is there" \
    grep -q -- '--os-migration-api-version' <<<"$opts"

if [ "$fail" != 0 ]; then
    echo "build-rpm: some checks failed" >&2
    exit 1
fi
echo "== all checks passed; packages in $OUT/SRPMS and $OUT/RPMS/noarch"
