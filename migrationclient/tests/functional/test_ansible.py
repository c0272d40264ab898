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

"""The openstack.migration Ansible collection on the test bed.

Real ``ansible-playbook`` runs (local connection, an inventory of the
bed's three compute hosts, the bed's clouds.yaml) of the collection's
``rolling_maintenance.yml`` and of small playbooks of ``compute_drain``:
rolling maintenance with ``serial: 1``, check mode, idempotence, the drain
claim, a failing host stopping the play, and ``serial: 2`` over two hosts
sharing one target keeping the per-target limit.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap

from testtools import content

from migrationclient.tests.functional import base
from migrationclient.tests.functional.v1 import test_drain
from testbed import fakecloud

TOP = pathlib.Path(__file__).resolve().parents[3]
COLLECTION = TOP / 'ansible_collections' / 'openstack' / 'migration'
PLAYBOOK = COLLECTION / 'playbooks' / 'rolling_maintenance.yml'
HOSTS = ('compute1', 'compute2', 'compute3')
FAST = {'maintenance_cloud': fakecloud.CLOUD_ADMIN, 'drain_poll_interval': 1,
        'maintenance_up_timeout': 60}


class AnsibleTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='ansible-func-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self._restore_services)
        self.compute = self.connection().compute
        self.inventory = os.path.join(self.tmp, 'inventory.ini')
        with open(self.inventory, 'w') as stream:
            stream.write(textwrap.dedent('''\
                localhost ansible_connection=local \
                ansible_python_interpreter=%(py)s
                [compute]
                %(hosts)s
                [compute:vars]
                ansible_connection=local
                ansible_python_interpreter=%(py)s
                ''') % {'py': sys.executable, 'hosts': '\n'.join(HOSTS)})

    def _restore_services(self):
        for svc in self.compute.services(binary='nova-compute'):
            if svc.status != 'enabled':
                self.compute.enable_service(svc, host=svc.host,
                                            binary='nova-compute')

    def playbook(self, path, *args, extra=None, expect=0):
        env = dict(self.bed.env(), XDG_STATE_HOME=self.tmp,
                   ANSIBLE_HOME=os.path.join(self.tmp, 'ansible-home'),
                   ANSIBLE_COLLECTIONS_PATH=str(TOP),
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.tmp, 'ansible-tmp'),
                   ANSIBLE_REMOTE_TMP=os.path.join(self.tmp, 'remote-tmp'),
                   ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
                   ANSIBLE_PIPELINING='1',
                   ANSIBLE_DEPRECATION_WARNINGS='0',
                   ANSIBLE_CALLBACK_RESULT_FORMAT='json')
        extra = dict(FAST, **(extra or {}))
        cmd = [os.path.join(os.path.dirname(sys.executable),
                            'ansible-playbook'), '-i', self.inventory,
               '-e', json.dumps(extra), str(path)] + list(args)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=400, cwd=self.tmp)
        self.addDetail('ansible-playbook %s %s' % (
            os.path.basename(str(path)), ' '.join(args)),
            content.text_content('rc=%d\n%s\n%s' % (
                proc.returncode, proc.stdout, proc.stderr)))
        self.assertEqual(expect, proc.returncode,
                         proc.stdout[-4000:] + proc.stderr[-2000:])
        return proc

    def write_play(self, name, tasks, hosts='compute1'):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as stream:
            stream.write(textwrap.dedent('''\
                - hosts: %s
                  gather_facts: false
                  tasks:
                ''') % hosts)
            stream.write(textwrap.indent(textwrap.dedent(tasks), '    '))
        return path

    def servers_now(self, servers):
        return {s.id: (self.compute.get_server(s.id).compute_host,
                       self.compute.get_server(s.id).status)
                for s in servers}

    def services(self):
        return {s.host: (s.status, s.disabled_reason)
                for s in self.compute.services(binary='nova-compute')}

    @staticmethod
    def recap(proc, host):
        """``{'ok': n, 'changed': n, 'failed': n}`` of ``host``."""
        for line in proc.stdout.splitlines():
            words = line.split()
            if words and words[0] == host and ':' in words:
                return {k: int(v) for k, v in (
                    w.split('=') for w in words[2:] if '=' in w)}
        raise AssertionError('no recap for %s' % host)


DRAIN_TASK = '''\
- openstack.migration.compute_drain:
    cloud: %s
    host: "{{ inventory_hostname }}"
    state: %%s
    poll_interval: 1
  delegate_to: localhost
''' % fakecloud.CLOUD_ADMIN


class TestRollingMaintenance(AnsibleTestCase):

    def test_check_then_serial_one_drains_maintains_enables(self):
        servers = [self.create_server('image', host='compute1'),
                   self.create_server('shutoff', host='compute1'),
                   self.create_server('image', host='compute2'),
                   self.create_server('image', host='compute3')]
        before = self.servers_now(servers)
        services = self.services()

        # Check mode: the plan of each host, and nothing changes.
        proc = self.playbook(PLAYBOOK, '--check',
                             extra={'maintenance_precheck': False})
        self.assertEqual(before, self.servers_now(servers))
        self.assertEqual(services, self.services())
        self.assertEqual([], [m for m in self.compute.migrations()
                              if m.server_id in {s.id for s in servers}])
        for host in HOSTS:
            self.assertEqual(0, self.recap(proc, host)['failed'])

        proc = self.playbook(PLAYBOOK)
        # Each host in turn: drained, maintained, enabled, then the next.
        out = proc.stdout
        marks = [out.index('%s is drained' % h) for h in HOSTS]
        self.assertEqual(sorted(marks), marks)
        for host in HOSTS:
            self.assertEqual(0, self.recap(proc, host)['failed'])
        # Every server is there, with the status it had; every host is
        # enabled again; each drain's migrations left its host only
        # after the previous host's drain ended.
        after = self.servers_now(servers)
        self.assertEqual({k: v[1] for k, v in before.items()},
                         {k: v[1] for k, v in after.items()})
        self.assertEqual({h: 'enabled' for h in HOSTS},
                         {h: s[0] for h, s in self.services().items()})
        migs = sorted((m for m in self.compute.migrations()
                       if m.server_id in {s.id for s in servers}),
                      key=lambda m: m.created_at)
        sources = [m.source_compute for m in migs]
        self.assertEqual(sorted(sources, key=HOSTS.index), sources)
        self.assertEqual(set(HOSTS), set(sources))
        for m in migs:
            self.assertIn(m.status, ('completed', 'confirmed'))


class TestSerialTwoSharedTarget(AnsibleTestCase):

    def test_serial_two_keeps_the_per_target_limit(self):
        sources, target = ('compute1', 'compute2'), 'compute3'
        servers = [self.create_server(
            'image', host=host, name='%s-wave-%d' % (host, n),
            metadata={fakecloud.META_HOLD: '3'})
            for host in sources for n in range(2)]
        before = self.servers_now(servers)
        # One wave of two hosts, drained by two forks of one
        # ansible-playbook (one XDG_STATE_HOME, as on one control node),
        # every server to the one target, one migration into it at a time.
        proc = self.playbook(PLAYBOOK, '--limit', ','.join(sources), extra={
            'maintenance_serial': 2, 'maintenance_precheck': False,
            'drain_target_hosts': [target], 'drain_max_per_target': 1,
            'drain_max_parallel': 2})
        # One wave: one drain task for both hosts, run by two forks.
        self.assertEqual(1, proc.stdout.count('TASK [Drain the host]'))
        for host in sources:
            self.assertEqual(0, self.recap(proc, host)['failed'])
            self.assertIn('%s is drained' % host, proc.stdout)
        ids = {s.id for s in servers}
        records = [m for m in self.compute.migrations()
                   if m.server_id in ids]
        spans = '\n'.join('%s %s->%s %s %s..%s' % (
            m.server_id, m.source_compute, m.dest_compute, m.status,
            m.created_at, m.updated_at)
            for m in sorted(records, key=lambda m: m.created_at))
        self.addDetail('records', content.text_content(spans))
        self.assertEqual(4, len(records), spans)
        self.assertEqual({target}, {m.dest_compute for m in records}, spans)
        self.assertEqual(set(sources), {m.source_compute for m in records})
        self.assertEqual({'completed'}, {m.status for m in records}, spans)
        # Two drains at once, yet never two migrations in progress into
        # the target at the same time.
        self.assertEqual(1, test_drain.max_overlap(records, 'dest_compute'),
                         spans)
        # Every server on the target with the status it had; both hosts
        # drained (and enabled again by the play).
        self.assertEqual({k: (target, v[1]) for k, v in before.items()},
                         self.servers_now(servers))
        self.assertEqual({h: 'enabled' for h in sources + (target,)},
                         {h: s[0] for h, s in self.services().items()})


class TestComputeDrainModule(AnsibleTestCase):

    def test_idempotent_drain_enable_restore_and_the_claim(self):
        server = self.create_server('image', host='compute1')
        drained = self.write_play('drained.yml', DRAIN_TASK % 'drained')
        enabled = self.write_play('enabled.yml', DRAIN_TASK % 'enabled')
        restored = self.write_play('restored.yml', DRAIN_TASK % 'restored')

        proc = self.playbook(drained)
        self.assertEqual(1, self.recap(proc, 'compute1')['changed'])
        self.assertNotEqual('compute1',
                            self.compute.get_server(server.id).compute_host)
        status, reason = self.services()['compute1']
        self.assertEqual('disabled', status)
        self.assertIn('[drain:', reason)
        # Drained already: nothing to do.
        proc = self.playbook(drained)
        self.assertEqual(0, self.recap(proc, 'compute1')['changed'])
        self.assertEqual((status, reason), self.services()['compute1'])

        proc = self.playbook(enabled)
        self.assertEqual(1, self.recap(proc, 'compute1')['changed'])
        self.assertEqual('enabled', self.services()['compute1'][0])
        proc = self.playbook(enabled)
        self.assertEqual(0, self.recap(proc, 'compute1')['changed'])

        proc = self.playbook(restored)
        self.assertEqual(1, self.recap(proc, 'compute1')['changed'])
        now = self.compute.get_server(server.id)
        self.assertEqual(('compute1', 'ACTIVE'), (now.compute_host,
                                                  now.status))
        proc = self.playbook(restored)
        self.assertEqual(0, self.recap(proc, 'compute1')['changed'])

        # Someone else's disable is never undone.
        svc = [s for s in self.compute.services(binary='nova-compute')
               if s.host == 'compute2'][0]
        self.compute.disable_service(svc, host='compute2',
                                     binary='nova-compute',
                                     disabled_reason='rack 4 power')
        other = self.write_play('other.yml', DRAIN_TASK % 'enabled',
                                hosts='compute2')
        proc = self.playbook(other, expect=2)
        self.assertIn('nova-compute on compute2 is not enabled', proc.stdout)
        self.assertEqual(('disabled', 'rack 4 power'),
                         self.services()['compute2'])

    def test_failing_host_stops_the_play_naming_servers_left(self):
        broken = self.create_server('error', host='compute1')
        fine = self.create_server('image', host='compute2')
        proc = self.playbook(PLAYBOOK, expect=2)
        self.assertIn('compute1: cannot move %s' % broken.id, proc.stdout)
        self.assertIn('compute1: 1 server(s) left: %s (%s) on compute1: '
                      'skipped: server is in ERROR'
                      % (broken.name, broken.id), proc.stdout)
        # The play stopped: compute2 was never drained.
        self.assertNotIn('compute2 is drained', proc.stdout)
        self.assertEqual('compute2',
                         self.compute.get_server(fine.id).compute_host)
        self.assertEqual('enabled', self.services()['compute2'][0])


INFO_TASKS = '''\
- openstack.migration.server_migration_info:
    cloud: %(cloud)s
    host: compute1
  delegate_to: localhost
  register: moving
- openstack.migration.migration_precheck_info:
    cloud: %(cloud)s
    servers: ["%(still)s"]
  delegate_to: localhost
  register: precheck
- ansible.builtin.copy:
    content: "{{ {'moving': moving, 'precheck': precheck} | to_json }}"
    dest: %(out)s
  delegate_to: localhost
'''


class TestInfoModules(AnsibleTestCase):

    def test_migrations_in_progress_and_precheck_rows(self):
        held = self.create_server('image', host='compute1',
                                  metadata={fakecloud.META_HOLD: '60'})
        still = self.create_server('image', host='compute2')
        self.compute.live_migrate_server(held, host=None,
                                         block_migration='auto')
        self.addCleanup(self._abort, held)
        mig = self.wait_for_migration(held, ('running',))
        out = os.path.join(self.tmp, 'info.json')
        play = self.write_play('info.yml', INFO_TASKS % {
            'cloud': fakecloud.CLOUD_ADMIN, 'still': still.id, 'out': out})
        self.playbook(play)
        with open(out) as stream:
            found = json.load(stream)
        self.assertFalse(found['moving']['changed'])
        self.assertFalse(found['precheck']['changed'])
        moving = found['moving']['migrations']
        self.assertEqual([(mig.id, held.id, 'running', 'compute1')],
                         [(m['id'], m['server_id'], m['status'], m['source'])
                          for m in moving])
        self.assertIn('memory', moving[0])
        rows = found['precheck']['rows']
        self.assertEqual({still.id}, {r['server'] for r in rows})
        self.assertEqual({'compute1', 'compute3'},
                         {r['destination'] for r in rows} - {''})
        self.assertEqual([], found['precheck']['blocked'])

    def _abort(self, server):
        for m in self.compute.server_migrations(server):
            try:
                self.compute.abort_server_migration(m.id, server)
            except Exception:
                pass
