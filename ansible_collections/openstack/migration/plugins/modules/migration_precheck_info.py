#!/usr/bin/python
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

DOCUMENTATION = r'''
---
module: migration_precheck_info
short_description: Can these servers be live or cold migrated, and where to
version_added: "1.0.0"
author: python-migrationclient developers
description:
  - One row per server and candidate destination - the live and cold
    verdicts, what blocks them, warnings, and the exact
    C(openstack server migrate) command to run. The rules of
    C(openstack migration precheck), called as a library.
  - Reads the cloud only; never changes anything.
extends_documentation_fragment:
  - openstack.migration.openstack
  - openstack.migration.ssh
options:
  servers:
    description:
      - Servers to check (names or IDs).
    type: list
    elements: str
  source_host:
    description:
      - Check every server on this compute host (all projects, any state).
    type: str
  destinations:
    description:
      - Only check these destination hosts (default - every enabled
        compute host other than the source).
    type: list
    elements: str
  kind:
    description:
      - Which migrations to check.
    type: str
    choices: [both, live, cold]
    default: both
  pci_live_migratable:
    description:
      - The PCI aliases and devices are declared live_migratable (Nova
        2025.1 and later) - PCI passthrough then only warns for live
        migration.
    type: bool
    default: false
notes:
  - Supports C(check_mode); the module changes nothing in either mode.
  - With I(ssh), the host-side facts of C(openstack migration precheck
    --ssh) are read too (NUMA, pinned CPUs, huge pages, PCI and VFs,
    C(nova.conf), the live migration transport), so the verdicts of NUMA,
    pinned, huge page, PCI and SR-IOV servers are yes or no where the API
    facts alone say maybe. A host that cannot be read is a note; when no
    host can be read the task fails (with the rows), unless
    I(ssh.optional).
'''

EXAMPLES = r'''
- name: Can the servers of compute1 move?
  openstack.migration.migration_precheck_info:
    cloud: overcloud
    source_host: compute1
  register: precheck
  delegate_to: localhost

- name: The same, with the hosts' own facts (NUMA, pinning, huge pages)
  openstack.migration.migration_precheck_info:
    cloud: overcloud
    source_host: compute1
    ssh:
      user: heat-admin
      key: [~/.ssh/id_ed25519]
      hosts:
        compute1: 192.0.2.11
        compute2: "192.0.2.12:2222"
  register: precheck
  delegate_to: localhost

- name: Stop here when a server cannot move
  ansible.builtin.assert:
    that: precheck.blocked | length == 0
    fail_msg: "cannot move: {{ precheck.blocked | join(', ') }}"
'''

RETURN = r'''
rows:
  description: One row per server and candidate destination.
  returned: always
  type: list
  elements: dict
  contains:
    server:
      description: Server ID.
      type: str
    name:
      description: Server name.
      type: str
    source:
      description: The host the server is on.
      type: str
    destination:
      description: The candidate destination (empty - none).
      type: str
    live:
      description: Live migration verdict (yes, no, unknown...).
      type: str
    cold:
      description: Cold migration verdict.
      type: str
    block_migration:
      description: Whether a live migration would copy the disks.
      type: str
    blockers:
      description: What prevents the move, one line each.
      type: list
      elements: str
    warnings:
      description: What deserves a look, one line each.
      type: list
      elements: str
    command:
      description: The C(openstack server migrate) command to run.
      type: str
ssh_read:
  description: With I(ssh) - the compute hosts read over SSH (empty
    without I(ssh)).
  returned: always
  type: list
  elements: str
ssh_unread:
  description: With I(ssh) - the compute hosts that were to be read over
    SSH and could not be (their reasons are in I(notes)).
  returned: always
  type: list
  elements: str
blocked:
  description: IDs of the servers that cannot move anywhere.
  returned: always
  type: list
  elements: str
notes:
  description: Notes about the cloud (microversion, missing facts).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.openstack.migration.plugins.module_utils.openstack import no_ssh_facts_message  # noqa: E402,E501
from ansible_collections.openstack.migration.plugins.module_utils.openstack import OpenStackModule  # noqa: E402,E501
from ansible_collections.openstack.migration.plugins.module_utils.openstack import SSH_SPEC  # noqa: E402,E501


def precheck_rows(evaluations, server_ids, snapshot):
    """Rows as dicts (the command's table) and the blocked server ids."""
    from migrationclient.engine import precheck
    rows, blocked = precheck.server_rows(evaluations, server_ids, snapshot)
    for row in rows:
        del row['findings']
        row['block_migration'] = str(row['block_migration'])
    return rows, blocked


class PrecheckInfoModule(OpenStackModule):

    argument_spec = dict(
        servers=dict(type='list', elements='str'),
        source_host=dict(),
        destinations=dict(type='list', elements='str'),
        kind=dict(default='both', choices=['both', 'live', 'cold']),
        pci_live_migratable=dict(type='bool', default=False),
        **SSH_SPEC
    )
    module_kwargs = dict(
        supports_check_mode=True,
        required_one_of=[('servers', 'source_host')],
    )

    def run(self):
        from migrationclient.constraints import evaluate
        from migrationclient.engine import precheck
        p = self.params
        kinds = {'live': (evaluate.LIVE,), 'cold': (evaluate.COLD,)}.get(
            p['kind'], (evaluate.LIVE, evaluate.COLD))
        # every SSH option and file checked before any cloud or SSH call
        ssh = self.ssh_options()
        extra = {} if ssh is None else {'ssh_options': ssh}
        result = precheck.run(
            self.conn.compute, self.conn, servers=p['servers'] or (),
            source_host=p['source_host'], destinations=p['destinations'],
            kinds=kinds, pci_live_migratable=p['pci_live_migratable'],
            **extra)
        rows, blocked = precheck_rows(result.evaluations, result.server_ids,
                                      result.snapshot)
        self.results = dict(changed=False, rows=rows, blocked=blocked,
                            notes=list(result.snapshot.cloud.notes),
                            ssh_read=[], ssh_unread=[])
        if ssh is None:
            return
        self.results.update(
            ssh_read=sorted(result.ssh_read),
            ssh_unread=sorted(set(result.ssh_tried) - set(result.ssh_read)))
        if result.ssh_unread:
            msg = no_ssh_facts_message(
                sorted(result.ssh_tried),
                'the verdicts rest on the API facts only')
            if not p['ssh']['optional']:
                self.fail_json(msg=msg, **self.results)
            self.warn(msg)


def main():
    module = PrecheckInfoModule()
    module()


if __name__ == '__main__':
    main()
