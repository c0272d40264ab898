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
module: compute_drain
short_description: Drain compute hosts, enable them again, move servers back
version_added: "1.0.0"
author: python-migrationclient developers
description:
  - Moves every server off OpenStack compute hosts (live, or cold for
    SHUTOFF servers and those that cannot go live) with bounded concurrency,
    and leaves their nova-compute service disabled for the maintenance -
    the engine of C(openstack compute drain), called as a library.
  - The drain disables each host with the claim C([drain:<report id>]) in
    the disable reason; I(state=enabled) and I(state=restored) enable only a
    host that carries this drain's claim, never one disabled by someone else
    or for another reason.
  - Every run keeps a JSON report (I(report)); running the same drain again
    continues from it.
  - Check mode is the drain's dry run - it reads the cloud, plans, and
    returns the plan without changing anything (the refusals of a real run
    are refusals in check mode too).
extends_documentation_fragment:
  - openstack.migration.openstack
  - openstack.migration.ssh
options:
  hosts:
    description:
      - The compute hosts (exact nova-compute host names). Several hosts
        are drained together, as one drain with one report.
    type: list
    elements: str
    required: true
    aliases: [host]
  state:
    description:
      - C(drained) - every server moved off the hosts and their
        nova-compute disabled. A host already disabled with nothing left to
        move is left alone (C(changed=false)).
      - C(enabled) - the hosts' nova-compute enabled again, only where the
        drain of I(report) disabled it and its claim is still there. A host
        disabled by someone else is refused, changing nothing.
      - C(restored) - the servers the drain of I(report) moved go back to
        their original hosts (enabled first, as for C(enabled)).
    type: str
    choices: [drained, enabled, restored]
    default: drained
  max_parallel:
    description:
      - Migrations in flight per source host.
    type: int
    default: 2
  max_per_target:
    description:
      - Migrations in flight per destination host, across the whole drain
        (like Nova's C(max_concurrent_live_migrations)); C(0) - no limit,
        the scheduler places every server.
    type: int
    default: 1
  target_hosts:
    description:
      - Destination hosts (default - any enabled host, checked by the
        scheduler).
    type: list
    elements: str
  target_aggregate:
    description:
      - Move servers to the hosts of this aggregate.
    type: str
  no_live:
    description:
      - Cold migrate every server (ACTIVE guests restart).
    type: bool
    default: false
  confirm:
    description:
      - Confirm cold migrations once the server is healthy on its
        destination (C(false) - leave them in VERIFY_RESIZE).
    type: bool
    default: true
  stuck_after:
    description:
      - Seconds after which a live migration whose remaining memory has not
        shrunk is stuck; C(0) - never.
    type: int
    default: 300
  on_stuck:
    description:
      - What to do with a stuck live migration.
    type: str
    choices: [abort, force-complete, wait]
    default: abort
  timeout:
    description:
      - Stop waiting for a server after this many seconds (its live
        migration is aborted, the server stays on its source). Unset - no
        limit. Unlike openstack.cloud's I(timeout), it is per server and
        has no default.
    type: int
    default: null
  max_failures:
    description:
      - Stop starting migrations after this many failures (those in flight
        go on); C(0) - never stop. The failure budget of the drain.
    type: int
    default: 1
  retry:
    description:
      - Retry a server once on another host when Nova answers
        "No valid host".
    type: bool
    default: false
  poll_interval:
    description:
      - Seconds between polls.
    type: float
    default: 2.0
  allow_partial:
    description:
      - Start even when some servers have no destination (they are
        skipped, reported, and the task fails with them named).
    type: bool
    default: false
  disable_reason:
    description:
      - Reason recorded on the disabled service, after the drain claim
        (default - C(migrationclient drain <UTC time>)).
    type: str
  enable_when_done:
    description:
      - With I(state=drained), enable the service again when the host is
        empty and still carries this drain's claim.
    type: bool
    default: false
  up_timeout:
    description:
      - With I(state=enabled) or I(state=restored), first wait this many
        seconds at most for the hosts' nova-compute to report up (after a
        reboot it reads down for a while); C(0) - do not wait.
    type: int
    default: 300
  report:
    description:
      - The drain's JSON report (default -
        C($XDG_STATE_HOME/migrationclient/clouds/<cloud>/drain-<hosts>.json)).
        I(state=enabled) and I(state=restored) read the drain's claim and
        servers from it.
    type: path
notes:
  - The task waits for the drain to end whatever I(wait) says.
  - Supports C(check_mode) (the dry run).
  - With I(ssh) (only with I(state=drained)), the plan and its capacity
    rest on the hosts' facts read over SSH (NUMA, pinned CPUs, huge pages,
    PCI), and the live migrations in flight from each source host are
    bounded by its C(nova.conf) C(max_concurrent_live_migrations) (0 or
    unreadable - 1; without I(ssh) - 1, Nova's default), as
    C(openstack compute drain --ssh). When no host can be read the task
    fails before anything changes, unless I(ssh.optional). The notes say
    which limit applies per host.
'''

EXAMPLES = r'''
- name: Drain compute1 (clouds.yaml cloud "overcloud")
  openstack.migration.compute_drain:
    cloud: overcloud
    host: compute1
    max_parallel: 2
    disable_reason: "kernel update, CHG-1234"
  delegate_to: localhost

- name: Drain two hosts to one aggregate, abort stuck migrations
  openstack.migration.compute_drain:
    cloud: overcloud
    hosts: [compute1, compute2]
    target_aggregate: spare
    stuck_after: 120
    on_stuck: abort
    max_failures: 0
  delegate_to: localhost

- name: Dry run of compute1's drain on the hosts' own facts (NUMA guests)
  openstack.migration.compute_drain:
    cloud: overcloud
    host: compute1
    ssh:
      user: heat-admin
      key: [~/.ssh/id_ed25519]
      proxy_jump: stack@undercloud
      virsh_container: nova_libvirt
  check_mode: true
  register: plan
  delegate_to: localhost

- name: Enable it again after the maintenance
  openstack.migration.compute_drain:
    cloud: overcloud
    host: compute1
    state: enabled
  delegate_to: localhost

- name: Move its servers back
  openstack.migration.compute_drain:
    cloud: overcloud
    host: compute1
    state: restored
  delegate_to: localhost
'''

RETURN = r'''
report_path:
  description: The JSON report of the drain (or restore).
  returned: always
  type: str
  sample: /root/.local/state/migrationclient/clouds/3f2a/drain-compute1.json
plan:
  description: The servers to move, as planned (the dry run's rows).
  returned: when state is drained or restored
  type: list
  elements: dict
  contains:
    server:
      description: Server ID.
      type: str
    name:
      description: Server name.
      type: str
    project:
      description: Project ID.
      type: str
    host:
      description: The host the server is on.
      type: str
    action:
      description: live, cold, skip or none.
      type: str
    destination:
      description: Where it goes (a host, or the scheduler's choice).
      type: str
    reason:
      description: Why this action.
      type: str
capacity:
  description: The capacity plan of every host drained together, as
    C(openstack compute drain --dry-run) shows it - C(placements) (per
    server - destination, kind, reason, and for a server that fits
    nowhere the C(bindings) on each candidate), C(destinations) (per
    receiving host and resource - capacity, used before and after) and
    C(headroom) (could the hosts that stay absorb the largest of them
    failing, and which resource runs out first). Null when no plan was
    made (state enabled, restored, or nothing to move).
  returned: always
  type: dict
report:
  description: The report as written (servers, states, migrations,
    services, summary); null in check mode and when nothing was done.
  returned: always
  type: dict
servers_left:
  description: Servers still on their host that should have moved, with
    their state and reason (the task fails when this is not empty). In
    check mode, the servers the drain would leave (skipped).
  returned: always
  type: list
  elements: dict
  sample: [{"server": "8d1c...", "name": "db-1", "host": "compute1",
            "state": "failed", "reason": "No valid host was found"}]
status:
  description: The exit status C(openstack compute drain) would have (0 done,
    4 servers left, 5 interrupted, 9 timeout).
  returned: always
  type: int
notes:
  description: Notes of the drain (continued reports, warnings).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.openstack.migration.plugins.module_utils.openstack import OpenStackModule  # noqa: E402,E501
from ansible_collections.openstack.migration.plugins.module_utils.openstack import SSH_SPEC  # noqa: E402,E501


class ComputeDrainModule(OpenStackModule):

    argument_spec = dict(
        hosts=dict(type='list', elements='str', required=True,
                   aliases=['host']),
        state=dict(default='drained',
                   choices=['drained', 'enabled', 'restored']),
        max_parallel=dict(type='int', default=2),
        max_per_target=dict(type='int', default=1),
        target_hosts=dict(type='list', elements='str'),
        target_aggregate=dict(),
        no_live=dict(type='bool', default=False),
        confirm=dict(type='bool', default=True),
        stuck_after=dict(type='int', default=300),
        on_stuck=dict(default='abort',
                      choices=['abort', 'force-complete', 'wait']),
        timeout=dict(type='int'),
        max_failures=dict(type='int', default=1),
        retry=dict(type='bool', default=False),
        poll_interval=dict(type='float', default=2.0),
        allow_partial=dict(type='bool', default=False),
        disable_reason=dict(),
        enable_when_done=dict(type='bool', default=False),
        up_timeout=dict(type='int', default=300),
        report=dict(type='path'),
        **SSH_SPEC
    )
    module_kwargs = dict(
        supports_check_mode=True,
        mutually_exclusive=[('target_hosts', 'target_aggregate')],
    )

    def options(self):
        from migrationclient.engine.drain import api
        p = self.params
        api.check_reason(p['disable_reason'])
        return api.options(
            max_parallel=p['max_parallel'],
            max_per_target=p['max_per_target'],
            target_hosts=tuple(p['target_hosts'] or ()),
            no_live=p['no_live'], confirm=p['confirm'],
            stuck_after=p['stuck_after'] or None, on_stuck=p['on_stuck'],
            timeout=p['timeout'], max_failures=p['max_failures'],
            retry=p['retry'], poll_interval=p['poll_interval'],
            allow_partial=p['allow_partial'])

    def run(self):
        from migrationclient.engine.drain import api
        p = self.params
        hosts = [h for h in p['hosts'] if h]
        if not hosts:
            self.fail_json(msg='hosts: name at least one compute host')
        opts = self.options()
        ssh = self.ssh_options()
        if ssh is not None and p['state'] != 'drained':
            self.fail_json(msg='ssh reads the hosts\' facts for a drain: '
                           'only with state=drained')
        compute = self.conn.compute
        if p['state'] != 'drained' and p['up_timeout'] > 0:
            api.wait_up(compute, self.conn, hosts, p['up_timeout'])
        if p['state'] == 'drained':
            extra = {} if ssh is None else dict(
                ssh_options=ssh, ssh_optional=p['ssh']['optional'])
            out = api.drained(compute, self.conn, hosts, opts,
                              check=self.check_mode, report_path=p['report'],
                              disable_reason=p['disable_reason'],
                              enable_when_done=p['enable_when_done'],
                              target_aggregate=p['target_aggregate'],
                              **extra)
        elif p['state'] == 'enabled':
            out = api.enabled(compute, self.conn, hosts,
                              check=self.check_mode, report_path=p['report'])
        else:
            drain_report = p['report'] or api.drain_report_path(
                compute, self.conn, hosts)
            out = api.restored(compute, self.conn, drain_report, opts,
                               check=self.check_mode)
        self.results = dict(changed=out.changed, report_path=out.report_path,
                            plan=out.plan, capacity=out.capacity,
                            report=out.report,
                            servers_left=out.left, status=out.status,
                            notes=list(out.notes))
        if out.left and not self.check_mode:
            self.fail_json(msg=left_message(hosts, out.left),
                           **self.results)


def left_message(hosts, left):
    """One line naming every server left and why."""
    return '%s: %d server(s) left: %s' % (
        ', '.join(hosts), len(left), '; '.join(
            '%s (%s) on %s: %s: %s' % (s['name'] or '-', s['server'],
                                       s['host'], s['state'], s['reason'])
            for s in left))


def main():
    module = ComputeDrainModule()
    module()


if __name__ == '__main__':
    main()
