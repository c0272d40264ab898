#!/bin/bash
# Build the openstack.migration Ansible collection tarball into dist/
# (ansible-galaxy collection build) and check that ansible-doc reads the
# documentation of each of its modules (tox -e ansible).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
COLLECTION=$TOP/ansible_collections/openstack/migration
OUT=${1:-$TOP/dist}
export ANSIBLE_COLLECTIONS_PATH=$TOP
export ANSIBLE_HOME=${ANSIBLE_HOME:-$(mktemp -d)}
mkdir -p "$OUT"
ansible-galaxy collection build --force --output-path "$OUT" "$COLLECTION"
for module in "$COLLECTION"/plugins/modules/*.py; do
    name=openstack.migration.$(basename "$module" .py)
    if ! ansible-doc --json "$name" > "$ANSIBLE_HOME/doc.json" 2>&1; then
        cat "$ANSIBLE_HOME/doc.json" >&2
        echo "ansible-doc cannot read $name" >&2
        exit 1
    fi
    echo "ansible-doc $name: ok"
done
