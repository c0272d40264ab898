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
module: server_migration_info
short_description: Migrations in progress on a compute host, with progress
version_added: "1.0.0"
author: python-migrationclient developers
description:
  - The migrations in progress to or from a compute host (or of one
    server) - status, memory and disk progress of live migrations, stuck
    flag, and the failure reason Nova recorded. One look of
    C(openstack migration watch), called as a library.
  - Reads the cloud only; never changes anything.
extends_documentation_fragment:
  - openstack.migration.openstack
options:
  host:
    description:
      - Compute host (exact name) whose incoming and outgoing migrations to
        list.
    type: str
  server:
    description:
      - Server (name or ID) whose migration in progress to list.
    type: str
notes:
  - Supports C(check_mode); the module changes nothing in either mode.
'''

EXAMPLES = r'''
- name: What is still moving on compute1?
  openstack.migration.server_migration_info:
    cloud: overcloud
    host: compute1
  register: moving
  delegate_to: localhost

- name: Show the progress of each live migration
  ansible.builtin.debug:
    msg: "{{ item.server_id }} {{ item.status }}
          {{ (item.memory or {}).get('percent') }}%"
  loop: "{{ moving.migrations }}"
'''

RETURN = r'''
migrations:
  description: The migrations in progress in the scope.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Migration ID.
      type: int
    uuid:
      description: Migration UUID.
      type: str
    server_id:
      description: The server.
      type: str
    type:
      description: live-migration, migration, resize or evacuation.
      type: str
    source:
      description: Source host.
      type: str
    dest:
      description: Destination host.
      type: str
    status:
      description: Nova's status of the migration.
      type: str
    elapsed:
      description: Seconds since it was first seen.
      type: float
    stuck:
      description: Whether its remaining memory stopped shrinking.
      type: bool
    memory:
      description: Memory progress of a live migration (total, remaining,
        processed, percent, rate, ETA), null when unknown.
      type: dict
    disk:
      description: Disk progress of a live migration, null when unknown.
      type: dict
    reason:
      description: The failure reason Nova recorded, if any.
      type: dict
'''

from ansible_collections.openstack.migration.plugins.module_utils.openstack import OpenStackModule  # noqa: E402,E501


class MigrationInfoModule(OpenStackModule):

    argument_spec = dict(
        host=dict(),
        server=dict(),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        required_one_of=[('host', 'server')],
        mutually_exclusive=[('host', 'server')],
    )

    def run(self):
        from migrationclient.cloud import actions as cloud_actions
        from migrationclient.engine import watch
        p = self.params
        cloud = cloud_actions.Actions(self.conn.compute, self.conn)
        server_id = None
        if p['server']:
            server_id = cloud.find_server(p['server']).id
        else:
            cloud.service_of(cloud.compute_services(), p['host'])
        watcher = watch.Watcher(cloud, server_id=server_id, host=p['host'],
                                policy=watch.Policy(), adopt_new=True,
                                progress_interval=0)
        watcher.start()
        states = sorted(watcher.active, key=lambda s: watch.id_key(s.id))
        self.results = dict(changed=False,
                            migrations=[s.to_dict() for s in states])


def main():
    module = MigrationInfoModule()
    module()


if __name__ == '__main__':
    main()
