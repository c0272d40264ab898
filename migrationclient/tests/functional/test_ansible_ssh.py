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

"""The collection's ``ssh`` option on the test bed, with real sshd hosts.

``migration_precheck_info`` and ``compute_drain`` (check mode) run by a
real ``ansible-playbook`` with the ``ssh`` option reaching the SSH test
hosts backed by the libvirt bed (:meth:`testbed.sshhosts.SSHHosts.from_bed`:
each compute's domains, free huge pages, NUMA cells and running nova.conf),
as ``--ssh`` reaches them.  A huge page guest: without host facts its
verdicts and its planned destination are "maybe"; with them, yes or no.
"""

import json
import os

import fixtures
from testtools import content

from migrationclient.tests.functional import test_ansible
from testbed import fakecloud

COMPARED = ('Server', 'Source', 'Destination', 'Live', 'Cold',
            'Blockers', 'Warnings')
MODULE_KEYS = ('server', 'source', 'destination', 'live', 'cold',
               'blockers', 'warnings')


def table(rows, keys):
    """(server, source, destination) -> the rest of ``keys``."""
    keyed = {}
    for row in rows:
        values = [row[k] for k in keys]
        keyed[tuple(values[:3])] = tuple(
            sorted(v) if isinstance(v, list) else v for v in values[3:])
    return keyed


def ssh_option(cli_args):
    """The ``ssh`` option of the CLI's ``--ssh-*`` arguments."""
    ssh, args = {'hosts': {}}, list(cli_args)
    flags = {'--ssh-no-agent': 'no_agent', '--ssh-sudo': 'sudo',
             '--ssh-accept-new-host-key': 'accept_new_host_key'}
    while args:
        arg = args.pop(0)
        if arg in flags:
            ssh[flags[arg]] = True
        elif arg == '--ssh-host':
            host, _sep, address = args.pop(0).partition('=')
            ssh['hosts'][host] = address
        elif arg == '--ssh-key':
            ssh.setdefault('key', []).append(args.pop(0))
        else:
            ssh[arg[len('--ssh-'):].replace('-', '_')] = args.pop(0)
    return ssh


class TestHostFactsOverSSH(test_ansible.AnsibleTestCase):

    BED_DRIVER = 'libvirt'

    def setUp(self):
        super().setUp()
        from testbed import sshhosts
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        # ansible-playbook, its modules and the CLI import this tree
        self.useFixture(fixtures.EnvironmentVariable('PYTHONPATH', ':'.join(
            p for p in (str(test_ansible.TOP),
                        os.environ.get('PYTHONPATH')) if p)))
        self.hosts = self.useFixture(sshhosts.SSHHosts.from_bed(
            self.bed.endpoints['control']))
        self.cli_args = self.hosts.ssh_args()
        self.ssh = ssh_option(self.cli_args)

    def results(self, tasks, *args, expect=0):
        """Run ``tasks`` (each registers ``r<n>``); their results."""
        out = os.path.join(self.tmp, 'results.json')
        names = ['r%d' % n for n in range(len(tasks))]
        body = ''.join(tasks) + (
            '- ansible.builtin.copy:\n'
            '    content: "{{ %s | to_json }}"\n'
            '    dest: %s\n'
            '  delegate_to: localhost\n'
            '  check_mode: false\n') % (
                '[%s]' % ', '.join(names), out)
        self.playbook(self.write_play('play.yml', body), *args,
                      expect=expect)
        with open(out) as stream:
            return dict(zip(names, json.load(stream)))

    def task(self, n, module, ignore_errors=False, **args):
        args.setdefault('cloud', fakecloud.CLOUD_ADMIN)
        return ('- openstack.migration.%s: %s\n'
                '  register: r%d\n'
                '  delegate_to: localhost\n%s') % (
                    module, json.dumps(args), n,
                    '  ignore_errors: true\n' if ignore_errors else '')

    def test_precheck_info_gives_the_commands_ssh_verdicts(self):
        server = self.create_server('hugepages', host='compute1')
        cli = self.openstack_json('migration', 'precheck', server.id,
                                  '--ssh', *self.cli_args, check=False)
        got = self.results([
            self.task(0, 'migration_precheck_info', servers=[server.id],
                      ssh=self.ssh),
            self.task(1, 'migration_precheck_info', servers=[server.id])])
        self.addDetail('cli', content.json_content(cli))
        self.addDetail('module', content.json_content(got))
        with_ssh, api_only = got['r0'], got['r1']
        # the command's --ssh verdicts, row for row
        self.assertEqual(table(cli, COMPARED),
                         table(with_ssh['rows'], MODULE_KEYS))
        self.assertEqual(['compute1', 'compute2', 'compute3'],
                         with_ssh['ssh_read'])
        self.assertEqual([], with_ssh['ssh_unread'])
        # what the host facts decided: maybe without them, none with them
        verdicts = {r['destination']: (r['live'], r['cold'])
                    for r in with_ssh['rows']}
        self.assertIn('maybe', [v for r in api_only['rows']
                                for v in (r['live'], r['cold'])])
        self.assertNotIn('maybe', [v for pair in verdicts.values()
                                   for v in pair], verdicts)
        self.assertEqual(([], []), (api_only['ssh_read'],
                                    api_only['ssh_unread']))

    def test_drain_check_mode_plans_on_host_facts_changes_nothing(self):
        guest = self.create_server('hugepages', host='compute1')
        before = self.servers_now([guest])
        services = self.services()
        unreachable = dict(self.ssh, timeout=3, hosts={
            h: '127.0.0.1:1' for h in test_ansible.HOSTS})
        got = self.results([
            self.task(0, 'compute_drain', host='compute1', ssh=self.ssh),
            self.task(1, 'compute_drain', host='compute1'),
            self.task(2, 'compute_drain', host='compute1', ssh=unreachable,
                      ignore_errors=True)], '--check')
        self.addDetail('module', content.json_content(got))
        seen, blind, refused = got['r0'], got['r1'], got['r2']
        self.assertFalse(seen.get('failed'), seen)
        self.assertTrue(seen['changed'])
        self.assertIsNone(seen['report'])
        self.assertEqual([guest.id], [r['server'] for r in seen['plan']])

        def placement(result):
            found, = [p for p in result['capacity']['placements']
                      if p['server_id'] == guest.id]
            return found

        # as compute drain --dry-run --ssh: compute3 has no huge pages,
        # compute2 has them free: the plan is certain
        self.assertEqual(('compute2', 'live', True, []), (
            placement(seen)['destination'], placement(seen)['kind'],
            placement(seen)['certain'], placement(seen)['unknowns']))
        self.assertFalse(placement(blind)['certain'], placement(blind))
        self.assertTrue(placement(blind)['unknowns'], placement(blind))
        # the source's live limit from the nova.conf read over SSH
        self.assertTrue([n for n in seen['notes'] if 'compute1' in n and
                         'nova.conf' in n], seen['notes'])
        self.assertTrue(refused['failed'])
        self.assertIn('SSH: none of the 3 compute host(s) could be read '
                      '(compute1, compute2, compute3); nothing changed',
                      refused['msg'])
        self.assertEqual(before, self.servers_now([guest]))
        self.assertEqual(services, self.services())
        self.assertEqual([], [m for m in self.compute.migrations()
                              if m.server_id == guest.id])
