#!/bin/bash
# Run the main job of python-migrationclient on a fresh Debian machine:
# start the test bed (real Nova and Placement on 127.0.0.1), boot a mix of
# servers on compute1 and drain it: `openstack compute drain --dry-run`, the
# drain with its live progress, then the report (tools/demo.py).
#
# It installs what it needs itself, as tools/run-all-tests.sh does
# (tools/bootstrap.sh): Debian packages when run as root and they are
# missing, tox in a private virtualenv, then the demo's tox environment
# (the first run takes a few minutes of pip).  It starts no service that
# outlives it: the demo stops the bed it started, by its PID.
#
# Usage: tools/demo.sh [--libvirt] [--short] [--keep]
#   --libvirt  the libvirt-mode bed, with pinned, SR-IOV and PCI servers
#   --short    a few servers, one drain (the CI form, about a minute)
#   --keep     leave the bed running at the end (prints how to stop it)
set -euo pipefail

case "${1:-}" in
    -h|--help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
esac

# Python and its venv module (tox's private virtualenv), git (pbr).
# shellcheck source=tools/bootstrap.sh
. "$(dirname "$0")/bootstrap.sh"
bootstrap_apt python3 python3-venv git
bootstrap_tox

echo "The demo's environment: $TOXWORK/demo (the first run takes a few minutes of pip)"
# --colored no: tox would paint the drain's live progress (stderr) red.
exec "$TOX" --workdir "$TOXWORK" -q --colored no -e demo -- "$@"
