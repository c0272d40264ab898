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

"""host.transport: the endpoint from nova.conf, the check, its output.

Outputs: ``samples/host/transport-*.txt`` (recorded on the SSH test hosts,
see the samples' README).
"""

import shlex

import testtools

from migrationclient.constraints import model as cf
from migrationclient.host import novaconf
from migrationclient.host import ssh
from migrationclient.host import transport
from migrationclient.tests.unit.host import base

OSP = novaconf.parse(
    '[libvirt]\nlive_migration_uri = qemu+ssh://nova_migration@%s:2022/'
    'system?keyfile=/etc/nova/migration/identity\n')
DEST = novaconf.parse('[libvirt]\nlive_migration_inbound_addr = '
                      '192.0.2.12\n')


def _conf(text):
    return novaconf.parse(text)


class TestEndpoint(testtools.TestCase):

    def test_osp_ssh_on_2022_as_nova_migration(self):
        facts = transport.endpoint(OSP, DEST, 'compute2')
        self.assertEqual(
            ('ssh', '192.0.2.12', 2022, 'nova_migration',
             '/etc/nova/migration/identity', None),
            (facts.scheme, facts.address, facts.port, facts.user,
             facts.key_file, facts.answered))

    def test_default_scheme_is_tcp_on_16509_to_the_host_name(self):
        facts = transport.endpoint(_conf(''), _conf(''), 'compute2')
        self.assertEqual(('tcp', 'compute2', 16509, None),
                         (facts.scheme, facts.address, facts.port,
                          facts.user))
        self.assertEqual('qemu+tcp://compute2/system', facts.uri)

    def test_tls_scheme_and_inbound_address(self):
        facts = transport.endpoint(
            _conf('[libvirt]\nlive_migration_scheme = tls\n'
                  'live_migration_tunnelled = true\n'), DEST, 'compute2')
        self.assertEqual(('tls', '192.0.2.12', 16514, True),
                         (facts.scheme, facts.address, facts.port,
                          facts.tunnelled))

    def test_ipv6_inbound_address(self):
        facts = transport.endpoint(
            _conf('[libvirt]\nlive_migration_scheme = ssh\n'),
            _conf('[libvirt]\nlive_migration_inbound_addr = 2001:db8::5\n'),
            'compute2')
        self.assertEqual(('2001:db8::5', 22), (facts.address, facts.port))

    def test_confs_not_read(self):
        facts = transport.endpoint(None, DEST, 'compute2')
        self.assertIsNone(facts.address)
        self.assertIn('source nova.conf was not read', facts.detail)
        facts = transport.endpoint(_conf(''), None, 'compute2')
        self.assertIsNone(facts.address)
        self.assertIn('destination nova.conf was not read', facts.detail)
        # a URI with the address in it needs no destination conf
        facts = transport.endpoint(OSP, None, 'compute2')
        self.assertEqual('compute2', facts.address)

    def test_scheme_without_a_check(self):
        facts = transport.endpoint(
            _conf('[libvirt]\nlive_migration_uri = qemu+unix:///system\n'),
            DEST, 'compute2')
        self.assertIsNone(facts.address)
        self.assertIn('not checked', facts.detail)

    def test_hostile_values_are_refused(self):
        for inbound in ('a;reboot', '$(reboot)', '-oProxyCommand=x',
                        'a b', '..'):
            facts = transport.endpoint(_conf(''), _conf(
                '[libvirt]\nlive_migration_inbound_addr = %s\n' % inbound),
                'compute2')
            self.assertIsNone(facts.address, inbound)
            self.assertIn('refusing', facts.detail)
        facts = transport.endpoint(_conf(
            '[libvirt]\nlive_migration_uri = qemu+ssh://-oProxyCommand=x@'
            '%s/system\n'), DEST, 'compute2')
        self.assertIn('refusing migration user', facts.detail)


class TestCheckCommand(testtools.TestCase):

    def test_every_word_quoted_variables_are_parameters(self):
        facts = transport.endpoint(OSP, DEST, 'compute2')
        command = transport.check_command(facts)
        self.assertFalse(command.needs_root)
        words = shlex.split(command.render())
        self.assertEqual(['env', 'LC_ALL=C', 'sh', '-c'], words[:4])
        # the program texts are fixed; the values follow as parameters
        self.assertEqual(
            ['nova', 'ssh', '192.0.2.12', '2022', 'nova_migration',
             '/etc/nova/migration/identity', '0', '5'], words[7:])
        self.assertNotIn('192.0.2.12', words[4] + words[6])

    def test_no_verify(self):
        facts = transport.endpoint(_conf(
            '[libvirt]\nlive_migration_uri = qemu+ssh://%s/system'
            '?no_verify=1\n'), DEST, 'compute2')
        self.assertEqual('1', shlex.split(
            transport.check_command(facts).render())[-2])

    def test_refuses_what_it_cannot_quote_safely(self):
        facts = cf.TransportFacts(scheme='ssh', address='h', port=22,
                                  user='x;y')
        self.assertRaises(transport.InvalidEndpoint,
                          transport.check_command, facts)
        facts = cf.TransportFacts(scheme='unix', address='h', port=22)
        self.assertRaises(transport.InvalidEndpoint,
                          transport.check_command, facts)
        for port in (0, 65536, 'x'):
            self.assertRaises(transport.InvalidEndpoint,
                              transport.validate_port, port)
        self.assertRaises(transport.InvalidEndpoint,
                          transport.validate_path, '/a/../etc/shadow')


class TestParseOutput(testtools.TestCase):

    SSH = cf.TransportFacts(scheme='ssh', address='127.0.0.3', port=2022,
                            user='migtest')
    TCP = cf.TransportFacts(scheme='tcp', address='127.0.0.3', port=16509)

    def parse(self, name, facts=None):
        return transport.parse_output(
            base.sample('transport-%s.txt' % name),
            facts or (self.TCP if name.startswith('tcp') else self.SSH))

    def test_answers(self):
        ok = self.parse('ssh-ok')
        self.assertEqual((True, None, 'migtest',
                          '/var/lib/nova/.ssh/id_ed25519'),
                         (ok.answered, ok.problem, ok.run_as, ok.key_file))
        self.assertTrue(self.parse('tcp-ok').answered)

    def test_each_missing_piece(self):
        cases = {
            'ssh-refused': ('refused', 'port 1: Connection refused'),
            'ssh-nokey': ('no-key', 'key: none /var/lib/nova/.ssh'),
            'ssh-hostkey-unknown': ('host-key-unknown',
                                    'Host key verification failed'),
            'ssh-hostkey-changed': ('host-key-changed',
                                    'has changed and you have requested'),
            'ssh-denied': ('permission-denied', 'root@127.0.0.3: '
                           'Permission denied (publickey)'),
            'ssh-dns': ('dns', 'Could not resolve hostname nosuch.invalid'),
            'tcp-refused': ('refused', 'Connection refused'),
            'tcp-dns': ('dns', 'Name or service not known'),
        }
        for name, (problem, detail) in cases.items():
            facts = self.parse(name)
            self.assertEqual((False, problem), (facts.answered,
                                                facts.problem), name)
            self.assertIn(detail, facts.detail, name)

    def test_a_forced_command_that_refuses_true_still_answered(self):
        text = base.sample('transport-ssh-ok.txt').replace(
            'rc=0', 'rc=1\nerr: Denied')
        self.assertTrue(transport.parse_output(text, self.SSH).answered)

    def test_could_not_tell(self):
        facts = self.parse('ssh-sudo-refused')
        self.assertIsNone(facts.answered)
        self.assertIn('cannot run the check as user nova', facts.detail)
        self.assertIn('password is required', facts.detail)
        facts = transport.parse_output('runas=x\ntool=none\nrc=127\n',
                                       self.TCP)
        self.assertIsNone(facts.answered)
        self.assertIn('no bash or nc', facts.detail)

    def test_key_file_not_readable_is_not_a_no(self):
        text = base.sample('transport-ssh-nokey.txt').replace(
            'key=none /var/lib/nova/.ssh',
            'key=unreadable /etc/nova/migration/identity')
        facts = transport.parse_output(text, self.SSH)
        self.assertIsNone(facts.answered)
        self.assertIn('/etc/nova/migration/identity is not readable as '
                      'migtest', facts.detail)

    def test_timeout(self):
        facts = transport.parse_output('runas=x\ntool=bash\nrc=124\n',
                                       self.TCP)
        self.assertEqual((False, 'timeout'), (facts.answered,
                                              facts.problem))

    def test_not_its_output(self):
        self.assertRaises(ValueError, transport.parse_output,
                          'Welcome to the machine\n', self.TCP)


class _Pool:
    """A HostPool double: one recorded output per source host."""

    options = ssh.SSHOptions(timeout=3)

    def __init__(self, outputs):
        self.outputs = outputs
        self.commands = []

    def run_parsed(self, host, command, parser, timeout=None):
        self.commands.append((host, command.label))
        out = self.outputs[host]
        if isinstance(out, Exception):
            raise out
        return parser(out)


class TestCheckPairs(testtools.TestCase):

    def test_pairs(self):
        pool = _Pool({'compute1': base.sample('transport-ssh-ok.txt'),
                      'compute2': base.sample('transport-tcp-refused.txt'),
                      'compute3': ssh.HostUnreachable('compute3', 'gone')})
        confs = {'compute1': OSP, 'compute2': DEST, 'compute3': OSP}
        found = transport.check_pairs(
            pool, [('compute1', 'compute2'), ('compute3', 'compute2'),
                   ('compute2', 'compute1')], confs)
        self.assertTrue(found[('compute1', 'compute2')].answered)
        self.assertIsNone(found[('compute3', 'compute2')].answered)
        self.assertIn('gone', found[('compute3', 'compute2')].detail)
        # compute2's own URI is the default tcp one, to compute1's name
        # (compute1's conf has no inbound address: its host name)
        back = found[('compute2', 'compute1')]
        self.assertEqual(('tcp', 'compute1', 'refused'),
                         (back.scheme, back.address, back.problem))
        self.assertEqual(
            {('compute1', 'migration transport check '
              'ssh://192.0.2.12:2022'),
             ('compute3', 'migration transport check '
              'ssh://192.0.2.12:2022')},
            {c for c in pool.commands if c[0] != 'compute2'})
