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

ENVLIST=${1:-py3,functional,pep8,ansible,docs,releasenotes,rpm}

# Debian packages (Python and its venv module for tox's private
# virtualenv, git for pbr; sshd / virsh (libvirt test driver) / numactl for
# the SSH test hosts, rpm and cpio for the RPM build) and tox: the shared
# bootstrap of tools/bootstrap.sh (also used by tools/demo.sh).
# shellcheck source=tools/bootstrap.sh
. "$(dirname "$0")/bootstrap.sh"
bootstrap_apt python3 python3-venv git openssh-server openssh-client \
    libvirt-clients numactl rpm cpio
bootstrap_tox
# A checkout under /tmp gets a fresh tox work directory (bootstrap.sh).
case "$TOP" in
    /tmp/*) rm -rf "$TOXWORK" ;;
esac

start=$(date +%s)
rc=0
"$TOX" --workdir "$TOXWORK" -e "$ENVLIST" || rc=$?
# Benchmarks are not tests: CI runs the short smoke version only, to keep
# them working (doc/source/performance.rst).
# It runs in the functional environment (same dependencies as the bench
# env), so CI builds no extra virtualenv for it.
if [ -z "${1:-}" ] && [ -x "$TOXWORK/functional/bin/python" ]; then
    "$TOXWORK/functional/bin/python" -m benchmarks --smoke || rc=$?
fi

# One closing line that any CI can read: tests run by stestr in the unit and
# functional environments (the functional run includes the test bed's own
# tests, testbed/tests).
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
