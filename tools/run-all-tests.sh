#!/bin/bash
# Run the whole test suite of python-migrationclient on a fresh Debian
# machine: unit tests, functional tests against real Nova and Placement (the
# test bed) and real sshd/virsh hosts, pep8, docs and release notes.
#
# It installs what it needs itself: Debian packages (when run as root and
# they are missing) and tox (in a private virtualenv).  It starts no
# service that outlives it: the functional tests start the test bed and the
# sshd hosts themselves and stop exactly the processes they started.
#
# Usage: tools/run-all-tests.sh [tox-envlist]
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
ENVLIST=${1:-py3,functional,pep8,docs,releasenotes,rpm}

# Debian packages: sshd / virsh (libvirt test driver) / numactl for the SSH
# test hosts, rpm and cpio for the RPM build, git for pbr.
APT_PACKAGES="git openssh-server openssh-client libvirt-clients numactl rpm cpio"
missing=""
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "Installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "Missing Debian packages (install them as root):$missing" >&2
        exit 1
    fi
fi

# tox in a private virtualenv, so the system Python stays untouched.
TOOLS_VENV=${MIGRATIONCLIENT_TOOLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/python-migrationclient/tools-venv}
if [ ! -x "$TOOLS_VENV/bin/tox" ]; then
    python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install -q -U pip
    "$TOOLS_VENV/bin/pip" install -q 'tox>=4.0'
fi

# tox's environments live in .tox, except for a checkout under /tmp:
# stevedore never uses its entry-point cache for an interpreter under /tmp,
# which costs every `openstack` call of the functional tests ~0.5 s of CPU.
# Such a checkout gets a fresh work directory of its own elsewhere.
TOXWORK="$TOP/.tox"
case "$TOP" in
    /tmp/*)
        TOXWORK=${XDG_CACHE_HOME:-$HOME/.cache}/python-migrationclient/tox-$(printf '%s' "$TOP" | sha1sum | cut -c1-12)
        rm -rf "$TOXWORK"
        ;;
esac

start=$(date +%s)
rc=0
"$TOOLS_VENV/bin/tox" --workdir "$TOXWORK" -e "$ENVLIST" || rc=$?
# Benchmarks are not tests: CI runs the short smoke version only, to keep
# them working (doc/source/performance.rst).
# It runs in the functional environment (same dependencies as the bench
# env), so CI builds no extra virtualenv for it.
if [ -z "${1:-}" ] && [ -x "$TOXWORK/functional/bin/python" ]; then
    "$TOXWORK/functional/bin/python" -m benchmarks --smoke || rc=$?
fi

# One closing line that any CI can read: tests run by stestr in the unit and
# functional environments.
passed=0; failed=0; skipped=0
for env in py3:migrationclient/tests/unit: functional:migrationclient/tests/functional:.stestr.functional; do
    name=${env%%:*}; rest=${env#*:}; path=${rest%%:*}; repo=${rest#*:}
    case ",$ENVLIST," in *",$name,"*) ;; *) continue ;; esac
    [ -x "$TOXWORK/$name/bin/stestr" ] || continue
    out=$("$TOXWORK/$name/bin/stestr" --test-path "./$path" ${repo:+--repo-url "$repo"} last 2>/dev/null | sed -n '/^Totals/,$p' || true)
    p=$(printf '%s\n' "$out" | sed -n 's/^ - Passed: \([0-9]*\)/\1/p'); p=${p:-0}
    f=$(printf '%s\n' "$out" | sed -n 's/^ - Failed: \([0-9]*\)/\1/p'); f=${f:-0}
    s=$(printf '%s\n' "$out" | sed -n 's/^ - Skipped: \([0-9]*\)/\1/p'); s=${s:-0}
    echo "$name: $p passed, $f failed, $s skipped"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
if [ -f .stestr.functional/interrupt-matrix.txt ]; then
    echo "Drain interrupted at seeded points (signal x point -> outcome):"
    cat .stestr.functional/interrupt-matrix.txt
fi
if [ -f .stestr.functional/fault-matrix.txt ]; then
    echo "Drain and watch under faults (fault x outcome):"
    cat .stestr.functional/fault-matrix.txt
fi
if [ -f .stestr.functional/kill-matrix.txt ]; then
    echo "Drain killed (SIGKILL) at seeded points, then resumed:"
    cat .stestr.functional/kill-matrix.txt
fi
echo "tox exit status: $rc, $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
