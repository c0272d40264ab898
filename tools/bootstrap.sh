# shellcheck shell=bash
# Shared bootstrap of tools/run-all-tests.sh and tools/demo.sh: sourced,
# not run.  On a fresh Debian machine it installs what the caller needs:
#
#   bootstrap_apt PKG...   the Debian packages that are missing (as root;
#                          otherwise it names them and exits 1)
#   bootstrap_tox          tox in a private virtualenv, so the system
#                          Python stays untouched; sets TOX
#
# and sets TOP (the top of the tree, also the working directory) and
# TOXWORK (tox's work directory).  It starts no service.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP"

bootstrap_apt() {
    local p missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
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
}

bootstrap_tox() {
    TOOLS_VENV=${MIGRATIONCLIENT_TOOLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/python-migrationclient/tools-venv}
    if [ ! -x "$TOOLS_VENV/bin/tox" ]; then
        echo "Installing tox in $TOOLS_VENV"
        python3 -m venv "$TOOLS_VENV"
        "$TOOLS_VENV/bin/pip" install -q -U pip
        "$TOOLS_VENV/bin/pip" install -q 'tox>=4.0'
    fi
    TOX="$TOOLS_VENV/bin/tox"
}

# tox's environments live in .tox, except for a checkout under /tmp:
# stevedore never uses its entry-point cache for an interpreter under /tmp,
# which costs every `openstack` call ~0.5 s of CPU.  Such a checkout gets a
# work directory of its own elsewhere (run-all-tests.sh starts it afresh).
TOXWORK="$TOP/.tox"
case "$TOP" in
    /tmp/*)
        TOXWORK=${XDG_CACHE_HOME:-$HOME/.cache}/python-migrationclient/tox-$(printf '%s' "$TOP" | sha1sum | cut -c1-12)
        ;;
esac
