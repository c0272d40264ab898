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

"""The --ssh-* options (moved from tests/unit/host/test_ssh.py)."""

import argparse
import os
import subprocess  # nosec B404
import sys
import tempfile

import fixtures
import testtools

from migrationclient.host import ssh
from migrationclient.host import sshoptions
from migrationclient.v1 import ssh_options


def parse(*argv):
    parser = ssh_options.add_ssh_options(argparse.ArgumentParser())
    return parser.parse_args(list(argv))


class TestOptions(testtools.TestCase):

    def test_defaults(self):
        options = ssh_options.options_from_parsed_args(parse())
        self.assertTrue(options.allow_agent)
        self.assertFalse(options.accept_new_host_key)
        self.assertFalse(options.sudo)
        self.assertEqual(ssh.DEFAULT_TIMEOUT, options.timeout)
        self.assertEqual({}, options.host_map)

    def test_all(self):
        with tempfile.NamedTemporaryFile('w', suffix='.map') as handle:
            handle.write('# compute host -> ssh address\n'
                         'overcloud-compute-0 192.0.2.10\n'
                         'overcloud-compute-1 192.0.2.11:2222  # jump\n')
            handle.flush()
            options = ssh_options.options_from_parsed_args(parse(
                '--ssh-user', 'heat-admin', '--ssh-key', '/k1',
                '--ssh-key', '/k2', '--ssh-no-agent', '--ssh-port', '2200',
                '--ssh-proxy-jump', 'stack@undercloud', '--ssh-sudo',
                '--ssh-timeout', '2.5', '--ssh-host-map', handle.name,
                '--ssh-host', 'overcloud-compute-0=10.0.0.5'))
        self.assertEqual('heat-admin', options.user)
        self.assertEqual(('/k1', '/k2'), options.keys)
        self.assertFalse(options.allow_agent)
        self.assertEqual(2200, options.port)
        self.assertEqual('stack@undercloud', options.proxy_jump)
        self.assertTrue(options.sudo)
        self.assertEqual(2.5, options.timeout)
        self.assertEqual({'overcloud-compute-0': '10.0.0.5',
                          'overcloud-compute-1': '192.0.2.11:2222'},
                         options.host_map)

    def test_container(self):
        options = ssh_options.options_from_parsed_args(parse(
            '--ssh-virsh-container', 'nova_libvirt',
            '--ssh-container-engine', 'docker'))
        self.assertEqual(('nova_libvirt', 'docker'),
                         (options.virsh_container, options.container_engine))
        self.assertRaisesRegex(ValueError, 'refusing container name',
                               ssh_options.options_from_parsed_args,
                               parse('--ssh-virsh-container', '$(x)'))

    def test_no_password_option(self):
        parser = ssh_options.add_ssh_options(argparse.ArgumentParser())
        options = [o for action in parser._actions
                   for o in action.option_strings]
        self.assertFalse([o for o in options if 'pass' in o])

    def test_bad_values(self):
        for argv in (('--ssh-timeout', '0'), ('--ssh-timeout', 'x'),
                     ('--ssh-port', '70000')):
            self.assertRaises(SystemExit, parse, *argv)
        self.assertRaisesRegex(ValueError, '--ssh-host expects',
                               ssh_options.options_from_parsed_args,
                               parse('--ssh-host', 'nohost'))
        self.assertRaisesRegex(ValueError, 'cannot read --ssh-host-map',
                               ssh_options.options_from_parsed_args,
                               parse('--ssh-host-map', '/nonexistent/map'))

    def test_host_map_syntax(self):
        self.assertRaisesRegex(ValueError, 'm line 2',
                               sshoptions.parse_host_map,
                               'a 1.2.3.4\nb c d\n', source='m')


class TestChecks(testtools.TestCase):
    """Every --ssh-* file and address checked before any connection."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.key = self.file('id_ed25519', 'key\n')

    def file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def error(self, *argv):
        exc = self.assertRaises(ValueError, ssh_options.checked_options,
                                parse(*argv))
        self.assertNotIn('\n', str(exc))
        return str(exc)

    def test_good_files(self):
        config = self.file('config', 'Host *\n  User heat-admin\n')
        known = self.file('known_hosts', '')
        options = ssh_options.checked_options(parse(
            '--ssh-key', self.key, '--ssh-config', config,
            '--ssh-known-hosts', known, '--ssh-host', 'c0=10.0.0.5:2222',
            '--ssh-host', 'c1=[fd00::1]:22', '--ssh-host', 'c2=fd00::2'))
        self.assertEqual((self.key,), options.keys)
        self.assertEqual('10.0.0.5:2222', options.host_map['c0'])

    def test_missing_key(self):
        missing = os.path.join(self.dir, 'nokey')
        msg = self.error('--ssh-key', self.key, '--ssh-key', missing)
        self.assertIn('--ssh-key %s' % missing, msg)
        self.assertIn('No such file', msg)

    def test_unreadable_key(self):
        # a directory cannot be read as a file, whatever the user (root)
        msg = self.error('--ssh-key', self.dir)
        self.assertIn('--ssh-key %s: cannot read it' % self.dir, msg)

    def test_bad_port_in_ssh_host(self):
        for address in ('10.0.0.5:ssh', '10.0.0.5:0', '10.0.0.5:70000',
                        '[fd00::1]:x', '[fd00::1', 'u@10.0.0.5'):
            msg = self.error('--ssh-host', 'c0=%s' % address)
            self.assertIn('--ssh-host c0=%s' % address, msg)
        self.assertIn('not a number from 1 to 65535',
                      self.error('--ssh-host', 'c0=10.0.0.5:22x'))

    def test_bad_port_in_host_map(self):
        path = self.file('map', 'c0 10.0.0.5\nc1 10.0.0.6:x\n')
        msg = self.error('--ssh-host-map', path)
        self.assertIn('%s line 2' % path, msg)

    def test_bad_proxy_jump(self):
        self.assertIn('--ssh-proxy-jump', self.error(
            '--ssh-proxy-jump', 'stack@undercloud:abc'))

    def test_known_hosts(self):
        missing = os.path.join(self.dir, 'known')
        self.assertIn('--ssh-known-hosts %s: cannot read it' % missing,
                      self.error('--ssh-known-hosts', missing))
        self.assertIn('--ssh-known-hosts %s: cannot read it' % self.dir,
                      self.error('--ssh-known-hosts', self.dir))
        # trust on first use creates it: fine when its directory exists
        ssh_options.checked_options(parse(
            '--ssh-known-hosts', missing, '--ssh-accept-new-host-key'))
        self.assertIn('directory does not exist', self.error(
            '--ssh-known-hosts', os.path.join(missing, 'x'),
            '--ssh-accept-new-host-key'))

    def test_ssh_config(self):
        missing = os.path.join(self.dir, 'config')
        self.assertIn('--ssh-config %s: cannot read it' % missing,
                      self.error('--ssh-config', missing))
        self.assertIn('--ssh-config %s: cannot read it' % self.dir,
                      self.error('--ssh-config', self.dir))
        bad = self.file('bad', 'Host *\n  Port\n')
        self.assertIn('--ssh-config %s: cannot parse it' % bad,
                      self.error('--ssh-config', bad))

    def test_default_config_may_be_missing(self):
        self.useFixture(fixtures.EnvironmentVariable('HOME', self.dir))
        ssh_options.checked_options(parse())


class TestLazyImport(testtools.TestCase):

    def test_paramiko_not_imported_by_parser_setup(self):
        code = ('import sys, argparse\n'
                'from migrationclient.v1 import numa\n'
                'from migrationclient.v1 import ssh_options\n'
                'ssh_options.add_ssh_options(argparse.ArgumentParser())\n'
                'print("paramiko" in sys.modules)\n')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual('False', out.strip())
