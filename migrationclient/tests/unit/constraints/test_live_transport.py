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

"""The ``transport`` rule, fed by transport facts parsed from recorded
check outputs (``samples/host/transport-*.txt``).
"""

import dataclasses

import testtools

from migrationclient.constraints import evaluate
from migrationclient.constraints import model as f
from migrationclient.constraints import rules
from migrationclient.host import transport as host_transport
from migrationclient.tests.unit.constraints import base
from migrationclient.tests.unit.host import base as host_base

SSH = f.TransportFacts(scheme='ssh', address='192.0.2.12', port=2022,
                       user='nova_migration',
                       key_file='/etc/nova/migration/identity')


def _facts(name, facts=SSH):
    return host_transport.parse_output(
        host_base.sample('transport-%s.txt' % name), facts)


class TestTransportRule(testtools.TestCase):

    def check(self, facts, side=True, others=None):
        hosts = base.two_hosts()
        if side:
            transport = dict(others or {})
            if facts is not None:
                transport['host2'] = facts
            hosts[0] = dataclasses.replace(hosts[0], host_side=(
                f.HostSideFacts(transport=transport)))
        snap = base.snapshot([base.server()], hosts)
        server = next(iter(snap.servers.values()))
        found = rules.transport(server, snap.hosts['host1'],
                                snap.hosts['host2'], snap)
        self.assertEqual(1, len(found))
        self.assertEqual((f.LIVE,), found[0].applies_to)
        return found[0], evaluate.evaluate(snap, server.id, 'host2')

    def test_without_ssh_not_checked(self):
        finding, ev = self.check(None, side=False)
        self.assertEqual(f.NOT_CHECKED, finding.severity)
        self.assertIn('not checked (--ssh checks from the source',
                      finding.message)
        self.assertEqual('yes', ev.verdict(f.LIVE).label)

    def test_destination_not_read(self):
        finding, _ev = self.check(None, others={'host3': _facts('ssh-ok')})
        self.assertEqual(f.NOT_CHECKED, finding.severity)
        self.assertIn('host2 not read over SSH', finding.message)

    def test_nothing_checked_from_the_source(self):
        # e.g. compute drain --ssh: host facts read, no transport check;
        # the finding names no destination (the planner shares it)
        finding, ev = self.check(None)
        self.assertEqual(f.NOT_CHECKED, finding.severity)
        self.assertEqual(
            'live migration transport from host1 not checked: no '
            'destination was checked from it (migration precheck --ssh '
            'checks the destinations it reads); cold migration uses its '
            'own ssh / '
            'rsync between the computes, not checked', finding.message)
        self.assertNotIn('host2', finding.message)
        self.assertEqual('yes', ev.verdict(f.LIVE).label)

    def test_answers(self):
        finding, ev = self.check(_facts('ssh-ok'))
        self.assertEqual(f.OK, finding.severity)
        self.assertIn('ssh://nova_migration@192.0.2.12:2022 answers from '
                      'host1 (as migtest, key /var/lib/nova/.ssh/'
                      'id_ed25519)', finding.message)
        self.assertIn('cold migration uses its own ssh / rsync',
                      finding.message)
        self.assertEqual('yes', ev.verdict(f.LIVE).label)

    def test_each_missing_piece_is_named(self):
        cases = {
            'ssh-refused': ('nothing listens on port 2022 at 192.0.2.12',
                            'start sshd on port 2022'),
            'ssh-nokey': ('migtest on host1 has no SSH key',
                          '/etc/nova/migration/identity'),
            'ssh-hostkey-unknown': ('SSH host key of ssh://nova_migration@'
                                    '192.0.2.12:2022 is unknown to migtest',
                                    'ssh-keyscan -p 2022 192.0.2.12'),
            'ssh-hostkey-changed': ('CHANGED', 'check its key'),
            'ssh-denied': ('refused the key of migtest on host1',
                           'authorized_keys'),
            'ssh-dns': ('host1 cannot resolve the migration address',
                        'live_migration_inbound_addr'),
        }
        for name, (message, remedy) in cases.items():
            finding, ev = self.check(_facts(name))
            self.assertEqual(f.BLOCKER, finding.severity, name)
            self.assertIn(message, finding.message, name)
            self.assertIn('the live migration would fail', finding.message)
            self.assertIn(remedy, finding.remedy, name)
            self.assertEqual(('no', 'yes'), (ev.verdict(f.LIVE).label,
                                             ev.verdict(f.COLD).label))

    def test_tcp_refused(self):
        tcp = f.TransportFacts(scheme='tcp', address='192.0.2.12',
                               port=16509)
        finding, _ev = self.check(_facts('tcp-refused', tcp))
        self.assertIn('tcp://192.0.2.12:16509 refused', finding.message)
        self.assertIn('libvirtd listen on tcp port 16509', finding.remedy)

    def test_could_not_tell_is_not_a_maybe(self):
        finding, ev = self.check(_facts('ssh-sudo-refused'))
        self.assertEqual(f.NOT_CHECKED, finding.severity)
        self.assertIn('cannot run the check as user nova', finding.message)
        self.assertEqual('yes', ev.verdict(f.LIVE).label)
